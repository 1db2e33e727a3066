"""Small helpers shared by the modules of :mod:`fbh.crypto`."""

from __future__ import annotations

import operator
import os
from typing import NoReturn

__all__ = ["NotCopyable", "resolve_threads"]


class NotCopyable:
    """Mixin for objects that hold secrets: pickling and copying raise ``TypeError``, so a
    secret cannot reach a file or another process by accident (export it explicitly)."""

    __slots__ = ()

    def _refuse(self, *args: object) -> NoReturn:
        name = type(self).__name__
        msg = f"{name} cannot be pickled or copied; export it explicitly with to_bytes()"
        raise TypeError(msg)

    __reduce__ = _refuse
    __reduce_ex__ = _refuse
    __getstate__ = _refuse
    __copy__ = _refuse
    __deepcopy__ = _refuse


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
