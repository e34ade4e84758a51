"""The data a run learns from: a named data set or a CSV table, split into training,
validation and test parts, and standardized with statistics of the training part only.

``prepare(options)`` does it for ``chainrule train``; ``prepare`` on a saved run's
``config["data"]`` rebuilds exactly the same parts for ``eval`` and ``--resume`` (the splits
are seeded and don't depend on ``--seed``, so every run of a data set is tested on the same
rows).  What a model needs to read new rows later (feature names, the input scale, the
standardization, the class labels) is recorded in that spec and in the checkpoint.
"""

from __future__ import annotations

import hashlib
import os
import shlex
from dataclasses import dataclass

from .. import backend
from ..datasets import MNIST, Digits, DownloadError, FashionMNIST, read_csv, split_indices
from ..datasets.digits import N_FEATURES as DIGITS_FEATURES
from ..datasets.tabular import CellError
from ..tensor import Tensor
from ..utils.data import TensorDataset
from .errors import FAILED, CLIError, reason

_np = backend.np

DATASETS = ("digits", "mnist", "fashion-mnist")
TASKS = ("classification", "regression")
TEST_FRACTION = 0.2  # digits and CSV tables; MNIST brings its own test set
SPLIT_SEED = 0
MAX_INFERRED_CLASSES = 20  # integer labels with more distinct values than this mean regression

_IMAGES = {"mnist": MNIST, "fashion-mnist": FashionMNIST}


@dataclass
class Prepared:
    """Training, validation (or None) and test sets as TensorDatasets of standardized
    float32 features and targets (int64 class codes, or float32 (N, 1) standardized values
    for regression), with what is needed to treat new rows the same way."""

    spec: dict
    train: TensorDataset
    val: TensorDataset | None
    test: TensorDataset
    scaler: dict  # "mean", "std" (per feature), and "y_mean", "y_std" for regression

    @property
    def task(self) -> str:
        return self.spec["task"]

    @property
    def num_features(self) -> int:
        return len(self.spec["feature_names"])

    @property
    def num_outputs(self) -> int:
        return len(self.spec["classes"]) if self.task == "classification" else 1


def describe(spec: dict) -> str:
    """``digits`` or the CSV file's name, for messages."""
    return os.path.basename(spec["path"]) if spec["source"] == "csv" else spec["source"]


def source_of(data: str) -> tuple[str, str | None]:
    """``(source, path)`` for a ``--data`` value: a named data set or a CSV file."""
    if data in DATASETS:
        return data, None
    if os.path.isfile(data):
        return "csv", os.path.abspath(data)
    if os.path.isdir(data):
        raise CLIError(f"--data {data} is a folder; give a CSV file, or one of "
                       f"{', '.join(DATASETS)}")
    if data.lower().endswith(".csv") or os.sep in data:
        raise CLIError(f"--data: no such file: {data}")
    raise CLIError(f"--data: unknown data set {data!r}; choose {', '.join(DATASETS)} or give "
                   f"the path of a CSV file")


def file_sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def prepare(options: dict, *, expect: dict | None = None) -> Prepared:
    """Load, split and standardize the data described by ``options`` (``data``,
    ``label_column``, ``task``, ``val_fraction``, ``data_dir``, ``download``).

    ``expect`` is a saved run's data spec: the data must still be what that run trained on.
    """
    source, path = source_of(options["data"])
    if source == "csv":
        X, y, pool, test, spec = _csv(path, options)
    else:
        for opt in ("label_column", "task"):
            if options.get(opt) is not None and not (opt == "task" and
                                                     options[opt] == "classification"):
                raise CLIError(f"--{opt.replace('_', '-')} applies to CSV data only; {source} is "
                               f"a classification data set with its own labels")
        X, y, pool, test, spec = (_digits() if source == "digits" else _images(source, options))
    spec.update(source=source, path=path, val_fraction=float(options["val_fraction"]),
                test_fraction=TEST_FRACTION if source in ("digits", "csv") else None,
                split_seed=SPLIT_SEED)
    if expect is not None:
        _check_same(spec, expect)
    train, val = _split_validation(y, pool, spec)
    return _standardized(X, y, train, val, test, spec)


