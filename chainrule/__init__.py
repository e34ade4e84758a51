"""chainrule: a deep-learning framework built on backpropagation.

Tensors record how they were computed; ``loss.backward()`` applies the chain rule backwards
through that record.  The API follows PyTorch's names, so ``import chainrule as torch``
runs torch-style code.
"""

from .tensor import Size, Tensor  # noqa: I001  (first: everything else builds on Tensor)
from . import autograd, func, ops
from . import nn
from . import optim
from . import utils, datasets
from . import viz
from .serialization import load, save
from .torch_alias import alias_as_torch
from .compile import compile
from ._errors import OpError
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .backend import (
    bool_ as bool,
    cuda_is_available,
    device,
    dtype,
    float16,
    float32,
    float64,
    get_default_dtype,
    int8,
    int16,
    int32,
    int64,
    set_default_dtype,
    uint8,
)
from .creation import (
    arange, as_tensor, empty, empty_like, eye, from_numpy, full, full_like, linspace, ones,
    ones_like, rand, rand_like, randint, randn, randn_like, randperm, tensor, zeros, zeros_like,
)
from .ops.functional import (
    abs, add, all, amax, amin, any, argmax, argmin, bmm, broadcast_to, cat, ceil, chunk, clamp,
    clip, concat, cos, cumsum, detach, div, dot, einsum, eq, exp, expand, expm1, flatten, flip,
    floor, floor_divide, gather, ge, greater, greater_equal, gt, index_select, isfinite, isinf,
    isnan, le, less, less_equal, log, log1p, log_softmax, logical_and, logical_not, logical_or,
    logical_xor, logsumexp, lt, masked_fill, matmul, max, maximum, mean, min, minimum, mm, mul,
    mv, ne, neg, norm, not_equal, outer, permute, pow, prod, reciprocal, relu, remainder, repeat,
    reshape, round, rsqrt, scatter_add, sigmoid, sign, sin, softmax, split, sqrt, square,
    squeeze, stack, std, sub, sum, swapaxes, t, take_along_dim, tanh, transpose, unflatten,
    unsqueeze, var, where,
)
from .ops import clone
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state

float = float32
double = float64
half = float16
long = int64
int = int32

subtract = sub
multiply = mul
divide = div
true_divide = div
absolute = abs
negative = neg

__version__ = "0.1.0"


class cuda:
    """``chainrule.cuda.is_available()``, as torch.cuda."""

    is_available = staticmethod(cuda_is_available)

    @staticmethod
    def device_count() -> "int":
        from . import backend

        if not backend.cuda_is_available():
            return 0
        return backend.cupy.cuda.runtime.getDeviceCount()

    @staticmethod
    def manual_seed(seed_value) -> None:
        manual_seed(seed_value)


def is_tensor(obj) -> "bool":
    return isinstance(obj, Tensor)


def numel(input) -> "int":
    return input.numel()


def equal(input, other) -> "bool":
    """True when both tensors have the same shape and elements."""
    return input.equal(other)


def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> "bool":
    return input.allclose(other, rtol=rtol, atol=atol, equal_nan=equal_nan)


def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False) -> Tensor:
    from . import backend

    xp = backend.get_array_module(input.data)
    return Tensor._wrap(xp.isclose(input.data, other.data, rtol=rtol, atol=atol,
                                   equal_nan=equal_nan))
