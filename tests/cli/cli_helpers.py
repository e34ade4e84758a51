"""Helpers for the command-line tests: run ``chainrule`` as a user would (a subprocess) or
in-process through ``chainrule.cli.main`` (for the long tables of error cases), and check
PNG files."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib

import numpy as np

from chainrule.cli import main


def run_cli(*args, cwd=None, check=False, timeout=120) -> subprocess.CompletedProcess:
    """``python -m chainrule ARGS`` in ``cwd``; the completed process (text output)."""
    env = dict(os.environ)
    env.pop("CHAINRULE_DATA", None)
    proc = subprocess.run([sys.executable, "-m", "chainrule", *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"chainrule {' '.join(map(str, args))} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def run_main(capsys, *args):
    """``chainrule.cli.main(ARGS)`` in this process: (status, stdout, stderr)."""
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def assert_png(path, min_bytes=5000, min_side=100) -> tuple[int, int]:
    """``path`` is a complete PNG (every chunk's CRC checks, IHDR first, IEND last) of
    non-trivial size; returns (width, height)."""
    data = open(path, "rb").read()
    assert len(data) >= min_bytes, f"{path}: only {len(data)} bytes"
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path}: no PNG signature"
    pos, kinds = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"{path}: bad CRC in chunk {kind!r}"
        kinds.append(kind)
        if kind == b"IHDR":
            width, height = struct.unpack(">II", body[:8])
        pos += 12 + length
    assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
    assert width >= min_side and height >= min_side
    return width, height


def read_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_classification_csv(path, n=240, seed=0):
    """Three well-separated string classes; the label is the first column."""
    rng = np.random.default_rng(seed)
    centers = {"setosa": (0, 0, 0), "versicolor": (3, 3, 0), "virginica": (0, 3, 3)}
    names = list(centers)
    with open(path, "w") as f:
        f.write("species,width,height,depth\n")
        for i in range(n):
            c = names[i % 3]
            x = np.asarray(centers[c]) + rng.normal(scale=0.7, size=3)
            f.write(c + "," + ",".join(f"{v:.4f}" for v in x) + "\n")


def write_regression_csv(path, n=300, seed=0):
    """target = 10 + 2 a - 3 b + 0.5 c + noise (a numeric label column, last)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    y = 10 + X @ np.array([2.0, -3.0, 0.5]) + 0.05 * rng.normal(size=n)
    with open(path, "w") as f:
        f.write("a,b,c,target\n")
        for row, t in zip(X, y):
            f.write(",".join(f"{v:.5f}" for v in row) + f",{t:.5f}\n")
    return X, y
