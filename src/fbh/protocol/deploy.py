"""``fbh predict``: classify images with a run's deployed (latest approved) global model."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from fbh.errors import BadInput, UnusableRunDir, VerificationFailed
from fbh.protocol.rundir import RunDir

__all__ = ["deployed_model", "load_images", "predict_files"]


def _chain_model(rd: RunDir, round_: int | None) -> tuple[Path, int]:
    """The model file of the latest approved round (or ``round_``), checked against its on-chain hash."""
    from fbh import chain
    from fbh.protocol.messages import model_digest

    with chain.restore(rd.chain_dir) as ledger:
        history = {r.round: r for r in ledger.history()}
    approved = [r for r, rec in history.items() if rec.approved]
    if round_ is None:
        if not approved:
            raise VerificationFailed(f"{rd.root}: the auditor approved no round's model; nothing to deploy",
                                     "see `fbh report` for each round's verdict")
        round_ = max(approved)
    elif round_ not in history:
        raise BadInput(f"--round {round_}: {rd.root} has no round {round_} on chain",
                       f"approved rounds: {approved or 'none'}")
    elif not history[round_].approved:
        raise VerificationFailed(f"round {round_} of {rd.root} is {history[round_].status.name.lower()} on chain, "
                                 "not approved: refusing to deploy its model",
                                 f"approved rounds: {approved or 'none'}")
    path = rd.round_dir(round_) / "model.npz"
    flat, _ = rd.load_model(path)
    if model_digest(flat) != history[round_].model_hash:
        raise VerificationFailed(f"{path} does not hash to the model approved on chain for round {round_}: "
                                 "refusing to deploy it", "the file was changed after the run; restore it")
    return path, round_


def _model_file(rd: RunDir, config: dict, round_: int | None) -> tuple[Path, int | None]:
    """Which model file to serve: verified on chain when the run has one, else the run's own."""
    if config.get("encrypt") and config.get("chain") != "none" and not config.get("centralized"):
        return _chain_model(rd, round_)
    if config.get("centralized"):  # a baseline: one model, no rounds
        if round_ is not None:
            raise BadInput(f"--round: {rd.root} is a centralized baseline, which has no rounds")
        return rd.model_path, None
    # No chain, no auditor: the run's latest (or the requested) round counts.
    rounds = rd.rounds()
    if round_ is None and not rounds:
        raise UnusableRunDir(f"{rd.root} holds no round's model yet")
    round_ = max(rounds) if round_ is None else round_
    if round_ not in rounds:
        raise BadInput(f"--round {round_}: {rd.root} has no model for round {round_}", f"rounds: {rounds}")
    return rd.round_dir(round_) / "model.npz", round_


def deployed_model(run_dir: str | Path, round_: int | None = None):
    """Return ``(trainer, state, round)`` of the model ``fbh predict`` may serve.

    For a run on a chain that is the latest approved round's model (or
    ``round_``, if approved) and only if the file's hash equals the one
    approved on chain; a run without a chain serves its own latest model.

    Raises:
      VerificationFailed: nothing approved, ``round_`` not approved, or the file's hash differs.
      BadInput: ``round_`` does not exist.
      UnusableRunDir: the run directory lacks what is needed.
    """
    rd = RunDir(run_dir)
    config = rd.read_json(rd.config_path)
    path, round_ = _model_file(rd, config, round_)
    flat, meta = rd.load_model(path)
    import jax.numpy as jnp  # only once there is a model to run: a refusal stays quick

    from fbh.train import FederatedTrainer, ravel, unravel

    trainer = FederatedTrainer(meta.get("model", config.get("model", "cnn")),
                               meta.get("num_classes") or _num_classes(config),
                               seed=meta.get("seed", config.get("seed", 0)))
    template = trainer.init()
    expected = np.asarray(ravel(template)).size
    if expected != flat.size:
        raise UnusableRunDir(f"{path} holds {flat.size} values, the {trainer.model_name} model has {expected}",
                             "the run directory is damaged")
    return trainer, unravel(jnp.asarray(flat), template), round_


def _num_classes(config: dict) -> int:
    from fbh import data as fdata

    return fdata.load_dataset(config["dataset"]).num_classes


def load_images(path: str | Path) -> np.ndarray:
    """Read images as uint8[N, 28, 28] from ``.npy``, IDX (``.gz`` or raw) or an image file.

    Raises:
      BadInput: the file is missing, unreadable or not images of the right shape.
    """
    import zipfile

    try:
        return _read_images(Path(path))
    except BadInput:
        raise
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (OSError, EOFError, ValueError, zipfile.BadZipFile) as exc:  # PIL's UnidentifiedImageError is an OSError
        raise BadInput(f"{path}: not a readable image file ({' '.join(str(exc).split())[:200]})",
                       "give .npy (N,28,28) arrays, IDX(.gz) files or PNG/JPEG images") from None


def _read_images(path: Path) -> np.ndarray:
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
        raise BadInput(f"{path}: expected images shaped (N, 28, 28), got {x.shape}")
    if x.dtype != np.uint8:  # float images in [0, 1]
        x = np.clip(np.rint(x * 255.0 if x.max() <= 1.0 else x), 0, 255).astype(np.uint8)
    return x


def predict_files(run_dir: str | Path, images: Sequence[str | Path],
                  round_: int | None = None) -> Iterator[tuple[str, list[int]]]:
    """Yield ``(path, predicted labels)`` for each image file (all are read before the model is)."""
    batches = [(str(path), load_images(path)) for path in images]
    trainer, state, _ = deployed_model(run_dir, round_)
    for path, x in batches:
        yield path, [int(v) for v in trainer.predict(state, x[..., None])]
