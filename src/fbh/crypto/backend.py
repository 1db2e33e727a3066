"""Which kernels run the packed operations: the main CPU core, its portable twin, or a GPU.

``"cpu"`` is the main C++ core (constant-time by default). ``"portable"`` runs the kernels
of ``csrc/portable/`` on CPU threads: the same source the CUDA module compiles, so CI tests
the GPU's arithmetic without a GPU (slower than ``"cpu"``: it is the GPU's twin, not the
CPU's fast path). ``"gpu"`` runs them on an NVIDIA GPU through ``fbh.crypto._ec_cuda``
(built when CMake finds nvcc and a GPU, see the README's "On a GPU"). ``"auto"`` (the
default) picks the GPU for batches of at least :data:`GPU_CROSSOVER_VALUES` values when the
module imports and a device is present, else the CPU.

The portable and GPU kernels are variable time, so they run secret work (encryption with
secret nonces, partial decryption with secret keys) only in the fast mode
(``constant_time=False``, simulations on trusted hosts); public work (aggregation, proof
verification) may always use them. ``auto`` never moves constant-time work to the GPU;
forcing ``portable`` or ``gpu`` for it raises ``ValueError``.

The initial backend comes from the environment variable ``FBH_CRYPTO_BACKEND`` (default
``auto``); ``fbh run --crypto-backend`` and :func:`set_backend` change it.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from types import ModuleType

__all__ = [
    "BACKENDS",
    "GPU_CROSSOVER_VALUES",
    "choose",
    "get_backend",
    "gpu_available",
    "gpu_module",
    "set_backend",
    "use_backend",
]

BACKENDS = ("auto", "cpu", "portable", "gpu")
#: Smallest batch (values) that ``auto`` sends to the GPU. A placeholder until ``fbh profile``
#: measures the crossover on a device (kernel launch and copies cost ~0.1 ms; one CPU core
#: encrypts ~10^5 values/s): see the README's "On a GPU".
GPU_CROSSOVER_VALUES = 1 << 16


def _check(name: str, what: str = "crypto backend") -> str:
    if name not in BACKENDS:
        msg = f"{what} must be one of {', '.join(BACKENDS)}, got {name!r}"
        raise ValueError(msg)
    return name


_current: list[str | None] = [None]  # None: not chosen yet, FBH_CRYPTO_BACKEND decides on first use


def get_backend() -> str:
    """The backend setting (``auto``, ``cpu``, ``portable`` or ``gpu``).

    Raises:
        ValueError: FBH_CRYPTO_BACKEND names no backend (reported on first use, not on import).
    """
    if _current[0] is None:
        _current[0] = _check(os.environ.get("FBH_CRYPTO_BACKEND") or "auto", "FBH_CRYPTO_BACKEND")
    return _current[0]


def set_backend(name: str) -> None:
    """Select the backend for later packed operations.

    Raises:
        ValueError: An unknown name, or ``gpu`` when no GPU module or device is available.
    """
    _check(name)
    if name == "gpu" and not gpu_available():
        msg = "crypto backend 'gpu' needs fbh.crypto._ec_cuda and a CUDA device (see README 'On a GPU')"
        raise ValueError(msg)
    _current[0] = name


@contextlib.contextmanager
def use_backend(name: str) -> Iterator[None]:
    """Run a block with another backend, restoring the previous one afterwards."""
    before = get_backend()
    set_backend(name)
    try:
        yield
    finally:
        _current[0] = before


@functools.cache
def gpu_module() -> ModuleType | None:
    """``fbh.crypto._ec_cuda`` if it was built and sees a device, else None."""
    try:
        from fbh.crypto import _ec_cuda  # type: ignore[attr-defined]  # noqa: PLC0415
    except ImportError:
        return None
    return _ec_cuda if _ec_cuda.device_count() > 0 else None


def gpu_available() -> bool:
    """True if the CUDA module imports and sees at least one device."""
    return gpu_module() is not None


def choose(n_values: int, *, secret: bool, constant_time: bool = True) -> str:
    """The kernels (``cpu``, ``portable`` or ``gpu``) for one operation on n_values values.

    Args:
        n_values: Batch size in values (slots), for the GPU crossover.
        secret: The operation handles secrets (nonces or keys).
        constant_time: The caller asked for constant-time secret handling.

    Raises:
        ValueError: A forced variable-time backend for constant-time secret work, or ``gpu``
            forced without a device.
    """
    name = get_backend()
    needs_ct = secret and constant_time
    if name == "auto":
        return "gpu" if not needs_ct and n_values >= GPU_CROSSOVER_VALUES and gpu_available() else "cpu"
    if name != "cpu" and needs_ct:
        msg = (
            f"crypto backend {name!r} is variable time: pass constant_time=False for secret work "
            "(simulations), or use the 'cpu' backend"
        )
        raise ValueError(msg)
    if name == "gpu" and not gpu_available():
        msg = "crypto backend 'gpu' needs fbh.crypto._ec_cuda and a CUDA device"
        raise ValueError(msg)
    return name
