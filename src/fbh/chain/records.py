"""Plain Python views of what the registry contract stores.

The enums mirror the contract's (``Role``, ``Status``); reason codes for
excluded parties are fbh's convention, stored on chain as ``uint16``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

__all__ = [
    "CancelReason",
    "ParticipantRecord",
    "RejectReason",
    "RejectionRecord",
    "Role",
    "RoundRecord",
    "RoundStatus",
    "TxResult",
    "UpdateRecord",
]

MAX_BPS = 10_000
_ZERO32 = bytes(32)


class Role(enum.IntEnum):
    """A participant's role; matches ``UpdateRegistry.Role``."""

    NONE = 0
    SERVER = 1
    HOSPITAL = 2
    AUDITOR = 3


class RoundStatus(enum.IntEnum):
    """A round's stage; matches ``UpdateRegistry.Status``."""

    NONE = 0
    OPEN = 1
    AGGREGATED = 2
    APPROVED = 3
    REJECTED = 4
    CANCELLED = 5


class RejectReason(enum.IntEnum):
    """Why the server excluded a party from a round (0 is reserved: accepted)."""

    DIGEST_MISMATCH = 1  # blob bytes do not hash to the on-chain commitment
    UNREGISTERED_SENDER = 2  # sender is not a registered hospital
    REPLAY = 3  # blob belongs to another round or deployment
    DUPLICATE = 4  # a second blob from the same hospital in one round
    BAD_SIGNATURE = 5  # the blob's signature does not recover to the sender's signer
    NOT_COMMITTED = 6  # a blob arrived without a commitment on chain
    MALFORMED = 7  # the blob does not parse as a ciphertext
    NOT_RECEIVED = 8  # committed on chain, but no validly signed update reached the server
    INVALID_PROOF = 9  # the ciphertext's proofs fail for its sender, round and deployment
    OUT_OF_RANGE = 10  # its range proof fails at a sampled or blamed coordinate (fbh.protocol.range_check)
    NO_RANGE_PROOF = 11  # it did not answer the range challenge


class CancelReason(enum.IntEnum):
    """Why a round was cancelled; matches ``UpdateRegistry.CancelReason`` (0 is reserved)."""

    INTERRUPTED = 1  # the run crashed or was stopped; a resumed run redoes the round
    NO_USABLE_UPDATES = 2  # every update was refused
    DECRYPTION_FAILED = 3  # the aggregate could not be decrypted
    AUDIT_TIMEOUT = 4  # no auditor verdict in time
    ADMINISTRATIVE = 5  # the admin stopped it


def _reason(code: int) -> RejectReason | int:
    try:
        return RejectReason(code)
    except ValueError:
        return code  # a code from a newer fbh; keep the number


def _address_or_none(address: str) -> str | None:
    return None if int(address, 16) == 0 else address


@dataclass(frozen=True)
class TxResult:
    """A mined transaction: what was called, where, and its gas."""

    function: str
    tx_hash: bytes
    block_number: int
    gas_used: int
    contract_address: str | None = None


@dataclass(frozen=True)
class ParticipantRecord:
    """A registered account; ``role`` is ``Role.NONE`` if unregistered."""

    address: str
    role: Role
    signer: str | None
    revoked: bool = False

    @classmethod
    def from_chain(cls, raw: tuple[Any, ...]) -> ParticipantRecord:
        """Builds the record from the contract's ``ParticipantView`` tuple."""
        return cls(address=raw[0], role=Role(raw[1]), signer=_address_or_none(raw[2]), revoked=bool(raw[3]))


@dataclass(frozen=True)
class UpdateRecord:
    """One hospital's commitment in one round."""

    hospital: str
    digest: bytes
    num_samples: int
    block_number: int
    reject_reason: RejectReason | int | None

    @property
    def accepted(self) -> bool:
        """Whether the server has not excluded this update."""
        return self.reject_reason is None


@dataclass(frozen=True)
class RejectionRecord:
    """A party the server excluded from a round, with the reason."""

    party: str
    reason: RejectReason | int


@dataclass(frozen=True)
class RoundRecord:
    """Everything the chain holds about one round.

    ``updates`` are in hospital registration order; digests are None until
    recorded; ``accuracy_bps`` and ``auditor`` are None until audited.
    """

    round: int
    status: RoundStatus
    updates: tuple[UpdateRecord, ...]
    rejections: tuple[RejectionRecord, ...]
    aggregate_digest: bytes | None
    model_hash: bytes | None
    accuracy_bps: int | None
    auditor: str | None
    opened_block: int
    aggregated_block: int | None
    audited_block: int | None
    cancel_reason: CancelReason | None = None

    @classmethod
    def from_chain(cls, raw: tuple[Any, ...]) -> RoundRecord:
        """Builds the record from the contract's ``RoundView`` tuple."""
        (number, status, bps, opened, aggregated, audited, auditor, aggregate, model,
         updates, rejections, cancel_reason) = raw
        audited_yet = audited != 0
        return cls(
            round=number,
            status=RoundStatus(status),
            updates=tuple(UpdateRecord(u[0], bytes(u[1]), u[2], u[3], _reason(u[4]) if u[4] else None)
                          for u in updates),
            rejections=tuple(RejectionRecord(r[0], _reason(r[1])) for r in rejections),
            aggregate_digest=None if bytes(aggregate) == _ZERO32 else bytes(aggregate),
            model_hash=None if bytes(model) == _ZERO32 else bytes(model),
            accuracy_bps=bps if audited_yet else None,
            auditor=_address_or_none(auditor),
            opened_block=opened,
            aggregated_block=aggregated or None,
            audited_block=audited or None,
            cancel_reason=CancelReason(cancel_reason) if cancel_reason else None,
        )

    @property
    def by_hospital(self) -> dict[str, UpdateRecord]:
        """The updates keyed by hospital address."""
        return {u.hospital: u for u in self.updates}

    @property
    def rejected(self) -> frozenset[str]:
        """Addresses the server excluded this round (committed or not)."""
        return frozenset(r.party for r in self.rejections)

    @property
    def accepted_updates(self) -> tuple[UpdateRecord, ...]:
        """The updates the server did not exclude."""
        return tuple(u for u in self.updates if u.accepted)

    @property
    def total_samples(self) -> int:
        """Sample count behind the accepted updates (the FedAvg denominator)."""
        return sum(u.num_samples for u in self.accepted_updates)

    @property
    def approved(self) -> bool:
        """Whether an auditor approved the round's model."""
        return self.status is RoundStatus.APPROVED

    @property
    def accuracy(self) -> float | None:
        """The auditor's validation accuracy as a fraction, if audited."""
        return None if self.accuracy_bps is None else self.accuracy_bps / MAX_BPS


@dataclass(frozen=True)
class TrustRecord:
    """What a guardian-run round binds on chain (digests are None until recorded)."""

    start_model: bytes | None
    sum_digest: bytes | None
    shares_digest: bytes | None
    params_digest: bytes | None

    @classmethod
    def from_chain(cls, raw: tuple[Any, ...]) -> TrustRecord:
        vals = [None if bytes(v) == _ZERO32 else bytes(v) for v in raw]
        return cls(*vals)
