"""Range proofs on slots of real packed blocks (reference implementation)."""

from __future__ import annotations

import hashlib
import itertools
import secrets

import coincurve
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fbh import crypto as fc
from fbh.crypto import range_proof as rp
from fbh.crypto import refcurve

K = 4
BOUND = 31  # range [-31, 31], L = 6 bits: small, so the pure-Python reference stays quick
BITS = rp.bits_for_bound(BOUND)
CTX = b"chain 1337 | contract 0xabc | round 3 | sender 0xdef"


@pytest.fixture(scope="module")
def ks():
    return fc.KeySet.generate(k=K)


def _keys(ks) -> list:
    raw = ks.public.to_bytes()[8:]
    return [rp.point_from_bytes(raw[64 * j: 64 * (j + 1)]) for j in range(K)]


def _block(ks, values):
    """One packed block with a known nonce r: (r, R, [C_j])."""
    r = 1 + secrets.randbelow(rp.N_ORDER - 1)
    a = 1 + secrets.randbelow(rp.N_ORDER - 1)
    nonces = np.frombuffer(r.to_bytes(32, "big") + a.to_bytes(32, "big"), np.uint8).reshape(2, 32)
    ct = fc.encrypt_packed(ks.public, values, context=CTX, constant_time=False, _nonces=nonces)
    pts = ct._points.reshape(-1, 64)
    return r, rp.point_from_bytes(pts[0].tobytes()), [rp.point_from_bytes(p.tobytes()) for p in pts[1:K + 1]]


def _statement(ks, block, slot, *, context=CTX, index=0, bound=BOUND):
    _, r_point, cs = block
    return rp.RangeStatement(_keys(ks)[slot], r_point, cs[slot], bound, context, index, slot)


def test_python_points_agree_with_coincurve():
    for k in (1, 2, 7, rp.N_ORDER - 1, secrets.randbelow(rp.N_ORDER)):
        ours = rp.point_bytes(rp.point_mul(k, rp.G))
        theirs = coincurve.PublicKey.from_secret(k.to_bytes(32, "big")).format(compressed=False)[1:] if k else None
        assert ours == theirs
    a, b = rp.point_mul(5, rp.G), rp.point_mul(9, rp.G)
    assert rp.point_add(a, b) == rp.point_mul(14, rp.G)
    assert rp.point_add(a, rp.point_neg(a)) is None


def test_the_reference_opens_the_c_core_packed_block(ks):
    """Our R, C_j are exactly r G and r P_j + m_j G for the nonce we handed the C++ encryptor."""
    values = [3, -5, 31, -32]
    r, r_point, cs = _block(ks, values)
    assert r_point == rp.point_mul(r, rp.G)
    for j, m in enumerate(values):
        assert cs[j] == rp.point_add(rp.point_mul(r, _keys(ks)[j]), rp.point_mul(m, rp.G))


@pytest.mark.parametrize("values", [[0, 1, -1, 31], [-31, 17, -17, 2]])
def test_a_correct_prover_always_passes(ks, values):
    block = _block(ks, values)
    items = [(_statement(ks, block, j), rp.prove_range(_statement(ks, block, j), m, block[0]))
             for j, m in enumerate(values)]
    assert rp.verify_ranges(items) == []


def test_out_of_range_values_cannot_be_proven(ks):
    block = _block(ks, [32, -32, 2**40, 0])
    for j, m in enumerate([32, -32, 2**40]):
        with pytest.raises(ValueError, match="outside"):
            rp.prove_range(_statement(ks, block, j), m, block[0])


def test_a_forged_proof_for_an_out_of_range_value_fails(ks):
    """Claiming 31 for a slot that holds 32 (one past the range) does not open the slot."""
    block = _block(ks, [32, 0, 0, 0])
    st = _statement(ks, block, 0)
    with pytest.raises(ValueError, match="do not open"):
        rp.prove_range(st, 31, block[0])
    # A proof made for an in-range neighbour does not transfer to this slot.
    other = _block(ks, [31, 0, 0, 0])
    proof = rp.prove_range(_statement(ks, other, 0), 31, other[0])
    assert not rp.verify_range(st, proof)


