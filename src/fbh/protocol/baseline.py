"""``fbh baseline``: the paper's non-federated comparison (all training data in one place)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from fbh import data as fdata
from fbh.protocol.config import RunConfig
from fbh.protocol.plots import plot_curves
from fbh.protocol.rundir import RunDir
from fbh.protocol.session import training_split

__all__ = ["run_centralized"]


def run_centralized(
    config: RunConfig, out_dir: str | Path, *, epochs: int, data_dir=None, dataset=None, progress: bool = True
) -> dict[str, Any]:
    """Train ``config.model`` centrally on the same training split the federated run uses.

    The auditor's validation split is held out exactly as in ``fbh run``, so
    the test accuracies are comparable.  Writes ``metrics.json`` (one row per
    epoch), ``model.npz`` and the curves into ``out_dir``.

    Returns:
      The last epoch's row (``test_accuracy``, ``test_loss``, ...).
    """
    from fbh.train import ravel, train_centralized

    ds = dataset if dataset is not None else fdata.load_dataset(config.dataset, data_dir)
    train_idx, _ = training_split(ds, config)
    rd = RunDir(out_dir)
    rd.root.mkdir(parents=True, exist_ok=True)
    rd.write_json(rd.config_path, {**config.to_json(), "centralized": True, "epochs": epochs})
    bar = tqdm(total=epochs, desc=f"centralized {config.model}", unit="epoch", disable=None if progress else True)
    rows: list[dict[str, Any]] = []
    start = time.perf_counter()

    def on_epoch(epoch: int, record: dict[str, float]) -> None:
        rows.append({"round": epoch, **{k: float(v) for k, v in record.items()},
                     "seconds": {"train": time.perf_counter() - start}})
        bar.update(1)
        bar.set_postfix(acc=f"{record.get('test_accuracy', float('nan')):.4f}")

    state, _ = train_centralized(
        config.model, ds.x_train[train_idx][..., None], ds.y_train[train_idx], epochs,
        num_classes=ds.num_classes, lr=config.lr, momentum=config.momentum, batch_size=config.batch_size,
        seed=config.seed, x_test=ds.x_test[..., None], y_test=ds.y_test, on_epoch=on_epoch,
    )
    bar.close()
    metrics = {"rounds": rows}
    rd.write_json(rd.metrics_path, metrics)
    rd.save_model(rd.model_path, ravel(state), model=config.model, num_classes=ds.num_classes,
                  seed=config.seed, dataset=ds.name)
    plot_curves(metrics, rd.root, f"centralized {config.model.upper()}, {ds.name}")
    return rows[-1]
