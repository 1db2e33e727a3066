"""fbh profile's machine description: JAX devices, NVML when installed, versions, fingerprint."""

from __future__ import annotations

import sys
import types

from fbh.bench import profile_machine as pmach


def _fake_pynvml(fail_init: bool = False) -> types.ModuleType:
    m = types.ModuleType("pynvml")

    class NVMLError(Exception):
        pass

    def init():
        if fail_init:
            raise NVMLError("no driver")

    m.NVMLError = NVMLError
    m.NVML_CLOCK_SM = 1
    m.nvmlInit = init
    m.nvmlShutdown = lambda: None
    m.nvmlDeviceGetCount = lambda: 1
    m.nvmlDeviceGetHandleByIndex = lambda i: f"h{i}"
    m.nvmlDeviceGetName = lambda h: b"NVIDIA H100 80GB HBM3"
    m.nvmlDeviceGetMemoryInfo = lambda h: types.SimpleNamespace(total=80 * 2**30)
    m.nvmlDeviceGetMaxClockInfo = lambda h, kind: 1980
    m.nvmlSystemGetDriverVersion = lambda: "550.54.15"
    return m


def test_nvml_gpus_are_reported_when_pynvml_is_installed(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml())
    assert pmach._nvml() == [{"name": "NVIDIA H100 80GB HBM3", "memory_bytes": 80 * 2**30, "sm_clock_mhz": 1980,
                             "driver": "550.54.15"}]


def test_nvml_without_a_driver_or_module_reports_nothing(monkeypatch):
    monkeypatch.setitem(sys.modules, "pynvml", _fake_pynvml(fail_init=True))
    assert pmach._nvml() == []
    monkeypatch.setitem(sys.modules, "pynvml", None)  # import fails
    assert pmach._nvml() == []


def test_machine_description_and_fingerprint():
    m = pmach.describe_machine()
    assert m["jax_backend"] in {"cpu", "gpu", "cuda", "rocm", "tpu"}
    assert m["jax_devices"] and all(d["kind"] for d in m["jax_devices"])
    assert m["versions"]["fbh"] and m["versions"]["python"]
    fp = pmach.fingerprint(m)
    assert fp == pmach.fingerprint(dict(m, load_average=123.0))  # load is not identity
    assert fp != pmach.fingerprint(dict(m, available_cpus=m["available_cpus"] + 1))


def test_library_versions_are_the_installed_ones():
    import numpy

    versions = pmach.library_versions()
    assert set(pmach.LIBRARIES) <= set(versions)
    assert versions["numpy"] == numpy.__version__


def test_device_memory_peak_is_none_without_an_accelerator():
    import jax

    from fbh.bench.profile_measure import device_peak_bytes

    peak = device_peak_bytes()
    if jax.default_backend() == "cpu":
        assert peak is None
    else:
        assert peak is None or peak > 0
