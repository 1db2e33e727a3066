"""Privacy accounting over rounds with Google's ``dp-accounting`` (Rényi DP).

One round of the distributed discrete Gaussian is rho-zCDP (:mod:`fbh.protocol.dp`), which is
exactly the Rényi curve ``alpha * rho`` of a Gaussian mechanism with noise multiplier
``1 / sqrt(2 rho)``; the accountant composes one such ``GaussianDpEvent`` per round, wrapped in
``PoissonSampledDpEvent`` when only a fraction of hospitals is sampled per round.

Sampling amplifies privacy only against those who do not learn which hospitals were sampled
(observers of the released models, not the server that runs the round); at rate 1 there is
no amplification to worry about.

References:
  I. Mironov, "Rényi Differential Privacy", CSF 2017; M. Bun, T. Steinke, "Concentrated
  Differential Privacy", TCC 2016; I. Mironov, K. Talwar, L. Zhang, "Rényi Differential
  Privacy of the Sampled Gaussian Mechanism", 2019; github.com/google/differential-privacy
  (python/dp_accounting).
"""

from __future__ import annotations

import dp_accounting as dpa

__all__ = ["DifferentialPrivacy", "PrivacyLedger", "calibrate_noise_multiplier", "max_sampled_weight", "round_event"]


def round_event(noise_multiplier: float, sampling_rate: float = 1.0) -> dpa.DpEvent:
    """The DpEvent of one round: a Gaussian of multiplier z, Poisson-sampled when rate < 1."""
    if not 0.0 < sampling_rate <= 1.0:
        msg = f"sampling rate must be in (0, 1], got {sampling_rate}"
        raise ValueError(msg)
    event = dpa.GaussianDpEvent(noise_multiplier)
    return event if sampling_rate == 1.0 else dpa.PoissonSampledDpEvent(sampling_rate, event)


def calibrate_noise_multiplier(epsilon: float, delta: float, rounds: int, sampling_rate: float = 1.0) -> float:
    """Smallest noise multiplier z whose ``rounds``-fold composition is (epsilon, delta)-DP.

    Raises:
      ValueError: on a non-positive epsilon, a delta outside (0, 1) or rounds < 1.
    """
    if not (epsilon > 0 and 0 < delta < 1 and rounds >= 1):
        msg = f"need epsilon > 0, 0 < delta < 1 and rounds >= 1; got {epsilon}, {delta}, {rounds}"
        raise ValueError(msg)
    return float(dpa.calibrate_dp_mechanism(
        dpa.rdp.RdpAccountant,
        lambda z: dpa.SelfComposedDpEvent(round_event(z, sampling_rate), rounds),
        epsilon, delta,
        bracket_interval=dpa.LowerEndpointAndGuess(1e-2, 1.0),
        tol=1e-4,
    ))


class PrivacyLedger:
    """The privacy spent so far: one event per finished round (possibly with different z)."""

    def __init__(self, delta: float) -> None:
        self.delta = float(delta)
        self._accountant = dpa.rdp.RdpAccountant()
        self.rounds = 0

    def spend(self, noise_multiplier: float, sampling_rate: float = 1.0) -> float:
        """Record one round; returns epsilon spent so far at this ledger's delta."""
        self._accountant.compose(round_event(noise_multiplier, sampling_rate))
        self.rounds += 1
        return self.epsilon()

    def epsilon(self) -> float:
        return float(self._accountant.get_epsilon(self.delta))


class DifferentialPrivacy:
    """A run's DP state: the mechanism hospitals apply and the privacy spent so far.

    Built from the run configuration with :meth:`from_config` (``None`` when DP is off).
    """

    def __init__(self, mechanism, delta: float, sampling_rate: float, target_epsilon: float | None) -> None:
        self.mechanism = mechanism
        self.sampling_rate = sampling_rate
        self.target_epsilon = target_epsilon
        self.ledger = PrivacyLedger(delta)

    @classmethod
    def from_config(cls, config, counts, dimension: int, clip) -> DifferentialPrivacy | None:
        """The noise multiplier from ``dp_epsilon`` (or as given), then the mechanism.

        Raises:
          fbh.protocol.dp.DPConfigError: if the decoder bound cannot carry the noise.
        """
        from fbh.protocol.dp import DistributedDiscreteGaussian

        if config.dp_epsilon is None and config.noise_multiplier is None:
            return None
        rate = _sampling_rate(config)
        z = config.noise_multiplier
        if z is None:
            z = calibrate_noise_multiplier(config.dp_epsilon, config.dp_delta, config.rounds, rate)
        # Shares are sized by the hospitals that actually add noise in a round: with sampling,
        # only the sampled ones (a share of sigma^2 / C from m < C of them would leave the sum
        # with m / C of the accounted variance).
        sampled = int(getattr(config, "clients_sampled", config.clients))
        mechanism = DistributedDiscreteGaussian(
            l2_clip=config.l2_clip, clip=clip, noise_multiplier=z, num_clients=sampled,
            max_weight=max_sampled_weight(counts, sampled), dimension=dimension, bound=config.bound,
            rounds=config.rounds,
        )
        return cls(mechanism, config.dp_delta, rate, config.dp_epsilon)

    def after_round(self, noisy_hospitals: int) -> dict:
        """Account one finished round; the metrics row's DP fields."""
        z = self.mechanism.effective_noise_multiplier(noisy_hospitals)
        return {"dp_epsilon_spent": self.ledger.spend(z, self.sampling_rate), "dp_delta": self.ledger.delta,
                "dp_noise_multiplier": z}


def max_sampled_weight(counts, sampled: int) -> float:
    """The largest FedAvg weight a hospital can get when ``sampled`` of them share a round.

    Weights are renormalized over the sampled hospitals, so hospital i weighs most when the
    others drawn with it are the smallest: ``n_i / (n_i + the sampled - 1 smallest others)``.
    """
    counts = [float(n) for n in counts]
    if not 1 <= sampled <= len(counts) or min(counts) <= 0:
        msg = f"need 1 <= sampled <= {len(counts)} hospitals with positive counts, got {sampled}"
        raise ValueError(msg)
    best = 0.0
    for i, n in enumerate(counts):
        others = sorted(counts[:i] + counts[i + 1:])[: sampled - 1]
        best = max(best, n / (n + sum(others)))
    return best


def _sampling_rate(config) -> float:
    """Share of hospitals per round from the client-sampling options, where the config has them."""
    per_round = getattr(config, "clients_per_round", None)
    if per_round:
        return min(1.0, per_round / config.clients)
    return float(getattr(config, "sample_fraction", 1.0))
