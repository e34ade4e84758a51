"""Dtypes and type promotion, exactly as torch: the promotion table is compared with torch
over every pair of {bool, int32, int64, float32, float64} tensors (0-d and 1-d) and Python
bool/int/float scalars, and a hand-written table pins the rules where torch is absent."""

from __future__ import annotations

import itertools
import operator

import numpy as np
import pytest

import chainrule as cr

DTYPES = ["bool", "int32", "int64", "float32", "float64"]
OPS = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}

# operands: ("t", dtype, ndim) tensors and ("s", value) Python scalars
TENSORS = [("t", d, n) for d in DTYPES for n in (0, 1)]
SCALARS = [("s", True), ("s", 2), ("s", 2.5)]
PAIRS = [(a, b) for a, b in itertools.product(TENSORS + SCALARS, repeat=2)
         if not (a[0] == "s" and b[0] == "s")]


def _make(lib, operand):
    if operand[0] == "s":
        return operand[1]
    _, name, ndim = operand
    dtype = getattr(lib, name)
    return lib.ones((2,) if ndim else (), dtype=dtype)


def _name(operand):
    return f"{operand[1]}[{operand[2]}d]" if operand[0] == "t" else repr(operand[1])


def _outcome(lib, op, a, b):
    """The result's dtype name, or 'error' when the op is refused."""
    try:
        out = OPS[op](_make(lib, a), _make(lib, b))
    except (RuntimeError, TypeError):
        return "error"
    return str(out.dtype).split(".")[-1]


@pytest.mark.requires_torch
@pytest.mark.parametrize("op", list(OPS))
def test_promotion_table_matches_torch(op, torch):
    mismatches = []
    for a, b in PAIRS:
        want, got = _outcome(torch, op, a, b), _outcome(cr, op, a, b)
        if want != got:
            mismatches.append(f"{_name(a)} {op} {_name(b)}: torch {want}, chainrule {got}")
    assert not mismatches, "\n".join(mismatches)


# the same rules written out, so that they are pinned without torch
EXPECTED = [
    # lhs, op, rhs, result dtype
    (("t", "float32", 1), "*", ("s", 2.5), "float32"),       # a Python float adopts
    (("t", "float64", 1), "+", ("s", 2.5), "float64"),
    (("t", "int64", 1), "*", ("s", 0.5), "float32"),         # default float, not float64
    (("t", "int32", 1), "+", ("s", 2), "int32"),             # a Python int adopts
    (("t", "bool", 1), "+", ("s", 2), "int64"),
    (("t", "bool", 1), "+", ("s", True), "bool"),
    (("t", "int64", 1), "/", ("t", "int64", 1), "float32"),  # true division of ints
    (("t", "int32", 0), "/", ("s", 2), "float32"),
    (("s", 2), "/", ("t", "bool", 1), "float32"),
    (("t", "float32", 1), "+", ("t", "float64", 0), "float32"),  # 0-d does not widen
    (("t", "int32", 1), "+", ("t", "int64", 0), "int32"),
    (("t", "int32", 1), "+", ("t", "float64", 0), "float64"),    # ... unless it is a
    (("t", "int64", 1), "*", ("t", "float32", 0), "float32"),    # higher category
    (("t", "float32", 0), "+", ("t", "float64", 0), "float64"),  # both 0-d: normal rules
    (("t", "float32", 1), "+", ("t", "float64", 1), "float64"),
    (("t", "int32", 1), "-", ("t", "int64", 1), "int64"),
    (("t", "bool", 1), "*", ("t", "bool", 1), "bool"),
    (("t", "bool", 0), "+", ("t", "int32", 1), "int32"),
    (("s", 2.5), "-", ("t", "int32", 1), "float32"),
    (("s", True), "*", ("t", "float64", 1), "float64"),
    (("t", "bool", 1), "-", ("t", "bool", 1), "error"),      # torch refuses bool subtraction
    (("t", "float32", 1), "-", ("s", True), "error"),
    (("s", 2), "-", ("t", "bool", 0), "error"),
]


@pytest.mark.parametrize("a, op, b, want", EXPECTED,
                         ids=[f"{_name(a)}{op}{_name(b)}" for a, op, b, _ in EXPECTED])
def test_promotion_rules(a, op, b, want):
    assert _outcome(cr, op, a, b) == want


@pytest.mark.parametrize("a, b", PAIRS[::7], ids=[f"{_name(a)},{_name(b)}" for a, b in PAIRS[::7]])
def test_promoted_values_are_right(a, b):
    """Beyond the dtype, the value: 2 ** k patterns survive the promotion exactly."""
    x = _make(cr, a) if a[0] == "s" else _make(cr, a) * 3
    y = _make(cr, b)
    if _outcome(cr, "*", a, b) == "error":
        return
    out = x * y
    want = np.asarray(x.numpy() if isinstance(x, cr.Tensor) else x, dtype=np.float64) * \
        np.asarray(y.numpy() if isinstance(y, cr.Tensor) else y, dtype=np.float64)
    np.testing.assert_array_equal(np.asarray(out.numpy(), dtype=np.float64),
                                  np.broadcast_to(want, out.shape))


