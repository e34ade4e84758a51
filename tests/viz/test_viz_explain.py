"""The walk-through's numbers: checked against the library's own autograd (backward with
retained intermediate gradients, an optimizer step) and against finite differences."""

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn, optim
from chainrule.nn import functional as F
from chainrule.viz import explain, walkthrough
from chainrule.viz.formulas import plain
from chainrule.viz.networks import chain_network, mlp_network
from chainrule.viz.text import render_text


def _chain_by_hand(weights, x, y, act):
    """The chain's forward and backward written out with the issue's formulas (NumPy)."""
    f, df = {
        "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z: np.exp(-z) / (1 + np.exp(-z)) ** 2),
        "tanh": (np.tanh, lambda z: 1 - np.tanh(z) ** 2),
        "relu": (lambda z: max(z, 0.0), lambda z: float(z > 0)),
    }[act]
    n = len(weights)
    h, z = [x], []
    for i in range(n):
        z.append(weights[i] * h[-1])
        h.append(f(z[-1]) if i < n - 1 else 1 / (1 + np.exp(-z[-1])))
    p = h[-1]
    loss = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    dh = {n: (p - y) / (p * (1 - p))}  # dL/dŷ
    dw = {}
    for i in range(n, 0, -1):  # dL/dw_i = dL/dh_i * sigma'(z_i) * h_(i-1)
        gate = p * (1 - p) if i == n else df(z[i - 1])
        dw[i] = dh[i] * gate * h[i - 1]
        dh[i - 1] = dh[i] * gate * weights[i - 1]  # dL/dh_(i-1) = dL/dh_i sigma'(z_i) w_i
    return loss, z, h, dh, dw


@pytest.mark.parametrize("act", ["sigmoid", "tanh", "relu"])
def test_chain_numbers_match_autograd_hand_formulas_and_finite_differences(act):
    weights = [0.8, -1.2, 0.5, 1.5]
    ex = chain_network(3, act, x=0.7, y=1, weights=weights)
    wt = walkthrough(ex.loss, names=ex.names, notes=ex.notes, lr=0.3)
    loss, z, h, dh, dw = _chain_by_hand(weights, 0.7, 1, act)

    # forward: every value, named as in the issue
    fwd = {s.symbol: float(s.value) for s in wt.forward}
    assert [s.symbol for s in wt.forward] == ["z1", "h1", "z2", "h2", "z3", "h3", "z4", "ŷ", "L"]
    for i in range(4):
        assert fwd[f"z{i + 1}"] == pytest.approx(z[i], rel=1e-12)
    for i in range(1, 4):
        assert fwd[f"h{i}"] == pytest.approx(h[i], rel=1e-12)
    assert fwd["L"] == pytest.approx(loss, rel=1e-12)

    # backward: the library's own autograd, with every intermediate gradient retained
    for t in ex.names.values():
        if t.requires_grad and t.grad_fn is not None:
            t.retain_grad()
    ex.loss.backward(retain_graph=True)
    grads = {s.symbol: float(s.grad_out) for s in wt.backward}
    for name in ["ŷ", "h3", "h2", "h1", "z4", "z3", "z2", "z1"]:
        assert grads[name] == pytest.approx(float(ex.names[name].grad.item()), rel=1e-12,
                                            abs=1e-15)
    for i in range(1, 4):  # and the hand-written chain rule of the issue
        assert grads[f"h{i}"] == pytest.approx(dh[i], rel=1e-10, abs=1e-15)
    assert grads["ŷ"] == pytest.approx(dh[4], rel=1e-10)

    # each backward step's edge values; each checked by finite differences
    edges = {e.symbol: e for s in wt.backward for e in s.edges}
    for i in range(1, 5):
        e = edges[f"w{i}"]
        assert float(e.value) == pytest.approx(float(ex.names[f"w{i}"].grad.item()), rel=1e-12,
                                               abs=1e-15)
        assert float(e.value) == pytest.approx(dw[i], rel=1e-10, abs=1e-15)
    for s in wt.backward:
        assert s.grad_out_agree
        for e in s.edges:
            assert e.agree and e.fd_checked.all()
            if e.kink:  # relu at exactly 0: the value lies between the one-sided slopes
                assert act == "relu" and float(e.value) == 0.0
                assert min(e.fd_sides) <= 0.0 <= max(e.fd_sides)
            else:
                np.testing.assert_allclose(e.value, e.fd, rtol=1e-5, atol=1e-8)
            assert e.form == "scalar"
            # the displayed product is the local derivative times the incoming gradient
            np.testing.assert_allclose(s.grad_out * e.local, e.value, rtol=1e-12, atol=1e-300)
    assert wt.all_agree
    # with these weights h2 = relu(z2 < 0) = 0, so z3 = 0 sits on relu's kink
    assert any(e.kink for s in wt.backward for e in s.edges) == (act == "relu")

    # the update: what SGD does, and the loss after that step
    opt = optim.SGD([ex.names[f"w{i}"] for i in range(1, 5)], lr=0.3)
    opt.step()
    new = {u.symbol: float(u.new_value) for u in wt.updates}
    for i in range(1, 5):
        assert new[f"w{i}"] == pytest.approx(float(ex.names[f"w{i}"].item()), rel=1e-12)
    again = chain_network(3, act, x=0.7, y=1, weights=[new[f"w{i}"] for i in range(1, 5)])
    assert wt.loss_after == pytest.approx(float(again.loss.item()), rel=1e-12)
    assert wt.loss_before == pytest.approx(loss, rel=1e-12)