def options_of(spec: dict, *, data: str | None = None, data_dir: str | None = None,
               download: bool | None = None) -> dict:
    """The ``prepare`` options that rebuild a saved run's data (``eval``, ``--resume``).

    Where the files have moved, ``data`` (a CSV file's new path: ``--data``) or ``data_dir``
    (the MNIST folder: ``--data-dir``) replace the saved places; ``prepare(...,
    expect=spec)`` then checks that it is still the same data.  ``download`` fetches missing
    MNIST files.
    """
    source = spec["source"]
    path = spec["path"]
    if data is not None:
        given, path = source_of(data)
        if given != source:
            raise CLIError(f"--data {data}: the run was trained on {describe(spec)}; give "
                           + ("the new place of that CSV file" if source == "csv" else
                              f"--data {source} or leave --data out"))
    elif source == "csv" and not os.path.isfile(path):
        raise CLIError(f"the run's data file {path} no longer exists; if it has moved, give "
                       f"its new place with --data FILE.csv")
    if source not in _IMAGES:
        for opt, value in (("--data-dir", data_dir), ("--download", download)):
            if value:
                raise CLIError(f"{opt} applies to mnist and fashion-mnist; the run was trained "
                               f"on {describe(spec)}")
    return {"data": path or source, "label_column": spec["label_column"],
            "task": spec["task"], "val_fraction": spec["val_fraction"],
            "data_dir": data_dir if data_dir is not None else spec.get("data_dir"),
            "download": bool(download)}


def _check_same(spec: dict, expect: dict) -> None:
    if spec.get("sha256") != expect.get("sha256"):
        if spec.get("path") != expect.get("path"):
            raise CLIError(f"{spec['path']} is not the file the run was trained on "
                           f"({expect['path']}): its SHA-256 differs; give that file")
        raise CLIError(f"{spec['path']} has changed since the run trained on it (its SHA-256 "
                       f"differs), so its splits would not be the same; restore the file")
    for key in ("task", "classes", "feature_names", "label_column"):
        if spec.get(key) != expect.get(key):
            raise CLIError(f"the data no longer matches the run: its {key.replace('_', ' ')} "
                           f"{spec.get(key)!r} differs from the run's {expect.get(key)!r}")


# --------------------------------------------------------------------------- sources
# Each returns (X, y, pool, test, spec): all rows X (float32, already divided by
# spec["input_divisor"], as ``scaled`` does to raw rows), the targets y, the indices of the
# training pool (training + validation) and of the test rows, and the spec entries that
# describe the data.


def _digits():
    train, test = Digits(train=True, seed=SPLIT_SEED), Digits(train=False, seed=SPLIT_SEED)
    X = _np.concatenate([train.data.data, test.data.data])
    y = _np.concatenate([train.targets.data, test.targets.data])
    n = len(train)
    spec = {"task": "classification", "classes": list(Digits.classes), "label_column": None,
            "feature_names": [f"pixel{i}" for i in range(DIGITS_FEATURES)],
            "input_divisor": 16.0, "sha256": None}
    return X, y, _np.arange(n), _np.arange(n, len(y)), spec


def _images(source: str, options: dict):
    cls = _IMAGES[source]
    try:
        train = cls(root=options.get("data_dir"), train=True, download=options.get("download"),
                    flatten=True)
        test = cls(root=options.get("data_dir"), train=False, download=options.get("download"),
                   flatten=True)
    except FileNotFoundError as exc:
        raise CLIError(reason(exc).replace("pass download=True", "pass --download").replace(
            "put the standard IDX files there", "put the standard IDX files there (or give "
            "their folder with --data-dir)")) from None
    except DownloadError as exc:
        raise CLIError(reason(exc), status=FAILED) from None
    except ValueError as exc:
        raise CLIError(reason(exc)) from None
    X = _np.concatenate([train.tensors[0].data, test.tensors[0].data])
    y = _np.concatenate([train.targets.data, test.targets.data])
    n, side = len(train), int(round(X.shape[1] ** 0.5))
    spec = {"task": "classification", "classes": list(cls.classes), "label_column": None,
            "feature_names": [f"pixel{i}" for i in range(X.shape[1])],
            "input_divisor": 255.0, "sha256": None, "image_shape": [side, side]}
    return X, y, _np.arange(n), _np.arange(n, len(y)), spec


