"""Zero-knowledge range proofs for one slot of a packed ciphertext block (reference implementation).

Statement. A packed block holds ``R = r G`` and ``C_j = r P_j + m_j G``. For slot j and a
public bound ``B >= 1`` the prover (the hospital that chose r) shows that ``m_j`` lies in
``[-B, B]`` *exactly* (no rounding of the range to a power of two) *as decrypted under the
published slot key* ``P_j``, without revealing anything else about ``m_j`` or r.

Construction (bit decomposition with CDS OR-proofs, the building block of ElectionGuard 2.0's
range proofs; ElectionGuard proves small ranges with one (L+1)-way disjunction, we need
L ~ 20 so we decompose into bits):

1. Shift: ``x = m + B``; ``m in [-B, B]`` iff ``x in [0, 2B]``. The statement point is
   ``C' = C_j + B G``.
2. Arbitrary-range decomposition (Schoenmakers, "Interval proofs revisited", 2005; the same
   trick proves non-power-of-two ranges in the Bulletproofs literature): with ``L = bitlen(2B)``
   the bit weights are ``w_i = 2^i`` for ``i < L-1`` and ``w_(L-1) = 2B - (2^(L-1) - 1)``, and
   ``x = sum w_i b_i`` with every ``b_i in {0, 1}``. *Every* b gives ``x in [0, 2B]``: the low
   bits give ``[0, 2^(L-1) - 1]`` and the top one adds 0 or ``w_(L-1)``, so
   ``0 <= x <= 2^(L-1) - 1 + w_(L-1) = 2B``. *Every* ``x in [0, 2B]`` has such b: if
   ``x < 2^(L-1)`` its binary digits with ``b_(L-1) = 0``; else ``b_(L-1) = 1`` and the binary
   digits of ``x - w_(L-1)``, which lies in ``[0, 2^(L-1) - 1]`` because
   ``1 <= w_(L-1) <= 2^(L-1) <= x <= 2B`` (``2^(L-1) <= 2B < 2^L`` by the choice of L). So the
   set proven is exactly ``[-B, B]``, with one proof per slot.
3. Bit commitments: for ``i = 1 .. L-1`` the prover picks fresh ``r_i`` and sends
   ``(R_i, C_i) = (r_i G, r_i P_j + b_i G)``. Bit 0's pair (weight ``w_0 = 1`` as ``L >= 2``)
   is *derived* by the verifier as ``R_0 = R - sum w_i R_i``, ``C_0 = C' - sum w_i C_i`` (so
   ``r_0 = r - sum w_i r_i``): the weighted sum of all pairs equals ``(R, C')`` by
   construction, with nothing to check.
4. For every bit, a Cramer-Damgård-Schoenmakers OR-proof that ``(G, P_j, R_i, C_i - k G)`` is a
   Diffie-Hellman tuple for k = 0 or k = 1 (a Chaum-Pedersen proof for the true branch, a
   simulated one for the other): ``(A_0, B_0, A_1, B_1, c_0, z_0, z_1)``, ``c_1 = c - c_0`` for
   the challenge c, and ``z_k G = A_k + c_k R_i``, ``z_k P_j = B_k + c_k (C_i - k G)``. Sending the
   commitments (not c_1) makes every check a linear equation, so a verifier can batch all of
   them, over all bits and slots, into one multi-scalar multiplication with random 128-bit
   weights (a false equation survives with probability ~2^-128).

Fiat-Shamir. ``h = SHA-256(tag || len-prefixed context || block || slot || B || P_j || R || C_j
|| all (R_i, C_i))`` binds the caller's context (chain id, contract, round, sender: the same
bytes the packed proofs bind), the block index and slot, the bound, the key, the ciphertext and
every bit commitment; bit i's challenge is ``SHA-256(h || i || A_0 || B_0 || A_1 || B_1) mod n``.
A proof replayed under another context, block, slot, bound, key or ciphertext fails. The tag
names the format (v2: one exact proof per slot; v1 proved a power-of-two range, two per slot).

Soundness. By special soundness of each CDS proof, an accepting prover knows ``r_i`` with
``R_i = r_i G`` and ``C_i = r_i P_j + b_i G`` for some ``b_i in {0, 1}``, for i >= 1 and for the
derived pair 0. Summing with weights w_i: ``R = (sum w_i r_i) G`` and ``C' = (sum w_i r_i) P_j +
(sum w_i b_i) G``; since G generates the group, ``r = sum w_i r_i`` and hence
``C_j = r P_j + (x - B) G`` with ``x = sum w_i b_i in [0, 2B]`` (step 2): the value the holder
of ``s_j`` decrypts is in ``[-B, B]``. A value encrypted under another key cannot be proven: the slot's
plaintext under ``P_j`` is then ``log_G(C_j - r P_j)``, in range only with negligible probability
unless the prover knows a discrete logarithm. Zero knowledge (honest verifier, random oracle):
each CDS proof is simulatable and the bit commitments are ElGamal encryptions (DDH).
Soundness error per slot: ``L / n`` (one challenge per bit, n ~ 2^256).

Two implementations of one wire format: :func:`prove_slots` / :func:`verify_slots` run the C++
core (``csrc/range_prove.cpp``, ``csrc/range_proof.cpp``: constant-time prover with secrets
cleared, one batched multi-scalar multiplication for any number of proofs, GIL released,
threads); the rest of this module is the executable specification in plain Python integers
(variable time, for tests and cross-checks only: each implementation verifies the other's proofs).

The core prover needs no variable-base multiplication: it knows ``r_i = log_G R_i``, so the
simulated branch ``(z G - c R_i, z P_j - c (C_i - f G))`` equals ``(v G, v P_j - (2 b_i - 1) c G)``
with ``v = z - c r_i``; drawing v and c uniformly (and answering ``z = v + c r_i``) gives the same
distribution as drawing z and c. Every point is then a fixed-base multiple of G or P_j by a secret
scalar, computed with the constant-time comb tables of the key set (``csrc/range_prove.cpp``
states what is secret, what is public and what timing can depend on).

References:
  B. Schoenmakers, "Interval proofs revisited", Workshop on Frontiers in Electronic Elections,
  2005 (non-power-of-two ranges by one adjusted top weight); R. Cramer, I. Damgård,
  B. Schoenmakers, "Proofs of partial knowledge and simplified design of
  witness hiding protocols", CRYPTO 1994; D. Chaum, T. P. Pedersen, "Wallet databases with
  observers", CRYPTO 1992; J. Benaloh, M. Naehrig, "ElectionGuard Design Specification 2.0",
  2023 (Section 3.3.5, range proofs); A. Fiat, A. Shamir, CRYPTO 1986.
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

__all__ = ["RangeProof", "RangeStatement", "bit_weights", "bits_for_bound", "decompose", "prove_range",
           "prove_slots", "verify_range", "verify_ranges", "verify_slots"]

P_FIELD = 2**256 - 2**32 - 977
N_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
TAG = b"FBH/range-v2/cds-bits-exact"
FORMAT = 2
MAX_BITS = 48
MAX_BOUND = 2 ** (MAX_BITS - 1) - 1  # 2B fits in MAX_BITS bits

Point = tuple[int, int] | None  # affine (x, y); None is the point at infinity


# --- secp256k1 in plain Python (Jacobian coordinates, variable time) -----------------------
def _jdouble(p):
    x, y, z = p
    if y == 0:
        return (0, 1, 0)
    s = 4 * x * y * y % P_FIELD
    m = 3 * x * x % P_FIELD
    x3 = (m * m - 2 * s) % P_FIELD
    return (x3, (m * (s - x3) - 8 * pow(y, 4, P_FIELD)) % P_FIELD, 2 * y * z % P_FIELD)


def _jadd(p, q):
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    z1z1, z2z2 = p[2] * p[2] % P_FIELD, q[2] * q[2] % P_FIELD
    u1, u2 = p[0] * z2z2 % P_FIELD, q[0] * z1z1 % P_FIELD
    s1, s2 = p[1] * q[2] * z2z2 % P_FIELD, q[1] * p[2] * z1z1 % P_FIELD
    if u1 == u2:
        return _jdouble(p) if s1 == s2 else (0, 1, 0)
    h, r = u2 - u1, s2 - s1
    hh = h * h % P_FIELD
    hhh, v = h * hh % P_FIELD, u1 * hh % P_FIELD
    x3 = (r * r - hhh - 2 * v) % P_FIELD
    return (x3, (r * (v - x3) - s1 * hhh) % P_FIELD, h * p[2] * q[2] % P_FIELD)


def _to_affine(p) -> Point:
    if p[2] == 0:
        return None
    zi = pow(p[2], -1, P_FIELD)
    return (p[0] * zi * zi % P_FIELD, p[1] * zi * zi * zi % P_FIELD)


def _jac(a: Point):
    return (0, 1, 0) if a is None else (a[0], a[1], 1)


def point_add(a: Point, b: Point) -> Point:
    return _to_affine(_jadd(_jac(a), _jac(b)))


def point_neg(a: Point) -> Point:
    return None if a is None else (a[0], (-a[1]) % P_FIELD)


def point_mul(k: int, a: Point) -> Point:
    k %= N_ORDER
    acc, base = (0, 1, 0), _jac(a)
    for bit in bin(k)[2:] if k else "":
        acc = _jdouble(acc)
        if bit == "1":
            acc = _jadd(acc, base)
    return _to_affine(acc)


def _lin(*terms: tuple[int, Point]) -> Point:
    """sum k_i P_i."""
    acc = (0, 1, 0)
    for k, p in terms:
        acc = _jadd(acc, _jac(point_mul(k, p)))
    return _to_affine(acc)


def point_bytes(a: Point) -> bytes:
    """64-byte row x || y (zeros for infinity), the wire format of fbh.crypto.packed."""
    return bytes(64) if a is None else a[0].to_bytes(32, "big") + a[1].to_bytes(32, "big")


def point_from_bytes(row: bytes) -> Point:
    if len(row) != 64:
        msg = f"a point is 64 bytes, got {len(row)}"
        raise ValueError(msg)
    if row == bytes(64):
        return None
    x, y = int.from_bytes(row[:32], "big"), int.from_bytes(row[32:], "big")
    if x >= P_FIELD or y >= P_FIELD or (y * y - x**3 - 7) % P_FIELD:
        msg = "point is not on secp256k1"
        raise ValueError(msg)
    return (x, y)


# --- the proof --------------------------------------------------------------------------------
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

    def shifted(self) -> Point:
        return point_add(self.c_point, point_mul(self.bound, G))


@dataclasses.dataclass(frozen=True)
class RangeProof:
    """Bit commitments ``(R_i, C_i)`` for i >= 1 and per bit ``(A0, B0, A1, B1, c0, z0, z1)``.

    ``c1 = challenge - c0`` is not sent. The wire form (:meth:`to_bytes`) is the C++ core's.
    """

    commitments: tuple[tuple[Point, Point], ...]
    cds: tuple[tuple[Point, Point, Point, Point, int, int, int], ...]

    def to_bytes(self) -> bytes:
        out = [point_bytes(p) for pair in self.commitments for p in pair]
        for a0, b0, a1, b1, c0, z0, z1 in self.cds:
            out += [point_bytes(p) for p in (a0, b0, a1, b1)] + [v.to_bytes(32, "big") for v in (c0, z0, z1)]
        return b"".join(out)

    @classmethod
    def from_bytes(cls, data: bytes, bits: int) -> RangeProof:
        if len(data) != proof_bytes(bits):
            msg = f"a {bits}-bit range proof is {proof_bytes(bits)} bytes, got {len(data)}"
            raise ValueError(msg)
        pts = [point_from_bytes(data[64 * i: 64 * i + 64]) for i in range(2 * (bits - 1))]
        commitments = tuple(zip(pts[0::2], pts[1::2], strict=True))
        cds, off = [], 128 * (bits - 1)
        for _ in range(bits):
            ab = [point_from_bytes(data[off + 64 * j: off + 64 * j + 64]) for j in range(4)]
            sc = [int.from_bytes(data[off + 256 + 32 * j: off + 288 + 32 * j], "big") for j in range(3)]
            cds.append((*ab, *sc))
            off += 352
        return cls(commitments, tuple(cds))


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
    """Bytes of one slot's proof: (L - 1) commitment pairs and L CDS proofs of 352 bytes."""
    return 128 * (bits - 1) + 352 * bits


