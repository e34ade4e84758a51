"""``chainrule explain`` and ``chainrule train --inspect`` from the command line."""

import json
import re

import numpy as np
import pytest

from chainrule.cli import main
from chainrule.viz.formulas import minus
from chainrule.viz.graph import fmt_array
from chainrule.viz.networks import chain_network


def test_explain_writes_one_self_contained_page(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["explain"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("wrote explain.html: 9 forward steps, 9 backward steps")
    assert "every gradient agrees" in out
    page = (tmp_path / "explain.html").read_text(encoding="utf-8")
    # no network: nothing loaded from anywhere (the only URL is the SVG namespace)
    assert set(re.findall(r"https?://[^\s\"'<>]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "<script src" not in page and "<link" not in page and "@import" not in page
    assert page.count('class="step') == 20  # start, 9 forward, 9 backward, update
    assert "Backpropagation through a chain of 3 sigmoid units" in page
    # the numbers are the library's: the loss of the default chain
    ex = chain_network(3, "sigmoid", 0, x=1.0, y=1)
    assert f'data-for="L">{fmt_array(ex.loss.data)}<' in page


def test_explain_text_prints_the_walk_through(capsys):
    assert main(["explain", "--format", "text", "--depth", "2", "--activation", "tanh",
                 "--weights", "0.5,-1,2", "--x", "0.3", "--y", "0", "--lr", "0.1"]) == 0
    text = capsys.readouterr().out
    ex = chain_network(2, "tanh", x=0.3, y=0, weights=[0.5, -1.0, 2.0])
    ex.loss.backward()
    assert "[1/15] forward  z1 = w1 · x" in text
    assert f"      z1 = 0.5 · 0.3 = {fmt_array(ex.names['z1'].data)}" in text
    for i in (1, 2, 3):
        w = ex.names[f"w{i}"]
        g = fmt_array(w.grad.data)
        g = f"({g})" if g.startswith("-") else g  # a negative number after × in parentheses
        line = f"  w{i}: {fmt_array(w.data, 6)} − 0.1 × {g} = "
        assert minus(line) in text, line
    assert "every chain-rule gradient agrees with its finite-difference estimate" in text


def test_explain_mlp_and_options(tmp_path, capsys):
    out = tmp_path / "mlp.html"
    assert main(["explain", "--layers", "2,3,2", "--activation", "tanh", "--seed", "3",
                 "--out", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert "Backpropagation through a 2-3-2 network" in page
    assert 'data-form="matrix"' in page and 'class="mat"' in page
    assert "fc1.weight" in page and "fc2.bias" in page
    capsys.readouterr()


@pytest.mark.parametrize("argv,message", [
    (["--layers", "2"], "at least an input and an output size"),
    (["--layers", "2,3,1"], "number of classes"),
    (["--layers", "30,30,2"], "too big to read step by step"),
    (["--depth", "0"], "depth must be between 1 and 12"),
    (["--weights", "1,2"], "expected 4 weights"),
    (["--weights", "a,b"], "--weights must be numbers"),
    (["--model", "nowhere", "--layers", "2,2"], "don't go together"),
    (["--model", "nowhere"], "--model nowhere does not exist"),
    (["--activation", "softplus"], "invalid choice"),
    (["--lr", "0"], "--lr must be positive"),
])
def test_explain_errors_are_one_line(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["explain", *argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("chainrule explain: error: ") and message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "explain.html").exists()


def test_explain_a_trained_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "1", "--hidden", "16", "--out", str(run), "--quiet"]) == 0
    out = tmp_path / "model.html"
    assert main(["explain", "--model", str(run), "--sample", "3", "--out", str(out)]) == 0
    assert "every gradient agrees" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert "Backpropagation through the trained MLP 64-16-10 relu" in page
    # parameters read W1, b1, ... with their module names beside, not "∂L/∂0.weight"
    assert ('<var>W<sub>1</sub></var> <span class="modname">(0.weight)</span>' in page and
            '<var>b<sub>2</sub></var> <span class="modname">(2.bias)</span>' in page)
    assert '<var class="mod">0.weight</var>' not in page
    # chainrule train's loss has label smoothing 0.1: the gradient formula says so, with
    # the softmax and the smoothed target it subtracts
    assert ("(softmax(<var>z<sub>2</sub></var>) − t) / N, t = (<span class=\"num\">1</span> − "
            "ε) · onehot(<var>y</var>) + ε/K") in page
    assert ('<span class="num">0.9</span> · onehot(<var>y</var>) + <span class="num">0.1'
            '</span>/<span class="num">10</span>') in page
    # the update panel writes weights as matrices (no bracketed strings) with the
    # finite-difference estimate beside each gradient
    update = page.split('data-phase="update"')[1]
    assert update.count('class="update-card"') == 4
    assert update.count('table class="mat old-value"') == 4
    assert "[[" not in update and "largest difference" in update
    assert main(["explain", "--model", str(run), "--sample", "100000"]) == 2
    assert "--sample 100000: the test set has" in capsys.readouterr().err


def test_train_inspect_writes_the_picture_and_statistics(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--hidden", "32,16", "--out", str(run),
                 "--inspect", "--quiet"]) == 0
    captured = capsys.readouterr()
    png = (run / "inspect.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 30_000
    stats = json.loads((run / "inspect.json").read_text())
    assert stats["epoch"] == [1, 2] and stats["warnings"] == []
    assert set(stats["grad_norm"]) == {"0", "2", "4"}
    assert all(v > 0 for v in stats["grad_norm"]["0"])
    assert all(0 <= v <= 1 for v in stats["dead_frac"]["0"])
    assert all(1e-6 < v < 1 for v in stats["update_ratio"]["2"])
    assert stats["activation"] == {"0": "ReLU", "2": "ReLU", "4": "own outputs"}
    assert "warning" not in captured.err


def test_train_inspect_resume_goes_on_from_the_first_run(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--epochs", "2", "--hidden", "16", "--out", str(run),
                 "--inspect", "--quiet"]) == 0
    first = json.loads((run / "inspect.json").read_text())
    assert main(["train", "--resume", str(run), "--epochs", "4", "--inspect"]) == 0
    out = capsys.readouterr().out
    stats = json.loads((run / "inspect.json").read_text())
    # the epochs continue, the first run's statistics stay (the reference for
    # vanishing/exploding gradients is the run's first epoch, not the resumed one's)
    assert stats["epoch"] == [1, 2, 3, 4]
    for layer in ("0", "2"):
        assert stats["grad_norm"][layer][:2] == first["grad_norm"][layer]
        assert len(stats["grad_norm"][layer]) == 4
    assert stats["loss"][:2] == first["loss"]
    # and the summary line lists the inspector's files
    assert "curves.png, inspect.png, inspect.json to" in out


def test_train_inspect_warns_about_dead_relus_and_vanishing_gradients(tmp_path, capsys):
    # plain SGD with a far too large step kills the ReLUs of the second layer
    run = tmp_path / "run"
    main(["train", "--epochs", "3", "--optimizer", "sgd", "--lr", "3", "--out", str(run),
          "--quiet", "--inspect"])
    err = capsys.readouterr().err
    # warnings name the layer: its place in the model and what it is
    assert "chainrule train: warning: dead ReLUs in layer 2 (Linear 128→64)" in err
    assert "chainrule train: warning: vanishing gradients in layer 0 (Linear 64→128)" in err
    stats = json.loads((run / "inspect.json").read_text())
    assert max(stats["dead_frac"]["2"]) > 0.5


def test_train_inspect_names_the_op_behind_a_nan_loss(tmp_path, capsys):
    run = tmp_path / "run"
    with np.errstate(all="ignore"):
        status = main(["train", "--epochs", "2", "--optimizer", "sgd", "--lr", "1e5", "--out",
                       str(run), "--quiet", "--inspect"])
    assert status == 1  # training diverged, as without --inspect
    err = capsys.readouterr().err
    warning = next(line for line in err.splitlines() if "warning: the loss is NaN" in line)
    assert "anomaly mode names the first op: linear produced NaN or Inf" in warning
    assert warning.endswith("; it ran in layer 2 (Linear 128→64)")  # the module it ran in
    assert "training diverged" in err
    assert (run / "inspect.png").exists()  # what was seen up to the NaN is kept
