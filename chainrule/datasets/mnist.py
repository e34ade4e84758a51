"""MNIST and Fashion-MNIST from the standard IDX files.

IDX (LeCun's format): two zero bytes, a type code, the number of dimensions ``d``, then ``d``
big-endian uint32 sizes and the data, big-endian, row-major.  Files may be gzipped.
"""

from __future__ import annotations

import gzip
import os
import zlib

from .. import backend
from ..tensor import Tensor
from ..utils.data import TensorDataset
from .fetch import data_home, download

_np = backend.np

# type code -> (big-endian NumPy dtype, name for messages)
IDX_TYPES = {
    0x08: (">u1", "unsigned byte"),
    0x09: (">i1", "signed byte"),
    0x0B: (">i2", "short"),
    0x0C: (">i4", "int"),
    0x0D: (">f4", "float"),
    0x0E: (">f8", "double"),
}


def _read_bytes(path: str, who: str) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":  # gzip magic, whatever the file is called
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:
            raise ValueError(f"{who}: {path} is a damaged or truncated gzip file ({exc})") from None
    return raw


def parse_idx(raw: bytes, name: str = "<bytes>") -> Tensor:
    """The array in IDX bytes ``raw`` as a tensor with the file's element type."""
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in IDX_TYPES:
        head = raw[:4].hex(" ") or "empty"
        raise ValueError(f"read_idx: {name} is not an IDX file (its first bytes are {head}; an "
                         f"IDX file starts with 00 00, a type code in "
                         f"{[hex(c) for c in IDX_TYPES]} and the number of dimensions)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"read_idx: {name} is truncated: its header announces {ndim} "
                         f"dimensions but the file has {len(raw)} bytes")
    shape = tuple(int(s) for s in _np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dt = _np.dtype(IDX_TYPES[raw[2]][0])
    count = 1
    for s in shape:
        count *= s
    start, need = 4 + 4 * ndim, count * dt.itemsize
    have = len(raw) - start
    if have < need:
        raise ValueError(f"read_idx: {name} is truncated: shape {list(shape)} of "
                         f"{IDX_TYPES[raw[2]][1]}s needs {need} bytes of data, the file has "
                         f"{have}")
    if have > need:
        raise ValueError(f"read_idx: {name} has {have - need} bytes after the data for shape "
                         f"{list(shape)}: not an IDX file, or a damaged one")
    a = _np.frombuffer(raw, dt, count=count, offset=start).reshape(shape)
    return Tensor._wrap(a.astype(dt.newbyteorder("="), copy=True))


def read_idx(path) -> Tensor:
    """Read an IDX file (gzipped or raw) into a tensor of its element type: uint8, int8,
    int16, int32, float32 or float64, with the file's shape.  Truncated or foreign files
    raise ``ValueError`` saying what is wrong."""
    path = os.fspath(path)
    return parse_idx(_read_bytes(path, "read_idx"), path)


class MNIST(TensorDataset):
    """MNIST handwritten digits from the four standard IDX files.

    Looks for ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
    ``t10k-images-idx3-ubyte`` and ``t10k-labels-idx1-ubyte`` (each optionally ``.gz``) in
    ``root`` and in ``root/<ClassName>/raw`` (torchvision's layout).  ``root`` defaults to
    the cache folder (``chainrule.datasets.data_home()``).  With ``download=True``, missing
    files are fetched into ``root/<ClassName>/raw`` and checked against their MD5 sums.

    Samples are ``(image, label)``: the image float32 in [0, 1] of shape (1, 28, 28), or
    (784,) with ``flatten=True``; the label int64.  ``data`` holds the raw uint8 images
    (N, 28, 28) and ``targets`` the labels, as in torchvision.
    """

    mirrors = ["https://ossci-datasets.s3.amazonaws.com/mnist/",
               "https://storage.googleapis.com/cvdf-datasets/mnist/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
        ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
        ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
        ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
    ]
    classes = ["0 - zero", "1 - one", "2 - two", "3 - three", "4 - four", "5 - five",
               "6 - six", "7 - seven", "8 - eight", "9 - nine"]

    def __init__(self, root=None, train: bool = True, download: bool = False,
                 flatten: bool = False):
        name = type(self).__name__
        self.root = data_home() if root is None else os.fspath(root)
        self.train = train
        self.raw_folder = os.path.join(self.root, name, "raw")
        prefix = "train" if train else "t10k"
        wanted = [f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"]
        paths = [self._find(stem, download) for stem in wanted]
        images, labels = read_idx(paths[0]), read_idx(paths[1])
        if images.ndim != 3 or images.dtype.name != "uint8":
            raise ValueError(f"{name}: {paths[0]} holds {images.dtype.name} data of shape "
                             f"{list(images.shape)}, expected uint8 images (N, rows, cols)")
        if labels.ndim != 1 or labels.shape[0] != images.shape[0]:
            raise ValueError(f"{name}: {paths[1]} holds labels of shape {list(labels.shape)}, "
                             f"expected ({images.shape[0]},) to match {paths[0]}")
        if labels.numel() and int(labels.data.max()) >= len(self.classes):
            raise ValueError(f"{name}: {paths[1]} has label {int(labels.data.max())}, expected "
                             f"0..{len(self.classes) - 1}")
        self.data = images
        self.targets = Tensor._wrap(labels.data.astype(_np.int64))
        n, h, w = images.shape
        x = images.data.astype(_np.float32) / _np.float32(255.0)
        x = x.reshape(n, h * w) if flatten else x.reshape(n, 1, h, w)
        super().__init__(Tensor._wrap(x), self.targets)

    def _find(self, stem: str, download: bool) -> str:
        folders = [self.root, self.raw_folder]
        for folder in folders:
            for fname in (stem, stem + ".gz"):
                path = os.path.join(folder, fname)
                if os.path.isfile(path):
                    return path
        if download:
            fname, md5 = next(r for r in self.resources if r[0] == stem + ".gz")
            return self.fetch(fname, md5)
        raise FileNotFoundError(
            f"{type(self).__name__}: {stem}[.gz] not found in {folders[0]} or {folders[1]}; pass "
            f"download=True to fetch it, or put the standard IDX files there")

    def fetch(self, fname: str, md5: str) -> str:
        """Download one resource into ``raw_folder`` (once), verified by its MD5."""
        return download([m + fname for m in self.mirrors], self.raw_folder, fname, md5=md5)


class FashionMNIST(MNIST):
    """Zalando's Fashion-MNIST: the same files and layout as MNIST, clothing classes."""

    mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
               "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/"
               "fashion/"]
    resources = [
        ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
        ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
        ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
        ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
    ]
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
               "Sneaker", "Bag", "Ankle boot"]
