"""Mediators of the guardians' key ceremony and decryptions: they collect, check and forward,
and hold no secret (electionguard-python's ``key_ceremony_mediator.py`` and
``decryption_mediator.py``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from fbh import crypto as fc
from fbh.crypto import ecies, vss
from fbh.crypto.hash import hash_elems
from fbh.crypto.keyset import KEYSET_MAGIC, KEYSET_VERSION, _HEADER
from fbh.crypto.threshold import DecryptionShare, combine_shares
from fbh.protocol.guardian import (
    CEREMONY_TAG,
    Announcement,
    Complaint,
    DecryptionRequest,
    Refusal,
    aggregate_digest,
    backup_aad,
    decryption_context,
    sum_blobs,
)

__all__ = [
    "CeremonyResult",
    "DecryptionMediator",
    "DecryptionResult",
    "GuardianUnavailable",
    "KeyCeremonyMediator",
    "ThresholdNotMet",
    "complaint_is_justified",
]


class GuardianUnavailable(ConnectionError):
    """A guardian did not answer (offline, crashed)."""


class ThresholdNotMet(RuntimeError):
    """Fewer than t guardians gave valid shares; ``result`` says who failed how."""

    def __init__(self, msg: str, result: DecryptionResult) -> None:
        super().__init__(msg)
        self.result = result


def complaint_is_justified(complaint: Complaint, announcements: Mapping[int, Announcement], context: bytes) -> bool:
    """Public check of a complaint: True if the dealer really sent a bad backup.

    The recipient's opening ``K`` is checked with its DLEQ proof; anyone then decrypts the
    backup and tests the shares against the dealer's commitments. A false complaint (a good
    share, or an opening that does not verify) returns False and blames the complainer.
    """
    b = complaint.backup
    recipient, dealer = announcements[b.recipient], announcements[b.dealer]
    if not ecies.verify_opening(recipient.enc_key, b.ciphertext, complaint.shared, complaint.proof, context):
        return False
    try:
        shares = ecies.decrypt_with_point(recipient.enc_key, complaint.shared, b.ciphertext,
                                          backup_aad(context, b.dealer, b.recipient))
    except ecies.DecryptionFailed:
        return True
    return not vss.verify_share(dealer.commitments, b.recipient, shares)


@dataclasses.dataclass(frozen=True)
class CeremonyResult:
    """The public outcome: joint key set, each guardian's verification keys, who was disqualified."""

    public: fc.PublicKeySet
    verification_keys: dict[int, np.ndarray]
    qualified: tuple[int, ...]
    disqualified: tuple[int, ...]
    false_complaints: tuple[int, ...]
    record_digest: bytes  # hash of all announcements: what goes on chain


class KeyCeremonyMediator:
    """Runs announce -> share backups -> verify backups -> finalize over the guardians."""

    def __init__(self, guardians: Sequence, *, threshold: int, context: bytes = b"") -> None:
        if not 1 <= threshold <= len(guardians):
            msg = f"threshold must be in [1, {len(guardians)}] for {len(guardians)} guardians, got {threshold}"
            raise ValueError(msg)
        self.guardians, self.threshold, self.context = list(guardians), threshold, context

    def run(self) -> CeremonyResult:
        announcements = [g.announce() for g in self.guardians]
        by_index = {a.index: a for a in announcements}
        if len(by_index) != len(announcements):
            msg = "guardian indices must be distinct"
            raise ValueError(msg)
        shape = (self.threshold, self.guardians[0].k, 64)
        disqualified = {a.index for a in announcements if a.commitments.shape != shape}
        backups = [b for g in self.guardians for b in g.share_backups(announcements)]
        complaints = [c for g in self.guardians for c in g.verify_backups(backups, announcements)]
        false = set()
        for c in complaints:
            if complaint_is_justified(c, by_index, self.context):
                disqualified.add(c.backup.dealer)
            else:
                false.add(c.backup.recipient)
        qualified = sorted(set(by_index) - disqualified)
        if not qualified:
            msg = "every dealer was disqualified"
            raise RuntimeError(msg)
        keys = {g.index: g.finalize(qualified) for g in self.guardians if g.index not in false}
        joint = vss.joint_public_points([by_index[i].commitments for i in qualified])
        k = joint.shape[0]
        public = fc.PublicKeySet.from_bytes(_HEADER.pack(KEYSET_MAGIC, KEYSET_VERSION, 0, k) + joint.tobytes())
        for i, s in keys.items():  # each guardian's keys are implied by the public commitments
            want = vss.joint_public_points([vss.expected_share_keys(by_index[d].commitments, i)[None] for d in qualified])
            if not np.array_equal(s, want):
                msg = f"guardian {i}'s key shares do not match the commitments"
                raise RuntimeError(msg)
        record = hash_elems(CEREMONY_TAG, self.context, *(a.digest() for a in announcements),
                            bytes(qualified))
        return CeremonyResult(public, keys, tuple(qualified), tuple(sorted(disqualified)), tuple(sorted(false)), record)


