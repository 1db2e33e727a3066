"""``fbh bench crypto``: fbh.crypto against a coincurve baseline, timed in the same run.

For N values in [-2^15, 2^15) per client this times encrypt (each mode),
for the v1 format and the packed v3 format (k values per nonce, one proof per blob checked in aggregate),
aggregate (C = 10 clients' ciphertexts, starting from their wire bytes),
the decoding-table build and decrypt (sum bound +-2^20), for fbh and for the
plain-Python coincurve baseline of :mod:`fbh.bench.crypto_baseline`; also fbh on
all cores against ``threads``, and python-paillier / TenSEAL as context when
installed. Every decrypted sum is checked against the plaintext sum. Prints one
table (:func:`format_table`) and optionally writes the same numbers as JSON.

The slow implementations are timed on the first ``baseline_n`` / ``context_n``
values and reported per value (marked ``*`` in the table).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from fbh.bench.crypto_baseline import (
    PAIR_BYTES,
    BaselineTable,
    CoincurveElGamal,
    PaillierContext,
    TenSEALContext,
    available,
)
from fbh.bench.crypto_report import IMPL_LABELS, format_table, summarize_targets
from fbh.hardware import available_cpus

__all__ = ["main", "run_crypto_bench"]

VALUE_BITS = 15  # values are drawn from [-2^15, 2^15)
MODES = {"fast": False, "ct": True}  # mode name -> constant_time


def _timeit(fn: Callable[[], Any], min_seconds: float = 0.3,
            repeat: tuple[int, int] = (2, 5)) -> tuple[float, float, Any]:
    """Best wall time of ``fn()`` over ``repeat[0]`` runs, more (up to ``repeat[1]``) while short.

    Best-of rather than mean: on a shared machine, noise only ever adds time.

    Returns:
        (best wall seconds, process CPU seconds of that run, the last result). CPU / wall
        near the thread count means the threads really ran in parallel.
    """
    best, cpu, total, out = float("inf"), 0.0, 0.0, None
    for i in range(repeat[1]):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if dt < best:
            best, cpu = dt, dc
        total += dt
        if i + 1 >= repeat[0] and total >= min_seconds:
            break
    return best, cpu, out


def _check(op: str, impl: str, got: Sequence[int] | np.ndarray, want: np.ndarray) -> None:
    if not np.array_equal(np.asarray(got, dtype=np.int64), want):
        msg = f"{impl} {op}: decrypted sums differ from the plaintext sums"
        raise RuntimeError(msg)


class _Run:
    """Collects rows and drives one progress bar over the stages."""

    def __init__(self, n_total: int, stages: int, progress: bool) -> None:
        self.n_total = n_total
        self.rows: list[dict[str, Any]] = []
        self.bar = tqdm(total=stages, desc="bench crypto", disable=not progress, file=sys.stderr, leave=False)

    def time(self, op: str, impl: str, n: int, fn: Callable[[], Any], *, threads: int = 1,
             mode: str = "-", sampled: bool = False) -> Any:
        self.bar.set_postfix_str(f"{op} {impl} {mode} t={threads}")
        seconds, cpu, out = _timeit(fn)
        self.rows.append({"op": op, "impl": impl, "mode": mode, "threads": threads, "n": n,
                          "seconds": seconds, "cpu_seconds": cpu, "us_per_value": seconds / n * 1e6 if n else None,
                          "values_per_s": n / seconds if n and seconds > 0 else None, "sampled": sampled})
        self.bar.update()
        return out


def _bench_fbh(run: _Run, sk: Any, data: np.ndarray, sums: np.ndarray, threads: int, modes: Sequence[str],
               bound: int) -> float:
    """Times fbh with the private key sk; returns its wire bytes per value."""
    import fbh.crypto as fc  # noqa: PLC0415  (keeps the baseline usable without the extension)

    n = data.shape[1]
    pk = sk.public_key
    for mode in modes:  # builds pk's cached fixed-base tables outside the timed region
        fc.encrypt(pk, data[0, :2], threads=1, constant_time=MODES[mode])
    cores = available_cpus()
    counts = [threads] + ([cores] if cores > threads else [])
    for t in counts:
        for mode in modes:
            run.time("encrypt", "fbh", n, lambda t=t, mode=mode: fc.encrypt(pk, data[0], threads=t,
                     constant_time=MODES[mode]), threads=t, mode=mode)
    run.bar.set_postfix_str("encrypting the clients' inputs (untimed)")
    blobs = [fc.encrypt(pk, row, threads=cores, constant_time=False).to_bytes() for row in data]
    agg = None
    for t in counts:
        agg = run.time("aggregate", "fbh", n, lambda t=t: fc.aggregate(blobs, threads=t), threads=t)
    table = run.time("table build", "fbh", 0, lambda: fc.DecodingTable(bound, threads=threads), threads=threads)
    _time_decrypts(run, "fbh", counts, modes, sums, lambda t, ct: fc.decrypt(
        sk, agg, bound=bound, table=table, threads=t, constant_time=ct))
    return len(blobs[0]) / n


def _time_decrypts(run: _Run, impl: str, counts: Sequence[int], modes: Sequence[str], sums: np.ndarray,
                   decrypt: Callable[[int, bool], Any]) -> None:
    """Times decrypt(threads, constant_time) for every thread count and mode; checks the sums."""
    for t in counts:
        for mode in modes:
            out = run.time("decrypt", impl, len(sums), lambda t=t, mode=mode: decrypt(t, MODES[mode]),
                           threads=t, mode=mode)
            _check("decrypt", f"{impl} {mode} threads={t}", out, sums)


def _bench_packed(run: _Run, data: np.ndarray, sums: np.ndarray, threads: int, modes: Sequence[str],
                  bound: int, k: int) -> float:
    """Times the packed v3 format (k slots per block, one proof per blob); returns bytes/value.

    Its aggregate row parses the C clients' blobs, verifies every proof against the sender's
    context and sums: what the server does before it may use an update.
    """
    import fbh.crypto as fc  # noqa: PLC0415

    n = data.shape[1]
    ks = fc.KeySet.generate(k)
    pub = ks.public
    contexts = [f"bench|round 1|client {c}".encode() for c in range(data.shape[0])]
    for mode in modes:  # builds the key set's interleaved tables outside the timed region
        fc.encrypt_packed(pub, data[0, :2], context=contexts[0], threads=1, constant_time=MODES[mode])
    cores = available_cpus()
    counts = [threads] + ([cores] if cores > threads else [])
    for t in counts:
        for mode in modes:
            run.time("encrypt", "packed", n, lambda t=t, mode=mode: fc.encrypt_packed(
                pub, data[0], context=contexts[0], threads=t, constant_time=MODES[mode]), threads=t, mode=mode)
    run.bar.set_postfix_str("encrypting the clients' packed inputs (untimed)")
    blobs = [fc.encrypt_packed(pub, row, context=ctx, threads=cores, constant_time=False).to_bytes()
             for row, ctx in zip(data, contexts, strict=True)]
    agg = None
    for t in counts:
        agg = run.time("aggregate", "packed", n, lambda t=t: fc.aggregate_packed(
            blobs, contexts=contexts, threads=t), threads=t)
    table = fc.DecodingTable.cached(bound)
    _time_decrypts(run, "packed", counts, modes, sums, lambda t, ct: fc.decrypt_packed(
        ks, agg, bound=bound, table=table, threads=t, constant_time=ct))
    return len(blobs[0]) / n


def _baseline_inputs(data: np.ndarray, sk: Any, base: CoincurveElGamal) -> list[bytes]:
    """The clients' baseline wire blobs: fbh ciphertexts re-serialized as compressed pairs."""
    if sk is None:
        return [base.encrypt(row.tolist()) for row in data]
    import fbh.crypto as fc  # noqa: PLC0415

    return [b"".join(c1.ljust(33, b"\0") + c2.ljust(33, b"\0") for c1, c2 in
                     fc.encrypt(sk.public_key, row, constant_time=False).to_sec1()) for row in data]


