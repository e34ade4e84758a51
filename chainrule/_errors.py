"""Error messages that name the op, the operands and the user's source line."""

from __future__ import annotations

import os
import sys

_PKG_DIR = os.path.dirname(os.path.abspath(__file__))


class OpError(RuntimeError):
    """An op rejected its input.  Subclasses RuntimeError like torch's shape errors and
    ValueError-style failures are re-raised as this with the op, operands and user line."""


def user_frame_location() -> str:
    """``file.py:42`` of the innermost stack frame outside the chainrule package."""
    frame = sys._getframe(1)
    while frame is not None:
        path = os.path.abspath(frame.f_code.co_filename)
        if not path.startswith(_PKG_DIR + os.sep):
            return f"{os.path.basename(path)}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def describe(x) -> str:
    """``(3, 4) float32 cpu`` for a tensor or an array, ``2.0`` for a Python scalar."""
    from . import backend

    data = getattr(x, "data", None)
    if data is not None and hasattr(data, "shape") and hasattr(data, "dtype"):
        x = data  # a Tensor
    elif not (hasattr(x, "shape") and hasattr(x, "dtype")):
        return repr(x)
    try:
        name = backend.from_np(x.dtype).name
    except TypeError:
        name = str(x.dtype)
    return f"{tuple(x.shape)} {name} {backend.device_of(x)}"


def op_error(op: str, msg: str, cls=OpError, *, operands=()) -> Exception:
    """Build the error for ``op``: ``op: msg (operands A, B), at file.py:42``.  Each of
    ``operands`` (tensors, arrays or Python values) is described by ``describe``."""
    if operands:
        msg = f"{msg} (operands {', '.join(describe(x) for x in operands)})"
    return cls(f"{op}: {msg}, at {user_frame_location()}")


def renamed(exc: Exception, op: str) -> Exception:
    """``exc`` (built by ``op_error``: ``inner: msg, at ...``) as raised by ``op``, an
    in-place op that delegated to ``inner``: ``op: msg, at ...``, same class."""
    text = str(exc)
    head, sep, rest = text.partition(": ")
    if not sep or not head.isidentifier() or head in (op, "anomaly") or not rest:
        return exc
    return type(exc)(f"{op}: {rest}")