def _statement_hash(st: RangeStatement, commitments) -> bytes:
    h = hashlib.sha256(TAG)
    h.update(struct.pack(">Q", len(st.context)) + st.context)
    h.update(struct.pack(">QQQ", st.block, st.slot, st.bound))
    for p in (st.key, st.r_point, st.c_point):
        h.update(point_bytes(p))
    for r_i, c_i in commitments:
        h.update(point_bytes(r_i) + point_bytes(c_i))
    return h.digest()


def _bit_challenge(h: bytes, i: int, a0, b0, a1, b1) -> int:
    data = h + struct.pack(">Q", i) + b"".join(point_bytes(p) for p in (a0, b0, a1, b1))
    return int.from_bytes(hashlib.sha256(data).digest(), "big") % N_ORDER


def _derived_pairs(st: RangeStatement, commitments) -> list[tuple[Point, Point]]:
    """All L pairs: bit 0's is (R, C') minus the weighted others."""
    r0, c0 = st.r_point, st.shifted()
    for w, (r_i, c_i) in zip(bit_weights(st.bound)[1:], commitments, strict=True):
        r0 = point_add(r0, point_neg(point_mul(w, r_i)))
        c0 = point_add(c0, point_neg(point_mul(w, c_i)))
    return [(r0, c0), *commitments]


