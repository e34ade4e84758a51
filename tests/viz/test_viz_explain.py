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
    # a module's weights are written W1, b1, ... with their module names beside
    ups = {wt.labels[u.box_id]: u for u in wt.updates}
    assert {u.symbol: wt.labels[u.box_id] for u in wt.updates} == {
        "W1": "fc1.weight", "b1": "fc1.bias", "W2": "fc2.weight", "b2": "fc2.bias"}
    assert wt.label(wt.updates[0].box_id) == "W1 (fc1.weight)"
    assert plain(wt.forward[0].formula) == "z1 = x W1ᵀ + b1"
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
    assert forms[("z2", "W2")] == "matrix"
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

    with pytest.raises(ReplayError, match=r"explain\(lambda: "):
        walkthrough(F.mse_loss(w * cr.ones(100, 2), cr.zeros(100, 2)))


def test_explain_a_plainly_built_graph():
    # no record(), no lambda: tiny constants are kept by the graph itself
    w = cr.tensor([0.5, -1.0], dtype=cr.float64, requires_grad=True)
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)
    y = cr.tensor(1.0, dtype=cr.float64)
    loss = ((w * x).sum() - y) ** 2
    wt = explain(loss, names={"w": w, "x": x, "y": y})
    loss.backward()
    assert wt.all_agree and wt.loss_before == loss.item()
    np.testing.assert_allclose(wt.updates[0].grad, w.grad.data)


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
    # the first rule is not circular: dL/dL = 1 times the loss formula's own derivative
    assert "→ dL/dŷ = dL/dL · dℓ/dŷ" in text and "dL/dL · dL/dŷ" not in text
    assert "      dℓ/dŷ = (ŷ − y) / (ŷ · (1 − ŷ)) = " in text
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


# ------------------------------------------------------------------ what the pages say


def _html(wt):
    from chainrule.viz.html import render_html

    return render_html(wt)


def _step_html(page, k):
    """The HTML of page step ``k`` (0: the start, then forward, backward, the update)."""
    return page.split('<div class="step" ')[k + 1]


def test_a_kink_on_the_arriving_gradient_is_shown_as_a_kink():
    # h2 = relu(z2 < 0) = 0, so z3 = w3 h2 = 0 sits on h3 = relu(z3)'s kink: dL/dz3 has
    # no derivative there; the page must show the one-sided slopes, not "they agree"
    # beside a central difference that differs from the chain-rule value
    ex = chain_network(3, "relu", x=0.7, y=1, weights=[0.8, -1.2, 0.5, 1.5])
    wt = walkthrough(ex.loss, names=ex.names, notes=ex.notes)
    z3 = next(s for s in wt.backward if s.symbol == "z3")
    assert z3.grad_out_kink and float(z3.grad_out) == 0.0
    right, left = (float(v) for v in z3.grad_out_sides)
    assert left == pytest.approx(0.0, abs=1e-9) and right < -1e-3  # one-sided slopes
    assert z3.grad_out_agree and wt.all_agree
    text = render_text(wt)
    block = text.split("backward at z3 (multiply)")[1].split("\n    →")[0]
    assert "not differentiable here (a kink)" in block and "✓ agree" not in block
    assert "the chain rule gives the slope from the left" in block
    assert "relu′(0) = 0" in block
    page = _html(wt)
    k = len(wt.forward) + 1 + [s.symbol for s in wt.backward].index("z3")
    step = _step_html(page, k)
    check = step.split('<span class="label">Checked</span>')[1].split("</div></div>")[0]
    assert "not differentiable here (a kink)" in check and "they agree" not in check
    assert "slope from the left" in check
    # the unit that is off says so where its relu passes no gradient
    h3 = next(s for s in wt.backward if s.symbol == "h3")
    assert plain(h3.edges[0].note).startswith("This unit is off: z3 = 0, exactly at relu's "
                                              "kink, where chainrule (like torch) takes "
                                              "relu′(0) = 0.")
    live = chain_network(2, "relu", x=1.0, weights=[1.0, -0.5, 2.0])  # z2 = -0.5
    h2 = next(s for s in walkthrough(live.loss, names=live.names).backward
              if s.symbol == "h2")
    assert "z2 = -0.5 < 0, and relu′(z) = 0 for z < 0" in plain(h2.edges[0].note)


