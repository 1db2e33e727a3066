"""What ``fbh profile`` concludes from its measurements: knees, recommendations, a table, a plot.

The secure stages of one round are predicted from the measured rates the way the
protocol spends them (``fbh.protocol``): every hospital encrypts its ``P`` values,
the server validates (parses) and adds the ``C x P`` ciphertexts, the KGC parses and
adds them again before decrypting the ``P`` sums. The simulation runs all hospitals on
this one machine, one after another; in a deployment each encrypts on its own.
"""

from __future__ import annotations

from typing import Any

__all__ = ["best_threads", "format_report", "knee", "plot_curves", "predict_round", "recommend"]

#: A thread count is "enough" once it reaches this share of the best rate on the curve.
KNEE_SHARE = 0.9
#: Among thread counts, the smallest whose predicted secure time is within this of the best.
THREADS_SLACK = 1.05
#: SHA-256 passes over each blob per stage, counted in fbh.protocol: the hospital hashes to
#: sign and to commit; the server for the commitment check, the signature, the replay check
#: and its parse cache, then twice more while aggregating; the KGC once to check commitments.
HASHES_PER_BLOB = {"encrypt": 2, "verify": 4, "aggregate": 2, "decrypt": 1}


def knee(curve: dict[int, float], share: float = KNEE_SHARE) -> int:
    """The smallest thread count whose rate reaches ``share`` of the curve's best rate.

    Beyond it, more threads buy less than ``1 - share`` of the throughput (or lose some,
    when threads outnumber the cores that really run them).
    """
    top = max(curve.values())
    return min(t for t, rate in curve.items() if rate >= share * top)


def predict_round(crypto: dict[str, Any], threads: int, *, params: int, clients: int,
                  constant_time: bool, train_images: int, images_per_s: float) -> dict[str, float]:
    """Expected seconds per stage of one encrypted round on this machine.

    Crypto and hashing only: signing, chain calls and Python overheads are left out, so
    this is a lower bound (``fbh bench round`` measures a real round).

    Args:
        crypto: ``measure_crypto``'s result: values/s per op and thread count, blob bytes
            per value and SHA-256 bytes/s.
        threads: the thread count to predict for (must have been measured).
        params: ``P``, values each hospital encrypts (the model's parameter count).
        clients: ``C``, hospitals.
        constant_time: constant-time (True) or fast-mode crypto.
        train_images: images trained per round (all hospitals, all local epochs).
        images_per_s: the training rate.
    """
    mode = "ct" if constant_time else "fast"
    curves = crypto["curves"]

    def secs(op: str, items: float) -> float:
        return items / curves[op][threads]

    cp = clients * params
    hashing = {stage: k * cp * crypto["bytes_per_value"] / crypto["sha256_bytes_per_s"]
               for stage, k in HASHES_PER_BLOB.items()}
    encrypt = secs(f"encrypt_{mode}", cp) + hashing["encrypt"]
    verify = secs("validate", cp) + hashing["verify"]
    aggregate = secs("aggregate", cp) + hashing["aggregate"]
    # The KGC re-derives the sum from the wire bytes (parse, add), then decrypts P values.
    decrypt = secs("validate", cp) + secs("aggregate", cp) + secs(f"decrypt_{mode}", params) + hashing["decrypt"]
    stages = {"train": train_images / images_per_s, "encrypt": encrypt, "encrypt_per_hospital": encrypt / clients,
              "verify": verify, "aggregate": aggregate, "decrypt": decrypt}
    stages["secure_total"] = encrypt + verify + aggregate + decrypt
    stages["secure_over_train"] = stages["secure_total"] / stages["train"]
    return stages


def best_threads(counts: list[int], predict) -> int:
    """The fewest threads whose predicted secure time is within :data:`THREADS_SLACK` of the best."""
    totals = {t: predict(t)["secure_total"] for t in counts}
    best = min(totals.values())
    return min(t for t in counts if totals[t] <= THREADS_SLACK * best)


