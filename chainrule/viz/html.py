"""The walk-through as one self-contained HTML page: the graph (inline SVG), a
previous/next control, and one panel per step (inline CSS and JavaScript; no network)."""

from __future__ import annotations

import json
import re
from html import escape
from importlib import resources

from .. import backend
from .explain import Walkthrough
from .formulas import minus
from .graph import fmt, fmt_array, shape_text
from .picture import Picture
from .svg import render_svg

_np = backend.np

MATRIX_LIMIT = 10  # rows / columns of a matrix written out in the page
UPDATE_DIGITS = 6  # the update panel shows small changes of the weights
_SUBSCRIPT = re.compile(r"^([A-Za-zŷσ]+)(\d+)$")


def _template() -> str:
    return resources.files("chainrule.viz").joinpath("templates/explain.html").read_text(
        encoding="utf-8")


# ------------------------------------------------------------------ formula markup


def sym_html(name: str) -> str:
    m = _SUBSCRIPT.match(name)
    if m:
        return f'<var>{escape(m.group(1))}<sub>{m.group(2)}</sub></var>'
    if "." in name or "_" in name:
        return f'<var class="mod">{escape(name)}</var>'
    return f"<var>{escape(name)}</var>"


def math_html(markup: str) -> str:
    """Formula markup (see ``formulas``) as HTML: symbols in ``<var>`` with subscripts,
    derivatives as stacked fractions, exponents raised."""
    out = []
    i = 0
    text = []

    def flush():
        if text:
            out.append(_numbers(escape("".join(text))))
            text.clear()

    while i < len(markup):
        ch = markup[i]
        if ch == "⟦":
            flush()
            j = markup.index("⟧", i)
            out.append(sym_html(markup[i + 1:j]))
            i = j + 1
        elif ch == "⟪":
            flush()
            j = markup.index("⟫", i)
            num, den = markup[i + 1:j].strip("⟦⟧").replace("⟦", "").replace("⟧", "").split(
                "|", 1)
            out.append(f'<span class="frac"><span>∂{sym_html(num)}</span>'
                       f"<span>∂{sym_html(den)}</span></span>")
            i = j + 1
        else:
            text.append(ch)
            i += 1
    flush()
    return _superscripts("".join(out))


_NUMBER = re.compile(r"(?<![\w.])(-?\d+(?:\.\d+)?(?:e-?\d+)?)")


def _numbers(text: str) -> str:
    return _NUMBER.sub(r'<span class="num">\1</span>', text)


def _superscripts(s: str) -> str:
    """``^(...)`` (balanced, tags skipped) and ``^token`` become ``<sup>``."""
    out = []
    i = 0
    while i < len(s):
        if s[i] == "^":
            if s.startswith("^(", i):
                depth, j = 0, i + 1
                while j < len(s):
                    if s[j] == "<":
                        j = s.index(">", j) + 1
                        continue
                    if s[j] == "(":
                        depth += 1
                    elif s[j] == ")":
                        depth -= 1
                        if depth == 0:
                            break
                    j += 1
                out.append(f"<sup>{s[i + 2:j]}</sup>")
                i = j + 1
                continue
            m = re.match(r"\^(<span class=\"num\">[^<]*</span>|<var>.*?</var>|[\w.]+)", s[i:])
            if m:
                out.append(f"<sup>{m.group(1)}</sup>")
                i += m.end()
                continue
        out.append(s[i])
        i += 1
    return "".join(out)


def _num(a, cls: str = "", digits: int = 4) -> str:
    return f'<span class="num {cls}">{escape(fmt_array(_np.asarray(a), digits))}</span>'


def _matrix(a, caption: str = "", digits: int = 4, cls: str = "", attrs: str = "",
            limit: int = MATRIX_LIMIT) -> str:
    a = _np.asarray(a)
    if a.ndim < 2:
        a = a.reshape(1, -1)
    elif a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    rows = []
    for r in a[:limit]:
        cells = "".join(f"<td>{escape(fmt(v, digits))}</td>" for v in r[:limit])
        if a.shape[1] > limit:
            cells += "<td>…</td>"
        rows.append(f"<tr>{cells}</tr>")
    if a.shape[0] > limit:
        rows.append("<tr><td>⋮</td></tr>")
    cap = f"<caption>{caption}</caption>" if caption else ""
    return (f'<table class="mat{" " + cls if cls else ""}"{attrs}>{cap}{"".join(rows)}'
            "</table>")


