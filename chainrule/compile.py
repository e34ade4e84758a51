"""``chainrule.compile``: record one training step, then replay it without eager overhead.

Eager mode pays, on every op, for what makes it flexible: a Tensor and a graph Node per
result, version stamps, validation, a topological sort and id-keyed bookkeeping in the
backward walk.  A training step runs the same ops on same-shaped batches every time, so
``compile`` runs the step once eagerly while recording it, and afterwards replays the
recording, turned into straight-line Python code: each primitive's ``forward`` on arrays,
the backward as a fixed schedule of the same VJPs (gradients written into the optimizer's
preallocated slots, arrays dropped after their last use), and the optimizer calls made
during the recording.  The arithmetic is the same NumPy calls in the same order, so a
replay gives the same numbers as eager, bit for bit.

    step = chainrule.compile(train_step)     # train_step(xb, yb) -> loss
    for xb, yb in loader:
        loss = step(xb, yb)

What is recorded: chainrule ops, one ``backward()`` of a scalar, and calls of
``Optimizer.zero_grad``, ``Optimizer.step`` and ``Module.zero_grad``.  Python code in the
step runs only while recording (``print``, ``.item()``, branches on values), as in
``torch.jit.trace`` or CUDA graphs: the step must run the same ops, with the same parameters,
on every call.  A new signature (argument shapes, dtypes, non-tensor arguments) is recorded
again, and so is a step whose parameters changed shape, dtype or ``requires_grad``.  Steps
that a replay could not reproduce -- in-place ops, random draws (dropout), tensors made
outside the ops from data (``one_hot``, comparisons, ``argmax``), op parameters that hold
arrays (indexing by data), custom ``Function``s, hooks, ``create_graph``,
``autograd.grad``, CuPy arrays -- are detected while recording and run eagerly from then on
(with one warning), so the results are always eager's.
"""

from __future__ import annotations

import builtins
import warnings

from . import backend, random
from .autograd import engine as _engine
from .autograd.grad_buffers import SLOTS, free_slot
from .autograd.grad_mode import state
from .ops.registry import CallState, Meta, Node
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
        self._rerecorded = 0  # recordings made again because gradients were not as recorded
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
        if result is _GRADS:  # only ops (no side effects) and zero_grad calls ran
            # gradients present where the recording had none (zero_grad(set_to_none=False)
            # after a first step without any), or reset by code a replay does not run:
            # record again, once; if that recurs, the step must run eagerly
            self._plans.pop(key, None)
            self._rerecorded += 1
            if self._rerecorded > 2:
                return self._eager("the step resets gradients with code the replay does not "
                                   "run (use optimizer.zero_grad() or module.zero_grad())", args)
            return self._record(key, args)
        if result is _EAGER:
            return self.fn(*args)
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


_GRADS = object()  # replay stopped: the leaves' gradients are not as recorded
_RERECORD = object()  # replay refused before running anything: record again
_EAGER = object()  # an op failed before any update: run this call eagerly (its error)

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
        self.inside = set()  # ids of tensors the step made outside the ops (kept in keep)
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
        elif id(t) in self.inside:
            self.fail("the step makes a tensor outside chainrule's ops (one_hot, a "
                      "comparison, argmax, an integer cast, a tensor from NumPy data), whose "
                      "values a replay would freeze")
        r = (LIVE, t)
        self._bind(t, r)
        return r

    # -------------------------------------------------- hooks (called by the library)

    def made(self, t):
        """A Tensor was created outside ``apply`` (``Tensor._wrap``, ``Tensor(...)``)."""
        self.inside.add(id(t))
        self.keep.append(t)

    def constant(self, t):
        """``t`` holds a Python number the step wrote (``x * 2.0``): a true constant."""
        self.inside.discard(id(t))

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
        if type(result.data) is not _ndarray:
            self.fail("the step runs on CuPy arrays (a replay runs NumPy only)")
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
    """The replayable recording, turned into straight-line Python: one local per array,
    each op's forward and each node's VJP called directly with its arguments, and the
    gradient routing of the backward walk written out, so that a replay pays for little
    beyond the NumPy calls.  ``source`` holds the generated code (for reading)."""

    def __init__(self, rec, out_spec):
        self.env = {
            "np": _np, "ndarray": _ndarray, "asarray": _np.asarray, "fit": _engine._fit_array,
            "acc": _acc, "leaf_add": _leaf_add, "store": _engine._store_grad,
            "free_slots": _free_slots, "add_reduce": _np.add.reduce, "SLOTS": SLOTS,
            "ns": _engine._NUMPY_NS, "wrap": Tensor._wrap,
            "GRADS": _GRADS, "RERECORD": _RERECORD, "EAGER": _EAGER,
        }
        self.source = _Codegen(rec, out_spec, self.env).source
        code = builtins.compile(self.source, "<chainrule.compile replay>", "exec")
        exec(code, self.env)
        self._run = self.env["replay"]

    def replay(self, args):
        return self._run(args)


