"""Stopping a run at a named point of a round: how the crash-and-resume tests crash it.

``FBH_FAULT="STAGE:ROUND[:ACTION]"`` acts when chain round ROUND reaches STAGE:

- stages, in round order: ``train`` (local training done), ``encrypt`` (the
  first hospital has committed), ``commit`` (every hospital has committed,
  nothing aggregated), ``aggregate`` (ciphertexts added, nothing decrypted),
  ``decrypt`` (guardian runs only: sum and shares recorded on chain, no model yet),
  ``audit`` (new model recorded on chain and saved, not yet audited);
- actions: ``kill`` (default: SIGKILL fbh itself, so no cleanup runs),
  ``kill-chain`` (SIGKILL the anvil node fbh started), ``interrupt``
  (raise KeyboardInterrupt, as Ctrl-C would).

Unset (always, outside tests) it costs one dictionary lookup per stage.
"""

from __future__ import annotations

import os
import signal

__all__ = ["ENV", "STAGES", "checkpoint"]

ENV = "FBH_FAULT"
STAGES = ("train", "encrypt", "commit", "aggregate", "decrypt", "audit")
_ACTIONS = ("kill", "kill-chain", "interrupt")


def _parse(spec: str) -> tuple[str, int, str]:
    stage, round_, action = (spec.split(":") + ["kill"])[:3]
    if stage not in STAGES or not round_.isdigit() or action not in _ACTIONS:
        msg = f"{ENV}={spec!r}: expected STAGE:ROUND[:ACTION], STAGE in {STAGES}, ACTION in {_ACTIONS}"
        raise ValueError(msg)
    return stage, int(round_), action


def checkpoint(stage: str, round_: int, ledger=None) -> None:
    """Act as ``$FBH_FAULT`` says if it names ``stage`` of ``round_``."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    want_stage, want_round, action = _parse(spec)
    if (want_stage, want_round) != (stage, round_):
        return
    if action == "interrupt":
        raise KeyboardInterrupt
    if action == "kill-chain":
        process = getattr(getattr(ledger, "backend", None), "process", None)
        if process is None:
            msg = f"{ENV}: kill-chain needs a chain node fbh started (--chain anvil)"
            raise RuntimeError(msg)
        process.kill()
        process.wait()
        return
    os.kill(os.getpid(), signal.SIGKILL)
