"""Point arithmetic of the core: batched kernels against one-at-a-time and coincurve."""

from __future__ import annotations

import os

import coincurve
import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import _ec, _testing

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
LAMBDA = 0x5363AD4CC05C30E0A5261C028812645A122E22EA20816678DF02967C1B23BD72
# Scalars that drive the addition chains into their exceptional cases (doubling, P + -P).
SPECIAL = [1, 2, 3, 4, 5, 31, 32, 33, N - 1, N - 2, N - 3, N // 2, N // 2 + 1, LAMBDA,
           N - LAMBDA, 2**128, 2**128 + 1, 3 * 2**255 - N]


def b32(x: int) -> bytes:
    return x.to_bytes(32, "big")


def uncompressed_row(pub: coincurve.PublicKey) -> np.ndarray:
    return np.frombuffer(pub.format(compressed=False)[1:], dtype=np.uint8)


@pytest.fixture(scope="session")
def points() -> np.ndarray:
    """Random points (as 64-byte rows) plus G, 2G and -G."""
    secrets = [1, 2, N - 1] + [int.from_bytes(os.urandom(32), "big") % N or 1 for _ in range(37)]
    return np.stack([uncompressed_row(coincurve.PublicKey.from_secret(b32(s))) for s in secrets])


@pytest.mark.parametrize("secret", [1, 2, 3, N - 1, N // 2, LAMBDA, 2**128])
def test_public_key_matches_coincurve(secret):
    ours = fc.PrivateKey.from_bytes(b32(secret)).public_key.to_bytes()
    assert ours == coincurve.PrivateKey(b32(secret)).public_key.format()


@pytest.mark.parametrize("k", SPECIAL + [int.from_bytes(os.urandom(32), "big") % N or 7])
def test_shared_scalar_batch_equals_ladder_and_coincurve(points, k):
    ladder = _ec._mul_points(points, b32(k), ct=True, complete=True)
    for ct in (True, False):
        assert np.array_equal(_ec._mul_points(points, b32(k), ct=ct, complete=False), ladder)
    for row, out in zip(points[:6], ladder[:6], strict=True):
        ref = coincurve.PublicKey(b"\x04" + row.tobytes()).multiply(b32(k))
        assert out.tobytes() == ref.format(compressed=False)[1:]


def test_single_point_batch_equals_large_batch(points):
    k = b32(int.from_bytes(os.urandom(32), "big") % N)
    whole = _ec._mul_points(points, k, ct=True, complete=False)
    for j in range(0, len(points), 7):
        one = _ec._mul_points(points[j : j + 1], k, ct=True, complete=False)
        assert np.array_equal(one[0], whole[j])


@pytest.fixture(scope="session")
def nonce_batch():
    """Plaintexts and nonces including edge nonces that hit exceptional additions."""
    rs = SPECIAL + [int.from_bytes(os.urandom(32), "big") % N or 9 for _ in range(40)]
    m = np.array([(-1) ** j * (j * 977 % (2**20)) for j in range(len(rs))], dtype=np.int64)
    m[:4] = [0, 1, -1, fc.MAX_PLAINTEXT]
    m[4] = -fc.MAX_PLAINTEXT
    nonces = np.stack([np.frombuffer(b32(r), dtype=np.uint8) for r in rs])
    return m, nonces, rs


@pytest.mark.parametrize("constant_time", [True, False])
def test_batched_encrypt_equals_complete_formulas(keys, nonce_batch, constant_time):
    _, pk = keys
    m, nonces, _ = nonce_batch
    ref = _testing.encrypt_with_nonces(pk, m, nonces, complete=True)
    got = _testing.encrypt_with_nonces(pk, m, nonces, constant_time=constant_time)
    assert got == ref
    one_by_one = [
        _testing.encrypt_with_nonces(pk, m[j : j + 1], nonces[j : j + 1], constant_time=constant_time)
        for j in range(len(m))
    ]
    assert [c.to_bytes() for c in one_by_one] == [got[j].to_bytes() for j in range(len(m))]


def test_encrypt_with_nonces_matches_coincurve(keys, nonce_batch):
    sk, pk = keys
    m, nonces, rs = nonce_batch
    pairs = _testing.encrypt_with_nonces(pk, m, nonces).to_sec1()
    pub = coincurve.PublicKey(pk.to_bytes())
    s = int.from_bytes(sk.to_bytes(), "big")
    for (c1, c2), r, mk in zip(pairs, rs, m, strict=True):
        assert c1 == coincurve.PublicKey.from_secret(b32(r)).format()
        total = (int(mk) + r * s) % N
        expect = coincurve.PublicKey.from_secret(b32(total)).format() if total else b"\x00"
        assert c2 == expect
        assert pub.multiply(b32(r)).format() is not None


def test_encrypt_with_nonces_rejects_bad_nonces(keys):
    _, pk = keys
    for bad in (0, N, 2**256 - 1):
        nonces = np.frombuffer(b32(bad), dtype=np.uint8).reshape(1, 32)
        with pytest.raises(ValueError, match="index 0"):
            _testing.encrypt_with_nonces(pk, [5], nonces)
    with pytest.raises(ValueError, match="shape"):
        _testing.encrypt_with_nonces(pk, [1, 2], np.zeros((1, 32), dtype=np.uint8))


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.from_bytes(b32(0x1234567890ABCDEF << 100))
    return sk, sk.public_key


def test_encrypt_with_nonces_is_thread_independent(keys):
    _, pk = keys
    rng = np.random.default_rng(11)
    m = rng.integers(-(2**20), 2**20, size=700)
    nonces = rng.integers(0, 256, size=(700, 32), dtype=np.uint8)
    nonces[:, 0] &= 0x7F  # keep every nonce below n
    nonces[:, 31] |= 1  # and nonzero
    for constant_time in (True, False):
        runs = [_testing.encrypt_with_nonces(pk, m, nonces, threads=t, constant_time=constant_time)
                for t in (1, 2, 3)]
        assert runs[0] == runs[1] == runs[2]
    ref = _testing.encrypt_with_nonces(pk, m[:40], nonces[:40], complete=True)
    assert runs[0][:40] == ref
