"""Role keys for chains fbh does not create itself (and optionally for dev chains).

Each role account has a name (``kgc``, ``server``, ``auditor``,
``hospital-0`` ...). A key for a name is looked up, in order, in

1. ``FBH_KEY_<NAME>``: the hex private key, the name upper-cased with ``-``
   turned into ``_`` (``FBH_KEY_HOSPITAL_0``);
2. ``FBH_CHAIN_KEYS``: a JSON object mapping names to hex private keys;
3. ``FBH_CHAIN_KEYSTORE``: the path of a JSON object mapping names to
   encrypted (Web3 secret storage v3) keystores, all unlocked by the password
   in ``FBH_CHAIN_KEYSTORE_PASSWORD``; :func:`write_keystore` creates one.

On a live node the accounts must hold ether already, or the ``funder`` key
must, which then funds the others.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from fbh.chain.errors import ChainConfigError

__all__ = [
    "ENV_KEYS",
    "ENV_KEYSTORE",
    "ENV_KEYSTORE_PASSWORD",
    "ENV_KEY_PREFIX",
    "KeySource",
    "env_var_for",
    "write_keystore",
]

ENV_KEY_PREFIX = "FBH_KEY_"
ENV_KEYS = "FBH_CHAIN_KEYS"
ENV_KEYSTORE = "FBH_CHAIN_KEYSTORE"
ENV_KEYSTORE_PASSWORD = "FBH_CHAIN_KEYSTORE_PASSWORD"  # noqa: S105 - a variable name


def env_var_for(name: str) -> str:
    """Returns the environment variable holding role ``name``'s key."""
    return ENV_KEY_PREFIX + name.upper().replace("-", "_")


class KeySource:
    """Finds role keys in the environment; see the module docstring.

    Args:
        environ: The environment to read; ``os.environ`` when None.
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self._env = os.environ if environ is None else environ
        self._cache: dict[str, LocalAccount | None] = {}
        self._keystore: dict[str, object] | None = None

    def get(self, name: str) -> LocalAccount | None:
        """Returns the configured key for ``name``, or None.

        Raises:
            ChainConfigError: A configured key or keystore is unusable.
        """
        if name not in self._cache:
            self._cache[name] = self._lookup(name)
        return self._cache[name]

    def describe(self, name: str) -> str:
        """Says where a key for ``name`` may be configured (for error messages)."""
        return f"set {env_var_for(name)}, add {name!r} to {ENV_KEYS} or to the {ENV_KEYSTORE} file"

    def _lookup(self, name: str) -> LocalAccount | None:
        var = env_var_for(name)
        if key := self._env.get(var):
            return _from_hex(key, var)
        if mapping := self._env.get(ENV_KEYS):
            try:
                keys = json.loads(mapping)
            except json.JSONDecodeError as exc:
                msg = f"{ENV_KEYS} is not a JSON object of name -> private key: {exc}"
                raise ChainConfigError(msg) from exc
            if name in keys:
                return _from_hex(keys[name], f"{ENV_KEYS}[{name!r}]")
        return self._from_keystore(name)

    def _from_keystore(self, name: str) -> LocalAccount | None:
        path = self._env.get(ENV_KEYSTORE)
        if not path:
            return None
        if self._keystore is None:
            try:
                self._keystore = json.loads(Path(path).read_text())
            except (OSError, json.JSONDecodeError) as exc:
                msg = f"cannot read keystore {path} ({ENV_KEYSTORE}): {exc}"
                raise ChainConfigError(msg) from exc
        if name not in self._keystore:
            return None
        password = self._env.get(ENV_KEYSTORE_PASSWORD)
        if password is None:
            msg = f"{ENV_KEYSTORE} is set but {ENV_KEYSTORE_PASSWORD} is not"
            raise ChainConfigError(msg)
        try:
            return Account.from_key(Account.decrypt(self._keystore[name], password))
        except ValueError as exc:
            msg = f"cannot decrypt key {name!r} in {path}: {exc}"
            raise ChainConfigError(msg) from exc


def _from_hex(key: str, where: str) -> LocalAccount:
    try:
        return Account.from_key(key)
    except (ValueError, TypeError) as exc:
        msg = f"{where} is not a valid private key"  # never echo the key itself
        raise ChainConfigError(msg) from exc


def write_keystore(path: Path, accounts: Mapping[str, LocalAccount], password: str,
                   *, iterations: int | None = None) -> None:
    """Writes ``accounts`` as an encrypted keystore file for ``FBH_CHAIN_KEYSTORE``.

    Args:
        path: The JSON file to create (mode 0600).
        accounts: Role name -> account.
        password: Encrypts every key.
        iterations: scrypt work factor (eth-account's default when None;
            tests pass a small one).
    """
    store = {name: Account.encrypt(acct.key, password, iterations=iterations)
             for name, acct in accounts.items()}
    path = Path(path)
    path.touch(mode=0o600)
    path.write_text(json.dumps(store, indent=2))
