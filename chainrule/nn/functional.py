"""``chainrule.nn.functional``: torch.nn.functional's names, signatures and defaults.

Most functions are compositions of chainrule ops (their gradients follow from the ops'
VJPs).  A few are primitives in ``chainrule.ops`` for speed or stability, and say so:
``linear`` (ops/layers.py), ``cross_entropy`` on class indices and ``binary_cross_entropy``
(ops/loss.py), ``logsigmoid`` and the ``erf`` inside ``gelu`` (ops/special.py).
"""

from __future__ import annotations

import math
import warnings

from .. import backend, random
from .._errors import op_error
from ..autograd.grad_mode import no_grad
from ..ops import functional as _ops
from ..ops import layers as _layers
from ..ops import loss as _loss
from ..ops import special as _special
from ..ops.index import pad_zeros as _index_pad
from ..ops.operands import cast as _cast
from ..ops.registry import apply
from ..tensor import Tensor

_np = backend.np

__all__ = [
    # linear, dropout, embedding, normalization
    "linear", "dropout", "embedding", "layer_norm", "batch_norm", "one_hot", "normalize", "pad",
    # activations
    "relu", "relu_", "relu6", "hardtanh", "leaky_relu", "elu", "selu", "gelu", "silu",
    "softplus", "sigmoid", "tanh", "logsigmoid", "softmax", "softmin", "log_softmax",
    # losses
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
]


# --------------------------------------------------------------------------- helpers


def _check_tensor(op, x, name="input"):
    if not isinstance(x, Tensor):
        raise op_error(op, f"{name} must be a Tensor, got {type(x).__name__}", TypeError)
    return x


def _float(op, x):
    """Integer inputs become the default float dtype (as torch's float-valued ops)."""
    _check_tensor(op, x)
    if x.data.dtype.kind != "f":
        return _cast(x, backend.get_default_dtype().np)
    return x


def _const(array):
    return Tensor._wrap(array)


def _inplace(input, name, compute):
    """``compute(input)`` written into ``input`` (torch's ``inplace=True``), recorded."""
    return input._inplace(name, compute)


_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce) -> str:
    """torch's translation of the deprecated ``size_average``/``reduce`` flags."""
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    ret = "mean" if (size_average and reduce) else ("sum" if reduce else "none")
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{ret}' instead.", stacklevel=3)
    return ret


def _reduction(op, size_average, reduce, reduction, allowed=_REDUCTIONS) -> str:
    if size_average is not None or reduce is not None:
        return _legacy_reduction(size_average, reduce)
    if reduction not in allowed:
        raise op_error(op, f"{reduction} is not a valid value for reduction", ValueError)
    return reduction


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.mean()


def _weighted(loss, weight, reduction, mean_by_weight=True):
    """Multiply by an elementwise ``weight`` (same size as the input, torch's rule for
    mse/l1/huber) and reduce: 'mean' divides by ``weight.sum()`` (huber: by the count)."""
    loss = loss * weight
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return loss.sum() / weight.sum() if mean_by_weight else loss.mean()


def _check_same_size(op, input, target):
    if tuple(target.shape) != tuple(input.shape):
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input "
                      f"size ({input.shape}). This will likely lead to incorrect results due "
                      "to broadcasting. Please ensure they have the same size.", stacklevel=3)


# --------------------------------------------------------------------------- linear


