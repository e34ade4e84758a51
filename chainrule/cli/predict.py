"""``chainrule predict RUN_DIR INPUT.csv``: predictions of a trained model for new rows.

``INPUT.csv`` holds one row per sample with the features the model was trained on, either
with a header row naming them (in any order; the label column may be present and is
ignored) or without a header, in the training order.  The rows are scaled and standardized
exactly as the training rows were.  Output is CSV: ``prediction`` (the class label, or the
predicted value for regression) and, for models trained with ``cross_entropy`` or ``nll``,
``probability`` (of the predicted class); on stdout, or into ``--output FILE``.
"""

from __future__ import annotations

import csv
import io
import os
import sys

from .. import backend
from ..datasets.tabular import MISSING, _number
from ..tensor import Tensor
from . import data as datasets
from . import model as models
from . import rundir
from .errors import CLIError
from .evaluate import outputs

_np = backend.np


def read_rows(path: str, features: list[str], label: str | None):
    """The feature matrix (float64, N x F) of ``path``, columns in ``features`` order."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            rows = [(i, r) for i, r in enumerate(csv.reader(f), start=1)
                    if any(c.strip() for c in r)]
    except FileNotFoundError:
        raise CLIError(f"INPUT {path} does not exist; give a CSV file of feature rows") from None
    except IsADirectoryError:
        raise CLIError(f"INPUT {path} is a folder; give a CSV file of feature rows") from None
    except UnicodeDecodeError:
        raise CLIError(f"INPUT {path} is not a UTF-8 text (CSV) file") from None
    except (OSError, csv.Error) as exc:
        raise CLIError(f"can't read {path}: {getattr(exc, 'strerror', None) or exc}") from None
    k = len(features)
    expects = _expects(features)
    if not rows:
        raise CLIError(f"{path} has no rows; give one row of {expects} per sample")
    first = rows[0][1]
    # A header names the features (or the label), or has no numbers at all; a first row of
    # numbers with a typo in one cell is a data row, and its bad cell is reported as such.
    known = set(features) | ({label} if label else set())
    cells = [c.strip() for c in first]
    words = [c for c in cells if c.lower() not in MISSING]
    header = any(c in known for c in cells) or bool(words) and all(
        _number(c) is None for c in words)
    if header:
        names = [c.strip() for c in first]
        rows = rows[1:]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise CLIError(f"{path} names column(s) {', '.join(map(repr, dup))} more than once")
        missing = [f for f in features if f not in names]
        extra = [n for n in names if n not in features and n != label]
        if len(missing) == k:
            raise CLIError(f"{path} has a header naming {len(names)} columns "
                           f"({_names(names)}), none of them a feature of the model; it takes "
                           f"{expects}")
        if missing or extra:
            what = []
            if missing:
                what.append(f"lacks column(s) {_names(missing)}")
            if extra:
                what.append(f"has column(s) {_names(extra)} the model doesn't know")
            raise CLIError(f"{path} {' and '.join(what)}; the model takes {expects}"
                           + (f" (the label column {label!r} may be present)" if label else ""))
        cols = [names.index(f) for f in features]
        if not rows:
            raise CLIError(f"{path} has a header but no data rows")
    else:
        names = list(features)
        if len(first) != k:
            raise CLIError(f"{path} has {len(first)} columns, but the model takes {expects}; "
                           f"give exactly those columns, or a header row naming them")
        cols = list(range(k))
    X = _np.empty((len(rows), k), _np.float64)
    width = len(names) if header else k
    for r, (line, cells) in enumerate(rows):
        if len(cells) != width:
            raise CLIError(f"{path} line {line} has {len(cells)} cells, expected {width}")
        for j, c in enumerate(cols):
            text = cells[c].strip()
            if text.lower() in MISSING:
                raise CLIError(f"{path} line {line}, column {features[j]!r}: missing value; "
                               f"fill it in or drop the row")
            v = _number(text)
            if v is None:
                raise CLIError(f"{path} line {line}, column {features[j]!r}: {text!r} is not a "
                               f"number")
            X[r, j] = v
    return X


def _names(names: list[str], most: int = 6) -> str:
    shown = ", ".join(map(repr, names[:most]))
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _expects(features: list[str]) -> str:
    return f"{len(features)} features ({_names(features)})"


def run(args) -> int:
    run_dir = args.run_dir
    ckpt = rundir.load_run(run_dir)
    config = ckpt["config"]
    spec, training = config["data"], config["training"]
    out_path = args.output
    if out_path is not None:
        folder = os.path.dirname(os.path.abspath(out_path))
        if not os.path.isdir(folder):
            raise CLIError(f"--output {out_path}: folder {folder} does not exist")
        if os.path.isdir(out_path):
            raise CLIError(f"--output {out_path} is a folder; give a file name")
    X = read_rows(args.input, spec["feature_names"], spec["label_column"])
    model = rundir.rebuild_model(ckpt, run_dir)
    x = datasets.standardize(datasets.scaled(X, spec), ckpt["scaler"])
    out = outputs(model, Tensor._wrap(x))
    header, rows = ["prediction"], []
    if spec["task"] == "classification":
        codes = backend.to_numpy(out.argmax(1).data)
        probs = models.probabilities(out, training["loss"])
        labels = [spec["classes"][int(c)] for c in codes]
        if probs is None:
            rows = [[lab] for lab in labels]
        else:
            header.append("probability")
            p = backend.to_numpy(probs.data)[_np.arange(len(codes)), codes]
            rows = [[lab, f"{q:.4f}"] for lab, q in zip(labels, p)]
    else:
        s, m = ckpt["scaler"]["y_std"], ckpt["scaler"]["y_mean"]
        values = backend.to_numpy(out.data).astype(_np.float64)[:, 0] * s + m
        rows = [[f"{v:.6g}"] for v in values]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    if out_path is None:
        sys.stdout.write(buf.getvalue())
    else:
        rundir.write_bytes(out_path, buf.getvalue().encode("utf-8"))
        if not args.quiet:
            print(f"wrote {len(rows)} predictions to {out_path}")
    return 0
