"""Key sets for packed ElGamal: ``k`` independent secp256k1 key pairs ``(s_j, P_j = s_j G)``.

Each slot j of a packed block is encrypted under its own key ``P_j``; the scalars are drawn
independently from the OS CSPRNG, never derived from each other (related keys leak
differences of plaintexts, see ``tests/crypto/test_packed_attacks.py``), so each ``s_j`` can
later be Shamir-shared among guardians on its own.

Public key set wire format (little-endian header)::

    b"FBHK" | u8 version = 2 | u8 reserved = 0 | u16 k | k points of 64 bytes (x || y)

References:
    M. Bellare, A. Boldyreva, J. Staddon, "Randomness re-use in multi-recipient encryption
    schemes", PKC 2003; K. Kurosawa, "Multi-recipient public-key encryption with shortened
    ciphertext", PKC 2002.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
import threading
import weakref

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import NotCopyable
from fbh.crypto.errors import CryptoError, InvalidPoint, MalformedCiphertext, UnsupportedVersion
from fbh.crypto.keys import _as_bytes

__all__ = ["DEFAULT_K", "MAX_K", "KeySet", "PublicKeySet"]

#: Slots per block by default, chosen by measurement (README, "Packed ciphertexts"): k >= 24 is
#: needed for <= 72 bytes per value with the proof; 32 gives 69.0 and the encryption and
#: decryption targets, while 64 would gain ~10% per value for twice the table memory (the fast
#: tables hold 22 * 2048 points per key: ~3.6 MB per key, 119 MB at k = 32).
DEFAULT_K = 32
#: Largest k a key set may have.
MAX_K = int(_ec.MAX_SLOTS)
KEYSET_MAGIC = b"FBHK"
SECRET_MAGIC = b"FBHS"
KEYSET_VERSION = 2
_HEADER = struct.Struct("<4sBBH")


def _check_k(k: object) -> int:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        msg = f"k must be an integer, got {type(k).__name__}"
        raise TypeError(msg)
    k = int(k)
    if not 1 <= k <= MAX_K:
        msg = f"k must be in [1, {MAX_K}], got {k}"
        raise ValueError(msg)
    return k


def _parse_header(data: bytes, magic: bytes, what: str, item_bytes: int) -> int:
    """Check a key-set header and length; returns k."""
    if len(data) < _HEADER.size:
        msg = f"{what} truncated: {len(data)} bytes, the header alone is {_HEADER.size}"
        raise MalformedCiphertext(msg)
    got_magic, version, reserved, k = _HEADER.unpack_from(data)
    if got_magic != magic:
        msg = f"bad magic {got_magic!r}: not an fbh {what} (expected {magic!r})"
        raise MalformedCiphertext(msg)
    if version != KEYSET_VERSION:
        msg = f"unsupported {what} version {version} (this build reads {KEYSET_VERSION})"
        raise UnsupportedVersion(msg, version=version)
    if reserved != 0 or not 1 <= k <= MAX_K:
        msg = f"{what} header invalid: reserved {reserved}, k {k} (need 0 and 1..{MAX_K})"
        raise MalformedCiphertext(msg)
    if len(data) != _HEADER.size + k * item_bytes:
        msg = f"{what} with k = {k} must be {_HEADER.size + k * item_bytes} bytes, got {len(data)}"
        raise MalformedCiphertext(msg)
    return k


class PublicKeySet:
    """The public half of a :class:`KeySet`: k points ``P_j``, what hospitals encrypt to.

    The interleaved fixed-base tables that make :func:`fbh.crypto.encrypt_packed` fast are
    built on first use (per mode) and cached in the object; :meth:`from_bytes` returns the live
    instance for equal bytes, so every holder of one key set shares one set of tables.
    """

    __slots__ = ("__weakref__", "_core", "_bytes")
    _interned: weakref.WeakValueDictionary[bytes, PublicKeySet] = weakref.WeakValueDictionary()
    _intern_lock = threading.Lock()

    def __init__(self, core: _ec.PubKeySet) -> None:
        self._core = core
        pts = core.points()
        self._bytes = _HEADER.pack(KEYSET_MAGIC, KEYSET_VERSION, 0, core.k) + pts.tobytes()

    @property
    def k(self) -> int:
        """Number of slots (keys)."""
        return int(self._core.k)

    def to_bytes(self) -> bytes:
        """Versioned wire form: 8-byte header and k uncompressed 64-byte points."""
        return self._bytes

    @classmethod
    def from_bytes(cls, data: bytes) -> PublicKeySet:
        """Parse and validate :meth:`to_bytes` output.

        Raises:
            TypeError: data is not bytes-like.
            UnsupportedVersion: Another format version.
            MalformedCiphertext: Bad magic, header or length.
            InvalidPoint: A key is not a finite point of secp256k1 (names it).
        """
        data = _as_bytes(data, "public key set")
        with cls._intern_lock:
            live = cls._interned.get(data)
        if live is not None:
            return live
        k = _parse_header(data, KEYSET_MAGIC, "public key set", 64)
        pts = np.frombuffer(data, dtype=np.uint8, offset=_HEADER.size).reshape(k, 64)
        try:
            pub = cls(_ec.PubKeySet.from_points(pts))
        except ValueError as e:
            raise InvalidPoint(str(e)) from None
        with cls._intern_lock:
            return cls._interned.setdefault(data, pub)

    def digest(self) -> bytes:
        """SHA-256 of :meth:`to_bytes`: 32 bytes, what goes on chain."""
        return hashlib.sha256(self._bytes).digest()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, PublicKeySet):
            return NotImplemented
        return self._bytes == other._bytes

    def __hash__(self) -> int:
        return hash(self._bytes)

    def __repr__(self) -> str:
        return f"PublicKeySet(k={self.k}, digest={self.digest().hex()[:16]}...)"


class KeySet(NotCopyable):
    """k independent secret scalars ``s_j`` in ``[1, n - 1]``, kept inside the C++ extension.

    The scalars are wiped when the object is freed; ``repr`` hides them, and pickling or copying
    raises ``TypeError``. The only export is the explicit :meth:`to_bytes`.
    """

    __slots__ = ("_core", "_public")

    def __init__(self, core: _ec.SecKeySet) -> None:
        self._core = core
        self._public: PublicKeySet | None = None

    @classmethod
    def generate(cls, k: int = DEFAULT_K) -> KeySet:
        """k fresh independent keys from the OS CSPRNG (rejection-sampled into ``[1, n - 1]``)."""
        return cls(_ec.SecKeySet.generate(_check_k(k)))

    @property
    def k(self) -> int:
        """Number of slots (keys)."""
        return int(self._core.k)

    @property
    def public(self) -> PublicKeySet:
        """The public key set ``P_j = s_j G`` (computed once, in constant time)."""
        if self._public is None:
            pub = PublicKeySet(self._core.public())
            with PublicKeySet._intern_lock:
                self._public = PublicKeySet._interned.setdefault(pub.to_bytes(), pub)
        return self._public

    def to_bytes(self) -> bytes:
        """``b"FBHS"`` header then k 32-byte big-endian scalars. The copy cannot be wiped."""
        return _HEADER.pack(SECRET_MAGIC, KEYSET_VERSION, 0, self.k) + self._core.to_bytes()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeySet:
        """Load :meth:`to_bytes` output.

        Raises:
            CryptoError: Bad header or length, or a scalar that is 0 or not below n.
        """
        data = _as_bytes(data, "secret key set")
        _parse_header(data, SECRET_MAGIC, "secret key set", 32)
        try:
            return cls(_ec.SecKeySet.from_bytes(data[_HEADER.size :]))
        except ValueError as e:
            raise CryptoError(str(e)) from None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, KeySet):
            return NotImplemented
        return hmac.compare_digest(self._core.to_bytes(), other._core.to_bytes())

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"KeySet(k={self.k}, <secret>, public={self.public!r})"