def _csv(path: str, options: dict):
    label = options.get("label_column")
    try:
        # classification keeps labels as they are written; numbers are recognized below
        table = read_csv(path, -1 if label is None else label, task="classification")
    except (ValueError, UnicodeDecodeError) as exc:
        raise CLIError(_csv_reason(exc, label)) from None
    except OSError as exc:
        raise CLIError(f"can't read {path}: {exc.strerror or exc}") from None
    classes = table.classes
    numeric = all(isinstance(c, (int, float)) for c in classes)
    task = options.get("task")
    if task is None:
        integral = numeric and all(float(c).is_integer() for c in classes)
        task = ("classification" if not numeric or (integral and
                                                    len(classes) <= MAX_INFERRED_CLASSES)
                else "regression")
    if task == "regression":
        if not numeric:
            example = next(c for c in classes if not isinstance(c, (int, float)))
            raise CLIError(f"--task regression needs numeric labels, but column "
                           f"{table.label_name!r} of {path} holds {example!r}; use --task "
                           f"classification or another --label-column")
        y = _np.asarray(classes, dtype=_np.float64)[table.y]
        classes = None
    else:
        y = table.y
        if len(classes) < 2:
            raise CLIError(f"column {table.label_name!r} of {path} has a single class "
                           f"{classes[0]!r}; classification needs at least two")
    n = len(y)
    try:
        pool, test = split_indices(n, TEST_FRACTION, SPLIT_SEED,
                                   y if task == "classification" else None)
    except ValueError:
        raise CLIError(f"{path} has {n} data rows, too few to split off a test set; give at "
                       f"least 5 rows") from None
    spec = {"task": task, "classes": classes, "label_column": table.label_name,
            "feature_names": table.feature_names, "input_divisor": 1.0,
            "sha256": file_sha256(path)}
    return table.X.astype(_np.float32), y, pool, test, spec


def _csv_reason(exc: BaseException, label) -> str:
    text = reason(exc)
    if text.startswith("no column"):
        return "--label-column: " + text
    if isinstance(exc, UnicodeDecodeError):
        return "the file is not a UTF-8 text (CSV) file"
    if isinstance(exc, CellError):
        if exc.kind == "missing":
            return text + "; fill it in or drop the row"
        if exc.text_column and label is None:  # the label is not the last column
            return (text + f"; column {exc.column!r} holds no numbers: if it is the label, pass "
                    f"--label-column {shlex.quote(exc.column)}")
    return text


# --------------------------------------------------------------------------- splitting


def _split_validation(y, pool, spec):
    frac = spec["val_fraction"]
    if frac == 0:
        return pool, None
    strat = y[pool] if spec["task"] == "classification" else None
    try:
        keep, held = split_indices(len(pool), frac, SPLIT_SEED, strat)
    except ValueError:
        raise CLIError(f"--val-fraction {frac} leaves no training or no validation rows of "
                       f"{len(pool)}; use a fraction that keeps both, or 0 for no "
                       f"validation") from None
    return pool[keep], pool[held]


def _standardized(X, y, train, val, test, spec) -> Prepared:
    """Standardize with the training rows' mean and standard deviation (validation and test
    rows are never looked at); a constant feature is centred and left unscaled."""
    rows = X[train].astype(_np.float64)
    mean, std = rows.mean(axis=0), rows.std(axis=0)
    std = _np.where(std > 0, std, 1.0)
    scaler = {"mean": mean.astype(_np.float32), "std": std.astype(_np.float32)}
    if spec["task"] == "regression":
        y_mean, y_std = float(y[train].mean()), float(y[train].std()) or 1.0
        scaler.update(y_mean=y_mean, y_std=y_std)

    def part(idx):
        if idx is None:
            return None
        x = standardize(X[idx], scaler)
        if spec["task"] == "classification":
            t = y[idx].astype(_np.int64)
        else:
            t = ((y[idx] - scaler["y_mean"]) / scaler["y_std"]).astype(_np.float32)[:, None]
        return TensorDataset(Tensor._wrap(x), Tensor._wrap(t))

    spec.update(num_train=int(len(train)), num_val=0 if val is None else int(len(val)),
                num_test=int(len(test)))
    return Prepared(spec, part(train), part(val), part(test), scaler)


def scaled(rows, spec: dict):
    """Raw feature rows (pixel values 0..16 or 0..255, or a CSV's numbers) as float32 on the
    scale the data sets use (pixels in [0, 1])."""
    return _np.asarray(rows, dtype=_np.float32) / _np.float32(spec["input_divisor"])


def standardize(x, scaler: dict):
    """float32 ``(x - mean) / std`` with the training rows' statistics."""
    return ((x - _as_np(scaler["mean"])) / _as_np(scaler["std"])).astype(_np.float32)


def _as_np(v):
    return backend.to_numpy(v.data) if isinstance(v, Tensor) else _np.asarray(v)
