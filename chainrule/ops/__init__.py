"""Primitives (forward + VJP, one block each) grouped by family, and the public op
functions built on them.  ``install_tensor_methods`` gives Tensor its torch-named methods
from the table at the bottom: each method is one op."""

from __future__ import annotations  # noqa: I001  (the name list below is wrapped by hand)

from . import activation, index, linalg, reduce, shape
from . import elementwise as E
from . import layers, loss, special  # (nn primitives)
from .functional import *  # noqa: F403
from .functional import (
    _dim1, _dims, _index_key, abs, add, all, amax, amin, any, argmax, argmin, cat, ceil, chunk,
    clamp, clip, cos, cumsum, div, exp, expand, expm1, flatten, flip, floor, floor_divide,
    gather, getitem, index_select, isfinite, isinf, isnan, log, log1p, log_softmax, logsumexp,
    masked_fill, matmul, max, maximum, mean, min, minimum, mm, mv, bmm, dot, outer, mul, neg,
    norm, permute, pow, prod, reciprocal, relu, remainder, repeat, reshape, round, rsqrt,
    scatter_add, sigmoid, sign, sin, softmax, split, sqrt, square, squeeze, std, sub, sum,
    t, take_along_dim, tanh, transpose, unflatten, unsqueeze, var, where,
)
from .operands import cast
from .registry import REGISTRY, Node, Primitive, apply, primitive  # noqa: F401


def clone(x):
    return apply(E.clone, x)


def to_device(x, dev):
    return apply(E.to_device, x, src=x.device, dst=dev)


_METHODS = {
    # elementwise
    "exp": exp, "log": log, "log1p": log1p, "expm1": expm1, "sqrt": sqrt, "rsqrt": rsqrt,
    "abs": abs, "absolute": abs, "sign": sign, "sin": sin, "cos": cos, "tanh": tanh,
    "sigmoid": sigmoid, "relu": relu, "clamp": clamp, "clip": clip, "pow": pow,
    "maximum": maximum, "minimum": minimum, "reciprocal": reciprocal, "square": square,
    "floor": floor, "ceil": ceil, "round": round, "isnan": isnan, "isinf": isinf,
    "isfinite": isfinite, "add": add, "sub": sub, "subtract": sub, "mul": mul,
    "multiply": mul, "div": div, "divide": div, "true_divide": div, "neg": neg,
    "negative": neg, "remainder": remainder, "floor_divide": floor_divide,
    "masked_fill": masked_fill,
    # reductions
    "sum": sum, "mean": mean, "prod": prod, "max": max, "min": min, "amax": amax,
    "amin": amin, "argmax": argmax, "argmin": argmin, "var": var, "std": std,
    "logsumexp": logsumexp, "norm": norm, "all": all, "any": any, "cumsum": cumsum,
    # shape
    "flatten": flatten, "unflatten": unflatten, "squeeze": squeeze, "unsqueeze": unsqueeze,
    "transpose": transpose, "swapaxes": transpose, "permute": permute, "t": t,
    "expand": expand, "repeat": repeat, "chunk": chunk, "split": split, "flip": flip,
    # indexing
    "gather": gather, "scatter_add": scatter_add, "index_select": index_select,
    "take_along_dim": take_along_dim,
    # linear algebra
    "matmul": matmul, "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "outer": outer,
    # softmax family
    "softmax": softmax, "log_softmax": log_softmax,
}


def _where_method(self, condition, other):
    return where(condition, self, other)


_METHODS["where"] = _where_method


def install_tensor_methods(cls):
    for name, fn in _METHODS.items():
        if name not in cls.__dict__:
            setattr(cls, name, fn)
