"""Every exclusion on chain justified from public data: the evidence the server keeps, and the check.

The server may exclude a party from a round only for a reason anyone can re-check. When it
excludes a hospital for what the hospital sent, it keeps what it received (blob, signature,
sample count) in ``rounds/<r>/excluded/``, whatever the blob retention policy, and the auditor
(during the run) and ``fbh audit`` (afterwards) check each recorded reason:

============================  =================================================================
``MALFORMED``, ``INVALID_PROOF``  the kept blob is the party's on-chain commitment, signed by it, and
                              really fails to parse or its proofs fail for (chain, contract,
                              round, party)
``DIGEST_MISMATCH``           a kept update signed by the party whose (digest, count) differs
                              from its on-chain commitment
``DUPLICATE``                 two different kept updates, both signed by the party for the round
``REPLAY``                    the committed digest was accepted in an earlier round (chain only)
``NOT_COMMITTED``             the party has no commitment this round (chain only)
``UNREGISTERED_SENDER``       the party is not a registered hospital (chain only)
``BAD_SIGNATURE``             never: a badly signed message is noise, attributed to nobody
``NOT_RECEIVED``              not checkable: nobody but the server can show what did *not*
                              arrive; accepted, and ``fbh audit`` lists it as not verified
============================  =================================================================

Any other exclusion is an invented reason: the auditor rejects the round and ``fbh audit`` names
the round, step ``exclusions`` and the party.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from fbh import crypto as fc
from fbh.chain.records import RejectReason
from fbh.protocol.messages import EncryptedUpdate, signing_domain, update_context

__all__ = ["EVIDENCE_DIR", "audit_kept_round", "audit_round", "check_exclusions", "keep_evidence", "load_evidence", "save_evidence",
           "unverifiable"]

EVIDENCE_DIR = "excluded"


def save_evidence(round_dir: Path, party: str, updates: Sequence[EncryptedUpdate]) -> None:
    """Keep what ``party`` sent that got it excluded (never pruned: retention leaves this folder)."""
    from fbh.protocol.rundir import atomic_write

    folder = round_dir / EVIDENCE_DIR
    folder.mkdir(parents=True, exist_ok=True)
    for i, u in enumerate(updates):
        stem = f"{party}.{i}"
        atomic_write(folder / f"{stem}.bin", u.blob)
        atomic_write(folder / f"{stem}.sig", u.signature)
        atomic_write(folder / f"{stem}.json", json.dumps({"round": u.round, "num_samples": u.num_samples}).encode())


def keep_evidence(round_dir: Path, rejected: Sequence) -> None:
    """The server's duty: keep the evidence of every exclusion it recorded (``Rejection`` objects)."""
    for r in rejected:
        if r.recorded and r.evidence:
            save_evidence(round_dir, r.hospital, r.evidence)


def audit_round(ledger, round_dir: Path, *, shape: tuple[int, int] | None = None,
                threads: int | None = None) -> list[str]:
    """The auditor's check of a round's exclusions against the evidence kept in ``round_dir``."""
    if ledger is None:
        return []
    return check_exclusions(ledger, int(round_dir.name), load_evidence(round_dir), shape=shape, threads=threads)


def audit_kept_round(ledger, round_dir: Path, record, kept_blobs: Sequence[bytes]) -> list[str]:
    """``fbh audit``'s check of a round's exclusions; the round's size comes from a kept blob."""
    shape = None
    needs_shape = any(r.reason in (RejectReason.MALFORMED, RejectReason.INVALID_PROOF) for r in record.rejections)
    if needs_shape and kept_blobs:
        try:
            parsed = fc.PackedCiphertexts.from_bytes(kept_blobs[0])
            shape = (parsed.count, parsed.k)
        except ValueError:
            shape = None  # the blob's own check reports it
    return check_exclusions(ledger, record.round, load_evidence(round_dir), shape=shape)


def load_evidence(round_dir: Path) -> dict[str, list[EncryptedUpdate]]:
    """party -> the updates kept as evidence of its exclusion from the round in ``round_dir``."""
    out: dict[str, list[EncryptedUpdate]] = {}
    for meta in sorted((round_dir / EVIDENCE_DIR).glob("*.json")):
        stem = meta.name[: -len(".json")]  # "<party>.<i>"
        party = stem.rsplit(".", 1)[0]
        m = json.loads(meta.read_text())
        blob, sig = (meta.with_name(f"{stem}{suffix}").read_bytes() for suffix in (".bin", ".sig"))
        out.setdefault(party, []).append(EncryptedUpdate(int(m["round"]), party, blob, sig, int(m["num_samples"])))
    return out


def unverifiable(record) -> list[str]:
    """Parties excluded in ``record`` for a reason no public data can confirm (not received)."""
    return [r.party for r in record.rejections if r.reason == RejectReason.NOT_RECEIVED]


