"""Small helpers shared by the modules of :mod:`fbh.crypto`."""

from __future__ import annotations

import operator
import os

__all__ = ["resolve_threads"]


def resolve_threads(threads: int | None) -> int:
    """Number of worker threads for a batch call: ``None`` means all cores.

    Raises:
        ValueError: If ``threads`` is not a positive integer.
    """
    if threads is None:
        return os.cpu_count() or 1
    threads = operator.index(threads)
    if threads < 1:
        msg = f"threads must be >= 1, got {threads}"
        raise ValueError(msg)
    return threads
