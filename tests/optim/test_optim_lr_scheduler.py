"""Learning-rate schedulers: the lr sequence against torch's step by step (where torch is
installed) and against the closed-form formulas (always)."""

from __future__ import annotations

import copy
import math
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim
from chainrule.optim import lr_scheduler as sched

N = 60


def make_opt(module, tensor, kind="SGD", lrs=(0.1,), **kw):
    """An optimizer over one parameter per group; group i has lr lrs[i]."""
    groups = [{"params": [tensor()], "lr": lr} for lr in lrs]
    if kind == "SGD":
        return module.optim.SGD(groups, lr=lrs[0], momentum=kw.pop("momentum", 0.9), **kw)
    return getattr(module.optim, kind)(groups, lr=lrs[0], **kw)


def cr_param():
    return cr.zeros(2, requires_grad=True)


def lr_trajectory(module, tensor, build, n=N, kind="SGD", lrs=(0.1, 0.02), metrics=None,
                  opt_kw=None):
    """[(lrs, momenta)] after building and after each of n (optimizer, scheduler) steps."""
    opt = make_opt(module, tensor, kind, lrs, **(opt_kw or {}))
    s = build(module.optim.lr_scheduler, opt)

    def record():
        lr = [g["lr"] for g in opt.param_groups]
        mom = [g["betas"][0] if "betas" in g else g.get("momentum") for g in opt.param_groups]
        return lr, mom, list(s.get_last_lr())

    out = [record()]
    for i in range(n):
        opt.step()
        if metrics is not None:
            s.step(metrics[i])
        else:
            s.step()
        out.append(record())
    return out


def plateau_metrics(n=N):
    # improves, stalls, improves by less than the default threshold (1e-4, relative), then
    # by a little more than it, stalls...
    vals, v = [], 10.0
    for i in range(n):
        if i % 13 < 4:
            v *= 0.9
        elif i % 13 == 7:
            v *= 0.99995
        elif i % 13 == 10:
            v *= 0.99985
        vals.append(v)
    return vals