def _value(a, cls: str = "", digits: int = 4, caption: str | None = "",
           limit: int = MATRIX_LIMIT) -> str:
    """A value as the page writes it: a number, or a matrix table (never both), captioned
    with its shape unless ``caption`` says otherwise (None: no caption)."""
    a = _np.asarray(a)
    if a.size == 1:
        return _num(a.reshape(()), cls, digits)
    if caption == "":
        caption = escape(shape_text(a.shape))
    return _matrix(a, caption or "", digits, cls, limit=limit)


def _captioned(html: str, caption: str) -> str:
    return f'<span class="cap">{html}<small>{caption}</small></span>'


def _which_side(value, sides):
    """Which one-sided slope the chain-rule value is (at a kink): "right", "left" or
    None (in between, or more than one entry)."""
    v = _np.asarray(value, dtype=float)
    if v.size != 1:
        return None
    v = float(v.reshape(-1)[0])
    right, left = (float(_np.asarray(x).reshape(-1)[0]) for x in sides)
    tol = 1e-6 * (1 + abs(v))
    if abs(v - right) <= tol and abs(v - left) > tol:
        return "right"
    if abs(v - left) <= tol and abs(v - right) > tol:
        return "left"
    return None


def _check(value, fd, checked, ok, sides=None, kink_rule="") -> str:
    v = _np.asarray(value)
    if sides is not None:  # a kink: no derivative; compare with the one-sided slopes
        side = _which_side(value, sides)
        choice = (f"the chain rule gives the slope from the {side}" if side else
                  "the chain rule gives a value between them")
        mark = ('<span class="ok">✓ a one-sided slope</span>' if ok and side else
                '<span class="ok">✓ between them</span>' if ok else
                '<span class="bad">✗ outside them</span>')
        return (f'<div class="check kink{"" if ok else " no"}"><span>chain rule '
                f'{_num(v, "cr")}</span><span>not differentiable here (a kink): slope from the '
                f'right {_num(_np.where(checked, sides[0], _np.nan), "fd fd-right")}, from the '
                f'left {_num(_np.where(checked, sides[1], _np.nan), "fd fd-left")}; '
                f"{choice} ({escape(kink_rule)})</span>{mark}</div>")
    n, total = int(_np.count_nonzero(checked)), int(_np.asarray(checked).size)
    shown = _np.where(checked, fd, _np.nan)
    mark = ('<span class="ok">✓ they agree</span>' if ok else
            '<span class="bad">✗ they differ</span>')
    part = "" if n == total else f' <span class="hint">({n} of {total} entries estimated)</span>'
    if v.size <= 6:
        return (f'<div class="check{"" if ok else " no"}"><span>chain rule '
                f'{_num(v, "cr")}</span><span>finite difference {_num(shown, "fd")}</span>'
                f"{mark}{part}</div>")
    diff = float(_np.abs(v[checked] - _np.asarray(fd)[checked]).max()) if n else 0.0
    return (f'<div class="check{"" if ok else " no"}"><span>finite differences: largest '
            f'difference <span class="num fd-diff">{escape(fmt(diff))}</span></span>'
            f"{mark}{part}</div>")


def _row(label: str, content: str, cls: str = "") -> str:
    return (f'<div class="row{" " + cls if cls else ""}"><span class="label">{label}</span>'
            f'<span class="math">{content}</span></div>')


def _label_html(wt: Walkthrough, box_id: str) -> str:
    """The symbol, and the module name beside it when it has one."""
    mod = wt.labels.get(box_id)
    sym = sym_html(wt.symbols[box_id])
    return sym + (f' <span class="modname">({escape(mod)})</span>' if mod else "")


def _sum_row(symbol: str, parts, total) -> str:
    """The multivariable chain rule: the contributions to one gradient, added up."""
    terms = []
    for k, p in enumerate(parts):
        if k:
            terms.append('<span class="op">+</span>')
        terms.append(_captioned(_value(p.value, "part"), f"via {sym_html(p.via)}, input "
                                                         f"{p.position + 1}"))
    terms.append('<span class="op">=</span>')
    terms.append(_value(total, "sum-total result"))
    return _row("Adding up",
                f'<span class="hint">{sym_html(symbol)} is read {len(parts)} times, so its '
                "gradient is the sum of what comes back along each use (the multivariable "
                "chain rule):</span>"
                f'<div class="mats sum"><span>{math_html(f"⟪L|{symbol}⟫ =")}</span>'
                f'{"".join(terms)}</div>',
                "sum-row")


