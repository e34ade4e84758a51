"""The recorded graph as a list of steps that can be run again.

``Trace.of(loss)`` walks the graph behind a tensor (the Nodes the registry recorded) into a
forward-ordered list of steps -- one per op -- and the leaves and constants they read.  It
then runs each step's primitive forward again on those arrays, so that every intermediate
value is known (the graph itself keeps only what its VJPs need).  ``run`` replays the
forward with some values replaced: the finite-difference checks and the "loss after one
gradient-descent step" of the walk-through are replays.

A constant input (one that does not require grad) is known when its primitive saved it or
when it is tiny (``Meta`` keeps arrays of up to ``META_KEEP`` entries); ``record()`` makes
every primitive save all its inputs while a graph is built, so that any graph can be
replayed.
"""

from __future__ import annotations

import contextlib

from .. import backend
from ..ops.loss import CrossEntropySaved
from ..ops.registry import REGISTRY, Meta, Node
from ..tensor import Tensor

_np = backend.np

# params that a forward fills in for its VJP: a replay gets fresh ones, so that it never
# touches the recorded graph's state
_STATEFUL = (CrossEntropySaved,)


class ReplayError(RuntimeError):
    """The graph cannot be run again (a value it did not keep, a custom Function, a graph
    already freed by backward)."""


@contextlib.contextmanager
def record():
    """Inside this block every op keeps all its inputs and its output, so that the graphs
    built here can be replayed by ``chainrule.viz`` whatever their constants (a graph built
    outside keeps only what its VJPs need: the target of ``x - y`` is dropped, for one).

    >>> import chainrule as cr
    >>> with cr.viz.record():
    ...     w = cr.tensor(2.0, requires_grad=True)
    ...     loss = (w * 3.0 - 1.0) ** 2
    """
    kept = [(p, p.save_inputs, p.save_out) for p in REGISTRY.values()]
    for p, _, _ in kept:
        p.save_inputs, p.save_out = True, True
    try:
        yield
    finally:
        for p, inputs, out in kept:
            p.save_inputs, p.save_out = inputs, out


class Ref:
    """Where a step's input comes from: a leaf (``"leaf"``), a constant (``"const"``) or
    the output of an earlier step (``"step"``), by index."""

    __slots__ = ("kind", "index")

    def __init__(self, kind: str, index: int):
        self.kind = kind
        self.index = index

    def key(self):
        return (self.kind, self.index)

    def __repr__(self) -> str:
        return f"Ref({self.kind}, {self.index})"


class Step:
    """One recorded op: its Node, primitive, params and input references."""

    __slots__ = ("index", "node", "prim", "params", "refs")

    def __init__(self, index, node, refs):
        self.index = index
        self.node = node
        self.prim = node.prim
        self.params = node.params
        self.refs = refs

    @property
    def op(self) -> str:
        return self.prim.name


def _fresh_params(params):
    if not params:
        return {}
    return {k: (type(v)() if isinstance(v, _STATEFUL) else v) for k, v in params.items()}


def _to64(a):
    if a is None or a.dtype.kind != "f" or a.dtype == _np.float64:
        return a
    return a.astype(_np.float64)


