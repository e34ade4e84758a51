"""Creating tensors: torch's names, defaults and dtype inference; ``from_numpy`` shares
memory, ``tensor`` copies; the seeded generator makes random tensors reproducible."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr

# Deterministic creation calls, written once for both libraries (L is torch or chainrule).
# Each is compared with torch (dtype, shape, values) and, without torch, with the dtype
# and shape written beside it.
CASES = [
    ("L.tensor([1, 2, 3])", "int64", (3,)),
    ("L.tensor([1.0, 2, 3])", "float32", (3,)),
    ("L.tensor(3.5)", "float32", ()),
    ("L.tensor(True)", "bool", ()),
    ("L.tensor([[True, False]])", "bool", (1, 2)),
    ("L.tensor([[1, 2], [3, 4]], dtype=L.float64)", "float64", (2, 2)),
    ("L.tensor([1.7, -1.7], dtype=L.int32)", "int32", (2,)),
    ("L.tensor([0, 2], dtype=L.bool)", "bool", (2,)),
    ("L.tensor([])", "float32", (0,)),
    ("L.tensor([[]])", "float32", (1, 0)),
    ("L.tensor((1, 2))", "int64", (2,)),
    ("L.tensor([[1, 2], (3, 4)])", "int64", (2, 2)),
    ("L.tensor([True, 2])", "int64", (2,)),
    ("L.tensor(np.float64(2.0))", "float64", ()),
    ("L.tensor(np.float32(2.0))", "float32", ()),
    ("L.tensor(np.int32(3))", "int32", ()),
    ("L.tensor(np.bool_(True))", "bool", ()),
    ("L.tensor([np.float64(1.0), 2.0])", "float64", (2,)),
    ("L.tensor([1.0, np.float32(2.0)])", "float32", (2,)),
    ("L.tensor([np.int32(1), np.int32(2)])", "int32", (2,)),
    ("L.tensor([np.int32(1), 2])", "int64", (2,)),
    ("L.tensor([np.int32(1), 2.5])", "float32", (2,)),
    ("L.tensor(np.array([1.0, 2.0]))", "float64", (2,)),
    ("L.tensor(np.array([1, 2], dtype=np.int32))", "int32", (2,)),
    ("L.tensor(np.array([1.5, 2.5]), dtype=L.float32)", "float32", (2,)),
    ("L.tensor([L.tensor(1.0), L.tensor(2.0)])", "float32", (2,)),
    ("L.zeros(2, 3)", "float32", (2, 3)),
    ("L.zeros((2, 3))", "float32", (2, 3)),
    ("L.zeros([2, 3], dtype=L.int64)", "int64", (2, 3)),
    ("L.zeros(L.Size([2, 3]))", "float32", (2, 3)),
    ("L.zeros(())", "float32", ()),
    ("L.zeros(0, 3)", "float32", (0, 3)),
    ("L.ones(4)", "float32", (4,)),
    ("L.ones(2, 2, dtype=L.bool)", "bool", (2, 2)),
    ("L.ones((1, 2, 3), dtype=L.float64)", "float64", (1, 2, 3)),
    ("L.full((2, 3), 7)", "int64", (2, 3)),
    ("L.full((2,), 7.5)", "float32", (2,)),
    ("L.full([2], True)", "bool", (2,)),
    ("L.full((2,), 3, dtype=L.float64)", "float64", (2,)),
    ("L.arange(5)", "int64", (5,)),
    ("L.arange(2, 8, 3)", "int64", (2,)),
    ("L.arange(5, 0, -2)", "int64", (3,)),
    ("L.arange(0, 1, 0.25)", "float32", (4,)),
    ("L.arange(5.0)", "float32", (5,)),
    ("L.arange(1, 4, dtype=L.float64)", "float64", (3,)),
    ("L.arange(L.tensor(4))", "int64", (4,)),
    ("L.linspace(0, 1, 5)", "float32", (5,)),
    ("L.linspace(-2, 2, 1)", "float32", (1,)),
    ("L.linspace(0, 10, 6, dtype=L.float64)", "float64", (6,)),
    ("L.eye(3)", "float32", (3, 3)),
    ("L.eye(2, 3)", "float32", (2, 3)),
    ("L.eye(2, dtype=L.int64)", "int64", (2, 2)),
    ("L.zeros_like(L.ones(2, dtype=L.int32))", "int32", (2,)),
    ("L.ones_like(L.ones(2, 1, dtype=L.int32), dtype=L.float64)", "float64", (2, 1)),
    ("L.full_like(L.ones(2), 7)", "float32", (2,)),
    ("L.full_like(L.ones(2, dtype=L.int64), 2.7)", "int64", (2,)),
    ("L.empty(2, 3).shape", None, None),
    ("L.empty_like(L.ones(2, dtype=L.float64)).dtype", None, None),
]


def _run(lib, expr):
    return eval(expr, {"L": lib, "np": np})


def _dtype_name(t):
    return str(t.dtype).split(".")[-1]


@pytest.mark.parametrize("expr, dtype, shape", CASES, ids=[c[0] for c in CASES])
def test_creation_dtype_and_shape(expr, dtype, shape):
    out = _run(cr, expr)
    if dtype is None:
        return
    assert isinstance(out, cr.Tensor)
    assert _dtype_name(out) == dtype
    assert out.shape == shape and isinstance(out.shape, cr.Size)
    assert out.is_leaf and not out.requires_grad


@pytest.mark.requires_torch
@pytest.mark.parametrize("expr", [c[0] for c in CASES])
def test_creation_matches_torch(expr, torch):
    want, got = _run(torch, expr), _run(cr, expr)
    if not isinstance(want, torch.Tensor):  # a shape or a dtype
        assert str(got).replace("chainrule", "torch") == str(want)
        return
    assert _dtype_name(got) == _dtype_name(want)
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_size_as_varargs_tuple_list_or_size_is_the_same():
    for fn in (cr.zeros, cr.ones, cr.empty, cr.rand, cr.randn):
        shapes = {fn(2, 3).shape, fn((2, 3)).shape, fn([2, 3]).shape, fn(cr.Size([2, 3])).shape,
                  fn(np.int64(2), 3).shape}
        assert shapes == {(2, 3)}
    assert cr.randint(0, 5, (2, 3)).shape == cr.randint(5, [2, 3]).shape == (2, 3)


def test_requires_grad_at_creation():
    for t in (cr.tensor([1.0, 2.0], requires_grad=True), cr.zeros(2, requires_grad=True),
              cr.ones(2, 2, requires_grad=True), cr.full((2,), 1.5, requires_grad=True),
              cr.rand(3, requires_grad=True), cr.randn(3, requires_grad=True),
              cr.arange(0.0, 3.0, requires_grad=True), cr.linspace(0, 1, 3, requires_grad=True),
              cr.eye(2, requires_grad=True), cr.zeros_like(cr.ones(2), requires_grad=True),
              cr.randn_like(cr.ones(2), requires_grad=True)):
        assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None


def test_tensor_copies_its_input():
    a = np.array([1.0, 2.0])
    t = cr.tensor(a)
    a[0] = 99.0
    assert t[0].item() == 1.0
    src = cr.tensor([1.0, 2.0])
    t2 = cr.tensor(src)
    src.add_(1.0)
    assert t2.tolist() == [1.0, 2.0]


def test_from_numpy_shares_memory_both_ways():
    a = np.arange(6, dtype=np.float64).reshape(2, 3)
    t = cr.from_numpy(a)
    assert t.dtype is cr.float64 and t.shape == (2, 3)
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    t.add_(1.0)
    assert a[0, 0] == 43.0 and a[1, 2] == 6.0
    t[1] = 0.0
    np.testing.assert_array_equal(a[1], [0.0, 0.0, 0.0])
    assert np.shares_memory(t.numpy(), a)
    for dtype in (np.int32, np.int64, np.bool_, np.float32):
        assert cr.from_numpy(np.zeros(2, dtype)).dtype.np == np.dtype(dtype)


def test_as_tensor_shares_when_it_can():
    a = np.ones(3, dtype=np.float32)
    t = cr.as_tensor(a)
    a[0] = 5.0
    assert t[0].item() == 5.0
    assert cr.as_tensor(t) is t
    assert cr.as_tensor(a, dtype=cr.float64).dtype is cr.float64


def test_like_functions_follow_the_input():
    x = cr.ones(2, 3, dtype=cr.float64)
    for fn in (cr.zeros_like, cr.ones_like, cr.empty_like, cr.rand_like, cr.randn_like):
        out = fn(x)
        assert out.shape == (2, 3) and out.dtype is cr.float64
    np.testing.assert_array_equal(cr.full_like(x, 2.5).numpy(), np.full((2, 3), 2.5))
    assert cr.zeros_like(x, dtype=cr.int32).dtype is cr.int32


def test_values_of_deterministic_creators():
    np.testing.assert_array_equal(cr.arange(0, 1, 0.25).numpy(), [0.0, 0.25, 0.5, 0.75])
    np.testing.assert_allclose(cr.linspace(0, 1, 5).numpy(), [0, 0.25, 0.5, 0.75, 1.0])
    np.testing.assert_array_equal(cr.eye(2, 3).numpy(), [[1, 0, 0], [0, 1, 0]])
    np.testing.assert_array_equal(cr.full((2,), 7).numpy(), [7, 7])
    assert cr.tensor([[1, 2], [3, 4]]).tolist() == [[1, 2], [3, 4]]
    # (torch refuses a list of multi-element tensors; NumPy's conversion takes it)
    assert cr.tensor([cr.ones(2), cr.zeros(2)]).tolist() == [[1.0, 1.0], [0.0, 0.0]]


# ------------------------------------------------------------------ randomness

RANDOM = {
    "rand": lambda: cr.rand(3, 4),
    "randn": lambda: cr.randn(3, 4),
    "randint": lambda: cr.randint(0, 100, (3, 4)),
    "randperm": lambda: cr.randperm(10),
    "rand_like": lambda: cr.rand_like(cr.zeros(2, 2, dtype=cr.float64)),
    "randn_like": lambda: cr.randn_like(cr.zeros(5)),
    "uniform_": lambda: cr.empty(6).uniform_(-2, 3),
    "normal_": lambda: cr.empty(6).normal_(1.0, 0.5),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_manual_seed_reproduces_random_tensors(name):
    draw = RANDOM[name]
    cr.manual_seed(123)
    first = [draw().numpy().copy() for _ in range(2)]
    cr.manual_seed(123)
    again = [draw().numpy().copy() for _ in range(2)]
    for a, b in zip(first, again):
        np.testing.assert_array_equal(a, b)  # bit-identical
    assert not np.array_equal(first[0], first[1])  # the stream moves on
    cr.manual_seed(124)
    assert not np.array_equal(draw().numpy(), first[0])


def test_random_ranges_and_dtypes():
    cr.manual_seed(0)
    u = cr.rand(10_000)
    assert u.dtype is cr.float32 and 0.0 <= u.min().item() and u.max().item() < 1.0
    n = cr.randn(10_000, dtype=cr.float64)
    assert n.dtype is cr.float64
    assert abs(n.mean().item()) < 0.05 and abs(n.std().item() - 1.0) < 0.05
    r = cr.randint(3, 7, (10_000,))
    assert r.dtype is cr.int64 and set(np.unique(r.numpy())) == {3, 4, 5, 6}
    p = cr.randperm(50)
    assert sorted(p.tolist()) == list(range(50)) and p.dtype is cr.int64
    v = cr.empty(10_000).uniform_(-2, 3)
    assert -2.0 <= v.min().item() and v.max().item() < 3.0
    m = cr.empty(10_000, dtype=cr.float64).normal_(5.0, 0.1)
    assert abs(m.mean().item() - 5.0) < 0.01 and abs(m.std().item() - 0.1) < 0.01


def test_generator_objects_and_rng_state():
    g = cr.Generator().manual_seed(7)
    a = cr.randn(4, generator=g)
    b = cr.randn(4, generator=cr.Generator().manual_seed(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    cr.manual_seed(1)
    state = cr.get_rng_state()
    x = cr.rand(5)
    cr.set_rng_state(state)
    np.testing.assert_array_equal(cr.rand(5).numpy(), x.numpy())
    assert cr.initial_seed() == 1
