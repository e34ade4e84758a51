"""The backpropagation walk-through: every number of one forward pass, one backward pass and
one gradient-descent step, computed by the library and checked by finite differences.

``walkthrough(loss)`` returns a ``Walkthrough``: forward steps (one per op, in the order
they ran: formula, the values plugged in, the result), backward steps (one per op, in
reverse: dL/d(output), and for each input the local derivative, the chain-rule product and
its finite-difference estimate) and the update panel (w <- w - lr * dL/dw for each
parameter; the loss before and after that step).  ``explain(loss, path)`` writes it as an
HTML page (``chainrule.viz.html``) or as text (``chainrule.viz.text``).

Where the numbers come from: forward values from the primitives' forwards (a replay of the
recorded graph); gradients from the primitives' VJPs, walked as the engine walks them
(``walk.BackwardWalk``); local Jacobians from the same VJPs on one-hot gradients; finite
differences from float64 replays with one value nudged (``Trace.numeric_grad``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .. import backend
from ..tensor import Tensor
from . import formulas as fm
from .graph import Graph, build_graph, fmt_array
from .trace import Trace, record
from .walk import BackwardWalk

_np = backend.np

INLINE = 6  # arrays with at most this many entries are written out inside formulas
FD_ENTRIES = 24  # finite differences on at most this many entries of one tensor
JACOBIAN_LIMIT = 400  # largest local Jacobian (entries) written out as a matrix


@dataclass
class Operand:
    symbol: str
    box_id: str
    value: object  # numpy array


@dataclass
class ForwardStep:
    box_id: str
    symbol: str
    op: str
    formula: str  # markup
    numbers: str | None  # the formula with the values plugged in, and the result
    inputs: list
    value: object
    note: str | None = None


@dataclass
class EdgeStep:
    """What one backward step sends to one of its inputs."""

    position: int
    box_id: str
    symbol: str
    form: str  # "scalar", "elementwise", "matrix" or "opaque"
    rule: str  # markup: dL/d(in) = dL/d(out) . d(out)/d(in)
    local_formula: str | None
    local_numbers: str | None
    local: object  # the local derivative (scalar / elementwise forms), input-shaped
    jacobian: object  # d(out)/d(in) as a matrix (matrix form)
    compact: str | None  # the matrix rule in words (matrix / opaque forms)
    numbers: str | None  # the product with the numbers (scalar / elementwise forms)
    value: object  # the chain-rule value, input-shaped
    fd: object  # its finite-difference estimate (NaN where not estimated)
    fd_checked: object
    agree: bool
    max_diff: float
    kink: bool = False  # a kink (relu at 0): checked against the one-sided slopes
    fd_sides: object = None  # (forward, backward) one-sided estimates, at a kink


@dataclass
class BackwardStep:
    box_id: str
    symbol: str
    op: str
    grad_out: object
    grad_out_fd: object  # None for the loss itself (dL/dL = 1)
    grad_out_checked: object
    seed: bool
    grad_out_agree: bool = True
    edges: list = field(default_factory=list)
    note: str | None = None


@dataclass
class Update:
    box_id: str
    symbol: str
    value: object
    grad: object
    grad_fd: object
    fd_checked: object
    new_value: object
    agree: bool


@dataclass
class Walkthrough:
    title: str
    subtitle: str
    settings: dict
    graph: Graph
    forward: list
    backward: list
    updates: list
    lr: float
    loss_before: float
    loss_after: float
    dtype: str
    rtol: float
    atol: float
    notes: dict = field(default_factory=dict)
    symbols: dict = field(default_factory=dict)  # box id -> symbol

    def steps(self):
        """Every step of the page, in order: ``("forward", ForwardStep)``, ...,
        ``("backward", BackwardStep)``, ..., ``("update", None)``."""
        return ([("forward", s) for s in self.forward] + [("backward", s) for s in self.backward]
                + [("update", None)])

    @property
    def all_agree(self) -> bool:
        return all(s.grad_out_agree and all(e.agree for e in s.edges) for s in self.backward
                   ) and all(u.agree for u in self.updates)


def _np64(a):
    return _np.asarray(backend.to_numpy(a), dtype=_np.float64)


def _inline(a) -> bool:
    return a is not None and _np.asarray(a).size <= INLINE


def _num(a) -> str:
    return fmt_array(_np.asarray(a))


def _arg(a) -> str:
    """A value plugged into a formula: negative scalars in parentheses (e^(−(−0.5)))."""
    s = _num(a)
    return f"({s})" if s.startswith("-") else s


def _agree(value, fd, checked, rtol, atol, sides=None):
    """(agree, largest difference, kink): the chain-rule value matches the central finite
    difference; or, where the one-sided slopes differ (a kink, such as relu at 0), it lies
    between them -- a valid subgradient (chainrule uses relu'(0) = 0, as torch)."""
    v = _np64(value)[checked]
    f = fd[checked]
    if v.size == 0:
        return True, 0.0, False
    diff = _np.abs(v - f)
    close = diff <= atol + rtol * _np.abs(f)
    kink = False
    if sides is not None and not close.all():
        lo = _np.minimum(sides[0], sides[1])[checked]
        hi = _np.maximum(sides[0], sides[1])[checked]
        tol = 1e-4 * (1 + _np.abs(f)) + atol
        is_kink = (hi - lo) > tol
        between = (v >= lo - tol) & (v <= hi + tol)
        ok = close | (is_kink & between)
        kink = bool((is_kink & ~close).any())
        return bool(ok.all()), float(diff.max()), kink
    return bool(close.all()), float(diff.max()), kink


def _symbols(graph: Graph) -> dict:
    """A short symbol for every box: its given name, else p1.. (parameters), c1..
    (constants), v1.. (op values) and L for a one-element root."""
    out = {}
    counts = {"param": 0, "const": 0, "op": 0}
    for b in graph.boxes:
        counts[b.kind] += 1
        name = b.name
        if name is None:
            if b.id == graph.root and b.shape is not None and _size(b.shape) == 1:
                name = "L"
            else:
                name = {"param": "p", "const": "c", "op": "v"}[b.kind] + str(counts[b.kind])
        out[b.id] = name
        b.name = name
    return out


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n


def walkthrough(loss, *, lr: float = 0.1, params=None, names=None, title: str | None = None,
                subtitle: str = "", settings: dict | None = None, notes: dict | None = None,
                fd_entries: int = FD_ENTRIES) -> Walkthrough:
    """The walk-through of the graph behind ``loss`` (a one-element tensor; or a function
    of no arguments that builds it, which is then run inside ``record()`` so that every
    value is kept).

    ``params``: a Module, or ``{name: parameter}``, naming parameters; ``names``: ``{name:
    tensor}`` naming any value (intermediate ones, constants such as the data ``x``);
    ``lr``: the learning rate of the update panel; ``notes``: ``{symbol: markup}`` a
    remark shown with that value's forward step and (key ``"d" + symbol``) with the
    backward step that computes its gradient.
    """
    if callable(loss) and not isinstance(loss, Tensor):
        with record():
            loss = loss()
    if not isinstance(loss, Tensor):
        raise TypeError(f"explain: expected a loss Tensor (or a function returning one), got "
                        f"{type(loss).__name__}")
    if loss._node is None:
        raise ValueError("explain: the loss has no recorded graph (no input requires grad, or "
                         "it was computed under no_grad)")
    if loss.numel() != 1 or not loss.is_floating_point():
        raise ValueError(f"explain: the loss must be a one-element floating tensor, got shape "
                         f"{tuple(loss.shape)} {loss.dtype}")
    trace = Trace.of(loss)
    trace.require_values("explain")
    walk = BackwardWalk(trace)
    graph = build_graph(loss, params=params, names=names, trace=trace, walk=walk)
    symbols = _symbols(graph)
    notes = dict(notes or {})
    dt = loss.data.dtype
    rtol, atol = (1e-5, 1e-8) if dt == _np.float64 else (2e-3, 2e-5)

    def box_of(ref):
        return graph.box_of_ref(ref).id

    # ------------------------------------------------------------ forward
    forward = []
    for s in trace.steps:
        bid = box_of_step(s)
        out_sym = symbols[bid]
        in_ids = [box_of(r) for r in s.refs]
        in_syms = [symbols[i] for i in in_ids]
        values = trace.inputs_of(s)
        param = fm.op_param(s.op, s.params)
        tmpl = fm.forward_template(s.op, len(s.refs), s.params)
        formula = fm.fill(tmpl, fm.sym(out_sym), [fm.sym(x) for x in in_syms], param)
        out_v = trace.values[s.index]
        numbers = None
        if all(_inline(v) for v in values) and _inline(out_v):
            rhs = fm.fill_numbers(tmpl, "", [_num(v) for v in values], param)
            rhs = rhs.split("=", 1)[1].strip()
            numbers = f"{fm.sym(out_sym)} = {rhs} = {_num(out_v)}"
        forward.append(ForwardStep(
            bid, out_sym, s.op, formula, numbers,
            [Operand(sy, i, _np64(v)) for sy, i, v in zip(in_syms, in_ids, values)],
            _np64(out_v), notes.get(out_sym)))

    # ------------------------------------------------------------ backward
    backward = []
    last = len(trace.steps) - 1
    for j in walk.order:
        s = trace.steps[j]
        bid = box_of_step(s)
        out_sym = symbols[bid]
        g = walk.grad_out[j]
        if j == last:
            gfd, gchk, gok = None, None, True
        else:
            gfd, gchk, *gs = trace.numeric_grad(("out", j), max_entries=fd_entries, sides=True)
            gok = _agree(g, gfd, gchk, rtol, atol, gs)[0]
        step = BackwardStep(bid, out_sym, s.op, _np64(g), gfd, gchk, j == last, gok,
                            note=notes.get("d" + out_sym))
        inputs = trace.inputs_of(s)
        out_v = trace.values[j]
        param = fm.op_param(s.op, s.params)
        for i, r in enumerate(s.refs):
            gi = walk.edge_grad.get((j, i))
            if gi is None:
                continue
            in_id = box_of(r)
            in_sym = symbols[in_id]
            fd, chk, *sides = trace.numeric_grad(("in", j, i), max_entries=fd_entries,
                                                 sides=True)
            ok, diff, kink = _agree(gi, fd, chk, rtol, atol, sides)
            edge = _edge_step(walk, s, i, in_id, in_sym, out_sym, inputs, out_v, g, gi, fd, chk,
                              ok, diff, param, [symbols[box_of(q)] for q in s.refs])
            edge.kink = kink
            edge.fd_sides = (sides[0], sides[1]) if kink else None
            step.edges.append(edge)
        backward.append(step)

    # ------------------------------------------------------------ update
    updates = []
    new_leaves = []
    for k, t in enumerate(trace.leaves):
        g = walk.leaf_grad.get(k)
        if g is None:
            new_leaves.append(t.data)
            continue
        new = t.data - t.data.dtype.type(lr) * g
        new_leaves.append(new)
        fd, chk, *sides = trace.numeric_grad(("leaf", k), max_entries=fd_entries, sides=True)
        ok, _, _ = _agree(g, fd, chk, rtol, atol, sides)
        bid = box_of_leaf(k)
        updates.append(Update(bid, symbols[bid], _np64(t.data), _np64(g), fd, chk, _np64(new),
                              ok))
    after = trace.run(leaf_values=new_leaves)
    loss_before = float(_np64(trace.values[-1]).reshape(-1)[0])
    loss_after = float(_np64(after[-1]).reshape(-1)[0])

    wt = Walkthrough(title or "Backpropagation, step by step", subtitle, dict(settings or {}),
                     graph, forward, backward, updates, float(lr), loss_before, loss_after,
                     str(_np.dtype(dt)), rtol, atol, notes, symbols)
    return wt


def box_of_step(s) -> str:
    return "op" + str(s.index)


def box_of_leaf(k) -> str:
    return "param" + str(k)


def _edge_step(walk, s, i, in_id, in_sym, out_sym, inputs, out_v, g, gi, fd, chk, ok, diff,
               param, in_syms):
    op = s.op
    rule = (f"{fm.deriv('L', in_sym)} = {fm.deriv('L', out_sym)} · "
            f"{fm.deriv(out_sym, in_sym)}")
    x = inputs[i]
    jac = walk.jacobian(s.index, i, limit=JACOBIAN_LIMIT)
    local_t = (fm.LOCAL.get(op) or [None] * (i + 1))
    local_t = local_t[i] if i < len(local_t) else None
    compact_t = fm.COMPACT.get(op)
    compact_t = compact_t[i] if compact_t is not None and i < len(compact_t) else None
    sym_in = [fm.sym(v) for v in in_syms]
    compact = fm.fill(compact_t, fm.sym(out_sym), sym_in, param) if compact_t else None

    form = "opaque"
    local = None
    if jac is not None:
        m, n = jac.shape
        if m == 1 and n == 1:
            form = "scalar"
            local = jac.reshape(x.shape)
        elif (m == n and tuple(x.shape) == tuple(out_v.shape)
              and _np.count_nonzero(jac - _np.diag(_np.diag(jac))) == 0 and compact_t is None):
            form = "elementwise"
            local = _np.diag(jac).reshape(x.shape)
        else:
            form = "matrix"
    elif local_t is not None and compact_t is None:
        # an elementwise op too big for its Jacobian: its diagonal is all there is
        local = walk.local_diagonal(s.index, i)
        if local is not None:
            form = "elementwise"
    local_formula = local_numbers = numbers = None
    if form in ("scalar", "elementwise"):
        if local_t is not None:
            local_formula = (f"{fm.deriv(out_sym, in_sym)} = "
                             + fm.fill(local_t, fm.sym(out_sym), sym_in, param))
            if all(_inline(v) for v in inputs) and _inline(out_v):
                local_numbers = fm.fill_numbers(local_t, _num(out_v), [_num(v) for v in inputs],
                                                param)
                if local_numbers.strip("()") != _num(local):
                    local_numbers += f" = {_num(local)}"
                else:
                    local_numbers = _num(local)
            else:
                local_numbers = f"{_num(local)}"
        else:
            local_formula = f"{fm.deriv(out_sym, in_sym)}"
            local_numbers = _num(local)
        times = "×" if form == "scalar" else "⊙"
        if _inline(g) and _inline(local):
            numbers = f"{_num(g)} {times} {_arg(local)} = {_num(gi)}"
    if form != "scalar":
        rule = (f"{fm.deriv('L', in_sym)} = {fm.deriv('L', out_sym)} ⊙ "
                f"{fm.deriv(out_sym, in_sym)}" if form == "elementwise" else
                f"{fm.deriv('L', in_sym)} = {fm.deriv('L', out_sym)} · J, "
                f"J = {fm.deriv(out_sym, in_sym)}")
    return EdgeStep(i, in_id, in_sym, form, rule, local_formula, local_numbers,
                    None if local is None else _np64(local), jac, compact, numbers, _np64(gi),
                    fd, chk, ok, diff)


def explain(loss, path=None, *, format: str | None = None, lr: float = 0.1, params=None,
            names=None, title: str | None = None, **kwargs) -> Walkthrough:
    """Write the walk-through of the graph behind ``loss`` to ``path``: an HTML page that
    steps through the forward and the backward pass (``format="html"``, the default, or a
    ``.html`` path) or text (``format="text"``, or a ``.txt`` path).  Returns the
    ``Walkthrough``.  ``loss`` may also be a function of no arguments that builds the loss
    (any graph can then be replayed; see ``record``).

    >>> import chainrule as cr
    >>> w = cr.tensor(0.5, dtype=cr.float64, requires_grad=True)
    >>> wt = cr.viz.explain(lambda: (w * 3.0 - 1.0) ** 2)
    >>> [s.symbol for s in wt.forward]
    ['v1', 'v2', 'L']
    """
    wt = walkthrough(loss, lr=lr, params=params, names=names, title=title, **kwargs)
    if path is not None:
        if format is None:
            format = "text" if str(path).endswith(".txt") else "html"
        if format == "html":
            from .html import write_html

            write_html(wt, path)
        elif format == "text":
            from .text import render_text

            with open(path, "w", encoding="utf-8") as f:
                f.write(render_text(wt))
        else:
            raise ValueError(f"explain: format must be 'html' or 'text', got {format!r}")
    return wt
