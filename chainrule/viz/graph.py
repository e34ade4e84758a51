"""The drawable graph: one box per op, parameter and constant, with its label lines.

``build_graph(tensor)`` turns the recorded graph behind a tensor into ``Graph``: boxes
(kind, title, shape, value and gradient when known) and edges from inputs to outputs.
Parameters are labelled by their module names (``fc1.weight``: a Module names what is
registered in it; ``params=model`` or ``label_parameters(model)`` name them from that model);
other names come from ``names``.
"""

from __future__ import annotations

from .. import backend
from ..tensor import Tensor
from .trace import Trace
from .walk import BackwardWalk

_np = backend.np

SMALL = 16  # tensors with at most this many elements show their values


def label_parameters(model, prefix: str = ""):
    """Name every parameter of ``model`` after its place in the module tree
    (``fc1.weight``), so that pictures and walk-throughs label it; returns ``model``."""
    for name, p in model.named_parameters(prefix=prefix):
        p._name = name
    return model


def name_map(params=None, names=None) -> dict:
    """``{id(leaf tensor) or id(node): name}`` (and ``{("data", id(array)): name}`` for
    tensors that do not require grad) from a Module (its parameter names), a ``{name:
    tensor}`` dict, or both."""
    out = {}
    sources = []
    if params is not None:
        if hasattr(params, "named_parameters"):
            sources.append(dict(params.named_parameters()))
        else:
            sources.append(dict(params))
    if names is not None:
        sources.append(dict(names))
    for src in sources:
        for name, t in src.items():
            if not isinstance(t, Tensor):
                raise TypeError(f"names: {name!r} is a {type(t).__name__}, not a Tensor")
            out[id(t._node) if t._node is not None else id(t)] = str(name)
            if not t.requires_grad:  # a constant: the graph knows only its array
                out[("data", id(t.data))] = str(name)
    return out


class Box:
    """One box of the picture.  ``kind``: ``"op"``, ``"param"`` (a leaf that requires
    grad) or ``"const"``; ``title``: the op name or the tensor's name; ``name``: the symbol
    of the value (``h1``) when it has one; ``ref``: the Trace reference key."""

    __slots__ = ("id", "kind", "title", "name", "op", "shape", "value", "grad", "ref")

    def __init__(self, id, kind, title, name, op, shape, value, grad, ref):
        self.id = id
        self.kind = kind
        self.title = title
        self.name = name
        self.op = op
        self.shape = shape
        self.value = value
        self.grad = grad
        self.ref = ref

    @property
    def symbol(self) -> str:
        """What formulas call this value."""
        return self.name or self.title

    def heading(self) -> str:
        if self.kind == "op":
            return f"{self.name} = {self.op}" if self.name else self.op
        return self.title


class Graph:
    """Boxes (leaves and constants first, then ops in forward order) and edges
    ``(src id, dst id, input position)``; ``root`` is the id of the drawn tensor's box."""

    def __init__(self, boxes, edges, root, trace, note=None):
        self.boxes = boxes
        self.edges = edges
        self.root = root
        self.trace = trace
        self.note = note  # what the picture cannot show, and why (a graph freed by backward)
        self.by_id = {b.id: b for b in boxes}
        self.by_ref = {b.ref: b for b in boxes}

    def box_of_ref(self, ref):
        return self.by_ref[ref.key()]


def box_id(ref_key) -> str:
    kind, k = ref_key
    return {"step": "op", "leaf": "param", "const": "const"}[kind] + str(k)


def _np_or_none(a):
    return None if a is None else backend.to_numpy(a)


def build_graph(tensor: Tensor, params=None, names=None, values: bool = True,
                grads: bool = True, trace: Trace | None = None,
                walk: BackwardWalk | None = None) -> Graph:
    """The Graph behind ``tensor``.

    ``params``: a Module or ``{name: parameter}`` naming leaves; ``names``: ``{name:
    tensor}`` naming any tensor of the graph (leaf or not).  ``values``: replay the graph
    to know each op's value (when the graph can be replayed); ``grads``: each value's
    gradient -- leaves' ``.grad`` when set, else the gradient of ``tensor`` (one element)
    from a backward walk.
    """
    trace = trace if trace is not None else Trace.of(tensor)
    named = name_map(params, names)
    known = trace.known_values() if values and trace.steps else None
    note = None
    if any(s.node.freed for s in trace.steps):
        note = ("backward() has freed the values this graph saved, so most values are not "
                "shown: draw before backward(), or call backward(retain_graph=True)")
    elif values and trace.problem is not None and any(v is None for v in known):
        note = "some values are not shown: " + trace.problem.split(";")[0]
    if walk is None and grads and values and trace.values is not None and trace.steps:
        if trace.values[-1].size == 1 and trace.values[-1].dtype.kind == "f":
            walk = BackwardWalk(trace)
    boxes, edges = [], []
    for k, t in enumerate(trace.leaves):
        name = named.get(id(t)) or t._name
        g = t.grad.data if t.grad is not None else (
            walk.leaf_grad.get(k) if walk is not None else None)
        boxes.append(Box(box_id(("leaf", k)), "param", name or "leaf", name, None,
                         tuple(t.data.shape), backend.to_numpy(t.data), _np_or_none(g),
                         ("leaf", k)))
    for k, c in enumerate(trace.consts):
        shape = trace.const_shapes[k]
        name = named.get(("data", id(c))) if c is not None else None
        boxes.append(Box(box_id(("const", k)), "const", name or "constant", name, None, shape,
                         _np_or_none(c), None, ("const", k)))
    for s in trace.steps:
        name = named.get(id(s.node))
        v = known[s.index] if known is not None else None
        g = None
        if walk is not None:
            g = walk.grad_out.get(s.index)
        elif s.node.retained is not None:
            kept = s.node.retained()
            if kept is not None and kept.grad is not None:
                g = kept.grad.data
        boxes.append(Box(box_id(("step", s.index)), "op", s.op, name, s.op, tuple(s.node.shape),
                         _np_or_none(v), _np_or_none(g), ("step", s.index)))
        for pos, r in enumerate(s.refs):
            edges.append((box_id(r.key()), box_id(("step", s.index)), pos))
    if trace.steps:
        root = box_id(("step", len(trace.steps) - 1))
    else:  # a leaf drawn alone
        g = tensor.grad.data if tensor.grad is not None else None
        name = named.get(id(tensor)) or tensor._name
        boxes.append(Box("param0", "param" if tensor.requires_grad else "const",
                         name or "tensor", name, None, tuple(tensor.data.shape),
                         backend.to_numpy(tensor.data), _np_or_none(g), ("leaf", 0)))
        root = "param0"
    return Graph(boxes, edges, root, trace, note)


