"""The portable kernels (csrc/portable/: the GPU's source run on CPU threads) against the main
CPU path, and on a GPU when fbh._ec_cuda sees one, in the same groups.

On the CPU the portable rows are expected to be slower than ``cpu``: they are the GPU's twin
(4-bit fixed windows, one inversion per point), not the CPU's fast path. Compare in process
CPU time on a shared machine::

    pytest benchmarks/test_bench_portable.py --benchmark-timer time.process_time

GPU rows use wall time (the CPU only waits), so run them on an idle device machine without
``--benchmark-timer``. Per-value cost is ``mean / extra_info["n"]``.
"""

from __future__ import annotations

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto.backend import gpu_available, use_backend
from fbh.crypto.packed_kernels import portable_tables

N_VALUES = [1_024, 65_536]
CLIENTS = 10
BACKENDS = ["cpu", "portable", "gpu"]


@pytest.fixture(scope="module")
def ks():
    keys = fc.KeySet.generate()
    fc.encrypt_packed(keys.public, [0], context=b"warm-up", constant_time=False)
    portable_tables(keys.public, 1)  # table building stays out of the timed region
    return keys


@pytest.fixture(scope="module")
def blobs(ks):
    rng = np.random.default_rng(0)
    cache: dict[int, list[fc.PackedCiphertexts]] = {}

    def get(n: int) -> list[fc.PackedCiphertexts]:
        if n not in cache:
            cache[n] = [fc.encrypt_packed(ks.public, rng.integers(-(2**15), 2**15, n), context=b"b%d" % c,
                                          constant_time=False) for c in range(CLIENTS)]
        return cache[n]

    return get


def _setup(benchmark, backend: str, group: str, n: int) -> None:
    if backend == "gpu" and not gpu_available():
        pytest.skip("no fbh._ec_cuda or no CUDA device: GPU rows run on the device machine")
    benchmark.group = f"portable {group} n={n}"
    benchmark.extra_info.update({"n": n, "impl": backend})


@pytest.mark.parametrize("n", N_VALUES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_encrypt(benchmark, ks, n, backend):
    _setup(benchmark, backend, "encrypt (fast mode)", n)
    m = np.arange(n, dtype=np.int64) - n // 2
    with use_backend(backend):
        ct = benchmark.pedantic(fc.encrypt_packed, args=(ks.public, m),
                                kwargs={"context": b"b", "constant_time": False}, rounds=2)
    ct.verify(b"b")
    np.testing.assert_array_equal(fc.decrypt_packed(ks, ct), m)


@pytest.mark.parametrize("n", N_VALUES[:1])
@pytest.mark.parametrize("backend", BACKENDS)
def test_verify(benchmark, blobs, n, backend):
    _setup(benchmark, backend, "verify", n)
    ct = blobs(n)[0]
    with use_backend(backend):
        benchmark.pedantic(ct.verify, args=(b"b0",), rounds=3)


@pytest.mark.parametrize("n", N_VALUES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_aggregate(benchmark, ks, blobs, n, backend):
    _setup(benchmark, backend, f"aggregate {CLIENTS} clients", n)
    cts = blobs(n)
    with use_backend(backend):
        agg = benchmark.pedantic(fc.aggregate_packed, args=(cts,), rounds=3)
    want = sum(fc.decrypt_packed(ks, ct) for ct in cts[:2])
    np.testing.assert_array_equal(fc.decrypt_packed(ks, fc.aggregate_packed(cts[:2])), want)
    assert agg.count == n


@pytest.mark.parametrize("n", N_VALUES[:1])
@pytest.mark.parametrize("backend", BACKENDS)
def test_partial_decrypt(benchmark, ks, blobs, n, backend):
    _setup(benchmark, backend, "partial decrypt", n)
    ct = blobs(n)[0]
    with use_backend(backend):
        shares = benchmark.pedantic(fc.partial_decrypt, args=(ks, ct), kwargs={"constant_time": False}, rounds=3)
    assert shares.shape == (ct.num_blocks, ks.k, 64)
