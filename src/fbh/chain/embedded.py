"""The in-process chain: py-evm behind web3's ``EthereumTesterProvider``.

The chain lives only as long as the process, so the backend keeps a journal
of everything that changed it: the genesis parameters, then every raw signed
transaction with the timestamp of the block that included it and that
block's hash. Replaying the journal into a fresh py-evm rebuilds the chain,
and because eth-tester mines one block per transaction, comparing each
replayed block hash with the recorded one checks the whole chain (state
root, receipts, logs) transaction by transaction.

Two things keep the replay faithful: block timestamps are forced to the
recorded ones, and the per-block ``prevrandao`` value, which eth-tester
draws from ``os.urandom``, is derived from the block number instead.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any, ClassVar

from eth.constants import ZERO_ADDRESS
from eth.vm.forks.cancun import get_total_blob_gas
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_tester import EthereumTester, PyEVMBackend
from web3 import EthereumTesterProvider, Web3
from web3.contract.contract import ContractFunction
from web3.types import TxReceipt

from fbh.chain.backend import Backend
from fbh.chain.errors import ChainStateError

__all__ = ["JOURNAL", "EmbeddedBackend"]

JOURNAL = "embedded_journal.jsonl"
_JOURNAL_FORMAT = 1
_CALL_GAS = 2_000_000  # every registry function needs far less; unused gas is refunded


def _prevrandao(block_number: int) -> bytes:
    return hashlib.sha256(b"fbh.embedded.prevrandao" + block_number.to_bytes(8, "big")).digest()


class _ReplayablePyEVM(PyEVMBackend):
    """py-evm backend whose blocks depend only on their transactions and time."""

    def mine_blocks(self, num_blocks: int = 1, coinbase: bytes = ZERO_ADDRESS) -> tuple[bytes, ...]:
        hashes = []
        for _ in range(num_blocks):
            pending = self.chain.get_block()
            block = self.chain.mine_block(
                coinbase=coinbase,
                mix_hash=_prevrandao(pending.number),
                blob_gas_used=sum(get_total_blob_gas(tx) for tx in pending.transactions),
            )
            hashes.append(block.hash)
        return tuple(hashes)


def _append_line(path: Path, line: str) -> None:
    """Appends one line in a single write and syncs it, so a crash tears at most this line."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (line + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_journal(path: Path) -> tuple[list[dict[str, Any]], bool]:
    """The journal's records, and whether a torn last line was dropped.

    A crash mid-append can leave the last line incomplete; the transactions
    before it stand.  Any other unreadable line is corruption.

    Raises:
        ChainStateError: A line other than the last does not parse.
    """
    lines = path.read_text().splitlines()
    records, torn = [], False
    for i, line in enumerate(lines):
        if not line:
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as exc:
            if i == len(lines) - 1 and records:
                torn = True
                continue
            msg = f"{path}: line {i + 1} is not a journal record ({exc})"
            raise ChainStateError(msg) from None
    if not records:
        msg = f"{path} is empty"
        raise ChainStateError(msg)
    return records, torn


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()