def _own(gi, g, out, saved, in_grads):
    """``engine._private`` for a replay: ``gi`` was made by the VJP for this input alone."""
    if gi is g or type(gi) is not _ndarray:
        return False
    return _engine._sole_owner(gi, out, saved, in_grads)


def _acc(total, g):
    """A gradient's second contribution, added (as the engine's ``push``)."""
    total = total + g
    return total if type(total) is _ndarray else backend.get_array_module(total).asarray(total)


def _leaf_add(total, owned, gi, slot, shape, dtype, g, out, saved, in_grads):
    """A leaf's gradient contribution ``gi`` (from a VJP with incoming gradient ``g``, output
    ``out``, saved arrays ``saved``, results ``in_grads``) added to its running ``total``,
    summed and cast to the leaf's ``shape`` and ``dtype`` -- into the free gradient ``slot``
    when it is the first contribution.  Returns the new total and whether it is private
    (the engine's rules; the replay inlines only the case of a VJP that wrote the slot)."""
    if total is not None:
        slot = None
    made = False
    fitted = gi
    if type(gi) is not _ndarray or gi.shape != shape or gi.dtype != dtype:
        fitted, made = _engine._fit_array(gi, shape, dtype, slot)
    own = made or (slot is not None and gi is slot) or _own(gi, g, out, saved, in_grads)
    if total is None:
        return fitted, own
    if owned:
        total += fitted
        return total, True
    return _acc(total, fitted), True


def _free_slots(leaves):
    """``free_slot`` of each leaf (grad_buffers), as a tuple."""
    return tuple([free_slot(leaf) for leaf in leaves])