class Trace:
    """The graph behind ``root``, in forward order, with every value in it.

    Attributes: ``steps`` (forward order; the last one produced ``root``), ``leaves``
    (Tensors that require grad, in first-use order), ``consts`` (arrays, or None where the
    graph did not keep the value), ``const_shapes``, ``values`` (each step's output, from a
    replay; None when the graph cannot be replayed), ``params`` (the params each step's
    replay used: what its VJP reads), ``consumers`` (for each ``Ref.key()``, the
    ``(step, position)`` pairs reading it) and ``problem`` (why the values are missing).
    """

    def __init__(self, root: Tensor):
        if not isinstance(root, Tensor):
            raise TypeError(f"expected a Tensor, got {type(root).__name__}")
        self.root = root
        self.steps: list[Step] = []
        self.leaves: list[Tensor] = []
        self.consts: list = []
        self.const_shapes: list[tuple] = []
        self.consumers: dict = {}
        self.values = None
        self.params = None
        self.problem = None
        if root._node is None:
            return
        order = _forward_order(root._node)
        step_of = {}
        leaf_of = {}
        const_of = {}
        for node in order:
            refs = []
            freed = node.freed or node.saved is None
            for pos, e in enumerate(node.edges):
                if type(e) is Node:
                    ref = Ref("step", step_of[id(e)])
                elif e is not None:  # a leaf that requires grad
                    k = leaf_of.get(id(e))
                    if k is None:
                        k = leaf_of[id(e)] = len(self.leaves)
                        self.leaves.append(e)
                    ref = Ref("leaf", k)
                else:
                    saved = None if freed else node.saved[pos]
                    # an input the VJP does not read is a Meta, which keeps tiny arrays
                    kept = saved.value if type(saved) is Meta else saved
                    if kept is not None:
                        k = const_of.get(id(kept))  # one box for one array used twice
                        if k is None:
                            k = const_of[id(kept)] = len(self.consts)
                            self.consts.append(kept)
                            self.const_shapes.append(tuple(kept.shape))
                    else:
                        k = len(self.consts)
                        self.consts.append(None)
                        self.const_shapes.append(tuple(saved.shape) if saved is not None
                                                 else None)
                    ref = Ref("const", k)
                refs.append(ref)
                self.consumers.setdefault(ref.key(), []).append((len(self.steps), pos))
            step_of[id(node)] = len(self.steps)
            self.steps.append(Step(len(self.steps), node, refs))
        self.problem = self._why_not_replayable()
        if self.problem is None:
            self.values, self.params = self._run_full(None, None, None, None, False)
            if not _same(self.values[-1], root.data):
                self.values = self.params = None
                self.problem = ("running it again does not give the same result (a tensor it "
                                "read was changed in place after the graph was built)")

    @classmethod
    def of(cls, root: Tensor) -> "Trace":
        return cls(root)

    # ---------------------------------------------------------------- replay

    def _why_not_replayable(self):
        for s in self.steps:
            if s.prim.custom:
                return (f"it contains a custom autograd.Function ({s.op}), whose forward "
                        "cannot be run again")
            if s.node.freed or s.node.params is None:
                return ("its saved values were freed by backward(); build the graph again, "
                        "or call backward(retain_graph=True)")
        for k, c in enumerate(self.consts):
            if c is None:
                step, pos = self.consumers[("const", k)][0]
                shape = self.const_shapes[k]
                what = f" of shape {shape}" if shape is not None else ""
                return (f"the graph did not keep input {pos} of {self.steps[step].op} (a "
                        f"tensor{what} that does not require grad, too big to keep by "
                        "default); pass a function that builds the loss instead, as in "
                        "`chainrule.viz.explain(lambda: loss_fn(model(x), y), path)`, or "
                        "build the graph inside `with chainrule.viz.record():`")
        return None

    def known_values(self):
        """Each step's output where it can be known without a full replay (for pictures of
        a graph that cannot be replayed): run the steps whose inputs are all known, take
        the output a step saved for its VJP, and the root's own array; None elsewhere."""
        if self.values is not None:
            return list(self.values)
        out = [None] * len(self.steps)
        for s in self.steps:
            node = s.node
            if not node.freed and node.out is not None:
                out[s.index] = node.out
                continue
            if node.freed or node.params is None or s.prim.custom:
                continue
            arrays = []
            for r in s.refs:
                a = (out[r.index] if r.kind == "step" else self.leaves[r.index].data
                     if r.kind == "leaf" else self.consts[r.index])
                if a is None:
                    break
                arrays.append(a)
            else:
                try:
                    xp = backend.get_array_module(arrays[0])
                    value = s.prim.forward(xp, *arrays, **_fresh_params(s.params))
                except Exception:  # a picture never fails for a value it cannot know
                    continue
                out[s.index] = value if backend.is_array(value) else xp.asarray(value)
        if self.steps:
            out[-1] = self.root.data
        return out

    def require_values(self, what: str = "chainrule.viz") -> None:
        if self.problem is not None:
            raise ReplayError(f"{what}: cannot replay this graph: {self.problem}")

    def _run_full(self, leaf_values, feed, out_override, start, to64):
        """Forward through every step from ``start`` (earlier outputs are taken from
        ``self.values``).  ``feed``: {(step, position): array} replaces what one step sees
        at one input; ``out_override``: {step: array} replaces a step's output."""
        leaves = [t.data for t in self.leaves] if leaf_values is None else list(leaf_values)
        consts = list(self.consts)
        if to64:
            leaves = [_to64(a) for a in leaves]
            consts = [_to64(a) for a in consts]
        values = [None] * len(self.steps)
        params_used = [None] * len(self.steps)
        first = start or 0
        if first:
            base = self.values64 if to64 else self.values
            values[:first] = base[:first]
        for s in self.steps[first:]:
            j = s.index
            if out_override is not None and j in out_override:
                values[j] = out_override[j]
                continue
            arrays = []
            for pos, r in enumerate(s.refs):
                if feed is not None and (j, pos) in feed:
                    arrays.append(feed[(j, pos)])
                elif r.kind == "step":
                    arrays.append(values[r.index])
                elif r.kind == "leaf":
                    arrays.append(leaves[r.index])
                else:
                    arrays.append(consts[r.index])
            params = _fresh_params(s.params)
            xp = backend.get_array_module(arrays[0])
            out = s.prim.forward(xp, *arrays, **params)
            if not backend.is_array(out):
                out = xp.asarray(out)
            values[j] = out
            params_used[j] = params
        return values, params_used

    @property
    def values64(self):
        """The values of a float64 replay (finite differences run in float64)."""
        cached = getattr(self, "_values64", None)
        if cached is None:
            self.require_values()
            cached = self._values64 = self._run_full(None, None, None, None, True)[0]
        return cached

    def run(self, *, leaf_values=None, feed=None, out_override=None, start=0,
            float64=False):
        """The outputs of every step of a replay (see ``_run_full``)."""
        self.require_values()
        return self._run_full(leaf_values, feed, out_override, start, float64)[0]

    def value_of(self, ref: Ref):
        """The forward value a reference stands for (None when unknown)."""
        if ref.kind == "leaf":
            return self.leaves[ref.index].data
        if ref.kind == "const":
            return self.consts[ref.index]
        return None if self.values is None else self.values[ref.index]

    def inputs_of(self, step: Step):
        return [self.value_of(r) for r in step.refs]

    # ---------------------------------------------------------------- finite differences

    def loss64(self, values) -> float:
        return float(backend.to_numpy(values[-1]).reshape(-1)[0])

    def numeric_grad(self, target, *, eps: float = 1e-6, max_entries: int | None = None,
                     sides: bool = False):
        """Central finite differences of the root (a one-element tensor) with respect to
        ``target``, in a float64 replay: ``("out", j)`` is step j's output (all its
        consumers see the change), ``("in", j, i)`` is input i of step j as that step alone
        sees it (the derivative along that one edge), ``("leaf", k)`` a leaf everywhere.

        Returns (estimate, checked): float64 arrays of the target's shape; ``checked``
        marks the entries estimated (all of them unless ``max_entries`` picks a spread of
        them; the others are NaN).  With ``sides``: also the one-sided estimates
        (forward, backward), which differ where the loss has a kink (relu at 0).
        """
        self.require_values("numeric_grad")
        base = self.values64
        kind = target[0]
        if kind == "out":
            j = target[1]
            x0, start = base[j], j
        elif kind == "in":
            j, i = target[1], target[2]
            x0, start = self._input64(j, i), j
        elif kind == "leaf":
            k = target[1]
            x0 = _to64(self.leaves[k].data)
            start = min(s for s, _ in self.consumers[("leaf", k)])
        else:
            raise ValueError(f"numeric_grad: unknown target {target!r}")
        x0 = backend.to_numpy(x0).astype(_np.float64)
        n = x0.size
        picks = range(n)
        if max_entries is not None and n > max_entries:
            picks = sorted({int(round(p)) for p in _np.linspace(0, n - 1, max_entries)})
        est = _np.full(n, _np.nan)
        fwd = _np.full(n, _np.nan)
        bwd = _np.full(n, _np.nan)
        checked = _np.zeros(n, dtype=bool)
        loss0 = self.loss64(base)
        leaves64 = [_to64(t.data) for t in self.leaves]
        with _np.errstate(all="ignore"):  # a nudge may leave a function's domain
            for e in picks:
                vals = []
                for sign in (1.0, -1.0):
                    x = x0.copy().reshape(-1)
                    h = eps * max(1.0, abs(float(x[e])))
                    x[e] += sign * h
                    x = x.reshape(x0.shape)
                    if kind == "out":
                        out = self._run_full(None, None, {j: x}, start, True)[0]
                    elif kind == "in":
                        out = self._run_full(None, {(j, i): x}, None, start, True)[0]
                    else:
                        lv = list(leaves64)
                        lv[k] = x
                        out = self._run_full(lv, None, None, start, True)[0]
                    vals.append(self.loss64(out))
                est[e] = (vals[0] - vals[1]) / (2 * h)
                fwd[e] = (vals[0] - loss0) / h
                bwd[e] = (loss0 - vals[1]) / h
                checked[e] = True
        shape = x0.shape
        if sides:
            return (est.reshape(shape), checked.reshape(shape), fwd.reshape(shape),
                    bwd.reshape(shape))
        return est.reshape(shape), checked.reshape(shape)

    def _input64(self, j, i):
        r = self.steps[j].refs[i]
        if r.kind == "step":
            return self.values64[r.index]
        if r.kind == "leaf":
            return _to64(self.leaves[r.index].data)
        return _to64(self.consts[r.index])


def _same(a, b) -> bool:
    a = _np.asarray(backend.to_numpy(a))
    b = _np.asarray(backend.to_numpy(b))
    if a.shape != b.shape:
        return False
    if a.dtype.kind not in "fc":
        return bool((a == b).all())
    return bool(_np.allclose(a, b, rtol=1e-4, atol=1e-6, equal_nan=True))


def _forward_order(root: Node):
    """Nodes reachable from ``root``, each after the nodes it consumes (iterative)."""
    from ..autograd.engine import topological_order

    return list(reversed(topological_order([root])))
