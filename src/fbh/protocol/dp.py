"""The distributed discrete Gaussian mechanism: each hospital adds a share of the DP noise.

Kairouz, Liu & Steinke's mechanism (the paper's Section III-C, its ref. [14]) on our encrypted
sum. Every hospital h, holding the float update x_h and its public FedAvg weight w_h:

1. clips each coordinate to ``[-clip_i, clip_i]`` (the public range a later range proof
   checks), then clips the whole vector to L2 norm ``c`` (scaling down keeps step 1's bounds);
2. scales ``w_h * s * x_h`` to integer units (one scale s for all coordinates, so the noise
   stays isotropic where the sensitivity is measured);
3. rounds stochastically, *conditionally*: it redraws the rounding until the rounded vector's
   norm is at most ``Delta_int`` (their Eq. 2 with beta = exp(-1/2)), so every rounded
   contribution has L2 sensitivity ``Delta_int`` whatever the rounding did;
4. adds discrete Gaussian noise ``N_Z(0, sigma^2 / C)`` per coordinate (exact sampler,
   :mod:`fbh.crypto.dgauss`), so the decrypted sum of C hospitals carries ``sigma^2``.

ε protects one hospital's whole contribution (add/remove adjacency on hospitals): the sum
over hospitals changes by at most ``Delta_int`` in L2 when one hospital is added or removed.
By their Theorem 1 the round is ``rho``-zCDP with ``rho = eps_cdp^2 / 2``,
``eps_cdp^2 = Delta_int^2 / (n sigma_c^2) + 2 tau d`` for n noisy hospitals; we hand the
accountant the Gaussian mechanism with the same zCDP, noise multiplier ``1 / eps_cdp``.

Why no random rotation. The paper rotates (randomized Hadamard) to flatten the vector so that
a *modular* sum with few bits rarely wraps around. Our sum is not modular: the decoder accepts
any ``|sum| <= B``. Rotation would pad 422,378 values to 2^19 (+24 % ciphertexts) and buy
nothing the bound check below does not already guarantee.

Noise tail and the decoder bound. Each hospital's public range (:mod:`fbh.protocol.range_check`)
is ``B_h = floor(w_h s signal) + 1 + ceil(tail sigma_h)`` with ``sigma_h = sigma / sqrt(C)``, its own
share's standard deviation, and ``tail = sqrt(2 ln(2 d R / p))``: a discrete Gaussian is
sigma-subgaussian (Canonne et al. 2020, Prop. 19 and 24), so ``Pr[|noise| > tail sigma_h] <=
2 exp(-tail^2 / 2) = p / (d R)`` per coordinate (p = 1e-9, d = 422,282, R = 3: 8.4 sigma_h, below
2^-51 per coordinate) and an honest hospital leaves its range anywhere in the run with probability
at most p. The scale is chosen so that the ranges of all C hospitals *add up* to at most B:
``s signal + C + C (tail sigma_h + 1) <= B``, i.e. the noise term is ``sqrt(C) tail sigma``, not
the ``tail sigma`` the honest sum alone would need. Then a sum that fails to decode proves that
some hospital left its range (the blame path always finds a culprit), and hospitals that spend
their whole tail room as signal (colluding or not) can never make the sum overflow. What they can
do is stated, not hidden: each may shift every coordinate of its contribution by up to
``tail sigma_h / s`` model units beyond the honest ``w_h * clip``, undetected.

References:
  P. Kairouz, Z. Liu, T. Steinke, "The Distributed Discrete Gaussian Mechanism for Federated
  Learning with Secure Aggregation", ICML 2021, arXiv:2102.06387 (Theorem 1, Eq. 2-4).
  C. L. Canonne, G. Kamath, T. Steinke, "The Discrete Gaussian for Differential Privacy",
  NeurIPS 2020.
"""

from __future__ import annotations

import math

import numpy as np

from fbh.crypto import dgauss
from fbh.crypto.quantize import quantize

__all__ = ["DPConfigError", "DistributedDiscreteGaussian"]

_BETA = math.exp(-0.5)  # conditional-rounding parameter of KLS Eq. 2
_MAX_INFLATION = 1.05  # rounding may add at most 5 % to the sensitivity
_MAX_ROUNDING_TRIES = 200  # each try passes with probability >= 1 - beta ~ 0.39


class DPConfigError(ValueError):
    """A DP configuration the decoder bound cannot carry; the message says what to change."""


