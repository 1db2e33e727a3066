"""fbh.data: MNIST/EMNIST loading (pinned SHA-256, cache, offline) and client partitions."""

from fbh.data.fetch import ChecksumError, DownloadError
from fbh.data.idx import CorruptFileError, IdxFormatError, read_idx, read_idx_gz
from fbh.data.loaders import DATASETS, Dataset, load_dataset, to_float
from fbh.data.locate import DatasetNotFoundError, default_cache_dir
from fbh.data.partitions import (
    PARTITION_SCHEMES,
    Packed,
    label_histogram,
    pack_clients,
    partition,
    split_validation,
)

__all__ = [
    "DATASETS",
    "PARTITION_SCHEMES",
    "ChecksumError",
    "CorruptFileError",
    "Dataset",
    "DatasetNotFoundError",
    "DownloadError",
    "IdxFormatError",
    "Packed",
    "default_cache_dir",
    "label_histogram",
    "load_dataset",
    "pack_clients",
    "partition",
    "read_idx",
    "read_idx_gz",
    "split_validation",
    "to_float",
]
