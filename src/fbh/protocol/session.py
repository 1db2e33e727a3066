"""One federated run's live state: data, trainer, roles, chain; one method per round."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import jax
import numpy as np
from eth_account import Account
from tqdm.auto import tqdm

from fbh import data as fdata
from fbh.protocol import messages as msg
from fbh.protocol.auditor import Auditor
from fbh.protocol.client import Hospital
from fbh.protocol.config import RunConfig
from fbh.protocol.kgc import KeyGenerationCentre
from fbh.protocol.plots import plot_curves
from fbh.protocol.dp import DPConfigError
from fbh.protocol.privacy import DifferentialPrivacy
from fbh.protocol.rundir import RunDir
from fbh.protocol.server import Server
from fbh.train import FederatedTrainer, fedavg, ravel, ravel_clients, unravel

__all__ = ["Session", "clip_vector", "training_split"]


def clip_vector(template, clip: float, clip_stats: float) -> np.ndarray:
    """float64[P]: ``clip_stats`` for batch-norm statistics, ``clip`` for everything else."""

    def leaf_clip(path, leaf):
        return np.full(np.shape(leaf), clip_stats if "batch_stats" in jax.tree_util.keystr(path) else clip)

    return np.asarray(ravel(jax.tree_util.tree_map_with_path(leaf_clip, template)), np.float64)


def training_split(ds, config: RunConfig) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) indices: the auditor's split held out, then the optional subset."""
    train_idx, val_idx = fdata.split_validation(ds.y_train, config.validation_size, seed=config.seed)
    if config.train_examples is not None and config.train_examples < train_idx.size:
        rng = np.random.default_rng([config.seed, 1])
        train_idx = np.sort(rng.choice(train_idx, config.train_examples, replace=False))
    return train_idx, val_idx


