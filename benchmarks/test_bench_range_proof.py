"""Range proofs for S = 1,375 sampled slots against encrypting a whole 422,282-value update.

S = 1,375 is the smallest S with 0.99^S <= 1e-6: a hospital corrupting >= 1 % of its coordinates
is caught with probability >= 1 - 10^-6 per round. One exact proof per slot of |q| <= B:
B = 2^20 - 1 (L = 21 bits: the whole default decoder range, one hospital holding all the weight)
and B_h of one of 10 equal hospitals (L = 18). Run (process CPU time, so that a loaded machine
does not inflate the ratios): ``pytest benchmarks/test_bench_range_proof.py
--benchmark-timer=time.process_time``; the ratios to report are prove / encrypt and
verify / encrypt in the same run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import range_proof as rp

P = 422_282
S = 1_375
BOUND = 2**20 - 1  # L = 21
BOUND_H = (2**20 - 10) // 10 + 1  # range_check.hospital_bound of 1 of 10 equal hospitals: L = 18
CTX = b"chain 1337 | contract 0x.. | round 1 | sender 0x.."
assert 0.99**S <= 1e-6 < 0.99 ** (S - 1)


@pytest.fixture(scope="module")
def setting():
    ks = fc.KeySet.generate(k=fc.DEFAULT_K)
    # |q| <= B_h: in range for both bounds benchmarked (a hospital's share of the 2^20 bound).
    values = np.random.default_rng(0).integers(-BOUND_H, BOUND_H + 1, size=P, dtype=np.int64)
    nb = math.ceil(P / ks.k)
    # Rows 0..nb-1: the block nonces r_i; row nb: the blob proof's nonce a.
    nonces = np.frombuffer(np.random.default_rng(1).bytes(32 * (nb + 1)), np.uint8).reshape(nb + 1, 32).copy()
    nonces[:, 0] &= 0x7F  # every nonce < n
    ct = fc.encrypt_packed(ks.public, values, context=CTX, constant_time=False, _nonces=nonces)
    flat = np.random.default_rng(2).choice(P, S, replace=False)
    picks = np.stack([flat // ks.k, flat % ks.k], axis=1)
    return ks, values, ct, nonces[:nb], picks, flat


@pytest.mark.parametrize("constant_time", [True, False], ids=["ct", "fast"])
def test_encrypt_whole_update(benchmark, setting, constant_time):
    ks, values, *_ = setting
    benchmark.group = "range proof vs encryption (1 thread)"
    benchmark.extra_info["n"] = P
    ct = benchmark.pedantic(fc.encrypt_packed, args=(ks.public, values),
                            kwargs=dict(context=CTX, constant_time=constant_time, threads=1), rounds=1)
    assert len(ct) == P


@pytest.mark.parametrize("bound", [BOUND, BOUND_H], ids=lambda b: f"L{rp.bits_for_bound(b)}")
def test_prove_sampled_slots(benchmark, setting, bound):
    ks, values, ct, r, picks, flat = setting
    bits = rp.bits_for_bound(bound)
    benchmark.group = "range proof vs encryption (1 thread)"
    benchmark.extra_info.update(n=S, bits=bits, bytes=S * rp.proof_bytes(bits))
    proofs = benchmark.pedantic(rp.prove_slots, args=(ks.public, ct, picks, values[flat], r[picks[:, 0]]),
                                kwargs=dict(bound=bound, context=CTX, threads=1), rounds=1)
    assert rp.verify_slots(ks.public, ct, picks, proofs, bound=bound, context=CTX) == -1


def test_verify_sampled_slots(benchmark, setting):
    ks, values, ct, r, picks, flat = setting
    proofs = rp.prove_slots(ks.public, ct, picks, values[flat], r[picks[:, 0]], bound=BOUND, context=CTX)
    benchmark.group = "range proof vs encryption (1 thread)"
    benchmark.extra_info.update(n=S, bits=rp.bits_for_bound(BOUND))
    bad = benchmark.pedantic(rp.verify_slots, args=(ks.public, ct, picks, proofs),
                             kwargs=dict(bound=BOUND, context=CTX, threads=1), rounds=1)
    assert bad == -1
