"""Short calibrated measurements for ``fbh profile``: crypto per thread count, table build, training.

Every measurement is sized so one run takes about ``target`` seconds (calibrated on a
probe), timed best-of (noise on a shared machine only ever adds time) and checked: the
decrypted values must equal the plaintexts. Only the top-level ``fbh.crypto`` API is
used (``encrypt``, ``aggregate``, ``decrypt``, ``DecodingTable``, ``Ciphertexts``), so
the profile follows whatever ciphertext format that API produces.

The memory peak after each phase is the process's high-water mark (``ru_maxrss``), so
each phase's figure includes every phase before it.
"""

from __future__ import annotations

import resource
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

__all__ = ["device_peak_bytes", "measure_crypto", "measure_table", "measure_train", "peak_rss_bytes",
           "thread_counts"]

#: What each crypto curve times; "values" are plaintext coordinates (aggregate: ciphertexts summed).
CRYPTO_OPS = ("encrypt_fast", "encrypt_ct", "validate", "aggregate", "decrypt_fast", "decrypt_ct")


def peak_rss_bytes() -> int:
    """The process's peak resident memory so far (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)


def device_peak_bytes() -> int | None:
    """Peak memory JAX has held on its accelerators (``None`` where the backend does not say)."""
    import jax

    peaks = [(d.memory_stats() or {}).get("peak_bytes_in_use") for d in jax.devices()
             if d.platform != "cpu" and hasattr(d, "memory_stats")]
    peaks = [p for p in peaks if p is not None]
    return max(peaks) if peaks else None


def thread_counts(cpus: int) -> list[int]:
    """1 … ``cpus``: every count up to 4, then powers of two and ``cpus`` itself."""
    counts = {t for t in range(1, min(cpus, 4) + 1)}
    t = 8
    while t < cpus:
        counts.add(t)
        t *= 2
    counts.add(cpus)
    return sorted(counts)


def best_seconds(fn: Callable[[], Any], target: float, max_runs: int = 20) -> tuple[float, Any]:
    """Best wall time of ``fn()``: at least 2 runs, more while their total is under ``target``."""
    best, total, out = float("inf"), 0.0, None
    for i in range(max_runs):
        t0 = time.perf_counter()
        out = fn()
        dt = time.perf_counter() - t0
        best, total = min(best, dt), total + dt
        if i >= 1 and total >= target:
            break
    return best, out


def calibrate(fn: Callable[[int], Any], target: float, n_min: int, n_max: int) -> int:
    """The size n for which ``fn(n)`` takes about ``target`` seconds (from one probe at ``n_min``)."""
    t0 = time.perf_counter()
    fn(n_min)
    per_item = max(time.perf_counter() - t0, 1e-9) / n_min
    return int(min(max(target / per_item, n_min), n_max))


def _check(name: str, got: np.ndarray, want: np.ndarray) -> None:
    if not np.array_equal(np.asarray(got), want):
        msg = f"profile: {name} decrypted wrong values"
        raise RuntimeError(msg)


def measure_crypto(threads: Sequence[int], *, target: float, bound: int, clients: int = 10,
                   n_max: int = 200_000, step: Callable[[str], None] = lambda _: None) -> dict[str, Any]:
    """Values per second of each op of :data:`CRYPTO_OPS` at each thread count.

    Args:
        threads: thread counts to time (ascending).
        target: seconds one timed run should take on one thread.
        bound: decoding bound of decrypted values (the table is built once, untimed here).
        clients: ciphertexts summed per aggregated value.
        n_max: the most values per timed run.
        step: called with a label after each timed point (the progress bar).

    Returns:
        ``{"n": values per run, "clients": ..., "curves": {op: {threads: values/s}}}``.
    """
    import fbh.crypto as fc

    sk = fc.PrivateKey.generate()
    pk = sk.public_key
    rng = np.random.default_rng(0)
    for ct in (False, True):  # the public key's fixed-base tables are built once, untimed
        fc.encrypt(pk, np.zeros(2, np.int64), constant_time=ct)
    n = calibrate(lambda k: fc.encrypt(pk, np.arange(k), threads=1, constant_time=False), target, 2_000, n_max)
    values = rng.integers(-(bound // clients), bound // clients, n, dtype=np.int64)
    most = max(threads)
    ct_values = fc.encrypt(pk, values, threads=most, constant_time=False)
    blob = ct_values.to_bytes()
    # C clients' ciphertexts of n / C values each: n ciphertexts summed per run, like a round's.
    part = max(n // clients, 1)
    shares = [fc.encrypt(pk, values[:part], threads=most, constant_time=False) for _ in range(clients)]
    table = fc.DecodingTable(bound, threads=most)

    ops: dict[str, tuple[Callable[[int], Any], int]] = {
        "encrypt_fast": (lambda t: fc.encrypt(pk, values, threads=t, constant_time=False), n),
        "encrypt_ct": (lambda t: fc.encrypt(pk, values, threads=t, constant_time=True), n),
        "validate": (lambda t: fc.Ciphertexts.from_bytes(blob, threads=t), n),
        "aggregate": (lambda t: fc.aggregate(shares, threads=t), part * clients),
        "decrypt_fast": (lambda t: fc.decrypt(sk, ct_values, bound=bound, table=table, threads=t,
                                              constant_time=False), n),
        "decrypt_ct": (lambda t: fc.decrypt(sk, ct_values, bound=bound, table=table, threads=t,
                                            constant_time=True), n),
    }
    # The protocol hashes every blob (commitments, signatures): SHA-256 speed and blob size.
    import hashlib

    sha_seconds, _ = best_seconds(lambda: hashlib.sha256(blob).digest(), target)
    curves: dict[str, dict[int, float]] = {op: {} for op in ops}
    for op, (fn, items) in ops.items():
        best = interleaved_best(fn, threads, target, on_first=lambda t, op=op: step(f"{op} x{t}"))
        for t, (seconds, out) in best.items():
            if op.startswith("decrypt"):
                _check(op, out, values)
            curves[op][t] = items / seconds
    return {"n": n, "clients": clients, "curves": curves, "bytes_per_value": len(blob) / n,
            "sha256_bytes_per_s": len(blob) / sha_seconds}


def interleaved_best(fn: Callable[[int], Any], threads: Sequence[int], target: float, max_rounds: int = 10,
                     on_first: Callable[[int], None] = lambda _: None) -> dict[int, tuple[float, Any]]:
    """Best time of ``fn(t)`` for each t, timing every t once per round (>= 2 rounds).

    Rounds go on while the time spent is under ``target`` per thread count. Interleaving
    makes a load change on a shared machine hit every thread count alike, so the ratios
    between them (the scaling curve) stay meaningful.
    """
    best: dict[int, tuple[float, Any]] = {}
    spent = 0.0
    for r in range(max_rounds):
        for t in threads:
            t0 = time.perf_counter()
            out = fn(t)
            dt = time.perf_counter() - t0
            spent += dt
            if t not in best or dt < best[t][0]:
                best[t] = (dt, out)
            if r == 0:
                on_first(t)
        if r >= 1 and spent >= target * len(threads):
            break
    return best


def measure_table(bound: int, threads: int, target: float) -> dict[str, Any]:
    """Seconds and bytes of one decoding table for ``bound`` (built on ``threads`` threads)."""
    import fbh.crypto as fc

    seconds, table = best_seconds(lambda: fc.DecodingTable(bound, threads=threads), target, max_runs=3)
    return {"bound": bound, "threads": threads, "seconds": seconds, "bytes": table.nbytes}


def measure_train(model: str, clients: int, variants: Sequence[tuple[int, int]], *, batches_per_client: int,
                  target: float, step: Callable[[str], None] = lambda _: None) -> list[dict[str, Any]]:
    """Training images/s of one round per (``client_batch``, batch size) variant, after compiling.

    Each client holds ``batches_per_client`` batches of random uint8 images; a
    ``client_batch`` of ``clients`` or more vmaps all clients in one call.

    Returns:
        One row per variant: ``{client_batch, batch_size, images_per_s, compile_seconds}``.
    """
    import jax

    from fbh.train import FederatedTrainer

    rows = []
    rng = np.random.default_rng(0)
    for batch_size in dict.fromkeys(bs for _, bs in variants):
        n = batch_size * batches_per_client
        x = rng.integers(0, 256, (clients, n, 28, 28, 1), dtype=np.uint8)
        y = rng.integers(0, 10, (clients, n)).astype(np.int32)
        mask = np.ones((clients, n), bool)
        xd, yd, md = jax.device_put(x), jax.device_put(y), jax.device_put(mask)
        for cb in [cb for cb, bs in variants if bs == batch_size]:
            trainer = FederatedTrainer(model, batch_size=batch_size, local_epochs=1, client_batch=cb)
            state, key = trainer.init(), jax.random.key(0)
            t0 = time.perf_counter()
            jax.block_until_ready(trainer.round(state, xd, yd, md, key))  # compiles
            compile_seconds = time.perf_counter() - t0
            seconds, _ = best_seconds(lambda t=trainer, s=state: jax.block_until_ready(t.round(s, xd, yd, md, key)),
                                      target)
            rows.append({"client_batch": min(cb, clients), "batch_size": batch_size,
                         "images_per_s": clients * n / seconds, "compile_seconds": compile_seconds})
            step(f"train client_batch={cb} batch={batch_size}")
    return rows
