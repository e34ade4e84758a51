"""Level-1 BLAS (``axpby``: ``y = alpha * x + beta * y``) from the OpenBLAS that NumPy ships,
for the optimizers' parameter updates.

Why: SGD with momentum is ``buf = momentum * buf + g; p -= lr * buf``.  NumPy has no fused
"multiply, then add" ufunc, so that is four passes over the parameters (the product needs a
pass of its own), all on one core.  BLAS does it in fewer passes, in one of two ways:

- ``scal`` (``y *= beta``, skipped when beta is 1) then ``axpy`` (``y += alpha * x``), on
  the threads BLAS already runs: three passes for the SGD update, split over the cores;
- OpenBLAS's ``axpby``: two passes, but on one thread (it has no threaded version).

Measured (2 cores, OpenBLAS 0.3.31): 235k float32 parameters 66 us with NumPy, 37 with
``axpby``, 32 with ``scal`` + ``axpy``; 2.9M 1.3 ms, 0.67, 0.46.  The first is used where its
``axpy`` kernel rounds every element the same way (below), else the second.

The arithmetic: each element is ``alpha * x + beta * y`` rounded to the dtype, the product
``alpha * x`` either rounded on its own (NumPy's two roundings; OpenBLAS's Haswell kernels)
or fused into the sum (one rounding, as torch's ``add_(b, alpha=)`` on CPU; its SkylakeX
kernels), the same way for every element whatever the length or the split into pieces or
threads, so the flat and per-parameter optimizer paths, eager and ``chainrule.compile``,
agree bit for bit on a machine.  That is checked at first use: OpenBLAS's Haswell ``saxpy``
fuses in its vector loop but not in its tail, so there ``axpby`` is used.  The kernels are
also checked against NumPy (one rounding apart at most; zeros, infinities and NaN
exactly); where none passes (MKL, Accelerate, a system BLAS, an unknown layout,
``CHAINRULE_BLAS=0``) the callers keep their NumPy arithmetic.

Found: NumPy's bundled scipy-openblas (``numpy.libs`` / ``numpy/.dylibs``), whose symbols
carry a ``scipy_`` prefix and, for 64-bit integers, a ``64_`` suffix.
"""

from __future__ import annotations

import ctypes
import glob
import os
import weakref

from . import backend

__all__ = ["address", "axpby", "available", "kernel"]

_np = backend.np
_ndarray = _np.ndarray

# dtype -> (axpby, scalar ctype), filled by _load() for the dtypes that passed
_KERNELS: dict | None = None


def available(dtype) -> bool:
    """Whether ``axpby`` runs a BLAS kernel for arrays of ``dtype``."""
    return _dtype_kernels(_np.dtype(dtype)) is not None


def kernel(dtype):
    """The checked kernel for ``dtype`` as ``kernel(n, alpha, x_address, beta, y_address)``
    (``y = alpha * x + beta * y`` on ``n`` contiguous elements, nonzero alpha and beta), or
    None.  For callers that have already checked their arrays (the optimizers' flat
    groups: one contiguous 1-d array each, of one dtype and length); everyone else calls
    ``axpby``."""
    return _dtype_kernels(_np.dtype(dtype))


def axpby(alpha: float, x, beta: float, y) -> bool:
    """``y = alpha * x + beta * y`` in place, for NumPy arrays ``x`` and ``y`` of one float
    dtype and shape, ``y`` contiguous (``x`` is copied to ``y``'s layout if it differs).
    Returns False, doing nothing, where no checked kernel applies; the caller then uses
    NumPy.  ``y *= m; y += g`` is ``axpby(1, g, m, y)``; ``p -= lr * d`` is
    ``axpby(-lr, d, 1, p)``."""
    if type(x) is not _ndarray or type(y) is not _ndarray or x.dtype != y.dtype or \
            x.shape != y.shape or alpha == 0 or beta == 0:  # (BLAS special-cases zeros)
        return False
    k = _dtype_kernels(y.dtype)
    if k is None:
        return False
    fy = y.flags
    if not fy.forc or not fy.writeable:
        return False
    if x.strides != y.strides:  # element i of x must meet element i of y in memory order
        x = _np.array(x, order="C" if fy.c_contiguous else "F")
        if x.strides != y.strides:
            return False
    k(y.size, alpha, address(x), beta, address(y))
    return True


_ADDRESSES: dict = {}  # id(array) -> (weak reference, data address as c_void_p, bytes)


def address(a):
    """The address of ``a``'s data, as a ``c_void_p`` (``a.ctypes.data`` costs ~0.8 us; the
    optimizers pass the same long-lived arrays every step, so it is remembered while ``a``
    lives)."""
    entry = _ADDRESSES.get(id(a))
    if entry is not None and entry[0]() is a and entry[2] == a.nbytes:
        return entry[1]  # (ndarray.resize to another size would move the data)
    if len(_ADDRESSES) > 256:
        _ADDRESSES.clear()
    address = ctypes.c_void_p(a.ctypes.data)
    _ADDRESSES[id(a)] = (weakref.ref(a), address, a.nbytes)
    return address


def _dtype_kernels(dtype):
    global _KERNELS
    if _KERNELS is None:
        _KERNELS = _load()
    return _KERNELS.get(dtype)


