"""Single secp256k1 points as 64-byte ``x || y`` strings (infinity: 64 zero bytes).

Thin wrappers over the C++ core for the trust layer's proofs: public-scalar operations are
variable time, :func:`mul_secret` and :func:`mul_base` are constant time in the scalar.
"""

from __future__ import annotations

import numpy as np

from fbh.crypto import _ec
from fbh.crypto.hash import GROUP_ORDER

__all__ = ["INFINITY", "add", "combine", "lincomb", "mul_base", "mul_public", "mul_secret", "neg", "scalar_bytes"]

INFINITY = bytes(64)


def scalar_bytes(k: int) -> bytes:
    """k mod n as 32 big-endian bytes."""
    return (k % GROUP_ORDER).to_bytes(32, "big")


def _arr(points: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(points), dtype=np.uint8).reshape(len(points), 64)


def add(*points: bytes) -> bytes:
    """Sum of points (public)."""
    if len(points) == 1:
        return points[0]
    out, bad, _ = _ec.aggregate_points([_arr([p]) for p in points], [True] * len(points), 1)
    if bad >= 0:
        msg = "invalid point in sum"
        raise ValueError(msg)
    return out.tobytes()


def neg(p: bytes) -> bytes:
    """-p."""
    return _ec.negate_points(_arr([p])).tobytes()


def mul_public(p: bytes, k: int) -> bytes:
    """k p for a public scalar (variable time)."""
    return combine([(p, k)])


def combine(terms: list[tuple[bytes, int]]) -> bytes:
    """sum_i k_i p_i for public points and scalars (one multi-scalar multiplication)."""
    terms = [(p, k % GROUP_ORDER) for p, k in terms if p != INFINITY and k % GROUP_ORDER]
    if not terms:
        return INFINITY
    sc = np.frombuffer(b"".join(scalar_bytes(k) for _, k in terms), dtype=np.uint8).reshape(-1, 32)
    return _ec.points_lincomb(_arr([p for p, _ in terms]), sc)


def mul_secret(p: bytes, k: bytes) -> bytes:
    """k p for a secret 32-byte scalar in [1, n-1] and a finite public point (constant time)."""
    return _ec.point_mul_const(p, k)


def mul_base(k: bytes) -> bytes:
    """k G for a secret 32-byte scalar in [1, n-1] (constant time)."""
    return _ec.SecKey.from_bytes(k).public_key().to_bytes(compressed=False)[1:]


def lincomb(points: np.ndarray, scalars: np.ndarray) -> bytes:
    """sum_i scalars[i] points[i] for ``uint8[n, 64]`` points and ``uint8[n, 32]`` scalars."""
    return _ec.points_lincomb(points, scalars)
