"""User-defined differentiable ops, as ``torch.autograd.Function``.

    class Cube(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return grad * 3 * x ** 2

    y = Cube.apply(x)

``forward`` runs with grad mode off and returns one Tensor or a tuple of outputs (Tensors
or other values); arguments may be Tensors or anything else.  ``backward`` receives one
gradient per output (zeros for an output that got none, None for a non-tensor output) and
returns one gradient per forward argument (None for non-tensor or non-differentiable ones).

Several outputs: the engine gives each node one output, so the call records one node for
the Function (``MyFnBackward``, which runs the user's backward) whose "output" is all the
differentiable outputs' gradients packed into one flat vector, and one small node per
output (``MyFnOutputBackward``, each output's ``grad_fn``) that places its gradient in
that vector.  The torch 2 style, a
``forward(*args)`` without ctx plus ``setup_context(ctx, inputs, output)``, works too.
When backward runs with ``create_graph=True`` the user's backward is recorded, so it is
differentiated again; a saved output then comes back joined to this node, as in torch.
"""

from __future__ import annotations

import weakref

from .. import backend
from ..ops.registry import Meta, Node, Primitive, edges_of
from .grad_mode import no_grad, state


class FunctionCtx:
    """The ``ctx`` passed to forward (or setup_context) and backward; attributes set on it
    by forward are there in backward."""

    def __init__(self):
        self.needs_input_grad = ()
        self.non_differentiable = ()
        self.materialize_grads = True
        self._saved = ()
        self._versions = ()  # (version box, stamp) of each saved tensor
        self._outs = ()  # (slots in _saved holding an output, its array, its version box,
        #                   weakref to the node the output comes from), one per saved output
        self._node = None  # weakref to this call's graph node
        self._reached = set()  # outputs whose gradient reached backward (several outputs)
        self._positions = ()  # positions of the Tensor arguments
        self._name = "Function"

    def save_for_backward(self, *tensors):
        """Keep ``tensors`` (inputs or the output) for backward; modifying one in place
        before backward is then an error."""
        for i, t in enumerate(tensors):
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward: argument {i} is a {type(t).__name__}; only "
                                "Tensors (or None) can be saved; keep other values as ctx "
                                "attributes")
        self._saved = tensors
        self._versions = tuple((t._version, t._version[0]) for t in tensors if t is not None)

    @property
    def saved_tensors(self):
        for box, stamp in self._versions:
            if box[0] != stamp:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: a tensor saved by {self._name}.forward is at version "
                    f"{box[0]}; expected version {stamp}")
        if not self._outs:
            return self._saved
        saved = list(self._saved)
        for slots, data, box, ref in self._outs:
            node = ref()
            for k in slots:  # an output, joined to its node (held weakly: no reference cycle)
                t = Tensor._wrap(data, requires_grad=node is not None)
                t._node = node
                t._version = box
                saved[k] = t
        return tuple(saved)

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool):
        """With False, backward gets None (not zeros) for an output no gradient reached
        (one output: its gradient is never None)."""
        self.materialize_grads = bool(value)


def _function_forward(xp, *arrays, fn, ctx):  # never called: Function.apply runs forward
    raise AssertionError("Function.apply runs forward itself")


def _expandable(shape, grad_shape):
    """torch's rule for a custom gradient: ``shape`` must broadcast to ``grad_shape``."""
    if len(shape) > len(grad_shape):
        return False
    return all(s == 1 or s == g for s, g in zip(reversed(shape), reversed(grad_shape)))


def _function_vjp(ns, g, out, *inputs, fn, ctx):
    """Call the user's backward with Tensors; map its gradients (one per forward argument)
    onto the Tensor inputs.  ``inputs`` are shape stand-ins."""
    tensor_mode = isinstance(g, Tensor)
    return _input_grads(fn.backward(ctx, g if tensor_mode else Tensor._wrap(g)), inputs, fn,
                        ctx, tensor_mode)