def test_a_value_under_another_key_cannot_be_proven(ks):
    """Slot 1 encrypted under slot 0's key: the prover knows r and m but not the slot's opening."""
    r, r_point, cs = _block(ks, [5, 0, 0, 0])
    wrong = rp.point_add(rp.point_mul(r, _keys(ks)[0]), rp.point_mul(5, rp.G))  # r P_0 + 5 G in slot 1
    st = rp.RangeStatement(_keys(ks)[1], r_point, wrong, BOUND, CTX, 0, 1)
    with pytest.raises(ValueError, match="do not open"):
        rp.prove_range(st, 5, r)
    honest = rp.prove_range(_statement(ks, (r, r_point, cs), 0), 5, r)
    assert not rp.verify_range(st, honest)


@pytest.mark.parametrize("field", ["context", "block", "slot", "bound"])
def test_a_proof_replayed_into_another_context_fails(ks, field):
    block = _block(ks, [7, 7, 7, 7])
    st = _statement(ks, block, 1)
    proof = rp.prove_range(st, 7, block[0])
    assert rp.verify_range(st, proof)
    changed = {"context": dict(context=CTX.replace(b"round 3", b"round 4")), "block": dict(index=1),
               "slot": dict(), "bound": dict(bound=BOUND - 1)}[field]
    other = _statement(ks, block, 2 if field == "slot" else 1, **changed)
    assert not rp.verify_range(other, proof)


def test_tampered_proofs_fail(ks):
    block = _block(ks, [-9, 0, 0, 0])
    st = _statement(ks, block, 0)
    proof = rp.prove_range(st, -9, block[0])
    a0, a1, c0, z0, z1 = proof.cds[2]
    bad_z = proof.cds[:2] + ((a0, a1, c0, (z0 + 1) % rp.N_ORDER, z1),) + proof.cds[3:]
    swapped = proof.commitments[::-1]
    truncated = rp.RangeProof(proof.commitments[:-1], proof.cds[:-1], proof.link)
    t1, t2, t3, s_r, s_m, s_rho = proof.link
    bad_link = (t1, t2, t3, s_r, (s_m + 1) % rp.N_ORDER, s_rho)
    assert rp.verify_ranges([(st, rp.RangeProof(proof.commitments, bad_z, proof.link)),
                             (st, rp.RangeProof(swapped, proof.cds, proof.link)), (st, truncated),
                             (st, rp.RangeProof(proof.commitments, proof.cds, bad_link)), (st, proof)]) == [0, 1, 2, 3]


def test_the_pedersen_generator_is_the_documented_hash_to_curve_point():
    """H = try-and-increment of the tagged seed, on the curve (coincurve parses it), equal in the
    C++ core, and neither G nor a small multiple of it."""
    h, ctr = refcurve.hash_to_curve(b"FBH/range-v3/pedersen-H")
    assert rp.H == h and ctr == 4
    assert rp.point_bytes(h) == fc._ec.range_generator_h()
    x = hashlib.sha256(b"FBH/range-v3/pedersen-H" + ctr.to_bytes(4, "big")).digest()
    assert h[0] == int.from_bytes(x, "big") % rp.P_FIELD and h[1] % 2 == 0
    assert coincurve.PublicKey(b"\x04" + rp.point_bytes(h)).format(compressed=False)[1:] == rp.point_bytes(h)
    assert all(h != rp.point_mul(k, rp.G) for k in range(-1000, 1001))


def test_a_ciphertext_off_the_g_multiples_cannot_be_proven(ks):
    """The linking proof binds the plaintext, not just a Pedersen opening: a slot holding
    r P + m G + delta H (a point the key holder cannot decode) fails for every claimed m, though
    the prover knows r, m, delta and could open C + B G - sum w_i Com_i as r P - rho H."""
    r, r_point, _ = _block(ks, [0, 0, 0, 0])
    key = _keys(ks)[0]
    bad = refcurve.lin((r, key), (5, rp.G), (7, rp.H))
    st = rp.RangeStatement(key, r_point, bad, BOUND, CTX, 0, 0)
    with pytest.raises(ValueError, match="do not open"):
        rp.prove_range(st, 5, r)
    assert not rp.verify_range(st, rp._prove(st, rp.decompose(5 + BOUND, BOUND), 5, r))


