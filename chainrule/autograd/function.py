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

``forward`` runs with grad mode off on the given Tensors; ``backward`` receives and returns
Tensors (one per forward input; None for non-tensor or non-differentiable inputs).  When
backward is run with ``create_graph=True`` the user's backward is recorded too.
"""

from __future__ import annotations

from ..ops.registry import Meta, Node, Primitive
from .grad_mode import no_grad, state


class FunctionCtx:
    """The ``ctx`` passed to forward and backward."""

    def __init__(self):
        self._saved = ()
        self._versions = ()
        self.needs_input_grad = ()
        self.non_differentiable = ()

    def save_for_backward(self, *tensors):
        self._saved = tensors
        self._versions = tuple((t._version, t._version[0]) for t in tensors if t is not None)

    @property
    def saved_tensors(self):
        for box, v in self._versions:
            if box[0] != v:
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    "an inplace operation (a tensor saved by a custom Function)")
        return self._saved

    def mark_non_differentiable(self, *tensors):
        self.non_differentiable = tensors

    def set_materialize_grads(self, value: bool):
        pass


def _function_forward(xp, *arrays, fn, ctx):  # never called: Function runs forward itself
    raise AssertionError("Function.apply runs forward directly")


def _function_vjp(ns, g, out, *inputs, fn, ctx):
    from ..tensor import Tensor

    g_t = g if isinstance(g, Tensor) else Tensor._wrap(g)
    if isinstance(g, Tensor):
        grads = fn.backward(ctx, g_t)
    else:
        with no_grad():
            grads = fn.backward(ctx, g_t)
    if not isinstance(grads, tuple):
        grads = (grads,)
    tensor_mode = isinstance(g, Tensor)
    out = []
    for gi in grads[: len(inputs)]:
        if gi is None or tensor_mode:
            out.append(gi)
        else:
            out.append(gi.data if isinstance(gi, Tensor) else gi)
    return tuple(out)


class Function:
    """Subclass with static ``forward(ctx, *args)`` and ``backward(ctx, *grads)``; call
    ``apply``."""

    @classmethod
    def apply(cls, *args):
        from ..tensor import Tensor

        ctx = FunctionCtx()
        tensor_args = [a for a in args if isinstance(a, Tensor)]
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            out = cls.forward(ctx, *args)
        if not isinstance(out, Tensor):
            raise TypeError(f"{cls.__name__}.forward must return a Tensor, got {type(out).__name__}")
        if out.requires_grad or out._node is not None:
            out = out.detach()
        if not (state.enabled and any(t.requires_grad for t in tensor_args)):
            return out
        if any(o is out for o in ctx.non_differentiable):
            return out
        prim = Primitive(cls.__name__, _function_forward, _adapter(cls, args), "")
        node = Node(prim, tuple(tensor_args), {"fn": cls, "ctx": ctx},
                    tuple(Meta(t.data) for t in tensor_args), None, (), out.data.shape,
                    out.data.dtype)
        result = Tensor._wrap(out.data, requires_grad=True)
        result._node = node
        return result


def _adapter(cls, args):
    """Map the user's backward (one gradient per forward argument) onto tensor inputs."""
    from ..tensor import Tensor

    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

    def vjp(ns, g, out, *inputs, fn, ctx):
        grads = _function_vjp(ns, g, out, *args, fn=fn, ctx=ctx)
        grads = grads + (None,) * (len(args) - len(grads))
        return tuple(grads[i] for i in positions)

    return vjp