def check_exclusions(ledger, round_: int, evidence: dict[str, list[EncryptedUpdate]], *,
                     shape: tuple[int, int] | None = None, threads: int | None = None) -> list[str]:
    """The exclusions of ``round_`` that public data does not justify, one finding each.

    Args:
      ledger: the chain.
      round_: the round.
      evidence: party -> what it sent, kept by :func:`save_evidence`.
      shape: (values, block size k) every update of the round must have (``None``: unknown, so a
        well-formed, well-proven blob of another size cannot be shown malformed).
      threads: for re-verifying proofs.
    """
    record = ledger.round(round_)
    roles = {p.address: p for p in ledger.participants()}
    findings = []
    for rejection in record.rejections:
        why = _unjustified(ledger, record, rejection.party, RejectReason(rejection.reason),
                           evidence.get(rejection.party, []), roles, shape, threads)
        if why:
            findings.append(f"round {round_}: step exclusions: {rejection.party} excluded as "
                            f"{RejectReason(rejection.reason).name}, but {why}")
    return findings


def _signed_by(ledger, update: EncryptedUpdate, signer: str | None) -> bool:
    from fbh.chain import hashing

    try:
        got = hashing.recover_update_signer(update.signature, round_number=update.round, digest=update.digest,
                                            num_samples=update.num_samples, **signing_domain(ledger))
    except ValueError:
        return False
    return signer is not None and got == signer


def _unjustified(ledger, record, party: str, reason: RejectReason, kept: list[EncryptedUpdate],
                 roles, shape, threads) -> str:
    """Why this exclusion is not justified ("" if it is, or cannot be checked)."""
    from fbh.chain import Role

    committed = record.by_hospital.get(party)
    participant = roles.get(party)
    signer = participant.signer if participant is not None else None
    if reason == RejectReason.NOT_RECEIVED:
        return "" if committed is not None else "it committed nothing that could have gone missing"
    if reason == RejectReason.BAD_SIGNATURE:
        return "a badly signed message is attributed to nobody, so it cannot exclude anyone"
    if reason == RejectReason.NOT_COMMITTED:
        return "" if committed is None else "its commitment is on chain"
    if reason == RejectReason.UNREGISTERED_SENDER:
        registered = participant is not None and participant.role == Role.HOSPITAL and not participant.revoked
        return "it is a registered hospital" if registered else ""
    if reason == RejectReason.REPLAY:
        if committed is None:
            return "it has no commitment that could be a replay"
        earlier = {u.digest for r in range(1, record.round) for u in _accepted_in(ledger, r)}
        return "" if committed.digest in earlier else "its committed digest was never accepted in an earlier round"
    signed = [u for u in kept if u.round == record.round and _signed_by(ledger, u, signer)]
    if reason == RejectReason.DUPLICATE:
        distinct = {(u.digest, u.num_samples) for u in signed}  # as the server groups them
        return "" if len(distinct) >= 2 else "the run directory holds no two different updates it signed"
    if reason == RejectReason.DIGEST_MISMATCH:
        if committed is None:
            return "it has no commitment to mismatch"
        off = [u for u in signed if (u.digest, u.num_samples) != (committed.digest, committed.num_samples)]
        return "" if off else "the run directory holds no update it signed that differs from its commitment"
    if reason in (RejectReason.MALFORMED, RejectReason.INVALID_PROOF):
        if committed is None:
            return "it has no committed blob to fail"
        mine = [u for u in signed if u.digest == committed.digest]
        if not mine:
            return "its committed blob, signed by it, is not kept in the run directory"
        failure = _fails(ledger, record, mine[0], shape, threads)
        return "" if failure else "its committed blob is well formed and its proofs verify"
    if reason in (RejectReason.OUT_OF_RANGE, RejectReason.NO_RANGE_PROOF):
        return ""  # the range audit (fbh.protocol.blame.audit_range) checks the hospital's own signed answer
    return "the reason is not one the protocol knows"


def _accepted_in(ledger, round_: int):
    try:
        return ledger.round(round_).accepted_updates
    except Exception:  # noqa: BLE001 - a round number the chain never had (cancelled ids exist)
        return ()


def _fails(ledger, record, update: EncryptedUpdate, shape: tuple[int, int] | None, threads) -> str:
    """What is wrong with a committed blob ("" if nothing: it parses, has the round's size, proves)."""
    try:
        parsed = fc.PackedCiphertexts.from_bytes(update.blob, threads=threads)
    except ValueError as exc:
        return f"malformed: {exc}"
    if shape is not None and (parsed.count, parsed.k) != shape:
        return f"malformed: {parsed.count} values in blocks of {parsed.k}, the round's are {shape}"
    try:
        parsed.verify(update_context(ledger, record.round, update.hospital), threads=threads)
    except fc.InvalidProof as exc:
        return f"invalid proof: {exc}"
    return ""