def _bench_baseline(run: _Run, base: CoincurveElGamal, blobs: list[bytes], data: np.ndarray, sums: np.ndarray,
                    bound: int) -> None:
    """Times the coincurve baseline; ``blobs`` are the clients' inputs in its wire format."""
    n = data.shape[1]
    sampled = n < run.n_total
    run.time("encrypt", "baseline", n, lambda: base.encrypt(data[0].tolist()), sampled=sampled)
    agg = run.time("aggregate", "baseline", n, lambda: base.aggregate(blobs), sampled=sampled)
    table = run.time("table build", "baseline", 0, lambda: BaselineTable(bound))
    out = run.time("decrypt", "baseline", n, lambda: base.decrypt(agg, table), sampled=sampled)
    _check("decrypt", "baseline", out, sums)


def _best_of_repeats(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Keeps the fastest of rows timed more than once (same op, impl, mode and threads)."""
    best: dict[tuple, dict[str, Any]] = {}
    for r in rows:
        key = (r["op"], r["impl"], r["mode"], r["threads"])
        if key not in best or r["seconds"] < best[key]["seconds"]:
            best[key] = r
    return list(best.values())


def _bench_context(run: _Run, impl: str, data: np.ndarray, sums: np.ndarray, sampled: bool) -> float:
    """Times a context scheme ("paillier" or "tenseal"); returns its wire bytes per value."""
    n = data.shape[1]
    run.bar.set_postfix_str(f"{impl} key generation (untimed)")
    ctx = PaillierContext() if impl == "paillier" else TenSEALContext()
    first = run.time("encrypt", impl, n, lambda: ctx.encrypt(data[0].tolist()), sampled=sampled)
    if impl == "paillier":
        # Shift client 0's ciphertexts by the plaintext differences: skips the re-randomization
        # (a full encryption each) that the aggregation cost does not depend on.
        others = [ctx.shift(first, (row - data[0]).tolist()) for row in data[1:]]
    else:
        others = [ctx.encrypt(row.tolist()) for row in data[1:]]
    agg = run.time("aggregate", impl, n, lambda: ctx.aggregate([first, *others]), sampled=sampled)
    out = run.time("decrypt", impl, n, lambda: ctx.decrypt(agg), sampled=sampled)
    _check("decrypt", impl, out, sums)
    return sum(len(b) for b in first) / n


def run_crypto_bench(n: int = 100_000, threads: int = 1, json_path: str | Path | None = None,
                     modes: Sequence[str] = ("fast", "ct"), *, clients: int = 10, bound: int = 2**20,
                     baseline_n: int = 5_000, context_n: int = 20, seed: int = 0, progress: bool = True,
                     include_fbh: bool = True, include_context: bool = True, print_table: bool = True,
                     include_packed: bool = True, k: int | None = None) -> dict[str, Any]:
    """Runs the crypto benchmark and returns its report (the JSON document).

    Args:
        n: Values per client (N).
        threads: Threads for the main fbh rows; fbh on all cores is added when more exist.
        json_path: Where to write the report as JSON; nothing is written when None.
        modes: fbh modes to time: "fast" (constant_time=False) and/or "ct".
        clients: Clients (C) whose ciphertexts are aggregated.
        bound: Decryption bound; must cover the largest |sum| (clients * 2^15).
        baseline_n: The coincurve baseline is timed on the first min(n, baseline_n) values.
        context_n: Paillier is timed on the first min(n, context_n) values (TenSEAL on all n).
        seed: Seed of the plaintext generator.
        progress: Show a tqdm progress bar on stderr.
        include_fbh: Time fbh (False runs the baselines only, e.g. without the extension).
        include_context: Time python-paillier and TenSEAL BFV where installed.
        print_table: Print the table to stdout.
        include_packed: Also time the packed v3 format (with include_fbh).
        k: Slots per packed block (default: fbh.crypto.DEFAULT_K).

    Returns:
        ``{"meta": ..., "rows": [...], "bytes_per_value": ..., "targets": ..., "notes": [...]}``;
        each row has op, impl, mode, threads, n, seconds, cpu_seconds, us_per_value,
        values_per_s, sampled, speedup_vs_baseline and scaling_vs_threads.

    Raises:
        ValueError: If a mode is unknown or the bound cannot hold the sums.
        RuntimeError: If any implementation decrypts a wrong sum.
    """
    if unknown := set(modes) - set(MODES):
        msg = f"unknown modes {sorted(unknown)}; choose from {sorted(MODES)}"
        raise ValueError(msg)
    if clients * 2**VALUE_BITS > bound:
        msg = f"bound {bound} cannot hold the sum of {clients} values of up to 2^{VALUE_BITS}"
        raise ValueError(msg)
    if k is None and include_fbh and include_packed:
        from fbh.crypto import DEFAULT_K  # noqa: PLC0415

        k = DEFAULT_K
    rng = np.random.default_rng(seed)
    data = rng.integers(-(2**VALUE_BITS), 2**VALUE_BITS, size=(clients, n), dtype=np.int64)
    sums = data.sum(axis=0)
    nb, nc = min(n, baseline_n), min(n, context_n)
    contexts = [c for c in ("paillier", "tenseal") if include_context and available({"paillier": "phe"}.get(c, c))]
    cores = available_cpus()
    fbh_stages = (1 + 2 * len(modes)) * (1 + (cores > threads)) + 1
    run = _Run(n, 4 + (fbh_stages * (1 + include_packed) + 4) * include_fbh + 3 * len(contexts), progress)
    bytes_per_value: dict[str, float | None] = {"fbh": None, "packed": None, "baseline": PAIR_BYTES,
                                                "paillier": None, "tenseal": None}
    try:
        sk = _fbh_key() if include_fbh else None
        base = CoincurveElGamal(None if sk is None else sk.to_bytes())  # same key: reads fbh's ciphertexts
        run.bar.set_postfix_str("baseline inputs (untimed)")
        base_blobs = _baseline_inputs(data[:, :nb], sk, base)
        # The baseline runs before and after fbh and keeps its faster time, so that a load
        # change on a shared machine cannot inflate fbh's speedup.
        _bench_baseline(run, base, base_blobs, data[:, :nb], sums[:nb], bound)
        if include_fbh:
            bytes_per_value["fbh"] = _bench_fbh(run, sk, data, sums, threads, modes, bound)
            if include_packed:
                bytes_per_value["packed"] = _bench_packed(run, data, sums, threads, modes, bound, k)
            _bench_baseline(run, base, base_blobs, data[:, :nb], sums[:nb], bound)
            run.rows = _best_of_repeats(run.rows)
        for impl in contexts:
            m = nc if impl == "paillier" else n
            bytes_per_value[impl] = _bench_context(run, impl, data[:, :m], sums[:m], sampled=m < n)
    finally:
        run.bar.close()
    notes = _notes(run.rows, include_fbh, include_context, contexts)
    report = {
        "meta": _meta(n, nb, nc, threads, clients, bound, cores, seed),
        "rows": _add_ratios(run.rows, threads),
        "bytes_per_value": bytes_per_value,
        "notes": notes,
    }
    report["targets"] = summarize_targets(report)
    if print_table:
        print(format_table(report))
    if json_path is not None:
        Path(json_path).write_text(json.dumps(report, indent=1) + "\n")
    return report


def _notes(rows: list[dict[str, Any]], include_fbh: bool, include_context: bool, contexts: list[str]) -> list[str]:
    """Footnotes of the table: what was sampled or skipped, and how to read the aggregate row."""
    notes = []
    sampled = {IMPL_LABELS[r["impl"]]: r["n"] for r in rows if r["sampled"]}
    if sampled:
        where = ", ".join(f"{k}: first {v}" for k, v in sampled.items())
        notes.append(f"* timed on a prefix of the n values and reported per value ({where})")
    if not include_context:
        notes.append("context schemes (python-paillier, TenSEAL BFV) disabled")
    notes += [f"{name}: not installed, skipped" for name, impl in
              (("python-paillier", "paillier"), ("TenSEAL BFV", "tenseal")) if include_context and impl not in contexts]
    notes.append("times are the best of >= 2 runs" + ("; the coincurve baseline runs before and after fbh"
                                                      if include_fbh else ""))
    notes.append("aggregate: per aggregated value, i.e. per C ciphertexts parsed from wire bytes and summed")
    notes.append("packed (v3): k values per block under one nonce, one proof per blob; its aggregate "
                 "also verifies every client's proofs")
    return notes


def _fbh_key() -> Any:
    import fbh.crypto as fc  # noqa: PLC0415

    return fc.PrivateKey.generate()


def _add_ratios(rows: list[dict[str, Any]], threads: int) -> list[dict[str, Any]]:
    """Adds speedup over the baseline row and scaling over the ``threads`` row of the same op/mode."""
    base = {r["op"]: r["seconds"] / max(r["n"], 1) for r in rows if r["impl"] == "baseline"}
    # Process CPU time is not inflated by other jobs on a shared machine (wall time is): the
    # one-thread rows also get their speedup measured in CPU time.
    base_cpu = {r["op"]: r["cpu_seconds"] / max(r["n"], 1) for r in rows if r["impl"] == "baseline"}
    ref = {(r["impl"], r["op"], r["mode"]): r["seconds"] / max(r["n"], 1)
           for r in rows if r["impl"] in ("fbh", "packed") and r["threads"] == threads}
    for r in rows:
        per = r["seconds"] / max(r["n"], 1)
        r["speedup_vs_baseline"] = base[r["op"]] / per if r["op"] in base and per > 0 else None
        cpu = r["cpu_seconds"] / max(r["n"], 1)
        one = r["threads"] == 1 and r["op"] in base_cpu and cpu > 0
        r["cpu_speedup_vs_baseline"] = base_cpu[r["op"]] / cpu if one else None
        key = (r["impl"], r["op"], r["mode"])
        scales = r["impl"] in ("fbh", "packed") and r["threads"] != threads and key in ref
        r["scaling_vs_threads"] = ref[key] / per if scales else None
    return rows


def _meta(n: int, nb: int, nc: int, threads: int, clients: int, bound: int, cores: int, seed: int) -> dict:
    versions = {}
    for pkg in ("fbh", "coincurve", "numpy", "phe", "tenseal"):
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    return {"n": n, "baseline_n": nb, "context_n": nc, "threads": threads, "clients": clients,
            "bound": bound, "value_range": [-(2**VALUE_BITS), 2**VALUE_BITS], "cores": cores, "seed": seed,
            "python": platform.python_version(), "machine": platform.machine(),
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "versions": versions}


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: ``fbh bench crypto [--n N] [--threads T] [--json PATH]``."""
    parser = argparse.ArgumentParser(prog="fbh bench crypto", description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000, help="values per client (default 100000)")
    parser.add_argument("--threads", type=int, default=1, help="threads for the main fbh rows (default 1)")
    parser.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write the report here")
    parser.add_argument("--modes", default="fast,ct", help="comma-separated fbh modes (default fast,ct)")
    parser.add_argument("--baseline-n", type=int, default=5_000, help="values timed for the baseline")
    parser.add_argument("--context-n", type=int, default=20, help="values timed for paillier (0 skips)")
    parser.add_argument("--k", type=int, default=None, help="slots per packed block (default: DEFAULT_K)")
    parser.add_argument("--no-packed", action="store_true", help="skip the packed v3 rows")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = parser.parse_args(argv)
    if args.n < 1 or args.threads < 1:
        parser.error("--n and --threads must be >= 1")
    run_crypto_bench(args.n, args.threads, args.json, tuple(m for m in args.modes.split(",") if m),
                     baseline_n=args.baseline_n, context_n=max(args.context_n, 1), seed=args.seed,
                     progress=not args.no_progress, include_context=args.context_n > 0,
                     include_packed=not args.no_packed, k=args.k)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