# ------------------------------------------------------------------ the steps


def _start_step(wt: Walkthrough) -> str:
    consts = [b for b in wt.graph.boxes if b.kind == "const"]
    params = [b for b in wt.graph.boxes if b.kind == "param"]
    rows = []
    for b in consts + params:
        what = "data (a constant)" if b.kind == "const" else "parameter (learned)"
        val = _value(b.value) if b.value is not None else "?"
        rows.append(f"<tr><td class=\"math\">{_label_html(wt, b.id)}</td><td>{what}</td>"
                    f"<td>{escape(shape_text(b.shape))}</td><td>{val}</td></tr>")
    n_f, n_b = len(wt.forward), len(wt.backward)
    return (
        '<div class="step" data-phase="start" data-node="" data-inputs="'
        + " ".join(b.id for b in consts + params) + '">'
        '<span class="tag start">Start</span><h2>The network, its data and its weights</h2>'
        '<div class="scroll"><table class="params"><tr><th>name</th><th>role</th><th>shape'
        "</th><th>value</th></tr>" + "".join(rows) + "</table></div>"
        f"<p>The <b>forward pass</b> ({n_f} steps) computes every value from these, node by "
        "node, and keeps them. The <b>backward pass</b> "
        f"({n_b} steps) starts from the loss and uses the chain rule to turn the gradient of "
        "the loss with respect to each node's output into the gradient with respect to its "
        "inputs, down to every weight. Then one <b>gradient-descent step</b> updates the "
        "weights.</p><p class=\"hint\">Press <b>Next step</b> (or the → key) to begin.</p>"
        "</div>")


def _result(symbol: str, value, extra: str = "") -> str:
    """The result of a step: a number span (tests and readers find it by ``data-for``),
    or for more than a few entries a matrix table only."""
    v = _np.asarray(value)
    if v.size <= 6:
        return (f'<span class="result num{extra}" data-for="{escape(symbol)}">'
                f"{escape(fmt_array(v))}</span>")
    table = _matrix(v, escape(shape_text(v.shape)), cls="result-mat" + extra,
                    attrs=f' data-for="{escape(symbol)}"')
    return f'<div class="scroll">{table}</div>'


def _forward_step(wt, k, s) -> str:
    n = len(wt.forward)
    inputs = " ".join(o.box_id for o in s.inputs)
    parts = [f'<div class="step" data-phase="forward" data-node="{s.box_id}" '
             f'data-inputs="{inputs}">',
             f'<span class="tag forward">Forward pass · step {k} of {n}</span>',
             f"<h2>Compute <span class=\"math\">{sym_html(s.symbol)}</span> "
             f"<span class=\"hint\">({escape(s.op)})</span></h2>",
             _row("Formula", math_html(s.formula))]
    matrix_op = s.op in ("linear", "matmul") and any(o.value.ndim >= 1 and o.value.size > 1
                                                     for o in s.inputs)
    if matrix_op:
        x, w = s.inputs[0].value, s.inputs[1].value
        wt_ = w.T if s.op == "linear" else w
        cap_w = (f"{escape(s.inputs[1].symbol)}ᵀ" if s.op == "linear"
                 else escape(s.inputs[1].symbol))
        mats = [_matrix(x, escape(s.inputs[0].symbol)), '<span class="op">×</span>',
                _matrix(wt_, cap_w)]
        if len(s.inputs) > 2:
            mats += ['<span class="op">+</span>', _matrix(s.inputs[2].value,
                                                           escape(s.inputs[2].symbol))]
        mats += ['<span class="op">=</span>',
                 _matrix(s.value, escape(s.symbol), cls="result-mat",
                         attrs=f' data-for="{escape(s.symbol)}"')]
        parts.append(_row("With the numbers", f'<div class="mats scroll">{"".join(mats)}</div>'))
    else:
        for label, a in s.rows:
            parts.append(_row("On the way", f'<div class="mats"><span>{math_html(label)} ='
                              f"</span>{_value(a)}</div>"))
        if s.numbers:
            lhs, rhs = s.numbers.rsplit(" = ", 1)
            parts.append(_row("With the numbers", math_html(lhs) + " = "
                              + f'<span class="result num" data-for="{escape(s.symbol)}">'
                              + escape(rhs) + "</span>"))
        else:
            for o in s.inputs:
                parts.append(_row(f"Input {sym_html(o.symbol)}", _value(o.value)))
            parts.append(_row("Result", _result(s.symbol, s.value)))
    parts.append(_row("Shape", escape(shape_text(s.value.shape))))
    if s.note:
        parts.append(f'<p class="note">{math_html(s.note)}</p>')
    parts.append("</div>")
    return "".join(parts)


