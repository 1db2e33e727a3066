"""Guardians: the parties that jointly hold the decryption key and decrypt each round's sum once.

A :class:`Guardian` owns exactly its own secrets (its ECIES key, its dealing polynomials and
its key shares) and is the only place they are used (electionguard-python's ``guardian.py``).
The key ceremony runs in named steps, each a method taking and returning messages (announce
-> share backups -> verify backups -> finalize), driven by
:class:`fbh.protocol.ceremony.KeyCeremonyMediator`, which holds no secret.

Decryption follows "decrypt once, only the recorded aggregate": asked for a round's share, a
guardian reads the round from the ledger (the accepted hospitals with their commitment digests
and the aggregate digest the server recorded), recomputes the aggregate itself from exactly
the accepted, committed blobs, and refuses anything else: a subset or superset, a blob twice,
a blob that does not match its commitment, an aggregate digest that differs, a round the chain
no longer holds open, or a second aggregate for a round it already answered. Answering the
same aggregate again for another quorum (after a faulty share) reveals nothing new: both
answers are multiples of ``x_i R`` for the one recorded aggregate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from typing import NoReturn

import numpy as np

from fbh import crypto as fc
from fbh.crypto import _ec, ecies, vss
from fbh.crypto._common import NotCopyable
from fbh.crypto import points as pt
from fbh.crypto.chaum_pedersen import DleqProof
from fbh.crypto.hash import hash_elems
from fbh.crypto.threshold import DecryptionShare, make_decryption_share
from fbh.protocol.messages import digest

__all__ = [
    "Announcement",
    "Backup",
    "Complaint",
    "DecryptionRequest",
    "Guardian",
    "Refusal",
    "aggregate_digest",
    "sum_blobs",
]

CEREMONY_TAG = b"FBH/key-ceremony/v1"
DECRYPT_TAG = b"FBH/decryption/v1"


class Refusal(PermissionError):
    """A guardian refused a decryption request; ``reason`` is a short code."""

    def __init__(self, guardian: int, round_: int, reason: str, detail: str) -> None:
        super().__init__(f"guardian {guardian} refused round {round_}: {reason}: {detail}")
        self.guardian, self.round, self.reason, self.detail = guardian, round_, reason, detail


@dataclasses.dataclass(frozen=True)
class Announcement:
    """Step 1: a guardian's index, ECIES public key and Feldman commitments ``uint8[t, k, 64]``."""

    index: int
    enc_key: bytes
    commitments: np.ndarray

    def digest(self) -> bytes:
        return hash_elems(CEREMONY_TAG, self.index, self.enc_key, self.commitments.tobytes())


@dataclasses.dataclass(frozen=True)
class Backup:
    """Step 2: dealer's shares for recipient, ECIES-encrypted to the recipient."""

    dealer: int
    recipient: int
    ciphertext: bytes


@dataclasses.dataclass(frozen=True)
class Complaint:
    """Step 3: the recipient's public opening of a bad backup (K = x E with a DLEQ proof)."""

    backup: Backup
    shared: bytes
    proof: DleqProof


@dataclasses.dataclass(frozen=True)
class DecryptionRequest:
    """What the mediator asks a guardian to decrypt: a round's blobs and the quorum."""

    round: int
    blobs: tuple[tuple[str, bytes], ...]  # (hospital, committed blob)
    quorum: tuple[int, ...]
    # the blame path (issue 9): (hospital, committed blob, its signed range answers) of each party
    # excluded since an earlier aggregate of this round, so a guardian can check the exclusion
    blamed: tuple[tuple[str, bytes, tuple], ...] = ()


def backup_aad(context: bytes, dealer: int, recipient: int) -> bytes:
    return hash_elems(CEREMONY_TAG, context, b"backup", dealer, recipient)


def sum_blobs(blobs, *, threads: int | None = None) -> fc.PackedCiphertexts:
    """The round's aggregate of ``(hospital, blob or ciphertexts)`` pairs, added in address order
    (as the server does: the aggregate's header digest depends on the order)."""
    return fc.aggregate_packed([b for _, b in sorted(blobs, key=lambda hb: hb[0])], threads=threads)


def aggregate_digest(aggregate: fc.PackedCiphertexts) -> bytes:
    """The on-chain digest of an aggregate: SHA-256 of its wire bytes (as for updates)."""
    return digest(aggregate.to_bytes())


