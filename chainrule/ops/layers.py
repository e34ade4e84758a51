"""Fused layer primitives (the nn family): one graph node where the composition needs
several, for the layers a training step runs most."""

from __future__ import annotations

from .. import backend
from .registry import primitive

_np = backend.np


@primitive(save=(0, 1))
class linear:
    """``x @ w.T + b`` for x (..., in), w (out, in), b (out,) or absent.

    Fused for speed: one node instead of three (transpose, matmul, add), the bias is added
    in place into the product, and the VJP skips the gradients nobody needs:
    ``input_grad``/``weight_grad`` are the inputs' ``requires_grad`` at the forward (the
    input gradient of a first layer, which costs as much as the forward product, is never
    computed for data that does not require grad).
    """

    def forward(xp, x, w, b=None, *, input_grad=True, weight_grad=True):
        n = x.shape[0]
        if xp is _np and x.ndim == 2 and 2 <= n <= 64 and w.shape[0] >= 2 * n \
                and w.shape[1] >= 128:
            # a small batch through a wide layer: OpenBLAS computes (w @ x.T) with its large
            # dimension first far faster (784->256 at batch 32: 72 instead of 132 us, one
            # thread; 44 instead of 77 us, two), and turning the small (n, out) result
            # back to row-major costs ~2 us.  Larger batches gain nothing from it.
            y = _np.ascontiguousarray(xp.matmul(w, x.T).T)
        else:
            y = xp.matmul(x, w.T)
        if b is not None:
            y += b
        return y

    def vjp(ns, g, out, x, w, b=None, *, input_grad=True, weight_grad=True, into=None):
        gx = ns.matmul(g, w) if input_grad else None
        gw = None
        if weight_grad:
            if x.ndim == 1:
                gw = ns.reshape(g, (g.shape[0], 1)) * ns.reshape(x, (1, x.shape[0]))
            else:
                if x.ndim > 2:  # batch axes merged: (..., n) -> (rows, n)
                    g = ns.reshape(g, (-1, g.shape[-1]))
                    x = ns.reshape(x, (-1, x.shape[-1]))
                dest = into[1] if into is not None else None
                if dest is not None and g.dtype == x.dtype == dest.dtype:
                    # straight into the weight's gradient slot (no copy later)
                    gw = ns.matmul(ns.swapaxes(g, 0, 1), x, out=dest)
                else:
                    gw = ns.matmul(ns.swapaxes(g, 0, 1), x)
        return gx, gw, (g if b is not None else None)
