"""Anomaly mode: the first NaN/Inf in forward or backward raises an error naming the op and
the line of this file where that op was called."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import detect_anomaly, is_anomaly_enabled, set_detect_anomaly


@pytest.fixture(autouse=True)
def _anomaly_off():
    yield
    set_detect_anomaly(False)


def next_line():
    """The line number after the caller's line."""
    return sys._getframe(1).f_lineno + 1


def where(line):
    return f"test_anomaly.py:{line}"


def test_nan_in_forward_names_op_and_line():
    x = cr.tensor([1.0, -1.0], requires_grad=True)
    with detect_anomaly():
        y = x * 2
        with pytest.raises(RuntimeError, match="log") as err, np.errstate(invalid="ignore"):
            line = next_line()
            cr.log(y)
    assert where(line) in str(err.value)
    assert "forward" in str(err.value)


def test_inf_in_backward_names_op_and_its_forward_line():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with detect_anomaly():
        line = next_line()
        y = x.sqrt()  # finite forward; its derivative 1/(2 sqrt(0)) is inf
        z = (y * 3).sum()
        with pytest.raises(RuntimeError, match="sqrt") as err, np.errstate(divide="ignore"):
            z.backward()
    message = str(err.value)
    assert where(line) in message
    assert "backward" in message and "multiply" not in message  # the first bad op only


def test_without_anomaly_mode_nothing_is_raised():
    x = cr.tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    assert np.isinf(x.grad.numpy()[0])


def test_decorator_form():
    @detect_anomaly()
    def f(x):
        return cr.log(x)

    with pytest.raises(RuntimeError, match="log"), np.errstate(invalid="ignore"):
        f(cr.tensor([-1.0]))
    assert not is_anomaly_enabled()


def test_set_detect_anomaly_as_a_call_and_a_context_manager():
    x = cr.tensor([-1.0])
    set_detect_anomaly(True)
    assert is_anomaly_enabled()
    with pytest.raises(RuntimeError, match="sqrt") as err, np.errstate(invalid="ignore"):
        line = next_line()
        x.sqrt()
    assert where(line) in str(err.value)
    set_detect_anomaly(False)
    assert not is_anomaly_enabled()
    with np.errstate(invalid="ignore"):
        assert np.isnan(x.sqrt().numpy()[0])
    with set_detect_anomaly(True):
        assert is_anomaly_enabled()
    assert not is_anomaly_enabled()


def test_anomaly_also_checks_ops_without_grad():
    with detect_anomaly(), cr.no_grad():
        with pytest.raises(RuntimeError, match="log") as err, np.errstate(divide="ignore"):
            line = next_line()
            cr.log(cr.tensor([0.0]))
    assert where(line) in str(err.value)


def test_finite_computation_passes_in_anomaly_mode():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with detect_anomaly():
        (x.exp() * x).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.exp([1.0, 2.0]) * [2.0, 3.0], rtol=1e-6)