def test_invalid_inputs():
    with pytest.raises(ValueError, match=">= 1"):
        rp.RangeStatement(rp.G, rp.G, rp.G, 0, b"", 0, 0)
    with pytest.raises(ValueError, match="at most 48"):
        rp.RangeStatement(rp.G, rp.G, rp.G, 2**47, b"", 0, 0)
    with pytest.raises(ValueError, match="not on secp256k1"):
        rp.point_from_bytes(bytes(63) + b"\x01")
    with pytest.raises(ValueError, match="64 bytes"):
        rp.point_from_bytes(bytes(10))


def test_a_cheating_prover_running_the_protocol_on_an_out_of_range_value_is_rejected(ks):
    """32, -32 and 40 have no decomposition over the weights (1, 2, 4, 8, 16, 31) of B = 31: a
    cheater commits bits that do not add up to m + B (the link fails), or a bit outside {0, 1}
    that makes them add up (its OR-proof fails)."""
    block = _block(ks, [32, -32, 40, 0])
    weights = rp.bit_weights(BOUND)
    for slot, m in ((0, 32), (1, -32), (2, 40)):
        st = _statement(ks, block, slot)
        x = m + BOUND
        clamped = rp.decompose(min(max(x, 0), 2 * BOUND), BOUND)
        assert not rp.verify_range(st, rp._prove(st, clamped, m, block[0]))
        off = x - sum(w * b for w, b in zip(weights, clamped, strict=True))
        forged = [clamped[0] + off, *clamped[1:]]  # adds up, but bit 0 is not a bit
        assert forged[0] not in (0, 1)
        assert not rp.verify_range(st, rp._prove(st, forged, m, block[0]))


# --- the C++ core: same wire format, cross-checked both ways ------------------------------------
def _blob(ks, values, nblocks=3):
    nonces = np.array([[*secrets.token_bytes(32)] for _ in range(nblocks + 1)], np.uint8)
    for row in nonces:  # keep each r and a below n (a 1-in-2^128 redraw)
        row[0] &= 0x7F
    ct = fc.encrypt_packed(ks.public, values, context=CTX, constant_time=False, _nonces=nonces)
    return ct, nonces[:nblocks]


def test_core_proofs_verify_in_the_core_and_in_the_reference_and_back(ks):
    values = np.array([3, -5, 31, -31, 0, 1, -1, 17, 9, -9, 30, -30])
    ct, r = _blob(ks, values)
    picks = [(0, 0), (0, 3), (1, 2), (2, 3)]
    m = [values[b * K + j] for b, j in picks]
    proofs = rp.prove_slots(ks.public, ct, picks, m, r[[b for b, _ in picks]], bound=BOUND, context=CTX)
    assert proofs.shape == (4, rp.proof_bytes(BITS)) == (4, fc._ec.range_proof_bytes(BITS))
    assert rp.verify_slots(ks.public, ct, picks, proofs, bound=BOUND, context=CTX) == -1
    keys = _keys(ks)
    pts = ct._points.reshape(ct.num_blocks, K + 1, 64)
    for (b, j), row in zip(picks, proofs, strict=True):
        st = rp.RangeStatement(keys[j], rp.point_from_bytes(pts[b, 0].tobytes()),
                               rp.point_from_bytes(pts[b, j + 1].tobytes()), BOUND, CTX, b, j)
        proof = rp.RangeProof.from_bytes(row.tobytes(), BITS)
        assert rp.verify_range(st, proof)
        assert proof.to_bytes() == row.tobytes()
    # And a reference proof passes the core's batched verifier.
    b, j = picks[2]
    st = rp.RangeStatement(keys[j], rp.point_from_bytes(pts[b, 0].tobytes()),
                           rp.point_from_bytes(pts[b, j + 1].tobytes()), BOUND, CTX, b, j)
    ref = np.frombuffer(rp.prove_range(st, m[2], int.from_bytes(r[b].tobytes(), "big")).to_bytes(), np.uint8)
    assert rp.verify_slots(ks.public, ct, [picks[2]], ref[None], bound=BOUND, context=CTX) == -1


