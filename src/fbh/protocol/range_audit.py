"""``fbh audit``'s re-check of the range stage, from the run directory and the chain alone.

The auditor checks every round's range stage while the run is live (:func:`fbh.protocol.blame.audit_range`);
this module keeps what that check needs so that anyone can redo it afterwards:

* ``RUN_DIR/public_key.bin``: the packed key set the blobs are under; its SHA-256 must be the
  digest published on chain (``publishKeySet``), so nobody can swap in a key set of their own;
* ``rounds/<r>/range/plan.json``: the round's public range parameters — the decoder bound, S,
  every invited hospital's sample count and, under DP, the mechanism's public parameters. None is
  taken on trust: the bound, S and the DP noise multiplier must be the run's configuration, each
  committed hospital's count must be its count on chain, and the DP mechanism (hence its noise
  tail) is rebuilt from them, so each hospital's range ``B_h`` is recomputed, never read;
* ``rounds/<r>/range/*.npz``: every signed answer (:class:`fbh.protocol.range_check.RangeEvidence`).

The check itself is the live auditor's: each accepted hospital answered exactly its public sample
(re-derived from the hash of the block holding the round's last commitment) with proofs that verify
for its committed blob against its recomputed range; every blame answer verifies; every range
exclusion rests on an answer (or a missing answer) to a challenge at the party's public range that
fails for its committed blob. Under ``--keep-updates until-approved`` an approved round's blobs are
deleted, and with them the accepted hospitals' answers (they cannot be checked without the
ciphertexts); exclusions stay checkable, and ``fbh audit`` lists the rest as not verified.
"""

from __future__ import annotations

import json
import math
import types
from pathlib import Path

from fbh import crypto as fc
from fbh.protocol import blame
from fbh.protocol import range_check as rc
from fbh.protocol.messages import digest

__all__ = ["KEY_FILE", "PLAN_FILE", "audit_round", "load_public_key", "save_plan", "save_public_key"]

KEY_FILE = "public_key.bin"
PLAN_FILE = "plan.json"


def save_public_key(root: Path, public_key: fc.PublicKeySet) -> None:
    """Keep the key set the hospitals encrypt under (public: its points, in the wire format)."""
    from fbh.protocol.rundir import atomic_write

    atomic_write(root / KEY_FILE, public_key.to_bytes())


def load_public_key(root: Path, ledger) -> tuple[fc.PublicKeySet | None, str]:
    """``(key set, "")``, or ``(None, what is wrong)`` if it is missing or not the one on chain."""
    path = root / KEY_FILE
    if not path.exists():
        return None, f"step range: {path} is missing: the range proofs cannot be re-verified"
    try:
        key = fc.PublicKeySet.from_bytes(path.read_bytes())
    except ValueError as exc:
        return None, f"step range: {path} is not a key set ({exc})"
    if key.digest() != ledger.public_key():
        return None, f"step range: {path} is not the key set whose digest is published on chain"
    return key, ""


def save_plan(round_dir: Path, plan, num_samples: dict[str, int], samples: int) -> None:
    """The round's public range parameters (``num_samples``: invited hospital -> its count, in the
    order the server opened the round with, so the weights come out bit for bit)."""
    from fbh.protocol.rundir import atomic_write

    dp = plan.dp
    record = {"round": plan.round, "bound": int(plan.bound), "samples": int(samples),
              "num_samples": {a: int(n) for a, n in num_samples.items()},
              "dp": None if dp is None else {
                  "noise_multiplier": dp.noise_multiplier, "num_clients": dp.num_clients,
                  "max_weight": dp.max_weight, "dimension": dp.dimension, "l2_clip": dp.l2_clip,
                  "signal": dp.signal}}
    atomic_write(round_dir / rc.EVIDENCE_DIR / PLAN_FILE, (json.dumps(record, indent=1) + "\n").encode())


