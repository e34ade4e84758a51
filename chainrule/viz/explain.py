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
    rows: list = field(default_factory=list)  # [(label markup, array)]: intermediate numbers


@dataclass
class Part:
    """One contribution to the gradient of a value that more than one op reads (or one op
    reads twice): the multivariable chain rule adds the contributions up."""

    via: str  # the symbol of the op's output that sends it
    via_box: str
    position: int  # the input of that op it arrives through (0-based)
    value: object


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
    contribution: tuple | None = None  # (k, n): the k-th of n parts of the input's gradient
    via: str = ""  # the symbol of this step's output (what the contribution comes through)
    rule_hint: str | None = None  # markup: what the rule's local derivative is (at the loss)
    rows: list = field(default_factory=list)  # [(label markup, array)]: worked numbers
    note: str | None = None  # markup: a remark (a unit that is off passes no gradient)


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
    grad_out_kink: bool = False
    grad_out_sides: object = None
    parts: list = field(default_factory=list)  # [Part]: when dL/d(this value) is a sum


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
    kink: bool = False
    sides: object = None
    parts: list = field(default_factory=list)  # [Part]: a weight read by several ops


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
    labels: dict = field(default_factory=dict)  # box id -> module name (fc1.weight)
    advice: str = ""  # markup: what the update did, and why (a dead unit, a too-large step)
    kink_rule: str = ""  # markup: the derivative the library takes at a kink

    def steps(self):
        """Every step of the page, in order: ``("forward", ForwardStep)``, ...,
        ``("backward", BackwardStep)``, ..., ``("update", None)``."""
        return ([("forward", s) for s in self.forward] + [("backward", s) for s in self.backward]
                + [("update", None)])

    @property
    def all_agree(self) -> bool:
        return all(s.grad_out_agree and all(e.agree for e in s.edges) for s in self.backward
                   ) and all(u.agree for u in self.updates)

    def label(self, box_id: str) -> str:
        """The symbol of a box, with its module name when it has one: ``W1 (fc1.weight)``."""
        sym = self.symbols[box_id]
        mod = self.labels.get(box_id)
        return f"{sym} ({mod})" if mod else sym


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