def _load() -> dict:
    """{dtype: kernel(n, alpha, x address, beta, y address)} for the dtypes with a checked
    kernel: ``scal`` + ``axpy`` where ``axpy`` rounds alike in any split, else ``axpby``."""
    if os.environ.get("CHAINRULE_BLAS", "1") == "0":
        return {}
    lib, prefix, suffix, index = _find_library()
    if lib is None:
        return {}
    kernels = {}
    ptr = ctypes.c_void_p
    for letter, dtype, scalar in (("s", _np.dtype(_np.float32), ctypes.c_float),
                                  ("d", _np.dtype(_np.float64), ctypes.c_double)):
        scal = getattr(lib, f"{prefix}cblas_{letter}scal{suffix}", None)
        axpy = getattr(lib, f"{prefix}cblas_{letter}axpy{suffix}", None)
        axpby = getattr(lib, f"{prefix}cblas_{letter}axpby{suffix}", None)
        candidates = []
        if scal is not None and axpy is not None:
            scal.argtypes, scal.restype = [index, scalar, ptr, index], None
            axpy.argtypes, axpy.restype = [index, scalar, ptr, index, ptr, index], None
            candidates.append(_scal_axpy(scal, axpy, scalar))
        if axpby is not None:
            axpby.argtypes, axpby.restype = [index, scalar, ptr, index, scalar, ptr, index], None
            candidates.append(_axpby(axpby, scalar))
        for kernel in candidates:
            if _agrees_with_numpy(kernel, dtype) and _same_in_pieces(kernel, dtype):
                kernels[dtype] = kernel
                break
    return kernels


def _scal_axpy(scal, axpy, scalar):
    def kernel(n, alpha, x, beta, y):
        if beta != 1:
            scal(n, scalar(beta), y, 1)
        axpy(n, scalar(alpha), x, 1, y, 1)
    return kernel


def _axpby(axpby, scalar):
    def kernel(n, alpha, x, beta, y):
        axpby(n, scalar(alpha), x, 1, scalar(beta), y, 1)
    return kernel


def _same_in_pieces(kernel, dtype) -> bool:
    """Whether ``kernel`` gives the same bits on a long array (several BLAS threads) as on
    pieces of it of awkward lengths and offsets (one thread, vector loops and their
    tails): the flat optimizer path and the per-parameter loop must agree."""
    rng = _np.random.default_rng(1)
    n = 50_021
    x = rng.standard_normal(n).astype(dtype)
    y = rng.standard_normal(n).astype(dtype)
    cuts = (0, 1, 18, 1_000, 1_037, 9_999, 21_001, 29_000, n)
    for a, b in ((-0.0123, 1.0), (1.0, 0.9), (0.37, -1.3)):
        whole, pieces = y.copy(), y.copy()
        kernel(n, a, x.ctypes.data, b, whole.ctypes.data)
        for lo, hi in zip(cuts, cuts[1:]):
            kernel(hi - lo, a, x[lo:].ctypes.data, b, pieces[lo:].ctypes.data)
        if not _np.array_equal(whole, pieces):
            return False
    return True


def _find_library():
    """NumPy's bundled OpenBLAS (already loaded by NumPy), its symbol prefix and suffix and
    its integer type; Nones when there is none."""
    here = os.path.dirname(_np.__file__)
    candidates = sorted(glob.glob(os.path.join(here, os.pardir, "numpy.libs", "*openblas*"))
                        + glob.glob(os.path.join(here, ".dylibs", "*openblas*")))
    for path in candidates:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for prefix, suffix, index in (("scipy_", "64_", ctypes.c_int64),
                                      ("scipy_", "", ctypes.c_int32)):
            if hasattr(lib, f"{prefix}cblas_saxpy{suffix}"):
                return lib, prefix, suffix, index
    return None, None, None, None


def _agrees_with_numpy(kernel, dtype) -> bool:
    """Run ``kernel`` with the coefficients the optimizers pass (1 with a momentum, a
    learning rate with 1, and general ones) on awkward values (signed zeros, infinities,
    NaN, tiny and huge magnitudes, an odd length that leaves a vector tail): each element
    must be NumPy's result or one rounding away from it, and zeros, infinities and NaN must
    come out exactly as NumPy's (a wrong symbol or calling convention would not)."""
    rng = _np.random.default_rng(0)
    n = 4099
    with _np.errstate(all="ignore"):
        x = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)).astype(dtype)
        y = (rng.standard_normal(n) * 10.0 ** rng.integers(-6, 6, n)).astype(dtype)
        special = [0.0, -0.0, 0.0, -0.0, 1.0, -1.0, _np.inf, -_np.inf, _np.nan, 2.0]
        x[:10], y[:10] = special, special[::-1]
        for a, b in ((1.0, 0.9), (-0.01, 1.0), (1.0, 1.0), (0.37, -1.3), (-3e-5, 1.0)):
            want = y * dtype.type(b)
            want += x * dtype.type(a)
            got = y.copy()
            kernel(n, a, x.ctypes.data, b, got.ctypes.data)
            # a fused kernel skips the products' roundings: at most their sizes apart
            slack = (_np.spacing(_np.abs(x * dtype.type(a))) +
                     _np.spacing(_np.abs(y * dtype.type(b))) + _np.spacing(_np.abs(want)))
            regular = _np.isfinite(want) & (want != 0) & _np.isfinite(slack)
            if not (_np.abs(got[regular] - want[regular]) <= slack[regular]).all():
                return False
            w, g = want[~regular], got[~regular]  # zeros, infinities, NaN: exactly NumPy's
            if not (_np.array_equal(w, g, equal_nan=True)
                    and _np.array_equal(_np.signbit(w[w == 0]), _np.signbit(g[w == 0]))):
                return False
    return True
