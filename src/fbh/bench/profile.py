"""``fbh profile``: what this machine is, how fbh scales on it, and the settings it recommends.

Detects the CPU, the CPUs this process may use (affinity, cgroup quota), SIMD, memory,
accelerators and library versions; then times crypto per thread count, the decoding
table and training per ``client_batch`` and batch size (about a minute on 2 cores;
``--quick``: seconds, for tests). Prints a table, writes ``profile.json`` and
``profile.png`` and keeps a copy in the cache, which ``fbh run --profile auto`` reads.

Exit codes: 0 done, 2 bad arguments or an unreadable profile.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm import tqdm

from fbh.bench import profile_measure as pm
from fbh.bench.profile_gpu import measure_gpu_crypto
from fbh.bench.profile_machine import describe_machine, fingerprint
from fbh.bench.profile_report import format_report, plot_curves, recommend

__all__ = ["QUICK", "STANDARD", "apply_profile", "cached_profile_path", "load_profile", "main", "run_profile"]

FORMAT = 1  # profile.json layout version

#: The default profile: the paper's CNN, crypto runs of ~0.25 s, the run's bound.
STANDARD = {"model": "cnn", "target": 0.25, "bound": 2**20, "train_clients": 10, "batches_per_client": 2,
            "batch_sizes": (10, 32)}
#: ``--quick``: a small ANN and tiny crypto runs (tests; the numbers are rough).
QUICK = {"model": "ann", "target": 0.02, "bound": 2**12, "train_clients": 2, "batches_per_client": 2,
         "batch_sizes": (4,)}


def _client_batches(clients: int) -> list[int]:
    """1, 2 and all clients: the chunked CPU default, a middle point, one ``vmap`` (GPU default)."""
    return sorted({1, min(2, clients), clients})


def _train_params(model: str) -> int:
    from fbh.train import FederatedTrainer, ravel

    return int(ravel(FederatedTrainer(model).init()).size)


def run_profile(*, quick: bool = False, model: str | None = None, clients: int = 10, train_images: int = 55_000,
                batch_size: int = 10, local_epochs: int = 1, params: int | None = None,
                max_threads: int | None = None, progress: bool = True) -> dict[str, Any]:
    """Detects the machine, measures, and recommends; returns the profile (the JSON document).

    Args:
        quick: the seconds-long ``QUICK`` setting instead of ``STANDARD``.
        model: "cnn" or "ann", trained and predicted for (default: the setting's).
        clients: hospitals of the round to predict (``C``).
        train_images: images trained per round by all hospitals together, per local epoch.
        batch_size: the run's batch size (``client_batch`` is chosen for it).
        local_epochs: local epochs per round.
        params: ``P``, values per update to predict for (default: the model's parameter count).
        max_threads: the most crypto threads to time (default: the CPUs available).
        progress: show a progress bar on stderr.
    """
    setting = dict(QUICK if quick else STANDARD)
    setting["model"] = model or setting["model"]
    if quick:
        batch_size = setting["batch_sizes"][0]
    other_sizes = [bs for bs in setting["batch_sizes"] if bs != batch_size]
    machine = describe_machine()
    threads = pm.thread_counts(max_threads or machine["available_cpus"])
    train_clients = setting["train_clients"]
    client_batches = _client_batches(train_clients)
    points = len(pm.CRYPTO_OPS) * len(threads) + 1 + len(client_batches) + len(other_sizes)
    bar = tqdm(total=points, desc="fbh profile", unit="step", disable=not progress, leave=False)
    peaks: dict[str, int] = {}

    def step(label: str) -> None:
        bar.set_postfix_str(label)
        bar.update()

    t0 = time.perf_counter()
    try:
        crypto = pm.measure_crypto(threads, target=setting["target"], bound=setting["bound"], step=step)
        peaks["crypto"] = pm.peak_rss_bytes()
        table = pm.measure_table(setting["bound"], threads[-1], setting["target"])
        step("decoding table")
        # Every client_batch at the run's batch size; the fastest of them at the other sizes.
        kw = {"batches_per_client": setting["batches_per_client"], "target": setting["target"], "step": step}
        rows = pm.measure_train(setting["model"], train_clients, [(cb, batch_size) for cb in client_batches], **kw)
        fastest = max(rows, key=lambda r: r["images_per_s"])["client_batch"]
        rows += pm.measure_train(setting["model"], train_clients, [(fastest, bs) for bs in other_sizes], **kw)
        train = {"model": setting["model"], "clients": train_clients, "backend": machine["jax_backend"],
                 "rows": rows}
        peaks["train"] = pm.peak_rss_bytes()
        device_peak = pm.device_peak_bytes()
        gpu_crypto = measure_gpu_crypto(threads[-1], target=setting["target"])
    finally:
        bar.close()
    params = params or _train_params(setting["model"])
    rec = recommend(crypto, train, params=params, clients=clients, train_images=train_images * local_epochs,
                    batch_size=batch_size)
    return {"format": FORMAT, "quick": quick, "setting": {**setting, "threads": threads},
            "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "seconds": time.perf_counter() - t0, "machine": machine, "fingerprint": fingerprint(machine),
            "crypto": crypto, "table": table, "train": train, "memory_peak_bytes": max(peaks.values()),
            "memory_peaks": peaks, "device_memory_peak_bytes": device_peak, "recommend": rec,
            "gpu_crypto": gpu_crypto}


def cached_profile_path() -> Path:
    """Where ``fbh profile`` keeps its last profile for ``--profile auto`` (the data cache)."""
    from fbh.data.locate import default_cache_dir

    return default_cache_dir() / "profile.json"


def write_profile(profile: dict[str, Any], out: Path, *, plot: bool = True) -> list[Path]:
    """Writes ``profile.json`` (and ``profile.png``) into ``out``, and the cache copy."""
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(profile, indent=1) + "\n"
    written = [out / "profile.json"]
    written[0].write_text(text)
    if plot:
        plot_curves(profile, out / "profile.png")
        written.append(out / "profile.png")
    cache = cached_profile_path()
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(text)
    except OSError:  # a read-only cache only loses --profile auto
        pass
    return written


def load_profile(path: str | Path) -> dict[str, Any]:
    """Reads a profile written by ``fbh profile``.

    Raises:
        FileNotFoundError: If there is no such file.
        ValueError: If the file is not a profile (or one of another format).
    """
    path = Path(path)
    if not path.is_file():
        msg = f"profile not found: {path} (write one with `fbh profile`)"
        raise FileNotFoundError(msg)
    try:
        profile = json.loads(path.read_text())
        rec = profile["recommend"]
        ok = profile.get("format") == FORMAT and int(rec["threads"]) >= 1 and int(rec["client_batch"]) >= 1
    except (ValueError, KeyError, TypeError) as exc:
        msg = f"{path} is not a profile written by `fbh profile` ({exc.__class__.__name__}: {exc})"
        raise ValueError(msg) from None
    if not ok:
        msg = f"{path}: unsupported profile (format {profile.get('format')!r}, expected {FORMAT}); re-run `fbh profile`"
        raise ValueError(msg)
    return profile


def resolve_profile(spec: str, *, progress: bool = True) -> tuple[dict[str, Any], str]:
    """``PATH`` or ``auto``: the cached profile if it describes this machine, else a fresh quick one.

    Returns:
        (the profile, a one-line note on where it came from).
    """
    if spec != "auto":
        return load_profile(spec), f"profile {spec}"
    here = fingerprint(describe_machine())
    cache = cached_profile_path()
    if cache.is_file():
        try:
            profile = load_profile(cache)
        except ValueError:
            profile = None
        if profile is not None and profile.get("fingerprint") == here:
            return profile, f"profile {cache}"
    profile = run_profile(quick=True, progress=progress)
    write_profile(profile, cache.parent, plot=False)
    return profile, f"a quick profile of this machine (saved to {cache}; `fbh profile` measures properly)"


def apply_profile(values: dict[str, Any], profile: dict[str, Any]) -> dict[str, Any]:
    """Fills ``threads`` and ``client_batch`` of RunConfig values that the user left unset."""
    rec = profile["recommend"]
    out = dict(values)
    if out.get("threads") is None:
        out["threads"] = int(rec["threads"])
    if out.get("client_batch") is None:
        # "All clients in one vmap" follows the run's client count, not the profiled one.
        out["client_batch"] = int(out.get("clients") or 10) if rec.get("client_batch_all") else int(rec["client_batch"])
    return out


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fbh profile", description="What this machine is, how fbh scales on it, "
                                "and the settings it recommends (threads, client_batch).")
    p.add_argument("--quick", action="store_true", help="seconds instead of a minute (rough numbers; tests)")
    p.add_argument("--model", choices=["cnn", "ann"], default=None,
                   help="model to train and predict for (default cnn; --quick: ann)")
    p.add_argument("--clients", type=int, default=10, help="hospitals of the round to predict (default 10)")
    p.add_argument("--train-images", type=int, default=55_000, dest="train_images",
                   help="images per round over all hospitals (default 55000, MNIST less validation)")
    p.add_argument("--batch-size", type=int, default=10, dest="batch_size", help="the run's batch size (default 10)")
    p.add_argument("--local-epochs", type=int, default=1, dest="local_epochs")
    p.add_argument("--params", type=int, default=None,
                   help="values per update to predict for (default: the model's parameter count)")
    p.add_argument("--max-threads", type=int, default=None, dest="max_threads",
                   help="most crypto threads to time (default: the CPUs available)")
    p.add_argument("--out", default=".", help="folder for profile.json and profile.png (default: .)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    args = p.parse_args(argv)
    for name in ("clients", "train_images", "batch_size", "local_epochs", "params", "max_threads"):
        value = getattr(args, name)
        if value is not None and value < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1, got {value}")
    out = Path(args.out)
    try:  # fail before a minute of measuring, not after
        out.mkdir(parents=True, exist_ok=True)
        (out / "profile.json").touch()
    except OSError as exc:
        print(f"fbh profile: error: cannot write to {out}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    profile = run_profile(quick=args.quick, model=args.model, clients=args.clients, train_images=args.train_images,
                          batch_size=args.batch_size, local_epochs=args.local_epochs, params=args.params,
                          max_threads=args.max_threads, progress=not args.no_progress)
    print(format_report(profile))
    written = write_profile(profile, out)
    print(f"\nwrote {', '.join(map(str, written))} in {profile['seconds']:.0f} s; "
          f"apply with `fbh run --profile {written[0]}` (or --profile auto)")
    return 0
