"""Checksum verification and atomic, time-limited downloads.

A download goes to a temporary file next to its destination and is renamed
into place only after its SHA-256 matched the pinned value, so the cache never
holds a half-written or unverified file, even when two processes download at
once or the process is killed mid-transfer.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.request
import zlib
from collections.abc import Sequence
from pathlib import Path

from tqdm import tqdm

from fbh.data.sources import FileSpec

__all__ = [
    "TIMEOUT_SECONDS",
    "ChecksumError",
    "DownloadError",
    "download",
    "is_offline",
    "verify_digest",
]

# Per socket operation (connect, each read): a dead or firewalled host fails
# within this many seconds instead of hanging the run.
TIMEOUT_SECONDS = 10.0
_CHUNK = 1 << 20
_USER_AGENT = "fbh-data/0.1 (python urllib)"


class ChecksumError(ValueError):
    """A file's SHA-256 differs from the pinned value."""


class DownloadError(OSError):
    """Every URL for a file failed (network error, HTTP error or bad checksum).

    Attributes:
        failures: ``(url, reason)`` for each URL tried, in order.
    """

    def __init__(self, name: str, failures: Sequence[tuple[str, str]]) -> None:
        self.failures = tuple(failures)
        lines = "\n".join(f"  {url}: {reason}" for url, reason in self.failures)
        super().__init__(f"could not download {name}:\n{lines}")


def is_offline() -> bool:
    """True when ``$FBH_OFFLINE`` is set to 1/true/yes/on: never touch the network."""
    return os.environ.get("FBH_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}


def verify_digest(where: str, digest: str, spec: FileSpec, raw_digest: str | None = None) -> None:
    """Check a file's SHA-256 (or its decompressed SHA-256) against a pin.

    Args:
        where: File or archive member, for the error message.
        digest: Hex SHA-256 of the file as stored.
        spec: The pinned values.
        raw_digest: Hex SHA-256 of the decompressed content, if known.

    Raises:
        ChecksumError: Neither digest matches.
    """
    if digest in spec.sha256:
        return
    if raw_digest is not None and raw_digest == spec.raw_sha256:
        return
    expected = " or ".join(spec.sha256)
    if spec.raw_sha256:
        expected += f" (or decompressed {spec.raw_sha256}, got {raw_digest})"
    msg = (
        f"SHA-256 mismatch for {where}: got {digest}, expected {expected}. "
        "The file is corrupt or not the official one; delete it and fetch it again."
    )
    raise ChecksumError(msg)


def _gunzip_sha256(path: Path) -> str | None:
    """SHA-256 of a gzip file's decompressed content, or None if not gzip."""
    digest = hashlib.sha256()
    try:
        with gzip.open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
    except (OSError, EOFError, zlib.error):
        return None
    return digest.hexdigest()


def _fetch_to(url: str, tmp: Path, name: str, size: int | None, timeout: float) -> str:
    """Stream ``url`` into ``tmp``; returns the hex SHA-256 of what was written."""
    digest = hashlib.sha256()
    request = urllib.request.Request(url, headers={"User-Agent": _USER_AGENT})
    with urllib.request.urlopen(request, timeout=timeout) as response, tmp.open("wb") as out:
        length = int(response.headers.get("Content-Length") or 0)
        received = 0
        # disable=None: a bar on a terminal, silence in logs and CI
        with tqdm(
            total=length or size, unit="B", unit_scale=True, desc=name, disable=None, leave=False
        ) as bar:
            while chunk := response.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
        # http.client returns a short body silently when the peer hangs up early
        if length and received != length:
            msg = f"connection closed after {received} of {length} bytes"
            raise ConnectionError(msg)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest()


def download(
    urls: Sequence[str], dest: Path, spec: FileSpec, *, timeout: float | None = None
) -> Path:
    """Download the first URL that yields a verified file, atomically, to ``dest``.

    Args:
        urls: Mirrors to try, in order.
        dest: Final path; its directory is created if needed.
        spec: Pinned SHA-256 the bytes must match.
        timeout: Seconds per socket operation (default ``TIMEOUT_SECONDS``).

    Returns:
        ``dest``.

    Raises:
        ChecksumError: Some mirror answered, but no mirror's bytes matched.
        DownloadError: No mirror could be reached or answered successfully.
    """
    timeout = TIMEOUT_SECONDS if timeout is None else timeout
    dest.parent.mkdir(parents=True, exist_ok=True)
    failures: list[tuple[str, str]] = []
    bad_checksum: ChecksumError | None = None
    for url in urls:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            digest = _fetch_to(url, tmp, dest.name, spec.size, timeout)
            raw = None
            if digest not in spec.sha256 and spec.raw_sha256 is not None:
                raw = _gunzip_sha256(tmp)
            verify_digest(f"{dest.name} from {url}", digest, spec, raw)
            os.replace(tmp, dest)
            return dest
        except ChecksumError as e:
            bad_checksum = e
            failures.append((url, str(e)))
        except (OSError, http.client.HTTPException, ValueError) as e:
            # URLError, HTTPError and timeouts are OSErrors; ValueError: a bad URL
            failures.append((url, f"{type(e).__name__}: {e}"))
        finally:
            tmp.unlink(missing_ok=True)
    if bad_checksum is not None:
        msg = f"no mirror served a verified {dest.name}:\n" + "\n".join(
            f"  {url}: {reason}" for url, reason in failures
        )
        raise ChecksumError(msg) from bad_checksum
    raise DownloadError(dest.name, failures)