def test_core_rejects_replay_tampering_and_out_of_range(ks):
    values = np.arange(-6, 6)
    ct, r = _blob(ks, values)
    picks = [(0, 1), (1, 1), (2, 0)]
    m = [values[b * K + j] for b, j in picks]
    proofs = rp.prove_slots(ks.public, ct, picks, m, r[[0, 1, 2]], bound=BOUND, context=CTX)
    verify = lambda p=proofs, **kw: rp.verify_slots(ks.public, ct, kw.get("picks", picks), p, bound=BOUND,
                                                    context=kw.get("context", CTX))
    assert verify() == -1
    assert verify(context=CTX + b"!") == 0  # another round or sender
    assert verify(picks=[(0, 2), (1, 1), (2, 0)]) == 0  # another slot
    tampered = proofs.copy()
    tampered[2, -1] ^= 1  # z1 of the last bit of pick 2
    assert verify(tampered) == 2
    with pytest.raises(ValueError, match="pick 1 .*outside"):
        rp.prove_slots(ks.public, ct, picks, [m[0], 40, m[2]], r[[0, 1, 2]], bound=BOUND, context=CTX)


def test_core_prover_on_a_wrong_claim_produces_a_failing_proof(ks):
    """Claiming another in-range value than the slot holds (or a wrong nonce) never verifies."""
    values = np.zeros(12, np.int64)
    values[5] = 20
    ct, r = _blob(ks, values)
    pick = [(1, 1)]
    lie = rp.prove_slots(ks.public, ct, pick, [3], r[[1]], bound=BOUND, context=CTX)
    assert rp.verify_slots(ks.public, ct, pick, lie, bound=BOUND, context=CTX) == 0
    wrong_nonce = rp.prove_slots(ks.public, ct, pick, [20], r[[0]], bound=BOUND, context=CTX)
    assert rp.verify_slots(ks.public, ct, pick, wrong_nonce, bound=BOUND, context=CTX) == 0
    honest = rp.prove_slots(ks.public, ct, pick, [20], r[[1]], bound=BOUND, context=CTX)
    assert rp.verify_slots(ks.public, ct, pick, honest, bound=BOUND, context=CTX) == -1


def test_bits_for_bound_is_bitlen_of_2b():
    for bound in (1, 2, 3, 31, 32, 2**16, 2**20 - 1, 2**20):
        bits = rp.bits_for_bound(bound)
        assert 2 ** (bits - 1) <= 2 * bound < 2**bits  # 2B + 1 values need exactly these bits
    assert rp.bits_for_bound(2**16) == 18
    assert rp.bits_for_bound(rp.MAX_BOUND) == rp.MAX_BITS
    for bad in (0, -1):
        with pytest.raises(ValueError, match=">= 1"):
            rp.bits_for_bound(bad)
    with pytest.raises(ValueError, match="at most"):
        rp.bits_for_bound(rp.MAX_BOUND + 1)


def _representable(bound: int) -> set[int]:
    weights = rp.bit_weights(bound)
    return {sum(w for w, b in zip(weights, bits, strict=True) if b) for bits in itertools.product((0, 1),
                                                                                                repeat=len(weights))}


@pytest.mark.parametrize("bound", [*range(1, 70), 127, 128, 255, 256, 511, 2**10 - 1])
def test_every_bit_string_lands_in_range_and_every_value_has_one(bound):
    """Exhaustive: the weights represent exactly [0, 2B] for every small B, including the edges
    B = 2^k (2B a power of two: top weight 1) and B = 2^k - 1 (top weight 2^(L-1) - 1). 2B + 1 is
    odd, so it is a power of two only for B = 0, which is refused (test_bits_for_bound_is_bitlen_of_2b)."""
    assert _representable(bound) == set(range(2 * bound + 1))
    for x in range(2 * bound + 1):
        bits = rp.decompose(x, bound)
        assert set(bits) <= {0, 1} and sum(w * b for w, b in zip(rp.bit_weights(bound), bits, strict=True)) == x
    for x in (-1, 2 * bound + 1):
        with pytest.raises(ValueError, match="outside"):
            rp.decompose(x, bound)


