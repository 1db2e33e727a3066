"""Misuse of the API: wrong shapes, types, sizes and arguments raise errors that say what was wrong."""

from __future__ import annotations

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto._testing import encrypt_with_nonces


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


@pytest.fixture(scope="module")
def ct(keys):
    return fc.encrypt(keys[1], np.arange(4, dtype=np.int64))


def test_encrypt_rejects_non_1d(keys):
    _, pk = keys
    for bad in (np.zeros((2, 3), dtype=np.int64), np.int64(5)):
        with pytest.raises(ValueError) as info:
            fc.encrypt(pk, bad)
        assert "1-D" in str(info.value) or "dim" in str(info.value).lower(), str(info.value)


def test_encrypt_rejects_non_integer_values(keys):
    _, pk = keys
    with pytest.raises((TypeError, ValueError)):
        fc.encrypt(pk, np.array([0.5, 1.5]))


def test_encrypt_needs_a_public_key(keys):
    sk, pk = keys
    with pytest.raises(TypeError):
        fc.encrypt(pk.to_bytes(), np.arange(2, dtype=np.int64))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fc.encrypt(sk, np.arange(2, dtype=np.int64))  # type: ignore[arg-type]


def test_decrypt_needs_a_private_key(keys, ct):
    sk, pk = keys
    with pytest.raises(TypeError):
        fc.decrypt(pk, ct, bound=8)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        fc.decrypt(sk.to_bytes(), ct, bound=8)  # type: ignore[arg-type]


def test_decrypt_with_the_wrong_key_does_not_return_garbage(keys, ct):
    other = fc.PrivateKey.generate()
    with pytest.raises(fc.PlaintextOutOfRange) as info:
        fc.decrypt(other, ct, bound=2**12)
    assert info.value.index == 0


@pytest.mark.parametrize("bound", [-1, -5])
def test_decrypt_rejects_bad_bound(keys, ct, bound):
    sk, _ = keys
    with pytest.raises(ValueError) as info:
        fc.decrypt(sk, ct, bound=bound)
    assert "bound" in str(info.value)


def test_aggregate_needs_items(keys):
    with pytest.raises(ValueError):
        fc.aggregate([])


def test_aggregate_rejects_foreign_items(ct):
    for bad in ([ct, 5], [ct, "abc"], [ct, None]):
        with pytest.raises((TypeError, fc.CryptoError)):
            fc.aggregate(bad)
    with pytest.raises(fc.MalformedCiphertext):
        fc.aggregate([ct, b"garbage"])


@pytest.mark.parametrize("threads", [0, -1])
def test_threads_must_be_positive(keys, ct, threads):
    sk, pk = keys
    calls = [
        lambda: fc.encrypt(pk, np.arange(3, dtype=np.int64), threads=threads),
        lambda: fc.aggregate([ct, ct], threads=threads),
        lambda: fc.decrypt(sk, ct, bound=8, threads=threads),
        lambda: fc.DecodingTable(8, threads=threads),
    ]
    for call in calls:
        with pytest.raises(ValueError) as info:
            call()
        assert "thread" in str(info.value)


def test_injected_nonces_are_checked(keys):
    _, pk = keys
    m = np.arange(3, dtype=np.int64)
    good = np.ones((3, 32), dtype=np.uint8)
    for bad in (good[:2], np.ones((3, 31), dtype=np.uint8), good.reshape(-1)):
        with pytest.raises(ValueError):
            encrypt_with_nonces(pk, m, bad)
    order = bytes.fromhex("FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141")
    for nonce in (bytes(32), order, b"\xff" * 32):
        bad = good.copy()
        bad[1] = np.frombuffer(nonce, dtype=np.uint8)
        with pytest.raises(ValueError):
            encrypt_with_nonces(pk, m, bad)


def test_scalar_multiplication_needs_an_int(ct):
    with pytest.raises(TypeError):
        ct * 1.5  # type: ignore[operator]
    with pytest.raises(TypeError):
        ct + 1  # type: ignore[operator]
