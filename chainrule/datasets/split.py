"""Seeded (optionally stratified) train/test splits of tensors or arrays."""

from __future__ import annotations

from .. import backend, random
from ..tensor import Tensor

_np = backend.np


def _generator(seed: int) -> random.Generator:
    return random.Generator().manual_seed(seed)


def _test_count(n: int, test_size) -> int:
    if isinstance(test_size, float):
        if not 0.0 < test_size < 1.0:
            raise ValueError(f"train_test_split: test_size={test_size} must be in (0, 1) as a "
                             "fraction or a positive count")
        k = int(_np.ceil(test_size * n))
    elif isinstance(test_size, int) and not isinstance(test_size, bool):
        k = test_size
    else:
        raise TypeError(f"train_test_split: test_size must be a float fraction or an int "
                        f"count, got {test_size!r}")
    if not 0 < k < n:
        raise ValueError(f"train_test_split: test_size={test_size} leaves an empty train or "
                         f"test split of {n} samples")
    return k


def split_indices(n: int, test_size=0.25, seed: int = 0, stratify=None):
    """``(train_idx, test_idx)``: int64 NumPy arrays partitioning ``range(n)``, each in a
    seeded random order.

    With ``stratify`` (a length-``n`` sequence of class labels) every class is split in the
    same proportion: the test count is shared out by largest remainder, then each class's
    samples are permuted and its first ones go to the test split.  ``test_size`` is a
    fraction (the test count is rounded up, as scikit-learn) or a count.
    """
    k = _test_count(n, test_size)
    g = _generator(seed)
    if stratify is None:
        perm = random.permutation_array(n, generator=g)
        return perm[k:], perm[:k]
    labels = _np.asarray(stratify.data if isinstance(stratify, Tensor) else stratify)
    if labels.shape != (n,):
        raise ValueError(f"train_test_split: stratify has shape {labels.shape}, expected ({n},)")
    classes, codes = _np.unique(labels, return_inverse=True)
    counts = _np.bincount(codes, minlength=len(classes))
    exact = counts * (k / n)
    per_class = _np.floor(exact).astype(_np.int64)
    short = k - int(per_class.sum())
    if short:  # largest remainders first; ties go to the earlier class (stable sort)
        order = _np.argsort(-(exact - per_class), kind="stable")
        per_class[order[:short]] += 1
    train, test = [], []
    for c in range(len(classes)):
        members = _np.flatnonzero(codes == c)
        members = members[random.permutation_array(len(members), generator=g)]
        test.append(members[:per_class[c]])
        train.append(members[per_class[c]:])
    train, test = _np.concatenate(train), _np.concatenate(test)
    train = train[random.permutation_array(len(train), generator=g)]
    test = test[random.permutation_array(len(test), generator=g)]
    return train.astype(_np.int64), test.astype(_np.int64)


def _take(a, idx):
    if isinstance(a, Tensor):
        xp = backend.get_array_module(a.data)
        return Tensor._wrap(xp.take(a.data, backend.to_device(idx, a.device), axis=0))
    return _np.asarray(a)[idx]


def train_test_split(*arrays, test_size=0.25, seed: int = 0, stratify=None) -> list:
    """Split tensors/arrays of equal length into train and test parts (scikit-learn's
    order: ``X_train, X_test, y_train, y_test, ...``), seeded and optionally stratified.

    >>> import chainrule as cr
    >>> X, y = cr.arange(10).reshape(5, 2), cr.tensor([0, 0, 1, 1, 1])
    >>> X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, stratify=y)
    >>> sorted(y_te.tolist())
    [0, 1]
    """
    if not arrays:
        raise ValueError("train_test_split: needs at least one array")
    n = len(arrays[0])
    for i, a in enumerate(arrays):
        if len(a) != n:
            raise ValueError(f"train_test_split: array {i} has {len(a)} samples, array 0 has {n}")
    train, test = split_indices(n, test_size, seed, stratify)
    out = []
    for a in arrays:
        out += [_take(a, train), _take(a, test)]
    return out
