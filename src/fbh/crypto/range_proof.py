"""Zero-knowledge range proofs for one slot of a packed ciphertext block (reference implementation).

Statement. A packed block holds ``R = r G`` and ``C_j = r P_j + m_j G``. For slot j and a
public bound ``B >= 1`` the prover (the hospital that chose r) shows that ``m_j`` lies in
``[-B, B]`` *exactly* (no rounding of the range to a power of two) *as decrypted under the
published slot key* ``P_j``, without revealing anything else about ``m_j`` or r.

Construction (format v3): Pedersen bit commitments with one Cramer-Damgård-Schoenmakers
OR-proof per bit, and one linking proof per slot.

1. Arbitrary-range decomposition (Schoenmakers, "Interval proofs revisited", 2005; the same
   trick proves non-power-of-two ranges in the Bulletproofs literature): ``x = m + B``, and
   ``m in [-B, B]`` iff ``x in [0, 2B]``. With ``L = bitlen(2B)`` the bit weights are
   ``w_i = 2^i`` for ``i < L-1`` and ``w_(L-1) = 2B - (2^(L-1) - 1)``, and ``x = sum w_i b_i``.
   *Every* ``b in {0,1}^L`` gives ``x in [0, 2B]``: the low bits give ``[0, 2^(L-1) - 1]`` and the
   top one adds 0 or ``w_(L-1)``, so ``0 <= x <= 2^(L-1) - 1 + w_(L-1) = 2B``. *Every*
   ``x in [0, 2B]`` has such b: if ``x < 2^(L-1)`` its binary digits with ``b_(L-1) = 0``; else
   ``b_(L-1) = 1`` and the binary digits of ``x - w_(L-1)``, which lies in ``[0, 2^(L-1) - 1]``
   because ``1 <= w_(L-1) <= 2^(L-1) <= x <= 2B`` (``2^(L-1) <= 2B < 2^L`` by the choice of L).
   So the set proven is exactly ``[-B, B]``, with one proof per slot.
2. Bit commitments (Pedersen, CRYPTO 1991): ``Com_i = b_i G + rho_i H`` for fresh ``rho_i``,
   with H a nothing-up-my-sleeve generator (:func:`fbh.crypto.refcurve.hash_to_curve` of
   ``"FBH/range-v3/pedersen-H"``: nobody knows ``log_G H``). Perfectly hiding; binding as long as
   ``log_G H`` is unknown.
3. Per bit, a CDS OR-proof over the one base H that ``Com_i`` or ``Com_i - G`` is a multiple of
   H: ``(A_0, A_1, c_0, z_0, z_1)`` with ``c_1 = c - c_0`` and ``z_k H = A_k + c_k (Com_i - k G)``.
4. Linking, per slot: ``V = sum w_i Com_i - B G`` (the verifier computes it) must commit to the
   slot's plaintext. A proof of knowledge of ``(r, m, rho)`` with ``R = r G``,
   ``C_j = r P_j + m G`` and ``V = m G + rho H`` (a Schnorr/Okamoto sigma protocol over the
   three equations, shared witnesses r and m): ``(T_1, T_2, T_3, s_r, s_m, s_rho)``,
   ``s_r G = T_1 + e R``, ``s_r P_j + s_m G = T_2 + e C_j``, ``s_m G + s_rho H = T_3 + e V``.
   (Proving only ``C_j + B G - sum w_i Com_i = r P_j - rho H`` would not do: it leaves
   ``C_j - s_j R = (x - B) G + delta H`` for a ``delta`` of the prover's choosing, a plaintext
   the key holder cannot decode, so a cheater could encrypt garbage and still pass.)

Every check is a linear equation in public points (the A's and T's are sent), so a verifier
batches all of them, over all bits and slots, into one multi-scalar multiplication with random
128-bit weights (a false equation survives with probability ~2^-128).

Fiat-Shamir. ``h = SHA-256(tag || len-prefixed context || block || slot || B || P_j || R || C_j
|| Com_0 .. Com_(L-1))`` binds the caller's context (chain id, contract, round, sender: the same
bytes the packed proofs bind), the block index and slot, the bound, the key, the ciphertext and
every bit commitment; bit i's challenge is ``SHA-256(h || i || A_0 || A_1) mod n`` and the link's
``SHA-256(h || "link" || T_1 || T_2 || T_3) mod n``. A proof replayed under another context,
block, slot, bound, key or ciphertext fails. The tag names the format (v3; v2 used ElGamal bit
encryptions, v1 proved a power-of-two range with two proofs per slot).

Soundness. Special soundness of each OR-proof extracts ``b_i in {0, 1}`` and ``rho_i`` with
``Com_i = b_i G + rho_i H``, so ``V = (x - B) G + (sum w_i rho_i) H`` with ``x = sum w_i b_i in
[0, 2B]`` (step 1); that of the linking proof extracts ``(r, m, rho)`` with ``R = r G``,
``C_j = r P_j + m G`` and ``V = m G + rho H``. Two openings of V: unless ``m = x - B`` (and
``rho = sum w_i rho_i``) they give ``log_G H``. So ``C_j - s_j R = m G`` with ``m in [-B, B]``:
the value the holder of ``s_j`` decrypts is in range. A value encrypted under another key
cannot be proven: its plaintext under ``P_j`` is ``log_G(C_j - r P_j)``, unknown to the prover.
Zero knowledge (honest verifier, random oracle): the commitments are perfectly hiding and every
sigma protocol is simulatable. Soundness error per slot ``(L + 1) / n``.

Two implementations of one wire format: :func:`prove_slots` / :func:`verify_slots` run the C++
core (``csrc/range_prove.cpp``, ``csrc/range_proof.cpp``: constant-time prover with secrets
cleared, one batched multi-scalar multiplication for any number of proofs, GIL released,
threads); the rest of this module is the executable specification in plain Python integers
(variable time, for tests and cross-checks only: each implementation verifies the other's proofs).

The core prover needs no variable-base multiplication: it knows ``rho_i``, so the simulated
branch ``f = 1 - b_i``, normally ``z_f H - c_f (Com_i - f G)``, equals ``v H - (2 b_i - 1) c_f G``
with ``v = z_f - c_f rho_i``; drawing v and ``c_f`` uniformly (and answering
``z_f = v + c_f rho_i``) gives the same distribution as drawing ``z_f`` and ``c_f``. Per bit that
is 4 fixed-base multiplications (``rho_i H``, ``u_i H``, ``v_i H``, ``c_f G``), per slot 4 more
(``a G``, ``a P_j``, ``mu G``, ``beta H``), all through constant-time comb tables
(``csrc/range_prove.cpp`` states what is secret, what is public and what timing can depend on).

References:
  B. Schoenmakers, "Interval proofs revisited", Workshop on Frontiers in Electronic Elections,
  2005 (non-power-of-two ranges by one adjusted top weight); T. P. Pedersen, "Non-interactive and
  information-theoretic secure verifiable secret sharing", CRYPTO 1991 (commitments);
  R. Cramer, I. Damgård, B. Schoenmakers, "Proofs of partial knowledge and simplified design of
  witness hiding protocols", CRYPTO 1994; T. Okamoto, "Provably secure and practical
  identification schemes", CRYPTO 1992 (linking); J. Benaloh, M. Naehrig, "ElectionGuard Design
  Specification 2.0", 2023 (Section 3.3.5, range proofs); A. Fiat, A. Shamir, CRYPTO 1986.
"""

