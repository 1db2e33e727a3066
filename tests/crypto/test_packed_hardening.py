"""Hardening from review: failures inside batch kernels become Python exceptions, SEC1
parsing rejects non-bytes, and results do not depend on the thread count."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto._testing import encrypt_packed_with_nonces


def test_from_sec1_rejects_non_bytes():
    sk = fc.PrivateKey.generate()
    c1, c2 = fc.encrypt(sk.public_key, [5]).to_sec1()[0]
    for bad in (1, 0, None, 3.0):
        with pytest.raises(TypeError, match="must be bytes"):
            fc.Ciphertexts.from_sec1([(bad, c2)])
    assert fc.decrypt(sk, fc.Ciphertexts.from_sec1([(c1, c2)])).tolist() == [5]


def test_failed_thread_start_or_allocation_raises_instead_of_aborting():
    # Cap the address space just above what the interpreter holds: thread stacks and kernel
    # workspaces can no longer be allocated. The process must survive with a Python error.
    code = textwrap.dedent(
        """
        import resource, numpy as np, fbh.crypto as fc
        ks = fc.KeySet.generate(k=8)
        pub = ks.public
        fc.encrypt_packed(pub, [1], context=b"x", constant_time=False, threads=1)
        values = np.arange(64_000, dtype=np.int64)
        used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
        resource.setrlimit(resource.RLIMIT_AS, (used + (48 << 20), used + (48 << 20)))
        try:
            fc.encrypt_packed(pub, values, context=b"x", constant_time=False, threads=64)
        except (MemoryError, RuntimeError) as e:
            print("raised", type(e).__name__)
        else:
            print("no error")
        """
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() in ("raised MemoryError", "raised RuntimeError")


def test_same_nonces_give_the_same_blob_for_any_thread_count():
    ks = fc.KeySet.generate(k=4)
    values = np.arange(-150, 150, dtype=np.int64)
    nb = -(-values.size // 4)
    rng = np.random.default_rng(1)
    nonces = rng.integers(1, 2**62, size=(nb + 1, 32 // 8), dtype=np.uint64).view(np.uint8)
    nonces = nonces.reshape(nb + 1, 32)
    blobs = {
        encrypt_packed_with_nonces(ks.public, values, nonces, context=b"x", threads=t,
                                   constant_time=c).to_bytes()
        for t in (1, 2, 5)
        for c in (True, False)
    }
    assert len(blobs) == 1


def test_concurrent_calls_agree():
    ks = fc.KeySet.generate(k=8)
    values = np.arange(2000, dtype=np.int64) - 1000
    ct = fc.encrypt_packed(ks.public, values, context=b"x", constant_time=False)
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda t: fc.decrypt_packed(ks, ct, threads=t), [1, 2, 1, 2]))
        proofs = list(pool.map(lambda t: ct.verify(b"x", threads=t), [1, 2, 3, 4]))
    assert all(np.array_equal(o, values) for o in outs)
    assert proofs == [None] * 4
