"""The range stage of a round: sampled range challenges, then the blame path if the sum fails to decode.

See :mod:`fbh.protocol.range_check` for the ranges, the public sampling seed and the soundness
figure. The server challenges every accepted hospital after the cut-off (all commitments are on
chain, so the seed is fixed), verifies the proofs batched per hospital, and excludes on chain a
hospital whose proofs fail (``OUT_OF_RANGE``) or that does not answer (``NO_RANGE_PROOF``). If the
sum of the survivors still fails to decode at coordinate i, every accepted hospital proves range at
exactly i; those that cannot are excluded the same way and the round re-aggregates and decrypts
again without them (:func:`decrypt_kgc`; guardian mode: :mod:`fbh.protocol.guarded`). Every answer
is saved under ``rounds/<r>/range/`` so the auditor can re-verify it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fbh import crypto as fc
from fbh.chain.records import RejectReason
from fbh.protocol import range_check as rc
from fbh.protocol.server import Rejection

__all__ = ["STAGE", "BlameCheck", "RangeStage", "ask", "audit_range", "decrypt_kgc"]

STAGE = "range"  # its key in metrics["seconds"]
EXCLUDED = "excluded"

def honest_answer(hospital, round_, indices, bound, context) -> tuple[np.ndarray, bytes]:
    """``(proofs, signature)``: what an honest hospital sends back."""
    return hospital.answer_range(round_, indices, bound, context)


def ask(answer: Callable, hospital, round_, indices, bound, context) -> tuple[np.ndarray | None, bytes]:
    """Send one range challenge; ``(None, b"")`` when the hospital does not answer it.

    Silence is an answer that never comes (``None``, a timeout, a dropped connection) or a
    hospital that cannot prove (it holds no such blob, a value is out of range): all the same to
    the challenger, who treats the hospital as failing the challenge (``NO_RANGE_PROOF``).
    """
    try:
        got = answer(hospital, round_, indices, bound, context)
    except (ValueError, LookupError, OSError):  # OSError: TimeoutError, ConnectionError
        return None, b""
    return (None, b"") if got is None else got


@dataclasses.dataclass
class RangeStage:
    """The server's side of the range checks of one round.

    Args:
      server: the round's :class:`~fbh.protocol.server.Server`.
      hospitals: address -> the hospital role that answers challenges.
      public_key: the key set the blobs are under.
      samples: S, coordinates challenged per hospital (0: no sampled check, unsafe).
      round_dir: where the answers are saved.
      answer: how a hospital answers (``--attack`` swaps in a cheating one).
    """

    server: Any
    hospitals: Mapping[str, Any]
    public_key: Any
    samples: int
    round_dir: Path
    answer: Callable = honest_answer
    blamed_rounds: int = 0
    proof_bytes: int = 0

    def summary(self) -> dict[str, int]:
        """What ``metrics.json`` records of the round's range stage."""
        return {"samples": self.samples, "blame_challenges": self.blamed_rounds, "proof_bytes": self.proof_bytes}

    def _challenge(self, plan, update, indices, stage: str, n: int = 0) -> Rejection | None:
        ledger = self.server.ledger
        bound = rc.hospital_bound(plan, update.hospital)
        context = rc.range_context(ledger, plan.round, update.hospital, stage)
        proofs, signature = ask(self.answer, self.hospitals[update.hospital], plan.round, indices, bound, context)
        ev = rc.RangeEvidence(update.hospital, stage, indices, bound, proofs, signature)
        if proofs is not None and not rc.signed_by_hospital(ledger, plan.round, ev):
            proofs = None  # an unsigned answer is no answer: nobody can hold it against the hospital
            ev = dataclasses.replace(ev, proofs=None, signature=b"")
        ev.save(self.round_dir, n)
        self.proof_bytes += 0 if proofs is None else proofs.nbytes
        ct = self.server.parsed(update)
        problem = rc.verify_evidence(self.public_key, ct, ledger, plan.round, ev, threads=self.server.threads)
        if problem is None:
            return None
        return Rejection(update.hospital, "no-range-proof" if proofs is None else "out-of-range", f"{stage}: {problem}",
                         evidence=(update,))  # its blob: the audit re-checks the answer against it

    def sampled(self, plan, accepted: list) -> tuple[list, list[Rejection]]:
        """Challenge each accepted hospital at its S public coordinates; exclude those that fail."""
        if self.samples <= 0 or not accepted:
            return accepted, []
        seed = rc.sampling_seed(self.server.ledger, plan.round)
        rejected = []
        for update in accepted:
            count = self.server.parsed(update).count
            r = self._challenge(plan, update, rc.sample_indices(seed, update.hospital, count, self.samples), rc.SAMPLE)
            if r is not None:
                rejected.append(r)
        self.server.exclude(plan, rejected)
        out = {r.hospital for r in rejected}
        return [u for u in accepted if u.hospital not in out], rejected

    def blame(self, plan, accepted: list, index: int, *, after_sum: bool = False) -> tuple[list, list[Rejection]]:
        """The sum does not decode at ``index``: every accepted hospital proves range there."""
        self.blamed_rounds += 1
        rejected = [r for u in accepted
                    if (r := self._challenge(plan, u, np.array([index], np.int64), rc.BLAME, self.blamed_rounds))]
        if not rejected:  # impossible while the ranges add up to the bound (range_check docstring)
            msg = f"round {plan.round}: the sum does not decode at {index}, yet every hospital proved its range"
            raise RuntimeError(msg)
        self.server.exclude(plan, rejected, after_sum=after_sum)
        out = {r.hospital for r in rejected}
        return [u for u in accepted if u.hospital not in out], rejected


