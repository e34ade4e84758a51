"""``chainrule.autograd.grad`` and higher-order differentiation: its arguments and errors,
``create_graph``, Hessian-vector products of an MLP loss (against torch and against
finite differences of the gradient) and third derivatives."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import grad


def t64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-9):
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


# ------------------------------------------------------------------------ arguments


def test_grad_returns_a_tuple_and_leaves_dot_grad_alone(rng):
    a = rng.standard_normal(4)
    x = t64(a)
    out = grad((x.sin() * x).sum(), x)
    assert isinstance(out, tuple) and len(out) == 1
    close(out[0], np.cos(a) * a + np.sin(a))
    assert x.grad is None
    assert not out[0].requires_grad


def test_grad_outputs_for_non_scalar_outputs(rng):
    x = t64(rng.standard_normal(3))
    v = rng.standard_normal(3)
    (g,) = grad(x * x, x, grad_outputs=cr.tensor(v))
    close(g, 2 * x.detach().numpy() * v)
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        grad(x * x, x)
    with pytest.raises(RuntimeError, match="mismatch in shape"):
        grad(x * x, x, grad_outputs=cr.ones(4, dtype=cr.float64))


def test_grad_of_several_outputs_sums_them():
    x = t64([1.0, 2.0])
    (g,) = grad([(x * 2).sum(), (x * x).sum()], [x])
    close(g, [2 + 2, 2 + 4])


def test_allow_unused():
    x, y = t64([1.0]), t64([2.0])
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        grad((x * 2).sum(), [x, y])
    gx, gy = grad((x * 2).sum(), [x, y], allow_unused=True)
    close(gx, [2.0])
    assert gy is None
    gx, gy = grad((x * 2).sum(), [x, y], materialize_grads=True)
    close(gy, [0.0])


def test_grad_argument_errors():
    x = t64([1.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad((x * 2).sum(), cr.ones(1))
    with pytest.raises(RuntimeError, match="does not require grad"):
        grad(cr.ones(1).sum(), x)
    with pytest.raises(TypeError, match="not a Tensor"):
        grad((x * 2).sum(), [3.0])


def test_retain_graph_default_frees_the_graph():
    x = t64([1.0, 2.0])
    y = (x.exp() * x).sum()
    grad(y, x)
    with pytest.raises(RuntimeError, match="second time"):
        grad(y, x)
    y = (x.exp() * x).sum()
    (g1,) = grad(y, x, retain_graph=True)
    (g2,) = grad(y, x)
    close(g1, g2)


# ---------------------------------------------------------------- create_graph


def test_create_graph_makes_the_gradient_differentiable(rng):
    a = rng.standard_normal(3)
    x = t64(a)
    (g,) = grad((x**3).sum(), x, create_graph=True)
    assert g.requires_grad and g.grad_fn is not None
    (h,) = grad(g.sum(), x)
    close(h, 6 * a)


def test_backward_create_graph_then_differentiate_dot_grad(rng):
    a = rng.standard_normal(3)
    x = t64(a)
    (x.exp() * x).sum().backward(create_graph=True)
    assert x.grad.requires_grad
    first = x.grad
    (h,) = grad(first.sum(), x)
    close(h, np.exp(a) * (a + 2))


def test_third_derivatives_of_a_scalar_function(torch):
    # f(x) = x^2 sin(x) exp(x/2); derivatives checked against torch and at one point by hand
    def f(lib, x):
        return x * x * lib.sin(x) * lib.exp(x / 2)

    a = 0.7
    x = t64(a)
    g1 = grad(f(cr, x), x, create_graph=True)[0]
    g2 = grad(g1, x, create_graph=True)[0]
    g3 = grad(g2, x)[0]
    xt = torch.tensor(a, dtype=torch.float64, requires_grad=True)
    h1 = torch.autograd.grad(f(torch, xt), xt, create_graph=True)[0]
    h2 = torch.autograd.grad(h1, xt, create_graph=True)[0]
    h3 = torch.autograd.grad(h2, xt)[0]
    close(g1, h1)
    close(g2, h2)
    close(g3, h3)


def test_third_derivative_by_hand():
    # d^3/dx^3 of x^4 + exp(2x) = 24 x + 8 exp(2x)
    for a in (-0.5, 0.3, 1.2):
        x = t64(a)
        y = x**4 + (2 * x).exp()
        g = grad(y, x, create_graph=True)[0]
        g = grad(g, x, create_graph=True)[0]
        g = grad(g, x)[0]
        close(g, 24 * a + 8 * np.exp(2 * a))


def test_grad_outputs_that_require_grad_are_differentiated():
    # d/dv of (J^T v) is J^T: grad of a VJP with respect to its cotangent
    x = t64([1.0, 2.0])
    v = t64([3.0, 4.0])
    (g,) = grad(x * x, x, grad_outputs=v, create_graph=True)
    (gv,) = grad(g.sum(), v)
    close(gv, [2.0, 4.0])


# --------------------------------------------------------- Hessian-vector products


def _mlp_params(rng, sizes=(4, 5, 6, 3)):
    shapes = []
    for i, o in zip(sizes[:-1], sizes[1:]):
        shapes += [(i, o), (o,)]
    return [rng.standard_normal(s) * 0.7 for s in shapes]


def _mlp_loss(lib, params, X, onehot):
    """tanh, relu, then softmax cross-entropy written out from ops."""
    W1, b1, W2, b2, W3, b3 = params
    h = lib.tanh(X @ W1 + b1)
    h = lib.relu(h @ W2 + b2)
    logits = h @ W3 + b3
    shifted = logits - logits.max(dim=1, keepdim=True)[0].detach()
    log_probs = shifted - shifted.exp().sum(dim=1, keepdim=True).log()
    return -(log_probs * onehot).sum() / X.shape[0]


def _data(rng, n=7, d=4, k=3):
    X = rng.standard_normal((n, d))
    onehot = np.eye(k)[rng.integers(0, k, n)]
    return X, onehot


def _hvp_cr(values, vs, X, onehot):
    params = [t64(p) for p in values]
    loss = _mlp_loss(cr, params, cr.tensor(X), cr.tensor(onehot))
    grads = grad(loss, params, create_graph=True)
    dot = sum((g * cr.tensor(v)).sum() for g, v in zip(grads, vs))
    return [g.detach().numpy() for g in grads], [h.numpy() for h in grad(dot, params)]


def test_mlp_hvp_against_torch(torch, rng):
    values = _mlp_params(rng)
    vs = [rng.standard_normal(p.shape) for p in values]
    X, onehot = _data(rng)
    grads, hv = _hvp_cr(values, vs, X, onehot)
    tparams = [torch.tensor(p, requires_grad=True) for p in values]
    loss = _mlp_loss(torch, tparams, torch.tensor(X), torch.tensor(onehot))
    tgrads = torch.autograd.grad(loss, tparams, create_graph=True)
    dot = sum((g * torch.tensor(v)).sum() for g, v in zip(tgrads, vs))
    thv = torch.autograd.grad(dot, tparams)
    for a, b in zip(grads, tgrads):
        close(a, b)
    for a, b in zip(hv, thv):
        close(a, b)


def test_mlp_hvp_against_finite_differences_of_the_gradient(rng):
    values = _mlp_params(rng)
    vs = [rng.standard_normal(p.shape) for p in values]
    X, onehot = _data(rng)
    _, hv = _hvp_cr(values, vs, X, onehot)

    def gradient(ps):
        params = [t64(p) for p in ps]
        loss = _mlp_loss(cr, params, cr.tensor(X), cr.tensor(onehot))
        return [g.numpy() for g in grad(loss, params)]

    eps = 1e-5
    plus = gradient([p + eps * v for p, v in zip(values, vs)])
    minus = gradient([p - eps * v for p, v in zip(values, vs)])
    for h, gp, gm in zip(hv, plus, minus):
        np.testing.assert_allclose(h, (gp - gm) / (2 * eps), rtol=1e-5, atol=1e-6)
    assert any(np.abs(h).max() > 1e-3 for h in hv)  # a non-trivial Hessian


def test_hvp_with_backward_create_graph_matches_autograd_grad(rng):
    values = _mlp_params(rng)
    vs = [rng.standard_normal(p.shape) for p in values]
    X, onehot = _data(rng)
    _, hv = _hvp_cr(values, vs, X, onehot)
    params = [t64(p) for p in values]
    _mlp_loss(cr, params, cr.tensor(X), cr.tensor(onehot)).backward(create_graph=True)
    dot = sum((p.grad * cr.tensor(v)).sum() for p, v in zip(params, vs))
    hv2 = grad(dot, params)
    for a, b in zip(hv, hv2):
        close(a, b)
