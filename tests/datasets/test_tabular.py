"""CSV files and arrays as datasets: label encoding, train-only standardization, errors."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.datasets import from_arrays, read_csv, split_indices
from chainrule.utils.data import DataLoader

IRIS_LIKE = """sepal,petal,width,species
5.1,1.4,0.2,setosa
4.9,1.4,0.2,setosa
7.0,4.7,1.4,versicolor
6.4,4.5,1.5,versicolor
6.3,6.0,2.5,virginica
5.8,5.1,1.9,virginica
5.0,1.5,0.3,setosa
6.1,4.6,1.3,versicolor
6.7,5.7,2.3,virginica
5.4,1.7,0.4,setosa
"""


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_read_csv_classification(tmp_path):
    table = read_csv(_csv(tmp_path, IRIS_LIKE), label="species")
    assert table.feature_names == ["sepal", "petal", "width"]
    assert table.classes == ["setosa", "versicolor", "virginica"]
    assert table.y.tolist() == [0, 0, 1, 1, 2, 2, 0, 1, 2, 0]
    assert table.X.shape == (10, 3) and table.X[2].tolist() == [7.0, 4.7, 1.4]
    ds = table.dataset(standardize=False)
    x, y = ds[2]
    assert x.dtype == cr.float32 and y.dtype == cr.int64 and y.item() == 1


def test_numeric_labels_sort_numerically(tmp_path):
    text = "a,label\n1,10\n2,9\n3,10\n4,2\n"
    table = read_csv(_csv(tmp_path, text), label="label")
    assert table.classes == [2, 9, 10] and table.y.tolist() == [2, 1, 2, 0]


def test_split_standardizes_with_training_statistics_only(tmp_path):
    table = read_csv(_csv(tmp_path, IRIS_LIKE), label=-1)
    train, test = table.split(test_size=0.3, seed=0)
    assert len(train) == 7 and len(test) == 3
    assert sorted(test.tensors[1].tolist()) == [0, 1, 2]  # stratified: one of each class
    xtr = train.tensors[0].numpy()
    assert np.allclose(xtr.mean(axis=0), 0, atol=1e-6) and np.allclose(xtr.std(axis=0), 1)
    tr, te = split_indices(10, 0.3, 0, table.y)  # the split Table.split documents
    mean, std = table.X[tr].mean(axis=0), table.X[tr].std(axis=0)
    assert not np.allclose(mean, table.X.mean(axis=0))  # the statistics differ from all-rows
    assert np.allclose(train.mean.numpy(), mean) and np.allclose(test.std.numpy(), std)
    assert np.allclose(xtr, (table.X[tr] - mean) / std, atol=1e-5)
    assert np.allclose(test.tensors[0].numpy(), (table.X[te] - mean) / std, atol=1e-5)
    assert np.allclose(test.transform(table.X[te]).numpy(), (table.X[te] - mean) / std,
                       atol=1e-5)
    again, _ = table.split(test_size=0.3, seed=0)
    assert np.array_equal(again.tensors[0].numpy(), xtr)


def test_constant_column_is_not_divided_by_zero():
    table = from_arrays([[1.0, 5.0], [2.0, 5.0], [3.0, 5.0], [4.0, 5.0]], [0, 1, 0, 1])
    x = table.dataset().tensors[0].numpy()
    assert np.all(np.isfinite(x)) and np.all(x[:, 1] == 0)


def test_regression_table(tmp_path):
    text = "x1,x2,price\n1,2,3.5\n2,3,4.5\n3,4,5.5\n4,5,6.5\n5,6,7.5\n"
    table = read_csv(_csv(tmp_path, text), label="price", task="regression")
    assert table.classes is None and table.y.tolist() == [3.5, 4.5, 5.5, 6.5, 7.5]
    train, test = table.split(test_size=0.4, seed=1)
    assert train.tensors[1].dtype == cr.float32 and tuple(train.tensors[1].shape) == (3, 1)
    xb, yb = next(iter(DataLoader(train, batch_size=2)))
    assert tuple(xb.shape) == (2, 2) and tuple(yb.shape) == (2, 1)


def test_features_subset_and_no_header(tmp_path):
    table = read_csv(_csv(tmp_path, IRIS_LIKE), label="species", features=["width", "sepal"])
    assert table.feature_names == ["width", "sepal"] and table.X[0].tolist() == [0.2, 5.1]
    nohead = read_csv(_csv(tmp_path, "1,2,a\n3,4,b\n", "n.csv"), label=2, header=False)
    assert nohead.feature_names == ["0", "1"] and nohead.classes == ["a", "b"]


@pytest.mark.parametrize("text,label,task,match", [
    ("a,b,y\n1,2,p\n3,,q\n", "y", "classification",
     r"data\.csv line 3, column 'b': missing value$"),
    ("a,b,y\n1,2,p\n3,NA,q\n", "y", "classification", r"line 3, column 'b': missing value"),
    ("a,b,y\n1,2,p\n3,4,q\n5,abc,p\n", "y", "classification",
     r"line 4, column 'b': 'abc' is not a finite number"),
    ("a,b,y\n1,2,p\n3,4,?\n", "y", "classification", r"line 3, column 'y': missing label"),
    ("a,b,y\n1,2,3.0\n3,4,big\n", "y", "regression", r"line 3, column 'y': 'big' is not"),
    ("a,b,y\n1,2,p\n3,4\n", "y", "classification", r"line 3: expected 3 cells, found 2"),
    ("a,b,y\n1,2,p\n", "label", "classification",
     r"no column 'label' in .*data\.csv; columns are: a, b, y"),
    ("a,b,y\n1,2,p\n", 5, "classification", r"no column 5"),
    ("a,b,y\n", "y", "classification", r"no data rows"),
    ("a,b,y\n1,2,p\n", "y", "clustering", r"task must be one of"),
])
def test_read_csv_errors(tmp_path, text, label, task, match):
    with pytest.raises(ValueError, match=match) as info:
        read_csv(_csv(tmp_path, text), label=label, task=task)
    assert "\n" not in str(info.value)  # one line


def test_from_arrays():
    X = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    table = from_arrays(cr.tensor(X), np.array(["b", "a", "b", "a"]), feature_names=["u", "v"])
    assert table.classes == ["a", "b"] and table.y.tolist() == [1, 0, 1, 0]
    assert table.feature_names == ["u", "v"] and table.num_classes == 2
    reg = from_arrays(X, cr.tensor([1.0, 2.0, 3.0, 4.0]), task="regression")
    assert reg.y.dtype == np.float64 and reg.num_features == 2


@pytest.mark.parametrize("X,y,match", [
    ([[1.0, np.nan], [2.0, 3.0]], [0, 1], r"X row 0, column 'x1': missing value"),
    ([[1.0, 2.0], ["3", "oops"]], [0, 1], r"X row 1, column 'x1': 'oops' is not a number"),
    ([[1.0, 2.0], [3.0, 4.0]], [0], r"one label per row"),
    ([1.0, 2.0], [0, 1], r"must be 2-D"),
    ([[1.0], [2.0]], [0.0, float("nan")], r"y row 1: missing label"),
])
def test_from_arrays_errors(X, y, match):
    with pytest.raises(ValueError, match=match):
        from_arrays(X, y)