def decrypt_kgc(session, stage: RangeStage, plan, accepted: list, aggregate: bytes, *, min_parties: int):
    """KGC mode: decrypt the sum; on a coordinate that does not decode, blame, re-aggregate, retry.

    Returns:
      ``(summed, accepted, aggregate, rejections)`` for the hospitals that survived.
    """
    c = session.config
    rejected: list[Rejection] = []
    while True:
        try:
            summed = session.kgc.decrypt_sum(plan.round, [u.blob for u in accepted], bound=c.bound,
                                             min_parties=min(min_parties, len(accepted)),
                                             constant_time=c.constant_time)
            return summed, accepted, aggregate, rejected
        except fc.PlaintextOutOfRange as exc:
            accepted, blamed = stage.blame(plan, accepted, int(exc.index))
            rejected += blamed
            aggregate = session.server.aggregate(plan, accepted)


def blame_evidence(round_dir: Path, hospital: str) -> tuple:
    """A blamed hospital's signed blame-stage answers, as guardians receive them."""
    return tuple(e for e in rc.RangeEvidence.load_all(round_dir) if e.hospital == hospital and e.stage == rc.BLAME)


def proven_out_of_range(ledger, public_key, round_: int, hospital: str, blob: bytes, answers) -> bool:
    """Whether ``answers`` include one the hospital signed that fails for its blob (a guardian's check)."""
    ct = fc.PackedCiphertexts.from_bytes(blob)
    return any(isinstance(ev, rc.RangeEvidence) and ev.hospital == hospital and ev.stage == rc.BLAME
               and rc.signed_by_hospital(ledger, round_, ev)
               and rc.verify_evidence(public_key(), ct, ledger, round_, ev) is not None for ev in answers)


@dataclasses.dataclass
class BlameCheck:
    """A guardian's check before it decrypts a re-aggregation: can each hospital excluded since its
    first answer really not prove its range where the sum failed to decode?

    * Excluded for a failing answer (``OUT_OF_RANGE``): the request carries the hospital's own
      signed answer, and it fails for its committed blob (:func:`proven_out_of_range`).
    * Excluded for silence (``NO_RANGE_PROOF``): nothing signed can show that an answer never came,
      so the guardian repeats each unanswered blame challenge to the hospital itself (``reach``)
      and admits the exclusion only if no valid answer comes back to it either. A server that
      claims an honest hospital was silent, to learn its values from two decryptions, gets the
      hospital's valid answer relayed and no second decryption.

    The challenge's range is the server's: a guardian does not hold the round's plan. A server that
    shrinks an honest hospital's range to make it fail is caught by the auditor (:func:`audit_range`
    checks every saved challenge's range against the hospital's public one) and the round rejected.

    Args:
      ledger: the chain.
      public_key: () -> the key set the blobs are under.
      reach: ``(hospital, round, indices, bound, context) -> (proofs, signature)``: the guardian's
        own channel to a hospital (silence: ``(None, b"")``, see :func:`ask`); ``None``: no channel,
        so no silence is ever admitted.
    """

    ledger: Any
    public_key: Callable
    reach: Callable | None = None

    def __call__(self, round_: int, hospital: str, blob: bytes, answers) -> bool:
        return (proven_out_of_range(self.ledger, self.public_key, round_, hospital, blob, answers)
                or self.stays_silent(round_, hospital, blob, answers))

    def stays_silent(self, round_: int, hospital: str, blob: bytes, answers) -> bool:
        """Whether ``hospital`` left a blame challenge unanswered and does not answer it now either."""
        unanswered = [ev for ev in answers if isinstance(ev, rc.RangeEvidence) and ev.hospital == hospital
                      and ev.stage == rc.BLAME and ev.proofs is None]
        if not unanswered or self.reach is None:
            return False
        ct = fc.PackedCiphertexts.from_bytes(blob)
        context = rc.range_context(self.ledger, round_, hospital, rc.BLAME)
        for ev in unanswered:
            proofs, signature = self.reach(hospital, round_, ev.indices, ev.bound, context)
            again = dataclasses.replace(ev, proofs=proofs, signature=signature)
            if proofs is not None and rc.signed_by_hospital(self.ledger, round_, again) \
                    and rc.verify_evidence(self.public_key(), ct, self.ledger, round_, again) is None:
                return False  # it answered me: the claimed silence does not justify a second decryption
        return True

    def connect(self, hospitals: Mapping[str, Any], answer: Callable = honest_answer) -> None:
        """Give the guardian its channel to ``hospitals`` (address -> role), answering with ``answer``."""
        self.reach = lambda h, r, idx, bound, ctx: ask(answer, hospitals[h], r, idx, bound, ctx) \
            if h in hospitals else (None, b"")