@settings(max_examples=200, deadline=None)
@given(bound=st.integers(1, rp.MAX_BOUND), data=st.data())
def test_the_decomposition_is_exact_for_large_bounds(bound, data):
    """Property: the weights' extremes are 0 and 2B, all weights are positive and the low ones
    are powers of two (so the sums are contiguous), and any x in [0, 2B] decomposes into bits."""
    weights = rp.bit_weights(bound)
    assert len(weights) == rp.bits_for_bound(bound) and sum(weights) == 2 * bound
    assert weights[:-1] == [1 << i for i in range(len(weights) - 1)] and 1 <= weights[-1] <= 1 << (len(weights) - 1)
    x = data.draw(st.one_of(st.integers(0, 2 * bound), st.sampled_from([0, 2 * bound, 1 << (len(weights) - 1)])
                            .filter(lambda v: v <= 2 * bound)))
    bits = rp.decompose(x, bound)
    assert set(bits) <= {0, 1} and sum(w * b for w, b in zip(weights, bits, strict=True)) == x


@pytest.mark.parametrize("bound", [1, 2, 3, 4, BOUND, 32, 2**20, rp.MAX_BOUND])
def test_core_prover_covers_every_bit_width_and_extreme_values(ks, bound):
    values = np.array([-bound, bound, 0, -1] * 3)[: 3 * K]
    ct, r = _blob(ks, values)
    picks = [(b, j) for b in range(3) for j in range(K)]
    m = [values[b * K + j] for b, j in picks]
    proofs = rp.prove_slots(ks.public, ct, picks, m, r[[b for b, _ in picks]], bound=bound, context=CTX)
    assert rp.verify_slots(ks.public, ct, picks, proofs, bound=bound, context=CTX) == -1
    keys, pts = _keys(ks), ct._points.reshape(ct.num_blocks, K + 1, 64)
    bits = rp.bits_for_bound(bound)
    for pick in (0, 1):
        b, j = picks[pick]
        st_ = rp.RangeStatement(keys[j], rp.point_from_bytes(pts[b, 0].tobytes()),
                                rp.point_from_bytes(pts[b, j + 1].tobytes()), bound, CTX, b, j)
        assert rp.verify_range(st_, rp.RangeProof.from_bytes(proofs[pick].tobytes(), bits))
    with pytest.raises(ValueError, match="outside"):
        rp.prove_slots(ks.public, ct, picks[:1], [bound + 1], r[[0]], bound=bound, context=CTX)


