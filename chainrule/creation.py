"""Creating tensors: ``tensor``, ``zeros``, ``randn`` ... with torch's names and defaults
(Python floats become float32, Python ints int64)."""

from __future__ import annotations


from . import backend, random
from ._errors import op_error
from .tensor import Size, Tensor

_np = backend.np


def _to_array(data, np_dtype, device=None):
    """NumPy/CuPy array from nested lists, scalars, arrays or tensors; float data with no
    dtype becomes the default float dtype (float32), as in torch."""
    if isinstance(data, Tensor):
        arr = data.data
    elif backend.is_array(data):
        arr = data
    else:
        if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
            data = _tensors_to_lists(data)
        try:
            arr = _np.asarray(data)
        except ValueError as exc:
            raise op_error("tensor", f"could not build a tensor from the data: {exc}",
                           ValueError) from None
        if arr.dtype == object:
            raise op_error("tensor", f"could not infer dtype of {type(data).__name__} (ragged "
                           "nested lists or non-numeric values?)", TypeError)
        if np_dtype is None and arr.dtype.kind == "f" and not isinstance(data, _np.generic):
            np_dtype = backend.get_default_dtype().np
        if arr.dtype.kind == "i" and arr.dtype != _np.int64 and not isinstance(data, _np.ndarray):
            arr = arr.astype(_np.int64)
    if arr.dtype.kind not in "biuf":
        raise op_error("tensor", f"unsupported dtype {arr.dtype}", TypeError)
    if np_dtype is not None and arr.dtype != np_dtype:
        arr = arr.astype(np_dtype)
    if device is not None:
        arr = backend.to_device(arr, backend.device(device))
    return arr


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _tensors_to_lists(data):
    return [(_tensors_to_lists(d) if isinstance(d, (list, tuple)) else
             (d.tolist() if isinstance(d, Tensor) else d)) for d in data]


def _np_dtype(dtype):
    return None if dtype is None else backend.as_dtype(dtype).np


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (lists, scalars, arrays, tensors)."""
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
    return Tensor._wrap(_to_array(data, _np_dtype(dtype), device))


def from_numpy(array) -> Tensor:
    """A tensor sharing memory with ``array`` (its dtype is kept, as in torch)."""
    if not isinstance(array, _np.ndarray):
        raise TypeError(f"from_numpy: expected numpy.ndarray, got {type(array).__name__}")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"from_numpy: unsupported dtype {array.dtype}")
    return Tensor._wrap(array)


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list, Size)):
        size = tuple(size[0])
    size = tuple(int(s) for s in size)
    if any(s < 0 for s in size):
        raise op_error("size", f"negative dimension in {list(size)}", RuntimeError)
    return size


def _make(fill, size, dtype, device, requires_grad, default=None):
    np_dtype = _np_dtype(dtype) or default or backend.get_default_dtype().np
    xp = backend.module_for(backend.device(device or "cpu"))
    t = Tensor._wrap(fill(xp, _size(size), np_dtype))
    if requires_grad:
        t.requires_grad_(True)
    return t


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda xp, s, d: xp.zeros(s, d), size, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda xp, s, d: xp.ones(s, d), size, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda xp, s, d: xp.empty(s, d), size, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:
        dtype = (backend.bool_ if isinstance(fill_value, bool) else
                 backend.int64 if isinstance(fill_value, int) else backend.get_default_dtype())
    return _make(lambda xp, s, d: xp.full(s, fill_value, d), (size,), dtype, device,
                 requires_grad)


def eye(n, m=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda xp, s, d: xp.eye(n, m, dtype=d), (), dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise op_error("arange", "step must be nonzero", RuntimeError)
    is_int = all(isinstance(v, int) for v in (start, end, step))
    default = _np.dtype(_np.int64) if is_int else None
    return _make(lambda xp, s, d: xp.arange(start, end, step).astype(d), (), dtype, device,
                 requires_grad, default)


def linspace(start, end, steps, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _make(lambda xp, s, d: xp.linspace(start, end, steps).astype(d), (), dtype, device,
                 requires_grad)


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


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1)."""
    np_dtype = _np_dtype(dtype) or backend.get_default_dtype().np
    t = Tensor._wrap(random.uniform_array(_size(size), 0.0, 1.0, np_dtype, device, generator))
    return t.requires_grad_(True) if requires_grad else t


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal."""
    np_dtype = _np_dtype(dtype) or backend.get_default_dtype().np
    t = Tensor._wrap(random.normal_array(_size(size), 0.0, 1.0, np_dtype, device, generator))
    return t.requires_grad_(True) if requires_grad else t


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high), int64 by default."""
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint: size is required, e.g. randint(0, 10, (3,))")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    if high <= low:
        raise op_error("randint", f"empty range: low={low} >= high={high}", ValueError)
    np_dtype = _np_dtype(dtype) or _np.dtype(_np.int64)
    return Tensor._wrap(random.integers_array(low, high, _size((size,)), np_dtype, device,
                                              generator))


def randperm(n, *, generator=None, dtype=None, device=None) -> Tensor:
    t = Tensor._wrap(random.permutation_array(int(n), device, generator))
    return t if dtype is None else t.to(dtype)


def rand_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return rand(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                requires_grad=requires_grad)


def randn_like(input, dtype=None, device=None, requires_grad=False) -> Tensor:
    return randn(input.shape, dtype=dtype or input.dtype, device=device or input.device,
                 requires_grad=requires_grad)


