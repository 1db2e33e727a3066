"""Benchmark-only baselines: exponential ElGamal in plain Python, and context schemes.

:mod:`fbh.crypto` is measured against :class:`CoincurveElGamal`, a straightforward
exponential ElGamal on secp256k1 written the way a competent Python developer
would write it on top of coincurve (libsecp256k1): one coincurve call per point
operation, ciphertexts on the wire as pairs of 33-byte compressed points, and a
baby-step giant-step decoder whose baby steps live in a Python ``dict``.

Never use this module for real data: it is variable-time, draws nonces in
Python and exists only so the benchmark has an honest, same-run reference.

:class:`PaillierContext` (python-paillier, 2048-bit) and :class:`TenSEALContext`
(TenSEAL BFV) give context numbers for other additively homomorphic schemes.

References:
    T. ElGamal, "A public key cryptosystem and a signature scheme based on
    discrete logarithms", IEEE Trans. Inf. Theory 31(4), 1985.
    D. Shanks, "Class number, a theory of factorization, and genera",
    Proc. Symp. Pure Math. 20, 1971 (baby-step giant-step).
"""

from __future__ import annotations

import importlib
import math
import secrets
from collections.abc import Iterable, Sequence

import coincurve
from coincurve import PublicKey

__all__ = [
    "CURVE_ORDER",
    "PAIR_BYTES",
    "BaselineTable",
    "CoincurveElGamal",
    "PaillierContext",
    "TenSEALContext",
    "available",
]

#: Order n of the secp256k1 group.
CURVE_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
#: Wire bytes per ciphertext: two compressed points.
PAIR_BYTES = 66
# coincurve cannot represent the point at infinity; on the wire it is all zeros.
_INFINITY = bytes(33)

Point = PublicKey | None  # None is the point at infinity
Pair = tuple[Point, Point]


def _scalar(k: int) -> bytes:
    return (k % CURVE_ORDER).to_bytes(32, "big")


def _add(points: Iterable[Point]) -> Point:
    """Sums points; None (infinity) is the identity and may also be the result."""
    finite = [p for p in points if p is not None]
    if not finite:
        return None
    if len(finite) == 1:
        return finite[0]
    try:
        return PublicKey.combine_keys(finite)
    except ValueError:  # libsecp256k1 refuses to return the point at infinity
        return None


def _mul_g(k: int) -> Point:
    return None if k % CURVE_ORDER == 0 else PublicKey.from_secret(_scalar(k))


def _encode(p: Point) -> bytes:
    return _INFINITY if p is None else p.format()


def _decode(b: bytes) -> Point:
    return None if b == _INFINITY else PublicKey(b)