def _module_symbols(graph: Graph, params) -> dict:
    """Short symbols for a Module's parameters: the weight and bias of its k-th layer
    become W_k and b_k (formulas read ``z1 = x W1ᵀ + b1``, not ``x fc1.weightᵀ +
    fc1.bias``); the box keeps the module name as its title.  Returns {box id: module
    name} for the renamed boxes."""
    if params is None or not hasattr(params, "named_parameters"):
        return {}
    layers = []
    for name, _ in params.named_parameters():
        layer, _, leaf = name.rpartition(".")
        if leaf == "weight" and layer not in layers:
            layers.append(layer)
    want = {}
    for k, layer in enumerate(layers, 1):
        dot = layer + "." if layer else ""
        want[dot + "weight"] = f"W{k}"
        want[dot + "bias"] = f"b{k}"
    taken = {b.name for b in graph.boxes if b.name is not None}
    labels = {}
    for b in graph.boxes:
        sym = want.get(b.name) if b.kind == "param" else None
        if sym is not None and sym not in taken:
            labels[b.id] = b.name
            b.title = b.name
            b.name = sym
    return labels


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

    ``params``: a Module, or ``{name: parameter}``, naming parameters (a Module's weights
    and biases are written W1, b1, ... with their module names beside); ``names``:
    ``{name: tensor}`` naming any value (intermediate ones, constants such as the data
    ``x``); ``lr``: the learning rate of the update panel; ``notes``: ``{symbol: markup}``
    a remark shown with that value's forward step and (key ``"d" + symbol``) with the
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
    labels = _module_symbols(graph, params)
    symbols = _symbols(graph)
    notes = dict(notes or {})
    dt = loss.data.dtype
    rtol, atol = (1e-5, 1e-8) if dt == _np.float64 else (2e-3, 2e-5)

    def box_of(ref):
        return graph.box_of_ref(ref).id

    # the order in which the backward pass visits the steps, for listing contributions
    visit = {j: n for n, j in enumerate(walk.order)}

    def parts_of(key):
        """The contributions to the gradient of the value ``key`` (a Ref key), in the
        order the backward pass computes them."""
        out = []
        for j, i in trace.consumers.get(key, ()):
            gi = walk.edge_grad.get((j, i))
            if gi is not None and j in visit:
                bid = box_of_step(trace.steps[j])
                out.append((visit[j], i, Part(symbols[bid], bid, i, _np64(gi))))
        return [p for _, _, p in sorted(out, key=lambda t: (t[0], t[1]))]

    # ------------------------------------------------------------ forward
    forward = []
    for s in trace.steps:
        bid = box_of_step(s)
        out_sym = symbols[bid]
        in_ids = [box_of(r) for r in s.refs]
        in_syms = [symbols[i] for i in in_ids]
        values = trace.inputs_of(s)
        out_v = trace.values[s.index]
        many = _size(out_v.shape) > 1
        param = fm.op_param(s.op, s.params)
        tmpl = fm.forward_template(s.op, len(s.refs), s.params)
        formula = fm.fill(tmpl, fm.sym(out_sym), [fm.sym(x) for x in in_syms], param, many)
        numbers = None
        rows = []
        if s.op == "cross_entropy":
            numbers, rows = _cross_entropy_forward(s, values, out_v, out_sym, in_syms)
        elif all(_inline(v) for v in values) and _inline(out_v):
            rhs = fm.fill_numbers(tmpl, "", [_num(v) for v in values], param, many)
            rhs = rhs.split("=", 1)[1].strip()
            numbers = f"{fm.sym(out_sym)} = {rhs} = {_num(out_v)}"
        forward.append(ForwardStep(
            bid, out_sym, s.op, formula, numbers,
            [Operand(sy, i, _np64(v)) for sy, i, v in zip(in_syms, in_ids, values)],
            _np64(out_v), notes.get(out_sym), rows))

    # ------------------------------------------------------------ backward
    backward = []
    last = len(trace.steps) - 1
    for j in walk.order:
        s = trace.steps[j]
        bid = box_of_step(s)
        out_sym = symbols[bid]
        g = walk.grad_out[j]
        gkink, gsides = False, None
        if j == last:
            gfd, gchk, gok = None, None, True
        else:
            gfd, gchk, *gs = trace.numeric_grad(("out", j), max_entries=fd_entries, sides=True)
            gok, _, gkink = _agree(g, gfd, gchk, rtol, atol, gs)
            gsides = (gs[0], gs[1]) if gkink else None
        parts = parts_of(("step", j))
        step = BackwardStep(bid, out_sym, s.op, _np64(g), gfd, gchk, j == last, gok,
                            note=notes.get("d" + out_sym), grad_out_kink=gkink,
                            grad_out_sides=gsides, parts=parts if len(parts) > 1 else [])
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
                              ok, diff, param, [symbols[box_of(q)] for q in s.refs],
                              seed=j == last, params=trace.params[j])
            edge.kink = kink
            edge.fd_sides = (sides[0], sides[1]) if kink else None
            edge.via = out_sym
            rparts = parts_of(r.key())
            if len(rparts) > 1:
                k = next(n for n, p in enumerate(rparts, 1)
                         if p.via_box == bid and p.position == i)
                edge.contribution = (k, len(rparts))
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
        ok, _, kink = _agree(g, fd, chk, rtol, atol, sides)
        bid = box_of_leaf(k)
        parts = parts_of(("leaf", k))
        updates.append(Update(bid, symbols[bid], _np64(t.data), _np64(g), fd, chk, _np64(new),
                              ok, kink, (sides[0], sides[1]) if kink else None,
                              parts if len(parts) > 1 else []))
    after = trace.run(leaf_values=new_leaves)
    loss_before = float(_np64(trace.values[-1]).reshape(-1)[0])
    loss_after = float(_np64(after[-1]).reshape(-1)[0])

    wt = Walkthrough(title or "Backpropagation, step by step", subtitle, dict(settings or {}),
                     graph, forward, backward, updates, float(lr), loss_before, loss_after,
                     str(_np.dtype(dt)), rtol, atol, notes, symbols, labels)
    wt.kink_rule = ("chainrule, like torch, takes relu′(0) = 0" if any(
        s.op == "relu" for s in trace.steps) else "chainrule takes the same one-sided "
        "derivative as torch")
    wt.advice = _advice(wt)
    return wt