from __future__ import annotations

import dataclasses
import hashlib
import secrets
import struct
from collections.abc import Sequence

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import resolve_threads
from fbh.crypto.refcurve import (G, H_SEED, N_ORDER, P_FIELD, Point, hash_to_curve, lin, point_add, point_bytes,
                                 point_from_bytes, point_mul, point_neg)

__all__ = ["FORMAT", "H", "N_ORDER", "P_FIELD", "RangeProof", "RangeStatement", "bit_weights", "bits_for_bound",
           "decompose", "point_add", "point_bytes", "point_from_bytes", "point_mul", "point_neg", "prove_range",
           "prove_slots", "verify_range", "verify_ranges", "verify_slots"]

TAG = b"FBH/range-v3/pedersen-bits"
FORMAT = 3
MAX_BITS = 48
MAX_BOUND = 2 ** (MAX_BITS - 1) - 1  # 2B fits in MAX_BITS bits
H, _ = hash_to_curve(H_SEED)
_LINK = b"link"


@dataclasses.dataclass(frozen=True)
class RangeStatement:
    """What is proven about slot ``slot`` of block ``block``: ``C - r P`` is ``m G``, ``|m| <= bound``.

    Attributes:
      key: the slot's public key P_j.
      r_point: the block's ``R = r G``.
      c_point: the slot's ``C_j``.
      bound: B >= 1; the range is ``[-B, B]``.
      context: the caller's context bytes (chain id, contract, round, sender).
      block, slot: where the ciphertext sits in the blob.
    """

    key: Point
    r_point: Point
    c_point: Point
    bound: int
    context: bytes
    block: int
    slot: int

    def __post_init__(self) -> None:
        bits_for_bound(self.bound)  # validates

    @property
    def bits(self) -> int:
        return bits_for_bound(self.bound)


