"""Any Flax NNX module is a model: how fbh builds, calls and rebuilds it.

**Building.** A :class:`ModelSpec` names an importable factory
``"package.module:callable"`` and its keyword arguments. fbh calls
``factory(**kwargs, rngs=nnx.Rngs(seed, params=seed))`` (a class is a
factory too). When the factory accepts ``num_classes`` or ``input_shape``
and the spec does not set them, fbh fills them in from the dataset. The
spec is stored in every checkpoint (``model_spec`` in its metadata), so
``fbh predict`` rebuilds the exact module, user models included (``fbh
audit`` checks hashes of the flat vector and needs no model at all).

**Calling.** ``model(x)`` with ``x`` a float32 batch ``[B, H, W, C]``
returning logits ``[B, num_classes]``. Two keywords are optional:
``train: bool`` (batch statistics on/off; without it fbh switches NNX's
``model.train()`` / ``model.eval()`` modes) and ``mask: bool[B]`` (rows that
are real examples, for batch statistics that must ignore padding).

**State.** fbh trains the module's ``nnx.Param`` leaves and averages its
``nnx.BatchStat`` leaves; the protocol sees their concatenation as one flat
vector ``float32[P]`` whatever ``P`` is. Other variable kinds (e.g. a
``Dropout`` that owns an RNG stream) cannot be averaged across hospitals and
are refused with a clear message.

The paper's CNN and ANN are two instances: ``"cnn"`` is
``ModelSpec("fbh.model.cnn:CNN", {...})``.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
from collections.abc import Callable, Mapping
from typing import Any

import jax
from flax import nnx

__all__ = ["BUILTIN_MODELS", "ModelSpec", "call_model", "resolve_factory"]

# Short names for the paper's models.
BUILTIN_MODELS: dict[str, str] = {"cnn": "fbh.model.cnn:CNN", "ann": "fbh.model.cnn:ANN"}


def resolve_factory(path: str) -> Callable[..., nnx.Module]:
    """Imports ``"package.module:callable"`` (dots after the colon walk attributes).

    Raises:
      ValueError: if the path is malformed, or the module or attribute is missing.
    """
    path = BUILTIN_MODELS.get(path, path)
    module_name, sep, attr = path.partition(":")
    if not sep or not module_name or not attr:
        msg = f"a model factory is 'package.module:callable' (or one of {sorted(BUILTIN_MODELS)}), got {path!r}"
        raise ValueError(msg)
    try:
        obj: Any = importlib.import_module(module_name)
    except ImportError as exc:
        msg = f"cannot import the module of model factory {path!r}: {exc}"
        raise ValueError(msg) from exc
    for part in attr.split("."):
        if not hasattr(obj, part):
            msg = f"model factory {path!r}: {obj.__name__ if hasattr(obj, '__name__') else obj!r} has no {part!r}"
            raise ValueError(msg)
        obj = getattr(obj, part)
    if not callable(obj):
        msg = f"model factory {path!r} is not callable"
        raise ValueError(msg)
    return obj


def _accepts(fn: Callable, name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # builtins without a signature
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _jsonable(value: Any) -> Any:
    """Tuples become lists (JSON), so a spec compares equal after a round trip."""
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    return value


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """How to build a model: an importable factory and its JSON-serializable kwargs.

    Attributes:
      factory: ``"package.module:callable"``, or ``"cnn"`` / ``"ann"``.
      kwargs: keyword arguments of the factory (JSON values; tuples are
        stored as lists).
    """

    factory: str
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "factory", BUILTIN_MODELS.get(self.factory, self.factory))
        object.__setattr__(self, "kwargs", _jsonable(dict(self.kwargs)))

    def completed(self, num_classes: int | None = None, input_shape=None) -> ModelSpec:
        """The spec with ``num_classes`` / ``input_shape`` filled in where the factory takes them."""
        fn = resolve_factory(self.factory)
        extra = {}
        if num_classes is not None and "num_classes" not in self.kwargs and _accepts(fn, "num_classes"):
            extra["num_classes"] = int(num_classes)
        if input_shape is not None and "input_shape" not in self.kwargs and _accepts(fn, "input_shape"):
            extra["input_shape"] = [int(v) for v in input_shape]
        return ModelSpec(self.factory, {**self.kwargs, **extra}) if extra else self

    def build(self, seed: int = 0) -> nnx.Module:
        """Calls the factory with ``rngs=nnx.Rngs(seed, params=seed)``.

        Raises:
          ValueError: if the factory fails on these kwargs or returns no NNX module.
        """
        fn = resolve_factory(self.factory)
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in self.kwargs.items()}
        try:
            model = fn(**kwargs, rngs=nnx.Rngs(seed, params=seed))
        except TypeError as exc:
            msg = f"model factory {self.factory} rejected kwargs {dict(self.kwargs)} (+ rngs): {exc}"
            raise ValueError(msg) from exc
        if not isinstance(model, nnx.Module):
            msg = f"model factory {self.factory} returned {type(model).__name__}, not a flax.nnx.Module"
            raise ValueError(msg)
        return model

    def to_json(self) -> dict[str, Any]:
        return {"factory": self.factory, "kwargs": dict(self.kwargs)}

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> ModelSpec:
        return cls(obj["factory"], obj.get("kwargs") or {})


@functools.cache
def _call_keywords(cls: type) -> tuple[bool, bool]:
    call = cls.__call__
    return _accepts(call, "train"), _accepts(call, "mask")


def call_model(model: nnx.Module, x: jax.Array, *, train: bool, mask: jax.Array | None = None) -> jax.Array:
    """Calls ``model`` on a batch following the convention in the module docstring."""
    takes_train, takes_mask = _call_keywords(type(model))
    kwargs: dict[str, Any] = {}
    if takes_train:
        kwargs["train"] = train
    elif hasattr(model, "train") and hasattr(model, "eval"):
        # NNX modes: BatchNorm uses batch statistics in train(), running ones in eval().
        model.train() if train else model.eval()
    if takes_mask and mask is not None:
        kwargs["mask"] = mask
    return model(x, **kwargs)
