"""Small helpers shared by the modules of :mod:`fbh.crypto`."""

from __future__ import annotations

import operator

from fbh.hardware import available_cpus

__all__ = ["resolve_threads"]


def resolve_threads(threads: int | None) -> int:
    """Number of worker threads for a batch call: ``None`` means every CPU this process may use.

    That is :func:`fbh.hardware.available_cpus` (affinity mask and cgroup quota), not
    ``os.cpu_count()``, which counts the host's CPUs even inside a 2-CPU container.

    Raises:
        ValueError: If ``threads`` is not a positive integer.
    """
    if threads is None:
        return available_cpus()
    threads = operator.index(threads)
    if threads < 1:
        msg = f"threads must be >= 1, got {threads}"
        raise ValueError(msg)
    return threads
