"""chainrule.alias_as_torch(): an unmodified torch script's imports get chainrule.  Each case
runs in a fresh interpreter (the alias is process-wide)."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = """
import chainrule
chainrule.alias_as_torch()

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.optim.lr_scheduler import StepLR
from torch.utils.data import DataLoader, TensorDataset
from torch.autograd import grad
import torch.func

assert torch is chainrule and nn is chainrule.nn and F is chainrule.nn.functional
assert DataLoader is chainrule.utils.data.DataLoader and torch.func is chainrule.func
assert optim.SGD is chainrule.optim.SGD and StepLR is chainrule.optim.lr_scheduler.StepLR
assert chainrule.alias_as_torch() is chainrule  # again: harmless

torch.manual_seed(0)
x = torch.randn(64, 3)
y = (x.sum(1) > 0).long()
model = nn.Sequential(nn.Linear(3, 16), nn.ReLU(), nn.Linear(16, 2))
opt = optim.SGD(model.parameters(), lr=0.5, foreach=True)
sched = StepLR(opt, step_size=5)
for epoch in range(20):
    for xb, yb in DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True):
        opt.zero_grad()
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
    sched.step()
acc = (model(x).argmax(1) == y).float().mean().item()
assert acc > 0.9, acc
print("ok", type(model(x)).__module__)
"""


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                          text=True, timeout=120)


def test_unmodified_torch_imports_get_chainrule():
    r = _run("import sys; sys.modules['torch'] = None  # no real torch, whether installed or "
             "not\n" + SCRIPT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok chainrule.tensor"


def test_torch_modules_chainrule_lacks_fail_clearly():
    r = _run("""
        import chainrule
        chainrule.alias_as_torch()
        try:
            import torch.distributions
        except ModuleNotFoundError as exc:
            print(exc.name, "|", exc)
    """)
    assert r.returncode == 0, r.stderr
    name, message = r.stdout.strip().split(" | ")
    assert name == "torch.distributions"
    assert "alias_as_torch() made `torch` chainrule" in message


def test_refuses_once_another_torch_is_imported():
    r = _run("""
        import sys, types
        sys.modules["torch"] = types.ModuleType("torch")  # stands for the real PyTorch
        import chainrule
        try:
            chainrule.alias_as_torch()
        except RuntimeError as exc:
            print(exc)
        print(sys.modules["torch"] is chainrule, "torch.nn" in sys.modules)
    """)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert "already imported" in lines[0] and "before the first `import torch`" in lines[0]
    assert lines[1] == "False False"


def test_without_the_alias_import_torch_is_untouched():
    r = _run("""
        import sys
        import chainrule as torch
        print("torch" in sys.modules, "torch.nn" in sys.modules)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False False"
