"""Loss primitives: softmax cross-entropy fused with its log-sum-exp (the hot loss of
training), and binary cross-entropy (clamped logs with a finite gradient at 0 and 1).

The other losses are compositions, in ``chainrule.nn.functional``.
"""

from __future__ import annotations

import contextlib

from .. import backend
from .._errors import OpError, user_frame_location
from .registry import CallState, primitive


class TargetOutOfBounds(OpError, IndexError):
    """A class index outside [0, C) that is not ``ignore_index`` (an IndexError, as in
    torch; an OpError, so the registry passes it through unchanged)."""


class CrossEntropySaved(CallState):
    """What the cross-entropy forward leaves for its backward, so that the first plain
    backward recomputes nothing: the exponentials of the shifted logits and their row sums, the
    targets with ignored rows pointed at class 0 (and as positions in the flattened logits),
    the row weights (None when every row weighs 1), the mask of kept rows (None when none is
    ignored), the class weights, their sum, and the reduction's denominator."""

    __slots__ = ("exp", "sums", "target", "index", "row_weight", "valid", "weight", "weight_sum",
                 "denom")

    def __init__(self):
        self.exp = None

    def __repr__(self) -> str:
        return "<saved softmax>"


@primitive(save="inputs")
class cross_entropy:
    """Softmax cross-entropy of logits ``x`` (N, C) against class indices ``t`` (N,), with
    optional class weights ``w`` (C,), ``ignore_index``, ``label_smoothing`` ε and
    ``reduction``, torch's semantics:

        loss_i = (1 - ε) w[t_i] (lse_i - x[i, t_i]) + ε/C sum_c w_c (lse_i - x[i, c])

    (0 on ignored rows); 'mean' divides the sum by sum_i w[t_i] over kept rows.

    A primitive for stability (log-sum-exp with the row maximum taken out) and speed (one
    node; the gradient reuses the forward's exponentials).  Its gradient is softmax minus
    the (smoothed, weighted) one-hot target:

        d loss_i / d x_ik = c_i [p_ik ((1 - ε) w[t_i] + ε/C sum_j w_j)
                                 - (1 - ε) w[t_i] [k = t_i] - ε/C w_k]

    with p = softmax(x) and c_i the incoming gradient (divided by the denominator for
    'mean'; 0 on ignored rows).
    ``saved`` is a fresh ``CrossEntropySaved`` per call, filled by the forward.
    """

    def forward(xp, x, t, w=None, *, reduction, ignore_index, label_smoothing, saved):
        n, classes = x.shape
        eps = label_smoothing
        valid = None
        if n and (_outside(t, classes) or 0 <= ignore_index < classes):
            ignored = t == ignore_index
            bad = ~ignored & ((t < 0) | (t >= classes))
            if bad.any():
                raise TargetOutOfBounds(
                    f"cross_entropy: Target {int(t[bad][0])} is out of bounds (the input has "
                    f"{classes} classes), at {user_frame_location()}")
            if ignored.any():
                valid = ~ignored
                t = xp.where(ignored, 0, t)
        z = x - x.max(axis=1, keepdims=True)  # shifted logits: exp(z) <= 1
        # each row's target entry, as positions in the flat (N*C) array: one 1-d take here,
        # and the VJP's in-place update of the same entries, cost a third of 2-d indexing
        index = xp.arange(0, n * classes, classes) + t
        z_t = z.reshape(-1).take(index)
        if eps:
            z_sum = z.sum(axis=1) if w is None else z @ w
        e = xp.exp(z, out=z)
        sums = e.sum(axis=1)
        log_sums = xp.log(sums)
        row_weight = None
        if w is not None:
            row_weight = w[t]
            if valid is not None:
                row_weight = row_weight * valid
        elif valid is not None:
            row_weight = valid.astype(x.dtype)
        loss = log_sums - z_t  # -log p[i, t_i]
        if row_weight is not None:
            loss *= row_weight
        weight_sum = float(classes) if w is None else float(w.sum())
        if eps:
            smooth = weight_sum * log_sums - z_sum  # sum_c w_c (lse_i - x_ic)
            if valid is not None:
                smooth *= valid
            loss = (1.0 - eps) * loss + (eps / classes) * smooth
        if reduction == "mean":
            denom = float(n) if row_weight is None else float(row_weight.sum())
        else:
            denom = 1.0
        saved.exp, saved.sums, saved.target, saved.index = e, sums, t, index
        saved.row_weight = row_weight
        saved.valid, saved.weight, saved.weight_sum, saved.denom = valid, w, weight_sum, denom
        if reduction == "none":
            return loss
        total = loss.sum()
        if reduction == "sum":
            return total
        return total / denom if denom else total * float("nan")  # nothing kept: NaN, as torch

    def vjp(ns, g, out, x, t, w=None, *, reduction, ignore_index, label_smoothing, saved):
        c = g  # the incoming gradient per row: 0-d, or (N,) for 'none'
        if reduction == "mean":
            c = g / saved.denom if saved.denom else g * 0  # nothing kept: zero, as torch
        if saved.exp is not None and backend.is_array(g):
            # a plain backward: turn the forward's exponentials into the gradient in place
            return _grad_from_saved(ns.xp, c, label_smoothing, saved), None, None
        # a second backward through a retained graph, or under create_graph (recorded, so
        # that it differentiates again): the same formula, from the saved inputs
        return _grad_on_inputs(ns, c, x, t, w, ignore_index, label_smoothing, saved), None, None


