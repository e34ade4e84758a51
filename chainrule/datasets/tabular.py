"""Tables (CSV files or arrays) with a label column, as datasets.

``read_csv`` / ``from_arrays`` give a ``Table``; ``Table.split`` gives train and test
``TabularDataset``s, standardized with the mean and standard deviation of the training
split only (so nothing about the test rows leaks into training).
"""

from __future__ import annotations

import csv
import math
import os

from .. import backend
from ..tensor import Tensor
from ..utils.data import TensorDataset
from .split import split_indices

_np = backend.np

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})


class CellError(ValueError):
    """A CSV cell that is missing or not a number (a ``ValueError``; the message names the
    file, line and column).  ``kind`` is ``"missing"`` or ``"not a number"``; ``text_column``
    says whether the column holds no numbers at all (then it is likely the label)."""

    def __init__(self, message, *, line, column, kind, text_column=False):
        super().__init__(message)
        self.line, self.column, self.kind = line, column, kind
        self.text_column = text_column
TASKS = ("classification", "regression")


def _number(cell: str):
    """float(cell), or None when it isn't a finite number."""
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def _class_order(values: list):
    """Sorted distinct labels: numerically when they are all numbers, else as strings."""
    distinct = list(dict.fromkeys(values))
    if all(isinstance(v, str) for v in distinct):
        nums = [_number(v) for v in distinct]
        if all(n is not None for n in nums):
            pairs = sorted(zip(nums, distinct))
            return [int(n) if n.is_integer() else n for n, _ in pairs], [d for _, d in pairs]
        ordered = sorted(distinct)
        return ordered, ordered
    try:
        ordered = sorted(distinct)
    except TypeError:
        ordered = sorted(distinct, key=repr)
    return ordered, ordered


def _encode_labels(values: list):
    """(int64 codes 0..k-1, classes) for a list of labels."""
    classes, keys = _class_order(values)
    code = {k: i for i, k in enumerate(keys)}
    return _np.fromiter((code[v] for v in values), _np.int64, len(values)), classes


class TabularDataset(TensorDataset):
    """A table as a dataset of ``(features, target)`` pairs.

    ``features`` are float32 (standardized with ``mean`` / ``std`` when those are set);
    targets are int64 class codes (``classes[code]`` is the original label) or, for
    regression, float32 of shape (1,) per row.  ``transform(X)`` applies the same
    standardization to new rows.
    """

    def __init__(self, features, targets, *, feature_names, label_name, task, classes=None,
                 mean=None, std=None):
        super().__init__(features, targets)
        self.feature_names = list(feature_names)
        self.label_name = label_name
        self.task = task
        self.classes = classes
        self.mean = mean
        self.std = std

    def transform(self, X) -> Tensor:
        """Standardize raw feature rows (N, F) as this dataset's features were."""
        x = _np.asarray(X.data if isinstance(X, Tensor) else X, dtype=_np.float64)
        if x.ndim != 2 or x.shape[1] != len(self.feature_names):
            raise ValueError(f"transform: expected rows of {len(self.feature_names)} features, "
                             f"got shape {x.shape}")
        if self.mean is not None:
            x = (x - self.mean.data) / self.std.data
        return Tensor._wrap(x.astype(_np.float32))


def _f32(a):
    return None if a is None else Tensor._wrap(a.astype(_np.float32))


