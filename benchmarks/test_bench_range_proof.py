"""Range proofs for S = 1,375 sampled slots against encrypting a whole 422,282-value update.

S = 1,375 is the smallest S with 0.99^S <= 1e-6: a hospital corrupting >= 1 % of its coordinates
is caught with probability >= 1 - 10^-6 per round. L = 21 bits covers |q| < 2^20 (the whole
default decoder range: one hospital holding all the weight); L = 18 is ``bits_for_bound`` of one
of 10 equal hospitals' share of it (2^20 / 10). Run (process CPU time, so that a loaded machine
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
BITS = 21
CTX = b"chain 1337 | contract 0x.. | round 1 | sender 0x.."
assert 0.99**S <= 1e-6 < 0.99 ** (S - 1)


@pytest.fixture(scope="module")
def setting():
    ks = fc.KeySet.generate(k=fc.DEFAULT_K)
    # |q| < 2^17: in range for both widths benchmarked (a hospital's share of the 2^20 bound).
    values = np.random.default_rng(0).integers(-(2**17), 2**17, size=P, dtype=np.int64)
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


@pytest.mark.parametrize("bits", [BITS, rp.bits_for_bound(2**20 // 10)], ids=lambda b: f"L{b}")
def test_prove_sampled_slots(benchmark, setting, bits):
    ks, values, ct, r, picks, flat = setting
    benchmark.group = "range proof vs encryption (1 thread)"
    benchmark.extra_info.update(n=S, bits=bits, bytes=S * rp.proof_bytes(bits))
    proofs = benchmark.pedantic(rp.prove_slots, args=(ks.public, ct, picks, values[flat], r[picks[:, 0]]),
                                kwargs=dict(bits=bits, context=CTX, threads=1), rounds=1)
    assert rp.verify_slots(ks.public, ct, picks, proofs, bits=bits, context=CTX) == -1


def test_verify_sampled_slots(benchmark, setting):
    ks, values, ct, r, picks, flat = setting
    proofs = rp.prove_slots(ks.public, ct, picks, values[flat], r[picks[:, 0]], bits=BITS, context=CTX)
    benchmark.group = "range proof vs encryption (1 thread)"
    benchmark.extra_info.update(n=S, bits=BITS)
    bad = benchmark.pedantic(rp.verify_slots, args=(ks.public, ct, picks, proofs),
                             kwargs=dict(bits=BITS, context=CTX, threads=1), rounds=1)
    assert bad == -1
