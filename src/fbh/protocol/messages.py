"""What the protocol roles send each other: plain data, bytes on the wire.

Roles never hand each other plaintext model updates in encrypted mode: a
hospital's contribution is an :class:`EncryptedUpdate` whose ``blob`` is the
ciphertext wire format of :mod:`fbh.crypto`, signed with the hospital's
Ethereum key and committed (SHA-256) on chain.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib

from fbh.chain import hashing
from fbh.chain.hashing import commitment as digest

__all__ = [
    "AGGREGATE",
    "AUDIT",
    "DECRYPT",
    "ENCRYPT",
    "QUANTIZE",
    "STAGES",
    "TRAIN",
    "VERIFY",
    "EncryptedUpdate",
    "RoundPlan",
    "deployment_context",
    "digest",
    "model_digest",
    "sign_update",
    "signer_of",
    "signing_domain",
    "update_context",
]

# Step names, in the order a round runs them; also the keys of metrics["seconds"].
TRAIN = "train"
QUANTIZE = "quantize"
ENCRYPT = "encrypt"
VERIFY = "verify"
AGGREGATE = "aggregate"
DECRYPT = "decrypt"
AUDIT = "audit"
STAGES = (TRAIN, QUANTIZE, ENCRYPT, VERIFY, AGGREGATE, DECRYPT, AUDIT)


UPDATE_CONTEXT_TAG = b"fbh/update-context/v2\x00"


def signing_domain(ledger) -> dict:
    """Chain id and contract an update signature is bound to (zeros without a chain)."""
    if ledger is None:
        return {"chain_id": 0, "contract": "0x" + "00" * 20}
    return {"chain_id": ledger.backend.chain_id, "contract": ledger.address}


def deployment_context(ledger) -> bytes:
    """What every guardian proof and backup is bound to: chain id and contract."""
    d = signing_domain(ledger)
    return b"FBH/deployment/" + int(d["chain_id"]).to_bytes(32, "big") + bytes.fromhex(d["contract"][2:])


def update_context(ledger, round_: int, sender: str) -> bytes:
    """What a hospital's ciphertext proofs are bound to: chain id, contract, round, sender.

    The packed format's Fiat–Shamir challenge hashes this context with the
    block index, so a blob copied by another hospital, replayed into another
    round or deployment, or spliced from two blobs fails ``verify``.
    """
    domain = signing_domain(ledger)
    return b"".join([
        UPDATE_CONTEXT_TAG,
        int(domain["chain_id"]).to_bytes(32, "big"),
        bytes.fromhex(domain["contract"][2:]),
        int(round_).to_bytes(8, "big"),
        bytes.fromhex(sender[2:]),
    ])


def sign_update(account, ledger, round_: int, blob: bytes, num_samples: int) -> bytes:
    """A hospital's EIP-712 signature over (chain, contract, round, SHA-256(blob), num_samples)."""
    fields = {"round_number": round_, "digest": digest(blob), "num_samples": num_samples}
    return hashing.sign_update(account, **fields, **signing_domain(ledger))


def signer_of(update: EncryptedUpdate, ledger, round_: int) -> str:
    """The address whose key signed ``update`` for ``round_`` (any other round recovers garbage)."""
    fields = {"round_number": round_, "digest": update.digest, "num_samples": update.num_samples}
    return hashing.recover_update_signer(update.signature, **fields, **signing_domain(ledger))


@dataclasses.dataclass(frozen=True)
class RoundPlan:
    """The server's announcement that opens a round.

    Attributes:
      round: round number, from 1.
      model_hash: SHA-256 of the global model every hospital starts from.
      weights: hospital address -> FedAvg weight ``n_c / sum(n)`` over the
        hospitals invited to this round.
      clip: clipping threshold of each update coordinate (float or float[P]).
      bound: decoder bound of the decrypted sum.
      dp: the public ``fbh.protocol.dp.DistributedDiscreteGaussian`` parameters, or None.
    """

    round: int
    model_hash: bytes
    weights: dict[str, float]
    clip: object  # float | np.ndarray
    bound: int
    dp: object = None


@dataclasses.dataclass(frozen=True)
class EncryptedUpdate:
    """One hospital's contribution to one round.

    Attributes:
      round: the round it claims to belong to.
      hospital: the sender's checksummed address.
      blob: packed ciphertext wire bytes (``fbh.crypto.PackedCiphertexts.to_bytes()``),
        proofs bound to :func:`update_context` of the sender.
      signature: :func:`sign_update` over (chain, contract, round, digest, count).
      num_samples: the sender's training-set size (public FedAvg metadata).
    """

    round: int
    hospital: str
    blob: bytes
    signature: bytes
    num_samples: int

    @functools.cached_property
    def digest(self) -> bytes:
        """SHA-256 of ``blob``, hashed once: every role asks for it, and a blob is megabytes."""
        return digest(self.blob)

    def __repr__(self) -> str:  # blobs are megabytes: never print them
        return (
            f"EncryptedUpdate(round={self.round}, hospital={self.hospital}, "
            f"blob={len(self.blob)} bytes, sha256={self.digest.hex()[:16]}…)"
        )


def model_digest(flat_params) -> bytes:
    """SHA-256 of a model's canonical bytes: its flat little-endian float32 parameter vector."""
    import numpy as np

    data = np.ascontiguousarray(flat_params, dtype="<f4").tobytes()
    return hashlib.sha256(b"fbh-model-v1" + data).digest()
