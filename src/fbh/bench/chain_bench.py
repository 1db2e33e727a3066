"""Gas per call and chain seconds per round, on any backend.

A round here is the chain's share of one federated round: the server opens
it, every hospital commits, the server records the aggregate and an auditor
approves. The baseline, timed in the same run on the same chain, sends the
same number of plain ether transfers from the same accounts, so the ratio
shows what the contract costs over bare transactions.

Run ``python -m fbh.bench.chain_bench --backend anvil`` for a JSON report.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass

from eth_account.signers.local import LocalAccount

import fbh.chain
from fbh.chain import Ledger, Role, commitment

__all__ = ["Cast", "gas_by_function", "run_chain_bench", "run_round", "setup_cast", "transfer_baseline"]

PUBLIC_KEY = bytes.fromhex("0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798")


@dataclass
class Cast:
    """The role accounts of a benchmark deployment."""

    server: LocalAccount
    auditor: LocalAccount
    hospitals: list[LocalAccount]


def setup_cast(ledger: Ledger, hospitals: int) -> Cast:
    """Deploys, registers a server, an auditor and ``hospitals`` hospitals, publishes a key."""
    server, auditor = ledger.account("server"), ledger.account("auditor")
    hosp = [ledger.account(f"hospital-{i}") for i in range(hospitals)]
    ledger.deploy()
    ledger.register(Role.SERVER, server.address)
    ledger.register(Role.AUDITOR, auditor.address)
    for h in hosp:
        ledger.register(Role.HOSPITAL, h.address)
    ledger.publish_key(PUBLIC_KEY)
    return Cast(server, auditor, hosp)


def run_round(ledger: Ledger, cast: Cast, round_number: int) -> None:
    """Puts one full round on chain (``len(cast.hospitals) + 3`` transactions)."""
    ledger.open_round(round_number)
    for i, h in enumerate(cast.hospitals):
        ledger.commit_update(round_number, commitment(b"%d/%d" % (round_number, i)), 100 + i, sender=h)
    ledger.record_aggregate(round_number, commitment(b"agg%d" % round_number),
                            commitment(b"model%d" % round_number))
    ledger.approve(round_number, True, 0.97)


def transfer_baseline(ledger: Ledger, cast: Cast) -> None:
    """Sends as many 1-wei transfers as a round has transactions, from the same senders."""
    senders = [cast.server, *cast.hospitals, cast.server, cast.auditor]
    for acct in senders:
        ledger.transfer(acct, cast.server.address, 1)


def gas_by_function(ledger: Ledger) -> dict[str, dict[str, int]]:
    """Min/max gas used and call count per contract function so far."""
    gas: dict[str, list[int]] = defaultdict(list)
    for tx in ledger.transactions:
        gas[tx.function].append(tx.gas_used)
    return {fn: {"min": min(v), "max": max(v), "calls": len(v)} for fn, v in sorted(gas.items())}


def run_chain_bench(backend: str = "embedded", hospitals: int = 10, rounds: int = 3) -> dict:
    """Measures gas per call and wall-clock seconds per round on ``backend``.

    Args:
        backend: Anything :func:`fbh.chain.connect` accepts.
        hospitals: Hospitals committing per round.
        rounds: Rounds timed (and as many baseline batches).

    Returns:
        A JSON-ready dict: ``gas`` (min/max gas used per contract function),
        ``round_s`` (seconds per round), ``baseline_s`` (seconds per batch of
        plain transfers), their medians and ratio, and ``setup_s``.
    """
    with fbh.chain.connect(backend) as ledger:
        t0 = time.perf_counter()
        cast = setup_cast(ledger, hospitals)
        setup_s = time.perf_counter() - t0
        round_s, baseline_s = [], []
        for r in range(1, rounds + 1):
            t0 = time.perf_counter()
            run_round(ledger, cast, r)
            round_s.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            transfer_baseline(ledger, cast)
            baseline_s.append(time.perf_counter() - t0)
            record = ledger.round(r)
            if not record.approved or len(record.updates) != hospitals:
                msg = f"round {r} did not land on chain as sent: {record}"
                raise RuntimeError(msg)
        gas = gas_by_function(ledger)
    median, base = statistics.median(round_s), statistics.median(baseline_s)
    return {
        "backend": backend, "hospitals": hospitals, "rounds": rounds,
        "transactions_per_round": hospitals + 3,
        "gas": gas, "setup_s": setup_s,
        "round_s": round_s, "round_s_median": median,
        "baseline_s": baseline_s, "baseline_s_median": base,
        "round_over_baseline": median / base,
    }


def main(argv: list[str] | None = None) -> None:
    """Prints :func:`run_chain_bench`'s report as JSON."""
    parser = argparse.ArgumentParser(prog="fbh bench chain", description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="embedded")
    parser.add_argument("--hospitals", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    print(json.dumps(run_chain_bench(args.backend, args.hospitals, args.rounds), indent=2))


if __name__ == "__main__":
    main()
