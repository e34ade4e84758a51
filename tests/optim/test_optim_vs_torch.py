"""Each optimizer, with every option that changes its update, against torch.optim.

Both frameworks start from the same weights and receive the same gradients at every step;
parameters are compared after every step.  float64 runs check the algorithm to ~1e-12,
float32 runs check that the arithmetic stays in float32 and agrees to float32 precision.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
from chainrule import optim

SHAPES = [(3, 4), (5,), ()]
STEPS = 50


def _product(**options):
    keys = list(options)
    return [dict(zip(keys, values)) for values in itertools.product(*options.values())]


CASES = (
    [("SGD", dict(lr=0.1))]
    + [("SGD", dict(lr=0.05, **c)) for c in _product(
        momentum=[0.0, 0.9], weight_decay=[0.0, 0.1], maximize=[False, True])]
    + [("SGD", dict(lr=0.05, momentum=0.9, dampening=0.5)),
       ("SGD", dict(lr=0.05, momentum=0.5, dampening=0.3, weight_decay=0.05, maximize=True)),
       ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
       ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True))]
    + [("Adam", dict(lr=0.01, **c)) for c in _product(
        amsgrad=[False, True], weight_decay=[0.0, 0.1], maximize=[False, True])]
    + [("Adam", dict(lr=0.02, betas=(0.5, 0.9), eps=1e-3)),
       ("Adam", dict(lr=0.01, weight_decay=0.1, decoupled_weight_decay=True)),
       ("Adam", dict())]
    + [("AdamW", dict(lr=0.01, **c)) for c in _product(
        amsgrad=[False, True], weight_decay=[1e-2, 0.5], maximize=[False, True])]
    + [("AdamW", dict())]
    + [("RMSprop", dict(lr=0.01, **c)) for c in _product(
        centered=[False, True], momentum=[0.0, 0.9], weight_decay=[0.0, 0.1],
        maximize=[False, True])]
    + [("RMSprop", dict(lr=0.01, alpha=0.9, eps=1e-4)), ("RMSprop", dict())]
    + [("Adagrad", dict(lr=0.1, **c)) for c in _product(
        lr_decay=[0.0, 0.05], weight_decay=[0.0, 0.1], initial_accumulator_value=[0.0, 0.3],
        maximize=[False, True])]
    + [("Adagrad", dict(lr=0.1, eps=1e-3)), ("Adagrad", dict())]
)


def _case_id(case):
    name, kw = case
    return name + "-" + ",".join(f"{k}={v}" for k, v in kw.items())


def _problem(seed, dtype, steps=STEPS):
    """Initial weights and a fixed sequence of gradients; the last parameter gets no
    gradient on every third step (it must be skipped, state and step count included)."""
    rng = np.random.default_rng(seed)
    inits = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = []
    for t in range(steps):
        gs = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
        if t % 3 == 2:
            gs[-1] = None
        grads.append(gs)
    return inits, grads


def _torch_kwargs(name, kw):
    return dict(kw, foreach=False)  # torch's single-tensor reference implementation


def run_chainrule(name, kw, inits, grads):
    params = [cr.tensor(a.copy(), requires_grad=True) for a in inits]
    opt = getattr(optim, name)(params, **kw)
    out = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else cr.tensor(g)
        opt.step()
        out.append([p.data.copy() for p in params])
    return out, params, opt


def run_torch(torch, name, kw, inits, grads):
    params = [torch.tensor(a.copy(), requires_grad=True) for a in inits]
    opt = getattr(torch.optim, name)(params, **_torch_kwargs(name, kw))
    out = []
    for gs in grads:
        for p, g in zip(params, gs):
            p.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        out.append([p.detach().numpy().copy() for p in params])
    return out, params, opt


@pytest.mark.parametrize("case", CASES, ids=_case_id)
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-11, 1e-12),
                                             (np.float32, 2e-5, 2e-6)], ids=["f64", "f32"])
def test_matches_torch(torch, case, dtype, rtol, atol):
    name, kw = case
    inits, grads = _problem(7, dtype)
    ours, params, opt = run_chainrule(name, kw, inits, grads)
    ref, _, topt = run_torch(torch, name, kw, inits, grads)
    for t, (a, b) in enumerate(zip(ours, ref)):
        for i, (x, y) in enumerate(zip(a, b)):
            assert x.dtype == dtype
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol,
                                       err_msg=f"step {t + 1}, parameter {i}")
    # the state has torch's entries, dtypes and values
    tstate = topt.state_dict()["state"]
    sd = opt.state_dict()
    assert set(sd["state"]) == set(tstate)
    for pid, entry in sd["state"].items():
        assert set(entry) == set(tstate[pid]), pid
        for key, value in entry.items():
            expected = tstate[pid][key].numpy()
            if key == "step":
                assert value.dtype == cr.float32 and value.shape == ()
            else:
                assert value.dtype == params[pid].dtype
            np.testing.assert_allclose(value.data, expected, rtol=1e-4, atol=1e-5)
    # the param groups carry torch's options with torch's values
    tgroup = topt.state_dict()["param_groups"][0]
    for key, value in sd["param_groups"][0].items():
        assert key in tgroup, key
        if key != "foreach":  # the torch run asks for its single-tensor path
            assert value == tgroup[key], key


def _mlp_loss(ns, params, x, y):
    w1, b1, w2, b2 = params
    h = ns.tanh(x @ w1 + b1)
    return ((h @ w2 + b2 - y) ** 2).mean()


@pytest.mark.parametrize("name,kw", [
    ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)),
    ("Adam", dict(lr=0.01, amsgrad=True)),
    ("AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("RMSprop", dict(lr=0.01, momentum=0.5, centered=True)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01)),
], ids=lambda v: v if isinstance(v, str) else "")
@pytest.mark.parametrize("dtype,rtol,atol", [(np.float64, 1e-9, 1e-10),
                                             (np.float32, 1e-4, 1e-5)], ids=["f64", "f32"])
def test_mlp_training_matches_torch(torch, name, kw, dtype, rtol, atol):
    """A tiny tanh MLP trained end to end (forward, backward, step) in both frameworks."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((16, 4)).astype(dtype)
    y = rng.standard_normal((16, 2)).astype(dtype)
    inits = [rng.standard_normal(s).astype(dtype) * 0.5 for s in [(4, 8), (8,), (8, 2), (2,)]]

    params = [cr.tensor(a.copy(), requires_grad=True) for a in inits]
    opt = getattr(optim, name)(params, **kw)
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in inits]
    topt = getattr(torch.optim, name)(tparams, **_torch_kwargs(name, kw))
    xc, yc, xt, yt = cr.tensor(x), cr.tensor(y), torch.from_numpy(x), torch.from_numpy(y)
    for step in range(30):
        opt.zero_grad()
        loss = _mlp_loss(cr, params, xc, yc)
        loss.backward()
        opt.step()
        topt.zero_grad()
        tloss = _mlp_loss(torch, tparams, xt, yt)
        tloss.backward()
        topt.step()
        assert float(loss) == pytest.approx(tloss.item(), rel=max(rtol, 1e-6))
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=rtol, atol=atol,
                                       err_msg=f"step {step + 1}")
    assert float(loss) < float(_mlp_loss(cr, [cr.tensor(a) for a in inits], xc, yc))


