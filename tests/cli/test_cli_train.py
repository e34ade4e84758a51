"""``chainrule train``: what it prints, the files of a run folder and their contents, the
three variants of gradient descent, CSV and MNIST-format data, and the default run's
accuracy."""

from __future__ import annotations

import gzip
import os
import re
import struct

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

import chainrule as cr
from chainrule.cli.model import ACTIVATIONS
from chainrule.datasets import split_indices

RUN_FILES = {"checkpoint.safetensors", "config.json", "metrics.json", "curves.png"}


def test_run_folder_files_and_contents(digits_run):
    folder, proc = digits_run
    assert sorted(os.listdir(folder)) == sorted(RUN_FILES)  # no temporary files left
    out = proc.stdout
    assert "data:  digits (1293 train / 144 validation / 360 test rows, 64 features, 10 " \
           "classes)" in out
    assert "MLP 64-128-64-10 relu" in out
    assert "mini-batch gradient descent (batch 32)" in out
    assert re.search(r"^\s+epoch\s+train loss\s+train acc\s+val loss\s+val acc\s+time", out,
                     re.M)
    assert "epoch 2/2" in proc.stderr  # the progress bar

    config = read_json(folder / "config.json")
    assert config["model"] == {"in_features": 64, "hidden": [128, 64], "activation": "relu",
                               "dropout": 0.0, "out_features": 10, "log_softmax": False}
    training = config["training"]
    assert (training["optimizer"], training["lr"], training["batch_size"], training["epochs"],
            training["loss"], training["seed"]) == ("adam", 0.001, 32, 2, "cross_entropy", 0)
    data = config["data"]
    assert (data["source"], data["task"], data["num_train"], data["num_val"],
            data["num_test"]) == ("digits", "classification", 1293, 144, 360)
    assert data["classes"] == [str(d) for d in range(10)] and len(data["feature_names"]) == 64

    metrics = read_json(folder / "metrics.json")
    assert metrics["epoch"] == [1, 2] and metrics["epochs_completed"] == 2
    for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_time"):
        assert len(metrics[key]) == 2, key
    assert metrics["train_loss"][1] < metrics["train_loss"][0]
    assert all(0 <= a <= 1 for a in metrics["train_accuracy"] + metrics["val_accuracy"])
    test = metrics["test"]
    assert test["count"] == 360 and test["accuracy"] == test["correct"] / 360
    assert test["accuracy"] > 0.8  # two epochs are plenty for that
    assert f"test accuracy {test['accuracy']:.4f} ({test['correct']}/360)" in out
    assert metrics["train_time"] > 0

    assert_png(folder / "curves.png")

    ckpt = cr.load(folder / "checkpoint.safetensors")
    assert ckpt["format"] == "chainrule.run" and ckpt["epoch"] == 2 and ckpt["partial"] is None
    assert ckpt["config"] == config
    assert sorted(ckpt["model"]) == ["0.bias", "0.weight", "2.bias", "2.weight", "4.bias",
                                     "4.weight"]
    assert tuple(ckpt["model"]["0.weight"].shape) == (128, 64)
    steps = {float(s["step"].item()) for s in ckpt["optimizer"]["state"].values()}
    assert steps == {2 * 41.0}  # ceil(1293 / 32) = 41 steps per epoch
    assert ckpt["loader"]["next_batch"] == 0 and ckpt["loader"]["indices"] is None
    assert ckpt["rng"]["bit_generator"]["bit_generator"] == "PCG64"
    assert tuple(ckpt["scaler"]["mean"].shape) == (64,)
    assert ckpt["history"]["train_loss"] == metrics["train_loss"]


def test_default_train_reaches_97_percent(tmp_path):
    """The bare command: bundled digits, >= 97% test accuracy (in seconds)."""
    proc = run_cli("train", cwd=tmp_path, check=True)
    (run,) = os.listdir(tmp_path / "runs")
    assert run.endswith("-digits")
    metrics = read_json(tmp_path / "runs" / run / "metrics.json")
    assert len(metrics["epoch"]) == 40
    assert metrics["test"]["accuracy"] >= 0.97, proc.stdout
    assert "test accuracy" in proc.stdout


