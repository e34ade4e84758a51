"""``chainrule.compile``: record one training step, then replay it without eager overhead.

Eager mode pays, on every op, for what makes it flexible: a Tensor and a graph Node per
result, version stamps, validation, a topological sort and id-keyed bookkeeping in the
backward walk.  A training step runs the same ops on same-shaped batches every time, so
``compile`` runs the step once eagerly while recording it, and afterwards replays the
recording: each primitive's ``forward`` on arrays, the backward as a fixed schedule of the
same VJPs, and the optimizer calls made during the recording.  The arithmetic is the same
NumPy calls in the same order, so a replay gives the same numbers as eager, bit for bit.

    step = chainrule.compile(train_step)     # train_step(xb, yb) -> loss
    for xb, yb in loader:
        loss = step(xb, yb)

What is recorded: chainrule ops, one ``backward()`` of a scalar, and calls of
``Optimizer.zero_grad``, ``Optimizer.step`` and ``Module.zero_grad``.  Python code in the
step runs only while recording (``print``, ``.item()``, branches on values), as in
``torch.jit.trace`` or CUDA graphs: the step must run the same ops, with the same parameters,
on every call.  A new signature (argument shapes, dtypes, non-tensor arguments) is recorded
again.  Steps that the replay could not reproduce -- in-place ops, random draws (dropout),
custom ``Function``s, hooks, ``create_graph``, ``autograd.grad``, anomaly mode, op parameters
that hold arrays (indexing by data) -- are detected while recording and run eagerly from then
on (with one warning), so the results are always eager's.
"""

from __future__ import annotations

import warnings

from . import backend, random
from .autograd import engine as _engine
from .autograd.grad_buffers import SLOTS, free_slot
from .autograd.grad_mode import state
from .ops.registry import CallState, Meta, Node, OpError, _fail
from .tensor import Tensor

__all__ = ["compile", "CompiledStep"]

_np = backend.np
_ndarray = backend.ndarray

# parameter values that a replay may reuse: they cannot depend on the data
_STATIC = (type(None), bool, int, float, str, slice, type(Ellipsis), backend.np.dtype)


def compile(fn=None, *, max_plans: int = 8):  # noqa: A001  (torch.compile's name)
    """Return a callable that runs ``fn`` like ``fn`` itself, recording the first call for
    each argument signature and replaying that recording on later calls.

    ``fn(*args)`` takes Tensors (and hashable constants) and returns a Tensor, or a tuple,
    list or dict of Tensors; replays return new Tensors holding the results (detached: the
    step's own ``backward()`` has run).  Usable as a decorator, with or without arguments.
    """
    if fn is None:
        return lambda f: CompiledStep(f, max_plans=max_plans)
    return CompiledStep(fn, max_plans=max_plans)


class CompiledStep:
    """``fn`` with recorded replays (see ``chainrule.compile``).  ``eager_reason`` says why
    it runs eagerly, or is None."""

    def __init__(self, fn, *, max_plans: int = 8):
        self.fn = fn
        self.max_plans = max_plans
        self.eager_reason = None
        self._plans = {}
        self.__doc__ = getattr(fn, "__doc__", None)
        self.__name__ = getattr(fn, "__name__", "step")

    def __call__(self, *args):
        if self.eager_reason is not None or state.recorder is not None:
            return self.fn(*args)
        key = _signature(args)
        plan = self._plans.get(key) if key is not None else None
        if plan is None:
            if key is None:
                return self._eager("an argument is neither a Tensor nor a hashable constant",
                                   args)
            return self._record(key, args)
        if not state.enabled or state.anomaly:
            return self.fn(*args)  # replays assume the recording's grad mode
        result = plan.replay(args)
        if result is _RERECORD:  # nothing ran yet; the recording no longer fits
            self._plans.pop(key, None)
            return self._record(key, args)
        if result is _FALLBACK:  # only ops (no side effects) and zero_grad calls ran
            self._plans.pop(key, None)
            return self._eager(plan.fallback_reason, args)
        return result

    def _eager(self, reason, args):
        self.eager_reason = reason
        self._plans.clear()
        warnings.warn(f"chainrule.compile: {reason}; running {self.__name__} eagerly",
                      RuntimeWarning, stacklevel=3)
        return self.fn(*args)

    def _record(self, key, args):
        if state.anomaly or not state.enabled:
            return self.fn(*args)  # recorded when the mode is back to normal
        rec = _Recorder(args)
        rng = random.default_generator._rng.bit_generator.state
        state.recorder = rec
        try:
            out = self.fn(*args)
        finally:
            state.recorder = None
        reason = rec.reason
        if reason is None and random.default_generator._rng.bit_generator.state != rng:
            reason = "the step draws random numbers (dropout, random init)"
        if reason is None:
            plan, reason = rec.finish(out)
        if reason is not None:
            self.eager_reason = reason
            self._plans.clear()
            warnings.warn(f"chainrule.compile: {reason}, which a replay cannot reproduce; "
                          f"running {self.__name__} eagerly", RuntimeWarning, stacklevel=3)
            return out
        if len(self._plans) >= self.max_plans:
            self._plans.pop(next(iter(self._plans)))
        self._plans[key] = plan
        return out


