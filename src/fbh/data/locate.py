"""Finding dataset files on disk (data dir, cache) and fetching missing ones.

Search order for every file: ``data_dir`` (the argument, else
``$FBH_DATA_DIR``), then the cache (``$FBH_CACHE_DIR``, else
``~/.cache/fbh``), then a download into the cache unless downloading is off
(``download=False`` or ``FBH_OFFLINE=1``). Accepted layouts under each root:

- MNIST: ``<root>/mnist/<file>.gz`` or ``<root>/<file>.gz``.
- EMNIST: the extracted members in ``<root>/emnist/gzip/``, ``<root>/gzip/``,
  ``<root>/emnist/`` or ``<root>/``; or NIST's archive at
  ``<root>/emnist/gzip.zip`` or ``<root>/gzip.zip`` (members ``gzip/<file>``).
"""

from __future__ import annotations

import dataclasses
import functools
import os
import zipfile
from collections.abc import Callable, Sequence
from pathlib import Path

from fbh.data import fetch, sources
from fbh.data.idx import CorruptFileError

__all__ = [
    "DatasetNotFoundError",
    "Found",
    "default_cache_dir",
    "find_emnist",
    "find_mnist",
]


class DatasetNotFoundError(FileNotFoundError):
    """A dataset's files are not on disk and could not be downloaded."""


@dataclasses.dataclass(frozen=True)
class Found:
    """A located file: where it is (for messages) and how to read its bytes."""

    where: str
    read: Callable[[], bytes]


def default_cache_dir() -> Path:
    """``$FBH_CACHE_DIR``, else ``$XDG_CACHE_HOME/fbh``, else ``~/.cache/fbh``."""
    if env := os.environ.get("FBH_CACHE_DIR"):
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "fbh"


def _roots(data_dir: str | os.PathLike[str] | None, cache_dir: Path) -> list[Path]:
    if data_dir is None:
        data_dir = os.environ.get("FBH_DATA_DIR") or None
    roots = [Path(data_dir).expanduser()] if data_dir is not None else []
    return [*roots, cache_dir]


def _first_file(dirs: Sequence[Path], name: str) -> Found | None:
    for d in dirs:
        path = d / name
        if path.is_file():
            return Found(str(path), path.read_bytes)
    return None


def _read_member(archive: Path, member: str) -> bytes:
    try:
        with zipfile.ZipFile(archive) as zf:
            return zf.read(member)
    except (zipfile.BadZipFile, OSError, EOFError) as e:  # e.g. a bad CRC-32
        msg = f"{archive}:{member}: unreadable ({e}); delete the archive and fetch it again"
        raise CorruptFileError(msg) from e


def _zip_member(archive: Path, name: str) -> Found | None:
    """``gzip/<name>`` (or ``<name>``) inside ``archive``, if present."""
    try:
        with zipfile.ZipFile(archive) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError) as e:
        msg = f"{archive}: not a valid zip archive ({e}); delete it and fetch it again"
        raise CorruptFileError(msg) from e
    for member in (f"gzip/{name}", name):
        if member in names:
            return Found(f"{archive}:{member}", functools.partial(_read_member, archive, member))
    return None


def _missing_error(
    dataset: str, missing: Sequence[str], roots: Sequence[Path], where: str, reason: str
) -> DatasetNotFoundError:
    """The error for absent files; ``where`` contains ``{dir}`` for the target folder."""
    listed = "\n".join(f"  {m}" for m in missing)
    searched = "\n".join(f"  {r}{'' if r.is_dir() else '  (does not exist)'}" for r in roots)
    if len(roots) > 1:  # a data dir was given (argument or FBH_DATA_DIR)
        hint = f"To use it offline, {where.format(dir=roots[0])}."
    else:
        hint = (
            f"To use it offline, {where.format(dir='<folder>')}, and pass that folder "
            "as data_dir= (CLI: --data-dir) or set FBH_DATA_DIR to it."
        )
    msg = (
        f"dataset {dataset!r} is not available: {reason}.\n"
        f"Missing files:\n{listed}\n"
        f"Searched under these folders:\n{searched}\n{hint}"
    )
    return DatasetNotFoundError(msg)


