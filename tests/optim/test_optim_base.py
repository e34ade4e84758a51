"""The Optimizer contract: param groups, state, zero_grad, state_dict round trips,
hyperparameter validation, in-place float32 updates.  Runs without torch."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

ALL = {
    "SGD": dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01),
    "Adam": dict(lr=0.01, amsgrad=True, weight_decay=0.01),
    "AdamW": dict(lr=0.01, amsgrad=True),
    "RMSprop": dict(lr=0.01, momentum=0.9, centered=True, weight_decay=0.01),
    "Adagrad": dict(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1),
}
EXPECTED_STATE = {
    "SGD": {"momentum_buffer"},
    "Adam": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "AdamW": {"step", "exp_avg", "exp_avg_sq", "max_exp_avg_sq"},
    "RMSprop": {"step", "square_avg", "momentum_buffer", "grad_avg"},
    "Adagrad": {"step", "sum"},
}


def make_params(seed=0, dtype=np.float32, shapes=((3, 4), (4,), ())):
    rng = np.random.default_rng(seed)
    return [cr.tensor(rng.standard_normal(s).astype(dtype), requires_grad=True)
            for s in shapes]


def grad_sequence(params, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(p.shape).astype(p.data.dtype) for p in params]
            for _ in range(steps)]


def run(opt, params, grads):
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = cr.tensor(g)
        opt.step()


def quadratic_loss(params):
    return sum(((p - 1.5) ** 2).sum() for p in params)


# ------------------------------------------------------------------ the update itself


@pytest.mark.parametrize("name", list(ALL))
def test_updates_in_place_in_the_parameter_dtype(name):
    params = make_params()
    arrays = [p.data for p in params]
    opt = getattr(optim, name)(params, **ALL[name])
    run(opt, params, grad_sequence(params, 5))
    for p, a in zip(params, arrays):
        assert p.data is a  # same Tensor, same array: updated in place
        assert p.dtype == cr.float32 and p.requires_grad and p.is_leaf
    for p in params:
        state = opt.state[p]
        assert set(state) == EXPECTED_STATE[name]
        for key, value in state.items():
            assert isinstance(value, cr.Tensor)
            if key == "step":
                assert value.shape == () and value.dtype == cr.float32 and float(value) == 5
            else:
                assert value.dtype == cr.float32 and value.shape == p.shape


@pytest.mark.parametrize("name", list(ALL))
def test_minimizes_a_quadratic_and_maximize_climbs(name):
    kw = dict(ALL[name], weight_decay=0)
    for maximize in (False, True):
        params = make_params()
        opt = getattr(optim, name)(params, **kw, maximize=maximize)
        start = float(quadratic_loss(params))
        for _ in range(20):
            opt.zero_grad()
            quadratic_loss(params).backward()
            opt.step()
        end = float(quadratic_loss(params))
        assert (end > start) if maximize else (end < start), (maximize, start, end)


@pytest.mark.parametrize("name", list(ALL))
def test_parameter_without_grad_is_skipped(name):
    params = make_params()
    opt = getattr(optim, name)(params, **ALL[name])
    frozen = params[1].data.copy()
    for _ in range(3):
        params[0].grad = cr.ones_like(params[0])
        params[2].grad = cr.ones_like(params[2])
        opt.step()
    np.testing.assert_array_equal(params[1].data, frozen)
    if name == "Adagrad":  # Adagrad creates its state up front, as torch does
        assert float(opt.state[params[1]]["step"]) == 0
    else:
        assert params[1] not in opt.state
    assert not np.array_equal(params[0].data, make_params()[0].data)


def test_sgd_first_steps_by_hand():
    w = cr.tensor(np.array([1.0, -2.0], dtype=np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1, momentum=0.9, dampening=0.5, weight_decay=0.5)
    w.grad = cr.tensor(np.array([1.0, 1.0], dtype=np.float32))
    opt.step()  # g = 1 + 0.5 w = [1.5, 0]; b = g; w -= 0.1 b
    np.testing.assert_allclose(w.data, [0.85, -2.0], rtol=1e-6)
    opt.step()  # g = 1 + 0.5 w = [1.425, 0]; b = 0.9 b + 0.5 g
    np.testing.assert_allclose(opt.state[w]["momentum_buffer"].data, [2.0625, 0.0], rtol=1e-6)
    np.testing.assert_allclose(w.data, [0.85 - 0.20625, -2.0], rtol=1e-6)


def test_adam_first_step_is_lr_times_sign():
    w = cr.tensor(np.array([1.0, -2.0, 3.0], dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.01)
    w.grad = cr.tensor(np.array([3.0, -0.5, 1e-3], dtype=np.float32))
    opt.step()  # bias-corrected m / sqrt(v) = sign(g) on the first step (up to eps)
    np.testing.assert_allclose(w.data, [0.99, -1.99, 2.99], rtol=1e-5)


def test_adamw_decays_weights_without_gradient_signal():
    w = cr.tensor(np.array([2.0, -4.0], dtype=np.float32), requires_grad=True)
    opt = optim.AdamW([w], lr=0.1, weight_decay=0.5)
    assert opt.defaults["weight_decay"] == 0.5
    assert optim.AdamW([w]).defaults["weight_decay"] == 1e-2
    w.grad = cr.zeros_like(w)
    opt.step()  # m = v = 0: only the decoupled decay acts
    np.testing.assert_allclose(w.data, [2.0 * 0.95, -4.0 * 0.95], rtol=1e-6)


def test_step_bumps_the_version_counter():
    w = cr.tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    before = w._version[0]
    w.grad = cr.ones_like(w)
    opt.step()
    assert w._version[0] > before


def test_closure_runs_with_grad_enabled_and_returns_the_loss():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    calls = []

    def closure():
        opt.zero_grad()
        loss = quadratic_loss(params)
        loss.backward()
        calls.append(float(loss))
        return loss

    with cr.no_grad():
        loss = opt.step(closure)
    assert calls and float(loss) == calls[0]
    assert float(quadratic_loss(params)) < calls[0]
    assert opt.step() is None


def test_defaults_use_torchs_values():
    p = make_params()
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                                         nesterov=False, maximize=False, foreach=None,
                                         differentiable=False, fused=None)
    adam = optim.Adam(p).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"], adam["amsgrad"]) == \
        (1e-3, (0.9, 0.999), 1e-8, 0, False)
    rms = optim.RMSprop(p).defaults
    assert (rms["lr"], rms["alpha"], rms["eps"], rms["momentum"], rms["centered"]) == \
        (1e-2, 0.99, 1e-8, 0, False)
    ada = optim.Adagrad(p).defaults
    assert (ada["lr"], ada["lr_decay"], ada["initial_accumulator_value"], ada["eps"]) == \
        (1e-2, 0, 0, 1e-10)


# ------------------------------------------------------------------ zero_grad


def test_zero_grad_sets_none_by_default():
    params = make_params()
    opt = optim.Adam(params)
    quadratic_loss(params).backward()
    assert all(p.grad is not None for p in params)
    opt.zero_grad()
    assert all(p.grad is None for p in params)


def test_zero_grad_set_to_none_false_zeroes_in_place():
    params = make_params()
    opt = optim.SGD(params, lr=0.1)
    quadratic_loss(params).backward()
    grads = [p.grad for p in params]
    opt.zero_grad(set_to_none=False)
    for p, g in zip(params, grads):
        assert p.grad is g
        assert not p.grad.data.any()
    quadratic_loss(params).backward()  # accumulates into the zeroed buffers
    np.testing.assert_allclose(params[0].grad.data, 2 * (params[0].data - 1.5), rtol=1e-6)


# ------------------------------------------------------------------ param groups


def test_param_groups_fill_defaults_and_keep_overrides():
    a, b, c = make_params()
    opt = optim.SGD([{"params": [a, b]}, {"params": c, "lr": 0.5, "momentum": 0.9}],
                    lr=0.1, momentum=0.1)
    g0, g1 = opt.param_groups
    assert len(g0["params"]) == 2 and g0["params"][0] is a and g0["params"][1] is b
    assert (g0["lr"], g0["momentum"], g0["nesterov"]) == (0.1, 0.1, False)
    assert (g1["lr"], g1["momentum"]) == (0.5, 0.9)
    assert g1["params"][0] is c  # a single Tensor becomes a list


def test_param_groups_step_with_their_own_lr():
    a, b = make_params(shapes=((2,), (2,)))
    a0, b0 = a.data.copy(), b.data.copy()
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 1.0}], lr=0.1)
    a.grad, b.grad = cr.ones_like(a), cr.ones_like(b)
    opt.step()
    np.testing.assert_allclose(a.data, a0 - 0.1, rtol=1e-6)
    np.testing.assert_allclose(b.data, b0 - 1.0, rtol=1e-6)


def test_add_param_group():
    a, b, c = make_params()
    opt = optim.Adam([a], lr=0.01)
    opt.add_param_group({"params": [b], "lr": 0.1})
    assert len(opt.param_groups) == 2 and opt.param_groups[1]["betas"] == (0.9, 0.999)
    with pytest.raises(ValueError, match="some parameters appear in more than one parameter "
                                         "group"):
        opt.add_param_group({"params": [c, a]})
    assert len(opt.param_groups) == 2  # nothing added
    with pytest.raises(ValueError, match="Invalid learning rate: -1"):
        opt.add_param_group({"params": [c], "lr": -1})
    assert len(opt.param_groups) == 2
    opt.add_param_group({"params": [c]})
    assert opt.param_groups[2]["lr"] == 0.01


def test_adagrad_add_param_group_creates_state():
    a, b, _ = make_params()
    opt = optim.Adagrad([a], initial_accumulator_value=0.25)
    opt.add_param_group({"params": [b]})
    assert float(opt.state[b]["sum"].data.ravel()[0]) == 0.25
    b.grad = cr.ones_like(b)
    opt.step()
    assert float(opt.state[b]["step"]) == 1


@pytest.mark.parametrize("params,exc,match", [
    (lambda ps: [], ValueError, "optimizer got an empty parameter list"),
    (lambda ps: ps[0], TypeError, "should be an iterable of Tensors or dicts"),
    (lambda ps: set(ps), TypeError, "ordered collections"),
    (lambda ps: [ps[0], 3.0], TypeError, "optimizer can only optimize Tensors"),
    (lambda ps: [ps[0] * 2], ValueError, "can't optimize a non-leaf Tensor"),
    (lambda ps: [ps[0], ps[0]], ValueError, "duplicate parameters"),
    (lambda ps: [{"params": [ps[0]]}, {"params": [ps[0]]}], ValueError,
     "more than one parameter group"),
    (lambda ps: [{"lr": 0.1}], ValueError, "'params'"),
    (lambda ps: [cr.tensor([1, 2])], TypeError, "floating point"),
])
def test_bad_params_are_rejected(params, exc, match):
    with pytest.raises(exc, match=match):
        optim.SGD(params(make_params()), lr=0.1)


def test_named_parameters_are_accepted():
    a, b, _ = make_params()
    opt = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert opt.param_groups[0]["param_names"] == ["w", "b"]
    assert opt.state_dict()["param_groups"][0]["param_names"] == ["w", "b"]


# ------------------------------------------------------------------ validation

INVALID = [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(weight_decay=-1e-4), "Invalid weight_decay value: -0.0001"),
    ("SGD", dict(nesterov=True), "Nesterov momentum requires a momentum and zero dampening"),
    ("SGD", dict(nesterov=True, momentum=0.9, dampening=0.1),
     "Nesterov momentum requires a momentum and zero dampening"),
    ("Adam", dict(lr=-1e-3), "Invalid learning rate: -0.001"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("Adam", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ("AdamW", dict(lr=-1), "Invalid learning rate: -1"),
    ("AdamW", dict(betas=(0.9, 1.5)), "Invalid beta parameter at index 1: 1.5"),
    ("AdamW", dict(weight_decay=-0.01), "Invalid weight_decay value: -0.01"),
    ("RMSprop", dict(lr=-0.01), "Invalid learning rate: -0.01"),
    ("RMSprop", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("RMSprop", dict(momentum=-0.9), "Invalid momentum value: -0.9"),
    ("RMSprop", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("RMSprop", dict(alpha=-0.99), "Invalid alpha value: -0.99"),
    ("Adagrad", dict(lr=-0.01), "Invalid learning rate: -0.01"),
    ("Adagrad", dict(lr_decay=-0.1), "Invalid lr_decay value: -0.1"),
    ("Adagrad", dict(weight_decay=-0.1), "Invalid weight_decay value: -0.1"),
    ("Adagrad", dict(initial_accumulator_value=-1.0),
     "Invalid initial_accumulator_value value: -1.0"),
    ("Adagrad", dict(eps=-1e-10), "Invalid epsilon value: -1e-10"),
]


@pytest.mark.parametrize("name,kw,message", INVALID,
                         ids=[f"{n}-{next(iter(k))}" for n, k, _ in INVALID])
def test_invalid_hyperparameters(name, kw, message):
    with pytest.raises(ValueError) as info:
        getattr(optim, name)(make_params(), **kw)
    assert str(info.value) == message


@pytest.mark.requires_torch
@pytest.mark.parametrize("name,kw,message", INVALID,
                         ids=[f"{n}-{next(iter(k))}" for n, k, _ in INVALID])
def test_invalid_hyperparameter_messages_are_torchs(torch, name, kw, message):
    with pytest.raises(ValueError) as info:
        getattr(torch.optim, name)([torch.zeros(2, requires_grad=True)], **kw)
    assert str(info.value) == message


def test_betas_must_be_a_pair():
    with pytest.raises(ValueError, match="expected a pair"):
        optim.Adam(make_params(), betas=(0.9,))


# ------------------------------------------------------------------ state_dict


@pytest.mark.parametrize("name", list(ALL))
def test_state_dict_round_trip_continues_the_same_trajectory(name):
    params = make_params()
    grads = grad_sequence(params, 15)
    opt = getattr(optim, name)(params, **ALL[name])
    run(opt, params, grads[:6])
    saved = copy.deepcopy(opt.state_dict())

    resumed = [cr.tensor(p.data.copy(), requires_grad=True) for p in params]
    other = dict(ALL[name], lr=123.0)  # the saved group options must win
    opt2 = getattr(optim, name)(resumed, **other)
    opt2.load_state_dict(saved)
    assert opt2.param_groups[0]["lr"] == ALL[name]["lr"]
    assert opt2.param_groups[0]["params"][0] is resumed[0]

    run(opt, params, grads[6:])
    run(opt2, resumed, grads[6:])
    for p, q in zip(params, resumed):
        np.testing.assert_array_equal(p.data, q.data)
    for p, q in zip(params, resumed):
        for key in opt.state[p]:
            np.testing.assert_array_equal(opt.state[p][key].data, opt2.state[q][key].data)


def test_loaded_state_is_a_copy_in_the_parameters_dtype():
    params = make_params()
    opt = optim.Adam(params)
    run(opt, params, grad_sequence(params, 2))
    sd = opt.state_dict()
    sd["state"][0]["exp_avg"] = sd["state"][0]["exp_avg"].double()
    sd["state"][1]["exp_avg_sq"] = np.asarray(sd["state"][1]["exp_avg_sq"].data)
    sd["state"][2]["step"] = 2  # a plain number is accepted for step
    opt2 = optim.Adam(params)
    opt2.load_state_dict(sd)
    for p in params:
        for key, value in opt2.state[p].items():
            assert isinstance(value, cr.Tensor)
            assert value.dtype == cr.float32  # exp_avg was saved as float64
            assert value.data is not opt.state[p][key].data
    assert float(opt2.state[params[2]]["step"]) == 2


def test_state_dict_format_is_torchs():
    a, b, c = make_params()
    opt = optim.SGD([{"params": [a, b]}, {"params": [c], "lr": 0.5}], lr=0.1, momentum=0.9)
    run(opt, [a, b, c], grad_sequence([a, b, c], 1))
    sd = opt.state_dict()
    assert set(sd) == {"state", "param_groups"}
    assert sorted(sd["state"]) == [0, 1, 2]
    assert set(sd["state"][2]) == {"momentum_buffer"}
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert sd["param_groups"][1]["params"] == [2]
    assert sd["param_groups"][1]["lr"] == 0.5


def _snapshot(opt):
    return ([{k: v for k, v in g.items()} for g in opt.param_groups],
            {id(p): {k: v.data.copy() for k, v in s.items()} for p, s in opt.state.items()},
            opt.state)


def _assert_unchanged(opt, snap):
    groups, state, state_obj = snap
    assert opt.state is state_obj
    assert [{k: v for k, v in g.items()} for g in opt.param_groups] == groups
    for p, s in opt.state.items():
        for k, v in s.items():
            np.testing.assert_array_equal(v.data, state[id(p)][k])


@pytest.mark.parametrize("corrupt,match", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0], params=[9])),
     "different number of parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "doesn't match the size"),
    (lambda sd: sd["state"][1].update(exp_avg=cr.zeros(7)), r"has shape \(7,\)"),
    (lambda sd: sd["state"][0].update(exp_avg_sq=cr.zeros(4, 3)), r"shape \(4, 3\)"),
    (lambda sd: sd["state"].update({5: {}}), "parameter id 5"),
    (lambda sd: sd.pop("state"), "'state'"),
])
def test_bad_state_dict_fails_before_changing_anything(corrupt, match):
    params = make_params()
    opt = optim.Adam(params, lr=0.01)
    run(opt, params, grad_sequence(params, 3))
    sd = copy.deepcopy(opt.state_dict())
    corrupt(sd)
    other = make_params(seed=5)
    opt2 = optim.Adam(other, lr=0.05)
    run(opt2, other, grad_sequence(other, 2))
    snap = _snapshot(opt2)
    with pytest.raises(ValueError, match=match):
        opt2.load_state_dict(sd)
    _assert_unchanged(opt2, snap)


def test_adamw_stays_decoupled_after_loading_an_adam_state():
    params = make_params()
    sd = optim.Adam(params, weight_decay=0.1).state_dict()
    opt = optim.AdamW(params)
    opt.load_state_dict(sd)
    assert opt.param_groups[0]["decoupled_weight_decay"] is True


def test_repr_lists_the_groups():
    text = repr(optim.SGD(make_params(), lr=0.1, momentum=0.9))
    assert text.startswith("SGD (\nParameter Group 0\n")
    assert "    lr: 0.1\n" in text and "    momentum: 0.9\n" in text and text.endswith(")")


def test_deepcopy_of_an_optimizer_is_independent():
    params = make_params()
    opt = optim.Adam(params)
    run(opt, params, grad_sequence(params, 2))
    twin = copy.deepcopy(opt)
    run(opt, params, grad_sequence(params, 1, seed=9))
    assert float(twin.state[twin.param_groups[0]["params"][0]]["step"]) == 2
