"""Splitting a training set across C hospitals, and a held-out validation set.

All functions take a seed and draw from ``np.random.default_rng(seed)``, so a
partition is a pure function of its arguments. Index arrays are ``int64``,
sorted ascending; every index is used exactly once across clients.

Schemes (``partition(..., scheme=...)``):

- ``"iid"``: a uniform random split; equal sizes (±1), or log-normal size
  skew with ``size_sigma > 0`` (hospitals of different sizes, same label mix).
- ``"dirichlet"``: label skew; for each class, its examples are divided among
  clients in proportions drawn from ``Dirichlet(alpha · 1_C)`` (Hsu et al.,
  2019), skipping clients that already hold N/C examples, and redrawn until
  every client has ``min_size`` (Li et al., 2022). Small ``alpha`` is very
  skewed, large ``alpha`` approaches IID.
- ``"shards"``: sort by label, cut into ``C · shards_per_client`` equal shards,
  deal each client ``shards_per_client`` of them (McMahan et al., 2017).

References:
    H. B. McMahan et al., "Communication-Efficient Learning of Deep Networks
    from Decentralized Data", AISTATS 2017.
    T.-M. H. Hsu, H. Qi, M. Brown, "Measuring the Effects of Non-Identical Data
    Distribution for Federated Visual Classification", arXiv:1909.06335.
    Q. Li, Y. Diao, Q. Chen, B. He, "Federated Learning on Non-IID Data Silos:
    An Experimental Study", ICDE 2022 (NIID-Bench).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = [
    "PARTITION_SCHEMES",
    "Packed",
    "label_histogram",
    "pack_clients",
    "partition",
    "split_validation",
    "user_partition",
]

PARTITION_SCHEMES: tuple[str, ...] = ("iid", "dirichlet", "shards")


def _labels(labels: np.ndarray) -> np.ndarray:
    y = np.asarray(labels)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        msg = f"labels must be a 1-D array of non-negative integers, got {y.dtype}{y.shape}"
        raise ValueError(msg)
    return y


def _apportion(total: int, weights: np.ndarray) -> np.ndarray:
    """Integer counts summing to ``total``, proportional to ``weights`` (largest remainder)."""
    exact = total * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    # ties go to the lower index (stable sort), keeping this deterministic
    extra = np.argsort(-(exact - counts), kind="stable")[: total - counts.sum()]
    counts[extra] += 1
    return counts


def split_validation(
    labels: np.ndarray, size: int | float = 5000, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Hold out a stratified validation set (for the auditor) from a training set.

    Each class contributes in proportion to its frequency (largest-remainder
    rounding, so the total is exactly ``size``).

    Args:
        labels: ``int[N]`` training labels, e.g. ``ds.y_train``.
        size: Number of validation examples, or a fraction in ``(0, 1)``.
        seed: Seed for ``np.random.default_rng``.

    Returns:
        ``(train_idx, val_idx)``: disjoint sorted ``int64`` arrays covering ``0..N-1``.

    Raises:
        ValueError: ``size`` is not in ``(0, N)``.
    """
    y = _labels(labels)
    n = y.size
    count = round(size * n) if isinstance(size, float) and 0 < size < 1 else size
    if not isinstance(count, (int, np.integer)) or not 0 < count < n:
        msg = f"validation size must be an int in (0, {n}) or a fraction in (0, 1), got {size!r}"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    per_class = _apportion(int(count), np.bincount(y).astype(np.float64))
    val = [
        rng.choice(np.flatnonzero(y == k), size=m, replace=False)
        for k, m in enumerate(per_class)
        if m
    ]
    val_idx = np.sort(np.concatenate(val)).astype(np.int64)
    keep = np.ones(n, dtype=bool)
    keep[val_idx] = False
    return np.flatnonzero(keep).astype(np.int64), val_idx


def _iid(
    n: int, num_clients: int, size_sigma: float, min_size: int, rng: np.random.Generator
) -> list[np.ndarray]:
    if size_sigma > 0:
        weights = rng.lognormal(0.0, size_sigma, num_clients)
    else:
        weights = np.ones(num_clients)
    # min_size first, the rest by weight: the floor holds without resampling
    counts = min_size + _apportion(n - num_clients * min_size, weights)
    return np.split(rng.permutation(n), np.cumsum(counts)[:-1])