class Session:
    """Everything one run holds between rounds.  Build it with :meth:`start`."""

    def __init__(self, config: RunConfig, run_dir: RunDir, dataset, progress: bool) -> None:
        self.config = config
        self.run_dir = run_dir
        self.progress = progress
        self.rng = np.random.default_rng(config.seed)
        self._prepare_data(dataset)
        self.trainer = FederatedTrainer(
            config.model, dataset.num_classes, lr=config.lr, momentum=config.momentum,
            batch_size=config.batch_size, local_epochs=config.local_epochs, seed=config.seed,
        )
        self.template = self.trainer.init()
        self.global_flat = np.asarray(ravel(self.template))
        self.clip = clip_vector(self.template, config.clip, config.clip_stats)
        self.dp = DifferentialPrivacy.from_config(config, self.counts, self.global_flat.size, self.clip)
        self.ledger = None
        self._exit = contextlib.ExitStack()

    # --- set-up ------------------------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def start(cls, config: RunConfig, run_dir: RunDir, *, data_dir=None, dataset=None, progress=True):
        """Load data, build the model, set up keys and the chain; closes the chain on exit."""
        dataset = dataset if dataset is not None else fdata.load_dataset(config.dataset, data_dir)
        try:
            session = cls(config, run_dir, dataset, progress)
        except DPConfigError:  # refused before anything ran: leave no half-written run behind
            run_dir.config_path.unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                run_dir.root.rmdir()  # only if nothing else is in it
            raise
        with session._exit:
            session._setup_roles()
            if progress:
                tqdm.write(session.describe())
            yield session

    def _prepare_data(self, ds) -> None:
        c = self.config
        train_idx, val_idx = training_split(ds, c)
        parts = fdata.partition(ds.y_train[train_idx], c.clients, c.partition, alpha=c.alpha, seed=c.seed)
        images = ds.x_train[..., None]  # [N, 28, 28, 1]: the models take a channel axis
        self.x_c, self.y_c, self.mask, self.counts = fdata.pack_clients(
            images[train_idx], ds.y_train[train_idx], parts
        )
        self.x_val, self.y_val = images[val_idx], ds.y_train[val_idx]
        self.x_test, self.y_test = ds.x_test[..., None], ds.y_test
        self.dataset_name = ds.name

    def _setup_roles(self) -> None:
        c = self.config
        if not c.encrypt:
            return
        names = ["kgc", "server", "auditor"] + [f"hospital_{i}" for i in range(c.clients)]
        if c.chain != "none":
            from fbh import chain

            self.ledger = self._exit.enter_context(chain.connect(c.chain, state_dir=self.run_dir.chain_dir))
            accounts = [self.ledger.account(name) for name in names]  # funded on dev chains
            self.ledger.deploy(accounts[0])
        else:
            accounts = [Account.create() for _ in names]
        _, server_acct, auditor_acct, *hospital_accts = accounts
        self.kgc = KeyGenerationCentre(self.ledger, threads=c.threads)
        self.server = Server(server_acct, self.ledger, clip=self.clip, bound=c.bound, threads=c.threads,
                             dp=self.dp and self.dp.mechanism)
        self.hospitals = [
            Hospital(a, int(n), self.kgc.public_key, self.ledger, constant_time=c.constant_time, threads=c.threads)
            for a, n in zip(hospital_accts, self.counts, strict=True)
        ]
        self.auditor = Auditor(auditor_acct, self._validation_accuracy, self.ledger, threads=c.threads)
        self.kgc.setup(
            server=self.server.address,
            hospitals=[h.address for h in self.hospitals],
            auditors=[self.auditor.address],
        )

    def describe(self) -> str:
        """One paragraph on what this run is about to do."""
        c = self.config
        counts = np.asarray(self.counts)
        lines = [
            f"fbh: {c.model.upper()} with {self.trainer.num_params:,} parameters "
            f"({self.global_flat.size:,} values per update incl. batch-norm statistics)",
            f"     {c.clients} hospitals on {self.dataset_name} ({c.partition}), "
            f"{counts.min():,}-{counts.max():,} training images each; auditor holds {self.y_val.size:,}",
        ]
        if c.encrypt:
            mode = "constant-time" if c.constant_time else "fast (variable-time)"
            chain = f"{c.chain} chain, contract {self.ledger.address}" if self.ledger is not None else "no chain"
            lines.append(f"     EC-ElGamal on secp256k1, {mode}; {chain}")
            if self.dp is not None:
                lines.append(f"     {self.dp.mechanism.describe()}")
        else:
            lines.append("     plaintext FedAvg (no encryption, no chain)")
        return "\n".join(lines)

    def round_numbers(self):
        return tqdm(range(1, self.config.rounds + 1), desc="rounds", unit="round", disable=not self.progress)

    # --- one round ---------------------------------------------------------------------
    def _state(self, flat: np.ndarray):
        return unravel(jax.numpy.asarray(flat), self.template)

    def _validation_accuracy(self, flat: np.ndarray) -> float:
        return self.trainer.evaluate(self._state(flat), self.x_val, self.y_val)[0]

    def run_round(self, round_: int, timer, tamper) -> dict[str, Any]:
        """Train, protect, aggregate, audit and evaluate one round; returns its metrics row."""
        c = self.config
        key = jax.random.fold_in(jax.random.key(c.seed), round_)
        with timer(msg.TRAIN):
            client_states, train_metrics = self.trainer.round(
                self._state(self.global_flat), self.x_c, self.y_c, self.mask, key
            )
            client_flats = np.asarray(ravel_clients(client_states))
        row: dict[str, Any] = {"round": round_}
        if c.encrypt:
            new_flat, extra = self._secure_aggregate(round_, client_flats, timer, tamper)
            row.update(extra)
            if self.dp is not None:
                row.update(self.dp.after_round(extra["accepted"]))
        else:
            with timer(msg.AGGREGATE):
                new_flat = np.asarray(ravel(fedavg(client_states, self.counts)))
        self.global_flat = new_flat
        self.run_dir.save_model(self.run_dir.round_dir(round_) / "model.npz", new_flat, round=round_)
        if c.encrypt:
            with timer(msg.AUDIT):
                accepted = row.pop("_accepted")
                verdict = self.auditor.audit(round_, accepted, new_flat)
            row.update(validation_accuracy=verdict.validation_accuracy, approved=verdict.approved)
            if verdict.problems:
                row["audit_problems"] = list(verdict.problems)
        acc, loss = self.trainer.evaluate(self._state(new_flat), self.x_test, self.y_test)
        row.update(
            test_accuracy=float(acc), test_loss=float(loss),
            train_loss=float(np.average(np.asarray(train_metrics["loss"]), weights=self.counts)),
        )
        return row

    def _secure_aggregate(self, round_, client_flats, timer, tamper):
        c = self.config
        plan = self.server.open_round(round_, self.global_flat, {h.address: h.num_samples for h in self.hospitals})
        updates, clipped = [], 0
        bar = tqdm(self.hospitals, desc=f"round {round_}: encrypt", unit="hospital", leave=False,
                   disable=not self.progress)
        for i, hospital in enumerate(bar):
            with timer(msg.QUANTIZE):
                q, n_clipped = hospital.quantize(plan, client_flats[i] - self.global_flat,
                                                 seed=int(self.rng.integers(2**63)))
            with timer(msg.ENCRYPT):
                update = hospital.encrypt(plan, q)
            with timer("chain"):
                hospital.commit(update)
            updates.append(update)
            clipped += n_clipped
        if tamper is not None:
            updates = tamper(round_, updates)
        with timer(msg.VERIFY):
            accepted, rejected = self.server.verify(plan, updates, self.global_flat.size)
        for update in accepted:
            self.run_dir.save_update(round_, update.hospital, update.blob, update.signature)
        with timer(msg.AGGREGATE):
            aggregate = self.server.aggregate(plan, accepted)
        with timer(msg.DECRYPT):
            summed = self.kgc.decrypt_sum(round_, [u.blob for u in accepted], bound=c.bound,
                                          min_parties=min(2, len(self.hospitals)),
                                          constant_time=c.constant_time)
        new_flat = self.server.apply(plan, accepted, aggregate, summed, self.global_flat)
        extra = {
            "accepted": len(accepted),
            "rejected": [{"hospital": r.hospital, "reason": r.reason, "detail": r.detail} for r in rejected],
            "clipped_fraction": clipped / (len(self.hospitals) * self.global_flat.size),
            "_accepted": {u.hospital: u.blob for u in accepted},
        }
        return new_flat, extra

    # --- reporting -----------------------------------------------------------------------
    def report(self, row: dict[str, Any]) -> None:
        if self.progress:
            tqdm.write(
                f"round {row['round']}: test accuracy {row['test_accuracy']:.4f}, "
                f"loss {row['test_loss']:.4f}, seconds "
                + ", ".join(f"{k} {v:.2f}" for k, v in row["seconds"].items())
            )

    def finish(self, metrics: dict[str, Any]) -> None:
        """Final model, curves, and the chain's state for later audit."""
        meta = {"dataset": self.dataset_name, **self.trainer.meta(), "rounds": len(metrics["rounds"])}
        self.run_dir.save_model(self.run_dir.model_path, self.global_flat, **meta)
        title = f"{'encrypted ' if self.config.encrypt else ''}FL {self.config.model.upper()}, {self.dataset_name}"
        plot_curves(metrics, self.run_dir.root, title)
        if self.ledger is not None:
            self.ledger.save_state(self.run_dir.chain_dir)
