"""Exact sampling of the discrete Gaussian N_Z(0, sigma^2), randomness from the OS CSPRNG.

The discrete Gaussian puts mass ``exp(-x^2 / (2 sigma^2)) / Z`` on every integer x. We follow
Canonne, Kamath & Steinke (Algorithms 1-3), with integer arithmetic only, so every coin has
exactly the probability the algorithm asks for:

* ``Bernoulli(a / N)`` compares the binary expansion of a/N with lazily drawn uniform bits
  (two bits expected per coin);
* ``Bernoulli(exp(-a / b))`` is their Algorithm 1 (von Neumann's alternating series) for
  ``a / b <= 1``, repeated ``floor(a / b)`` times with ``exp(-1)`` above 1;
* the discrete Laplace of scale t is their Algorithm 2;
* the discrete Gaussian is their Algorithm 3: a discrete Laplace candidate z is kept with
  probability ``exp(-(|z| - sigma^2 / t)^2 / (2 sigma^2))``.

Algorithm 3 is correct for every integer scale t >= 1 (t = floor(sigma) + 1 only makes it
fast), so we restrict the variance to ``sigma^2 = t * m`` with t ~ sigma: then
``sigma^2 / t = m`` is an integer and the acceptance exponent ``(|z| - m)^2 / (2 t m)`` is a
ratio of machine integers. :func:`exact_variance` rounds a requested variance *up* to the
nearest such value (relative change below ``1 / sigma``), so a privacy guarantee computed for
the requested variance still holds. Supported: ``sigma^2 <= 2^40``; a candidate with
``||z| - m| >= 2^31`` is rejected without a coin, which it would pass with probability below
``exp(-2^62 / 2^41) = exp(-2^21)``: the only deviation from the exact law.

Bits come from ``os.urandom`` in 1 MiB refills (numba's object mode calls back into Python
when the buffer runs dry, so no draw is ever cut short or restarted). A seeded stream exists
for reproducible tests only (:func:`sample_seeded`).

References:
  C. L. Canonne, G. Kamath, T. Steinke, "The Discrete Gaussian for Differential Privacy",
  NeurIPS 2020, arXiv:2004.00010 (Algorithms 1-3 and their reference code).
"""

from __future__ import annotations

import math
import os

import numba
import numpy as np

__all__ = ["MAX_VARIANCE", "exact_variance", "pmf", "sample", "sample_seeded"]

#: Largest supported variance sigma^2 (sigma ~ 10^6), keeping every product below 2^62.
MAX_VARIANCE = 1 << 40
_REFILL_WORDS = 1 << 17  # 1 MiB of random bits per refill
_MAX_DEVIATION = 1 << 31

# Where refills come from: 0 is the OS CSPRNG; tests register seeded generators.
_SOURCES: dict[int, object] = {0: os.urandom}


def _fresh_words(source: int, n: int) -> np.ndarray:
    return np.frombuffer(_SOURCES[source](8 * n), dtype=np.uint64).copy()


@numba.njit(cache=True)
def _refill(buf, source):
    with numba.objmode(fresh="uint64[:]"):
        fresh = _fresh_words(source, buf.shape[0])
    buf[:] = fresh


@numba.njit(inline="always")
def _bit(buf, st, source):
    p = st[0]
    if p >= buf.shape[0] * 64:
        _refill(buf, source)
        p = 0
    st[0] = p + 1
    return np.int64((buf[p >> 6] >> np.uint64(p & 63)) & np.uint64(1))


@numba.njit(cache=True)
def _uniform(n, buf, st, source):
    """Uniform on {0, .., n-1} by rejection from the smallest power of two >= n."""
    if n == 1:
        return np.int64(0)
    k = 0
    while (np.int64(1) << k) < n:
        k += 1
    while True:
        x = np.int64(0)
        for _ in range(k):
            x = (x << 1) | _bit(buf, st, source)
        if x < n:
            return x


@numba.njit(cache=True)
def _bernoulli_frac(a, n, buf, st, source):
    """Bernoulli(a / n) for 0 <= a <= n < 2^62: a lazy comparison of a uniform real with a/n."""
    if a >= n:
        return 1
    if a <= 0:
        return 0
    r = a
    while True:
        r <<= 1
        digit = 1 if r >= n else 0
        if digit:
            r -= n
        if _bit(buf, st, source) != digit:
            return digit  # first differing bit: U < a/n exactly when a/n has the 1


