"""The run's secret keys on disk, so a crashed run can be resumed by the same parties.

A resumed run must act as the same accounts on the same contract (the
registered server, hospitals and auditor) and decrypt under the public key
already on chain, so each party's key outlives the process: in a deployment
every party keeps its own; in this one-process simulation they sit together
in ``RUN_DIR/keys/keys.json``, created with mode 0600 and written once.
Role keys on a live node (``--chain URL``) come from the environment
(:mod:`fbh.chain.keys`) and are not stored here.  Nothing reads this file
except :meth:`Keyring.load`; it is never printed, logged or put in a report.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from fbh import crypto as fc
from fbh.errors import UnusableRunDir

__all__ = ["Keyring", "NodeKeys", "read_secret", "write_secret"]

_FILE = "keys.json"
_KGC = "kgc-keyset"


def write_secret(path: Path, record: dict) -> None:
    """Write ``record`` (JSON) to ``path`` atomically, readable by its owner only (folder 0700, file 0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(record, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_secret(path: Path) -> dict:
    """The record :func:`write_secret` wrote.

    Raises:
      UnusableRunDir: the file is missing or damaged (never echoed: it holds secrets).
    """
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise UnusableRunDir(f"{path} is missing: the run's parties cannot be restored",
                             "re-run instead of resuming") from None
    except (OSError, ValueError) as exc:
        raise UnusableRunDir(f"{path} is damaged ({type(exc).__name__})", "re-run instead of resuming") from None


class Keyring:
    """Role keys and the KGC's ElGamal key of one run.

    Args:
      folder: ``RUN_DIR/keys``.
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / _FILE

    def __reduce__(self):
        msg = "Keyring is a handle on secret keys and cannot be pickled"
        raise TypeError(msg)

    def create(self, role_names: Sequence[str], *, kgc_key: bool = True,
               ) -> tuple[dict[str, LocalAccount], fc.KeySet | None]:
        """Fresh keys from the OS CSPRNG for ``role_names`` and (with ``kgc_key``, the paper's
        trust model) the KGC's ElGamal key set, saved before first use."""
        accounts = {name: Account.create() for name in role_names}
        secret = fc.KeySet.generate() if kgc_key else None
        record = {name: acct.key.hex() for name, acct in accounts.items()}
        if secret is not None:
            record[_KGC] = secret.to_bytes().hex()
        write_secret(self.path, record)
        return accounts, secret

    def load(self) -> tuple[dict[str, LocalAccount], fc.KeySet | None]:
        """The saved keys (role name -> account, KGC secret or ``None`` in guardian mode).

        Raises:
          UnusableRunDir: the file is missing or damaged.
        """
        try:
            record = json.loads(self.path.read_text())
            kgc = record.pop(_KGC, None)
            secret = None if kgc is None else fc.KeySet.from_bytes(bytes.fromhex(kgc))
            return {name: Account.from_key(key) for name, key in record.items()}, secret
        except FileNotFoundError:
            raise UnusableRunDir(f"{self.path} is missing: the run's parties cannot be restored",
                                 "re-run instead of resuming") from None
        except (OSError, ValueError, KeyError) as exc:  # never echo the file: it holds secrets
            raise UnusableRunDir(f"{self.path} is damaged ({type(exc).__name__})",
                                 "re-run instead of resuming") from None


class NodeKeys:
    """One party's own keys in its own folder, when each party runs on its own node (:mod:`fbh.flower`).

    The node's Ethereum account (and, for the registrar in KGC mode, the
    ElGamal key set) are created from the OS CSPRNG on first use and saved
    with mode 0600 before they are used; later calls load them, so a node that
    restarts acts as the same party.

    Args:
      folder: the node's own folder (``0700``).
    """

    def __init__(self, folder: Path) -> None:
        self.path = Path(folder) / "node-keys.json"

    def __reduce__(self):
        msg = "NodeKeys is a handle on secret keys and cannot be pickled"
        raise TypeError(msg)

    def _record(self) -> dict[str, str]:
        try:
            return json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:  # never echo the file: it holds secrets
            raise UnusableRunDir(f"{self.path} is damaged ({type(exc).__name__})",
                                 "remove it to give this node new keys") from None

    def account(self) -> LocalAccount:
        """This node's Ethereum account."""
        record = self._record()
        if "account" not in record:
            record["account"] = Account.create().key.hex()
            write_secret(self.path, record)
        return Account.from_key(record["account"])

    def key_set(self) -> fc.KeySet:
        """This node's ElGamal key set (the registrar's in KGC mode)."""
        record = self._record()
        if _KGC not in record:
            record[_KGC] = fc.KeySet.generate().to_bytes().hex()
            write_secret(self.path, record)
        return fc.KeySet.from_bytes(bytes.fromhex(record[_KGC]))
