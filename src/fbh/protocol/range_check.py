"""Range-checked updates: every hospital's quantized values lie in its public range, checked by sampling.

Each hospital h has a public range ``|q| <= B_h`` per coordinate, fixed by the round's public
parameters and its own public FedAvg weight ``w_h = n_h / sum n`` (sample counts are on chain):

* without DP, the quantizer scales ``clip(x) * w_h * (bound - C) / clip``: ``B_h = floor(w_h (bound - C)) + 1``
  (stochastic rounding adds at most 1), and the B_h add up to at most the decoder bound;
* with the distributed discrete Gaussian, ``B_h = floor(w_h s signal) + 1 + ceil(tail * sigma_h)``: the
  signal after the per-coordinate and L2 clips, plus the noise tail of the hospital's own share
  (an honest hospital leaves its range anywhere in the run with probability below the
  mechanism's overflow probability, 1e-9 by default; :mod:`fbh.protocol.dp` gives the figures).

In both cases the ranges add up to at most the decoder bound (under DP the mechanism sizes its
scale so, :meth:`~fbh.protocol.dp.DistributedDiscreteGaussian.ranges_sum`), so a sum that fails to
decode proves that some hospital left its range at that coordinate. Under DP a cheater can spend
its noise room ``tail * sigma_h`` as signal, undetectably, as in any distributed-noise scheme; the
room is stated, and it can never make the sum overflow. A hospital that inflates its weight (scales its
update) leaves its range wherever the inflated value exceeds ``B_h``; within it, its influence on
any coordinate is capped at ``w_h * clip``, as an honest hospital's is.

Probabilistic checking (RiseFL, Zhu et al. 2023; RoFL, Lycklama et al., IEEE S&P 2023): after every
update is committed, the hash of the block holding the last commitment (no hospital controls
it: it was fixed after the last hospital chose its blob) seeds, per hospital, S coordinates
``SHA-256(tag || seed || sender || i) mod P``; the hospital proves ``|q| <= B_h`` there
(:mod:`fbh.crypto.bounded`: one exact proof per coordinate, bound to chain id, contract, round,
sender and stage). With
S = 1,375, a hospital corrupting >= 1% of its coordinates is caught with probability
``>= 1 - 0.99^1375 >= 1 - 10^-6`` per round. A cheater that hit only unsampled coordinates
makes the sum fail to decode there: the *blame path* (:func:`blame`) asks every accepted hospital
for a proof at exactly that coordinate, excludes those that cannot give one, and the round
re-aggregates without them. No honest hospital reveals anything beyond "my value is in range".
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
from pathlib import Path

import numpy as np

from fbh.crypto import bounded
from fbh.protocol.messages import update_context

__all__ = ["RANGE_SAMPLES", "RangeEvidence", "answer_digest", "hospital_bound", "range_context", "sample_indices",
           "sampling_seed", "sign_answer", "verify_evidence"]

RANGE_SAMPLES = 1375  # smallest S with 0.99^S <= 1e-6
SAMPLE, BLAME = "sample", "blame"
_TAG = b"fbh/range-check/v1\x00"
EVIDENCE_DIR = "range"


def hospital_bound(plan, address: str) -> int:
    """``B_h``: the largest |value| hospital ``address`` may encrypt at any coordinate this round."""
    w = float(plan.weights[address])
    dp = plan.dp
    if dp is None:
        # + 1: stochastic rounding; 1e-12 covers the float product's error (the sum stays <= bound)
        return math.floor(w * (plan.bound - len(plan.weights)) * (1 + 1e-12)) + 1
    return math.floor(w * dp.scale * dp.signal * (1 + 1e-12)) + 1 + dp.tail_room()


def sampling_seed(ledger, round_: int) -> bytes:
    """Public randomness for ``round_``: the hash of the block holding its last commitment.

    Without a chain there is no such block; the seed is then a hash of the round number, which
    a hospital can predict (``--chain none`` is for simulations on a trusted host; a cheater
    that avoids its sample is still caught by the blame path).
    """
    if ledger is None:
        return hashlib.sha256(_TAG + b"no-chain" + round_.to_bytes(8, "big")).digest()
    records = ledger.round(round_).updates
    if not records:
        msg = f"round {round_}: no commitment on chain to seed the range sample"
        raise ValueError(msg)
    last = max(r.block_number for r in records)
    return bytes(ledger.backend.w3.eth.get_block(last)["hash"])


def sample_indices(seed: bytes, sender: str, count: int, samples: int) -> np.ndarray:
    """S distinct, sorted coordinates of ``[0, count)`` for ``sender`` (all of them if S >= count)."""
    if samples >= count:
        return np.arange(count, dtype=np.int64)
    base = hashlib.sha256(_TAG + seed + bytes.fromhex(sender[2:])).digest()
    picked: set[int] = set()
    i = 0
    while len(picked) < samples:
        h = hashlib.sha256(base + i.to_bytes(8, "big")).digest()
        picked.add(int.from_bytes(h, "big") % count)  # bias < count / 2^256
        i += 1
    return np.array(sorted(picked), dtype=np.int64)


def range_context(ledger, round_: int, sender: str, stage: str) -> bytes:
    """What a range proof binds: chain id, contract, round, sender (as the blob's proofs) and stage."""
    return _TAG + update_context(ledger, round_, sender) + stage.encode()


def answer_digest(context: bytes, indices: np.ndarray, bound: int, proofs: np.ndarray) -> bytes:
    """What a hospital signs with its answer: without a signature, anyone (the server) could put
    failing proofs in a hospital's name to get it excluded."""
    h = hashlib.sha256(_TAG + b"answer" + len(context).to_bytes(8, "big") + context)
    h.update(np.ascontiguousarray(indices, "<i8").tobytes() + int(bound).to_bytes(8, "big"))
    h.update(np.ascontiguousarray(proofs, np.uint8).tobytes())
    return h.digest()


def sign_answer(account, digest_: bytes) -> bytes:
    """The hospital's Ethereum signature (EIP-191) over :func:`answer_digest`."""
    from eth_account.messages import encode_defunct

    return bytes(account.sign_message(encode_defunct(primitive=digest_)).signature)


def answer_signer(digest_: bytes, signature: bytes) -> str | None:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    try:
        return Account.recover_message(encode_defunct(primitive=digest_), signature=signature)
    except Exception:  # noqa: BLE001 - any malformed signature is simply not the hospital's
        return None


def expected_signer(ledger, hospital: str) -> str:
    """The key whose signatures count as ``hospital``'s (its registered signer on chain)."""
    return hospital if ledger is None else ledger.participant(hospital).signer


@dataclasses.dataclass(frozen=True)
class RangeEvidence:
    """One hospital's signed answer to one range challenge, as stored in the run directory."""

    hospital: str
    stage: str
    indices: np.ndarray
    bound: int
    proofs: np.ndarray | None  # None: no answer
    signature: bytes = b""

    def save(self, round_dir: Path, n: int = 0) -> None:
        d = round_dir / EVIDENCE_DIR
        d.mkdir(parents=True, exist_ok=True)
        proofs = np.zeros((0, 0), np.uint8) if self.proofs is None else self.proofs
        np.savez(d / f"{self.hospital}.{self.stage}{n}.npz", indices=self.indices, bound=self.bound,
                 proofs=proofs, answered=self.proofs is not None,
                 signature=np.frombuffer(self.signature, np.uint8))

    @classmethod
    def load_all(cls, round_dir: Path) -> list[RangeEvidence]:
        out = []
        for path in sorted((round_dir / EVIDENCE_DIR).glob("*.npz")):
            hospital, stage = path.name.split(".")[:2]
            with np.load(path) as z:
                proofs = z["proofs"].copy() if bool(z["answered"]) else None
                out.append(cls(hospital, stage.rstrip("0123456789"), z["indices"].copy(), int(z["bound"]), proofs,
                               z["signature"].tobytes()))
        return out


def signed_by_hospital(ledger, round_: int, ev: RangeEvidence) -> bool:
    """Whether ``ev`` is an answer the hospital itself signed (for this context)."""
    if ev.proofs is None:
        return False
    context = range_context(ledger, round_, ev.hospital, ev.stage)
    signer = answer_signer(answer_digest(context, ev.indices, ev.bound, ev.proofs), ev.signature)
    return signer is not None and signer == expected_signer(ledger, ev.hospital)


def verify_evidence(pub, ct, ledger, round_: int, ev: RangeEvidence, *, threads: int | None = None) -> str | None:
    """None if ``ev``'s proofs hold for ``ct`` in its context; else what is wrong."""
    if ev.proofs is None:
        return f"no range proof at {ev.indices.size} {ev.stage}d coordinates"
    context = range_context(ledger, round_, ev.hospital, ev.stage)
    if ev.proofs.ndim != 2 or ev.proofs.shape[0] != ev.indices.size:
        return f"malformed range answer at {ev.stage}d coordinates"
    wrong_format = bounded.format_error(ev.proofs, ev.bound)
    if wrong_format is not None:
        return wrong_format
    bad = bounded.verify_bounded(pub, ct, ev.indices, ev.proofs, bound=ev.bound, context=context, threads=threads)
    if bad >= 0:
        return f"range proof fails at coordinate {int(ev.indices[min(bad, ev.indices.size - 1)])} (|q| <= {ev.bound})"
    return None
