"""Optimizers and lr schedulers against NumPy written from the algorithms in torch's
documentation, without torch.

test_optim_vs_torch.py compares with torch where it is installed; these references check the
math on their own: each optimizer option (momentum, dampening, nesterov, weight decay,
amsgrad, centered, lr_decay, ...) changes the trajectory, and every scheduler has a
torch-free value test (here or in test_optim_lr_scheduler.py).
"""

from __future__ import annotations

import inspect
import itertools
import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as sched

STEPS = 6
SHAPES = ((3,), (2, 2), ())


def _problem(seed=3):
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(STEPS)]
    return inits, grads


# ----------------------------------------------------------------------- references
# One function per optimizer: ``update(theta, g, state, t, **options)`` returns the new
# theta (t counts from 1), keeping its buffers in ``state``.  Written from torch's docs.


def ref_sgd(theta, g, s, t, lr, momentum=0.0, dampening=0.0, weight_decay=0.0,
            nesterov=False, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * theta
    if momentum:
        s["b"] = g.copy() if t == 1 else momentum * s["b"] + (1 - dampening) * g
        g = g + momentum * s["b"] if nesterov else s["b"]
    return theta - lr * g


def ref_adam(theta, g, s, t, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
             amsgrad=False, maximize=False, decoupled_weight_decay=False):
    b1, b2 = betas
    g = -g if maximize else g
    if weight_decay:
        if decoupled_weight_decay:
            theta = theta * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * theta
    s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
    s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
    m_hat = s["m"] / (1 - b1 ** t)
    if amsgrad:
        s["vmax"] = np.maximum(s.get("vmax", 0.0), s["v"])
        v_hat = s["vmax"] / (1 - b2 ** t)
    else:
        v_hat = s["v"] / (1 - b2 ** t)
    return theta - lr * m_hat / (np.sqrt(v_hat) + eps)


def ref_adamw(theta, g, s, t, weight_decay=1e-2, **kw):
    return ref_adam(theta, g, s, t, weight_decay=weight_decay, decoupled_weight_decay=True,
                    **kw)


def ref_rmsprop(theta, g, s, t, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0,
                momentum=0.0, centered=False, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * theta
    s["v"] = alpha * s.get("v", 0.0) + (1 - alpha) * g * g
    v = s["v"]
    if centered:
        s["g_avg"] = alpha * s.get("g_avg", 0.0) + (1 - alpha) * g
        v = v - s["g_avg"] ** 2
    if momentum > 0:
        s["b"] = momentum * s.get("b", 0.0) + g / (np.sqrt(v) + eps)
        return theta - lr * s["b"]
    return theta - lr * g / (np.sqrt(v) + eps)


def ref_adagrad(theta, g, s, t, lr=1e-2, lr_decay=0.0, weight_decay=0.0,
                initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    g = -g if maximize else g
    if weight_decay:
        g = g + weight_decay * theta
    lr_t = lr / (1 + (t - 1) * lr_decay)
    s["sum"] = s.get("sum", initial_accumulator_value) + g * g
    return theta - lr_t * g / (np.sqrt(s["sum"]) + eps)


REFS = {"SGD": ref_sgd, "Adam": ref_adam, "AdamW": ref_adamw, "RMSprop": ref_rmsprop,
        "Adagrad": ref_adagrad}


def _product(**options):
    keys = list(options)
    return [dict(zip(keys, v)) for v in itertools.product(*options.values())]


CASES = (
    [("SGD", dict(lr=0.1, **c)) for c in _product(
        momentum=[0.0, 0.9], dampening=[0.0, 0.4], weight_decay=[0.0, 0.2],
        maximize=[False, True])]
    + [("SGD", dict(lr=0.05, momentum=0.8, nesterov=True, **c)) for c in _product(
        weight_decay=[0.0, 0.3], maximize=[False, True])]
    + [("Adam", dict(lr=0.05, **c)) for c in _product(
        amsgrad=[False, True], betas=[(0.9, 0.999), (0.9, 0.6)], weight_decay=[0.0, 0.3],
        maximize=[False, True])]
    + [("Adam", dict(lr=0.05, betas=(0.5, 0.8), eps=1e-2)),
       ("Adam", dict(lr=0.05, weight_decay=0.3, decoupled_weight_decay=True)),
       ("Adam", dict())]
    + [("AdamW", dict(lr=0.05, betas=(0.9, 0.6), **c)) for c in _product(
        amsgrad=[False, True], weight_decay=[1e-2, 0.5], maximize=[False, True])]
    + [("AdamW", dict())]
    + [("RMSprop", dict(lr=0.02, **c)) for c in _product(
        centered=[False, True], momentum=[0.0, 0.7], weight_decay=[0.0, 0.2],
        maximize=[False, True])]
    + [("RMSprop", dict(lr=0.02, alpha=0.7, eps=1e-2, centered=True)), ("RMSprop", dict())]
    + [("Adagrad", dict(lr=0.1, **c)) for c in _product(
        lr_decay=[0.0, 0.5], weight_decay=[0.0, 0.2], initial_accumulator_value=[0.0, 0.4],
        maximize=[False, True])]
    + [("Adagrad", dict(lr=0.1, eps=0.5)), ("Adagrad", dict())]
)


def _case_id(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


@pytest.mark.parametrize("case", CASES, ids=_case_id)
def test_optimizer_follows_its_documented_algorithm(case):
    name, kw = case
    inits, grads = _problem()
    params = [cr.tensor(a.copy(), requires_grad=True) for a in inits]
    opt = getattr(optim, name)(params, **kw)
    theta = [a.copy() for a in inits]
    states = [{} for _ in inits]
    for t, gs in enumerate(grads, start=1):
        for p, g in zip(params, gs):
            p.grad = cr.tensor(g.copy())
        opt.step()
        theta = [REFS[name](th, g, s, t, **kw) for th, g, s in zip(theta, gs, states)]
        for i, (p, want) in enumerate(zip(params, theta)):
            np.testing.assert_allclose(p.data, want, rtol=1e-12, atol=1e-14,
                                       err_msg=f"step {t}, parameter {i}")


def test_each_option_changes_the_trajectory():
    """The references are only worth something if every option matters on this problem."""
    inits, grads = _problem()

    def final(name, **kw):
        theta, states = [a.copy() for a in inits], [{} for _ in inits]
        for t, gs in enumerate(grads, start=1):
            theta = [REFS[name](th, g, s, t, **kw) for th, g, s in zip(theta, gs, states)]
        return np.concatenate([np.ravel(x) for x in theta])

    pairs = [("SGD", dict(lr=0.1, momentum=0.9), dict(dampening=0.4)),
             ("SGD", dict(lr=0.1, momentum=0.9), dict(nesterov=True)),
             ("Adam", dict(lr=0.05, betas=(0.9, 0.6)), dict(amsgrad=True)),
             ("AdamW", dict(lr=0.05), dict(weight_decay=0.5)),
             ("Adam", dict(lr=0.05, weight_decay=0.3), dict(decoupled_weight_decay=True)),
             ("RMSprop", dict(lr=0.02), dict(centered=True)),
             ("RMSprop", dict(lr=0.02, centered=True), dict(momentum=0.7)),
             ("Adagrad", dict(lr=0.1), dict(lr_decay=0.5)),
             ("Adagrad", dict(lr=0.1), dict(initial_accumulator_value=0.4))]
    for name, base, extra in pairs:
        assert np.abs(final(name, **base) - final(name, **base, **extra)).max() > 1e-3, \
            (name, extra)


def test_adagrad_lr_decay_by_hand():
    # one coordinate, gradient 1 each step: sum_t = t, lr_t = lr / (1 + (t - 1) decay)
    w = cr.tensor([0.0], dtype=cr.float64, requires_grad=True)
    opt = optim.Adagrad([w], lr=1.0, lr_decay=1.0, eps=0.0)
    expected = 0.0
    for t in range(1, 5):
        w.grad = cr.tensor([1.0], dtype=cr.float64)
        opt.step()
        expected -= 1.0 / (1 + (t - 1)) / math.sqrt(t)
        assert w.item() == pytest.approx(expected, rel=1e-14)


def test_rmsprop_centered_by_hand():
    # gradient 1 twice, alpha 0.5: v = 0.5, 0.75; g_avg = 0.5, 0.75; v - g_avg^2 = 0.25, 0.1875
    w = cr.tensor([0.0], dtype=cr.float64, requires_grad=True)
    opt = optim.RMSprop([w], lr=1.0, alpha=0.5, eps=0.0, centered=True)
    w.grad = cr.tensor([1.0], dtype=cr.float64)
    opt.step()
    assert w.item() == pytest.approx(-1 / math.sqrt(0.25), rel=1e-14)
    opt.step()
    assert w.item() == pytest.approx(-2.0 - 1 / math.sqrt(0.1875), rel=1e-14)
    assert opt.state[w]["grad_avg"].item() == pytest.approx(0.75, rel=1e-14)


# ----------------------------------------------------------------------- torch's switches


@pytest.mark.parametrize("name,flags", [
    ("SGD", dict(foreach=True, fused=None)), ("SGD", dict(foreach=False, fused=True)),
    ("Adam", dict(foreach=True, capturable=True)), ("Adam", dict(fused=True)),
    ("AdamW", dict(foreach=False, capturable=False, fused=True)),
    ("RMSprop", dict(foreach=True, capturable=True)),
    ("Adagrad", dict(foreach=True)), ("Adagrad", dict(fused=True)),
])
def test_torch_implementation_switches_are_accepted_and_change_nothing(name, flags):
    inits, grads = _problem()
    runs = []
    for kw in ({}, flags, dict(flags, differentiable=False)):
        params = [cr.tensor(a.copy(), requires_grad=True) for a in inits]
        opt = getattr(optim, name)(params, lr=0.05, **kw)
        for gs in grads:
            for p, g in zip(params, gs):
                p.grad = cr.tensor(g.copy())
            opt.step()
        for key, value in kw.items():  # kept in the param groups, as torch keeps them
            assert opt.param_groups[0][key] == value
        runs.append([p.data.copy() for p in params])
    for other in runs[1:]:
        for a, b in zip(runs[0], other):
            np.testing.assert_array_equal(a, b)


def test_torch_switches_keep_torchs_positions():
    p = [cr.zeros(2, requires_grad=True)]
    # RMSprop(params, lr, alpha, eps, weight_decay, momentum, centered, capturable, foreach,
    # maximize, differentiable) and Adagrad(..., eps, foreach, *, ...), as in torch
    g = optim.RMSprop(p, 0.01, 0.99, 1e-8, 0, 0, False, True, True, True).param_groups[0]
    assert (g["capturable"], g["foreach"], g["maximize"]) == (True, True, True)
    assert optim.Adagrad(p, 0.01, 0, 0, 0, 1e-10, True).param_groups[0]["foreach"] is True
    defaults = optim.Adam(p).defaults
    assert (defaults["foreach"], defaults["fused"], defaults["capturable"],
            defaults["differentiable"]) == (None, None, False, False)


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_differentiable_true_is_refused(name):
    p = [cr.zeros(2, requires_grad=True)]
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        getattr(optim, name)(p, differentiable=True)
    opt = getattr(optim, name)(p)
    with pytest.raises(NotImplementedError, match="differentiable=True"):
        opt.add_param_group({"params": [cr.zeros(1, requires_grad=True)],
                             "differentiable": True})
    assert len(opt.param_groups) == 1


def test_fused_and_foreach_together_is_torchs_error():
    with pytest.raises(RuntimeError, match="`fused` and `foreach` cannot be `True` together"):
        optim.Adam([cr.zeros(2, requires_grad=True)], fused=True, foreach=True)


def test_state_dict_with_switches_round_trips_through_save(tmp_path):
    params = [cr.tensor([1.0, 2.0], requires_grad=True)]
    opt = optim.Adam(params, lr=0.1, fused=True)
    params[0].grad = cr.tensor([0.5, -0.5])
    opt.step()
    cr.save(opt.state_dict(), str(tmp_path / "opt.safetensors"))
    loaded = cr.load(str(tmp_path / "opt.safetensors"))
    other = optim.Adam([cr.tensor([1.0, 2.0], requires_grad=True)], lr=0.1)
    other.load_state_dict(loaded)
    assert other.param_groups[0]["fused"] is True and other.param_groups[0]["foreach"] is None


# ----------------------------------------------------------------------- schedulers


def _lrs(build, n=25, base=(0.1, 0.02)):
    opt = optim.SGD([{"params": [cr.zeros(1, requires_grad=True)], "lr": b} for b in base],
                    lr=base[0])
    s = build(opt)
    out = [[g["lr"] for g in opt.param_groups]]
    for _ in range(n):
        opt.step()
        s.step()
        out.append([g["lr"] for g in opt.param_groups])
    return out


@pytest.mark.parametrize("build,formula", [
    (lambda o: sched.MultiplicativeLR(o, lambda e: 0.97), lambda b, e: b * 0.97 ** e),
    (lambda o: sched.MultiplicativeLR(o, [lambda e: 0.9, lambda e: 1.0 + 0.01 * e]),
     lambda b, e, i: b * (0.9 ** e if i == 0 else math.prod(1.0 + 0.01 * k
                                                            for k in range(1, e + 1)))),
    (lambda o: sched.ChainedScheduler([sched.ExponentialLR(o, 0.95), sched.StepLR(o, 10, 0.5)]),
     lambda b, e: b * 0.95 ** e * 0.5 ** (e // 10)),
    # LinearLR for 5 epochs, then cosine started afresh at epoch 5 (torch's SequentialLR)
    (lambda o: sched.SequentialLR(o, [sched.LinearLR(o, 0.1, total_iters=5),
                                      sched.CosineAnnealingLR(o, T_max=12)], milestones=[5]),
     lambda b, e: (b * (0.1 + 0.9 * e / 5) if e < 5 else
                   b * (1 + math.cos(math.pi * (e - 5) / 12)) / 2)),
    (lambda o: sched.SequentialLR(o, [sched.ConstantLR(o, 0.5, total_iters=3),
                                      sched.ExponentialLR(o, 0.8)], milestones=[3]),
     lambda b, e: b * 0.5 if e < 3 else b * 0.8 ** (e - 3)),
], ids=["MultiplicativeLR", "MultiplicativeLR-list", "ChainedScheduler", "SequentialLR-cosine",
        "SequentialLR-exponential"])
def test_scheduler_closed_forms(build, formula):
    base = (0.1, 0.02)
    per_group = len(inspect.signature(formula).parameters) == 3
    for epoch, got in enumerate(_lrs(build, base=base)):
        want = [formula(b, epoch, i) if per_group else formula(b, epoch)
                for i, b in enumerate(base)]
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"epoch {epoch}"
