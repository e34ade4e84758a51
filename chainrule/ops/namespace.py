"""Array namespaces for VJPs.

A VJP is written once against ``ns``.  In a plain backward ``ns`` is an ``ArrayNamespace``:
NumPy's (or CuPy's) own functions, so first-order backward runs on raw arrays with no
overhead.  Under ``create_graph=True`` it is ``TENSOR_NS``: the same names bound to
chainrule's differentiable ops, so the backward pass is itself recorded.
"""

from __future__ import annotations

from .. import backend
from . import activation, elementwise, index, linalg, reduce, shape
from .registry import apply


class ArrayNamespace:
    """The backend module's functions under the names VJPs use, plus chainrule's own
    primitives (run directly on arrays)."""

    def __init__(self, xp):
        for name in ("reshape", "transpose", "broadcast_to", "flip", "where", "log", "exp",
                     "cos", "sin", "sign", "floor", "swapaxes", "matmul", "take_along_axis"):
            setattr(self, name, getattr(xp, name))
        self.xp = xp
        own = (index.index_add_zeros, index.scatter_add, index.pad_zeros, reduce.prod_others,
               linalg.einsum, activation.softmax)
        for prim in own:
            setattr(self, prim.name, _bind(prim.forward, xp))

    def sum(self, x, axis=None, keepdims=False):
        return self.xp.sum(x, axis=axis, keepdims=keepdims)

    def cumsum(self, x, axis):
        return self.xp.cumsum(x, axis=axis)

    def zeros(self, shape, like):
        return self.xp.zeros(shape, dtype=like.dtype)

    def to_device(self, x, device):
        return backend.to_device(x, device)


def _bind(forward, xp):
    def call(*arrays, **params):
        return forward(xp, *arrays, **params)

    return call


def _axis(axis, ndim):
    if axis is None:
        return None
    if isinstance(axis, int):
        axis = (axis,)
    return tuple(sorted(a % ndim for a in axis))


def _t(x):
    """An index array as a (constant) Tensor, on the array's own device."""
    return x if isinstance(x, Tensor) else Tensor._wrap(backend.get_array_module(x).asarray(x))


class TensorNamespace:
    """The same names as ``ArrayNamespace``, taking and returning Tensors, recorded."""

    @staticmethod
    def reshape(x, shape):
        return apply(shape_mod.reshape, x, shape=tuple(shape))

    @staticmethod
    def transpose(x, axes):
        return apply(shape_mod.transpose, x, axes=tuple(axes))

    @staticmethod
    def swapaxes(x, a, b):
        axes = list(range(x.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return apply(shape_mod.transpose, x, axes=tuple(axes))

    @staticmethod
    def broadcast_to(x, shape):
        return apply(shape_mod.broadcast_to, x, shape=tuple(shape))

    @staticmethod
    def flip(x, axis):
        return apply(shape_mod.flip, x, axis=axis)

    @staticmethod
    def sum(x, axis=None, keepdims=False):
        return apply(reduce.sum, x, axis=_axis(axis, x.ndim), keepdims=keepdims)

    @staticmethod
    def cumsum(x, axis):
        return apply(reduce.cumsum, x, axis=axis)

    @staticmethod
    def where(cond, x, y):
        from .functional import where

        return where(cond, x, y)

    @staticmethod
    def zeros(shape, like):
        xp = backend.get_array_module(like.data)
        return Tensor._wrap(xp.zeros(shape, dtype=like.data.dtype))

    @staticmethod
    def to_device(x, device):
        return x.to(device)

    @staticmethod
    def matmul(a, b):
        return apply(linalg.matmul, a, b)

    @staticmethod
    def take_along_axis(x, idx, axis):
        return apply(index.take_along_axis, x, _t(idx), axis=axis)

    @staticmethod
    def scatter_add(x, idx, src, axis):
        return apply(index.scatter_add, x, _t(idx), src, axis=axis)

    @staticmethod
    def index_add_zeros(g, index, shape):
        return apply(index_mod.index_add_zeros, g, index=index, shape=shape)

    @staticmethod
    def pad_zeros(x, pad):
        return apply(index_mod.pad_zeros, x, pad=pad)

    @staticmethod
    def prod_others(x, axis=None):
        return apply(reduce.prod_others, x, axis=axis)

    @staticmethod
    def einsum(*xs, spec):
        return apply(linalg.einsum, *xs, spec=spec)

    @staticmethod
    def softmax(x, axis):
        return apply(activation.softmax, x, axis=axis)

    exp = staticmethod(elementwise.exp)
    log = staticmethod(elementwise.log)
    cos = staticmethod(elementwise.cos)
    sin = staticmethod(elementwise.sin)
    sign = staticmethod(elementwise.sign)
    floor = staticmethod(elementwise.floor)


shape_mod = shape
index_mod = index
TENSOR_NS = TensorNamespace()
_ARRAY_NS: dict = {}


def array_namespace(xp) -> ArrayNamespace:
    ns = _ARRAY_NS.get(xp)
    if ns is None:
        ns = _ARRAY_NS[xp] = ArrayNamespace(xp)
    return ns


from ..tensor import Tensor  # noqa: E402

_ = activation  # the softmax family's VJPs use only names defined above
