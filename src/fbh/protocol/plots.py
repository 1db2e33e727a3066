"""Accuracy and loss curves of a run, like the FedBlockHealth paper's Figs. 2-3."""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["plot_comparison", "plot_curves"]


def plot_curves(metrics: dict[str, Any], out_dir: Path, title: str = "") -> list[Path]:
    """Write ``accuracy.png`` and ``loss.png`` (test set, per round) into ``out_dir``.

    Args:
      metrics: ``{"rounds": [{"round": r, "test_accuracy": a, "test_loss": l, ...}]}``.
      out_dir: where the PNG files go.
      title: figure title prefix (e.g. "FL CNN, mnist, 10 clients").

    Returns:
      The paths written.
    """
    import matplotlib

    matplotlib.use("Agg")  # no screen needed
    import matplotlib.pyplot as plt

    rows = metrics.get("rounds", [])
    rounds = [r["round"] for r in rows]
    written = []
    for key, label, name in (
        ("test_accuracy", "test accuracy", "accuracy.png"),
        ("test_loss", "test loss", "loss.png"),
    ):
        fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
        ax.plot(rounds, [r[key] for r in rows], marker="o", ms=3, label="global model")
        if key == "test_accuracy" and rows and "validation_accuracy" in rows[0]:
            ax.plot(rounds, [r["validation_accuracy"] for r in rows], ls="--", label="auditor validation")
        ax.set_xlabel("round")
        ax.set_ylabel(label)
        ax.set_title(f"{title} — {label}" if title else label)
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = Path(out_dir) / name
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written


def plot_comparison(runs: dict[str, dict[str, Any]], out_dir: Path) -> list[Path]:
    """Several runs' test accuracy and loss per round on shared axes (the paper's Figs. 2-3).

    Args:
      runs: label -> metrics (as in :func:`plot_curves`).
      out_dir: where ``accuracy.png`` and ``loss.png`` go.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for key, label, name in (("test_accuracy", "test accuracy", "accuracy.png"), ("test_loss", "test loss", "loss.png")):
        fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
        for run_label, metrics in runs.items():
            rows = metrics["rounds"]
            ax.plot([r["round"] for r in rows], [r[key] for r in rows], marker="o", ms=3, label=run_label)
        ax.set_xlabel("round (epoch for centralized runs)")
        ax.set_ylabel(label)
        if key == "test_accuracy":
            ax.set_ylim(0.9, 1.0)
        else:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        fig.tight_layout()
        path = Path(out_dir) / name
        fig.savefig(path)
        plt.close(fig)
        written.append(path)
    return written
