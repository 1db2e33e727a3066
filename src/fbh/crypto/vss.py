"""Feldman verifiable secret sharing of all k slot keys, and the joint-Feldman DKG built on it.

Each dealer i draws, per slot j, a random polynomial ``f_ij`` of degree ``t - 1`` and publishes
the commitments ``A_ijl = a_ijl G``; guardian m receives ``f_ij(m)`` and checks
``f_ij(m) G = sum_l m^l A_ijl``. The joint slot key is ``P_j = sum_i A_ij0``, guardian m's key
share ``x_mj = sum_i f_ij(m)`` with public verification key ``S_mj = sum_i sum_l m^l A_ijl``;
any t shares recombine with Lagrange coefficients, t - 1 reveal nothing about ``s_j``
(Shamir). Nobody ever holds ``s_j = sum_i a_ij0``.

Why joint-Feldman and not Pedersen-VSS (Gennaro-Jarecki-Krawczyk-Rabin, EUROCRYPT 1999): in
joint-Feldman a rushing adversary that sees the honest dealers' ``A_ij0`` before it deals (or
that makes a dealer disqualified by complaints) can bias the distribution of ``P_j``; it can
never learn ``s_j``. GJKR's two-phase Pedersen DKG removes the bias at twice the messages.
For ElGamal encryption the bias is harmless: Gennaro, Jarecki, Krawczyk, Rabin, "Secure
applications of Pedersen's distributed key generation protocol" (CT-RSA 2003) prove that
DL-based threshold schemes, ElGamal-style encryption included, stay secure under the
joint-Feldman key. We also publish every dealer's commitments on chain *before* anyone's shares
are opened, so the only remaining lever is a dealer's abort, which the ceremony records. This is
the variant ElectionGuard 2.0 and ``elastic-elgamal``'s ``sharing`` module use.

Polynomial arithmetic on secrets runs in the C++ scalar code (constant time); random
coefficients come from the OS CSPRNG.

References:
    P. Feldman, "A practical scheme for non-interactive verifiable secret sharing", FOCS 1987;
    T. P. Pedersen, "A threshold cryptosystem without a trusted party", EUROCRYPT 1991;
    A. Shamir, "How to share a secret", CACM 1979.
"""

from __future__ import annotations

import numpy as np

from fbh.crypto import _ec
from fbh.crypto._common import NotCopyable
from fbh.crypto.hash import GROUP_ORDER

__all__ = [
    "Polynomial",
    "expected_share_keys",
    "joint_public_points",
    "lagrange_coefficient",
    "share_public_points",
    "verify_share",
]

SCALAR = 32


class Polynomial(NotCopyable):
    """A dealer's k secret polynomials of degree t - 1 (coefficient l of slot j)."""

    __slots__ = ("_coeffs", "k", "t")

    def __init__(self, coeffs: list[bytes], k: int, t: int) -> None:
        self._coeffs = coeffs  # t entries of k * 32 bytes
        self.k, self.t = k, t

    @classmethod
    def generate(cls, k: int, t: int) -> Polynomial:
        """Uniform nonzero coefficients from the OS CSPRNG."""
        if not 1 <= t:
            msg = f"threshold must be >= 1, got {t}"
            raise ValueError(msg)
        return cls([_ec.SecKeySet.generate(k).to_bytes() for _ in range(t)], k, t)

    def commitments(self) -> np.ndarray:
        """``uint8[t, k, 64]``: ``A_l[j] = a_l[j] G`` (constant time)."""
        return np.stack([_ec.SecKeySet.from_bytes(c).public().points() for c in self._coeffs])

    def evaluate(self, x: int) -> bytes:
        """``f_j(x)`` for every slot j as k 32-byte scalars (Horner, constant-time scalar ops)."""
        if not 1 <= x < GROUP_ORDER:
            msg = f"shares are evaluated at x in [1, n), got {x}"
            raise ValueError(msg)
        xb = x.to_bytes(SCALAR, "big")
        out = []
        for j in range(self.k):
            acc = self._coeffs[-1][j * SCALAR : (j + 1) * SCALAR]
            for coeff in reversed(self._coeffs[:-1]):
                acc = _ec._scalar_op("add", _ec._scalar_op("mul", acc, xb), coeff[j * SCALAR : (j + 1) * SCALAR])
            out.append(acc)
        return b"".join(out)

    def to_bytes(self) -> bytes:
        """The t coefficient sets, ``t * k * 32`` bytes: only for the dealer's own 0600 file (a
        guardian on its own node keeps its ceremony across the messages of the ceremony)."""
        return b"".join(self._coeffs)

    @classmethod
    def from_bytes(cls, data: bytes, k: int, t: int) -> Polynomial:
        if len(data) != t * k * SCALAR:
            msg = f"a polynomial of {t} coefficient sets of {k} scalars is {t * k * SCALAR} bytes, got {len(data)}"
            raise ValueError(msg)
        step = k * SCALAR
        return cls([bytes(data[i : i + step]) for i in range(0, len(data), step)], k, t)

    def __repr__(self) -> str:
        return f"Polynomial(k={self.k}, t={self.t}, <secret>)"



def _sum_points(items: list[np.ndarray]) -> np.ndarray:
    if len(items) == 1:
        return items[0].copy()
    out, bad, _ = _ec.aggregate_points(items, [True] * len(items), 1)
    if bad >= 0:
        msg = f"invalid commitment point {bad}"
        raise ValueError(msg)
    return out


def expected_share_keys(commitments: np.ndarray, x: int) -> np.ndarray:
    """``uint8[k, 64]``: ``sum_l x^l A_l[j]``, the public key of the share dealt to guardian x."""
    terms = [commitments[0]]
    for l in range(1, commitments.shape[0]):
        terms.append(_ec.scale_points(commitments[l], pow(x, l, GROUP_ORDER).to_bytes(32, "big"), 1))
    return _sum_points(terms)


def share_public_points(shares: bytes) -> np.ndarray:
    """``uint8[k, 64]``: ``share_j G`` (constant time)."""
    return _ec.SecKeySet.from_bytes(shares).public().points()


def verify_share(commitments: np.ndarray, x: int, shares: bytes) -> bool:
    """True if the k scalars dealt to guardian x match the dealer's commitments."""
    k = commitments.shape[1]
    if len(shares) != k * SCALAR:
        return False
    try:
        got = share_public_points(shares)
    except ValueError:  # a zero or out-of-range scalar
        return False
    return bool(np.array_equal(got, expected_share_keys(commitments, x)))


def joint_public_points(all_commitments: list[np.ndarray]) -> np.ndarray:
    """``uint8[k, 64]``: the joint slot keys ``P_j = sum_i A_i0[j]`` over qualified dealers."""
    return _sum_points([c[0] for c in all_commitments])


def lagrange_coefficient(i: int, quorum: list[int]) -> int:
    """``lambda_i = prod_{m != i} m / (m - i) mod n`` for interpolation at 0."""
    if i not in quorum or len(set(quorum)) != len(quorum):
        msg = f"guardian {i} must be in the quorum {quorum} once"
        raise ValueError(msg)
    num, den = 1, 1
    for m in quorum:
        if m != i:
            num = num * m % GROUP_ORDER
            den = den * (m - i) % GROUP_ORDER
    return num * pow(den, -1, GROUP_ORDER) % GROUP_ORDER
