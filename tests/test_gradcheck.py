"""``gradcheck`` and ``gradgradcheck``: True for correct derivatives, an error naming the
input and element for wrong ones, False with ``raise_exception=False``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, GradcheckError, gradcheck, gradgradcheck


def t64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


class WrongAtOneElement(Function):
    """x * y whose gradient for y is off at element (1, 2) only."""

    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        mask = np.zeros((2, 3))
        mask[1, 2] = 0.5
        return g * y, g * x + cr.tensor(mask)


class FirstOrderOnly(Function):
    """x^3 with a correct gradient whose own derivative is wrong (x detached)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x.detach() ** 2


@pytest.mark.parametrize("fn, shapes", [
    (lambda x: x.exp() * x, [(3,)]),
    (lambda x, y: (x @ y).tanh(), [(2, 3), (3, 4)]),
    (lambda x, y: (x / y, x * y), [(2, 2), (2,)]),  # several outputs, broadcasting
    (lambda x: x.sum(dim=0), [(3, 2)]),
    (lambda x: x.log_softmax(dim=1), [(2, 4)]),
], ids=["exp-mul", "matmul-tanh", "two-outputs", "sum", "log_softmax"])
def test_correct_functions_pass(fn, shapes, rng):
    inputs = tuple(t64(rng.standard_normal(s) + (3 if i else 0)) for i, s in enumerate(shapes))
    assert gradcheck(fn, inputs) is True
    assert gradgradcheck(fn, inputs) is True


def test_constant_inputs_are_not_checked(rng):
    x = t64(rng.standard_normal(3))
    c = t64(rng.standard_normal(3), requires_grad=False)
    assert gradcheck(lambda x, c, k: x * c * k, (x, c, 2.0))


def test_wrong_gradient_names_the_input_and_element(rng):
    x, y = t64(rng.standard_normal((2, 3))), t64(rng.standard_normal((2, 3)))
    with pytest.raises(GradcheckError) as err:
        gradcheck(WrongAtOneElement.apply, (x, y))
    message = str(err.value)
    assert "input 1" in message and "element (1, 2)" in message
    assert gradcheck(WrongAtOneElement.apply, (x, y), raise_exception=False) is False


def test_wrong_second_derivative_fails_gradgradcheck(rng):
    x = t64(rng.standard_normal(3))
    assert gradcheck(FirstOrderOnly.apply, (x,))
    with pytest.raises(GradcheckError, match="input 0"):
        gradgradcheck(FirstOrderOnly.apply, (x,))
    assert gradgradcheck(FirstOrderOnly.apply, (x,), raise_exception=False) is False


def test_non_contiguous_input(rng):
    x = cr.tensor(rng.standard_normal((4, 3))).T.detach().requires_grad_()
    assert not x.data.flags.c_contiguous
    assert gradcheck(lambda x: (x**3).sum(dim=1), (x,))
    with pytest.raises(GradcheckError, match="element \\(2, 3\\)"):  # y[1, 2] is x[2, 3]
        gradcheck(lambda x: WrongAtOneElement.apply(x[:2, :3], x[1:, 1:]), (x,))


def test_inputs_are_restored(rng):
    a = rng.standard_normal(4)
    x = t64(a)
    gradcheck(lambda x: x.sin(), (x,))
    np.testing.assert_array_equal(x.detach().numpy(), a)


def test_no_input_requiring_grad_is_an_error():
    with pytest.raises(ValueError, match="at least one input"):
        gradcheck(lambda x: x * 2, (t64([1.0], requires_grad=False),))


def test_float32_inputs_warn():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.warns(UserWarning, match="float64"):
        assert gradcheck(lambda x: x * 2, (x,), eps=1e-2, atol=1e-2, rtol=1e-2)
