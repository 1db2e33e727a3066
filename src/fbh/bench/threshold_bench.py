"""``fbh bench threshold``: guardians' threshold decryption against a single-key decryption.

Both decrypt the same packed aggregate (2 hospitals' updates of N values in [-2^15, 2^15),
sum bound 2^20) in the same run: the baseline with one :class:`fbh.crypto.KeySet`, the
threshold path with t of n guardians from a real key ceremony, each guardian doing what it
does in a round (recompute and check the recorded aggregate, its pre-scaled share, the batched
proof), then the mediator verifying every proof and combining. Per-guardian, verification and
combine seconds are reported separately; the decrypted values are checked against the plaintext
sum. Best of ``--repeat`` runs (noise on a shared machine only adds time).
"""

from __future__ import annotations

import argparse
import json
import time
import types
from pathlib import Path

import numpy as np

import fbh.crypto as fc
from fbh.chain.records import RoundStatus, UpdateRecord
from fbh.protocol.ceremony import KeyCeremonyMediator
from fbh.protocol.guardian import DecryptionRequest, Guardian, aggregate_digest, decryption_context
from fbh.protocol.messages import digest

__all__ = ["main", "run_threshold_bench"]

BOUND = 2**20
CTX = b"fbh bench threshold"


class _OneRound:
    """The ledger view a guardian reads: one open round with its accepted blobs and aggregate."""

    def __init__(self, blobs: dict[str, bytes], agg: bytes) -> None:
        updates = tuple(UpdateRecord(h, digest(b), 1, 0, None) for h, b in blobs.items())
        self.info = types.SimpleNamespace(status=RoundStatus.OPEN, accepted_updates=updates, sum_digest=agg)

    def round(self, r: int):
        return self.info

    def trust_record(self, r: int):
        return self.info


def _best(fn, repeat: int):
    best, out = float("inf"), None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def run_threshold_bench(values: int = 422_000, guardians: int = 3, threshold: int = 2, *, k: int = fc.DEFAULT_K,
                        constant_time: bool = True, threads: int | None = None, repeat: int = 2) -> dict:
    """Time both paths; returns the report as a dict."""
    rng = np.random.default_rng(0)
    plain = rng.integers(-(2**15), 2**15, size=(2, values), dtype=np.int64)
    members = [Guardian(i + 1, threshold, k, context=CTX, threads=threads) for i in range(guardians)]
    ceremony = KeyCeremonyMediator(members, threshold=threshold, context=CTX).run()
    single = fc.KeySet.generate(k)
    table = fc.DecodingTable.cached(BOUND)

    def blobs_for(pub):
        return {f"h{c}": fc.encrypt_packed(pub, plain[c], context=b"h%d" % c, constant_time=False,
                                           threads=threads).to_bytes() for c in range(2)}

    base_agg = fc.aggregate_packed(list(blobs_for(single.public).values()), threads=threads)
    t_single, out = _best(lambda: fc.decrypt_packed(single, base_agg, bound=BOUND, table=table, threads=threads,
                                                    constant_time=constant_time), repeat)
    assert np.array_equal(out, plain.sum(axis=0))

    blobs = blobs_for(ceremony.public)
    agg = fc.aggregate_packed(list(blobs.values()), threads=threads)
    ledger = _OneRound(blobs, aggregate_digest(agg))
    quorum = list(range(1, threshold + 1))
    request = DecryptionRequest(1, tuple(blobs.items()), tuple(quorum))
    per_guardian, shares = [], []
    for g in members[:threshold]:
        g.ledger = ledger
        secs, share = _best(lambda g=g: g.decrypt_share(request, constant_time=constant_time), repeat)
        per_guardian.append(secs)
        shares.append(share)
    ctx = decryption_context(CTX, 1, aggregate_digest(agg))
    t_verify, ok = _best(lambda: [s.is_valid(ceremony.verification_keys[s.index], agg, ctx, threads=threads)
                                  for s in shares], repeat)
    assert all(ok)
    from fbh.crypto.threshold import combine_shares

    t_combine, out = _best(lambda: combine_shares(agg, shares, bound=BOUND, table=table, threads=threads), repeat)
    assert np.array_equal(out, plain.sum(axis=0))
    total = sum(per_guardian) + t_verify + t_combine
    return {
        "values": values, "k": k, "guardians": guardians, "threshold": threshold,
        "mode": "constant-time" if constant_time else "fast", "threads": threads,
        "single_key_decrypt_s": t_single, "per_guardian_s": per_guardian, "verify_shares_s": t_verify,
        "combine_s": t_combine, "threshold_total_s": total, "ratio": total / t_single,
        "ratio_without_verification": (total - t_verify) / t_single,
    }


def format_report(r: dict) -> str:
    lines = [
        f"threshold decryption, {r['values']:,} values, k = {r['k']}, t = {r['threshold']} of {r['guardians']}, "
        f"{r['mode']}, threads {r['threads'] or 'all'}",
        f"  single-key decrypt (baseline) {r['single_key_decrypt_s']:8.3f} s",
    ]
    lines += [f"  guardian {i + 1} share + proof    {s:8.3f} s" for i, s in enumerate(r["per_guardian_s"])]
    lines += [
        f"  verify {r['threshold']} share proofs        {r['verify_shares_s']:8.3f} s",
        f"  combine + decode              {r['combine_s']:8.3f} s",
        f"  threshold total               {r['threshold_total_s']:8.3f} s   "
        f"= {r['ratio']:.2f}x single-key (target <= 2.5x; {r['ratio_without_verification']:.2f}x without verifying)",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="fbh bench threshold", description=__doc__.split("\n\n")[0])
    p.add_argument("--values", type=int, default=422_000, help="values in the aggregate (default 422,000)")
    p.add_argument("--guardians", type=int, default=3)
    p.add_argument("--threshold", type=int, default=2)
    p.add_argument("--fast", action="store_true", help="variable-time mode for both paths (default constant-time)")
    p.add_argument("--threads", type=int, default=None, help="threads (default: all cores)")
    p.add_argument("--repeat", type=int, default=2)
    p.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = p.parse_args(argv)
    if not 1 <= args.threshold <= args.guardians or args.values < 1:
        p.error("need 1 <= --threshold <= --guardians and --values >= 1")
    report = run_threshold_bench(args.values, args.guardians, args.threshold, constant_time=not args.fast,
                                 threads=args.threads, repeat=args.repeat)
    print(format_report(report))
    if args.json is not None:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
