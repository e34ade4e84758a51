"""The replayable trace and the step-by-step backward walk agree with the library's own
autograd (loss.backward) and with finite differences."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn import functional as F
from chainrule.viz.trace import ReplayError, Trace, record
from chainrule.viz.walk import BackwardWalk


def _graphs():
    """(name, function building (loss, leaves)) for small graphs of different shapes."""

    def chain():
        w = cr.tensor([0.3, -0.7], dtype=cr.float64, requires_grad=True)
        x = cr.tensor([1.5, 2.0], dtype=cr.float64)
        return ((w * x).sigmoid().tanh() * 2.0).sum().log(), [w]

    def shared():  # one value feeding two ops: its gradient is a sum
        a = cr.tensor(0.4, dtype=cr.float64, requires_grad=True)
        b = a.exp()
        return b * b + b.sin(), [a]

    def broadcast():  # a (3,) bias added to (2, 3): the walk must un-broadcast
        x = cr.tensor([[0.1, 0.2, 0.3], [0.4, -0.5, 0.6]], dtype=cr.float64, requires_grad=True)
        b = cr.tensor([0.5, -0.2, 0.1], dtype=cr.float64, requires_grad=True)
        return ((x + b) ** 2).mean(), [x, b]

    def mlp():
        cr.manual_seed(3)
        m = nn.Sequential(nn.Linear(3, 4, dtype=cr.float64), nn.ReLU(),
                          nn.Linear(4, 3, dtype=cr.float64))
        x = cr.randn(2, 3, dtype=cr.float64)
        y = cr.tensor([0, 2])
        return F.cross_entropy(m(x), y), list(m.parameters())

    def mse():  # subtract with a constant: only replayable under record()
        w = cr.tensor([1.0, -2.0], dtype=cr.float64, requires_grad=True)
        t = cr.tensor([0.5, 0.5], dtype=cr.float64)
        return F.mse_loss(w * 3.0, t), [w]

    return [("chain", chain), ("shared", shared), ("broadcast", broadcast), ("mlp", mlp),
            ("mse", mse)]


@pytest.mark.parametrize("name,build", _graphs(), ids=[n for n, _ in _graphs()])
def test_walk_matches_backward_and_finite_differences(name, build):
    with record():
        loss, leaves = build()
    trace = Trace.of(loss)
    assert trace.problem is None
    # the replay reproduces the recorded forward
    assert np.allclose(trace.values[-1], loss.data)
    walk = BackwardWalk(trace)
    loss.backward()
    for k, leaf in enumerate(trace.leaves):
        assert any(leaf is t for t in leaves)
        np.testing.assert_allclose(walk.leaf_grad[k], leaf.grad.data, rtol=1e-12, atol=1e-14)
        fd, checked = trace.numeric_grad(("leaf", k))
        assert checked.all()
        np.testing.assert_allclose(walk.leaf_grad[k], fd, rtol=1e-5, atol=1e-8)
    # every edge's contribution is the derivative along that edge alone
    for (j, i), g in walk.edge_grad.items():
        if g is None:
            continue
        fd, _ = trace.numeric_grad(("in", j, i))
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)
    # and each node's incoming gradient is the derivative of the loss w.r.t. its output
    for j, g in walk.grad_out.items():
        fd, _ = trace.numeric_grad(("out", j))
        np.testing.assert_allclose(g, fd, rtol=1e-5, atol=1e-8)


def test_walk_matches_retained_intermediate_grads():
    w = cr.tensor([0.3, -0.7, 1.1], dtype=cr.float64, requires_grad=True)
    h = (w * 2.0).tanh()
    h.retain_grad()
    z = h.exp()
    z.retain_grad()
    loss = z.sum()
    trace = Trace.of(loss)
    walk = BackwardWalk(trace)
    loss.backward()
    ops = [s.op for s in trace.steps]
    assert ops == ["multiply", "tanh", "exp", "sum"]
    np.testing.assert_allclose(walk.grad_out[1], h.grad.data)
    np.testing.assert_allclose(walk.grad_out[2], z.grad.data)


def test_jacobian_rows_are_the_vjp_of_one_hot_gradients():
    x = cr.tensor([[1.0, 2.0]], dtype=cr.float64)
    w = cr.tensor([[0.5, -1.0], [2.0, 0.25], [1.0, 1.0]], dtype=cr.float64, requires_grad=True)
    b = cr.tensor([0.1, 0.2, 0.3], dtype=cr.float64, requires_grad=True)
    loss = F.linear(x, w, b).sum()
    trace = Trace.of(loss)
    walk = BackwardWalk(trace)
    jw = walk.jacobian(0, 1)  # d out (1x3) / d W (3x2), flattened row by row
    assert jw.shape == (3, 6)
    expected = np.zeros((3, 6))
    for r in range(3):
        expected[r, 2 * r:2 * r + 2] = [1.0, 2.0]
    np.testing.assert_allclose(jw, expected)
    np.testing.assert_allclose(walk.jacobian(0, 2), np.eye(3))
    assert walk.jacobian(0, 0) is None  # x needs no gradient


def test_small_constants_are_kept_and_the_simplest_graph_replays():
    # ((w * x).sum() - y) ** 2 built plainly: subtract's VJP does not read y, but a tiny
    # constant is kept (Meta.value), so the graph replays without record()
    w = cr.tensor([0.5, -1.0], dtype=cr.float64, requires_grad=True)
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    y = cr.tensor(1.0, dtype=cr.float64)
    loss = ((w * x).sum() - y) ** 2
    trace = Trace.of(loss)
    assert trace.problem is None and trace.values[-1] == loss.data
    assert [c.tolist() for c in trace.consts if c is not None] == [[1.0, 2.0], 1.0]
    # and so does a Python number in a formula
    assert Trace.of(((w * 3.0).sum() - 1.0) ** 2).problem is None


def test_unkept_constant_and_freed_graph_are_explained():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    t = cr.zeros(100)  # too big to keep by default
    loss = F.mse_loss(w.sum() * cr.ones(100), t)
    trace = Trace.of(loss)
    assert trace.values is None
    with pytest.raises(ReplayError, match=r"input 1 of subtract .*explain\(lambda: "
                                          r"loss_fn\(model\(x\), y\), path\).*record\(\)"):
        trace.require_values("explain")
    loss2 = (w * w).sum()
    loss2.backward()
    with pytest.raises(ReplayError, match="freed by backward"):
        Trace.of(loss2).require_values()


def test_a_constant_changed_after_the_graph_is_not_replayed_silently():
    w = cr.tensor([1.0, 2.0], dtype=cr.float64, requires_grad=True)
    y = cr.tensor([3.0, 5.0], dtype=cr.float64)
    loss = ((w - y) ** 2).sum()
    y.fill_(0.0)  # the kept array now differs from what the loss was computed with
    trace = Trace.of(loss)
    with pytest.raises(ReplayError, match="changed in place"):
        trace.require_values()


def test_record_restores_the_primitives_save_flags():
    from chainrule.ops.registry import REGISTRY

    before = {n: (p.save_inputs, p.save_out) for n, p in REGISTRY.items()}
    with pytest.raises(RuntimeError):
        with record():
            assert REGISTRY["add"].save_inputs is True
            raise RuntimeError("inside")
    assert {n: (p.save_inputs, p.save_out) for n, p in REGISTRY.items()} == before


def test_replay_leaves_the_recorded_graph_usable():
    # cross-entropy keeps forward state for its backward: replays must not disturb it
    cr.manual_seed(0)
    m = nn.Linear(3, 4)
    x = cr.randn(5, 3)
    y = cr.tensor([0, 1, 2, 3, 0])
    loss = F.cross_entropy(m(x), y)
    trace = Trace.of(loss)
    trace.numeric_grad(("out", 0), max_entries=3)
    BackwardWalk(trace)
    loss.backward()
    m2 = nn.Linear(3, 4)
    m2.load_state_dict(m.state_dict())
    F.cross_entropy(m2(x), y).backward()
    np.testing.assert_allclose(m.weight.grad.data, m2.weight.grad.data, rtol=1e-6)


def test_numeric_grad_can_sample_entries():
    w = cr.randn(10, 10, dtype=cr.float64, requires_grad=True)
    trace = Trace.of((w * w).sum())
    est, checked = trace.numeric_grad(("leaf", 0), max_entries=7)
    assert checked.sum() == 7
    np.testing.assert_allclose(est[checked], 2 * w.data[checked], rtol=1e-6)
    assert np.isnan(est[~checked]).all()
