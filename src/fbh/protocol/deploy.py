"""``fbh predict``: classify images with a run's deployed (latest approved) global model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from fbh.protocol.rundir import RunDir

__all__ = ["deployed_model", "load_images", "predict_files", "trainer_from_meta"]


def _approved_rounds(rd: RunDir, config: dict) -> list[int]:
    """Rounds whose model the auditor approved: read from the chain when the run has one."""
    if config.get("encrypt") and config.get("chain") != "none":
        from fbh import chain

        with chain.restore(rd.chain_dir) as ledger:
            return [r for r in ledger.round_ids() if ledger.round(r).approved]
    return rd.rounds()  # plaintext runs have no auditor: every round's model counts


def trainer_from_meta(meta: dict, model=None):
    """Rebuild a checkpoint's trainer: from its recorded ``model_spec``, or the given ``model``.

    Raises:
      ValueError: if the checkpoint holds a user module with no recorded spec and ``model`` is None.
    """
    from fbh.model import ModelSpec
    from fbh.train import FederatedTrainer

    if model is None:
        if meta.get("model_spec") is not None:
            model = ModelSpec.from_json(meta["model_spec"])
        elif meta.get("model") in ("cnn", "ann"):
            model = meta["model"]
        else:
            msg = (f"this run trained a user model ({meta.get('model')}) without a recorded factory: "
                   "pass it with --model package.module:callable (Python: model=...)")
            raise ValueError(msg)
    return FederatedTrainer(model, meta["num_classes"], seed=meta.get("seed", 0), client_batch=None,
                            input_shape=tuple(meta.get("input_shape", (28, 28, 1))), norm=meta.get("norm"))


def deployed_model(run_dir: str | Path, model=None):
    """Return ``(trainer, state, round)`` of the latest approved model of a run.

    Args:
      run_dir: the run directory.
      model: the model when the run did not record how to build it (a user
        ``nnx.Module``, a ``ModelSpec`` or a ``"package.module:callable"`` path).

    Raises:
      ValueError: if no round's model was approved, or the model cannot be rebuilt.
    """
    import jax.numpy as jnp

    from fbh.train import num_params, unravel

    rd = RunDir(run_dir)
    config = rd.read_json(rd.config_path)
    approved = _approved_rounds(rd, config)
    if not approved:
        msg = f"{rd.root}: the auditor approved no round's model; nothing to deploy"
        raise ValueError(msg)
    round_ = max(approved)
    flat, _ = rd.load_model(rd.round_dir(round_) / "model.npz")
    _, meta = rd.load_model(rd.model_path)
    trainer = trainer_from_meta(meta, model)
    template = trainer.init()
    if flat.size != num_params(template):
        msg = f"{rd.root}: the saved model has {flat.size:,} values, the model to load it into {num_params(template):,}"
        raise ValueError(msg)
    return trainer, unravel(jnp.asarray(flat), template), round_


def load_images(path: str | Path, input_shape=(28, 28, 1)) -> np.ndarray:
    """Read images as uint8 ``[N, H, W, C]`` from ``.npy``, IDX (``.gz`` or raw) or an image file.

    ``input_shape`` is the model's ``(H, W, C)``: an image file is converted
    to grayscale (C = 1) or RGB (C = 3) and resized to it; arrays must match it.
    """
    h, w, ch = (int(v) for v in input_shape)
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

        with Image.open(path) as im:
            x = np.asarray(im.convert("L" if ch == 1 else "RGB").resize((w, h)))
    x = np.asarray(x)
    if x.ndim == 2 or (x.ndim == 3 and ch > 1 and x.shape == (h, w, ch)):
        x = x[None]
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4 or x.shape[1:] != (h, w, ch):
        msg = f"{path}: expected images shaped (N, {h}, {w}{'' if ch == 1 else f', {ch}'}), got {x.shape}"
        raise ValueError(msg)
    if x.dtype != np.uint8:  # float images in [0, 1]
        x = np.clip(np.rint(x * 255.0 if x.max() <= 1.0 else x), 0, 255).astype(np.uint8)
    return x


def predict_files(run_dir: str | Path, images: Sequence[str | Path], model=None) -> Iterator[tuple[str, list[int]]]:
    """Yield ``(path, predicted labels)`` for each image file."""
    trainer, state, _ = deployed_model(run_dir, model)
    for path in images:
        x = load_images(path, trainer.input_shape)
        yield str(path), [int(v) for v in trainer.predict(state, x)]