def _rounded_sensitivity(norm: float, d: int) -> float:
    """KLS Eq. 2: the L2 norm a conditionally rounded vector of norm <= ``norm`` may reach."""
    a = norm**2 + d / 4 + math.sqrt(2 * math.log(1 / _BETA)) * (norm + math.sqrt(d) / 2)
    return math.sqrt(min(a, (norm + math.sqrt(d)) ** 2))


class DistributedDiscreteGaussian:
    """Public parameters of the mechanism, the same for every hospital and the server.

    Args:
      l2_clip: c, L2 clip of one hospital's (unweighted) update.
      clip: per-coordinate clip (float or float[P]), applied before the L2 clip.
      noise_multiplier: z; the sum's noise has ``sigma = z * Delta_int``.
      num_clients: C, hospitals that each add ``sigma^2 / C``: those taking part in a round
        (under client sampling the sampled ones, not all registered hospitals).
      max_weight: the largest public FedAvg weight a hospital can get in a round (sensitivity
        is ``max_weight * c``; under sampling, weights renormalized over the sampled hospitals).
      dimension: d = P, values per update.
      bound: decoder bound B of the decrypted sum.
      rounds: rounds the overflow union bound covers.
      overflow_probability: chance that noise pushes any coordinate of any round past B.

    Raises:
      DPConfigError: if B cannot hold signal plus noise at a useful resolution.
    """

    def __init__(self, *, l2_clip: float, clip, noise_multiplier: float, num_clients: int,
                 max_weight: float, dimension: int, bound: int, rounds: int,
                 overflow_probability: float = 1e-9) -> None:
        if not (l2_clip > 0 and noise_multiplier > 0 and 0 < max_weight <= 1):
            msg = f"need l2_clip > 0, noise_multiplier > 0, max_weight in (0, 1]; got {l2_clip}, " \
                  f"{noise_multiplier}, {max_weight}"
            raise DPConfigError(msg)
        self.l2_clip, self.clip = float(l2_clip), clip
        self.noise_multiplier, self.num_clients = float(noise_multiplier), int(num_clients)
        self.max_weight, self.dimension, self.bound = float(max_weight), int(dimension), int(bound)
        # P(|N(0, s^2) subgaussian| > k s) <= 2 exp(-k^2/2), union over d * rounds coordinates.
        self.tail = math.sqrt(2 * math.log(2 * dimension * rounds / overflow_probability))
        self.signal = float(min(np.max(clip), l2_clip))  # worst |weighted sum| per coordinate
        self.scale = self._choose_scale()
        self.sensitivity = _rounded_sensitivity(self.scale * self.max_weight * self.l2_clip, self.dimension)
        t, m = dgauss.exact_variance((self.noise_multiplier * self.sensitivity) ** 2 / self.num_clients)
        self.variance_per_client = t * m
        assert self.ranges_sum() <= self.bound, (self.ranges_sum(), self.bound)

    def tail_room(self) -> int:
        """``ceil(tail sigma_h)``: what each hospital's range allows its noise share (module docstring)."""
        return math.ceil(self.tail * math.sqrt(self.variance_per_client))

    def ranges_sum(self) -> float:
        """The most all C hospitals' public ranges add up to: ``s signal + C + C tail_room`` (weights sum to 1)."""
        return self.scale * self.signal * (1 + 1e-12) + self.num_clients * (1 + self.tail_room())

    def _scale_for(self, bound: float) -> float:
        """Largest s with s*signal + 2C + sqrt(C) * tail * z * (s*Delta + sqrt d) <= bound (Eq. 2, second form):
        C ranges of ``tail sigma_h + 1`` each (sigma = z * sensitivity <= z (s Delta + sqrt d))."""
        z, delta, c = self.noise_multiplier, self.max_weight * self.l2_clip, self.num_clients
        room = bound - 2 * c - math.sqrt(c) * self.tail * z * math.sqrt(self.dimension)
        # 0.999: room for exact_variance rounding sigma_c^2 up (relative change < 1/sigma_c).
        return 0.999 * room / (self.signal + math.sqrt(c) * self.tail * z * delta)

    def _inflation(self, s: float) -> float:
        norm = s * self.max_weight * self.l2_clip
        return _rounded_sensitivity(norm, self.dimension) / norm if norm > 0 else math.inf

    def _choose_scale(self) -> float:
        s = self._scale_for(self.bound)
        if s > 0 and self._inflation(s) <= _MAX_INFLATION:
            sigma_c2 = (self.noise_multiplier * _rounded_sensitivity(
                s * self.max_weight * self.l2_clip, self.dimension)) ** 2 / self.num_clients
            if sigma_c2 <= dgauss.MAX_VARIANCE:
                return s
            msg = (f"decoder bound {self.bound} makes the per-hospital noise variance {sigma_c2:.3g} exceed "
                   f"the sampler's 2^40: lower --bound")
            raise DPConfigError(msg)
        needed = self._bound_needed()
        msg = (f"decoder bound {self.bound} cannot carry the DP noise: with noise multiplier "
               f"{self.noise_multiplier:.3g} and a {self.tail:.1f}-sigma tail the scale would be "
               f"{max(s, 0):.3g} integers per unit, too coarse (rounding would inflate the sensitivity "
               f"by more than {_MAX_INFLATION - 1:.0%}). Raise --bound to at least {needed}, "
               f"or add less noise (a larger --dp-epsilon or a smaller --noise-multiplier)")
        raise DPConfigError(msg)

    def _bound_needed(self) -> int:
        lo, hi = 1.0, 2.0**62
        for _ in range(200):  # bisection on the bound: inflation falls as the scale grows
            mid = math.sqrt(lo * hi)
            s = self._scale_for(mid)
            lo, hi = (mid, hi) if s <= 0 or self._inflation(s) > _MAX_INFLATION else (lo, mid)
        return math.ceil(hi)

    # --- what a hospital does ------------------------------------------------------------
    def privatize(self, x: np.ndarray, weight: float, seed: int) -> tuple[np.ndarray, int]:
        """Clip, scale, conditionally round and noise one hospital's update.

        Args:
          x: float[P] update (new - global parameters), unweighted.
          weight: the hospital's public FedAvg weight, in (0, max_weight].
          seed: seed of the stochastic rounding (the noise comes from the OS CSPRNG).

        Returns:
          ``(q, n_clipped)``: int64[P] to encrypt, and how many coordinates were clipped.
        """
        if not 0.0 < weight <= self.max_weight * (1 + 1e-12):
            msg = f"FedAvg weight must be in (0, {self.max_weight}], got {weight}"
            raise ValueError(msg)
        x = np.asarray(x, np.float64)
        if x.shape != (self.dimension,) or not np.isfinite(x).all():
            msg = f"update must be finite float[{self.dimension}], got shape {x.shape}"
            raise ValueError(msg)
        clipped = np.clip(x, -np.asarray(self.clip), np.asarray(self.clip))
        n_clipped = int(np.count_nonzero(clipped != x))
        norm = float(np.linalg.norm(clipped))
        if norm > self.l2_clip:
            clipped *= self.l2_clip / norm
        y = clipped * (weight * self.scale)
        limit = _rounded_sensitivity(weight * self.scale * self.l2_clip, self.dimension)
        for attempt in range(_MAX_ROUNDING_TRIES):
            q, _ = quantize(y, np.inf, 1.0, seed + attempt)
            if float(np.linalg.norm(q.astype(np.float64))) <= limit:
                break
        else:  # probability below 0.61^200
            msg = "conditional rounding did not meet its norm bound"
            raise RuntimeError(msg)
        return q + dgauss.sample(self.dimension, self.variance_per_client), n_clipped

    # --- what the server does ------------------------------------------------------------
    def dequantize(self, summed: np.ndarray) -> np.ndarray:
        """Decrypted integer sum (int64[P]) -> float32[P] weighted-sum update."""
        return (np.asarray(summed, np.float64) / self.scale).astype(np.float32)

    def effective_noise_multiplier(self, noisy_hospitals: int) -> float:
        """``1 / eps_cdp`` of KLS Theorem 1 for a sum of ``noisy_hospitals`` noise shares.

        When hospitals are excluded the sum carries less noise, so a round is accounted with the
        hospitals whose shares it actually holds.
        """
        n = int(noisy_hospitals)
        s2 = self.variance_per_client
        tau = 10 * sum(math.exp(-2 * math.pi**2 * s2 * k / (k + 1)) for k in range(1, n))
        eps_cdp = math.sqrt(self.sensitivity**2 / (n * s2) + 2 * tau * self.dimension)
        return 1.0 / eps_cdp

    def describe(self) -> str:
        return (f"distributed discrete Gaussian: L2 clip {self.l2_clip:g}, noise multiplier "
                f"{self.noise_multiplier:.3f}, scale {self.scale:.4g}/unit, sensitivity {self.sensitivity:.4g}, "
                f"sigma per hospital {math.sqrt(self.variance_per_client):.4g} (sum over {self.num_clients}: "
                f"{math.sqrt(self.num_clients * self.variance_per_client):.4g}), bound {self.bound}")
