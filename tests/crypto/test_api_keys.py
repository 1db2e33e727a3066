"""Keys: coincurve cross-checks, encodings and secret hygiene."""

from __future__ import annotations

import copy
import pickle

import coincurve
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fbh.crypto as fc

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

settings.register_profile("fbh-crypto", deadline=None, max_examples=30)
PROFILE = settings.get_profile("fbh-crypto")
scalars = st.integers(min_value=1, max_value=N - 1)


@pytest.fixture(scope="session")
def sk():
    return fc.PrivateKey.generate()


@PROFILE
@given(k=scalars)
def test_public_key_equals_coincurve(k):
    secret = k.to_bytes(32, "big")
    ours = fc.PrivateKey.from_bytes(secret)
    theirs = coincurve.PrivateKey(secret).public_key
    assert ours.public_key.to_bytes() == theirs.format()
    assert ours.to_bytes() == secret
    assert fc.PublicKey.from_bytes(theirs.format(compressed=False)).to_bytes() == theirs.format()


@PROFILE
@given(k=scalars)
def test_coincurve_parses_our_public_key(k):
    pk = fc.PrivateKey.from_bytes(k.to_bytes(32, "big")).public_key.to_bytes()
    assert coincurve.PublicKey(pk).format() == pk


def test_generate_is_random_and_valid(sk):
    other = fc.PrivateKey.generate()
    assert other.to_bytes() != sk.to_bytes()
    for key in (sk, other):
        raw = key.to_bytes()
        assert len(raw) == 32
        assert 1 <= int.from_bytes(raw, "big") < N
        assert key.public_key.to_bytes() == coincurve.PrivateKey(raw).public_key.format()


def test_public_key_round_trip(sk):
    pk = sk.public_key
    raw = pk.to_bytes()
    assert len(raw) == 33
    assert raw[0] in (2, 3)
    assert fc.PublicKey.from_bytes(raw).to_bytes() == raw
    assert fc.PrivateKey.from_bytes(sk.to_bytes()).public_key.to_bytes() == raw


def test_private_key_not_picklable(sk):
    with pytest.raises(TypeError):
        pickle.dumps(sk)
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        with pytest.raises(TypeError):
            pickle.dumps(sk, protocol=protocol)


def test_private_key_not_copyable_into_a_leak(sk):
    # copy.copy may either refuse or give an equivalent key; it must not expose the secret in repr.
    try:
        dup = copy.copy(sk)
    except TypeError:
        return
    assert dup.public_key.to_bytes() == sk.public_key.to_bytes()
    assert sk.to_bytes().hex() not in repr(dup)


def test_repr_hides_secret(sk):
    raw = sk.to_bytes()
    secret_forms = {raw.hex(), raw.hex().upper(), str(int.from_bytes(raw, "big")), repr(raw)}
    for text in (repr(sk), str(sk), f"{sk!r}", f"{sk}"):
        for form in secret_forms:
            assert form not in text


@pytest.mark.parametrize("bad", [b"", b"\x01" * 31, b"\x01" * 33, bytes(32), N.to_bytes(32, "big")],
                         ids=["empty", "31-bytes", "33-bytes", "zero", "order"])
def test_private_key_errors_name_the_problem(bad):
    with pytest.raises(fc.CryptoError) as info:
        fc.PrivateKey.from_bytes(bad)
    msg = str(info.value).lower()
    assert "key" in msg or "scalar" in msg or "secret" in msg


def test_wrong_types_rejected():
    with pytest.raises((TypeError, fc.CryptoError)):
        fc.PublicKey.from_bytes("02" * 33)  # type: ignore[arg-type]
    with pytest.raises((TypeError, fc.CryptoError)):
        fc.PrivateKey.from_bytes(12345)  # type: ignore[arg-type]