def test_chain_formulas_read_like_the_chain_rule():
    ex = chain_network(2, "sigmoid", weights=[0.5, -0.25, 2.0])
    wt = walkthrough(ex.loss, names=ex.names, notes=ex.notes)
    f = {s.symbol: s for s in wt.forward}
    assert plain(f["h1"].formula) == "h1 = σ(z1) = 1 / (1 + e^(−z1))"
    assert plain(f["z2"].numbers).startswith("z2 = -0.25 · ")
    b = {s.symbol: s for s in wt.backward}
    e = next(e for e in b["h1"].edges if e.symbol == "z1")
    assert plain(e.rule) == "dL/dz1 = dL/dh1 · dh1/dz1"
    assert plain(e.local_formula) == "dh1/dz1 = σ′(z1) = h1 · (1 − h1)"
    w2 = next(e for e in b["z2"].edges if e.symbol == "w2")
    assert plain(w2.local_formula) == "dz2/dw2 = h1"
    assert "dL/dh1 = dL/dh2 · σ′(z2) · w2" in plain(b["h1"].note)


def test_mlp_vector_jacobian_form():
    ex = mlp_network((2, 3, 2), "relu", seed=1)
    wt = walkthrough(ex.loss, names=ex.names, params=ex.params, lr=0.1)
    model = ex.params
    ex.loss.backward(retain_graph=True)
    ups = {u.symbol: u for u in wt.updates}
    assert set(ups) == {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"}
    for name, p in model.named_parameters():
        np.testing.assert_allclose(ups[name].grad, p.grad.data, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(ups[name].new_value, p.data - 0.1 * p.grad.data, rtol=1e-12)
    forms = {}
    for s in wt.backward:
        for e in s.edges:
            forms[(s.symbol, e.symbol)] = e.form
            if e.form == "matrix":
                # the row vector dL/d(out) times the local Jacobian is the gradient
                row = s.grad_out.reshape(1, -1) @ e.jacobian
                np.testing.assert_allclose(row.reshape(e.value.shape), e.value, rtol=1e-12,
                                           atol=1e-15)
            assert e.agree
    assert forms[("z2", "fc2.weight")] == "matrix"
    assert forms[("h1", "z1")] == "elementwise"
    assert forms[("L", "z2")] == "matrix"
    # after one SGD step the loss computed by the model again is the panel's "after"
    with cr.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    after = F.cross_entropy(model(ex.names["x"]), ex.names["y"]).item()
    assert wt.loss_after == pytest.approx(after, rel=1e-12)


def test_explain_any_small_graph_and_float32():
    w = cr.tensor([0.5, -1.5], requires_grad=True)  # float32
    b = cr.tensor(0.1, requires_grad=True)
    x = cr.tensor([[1.0, 2.0], [3.0, -1.0]])
    t = cr.tensor([1.0, 0.0])
    wt = explain(lambda: F.mse_loss((x @ w + b).sigmoid(), t), names={"x": x, "t": t, "w": w,
                                                                      "b": b})
    assert wt.dtype == "float32" and wt.all_agree
    loss = F.mse_loss((x @ w + b).sigmoid(), t)
    loss.backward()
    u = {u.symbol: u for u in wt.updates}
    np.testing.assert_allclose(u["w"].grad, w.grad.data, rtol=1e-6)
    np.testing.assert_allclose(u["b"].grad, b.grad.data, rtol=1e-6)
    assert {s.symbol for s in wt.forward[:-1]} == {"v1", "v2", "v3", "v4", "v5", "v6"}
    assert wt.forward[-1].symbol == "L"


def test_explain_refuses_what_it_cannot_explain():
    w = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match="one-element"):
        walkthrough(w * 2)
    with pytest.raises(ValueError, match="no recorded graph"):
        walkthrough(cr.tensor(1.0))
    from chainrule.viz import ReplayError

    with pytest.raises(ReplayError, match="record"):
        walkthrough(F.mse_loss(w, cr.tensor([0.0, 0.0])))


def test_text_walkthrough(tmp_path):
    ex = chain_network(3, "tanh", seed=2)
    path = tmp_path / "walk.txt"
    wt = explain(ex.loss, path, names=ex.names, notes=ex.notes, lr=0.5, title=ex.title)
    text = path.read_text(encoding="utf-8")
    assert text == render_text(wt)
    lines = text.splitlines()
    assert lines[0] == "Backpropagation through a chain of 3 tanh units"
    assert "[1/19] forward  z1 = w1 · x" in text
    assert "[10/19] backward at L: start with dL/dL = 1" in text
    assert "[19/19] GRADIENT DESCENT: w ← w − η · dL/dw with η = 0.5" in text
    assert text.count("✓ agree") == sum(1 + len(s.edges) for s in wt.backward) - 1 + len(
        wt.updates)
    assert "every chain-rule gradient agrees" in text
    ascii_text = render_text(wt, unicode=False)
    ascii_text.encode("ascii")
    assert "dL/dh1 = dL/dh2 * tanh'(z2) * w2" in ascii_text


def test_validation_of_the_example_networks():
    with pytest.raises(ValueError, match="depth"):
        chain_network(0)
    with pytest.raises(ValueError, match="activation"):
        chain_network(2, "softplus")
    with pytest.raises(ValueError, match="expected 3 weights"):
        chain_network(2, weights=[1.0])
    with pytest.raises(ValueError, match="class index"):
        mlp_network((2, 2), y=5)
    m = nn.Linear(2, 2)
    assert len(list(m.parameters())) == 2


def test_big_elementwise_steps_show_their_local_derivative():
    # 30 units: the 30x30 Jacobian is too big to write out; its diagonal is shown
    z = cr.linspace(-1.5, 1.5, 30, dtype=cr.float64).reshape(1, 30).requires_grad_()
    wt = walkthrough(lambda: (z.relu() * 2.0).sum(), names={"z": z})
    edge = next(e for s in wt.backward if s.op == "relu" for e in s.edges)
    assert edge.form == "elementwise" and edge.jacobian is None
    np.testing.assert_array_equal(edge.local, (z.data > 0).astype(float))
    assert edge.agree and edge.fd_checked.sum() == 24  # a spread of the entries
