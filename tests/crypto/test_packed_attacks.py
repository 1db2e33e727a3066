"""Every malleability attack on packed blobs is rejected by verify(), and related keys leak.

Regression tests for issue 7: with the v1 format an exact copy of another hospital's blob
was accepted; here a copy, a re-randomization, a splice, a reordering, a truncation, a replay
into another context, or one stolen block inside an otherwise honest blob each fails with
InvalidProof. One proof covers the whole blob (format v3), so the failure names the blob.
"""

from __future__ import annotations

import coincurve
import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import _ec
from fbh.crypto.packed import context_digest

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
ALICE = b"chain 1|contract 0xabc|round 3|sender alice"
MALLORY = b"chain 1|contract 0xabc|round 3|sender mallory"
FAILS = "proof of knowledge of its .* block nonces does not verify"


@pytest.fixture(scope="session")
def ks():
    return fc.KeySet.generate(k=4)


@pytest.fixture(scope="session")
def alice_blob(ks):
    return fc.encrypt_packed(ks.public, list(range(1, 11)), context=ALICE)


def forged(ct, points=None, proof=None, count=None, digest=None):
    """A blob assembled from (modified) parts, as an attacker would write it."""
    return fc.PackedCiphertexts(
        ct._points if points is None else points,
        ct._proof if proof is None else proof,
        count=ct.count if count is None else count,
        context_digest=ct.context_digest if digest is None else digest,
    )


def test_honest_blob_verifies(alice_blob):
    alice_blob.verify(ALICE)
    fc.PackedCiphertexts.from_bytes(alice_blob.to_bytes()).verify(ALICE, threads=2)


def test_exact_copy_submitted_by_another_sender_fails(alice_blob):
    copy = fc.PackedCiphertexts.from_bytes(alice_blob.to_bytes())
    with pytest.raises(fc.InvalidProof, match="another context"):
        copy.verify(MALLORY)
    # Rewriting the header's digest does not help: the proof is bound to Alice's context.
    relabeled = forged(alice_blob, digest=fc.context_digest(MALLORY))
    with pytest.raises(fc.InvalidProof, match=FAILS) as e:
        relabeled.verify(MALLORY)
    assert e.value.block is None


def test_replay_into_another_round_fails(alice_blob):
    with pytest.raises(fc.InvalidProof):
        alice_blob.verify(ALICE.replace(b"round 3", b"round 4"))


def test_rerandomized_blob_fails(ks, alice_blob):
    # Adding an encryption of zeros keeps the plaintexts (R' = R + tG, C' = C + tP) but the
    # attacker cannot make a proof for r + t without r.
    zeros = fc.encrypt_packed(ks.public, [0] * 10, context=MALLORY)
    rerand = alice_blob + zeros
    points = rerand._points
    for digest, ctx in ((alice_blob.context_digest, ALICE), (fc.context_digest(MALLORY), MALLORY)):
        for proof in (alice_blob._proof, zeros._proof):
            with pytest.raises(fc.InvalidProof, match=FAILS):
                forged(alice_blob, points=points, proof=proof, digest=digest).verify(ctx)


def test_modified_slot_fails(ks, alice_blob):
    # Shift one plaintext by adding G to one C_j: every R_i and the proof are unchanged, but
    # the transcript covers every point.
    points = np.array(alice_blob._points)
    c = coincurve.PublicKey(b"\x04" + points[1, 2].tobytes())
    g = coincurve.PublicKey.from_secret((1).to_bytes(32, "big"))
    points[1, 2] = np.frombuffer(coincurve.PublicKey.combine_keys([c, g]).format(False)[1:], np.uint8)
    with pytest.raises(fc.InvalidProof, match=FAILS):
        forged(alice_blob, points=points).verify(ALICE)


def test_spliced_blob_fails(ks, alice_blob):
    bob = fc.encrypt_packed(ks.public, [7] * 10, context=MALLORY)
    points = np.concatenate([alice_blob._points[:2], bob._points[2:]])
    for proof, ctx in ((alice_blob._proof, ALICE), (bob._proof, MALLORY)):
        with pytest.raises(fc.InvalidProof, match=FAILS):
            forged(alice_blob, points=points, proof=proof, digest=fc.context_digest(ctx)).verify(ctx)


def test_reordered_and_truncated_blobs_fail(alice_blob):
    order = [1, 0, 2]
    swapped = forged(alice_blob, points=alice_blob._points[order])
    with pytest.raises(fc.InvalidProof, match=FAILS):
        swapped.verify(ALICE)
    truncated = forged(alice_blob, points=alice_blob._points[:2], count=8)
    with pytest.raises(fc.InvalidProof, match=FAILS):
        truncated.verify(ALICE)


def test_proof_from_another_blob_fails(ks, alice_blob):
    other = fc.encrypt_packed(ks.public, list(range(1, 11)), context=ALICE)
    with pytest.raises(fc.InvalidProof, match=FAILS):
        forged(alice_blob, proof=other._proof).verify(ALICE)


def _point(p: np.ndarray) -> coincurve.PublicKey:
    return coincurve.PublicKey(b"\x04" + p.tobytes())


def _difference_leak(pub_bytes: bytes, ct: fc.PackedCiphertexts, delta: int) -> bytes:
    """C_1 - C_0 - delta R, computed by an eavesdropper who knows only delta."""
    r = _point(ct._points[0, 0])
    c0, c1 = _point(ct._points[0, 1]), _point(ct._points[0, 2])
    neg = (N - 1).to_bytes(32, "big")
    minus = [c0.multiply(neg), r.multiply((N - delta).to_bytes(32, "big"))]
    return coincurve.PublicKey.combine_keys([c1, *minus]).format()


