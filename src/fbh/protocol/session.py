"""One federated run's live state: data, trainer, roles, chain; one method per round."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from fbh import data as fdata
from fbh.protocol import messages as msg
from fbh.protocol import blame, cheats, exclusions, guarded, range_audit, retention
from fbh.protocol import round as protocol_round
from fbh.protocol.auditor import Auditor
from fbh.protocol.client import Hospital
from fbh.protocol.config import RunConfig
from fbh.protocol.faults import checkpoint
from fbh.protocol.keyring import Keyring
from fbh.protocol.kgc import KeyGenerationCentre
from fbh.protocol.plots import plot_curves
from fbh.protocol.privacy import DifferentialPrivacy
from fbh.protocol.rundir import RunDir
from fbh.protocol.server import Server
from fbh.protocol.strategy import ServerStrategy, sample_clients
from fbh.train import FederatedTrainer, fedavg, ravel, ravel_clients, roc_auc, unravel

__all__ = ["Session", "build_trainer", "client_data", "clip_vector", "training_split"]


def clip_vector(template, clip: float, clip_stats: float) -> np.ndarray:
    """float64[P]: ``clip_stats`` for batch-norm statistics, ``clip`` for everything else."""

    def leaf_clip(path, leaf):
        return np.full(np.shape(leaf), clip_stats if "batch_stats" in jax.tree_util.keystr(path) else clip)

    return np.asarray(ravel(jax.tree_util.tree_map_with_path(leaf_clip, template)), np.float64)


def training_split(ds, config: RunConfig) -> tuple[np.ndarray, np.ndarray | None]:
    """(train, validation) indices: the auditor's split held out, then the optional subset.

    A dataset with an official validation split (MedMNIST) keeps its whole
    training split and gives the auditor that validation split (``None`` here).
    """
    if ds.x_val is not None:
        train_idx, val_idx = np.arange(ds.y_train.size), None
    else:
        train_idx, val_idx = fdata.split_validation(ds.y_train, config.validation_size, seed=config.seed)
    if config.train_examples is not None and config.train_examples < train_idx.size:
        rng = np.random.default_rng([config.seed, 1])
        train_idx = np.sort(rng.choice(train_idx, config.train_examples, replace=False))
    return train_idx, val_idx


def client_data(ds, config: RunConfig, partition=None) -> dict[str, np.ndarray]:
    """Every hospital's padded training arrays and the auditor's and test sets, as ``config`` splits ``ds``.

    Returns ``x_c, y_c, mask, counts`` (client axis first), ``x_val, y_val`` and ``x_test, y_test``.
    A Flower node (:mod:`fbh.flower`) takes its own row, so it trains on what the same
    hospital trains on in-process.
    """
    c = config
    train_idx, val_idx = training_split(ds, c)
    if partition is not None and not callable(partition):
        # the user's index lists address ds.x_train; drop what the auditor holds out
        user = fdata.user_partition(partition, ds.y_train.size, c.clients)
        parts = [np.searchsorted(train_idx, p[np.isin(p, train_idx)]) for p in user]
    else:
        scheme = c.partition if partition is None else partition
        parts = fdata.partition(ds.y_train[train_idx], c.clients, scheme, alpha=c.alpha, seed=c.seed)
    images = fdata.with_channels(ds.x_train)  # [N, H, W, C]: the models take a channel axis
    x_c, y_c, mask, counts = fdata.pack_clients(images[train_idx], ds.y_train[train_idx], parts)
    if val_idx is None:
        x_val, y_val = fdata.with_channels(ds.x_val), ds.y_val
    else:
        x_val, y_val = images[val_idx], ds.y_train[val_idx]
    return {"x_c": x_c, "y_c": y_c, "mask": mask, "counts": counts, "x_val": x_val, "y_val": y_val,
            "x_test": fdata.with_channels(ds.x_test), "y_test": ds.y_test}


def build_trainer(config: RunConfig, ds, x_c, model=None):
    """The trainer for ``config`` on ``ds``: ``(trainer, initial state, trainable indices, notes)``.

    ``model`` (an NNX module or ``ModelSpec``) overrides ``config.model``;
    ``--init-from`` and ``--trainable`` are applied here, and ``notes`` says
    what was re-initialised.
    """
    from fbh.model import ModelSpec
    from fbh.train import load_pretrained, select_trainable, trainable_indices

    if model is None:
        model = ModelSpec(config.model, config.model_kwargs or {})
    # x_c None: a party without the data (the Flower server) that needs only the initial state
    norm = fdata.channel_stats(x_c.reshape(-1, *x_c.shape[2:])) if config.normalize and x_c is not None else None
    probe = FederatedTrainer(model, ds.num_classes, seed=config.seed, input_shape=ds.input_shape,
                             client_batch=None)
    state, notes = probe.init(), []
    if config.init_from is not None:
        state, fresh = load_pretrained(config.init_from, state)
        notes.append(f"initialised from {config.init_from}"
                     + (f"; re-initialised (absent or reshaped): {', '.join(fresh)}" if fresh else ""))
    trainable = select_trainable(state, config.trainable)
    trainer = FederatedTrainer(
        probe.spec if probe.spec is not None else model, ds.num_classes, lr=config.lr,
        momentum=config.momentum, batch_size=config.batch_size, local_epochs=config.local_epochs,
        seed=config.seed, input_shape=ds.input_shape, mu=config.local_mu, trainable=trainable, norm=norm,
        client_batch="auto" if config.client_batch is None else config.client_batch,
    )
    return trainer, state, trainable_indices(state, trainable), notes


class Session:
    """Everything one run holds between rounds.  Build it with :meth:`start`."""

    def __init__(self, config: RunConfig, run_dir: RunDir, dataset, progress: bool,
                 model=None, partition=None) -> None:
        self.config = config
        self.run_dir = run_dir
        self.progress = progress
        self.round_offset = 0  # chain round id - training step: > 0 after a resumed run cancelled a round
        self._prepare_data(dataset, partition)
        self.trainer, self.template, self.trainable, self.notes = build_trainer(
            config, dataset, self.x_c, model
        )
        self.global_flat = np.asarray(ravel(self.template))
        self.clip = clip_vector(self.template, config.clip, config.clip_stats)
        sub = slice(None) if self.trainable is None else self.trainable
        # the server optimizer acts on parameters; batch-norm statistics take the plain mean
        self.strategy = ServerStrategy(config.strategy, config.server_lr, clip_vector(self.template, 1, 0)[sub] > 0)
        self.dp = DifferentialPrivacy.from_config(config, self.counts, self.global_flat[sub].size, self.clip[sub])
        self.ledger = None
        self.resuming = False
        self._exit = contextlib.ExitStack()

    # --- set-up ------------------------------------------------------------------------
    @classmethod
    @contextlib.contextmanager
    def start(cls, config: RunConfig, run_dir: RunDir, *, data_dir=None, dataset=None, progress=True,
              model=None, partition=None, resume=False):
        """Load data, build the model, set up keys and the chain; closes the chain on exit.

        ``model`` (an NNX module or ``ModelSpec``) overrides ``config.model``;
        ``partition`` (C index arrays into ``dataset.x_train``, or a callable
        ``(labels, C, seed)`` over the training split) overrides ``config.partition``.
        With ``resume`` the parties' saved keys and the saved chain come back instead.
        """
        dataset = dataset if dataset is not None else fdata.load_dataset(config.dataset, data_dir)
        session = cls(config, run_dir, dataset, progress, model, partition)
        session.resuming = resume
        with session._exit:
            session._setup_roles()
            if progress:
                tqdm.write(session.describe())
            yield session

    def _prepare_data(self, ds, partition=None) -> None:
        for name, value in client_data(ds, self.config, partition).items():
            setattr(self, name, value)
        self.dataset_name = ds.name

    def _setup_roles(self) -> None:
        c = self.config
        if not c.encrypt:
            return
        names = ["kgc", "server", "auditor"] + [f"hospital_{i}" for i in range(c.clients)]
        keyring = Keyring(self.run_dir.root / "keys")
        # Keys are saved before the chain first sees them, so a crash at any later point can resume.
        stored, secret = keyring.load() if self.resuming else keyring.create(names, kgc_key=not c.guardians)
        live = c.chain.startswith(("http://", "https://"))  # role keys come from the environment there
        if c.chain != "none":
            from fbh import chain

            if self.resuming:
                self.ledger = self._exit.enter_context(chain.restore(self.run_dir.chain_dir, resume=True))
            else:
                self.ledger = self._exit.enter_context(chain.connect(c.chain, state_dir=self.run_dir.chain_dir))
            # funded on dev chains
            accounts = [self.ledger.account(name, key=None if live else stored[name].key) for name in names]
            if not self.resuming:
                self.ledger.deploy(accounts[0])
        else:
            accounts = [stored[name] for name in names]
        _, server_acct, auditor_acct, *hospital_accts = accounts
        self.council = None
        if c.guardians:  # the KGC only registers parties: it never generates or holds a key
            self._convene_guardians()
            self.kgc = KeyGenerationCentre.registrar(self.ledger, self.council.public)
        else:
            self.kgc = KeyGenerationCentre(self.ledger, threads=c.threads, secret=secret)
        sub = slice(None) if self.trainable is None else self.trainable
        self.server = Server(server_acct, self.ledger, clip=self.clip[sub], bound=c.bound, threads=c.threads,
                             k=self.kgc.public_key.k, strategy=self.strategy, trainable=self.trainable,
                             dp=self.dp and self.dp.mechanism)
        self.hospitals = [
            Hospital(a, int(n), self.kgc.public_key, self.ledger, constant_time=c.constant_time, threads=c.threads)
            for a, n in zip(hospital_accts, self.counts, strict=True)
        ]
        self.auditor = Auditor(auditor_acct, self._validation_accuracy, self.ledger, threads=c.threads)
        if self.council is not None:
            cheat = cheats.parse(c.attack)
            guarded.connect_hospitals(self.council, self.hospitals,
                                      blame.honest_answer if cheat is None else cheat.bind(self.hospitals).answer)
        if self.resuming:
            return
        range_audit.save_public_key(self.run_dir.root, self.kgc.public_key)  # fbh audit re-verifies range proofs
        self.kgc.setup(
            server=self.server.address,
            hospitals=[h.address for h in self.hospitals],
            auditors=[self.auditor.address],
        )

    def _convene_guardians(self) -> None:
        """Guardian mode: the key ceremony replaces the KGC's key (the KGC only registers parties)."""
        c, root = self.config, self.run_dir.root
        if self.resuming:  # the same guardians with their saved shares; the start model comes with _recover
            self.council = guarded.restore_council(self.ledger, root, threads=c.threads)
        else:
            names = ["auditor"] + [f"hospital_{i}" for i in range(c.clients)]
            self.council = guarded.convene(self.ledger, c.guardians, c.threshold, names, threads=c.threads)
            guarded.save_guardian_keys(root, self.council)
            guarded.save_ceremony(root, self.council)
        self.approved_hash = msg.model_digest(self.global_flat)  # hospitals train only on this model
        self.audit_strategy = ServerStrategy(self.strategy.name, self.strategy.server_lr, self.strategy.optimized)

    def describe(self) -> str:
        """One paragraph on what this run is about to do."""
        c = self.config
        counts = np.asarray(self.counts)
        lines = [
            f"fbh: {self.trainer.model_name.upper()} with {self.trainer.num_params:,} parameters "
            f"({self.global_flat.size:,} values per update incl. batch-norm statistics)",
            f"     {c.clients} hospitals on {self.dataset_name} ({c.partition}), "
            f"{counts.min():,}-{counts.max():,} training images each; auditor holds {self.y_val.size:,}",
        ]
        for note in self.notes:
            lines.append(f"     {note}")
        if self.trainable is not None:
            lines.append(f"     training only {self.trainable.size:,} of {self.global_flat.size:,} values "
                         f"(--trainable {c.trainable!r})")
        if c.strategy != "fedavg" or c.clients_sampled < c.clients:
            lines.append(f"     strategy {c.strategy} (server lr {c.server_lr}, local mu {c.local_mu}); "
                         f"{c.clients_sampled} of {c.clients} hospitals per round")
        if c.encrypt:
            mode = "constant-time" if c.constant_time else "fast (variable-time)"
            chain = f"{c.chain} chain, contract {self.ledger.address}" if self.ledger is not None else "no chain"
            lines.append(f"     packed EC-ElGamal on secp256k1 (k = {self.kgc.public_key.k}, sender-bound proofs), "
                         f"{mode}; {chain}")
            if self.council is not None:
                who = ", ".join((["auditor"] + [f"hospital {i}" for i in range(c.clients)])[: c.guardians])
                lines.append(f"     key held by {c.guardians} guardians ({who}), any {c.threshold} decrypt each "
                             "round's recorded sum once; the KGC only registers parties")
            elif self.ledger is not None:
                lines.append("     one KGC holds the key and decrypts (the paper's trust model: --guardians 0)")
            if self.dp is not None:
                lines.append(f"     {self.dp.mechanism.describe()}")
        else:
            lines.append("     plaintext FedAvg (no encryption, no chain)")
        return "\n".join(lines)

    def round_numbers(self, first: int = 1):
        """Training steps ``first..rounds`` (with a progress bar on a terminal: bars off a
        terminal would only leave carriage returns and cursor escapes in logs)."""
        return tqdm(range(first, self.config.rounds + 1), desc="rounds", unit="round", initial=first - 1,
                    total=self.config.rounds, disable=None if self.progress else True)

    def next_round_id(self, step: int) -> int:
        """The chain's round number for training step ``step`` (equal unless a round was cancelled)."""
        return step + self.round_offset

    # --- one round ---------------------------------------------------------------------
    def _state(self, flat: np.ndarray):
        return unravel(jax.numpy.asarray(flat), self.template)

    def _validation_accuracy(self, flat: np.ndarray) -> float:
        return self.trainer.evaluate(self._state(flat), self.x_val, self.y_val)[0]

    def sampled(self, round_: int) -> np.ndarray:
        """Indices of the hospitals taking part in ``round_`` (all, unless sampling is on)."""
        return sample_clients(self.config.clients, self.config.clients_sampled, self.config.seed, round_)

    def run_round(self, round_: int, timer, tamper, step: int | None = None) -> dict[str, Any]:
        """Train, protect, aggregate, audit and evaluate one round; returns its metrics row.

        ``round_`` numbers the round on chain and on disk; ``step`` (default
        ``round_``) seeds training, sampling and rounding, so a round redone
        after a crash computes what the lost one would have.
        """
        c = self.config
        step = round_ if step is None else step
        key = jax.random.fold_in(jax.random.key(c.seed), step)
        chosen = self.sampled(step)
        with timer(msg.TRAIN):
            client_states, train_metrics = self.trainer.round(
                self._state(self.global_flat), self.x_c[chosen], self.y_c[chosen], self.mask[chosen], key
            )
            client_flats = np.asarray(ravel_clients(client_states))
        checkpoint("train", round_, self.ledger)
        row: dict[str, Any] = {"round": round_} if step == round_ else {"round": round_, "step": step}
        if chosen.size < c.clients:
            row.update(sampled=[int(i) for i in chosen], sampling_rate=chosen.size / c.clients)
        if c.encrypt:
            new_flat, extra = self._secure_aggregate(round_, client_flats, timer, tamper, step, chosen)
            row.update(extra)
            if self.dp is not None:
                row.update(self.dp.after_round(extra["accepted"]))
        else:
            with timer(msg.AGGREGATE):
                mean = np.asarray(ravel(fedavg(client_states, self.counts[chosen])))
                new_flat = self.strategy.step(self.global_flat, mean - self.global_flat)
        self.global_flat = new_flat
        self.run_dir.save_model(self.run_dir.round_dir(round_) / "model.npz", new_flat, round=round_,
                                **self.trainer.meta())
        if c.encrypt:
            checkpoint("audit", round_, self.ledger)
            with timer(msg.AUDIT):
                accepted = row.pop("_accepted")
                start = row.pop("_start", None)
                findings = [] if start is None else guarded.audit_findings(self, round_, accepted, start, new_flat)
                findings += row.pop("_range_audit")(accepted)
                findings += exclusions.audit_round(self.ledger, self.run_dir.round_dir(round_),
                                                   shape=row.pop("_shape"), threads=c.threads)
                verdict = self.auditor.audit(round_, accepted, new_flat, extra_problems=findings)
            if start is not None:  # guardian mode: train on from the last approved model only
                if verdict.approved:
                    self.approved_hash = msg.model_digest(new_flat)
                else:
                    self.global_flat = start
                    guarded.undo_round(self)
            digests = row.pop("_digests")
            if verdict.approved and c.retention == retention.UNTIL_APPROVED:
                with timer("storage"):
                    self.run_dir.prune_updates(round_, digests)
            row.update(validation_accuracy=verdict.validation_accuracy, approved=verdict.approved)
            if verdict.problems:
                row["audit_problems"] = list(verdict.problems)
        row.update(self.test_metrics(new_flat))
        row["train_loss"] = float(np.average(np.asarray(train_metrics["loss"]), weights=self.counts[chosen]))
        return row

    def test_metrics(self, flat: np.ndarray) -> dict[str, float]:
        """Test accuracy, cross-entropy and ROC AUC (MedMNIST's definition) of a flat model."""
        probs = self.trainer.predict_proba(self._state(flat), self.x_test)
        y = np.asarray(self.y_test)
        p_true = np.clip(probs[np.arange(y.size), y].astype(np.float64), 1e-12, None)
        return {
            "test_accuracy": float(np.mean(probs.argmax(-1) == y)),
            "test_loss": float(-np.mean(np.log(p_true))),
            "test_auc": roc_auc(y, probs),
        }

    def _secure_aggregate(self, round_, client_flats, timer, tamper, step, chosen):
        c = self.config
        hospitals = [self.hospitals[i] for i in chosen]
        sub = slice(None) if self.trainable is None else self.trainable
        global_sub = self.global_flat[sub]
        invited = {h.address: h.num_samples for h in hospitals}
        plan = self.server.open_round(round_, self.global_flat, invited, bind_model=self.council is not None)
        range_audit.save_plan(self.run_dir.round_dir(round_), plan, invited, c.range_samples)
        start = self.global_flat.copy()
        if self.council is not None and self.ledger.trust_record(round_).start_model != self.approved_hash:
            msg_ = f"round {round_}: hospitals refuse the model: it is not the last approved one"
            raise RuntimeError(msg_)
        updates, clipped = [], 0
        cheat = cheats.parse(c.attack)
        bar = tqdm(hospitals, desc=f"round {round_}: encrypt", unit="hospital", leave=False,
                   disable=None if self.progress else True)
        for i, hospital in enumerate(bar):
            update, n_clipped = protocol_round.contribute(
                hospital, plan, client_flats[i][sub] - global_sub, protocol_round.rounding_seed(c.seed, step, i),
                timer, cheat=cheat, index=int(chosen[i]), previous=updates)
            if i == 0:
                checkpoint("encrypt", round_, self.ledger)
            updates.append(update)
            clipped += n_clipped
        checkpoint("commit", round_, self.ledger)
        if tamper is not None:
            updates = tamper(round_, updates)
        forged = guarded.forge_exclusion(self, round_, updates)
        ranges = blame.RangeStage(self.server, {h.address: h for h in hospitals}, self.kgc.public_key,
                                  c.range_samples, self.run_dir.round_dir(round_),
                                  answer=blame.honest_answer if cheat is None else cheat.bind(self.hospitals).answer)
        invented = []  # the server's --attack invent-exclusion, played on what it verified
        accepted, rejected, aggregate = protocol_round.collect(
            self.server, self.run_dir, plan, updates, global_sub.size, c.retention, timer, ranges,
            screen=lambda acc, rej: invented.append(guarded.invent_exclusion(self, round_, acc, rej)))
        checkpoint("aggregate", round_, self.ledger)
        extra: dict[str, Any] = {}
        if self.council is not None:
            with timer(msg.DECRYPT):
                new_flat, extra = guarded.decrypt_round(self, round_, plan, accepted, start, ranges)
            extra["_start"] = start
            blamed = extra.pop("_blamed", [])
            gone = {r.hospital for r in blamed}
            accepted = [u for u in accepted if u.hospital not in gone]
            if blamed and c.retention == retention.UNTIL_APPROVED:
                self.run_dir.save_aggregate(round_, self.server.aggregate(plan, accepted))
        else:
            with timer(msg.DECRYPT):
                summed, accepted, aggregate, blamed = blame.decrypt_kgc(self, ranges, plan, accepted, aggregate,
                                                                         min_parties=min(2, len(hospitals)))
            if blamed and c.retention == retention.UNTIL_APPROVED:
                self.run_dir.save_aggregate(round_, aggregate)
            new_flat = self.server.apply(plan, accepted, aggregate, summed, self.global_flat)
        rejected += blamed
        blame.set_aside(self.run_dir, round_, [r.hospital for r in blamed])
        if forged is not None:
            extra["attack"] = guarded.forge_outcome(forged, accepted, rejected)
        if invented and invented[0] is not None:
            extra["attack"] = invented[0]
        extra |= protocol_round.outcome(accepted, rejected, clipped, len(hospitals), global_sub.size)
        extra |= {
            "range_check": ranges.summary(),
            "_range_audit": lambda blobs: blame.audit_range(self.kgc.public_key, self.ledger, plan,
                                                            self.run_dir.round_dir(round_), blobs, c.range_samples,
                                                            threads=c.threads),
            "_shape": (int(global_sub.size), self.kgc.public_key.k),
        }
        for hospital in hospitals:
            hospital.forget()
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
        meta = {"dataset": self.dataset_name, **self.trainer.meta(), "rounds": len(metrics["rounds"]),
                "trainable": None if self.trainer.config.trainable is None else list(self.trainer.config.trainable)}
        self.run_dir.save_model(self.run_dir.model_path, self.global_flat, **meta)
        title = f"{'encrypted ' if self.config.encrypt else ''}FL {self.trainer.model_name.upper()}, {self.dataset_name}"
        plot_curves(metrics, self.run_dir.root, title)
        if self.ledger is not None:
            self.ledger.save_state(self.run_dir.chain_dir)