def _signature(args):
    key = []
    for a in args:
        if isinstance(a, Tensor):
            key.append((a.data.shape, a.data.dtype, a.requires_grad, type(a.data)))
        else:
            try:
                hash(a)
            except TypeError:
                return None
            key.append((type(a), a))
    return tuple(key)


_FALLBACK = object()  # replay stopped: run the step eagerly from now on
_RERECORD = object()  # replay refused before running anything: record again

# references of op inputs: (ARG, i) an argument, (SLOT, k) the result of op k, (LIVE, tensor)
# a tensor from outside the step (a parameter, a constant), read afresh; (META, m): a shape
# stand-in the VJP reads instead of an array
ARG, SLOT, LIVE, META = 0, 1, 2, 3


class _Recorder:
    """Collects the ops and events of one eager run of the step (``state.recorder``)."""

    def __init__(self, args):
        self.args = args
        self.reason = None
        self.ref_of = {}  # id(Tensor) -> (kind, value)
        self.ref_of_array = {}  # id(array) -> ref, for aliases made outside ops (detach)
        self.keep = []  # every tensor seen, alive until the end (ids stay unique)
        self.ops = []  # (prim, input refs, params, node)
        self.events = []  # ("ops", start, stop) | ("backward", plan) | ("call", fn, ...)
        self.seen = {}  # id(Tensor) -> (tensor, version) of every operand, to catch writes
        self.op_start = 0
        for i, a in enumerate(args):
            if isinstance(a, Tensor):
                self._bind(a, (ARG, i))

    def fail(self, reason):
        if self.reason is None:
            self.reason = reason

    def _bind(self, t, ref):
        self.ref_of[id(t)] = ref
        self.ref_of_array.setdefault(id(t.data), ref)
        self.keep.append(t)
        self.seen[id(t)] = (t, t._version[0])

    def ref(self, t):
        r = self.ref_of.get(id(t))
        if r is not None:
            return r
        alias = self.ref_of_array.get(id(t.data))
        if alias is not None:  # t shares an array computed in the step (t = y.detach())
            self._bind(t, alias)
            return alias
        if t._node is not None:
            self.fail("an op uses a tensor computed outside the recorded ops (a custom "
                      "Function, or a graph built before the step)")
        r = (LIVE, t)
        self._bind(t, r)
        return r

    # -------------------------------------------------- hooks (called by the library)

    def op(self, prim, inputs, params, result):
        """``registry.apply`` ran ``prim``: remember how to run it again."""
        refs = tuple([self.ref(t) for t in inputs])
        for v in params.values():
            if not _static(v):
                self.fail(f"the op {prim.name} has a parameter that is not a constant "
                          f"({type(v).__name__}; e.g. indexing with data)")
        node = result._node
        if node is not None and (node.hooks or prim.custom):
            self.fail("a graph node has hooks or is a custom Function")
        k = len(self.ops)
        self.ops.append((prim, refs, params, node))
        self._bind(result, (SLOT, k))

    def backward(self, outputs, grad_tensors, retain_graph, create_graph, inputs):
        """``backward()`` is about to run on ``outputs``: plan its replay."""
        if create_graph or retain_graph or inputs is not None or grad_tensors is not None:
            self.fail("backward() has create_graph, retain_graph, inputs or an explicit "
                      "gradient")
            return
        if len(outputs) != 1 or not isinstance(outputs[0], Tensor):
            self.fail("backward() of several outputs")
            return
        self._check_writes()
        self._flush_ops()
        plan = _BackwardPlan.build(self, outputs[0])
        if plan is not None:
            self.events.append(("backward", plan))

    def call(self, fn, obj, args, kwargs):
        """Run a recorded method call (an optimizer's step or zero_grad) and remember it."""
        if args or any(k != "set_to_none" for k in kwargs):
            self.fail(f"{type(obj).__name__}.{fn.__name__} is called with arguments "
                      "(a closure?)")
        self._check_writes()
        self._flush_ops()
        self.events.append(("call", fn, obj, kwargs))
        state.recorder = None  # what the call does inside is the call's own business
        try:
            return fn(obj, *args, **kwargs)
        finally:
            state.recorder = self
            for tid, (t, _) in list(self.seen.items()):
                self.seen[tid] = (t, t._version[0])  # the call may update parameters

    # -------------------------------------------------- finishing

    def _flush_ops(self):
        if len(self.ops) > self.op_start:
            self.events.append(("ops", self.op_start, len(self.ops)))
            self.op_start = len(self.ops)

    def _check_writes(self):
        for t, version in self.seen.values():
            if t._version[0] != version:
                self.fail("a tensor is modified in place inside the step (an in-place op, "
                          "item assignment, or an update outside optimizer.step)")
                return

    def finish(self, out):
        """The plan, or None and the reason the step cannot be replayed."""
        self._check_writes()
        self._flush_ops()
        if self.reason is not None:
            return None, self.reason
        try:
            out_spec = _spec_of(out, self)
        except TypeError as exc:
            return None, str(exc)
        return _Plan(self, out_spec), None


