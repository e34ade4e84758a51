"""The only module that imports NumPy or CuPy.

Everything else asks this module for the array module (``xp``) of an array, for devices
and for dtypes.  CuPy is imported lazily and guarded, so chainrule imports and works where
CuPy (or a GPU) is absent.
"""

from __future__ import annotations

import numpy

try:  # guarded: a machine without CuPy or without a GPU still imports chainrule
    import cupy  # type: ignore

    try:
        _HAS_GPU = cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # CuPy installed but no usable driver
        _HAS_GPU = False
except ImportError:  # pragma: no cover - depends on the machine
    cupy = None
    _HAS_GPU = False

np = numpy
ndarray = numpy.ndarray


# --------------------------------------------------------------------------- dtypes


class dtype:
    """A tensor element type, printed as ``chainrule.float32`` (torch's ``torch.float32``)."""

    __slots__ = ("name", "np", "is_floating_point", "itemsize", "_category")

    def __init__(self, name: str, np_dtype, category: int):
        self.name = name
        self.np = numpy.dtype(np_dtype)
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == 2
        self._category = category  # 0 bool, 1 integer, 2 floating: torch's promotion order

    def __repr__(self) -> str:
        return f"chainrule.{self.name}"

    def __reduce__(self):  # dtypes are singletons; copying or pickling keeps them so
        return (_dtype_by_name, (self.name,))


float32 = dtype("float32", numpy.float32, 2)
float64 = dtype("float64", numpy.float64, 2)
float16 = dtype("float16", numpy.float16, 2)
int64 = dtype("int64", numpy.int64, 1)
int32 = dtype("int32", numpy.int32, 1)
int16 = dtype("int16", numpy.int16, 1)
int8 = dtype("int8", numpy.int8, 1)
uint8 = dtype("uint8", numpy.uint8, 1)
bool_ = dtype("bool", numpy.bool_, 0)

_ALL = (float32, float64, float16, int64, int32, int16, int8, uint8, bool_)
_BY_NP = {d.np: d for d in _ALL}
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update(
    {"float": float32, "double": float64, "half": float16, "long": int64, "int": int32}
)

_default_float = float32


def _dtype_by_name(name: str) -> dtype:
    return _BY_NAME[name]


def from_np(np_dtype) -> dtype:
    """The chainrule dtype of a NumPy/CuPy dtype."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        d = _BY_NP.get(numpy.dtype(np_dtype))
        if d is None:
            raise TypeError(f"unsupported array dtype {np_dtype}") from None
        return d


def as_dtype(d) -> dtype:
    """Accept a chainrule dtype, a NumPy dtype/type or a name ('float32'), or Python's
    ``float``/``int``/``bool``, and return the chainrule dtype."""
    if isinstance(d, dtype):
        return d
    if d is float:
        return _default_float
    if d is int:
        return int64
    if d is bool:
        return bool_
    if isinstance(d, str) and d in _BY_NAME:
        return _BY_NAME[d]
    try:
        return from_np(numpy.dtype(d))
    except TypeError:
        raise TypeError(f"unknown dtype {d!r}") from None


def get_default_dtype() -> dtype:
    return _default_float


def set_default_dtype(d) -> None:
    """Set the dtype that Python floats and float lists become (float32 unless changed)."""
    global _default_float
    d = as_dtype(d)
    if not d.is_floating_point:
        raise TypeError(f"set_default_dtype: only floating dtypes are allowed, got {d}")
    _default_float = d


# --------------------------------------------------------------------------- devices


class device:
    """Where a tensor's array lives: ``device('cpu')`` (NumPy) or ``device('cuda:0')`` (CuPy)."""

    __slots__ = ("type", "index")

    def __init__(self, spec="cpu", index: int | None = None):
        if isinstance(spec, device):
            self.type, self.index = spec.type, spec.index
            return
        spec = str(spec)
        kind, _, idx = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise ValueError(f"unknown device {spec!r}: expected 'cpu' or 'cuda[:N]'")
        self.type = kind
        if idx:
            self.index = int(idx)
        else:
            self.index = index if index is not None else (0 if kind == "cuda" else None)

    def __repr__(self) -> str:
        index = f", index={self.index}" if self.index is not None else ""
        return f"device(type='{self.type}'{index})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def cuda_is_available() -> bool:
    return _HAS_GPU


def get_array_module(array):
    """NumPy or CuPy, whichever owns ``array`` (Chainer's ``get_array_module``)."""
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy
    return numpy


def module_for(dev: device):
    if dev.type == "cpu":
        return numpy
    if not _HAS_GPU:
        raise RuntimeError(
            f"device {dev}: CUDA is not available (CuPy is "
            f"{'installed' if cupy else 'not installed'}, no GPU was found); use device='cpu'"
        )
    return cupy


def device_of(array) -> device:
    if cupy is not None and isinstance(array, cupy.ndarray):
        return device("cuda", array.device.id)
    return CPU


def to_device(array, dev: device):
    """Move an array to ``dev`` (a copy only when it actually changes device)."""
    if dev.type == "cpu":
        if cupy is not None and isinstance(array, cupy.ndarray):
            return cupy.asnumpy(array)
        return array
    xp = module_for(dev)
    with xp.cuda.Device(dev.index or 0):
        return xp.asarray(array)


def to_numpy(array):
    if cupy is not None and isinstance(array, cupy.ndarray):
        return cupy.asnumpy(array)
    return array


def is_array(obj) -> bool:
    return isinstance(obj, numpy.ndarray) or (cupy is not None and isinstance(obj, cupy.ndarray))


def result_np_dtype(*arrays_or_dtypes):
    return numpy.result_type(*arrays_or_dtypes)
