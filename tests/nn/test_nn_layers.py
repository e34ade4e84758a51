"""Layers: Linear, Embedding, LayerNorm, BatchNorm, Dropout, Flatten/Unflatten, Identity and
activation modules -- their math by hand, their train/eval behaviour, and (where torch is
installed) the same weights in giving the same outputs and gradients out."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.autograd import gradcheck, gradgradcheck
from chainrule.ops import layers as layer_ops


def copy_params(ours, theirs, torch):
    """Give the torch module our parameters and buffers (same weights in)."""
    with torch.no_grad():
        for name, t in theirs.state_dict().items():
            t.copy_(torch.tensor(ours.state_dict()[name].numpy()))


def compare(ours, theirs, x, torch, tol, targets=()):
    """Same input -> same output, same input gradient and same parameter gradients."""
    a = cr.tensor(x, requires_grad=x.dtype.kind == "f")
    b = torch.tensor(x, requires_grad=x.dtype.kind == "f")
    out, ref = ours(a), theirs(b)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(0).standard_normal(tuple(ref.shape)).astype(out.dtype.np)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    if a.requires_grad:
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=tol, atol=tol)
    theirs_params = dict(theirs.named_parameters())
    for name, p in ours.named_parameters():
        if p.requires_grad:
            np.testing.assert_allclose(p.grad.numpy(), theirs_params[name].grad.numpy(),
                                       rtol=tol, atol=tol, err_msg=name)


# ----------------------------------------------------------------------- Linear


def test_linear_default_init_bounds_and_shapes():
    cr.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert w.shape == (300, 400) and b.shape == (300,) and w.dtype == np.float32
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert np.abs(b).max() <= bound
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound  # U(-a, a) has std a/sqrt(3)
    assert nn.Linear(3, 2, bias=False).bias is None
    assert nn.Linear(3, 2, dtype=cr.float64).weight.dtype == cr.float64


def test_linear_init_is_reproducible_from_the_seed():
    cr.manual_seed(7)
    a = nn.Linear(5, 4).weight.detach().numpy()
    cr.manual_seed(7)
    b = nn.Linear(5, 4).weight.detach().numpy()
    np.testing.assert_array_equal(a, b)


def test_linear_math_and_batch_shapes():
    lin = nn.Linear(3, 2)
    x = np.random.default_rng(0).standard_normal((2, 5, 3)).astype(np.float32)
    out = lin(cr.tensor(x))
    w, b = lin.weight.detach().numpy(), lin.bias.detach().numpy()
    assert tuple(out.shape) == (2, 5, 2)
    np.testing.assert_allclose(out.detach().numpy(), x @ w.T + b, rtol=1e-5, atol=1e-6)
    assert tuple(lin(cr.zeros(3)).shape) == (2,)


def test_linear_primitive_matches_its_composition():
    rng = np.random.default_rng(1)
    x, w, b = (rng.standard_normal(s) for s in ((4, 3), (2, 3), (2,)))
    xs = [cr.tensor(v, requires_grad=True) for v in (x, w, b)]
    ys = [cr.tensor(v, requires_grad=True) for v in (x, w, b)]
    fused = nn.functional.linear(*xs)
    composed = ys[0] @ ys[1].t() + ys[2]
    np.testing.assert_allclose(fused.detach().numpy(), composed.detach().numpy(), rtol=1e-14)
    g = cr.tensor(rng.standard_normal((4, 2)))
    fused.backward(g)
    composed.backward(g)
    for a, c in zip(xs, ys):
        np.testing.assert_allclose(a.grad.numpy(), c.grad.numpy(), rtol=1e-13)


def test_linear_skips_gradients_nobody_needs():
    x = cr.randn(4, 3)  # data: no gradient wanted
    lin = nn.Linear(3, 2)
    out = lin(x)
    assert out.grad_fn.params["input_grad"] is False
    out.sum().backward()
    assert x.grad is None and lin.weight.grad is not None
    gx, gw, gb = layer_ops.linear.vjp(None, np.ones((4, 2)), None, np.ones((4, 3)),
                                      np.ones((2, 3)), np.ones(2), input_grad=False,
                                      weight_grad=False)
    assert gx is None and gw is None and gb is not None


def test_linear_errors():
    lin = nn.Linear(3, 2)
    with pytest.raises(RuntimeError, match="in_features 4 != 3"):
        lin(cr.zeros(5, 4))
    with pytest.raises(RuntimeError, match="same dtype"):
        lin(cr.zeros(5, 3, dtype=cr.float64))


@pytest.mark.requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_linear_against_torch(dtype, torch):
    ours, theirs = nn.Linear(5, 3), torch.nn.Linear(5, 3)
    ours.to(dtype=cr.float64 if dtype == np.float64 else cr.float32)
    theirs.to(torch.float64 if dtype == np.float64 else torch.float32)
    copy_params(ours, theirs, torch)
    x = np.random.default_rng(1).standard_normal((4, 5)).astype(dtype)
    compare(ours, theirs, x, torch, 1e-5 if dtype == np.float32 else 1e-12)


# ----------------------------------------------------------------------- Embedding


def test_embedding_lookup_padding_and_gradient():
    cr.manual_seed(0)
    emb = nn.Embedding(5, 3, padding_idx=1)
    w = emb.weight.detach().numpy()
    assert (w[1] == 0).all() and w.std() > 0.5  # N(0, 1) init, padding row zero
    idx = cr.tensor([[0, 1, 4], [1, 1, 0]])
    out = emb(idx)
    assert tuple(out.shape) == (2, 3, 3)
    np.testing.assert_array_equal(out.detach().numpy(), w[idx.numpy()])
    out.sum().backward()
    grad = emb.weight.grad.numpy()
    np.testing.assert_array_equal(grad[:, 0], [2, 0, 0, 0, 1])  # counts; padding row none
    with pytest.raises(IndexError, match="index out of range"):
        emb(cr.tensor([5]))
    with pytest.raises(RuntimeError, match="indices"):
        emb(cr.tensor([0.0]))


def test_embedding_from_pretrained_max_norm_and_freq_scaling():
    weights = cr.tensor([[3.0, 4.0], [0.3, 0.4]])
    emb = nn.Embedding.from_pretrained(weights)
    assert not emb.weight.requires_grad
    np.testing.assert_allclose(emb(cr.tensor([1])).numpy(), [[0.3, 0.4]], rtol=1e-6)
    renorm = nn.Embedding.from_pretrained(weights.clone(), max_norm=1.0)
    out = renorm(cr.tensor([0, 1]))
    np.testing.assert_allclose(np.linalg.norm(out.numpy(), axis=1), [1.0, 0.5], rtol=1e-5)
    freq = nn.Embedding(3, 2, scale_grad_by_freq=True)
    freq(cr.tensor([0, 0, 2])).sum().backward()
    np.testing.assert_allclose(freq.weight.grad.numpy()[:, 0], [1.0, 0.0, 1.0])


@pytest.mark.requires_torch
def test_embedding_against_torch(torch):
    ours = nn.Embedding(6, 4, padding_idx=2, scale_grad_by_freq=True)
    theirs = torch.nn.Embedding(6, 4, padding_idx=2, scale_grad_by_freq=True)
    copy_params(ours, theirs, torch)
    compare(ours, theirs, np.array([[0, 2, 5], [5, 5, 1]]), torch, 1e-6)


# ----------------------------------------------------------------------- LayerNorm


def test_layer_norm_math():
    ln = nn.LayerNorm(4)
    x = np.random.default_rng(2).standard_normal((3, 4))
    out = ln.double()(cr.tensor(x)).detach().numpy()
    ref = (x - x.mean(1, keepdims=True)) / np.sqrt(x.var(1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(out, ref, rtol=1e-12)
    assert [n for n, _ in nn.LayerNorm(4, bias=False).named_parameters()] == ["weight"]
    assert list(nn.LayerNorm(4, elementwise_affine=False).parameters()) == []
    with pytest.raises(RuntimeError, match="expected input with shape"):
        ln(cr.zeros(3, 5, dtype=cr.float64))


@pytest.mark.requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_layer_norm_against_torch(dtype, torch):
    ours, theirs = nn.LayerNorm((3, 4), eps=1e-3), torch.nn.LayerNorm((3, 4), eps=1e-3)
    if dtype == np.float64:
        ours.double(), theirs.double()
    with cr.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
    copy_params(ours, theirs, torch)
    x = np.random.default_rng(3).standard_normal((2, 3, 4)).astype(dtype)
    compare(ours, theirs, x, torch, 1e-5 if dtype == np.float32 else 1e-12)


# ----------------------------------------------------------------------- BatchNorm


def test_batch_norm_running_statistics_by_hand():
    bn = nn.BatchNorm1d(2, momentum=0.5).double()
    x = np.array([[1.0, 10.0], [3.0, 20.0], [5.0, 60.0]])
    out = bn(cr.tensor(x)).detach().numpy()
    mean, var = x.mean(0), x.var(0)
    np.testing.assert_allclose(out, (x - mean) / np.sqrt(var + 1e-5), rtol=1e-12)
    # running stats: halfway from (0, 1) towards the batch mean and *unbiased* variance
    np.testing.assert_allclose(bn.running_mean.numpy(), 0.5 * mean, rtol=1e-12)
    np.testing.assert_allclose(bn.running_var.numpy(), 0.5 + 0.5 * x.var(0, ddof=1), rtol=1e-12)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    y = bn(cr.tensor(x)).detach().numpy()
    np.testing.assert_allclose(y, (x - bn.running_mean.numpy()) /
                               np.sqrt(bn.running_var.numpy() + 1e-5), rtol=1e-12)
    assert bn.num_batches_tracked.item() == 1  # eval does not count


def test_batch_norm_cumulative_average_without_momentum():
    bn = nn.BatchNorm1d(1, momentum=None).double()
    batches = [np.array([[1.0], [3.0]]), np.array([[5.0], [9.0]])]
    for b in batches:
        bn(cr.tensor(b))
    np.testing.assert_allclose(bn.running_mean.numpy(), [(2.0 + 7.0) / 2])


def test_batch_norm_without_running_stats_and_errors():
    bn = nn.BatchNorm1d(3, track_running_stats=False, affine=False)
    assert bn.running_mean is None and list(bn.state_dict()) == []
    x = cr.randn(4, 3)
    np.testing.assert_allclose(bn.eval()(x).numpy(), bn.train()(x).numpy())
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(cr.randn(1, 3))
    with pytest.raises(ValueError, match=r"expected 2D or 3D input \(got 4D input\)"):
        nn.BatchNorm1d(3)(cr.randn(2, 3, 1, 1))
    assert tuple(nn.BatchNorm2d(3)(cr.randn(2, 3, 2, 2)).shape) == (2, 3, 2, 2)


@pytest.mark.requires_torch
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_batch_norm_against_torch_train_then_eval(shape, dtype, torch):
    ours, theirs = nn.BatchNorm1d(3, momentum=0.3), torch.nn.BatchNorm1d(3, momentum=0.3)
    if dtype == np.float64:
        ours.double(), theirs.double()
    with cr.no_grad():
        ours.weight.normal_(), ours.bias.normal_()
    copy_params(ours, theirs, torch)
    rng = np.random.default_rng(4)
    tol = 1e-4 if dtype == np.float32 else 1e-10
    for _ in range(2):
        ours.zero_grad(), theirs.zero_grad()
        compare(ours, theirs, rng.standard_normal(shape).astype(dtype) * 3 + 1, torch, tol)
    for name, t in theirs.state_dict().items():
        np.testing.assert_allclose(ours.state_dict()[name].numpy(), t.numpy(), rtol=tol,
                                   atol=tol, err_msg=name)
    ours.eval(), theirs.eval()
    ours.zero_grad(), theirs.zero_grad()
    compare(ours, theirs, rng.standard_normal(shape).astype(dtype), torch, tol)


# ----------------------------------------------------------------------- Dropout


def test_dropout_scales_zeroes_and_is_identity_in_eval():
    cr.manual_seed(0)
    drop = nn.Dropout(0.25)
    x = cr.ones(200, 100, requires_grad=True)
    out = drop(x)
    values = out.detach().numpy()
    kept = values != 0
    assert set(np.unique(values)) == {0.0, np.float32(1 / 0.75)}
    assert abs(kept.mean() - 0.75) < 0.01
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), values)  # the gradient is the mask
    drop.eval()
    assert drop(x) is x
    assert nn.Dropout(0.0)(x) is x
    assert (nn.Dropout(1.0)(x).detach().numpy() == 0).all()
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_dropout_follows_the_seed():
    x = cr.ones(10, 10)
    cr.manual_seed(3)
    a = nn.functional.dropout(x, 0.5).numpy()
    cr.manual_seed(3)
    b = nn.functional.dropout(x, 0.5).numpy()
    np.testing.assert_array_equal(a, b)
    assert nn.functional.dropout(x, 0.5, training=False) is x


# ----------------------------------------------------------------------- shape and activations


def test_flatten_unflatten_identity():
    x = cr.randn(2, 3, 4, 5)
    assert tuple(nn.Flatten()(x).shape) == (2, 60)
    assert tuple(nn.Flatten(0, 2)(x).shape) == (24, 5)
    assert tuple(nn.Unflatten(1, (2, 30))(nn.Flatten()(x)).shape) == (2, 2, 30)
    assert nn.Identity(3, unused=True)(x) is x
    with pytest.raises(TypeError, match="tuple of ints"):
        nn.Unflatten(1, 5)


ACTIVATION_MODULES = [
    ("ReLU", {}), ("ReLU6", {}), ("Hardtanh", dict(min_val=-0.5, max_val=0.5)),
    ("LeakyReLU", dict(negative_slope=0.2)), ("ELU", dict(alpha=0.5)), ("SELU", {}),
    ("GELU", {}), ("GELU", dict(approximate="tanh")), ("SiLU", {}), ("Tanh", {}),
    ("Sigmoid", {}), ("LogSigmoid", {}), ("Softplus", dict(beta=2.0, threshold=1.0)),
    ("Softmax", dict(dim=1)), ("Softmin", dict(dim=0)), ("LogSoftmax", dict(dim=1)),
]


@pytest.mark.parametrize("name,kwargs", ACTIVATION_MODULES)
def test_activation_modules_gradcheck(name, kwargs):
    module = getattr(nn, name)(**kwargs)
    x = cr.tensor(np.random.default_rng(5).uniform(0.1, 1.3, (3, 4)) *
                  np.array([1, -1, 1, -1]), requires_grad=True)
    assert gradcheck(module, (x,))
    assert gradgradcheck(module, (x,))


@pytest.mark.requires_torch
@pytest.mark.parametrize("name,kwargs", ACTIVATION_MODULES)
def test_activation_modules_against_torch(name, kwargs, torch):
    ours, theirs = getattr(nn, name)(**kwargs), getattr(torch.nn, name)(**kwargs)
    x = np.random.default_rng(6).standard_normal((3, 4)).astype(np.float32) * 2
    compare(ours, theirs, x, torch, 1e-5)


def test_inplace_relu_module():
    a = cr.tensor([-1.0, 2.0], requires_grad=True)
    h = a * 2
    out = nn.ReLU(inplace=True)(h)
    assert out is h and h.tolist() == [0.0, 4.0]
    out.sum().backward()
    assert a.grad.tolist() == [0.0, 2.0]