def test_related_keys_leak_plaintext_differences():
    """Why slot keys must be independent: with P_1 = P_0 + delta G (s_1 = s_0 + delta, e.g.
    keys derived from one seed by adding a public offset), C_1 - C_0 = r delta G + (m_1 - m_0) G
    = delta R + (m_1 - m_0) G, so anyone who knows delta learns (m_1 - m_0) G and decodes the
    difference of two plaintexts without any secret key."""
    delta = 12345
    s0 = 0xC0FFEE
    p0 = coincurve.PublicKey.from_secret(s0.to_bytes(32, "big"))
    p1 = coincurve.PublicKey.from_secret((s0 + delta).to_bytes(32, "big"))
    related = fc.PublicKeySet.from_bytes(
        b"FBHK\x02\x00\x02\x00" + p0.format(False)[1:] + p1.format(False)[1:]
    )
    m0, m1 = 1000, 1042
    ct = fc.encrypt_packed(related, [m0, m1], context=b"x")
    diff_g = coincurve.PublicKey.from_secret((m1 - m0).to_bytes(32, "big")).format()
    assert _difference_leak(related.to_bytes(), ct, delta) == diff_g
    # The same computation against an independent key set gives nothing.
    independent = fc.KeySet.generate(k=2).public
    ct2 = fc.encrypt_packed(independent, [m0, m1], context=b"x")
    assert _difference_leak(independent.to_bytes(), ct2, delta) != diff_g


def _prove(ct: fc.PackedCiphertexts, context: bytes, nonces: list[int], a: int) -> np.ndarray:
    """The response an attacker computes for ct's points from the nonces it believes in."""
    digest = fc.context_digest(context)
    commit = coincurve.PublicKey.from_secret(a.to_bytes(32, "big")).format(False)[1:]
    seed = _ec._transcript_seed(digest, ct.k, ct.count, commit, ct._points.tobytes())
    e = [int.from_bytes(x, "big") for x in _ec._batch_coeffs(seed, 0, ct.num_blocks)]
    z = (a + sum(ei * ri for ei, ri in zip(e, nonces, strict=True))) % N
    return np.frombuffer(commit + z.to_bytes(32, "big"), np.uint8)


@pytest.mark.parametrize("stolen", [0, 777, 1499])
def test_one_stolen_block_among_many_fails(ks, stolen):
    """Mallory encrypts 1,500 blocks with nonces she knows, swaps in one block of Alice's and
    proves with her own nonce for it: the one proof covering all blocks fails. Her untouched
    blob, proved the same way, verifies (the attack is not failing for another reason)."""
    rng = np.random.default_rng(stolen)
    nonces = [int.from_bytes(rng.bytes(31), "big") + 1 for _ in range(1501)]
    nonce_rows = np.array([np.frombuffer(r.to_bytes(32, "big"), np.uint8) for r in nonces])
    values = np.arange(6000) % 1000
    mine = fc.encrypt_packed(ks.public, values, context=MALLORY, constant_time=False, _nonces=nonce_rows)
    mine.verify(MALLORY, threads=2)
    assert np.array_equal(_prove(mine, MALLORY, nonces[:-1], nonces[-1]), mine._proof)
    alice = fc.encrypt_packed(ks.public, values, context=ALICE, constant_time=False)
    points = np.array(mine._points)
    points[stolen] = alice._points[stolen]
    spliced = forged(mine, points=points, proof=np.zeros(96, np.uint8) + mine._proof)
    proof = _prove(spliced, MALLORY, nonces[:-1], nonces[-1])
    with pytest.raises(fc.InvalidProof, match=FAILS) as e:
        forged(spliced, proof=proof).verify(MALLORY, threads=2)
    assert e.value.block is None


def test_a_wrong_response_fails(ks, alice_blob):
    proof = np.array(alice_blob._proof)
    proof[-1] ^= 1  # z + 1 or z - 1: still a valid scalar, a wrong response
    with pytest.raises(fc.InvalidProof, match=FAILS):
        forged(alice_blob, proof=proof).verify(ALICE)



@pytest.mark.parametrize(("clients", "bad"), [(1, 0), (2, 1), (5, 0), (5, 3), (5, 4), (6, 5)])
def test_batched_verification_names_the_failing_blob(ks, clients, bad):
    # aggregate_packed(contexts=...) checks every proof in one call (transcripts hashed in
    # pairs, an odd one alone); one wrong response among them fails, and the error is the
    # failing blob's own.
    contexts = [b"round 3|sender %d" % c for c in range(clients)]
    blobs = [fc.encrypt_packed(ks.public, list(range(c, c + 37)), context=ctx)
             for c, ctx in enumerate(contexts)]
    total = fc.decrypt_packed(ks, fc.aggregate_packed(blobs, contexts=contexts))
    assert list(total) == [sum(c + i for c in range(clients)) for i in range(37)]
    proof = np.array(blobs[bad]._proof)
    proof[-1] ^= 1  # a wrong response
    blobs[bad] = forged(blobs[bad], proof=proof)
    digests = [context_digest(ctx) for ctx in contexts]
    for threads in (1, 2):
        found = _ec.packed_verify_many([b._points for b in blobs], [b._proof for b in blobs],
                                       digests, ks.k, 37, threads)
        assert found == bad
    with pytest.raises(fc.InvalidProof, match=FAILS):
        fc.aggregate_packed(blobs, contexts=contexts)
    blobs[bad] = blobs[(bad + 1) % clients] if clients > 1 else blobs[bad]
    if clients > 1:  # a copy of another sender's blob: refused for the copier's context
        with pytest.raises(fc.InvalidProof):
            fc.aggregate_packed(blobs, contexts=contexts)
