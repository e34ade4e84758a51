"""The bundled 8x8 digits and the seeded, stratified split."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import Digits, load_digits, split_indices, train_test_split
from chainrule.utils.data import DataLoader


def test_load_digits_shapes_dtypes_and_values():
    X, y = load_digits()
    assert tuple(X.shape) == (1797, 64) and X.dtype == cr.float32
    assert tuple(y.shape) == (1797,) and y.dtype == cr.int64
    x = X.numpy()
    assert x.min() == 0.0 and x.max() == 1.0
    assert np.allclose(x * 16, np.round(x * 16))  # pixel counts 0..16, divided by 16
    assert np.bincount(y.numpy()).tolist() == [178, 182, 177, 183, 181, 182, 181, 179, 174, 180]
    # the first image of the UCI file is a zero
    assert y[0].item() == 0 and (X[0] * 16).tolist()[:8] == [0, 0, 5, 13, 9, 1, 0, 0]


def test_load_digits_images_and_independent_copies():
    X, y = load_digits(images=True)
    assert tuple(X.shape) == (1797, 1, 8, 8)
    X.data[...] = 0  # callers own what they get; the cached table is untouched
    y.data[...] = 0
    X2, y2 = load_digits()
    assert X2.numpy().max() == 1.0 and y2.numpy().max() == 9


def test_digits_train_test_are_disjoint_stratified_and_seeded():
    train, test = Digits(train=True), Digits(train=False)
    assert len(train) + len(test) == 1797 and len(test) == 360
    X, _ = load_digits()
    tr, te = split_indices(1797, 0.2, 0, stratify=load_digits()[1].numpy())
    assert not set(tr) & set(te) and len(set(tr) | set(te)) == 1797
    assert np.array_equal(train.data.numpy(), X.numpy()[tr])
    assert np.array_equal(test.targets.numpy(), load_digits()[1].numpy()[te])
    fractions = np.bincount(test.targets.numpy()) / np.bincount(load_digits()[1].numpy())
    assert np.all(np.abs(fractions - 0.2) < 0.01)
    assert np.array_equal(Digits(train=False, seed=1).targets.numpy(),
                          Digits(train=False, seed=1).targets.numpy())
    assert not np.array_equal(Digits(train=False, seed=1).targets.numpy(),
                              test.targets.numpy())


def test_digits_in_a_dataloader():
    xb, yb = next(iter(DataLoader(Digits(images=True), batch_size=32, shuffle=True)))
    assert tuple(xb.shape) == (32, 1, 8, 8) and tuple(yb.shape) == (32,)


def test_train_test_split_tensors_and_arrays():
    X, y = cr.arange(20).reshape(10, 2), np.array([0] * 5 + [1] * 5)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.4, seed=3, stratify=y)
    assert isinstance(X_tr, cr.Tensor) and isinstance(y_tr, np.ndarray)
    assert len(X_te) == 4 and sorted(y_te.tolist()) == [0, 0, 1, 1]
    assert sorted(X_tr[:, 0].tolist() + X_te[:, 0].tolist()) == list(range(0, 20, 2))
    assert (y_te == (X_te[:, 0].numpy() >= 10)).all()  # rows stay paired with their labels
    assert (y_tr == (X_tr[:, 0].numpy() >= 10)).all()
    with pytest.raises(ValueError, match="empty train or test"):
        train_test_split(X, test_size=10)
    with pytest.raises(ValueError, match="array 1 has"):
        train_test_split(X, y[:3])
