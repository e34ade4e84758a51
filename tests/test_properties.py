"""Property-based tests (hypothesis): for random broadcast-compatible shapes the gradients
of binary ops have their inputs' shapes and equal the NumPy-derived expectation; for random
indices (integer arrays with repeats, slices, masks) the gradient of ``x[idx]`` counts how
often each element was selected (``np.add.at``)."""

from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

import chainrule as cr  # noqa: E402

FAST = settings(max_examples=40, deadline=None, derandomize=True)


def sum_to(g, shape):
    """Reference un-broadcast, written independently of the engine: sum the leading axes
    away, then every axis where ``shape`` has 1 and ``g`` does not."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and g.shape[axis] != 1:
            g = g.sum(axis=axis, keepdims=True)
    return g


# d(a op b)/da and d(a op b)/db, elementwise, before un-broadcasting
PARTIALS = {
    "add": (lambda a, b: a + b, lambda a, b: np.ones_like(a + b), lambda a, b: np.ones_like(a + b)),
    "sub": (lambda a, b: a - b, lambda a, b: np.ones_like(a - b),
            lambda a, b: -np.ones_like(a - b)),
    "mul": (lambda a, b: a * b, lambda a, b: b + 0 * a, lambda a, b: a + 0 * b),
    "div": (lambda a, b: a / b, lambda a, b: 1 / b + 0 * a, lambda a, b: -a / b**2),
    "pow": (lambda a, b: a ** b, lambda a, b: b * a ** (b - 1), lambda a, b: a ** b * np.log(a)),
    "maximum": (np.maximum, lambda a, b: (a > b) + 0 * b, lambda a, b: (b > a) + 0 * a),
}
TORCH_NAMES = {"add": "__add__", "sub": "__sub__", "mul": "__mul__", "div": "__truediv__",
               "pow": "__pow__", "maximum": "maximum"}

shape_pairs = hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=4,
                                                min_side=1, max_side=4)


@FAST
@given(shapes=shape_pairs, op=st.sampled_from(sorted(PARTIALS)), seed=st.integers(0, 2**16))
def test_binary_op_gradients_are_unbroadcast_to_input_shapes(shapes, op, seed):
    (sa, sb), out_shape = shapes.input_shapes, shapes.result_shape
    rng = np.random.default_rng(seed)
    a = rng.uniform(0.5, 2.0, sa)  # positive: pow and its log are defined
    b = rng.uniform(0.5, 2.0, sb)  # (continuous draws: maximum never ties)
    forward, da, db = PARTIALS[op]
    x = cr.tensor(a, requires_grad=True)
    y = cr.tensor(b, requires_grad=True)
    out = getattr(x, TORCH_NAMES[op])(y)
    assert out.shape == out_shape
    g = rng.standard_normal(out_shape)
    out.backward(cr.tensor(g))
    assert x.grad.shape == sa and y.grad.shape == sb
    np.testing.assert_allclose(out.detach().numpy(), forward(a, b), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), sum_to(g * da(a, b), sa), rtol=1e-10,
                               atol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), sum_to(g * db(a, b), sb), rtol=1e-10,
                               atol=1e-12)


@FAST
@given(shapes=shape_pairs, scalar=st.sampled_from([2, -1.5, 0.5]), seed=st.integers(0, 99))
def test_sum_of_product_gradient_is_other_operand_summed_over_broadcast_axes(shapes, scalar,
                                                                               seed):
    (sa, sb) = shapes.input_shapes
    rng = np.random.default_rng(seed)
    a, b = rng.standard_normal(sa), rng.standard_normal(sb)
    x = cr.tensor(a, requires_grad=True)
    y = cr.tensor(b, requires_grad=True)
    (x * y * scalar).sum().backward()
    full = np.broadcast_shapes(sa, sb)
    np.testing.assert_allclose(x.grad.numpy(), sum_to(np.broadcast_to(b * scalar, full), sa),
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(y.grad.numpy(), sum_to(np.broadcast_to(a * scalar, full), sb),
                               rtol=1e-12, atol=1e-12)


# ------------------------------------------------------------------ indexing


@st.composite
def index_cases(draw):
    """A shape and a torch-style index into it: an integer array with repeats and negative
    entries, a slice with a positive step, an int, a boolean mask, or a tuple of those."""
    shape = draw(hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=5))
    n0 = shape[0]
    kind = draw(st.sampled_from(["array", "slice", "mask", "full-mask", "int", "tuple",
                                 "array-pair"]))
    ints = st.integers(-n0, n0 - 1)
    if kind == "array":
        key = np.array(draw(st.lists(ints, min_size=1, max_size=8)), dtype=np.int64)
    elif kind == "slice":
        key = slice(draw(st.none() | st.integers(-n0, n0)), draw(st.none() | st.integers(-n0, n0)),
                    draw(st.none() | st.integers(1, 3)))
    elif kind == "mask":
        key = np.array(draw(st.lists(st.booleans(), min_size=n0, max_size=n0)))
    elif kind == "full-mask":
        key = draw(hnp.arrays(np.bool_, shape))
    elif kind == "int":
        key = draw(ints)
    elif kind == "tuple" and len(shape) >= 2:
        n1 = shape[1]
        key = (slice(draw(st.integers(0, n0)), None),
               np.array(draw(st.lists(st.integers(-n1, n1 - 1), min_size=1, max_size=6))))
    elif kind == "array-pair" and len(shape) >= 2:
        n1 = shape[1]
        k = draw(st.integers(1, 6))
        key = (np.array(draw(st.lists(ints, min_size=k, max_size=k))),
               np.array(draw(st.lists(st.integers(-n1, n1 - 1), min_size=k, max_size=k))))
    else:
        key = np.array(draw(st.lists(ints, min_size=1, max_size=4)))
    return shape, key


def _as_torch_key(key):
    if isinstance(key, tuple):
        return tuple(_as_torch_key(k) for k in key)
    return cr.tensor(key) if isinstance(key, np.ndarray) else key


@FAST
@given(case=index_cases(), seed=st.integers(0, 99))
def test_index_gradient_counts_selections(case, seed):
    shape, key = case
    rng = np.random.default_rng(seed)
    a = rng.standard_normal(shape)
    x = cr.tensor(a, requires_grad=True)
    out = x[_as_torch_key(key)]
    np.testing.assert_array_equal(out.detach().numpy(), a[key])
    out.sum().backward()
    counts = np.zeros(shape)
    np.add.at(counts, key, 1.0)
    np.testing.assert_array_equal(x.grad.numpy(), counts)


@FAST
@given(case=index_cases(), seed=st.integers(0, 99))
def test_index_gradient_scatters_the_upstream_gradient(case, seed):
    shape, key = case
    rng = np.random.default_rng(seed)
    x = cr.tensor(rng.standard_normal(shape), requires_grad=True)
    out = x[_as_torch_key(key)]
    g = rng.standard_normal(out.shape)
    out.backward(cr.tensor(g))
    want = np.zeros(shape)
    np.add.at(want, key, g)
    np.testing.assert_allclose(x.grad.numpy(), want, rtol=1e-12, atol=1e-12)


@FAST
@given(case=index_cases(), value=st.floats(-5, 5, allow_nan=False))
def test_setitem_matches_numpy_assignment(case, value):
    shape, key = case
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    x = cr.tensor(a)
    x[_as_torch_key(key)] = value
    want = a.copy()
    want[key] = value
    np.testing.assert_array_equal(x.numpy(), want)
