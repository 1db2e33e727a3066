"""pytest-benchmark suites: fbh.crypto against the coincurve baseline, grouped by operation and n.

Run: ``pytest benchmarks/test_bench_crypto.py``. Session fixtures do the untimed set-up (keys,
plaintexts, the clients' wire blobs, decoding tables). Per-value cost is ``mean / extra_info["n"]``.
"""

from __future__ import annotations

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.bench.crypto_baseline import PAIR_BYTES, BaselineTable, CoincurveElGamal
from fbh.hardware import available_cpus

CLIENTS = 10
BOUND = 2**20

SIZES = [1_000, 10_000]
CORES = available_cpus()
FBH = list(dict.fromkeys([("fast", 1), ("ct", 1), ("fast", CORES), ("ct", CORES)]))
IMPLS = [pytest.param(m, t, id=f"fbh-{m}-{t}t") for m, t in FBH] + [pytest.param("baseline", 1, id="baseline")]


# -- untimed set-up ----------------------------------------------------------------


@pytest.fixture(scope="session")
def sk():
    key = fc.PrivateKey.generate()
    for constant_time in (True, False):  # build the public key's cached tables before timing
        fc.encrypt(key.public_key, np.zeros(2, dtype=np.int64), constant_time=constant_time)
    return key


@pytest.fixture(scope="session")
def baseline(sk):
    """The coincurve baseline under the same secret, so it can read fbh's ciphertexts."""
    return CoincurveElGamal(sk.to_bytes())


@pytest.fixture(scope="session")
def plaintexts():
    """int64[C, N_max] values in [-2^15, 2^15); benchmarks slice the first n columns."""
    return np.random.default_rng(0).integers(-(2**15), 2**15, size=(CLIENTS, 100_000), dtype=np.int64)


@pytest.fixture(scope="session")
def fbh_table():
    return fc.DecodingTable(BOUND)


@pytest.fixture(scope="session")
def baseline_table():
    return BaselineTable(BOUND)


@pytest.fixture(scope="session")
def client_blobs(sk, plaintexts):
    """n -> the C clients' fbh wire blobs (memoized; fast mode, all cores, untimed)."""
    cache: dict[int, list[bytes]] = {}

    def get(n: int) -> list[bytes]:
        if n not in cache:
            cache[n] = [fc.encrypt(sk.public_key, row[:n], constant_time=False).to_bytes() for row in plaintexts]
        return cache[n]

    return get


@pytest.fixture(scope="session")
def baseline_blobs(client_blobs):
    """n -> the same ciphertexts in the baseline's wire format (pairs of 33-byte points)."""
    cache: dict[int, list[bytes]] = {}

    def get(n: int) -> list[bytes]:
        if n not in cache:
            pairs = [fc.Ciphertexts.from_bytes(blob).to_sec1() for blob in client_blobs(n)]
            # The baseline writes infinity as 33 zero bytes; to_sec1 gives a single 0x00.
            cache[n] = [b"".join(c1.ljust(33, b"\0") + c2.ljust(33, b"\0") for c1, c2 in p) for p in pairs]
        return cache[n]

    return get


# -- benchmarks ------------------------------------------------------------------


def _rounds(n: int, impl: str) -> int:
    return 2 if impl == "baseline" or n >= 10_000 else 5


def _info(benchmark, group: str, n: int, impl: str, threads: int) -> None:
    benchmark.group = f"{group} n={n}"
    benchmark.extra_info.update({"n": n, "impl": impl, "threads": threads})


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(("impl", "threads"), IMPLS)
def test_encrypt(benchmark, sk, baseline, baseline_table, plaintexts, n, impl, threads):
    m = plaintexts[0, :n]
    _info(benchmark, "encrypt", n, impl, threads)
    if impl == "baseline":
        values = m.tolist()
        blob = benchmark.pedantic(baseline.encrypt, args=(values,), rounds=_rounds(n, impl))
        assert len(blob) == PAIR_BYTES * n
        assert baseline.decrypt(baseline.parse(blob[: 20 * PAIR_BYTES]), baseline_table) == values[:20]
        return
    ct = benchmark.pedantic(fc.encrypt, args=(sk.public_key, m),
                            kwargs={"threads": threads, "constant_time": impl == "ct"}, rounds=_rounds(n, impl))
    assert len(ct) == n
    np.testing.assert_array_equal(fc.decrypt(sk, ct, bound=BOUND), m)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(("impl", "threads"), [pytest.param("fbh", t, id=f"fbh-{t}t") for t in sorted({1, CORES})]
                         + [pytest.param("baseline", 1, id="baseline")])
def test_aggregate_from_wire(benchmark, sk, baseline, baseline_table, plaintexts, client_blobs, baseline_blobs,
                             n, impl, threads):
    want = plaintexts[:, :n].sum(axis=0)
    _info(benchmark, f"aggregate {CLIENTS} clients", n, impl, threads)
    if impl == "baseline":
        agg = benchmark.pedantic(baseline.aggregate, args=(baseline_blobs(n),), rounds=_rounds(n, impl))
        assert baseline.decrypt(agg[:20], baseline_table) == want[:20].tolist()
        return
    agg = benchmark.pedantic(fc.aggregate, args=(client_blobs(n),), kwargs={"threads": threads},
                             rounds=_rounds(n, impl))
    np.testing.assert_array_equal(fc.decrypt(sk, agg, bound=BOUND), want)


@pytest.mark.parametrize("n", SIZES)
@pytest.mark.parametrize(("impl", "threads"), IMPLS)
def test_decrypt(benchmark, sk, baseline, fbh_table, baseline_table, plaintexts, client_blobs, n, impl, threads):
    want = plaintexts[:, :n].sum(axis=0)
    agg = fc.aggregate(client_blobs(n))
    _info(benchmark, "decrypt", n, impl, threads)
    if impl == "baseline":
        pairs = baseline.parse(b"".join(c1.ljust(33, b"\0") + c2.ljust(33, b"\0") for c1, c2 in agg.to_sec1()))
        out = benchmark.pedantic(baseline.decrypt, args=(pairs, baseline_table), rounds=_rounds(n, impl))
        assert out == want.tolist()
        return
    out = benchmark.pedantic(fc.decrypt, args=(sk, agg),
                             kwargs={"bound": BOUND, "table": fbh_table, "threads": threads,
                                     "constant_time": impl == "ct"}, rounds=_rounds(n, impl))
    np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("impl", ["fbh", "baseline"])
def test_table_build(benchmark, sk, impl):
    benchmark.group = f"table build bound={BOUND}"
    benchmark.extra_info.update({"n": 1, "impl": impl, "bound": BOUND})
    build = (lambda: fc.DecodingTable(BOUND)) if impl == "fbh" else (lambda: BaselineTable(BOUND))
    table = benchmark.pedantic(build, rounds=2)
    m = np.array([BOUND, -BOUND, 0, 12345], dtype=np.int64)
    if impl == "fbh":
        np.testing.assert_array_equal(fc.decrypt(sk, fc.encrypt(sk.public_key, m), bound=BOUND, table=table), m)
    else:
        assert [table.decode(None), table.bound] == [0, BOUND]
        assert table.decode(table.giant) == table.step
