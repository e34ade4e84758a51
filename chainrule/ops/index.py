"""Indexing primitives.  Reading by index and adding into zeros by index are each other's
adjoints: the VJP of one is the other, so indexing is differentiable to any order.
Repeated indices accumulate (``add.at`` semantics), as in torch."""

from __future__ import annotations

from .registry import primitive


def _is_basic(index) -> bool:
    """True when ``index`` only slices (ints, slices, None, Ellipsis): no element repeats."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice)) for i in items)


@primitive(save="")
class getitem:
    """``x[index]``; ``index`` holds ints, slices, None, Ellipsis and integer arrays (boolean
    masks are turned into integer arrays at the Tensor boundary)."""

    def forward(xp, x, index):
        return x[index]

    def vjp(ns, g, out, x, index):
        return (ns.index_add_zeros(g, index=index, shape=x.shape),)


@primitive(save="")
class index_add_zeros:
    """Zeros of ``shape`` with ``g`` added at ``index`` (the adjoint of ``getitem``)."""

    def forward(xp, g, index, shape):
        out = xp.zeros(shape, dtype=g.dtype)
        if _is_basic(index):
            out[index] = g
        else:
            xp.add.at(out, index, g)
        return out

    def vjp(ns, gg, out, g, index, shape):
        return (gg[index],)


def _along_axis_index(xp, idx, axis):
    """The full advanced index that addresses ``x[..., idx[...], ...]`` along ``axis``."""
    # open grids by hand: NumPy's indices(shape, sparse=True), which CuPy lacks
    n = idx.ndim
    grids = [xp.arange(s).reshape((1,) * i + (s,) + (1,) * (n - i - 1))
             for i, s in enumerate(idx.shape)]
    grids[axis] = idx
    return tuple(grids)


@primitive(save=(1,))
class take_along_axis:
    """torch's ``gather``/``take_along_dim``; ``idx`` is an integer tensor (no gradient)."""

    def forward(xp, x, idx, axis):
        return xp.take_along_axis(x, idx, axis)

    def vjp(ns, g, out, x, idx, axis):
        return ns.scatter_add(ns.zeros(x.shape, g), idx, g, axis=axis), None


@primitive(save=(1,))
class scatter_add:
    """torch's ``scatter_add(dim, index, src)``: ``x`` with ``src`` added at ``index`` along
    ``axis``; only the leading ``index.shape`` block of ``src`` is used, as in torch."""

    def forward(xp, x, idx, src, axis):
        out = x.copy()
        src = src[tuple(slice(0, n) for n in idx.shape)]
        xp.add.at(out, _along_axis_index(xp, idx, axis), src)
        return out

    def vjp(ns, g, out, x, idx, src, axis):
        # index may be smaller than the input outside ``axis``: read the matching block of g
        block = tuple(slice(None) if k == axis else slice(0, n) for k, n in enumerate(idx.shape))
        gsrc = ns.take_along_axis(g[block], idx, axis=axis)
        if tuple(gsrc.shape) != tuple(src.shape):  # src positions beyond index get nothing
            pad = [(0, s - n) for s, n in zip(src.shape, gsrc.shape)]
            gsrc = ns.pad_zeros(gsrc, pad=tuple(pad))
        return g, None, gsrc


@primitive(save="")
class pad_zeros:
    """Zero padding, ``pad`` = ((before, after), ...) per axis; used by VJPs and F.pad."""

    def forward(xp, x, pad):
        return xp.pad(x, pad)

    def vjp(ns, g, out, x, pad):
        return (g[tuple(slice(b, b + n) for (b, _), n in zip(pad, x.shape))],)
