"""``fbh``: the command line.  Logic lives in importable modules; this only parses."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import sys
from collections.abc import Sequence

__all__ = ["main"]


def _add_run_options(p: argparse.ArgumentParser) -> None:
    from fbh.protocol.config import PRESETS

    p.add_argument("--preset", choices=sorted(PRESETS), default="default",
                   help="start from a preset ('paper': EMNIST digits, 10 clients, batch 10, 70 rounds)")
    p.add_argument("--dataset", help="mnist, emnist-digits, ..., breastmnist, pneumoniamnist, retinamnist, "
                   "or your own: a .npz file or a folder of images")
    p.add_argument("--model", help="cnn (default), ann, or your own Flax NNX model as package.module:callable")
    p.add_argument("--model-kwargs", dest="model_kwargs", type=_json_object,
                   help="JSON keyword arguments of the --model factory, e.g. '{\"hidden\": 64}'")
    p.add_argument("--normalize", action="store_true", default=None,
                   help="standardise each channel with the training split's mean and std")
    p.add_argument("--strategy", choices=["fedavg", "fedprox", "fedavgm", "fedadam", "fedyogi"],
                   help="server step on the decrypted mean update (fedprox: proximal term --mu in local training)")
    p.add_argument("--mu", type=float, help="FedProx proximal weight (only with --strategy fedprox; default 0.01)")
    p.add_argument("--server-lr", type=float, dest="server_lr", help="server learning rate of fedavgm/fedadam/fedyogi")
    p.add_argument("--sample-fraction", type=float, dest="sample_fraction",
                   help="share of hospitals sampled per round (seeded)")
    p.add_argument("--clients-per-round", type=int, dest="clients_per_round",
                   help="hospitals sampled per round (overrides --sample-fraction)")
    p.add_argument("--init-from", dest="init_from",
                   help="start from a pre-trained model.npz or run directory (mismatched leaves are re-initialised)")
    p.add_argument("--trainable", help="regular expression on parameter paths: only these train and are encrypted "
                   "(e.g. 'dense': the CNN's two dense layers)")
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
    p.add_argument("--threads", type=int, help="crypto threads (default: the CPUs this process may use: affinity and cgroup quota)")
    p.add_argument("--keep-updates", dest="keep_updates", choices=["auto", "all", "until-approved"],
                   help="keep every hospital's blob ('all'), or drop them once the round is approved on chain "
                        "('until-approved': the aggregate, signatures and digests stay); 'auto' (default): "
                        "all for runs of at most 10 rounds")
    p.add_argument("--client-batch", type=int, dest="client_batch",
                   help="clients trained per vmap chunk (default: 1 on CPU, all on GPU)")
    p.add_argument("--profile", help="apply `fbh profile`'s threads and client_batch: a profile.json, or 'auto'")
    p.add_argument("--guardians", type=int, help="n guardians (the auditor and hospitals; never the server) "
                   "that jointly hold the key and decrypt each round's recorded sum once (default 3: the auditor "
                   "and two hospitals); 0: one KGC holds the key, the paper's trust model")
    p.add_argument("--threshold", type=int, help="t guardians needed to decrypt (default 2)")
    p.add_argument("--attack", metavar="KIND[:PARTY]",
                   help="one party misbehaves: curious-server, wrong-model (need guardians), forge-exclusion:H "
                        "(outsider junk naming hospital H), invent-exclusion:H (the server excludes H for a made-up "
                        "reason), out-of-range:H, inflate-weight:H, copy:H, wrong-key:H, silent:H (out of range, then "
                        "answers no range challenge)")
    p.add_argument("--range-samples", type=int, dest="range_samples",
                   help="coordinates each hospital proves in range per round (default 1375: >= 1%% corrupted "
                        "coordinates caught with probability >= 1 - 1e-6); 0 disables the check (unsafe)")
    p.add_argument("--bound", type=int, help="decoder bound of decrypted sums (default 2^20)")
    p.add_argument("--dp-epsilon", type=float, dest="dp_epsilon",
                   help="hospital-level (epsilon, delta)-DP over the run: distributed discrete Gaussian noise")
    p.add_argument("--dp-delta", type=float, dest="dp_delta", help="delta of --dp-epsilon (default 1e-5)")
    p.add_argument("--noise-multiplier", type=float, dest="noise_multiplier",
                   help="DP noise multiplier instead of --dp-epsilon (epsilon spent is still reported)")
    p.add_argument("--l2-clip", type=float, dest="l2_clip", help="L2 clip of each hospital's update under DP")
    p.add_argument("--out", default=None, help="run directory (default: runs/<timestamp>)")
    p.add_argument("--data-dir", dest="data_dir", help="offline dataset folder (default: $FBH_DATA_DIR)")


def _show_defaults(p: argparse.ArgumentParser) -> None:
    """Append RunConfig's default to every option's help (options default to None so presets apply)."""
    from fbh.protocol.config import RunConfig

    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    for action in p._actions:
        if action.dest not in defaults or action.nargs == 0 or "default" in (action.help or ""):
            continue  # flags say what they switch; some helps name their default already
        shown = "all" if defaults[action.dest] is None else defaults[action.dest]
        action.help = f"{action.help or action.dest.replace('_', ' ')} (default: {shown})"


def _json_object(text: str) -> dict:
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        msg = f"not JSON: {exc}"
        raise argparse.ArgumentTypeError(msg) from None
    if not isinstance(value, dict):
        msg = "expected a JSON object such as '{\"hidden\": 64}'"
        raise argparse.ArgumentTypeError(msg)
    return value


def _config_from(args: argparse.Namespace):
    from fbh.errors import BadInput
    from fbh.protocol.config import PRESETS, RunConfig

    values = dict(PRESETS[args.preset])
    for field in dataclasses.fields(RunConfig):
        value = getattr(args, field.name, None)
        if value is not None:
            values[field.name] = value
    if getattr(args, "profile", None):
        from fbh.bench.profile import apply_profile, resolve_profile

        from fbh.bench.profile_gpu import apply_gpu_profile

        profile, source = resolve_profile(args.profile)
        values = apply_profile(values, profile)
        apply_gpu_profile(profile)
        print(f"using {source}: threads {values['threads']}, client_batch {values['client_batch']}", file=sys.stderr)
    try:
        return RunConfig(**values)
    except ValueError as exc:
        raise BadInput(f"invalid option: {exc}", "see `fbh run --help` for what each option accepts") from None


def _default_out(prefix: str) -> str:
    import time

    return f"runs/{prefix}-{time.strftime('%Y%m%d-%H%M%S')}"


@contextlib.contextmanager
def _resumable(out: str):
    """An unexpected failure of a run that left a resumable directory is exit 3, with the way back."""
    from fbh.errors import FbhError, RunInterrupted
    from fbh.protocol.rundir import RunDir

    try:
        yield
    except FbhError:
        raise
    except Exception as exc:
        if not RunDir(out).is_incomplete:
            raise
        text = " ".join(str(exc).split())[:200]
        raise RunInterrupted(f"run stopped: {type(exc).__name__}: {text}",
                             f"fix the cause, then `fbh run --resume {out}` (`fbh --debug` shows the traceback)") from exc


def _cmd_resume(args: argparse.Namespace) -> int:
    from fbh.errors import BadInput, UnusableRunDir
    from fbh.protocol.config import RunConfig
    from fbh.protocol.resume import resume
    from fbh.protocol.rundir import RunDir

    given = [f.name for f in dataclasses.fields(RunConfig) if getattr(args, f.name, None) is not None]
    if given or args.out or args.preset != "default":
        raise BadInput(f"--resume takes the configuration from {args.resume}/config.json; "
                       f"drop {', '.join('--' + g.replace('_', '-') for g in given) or '--out/--preset'}")
    rd = RunDir(args.resume)
    try:  # the resumed run's own mode decides; resume() itself reports an unusable directory
        constant_time = RunConfig.from_json(rd.read_json(rd.config_path)).constant_time
    except (UnusableRunDir, TypeError, ValueError):
        constant_time = True
    _select_crypto_backend(args.crypto_backend, constant_time)
    with _resumable(args.resume):
        metrics = resume(args.resume, data_dir=args.data_dir)
    last = metrics["rounds"][-1]
    print(f"done: {args.resume}  test accuracy {last['test_accuracy']:.4f} after {len(metrics['rounds'])} rounds")
    return 0


def _select_crypto_backend(name: str | None, constant_time: bool) -> None:
    from fbh.crypto.backend import get_backend, set_backend
    from fbh.errors import BadInput

    if name is None:
        try:
            name = get_backend()  # FBH_CRYPTO_BACKEND, checked before the run starts
        except ValueError as exc:
            raise BadInput(str(exc)) from None
    if name in ("portable", "gpu") and constant_time:
        raise BadInput(f"crypto backend {name} (--crypto-backend or FBH_CRYPTO_BACKEND) runs variable-time kernels",
                       "add --fast-crypto (simulations only)")
    try:
        set_backend(name)
    except ValueError as exc:
        raise BadInput(str(exc), "build fbh._ec_cuda on a GPU machine (README 'On a GPU') or pick cpu") from None


def _cmd_run(args: argparse.Namespace) -> int:
    from fbh.protocol.preflight import check_config, check_out_dir
    from fbh.protocol.simulation import run

    if args.resume:
        return _cmd_resume(args)
    config = _config_from(args)
    out = args.out or _default_out("run")
    check_config(config)
    _select_crypto_backend(args.crypto_backend, config.constant_time)
    check_out_dir(out)
    with _resumable(out):
        metrics = run(config, out, data_dir=args.data_dir)
    last = metrics["rounds"][-1]
    print(f"done: {out}  test accuracy {last['test_accuracy']:.4f} after {last['round']} rounds")
    return 0


def _cmd_baseline(args: argparse.Namespace) -> int:
    from fbh.errors import BadInput
    from fbh.protocol.baseline import run_centralized

    from fbh.protocol.preflight import check_config, check_out_dir

    config = _config_from(args)
    out = args.out or _default_out(f"baseline-{config.model}")
    check_config(dataclasses.replace(config, encrypt=False, guardians=0))
    check_out_dir(out)
    if args.epochs < 1:
        raise BadInput(f"--epochs must be >= 1, got {args.epochs}")
    result = run_centralized(config, out, epochs=args.epochs, data_dir=args.data_dir)
    print(f"done: {out}  test accuracy {result['test_accuracy']:.4f}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    from fbh.protocol.deploy import predict_files

    for path, labels in predict_files(args.run_dir, args.images, args.round, args.model):
        print(f"{path}: {' '.join(map(str, labels))}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    import json

    from fbh.protocol.report import build_report, format_report

    report = build_report(args.run_dir, plots=not args.no_plots)
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def _cmd_audit(args: argparse.Namespace) -> int:
    from fbh.protocol.audit import audit_report

    report = audit_report(args.run_dir, rpc_url=args.rpc_url)
    for line in report.problems:
        print(f"MISMATCH {line}", file=sys.stderr)
    for line in report.verified:
        print(f"verified: {line}")
    for line in report.unverified:
        print(f"not verified: {line}")
    if report.problems:
        return 1
    print(f"{args.run_dir}: everything verified above matches the chain")
    return 0


_BENCHES = {"crypto": "encryption, aggregation and decryption against coincurve/pure-Python baselines",
            "train": "vmapped federated training against a per-client loop",
            "chain": "gas and latency of every contract call",
            "round": "one whole encrypted round, seconds per stage",
            "threshold": "guardians' t-of-n decryption against a single-key decryption",
            "flower": "a real Flower deployment on loopback: fbh and Flower's SecAgg+, round time and bytes"}


def _bench_help() -> str:
    lines = ["usage: fbh bench WHAT [options]", "", "benchmarks with same-run baselines; WHAT is one of:"]
    lines += [f"  {name:<8} {what}" for name, what in _BENCHES.items()]
    lines += ["", "`fbh bench WHAT --help` lists that benchmark's options."]
    return "\n".join(lines)


def _cmd_profile(rest: list[str]) -> int:
    from fbh.bench.profile import main as profile_main

    return int(profile_main(rest) or 0)


def _cmd_bench(args: argparse.Namespace, rest: list[str]) -> int:
    if args.what is None or args.what in ("-h", "--help"):
        print(_bench_help())
        return 0 if args.what is not None or {"-h", "--help"} & set(rest) else 2
    if args.what not in _BENCHES:
        print(f"fbh bench: error: unknown benchmark {args.what!r}\n  choose one of {', '.join(_BENCHES)}",
              file=sys.stderr)
        return 2
    if args.what == "crypto":
        from fbh.bench.crypto_bench import main as bench_main
    elif args.what == "train":
        from fbh.bench.train_bench import main as bench_main
    elif args.what == "round":
        from fbh.bench.round_bench import main as bench_main
    elif args.what == "threshold":
        from fbh.bench.threshold_bench import main as bench_main
    elif args.what == "flower":
        from fbh.bench.flower_bench import main as bench_main
    else:
        from fbh.bench.chain_bench import main as bench_main
    return int(bench_main(rest) or 0)


_EPILOG = ("exit codes: 0 ok, 1 audit mismatch or verification failed, 2 bad input or unusable run "
           "directory, 3 interrupted (continue with `fbh run --resume RUN_DIR`)")


def _parser() -> argparse.ArgumentParser:
    from fbh import __version__

    parser = argparse.ArgumentParser(prog="fbh", description="FedBlockHealth: encrypted, audited federated learning",
                                     epilog=_EPILOG)
    parser.add_argument("--version", action="version", version=f"fbh {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("run", help="a whole federated run (encrypted, on the embedded chain by default)",
                       epilog=_EPILOG)
    _add_run_options(p)
    p.add_argument("--resume", metavar="RUN_DIR",
                   help="continue an interrupted run from its last completed round (its own configuration)")
    p.add_argument("--crypto-backend", dest="crypto_backend", choices=["auto", "cpu", "portable", "gpu"],
                   help="packed-crypto kernels: auto (default: the GPU for large batches when fbh._ec_cuda "
                        "sees one), cpu, portable (the GPU's source on CPU threads) or gpu; portable and gpu "
                        "are variable time and need --fast-crypto")
    _show_defaults(p)
    p = sub.add_parser("baseline", help="the non-federated baseline (centralized training)")
    _add_run_options(p)
    _show_defaults(p)
    p.add_argument("--epochs", type=int, default=5, help="training epochs (default: 5)")
    p = sub.add_parser("predict", help="classify images with a run's latest approved global model")
    p.add_argument("run_dir")
    p.add_argument("images", nargs="+", help=".npy (N,H,W[,C]) uint8/float arrays, IDX(.gz) files or PNG images")
    p.add_argument("--round", type=int, help="serve this approved round's model (default: the latest approved)")
    p.add_argument("--model", help="package.module:callable of a user model the run did not record")
    p = sub.add_parser("audit", help="re-verify a finished run against the chain")
    p.add_argument("run_dir")
    p.add_argument("--rpc-url", dest="rpc_url", help="a live node holding the run's contract")
    p = sub.add_parser("report", help="one page on a run: configuration, rounds, verdicts, disk; redraws the plots")
    p.add_argument("run_dir")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-plots", action="store_true", dest="no_plots", help="do not redraw the PNG plots")
    # add_help=False: `fbh bench crypto --help` reaches the benchmark's own parser.
    p = sub.add_parser("bench", add_help=False, help="benchmarks with same-run baselines; options after WHAT go to it")
    p.add_argument("what", nargs="?", help=", ".join(_BENCHES))
    sub.add_parser("profile", add_help=False,
                   help="detect this machine, time fbh on it, recommend threads and client_batch")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    import signal

    from fbh.errors import describe

    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if args.command == "bench":
        return _cmd_bench(args, rest)
    if args.command == "profile":
        return _cmd_profile(rest)
    if rest:
        parser.error(f"unrecognized arguments: {' '.join(rest)}")
    handlers = {"run": _cmd_run, "baseline": _cmd_baseline, "predict": _cmd_predict, "audit": _cmd_audit,
                "report": _cmd_report}
    # SIGTERM stops a run like Ctrl-C does: the run directory stays resumable.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return handlers[args.command](args)
    except (Exception, KeyboardInterrupt) as exc:
        if args.debug:
            raise
        code, lines = describe(exc, args.command)
        print(f"fbh {args.command}: error: {lines[0]}", file=sys.stderr)
        for line in lines[1:]:
            print(f"  {line}", file=sys.stderr)
        return int(code)


if __name__ == "__main__":
    raise SystemExit(main())
