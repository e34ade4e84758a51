"""Tensor: an array, its gradient, and its link into the recorded graph.

Methods have torch's names and each calls one op from ``chainrule.ops``; no derivative
knowledge lives here.  ``__slots__`` keeps tensors small and attribute access fast.
"""

from __future__ import annotations

import weakref
from numbers import Number

from . import backend
from ._errors import op_error

_np = backend.np


class Size(tuple):
    """A tensor's shape: a tuple, printed as ``chainrule.Size([3, 4])`` like torch.Size."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"chainrule.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n


class Tensor:
    """A multi-dimensional array that records how it was computed.

    >>> import chainrule as cr
    >>> x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    >>> (x * x).sum().backward()
    >>> x.grad
    tensor([2., 4., 6.])
    """

    __slots__ = ("data", "grad", "requires_grad", "_node", "_version", "_hooks", "_name",
                 "__weakref__")
    __array_priority__ = 1000  # NumPy defers to our reflected operators
    __array_ufunc__ = None

    def __init__(self, data=None, *, requires_grad: bool = False):
        from .creation import _to_array

        self.data = _to_array(data if data is not None else [], None)
        if self.data.dtype.kind in "iub" and data is not None and not backend.is_array(data):
            self.data = self.data.astype(backend.get_default_dtype().np)  # torch.Tensor(list)
        self.grad = None
        self._node = None
        self._version = [0]
        self._hooks = None
        self._name = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _wrap(cls, array, requires_grad: bool = False) -> "Tensor":
        """A tensor around ``array`` without copying or checking (internal fast path)."""
        t = cls.__new__(cls)
        t.data = array
        t.grad = None
        t.requires_grad = requires_grad
        t._node = None
        t._version = [0]
        t._hooks = None
        t._name = None
        return t

    # ------------------------------------------------------------ attributes

    @property
    def shape(self) -> Size:
        return Size(self.data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self.data.shape)
        return self.data.shape[_ops._dim1("size", dim, self.data.ndim)]

    @property
    def dtype(self):
        return backend.from_np(self.data.dtype)

    @property
    def device(self):
        return backend.device_of(self.data)

    @property
    def ndim(self) -> int:
        return self.data.ndim

    def dim(self) -> int:
        return self.data.ndim

    def numel(self) -> int:
        return int(self.data.size)

    nelement = numel

    def element_size(self) -> int:
        return self.data.itemsize

    @property
    def is_leaf(self) -> bool:
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self.data.dtype.kind == "f"

    @property
    def T(self) -> "Tensor":
        return _ops.permute(self, tuple(reversed(range(self.ndim))))

    @property
    def mT(self) -> "Tensor":
        if self.ndim < 2:
            raise op_error("mT", f"expects a tensor with at least 2 dimensions, got {self.ndim}")
        return _ops.transpose(self, -2, -1)

    # ------------------------------------------------------------ conversions

    def item(self):
        if self.data.size != 1:
            raise op_error("item", f"a Tensor with {self.data.size} elements cannot be converted "
                           "to a Python scalar", RuntimeError)
        return backend.to_numpy(self.data).reshape(()).item()

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def numpy(self, *, force: bool = False):
        if self.requires_grad and not force:
            raise RuntimeError(
                "Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() "
                "instead.")
        if self.is_cuda and not force:
            raise TypeError("can't convert a cuda tensor to numpy; use .cpu() first")
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    def detach(self) -> "Tensor":
        """The same data (shared), cut off from the graph."""
        t = Tensor._wrap(self.data)
        t._version = self._version  # a view: shares the version counter
        return t

    def detach_(self) -> "Tensor":
        self._node = None
        self.requires_grad = False
        return self

    def clone(self) -> "Tensor":
        """A copy with its own memory; the gradient passes straight through."""
        return _ops.clone(self)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise RuntimeError(
                f"only Tensors of floating point dtype can require gradients (got {self.dtype})")
        if not requires_grad and self._node is not None:
            raise RuntimeError(
                "you can only change requires_grad flags of leaf variables. If you want to use a "
                "computed variable in a subgraph that doesn't require differentiation use "
                "var_no_grad = var.detach().")
        self.requires_grad = requires_grad
        return self

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self._node is not None:
            self._node.retained = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._node is not None and self._node.retained is not None

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; a returned Tensor
        replaces the gradient.  Returns a handle with ``remove()``."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._node is not None:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return _HookHandle(hooks, hook)

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Backpropagate from this tensor: accumulate d(self)/d(leaf) into each leaf's ``.grad``.

        ``gradient`` is required unless this tensor holds one element.  Saved values are
        freed afterwards unless ``retain_graph`` (default: ``create_graph``).
        """
        from .autograd import backward

        backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    def to(self, *args, dtype=None, device=None, copy=False, non_blocking=False):
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``."""
        for a in args:
            if isinstance(a, Tensor):
                dtype, device = a.dtype, a.device
            elif isinstance(a, (str, backend.device)):
                device = a
            else:
                dtype = a
        out = self
        if device is not None:
            dev = backend.device(device)
            if dev != self.device:
                out = _ops.to_device(out, dev)
        if dtype is not None:
            out = _ops.cast(out, backend.as_dtype(dtype).np)
        if copy and out is self:
            out = self.clone()
        return out

    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None):
        return self.to(backend.device("cuda", device))

    def float(self):
        return self.to(backend.float32)

    def double(self):
        return self.to(backend.float64)

    def half(self):
        return self.to(backend.float16)

    def long(self):
        return self.to(backend.int64)

    def int(self):
        return self.to(backend.int32)

    def bool(self):
        return self.to(backend.bool_)

    def type(self, dtype=None):
        if dtype is None:
            return f"chainrule.{self.dtype.name}"
        return self.to(dtype)

    def type_as(self, other):
        return self.to(other.dtype)

    # ------------------------------------------------------------ printing

    def __repr__(self) -> str:
        arr = backend.to_numpy(self.data)
        body = _np.array2string(arr, separator=", ", prefix="tensor(", precision=4,
                                floatmode="maxprec_equal" if arr.dtype.kind == "f" else "maxprec")
        extras = []
        default = backend.get_default_dtype().np
        if arr.dtype != default and arr.dtype != _np.int64 and arr.dtype.kind != "b":
            extras.append(f"dtype={self.dtype}")
        if arr.size == 0:
            extras.append(f"size={tuple(arr.shape)}")
        if self.is_cuda:
            extras.append(f"device='{self.device}'")
        if self._node is not None:
            extras.append(f"grad_fn=<{self._node.name()}>")
        elif self.requires_grad:
            extras.append("requires_grad=True")
        return "tensor(" + body + "".join(", " + e for e in extras) + ")"

    def __len__(self) -> int:
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def __bool__(self) -> bool:
        if self.data.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.data.size} elements is "
                               "ambiguous")
        return bool(self.data)

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.data.dtype.kind not in "iu" or self.data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------ arithmetic

    def __add__(self, other):
        return _ops.add(self, other)

    def __radd__(self, other):
        return _ops.add(self, other)

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _ops.mul(self, other)

    def __rmul__(self, other):
        return _ops.mul(self, other)

    def __truediv__(self, other):
        return _ops.div(self, other)

    def __rtruediv__(self, other):
        return _ops.div(other, self)

    def __floordiv__(self, other):
        return _ops.floor_divide(self, other)

    def __rfloordiv__(self, other):
        return _ops.floor_divide(other, self)

    def __mod__(self, other):
        return _ops.remainder(self, other)

    def __rmod__(self, other):
        return _ops.remainder(other, self)

    def __pow__(self, other):
        return _ops.pow(self, other)

    def __rpow__(self, other):
        return _ops.pow(other, self)

    def __matmul__(self, other):
        return _ops.matmul(self, _as_tensor(other, self))

    def __rmatmul__(self, other):
        return _ops.matmul(_as_tensor(other, self), self)

    def __iadd__(self, other):
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def __neg__(self):
        return _ops.neg(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _ops.abs(self)

    # comparisons and logic: bool results, never recorded
    def __eq__(self, other):
        return _compare(self, other, "equal")

    def __ne__(self, other):
        return _compare(self, other, "not_equal")

    def __lt__(self, other):
        return _compare(self, other, "less")

    def __le__(self, other):
        return _compare(self, other, "less_equal")

    def __gt__(self, other):
        return _compare(self, other, "greater")

    def __ge__(self, other):
        return _compare(self, other, "greater_equal")

    def __and__(self, other):
        return _compare(self, other, "bitwise_and")

    __rand__ = __and__

    def __or__(self, other):
        return _compare(self, other, "bitwise_or")

    __ror__ = __or__

    def __xor__(self, other):
        return _compare(self, other, "bitwise_xor")

    __rxor__ = __xor__

    def __invert__(self):
        xp = backend.get_array_module(self.data)
        if self.data.dtype.kind == "f":
            raise TypeError("~ (bitwise not) is only supported for integer and bool tensors")
        return Tensor._wrap(xp.invert(self.data))

    def eq(self, other):
        return self == other

    def ne(self, other):
        return self != other

    def lt(self, other):
        return self < other

    def le(self, other):
        return self <= other

    def gt(self, other):
        return self > other

    def ge(self, other):
        return self >= other

    def logical_and(self, other):
        return _logical(self, other, "logical_and")

    def logical_or(self, other):
        return _logical(self, other, "logical_or")

    def logical_xor(self, other):
        return _logical(self, other, "logical_xor")

    def logical_not(self):
        return Tensor._wrap(backend.get_array_module(self.data).logical_not(self.data))

    def equal(self, other) -> bool:
        return self.shape == other.shape and bool((self.data == other.data).all())

    def allclose(self, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> bool:
        xp = backend.get_array_module(self.data)
        return bool(xp.allclose(self.data, other.data, rtol=rtol, atol=atol, equal_nan=equal_nan))

    # ------------------------------------------------------------ indexing

    def __getitem__(self, key):
        return _ops.getitem(self, key)

    def __setitem__(self, key, value):
        """In-place assignment; allowed on tensors outside the graph (as torch's rule for
        leaves), so it never corrupts a recorded gradient silently."""
        if state.enabled and (self.requires_grad or (isinstance(value, Tensor) and value.requires_grad)):
            raise op_error("setitem", "in-place assignment into a tensor that requires grad (or "
                           "from one) is not supported; use torch-style out-of-place ops "
                           "(where, masked_fill, cat) or wrap it in no_grad()", RuntimeError)
        index = _ops._index_key("setitem", self, key)
        v = value.data if isinstance(value, Tensor) else value
        try:
            self.data[index] = v
        except (ValueError, IndexError, TypeError) as exc:
            raise op_error("setitem", f"{exc} (tensor of shape {tuple(self.shape)})",
                           IndexError) from None
        self._version[0] += 1

    # ------------------------------------------------------------ in-place ops

    def _inplace(self, op_name, result_fn):
        """Run ``result_fn()`` and write its value into this tensor.

        torch's rule: in-place on a leaf that requires grad is an error while grad mode is
        on.  On a non-leaf the op is recorded: this tensor takes the new node, and any
        earlier node that saved its old value will detect the change (version counter).
        """
        if state.enabled and self.requires_grad and self._node is None:
            raise op_error(op_name, "a leaf Variable that requires grad is being used in an "
                           "in-place operation; wrap it in chainrule.no_grad() (as optimizers "
                           "and init code do)", RuntimeError)
        result = result_fn()
        if result.data.dtype != self.data.dtype:
            if result.data.dtype.kind == "f" and self.data.dtype.kind in "biu":
                raise op_error(op_name, f"result type {backend.from_np(result.data.dtype)} can't be "
                               f"cast to the desired output type {self.dtype}", RuntimeError)
            result = _ops.cast(result, self.data.dtype)
        if result.data.shape != self.data.shape:
            raise op_error(op_name, f"output with shape {list(self.shape)} doesn't match the "
                           f"broadcast shape {list(result.shape)}", RuntimeError)
        if not self.data.flags.writeable:
            raise op_error(op_name, "the tensor's memory is read-only (an expanded view?); "
                           "clone() it first", RuntimeError)
        if result.data is not self.data:
            self.data[...] = result.data
        self._version[0] += 1
        if state.enabled and result.requires_grad:
            node = result._node
            # the recorded result must point at our (now updated) array
            self._node, self.requires_grad = node, True
            if node is not None and node.out is not None:
                node.out = self.data
                node.versions = tuple(
                    (self._version, self._version[0]) if box is result._version else (box, v)
                    for box, v in node.versions)
        return self

    def add_(self, other, *, alpha=1):
        return self._inplace("add_", lambda: _ops.add(self, other, alpha=alpha))

    def sub_(self, other, *, alpha=1):
        return self._inplace("sub_", lambda: _ops.sub(self, other, alpha=alpha))

    def mul_(self, other):
        return self._inplace("mul_", lambda: _ops.mul(self, other))

    def div_(self, other):
        return self._inplace("div_", lambda: _ops.div(self, other))

    def pow_(self, other):
        return self._inplace("pow_", lambda: _ops.pow(self, other))

    def clamp_(self, min=None, max=None):
        return self._inplace("clamp_", lambda: _ops.clamp(self, min, max))

    clip_ = clamp_

    def neg_(self):
        return self._inplace("neg_", lambda: _ops.neg(self))

    def exp_(self):
        return self._inplace("exp_", lambda: _ops.exp(self))

    def sqrt_(self):
        return self._inplace("sqrt_", lambda: _ops.sqrt(self))

    def relu_(self):
        return self._inplace("relu_", lambda: _ops.relu(self))

    def masked_fill_(self, mask, value):
        return self._inplace("masked_fill_", lambda: _ops.masked_fill(self, mask, value))

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return self._inplace("addcmul_", lambda: self + value * tensor1 * tensor2)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return self._inplace("addcdiv_", lambda: self + value * tensor1 / tensor2)

    def lerp_(self, end, weight):
        return self._inplace("lerp_", lambda: self + weight * (end - self))

    def zero_(self):
        return self.fill_(0)

    def fill_(self, value):
        def filled():
            if isinstance(value, Tensor):
                return _ops.expand(value.to(self.dtype), self.shape)
            return Tensor._wrap(backend.get_array_module(self.data).full(
                self.data.shape, value, dtype=self.data.dtype))
        return self._inplace("fill_", filled)

    def copy_(self, src, non_blocking=False):
        def copied():
            s = src if isinstance(src, Tensor) else Tensor(src)
            if s.device != self.device:
                s = s.to(self.device)
            return _ops.expand(_ops.cast(s, self.data.dtype), self.shape)
        return self._inplace("copy_", copied)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        from . import random

        return self._inplace("uniform_", lambda: Tensor._wrap(
            random.uniform_array(self.data.shape, a, b, self.data.dtype, self.device, generator)))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        from . import random

        return self._inplace("normal_", lambda: Tensor._wrap(
            random.normal_array(self.data.shape, mean, std, self.data.dtype, self.device, generator)))

    # ------------------------------------------------------------ views and shapes

    def view(self, *shape):
        return _ops.reshape(self, *shape)

    def view_as(self, other):
        return _ops.reshape(self, other.shape)

    def reshape(self, *shape):
        return _ops.reshape(self, *shape)

    def reshape_as(self, other):
        return _ops.reshape(self, other.shape)

    def contiguous(self):
        return self

    def is_contiguous(self) -> bool:
        return bool(self.data.flags.c_contiguous)

    def expand_as(self, other):
        return _ops.expand(self, other.shape)

    def new_zeros(self, *size, dtype=None):
        from .creation import zeros

        return zeros(*size, dtype=dtype or self.dtype, device=self.device)

    def new_ones(self, *size, dtype=None):
        from .creation import ones

        return ones(*size, dtype=dtype or self.dtype, device=self.device)

    def new_full(self, size, fill_value, dtype=None):
        from .creation import full

        return full(size, fill_value, dtype=dtype or self.dtype, device=self.device)

    def new_tensor(self, data, dtype=None):
        from .creation import tensor

        return tensor(data, dtype=dtype or self.dtype, device=self.device)


class _HookHandle:
    __slots__ = ("_hooks", "_hook")

    def __init__(self, hooks, hook):
        self._hooks, self._hook = hooks, hook

    def remove(self):
        if self._hook in self._hooks:
            self._hooks.remove(self._hook)


def _as_tensor(x, like):
    if isinstance(x, Tensor):
        return x
    from .creation import tensor

    return tensor(x, device=like.device)


def _compare(a, b, ufunc):
    xp = backend.get_array_module(a.data)
    if isinstance(b, Tensor):
        bd = b.data
    elif isinstance(b, (Number, _np.generic)):
        bd = b
    elif isinstance(b, (list, tuple)) or backend.is_array(b):
        bd = xp.asarray(b)
    else:
        return NotImplemented
    try:
        return Tensor._wrap(getattr(xp, ufunc)(a.data, bd))
    except (ValueError, TypeError) as exc:
        raise op_error(ufunc, f"{exc} (operands {tuple(a.shape)} and "
                       f"{tuple(getattr(bd, 'shape', ()))})", RuntimeError) from None


def _logical(a, b, ufunc):
    bd = b.data if isinstance(b, Tensor) else b
    return Tensor._wrap(getattr(backend.get_array_module(a.data), ufunc)(a.data, bd))


# imported last: the engine and the ops refer to Tensor, and Tensor's methods to them
from .autograd.grad_mode import state  # noqa: E402
from . import ops as _ops  # noqa: E402

_ops.install_tensor_methods(Tensor)
