"""Reductions.  ``axis`` is a tuple of non-negative ints or None (all axes); the Tensor
boundary translates torch's ``dim``/``keepdim``.  A reduction's VJP puts the reduced axes
back (``_expand``) and broadcasts the gradient over them."""

from __future__ import annotations

from .registry import primitive


def _expand(ns, g, ndim, axis, keepdims):
    """Re-insert reduced axes as size 1 so that ``g`` broadcasts against the input."""
    if keepdims or ndim == 0:
        return g
    axes = range(ndim) if axis is None else axis
    shape = list(g.shape)
    for a in sorted(axes):
        shape.insert(a, 1)
    return ns.reshape(g, tuple(shape))


@primitive(save="")
class sum:
    def forward(xp, x, axis=None, keepdims=False):
        return xp.sum(x, axis=axis, keepdims=keepdims)

    def vjp(ns, g, out, x, axis=None, keepdims=False):
        return (ns.broadcast_to(_expand(ns, g, x.ndim, axis, keepdims), x.shape),)


@primitive(save="both")
class prod:
    """Gradient = product of the other elements; computed without dividing by x, so zeros
    are handled exactly."""

    def forward(xp, x, axis=None, keepdims=False):
        return xp.prod(x, axis=axis, keepdims=keepdims)

    def vjp(ns, g, out, x, axis=None, keepdims=False):
        g = _expand(ns, g, x.ndim, axis, keepdims)
        return (g * ns.prod_others(x, axis),)


@primitive(save="both")
class prod_others:
    """For each element, the product of the *other* elements along ``axis`` (None: all),
    via exclusive cumulative products from both ends (exact with zeros).  Its VJP is the
    second-order rule of ``prod``; it is exact with zeros too (see ``_leave_two_out``)."""

    def forward(xp, x, axis=None):
        if x.ndim == 0:
            return xp.ones_like(x)
        if axis is None:
            return _others_1d(xp, x.reshape(-1), 0).reshape(x.shape)
        # move the reduced axes last, merge them, and take products along that one axis
        flat = xp.moveaxis(x, axis, tuple(range(-len(axis), 0)))
        lead = flat.shape[: x.ndim - len(axis)]
        merged = flat.reshape(lead + (-1,))
        res = _others_1d(xp, merged, -1).reshape(flat.shape)
        return xp.moveaxis(res, tuple(range(-len(axis), 0)), axis)

    def vjp(ns, g, out, x, axis=None):
        # d/dx_j sum_i g_i prod_{k != i} x_k = sum_{i != j} g_i prod_{k != i, j} x_k
        if x.ndim == 0:
            return (g * 0,)  # the product of no other element is the constant 1
        if not bool((x == 0).any()):
            total = ns.sum(g * out, axis=axis, keepdims=True)
            return ((total - g * out) / x,)
        return (_leave_two_out(ns, g, x, axis),)


def _leave_two_out(ns, g, x, axis):
    """``V_j = sum_{i != j} g_i prod_{k != i, j} x_k`` within each group of ``axis`` when
    some ``x`` are zero, without dividing by them.  Split each group into its zeros ``Z``
    and non-zeros ``N``; with ``Ps`` / ``Pu`` the products of the other elements over ``N``
    / ``Z`` alone (the rest replaced by 1):

    * j in N:  ``V_j = C * W_j + Ps_j * sum_{i in Z} g_i Pu_i`` where ``C = prod_Z x`` and
      ``W_j = sum_{i in N, i != j} g_i prod_{k in N, k != i, j} x_k`` (divides by N only);
    * j in Z:  ``V_j = Pu_j * sum_{i in N} g_i Ps_i + Q * S_j`` where ``Q = prod_N x`` and
      ``S_j = sum_{i in Z, i != j} g_i prod_{k in Z, k != i, j} x_k`` (non-zero only when
      Z = {i, j}: then it is ``g_i``).

    Every zero keeps its multiplicative place (``C``, ``Pu``), so differentiating this once
    more is exact too (only the ``S_j`` term is taken as constant in x)."""
    zero = x == 0
    xs = ns.where(zero, 1, x)  # N's values, 1 on Z
    xu = ns.where(zero, x, 1)  # Z's values (zeros that still carry their gradient), 1 on N
    gs = ns.where(zero, 0, g)
    ps = ns.prod_others(xs, axis)
    pu = ns.prod_others(xu, axis)

    def total(a):
        return ns.sum(a, axis=axis, keepdims=True)

    ts = total(gs * ps)
    w = (ts - gs * ps) / xs
    on_n = (xu * pu) * w + ps * total(ns.where(zero, g * pu, 0))
    nz = total(ns.where(zero, 1.0, 0.0))
    s = ns.where(nz == 2, total(g - gs) - g, 0)  # g on Z summed, minus g_j
    on_z = pu * ts + (xs * ps) * s
    return ns.where(zero, on_z, on_n)


def _others_1d(xp, x, axis):
    n = x.shape[axis]
    ones_shape = list(x.shape)
    ones_shape[axis] = 1
    one = xp.ones(ones_shape, dtype=x.dtype)
    left = xp.cumprod(xp.concatenate([one, x], axis=axis), axis=axis)
    right = xp.flip(xp.cumprod(xp.flip(xp.concatenate([x, one], axis=axis), axis), axis=axis), axis)
    take = [slice(None)] * x.ndim
    take[axis] = slice(0, n)
    left = left[tuple(take)]
    take[axis] = slice(1, n + 1)
    return left * right[tuple(take)]


@primitive(save="both")
class amax:
    """Max over axes; ties share the gradient equally (as torch.amax)."""

    def forward(xp, x, axis=None, keepdims=False):
        return xp.max(x, axis=axis, keepdims=keepdims)

    def vjp(ns, g, out, x, axis=None, keepdims=False):
        return (_extremum_grad(ns, g, out, x, axis, keepdims),)


@primitive(save="both")
class amin:
    """Min over axes; ties share the gradient equally (as torch.amin)."""

    def forward(xp, x, axis=None, keepdims=False):
        return xp.min(x, axis=axis, keepdims=keepdims)

    def vjp(ns, g, out, x, axis=None, keepdims=False):
        return (_extremum_grad(ns, g, out, x, axis, keepdims),)


def _extremum_grad(ns, g, out, x, axis, keepdims):
    extreme = _expand(ns, out, x.ndim, axis, keepdims)
    hit = x == extreme
    if bool((out != out).any()):  # a NaN result comes from the NaNs (shared, as torch.max)
        hit = hit | ((x != x) & (extreme != extreme))
    count = ns.sum(ns.where(hit, 1.0, 0.0), axis=axis, keepdims=True)
    return ns.where(hit, _expand(ns, g, x.ndim, axis, keepdims) / count, 0)


@primitive(save="")
class cumsum:
    def forward(xp, x, axis):
        return xp.cumsum(x, axis=axis)

    def vjp(ns, g, out, x, axis):
        return (ns.flip(ns.cumsum(ns.flip(g, axis), axis), axis),)


@primitive(save="both")
class norm2:
    """Euclidean norm.  A primitive so that the gradient at a zero vector is 0 (torch's
    subgradient) instead of the 0/0 that sqrt(sum(x*x)) gives."""

    def forward(xp, x, axis=None, keepdims=False):
        return xp.sqrt(xp.sum(x * x, axis=axis, keepdims=keepdims))

    def vjp(ns, g, out, x, axis=None, keepdims=False):
        norm = _expand(ns, out, x.ndim, axis, keepdims)
        safe = ns.where(norm == 0, 1, norm)
        return (_expand(ns, g, x.ndim, axis, keepdims) * x / safe,)