def _backward_step(wt, k, s) -> str:
    n = len(wt.backward)
    inputs = " ".join(e.box_id for e in s.edges)
    parts = [f'<div class="step" data-phase="backward" data-node="{s.box_id}" '
             f'data-inputs="{inputs}">',
             f'<span class="tag backward">Backward pass · step {k} of {n}</span>']
    seen = []
    for e in s.edges:
        if e.box_id not in seen:
            seen.append(e.box_id)
    counts = {b: sum(e.box_id == b for e in s.edges) for b in seen}
    targets = ", ".join(sym_html(wt.symbols[b]) + (f" (through all {counts[b]} inputs)"
                                                   if counts[b] > 1 else "") for b in seen)
    fwd = next(f for f in wt.forward if f.box_id == s.box_id)
    head = math_html(fwd.formula.split(" = ")[0])
    parts.append(f"<h2>At <span class=\"math\">{head} = {escape(s.op)}(…)</span>: "
                 + (f"send the gradient to <span class=\"math\">{targets}</span>" if seen else
                    "no input needs a gradient") + "</h2>")
    if s.seed:
        parts.append(_row("Start", math_html(f"⟪L|{s.symbol}⟫ = ")
                          + '<span class="num grad-out">1</span> '
                          "<span class=\"hint\">(the loss changes one for one with "
                          "itself)</span>"))
    else:
        if s.parts:
            parts.append(_sum_row(s.symbol, s.parts, s.grad_out))
        g = s.grad_out
        shown = (f'<span class="num grad-out grad-value">{escape(fmt_array(g))}</span>'
                 if g.size <= 6 else
                 f'<div class="scroll">{_matrix(g, shape_text(g.shape), cls="grad-out")}</div>')
        parts.append(_row("Gradient arriving", math_html(f"⟪L|{s.symbol}⟫ = ") + shown))
        parts.append(_row("Checked", _check(s.grad_out, s.grad_out_fd, s.grad_out_checked,
                                            s.grad_out_agree, s.grad_out_sides, wt.kink_rule)))
    parts.append(_row("Definition", math_html(fwd.formula)))
    for e in s.edges:
        parts.append(_edge_card(wt, s, e))
    if s.note:
        parts.append(f'<p class="note">{math_html(s.note)}</p>')
    parts.append("</div>")
    return "".join(parts)


