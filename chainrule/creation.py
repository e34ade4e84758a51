"""Creating tensors: ``tensor``, ``zeros``, ``randn`` ... with torch's names and defaults
(Python floats become float32, Python ints int64)."""

from __future__ import annotations

from itertools import chain as _chain_iterables
from operator import index as _index

from . import backend, random
from ._errors import op_error
from .tensor import Tensor

_np = backend.np


def _to_array(data, np_dtype, device=None, op="tensor"):
    """NumPy/CuPy array from nested lists, scalars, arrays or tensors, with torch's dtype
    inference: Python floats become the default float dtype (float32), NumPy scalars and
    arrays keep theirs, and a value that does not fit ``np_dtype`` is an error."""
    if isinstance(data, Tensor):
        arr = data.data
    elif backend.is_array(data):
        arr = data
    else:
        arr, np_dtype = _from_python(data, np_dtype, op)
    if arr.dtype.kind not in "biuf" or arr.dtype not in _SUPPORTED:
        raise op_error(op, f"unsupported dtype {arr.dtype} (chainrule has "
                       f"{', '.join(sorted(str(d) for d in _SUPPORTED))})", TypeError,
                       operands=(arr,))
    if np_dtype is not None and arr.dtype != np_dtype:
        arr = arr.astype(np_dtype)
    if device is not None:
        arr = backend.to_device(arr, backend.device(device))
    return arr


_SUPPORTED = frozenset(backend.from_np(d).np for d in (
    "float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"))


def _from_python(data, np_dtype, op):
    """(array, target dtype) for Python data."""
    # Tensors nested in lists convert through their __array__ (NumPy calls it per element)
    try:
        arr = _np.asarray(data)
    except (ValueError, TypeError, OverflowError) as exc:
        raise op_error(op, f"could not build a tensor from the data: {exc}", ValueError) from None
    kind = arr.dtype.kind
    if kind not in "biuf":
        raise op_error(op, f"could not infer the dtype of {type(data).__name__} (ragged nested "
                       "lists, non-numeric values or an int beyond int64?)", TypeError)
    if np_dtype is None:
        if kind == "f" and not isinstance(data, _np.generic):
            # Python floats are float32 (the default); explicitly typed NumPy values, arrays
            # and tensors among the elements keep their float dtypes, and all of these
            # promote together, as in torch: [1.0, np.float64(2)] is float64
            np_dtype = _float_elements_dtype(data)
        elif kind == "u" and not isinstance(data, _np.generic):  # a Python int above int64
            raise op_error(op, "value cannot be converted to int64 without overflow",
                           RuntimeError)
    elif np_dtype.kind in "iu" and kind in "iuf" and arr.size:
        info = _np.iinfo(np_dtype)
        if arr.min() < info.min or arr.max() > info.max:  # NumPy would silently wrap
            raise op_error(op, f"value cannot be converted to type {np_dtype} without "
                           "overflow", RuntimeError)
    return arr, np_dtype


def _chain(seqs):
    return _chain_iterables.from_iterable(seqs)


def _float_elements_dtype(data):
    """torch's inferred dtype for nested sequences holding at least one float: the
    promotion of the explicit float dtypes among the elements (NumPy scalars and arrays,
    tensors) and, when a Python float is among them, the default dtype."""
    found = None
    python_float = False
    level = [data if isinstance(data, (list, tuple)) else (data,)]
    while level:  # one nesting depth at a time, each a pass in C over its elements
        nested = []
        for t in set(map(type, _chain(level))):
            if t is float:
                python_float = True
            elif t is list or t is tuple:
                nested.extend(v for v in _chain(level) if type(v) is t)
            elif t is not int and t is not bool:
                same = [v for v in _chain(level) if type(v) is t]
                for v in same[:1] if issubclass(t, _np.generic) else same:
                    d = getattr(v, "dtype", None)
                    d = None if d is None else _np.dtype(getattr(d, "np", d))
                    if d is not None and d.kind == "f":
                        found = d if found is None else _np.promote_types(found, d)
        level = nested
    default = backend.get_default_dtype().np
    if found is None:
        return default
    return _np.promote_types(found, default) if python_float else found


def _np_dtype(dtype):
    return None if dtype is None else backend.as_dtype(dtype).np


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (nested lists, scalars, arrays, tensors).

    >>> tensor([1.0, 2.0]).dtype, tensor([1, 2]).dtype
    (chainrule.float32, chainrule.int64)
    """
    arr = _to_array(data, _np_dtype(dtype), device)
    if arr is data or (isinstance(data, Tensor) and arr is data.data):
        arr = arr.copy()
    t = Tensor._wrap(arr)
    if requires_grad:
        t.requires_grad_(True)
    return t


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array when no conversion is needed."""
    if isinstance(data, Tensor) and dtype is None and device is None:
        return data
    return Tensor._wrap(_to_array(data, _np_dtype(dtype), device, "as_tensor"))


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype is kept, as in torch)."""
    if not isinstance(array, _np.ndarray):
        raise op_error("from_numpy", f"expected np.ndarray, got {type(array).__name__}",
                       TypeError)
    if array.dtype.kind not in "biuf" or array.dtype not in _SUPPORTED:
        raise op_error("from_numpy", f"unsupported dtype {array.dtype}", TypeError,
                       operands=(array,))
    return Tensor._wrap(array)


def _size(op, size):
    """torch's size arguments: varargs ``(2, 3)`` or one sequence ``((2, 3),)``."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = size[0]
    try:
        size = tuple([_index(s) for s in size])
    except TypeError:
        raise op_error(op, f"size must be ints, got {tuple(size)!r}", TypeError) from None
    for s in size:
        if s < 0:
            raise op_error(op, f"negative dimension in size {list(size)}", RuntimeError)
    return size


