"""Batches of EC-ElGamal ciphertexts and their versioned wire format.

Wire format (little-endian header, then fixed-width rows)::

    b"FBHC" | u8 version = 1 | u8 flags = 0 | u16 reserved = 0 | u64 count K
    K rows of 128 bytes: C1.x | C1.y | C2.x | C2.y   (32-byte big-endian coordinates)

Points are stored uncompressed so that a reader validates a point with one field range
check and the curve equation, never a square root. The point at infinity is 64 zero bytes
((0, 0) is not on the curve, so the encoding is unambiguous).
"""

from __future__ import annotations

import operator
import struct
from collections.abc import Iterable, Sequence

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import resolve_threads
from fbh.crypto.errors import InvalidPoint, MalformedCiphertext

__all__ = ["HEADER", "MAGIC", "ROW_BYTES", "VERSION", "Ciphertexts", "parse_wire"]

MAGIC = b"FBHC"
VERSION = 1
HEADER = struct.Struct("<4sBBHQ")
ROW_BYTES = 128
POINT_BYTES = 64
SEC1_BYTES = 33
GROUP_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def parse_wire(data: bytes | bytearray | memoryview) -> np.ndarray:
    """Check the header of a serialized batch and view its rows (no copy, no point checks).

    Returns:
        A read-only ``uint8[K, 128]`` view into ``data``.

    Raises:
        MalformedCiphertext: Short header, bad magic, unknown version or flags, truncated
            rows or trailing bytes.
    """
    view = memoryview(data).cast("B")
    if len(view) < HEADER.size:
        msg = f"ciphertext blob truncated: {len(view)} bytes, the header alone is {HEADER.size}"
        raise MalformedCiphertext(msg)
    magic, version, flags, reserved, count = HEADER.unpack_from(view)
    if magic != MAGIC:
        msg = f"bad magic {bytes(magic)!r}: not an fbh ciphertext blob (expected {MAGIC!r})"
        raise MalformedCiphertext(msg)
    if version != VERSION:
        msg = f"unsupported ciphertext format version {version} (this build reads {VERSION})"
        raise MalformedCiphertext(msg)
    if flags != 0 or reserved != 0:
        msg = f"unsupported ciphertext flags {flags:#x} / reserved {reserved:#x} (must be 0)"
        raise MalformedCiphertext(msg)
    expected = HEADER.size + count * ROW_BYTES
    if len(view) < expected:
        msg = (
            f"ciphertext blob truncated: header says {count} rows ({expected} bytes), "
            f"got {len(view)}"
        )
        raise MalformedCiphertext(msg)
    if len(view) > expected:
        msg = f"ciphertext blob has {len(view) - expected} trailing bytes after {count} rows"
        raise MalformedCiphertext(msg)
    rows = np.frombuffer(view, dtype=np.uint8, count=count * ROW_BYTES, offset=HEADER.size)
    return rows.reshape(count, ROW_BYTES)


def _raise_invalid_row(index: int, what: str = "ciphertext") -> None:
    msg = (
        f"{what} {index} holds a point that is not on secp256k1 "
        "(coordinate >= p or curve equation fails)"
    )
    raise InvalidPoint(msg)


