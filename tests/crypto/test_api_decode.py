"""Decoding: exhaustive small bounds, tables, batched vs one-at-a-time, threads, both modes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto._testing import encrypt_with_nonces

SMALL = 4096
THREADS = [1, 2, 4]


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


@pytest.fixture(scope="module")
def data():
    return np.random.default_rng(7).integers(-(2**15), 2**15, size=(4, 257), dtype=np.int64)


@pytest.mark.parametrize("constant_time", [True, False])
def test_exhaustive_small_bound(keys, constant_time):
    sk, pk = keys
    m = np.arange(-SMALL, SMALL + 1, dtype=np.int64)
    ct = fc.encrypt(pk, m, constant_time=constant_time)
    table = fc.DecodingTable(SMALL)
    assert table.bound == SMALL
    np.testing.assert_array_equal(fc.decrypt(sk, ct, bound=SMALL, table=table, constant_time=constant_time), m)


@pytest.mark.parametrize("bound", [1, 2, 7, 64, 1000, 2**12 + 3])
def test_bound_edges(keys, bound):
    sk, pk = keys
    ok = np.array([bound - 1, -(bound - 1), bound, -bound, 0], dtype=np.int64)
    np.testing.assert_array_equal(fc.decrypt(sk, fc.encrypt(pk, ok), bound=bound), ok)
    for index, beyond in ((0, bound + 1), (3, -(bound + 1))):
        m = np.zeros(5, dtype=np.int64)
        m[index] = beyond
        for constant_time in (True, False):
            with pytest.raises(fc.PlaintextOutOfRange) as info:
                fc.decrypt(sk, fc.encrypt(pk, m), bound=bound, constant_time=constant_time)
            assert info.value.index == index
            assert str(index) in str(info.value)


def test_first_bad_index_is_reported(keys):
    sk, pk = keys
    m = np.array([0, 1, 50, 2, -60, 3], dtype=np.int64)
    with pytest.raises(fc.PlaintextOutOfRange) as info:
        fc.decrypt(sk, fc.encrypt(pk, m), bound=10, threads=2)
    assert info.value.index == 2


def test_table_object(keys):
    sk, pk = keys
    table = fc.DecodingTable(5000, threads=1)
    assert table.bound == 5000
    assert table.build_seconds >= 0
    assert table.nbytes > 0
    assert fc.DecodingTable.cached(5000) is fc.DecodingTable.cached(5000)
    assert fc.DecodingTable.cached(5000).bound == 5000
    m = np.array([4999, -5000, 0], dtype=np.int64)
    np.testing.assert_array_equal(fc.decrypt(sk, fc.encrypt(pk, m), bound=5000, table=table), m)


def test_small_table_decodes_a_larger_bound_with_giant_steps(keys):
    sk, pk = keys
    small = fc.DecodingTable(2**6)
    m = np.array([0, 64, -65, 2**14, -(2**14), 12345, -9999, 129, -130], dtype=np.int64)
    ct = fc.encrypt(pk, m)
    np.testing.assert_array_equal(fc.decrypt(sk, ct, bound=2**14, table=small), m)
    with pytest.raises(fc.PlaintextOutOfRange) as info:
        fc.decrypt(sk, ct, bound=2**13, table=small)
    assert info.value.index == 3


def test_bound_zero_decodes_only_zero(keys):
    sk, pk = keys
    np.testing.assert_array_equal(fc.decrypt(sk, fc.encrypt(pk, np.zeros(3, dtype=np.int64)), bound=0), [0, 0, 0])
    with pytest.raises(fc.PlaintextOutOfRange) as info:
        fc.decrypt(sk, fc.encrypt(pk, np.array([0, 0, -1], dtype=np.int64)), bound=0)
    assert info.value.index == 2


@pytest.mark.parametrize("bad", [-1, 2**62, 2**70])
def test_table_rejects_bad_bound(bad):
    with pytest.raises(ValueError) as info:
        fc.DecodingTable(bad)
    assert "bound" in str(info.value)


def test_batched_equals_one_at_a_time(keys, data):
    sk, pk = keys
    m = data[0, :40]
    r = np.random.default_rng(3).integers(0, 256, size=(40, 32), dtype=np.uint8)
    r[:, 0] &= 0x7F  # keep every nonce below the group order
    batched = encrypt_with_nonces(pk, m, r)
    singles = [encrypt_with_nonces(pk, m[i : i + 1], r[i : i + 1]) for i in range(40)]
    assert batched.to_sec1() == [s.to_sec1()[0] for s in singles]
    reference = encrypt_with_nonces(pk, m, r, complete=True)  # one-at-a-time complete formulas
    for constant_time in (True, False):
        assert encrypt_with_nonces(pk, m, r, constant_time=constant_time).to_bytes() == reference.to_bytes()
    other = fc.encrypt(pk, data[1, :40])
    agg = fc.aggregate([batched, other])
    assert agg.to_sec1() == [
        fc.aggregate([s, fc.Ciphertexts.from_sec1([p])]).to_sec1()[0]
        for s, p in zip(singles, other.to_sec1(), strict=True)
    ]
    dec = fc.decrypt(sk, agg, bound=2**17)
    assert dec.tolist() == [fc.decrypt(sk, fc.Ciphertexts.from_sec1([p]), bound=2**17)[0] for p in agg.to_sec1()]
    np.testing.assert_array_equal(dec, data[0, :40] + data[1, :40])


def test_same_results_across_thread_counts(keys, data):
    sk, pk = keys
    blobs = [fc.encrypt(pk, row, threads=t).to_bytes() for row, t in zip(data, [1, 2, 4, None], strict=True)]
    aggs = [fc.aggregate(blobs, threads=t) for t in THREADS]
    assert all(a.to_sec1() == aggs[0].to_sec1() for a in aggs)
    r = np.random.default_rng(5).integers(0, 128, size=(data.shape[1], 32), dtype=np.uint8)
    encs = [encrypt_with_nonces(pk, data[0], r, threads=t).to_bytes() for t in THREADS]
    assert encs.count(encs[0]) == len(encs)
    want = data.sum(axis=0)
    tables = [fc.DecodingTable(2**17, threads=t) for t in THREADS]
    for t, table in zip(THREADS, tables, strict=True):
        for constant_time in (True, False):
            out = fc.decrypt(sk, aggs[0], bound=2**17, table=table, threads=t, constant_time=constant_time)
            np.testing.assert_array_equal(out, want)


def test_concurrent_calls_from_a_thread_pool(keys, data):
    sk, pk = keys
    table = fc.DecodingTable.cached(2**17)
    jobs = [(data[i % 4] * (1 if i % 2 else -1)) for i in range(12)]

    def roundtrip(m):
        ct = fc.encrypt(pk, m, threads=2, constant_time=bool(len(m) % 2))
        agg = fc.aggregate([ct, ct.to_bytes()], threads=2)
        return fc.decrypt(sk, agg, bound=2**17, table=table, threads=2)

    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(roundtrip, jobs))
    for m, out in zip(jobs, results, strict=True):
        np.testing.assert_array_equal(out, 2 * m)


def test_decrypt_modes_agree_on_random_vectors(keys):
    sk, pk = keys
    m = np.random.default_rng(11).integers(-(2**20), 2**20 + 1, size=500, dtype=np.int64)
    m[:4] = [2**20, -(2**20), 0, 1]
    for enc_ct in (True, False):
        ct = fc.encrypt(pk, m, constant_time=enc_ct)
        fast = fc.decrypt(sk, ct, bound=2**20, constant_time=False)
        slow = fc.decrypt(sk, ct, bound=2**20, constant_time=True)
        np.testing.assert_array_equal(fast, m)
        np.testing.assert_array_equal(slow, m)


def test_fresh_public_key_used_from_many_threads_at_once(keys):
    # The public key's fixed-base tables are built lazily: the first uses race here on purpose.
    sk, pk = keys
    for _ in range(3):
        fresh = fc.PublicKey.from_bytes(pk.to_bytes())
        m = np.arange(-50, 50, dtype=np.int64)
        with ThreadPoolExecutor(max_workers=8) as pool:
            cts = list(pool.map(lambda i, fresh=fresh: fc.encrypt(fresh, m * (i % 3), threads=1 + i % 2,
                                                                  constant_time=bool(i % 2)), range(8)))
        for i, ct in enumerate(cts):
            np.testing.assert_array_equal(fc.decrypt(sk, ct, bound=200), m * (i % 3))
