"""Decoding packed ciphertexts near and beyond the bound (up to 2^40), both signs, and the
guarantee that an undecodable value raises with its index instead of giving a number."""

from __future__ import annotations

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto.tables import MAX_BABY_STEPS

CTX = b"decode"


@pytest.fixture(scope="session")
def ks():
    return fc.KeySet.generate(k=4)


@pytest.mark.parametrize("bound", [1000, 2**21 + 17, 2**30, 2**40])
def test_values_at_and_near_the_bound_decode(ks, bound):
    values = [bound, -bound, bound - 1, -(bound - 1), 0, bound // 3, -(bound // 7)]
    ct = fc.encrypt_packed(ks.public, values, context=CTX, constant_time=False)
    assert fc.decrypt_packed(ks, ct, bound=bound).tolist() == values


@pytest.mark.parametrize("bound", [1000, 2**30, 2**40])
@pytest.mark.parametrize("sign", [1, -1])
def test_beyond_the_bound_raises_with_its_index(ks, bound, sign):
    values = [1, 2, sign * (bound + 1), 3]
    ct = fc.encrypt_packed(ks.public, values, context=CTX, constant_time=False)
    with pytest.raises(fc.PlaintextOutOfRange, match="index 2 ") as e:
        fc.decrypt_packed(ks, ct, bound=bound)
    assert (e.value.index, e.value.value, e.value.bound) == (2, None, bound)


def test_wrong_key_at_a_large_bound_raises_instead_of_a_number(ks):
    # Every giant step of a 2^40 search is a chance for a false x-prefix match; each hit is
    # confirmed against the whole point, so the search ends in an error, never a value.
    other = fc.KeySet.generate(k=4)
    ct = fc.encrypt_packed(ks.public, [5], context=CTX, constant_time=False)
    with pytest.raises(fc.PlaintextOutOfRange, match="index 0 "):
        fc.decrypt_packed(other, ct, bound=2**40)


def test_padding_slot_failure_is_named(ks):
    # A forged blob whose padding slot holds a large value is reported as padding.
    ct = fc.encrypt_packed(ks.public, [1, 2, 3, 2**20], context=CTX)
    short = fc.PackedCiphertexts(ct._points, None, count=3, context_digest=ct.context_digest)
    with pytest.raises(fc.PlaintextOutOfRange, match="padding slot 3"):
        fc.decrypt_packed(ks, short, bound=2**10)


def test_table_cache_is_keyed_by_size():
    big = fc.DecodingTable.cached(2**30)
    assert fc.DecodingTable.cached(2**35) is big
    assert big.baby_steps == MAX_BABY_STEPS == 2**21


def test_threads_and_modes_agree(ks):
    values = np.arange(-300, 301, dtype=np.int64) * 977
    ct = fc.encrypt_packed(ks.public, values, context=CTX)
    outs = [
        fc.decrypt_packed(ks, ct, bound=2**20, threads=t, constant_time=c)
        for t in (1, 2, 3)
        for c in (True, False)
    ]
    for out in outs:
        assert np.array_equal(out, values)
