"""Range checks over Flower: the server's challenges go to each hospital's node, the answers come back.

The server runs the in-process run's range stage unchanged
(:class:`fbh.protocol.blame.RangeStage`: the public sample from the chain's
block hash, batched verification, exclusion on chain with the reason, the
blame path when a sum does not decode); only how a hospital is asked differs:
:func:`ask_range` sends stage :data:`~fbh.flower.records.RANGE` to its node,
where :func:`answer` proves its committed values in range and signs the answer.
A hospital that does not answer, or cannot prove, is excluded as
``no-range-proof``, as in-process.

A hospital keeps the round's opening (blob, values, nonces) in its own folder
(:meth:`fbh.protocol.client.Hospital.save_opening`, 0600): Flower runs the
challenge in another process than the one that encrypted.  ``--attack`` kinds a
hospital plays on its own (``out-of-range``, ``inflate-weight``, ``wrong-key``)
are played by that hospital's node (:mod:`fbh.protocol.cheats`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from fbh.flower import records as r
from fbh.flower import site

__all__ = ["FLOWER_ATTACKS", "RemoteKgc", "answer", "ask_range", "cheat_of", "opening_path", "range_stage"]

# what one hospital's node can play alone ("copy" needs the blob of the hospital before it)
FLOWER_ATTACKS = ("out-of-range", "inflate-weight", "wrong-key")
OPENING = "opening.npz"


def opening_path(folder: Path) -> Path:
    return folder / OPENING


def cheat_of(attack: str | None, party):
    """The ``--attack`` cheat this hospital's node plays (only the target acts on it), or None."""
    from fbh.protocol import cheats

    cheat = cheats.parse(attack)
    return None if cheat is None else cheat.bind({cheat.party: party.role})


# --- the hospital's node ---------------------------------------------------------------------
def answer(context, fields: dict[str, Any], arrays: dict[str, np.ndarray], party) -> tuple[dict, dict]:
    """Stage range (hospital): signed range proofs at the named coordinates of its committed blob,
    or ``refused`` with why (no blob of that round, a value out of its range)."""
    from fbh.protocol import blame

    party.role.load_opening(opening_path(site.node_folder(context)))
    cheat = cheat_of(party.config.attack, party)
    respond = blame.honest_answer if cheat is None else cheat.answer
    try:
        got = respond(party.role, int(fields["round"]), arrays["indices"], int(fields["bound"]),
                      bytes(fields["context"]))
    except (ValueError, LookupError) as exc:
        return {"refused": str(exc)}, {}
    if got is None:
        return {"refused": "no answer"}, {}
    proofs, signature = got
    return {"signature": signature}, {"proofs": np.asarray(proofs)}


# --- the server's side -----------------------------------------------------------------------
def ask_range(run, node: int, round_: int, indices: np.ndarray, bound: int, context: bytes):
    """``RangeStage``'s ``answer``: hospital node ``node``'s ``(proofs, signature)``.

    Raises:
      LookupError: the node did not answer or refused (``RangeStage`` records no range proof).
    """
    ask = {"round": round_, "bound": int(bound), "context": bytes(context)}
    try:
        (fields, out), = run.ask(r.RANGE, {node: (ask, {"indices": np.asarray(indices, np.int64)})},
                                 str(round_)).values()
    except r.NodeFailed as exc:
        raise LookupError(str(exc)) from None
    if "refused" in fields:
        raise LookupError(str(fields["refused"]))
    return out["proofs"], bytes(fields["signature"])


def range_stage(run, round_: int):
    """The round's :class:`~fbh.protocol.blame.RangeStage`, its hospitals reached on their nodes."""
    from fbh.protocol import blame

    return blame.RangeStage(run.server, {address: node for node, address in run.hospitals}, run.public_key,
                            run.config.range_samples, run.run_dir.round_dir(round_),
                            answer=lambda node, *args: ask_range(run, node, *args))


class RemoteKgc:
    """KGC mode: the registrar's node decrypts (``decrypt_sum``, as ``blame.decrypt_kgc`` calls it)."""

    def __init__(self, run) -> None:
        self.run = run

    def decrypt_sum(self, round_: int, blobs: list[bytes], *, bound: int, min_parties: int,
                    constant_time: bool) -> np.ndarray:
        from fbh import crypto as fc

        ask = {"round": round_, "count": len(blobs), "bound": bound, "constant_time": constant_time,
               "min_parties": min_parties}
        arrays = {f"blob_{i}": np.frombuffer(b, np.uint8) for i, b in enumerate(blobs)}
        (_, out), = self.run.ask(r.DECRYPT, {self.run.registrar[0]: (ask, arrays)}, str(round_)).values()
        if "out_of_range" in out:
            index = int(out["out_of_range"])
            msg = f"round {round_}: the sum does not decode at coordinate {index}"
            raise fc.PlaintextOutOfRange(msg, index=index, value=None, bound=bound)
        return out["sum"]
