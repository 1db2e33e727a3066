"""Accuracy and loss curves, like the FedBlockHealth paper's Figs. 2-3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_comparison", "plot_curves"]

# (metrics key, axis label, file name)
_FIGURES = (("test_accuracy", "test accuracy", "accuracy.png"), ("test_loss", "test loss", "loss.png"))


def _save(path: Path, series: dict[str, tuple[list, list]], ylabel: str, title: str, *, xlabel: str,
          styles: dict[str, str] | None = None) -> Path:
    """One line per series (label -> (x, y)) on shared axes, written to ``path``."""
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for label, (x, y) in series.items():
        ax.plot(x, y, marker="o", ms=3, ls=(styles or {}).get(label, "-"), label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_curves(metrics: dict[str, Any], out_dir: Path, title: str = "") -> list[Path]:
    """Write one run's ``accuracy.png`` and ``loss.png`` (test set, per round) into ``out_dir``.

    Args:
      metrics: ``{"rounds": [{"round": r, "test_accuracy": a, "test_loss": l, ...}]}``;
        rows with ``validation_accuracy`` add the auditor's curve.
      out_dir: where the PNG files go.
      title: figure title prefix (e.g. "FL CNN, mnist").

    Returns:
      The paths written.
    """
    rows = metrics.get("rounds", [])
    rounds = [r["round"] for r in rows]
    written = []
    for key, label, name in _FIGURES:
        series = {"global model": (rounds, [r[key] for r in rows])}
        if key == "test_accuracy" and rows and "validation_accuracy" in rows[0]:
            series["auditor validation"] = (rounds, [r["validation_accuracy"] for r in rows])
        written.append(_save(Path(out_dir) / name, series, label, f"{title} — {label}" if title else label,
                             xlabel="round", styles={"auditor validation": "--"}))
    return written


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
