"""Packed, sender-bound ElGamal ciphertexts and their wire format v3.

A block of ``k`` values under a key set ``P_0 .. P_{k-1}`` shares one fresh nonce r_i::

    R_i = r_i G,   C_ij = r_i P_j + m_ij G   (j < k)

and the whole blob carries one batched Schnorr proof of knowledge of every r_i::

    A = a G,   seed = SHA-256(tag || context digest || k || count || A || all blocks),
    e_i = 128-bit coefficients expanded from seed,   z = a + sum_i e_i r_i mod n

(big-endian u64 for k and count; tag ``b"FBH/packed-v3/batch-pok"``; ``e_2t || e_2t+1`` =
SHA-256(seed || t as big-endian u64), 16 bytes each). A verifier checks ``z G = A + sum_i e_i
R_i`` with one multi-scalar multiplication. The proof binds the caller's context and every
point, so a copied, re-randomized, spliced, reordered, truncated or replayed blob fails
:meth:`PackedCiphertexts.verify`. Sums and scalar multiples carry no proof: they are marked as
aggregates in the header.

Wire format v3 (little-endian header, 48 bytes)::

    b"FBHC" | u8 version = 3 | u8 flags (bit 0: aggregate) | u16 k | u64 count
    | 32-byte context digest
    then, unless aggregate, the proof A (64 bytes) || z (32 bytes, big-endian, < n)
    then ceil(count / k) blocks: R, C_0 .. C_{k-1} (64-byte points x || y, infinity = zeros).

Values beyond ``count`` in the last block are padding (encryptions of 0). Points stay
uncompressed: a reader checks each with a range check and the curve equation, no square root.
Version 2 (one proof per block) is refused with :class:`UnsupportedVersion`: one proof per
blob cuts verification by ~4x and saves 3 bytes per value; a run directory written by an older
build fails ``fbh audit`` with that error rather than being misread.

References:
    C. P. Schnorr, "Efficient signature generation by smart cards", J. Cryptology, 1991;
    A. Fiat, A. Shamir, "How to prove yourself", CRYPTO 1986; R. Gennaro, D. Leigh,
    R. Sundaram, W. Yerazunis, "Batching Schnorr identification scheme with applications to
    privacy-preserving authorization and low-bandwidth communication devices", ASIACRYPT 2004;
    M. Bellare, A. Boldyreva, J. Staddon, "Randomness re-use in multi-recipient encryption
    schemes", PKC 2003.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
import struct

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import resolve_threads
from fbh.crypto.errors import InvalidPoint, InvalidProof, MalformedCiphertext, UnsupportedVersion

__all__ = [
    "HEADER",
    "MAGIC",
    "PROOF_BYTES",
    "VERSION",
    "PackedCiphertexts",
    "context_digest",
]

MAGIC = b"FBHC"
VERSION = 3
HEADER = struct.Struct("<4sBBHQ32s")
FLAG_AGGREGATE = 1
POINT_BYTES = 64
PROOF_BYTES = int(_ec.PROOF_BYTES)
#: Largest value count a blob may declare (2^40 values: far beyond any model, below overflow).
MAX_COUNT = 1 << 40
CONTEXT_TAG = b"FBH/packed-v3/context\x00"
AGGREGATE_TAG = b"FBH/packed-v3/aggregate\x00"
BAD_PROOF = -2  # packed_validate: the proof's A or z is invalid
GROUP_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def context_digest(context: bytes) -> bytes:
    """SHA-256 of the domain tag and the caller's context: what the header records."""
    if not isinstance(context, (bytes, bytearray, memoryview)):
        msg = f"context must be bytes, got {type(context).__name__}"
        raise TypeError(msg)
    return hashlib.sha256(CONTEXT_TAG + bytes(context)).digest()