def box_of_step(s) -> str:
    return "op" + str(s.index)


def box_of_leaf(k) -> str:
    return "param" + str(k)


def _edge_step(walk, s, i, in_id, in_sym, out_sym, inputs, out_v, g, gi, fd, chk, ok, diff,
               param, in_syms, seed=False, params=None):
    op = s.op
    x = inputs[i]
    many = _size(out_v.shape) > 1
    # the local derivative's name: d(out)/d(in); at the loss itself, d(l)/d(in) where l is
    # the loss's formula -- "dL/dy = dL/dL . dL/dy" would explain nothing
    local_name = fm.deriv("ℓ" if seed else out_sym, in_sym)
    rule_hint = None
    if seed:
        args = ", ".join(fm.sym(v) for v in in_syms)
        rule_hint = (f"ℓ is the formula of the loss, {fm.sym(out_sym)} = ℓ({args}): "
                     f"the backward pass starts with ⟪L|{out_sym}⟫ = 1, times the loss's "
                     f"own derivative.")
    rule = f"{fm.deriv('L', in_sym)} = {fm.deriv('L', out_sym)} · {local_name}"
    jac = walk.jacobian(s.index, i, limit=JACOBIAN_LIMIT)
    local_t = (fm.LOCAL.get(op) or [None] * (i + 1))
    local_t = local_t[i] if i < len(local_t) else None
    if op == "cross_entropy":
        compact_t = fm.cross_entropy_compact(params or s.params, len(inputs) > 2,
                                             _ignored(inputs, params or s.params)) \
            if i == 0 else None
    else:
        compact_t = fm.COMPACT.get(op)
        compact_t = compact_t[i] if compact_t is not None and i < len(compact_t) else None
    sym_in = [fm.sym(v) for v in in_syms]
    compact = fm.fill(compact_t, fm.sym(out_sym), sym_in, param, many) if compact_t else None

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
            rhs = fm.fill(local_t, fm.sym(out_sym), sym_in, param, many)
            local_formula = f"{local_name} = {rhs}"
            result = _num(local)
            if all(_inline(v) for v in inputs) and _inline(out_v):
                filled = fm.fill_numbers(local_t, _num(out_v), [_num(v) for v in inputs],
                                         param, many)
                local_numbers = _chain_of_equals(filled, result, fm.plain(rhs))
            else:
                local_numbers = result
            if fm.plain(local_numbers) == fm.plain(rhs):
                local_numbers = None  # "= 1 = 1": the formula is already the number
        else:
            local_formula = local_name
            local_numbers = _num(local)
        times = "×" if form == "scalar" else "⊙"
        if _inline(g) and _inline(local):
            numbers = f"{_num(g)} {times} {_arg(local)} = {_num(gi)}"
    if form == "elementwise":
        rule = f"{fm.deriv('L', in_sym)} = {fm.deriv('L', out_sym)} ⊙ {local_name}"
    elif form != "scalar":
        rule = f"{fm.deriv('L', in_sym)} = {fm.deriv('L', out_sym)} · J, J = {local_name}"
    edge = EdgeStep(i, in_id, in_sym, form, rule, local_formula, local_numbers,
                    None if local is None else _np64(local), jac, compact, numbers, _np64(gi),
                    fd, chk, ok, diff, rule_hint=rule_hint)
    if op == "cross_entropy" and i == 0:
        edge.rows = _cross_entropy_rows(inputs, params or s.params, g, gi, in_syms)
    if op == "relu" and local is not None:
        edge.note = _relu_note(x, g, in_sym, out_sym)
    return edge


def _chain_of_equals(filled: str, result: str, formula: str = "") -> str:
    """``exp(0.1) = 1.105``: a filled-in template's parts that say something new (not the
    formula itself again), then the result once (not ``exp(0.1) = 1.105 = 1.105``)."""
    parts = []
    for p in filled.split(" = "):
        p = p.strip()
        if p.strip("()") == result or p == formula or (parts and parts[-1] == p):
            continue
        parts.append(p)
    return " = ".join(parts + [result])