class _Codegen:
    """Writes the replay function of a recording (see ``_Plan``)."""

    def __init__(self, rec, out_spec, env):
        self.env = env
        self.lines = []
        self.ops = rec.ops
        self.kwargs = {}  # op -> its parameters as keyword arguments (see _forward)
        lives = {}
        for _, refs, _, _ in rec.ops:
            for kind, v in refs:
                if kind == LIVE:
                    lives.setdefault(id(v), v)
        self.live_index = {tid: j for j, tid in enumerate(lives)}
        # every use of a local, to drop arrays after their last use (memory, as the engine
        # frees what a node saved once its VJP has run)
        body = []
        self._events(rec.events, body)
        body.append(("return " + self._out(out_spec), self._uses_of_spec(out_spec)))
        w = self.lines.append
        w("def replay(args):")
        # the outside tensors (parameters, constants) must still have the recorded shapes,
        # dtypes and requires_grad: one comparison of one tuple
        recorded, now = [], []
        for j, t in enumerate(lives.values()):
            env[f"L{j}"] = t
            recorded += [t.data.shape, t.data.dtype, t.requires_grad]
            now.append(f"l{j}.shape, l{j}.dtype, L{j}._requires_grad")
            w(f"    l{j} = L{j}.data")
        if now:
            env["LIVES"] = tuple(recorded)
            w(f"    if ({', '.join(now)},) != LIVES:")
            w("        return RERECORD")
        for i, a in enumerate(rec.args):
            if isinstance(a, Tensor):
                w(f"    a{i} = args[{i}].data")
        w("    updated = False")
        w("    try:")
        last = {}
        for n, (_, uses) in enumerate(body):
            for u in uses:
                last[u] = n
        for n, (code, _) in enumerate(body):
            for line in code.split("\n"):
                w("        " + line)
            dead = sorted(u for u in last if last[u] == n and u[0] in "xg")
            if dead and not code.startswith("return"):
                w("        " + " = ".join(dead) + " = None")
        w("    except Exception:")
        w("        if updated:")
        w("            raise")
        w("        return EAGER  # eager raises the error, with its message")
        self.source = "\n".join(self.lines) + "\n"

    # ---------------------------------------------------------------- pieces

    def _ref(self, ref):
        kind, v = ref
        if kind == ARG:
            return f"a{v}"
        if kind == SLOT:
            return f"x{v}"
        if kind == LIVE:
            return f"l{self.live_index[id(v)]}"
        name = f"M{len(self.env)}"
        self.env[name] = v
        return name

    def _events(self, events, body):
        for ev in events:
            if ev[0] == "ops":
                for k in range(ev[1], ev[2]):
                    body.append(self._forward(k))
            elif ev[0] == "backward":
                self._backward(ev[1], body)
            else:
                _, fn, obj, kwargs = ev
                n = len(self.env)
                self.env[f"CALL{n}"], self.env[f"OBJ{n}"], self.env[f"KW{n}"] = fn, obj, kwargs
                code = f"CALL{n}(OBJ{n}, **KW{n})"
                if "zero_grad" not in fn.__name__:
                    code = "updated = True\n" + code
                body.append((code, ()))

    def _forward(self, k):
        prim, refs, params, _ = self.ops[k]
        env = self.env
        env[f"F{k}"] = prim.forward
        # the op's parameters as keyword arguments (constants from the environment; a
        # fresh CallState per call, which the VJP then gets too)
        lines, kw = [], []
        for name, v in params.items():
            if isinstance(v, CallState):
                env[f"C{k}_{name}"] = type(v)
                lines.append(f"s{k}_{name} = C{k}_{name}()")
                kw.append(f"{name}=s{k}_{name}")
            else:
                env[f"K{k}_{name}"] = v
                kw.append(f"{name}=K{k}_{name}")
        self.kwargs[k] = kw
        args = ", ".join([self._ref(r) for r in refs] + kw)
        lines.append(f"x{k} = F{k}(np, {args})  # {prim.name}")
        lines.append(f"if type(x{k}) is not ndarray:")
        lines.append(f"    x{k} = asarray(x{k})")
        uses = tuple(f"x{v}" for kind, v in refs if kind == SLOT)
        return "\n".join(lines), uses

    def _backward(self, plan, body):
        env = self.env
        b = len(env)
        env[f"GN{b}"] = plan.grads_none
        leaves = []
        for j, leaf in enumerate(plan.leaves):
            env[f"LEAF{b}_{j}"] = leaf
            leaves.append(f"LEAF{b}_{j}")
        check = ", ".join(f"{n}._grad is None" for n in leaves) + ("," if len(leaves) == 1 else "")
        # the leaves' .grad must be absent (or present) as when recorded: the first step
        # starts without gradients, and code the replay does not run may reset them
        code = [f"if ({check}) != GN{b}:",
                "    if updated:",
                "        raise RuntimeError('chainrule.compile: the step resets gradients with "
                "code the replay does not run; the replay had already updated parameters')",
                "    return GRADS"]
        env[f"LEAVES{b}"] = tuple(plan.leaves)
        env[f"NOSLOTS{b}"] = (None,) * len(leaves)
        if leaves:
            slots = ", ".join(f"f{b}_{j}" for j in range(len(leaves)))
            code.append(f"{slots}, = free_slots(LEAVES{b}) if SLOTS else NOSLOTS{b}")
        for j in range(len(leaves)):
            code.append(f"lg{b}_{j} = lo{b}_{j} = None")
        nodes = {k for k, *_ in plan.steps}
        for k in sorted(nodes - {plan.root}):
            code.append(f"g{k} = None")
        env[f"ONE{b}"] = _np.ones(plan.seed_shape, plan.seed_dtype)
        code.append(f"g{plan.root} = ONE{b}.copy()")
        body.append(("\n".join(code), (f"x{plan.root}",)))
        for k, prim, needs, saved, save_out, routes, leafs in plan.steps:
            body.append(self._vjp(b, k, prim, needs, saved, save_out, routes, leafs))
        # a leaf whose .grad was None when recorded is None now (checked above)
        store = [f"if lg{b}_{j} is not None:\n    "
                 + (f"{n}._grad = wrap(lg{b}_{j} if lg{b}_{j} is f{b}_{j} or lo{b}_{j} and "
                    f"lg{b}_{j}.flags.writeable else lg{b}_{j}.copy(order='K'))" if none else
                    f"store({n}, lg{b}_{j}, False, lo{b}_{j})")
                 for j, (n, none) in enumerate(zip(leaves, plan.grads_none))]
        body.append(("\n".join(store) or "pass", ()))

    def _vjp(self, b, k, prim, needs, saved, save_out, routes, leafs):
        env = self.env
        env[f"V{k}"] = prim.vjp
        refs = [self._ref(r) for r in saved]
        out = f"x{k}" if save_out else "None"
        kw = list(self.kwargs[k])
        if needs is not None:
            env[f"N{k}"] = needs
            kw.append(f"needs=N{k}")
        if prim.into and leafs:
            into = ["None"] * len(routes)
            for i, j in leafs:
                into[i] = f"(f{b}_{j} if lg{b}_{j} is None else None)"
            kw.append(f"into=({', '.join(into)},)")
        lines = [f"if g{k} is not None:  # {prim.name}'s VJP"]
        if leafs:
            lines.append(f"    sv = ({', '.join(refs)},)")
            lines.append(f"    r = V{k}(ns, g{k}, {out}, *sv{''.join(', ' + a for a in kw)})")
        else:
            lines.append(f"    r = V{k}(ns, g{k}, {out}, {', '.join(refs + kw)})")
        for i, route in enumerate(routes):
            if route is None:
                continue
            to_op, j, shape, dtype = route
            sname, dname = f"S{k}_{i}", f"D{k}_{i}"
            env[sname], env[dname] = shape, dtype
            lines.append(f"    gi = r[{i}]")
            lines.append("    if gi is not None:")
            if to_op:
                lines += [f"        if type(gi) is not ndarray or gi.shape != {sname} or "
                          f"gi.dtype != {dname}:",
                          f"            gi = fit(gi, {sname}, {dname})[0]",
                          f"        g{j} = gi if g{j} is None else acc(g{j}, gi)"]
            else:
                lg, lo, slot = f"lg{b}_{j}", f"lo{b}_{j}", f"f{b}_{j}"
                # the common case inline: the VJP wrote the leaf's free slot
                lines += [f"        if gi is {slot} and {lg} is None:",
                          f"            {lg}, {lo} = gi, True"]
                if len(shape) == 1:  # a bias: its batch sum straight into the slot
                    lines += [f"        elif {lg} is None and {slot} is not None and "
                              f"type(gi) is ndarray and gi.ndim == 2 and gi.shape[1:] == {sname} "
                              f"and gi.dtype == {dname}:",
                              f"            {lg}, {lo} = add_reduce(gi, 0, None, {slot}), True"]
                lines += ["        else:",
                          f"            {lg}, {lo} = leaf_add({lg}, {lo}, gi, {slot}, {sname}, "
                          f"{dname}, g{k}, {out}, sv, r)"]
        uses = tuple(r for r in refs if r[0] == "x") + ((f"x{k}",) if save_out else ()) + \
            (f"g{k}",) + tuple(f"g{r[1]}" for r in routes if r is not None and r[0])
        return "\n".join(lines), uses

    def _out(self, spec):
        kind, v = spec
        if kind == "tensor":
            return f"wrap({self._ref(v)})"
        if kind == "none":
            return "None"
        if kind == "dict":
            env_name = f"K{len(self.env)}"
            self.env[env_name] = list(v)
            items = ", ".join(self._out(s) for s in v.values())
            return f"dict(zip({env_name}, ({items},)))"
        items = ", ".join(self._out(s) for s in v)
        return f"({items},)" if kind == "tuple" else f"[{items}]"

    def _uses_of_spec(self, spec):
        kind, v = spec
        if kind == "tensor":
            return (f"x{v[1]}",) if v[0] == SLOT else ()
        if kind == "none":
            return ()
        parts = v.values() if kind == "dict" else v
        return tuple(u for s in parts for u in self._uses_of_spec(s))