def linear(input, weight, bias=None):
    """``input @ weight.T + bias``: input (*, in_features), weight (out_features,
    in_features), bias (out_features,).  One fused primitive (ops/layers.py)."""
    x, w = input, weight
    xs, ws = x.data.shape, w.data.shape
    if len(ws) != 2 or not xs or xs[-1] != ws[1]:
        rows = "x".join(str(s) for s in (xs if len(xs) <= 2 else (-1, xs[-1])))
        raise op_error("linear", f"input and weight shapes cannot be multiplied (input {rows} "
                       f"and weight.T {'x'.join(str(s) for s in ws[::-1])}; in_features "
                       f"{xs[-1] if xs else None} != {ws[1] if len(ws) == 2 else ws})",
                       RuntimeError)
    if x.data.dtype != w.data.dtype:
        raise op_error("linear", f"input and weight must have the same dtype, but got "
                       f"{x.dtype} and {w.dtype}", RuntimeError)
    if bias is None:
        return apply(_layers.linear, x, w, input_grad=x.requires_grad,
                     weight_grad=w.requires_grad)
    if bias.data.shape not in ((ws[0],), (1,), ()) or bias.data.dtype != w.data.dtype:
        raise op_error("linear", f"bias of shape {tuple(bias.shape)} and dtype {bias.dtype} "
                       f"does not fit out_features={ws[0]} ({w.dtype})", RuntimeError)
    return apply(_layers.linear, x, w, bias, input_grad=x.requires_grad,
                 weight_grad=w.requires_grad)


# --------------------------------------------------------------------------- activations


def relu(input, inplace: bool = False):
    if inplace:
        return input.relu_()
    return _ops.relu(input)


def relu_(input):
    return input.relu_()


def _hardtanh(x, min_val, max_val):
    # gradient 0 on the bounds themselves (torch's hardtanh_backward), unlike clamp's 1
    outside = (x <= min_val) | (x >= max_val)
    return _ops.where(outside, _ops.clamp(x, min_val, max_val).detach(), x)


def hardtanh(input, min_val: float = -1.0, max_val: float = 1.0, inplace: bool = False):
    """x clamped to [min_val, max_val]; the gradient is 1 strictly inside, else 0."""
    if min_val > max_val:
        raise op_error("hardtanh", "min_val cannot be greater than max_val", ValueError)
    if inplace:
        return _inplace(input, "hardtanh_", lambda x: _hardtanh(x, min_val, max_val))
    return _hardtanh(input, min_val, max_val)


def relu6(input, inplace: bool = False):
    return hardtanh(input, 0.0, 6.0, inplace)


def _leaky_relu(x, negative_slope):
    # x > 0 picks x; at 0 the slope branch gives torch's gradient (negative_slope)
    return _ops.where(x > 0, x, x * negative_slope)


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """x where x > 0, else negative_slope * x."""
    if inplace:
        return _inplace(input, "leaky_relu_", lambda x: _leaky_relu(x, negative_slope))
    return _leaky_relu(input, negative_slope)


def _elu(x, alpha, scale=1.0):
    # expm1 of min(x, 0): the unused branch never overflows (no inf * 0 in the gradient)
    neg = _ops.expm1(_ops.clamp(x, max=0.0)) * alpha
    out = _ops.where(x > 0, x, neg)
    return out * scale if scale != 1.0 else out


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """x where x > 0, else alpha * (exp(x) - 1)."""
    x = _float("elu", input)
    if inplace:
        return _inplace(input, "elu_", lambda t: _elu(t, alpha))
    return _elu(x, alpha)


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(input, inplace: bool = False):
    """scale * elu(x, alpha) with the self-normalizing constants."""
    x = _float("selu", input)
    if inplace:
        return _inplace(input, "selu_", lambda t: _elu(t, _SELU_ALPHA, _SELU_SCALE))
    return _elu(x, _SELU_ALPHA, _SELU_SCALE)


_SQRT1_2 = 1.0 / math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def gelu(input, approximate: str = "none"):
    """x * Phi(x) with Phi the standard normal CDF, exactly via erf (``'none'``) or by
    torch's tanh approximation (``'tanh'``)."""
    x = _float("gelu", input)
    if approximate == "none":
        return x * 0.5 * (1.0 + apply(_special.erf, x * _SQRT1_2))
    if approximate == "tanh":
        inner = (x + 0.044715 * x * x * x) * _SQRT_2_OVER_PI
        return x * 0.5 * (1.0 + _ops.tanh(inner))
    raise op_error("gelu", f"approximate argument must be either none or tanh, got "
                   f"{approximate!r}", RuntimeError)


