"""``fbh report RUN_DIR``: one page on a run, from its directory and its chain.

Configuration, crypto mode, chain and contract, each round's accuracy, loss
and seconds per stage, accepted and rejected updates with their reasons,
the auditor's verdicts as recorded on chain (cancelled rounds with their
reason), whether the run is unfinished, and the disk it uses.  The plots are
regenerated from ``metrics.json``.  Nothing secret is read: ``keys/`` is
only counted in the disk usage.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fbh.errors import UnusableRunDir
from fbh.protocol.rundir import RunDir

__all__ = ["build_report", "format_report"]


def _disk(root: Path) -> dict[str, int]:
    """Bytes used per top-level entry (folders summed) and in total."""
    usage: dict[str, int] = {}
    for entry in sorted(root.iterdir()):
        files = [entry] if entry.is_file() else [p for p in entry.rglob("*") if p.is_file()]
        usage[entry.name] = sum(p.stat().st_size for p in files)
    usage["total"] = sum(usage.values())
    return usage


def _chain_rounds(rd: RunDir) -> tuple[dict[str, Any], dict[int, dict[str, Any]]]:
    """The chain's manifest facts and per-round records; an unreadable chain is reported, not raised."""
    from fbh import chain
    from fbh.chain.backend import read_manifest

    try:
        manifest = read_manifest(rd.chain_dir)
        with chain.restore(rd.chain_dir) as ledger:
            history = ledger.history()
    except Exception as exc:  # noqa: BLE001 - the report says why instead of failing
        return {"error": " ".join(str(exc).split())[:300]}, {}
    info = {"backend": manifest["backend"], "chain_id": manifest["chain_id"], "contract": manifest["contract"],
            "head_block": manifest["head"]["number"]}
    rounds = {}
    for rec in history:
        rounds[rec.round] = {
            "status": rec.status.name.lower(),
            "cancel_reason": rec.cancel_reason.name.lower() if rec.cancel_reason else None,
            "accuracy": rec.accuracy,
            "committed": len(rec.updates),
            "rejections": [{"party": r.party, "reason": getattr(r.reason, "name", str(r.reason)).lower()}
                           for r in rec.rejections],
        }
    return info, rounds