def _relu_note(x, g, in_sym, out_sym):
    """Why relu passes no gradient where its input is not positive (a unit that is off)."""
    x = _np64(x)
    off = x <= 0
    if not off.any() or not _np.any(_np64(g).reshape(x.shape)[off]):
        return None  # no unit is off, or none that had a gradient to pass
    if x.size == 1:
        z = float(x.reshape(-1)[0])
        why = (f"{fm.sym(in_sym)} = 0, exactly at relu's kink, where chainrule (like torch) "
               f"takes relu′(0) = 0" if z == 0 else
               f"{fm.sym(in_sym)} = {fmt_array(x.reshape(()))} < 0, and relu′(z) = 0 for z < 0")
        return (f"This unit is off: {why}. So no gradient passes back through "
                f"{fm.sym(out_sym)}: {fm.deriv('L', in_sym)} = 0, and so is the gradient of "
                f"everything that reaches the loss only through it (a dead ReLU).")
    idx = [int(k) for k in _np.flatnonzero(off.reshape(-1))]
    which = ", ".join(str(k + 1) for k in idx[:8]) + (", …" if len(idx) > 8 else "")
    one = len(idx) == 1
    return (f"{len(idx)} of {x.size} units {'is' if one else 'are'} off (entr"
            f"{'y' if one else 'ies'} {which} of {fm.sym(in_sym)} {'is' if one else 'are'} ≤ 0, "
            f"and relu′ = 0 there): {'that entry' if one else 'those entries'} of "
            f"{fm.deriv('L', in_sym)} {'is' if one else 'are'} 0, and no gradient passes back "
            f"through {'it' if one else 'them'}.")


def _ignored(inputs, params):
    t = _np.asarray(backend.to_numpy(inputs[1]))
    ign = (params or {}).get("ignore_index", -100)
    return bool((t == ign).any())


def _softmax_rows(x):
    x = _np64(x)
    e = _np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _cross_entropy_forward(s, values, out_v, out_sym, in_syms):
    """The numbers of a cross-entropy step: the softmax of the logits and, for one data
    point (or a few, without class weights), the loss from the probability of the class."""
    x, t = _np64(values[0]), _np.asarray(backend.to_numpy(values[1])).reshape(-1)
    params = s.params or {}
    n, classes = x.shape
    if n * classes > 60:
        return None, []
    p = _softmax_rows(x)
    rows = [(f"softmax({fm.sym(in_syms[0])})", p)]
    eps = float(params.get("label_smoothing") or 0.0)
    if len(values) > 2 or n > INLINE or ((t < 0) | (t >= classes)).any():
        return None, rows
    py = p[_np.arange(n), t]
    per = (1 - eps) * -_np.log(py) + eps * (-_np.log(p)).mean(axis=1)
    red = params.get("reduction", "mean")
    total = per.mean() if red == "mean" else per.sum() if red == "sum" else per
    if not _np.allclose(total, _np64(out_v).reshape(_np.shape(total)), rtol=1e-4, atol=1e-6):
        return None, rows  # not the formula we would write: show no numbers at all
    pys = fmt_array(py[0]) if n == 1 else fmt_array(py)
    if eps:
        rhs = (f"{fm.fmt_number(1 - eps)} · (−log {pys}) + {fm.fmt_number(eps)} · "
               f"mean(−log {fmt_array(p[0] if n == 1 else p)})")
    else:
        rhs = f"−log {pys}"
    if n > 1:
        rhs = ("mean of " if red == "mean" else "sum of " if red == "sum" else "") + rhs
    if n == 1 and not eps:
        rhs = f"−log softmax({fmt_array(x[0])})[{int(t[0])}] = " + rhs
    return f"{fm.sym(out_sym)} = {rhs} = {_num(out_v)}", rows


