"""A small trained run shared by the command-line tests that only read it."""

from __future__ import annotations

import pytest
from cli_helpers import run_cli


@pytest.fixture(scope="session")
def digits_run(tmp_path_factory):
    """A 2-epoch digits run, trained once by the command line (copy it before changing
    anything in it): ``(folder, completed process)``."""
    folder = tmp_path_factory.mktemp("runs") / "digits2"
    proc = run_cli("train", "--epochs", "2", "--out", folder, check=True)
    return folder, proc
