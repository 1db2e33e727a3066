"""The server's side of an fbh run on Flower: the server role driving the other parties' nodes.

:class:`FlowerRun` is the second driver of :mod:`fbh.protocol`'s roles (the
first is :class:`fbh.protocol.session.Session`, all roles in one process).  It
holds the server role only — the server's own signing key, no protocol secret,
no data — and reaches every other party through Flower messages, stage by
stage (:mod:`fbh.flower.records`): set-up, registration by the registrar (who
deploys the registry and publishes the key set), the hospitals' and auditor's
join, then per round: open on chain, each sampled hospital trains and commits
from its own node, the server verifies and adds (:func:`fbh.protocol.round.collect`),
the registrar decrypts the recorded sum, the server applies it, and the
auditor re-checks and approves on chain.  It writes the same run directory as
``fbh run``, so ``fbh audit`` checks a Flower run exactly as an in-process one.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from flwr.app import Message

from fbh.flower import nodes
from fbh.flower import records as r
from fbh.protocol import retention
from fbh.protocol import round as protocol_round
from fbh.protocol.config import RunConfig
from fbh.protocol.rundir import RunDir

__all__ = ["FlowerRun"]


class FlowerRun:
    """One fbh run over a Flower ``Grid``.

    Args:
      grid: the ``Grid`` the ``ServerApp`` was given.
      config: what to run (``clients`` hospitals; KGC mode, no DP).
      out_dir: the run directory the server writes (its key goes to ``out_dir/keys``).
      chain_url: the JSON-RPC URL every party reaches the chain through.
      workdir: where simulated nodes without a ``dir`` in their node config keep their keys.
      timeout: seconds to wait for nodes to connect, and for each stage's replies.
    """

    def __init__(self, grid, config: RunConfig, out_dir: str | Path, chain_url: str, *,
                 workdir: str | Path | None = None, timeout: float = 600.0) -> None:
        for ok, why in ((config.encrypt, "fbh on Flower runs the encrypted protocol (--encrypt)"),
                        (config.guardians == 0, "guardians are not yet carried over Flower: use the KGC mode"),
                        (config.attack is None, "attacks are played by the in-process simulation only"),
                        (config.range_samples == 0,
                         "range checks are not yet carried over Flower: set range_samples to 0"),
                        (chain_url.startswith(("http://", "https://")), "the chain must be an http(s) RPC URL")):
            if not ok:
                raise ValueError(why)
        self.grid, self.config, self.chain_url, self.timeout = grid, config, chain_url, timeout
        self.run_dir = RunDir(out_dir)
        self.workdir = Path(workdir) if workdir is not None else self.run_dir.root / "nodes"
        self.ledger = None
        self.trainer, self.trainable, self.meta = None, None, {}
        self.dropped: dict[int, str] = {}  # node id -> why it dropped out of the last may_drop stage

    # --- messaging -------------------------------------------------------------------------
    def content(self, stage: str, fields: dict[str, Any], arrays: dict[str, np.ndarray]):
        """What a message of ``stage`` carries (the stage is named inside, as SecAgg+ names its stages)."""
        return r.content({**fields, "stage": stage}, arrays)

    def message_type(self, stage: str) -> str:
        """The Flower message type of ``stage`` (fbh's own ClientApp registers one handler per stage)."""
        return r.message_type(stage)

    def ask(self, stage: str, requests: dict[int, tuple[dict[str, Any], dict[str, np.ndarray]]], group: str,
            *, may_drop: bool = False):
        """Send one message per node, wait for every reply; returns node id -> (fields, arrays).

        With ``may_drop`` (the hospitals' training), a node that does not answer within the
        timeout, whose node Flower reports gone, or whose ClientApp failed, is dropped from the
        answers instead of failing the run; :attr:`dropped` then says which and why.
        """
        messages = [Message(self.content(stage, fields, arrays), dst_node_id=node,
                            message_type=self.message_type(stage), group_id=group)
                    for node, (fields, arrays) in requests.items()]
        replies = {m.metadata.src_node_id: m for m in self.grid.send_and_receive(messages, timeout=self.timeout)}
        failed = {n: f"no reply within {self.timeout} s" for n in sorted(set(requests) - set(replies))}
        failed |= {n: m.error.reason for n, m in replies.items() if m.has_error()}
        if failed and not may_drop:
            msg = f"stage {stage}: " + "; ".join(f"node {n}: {why}" for n, why in sorted(failed.items()))
            raise r.NodeFailed(msg)
        self.dropped = failed
        return {n: (r.fields(m), r.arrays(m)) for n, m in replies.items() if n not in failed}

    def _nodes(self, expected: int) -> list[int]:
        deadline = time.monotonic() + self.timeout
        while len(ids := sorted(self.grid.get_node_ids())) < expected:
            if time.monotonic() > deadline:
                msg = f"{len(ids)} of {expected} nodes connected within {self.timeout} s"
                raise r.NodeFailed(msg)
            time.sleep(1.0)
        return ids

    # --- set-up ----------------------------------------------------------------------------
    def setup(self) -> None:
        """Find every party, have the registrar deploy and register, have the others join."""
        from fbh import chain
        from fbh.protocol.keyring import NodeKeys
        from fbh.protocol.server import Server
        from fbh import crypto as fc
        from fbh.protocol.strategy import ServerStrategy

        c = self.config
        ids = self._nodes(c.clients + 2)
        who = self.ask(r.SETUP, {n: ({"workdir": str(self.workdir)}, {}) for n in ids}, "setup")
        by_role: dict[tuple[str, int], tuple[int, str]] = {}
        for node, (f, _) in who.items():
            by_role[(f["role"], int(f["index"]))] = (node, f["address"])
        wanted = [(nodes.REGISTRAR, 0), (nodes.AUDITOR, 0)] + [(nodes.HOSPITAL, i) for i in range(c.clients)]
        absent = [f"{role} {i}" for role, i in wanted if (role, i) not in by_role]
        if absent:
            msg = f"no node plays {', '.join(absent)}"
            raise r.NodeFailed(msg)
        self.registrar, self.auditor = by_role[(nodes.REGISTRAR, 0)], by_role[(nodes.AUDITOR, 0)]
        self.hospitals = [by_role[(nodes.HOSPITAL, i)] for i in range(c.clients)]
        server_account = NodeKeys(self.run_dir.root / "keys").account()
        reg = {"chain_url": self.chain_url, "server": server_account.address, "auditor": self.auditor[1],
               "hospitals": [a for _, a in self.hospitals]}
        (fields, _), = self.ask(r.REGISTER, {self.registrar[0]: (reg, {})}, "setup").values()
        self.ledger = chain.connect(self.chain_url, state_dir=self.run_dir.chain_dir, contract=fields["contract"])
        self.ledger.account("server", key=server_account.key)
        join = {"chain_url": self.chain_url, "contract": fields["contract"], "public_key": fields["public_key"],
                "config": json.dumps(c.to_json())}
        joined = self.ask(r.JOIN, {n: (join, {}) for n, _ in [self.auditor, *self.hospitals]}, "setup")
        self.global_flat, clip, stats = self.build_model(joined)
        sub = slice(None) if self.trainable is None else self.trainable
        k = fc.PublicKeySet.from_bytes(bytes(fields["public_key"])).k
        strategy = ServerStrategy(c.strategy, c.server_lr, ~stats[sub])
        self.server = Server(server_account, self.ledger, clip=clip[sub], bound=c.bound, threads=c.threads, k=k,
                             strategy=strategy, trainable=self.trainable)

    def build_model(self, joined) -> tuple[Any, np.ndarray, np.ndarray]:
        """(initial model vector, clipping vector, batch-statistics mask) of fbh's own model, built without data."""
        from fbh.train import ravel

        from fbh.protocol.session import build_trainer, clip_vector

        c = self.config
        self.counts = np.array([int(joined[n][0]["num_samples"]) for n, _ in self.hospitals])
        meta = joined[self.auditor[0]][0]  # the data's shape, so the server builds the model without data
        ds = SimpleNamespace(num_classes=int(meta["num_classes"]), input_shape=tuple(meta["input_shape"]))
        self.trainer, template, self.trainable, _ = build_trainer(c, ds, None)
        self.meta = self.trainer.meta()
        return (np.asarray(ravel(template)), clip_vector(template, c.clip, c.clip_stats),
                clip_vector(template, 1, 0) == 0)

    # --- one round -------------------------------------------------------------------------
    def run_round(self, step: int, timer) -> dict[str, Any]:
        """The server's round ``step``: the same steps as ``Session.run_round``, its parties on other nodes."""
        from fbh.protocol.messages import model_digest
        from fbh.protocol.strategy import sample_clients

        c, round_ = self.config, step
        chosen = sample_clients(c.clients, c.clients_sampled, c.seed, step)
        sub = slice(None) if self.trainable is None else self.trainable
        with timer("hospitals"):  # train, quantize, encrypt, commit: on the hospitals' nodes
            counts = self.sample_sizes(step, chosen)
            plan = self.server.open_round(round_, self.global_flat,
                                          {self.hospitals[i][1]: int(counts[i]) for i in chosen})
            answers = self.contributions(step, chosen, plan)
        # sampling order, as in-process; a hospital that dropped out is simply not received this round
        answered = np.array([i for i in chosen if self.hospitals[i][0] in answers], dtype=int)
        order = [self.hospitals[i][0] for i in answered]
        not_received = [{"hospital": self.hospitals[i][1], "reason": self.dropped[self.hospitals[i][0]]}
                        for i in chosen if self.hospitals[i][0] in self.dropped]
        updates = [r.update_from_record(*answers[n]) for n in order]
        clipped = sum(int(answers[n][0]["clipped"]) for n in order)
        group = str(round_)
        accepted, rejected, aggregate = protocol_round.collect(self.server, self.run_dir, plan, updates,
                                                               self.global_flat[sub].size, c.retention, timer)
        with timer("decrypt"):
            blobs = {f"blob_{i}": np.frombuffer(u.blob, np.uint8) for i, u in enumerate(accepted)}
            ask = {"round": round_, "count": len(accepted), "bound": c.bound, "constant_time": c.constant_time,
                   "min_parties": min(2, int(chosen.size))}
            (_, out), = self.ask(r.DECRYPT, {self.registrar[0]: (ask, blobs)}, group).values()
        new_flat = self.server.apply(plan, accepted, aggregate, out["sum"], self.global_flat)
        self.global_flat = new_flat
        self.run_dir.save_model(self.run_dir.round_dir(round_) / "model.npz", new_flat, round=round_, **self.meta)
        row = {"round": round_} | protocol_round.outcome(accepted, rejected, clipped, int(chosen.size),
                                                          self.global_flat[sub].size)
        with timer("audit"):
            ask = {"round": round_, "hospitals": list(row["_accepted"])}
            blobs = {f"blob_{i}": np.frombuffer(b, np.uint8) for i, b in enumerate(row.pop("_accepted").values())}
            (verdict, _), = self.ask(r.AUDIT, {self.auditor[0]: (ask, {**blobs, "model": new_flat})}, group).values()
        digests = row.pop("_digests")
        if verdict["approved"] and c.retention == retention.UNTIL_APPROVED:
            self.run_dir.prune_updates(round_, digests)
        row.update(validation_accuracy=verdict["validation_accuracy"], approved=verdict["approved"],
                   model_hash=model_digest(new_flat).hex(), not_received=not_received,
                   # payload per hospital: the ciphertext it sends, the model vector it receives
                   upload_bytes=int(np.mean([len(u.blob) for u in updates])), download_bytes=int(new_flat.nbytes))
        if all("loss" in answers[n][0] for n in order):
            row["train_loss"] = float(np.average([answers[n][0]["loss"] for n in order], weights=counts[answered]))
        if verdict["problems"]:
            row["audit_problems"] = list(verdict["problems"])
        return row

    def sample_sizes(self, step: int, chosen: np.ndarray) -> np.ndarray:  # noqa: ARG002 - fixed here
        """Every hospital's training-set size (FedAvg weights): reported once, at join."""
        return self.counts

    def contributions(self, step: int, chosen: np.ndarray, plan) -> dict[int, tuple[dict, dict]]:
        """Stage train: each sampled hospital trains from the model, then quantizes, encrypts, commits."""
        plan_fields, plan_arrays = r.plan_to_record(plan)
        asks = {self.hospitals[i][0]: ({**plan_fields, "step": step, "position": j, "sampled": int(chosen.size)},
                                       {**plan_arrays, "model": np.asarray(self.global_flat, np.float32)})
                for j, i in enumerate(chosen)}
        return self.ask(r.TRAIN, asks, str(plan.round), may_drop=True)

    # --- the whole run ---------------------------------------------------------------------
    def run(self) -> dict[str, Any]:
        """Set up, run every round, write the run directory; returns the metrics."""
        from fbh.protocol.simulation import _StageTimer, _claim

        _claim(self.run_dir)
        self.run_dir.mark_incomplete(stage="setup")
        self.run_dir.write_json(self.run_dir.config_path, {**self.config.to_json(), "chain": self.chain_url})
        try:
            self.setup()
            metrics: dict[str, Any] = {"rounds": [], "driver": "flower"}
            for step in range(1, self.config.rounds + 1):
                self.run_dir.mark_incomplete(round=step, step=step)
                timer = _StageTimer()
                row = self.run_round(step, timer)
                row["seconds"] = {k: round(v, 4) for k, v in timer.seconds.items()}
                metrics["rounds"].append(row)
                self.run_dir.write_json(self.run_dir.metrics_path, metrics)
            trainable = self.trainer.config.trainable if self.trainer is not None else None
            meta = {"dataset": self.config.dataset, **self.meta, "rounds": self.config.rounds,
                    "trainable": None if trainable is None else list(trainable)}
            self.run_dir.save_model(self.run_dir.model_path, self.global_flat, **meta)
            self.ledger.save_state(self.run_dir.chain_dir)
            self.run_dir.mark_complete()
            return metrics
        finally:
            if self.ledger is not None:
                self.ledger.close()
