"""The Tensor API surface against torch's semantics: attributes and conversions, printing,
arithmetic with broadcasting and reflected operands, comparisons, in-place ops and item
assignment (working in place, version counter, autograd rules)."""

from __future__ import annotations

import operator

import numpy as np
import pytest

import chainrule as cr

# ------------------------------------------------------------------ attributes


def test_shape_size_and_dims():
    x = cr.zeros(2, 3, 4)
    assert x.shape == (2, 3, 4) and isinstance(x.shape, cr.Size) and isinstance(x.shape, tuple)
    assert repr(x.shape) == "chainrule.Size([2, 3, 4])"
    assert x.size() == x.shape and x.size(1) == 3 and x.size(-1) == 4
    assert x.ndim == x.dim() == 3 and x.numel() == 24 and x.shape.numel() == 24
    assert len(x) == 2 and x.dtype is cr.float32
    s = cr.tensor(5.0)
    assert s.shape == () and s.ndim == 0 and s.numel() == 1
    with pytest.raises(TypeError):
        len(s)


def test_transposes():
    a = cr.arange(6).reshape(2, 3)
    np.testing.assert_array_equal(a.T.numpy(), np.arange(6).reshape(2, 3).T)
    b = cr.arange(24).reshape(2, 3, 4)
    assert b.T.shape == (4, 3, 2) and b.mT.shape == (2, 4, 3)
    np.testing.assert_array_equal(b.mT.numpy(), np.swapaxes(np.arange(24).reshape(2, 3, 4), 1, 2))
    v = cr.arange(3)
    assert v.T is v  # 0-d and 1-d tensors are their own transpose
    x = cr.randn(2, 3, requires_grad=True)
    (x.T * cr.arange(6.0).reshape(3, 2)).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


def test_item_tolist_numpy():
    assert cr.tensor([2.5]).item() == 2.5 and isinstance(cr.tensor(3).item(), int)
    assert isinstance(cr.tensor(True).item(), bool)
    assert cr.tensor([[1, 2]]).tolist() == [[1, 2]] and cr.tensor(2.0).tolist() == 2.0
    x = cr.tensor([1.0, 2.0])
    a = x.numpy()
    assert isinstance(a, np.ndarray) and np.shares_memory(a, x.data)
    with pytest.raises(RuntimeError):
        cr.tensor([1.0], requires_grad=True).numpy()
    assert float(cr.tensor(1.5)) == 1.5 and int(cr.tensor(7)) == 7
    assert [1, 2, 3][cr.tensor(1)] == 2  # __index__


def test_detach_shares_data_and_leaves_the_graph():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    d = y.detach()
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    assert d.data is y.data
    with cr.no_grad():
        d.add_(1.0)
    assert y.tolist() == [3.0, 5.0]  # the same memory, as in torch


def test_clone_copies_and_passes_the_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert not np.shares_memory(c.data, x.data) and c.grad_fn is not None and not c.is_leaf
    (c * 3).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
    plain = cr.tensor([1, 2])
    assert plain.clone().tolist() == [1, 2] and not plain.clone().requires_grad


def test_requires_grad_is_leaf_grad_fn_and_grad():
    x = cr.ones(3)
    assert not x.requires_grad and x.is_leaf and x.grad is None and x.grad_fn is None
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and not y.is_leaf and y.grad_fn is not None
    assert "Backward" in type(y.grad_fn).__name__ or "Backward" in repr(y.grad_fn)
    z = (y * y).sum()
    z.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [8.0, 8.0, 8.0])
    assert y.grad is None  # non-leaf grads are not kept unless retained
    x.requires_grad_(False)
    assert not x.requires_grad
    with pytest.raises(RuntimeError):
        y.requires_grad_(False)  # only leaves can change the flag


def test_retain_grad_keeps_a_non_leaf_gradient():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    assert y.retains_grad
    (y * y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [6.0, 12.0])
    np.testing.assert_array_equal(x.grad.numpy(), [18.0, 36.0])
    x.retain_grad()  # a no-op on a leaf, as in torch


@pytest.mark.requires_torch
def test_grads_and_flags_match_torch(torch):
    def run(lib):
        x = lib.tensor([[1.0, -2.0], [3.0, 0.5]], requires_grad=True)
        w = lib.tensor([0.5, -1.0], requires_grad=True)
        y = (x * w + 1.0).T
        y.retain_grad()
        z = (y ** 2).sum()
        z.backward()
        return [x.grad.numpy(), w.grad.numpy(), y.grad.numpy(), y.is_leaf, x.is_leaf,
                y.requires_grad, z.item()]

    for a, b in zip(run(torch), run(cr)):
        np.testing.assert_allclose(b, a, rtol=1e-6)


