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
    """``(3, 4) float32 cpu`` for a tensor, ``2.0`` for a Python scalar."""
    data = getattr(x, "data", None)
    if data is not None and hasattr(data, "shape"):
        from . import backend

        return f"{tuple(data.shape)} {backend.from_np(data.dtype).name} {backend.device_of(data)}"
    if hasattr(x, "shape"):
        return f"{tuple(x.shape)} {x.dtype}"
    return repr(x)


def op_error(op: str, msg: str, cls=OpError) -> Exception:
    """Build the error for ``op``, ending with the user's source line."""
    return cls(f"{op}: {msg}, at {user_frame_location()}")
