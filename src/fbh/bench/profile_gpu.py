"""``fbh profile``'s GPU crypto step: packed encryption and aggregation on the CPU core and on
the GPU (``fbh.crypto._ec_cuda``) per batch size, and the crossover that ``auto`` uses.

Wall time (the CPU only waits for the GPU), best-of, in fast mode (the GPU path is variable
time). On a machine without the module or a device the step records why and measures nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from fbh.bench.profile_measure import best_seconds

__all__ = ["SIZES", "apply_gpu_profile", "crossover", "measure_gpu_crypto"]

#: Batch sizes (values) timed on both sides.
SIZES = (1 << 10, 1 << 12, 1 << 14, 1 << 16, 1 << 18)
CLIENTS = 10


def crossover(rows: Sequence[dict[str, Any]], op: str) -> int | None:
    """Smallest n from which the GPU is faster for ``op`` at every larger measured n, or None."""
    ns = sorted((r for r in rows if r["op"] == op), key=lambda r: r["n"])
    best = None
    for r in reversed(ns):
        if r["gpu_s"] >= r["cpu_s"]:
            break
        best = r["n"]
    return best


def measure_gpu_crypto(threads: int, *, target: float, sizes: Sequence[int] = SIZES) -> dict[str, Any]:
    """CPU (``threads``) against GPU seconds for packed encrypt and aggregate, per batch size."""
    from fbh.crypto import KeySet, aggregate_packed, decrypt_packed, encrypt_packed  # noqa: PLC0415
    from fbh.crypto.backend import gpu_module, use_backend  # noqa: PLC0415

    mod = gpu_module()
    if mod is None:
        return {"available": False, "reason": "fbh.crypto._ec_cuda not built or no CUDA device",
                "rows": [], "crossover_values": None}
    ks = KeySet.generate()
    rows: list[dict[str, Any]] = []
    for n in sizes:
        m = np.arange(n, dtype=np.int64) - n // 2
        for backend in ("cpu", "gpu"):
            with use_backend(backend):
                enc = lambda: encrypt_packed(ks.public, m, context=b"profile", constant_time=False,  # noqa: E731
                                             threads=threads)
                enc()  # tables on first use
                e_s, ct = best_seconds(enc, target / len(sizes))
                cts = [ct] * CLIENTS
                a_s, agg = best_seconds(lambda: aggregate_packed(cts, threads=threads), target / len(sizes))
            if n == sizes[0] and not np.array_equal(decrypt_packed(ks, agg), CLIENTS * m):
                msg = f"{backend} aggregate decrypted to wrong values"
                raise RuntimeError(msg)
            for op, s in (("encrypt", e_s), ("aggregate", a_s)):
                key = "cpu_s" if backend == "cpu" else "gpu_s"
                row = next((r for r in rows if r["op"] == op and r["n"] == n), None)
                if row is None:
                    row = {"op": op, "n": n}
                    rows.append(row)
                row[key] = s
    return {"available": True, "device": mod.device_name(), "threads": threads, "rows": rows,
            "crossover_values": crossover(rows, "encrypt")}


def apply_gpu_profile(profile: dict[str, Any]) -> int | None:
    """Set ``fbh.crypto.backend.GPU_CROSSOVER_VALUES`` from a profile's measured crossover."""
    from fbh.crypto import backend  # noqa: PLC0415

    n = (profile.get("gpu_crypto") or {}).get("crossover_values")
    if n is not None:
        backend.GPU_CROSSOVER_VALUES = int(n)
    return n
