"""What the ledger needs from a chain: a web3 handle, sending, fees, state.

Three backends implement it: :mod:`fbh.chain.embedded` (py-evm in process),
:mod:`fbh.chain.anvil` (a local anvil node fbh starts and stops) and
:mod:`fbh.chain.rpc` (any JSON-RPC URL). The ledger signs every transaction
itself and hands the raw bytes to :meth:`Backend.send_raw`, so each backend
sees the exact bytes that changed the chain (the embedded one journals them).
"""

from __future__ import annotations

import abc
import json
import os
from pathlib import Path
from typing import Any, ClassVar

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.types import TxReceipt

from fbh.chain.errors import ChainStateError

__all__ = ["MANIFEST", "Backend", "read_manifest", "write_json_atomic"]

MANIFEST = "manifest.json"
_FORMAT = 1
# Dev chains (embedded, anvil) pay this tip; their base fee starts at 1 gwei.
_DEV_PRIORITY_FEE = 10**9


def write_json_atomic(path: Path, data: Any) -> None:
    """Writes ``data`` as JSON so a crash never leaves a half-written file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)


def read_manifest(directory: Path) -> dict[str, Any]:
    """Reads and checks ``directory/manifest.json`` written by a ledger.

    Raises:
        ChainStateError: The file is missing or of an unknown format.
    """
    path = Path(directory) / MANIFEST
    if not path.is_file():
        msg = f"no saved chain state: {path} does not exist"
        raise ChainStateError(msg)
    manifest = json.loads(path.read_text())
    if manifest.get("format") != _FORMAT:
        msg = f"{path}: unsupported chain-state format {manifest.get('format')!r}"
        raise ChainStateError(msg)
    return manifest


class Backend(abc.ABC):
    """A connection to one chain.

    Attributes:
        kind: ``"embedded"``, ``"anvil"`` or ``"rpc"``.
        funding_wei: What :meth:`Ledger.account` sends a new role account.
        w3: The web3 handle all reads go through.
        chain_id: The chain's EIP-155 id, read once.
    """

    kind: ClassVar[str]
    funding_wei: ClassVar[int] = 10**19  # what each new role account receives
    w3: Web3
    chain_id: int

    def funder(self) -> LocalAccount | None:
        """Returns an account that can fund new role accounts, if any."""
        return None

    def named_key(self, name: str) -> LocalAccount | None:  # noqa: ARG002 - hook
        """Returns a preconfigured key for role account ``name``, if any."""
        return None

    def fees(self) -> dict[str, int]:
        """Returns EIP-1559 fee fields for the next transaction."""
        base = self.w3.eth.get_block("latest")["baseFeePerGas"]
        # Twice the base fee survives several full blocks of fee increases.
        return {"maxFeePerGas": 2 * base + _DEV_PRIORITY_FEE,
                "maxPriorityFeePerGas": _DEV_PRIORITY_FEE}

    def gas_limit(self, call: Any, sender: str) -> int:
        """Returns a gas limit for ``call`` sent by ``sender``.

        Raises:
            Exception: The node's revert error if the call would revert.
        """
        gas = call.estimate_gas({"from": sender})
        # A quarter on top: the estimate is exact for the current state, but
        # another transaction may change it before this one is mined.
        return gas + gas // 4

    def send_raw(self, raw: bytes) -> TxReceipt:
        """Sends one signed transaction and waits for its receipt."""
        tx_hash = self.w3.eth.send_raw_transaction(raw)
        return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120, poll_latency=0.01)

    def manifest(self) -> dict[str, Any]:
        """Returns the backend's part of ``manifest.json``."""
        head = self.w3.eth.get_block("latest")
        return {"format": _FORMAT, "backend": self.kind, "chain_id": self.chain_id,
                "head": {"number": head["number"], "hash": "0x" + bytes(head["hash"]).hex()}}

    @abc.abstractmethod
    def save_state(self, directory: Path) -> dict[str, Any]:
        """Writes what restoring the chain needs into ``directory``.

        Returns:
            The backend's manifest entries (written by the caller).
        """

    def close(self) -> None:  # noqa: B027 - most backends hold nothing
        """Releases the connection (and a node fbh started)."""