class Table:
    """A numeric feature matrix with one label per row.

    ``X``: float64 NumPy array (N, F); ``y``: int64 class codes (classification, with
    ``classes``) or float64 values (regression); ``feature_names``; ``label_name``.
    """

    def __init__(self, X, y, feature_names, label_name, task, classes=None):
        self.X, self.y = X, y
        self.feature_names = list(feature_names)
        self.label_name = label_name
        self.task = task
        self.classes = classes

    def __len__(self) -> int:
        return len(self.y)

    @property
    def num_features(self) -> int:
        return self.X.shape[1]

    @property
    def num_classes(self) -> int | None:
        return None if self.classes is None else len(self.classes)

    def _dataset(self, rows, mean, std) -> TabularDataset:
        x = self.X[rows]
        if mean is not None:
            x = (x - mean) / std
        y = self.y[rows]
        y = Tensor._wrap(y.astype(_np.int64) if self.task == "classification"
                         else y.astype(_np.float32).reshape(-1, 1))
        return TabularDataset(Tensor._wrap(x.astype(_np.float32)), y,
                              feature_names=self.feature_names, label_name=self.label_name,
                              task=self.task, classes=self.classes, mean=_f32(mean),
                              std=_f32(std))

    def _scaler(self, rows, standardize: bool):
        if not standardize:
            return None, None
        mean = self.X[rows].mean(axis=0)
        std = self.X[rows].std(axis=0)
        return mean, _np.where(std > 0, std, 1.0)  # a constant column is left centred, not /0

    def split(self, test_size=0.2, seed: int = 0, stratify: bool | None = None,
              standardize: bool = True) -> tuple[TabularDataset, TabularDataset]:
        """``(train, test)`` datasets: a seeded split (stratified by class for
        classification unless ``stratify=False``), standardized with the training split's
        mean and standard deviation."""
        if stratify is None:
            stratify = self.task == "classification"
        if stratify and self.task != "classification":
            raise ValueError("split: stratify=True needs a classification table")
        tr, te = split_indices(len(self), test_size, seed, self.y if stratify else None)
        mean, std = self._scaler(tr, standardize)
        return self._dataset(tr, mean, std), self._dataset(te, mean, std)

    def dataset(self, standardize: bool = True) -> TabularDataset:
        """All rows as one dataset (standardized with statistics of all rows)."""
        rows = _np.arange(len(self))
        mean, std = self._scaler(rows, standardize)
        return self._dataset(rows, mean, std)


def _check_task(who, task):
    if task not in TASKS:
        raise ValueError(f"{who}: task must be one of {TASKS}, got {task!r}")


def read_csv(path, label, *, task: str = "classification", features=None, delimiter: str = ",",
             header: bool = True) -> Table:
    """Read a CSV file whose columns are numeric features and one label column.

    ``label`` is the label column's name (or index, negative allowed).  ``features`` picks
    feature columns by name (default: all others).  Classification labels may be any
    strings; they become codes 0..k-1 in sorted order (numerically when they are numbers).
    Regression labels must be numbers.  Missing cells (empty, NA, NaN, ?, null) and
    non-numeric feature cells raise ``ValueError`` naming the line and column.
    """
    who = "read_csv"
    _check_task(who, task)
    path = os.fspath(path)
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [(i, r) for i, r in enumerate(csv.reader(f, delimiter=delimiter), start=1)
                if any(c.strip() for c in r)]
    if not rows:
        raise ValueError(f"{who}: {path} is empty")
    if header:
        names = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
    else:
        names = [str(i) for i in range(len(rows[0][1]))]
    if not rows:
        raise ValueError(f"{who}: {path} has a header but no data rows")
    label_col = _column(who, path, names, label)
    if features is None:
        feat_cols = [j for j in range(len(names)) if j != label_col]
    else:
        feat_cols = [_column(who, path, names, c) for c in features]
        if label_col in feat_cols:
            raise ValueError(f"{who}: the label column {names[label_col]!r} is also listed as a "
                             f"feature")
    if not feat_cols:
        raise ValueError(f"{who}: {path} has no feature columns besides the label")
    X = _np.empty((len(rows), len(feat_cols)), _np.float64)
    labels = []
    for r, (line, cells) in enumerate(rows):
        if len(cells) != len(names):
            raise ValueError(f"{who}: {path} line {line}: expected {len(names)} cells, found "
                             f"{len(cells)}")
        for k, j in enumerate(feat_cols):
            try:
                X[r, k] = _cell(who, path, line, names[j], cells[j])
            except CellError as exc:
                exc.text_column = exc.kind == "not a number" and all(
                    _number(c[j].strip()) is None for _, c in rows
                    if len(c) == len(names) and c[j].strip().lower() not in MISSING)
                raise
        lab = cells[label_col].strip()
        if lab.lower() in MISSING:
            raise CellError(f"{who}: {path} line {line}, column {names[label_col]!r}: missing "
                            f"label", line=line, column=names[label_col], kind="missing")
        labels.append(_cell(who, path, line, names[label_col], lab)
                      if task == "regression" else lab)
    return _table(X, labels, [names[j] for j in feat_cols], names[label_col], task)


