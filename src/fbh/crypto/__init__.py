"""Exponential ElGamal on secp256k1, batched and multi-threaded in C++.

Example::

    import fbh.crypto as fc
    sk = fc.PrivateKey.generate()
    ct = fc.encrypt(sk.public_key, [3, -5, 7])
    total = fc.aggregate([ct, ct])
    fc.decrypt(sk, total, bound=2**20)   # array([ 6, -10, 14])

Only this package imports the private extension ``fbh.crypto._ec``.
"""

from fbh.crypto.ciphertexts import Ciphertexts
from fbh.crypto.elgamal import MAX_PLAINTEXT, aggregate, decrypt, encrypt
from fbh.crypto.errors import CryptoError, InvalidPoint, MalformedCiphertext, PlaintextOutOfRange
from fbh.crypto.keys import PrivateKey, PublicKey
from fbh.crypto.tables import DecodingTable

__all__ = [
    "MAX_PLAINTEXT",
    "Ciphertexts",
    "CryptoError",
    "DecodingTable",
    "InvalidPoint",
    "MalformedCiphertext",
    "PlaintextOutOfRange",
    "PrivateKey",
    "PublicKey",
    "aggregate",
    "decrypt",
    "encrypt",
]
