"""The explain page in a real browser: headless Chromium (Debian's ``chromium``) driven by
Playwright for Python.  The test clicks through every step, checks the highlighted node and
the numbers shown against the library's own autograd, and saves screenshots.

Skipped, with the reason, where Chromium or Playwright is not installed (``.ci/run``
installs both).  Playwright's own browser download is never used: ``executable_path``
points at the system Chromium.
"""

import importlib.util
import os
import shutil

import pytest

from chainrule import optim
from chainrule.viz import explain
from chainrule.viz.formulas import minus
from chainrule.viz.graph import fmt, fmt_array
from chainrule.viz.networks import chain_network, mlp_network

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if os.path.exists(
    "/usr/bin/chromium") else None)
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]

# CI sets CHAINRULE_REQUIRE_BROWSER=1: there a missing browser is a failure, not a skip, so
# that a green CI always means the page was clicked through in a real browser.
if os.environ.get("CHAINRULE_REQUIRE_BROWSER") == "1":
    assert importlib.util.find_spec("playwright") is not None, "Playwright is not installed"
    assert CHROMIUM is not None, "Chromium is not installed (apt-get install chromium)"

pytestmark = [
    pytest.mark.skipif(importlib.util.find_spec("playwright") is None,
                       reason="browser tests need Playwright for Python (pip install "
                              "playwright; .ci/run installs it)"),
    pytest.mark.skipif(CHROMIUM is None,
                       reason="browser tests need Chromium (apt-get install chromium; .ci/run "
                              "installs it)"),
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    from playwright.sync_api import sync_playwright

    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        # reduced motion: the page then turns its transitions and animations off, so that
        # what a screenshot shows is the step's final state, not a frame of a transition
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=ARGS, headless=True,
            viewport={"width": 1280, "height": 900}, reduced_motion="reduce")
        yield ctx
        ctx.close()


def _open(browser, path):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(path.as_uri())
    return page, errors, requests


def _state(page):
    return page.evaluate("""() => {
        const active = document.querySelectorAll('#panel .step.active');
        const cur = document.querySelectorAll('#graph .node.current');
        return {
            active: active.length,
            phase: active.length ? active[0].dataset.phase : null,
            current: Array.from(cur).map(n => n.dataset.node),
            inputs: Array.from(document.querySelectorAll('#graph .node.input'))
                .map(n => n.dataset.node).sort(),
            counter: document.getElementById('counter').textContent,
            step: document.body.dataset.step,
        };
    }""")