def erf(input):
    """The error function (a primitive: NumPy has none)."""
    return apply(_special.erf, _float("erf", input))


def silu(input, inplace: bool = False):
    """x * sigmoid(x) (swish)."""
    x = _float("silu", input)
    if inplace:
        return _inplace(input, "silu_", lambda t: t * _ops.sigmoid(t))
    return x * _ops.sigmoid(x)


def logsigmoid(input):
    """log(sigmoid(x)), computed stably (a primitive)."""
    return apply(_special.log_sigmoid, _float("logsigmoid", input))


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """log(1 + exp(beta x)) / beta, and x itself where beta x > threshold (as torch)."""
    x = _float("softplus", input)
    bx = x * beta if beta != 1 else x
    soft = -apply(_special.log_sigmoid, -bx)  # log1p(exp(bx)) without overflow
    if beta != 1:
        soft = soft / beta
    return _ops.where(bx > threshold, x, soft)


def sigmoid(input):
    return _ops.sigmoid(input)


def tanh(input):
    return _ops.tanh(input)


def _softmax_dim(name, ndim, stacklevel):
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call "
                  "to include dim=X as an argument.", stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmax", input.ndim, _stacklevel)
    return _ops.softmax(input, dim, dtype=dtype)


def softmin(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _softmax_dim("softmin", input.ndim, _stacklevel)
    return _ops.softmax(-input, dim, dtype=dtype)


def log_softmax(input, dim=None, _stacklevel: int = 3, dtype=None):
    if dim is None:
        dim = _softmax_dim("log_softmax", input.ndim, _stacklevel)
    return _ops.log_softmax(input, dim, dtype=dtype)


# --------------------------------------------------------------------------- dropout


def dropout(input, p: float = 0.5, training: bool = True, inplace: bool = False):
    """Zero each element with probability ``p`` and scale the rest by 1/(1-p) (inverted
    dropout), using chainrule's seeded generator; the identity when not ``training``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    x = input
    xp = backend.get_array_module(x.data)
    if p == 1.0:
        mask = xp.zeros(x.data.shape, dtype=x.data.dtype)
    else:
        u = random.uniform_array(x.data.shape, 0.0, 1.0, x.data.dtype, x.device)
        mask = xp.where(u >= p, x.data.dtype.type(1.0 / (1.0 - p)), x.data.dtype.type(0))
    if inplace:
        return x.mul_(_const(mask))
    return x * _const(mask)


# --------------------------------------------------------------------------- embedding


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False):
    """Rows of ``weight`` (num_embeddings, dim) picked by the integer ``input``; the row at
    ``padding_idx`` gets no gradient; ``max_norm`` renormalizes the looked-up rows of
    ``weight`` in place first (as torch)."""
    idx = _check_tensor("embedding", input)
    if idx.data.dtype.kind not in "iu":
        raise op_error("embedding", f"Expected tensor for argument #1 'indices' to have one of "
                       f"the following scalar types: Long, Int; but got {idx.dtype} instead",
                       RuntimeError)
    if sparse:
        raise op_error("embedding", "sparse gradients are not supported; use sparse=False",
                       ValueError)
    n = weight.shape[0]
    ids = idx.data
    if ids.size and (int(ids.min()) < 0 or int(ids.max()) >= n):
        raise op_error("embedding", f"index out of range in self (indices must be in [0, {n}), "
                       f"got min {int(ids.min())}, max {int(ids.max())})", IndexError)
    if padding_idx is not None:
        if not -n <= padding_idx < n:
            raise op_error("embedding", "Padding_idx must be within num_embeddings",
                           ValueError)
        padding_idx %= n
    if max_norm is not None:
        _renorm_rows(weight, ids, max_norm, norm_type)
    out = weight[idx]
    if padding_idx is not None:
        pad = ids == padding_idx
        if pad.any():
            out = _ops.where(_const(pad[..., None]), out.detach(), out)
    if scale_grad_by_freq:
        xp = backend.get_array_module(ids)
        _, inverse, counts = xp.unique(ids.reshape(-1), return_inverse=True, return_counts=True)
        scale = (1.0 / counts[inverse]).astype(weight.data.dtype).reshape(ids.shape + (1,))
        fixed = out.detach()
        out = fixed + (out - fixed) * _const(scale)  # value unchanged, gradient scaled
    return out


def _renorm_rows(weight, ids, max_norm, norm_type):
    xp = backend.get_array_module(weight.data)
    rows = xp.unique(ids.reshape(-1))
    with no_grad():
        w = weight.data
        picked = w[rows]
        if norm_type == float("inf"):
            norms = xp.abs(picked).max(axis=1)
        else:
            norms = (xp.abs(picked) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        scale = xp.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).astype(w.dtype)
        w[rows] = picked * scale[:, None]
        weight._version[0] += 1


# --------------------------------------------------------------------------- normalization


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalize over the trailing ``normalized_shape`` dims (biased variance), then scale
    by ``weight`` and shift by ``bias``."""
    x = _float("layer_norm", input)
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(x.shape[x.ndim - k:]) != shape or x.ndim < k:
        raise op_error("layer_norm", f"Given normalized_shape={list(shape)}, expected input with "
                       f"shape [*, {', '.join(str(s) for s in shape)}], but got input of size"
                       f"{list(x.shape)}", RuntimeError)
    dims = tuple(range(x.ndim - k, x.ndim))
    centered = x - x.mean(dims, keepdim=True)
    var = (centered * centered).mean(dims, keepdim=True)
    out = centered * _ops.rsqrt(var + eps)
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def batch_norm(input, running_mean, running_var, weight=None, bias=None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5):
    """Normalize each channel (dim 1) by the batch's statistics (``training``) or by the
    running ones; in training the running statistics (when given) are updated in place:
    ``running = (1 - momentum) * running + momentum * batch`` with the unbiased batch
    variance, as torch."""
    x = _float("batch_norm", input)
    if x.ndim < 2:
        raise op_error("batch_norm", f"expected at least 2-D input (N, C, ...), got shape "
                       f"{tuple(x.shape)}", ValueError)
    channels = x.shape[1]
    bshape = (1, channels) + (1,) * (x.ndim - 2)
    if training:
        count = x.numel() // channels
        if count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got "
                             f"input size {x.shape}")
        dims = (0,) + tuple(range(2, x.ndim))
        mean = x.mean(dims, keepdim=True)
        centered = x - mean
        var = (centered * centered).mean(dims, keepdim=True)
        with no_grad():
            if running_mean is not None:
                running_mean.mul_(1 - momentum).add_(mean.detach().reshape(channels),
                                                     alpha=momentum)
            if running_var is not None:
                unbiased = var.detach().reshape(channels) * (count / (count - 1))
                running_var.mul_(1 - momentum).add_(unbiased, alpha=momentum)
    else:
        if running_mean is None or running_var is None:
            raise op_error("batch_norm", "running_mean and running_var must be defined in "
                           "evaluation mode", RuntimeError)
        centered = x - running_mean.reshape(bshape)
        var = running_var.reshape(bshape)
    out = centered * _ops.rsqrt(var + eps)
    if weight is not None:
        out = out * weight.reshape(bshape)
    if bias is not None:
        out = out + bias.reshape(bshape)
    return out


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``.  ``out=`` is not supported (an error
    rather than silently leaving ``out`` untouched)."""
    if out is not None:
        raise op_error("normalize", "out= is not supported; use the returned tensor (e.g. "
                       "out.copy_(F.normalize(x)) under no_grad())", NotImplementedError)
    x = _float("normalize", input)
    denom = _ops.clamp(_ops.norm(x, p, dim, keepdim=True), min=eps)
    return x / denom


# --------------------------------------------------------------------------- tensor utilities


def one_hot(tensor, num_classes: int = -1):
    """int64 one-hot encoding with a new trailing dim of size ``num_classes`` (default:
    max + 1)."""
    t = _check_tensor("one_hot", tensor, "tensor")
    if t.data.dtype.kind not in "iu":
        raise op_error("one_hot", "one_hot is only applicable to index tensor of integer type",
                       RuntimeError)
    ids = t.data
    xp = backend.get_array_module(ids)
    if ids.size and int(ids.min()) < 0:
        raise op_error("one_hot", "Class values must be non-negative.", RuntimeError)
    if num_classes == -1:
        if not ids.size:
            raise op_error("one_hot", "Can not infer total number of classes from empty tensor.",
                           RuntimeError)
        num_classes = int(ids.max()) + 1
    elif ids.size and int(ids.max()) >= num_classes:
        raise op_error("one_hot", "Class values must be smaller than num_classes.", RuntimeError)
    return _const((ids[..., None] == xp.arange(num_classes)).astype(_np.int64))


def pad(input, pad, mode: str = "constant", value=None):
    """Pad (or, with negative sizes, crop) the last ``len(pad) // 2`` dims; ``pad`` lists
    (left, right) for the last dim first, as torch.  Only ``mode='constant'``."""
    x = _check_tensor("pad", input)
    if mode != "constant":
        raise op_error("pad", f"mode {mode!r} is not supported (only 'constant')",
                       NotImplementedError)
    pad = [int(v) for v in pad]
    if len(pad) % 2:
        raise op_error("pad", "Padding length must be divisible by 2", ValueError)
    if len(pad) // 2 > x.ndim:
        raise op_error("pad", "Padding length too large", ValueError)
    widths = [(0, 0)] * x.ndim
    for i in range(len(pad) // 2):
        widths[x.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    if any(b < 0 or a < 0 for b, a in widths):  # negative padding crops
        crop = tuple(slice(-min(b, 0), n + min(a, 0)) for (b, a), n in zip(widths, x.shape))
        if any(s.stop - s.start < 0 for s in crop):
            raise op_error("pad", f"negative padding {pad} removes more than the size "
                           f"{tuple(x.shape)}", RuntimeError)
        x = x[crop]
        widths = [(max(b, 0), max(a, 0)) for b, a in widths]
    if not any(b or a for b, a in widths):
        return x if x is not input else x.clone()
    widths = tuple(widths)
    out = apply(_index_pad, x, pad=widths)
    if value:
        xp = backend.get_array_module(x.data)
        fill = xp.pad(xp.zeros(x.data.shape, dtype=x.data.dtype), widths, constant_values=1)
        out = out + _const(fill * x.data.dtype.type(value))
    return out


# --------------------------------------------------------------------------- losses


def _class_layout(op, x, target):
    """(N, C) logits and (N,) targets from torch's layouts: (C,) with a 0-d target,
    (N, C) with (N,), (N, C, d1, ...) with (N, d1, ...); and the shape of an unreduced loss.
    """
    if x.ndim == 2:
        if target.ndim != 1 or target.shape[0] != x.shape[0]:
            if target.ndim == 1:
                raise op_error(op, f"Expected input batch_size ({x.shape[0]}) to match target "
                               f"batch_size ({target.shape[0]}).", ValueError)
            raise op_error(op, f"expected target of shape ({x.shape[0]},) for input of shape "
                           f"{tuple(x.shape)}, got {tuple(target.shape)}", RuntimeError)
        return x, target, None
    if x.ndim == 1:
        if target.ndim != 0:
            raise op_error(op, f"an input of shape {tuple(x.shape)} (unbatched) needs a 0-D "
                           f"target, got shape {tuple(target.shape)}", RuntimeError)
        return x.reshape(1, x.shape[0]), target.reshape(1), ()
    if x.ndim == 0:
        raise op_error(op, "input must have at least 1 dimension (the classes)", ValueError)
    expected = (x.shape[0],) + tuple(x.shape[2:])
    if tuple(target.shape) != expected:
        raise op_error(op, f"size mismatch (got input: {list(x.shape)}, target: "
                       f"{list(target.shape)})", RuntimeError)
    perm = (0,) + tuple(range(2, x.ndim)) + (1,)
    return x.permute(perm).reshape(-1, x.shape[1]), target.reshape(-1), tuple(target.shape)


def _class_weight(op, weight, x, classes):
    if weight is None:
        return None
    _check_tensor(op, weight, "weight")
    if tuple(weight.shape) != (classes,):
        raise op_error(op, f"weight tensor should be defined either for all {classes} classes "
                       f"or no classes but got weight tensor of shape: {list(weight.shape)}",
                       RuntimeError)
    if weight.data.dtype != x.data.dtype:
        weight = _cast(weight, x.data.dtype)
    return weight


def cross_entropy(input, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0):
    """Softmax cross-entropy of logits against class indices or class probabilities.

    ``input`` (N, C), (C,) or (N, C, d1, ...); ``target`` integer class indices (N,), (),
    (N, d1, ...) -- one fused, numerically stable primitive (ops/loss.py) -- or floating
    probabilities of ``input``'s shape.  ``weight`` (C,) weighs classes ('mean' then divides
    by the total weight of the targets, as torch); rows whose target is ``ignore_index``
    count for nothing; ``label_smoothing`` mixes the target with the uniform distribution.
    """
    reduction = _reduction("cross_entropy", size_average, reduce, reduction)
    x = _check_tensor("cross_entropy", input)
    t = _check_tensor("cross_entropy", target, "target")
    if not 0.0 <= label_smoothing <= 1.0:
        raise op_error("cross_entropy", f"label_smoothing must be between 0.0 and 1.0. Got: "
                       f"{label_smoothing}", RuntimeError)
    if x.data.dtype.kind != "f":
        raise op_error("cross_entropy", f"input must be floating point (logits), got {x.dtype}",
                       TypeError)
    kind = t.data.dtype.kind
    if kind == "f":
        if ignore_index >= 0:  # torch allows the negative ones (the default -100)
            raise op_error("cross_entropy", "ignore_index is not supported for floating point "
                           "target", RuntimeError)
        return _cross_entropy_probs(x, t, weight, reduction, float(label_smoothing))
    if kind not in "iu":
        raise op_error("cross_entropy", f"target must hold class indices (integers) or class "
                       f"probabilities (floats), got {t.dtype}", TypeError)
    x2, t2, none_shape = _class_layout("cross_entropy", x, t)
    w = _class_weight("cross_entropy", weight, x2, x2.shape[1])
    params = dict(reduction=reduction, ignore_index=int(ignore_index),
                  label_smoothing=float(label_smoothing), saved=_loss.CrossEntropySaved())
    loss = (apply(_loss.cross_entropy, x2, t2, **params) if w is None else
            apply(_loss.cross_entropy, x2, t2, w, **params))
    if reduction == "none" and none_shape is not None:
        loss = loss.reshape(none_shape)
    return loss


def _cross_entropy_probs(x, t, weight, reduction, eps):
    """Cross-entropy against class probabilities, composed: -sum_c w_c t_ic log_softmax(x)_ic;
    'mean' divides by the number of rows (N * d1 * ...), as torch."""
    if tuple(t.shape) != tuple(x.shape):
        raise op_error("cross_entropy", f"a probability target must have the input's shape "
                       f"{tuple(x.shape)}, got {tuple(t.shape)}", RuntimeError)
    class_dim = 0 if x.ndim == 1 else 1
    classes = x.shape[class_dim]
    if t.data.dtype != x.data.dtype:
        t = _cast(t, x.data.dtype)
    if eps:
        t = t * (1.0 - eps) + eps / classes
    prod = _ops.log_softmax(x, class_dim) * t
    w = _class_weight("cross_entropy", weight, x, classes)
    if w is not None:
        shape = [1] * x.ndim
        shape[class_dim] = classes
        prod = prod * w.reshape(shape)
    if reduction == "none":
        return -prod.sum(class_dim)
    total = -prod.sum()
    if reduction == "sum":
        return total
    rows = x.numel() // classes if classes else 0
    return total / rows if rows else total * float("nan")


def nll_loss(input, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean"):
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``
    (layouts, ``weight``, ``ignore_index`` and the weighted 'mean' as ``cross_entropy``)."""
    reduction = _reduction("nll_loss", size_average, reduce, reduction)
    x = _check_tensor("nll_loss", input)
    t = _check_tensor("nll_loss", target, "target")
    if t.data.dtype.kind not in "iu":
        raise op_error("nll_loss", f"target must hold class indices (integers), got {t.dtype}",
                       TypeError)
    x2, t2, none_shape = _class_layout("nll_loss", x, t)
    n, classes = x2.shape
    w = _class_weight("nll_loss", weight, x2, classes)
    ids = t2.data
    xp = backend.get_array_module(ids)
    valid = ids != ignore_index
    bad = valid & ((ids < 0) | (ids >= classes))
    if bad.any():
        raise op_error("nll_loss", f"Target {int(ids[bad][0])} is out of bounds.", IndexError)
    safe = xp.where(valid, ids, 0)
    picked = x2.gather(1, _const(safe[:, None])).reshape(n)
    if w is None:
        row_weight = None if valid.all() else valid.astype(x2.data.dtype)
    else:
        row_weight = w.data[safe] * valid
    loss = -picked if row_weight is None else -picked * _const(row_weight)
    if reduction == "none":
        return loss.reshape(none_shape) if none_shape is not None else loss
    total = loss.sum()
    if reduction == "sum":
        return total
    denom = float(n) if row_weight is None else float(row_weight.sum())
    return total / denom if denom else total * float("nan")