def num_blocks(count: int, k: int) -> int:
    """Blocks needed for count values: ceil(count / k)."""
    return -(-count // k)


class PackedCiphertexts:
    """``count`` values in blocks of ``k`` slots, with one proof of knowledge of all block
    nonces (or none, for an aggregate). Immutable; every constructor validates every point and scalar.

    Homomorphic operations on public data: ``a + b`` (slot-wise sum), ``a - b``, ``-a``,
    ``k * a`` for a public integer; their results are aggregates (no proofs).

    Attributes:
        count: Number of values (the last block may be padded).
        k: Slots per block.
        context_digest: 32 bytes: :func:`context_digest` of the sender's context, or for an
            aggregate the SHA-256 of its inputs' digests.
        is_aggregate: True when the blob carries no proofs.
    """

    __slots__ = ("_points", "_proof", "context_digest", "count", "k")

    def __init__(
        self,
        points: np.ndarray,
        proof: np.ndarray | None,
        *,
        count: int,
        context_digest: bytes,
        threads: int | None = None,
    ) -> None:
        """Validate and wrap raw arrays: points ``uint8[B, k + 1, 64]`` (R then the C_j),
        proof ``uint8[96]`` (A then z) or None for an aggregate. The arrays are copied first, so a
        buffer another thread writes to cannot change what was validated.

        Raises:
            ValueError: Shapes, count or digest inconsistent.
            InvalidPoint: A point off the curve (names the block), or an invalid proof point or
                scalar.
        """
        points = np.array(points, dtype=np.uint8, copy=True, order="C")
        if points.ndim != 3 or points.shape[2] != POINT_BYTES or not 2 <= points.shape[1] <= 257:
            msg = f"points must have shape (B, k + 1, 64) with 1 <= k <= 256, got {points.shape}"
            raise ValueError(msg)
        k = points.shape[1] - 1
        count = operator.index(count)
        if not 0 <= count <= MAX_COUNT or num_blocks(count, k) != points.shape[0]:
            msg = f"count {count} needs {num_blocks(count, k)} blocks of {k}, got {points.shape[0]}"
            raise ValueError(msg)
        if proof is not None:
            proof = np.array(proof, dtype=np.uint8, copy=True, order="C")
            if proof.shape != (PROOF_BYTES,):
                msg = f"the proof must have shape ({PROOF_BYTES},), got {proof.shape}"
                raise ValueError(msg)
        if not isinstance(context_digest, bytes) or len(context_digest) != 32:
            msg = "context_digest must be 32 bytes"
            raise ValueError(msg)
        self._validate_init(points, proof, count, context_digest, threads)

    def _validate_init(
        self, points: np.ndarray, proof: np.ndarray | None, count: int, digest: bytes,
        threads: int | None,
    ) -> None:
        """Check every point and scalar of private arrays, then wrap them."""
        k = points.shape[1] - 1
        bad = _ec.packed_validate(points, proof, k, resolve_threads(threads))
        if bad == BAD_PROOF:
            msg = "the blob's proof is invalid (A off the curve or infinite, or z >= n)"
            raise InvalidPoint(msg)
        if bad >= 0:
            msg = f"block {bad} holds an invalid point (coordinate >= p or off the curve)"
            raise InvalidPoint(msg)
        self._init(points, proof, count, digest)

    def _init(self, points: np.ndarray, proof: np.ndarray | None, count: int, digest: bytes) -> None:
        points.flags.writeable = False
        if proof is not None:
            proof.flags.writeable = False
        self._points = points
        self._proof = proof
        self.count = count
        self.k = points.shape[1] - 1
        self.context_digest = digest

    @classmethod
    def _trusted(
        cls, points: np.ndarray, proof: np.ndarray | None, count: int, digest: bytes
    ) -> PackedCiphertexts:
        """Wrap kernel outputs (already valid by construction) without re-validating."""
        self = cls.__new__(cls)
        self._init(points, proof, count, digest)
        return self

    # -- properties -----------------------------------------------------------------

    @property
    def num_blocks(self) -> int:
        """Number of blocks B = ceil(count / k)."""
        return int(self._points.shape[0])

    @property
    def is_aggregate(self) -> bool:
        """True for sums and scalar multiples, which carry no proof."""
        return self._proof is None

    @property
    def nbytes(self) -> int:
        """Size of the wire format in bytes."""
        proof = 0 if self._proof is None else PROOF_BYTES
        return HEADER.size + proof + self._points.nbytes

    def __len__(self) -> int:
        return self.count

    # -- wire format ------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The v3 wire format (see the module docstring)."""
        flags = FLAG_AGGREGATE if self.is_aggregate else 0
        header = HEADER.pack(MAGIC, VERSION, flags, self.k, self.count, self.context_digest)
        proof = b"" if self._proof is None else self._proof.tobytes()
        return b"".join((header, proof, self._points.data))

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, threads: int | None = None
    ) -> PackedCiphertexts:
        """Parse and validate a v3 blob (the input is copied before anything is checked).

        Raises:
            TypeError: data is not bytes-like.
            UnsupportedVersion: A v1, v2 (or other) blob; the message names the version.
            MalformedCiphertext: Bad magic, flags, k, count, length or trailing bytes.
            InvalidPoint: An invalid point or proof scalar (names the block).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            msg = f"ciphertext blob must be bytes, got {type(data).__name__}"
            raise TypeError(msg)
        if not isinstance(data, bytes):
            data = bytes(data)  # private copy: a concurrent writer cannot race the checks
        if len(data) < 6:
            msg = f"ciphertext blob truncated: {len(data)} bytes"
            raise MalformedCiphertext(msg)
        if data[:4] != MAGIC:
            msg = f"bad magic {data[:4]!r}: not an fbh ciphertext blob (expected {MAGIC!r})"
            raise MalformedCiphertext(msg)
        if data[4] != VERSION:
            msg = (
                f"unsupported ciphertext format version {data[4]} (this build reads packed "
                f"version {VERSION}; version 1 is the old unpacked format, version 2 the packed "
                "format with one proof per block)"
            )
            raise UnsupportedVersion(msg, version=data[4])
        if len(data) < HEADER.size:
            msg = f"ciphertext blob truncated: {len(data)} bytes, the header is {HEADER.size}"
            raise MalformedCiphertext(msg)
        _, _, flags, k, count, digest = HEADER.unpack_from(data)
        if flags & ~FLAG_AGGREGATE:
            msg = f"unknown ciphertext flags {flags:#x}"
            raise MalformedCiphertext(msg)
        if not 1 <= k <= 256 or count > MAX_COUNT:
            msg = f"ciphertext header invalid: k = {k} (need 1..256), count = {count}"
            raise MalformedCiphertext(msg)
        aggregate = bool(flags & FLAG_AGGREGATE)
        nb = num_blocks(count, k)
        start = HEADER.size + (0 if aggregate else PROOF_BYTES)
        expected = start + nb * (k + 1) * POINT_BYTES
        if len(data) != expected:
            msg = (
                f"ciphertext blob length {len(data)} does not match its header "
                f"({count} values in {nb} blocks of k = {k}: {expected} bytes)"
            )
            raise MalformedCiphertext(msg)
        # One copy out of the immutable bytes into the arrays that get validated.
        raw = np.frombuffer(data, dtype=np.uint8)
        points = raw[start:].reshape(nb, k + 1, POINT_BYTES).copy()
        proof = None if aggregate else raw[HEADER.size : start].copy()
        self = cls.__new__(cls)
        self._validate_init(points, proof, count, digest, threads)
        return self

    # -- proofs ------------------------------------------------------------------------

    def verify(self, context: bytes, *, threads: int | None = None) -> None:
        """Check the blob's proof of knowledge of all block nonces against the caller's context.

        The proof claims ``z G = A + sum_i e_i R_i`` with the 128-bit ``e_i`` expanded from the
        transcript seed (module docstring); the check is one multi-scalar multiplication over
        the B + 2 points, split over threads. Soundness (Gennaro-Leigh-Sundaram-Yerazunis,
        ASIACRYPT 2004): answers to n + 1 seeds for one A whose coefficient rows ``(1, e)`` are
        independent mod n, which a fresh uniform row in ``[0, 2^128)^B`` fails to be with
        probability <= 2^-128, give every ``r_i`` by solving ``z_t = a + sum_i e_i r_i``, so by
        the forking lemma only a sender who knows every nonce can answer. One proof covers the
        whole blob, so a failure names the blob (its sender), not a block.

        Raises:
            InvalidProof: The blob is an aggregate, its header names another context, or the
                proof fails (``block`` is None).
        """
        digest = context_digest(context)
        if self._proof is None:
            msg = "an aggregate carries no proofs: verify each sender's blob before summing"
            raise InvalidProof(msg, block=None)
        if not hmac.compare_digest(digest, self.context_digest):
            msg = "ciphertext was made for another context (copied, or replayed from another round)"
            raise InvalidProof(msg, block=None)
        ok = _ec.packed_verify(
            self._points, self._proof, self.k, digest, self.count, resolve_threads(threads)
        )
        if not ok:
            msg = (
                f"the blob's proof of knowledge of its {self.num_blocks} block nonces does not "
                "verify for this context (one proof covers every block)"
            )
            raise InvalidProof(msg, block=None)

    # -- homomorphic operations --------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PackedCiphertexts):
            return NotImplemented
        return self.to_bytes() == other.to_bytes()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = "aggregate" if self.is_aggregate else "with proofs"
        return f"PackedCiphertexts(count={self.count}, k={self.k}, {kind}, {self.nbytes} bytes)"

    def __add__(self, other: object) -> PackedCiphertexts:
        if not isinstance(other, PackedCiphertexts):
            return NotImplemented
        from fbh.crypto.packed_ops import aggregate_packed  # noqa: PLC0415 (import cycle)

        return aggregate_packed([self, other])

    def __radd__(self, other: object) -> PackedCiphertexts:
        if isinstance(other, int) and other == 0:  # lets sum(list) work
            return self
        return NotImplemented

    def __neg__(self) -> PackedCiphertexts:
        return self._derived(_ec.negate_points(self._points), b"neg")

    def __sub__(self, other: object) -> PackedCiphertexts:
        if not isinstance(other, PackedCiphertexts):
            return NotImplemented
        return self + (-other)

    def __mul__(self, k: object) -> PackedCiphertexts:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            return NotImplemented
        return self.scale(int(k))

    __rmul__ = __mul__

    def scale(self, k: int, *, threads: int | None = None) -> PackedCiphertexts:
        """``k * self`` slot-wise for a public integer k (reduced mod n); an aggregate."""
        k = operator.index(k) % GROUP_ORDER
        tag = b"scale" + k.to_bytes(32, "big")
        if k == 0:
            return self._derived(np.zeros_like(self._points), tag)
        if self.num_blocks == 0:
            return self._derived(self._points.copy(), tag)
        pts = _ec.scale_points(self._points, k.to_bytes(32, "big"), resolve_threads(threads))
        return self._derived(pts, tag)

    def _derived(self, points: np.ndarray, op: bytes) -> PackedCiphertexts:
        digest = hashlib.sha256(AGGREGATE_TAG + op + self.context_digest).digest()
        return PackedCiphertexts._trusted(points, None, self.count, digest)
