"""What the protocol roles send each other: plain data, bytes on the wire.

Roles never hand each other plaintext model updates in encrypted mode: a
hospital's contribution is an :class:`EncryptedUpdate` whose ``blob`` is the
ciphertext wire format of :mod:`fbh.crypto`, signed with the hospital's
Ethereum key and committed (SHA-256) on chain.
"""

from __future__ import annotations

import dataclasses
import hashlib

from eth_account import Account
from eth_account.messages import encode_defunct

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
    "digest",
    "model_digest",
    "sign_blob",
    "signer_of",
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


def digest(blob: bytes) -> bytes:
    """The on-chain commitment of a blob: SHA-256 of its exact bytes (32 bytes)."""
    return hashlib.sha256(blob).digest()


def _signed_payload(round_: int, blob_digest: bytes) -> bytes:
    # Binding the round number into the signature makes a replay from another round detectable.
    return b"fbh-update-v1" + round_.to_bytes(8, "big") + blob_digest


def sign_blob(private_key: bytes, round_: int, blob: bytes) -> bytes:
    """A hospital's EIP-191 signature over (round, SHA-256(blob)); 65 bytes."""
    message = encode_defunct(primitive=_signed_payload(round_, digest(blob)))
    return bytes(Account.sign_message(message, private_key=private_key).signature)


def signer_of(round_: int, blob: bytes, signature: bytes) -> str:
    """The checksummed address that produced ``signature`` for (round, blob)."""
    message = encode_defunct(primitive=_signed_payload(round_, digest(blob)))
    return Account.recover_message(message, signature=signature)


@dataclasses.dataclass(frozen=True)
class RoundPlan:
    """The server's announcement that opens a round.

    Attributes:
      round: round number, from 1.
      model_hash: SHA-256 of the global model every hospital starts from.
      weights: hospital address -> FedAvg weight ``n_c / sum(n)`` over the
        hospitals invited to this round.
      clip: per-coordinate clipping threshold of updates.
      bound: decoder bound of the decrypted sum.
    """

    round: int
    model_hash: bytes
    weights: dict[str, float]
    clip: float
    bound: int


@dataclasses.dataclass(frozen=True)
class EncryptedUpdate:
    """One hospital's contribution to one round.

    Attributes:
      round: the round it claims to belong to.
      hospital: the sender's checksummed address.
      blob: ciphertext wire bytes (``fbh.crypto.Ciphertexts.to_bytes()``).
      signature: :func:`sign_blob` over (round, blob).
      num_samples: the sender's training-set size (public FedAvg metadata).
    """

    round: int
    hospital: str
    blob: bytes
    signature: bytes
    num_samples: int

    @property
    def digest(self) -> bytes:
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
