"""Wire format and SEC1 interop: round trips, sizes, and cross-checks with coincurve."""

from __future__ import annotations

import coincurve
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fbh.crypto as fc
from fbh.crypto._testing import encrypt_with_nonces
from fbh.bench.crypto_baseline import BaselineTable, CoincurveElGamal

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
INF = b"\x00"

settings.register_profile("fbh-crypto", deadline=None, max_examples=30)
PROFILE = settings.get_profile("fbh-crypto")


@pytest.fixture(scope="session")
def keys():
    sk = fc.PrivateKey.generate()
    return sk, sk.public_key


@pytest.fixture(scope="session")
def baseline_table():
    return BaselineTable(2**10, max_giant_steps=4)


def coincurve_encrypt(pk: bytes, m: int, r: int) -> tuple[bytes, bytes]:
    """C1 = r*G, C2 = m*G + r*pk, computed by coincurve."""
    rb = r.to_bytes(32, "big")
    c1 = coincurve.PublicKey.from_secret(rb)
    rp = coincurve.PublicKey(pk).multiply(rb)
    if m % N == 0:
        return c1.format(), rp.format()
    mg = coincurve.PublicKey.from_secret((m % N).to_bytes(32, "big"))
    return c1.format(), coincurve.PublicKey.combine_keys([mg, rp]).format()


@PROFILE
@given(m=st.lists(st.integers(-(2**40), 2**40), min_size=1, max_size=6),
       seed=st.integers(0, 2**32 - 1))
def test_injected_nonces_match_coincurve(keys, m, seed):
    _, pk = keys
    rng = np.random.default_rng(seed)
    rs = [int.from_bytes(rng.bytes(32), "big") % (N - 1) + 1 for _ in m]
    nonces = np.frombuffer(b"".join(r.to_bytes(32, "big") for r in rs), dtype=np.uint8).reshape(-1, 32)
    ct = encrypt_with_nonces(pk, np.array(m, dtype=np.int64), nonces)
    assert ct.to_sec1() == [coincurve_encrypt(pk.to_bytes(), mi, r) for mi, r in zip(m, rs, strict=True)]


@PROFILE
@given(values=st.lists(st.integers(-(2**10), 2**10), max_size=16))
def test_wire_round_trip(keys, values):
    sk, pk = keys
    ct = fc.encrypt(pk, np.array(values, dtype=np.int64))
    blob = ct.to_bytes()
    assert isinstance(blob, bytes)
    again = fc.Ciphertexts.from_bytes(blob)
    assert len(again) == len(values)
    assert again.to_bytes() == blob
    assert again.to_sec1() == ct.to_sec1()
    assert fc.Ciphertexts.from_sec1(ct.to_sec1()).to_bytes() == blob
    assert fc.decrypt(sk, again, bound=2**10).tolist() == values


def test_wire_size_is_128_bytes_per_value_plus_header(keys):
    _, pk = keys
    sizes = [len(fc.encrypt(pk, np.zeros(k, dtype=np.int64)).to_bytes()) for k in (0, 1, 5, 100)]
    header = sizes[0]
    assert sizes == [header + 128 * k for k in (0, 1, 5, 100)]
    assert header < 64


def test_from_bytes_accepts_buffers(keys):
    _, pk = keys
    blob = fc.encrypt(pk, np.arange(3, dtype=np.int64)).to_bytes()
    for buf in (bytearray(blob), memoryview(blob)):
        assert fc.Ciphertexts.from_bytes(buf).to_bytes() == blob


def test_sec1_points_are_valid_for_coincurve(keys):
    _, pk = keys
    ct = fc.encrypt(pk, np.arange(-5, 6, dtype=np.int64))
    for c1, c2 in ct.to_sec1():
        for p in (c1, c2):
            assert len(p) == 33
            assert coincurve.PublicKey(p).format() == p


def test_fbh_ciphertexts_decrypt_with_the_coincurve_baseline(keys, baseline_table):
    sk, pk = keys
    m = np.array([0, 1, -1, 1000, -1024, 513], dtype=np.int64)
    base = CoincurveElGamal(sk.to_bytes())
    wire = base.serialize(base.parse(b"".join(c1 + c2 for c1, c2 in fc.encrypt(pk, m).to_sec1())))
    assert base.decrypt(base.parse(wire), baseline_table) == m.tolist()


def test_coincurve_baseline_ciphertexts_decrypt_with_fbh(keys):
    sk, _ = keys
    values = [0, 7, -7, 2**15, -(2**15)]
    base = CoincurveElGamal(sk.to_bytes())
    blobs = [base.encrypt(values), base.encrypt([-v for v in values])]
    pairs = [(c1.format(), c2.format()) for c1, c2 in base.parse(blobs[0])]
    ct = fc.Ciphertexts.from_sec1(pairs)
    assert fc.decrypt(sk, ct, bound=2**15).tolist() == values
    # The baseline's sum and fbh's sum are the same points.
    agg = base.aggregate(blobs)
    other = fc.Ciphertexts.from_sec1([(c1.format(), c2.format()) for c1, c2 in base.parse(blobs[1])])
    assert (ct + other).to_sec1() == [(c1.format(), c2.format()) for c1, c2 in agg]


def test_from_sec1_accepts_infinity(keys):
    _, pk = keys
    (c1, c2), = fc.encrypt(pk, np.array([3], dtype=np.int64)).to_sec1()
    ct = fc.Ciphertexts.from_sec1([(INF, c2), (c1, INF), (INF, INF)])
    assert ct.to_sec1() == [(INF, c2), (c1, INF), (INF, INF)]
    assert fc.Ciphertexts.from_bytes(ct.to_bytes()).to_sec1() == ct.to_sec1()
