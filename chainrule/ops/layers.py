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
        if xp is _np and x.ndim == 2 and _small_batch(x.shape[0], w):
            # a small batch through a wide layer: OpenBLAS computes (w @ x.T) with its large
            # dimension first faster, and turning the small (n, out) result back to
            # row-major costs ~2 us (see _small_batch)
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
                if dest is not None and (g.dtype != x.dtype or g.dtype != dest.dtype):
                    dest = None
                if _column_major(w) and getattr(ns, "xp", None) is _np:
                    # the weight's own layout (nn.Linear's): gw.T = x.T @ g, row-major, which
                    # OpenBLAS also computes faster (two threads, 784->256 at batch 32: 34
                    # instead of 62 us); into the gradient slot when there is one
                    if dest is None:
                        dest = _np.empty(w.shape, dtype=g.dtype, order="F")
                    _np.matmul(x.T, g, out=dest.T)
                    gw = dest
                elif dest is not None:  # straight into the weight's gradient slot
                    gw = ns.matmul(ns.swapaxes(g, 0, 1), x, out=dest)
                else:
                    gw = ns.matmul(ns.swapaxes(g, 0, 1), x)
        return gx, gw, (g if b is not None else None)


def _column_major(w) -> bool:
    """Whether the 2-d array ``w`` is stored column by column (nn.Linear's weights); read
    from the strides (cheaper than ``flags``; the VJP also runs on Tensors, which have no
    strides and count as row-major)."""
    strides = getattr(w, "strides", None)
    if strides is None or len(strides) != 2:
        return False
    rows, cols = w.shape
    return strides == (w.itemsize, rows * w.itemsize) and rows > 1 and cols > 1


def _small_batch(n, w) -> bool:
    """Whether the forward of a batch of ``n`` rows is faster as ``(w @ x.T).T`` (measured
    with OpenBLAS 0.3.31, SkylakeX kernels, one and two threads).  Row-major w: for n <= 64
    when out >= 2n and in >= 128 (784->256 at n = 32: 72 instead of 132 us, one thread; 44
    instead of 77, two).  Column-major w (nn.Linear's): only for wide layers (784->1024 at
    n = 32: 355 instead of 531 us, one thread; 201 instead of 302, two); narrower ones
    gain nothing or lose."""
    out, inp = w.shape
    if not 2 <= n <= 64:
        return False
    if _column_major(w):
        return out >= 4 * n and inp >= 512
    return out >= 2 * n and inp >= 128