def _dirichlet(
    y: np.ndarray,
    num_clients: int,
    alpha: float,
    min_size: int,
    max_tries: int,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    by_class = [rng.permutation(np.flatnonzero(y == k)) for k in range(int(y.max()) + 1)]
    for _ in range(max_tries):
        parts: list[list[np.ndarray]] = [[] for _ in range(num_clients)]
        sizes = np.zeros(num_clients, dtype=np.int64)
        for idx in by_class:
            p = rng.dirichlet(np.full(num_clients, alpha))
            # Clients already holding their 1/C share take no more (as in
            # NIID-Bench): without this, tiny alpha leaves clients nearly empty
            # and the min_size resampling below would rarely succeed.
            p = np.where(sizes < y.size / num_clients, p, 0.0)
            p = p / p.sum()
            cuts = (np.cumsum(p)[:-1] * idx.size).astype(np.int64)
            for c, chunk in enumerate(np.split(idx, cuts)):
                parts[c].append(chunk)
                sizes[c] += chunk.size
        out = [np.concatenate(chunks) for chunks in parts]
        if min(o.size for o in out) >= min_size:
            return out
    msg = (
        f"no Dirichlet(alpha={alpha}) draw gave all {num_clients} clients >= {min_size} "
        f"examples in {max_tries} tries; raise alpha or lower min_size"
    )
    raise ValueError(msg)


def _shards(
    y: np.ndarray, num_clients: int, per_client: int, rng: np.random.Generator
) -> list[np.ndarray]:
    num_shards = num_clients * per_client
    if num_shards > y.size:
        msg = f"{num_shards} shards requested but only {y.size} examples"
        raise ValueError(msg)
    # shuffle first so the order within a label (hence shard contents) is random
    order = rng.permutation(y.size)
    order = order[np.argsort(y[order], kind="stable")]
    shards = np.array_split(order, num_shards)
    deal = rng.permutation(num_shards).reshape(num_clients, per_client)
    return [np.concatenate([shards[s] for s in row]) for row in deal]


def partition(
    labels: np.ndarray,
    num_clients: int,
    scheme="iid",
    *,
    alpha: float = 0.5,
    shards_per_client: int = 2,
    size_sigma: float = 0.0,
    min_size: int = 10,
    seed: int = 0,
    max_tries: int = 1000,
) -> list[np.ndarray]:
    """Split example indices ``0..N-1`` among ``num_clients`` clients.

    Args:
        labels: ``int[N]`` labels of the examples to split (after
            :func:`split_validation`, pass ``y_train[train_idx]`` and map the
            result back through ``train_idx``).
        num_clients: C, the number of clients.
        scheme: ``"iid"``, ``"dirichlet"`` or ``"shards"`` (see module docs);
            or the user's own split: C index arrays, or a callable
            ``(labels, num_clients, seed) -> C index arrays``
            (see :func:`user_partition`).
        alpha: Dirichlet concentration (``"dirichlet"`` only), > 0.
        shards_per_client: Shards dealt to each client (``"shards"`` only).
        size_sigma: Log-normal sigma of client sizes (``"iid"`` only); 0 gives
            equal sizes.
        min_size: Every client gets at least this many examples; Dirichlet
            draws are repeated until this holds.
        seed: Seed for ``np.random.default_rng``.
        max_tries: Dirichlet draws before giving up.

    Returns:
        C sorted ``int64`` index arrays, pairwise disjoint, together covering
        ``0..N-1`` exactly once.

    Raises:
        ValueError: Unknown scheme, bad parameters, or ``min_size`` cannot be met.
    """
    y = _labels(labels)
    if callable(scheme):
        scheme = scheme(y, num_clients, seed)
    if not isinstance(scheme, str):
        return user_partition(scheme, y.size, num_clients)
    if num_clients < 1 or num_clients * max(min_size, 1) > y.size:
        msg = f"cannot give {num_clients} clients >= {max(min_size, 1)} of {y.size} examples each"
        raise ValueError(msg)
    rng = np.random.default_rng(seed)
    if scheme == "iid":
        if not size_sigma >= 0:
            msg = f"size_sigma must be >= 0, got {size_sigma}"
            raise ValueError(msg)
        parts = _iid(y.size, num_clients, size_sigma, min_size, rng)
    elif scheme == "dirichlet":
        if not alpha > 0:
            msg = f"alpha must be > 0, got {alpha}"
            raise ValueError(msg)
        parts = _dirichlet(y, num_clients, alpha, min_size, max_tries, rng)
    elif scheme == "shards":
        if shards_per_client < 1:
            msg = f"shards_per_client must be >= 1, got {shards_per_client}"
            raise ValueError(msg)
        parts = _shards(y, num_clients, shards_per_client, rng)
        if (small := min(p.size for p in parts)) < min_size:
            msg = f"shards give a client only {small} < min_size={min_size} examples"
            raise ValueError(msg)
    else:
        msg = f"unknown partition scheme {scheme!r}; choose one of {', '.join(PARTITION_SCHEMES)}"
        raise ValueError(msg)
    return [np.sort(p).astype(np.int64) for p in parts]


def user_partition(parts, num_examples: int, num_clients: int | None = None, *, seed: int = 0) -> list[np.ndarray]:
    """Checks a user-given split: C non-empty, disjoint index arrays into ``0..N-1``.

    Indices need not cover every example (a hospital may leave some out).

    Args:
        parts: C index sequences, or a callable ``(labels, num_clients, seed)``
            returning them (called by :func:`partition`, not here).
        num_examples: N, the number of examples indexed.
        num_clients: expected C, or ``None`` for any.
        seed: unused here; kept so :func:`partition` can pass it through.

    Returns:
        C sorted ``int64`` index arrays.

    Raises:
        ValueError: wrong count, an empty, out-of-range or non-integer part, or overlapping parts.
    """
    del seed
    out = []
    for c, p in enumerate(parts):
        a = np.asarray(p)
        if a.ndim != 1 or a.size == 0 or not np.issubdtype(a.dtype, np.integer):
            msg = f"client {c}'s part must be a non-empty 1-D integer index array, got {a.dtype}{a.shape}"
            raise ValueError(msg)
        if a.min() < 0 or a.max() >= num_examples:
            msg = f"client {c}'s indices span {a.min()}..{a.max()}, outside 0..{num_examples - 1}"
            raise ValueError(msg)
        out.append(np.sort(a).astype(np.int64))
    if num_clients is not None and len(out) != num_clients:
        msg = f"the partition gives {len(out)} clients, expected {num_clients}"
        raise ValueError(msg)
    joined = np.concatenate(out) if out else np.zeros(0, np.int64)
    if np.unique(joined).size != joined.size:
        msg = "the clients' index arrays overlap: every example may belong to one hospital only"
        raise ValueError(msg)
    return out


def label_histogram(
    labels: np.ndarray, parts: list[np.ndarray], num_classes: int | None = None
) -> np.ndarray:
    """``int64[C, K]``: how many examples of each class each client holds."""
    y = _labels(labels)
    k = int(y.max()) + 1 if num_classes is None else num_classes
    return np.stack([np.bincount(y[p], minlength=k) for p in parts])


class Packed(NamedTuple):
    """Client data padded to a common length N (``Nmax``), with a validity mask.

    Attributes:
        x: ``[C, N, ...]`` examples (``x.dtype``); padding rows are zero.
        y: ``int32[C, N]`` labels; padding is 0.
        mask: ``bool[C, N]``, True for real examples (the first ``counts[c]``).
        counts: ``int32[C]`` real examples per client (FedAvg weights).
    """

    x: np.ndarray
    y: np.ndarray
    mask: np.ndarray
    counts: np.ndarray


def pack_clients(
    x: np.ndarray, y: np.ndarray, parts: list[np.ndarray], *, multiple_of: int = 1
) -> Packed:
    """Gather each client's examples into padded ``[C, N, ...]`` arrays.

    Args:
        x: ``[N_total, ...]`` examples (e.g. ``uint8[N, 28, 28]`` or float).
        y: ``int[N_total]`` labels.
        parts: C index arrays into ``x``/``y`` (from :func:`partition`).
        multiple_of: Round the padded length up to a multiple of this (e.g.
            the batch size, so every client has whole batches).

    Returns:
        A :class:`Packed` ``(x, y, mask, counts)``; client c's real examples
        are rows ``0..counts[c]-1``, in the order of ``parts[c]``.
    """
    if len(x) != len(y):
        msg = f"x has {len(x)} examples but y has {len(y)}"
        raise ValueError(msg)
    if multiple_of < 1:
        msg = f"multiple_of must be >= 1, got {multiple_of}"
        raise ValueError(msg)
    counts = np.array([p.size for p in parts], dtype=np.int32)
    n_max = -(-max(int(counts.max(initial=0)), 1) // multiple_of) * multiple_of
    num_clients = len(parts)
    xc = np.zeros((num_clients, n_max, *x.shape[1:]), dtype=x.dtype)
    yc = np.zeros((num_clients, n_max), dtype=np.int32)
    mask = np.zeros((num_clients, n_max), dtype=bool)
    for c, p in enumerate(parts):
        xc[c, : p.size] = x[p]
        yc[c, : p.size] = y[p]
        mask[c, : p.size] = True
    return Packed(xc, yc, mask, counts)