def test_cross_entropy_gradient_formula_follows_its_options():
    z = cr.tensor([[1.0, -0.5, 0.25]], dtype=cr.float64, requires_grad=True)
    y = cr.tensor([2])
    p = (np.exp(z.data) / np.exp(z.data).sum())[0]
    cases = [  # (options, target row t, divisor, words the formula must hold)
        ({}, np.eye(3)[2], 1.0, "(softmax(z) − onehot(y)) / N"),
        ({"label_smoothing": 0.1}, 0.9 * np.eye(3)[2] + 0.1 / 3, 1.0,
         "(softmax(z) − t) / N, t = (1 − ε) · onehot(y) + ε/K"),
        ({"label_smoothing": 0.1, "reduction": "sum"}, 0.9 * np.eye(3)[2] + 0.1 / 3, 1.0,
         "(softmax(z) − t), t = (1 − ε) · onehot(y) + ε/K"),
    ]
    for options, t, n, words in cases:
        wt = walkthrough(lambda o=options: F.cross_entropy(z, y, **o), names={"z": z, "y": y})
        edge = wt.backward[0].edges[0]
        assert words in plain(edge.compact), (options, plain(edge.compact))
        rows = {plain(label).split(" = ")[0]: a for label, a in edge.rows}
        np.testing.assert_allclose(rows["softmax(z)"], p[None], rtol=1e-12)
        np.testing.assert_allclose(rows["t"], t[None], rtol=1e-12)
        # the numbers shown are the gradient: (softmax - t) / N
        np.testing.assert_allclose(edge.value, (p - t)[None] / n, rtol=1e-10)
    # class weights: the weighted form, and its numbers reproduce the library's gradient
    w = cr.tensor([1.0, 2.0, 0.5], dtype=cr.float64)
    wt = walkthrough(lambda: F.cross_entropy(z, y, weight=w, label_smoothing=0.2),
                     names={"z": z, "y": y, "w": w})
    edge = wt.backward[0].edges[0]
    assert "(s ⊙ softmax(z) − t) / Σ w[y]" in plain(edge.compact)
    assert [plain(label).split(" = ")[0] for label, _ in edge.rows] == [
        "softmax(z)", "t", "s", "Σ w[y] (kept rows)"]
    # the forward step writes the target as a class, not as "[[2]]"
    wt = walkthrough(lambda: F.cross_entropy(z, y), names={"z": z, "y": y})
    fwd = plain(wt.forward[0].numbers)
    assert "[[" not in fwd.split("softmax")[-1] and fwd.startswith("L = −log softmax(")
    assert fwd.endswith(f"= −log {p[2]:.4g} = {-np.log(p[2]):.4g}")


def test_a_value_read_twice_shows_its_gradient_as_a_sum():
    a = cr.tensor(0.4, dtype=cr.float64, requires_grad=True)
    w = cr.tensor([0.5, -1.0], dtype=cr.float64, requires_grad=True)
    x = cr.tensor([1.0, 2.0], dtype=cr.float64)

    def build():
        b = a.exp()
        return b * b + b.sin() + (w * x).sum() + (w ** 2).sum()

    wt = walkthrough(build, names={"a": a, "w": w, "x": x})
    b = next(s for s in wt.backward if s.op == "exp")
    square = next(s for s in wt.backward if s.op == "multiply" and len(s.edges) == 2)
    sin = next(s for s in wt.backward if s.op == "sin")
    assert square.edges[0].box_id == square.edges[1].box_id == b.box_id
    # b = exp(a) is read three times (twice by b * b, once by sin); the backward pass
    # reaches sin first: the contributions in the order they are computed
    assert [(p.via, p.position) for p in b.parts] == [
        (sin.symbol, 0), (square.symbol, 0), (square.symbol, 1)]
    np.testing.assert_allclose(sum(p.value for p in b.parts), b.grad_out, rtol=1e-12)
    assert [e.contribution for e in square.edges] == [(2, 3), (3, 3)]
    assert sin.edges[0].contribution == (1, 3)
    # w is read by two ops: the update panel adds the two contributions
    u = next(u for u in wt.updates if u.symbol == "w")
    assert len(u.parts) == 2
    np.testing.assert_allclose(u.parts[0].value + u.parts[1].value, u.grad, rtol=1e-12)
    assert next(u for u in wt.updates if u.symbol == "a").parts == []  # read once
    text = render_text(wt)
    assert f"{b.symbol} is read 3 times: its gradient is the sum of what comes back" in text
    assert (f"d{'L'}/d{b.symbol} = {plain(fm_num(b.parts[0].value))} (via {sin.symbol}, "
            "input 1) + ") in text.replace("−", "-")
    assert "w is read 2 times" in text
    assert text.count("[contribution ") == 5
    page = _html(wt)
    assert page.count('<span class="label">Adding up</span>') == 2
    assert f"contribution 2 of 3, via <span class=\"math\"><var>{square.symbol[0]}" in page
    # the heading names b once, through both inputs of b * b
    step = _step_html(page, len(wt.forward) + 1 + wt.backward.index(square))
    assert step.split("</h2>")[0].count("(through all 2 inputs)") == 1