def _function_vjp_outputs(ns, g, out, *inputs, fn, ctx, layout):
    """``_function_vjp`` for several outputs: ``g`` is the packed gradient (see the module
    docstring); ``layout`` has, per forward output, None (not a Tensor), ``(shape, dtype)``
    (a Tensor that gets no gradient: zeros) or ``(offset, shape, dtype)``."""
    tensor_mode = isinstance(g, Tensor)
    reached, ctx._reached = ctx._reached, set()
    grads = []
    for k, entry in enumerate(layout):
        if entry is None or (not ctx.materialize_grads and k not in reached):
            grads.append(None)
        elif len(entry) == 2:  # not differentiable: zeros, as torch
            shape, dtype = entry
            grads.append(Tensor._wrap(backend.get_array_module(
                g.data if tensor_mode else g).zeros(shape, dtype)))
        else:
            offset, shape, dtype = entry
            n = 1
            for d in shape:
                n *= d
            gk = g[offset:offset + n]
            if tensor_mode:
                gk = gk.reshape(shape)
                grads.append(gk if gk.data.dtype == dtype else gk.to(backend.from_np(dtype)))
            else:
                grads.append(Tensor._wrap(gk.reshape(shape).astype(dtype, copy=False)))
    return _input_grads(fn.backward(ctx, *grads), inputs, fn, ctx, tensor_mode)


def _output_select_vjp(ns, g, out, packed, offset, total, ctx, k):
    """One output's gradient, placed at its offset in the packed vector of its
    Function's node."""
    ctx._reached.add(k)
    n = 1
    for d in g.shape:
        n *= d
    return (ns.pad_zeros(ns.reshape(g, (n,)), pad=((offset, total - offset - n),)),)


def _input_grads(grads, inputs, fn, ctx, tensor_mode):
    """The user's backward result (one gradient per forward argument), checked and mapped
    onto the Tensor inputs (arrays in a plain backward)."""
    if not isinstance(grads, tuple):
        grads = (grads,)
    n = len(ctx.needs_input_grad)
    if len(grads) < n or any(x is not None for x in grads[n:]):
        raise RuntimeError(f"function {fn.__name__}Backward returned an incorrect number of "
                           f"gradients (expected {n}, got {len(grads)})")
    result = []
    for pos, x in zip(ctx._positions, inputs):
        gi = grads[pos]
        if gi is None or not ctx.needs_input_grad[pos]:
            result.append(None)
            continue
        if not isinstance(gi, Tensor):
            raise TypeError(f"function {fn.__name__}Backward returned a {type(gi).__name__} as "
                            f"the gradient at index {pos}; expected a Tensor or None")
        if not _expandable(tuple(x.shape), tuple(gi.shape)):
            raise RuntimeError(
                f"function {fn.__name__}Backward returned an invalid gradient at index {pos} - "
                f"got {list(gi.shape)} but expected shape compatible with {list(x.shape)}")
        result.append(gi if tensor_mode else gi.data)
    return tuple(result)


