"""Accuracy and loss curves, like the FedBlockHealth paper's Figs. 2-3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_comparison", "plot_curves", "plot_stage_seconds"]

# (metrics key, axis label, file name)
_FIGURES = (("test_accuracy", "test accuracy", "accuracy.png"), ("test_loss", "test loss", "loss.png"))


def _save(path: Path, series: dict[str, tuple[list, list]], ylabel: str, title: str, *, xlabel: str,
          styles: dict[str, str] | None = None) -> Path:
    """One line per series (label -> (x, y)) on shared axes, written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o", ms=3, ls=(styles or {}).get(label, "-"), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_curves(metrics: dict[str, Any], out_dir: Path, title: str = "") -> list[Path]:
    """Write one run's ``accuracy.png``, ``loss.png`` and ``seconds.png`` (per round) into ``out_dir``.

    Args:
      metrics: ``{"rounds": [{"round": r, "test_accuracy": a, "test_loss": l, ...}]}``;
        rows with ``validation_accuracy`` add the auditor's curve.
      out_dir: where the PNG files go.
      title: figure title prefix (e.g. "FL CNN, mnist").

    Returns:
      The paths written.
    """
    rows = metrics.get("rounds", [])
    written = []
    for key, label, name in _FIGURES:
        series = {"global model": _series(rows, key)}
        if key == "test_accuracy" and rows and "validation_accuracy" in rows[0]:
            series["auditor validation"] = _series(rows, "validation_accuracy")
        if key == "test_loss":  # training loss beside test loss: over- or under-fitting at a glance
            series = {"test": series["global model"]}
            if any("train_loss" in r for r in rows):
                series["training (hospitals, weighted)"] = _series(rows, "train_loss")
            label = "loss"
        written.append(_save(Path(out_dir) / name, series, label, f"{title} — {label}" if title else label,
                             xlabel="round", styles={"auditor validation": "--",
                                                     "training (hospitals, weighted)": "--"}))
    if any(r.get("seconds") for r in rows):
        written.append(plot_stage_seconds(metrics, Path(out_dir) / "seconds.png", title))
    return written


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list, list]:
    """(rounds, values) of the rows that have ``key`` (a recovered row may lack some)."""
    kept = [r for r in rows if r.get(key) is not None]
    return [r["round"] for r in kept], [r[key] for r in kept]


def plot_stage_seconds(metrics: dict[str, Any], path: Path, title: str = "") -> Path:
    """A stacked bar per round: wall seconds of each protocol stage (``row["seconds"]``)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    rows = metrics.get("rounds", [])
    stages = list(dict.fromkeys(stage for r in rows for stage in r.get("seconds", {})))
    rounds = [r["round"] for r in rows]
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    bottom = [0.0] * len(rows)
    for stage in stages:
        values = [float(r.get("seconds", {}).get(stage, 0.0)) for r in rows]
        ax.bar(rounds, values, bottom=bottom, label=stage, width=0.7)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    ax.set_xlabel("round")
    ax.set_ylabel("wall seconds")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title(f"{title} — seconds per stage" if title else "seconds per stage")
    ax.legend(fontsize=8, ncol=2)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_comparison(runs: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    """Several runs' test accuracy and loss per round on shared axes.

    Args:
      runs: label -> metrics (as in :func:`plot_curves`).
      out_dir: where ``accuracy.png`` and ``loss.png`` go.
    """
    written = []
    for key, label, name in _FIGURES:
        series = {run: ([r["round"] for r in m["rounds"]], [r[key] for r in m["rounds"]]) for run, m in runs.items()}
        written.append(_save(Path(out_dir) / name, series, label, "",
                             xlabel="round (epoch for centralized runs)"))
    return written
