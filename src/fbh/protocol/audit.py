"""``fbh audit``: re-verify a finished run against the chain, after the run has exited.

The chain is brought back from the run directory (or reached through a live
node's URL) and every round is checked from public data alone.  What can be
checked depends on the run's blob retention (:mod:`fbh.protocol.retention`):

- a round that kept its blobs: each accepted hospital's blob against its
  on-chain commitment and its signature, the sum of the accepted blobs
  against the recorded aggregate, the model file against the model hash;
- the range stage (:mod:`fbh.protocol.range_audit`): every accepted hospital's
  range proofs at its public sample, every range exclusion's failing answer;
- a round whose blobs were dropped after approval: each dropped blob's
  digest and kept signature against the chain, the kept aggregate against the
  recorded aggregate digest, the model hash — but not that the aggregate is
  the sum of the accepted blobs (the auditor checked that during the run).

Every mismatch is reported naming the round and the party, and the report
says exactly what was verified and what could not be.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from fbh.errors import UnusableRunDir
from fbh.protocol import exclusions, range_audit
from fbh.protocol.auditor import Auditor
from fbh.protocol.rundir import RunDir

__all__ = ["AuditReport", "audit_report", "audit_run"]

# Never checkable from public data while one KGC holds the only key.
_DECRYPTION = ("that each model is the previous one plus the decrypted aggregate "
               "(decryption needs the KGC's private key)")


@dataclasses.dataclass
class AuditReport:
    """What ``fbh audit`` found: mismatches, and what it did and did not verify."""

    problems: list[str] = dataclasses.field(default_factory=list)
    verified: list[str] = dataclasses.field(default_factory=list)
    unverified: list[str] = dataclasses.field(default_factory=list)


def _span(rounds: list[int]) -> str:
    return f"round {rounds[0]}" if len(rounds) == 1 else f"rounds {', '.join(map(str, rounds))}"


def audit_report(run_dir: str | Path, *, rpc_url: str | None = None) -> AuditReport:
    """Audit ``run_dir`` against its chain.

    Raises:
      UnusableRunDir: ``run_dir`` is not a run directory, or is unfinished.
      ValueError: if the run had no encryption or no chain.
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
    report = AuditReport()
    full, pruned, blobs_checked, sigs_checked, unchecked = [], [], 0, 0, []
    replay: dict = {}  # the server optimizer's state, replayed round by round
    with chain.restore(rd.chain_dir, rpc_url=rpc_url) as ledger:
        checker = Auditor(account=None, evaluate=lambda flat: 0.0, ledger=ledger)
        signers = {p.address: p.signer for p in ledger.participants()}
        from fbh.chain import RoundStatus

        # A cancelled round (a crash, redone under the next number) has nothing on disk by design.
        recorded = {rec.round for rec in ledger.history() if rec.status is not RoundStatus.CANCELLED}
        on_disk = set(rd.rounds())
        ranged = config.get("range_samples", 0) > 0 or any((rd.round_dir(r) / "range").exists() for r in on_disk)
        public_key, why = range_audit.load_public_key(rd.root, ledger) if ranged else (None, "")
        if why:
            report.problems.append(why)
        for r in sorted(recorded - on_disk):
            report.problems.append(f"round {r}: on chain but missing from {rd.root}")
        for r in sorted(on_disk):
            if r not in recorded:
                report.problems.append(f"round {r}: in {rd.root} but never opened on chain")
                continue
            info = ledger.round(r)
            blobs = {address: blob for address, (blob, _sig) in rd.load_updates(r).items()}
            dropped = rd.load_pruned(r)
            accepted = {u.hospital: u for u in info.accepted_updates}
            for address in sorted(set(accepted) - set(blobs) - set(dropped)):
                report.problems.append(f"round {r}: blob of hospital {address} is missing from the run directory")
            sigs = rd.load_signatures(r)
            for address, record in accepted.items():
                if address not in sigs:
                    report.problems.append(f"round {r}: signature of hospital {address} is missing")
                    continue
                sigs_checked += 1
                report.problems += _check_signature(ledger, r, record, sigs[address], signers.get(address))
            kept = list(blobs.values()) + ([rd.aggregate_path(r).read_bytes()] if rd.aggregate_path(r).exists() else [])
            report.problems += exclusions.audit_kept_round(ledger, rd.round_dir(r), info, kept)
            unchecked += [f"round {r}: {party}" for party in exclusions.unverifiable(info)]
            if public_key is not None:
                report.problems += range_audit.audit_round(rd.round_dir(r), ledger, config, public_key, blobs,
                                                           kept=not dropped)
            model_path = rd.round_dir(r) / "model.npz"
            if not model_path.exists():
                report.problems.append(f"round {r}: model file missing")
                continue
            flat, _ = rd.load_model(model_path)
            if dropped:
                pruned.append(r)
                report.problems += _check_pruned(rd, r, info, blobs, dropped)
                blobs_checked += len(blobs)
                report.problems += checker.check_round(r, {}, flat)  # the model hash
            else:
                full.append(r)
                blobs_checked += len(blobs)
                report.problems += checker.check_round(r, blobs, flat)
                from fbh.protocol import guarded

                report.problems += guarded.audit_from_run_dir(rd.root, ledger, r, blobs, flat, replay)
    _describe(report, full, pruned, blobs_checked, sigs_checked)
    if full or pruned:
        report.verified.append(f"{_span(sorted(full + pruned))}: every exclusion's reason, from the evidence kept "
                               "in the run directory and the chain (a blob said to fail really fails, a mismatch "
                               "really differs, a duplicate is two signed updates)")
    if public_key is not None and (full or pruned):
        report.verified.append(f"{_span(sorted(full + pruned))}: the range stage: each hospital's range recomputed "
                               "from the chain and the run's configuration, every range exclusion's failing or "
                               "missing answer" + (", and every accepted hospital's range proofs at its public "
                               "sample (seeded by the block of the round's last commitment)" if full else ""))
        if pruned:
            report.unverified.append(f"{_span(pruned)}: the accepted hospitals' range proofs (dropped with their "
                                     "blobs under --keep-updates until-approved; the auditor checked them during "
                                     "the run)")
    if unchecked:
        report.unverified.append("that these hospitals' updates really never arrived (excluded as NOT_RECEIVED: "
                                 "no public record shows what did not arrive): " + ", ".join(unchecked))
    if full and (rd.root / "guardians.npz").exists():  # guardian run: the decryption is public and was redone
        report.unverified = [u for u in report.unverified if u != _DECRYPTION]
        report.verified.append(f"{_span(full)}: the guardians' shares verify against the published key ceremony, "
                               "and each model is the start model plus the decrypted sum / accepted weight")
    return report


