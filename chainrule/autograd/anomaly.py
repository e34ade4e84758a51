"""Anomaly mode: the first NaN or Inf produced in forward or backward raises an error that
names the op and the user's source line where that op was called.

While it is on, every op records the user's source line (a stack walk per op: slow, for
debugging only), checks its forward result, and the engine checks every gradient a VJP
returns.
"""

from __future__ import annotations

import functools

from .grad_mode import state


class detect_anomaly:
    """Context manager (and decorator) turning anomaly detection on inside it."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self._prev = state.anomaly
        state.anomaly = self.check_nan
        return self

    def __exit__(self, *exc):
        state.anomaly = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with detect_anomaly(self.check_nan):
                return fn(*args, **kwargs)

        return wrapper


class set_detect_anomaly(detect_anomaly):
    """``set_detect_anomaly(mode)``: as a plain call it sets anomaly mode at once (and keeps
    it); as a context manager it sets it inside and restores it after."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self._prev = state.anomaly
        self.check_nan = bool(mode) and bool(check_nan)
        state.anomaly = self.check_nan

    def __enter__(self):
        return self

    def __call__(self, fn):
        state.anomaly = self._prev  # decorating must not change the mode
        return super().__call__(fn)


def is_anomaly_enabled() -> bool:
    return state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    return state.anomaly
