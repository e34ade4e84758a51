"""The 8x8 handwritten digits bundled with chainrule (no download needed).

1,797 grayscale 8x8 images of the digits 0-9, pixel values 0..16: the test set of the UCI
"Optical Recognition of Handwritten Digits" data set by E. Alpaydin and C. Kaynak
(Bogazici University, 1998; https://archive.ics.uci.edu/dataset/80, CC BY 4.0),
in the copy that scikit-learn ships as ``sklearn/datasets/data/digits.csv.gz``: one row per
image, 64 pixel values then the label.  See ``data/README.md``.
"""

from __future__ import annotations

import functools
import gzip
import os

from .. import backend
from ..tensor import Tensor
from ..utils.data import TensorDataset
from .split import split_indices

_np = backend.np

DIGITS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "digits.csv.gz")
N_SAMPLES, N_FEATURES, N_CLASSES = 1797, 64, 10


@functools.lru_cache(maxsize=1)
def _raw():
    """The bundled table as (pixels uint8 (1797, 64), labels int64), parsed once."""
    try:
        with gzip.open(DIGITS_FILE, "rt") as f:
            table = _np.loadtxt(f, delimiter=",", dtype=_np.int64)
    except OSError as exc:
        raise FileNotFoundError(f"load_digits: the bundled data file {DIGITS_FILE} is missing "
                                f"or unreadable ({exc}); reinstall chainrule") from None
    if table.shape != (N_SAMPLES, N_FEATURES + 1):
        raise ValueError(f"load_digits: {DIGITS_FILE} has shape {table.shape}, expected "
                         f"({N_SAMPLES}, {N_FEATURES + 1})")
    pixels, labels = table[:, :N_FEATURES], table[:, N_FEATURES]
    pixels.setflags(write=False)
    labels.setflags(write=False)
    return pixels, labels


def load_digits(*, images: bool = False) -> tuple[Tensor, Tensor]:
    """All 1,797 digits as ``(X, y)``: ``X`` float32 in [0, 1] (pixel / 16) of shape
    (1797, 64), or (1797, 1, 8, 8) with ``images=True``; ``y`` int64 labels 0..9.

    >>> X, y = load_digits()
    >>> tuple(X.shape), X.dtype, tuple(y.shape), y.dtype
    ((1797, 64), chainrule.float32, (1797,), chainrule.int64)
    """
    pixels, labels = _raw()
    X = pixels.astype(_np.float32) / _np.float32(16.0)
    if images:
        X = X.reshape(N_SAMPLES, 1, 8, 8)
    return Tensor._wrap(X), Tensor._wrap(labels.copy())


class Digits(TensorDataset):
    """The train or test part of the digits, as a dataset of ``(x, y)`` pairs.

    The split is stratified (every digit in the same proportion), seeded by ``seed``, and
    identical for ``train=True`` and ``train=False`` with the same ``test_size`` and
    ``seed``, so the two parts never overlap.  ``x`` is float32 (64,) in [0, 1], or
    (1, 8, 8) with ``images=True``; ``y`` is an int64 label.
    """

    classes = [str(d) for d in range(N_CLASSES)]

    def __init__(self, train: bool = True, test_size=0.2, seed: int = 0, images: bool = False):
        X, y = load_digits(images=images)
        tr, te = split_indices(N_SAMPLES, test_size, seed, stratify=y.data)
        idx = tr if train else te
        super().__init__(Tensor._wrap(X.data[idx]), Tensor._wrap(y.data[idx]))
        self.train = train

    @property
    def data(self) -> Tensor:
        return self.tensors[0]

    @property
    def targets(self) -> Tensor:
        return self.tensors[1]
