"""Commitments to exact bytes and hospital signatures over them.

The on-chain commitment of an update is SHA-256 of the exact ciphertext blob
a hospital hands to the server; anyone holding the blob can recompute it.
A hospital also signs the commitment off chain (EIP-712 typed data bound to
the chain, the registry contract and the round), so the server can tell who
sent a blob before it even looks the commitment up, and a blob replayed from
another round or another deployment does not verify.
"""

from __future__ import annotations

import hashlib
from typing import Any

from eth_account import Account
from eth_account.messages import SignableMessage, encode_typed_data
from eth_account.signers.local import LocalAccount
from eth_keys.exceptions import BadSignature
from eth_utils import to_checksum_address

__all__ = ["commitment", "recover_update_signer", "sign_update", "update_message"]

_DIGEST_BYTES = 32
_UPDATE_TYPES = {
    "Update": [
        {"name": "round", "type": "uint256"},
        {"name": "digest", "type": "bytes32"},
        {"name": "numSamples", "type": "uint64"},
    ],
}


def commitment(blob: bytes) -> bytes:
    """Returns the 32-byte on-chain commitment to ``blob``: SHA-256 of its bytes.

    Args:
        blob: The exact serialized bytes (e.g. a ciphertext file's content).

    Raises:
        TypeError: ``blob`` is not bytes-like.
    """
    if not isinstance(blob, bytes | bytearray | memoryview):
        msg = f"commitment() needs bytes, got {type(blob).__name__}"
        raise TypeError(msg)
    return hashlib.sha256(blob).digest()


def update_message(*, round_number: int, digest: bytes, num_samples: int, chain_id: int,
                   contract: str) -> SignableMessage:
    """Builds the EIP-712 message a hospital signs for one update.

    Args:
        round_number: The round the update belongs to.
        digest: The update's 32-byte commitment.
        num_samples: The hospital's training sample count for the round.
        chain_id: The chain's id (binds the signature to one chain).
        contract: The registry contract's address (binds it to one deployment).

    Raises:
        ValueError: ``digest`` is not 32 bytes.
    """
    if len(digest) != _DIGEST_BYTES:
        msg = f"digest must be {_DIGEST_BYTES} bytes, got {len(digest)}"
        raise ValueError(msg)
    domain: dict[str, Any] = {
        "name": "fbh.UpdateRegistry",
        "version": "1",
        "chainId": chain_id,
        "verifyingContract": to_checksum_address(contract),
    }
    data = {"round": round_number, "digest": bytes(digest), "numSamples": num_samples}
    return encode_typed_data(domain, _UPDATE_TYPES, data)


def sign_update(account: LocalAccount, **fields: Any) -> bytes:
    """Signs an update as ``account``; ``fields`` are :func:`update_message`'s.

    Returns:
        The 65-byte ``r || s || v`` signature.
    """
    return bytes(account.sign_message(update_message(**fields)).signature)


def recover_update_signer(signature: bytes, **fields: Any) -> str:
    """Returns the checksum address that produced ``signature`` over the update.

    A signature over different fields recovers to some unrelated address, so
    callers compare the result with the sender's registered signer.

    Raises:
        ValueError: ``signature`` is malformed.
    """
    message = update_message(**fields)
    try:
        return Account.recover_message(message, signature=signature)
    except (BadSignature, ValueError) as exc:
        msg = f"malformed update signature ({len(signature)} bytes): {exc}"
        raise ValueError(msg) from exc
