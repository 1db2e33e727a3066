"""Batch kernels on their hard cases: doubling, inverses and infinity mixed into one batch,
batch sizes around chunk and thread boundaries, giant-step boundaries, and large plaintexts.

Batched affine addition with a shared (Montgomery) inversion fails on exactly these inputs
when a zero denominator or P == Q is mishandled; every expectation here comes from coincurve.
"""

from __future__ import annotations

import coincurve
import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto._testing import encrypt_with_nonces

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
INF = b"\x00"
SIZES = [1, 2, 3, 7, 8, 9, 63, 64, 65, 127, 128, 129, 255, 256, 257, 1023, 1024, 1025]


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


def _point(k: int) -> bytes:
    return INF if k % N == 0 else coincurve.PublicKey.from_secret((k % N).to_bytes(32, "big")).format()


def _case_scalars(rng: np.random.Generator, count: int) -> tuple[list[int], list[int]]:
    """Scalar pairs (a, b) so that a*G + b*G hits every special case of point addition."""
    a, b = [], []
    for i in range(count):
        x = int(rng.integers(1, 2**62))
        kind = i % 6
        pairs = [(x, x + 1 + i), (x, x), (x, -x), (0, x), (x, 0), (0, 0)]  # generic, double, inverse, inf
        a.append(pairs[kind][0])
        b.append(pairs[kind][1])
    order = rng.permutation(count)
    return [a[i] for i in order], [b[i] for i in order]


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_aggregate_special_cases_match_coincurve(threads):
    rng = np.random.default_rng(threads)
    a, b = _case_scalars(rng, 300)
    # Use each scalar pair as both C1 and C2 (shifted), so both columns see the special cases.
    ca = fc.Ciphertexts.from_sec1([(_point(x), _point(3 * x)) for x in a])
    cb = fc.Ciphertexts.from_sec1([(_point(y), _point(3 * y)) for y in b])
    want = [(_point(x + y), _point(3 * (x + y))) for x, y in zip(a, b, strict=True)]
    assert fc.aggregate([ca, cb], threads=threads).to_sec1() == want
    assert fc.aggregate([ca.to_bytes(), cb.to_bytes()], threads=threads).to_sec1() == want
    # Three inputs: (a + b) + (-b) = a, through a cancelling intermediate where b = -a.
    back = fc.aggregate([ca, cb, -cb], threads=threads)
    assert back.to_sec1() == ca.to_sec1()


@pytest.mark.parametrize("size", SIZES)
def test_batch_sizes_round_trip(keys, size):
    sk, pk = keys
    rng = np.random.default_rng(size)
    m = rng.integers(-(2**15), 2**15, size=size, dtype=np.int64)
    m[:: max(1, size // 5)] = 0  # zeros everywhere: message points at infinity after aggregation
    for threads in (1, 3):
        for constant_time in (True, False):
            ct = fc.encrypt(pk, m, threads=threads, constant_time=constant_time)
            agg = fc.aggregate([ct, ct.to_bytes(), -ct], threads=threads)  # = Enc(m) re-randomized twice
            out = fc.decrypt(sk, agg, bound=2**16, threads=threads, constant_time=constant_time)
            np.testing.assert_array_equal(out, m)


def test_decrypt_batch_with_infinity_components(keys):
    sk, pk = keys
    rng = np.random.default_rng(1)
    m = rng.integers(-1000, 1000, size=200, dtype=np.int64)
    m[::7] = 0
    pairs = []
    for i, v in enumerate(m.tolist()):
        r = int(rng.integers(1, 2**62))
        if i % 3 == 0:  # C1 = infinity: the r = 0 encryption, C2 = m*G
            pairs.append((INF, _point(v)))
        else:
            sec1 = encrypt_with_nonces(pk, np.array([v]), np.frombuffer(r.to_bytes(32, "big"), np.uint8)[None])
            pairs.append(sec1.to_sec1()[0])
    ct = fc.Ciphertexts.from_sec1(pairs)
    for threads in (1, 2, 4):
        for constant_time in (True, False):
            out = fc.decrypt(sk, ct, bound=1000, threads=threads, constant_time=constant_time)
            np.testing.assert_array_equal(out, m)


def test_giant_step_boundaries(keys):
    sk, pk = keys
    table = fc.DecodingTable(100)
    t = table.baby_steps if hasattr(table, "baby_steps") else 100
    step = 2 * t + 1
    edges = {0, t, t + 1, step - 1, step, step + 1}
    edges |= {k * step + d for k in range(1, 10) for d in (-t - 1, -t, -1, 0, 1, t, t + 1)}
    bound = 9 * step + t
    m = np.array(sorted(v for e in edges for v in (e, -e) if abs(v) <= bound), dtype=np.int64)
    ct = fc.encrypt(pk, m)
    np.testing.assert_array_equal(fc.decrypt(sk, ct, bound=bound, table=table), m)
    dense = np.arange(-3 * step, 3 * step + 1, dtype=np.int64)
    np.testing.assert_array_equal(fc.decrypt(sk, fc.encrypt(pk, dense), bound=3 * step, table=table), dense)
    beyond = np.array([0, bound + 1], dtype=np.int64)
    with pytest.raises(fc.PlaintextOutOfRange) as info:
        fc.decrypt(sk, fc.encrypt(pk, beyond), bound=bound, table=table)
    assert info.value.index == 1


def _large_values() -> np.ndarray:
    big = fc.MAX_PLAINTEXT
    edges = [big, -big, big - 1, -big + 1, 2**46, -(2**46), 2**46 - 1, 2**32, -(2**32), 2**31, 1, -1, 0]
    rand = np.random.default_rng(9).integers(-big, big + 1, size=51, dtype=np.int64)
    return np.concatenate([np.array(edges, dtype=np.int64), rand])


@pytest.mark.parametrize("constant_time", [True, False])
def test_large_plaintexts_match_coincurve(keys, constant_time):
    _, pk = keys
    m = _large_values()
    rs = [int(x) for x in np.random.default_rng(2).integers(1, 2**62, size=len(m))]
    nonces = np.frombuffer(b"".join(r.to_bytes(32, "big") for r in rs), dtype=np.uint8).reshape(-1, 32)
    got = encrypt_with_nonces(pk, m, nonces, constant_time=constant_time).to_sec1()
    pkc = coincurve.PublicKey(pk.to_bytes())
    for i, (v, r) in enumerate(zip(m.tolist(), rs, strict=True)):
        rp = pkc.multiply(r.to_bytes(32, "big"))
        c2 = rp if v == 0 else coincurve.PublicKey.combine_keys([coincurve.PublicKey(_point(v)), rp])
        assert got[i] == (_point(r), c2.format()), f"index {i}, m = {v}"


@pytest.mark.parametrize("constant_time", [True, False])
def test_large_plaintexts_with_random_nonces(keys, constant_time):
    # Enc(m; r) - Enc(m; 1) = Enc(0; r - 1): decrypts to 0 exactly when m*G was encoded right.
    sk, pk = keys
    m = _large_values()
    ones = np.zeros((len(m), 32), dtype=np.uint8)
    ones[:, 31] = 1
    known = encrypt_with_nonces(pk, m, ones)
    for threads in (1, 2):
        ct = fc.encrypt(pk, m, threads=threads, constant_time=constant_time)
        np.testing.assert_array_equal(fc.decrypt(sk, ct - known, bound=1), np.zeros(len(m), dtype=np.int64))