def _edge_card(wt, s, e) -> str:
    title = f"Gradient for <span class=\"math\">{_label_html(wt, e.box_id)}</span>"
    if e.contribution is not None:
        k, total = e.contribution
        title += (f' <span class="contrib">— contribution {k} of {total}, via '
                  f'<span class="math">{sym_html(e.via)}</span> (input {e.position + 1})</span>')
    out = [f'<div class="edge-card" data-input="{e.box_id}" data-form="{e.form}" '
           f'data-position="{e.position}">', f"<h3>{title}</h3>",
           _row("Chain rule", math_html(e.rule)
                + (f'<div class="hint">{math_html(e.rule_hint)}</div>' if e.rule_hint else ""))]
    if e.local_formula:
        out.append(_row("Local derivative", math_html(e.local_formula)
                        + (" = " + math_html(e.local_numbers) if e.local_numbers else "")))
    if e.compact:
        out.append(_row("In matrix form", math_html(e.compact)))
    if e.rows:  # the numbers the matrix form uses (cross-entropy's softmax and target)
        out.append(_row("The numbers in it", '<div class="mats">' + "".join(
            _captioned(_value(a, caption=None), math_html(label)) for label, a in e.rows)
            + "</div>"))
    symbol = e.symbol if e.contribution is None else f"{e.symbol}@{s.symbol}:{e.position}"
    if e.numbers:
        lhs, rhs = e.numbers.rsplit(" = ", 1)
        out.append(_row("With the numbers", math_html(lhs) + " = "
                        + f'<span class="result num grad-value" data-for="{escape(symbol)}">'
                        + escape(rhs) + "</span>"))
    elif e.form == "matrix" and e.jacobian is not None:
        g = _np.asarray(s.grad_out).reshape(1, -1)
        j = e.jacobian
        res = e.value.reshape(1, -1)
        cap_g = f"row ∂L/∂{escape(s.symbol)}, 1×{g.shape[1]}"
        den = "ℓ" if e.rule_hint else escape(s.symbol)
        cap_j = f"J = ∂{den}/∂{escape(e.symbol)}, {j.shape[0]}×{j.shape[1]}"
        mats = (f'<div class="mats scroll">{_matrix(g, cap_g)}<span class="op">×</span>'
                f'{_matrix(j, cap_j)}<span class="op">=</span>'
                f'{_matrix(res, f"1×{res.shape[1]}")}</div>')
        out.append(_row("Row vector × Jacobian", mats))
        out.append(_row("Result", _result(symbol, e.value, " grad-value")
                        + (f" <span class=\"hint\">the row reshaped to "
                           f"{escape(shape_text(e.value.shape))}</span>"
                           if e.value.ndim > 1 and e.value.shape[0] > 1 else "")))
    else:
        out.append(_row("Result", _result(symbol, e.value, " grad-value")))
    out.append(_row("Checked", _check(e.value, e.fd, e.fd_checked, e.agree,
                                      e.fd_sides if e.kink else None, wt.kink_rule)))
    if e.contribution is not None:
        k, total = e.contribution
        out.append(f'<p class="hint">This is contribution {k} of {total} to '
                   f"{math_html(f'⟪L|{e.symbol}⟫')}; the contributions are added up "
                   + ("at the gradient-descent step." if e.box_id.startswith("param") else
                      f"at the backward step of {sym_html(e.symbol)}.") + "</p>")
    if e.note:
        out.append(f'<p class="note dead">{math_html(e.note)}</p>')
    out.append("</div>")
    return "".join(out)


def _fd_cell(u, kink_rule) -> str:
    if u.kink:
        return _check(u.grad, u.grad_fd, u.fd_checked, u.agree, u.sides, kink_rule)
    mark = "✓" if u.agree else "✗"
    cls = "ok" if u.agree else "bad"
    n, total = int(_np.count_nonzero(u.fd_checked)), int(_np.asarray(u.fd_checked).size)
    if u.grad.size <= 6:
        shown = _np.where(u.fd_checked, u.grad_fd, _np.nan)
        return (f'<span class="fdcell">{_value(shown, "fd", caption=None)} '
                f'<span class="{cls}">{mark}</span></span>')
    diff = float(_np.abs(u.grad[u.fd_checked] - u.grad_fd[u.fd_checked]).max()) if n else 0.0
    return (f'<span class="hint">largest difference</span> <span class="num fd-diff">'
            f'{escape(fmt(diff))}</span> <span class="{cls}">{mark}</span> '
            f'<span class="hint">({n} of {total} entries)</span>')