@pytest.mark.parametrize("threads", [1, 2])
def test_core_batches_across_chunks_and_threads_and_names_the_bad_proof(ks, threads):
    """101 slots (prover chunks of 4, a remainder; a verifier batch whose 128-bit weights skew
    the top Pippenger window into few buckets): all verify, one tampered proof is named."""
    rng = np.random.default_rng(5)
    values = rng.integers(-BOUND, BOUND + 1, size=26 * K)
    ct, r = _blob(ks, values, nblocks=26)
    flat = rng.choice(len(values), 101, replace=False)
    picks = np.stack([flat // K, flat % K], axis=1)
    proofs = rp.prove_slots(ks.public, ct, picks, values[flat], r[picks[:, 0]], bound=BOUND, context=CTX,
                            threads=threads)
    assert rp.verify_slots(ks.public, ct, picks, proofs, bound=BOUND, context=CTX, threads=threads) == -1
    tampered = proofs.copy()
    tampered[57, 200] ^= 1  # a bit commitment of pick 57
    assert rp.verify_slots(ks.public, ct, picks, tampered, bound=BOUND, context=CTX, threads=threads) == 57
    with pytest.raises(ValueError, match="pick 99 "):
        bad = values[flat].copy()
        bad[99] = 32
        rp.prove_slots(ks.public, ct, picks, bad, r[picks[:, 0]], bound=BOUND, context=CTX, threads=threads)


@settings(max_examples=15, deadline=None)
@given(data=st.data(), bound=st.integers(1, 200))
def test_core_proofs_of_any_in_range_values_verify_in_both_implementations(ks, data, bound):
    """Property: for any bound and any in-range values (extremes included), the constant-time
    core's proofs pass its own batch verifier and, for one of them, the Python reference."""
    values = np.array(data.draw(st.lists(st.integers(-bound, bound), min_size=K, max_size=K)))
    ct, r = _blob(ks, values, nblocks=1)
    picks = [(0, j) for j in range(K)]
    proofs = rp.prove_slots(ks.public, ct, picks, values, r[[0] * K], bound=bound, context=CTX)
    assert rp.verify_slots(ks.public, ct, picks, proofs, bound=bound, context=CTX) == -1
    j = data.draw(st.integers(0, K - 1))
    pts = ct._points.reshape(1, K + 1, 64)
    st_ = rp.RangeStatement(_keys(ks)[j], rp.point_from_bytes(pts[0, 0].tobytes()),
                            rp.point_from_bytes(pts[0, j + 1].tobytes()), bound, CTX, 0, j)
    assert rp.verify_range(st_, rp.RangeProof.from_bytes(proofs[j].tobytes(), rp.bits_for_bound(bound)))


def test_core_verifier_rejects_malformed_proofs_and_the_binding_checks_its_arguments(ks):
    """A scalar >= n, a point off the curve or at infinity, anywhere in a proof: that proof fails
    (named), nothing crashes; a bound outside 1..2^47 - 1 or a wrong row width is a ValueError."""
    values = np.arange(-6, 6)
    ct, r = _blob(ks, values)
    picks = [(0, 1), (1, 2), (2, 3)]
    m = [values[b * K + j] for b, j in picks]
    proofs = rp.prove_slots(ks.public, ct, picks, m, r[[0, 1, 2]], bound=BOUND, context=CTX)
    verify = lambda p: rp.verify_slots(ks.public, ct, picks, p, bound=BOUND, context=CTX)  # noqa: E731
    assert verify(proofs) == -1
    link = 288 * BITS  # offset of T1
    for row, (start, end, fill) in enumerate([
            (64 * BITS + 128, 64 * BITS + 160, 0xFF),  # bit 0's c0 >= n
            (link + 192, link + 224, 0xFF),  # s_r >= n
            (0, 64, 0x00)]):  # Com_0 at infinity
        bad = proofs.copy()
        bad[row, start:end] = fill
        assert verify(bad) == row
    off_curve = proofs.copy()
    off_curve[1, link + 63] ^= 1  # T1's y
    assert verify(off_curve) == 1
    with pytest.raises(ValueError, match="bound"):
        rp.verify_slots(ks.public, ct, picks, proofs, bound=0, context=CTX)
    with pytest.raises(ValueError, match="proofs must be"):
        fc._ec.range_verify(CTX, *rp._slot_arrays(ks.public, ct, picks)[:3], proofs[:, :-1],
                            *rp._slot_arrays(ks.public, ct, picks)[3:], BOUND, 1)


@pytest.mark.parametrize("scalar_only", [False, True], ids=["wide", "scalar"])
def test_core_proofs_agree_on_the_eight_lane_and_the_scalar_batches(ks, scalar_only):
    """The prover's batched additions run on IFMA lanes where the CPU has them: proofs made on
    either kernel pass the core's verifier (on either) and the Python reference."""
    rng = np.random.default_rng(7)
    values = rng.integers(-BOUND, BOUND + 1, size=8 * K)
    ct, r = _blob(ks, values, nblocks=8)
    picks = np.stack([np.arange(8), np.arange(8) % K], axis=1)  # 8 slots: two chunks, >= 16 additions
    m = values[picks[:, 0] * K + picks[:, 1]]
    fc._ec._ifma_set_scalar_only(scalar_only)
    try:
        proofs = rp.prove_slots(ks.public, ct, picks, m, r[picks[:, 0]], bound=BOUND, context=CTX)
    finally:
        fc._ec._ifma_set_scalar_only(False)
    fc._ec._ifma_set_scalar_only(not scalar_only)
    try:
        assert rp.verify_slots(ks.public, ct, picks, proofs, bound=BOUND, context=CTX) == -1
    finally:
        fc._ec._ifma_set_scalar_only(False)
    b, j = picks[5]
    pts = ct._points.reshape(ct.num_blocks, K + 1, 64)
    st_ = rp.RangeStatement(_keys(ks)[j], rp.point_from_bytes(pts[b, 0].tobytes()),
                            rp.point_from_bytes(pts[b, j + 1].tobytes()), BOUND, CTX, int(b), int(j))
    assert rp.verify_range(st_, rp.RangeProof.from_bytes(proofs[5].tobytes(), BITS))