@pytest.mark.parametrize("name", ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"])
def test_param_groups_with_different_options_match_torch(torch, name):
    inits, grads = _problem(11, np.float64, steps=20)
    extra = {"SGD": dict(momentum=0.5), "Adam": dict(betas=(0.8, 0.9)),
             "AdamW": dict(weight_decay=0.3), "RMSprop": dict(centered=True),
             "Adagrad": dict(lr_decay=0.1)}[name]

    def build(module, tensors, **kw):
        groups = [{"params": tensors[:2]}, {"params": tensors[2:], "lr": 0.003, **extra}]
        return getattr(module, name)(groups, lr=0.05, **kw)

    params = [cr.tensor(a.copy(), requires_grad=True) for a in inits]
    tparams = [torch.tensor(a.copy(), requires_grad=True) for a in inits]
    opt, topt = build(optim, params), build(torch.optim, tparams, foreach=False)
    assert opt.param_groups[1]["lr"] == 0.003 and opt.param_groups[0]["lr"] == 0.05
    for gs in grads:
        for p, tp, g in zip(params, tparams, gs):
            p.grad = None if g is None else cr.tensor(g)
            tp.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        topt.step()
        for p, tp in zip(params, tparams):
            np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name,kw", [("SGD", dict(lr=0.05, momentum=0.9)),
                                     ("Adam", dict(lr=0.01, amsgrad=True)),
                                     ("RMSprop", dict(lr=0.01, centered=True, momentum=0.5)),
                                     ("Adagrad", dict(lr=0.1))],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_loads_a_torch_state_dict_and_continues_like_torch(torch, name, kw):
    inits, grads = _problem(5, np.float64, steps=20)
    ref, tparams, topt = run_torch(torch, name, kw, inits, grads[:10])
    params = [cr.tensor(p.detach().numpy().copy(), requires_grad=True) for p in tparams]
    opt = getattr(optim, name)(params, lr=1.0)
    opt.load_state_dict(topt.state_dict())  # torch tensors in the state are converted
    assert opt.param_groups[0]["lr"] == kw["lr"]
    for gs in grads[10:]:
        for p, tp, g in zip(params, tparams, gs):
            p.grad = None if g is None else cr.tensor(g)
            tp.grad = None if g is None else torch.from_numpy(g.copy())
        opt.step()
        topt.step()
    for p, tp in zip(params, tparams):
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-11, atol=1e-12)


def _nn_or_skip():
    import chainrule

    nn = getattr(chainrule, "nn", None)
    if nn is None or not hasattr(nn, "Linear"):
        pytest.skip("chainrule.nn is not available")
    return nn


@pytest.mark.parametrize("name,kw,named", [("SGD", dict(lr=0.1, momentum=0.9), False),
                                           ("Adam", dict(lr=0.01), True)],
                         ids=["SGD", "Adam-named"])
def test_trains_an_nn_model_like_torch(torch, name, kw, named):
    nn = _nn_or_skip()
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 2))
    tmodel = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 2))
    with torch.no_grad():
        for p, tp in zip(model.parameters(), tmodel.parameters()):
            tp.copy_(torch.from_numpy(p.data.copy()))
    rng = np.random.default_rng(0)
    x = rng.standard_normal((16, 4)).astype(np.float32)
    y = rng.standard_normal((16, 2)).astype(np.float32)
    params = model.named_parameters() if named else model.parameters()
    opt = getattr(optim, name)(params, **kw)
    topt = getattr(torch.optim, name)(tmodel.parameters(), **kw, foreach=False)
    for _ in range(20):
        opt.zero_grad()
        ((model(cr.tensor(x)) - cr.tensor(y)) ** 2).mean().backward()
        opt.step()
        topt.zero_grad()
        ((tmodel(torch.from_numpy(x)) - torch.from_numpy(y)) ** 2).mean().backward()
        topt.step()
    for p, tp in zip(model.parameters(), tmodel.parameters()):
        assert p.dtype == cr.float32
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-4, atol=1e-5)
    if named:
        assert opt.state_dict()["param_groups"][0]["param_names"] == \
            ["0.weight", "0.bias", "2.weight", "2.bias"]
