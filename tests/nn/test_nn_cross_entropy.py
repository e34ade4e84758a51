"""The fused cross-entropy primitive (ops/loss.py): against its unfused composition
(log_softmax + weighted pick + smoothing term), against torch, its two gradient paths
against each other, second order, dtype, stability and errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.ops import loss as loss_ops
from chainrule.ops.namespace import array_namespace

F = cr.nn.functional

OPTIONS = [
    dict(),
    dict(weight=True),
    dict(ignore_index=1),
    dict(label_smoothing=0.3),
    dict(weight=True, ignore_index=2, label_smoothing=0.15),
]
CASES = [pytest.param(o, r, id=f"{'-'.join(f'{k}={v}' for k, v in o.items()) or 'plain'}-{r}")
         for o, r in itertools.product(OPTIONS, ("mean", "sum", "none"))]


def composed(x, t, weight=None, ignore_index=-100, label_smoothing=0.0, reduction="mean"):
    """torch's definition spelled out with unfused chainrule ops (log_softmax, gather)."""
    n, c = x.shape
    logp = x.log_softmax(1)
    valid = (t != ignore_index).to(x.dtype)
    safe = cr.where(t != ignore_index, t, cr.zeros_like(t))
    w = weight if weight is not None else cr.ones(c, dtype=x.dtype)
    wt = w[safe] * valid
    nll = -logp.gather(1, safe.reshape(n, 1)).reshape(n) * wt
    smooth = -(logp * w).sum(1) * valid
    per_row = (1 - label_smoothing) * nll + label_smoothing / c * smooth
    if reduction == "none":
        return per_row
    if reduction == "sum":
        return per_row.sum()
    return per_row.sum() / wt.sum()


def draw(seed, n=6, c=4, dtype=np.float64):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, c)).astype(dtype) * 2
    t = rng.integers(0, c, n)
    t[0] = 1  # every option above has at least one ignored or weighted row
    w = (rng.random(c) + 0.5).astype(dtype)
    return x, t, w


def kwargs_for(options, w, lib):
    kw = dict(options)
    if kw.pop("weight", False):
        kw["weight"] = lib.tensor(w)
    return kw


@pytest.mark.parametrize("options,reduction", CASES)
def test_fused_matches_composition(options, reduction):
    x, t, w = draw(0)
    kw = kwargs_for(options, w, cr)
    a = cr.tensor(x, requires_grad=True)
    b = cr.tensor(x, requires_grad=True)
    fused = F.cross_entropy(a, cr.tensor(t), reduction=reduction, **kw)
    ref = composed(b, cr.tensor(t), reduction=reduction, **kw)
    np.testing.assert_allclose(fused.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                               atol=1e-14)
    g = np.random.default_rng(1).standard_normal(tuple(ref.shape))
    fused.backward(cr.tensor(g))
    ref.backward(cr.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("options,reduction", CASES)
def test_first_and_second_order_gradchecks(options, reduction):
    x, t, w = draw(2, n=4, c=3)
    kw = kwargs_for(options, w, cr)
    if kw.get("ignore_index") == 2:
        kw["ignore_index"] = 0
    xt, tt = cr.tensor(x, requires_grad=True), cr.tensor(t)

    def fn(z):
        return F.cross_entropy(z, tt, reduction=reduction, **kw)

    assert gradcheck(fn, (xt,))
    assert gradgradcheck(fn, (xt,))


@pytest.mark.parametrize("options,reduction", CASES)
def test_gradient_paths_agree(options, reduction):
    """The plain backward's in-place path (from the forward's exponentials) and the path on
    the inputs (retained graphs, create_graph) give the same gradient."""
    x, t, w = draw(3)
    kw = kwargs_for(options, w, cr)
    wt = kw.pop("weight", None)
    saved = loss_ops.CrossEntropySaved()
    params = dict(reduction=reduction, ignore_index=kw.get("ignore_index", -100),
                  label_smoothing=kw.get("label_smoothing", 0.0), saved=saved)
    arrays = (x, t) if wt is None else (x, t, wt.data)
    out = loss_ops.cross_entropy.forward(np, *arrays, **params)
    g = np.random.default_rng(4).standard_normal(np.shape(out))
    ns = array_namespace(np)
    c = g if reduction != "mean" else g / saved.denom
    on_inputs = loss_ops._grad_on_inputs(ns, c, x, t, None if wt is None else wt.data,
                                         params["ignore_index"], params["label_smoothing"], saved)
    from_saved = loss_ops._grad_from_saved(np, c, params["label_smoothing"], saved)
    np.testing.assert_allclose(from_saved, on_inputs, rtol=1e-12, atol=1e-14)
    assert saved.exp is None  # consumed: a second backward recomputes from the inputs


def test_retained_graph_backward_twice_gives_the_same_gradient():
    x, t, _ = draw(5)
    a = cr.tensor(x, requires_grad=True)
    loss = F.cross_entropy(a, cr.tensor(t), label_smoothing=0.1)
    loss.backward(retain_graph=True)
    first = a.grad.numpy().copy()
    loss.backward()
    np.testing.assert_allclose(a.grad.numpy(), 2 * first, rtol=1e-12)


def test_gradient_is_softmax_minus_one_hot():
    x, t, _ = draw(6)
    a = cr.tensor(x, requires_grad=True)
    F.cross_entropy(a, cr.tensor(t), reduction="sum").backward()
    p = np.exp(x - x.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    np.testing.assert_allclose(a.grad.numpy(), p - np.eye(4)[t], rtol=1e-12, atol=1e-15)


def test_float32_stays_float32_and_huge_logits_are_finite():
    x = cr.tensor([[1e4, 0.0, -1e4], [-1e38, 1e38, 0.0]], dtype=cr.float32, requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor([0, 1]))
    assert loss.dtype == cr.float32
    loss.backward()
    assert x.grad.dtype == cr.float32
    assert np.isfinite(loss.item()) and loss.item() == 0.0
    assert np.isfinite(x.grad.numpy()).all()
    wrong = F.cross_entropy(cr.tensor([[1e4, 0.0]]), cr.tensor([1]))
    assert wrong.item() == pytest.approx(1e4)


def test_layouts_unbatched_and_k_dimensional():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 3, 4, 5))
    t = rng.integers(0, 3, (2, 4, 5))
    xt = cr.tensor(x, requires_grad=True)
    out = F.cross_entropy(xt, cr.tensor(t), reduction="none")
    assert tuple(out.shape) == (2, 4, 5)
    logp = x - np.log(np.exp(x).sum(1, keepdims=True))
    ref = -np.take_along_axis(logp, t[:, None], 1)[:, 0]
    np.testing.assert_allclose(out.detach().numpy(), ref, rtol=1e-12)
    single = F.cross_entropy(cr.tensor(x[0, :, 0, 0]), cr.tensor(t[0, 0, 0]), reduction="none")
    assert single.shape == () and single.item() == pytest.approx(ref[0, 0, 0])