@dataclasses.dataclass(frozen=True)
class RangeProof:
    """Bit commitments ``Com_i``, per bit ``(A0, A1, c0, z0, z1)``, and the link ``(T1, T2, T3, s_r, s_m, s_rho)``.

    ``c1 = challenge - c0`` is not sent. The wire form (:meth:`to_bytes`) is the C++ core's:
    the L commitments, then the L bit proofs (224 bytes each), then the link (288 bytes).
    """

    commitments: tuple[Point, ...]
    cds: tuple[tuple[Point, Point, int, int, int], ...]
    link: tuple[Point, Point, Point, int, int, int]

    def to_bytes(self) -> bytes:
        out = [point_bytes(p) for p in self.commitments]
        for a0, a1, c0, z0, z1 in self.cds:
            out += [point_bytes(a0), point_bytes(a1)] + [v.to_bytes(32, "big") for v in (c0, z0, z1)]
        *ts, s_r, s_m, s_rho = self.link
        out += [point_bytes(t) for t in ts] + [v.to_bytes(32, "big") for v in (s_r, s_m, s_rho)]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, bits: int) -> RangeProof:
        if len(data) != proof_bytes(bits):
            msg = f"a {bits}-bit range proof is {proof_bytes(bits)} bytes, got {len(data)}"
            raise ValueError(msg)
        pt = lambda off: point_from_bytes(data[off: off + 64])  # noqa: E731
        sc = lambda off: int.from_bytes(data[off: off + 32], "big")  # noqa: E731
        commitments = tuple(pt(64 * i) for i in range(bits))
        off = 64 * bits
        cds = []
        for _ in range(bits):
            cds.append((pt(off), pt(off + 64), sc(off + 128), sc(off + 160), sc(off + 192)))
            off += 224
        link = (pt(off), pt(off + 64), pt(off + 128), sc(off + 192), sc(off + 224), sc(off + 256))
        return cls(commitments, tuple(cds), link)


def bits_for_bound(bound: int) -> int:
    """``L = bitlen(2B)``, the number of bits a proof of ``|m| <= B`` decomposes ``m + B`` into.

    Proving and the proof's size are linear in L, so a hospital whose public bound ``B_c`` is
    2^16 proves 18 bits, not the 21 of the whole decoder range.
    """
    bound = int(bound)
    if bound < 1:
        msg = f"a range proof's bound is >= 1, got {bound}"
        raise ValueError(msg)
    if bound > MAX_BOUND:
        msg = f"bound {bound} needs {(2 * bound).bit_length()} bits; range proofs take at most {MAX_BITS}"
        raise ValueError(msg)
    return (2 * bound).bit_length()


def bit_weights(bound: int) -> list[int]:
    """``w_i``: ``2^i`` below the top bit, ``2B - (2^(L-1) - 1)`` for the top one (module docstring)."""
    bits = bits_for_bound(bound)
    return [1 << i for i in range(bits - 1)] + [2 * bound - (1 << (bits - 1)) + 1]


def decompose(x: int, bound: int) -> list[int]:
    """The bits b with ``sum w_i b_i = x`` for ``x in [0, 2B]`` (ValueError outside)."""
    if not 0 <= x <= 2 * bound:
        msg = f"{x} is outside [0, {2 * bound}]"
        raise ValueError(msg)
    weights = bit_weights(bound)
    top = int(x >> (len(weights) - 1))
    low = x - top * weights[-1]
    return [(low >> i) & 1 for i in range(len(weights) - 1)] + [top]


def proof_bytes(bits: int) -> int:
    """Bytes of one slot's proof: L commitments and L bit proofs (64 + 224 bytes each), one link (288)."""
    return 288 * (bits + 1)


def _statement_hash(st: RangeStatement, commitments) -> bytes:
    h = hashlib.sha256(TAG)
    h.update(struct.pack(">Q", len(st.context)) + st.context)
    h.update(struct.pack(">QQQ", st.block, st.slot, st.bound))
    for p in (st.key, st.r_point, st.c_point, *commitments):
        h.update(point_bytes(p))
    return h.digest()