def _primitive_of(cls, kind="one"):
    """The primitives recording ``cls``'s calls: ``"one"`` output, ``"several"`` (the node
    running backward on the packed gradient), ``"select"`` (one of several outputs)."""
    prims = cls.__dict__.get("_chainrule_primitives")
    if prims is None:
        prims = cls._chainrule_primitives = {}
    prim = prims.get(kind)
    if prim is None:
        name, vjp = {"one": (cls.__name__, _function_vjp),
                     "several": (cls.__name__, _function_vjp_outputs),
                     "select": (f"{cls.__name__}_output", _output_select_vjp)}[kind]
        prim = prims[kind] = Primitive(name, _function_forward, vjp, "", custom=True)
    return prim


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, grad)``; call
    ``apply``."""

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must define forward")

    @staticmethod
    def backward(ctx, *grads):
        raise NotImplementedError("a Function subclass must define backward to be "
                                  "differentiated")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        ctx._name = cls.__name__
        ctx._positions = tuple(i for i, a in enumerate(args) if isinstance(a, Tensor))
        tensors = [args[i] for i in ctx._positions]
        record = state.enabled and any(t._requires_grad for t in tensors)
        ctx.needs_input_grad = tuple(
            record and isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            if "setup_context" in _overridden(cls):
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args)
        if isinstance(out, tuple):
            return _several_outputs(cls, ctx, tensors, record, out)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor or a tuple, got "
                            f"{type(out).__name__}")
        result = _fresh(out, tensors)
        if (not record or out.data.dtype.kind != "f"
                or any(t is out for t in ctx.non_differentiable)):
            return result
        node = Node(_primitive_of(cls), edges_of(cls.__name__, tensors), {"fn": cls, "ctx": ctx},
                    tuple(Meta(t.data) for t in tensors), None,
                    _saved_versions(ctx, tensors, (out,)),
                    out.data.shape, out.data.dtype, result._version[0])
        ctx._node = weakref.ref(node)
        _keep_saved_output(ctx, out, result, ctx._node)
        result._requires_grad = True
        result._node = node
        return result


def _fresh(out, tensors):
    """The Tensor handed to the user for a forward output: ``out`` itself, or a new tensor
    on its memory when it is an input returned as is or a tensor from elsewhere."""
    if out.requires_grad or out._node is not None or any(out is t for t in tensors):
        result = Tensor._wrap(out.data)
        result._version = out._version
        return result
    return out


def _saved_versions(ctx, tensors, outs):
    """``Node.versions`` for what forward saved: input positions, -1 for an output."""
    versions = []
    for t in ctx._saved:
        if t is None:
            continue
        pos = next((j for j, x in enumerate(tensors) if x is t),
                   -1 if any(t is o for o in outs) else None)
        versions.append((pos, t._version, t._version[0]))
    return tuple(versions)


def _keep_saved_output(ctx, out, result, node_ref):
    """A saved output is kept as data + weakref to its node, so that ctx does not hold the
    node alive (the output comes back joined to the graph, see saved_tensors)."""
    if result is not out:
        return
    slots = tuple(k for k, t in enumerate(ctx._saved) if t is out)
    if slots:
        ctx._saved = tuple(None if t is out else t for t in ctx._saved)
        ctx._outs = ctx._outs + ((slots, out.data, out._version, node_ref),)


def _several_outputs(cls, ctx, tensors, record, outs):
    """``Function.apply`` for a forward that returned a tuple (see the module docstring)."""
    results = tuple(_fresh(o, tensors) if isinstance(o, Tensor) else o for o in outs)
    layout, offset, dtypes = [], 0, []
    for o in outs:
        if not isinstance(o, Tensor):
            layout.append(None)
        elif (o.data.dtype.kind != "f" or any(o is t for t in ctx.non_differentiable)):
            layout.append((o.data.shape, o.data.dtype))
        else:
            layout.append((offset, o.data.shape, o.data.dtype))
            offset += o.data.size
            dtypes.append(o.data.dtype)
    if not record or not dtypes:
        return results
    total = offset
    packed = Meta.__new__(Meta)  # the packed gradient's stand-in (no array behind it)
    packed.shape, packed.dtype, packed.ndim, packed.value = (
        (total,), backend.np.result_type(*dtypes), 1, None)
    node = Node(_primitive_of(cls, "several"), edges_of(cls.__name__, tensors),
                {"fn": cls, "ctx": ctx, "layout": tuple(layout)},
                tuple(Meta(t.data) for t in tensors), None,
                _saved_versions(ctx, tensors, outs), packed.shape, packed.dtype)
    ctx._node = weakref.ref(node)
    select = _primitive_of(cls, "select")
    for k, (o, result, entry) in enumerate(zip(outs, results, layout)):
        if entry is None or len(entry) == 2:
            continue
        out_node = Node(select, (node,), {"offset": entry[0], "total": total, "ctx": ctx,
                                          "k": k},
                        (packed,), None, (), o.data.shape, o.data.dtype, result._version[0])
        _keep_saved_output(ctx, o, result, weakref.ref(out_node))
        result._requires_grad = True
        result._node = out_node
    return results


def _overridden(cls):
    """Names of Function's methods that ``cls`` defines itself."""
    return {name for name in ("setup_context",)
            if getattr(cls, name) is not getattr(Function, name)}


from ..tensor import Tensor  # noqa: E402
