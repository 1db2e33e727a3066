"""Signing, sending and reading, with reverts decoded to the contract's errors.

The ledger's domain methods all end here. Each transaction is estimated
first (so a refusal surfaces as :class:`RevertError` before anything is
mined), filled in completely (nonce tracked locally, fees from the backend,
chain id) so web3 makes no extra round trips, signed by the acting role's
own key and handed to the backend as raw bytes.
"""

from __future__ import annotations

from typing import Any

from eth_account.signers.local import LocalAccount
from eth_tester.exceptions import TransactionFailed
from web3.contract.contract import ContractFunction
from web3.exceptions import ContractLogicError

from fbh.chain.backend import Backend
from fbh.chain.errors import ErrorDecoder, RevertError, revert_data
from fbh.chain.records import TxResult

__all__ = ["Transactor"]

# What a revert looks like coming out of web3: JSON-RPC nodes raise
# ContractLogicError, web3's eth-tester provider re-raises TransactionFailed.
_REVERTS = (ContractLogicError, TransactionFailed)


class Transactor:
    """Sends transactions for many accounts over one backend.

    Args:
        backend: The chain.
        errors: Decodes revert payloads of the contract being called.

    Attributes:
        transactions: Every mined transaction, in order.
    """

    def __init__(self, backend: Backend, errors: ErrorDecoder) -> None:
        self.backend = backend
        self.errors = errors
        self.transactions: list[TxResult] = []
        self._nonces: dict[str, int] = {}

    def _nonce(self, acct: LocalAccount) -> int:
        if acct.address not in self._nonces:
            self._nonces[acct.address] = self.backend.w3.eth.get_transaction_count(acct.address, "pending")
        return self._nonces[acct.address]

    def _decoded(self, exc: Exception, function: str) -> Exception:
        data = revert_data(exc)
        return exc if data is None else self.errors.decode(data, function)

    def _fields(self, acct: LocalAccount, gas: int) -> dict[str, Any]:
        return {"from": acct.address, "nonce": self._nonce(acct), "gas": gas,
                "chainId": self.backend.chain_id, **self.backend.fees()}

    def transact(self, function: str, call: ContractFunction, acct: LocalAccount) -> TxResult:
        """Estimates, signs as ``acct`` and mines a contract call (or constructor).

        Raises:
            RevertError: The contract refused the call.
        """
        try:
            gas = self.backend.gas_limit(call, acct.address)
        except _REVERTS as exc:
            raise self._decoded(exc, function) from exc
        tx = call.build_transaction(self._fields(acct, gas))
        return self._mine(function, tx, acct)

    def send(self, function: str, tx: dict[str, Any], acct: LocalAccount, *, gas: int) -> TxResult:
        """Signs and mines a plain transaction (``to``/``value``/``data`` in ``tx``)."""
        return self._mine(function, {**tx, **self._fields(acct, gas)}, acct)

    def _mine(self, function: str, tx: dict[str, Any], acct: LocalAccount) -> TxResult:
        raw = bytes(acct.sign_transaction(tx).raw_transaction)
        try:
            receipt = self.backend.send_raw(raw)
        except BaseException:
            self._nonces.pop(acct.address, None)  # unknown whether it was accepted
            raise
        self._nonces[acct.address] += 1
        if receipt["status"] != 1:
            raise self._explain_failure(function, tx, receipt["blockNumber"])
        result = TxResult(function, bytes(receipt["transactionHash"]), receipt["blockNumber"],
                          receipt["gasUsed"], receipt.get("contractAddress"))
        self.transactions.append(result)
        return result

    def _explain_failure(self, function: str, tx: dict[str, Any], block: int) -> Exception:
        # The estimate passed but the mined transaction reverted (another
        # transaction got in first): re-run it on the state before its block.
        call = {k: tx[k] for k in ("from", "to", "data", "value") if k in tx}
        try:
            self.backend.w3.eth.call(call, block - 1)
        except _REVERTS as exc:
            return self._decoded(exc, function)
        return RevertError("unknown", {}, b"", function)

    def read(self, function: str, call: ContractFunction) -> Any:
        """Runs a view call; a revert raises :class:`RevertError`."""
        try:
            return call.call()
        except _REVERTS as exc:
            raise self._decoded(exc, function) from exc
