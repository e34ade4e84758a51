"""Shape primitives.  Views in NumPy (reshape, transpose, broadcast_to) share the input's
version counter, as torch's views do, so that an in-place change through either is seen."""

from __future__ import annotations

from .registry import primitive


@primitive(save="")
class reshape:
    def forward(xp, x, shape):
        return x.reshape(shape)

    def vjp(ns, g, out, x, shape):
        return (ns.reshape(g, x.shape),)


@primitive(save="")
class transpose:
    """Permute axes (torch's ``permute``; ``transpose``/``t``/``T``/``mT`` are built on it)."""

    def forward(xp, x, axes):
        return x.transpose(axes)

    def vjp(ns, g, out, x, axes):
        inverse = tuple(sorted(range(len(axes)), key=axes.__getitem__))
        return (ns.transpose(g, inverse),)


@primitive(save="")
class broadcast_to:
    """torch's ``expand``: the engine sums the gradient back to the input's shape."""

    def forward(xp, x, shape):
        return xp.broadcast_to(x, shape)

    def vjp(ns, g, out, x, shape):
        return (g,)


@primitive(save="")
class tile:
    """torch's ``repeat``: the gradient of each copy is summed back onto the original."""

    def forward(xp, x, reps):
        return xp.tile(x, reps)

    def vjp(ns, g, out, x, reps):
        shape = (1,) * (len(reps) - x.ndim) + tuple(x.shape)
        split = []
        for r, s in zip(reps, shape):
            split += [r, s]
        summed = ns.sum(ns.reshape(g, tuple(split)), axis=tuple(range(0, 2 * len(reps), 2)))
        return (ns.reshape(summed, x.shape),)


@primitive(save="")
class concatenate:
    """torch's ``cat``: the gradient is cut back into the pieces."""

    def forward(xp, *xs, axis):
        return xp.concatenate(xs, axis=axis)

    def vjp(ns, g, out, *xs, axis):
        grads, start = [], 0
        lead = (slice(None),) * axis
        for x in xs:
            stop = start + x.shape[axis]
            grads.append(g[lead + (slice(start, stop),)])
            start = stop
        return tuple(grads)


@primitive(save="")
class flip:
    def forward(xp, x, axis):
        return xp.flip(x, axis)

    def vjp(ns, g, out, x, axis):
        return (ns.flip(g, axis),)
