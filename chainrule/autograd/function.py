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

``forward`` runs with grad mode off and returns one Tensor; arguments may be Tensors or
anything else.  ``backward`` receives the output's gradient and returns one gradient per
forward argument (None for non-tensor or non-differentiable ones).  The torch 2 style, a
``forward(*args)`` without ctx plus ``setup_context(ctx, inputs, output)``, works too.
When backward runs with ``create_graph=True`` the user's backward is recorded, so it is
differentiated again; a saved output then comes back joined to this node, as in torch.
"""

from __future__ import annotations

import weakref

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
        self._out = None  # (slots in _saved holding the output, its array, its version box)
        self._node = None  # weakref to this call's graph node
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
        if self._out is None:
            return self._saved
        slots, data, box = self._out
        node = self._node() if self._node is not None else None
        saved = list(self._saved)
        for k in slots:  # the output, joined to this node (held weakly: no reference cycle)
            t = Tensor._wrap(data, requires_grad=node is not None)
            t._node = node
            t._version = box
            saved[k] = t
        return tuple(saved)

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool):
        self.materialize_grads = bool(value)  # one output: its gradient is never None


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
    grads = fn.backward(ctx, g if tensor_mode else Tensor._wrap(g))
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


def _primitive_of(cls):
    prim = cls.__dict__.get("_chainrule_primitive")
    if prim is None:
        prim = Primitive(cls.__name__, _function_forward, _function_vjp, "", custom=True)
        cls._chainrule_primitive = prim
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
        record = state.enabled and any(t.requires_grad for t in tensors)
        ctx.needs_input_grad = tuple(
            record and isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            if "setup_context" in _overridden(cls):
                out = cls.forward(*args)
                cls.setup_context(ctx, args, out)
            else:
                out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return one Tensor, got "
                            f"{type(out).__name__}")
        if out.requires_grad or out._node is not None or any(out is t for t in tensors):
            # an input returned as is, or a tensor from outside: a new tensor on its memory
            result = Tensor._wrap(out.data)
            result._version = out._version
        else:
            result = out
        if (not record or out.data.dtype.kind != "f"
                or any(t is out for t in ctx.non_differentiable)):
            return result
        versions = []
        for t in ctx._saved:
            if t is None:
                continue
            pos = next((j for j, x in enumerate(tensors) if x is t), -1 if t is out else None)
            versions.append((pos, t._version, t._version[0]))
        node = Node(_primitive_of(cls), edges_of(cls.__name__, tensors), {"fn": cls, "ctx": ctx},
                    tuple(Meta(t.data) for t in tensors), None, tuple(versions),
                    out.data.shape, out.data.dtype, result._version[0])
        if result is out:
            slots = tuple(k for k, t in enumerate(ctx._saved) if t is out)
            if slots:  # kept as data + weakref, so that ctx does not hold the node alive
                ctx._saved = tuple(None if t is out else t for t in ctx._saved)
                ctx._out = (slots, out.data, out._version)
        ctx._node = weakref.ref(node)
        result.requires_grad = True
        result._node = node
        return result


def _overridden(cls):
    """Names of Function's methods that ``cls`` defines itself."""
    return {name for name in ("setup_context",)
            if getattr(cls, name) is not getattr(Function, name)}


from ..tensor import Tensor  # noqa: E402