def mse_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
             weight=None):
    """(input - target)^2, reduced; an elementwise ``weight`` makes 'mean' divide by its sum."""
    reduction = _reduction("mse_loss", size_average, reduce, reduction)
    _check_same_size("mse_loss", input, target)
    diff = input - target
    loss = diff * diff
    if weight is not None:
        _same_size_weight("mse_loss", weight, input)
        return _weighted(loss, weight, reduction)
    return _reduce(loss, reduction)


def _same_size_weight(op, weight, input):
    if tuple(weight.shape) != tuple(input.shape):
        raise op_error(op, "Weights and input must have the same size.", ValueError)


def l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
            weight=None):
    """|input - target|, reduced (gradient 0 where they are equal, as torch)."""
    reduction = _reduction("l1_loss", size_average, reduce, reduction)
    _check_same_size("l1_loss", input, target)
    loss = _ops.abs(input - target)
    if weight is not None:
        _same_size_weight("l1_loss", weight, input)
        return _weighted(loss, weight, reduction)
    return _reduce(loss, reduction)


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction: str = "mean",
                   beta: float = 1.0):
    """0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (d = input - target)."""
    reduction = _reduction("smooth_l1_loss", size_average, reduce, reduction)
    if beta < 0:
        raise op_error("smooth_l1_loss", "smooth_l1_loss does not support negative values for "
                       "beta.", RuntimeError)
    _check_same_size("smooth_l1_loss", input, target)
    if beta == 0.0:
        return _reduce(_ops.abs(input - target), reduction)
    d = input - target
    ad = _ops.abs(d)
    loss = _ops.where(ad < beta, d * d * (0.5 / beta), ad - 0.5 * beta)
    return _reduce(loss, reduction)