def _module(device):
    return _np if device is None else backend.module_for(backend.device(device))


def _make(op, fill, size, dtype, device, requires_grad, default=None):
    np_dtype = _np_dtype(dtype) or default or backend.get_default_dtype().np
    xp = _module(device)
    try:
        t = Tensor._wrap(fill(xp, size, np_dtype))
    except (ValueError, TypeError, OverflowError) as exc:  # NumPy refused the arguments
        raise op_error(op, f"{exc} (size {list(size)}, dtype {backend.from_np(np_dtype)})",
                       RuntimeError if isinstance(exc, ValueError) else type(exc)) from None
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make("zeros", lambda xp, s, d: xp.zeros(s, d), _size("zeros", size), dtype,
                 device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make("ones", lambda xp, s, d: xp.ones(s, d), _size("ones", size), dtype, device,
                 requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make("empty", lambda xp, s, d: xp.empty(s, d), _size("empty", size), dtype,
                 device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    """A tensor of ``size`` filled with ``fill_value``; its dtype follows the value (bool,
    int64, or the default float) unless given."""
    if isinstance(fill_value, Tensor) and fill_value.data.ndim == 0:
        fill_value = fill_value.item()
    if not isinstance(fill_value, (bool, int, float, _np.bool_, _np.number)):
        raise op_error("full", f"fill_value must be a number or bool, got "
                       f"{type(fill_value).__name__} {fill_value!r}", TypeError)
    if dtype is None:
        dtype = (backend.bool_ if isinstance(fill_value, (bool, _np.bool_)) else
                 backend.int64 if isinstance(fill_value, (int, _np.integer)) else
                 backend.get_default_dtype())
    return _make("full", lambda xp, s, d: xp.full(s, fill_value, d), _size("full", (size,)),
                 dtype, device, requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    for name, v in (("n", n), ("m", m)):
        if v is None and name == "m":
            continue
        try:
            v = _index(v)
        except TypeError:
            raise op_error("eye", f"{name} must be an int, got {type(v).__name__} {v!r}",
                           TypeError) from None
        if v < 0:
            raise op_error("eye", f"{name} must be greater or equal to 0, got {v}",
                           RuntimeError)
    return _make("eye", lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device,
                 requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``: int64 when all three are
    integers, else the default float dtype."""
    start, end, step = (v.item() if isinstance(v, Tensor) else v for v in (start, end, step))
    if end is None:
        start, end = 0, start
    if step == 0:
        raise op_error("arange", "step must be nonzero", RuntimeError)
    if (end - start) * step < 0:
        raise op_error("arange", f"upper bound and step are inconsistent with the sign "
                       f"(start={start}, end={end}, step={step})", RuntimeError)
    is_int = all(isinstance(v, (int, _np.integer)) for v in (start, end, step))
    default = _np.dtype(_np.int64) if is_int else None
    return _make("arange", lambda xp, s, d: xp.arange(start, end, step).astype(d), (), dtype,
                 device, requires_grad, default)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    if steps < 0:
        raise op_error("linspace", f"number of steps must be non-negative, got {steps}",
                       RuntimeError)
    return _make("linspace", lambda xp, s, d: xp.linspace(start, end, steps).astype(d), (),
                 dtype, device, requires_grad)


def _like(fn, input, dtype, device, requires_grad, **kw):
    return fn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
              requires_grad=requires_grad, **kw)


def zeros_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(zeros, input, dtype, device, requires_grad)


def ones_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(ones, input, dtype, device, requires_grad)


def empty_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _like(empty, input, dtype, device, requires_grad)


def full_like(input, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    return full(input.shape, fill_value, dtype=dtype or input.dtype,
                device=device or input.device, requires_grad=requires_grad)


def _float_dtype(op, dtype):
    np_dtype = _np_dtype(dtype) or backend.get_default_dtype().np
    if np_dtype.kind != "f":
        raise op_error(op, f"expects a floating dtype, got {backend.from_np(np_dtype)}",
                       TypeError)
    return np_dtype


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    np_dtype = _float_dtype("rand", dtype)
    t = Tensor._wrap(random.uniform_array(_size("rand", size), 0.0, 1.0, np_dtype, device,
                                          generator))
    return t.requires_grad_(True) if requires_grad else t


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal."""
    np_dtype = _float_dtype("randn", dtype)
    t = Tensor._wrap(random.normal_array(_size("randn", size), 0.0, 1.0, np_dtype, device,
                                         generator))
    return t.requires_grad_(True) if requires_grad else t


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high), int64 by default: ``randint(high, size)`` or
    ``randint(low, high, size)``."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise op_error("randint", "size is required, e.g. randint(0, 10, (3,))", TypeError)
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise op_error("randint", f"empty range: low={low} >= high={high}", ValueError)
    np_dtype = _np_dtype(dtype) or _np.dtype(_np.int64)
    return Tensor._wrap(random.integers_array(low, high, _size("randint", (size,)), np_dtype,
                                              device, generator))


def randperm(n, *, generator=None, dtype=None, device=None) -> Tensor:
    t = Tensor._wrap(random.permutation_array(int(n), device, generator))
    return t if dtype is None else t.to(dtype)


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)