def recommend(crypto: dict[str, Any], train: dict[str, Any], *, params: int, clients: int,
              train_images: int, batch_size: int) -> dict[str, Any]:
    """Threads, ``client_batch``, the cost of constant-time mode and the predicted round.

    ``client_batch`` is the fastest measured at ``batch_size`` (the run's batch size: it is
    a learning hyper-parameter, so the profile reports other sizes but never changes it).
    """
    curves = crypto["curves"]
    rows = [r for r in train["rows"] if r["batch_size"] == batch_size] or train["rows"]
    fastest = max(rows, key=lambda r: r["images_per_s"])
    client_batch = fastest["client_batch"]
    all_at_once = client_batch >= train["clients"] > 1  # then all of the run's clients too
    if all_at_once:
        client_batch = max(clients, client_batch)
    rate = fastest["images_per_s"]

    def predict(t: int, constant_time: bool = True) -> dict[str, float]:
        return predict_round(crypto, t, params=params, clients=clients, constant_time=constant_time,
                             train_images=train_images, images_per_s=rate)

    threads = best_threads(sorted(next(iter(curves.values()))), predict)
    ct, fast = predict(threads, True), predict(threads, False)
    return {
        "threads": threads,
        "client_batch": client_batch,
        "client_batch_all": all_at_once,
        "knees": {op: knee(c) for op, c in curves.items()},
        "constant_time_cost": {
            "encrypt": curves["encrypt_fast"][threads] / curves["encrypt_ct"][threads],
            "decrypt": curves["decrypt_fast"][threads] / curves["decrypt_ct"][threads],
            "round_seconds": ct["secure_total"] - fast["secure_total"],
        },
        "round": {"params": params, "clients": clients, "train_images": train_images,
                  "batch_size": batch_size, "images_per_s": rate, "constant_time": ct, "fast": fast},
    }


def _fmt_bytes(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**30:.1f} GiB"


def _load_warning(machine: dict[str, Any]) -> list[str]:
    load = machine.get("load_average")
    if load is None or load < 0.5 * machine["available_cpus"]:
        return []
    return [f"NOTE       busy machine: load average {load:.1f} on {machine['available_cpus']} CPUs at the start; "
            "thread scaling below is pessimistic"]


def _gpu_lines(gpu: dict[str, Any] | None) -> list[str]:
    """Packed crypto on the GPU against the CPU core, and the crossover ``auto`` will use."""
    if not gpu:
        return []
    if not gpu["available"]:
        return ["", f"GPU crypto: not measured ({gpu['reason']})"]
    lines = ["", f"GPU crypto ({gpu['device']}), values/s, fast mode; CPU with {gpu['threads']} threads",
             f"{'op':<11}{'n':>9}{'cpu':>13}{'gpu':>13}{'gpu/cpu':>9}"]
    for r in gpu["rows"]:
        lines.append(f"{r['op']:<11}{r['n']:>9,}{r['n'] / r['cpu_s']:>13,.0f}{r['n'] / r['gpu_s']:>13,.0f}"
                     f"{r['cpu_s'] / r['gpu_s']:>8.1f}x")
    n = gpu["crossover_values"]
    lines.append(f"crossover: the GPU from {n:,} values (auto)" if n else "crossover: the CPU stays faster")
    return lines


