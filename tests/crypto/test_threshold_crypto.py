"""Trust-layer crypto: point kernels, DLEQ proofs, ECIES, Feldman VSS and threshold decryption.

Cross-checked against coincurve (libsecp256k1) for every point operation.
"""

from __future__ import annotations

import itertools

import coincurve
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fbh.crypto as fc
from fbh.crypto import _ec, ecies, vss
from fbh.crypto import points as pt
from fbh.crypto import threshold as th
from fbh.crypto.chaum_pedersen import G_BYTES, DleqProof, make_dleq, make_share_proof
from fbh.crypto.hash import GROUP_ORDER, coefficients, hash_elems

K, N, T = 4, 3, 2
CTX = b"chain 1 / registry 0xabc / round 3"
scalars = st.integers(min_value=1, max_value=GROUP_ORDER - 1)


def cc_point(k: int) -> bytes:
    return coincurve.PublicKey.from_secret(k.to_bytes(32, "big")).format(compressed=False)[1:]


def cc_mul(p: bytes, k: int) -> bytes:
    return coincurve.PublicKey(b"\x04" + p).multiply(k.to_bytes(32, "big")).format(compressed=False)[1:]


def add_scalars(a: bytes, b: bytes) -> bytes:
    return b"".join(_ec._scalar_op("add", a[i : i + 32], b[i : i + 32]) for i in range(0, len(a), 32))


def run_dkg(k: int = K, n: int = N, t: int = T):
    """In-memory joint-Feldman DKG: (joint public key set, {m: key shares}, {m: S_m})."""
    polys = [vss.Polynomial.generate(k, t) for _ in range(n)]
    comms = [p.commitments() for p in polys]
    shares = {}
    for m in range(1, n + 1):
        dealt = [p.evaluate(m) for p in polys]
        assert all(vss.verify_share(c, m, d) for c, d in zip(comms, dealt, strict=True))
        acc = dealt[0]
        for d in dealt[1:]:
            acc = add_scalars(acc, d)
        shares[m] = acc
    joint = vss.joint_public_points(comms)
    pub = fc.PublicKeySet.from_bytes(b"FBHK\x02\x00" + k.to_bytes(2, "little") + joint.tobytes())
    keys = {m: vss.share_public_points(s) for m, s in shares.items()}
    return pub, shares, keys, comms


@pytest.fixture(scope="module")
def dkg():
    return run_dkg()


@pytest.fixture(scope="module")
def aggregate(dkg):
    pub = dkg[0]
    vals = np.arange(-7, 12, dtype=np.int64)  # 19 values: 5 blocks, the last padded
    blobs = [fc.encrypt_packed(pub, vals * (c + 1), context=b"h%d" % c) for c in range(3)]
    return fc.aggregate_packed(blobs), vals * 6


# --- points ---------------------------------------------------------------------------------


@settings(max_examples=10)
@given(st.lists(st.tuples(scalars, scalars), min_size=1, max_size=6))
def test_lincomb_matches_coincurve(pairs):
    pts = np.frombuffer(b"".join(cc_point(p) for p, _ in pairs), dtype=np.uint8).reshape(-1, 64)
    sc = np.frombuffer(b"".join(s.to_bytes(32, "big") for _, s in pairs), dtype=np.uint8).reshape(-1, 32)
    want = sum(p * s for p, s in pairs) % GROUP_ORDER
    assert pt.lincomb(pts, sc) == (cc_point(want) if want else pt.INFINITY)


@settings(max_examples=10)
@given(scalars, scalars)
def test_secret_and_base_mul_match_coincurve(a, b):
    assert pt.mul_base(a.to_bytes(32, "big")) == cc_point(a)
    assert pt.mul_secret(cc_point(a), b.to_bytes(32, "big")) == cc_mul(cc_point(a), b)


