"""Grad mode: ``no_grad``, ``enable_grad``, ``set_grad_enabled``, ``inference_mode`` as
context managers, decorators (with and without parentheses) and plain calls."""

from __future__ import annotations

import pytest

import chainrule as cr
from chainrule.autograd import is_inference_mode_enabled


@pytest.fixture(autouse=True)
def _grad_mode_restored():
    yield
    cr.set_grad_enabled(True)  # a failing test must not leak its mode into the next one


def leaf():
    return cr.tensor([1.0, 2.0], requires_grad=True)


def recorded(t):
    return t.requires_grad and t.grad_fn is not None


def test_no_grad_context():
    x = leaf()
    with cr.no_grad():
        y = x * 2
        assert not cr.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None
    assert cr.is_grad_enabled()
    assert recorded(x * 2)


def test_enable_grad_inside_no_grad():
    x = leaf()
    with cr.no_grad():
        with cr.enable_grad():
            y = x * 2
        z = x * 2
    assert recorded(y) and not z.requires_grad


def test_modes_restore_after_an_exception():
    with pytest.raises(ValueError):
        with cr.no_grad():
            raise ValueError
    assert cr.is_grad_enabled()
    with pytest.raises(ValueError):
        with cr.set_grad_enabled(False):
            raise ValueError
    assert cr.is_grad_enabled()


@pytest.mark.parametrize("make", [lambda: cr.no_grad(), lambda: cr.no_grad,
                                  lambda: cr.inference_mode(), lambda: cr.inference_mode,
                                  lambda: cr.set_grad_enabled(False)],
                         ids=["no_grad()", "no_grad", "inference_mode()", "inference_mode",
                              "set_grad_enabled(False)"])
def test_decorators_turn_recording_off_inside_only(make):
    decorator = make()  # (set_grad_enabled(False) sets the mode at once, as in torch)

    @decorator
    def f(x):
        return x * 2, cr.is_grad_enabled()

    assert cr.is_grad_enabled()  # decorating leaves the mode as it was before
    y, inside = f(leaf())
    assert not inside and not y.requires_grad
    assert cr.is_grad_enabled()
    assert f.__name__ == "f"


def test_enable_grad_decorator_inside_no_grad():
    @cr.enable_grad
    def f(x):
        return x * 2

    @cr.enable_grad()
    def g(x):
        return x * 2

    with cr.no_grad():
        assert recorded(f(leaf())) and recorded(g(leaf()))
        assert not cr.is_grad_enabled()


def test_set_grad_enabled_as_a_plain_call():
    x = leaf()
    cr.set_grad_enabled(False)
    assert not cr.is_grad_enabled()
    y = x * 2
    assert not y.requires_grad
    cr.set_grad_enabled(True)
    assert recorded(x * 2)


def test_set_grad_enabled_as_a_context_manager():
    x = leaf()
    with cr.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert cr.is_grad_enabled()
    with cr.no_grad():
        with cr.set_grad_enabled(True):
            assert recorded(x * 2)
        assert not cr.is_grad_enabled()


def test_set_grad_enabled_rejects_non_bool():
    with pytest.raises(TypeError):
        cr.set_grad_enabled("no")


def test_inference_mode():
    x = leaf()
    with cr.inference_mode():
        assert is_inference_mode_enabled()
        assert not (x * 2).requires_grad
    assert not is_inference_mode_enabled()
    with cr.inference_mode(False):
        assert recorded(x * 2)
    with cr.no_grad():
        with cr.inference_mode(False):  # leaves the current mode alone
            assert not cr.is_grad_enabled()


def test_decorated_generator_runs_in_the_mode():
    x = leaf()

    @cr.no_grad()
    def gen():
        for _ in range(2):
            yield (x * 2).requires_grad, cr.is_grad_enabled()

    it = gen()
    assert next(it) == (False, False)
    assert cr.is_grad_enabled()  # between yields the caller's mode holds
    assert next(it) == (False, False)
    with pytest.raises(StopIteration):
        next(it)


def test_decorated_function_is_reentrant():
    @cr.no_grad()
    def f(n):
        if n:
            return f(n - 1)
        return cr.is_grad_enabled()

    assert f(3) is False
    assert cr.is_grad_enabled()


def test_parameter_update_under_no_grad():
    w = leaf()
    (w * w).sum().backward()
    with cr.no_grad():
        w.sub_(0.5 * w.grad)
    assert w.is_leaf and w.requires_grad
    assert w.tolist() == [0.0, 0.0]
