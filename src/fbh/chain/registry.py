"""``Ledger``: fbh's one door to the ``UpdateRegistry`` contract.

Every role signs its own transactions with its own key: the ledger keeps a
keyring of role accounts (``ledger.account("hospital-3")`` creates, funds
and remembers one on a dev chain, or loads it from the environment on a live
node) and each write method takes ``sender=``, defaulting to the account
that holds the role the method needs. Raw ``contract.functions`` calls stay
in this module (built here, sent by :mod:`fbh.chain.transactor`); reverts
surface as :class:`~fbh.chain.errors.RevertError` named after the
contract's custom error, on every backend.
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address
from web3.contract import Contract
from web3.contract.contract import ContractFunction

from fbh.chain import hashing
from fbh.chain.backend import MANIFEST, Backend, write_json_atomic
from fbh.chain.errors import ChainConfigError, ChainStateError, ErrorDecoder
from fbh.chain.keys import env_var_for
from fbh.chain.records import (
    MAX_BPS,
    CancelReason,
    ParticipantRecord,
    RejectReason,
    Role,
    RoundRecord,
    TrustRecord,
    TxResult,
    UpdateRecord,
)
from fbh.chain.transactor import Transactor

__all__ = ["CONTRACT_NAME", "Ledger", "load_artifact"]

CONTRACT_NAME = "UpdateRegistry"
Sender = LocalAccount | str | None
_DIGEST_BYTES = 32


def load_artifact(name: str = CONTRACT_NAME) -> dict[str, Any]:
    """Returns the committed ABI/bytecode artifact of contract ``name``."""
    text = resources.files("fbh.chain").joinpath("artifacts", f"{name}.json").read_text()
    return json.loads(text)


def _digest(value: bytes, what: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or len(value) != _DIGEST_BYTES:
        msg = f"{what} must be {_DIGEST_BYTES} bytes, got {value!r:.80}"
        raise ValueError(msg)
    return bytes(value)


class Ledger:
    """Domain operations on one ``UpdateRegistry`` deployment.

    Args:
        backend: The chain connection (see :func:`fbh.chain.connect`).
        address: An existing deployment to attach to.
        state_dir: If given, the chain state is saved there after deploying,
            after every round's aggregate and audit, and on :meth:`close`.
    """

    def __init__(self, backend: Backend, *, address: str | None = None,
                 state_dir: Path | None = None) -> None:
        self.backend = backend
        self.w3 = backend.w3
        self.artifact = load_artifact()
        self.state_dir = None if state_dir is None else Path(state_dir)
        self._tx = Transactor(backend, ErrorDecoder(self.artifact["abi"]))
        self._contract: Contract | None = None
        self._names: dict[str, LocalAccount] = {}
        self._keys: dict[str, LocalAccount] = {}  # checksum address -> account
        self._defaults: dict[str, LocalAccount] = {}  # "admin" / role name -> account
        if address is not None:
            self.attach(address)

    @property
    def transactions(self) -> list[TxResult]:
        """Every transaction this ledger mined, in order (gas per call)."""
        return self._tx.transactions

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Saves the state (if ``state_dir`` is set) and closes the backend."""
        try:
            # A node that died took its latest state with it; the last dump stands.
            if self.state_dir is not None and self._contract is not None and getattr(self.backend, "running", True):
                self.save_state()
        finally:
            self.backend.close()

    # ------------------------------------------------------------ accounts

    def account(self, name: str, *, key: str | bytes | None = None) -> LocalAccount:
        """Returns role account ``name``, creating it on first use.

        A new account uses ``key`` if given, else the backend's configured
        key for ``name`` (live nodes: see :mod:`fbh.chain.keys`), else a
        fresh random key; on chains with a funder it then receives
        ``backend.funding_wei``.

        Raises:
            ChainConfigError: No key for ``name`` and nothing to fund a new one.
        """
        if name in self._names:
            return self._names[name]
        acct = Account.from_key(key) if key is not None else self.backend.named_key(name)
        funder = self.backend.funder()
        if acct is None:
            if funder is None:
                msg = f"no key for role account {name!r} on this chain: set {env_var_for(name)} (see fbh.chain.keys)"
                raise ChainConfigError(msg)
            acct = Account.create()
        self.add_account(acct, name)
        if (funder is not None and acct.address != funder.address
                and self.w3.eth.get_balance(acct.address) < self.backend.funding_wei // 2):
            self.transfer(funder, acct.address, self.backend.funding_wei)
        return acct

    def transfer(self, sender: LocalAccount | str, to: str, wei: int) -> TxResult:
        """Sends ``wei`` plain ether from ``sender`` to ``to`` (recorded as ``"transfer"``)."""
        acct = self._signer(sender, "sender")
        return self._tx.send("transfer", {"to": to_checksum_address(to), "value": wei}, acct, gas=21_000)

    def add_account(self, account: LocalAccount, name: str | None = None) -> None:
        """Puts ``account`` in the keyring (under ``name`` too, if given)."""
        self._keys[account.address] = account
        if name is not None:
            self._names[name] = account

    def _signer(self, sender: Sender, role: str) -> LocalAccount:
        if sender is None:
            if role not in self._defaults:
                msg = f"no default {role} account on this ledger; pass sender="
                raise ValueError(msg)
            return self._defaults[role]
        if isinstance(sender, LocalAccount):
            return sender
        if sender in self._names:
            return self._names[sender]
        address = to_checksum_address(sender)
        if address not in self._keys:
            msg = f"the ledger holds no key for sender {sender!r}"
            raise ValueError(msg)
        return self._keys[address]

    # ---------------------------------------------------------- deployment

    @property
    def address(self) -> str:
        """The registry contract's address.

        Raises:
            ChainStateError: Nothing is deployed or attached yet.
        """
        return self._require().address

    def _require(self) -> Contract:
        if self._contract is None:
            msg = "no UpdateRegistry deployed or attached; call deploy() or attach()"
            raise ChainStateError(msg)
        return self._contract

    def deploy(self, kgc: LocalAccount | None = None) -> str:
        """Deploys a fresh registry; ``kgc`` (default ``account("kgc")``) becomes admin.

        Returns:
            The contract address.
        """
        kgc = self.account("kgc") if kgc is None else kgc
        self.add_account(kgc)
        factory = self.w3.eth.contract(abi=self.artifact["abi"], bytecode=self.artifact["bytecode"])
        result = self._transact("deploy", factory.constructor(), kgc)
        self.attach(result.contract_address)
        self._defaults["admin"] = kgc
        self._autosave()
        return self.address

    def attach(self, address: str) -> None:
        """Uses the deployment at ``address`` after checking it runs our bytecode.

        Raises:
            ChainStateError: The code at ``address`` differs from the artifact.
        """
        address = to_checksum_address(address)
        code = bytes(self.w3.eth.get_code(address))
        if code != bytes.fromhex(self.artifact["deployedBytecode"][2:]):
            msg = (f"the code at {address} ({len(code)} bytes) is not the committed "
                   f"{CONTRACT_NAME} artifact (solc {self.artifact['compiler']['version']})")
            raise ChainStateError(msg)
        self._contract = self.w3.eth.contract(address=address, abi=self.artifact["abi"])
        if (admin := self._fn("admin").call()) in self._keys:
            self._defaults["admin"] = self._keys[admin]

    # ------------------------------------------------------- transactions

    def _fn(self, name: str, *args: Any) -> ContractFunction:
        return self._require().functions[name](*args)

    def _transact(self, function: str, call: ContractFunction, acct: LocalAccount) -> TxResult:
        return self._tx.transact(function, call, acct)

    def _read(self, function: str, *args: Any) -> Any:
        return self._tx.read(function, self._fn(function, *args))

    # ------------------------------------------------------------- writes

    def register(self, role: Role | str, address: str, *, signer: str | None = None,
                 sender: Sender = None) -> TxResult:
        """Registers ``address`` as ``role``; acts as the admin (the KGC).

        Args:
            role: ``Role.SERVER``/``HOSPITAL``/``AUDITOR`` or its name.
            address: The participant's account.
            signer: The address whose signatures count as the participant's
                (default: ``address`` itself).
            sender: Overrides the acting account.
        """
        role = Role[role.upper()] if isinstance(role, str) else Role(role)
        address = to_checksum_address(address)
        signer = address if signer is None else to_checksum_address(signer)
        result = self._transact("register", self._fn("register", address, int(role), signer),
                                self._signer(sender, "admin"))
        if role is not Role.HOSPITAL and address in self._keys:
            self._defaults.setdefault(role.name.lower(), self._keys[address])
        return result

    def publish_key(self, public_key: bytes, *, sender: Sender = None) -> TxResult:
        """Publishes the 33-byte compressed ElGamal public key; acts as the admin.

        The last step of set-up: the state is saved, so a restored chain has every party registered.
        """
        result = self._transact("publishKey", self._fn("publishKey", bytes(public_key)),
                                self._signer(sender, "admin"))
        self._autosave()
        return result

    def publish_key_set(self, key_set_digest: bytes, *, sender: Sender = None) -> TxResult:
        """Publishes the SHA-256 of a packed public key set (``PublicKeySet.digest()``); acts as the admin.

        The last step of set-up: the state is saved, so a restored chain has every party registered.
        """
        result = self._transact("publishKeySet",
                                self._fn("publishKeySet", _digest(key_set_digest, "key_set_digest")),
                                self._signer(sender, "admin"))
        self._autosave()
        return result

    def open_round(self, round_number: int, *, sender: Sender = None) -> TxResult:
        """Opens ``round_number`` (must exceed every earlier one); acts as the server."""
        return self._transact("openRound", self._fn("openRound", round_number),
                              self._signer(sender, "server"))

    def cancel_round(self, round_number: int, reason: CancelReason | int, *, sender: Sender = None) -> TxResult:
        """Cancels an open or aggregated (not audited) round with ``reason``; acts as the server.

        The admin may cancel too (``sender="kgc"``).  The round number stays
        used; the work is redone under the next one.
        """
        call = self._fn("cancelRound", round_number, int(reason))
        result = self._transact("cancelRound", call, self._signer(sender, "server"))
        self._autosave()
        return result

    def revoke(self, address: str, *, sender: Sender = None) -> TxResult:
        """Revokes a participant: it can no longer act in its role; acts as the admin."""
        call = self._fn("revoke", to_checksum_address(address))
        return self._transact("revoke", call, self._signer(sender, "admin"))

    def commit_update(self, round_number: int, digest: bytes, num_samples: int, *,
                      sender: Sender) -> TxResult:
        """Commits a hospital's update; ``sender`` is the hospital (required).

        Args:
            round_number: The open round.
            digest: :func:`~fbh.chain.hashing.commitment` of the exact blob.
            num_samples: The hospital's training samples this round.
            sender: The hospital's account (object, name or address).
        """
        call = self._fn("commitUpdate", round_number, _digest(digest, "digest"), num_samples)
        return self._transact("commitUpdate", call, self._signer(sender, "hospital"))

    def record_rejection(self, round_number: int, party: str, reason: RejectReason | int, *,
                         sender: Sender = None) -> TxResult:
        """Excludes ``party`` from the open round with ``reason``; acts as the server."""
        call = self._fn("recordRejection", round_number, to_checksum_address(party), int(reason))
        return self._transact("recordRejection", call, self._signer(sender, "server"))

    def record_aggregate(self, round_number: int, aggregate_digest: bytes, model_hash: bytes, *,
                         sender: Sender = None) -> TxResult:
        """Closes the round with the aggregate's commitment and the new model's hash; acts as the server."""
        call = self._fn("recordAggregate", round_number, _digest(aggregate_digest, "aggregate_digest"),
                        _digest(model_hash, "model_hash"))
        result = self._transact("recordAggregate", call, self._signer(sender, "server"))
        self._autosave()
        return result

    def approve(self, round_number: int, approved: bool, accuracy: float, *,
                sender: Sender = None) -> TxResult:
        """Records the audit verdict and validation accuracy (0..1); acts as the auditor.

        The accuracy is stored in basis points (``round(accuracy * 10000)``).
        """
        if not 0.0 <= accuracy <= 1.0:
            msg = f"accuracy must be a fraction in [0, 1], got {accuracy}"
            raise ValueError(msg)
        call = self._fn("audit", round_number, bool(approved), round(accuracy * MAX_BPS))
        result = self._transact("audit", call, self._signer(sender, "auditor"))
        self._autosave()
        return result

    # -------------------------------------------------------------- reads

    def round(self, round_number: int) -> RoundRecord:
        """Everything about one round (``RevertError`` ``UnknownRound`` if never opened)."""
        return RoundRecord.from_chain(self._read("getRound", round_number))

    def commitments(self, round_number: int) -> tuple[UpdateRecord, ...]:
        """The round's update commitments, in hospital registration order."""
        return self.round(round_number).updates

    def round_ids(self) -> list[int]:
        """Numbers of every round ever opened, in opening (= increasing) order."""
        return list(self._read("roundIds"))

    def history(self) -> list[RoundRecord]:
        """Every round ever opened, oldest first, in one call."""
        ids = self.round_ids()
        return [RoundRecord.from_chain(raw) for raw in self._read("getRounds", ids)] if ids else []

    def participants(self) -> list[ParticipantRecord]:
        """Every registered account in registration order."""
        return [ParticipantRecord.from_chain(raw) for raw in self._read("participants")]

    def participant(self, address: str) -> ParticipantRecord:
        """The registration of ``address`` (role ``Role.NONE`` if unregistered)."""
        return ParticipantRecord.from_chain(self._read("participant", to_checksum_address(address)))

    def public_key(self) -> bytes | None:
        """The published key: a 33-byte ElGamal key, or a key set's 32-byte digest; None before."""
        return bytes(self._read("publicKey")) or None

    def admin(self) -> str:
        """The admin (KGC) address."""
        return self._read("admin")

    def last_round(self) -> int:
        """The highest round number ever opened (0 before the first)."""
        return self._read("lastRound")

    def current_round(self) -> int | None:
        """The open round, or None between rounds."""
        return self._read("currentRound") or None

    # --------------------------------------------------------- signatures

    def _message_fields(self, round_number: int, digest: bytes, num_samples: int) -> dict[str, Any]:
        return {"round_number": round_number, "digest": digest, "num_samples": num_samples,
                "chain_id": self.backend.chain_id, "contract": self.address}

    def sign_update(self, hospital: Sender, round_number: int, digest: bytes,
                    num_samples: int) -> bytes:
        """Signs an update as ``hospital``, bound to this chain, contract and round."""
        acct = self._signer(hospital, "hospital")
        return hashing.sign_update(acct, **self._message_fields(round_number, digest, num_samples))

    def recover_update_signer(self, signature: bytes, round_number: int, digest: bytes,
                              num_samples: int) -> str:
        """The address that signed this update (compare with the registered signer)."""
        return hashing.recover_update_signer(
            signature, **self._message_fields(round_number, digest, num_samples))

    # ---------------------------------------- guardians and model binding

    def publish_guardians(self, ceremony_digest: bytes, guardians: int, threshold: int, *,
                          sender: Sender = None) -> TxResult:
        """Publishes the guardians' key ceremony digest, n and t; acts as the admin."""
        call = self._fn("publishGuardians", _digest(ceremony_digest, "ceremony_digest"), guardians, threshold)
        result = self._transact("publishGuardians", call, self._signer(sender, "admin"))
        self._autosave()
        return result

    def open_round_from(self, round_number: int, start_model: bytes, *, sender: Sender = None) -> TxResult:
        """Opens ``round_number`` from the model with hash ``start_model``; acts as the server."""
        call = self._fn("openRoundFrom", round_number, _digest(start_model, "start_model"))
        return self._transact("openRoundFrom", call, self._signer(sender, "server"))

    def record_sum(self, round_number: int, aggregate_digest: bytes, *, sender: Sender = None) -> TxResult:
        """Records the accepted updates' aggregate digest before decryption; acts as the server."""
        call = self._fn("recordSum", round_number, _digest(aggregate_digest, "aggregate_digest"))
        return self._transact("recordSum", call, self._signer(sender, "server"))

    def record_blame(self, round_number: int, party: str, reason: RejectReason | int, *,
                     sender: Sender = None) -> TxResult:
        """The blame path: excludes ``party`` after its recorded sum failed to decode and clears
        that sum (reason ``OUT_OF_RANGE`` or ``NO_RANGE_PROOF``); acts as the server."""
        call = self._fn("recordBlame", round_number, to_checksum_address(party), int(reason))
        return self._transact("recordBlame", call, self._signer(sender, "server"))

    def record_decryption(self, round_number: int, shares_digest: bytes, params_digest: bytes, *,
                          sender: Sender = None) -> TxResult:
        """Records the guardians' shares digest and the dequantization parameters' digest."""
        call = self._fn("recordDecryption", round_number, _digest(shares_digest, "shares_digest"),
                        _digest(params_digest, "params_digest"))
        return self._transact("recordDecryption", call, self._signer(sender, "server"))

    def trust_record(self, round_number: int) -> TrustRecord:
        """The round's start model, sum, shares and parameter digests."""
        return TrustRecord.from_chain(self._read("trustRecord", round_number))

    def guardians(self) -> tuple[bytes | None, int, int]:
        """(ceremony digest or None, n, t) of the published guardians."""
        digest = bytes(self._read("guardianCeremony"))
        return (None if digest == bytes(32) else digest, self._read("guardianCount"),
                self._read("guardianThreshold"))

    # -------------------------------------------------------------- state

    def save_state(self, directory: Path | None = None) -> Path:
        """Writes what :func:`fbh.chain.restore` needs into ``directory``.

        Args:
            directory: Target directory; ``state_dir`` when None.

        Returns:
            The directory written.
        """
        directory = self.state_dir if directory is None else Path(directory)
        if directory is None:
            msg = "save_state() needs a directory (this ledger has no state_dir)"
            raise ValueError(msg)
        directory.mkdir(parents=True, exist_ok=True)
        manifest = {**self.backend.manifest(), **self.backend.save_state(directory),
                    "contract": self.address, "admin": self.admin(),
                    "artifact": {"name": CONTRACT_NAME, "source_sha256": self.artifact["sourceSha256"],
                                 "solc": self.artifact["compiler"]["version"]}}
        write_json_atomic(directory / MANIFEST, manifest)
        return directory

    def _autosave(self) -> None:
        if self.state_dir is not None:
            self.save_state()
