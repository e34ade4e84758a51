"""``chainrule.compile``: a replayed training step gives eager's numbers bit for bit, records
again when the step no longer fits its recording, and runs eagerly (with a warning) where a
replay could not reproduce the step."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn, optim
from chainrule.autograd import Function


def _model(dropout=0.0):
    cr.manual_seed(0)
    layers = [nn.Linear(5, 16), nn.ReLU()]
    if dropout:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers, nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3))


def _batches(n=12, batch=8, last=None):
    rng = np.random.default_rng(1)
    out = []
    for i in range(n):
        b = last if (last and i == n - 1) else batch
        out.append((cr.tensor(rng.standard_normal((b, 5)).astype(np.float32)),
                    cr.tensor(rng.integers(0, 3, b))))
    return out


def _run(make_step, compiled, batches, **model_kw):
    model = _model(**model_kw)
    step = make_step(model)
    if compiled and hasattr(step, "inner"):
        inner = cr.compile(step.inner)
        step = lambda xb, yb, inner=inner: inner(xb, F.one_hot(yb, 3).float())  # noqa: E731
        step._plans, step.eager_reason = inner._plans, inner.eager_reason
    elif compiled:
        step = cr.compile(step)
    outs = [step(xb, yb) for xb, yb in batches]
    return model, step, outs


def _ce_sgd(model):
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    return step


def _ce_sgd_zeroed_grads(model):
    opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)

    def step(xb, yb):
        opt.zero_grad(set_to_none=False)  # gradients kept and zeroed: backward adds into them
        loss = F.cross_entropy(model(xb), yb, label_smoothing=0.1)
        loss.backward()
        opt.step()
        return loss

    return step


def _mse_adam(model):
    opt = optim.Adam(model.parameters(), lr=0.01, weight_decay=0.01)

    def step(xb, yb):
        return inner(xb, F.one_hot(yb, 3).float())  # (one_hot is data: made outside)

    def inner(xb, target):
        model.zero_grad()
        out = model(xb)
        loss = F.mse_loss(out.tanh() * 2.0, target) + 0.1 * out.pow(2).mean()
        loss.backward()
        opt.step()
        return loss, out

    step.inner = inner
    return step


def _same(a, b):
    if isinstance(a, (tuple, list)):
        return all(_same(x, y) for x, y in zip(a, b))
    return np.array_equal(a.detach().numpy(), b.detach().numpy())


@pytest.mark.parametrize("make_step", [_ce_sgd, _ce_sgd_zeroed_grads, _mse_adam],
                         ids=["ce-sgd", "ce-sgd-zeroed", "mse-adam"])
def test_a_compiled_step_gives_eager_numbers_bit_for_bit(make_step):
    batches = _batches(last=5)  # the short last batch is recorded on its own
    eager_model, _, eager = _run(make_step, False, batches)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no fallback
        model, step, compiled = _run(make_step, True, batches)
    assert step.eager_reason is None and len(step._plans) == 2
    for a, b in zip(eager, compiled):
        assert _same(a, b)
    for p, q in zip(eager_model.parameters(), model.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())
        assert np.array_equal(p.grad.numpy(), q.grad.numpy())


def test_a_replay_returns_detached_results():
    _, step, outs = _run(_ce_sgd, True, _batches(3))
    assert outs[0].requires_grad and not outs[-1].requires_grad  # recorded, then replayed
    assert outs[-1].shape == () and outs[-1].dtype == cr.float32


def test_python_code_in_the_step_runs_only_while_recording():
    calls = []
    model = _model()
    opt = optim.SGD(model.parameters(), lr=0.1)

    @cr.compile
    def step(xb, yb):
        calls.append(1)  # documented: Python side effects happen at recording only
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    for xb, yb in _batches(4):
        step(xb, yb)
    assert len(calls) == 1


def test_a_changed_parameter_is_recorded_again():
    batches = _batches(6)

    def run(compiled):
        model = _model()
        step = _ce_sgd(model)
        step = cr.compile(step) if compiled else step
        for i, (xb, yb) in enumerate(batches):
            if i == 3:
                model[4].bias.requires_grad_(False)  # freeze a layer halfway
            step(xb, yb)
        return model, step

    eager, _ = run(False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compiled, step = run(True)
    assert step.eager_reason is None
    for p, q in zip(eager.parameters(), compiled.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())


def _dropout_step(model):
    return _ce_sgd(model)


class Double(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return g * 2


def _steps_that_cannot_replay():
    def inplace(model, opt):
        def step(xb, yb):
            opt.zero_grad()
            h = model[0](xb)
            h.relu_()
            loss = F.cross_entropy(model[4](model[3](model[2](h))), yb)
            loss.backward()
            opt.step()
            return loss
        return step

    def custom_function(model, opt):
        def step(xb, yb):
            opt.zero_grad()
            loss = F.cross_entropy(Double.apply(model(xb)), yb)
            loss.backward()
            opt.step()
            return loss
        return step

    def index_by_data(model, opt):
        def step(xb, yb):
            opt.zero_grad()
            logits = model(xb)
            picked = logits[cr.arange(len(yb)), yb]  # the index is data: frozen by a replay
            loss = -picked.mean()
            loss.backward()
            opt.step()
            return loss
        return step

    def grads_reset_by_hand(model, opt):
        def step(xb, yb):
            for p in model.parameters():
                p.grad = None
            loss = F.cross_entropy(model(xb), yb)
            loss.backward()
            opt.step()
            return loss
        return step

    def one_hot_inside(model, opt):
        def step(xb, yb):
            opt.zero_grad()
            loss = F.mse_loss(model(xb), F.one_hot(yb, 3).float())
            loss.backward()
            opt.step()
            return loss
        return step

    def accuracy_inside(model, opt):
        def step(xb, yb):
            opt.zero_grad()
            logits = model(xb)
            loss = F.cross_entropy(logits, yb)
            loss.backward()
            opt.step()
            return loss + (logits.argmax(1) == yb).float().mean()
        return step

    def forward_hook(model, opt):
        model[0].register_forward_hook(lambda m, a, out: None)
        return _ce_sgd(model)

    def autograd_grad(model, opt):
        def step(xb, yb):
            loss = F.cross_entropy(model(xb), yb)
            grads = cr.autograd.grad(loss, list(model.parameters()))
            with cr.no_grad():
                for p, g in zip(model.parameters(), grads):
                    p -= 0.1 * g
            return loss
        return step

    return [inplace, custom_function, index_by_data, one_hot_inside, accuracy_inside,
            grads_reset_by_hand, forward_hook, autograd_grad]


@pytest.mark.parametrize("make", _steps_that_cannot_replay(), ids=lambda f: f.__name__)
def test_steps_a_replay_cannot_reproduce_run_eagerly(make):
    batches = _batches(5)

    def run(compiled):
        model = _model()
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        step = make(model, opt)
        step = cr.compile(step) if compiled else step
        return model, step, [step(xb, yb).item() for xb, yb in batches]

    eager_model, _, eager = run(False)
    with pytest.warns(RuntimeWarning, match="chainrule.compile"):
        model, step, compiled = run(True)
    assert step.eager_reason
    assert eager == compiled
    for p, q in zip(eager_model.parameters(), model.parameters()):
        assert np.array_equal(p.detach().numpy(), q.detach().numpy())


def test_dropout_runs_eagerly_with_the_same_random_stream():
    batches = _batches(4)

    def run(compiled):
        model = _model(dropout=0.5)
        step = _ce_sgd(model)
        step = cr.compile(step) if compiled else step
        cr.manual_seed(7)
        return [step(xb, yb).item() for xb, yb in batches]

    eager = run(False)
    with pytest.warns(RuntimeWarning, match="random|outside"):
        assert run(True) == eager


def test_under_no_grad_or_anomaly_mode_the_step_runs_eagerly():
    model = _model()
    step = cr.compile(lambda x: model(x).sum())
    x = _batches(1)[0][0]
    with cr.no_grad():
        out = step(x)
    assert not step._plans and not out.requires_grad
    with cr.autograd.detect_anomaly():
        step(x)
    assert not step._plans
    step(x)
    assert len(step._plans) == 1
    np.testing.assert_array_equal(step(x).numpy(), model(x).sum().detach().numpy())


def test_a_step_must_return_tensors():
    model = _model()
    step = cr.compile(lambda x: model(x).sum().item())
    with pytest.warns(RuntimeWarning, match="returns a float"):
        value = step(_batches(1)[0][0])
    assert isinstance(value, float)
