"""fbh.model: any Flax NNX module (:mod:`fbh.model.spec`); the paper's CNN and ANN are two."""

from fbh.model.cnn import (
    ANN,
    CNN,
    MODEL_NAMES,
    PatchConv,
    conv_patches,
    create_model,
    max_pool_2x2,
    param_count,
)
from fbh.model.spec import BUILTIN_MODELS, ModelSpec, call_model, resolve_factory

__all__ = [
    "ANN",
    "BUILTIN_MODELS",
    "CNN",
    "MODEL_NAMES",
    "ModelSpec",
    "PatchConv",
    "call_model",
    "conv_patches",
    "create_model",
    "max_pool_2x2",
    "param_count",
    "resolve_factory",
]
