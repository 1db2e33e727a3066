"""fbh.model: the paper's CNN and ANN (Flax NNX, CPU-friendly layers)."""

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

__all__ = [
    "ANN",
    "CNN",
    "MODEL_NAMES",
    "PatchConv",
    "conv_patches",
    "create_model",
    "max_pool_2x2",
    "param_count",
]
