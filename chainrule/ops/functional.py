"""The public op functions (``chainrule.exp``, ``chainrule.sum``, ...), torch's names and
arguments.  Each translates torch's vocabulary (``dim``, ``keepdim``) into the primitives'
NumPy vocabulary (``axis``, ``keepdims``) and calls one primitive or composes a few;
none of them knows a derivative."""

from __future__ import annotations

import builtins
from numbers import Number

from .. import backend
from .._errors import describe, op_error
from ..autograd.grad_mode import state
from . import activation, linalg
from . import elementwise as E
from . import index as I
from . import reduce as R
from . import shape as S
from .operands import as_tensor_like, binary, cast, operands
from .registry import apply

_np = backend.np


# ------------------------------------------------------------------ helpers


def _dims(op, dim, ndim, empty_all=False, of=None):
    """torch ``dim`` (None, int or sequence, negatives allowed) -> sorted tuple of axes.
    With ``empty_all`` (reductions) an empty sequence means every dim, as in torch.
    ``of``: the tensor, described in the error."""
    if dim is None:
        return None
    items = (dim,) if isinstance(dim, (int, _np.integer)) else tuple(dim)
    if empty_all and not items:
        return None
    if ndim == 0 and builtins.all(d in (0, -1) for d in items):
        return ()
    out = []
    for d in items:
        if not -ndim <= d < ndim:
            raise _dim_error(op, d, ndim, of)
        out.append(d % ndim)
    if len(set(out)) != len(out):
        raise op_error(op, f"dim {dim} appears multiple times in the list of dims",
                       operands=() if of is None else (of,))
    return tuple(sorted(out))


def _dim1(op, dim, ndim, of=None):
    """A single torch dim -> non-negative axis (a 0-d tensor accepts 0 and -1)."""
    n = builtins.max(ndim, 1)
    if not -n <= dim < n:
        raise _dim_error(op, dim, n, of)
    return dim % n


def _dim_error(op, dim, n, of):
    return op_error(op, f"dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                    f"but got {dim})", IndexError, operands=() if of is None else (of,))


def _tensor(op, x):
    if not isinstance(x, Tensor):
        raise op_error(op, f"expected a Tensor, got {type(x).__name__}", TypeError)
    return x


def _float_input(op, x):
    """Integer/bool tensors become the default float dtype for float-valued ops (as torch)."""
    if x.data.dtype.kind in "biu":
        return cast(x, backend.get_default_dtype().np)
    return x


def _floating(op, x, msg):
    """torch refuses integer and bool input for these ops (no silent conversion)."""
    if x.data.dtype.kind != "f":
        raise op_error(op, f"{msg}, got {backend.from_np(x.data.dtype)}", operands=(x,))
    return x


def _check_anomaly(op, out):
    """Anomaly mode's forward check for results that bypass ``apply`` (not recorded)."""
    if state.anomaly and out.data.dtype.kind == "f" and not bool(
            backend.get_array_module(out.data).isfinite(out.data).all()):
        raise op_error("anomaly", f"{op} produced NaN or Inf in its forward pass")
    return out


def _integer_zero_division(op, a, b):
    """torch raises for an integer division by zero (NumPy would give 0 and a warning)."""
    if b.data.dtype.kind in "iu" and a.data.dtype.kind in "iu" and not bool(b.data.all()):
        raise op_error(op, "ZeroDivisionError: integer division by zero", RuntimeError,
                       operands=(a, b))


def _nondiff(data):
    return Tensor._wrap(data)


# ------------------------------------------------------------------ arithmetic


