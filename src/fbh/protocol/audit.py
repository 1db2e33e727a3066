"""``fbh audit``: re-verify a finished run against the chain, after the run has exited.

The chain is brought back from the run directory (or reached through a live
node's URL) and every round is checked: each kept blob against its
hospital's on-chain commitment, the sum of the kept blobs against the
recorded aggregate, and each round's model file against the recorded model
hash.  Every mismatch is reported naming the round and the party.
"""

from __future__ import annotations

from pathlib import Path

from fbh.errors import UnusableRunDir
from fbh.protocol.auditor import Auditor
from fbh.protocol.rundir import RunDir

__all__ = ["audit_run"]


def audit_run(run_dir: str | Path, *, rpc_url: str | None = None) -> list[str]:
    """Return the list of mismatches between the run directory and the chain (empty: clean).

    Raises:
      UnusableRunDir: ``run_dir`` is not a run directory, or is unfinished.
    """
    from fbh import chain

    rd = RunDir(run_dir)
    config = rd.read_json(rd.config_path)
    if rd.is_incomplete:  # its last round may be half-written: auditing it would only cry wolf
        raise UnusableRunDir(f"{rd.root} is an unfinished run",
                             f"finish it with `fbh run --resume {rd.root}`, then audit it")
    if not config.get("encrypt", False) or config.get("chain") == "none":
        msg = f"{rd.root} is a run without encryption or chain: there is nothing on chain to audit"
        raise ValueError(msg)
    problems: list[str] = []
    with chain.restore(rd.chain_dir, rpc_url=rpc_url) as ledger:
        checker = Auditor(account=None, evaluate=lambda flat: 0.0, ledger=ledger)
        from fbh.chain import RoundStatus

        # A cancelled round (a crash, redone under the next number) has nothing on disk by design.
        recorded = {rec.round for rec in ledger.history() if rec.status is not RoundStatus.CANCELLED}
        on_disk = set(rd.rounds())
        for r in sorted(recorded - on_disk):
            problems.append(f"round {r}: on chain but missing from {rd.root}")
        for r in sorted(on_disk):
            if r not in recorded:
                problems.append(f"round {r}: in {rd.root} but never opened on chain")
                continue
            blobs = {address: blob for address, (blob, _sig) in rd.load_updates(r).items()}
            info = ledger.round(r)
            for address in sorted({u.hospital for u in info.accepted_updates} - set(blobs)):
                problems.append(f"round {r}: blob of hospital {address} is missing from the run directory")
            model_path = rd.round_dir(r) / "model.npz"
            if not model_path.exists():
                problems.append(f"round {r}: model file missing")
                continue
            flat, _ = rd.load_model(model_path)
            problems += checker.check_round(r, blobs, flat)
    return problems
