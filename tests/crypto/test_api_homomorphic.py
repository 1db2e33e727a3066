"""Homomorphism properties (hypothesis) and their edge cases: zero, +-bound, cancellation, empty."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fbh.crypto as fc

BOUND = 2**16
INF = b"\x00"

settings.register_profile("fbh-crypto", deadline=None, max_examples=30)
PROFILE = settings.get_profile("fbh-crypto")
small = st.integers(min_value=-(2**15), max_value=2**15 - 1)
vectors = st.lists(small, min_size=1, max_size=12)


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


@pytest.fixture(scope="session")
def table():
    return fc.DecodingTable(BOUND)


def enc(pk, values, **kw) -> fc.Ciphertexts:
    return fc.encrypt(pk, np.asarray(values, dtype=np.int64), **kw)


def dec(sk, ct, table, **kw) -> list[int]:
    out = fc.decrypt(sk, ct, bound=BOUND, table=table, **kw)
    assert out.dtype == np.int64
    assert out.shape == (len(ct),)
    return out.tolist()


@PROFILE
@given(pairs=st.lists(st.tuples(small, small), min_size=1, max_size=12))
def test_sum_of_encryptions(keys, table, pairs):
    sk, pk = keys
    a, b = ([p[i] for p in pairs] for i in (0, 1))
    ca, cb = enc(pk, a), enc(pk, b)
    want = [x + y for x, y in pairs]
    assert dec(sk, ca + cb, table) == want
    assert dec(sk, fc.aggregate([ca, cb]), table) == want
    assert dec(sk, ca - cb, table) == [x - y for x, y in pairs]
    assert dec(sk, -ca, table) == [-x for x in a]


@PROFILE
@given(values=vectors, k=st.integers(min_value=-2, max_value=2))
def test_scalar_multiple(keys, table, values, k):
    sk, pk = keys
    ct = enc(pk, values)
    assert dec(sk, k * ct, table) == [k * v for v in values]
    assert dec(sk, ct * k, table) == [k * v for v in values]


@PROFILE
@given(values=vectors)
def test_reencryption_differs_but_decrypts_equal(keys, table, values):
    sk, pk = keys
    c1, c2 = enc(pk, values), enc(pk, values, constant_time=False)
    zero = enc(pk, np.zeros(len(values), dtype=np.int64))
    rerandomized = c1 + zero
    p1, p2, p3 = c1.to_sec1(), c2.to_sec1(), rerandomized.to_sec1()
    for i in range(len(values)):
        assert len({p1[i][0], p2[i][0], p3[i][0]}) == 3
        assert len({p1[i][1], p2[i][1], p3[i][1]}) == 3
    assert dec(sk, c1, table) == dec(sk, c2, table) == dec(sk, rerandomized, table) == values


@PROFILE
@given(clients=st.integers(min_value=1, max_value=12), n=st.integers(min_value=0, max_value=20),
       seed=st.integers(min_value=0, max_value=2**32 - 1))
def test_many_clients(keys, table, clients, n, seed):
    sk, pk = keys
    data = np.random.default_rng(seed).integers(-(2**12), 2**12, size=(clients, n), dtype=np.int64)
    cts = [enc(pk, row) for row in data]
    items = [c.to_bytes() if i % 2 else c for i, c in enumerate(cts)]  # mixed objects and wire bytes
    agg = fc.aggregate(items)
    assert len(agg) == n
    assert dec(sk, agg, table) == data.sum(axis=0).tolist()
    assert agg.to_sec1() == sum(cts[1:], cts[0]).to_sec1()


@pytest.mark.parametrize("constant_time", [True, False])
def test_edges_zero_and_bound(keys, table, constant_time):
    sk, pk = keys
    values = [0, BOUND, -BOUND, BOUND - 1, -BOUND + 1, 1, -1]
    ct = enc(pk, values, constant_time=constant_time)
    assert dec(sk, ct, table, constant_time=constant_time) == values
    assert all(c1 != INF and c2 != INF for c1, c2 in ct.to_sec1())


def test_sum_cancelling_to_zero(keys, table):
    sk, pk = keys
    a = [5, -7, BOUND, 0]
    ca, cb = enc(pk, a), enc(pk, [-x for x in a])
    # Independent nonces: message point is infinity, ciphertext points are finite.
    assert dec(sk, ca + cb, table) == [0, 0, 0, 0]
    # Same ciphertext negated: every point is infinity, and it survives serialization.
    for zero in (ca - ca, ca + (-ca), 0 * ca, fc.aggregate([ca, -ca])):
        assert zero.to_sec1() == [(INF, INF)] * 4
        again = fc.Ciphertexts.from_bytes(zero.to_bytes())
        assert again.to_sec1() == [(INF, INF)] * 4
        assert fc.Ciphertexts.from_sec1(zero.to_sec1()).to_bytes() == zero.to_bytes()
        assert dec(sk, again, table) == [0, 0, 0, 0]
        assert dec(sk, again + ca, table) == a


def test_empty_input(keys, table):
    sk, pk = keys
    empty = enc(pk, np.zeros(0, dtype=np.int64))
    assert len(empty) == 0
    assert empty.to_sec1() == []
    agg = fc.aggregate([empty, empty.to_bytes(), empty])
    assert len(agg) == 0
    out = fc.decrypt(sk, agg, bound=BOUND, table=table)
    assert out.dtype == np.int64
    assert out.shape == (0,)
    assert len(fc.Ciphertexts.from_bytes(empty.to_bytes())) == 0
    assert len(fc.Ciphertexts.from_sec1([])) == 0


def test_aggregate_rejects_mismatched_lengths(keys):
    _, pk = keys
    a, b = enc(pk, [1, 2, 3]), enc(pk, [1, 2])
    for items in ([a, b], [a.to_bytes(), b], [b, a, a]):
        with pytest.raises(ValueError) as info:
            fc.aggregate(items)
        msg = str(info.value)
        assert "3" in msg and "2" in msg, msg
    with pytest.raises(ValueError):
        a + b


def test_aggregate_of_one_is_identity(keys, table):
    sk, pk = keys
    a = enc(pk, [4, -4])
    assert fc.aggregate([a]).to_sec1() == a.to_sec1()
    assert dec(sk, fc.aggregate([a.to_bytes()]), table) == [4, -4]
