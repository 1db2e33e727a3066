"""Reproduce the README's accuracy table on real MNIST (test set only).

Runs, one after another, into ``runs/table/<name>``: encrypted and plaintext
FL CNN (10 IID hospitals, same seed), encrypted FL CNN on a Dirichlet(0.5)
label skew, plaintext FL ANN, and the centralized CNN and ANN baselines.
Prints a Markdown table beside the paper's Table I.  Finished runs are
reused, so an interrupted invocation resumes.

Usage: python scripts/accuracy_table.py [--rounds 12] [--epochs 3] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from fbh.protocol.baseline import run_centralized
from fbh.protocol.config import RunConfig
from fbh.protocol.simulation import run

FEDERATED = {
    "fl-cnn-iid-encrypted": {"constant_time": False},
    "fl-cnn-iid-plaintext": {"encrypt": False},
    "fl-cnn-dirichlet0.5-encrypted": {"partition": "dirichlet", "alpha": 0.5, "constant_time": False},
    "fl-ann-iid-plaintext": {"model": "ann", "encrypt": False},
}
CENTRALIZED = {"centralized-cnn": "cnn", "centralized-ann": "ann"}
PAPER = {"fl-cnn-iid-encrypted": "95.57 (FL CNN)", "fl-ann-iid-plaintext": "68.91 (ANN)",
         "centralized-cnn": "99.03 (base CNN)"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=12)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="runs/table")
    parser.add_argument("--figures", default="docs", help="where the comparison curves go")
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    for name, changes in FEDERATED.items():
        metrics_path = out / name / "metrics.json"
        if not metrics_path.exists():
            run(RunConfig(rounds=args.rounds, **changes), out / name, data_dir=args.data_dir)
        rounds = json.loads(metrics_path.read_text())["rounds"]
        best = max(rounds, key=lambda r: r["test_accuracy"])
        first_992 = next((r["round"] for r in rounds if r["test_accuracy"] >= 0.992), None)
        rows.append((name, rounds[-1]["test_accuracy"], best["test_accuracy"], len(rounds), first_992))
    for name, model in CENTRALIZED.items():
        metrics_path = out / name / "metrics.json"
        if not metrics_path.exists():
            run_centralized(RunConfig(model=model), out / name, epochs=args.epochs, data_dir=args.data_dir)
        rounds = json.loads(metrics_path.read_text())["rounds"]
        best = max(rounds, key=lambda r: r["test_accuracy"])
        rows.append((name, rounds[-1]["test_accuracy"], best["test_accuracy"], len(rounds), None))
    from fbh.protocol.plots import plot_comparison

    Path(args.figures).mkdir(parents=True, exist_ok=True)
    runs = {name: json.loads((out / name / "metrics.json").read_text()) for name in [*FEDERATED, *CENTRALIZED]}
    plot_comparison(runs, Path(args.figures))
    print("| run | final test acc. (%) | best (%) | rounds/epochs | first round ≥ 99.2% | paper Table I (%) |")
    print("|---|---:|---:|---:|---:|---|")
    for name, final, best, n, first in rows:
        print(f"| {name} | {100 * final:.2f} | {100 * best:.2f} | {n} | {first or '–'} | {PAPER.get(name, '')} |")


if __name__ == "__main__":
    main()
