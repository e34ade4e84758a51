"""The walk-through as terminal text (``chainrule explain --format text``)."""

from __future__ import annotations

from .. import backend
from .explain import Walkthrough
from .formulas import minus, plain
from .graph import fmt, fmt_array

_np = backend.np

MATRIX_LIMIT = 12  # rows/columns printed of a matrix
UPDATE_DIGITS = 6  # as the HTML page: the update panel shows small changes of the weights


def _matrix_lines(a, indent="      ", digits=4):
    a = _np.atleast_2d(_np.asarray(a))
    if a.ndim > 2:
        a = a.reshape(a.shape[0], -1)
    rows = []
    for r in a[:MATRIX_LIMIT]:
        cells = [f"{fmt(v, digits):>{digits + 6}}" for v in r[:MATRIX_LIMIT]]
        if a.shape[1] > MATRIX_LIMIT:
            cells.append(" …")
        rows.append(indent + "│" + " ".join(cells) + " │")
    if a.shape[0] > MATRIX_LIMIT:
        rows.append(indent + "  …")
    return rows


def _arg(a, digits=4) -> str:
    """A number written after an operator: negative ones in parentheses (``× (-0.5)``)."""
    s = fmt_array(a, digits)
    return f"({s})" if s.startswith("-") else s


def _side(value, sides):
    v = _np.asarray(value, dtype=float)
    if v.size != 1:
        return None
    v = float(v.reshape(-1)[0])
    right, left = (float(_np.asarray(x).reshape(-1)[0]) for x in sides)
    tol = 1e-6 * (1 + abs(v))
    if abs(v - right) <= tol < abs(v - left):
        return "right"
    if abs(v - left) <= tol < abs(v - right):
        return "left"
    return None


def _fd_line(value, fd, checked, ok, indent="      ", sides=None, kink_rule=""):
    v = _np.asarray(value)
    if sides is not None:
        side = _side(value, sides)
        choice = (f"the chain rule gives the slope from the {side}" if side else
                  "the chain rule gives a value between them")
        return (f"{indent}chain rule {fmt_array(v)}   not differentiable here (a kink): slope "
                f"from the right {fmt_array(_np.where(checked, sides[0], _np.nan))}, from the "
                f"left {fmt_array(_np.where(checked, sides[1], _np.nan))}; {choice} "
                f"({kink_rule})   " + ("✓ one-sided slope" if ok and side else
                                       "✓ between them" if ok else "✗ OUTSIDE THEM"))
    mark = "✓ agree" if ok else "✗ DIFFER"
    n, total = int(_np.count_nonzero(checked)), int(_np.asarray(checked).size)
    part = "" if n == total else f"  ({n} of {total} entries checked)"
    if v.size <= 6:
        return (f"{indent}chain rule {fmt_array(v)}   finite difference "
                f"{fmt_array(_np.where(checked, fd, _np.nan))}   {mark}{part}")
    diff = _np.abs(v[checked] - _np.asarray(fd)[checked]).max() if n else 0.0
    return f"{indent}finite differences: largest difference {fmt(diff)}   {mark}{part}"


def _sum_lines(symbol, parts, total, indent="      "):
    """The multivariable chain rule: the contributions to one gradient, added up."""
    terms = " + ".join(f"{_arg(p.value)} (via {p.via}, input {p.position + 1})"
                       for p in parts)
    return [f"{indent}{symbol} is read {len(parts)} times: its gradient is the sum of what "
            "comes back along each use",
            f"{indent}⟪L|{symbol}⟫ = {terms} = {fmt_array(total)}"]


