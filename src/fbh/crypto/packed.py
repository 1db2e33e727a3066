"""Packed, sender-bound ElGamal ciphertexts and their wire format v2.

A block of ``k`` values under a key set ``P_0 .. P_{k-1}`` shares one fresh nonce r::

    R = r G,   C_j = r P_j + m_j G   (j < k),   proof (A = a G, z = a + c r)

with the Fiat-Shamir challenge ``c = SHA-256(tag || context digest || k || count || block index ||
R || C_0 .. C_{k-1} || A) mod n`` (big-endian u64 for k, count and index; tag
``b"FBH/packed-v2/schnorr-pok"``). The proof shows knowledge of r bound to the caller's context
and to the whole block, so a copied, re-randomized, spliced, reordered or replayed block fails
:meth:`PackedCiphertexts.verify`. Sums and scalar multiples carry no proofs: they are marked as
aggregates in the header.

Wire format v2 (little-endian header, 48 bytes)::

    b"FBHC" | u8 version = 2 | u8 flags (bit 0: aggregate) | u16 k | u64 count
    | 32-byte context digest
    then ceil(count / k) blocks: R, C_0 .. C_{k-1} (64-byte points x || y, infinity = zeros)
    and, unless aggregate, the proof A (64 bytes) || z (32 bytes, big-endian, < n).

Values beyond ``count`` in the last block are padding (encryptions of 0). Points stay
uncompressed: a reader checks each with a range check and the curve equation, no square root.

References:
    C. P. Schnorr, "Efficient signature generation by smart cards", J. Cryptology, 1991;
    A. Fiat, A. Shamir, "How to prove yourself", CRYPTO 1986; M. Bellare, A. Boldyreva,
    J. Staddon, "Randomness re-use in multi-recipient encryption schemes", PKC 2003.
"""

from __future__ import annotations

import hashlib
import hmac
import operator
import struct

import numpy as np

from fbh.crypto import _ec, packed_kernels
from fbh.crypto._common import resolve_threads
from fbh.crypto.errors import InvalidPoint, InvalidProof, MalformedCiphertext, UnsupportedVersion

__all__ = [
    "HEADER_V2",
    "MAGIC",
    "PROOF_BYTES",
    "VERSION_V2",
    "PackedCiphertexts",
    "context_digest",
]