# ------------------------------------------------------------------ printing

REPRS = [
    # expression, torch's repr with "torch" replaced by "chainrule"
    ("L.tensor([1, 2, 3])", "tensor([1, 2, 3])"),
    ("L.tensor([1.0, 2.0, 3.0])", "tensor([1., 2., 3.])"),
    ("L.tensor(3.5)", "tensor(3.5000)"),
    ("L.tensor([0.1, 0.25])", "tensor([0.1000, 0.2500])"),
    ("L.tensor([1e-5, 1e5])", "tensor([1.0000e-05, 1.0000e+05])"),
    ("L.tensor([1000000.0, 2.0])", "tensor([1.0000e+06, 2.0000e+00])"),
    ("L.tensor([-1.5, 2.25, 100.125])", "tensor([ -1.5000,   2.2500, 100.1250])"),
    ("L.tensor([1.0, float('nan'), float('inf')])", "tensor([1., nan, inf])"),
    ("L.tensor([True, False])", "tensor([ True, False])"),
    ("L.tensor([True, True])", "tensor([True, True])"),
    ("L.tensor([])", "tensor([])"),
    ("L.zeros(0, 3)", "tensor([], size=(0, 3))"),
    ("L.zeros(2, 0, dtype=L.int64)", "tensor([], size=(2, 0), dtype=chainrule.int64)"),
    ("L.tensor([1, 2], dtype=L.int32)", "tensor([1, 2], dtype=chainrule.int32)"),
    ("L.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=L.float64)",
     "tensor([[1., 2.],\n        [3., 4.]], dtype=chainrule.float64)"),
    ("L.tensor([1.0, 2.0], requires_grad=True)", "tensor([1., 2.], requires_grad=True)"),
    ("L.arange(6).reshape(2, 1, 3)", "tensor([[[0, 1, 2]],\n\n        [[3, 4, 5]]])"),
    ("L.tensor(0.0)", "tensor(0.)"),
    ("L.tensor([-0.5])", "tensor([-0.5000])"),
]


@pytest.mark.parametrize("expr, want", REPRS, ids=[r[0] for r in REPRS])
def test_repr(expr, want):
    assert repr(eval(expr, {"L": cr})) == want


@pytest.mark.requires_torch
@pytest.mark.parametrize("expr", [
    *[r[0] for r in REPRS],
    "L.arange(2000)",                              # summarized
    "L.arange(2000.0).reshape(40, 50) / 3",
    "L.arange(100.0) / 3",                         # wrapped at 80 columns
    "L.arange(64).reshape(2, 2, 2, 2, 2, 2)",
    "L.ones(3, 100)",
    "L.tensor([1e9, 1.0])",
    "L.tensor([[True, False], [False, False]])",
    "L.tensor([2.0], dtype=L.float64) * L.tensor([1.5], dtype=L.float64, requires_grad=True)",
])
def test_repr_matches_torch(expr, torch):
    want = repr(eval(expr, {"L": torch})).replace("torch.", "chainrule.")
    want = want.replace("grad_fn=<MulBackward0>", "grad_fn=<MultiplyBackward>")
    assert repr(eval(expr, {"L": cr})) == want


def test_format_of_a_scalar_tensor():
    loss = cr.tensor(0.123456, requires_grad=True) * 1
    assert f"{loss:.3f}" == "0.123" and f"{cr.tensor(7)}" == "7" and f"{cr.tensor(7):>3}" == "  7"
    assert f"{cr.tensor([1, 2])}" == "tensor([1, 2])"
    with pytest.raises(TypeError):
        f"{cr.tensor([1.0]):.2f}"


def test_repr_names_the_grad_fn():
    x = cr.tensor([1.0], requires_grad=True)
    assert repr(x * 2) == "tensor([2.], grad_fn=<MultiplyBackward>)"


# ------------------------------------------------------------------ arithmetic

SHAPE_PAIRS = [((3,), (3,)), ((2, 3), (3,)), ((2, 1), (1, 3)), ((), (2, 2)), ((4, 1, 3), (2, 1)),
               ((1,), ())]
