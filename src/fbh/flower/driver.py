"""The server's side of an fbh run on Flower: the server role driving the other parties' nodes.

:class:`FlowerRun` is the second driver of :mod:`fbh.protocol`'s roles (the
first is :class:`fbh.protocol.session.Session`, all roles in one process).  It
holds the server role only — the server's own signing key, no protocol secret,
no data — and reaches every other party through Flower messages, stage by
stage (:mod:`fbh.flower.records`): set-up, registration by the registrar (who
deploys the registry), with guardians (the default, as for ``fbh run``) their
key ceremony on their own nodes (:mod:`fbh.flower.guardians`), the registrar
publishing the key set, the hospitals' and auditor's join, then per round:
open on chain, each sampled hospital trains and commits from its own node, the
server verifies and adds (:func:`fbh.protocol.round.collect`), t guardians
decrypt the recorded sum from their nodes (:func:`fbh.protocol.guarded.decrypt_round`,
the in-process run's own step) — or, in the paper's KGC mode, the registrar
does — the server applies it, and the auditor re-checks and approves on chain.  It writes the same run directory as
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
from fbh.flower.ranges import FLOWER_ATTACKS, RemoteKgc, range_stage
from fbh.protocol import exclusions, guarded, range_audit, retention
from fbh.protocol import round as protocol_round
from fbh.protocol.config import RunConfig
from fbh.protocol.range_check import EVIDENCE_DIR as RANGE_DIR
from fbh.protocol.rundir import RunDir

__all__ = ["FlowerRun"]


def _file_bytes(path: Path) -> np.ndarray:
    return np.frombuffer(path.read_bytes(), np.uint8)


class FlowerRun:
    """One fbh run over a Flower ``Grid``.

    Args:
      grid: the ``Grid`` the ``ServerApp`` was given.
      config: what to run (``clients`` hospitals, ``guardians`` on nodes of their own, range checks, DP).
      out_dir: the run directory the server writes (its key goes to ``out_dir/keys``).
      chain_url: the JSON-RPC URL every party reaches the chain through.
      workdir: where simulated nodes without a ``dir`` in their node config keep their keys.
      timeout: seconds to wait for nodes to connect, and for each stage's replies.
    """

    def __init__(self, grid, config: RunConfig, out_dir: str | Path, chain_url: str, *,
                 workdir: str | Path | None = None, timeout: float = 600.0) -> None:
        for ok, why in ((config.encrypt, "fbh on Flower runs the encrypted protocol (--encrypt)"),
                        (config.attack is None or config.attack.partition(":")[0] in FLOWER_ATTACKS,
                         f"over Flower a hospital's node plays only its own attacks ({', '.join(FLOWER_ATTACKS)}); "
                         "the others are played by the in-process simulation"),
                        (chain_url.startswith(("http://", "https://")), "the chain must be an http(s) RPC URL")):
            if not ok:
                raise ValueError(why)
        self.grid, self.config, self.chain_url, self.timeout = grid, config, chain_url, timeout
        self.run_dir = RunDir(out_dir)
        self.workdir = Path(workdir) if workdir is not None else self.run_dir.root / "nodes"
        self.ledger = None
        self.trainer, self.trainable, self.meta = None, None, {}
        self.dropped: dict[int, str] = {}  # node id -> why it dropped out of the last may_drop stage
        self.council = None  # guardian mode: the council of stand-ins for the guardians' nodes
        self.kgc = RemoteKgc(self)  # KGC mode: the registrar's node decrypts

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
        from fbh.protocol.privacy import DifferentialPrivacy
        from fbh.protocol.strategy import ServerStrategy

        c = self.config
        ids = self._nodes(c.clients + 2 + c.guardians)
        who = self.ask(r.SETUP, {n: ({"workdir": str(self.workdir), "clients": c.clients}, {}) for n in ids}, "setup")
        by_role: dict[tuple[str, int], tuple[int, str]] = {}
        for node, (f, _) in who.items():
            by_role[(f["role"], int(f["index"]))] = (node, f["address"])
        wanted = [(nodes.REGISTRAR, 0), (nodes.AUDITOR, 0)] + [(nodes.HOSPITAL, i) for i in range(c.clients)]
        wanted += [(nodes.GUARDIAN, i) for i in range(1, c.guardians + 1)]
        absent = [f"{role} {i}" for role, i in wanted if (role, i) not in by_role]
        if absent:
            msg = f"no node plays {', '.join(absent)}"
            raise r.NodeFailed(msg)
        self.registrar, self.auditor = by_role[(nodes.REGISTRAR, 0)], by_role[(nodes.AUDITOR, 0)]
        self.hospitals = [by_role[(nodes.HOSPITAL, i)] for i in range(c.clients)]
        server_account = NodeKeys(self.run_dir.root / "keys").account()
        reg = {"chain_url": self.chain_url, "server": server_account.address, "auditor": self.auditor[1],
               "hospitals": [a for _, a in self.hospitals], "guardians": c.guardians}
        (fields, _), = self.ask(r.REGISTER, {self.registrar[0]: (reg, {})}, "setup").values()
        self.ledger = chain.connect(self.chain_url, state_dir=self.run_dir.chain_dir, contract=fields["contract"])
        self.ledger.account("server", key=server_account.key)
        join = {"chain_url": self.chain_url, "contract": fields["contract"], "config": json.dumps(c.to_json())}
        auditor_arrays = {}
        if c.guardians:
            public_key = self.convene({n: by_role[(nodes.GUARDIAN, n)][0] for n in range(1, c.guardians + 1)},
                                      {"chain_url": self.chain_url, "contract": fields["contract"]})
            self.ask(r.PUBLISH, {self.registrar[0]: ({**reg, "public_key": public_key, "threshold": c.threshold,
                                                      "record": self.council.ceremony.record_digest}, {})}, "setup")
            auditor_arrays = {"ceremony": _file_bytes(self.run_dir.root / guarded.CEREMONY_FILE)}
        else:
            public_key = bytes(fields["public_key"])
        join["public_key"] = public_key
        joined = self.ask(r.JOIN, {n: (join, auditor_arrays if n == self.auditor[0] else {})
                                   for n, _ in [self.auditor, *self.hospitals]}, "setup")
        self.global_flat, clip, stats = self.build_model(joined)
        sub = slice(None) if self.trainable is None else self.trainable
        self.public_key = fc.PublicKeySet.from_bytes(public_key)
        range_audit.save_public_key(self.run_dir.root, self.public_key)  # fbh audit re-verifies range proofs
        k = self.public_key.k
        self.strategy = ServerStrategy(c.strategy, c.server_lr, ~stats[sub])
        if c.guardians and self.strategy.tx is not None:
            msg = (f"strategy {c.strategy!r} keeps server optimizer state that the auditor's node does not carry "
                   "across rounds yet: use fedavg over Flower with guardians")
            raise ValueError(msg)
        self.audit_strategy = ServerStrategy(c.strategy, c.server_lr, ~stats[sub])
        # DP: the mechanism is announced in every plan (hospitals add the noise), the accountant is the server's
        dp_on = c.dp_epsilon is not None or c.noise_multiplier is not None  # (an adopting app has no counts)
        self.dp = DifferentialPrivacy.from_config(c, self.counts, self.global_flat[sub].size, clip[sub]) if dp_on \
            else None
        self.server = Server(server_account, self.ledger, clip=clip[sub], bound=c.bound, threads=c.threads, k=k,
                             strategy=self.strategy, trainable=self.trainable, dp=self.dp and self.dp.mechanism)

    def convene(self, guardian_nodes: dict[int, int], deployment: dict[str, str]) -> bytes:
        """The key ceremony among the guardians' nodes, mediated here; returns the joint key set."""
        from fbh import crypto as fc
        from fbh.flower.guardians import GuardianNodes
        from fbh.protocol.council import GuardianCouncil
        from fbh.protocol.messages import deployment_context

        c = self.config
        line = GuardianNodes(self, guardian_nodes, deployment, threshold=c.threshold, k=fc.DEFAULT_K)
        # published by the registrar (the chain's admin); the server records each round's sum and shares
        self.council = GuardianCouncil(line.stand_ins(), c.threshold, context=deployment_context(self.ledger),
                                       ledger=None, threads=c.threads)
        self.council.ledger = self.ledger
        line.public_key = self.council.public.to_bytes()
        guarded.save_ceremony(self.run_dir.root, self.council)
        return line.public_key

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
            invited = {self.hospitals[i][1]: int(counts[i]) for i in chosen}
            plan = self.server.open_round(round_, self.global_flat, invited, bind_model=self.council is not None)
            range_audit.save_plan(self.run_dir.round_dir(round_), plan, invited, c.range_samples)
            start = self.global_flat.copy()
            answers = self.contributions(step, chosen, plan)
        # sampling order, as in-process; a hospital that dropped out is simply not received this round
        answered = np.array([i for i in chosen if self.hospitals[i][0] in answers], dtype=int)
        order = [self.hospitals[i][0] for i in answered]
        not_received = [{"hospital": self.hospitals[i][1], "reason": self.dropped[self.hospitals[i][0]]}
                        for i in chosen if self.hospitals[i][0] in self.dropped]
        updates = [r.update_from_record(*answers[n]) for n in order]
        clipped = sum(int(answers[n][0]["clipped"]) for n in order)
        ranges = range_stage(self, round_)
        accepted, rejected, aggregate = protocol_round.collect(self.server, self.run_dir, plan, updates,
                                                               self.global_flat[sub].size, c.retention, timer, ranges)
        with timer("decrypt"):
            new_flat, accepted, blamed, extra = self.decrypt(plan, accepted, aggregate, start, ranges, chosen.size)
        rejected += blamed
        self.global_flat = new_flat
        self.run_dir.save_model(self.run_dir.round_dir(round_) / "model.npz", new_flat, round=round_, **self.meta)
        row = {"round": round_} | extra | protocol_round.outcome(accepted, rejected, clipped, int(chosen.size),
                                                                  self.global_flat[sub].size)
        row["range_check"] = ranges.summary()
        if self.dp is not None:
            row.update(self.dp.after_round(row["accepted"]))
        with timer("audit"):
            verdict = self.audit(plan, row.pop("_accepted"), new_flat)
        if self.council is not None and not verdict["approved"]:  # train on from the last approved model
            self.global_flat = start
            guarded.undo_round(self)
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

    def decrypt(self, plan, accepted: list, aggregate, start: np.ndarray, ranges, invited: int):
        """The round's sum decrypted — by t guardians' nodes, or the registrar's in KGC mode — with the
        blame path if it does not decode; returns ``(new model, accepted, blamed, extra metrics)``."""
        from fbh.protocol import blame

        c, round_ = self.config, plan.round
        if self.council is not None:
            new_flat, extra = self.guardians_decrypt(round_, plan, accepted, start, ranges)
            blamed = extra.pop("_blamed", [])
            gone = {x.hospital for x in blamed}
            accepted = [u for u in accepted if u.hospital not in gone]
            if blamed:
                aggregate = self.server.aggregate(plan, accepted)
        else:
            summed, accepted, aggregate, blamed = blame.decrypt_kgc(self, ranges, plan, accepted, aggregate,
                                                                     min_parties=min(2, int(invited)))
            new_flat, extra = self.server.apply(plan, accepted, aggregate, summed, self.global_flat), {}
        if blamed and c.retention == retention.UNTIL_APPROVED:
            self.run_dir.save_aggregate(round_, aggregate)
        blame.set_aside(self.run_dir, round_, [x.hospital for x in blamed])
        return new_flat, accepted, blamed, extra

    def audit(self, plan, accepted: dict[str, bytes], new_flat: np.ndarray) -> dict[str, Any]:
        """Stage audit: the auditor's node gets the blobs, the new model and the round's public
        evidence (guardians' shares and parameters, range answers, the kept blobs of excluded
        hospitals: a range exclusion at the sampled stage rests on one) and gives its verdict."""
        round_dir = self.run_dir.round_dir(plan.round)
        evidence = sorted(p for d in (guarded.SHARES_DIR, RANGE_DIR, exclusions.EVIDENCE_DIR)
                          for p in (round_dir / d).rglob("*") if p.is_file())
        plan_fields, plan_arrays = r.plan_to_record(plan)
        names = [str(p.relative_to(round_dir)) for p in evidence]
        ask = {**plan_fields, "hospitals": list(accepted), "evidence": names}
        arrays = {f"blob_{i}": np.frombuffer(b, np.uint8) for i, b in enumerate(accepted.values())}
        arrays |= {f"evidence_{j}": _file_bytes(p) for j, p in enumerate(evidence)}
        (verdict, _), = self.ask(r.AUDIT, {self.auditor[0]: (ask, {**arrays, **plan_arrays, "model": new_flat})},
                                 str(plan.round)).values()
        return verdict

    def guardians_decrypt(self, round_: int, plan, accepted: list, start: np.ndarray, ranges):
        """Guardian mode: t guardians' nodes decrypt the recorded sum (the in-process run's step).

        Raises:
          NodeFailed: fewer than t guardians answered with valid shares; the message names who
            was missing.  The round stays open on chain with its sum recorded and nothing
            decrypted, and the run directory stays marked incomplete at this round.
        """
        from fbh.protocol.ceremony import ThresholdNotMet

        try:
            return guarded.decrypt_round(self, round_, plan, accepted, start, ranges)
        except ThresholdNotMet as exc:
            res = exc.result
            missing = [f"guardian {i} did not answer" for i in sorted(set(res.absent))]
            missing += [f"guardian {x.guardian} refused ({x.reason})" for x in res.refused]
            missing += [f"guardian {i} sent an invalid share" for i in res.invalid]
            msg = (f"round {round_}: fewer than {self.council.threshold} of {len(self.council.guardians)} guardians "
                   f"decrypted: {'; '.join(missing)}; the round stays open on chain with its sum recorded")
            raise r.NodeFailed(msg) from None

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
            self.ledger.save_state(self.run_dir.chain_dir)  # the deployment, for a run that stops early too
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