def format_report(profile: dict[str, Any]) -> str:
    """The table ``fbh profile`` prints: the machine, the curves, what it recommends."""
    m, crypto, train, rec = profile["machine"], profile["crypto"], profile["train"], profile["recommend"]
    quota = m["cgroup_cpu_quota"]
    devices = ", ".join(f"{d['platform']}:{d['kind']}" for d in m["jax_devices"])
    gpus = "; ".join(f"{g['name']} ({_fmt_bytes(g['memory_bytes'])}, driver {g['driver']})" for g in m["nvml"])
    lines = [
        f"CPU        {m['cpu_model']} ({m['machine']})",
        f"cores      {m['available_cpus']} available = min(affinity {m['affinity_cpus']}, cgroup quota "
        f"{'none' if quota is None else f'{quota:g}'}); {m['physical_cores']} physical; host has {m['os_cpus']}",
        f"SIMD       {' '.join(m['simd']) or '-'}",
        f"memory     {_fmt_bytes(m['memory']['total'])} total, {_fmt_bytes(m['memory']['available'])} available, "
        f"cgroup limit {_fmt_bytes(m['memory']['cgroup_limit'])}",
        f"JAX        {m['jax_backend']}: {devices}" + (f"; NVML: {gpus}" if gpus else ""),
        "versions   " + " ".join(f"{k} {v}" for k, v in m["versions"].items() if v),
        *_load_warning(m),
        "",
        f"crypto, values/s (n = {crypto['n']:,} per run; aggregate: ciphertexts summed, {crypto['clients']} clients)",
    ]
    counts = sorted(next(iter(crypto["curves"].values())))
    lines.append(f"{'op':<14}" + "".join(f"{f'{t} thr':>11}" for t in counts) + f"{'knee':>7}")
    for op, curve in crypto["curves"].items():
        lines.append(f"{op:<14}" + "".join(f"{curve[t]:>11,.0f}" for t in counts) + f"{rec['knees'][op]:>7}")
    table = profile["table"]
    lines.append(f"SHA-256 {crypto['sha256_bytes_per_s'] / 1e6:,.0f} MB/s; {crypto['bytes_per_value']:.0f} bytes "
                 "per ciphertext on the wire")
    lines += [f"decoding table for bound 2^{table['bound'].bit_length() - 1}: {table['seconds']:.2f} s, "
              f"{table['bytes'] / 2**20:.0f} MiB (built once per run)", "",
              f"training, images/s ({train['model']}, {train['clients']} clients, {train['backend']})",
              f"{'client_batch':>12}{'batch':>7}{'images/s':>11}{'compile s':>11}"]
    for r in train["rows"]:
        lines.append(f"{r['client_batch']:>12}{r['batch_size']:>7}{r['images_per_s']:>11,.0f}{r['compile_seconds']:>11.1f}")
    device = profile.get("device_memory_peak_bytes")
    lines.append(f"peak memory {profile['memory_peak_bytes'] / 2**20:,.0f} MiB (process high-water mark)"
                 + (f"; accelerator {device / 2**20:,.0f} MiB" if device else ""))
    lines += _gpu_lines(profile.get("gpu_crypto"))
    rnd, cost = rec["round"], rec["constant_time_cost"]
    lines += ["", "recommended",
              f"  threads       {rec['threads']}   (fewest within {THREADS_SLACK - 1:.0%} of the fastest predicted"
              " secure round)",
              f"  client_batch  {rec['client_batch']}   (fastest at batch {rnd['batch_size']}; "
              f"{'all clients in one vmap' if rec['client_batch'] >= rnd['clients'] else 'clients per vmap chunk'})",
              f"  constant-time mode costs {cost['encrypt']:.2f}x on encrypt, {cost['decrypt']:.2f}x on decrypt, "
              f"+{cost['round_seconds']:.1f} s per round",
              "",
              f"expected seconds per round: {rnd['clients']} hospitals, P = {rnd['params']:,} values, "
              f"{rnd['train_images']:,} images at {rnd['images_per_s']:,.0f}/s, {rec['threads']} threads",
              f"{'mode':<15}{'train':>8}{'encrypt':>9}{'verify':>8}{'aggr.':>8}{'decrypt':>9}{'secure':>8}"
              f"{'sec/train':>10}{'enc/hosp.':>10}"]
    for name in ("constant_time", "fast"):
        s = rnd[name]
        lines.append(f"{name:<15}{s['train']:>8.2f}{s['encrypt']:>9.1f}{s['verify']:>8.2f}{s['aggregate']:>8.2f}"
                     f"{s['decrypt']:>9.2f}{s['secure_total']:>8.1f}{s['secure_over_train']:>9.0%}"
                     f"{s['encrypt_per_hospital']:>10.2f}")
    lines.append("(crypto + SHA-256 of the blobs, simulated on this machine: a lower bound; signatures, chain "
                 "and Python overheads\n excluded, `fbh bench round` measures them; enc/hosp. = one hospital "
                 "encrypting on its own machine)")
    return "\n".join(lines)


def plot_curves(profile: dict[str, Any], path) -> None:
    """A PNG: crypto speed-up per thread count (with the ideal line) and training images/s."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    crypto, train = profile["crypto"], profile["train"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    counts = sorted(next(iter(crypto["curves"].values())))
    left.plot(counts, counts, "k:", label="ideal")
    for op, curve in crypto["curves"].items():
        left.plot(counts, [curve[t] / curve[counts[0]] for t in counts], "o-", label=f"{op} (knee {knee(curve)})")
    left.set(xlabel="threads", ylabel=f"speed-up over {counts[0]} thread", title="crypto scaling", xticks=counts)
    left.legend(fontsize=8)
    sizes = sorted({r["batch_size"] for r in train["rows"]})
    for bs in sizes:
        rows = sorted((r for r in train["rows"] if r["batch_size"] == bs), key=lambda r: r["client_batch"])
        right.plot([r["client_batch"] for r in rows], [r["images_per_s"] for r in rows], "o-", label=f"batch {bs}")
    right.set(xlabel="client_batch (clients per vmap)", ylabel="images/s",
              title=f"training ({train['model']}, {train['clients']} clients, {train['backend']})")
    right.set_xticks(sorted({r["client_batch"] for r in train["rows"]}))
    right.legend(fontsize=8)
    fig.suptitle(f"fbh profile: {profile['machine']['cpu_model']}, {profile['machine']['available_cpus']} CPUs")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
