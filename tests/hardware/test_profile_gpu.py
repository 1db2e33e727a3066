"""fbh profile's GPU crypto step: the crossover rule, the report lines, applying it to auto."""

from __future__ import annotations

from fbh.bench import profile_gpu
from fbh.bench.profile_report import _gpu_lines
from fbh.crypto import backend


def _rows(pairs):
    return [{"op": "encrypt", "n": n, "cpu_s": c, "gpu_s": g} for n, c, g in pairs]


def test_crossover_is_where_the_gpu_wins_from_then_on():
    assert profile_gpu.crossover(_rows([(1, 1.0, 2.0), (2, 1.0, 0.5), (4, 2.0, 0.5)]), "encrypt") == 2
    assert profile_gpu.crossover(_rows([(1, 1.0, 0.5), (2, 1.0, 2.0), (4, 2.0, 0.5)]), "encrypt") == 4
    assert profile_gpu.crossover(_rows([(1, 1.0, 2.0), (2, 1.0, 2.0)]), "encrypt") is None
    assert profile_gpu.crossover(_rows([(1, 1.0, 0.1)]), "aggregate") is None


def test_without_a_device_nothing_is_measured(monkeypatch):
    monkeypatch.setattr(backend, "gpu_module", lambda: None)
    out = profile_gpu.measure_gpu_crypto(1, target=0.1)
    assert out == {"available": False, "reason": "fbh.crypto._ec_cuda not built or no CUDA device",
                   "rows": [], "crossover_values": None}
    assert "not measured" in "\n".join(_gpu_lines(out))


def test_report_and_apply(monkeypatch):
    gpu = {"available": True, "device": "NVIDIA H100", "threads": 16, "crossover_values": 16384,
           "rows": _rows([(4096, 0.01, 0.02), (16384, 0.04, 0.01)])}
    text = "\n".join(_gpu_lines(gpu))
    assert "NVIDIA H100" in text and "4.0x" in text and "from 16,384 values" in text
    monkeypatch.setattr(backend, "GPU_CROSSOVER_VALUES", backend.GPU_CROSSOVER_VALUES)
    assert profile_gpu.apply_gpu_profile({"gpu_crypto": gpu}) == 16384
    assert backend.GPU_CROSSOVER_VALUES == 16384
    assert profile_gpu.apply_gpu_profile({}) is None  # older profiles: unchanged
    assert backend.GPU_CROSSOVER_VALUES == 16384
