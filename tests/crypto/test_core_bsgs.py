"""Decoding tables: exhaustive small bounds, giant steps, threads and the infinity point."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fbh.crypto as fc


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


@pytest.mark.parametrize("bound", [1, 7, 300])
def test_exhaustive_decode_up_to_the_bound(keys, bound):
    sk, pk = keys
    values = np.arange(-bound, bound + 1, dtype=np.int64)
    table = fc.DecodingTable(bound)
    assert table.bound == bound and table.baby_steps == bound and table.nbytes > 0
    for constant_time in (True, False):
        ct = fc.encrypt(pk, values, constant_time=constant_time)
        out = fc.decrypt(sk, ct, bound=bound, table=table, constant_time=constant_time)
        assert np.array_equal(out, values)
    # bound - 1 still decodes; the bound itself is the last accepted value, bound + 1 raises.
    near = fc.encrypt(pk, [bound - 1, -(bound - 1)])
    assert fc.decrypt(sk, near, bound=bound, table=table).tolist() == [bound - 1, 1 - bound]
    for over in (bound + 1, -(bound + 1)):
        with pytest.raises(fc.PlaintextOutOfRange) as info:
            fc.decrypt(sk, fc.encrypt(pk, [0, 1, over]), bound=bound, table=table)
        assert info.value.index == 2 and "index 2" in str(info.value)


def test_giant_steps_extend_a_small_table(keys):
    sk, pk = keys
    table = fc.DecodingTable(10)  # baby steps 10: giant steps of 21
    values = np.array([0, 10, 11, -11, 21, -21, 31, -32, 4999, -5000, 5000, 77], dtype=np.int64)
    out = fc.decrypt(sk, fc.encrypt(pk, values), bound=5000, table=table)
    assert np.array_equal(out, values)
    with pytest.raises(fc.PlaintextOutOfRange) as info:
        fc.decrypt(sk, fc.encrypt(pk, [3, 5001]), bound=5000, table=table)
    assert info.value.index == 1


def test_larger_table_still_enforces_the_bound(keys):
    sk, pk = keys
    table = fc.DecodingTable(1000)
    with pytest.raises(fc.PlaintextOutOfRange) as info:
        fc.decrypt(sk, fc.encrypt(pk, [50, 101]), bound=100, table=table)
    assert info.value.index == 1


def test_zero_sum_is_the_point_at_infinity(keys):
    sk, pk = keys
    a = fc.encrypt(pk, [5, -7, 0])
    b = fc.encrypt(pk, [-5, 7, 0])
    total = a + b
    assert np.array_equal(fc.decrypt(sk, total, bound=10), [0, 0, 0])
    zero = a - a  # both points at infinity, serialized as zero bytes
    assert zero.to_bytes()[16:] == bytes(128 * 3)
    parsed = fc.Ciphertexts.from_bytes(zero.to_bytes())
    assert np.array_equal(fc.decrypt(sk, parsed, bound=1), [0, 0, 0])
    assert np.array_equal(fc.decrypt(sk, 0 * a, bound=1), [0, 0, 0])


def test_wrong_key_is_reported_as_out_of_range(keys):
    _, pk = keys
    other = fc.PrivateKey.generate()
    with pytest.raises(fc.PlaintextOutOfRange):
        fc.decrypt(other, fc.encrypt(pk, [1, 2]), bound=100)


def test_results_do_not_depend_on_thread_count(keys):
    sk, pk = keys
    rng = np.random.default_rng(5)
    m = rng.integers(-(2**15), 2**15, size=3000)
    cts = [fc.encrypt(pk, m, threads=t) for t in (1, 2, 3)]
    blobs = [c.to_bytes() for c in cts]
    sums = [fc.aggregate(blobs, threads=t) for t in (1, 2, 5)]
    assert sums[0] == sums[1] == sums[2]
    outs = [fc.decrypt(sk, sums[0], bound=2**17, threads=t, constant_time=ct)
            for t in (1, 2, 7) for ct in (True, False)]
    for out in outs:
        assert np.array_equal(out, 3 * m)
    scaled = [sums[0].scale(-3, threads=t) for t in (1, 2)]
    assert scaled[0] == scaled[1] == -3 * sums[0]


def test_decrypt_from_python_threads(keys):
    sk, pk = keys
    m = np.arange(-200, 200, dtype=np.int64)
    ct = fc.encrypt(pk, m)
    table = fc.DecodingTable.cached(256)
    with ThreadPoolExecutor(max_workers=4) as pool:
        jobs = [pool.submit(fc.decrypt, sk, ct, bound=256, table=table, threads=2) for _ in range(8)]
        outs = [job.result() for job in jobs]
    for out in outs:
        assert np.array_equal(out, m)


def test_cached_table_is_shared():
    assert fc.DecodingTable.cached(123) is fc.DecodingTable.cached(123)
    with pytest.raises(ValueError, match="bound"):
        fc.DecodingTable(-1)
