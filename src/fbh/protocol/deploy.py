"""``fbh predict``: classify images with a run's deployed (latest approved) global model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from fbh.protocol.rundir import RunDir

__all__ = ["deployed_model", "load_images", "predict_files"]


def _approved_rounds(rd: RunDir, config: dict) -> list[int]:
    """Rounds whose model the auditor approved: read from the chain when the run has one."""
    if config.get("encrypt") and config.get("chain") != "none":
        from fbh import chain

        with chain.restore(rd.chain_dir) as ledger:
            return [r for r in ledger.round_ids() if ledger.round(r).approved]
    return rd.rounds()  # plaintext runs have no auditor: every round's model counts


def deployed_model(run_dir: str | Path):
    """Return ``(trainer, state, round)`` of the latest approved model of a run.

    Raises:
      ValueError: if no round's model was approved.
    """
    import jax.numpy as jnp

    from fbh.train import FederatedTrainer, unravel

    rd = RunDir(run_dir)
    config = rd.read_json(rd.config_path)
    approved = _approved_rounds(rd, config)
    if not approved:
        msg = f"{rd.root}: the auditor approved no round's model; nothing to deploy"
        raise ValueError(msg)
    round_ = max(approved)
    flat, _ = rd.load_model(rd.round_dir(round_) / "model.npz")
    _, meta = rd.load_model(rd.model_path)
    trainer = FederatedTrainer(meta["model"], meta["num_classes"], seed=meta["seed"])
    return trainer, unravel(jnp.asarray(flat), trainer.init()), round_


def load_images(path: str | Path) -> np.ndarray:
    """Read images as uint8[N, 28, 28] from ``.npy``, IDX (``.gz`` or raw) or an image file."""
    path = Path(path)
    name = path.name.lower()
    if name.endswith(".npy"):
        x = np.load(path, allow_pickle=False)
    elif name.endswith(".gz"):
        from fbh.data.idx import read_idx_gz

        x, _ = read_idx_gz(path.read_bytes(), name=str(path), ndim=3)
    elif "idx3" in name or name.endswith((".idx", ".ubyte")):
        from fbh.data.idx import read_idx

        x = read_idx(path.read_bytes(), name=str(path), ndim=3)
    else:
        from PIL import Image

        x = np.asarray(Image.open(path).convert("L").resize((28, 28)))
    x = np.asarray(x)
    if x.ndim == 2:
        x = x[None]
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != (28, 28):
        msg = f"{path}: expected images shaped (N, 28, 28), got {x.shape}"
        raise ValueError(msg)
    if x.dtype != np.uint8:  # float images in [0, 1]
        x = np.clip(np.rint(x * 255.0 if x.max() <= 1.0 else x), 0, 255).astype(np.uint8)
    return x


def predict_files(run_dir: str | Path, images: Sequence[str | Path]) -> Iterator[tuple[str, list[int]]]:
    """Yield ``(path, predicted labels)`` for each image file."""
    trainer, state, _ = deployed_model(run_dir)
    for path in images:
        x = load_images(path)
        yield str(path), [int(v) for v in trainer.predict(state, x[..., None])]