def set_aside(run_dir, round_: int, hospitals) -> None:
    """Move blamed hospitals' saved blobs out of ``updates/`` (they are not in the sum) into
    ``range/excluded/``, where the auditor re-checks that their blame answers really fail."""
    folder = run_dir.round_dir(round_) / rc.EVIDENCE_DIR / EXCLUDED
    for hospital in hospitals:
        for suffix in (".bin", ".sig"):
            path = run_dir.update_path(round_, hospital, suffix)
            if path.exists():
                folder.mkdir(parents=True, exist_ok=True)
                path.replace(folder / path.name)


def audit_range(pub, ledger, plan, round_dir: Path, accepted: Mapping[str, bytes], samples: int, *,
                threads: int | None = None) -> list[str]:
    """The auditor's re-check (live, and ``fbh audit`` through :mod:`fbh.protocol.range_audit`):
    every accepted hospital answered its public sample with valid proofs for its public range, and
    every range exclusion on chain is backed by a failing (or missing) answer to a challenge at
    the party's public range, for its committed blob."""
    problems = []
    evidence = rc.RangeEvidence.load_all(round_dir)
    by = {(e.hospital, e.stage): e for e in evidence if e.stage == rc.SAMPLE}
    seed = rc.sampling_seed(ledger, plan.round) if samples > 0 and (
        ledger is None or ledger.round(plan.round).updates) else b""
    for hospital, blob in sorted(accepted.items()):
        ct = fc.PackedCiphertexts.from_bytes(blob, threads=threads)
        answers = [e for e in evidence if e.hospital == hospital]
        if samples > 0:
            ev = by.get((hospital, rc.SAMPLE))
            want = rc.sample_indices(seed, hospital, ct.count, samples)
            if ev is None or ev.indices.tolist() != want.tolist() or ev.bound != rc.hospital_bound(plan, hospital):
                problems.append(f"round {plan.round}: step range: {hospital} has no answer to its public sample")
                continue
        for ev in answers:
            if ev.bound != rc.hospital_bound(plan, hospital):
                problems.append(f"round {plan.round}: step range: {hospital} was checked against a wrong range")
            elif (why := rc.verify_evidence(pub, ct, ledger, plan.round, ev, threads=threads)) is not None:
                problems.append(f"round {plan.round}: step range: accepted {hospital}: {why}")
    if ledger is not None:
        for rec in ledger.round(plan.round).rejections:
            if rec.reason in (RejectReason.OUT_OF_RANGE, RejectReason.NO_RANGE_PROOF):
                answers = [e for e in evidence if e.hospital == rec.party]
                problems += _check_exclusion(pub, ledger, plan, round_dir, rec.party, answers, samples, seed,
                                             threads)
    return problems


def _excluded_blob(ledger, round_: int, round_dir: Path, party: str) -> bytes | None:
    """The party's committed blob as the server kept it: set aside by the blame path, or kept as the
    evidence of a sampled-stage exclusion (:mod:`fbh.protocol.exclusions`); None if neither matches
    the party's on-chain commitment."""
    from fbh.protocol import exclusions
    from fbh.protocol.messages import digest

    record = ledger.round(round_).by_hospital.get(party)
    blamed = round_dir / rc.EVIDENCE_DIR / EXCLUDED / f"{party}.bin"
    kept = [blamed.read_bytes()] if blamed.exists() else []
    kept += [u.blob for u in exclusions.load_evidence(round_dir).get(party, [])]
    return next((b for b in kept if record is not None and digest(b) == record.digest), None)


def _check_exclusion(pub, ledger, plan, round_dir: Path, party: str, answers, samples: int, seed: bytes,
                     threads) -> list[str]:
    """A range exclusion must rest on an answer that fails (or on no answer) to a challenge at the
    party's public range, at its public sample or a blamed coordinate, for its committed blob."""
    where = f"round {plan.round}: step range: {party} excluded for its range"
    if not answers:
        return [f"{where} with no saved challenge"]
    if any(ev.proofs is not None and not rc.signed_by_hospital(ledger, plan.round, ev) for ev in answers):
        return [f"{where} on an answer it did not sign"]
    if any(ev.bound != rc.hospital_bound(plan, party) for ev in answers):
        return [f"{where}, challenged with a range that is not its public one"]
    blob = _excluded_blob(ledger, plan.round, round_dir, party)
    if blob is None:
        return [f"{where}, but its committed blob is not kept in the run directory"]
    ct = fc.PackedCiphertexts.from_bytes(blob, threads=threads)
    sample = rc.sample_indices(seed, party, ct.count, samples).tolist() if samples > 0 else None
    if any(ev.stage == rc.SAMPLE and ev.indices.tolist() != sample for ev in answers):
        return [f"{where}, challenged at coordinates that are not its public sample"]
    if all(rc.verify_evidence(pub, ct, ledger, plan.round, ev, threads=threads) is None for ev in answers):
        return [f"{where}, yet every answer it gave verifies"]
    return []
