"""secp256k1 key pairs for exponential ElGamal.

The secret scalar lives in the C++ extension and is overwritten with zeros when the key
object is freed; :class:`PrivateKey` refuses to be pickled or copied so that it cannot leak
into a file or another process by accident.
"""

from __future__ import annotations

import hmac
from fbh.crypto import _ec
from fbh.crypto._common import NotCopyable
from fbh.crypto.errors import CryptoError, InvalidPoint

__all__ = ["PrivateKey", "PublicKey"]

SCALAR_BYTES = 32


def _as_bytes(data: object, what: str) -> bytes:
    """bytes(data) for bytes-like input only (bytes(int) would silently make zeros)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        msg = f"{what} must be bytes, got {type(data).__name__}"
        raise TypeError(msg)
    return bytes(data)


class PublicKey:
    """A public key: a point of secp256k1 other than infinity.

    The fixed-base tables that make :func:`fbh.crypto.encrypt` fast are built on first use and
    cached inside the object, so reuse one ``PublicKey`` for many batches.
    """

    __slots__ = ("_core", "_compressed")

    def __init__(self, core: _ec.PubKey) -> None:
        self._core = core
        self._compressed: bytes = core.to_bytes(True)

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKey:
        """Parse a SEC1 public key.

        Args:
            data: 33 bytes (compressed, prefix 2/3) or 65 bytes (uncompressed, prefix 4).

        Raises:
            TypeError: data is not bytes-like.
            InvalidPoint: Wrong length or prefix, ``x >= p``, or not a point of the curve.
        """
        data = _as_bytes(data, "public key")
        if len(data) not in (33, 65):
            msg = f"public key must be 33 or 65 bytes, got {len(data)}"
            raise InvalidPoint(msg)
        try:
            return cls(_ec.PubKey.from_bytes(data))
        except ValueError as e:
            msg = f"invalid public key {data.hex()}: {e}"
            raise InvalidPoint(msg) from None

    def to_bytes(self, *, compressed: bool = True) -> bytes:
        """SEC1 encoding: 33 bytes compressed (default) or 65 bytes uncompressed."""
        return self._compressed if compressed else self._core.to_bytes(False)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKey):
            return NotImplemented
        return self._compressed == other._compressed

    def __hash__(self) -> int:
        return hash(self._compressed)

    def __repr__(self) -> str:
        return f"PublicKey({self._compressed.hex()})"


class PrivateKey(NotCopyable):
    """A private key: a scalar in ``[1, n - 1]``, kept inside the C++ extension.

    Its ``repr`` hides the secret, and pickling or copying raises ``TypeError``. The only way
    to export the secret is the explicit :meth:`to_bytes` (Python ``bytes`` cannot be wiped).
    """

    __slots__ = ("_core", "_public")

    def __init__(self, core: _ec.SecKey) -> None:
        self._core = core
        self._public: PublicKey | None = None

    @classmethod
    def generate(cls) -> PrivateKey:
        """A fresh key from the OS CSPRNG (getrandom), rejection-sampled into ``[1, n - 1]``."""
        return cls(_ec.SecKey.generate())

    @classmethod
    def from_bytes(cls, data: bytes) -> PrivateKey:
        """Load a 32-byte big-endian scalar.

        Raises:
            TypeError: data is not bytes-like.
            CryptoError: Wrong length, zero, or not below the group order n.
        """
        data = _as_bytes(data, "private key")
        if len(data) != SCALAR_BYTES:
            msg = f"private key must be {SCALAR_BYTES} bytes, got {len(data)}"
            raise CryptoError(msg)
        try:
            return cls(_ec.SecKey.from_bytes(data))
        except ValueError:
            msg = "private key must be a scalar in [1, n - 1] (got 0 or a value >= n)"
            raise CryptoError(msg) from None

    def to_bytes(self) -> bytes:
        """The secret as 32 big-endian bytes. Handle with care: the copy cannot be wiped."""
        return self._core.to_bytes()

    @property
    def public_key(self) -> PublicKey:
        """The matching public key ``sk * G`` (computed once, in constant time)."""
        if self._public is None:
            self._public = PublicKey(self._core.public_key())
        return self._public

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PrivateKey):
            return NotImplemented
        return hmac.compare_digest(self._core.to_bytes(), other._core.to_bytes())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PrivateKey(<secret>, public_key={self.public_key.to_bytes().hex()})"