def test_point_inputs_rejected():
    with pytest.raises(ValueError, match="finite and on the curve"):
        pt.mul_secret(b"\x01" * 64, (5).to_bytes(32, "big"))
    with pytest.raises(ValueError, match=r"\[1, n - 1\]"):
        pt.mul_secret(cc_point(3), bytes(32))
    bad = np.frombuffer(cc_point(2) + b"\x01" * 64, dtype=np.uint8).reshape(2, 64)
    with pytest.raises(ValueError, match="index 1"):
        pt.lincomb(bad, coefficients(b"s", 2))


def test_decode_points_confirms_and_names_index():
    table = fc.DecodingTable(1000)
    pts = [cc_point(5), pt.neg(cc_point(999)), pt.INFINITY, cc_point(1001)]
    arr = np.frombuffer(b"".join(pts), dtype=np.uint8).reshape(-1, 64)
    out, bad = _ec.points_decode(arr, table._core, 1000, 1)
    assert bad == 3 and list(out[:3]) == [5, -999, 0]


def test_coefficients_nonzero_and_deterministic():
    c = coefficients(b"seed", 100)
    assert np.array_equal(c, coefficients(b"seed", 100)) and c[:, :16].sum() == 0
    assert all(int.from_bytes(row.tobytes(), "big") for row in c)


def test_hash_elems_is_injective_on_splits():
    assert hash_elems(b"t", b"ab", b"c") != hash_elems(b"t", b"a", b"bc")
    assert hash_elems(b"t", 1) != hash_elems(b"u", 1)


# --- Chaum-Pedersen -------------------------------------------------------------------------


def test_dleq_valid_and_bound_to_statement_and_context():
    h = cc_point(12345)
    x, y, proof = make_dleq((777).to_bytes(32, "big"), h, context=CTX)
    assert x == cc_point(777) and y == cc_mul(h, 777)
    assert proof.is_valid(x, h, y, CTX)
    assert DleqProof.from_bytes(proof.to_bytes()) == proof
    assert not proof.is_valid(x, h, y, CTX + b"!")
    assert not proof.is_valid(x, h, cc_mul(h, 778), CTX)
    assert not proof.is_valid(x, G_BYTES, y, CTX)
    assert not DleqProof(proof.challenge, (proof.response + 1) % GROUP_ORDER).is_valid(x, h, y, CTX)
    with pytest.raises(ValueError, match="64 bytes"):
        DleqProof.from_bytes(b"\x00" * 63)


# --- ECIES ----------------------------------------------------------------------------------


def test_ecies_round_trip_tamper_and_public_opening():
    sk = _ec.SecKey.generate().to_bytes()
    pk = pt.mul_base(sk)
    ct = ecies.encrypt(pk, b"share bytes", aad=b"dealer 1 -> 2")
    assert ecies.decrypt(sk, ct, aad=b"dealer 1 -> 2") == b"share bytes"
    with pytest.raises(ecies.DecryptionFailed):
        ecies.decrypt(sk, ct, aad=b"dealer 1 -> 3")
    with pytest.raises(ecies.DecryptionFailed):
        ecies.decrypt(sk, ct[:-1] + bytes([ct[-1] ^ 1]), aad=b"dealer 1 -> 2")
    with pytest.raises(ecies.DecryptionFailed):
        ecies.decrypt(_ec.SecKey.generate().to_bytes(), ct, aad=b"dealer 1 -> 2")
    shared, proof = ecies.open_with_proof(sk, ct, CTX)
    assert ecies.verify_opening(pk, ct, shared, proof, CTX)
    assert ecies.decrypt_with_point(pk, shared, ct, b"dealer 1 -> 2") == b"share bytes"
    assert not ecies.verify_opening(pk, ct, cc_point(9), proof, CTX)  # a made-up opening


# --- Feldman VSS ----------------------------------------------------------------------------


