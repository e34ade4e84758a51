"""Turning Python scalars and mixed dtypes into primitive operands, with torch's rules.

Type promotion (as in torch): categories are bool < integer < floating.  Tensors with
dimensions decide the result; a zero-dimensional tensor or a Python scalar only matters when
its category is higher than theirs, and then a Python float gives the default float dtype
(float32) and a Python int gives int64.  So ``float32_tensor * 2.5`` stays float32 and
``int64_tensor * 0.5`` becomes float32 (NumPy alone would give float64 for the second).
"""

from __future__ import annotations

from .. import backend
from .._errors import op_error
from ..autograd.grad_mode import state
from .registry import apply

_np = backend.np
_CAT = {"b": 0, "i": 1, "u": 1, "f": 2}


def _category(np_dtype) -> int:
    try:
        return _CAT[np_dtype.kind]
    except KeyError:
        raise TypeError(f"unsupported dtype {np_dtype}") from None


def _scalar_category(value) -> int:
    if isinstance(value, (bool, _np.bool_)):
        return 0
    if isinstance(value, (int, _np.integer)):
        return 1
    if isinstance(value, (float, _np.floating)):
        return 2
    raise TypeError(f"unsupported operand {value!r} of type {type(value).__name__}")


def result_dtype(operands):
    """The NumPy dtype torch's promotion gives for Tensors and Python scalars."""
    dims, zero_dims, scalars = [], [], []
    for x in operands:
        if isinstance(x, Tensor):
            (dims if x.data.ndim else zero_dims).append(x.data.dtype)
        else:
            scalars.append(_scalar_category(x))
    best = None
    for group in (dims, zero_dims):
        if not group:
            continue
        cat = max(_category(d) for d in group)
        if best is None or cat > _category(best):
            chosen = [d for d in group if _category(d) == cat]
            best = chosen[0]
            for d in chosen[1:]:
                best = _np.promote_types(best, d)
    if scalars:
        cat = max(scalars)
        if best is None or cat > _category(best):
            best = {0: _np.dtype(_np.bool_), 1: _np.dtype(_np.int64)}.get(
                cat, backend.get_default_dtype().np
            )
    return best


def as_tensor_like(value, np_dtype, like) -> "Tensor":
    """A constant Tensor holding a Python scalar, on ``like``'s device."""
    xp = backend.get_array_module(like.data)
    t = Tensor._wrap(xp.asarray(value, dtype=np_dtype))
    if state.recorder is not None:
        state.recorder.constant(t)  # a Python number: chainrule.compile may replay it as is
    return t


def cast(x, np_dtype):
    """``x`` in ``np_dtype``, recorded (differentiable) when it changes to a floating dtype;
    an integer or bool result is never part of the graph (as in torch)."""
    if x.data.dtype == np_dtype:
        return x
    if _np.dtype(np_dtype).kind != "f":
        return Tensor._wrap(x.data.astype(np_dtype))
    return apply(CAST, x, dtype=np_dtype)


def operands(op_name, *xs):
    """Tensors of one promoted dtype from a mix of Tensors, Python scalars and arrays (an
    array operand counts as a tensor, as in torch)."""
    xs = [Tensor._wrap(x) if backend.is_array(x) else x for x in xs]
    first = next((x for x in xs if isinstance(x, Tensor)), None)
    if first is None:
        raise op_error(op_name, "needs at least one tensor operand", TypeError)
    try:
        target = result_dtype(xs)
    except TypeError as exc:
        raise op_error(op_name, str(exc), TypeError) from None
    out = []
    for x in xs:
        if isinstance(x, Tensor):
            out.append(x if x.data.dtype == target else cast(x, target))
        else:
            out.append(as_tensor_like(x, target, first))
    return out


def _adopts(np_dtype, scalar) -> bool:
    """Whether a Python scalar simply takes a tensor's dtype under torch's promotion: any
    float or int with a float tensor, an int with an integer tensor (bools promote)."""
    t = type(scalar)
    kind = np_dtype.kind
    return (t is float and kind == "f") or (t is int and kind in "iuf")


def binary(prim, a, b, **params):
    """Apply a two-operand primitive after torch's type promotion.  The common cases (two
    tensors of one dtype; a tensor and a Python scalar that adopts its dtype) skip the
    general promotion."""
    if isinstance(a, Tensor):
        if isinstance(b, Tensor):
            if a.data.dtype == b.data.dtype:
                return apply(prim, a, b, **params)
        elif _adopts(a.data.dtype, b):
            return apply(prim, a, as_tensor_like(b, a.data.dtype, a), **params)
    elif isinstance(b, Tensor) and _adopts(b.data.dtype, a):
        return apply(prim, as_tensor_like(a, b.data.dtype, b), b, **params)
    a, b = operands(prim.name, a, b)
    return apply(prim, a, b, **params)


from ..tensor import Tensor  # noqa: E402
from .elementwise import CAST  # noqa: E402
