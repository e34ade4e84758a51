"""The walk-through as terminal text (``chainrule explain --format text``)."""

from __future__ import annotations

from .. import backend
from .explain import Walkthrough
from .formulas import plain
from .graph import fmt, fmt_array

_np = backend.np

MATRIX_LIMIT = 12  # rows/columns printed of a matrix


def _matrix_lines(a, indent="      "):
    a = _np.atleast_2d(_np.asarray(a))
    rows = []
    for r in a[:MATRIX_LIMIT]:
        cells = [f"{fmt(v):>10}" for v in r[:MATRIX_LIMIT]]
        if a.shape[1] > MATRIX_LIMIT:
            cells.append(" …")
        rows.append(indent + "│" + " ".join(cells) + " │")
    if a.shape[0] > MATRIX_LIMIT:
        rows.append(indent + "  …")
    return rows


def _fd_line(value, fd, checked, ok, indent="      ", sides=None):
    v = _np.asarray(value)
    if sides is not None:
        return (f"{indent}chain rule {fmt_array(v)}   not differentiable here (a kink): slopes "
                f"{fmt_array(_np.where(checked, sides[0], _np.nan))} from the right and "
                f"{fmt_array(_np.where(checked, sides[1], _np.nan))} from the left   "
                + ("✓ between them" if ok else "✗ DIFFER"))
    mark = "✓ agree" if ok else "✗ DIFFER"
    n, total = int(_np.count_nonzero(checked)), int(_np.asarray(checked).size)
    part = "" if n == total else f"  ({n} of {total} entries checked)"
    if v.size <= 6:
        return (f"{indent}chain rule {fmt_array(v)}   finite difference "
                f"{fmt_array(_np.where(checked, fd, _np.nan))}   {mark}{part}")
    diff = _np.abs(v[checked] - _np.asarray(fd)[checked]).max() if n else 0.0
    return f"{indent}finite differences: largest difference {fmt(diff)}   {mark}{part}"


def render_text(wt: Walkthrough, unicode: bool = True) -> str:
    """The whole walk-through, step after step, as plain text (``unicode=False``: ASCII
    only, for terminals that cannot print σ or ∂)."""

    def p(s):
        return plain(s, unicode)

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
        out.append(p(f"  {b.name} = {fmt_array(b.value) if b.value is not None else '?'}"))
    k = 0
    out.append("")
    out.append("FORWARD PASS: compute and keep every value, from the inputs to the loss")
    out.append("")
    for s in wt.forward:
        k += 1
        out.append(p(f"[{k}/{total}] forward  {s.formula}"))
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
            out.append(p(f"[{k}/{total}] backward at {s.symbol}: start with ⟪L|L⟫ = 1"))
        else:
            out.append(p(f"[{k}/{total}] backward at {s.symbol} ({s.op}): "
                         f"⟪L|{s.symbol}⟫ = {fmt_array(s.grad_out)}"))
            out.append(p(_fd_line(s.grad_out, s.grad_out_fd, s.grad_out_checked,
                                  s.grad_out_agree)))
        for e in s.edges:
            out.append(p(f"    → {e.rule}"))
            if e.local_formula:
                out.append(p(f"      {e.local_formula} = {e.local_numbers}"))
            if e.compact:
                out.append(p(f"      {e.compact}"))
            if e.numbers:
                out.append(p(f"      {e.numbers}"))
            elif e.form == "matrix":
                g = _np.asarray(s.grad_out).reshape(1, -1)
                out.append(p(f"      row vector ⟪L|{s.symbol}⟫ (1×{g.shape[1]}):"))
                out += [p(x) for x in _matrix_lines(g)]
                out.append(p(f"      times J = ⟪{s.symbol}|{e.symbol}⟫ "
                             f"({e.jacobian.shape[0]}×{e.jacobian.shape[1]}):"))
                out += [p(x) for x in _matrix_lines(e.jacobian)]
                out.append(p(f"      = ⟪L|{e.symbol}⟫, shape {tuple(e.value.shape)}:"))
                out += [p(x) for x in _matrix_lines(e.value.reshape(
                    e.value.shape[0] if e.value.ndim > 1 else 1, -1))]
            else:
                out.append(p(f"      ⟪L|{e.symbol}⟫ = {fmt_array(e.value)}"))
            out.append(p(_fd_line(e.value, e.fd, e.fd_checked, e.agree,
                                  sides=e.fd_sides if e.kink else None)))
        if s.note:
            out.append(p(f"      ({s.note})"))
    k += 1
    out.append("")
    out.append(p(f"[{k}/{total}] GRADIENT DESCENT: w ← w − η · ⟪L|w⟫ with η = {fmt(wt.lr)}"))
    for u in wt.updates:
        out.append(p(f"  {u.symbol}: {fmt_array(u.value)} − {fmt(wt.lr)} × "
                     f"{fmt_array(u.grad)} = {fmt_array(u.new_value)}"))
        out.append(p(_fd_line(u.grad, u.grad_fd, u.fd_checked, u.agree, "      ")))
    change = wt.loss_after - wt.loss_before
    out.append(p(f"  loss before the step: {fmt(wt.loss_before, 6)}"))
    out.append(p(f"  loss after the step:  {fmt(wt.loss_after, 6)}  "
                 f"(change {fmt(change, 3)})"))
    out.append("")
    verdict = ("every chain-rule gradient agrees with its finite-difference estimate"
               if wt.all_agree else "SOME GRADIENTS DISAGREE WITH FINITE DIFFERENCES")
    out.append(p(verdict))
    return "\n".join(out) + "\n"

