"""Hashed ElGamal / ECIES over secp256k1 with encrypt-then-MAC, for guardians' share backups.

``E = eG`` (fresh e), ``K = e P`` for the recipient's ``P = xG``; keys ``(k_enc, k_mac)`` are
derived from ``H(tag, E, P, K)``; the body is XORed with a SHAKE-256 keystream of ``k_enc`` and
authenticated with HMAC-SHA256 over the associated data and the ciphertext (DHIES, Abdalla,
Bellare, Rogaway, CT-RSA 2001; SEC 1 v2 section 5.1).

Because ``K`` determines everything, a recipient can *open* a ciphertext publicly by revealing
``K`` with a DLEQ proof ``log_G P = log_E K`` (:func:`open_with_proof`): anyone can then check
what the sender really sent, which makes a complaint against a dealer verifiable.
"""

from __future__ import annotations

import hashlib
import hmac

from fbh.crypto import _ec
from fbh.crypto import points as pt
from fbh.crypto.chaum_pedersen import DleqProof, make_dleq
from fbh.crypto.hash import hash_elems

__all__ = ["DecryptionFailed", "decrypt", "decrypt_with_point", "encrypt", "open_with_proof", "verify_opening"]

KDF_TAG = b"FBH/ecies/kdf/v1"
OPEN_TAG = b"FBH/ecies/open/v1"
_MAC = 32


class DecryptionFailed(ValueError):
    """The ciphertext is malformed or its MAC does not verify."""


def _keys(e: bytes, p: bytes, k: bytes) -> tuple[bytes, bytes]:
    d = hash_elems(KDF_TAG, e, p, k)
    return hashlib.sha256(b"enc" + d).digest(), hashlib.sha256(b"mac" + d).digest()


def _xor(key: bytes, data: bytes) -> bytes:
    stream = hashlib.shake_256(key).digest(len(data))
    return bytes(a ^ b for a, b in zip(data, stream, strict=True))


def encrypt(recipient: bytes, plaintext: bytes, aad: bytes = b"") -> bytes:
    """``E (64) || body || tag (32)`` for the recipient's 64-byte public point."""
    e = _ec.SecKey.generate().to_bytes()
    ep = pt.mul_base(e)
    k_enc, k_mac = _keys(ep, recipient, pt.mul_secret(recipient, e))
    body = _xor(k_enc, plaintext)
    return ep + body + hmac.new(k_mac, aad + ep + body, "sha256").digest()


def decrypt_with_point(recipient: bytes, shared: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
    """Decrypt given the shared point ``K = x E`` (from the secret key or a public opening)."""
    if len(ciphertext) < 64 + _MAC:
        msg = "ECIES ciphertext truncated"
        raise DecryptionFailed(msg)
    ep, body, tag = ciphertext[:64], ciphertext[64:-_MAC], ciphertext[-_MAC:]
    k_enc, k_mac = _keys(ep, recipient, shared)
    if not hmac.compare_digest(tag, hmac.new(k_mac, aad + ep + body, "sha256").digest()):
        msg = "ECIES authentication failed"
        raise DecryptionFailed(msg)
    return _xor(k_enc, body)


def _ephemeral(ciphertext: bytes) -> bytes:
    if len(ciphertext) < 64 + _MAC:
        msg = "ECIES ciphertext truncated"
        raise DecryptionFailed(msg)
    return ciphertext[:64]


def decrypt(secret: bytes, ciphertext: bytes, aad: bytes = b"") -> bytes:
    """Decrypt with the recipient's 32-byte secret scalar."""
    ep = _ephemeral(ciphertext)
    try:
        shared = pt.mul_secret(ep, secret)
    except ValueError as e:
        raise DecryptionFailed(str(e)) from None
    return decrypt_with_point(pt.mul_base(secret), shared, ciphertext, aad)


def open_with_proof(secret: bytes, ciphertext: bytes, context: bytes) -> tuple[bytes, DleqProof]:
    """Reveal ``K = x E`` with a proof that it is the right one (for a public complaint)."""
    ep = _ephemeral(ciphertext)
    _, shared, proof = make_dleq(secret, ep, context=hash_elems(OPEN_TAG, context, ciphertext))
    return shared, proof


def verify_opening(
    recipient: bytes, ciphertext: bytes, shared: bytes, proof: DleqProof, context: bytes
) -> bool:
    """True if ``shared`` is the recipient's true ``K`` for this ciphertext."""
    try:
        ep = _ephemeral(ciphertext)
    except DecryptionFailed:
        return False
    return proof.is_valid(recipient, ep, shared, hash_elems(OPEN_TAG, context, ciphertext))