class EmbeddedBackend(Backend):
    """An in-process EVM chain with a replayable journal.

    Args:
        genesis_timestamp: Genesis block time; now when None.
        journal_dir: If given, every transaction is appended to
            ``journal_dir/embedded_journal.jsonl`` as soon as it is mined.
    """

    kind: ClassVar[str] = "embedded"

    def __init__(self, *, genesis_timestamp: int | None = None,
                 journal_dir: Path | None = None) -> None:
        self.genesis_timestamp = int(time.time()) if genesis_timestamp is None else genesis_timestamp
        params = PyEVMBackend.generate_genesis_params(overrides={"timestamp": self.genesis_timestamp})
        self._evm = _ReplayablePyEVM(genesis_parameters=params)
        self.w3 = Web3(EthereumTesterProvider(EthereumTester(backend=self._evm)))
        self.chain_id = self.w3.eth.chain_id
        self.genesis_hash = _hex(self.w3.eth.get_block(0)["hash"])
        self._entries: list[dict[str, Any]] = []
        self._journal_path: Path | None = None
        if journal_dir is not None:
            self._journal_path = Path(journal_dir) / JOURNAL
            self._write_journal(self._journal_path)

    # ------------------------------------------------------------- sending

    def funder(self) -> LocalAccount:
        """Returns eth-tester's first prefunded account."""
        return Account.from_key(self._evm.account_keys[0].to_bytes())

    def gas_limit(self, call: Any, sender: str) -> int:
        """Checks ``call`` with one ``eth_call`` and returns a fixed, ample limit.

        py-evm estimates gas by bisection, a dozen executions per estimate;
        a single call finds a revert just as well, and since every block
        holds one transaction, nothing can change the state in between.
        """
        if not isinstance(call, ContractFunction):  # a deployment: estimate it
            return super().gas_limit(call, sender)
        call.call({"from": sender, "gas": _CALL_GAS})
        return _CALL_GAS

    def send_raw(self, raw: bytes, *, timestamp: int | None = None) -> TxReceipt:
        """Mines ``raw`` in its own block (at ``timestamp``, default now) and journals it."""
        chain = self._evm.chain
        parent = chain.get_canonical_head()
        ts = max(parent.timestamp + 1, int(time.time())) if timestamp is None else timestamp
        # eth-tester fixed the pending header's time when it mined the parent,
        # possibly long ago; stamp it now so the block records the real time.
        chain.header = chain.header.copy(timestamp=ts)
        tx_hash = self.w3.eth.send_raw_transaction(raw)
        receipt = self.w3.eth.get_transaction_receipt(tx_hash)
        entry = {"raw": _hex(raw), "timestamp": ts, "block": receipt["blockNumber"],
                 "block_hash": _hex(receipt["blockHash"])}
        self._entries.append(entry)
        if self._journal_path is not None:
            _append_line(self._journal_path, json.dumps(entry))
        return receipt

    # ------------------------------------------------------------- journal

    def _header(self) -> dict[str, Any]:
        return {"format": _JOURNAL_FORMAT, "chain_id": self.chain_id,
                "genesis_timestamp": self.genesis_timestamp, "genesis_hash": self.genesis_hash,
                "versions": {p: version(p) for p in ("py-evm", "eth-tester", "web3")}}

    def _write_journal(self, path: Path) -> None:
        tmp = path.with_name(path.name + ".tmp")
        lines = [self._header(), *self._entries]
        with tmp.open("w") as f:
            f.write("".join(json.dumps(x) + "\n" for x in lines))
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)

    def save_state(self, directory: Path) -> dict[str, Any]:
        """Writes the journal to ``directory`` (already current if it is the journal dir)."""
        path = Path(directory) / JOURNAL
        if path != self._journal_path:
            self._write_journal(path)
        return {"journal": JOURNAL, "transactions": len(self._entries)}

    @classmethod
    def replay(cls, directory: Path, *, resume: bool = False) -> EmbeddedBackend:
        """Rebuilds the chain from ``directory/embedded_journal.jsonl``.

        A torn last line (a crash mid-append) is dropped: the transactions
        before it stand.

        Args:
            directory: Where the journal is.
            resume: Keep journaling new transactions there (the journal is
                rewritten first if a torn line was dropped).

        Raises:
            ChainStateError: The journal is missing, or a replayed genesis or
                block hash differs from the recorded one.
        """
        path = Path(directory) / JOURNAL
        if not path.is_file():
            msg = f"no embedded-chain journal at {path}"
            raise ChainStateError(msg)
        (header, *entries), torn = _read_journal(path)
        if header.get("format") != _JOURNAL_FORMAT:
            msg = f"{path}: unsupported journal format {header.get('format')!r}"
            raise ChainStateError(msg)
        backend = cls(genesis_timestamp=header["genesis_timestamp"])
        versions = f"(recorded with {header['versions']})"
        if backend.genesis_hash != header["genesis_hash"]:
            msg = f"{path}: replayed genesis {backend.genesis_hash} != recorded {header['genesis_hash']} {versions}"
            raise ChainStateError(msg)
        for i, entry in enumerate(entries):
            try:
                receipt = backend.send_raw(bytes.fromhex(entry["raw"][2:]), timestamp=entry["timestamp"])
            except Exception as exc:  # a corrupt entry fails in rlp, signature or EVM checks
                msg = f"{path}: transaction {i} does not replay: {exc} {versions}"
                raise ChainStateError(msg) from exc
            got = _hex(receipt["blockHash"])
            if got != entry["block_hash"]:
                msg = (f"{path}: transaction {i} replays to block {receipt['blockNumber']} {got}, "
                       f"recorded {entry['block']} {entry['block_hash']} {versions}")
                raise ChainStateError(msg)
        if resume:
            if torn:
                backend._write_journal(path)
            backend._journal_path = path
        return backend
