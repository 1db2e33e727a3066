"""The protocol's range stage per hospital per round, against encrypting its whole update.

What one hospital adds per round (``fbh.protocol.range_check``): exact two-sided proofs
``|q| <= B_h`` at S sampled coordinates (one exact bit-decomposition proof per coordinate,
``fbh.crypto.bounded``), and what the server spends verifying them. ``B_h`` is a tenth of the
default decoder bound (weight 1/10 of 10 hospitals): L = 18 bits. Process CPU time, 1 thread,
same run, so the ratios hold on a loaded machine. Run:
``FBH_BENCH_P=422282 pytest benchmarks/test_bench_range_stage.py -s`` (the paper CNN's size;
the default P keeps the benchmark suite quick).
"""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import bounded
from fbh.protocol.range_check import RANGE_SAMPLES

P = int(os.environ.get("FBH_BENCH_P", "42228"))
S = int(os.environ.get("FBH_BENCH_S", str(RANGE_SAMPLES)))
B = (2**20 - 10) // 10 + 1
CTX = b"chain 1337 | contract 0x.. | round 1 | sender 0x.."


def _cpu(fn, *args, **kwargs):
    t = time.process_time()
    out = fn(*args, **kwargs)
    return out, time.process_time() - t


@pytest.mark.parametrize("constant_time", [True, False], ids=["ct", "fast"])
def test_range_stage_against_encryption(constant_time):
    ks = fc.KeySet.generate(k=fc.DEFAULT_K)
    q = np.random.default_rng(0).integers(-B, B + 1, size=P, dtype=np.int64)
    (ct, nonces), enc = _cpu(bounded.encrypt_provable, ks.public, q, context=CTX, constant_time=constant_time,
                             threads=1)
    idx = np.sort(np.random.default_rng(1).choice(P, min(S, P), replace=False))
    proofs, prove = _cpu(bounded.prove_bounded, ks.public, ct, idx, q[idx], nonces, bound=B, context=CTX, threads=1)
    bad, verify = _cpu(bounded.verify_bounded, ks.public, ct, idx, proofs, bound=B, context=CTX, threads=1)
    assert bad == -1
    print(f"\nP = {P:,}, S = {idx.size:,}, B = {B:,} ({bounded.bits_for(B)} bits), "
          f"{'constant-time' if constant_time else 'fast'} encryption, 1 thread, CPU seconds:\n"
          f"  encrypt {enc:.2f} | prove {prove:.2f} ({prove / enc:.0%}) | verify {verify:.2f} ({verify / enc:.0%}) | "
          f"proof bytes {proofs.nbytes:,} ({proofs.nbytes / len(ct.to_bytes()):.1%} of the blob)")