@dataclasses.dataclass
class DecryptionResult:
    """A round's decryption: values (None if it failed), the shares used, and who failed how."""

    round: int
    values: np.ndarray | None = None
    shares: list[DecryptionShare] = dataclasses.field(default_factory=list)
    invalid: list[int] = dataclasses.field(default_factory=list)  # shares whose proof failed
    refused: list[Refusal] = dataclasses.field(default_factory=list)
    absent: list[int] = dataclasses.field(default_factory=list)

    def summary(self) -> dict:
        return {
            "round": self.round,
            "quorum": [s.index for s in self.shares],
            "share_digests": [s.digest().hex() for s in self.shares],
            "invalid_shares": list(self.invalid),
            "refused": [{"guardian": r.guardian, "reason": r.reason, "detail": r.detail} for r in self.refused],
            "absent": list(self.absent),
        }


class DecryptionMediator:
    """Asks quorums of t guardians for shares, checks every proof, combines the first valid quorum.

    Args:
      guardians: index -> guardian (anything with ``decrypt_share``), ``None`` if absent.
      verification_keys: index -> the guardian's public ``S_ij`` from the ceremony.
      threshold: t.
      context: the deployment context the guardians bind their proofs to.
    """

    def __init__(self, guardians: Mapping[int, object | None], verification_keys: Mapping[int, np.ndarray],
                 *, threshold: int, context: bytes = b"", threads: int | None = None) -> None:
        self.guardians, self.keys = dict(guardians), dict(verification_keys)
        self.threshold, self.context, self.threads = threshold, context, threads

    def decrypt(self, round_: int, blobs: Sequence[tuple[str, bytes]], *, bound: int,
                constant_time: bool = True, blamed: tuple = ()) -> DecryptionResult:
        """Decrypt the round's recorded aggregate of ``blobs``; raises :class:`ThresholdNotMet`.

        ``blamed``: evidence for a recorded re-aggregation (:class:`DecryptionRequest`)."""
        result = DecryptionResult(round_)
        aggregate = sum_blobs(blobs, threads=self.threads)
        ctx = decryption_context(self.context, round_, aggregate_digest(aggregate))
        candidates = sorted(i for i in self.guardians if i in self.keys)
        result.absent = sorted(i for i, g in self.guardians.items() if g is None)
        candidates = [i for i in candidates if i not in result.absent]
        while len(candidates) >= self.threshold:
            quorum = candidates[: self.threshold]
            request = DecryptionRequest(round_, tuple(blobs), tuple(quorum), tuple(blamed))
            good, failed = [], []
            for i in quorum:
                try:
                    share = self.guardians[i].decrypt_share(request, constant_time=constant_time)
                except GuardianUnavailable:
                    result.absent.append(i)
                    failed.append(i)
                    continue
                except Refusal as exc:
                    result.refused.append(exc)
                    failed.append(i)
                    continue
                if share.index == i and share.is_valid(self.keys[i], aggregate, ctx, threads=self.threads):
                    good.append(share)
                else:
                    result.invalid.append(i)
                    failed.append(i)
            if not failed:
                result.values = combine_shares(aggregate, good, bound=bound, threads=self.threads)
                result.shares = good
                return result
            candidates = [i for i in candidates if i not in failed]
        msg = (f"round {round_}: fewer than {self.threshold} guardians gave valid shares "
               f"(invalid {result.invalid}, refused {[r.guardian for r in result.refused]}, absent {result.absent})")
        raise ThresholdNotMet(msg, result)
