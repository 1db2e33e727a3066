"""fbh.data: MNIST/EMNIST/MedMNIST loading (pinned digests, cache, offline), user images, partitions."""

from fbh.data.fetch import ChecksumError, DownloadError
from fbh.data.idx import CorruptFileError, IdxFormatError, read_idx, read_idx_gz
from fbh.data.images import from_arrays, load_image_folder, load_npz
from fbh.data.loaders import DATASETS, Dataset, channel_stats, load_dataset, to_float, with_channels
from fbh.data.medmnist import MEDMNIST, load_medmnist
from fbh.data.locate import DatasetNotFoundError, default_cache_dir
from fbh.data.partitions import (
    PARTITION_SCHEMES,
    Packed,
    label_histogram,
    pack_clients,
    partition,
    split_validation,
    user_partition,
)

__all__ = [
    "DATASETS",
    "MEDMNIST",
    "PARTITION_SCHEMES",
    "ChecksumError",
    "CorruptFileError",
    "Dataset",
    "DatasetNotFoundError",
    "DownloadError",
    "IdxFormatError",
    "Packed",
    "channel_stats",
    "from_arrays",
    "load_image_folder",
    "load_medmnist",
    "load_npz",
    "default_cache_dir",
    "label_histogram",
    "load_dataset",
    "pack_clients",
    "partition",
    "read_idx",
    "read_idx_gz",
    "split_validation",
    "to_float",
    "user_partition",
    "with_channels",
]