def _cross_entropy_rows(inputs, params, g, gi, in_syms):
    """The numbers behind cross-entropy's gradient: the softmax of the logits, the
    (smoothed, weighted) target t and the divisor, shown when they reproduce the
    library's gradient."""
    x = _np64(inputs[0])
    t = _np.asarray(backend.to_numpy(inputs[1])).reshape(-1)
    n, classes = x.shape
    if n * classes > 60:
        return []
    params = params or {}
    eps = float(params.get("label_smoothing") or 0.0)
    red = params.get("reduction", "mean")
    ign = params.get("ignore_index", -100)
    w = _np64(inputs[2]) if len(inputs) > 2 else _np.ones(classes)
    valid = t != ign
    tt = _np.where(valid, t, 0)
    onehot = _np.eye(classes)[tt]
    wy = w[tt] * valid
    target = ((1 - eps) * wy[:, None] * onehot + (eps / classes) * w[None, :] * valid[:, None])
    scale = ((1 - eps) * wy + (eps / classes) * w.sum() * valid)
    p = _softmax_rows(x)
    c = _np64(g).reshape(-1)
    if red == "mean":
        denom = float(wy.sum()) if len(inputs) > 2 or not valid.all() else float(n)
        grad = c[0] * (scale[:, None] * p - target) / denom
    elif red == "sum":
        denom = 1.0
        grad = c[0] * (scale[:, None] * p - target)
    else:
        denom = None
        grad = c[:, None] * (scale[:, None] * p - target)
    if not _np.allclose(grad, _np64(gi), rtol=1e-6, atol=1e-9):
        return []  # the formula would not give the library's numbers: show none
    z = fm.sym(in_syms[0])
    y = fm.sym(in_syms[1])
    target_words = fm.cross_entropy_target(eps, classes, len(inputs) > 2).replace("(y)",
                                                                                f"({y})")
    rows = [(f"softmax({z})", p), ("t = " + target_words, target)]
    if len(inputs) > 2:
        rows.append(("s = (1 − ε) · w[y] + ε/K · Σ w", scale))
    if denom is not None and red == "mean":
        rows.append(("N" if len(inputs) == 2 and valid.all() else "Σ w[y] (kept rows)",
                     _np.asarray(denom)))
    return rows


def _advice(wt: Walkthrough) -> str:
    """What the update did, in words (markup): lowered the loss; overshot (a smaller
    learning rate helps); or changed nothing because the gradient is zero -- with the
    ReLU unit that stopped it."""
    change = wt.loss_after - wt.loss_before
    if wt.updates and all(not _np.any(u.grad) for u in wt.updates):
        off = []
        first = None
        for s in wt.backward:
            if s.op != "relu":
                continue
            fwd = next(f for f in wt.forward if f.box_id == s.box_id)
            z = fwd.inputs[0]
            if z.value.size == 1 and float(z.value.reshape(-1)[0]) <= 0:
                v = float(z.value.reshape(-1)[0])
                off.append(f"{fm.sym(s.symbol)} = relu({fm.sym(z.symbol)}) with "
                           f"{fm.sym(z.symbol)} = {fmt_array(_np.asarray(v))}")
                if first is None and _np.any(s.grad_out):
                    first = (s.symbol, z.symbol, v)
        if first is not None:
            h, z, v = first
            why = ("relu′(0) = 0 (chainrule, like torch, takes 0 at the kink)" if v == 0 else
                   "relu′(z) = 0 for z < 0")
            return (f"Every gradient is 0, so this step changes nothing. The gradient stops at "
                    f"{fm.sym(h)} = relu({fm.sym(z)}): {fm.sym(z)} = "
                    f"{fmt_array(_np.asarray(v))}, and {why} — the unit is off (a dead ReLU), "
                    f"so no gradient reaches {fm.sym(z)} or anything before it. Units that are "
                    f"off: {'; '.join(off)}. A smaller learning rate would not help; weights "
                    f"that make these inputs positive would.")
        return ("Every gradient is 0, so this step changes nothing: the loss is flat in every "
                "weight here.")
    if change < 0:
        return "The step lowered the loss."
    if change == 0:
        return "The loss did not change."
    return ("The step did not lower the loss: it went too far along the gradient. Try a "
            "smaller learning rate.")


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
