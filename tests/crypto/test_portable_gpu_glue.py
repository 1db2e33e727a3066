"""The Python side of the GPU route (fbh.crypto.packed_kernels with backend "gpu") on a CPU:
a stand-in for fbh.crypto._ec_cuda that checks the arguments the real binding requires and
computes with the portable CPU kernels (the same source), so the glue is tested before a
device ever runs it."""

from __future__ import annotations

import numpy as np
import pytest

import fbh.crypto as fc
from fbh.crypto import _ec, backend, packed_kernels

N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


class FakeCuda:
    """What csrc/cuda/bindings.cpp accepts, computed by the portable CPU driver."""

    def __init__(self, ks: fc.KeySet) -> None:
        self.ks = ks
        self.tables = packed_kernels.portable_tables(ks.public, 1)
        self.calls: list[str] = []
        fake = self

        class DeviceTables:
            def __init__(self, table_bytes: np.ndarray, k: int) -> None:
                assert table_bytes.dtype == np.uint8 and table_bytes.size == fake.tables.nbytes
                assert k == fake.tables.k
                self.k = k

        self.DeviceTables = DeviceTables

    def device_count(self) -> int:
        return 1

    def device_name(self) -> str:
        return "fake"

    def encrypt(self, dev, m, ctx, count, nonces):
        assert isinstance(dev, self.DeviceTables) and m.dtype == np.int64 and len(ctx) == 32
        assert nonces.dtype == np.uint8 and nonces.shape == (m.size // dev.k + 1, 32)
        for row in nonces:
            assert 0 < int.from_bytes(row.tobytes(), "big") < N
        self.calls.append("encrypt")
        return _ec.portable_encrypt(self.tables, m, ctx, count, nonces.copy(), 1)

    def verify(self, points, proof, k, ctx, count):
        assert proof.shape == (96,)
        self.calls.append("verify")
        return _ec.portable_verify(points, proof, k, ctx, count, 1)

    def aggregate(self, items):
        assert items.ndim >= 3 and items.shape[-1] == 64
        self.calls.append("aggregate")
        return _ec.portable_aggregate(items, 1)

    def mul_r(self, secrets, points):
        assert secrets.dtype == np.uint8 and secrets.shape == (points.shape[1] - 1, 32)
        assert secrets.tobytes() == self.ks._core.to_bytes()
        self.calls.append("mul_r")
        return _ec.portable_mul_r(self.ks._core, points, 1)


@pytest.fixture
def fake(monkeypatch):
    ks = fc.KeySet.generate(k=4)
    gpu = FakeCuda(ks)
    monkeypatch.setattr(backend, "gpu_module", lambda: gpu)
    monkeypatch.setattr(packed_kernels, "gpu_module", lambda: gpu)
    return ks, gpu


def test_gpu_route_round_trip(fake):
    ks, gpu = fake
    values = np.arange(-9, 9)
    with backend.use_backend("gpu"):
        cts = [fc.encrypt_packed(ks.public, values, context=b"c%d" % c, constant_time=False) for c in range(3)]
        for c, ct in enumerate(cts):
            ct.verify(b"c%d" % c)
        agg = fc.aggregate_packed(cts)
        shares = fc.partial_decrypt(ks, agg, constant_time=False)
    assert gpu.calls == ["encrypt"] * 3 + ["verify"] * 3 + ["aggregate", "mul_r"]
    assert cts[0] != cts[1]  # fresh nonces per call
    np.testing.assert_array_equal(fc.decrypt_packed(ks, agg), 3 * values)
    assert shares.tobytes() == _ec.packed_mul_r(ks._core, agg._points, 1, True).tobytes()


def test_auto_sends_only_large_fast_batches_to_the_gpu(fake, monkeypatch):
    ks, gpu = fake
    monkeypatch.setattr(backend, "GPU_CROSSOVER_VALUES", 8)
    fc.encrypt_packed(ks.public, np.arange(4), context=b"x", constant_time=False)  # below: CPU
    fc.encrypt_packed(ks.public, np.arange(8), context=b"x")  # constant time: CPU
    assert gpu.calls == []
    ct = fc.encrypt_packed(ks.public, np.arange(8), context=b"x", constant_time=False)
    ct.verify(b"x")
    assert gpu.calls == ["encrypt", "verify"]


def test_fresh_nonces_are_valid_scalars():
    out = packed_kernels._fresh_nonces(50)
    assert out.shape == (51, 32) and out.dtype == np.uint8  # 50 block nonces, then a
    scalars = {int.from_bytes(row.tobytes(), "big") for row in out}
    assert len(scalars) == 51 and all(0 < s < N for s in scalars)


def test_fresh_nonces_redraw_out_of_range_rows(monkeypatch):
    draws = iter([b"\xff" * 32 + b"\x00" * 32, b"\x01" * 32, b"\x02" * 32])  # n <= first, 0 second
    monkeypatch.setattr(packed_kernels.os, "urandom", lambda size: next(draws)[:size])
    out = packed_kernels._fresh_nonces(1)
    assert out.tobytes() == b"\x01" * 32 + b"\x02" * 32
