"""Bad input: one line on stderr saying what is wrong (and how to fix it), exit status 2,
no traceback, and nothing written: no run folder, no partial file, no changed file."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from cli_helpers import run_cli, run_main, write_classification_csv

import chainrule as cr


def snapshot(root) -> dict:
    """Every file under ``root``: relative path -> (size, modification time)."""
    out = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = os.path.join(folder, name)
            st = os.stat(path)
            out[os.path.relpath(path, root)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, digits_run):
    """A folder of good and bad inputs: CSV files and run folders, damaged in every way."""
    ws = tmp_path_factory.mktemp("errors")
    (ws / "missing.csv").write_text("a,b,c,label\n1,2,3,x\n4,,6,y\n7,8,9,x\n")
    (ws / "text.csv").write_text("a,b,c,label\n1,2,3,x\n4,5,6,y\n7,8,abc,x\n")
    (ws / "ragged.csv").write_text("a,b,c,label\n1,2,3,x\n4,5,y\n")
    (ws / "numeric.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 7},{i * 0.37:.2f}\n"
                                                        for i in range(40)))
    write_classification_csv(ws / "flowers.csv", n=60)
    run = ws / "run"
    shutil.copytree(digits_run[0], run)
    os.mkdir(ws / "empty")
    # another architecture's checkpoint, copied into this run's folder
    small = ws / "small"
    assert run_cli("train", "--epochs", "1", "--hidden", "8", "--out", small,
                   "--quiet").returncode == 0
    swapped = ws / "swapped"
    shutil.copytree(run, swapped)
    shutil.copy(small / "checkpoint.safetensors", swapped / "checkpoint.safetensors")
    # a checkpoint whose own config disagrees with its weights
    tampered = ws / "tampered"
    shutil.copytree(run, tampered)
    ckpt = cr.load(run / "checkpoint.safetensors")
    ckpt["model"] = cr.load(small / "checkpoint.safetensors")["model"]
    cr.save(ckpt, tampered / "checkpoint.safetensors")
    # truncated, foreign (plain safetensors) and garbage files
    for name, data in [
        ("truncated", (run / "checkpoint.safetensors").read_bytes()[:3000]),
        ("garbage", b"this is not a checkpoint at all" * 10),
        ("cut", (run / "checkpoint.safetensors").read_bytes()[:-7]),
    ]:
        shutil.copytree(run, ws / name)
        (ws / name / "checkpoint.safetensors").write_bytes(data)
    shutil.copytree(run, ws / "foreign")
    cr.save({"weight": cr.ones(3, 3)}, ws / "foreign" / "checkpoint.safetensors")
    os.remove(ws / "foreign" / "config.json")  # the folder holds nothing but that file
    # predict inputs
    np.savetxt(ws / "three.csv", np.ones((4, 3)), fmt="%d", delimiter=",")
    rows = np.ones((3, 64), dtype=int).astype(str)
    rows[1, 3] = "x7"
    np.savetxt(ws / "badcell.csv", rows, fmt="%s", delimiter=",")
    rows[1, 3] = ""
    np.savetxt(ws / "gap.csv", rows, fmt="%s", delimiter=",")
    np.savetxt(ws / "good.csv", np.ones((3, 64)), fmt="%d", delimiter=",")
    return ws


CASES = [
    # unknown option values and malformed numbers (argparse)
    (["train", "--activation", "swish"], "argument --activation: invalid choice: 'swish'"),
    (["train", "--optimizer", "adagrad"], "argument --optimizer: invalid choice: 'adagrad'"),
    (["train", "--loss", "hinge"], "argument --loss: invalid choice: 'hinge'"),
    (["train", "--task", "ranking"], "argument --task: invalid choice: 'ranking'"),
    (["train", "--device", "tpu"], "argument --device: invalid choice: 'tpu'"),
    (["train", "--batch-size", "0"], "argument --batch-size: must be a positive number"),
    (["train", "--batch-size", "lots"], "or 'full' (full-batch gradient descent), got 'lots'"),
    (["train", "--hidden", "64,0"], "argument --hidden: expected comma-separated positive"),
    (["train", "--epochs", "0"], "argument --epochs: must be an integer >= 1, got '0'"),
    (["train", "--lr", "-1"], "argument --lr: must be a number in (0, inf), got '-1'"),
    (["train", "--val-fraction", "1"], "argument --val-fraction: must be a number in [0, 1)"),
    (["train", "--dropout", "nan"], "argument --dropout: must be a number in [0, 1)"),
    (["train", "--seed", "-2"], "argument --seed: must be an integer >= 0"),
    (["train", "--bogus"], "unrecognized arguments: --bogus (see 'chainrule train --help')"),
    ([], "missing command: choose one of train, eval, predict"),
    (["fit"], "argument COMMAND: invalid choice: 'fit'"),
    # data
    (["train", "--data", "nowhere.csv"], "--data: no such file: nowhere.csv"),
    (["train", "--data", "imagenet"], "--data: unknown data set 'imagenet'; choose digits"),
    (["train", "--data", "empty"], "--data empty is a folder"),
    (["train", "--data", "missing.csv"], "missing.csv line 3, column 'b': missing value"),
    (["train", "--data", "text.csv"], "text.csv line 4, column 'c': 'abc' is not a finite"),
    (["train", "--data", "ragged.csv"], "ragged.csv line 3: expected 4 cells, found 3"),
    (["train", "--data", "flowers.csv", "--label-column", "petal"],
     "--label-column: no column 'petal' in"),
    (["train", "--data", "flowers.csv", "--label-column", "species", "--task", "regression"],
     "--task regression needs numeric labels, but column 'species'"),
    (["train", "--data", "numeric.csv", "--loss", "nll"],
     "--loss nll needs class labels, but numeric.csv is a regression task"),
    (["train", "--label-column", "x"], "--label-column applies to CSV data only"),
    (["train", "--loss", "mse", "--label-smoothing", "0.1"],
     "--label-smoothing applies to --loss cross_entropy, not mse"),
    (["train", "--data", "mnist", "--data-dir", "empty"], "pass --download to fetch it"),
    (["train", "--out", "run"], "--out run already exists and is not empty; continue it with"),
    # resuming
    (["train", "--resume", "nowhere"], "--resume nowhere does not exist"),
    (["train", "--resume", "empty"], "empty has no checkpoint.safetensors"),
    (["train", "--resume", "run"], "run has already trained 2 epochs; pass --epochs N"),
    (["train", "--resume", "run", "--epochs", "3", "--lr", "0.5"],
     "--lr 0.5 differs from the resumed run's 0.001"),
    (["train", "--resume", "run", "--epochs", "3", "--hidden", "10"],
     "--hidden 10 differs from the resumed run's 128,64"),
    (["train", "--resume", "run", "--epochs", "3", "--out", "x"],
     "--out and --resume don't go together"),
    (["train", "--resume", "truncated", "--epochs", "3"], "is not a chainrule checkpoint or is "
                                                          "damaged (truncated"),
    (["train", "--resume", "swapped", "--epochs", "3"], "the checkpoint comes from another run"),
    # run folders for eval / predict
    (["eval", "nowhere"], "RUN_DIR nowhere does not exist"),
    (["eval", "missing.csv"], "RUN_DIR missing.csv is a file, not a run folder"),
    (["eval", "empty"], "empty has no checkpoint.safetensors; is it a run folder"),
    (["eval", "swapped"], "holds an MLP 64-8-10 relu, but its config.json describes an MLP "
                          "64-128-64-10 relu: the checkpoint comes from another run"),
    (["eval", "tampered"], "don't fit its MLP 64-128-64-10 relu: 0.weight has shape (8, 64), the "
                           "model's is (128, 64)"),
    (["eval", "truncated"], "checkpoint.safetensors is not a chainrule checkpoint or is damaged"),
    (["eval", "cut"], "is not a chainrule checkpoint or is damaged (truncated"),
    (["eval", "garbage"], "is not a chainrule checkpoint or is damaged"),
    (["eval", "foreign"], "is a safetensors file but not a run checkpoint written by chainrule"),
    (["predict", "truncated", "good.csv"], "is not a chainrule checkpoint or is damaged"),
    (["predict", "run", "three.csv"], "three.csv has 3 columns, but the model takes 64 features"),
    (["predict", "run", "nowhere.csv"], "INPUT nowhere.csv does not exist"),
    (["predict", "run", "badcell.csv"], "badcell.csv line 2, column 'pixel3': 'x7' is not a "
                                        "number"),
    (["predict", "run", "gap.csv"], "gap.csv line 2, column 'pixel3': missing value"),
    (["predict", "run", "flowers.csv"], "none of them a feature of the model"),
    (["predict", "run", "good.csv", "--output", "nofolder/p.csv"], "does not exist"),
    (["predict", "run", "three.csv", "--output", "p.csv"], "has 3 columns"),
]


@pytest.mark.parametrize("argv, message", CASES,
                         ids=[" ".join(a) or "(none)" for a, _ in CASES])
def test_user_error(workspace, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(workspace)
    monkeypatch.delenv("CHAINRULE_DATA", raising=False)
    before = snapshot(workspace)
    status, out, err = run_main(capsys, *argv)
    assert status == 2
    lines = err.splitlines()
    assert len(lines) == 1, err
    command = f"chainrule {argv[0]}" if argv and argv[0] in ("train", "eval", "predict") \
        else "chainrule"
    assert lines[0].startswith(f"{command}: error: "), err
    assert message in lines[0]
    assert "Traceback" not in out
    assert snapshot(workspace) == before  # nothing written, nothing changed
    assert not os.path.exists(workspace / "runs")


@pytest.mark.skipif(cr.cuda.is_available(), reason="a GPU is available here")
def test_cuda_without_gpu(workspace, monkeypatch, capsys):
    monkeypatch.chdir(workspace)
    before = snapshot(workspace)
    status, _, err = run_main(capsys, "train", "--device", "cuda")
    assert status == 2
    assert err.startswith("chainrule train: error: --device cuda: no CUDA GPU is usable here")
    assert snapshot(workspace) == before


@pytest.mark.parametrize("argv, message", [
    (["train", "--batch-size", "0"], "argument --batch-size"),
    (["train", "--data", "missing.csv"], "line 3, column 'b': missing value"),
    (["eval", "truncated"], "is not a chainrule checkpoint or is damaged"),
    (["predict", "run", "three.csv"], "has 3 columns, but the model takes 64 features"),
])
def test_user_error_as_a_process(workspace, argv, message):
    """The same through a real process: exit status 2 and one line, no traceback."""
    before = snapshot(workspace)
    proc = run_cli(*argv, cwd=workspace)
    assert proc.returncode == 2
    assert proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert line.startswith(f"chainrule {argv[0]}: error: ") and message in line
    assert snapshot(workspace) == before


def test_divergence_is_one_line_and_status_1(tmp_path):
    """Not bad input but a failed run: one line, exit status 1, no NumPy warnings."""
    proc = run_cli("train", "--optimizer", "sgd", "--lr", "1e4", "--epochs", "2", "--quiet",
                   "--out", tmp_path / "run")
    assert proc.returncode == 1
    (line,) = proc.stderr.splitlines()
    assert line.startswith("chainrule train: error: training diverged: the loss is ")
    assert "lower --lr" in line
