"""Grad mode: whether operations record the graph.

A plain module-level flag (read on every op, so kept as cheap as possible).  The context
managers below also work as decorators, as in torch: ``@no_grad()``, ``@no_grad``,
``@enable_grad()``, ``@set_grad_enabled(False)``, ``@inference_mode()``.
"""

from __future__ import annotations

import functools
import inspect


class _State:
    __slots__ = ("enabled", "anomaly", "inference", "func_depth", "recorder")

    def __init__(self):
        self.enabled = True
        self.anomaly = False
        self.inference = False
        self.func_depth = 0  # nesting depth of chainrule.func transforms
        self.recorder = None  # chainrule.compile's recorder while it records a step


state = _State()


def is_grad_enabled() -> bool:
    return state.enabled


def is_inference_mode_enabled() -> bool:
    return state.inference


class _GradModeContext:
    """Base for grad-mode context managers that can also decorate functions.  ``_target``
    is the grad mode inside (None: unchanged), ``_inference`` the inference flag (None:
    unchanged)."""

    _target: bool | None = True
    _inference: bool | None = None

    def _enter(self):
        prev = (state.enabled, state.inference)
        if self._target is not None:
            state.enabled = self._target
        if self._inference is not None:
            state.inference = self._inference
        return prev

    def __enter__(self):
        self._prev = self._enter()
        return self

    def __exit__(self, *exc):
        state.enabled, state.inference = self._prev
        return False

    def __call__(self, fn):
        """Decorate ``fn`` (a function or a generator function) to run in this mode."""
        if inspect.isgeneratorfunction(fn):

            @functools.wraps(fn)
            def generator(*args, **kwargs):
                # the mode holds while the generator body runs, not between its yields
                gen = fn(*args, **kwargs)
                method, arg = gen.send, None
                while True:
                    prev = self._enter()
                    try:
                        value = method(arg)
                    except StopIteration as stop:
                        return stop.value
                    finally:
                        state.enabled, state.inference = prev
                    try:
                        arg = yield value
                        method = gen.send
                    except GeneratorExit:
                        gen.close()
                        raise
                    except BaseException as exc:
                        method, arg = gen.throw, exc

            return generator

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            prev = self._enter()
            try:
                return fn(*args, **kwargs)
            finally:
                state.enabled, state.inference = prev

        return wrapper


class _NoArgGradMode(_GradModeContext):
    """Also usable bare as a decorator (``@no_grad``), as in torch."""

    def __new__(cls, orig_func=None):
        if orig_func is None:
            return super().__new__(cls)
        return cls()(orig_func)


class no_grad(_NoArgGradMode):
    """Context manager / decorator: operations inside record no graph."""

    _target = False


class enable_grad(_NoArgGradMode):
    """Context manager / decorator: turn recording back on inside ``no_grad``."""

    _target = True


class inference_mode(_GradModeContext):
    """``no_grad`` for inference (chainrule has no separate inference tensors);
    ``inference_mode(False)`` leaves grad mode as it is."""

    def __new__(cls, mode=True):
        if callable(mode) and not isinstance(mode, bool):  # bare @inference_mode
            return cls(True)(mode)
        return super().__new__(cls)

    def __init__(self, mode: bool = True):
        self._target = False if mode else None
        self._inference = bool(mode)


class set_grad_enabled(_GradModeContext):
    """``set_grad_enabled(mode)``: as a plain call it sets the mode at once (and keeps it);
    as a context manager or decorator it sets it inside and restores it after."""

    def __init__(self, mode: bool):
        if not isinstance(mode, bool):
            raise TypeError(f"set_grad_enabled: mode must be a bool, got {type(mode).__name__}")
        self._target = mode
        self._prev = (state.enabled, state.inference)
        state.enabled = mode  # as in torch, calling it sets the mode immediately

    def __enter__(self):
        return self  # the mode was set by the call; __exit__ restores the one before it

    def __call__(self, fn):
        state.enabled, state.inference = self._prev  # decorating must not change the mode
        return super().__call__(fn)

    def clone(self):
        return self.__class__(self._target)
