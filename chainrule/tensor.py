"""Tensor: an array, its gradient, and its link into the recorded graph.

Methods have torch's names and each calls one op from ``chainrule.ops``; no derivative
knowledge lives here.  ``__slots__`` keeps tensors small and attribute access fast.
"""

from __future__ import annotations

import weakref
from numbers import Number

from . import backend
from ._errors import describe as _describe
from ._errors import op_error
from ._errors import renamed as _renamed

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

    __slots__ = ("data", "_grad", "_requires_grad", "_node", "_version", "_hooks", "_name",
                 "__weakref__")
    __array_priority__ = 1000  # NumPy defers to our reflected operators
    __array_ufunc__ = None

    def __init__(self, data=None, *, requires_grad: bool = False):
        from .creation import _to_array

        self.data = _to_array(data if data is not None else [], None)
        if self.data.dtype.kind in "iub" and data is not None and not backend.is_array(data):
            self.data = self.data.astype(backend.get_default_dtype().np)  # torch.Tensor(list)
        self._grad = None
        self._node = None
        self._version = [0]
        self._hooks = None
        self._name = None
        self._requires_grad = False
        if requires_grad:
            self.requires_grad_(True)
        if state.recorder is not None:  # chainrule.compile: a tensor made outside the ops
            state.recorder.made(self)

    @classmethod
    def _wrap(cls, array, requires_grad: bool = False) -> "Tensor":
        """A tensor around ``array`` without copying or checking (internal fast path)."""
        t = cls.__new__(cls)
        t.data = array
        t._grad = None
        t._requires_grad = requires_grad
        t._node = None
        t._version = [0]
        t._hooks = None
        t._name = None
        if state.recorder is not None:  # chainrule.compile: a tensor made outside the ops
            state.recorder.made(t)
        return t

    # ------------------------------------------------------------ attributes

    @property
    def shape(self) -> Size:
        return Size(self.data.shape)

    def size(self, dim: int | None = None):
        if dim is None:
            return Size(self.data.shape)
        return self.data.shape[_ops._dim1("size", dim, self.data.ndim, self)]

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
        """All dimensions reversed (a 0-d or 1-d tensor is returned as is)."""
        n = self.data.ndim
        if n < 2:
            return self
        return _apply(_S.transpose, self, axes=tuple(range(n - 1, -1, -1)))

    @property
    def mT(self) -> "Tensor":
        """The last two dimensions swapped (a batch of matrices transposed)."""
        n = self.data.ndim
        if n < 2:
            raise op_error("mT", f"expects a tensor with at least 2 dimensions, got shape "
                           f"{tuple(self.data.shape)}", RuntimeError)
        return _apply(_S.transpose, self, axes=(*range(n - 2), n - 1, n - 2))

    # ------------------------------------------------------------ conversions

    def item(self):
        if self.data.size != 1:
            raise op_error("item", f"a Tensor with {self.data.size} elements cannot be converted "
                           "to a Python scalar", RuntimeError)
        return self.data.item()

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
        self._requires_grad = False
        return self

    def clone(self) -> "Tensor":
        """A copy with its own memory; the gradient passes straight through."""
        return _ops.clone(self)

    @property
    def requires_grad(self) -> bool:
        """Whether operations on this tensor are recorded for backward.  Setting it is
        ``requires_grad_(value)``: only floating tensors can require grad, and only a leaf
        can stop requiring it (as in torch)."""
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        self.requires_grad_(value)

    @property
    def grad(self):
        """The gradient accumulated by backward (None until then).  An assigned gradient
        must be a Tensor of this tensor's shape, dtype and device, or None (as in torch)."""
        return self._grad

    @grad.setter
    def grad(self, value) -> None:
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of "
                                f"type {type(value).__name__}")
            if value.data.shape != self.data.shape:
                raise RuntimeError(f"assigned grad has data of a different size: grad "
                                   f"{tuple(value.data.shape)}, tensor {tuple(self.data.shape)}")
            if value.data.dtype != self.data.dtype:
                raise RuntimeError(f"assigned grad has data of a different type: grad "
                                   f"{value.dtype}, tensor {self.dtype}")
            if type(value.data) is not type(self.data):
                raise RuntimeError(f"assigned grad has data located on a different device: grad "
                                   f"{value.device}, tensor {self.device}")
        self._grad = value

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        if requires_grad and self.data.dtype.kind != "f":
            raise op_error("requires_grad_", f"only Tensors of floating point dtype can require "
                           f"gradients, got a {self.dtype} tensor of shape "
                           f"{tuple(self.data.shape)}", RuntimeError)
        if not requires_grad and self._node is not None:
            raise op_error("requires_grad_", "you can only change requires_grad flags of leaf "
                           "variables; to use a computed tensor without its graph, use "
                           "tensor.detach()", RuntimeError)
        self._requires_grad = bool(requires_grad)
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
        try:
            dev = None if device is None else backend.device(device)
            np_dtype = None if dtype is None else backend.as_dtype(dtype).np
        except (ValueError, TypeError) as exc:  # an unknown device or dtype
            raise op_error("to", str(exc), RuntimeError if isinstance(exc, ValueError) else
                           TypeError, operands=(self,)) from None
        if dev is not None and dev != self.device:
            out = _ops.to_device(out, dev)
        if np_dtype is not None:
            out = _ops.cast(out, np_dtype)
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
        from ._tensor_str import tensor_repr

        return tensor_repr(self)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element 0-d tensor's value, as in torch."""
        if self.data.ndim == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

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

    # add and mul go straight to the promoting dispatcher (they are symmetric in torch's
    # promotion); the rest go through the public functions, which check their operands
    def __add__(self, other):
        return _binary(_E.add, self, other)

    __radd__ = __add__

    def __sub__(self, other):
        return _ops.sub(self, other)

    def __rsub__(self, other):
        return _ops.sub(other, self)

    def __mul__(self, other):
        return _binary(_E.multiply, self, other)

    __rmul__ = __mul__

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
        if self.data.dtype.kind == "f":
            raise op_error("bitwise_not", f"~ is only supported for integer and bool tensors, "
                           f"got {self.dtype}", TypeError, operands=(self,))
        return Tensor._wrap(backend.get_array_module(self.data).invert(self.data))

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
        """``x[key] = value`` in place (basic, integer-array and mask indices).

        Allowed on tensors that take no part in a recorded graph (or under ``no_grad``), so
        it can never corrupt a gradient silently; bad input fails before anything is written.
        """
        if state.enabled and (self.requires_grad or (isinstance(value, Tensor)
                                                     and value.requires_grad)):
            raise op_error("setitem", "in-place assignment into a tensor that requires grad "
                           "(or from one) is not supported; use out-of-place ops (where, "
                           "masked_fill, cat) or wrap it in chainrule.no_grad()", RuntimeError)
        index = _ops._index_key("setitem", self, key)
        v = value.data if isinstance(value, Tensor) else value
        if isinstance(value, Tensor) and type(v) is not type(self.data):
            v = backend.to_device(v, self.device)  # a CPU value into a CUDA tensor, or back
        try:
            self.data[index] = v  # NumPy checks the index and the value before writing
        except IndexError as exc:
            raise op_error("setitem", f"{exc} (tensor of shape {tuple(self.data.shape)})",
                           IndexError) from None
        except (ValueError, TypeError) as exc:
            raise op_error("setitem", f"{exc} (tensor of shape {tuple(self.data.shape)} "
                           f"{self.dtype}, value {_describe(value)})",
                           RuntimeError) from None
        self._version[0] += 1

    # ------------------------------------------------------------ in-place ops
    #
    # Two paths.  When nothing is recorded (grad mode off, or no operand requires grad), the
    # direct path writes the result straight into this tensor's array with ``out=`` (no
    # temporary): optimizers and init code live here.  Otherwise ``_inplace`` computes the
    # op out of place and then writes it back.  Either way the array object stays the same
    # and the version counter moves on, so a graph that saved the old value notices.

    def _recording(self, operands) -> bool:
        if not state.enabled:
            return False
        if self.requires_grad:
            return True
        for o in operands:
            if isinstance(o, Tensor) and o.requires_grad:
                return True
        return False

    def _direct(self, ufunc: str, other, alpha=1) -> bool:
        """Try ``self.data = self.data <ufunc> other * alpha`` in place without recording.

        Returns False, having changed nothing, whenever the general path must decide
        (recording, mixed dtypes, bad shapes): that path also writes the error messages.
        In anomaly mode the general path runs too: it checks for NaN/Inf before writing.
        """
        if state.anomaly:
            return False
        data = self.data
        if isinstance(other, Tensor):
            if other.data.dtype != data.dtype or (state.enabled and (
                    self.requires_grad or other.requires_grad)):
                return False
            operand = other.data
        else:
            kind = data.dtype.kind
            t = type(other)
            # a float needs a float tensor, an int a numeric one (bool needs promotion)
            if not (t is float and kind == "f" or t is int and kind in "iuf"):
                return False
            if state.enabled and self.requires_grad:
                return False
            operand = other
        if alpha != 1:
            if type(alpha) is not int and data.dtype.kind != "f":
                return False
            operand = operand * alpha
        try:
            getattr(backend.get_array_module(data), ufunc)(data, operand, out=data)
        except (ValueError, TypeError, OverflowError):  # raised before anything is written
            return False
        self._version[0] += 1
        return True

    def _inplace(self, op_name, fn, *operands):
        """Give this tensor the value ``fn(self, *operands)`` in place (the general path).

        torch's rules: an in-place op on a leaf that requires grad is an error while grad
        mode is on, and the result must keep this tensor's shape and dtype category.  When
        the op is recorded, ``fn`` runs on a snapshot (a copy) of the old value, which keeps
        the earlier graph and whatever the new node saves, and this tensor takes the new
        node; nodes that saved the old array detect the overwrite through the version
        counter, and a tensor this one is a view of becomes stale (using it is an error).
        """
        old = self
        recording = self._recording(operands)
        if recording:
            node = self._node
            if node is None and self.requires_grad:
                raise op_error(op_name, "a leaf Variable that requires grad is being used in "
                               "an in-place operation; wrap it in chainrule.no_grad() (as "
                               "optimizers and init code do)", RuntimeError, operands=(self,))
            if self.data.base is not None:
                if node is None:  # the tensor this one views would not see the new node
                    raise op_error(op_name, "an in-place operation with an operand that "
                                   "requires grad, on a view of another tensor, cannot be "
                                   "recorded; clone() the view first or use an out-of-place "
                                   "op", RuntimeError)
                for e in node.edges:
                    if isinstance(e, Tensor) and e._version is self._version:
                        raise op_error(op_name, "a view of a leaf Variable that requires grad "
                                       "is being used in an in-place operation", RuntimeError)
            old = Tensor._wrap(self.data.copy(), self.requires_grad)
            old._node = node
            old._version = [self._version[0]]  # matches node.vout unless self went stale
            operands = tuple(old if o is self else o for o in operands)  # x.mul_(x)
        try:
            result = fn(old, *operands)
        except (RuntimeError, TypeError, IndexError, ValueError) as exc:
            raise _renamed(exc, op_name) from None  # add_'s error says add_, not add
        rk, sk = result.data.dtype.kind, self.data.dtype.kind
        if rk != sk and _CATEGORY[rk] > _CATEGORY[sk]:
            raise op_error(op_name, f"result type {result.dtype} can't be cast to the desired "
                           f"output type {self.dtype}", RuntimeError, operands=(self, *operands))
        if result.data.shape != self.data.shape:
            raise op_error(op_name, f"output with shape {list(self.data.shape)} doesn't match "
                           f"the broadcast shape {list(result.data.shape)}", RuntimeError,
                           operands=(self, *operands))
        if not getattr(self.data.flags, "writeable", True):  # (CuPy arrays have no flag)
            raise op_error(op_name, "the tensor's memory is read-only (an expanded view?); "
                           "clone() it first", RuntimeError, operands=(self,))
        if result.data.dtype != self.data.dtype:
            result = _ops.cast(result, self.data.dtype)
        self.data[...] = result.data
        self._version[0] += 1
        if recording:
            node = result._node
            self._node, self._requires_grad = node, result._requires_grad
            if node is not None:
                node.vout = self._version[0]
                if node.out is not None:
                    # the saved output is now this tensor's array, stamped with its version
                    node.out = self.data
                    node.versions = tuple(
                        (i, self._version, self._version[0]) if box is result._version
                        else (i, box, v) for i, box, v in node.versions)
        return self

    def add_(self, other, *, alpha=1):
        if self._direct("add", other, alpha):
            return self
        return self._inplace("add_", lambda s, o: _ops.add(s, o, alpha=alpha), other)

    def sub_(self, other, *, alpha=1):
        if self._direct("subtract", other, alpha):
            return self
        return self._inplace("sub_", lambda s, o: _ops.sub(s, o, alpha=alpha), other)

    def mul_(self, other):
        if self._direct("multiply", other):
            return self
        return self._inplace("mul_", _ops.mul, other)

    def div_(self, other):
        if self.data.dtype.kind == "f" and self._direct("divide", other):
            return self
        return self._inplace("div_", _ops.div, other)

    def pow_(self, other):
        return self._inplace("pow_", _ops.pow, other)

    def clamp_(self, min=None, max=None):
        bounds_fit = self.data.dtype.kind == "f" or not (type(min) is float or
                                                         type(max) is float)
        if bounds_fit and _is_number(min) and _is_number(max) and not (
                state.enabled and self.requires_grad) and not state.anomaly:
            try:
                backend.get_array_module(self.data).clip(self.data, min, max, out=self.data)
            except (ValueError, TypeError, OverflowError):
                pass  # nothing was written; the general path explains
            else:
                self._version[0] += 1
                return self
        return self._inplace("clamp_", lambda s, lo, hi: _ops.clamp(s, lo, hi), min, max)

    clip_ = clamp_

    def neg_(self):
        return self._inplace("neg_", _ops.neg)

    def exp_(self):
        return self._inplace("exp_", _ops.exp)

    def sqrt_(self):
        return self._inplace("sqrt_", _ops.sqrt)

    def relu_(self):
        return self._inplace("relu_", _ops.relu)

    def masked_fill_(self, mask, value):
        return self._inplace("masked_fill_", _ops.masked_fill, mask, value)

    def addcmul_(self, tensor1, tensor2, *, value=1):
        return self._inplace("addcmul_", lambda s, a, b: s + value * a * b, tensor1, tensor2)

    def addcdiv_(self, tensor1, tensor2, *, value=1):
        return self._inplace("addcdiv_", lambda s, a, b: s + value * a / b, tensor1, tensor2)

    def lerp_(self, end, weight):
        return self._inplace("lerp_", lambda s, e, w: s + w * (e - s), end, weight)

    def zero_(self):
        return self.fill_(0, _op="zero_")

    def fill_(self, value, *, _op="fill_"):
        """Every element set to ``value`` (a number or a 0-d tensor); a recorded fill passes
        no gradient to the old value, as in torch."""
        if isinstance(value, Tensor):
            if value.data.ndim:
                raise op_error(_op, f"only supports a 0-dimensional value tensor, got shape "
                               f"{tuple(value.data.shape)}", RuntimeError)
        elif not (state.enabled and self.requires_grad or state.anomaly):
            try:
                self.data.fill(value)
            except (ValueError, TypeError, OverflowError):
                pass  # nothing was written; the general path explains
            else:
                self._version[0] += 1
                return self
        return self._inplace(_op, lambda s, v: _replaced_by(_op, s, v), value)

    def copy_(self, src, non_blocking=False):
        """The values of ``src`` (broadcast to this shape, cast to this dtype) copied in."""
        if isinstance(src, Tensor) and not state.anomaly and not self._recording((src,)) and (
                backend.get_array_module(src.data) is backend.get_array_module(self.data)):
            try:
                backend.get_array_module(self.data).copyto(self.data, src.data,
                                                           casting="unsafe")
            except (ValueError, TypeError):
                pass  # nothing was written; the general path explains
            else:
                self._version[0] += 1
                return self
        return self._inplace("copy_", lambda s, v: _replaced_by("copy_", s, v), src)

    def _random_(self, op_name, draw):
        if self.data.dtype.kind != "f":
            raise op_error(op_name, f"expects a floating point tensor, got {self.dtype}",
                           TypeError, operands=(self,))
        def fill(s):
            new = Tensor._wrap(draw(s.data.shape, s.data.dtype))
            # recorded (a non-leaf): kept in the graph, the old value's gradient is 0 (torch)
            return _replaced_by(op_name, s, new) if s.requires_grad and state.enabled else new

        return self._inplace(op_name, fill)

    def uniform_(self, a=0.0, b=1.0, *, generator=None):
        from . import random

        return self._random_("uniform_", lambda shape, dt: random.uniform_array(
            shape, a, b, dt, self.device, generator))

    def normal_(self, mean=0.0, std=1.0, *, generator=None):
        from . import random

        return self._random_("normal_", lambda shape, dt: random.normal_array(
            shape, mean, std, dt, self.device, generator))

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


