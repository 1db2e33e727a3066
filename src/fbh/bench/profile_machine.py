"""The machine as ``fbh profile`` reports it: CPU, cores, SIMD, memory, accelerators, versions.

Accelerators come from JAX (the devices fbh would train on) and, when ``pynvml``
(``nvidia-ml-py``) is installed, from NVML as well (driver, memory, clocks).
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from typing import Any

from fbh import hardware

__all__ = ["accelerators", "describe_machine", "fingerprint", "library_versions"]

LIBRARIES = ("fbh", "jax", "jaxlib", "flax", "optax", "numpy", "numba", "web3", "coincurve")


def library_versions() -> dict[str, str | None]:
    """Installed versions of the libraries whose speed fbh depends on (``None``: absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _nvml() -> list[dict[str, Any]]:
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError:  # no driver: nothing to report
        return []
    try:
        out = []
        for i in range(pynvml.nvmlDeviceGetCount()):
            h = pynvml.nvmlDeviceGetHandleByIndex(i)
            name = pynvml.nvmlDeviceGetName(h)
            out.append({
                "name": name.decode() if isinstance(name, bytes) else name,
                "memory_bytes": int(pynvml.nvmlDeviceGetMemoryInfo(h).total),
                "sm_clock_mhz": int(pynvml.nvmlDeviceGetMaxClockInfo(h, pynvml.NVML_CLOCK_SM)),
                "driver": str(pynvml.nvmlSystemGetDriverVersion()),
            })
        return out
    finally:
        pynvml.nvmlShutdown()


def accelerators() -> dict[str, Any]:
    """JAX's backend and devices (with memory where the backend reports it), plus NVML's view."""
    import jax

    devices = []
    for d in jax.devices():
        stats = d.memory_stats() if hasattr(d, "memory_stats") else None
        devices.append({"platform": d.platform, "kind": d.device_kind,
                        "memory_bytes": (stats or {}).get("bytes_limit")})
    return {"jax_backend": jax.default_backend(), "jax_devices": devices, "nvml": _nvml()}


def describe_machine() -> dict[str, Any]:
    """Everything ``fbh profile`` detects without timing anything."""
    affinity = hardware.affinity_cpus()
    return {
        "cpu_model": hardware.cpu_model(),
        "machine": platform.machine(),
        "os_cpus": os.cpu_count(),
        "affinity_cpus": len(affinity),
        "cgroup_cpu_quota": hardware.cgroup_cpu_limit(),
        "available_cpus": hardware.available_cpus(),
        "physical_cores": hardware.physical_cores(affinity),
        "simd": hardware.cpu_flags(),
        "memory": hardware.memory_bytes(),
        "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
        **accelerators(),
        "versions": library_versions(),
    }


def fingerprint(machine: dict[str, Any]) -> dict[str, Any]:
    """What must match for a saved profile to describe this machine (``--profile auto``)."""
    kinds = sorted({d["kind"] for d in machine.get("jax_devices", [])})
    return {"cpu_model": machine.get("cpu_model"), "available_cpus": machine.get("available_cpus"),
            "jax_backend": machine.get("jax_backend"), "devices": kinds,
            "fbh": (machine.get("versions") or {}).get("fbh")}
