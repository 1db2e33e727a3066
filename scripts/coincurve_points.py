"""secp256k1 points through coincurve (libsecp256k1), shared by the known-answer vector scripts.

coincurve cannot represent the point at infinity: these helpers return None for it, and
:func:`hx` writes SEC1's single ``0x00`` byte.
"""

from __future__ import annotations

from coincurve import PublicKey

P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
INF = "00"  # SEC1 encoding of the point at infinity


def _b32(k: int) -> bytes:
    return (k % N).to_bytes(32, "big")


def mul_g(k: int) -> PublicKey | None:
    """k*G via coincurve, None for infinity."""
    return None if k % N == 0 else PublicKey.from_secret(_b32(k))


def add(*points: PublicKey | None) -> PublicKey | None:
    finite = [q for q in points if q is not None]
    if not finite:
        return None
    try:
        return PublicKey.combine_keys(finite) if len(finite) > 1 else finite[0]
    except ValueError:  # libsecp256k1 refuses to return infinity
        return None


def mul(k: int, point: PublicKey | None) -> PublicKey | None:
    return None if point is None or k % N == 0 else point.multiply(_b32(k))


def hx(point: PublicKey | None) -> str:
    return INF if point is None else point.format().hex()