def huber_loss(input, target, reduction: str = "mean", delta: float = 1.0, weight=None):
    """0.5 d^2 where |d| < delta, else delta (|d| - 0.5 delta) (d = input - target)."""
    reduction = _reduction("huber_loss", None, None, reduction)
    if delta <= 0:
        raise op_error("huber_loss", "huber_loss does not support non-positive values for "
                       "delta.", RuntimeError)
    _check_same_size("huber_loss", input, target)
    d = input - target
    ad = _ops.abs(d)
    loss = _ops.where(ad < delta, d * d * 0.5, (ad - 0.5 * delta) * delta)
    if weight is not None:
        _same_size_weight("huber_loss", weight, input)
        return _weighted(loss, weight, reduction, mean_by_weight=False)
    return _reduce(loss, reduction)


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean"):
    """-w (t log x + (1 - t) log(1 - x)) for probabilities x in [0, 1], logs clamped at -100
    (a primitive, ops/loss.py: finite gradient at 0 and 1)."""
    reduction = _reduction("binary_cross_entropy", size_average, reduce, reduction)
    x = _check_tensor("binary_cross_entropy", input)
    t = _check_tensor("binary_cross_entropy", target, "target")
    if tuple(t.shape) != tuple(x.shape):
        raise op_error("binary_cross_entropy", f"Using a target size ({t.shape}) that is "
                       f"different to the input size ({x.shape}) is deprecated. Please ensure "
                       "they have the same size.", ValueError)
    x = _float("binary_cross_entropy", x)
    data = x.data
    if data.size and not bool(((data >= 0) & (data <= 1)).all()):
        raise op_error("binary_cross_entropy", "all elements of input should be between 0 and 1",
                       RuntimeError)
    if t.data.dtype != data.dtype:
        t = _cast(t, data.dtype)
    loss = apply(_loss.binary_cross_entropy, x, t, target_grad=t.requires_grad)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None,
                                     reduce=None, reduction: str = "mean", pos_weight=None):
    """Sigmoid + binary cross-entropy on logits, stably:
    (1 - t) x - (1 + (pos_weight - 1) t) logsigmoid(x), times ``weight``.  ``pos_weight``
    (broadcast along the last dim) weighs the positive term."""
    reduction = _reduction("binary_cross_entropy_with_logits", size_average, reduce, reduction)
    x = _float("binary_cross_entropy_with_logits", input)
    t = _check_tensor("binary_cross_entropy_with_logits", target, "target")
    if tuple(t.shape) != tuple(x.shape):
        raise op_error("binary_cross_entropy_with_logits", f"Target size ({t.shape}) must be the "
                       f"same as input size ({x.shape})", ValueError)
    if t.data.dtype != x.data.dtype:
        t = _cast(t, x.data.dtype)
    log_sig = apply(_special.log_sigmoid, x)
    if pos_weight is not None:
        loss = (1 - t) * x - (1 + (pos_weight - 1) * t) * log_sig
    else:
        loss = (1 - t) * x - log_sig
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


def kl_div(input, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False):
    """Pointwise KL divergence t (log t - input) for log-probabilities ``input`` (and
    probabilities ``target``, or log-probabilities with ``log_target``); 'batchmean'
    divides the sum by the batch size (the true KL divergence per sample)."""
    if size_average is not None or reduce is not None:
        reduction = _legacy_reduction(size_average, reduce)
    elif reduction not in _REDUCTIONS + ("batchmean",):
        raise op_error("kl_div", f"{reduction} is not a valid value for reduction", ValueError)
    elif reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    x, t = input, target
    if log_target:
        loss = _ops.exp(t) * (t - x)
    else:
        # xlogy(t, t): 0 where t == 0 (log of 1 there keeps the gradient finite too)
        loss = t * _ops.log(_ops.where(t == 0, 1.0, t)) - t * x
    if reduction == "batchmean":
        total = loss.sum()
        return total / x.shape[0] if x.ndim else total
    return _reduce(loss, reduction)