def fm_num(a):
    from chainrule.viz.graph import fmt_array

    return fmt_array(np.asarray(a))


@pytest.mark.parametrize("depth,seed", [(3, s) for s in range(12)] + [(4, 1), (6, 0)])
def test_relu_chains_are_alive_by_default(depth, seed):
    ex = chain_network(depth, "relu", seed=seed)
    wt = walkthrough(ex.loss, names=ex.names)
    assert all(float(s.value) > 0 for s in wt.forward if s.op == "relu")
    assert all(np.all(u.grad != 0) for u in wt.updates)
    assert wt.loss_after < wt.loss_before and wt.advice == "The step lowered the loss."


def test_a_dead_unit_is_named_instead_of_learning_rate_advice():
    ex = chain_network(3, "relu", weights=[0.1, -0.2, 0.3, 0.4])
    wt = walkthrough(ex.loss, names=ex.names, lr=0.5)
    assert wt.loss_after == wt.loss_before
    advice = plain(wt.advice)
    assert advice.startswith("Every gradient is 0, so this step changes nothing. The gradient "
                             "stops at h3 = relu(z3): z3 = 0")
    assert "h2 = relu(z2) with z2 = -0.02" in advice and "dead ReLU" in advice
    assert "learning rate would not help" in advice
    page = _html(wt)
    assert "try a smaller learning rate" not in page.lower()
    assert 'class="note dead" id="advice"' in page


def test_text_updates_have_the_pages_precision_and_parenthesized_negatives():
    ex = chain_network(3, "sigmoid", seed=0)
    wt = walkthrough(ex.loss, names=ex.names, lr=0.5)
    text = render_text(wt)
    w2 = next(u for u in wt.updates if u.symbol == "w2")
    assert float(w2.grad) < 0
    line = next(x for x in text.splitlines() if x.startswith("  w2: "))
    assert line == (f"  w2: {float(w2.value):.6g} − 0.5 × ({float(w2.grad):.4g}) = "
                    f"{float(w2.new_value):.6g}").replace("-", "−")
    assert line.count("(") == 1 and "0.13" in line  # 6 digits: the step is visible


def test_formulas_say_each_thing_once():
    w = cr.tensor([0.3, -0.2], dtype=cr.float64, requires_grad=True)
    wt = walkthrough(lambda: (w.exp() * w + w).sum(), names={"w": w})
    text = render_text(wt)
    assert "= 1 = 1" not in text
    exp_edge = next(e for s in wt.backward if s.op == "exp" for e in s.edges)
    numbers = plain(exp_edge.local_numbers)
    assert numbers.count("=") == 1 and numbers.startswith("exp([0.3, -0.2]) = ")
    # elementwise products of arrays are written ⊙, of numbers ·
    mul = next(s for s in wt.forward if s.op == "multiply")
    assert " ⊙ " in plain(mul.formula) and " · " not in plain(mul.formula)
    ex = chain_network(2, "sigmoid", weights=[0.5, -0.25, 2.0])
    assert plain(walkthrough(ex.loss, names=ex.names).forward[0].formula) == "z1 = w1 · x"


def test_pages_write_minus_signs_alike():
    ex = chain_network(3, "tanh", seed=2)
    page = _html(walkthrough(ex.loss, names=ex.names))
    panel = page.split('id="panel"')[1].split("</section>")[0]
    graph = page.split('id="graph"')[1].split("</div>")[0]
    import re

    assert re.findall(r"(?<![\w.)\]])-\d", panel) == []
    assert "−" in panel
    texts = re.findall(r'<text class="(?:v|g)[^"]*"[^>]*>([^<]*)</text>', graph)
    assert texts and not any(re.search(r"(?<![\w.])-\d", t) for t in texts)
