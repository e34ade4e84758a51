"""Linear algebra primitives."""

from __future__ import annotations

from .registry import primitive


def _mT(ns, a):
    return ns.swapaxes(a, -1, -2)


@primitive(save="inputs")
class matmul:
    """``numpy.matmul`` semantics: 1-D operands are promoted then squeezed, batch axes
    broadcast (the engine sums the gradient back over broadcast batch axes)."""

    def forward(xp, a, b):
        return xp.matmul(a, b)

    def vjp(ns, g, out, a, b, needs=(True, True)):
        # needs: skip the product nobody wants (the gradient of a first layer's data costs
        # as much as the forward matmul)
        need_a, need_b = needs
        if a.ndim == 1 and b.ndim == 1:  # dot product
            return (g * b if need_a else None), (g * a if need_b else None)
        if a.ndim == 1:  # (k,) @ (..., k, n) -> (..., n)
            ga = ns.matmul(g[..., None, :], _mT(ns, b))[..., 0, :] if need_a else None
            gb = a[:, None] * g[..., None, :] if need_b else None
            return ga, gb
        if b.ndim == 1:  # (..., m, k) @ (k,) -> (..., m)
            ga = g[..., :, None] * b if need_a else None
            gb = ns.matmul(_mT(ns, a), g[..., :, None])[..., 0] if need_b else None
            return ga, gb
        return (ns.matmul(g, _mT(ns, b)) if need_a else None,
                ns.matmul(_mT(ns, a), g) if need_b else None)


@primitive(save="inputs")
class einsum:
    """``einsum(subscripts, *operands)`` with explicit output (``ij,jk->ik``); the VJP of
    each operand is another einsum of the gradient with the other operands."""

    def forward(xp, *xs, spec):
        ins, out = spec
        return xp.einsum(",".join(ins) + "->" + out, *xs)

    def vjp(ns, g, out, *xs, spec):
        ins, out_sub = spec
        grads = []
        for i, (x, sub) in enumerate(zip(xs, ins)):
            others = [s for j, s in enumerate(ins) if j != i]
            available = set(out_sub).union(*others) if others else set(out_sub)
            keep = "".join(c for c in sub if c in available)
            rest = [xs[j] for j in range(len(xs)) if j != i]
            gi = ns.einsum(g, *rest, spec=([out_sub] + others, keep))
            if keep != sub:  # letters summed in this operand alone: broadcast back
                shape = tuple(x.shape[k] if c in available else 1 for k, c in enumerate(sub))
                gi = ns.broadcast_to(ns.reshape(gi, shape), x.shape)
            grads.append(gi)
        return tuple(grads)