def add(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if not isinstance(input, Tensor):
        return binary(E.add, other, input)
    return binary(E.add, input, other)


def sub(input, other, *, alpha=1):
    if alpha != 1:
        other = mul(other, alpha) if isinstance(other, Tensor) else other * alpha
    if isinstance(input, Tensor) and isinstance(other, Tensor) and (
            input.data.dtype == other.data.dtype):
        return apply(E.subtract, input, other)  # (bool - bool is refused by the primitive)
    for x in (input, other):
        if isinstance(x, bool) or (isinstance(x, Tensor) and x.data.dtype.kind == "b"):
            raise op_error("sub", "subtraction with a bool tensor or value is not supported "
                           "(as in torch); to invert a mask use ~ or logical_not()",
                           RuntimeError, operands=(input, other))
    return binary(E.subtract, input, other)  # promotes; a scalar may come first


def mul(input, other):
    if not isinstance(input, Tensor):
        return binary(E.multiply, other, input)
    return binary(E.multiply, input, other)


def div(input, other, *, rounding_mode=None):
    if rounding_mode == "floor":
        return floor_divide(input, other)
    if rounding_mode == "trunc":
        _integer_zero_division("div", *operands("div", input, other))
        q = div(input, other)
        xp = backend.get_array_module(q.data)
        return _check_anomaly("div", _nondiff(xp.trunc(q.data).astype(
            result_dtype_of(input, other))))
    if rounding_mode is not None:
        raise op_error("div", "rounding_mode must be None, 'trunc' or 'floor', got "
                       f"{rounding_mode!r}", operands=(input, other))
    if (isinstance(input, Tensor) and input.data.dtype.kind == "f") or (
            isinstance(other, Tensor) and other.data.dtype.kind == "f"):
        return binary(E.divide, input, other)  # a float tensor makes the result float
    a, b = operands("divide", input, other)
    if a.data.dtype.kind in "biu":  # true division of integers gives floats, as in torch
        a, b = _float_input("divide", a), _float_input("divide", b)
    return apply(E.divide, a, b)


def result_dtype_of(*xs):
    from .operands import result_dtype

    return result_dtype(xs)


def floor_divide(input, other):
    """Floor division; not differentiable (as torch), so the result never requires grad."""
    a, b = operands("floor_divide", input, other)
    _no_bool("floor_divide", a)
    _integer_zero_division("floor_divide", a, b)
    try:
        return _check_anomaly("floor_divide", _nondiff(
            backend.get_array_module(a.data).floor_divide(a.data, b.data)))
    except (ValueError, TypeError) as exc:
        raise op_error("floor_divide", f"{exc} (operands {describe(a)}, {describe(b)})",
                       RuntimeError) from None


def remainder(input, other):
    a, b = operands("remainder", input, other)
    _no_bool("remainder", a)
    _integer_zero_division("remainder", a, b)
    return apply(E.remainder, a, b)


def _no_bool(op, x):
    """torch implements some integer ops for integers only, not bool."""
    if x.data.dtype.kind == "b":
        raise op_error(op, "not implemented for bool tensors", operands=(x,))


def pow(input, exponent):
    """``input ** exponent``; a Python-number exponent uses ``power_scalar`` (no log)."""
    if isinstance(input, Tensor) and isinstance(exponent, (bool, _np.bool_)):
        if input.data.dtype.kind == "b":  # torch: bool ** True is the input, ** False is True
            xp = backend.get_array_module(input.data)
            return _nondiff(input.data.copy() if exponent else xp.ones_like(input.data))
        exponent = int(exponent)
    if isinstance(input, Tensor) and isinstance(exponent, Number):
        x = input
        if x.data.dtype.kind == "b" and isinstance(exponent, int):
            x = cast(x, _np.dtype(_np.int64))  # bool ** int is int64 in torch
        if x.data.dtype.kind in "biu" and isinstance(exponent, float):
            x = _float_input("pow", x)
        elif x.data.dtype.kind in "biu" and exponent < 0:
            raise op_error("pow", f"integers to negative integer powers are not allowed "
                           f"({x.dtype} tensor ** {exponent})", RuntimeError, operands=(x,))
        return apply(E.power_scalar, x, c=exponent)
    a, b = operands("power", input, exponent)
    _no_bool("pow", a)
    return apply(E.power, a, b)


def neg(input):
    return apply(E.negative, input)


def maximum(input, other):
    return binary(E.maximum, *operands("maximum", input, other))


def minimum(input, other):
    return binary(E.minimum, *operands("minimum", input, other))


def where(condition, input, other):
    """Elements of ``input`` where ``condition`` is True, else of ``other`` (broadcast)."""
    cond = _tensor("where", condition)
    if cond.data.dtype.kind != "b":
        raise op_error("where", "expected condition to be a bool tensor, got "
                       f"{backend.from_np(cond.data.dtype)}",
                       operands=(cond, input, other))
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        # two Python scalars: torch's default dtypes (float32 for floats, int64 for ints)
        from .operands import result_dtype

        dt = result_dtype((input, other))
        input, other = as_tensor_like(input, dt, cond), as_tensor_like(other, dt, cond)
    a, b = operands("where", input, other)
    _broadcast("where", cond, a, b)
    return apply(E.where, cond, a, b)


def _broadcast(op, *tensors):
    """The broadcast shape of ``tensors``, or an error naming ``op`` and their shapes."""
    try:
        return _np.broadcast_shapes(*(t.shape for t in tensors))
    except ValueError:
        shapes = " and ".join(str(tuple(t.shape)) for t in tensors)
        raise op_error(op, f"shapes {shapes} do not broadcast", operands=tensors) from None


def clamp(input, min=None, max=None):
    if min is None and max is None:
        raise op_error("clamp", "at least one of 'min' or 'max' must not be None",
                       operands=(input,))
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        # composed from where so that a value on a bound passes its gradient to ``input``
        # (torch's clamp), not half to each as maximum/minimum would
        bounds = [b for b in (min, max) if b is not None]
        x, *bounds = operands("clamp", input, *bounds)
        lo = bounds.pop(0) if min is not None else None
        hi = bounds.pop(0) if max is not None else None
        _broadcast("clamp", x, *(b for b in (lo, hi) if b is not None))
        out = x
        if lo is not None:
            out = apply(E.where, out < lo, lo, out)
        if hi is not None:
            out = apply(E.where, out > hi, hi, out)
        return out
    x = input
    if x.data.dtype.kind in "biu" and (isinstance(min, float) or isinstance(max, float)):
        x = _float_input("clamp", x)
    return apply(E.clip, x, min=min, max=max)


clip = clamp


def _unary(prim, float_only=True, bool_ok=True):
    def fn(input):
        x = _tensor(prim.name, input)
        if float_only:
            x = _float_input(prim.name, x)
        elif not bool_ok:
            _no_bool(prim.name, x)
        return apply(prim, x)

    fn.__name__ = prim.name
    fn.__doc__ = f"Elementwise ``{prim.name}`` (a primitive; its derivative is in ops/)."
    return fn


exp = _unary(E.exp)
log = _unary(E.log)
log1p = _unary(E.log1p)
expm1 = _unary(E.expm1)
sqrt = _unary(E.sqrt)
sin = _unary(E.sin)
cos = _unary(E.cos)
tanh = _unary(E.tanh)
sigmoid = _unary(E.sigmoid)
relu = _unary(E.relu, float_only=False, bool_ok=False)
abs = _unary(E.absolute, float_only=False, bool_ok=False)
floor = _unary(E.floor, float_only=False, bool_ok=False)
ceil = _unary(E.ceil, float_only=False, bool_ok=False)
_sign = _unary(E.sign, float_only=False)


def sign(input):
    """-1, 0 or 1 elementwise (a primitive, zero gradient); bool tensors are their own sign."""
    x = _tensor("sign", input)
    if x.data.dtype.kind == "b":
        return _nondiff(x.data.copy())
    return _sign(x)


def round(input, decimals=0):
    """Round half to even (to ``decimals`` places), as torch.round; zero gradient."""
    x = _tensor("round", input)
    _no_bool("round", x)
    return apply(E.round, x, decimals=decimals)


def rsqrt(input):
    """1 / sqrt(x), composed."""
    return pow(_float_input("rsqrt", input), -0.5)


def reciprocal(input):
    """1 / x, composed."""
    return pow(_float_input("reciprocal", input), -1)


def square(input):
    """x * x, composed (``power_scalar`` with exponent 2)."""
    return pow(input, 2)


def isnan(input):
    return _nondiff(backend.get_array_module(input.data).isnan(input.data))


def isinf(input):
    return _nondiff(backend.get_array_module(input.data).isinf(input.data))


def isfinite(input):
    return _nondiff(backend.get_array_module(input.data).isfinite(input.data))


# ------------------------------------------------------------------ comparisons and logic


def _comparison(name):
    def fn(input, other):
        return getattr(_tensor(name, input), name)(other)

    fn.__name__ = name
    fn.__doc__ = f"``input.{name}(other)``: elementwise, a bool tensor (never recorded)."
    return fn


eq, ne, lt, le, gt, ge = (_comparison(n) for n in ("eq", "ne", "lt", "le", "gt", "ge"))
logical_and, logical_or, logical_xor = (
    _comparison(n) for n in ("logical_and", "logical_or", "logical_xor"))
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def logical_not(input):
    """Elementwise not (a bool tensor, never recorded)."""
    return _tensor("logical_not", input).logical_not()


def detach(input):
    """``input`` cut off from the graph, sharing its data (``input.detach()``)."""
    return _tensor("detach", input).detach()


# ------------------------------------------------------------------ reductions


def sum(input, dim=None, keepdim=False, *, dtype=None):
    x = _tensor("sum", input)
    if dtype is not None:
        x = cast(x, backend.as_dtype(dtype).np)
    else:
        x = _int64_accumulator(x)
    return apply(R.sum, x, axis=_dims("sum", dim, x.ndim, True, x), keepdims=keepdim)


def _int64_accumulator(x):
    """torch sums, multiplies and accumulates bools and integers as int64."""
    if x.data.dtype.kind in "biu" and x.data.dtype != _np.int64:
        return cast(x, _np.dtype(_np.int64))
    return x


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """sum / count, composed."""
    x = _tensor("mean", input)
    if dtype is not None:
        x = cast(x, backend.as_dtype(dtype).np)
    if x.data.dtype.kind != "f":
        raise op_error("mean", f"could not infer output dtype: input dtype is "
                       f"{backend.from_np(x.data.dtype)}; use a floating dtype", operands=(x,))
    axes = _dims("mean", dim, x.ndim, True, x)
    count = _count(x.shape, axes)
    return sum(x, dim, keepdim) / count


def _count(shape, axes):
    n = 1
    for a in (range(len(shape)) if axes is None else axes):
        n *= shape[a]
    return n


def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product over ``dim`` (an int in torch; chainrule also takes a tuple); exact
    first-order gradient with zeros."""
    x = _tensor("prod", input)
    x = cast(x, backend.as_dtype(dtype).np) if dtype is not None else _int64_accumulator(x)
    axes = None if dim is None else _dims("prod", dim, x.ndim, False, x)
    return apply(R.prod, x, axis=axes, keepdims=keepdim)


def amax(input, dim=(), keepdim=False):
    """Maximum over ``dim`` (all dims by default); ties share the gradient equally."""
    return _amax_amin("amax", R.amax, input, dim, keepdim)


def amin(input, dim=(), keepdim=False):
    """Minimum over ``dim`` (all dims by default); ties share the gradient equally."""
    return _amax_amin("amin", R.amin, input, dim, keepdim)


def _amax_amin(op, prim, input, dim, keepdim):
    x = _tensor(op, input)
    axes = None if dim == () or dim is None else _dims(op, dim, x.ndim, False, x)
    _nonempty(op, x, axes)
    return apply(prim, x, axis=axes, keepdims=keepdim)


def _nonempty(op, x, axes):
    """Reducing over an axis of size zero has no answer (no identity); torch raises."""
    reduced = range(x.ndim) if axes is None else axes
    if x.data.size == 0 and (axes is None or builtins.any(x.shape[a] == 0 for a in reduced)):
        raise op_error(op, f"cannot reduce over a zero-size dimension of a tensor of shape "
                       f"{tuple(x.shape)} (the operation has no identity)",
                       RuntimeError if axes is None else IndexError,  # torch's classes
                       operands=(x,))


class return_types:
    """Named (values, indices) pairs, like ``torch.return_types.max``."""

    class minmax(tuple):
        __slots__ = ()

        def __new__(cls, values, indices):
            return tuple.__new__(cls, (values, indices))

        values = property(lambda self: self[0])
        indices = property(lambda self: self[1])

        def __repr__(self):
            return f"return_types(values={self[0]!r}, indices={self[1]!r})"


def _extreme(op, arg_fn, full_fn, input, dim, keepdim, other):
    x = _tensor(op, input)
    if isinstance(dim, Tensor):  # torch.max(a, b) is maximum
        other, dim = dim, None
    if other is not None:
        return (maximum if op == "max" else minimum)(x, other)
    if dim is None:
        return _amax_amin(op, full_fn, x, None, False)
    d = _dim1(op, dim, x.ndim, x)
    _nonempty(op, x, (d,))
    idx = arg_fn(x, d, keepdim=True)
    values = take_along_dim(x, idx, d) if x.ndim else x
    if not keepdim and x.ndim:
        values, idx = values.squeeze(d), idx.squeeze(d)
    return return_types.minmax(values, idx)


def max(input, dim=None, keepdim=False, *, other=None):
    """Full maximum (ties share the gradient), or (values, indices) along ``dim`` (the
    gradient goes to the first maximal element, as in torch)."""
    return _extreme("max", argmax, R.amax, input, dim, keepdim, other)


def min(input, dim=None, keepdim=False, *, other=None):
    return _extreme("min", argmin, R.amin, input, dim, keepdim, other)


def argmax(input, dim=None, keepdim=False):
    return _arg("argmax", input, dim, keepdim)


def argmin(input, dim=None, keepdim=False):
    return _arg("argmin", input, dim, keepdim)


def _arg(op, input, dim, keepdim):
    x = _tensor(op, input)
    xp = backend.get_array_module(x.data)
    fn = getattr(xp, op)
    if dim is None:
        out = fn(x.data.reshape(-1))
        if keepdim:
            out = xp.asarray(out).reshape((1,) * x.ndim)
        return _nondiff(xp.asarray(out, dtype=_np.int64))
    d = _dim1(op, dim, x.ndim, x)
    if x.ndim == 0:
        return _nondiff(xp.asarray(0, dtype=_np.int64))
    out = fn(x.data, axis=d, keepdims=keepdim)
    return _nondiff(out.astype(_np.int64, copy=False))


def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance, composed: sum((x - mean)^2) / (N - correction); correction=1 by default
    (unbiased), as in torch."""
    x = _floating("var", _tensor("var", input), "std and var only support floating point dtypes")
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    axes = _dims("var", dim, x.ndim, True, x)
    n = _count(x.shape, axes)
    centered = x - mean(x, dim, keepdim=True)
    return sum(centered * centered, dim, keepdim) / builtins.max(n - correction, 0)


def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """sqrt(var), composed; the gradient is 0 where std == 0 (constant input), as in torch,
    instead of sqrt's infinite slope at 0."""
    return _safe_root(var(input, dim, unbiased, keepdim, correction=correction), 0.5)


def _safe_root(s, power):
    """``s ** power`` (0 < power < 1) whose gradient is 0, not inf or NaN, where s == 0."""
    zero = s == 0
    if not bool(zero.data.any()):
        return sqrt(s) if power == 0.5 else s**power
    root = sqrt(where(zero, 1.0, s)) if power == 0.5 else where(zero, 1.0, s) ** power
    return where(zero, 0.0, root)


def logsumexp(input, dim, keepdim=False):
    """log(sum(exp(x))), composed stably: the (constant) maximum is taken out first."""
    x = _float_input("logsumexp", _tensor("logsumexp", input))
    axes = _dims("logsumexp", dim, x.ndim, True, x)
    reduced = range(x.ndim) if axes is None else axes
    if builtins.any(x.shape[a] == 0 for a in reduced):  # log of an empty sum: -inf
        out = log(sum(exp(x), axes, keepdim=True))
        return out if keepdim else _squeeze_dims(out, axes, x.ndim)
    m = amax(x, axes, keepdim=True).detach()
    m = where(isfinite(m), m, 0.0)  # all -inf along an axis: keep log(0) = -inf, no NaN
    out = log(sum(exp(x - m), axes, keepdim=True)) + m
    return out if keepdim else _squeeze_dims(out, axes, x.ndim)


def _squeeze_dims(t, axes, ndim):
    axes = range(ndim) if axes is None else axes
    shape = tuple(s for i, s in enumerate(t.shape) if i not in set(axes))
    return t.reshape(shape)


def norm(input, p="fro", dim=None, keepdim=False):
    """Vector p-norm over ``dim`` (all elements by default); p = 2 / 'fro' is a primitive
    (zero gradient at zero), other p are composed."""
    x = _floating("norm", _tensor("norm", input), "expected a floating point tensor as input")
    axes = _dims("norm", dim, x.ndim, True, x)
    if p in ("fro", 2, 2.0):
        return apply(R.norm2, x, axis=axes, keepdims=keepdim)
    if p == float("inf"):
        return amax(abs(x), axes if axes is not None else (), keepdim)
    if p == float("-inf"):
        return amin(abs(x), axes if axes is not None else (), keepdim)
    if p == 1:
        return sum(abs(x), dim, keepdim)
    if p == 0:  # the number of non-zero elements; zero gradient, as torch
        return sum(sign(abs(x)), dim, keepdim)
    if not isinstance(p, Number) or isinstance(p, bool):
        raise op_error("norm", f"p must be a number, 'fro' or inf, got {p!r}", operands=(x,))
    if p < 0:
        # (sum |x|^p)^(1/p) is 0 where an element is 0, with gradient 0 there (torch);
        # the zeros are masked out of the power so that no inf * 0 reaches the gradient
        a = abs(x)
        zero = a == 0
        has_zero = any(zero, dim, keepdim)
        s = sum(where(zero, 0.0, where(zero, 1.0, a) ** p), dim, keepdim)
        return where(has_zero, 0.0, where(has_zero, 1.0, s) ** (1.0 / p))
    return _safe_root(sum(abs(x) ** p, dim, keepdim), 1.0 / p)  # gradient 0 at 0, as torch


def all(input, dim=None, keepdim=False):
    x = _tensor("all", input)
    axes = _dims("all", dim, x.ndim, False, x)  # torch: all/any over dim=() reduce nothing
    return _nondiff(backend.get_array_module(x.data).all(x.data, axis=axes, keepdims=keepdim))


def any(input, dim=None, keepdim=False):
    x = _tensor("any", input)
    axes = _dims("any", dim, x.ndim, False, x)
    return _nondiff(backend.get_array_module(x.data).any(x.data, axis=axes, keepdims=keepdim))


def cumsum(input, dim, *, dtype=None):
    x = _tensor("cumsum", input)
    x = cast(x, backend.as_dtype(dtype).np) if dtype is not None else _int64_accumulator(x)
    if x.ndim == 0:
        return x.clone()
    return apply(R.cumsum, x, axis=_dim1("cumsum", dim, x.ndim, x))


# ------------------------------------------------------------------ shape


def _shape_arg(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    if len(shape) == 1 and isinstance(shape[0], Size):
        return tuple(shape[0])
    return tuple(int(s) for s in shape)


def reshape(input, *shape):
    shape = _shape_arg(shape)
    x = _tensor("reshape", input)
    if shape == x.data.shape:
        return x
    size = x.data.size
    known = 1
    unknown = [i for i, s in enumerate(shape) if s == -1]
    for s in shape:
        if s != -1:
            known *= s
    if len(unknown) > 1 or (unknown and (known == 0 or size % known)) or (
            not unknown and known != size) or builtins.any(s < -1 for s in shape):
        raise op_error("reshape", f"shape {list(shape)} is invalid for input of size {size}",
                       RuntimeError, operands=(x,))
    if unknown:
        shape = tuple(size // known if s == -1 else s for s in shape)
    return apply(S.reshape, x, shape=shape)


def flatten(input, start_dim=0, end_dim=-1):
    x = _tensor("flatten", input)
    if x.ndim == 0:
        return reshape(x, 1)
    s = _dim1("flatten", start_dim, x.ndim, x)
    e = _dim1("flatten", end_dim, x.ndim, x)
    if s > e:
        raise op_error("flatten", f"start_dim ({start_dim}) cannot come after end_dim "
                       f"({end_dim})", operands=(x,))
    n = 1
    for d in x.shape[s:e + 1]:
        n *= d
    return reshape(x, x.shape[:s] + (n,) + x.shape[e + 1:])


def unflatten(input, dim, sizes):
    x = _tensor("unflatten", input)
    d = _dim1("unflatten", dim, x.ndim, x)
    sizes = tuple(sizes)
    if -1 in sizes:
        known = 1
        for s in sizes:
            if s != -1:
                known *= s
        sizes = tuple(x.shape[d] // known if s == -1 else s for s in sizes)
    n = 1
    for s in sizes:
        n *= s
    if n != x.shape[d]:
        raise op_error("unflatten", f"sizes {list(sizes)} do not multiply to the size "
                       f"{x.shape[d]} of dim {dim}", RuntimeError, operands=(x,))
    return reshape(x, x.shape[:d] + sizes + x.shape[d + 1:])


def squeeze(input, dim=None):
    x = _tensor("squeeze", input)
    if dim is None:
        shape = tuple(s for s in x.shape if s != 1)
    else:
        axes = _dims("squeeze", dim, x.ndim, False, x) or ()
        shape = tuple(s for i, s in enumerate(x.shape) if not (i in axes and s == 1))
    return reshape(x, shape)


def unsqueeze(input, dim):
    x = _tensor("unsqueeze", input)
    if not -(x.ndim + 1) <= dim <= x.ndim:
        raise _dim_error("unsqueeze", dim, x.ndim + 1, x)
    d = dim % (x.ndim + 1)
    shape = list(x.shape)
    shape.insert(d, 1)
    return reshape(x, tuple(shape))


def permute(input, *dims):
    x = _tensor("permute", input)
    dims = _shape_arg(dims)
    axes = tuple(_dim1("permute", d, x.ndim, x) for d in dims)
    if sorted(axes) != list(range(x.ndim)):
        raise op_error("permute", f"dims {list(dims)} are not a permutation of the "
                       f"{x.ndim} dimensions", RuntimeError, operands=(x,))
    if axes == tuple(range(x.ndim)):
        return x
    return apply(S.transpose, x, axes=axes)


def transpose(input, dim0, dim1):
    x = _tensor("transpose", input)
    if x.ndim < 2 and dim0 in (0, -1) and dim1 in (0, -1):
        return x
    a, b = _dim1("transpose", dim0, x.ndim, x), _dim1("transpose", dim1, x.ndim, x)
    axes = list(range(x.ndim))
    axes[a], axes[b] = axes[b], axes[a]
    return permute(x, axes)


swapaxes = transpose


def t(input):
    if _tensor("t", input).ndim > 2:
        raise op_error("t", f"expects a tensor with <= 2 dimensions, but self is {input.ndim}D",
                       RuntimeError, operands=(input,))
    return transpose(input, 0, 1) if input.ndim == 2 else input


def expand(input, *sizes):
    x = _tensor("expand", input)
    sizes = _shape_arg(sizes)
    if len(sizes) < x.ndim:
        raise op_error("expand", f"the number of sizes provided ({len(sizes)}) must be greater "
                       f"or equal to the number of dimensions in the tensor ({x.ndim})",
                       operands=(x,))
    lead = len(sizes) - x.ndim
    shape = []
    for i, s in enumerate(sizes):
        old = x.shape[i - lead] if i >= lead else 1
        if s == -1:
            if i < lead:
                raise op_error("expand", "-1 is not allowed in a leading, non-existing dimension",
                               RuntimeError, operands=(x,))
            s = old
        if old != 1 and s != old:
            raise op_error("expand", f"the expanded size of the tensor ({s}) must match the "
                           f"existing size ({old}) at non-singleton dimension {i}; target "
                           f"sizes {list(sizes)}, tensor shape {list(x.shape)}", RuntimeError,
                           operands=(x,))
        shape.append(s)
    shape = tuple(shape)
    if shape == x.data.shape:
        return x
    return apply(S.broadcast_to, x, shape=shape)


def broadcast_to(input, shape):
    return expand(input, tuple(shape))


def repeat(input, *sizes):
    sizes = _shape_arg(sizes)
    if len(sizes) < _tensor("repeat", input).ndim:
        raise op_error("repeat", f"number of repeat dims ({len(sizes)}) can not be smaller "
                       f"than number of dimensions of tensor ({input.ndim})", RuntimeError,
                       operands=(input,))
    return apply(S.tile, input, reps=sizes)


def flip(input, dims):
    _tensor("flip", input)
    axes = _dims("flip", dims, input.ndim, False, input)
    return apply(S.flip, input, axis=axes)


def cat(tensors, dim=0):
    """Join tensors along an existing ``dim`` (dtypes promote); 1-D empty tensors are
    skipped, as in torch.  Always a new tensor, even for one input."""
    tensors = [_tensor("cat", t) for t in tensors]
    if not tensors:
        raise op_error("cat", "expected a non-empty list of Tensors", ValueError)
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise op_error("cat", f"zero-dimensional tensor (at position {i}) cannot be "
                           "concatenated", operands=(t,))
    if len({t.data.dtype for t in tensors}) > 1:
        tensors = operands("cat", *tensors)
    ts = [t for t in tensors if not (t.ndim == 1 and t.shape[0] == 0)] or tensors[:1]
    first = ts[0]
    d = _dim1("cat", dim, first.ndim, first)
    for i, t in enumerate(ts):
        if t.ndim != first.ndim or builtins.any(
                a != b for j, (a, b) in enumerate(zip(t.shape, first.shape)) if j != d):
            raise op_error("cat", f"sizes of tensors must match except in dimension {d}: "
                           f"tensor 0 has shape {tuple(first.shape)}, tensor {i} has shape "
                           f"{tuple(t.shape)}", RuntimeError, operands=(first, t))
    if len(ts) == 1:
        return apply(E.clone, ts[0])
    return apply(S.concatenate, *ts, axis=d)


concat = cat


def stack(tensors, dim=0):
    tensors = [_tensor("stack", t) for t in tensors]
    if not tensors:
        raise op_error("stack", "expected a non-empty list of Tensors", ValueError)
    shape = tensors[0].shape
    for i, t in enumerate(tensors):
        if t.shape != shape:
            raise op_error("stack", f"stack expects each tensor to be equal size, but got "
                           f"{list(shape)} at entry 0 and {list(t.shape)} at entry {i}",
                           operands=(tensors[0], t))
    d = _dim1("stack", dim, len(shape) + 1, tensors[0])
    return cat([unsqueeze(t, d) for t in tensors], d)


def split(tensor, split_size_or_sections, dim=0):
    x = _tensor("split", tensor)
    d = _dim1("split", dim, x.ndim, x)
    n = x.shape[d]
    if isinstance(split_size_or_sections, int):
        size = split_size_or_sections
        if size <= 0:
            raise op_error("split", f"split_size must be positive, got {size}", operands=(x,))
        sizes = [size] * (n // size) + ([n % size] if n % size else [])
        if not sizes:
            sizes = [0]
    else:
        sizes = list(split_size_or_sections)
        if builtins.sum(sizes) != n:
            raise op_error("split", f"split sizes {sizes} do not sum to the size {n} of dim {dim}",
                           RuntimeError, operands=(x,))
    out, start = [], 0
    lead = (slice(None),) * d
    for s in sizes:
        out.append(x[lead + (slice(start, start + s),)])
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    if chunks <= 0:
        raise op_error("chunk", f"chunks must be positive, got {chunks}",
                       operands=(_tensor("chunk", input),))
    d = _dim1("chunk", dim, input.ndim, input)
    n = input.shape[d]
    if n == 0:  # torch: ``chunks`` empty pieces
        return tuple(input[(slice(None),) * d + (slice(0, 0),)] for _ in range(chunks))
    return split(input, -(-n // chunks), dim)


# ------------------------------------------------------------------ indexing


def _index_key(op, x, key):
    """Translate a torch index (ints, slices, None, ..., int/bool Tensors or lists) into a
    NumPy index of arrays; boolean masks become integer arrays (nonzero)."""
    xp = backend.get_array_module(x.data)
    items = key if isinstance(key, tuple) else (key,)
    if builtins.sum(1 for it in items if it is Ellipsis) > 1:
        # torch: the first ``...`` covers the remaining dims, later ones cover none
        first = next(i for i, it in enumerate(items) if it is Ellipsis)
        items = items[:first + 1] + tuple(it for it in items[first + 1:] if it is not Ellipsis)
        key = items
    out = []
    for i, item in enumerate(items):
        if isinstance(item, Tensor):
            item = item.data
        elif isinstance(item, (list, tuple)) or (isinstance(item, bool)):
            item = xp.asarray(item)
            if item.size == 0 and item.dtype.kind == "f":
                item = item.astype(_np.int64)  # x[[]]: an empty list is an empty long index
        if xp is not _np and type(item) is _np.ndarray:
            item = xp.asarray(item)  # CPU indices for a CUDA tensor: accepted, as in torch
        if backend.is_array(item):
            if item.dtype.kind == "b" and item.ndim == 0:
                out.append(item)  # x[True] adds a dim (x[False] an empty one), as NumPy
                continue
            if item.dtype.kind == "b":
                _check_mask(op, x, items, i, item)
                out.extend(xp.nonzero(item))
                continue
            if item.dtype.kind not in "iu":
                raise op_error(op, f"tensors used as indices must be long, int or bool, got "
                               f"{item.dtype}", IndexError, operands=(x,))
        out.append(item)
    return out[0] if len(out) == 1 and not isinstance(key, tuple) else tuple(out)


def _check_mask(op, x, items, i, mask):
    """A boolean mask must match the dims it covers (nonzero() alone would not check)."""
    def width(item):
        data = item.data if isinstance(item, Tensor) else item
        if item is None or item is Ellipsis:
            return 0
        return data.ndim if getattr(data, "dtype", None) is not None and (
            data.dtype.kind == "b") else 1

    if builtins.any(it is Ellipsis for it in items[:i]):
        pos = x.ndim - builtins.sum(width(it) for it in items[i:])
    else:
        pos = builtins.sum(width(it) for it in items[:i])
    covered = tuple(x.shape[pos:pos + mask.ndim])
    if covered != tuple(mask.shape):
        raise op_error(op, f"the shape of the mask {list(mask.shape)} at index {pos} does not "
                       f"match the shape of the indexed tensor {list(x.shape)} at index {pos}",
                       IndexError, operands=(x, mask))


def getitem(x, key):
    index = _index_key("getitem", x, key)
    try:
        x.data[index]  # validate before recording anything (cheap: indexing a view)
    except (IndexError, ValueError, TypeError) as exc:
        raise op_error("getitem", f"{exc} (index {key!r})", IndexError,
                       operands=(x,)) from None
    return apply(I.getitem, x, index=index)


def _int_index(op, index, what="index"):
    index = _tensor(op, index)
    if index.data.dtype.kind not in "iu":
        raise op_error(op, f"{what} must be an integer (long) tensor, got "
                       f"{backend.from_np(index.data.dtype)}", operands=(index,))
    return index


def _in_range(op, x, index, size, d, negative_ok=False, cls=None):
    """Every index addresses an element of a dim of ``size`` of ``x`` (checked before any
    work); ``cls``: the exception class torch raises (default by ``negative_ok``)."""
    if not index.data.size:
        return
    lo, hi = int(index.data.min()), int(index.data.max())
    if hi >= size or lo < (-size if negative_ok else 0):
        bad = hi if hi >= size else lo
        raise op_error(op, f"index {bad} is out of bounds for dimension {d} with size {size}",
                       cls or (IndexError if negative_ok else RuntimeError),
                       operands=(x, index))


def take_along_dim(input, indices, dim=None):
    """Elements of ``input`` at ``indices`` along ``dim`` (``input.flatten()`` when dim is
    None); the other dims broadcast, as in torch.  Negative indices count from the end."""
    x = _tensor("take_along_dim", input)
    idx = _int_index("take_along_dim", indices, "indices")
    if dim is None:
        _in_range("take_along_dim", x, idx, x.data.size, 0, negative_ok=True)
        return apply(I.take_along_axis, reshape(x, -1), reshape(idx, -1), axis=0)
    if x.ndim == 0:
        raise op_error("take_along_dim", f"dimension specified as {dim} but tensor has no "
                       "dimensions", IndexError, operands=(x,))
    d = _dim1("take_along_dim", dim, x.ndim, x)
    if idx.ndim != x.ndim:
        raise op_error("take_along_dim", f"input {tuple(x.shape)} and indices {tuple(idx.shape)} "
                       "should have the same number of dimensions", operands=(x, idx))
    _in_range("take_along_dim", x, idx, x.shape[d], d, negative_ok=True)
    # broadcast the other dims, as torch.take_along_dim does
    xs, ids = list(x.shape), list(idx.shape)
    xs[d] = ids[d] = 1
    try:
        shape = _np.broadcast_shapes(tuple(xs), tuple(ids))
    except ValueError:
        raise op_error("take_along_dim", f"shapes {tuple(x.shape)} and {tuple(idx.shape)} do "
                       "not broadcast outside dim", operands=(x, idx)) from None
    xt = expand(x, shape[:d] + (x.shape[d],) + shape[d + 1:])
    it = _nondiff(_np.broadcast_to(idx.data, shape[:d] + (idx.shape[d],) + shape[d + 1:]))
    return apply(I.take_along_axis, xt, it, axis=d)


def gather(input, dim, index):
    """torch.gather: out[i][j] = input[index[i][j]][j] (dim=0); index may be smaller than
    input outside ``dim``; indices must lie in [0, size) (torch rejects negatives)."""
    x = _tensor("gather", input)
    index = _int_index("gather", index)
    d = _dim1("gather", dim, x.ndim, x)
    if x.ndim == 0 or index.ndim == 0:  # torch treats 0-d tensors as 1-element vectors here
        if x.ndim > 1 or index.ndim > 1:
            raise op_error("gather", f"index {tuple(index.shape)} and input {tuple(x.shape)} "
                           "must have the same number of dimensions", operands=(x, index))
        return gather(reshape(x, 1), 0, reshape(index, -1)).reshape(index.shape)
    if index.ndim != x.ndim or builtins.any(
            i > s for k, (i, s) in enumerate(zip(index.shape, x.shape)) if k != d):
        raise op_error("gather", f"index {tuple(index.shape)} must have the same number of "
                       f"dimensions as input {tuple(x.shape)} and be no larger outside dim {d}",
                       operands=(x, index))
    _in_range("gather", x, index, x.shape[d], d)
    block = tuple(slice(0, n) if k != d else slice(None) for k, n in enumerate(index.shape))
    src = x[block] if tuple(s for k, s in enumerate(x.shape) if k != d) != tuple(
        s for k, s in enumerate(index.shape) if k != d) else x
    return apply(I.take_along_axis, src, index, axis=d)


def scatter_add(input, dim, index, src):
    """``input`` with ``src[i][j]`` added at ``[index[i][j]][j]`` (dim=0); repeated indices
    accumulate.  Only the leading ``index.shape`` block of ``src`` is used, as in torch."""
    x = _tensor("scatter_add", input)
    index = _int_index("scatter_add", index)
    src = _tensor("scatter_add", src)
    d = _dim1("scatter_add", dim, x.ndim, x)
    if x.ndim == 0:
        out = scatter_add(reshape(x, 1), 0, reshape(index, -1), reshape(src, -1))
        return out.reshape(())
    if index.ndim != x.ndim or src.ndim != x.ndim or builtins.any(
            i > s for i, s in zip(index.shape, src.shape)) or builtins.any(
            i > s for k, (i, s) in enumerate(zip(index.shape, x.shape)) if k != d):
        raise op_error("scatter_add", f"index {tuple(index.shape)} must fit inside src "
                       f"{tuple(src.shape)} and, outside dim {d}, inside input {tuple(x.shape)}",
                       operands=(x, index, src))
    _in_range("scatter_add", x, index, x.shape[d], d)
    if src.data.dtype != x.data.dtype:
        raise op_error("scatter_add", f"expected src ({backend.from_np(src.data.dtype)}) to have "
                       f"the dtype of self ({backend.from_np(x.data.dtype)})",
                       operands=(x, index, src))
    return apply(I.scatter_add, x, index, src, axis=d)


def index_select(input, dim, index):
    """The slices of ``input`` at ``index`` (0-D or 1-D, in [0, size)) along ``dim``;
    repeated indices accumulate their gradients."""
    x = _tensor("index_select", input)
    index = _int_index("index_select", index)
    d = _dim1("index_select", dim, x.ndim, x)
    if index.ndim > 1:
        raise op_error("index_select", "index must be a 0-D or 1-D tensor", IndexError,
                       operands=(x, index))
    _in_range("index_select", x, index, x.shape[d] if x.ndim else 1, d, cls=IndexError)
    if x.ndim == 0:
        if index.data.size != 1:
            raise op_error("index_select", "index to a 0-d tensor can have only 1 value, got "
                           f"{index.data.size}", operands=(x, index))
        return getitem(reshape(x, 1), reshape(index, -1)).reshape(index.shape)
    return getitem(x, (slice(None),) * d + (reshape(index, -1),))


def masked_fill(input, mask, value):
    """where(mask, value, input), composed: ``value`` (a number or a 0-d tensor, which gets
    the gradient of the filled places) in ``input``'s dtype; ``mask`` broadcasts."""
    x = _tensor("masked_fill", input)
    mask = _tensor("masked_fill", mask)
    if mask.data.dtype.kind != "b":
        raise op_error("masked_fill", "only supports boolean masks, but got mask with dtype "
                       f"{backend.from_np(mask.data.dtype)}", operands=(x, mask))
    if isinstance(value, Tensor):
        if value.ndim:
            raise op_error("masked_fill", "only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s)", operands=(x, mask, value))
        value = cast(value, x.data.dtype)
    else:
        value = as_tensor_like(value, x.data.dtype, x)
    _broadcast("masked_fill", mask, x)
    return apply(E.where, mask, value, x)


# ------------------------------------------------------------------ linear algebra


def matmul(input, other):
    """numpy/torch matmul: 1-D operands are promoted and squeezed, batch dims broadcast.
    Both operands must have one dtype (torch does not promote here), and not bool."""
    a, b = _tensor("matmul", input), _tensor("matmul", other)
    if a.data.dtype != b.data.dtype:
        raise op_error("matmul", f"expected both operands to have the same dtype, but found "
                       f"{backend.from_np(a.data.dtype)} and {backend.from_np(b.data.dtype)}",
                       operands=(a, b))
    _no_bool("matmul", a)
    if a.ndim == 0 or b.ndim == 0:
        raise op_error("matmul", f"both arguments need at least 1 dimension, got shapes "
                       f"{tuple(a.shape)} and {tuple(b.shape)}", RuntimeError, operands=(a, b))
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise op_error("matmul", f"shapes {tuple(a.shape)} and {tuple(b.shape)} do not align "
                       f"({ka} != {kb})", RuntimeError, operands=(a, b))
    if a.ndim > 2 or b.ndim > 2:
        try:
            _np.broadcast_shapes(a.shape[:-2], b.shape[:-2] if b.ndim > 1 else ())
        except ValueError:
            raise op_error("matmul", f"batch dimensions of {tuple(a.shape)} and "
                           f"{tuple(b.shape)} do not broadcast", RuntimeError,
                           operands=(a, b)) from None
    return apply(linalg.matmul, a, b)


def mm(input, mat2):
    if _tensor("mm", input).ndim != 2 or _tensor("mm", mat2).ndim != 2:
        raise op_error("mm", f"expects 2-D tensors, got shapes {tuple(input.shape)} and "
                       f"{tuple(mat2.shape)}", RuntimeError, operands=(input, mat2))
    return matmul(input, mat2)


def bmm(input, mat2):
    if _tensor("bmm", input).ndim != 3 or _tensor("bmm", mat2).ndim != 3 or (
            input.shape[0] != mat2.shape[0]):
        raise op_error("bmm", f"expects 3-D tensors with equal batch sizes, got shapes "
                       f"{tuple(input.shape)} and {tuple(mat2.shape)}", RuntimeError,
                       operands=(input, mat2))
    return matmul(input, mat2)


def mv(input, vec):
    if _tensor("mv", input).ndim != 2 or _tensor("mv", vec).ndim != 1:
        raise op_error("mv", f"expects a 2-D matrix and a 1-D vector, got shapes "
                       f"{tuple(input.shape)} and {tuple(vec.shape)}", RuntimeError,
                       operands=(input, vec))
    return matmul(input, vec)


def dot(input, other):
    if _tensor("dot", input).ndim != 1 or _tensor("dot", other).ndim != 1:
        raise op_error("dot", f"expects 1-D tensors, got shapes {tuple(input.shape)} and "
                       f"{tuple(other.shape)}", RuntimeError, operands=(input, other))
    return matmul(input, other)


def outer(input, vec2):
    """x[:, None] * y[None, :], composed."""
    if _tensor("outer", input).ndim != 1 or _tensor("outer", vec2).ndim != 1:
        raise op_error("outer", f"expects 1-D tensors, got shapes {tuple(input.shape)} and "
                       f"{tuple(vec2.shape)}", RuntimeError, operands=(input, vec2))
    return mul(unsqueeze(input, 1), unsqueeze(vec2, 0))


def einsum(equation, *operands_):
    """Einstein summation, e.g. ``einsum('bij,bjk->bik', a, b)``; implicit output
    (``'ij,jk'``) follows torch's rule (the ellipsis dims, then the letters used once, in
    alphabetical order).  ``...`` stands for the leading dims an operand has beyond its
    letters (right-aligned across operands, as in torch); a letter's dims of size 1
    broadcast against that letter's size in other operands.  All operands must share one
    dtype (torch does not promote here).  Repeated letters within one operand (diagonals)
    are not supported."""
    if len(operands_) == 1 and isinstance(operands_[0], (list, tuple)):
        operands_ = tuple(operands_[0])
    xs = [_tensor("einsum", x) for x in operands_]
    if not xs:
        raise op_error("einsum", "must provide at least one operand", RuntimeError)
    dtype = xs[0].data.dtype
    for x in xs[1:]:
        if x.data.dtype != dtype:
            raise op_error("einsum", f"expected all operands to have one dtype, but found "
                           f"{backend.from_np(dtype)} and {backend.from_np(x.data.dtype)}",
                           RuntimeError, operands=xs)
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(xs):
        raise op_error("einsum", f"{equation!r} names {len(ins)} operands but {len(xs)} "
                       "were given", RuntimeError, operands=xs)
    letters = {c for c in eq if c.isalpha()}
    free = [c for c in _EINSUM_LETTERS if c not in letters]
    # ``...`` -> explicit letters: the ellipsis dims of every operand, right-aligned
    spans = []
    for sub, x in zip(ins, xs):
        if sub.count("...") > 1 or "." in sub.replace("...", ""):
            raise op_error("einsum", f"operand {sub!r}: '...' may appear once (and '.' only "
                           "as part of it)", RuntimeError, operands=xs)
        spans.append(x.ndim - len(sub.replace("...", "")) if "..." in sub else 0)
    n_ell = builtins.max(spans)
    ell = "".join(free[:n_ell])
    ins = [sub.replace("...", ell[n_ell - n:]) for sub, n in zip(ins, spans)]
    if arrow:
        if rhs.count("...") > 1:
            raise op_error("einsum", "'...' may appear once in the output", RuntimeError)
        rhs = rhs.replace("...", ell)
    else:
        counts = {}
        for c in "".join(ins):
            counts[c] = counts.get(c, 0) + 1
        rhs = ell + "".join(sorted(c for c, n in counts.items() if n == 1 and c not in ell))
    sizes = {}
    for sub, x in zip(ins, xs):
        if len(set(sub)) != len(sub):
            raise op_error("einsum", f"repeated index in operand {sub!r} (diagonals) is not "
                           "supported", RuntimeError, operands=xs)
        if len(sub) != x.ndim:
            raise op_error("einsum", f"operand {sub!r} has {len(sub)} letters but the tensor "
                           f"has shape {tuple(x.shape)}", RuntimeError, operands=xs)
        for c, n in zip(sub, x.shape):
            if sizes.get(c, 1) == 1:
                sizes[c] = n
            elif n not in (1, sizes[c]):
                raise op_error("einsum", f"letter {c!r} has sizes {sizes[c]} and {n}, which do "
                               "not broadcast", RuntimeError, operands=xs)
    xs = [expand(x, tuple(sizes[c] for c in sub)) for sub, x in zip(ins, xs)]
    return apply(linalg.einsum, *xs, spec=(ins, rhs))


_EINSUM_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


# ------------------------------------------------------------------ softmax family


def softmax(input, dim=-1, dtype=None):
    """exp(x) / sum(exp(x)) along ``dim``, stably (a primitive); integer input needs
    ``dtype``, as in torch."""
    return _softmax_family("softmax", activation.softmax, input, dim, dtype)


def log_softmax(input, dim=-1, dtype=None):
    """x - logsumexp(x) along ``dim``, stably (a primitive)."""
    return _softmax_family("log_softmax", activation.log_softmax, input, dim, dtype)


def _softmax_family(op, prim, input, dim, dtype):
    x = _tensor(op, input)
    if dtype is not None:
        x = cast(x, backend.as_dtype(dtype).np)
    x = _floating(op, x, "expected a floating point tensor (or pass dtype=)")
    d = _dim1(op, dim, x.ndim, x)
    if x.ndim == 0:
        return apply(prim, reshape(x, 1), axis=0).reshape(())
    return apply(prim, x, axis=d)


from ..tensor import Size, Tensor  # noqa: E402
