"""Reading IDX files (the MNIST/EMNIST array format), plain or gzip-compressed.

IDX layout: two zero bytes, a type code, the number of dimensions ``d``, then
``d`` big-endian uint32 sizes, then the row-major payload (big-endian for
multi-byte types). Everything is validated before any array is allocated, so a
corrupt or truncated file fails with :class:`IdxFormatError` naming the file,
never with a numpy reshape error or a huge allocation.

References:
    Y. LeCun, C. Cortes, C. J. C. Burges, "The MNIST database of handwritten
    digits", file format section, http://yann.lecun.com/exdb/mnist/.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import math
import zlib

import numpy as np

__all__ = ["CorruptFileError", "IdxFormatError", "read_idx", "read_idx_gz"]

# type code -> big-endian numpy dtype
_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
# EMNIST byclass train images (~550 MB) are the largest legitimate payload; a
# header promising far more than this is corrupt, not big.
_MAX_PAYLOAD = 1 << 32


class CorruptFileError(ValueError):
    """A data file (IDX, gzip, zip, mapping) cannot be parsed."""


class IdxFormatError(CorruptFileError):
    """A file is not a well-formed IDX (or gzip) file of the expected shape."""


def _header(buf: bytes, name: str) -> tuple[np.dtype, tuple[int, ...], int]:
    """Parse and validate an IDX header; returns (dtype, dims, header length)."""
    if len(buf) < 4:
        msg = f"{name}: too short for an IDX header ({len(buf)} bytes)"
        raise IdxFormatError(msg)
    zero0, zero1, code, ndim = buf[0], buf[1], buf[2], buf[3]
    if zero0 or zero1 or code not in _DTYPES or ndim == 0:
        msg = f"{name}: bad IDX magic number 0x{int.from_bytes(buf[:4], 'big'):08x}"
        raise IdxFormatError(msg)
    end = 4 + 4 * ndim
    if len(buf) < end:
        msg = f"{name}: IDX header truncated (needs {end} bytes, has {len(buf)})"
        raise IdxFormatError(msg)
    dims = tuple(int.from_bytes(buf[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    return _DTYPES[code], dims, end


def read_idx(buf: bytes, *, name: str = "<bytes>", ndim: int | None = None) -> np.ndarray:
    """Decode uncompressed IDX bytes into an array in native byte order.

    Args:
        buf: The whole file contents.
        name: File name used in error messages.
        ndim: If given, the number of dimensions the file must have.

    Returns:
        An array of shape ``dims`` from the header (uint8 for MNIST/EMNIST).

    Raises:
        IdxFormatError: Bad magic number, wrong ``ndim``, or a payload whose
            length differs from the product of the dimensions.
    """
    dtype, dims, start = _header(buf, name)
    return _decode(memoryview(buf)[start:], dtype, dims, name=name, ndim=ndim)


def _decode(
    payload: bytes | memoryview,
    dtype: np.dtype,
    dims: tuple[int, ...],
    *,
    name: str,
    ndim: int | None,
) -> np.ndarray:
    """Check the payload against the header and view it as an array."""
    if ndim is not None and len(dims) != ndim:
        msg = f"{name}: expected {ndim} dimensions, the IDX header has {len(dims)} {dims}"
        raise IdxFormatError(msg)
    want = math.prod(dims) * dtype.itemsize
    if want != len(payload):
        msg = f"{name}: header {dims} promises {want} payload bytes but the file has {len(payload)}"
        raise IdxFormatError(msg)
    arr = np.frombuffer(payload, dtype=dtype).reshape(dims)
    # uint8 stays a zero-copy (read-only) view; wider types are byte-swapped.
    return arr.astype(dtype.newbyteorder("="), copy=False)


def read_idx_gz(
    data: bytes, *, name: str = "<bytes>", ndim: int | None = None
) -> tuple[np.ndarray, str]:
    """Decompress and decode a gzip IDX file, hashing the decompressed bytes.

    Args:
        data: The ``.gz`` file contents.
        name: File name used in error messages.
        ndim: If given, the number of dimensions the file must have.

    Returns:
        ``(array, raw_sha256)``: the decoded array and the hex SHA-256 of the
        decompressed bytes (so callers can verify a re-compressed copy).

    Raises:
        IdxFormatError: Not gzip, truncated, trailing bytes, or a bad IDX
            payload.
    """
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as f:
            head = f.read(4)
            if len(head) == 4 and 0 < head[3] <= 8:
                head += f.read(4 * head[3])
            dtype, dims, _ = _header(head, name)
            want = math.prod(dims) * dtype.itemsize
            if want > _MAX_PAYLOAD:
                msg = f"{name}: header {dims} promises an implausible {want} bytes"
                raise IdxFormatError(msg)
            # Read one byte past the promised payload to detect trailing data
            # without decompressing an unbounded stream.
            payload = f.read(want + 1)
    except (OSError, EOFError, zlib.error) as e:
        msg = f"{name}: not a valid gzip file ({e})"
        raise IdxFormatError(msg) from e
    digest = hashlib.sha256(head)
    digest.update(payload)
    return _decode(payload, dtype, dims, name=name, ndim=ndim), digest.hexdigest()
