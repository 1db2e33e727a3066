"""Exceptions of the chain layer and decoding of contract reverts.

Every backend reports a revert differently: web3 over JSON-RPC raises
``ContractCustomError`` whose ``data`` is the hex revert payload, while
web3's eth-tester provider raises eth-tester's ``TransactionFailed`` with the
payload rendered as a Python ``bytes`` literal inside its message. Both are
reduced here to the raw revert bytes and decoded against the ABI's ``error``
entries, so callers only ever see :class:`RevertError` with the contract's
error name.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping, Sequence
from typing import Any

from eth_abi import decode as abi_decode
from eth_abi import encode as abi_encode
from eth_abi.exceptions import DecodingError
from eth_utils import abi_to_signature, function_signature_to_4byte_selector, to_checksum_address

__all__ = [
    "ChainConfigError",
    "ChainError",
    "ChainStateError",
    "ErrorDecoder",
    "RevertError",
    "revert_data",
]

# Solidity's built-in revert payloads, which the ABI does not list.
_BUILTIN_ERRORS = ({"name": "Error", "inputs": [{"name": "message", "type": "string"}]},
                   {"name": "Panic", "inputs": [{"name": "code", "type": "uint256"}]})
_TESTER_PREFIX = "execution reverted: "
_ERROR_STRING = function_signature_to_4byte_selector("Error(string)")


class ChainError(Exception):
    """Base class of every error raised by ``fbh.chain``."""


class ChainConfigError(ChainError):
    """The chain cannot be reached or set up (missing node, keys, artifacts)."""


class ChainStateError(ChainError):
    """Saved chain state is missing, corrupt or does not replay faithfully."""


class RevertError(ChainError):
    """A contract call or transaction reverted.

    Attributes:
        error_name: The contract's custom error name (``"AlreadySubmitted"``),
            ``"Error"``/``"Panic"`` for Solidity's built-ins, or ``"unknown"``
            when the payload matches no ABI entry.
        error_args: The error's decoded arguments by name.
        data: The raw revert payload.
        function: The contract function that reverted.
    """

    def __init__(self, error_name: str, error_args: Mapping[str, Any], data: bytes,
                 function: str) -> None:
        self.error_name = error_name
        self.error_args = dict(error_args)
        self.data = data
        self.function = function
        shown = ", ".join(f"{k}={_show(v)}" for k, v in self.error_args.items())
        super().__init__(f"{function} reverted with {error_name}({shown})")


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


def revert_data(exc: BaseException) -> bytes | None:
    """Returns the raw revert payload carried by a web3/eth-tester exception.

    Args:
        exc: The exception raised by ``estimate_gas``/``call``.

    Returns:
        The payload (possibly empty), or None when ``exc`` is not a revert.
    """
    data = getattr(exc, "data", None)
    if isinstance(data, Mapping):  # some nodes nest it: {"data": "0x..."}
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x"):
        return bytes.fromhex(data[2:])
    if type(exc).__name__ == "TransactionFailed" and exc.args:
        message = exc.args[0]
        if isinstance(message, bytes):
            return message
        if isinstance(message, str) and message.startswith(_TESTER_PREFIX):
            literal = message[len(_TESTER_PREFIX):]
            if literal[:2] in ("b'", 'b"'):
                # eth-tester formats the payload with repr(bytes); undo it.
                value = ast.literal_eval(literal)
                if isinstance(value, bytes):
                    return value
            # web3 already decoded an Error(string) reason; re-encode it so
            # the decoder reports it like every other backend does.
            return _ERROR_STRING + abi_encode(["string"], [literal])
    return None


class ErrorDecoder:
    """Maps 4-byte error selectors of one ABI to names and argument decoders."""

    def __init__(self, abi: Sequence[Mapping[str, Any]]) -> None:
        entries = [e for e in abi if e.get("type") == "error"] + list(_BUILTIN_ERRORS)
        self._by_selector: dict[bytes, tuple[str, list[str], list[str]]] = {}
        for entry in entries:
            signature = abi_to_signature({**entry, "type": "error"})
            selector = function_signature_to_4byte_selector(signature)
            names = [i["name"] or f"arg{k}" for k, i in enumerate(entry["inputs"])]
            types = [i["type"] for i in entry["inputs"]]
            self._by_selector[selector] = (entry["name"], names, types)

    @property
    def names(self) -> frozenset[str]:
        """Names of every error the decoder knows."""
        return frozenset(name for name, _, _ in self._by_selector.values())

    def decode(self, data: bytes, function: str) -> RevertError:
        """Builds the :class:`RevertError` for revert payload ``data``."""
        known = self._by_selector.get(data[:4])
        if known is None:
            return RevertError("unknown", {}, data, function)
        name, arg_names, types = known
        try:
            values = abi_decode(types, data[4:])
        except DecodingError:  # a malformed payload is still a revert
            return RevertError(name, {}, data, function)
        values = [to_checksum_address(v) if t == "address" else v for t, v in zip(types, values, strict=True)]
        return RevertError(name, dict(zip(arg_names, values, strict=True)), data, function)
