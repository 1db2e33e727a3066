"""Checks of a run's options before any data is loaded or any chain is started.

A bad option should cost the user a second, not twenty: everything that can
be checked without the dataset's pixels is checked here — thread count,
the chain (known name, anvil installed, a URL that answers), sizes against
the dataset's known split sizes, and that ``--out`` can be written.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from fbh.errors import BadInput, UnusableRunDir
from fbh.protocol.config import RunConfig

__all__ = ["TRAIN_SIZES", "check_chain", "check_config", "check_out_dir"]

# Training-split sizes (Cohen et al., "EMNIST", arXiv:1702.05373, Table II; MNIST: LeCun et al.).
TRAIN_SIZES = {
    "mnist": 60_000, "emnist-mnist": 60_000, "emnist-digits": 240_000, "emnist-letters": 124_800,
    "emnist-balanced": 112_800, "emnist-byclass": 697_932, "emnist-bymerge": 697_932,
}
# MedMNIST v2 (Yang et al., Scientific Data 2023, Table 1): the auditor uses the official
# validation split, so --validation-size takes nothing from these training splits.
OFFICIAL_SPLIT_TRAIN_SIZES = {"breastmnist": 546, "pneumoniamnist": 4_708, "retinamnist": 1_080}
_PROBE_BYTES = 1 << 20  # a run writes megabytes per round: a disk without one MiB free is full


def check_config(config: RunConfig) -> None:
    """Sizes within the dataset and a usable chain; ``RunConfig`` already checked the rest.

    Raises:
      BadInput: naming the option and what would work.
    """
    from fbh.data import DATASETS

    if config.dataset not in DATASETS:
        raise BadInput(f"--dataset: unknown dataset {config.dataset!r}",
                       f"choose one of {', '.join(DATASETS)}")
    if config.dataset in OFFICIAL_SPLIT_TRAIN_SIZES:
        total = available = OFFICIAL_SPLIT_TRAIN_SIZES[config.dataset]
        held_out = "its official validation split"
    else:
        total = TRAIN_SIZES[config.dataset]
        if config.validation_size >= total:
            raise BadInput(f"--validation-size {config.validation_size} leaves no training data "
                           f"({config.dataset} has {total:,} training images)")
        available = total - config.validation_size
        held_out = f"the {config.validation_size:,} held out for validation"
    if config.train_examples is not None and config.train_examples > available:
        raise BadInput(f"--train-examples {config.train_examples:,} exceeds the {available:,} training images "
                       f"{config.dataset} has after {held_out}",
                       f"use at most {available:,} (or leave it out to train on all of them)")
    used = available if config.train_examples is None else config.train_examples
    if config.clients > used:
        raise BadInput(f"--clients {config.clients} exceeds the {used:,} training images to share out")
    if config.encrypt:
        check_chain(config.chain)


def check_chain(spec: str) -> None:
    """``spec`` names a backend that can start: anvil installed, a URL that answers.

    Raises:
      BadInput: unknown name, anvil missing, or the node does not answer.
    """
    if spec in ("embedded", "none"):
        return  # nothing to reach: no need to import web3 yet
    if spec == "anvil":
        from fbh.chain.anvil import find_anvil
        from fbh.chain.errors import ChainConfigError

        try:
            find_anvil()
        except ChainConfigError as exc:
            raise BadInput(f"--chain anvil: {exc}") from None
        return
    if spec.startswith(("http://", "https://")):
        from web3 import Web3

        try:
            Web3(Web3.HTTPProvider(spec, request_kwargs={"timeout": 3})).eth.chain_id  # noqa: B018
        except Exception as exc:  # noqa: BLE001 - any failure means: not reachable
            raise BadInput(f"--chain {spec}: no Ethereum node answers there ({type(exc).__name__})",
                           "start the node, or use --chain embedded") from None
        return
    raise BadInput(f"--chain {spec!r} names no chain", "use embedded, anvil, none or an http(s):// URL")


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path(".")


def check_out_dir(out: str | os.PathLike[str]) -> Path:
    """``out`` can hold a run: not a file, not under a file, writable, with space left.

    Creates nothing: a probe file is written to, and removed from, the
    nearest folder that already exists.

    Raises:
      UnusableRunDir: naming the path and why.
    """
    path = Path(out)
    existing = _nearest_existing(path.absolute())
    if not existing.is_dir():
        where = "is a file" if existing == path.absolute() else f"is under {existing}, which is a file"
        raise UnusableRunDir(f"--out {out} {where}", "choose a folder path for the run directory")
    try:
        with tempfile.TemporaryFile(dir=existing) as probe:
            probe.write(b"\0" * _PROBE_BYTES)
            probe.flush()
            os.fsync(probe.fileno())
    except OSError as exc:
        why = {errno.ENOSPC: "the disk is full", errno.EROFS: "the file system is read-only",
               errno.EACCES: "permission denied", errno.EDQUOT: "the disk quota is exceeded"}
        reason = why.get(exc.errno, exc.strerror or str(exc))
        raise UnusableRunDir(f"--out {out}: cannot write in {existing}: {reason}",
                             "choose another --out, or free space / fix permissions there") from None
    return path
