"""The eight-lane (AVX-512 IFMA) batched additions against the scalar batch and coincurve.

Where the CPU lacks IFMA the wide entry point is the scalar batch itself and the comparisons
still hold; ``test_ifma_runs_where_the_cpu_has_it`` says which one ran.
"""

from __future__ import annotations

import os
from pathlib import Path

import coincurve
import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import _ec

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def row(secret: int) -> np.ndarray:
    pub = coincurve.PublicKey.from_secret((secret % N).to_bytes(32, "big"))
    return np.frombuffer(pub.format(compressed=False)[1:], dtype=np.uint8)


def secrets(n: int) -> list[int]:
    return [int.from_bytes(os.urandom(32), "big") % (N - 1) + 1 for _ in range(n)]


def test_ifma_runs_where_the_cpu_has_it():
    cpuinfo = Path("/proc/cpuinfo")
    flags = cpuinfo.read_text(encoding="utf-8") if cpuinfo.exists() else ""
    if " avx512ifma" in flags and " avx512f" in flags:
        assert _ec._ifma_available()
    _ec._ifma_set_scalar_only(True)
    try:
        assert not _ec._ifma_available()
    finally:
        _ec._ifma_set_scalar_only(False)


def test_packed_round_trip_is_the_same_on_both_kernels():
    # Encryption, verification, aggregation and decryption on the IFMA batches and on the
    # scalar ones give the same sums (a blob made by one verifies and decrypts on the other).
    ks = fc.KeySet.generate(k=8)
    values = [list(range(c, c + 300)) for c in range(3)]
    ctx = [b"sender %d" % c for c in range(3)]
    results = []
    for scalar_only in (False, True):
        _ec._ifma_set_scalar_only(scalar_only)
        try:
            for ct in (True, False):
                blobs = [fc.encrypt_packed(ks.public, v, context=c, constant_time=ct) for v, c in zip(values, ctx, strict=True)]
                total = fc.aggregate_packed([b.to_bytes() for b in blobs], contexts=ctx)
                results.append(list(fc.decrypt_packed(ks, total, constant_time=ct)))
        finally:
            _ec._ifma_set_scalar_only(False)
    expected = [sum(v[i] for v in values) for i in range(300)]
    assert results == [expected] * 4


@pytest.mark.parametrize("n", [1, 8, 15, 16, 17, 63, 200])
def test_wide_batch_matches_scalar_and_coincurve(n):
    sa, sb = secrets(n), secrets(n)
    a = np.stack([row(s) for s in sa])
    b = np.stack([row(s) for s in sb])
    ref = np.stack([row(x + y) for x, y in zip(sa, sb, strict=True)])
    assert np.array_equal(_ec._batch_add(a, b, True), ref)
    assert np.array_equal(_ec._batch_add(a, b, False), ref)


@pytest.mark.parametrize("where", [0, 7, 8, 30, 39])
def test_shared_x_is_refused_and_leaves_nothing_half_done(where):
    # Equal points (a doubling) or opposite points anywhere in the batch: both kernels refuse
    # so that the caller takes the full path.
    sa, sb = secrets(40), secrets(40)
    sb[where] = sa[where] if where % 2 else N - sa[where]
    a = np.stack([row(s) for s in sa])
    b = np.stack([row(s) for s in sb])
    assert _ec._batch_add(a, b, True) is None
    assert _ec._batch_add(a, b, False) is None


def test_extreme_coordinates():
    # Points whose coordinates sit near 0 and near p (G, -G, 2G, -2G and their lambda images
    # share limbs at both ends), summed with many random ones.
    special = [1, N - 1, 2, N - 2, 3, N - 3]
    sa = special * 4 + secrets(8)
    sb = secrets(len(sa))
    a = np.stack([row(s) for s in sa])
    b = np.stack([row(s) for s in sb])
    ref = np.stack([row(x + y) for x, y in zip(sa, sb, strict=True)])
    assert np.array_equal(_ec._batch_add(a, b, True), ref)
