"""Revert payloads decode to the contract's error names, whatever carried them."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_tester.exceptions import TransactionFailed
from eth_utils import function_signature_to_4byte_selector
from web3.exceptions import ContractCustomError

from fbh.chain import RevertError, commitment, load_artifact
from fbh.chain.errors import ErrorDecoder, revert_data

ABI = load_artifact()["abi"]
HOSPITAL = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4"
EXPECTED_ERRORS = {
    "NotAdmin", "NotServer", "NotHospital", "NotAuditor", "ZeroAddress", "InvalidRole",
    "AlreadyRegistered", "KeyAlreadyPublished", "InvalidPublicKey", "KeyNotPublished",
    "RoundAlreadyOpen", "RoundNotNext", "RoundNotOpen", "RoundNotAggregated", "UnknownRound",
    "AlreadySubmitted", "AlreadyRejected", "Excluded", "ZeroDigest", "ZeroSamples", "InvalidReason",
    "InvalidAccuracy", "RoundNotCancellable", "NotServerOrAdmin", "NotRegistered", "AlreadyRevoked",
    "TooManySamples",
    # guardians and model binding (issue 8)
    "GuardiansAlreadyPublished", "InvalidThreshold", "SumAlreadyRecorded", "SumNotRecorded", "SumMismatch",
}


def _payload(signature: str, types: list[str], values: list[object]) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, values)


def test_chain_abi_declares_every_refusal() -> None:
    assert ErrorDecoder(ABI).names == EXPECTED_ERRORS | {"Error", "Panic"}


def test_chain_decoder_names_and_arguments() -> None:
    data = _payload("AlreadySubmitted(uint64,address)", ["uint64", "address"], [3, HOSPITAL])
    err = ErrorDecoder(ABI).decode(data, "commitUpdate")
    assert isinstance(err, RevertError)
    assert err.error_name == "AlreadySubmitted"
    assert err.error_args == {"round": 3, "hospital": HOSPITAL}
    assert err.data == data and err.function == "commitUpdate"
    assert "AlreadySubmitted(round=3" in str(err)


def test_chain_decoder_builtins_and_unknown() -> None:
    dec = ErrorDecoder(ABI)
    assert dec.decode(_payload("Panic(uint256)", ["uint256"], [0x11]), "f").error_args == {"code": 0x11}
    assert dec.decode(_payload("Error(string)", ["string"], ["no"]), "f").error_name == "Error"
    assert dec.decode(b"\xde\xad\xbe\xef", "f").error_name == "unknown"
    assert dec.decode(b"", "f").error_name == "unknown"
    # A known selector with a truncated body still names the error.
    assert dec.decode(_payload("NotAdmin(address)", ["address"], [HOSPITAL])[:10], "f").error_name == "NotAdmin"


def test_chain_revert_data_from_each_backend_shape() -> None:
    data = _payload("RoundNotOpen(uint64)", ["uint64"], [9])
    # JSON-RPC nodes (anvil, geth): web3 raises ContractCustomError with hex data.
    assert revert_data(ContractCustomError("0x" + data.hex(), data="0x" + data.hex())) == data
    assert revert_data(ContractCustomError("x", data={"data": "0x" + data.hex()})) == data
    # web3's eth-tester provider re-raises with repr(bytes) in the message.
    assert revert_data(TransactionFailed(f"execution reverted: {data!r}")) == data
    reason = revert_data(TransactionFailed("execution reverted: not allowed"))
    assert ErrorDecoder(ABI).decode(reason, "f").error_args == {"message": "not allowed"}
    assert revert_data(ValueError("unrelated")) is None


@pytest.mark.parametrize("digest", [commitment(b""), commitment(b"x")])
def test_chain_revert_decoding_end_to_end(parties, digest: bytes) -> None:
    """The same refusal reads the same on every backend (parametrized by fixture)."""
    with pytest.raises(RevertError) as info:
        parties.ledger.commit_update(1, digest, 1, sender=parties.hospitals[0])
    assert (info.value.error_name, info.value.error_args) == ("RoundNotOpen", {"round": 1})
    with pytest.raises(RevertError) as info:
        parties.ledger.round(1)
    assert info.value.error_name == "UnknownRound" and info.value.function == "getRound"