@pytest.mark.parametrize("batch, steps_per_epoch", [("1", 1293), ("100", 13), ("full", 1)])
def test_batch_size_selects_the_variant_of_gradient_descent(tmp_path, capsys, batch,
                                                            steps_per_epoch):
    status, out, _ = run_main(capsys, "train", "--batch-size", batch, "--epochs", "2",
                              "--out", tmp_path / "run", "--hidden", "16")
    assert status == 0
    words = {"1": "stochastic gradient descent (batch 1)",
             "100": "mini-batch gradient descent (batch 100)",
             "full": "full-batch gradient descent"}[batch]
    assert words in out
    ckpt = cr.load(tmp_path / "run" / "checkpoint.safetensors")
    steps = {float(s["step"].item()) for s in ckpt["optimizer"]["state"].values()}
    assert steps == {2.0 * steps_per_epoch}
    assert ckpt["config"]["training"]["batch_size"] == (batch if batch == "full" else int(batch))


def test_full_batch_gradient_descent_decreases_the_loss_every_epoch(tmp_path, capsys):
    # one exact-gradient step per epoch with a small step size: the loss must go down
    status, _, _ = run_main(capsys, "train", "--batch-size", "full", "--optimizer", "sgd",
                            "--lr", "0.1", "--epochs", "8", "--val-fraction", "0",
                            "--out", tmp_path / "run", "--quiet")
    assert status == 0
    loss = read_json(tmp_path / "run" / "metrics.json")["train_loss"]
    assert all(b < a for a, b in zip(loss, loss[1:])), loss
    assert "val_loss" not in read_json(tmp_path / "run" / "metrics.json")


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_every_activation_trains(tmp_path, capsys, activation):
    status, _, _ = run_main(capsys, "train", "--activation", activation, "--epochs", "3",
                            "--out", tmp_path / "run", "--quiet", "--hidden", "32")
    assert status == 0
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert metrics["test"]["accuracy"] > 0.5
    assert read_json(tmp_path / "run" / "config.json")["model"]["activation"] == activation


@pytest.mark.parametrize("options, log_softmax", [
    (["--loss", "nll"], True),
    (["--loss", "mse"], False),
    (["--optimizer", "momentum", "--dropout", "0.2", "--lr-schedule", "cosine"], False),
    (["--optimizer", "rmsprop", "--weight-decay", "1e-4"], False),
    (["--optimizer", "adamw", "--hidden", "none"], False),
])
def test_losses_and_optimizers(tmp_path, capsys, options, log_softmax):
    status, _, _ = run_main(capsys, "train", *options, "--epochs", "3", "--out",
                            tmp_path / "run", "--quiet")
    assert status == 0
    config = read_json(tmp_path / "run" / "config.json")
    assert config["model"]["log_softmax"] is log_softmax
    if "--loss" in options:
        assert config["training"]["loss"] == options[1]
        assert config["training"]["label_smoothing"] == 0.0
    if "adamw" in options:
        assert config["training"]["weight_decay"] == 0.01  # torch's AdamW default
        assert config["model"]["hidden"] == []
    assert read_json(tmp_path / "run" / "metrics.json")["test"]["accuracy"] > 0.5


def test_quiet_prints_one_line(tmp_path):
    proc = run_cli("train", "--epochs", "1", "--quiet", "--out", tmp_path / "run", check=True)
    assert proc.stderr == ""
    (line,) = proc.stdout.splitlines()
    assert re.fullmatch(r"test accuracy 0\.\d{4} \(\d+/360\), test loss \d\.\d{4}; run saved "
                        r"to .*run", line)


# --------------------------------------------------------------------------- CSV tables