_CATEGORY = {"b": 0, "i": 1, "u": 1, "f": 2}  # torch's promotion order: bool < int < float


def _is_number(x) -> bool:
    return x is None or type(x) is float or type(x) is int


def _replaced_by(op_name, old, value):
    """``value`` broadcast to ``old``'s shape and dtype, recorded as ``where(True, value,
    old)`` so that the old value gets a zero gradient (torch's fill_/copy_ backward)."""
    xp = backend.get_array_module(old.data)
    try:
        if isinstance(value, Tensor):
            if backend.get_array_module(value.data) is not xp:
                value = value.to(old.device)
            value = _ops.cast(value, old.data.dtype)
        else:
            value = Tensor._wrap(xp.asarray(value, dtype=old.data.dtype))
        _np.broadcast_shapes(value.data.shape, old.data.shape)
    except (ValueError, TypeError, OverflowError) as exc:
        raise op_error(op_name, f"{exc} (tensor {_describe(old)}, value "
                       f"{_describe(value)})", RuntimeError) from None
    return _apply(_E.where, Tensor._wrap(xp.ones((), dtype=bool)), value, old)


def _as_tensor(x, like):
    if isinstance(x, Tensor):
        return x
    from .creation import tensor

    return tensor(x, device=like.device)


def _compare(a, b, ufunc):
    """Comparisons and bitwise logic: computed on arrays, never recorded (bool results,
    or integer ones for bitwise ops on integers, in torch's promoted dtype)."""
    xp = backend.get_array_module(a.data)
    if isinstance(b, Tensor):
        if b.data.dtype != a.data.dtype:
            a, b = _operands(ufunc, a, b)
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
        raise op_error(ufunc, str(exc).strip(), RuntimeError, operands=(a, b)) from None


def _logical(a, b, ufunc):
    bd = b.data if isinstance(b, Tensor) else b
    try:
        return Tensor._wrap(getattr(backend.get_array_module(a.data), ufunc)(a.data, bd))
    except (ValueError, TypeError) as exc:
        raise op_error(ufunc, str(exc).strip(), RuntimeError, operands=(a, b)) from None


# imported last: the engine and the ops refer to Tensor, and Tensor's methods to them
# (in this order: grad_mode, through autograd, is what first imports the ops package)
from .autograd.grad_mode import state  # noqa: E402, I001
from . import ops as _ops  # noqa: E402
from .ops import elementwise as _E, shape as _S  # noqa: E402
from .ops.operands import binary as _binary, operands as _operands  # noqa: E402
from .ops.registry import apply as _apply  # noqa: E402

_ops.install_tensor_methods(Tensor)
