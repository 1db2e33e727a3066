"""pytest-benchmark suites for packed ciphertexts (wire format v2), in the same groups as the v1
rows and the coincurve baseline of test_bench_crypto.py, plus per-value cost by batch size.

Run: ``pytest benchmarks/test_bench_crypto.py benchmarks/test_bench_packed.py``. Per-value cost
is ``mean / extra_info["n"]``. Key generation and table building stay out of the timed region.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import _ec

CLIENTS = 10
BOUND = 2**20
SIZES = [1_000, 10_000]
CORES = len(os.sched_getaffinity(0))
MODES = list(dict.fromkeys([("fast", 1), ("ct", 1), ("fast", CORES), ("ct", CORES)]))
CONTEXTS = [f"bench|round 1|client {c}".encode() for c in range(CLIENTS)]
#: Batch sizes for the per-value cost curve (issue 7: no size may cost > 1.2x a large batch).
SMALL = [1, 4, 15, 16, 17, 31, 100, 1_000, 10_000]


@pytest.fixture(scope="session")
def ks():
    keys = fc.KeySet.generate()
    for constant_time in (True, False):  # build the key set's tables before timing
        fc.encrypt_packed(keys.public, [0], context=b"warm-up", constant_time=constant_time)
    return keys


@pytest.fixture(scope="session")
def plaintexts():
    return np.random.default_rng(0).integers(-(2**15), 2**15, size=(CLIENTS, 100_000), dtype=np.int64)


@pytest.fixture(scope="session")
def packed_blobs(ks, plaintexts):
    """n -> the C clients' packed wire blobs, each under its own context (untimed, memoized)."""
    cache: dict[int, list[bytes]] = {}

    def get(n: int) -> list[bytes]:
        if n not in cache:
            cache[n] = [fc.encrypt_packed(ks.public, row[:n], context=ctx, constant_time=False).to_bytes()
                        for row, ctx in zip(plaintexts, CONTEXTS, strict=True)]
        return cache[n]

    return get


def _info(benchmark, group: str, n: int, impl: str, threads: int) -> None:
    benchmark.group = f"{group} n={n}"
    benchmark.extra_info.update({"n": n, "impl": impl, "threads": threads})


def _rounds(n: int) -> int:
    return 2 if n >= 10_000 else 5


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(("mode", "threads"), MODES, ids=[f"packed-{m}-{t}t" for m, t in MODES])
def test_packed_encrypt(benchmark, ks, plaintexts, n, mode, threads):
    m = plaintexts[0, :n]
    _info(benchmark, "encrypt", n, f"packed-{mode}", threads)
    ct = benchmark.pedantic(fc.encrypt_packed, args=(ks.public, m),
                            kwargs={"context": CONTEXTS[0], "threads": threads, "constant_time": mode == "ct"},
                            rounds=_rounds(n))
    ct.verify(CONTEXTS[0])
    np.testing.assert_array_equal(fc.decrypt_packed(ks, ct, bound=BOUND), m)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("threads", sorted({1, CORES}))
def test_packed_aggregate_with_verification(benchmark, ks, plaintexts, packed_blobs, n, threads):
    """The server's work per round: parse C blobs, verify every proof, sum."""
    _info(benchmark, f"aggregate {CLIENTS} clients", n, "packed+verify", threads)
    agg = benchmark.pedantic(fc.aggregate_packed, args=(packed_blobs(n),),
                             kwargs={"contexts": CONTEXTS, "threads": threads}, rounds=_rounds(n))
    np.testing.assert_array_equal(fc.decrypt_packed(ks, agg, bound=BOUND), plaintexts[:, :n].sum(axis=0))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize("kernels", ["wide", "scalar"])
def test_packed_aggregate_by_kernels(benchmark, ks, plaintexts, packed_blobs, n, kernels):
    """The server's work on one thread with the eight-lane IFMA batches (where the CPU has
    them) against the portable scalar ones, in one group."""
    _info(benchmark, f"aggregate {CLIENTS} clients by kernels", n, f"packed+verify-{kernels}", 1)
    _ec._ifma_set_scalar_only(kernels == "scalar")
    try:
        agg = benchmark.pedantic(fc.aggregate_packed, args=(packed_blobs(n),),
                                 kwargs={"contexts": CONTEXTS, "threads": 1}, rounds=_rounds(n))
    finally:
        _ec._ifma_set_scalar_only(False)
    np.testing.assert_array_equal(fc.decrypt_packed(ks, agg, bound=BOUND), plaintexts[:, :n].sum(axis=0))


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(("mode", "threads"), MODES, ids=[f"packed-{m}-{t}t" for m, t in MODES])
def test_packed_decrypt(benchmark, ks, plaintexts, packed_blobs, n, mode, threads):
    agg = fc.aggregate_packed(packed_blobs(n))
    table = fc.DecodingTable.cached(BOUND)
    _info(benchmark, "decrypt", n, f"packed-{mode}", threads)
    out = benchmark.pedantic(fc.decrypt_packed, args=(ks, agg),
                             kwargs={"bound": BOUND, "table": table, "threads": threads,
                                     "constant_time": mode == "ct"}, rounds=_rounds(n))
    np.testing.assert_array_equal(out, plaintexts[:, :n].sum(axis=0))


@pytest.mark.parametrize("n", SMALL)
@pytest.mark.parametrize("fmt", ["v1", "packed"])
def test_encrypt_cost_by_batch_size(benchmark, ks, plaintexts, n, fmt):
    """Fast-mode encryption of n values on one thread; compare mean / n across n."""
    benchmark.group = f"fast encrypt per-value cost by batch size ({fmt})"
    benchmark.extra_info.update({"n": n, "impl": fmt, "threads": 1})
    m = plaintexts[0, :n]
    if fmt == "v1":
        pk = fc.PrivateKey.generate().public_key
        fc.encrypt(pk, m[:1], constant_time=False)
        ct = benchmark.pedantic(fc.encrypt, args=(pk, m), kwargs={"threads": 1, "constant_time": False},
                                rounds=max(3, 20_000 // n), iterations=1)
    else:
        ct = benchmark.pedantic(fc.encrypt_packed, args=(ks.public, m),
                                kwargs={"context": b"x", "threads": 1, "constant_time": False},
                                rounds=max(3, 20_000 // n), iterations=1)
    assert len(ct) == n