class Ciphertexts:
    """K exponential-ElGamal ciphertexts ``(C1, C2) = (r G, m G + r PK)``, stored as rows.

    Supports the homomorphic operations on public data: ``a + b`` (see
    :func:`fbh.crypto.aggregate`), ``a - b``, ``-a`` and ``k * a`` for a public integer ``k``
    (``Dec(k * Enc(m)) = k * m``). ``a == b`` compares the points exactly. Instances are
    immutable.
    """

    __slots__ = ("_rows",)

    def __init__(self, rows: np.ndarray) -> None:
        """Wrap validated rows (internal: use encrypt, aggregate or the from_* constructors)."""
        rows = np.ascontiguousarray(rows, dtype=np.uint8)
        if rows.ndim != 2 or rows.shape[1] != ROW_BYTES:
            msg = f"ciphertext rows must have shape (K, {ROW_BYTES}), got {rows.shape}"
            raise ValueError(msg)
        rows.flags.writeable = False
        self._rows = rows

    # -- serialization --------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """The versioned wire format: 16-byte header plus 128 bytes per ciphertext."""
        return HEADER.pack(MAGIC, VERSION, 0, 0, len(self)) + self._rows.tobytes()

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, *, threads: int | None = None
    ) -> Ciphertexts:
        """Parse and validate a blob written by :meth:`to_bytes`.

        Raises:
            MalformedCiphertext: Bad header, truncated data or trailing bytes.
            InvalidPoint: A coordinate ``>= p`` or a point off the curve (names the index).
        """
        rows = parse_wire(data)
        bad = _ec.validate_rows(rows, resolve_threads(threads))
        if bad >= 0:
            _raise_invalid_row(bad // 2)
        return cls(rows.copy())

    def to_sec1(self) -> list[tuple[bytes, bytes]]:
        """``(C1, C2)`` per ciphertext as 33-byte SEC1 compressed points.

        The point at infinity (which SEC1 writes as the single byte 0) is ``b"\\x00"``.
        """
        pts = _ec.to_sec1(self._rows)
        out = []
        for c1, c2 in pts:
            a, b = c1.tobytes(), c2.tobytes()
            out.append((a if a[0] else b"\x00", b if b[0] else b"\x00"))
        return out

    @classmethod
    def from_sec1(cls, pairs: Iterable[tuple[bytes, bytes]]) -> Ciphertexts:
        """Inverse of :meth:`to_sec1`; every point is decompressed and validated.

        Raises:
            TypeError: A point is not bytes-like (e.g. an int, which bytes() would read as zeros).
            InvalidPoint: A point is malformed or not on the curve (names the index).
        """
        pairs = list(pairs)
        arr = np.zeros((len(pairs), 2, SEC1_BYTES), dtype=np.uint8)
        for k, pair in enumerate(pairs):
            if len(pair) != 2:
                msg = f"ciphertext {k}: expected a (c1, c2) pair, got {len(pair)} items"
                raise ValueError(msg)
            for j, pt in enumerate(pair):
                if not isinstance(pt, (bytes, bytearray, memoryview)):
                    # bytes(1) would be b"\x00", read as infinity: only accept real bytes.
                    msg = f"ciphertext {k}: point {j} must be bytes, got {type(pt).__name__}"
                    raise TypeError(msg)
                pt = bytes(pt)
                if pt == b"\x00":
                    continue
                if len(pt) != SEC1_BYTES or pt[0] not in (2, 3):
                    msg = f"ciphertext {k}: point {j} must be 33-byte SEC1 compressed or b'\\x00'"
                    raise InvalidPoint(msg)
                arr[k, j] = np.frombuffer(pt, dtype=np.uint8)
        rows, bad = _ec.from_sec1(arr)
        if bad >= 0:
            _raise_invalid_row(bad // 2)
        return cls(rows)

    # -- container protocol -----------------------------------------------------------

    def __len__(self) -> int:
        return self._rows.shape[0]

    @property
    def nbytes(self) -> int:
        """Size of the wire format in bytes."""
        return HEADER.size + self._rows.nbytes

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Ciphertexts):
            return NotImplemented
        same_shape = self._rows.shape == other._rows.shape
        return same_shape and bool(np.array_equal(self._rows, other._rows))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Ciphertexts(K={len(self)}, {self.nbytes} bytes)"

    def __getitem__(self, index: int | slice | Sequence[int] | np.ndarray) -> Ciphertexts:
        """A sub-batch (always a ``Ciphertexts``; an int gives a batch of one)."""
        if isinstance(index, (int, np.integer)):
            k = operator.index(index)
            rows = self._rows[k : k + 1] if k != -1 else self._rows[-1:]
            if rows.shape[0] != 1:
                msg = f"ciphertext index {k} out of range for {len(self)} ciphertexts"
                raise IndexError(msg)
            return Ciphertexts(rows)
        return Ciphertexts(self._rows[index])

    # -- homomorphic operations on public data ------------------------------------------

    def __add__(self, other: object) -> Ciphertexts:
        if not isinstance(other, Ciphertexts):
            return NotImplemented
        from fbh.crypto.elgamal import aggregate

        return aggregate([self, other])

    def __radd__(self, other: object) -> Ciphertexts:
        if isinstance(other, int) and other == 0:  # lets sum(list_of_ciphertexts) work
            return self
        return NotImplemented

    def __neg__(self) -> Ciphertexts:
        return Ciphertexts(_ec.negate_points(self._rows.reshape(-1, 2, 64)).reshape(-1, ROW_BYTES))

    def __sub__(self, other: object) -> Ciphertexts:
        if not isinstance(other, Ciphertexts):
            return NotImplemented
        return self + (-other)

    def __mul__(self, k: object) -> Ciphertexts:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            return NotImplemented
        return self.scale(int(k))

    __rmul__ = __mul__

    def scale(self, k: int, *, threads: int | None = None) -> Ciphertexts:
        """``k * self`` for a public integer k (any sign or size; reduced mod n)."""
        k = operator.index(k) % GROUP_ORDER
        if k == 0:
            return Ciphertexts(np.zeros_like(self._rows))
        if k == 1 or len(self) == 0:
            return self
        points = self._rows.reshape(-1, 2, 64)
        out = _ec.scale_points(points, k.to_bytes(32, "big"), resolve_threads(threads))
        return Ciphertexts(out.reshape(-1, ROW_BYTES))