def _challenge(h: bytes, label: bytes, *points: Point) -> int:
    data = h + label + b"".join(point_bytes(p) for p in points)
    return int.from_bytes(hashlib.sha256(data).digest(), "big") % N_ORDER


def _bit_challenge(h: bytes, i: int, a0: Point, a1: Point) -> int:
    return _challenge(h, struct.pack(">Q", i), a0, a1)


def _link_point(st: RangeStatement, commitments) -> Point:
    """``V = sum w_i Com_i - B G``."""
    return lin(*zip(bit_weights(st.bound), commitments, strict=True), (-st.bound, G))


def _nonce() -> int:
    return 1 + secrets.randbelow(N_ORDER - 1)


def prove_range(st: RangeStatement, value: int, nonce: int) -> RangeProof:
    """Prove that ``st.c_point - nonce * st.key`` is ``value * G`` with ``|value| <= st.bound``.

    Args:
      st: the public statement.
      value: m, the slot's plaintext.
      nonce: r, the block's nonce (``st.r_point == r G``).

    Raises:
      ValueError: if value is out of range or the witness does not match the statement
        (an honest prover never sees this; a cheating one cannot produce a valid proof).
    """
    value, nonce = int(value), int(nonce)
    if not -st.bound <= value <= st.bound:
        msg = f"value {value} is outside [-{st.bound}, {st.bound}]"
        raise ValueError(msg)
    if point_mul(nonce, G) != st.r_point or lin((nonce, st.key), (value, G)) != st.c_point:
        msg = "the nonce and value do not open this slot under its key"
        raise ValueError(msg)
    return _prove(st, decompose(value + st.bound, st.bound), value, nonce)


def _prove(st: RangeStatement, bits: list[int], value: int, nonce: int) -> RangeProof:
    """The proof for ``bits`` and the claimed opening, without checks (tests run it as a cheating
    prover: bits outside {0, 1}, bits that do not add up to the value, a value the slot does not hold)."""
    rhos = [_nonce() for _ in bits]
    commitments = tuple(lin((b, G), (rho, H)) for b, rho in zip(bits, rhos, strict=True))
    h = _statement_hash(st, commitments)
    cds = []
    for i, (com, b, rho) in enumerate(zip(commitments, bits, rhos, strict=True)):
        # Simulate the false branch 1 - b, then answer the true branch b honestly.
        fake_c, fake_z, u = _nonce(), _nonce(), _nonce()
        fake = lin((fake_z, H), (-fake_c, point_add(com, point_neg(point_mul(1 - b, G)))))
        real = point_mul(u, H)
        a0, a1 = (real, fake) if b == 0 else (fake, real)
        real_c = (_bit_challenge(h, i, a0, a1) - fake_c) % N_ORDER
        real_z = (u + real_c * rho) % N_ORDER
        c0 = real_c if b == 0 else fake_c
        zs = (real_z, fake_z) if b == 0 else (fake_z, real_z)
        cds.append((a0, a1, c0, *zs))
    rho = sum(w * r for w, r in zip(bit_weights(st.bound), rhos, strict=True)) % N_ORDER
    a, mu, beta = _nonce(), _nonce(), _nonce()
    t1, t2, t3 = point_mul(a, G), lin((a, st.key), (mu, G)), lin((mu, G), (beta, H))
    e = _challenge(h, _LINK, t1, t2, t3)
    link = (t1, t2, t3, (a + e * nonce) % N_ORDER, (mu + e * value) % N_ORDER, (beta + e * rho) % N_ORDER)
    return RangeProof(commitments, tuple(cds), link)


