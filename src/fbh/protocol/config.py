"""Run configuration and presets (the paper's setting and our quick default)."""

from __future__ import annotations

import dataclasses
from typing import Any

__all__ = ["PRESETS", "RunConfig"]


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Everything that determines a federated run.

    Attributes:
      dataset: a name from ``fbh.data.DATASETS``, a ``.npz`` file or a folder of images.
      model: "cnn" (the paper's), "ann", or a ``"package.module:callable"``
        factory of any Flax NNX module (see ``fbh.model.spec``).
      model_kwargs: keyword arguments of that factory (JSON values).
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
      normalize: standardise each channel with the training split's mean and std.
      strategy: the server's step on the decrypted mean update: "fedavg",
        "fedprox" (FedAvg plus the local proximal term ``mu``), "fedavgm",
        "fedadam" or "fedyogi" (``fbh.protocol.strategy``).
      mu: FedProx proximal weight, used only with strategy "fedprox" (0 there means 0.01).
      server_lr: server learning rate of fedavgm/fedadam/fedyogi (FedAvg: 1).
      sample_fraction: share of hospitals sampled per round (seeded); 1: all.
      clients_per_round: number of hospitals sampled per round (overrides
        ``sample_fraction``); the sampling rate is recorded for the DP accountant.
      init_from: a checkpoint (``model.npz`` or a run directory) to start from.
      trainable: case-insensitive regular expression on parameter paths
        (``"params/dense1/kernel"``); only matching leaves train and are
        encrypted and aggregated ("dense": the CNN's two dense layers).
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
    model_kwargs: dict[str, Any] | None = None
    normalize: bool = False
    strategy: str = "fedavg"
    mu: float = 0.0
    server_lr: float = 1.0
    sample_fraction: float = 1.0
    clients_per_round: int | None = None
    init_from: str | None = None
    trainable: str | None = None

    def __post_init__(self) -> None:
        from fbh.protocol.strategy import STRATEGIES

        checks = [
            (self.model in ("cnn", "ann") or ":" in self.model,
             f"model must be 'cnn', 'ann' or a 'package.module:callable' factory, got {self.model!r}"),
            (self.strategy in STRATEGIES, f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}"),
            (self.mu >= 0, f"mu must be >= 0, got {self.mu}"),
            (self.server_lr > 0, f"server_lr must be > 0, got {self.server_lr}"),
            (0 < self.sample_fraction <= 1, f"sample_fraction must be in (0, 1], got {self.sample_fraction}"),
            (self.clients_per_round is None or 1 <= self.clients_per_round <= self.clients,
             f"clients_per_round must be in 1..clients ({self.clients}), got {self.clients_per_round}"),
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
        ]
        for ok, msg in checks:
            if not ok:
                raise ValueError(msg)
        if self.trainable is not None:
            import re

            try:
                re.compile(self.trainable)
            except re.error as exc:
                msg = f"trainable is not a valid regular expression: {self.trainable!r} ({exc})"
                raise ValueError(msg) from None

    @property
    def clients_sampled(self) -> int:
        """Hospitals taking part in each round (at least one)."""
        if self.clients_per_round is not None:
            return self.clients_per_round
        return max(1, round(self.sample_fraction * self.clients))

    @property
    def sampling_rate(self) -> float:
        """q: the probability that a given hospital takes part in a round (for a DP accountant)."""
        return self.clients_sampled / self.clients

    @property
    def local_mu(self) -> float:
        """The proximal weight local training uses: ``mu`` (default 0.01) with "fedprox", else 0."""
        if self.strategy != "fedprox":
            return 0.0
        return self.mu or 0.01

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