MAGIC = b"FBHC"
VERSION_V2 = 2
HEADER_V2 = struct.Struct("<4sBBHQ32s")
FLAG_AGGREGATE = 1
POINT_BYTES = 64
PROOF_BYTES = int(_ec.PROOF_BYTES)
#: Largest value count a blob may declare (2^40 values: far beyond any model, below overflow).
MAX_COUNT = 1 << 40
CONTEXT_TAG = b"FBH/packed-v2/context\x00"
AGGREGATE_TAG = b"FBH/packed-v2/aggregate\x00"
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
    """``count`` values in blocks of ``k`` slots, each block with its nonce proof (or none, for
    an aggregate). Immutable; every constructor validates every point and scalar.

    Homomorphic operations on public data: ``a + b`` (slot-wise sum), ``a - b``, ``-a``,
    ``k * a`` for a public integer; their results are aggregates (no proofs).

    Attributes:
        count: Number of values (the last block may be padded).
        k: Slots per block.
        context_digest: 32 bytes: :func:`context_digest` of the sender's context, or for an
            aggregate the SHA-256 of its inputs' digests.
        is_aggregate: True when the blob carries no proofs.
    """

    __slots__ = ("_points", "_proofs", "context_digest", "count", "k")

    def __init__(
        self,
        points: np.ndarray,
        proofs: np.ndarray | None,
        *,
        count: int,
        context_digest: bytes,
        threads: int | None = None,
    ) -> None:
        """Validate and wrap raw arrays: points ``uint8[B, k + 1, 64]`` (R then the C_j),
        proofs ``uint8[B, 96]`` or None for an aggregate. The arrays are copied first, so a
        buffer another thread writes to cannot change what was validated.

        Raises:
            ValueError: Shapes, count or digest inconsistent.
            InvalidPoint: A point off the curve or a proof scalar >= n (names the block).
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
        if proofs is not None:
            proofs = np.array(proofs, dtype=np.uint8, copy=True, order="C")
            if proofs.shape != (points.shape[0], PROOF_BYTES):
                msg = f"proofs must have shape ({points.shape[0]}, {PROOF_BYTES}), got {proofs.shape}"
                raise ValueError(msg)
        if not isinstance(context_digest, bytes) or len(context_digest) != 32:
            msg = "context_digest must be 32 bytes"
            raise ValueError(msg)
        self._validate_init(points, proofs, count, context_digest, threads)

    def _validate_init(
        self, points: np.ndarray, proofs: np.ndarray | None, count: int, digest: bytes,
        threads: int | None,
    ) -> None:
        """Check every point and scalar of private arrays, then wrap them."""
        k = points.shape[1] - 1
        bad = _ec.packed_validate(points, proofs, k, resolve_threads(threads))
        if bad >= 0:
            msg = (
                f"block {bad} holds an invalid point or proof (coordinate >= p, off the curve, "
                "infinite proof commitment or z >= n)"
            )
            raise InvalidPoint(msg)
        self._init(points, proofs, count, digest)

    def _init(self, points: np.ndarray, proofs: np.ndarray | None, count: int, digest: bytes) -> None:
        points.flags.writeable = False
        if proofs is not None:
            proofs.flags.writeable = False
        self._points = points
        self._proofs = proofs
        self.count = count
        self.k = points.shape[1] - 1
        self.context_digest = digest

    @classmethod
    def _trusted(
        cls, points: np.ndarray, proofs: np.ndarray | None, count: int, digest: bytes
    ) -> PackedCiphertexts:
        """Wrap kernel outputs (already valid by construction) without re-validating."""
        self = cls.__new__(cls)
        self._init(points, proofs, count, digest)
        return self

    # -- properties -----------------------------------------------------------------

    @property
    def num_blocks(self) -> int:
        """Number of blocks B = ceil(count / k)."""
        return int(self._points.shape[0])

    @property
    def is_aggregate(self) -> bool:
        """True for sums and scalar multiples, which carry no proofs."""
        return self._proofs is None

    @property
    def nbytes(self) -> int:
        """Size of the wire format in bytes."""
        proofs = 0 if self._proofs is None else self._proofs.nbytes
        return HEADER_V2.size + self._points.nbytes + proofs

    def __len__(self) -> int:
        return self.count

    # -- wire format ------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The v2 wire format (see the module docstring)."""
        flags = FLAG_AGGREGATE if self.is_aggregate else 0
        header = HEADER_V2.pack(MAGIC, VERSION_V2, flags, self.k, self.count, self.context_digest)
        body = self._points.reshape(self.num_blocks, (self.k + 1) * POINT_BYTES)
        if self._proofs is not None:
            body = np.concatenate([body, self._proofs], axis=1)
        return header + body.tobytes()

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, threads: int | None = None
    ) -> PackedCiphertexts:
        """Parse and validate a v2 blob (the input is copied before anything is checked).

        Raises:
            TypeError: data is not bytes-like.
            UnsupportedVersion: A v1 (or other) blob; the message names the version.
            MalformedCiphertext: Bad magic, flags, k, count, length or trailing bytes.
            InvalidPoint: An invalid point or proof scalar (names the block).
        """
        if not isinstance(data, (bytes, bytearray, memoryview)):
            msg = f"ciphertext blob must be bytes, got {type(data).__name__}"
            raise TypeError(msg)
        data = bytes(data)  # private copy: a concurrent writer cannot race the checks
        if len(data) < 6:
            msg = f"ciphertext blob truncated: {len(data)} bytes"
            raise MalformedCiphertext(msg)
        if data[:4] != MAGIC:
            msg = f"bad magic {data[:4]!r}: not an fbh ciphertext blob (expected {MAGIC!r})"
            raise MalformedCiphertext(msg)
        if data[4] != VERSION_V2:
            msg = (
                f"unsupported ciphertext format version {data[4]} (this build reads packed "
                f"version {VERSION_V2}; version 1 blobs are the old unpacked format)"
            )
            raise UnsupportedVersion(msg, version=data[4])
        if len(data) < HEADER_V2.size:
            msg = f"ciphertext blob truncated: {len(data)} bytes, the header is {HEADER_V2.size}"
            raise MalformedCiphertext(msg)
        _, _, flags, k, count, digest = HEADER_V2.unpack_from(data)
        if flags & ~FLAG_AGGREGATE:
            msg = f"unknown ciphertext flags {flags:#x}"
            raise MalformedCiphertext(msg)
        if not 1 <= k <= 256 or count > MAX_COUNT:
            msg = f"ciphertext header invalid: k = {k} (need 1..256), count = {count}"
            raise MalformedCiphertext(msg)
        aggregate = bool(flags & FLAG_AGGREGATE)
        nb = num_blocks(count, k)
        block = (k + 1) * POINT_BYTES + (0 if aggregate else PROOF_BYTES)
        expected = HEADER_V2.size + nb * block
        if len(data) != expected:
            msg = (
                f"ciphertext blob length {len(data)} does not match its header "
                f"({count} values in {nb} blocks of k = {k}: {expected} bytes)"
            )
            raise MalformedCiphertext(msg)
        body = np.frombuffer(data, dtype=np.uint8, offset=HEADER_V2.size).reshape(nb, block)
        # One copy out of the (immutable, private) bytes into the arrays that get validated.
        points = np.ascontiguousarray(body[:, : (k + 1) * POINT_BYTES]).reshape(nb, k + 1, POINT_BYTES)
        proofs = None if aggregate else np.ascontiguousarray(body[:, (k + 1) * POINT_BYTES :])
        self = cls.__new__(cls)
        self._validate_init(points, proofs, count, digest, threads)
        return self

    # -- proofs ------------------------------------------------------------------------

    def verify(self, context: bytes, *, threads: int | None = None) -> None:
        """Check every block's proof against the caller's context (batched, multi-threaded).

        Each proof claims ``z_b G = A_b + c_b R_b``. Instead of B double multiplications, the
        check draws ``rho_b`` uniformly from ``[0, 2^128)`` with the OS CSPRNG (after the blob is
        fixed) and tests ``sum rho_b A_b + sum (rho_b c_b) R_b - (sum rho_b z_b) G = 0`` with one
        multi-scalar multiplication (small-exponent batch test, Bellare-Garay-Rabin, EUROCRYPT
        1998). Sound because the group has prime order n > 2^128 and every point is validated:
        if some proof is wrong, the sum vanishes for at most one value of its ``rho_b`` mod n, so
        a bad blob passes with probability <= 2^-128. A failing batch is bisected to name the
        first bad block.

        Raises:
            InvalidProof: The blob is an aggregate, its header names another context, or a
                block's proof fails (the exception names the first failing block).
        """
        digest = context_digest(context)
        if self._proofs is None:
            msg = "an aggregate carries no proofs: verify each sender's blob before summing"
            raise InvalidProof(msg, block=None)
        if not hmac.compare_digest(digest, self.context_digest):
            msg = "ciphertext was made for another context (copied, or replayed from another round)"
            raise InvalidProof(msg, block=None)
        bad = packed_kernels.verify(
            self._points, self._proofs, self.k, digest, self.count, resolve_threads(threads)
        )
        if bad >= 0:
            msg = f"proof of block {bad} does not verify for this context"
            raise InvalidProof(msg, block=int(bad))

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
