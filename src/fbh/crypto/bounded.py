"""Exact two-sided range proofs ``|m| <= B`` on picked slots of a packed blob, and the encryption
that keeps what the prover needs (the block nonces).

:mod:`fbh.crypto.range_proof` proves ``m in [-2^(L-1), 2^(L-1))``: a power of two. A hospital's
public range ``B`` is not one (it follows from its FedAvg weight), and rounding it up would let a
hospital inflate its contribution by up to 2x. So each picked slot gets two proofs on the same
ciphertext shifted by public constants (``C_j + t G`` encrypts ``m + t`` under the same nonce):

* upper: ``t_u = 2^(L-1) - 1 - B``, and ``m + t_u < 2^(L-1)`` gives ``m <= B``;
* lower: ``t_l = B - 2^(L-1)``, and ``m + t_l >= -2^(L-1)`` gives ``m >= -B``;

with the smallest L such that ``2^(L-1) > B``. Soundness is that of the two bit-decomposition
proofs (module docstring of :mod:`fbh.crypto.range_proof`); the shift is public, so zero knowledge
is unchanged. Both proofs bind the caller's context, the *true* block index and slot, the key and
the shifted ciphertext, so a proof replayed at another coordinate, round or sender fails.

References:
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

__all__ = ["bits_for", "encrypt_provable", "proof_bytes", "prove_bounded", "verify_bounded"]

_UPPER, _LOWER = b"upper", b"lower"


def bits_for(bound: int) -> int:
    """The smallest L with ``2^(L-1) > bound``: each one-sided proof then covers ``[-B, B]``."""
    return rp.bits_for_bound(bound)


def proof_bytes(bound: int) -> int:
    """Bytes of the two proofs for one slot."""
    return 2 * rp.proof_bytes(bits_for(bound))


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


def _shifted_rows(pub, ct, picks, shift: int):
    """The C++ core's statement rows for the picked slots, ciphertexts shifted by ``shift * G``."""
    keys, rs, cs, blocks, slots = rp._slot_arrays(pub, ct, picks)
    tg = rp.point_mul(shift, rp.G)
    shifted = np.array([np.frombuffer(rp.point_bytes(rp.point_add(rp.point_from_bytes(row.tobytes()), tg)),
                                      np.uint8) for row in cs], np.uint8).reshape(-1, 64)
    return keys, rs, np.ascontiguousarray(shifted), blocks, slots


def _shifts(bound: int) -> tuple[int, int, int]:
    bits = bits_for(bound)
    half = 1 << (bits - 1)
    return bits, half - 1 - bound, bound - half


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
      bound: B.
      context: the caller's context (chain, contract, round, sender, stage).

    Returns:
      ``uint8[S, proof_bytes(bound)]``: the upper proof, then the lower one, per slot.

    Raises:
      ValueError: a value outside ``[-B, B]`` (an honest prover never sees this).
    """
    picks = _picks(indices, ct.k)
    m = np.asarray(values, np.int64).reshape(-1)
    bad = np.flatnonzero(np.abs(m) > bound)
    if bad.size:
        msg = f"value at position {int(np.asarray(indices).reshape(-1)[bad[0]])} is outside +-{bound}"
        raise ValueError(msg)
    r = np.ascontiguousarray(np.asarray(nonces, np.uint8)[picks[:, 0]])
    bits, t_up, t_low = _shifts(bound)
    out = []
    for tag, shift in ((_UPPER, t_up), (_LOWER, t_low)):
        keys, rs, cs, blocks, slots = _shifted_rows(pub, ct, picks, shift)
        proofs, fail = _ec.range_prove(pub._core, bytes(context) + tag, keys, rs, cs, m + shift, r, blocks, slots,
                                       bits, resolve_threads(threads))
        if fail >= 0:
            msg = f"pick {fail}: shifted value outside the {bits}-bit range"
            raise ValueError(msg)
        out.append(proofs)
    return np.ascontiguousarray(np.concatenate(out, axis=1))


def verify_bounded(pub: PublicKeySet, ct: PackedCiphertexts, indices, proofs, *, bound: int, context: bytes,
                   threads: int | None = None) -> int:
    """Check :func:`prove_bounded`'s proofs (batched); returns -1, or a failing position of ``indices``."""
    picks = _picks(indices, ct.k)
    bits, t_up, t_low = _shifts(bound)
    one = rp.proof_bytes(bits)
    proofs = np.asarray(proofs, np.uint8)
    if proofs.shape != (picks.shape[0], 2 * one):
        return 0
    for part, (tag, shift) in enumerate(((_UPPER, t_up), (_LOWER, t_low))):
        keys, rs, cs, blocks, slots = _shifted_rows(pub, ct, picks, shift)
        bad = int(_ec.range_verify(bytes(context) + tag, keys, rs, cs,
                                   np.ascontiguousarray(proofs[:, part * one:(part + 1) * one]), blocks, slots,
                                   bits, resolve_threads(threads)))
        if bad >= 0:
            return bad
    return -1