# ------------------------------------------------------------------ number formatting


def fmt(x, digits: int = 4) -> str:
    """A number as a reader wants it: 4 significant digits, no trailing noise."""
    x = float(x)
    if x != x:
        return "nan"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    if x == 0:
        return "0"
    s = f"{x:.{digits}g}"
    if "e" in s:
        mant, exp = s.split("e")
        s = f"{mant}e{int(exp)}"
    return s


def fmt_array(a, digits: int = 4, max_items: int = 6) -> str:
    """``0.5``, ``[0.5, -1]`` or ``[[1, 2], [3, 4]]``; long axes are cut with ``…``."""
    a = _np.asarray(a)
    if a.ndim == 0:
        return str(a.item()) if a.dtype.kind in "iub" else fmt(a, digits)
    if a.dtype.kind in "iub":
        conv = str
    else:
        def conv(v):
            return fmt(v, digits)

    def rec(x):
        if x.ndim == 0:
            return conv(x.item() if x.dtype.kind in "iub" else x)
        items = [rec(x[i]) for i in range(min(len(x), max_items))]
        if len(x) > max_items:
            items.append("…")
        return "[" + ", ".join(items) + "]"

    return rec(a)


def value_lines(a, max_rows: int = 4, max_items: int = 4, digits: int = 4) -> list[str]:
    """Short text lines for a box: a scalar, a vector, or the first rows of a matrix."""
    a = _np.asarray(a)
    if a.size == 1:
        return [fmt_array(a.reshape(()), digits)]
    if a.ndim == 1:
        return [fmt_array(a, digits, max_items)]
    if a.ndim == 2:
        rows = [fmt_array(a[i], digits, max_items) for i in range(min(a.shape[0], max_rows))]
        if a.shape[0] > max_rows:
            rows.append("…")
        return rows
    return [fmt_array(a.reshape(-1), digits, max_items)]


def shape_text(shape) -> str:
    if shape is None:
        return "shape not kept"
    if len(shape) == 0:
        return "scalar"
    return "(" + ", ".join(str(s) for s in shape) + ")" if len(shape) > 1 else f"({shape[0]},)"


def box_lines(box: Box, show_values: bool = True, show_grads: bool = True,
              compact: bool = False):
    """The label of a box as ``[(text, style)]``, style one of ``title``, ``meta``,
    ``value``, ``grad``.  ``compact`` (the walk-through page, which has a legend): the
    symbol as title, the op on the second line, numbers without their "value"/"grad"
    prefixes."""
    small = box.shape is not None and _size(box.shape) <= SMALL
    if compact:
        if box.kind == "op":
            meta = box.op if not box.shape else f"{box.op} · {shape_text(box.shape)}"
        else:
            role = "parameter" if box.kind == "param" else "data"
            if box.kind == "param" and box.title not in (box.name, "leaf"):
                role = box.title  # the module name of a parameter written W1
            meta = role if not box.shape else f"{role} · {shape_text(box.shape)}"
        lines = [(box.symbol, "title"), (meta, "meta")]
        prefix_v = prefix_g = indent = ""
    else:
        lines = [(box.heading(), "title"), (shape_text(box.shape), "meta")]
        prefix_v, prefix_g, indent = "value ", "grad  ", "      "
    # the page's graph is a glance (its panel has every number): fewer, shorter numbers
    fit = dict(max_rows=2, max_items=3, digits=3) if compact else {}
    if show_values and small and box.value is not None:
        vl = value_lines(box.value, **fit)
        lines.append((prefix_v + vl[0], "value"))
        lines += [(indent + v, "value") for v in vl[1:]]
    if show_grads and small and box.grad is not None:
        gl = value_lines(box.grad, **fit)
        lines.append((prefix_g + gl[0], "grad"))
        lines += [(indent + v, "grad") for v in gl[1:]]
    if compact:  # the walk-through page writes negative numbers with the formulas' minus
        from .formulas import minus

        lines = [(minus(t) if s in ("value", "grad") else t, s) for t, s in lines]
    return lines


def _size(shape):
    n = 1
    for s in shape:
        n *= s
    return n