def verify_range(st: RangeStatement, proof: RangeProof) -> bool:
    """True if ``proof`` shows the slot's value under ``st.key`` is in range, for this context."""
    if len(proof.commitments) != st.bits or len(proof.cds) != st.bits:
        return False
    t1, t2, t3, s_r, s_m, s_rho = proof.link
    points = [*proof.commitments, t1, t2, t3, *(p for a0, a1, *_ in proof.cds for p in (a0, a1))]
    scalars = [s_r, s_m, s_rho, *(s for *_, c0, z0, z1 in proof.cds for s in (c0, z0, z1))]
    if None in points or not all(0 <= s < N_ORDER for s in scalars):
        return False
    h = _statement_hash(st, proof.commitments)
    for i, (com, (a0, a1, c0, z0, z1)) in enumerate(zip(proof.commitments, proof.cds, strict=True)):
        c1 = (_bit_challenge(h, i, a0, a1) - c0) % N_ORDER
        if point_mul(z0, H) != point_add(a0, point_mul(c0, com)) or \
                point_mul(z1, H) != point_add(a1, point_mul(c1, point_add(com, point_neg(G)))):
            return False
    e = _challenge(h, _LINK, t1, t2, t3)
    v = _link_point(st, proof.commitments)
    return (point_mul(s_r, G) == point_add(t1, point_mul(e, st.r_point))
            and lin((s_r, st.key), (s_m, G)) == point_add(t2, point_mul(e, st.c_point))
            and lin((s_m, G), (s_rho, H)) == point_add(t3, point_mul(e, v)))


def verify_ranges(items) -> list[int]:
    """Verify many ``(statement, proof)`` pairs; returns the indices of those that fail."""
    return [i for i, (st, proof) in enumerate(items) if not verify_range(st, proof)]


# --- the fast path: C++ core, one call per hospital ---------------------------------------------
def _slot_arrays(pub, ct, picks: Sequence[tuple[int, int]]):
    """(keys, R, C, blocks, slots) rows for the picked (block, slot) pairs of a packed blob."""
    picks = np.asarray(picks, dtype=np.int64).reshape(-1, 2)
    if ((picks[:, 0] < 0) | (picks[:, 0] >= ct.num_blocks) | (picks[:, 1] < 0) | (picks[:, 1] >= ct.k)).any():
        msg = f"picks must name blocks < {ct.num_blocks} and slots < {ct.k}"
        raise ValueError(msg)
    if pub.k != ct.k:
        msg = f"key set has k = {pub.k}, the blob k = {ct.k}"
        raise ValueError(msg)
    keys = np.frombuffer(pub.to_bytes(), np.uint8, offset=8).reshape(pub.k, 64)
    pts = ct._points.reshape(ct.num_blocks, ct.k + 1, 64)
    blocks, slots = picks[:, 0], picks[:, 1]
    return (np.ascontiguousarray(keys[slots]), np.ascontiguousarray(pts[blocks, 0]),
            np.ascontiguousarray(pts[blocks, slots + 1]), blocks.astype(np.uint64), slots.astype(np.uint64))


def prove_slots(pub, ct, picks, values, block_nonces, *, bound: int, context: bytes,
                threads: int | None = None) -> np.ndarray:
    """Range proofs for the picked slots of ``ct`` (C++ core, constant time in the secrets).

    Args:
      pub: the ``PublicKeySet`` the blob was encrypted under.
      ct: the hospital's ``PackedCiphertexts``.
      picks: S pairs (block, slot).
      values: int64[S], the picked slots' plaintexts.
      block_nonces: uint8[S, 32], each pick's block nonce r (big-endian).
      bound: B >= 1; the range is ``[-B, B]``.
      context: chain id, contract, round and sender, as the caller encodes them.

    Returns:
      uint8[S, proof_bytes(bits_for_bound(bound))], rows in the wire format of :class:`RangeProof`.

    Raises:
      ValueError: a value out of range (names the pick), or malformed arguments.
    """
    keys, rs, cs, blocks, slots = _slot_arrays(pub, ct, picks)
    m = np.ascontiguousarray(values, dtype=np.int64)
    proofs, bad = _ec.range_prove(pub._core, bytes(context), keys, rs, cs, m, np.ascontiguousarray(block_nonces, np.uint8),
                                  blocks, slots, bits_for_bound(bound) and int(bound), resolve_threads(threads))
    if bad >= 0:
        msg = f"pick {bad} (block {blocks[bad]}, slot {slots[bad]}): value outside [-{bound}, {bound}]"
        raise ValueError(msg)
    return proofs


def verify_slots(pub, ct, picks, proofs, *, bound: int, context: bytes, threads: int | None = None) -> int:
    """Batch-verify the proofs of :func:`prove_slots`; returns -1, or the first failing pick."""
    keys, rs, cs, blocks, slots = _slot_arrays(pub, ct, picks)
    return int(_ec.range_verify(bytes(context), keys, rs, cs, np.ascontiguousarray(proofs, np.uint8),
                                blocks, slots, bits_for_bound(bound) and int(bound), resolve_threads(threads)))
