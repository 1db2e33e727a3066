"""Run configuration and presets (the paper's setting and our quick default)."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["PRESETS", "RunConfig"]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a federated run.

    Attributes:
      dataset: a name from ``fbh.data.DATASETS``.
      model: "cnn" (the paper's) or "ann".
      clients: C, number of hospitals.
      partition: "iid", "dirichlet" or "shards".
      alpha: Dirichlet concentration (label skew) for ``partition="dirichlet"``.
      rounds: federated rounds.
      local_epochs: E, local epochs per round.
      batch_size: local mini-batch size (the paper's is 10).
      lr, momentum: local SGD.
      encrypt: run the encrypted protocol (False: plaintext FedAvg).
      chain: "embedded", "anvil", an RPC URL, or "none".
      clip: per-coordinate clipping of weight updates before quantization.
      clip_stats: the same for batch-norm statistics, which move further
        (a running variance can change by several units in a round).
      bound: decoder bound of decrypted sums.
      constant_time: constant-time crypto (False: fast mode for trusted simulation hosts).
      validation_size: examples held out of the training set for the auditor.
      train_examples: use only this many training examples (seeded subset;
        None: all) — for quick experiments and tests.
      seed: seeds data partitioning, initialisation, shuffling and rounding.
      threads: crypto threads (None: all cores).
      dp_epsilon: hospital-level (epsilon, dp_delta)-DP over all rounds with the distributed
        discrete Gaussian (``fbh.protocol.dp``); None: no DP noise.
      dp_delta: the delta of that guarantee.
      noise_multiplier: set the noise directly instead of by dp_epsilon (epsilon is still reported).
      l2_clip: L2 clip of one hospital's update under DP.
    """

    dataset: str = "mnist"
    model: str = "cnn"
    clients: int = 10
    partition: str = "iid"
    alpha: float = 0.5
    rounds: int = 3
    local_epochs: int = 1
    batch_size: int = 10
    lr: float = 0.05
    momentum: float = 0.0
    encrypt: bool = True
    chain: str = "embedded"
    clip: float = 4.0
    clip_stats: float = 64.0
    bound: int = 2**20
    constant_time: bool = True
    validation_size: int = 5000
    train_examples: int | None = None
    seed: int = 0
    threads: int | None = None
    dp_epsilon: float | None = None
    dp_delta: float = 1e-5
    noise_multiplier: float | None = None
    l2_clip: float = 1.0

    def __post_init__(self) -> None:
        checks = [
            (self.model in ("cnn", "ann"), f"model must be 'cnn' or 'ann', got {self.model!r}"),
            (self.clients >= 1, f"clients must be >= 1, got {self.clients}"),
            (self.partition in ("iid", "dirichlet", "shards"), f"unknown partition {self.partition!r}"),
            (self.alpha > 0, f"alpha must be > 0, got {self.alpha}"),
            (self.rounds >= 1, f"rounds must be >= 1, got {self.rounds}"),
            (self.local_epochs >= 1, f"local_epochs must be >= 1, got {self.local_epochs}"),
            (self.batch_size >= 1, f"batch_size must be >= 1, got {self.batch_size}"),
            (self.lr > 0, f"lr must be > 0, got {self.lr}"),
            (self.clip > 0, f"clip must be > 0, got {self.clip}"),
            (self.clip_stats > 0, f"clip_stats must be > 0, got {self.clip_stats}"),
            (self.train_examples is None or self.train_examples >= self.clients,
             f"train_examples must be >= clients, got {self.train_examples}"),
            (self.dp_epsilon is None or self.dp_epsilon > 0, f"dp_epsilon must be > 0, got {self.dp_epsilon}"),
            (0 < self.dp_delta < 1, f"dp_delta must be in (0, 1), got {self.dp_delta}"),
            (self.noise_multiplier is None or self.noise_multiplier > 0,
             f"noise_multiplier must be > 0, got {self.noise_multiplier}"),
            (self.dp_epsilon is None or self.noise_multiplier is None,
             "give either dp_epsilon or noise_multiplier, not both"),
            (self.l2_clip > 0, f"l2_clip must be > 0, got {self.l2_clip}"),
            (self.encrypt or (self.dp_epsilon is None and self.noise_multiplier is None),
             "distributed DP noise is added by the encrypted protocol: drop --no-encrypt"),
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, obj: dict[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in obj.items() if k in names})


PRESETS: dict[str, dict[str, Any]] = {
    # Finishes in minutes on a 2-core laptop.
    "default": {},
    # The FedBlockHealth paper: EMNIST digits, 10 clients, batch 10, 70 rounds.
    "paper": {"dataset": "emnist-digits", "clients": 10, "batch_size": 10, "rounds": 70},
}
