"""Exact two-sided range proofs ``|m| <= B`` on picked slots of a packed blob, and the encryption
that keeps what the prover needs (the block nonces).

A hospital's public range ``B`` is not a power of two (it follows from its FedAvg weight), and
rounding it up would let a hospital inflate its contribution by up to 2x. Each picked slot gets
**one** proof of :mod:`fbh.crypto.range_proof` that the slot holds ``m in [-B, B]`` exactly: it
decomposes ``m + B in [0, 2B]`` into bits whose top weight is adjusted so that every bit string
lands in ``[0, 2B]`` and every value there has one (Schoenmakers 2005; the soundness argument is
in that module's docstring). The proof binds the caller's context, the *true* block index and
slot, the bound, the key and the ciphertext, so a proof replayed at another coordinate, round,
sender or bound fails.

Wire format: each slot's row is one format byte (:data:`FORMAT`, 3: Pedersen bit commitments)
and the proof. Older rows are recognised and refused by name (:func:`format_error`): format 1
(two one-sided power-of-two proofs per slot, no format byte) and format 2 (one exact proof with
ElGamal bit encryptions, ``1 + 128 (L - 1) + 352 L`` bytes).

References:
  B. Schoenmakers, "Interval proofs revisited", 2005 (non-power-of-two ranges);
  J. Benaloh, M. Naehrig, "ElectionGuard Design Specification 2.0", 2023 (range proofs);
  R. Cramer, I. Damgård, B. Schoenmakers, CRYPTO 1994 (OR-proofs).
"""

from __future__ import annotations

import secrets

import numpy as np

from fbh.crypto import _ec
from fbh.crypto import range_proof as rp
from fbh.crypto._common import resolve_threads
from fbh.crypto.keyset import PublicKeySet
from fbh.crypto.packed import PackedCiphertexts, num_blocks
from fbh.crypto.packed_ops import encrypt_packed

__all__ = ["FORMAT", "bits_for", "encrypt_provable", "format_error", "proof_bytes", "prove_bounded",
           "verify_bounded"]

FORMAT = rp.FORMAT


def _old_widths(bits: int) -> dict[int, int]:
    """Row width of each older format at L bits (v1: two proofs, no format byte; v2: one proof)."""
    one = 128 * (bits - 1) + 352 * bits  # ElGamal bit encryptions with 4-point CDS proofs
    return {2 * one: 1, 1 + one: 2}


def bits_for(bound: int) -> int:
    """The bits each slot's proof decomposes ``m + B`` into: ``bitlen(2B)``."""
    return rp.bits_for_bound(bound)


def proof_bytes(bound: int) -> int:
    """Bytes of one slot's row: the format byte and the proof."""
    return 1 + rp.proof_bytes(bits_for(bound))


def format_error(proofs, bound: int) -> str | None:
    """None if ``proofs`` are rows of this format for ``bound``; else what they are instead."""
    proofs = np.asarray(proofs)
    try:
        bits_for(bound)
    except ValueError as e:
        return str(e)
    if proofs.ndim != 2 or proofs.dtype != np.uint8:
        return "range proofs must be a uint8[S, bytes] array"
    width = proofs.shape[1]
    old = _old_widths(bits_for(bound)).get(width)
    if old is not None:
        return f"range proofs are format v{old} (an older fbh's); this fbh reads format v{FORMAT} only"
    if width != proof_bytes(bound):
        return f"range proof rows are {width} bytes; format v{FORMAT} at bound {bound} takes {proof_bytes(bound)}"
    versions = np.unique(proofs[:, 0]) if proofs.shape[0] else np.array([FORMAT])
    if versions.tolist() != [FORMAT]:
        return f"range proofs name format v{int(versions[versions != FORMAT][0])}; this fbh reads v{FORMAT} only"
    return None


