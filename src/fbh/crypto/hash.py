"""One domain-separated hash for every Fiat-Shamir transcript of the trust layer.

Like ElectionGuard's ``hash_elems`` (microsoft/electionguard-python:src/electionguard/hash.py),
every element is length-prefixed so that no two different transcripts encode to the same
bytes, and every use names its own tag.
"""

from __future__ import annotations

import hashlib
import struct

import numpy as np

__all__ = ["GROUP_ORDER", "coefficients", "hash_elems", "hash_to_scalar"]

#: Order n of the secp256k1 group.
GROUP_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

Elem = bytes | bytearray | memoryview | int | str


def _encode(e: Elem) -> bytes:
    if isinstance(e, bool):
        msg = "hash elements must be bytes, str or int, not bool"
        raise TypeError(msg)
    if isinstance(e, int):
        if e < 0:
            msg = f"hash integers must be >= 0, got {e}"
            raise ValueError(msg)
        e = e.to_bytes(max(1, (e.bit_length() + 7) // 8), "big")
    elif isinstance(e, str):
        e = e.encode()
    elif isinstance(e, (bytearray, memoryview)):
        e = bytes(e)
    elif not isinstance(e, bytes):
        msg = f"cannot hash {type(e).__name__}"
        raise TypeError(msg)
    return struct.pack(">Q", len(e)) + e


def hash_elems(tag: bytes, *elems: Elem) -> bytes:
    """SHA-256 of the tag and every element, each prefixed with its 8-byte length."""
    h = hashlib.sha256(_encode(tag))
    for e in elems:
        h.update(_encode(e))
    return h.digest()


def hash_to_scalar(tag: bytes, *elems: Elem) -> int:
    """A challenge in [0, n): 512 hash bits reduced mod n (bias below 2^-256)."""
    d = hash_elems(tag, *elems)
    wide = hashlib.sha512(b"FBH/wide\x00" + d).digest()
    return int.from_bytes(wide, "big") % GROUP_ORDER


def coefficients(seed: bytes, count: int, nbytes: int = 16) -> np.ndarray:
    """``count`` nonzero batching coefficients of ``8 * nbytes`` bits as ``uint8[count, 32]``
    big-endian scalars, expanded from ``seed`` with SHAKE-256 (the hash-derived coefficients of
    a random-linear-combination batch check)."""
    raw = np.frombuffer(hashlib.shake_256(seed).digest(count * nbytes), dtype=np.uint8)
    out = np.zeros((count, 32), dtype=np.uint8)
    out[:, 32 - nbytes :] = raw.reshape(count, nbytes)
    out[:, 31] |= 1  # never zero: a zero coefficient would drop its block from the check
    return out
