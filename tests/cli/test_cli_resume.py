"""``--resume`` and Ctrl-C: a run that is stopped and continued ends bit-identical to one
that was never stopped (weights, optimizer state, random generator, every metric)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
from cli_helpers import read_json, run_cli, run_main

import chainrule as cr
import chainrule.cli.train as train_cli

TIMING = {"epoch_time", "train_time"}


def assert_same_run(a, b):
    """Two run folders hold the same trained state and the same metrics (times aside)."""
    ma, mb = read_json(a / "metrics.json"), read_json(b / "metrics.json")
    assert {k: v for k, v in ma.items() if k not in TIMING} == \
        {k: v for k, v in mb.items() if k not in TIMING}
    ca, cb = cr.load(a / "checkpoint.safetensors"), cr.load(b / "checkpoint.safetensors")
    assert sorted(ca["model"]) == sorted(cb["model"])
    for key in ca["model"]:
        assert ca["model"][key].numpy().tobytes() == cb["model"][key].numpy().tobytes(), key
    sa, sb = ca["optimizer"]["state"], cb["optimizer"]["state"]
    assert sorted(sa) == sorted(sb)
    for pid in sa:
        for name, value in sa[pid].items():
            assert np.array_equal(value.numpy(), sb[pid][name].numpy()), (pid, name)
    assert ca["rng"] == cb["rng"]
    assert ca["scheduler"] == cb["scheduler"]
    assert (ca["epoch"], ca["partial"]) == (cb["epoch"], cb["partial"])


def test_resume_continues_bit_identically(tmp_path):
    common = ["--dropout", "0.2", "--hidden", "64,32", "--seed", "3"]  # dropout draws randoms
    run_cli("train", *common, "--epochs", "4", "--out", tmp_path / "whole", check=True)
    run_cli("train", *common, "--epochs", "2", "--out", tmp_path / "split", check=True)
    assert read_json(tmp_path / "split" / "metrics.json")["epoch"] == [1, 2]
    proc = run_cli("train", "--resume", tmp_path / "split", "--epochs", "4", check=True)
    assert "resuming" in proc.stdout and "after 2 epochs" in proc.stdout
    assert "epoch 3/4" in proc.stderr and "epoch 1/4" not in proc.stderr
    assert_same_run(tmp_path / "whole", tmp_path / "split")
    assert read_json(tmp_path / "split" / "config.json")["training"]["epochs"] == 4


class _StopAfter:
    """Stands in for the Ctrl-C handler: 'Ctrl-C' is pressed at the ``n``-th check."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        event, n = threading.Event(), self.n
        calls = iter(range(1, 10**9))

        class Pressed:
            def is_set(self):
                if next(calls) >= n:
                    event.set()
                return event.is_set()

        return Pressed()

    def __exit__(self, *exc):
        return None


def test_stop_mid_epoch_saves_the_position_and_resume_matches(tmp_path, capsys, monkeypatch):
    common = ["--dropout", "0.1", "--lr-schedule", "cosine", "--epochs", "3", "--quiet"]
    status, _, _ = run_main(capsys, "train", *common, "--out", tmp_path / "whole")
    assert status == 0
    # the loop checks once per step and once per epoch: 41 + 1 checks in epoch 1, so the
    # 52nd check is right after step 10 of epoch 2
    monkeypatch.setattr(train_cli, "_StopOnCtrlC", lambda: _StopAfter(52))
    status, out, err = run_main(capsys, "train", *common, "--out", tmp_path / "split")
    assert status == 130
    assert err.strip().splitlines() == [
        f"chainrule train: stopped in epoch 2, after batch 10 of 41; checkpoint saved. "
        f"Continue with: chainrule train --resume {tmp_path / 'split'}"]
    ckpt = cr.load(tmp_path / "split" / "checkpoint.safetensors")
    assert ckpt["epoch"] == 1 and ckpt["loader"]["next_batch"] == 10
    assert ckpt["partial"]["count"] == 10 * 32
    assert read_json(tmp_path / "split" / "metrics.json")["test"] is None
    monkeypatch.undo()
    status, out, _ = run_main(capsys, "train", "--resume", tmp_path / "split", "--quiet")
    assert status == 0
    assert_same_run(tmp_path / "whole", tmp_path / "split")


def test_ctrl_c_then_resume(tmp_path):
    """A real SIGINT to a running ``chainrule train``: exit 130 with a checkpoint, and the
    resumed run equals an uninterrupted one."""
    common = ["--batch-size", "1", "--epochs", "4", "--dropout", "0.1", "--hidden", "32",
              "--quiet"]
    run_cli("train", *common, "--out", tmp_path / "whole", check=True)
    proc = subprocess.Popen([sys.executable, "-m", "chainrule", "train", *common, "--out",
                             str(tmp_path / "split")], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (tmp_path / "split" / "checkpoint.safetensors").exists():  # epoch 1 is done
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out, err)
    (line,) = err.strip().splitlines()
    assert line.startswith("chainrule train: stopped ") and "--resume" in line
    assert "Traceback" not in err
    assert not [f for f in os.listdir(tmp_path / "split") if f.startswith(".")]  # no temp files
    run_cli("train", "--resume", tmp_path / "split", check=True)
    assert_same_run(tmp_path / "whole", tmp_path / "split")
