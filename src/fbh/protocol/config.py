"""Run configuration and presets (the paper's setting and our quick default)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from fbh.protocol import retention

__all__ = ["PRESETS", "RunConfig"]


def _attack_ok(attack: str | None, clients: int) -> bool:
    if attack is None or attack in ("curious-server", "wrong-model"):
        return True
    kind, _, party = attack.partition(":")
    return kind in PARTY_ATTACKS and party.isdigit() and int(party) < clients


# Attacks one hospital (or an outsider naming it) plays; they need no guardians.
HOSPITAL_ATTACKS = ("forge-exclusion", "out-of-range", "inflate-weight", "copy", "wrong-key", "silent")
# Attacks aimed at hospital H: the hospital attacks and the server's invented exclusion of H.
PARTY_ATTACKS = (*HOSPITAL_ATTACKS, "invent-exclusion")


def default_guardians(config: RunConfig) -> int:
    """n of the default trust model: the auditor and two hospitals (the auditor and the only
    hospital when there is one), so that no single party can decrypt; 0 (a KGC) where the
    guardians cannot work: without encryption or without a chain to record their ceremony."""
    if not config.encrypt or config.chain == "none":
        return 0
    return min(3, config.clients + 1)


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
      threads: crypto threads (None: the CPUs this process may use, see ``fbh.hardware``).
      keep_updates: how long the run directory keeps each hospital's blob:
        "all", "until-approved" (drop them once the round is approved on
        chain; keep the aggregate, signatures and digests) or "auto" (all
        for runs of at most 10 rounds); see :mod:`fbh.protocol.retention`.
      client_batch: clients trained per ``vmap`` chunk (None: 1 on CPU, all on GPU).
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
      guardians: n parties (the auditor, then hospitals 0, 1, ...) that jointly hold the
        key and decrypt each round's recorded sum once. ``None`` (default): 3 (the auditor and
        two hospitals) for an encrypted run on a chain, 2 with a single hospital, 0 otherwise.
        0: the paper's trust model, one key generation centre holds the key and decrypts.
      threshold: t, guardians needed to decrypt (default 2).
      attack: a party misbehaves on purpose, for demonstrations and tests:
        "curious-server", "wrong-model" (with guardians), "invent-exclusion:H" (the server
        excludes honest H with a made-up reason), or one of "forge-exclusion:H" (an outsider
        sends junk naming hospital H), "out-of-range:H", "inflate-weight:H", "copy:H",
        "wrong-key:H", "silent:H" (out of range, then answers no range challenge) (H a hospital index).
      range_samples: S, coordinates each hospital proves in range per round (default 1375:
        a hospital corrupting >= 1% of its coordinates is caught with probability >= 1 - 1e-6);
        0 disables the sampled check (unsafe: only the blame path is left).
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
    keep_updates: str = "auto"
    client_batch: int | None = None
    model_kwargs: dict[str, Any] | None = None
    normalize: bool = False
    strategy: str = "fedavg"
    mu: float = 0.0
    server_lr: float = 1.0
    sample_fraction: float = 1.0
    clients_per_round: int | None = None
    init_from: str | None = None
    trainable: str | None = None
    guardians: int | None = None
    threshold: int = 2
    attack: str | None = None
    dp_epsilon: float | None = None
    dp_delta: float = 1e-5
    noise_multiplier: float | None = None
    l2_clip: float = 1.0
    range_samples: int = 1375

    def __post_init__(self) -> None:
        from fbh.protocol.strategy import STRATEGIES

        if self.guardians is None:  # resolved here, so config.json records what the run used
            object.__setattr__(self, "guardians", default_guardians(self))

        for name in ("lr", "momentum", "alpha", "clip", "clip_stats", "mu", "server_lr", "sample_fraction"):
            value = getattr(self, name)
            if not math.isfinite(value):
                msg = f"{name} must be a finite number, got {value}"
                raise ValueError(msg)
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
            (self.momentum >= 0, f"momentum must be >= 0, got {self.momentum}"),
            (self.threads is None or self.threads >= 1, f"threads must be >= 1, got {self.threads}"),
            (self.validation_size >= 1, f"validation_size must be >= 1, got {self.validation_size}"),
            (self.clip > 0, f"clip must be > 0, got {self.clip}"),
            (self.clip_stats > 0, f"clip_stats must be > 0, got {self.clip_stats}"),
            (self.client_batch is None or self.client_batch >= 1, f"client_batch must be >= 1, got {self.client_batch}"),
            (self.train_examples is None or self.train_examples >= self.clients,
             f"train_examples must be >= clients, got {self.train_examples}"),
            (self.keep_updates in retention.POLICIES,
             f"keep_updates must be one of {', '.join(retention.POLICIES)}, got {self.keep_updates!r}"),
            (self.guardians == 0 or 2 <= self.guardians <= self.clients + 1,
             f"guardians must be 0 or in [2, clients + 1] (the auditor and hospitals), got {self.guardians}"),
            (self.guardians == 0 or 1 <= self.threshold <= self.guardians,
             f"threshold must be in [1, guardians = {self.guardians}], got {self.threshold}"),
            (self.guardians == 0 or (self.encrypt and self.chain != "none"),
             "guardians need the encrypted protocol and a chain"),
            (_attack_ok(self.attack, self.clients),
             f"attack must be curious-server, wrong-model or KIND:H with KIND in {', '.join(PARTY_ATTACKS)} "
             f"and H < clients, got {self.attack!r}"),
            (self.attack is None or self.attack.partition(":")[0] in PARTY_ATTACKS
             or self.guardians > 0, f"attack {self.attack!r} needs --guardians"),
            (self.attack is None or self.attack.partition(":")[0] in ("forge-exclusion", "curious-server",
                                                                       "wrong-model") or self.encrypt,
             f"attack {self.attack!r} needs the encrypted protocol"),
            (self.attack is None or not self.attack.startswith("invent-exclusion:")
             or (self.encrypt and self.chain != "none"), "attack invent-exclusion needs the encrypted protocol "
             "and a chain (an exclusion is recorded on chain)"),
            (self.attack != "copy:0",
             "copy:H copies the blob of the hospital before H: H must be >= 1"),
            (self.range_samples >= 0, f"range_samples must be >= 0, got {self.range_samples}"),
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

    @property
    def retention(self) -> str:
        """The concrete blob retention policy: "all" or "until-approved"."""
        return retention.resolve(self.keep_updates, self.rounds)

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