def _column(who, path, names, col) -> int:
    if isinstance(col, int) and not isinstance(col, bool):
        if -len(names) <= col < len(names):
            return col % len(names)
    elif col in names:
        return names.index(col)
    raise ValueError(f"{who}: no column {col!r} in {path}; columns are: {', '.join(names)}")


def _cell(who, path, line, column, cell) -> float:
    text = cell.strip()
    if text.lower() in MISSING:
        raise CellError(f"{who}: {path} line {line}, column {column!r}: missing value",
                        line=line, column=column, kind="missing")
    v = _number(text)
    if v is None:
        raise CellError(f"{who}: {path} line {line}, column {column!r}: {text!r} is not a "
                        f"finite number", line=line, column=column, kind="not a number")
    return v


def _table(X, labels, feature_names, label_name, task) -> Table:
    if task == "classification":
        y, classes = _encode_labels(labels)
        return Table(X, y, feature_names, label_name, task, classes)
    return Table(X, _np.asarray(labels, dtype=_np.float64), feature_names, label_name, task)


def from_arrays(X, y, *, task: str = "classification", feature_names=None,
                label_name: str = "label") -> Table:
    """A ``Table`` from a 2-D feature array (tensor, NumPy array or nested lists) and a 1-D
    label sequence.  Non-numeric or missing (NaN) features raise ``ValueError`` naming the
    row and column (0-based)."""
    who = "from_arrays"
    _check_task(who, task)
    x = X.data if isinstance(X, Tensor) else X
    x = _np.asarray(backend.to_numpy(x) if backend.is_array(x) else x)
    if x.ndim != 2:
        raise ValueError(f"{who}: X must be 2-D (rows, features), got shape {x.shape}")
    names = (list(feature_names) if feature_names is not None
             else [f"x{j}" for j in range(x.shape[1])])
    if len(names) != x.shape[1]:
        raise ValueError(f"{who}: {len(names)} feature names for {x.shape[1]} columns")
    if x.dtype.kind not in "biuf":  # strings or objects: find the first cell that isn't one
        for (i, j), v in _np.ndenumerate(x):
            v = v.item() if isinstance(v, _np.generic) else v  # plain reprs in the message
            if isinstance(v, str) and v.strip().lower() in MISSING:
                raise ValueError(f"{who}: X row {i}, column {names[j]!r}: missing value ({v!r})")
            try:
                float(v)
            except (TypeError, ValueError):
                raise ValueError(f"{who}: X row {i}, column {names[j]!r}: {v!r} is not a "
                                 f"number") from None
    xf = x.astype(_np.float64)
    bad = ~_np.isfinite(xf)
    if bad.any():
        i, j = (int(k) for k in _np.argwhere(bad)[0])
        raise ValueError(f"{who}: X row {i}, column {names[j]!r}: missing value "
                         f"({x[i, j].item()!r})")
    yv = y.data if isinstance(y, Tensor) else y
    yv = backend.to_numpy(yv) if backend.is_array(yv) else _np.asarray(yv)
    if yv.ndim != 1 or len(yv) != x.shape[0]:
        raise ValueError(f"{who}: y must be 1-D with one label per row of X ({x.shape[0]}), got "
                         f"shape {yv.shape}")
    if task == "regression":
        try:
            yf = yv.astype(_np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"{who}: regression labels must be numbers") from None
        if not _np.isfinite(yf).all():
            i = int(_np.flatnonzero(~_np.isfinite(yf))[0])
            raise ValueError(f"{who}: y row {i}: missing value ({yv[i].item()!r})")
        return Table(xf, yf, names, label_name, task)
    labels = yv.tolist()
    for i, v in enumerate(labels):
        if v is None or (isinstance(v, float) and not math.isfinite(v)):
            raise ValueError(f"{who}: y row {i}: missing label ({v!r})")
    return _table(xf, labels, names, label_name, task)