BINARY = {
    "add": operator.add, "sub": operator.sub, "mul": operator.mul, "truediv": operator.truediv,
    "pow": operator.pow,
}


def _pos(rng, shape):
    return rng.uniform(0.5, 2.0, size=shape)


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("sa, sb", SHAPE_PAIRS)
def test_binary_ops_broadcast_forward_and_backward(name, sa, sb, rng):
    fn = BINARY[name]
    a, b = _pos(rng, sa), _pos(rng, sb)
    x = cr.tensor(a, requires_grad=True)
    y = cr.tensor(b, requires_grad=True)
    out = fn(x, y)
    want = fn(a, b)
    assert out.shape == want.shape and out.dtype is cr.float64
    np.testing.assert_allclose(out.numpy() if not out.requires_grad else out.detach().numpy(),
                               want, rtol=1e-12)
    g = rng.standard_normal(want.shape)
    out.backward(cr.tensor(g))
    assert x.grad.shape == sa and y.grad.shape == sb
    # numerical check of the broadcast-reduced gradients
    eps = 1e-6
    for arr, grad, other_first in ((a, x.grad.numpy(), True), (b, y.grad.numpy(), False)):
        num = np.zeros_like(arr)
        for i in np.ndindex(arr.shape):
            d = np.zeros_like(arr)
            d[i] = eps
            plus = fn(arr + d, b) if other_first else fn(a, arr + d)
            minus = fn(arr - d, b) if other_first else fn(a, arr - d)
            num[i] = np.sum(g * (plus - minus)) / (2 * eps)
        np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)


REFLECTED = [
    ("2 - x", lambda x: 2 - x), ("2 / x", lambda x: 2 / x), ("2 ** x", lambda x: 2 ** x),
    ("2.5 * x", lambda x: 2.5 * x), ("1 + x", lambda x: 1 + x),
    ("np.float64(2) - x", lambda x: np.float64(2) - x),
    ("np.float32(3) / x", lambda x: np.float32(3) / x),
    ("np.int64(2) * x", lambda x: np.int64(2) * x),
    ("x ** 2", lambda x: x ** 2), ("x ** 0.5", lambda x: x ** 0.5), ("-x", lambda x: -x),
    ("abs(x - 1)", lambda x: abs(x - 1)), ("sum([x, x])", lambda x: sum([x, x])),
]


@pytest.mark.parametrize("name, fn", REFLECTED, ids=[r[0] for r in REFLECTED])
def test_reflected_and_scalar_operands(name, fn):
    v = np.array([0.5, 1.0, 3.0], dtype=np.float32)
    x = cr.tensor(v, requires_grad=True)
    out = fn(x)
    assert isinstance(out, cr.Tensor) and out.dtype is cr.float32  # scalars never widen
    np.testing.assert_allclose(out.detach().numpy(), fn(v.astype(np.float64)), rtol=1e-6)
    out.sum().backward()
    eps = 1e-4
    num = (fn(v.astype(np.float64) + eps) - fn(v.astype(np.float64) - eps)) / (2 * eps)
    np.testing.assert_allclose(x.grad.numpy(), num, rtol=1e-3)


@pytest.mark.requires_torch
@pytest.mark.parametrize("name, fn", REFLECTED, ids=[r[0] for r in REFLECTED])
def test_reflected_operands_match_torch(name, fn, torch):
    v = [0.5, 1.0, 3.0]
    outs = []
    for lib in (torch, cr):
        x = lib.tensor(v, requires_grad=True)
        y = fn(x)
        y.sum().backward()
        outs.append((y.detach().numpy(), x.grad.numpy(), str(y.dtype).split(".")[-1]))
    np.testing.assert_allclose(outs[1][0], outs[0][0], rtol=1e-6)
    np.testing.assert_allclose(outs[1][1], outs[0][1], rtol=1e-6)
    assert outs[1][2] == outs[0][2]


def test_numpy_array_operands_count_as_tensors():
    x = cr.ones(3, requires_grad=True)
    for out in (x + np.arange(3.0), np.arange(3.0) - x, x * np.arange(3)):
        assert isinstance(out, cr.Tensor) and out.requires_grad
    assert (x + np.arange(3.0)).dtype is cr.float64  # an array has dimensions: it promotes
    assert (x * np.arange(3)).dtype is cr.float32
    np.testing.assert_array_equal((np.arange(3.0) - x).detach().numpy(), [-1.0, 0.0, 1.0])


