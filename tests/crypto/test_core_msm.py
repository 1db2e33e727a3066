"""The verifiers' multi-scalar multiplication (csrc/msm.cpp) against coincurve and pure Python.

``_msm_is_infinity(P, k)`` answers whether ``sum_i k_i P_i`` is the point at infinity; every
case appends ``-S`` (S the reference sum) with scalar 1, so a correct kernel answers True, and
then perturbs one scalar, so it must answer False. The cases drive the batch-affine bucket
reduction into its exceptional paths: zero scalars, repeated points (doublings inside a
bucket), opposite points (infinity inside a bucket), one bucket holding every point, and the
sizes 1, 2 and odd ones.
"""

from __future__ import annotations

import os
import random

import coincurve
import numpy as np
import pytest

from fbh.crypto import _ec
from fbh.crypto.range_proof import N_ORDER, P_FIELD, point_add, point_bytes, point_mul, point_neg

G = (
    0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
    0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8,
)
LAMBDA = 0x5363AD4CC05C30E0A5261C028812645A122E22EA20816678DF02967C1B23BD72


def rows(points) -> np.ndarray:
    return np.frombuffer(b"".join(point_bytes(p) for p in points), dtype=np.uint8).reshape(-1, 64)


def scalars(ks) -> np.ndarray:
    return np.frombuffer(b"".join((k % N_ORDER).to_bytes(32, "big") for k in ks), dtype=np.uint8).reshape(-1, 32)


def random_point(rng: random.Random):
    return point_mul(rng.randrange(1, N_ORDER), G)


def reference_sum(points, ks):
    """sum_i k_i P_i with coincurve for the products (None: infinity, which it cannot hold)."""
    acc = None
    for p, k in zip(points, ks, strict=True):
        k %= N_ORDER
        if k == 0:
            continue
        pub = coincurve.PublicKey(b"\x04" + point_bytes(p)).multiply(k.to_bytes(32, "big"))
        raw = pub.format(compressed=False)[1:]
        acc = point_add(acc, (int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")))
    return acc


def check(points, ks, threads: int = 1) -> None:
    """The kernel finds sum k_i P_i - S = 0 for the reference S, and not after a perturbation."""
    total = reference_sum(points, ks)
    pts, sc = list(points), list(ks)
    if total is not None:
        pts.append(point_neg(total))
        sc.append(1)
    assert _ec._msm_is_infinity(rows(pts), scalars(sc), threads)
    bumped = sc[:]
    j = len(bumped) // 2
    bumped[j] = (bumped[j] + 1) % N_ORDER  # adds one more P_j: never infinity
    assert not _ec._msm_is_infinity(rows(pts), scalars(bumped), threads)


@pytest.fixture(params=["wide", "scalar"], autouse=True)
def kernels(request):
    """Every case on the eight-lane (IFMA) batches where the CPU has them, and on the scalar ones."""
    _ec._ifma_set_scalar_only(request.param == "scalar")
    yield request.param
    _ec._ifma_set_scalar_only(False)


@pytest.fixture(scope="module")
def rng() -> random.Random:
    return random.Random(int.from_bytes(os.urandom(8), "big"))


@pytest.fixture(scope="module")
def pool(rng):
    return [random_point(rng) for _ in range(48)]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 33])
@pytest.mark.parametrize("bits", [128, 256])
def test_random_points_and_scalars(pool, rng, n, bits):
    ks = [rng.getrandbits(bits) % N_ORDER or 1 for _ in range(n)]
    check(pool[:n], ks)


def test_zero_scalars_are_skipped(pool, rng):
    ks = [0 if i % 3 else rng.getrandbits(128) for i in range(30)]
    check(pool[:30], ks)
    assert _ec._msm_is_infinity(rows(pool[:5]), scalars([0] * 5), 1)


def test_repeated_points_double_inside_buckets(pool, rng):
    # One point many times with one scalar: every pairwise addition in its buckets is a
    # doubling (equal operands), then sums of equal sums again.
    p = pool[0]
    k = rng.getrandbits(128)
    check([p] * 64, [k] * 64)
    check([p] * 17 + pool[1:9], [k] * 17 + [rng.getrandbits(128) for _ in range(8)])


def test_opposite_points_cancel_inside_buckets(pool, rng):
    # P and -P under one scalar meet in every bucket: infinity mid-reduction, then more points.
    ks = [rng.getrandbits(128) for _ in range(12)]
    pts = pool[:12] + [point_neg(p) for p in pool[:12]]
    assert _ec._msm_is_infinity(rows(pts), scalars(ks + ks), 1)
    check(pts + pool[20:25], ks + ks + [rng.getrandbits(128) for _ in range(5)])


def test_one_bucket_holds_every_point(pool):
    # Scalar 1 (and 2^128 - 1) everywhere: all points share one digit per window.
    check(pool, [1] * len(pool))
    check(pool[:21], [2**128 - 1] * 21)


def test_glv_boundaries(pool):
    special = [N_ORDER - 1, N_ORDER - 2, LAMBDA, N_ORDER - LAMBDA, 2**128, 2**128 + 1, 2**129 - 1,
               N_ORDER // 2, N_ORDER // 2 + 1, 3]
    check(pool[: len(special)], special)
    # k and -k on one point (and its GLV twin lambda P): cancels exactly.
    p = pool[0]
    assert _ec._msm_is_infinity(rows([p, p]), scalars([LAMBDA, N_ORDER - LAMBDA]), 1)


def test_large_batch_matches_coincurve_and_threads(rng):
    # Enough points for wide windows and several reduction passes per bucket.
    secrets = [rng.randrange(1, N_ORDER) for _ in range(700)]
    pts = []
    for s in secrets:
        raw = coincurve.PublicKey.from_secret(s.to_bytes(32, "big")).format(compressed=False)[1:]
        pts.append((int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big")))
    ks = [rng.getrandbits(128) for _ in range(699)] + [rng.randrange(N_ORDER)]
    for threads in (1, 2):
        check(pts, ks, threads)


def test_rejects_invalid_inputs(pool):
    bad = rows(pool[:2]).copy()
    bad[1, 63] ^= 1  # off the curve
    with pytest.raises(ValueError, match="on the curve"):
        _ec._msm_is_infinity(bad, scalars([1, 1]), 1)
    with pytest.raises(ValueError, match="on the curve"):
        _ec._msm_is_infinity(np.zeros((1, 64), np.uint8), scalars([1]), 1)
    too_big = np.frombuffer((N_ORDER).to_bytes(32, "big"), dtype=np.uint8).reshape(1, 32)
    with pytest.raises(ValueError, match="< n"):
        _ec._msm_is_infinity(rows(pool[:1]), too_big, 1)
    assert P_FIELD > N_ORDER  # the module's constants are the curve's
