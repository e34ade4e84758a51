"""The softmax family: primitives for numerical stability (the maximum is subtracted before
exponentiating, so logits of 1e4 do not overflow)."""

from __future__ import annotations

from .registry import primitive


@primitive(save="out")
class softmax:
    def forward(xp, x, axis):
        if x.size == 0:  # nothing to normalize (max over an empty axis has no identity)
            return x.copy()
        e = xp.exp(x - xp.max(x, axis=axis, keepdims=True))
        return e / xp.sum(e, axis=axis, keepdims=True)

    def vjp(ns, g, out, x, axis):
        return (out * (g - ns.sum(g * out, axis=axis, keepdims=True)),)


@primitive(save="out")
class log_softmax:
    def forward(xp, x, axis):
        if x.size == 0:
            return x.copy()
        shifted = x - xp.max(x, axis=axis, keepdims=True)
        return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))

    def vjp(ns, g, out, x, axis):
        return (g - ns.exp(out) * ns.sum(g, axis=axis, keepdims=True),)
