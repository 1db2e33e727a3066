"""secp256k1 in plain Python integers: the executable specification's curve, and the range proofs'
nothing-up-my-sleeve generator H.

Variable time, for reference implementations and tests only (never for secrets in production:
the C++ core does that). Points are affine ``(x, y)`` tuples, None for infinity; the wire form is
the 64-byte ``x || y`` row of :mod:`fbh.crypto.packed` (zeros for infinity).
"""

from __future__ import annotations

import hashlib

__all__ = ["G", "H_SEED", "N_ORDER", "P_FIELD", "Point", "hash_to_curve", "lin", "point_add", "point_bytes",
           "point_from_bytes", "point_mul", "point_neg"]

P_FIELD = 2**256 - 2**32 - 977
N_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)
H_SEED = b"FBH/range-v3/pedersen-H"

Point = tuple[int, int] | None  # affine (x, y); None is the point at infinity


def _jdouble(p):
    x, y, z = p
    if y == 0:
        return (0, 1, 0)
    s = 4 * x * y * y % P_FIELD
    m = 3 * x * x % P_FIELD
    x3 = (m * m - 2 * s) % P_FIELD
    return (x3, (m * (s - x3) - 8 * pow(y, 4, P_FIELD)) % P_FIELD, 2 * y * z % P_FIELD)


def _jadd(p, q):
    if p[2] == 0:
        return q
    if q[2] == 0:
        return p
    z1z1, z2z2 = p[2] * p[2] % P_FIELD, q[2] * q[2] % P_FIELD
    u1, u2 = p[0] * z2z2 % P_FIELD, q[0] * z1z1 % P_FIELD
    s1, s2 = p[1] * q[2] * z2z2 % P_FIELD, q[1] * p[2] * z1z1 % P_FIELD
    if u1 == u2:
        return _jdouble(p) if s1 == s2 else (0, 1, 0)
    h, r = u2 - u1, s2 - s1
    hh = h * h % P_FIELD
    hhh, v = h * hh % P_FIELD, u1 * hh % P_FIELD
    x3 = (r * r - hhh - 2 * v) % P_FIELD
    return (x3, (r * (v - x3) - s1 * hhh) % P_FIELD, h * p[2] * q[2] % P_FIELD)


def _to_affine(p) -> Point:
    if p[2] == 0:
        return None
    zi = pow(p[2], -1, P_FIELD)
    return (p[0] * zi * zi % P_FIELD, p[1] * zi * zi * zi % P_FIELD)


def _jac(a: Point):
    return (0, 1, 0) if a is None else (a[0], a[1], 1)


def point_add(a: Point, b: Point) -> Point:
    return _to_affine(_jadd(_jac(a), _jac(b)))


def point_neg(a: Point) -> Point:
    return None if a is None else (a[0], (-a[1]) % P_FIELD)


def point_mul(k: int, a: Point) -> Point:
    k %= N_ORDER
    acc, base = (0, 1, 0), _jac(a)
    for bit in bin(k)[2:] if k else "":
        acc = _jdouble(acc)
        if bit == "1":
            acc = _jadd(acc, base)
    return _to_affine(acc)


def lin(*terms: tuple[int, Point]) -> Point:
    """sum k_i P_i."""
    acc = (0, 1, 0)
    for k, p in terms:
        acc = _jadd(acc, _jac(point_mul(k, p)))
    return _to_affine(acc)


def point_bytes(a: Point) -> bytes:
    """64-byte row x || y (zeros for infinity), the wire format of fbh.crypto.packed."""
    return bytes(64) if a is None else a[0].to_bytes(32, "big") + a[1].to_bytes(32, "big")


def point_from_bytes(row: bytes) -> Point:
    if len(row) != 64:
        msg = f"a point is 64 bytes, got {len(row)}"
        raise ValueError(msg)
    if row == bytes(64):
        return None
    x, y = int.from_bytes(row[:32], "big"), int.from_bytes(row[32:], "big")
    if x >= P_FIELD or y >= P_FIELD or (y * y - x**3 - 7) % P_FIELD:
        msg = "point is not on secp256k1"
        raise ValueError(msg)
    return (x, y)


def hash_to_curve(seed: bytes) -> tuple[Point, int]:
    """Try-and-increment: the first ``x = SHA-256(seed || ctr) mod p`` (ctr a 4-byte big-endian
    counter from 0) with ``x^3 + 7`` a square, and the even one of its two square roots.

    Returns the point and the counter that gave it. Nobody knows ``log_G`` of the result: x is a
    hash output, and a point with known logarithm would have to be a hash preimage (the
    nothing-up-my-sleeve construction of e.g. Bulletproofs' and Pedersen-commitment generators).
    """
    for ctr in range(1 << 16):
        x = int.from_bytes(hashlib.sha256(seed + ctr.to_bytes(4, "big")).digest(), "big") % P_FIELD
        rhs = (x**3 + 7) % P_FIELD
        y = pow(rhs, (P_FIELD + 1) // 4, P_FIELD)  # p = 3 mod 4
        if y * y % P_FIELD == rhs:
            return (x, y if y % 2 == 0 else P_FIELD - y), ctr
    msg = "no point found"  # probability 2^-65536
    raise AssertionError(msg)