def _why_not_downloaded(download: bool) -> str | None:
    if not download:
        return "downloading is disabled (download=False)"
    if fetch.is_offline():
        return "downloading is disabled (FBH_OFFLINE is set)"
    return None


def find_mnist(
    data_dir: str | os.PathLike[str] | None, cache_dir: Path, *, download: bool
) -> dict[str, Found]:
    """Locate (downloading if allowed) the four MNIST ``.gz`` files.

    Returns:
        File name -> :class:`Found`, for every name in ``sources.MNIST_FILES``.

    Raises:
        DatasetNotFoundError: Files missing and not downloadable.
        ChecksumError: A mirror served bytes that do not match the pin.
    """
    roots = _roots(data_dir, cache_dir)
    dirs = [d for r in roots for d in (r / "mnist", r)]
    found = {n: _first_file(dirs, n) for n in sources.MNIST_FILES}
    missing = [n for n, f in found.items() if f is None]
    if not missing:
        return found  # type: ignore[return-value]
    where = "put " + ", ".join(missing) + " in {dir}/mnist/ (or directly in {dir}/)"
    if reason := _why_not_downloaded(download):
        raise _missing_error("mnist", missing, roots, where, reason)
    for name in missing:
        urls = [base + name for base in sources.MNIST_MIRRORS]
        try:
            path = fetch.download(urls, cache_dir / "mnist" / name, sources.MNIST_FILES[name])
        except fetch.DownloadError as e:
            raise _missing_error("mnist", missing, roots, where, str(e)) from e
        found[name] = Found(str(path), path.read_bytes)
    return found  # type: ignore[return-value]


def _find_emnist_once(roots: Sequence[Path], names: Sequence[str]) -> dict[str, Found | None]:
    dirs = [d for r in roots for d in (r / "emnist" / "gzip", r / "gzip", r / "emnist", r)]
    archives = [r / "emnist" / "gzip.zip" for r in roots] + [r / "gzip.zip" for r in roots]
    archives = [a for a in archives if a.is_file()]
    found: dict[str, Found | None] = {}
    for name in names:
        hit = _first_file(dirs, name)
        for archive in archives:
            if hit is not None:
                break
            hit = _zip_member(archive, name)
        found[name] = hit
    return found


def find_emnist(
    split: str, data_dir: str | os.PathLike[str] | None, cache_dir: Path, *, download: bool
) -> dict[str, Found]:
    """Locate (downloading NIST's ``gzip.zip`` if allowed) one EMNIST split.

    Returns:
        Member name -> :class:`Found` for the four IDX members and the mapping.

    Raises:
        DatasetNotFoundError: Files missing and not downloadable.
        ChecksumError: The downloaded archive does not match the pin.
    """
    parts = ("train-images", "train-labels", "test-images", "test-labels")
    names = [sources.emnist_member(split, p) for p in parts] + [f"emnist-{split}-mapping.txt"]
    roots = _roots(data_dir, cache_dir)
    found = _find_emnist_once(roots, names)
    missing = [n for n, f in found.items() if f is None]
    if not missing:
        return found  # type: ignore[return-value]
    where = (
        "put NIST's gzip.zip at {dir}/emnist/gzip.zip, or its extracted members "
        "in {dir}/emnist/gzip/"
    )
    if reason := _why_not_downloaded(download):
        raise _missing_error(f"emnist-{split}", missing, roots, where, reason)
    archive = cache_dir / "emnist" / "gzip.zip"
    try:
        fetch.download(sources.EMNIST_ZIP_MIRRORS, archive, sources.EMNIST_ZIP)
    except fetch.DownloadError as e:
        raise _missing_error(f"emnist-{split}", missing, roots, where, str(e)) from e
    found.update(_find_emnist_once([cache_dir], missing))
    if still := [n for n, f in found.items() if f is None]:
        reason = f"the verified archive {archive} lacks these members"
        raise _missing_error(f"emnist-{split}", still, roots, where, reason)
    return found  # type: ignore[return-value]
