"""How long a run directory keeps each hospital's ciphertext blob (``fbh run --keep-updates``).

Individual blobs are by far the largest thing a run writes (10 hospitals ×
one ciphertext per parameter, every round), yet after the auditor has
approved a round on chain they are only needed to re-check that the
recorded aggregate is their sum.  Two policies:

- ``all``: keep every blob; ``fbh audit`` re-verifies everything it can
  from public data (each blob against its commitment and signature, the sum
  of the accepted blobs against the recorded aggregate, each model hash).
- ``until-approved``: keep the round's aggregate, every signature and the
  digests; delete the individual blobs once the auditor has approved the
  round on chain (a rejected round keeps them all, for the investigation).
  ``fbh audit`` then verifies the signatures, the digests and the aggregate
  against the chain, and says that the sum itself was checked only by the
  auditor during the run.

``auto`` (the default) keeps everything for runs of at most
:data:`AUTO_KEEP_ALL_ROUNDS` rounds — the demo stays fully auditable — and
prunes after approval beyond that, so the paper preset's 70 rounds keep one
aggregate per round instead of ten blobs.
"""

from __future__ import annotations

__all__ = ["ALL", "AUTO", "AUTO_KEEP_ALL_ROUNDS", "POLICIES", "UNTIL_APPROVED", "resolve"]

ALL = "all"
UNTIL_APPROVED = "until-approved"
AUTO = "auto"
POLICIES = (AUTO, ALL, UNTIL_APPROVED)
AUTO_KEEP_ALL_ROUNDS = 10  # the default demo runs 3 rounds; the paper preset 70


def resolve(policy: str, rounds: int) -> str:
    """The concrete policy (``all`` or ``until-approved``) a run of ``rounds`` rounds uses.

    Raises:
      ValueError: for an unknown policy name.
    """
    if policy not in POLICIES:
        msg = f"--keep-updates must be one of {', '.join(POLICIES)}, got {policy!r}"
        raise ValueError(msg)
    if policy == AUTO:
        return ALL if rounds <= AUTO_KEEP_ALL_ROUNDS else UNTIL_APPROVED
    return policy