def _nonce() -> int:
    return 1 + secrets.randbelow(N_ORDER - 1)


def prove_range(st: RangeStatement, value: int, nonce: int) -> RangeProof:
    """Prove that ``st.c_point - nonce * st.key`` is ``value * G`` with value in range.

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
    if point_mul(nonce, G) != st.r_point or _lin((nonce, st.key), (value, G)) != st.c_point:
        msg = "the nonce and value do not open this slot under its key"
        raise ValueError(msg)
    return _prove(st, decompose(value + st.bound, st.bound), nonce)


def _prove(st: RangeStatement, bits: list[int], nonce: int) -> RangeProof:
    """The proof for the bits of the shifted value, without checks (tests run it as a cheating
    prover: bits outside {0, 1}, or bits that do not add up to the slot's value)."""
    weights = bit_weights(st.bound)
    r_bits = [0] + [_nonce() for _ in range(1, st.bits)]
    r_bits[0] = (nonce - sum(w * r for w, r in zip(weights[1:], r_bits[1:], strict=True))) % N_ORDER
    commitments = tuple((point_mul(r_bits[i], G), _lin((r_bits[i], st.key), (bits[i], G)))
                        for i in range(1, st.bits))
    h = _statement_hash(st, commitments)
    pairs = _derived_pairs(st, commitments)
    cds = []
    for i, ((r_i, c_i), b, w) in enumerate(zip(pairs, bits, r_bits, strict=True)):
        # Simulate the false branch 1 - b, then answer the true branch b honestly.
        fake_c, fake_z, u = _nonce(), _nonce(), _nonce()
        f = 1 - b
        shifted_f = point_add(c_i, point_neg(point_mul(f, G)))
        fake = (_lin((fake_z, G), (-fake_c, r_i)), _lin((fake_z, st.key), (-fake_c, shifted_f)))
        real = (point_mul(u, G), point_mul(u, st.key))
        a0, b0 = real if b == 0 else fake
        a1, b1 = fake if b == 0 else real
        c = _bit_challenge(h, i, a0, b0, a1, b1)
        real_c = (c - fake_c) % N_ORDER
        real_z = (u + real_c * w) % N_ORDER
        c0 = real_c if b == 0 else fake_c
        zs = (real_z, fake_z) if b == 0 else (fake_z, real_z)
        cds.append((a0, b0, a1, b1, c0, zs[0], zs[1]))
    return RangeProof(commitments, tuple(cds))


def verify_range(st: RangeStatement, proof: RangeProof) -> bool:
    """True if ``proof`` shows the slot's value under ``st.key`` is in range, for this context."""
    if len(proof.commitments) != st.bits - 1 or len(proof.cds) != st.bits:
        return False
    if any(p is None for pair in proof.commitments for p in pair):
        return False
    h = _statement_hash(st, proof.commitments)
    for i, ((r_i, c_i), (a0, b0, a1, b1, c0, z0, z1)) in enumerate(
            zip(_derived_pairs(st, proof.commitments), proof.cds, strict=True)):
        if not all(0 <= v < N_ORDER for v in (c0, z0, z1)) or None in (a0, b0, a1, b1):
            return False
        c1 = (_bit_challenge(h, i, a0, b0, a1, b1) - c0) % N_ORDER
        checks = ((z0, G, a0, c0, r_i), (z0, st.key, b0, c0, c_i),
                  (z1, G, a1, c1, r_i), (z1, st.key, b1, c1, point_add(c_i, point_neg(G))))
        if any(point_mul(z, base) != point_add(a, point_mul(c, x)) for z, base, a, c, x in checks):
            return False
    return True


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
