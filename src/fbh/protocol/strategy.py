"""Server strategies: what the server does with the decrypted MEAN update, and client sampling.

The server only ever holds the decrypted weighted mean ``delta`` of the
accepted hospitals' updates (never an individual one); a strategy turns it
into the next global model:

- ``fedavg``:  ``w + delta`` (McMahan et al. 2017).
- ``fedprox``: the same server step; the difference is local, the proximal
  term ``mu / 2 ||w - w_global||^2`` in every hospital's loss (Li et al. 2020).
- ``fedavgm``, ``fedadam``, ``fedyogi``: ``-delta`` is a pseudo-gradient fed
  to an optax optimizer held by the server: SGD with momentum 0.9, Adam and
  Yogi with ``b1 = 0.9, b2 = 0.99, eps = 1e-3`` (Reddi et al. 2021, whose
  adaptivity ``tau`` is optax's ``eps``).

Batch-norm statistics are running averages, not parameters: they always take
the plain mean step, and the optimizer sees only the parameter coordinates.

References:
  H. B. McMahan et al., "Communication-Efficient Learning of Deep Networks
  from Decentralized Data", AISTATS 2017.
  T.-M. H. Hsu, H. Qi, M. Brown, "Measuring the Effects of Non-Identical Data
  Distribution for Federated Visual Classification", arXiv:1909.06335 (FedAvgM).
  T. Li et al., "Federated Optimization in Heterogeneous Networks", MLSys 2020.
  S. J. Reddi et al., "Adaptive Federated Optimization", ICLR 2021.
"""

from __future__ import annotations

import numpy as np
import optax

__all__ = ["STRATEGIES", "ServerStrategy", "sample_clients"]

STRATEGIES: tuple[str, ...] = ("fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi")


def _optimizer(name: str, lr: float) -> optax.GradientTransformation | None:
    if name in ("fedavg", "fedprox"):
        return None
    if name == "fedavgm":
        return optax.sgd(lr, momentum=0.9)
    if name == "fedadam":
        return optax.adam(lr, b1=0.9, b2=0.99, eps=1e-3)
    if name == "fedyogi":
        return optax.yogi(lr, b1=0.9, b2=0.99, eps=1e-3)
    msg = f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
    raise ValueError(msg)


class ServerStrategy:
    """Applies one strategy step per round to the global flat vector.

    Args:
      name: one of :data:`STRATEGIES`.
      server_lr: server learning rate (ignored by fedavg/fedprox, whose step is 1).
      optimized: ``bool[P]``, coordinates the server optimizer acts on (the
        parameters); the others (batch-norm statistics) take ``w + delta``.
        ``None``: all.
    """

    def __init__(self, name: str = "fedavg", server_lr: float = 1.0, optimized: np.ndarray | None = None):
        self.name = name
        self.server_lr = float(server_lr)
        self.tx = _optimizer(name, self.server_lr)
        self.optimized = None if optimized is None else np.asarray(optimized, bool)
        self._opt_state = None

    @property
    def state(self):
        """The optimizer's state (an immutable pytree, or ``None``): save it to undo a rejected round."""
        return self._opt_state

    @state.setter
    def state(self, value) -> None:
        self._opt_state = value

    def step(self, global_flat: np.ndarray, delta: np.ndarray) -> np.ndarray:
        """The next global model from the current one and the decrypted mean update.

        Args:
          global_flat: ``float32[P]``.
          delta: ``float[P]``, the weighted mean of the accepted updates.

        Returns:
          ``float32[P]``.
        """
        global_flat = np.asarray(global_flat, np.float32)
        new = global_flat + np.asarray(delta, np.float32)
        if self.tx is None:
            return new
        sel = np.ones(global_flat.shape, bool) if self.optimized is None else self.optimized
        params = global_flat[sel]
        if self._opt_state is None:
            self._opt_state = self.tx.init(params)
        updates, self._opt_state = self.tx.update(-np.asarray(delta, np.float32)[sel], self._opt_state, params)
        new[sel] = params + np.asarray(updates, np.float32)
        return new


def sample_clients(num_clients: int, per_round: int, seed: int, round_: int) -> np.ndarray:
    """The hospitals of one round: ``per_round`` of ``num_clients``, uniformly without replacement.

    Seeded by ``(seed, round)``, so a run is reproducible and a resumed run
    samples the same hospitals. Each hospital takes part in a round with
    probability ``q = per_round / num_clients`` (the DP accountant's sampling rate).

    Returns:
      Sorted ``int64`` client indices.
    """
    if not 1 <= per_round <= num_clients:
        msg = f"cannot sample {per_round} of {num_clients} hospitals"
        raise ValueError(msg)
    if per_round == num_clients:
        return np.arange(num_clients, dtype=np.int64)
    rng = np.random.default_rng([seed, 2, round_])
    return np.sort(rng.choice(num_clients, per_round, replace=False)).astype(np.int64)
