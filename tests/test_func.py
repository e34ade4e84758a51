"""``chainrule.func``: grad, grad_and_value, value_and_grad, vjp, jvp, jacrev, hessian and
their compositions, against closed forms and torch.func."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import func


def t64(values, requires_grad=False):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-9):
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


def cubic(x):
    return (x**3).sum()


# -------------------------------------------------------------------------- grad


def test_grad_of_a_scalar_function(rng):
    a = rng.standard_normal(4)
    g = func.grad(cubic)(t64(a))
    close(g, 3 * a**2)
    assert not g.requires_grad and g.grad_fn is None


def test_grad_argnums(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)

    def f(x, y):
        return (x * x * y).sum()

    close(func.grad(f)(t64(a), t64(b)), 2 * a * b)
    close(func.grad(f, argnums=1)(t64(a), t64(b)), a * a)
    close(func.grad(f, argnums=-1)(t64(a), t64(b)), a * a)
    gx, gy = func.grad(f, argnums=(0, 1))(t64(a), t64(b))
    close(gx, 2 * a * b)
    close(gy, a * a)
    (only,) = func.grad(f, argnums=(1,))(t64(a), t64(b))
    close(only, a * a)


def test_grad_has_aux_and_kwargs(rng):
    a = rng.standard_normal(3)

    def f(x, scale=1.0):
        y = x * scale
        return (y * y).sum(), {"y": y}

    g, aux = func.grad(f, has_aux=True)(t64(a), scale=2.0)
    close(g, 8 * a)
    close(aux["y"], 2 * a)
    assert not aux["y"].requires_grad


def test_value_and_grad_and_grad_and_value(rng):
    a = rng.standard_normal(3)
    value, g = func.value_and_grad(cubic)(t64(a))
    close(value, (a**3).sum())
    close(g, 3 * a**2)
    g2, value2 = func.grad_and_value(cubic)(t64(a))
    close(g2, g)
    close(value2, value)
    g3, (value3, aux) = func.grad_and_value(lambda x: (cubic(x), 7), has_aux=True)(t64(a))
    close(value3, value)
    assert aux == 7


def test_grad_errors():
    with pytest.raises(RuntimeError, match="one-element Tensor"):
        func.grad(lambda x: x * 2)(t64([1.0, 2.0]))
    with pytest.raises(ValueError, match="out of range"):
        func.grad(cubic, argnums=2)(t64([1.0]))
    with pytest.raises(RuntimeError, match="has_aux=True"):
        func.grad(cubic, has_aux=True)(t64([1.0]))
    with pytest.raises(TypeError, match="floating"):
        func.grad(lambda x: x.sum())(cr.tensor([1, 2]))


def test_grad_of_unused_argument_is_zero():
    gx, gy = func.grad(lambda x, y: (x * 2).sum(), argnums=(0, 1))(t64([1.0]), t64([5.0]))
    close(gy, [0.0])


def test_grad_works_under_no_grad():
    with cr.no_grad():
        g = func.grad(cubic)(t64([2.0]))
    close(g, [12.0])
    assert cr.is_grad_enabled()


def test_grad_of_grad(rng):
    a = rng.standard_normal(())
    d2 = func.grad(func.grad(lambda x: x.sin() * x))(t64(a))
    close(d2, 2 * np.cos(a) - a * np.sin(a))
    d3 = func.grad(func.grad(func.grad(lambda x: x**4)))(t64(a))
    close(d3, 24 * a)
    assert not d3.requires_grad


def test_grad_of_a_function_closing_over_a_parameter(rng):
    a, wv = rng.standard_normal(3), rng.standard_normal(3)
    w = t64(wv, requires_grad=True)
    g = func.grad(lambda x: (w * x).sin().sum())(t64(a))
    close(g, wv * np.cos(wv * a))
    assert g.requires_grad  # still joined to w, as in torch.func
    g.sum().backward()
    close(w.grad, np.cos(wv * a) - wv * a * np.sin(wv * a))


def test_grad_of_input_that_requires_grad_stays_joined(rng):
    a = rng.standard_normal(3)
    x = t64(a, requires_grad=True)
    g = func.grad(cubic)(x)
    assert g.requires_grad
    g.sum().backward()
    close(x.grad, 6 * a)


# ---------------------------------------------------------------- vjp, jvp, jacrev


def test_vjp(rng):
    a, v = rng.standard_normal(3), rng.standard_normal(3)
    out, vjp_fn = func.vjp(lambda x: x.sin() * x, t64(a))
    close(out, np.sin(a) * a)
    assert not out.requires_grad
    (g,) = vjp_fn(t64(v))
    close(g, v * (np.cos(a) * a + np.sin(a)))
    (g2,) = vjp_fn(t64(v))  # callable again
    close(g2, g)


def test_vjp_several_primals_and_outputs(rng):
    a, b = rng.standard_normal(2), rng.standard_normal(2)
    (o1, o2), vjp_fn = func.vjp(lambda x, y: (x * y, x + y), t64(a), t64(b))
    gx, gy = vjp_fn((t64([1.0, 1.0]), t64([1.0, 0.0])))
    close(gx, b + [1.0, 0.0])
    close(gy, a + [1.0, 0.0])
    with pytest.raises(RuntimeError, match="shape"):
        vjp_fn((t64([1.0]), t64([1.0, 0.0])))


def test_vjp_has_aux():
    out, vjp_fn, aux = func.vjp(lambda x: (x * 2, "aux"), t64([1.0]), has_aux=True)
    assert aux == "aux"
    close(vjp_fn(t64([1.0]))[0], [2.0])


def test_jvp_matches_jacobian_times_tangent(rng):
    a, t = rng.standard_normal(3), rng.standard_normal(3)

    def f(x):
        return x.exp() * x.sum()

    out, jt = func.jvp(f, (t64(a),), (t64(t),))
    jac = func.jacrev(f)(t64(a))
    close(out, np.exp(a) * a.sum())
    close(jt, jac.numpy() @ t)
    assert not jt.requires_grad


def test_jvp_errors():
    with pytest.raises(ValueError, match="shape"):
        func.jvp(cubic, (t64([1.0, 2.0]),), (t64([1.0]),))


def test_jacrev(rng):
    a = rng.standard_normal(3)
    w = rng.standard_normal((2, 3))
    jac = func.jacrev(lambda x: cr.tensor(w) @ x.tanh())(t64(a))
    close(jac, w * (1 - np.tanh(a) ** 2))
    ja, jb = func.jacrev(lambda x, y: x * y, argnums=(0, 1))(t64(a), t64(2 * a))
    close(ja, np.diag(2 * a))
    close(jb, np.diag(a))
    assert func.jacrev(lambda x: x.sum(dim=1))(t64(np.ones((2, 3)))).shape == (2, 2, 3)


def test_hessian_and_jacrev_of_jacrev_agree(rng):
    a = rng.standard_normal(3)

    def f(x):
        return (x.sin() * x.sum()).sum()

    h = func.hessian(f)(t64(a))
    h2 = func.jacrev(func.jacrev(f))(t64(a))
    close(h, h2)
    close(h, h.numpy().T)  # symmetric
    # closed form: d2/dxi dxj [s sum(sin x)] = cos xi + cos xj - delta_ij s sin xi
    s = a.sum()
    expected = np.cos(a)[:, None] + np.cos(a)[None, :] - np.diag(s * np.sin(a))
    close(h, expected)


def _mlp_loss(theta, X, onehot, lib):
    W1 = theta[0:12].reshape(3, 4)
    b1 = theta[12:16]
    W2 = theta[16:24].reshape(4, 2)
    b2 = theta[24:26]
    h = lib.tanh(X @ W1 + b1)
    logits = h @ W2 + b2
    return -(logits.log_softmax(dim=1) * onehot).sum() / X.shape[0]


def test_hessian_of_mlp_loss_against_finite_differences(rng):
    theta = rng.standard_normal(26) * 0.8
    X = rng.standard_normal((5, 3))
    onehot = np.eye(2)[rng.integers(0, 2, 5)]

    def loss(p):
        return _mlp_loss(p, cr.tensor(X), cr.tensor(onehot), cr)

    H = func.hessian(loss)(t64(theta)).numpy()
    eps, numeric = 1e-5, np.zeros((26, 26))
    for i in range(26):
        step = np.zeros(26)
        step[i] = eps
        plus, minus = func.grad(loss)(t64(theta + step)), func.grad(loss)(t64(theta - step))
        numeric[:, i] = (plus.numpy() - minus.numpy()) / (2 * eps)
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-7)
    assert np.abs(H).max() > 1e-2


def test_hessian_of_mlp_loss_against_torch_func(torch, rng):
    theta = rng.standard_normal(26) * 0.8
    X = rng.standard_normal((5, 3))
    onehot = np.eye(2)[rng.integers(0, 2, 5)]
    H = func.hessian(lambda p: _mlp_loss(p, cr.tensor(X), cr.tensor(onehot), cr))(t64(theta))
    Xt, Ot = torch.tensor(X), torch.tensor(onehot)
    Ht = torch.func.hessian(lambda p: _mlp_loss(p, Xt, Ot, torch))(torch.tensor(theta))
    assert H.shape == (26, 26)
    close(H, Ht.numpy())
    g = func.grad(lambda p: _mlp_loss(p, cr.tensor(X), cr.tensor(onehot), cr))(t64(theta))
    gt = torch.func.grad(lambda p: _mlp_loss(p, Xt, Ot, torch))(torch.tensor(theta))
    close(g, gt.numpy())
