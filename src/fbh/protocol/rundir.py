"""The run directory: everything a finished run leaves for audit and deployment.

Layout::

    RUN_DIR/config.json                      the run's configuration
    RUN_DIR/metrics.json                     {"rounds": [{"round", "test_accuracy", ...}]}
    RUN_DIR/model.npz                        final global model
    RUN_DIR/rounds/<r>/updates/<addr>.bin    each hospital's ciphertext blob
    RUN_DIR/rounds/<r>/updates/<addr>.sig    its signature
    RUN_DIR/rounds/<r>/aggregate.bin         the round's aggregate (``--keep-updates until-approved``)
    RUN_DIR/rounds/<r>/pruned.json           blobs dropped after approval: address -> SHA-256
    RUN_DIR/rounds/<r>/range/                the range stage: plan.json, every signed answer
    RUN_DIR/public_key.bin                   the key set the blobs are under (its digest is on chain)
    RUN_DIR/rounds/<r>/model.npz             the global model after round r
    RUN_DIR/chain/                           what it takes to bring the chain back
    RUN_DIR/accuracy.png, loss.png           curves
    RUN_DIR/INCOMPLETE                       present while a run is unfinished (resumable)

Every file is written to a temporary name and renamed, so an interrupted run
never leaves a half-written file behind.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["RunDir", "atomic_write"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())  # the rename must never expose a file whose bytes are still in flight
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RunDir:
    """Paths and atomic reads/writes of one run directory."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    # --- paths -------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.json"

    @property
    def model_path(self) -> Path:
        return self.root / "model.npz"

    @property
    def chain_dir(self) -> Path:
        return self.root / "chain"

    @property
    def incomplete_path(self) -> Path:
        return self.root / "INCOMPLETE"

    @property
    def is_incomplete(self) -> bool:
        """Whether a run started here and has not finished (``fbh run --resume`` continues it)."""
        return self.incomplete_path.exists()

    def mark_incomplete(self, **note: Any) -> None:
        """Record that the run is unfinished, and where it stands (round, stage)."""
        self.write_json(self.incomplete_path, {"note": "unfinished fbh run: continue it with "
                                               f"`fbh run --resume {self.root}`", **note})

    def mark_complete(self) -> None:
        self.incomplete_path.unlink(missing_ok=True)

    def round_dir(self, round_: int) -> Path:
        return self.root / "rounds" / str(round_)

    def update_path(self, round_: int, address: str, suffix: str = ".bin") -> Path:
        return self.round_dir(round_) / "updates" / f"{address}{suffix}"

    def aggregate_path(self, round_: int) -> Path:
        return self.round_dir(round_) / "aggregate.bin"

    def pruned_path(self, round_: int) -> Path:
        return self.round_dir(round_) / "pruned.json"

    def rounds(self) -> list[int]:
        """Round numbers present on disk, ascending."""
        base = self.root / "rounds"
        if not base.is_dir():
            return []
        return sorted(int(p.name) for p in base.iterdir() if p.name.isdigit())

    # --- json --------------------------------------------------------------------
    def write_json(self, path: Path, obj: Any) -> None:
        atomic_write(path, (json.dumps(obj, indent=2, sort_keys=False) + "\n").encode())

    def read_json(self, path: Path) -> Any:
        from fbh.errors import UnusableRunDir

        try:
            return json.loads(path.read_text())
        except FileNotFoundError:
            raise UnusableRunDir(f"{path} is missing", f"is {self.root} an fbh run directory?") from None
        except (OSError, ValueError) as exc:
            raise UnusableRunDir(f"{path} is unreadable: {exc}", "the run directory is damaged") from None

    # --- updates -----------------------------------------------------------------
    def save_update(self, round_: int, address: str, blob: bytes, signature: bytes) -> None:
        atomic_write(self.update_path(round_, address), blob)
        atomic_write(self.update_path(round_, address, ".sig"), signature)

    def load_updates(self, round_: int) -> dict[str, tuple[bytes, bytes]]:
        """address -> (blob, signature) of every update kept for ``round_``."""
        folder = self.round_dir(round_) / "updates"
        out = {}
        for blob_path in sorted(folder.glob("*.bin")):
            sig_path = blob_path.with_suffix(".sig")
            out[blob_path.stem] = (blob_path.read_bytes(), sig_path.read_bytes())
        return out

    def save_aggregate(self, round_: int, blob: bytes) -> None:
        atomic_write(self.aggregate_path(round_), blob)

    def prune_updates(self, round_: int, digests: Mapping[str, bytes]) -> None:
        """Drop ``round_``'s individual blobs, keeping their signatures.

        Args:
          round_: the round.
          digests: address -> SHA-256 of every blob saved for the round
            (the caller has them; re-reading hundreds of MB to hash is waste).

        The manifest is written before any blob is deleted, so an interrupted
        prune leaves every blob either present or listed as dropped.
        """
        dropped = {**self.load_pruned(round_), **{a: bytes(d).hex() for a, d in digests.items()}}
        self.write_json(self.pruned_path(round_), {"policy": "until-approved", "dropped": dropped})
        for address in digests:
            self.update_path(round_, address).unlink(missing_ok=True)
            # its range answers cannot be re-verified without the blob (an exclusion's evidence stays)
            for answer in (self.round_dir(round_) / "range").glob(f"{address}.*.npz"):
                answer.unlink()

    def load_pruned(self, round_: int) -> dict[str, str]:
        """address -> SHA-256 (hex) of the blobs dropped from ``round_`` (empty if none)."""
        path = self.pruned_path(round_)
        return dict(self.read_json(path)["dropped"]) if path.exists() else {}

    def load_signatures(self, round_: int) -> dict[str, bytes]:
        """address -> signature of every update of ``round_`` whose signature was kept."""
        folder = self.round_dir(round_) / "updates"
        return {p.stem: p.read_bytes() for p in sorted(folder.glob("*.sig"))}

    # --- models ------------------------------------------------------------------
    def save_model(self, path: Path, flat: np.ndarray, **meta: Any) -> None:
        """Save a flat float32 parameter vector (and small metadata) as ``.npz``."""
        import io

        buf = io.BytesIO()
        np.savez(buf, params=np.asarray(flat, dtype=np.float32), meta=json.dumps(meta))
        atomic_write(path, buf.getvalue())

    @staticmethod
    def load_model(path: Path) -> tuple[np.ndarray, dict[str, Any]]:
        """Read a model saved by :meth:`save_model`.

        Raises:
          UnusableRunDir: the file is missing, truncated or not a model.
        """
        import zipfile

        from fbh.errors import UnusableRunDir

        try:
            with np.load(path, allow_pickle=False) as z:
                return z["params"], json.loads(str(z["meta"]))
        except FileNotFoundError:
            raise UnusableRunDir(f"{path} is missing", "was this run finished? see `fbh report`") from None
        except (OSError, EOFError, ValueError, KeyError, zipfile.BadZipFile) as exc:
            raise UnusableRunDir(f"{path} is not a readable fbh model (truncated or corrupt: {exc})",
                                 "restore it from a backup, or re-run / resume the run") from None
