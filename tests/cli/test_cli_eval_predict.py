"""``chainrule eval`` and ``chainrule predict`` on trained runs."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pytest
from cli_helpers import (
    assert_png,
    read_json,
    run_cli,
    run_main,
    write_classification_csv,
    write_regression_csv,
)

from chainrule.datasets import Digits


@pytest.fixture
def digits_copy(digits_run, tmp_path):
    folder = tmp_path / "run"
    shutil.copytree(digits_run[0], folder)
    return folder


def test_eval_reports_accuracy_per_class_metrics_and_confusion(digits_copy):
    metrics = read_json(digits_copy / "metrics.json")["test"]
    proc = run_cli("eval", digits_copy, check=True)
    out = proc.stdout
    assert f"test accuracy {metrics['accuracy']:.4f} ({metrics['correct']}/360)" in out
    assert "trained 2 of 2 epochs on digits" in out
    rows = re.findall(r"^  (\d)\s+(0\.\d{4}|1\.0000)\s+(0\.\d{4}|1\.0000)\s+\S+\s+(\d+)$", out,
                      re.M)
    assert [r[0] for r in rows] == [str(d) for d in range(10)]
    assert sum(int(r[3]) for r in rows) == 360
    assert "macro average" in out
    matrix_part = out.split("confusion matrix")[1]
    matrix = np.array([[int(v) for v in line.split()[1:]]
                       for line in matrix_part.splitlines() if re.match(r"^  \d\s+\d", line)])
    assert matrix.shape == (10, 10) and matrix.sum() == 360
    assert np.trace(matrix) == metrics["correct"]
    recall = [float(r[2]) for r in rows]
    np.testing.assert_allclose(recall, np.diag(matrix) / matrix.sum(1), atol=5e-5)
    assert_png(digits_copy / "confusion.png")
    assert f"wrote {digits_copy / 'confusion.png'}" in out


def _digits_test_rows():
    """The digits test split as a user would have it: raw pixel values 0..16."""
    test = Digits(train=False)
    return np.rint(test.data.numpy() * 16).astype(int), test.targets.numpy()


def test_predict_on_the_test_rows_matches_the_test_accuracy(digits_run, tmp_path):
    folder = digits_run[0]
    X, y = _digits_test_rows()
    np.savetxt(tmp_path / "test.csv", X, fmt="%d", delimiter=",")  # no header
    proc = run_cli("predict", folder, tmp_path / "test.csv", check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "prediction,probability" and len(lines) == 361
    pred = np.array([int(line.split(",")[0]) for line in lines[1:]])
    prob = np.array([float(line.split(",")[1]) for line in lines[1:]])
    assert np.all((prob > 0.1) & (prob <= 1))
    # the training standardization is applied: exactly the test accuracy of the run
    assert (pred == y).mean() == read_json(folder / "metrics.json")["test"]["accuracy"]

    # a header naming the features lets the columns come in any order
    order = np.random.default_rng(0).permutation(64)
    header = ",".join(f"pixel{j}" for j in order)
    np.savetxt(tmp_path / "shuffled.csv", X[:20, order], fmt="%d", delimiter=",",
               header=header, comments="")
    status = run_cli("predict", folder, tmp_path / "shuffled.csv", "--output",
                     tmp_path / "p.csv", check=True)
    assert status.stdout == f"wrote 20 predictions to {tmp_path / 'p.csv'}\n"
    assert (tmp_path / "p.csv").read_text().splitlines() == lines[:21]


def test_predict_csv_classification_with_label_column_present(tmp_path, capsys):
    csv = tmp_path / "flowers.csv"
    write_classification_csv(csv)
    assert run_main(capsys, "train", "--data", csv, "--label-column", "species", "--epochs",
                    "20", "--out", tmp_path / "run", "--quiet")[0] == 0
    # the training file itself: the label column is recognized by name and ignored
    proc = run_cli("predict", tmp_path / "run", csv, check=True)
    pred = [line.split(",")[0] for line in proc.stdout.splitlines()[1:]]
    truth = [line.split(",")[0] for line in csv.read_text().splitlines()[1:]]
    assert set(pred) <= {"setosa", "versicolor", "virginica"}
    assert np.mean([p == t for p, t in zip(pred, truth)]) >= 0.9
    # eval of a string-labelled run names the classes
    proc = run_cli("eval", tmp_path / "run", check=True)
    assert re.search(r"^  setosa\s+\d\.\d{4}", proc.stdout, re.M)
    assert_png(tmp_path / "run" / "confusion.png")


def test_predict_and_eval_regression(tmp_path, capsys):
    csv = tmp_path / "houses.csv"
    X, y = write_regression_csv(csv)
    assert run_main(capsys, "train", "--data", csv, "--epochs", "60", "--out",
                    tmp_path / "run", "--quiet")[0] == 0
    np.savetxt(tmp_path / "in.csv", X[:50], fmt="%.5f", delimiter=",", header="a,b,c",
               comments="")
    proc = run_cli("predict", tmp_path / "run", tmp_path / "in.csv", check=True)
    lines = proc.stdout.splitlines()
    assert lines[0] == "prediction"  # no probability for regression
    pred = np.array([float(v) for v in lines[1:]])
    assert np.abs(pred - y[:50]).mean() < 0.5  # in the label's own units (about 10 +- 4)
    proc = run_cli("eval", tmp_path / "run", check=True)
    r2 = float(re.search(r"R\^2 (\d\.\d{4})", proc.stdout).group(1))
    assert r2 == pytest.approx(read_json(tmp_path / "run" / "metrics.json")["test"]["r2"],
                               abs=1e-4)
    assert not (tmp_path / "run" / "confusion.png").exists()


def test_predict_without_probabilities_for_mse_classifier(tmp_path, capsys):
    assert run_main(capsys, "train", "--loss", "mse", "--epochs", "2", "--out",
                    tmp_path / "run", "--quiet")[0] == 0
    X, _ = _digits_test_rows()
    np.savetxt(tmp_path / "in.csv", X[:5], fmt="%d", delimiter=",")
    status, out, _ = run_main(capsys, "predict", tmp_path / "run", tmp_path / "in.csv")
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == "prediction" and len(lines) == 6
    assert all(line in [str(d) for d in range(10)] for line in lines[1:])
