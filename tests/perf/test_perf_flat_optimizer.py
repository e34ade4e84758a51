"""The optimizers' multi-tensor (flat) path and the gradient slots the backward pass fills
for it, against the per-parameter loop (``foreach=False``) step by step and against
torch.optim; and the ways a user could observe the flat storage (kept gradients, shared
memory, replaced arrays, loaded state), which must behave as without it.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim

SGD_OPTIONS = [dict(lr=0.1), dict(lr=0.05, momentum=0.9)] + [
    dict(lr=0.05, momentum=m, weight_decay=wd, maximize=mx)
    for m, wd, mx in itertools.product([0.0, 0.9], [0.0, 0.1], [False, True])] + [
    dict(lr=0.05, momentum=0.9, dampening=0.5),
    dict(lr=0.05, momentum=0.9, nesterov=True),
    dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1, maximize=True)]


def _data(seed=0, n=24, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 6)).astype(dtype)
    y = rng.integers(0, 3, n)
    return x, y


def _model(dtype=cr.float32):
    cr.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to(dtype)


def _train(opt_kw, steps=8, foreach=None, dtype=cr.float32, set_to_none=True):
    """Parameters and momentum buffers after each step."""
    model = _model(dtype)
    opt = optim.SGD(model.parameters(), foreach=foreach, **opt_kw)
    x, y = _data(dtype=dtype.np)
    history = []
    for s in range(steps):
        xb = cr.tensor(x[(s * 4) % 24:(s * 4) % 24 + 4])
        yb = cr.tensor(y[(s * 4) % 24:(s * 4) % 24 + 4])
        opt.zero_grad(set_to_none=set_to_none)
        F.cross_entropy(model(xb), yb).backward()
        opt.step()
        bufs = [opt.state[p].get("momentum_buffer") for p in model.parameters()]
        history.append(([p.detach().numpy().copy() for p in model.parameters()],
                        [None if b is None else b.numpy().copy() for b in bufs]))
    return model, opt, history


def _flat_in_use(opt, model):
    flat = getattr(opt, "_flat_groups", {}).get(0)
    return flat is not None and flat.in_place() and all(
        p.data.base is flat.pflat for p in model.parameters())


@pytest.mark.parametrize("kw", SGD_OPTIONS, ids=lambda kw: ",".join(f"{k}={v}" for k, v in
                                                                     kw.items()))
@pytest.mark.parametrize("set_to_none", [True, False])
def test_flat_sgd_equals_the_per_parameter_loop_at_every_step(kw, set_to_none):
    model, opt, flat = _train(kw, set_to_none=set_to_none)
    assert _flat_in_use(opt, model)
    _, loop_opt, loop = _train(kw, foreach=False, set_to_none=set_to_none)
    assert not getattr(loop_opt, "_flat_groups", {})
    for (pf, bf), (pl, bl) in zip(flat, loop):
        for a, b in zip(pf, pl):
            assert np.array_equal(a, b)  # bit for bit: the same arithmetic
        for a, b in zip(bf, bl):
            assert (a is None and b is None) or np.array_equal(a, b)


@pytest.mark.parametrize("kw", [dict(lr=0.05, momentum=0.9),
                                dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1)])
@pytest.mark.parametrize("dtype,tol", [(cr.float32, 1e-5), (cr.float64, 1e-12)])
def test_flat_sgd_trains_like_torch(torch, kw, dtype, tol):
    model, opt, history = _train(kw, dtype=dtype)
    assert _flat_in_use(opt, model)
    tmodel = torch.nn.Sequential(torch.nn.Linear(6, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3))
    tmodel = tmodel.to(torch.float32 if dtype is cr.float32 else torch.float64)
    start = _model(dtype)
    with torch.no_grad():
        for tp, p in zip(tmodel.parameters(), start.parameters()):
            tp.copy_(torch.from_numpy(p.detach().numpy()))
    topt = torch.optim.SGD(tmodel.parameters(), **kw)
    x, y = _data(dtype=dtype.np)
    for s, (params, _) in enumerate(history):
        xb = torch.from_numpy(x[(s * 4) % 24:(s * 4) % 24 + 4])
        yb = torch.from_numpy(y[(s * 4) % 24:(s * 4) % 24 + 4])
        topt.zero_grad()
        torch.nn.functional.cross_entropy(tmodel(xb), yb).backward()
        topt.step()
        for a, tp in zip(params, tmodel.parameters()):
            np.testing.assert_allclose(a, tp.detach().numpy(), rtol=tol, atol=tol)


def _step(model, opt, x, y):
    opt.zero_grad()
    F.cross_entropy(model(cr.tensor(x)), cr.tensor(y)).backward()
    opt.step()


def test_backward_fills_the_gradient_slots():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _data()
    for _ in range(2):
        _step(model, opt, x, y)
    flat = opt._flat_groups[0]
    for p, slot in zip(model.parameters(), flat.grads.views):
        assert p.grad.data is slot


def test_a_kept_gradient_is_never_overwritten():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _data()
    _step(model, opt, x, y)
    _step(model, opt, x, y)
    kept = model[0].weight.grad  # kept across zero_grad(), as a user may
    before = kept.numpy().copy()
    _step(model, opt, x[::-1].copy(), y[::-1].copy())
    np.testing.assert_array_equal(kept.numpy(), before)
    assert model[0].weight.grad is not kept


def test_a_kept_view_of_a_gradient_is_never_overwritten():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = _data()
    _step(model, opt, x, y)
    _step(model, opt, x, y)
    row = model[2].bias.grad[1:]  # a view of the flat gradient array
    before = row.numpy().copy()
    _step(model, opt, x[::-1].copy(), y[::-1].copy())
    np.testing.assert_array_equal(row.numpy(), before)


def test_a_parameter_sharing_memory_keeps_sharing_it():
    shared = cr.zeros(8, 6)
    model = _model()
    model[0].weight = nn.Parameter(shared)  # shares shared's array (as torch)
    model[0].weight.data[...] = 0.1
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _data()
    for _ in range(3):
        _step(model, opt, x, y)
    assert np.shares_memory(shared.data, model[0].weight.data)
    np.testing.assert_array_equal(shared.numpy(), model[0].weight.detach().numpy())


def test_parameters_replaced_or_loaded_keep_the_same_numbers():
    """p.data rebound, and optimizer state loaded, halfway: flat and loop agree."""
    def run(foreach):
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, foreach=foreach)
        x, y = _data()
        for s in range(6):
            if s == 2:
                w = model[0].weight
                w.data = w.data.copy()  # a user rebinding the array
            if s == 4:
                opt.load_state_dict(opt.state_dict())
            _step(model, opt, x[s:s + 8], y[s:s + 8])
        return model, opt

    flat_model, flat_opt = run(None)
    loop_model, _ = run(False)
    assert _flat_in_use(flat_opt, flat_model)
    for a, b in zip(flat_model.parameters(), loop_model.parameters()):
        np.testing.assert_array_equal(a.detach().numpy(), b.detach().numpy())


def test_state_dict_buffers_stay_live_views():
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = _data()
    for _ in range(2):
        _step(model, opt, x, y)
    buf = opt.state_dict()["state"][0]["momentum_buffer"]
    before = buf.numpy().copy()
    _step(model, opt, x, y)
    assert buf is opt.state[model[0].weight]["momentum_buffer"]
    assert not np.array_equal(buf.numpy(), before)  # updated in place, as torch's


def test_a_frozen_parameter_takes_the_loop_and_keeps_the_numbers():
    def run(foreach):
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, foreach=foreach)
        x, y = _data()
        for s in range(5):
            model[2].bias.requires_grad_(s % 2 == 0)
            _step(model, opt, x, y)
        return [p.detach().numpy() for p in model.parameters()]

    for a, b in zip(run(None), run(False)):
        np.testing.assert_array_equal(a, b)


def test_mixed_dtypes_keep_the_loop():
    a = nn.Parameter(cr.ones(3))
    b = nn.Parameter(cr.ones(3, dtype=cr.float64))
    opt = optim.SGD([a, b], lr=0.1)
    for _ in range(2):
        opt.zero_grad()
        (a.sum() + b.sum()).backward()
        opt.step()
    assert opt._flat_groups[0] is None
    np.testing.assert_allclose(a.detach().numpy(), 0.8)


@pytest.mark.parametrize("kw", [dict(lr=0.05, momentum=0.9),
                                dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=0.1),
                                dict(lr=0.1)])
@pytest.mark.parametrize("blas_kernel", [True, False])
def test_an_update_in_chunks_equals_the_loop(monkeypatch, kw, blas_kernel):
    from chainrule import blas
    from chainrule.optim import flat

    monkeypatch.setattr(flat, "CHUNK", 7)  # uneven pieces across parameter boundaries
    if not blas_kernel:  # (with one, the usual update runs in one BLAS call, unchunked)
        monkeypatch.setattr(blas, "_KERNELS", {})
    model, opt, chunked = _train(kw)
    assert len(opt._flat_groups[0].chunks) > 10 and _flat_in_use(opt, model)
    _, _, loop = _train(kw, foreach=False)
    for (pc, _), (pl, _) in zip(chunked, loop):
        for a, b in zip(pc, pl):
            assert np.array_equal(a, b)


@pytest.mark.parametrize("momentum", [0.0, 0.9])
def test_a_zero_learning_rate_keeps_numpys_inf_and_nan_rules(momentum):
    # lr = 0 times an infinite gradient is NaN (NumPy's and torch's arithmetic); BLAS skips
    # a zero coefficient, so that update must not run in BLAS
    results = []
    for foreach in (None, False):
        a = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
        b = cr.tensor([4.0, 5.0], requires_grad=True)
        opt = optim.SGD([a, b], lr=0.0, momentum=momentum, foreach=foreach)
        for _ in range(3):
            opt.zero_grad()
            (a * cr.tensor([1.0, float("inf"), 1.0])).sum().backward()
            b.sum().backward()
            opt.step()
        results.append((a.detach().numpy().copy(), b.detach().numpy().copy()))
    for got in results:
        np.testing.assert_array_equal(got[0], [1.0, np.nan, 3.0])
        np.testing.assert_array_equal(got[1], [4.0, 5.0])
