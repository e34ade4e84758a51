"""nn.functional activations and losses, from one table.

Each row gives a call ``fn(F, *inputs)`` written once for both libraries (``F`` is
``chainrule.nn.functional`` or ``torch.nn.functional``) and input makers.  Every row gets a
float64 gradcheck and gradgradcheck (first and second order) and, where torch is importable,
forward values and gradients against torch in float32 and float64.  Known values check the
math where torch is absent.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

CF = cr.nn.functional


# ----------------------------------------------------------------------- input makers


def away(kinks=(0.0,), lo=-3.0, hi=3.0, gap=0.1):
    """Uniform on [lo, hi] with no value within ``gap`` of a kink (finite differences)."""

    def make(rng, shape):
        x = rng.uniform(lo, hi, shape)
        for k in kinks:
            near = np.abs(x - k) < gap
            x = np.where(near, k + np.sign(x - k + 1e-12) * 2 * gap, x)
        return x

    return make


def unit(lo=0.05, hi=0.95):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


def probs(axis=-1):
    def make(rng, shape):
        p = rng.uniform(0.1, 1.0, shape)
        return p / p.sum(axis=axis, keepdims=True)

    return make


def log_probs(axis=-1):
    return lambda rng, shape: np.log(probs(axis)(rng, shape))


def classes(n, ignore=None):
    def make(rng, shape):
        t = rng.integers(0, n, shape)
        if ignore is not None and t.size > 1:
            t.reshape(-1)[1] = ignore
        return t

    return make


def positive(lo=0.5, hi=2.0):
    return lambda rng, shape: rng.uniform(lo, hi, shape)


@dataclass
class Row:
    name: str
    fn: Callable  # fn(F, *inputs)
    inputs: list  # (maker, shape, differentiable) per input
    second_order: bool = True
    tol32: float = 1e-5
    known: list = field(default_factory=list)  # [(inputs as lists, expected output)]

    def __repr__(self):
        return self.name


def R(shape=(3, 4), kinks=(0.0,)):
    return (away(kinks), shape, True)


def C(maker, shape):
    return (maker, shape, False)  # a constant input (targets, weights)


ACTIVATIONS = [
    Row("relu", lambda F, x: F.relu(x), [R()]),
    Row("relu6", lambda F, x: F.relu6(x * 3), [R(kinks=(0.0, 2.0))]),
    Row("hardtanh", lambda F, x: F.hardtanh(x, -0.5, 1.5), [R(kinks=(-0.5, 1.5))]),
    Row("leaky_relu", lambda F, x: F.leaky_relu(x, 0.1), [R()]),
    Row("elu", lambda F, x: F.elu(x, 0.7), [R()]),
    Row("selu", lambda F, x: F.selu(x), [R()]),
    Row("gelu", lambda F, x: F.gelu(x), [R(kinks=())]),
    Row("gelu_tanh", lambda F, x: F.gelu(x, approximate="tanh"), [R(kinks=())]),
    Row("silu", lambda F, x: F.silu(x), [R(kinks=())]),
    Row("softplus", lambda F, x: F.softplus(x), [R(kinks=())]),
    Row("softplus_beta", lambda F, x: F.softplus(x, beta=2.0, threshold=3.0),
        [R(kinks=(1.5,))]),
    Row("sigmoid", lambda F, x: F.sigmoid(x), [R(kinks=())]),
    Row("tanh", lambda F, x: F.tanh(x), [R(kinks=())]),
    Row("logsigmoid", lambda F, x: F.logsigmoid(x), [R(kinks=())]),
    Row("logsigmoid_large", lambda F, x: F.logsigmoid(x * 40), [R(kinks=())]),
    Row("softmax", lambda F, x: F.softmax(x, dim=1), [R(kinks=())]),
    Row("softmin", lambda F, x: F.softmin(x, dim=0), [R(kinks=())]),
    Row("log_softmax", lambda F, x: F.log_softmax(x, dim=-1), [R((2, 3, 4), kinks=())]),
    Row("normalize", lambda F, x: F.normalize(x, dim=1), [R(kinks=())]),
    Row("normalize_p1", lambda F, x: F.normalize(x, p=1.0, dim=0), [R()]),
    Row("layer_norm", lambda F, x, w, b: F.layer_norm(x, (4,), w, b),
        [R(kinks=()), R((4,), kinks=()), R((4,), kinks=())]),
    Row("layer_norm_2d", lambda F, x: F.layer_norm(x, (3, 4), eps=1e-3),
        [R((2, 3, 4), kinks=())]),
    Row("batch_norm_train", lambda F, x, w, b: F.batch_norm(x, None, None, w, b, training=True),
        [R((4, 3), kinks=()), R((3,), kinks=()), R((3,), kinks=())]),
    Row("batch_norm_3d", lambda F, x: F.batch_norm(x, None, None, training=True),
        [R((2, 3, 2), kinks=())]),
    Row("linear", lambda F, x, w, b: F.linear(x, w, b),
        [R((3, 4), kinks=()), R((2, 4), kinks=()), R((2,), kinks=())]),
    Row("linear_3d_nobias", lambda F, x, w: F.linear(x, w),
        [R((2, 3, 4), kinks=()), R((2, 4), kinks=())]),
    Row("linear_1d", lambda F, x, w, b: F.linear(x, w, b),
        [R((4,), kinks=()), R((2, 4), kinks=()), R((2,), kinks=())]),
    Row("pad", lambda F, x: F.pad(x, (1, 2, 0, 1), value=0.5), [R(kinks=())]),
    Row("pad_crop", lambda F, x: F.pad(x, (-1, 1)), [R(kinks=())]),
]

REDUCTIONS = ("mean", "sum", "none")


def _loss_rows():
    rows = []
    for red in REDUCTIONS:
        rows += [
            Row(f"mse-{red}", lambda F, x, t, r=red: F.mse_loss(x, t, reduction=r),
                [R(kinks=()), R(kinks=())]),
            Row(f"mse_weight-{red}",
                lambda F, x, t, w, r=red: F.mse_loss(x, t, reduction=r, weight=w),
                [R(kinks=()), R(kinks=()), C(positive(), (3, 4))]),
            Row(f"l1-{red}", lambda F, x, t, r=red: F.l1_loss(x, t, reduction=r),
                [R(kinks=(0.05,)), C(lambda rng, s: np.full(s, 0.05), (3, 4))]),
            Row(f"l1_weight-{red}",
                lambda F, x, w, r=red: F.l1_loss(x, x.detach() * 0 + 0.05, reduction=r,
                                                 weight=w),
                [R(kinks=(0.05,)), C(positive(), (3, 4))]),
            Row(f"smooth_l1-{red}",
                lambda F, x, r=red: F.smooth_l1_loss(x, x.detach() * 0, reduction=r, beta=0.5),
                [R(kinks=(-0.5, 0.5))]),
            Row(f"huber-{red}",
                lambda F, x, r=red: F.huber_loss(x, x.detach() * 0, reduction=r, delta=0.7),
                [R(kinks=(-0.7, 0.7))]),
            Row(f"huber_weight-{red}",
                lambda F, x, w, r=red: F.huber_loss(x, x.detach() * 0, reduction=r, delta=0.7,
                                                    weight=w),
                [R(kinks=(-0.7, 0.7)), C(positive(), (3, 4))]),
            Row(f"bce-{red}",
                lambda F, x, t, r=red: F.binary_cross_entropy(x, t, reduction=r),
                [(unit(), (3, 4), True), (unit(0, 1), (3, 4), True)]),
            Row(f"bce_weight-{red}",
                lambda F, x, t, w, r=red: F.binary_cross_entropy(x, t, w, reduction=r),
                [(unit(), (3, 4), True), C(unit(0, 1), (3, 4)), C(positive(), (4,))]),
            Row(f"bce_logits-{red}",
                lambda F, x, t, r=red: F.binary_cross_entropy_with_logits(x, t, reduction=r),
                [R(kinks=()), (unit(0, 1), (3, 4), True)]),
            Row(f"bce_logits_pos-{red}",
                lambda F, x, t, w, pw, r=red: F.binary_cross_entropy_with_logits(
                    x, t, w, reduction=r, pos_weight=pw),
                [R(kinks=()), C(unit(0, 1), (3, 4)), C(positive(), (3, 4)),
                 C(positive(), (4,))]),
            Row(f"kl_div-{red}", lambda F, x, t, r=red: F.kl_div(x, t, reduction=r),
                [(log_probs(), (3, 4), True), (probs(), (3, 4), True)]),
            Row(f"kl_div_log-{red}",
                lambda F, x, t, r=red: F.kl_div(x, t, reduction=r, log_target=True),
                [(log_probs(), (3, 4), True), (log_probs(), (3, 4), True)]),
            Row(f"nll-{red}", lambda F, x, t, r=red: F.nll_loss(x, t, reduction=r),
                [(log_probs(), (5, 3), True), C(classes(3), (5,))]),
            Row(f"nll_weight_ignore-{red}",
                lambda F, x, t, w, r=red: F.nll_loss(x, t, w, ignore_index=1, reduction=r),
                [(log_probs(1), (4, 3, 2), True), C(classes(3), (4, 2)), C(positive(), (3,))]),
            Row(f"cross_entropy-{red}",
                lambda F, x, t, r=red: F.cross_entropy(x, t, reduction=r),
                [R((5, 4), kinks=()), C(classes(4), (5,))]),
            Row(f"cross_entropy_all-{red}",
                lambda F, x, t, w, r=red: F.cross_entropy(x, t, w, ignore_index=0, reduction=r,
                                                          label_smoothing=0.2),
                [R((3, 4, 2), kinks=()), C(classes(4), (3, 2)), C(positive(), (4,))]),
            Row(f"cross_entropy_probs-{red}",
                lambda F, x, t, w, r=red: F.cross_entropy(x, t, w, reduction=r,
                                                          label_smoothing=0.1),
                [R((3, 4), kinks=()), (probs(), (3, 4), True), C(positive(), (4,))]),
        ]
    rows.append(Row("kl_div-batchmean", lambda F, x, t: F.kl_div(x, t, reduction="batchmean"),
                    [(log_probs(), (3, 4), True), (probs(), (3, 4), True)]))
    rows.append(Row("cross_entropy_unbatched", lambda F, x, t: F.cross_entropy(x, t),
                    [R((4,), kinks=()), C(lambda rng, s: np.array(2), ())]))
    return rows


LOSSES = _loss_rows()
ROWS = ACTIVATIONS + LOSSES


def make_inputs(row, seed):
    rng = np.random.default_rng(seed)
    return [(maker(rng, shape), diff) for maker, shape, diff in row.inputs]


def as_cr(values, dtype):
    out = []
    for v, diff in values:
        if v.dtype.kind == "f":
            out.append(cr.tensor(v.astype(dtype), requires_grad=diff))
        else:
            out.append(cr.tensor(v))
    return out


def as_torch(torch, values, dtype):
    out = []
    for v, diff in values:
        if v.dtype.kind == "f":
            out.append(torch.tensor(v.astype(dtype), requires_grad=diff))
        else:
            out.append(torch.tensor(v))
    return out


def quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# ----------------------------------------------------------------------- gradient checks


@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_gradcheck(row):
    xs = as_cr(make_inputs(row, 0), np.float64)
    assert quiet(lambda: gradcheck(lambda *a: row.fn(CF, *a), tuple(xs)))


@pytest.mark.parametrize("row", [r for r in ROWS if r.second_order], ids=repr)
def test_gradgradcheck(row):
    xs = as_cr(make_inputs(row, 1), np.float64)
    assert quiet(lambda: gradgradcheck(lambda *a: row.fn(CF, *a), tuple(xs)))


# ----------------------------------------------------------------------- against torch


@pytest.mark.requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("row", ROWS, ids=repr)
def test_against_torch(row, dtype, torch):
    values = make_inputs(row, 2)
    xs = as_cr(values, dtype)
    ts = as_torch(torch, values, dtype)
    out = quiet(lambda: row.fn(CF, *xs))
    ref = quiet(lambda: row.fn(torch.nn.functional, *ts))
    assert out.dtype.np == dtype, f"{row.name}: {dtype.__name__} became {out.dtype}"
    assert tuple(out.shape) == tuple(ref.shape)
    tol = row.tol32 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=tol, atol=tol)
    g = np.random.default_rng(3).standard_normal(tuple(ref.shape)).astype(dtype)
    out.backward(cr.tensor(g))
    ref.backward(torch.tensor(g))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=tol, atol=tol)


# ----------------------------------------------------------------------- known values


def test_activation_values_by_hand():
    x = cr.tensor([-2.0, -0.5, 0.0, 0.5, 3.0], dtype=cr.float64)
    np.testing.assert_allclose(CF.relu(x).numpy(), [0, 0, 0, 0.5, 3])
    np.testing.assert_allclose(CF.leaky_relu(x, 0.1).numpy(), [-0.2, -0.05, 0, 0.5, 3])
    np.testing.assert_allclose(CF.elu(x).numpy(), [math.expm1(-2), math.expm1(-0.5), 0, 0.5, 3])
    np.testing.assert_allclose(CF.hardtanh(x).numpy(), [-1, -0.5, 0, 0.5, 1])
    phi = [0.5 * (1 + math.erf(v / math.sqrt(2))) for v in x.tolist()]
    np.testing.assert_allclose(CF.gelu(x).numpy(), np.array(x.tolist()) * phi, rtol=1e-14)
    np.testing.assert_allclose(CF.softplus(x).numpy(),
                               [math.log1p(math.exp(v)) for v in x.tolist()], rtol=1e-14)
    np.testing.assert_allclose(CF.silu(x).numpy(),
                               [v / (1 + math.exp(-v)) for v in x.tolist()], rtol=1e-14)
    np.testing.assert_allclose(CF.logsigmoid(x).numpy(),
                               [-math.log1p(math.exp(-v)) for v in x.tolist()], rtol=1e-14)
    # softplus above the threshold is the identity; its gradient 1
    y = cr.tensor([30.0], requires_grad=True)
    CF.softplus(y).sum().backward()
    assert y.grad.tolist() == [1.0]


def test_gradients_at_kinks_follow_torch():
    x = cr.tensor([0.0, 0.0, 0.0], requires_grad=True)
    (CF.relu(x) + CF.leaky_relu(x, 0.2) * 10 + CF.elu(x, 0.5) * 100).sum().backward()
    # relu'(0) = 0; leaky_relu'(0) = slope; elu'(0) = alpha (torch's conventions)
    np.testing.assert_allclose(x.grad.numpy(), [0 + 2 + 50] * 3)
    # hardtanh and relu6: 0 on the bounds themselves, 1 strictly inside (not clamp's 1)
    h = cr.tensor([-1.0, -0.5, 1.0, 0.0, 3.0, 6.0, 7.0], requires_grad=True)
    (CF.hardtanh(h[:3]).sum() + CF.relu6(h[3:]).sum()).backward()
    assert h.grad.tolist() == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    h = cr.tensor([-0.5, 1.5, 0.2], requires_grad=True)
    CF.hardtanh(h * 1.0, -0.5, 1.5, inplace=True).sum().backward()
    assert h.grad.tolist() == [0.0, 0.0, 1.0]
    z = cr.tensor([0.0], dtype=cr.float64, requires_grad=True)
    CF.logsigmoid(z).sum().backward()
    assert z.grad.item() == 0.5  # exact at 0, where |x| and min(x, 0) have kinks


def test_erf_matches_math_erf_on_a_dense_grid():
    grid = np.concatenate([np.linspace(-7, 7, 20001), [0.0, -0.0, 1e-300, 2.5, -2.5, 40.0],
                           np.logspace(-20, 0.5, 200)])
    ref = np.array([math.erf(v) for v in grid])
    got = CF.erf(cr.tensor(grid)).numpy()
    err = np.abs(got - ref) / np.maximum(np.abs(ref), 1e-300)
    assert err.max() < 1e-14
    assert CF.erf(cr.tensor([float("inf"), -float("inf")])).tolist() == [1.0, -1.0]
    assert math.isnan(CF.erf(cr.tensor([float("nan")])).item())
    assert CF.erf(cr.tensor([0.3], dtype=cr.float32)).dtype == cr.float32


def test_logsigmoid_and_bce_with_logits_are_stable_for_huge_logits():
    x = cr.tensor([-1000.0, 1000.0], requires_grad=True)
    out = CF.logsigmoid(x)
    np.testing.assert_allclose(out.detach().numpy(), [-1000.0, 0.0])
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1.0, 0.0])
    loss = CF.binary_cross_entropy_with_logits(x, cr.tensor([1.0, 0.0]), reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [1000.0, 1000.0])


def test_bce_clamps_logs_and_keeps_gradients_finite_at_0_and_1():
    x = cr.tensor([0.0, 1.0, 0.5], requires_grad=True)
    t = cr.tensor([1.0, 0.0, 1.0])
    loss = CF.binary_cross_entropy(x, t, reduction="none")
    np.testing.assert_allclose(loss.detach().numpy(), [100.0, 100.0, math.log(2)], rtol=1e-6)
    loss.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    np.testing.assert_allclose(x.grad.numpy()[2], -2.0)  # (x - t) / (x (1 - x))


def test_loss_values_by_hand():
    x = cr.tensor([[1.0, 2.0], [3.0, 5.0]])
    t = cr.tensor([[1.0, 0.0], [3.0, 1.0]])
    assert CF.mse_loss(x, t).item() == pytest.approx((0 + 4 + 0 + 16) / 4)
    assert CF.mse_loss(x, t, reduction="sum").item() == pytest.approx(20)
    assert CF.l1_loss(x, t).item() == pytest.approx((0 + 2 + 0 + 4) / 4)
    w = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    assert CF.mse_loss(x, t, weight=w).item() == pytest.approx((2 * 4 + 4 * 16) / 10)
    assert CF.huber_loss(x, t, weight=w).item() == pytest.approx((2 * 1.5 + 4 * 3.5) / 4)
    assert CF.smooth_l1_loss(x, t, beta=2.0).item() == pytest.approx((0 + 1 + 0 + 3) / 4)
    assert CF.huber_loss(x, t, delta=2.0).item() == pytest.approx((0 + 2 + 0 + 6) / 4)
    # uniform logits: cross-entropy log C whatever the target
    assert CF.cross_entropy(cr.zeros(3, 5), cr.tensor([0, 4, 2])).item() == pytest.approx(
        math.log(5))
    p = cr.tensor([[0.5, 0.5]])
    assert CF.kl_div(p.log(), p, reduction="sum").item() == pytest.approx(0.0, abs=1e-7)
    assert CF.kl_div(cr.tensor([[0.0, -1.0]]), cr.tensor([[0.0, 1.0]]),
                     reduction="sum").item() == pytest.approx(1.0)  # 0 log 0 counts as 0


def test_reductions_and_legacy_flags():
    x, t = cr.tensor([1.0, 2.0]), cr.tensor([0.0, 0.0])
    with pytest.raises(ValueError, match="not a valid value for reduction"):
        CF.mse_loss(x, t, reduction="avg")
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        assert CF.mse_loss(x, t, size_average=False).item() == 5.0
    with pytest.warns(UserWarning, match="batchmean"):
        CF.kl_div(x, t, reduction="mean")
    with pytest.warns(UserWarning, match="target size"):
        CF.mse_loss(cr.zeros(2, 1), cr.zeros(2))


def test_loss_errors():
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        CF.binary_cross_entropy(cr.tensor([1.5]), cr.tensor([1.0]))
    with pytest.raises(ValueError, match="different to the input size"):
        CF.binary_cross_entropy(cr.tensor([0.5]), cr.tensor([[1.0]]))
    with pytest.raises(ValueError, match="must be the same as input size"):
        CF.binary_cross_entropy_with_logits(cr.tensor([0.5]), cr.tensor([[1.0]]))
    with pytest.raises(ValueError, match="Weights and input must have the same size"):
        CF.mse_loss(cr.zeros(2), cr.zeros(2), weight=cr.ones(3))
    with pytest.raises(IndexError, match="out of bounds"):
        CF.nll_loss(cr.zeros(2, 3), cr.tensor([0, 3]))
    with pytest.raises(RuntimeError, match="approximate"):
        CF.gelu(cr.zeros(2), approximate="fast")


def test_softmax_implicit_dim_warns_and_picks_torchs_dim():
    x = cr.randn(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        out = CF.softmax(x)
    np.testing.assert_allclose(out.sum(1).numpy(), [1, 1], rtol=1e-6)


def test_one_hot():
    out = CF.one_hot(cr.tensor([[0, 2], [1, 0]]))
    assert out.dtype == cr.int64 and tuple(out.shape) == (2, 2, 3)
    assert out.tolist() == [[[1, 0, 0], [0, 0, 1]], [[0, 1, 0], [1, 0, 0]]]
    assert tuple(CF.one_hot(cr.tensor([1]), num_classes=4).shape) == (1, 4)
    with pytest.raises(RuntimeError, match="smaller than num_classes"):
        CF.one_hot(cr.tensor([5]), 3)
    with pytest.raises(RuntimeError, match="non-negative"):
        CF.one_hot(cr.tensor([-1]))
    with pytest.raises(RuntimeError, match="integer"):
        CF.one_hot(cr.tensor([1.0]))


def test_pad_shapes_values_and_errors():
    x = cr.ones(2, 3)
    out = CF.pad(x, (1, 0, 0, 2), value=7.0)
    assert tuple(out.shape) == (4, 4)
    assert out.tolist()[0] == [7.0, 1.0, 1.0, 1.0] and out.tolist()[3] == [7.0] * 4
    assert tuple(CF.pad(x, (-1, -1)).shape) == (2, 1)
    with pytest.raises(ValueError, match="divisible by 2"):
        CF.pad(x, (1,))
    with pytest.raises(ValueError, match="too large"):
        CF.pad(x, (1, 1, 1, 1, 1, 1))
    with pytest.raises(NotImplementedError, match="constant"):
        CF.pad(x, (1, 1), mode="reflect")


def test_inplace_activations_write_into_their_input():
    a = cr.tensor([-1.0, 2.0], requires_grad=True)
    h = a * 1.0
    out = CF.leaky_relu(h, 0.5, inplace=True)
    assert out is h and h.tolist() == [-0.5, 2.0]
    h.sum().backward()
    assert a.grad.tolist() == [0.5, 1.0]
    leaf = cr.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        CF.elu(leaf, inplace=True)


# ----------------------------------------------------------------------- loss modules


def _loss_module_cases(lib):
    n = lib.nn
    w3 = lib.tensor([0.5, 1.0, 2.0], dtype=lib.float64)
    return [
        (n.CrossEntropyLoss(weight=w3, ignore_index=0, label_smoothing=0.1), "logits", "index"),
        (n.CrossEntropyLoss(reduction="sum"), "logits", "probs"),
        (n.NLLLoss(weight=w3, reduction="none"), "logprobs", "index"),
        (n.MSELoss(reduction="sum"), "logits", "real"),
        (n.L1Loss(), "logits", "real"),
        (n.SmoothL1Loss(beta=0.5), "logits", "real"),
        (n.HuberLoss(delta=0.3, reduction="none"), "logits", "real"),
        (n.BCELoss(weight=w3), "probs", "unit"),
        (n.BCEWithLogitsLoss(pos_weight=w3, reduction="sum"), "logits", "unit"),
        (n.KLDivLoss(reduction="batchmean", log_target=True), "logprobs", "logprobs"),
    ]


@pytest.mark.requires_torch
def test_loss_modules_against_torch(torch):
    rng = np.random.default_rng(12)
    data = {"logits": rng.standard_normal((4, 3)), "real": rng.standard_normal((4, 3)),
            "probs": probs()(rng, (4, 3)), "logprobs": log_probs()(rng, (4, 3)),
            "unit": rng.uniform(0, 1, (4, 3)), "index": rng.integers(0, 3, 4)}
    for ours, theirs in zip(_loss_module_cases(cr), _loss_module_cases(torch)):
        (_, x_kind, t_kind) = ours
        a = cr.tensor(data[x_kind], requires_grad=True)
        b = torch.tensor(data[x_kind], requires_grad=True)
        out = ours[0](a, cr.tensor(data[t_kind]))
        ref = theirs[0](b, torch.tensor(data[t_kind]))
        np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), rtol=1e-12,
                                   err_msg=repr(ours[0]))
        out.sum().backward()
        ref.sum().backward()
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-12, atol=1e-15,
                                   err_msg=repr(ours[0]))
        assert list(ours[0].state_dict()) == list(theirs[0].state_dict())