def _static(v):
    if isinstance(v, _STATIC) or isinstance(v, CallState):
        return True
    if isinstance(v, (tuple, list)):
        return all(_static(x) for x in v)
    return getattr(v, "__module__", "").startswith("chainrule.backend")  # chainrule dtypes


def _spec_of(out, rec):
    """How to rebuild the step's return value from the replay's arrays."""
    if isinstance(out, Tensor):
        r = rec.ref_of.get(id(out))
        if r is None:
            raise TypeError("the step returns a tensor that no recorded op computed")
        return ("tensor", r)
    if isinstance(out, (tuple, list)):
        return (type(out).__name__, [_spec_of(o, rec) for o in out])
    if isinstance(out, dict):
        return ("dict", {k: _spec_of(v, rec) for k, v in out.items()})
    if out is None:
        return ("none", None)
    raise TypeError(f"the step returns a {type(out).__name__}; return Tensors (call .item() "
                    "outside the compiled step)")


class _BackwardPlan:
    """The backward walk of one recording, as a fixed schedule: for each node (in the
    engine's order) the op that made it, where each input's gradient goes (another op, a
    leaf, or nowhere) and the shape and dtype it must be summed and cast to."""

    __slots__ = ("root", "steps", "leaves", "seed_shape", "seed_dtype", "grads_none")

    @classmethod
    def build(cls, rec, output):
        if output._node is None or not output.requires_grad:
            return None  # eager raises the error
        if output.data.size != 1:
            rec.fail("backward() of a non-scalar")
            return None
        node_op = {id(node): k for k, (_, _, _, node) in enumerate(rec.ops) if node is not None}
        root = node_op.get(id(output._node))
        if root is None:
            rec.fail("backward() of a tensor computed outside the step")
            return None
        plan = cls()
        plan.root = root
        plan.seed_shape, plan.seed_dtype = output.data.shape, output.data.dtype
        plan.steps = []
        plan.leaves = []
        leaf_index = {}
        for node in _engine.topological_order([output._node]):
            k = node_op.get(id(node))
            if k is None:
                rec.fail("the graph reaches ops computed outside the step")
                return None
            if node.retained is not None or node.hooks:
                rec.fail("a tensor in the graph has hooks or retain_grad()")
                return None
            prim, refs, params, _ = rec.ops[k]
            routes = []
            for e in node.edges:
                if e is None:
                    routes.append(None)
                elif type(e) is Node:
                    j = node_op.get(id(e))
                    if j is None:
                        rec.fail("the graph reaches ops computed outside the step")
                        return None
                    routes.append((True, j, e.shape, e.np_dtype))
                else:
                    if e._hooks:
                        rec.fail("a leaf has gradient hooks")
                        return None
                    li = leaf_index.get(id(e))
                    if li is None:
                        li = leaf_index[id(e)] = len(plan.leaves)
                        plan.leaves.append(e)
                    routes.append((False, li, e.data.shape, e.data.dtype))
            needs = tuple(r is not None for r in routes) if prim.needs else None
            # what the VJP reads: the input's array (its ref) or its shape stand-in
            saved = tuple(refs[i] if type(s) is not Meta else (META, _bare_meta(s))
                          for i, s in enumerate(node.saved))
            leafs = tuple((i, r[1]) for i, r in enumerate(routes) if r is not None and not r[0])
            plan.steps.append((k, prim, needs, saved, prim.save_out, tuple(routes), leafs))
        # whether each leaf had no .grad when backward ran: a replay that finds otherwise
        # meets gradients reset (or not) by code it does not run
        plan.grads_none = tuple(leaf.grad is None for leaf in plan.leaves)
        return plan