def _outside(t, classes):
    """Whether any class index is outside [0, classes): one pass, the indices read as
    unsigned (a negative index becomes a huge one)."""
    if t.dtype.kind == "i":
        t = t.view(f"u{t.dtype.itemsize}")
    return bool(t.max() >= classes)


def _grad_on_inputs(ns, c, x, t, w, ignore_index, eps, saved):
    """The gradient from ``softmax(x)``, written with ``ns`` only (works on arrays and on
    Tensors)."""
    n, classes = x.shape
    valid = t != ignore_index
    t_safe = ns.where(valid, t, 0)
    cv = ns.where(valid, c, 0)  # c_i on kept rows, 0 on ignored ones; (N,)
    cw = cv if w is None else cv * w[t_safe]
    a = cw if not eps else (1.0 - eps) * cw + (eps / classes) * saved.weight_sum * cv
    grad = ns.softmax(x, axis=1) * ns.reshape(a, (n, 1))
    hit = cw if not eps else (1.0 - eps) * cw
    grad = grad - ns.scatter_add(ns.zeros((n, classes), x), ns.reshape(t_safe, (n, 1)),
                                 ns.reshape(hit, (n, 1)), axis=1)
    if eps:
        spread = ns.reshape((eps / classes) * cv, (n, 1))
        grad = grad - (spread if w is None else spread * w)
    return grad


def _grad_from_saved(xp, c, eps, saved):
    """The gradient from the forward's exponentials, in place (no new (N, C) array); the
    exponentials are consumed, so a later backward through a retained graph recomputes."""
    e, rw, valid = saved.exp, saved.row_weight, saved.valid
    saved.exp = None
    n, classes = e.shape
    cw = c if rw is None else c * rw
    if eps:
        cv = c if valid is None else c * valid
        a = (1.0 - eps) * cw + (eps / classes) * saved.weight_sum * cv
    else:
        a = cw
    grad = e
    grad *= (a / saved.sums)[:, None]  # c_i p_ic (times the row's total target weight)
    target_part = cw if not eps else (1.0 - eps) * cw
    if grad.flags.c_contiguous:
        grad.reshape(-1)[saved.index] -= target_part  # (a view: the same entries)
    else:  # (exponentials in another layout: flat positions would miss them)
        grad[xp.arange(n), saved.target] -= target_part
    if eps:
        spread = (eps / classes) * cv
        if spread.ndim:
            spread = spread[:, None]
        grad -= spread if saved.weight is None else spread * saved.weight
    return grad


def _quiet(xp):
    """Silence NumPy's divide-by-zero warning for log(0) (the clamp handles it)."""
    errstate = getattr(xp, "errstate", None)
    return errstate(divide="ignore") if errstate is not None else contextlib.nullcontext()


@primitive(save="inputs")
class binary_cross_entropy:
    """-(t log x + (1 - t) log(1 - x)) elementwise for probabilities ``x``, each log clamped
    at -100 as in torch (so x = 0 or 1 gives a finite loss).  A primitive so that the
    gradient is finite there too: torch's (x - t) / max(x (1 - x), 1e-12); the target's
    gradient is log(1 - x) - log(x), as torch's (computed only when ``target_grad``, the
    target's ``requires_grad`` at the forward)."""

    def forward(xp, x, t, *, target_grad=False):
        with _quiet(xp):
            log_x = xp.maximum(xp.log(x), -100)
            log_1mx = xp.maximum(xp.log1p(-x), -100)
        return (t - 1) * log_1mx - t * log_x

    def vjp(ns, g, out, x, t, *, target_grad=False):
        d = x * (1 - x)
        gx = g * (x - t) / ns.where(d > 1e-12, d, 1e-12)
        gt = g * (ns.log(1 - x) - ns.log(x)) if target_grad else None
        return gx, gt