def _mechanism(d: dict, config: dict, weights: dict[str, float], where: str):
    """The DP mechanism rebuilt from the run's configuration and the saved public parameters."""
    from fbh.protocol.dp import DistributedDiscreteGaussian
    from fbh.protocol.privacy import calibrate_noise_multiplier

    z = config.get("noise_multiplier")
    if z is None:
        z = calibrate_noise_multiplier(config["dp_epsilon"], config["dp_delta"], config["rounds"])
    if not math.isclose(d["noise_multiplier"], z, rel_tol=1e-9):
        return None, [f"{where}: the noise multiplier {d['noise_multiplier']} is not the run's ({z})"]
    # the worst |value| per coordinate: the per-coordinate clip (batch-norm statistics have their own) or the L2 clip
    clips = {min(c, config["l2_clip"]) for c in (config["clip"], max(config["clip"], config["clip_stats"]))}
    if d["l2_clip"] != config["l2_clip"] or d["signal"] not in clips:
        return None, [f"{where}: the DP clips are not the run's"]
    if max(weights.values()) > d["max_weight"] * (1 + 1e-12):
        return None, [f"{where}: a hospital's weight exceeds the mechanism's largest weight"]
    mechanism = DistributedDiscreteGaussian(
        l2_clip=config["l2_clip"], clip=d["signal"], noise_multiplier=z, num_clients=d["num_clients"],
        max_weight=d["max_weight"], dimension=d["dimension"], bound=config["bound"], rounds=config["rounds"])
    return mechanism, []


def load_plan(round_dir: Path, ledger, config: dict, round_: int):
    """``(plan, problems)``: the round's range plan, each parameter checked against config and chain."""
    where = f"round {round_}: step range"
    path = round_dir / rc.EVIDENCE_DIR / PLAN_FILE
    if not path.exists():
        return None, [f"{where}: {path} is missing: the hospitals' ranges cannot be recomputed"]
    d = json.loads(path.read_text())
    problems = []
    if d["round"] != round_ or d["bound"] != config["bound"] or d["samples"] != config["range_samples"]:
        problems.append(f"{where}: the saved plan's round, bound or S is not the run's")
    counts = d["num_samples"]
    registered = {p.address for p in ledger.participants() if p.role.name == "HOSPITAL"}
    for rec in ledger.round(round_).updates:
        if counts.get(rec.hospital) != rec.num_samples:
            problems.append(f"{where}: {rec.hospital}'s sample count is not its count on chain")
    if set(counts) - registered:
        problems.append(f"{where}: the plan invites parties that are not registered hospitals")
    total = sum(counts.values())
    weights = {a: n / total for a, n in counts.items()}  # as Server.open_round computes them
    dp = None
    if d["dp"] is not None:
        if config.get("dp_epsilon") is None and config.get("noise_multiplier") is None:
            problems.append(f"{where}: the plan has DP noise, the run has none")
        else:
            dp, found = _mechanism(d["dp"], config, weights, where)
            problems += found
    elif config.get("dp_epsilon") is not None or config.get("noise_multiplier") is not None:
        problems.append(f"{where}: the run has DP noise, the plan has none")
    if problems:
        return None, problems
    return types.SimpleNamespace(round=round_, weights=weights, bound=d["bound"], dp=dp), []


def audit_round(round_dir: Path, ledger, config: dict, public_key, blobs: dict[str, bytes], *,
                kept: bool) -> list[str]:
    """The range stage of one finished round, from the run directory and the chain.

    Args:
      round_dir: ``rounds/<r>``.
      ledger: the chain.
      config: the run's ``config.json``.
      public_key: the key set (:func:`load_public_key`).
      blobs: the accepted hospitals' kept blobs.
      kept: whether the round kept its blobs (else only its exclusions can be checked).
    """
    round_ = int(round_dir.name)
    if not (round_dir / rc.EVIDENCE_DIR).exists():
        if config["range_samples"] > 0 and ledger.round(round_).accepted_updates:
            return [f"round {round_}: step range: no range answers saved, yet S = {config['range_samples']}"]
        return []
    plan, problems = load_plan(round_dir, ledger, config, round_)
    if plan is None:
        return problems
    committed = {u.hospital: u.digest for u in ledger.round(round_).accepted_updates}
    # a blob that is not its commitment is reported by the blob check; its proofs would only repeat it
    blobs = {h: b for h, b in blobs.items() if kept and committed.get(h) == digest(b)}
    return blame.audit_range(public_key, ledger, plan, round_dir, blobs, config["range_samples"])