def _bare_meta(m):
    """A copy of Meta ``m`` without its value (a plan must not keep arrays alive)."""
    bare = Meta.__new__(Meta)
    bare.shape, bare.dtype, bare.ndim = m.shape, m.dtype, m.ndim
    if hasattr(type(m), "value"):
        bare.value = None
    return bare


class _Plan:
    """The replayable recording: ops, backward plans and calls, in the order they ran."""

    def __init__(self, rec, out_spec):
        self.ops = [(prim, refs, params) for prim, refs, params, _ in rec.ops]  # no nodes
        self.events = rec.events
        self.out_spec = out_spec
        self.fallback_reason = None
        # per op: (forward, input refs, params, whether params need fresh call states)
        self.fwd = []
        for prim, refs, params in self.ops:
            fresh = tuple(k for k, v in params.items() if isinstance(v, CallState))
            self.fwd.append((prim, refs, params, fresh))
        # guards: live tensors must keep their shapes, dtypes and requires_grad
        lives = {}
        for _, refs, _ in self.ops:
            for kind, v in refs:
                if kind == LIVE:
                    lives[id(v)] = v
        self.lives = [(t, t.data.shape, t.data.dtype, t.requires_grad) for t in lives.values()]

    def replay(self, args):
        for t, shape, dtype, rg in self.lives:
            d = t.data
            if d.shape != shape or d.dtype != dtype or t.requires_grad != rg:
                return _RERECORD  # a parameter changed shape, dtype or requires_grad
        arrays = [None] * len(self.ops)
        params_now = [None] * len(self.ops)
        argd = [a.data if isinstance(a, Tensor) else a for a in args]
        fwd = self.fwd
        updated = False  # whether a call that is not a zero_grad has run
        for ev in self.events:
            kind = ev[0]
            if kind == "ops":
                for k in range(ev[1], ev[2]):
                    prim, refs, params, fresh = fwd[k]
                    ins = [argd[v] if kind_ == ARG else arrays[v] if kind_ == SLOT else v.data
                           for kind_, v in refs]
                    if fresh:
                        params = dict(params)
                        for name in fresh:
                            params[name] = type(params[name])()
                    params_now[k] = params
                    a0 = ins[0]
                    xp = _np if type(a0) is _ndarray else backend.get_array_module(a0)
                    try:
                        out = prim.forward(xp, *ins, **params)
                    except OpError:
                        raise
                    except (ValueError, TypeError, IndexError) as exc:
                        raise _fail(prim, [Tensor._wrap(a) for a in ins], params, exc) from None
                    if type(out) is not _ndarray:
                        out = xp.asarray(out)
                    arrays[k] = out
            elif kind == "backward":
                if self._backward(ev[1], arrays, params_now, argd) is _FALLBACK:
                    if updated:
                        raise RuntimeError(f"chainrule.compile: {self.fallback_reason}; the "
                                           "replay had already updated parameters")
                    return _FALLBACK
            else:
                _, fn, obj, kwargs = ev
                updated = updated or "zero_grad" not in fn.__name__
                fn(obj, **kwargs)
        return self._output(self.out_spec, arrays, argd)

    def _input(self, ref, arrays, argd):
        kind, v = ref
        return argd[v] if kind == ARG else arrays[v] if kind == SLOT else v.data

    def _backward(self, plan, arrays, params_now, argd):
        """The engine's plain backward walk (``engine.run_backward``) over the recorded
        schedule: the same VJPs, sums, casts and accumulation order."""
        if tuple(leaf.grad is None for leaf in plan.leaves) != plan.grads_none:
            self.fallback_reason = ("the step resets gradients with code the replay does not "
                                    "run (use optimizer.zero_grad() or module.zero_grad())")
            return _FALLBACK
        fit, private, ns = _engine._fit_array, _engine._private, _engine._NUMPY_NS
        root = arrays[plan.root]
        grads = {plan.root: [backend.get_array_module(root).ones_like(root), False]}
        leaf_grads = [None] * len(plan.leaves)
        # leaves' gradient slots (grad_buffers), offered as the engine offers them: to the
        # first gradient of a leaf without .grad
        free = [free_slot(leaf) for leaf in plan.leaves] if SLOTS else None
        node = _ReplayNode()
        for k, prim, needs, saved, save_out, routes, leafs in plan.steps:
            entry = grads.pop(k, None)
            if entry is None:
                continue
            g = entry[0]
            saved = tuple([argd[v] if kind == ARG else arrays[v] if kind == SLOT else
                           v.data if kind == LIVE else v for kind, v in saved])
            out = arrays[k] if save_out else None
            params = params_now[k]
            if needs is not None:
                params = {**params, "needs": needs}
            slots = None
            if free is not None and leafs:
                slots = [None] * len(routes)
                for i, j in leafs:
                    if leaf_grads[j] is None:
                        slots[i] = free[j]
                if prim.into:
                    params = {**params, "into": tuple(slots)}
            in_grads = prim.vjp(ns if type(g) is _ndarray else _engine.array_namespace(
                backend.get_array_module(g)), g, out, *saved, **params)
            node.prim, node.saved, node.out = prim, saved, out
            for i, (route, gi) in enumerate(zip(routes, in_grads)):
                if gi is None or route is None:
                    continue
                to_op, j, shape, dtype = route
                slot = slots[i] if slots is not None else None
                if slot is not None and gi is slot:
                    owned = True
                else:
                    owned = private(gi, g, node, in_grads)
                if type(gi) is not _ndarray or gi.shape != shape or gi.dtype != dtype:
                    gi, made = fit(gi, shape, dtype, slot)
                    owned = owned or made
                acc = grads if to_op else None
                slot = grads.get(j) if to_op else leaf_grads[j]
                if slot is None:
                    slot = [gi, owned]
                    if to_op:
                        acc[j] = slot
                    else:
                        leaf_grads[j] = slot
                elif slot[1]:
                    slot[0] += gi
                else:
                    total = slot[0] + gi
                    slot[0] = total if type(total) is _ndarray else \
                        backend.get_array_module(total).asarray(total)
                    slot[1] = True
        for leaf, slot in zip(plan.leaves, leaf_grads):
            if slot is not None:
                _engine._store_grad(leaf, slot[0], False, slot[1])
        return None

    def _output(self, spec, arrays, argd):
        kind, v = spec
        if kind == "tensor":
            return Tensor._wrap(self._input(v, arrays, argd))
        if kind == "dict":
            return {k: self._output(s, arrays, argd) for k, s in v.items()}
        if kind == "none":
            return None
        items = [self._output(s, arrays, argd) for s in v]
        return tuple(items) if kind == "tuple" else items


class _ReplayNode:
    """What ``engine._private`` reads of a node."""

    __slots__ = ("prim", "saved", "out")