def encrypt_provable(pub: PublicKeySet, values, *, context: bytes, constant_time: bool = True,
                     threads: int | None = None) -> tuple[PackedCiphertexts, np.ndarray]:
    """:func:`encrypt_packed` with nonces drawn here (OS CSPRNG), kept for later range proofs.

    Returns:
      ``(ct, r)``: the blob and ``uint8[blocks, 32]``, each block's nonce r (big-endian). ``r`` is
      secret: whoever holds it can decrypt the blob; keep it only until the round is decided.
    """
    nblocks = num_blocks(np.asarray(values).shape[0], pub.k)
    # rows 0..nblocks-1: the block nonces r; the last row: the blob proof's nonce (format v3)
    nonces = np.frombuffer(secrets.token_bytes(32 * (nblocks + 1)), np.uint8).reshape(nblocks + 1, 32).copy()
    nonces[:, 0] &= 0x7F  # below 2^255 < n ...
    nonces[:, 31] |= 1  # ... and never zero
    ct = encrypt_packed(pub, values, context=context, constant_time=constant_time, threads=threads,
                        _nonces=nonces)
    return ct, np.ascontiguousarray(nonces[:nblocks])


def _picks(indices, k: int) -> np.ndarray:
    idx = np.asarray(indices, np.int64).reshape(-1)
    return np.stack([idx // k, idx % k], axis=1)


def prove_bounded(pub: PublicKeySet, ct: PackedCiphertexts, indices, values, nonces, *, bound: int,
                  context: bytes, threads: int | None = None) -> np.ndarray:
    """Prove ``|m_i| <= bound`` for the values at flat ``indices`` of ``ct`` (constant time in secrets).

    Args:
      pub: the key set ``ct`` was encrypted under.
      ct: the prover's own blob.
      indices: S flat value positions (padding positions allowed: their value is 0).
      values: int64[S], the values there.
      nonces: ``uint8[blocks, 32]`` from :func:`encrypt_provable`.
      bound: B >= 1.
      context: the caller's context (chain, contract, round, sender, stage).

    Returns:
      ``uint8[S, proof_bytes(bound)]``: per slot, the format byte and the proof.

    Raises:
      ValueError: a value outside ``[-B, B]`` (an honest prover never sees this).
    """
    bits_for(bound)  # a clear message for a bound < 1 or too large
    picks = _picks(indices, ct.k)
    m = np.asarray(values, np.int64).reshape(-1)
    bad = np.flatnonzero(np.abs(m) > bound)
    if bad.size:
        msg = f"value at position {int(np.asarray(indices).reshape(-1)[bad[0]])} is outside +-{bound}"
        raise ValueError(msg)
    r = np.ascontiguousarray(np.asarray(nonces, np.uint8)[picks[:, 0]])
    keys, rs, cs, blocks, slots = rp._slot_arrays(pub, ct, picks)
    proofs, fail = _ec.range_prove(pub._core, bytes(context), keys, rs, cs, m, r, blocks, slots,
                                   int(bound), resolve_threads(threads))
    if fail >= 0:
        msg = f"pick {fail}: value outside +-{bound}"
        raise ValueError(msg)
    head = np.full((proofs.shape[0], 1), FORMAT, np.uint8)
    return np.ascontiguousarray(np.concatenate([head, proofs], axis=1))


def verify_bounded(pub: PublicKeySet, ct: PackedCiphertexts, indices, proofs, *, bound: int, context: bytes,
                   threads: int | None = None) -> int:
    """Check :func:`prove_bounded`'s proofs (batched); returns -1, or a failing position of ``indices``
    (0 for rows of another format or shape: :func:`format_error` says which)."""
    picks = _picks(indices, ct.k)
    proofs = np.asarray(proofs)
    if proofs.shape[:1] != (picks.shape[0],) or format_error(proofs, bound) is not None:
        return 0
    keys, rs, cs, blocks, slots = rp._slot_arrays(pub, ct, picks)
    return int(_ec.range_verify(bytes(context), keys, rs, cs, np.ascontiguousarray(proofs[:, 1:]), blocks, slots,
                                int(bound), resolve_threads(threads)))
