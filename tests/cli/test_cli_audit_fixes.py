"""Command-line fixes from the issue-3 audit: moved data for --resume and eval, no
half-written run folder after a diverged first epoch, and messages that name the fix."""

from __future__ import annotations

import gzip
import hashlib
import shutil
import struct

import numpy as np
import pytest
from cli_helpers import read_json, run_main, write_classification_csv

from chainrule.datasets import MNIST

SMALL = ["--hidden", "16", "--quiet"]


def _idx_gz(path, array):
    head = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I",
                                                                     *array.shape)
    with gzip.open(path, "wb") as f:
        f.write(head + array.tobytes())


def _fake_mnist(folder, seed=0):
    """Two classes drawn as a bright left or right half: learnable in one epoch."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", 120), ("t10k", 40)):
        labels = rng.integers(0, 2, n).astype(np.uint8)
        images = rng.integers(0, 60, (n, 28, 28)).astype(np.uint8)
        for i, lab in enumerate(labels):
            images[i, :, (14 if lab else 0):(28 if lab else 14)] += 150
        _idx_gz(folder / f"{prefix}-images-idx3-ubyte.gz", images)
        _idx_gz(folder / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return folder


@pytest.fixture
def mnist_run(tmp_path, capsys):
    data = _fake_mnist(tmp_path / "data")
    status, _, err = run_main(capsys, "train", "--data", "mnist", "--data-dir", data,
                              "--epochs", "1", *SMALL, "--out", tmp_path / "run")
    assert status == 0, err
    return tmp_path / "run", data


# --------------------------------------------------------------------------- moved data


def test_moved_mnist_folder_is_found_again_with_data_dir(mnist_run, tmp_path, capsys):
    run, data = mnist_run
    moved = tmp_path / "elsewhere"
    shutil.move(data, moved)
    status, _, err = run_main(capsys, "eval", run)
    assert status == 2
    assert "pass --download to fetch it" in err and "give their folder with --data-dir" in err
    status, out, err = run_main(capsys, "eval", run, "--data-dir", moved)
    assert status == 0, err
    assert "test accuracy" in out
    assert read_json(run / "config.json")["data"]["data_dir"] == str(data)  # eval writes none
    status, _, err = run_main(capsys, "train", "--resume", run, "--epochs", "2",
                              "--data-dir", moved, "--quiet")
    assert status == 0, err
    # the resumed run records the new place: later commands need no option
    assert read_json(run / "config.json")["data"]["data_dir"] == str(moved)
    assert read_json(run / "metrics.json")["epochs_completed"] == 2
    status, out, err = run_main(capsys, "eval", run)
    assert status == 0, err


def test_resume_with_download_fetches_missing_files(mnist_run, tmp_path, capsys,
                                                    monkeypatch):
    """The reviewer's case: ``--resume R --epochs 2 --download`` once said "pass --download"
    although it was passed.  The mirrors point at a local folder of the same files."""
    run, data = mnist_run
    server = tmp_path / "server"
    shutil.move(data, server)
    resources = [(f.name, hashlib.md5(f.read_bytes()).hexdigest())
                 for f in sorted(server.iterdir())]
    monkeypatch.setattr(MNIST, "mirrors", [server.as_uri() + "/"])
    monkeypatch.setattr(MNIST, "resources", resources)
    status, _, err = run_main(capsys, "train", "--resume", run, "--epochs", "2", "--quiet")
    assert status == 2 and "pass --download to fetch it" in err
    status, _, err = run_main(capsys, "train", "--resume", run, "--epochs", "2", "--download",
                              "--quiet")
    assert status == 0, err
    assert (data / "MNIST" / "raw" / "train-images-idx3-ubyte.gz").is_file()
    assert read_json(run / "metrics.json")["epochs_completed"] == 2


def test_data_dir_and_download_apply_to_image_data_only(tmp_path, capsys):
    write_classification_csv(tmp_path / "cls.csv")
    status, _, err = run_main(capsys, "train", "--data", tmp_path / "cls.csv", "--label-column",
                              "species", "--epochs", "1", *SMALL, "--out", tmp_path / "run")
    assert status == 0, err
    status, _, err = run_main(capsys, "eval", tmp_path / "run", "--data-dir", tmp_path)
    assert status == 2
    assert "--data-dir applies to mnist and fashion-mnist; the run was trained on cls.csv" in err
    status, _, err = run_main(capsys, "eval", tmp_path / "run", "--data", "digits")
    assert status == 2 and "the run was trained on cls.csv" in err


def test_moved_csv_is_found_again_with_data(tmp_path, capsys):
    write_classification_csv(tmp_path / "cls.csv")
    run = tmp_path / "run"
    status, _, err = run_main(capsys, "train", "--data", tmp_path / "cls.csv", "--label-column",
                              "species", "--epochs", "1", *SMALL, "--out", run)
    assert status == 0, err
    (tmp_path / "new").mkdir()
    moved = tmp_path / "new" / "renamed.csv"
    shutil.move(tmp_path / "cls.csv", moved)
    status, _, err = run_main(capsys, "eval", run)
    assert status == 2
    assert f"the run's data file {tmp_path / 'cls.csv'} no longer exists; if it has moved, " \
           f"give its new place with --data FILE.csv" in err
    assert "--data: no such file" not in err  # eval had no --data to blame
    status, out, err = run_main(capsys, "eval", run, "--data", moved)
    assert status == 0, err
    # another file, even with the same columns, is refused by its hash
    write_classification_csv(tmp_path / "other.csv", seed=1)
    status, _, err = run_main(capsys, "eval", run, "--data", tmp_path / "other.csv")
    assert status == 2
    assert "is not the file the run was trained on" in err and "SHA-256" in err
    status, _, err = run_main(capsys, "train", "--resume", run, "--epochs", "2", "--data",
                              moved, "--quiet")
    assert status == 0, err
    assert read_json(run / "config.json")["data"]["path"] == str(moved)
    status, _, err = run_main(capsys, "eval", run)
    assert status == 0, err


# --------------------------------------------------------------------------- divergence


def test_diverged_first_epoch_leaves_no_folder(tmp_path, capsys):
    out = tmp_path / "dv"
    status, _, err = run_main(capsys, "train", "--optimizer", "sgd", "--lr", "1e4", "--epochs",
                              "1", *SMALL, "--out", out)
    assert status == 1 and "training diverged" in err
    assert not out.exists()  # no config.json without a checkpoint
    status, _, err = run_main(capsys, "train", "--epochs", "1", *SMALL, "--out", out)
    assert status == 0, err
    assert sorted(p.name for p in out.iterdir()) == [
        "checkpoint.safetensors", "config.json", "curves.png", "metrics.json"]


def test_diverged_run_in_an_existing_empty_folder_keeps_it_empty(tmp_path, capsys):
    out = tmp_path / "given"
    out.mkdir()
    status, _, _ = run_main(capsys, "train", "--optimizer", "sgd", "--lr", "1e4", "--epochs",
                            "1", *SMALL, "--out", out)
    assert status == 1
    assert out.is_dir() and not any(out.iterdir())


def test_config_json_comes_with_the_first_checkpoint(tmp_path, capsys, monkeypatch):
    """A run that fails while saving its first checkpoint leaves no config.json either."""
    import chainrule.cli.rundir as rundir

    def broken(run_dir, state):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(rundir, "write_checkpoint", broken)
    with pytest.raises(OSError):
        run_main(capsys, "train", "--epochs", "1", *SMALL, "--out", tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_out_folder_without_a_checkpoint_says_so(tmp_path, capsys):
    out = tmp_path / "left"
    out.mkdir()
    (out / "inspect.png").write_bytes(b"x")
    status, _, err = run_main(capsys, "train", "--out", out)
    assert status == 2
    assert "it holds no checkpoint to resume; delete it or choose a new folder" in err


# --------------------------------------------------------------------------- CSV messages


def test_text_label_in_the_first_column_suggests_label_column(tmp_path, capsys):
    write_classification_csv(tmp_path / "cls.csv")  # species,width,height,depth
    status, _, err = run_main(capsys, "train", "--data", tmp_path / "cls.csv", "--out",
                              tmp_path / "run")
    assert status == 2
    assert "column 'species': 'setosa' is not a finite number" in err
    assert "if it is the label, pass --label-column species" in err
    assert not (tmp_path / "run").exists()


def test_a_typo_in_a_numeric_column_gets_no_label_hint(tmp_path, capsys):
    (tmp_path / "typo.csv").write_text("a,b,y\n1,2,p\n3,x4,q\n5,6,p\n")
    status, _, err = run_main(capsys, "train", "--data", tmp_path / "typo.csv")
    assert status == 2
    assert "column 'b': 'x4' is not a finite number" in err and "--label-column" not in err


@pytest.mark.parametrize("content,where", [
    ("a,b,y\n1,2,p\n3,,q\n", "line 3, column 'b': missing value"),
    ("a,b,y\n1,2,p\n3,4,NA\n", "line 3, column 'y': missing label"),
])
def test_missing_cell_in_training_data_says_how_to_fix_it(tmp_path, capsys, content, where):
    (tmp_path / "gap.csv").write_text(content)
    status, _, err = run_main(capsys, "train", "--data", tmp_path / "gap.csv")
    assert status == 2
    assert f"{where}; fill it in or drop the row" in err


# --------------------------------------------------------------------------- the report


def _visible_labels(ax, axis):
    lo, hi = ax.get_xlim() if axis == "x" else ax.get_ylim()
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in ticks
            if lo <= (t.get_position()[0] if axis == "x" else t.get_position()[1]) <= hi]


@pytest.mark.parametrize("losses", [
    [0.9, 0.7, 0.62],  # 3 epochs (matplotlib would tick 1.25, 1.5...), within one decade
    [0.9, 0.7, 0.62, 0.58, 0.56, 0.55, 0.55],  # label smoothing's floor
    [2.3, 0.5, 0.1, 0.03, 0.01, 0.004, 0.002],  # three decades
])
def test_curves_have_integer_epochs_and_readable_log_labels(losses):
    pytest.importorskip("matplotlib")
    from chainrule.cli import report

    n = len(losses)
    history = {"epoch": list(range(1, n + 1)), "train_loss": losses,
               "train_accuracy": [0.5 + 0.05 * i for i in range(n)],
               "val_loss": [v * 1.1 for v in losses],
               "val_accuracy": [0.5 + 0.04 * i for i in range(n)]}
    fig = report.curves_figure(history, {"loss": losses[-1], "accuracy": 0.8},
                               loss_note="with label smoothing 0.1", loss_floor=0.5)
    fig.canvas.draw()
    loss_ax, acc_ax = fig.axes[:2]
    for ax in (loss_ax, acc_ax):
        xs = _visible_labels(ax, "x")
        assert xs and all(t.lstrip("\u2212-").isdigit() for t in xs), xs
    ys = [t for t in _visible_labels(loss_ax, "y") if t]
    assert len(ys) >= 2, ys
    for t in ys:
        float(t)  # plain numbers such as 0.6, not 6x10^-1 or mathtext
    assert loss_ax.get_ylabel() == "loss (with label smoothing 0.1)"
    assert any("lowest possible (0.500)" in t.get_text()
               for t in loss_ax.get_legend().get_texts())


def test_summary_explains_the_label_smoothing_floor(tmp_path, capsys):
    status, out, err = run_main(capsys, "train", "--epochs", "1", "--hidden", "16", "--out",
                                tmp_path / "a")
    assert status == 0, err
    assert "losses include label smoothing 0.1: the lowest possible loss is 0.5003, not 0" in out
    status, out, err = run_main(capsys, "train", "--epochs", "1", "--hidden", "16",
                                "--label-smoothing", "0", "--out", tmp_path / "b")
    assert status == 0, err
    assert "label smoothing" not in out


# --------------------------------------------------------------------------- defaults


@pytest.mark.parametrize("batch, optimizer, lr, epochs", [
    ("1", "momentum", 0.001, 20), ("1", "sgd", 0.01, 20), ("1", "adam", 3e-4, 20),
    ("32", "momentum", 0.01, 40), ("7", "sgd", 0.05, 40), ("32", "adam", 1e-3, 40),
    ("full", "sgd", 0.2, 100), ("full", "momentum", 0.1, 100), ("full", "adamw", 1e-2, 100),
    ("full", "rmsprop", 3e-3, 100),
])
def test_defaults_follow_the_variant_of_gradient_descent(batch, optimizer, lr, epochs):
    from chainrule.cli import build_parser
    from chainrule.cli.train import new_config

    args = build_parser().parse_args(["train", "--batch-size", batch, "--optimizer", optimizer])
    training = new_config(args)["training"]
    assert (training["lr"], training["epochs"]) == (lr, epochs)
    args = build_parser().parse_args(["train", "--batch-size", batch, "--optimizer", optimizer,
                                      "--lr", "0.123", "--epochs", "3"])
    training = new_config(args)["training"]
    assert (training["lr"], training["epochs"]) == (0.123, 3)  # given values win


def test_full_batch_gradient_descent_learns_with_its_defaults(tmp_path, capsys):
    # 40 steps at the mini-batch lr reached 71% test accuracy; full-batch defaults: > 93%
    status, out, err = run_main(capsys, "train", "--batch-size", "full", "--optimizer", "sgd",
                                "--quiet", "--out", tmp_path / "run")
    assert status == 0, err
    metrics = read_json(tmp_path / "run" / "metrics.json")
    assert metrics["epochs_completed"] == 100
    assert metrics["test"]["accuracy"] > 0.93, out