class BaselineTable:
    """Baby steps ``x(j*G) -> j`` for ``j = 1..T`` in a Python dict.

    Keying by the x-coordinate covers ``+-j`` with one entry; the parity byte
    of the compressed point tells the sign. Giant steps have size ``2T + 1``
    and walk outwards from zero, so small values are found first.

    Args:
        bound: Largest absolute value that decoding must find.
        max_giant_steps: Worst-case giant steps per value (each side); sets T.
    """

    def __init__(self, bound: int, max_giant_steps: int = 8) -> None:
        if bound < 1:
            msg = f"bound must be >= 1, got {bound}"
            raise ValueError(msg)
        self.bound = bound
        self.size = min(bound, max(math.isqrt(bound) + 1, -(-bound // (2 * max_giant_steps))))
        self.baby: dict[bytes, tuple[int, int]] = {}
        g = PublicKey.from_secret(_scalar(1))
        p = g
        for j in range(1, self.size + 1):
            enc = p.format()
            self.baby[enc[1:]] = (j, enc[0])
            p = PublicKey.combine_keys([p, g])
        self.step = 2 * self.size + 1
        self.giant = PublicKey.from_secret(_scalar(self.step))
        self.neg_giant = PublicKey.from_secret(_scalar(-self.step))

    def _lookup(self, p: Point) -> int | None:
        if p is None:
            return 0
        enc = p.format()
        hit = self.baby.get(enc[1:])
        if hit is None:
            return None
        j, parity = hit
        return j if enc[0] == parity else -j

    def decode(self, p: Point) -> int | None:
        """Returns m with ``p == m*G`` and ``|m| <= bound``, or None."""
        j = self._lookup(p)
        if j is not None:
            return j  # |j| <= size <= bound
        up, down = p, p  # up = p - k*S, down = p + k*S
        k = 1
        while k * self.step - self.size <= self.bound:
            up = _add([up, self.neg_giant])
            down = _add([down, self.giant])
            for point, sign in ((up, 1), (down, -1)):
                j = self._lookup(point)
                if j is not None:
                    m = sign * k * self.step + j
                    return m if abs(m) <= self.bound else None
            k += 1
        return None


class CoincurveElGamal:
    """Exponential ElGamal ``(r*G, m*G + r*pk)`` with one coincurve call per step.

    Args:
        secret: 32-byte private scalar; a fresh random key when None.
    """

    def __init__(self, secret: bytes | None = None) -> None:
        self.private_key = coincurve.PrivateKey(secret)
        self.public_key = self.private_key.public_key
        self._neg_secret = _scalar(-int.from_bytes(self.private_key.secret, "big"))

    def encrypt(self, values: Iterable[int]) -> bytes:
        """Encrypts each value; returns the wire form (66 bytes per value)."""
        out = []
        pk = self.public_key
        for m in values:
            r = secrets.randbelow(CURVE_ORDER - 1) + 1
            rb = r.to_bytes(32, "big")
            c1 = PublicKey.from_secret(rb)
            c2 = _add([_mul_g(int(m)), pk.multiply(rb)])
            out.append(c1.format() + _encode(c2))
        return b"".join(out)

    @staticmethod
    def parse(blob: bytes) -> list[Pair]:
        """Wire bytes -> list of point pairs (each point is decompressed)."""
        if len(blob) % PAIR_BYTES:
            msg = f"blob length {len(blob)} is not a multiple of {PAIR_BYTES}"
            raise ValueError(msg)
        return [
            (_decode(blob[i : i + 33]), _decode(blob[i + 33 : i + PAIR_BYTES]))
            for i in range(0, len(blob), PAIR_BYTES)
        ]

    @staticmethod
    def serialize(pairs: Sequence[Pair]) -> bytes:
        """List of point pairs -> wire bytes."""
        return b"".join(_encode(c1) + _encode(c2) for c1, c2 in pairs)

    @classmethod
    def aggregate(cls, blobs: Sequence[bytes]) -> list[Pair]:
        """Homomorphic sum of several clients' wire blobs of equal length."""
        if len({len(b) for b in blobs}) > 1:
            msg = f"blobs differ in length: {[len(b) for b in blobs]}"
            raise ValueError(msg)
        parsed = [cls.parse(b) for b in blobs]
        return [
            (_add(c[0] for c in column), _add(c[1] for c in column))
            for column in zip(*parsed, strict=True)
        ]

    def decrypt(self, pairs: Sequence[Pair], table: BaselineTable) -> list[int]:
        """Decrypts point pairs; raises ValueError naming the first undecodable index."""
        out = []
        for i, (c1, c2) in enumerate(pairs):
            s = None if c1 is None else c1.multiply(self._neg_secret)
            m = table.decode(_add([c2, s]))
            if m is None:
                msg = f"value at index {i} is beyond the bound {table.bound}"
                raise ValueError(msg)
            out.append(m)
        return out


class PaillierContext:
    """python-paillier (``phe``) with a 2048-bit modulus, one ciphertext per value.

    Raises:
        ImportError: If ``phe`` is not installed.
    """

    #: Wire bytes per value: one integer modulo n^2.
    BYTES_PER_VALUE = 512

    def __init__(self, n_length: int = 2048) -> None:
        from phe import paillier  # noqa: PLC0415  (optional dependency)

        self._paillier = paillier
        self.public_key, self.private_key = paillier.generate_paillier_keypair(n_length=n_length)

    def encrypt(self, values: Iterable[int]) -> list[bytes]:
        """Encrypts (with phe's obfuscation) and serializes each value."""
        return [self._to_bytes(self.public_key.encrypt(int(m))) for m in values]

    def shift(self, blobs: list[bytes], delta: Sequence[int]) -> list[bytes]:
        """Adds plaintext deltas without re-randomizing (cheap input generation only)."""
        return [self._to_bytes(self._from_bytes(b) + int(d)) for b, d in zip(blobs, delta, strict=True)]

    def aggregate(self, clients: Sequence[list[bytes]]) -> list:
        """Parses every client's ciphertexts and sums them per value."""
        parsed = [[self._from_bytes(b) for b in blobs] for blobs in clients]
        return [sum(column[1:], column[0]) for column in zip(*parsed, strict=True)]

    def decrypt(self, encrypted: Sequence) -> list[int]:
        """Decrypts phe EncryptedNumbers."""
        return [self.private_key.decrypt(e) for e in encrypted]

    def _to_bytes(self, e) -> bytes:
        return e.ciphertext(be_secure=False).to_bytes(self.BYTES_PER_VALUE, "big")

    def _from_bytes(self, b: bytes):
        c = int.from_bytes(b, "big")
        return self._paillier.EncryptedNumber(self.public_key, c, 0)


class TenSEALContext:
    """TenSEAL BFV (Microsoft SEAL), N = 8192 slots per ciphertext, batched.

    The server aggregates under a public copy of the context (no secret key).

    Raises:
        ImportError: If ``tenseal`` is not installed.
    """

    SLOTS = 8192
    PLAIN_MODULUS = 1032193  # prime = 1 mod 2*8192 (batching); sums must stay below half of it

    def __init__(self) -> None:
        import tenseal as ts  # noqa: PLC0415  (optional dependency)

        self._ts = ts
        self.context = ts.context(ts.SCHEME_TYPE.BFV, poly_modulus_degree=self.SLOTS,
                                  plain_modulus=self.PLAIN_MODULUS)
        self.public_context = self.context.copy()
        self.public_context.make_context_public()

    def encrypt(self, values: Sequence[int]) -> list[bytes]:
        """Encrypts SLOTS values per ciphertext; returns the serialized ciphertexts."""
        return [self._ts.bfv_vector(self.context, list(values[i : i + self.SLOTS])).serialize()
                for i in range(0, len(values), self.SLOTS)]

    def aggregate(self, clients: Sequence[list[bytes]]) -> list:
        """Parses every client's ciphertexts (public context) and sums them chunk by chunk."""
        out = []
        for column in zip(*clients, strict=True):
            vecs = [self._ts.bfv_vector_from(self.public_context, b) for b in column]
            out.append(sum(vecs[1:], vecs[0]))
        return out

    def decrypt(self, encrypted: Sequence) -> list[int]:
        """Decrypts the summed chunks (re-linked to the secret context)."""
        out: list[int] = []
        for e in encrypted:
            e.link_context(self.context)
            out.extend(e.decrypt())
        return out


def available(module: str) -> bool:
    """Whether an optional context library (``phe``, ``tenseal``) can be imported."""
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True
