"""Downloads from a local HTTP server: cache, mirror fallback, checksums, atomicity, timeouts."""

from __future__ import annotations

import hashlib
import shutil
import socket
import threading
import time

import numpy as np
import pytest

from fbh.data import (
    ChecksumError,
    DatasetNotFoundError,
    DownloadError,
    fetch,
    load_dataset,
    sources,
)

MNIST_FILES = tuple(sources.MNIST_FILES)


@pytest.fixture
def online(monkeypatch):
    monkeypatch.delenv("FBH_OFFLINE")


def _leftovers(folder):
    return sorted(p.name for p in folder.rglob("*") if p.is_file())


def test_mnist_download_fills_cache_then_works_offline(
    online, http_root, shared_data, _isolated_env, monkeypatch
):
    base, www, requests = http_root
    shutil.copytree(shared_data / "mnist", www / "mnist")
    monkeypatch.setattr(sources, "MNIST_MIRRORS", (base + "missing/", base + "mnist/"))

    ds = load_dataset("mnist")

    cache = _isolated_env / "mnist"
    assert _leftovers(cache) == sorted(MNIST_FILES)  # no .part files left behind
    for name in MNIST_FILES:
        assert (cache / name).read_bytes() == (shared_data / "mnist" / name).read_bytes()
    # each file: first mirror 404s, second serves it
    expected = [f"/missing/{n}" for n in MNIST_FILES] + [f"/mnist/{n}" for n in MNIST_FILES]
    assert sorted(requests) == sorted(expected)
    assert ds.y_train[:3].tolist() == [5, 0, 4]

    monkeypatch.setenv("FBH_OFFLINE", "1")
    requests.clear()
    again = load_dataset("mnist")
    assert requests == []  # served from the cache
    np.testing.assert_array_equal(again.y_test, ds.y_test)


def test_only_missing_files_are_downloaded(online, http_root, shared_data, tmp_path, monkeypatch):
    base, www, requests = http_root
    shutil.copytree(shared_data / "mnist", www, dirs_exist_ok=True)
    monkeypatch.setattr(sources, "MNIST_MIRRORS", (base,))
    local = tmp_path / "d" / "mnist"
    local.mkdir(parents=True)
    for name in MNIST_FILES[1:]:
        shutil.copy(shared_data / "mnist" / name, local / name)
    load_dataset("mnist", tmp_path / "d")
    assert requests == [f"/{MNIST_FILES[0]}"]


def test_bad_download_is_rejected_and_not_cached(
    online, http_root, shared_data, _isolated_env, monkeypatch
):
    base, www, _ = http_root
    shutil.copytree(shared_data / "mnist", www, dirs_exist_ok=True)
    labels = "t10k-labels-idx1-ubyte.gz"
    (www / labels).write_bytes(b"\x1f\x8b not the real file")
    monkeypatch.setattr(sources, "MNIST_MIRRORS", (base,))
    with pytest.raises(ChecksumError, match=f"no mirror served a verified {labels}"):
        load_dataset("mnist")
    # the three good files are cached; the bad one left neither a file nor a .part
    assert labels not in _leftovers(_isolated_env)
    assert not [p for p in _leftovers(_isolated_env) if p.endswith(".part")]


def test_truncated_transfer_leaves_nothing(online, tmp_path):
    """A server that sends half the promised body: ConnectionError, no file."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    port = server.getsockname()[1]
    def serve_half():
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            head = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nConnection: close\r\n\r\n"
            conn.sendall(head + b"x" * 50)

    thread = threading.Thread(target=serve_half)
    thread.start()
    spec = sources.FileSpec((hashlib.sha256(b"x" * 100).hexdigest(),))
    dest = tmp_path / "out" / "f.bin"
    try:
        with pytest.raises(DownloadError, match="connection closed after 50 of 100 bytes") as info:
            fetch.download([f"http://127.0.0.1:{port}/f.bin"], dest, spec)
    finally:
        thread.join()
        server.close()
    assert info.value.failures[0][0].endswith("/f.bin")
    assert _leftovers(tmp_path / "out") == []


def test_unreachable_mirrors_fail_fast_with_instructions(online, monkeypatch):
    # a listening socket that never accepts: connect succeeds, the read hangs
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)
    port = silent.getsockname()[1]
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    refused_port = closed.getsockname()[1]
    closed.close()  # nothing listens here: connection refused
    monkeypatch.setattr(fetch, "TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(
        sources, "MNIST_MIRRORS", (f"http://127.0.0.1:{refused_port}/", f"http://127.0.0.1:{port}/")
    )
    start = time.monotonic()
    try:
        with pytest.raises(DatasetNotFoundError) as info:
            load_dataset("mnist")
    finally:
        silent.close()
    assert time.monotonic() - start < 30  # bounded by the timeout, not a hang
    msg = str(info.value)
    assert "could not download train-images-idx3-ubyte.gz" in msg
    assert "timed out" in msg
    assert "refused" in msg.lower()
    assert "<folder>/mnist/" in msg


def test_offline_env_never_touches_network(http_root, shared_data, monkeypatch):
    base, www, requests = http_root
    shutil.copytree(shared_data / "mnist", www, dirs_exist_ok=True)
    monkeypatch.setattr(sources, "MNIST_MIRRORS", (base,))
    with pytest.raises(DatasetNotFoundError, match="FBH_OFFLINE is set"):
        load_dataset("mnist", download=True)
    assert requests == []


def test_emnist_zip_download(online, http_root, emnist_fixture, _isolated_env, monkeypatch):
    base, www, requests = http_root
    archive = emnist_fixture.write_zip(www / "gzip.zip")
    emnist_fixture.pin(monkeypatch)
    digest = hashlib.sha256(archive.read_bytes()).hexdigest()
    monkeypatch.setattr(sources, "EMNIST_ZIP", sources.FileSpec((digest,)))
    monkeypatch.setattr(sources, "EMNIST_ZIP_MIRRORS", (base + "nope.zip", base + "gzip.zip"))

    ds = load_dataset("emnist-letters")

    assert requests == ["/nope.zip", "/gzip.zip"]
    assert _leftovers(_isolated_env) == ["gzip.zip"]
    assert (_isolated_env / "emnist" / "gzip.zip").read_bytes() == archive.read_bytes()
    np.testing.assert_array_equal(ds.y_train, emnist_fixture.upright["letters"][1])
    # a second split comes from the cached archive, no new request
    requests.clear()
    assert load_dataset("emnist-digits").num_classes == 10
    assert requests == []


def test_emnist_zip_checksum_mismatch(
    online, http_root, emnist_fixture, _isolated_env, monkeypatch
):
    base, www, _ = http_root
    emnist_fixture.write_zip(www / "gzip.zip")
    monkeypatch.setattr(sources, "EMNIST_ZIP_MIRRORS", (base + "gzip.zip",))
    # production pin for the zip: the fixture archive is not NIST's
    with pytest.raises(ChecksumError, match=sources.EMNIST_ZIP.sha256[0]):
        load_dataset("emnist-digits")
    assert _leftovers(_isolated_env) == []