def test_all_targets_ignored_gives_nan_loss_and_zero_gradient():
    x = cr.randn(3, 4, requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor([-100, -100, -100]))
    assert np.isnan(loss.item())
    loss.backward()
    assert (x.grad.numpy() == 0).all()


def test_probability_targets_equal_index_targets_for_one_hot_rows():
    x, t, w = draw(8)
    onehot = np.eye(4)[t]
    a = F.cross_entropy(cr.tensor(x), cr.tensor(t), weight=cr.tensor(w), reduction="sum")
    b = F.cross_entropy(cr.tensor(x), cr.tensor(onehot), weight=cr.tensor(w), reduction="sum")
    assert a.item() == pytest.approx(b.item(), rel=1e-12)


def test_errors():
    x = cr.randn(3, 4)
    with pytest.raises(IndexError, match="Target 4 is out of bounds"):
        F.cross_entropy(x, cr.tensor([0, 4, 1]))
    with pytest.raises(IndexError, match="Target -2 is out of bounds"):
        F.cross_entropy(x, cr.tensor([0, -2, 1]))
    with pytest.raises(ValueError, match=r"Expected input batch_size \(3\) to match target "
                                         r"batch_size \(2\)"):
        F.cross_entropy(x, cr.tensor([0, 1]))
    with pytest.raises(RuntimeError, match="label_smoothing must be between 0.0 and 1.0"):
        F.cross_entropy(x, cr.tensor([0, 1, 2]), label_smoothing=1.5)
    with pytest.raises(RuntimeError, match="weight tensor should be defined"):
        F.cross_entropy(x, cr.tensor([0, 1, 2]), weight=cr.ones(3))
    with pytest.raises(RuntimeError, match="size mismatch"):
        F.cross_entropy(cr.randn(2, 3, 4), cr.tensor([[0, 1, 2]]))


@pytest.mark.requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("options,reduction", CASES)
def test_against_torch(options, reduction, dtype, torch):
    x, t, w = draw(9, dtype=dtype)
    a = cr.tensor(x, requires_grad=True)
    b = torch.tensor(x, requires_grad=True)
    out = F.cross_entropy(a, cr.tensor(t), reduction=reduction, **kwargs_for(options, w, cr))
    ref = torch.nn.functional.cross_entropy(b, torch.tensor(t), reduction=reduction,
                                            **kwargs_for(options, w, torch))
    assert out.dtype.np == dtype
    tol = 2e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(10).standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)


@pytest.mark.requires_torch
def test_module_against_torch(torch):
    x, t, w = draw(11, dtype=np.float32)
    ours = cr.nn.CrossEntropyLoss(weight=cr.tensor(w), label_smoothing=0.1)
    theirs = torch.nn.CrossEntropyLoss(weight=torch.tensor(w), label_smoothing=0.1)
    assert "weight" in ours.state_dict()
    np.testing.assert_allclose(ours(cr.tensor(x), cr.tensor(t)).item(),
                               theirs(torch.tensor(x), torch.tensor(t)).item(), rtol=1e-6)