CASES = {
    "StepLR": (lambda S, o: S.StepLR(o, step_size=7, gamma=0.5), {}),
    "MultiStepLR": (lambda S, o: S.MultiStepLR(o, milestones=[5, 12, 12, 30], gamma=0.3), {}),
    "ExponentialLR": (lambda S, o: S.ExponentialLR(o, gamma=0.93), {}),
    "CosineAnnealingLR": (lambda S, o: S.CosineAnnealingLR(o, T_max=17, eta_min=0.001), {}),
    "CosineAnnealingLR-eta0": (lambda S, o: S.CosineAnnealingLR(o, T_max=10), {}),
    "LambdaLR": (lambda S, o: S.LambdaLR(o, lambda e: 1.0 / (1 + e) ** 0.5), {}),
    "LambdaLR-list": (lambda S, o: S.LambdaLR(o, [lambda e: 0.9 ** e, lambda e: 1 + e]), {}),
    "MultiplicativeLR": (lambda S, o: S.MultiplicativeLR(o, lambda e: 0.97), {}),
    "LinearLR": (lambda S, o: S.LinearLR(o, start_factor=0.25, end_factor=0.9,
                                         total_iters=20), {}),
    "LinearLR-default": (lambda S, o: S.LinearLR(o), {}),
    "ConstantLR": (lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4), {}),
    "PolynomialLR": (lambda S, o: S.PolynomialLR(o, total_iters=25, power=2.0), {}),
    "OneCycleLR-cos": (lambda S, o: S.OneCycleLR(o, max_lr=1.0, total_steps=N), {}),
    "OneCycleLR-linear": (lambda S, o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=N + 5,
                                                    anneal_strategy="linear", pct_start=0.4),
                          {}),
    "OneCycleLR-three-phase": (lambda S, o: S.OneCycleLR(
        o, max_lr=0.8, epochs=6, steps_per_epoch=10, three_phase=True, div_factor=10.0,
        final_div_factor=100.0), {}),
    "OneCycleLR-adam": (lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=N,
                                                  base_momentum=0.8, max_momentum=0.9),
                        {"kind": "Adam"}),
    "OneCycleLR-adamw-no-momentum": (lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=N,
                                                               cycle_momentum=False),
                                     {"kind": "AdamW"}),
    "OneCycleLR-rmsprop": (lambda S, o: S.OneCycleLR(o, max_lr=0.01, total_steps=N),
                           {"kind": "RMSprop"}),
    "SequentialLR": (lambda S, o: S.SequentialLR(o, [S.LinearLR(o, 0.1, total_iters=5),
                                                     S.CosineAnnealingLR(o, T_max=30)],
                                                 milestones=[5]), {}),
    "ChainedScheduler": (lambda S, o: S.ChainedScheduler([S.ExponentialLR(o, 0.95),
                                                          S.StepLR(o, 10, 0.5)]), {}),
    "ReduceLROnPlateau": (lambda S, o: S.ReduceLROnPlateau(o, patience=2, factor=0.5,
                                                           cooldown=1, min_lr=[1e-3, 0.0]),
                          {"metrics": plateau_metrics()}),
    "ReduceLROnPlateau-max-abs": (lambda S, o: S.ReduceLROnPlateau(
        o, mode="max", threshold_mode="abs", threshold=0.05, patience=0, factor=0.7,
        min_lr=0.01), {"metrics": [-v for v in plateau_metrics()]}),
    "ReduceLROnPlateau-eps": (lambda S, o: S.ReduceLROnPlateau(o, patience=1, factor=0.9,
                                                               eps=1e-3),
                              {"metrics": [1.0] * N}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_lr_sequence_matches_torch(torch, name):
    build, kw = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # optimizer.step() comes first: no warning expected
        ours = lr_trajectory(cr, cr_param, build, **kw)
    theirs = lr_trajectory(torch, lambda: torch.zeros(2, requires_grad=True), build, **kw)
    assert len(ours) == len(theirs) == N + 1
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"step {step}"  # the same float arithmetic: equal to the last bit


# ------------------------------------------------------------------ closed forms (no torch)


def closed_form_trajectory(build, n=N, lrs=(0.1, 0.02)):
    return [lr for lr, _, _ in lr_trajectory(cr, cr_param, build, n=n, lrs=lrs)]


@pytest.mark.parametrize("build,formula", [
    (lambda S, o: S.StepLR(o, step_size=7, gamma=0.5), lambda b, e: b * 0.5 ** (e // 7)),
    (lambda S, o: S.MultiStepLR(o, milestones=[12, 5, 30, 12], gamma=0.3),
     lambda b, e: b * 0.3 ** sum(e >= m for m in [5, 12, 12, 30])),
    (lambda S, o: S.ExponentialLR(o, gamma=0.93), lambda b, e: b * 0.93 ** e),
    (lambda S, o: S.CosineAnnealingLR(o, T_max=17, eta_min=0.001),
     lambda b, e: 0.001 + (b - 0.001) * (1 + math.cos(math.pi * e / 17)) / 2),
    (lambda S, o: S.LambdaLR(o, lambda e: 1.0 / (1 + e)), lambda b, e: b / (1 + e)),
    (lambda S, o: S.LinearLR(o, start_factor=0.25, end_factor=0.9, total_iters=20),
     lambda b, e: b * (0.25 + 0.65 * min(e, 20) / 20)),
    (lambda S, o: S.ConstantLR(o, factor=0.5, total_iters=4),
     lambda b, e: b * (0.5 if e < 4 else 1.0)),
    (lambda S, o: S.PolynomialLR(o, total_iters=25, power=2.0),
     lambda b, e: b * (1 - min(e, 25) / 25) ** 2),
], ids=["StepLR", "MultiStepLR", "ExponentialLR", "CosineAnnealingLR", "LambdaLR", "LinearLR",
        "ConstantLR", "PolynomialLR"])
def test_chainable_steps_follow_the_closed_form(build, formula):
    lrs = (0.1, 0.02)
    for epoch, got in enumerate(closed_form_trajectory(build, lrs=lrs)):
        want = [formula(b, epoch) for b in lrs]
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), f"epoch {epoch}"


def test_onecycle_follows_its_phases():
    total, max_lr, div, final_div = 100, 1.0, 25.0, 1e4
    opt = make_opt(cr, cr_param, "SGD", (0.1,))
    s = sched.OneCycleLR(opt, max_lr=max_lr, total_steps=total, div_factor=div,
                         final_div_factor=final_div)
    initial, minimum, up = max_lr / div, max_lr / div / final_div, 0.3 * total - 1

    def cos(start, end, pct):
        return end + (start - end) / 2 * (1 + math.cos(math.pi * pct))

    for step in range(total):
        if step <= up:
            lr, mom = cos(initial, max_lr, step / up), cos(0.95, 0.85, step / up)
        else:
            pct = (step - up) / (total - 1 - up)
            lr, mom = cos(max_lr, minimum, pct), cos(0.85, 0.95, pct)
        g = opt.param_groups[0]
        assert (g["lr"], g["momentum"]) == pytest.approx((lr, mom), rel=1e-12), step
        opt.step()
        if step < total - 1:
            s.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(minimum)
    with pytest.raises(ValueError, match="Tried to step 101 times"):
        s.step()
        s.step()


def test_onecycle_three_phase_and_linear_peaks():
    opt = make_opt(cr, cr_param, "Adam", (0.1,))
    s = sched.OneCycleLR(opt, max_lr=0.5, total_steps=40, three_phase=True,
                         anneal_strategy="linear", pct_start=0.25)
    lrs, betas = [], []
    for _ in range(39):
        lrs.append(opt.param_groups[0]["lr"])
        betas.append(opt.param_groups[0]["betas"][0])
        opt.step()
        s.step()
    assert lrs[0] == pytest.approx(0.02) and max(lrs) == pytest.approx(0.5)
    assert lrs.index(max(lrs)) == 9  # end of phase 1: 0.25 * 40 - 1
    assert lrs[18] == pytest.approx(0.02)  # back at the initial lr after phase 2
    assert min(betas) == pytest.approx(0.85) and betas[9] == pytest.approx(0.85)
    assert opt.param_groups[0]["betas"][1] == 0.999


def test_reduce_lr_on_plateau_by_hand():
    opt = make_opt(cr, cr_param, "SGD", (1.0,))
    s = sched.ReduceLROnPlateau(opt, patience=1, factor=0.5, cooldown=1, min_lr=0.2)
    seen = []
    for metric in [5, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3]:
        s.step(metric)
        seen.append(opt.param_groups[0]["lr"])
    # the 2nd bad epoch in a row reduces (patience 1); the epoch after a reduction is a
    # cooldown epoch whose bad count is dropped; min_lr caps the last reduction at 0.2
    assert seen == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.2]
    for _ in range(10):
        s.step(3)
    assert opt.param_groups[0]["lr"] == 0.2 and s.get_last_lr() == [0.2]
    s.step(cr.tensor(1.0))  # a 0-d tensor metric works
    assert s.best == 1.0


# ------------------------------------------------------------------ base behaviour


def test_base_lrs_and_last_epoch():
    opt = make_opt(cr, cr_param, "SGD", (0.1, 0.02))
    s = sched.StepLR(opt, step_size=2)
    assert s.base_lrs == [0.1, 0.02] and s.last_epoch == 0
    assert [g["initial_lr"] for g in opt.param_groups] == [0.1, 0.02]
    opt.step()
    s.step()
    assert s.last_epoch == 1 and s.get_last_lr() == [0.1, 0.02]


def test_resuming_with_last_epoch_needs_initial_lr():
    opt = make_opt(cr, cr_param, "SGD", (0.1,))
    with pytest.raises(KeyError, match="initial_lr"):
        sched.StepLR(opt, step_size=2, last_epoch=3)


def test_scheduler_state_dict_round_trip():
    def build(o):
        return sched.SequentialLR(o, [sched.LinearLR(o, 0.1, total_iters=4),
                                      sched.CosineAnnealingLR(o, T_max=20, eta_min=1e-4)],
                                  milestones=[4])

    opt = make_opt(cr, cr_param, "SGD", (0.1, 0.02))
    s = build(opt)
    for _ in range(9):
        opt.step()
        s.step()
    opt_sd, s_sd = copy.deepcopy(opt.state_dict()), copy.deepcopy(s.state_dict())
    assert "optimizer" not in s_sd

    opt2 = make_opt(cr, cr_param, "SGD", (0.5, 0.5))
    s2 = build(opt2)  # schedulers first, then the optimizer state (as torch documents)
    opt2.load_state_dict(opt_sd)
    s2.load_state_dict(s_sd)
    for _ in range(15):
        opt.step()
        s.step()
        opt2.step()
        s2.step()
        assert s2.get_last_lr() == s.get_last_lr()
        assert [g["lr"] for g in opt2.param_groups] == [g["lr"] for g in opt.param_groups]


def test_multistep_state_dict_survives_json_keys():
    opt = make_opt(cr, cr_param, "SGD", (0.1,))
    s = sched.MultiStepLR(opt, milestones=[2, 4])
    sd = s.state_dict()
    sd["milestones"] = {str(k): v for k, v in sd["milestones"].items()}  # as JSON stores it
    s.load_state_dict(sd)
    for _ in range(4):
        opt.step()
        s.step()
    assert s.get_last_lr() == pytest.approx([0.001])


def test_lambda_state_dict_saves_callable_objects_only():
    class Warmup:
        def __init__(self, n):
            self.n = n

        def __call__(self, e):
            return min(1.0, (e + 1) / self.n)

    opt = make_opt(cr, cr_param, "SGD", (0.1, 0.1))
    s = sched.LambdaLR(opt, [Warmup(4), lambda e: 1.0])
    sd = s.state_dict()
    assert sd["lr_lambdas"] == [{"n": 4}, None]
    sd["lr_lambdas"][0]["n"] = 8
    s.load_state_dict(sd)
    assert s.lr_lambdas[0].n == 8


def test_scheduler_step_before_optimizer_step_warns():
    opt = make_opt(cr, cr_param, "SGD", (0.1,))
    s = sched.ExponentialLR(opt, 0.5)
    with pytest.warns(UserWarning, match="before `optimizer.step\\(\\)`"):
        s.step()


def test_step_with_epoch_uses_the_closed_form_and_warns():
    opt = make_opt(cr, cr_param, "SGD", (1.0,))
    s = sched.StepLR(opt, step_size=3, gamma=0.1)
    opt.step()
    with pytest.warns(UserWarning, match="epoch parameter"):
        s.step(7)
    assert s.last_epoch == 7 and opt.param_groups[0]["lr"] == pytest.approx(0.01)


@pytest.mark.parametrize("build,exc,match", [
    (lambda o: sched.StepLR(object(), 3), TypeError, "is not an Optimizer"),
    (lambda o: sched.LinearLR(o, start_factor=0), ValueError, "Starting multiplicative"),
    (lambda o: sched.LinearLR(o, end_factor=1.5), ValueError, "Ending multiplicative"),
    (lambda o: sched.ConstantLR(o, factor=2), ValueError, "between 0 and 1"),
    (lambda o: sched.LambdaLR(o, [lambda e: 1.0] * 3), ValueError, "Expected 1 lr_lambdas"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0), ValueError, "total_steps OR"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=0), ValueError, "positive integer"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=1), ValueError,
     "pct_start"),
    (lambda o: sched.OneCycleLR(o, max_lr=1.0, total_steps=10, anneal_strategy="exp"),
     ValueError, "anneal_strategy"),
    (lambda o: sched.OneCycleLR(o, max_lr=[1.0, 2.0], total_steps=10), ValueError,
     "max_lr must have the same length"),
    (lambda o: sched.ReduceLROnPlateau(o, factor=1.0), ValueError, "Factor should be < 1.0"),
    (lambda o: sched.ReduceLROnPlateau(o, mode="up"), ValueError, "mode up is unknown"),
    (lambda o: sched.ReduceLROnPlateau(o, threshold_mode="x"), ValueError, "threshold mode"),
    (lambda o: sched.ReduceLROnPlateau(o, min_lr=[0.1, 0.2]), ValueError, "min_lrs"),
    (lambda o: sched.SequentialLR(o, [sched.StepLR(o, 2)], milestones=[3]), ValueError,
     "one more than the number of milestone"),
])
def test_invalid_scheduler_arguments(build, exc, match):
    opt = make_opt(cr, cr_param, "SGD", (0.1,))
    with pytest.raises(exc, match=match):
        build(opt)


def test_onecycle_without_momentum_option_needs_cycle_momentum_false():
    opt = optim.Adagrad([cr_param()])
    with pytest.raises(ValueError, match="must support momentum"):
        sched.OneCycleLR(opt, max_lr=0.1, total_steps=10)
    sched.OneCycleLR(opt, max_lr=0.1, total_steps=10, cycle_momentum=False)


def test_schedulers_drive_training():
    """A scheduled optimizer still trains: the lr it applies is the scheduled one."""
    w = cr.tensor(np.array([4.0], dtype=np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.5)
    s = sched.StepLR(opt, step_size=1, gamma=0.5)
    expected = 4.0
    for step in range(4):
        w.grad = cr.ones_like(w)
        opt.step()
        expected -= 0.5 * 0.5 ** step
        s.step()
        assert float(w.data[0]) == pytest.approx(expected)
