"""Fixtures for fbh.data tests: real MNIST, EMNIST-format archives, a local HTTP server.

Every test here runs with a private cache dir, ``FBH_OFFLINE=1`` and no
``FBH_DATA_DIR``; tests that download unset ``FBH_OFFLINE`` themselves and
point the URL tables at 127.0.0.1, so nothing here can reach the internet.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from fbh.data import load_dataset, sources

# <repo>/tests/data/conftest.py -> <repo>/../shared/data
SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
EMNIST_MAPPINGS = SHARED_DATA / "emnist" / "mapping"


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FBH_CACHE_DIR", str(cache))
    monkeypatch.setenv("FBH_OFFLINE", "1")
    monkeypatch.delenv("FBH_DATA_DIR", raising=False)
    return cache


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The project's offline data folder (../shared/data; CI provides it)."""
    if not (SHARED_DATA / "mnist").is_dir():
        pytest.skip(f"shared data folder {SHARED_DATA} is missing (it exists in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def mnist(shared_data: Path, tmp_path_factory: pytest.TempPathFactory):
    """Real MNIST, loaded once per session."""
    cache = tmp_path_factory.mktemp("unused-cache")
    return load_dataset("mnist", shared_data, download=False, cache_dir=cache)


def idx_bytes(arr: np.ndarray) -> bytes:
    """Encode an array as IDX (big-endian), the inverse of ``read_idx``."""
    codes = {"u1": 0x08, "i1": 0x09, "i2": 0x0B, "i4": 0x0C, "f4": 0x0D, "f8": 0x0E}
    code = codes[arr.dtype.str[1:]]
    header = bytes([0, 0, code, arr.ndim]) + b"".join(d.to_bytes(4, "big") for d in arr.shape)
    return header + arr.astype(arr.dtype.newbyteorder(">")).tobytes()


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def make_idx() -> Callable[[np.ndarray], bytes]:
    """``make_idx(arr) -> bytes``: the IDX encoding of ``arr``."""
    return idx_bytes


class EmnistFixture:
    """An EMNIST ``gzip.zip`` in NIST's layout, built from real MNIST images.

    Attributes:
        upright: split -> (x_train, y_train, x_test, y_test) as the loader
            should return them (upright images, labels from 0).
        members: member name -> bytes of every file inside the archive.
    """

    def __init__(self, mnist, splits: tuple[str, ...], n_train: int = 120, n_test: int = 40):
        rng = np.random.default_rng(1234)
        self.upright: dict[str, tuple[np.ndarray, ...]] = {}
        self.members: dict[str, bytes] = {}
        for split in splits:
            mapping = (EMNIST_MAPPINGS / f"emnist-{split}-mapping.txt").read_bytes()
            num_classes = len(mapping.splitlines())
            first = 1 if split == "letters" else 0
            arrays = []
            sources_x = (("train", mnist.x_train[:n_train]), ("test", mnist.x_test[:n_test]))
            for part, x_src in sources_x:
                y = rng.integers(0, num_classes, size=len(x_src)).astype(np.int32)
                name = functools.partial(sources.emnist_member, split)
                # NIST stores every image transposed, and letters labels from 1
                self.members[name(f"{part}-images")] = gz(idx_bytes(x_src.transpose(0, 2, 1)))
                self.members[name(f"{part}-labels")] = gz(idx_bytes((y + first).astype(np.uint8)))
                arrays += [np.array(x_src), y]
            self.members[f"emnist-{split}-mapping.txt"] = mapping
            self.upright[split] = tuple(arrays)

    def write_zip(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
            zf.writestr("gzip/", b"")
            for name, data in self.members.items():
                zf.writestr(f"gzip/{name}", data)
        return path

    def write_dir(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in self.members.items():
            (folder / name).write_bytes(data)
        return folder

    def pin(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Make the fixture's own digests the pinned ones (they cannot match NIST's)."""
        for name, data in self.members.items():
            if name.endswith(".gz"):
                monkeypatch.setitem(sources.EMNIST_MEMBERS, name, sources.FileSpec((sha256(data),)))


@pytest.fixture(scope="session")
def emnist_fixture(mnist) -> EmnistFixture:
    if not EMNIST_MAPPINGS.is_dir():
        pytest.skip(f"EMNIST mapping files {EMNIST_MAPPINGS} are missing (they exist in CI)")
    return EmnistFixture(mnist, ("digits", "letters", "balanced"))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    requests: list[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:
        self.requests.append(self.path)
        super().do_GET()


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[str, Path, list[str]]]:
    """A static HTTP server on 127.0.0.1: ``(base_url, served_folder, request_paths)``."""
    root = tmp_path / "www"
    root.mkdir()
    log: list[str] = []
    handler = type("Handler", (_QuietHandler,), {"requests": log})
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(handler, directory=str(root))
    )
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/", root, log
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