def _check_signature(ledger, round_: int, record, signature: bytes, signer: str | None) -> list[str]:
    """The kept signature must be the hospital's own over its on-chain (digest, count)."""
    from fbh.chain import hashing
    from fbh.protocol.messages import signing_domain

    try:
        got = hashing.recover_update_signer(signature, round_number=round_, digest=record.digest,
                                            num_samples=record.num_samples, **signing_domain(ledger))
    except ValueError:
        got = None
    if got is None or got != signer:
        return [f"round {round_}: the kept signature of hospital {record.hospital} is not its signature "
                "over its on-chain commitment"]
    return []


def _check_pruned(rd: RunDir, round_: int, info, blobs: dict[str, bytes], dropped: dict[str, str]) -> list[str]:
    """A round whose blobs were dropped: digests, the kept aggregate, and that it was approved first."""
    from fbh.protocol.messages import digest

    problems = []
    if not info.approved:
        problems.append(f"round {round_}: its blobs were dropped, but the round is not approved on chain")
    committed = info.by_hospital
    for address, sha in sorted(dropped.items()):
        record = committed.get(address)
        if record is None or not record.accepted:
            problems.append(f"round {round_}: dropped blob of {address} was never an accepted commitment")
        elif record.digest.hex() != sha:
            problems.append(f"round {round_}: dropped blob of hospital {address} does not match its commitment")
    for address, blob in blobs.items():  # kept despite the policy (an interrupted prune)
        record = committed.get(address)
        if record is None or record.digest != digest(blob):
            problems.append(f"round {round_}: blob of hospital {address} does not match its commitment")
    path = rd.aggregate_path(round_)
    if not path.exists():
        problems.append(f"round {round_}: aggregate.bin is missing (its blobs were dropped)")
    elif digest(path.read_bytes()) != info.aggregate_digest:
        problems.append(f"round {round_}: aggregate.bin is not the aggregate recorded on chain")
    return problems


def _describe(report: AuditReport, full: list[int], pruned: list[int], blobs: int, sigs: int) -> None:
    rounds = sorted(full + pruned)
    if not rounds:
        return
    report.verified.append(f"{sigs} accepted updates in {_span(rounds)}: signed by their hospitals' "
                           "registered keys over their on-chain commitments")
    report.verified.append(f"{_span(rounds)}: each model file's hash is the one recorded on chain")
    if full:
        report.verified.append(f"{_span(full)}: {blobs} kept blobs match their on-chain SHA-256, and the sum "
                               "of the accepted blobs is the recorded aggregate")
    if pruned:
        report.verified.append(f"{_span(pruned)} (blobs dropped after approval): the dropped blobs' digests "
                               "match their commitments, and the kept aggregate is the one recorded")
        report.unverified.append(f"{_span(pruned)}: that the recorded aggregate is the sum of the accepted "
                                 "blobs (dropped under --keep-updates until-approved; the auditor checked "
                                 "it during the run and approved on chain)")
    report.unverified.append(_DECRYPTION)


def audit_run(run_dir: str | Path, *, rpc_url: str | None = None) -> list[str]:
    """The mismatches between the run directory and the chain (empty: clean)."""
    return audit_report(run_dir, rpc_url=rpc_url).problems
