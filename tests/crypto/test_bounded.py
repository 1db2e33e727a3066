"""Exact two-sided range proofs |m| <= B on picked slots of a packed blob (fbh.crypto.bounded)."""

from __future__ import annotations

import numpy as np
import pytest

from fbh import crypto as fc
from fbh.crypto import bounded
from fbh.crypto import range_proof as rp

K = 4
CTX = b"chain 1337 | contract 0xabc | round 3 | sender 0xdef | sample"


@pytest.fixture(scope="module")
def ks():
    return fc.KeySet.generate(k=K)


@pytest.mark.parametrize("bound", [1, 5, 37, 64])
def test_exactly_minus_b_to_b_is_provable(ks, bound):
    """-B and B pass (no slack lost), B + 1 and -B - 1 cannot be proven: the range is not rounded
    up to a power of two (the old two-proof scheme's reason to exist)."""
    values = np.array([-bound, bound, 0, 1, bound + 1, -bound - 1, 0, 0], np.int64)
    ct, nonces = bounded.encrypt_provable(ks.public, values, context=CTX, constant_time=False)
    ok = np.arange(4)
    proofs = bounded.prove_bounded(ks.public, ct, ok, values[ok], nonces, bound=bound, context=CTX)
    assert proofs.shape == (4, bounded.proof_bytes(bound)) and (proofs[:, 0] == bounded.FORMAT).all()
    assert bounded.proof_bytes(bound) == 1 + rp.proof_bytes(rp.bits_for_bound(bound))
    assert bounded.verify_bounded(ks.public, ct, ok, proofs, bound=bound, context=CTX) == -1
    for pos in (4, 5):
        with pytest.raises(ValueError, match=f"position {pos} is outside"):
            bounded.prove_bounded(ks.public, ct, [pos], values[[pos]], nonces, bound=bound, context=CTX)
        # A prover that claims an in-range value for it produces a proof that fails.
        lie = bounded.prove_bounded(ks.public, ct, [pos], [bound], nonces, bound=bound, context=CTX)
        assert bounded.verify_bounded(ks.public, ct, [pos], lie, bound=bound, context=CTX) == 0
        # Its own value does pass under the next bound up: the failure is the range, not the proof.
        own = bounded.prove_bounded(ks.public, ct, [pos], values[[pos]], nonces, bound=bound + 1, context=CTX)
        assert bounded.verify_bounded(ks.public, ct, [pos], own, bound=bound + 1, context=CTX) == -1


def test_proofs_are_bound_to_context_position_and_bound(ks):
    values = np.array([3, -3, 3, -3, 3, -3, 3, -3], np.int64)
    ct, nonces = bounded.encrypt_provable(ks.public, values, context=CTX, constant_time=False)
    idx = np.array([1, 6])
    proofs = bounded.prove_bounded(ks.public, ct, idx, values[idx], nonces, bound=10, context=CTX)
    verify = lambda **kw: bounded.verify_bounded(ks.public, ct, kw.get("idx", idx), proofs,  # noqa: E731
                                                 bound=kw.get("bound", 10), context=kw.get("context", CTX))
    assert verify() == -1
    assert verify(context=CTX.replace(b"round 3", b"round 4")) == 0
    assert verify(context=CTX.replace(b"0xdef", b"0xfed")) == 0
    assert verify(idx=np.array([3, 6])) == 0  # same value (-3), another slot and block
    assert verify(bound=11) == 0  # another hospital's (or round's) bound


def test_old_and_malformed_proofs_get_a_clear_error(ks):
    values = np.arange(-4, 4, dtype=np.int64)
    ct, nonces = bounded.encrypt_provable(ks.public, values, context=CTX, constant_time=False)
    idx = np.array([0, 7])
    proofs = bounded.prove_bounded(ks.public, ct, idx, values[idx], nonces, bound=9, context=CTX)
    assert bounded.format_error(proofs, 9) is None
    bits = rp.bits_for_bound(9)
    v1 = np.zeros((2, 2 * (128 * (bits - 1) + 352 * bits)), np.uint8)  # two one-sided proofs per slot
    v2 = np.full((2, 1 + 128 * (bits - 1) + 352 * bits), 2, np.uint8)  # ElGamal bit encryptions
    for old, version in ((v1, 1), (v2, 2)):
        assert f"format v{version} " in bounded.format_error(old, 9)
        assert bounded.verify_bounded(ks.public, ct, idx, old, bound=9, context=CTX) == 0
    future = proofs.copy()
    future[1, 0] = 9
    assert "format v9" in bounded.format_error(future, 9)
    assert bounded.verify_bounded(ks.public, ct, idx, future, bound=9, context=CTX) == 0
    assert "bytes" in bounded.format_error(proofs[:, :-1], 9)
    assert ">= 1" in bounded.format_error(proofs, 0)
    with pytest.raises(ValueError, match=">= 1"):
        bounded.prove_bounded(ks.public, ct, idx, [0, 0], nonces, bound=0, context=CTX)
