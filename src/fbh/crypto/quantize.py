"""Fixed-point quantization of model updates for the encrypted sum.

Clients clip each coordinate of their (already FedAvg-weighted) update to
``[-clip, clip]``, scale it to integers with *stochastic rounding* (unbiased:
``E[q] = x * scale``) and encrypt the integers.  The server decrypts only the
sum over clients and divides by ``scale``.  The scale is chosen so that the
largest possible sum over ``C`` clients still fits the decoder bound.

The kernels are numba-compiled; randomness comes from an explicit seed that
feeds a counter-based generator (SplitMix64), so results do not depend on
global RNG state or thread scheduling.

References:
  Gupta et al., "Deep Learning with Limited Numerical Precision", ICML 2015
  (stochastic rounding).
"""

from __future__ import annotations

import dataclasses

import numba
import numpy as np

__all__ = ["Quantizer", "dequantize", "quantize"]

_INV_2_53 = 1.0 / float(1 << 53)


@numba.njit(inline="always")
def _splitmix64(x: np.uint64) -> np.uint64:
    x = x + np.uint64(0x9E3779B97F4A7C15)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


@numba.njit(parallel=True, cache=True)
def _quantize_kernel(x, clip, scale, seed, out, n_clipped):
    """out[p] = stochastic_round(clip(x[p]) * scale[p]); counts clipped entries.

    ``clip`` and ``scale`` are per coordinate (possibly broadcast views);
    ``scale`` already includes the client's FedAvg weight.
    """
    clipped = 0
    for p in numba.prange(x.shape[0]):
        v = np.float64(x[p])
        c = clip[p]
        if v > c:
            v = c
            clipped += 1
        elif v < -c:
            v = -c
            clipped += 1
        y = v * scale[p]
        lo = np.floor(y)
        # One independent uniform draw per coordinate, from (seed, p) only.
        r = _splitmix64(np.uint64(seed) ^ (np.uint64(p) * np.uint64(0xD1B54A32D192ED03)))
        u = np.float64(r >> np.uint64(11)) * _INV_2_53
        out[p] = np.int64(lo) + (1 if u < (y - lo) else 0)
    n_clipped[0] = clipped


@numba.njit(parallel=True, cache=True)
def _dequantize_kernel(q, scale, out):
    for p in numba.prange(q.shape[0]):
        out[p] = np.float32(np.float64(q[p]) / scale[p])


@dataclasses.dataclass(frozen=True, eq=False)
class Quantizer:
    """Maps float updates in ``[-clip, clip]`` to integers whose C-client sum fits ``bound``.

    Attributes:
      clip: clipping threshold applied to each coordinate of the unweighted
        update: one float, or float[P] (e.g. a looser one for batch-norm
        statistics than for weights).
      num_clients: C, the number of summands the decoder must accommodate.
      bound: the decoder bound; every decrypted sum satisfies ``|sum| <= bound``.
      scale: integers per unit, ``(bound - C) / clip`` (each client's stochastic
        rounding may add at most 1 in magnitude).
    """

    clip: float
    num_clients: int
    bound: int

    def __post_init__(self) -> None:
        if not np.all(np.asarray(self.clip) > 0):
            msg = f"clip must be positive, got min {np.min(self.clip)}"
            raise ValueError(msg)
        if self.num_clients < 1:
            msg = f"num_clients must be >= 1, got {self.num_clients}"
            raise ValueError(msg)
        if self.bound <= 2 * self.num_clients:
            msg = f"bound {self.bound} is too small for {self.num_clients} clients"
            raise ValueError(msg)
        # Worst case: weights sum to 1, so sum_c |w_c clip(x_c)| <= clip; rounding adds < 1 per client.
        worst = np.max(np.asarray(self.clip) * self.scale) + self.num_clients
        assert worst <= self.bound * (1 + 1e-12), (worst, self.bound)

    @property
    def scale(self) -> float | np.ndarray:
        """Integers per unit, per coordinate when ``clip`` is an array."""
        return (self.bound - self.num_clients) / np.asarray(self.clip, np.float64)

    @property
    def step(self) -> float | np.ndarray:
        """Quantization step of one client: the worst-case error per coordinate per client."""
        return 1.0 / self.scale

    def quantize(self, x: np.ndarray, weight: float, seed: int) -> tuple[np.ndarray, int]:
        """Quantize one client's update.

        Args:
          x: float[P] update (new - global parameters), unweighted.
          weight: the client's FedAvg weight ``n_c / sum(n)``, in (0, 1].
          seed: seed of the rounding noise.

        Returns:
          ``(q, n_clipped)`` with ``q = round(weight * clip(x) * scale)``.
        """
        if not 0.0 < weight <= 1.0:
            msg = f"FedAvg weight must be in (0, 1], got {weight}"
            raise ValueError(msg)
        return quantize(x, self.clip, weight * self.scale, seed)

    def dequantize(self, q: np.ndarray) -> np.ndarray:
        """Integer sum (int64[P]) back to float32[P]."""
        return dequantize(q, self.scale)


def quantize(x: np.ndarray, clip, scale, seed: int) -> tuple[np.ndarray, int]:
    """Clip to ``[-clip, clip]``, multiply by ``scale`` and round stochastically.

    Args:
      x: float[P] values.
      clip: clipping threshold (> 0): a float or float[P].
      scale: integers per unit: a float or float[P].
      seed: 64-bit seed of the rounding noise (draw it from an explicit
        ``np.random.Generator``).

    Returns:
      ``(q, n_clipped)``: int64[P] and how many coordinates were clipped.

    Raises:
      ValueError: if ``x`` is not 1-D or holds non-finite values.
    """
    x = np.ascontiguousarray(x)
    if x.ndim != 1:
        msg = f"quantize expects a 1-D array, got shape {x.shape}"
        raise ValueError(msg)
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        msg = f"update holds a non-finite value at index {bad}: {x[bad]}"
        raise ValueError(msg)
    out = np.empty(x.shape[0], dtype=np.int64)
    n_clipped = np.zeros(1, dtype=np.int64)
    _quantize_kernel(x, _per_coordinate(clip, x), _per_coordinate(scale, x),
                     np.uint64(seed & (2**64 - 1)), out, n_clipped)
    return out, int(n_clipped[0])


def dequantize(q: np.ndarray, scale) -> np.ndarray:
    """int64[P] -> float32[P] by dividing by ``scale`` (a float or float[P])."""
    q = np.ascontiguousarray(q, dtype=np.int64)
    out = np.empty(q.shape[0], dtype=np.float32)
    _dequantize_kernel(q, _per_coordinate(scale, q), out)
    return out


def _per_coordinate(value, like: np.ndarray) -> np.ndarray:
    """float64[P] view of a scalar or a length-P array (a scalar is broadcast, not copied)."""
    arr = np.asarray(value, np.float64)
    if arr.ndim == 0:
        return np.broadcast_to(arr, like.shape)
    if arr.shape != like.shape:
        msg = f"per-coordinate array has shape {arr.shape}, the update has {like.shape}"
        raise ValueError(msg)
    return arr