def test_chain_page_steps_forward_then_backward_with_the_right_numbers(browser, tmp_path):
    ex = chain_network(3, "sigmoid", seed=0, x=1.0, y=1)
    path = tmp_path / "explain.html"
    wt = explain(ex.loss, path, names=ex.names, notes=ex.notes, lr=0.5, title=ex.title,
                 subtitle=ex.subtitle, settings=ex.settings)

    # what the library's own autograd says, independently of the walk-through
    for t in ex.names.values():
        if t.requires_grad and t.grad_fn is not None:
            t.retain_grad()
    ex.loss.backward(retain_graph=True)
    # the page writes negative numbers with the formulas' minus sign (−0.5)
    value = {k: minus(fmt_array(t.data)) for k, t in ex.names.items()}
    grad = {k: minus(fmt_array(t.grad.data)) for k, t in ex.names.items()
            if t.requires_grad and k != "L"}
    weights = [ex.names[f"w{i}"] for i in range(1, 5)]
    optim.SGD(weights, lr=0.5).step()
    after = chain_network(3, "sigmoid", x=1.0, y=1, weights=[w.item() for w in weights])
    box = wt.symbols  # box id -> symbol
    box_of = {v: k for k, v in box.items()}

    page, errors, requests = _open(browser, path)
    n_steps = 1 + len(wt.forward) + len(wt.backward) + 1
    st = _state(page)
    assert st["phase"] == "start" and st["active"] == 1 and st["current"] == []
    assert st["counter"] == f"Step 0 of {n_steps - 1}"
    assert page.is_disabled("#prev") and not page.is_disabled("#next")
    # the values of ops appear on the graph only once their step is reached
    assert not page.is_visible(f"#node-{box_of['h1']} text.v")
    assert page.is_visible(f"#node-{box_of['w1']} text.v")

    seen_forward, seen_backward = [], []
    for k in range(1, n_steps):
        page.click("#next")
        st = _state(page)
        assert st["active"] == 1 and st["step"] == str(k)
        assert st["counter"] == f"Step {k} of {n_steps - 1}"
        active = page.locator("#panel .step.active")
        if k <= len(wt.forward):
            s = wt.forward[k - 1]
            assert st["phase"] == "forward"
            assert st["current"] == [s.box_id]
            assert st["inputs"] == sorted(o.box_id for o in s.inputs)
            shown = active.locator(".result").first.text_content()
            assert shown == value[s.symbol], (k, s.symbol)
            assert page.is_visible(f"#node-{s.box_id} text.v")
            seen_forward.append(box[st["current"][0]])
        elif k <= len(wt.forward) + len(wt.backward):
            s = wt.backward[k - 1 - len(wt.forward)]
            assert st["phase"] == "backward"
            assert st["current"] == [s.box_id]
            assert st["inputs"] == sorted(e.box_id for e in s.edges)
            if s.symbol != "L":
                assert active.locator(".grad-out").text_content() == grad[s.symbol]
            for e in s.edges:
                card = active.locator(f'.edge-card[data-input="{e.box_id}"]')
                assert card.locator(".result").text_content() == grad[e.symbol], e.symbol
                assert card.locator(".cr").text_content() == grad[e.symbol]
                assert card.locator(".fd").text_content() == minus(fmt_array(e.fd))
                assert "they agree" in card.locator(".check").text_content()
                # each input's gradient is on the graph at the step that computes it
                assert page.is_visible(f"#node-{e.box_id} text.g"), e.symbol
                if k < n_steps - 2:  # ... and not before
                    page.keyboard.press("ArrowLeft")
                    if e.box_id.startswith("op"):
                        assert not page.is_visible(f"#node-{e.box_id} text.g"), e.symbol
                    page.keyboard.press("ArrowRight")
            assert page.is_visible(f"#node-{s.box_id} text.g")
            seen_backward.append(box[st["current"][0]])
            if s.symbol == "h2":
                page.screenshot(path=str(tmp_path / "explain-backward.png"), full_page=True)
        else:
            assert st["phase"] == "update" and st["current"] == []
            assert page.text_content("#loss-before") == fmt(ex.loss.item(), 6)
            assert page.text_content("#loss-after") == fmt(after.loss.item(), 6)
            for i, w in enumerate(weights, 1):
                row = page.locator(f'.update-card[data-param="{box_of[f"w{i}"]}"]')
                assert row.locator(".new-value").text_content() == minus(fmt_array(w.data, 6))
            page.screenshot(path=str(tmp_path / "explain-update.png"), full_page=True)
    assert seen_forward == ["z1", "h1", "z2", "h2", "z3", "h3", "z4", "ŷ", "L"]
    assert seen_backward == ["L", "ŷ", "z4", "h3", "z3", "h2", "z2", "h1", "z1"]
    assert page.is_disabled("#next")

    # back again, by button and by keyboard
    page.click("#prev")
    assert _state(page)["phase"] == "backward"
    page.keyboard.press("Home")
    assert _state(page)["step"] == "0"
    page.keyboard.press("ArrowRight")
    assert _state(page)["current"] == [wt.forward[0].box_id]

    shot = tmp_path / "explain-backward.png"
    assert shot.stat().st_size > 20_000 and shot.read_bytes()[:4] == b"\x89PNG"
    assert errors == []
    # self-contained: nothing but the page itself was requested
    assert all(r.startswith("file://") for r in requests), requests


def test_mlp_page_shows_the_matrix_form(browser, tmp_path):
    ex = mlp_network((2, 3, 2), "relu", seed=0)
    path = tmp_path / "mlp.html"
    wt = explain(ex.loss, path, names=ex.names, params=ex.params, lr=0.5)
    ex.loss.backward(retain_graph=True)
    page, errors, _ = _open(browser, path)
    # jump to the backward step at z2 (= fc2's output): the row vector times the Jacobian
    k = 1 + len(wt.forward) + [s.symbol for s in wt.backward].index("z2")
    for _ in range(k):
        page.keyboard.press("ArrowRight")
    st = _state(page)
    z2 = next(s for s in wt.backward if s.symbol == "z2")
    assert st["phase"] == "backward" and st["current"] == [z2.box_id]
    card = page.locator('#panel .step.active .edge-card[data-form="matrix"]').first
    assert card.locator("table.mat").count() == 3  # row vector, Jacobian, result
    w = ex.params.fc2.weight
    box = next(b for b, name in wt.labels.items() if name == "fc2.weight")
    card = page.locator(f'#panel .step.active .edge-card[data-input="{box}"]')
    assert card.locator(".result").text_content() == minus(fmt_array(w.grad.data))
    assert card.locator("h3").text_content() == "Gradient for W2 (fc2.weight)"
    page.screenshot(path=str(tmp_path / "mlp.png"), full_page=True)
    assert errors == []


