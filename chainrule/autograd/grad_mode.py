"""Grad mode: whether operations record the graph.

A plain module-level flag (read on every op, so kept as cheap as possible); the context
managers below also work as decorators, as in torch.
"""

from __future__ import annotations

import functools


class _State:
    __slots__ = ("enabled", "anomaly", "func_depth")

    def __init__(self):
        self.enabled = True
        self.anomaly = False
        self.func_depth = 0  # nesting depth of chainrule.func transforms


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


class _GradModeContext:
    """Base for grad-mode context managers that can also decorate functions."""

    _target: bool

    def __enter__(self):
        self._prev = state.enabled
        state.enabled = self._target
        return self

    def __exit__(self, *exc):
        state.enabled = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            ctx = _GradModeContext.__new__(_GradModeContext)
            ctx._target = self._target
            with ctx:
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeContext):
    """Context manager / decorator: operations inside record no graph."""

    _target = False


class enable_grad(_GradModeContext):
    """Context manager / decorator: turn recording back on inside ``no_grad``."""

    _target = True


class inference_mode(no_grad):
    """Alias of ``no_grad`` (chainrule has no separate inference tensors)."""

    def __init__(self, mode: bool = True):
        self._target = not mode


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(False)`` as a function call, context manager or decorator."""

    def __init__(self, mode: bool):
        self._target = bool(mode)
        self._prev = state.enabled
        state.enabled = self._target  # as in torch, calling it sets the mode immediately

    def __enter__(self):
        return self