def render_text(wt: Walkthrough, unicode: bool = True) -> str:
    """The whole walk-through, step after step, as plain text (``unicode=False``: ASCII
    only, for terminals that cannot print σ or ∂)."""

    def p(s):
        return plain(minus(s) if unicode else s, unicode)

    def name(box_id):
        return wt.label(box_id)

    out = []
    total = len(wt.forward) + len(wt.backward) + 1
    out.append(p(wt.title))
    out.append("=" * len(p(wt.title)))
    if wt.subtitle:
        out.append(p(wt.subtitle))
    if wt.settings:
        out.append("settings: " + ", ".join(f"{k}={v}" for k, v in wt.settings.items()))
    params = [b for b in wt.graph.boxes if b.kind == "param"]
    consts = [b for b in wt.graph.boxes if b.kind == "const"]
    out.append("")
    out.append(p("Inputs and parameters:"))
    for b in consts + params:
        v = b.value
        if v is not None and _np.asarray(v).size > 6:
            out.append(p(f"  {name(b.id)}, shape {tuple(_np.shape(v))}:"))
            out += [p(x) for x in _matrix_lines(v, "    ")]
        else:
            out.append(p(f"  {name(b.id)} = {fmt_array(v) if v is not None else '?'}"))
    k = 0
    out.append("")
    out.append("FORWARD PASS: compute and keep every value, from the inputs to the loss")
    out.append("")
    for s in wt.forward:
        k += 1
        out.append(p(f"[{k}/{total}] forward  {s.formula}"))
        for label, a in s.rows:
            out.append(p(f"      {label} = {fmt_array(a)}"))
        if s.numbers:
            out.append(p(f"      {s.numbers}"))
        else:
            out.append(p(f"      {s.symbol} = {fmt_array(s.value)}"))
        if s.note:
            out.append(p(f"      ({s.note})"))
    out.append("")
    out.append("BACKWARD PASS: from the loss back to every weight, by the chain rule")
    out.append("")
    for s in wt.backward:
        k += 1
        if s.seed:
            out.append(p(f"[{k}/{total}] backward at {s.symbol}: start with ⟪L|{s.symbol}⟫ = 1"))
        else:
            out.append(p(f"[{k}/{total}] backward at {s.symbol} ({s.op}): "
                         f"⟪L|{s.symbol}⟫ = {fmt_array(s.grad_out)}"))
            if s.parts:
                out += [p(x) for x in _sum_lines(s.symbol, s.parts, s.grad_out)]
            out.append(p(_fd_line(s.grad_out, s.grad_out_fd, s.grad_out_checked,
                                  s.grad_out_agree, sides=s.grad_out_sides,
                                  kink_rule=wt.kink_rule)))
        for e in s.edges:
            via = ""
            if e.contribution is not None:
                via = (f"   [contribution {e.contribution[0]} of {e.contribution[1]}, via "
                       f"{e.via} (input {e.position + 1})]")
            out.append(p(f"    → {e.rule}{via}"))
            if e.rule_hint:
                out.append(p(f"      ({e.rule_hint})"))
            if e.local_formula:
                out.append(p(f"      {e.local_formula}"
                             + (f" = {e.local_numbers}" if e.local_numbers else "")))
            if e.compact:
                out.append(p(f"      {e.compact}"))
            for label, a in e.rows:
                out.append(p(f"      {label} = {fmt_array(a)}"))
            if e.numbers:
                out.append(p(f"      {e.numbers}"))
            elif e.form == "matrix":
                g = _np.asarray(s.grad_out).reshape(1, -1)
                den = "ℓ" if e.rule_hint else s.symbol
                out.append(p(f"      row vector ⟪L|{s.symbol}⟫ (1×{g.shape[1]}):"))
                out += [p(x) for x in _matrix_lines(g)]
                out.append(p(f"      times J = ⟪{den}|{e.symbol}⟫ "
                             f"({e.jacobian.shape[0]}×{e.jacobian.shape[1]}):"))
                out += [p(x) for x in _matrix_lines(e.jacobian)]
                out.append(p(f"      = ⟪L|{e.symbol}⟫, shape {tuple(e.value.shape)}:"))
                out += [p(x) for x in _matrix_lines(e.value.reshape(
                    e.value.shape[0] if e.value.ndim > 1 else 1, -1))]
            else:
                out.append(p(f"      ⟪L|{e.symbol}⟫ = {fmt_array(e.value)}"))
            out.append(p(_fd_line(e.value, e.fd, e.fd_checked, e.agree,
                                  sides=e.fd_sides if e.kink else None,
                                  kink_rule=wt.kink_rule)))
            if e.note:
                out.append(p(f"      ({e.note})"))
        if s.note:
            out.append(p(f"      ({s.note})"))
    k += 1
    out.append("")
    out.append(p(f"[{k}/{total}] GRADIENT DESCENT: w ← w − η · ⟪L|w⟫ with η = {fmt(wt.lr)}"))
    d = UPDATE_DIGITS
    for u in wt.updates:
        if u.parts:
            out += [p(x) for x in _sum_lines(u.symbol, u.parts, u.grad, "  ")]
        if u.value.size <= 6:
            out.append(p(f"  {name(u.box_id)}: {fmt_array(u.value, d)} − {fmt(wt.lr)} × "
                         f"{_arg(u.grad)} = {fmt_array(u.new_value, d)}"))
        else:
            out.append(p(f"  {name(u.box_id)}: w − {fmt(wt.lr)} × ⟪L|w⟫, shape "
                         f"{tuple(u.value.shape)}; w:"))
            out += [p(x) for x in _matrix_lines(u.value, digits=d)]
            out.append(p("      ⟪L|w⟫:"))
            out += [p(x) for x in _matrix_lines(u.grad)]
            out.append(p("      new w:"))
            out += [p(x) for x in _matrix_lines(u.new_value, digits=d)]
        out.append(p(_fd_line(u.grad, u.grad_fd, u.fd_checked, u.agree, "      ",
                              sides=u.sides if u.kink else None, kink_rule=wt.kink_rule)))
    change = wt.loss_after - wt.loss_before
    out.append(p(f"  loss before the step: {fmt(wt.loss_before, 6)}"))
    out.append(p(f"  loss after the step:  {fmt(wt.loss_after, 6)}  "
                 f"(change {fmt(change, 3)})"))
    out.append(p(f"  {wt.advice}"))
    out.append("")
    verdict = ("every chain-rule gradient agrees with its finite-difference estimate"
               if wt.all_agree else "SOME GRADIENTS DISAGREE WITH FINITE DIFFERENCES")
    out.append(p(verdict))
    return "\n".join(out) + "\n"