@numba.njit(cache=True)
def _bernoulli_exp_le1(a, b, buf, st, source):
    """Bernoulli(exp(-a/b)) for 0 <= a <= b (CKS Algorithm 1, first part)."""
    k = np.int64(1)
    while _bernoulli_frac(a, b * k, buf, st, source):
        k += 1
    return k & 1


@numba.njit(cache=True)
def _bernoulli_exp(a, b, buf, st, source):
    """Bernoulli(exp(-a/b)) for a >= 0, b > 0 (CKS Algorithm 1)."""
    while a > b:
        if not _bernoulli_exp_le1(b, b, buf, st, source):
            return 0
        a -= b
    return _bernoulli_exp_le1(a, b, buf, st, source)


@numba.njit(cache=True)
def _discrete_laplace(t, buf, st, source):
    """P(x) proportional to exp(-|x| / t) on the integers (CKS Algorithm 2)."""
    while True:
        u = _uniform(t, buf, st, source)
        if not _bernoulli_exp(u, t, buf, st, source):
            continue
        v = np.int64(0)
        while _bernoulli_exp(1, 1, buf, st, source):
            v += 1
        x = u + t * v
        negative = _bit(buf, st, source)
        if negative and x == 0:
            continue
        return -x if negative else x


@numba.njit(cache=True)
def _sample_kernel(out, t, m, buf, st, source):
    """out[i] ~ N_Z(0, t*m) (CKS Algorithm 3 with sigma^2 / t = m)."""
    for i in range(out.shape[0]):
        while True:
            z = _discrete_laplace(t, buf, st, source)
            d = abs(z) - m
            if abs(d) >= _MAX_DEVIATION:
                continue  # acceptance probability < exp(-2^21): see the module docstring
            if _bernoulli_exp(d * d, 2 * t * m, buf, st, source):
                out[i] = z
                break


def exact_variance(sigma2: float) -> tuple[int, int]:
    """``(t, m)`` with ``t * m >= sigma2`` the smallest such variance for ``t = ceil(sqrt(sigma2))``.

    Raises:
      ValueError: if ``sigma2`` is not in (0, MAX_VARIANCE].
    """
    if not 0 < sigma2 <= MAX_VARIANCE:
        msg = f"discrete Gaussian variance must be in (0, 2^40], got {sigma2}"
        raise ValueError(msg)
    t = max(1, math.isqrt(math.ceil(sigma2)))
    if t * t < sigma2:
        t += 1
    m = max(1, math.ceil(sigma2 / t))
    return t, m


def _draw(n: int, sigma2: float, source: int) -> np.ndarray:
    t, m = exact_variance(sigma2)
    out = np.empty(int(n), dtype=np.int64)
    buf = _fresh_words(source, _REFILL_WORDS)
    st = np.zeros(1, dtype=np.int64)
    _sample_kernel(out, np.int64(t), np.int64(m), buf, st, source)
    buf[:] = 0  # unused bits of the noise never outlive the call
    return out


def sample(n: int, sigma2: float) -> np.ndarray:
    """``n`` independent draws of N_Z(0, sigma^2) with sigma^2 = :func:`exact_variance`'s ``t*m``.

    Every bit comes from ``os.urandom``.

    Args:
      n: number of draws.
      sigma2: requested variance (rounded up by at most a factor ``1 + 1/sigma``).

    Returns:
      int64[n].
    """
    return _draw(n, sigma2, 0)


def sample_seeded(n: int, sigma2: float, seed: int) -> np.ndarray:
    """Reproducible draws for tests: bits from ``np.random.PCG64(seed)``, NOT a CSPRNG."""
    rng = np.random.Generator(np.random.PCG64(seed))
    handle = max(_SOURCES) + 1
    _SOURCES[handle] = rng.bytes
    try:
        return _draw(n, sigma2, handle)
    finally:
        del _SOURCES[handle]


def pmf(xs: np.ndarray, sigma2: float) -> np.ndarray:
    """The exact probabilities of N_Z(0, sigma2) at the integers ``xs`` (float64)."""
    sigma = math.sqrt(sigma2)
    support = np.arange(-math.ceil(40 * sigma) - 1, math.ceil(40 * sigma) + 2, dtype=np.float64)
    norm = np.exp(-(support**2) / (2 * sigma2)).sum()
    return np.exp(-(np.asarray(xs, np.float64) ** 2) / (2 * sigma2)) / norm
