"""Special functions: primitives because NumPy has no ``erf``, and because ``log(sigmoid(x))``
composed overflows or loses its gradient at 0 (``logsigmoid``)."""

from __future__ import annotations

import math

from .registry import primitive

_TWO_OVER_SQRT_PI = 2.0 / math.sqrt(math.pi)
_SQRT_PI = math.sqrt(math.pi)

# erf in float64 to about 1e-15 relative error (checked against a reference on a dense grid
# in tests/nn): a series for |x| < 2.5, a continued fraction for erfc above.
_SPLIT = 2.5
_SERIES_TERMS = 36
_FRACTION_DEPTH = 24


def erf_array(xp, x):
    """erf of a float array (NumPy or CuPy), computed in float64, returned in x's dtype.

    |x| < 2.5: erf(x) = 2/sqrt(pi) x exp(-x^2) sum_n (2x^2)^n / (1*3*...*(2n+1)), a series of
    positive terms (no cancellation).  |x| >= 2.5: erfc(x) = exp(-x^2) / sqrt(pi) /
    (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated bottom-up.
    """
    a = xp.abs(x.astype(xp.float64))
    out = xp.empty_like(a)
    small = a < _SPLIT
    s = a[small]
    two_s2 = 2.0 * s * s
    term = xp.ones_like(s)
    total = xp.ones_like(s)
    for n in range(_SERIES_TERMS):
        term = term * two_s2 / (2 * n + 3)
        total += term
    out[small] = _TWO_OVER_SQRT_PI * s * xp.exp(-s * s) * total
    large = ~small  # includes NaN, which propagates through the fraction
    b = a[large]
    f = b.copy()
    for k in range(_FRACTION_DEPTH, 0, -1):
        f = b + (0.5 * k) / f
    out[large] = 1.0 - xp.exp(-b * b) / (_SQRT_PI * f)
    return (xp.sign(x) * out).astype(x.dtype, copy=False)


@primitive(save="inputs")
class erf:
    """The error function; d/dx erf(x) = 2/sqrt(pi) exp(-x^2)."""

    def forward(xp, x):
        return erf_array(xp, x)

    def vjp(ns, g, out, x):
        return (g * _TWO_OVER_SQRT_PI * ns.exp(-(x * x)),)


@primitive(save="both")
class log_sigmoid:
    """log(sigmoid(x)) = min(x, 0) - log1p(exp(-|x|)): a primitive for stability (exp only
    of non-positive numbers) and so that the gradient at 0 is exact (a composition through
    abs and min gets 0 there instead of 1/2)."""

    def forward(xp, x):
        return xp.minimum(x, 0) - xp.log1p(xp.exp(-xp.abs(x)))

    def vjp(ns, g, out, x):
        # d/dx log sigmoid(x) = 1 - sigmoid(x) = sigmoid(-x) = exp(log sigmoid(x) - x)
        return (g * ns.exp(out - x),)
