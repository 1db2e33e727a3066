"""Exponential ElGamal on secp256k1, batched and multi-threaded in C++.

Packed, sender-bound ciphertexts (wire format v3, what the protocol uses)::

    import fbh.crypto as fc
    ks = fc.KeySet.generate(k=32)
    ct = fc.encrypt_packed(ks.public, [3, -5, 7], context=b"round 1, hospital 0")
    ct.verify(context=b"round 1, hospital 0")          # raises fc.InvalidProof otherwise
    agg = fc.aggregate_packed([ct.to_bytes(), ct])
    fc.decrypt_packed(ks, agg, bound=2**20)             # array([ 6, -10, 14])

The single-value format v1 (one nonce per value, no proofs)::

    import fbh.crypto as fc
    sk = fc.PrivateKey.generate()
    ct = fc.encrypt(sk.public_key, [3, -5, 7])
    total = fc.aggregate([ct, ct])
    fc.decrypt(sk, total, bound=2**20)   # array([ 6, -10, 14])

Only this package imports the private extension ``fbh.crypto._ec``.
"""

from fbh.crypto.ciphertexts import Ciphertexts
from fbh.crypto.elgamal import MAX_PLAINTEXT, aggregate, decrypt, encrypt
from fbh.crypto.errors import (
    CryptoError,
    InvalidPoint,
    InvalidProof,
    MalformedCiphertext,
    PlaintextOutOfRange,
    UnsupportedVersion,
)
from fbh.crypto.keys import PrivateKey, PublicKey
from fbh.crypto.keyset import DEFAULT_K, KeySet, PublicKeySet
from fbh.crypto.packed import PackedCiphertexts, context_digest
from fbh.crypto.packed_ops import aggregate_packed, decrypt_packed, encrypt_packed, partial_decrypt
from fbh.crypto.tables import DecodingTable

__all__ = [
    "DEFAULT_K",
    "MAX_PLAINTEXT",
    "Ciphertexts",
    "CryptoError",
    "DecodingTable",
    "InvalidPoint",
    "InvalidProof",
    "KeySet",
    "MalformedCiphertext",
    "PackedCiphertexts",
    "PlaintextOutOfRange",
    "PrivateKey",
    "PublicKey",
    "PublicKeySet",
    "UnsupportedVersion",
    "aggregate",
    "aggregate_packed",
    "context_digest",
    "decrypt",
    "decrypt_packed",
    "encrypt",
    "encrypt_packed",
    "partial_decrypt",
]