def decryption_context(context: bytes, round_: int, agg_digest: bytes) -> bytes:
    """Proof context of a round's decryption shares: deployment, round and the aggregate."""
    return hash_elems(DECRYPT_TAG, context, round_, agg_digest)


class Guardian(NotCopyable):
    """One guardian: index i in 1..n, threshold t, k slot keys.

    Args:
      index: this guardian's x-coordinate (1-based, distinct).
      threshold: shares needed to decrypt.
      k: slots of the packed key set.
      ledger: what the guardian reads rounds from: ``round(r)`` (``status``,
        ``accepted_updates``) and ``trust_record(r).sum_digest``; ``None`` for the ceremony only.
      context: the deployment (chain id, contract) every proof and backup is bound to.
      blob_context: ``(round, hospital) -> bytes``, the packed proofs' context, to re-verify
        each blob's proofs; ``None`` skips that (the server verified them).
      name: who this guardian is (auditor, a hospital) for reports.
      blame_check: ``(round, hospital, blob, answers) -> bool``: whether signed range answers
        prove that hospital out of range (``fbh.protocol.blame.proven_out_of_range``); ``None``:
        no re-aggregation is ever admitted.
    """

    def __init__(self, index: int, threshold: int, k: int, *, ledger=None, context: bytes = b"",
                 blob_context: Callable[[int, str], bytes] | None = None, name: str = "",
                 threads: int | None = None, blame_check: Callable | None = None) -> None:
        if index < 1 or not 1 <= threshold:
            msg = f"guardian index must be >= 1 and threshold >= 1, got {index}, {threshold}"
            raise ValueError(msg)
        self.index, self.threshold, self.k = index, threshold, k
        self.ledger, self.context, self.blob_context = ledger, context, blob_context
        self.name = name or f"guardian {index}"
        self.threads = threads
        self._enc_secret = _ec.SecKey.generate().to_bytes()
        self._poly = vss.Polynomial.generate(k, threshold)
        self._received: dict[int, bytes] = {}  # dealer -> my k shares from it
        self._key_shares: bytes | None = None
        self._answered: dict[int, bytes] = {}  # round -> aggregate digest answered
        self._summed: dict[int, frozenset[str]] = {}  # round -> hospitals in that aggregate
        self.blame_check = blame_check

    def __repr__(self) -> str:
        return f"Guardian(index={self.index}, t={self.threshold}, k={self.k}, <secret>)"

    # --- key ceremony ---------------------------------------------------------------------
    def announce(self) -> Announcement:
        """Step 1: publish the ECIES key and the polynomial commitments."""
        return Announcement(self.index, pt.mul_base(self._enc_secret), self._poly.commitments())

    def share_backups(self, announcements: Sequence[Announcement]) -> list[Backup]:
        """Step 2: ``f_i(m)`` for every other guardian m, encrypted to m's announced key."""
        out = []
        for a in announcements:
            shares = self._poly.evaluate(a.index)
            if a.index == self.index:
                self._received[self.index] = shares
                continue
            aad = backup_aad(self.context, self.index, a.index)
            out.append(Backup(self.index, a.index, ecies.encrypt(a.enc_key, shares, aad)))
        return out

    def verify_backups(self, backups: Sequence[Backup], announcements: Sequence[Announcement]) -> list[Complaint]:
        """Step 3: decrypt and check each backup addressed to me; a public complaint per bad one."""
        by_index = {a.index: a for a in announcements}
        complaints = []
        for b in backups:
            if b.recipient != self.index:
                continue
            try:
                shares = ecies.decrypt(self._enc_secret, b.ciphertext, backup_aad(self.context, b.dealer, b.recipient))
                ok = vss.verify_share(by_index[b.dealer].commitments, self.index, shares)
            except ecies.DecryptionFailed:
                ok = False
            if ok:
                self._received[b.dealer] = shares
            else:
                shared, proof = ecies.open_with_proof(self._enc_secret, b.ciphertext, self.context)
                complaints.append(Complaint(b, shared, proof))
        return complaints

    def finalize(self, qualified: Sequence[int]) -> np.ndarray:
        """Step 4: my key shares ``x_ij = sum_{i in QUAL} f_ij(me)``; returns my ``S_ij`` (uint8[k, 64])."""
        missing = [d for d in qualified if d not in self._received]
        if missing:
            msg = f"guardian {self.index} holds no valid shares from dealers {missing}"
            raise RuntimeError(msg)
        acc = self._received[qualified[0]]
        for d in qualified[1:]:
            s = self._received[d]
            acc = b"".join(_ec._scalar_op("add", acc[i : i + 32], s[i : i + 32]) for i in range(0, len(acc), 32))
        self._key_shares = acc
        self._received.clear()
        return vss.share_public_points(acc)

    # --- surviving a restart ----------------------------------------------------------------
    def save_key(self, path) -> None:
        """Write my key shares for me alone (mode 0600, as :mod:`fbh.protocol.keyring` does for
        role keys): all a restarted guardian needs; nothing else ever reads the file."""
        from fbh.protocol.keyring import write_secret

        if self._key_shares is None:
            msg = f"guardian {self.index} has no key shares yet: the ceremony has not finished"
            raise RuntimeError(msg)
        write_secret(path, {"index": self.index, "threshold": self.threshold, "k": self.k, "name": self.name,
                            "key_shares": self._key_shares.hex()})

    @classmethod
    def load_key(cls, path, verification_keys: np.ndarray, **kwargs) -> Guardian:
        """The guardian whose shares :meth:`save_key` wrote, checked against its published
        verification keys ``S_ij`` (``kwargs``: ledger, context, blob_context, threads).

        Raises:
          UnusableRunDir: the file is missing, damaged or not this ceremony's guardian.
        """
        from fbh.errors import UnusableRunDir
        from fbh.protocol.keyring import read_secret

        record = read_secret(path)
        try:
            g = cls(int(record["index"]), int(record["threshold"]), int(record["k"]), name=record["name"], **kwargs)
            shares = bytes.fromhex(record["key_shares"])
            ok = np.array_equal(vss.share_public_points(shares), verification_keys)
        except (KeyError, ValueError, TypeError):
            ok = False
        if not ok:
            raise UnusableRunDir(f"{path} does not hold the key shares of the guardian published on chain",
                                 "re-run instead of resuming")
        g._key_shares = shares
        return g

    def save_state(self, path) -> None:
        """Write everything I hold (0600): mid-ceremony my ECIES key, polynomial and the shares
        received so far; afterwards only my key shares, as :meth:`save_key` writes them; and which
        aggregate I answered per round, so the once-per-round rule survives a restart.  A guardian
        on its own node (:mod:`fbh.flower.guardians`) runs each message in a fresh process."""
        from fbh.protocol.keyring import write_secret

        record = {"index": self.index, "threshold": self.threshold, "k": self.k, "name": self.name,
                  "answered": {str(r): d.hex() for r, d in self._answered.items()},
                  "summed": {str(r): sorted(h) for r, h in self._summed.items()}}
        if self._key_shares is not None:
            record["key_shares"] = self._key_shares.hex()
        else:
            record |= {"enc_secret": self._enc_secret.hex(), "poly": self._poly.to_bytes().hex(),
                       "received": {str(d): s.hex() for d, s in self._received.items()}}
        write_secret(path, record)

    @classmethod
    def load_state(cls, path, **kwargs) -> Guardian:
        """The guardian :meth:`save_state` wrote (``kwargs``: ledger, context, blob_context, threads,
        blame_check).

        Raises:
          UnusableRunDir: the file is missing or damaged.
        """
        from fbh.errors import UnusableRunDir
        from fbh.protocol.keyring import read_secret

        record = read_secret(path)
        try:
            g = cls(int(record["index"]), int(record["threshold"]), int(record["k"]), name=record["name"], **kwargs)
            if "key_shares" in record:
                g._key_shares = bytes.fromhex(record["key_shares"])
            else:
                g._enc_secret = bytes.fromhex(record["enc_secret"])
                g._poly = vss.Polynomial.from_bytes(bytes.fromhex(record["poly"]), g.k, g.threshold)
                g._received = {int(d): bytes.fromhex(s) for d, s in record["received"].items()}
            g._answered = {int(r): bytes.fromhex(d) for r, d in record["answered"].items()}
            g._summed = {int(r): frozenset(h) for r, h in record["summed"].items()}
        except (KeyError, ValueError, TypeError, AttributeError):
            raise UnusableRunDir(f"{path} does not hold a guardian's state", "re-run the key ceremony") from None
        return g

    # --- decryption -----------------------------------------------------------------------
    def _check_request(self, request: DecryptionRequest) -> fc.PackedCiphertexts:
        r = request.round

        def refuse(reason: str, detail: str) -> NoReturn:
            raise Refusal(self.index, r, reason, detail)

        if self._key_shares is None:
            refuse("no-key", "the key ceremony has not finished")
        if self.index not in request.quorum:
            refuse("not-in-quorum", f"quorum {list(request.quorum)}")
        info = self.ledger.round(r)
        if getattr(info.status, "name", "") != "OPEN":
            refuse("round-closed", f"round is {getattr(info.status, 'name', info.status)}, already decrypted or never open")
        recorded = self.ledger.trust_record(r).sum_digest
        if recorded is None:
            refuse("no-aggregate", "no aggregate digest recorded on chain (recordSum)")
        if r in self._answered and self._answered[r] != recorded and not self._admits_reaggregation(request, info):
            refuse("second-aggregate", "already answered another aggregate for this round")
        accepted = {u.hospital: u.digest for u in info.accepted_updates}
        hospitals = [h for h, _ in request.blobs]
        digests = [digest(b) for _, b in request.blobs]
        if len(set(hospitals)) != len(hospitals) or len(set(digests)) != len(digests):
            refuse("duplicate", "a hospital or a blob appears twice")
        if set(hospitals) != set(accepted):
            refuse("not-the-accepted-set", f"{len(set(hospitals) & set(accepted))} of {len(accepted)} accepted "
                   f"hospitals, {len(set(hospitals) - set(accepted))} not accepted")
        for h, d in zip(hospitals, digests, strict=True):
            if accepted[h] != d:
                refuse("not-committed", f"the blob of {h} is not its on-chain commitment")
        cts = [fc.PackedCiphertexts.from_bytes(b, threads=self.threads) for _, b in request.blobs]
        if self.blob_context is not None:
            for h, ct in zip(hospitals, cts, strict=True):
                try:
                    ct.verify(self.blob_context(r, h), threads=self.threads)
                except fc.InvalidProof as exc:
                    refuse("bad-proof", f"blob of {h}: {exc}")
        aggregate = sum_blobs(zip(hospitals, cts, strict=True), threads=self.threads)
        if aggregate_digest(aggregate) != recorded:
            refuse("aggregate-mismatch", "the accepted blobs do not sum to the recorded aggregate")
        return aggregate

    def _admits_reaggregation(self, request: DecryptionRequest, info) -> bool:
        """The one exception to "one aggregate per round" (issue 9's blame path): since my answer the
        chain excluded, as OUT_OF_RANGE or NO_RANGE_PROOF, hospitals I summed, and each one cannot
        prove its range where the sum failed: its own signed answer fails for its committed blob, or
        it left the challenge unanswered and does not answer me either (``blame_check``). Decrypting
        both sums reveals only the values of those that could not show they were in range."""
        from fbh.chain.records import RejectReason

        before = self._summed.get(request.round, frozenset())
        now = {u.hospital for u in info.accepted_updates}
        gone = before - now
        evidence = {h: (blob, answers) for h, blob, answers in request.blamed}
        if not gone or not now < before or self.blame_check is None:
            return False
        for h in gone:
            record = info.by_hospital.get(h)
            if record is None or h not in evidence or \
                    record.reject_reason not in (RejectReason.OUT_OF_RANGE, RejectReason.NO_RANGE_PROOF):
                return False
            blob, answers = evidence[h]
            if digest(blob) != record.digest or not self.blame_check(request.round, h, blob, answers):
                return False
        return True

    def decrypt_share(self, request: DecryptionRequest, *, constant_time: bool = True) -> DecryptionShare:
        """My pre-scaled, proven share of the round's recorded aggregate, or :class:`Refusal`."""
        aggregate = self._check_request(request)
        agg = aggregate_digest(aggregate)
        self._answered[request.round] = agg
        self._summed[request.round] = frozenset(h for h, _ in request.blobs)
        return make_decryption_share(
            self.index, self._key_shares, list(request.quorum), aggregate,
            decryption_context(self.context, request.round, agg), threads=self.threads,
            constant_time=constant_time,
        )
