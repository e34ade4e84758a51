"""The README's Python training loop runs as written and learns the digits."""

import os
import re
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def test_readme_training_loop_runs(tmp_path, capsys):
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no Python example"
    cwd = os.getcwd()
    os.chdir(tmp_path)  # the example saves a checkpoint in the current folder
    try:
        exec(compile(blocks[0], "README.md", "exec"), {})
    finally:
        os.chdir(cwd)
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", capsys.readouterr().out).group(1))
    assert accuracy > 0.9
    assert (tmp_path / "digits.safetensors").stat().st_size > 10_000
