"""Who sent an update: the party whose key signed it, never the name it claims.

An :class:`~fbh.protocol.messages.EncryptedUpdate` carries a ``hospital``
field, but nothing binds that field to anything: anyone can send bytes that
name a victim.  What only a hospital can produce is its EIP-712 signature
over (chain, contract, round, SHA-256(blob), sample count).  So the server
first recovers the signer — for the round the update itself claims — and
attributes the update to the registered party with that signing key:

- a signature that recovers to no registered signer is *noise*: dropped,
  reported, and never recorded against anyone (ECDSA recovery of junk
  yields some random address, so this covers unsigned and mis-signed data);
- a signature that recovers to the very address the update claims, but that
  address is not a hospital of this round, is an *outsider*'s own update;
- a valid signature for another round is *stale* (or early): only reported,
  because anyone holding a hospital's old message can replay it, and that
  must not get the hospital excluded from the current round.

Only updates validly signed for the current round count towards a
hospital's submissions; "duplicate" therefore means that the hospital itself
signed two different updates for the round.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

from fbh.protocol.messages import EncryptedUpdate, RoundPlan, signer_of

__all__ = ["NOISE", "OUTSIDER", "STALE", "Attribution", "attribute", "group_by_sender", "hospital_signers"]

NOISE = "bad-signature"  # recovers to no registered signer: attributed to nobody
OUTSIDER = "unregistered"  # correctly self-signed by an address that is not a hospital of this round
STALE = "wrong-round"  # validly signed by a hospital, for another round


@dataclasses.dataclass(frozen=True)
class Attribution:
    """The outcome of authenticating one update.

    Attributes:
      update: the update, its ``hospital`` field replaced by the signer's
        account when one was found.
      sender: the account the update is attributed to; ``None`` for noise.
      problem: ``None`` when validly signed for the round by one of its
        hospitals, else :data:`NOISE`, :data:`OUTSIDER` or :data:`STALE`.
      detail: a human-readable explanation of ``problem``.
    """

    update: EncryptedUpdate
    sender: str | None
    problem: str | None = None
    detail: str = ""


def hospital_signers(ledger, plan: RoundPlan) -> dict[str, str]:
    """signing address -> hospital account, from the chain's registrations.

    Without a chain every hospital of the round signs with its own account.
    """
    if ledger is None:
        return {address: address for address in plan.weights}
    from fbh.chain import Role

    return {p.signer: p.address for p in ledger.participants() if p.role is Role.HOSPITAL and p.signer}


def attribute(plan: RoundPlan, update: EncryptedUpdate, ledger, signers: dict[str, str]) -> Attribution:
    """Authenticate ``update`` and attribute it to the party that signed it.

    Args:
      plan: the round being collected.
      update: the update as received.
      ledger: the chain (binds signatures to its id and contract) or ``None``.
      signers: :func:`hospital_signers`.
    """
    try:
        signer = signer_of(update, ledger, update.round)
    except ValueError as exc:
        return Attribution(update, None, NOISE, f"claims to be from {update.hospital}: {exc}")
    account = signers.get(signer)
    if account is None:
        if signer == update.hospital:  # a well-formed signature by someone we do not know
            return Attribution(update, signer, OUTSIDER, f"{signer} is not a registered hospital")
        return Attribution(update, None, NOISE,
                           f"claims to be from {update.hospital}, but no registered key signed it")
    update = dataclasses.replace(update, hospital=account)
    if update.round != plan.round:
        return Attribution(update, account, STALE,
                           f"signed by {account} for round {update.round}, received in round {plan.round}")
    if account not in plan.weights:
        return Attribution(update, account, OUTSIDER, f"{account} is not a hospital of round {plan.round}")
    return Attribution(update, account)


def group_by_sender(attributions: Iterable[Attribution]) -> dict[str, list[EncryptedUpdate]]:
    """The round's validly signed updates per hospital; copies of one signed message count once.

    Two messages with the same signed content (digest, sample count) are the
    same update even if their signature bytes differ (ECDSA signatures are
    malleable), so re-sending or re-encoding a hospital's message cannot make
    it a "duplicate".
    """
    out: dict[str, dict[tuple[bytes, int], EncryptedUpdate]] = {}
    for a in attributions:
        if a.problem is None:
            out.setdefault(a.sender, {}).setdefault((a.update.digest, a.update.num_samples), a.update)
    return {sender: list(msgs.values()) for sender, msgs in out.items()}
