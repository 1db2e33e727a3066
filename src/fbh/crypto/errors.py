"""Exceptions raised by :mod:`fbh.crypto`; all are ``ValueError`` subclasses."""

from __future__ import annotations

__all__ = [
    "CryptoError",
    "InvalidPoint",
    "InvalidProof",
    "MalformedCiphertext",
    "PlaintextOutOfRange",
    "UnsupportedVersion",
]


class CryptoError(ValueError):
    """Base class of every error raised for bad cryptographic input."""


class InvalidPoint(CryptoError):
    """A point or key is not a valid point of secp256k1 (off the curve, coordinate >= p, ...)."""


class MalformedCiphertext(CryptoError):
    """A serialized ciphertext blob is malformed: magic, version, length or trailing bytes."""


class PlaintextOutOfRange(CryptoError):
    """A plaintext is outside the accepted range.

    Raised by ``encrypt`` for ``|m| > MAX_PLAINTEXT`` and by ``decrypt`` for a value beyond
    ``bound`` (including points that are not ``m * G`` for any ``|m| <= bound``).

    Attributes:
        index: The first offending position in the batch.
        value: The offending plaintext, or ``None`` when it could not be decoded.
        bound: The limit that was exceeded.
    """

    def __init__(self, message: str, *, index: int, value: int | None, bound: int) -> None:
        super().__init__(message)
        self.index = index
        self.value = value
        self.bound = bound


class UnsupportedVersion(MalformedCiphertext):
    """A blob or key set in a format version this build does not read (e.g. a v1 blob).

    Attributes:
        version: The version byte found in the header.
    """

    def __init__(self, message: str, *, version: int) -> None:
        super().__init__(message)
        self.version = version


class InvalidProof(CryptoError):
    """A packed ciphertext's proof of knowledge of its nonces does not verify.

    Attributes:
        block: ``None`` for packed v3 blobs: one proof covers all their blocks, so a failure
            names the blob (its sender), not a block.
    """

    def __init__(self, message: str, *, block: int | None) -> None:
        super().__init__(message)
        self.block = block
