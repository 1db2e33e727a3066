"""Backend selection (fbh.crypto.backend): names, the GPU rule and the constant-time rule."""

from __future__ import annotations

import pytest

from fbh.crypto import backend


def test_auto_uses_the_cpu_without_a_gpu_module(monkeypatch):
    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    with backend.use_backend("auto"):
        assert backend.choose(10**9, secret=False) == "cpu"
        assert backend.choose(10**9, secret=True, constant_time=False) == "cpu"


def test_auto_crossover_and_constant_time_rule(monkeypatch):
    monkeypatch.setattr(backend, "gpu_available", lambda: True)
    big = backend.GPU_CROSSOVER_VALUES
    with backend.use_backend("auto"):
        assert backend.choose(big, secret=False) == "gpu"
        assert backend.choose(big - 1, secret=False) == "cpu"
        assert backend.choose(big, secret=True, constant_time=False) == "gpu"
        assert backend.choose(big, secret=True, constant_time=True) == "cpu"  # never moved to the GPU


def test_forced_backends(monkeypatch):
    with backend.use_backend("portable"):
        assert backend.choose(1, secret=False) == "portable"
        assert backend.choose(1, secret=True, constant_time=False) == "portable"
        with pytest.raises(ValueError, match="variable time"):
            backend.choose(1, secret=True, constant_time=True)
    with backend.use_backend("cpu"):
        assert backend.choose(10**9, secret=True) == "cpu"
    assert backend.get_backend() == "auto"  # restored


def test_bad_names_and_missing_gpu(monkeypatch):
    with pytest.raises(ValueError, match="must be one of auto, cpu, portable, gpu"):
        backend.set_backend("tpu")
    monkeypatch.setattr(backend, "gpu_available", lambda: False)
    with pytest.raises(ValueError, match="needs fbh.crypto._ec_cuda"):
        backend.set_backend("gpu")
    assert backend.get_backend() == "auto"


def test_gpu_module_is_absent_or_sees_a_device():
    mod = backend.gpu_module()
    assert mod is None or mod.device_count() > 0


def test_environment_variable_is_read_on_first_use(monkeypatch):
    monkeypatch.setattr(backend, "_current", [None])
    monkeypatch.setenv("FBH_CRYPTO_BACKEND", "portable")
    assert backend.get_backend() == "portable"
    monkeypatch.setattr(backend, "_current", [None])
    monkeypatch.setenv("FBH_CRYPTO_BACKEND", "tpu")
    with pytest.raises(ValueError, match="FBH_CRYPTO_BACKEND must be one of"):
        backend.choose(1, secret=False)