@pytest.mark.requires_torch
@pytest.mark.parametrize("op", ["//", "%", "<", "==", "&"])
def test_other_binary_ops_follow_torch_promotion(op, torch):
    fn = {"//": operator.floordiv, "%": operator.mod, "<": operator.lt, "==": operator.eq,
          "&": operator.and_}[op]
    mismatches = []
    for a, b in PAIRS:
        if op in ("//", "%") and any(x[1] == "bool" or x[1] is True for x in (a, b)):
            continue  # bool floor-division / remainder: torch has no kernel, NumPy does
        results = []
        for lib in (torch, cr):
            try:
                results.append(str(fn(_make(lib, a), _make(lib, b)).dtype).split(".")[-1])
            except (RuntimeError, TypeError):
                results.append("error")
        if results[0] != results[1]:
            mismatches.append(f"{_name(a)} {op} {_name(b)}: torch {results[0]}, chainrule "
                              f"{results[1]}")
    assert not mismatches, "\n".join(mismatches)


# ------------------------------------------------------------------ dtype objects


def test_dtype_objects_and_aliases():
    assert repr(cr.float32) == "chainrule.float32"
    assert cr.float is cr.float32 and cr.double is cr.float64
    assert cr.long is cr.int64 and cr.int is cr.int32
    assert str(cr.bool) == "chainrule.bool"
    assert cr.float32.is_floating_point and not cr.int64.is_floating_point
    assert cr.float64.itemsize == 8 and cr.int32.itemsize == 4


@pytest.mark.parametrize("spec, want", [
    (cr.float64, cr.float64), ("float32", cr.float32), ("double", cr.float64),
    (np.float64, cr.float64), (np.dtype("int32"), cr.int32), (float, cr.float32),
    (int, cr.int64), (bool, cr.bool), ("long", cr.int64),
])
def test_dtype_specs_are_accepted(spec, want):
    assert cr.zeros(2, dtype=spec).dtype is want


def test_default_dtype_can_be_changed_and_restored():
    assert cr.get_default_dtype() is cr.float32
    cr.set_default_dtype(cr.float64)
    try:
        assert cr.tensor([1.0]).dtype is cr.float64
        assert cr.zeros(2).dtype is cr.float64
        assert (cr.tensor([1, 2]) * 0.5).dtype is cr.float64
        assert repr(cr.tensor([1.5])) == "tensor([1.5000])"  # the default is not printed
    finally:
        cr.set_default_dtype(cr.float32)
    assert cr.tensor([1.0]).dtype is cr.float32
    with pytest.raises(TypeError):
        cr.set_default_dtype(cr.int64)


# ------------------------------------------------------------------ conversions

VALUES = [-2.7, -1.5, -0.5, 0.0, 0.5, 1.5, 2.7]
CONVERSIONS = [
    ("float", cr.float32), ("double", cr.float64), ("long", cr.int64), ("int", cr.int32),
    ("bool", cr.bool),
]


@pytest.mark.parametrize("method, dtype", CONVERSIONS, ids=[c[0] for c in CONVERSIONS])
def test_conversion_methods(method, dtype):
    x = cr.tensor(VALUES)
    out = getattr(x, method)()
    assert out.dtype is dtype
    np.testing.assert_array_equal(out.numpy(), np.asarray(VALUES, np.float32).astype(dtype.np))
    assert x.to(dtype).dtype is dtype and x.type(dtype).dtype is dtype
    np.testing.assert_array_equal(x.to(dtype).numpy(), out.numpy())


@pytest.mark.requires_torch
@pytest.mark.parametrize("method", [c[0] for c in CONVERSIONS])
def test_conversions_match_torch(method, torch):
    want = getattr(torch.tensor(VALUES), method)()
    got = getattr(cr.tensor(VALUES), method)()
    np.testing.assert_array_equal(got.numpy(), want.numpy())
    assert str(got.dtype).split(".")[-1] == str(want.dtype).split(".")[-1]


def test_to_same_dtype_is_a_no_op_and_copy_makes_a_copy():
    x = cr.tensor([1.0, 2.0])
    assert x.to(cr.float32) is x and x.float() is x
    y = x.to(cr.float32, copy=True)
    assert y is not x and not np.shares_memory(y.data, x.data)
    assert x.to(cr.ones(1, dtype=cr.float64)).dtype is cr.float64  # to(other_tensor)


def test_float_cast_is_differentiable_integer_cast_is_not():
    x = cr.tensor([1.5, -2.5], requires_grad=True)
    d = x.double()
    assert d.requires_grad and d.grad_fn is not None
    (d * d).sum().backward()
    assert x.grad.dtype is cr.float32  # the gradient comes back in the input's dtype
    np.testing.assert_allclose(x.grad.numpy(), [3.0, -5.0])
    for method in ("long", "int", "bool"):
        out = getattr(x, method)()
        assert not out.requires_grad and out.grad_fn is None and out.is_leaf


def test_integer_and_bool_tensors_never_require_grad():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    for out in (x > 1, x == x, x.argmax(), x // 1, (x > 0) & (x < 2), x.isnan()):
        assert not out.requires_grad and out.grad_fn is None
    for dtype in (cr.int64, cr.int32, cr.bool):
        with pytest.raises(RuntimeError):
            cr.zeros(2, dtype=dtype).requires_grad_()


def test_sums_of_small_ints_and_bools_are_int64():
    assert cr.zeros(3, dtype=cr.int32).sum().dtype is cr.int64
    assert cr.tensor([True, True, False]).sum().item() == 2
    assert cr.tensor([True, True]).sum().dtype is cr.int64
