"""The steps of one encrypted round, shared by every driver of the roles.

:class:`fbh.protocol.session.Session` runs all roles in one process;
:mod:`fbh.flower` runs each on its own Flower node.  Both call these
functions, so a round's protocol is written once: what seeds a hospital's
training and rounding (:func:`client_keys`, :func:`rounding_seed`), what a
hospital does with its update (:func:`contribute`), what the server does with
what arrives (:func:`collect`) and what a round reports (:func:`outcome`).
The same seed then gives the same model bit for bit, whichever driver ran it.
"""

from __future__ import annotations

import contextlib
from typing import Any

import jax
import numpy as np

from fbh.protocol import blame, exclusions, retention
from fbh.protocol import messages as msg

__all__ = ["client_keys", "collect", "contribute", "no_timer", "outcome", "rounding_seed"]


@contextlib.contextmanager
def _nothing(_stage: str):
    yield


no_timer = _nothing  # a timer that records nothing, for drivers that time elsewhere


def client_keys(seed: int, step: int, count: int) -> jax.Array:
    """The PRNG keys of the ``count`` hospitals training in step ``step``, in sampling order.

    ``FederatedTrainer.round`` splits the round key the same way, so the
    hospital at position ``j`` of the sample trains with ``keys[j]`` whether
    it trains alone (:meth:`fbh.train.FederatedTrainer.train_clients`) or
    vmapped with the others.
    """
    return jax.random.split(jax.random.fold_in(jax.random.key(seed), step), count)


def rounding_seed(seed: int, step: int, position: int) -> int:
    """Seed of the stochastic rounding of the hospital at ``position`` of step ``step``'s sample."""
    return int(np.random.default_rng([seed, step, position]).integers(2**63))


def contribute(hospital, plan: msg.RoundPlan, delta: np.ndarray, seed: int, timer=no_timer, *,
               cheat=None, index: int = -1, previous=()) -> tuple[msg.EncryptedUpdate, int]:
    """A hospital's steps: quantize, encrypt and sign, commit; returns (update, clipped values).

    ``cheat`` (:class:`fbh.protocol.cheats.Cheat`, for ``--attack``) may replace what
    hospital ``index`` encrypts; ``previous`` are the updates committed before it.
    """
    with timer(msg.QUANTIZE):
        q, n_clipped = hospital.quantize(plan, delta, seed=seed)
        if cheat is not None:
            q = cheat.values(index, q, seed)
    with timer(msg.ENCRYPT):
        update = hospital.encrypt(plan, q) if cheat is None else cheat.encrypt(index, hospital, plan, q, list(previous))
    with timer("chain"):
        hospital.commit(update)
    return update, n_clipped


def collect(server, run_dir, plan: msg.RoundPlan, updates: list[msg.EncryptedUpdate], num_values: int,
            keep: str, timer=no_timer, ranges=None, screen=None) -> tuple[list, list, bytes]:
    """The server's steps on what arrived: verify, range-check, keep the accepted blobs, add them.

    Returns ``(accepted, rejected, aggregate wire bytes)``; the blobs, the evidence
    behind every recorded exclusion and, under ``keep`` = until-approved, the
    aggregate go to ``run_dir``.  ``ranges`` (:class:`fbh.protocol.blame.RangeStage`)
    checks each sender's sampled coordinates; the senders that fail are rejected.
    ``screen(accepted, rejected)`` may edit both lists in place before anything is
    kept (a misbehaving server's ``--attack``).
    """
    with timer(msg.VERIFY):
        accepted, rejected = server.verify(plan, updates, num_values)
    if ranges is not None:
        with timer(blame.STAGE):
            accepted, out_of_range = ranges.sampled(plan, accepted)
        rejected = rejected + out_of_range
    if screen is not None:
        screen(accepted, rejected)
    with timer("storage"):
        for update in accepted:
            run_dir.save_update(plan.round, update.hospital, update.blob, update.signature)
        exclusions.keep_evidence(run_dir.round_dir(plan.round), rejected)
    with timer(msg.AGGREGATE):
        aggregate = server.aggregate(plan, accepted)
    if keep == retention.UNTIL_APPROVED:  # what stays of the round once its blobs go
        with timer("storage"):
            run_dir.save_aggregate(plan.round, aggregate)
    return accepted, rejected, aggregate


def outcome(accepted: list, rejected: list, clipped: int, invited: int, num_values: int) -> dict[str, Any]:
    """A round's metrics on who got in; the ``_``-keys are for the driver, not for metrics.json."""
    return {
        "accepted": len(accepted),
        "rejected": [{"hospital": r.hospital, "reason": r.reason, "detail": r.detail, "recorded": r.recorded}
                     for r in rejected],
        "clipped_fraction": clipped / (invited * num_values),
        "encrypted_values": int(num_values),
        "_accepted": {u.hospital: u.blob for u in accepted},
        "_digests": {u.hospital: u.digest for u in accepted},
    }