def _goto(page, k):
    page.keyboard.press("Home")
    for _ in range(k):
        page.keyboard.press("ArrowRight")


def test_a_relu_kink_is_shown_as_one_in_the_browser(browser, tmp_path):
    from chainrule.viz.networks import chain_network as chain

    ex = chain(3, "relu", x=0.7, y=1, weights=[0.8, -1.2, 0.5, 1.5])
    path = tmp_path / "relu.html"
    wt = explain(ex.loss, path, names=ex.names, notes=ex.notes)
    page, errors, _ = _open(browser, path)
    _goto(page, 1 + len(wt.forward) + [s.symbol for s in wt.backward].index("z3"))
    check = page.locator("#panel .step.active > .row .check").first
    assert check.is_visible() and "kink" in check.get_attribute("class")
    text = check.text_content()
    assert "not differentiable here (a kink)" in text and "slope from the left" in text
    assert "agree" not in text
    page.screenshot(path=str(tmp_path / "relu-kink.png"), full_page=True)
    assert errors == []


def test_a_wide_network_stays_readable(browser, tmp_path):
    ex = mlp_network((2, 4, 4, 3), "tanh", seed=5)
    path = tmp_path / "wide.html"
    wt = explain(ex.loss, path, names=ex.names, params=ex.params)
    page, errors, _ = _open(browser, path)
    n_steps = 1 + len(wt.forward) + len(wt.backward) + 1
    font = page.evaluate("() => document.querySelector('#graph svg text.title')"
                         ".getBoundingClientRect().height")
    assert font >= 12  # the graph is never shrunk to unreadable text (it was ~7 px)

    def in_view():
        return page.evaluate("""() => {
            const view = document.getElementById('graph').getBoundingClientRect();
            return Array.from(document.querySelectorAll(
                '#graph .node.current, #graph .node.input')).every(n => {
                const b = n.getBoundingClientRect();
                return b.left >= view.left - 1 && b.right <= view.right + 1 &&
                       b.top >= view.top - 1 && b.bottom <= view.bottom + 1; });
        }""")

    for k in range(1, n_steps - 1):  # the step's node and its inputs are scrolled into view
        page.keyboard.press("ArrowRight")
        assert in_view(), k
    # the whole graph is one click away
    assert page.is_visible("#fit")
    page.click("#fit")
    wrap = page.evaluate("() => { const w = document.getElementById('graph'); "
                         "return [w.scrollWidth, w.clientWidth]; }")
    assert wrap[0] <= wrap[1] + 1
    page.click("#fit")
    # in a narrow window a wide Jacobian scrolls inside its card instead of overflowing it
    page.set_viewport_size({"width": 800, "height": 900})
    _goto(page, 1 + len(wt.forward) + [s.symbol for s in wt.backward].index("z3"))
    overflow = page.evaluate("""() => Array.from(document.querySelectorAll(
        '#panel .step.active .edge-card')).map(c => c.scrollWidth - c.clientWidth)""")
    assert overflow and max(overflow) <= 1, overflow
    page.screenshot(path=str(tmp_path / "wide-800.png"), full_page=True)
    assert errors == []


def test_a_value_read_twice_adds_up_in_the_browser(browser, tmp_path):
    import chainrule as cr

    a = cr.tensor(0.4, dtype=cr.float64, requires_grad=True)

    def build():
        b = a.exp()
        return b * b + b.sin()

    path = tmp_path / "sum.html"
    wt = explain(build, path, names={"a": a})
    page, errors, _ = _open(browser, path)
    b = next(s for s in wt.backward if s.op == "exp")
    _goto(page, 1 + len(wt.forward) + wt.backward.index(b))
    row = page.locator("#panel .step.active .sum-row")
    assert row.is_visible()
    assert row.locator(".part").count() == 3
    assert row.locator(".sum-total").text_content() == minus(fmt_array(b.grad_out))
    assert "via" in row.text_content()
    assert errors == []
