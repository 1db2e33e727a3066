"""``fbh``: the command line.  Logic lives in importable modules; this only parses."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from fbh.protocol.config import PRESETS

    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="start from a preset ('paper': EMNIST digits, 10 clients, batch 10, 70 rounds)")
    p.add_argument("--dataset", help="mnist, emnist-digits, emnist-letters, emnist-balanced, ...")
    p.add_argument("--model", choices=["cnn", "ann"])
    p.add_argument("--clients", type=int)
    p.add_argument("--partition", choices=["iid", "dirichlet", "shards"])
    p.add_argument("--alpha", type=float, help="Dirichlet concentration for --partition dirichlet")
    p.add_argument("--rounds", type=int)
    p.add_argument("--local-epochs", type=int, dest="local_epochs")
    p.add_argument("--lr", type=float)
    p.add_argument("--momentum", type=float)
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--no-encrypt", action="store_false", dest="encrypt", default=None,
                   help="plaintext FedAvg (no crypto, no chain): the comparison baseline")
    p.add_argument("--chain", help="embedded (default), anvil, none, or a JSON-RPC URL")
    p.add_argument("--fast-crypto", action="store_false", dest="constant_time", default=None,
                   help="variable-time crypto: for simulations on a trusted single-tenant host")
    p.add_argument("--clip", type=float, help="per-coordinate clipping of updates")
    p.add_argument("--seed", type=int)
    p.add_argument("--train-examples", type=int, dest="train_examples",
                   help="train on a seeded subset of this many examples (quick experiments)")
    p.add_argument("--validation-size", type=int, dest="validation_size",
                   help="examples held out for the auditor (default 5000)")
    p.add_argument("--threads", type=int, help="crypto threads (default: all cores)")
    p.add_argument("--bound", type=int, help="decoder bound of decrypted sums (default 2^20)")
    p.add_argument("--dp-epsilon", type=float, dest="dp_epsilon",
                   help="hospital-level (epsilon, delta)-DP over the run: distributed discrete Gaussian noise")
    p.add_argument("--dp-delta", type=float, dest="dp_delta", help="delta of --dp-epsilon (default 1e-5)")
    p.add_argument("--noise-multiplier", type=float, dest="noise_multiplier",
                   help="DP noise multiplier instead of --dp-epsilon (epsilon spent is still reported)")
    p.add_argument("--l2-clip", type=float, dest="l2_clip", help="L2 clip of each hospital's update under DP")
    p.add_argument("--out", default=None, help="run directory (default: runs/<timestamp>)")
    p.add_argument("--data-dir", dest="data_dir", help="offline dataset folder (default: $FBH_DATA_DIR)")


def _config_from(args: argparse.Namespace):
    from fbh.protocol.config import PRESETS, RunConfig

    values = dict(PRESETS[args.preset])
    for field in dataclasses.fields(RunConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = value
    return RunConfig(**values)


def _default_out(prefix: str) -> str:
    import time

    return f"runs/{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


def _cmd_run(args: argparse.Namespace) -> int:
    from fbh.protocol.simulation import run

    config = _config_from(args)
    out = args.out or _default_out("run")
    metrics = run(config, out, data_dir=args.data_dir)
    last = metrics["rounds"][-1]
    print(f"done: {out}  test accuracy {last['test_accuracy']:.4f} after {last['round']} rounds")
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from fbh.protocol.baseline import run_centralized

    config = _config_from(args)
    out = args.out or _default_out(f"baseline-{config.model}")
    result = run_centralized(config, out, epochs=args.epochs, data_dir=args.data_dir)
    print(f"done: {out}  test accuracy {result['test_accuracy']:.4f}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from fbh.protocol.deploy import predict_files

    for path, labels in predict_files(args.run_dir, args.images):
        print(f"{path}: {' '.join(map(str, labels))}")
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from fbh.protocol.audit import audit_run

    problems = audit_run(args.run_dir, rpc_url=args.rpc_url)
    for line in problems:
        print(f"MISMATCH {line}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.run_dir}: every commitment, aggregate and model hash matches the chain")
    return 0


def _cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    if args.what == "crypto":
        from fbh.bench.crypto_bench import main as bench_main
    elif args.what == "train":
        from fbh.bench.train_bench import main as bench_main
    elif args.what == "round":
        from fbh.bench.round_bench import main as bench_main
    else:
        from fbh.bench.chain_bench import main as bench_main
    return int(bench_main(rest) or 0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fbh", description="FedBlockHealth: encrypted, audited federated learning")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="a whole federated run (encrypted, on the embedded chain by default)")
    _add_run_options(p)
    p = sub.add_parser("baseline", help="the non-federated baseline (centralized training)")
    _add_run_options(p)
    p.add_argument("--epochs", type=int, default=5)
    p = sub.add_parser("predict", help="classify images with a run's latest approved global model")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+", help=".npy (N,28,28) uint8/float arrays, IDX(.gz) files or PNG images")
    p = sub.add_parser("audit", help="re-verify a finished run against the chain")
    p.add_argument("run_dir")
    p.add_argument("--rpc-url", dest="rpc_url", help="a live node holding the run's contract")
    # add_help=False: `fbh bench crypto --help` reaches the benchmark's own parser.
    p = sub.add_parser("bench", add_help=False, help="benchmarks with same-run baselines; options after WHAT go to it")
    p.add_argument("what", choices=["crypto", "train", "chain", "round"])

    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        return _cmd_bench(args, rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    handlers = {"run": _cmd_run, "baseline": _cmd_baseline, "predict": _cmd_predict, "audit": _cmd_audit}
    try:
        return handlers[args.command](args)
    except (ValueError, FileNotFoundError, FileExistsError, PermissionError) as exc:
        print(f"fbh {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
