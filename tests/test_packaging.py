"""Packaging contracts: the core imports nothing but NumPy; `python -m chainrule` works."""

import subprocess
import sys


def test_core_import_pulls_in_only_numpy():
    code = (
        "import sys, chainrule\n"
        "x = chainrule.randn(3, requires_grad=True); (x * x).sum().backward()\n"
        "heavy = [m for m in ('torch', 'matplotlib', 'tqdm', 'scipy', 'cupy', 'playwright')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_python_dash_m_chainrule_shows_help():
    out = subprocess.run([sys.executable, "-m", "chainrule", "--help"], capture_output=True,
                         text=True)
    assert out.returncode == 0
    for command in ("train", "eval", "predict", "explain", "bench"):
        assert command in out.stdout
