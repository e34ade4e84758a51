"""examples/torch_style.py is a PyTorch script whose only change is ``import chainrule as
torch``: it runs on chainrule, and (where torch is installed) the same text with ``import
torch`` runs on PyTorch, both learning the task and round-tripping their state_dict."""

import runpy
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "examples" / "torch_style.py"


def _run(path):
    module = runpy.run_path(str(path))
    return module["main"]()


def test_runs_on_chainrule():
    accuracy, same = _run(SCRIPT)
    assert accuracy > 0.85
    assert same


def test_same_text_runs_on_torch(tmp_path):
    pytest.importorskip("torch")
    text = SCRIPT.read_text()
    first = "import chainrule as torch"
    assert text.count(first) == 1
    swapped = tmp_path / "torch_style_torch.py"
    swapped.write_text(text.replace(first, "import torch"))
    assert "chainrule" not in swapped.read_text().split('"""', 2)[2]  # no other chainrule use
    accuracy, same = _run(swapped)
    assert accuracy > 0.8
    assert same
