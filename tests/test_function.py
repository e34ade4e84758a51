"""User-defined differentiable ops: ``chainrule.autograd.Function``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, grad, gradcheck, gradgradcheck


def t64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-9):
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    np.testing.assert_allclose(a, np.asarray(b), rtol=tol, atol=tol)


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 3 * x**2


class Exp(Function):
    """Saves its output, as torch's exp does."""

    @staticmethod
    def forward(ctx, x):
        y = x.exp()
        ctx.save_for_backward(y)
        return y

    @staticmethod
    def backward(ctx, g):
        (y,) = ctx.saved_tensors
        return g * y


class ScaledMul(Function):
    """x * y * k with a non-tensor argument k; records what backward was asked for."""

    @staticmethod
    def forward(ctx, x, k, y):
        ctx.save_for_backward(x, y)
        ctx.k = k
        ctx.asked = ctx.needs_input_grad
        return x * y * k

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        gx = g * y * ctx.k if ctx.needs_input_grad[0] else None
        gy = g * x * ctx.k if ctx.needs_input_grad[2] else None
        return gx, None, gy


def test_forward_backward_and_saved_tensors(rng):
    a = rng.standard_normal(4)
    x = t64(a)
    y = Cube.apply(x)
    assert y.requires_grad and y.grad_fn.name() == "CubeBackward"
    close(y, a**3)
    y.sum().backward()
    close(x.grad, 3 * a**2)


def test_non_tensor_arguments_and_needs_input_grad(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    x, y = t64(a), t64(b, requires_grad=False)
    out = ScaledMul.apply(x, 2.5, y)
    assert out.grad_fn.params["ctx"].asked == (True, False, False)
    out.sum().backward()
    close(x.grad, 2.5 * b)
    assert y.grad is None
    x2, y2 = t64(a), t64(b)
    out2 = ScaledMul.apply(x2, 2.0, y2)
    assert out2.grad_fn.params["ctx"].asked == (True, False, True)
    out2.sum().backward()
    close(y2.grad, 2.0 * a)


def test_gradcheck_and_gradgradcheck_of_custom_functions(rng):
    x = t64(rng.standard_normal((2, 3)))
    y = t64(rng.standard_normal((2, 3)))
    assert gradcheck(Cube.apply, (x,))
    assert gradgradcheck(Cube.apply, (x,))
    assert gradcheck(Exp.apply, (x,))
    assert gradgradcheck(Exp.apply, (x,))
    assert gradcheck(lambda x, y: ScaledMul.apply(x, 1.5, y), (x, y))
    assert gradgradcheck(lambda x, y: ScaledMul.apply(x, 1.5, y), (x, y))


def test_custom_function_under_create_graph(rng):
    a = rng.standard_normal(3)
    x = t64(a)
    (g,) = grad(Cube.apply(x).sum(), x, create_graph=True)
    assert g.requires_grad
    close(g, 3 * a**2)
    (h,) = grad(g.sum(), x)
    close(h, 6 * a)


def test_saved_output_is_joined_to_the_graph_under_create_graph(rng):
    # without it the second derivative of exp would miss the dependence through the output
    a = rng.standard_normal(3)
    x = t64(a)
    (g,) = grad(Exp.apply(x).sum(), x, create_graph=True)
    (h,) = grad(g.sum(), x)
    close(h, np.exp(a))


def test_function_composes_with_ops_and_broadcasting(rng):
    a, b = rng.standard_normal((4, 3)), rng.standard_normal(3)
    x, bias = t64(a), t64(b)
    out = (Cube.apply(x + bias) * x).sum()
    out.backward()
    s = a + b
    close(x.grad, 3 * s**2 * a + s**3)
    close(bias.grad, (3 * s**2 * a).sum(0))


def test_setup_context_style():
    class Square(Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * g * x

    x = t64([1.0, -3.0])
    Square.apply(x).sum().backward()
    close(x.grad, [2.0, -6.0])


def test_under_no_grad_nothing_is_recorded():
    x = t64([1.0])
    with cr.no_grad():
        y = Cube.apply(x)
    assert not y.requires_grad and y.grad_fn is None


def test_mark_non_differentiable():
    class ArgMax(Function):
        @staticmethod
        def forward(ctx, x):
            out = cr.tensor(float(x.argmax()), dtype=cr.float64)
            ctx.mark_non_differentiable(out)
            return out

        @staticmethod
        def backward(ctx, g):
            return None

    y = ArgMax.apply(t64([1.0, 5.0, 2.0]))
    assert not y.requires_grad
    assert float(y) == 1.0


def test_wrong_number_of_gradients_is_an_error():
    class TwoInputs(Function):
        @staticmethod
        def forward(ctx, x, y):
            return x * y

        @staticmethod
        def backward(ctx, g):
            return g

    x, y = t64([1.0]), t64([2.0])
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        TwoInputs.apply(x, y).sum().backward()


def test_gradient_of_wrong_shape_is_an_error():
    class BadShape(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return cr.ones(5, dtype=cr.float64)

    with pytest.raises(RuntimeError, match="invalid gradient at index 0"):
        BadShape.apply(t64([1.0, 2.0])).sum().backward()


def test_non_tensor_gradient_is_an_error():
    class Num(Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return 2.0

    with pytest.raises(TypeError, match="expected a Tensor or None"):
        Num.apply(t64([1.0])).sum().backward()


def test_forward_must_return_a_tensor():
    class NoTensor(Function):
        @staticmethod
        def forward(ctx, x):
            return 3.0

    with pytest.raises(TypeError, match="must return a Tensor or a tuple"):
        NoTensor.apply(t64([1.0]))


def test_modifying_a_saved_input_in_place_is_an_error():
    x = t64([1.0, 2.0])
    h = x * 1.0
    y = Cube.apply(h)
    h.add_(1)  # h was saved by Cube.forward
    with pytest.raises(RuntimeError, match="Cube"):
        y.sum().backward()


def test_second_backward_after_free_and_retain():
    x = t64([1.0, 2.0])
    y = Cube.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    close(x.grad, [6.0, 24.0])
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()


def test_gradient_returned_from_saved_tensor_is_not_aliased():
    class PassSaved(Function):
        @staticmethod
        def forward(ctx, x, w):
            ctx.save_for_backward(w)
            return x * w

        @staticmethod
        def backward(ctx, g):
            (w,) = ctx.saved_tensors
            return w, None  # (only right for g == 1) returns the saved tensor itself

    x = t64([1.0, 2.0])
    w = cr.tensor([3.0, 4.0], dtype=cr.float64)
    PassSaved.apply(x, w).sum().backward()
    x.grad.add_(100)
    close(w, [3.0, 4.0])


def test_returning_an_input_unchanged():
    class Ident(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = t64([1.0, 2.0])
    y = Ident.apply(x)
    assert y is not x and y.grad_fn is not None and x.grad_fn is None
    y.sum().backward()
    close(x.grad, [2.0, 2.0])