INTEGER_OPS = [
    ("x // 2", lambda x: x // 2), ("x % 3", lambda x: x % 3), ("7 // x", lambda x: 7 // x),
    ("7 % x", lambda x: 7 % x), ("x // -2", lambda x: x // -2), ("x % -3", lambda x: x % -3),
    ("x ** 2", lambda x: x ** 2), ("2 ** abs(x)", lambda x: 2 ** abs(x)),
    ("x / 2", lambda x: x / 2), ("x * 2", lambda x: x * 2), ("x - 1", lambda x: x - 1),
]
INT_VALUES = [-7, -3, -1, 2, 5, 9]


@pytest.mark.parametrize("name, fn", INTEGER_OPS, ids=[r[0] for r in INTEGER_OPS])
def test_floor_division_and_remainder_follow_python_signs(name, fn):
    out = fn(cr.tensor(INT_VALUES))
    want = fn(np.array(INT_VALUES))
    np.testing.assert_array_equal(out.numpy(), want)
    assert out.dtype is (cr.float32 if name == "x / 2" else cr.int64)
    fl = fn(cr.tensor(INT_VALUES, dtype=cr.float64))
    np.testing.assert_allclose(fl.numpy(), fn(np.array(INT_VALUES, dtype=np.float64)))


@pytest.mark.requires_torch
@pytest.mark.parametrize("name, fn", INTEGER_OPS, ids=[r[0] for r in INTEGER_OPS])
def test_integer_ops_match_torch(name, fn, torch):
    for dtype in ("int64", "float32"):
        want = fn(torch.tensor(INT_VALUES, dtype=getattr(torch, dtype)))
        got = fn(cr.tensor(INT_VALUES, dtype=getattr(cr, dtype)))
        np.testing.assert_allclose(got.numpy(), want.numpy(), rtol=1e-6)
        assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]


def test_floor_division_is_not_differentiable():
    x = cr.tensor([3.0, 4.0], requires_grad=True)
    assert not (x // 2).requires_grad


COMPARISONS = [
    ("<", operator.lt), ("<=", operator.le), (">", operator.gt), (">=", operator.ge),
    ("==", operator.eq), ("!=", operator.ne),
]


@pytest.mark.parametrize("name, fn", COMPARISONS, ids=[c[0] for c in COMPARISONS])
def test_comparisons_give_bool_tensors_without_grad(name, fn):
    a = np.array([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    x = cr.tensor(a, requires_grad=True)
    for other in (2.0, 2, cr.tensor([1.0, 2.0, 3.0]), cr.tensor([2, 2, 2]), np.float64(2.0)):
        out = fn(x, other)
        assert out.dtype is cr.bool and not out.requires_grad and out.grad_fn is None
        o = other.numpy() if isinstance(other, cr.Tensor) else other
        np.testing.assert_array_equal(out.numpy(), fn(a, o))
    np.testing.assert_array_equal(fn(2.0, x).numpy(), fn(2.0, a))  # reflected
    methods = {"<": "lt", "<=": "le", ">": "gt", ">=": "ge", "==": "eq", "!=": "ne"}
    np.testing.assert_array_equal(getattr(x, methods[name])(2.0).numpy(), fn(a, 2.0))


def test_logical_and_bitwise_ops():
    p = cr.tensor([True, True, False, False])
    q = cr.tensor([True, False, True, False])
    assert (p & q).tolist() == [True, False, False, False]
    assert (p | q).tolist() == [True, True, True, False]
    assert (p ^ q).tolist() == [False, True, True, False]
    assert (~p).tolist() == [False, False, True, True]
    for out in (p & q, p | q, p ^ q, ~p):
        assert out.dtype is cr.bool
    x = cr.tensor([0.0, 1.5, -2.0, 0.0], requires_grad=True)
    y = cr.tensor([1.0, 0.0, 3.0, 0.0])
    for name, want in (("logical_and", [False, False, True, False]),
                       ("logical_or", [True, True, True, False]),
                       ("logical_xor", [True, True, False, False])):
        out = getattr(x, name)(y)
        assert out.dtype is cr.bool and not out.requires_grad and out.tolist() == want
    assert x.logical_not().tolist() == [True, False, False, True]
    assert (cr.tensor([6, 3]) & 3).tolist() == [2, 3]
    assert ((x > 0) & (x < 2)).tolist() == [False, True, False, False]


def test_equality_helpers():
    a = cr.tensor([1.0, 2.0])
    assert a.equal(cr.tensor([1.0, 2.0])) and not a.equal(cr.tensor([1.0, 2.5]))
    assert a.allclose(a + 1e-9) and not a.allclose(a + 1e-3)
    assert (a == None) is False  # noqa: E711  (falls back to identity, like torch)


# ------------------------------------------------------------------ in-place ops

INPLACE = [
    # name, call, torch-equivalent value as a function of the start values
    ("add_", lambda t: t.add_(2.0), lambda v: v + 2),
    ("add_ tensor alpha", lambda t: t.add_(cr.tensor([1.0, 2.0, 3.0]), alpha=0.5),
     lambda v: v + 0.5 * np.array([1.0, 2.0, 3.0])),
    ("add_ broadcast", lambda t: t.add_(cr.tensor(1.5)), lambda v: v + 1.5),
    ("sub_", lambda t: t.sub_(cr.tensor([1.0, 1.0, 1.0]), alpha=2), lambda v: v - 2),
    ("mul_", lambda t: t.mul_(3), lambda v: v * 3),
    ("div_", lambda t: t.div_(cr.tensor([2.0, 4.0, 8.0])), lambda v: v / [2, 4, 8]),
    ("pow_", lambda t: t.pow_(2), lambda v: v ** 2),
    ("zero_", lambda t: t.zero_(), lambda v: v * 0),
    ("fill_", lambda t: t.fill_(7.5), lambda v: np.full_like(v, 7.5)),
    ("fill_ tensor", lambda t: t.fill_(cr.tensor(2.0)), lambda v: np.full_like(v, 2.0)),
    ("copy_", lambda t: t.copy_(cr.tensor([9.0, 8.0, 7.0])), lambda v: np.array([9.0, 8, 7])),
    ("copy_ cast", lambda t: t.copy_(cr.tensor([9, 8, 7])), lambda v: np.array([9.0, 8, 7])),
    ("copy_ broadcast", lambda t: t.copy_(cr.tensor([4.0])), lambda v: np.full_like(v, 4.0)),
    ("clamp_", lambda t: t.clamp_(-1.0, 1.0), lambda v: np.clip(v, -1, 1)),
    ("clamp_ min", lambda t: t.clamp_(min=0.0), lambda v: np.maximum(v, 0)),
    ("clamp_ tensor", lambda t: t.clamp_(cr.zeros(3), cr.ones(3)), lambda v: np.clip(v, 0, 1)),
    ("neg_", lambda t: t.neg_(), lambda v: -v),
    ("relu_", lambda t: t.relu_(), lambda v: np.maximum(v, 0)),
    ("masked_fill_", lambda t: t.masked_fill_(cr.tensor([True, False, True]), 0.5),
     lambda v: np.where([True, False, True], 0.5, v)),
    ("+=", lambda t: t.__iadd__(1.0), lambda v: v + 1),
    ("-=", lambda t: t.__isub__(cr.tensor([1.0, 2.0, 3.0])), lambda v: v - [1, 2, 3]),
    ("*=", lambda t: t.__imul__(2), lambda v: v * 2),
    ("/=", lambda t: t.__itruediv__(4.0), lambda v: v / 4),
]
START = [-2.0, 0.5, 3.0]


@pytest.mark.parametrize("name, call, want", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_ops_write_in_place_and_bump_the_version(name, call, want):
    t = cr.tensor(START)
    array, version = t.data, t._version[0]
    out = call(t)
    assert out is t and t.data is array  # the same tensor, the same array object
    assert t._version[0] > version
    np.testing.assert_allclose(t.numpy(), want(np.array(START)), rtol=1e-6)


@pytest.mark.parametrize("name, call, want", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_ops_on_a_leaf_that_requires_grad(name, call, want):
    t = cr.tensor(START, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        call(t)
    assert t.tolist() == START and t._version[0] == 0
    with cr.no_grad():  # optimizers and init code
        assert call(t) is t
    np.testing.assert_allclose(t.detach().numpy(), want(np.array(START)), rtol=1e-6)
    assert t.is_leaf and t.requires_grad and t.grad_fn is None


def test_augmented_assignment_keeps_the_object():
    x = cr.tensor([1.0, 2.0])
    alias, array = x, x.data
    x += 1
    x *= 2
    assert x is alias and x.data is array and x.tolist() == [4.0, 6.0]
    i = cr.tensor([1, 2])
    i += 3
    assert i.dtype is cr.int64 and i.tolist() == [4, 5]
    f32 = cr.ones(2)
    f32 += cr.ones(2, dtype=cr.float64)  # computed in float64, stored as float32
    assert f32.dtype is cr.float32 and f32.tolist() == [2.0, 2.0]


def test_inplace_dtype_rules():
    i32 = cr.tensor([1, 2], dtype=cr.int32)
    i32.add_(cr.tensor([1, 1]))  # int64 result, same category: cast back
    assert i32.dtype is cr.int32 and i32.tolist() == [2, 3]
    b = cr.tensor([True, False])
    b.mul_(cr.tensor([True, True]))
    assert b.tolist() == [True, False]
    i = cr.tensor([3, 4])
    i.fill_(2.7)  # fill_ and copy_ cast like torch (truncation)
    assert i.tolist() == [2, 2]
    i.copy_(cr.tensor([1.7, -1.7]))
    assert i.tolist() == [1, -1]
    for bad in (lambda: i.mul_(1.5), lambda: i.div_(2), lambda: b.add_(1),
                lambda: i.add_(1, alpha=0.5)):
        with pytest.raises(RuntimeError):
            bad()


def test_random_inplace_fills():
    cr.manual_seed(3)
    a = cr.empty(1000).uniform_(2.0, 3.0)
    assert 2.0 <= a.min().item() and a.max().item() < 3.0
    b = cr.empty(1000, dtype=cr.float64).normal_(0.0, 2.0)
    assert b.dtype is cr.float64 and 1.8 < b.std().item() < 2.2


@pytest.mark.requires_torch
def test_recorded_inplace_ops_on_non_leaves_match_torch(torch):
    """In-place ops on intermediate results are recorded: gradients flow as in torch."""
    programs = [
        lambda L, x, w: (x * 3).mul_(2),
        lambda L, x, w: (x * 3).mul_(w),
        lambda L, x, w: (x * 3).add_(x),
        lambda L, x, w: L.zeros(3).add_(x),
        lambda L, x, w: (L.ones(3) * 2).mul_(x),
        lambda L, x, w: (x * 3).relu_(),
        lambda L, x, w: (x * 3).exp_(),
        lambda L, x, w: (x * 3).pow_(2),
        lambda L, x, w: (x * 1).zero_(),
        lambda L, x, w: (x * 1).fill_(2.0),
        lambda L, x, w: (x * 1).copy_(w * 5),
        lambda L, x, w: (x * 1).clamp_(0, 0.5),
        lambda L, x, w: (x * 2).addcmul_(x, w, value=2),
        lambda L, x, w: (x * 2).masked_fill_(x > 0.3, 0.0),
        lambda L, x, w: ((x * x + 1).sqrt_() * 1).div_(w),
    ]
    for i, program in enumerate(programs):
        results = []
        for lib in (torch, cr):
            x = lib.tensor([0.25, -1.0, 2.0], requires_grad=True)
            w = lib.tensor([1.5, 0.5, -2.0], requires_grad=True)
            y = program(lib, x, w)
            assert y.requires_grad and not y.is_leaf
            (y * lib.tensor([1.0, 2.0, 3.0])).sum().backward()
            results.append([y.detach().numpy(), _grad(x), _grad(w)])
        for want, got in zip(*results):
            np.testing.assert_allclose(got, want, rtol=1e-6, err_msg=f"program {i}")


def _grad(t):
    return np.zeros(t.shape) if t.grad is None else t.grad.numpy()


def test_inplace_op_that_overwrites_a_saved_value_is_detected():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x.exp()  # saves its output
    y.mul_(2)
    with pytest.raises(RuntimeError, match="inplace|in place"):
        y.sum().backward()
    z = (x * x + 1).sqrt_()  # the recorded in-place op saves its output, too
    z.div_(2.0)
    with pytest.raises(RuntimeError, match="inplace|in place"):
        z.sum().backward()


def test_inplace_through_a_view_is_never_silently_wrong():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="view of a leaf"):
        x[:2].mul_(2)
    assert x.tolist() == [1.0, 2.0, 3.0]
    y = x.exp()
    with cr.no_grad():
        y[:2].mul_(2)  # changes y behind the graph's back
    with pytest.raises(RuntimeError):
        y.sum().backward()
    buf = cr.zeros(4)
    with pytest.raises(RuntimeError, match="view"):
        buf[:2].add_(x[:2])  # buf would not learn about the graph


def test_views_see_each_others_writes():
    base = cr.zeros(2, 3)
    row = base[0]
    row.add_(1.0)
    flat = base.reshape(-1)
    flat[5] = 7.0
    np.testing.assert_array_equal(base.numpy(), [[1, 1, 1], [0, 0, 7]])
    assert row.tolist() == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------ item assignment

SETITEM = [
    ("int", 1, 5.0),
    ("negative int", -1, 5.0),
    ("slice", slice(0, 2), 5.0),
    ("row", (1,), cr.tensor([1.0, 2.0, 3.0])),
    ("column", (slice(None), 2), cr.tensor([7.0, 8.0])),
    ("ellipsis", (Ellipsis, 0), -1.0),
    ("int array", cr.tensor([0, 1]), 4.0),
    ("int list", [1, 0], cr.tensor([[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]])),
    ("pair of arrays", (cr.tensor([0, 1]), cr.tensor([2, 0])), cr.tensor([5.0, 6.0])),
    ("mask", cr.tensor([[True, False, True], [False, False, True]]), 9.0),
    ("row mask", cr.tensor([False, True]), 3.0),
    ("mask from comparison", "x>2", 0.0),
    ("numpy value", (0, slice(None)), np.array([1.0, 2.0, 3.0])),
]


@pytest.mark.parametrize("name, key, value", SETITEM, ids=[s[0] for s in SETITEM])
def test_setitem_matches_numpy(name, key, value):
    start = np.arange(6, dtype=np.float32).reshape(2, 3)
    x = cr.tensor(start)
    array, version = x.data, x._version[0]
    if key == "x>2":
        key = x > 2
    x[key] = value
    want = start.copy()
    np_key = _to_numpy_key(key)
    want[np_key] = value.numpy() if isinstance(value, cr.Tensor) else value
    assert x.data is array and x._version[0] == version + 1
    np.testing.assert_array_equal(x.numpy(), want)


def _to_numpy_key(key):
    if isinstance(key, tuple):
        return tuple(_to_numpy_key(k) for k in key)
    return key.numpy() if isinstance(key, cr.Tensor) else key


@pytest.mark.requires_torch
@pytest.mark.parametrize("name, key, value", SETITEM, ids=[s[0] for s in SETITEM])
def test_setitem_matches_torch(name, key, value, torch):
    def convert(v):
        if isinstance(v, tuple):
            return tuple(convert(k) for k in v)
        return torch.from_numpy(v.numpy().copy()) if isinstance(v, cr.Tensor) else v

    start = np.arange(6, dtype=np.float32).reshape(2, 3)
    x, t = cr.tensor(start), torch.tensor(start)
    if key == "x>2":
        x[x > 2], t[t > 2] = value, value
    else:
        x[key] = value
        t[convert(key)] = convert(value) if not isinstance(value, np.ndarray) else \
            torch.from_numpy(value).float()
    np.testing.assert_array_equal(x.numpy(), t.numpy())


def test_setitem_with_repeated_indices_writes_one_of_the_values():
    x = cr.zeros(3)
    x[cr.tensor([0, 0, 2])] = cr.tensor([1.0, 2.0, 3.0])
    assert x[0].item() in (1.0, 2.0) and x[2].item() == 3.0


def test_setitem_casts_like_torch():
    i = cr.tensor([0, 0])
    i[0] = 2.7
    assert i.tolist() == [2, 0] and i.dtype is cr.int64
    b = cr.tensor([False, False])
    b[1] = 1
    assert b.tolist() == [False, True]


def test_setitem_and_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        x[0] = 5.0
    with pytest.raises(RuntimeError, match="requires grad"):
        (x * 2)[0] = 5.0
    plain = cr.zeros(2)
    with pytest.raises(RuntimeError, match="requires grad"):
        plain[0] = x[0]  # from a tensor that requires grad
    assert plain.tolist() == [0.0, 0.0] and x.tolist() == [1.0, 2.0]
    with cr.no_grad():
        x[0] = 5.0
        plain[1] = x[1]
    assert x.tolist() == [5.0, 2.0] and plain.tolist() == [0.0, 2.0]
    assert x._version[0] == 1