def _update_step(wt) -> str:
    ids = " ".join(u.box_id for u in wt.updates)
    lr = fmt(wt.lr)
    cards = []
    for u in wt.updates:
        big = u.value.size > 36  # a large weight: its corner is enough to see the step
        lim = 6 if big else MATRIX_LIMIT
        cap = escape(shape_text(u.value.shape)) + (", top-left corner" if big else "") \
            if u.value.size > 1 else None
        parts = "".join(_sum_row(u.symbol, u.parts, u.grad)) if u.parts else ""
        cards.append(
            f'<div class="update-card" data-param="{u.box_id}">'
            f'<div class="update-name math">{_label_html(wt, u.box_id)}</div>{parts}'
            '<div class="mats">'
            + _captioned(_value(u.value, "old-value", UPDATE_DIGITS, None, lim),
                         f"w{', ' + cap if cap else ''}")
            + f'<span class="op">−&nbsp;{escape(lr)}&nbsp;×</span>'
            + _captioned(_value(u.grad, "grad-value", caption=None, limit=lim), "∂L/∂w")
            + '<span class="op">=</span>'
            + _captioned(_value(u.new_value, "result new-value", UPDATE_DIGITS, None, lim),
                         "new w")
            + f'</div><div class="fd-line"><span class="label">finite-difference estimate '
            f"of ∂L/∂w</span> {_fd_cell(u, wt.kink_rule)}</div></div>")
    change = wt.loss_after - wt.loss_before
    verdict = ("Every gradient on this page agrees with its finite-difference estimate."
               if wt.all_agree else "Some gradients disagree with their finite-difference "
               "estimates.")
    dead = wt.advice.startswith("Every gradient is 0")
    return (
        f'<div class="step" data-phase="update" data-node="" data-inputs="{ids}">'
        '<span class="tag update">Gradient-descent update</span>'
        f"<h2>Move every weight against its gradient: "
        f"<span class=\"math\">w ← w − η · {math_html('⟪L|w⟫')}</span>, η = {escape(lr)}</h2>"
        '<div class="updates">' + "".join(cards) + "</div>"
        '<div class="lossbox"><div><div class="label">loss before</div>'
        f'<div class="loss before" id="loss-before">{escape(fmt(wt.loss_before, 6))}</div></div>'
        '<div class="op">→</div><div><div class="label">loss after one step</div>'
        f'<div class="loss after" id="loss-after">{escape(fmt(wt.loss_after, 6))}</div></div>'
        f'<div class="hint">change {escape(fmt(change, 3))}</div></div>'
        f'<p class="{"note dead" if dead else "advice"}" id="advice">{math_html(wt.advice)}</p>'
        f"<p class=\"hint\">{verdict}</p></div>")


def node_steps(wt: Walkthrough) -> dict:
    """For each box: the page step at which its value (``fwd``) and its gradient
    (``bwd``) are known -- the gradient once its last contribution has arrived, which is
    the step that sends it (a value's own step only passes it on)."""
    info = {}
    for b in wt.graph.boxes:
        if b.kind != "op":
            info[b.id] = {"fwd": 0}
    for k, s in enumerate(wt.forward, 1):
        info.setdefault(s.box_id, {})["fwd"] = k
    base = len(wt.forward)
    for k, s in enumerate(wt.backward, base + 1):
        if s.seed:
            info.setdefault(s.box_id, {})["bwd"] = k
        for e in s.edges:
            info.setdefault(e.box_id, {})["bwd"] = k  # the last contribution completes it
    return info


def render_html(wt: Walkthrough) -> str:
    """The page, as a string."""
    pic = Picture(wt.graph, "LR", show_values=True, show_grads=True, compact=True, scale=1.15)
    svg = render_svg(pic, standalone=False, progressive=True)
    # the graph is drawn at its size, or shrunk to fit the card's width, but never below
    # 80% (text stays readable): then the card scrolls, following the current step
    svg = svg.replace("<svg ", f'<svg style="width: 100%; min-width: {pic.width * 0.8:.0f}px; '
                               f'max-width: {pic.width:.0f}px" ', 1)
    steps = [_start_step(wt)]
    steps += [_forward_step(wt, k, s) for k, s in enumerate(wt.forward, 1)]
    steps += [_backward_step(wt, k, s) for k, s in enumerate(wt.backward, 1)]
    steps.append(_update_step(wt))
    phases = (["start"] + ["forward"] * len(wt.forward) + ["backward"] * len(wt.backward)
              + ["update"])
    bar = "".join(f'<span class="{p}" title="step {k}"></span>' for k, p in enumerate(phases))
    chips = [f'<span class="chip">{escape(str(k))}: {escape(str(v))}</span>'
             for k, v in wt.settings.items()]
    chips.append(f'<span class="chip">learning rate: {escape(fmt(wt.lr))}</span>')
    chips.append(f'<span class="chip">{escape(wt.dtype)}</span>')
    page = _template()
    data = json.dumps(node_steps(wt)).replace("</", "<\\/")
    body = minus("\n".join(steps))
    for key, value in (("{{TITLE}}", escape(wt.title)), ("{{SUBTITLE}}", math_html(wt.subtitle)),
                       ("{{CHIPS}}", "".join(chips)), ("{{SVG}}", svg), ("{{BAR}}", bar),
                       ("{{STEPS}}", body), ("{{NODE_STEPS}}", data)):
        page = page.replace(key, value)
    return page


def write_html(wt: Walkthrough, path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(render_html(wt))
