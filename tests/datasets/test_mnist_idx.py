"""IDX reading, MNIST / Fashion-MNIST folders, and the checksum-verified download (no network:
file:// URLs, a closed local port, and monkeypatching)."""

from __future__ import annotations

import gzip
import hashlib
import struct
import urllib.error
import urllib.request

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import MNIST, DownloadError, FashionMNIST, download, fetch, read_idx
from chainrule.utils.data import DataLoader

IDX_CODES = {np.uint8: 0x08, np.int8: 0x09, np.int16: 0x0B, np.int32: 0x0C, np.float32: 0x0D,
             np.float64: 0x0E}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written out independently of the reader under test."""
    code = IDX_CODES[array.dtype.type]
    head = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return head + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write_idx(path, array, gz=False):
    raw = idx_bytes(array)
    path.write_bytes(gzip.compress(raw) if gz else raw)
    return path


ARRAYS = {
    "uint8 images": np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
    "int8": np.array([-128, 0, 127], np.int8),
    "int16": np.array([[-300, 7], [1, 30000]], np.int16),
    "int32": np.array([-(2 ** 31), 2 ** 31 - 1], np.int32),
    "float32": np.array([1.5, -2.25, np.inf], np.float32),
    "float64 scalar-ish": np.array([[3.125]], np.float64),
    "empty": np.zeros((0, 5), np.uint8),
}


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_read_idx_round_trip(tmp_path, name, gz):
    a = ARRAYS[name]
    t = read_idx(write_idx(tmp_path / "f.idx", a, gz))
    assert t.dtype.name == a.dtype.name and tuple(t.shape) == a.shape
    assert np.array_equal(t.numpy(), a)


@pytest.mark.parametrize("content,match", [
    (b"", "not an IDX file"),
    (b"\x89PNG\r\n\x1a\n", "not an IDX file"),
    (b"\x00\x00\x07\x01\x00\x00\x00\x01\x00", "not an IDX file"),  # unknown type code
    (b"\x00\x00\x08\x03\x00\x00\x00\x02", "truncated: its header announces 3 dimensions"),
    (idx_bytes(np.zeros((4, 4), np.uint8))[:-3], "truncated: shape \\[4, 4\\]"),
    (idx_bytes(np.zeros(3, np.int32)) + b"\x00", "bytes after the data"),
    (gzip.compress(idx_bytes(np.zeros(100, np.uint8)))[:-10], "damaged or truncated gzip"),
])
def test_read_idx_errors(tmp_path, content, match):
    path = tmp_path / "bad"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        read_idx(path)


def _fake_mnist(folder, n_train=6, n_test=4, gz=True, seed=0):
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n, dtype=np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images, gz)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels, gz)
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("layout", ["flat", "torchvision"])
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_from_folder(tmp_path, layout, gz):
    folder = tmp_path if layout == "flat" else tmp_path / "MNIST" / "raw"
    arrays = _fake_mnist(folder, gz=gz)
    train, test = MNIST(tmp_path), MNIST(tmp_path, train=False)
    assert len(train) == 6 and len(test) == 4
    images, labels = arrays["train"]
    assert np.array_equal(train.data.numpy(), images) and train.targets.dtype == cr.int64
    x, y = train[2]
    assert tuple(x.shape) == (1, 28, 28) and x.dtype == cr.float32
    assert np.allclose(x.numpy()[0], images[2] / 255.0) and y.item() == labels[2]
    flat = MNIST(tmp_path, flatten=True)
    assert tuple(flat[0][0].shape) == (784,)
    xb, yb = next(iter(DataLoader(test, batch_size=3)))
    assert tuple(xb.shape) == (3, 1, 28, 28) and yb.tolist() == arrays["t10k"][1][:3].tolist()


def test_fashion_mnist_uses_its_own_folder(tmp_path):
    _fake_mnist(tmp_path / "FashionMNIST" / "raw")
    ds = FashionMNIST(tmp_path)
    assert len(ds) == 6 and ds.classes[9] == "Ankle boot"
    with pytest.raises(FileNotFoundError, match="MNIST.*download=True"):
        MNIST(tmp_path)


def test_mnist_rejects_mismatched_files(tmp_path):
    _fake_mnist(tmp_path, gz=False)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.zeros(5, np.uint8))
    with pytest.raises(ValueError, match="expected \\(6,\\)"):
        MNIST(tmp_path)
    write_idx(tmp_path / "train-labels-idx1-ubyte", np.full(6, 12, np.uint8))
    with pytest.raises(ValueError, match="label 12"):
        MNIST(tmp_path)


# ----------------------------------------------------------------------------- download


def _serve(tmp_path, content=b"some dataset bytes"):
    src = tmp_path / "server" / "file.bin"
    src.parent.mkdir()
    src.write_bytes(content)
    return src.as_uri(), hashlib.sha256(content).hexdigest(), hashlib.md5(content).hexdigest()


def test_download_verifies_and_downloads_once(tmp_path, monkeypatch):
    url, sha, md5 = _serve(tmp_path)
    cache = tmp_path / "cache"
    path = download(url, cache, sha256=sha)
    assert open(path, "rb").read() == b"some dataset bytes"

    def offline(*args, **kwargs):
        raise AssertionError("the cached file should have been used")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    assert download(url, cache, sha256=sha) == path
    assert download(url, cache, md5=md5) == path


def test_download_rejects_checksum_mismatch(tmp_path):
    url, sha, _ = _serve(tmp_path)
    cache = tmp_path / "cache"
    with pytest.raises(DownloadError, match="sha256 is .*expected 0+ \\(file not kept\\)"):
        download(url, cache, sha256="0" * 64)
    assert not any(cache.iterdir())  # neither the file nor a partial download remains
    # a corrupted cached file is replaced by a verified download
    (cache / "file.bin").write_bytes(b"corrupt")
    assert open(download(url, cache, sha256=sha), "rb").read() == b"some dataset bytes"


def test_download_offline_error_is_clear(tmp_path):
    # port 9 on localhost: nothing listens, so the connection is refused at once
    with pytest.raises(DownloadError, match=r"could not fetch x\.gz: .*offline.*put it at"):
        download("http://127.0.0.1:9/x.gz", tmp_path, md5="0" * 32, timeout=5)


def test_download_tries_mirrors_in_order(tmp_path):
    url, sha, _ = _serve(tmp_path)
    path = download(["http://127.0.0.1:9/file.bin", url], tmp_path / "c", sha256=sha)
    assert open(path, "rb").read() == b"some dataset bytes"


def test_mnist_download_offline(tmp_path, monkeypatch):
    def offline(url, timeout=None):
        raise urllib.error.URLError("Temporary failure in name resolution")

    monkeypatch.setattr(fetch.urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError, match="train-images-idx3-ubyte.gz.*name resolution.*"
                                            "offline"):
        MNIST(tmp_path, download=True)


def test_mnist_download_fetches_into_raw_folder(tmp_path, monkeypatch):
    """download=True with the class's mirrors pointed at a local folder of fake files whose
    checksums are the ones the class verifies."""
    server = tmp_path / "server"
    arrays = _fake_mnist(server, gz=True)
    resources = [(f.name, hashlib.md5(f.read_bytes()).hexdigest())
                 for f in sorted(server.iterdir())]
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/", server.as_uri() + "/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    root = tmp_path / "root"
    ds = MNIST(root, train=False, download=True)
    assert np.array_equal(ds.data.numpy(), arrays["t10k"][0])
    assert sorted(p.name for p in (root / "MNIST" / "raw").iterdir()) == [
        "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"]
