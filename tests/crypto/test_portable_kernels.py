"""The portable kernels (csrc/portable/, the source the CUDA module compiles) run on the CPU
and must agree byte for byte with the main CPU path and with the coincurve vectors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fbh.crypto as fc
from fbh.crypto import _ec
from fbh.crypto._testing import encrypt_packed_with_nonces
from fbh.crypto.backend import use_backend
from fbh.crypto.packed import context_digest

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
MAX = int(_ec.MAX_PLAINTEXT)
DOC = json.loads((Path(__file__).resolve().parents[1] / "data/vectors/packed_v3.json").read_text())
DIGEST = context_digest(b"round 1, hospital 0")


@pytest.fixture(scope="module")
def ks() -> fc.KeySet:
    return fc.KeySet.generate(k=3)


@pytest.fixture(scope="module")
def tables(ks):
    return _ec.PortableTables(ks.public._core.points(), 2)


def random_nonces(nblocks: int) -> np.ndarray:
    """uint8[B + 1, 32]: the block nonces r_b, then the proof nonce a."""
    return np.frombuffer(os.urandom(32 * (nblocks + 1)), dtype=np.uint8).reshape(nblocks + 1, 32).copy()


def both(ks, tables, m, nonces, threads=1):
    """(main CPU path, portable path) encryptions of m with the same nonces."""
    count = len(m)
    main = _ec.packed_encrypt(ks.public._core, np.asarray(m, np.int64), DIGEST, count, nonces, threads, True)
    port = _ec.portable_encrypt(tables, np.asarray(m, np.int64), DIGEST, count, nonces, threads)
    return main, port


def test_coincurve_vector_byte_identical():
    v = DOC["vectors"][0]
    ks = fc.KeySet.from_bytes(bytes.fromhex(DOC["secret_key_set"]))
    rows = [bytes.fromhex(r) for r in v["proof"]["r"]] + [bytes.fromhex(v["proof"]["a"])]
    nonces = np.frombuffer(b"".join(rows), dtype=np.uint8).reshape(-1, 32)
    with use_backend("portable"):
        ct = encrypt_packed_with_nonces(
            ks.public, v["values"], nonces, context=bytes.fromhex(v["context"]), constant_time=False
        )
        assert ct.to_bytes().hex() == v["blob"]
        agg = fc.aggregate_packed([bytes.fromhex(v["blob"]), bytes.fromhex(v["other_blob"])])
        assert agg.to_bytes().hex() == v["aggregate"]


@pytest.mark.parametrize("threads", [1, 2])
def test_ciphertexts_byte_identical_to_main_path(ks, tables, threads):
    m = [0, 1, -1, MAX, -MAX, 12345, -(2**40), 2**46, 7, 0, 0, -3]
    (p1, r1, b1), (p2, r2, b2) = both(ks, tables, m, random_nonces(4), threads)
    assert b1 == b2 == -1
    assert p1.tobytes() == p2.tobytes()
    assert r1.tobytes() == r2.tobytes()


@given(
    values=st.lists(st.integers(-MAX, MAX), min_size=3, max_size=9).filter(lambda v: len(v) % 3 == 0),
    nonce=st.lists(st.integers(1, N - 1), min_size=4, max_size=4),
)
def test_property_identical_for_any_values_and_nonces(ks, tables, values, nonce):
    rows = b"".join(x.to_bytes(32, "big") for x in nonce[: len(values) // 3] + nonce[-1:])
    nonces = np.frombuffer(rows, dtype=np.uint8).reshape(-1, 32)
    (p1, r1, _), (p2, r2, _) = both(ks, tables, values, nonces)
    assert p1.tobytes() == p2.tobytes()
    assert r1.tobytes() == r2.tobytes()


def test_extreme_nonces(ks, tables):
    row = (1).to_bytes(32, "big") + (N - 1).to_bytes(32, "big")
    nonces = np.frombuffer(row, dtype=np.uint8).reshape(2, 32)
    (p1, r1, _), (p2, r2, _) = both(ks, tables, [5, -5, 0], nonces)
    assert p1.tobytes() == p2.tobytes() and r1.tobytes() == r2.tobytes()


def test_aggregates_identical_including_infinity(ks, tables):
    ct = [fc.encrypt_packed(ks.public, [3, -5, 7, 1], context=b"c", constant_time=False) for _ in range(3)]
    pts = [c._points for c in ct] + [_ec.negate_points(ct[0]._points)]  # C + (-C): infinity
    main, bad, _ = _ec.aggregate_points(pts, [True] * 4, 1)
    port, bad2, _ = _ec.portable_aggregate(np.stack(pts), 2)
    assert bad == bad2 == -1
    assert main.tobytes() == port.tobytes()
    zeros = np.zeros_like(pts[0])  # infinity as an input too
    main, _, _ = _ec.aggregate_points([zeros, pts[1]], [True, True], 1)
    port, _, _ = _ec.portable_aggregate(np.stack([zeros, pts[1]]), 1)
    assert main.tobytes() == port.tobytes() == pts[1].tobytes()


def test_partial_decryptions_identical(ks):
    ct = fc.encrypt_packed(ks.public, list(range(-4, 5)), context=b"c", constant_time=False)
    pts = ct._points.copy()
    pts[1, 0] = 0  # a block whose R is infinity: s R = infinity
    main = _ec.packed_mul_r(ks._core, pts, 1, True)
    port, bad = _ec.portable_mul_r(ks._core, pts, 2)
    assert bad == -1
    assert main.tobytes() == port.tobytes()
    assert not port[1].any()


def test_verify_agrees_with_the_main_path(ks, tables):
    m = np.arange(12, dtype=np.int64)
    _, (pts, proof, _) = both(ks, tables, m, random_nonces(4))
    assert _ec.portable_verify(pts, proof, 3, DIGEST, 12, 2)
    assert not _ec.portable_verify(pts, proof, 3, context_digest(b"other"), 12, 1)
    assert not _ec.portable_verify(pts, proof, 3, DIGEST, 13, 1)  # count is bound
    bad_z = proof.copy()
    bad_z[95] ^= 1
    assert not _ec.portable_verify(pts, bad_z, 3, DIGEST, 12, 1)
    assert not _ec.packed_verify(pts, bad_z, 3, DIGEST, 12, 1)
    bad_a = proof.copy()
    bad_a[10] ^= 1  # A off the curve (the main path relies on packed_validate for this)
    assert not _ec.portable_verify(pts, bad_a, 3, DIGEST, 12, 1)
    swapped = pts.copy()
    swapped[[1, 3]] = swapped[[3, 1]]  # valid points, wrong order: another transcript
    assert not _ec.portable_verify(swapped, proof, 3, DIGEST, 12, 1)
    assert not _ec.packed_verify(swapped, proof, 3, DIGEST, 12, 1)
    big_z = proof.copy()
    big_z[64:] = np.frombuffer(N.to_bytes(32, "big"), np.uint8)  # z = n: not a canonical scalar
    assert not _ec.portable_verify(pts, big_z, 3, DIGEST, 12, 1)
    no_r = pts.copy()
    no_r[3, 0] = 0  # an infinite R_b
    assert not _ec.portable_verify(no_r, proof, 3, DIGEST, 12, 1)
    assert _ec.portable_verify(pts[:0], proof, 3, DIGEST, 0, 1) == _ec.packed_verify(pts[:0], proof, 3, DIGEST, 0, 1)


def test_invalid_inputs_are_rejected(ks, tables):
    m = np.zeros(6, dtype=np.int64)
    zero_nonce = random_nonces(2)
    zero_nonce[1] = 0
    assert _ec.portable_encrypt(tables, m, DIGEST, 6, zero_nonce, 1)[2] == 3
    over = random_nonces(2)
    over[2] = np.frombuffer(N.to_bytes(32, "big"), np.uint8)  # the proof nonce a = n
    assert _ec.portable_encrypt(tables, m, DIGEST, 6, over, 1)[2] == 6
    m[4] = MAX + 1
    assert _ec.portable_encrypt(tables, m, DIGEST, 6, random_nonces(2), 1)[2] == 4
    with pytest.raises(ValueError, match="whole blocks"):
        _ec.portable_encrypt(tables, np.zeros(4, np.int64), DIGEST, 4, None, 1)
    with pytest.raises(ValueError, match=r"nonces must have shape \(B \+ 1, 32\)"):
        _ec.portable_encrypt(tables, np.zeros(3, np.int64), DIGEST, 3, random_nonces(2), 1)
    with pytest.raises(ValueError, match="32 bytes"):
        _ec.portable_encrypt(tables, np.zeros(3, np.int64), b"short", 3, None, 1)
    pts = fc.encrypt_packed(ks.public, [1, 2, 3], context=b"c", constant_time=False)._points
    off = pts.copy()
    off[0, 2, 63] ^= 1  # off the curve
    out, bad, item = _ec.portable_aggregate(np.stack([pts, off]), 1)
    assert (bad, item) == (2, 1)
    assert _ec.portable_mul_r(ks._core, np.stack([pts[0], off[0]]).reshape(2, 4, 64), 1)[1] == -1
    big = pts.copy()
    big[0, 0, :32] = 0xFF  # x >= p
    assert _ec.portable_mul_r(ks._core, big, 1)[1] == 0
    keys = ks.public._core.points().copy()
    keys[1, 5] ^= 1
    with pytest.raises(ValueError, match="key 1 is not a finite point"):
        _ec.PortableTables(keys, 1)


def test_fresh_nonces_decrypt_through_the_public_api(ks):
    values = [5, -7, 0, 2**19, -1]
    with use_backend("portable"):
        cts = [fc.encrypt_packed(ks.public, values, context=b"h", constant_time=False) for _ in range(2)]
        assert cts[0] != cts[1]  # fresh nonces
        for ct in cts:
            ct.verify(b"h")
        agg = fc.aggregate_packed(cts)
        shares = fc.partial_decrypt(ks, agg, constant_time=False)
    assert fc.decrypt_packed(ks, agg).tolist() == [2 * v for v in values]
    assert shares.tobytes() == _ec.packed_mul_r(ks._core, agg._points, 1, True).tobytes()
    with use_backend("portable"), pytest.raises(fc.InvalidProof, match="does not verify"):
        bad = fc.PackedCiphertexts.from_bytes(cts[1].to_bytes())
        bad._proof = cts[0]._proof  # the proof of another blob
        bad.verify(b"h")


@given(
    rows=st.lists(st.lists(st.integers(-(2**20), 2**20), min_size=3, max_size=3), min_size=1, max_size=4),
    negate_first=st.booleans(),
)
def test_property_aggregate_identical(ks, rows, negate_first):
    pts = [fc.encrypt_packed(ks.public, r, context=b"p", constant_time=False)._points for r in rows]
    if negate_first:
        pts.append(_ec.negate_points(pts[0]))  # cancels input 0 slot by slot: infinity in the sum
    main, _, _ = _ec.aggregate_points(pts, [True] * len(pts), 1)
    port, bad, _ = _ec.portable_aggregate(np.stack(pts), 1)
    assert bad == -1
    assert main.tobytes() == port.tobytes()