def test_vss_detects_a_bad_share_and_any_quorum_recovers_the_key(dkg):
    pub, shares, keys, comms = dkg
    poly = vss.Polynomial.generate(K, T)
    c = poly.commitments()
    good = poly.evaluate(2)
    assert vss.verify_share(c, 2, good)
    assert not vss.verify_share(c, 3, good)
    assert not vss.verify_share(c, 2, add_scalars(good, (1).to_bytes(32, "big") * 1 + bytes(32 * (K - 1))))
    joint = np.frombuffer(pub.to_bytes()[8:], dtype=np.uint8).reshape(K, 64)
    for quorum in itertools.combinations(range(1, N + 1), T):
        parts = [th.scaled_keys(keys[i], i, list(quorum)) for i in quorum]
        total, _, _ = _ec.aggregate_points(parts, [True] * len(parts), 1)
        assert np.array_equal(total, joint)  # sum lambda_i S_i = P: shares interpolate to s


def test_lagrange_matches_integer_interpolation():
    # f(x) = 5 + 3x: f(1) = 8, f(3) = 14 -> f(0) = 5
    lam1, lam3 = vss.lagrange_coefficient(1, [1, 3]), vss.lagrange_coefficient(3, [1, 3])
    assert (lam1 * 8 + lam3 * 14) % GROUP_ORDER == 5
    with pytest.raises(ValueError):
        vss.lagrange_coefficient(2, [1, 3])


def test_polynomial_refuses_pickling():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(vss.Polynomial.generate(1, 2))


# --- threshold decryption -------------------------------------------------------------------


def test_every_quorum_decrypts_with_valid_proofs(dkg, aggregate):
    _, shares, keys, _ = dkg
    agg, want = aggregate
    for quorum in itertools.combinations(range(1, N + 1), T):
        got = [th.make_decryption_share(i, shares[i], list(quorum), agg, CTX) for i in quorum]
        assert all(s.is_valid(keys[s.index], agg, CTX) for s in got)
        assert np.array_equal(th.combine_shares(agg, got, bound=2**10), want)


def test_wrong_share_fails_its_proof(dkg, aggregate):
    _, shares, keys, _ = dkg
    agg, _ = aggregate
    share = th.make_decryption_share(1, shares[1], [1, 2], agg, CTX)
    assert not share.is_valid(keys[2], agg, CTX)  # another guardian's keys
    assert not share.is_valid(keys[1], agg, CTX + b"x")  # another context
    assert not th.DecryptionShare(1, (1, 3), share.points, share.proof).is_valid(keys[1], agg, CTX)
    # One block point off by G, with a proof honestly computed over the wrong data.
    pts = share.points.copy()
    pts[3, 2] = np.frombuffer(pt.add(pts[3, 2].tobytes(), G_BYTES), dtype=np.uint8)
    lam = vss.lagrange_coefficient(1, [1, 2]).to_bytes(32, "big")
    scaled = [_ec._scalar_op("mul", shares[1][32 * j : 32 * j + 32], lam) for j in range(K)]
    skeys = th.scaled_keys(keys[1], 1, [1, 2])
    proof = make_share_proof(scaled, skeys, agg._points, pts, th.share_context(CTX, 1, [1, 2]))
    assert not th.DecryptionShare(1, (1, 2), pts, proof).is_valid(keys[1], agg, CTX)


def test_share_for_another_aggregate_fails(dkg, aggregate):
    pub, shares, keys, _ = dkg
    agg, _ = aggregate
    other = fc.aggregate_packed([fc.encrypt_packed(pub, np.zeros(19, dtype=np.int64), context=b"o")])
    share = th.make_decryption_share(1, shares[1], [1, 2], other, CTX)
    assert not share.is_valid(keys[1], agg, CTX)


def test_fewer_than_t_shares_do_not_decrypt(dkg, aggregate):
    _, shares, _, _ = dkg
    agg, _ = aggregate
    alone = th.make_decryption_share(1, shares[1], [1], agg, CTX)  # t - 1 = 1 guardian
    with pytest.raises(fc.PlaintextOutOfRange):
        th.combine_shares(agg, [alone], bound=2**20)
    with pytest.raises(ValueError, match="single quorum"):
        two = th.make_decryption_share(2, shares[2], [1, 2], agg, CTX)
        th.combine_shares(agg, [alone, two])
