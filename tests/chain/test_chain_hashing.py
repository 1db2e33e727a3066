"""Known answers for commitments; hospital signatures bind round, chain and contract."""

from __future__ import annotations

import pytest
from eth_account import Account

from fbh.chain import commitment, recover_update_signer, sign_update

# FIPS 180-2 SHA-256 test vectors.
KAT = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
]
KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
FIELDS = {"round_number": 3, "digest": bytes.fromhex(KAT[1][1]), "num_samples": 600,
          "chain_id": 131277322940537, "contract": "0xF2E246BB76DF876Cef8b38ae84130F4F55De395b"}


@pytest.mark.parametrize(("blob", "digest"), KAT)
def test_chain_commitment_known_answers(blob: bytes, digest: str) -> None:
    assert commitment(blob) == bytes.fromhex(digest)
    assert commitment(bytearray(blob)) == commitment(memoryview(blob)) == bytes.fromhex(digest)


def test_chain_commitment_sees_every_byte() -> None:
    blob = bytes(range(256)) * 4
    flipped = bytearray(blob)
    flipped[517] ^= 1
    assert commitment(bytes(flipped)) != commitment(blob)
    with pytest.raises(TypeError, match="needs bytes"):
        commitment("abc")


def test_chain_update_signature_is_deterministic_and_recovers() -> None:
    acct = Account.from_key(KEY)
    sig = sign_update(acct, **FIELDS)
    assert len(sig) == 65 and sig == sign_update(acct, **FIELDS)  # RFC 6979 nonces
    assert recover_update_signer(sig, **FIELDS) == acct.address


@pytest.mark.parametrize("changed", [
    {"round_number": 4}, {"num_samples": 601}, {"chain_id": 1},
    {"contract": "0x0000000000000000000000000000000000000001"}, {"digest": bytes(32)},
])
def test_chain_update_signature_binds_every_field(changed: dict) -> None:
    acct = Account.from_key(KEY)
    sig = sign_update(acct, **FIELDS)
    assert recover_update_signer(sig, **{**FIELDS, **changed}) != acct.address


def test_chain_update_signature_rejects_malformed() -> None:
    with pytest.raises(ValueError, match="malformed update signature"):
        recover_update_signer(b"\x00" * 65, **FIELDS)
    with pytest.raises(ValueError, match="32 bytes"):
        sign_update(Account.from_key(KEY), **{**FIELDS, "digest": b"short"})
