"""Guardian mode of a run (``fbh run --guardians N --threshold T``): the session's hooks.

Guardians are the auditor and the first hospitals (never the server). Per round the server opens
the round from the current model's hash, hospitals refuse to train on any model but the last
approved one, the council records the sum, decrypts it once and records the shares and the new
model, and the auditor recomputes everything (:func:`fbh.protocol.binding.check_round`) before
its verdict. Shares, proofs, the ceremony's public record and the dequantization parameters go
to the run directory so that ``fbh audit`` can redo the checks from public data alone.
``--attack`` makes one party misbehave; what was attempted and refused lands in the metrics.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from fbh import crypto as fc
from fbh.crypto.threshold import DecryptionShare
from fbh.protocol import blame
from fbh.protocol.binding import RoundParams, check_round
from fbh.protocol.council import GuardianCouncil
from fbh.protocol.guardian import DecryptionRequest, Guardian, Refusal, sum_blobs
from fbh.protocol.messages import deployment_context, model_digest, update_context

__all__ = ["CEREMONY_FILE", "convene", "deployment_context", "load_round_evidence", "save_ceremony"]

CEREMONY_FILE = "guardians.npz"
SHARES_DIR = "guardians"


def convene(ledger, n: int, t: int, names: list[str], *, k: int = fc.DEFAULT_K,
            threads: int | None) -> GuardianCouncil:
    """Run the key ceremony among ``names`` (n parties) and publish it on chain."""
    context = deployment_context(ledger)
    def blob_context(round_: int, hospital: str) -> bytes:  # guardians re-verify every blob's proofs
        return update_context(ledger, round_, hospital)

    guardians = [Guardian(i + 1, t, k, ledger=ledger, context=context, name=name, threads=threads,
                          blob_context=blob_context)
                 for i, name in enumerate(names[:n])]
    council = GuardianCouncil(guardians, t, context=context, ledger=ledger, threads=threads)
    _give_blame_check(council, ledger)
    return council


def _give_blame_check(council: GuardianCouncil, ledger) -> None:
    """Every guardian checks a blame-path re-aggregation the same way (:class:`blame.BlameCheck`)."""
    check = blame.BlameCheck(ledger, lambda: council.public)
    for g in council.guardians.values():
        g.blame_check = check


def connect_hospitals(council: GuardianCouncil, hospitals: list, answer=blame.honest_answer) -> None:
    """The guardians' own channel to the hospitals, to repeat a blame challenge a hospital is said
    to have left unanswered (``answer``: how hospitals answer; ``--attack`` swaps in a cheat)."""
    by_address = {h.address: h for h in hospitals}
    for g in council.guardians.values():
        g.blame_check.connect(by_address, answer)


def guardian_key_path(root: Path, index: int) -> Path:
    """Where guardian ``index`` keeps its key shares (its own 0600 file; in a deployment, its own machine)."""
    return root / "keys" / f"guardian_{index}.json"


def save_guardian_keys(root: Path, council: GuardianCouncil) -> None:
    """Each guardian writes its own shares, so a crashed run can be resumed by the same guardians."""
    for g in council.guardians.values():
        g.save_key(guardian_key_path(root, g.index))


def restore_council(ledger, root: Path, *, threads: int | None) -> GuardianCouncil:
    """The guardians of a resumed run, from their own key files and the saved (and on-chain) ceremony.

    Raises:
      UnusableRunDir: the ceremony or a guardian's key is missing, damaged or not the one on chain.
    """
    from fbh.errors import UnusableRunDir
    from fbh.protocol.ceremony import CeremonyResult

    saved = load_ceremony(root)
    if saved is None:
        raise UnusableRunDir(f"{root / CEREMONY_FILE} is missing: the guardians cannot be restored",
                             "re-run instead of resuming")
    keys, threshold, context, record, public = saved
    published, _, t_chain = ledger.guardians()
    if (published, t_chain) != (record, threshold) or context != deployment_context(ledger):
        raise UnusableRunDir(f"{root / CEREMONY_FILE} is not the key ceremony published on chain",
                             "re-run instead of resuming")

    def blob_context(round_: int, hospital: str) -> bytes:
        return update_context(ledger, round_, hospital)

    guardians = [Guardian.load_key(guardian_key_path(root, i), keys[i], ledger=ledger, context=context,
                                   blob_context=blob_context, threads=threads) for i in sorted(keys)]
    ceremony = CeremonyResult(public, keys, tuple(sorted(keys)), (), (), record)
    council = GuardianCouncil.restored(guardians, threshold, ceremony, context=context, ledger=ledger,
                                      threads=threads)
    _give_blame_check(council, ledger)  # a resumed round's blame path is admitted as a fresh one's
    return council


def last_approved(session, ledger) -> None:
    """On resume: hospitals train on from the last approved model (a rejected round's model is not one)."""
    from fbh.train import ravel

    approved = [rec for rec in ledger.history() if rec.status.name == "APPROVED"]
    if approved:
        flat, _ = session.run_dir.load_model(session.run_dir.round_dir(approved[-1].round) / "model.npz")
    else:
        flat = np.asarray(ravel(session.template))
    if approved and model_digest(flat) != approved[-1].model_hash:
        from fbh.errors import UnusableRunDir

        raise UnusableRunDir(f"round {approved[-1].round}'s model file is not the model approved on chain",
                             "re-run instead of resuming")
    session.global_flat = flat
    session.approved_hash = model_digest(flat)
    if session.strategy.tx is not None:
        replay_strategy(session, [rec for rec in approved])


def replay_strategy(session, approved) -> None:
    """On resume: the server optimizer's state, replayed from the approved rounds' decrypted sums
    (the saved shares combined again), as ``fbh audit`` replays it."""
    from fbh.crypto.threshold import combine_shares

    rd = session.run_dir
    for rec in approved:
        params, start, shares = load_round_evidence(rd.root, rec.round)
        blobs = {a: b for a, (b, _) in rd.load_updates(rec.round).items()}
        if rd.aggregate_path(rec.round).exists():
            aggregate = fc.PackedCiphertexts.from_bytes(rd.aggregate_path(rec.round).read_bytes())
        else:
            aggregate = sum_blobs(blobs.items(), threads=session.config.threads)
        summed = combine_shares(aggregate, list(shares), bound=params.bound, threads=session.config.threads)
        params.apply(start, summed, [u.hospital for u in rec.accepted_updates], session.strategy)
    session.audit_strategy.state = session.strategy.state


def save_ceremony(root: Path, council: GuardianCouncil) -> None:
    """The ceremony's public outcome, for ``fbh audit``."""
    cer = council.ceremony
    keys = {f"vk_{i}": v for i, v in cer.verification_keys.items()}
    np.savez(root / CEREMONY_FILE, public=np.frombuffer(cer.public.to_bytes(), np.uint8),
             threshold=council.threshold, context=np.frombuffer(council.context, np.uint8),
             record=np.frombuffer(cer.record_digest, np.uint8), **keys)


def round_params(session, plan) -> RoundParams:
    """The round's public dequantization and server-step parameters (digested on chain)."""
    n = session.global_flat.size if session.trainable is None else session.trainable.size
    strategy = session.strategy
    return RoundParams(np.broadcast_to(np.asarray(plan.clip, dtype=np.float64), (n,)).copy(), len(plan.weights),
                       plan.bound, dict(plan.weights), trainable=session.trainable,
                       dp_scale=None if plan.dp is None else float(plan.dp.scale), strategy=strategy.name,
                       server_lr=strategy.server_lr, optimized=None if strategy.tx is None else strategy.optimized)


def save_round(round_dir: Path, params: RoundParams, start: np.ndarray, shares, summary: dict) -> None:
    d = round_dir / SHARES_DIR
    d.mkdir(parents=True, exist_ok=True)
    for s in shares:
        (d / f"guardian_{s.index}.share").write_bytes(s.to_bytes())
    optional = {name: value for name, value in (("trainable", params.trainable), ("optimized", params.optimized),
                                                ("dp_scale", params.dp_scale)) if value is not None}
    np.savez(d / "params.npz", clip=params.clip, num_clients=params.num_clients, bound=params.bound,
             start=np.asarray(start, dtype="<f4"), **optional)
    (d / "decryption.json").write_text(json.dumps({**summary, "weights": dict(params.weights),
                                                   "strategy": params.strategy, "server_lr": params.server_lr},
                                                  indent=2))


def load_round_evidence(root: Path, round_: int):
    """(params, start model, shares) of a round, or None if the run was not guardian-run."""
    d = root / "rounds" / str(round_) / SHARES_DIR
    if not (d / "params.npz").exists():
        return None
    with np.load(d / "params.npz") as z:
        meta = json.loads((d / "decryption.json").read_text())
        params = RoundParams(z["clip"], int(z["num_clients"]), int(z["bound"]), meta["weights"],
                             trainable=z["trainable"].copy() if "trainable" in z.files else None,
                             dp_scale=float(z["dp_scale"]) if "dp_scale" in z.files else None,
                             strategy=meta.get("strategy", "fedavg"), server_lr=float(meta.get("server_lr", 1.0)),
                             optimized=z["optimized"].copy() if "optimized" in z.files else None)
        start = z["start"].copy()
    shares = [DecryptionShare.from_bytes(p.read_bytes()) for p in sorted(d.glob("guardian_*.share"))]
    return params, start, shares


def begin_round(session) -> None:
    """Remember the server optimizer's state (the server's and the auditor's replay) before a round."""
    session.strategy_before = (session.strategy.state, session.audit_strategy.state)


def undo_round(session) -> None:
    """A rejected round: train on from the last approved model and optimizer state."""
    session.strategy.state, session.audit_strategy.state = session.strategy_before


def load_ceremony(root: Path):
    """(verification keys, threshold, context, record digest, joint public key) saved by
    :func:`save_ceremony`, or None."""
    path = root / CEREMONY_FILE
    if not path.exists():
        return None
    with np.load(path) as z:
        keys = {int(name[3:]): z[name].copy() for name in z.files if name.startswith("vk_")}
        return (keys, int(z["threshold"]), z["context"].tobytes(), z["record"].tobytes(),
                fc.PublicKeySet.from_bytes(z["public"].tobytes()))


def curious_server(council: GuardianCouncil, round_: int, blobs: list[tuple[str, bytes]],
                   attempts: dict[str, list]) -> list[dict[str, Any]]:
    """The server tries to learn single updates; every attempt must be refused by every guardian."""
    out = []
    for what, request_blobs in attempts.items():
        quorum = tuple(sorted(council.guardians))[: council.threshold]
        refused_by, answered_by = [], []
        for i in quorum:
            try:
                council.guardians[i].decrypt_share(DecryptionRequest(round_, tuple(request_blobs), quorum))
                answered_by.append(i)
            except Refusal as exc:
                refused_by.append({"guardian": i, "reason": exc.reason})
        out.append({"attempt": what, "refused_by": refused_by, "answered_by": answered_by})
    return out


def _close_with_blame(session, round_, plan, accepted, params, start, ranges):
    """close_round; if the sum does not decode, the blame path: blamed hospitals are excluded on
    chain (recordBlame), their signed failing answers go to the guardians with the survivors' sum.

    Returns ``(outcome, surviving updates, blame rejections)``.
    """
    c, council, server = session.config, session.council, session.server
    blamed, evidence = [], []
    while True:
        blobs = [(u.hospital, u.blob) for u in accepted]
        try:
            out = council.close_round(round_, blobs, params=params, start_model=start, sender=server.account,
                                      constant_time=c.constant_time, blamed=tuple(evidence),
                                      strategy=session.strategy)
            return out, accepted, blamed
        except fc.PlaintextOutOfRange as exc:
            if ranges is None:
                raise
            kept, rejected = ranges.blame(plan, accepted, int(exc.index), after_sum=True)
            gone = {r.hospital for r in rejected}
            evidence += [(u.hospital, u.blob, blame.blame_evidence(ranges.round_dir, u.hospital))
                         for u in accepted if u.hospital in gone]
            accepted, blamed = kept, blamed + rejected


def decrypt_round(session, round_: int, plan, accepted, start: np.ndarray,
                  ranges=None) -> tuple[np.ndarray, dict[str, Any]]:
    """Close a round with the guardians (and play the server's attack, if any)."""
    c = session.config
    begin_round(session)
    params = round_params(session, plan)
    blobs = [(u.hospital, u.blob) for u in accepted]
    council = session.council
    server = session.server.account
    extra: dict[str, Any] = {}
    if c.attack == "wrong-model":
        from fbh.protocol.binding import shares_digest
        from fbh.protocol.guardian import aggregate_digest

        agg = aggregate_digest(sum_blobs(blobs, threads=c.threads))
        session.ledger.record_sum(round_, agg, sender=server)
        result = council.mediator().decrypt(round_, blobs, bound=params.bound, constant_time=c.constant_time)
        honest = params.apply(start, result.values, [h for h, _ in blobs], session.strategy)
        new_flat = honest + np.float32(0.01)  # not old + decrypted sum
        session.ledger.record_decryption(round_, shares_digest(result.shares), params.digest(), sender=server)
        session.ledger.record_aggregate(round_, agg, model_digest(new_flat), sender=server)
        extra["attack"] = {"kind": "wrong-model", "by": "server", "attempted": "recorded and distributed a model "
                           "that is not old + decrypted sum / weight"}
    else:
        tried = []
        if c.attack == "curious-server":  # (A+B+C) - (B+C) = A, or (A+A+B+C) - (A+B+C) = A
            from fbh.protocol.guardian import aggregate_digest

            agg = aggregate_digest(sum_blobs(blobs, threads=c.threads))
            session.ledger.record_sum(round_, agg, sender=server)
            tried = curious_server(council, round_, blobs, {"subset": blobs[1:], "duplicates": [blobs[0], *blobs]})
        out, accepted, extra["_blamed"] = _close_with_blame(session, round_, plan, accepted, params, start, ranges)
        blobs = [(u.hospital, u.blob) for u in accepted]
        new_flat, result = out.new_model, out.decryption
        if c.attack == "curious-server":
            tried += curious_server(council, round_, blobs, {"second-decryption": blobs})
            extra["attack"] = {"kind": "curious-server", "by": "server", "attempts": tried}
    save_round(session.run_dir.round_dir(round_), params, start, result.shares, result.summary())
    extra["decryption"] = result.summary()
    return new_flat, extra


def audit_findings(session, round_: int, blobs: dict[str, bytes], start: np.ndarray, new: np.ndarray) -> list[str]:
    """The auditor's recomputation of a guardian-run round from public data."""
    evidence = load_round_evidence(session.run_dir.root, round_)
    if evidence is None:
        return [f"round {round_}: step shares: no decryption evidence in the run directory"]
    params, saved_start, shares = evidence
    council = session.council
    findings = check_round(
        round_, record=session.ledger.round(round_), trust=session.ledger.trust_record(round_), blobs=blobs,
        start_model=start, new_model=new, shares=shares, verification_keys=council.ceremony.verification_keys,
        threshold=council.threshold, context=council.context, params=params, threads=session.config.threads,
        strategy=session.audit_strategy,
    )
    return [str(f) for f in findings]


def forge_exclusion(session, round_: int, updates: list) -> dict[str, Any] | None:
    """``--attack forge-exclusion:H``: unsigned junk naming hospital H joins the updates."""
    attack = session.config.attack or ""
    if not attack.startswith("forge-exclusion:"):
        return None
    import dataclasses
    import os

    victim = session.hospitals[int(attack.split(":")[1])].address
    mine = next((u for u in updates if u.hospital == victim), None)
    junk = [dataclasses.replace(mine, blob=os.urandom(len(mine.blob)), signature=os.urandom(65)),
            dataclasses.replace(mine, round=round_ + 1, signature=bytes(65))] if mine is not None else []
    updates.extend(junk)
    return {"kind": "forge-exclusion", "by": "outsider", "victim": victim, "injected": len(junk)}


def invent_exclusion(session, round_: int, accepted: list, rejected: list) -> dict[str, Any] | None:
    """``--attack invent-exclusion:H``: the server excludes honest hospital H with a made-up reason.

    It claims H's proofs fail and keeps H's real committed blob as its "evidence" (the only blob
    that matches H's commitment); the auditor re-checks the claim and rejects the round.
    """
    attack = session.config.attack or ""
    if not attack.startswith("invent-exclusion:"):
        return None
    from fbh.chain.records import RejectReason
    from fbh.protocol.server import Rejection

    victim = session.hospitals[int(attack.split(":")[1])].address
    out = {"kind": "invent-exclusion", "by": "server", "victim": victim,
           "attempted": "excluded an honest hospital as INVALID_PROOF, whose committed blob verifies"}
    mine = next((u for u in accepted if u.hospital == victim), None)
    if mine is None:  # not sampled this round, or already excluded for a real reason
        return {**out, "excluded": False}
    accepted.remove(mine)
    session.ledger.record_rejection(round_, victim, RejectReason.INVALID_PROOF, sender=session.server.account)
    rejected.append(Rejection(victim, "invalid-proof", "invented by the server", evidence=(mine,)))
    return {**out, "excluded": True}


def forge_outcome(forged: dict[str, Any], accepted: list, rejected: list) -> dict[str, Any]:
    """Whether the forged junk got the victim excluded (it must not)."""
    victim = forged["victim"]
    held_against = [r.reason for r in rejected if r.hospital == victim and r.recorded]
    return {**forged, "victim_accepted": any(u.hospital == victim for u in accepted),
            "recorded_against_victim": held_against,
            "refused_by": "server (signature checked first: junk is noise)"}


def audit_from_run_dir(root: Path, ledger, round_: int, blobs: dict[str, bytes], new: np.ndarray,
                       replay: dict | None = None) -> list[str]:
    """``fbh audit``'s recomputation of a guardian-run round from the run directory and the chain.

    ``replay`` carries the server optimizer's replayed state from round to round (rounds in
    order; a round rejected on chain leaves it as it was).
    """
    ceremony = load_ceremony(root)
    evidence = load_round_evidence(root, round_)
    if ceremony is None and evidence is None:
        return []  # a KGC run: nothing of the guardians to check
    if ceremony is None or evidence is None:
        return [f"round {round_}: step shares: the guardians' ceremony or this round's shares are missing"]
    keys, threshold, context, record, _ = ceremony
    published, _, t_chain = ledger.guardians()
    if published != record or t_chain != threshold:
        return [f"round {round_}: step shares: the saved key ceremony is not the one published on chain"]
    params, start, shares = evidence
    replay = {} if replay is None else replay
    strategy = replay.setdefault("strategy", params.step())
    before = strategy.state
    record = ledger.round(round_)
    findings = check_round(round_, record=record, trust=ledger.trust_record(round_), blobs=blobs,
                           start_model=start, new_model=new, shares=shares, verification_keys=keys,
                           threshold=threshold, context=context, params=params, strategy=strategy)
    if not record.approved:
        strategy.state = before
    return [str(f) for f in findings]
