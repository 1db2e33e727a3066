"""The CUDA build of the portable kernels (fbh.crypto._ec_cuda) against the main CPU path:
byte-identical ciphertexts with injected nonces, aggregates, partial decryptions, and the
same verdicts on proofs. Runs on a machine with a GPU and the module built (README "On a
GPU"); elsewhere every test skips with that reason (CI has no GPU: the same kernels are
tested there on the CPU by test_portable_kernels.py)."""

from __future__ import annotations

import os

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import _ec
from fbh.crypto.backend import gpu_module, use_backend
from fbh.crypto.packed import context_digest
from fbh.crypto.packed_kernels import portable_tables

pytestmark = pytest.mark.skipif(gpu_module() is None, reason="needs fbh.crypto._ec_cuda and a CUDA device")

MAX = int(_ec.MAX_PLAINTEXT)
DIGEST = context_digest(b"gpu test")


@pytest.fixture(scope="module")
def ks() -> fc.KeySet:
    return fc.KeySet.generate(k=32)


@pytest.fixture(scope="module")
def dev_tables(ks):
    tabs = portable_tables(ks.public, 1)
    return gpu_module().DeviceTables(tabs.to_array(), tabs.k)


def nonces(nblocks: int) -> np.ndarray:
    """uint8[B + 1, 32]: the block nonces, then the proof nonce."""
    return np.frombuffer(os.urandom(32 * (nblocks + 1)), dtype=np.uint8).reshape(nblocks + 1, 32).copy()


@pytest.mark.parametrize("nblocks", [1, 7, 300])
def test_encrypt_byte_identical(ks, dev_tables, nblocks):
    rng = np.random.default_rng(nblocks)
    m = rng.integers(-MAX, MAX, size=32 * nblocks, dtype=np.int64)
    m[:4] = [0, MAX, -MAX, -1]
    r = nonces(nblocks)
    p1, q1, b1 = _ec.packed_encrypt(ks.public._core, m, DIGEST, m.size, r, 1, True)
    p2, q2, b2 = gpu_module().encrypt(dev_tables, m, DIGEST, m.size, r)
    assert b1 == b2 == -1
    assert p1.tobytes() == p2.tobytes()
    assert q1.tobytes() == q2.tobytes()


def test_encrypt_rejects_bad_nonces_and_values(dev_tables):
    m = np.zeros(64, dtype=np.int64)
    r = nonces(2)
    r[1] = 0
    assert gpu_module().encrypt(dev_tables, m, DIGEST, 64, r)[2] == 32
    r = nonces(2)
    r[2] = 0  # the proof nonce
    assert gpu_module().encrypt(dev_tables, m, DIGEST, 64, r)[2] == 64
    m[5] = MAX + 1
    assert gpu_module().encrypt(dev_tables, m, DIGEST, 64, nonces(2))[2] == 5


def test_aggregate_verify_and_partial_decrypt(ks):
    cts = [fc.encrypt_packed(ks.public, np.arange(1000) * c, context=b"c%d" % c, constant_time=False)
           for c in range(4)]
    pts = [c._points for c in cts] + [_ec.negate_points(cts[0]._points)]
    main, _, _ = _ec.aggregate_points(pts, [True] * len(pts), 1)
    got, bad, _ = gpu_module().aggregate(np.stack(pts))
    assert bad == -1 and got.tobytes() == main.tobytes()
    off = pts[1].copy()
    off[3, 2, 63] ^= 1
    assert gpu_module().aggregate(np.stack([pts[0], off]))[1:] == (3 * 33 + 2, 1)
    ct = cts[2]
    assert gpu_module().verify(ct._points, ct._proof, 32, ct.context_digest, ct.count)
    tampered = ct._proof.copy()
    tampered[95] ^= 1
    assert not gpu_module().verify(ct._points, tampered, 32, ct.context_digest, ct.count)
    big = fc.encrypt_packed(ks.public, np.arange(40_000), context=b"big", constant_time=False)
    assert gpu_module().verify(big._points, big._proof, 32, big.context_digest, big.count)  # reduction passes
    with use_backend("gpu"):
        shares = fc.partial_decrypt(ks, ct, constant_time=False)
    assert shares.tobytes() == _ec.packed_mul_r(ks._core, ct._points, 1, True).tobytes()


def test_public_api_round_trip_on_the_gpu(ks):
    values = np.arange(-5000, 5000)
    with use_backend("gpu"):
        cts = [fc.encrypt_packed(ks.public, values, context=b"h%d" % c, constant_time=False) for c in range(3)]
        for c, ct in enumerate(cts):
            ct.verify(b"h%d" % c)
        agg = fc.aggregate_packed(cts)
    np.testing.assert_array_equal(fc.decrypt_packed(ks, agg), 3 * values)
