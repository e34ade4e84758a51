"""nn.functional and the nn modules against values computed by hand (NumPy), from the
formulas in torch's documentation.

These tests need no torch: where torch is installed, test_nn_functional.py also compares
with it, but the math must be checked on its own too.  Every activation and loss has at
least one row here, with inputs chosen so that each option (``beta``, ``threshold``,
``pos_weight``, ``log_target``, ``weight``, ``ignore_index``, ``label_smoothing``) changes
the value.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

import chainrule as cr

F = cr.nn.functional
nn = cr.nn

X = np.array([[-2.5, -0.7, -0.1, 0.0], [0.3, 1.2, 1.5, 1.6], [2.9, 3.0, 6.0, 7.5]])
LOGITS = np.array([[0.2, -1.3, 2.1, 0.4], [1.5, 0.3, -0.8, -2.0], [-0.4, 0.9, 0.0, 1.7]])
TARGET = np.array([[0.1, -2.0, 2.6, 0.5], [1.0, 0.9, -0.2, 1.6], [0.0, 0.8, 0.6, 2.3]])


def _np_softmax(z, axis):
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_log_softmax(z, axis):
    return np.log(_np_softmax(z, axis))


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


_erf = np.vectorize(math.erf)
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _t(a, requires_grad=False):
    return cr.tensor(np.asarray(a, dtype=np.float64), requires_grad=requires_grad)


# ----------------------------------------------------------------------- activations

ACTIVATIONS = [
    ("relu", lambda x: F.relu(x), np.maximum(X, 0)),
    ("relu6", lambda x: F.relu6(x), np.clip(X, 0, 6)),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 1.5), np.clip(X, -0.5, 1.5)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1), np.where(X > 0, X, 0.1 * X)),
    ("elu", lambda x: F.elu(x, 0.7), np.where(X > 0, X, 0.7 * np.expm1(X))),
    ("selu", lambda x: F.selu(x),
     SELU_SCALE * (np.maximum(X, 0) + np.minimum(0, SELU_ALPHA * np.expm1(X)))),
    ("gelu", lambda x: F.gelu(x), 0.5 * X * (1 + _erf(X / math.sqrt(2)))),
    # torch's docs: 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))
    ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh"),
     0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X ** 3)))),
    ("silu", lambda x: F.silu(x), X * _sigmoid(X)),
    ("softplus", lambda x: F.softplus(x), np.log1p(np.exp(X))),
    # beta x > threshold -> x; beta x = 3.0 (x = 1.5) is still the soft branch, as in torch
    ("softplus_beta_threshold", lambda x: F.softplus(x, beta=2.0, threshold=3.0),
     np.where(2 * X > 3.0, X, np.log1p(np.exp(2 * X)) / 2)),
    ("softplus_low_threshold", lambda x: F.softplus(x, threshold=0.5),
     np.where(X > 0.5, X, np.log1p(np.exp(X)))),
    ("sigmoid", lambda x: F.sigmoid(x), _sigmoid(X)),
    ("tanh", lambda x: F.tanh(x), np.tanh(X)),
    ("logsigmoid", lambda x: F.logsigmoid(x), -np.log1p(np.exp(-X))),
    ("softmax", lambda x: F.softmax(x, dim=1), _np_softmax(X, 1)),
    ("softmin", lambda x: F.softmin(x, dim=0), _np_softmax(-X, 0)),
    ("log_softmax", lambda x: F.log_softmax(x, dim=1), _np_log_softmax(X, 1)),
    ("normalize", lambda x: F.normalize(x, p=1.0, dim=0),
     X / np.maximum(np.abs(X).sum(0, keepdims=True), 1e-12)),
]


@pytest.mark.parametrize("name,fn,expected", ACTIVATIONS, ids=[a[0] for a in ACTIVATIONS])
def test_activation_by_hand(name, fn, expected):
    np.testing.assert_allclose(fn(_t(X)).numpy(), expected, rtol=1e-13, atol=1e-15)


MODULES = [
    (nn.ReLU(), np.maximum(X, 0)),
    (nn.ReLU6(), np.clip(X, 0, 6)),
    (nn.Hardtanh(-0.5, 1.5), np.clip(X, -0.5, 1.5)),
    (nn.LeakyReLU(0.1), np.where(X > 0, X, 0.1 * X)),
    (nn.ELU(0.7), np.where(X > 0, X, 0.7 * np.expm1(X))),
    (nn.SELU(), SELU_SCALE * (np.maximum(X, 0) + np.minimum(0, SELU_ALPHA * np.expm1(X)))),
    (nn.GELU(approximate="tanh"),
     0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X ** 3)))),
    (nn.SiLU(), X * _sigmoid(X)),
    (nn.Softplus(beta=2.0, threshold=3.0), np.where(2 * X > 3.0, X, np.log1p(np.exp(2 * X)) / 2)),
    (nn.Sigmoid(), _sigmoid(X)),
    (nn.Tanh(), np.tanh(X)),
    (nn.LogSigmoid(), -np.log1p(np.exp(-X))),
    (nn.Softmax(dim=1), _np_softmax(X, 1)),
    (nn.Softmin(dim=1), _np_softmax(-X, 1)),
    (nn.LogSoftmax(dim=0), _np_log_softmax(X, 0)),
]


@pytest.mark.parametrize("module,expected", MODULES, ids=[repr(m[0]) for m in MODULES])
def test_activation_module_by_hand(module, expected):
    np.testing.assert_allclose(module(_t(X)).numpy(), expected, rtol=1e-13, atol=1e-15)


def test_gelu_tanh_and_softplus_gradients_by_hand():
    x = _t(X, requires_grad=True)
    F.gelu(x, approximate="tanh").sum().backward()
    k = math.sqrt(2 / math.pi)
    u = k * (X + 0.044715 * X ** 3)
    du = k * (1 + 3 * 0.044715 * X ** 2)
    expected = 0.5 * (1 + np.tanh(u)) + 0.5 * X * (1 - np.tanh(u) ** 2) * du
    np.testing.assert_allclose(x.grad.numpy(), expected, rtol=1e-12)
    x = _t(X, requires_grad=True)
    F.softplus(x, beta=2.0, threshold=3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.where(2 * X > 3.0, 1.0, _sigmoid(2 * X)),
                               rtol=1e-13)


# ----------------------------------------------------------------------- losses


def _reduce(loss, reduction):
    return {"none": loss, "sum": loss.sum(), "mean": loss.mean()}[reduction]


D = LOGITS - TARGET
AD = np.abs(D)
P = _sigmoid(LOGITS)
UNIT_T = np.array([[1.0, 0.0, 0.3, 1.0], [0.0, 0.5, 1.0, 0.0], [0.9, 1.0, 0.0, 0.2]])
ELEM_W = np.array([[0.5, 1.0, 2.0, 1.5], [1.0, 0.2, 0.7, 1.1], [2.0, 0.4, 1.0, 0.9]])
POS_W = np.array([3.0, 0.5, 1.0, 2.0])
LOGP = _np_log_softmax(LOGITS, 1)
PROBS = _np_softmax(TARGET, 1)
LOGQ = _np_log_softmax(TARGET, 1)


def _bce_logits(weight=None, pos_weight=None):
    # torch's docs: l = -w [p t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]
    p = 1.0 if pos_weight is None else pos_weight
    loss = -(p * UNIT_T * np.log(P) + (1 - UNIT_T) * np.log(1 - P))
    return loss if weight is None else loss * weight


def _loss_rows():
    rows = []
    for red in ("none", "sum", "mean"):
        rows += [
            (f"mse-{red}", lambda x, t, r=red: F.mse_loss(x, t, reduction=r), _reduce(D ** 2, red)),
            (f"l1-{red}", lambda x, t, r=red: F.l1_loss(x, t, reduction=r), _reduce(AD, red)),
            # beta = 0.5: |d| < beta is quadratic (0.5 d^2 / beta), the rest linear
            (f"smooth_l1-{red}", lambda x, t, r=red: F.smooth_l1_loss(x, t, reduction=r,
                                                                      beta=0.5),
             _reduce(np.where(AD < 0.5, 0.5 * D ** 2 / 0.5, AD - 0.25), red)),
            (f"smooth_l1_beta3-{red}", lambda x, t, r=red: F.smooth_l1_loss(x, t, reduction=r,
                                                                            beta=3.0),
             _reduce(np.where(AD < 3.0, 0.5 * D ** 2 / 3.0, AD - 1.5), red)),
            (f"huber-{red}", lambda x, t, r=red: F.huber_loss(x, t, reduction=r, delta=0.7),
             _reduce(np.where(AD < 0.7, 0.5 * D ** 2, 0.7 * (AD - 0.35)), red)),
            (f"bce_logits-{red}", lambda x, t, r=red: F.binary_cross_entropy_with_logits(
                x, _t(UNIT_T), reduction=r), _reduce(_bce_logits(), red)),
            (f"bce_logits_pos_weight-{red}", lambda x, t, r=red: F.binary_cross_entropy_with_logits(
                x, _t(UNIT_T), _t(ELEM_W), reduction=r, pos_weight=_t(POS_W)),
             _reduce(_bce_logits(ELEM_W, POS_W), red)),
            (f"bce-{red}", lambda x, t, r=red: F.binary_cross_entropy(
                F.sigmoid(x), _t(UNIT_T), _t(ELEM_W), reduction=r),
             _reduce(_bce_logits(ELEM_W), red)),
            (f"kl_div-{red}", lambda x, t, r=red: _quiet(lambda: F.kl_div(
                F.log_softmax(x, 1), _t(PROBS), reduction=r)),
             _reduce(PROBS * (np.log(PROBS) - LOGP), red)),
            # log_target: exp(t) (t - input)
            (f"kl_div_log_target-{red}", lambda x, t, r=red: _quiet(lambda: F.kl_div(
                F.log_softmax(x, 1), F.log_softmax(t, 1), reduction=r, log_target=True)),
             _reduce(np.exp(LOGQ) * (LOGQ - LOGP), red)),
        ]
    rows += [
        ("kl_div-batchmean", lambda x, t: F.kl_div(F.log_softmax(x, 1), _t(PROBS),
                                                   reduction="batchmean"),
         (PROBS * (np.log(PROBS) - LOGP)).sum() / 3),
        ("kl_div_log_target-batchmean",
         lambda x, t: F.kl_div(x, t, reduction="batchmean", log_target=True),
         (np.exp(TARGET) * (TARGET - LOGITS)).sum() / 3),
        ("mse_weight", lambda x, t: F.mse_loss(x, t, weight=_t(ELEM_W)),
         (ELEM_W * D ** 2).sum() / ELEM_W.sum()),
        ("l1_weight", lambda x, t: F.l1_loss(x, t, weight=_t(ELEM_W)),
         (ELEM_W * AD).sum() / ELEM_W.sum()),
        ("huber_weight", lambda x, t: F.huber_loss(x, t, delta=0.7, weight=_t(ELEM_W)),
         (ELEM_W * np.where(AD < 0.7, 0.5 * D ** 2, 0.7 * (AD - 0.35))).mean()),
    ]
    return rows


def _quiet(fn):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


LOSSES = _loss_rows()


@pytest.mark.parametrize("name,fn,expected", LOSSES, ids=[r[0] for r in LOSSES])
def test_elementwise_loss_by_hand(name, fn, expected):
    out = fn(_t(LOGITS), _t(TARGET))
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-15)


# class losses: 3 rows, 4 classes; row 1's target is ignored where ignore_index=1
IDX = np.array([2, 1, 3])
CLASS_W = np.array([0.5, 2.0, 1.0, 3.0])


def _nll_terms(logp, ignore=None):
    keep = np.ones(3, bool) if ignore is None else IDX != ignore
    picked = -logp[np.arange(3), IDX]
    return picked, keep


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_nll_loss_weighted_by_hand(reduction):
    picked, keep = _nll_terms(LOGP, ignore=1)
    w = CLASS_W[IDX] * keep
    loss = F.nll_loss(_t(LOGP), cr.tensor(IDX), _t(CLASS_W), ignore_index=1, reduction=reduction)
    # 'mean' divides by the total weight of the counted targets, not by their number
    expected = {"none": w * picked, "sum": (w * picked).sum(),
                "mean": (w * picked).sum() / w.sum()}[reduction]
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-13)
    unweighted = F.nll_loss(_t(LOGP), cr.tensor(IDX), ignore_index=1)
    np.testing.assert_allclose(unweighted.item(), picked[keep].mean(), rtol=1e-13)


def test_nll_loss_k_dimensional_by_hand():
    logp = _np_log_softmax(np.arange(24.0).reshape(2, 3, 4) % 5 - 2, 1)  # (N, C, d)
    t = np.array([[0, 2, 1, 1], [2, 0, 0, 1]])
    w = np.array([1.0, 0.5, 2.0])
    picked = -np.take_along_axis(logp, t[:, None, :], 1)[:, 0, :]
    loss = F.nll_loss(_t(logp), cr.tensor(t), _t(w))
    np.testing.assert_allclose(loss.item(), (w[t] * picked).sum() / w[t].sum(), rtol=1e-13)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
def test_cross_entropy_index_targets_weight_ignore_and_smoothing_by_hand(reduction):
    eps = 0.2
    picked, keep = _nll_terms(LOGP, ignore=1)
    w = CLASS_W[IDX] * keep
    nll = w * picked
    smooth = -(LOGP * CLASS_W).sum(1) * keep  # every class, weighted, per counted row
    if reduction == "none":
        expected = (1 - eps) * nll + eps / 4 * smooth
    elif reduction == "sum":
        expected = (1 - eps) * nll.sum() + eps / 4 * smooth.sum()
    else:  # torch divides both parts by the total weight of the counted targets
        expected = ((1 - eps) * nll.sum() + eps / 4 * smooth.sum()) / w.sum()
    loss = F.cross_entropy(_t(LOGITS), cr.tensor(IDX), _t(CLASS_W), ignore_index=1,
                           reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-13)


@pytest.mark.parametrize("reduction", ["none", "sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy_probability_targets_with_smoothing_by_hand(reduction, weighted):
    eps = 0.3
    smoothed = PROBS * (1 - eps) + eps / 4  # mixed with the uniform distribution
    w = CLASS_W if weighted else np.ones(4)
    per_row = -(LOGP * smoothed * w).sum(1)
    expected = {"none": per_row, "sum": per_row.sum(), "mean": per_row.sum() / 3}[reduction]
    loss = F.cross_entropy(_t(LOGITS), _t(PROBS), _t(CLASS_W) if weighted else None,
                           reduction=reduction, label_smoothing=eps)
    np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-13)
    module = nn.CrossEntropyLoss(_t(CLASS_W) if weighted else None, reduction=reduction,
                                 label_smoothing=eps)
    np.testing.assert_allclose(module(_t(LOGITS), _t(PROBS)).numpy(), expected, rtol=1e-13)


def test_cross_entropy_probability_targets_reject_ignore_index_like_torch():
    x, p = _t(LOGITS), _t(PROBS)
    with pytest.raises(RuntimeError, match="ignore_index is not supported for floating point "
                                           "target"):
        F.cross_entropy(x, p, ignore_index=1)
    with pytest.raises(RuntimeError, match="ignore_index is not supported"):
        nn.CrossEntropyLoss(ignore_index=0)(x, p)
    # negative values (the default -100 among them) are accepted, as in torch
    expected = -(LOGP * PROBS).sum(1).mean()
    np.testing.assert_allclose(F.cross_entropy(x, p, ignore_index=-5).item(), expected,
                               rtol=1e-13)


def test_loss_modules_pass_their_options_by_hand():
    x, t = _t(LOGITS), _t(TARGET)
    cases = [
        (nn.SmoothL1Loss(beta=0.5, reduction="sum"),
         np.where(AD < 0.5, D ** 2, AD - 0.25).sum()),
        (nn.HuberLoss(delta=0.7), np.where(AD < 0.7, 0.5 * D ** 2, 0.7 * (AD - 0.35)).mean()),
        (nn.MSELoss(reduction="sum"), (D ** 2).sum()),
        (nn.L1Loss(), AD.mean()),
    ]
    for module, expected in cases:
        np.testing.assert_allclose(module(x, t).item(), expected, rtol=1e-13, err_msg=repr(module))
    bce = nn.BCEWithLogitsLoss(weight=_t(ELEM_W), pos_weight=_t(POS_W))
    np.testing.assert_allclose(bce(x, _t(UNIT_T)).item(), _bce_logits(ELEM_W, POS_W).mean(),
                               rtol=1e-13)
    np.testing.assert_allclose(nn.BCELoss()(F.sigmoid(x), _t(UNIT_T)).item(),
                               _bce_logits().mean(), rtol=1e-13)
    kl = nn.KLDivLoss(reduction="batchmean", log_target=True)
    np.testing.assert_allclose(kl(_t(LOGP), _t(LOGQ)).item(),
                               (np.exp(LOGQ) * (LOGQ - LOGP)).sum() / 3, rtol=1e-13)
    nll = nn.NLLLoss(weight=_t(CLASS_W), ignore_index=1)
    picked, keep = _nll_terms(LOGP, ignore=1)
    w = CLASS_W[IDX] * keep
    np.testing.assert_allclose(nll(_t(LOGP), cr.tensor(IDX)).item(),
                               (w * picked).sum() / w.sum(), rtol=1e-13)


def test_bce_with_logits_pos_weight_gradient_by_hand():
    x = _t(LOGITS, requires_grad=True)
    F.binary_cross_entropy_with_logits(x, _t(UNIT_T), reduction="sum",
                                       pos_weight=_t(POS_W)).backward()
    # d/dx of -[p t log s + (1 - t) log(1 - s)] = -p t (1 - s) + (1 - t) s
    np.testing.assert_allclose(x.grad.numpy(), -POS_W * UNIT_T * (1 - P) + (1 - UNIT_T) * P,
                               rtol=1e-12)


def test_normalize_rejects_out():
    x = _t(X)
    with pytest.raises(NotImplementedError, match="out= is not supported"):
        F.normalize(x, out=cr.empty(3, 4, dtype=cr.float64))