def test_csv_classification_with_string_labels(tmp_path):
    csv = tmp_path / "flowers.csv"
    write_classification_csv(csv)
    proc = run_cli("train", "--data", csv, "--label-column", "species", "--epochs", "20",
                   "--out", tmp_path / "run", cwd=tmp_path, check=True)
    assert "flowers.csv (172 train / 20 validation / 48 test rows, 3 features, 3 classes)" \
        in proc.stdout
    config = read_json(tmp_path / "run" / "config.json")
    data = config["data"]
    assert (data["task"], data["label_column"], data["feature_names"], data["classes"]) == (
        "classification", "species", ["width", "height", "depth"],
        ["setosa", "versicolor", "virginica"])
    assert len(data["sha256"]) == 64
    assert read_json(tmp_path / "run" / "metrics.json")["test"]["accuracy"] >= 0.9
    # the training standardization is the training rows' (not the test rows')
    ckpt = cr.load(tmp_path / "run" / "checkpoint.safetensors")
    table = np.genfromtxt(csv, delimiter=",", skip_header=1, usecols=(1, 2, 3))
    labels = [line.split(",")[0] for line in open(csv).read().splitlines()[1:]]
    pool, _ = split_indices(240, 0.2, 0, stratify=labels)
    keep, _ = split_indices(len(pool), 0.1, 0, stratify=[labels[i] for i in pool])
    rows = table[pool[keep]]
    np.testing.assert_allclose(ckpt["scaler"]["mean"], rows.mean(0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ckpt["scaler"]["std"], rows.std(0), rtol=1e-5)


def test_csv_regression_is_inferred(tmp_path):
    csv = tmp_path / "houses.csv"
    write_regression_csv(csv)
    proc = run_cli("train", "--data", csv, "--epochs", "60", "--out", tmp_path / "run",
                   check=True)
    assert "regression of 'target'" in proc.stdout
    config = read_json(tmp_path / "run" / "config.json")
    assert (config["data"]["task"], config["training"]["loss"],
            config["model"]["out_features"]) == ("regression", "mse", 1)
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert "train_accuracy" not in metrics and len(metrics["val_loss"]) == 60
    assert metrics["test"]["r2"] > 0.98 and metrics["test"]["rmse"] < 0.6
    assert_png(tmp_path / "run" / "curves.png")


def test_csv_integer_labels_are_classes_and_task_can_be_forced(tmp_path, capsys):
    csv = tmp_path / "t.csv"
    rng = np.random.default_rng(1)
    with open(csv, "w") as f:
        f.write("x,y,grade\n")
        for _ in range(120):
            x, y = rng.normal(size=2)
            f.write(f"{x:.4f},{y:.4f},{int(x > 0) + int(y > 0)}\n")
    status, _, _ = run_main(capsys, "train", "--data", csv, "--epochs", "2", "--out",
                            tmp_path / "a", "--quiet")
    assert status == 0
    assert read_json(tmp_path / "a" / "config.json")["data"]["classes"] == [0, 1, 2]
    status, _, _ = run_main(capsys, "train", "--data", csv, "--epochs", "2", "--out",
                            tmp_path / "b", "--quiet", "--task", "regression")
    assert status == 0
    assert read_json(tmp_path / "b" / "config.json")["data"]["task"] == "regression"


# --------------------------------------------------------------------------- MNIST format


def _idx(path, array, code):
    header = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(array.dtype.newbyteorder(">")).tobytes())


def test_mnist_from_idx_files(tmp_path):
    """``--data mnist`` reads the four standard IDX files from ``--data-dir``; ``eval``
    finds them again through the run's config.  (Tiny stand-in files: two classes drawn
    as bright left or right halves.)"""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 200), ("t10k", 50)):
        labels = rng.integers(0, 2, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, lab in enumerate(labels):
            images[i, :, (14 if lab else 0):(28 if lab else 14)] += 150
        _idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", images, 0x08)
        _idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", labels, 0x08)
    proc = run_cli("train", "--data", "mnist", "--data-dir", tmp_path, "--epochs", "2",
                   "--hidden", "32", "--out", tmp_path / "run", check=True)
    assert "mnist (180 train / 20 validation / 50 test rows, 784 features, 10 classes)" \
        in proc.stdout
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert metrics["test"]["accuracy"] >= 0.95
    config = read_json(tmp_path / "run" / "config.json")
    assert config["data"]["data_dir"] == str(tmp_path) and config["data"]["input_divisor"] == 255
    proc = run_cli("eval", tmp_path / "run", check=True)
    assert f"test accuracy {metrics['test']['accuracy']:.4f}" in proc.stdout

