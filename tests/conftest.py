"""Shared fixtures and markers.

* ``torch`` fixture: the torch module, or the test is skipped where torch is not installed.
* ``@pytest.mark.requires_torch``: skip the test where torch is not installed (without
  importing torch at collection time).
* ``rng`` fixture: a NumPy Generator seeded from the test's id (reproducible per test).
"""

from __future__ import annotations

import importlib.util
import os
import zlib

import numpy as np
import pytest

HAS_TORCH = importlib.util.find_spec("torch") is not None


def pytest_configure(config):
    config.addinivalue_line("markers", "requires_torch: skip unless torch is importable")
    # CI sets CHAINRULE_REQUIRE_TORCH=1: there the PyTorch comparisons must run, so a torch
    # that fails to install or import is an error rather than thousands of quiet skips
    if os.environ.get("CHAINRULE_REQUIRE_TORCH") == "1":
        import torch  # noqa: F401


def pytest_collection_modifyitems(config, items):
    if HAS_TORCH:
        return
    skip = pytest.mark.skip(reason="torch is not installed")
    for item in items:
        if "requires_torch" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def torch():
    return pytest.importorskip("torch")


@pytest.fixture
def rng(request):
    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