def build_report(run_dir: str | Path, *, plots: bool = True) -> dict[str, Any]:
    """Everything ``fbh report`` shows, as plain data (``--json`` prints it).

    Raises:
      UnusableRunDir: ``run_dir`` holds no fbh run.
    """
    rd = RunDir(run_dir)
    if not rd.root.is_dir():
        raise UnusableRunDir(f"{rd.root}: no such run directory")
    config = rd.read_json(rd.config_path)
    metrics = rd.read_json(rd.metrics_path) if rd.metrics_path.exists() else {"rounds": []}
    kind = ("centralized baseline" if config.get("centralized")
            else "encrypted federated" if config.get("encrypt") else "plaintext federated")
    report: dict[str, Any] = {
        "run_dir": str(rd.root), "kind": kind, "config": config,
        "finished": not rd.is_incomplete and rd.model_path.exists(),
        "crypto": None, "chain": None, "rounds": [], "disk_bytes": _disk(rd.root),
    }
    if rd.is_incomplete:
        report["resume"] = f"fbh run --resume {rd.root}"
    chain_rounds: dict[int, dict[str, Any]] = {}
    if config.get("encrypt") and not config.get("centralized"):
        report["crypto"] = ("EC-ElGamal on secp256k1, "
                            + ("constant-time" if config.get("constant_time", True) else "fast (variable-time)"))
        if config.get("chain") != "none":
            report["chain"], chain_rounds = _chain_rounds(rd)
    for row in metrics["rounds"]:
        entry = {k: row.get(k) for k in ("round", "step", "test_accuracy", "test_loss", "test_auc", "train_loss",
                                          "validation_accuracy", "approved", "accepted", "rejected", "seconds",
                                          "dp_epsilon_spent", "dp_delta", "dp_noise_multiplier", "attack")
                 if k in row}
        if row["round"] in chain_rounds:
            entry["on_chain"] = chain_rounds[row["round"]]
        report["rounds"].append(entry)
    listed = {row["round"] for row in metrics["rounds"]}
    report["cancelled_rounds"] = [{"round": r, **rec} for r, rec in sorted(chain_rounds.items())
                                  if r not in listed]
    if plots and metrics["rounds"]:
        from fbh.protocol.plots import plot_curves

        title = f"{kind} {config.get('model', '').upper()}, {config.get('dataset', '')}"
        report["plots"] = [str(p) for p in plot_curves(metrics, rd.root, title)]
    return report


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def format_report(report: dict[str, Any]) -> str:
    """The human-readable page."""
    c = report["config"]
    lines = [f"fbh run {report['run_dir']}: {report['kind']}, "
             + ("finished" if report["finished"] else f"UNFINISHED (continue: {report.get('resume', '-')})")]
    keys = ("dataset", "model", "clients", "partition", "rounds", "local_epochs", "batch_size", "lr", "clip",
            "seed", "train_examples", "validation_size", "epochs", "strategy", "guardians", "threshold",
            "dp_epsilon", "noise_multiplier", "attack")
    lines.append("  config: " + ", ".join(f"{k}={c[k]}" for k in keys if c.get(k) is not None))
    if report["crypto"]:
        lines.append(f"  crypto: {report['crypto']}")
    chain = report["chain"]
    if chain:
        lines.append(f"  chain: unreadable: {chain['error']}" if "error" in chain else
                     f"  chain: {chain['backend']} (id {chain['chain_id']}), contract {chain['contract']}, "
                     f"{chain['head_block']} blocks")
    lines.append("           round  test acc  test loss  train loss  val acc  verdict     accepted  seconds per stage")
    for r in report["rounds"]:
        verdict = r.get("on_chain", {}).get("status") or ({True: "approved", False: "rejected"}.get(r.get("approved"))
                                                          or "-")
        seconds = ", ".join(f"{k} {v:.1f}" for k, v in (r.get("seconds") or {}).items())
        label = f"{r['round']} (step {r['step']})" if r.get("step") else str(r["round"])
        lines.append(f"  {label:>14}  {_num(r.get('test_accuracy'))}  {_num(r.get('test_loss'), 9)}  "
                     f"{_num(r.get('train_loss'), 10)}  {_num(r.get('validation_accuracy'), 7)}  {verdict:<10}  "
                     f"{r.get('accepted', '-')!s:>8}  {seconds}")
        for rej in r.get("rejected") or []:
            lines.append(f"         rejected {rej['hospital']}: {rej['reason']} ({rej.get('detail', '')})")
    for r in report["cancelled_rounds"]:
        lines.append(f"  {r['round']:>14}  {r['status']}" + (f" ({r['cancel_reason']})" if r["cancel_reason"] else ""))
    lines += _privacy_lines(report["rounds"])
    disk = report["disk_bytes"]
    parts = ", ".join(f"{k} {_mb(v)}" for k, v in disk.items() if k != "total" and v >= 1e5)
    lines.append(f"  disk: {_mb(disk['total'])}" + (f" ({parts})" if parts else ""))
    if report.get("plots"):
        lines.append("  plots: " + ", ".join(Path(p).name for p in report["plots"]))
    return "\n".join(lines)


def _privacy_lines(rounds: list[dict[str, Any]]) -> list[str]:
    """What the DP accountant charged: epsilon spent after each round (one hospital's contribution)."""
    spent = [(r["round"], r["dp_epsilon_spent"], r.get("dp_delta"), r.get("dp_noise_multiplier"))
             for r in rounds if r.get("dp_epsilon_spent") is not None]
    if not spent:
        return []
    last_round, eps, delta, z = spent[-1]
    per_round = ", ".join(f"{r}: {e:.3g}" for r, e, _, _ in spent)
    return [f"  privacy: epsilon {eps:.3g} at delta {delta:g} spent after round {last_round} "
            f"(hospital-level; noise multiplier {z:.3g}); per round {per_round}"]


def _num(value: float | None, width: int = 8) -> str:
    return f"{value:>{width}.4f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else " " * (width - 1) + "-"


