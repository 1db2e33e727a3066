"""Baby-step giant-step decoding tables (Shanks) for the exponential-ElGamal plaintexts."""

from __future__ import annotations

import operator
import threading
import time
from collections import OrderedDict

from fbh.crypto import _ec
from fbh.crypto._common import resolve_threads

__all__ = ["MAX_BABY_STEPS", "DecodingTable"]

#: Largest number of baby steps a table stores (2^21 points, a 32 MiB table; the C++ core's
#: single constant); larger bounds are decoded with giant steps of 2T + 1 over the same table.
MAX_BABY_STEPS = int(_ec.MAX_BABY_STEPS)
#: Largest supported decryption bound.
MAX_BOUND = (1 << 62) - 1
_CACHE_SIZE = 4


class DecodingTable:
    """Map ``x(m G) -> m`` for ``m`` in ``[1, T]``, ``T = min(bound, MAX_BABY_STEPS)``.

    One entry decodes both ``m`` and ``-m`` (they share x; the stored y parity gives the
    sign), so decoding ``|m| <= T`` costs one hash lookup. Bounds above ``T`` take giant
    steps of ``2T + 1``. Keys are a 64-bit x prefix (index bits plus a 40-bit tag) in an
    open-addressing table of 8-byte slots.

    Attributes:
        bound: The bound the table was built for.
        baby_steps: T, the number of stored points.
        build_seconds: Wall time spent building the table.
        nbytes: Memory held by the table.

    References:
        D. Shanks, "Class number, a theory of factorization, and genera", 1971 (baby-step
        giant-step).
    """

    __slots__ = ("_core", "bound", "build_seconds")

    _cache: OrderedDict[int, DecodingTable] = OrderedDict()
    _cache_lock = threading.Lock()

    def __init__(self, bound: int, *, threads: int | None = None) -> None:
        """Build the table (batched affine additions, up to ``threads`` threads).

        Raises:
            ValueError: If ``bound`` is negative or above ``MAX_BOUND``.
        """
        bound = check_bound(bound)
        baby = baby_steps_for(bound)
        start = time.perf_counter()
        self._core = _ec.BsgsTable(baby, resolve_threads(threads))
        self.build_seconds = time.perf_counter() - start
        self.bound = bound

    @property
    def baby_steps(self) -> int:
        """Number of stored points T (decodes ``|m| <= T`` with one lookup)."""
        return int(self._core.baby)

    @property
    def nbytes(self) -> int:
        """Bytes of memory held by the table."""
        return int(self._core.nbytes)

    @classmethod
    def cached(cls, bound: int) -> DecodingTable:
        """A process-wide shared table that decodes ``bound`` (built on first request, kept LRU).

        Tables are keyed by their size T = min(bound, MAX_BABY_STEPS), not by the bound: every
        bound above MAX_BABY_STEPS shares one table (any table decodes any bound).
        """
        bound = check_bound(bound)
        size = baby_steps_for(bound)
        with cls._cache_lock:
            table = cls._cache.get(size)
            if table is None:
                table = cls(bound)
                cls._cache[size] = table
                while len(cls._cache) > _CACHE_SIZE:
                    cls._cache.popitem(last=False)
            cls._cache.move_to_end(size)
            return table

    def __repr__(self) -> str:
        return (
            f"DecodingTable(bound={self.bound}, baby_steps={self.baby_steps}, "
            f"nbytes={self.nbytes}, build_seconds={self.build_seconds:.3f})"
        )


def baby_steps_for(bound: int) -> int:
    """Baby steps T of the table for a bound: min(bound, MAX_BABY_STEPS), at least 1."""
    return max(1, min(bound, MAX_BABY_STEPS))


def check_bound(bound: int) -> int:
    """Validate a decryption bound: an integer in ``[0, MAX_BOUND]``."""
    bound = operator.index(bound)
    if not 0 <= bound <= MAX_BOUND:
        msg = f"bound must be in [0, 2^62 - 1], got {bound}"
        raise ValueError(msg)
    return bound
