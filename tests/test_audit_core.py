"""Findings of the core-engine audit, each pinned by a test that fails without its fix:
prod's second derivative with zeros, hook results, error messages, anomaly mode on the
in-place fast paths, Functions with several outputs, module-level comparison functions,
einsum (dtypes, ellipsis, size-1 broadcasting), NaN under max, gradcheck restoring its
input, empty-list indices, and the smaller torch mismatches."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function, gradcheck, gradgradcheck
from chainrule.autograd.anomaly import detect_anomaly

HERE = "test_audit_core.py"


def f64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-12):
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    np.testing.assert_allclose(a, np.asarray(b, dtype=np.float64), rtol=tol, atol=tol)


# ------------------------------------------------- 1. prod: higher derivatives with zeros


def _prod_hessian(values):
    """Hessian of prod(x): H[i, j] = product of the elements other than i and j."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    h = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if i != j:
                h[i, j] = np.prod(np.delete(x, [i, j]))
    return h


def _prod_third(values):
    """T[i, j, k] = product of the elements other than i, j and k (distinct indices)."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    t = np.zeros((n, n, n))
    for i in range(n):
        for j in range(n):
            for k in range(n):
                if len({i, j, k}) == 3:
                    t[i, j, k] = np.prod(np.delete(x, [i, j, k]))
    return t


@pytest.mark.parametrize("values", [[0.0, 2.0, 3.0], [2.0, 0.0, 0.0], [0.0, 0.0, 0.0],
                                    [1.5, -2.0, 0.5, 0.0], [0.0, 3.0, 0.0, -1.0]])
def test_prod_hessian_with_zeros_is_exact(values):
    h = cr.func.hessian(lambda x: x.prod())(f64(values, False))
    close(h, _prod_hessian(values))


def test_prod_hessian_matches_torchs_example():
    h = cr.func.hessian(lambda x: x.prod())(f64([0.0, 2.0, 3.0], False))
    close(h, [[0, 3, 2], [3, 0, 0], [2, 0, 0]])


@pytest.mark.parametrize("values", [[0.0, 2.0, 3.0, -1.5], [0.0, 0.0, 3.0, 2.0]])
def test_prod_third_derivative_with_up_to_two_zeros_is_exact(values):
    third = cr.func.jacrev(cr.func.hessian(lambda x: x.prod()))(f64(values, False))
    close(third, _prod_third(values))


def test_prod_dim_hessian_with_zeros():
    rows = [[0.5, 0.0, -1.5], [0.0, 0.0, 2.0], [1.5, -0.5, 2.0], [0.0, 0.0, 0.0]]
    h = cr.func.hessian(lambda x: x.prod(1).sum())(f64(rows, False)).numpy()
    want = np.zeros((4, 3, 4, 3))
    for r, row in enumerate(rows):
        want[r, :, r, :] = _prod_hessian(row)
    close(h, want)


def test_prod_gradgradcheck_with_zeros():
    x = f64([[0.5, 0.0, -1.5], [0.0, 0.0, 2.0]])
    assert gradgradcheck(lambda x: x.prod(), (x,))
    assert gradgradcheck(lambda x: x.prod(1), (x,))
    assert gradgradcheck(lambda x: x.prod(0, keepdim=True), (x,))


# ------------------------------------------------------------ 2. hook results are checked


def _shape_hook(g):
    return cr.ones(2)


def _double_hook(g):
    return g.double()


@pytest.mark.parametrize("on_leaf", [True, False], ids=["leaf", "non-leaf"])
@pytest.mark.parametrize("hook, exc, fragment", [
    (_shape_hook, RuntimeError, "hook '_shape_hook' has changed the size of value"),
    (_double_hook, RuntimeError, "hook '_double_hook' has changed the type of value"),
    (lambda g: 3.0, TypeError, "expected Tensor"),
], ids=["shape", "dtype", "not-a-tensor"])
def test_hook_returning_a_wrong_value_is_an_error(on_leaf, hook, exc, fragment):
    x = cr.ones(3, requires_grad=True)
    y = x * 2
    (x if on_leaf else y).register_hook(hook)
    with pytest.raises(exc, match=re.escape(fragment)):
        (y * 1).sum().backward()
    assert x.grad is None  # nothing half-written


def test_hook_returning_a_right_value_replaces_the_gradient():
    x = cr.ones(3, requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g * 10)
    x.register_hook(lambda g: g + 1)
    y.sum().backward()
    close(x.grad, [21.0, 21.0, 21.0])


def test_hook_checks_under_create_graph():
    x = f64([1.0, 2.0, 3.0])
    y = x * x
    y.register_hook(lambda g: cr.ones(2, dtype=cr.float64))
    with pytest.raises(RuntimeError, match="changed the size"):
        cr.autograd.grad(y.sum(), x, create_graph=True)
    y = x * x
    y.register_hook(lambda g: g * 2)
    (g,) = cr.autograd.grad(y.sum(), x, create_graph=True)
    close(g, [4.0, 8.0, 12.0])


# ------------------------------------------------------- 3. errors: op, shapes, dtypes, line


def _expanded_int():
    return cr.ones(2, dtype=cr.int64).expand(2, 2)


ERROR_CASES = [
    # (id, failing call, exception class, op, fragments: shapes and dtypes)
    ("reshape", lambda: cr.ones(2, 3).reshape(4, 2), RuntimeError, "reshape",
     ["(2, 3)", "float32", "[4, 2]"]),
    ("sum-dim", lambda: cr.ones(2, 3).sum(2), IndexError, "sum", ["(2, 3)", "float32"]),
    ("mean-dim", lambda: cr.ones(2, 3, dtype=cr.float64).mean(-3), IndexError, "mean",
     ["(2, 3)", "float64"]),
    ("transpose-dim", lambda: cr.ones(2, 3).transpose(0, 2), IndexError, "transpose",
     ["(2, 3)", "float32"]),
    ("softmax-dim", lambda: cr.ones(2, 3).softmax(5), IndexError, "softmax",
     ["(2, 3)", "float32"]),
    ("cumsum-dim", lambda: cr.ones(2, 3).cumsum(4), IndexError, "cumsum",
     ["(2, 3)", "float32"]),
    ("unsqueeze-dim", lambda: cr.ones(2, 3).unsqueeze(4), IndexError, "unsqueeze",
     ["(2, 3)", "float32"]),
    ("stack-dim", lambda: cr.stack([cr.ones(2), cr.ones(2)], dim=3), IndexError, "stack",
     ["(2,)", "float32"]),
    ("size-dim", lambda: cr.ones(2, 3).size(2), IndexError, "size", ["(2, 3)", "float32"]),
    ("gather-oob", lambda: cr.gather(cr.ones(2, 3), 1, cr.tensor([[3]])), RuntimeError,
     "gather", ["(2, 3)", "float32", "(1, 1)", "int64"]),
    ("index_select-oob", lambda: cr.ones(2, 3).index_select(0, cr.tensor([2])), IndexError,
     "index_select", ["(2, 3)", "float32", "(1,)", "int64"]),
    ("where-mask", lambda: cr.where(cr.ones(3), cr.ones(3), cr.ones(3)), RuntimeError, "where",
     ["(3,)", "float32"]),
    ("masked_fill-mask", lambda: cr.ones(3).masked_fill(cr.ones(3, dtype=cr.int64), 0.0),
     RuntimeError, "masked_fill", ["(3,)", "float32", "int64"]),
    ("masked_fill-broadcast", lambda: cr.ones(3).masked_fill(cr.ones(2) > 0, 0.0),
     RuntimeError, "masked_fill", ["(2,)", "bool", "(3,)", "float32"]),
    ("eye", lambda: cr.eye(-1), RuntimeError, "eye", ["-1"]),
    ("eye-float", lambda: cr.eye(2.5), TypeError, "eye", ["2.5"]),
    ("full-str", lambda: cr.full((2,), "a"), TypeError, "full", ["str"]),
    ("to-device", lambda: cr.ones(2).to("foo"), RuntimeError, "to",
     ["'foo'", "(2,)", "float32"]),
    ("tensor-uint16", lambda: cr.tensor(np.ones(2, np.uint16)), TypeError, "tensor",
     ["(2,)", "uint16"]),
    ("from_numpy-uint16", lambda: cr.from_numpy(np.ones(2, np.uint16)), TypeError,
     "from_numpy", ["(2,)", "uint16"]),
    ("reshape-list", lambda: cr.reshape([1.0], (1,)), TypeError, "reshape", ["list"]),
    ("transpose-list", lambda: cr.transpose([1.0], 0, 0), TypeError, "transpose", ["list"]),
    ("add_-shape", lambda: cr.ones(2).add_(cr.ones(3)), RuntimeError, "add_",
     ["(2,)", "(3,)", "float32"]),
    ("lerp_-shape", lambda: cr.ones(2).lerp_(cr.ones(3), 0.5), RuntimeError, "lerp_",
     ["(2,)", "(3,)"]),
    ("zero_-readonly", lambda: _expanded_int().zero_(), RuntimeError, "zero_",
     ["(2, 2)", "int64"]),
    ("zero_-nd", lambda: cr.zeros(3).fill_(cr.ones(2)), RuntimeError, "fill_", ["(2,)"]),
    ("mul_-dtype", lambda: cr.zeros(3, dtype=cr.int64).mul_(1.5), RuntimeError, "mul_",
     ["(3,)", "int64", "float32"]),
    ("floor_divide-zero", lambda: cr.tensor([1, 2]) // 0, RuntimeError, "floor_divide",
     ["ZeroDivisionError", "(2,)", "int64"]),
    ("remainder-zero", lambda: cr.tensor([1, 2]) % cr.tensor([1, 0]), RuntimeError,
     "remainder", ["ZeroDivisionError", "(2,)", "int64"]),
    ("div-trunc-zero", lambda: cr.tensor([1, 2]).div(0, rounding_mode="trunc"), RuntimeError,
     "div", ["ZeroDivisionError", "int64"]),
    ("einsum-dtype", lambda: cr.einsum("ij,jk->ik", cr.ones(2, 3),
                                       cr.ones(3, 2, dtype=cr.float64)),
     RuntimeError, "einsum", ["float32", "float64", "(2, 3)", "(3, 2)"]),
    ("einsum-size", lambda: cr.einsum("ij,jk->ik", cr.ones(2, 3), cr.ones(2, 2)),
     RuntimeError, "einsum", ["(2, 3)", "(2, 2)", "float32"]),
    ("logical-broadcast", lambda: cr.logical_and(cr.ones(3) > 0, cr.ones(4) > 0), RuntimeError,
     "logical_and", ["(3,)", "(4,)", "bool"]),
    ("compare-broadcast", lambda: cr.lt(cr.ones(3), cr.ones(4)), RuntimeError, "less",
     ["(3,)", "(4,)", "float32"]),
    ("index-float", lambda: cr.ones(3)[cr.tensor([0.5])], IndexError, "getitem",
     ["(3,)", "float32"]),
    ("norm-p", lambda: cr.ones(3).norm(p="nuc"), RuntimeError, "norm", ["(3,)", "float32"]),
    ("grad-unused", lambda: cr.autograd.grad((cr.ones(2, requires_grad=True) * 2).sum(),
                                             cr.ones(3, requires_grad=True)),
     RuntimeError, "grad", ["(3,)", "float32"]),
]


@pytest.mark.parametrize("call, exc, op, fragments", [c[1:] for c in ERROR_CASES],
                         ids=[c[0] for c in ERROR_CASES])
def test_error_names_op_shapes_dtypes_and_user_line(call, exc, op, fragments):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    assert msg.startswith(f"{op}: "), f"message should start with '{op}: ': {msg}"
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} missing from: {msg}"
    line = call.__code__.co_firstlineno
    assert re.search(rf"at {re.escape(HERE)}:{line}\b", msg), f"no '{HERE}:{line}' in: {msg}"


TORCH_ERRORS = [
    ("eye", lambda m: m.eye(-1)),
    ("full", lambda m: m.full((2,), "a")),
    ("to", lambda m: m.ones(2).to("foo")),
    ("floor_divide", lambda m: m.tensor([1, 2]) // 0),
    ("remainder", lambda m: m.tensor([1, 2]) % 0),
    ("einsum", lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), m.ones(3, 2, dtype=m.float64))),
    ("index_select", lambda m: m.ones(2, 3).index_select(0, m.tensor([2]))),
    ("reshape", lambda m: m.reshape([1.0], (1,))),
]


@pytest.mark.requires_torch
@pytest.mark.parametrize("op, fn", TORCH_ERRORS, ids=[e[0] for e in TORCH_ERRORS])
def test_new_errors_have_torchs_class(op, fn, torch):
    with pytest.raises(Exception) as tinfo:
        fn(torch)
    with pytest.raises(Exception) as cinfo:
        fn(cr)
    assert isinstance(cinfo.value, type(tinfo.value)), (type(cinfo.value), type(tinfo.value))
    assert str(cinfo.value).startswith(op)


def test_integer_division_by_zero_message_matches_torch():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        cr.tensor([4, 2]).div(cr.tensor([1, 0]), rounding_mode="floor")


def test_float_division_by_zero_is_not_an_error():
    close((cr.tensor([1.0, -1.0]) // 0.0).double(), [np.inf, -np.inf])


# ------------------------------------------------------------ 4. anomaly on in-place paths


INPLACE_NONFINITE = [
    ("div_", lambda t: t.div_(0.0)),
    ("div_-tensor", lambda t: t.div_(cr.zeros(2))),
    ("mul_", lambda t: t.mul_(float("inf"))),
    ("add_", lambda t: t.add_(float("nan"))),
    ("sub_", lambda t: t.sub_(float("inf"), alpha=2)),
    ("fill_", lambda t: t.fill_(float("nan"))),
    ("copy_", lambda t: t.copy_(cr.tensor([1.0, float("inf")]))),
    ("clamp_", lambda t: t.clamp_(float("inf"), float("inf"))),
]


@pytest.mark.parametrize("op", [c[1] for c in INPLACE_NONFINITE],
                         ids=[c[0] for c in INPLACE_NONFINITE])
def test_anomaly_mode_checks_the_inplace_fast_paths(op):
    t = cr.ones(2)
    before = t._version[0]
    with detect_anomaly(), pytest.raises(RuntimeError, match="NaN or Inf"):
        op(t)
    close(t.double(), [1.0, 1.0])  # checked before writing
    assert t._version[0] == before
    op(t)  # outside anomaly mode: no check, the fast path writes


def test_anomaly_mode_checks_floor_divide():
    with detect_anomaly(), pytest.raises(RuntimeError, match="floor_divide produced NaN"):
        cr.ones(2) // 0.0


# ------------------------------------------------ 5. Functions with several outputs


class MulExp(Function):
    """(x * y, exp(x)): two outputs, the second saved."""

    @staticmethod
    def forward(ctx, x, y):
        e = x.exp()
        ctx.save_for_backward(x, y, e)
        return x * y, e

    @staticmethod
    def backward(ctx, g_prod, g_exp):
        x, y, e = ctx.saved_tensors
        return g_prod * y + g_exp * e, g_prod * x


def test_function_with_two_outputs_backward(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    x, y = f64(a), f64(b)
    p, e = MulExp.apply(x, y)
    assert p.requires_grad and e.requires_grad
    assert p.grad_fn.next_functions[0][0].name() == "MulExpBackward"
    (p.sum() + 2 * e.sum()).backward()
    close(x.grad, b + 2 * np.exp(a))
    close(y.grad, a)


def test_function_output_without_gradient_gets_zeros(rng):
    a, b = rng.standard_normal(3), rng.standard_normal(3)
    x, y = f64(a), f64(b)
    p, _ = MulExp.apply(x, y)
    p.sum().backward()
    close(x.grad, b)


def test_function_with_several_outputs_gradcheck_and_gradgradcheck(rng):
    x, y = f64(rng.standard_normal(3)), f64(rng.standard_normal(3))
    assert gradcheck(MulExp.apply, (x, y))
    assert gradgradcheck(MulExp.apply, (x, y))
    assert gradgradcheck(lambda x, y: MulExp.apply(x, y)[1], (x, y))  # the saved output


class Mixed(Function):
    """Outputs of every kind: float32, float64, non-differentiable, integer, non-tensor."""

    @staticmethod
    def forward(ctx, x):
        c = x * 4
        ctx.mark_non_differentiable(c)
        return x * 2, (x * 3).double(), c, cr.tensor([1, 2]), 5

    @staticmethod
    def backward(ctx, ga, gb, gc, gi, g5):
        ctx.seen = (ga.dtype, gb.dtype, gc.numpy().tolist(), gi.dtype, g5)
        return ga * 2 + gb.float() * 3


def test_function_outputs_of_mixed_kinds():
    x = cr.ones(2, requires_grad=True)
    a, b, c, i, five = Mixed.apply(x)
    assert (a.requires_grad, b.requires_grad, c.requires_grad, i.requires_grad) == (
        True, True, False, False)
    assert b.dtype == cr.float64 and five == 5
    (a.sum() + b.sum()).backward()
    close(x.grad.double(), [5.0, 5.0])
    ctx = a.grad_fn.next_functions[0][0].params["ctx"]
    assert ctx.seen == (cr.float32, cr.float64, [0.0, 0.0], cr.int64, None)


def test_materialize_grads_false_gives_none_for_unreached_outputs():
    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 2, x * 3

        @staticmethod
        def backward(ctx, ga, gb):
            ctx.got_none = gb is None
            return ga * 2 if gb is None else ga * 2 + gb * 3

    x = cr.ones(2, requires_grad=True)
    a, b = Two.apply(x)
    a.sum().backward()
    assert a.grad_fn.params["ctx"].got_none
    close(x.grad.double(), [2.0, 2.0])
    a, b = Two.apply(x)
    (a.sum() + b.sum()).backward()
    close(x.grad.double(), [2.0 + 5.0, 2.0 + 5.0])


def test_one_element_tuple_and_no_grad():
    class One(Function):
        @staticmethod
        def forward(ctx, x):
            return (x * 2,)

        @staticmethod
        def backward(ctx, g):
            return g * 2

    x = cr.ones(2, requires_grad=True)
    out = One.apply(x)
    assert isinstance(out, tuple) and len(out) == 1
    out[0].sum().backward()
    close(x.grad.double(), [2.0, 2.0])
    with cr.no_grad():
        (y, z), = [MulExp.apply(f64([1.0]), f64([2.0]))]
    assert not y.requires_grad and not z.requires_grad


def test_modifying_a_saved_output_in_place_is_an_error():
    x, y = f64([1.0, 2.0]), f64([3.0, 4.0])
    p, e = MulExp.apply(x, y)
    e.add_(1)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        p.sum().backward()


# ----------------------------------------- 6. module-level comparisons, detach, einsum


@pytest.mark.parametrize("name, want", [
    ("eq", [False, True, False]), ("ne", [True, False, True]), ("lt", [True, False, False]),
    ("le", [True, True, False]), ("gt", [False, False, True]), ("ge", [False, True, True]),
])
def test_module_level_comparisons(name, want):
    a, b = cr.tensor([1.0, 2.0, 3.0]), cr.tensor([2.0, 2.0, 2.0])
    out = getattr(cr, name)(a, b)
    assert out.dtype == cr.bool and out.tolist() == want
    assert getattr(cr, name)(a, 2.0).tolist() == want


def test_module_level_logic_and_detach():
    p, q = cr.tensor([True, True, False]), cr.tensor([True, False, False])
    assert cr.logical_and(p, q).tolist() == [True, False, False]
    assert cr.logical_or(p, q).tolist() == [True, True, False]
    assert cr.logical_xor(p, q).tolist() == [False, True, False]
    assert cr.logical_not(p).tolist() == [False, False, True]
    x = cr.ones(2, requires_grad=True)
    d = cr.detach(x * 2)
    assert not d.requires_grad and d.grad_fn is None and d.tolist() == [2.0, 2.0]


EINSUMS = [
    # (equation, operand shapes, the same written out for NumPy, operands broadcast to)
    ("...ij,jk->...ik", [(2, 3, 4), (4, 5)], "aij,jk->aik", None),
    ("...j,jk", [(2, 3, 4), (4, 5)], "abj,jk->abk", None),
    ("b...,b...->b", [(2, 3, 4), (2, 3, 4)], "bxy,bxy->b", None),
    ("...,...", [(3,), (2, 3)], "b,ab->ab", None),
    ("i...->...", [(3, 2, 4)], "iab->ab", None),
    ("...ij->...ji", [(3, 2)], "ij->ji", None),
    ("...i,...i->...", [(5, 1, 3), (4, 3)], "abi,bi->ab", [(5, 4, 3), (4, 3)]),
    ("...ji", [(3, 2, 4)], "aji->aij", None),
    ("...i->i", [(2, 3)], "ai->i", None),
    ("ij,jk->ik", [(2, 1), (3, 4)], "ij,jk->ik", [(2, 3), (3, 4)]),
    ("i,j->...", [(2,), (3,)], "i,j->", None),
    ("ij,jk", [(2, 3), (3, 4)], "ij,jk->ik", None),
]


@pytest.mark.parametrize("eq, shapes, np_eq, np_shapes", EINSUMS, ids=[e[0] for e in EINSUMS])
def test_einsum_ellipsis_and_broadcasting(eq, shapes, np_eq, np_shapes, rng):
    arrays = [rng.standard_normal(s) for s in shapes]
    wide = [np.broadcast_to(a, s) for a, s in zip(arrays, np_shapes or shapes)]
    close(cr.einsum(eq, *(cr.tensor(a) for a in arrays)), np.einsum(np_eq, *wide), 1e-10)
    assert gradcheck(lambda *a: cr.einsum(eq, *a), tuple(f64(a) for a in arrays))


@pytest.mark.requires_torch
@pytest.mark.parametrize("eq, shapes", [e[:2] for e in EINSUMS], ids=[e[0] for e in EINSUMS])
def test_einsum_matches_torch(eq, shapes, rng, torch):
    arrays = [rng.standard_normal(s) for s in shapes]
    out = cr.einsum(eq, *(cr.tensor(a) for a in arrays))
    want = torch.einsum(eq, *(torch.tensor(a) for a in arrays))
    assert tuple(out.shape) == tuple(want.shape)
    close(out, want.numpy(), 1e-10)


# ------------------------------------------------------------------ 7. NaN under max


@pytest.mark.parametrize("fn, want", [
    (lambda x: x.max(), [1.0, 0.0]),
    (lambda x: x.amax(), [1.0, 0.0]),
    (lambda x: x.min(), [1.0, 0.0]),
    (lambda x: x.max(0).values, [1.0, 0.0]),
])
def test_gradient_of_a_nan_maximum_goes_to_the_nan(fn, want):
    x = cr.tensor([float("nan"), 1.0], requires_grad=True)
    fn(x).backward()
    close(x.grad.double(), want)


def test_nan_maximum_along_a_dim_and_ties_share():
    x = cr.tensor([[float("nan"), 1.0, float("nan")], [2.0, 3.0, 3.0]], requires_grad=True)
    x.amax(1).sum().backward()
    close(x.grad.double(), [[0.5, 0.0, 0.5], [0.0, 0.5, 0.5]])


@pytest.mark.requires_torch
def test_nan_maximum_matches_torch_max(torch):
    x = cr.tensor([float("nan"), 1.0, float("nan")], requires_grad=True)
    t = torch.tensor([float("nan"), 1.0, float("nan")], requires_grad=True)
    x.max().backward()
    t.max().backward()
    close(x.grad.double(), t.grad.double().numpy())


# ------------------------------------------------------------------ 8. gradcheck


def test_gradcheck_restores_its_input_when_fn_raises():
    x = f64([1.0, 2.0])
    calls = []

    def fn(x):
        calls.append(1)
        if len(calls) == 3:  # during the finite differences of element 0
            raise ValueError("boom")
        return x * 2

    with pytest.raises(ValueError, match="boom"):
        gradcheck(fn, (x,))
    assert x.data.tolist() == [1.0, 2.0]


def test_gradcheck_float32_mismatch_mentions_the_precision():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(RuntimeError, match="float32, not float64.*imprecise"):
            gradcheck(lambda x: x.exp(), (x,))


# -------------------------------------------------------------- 9. empty-list indices


def test_empty_list_index():
    x = cr.arange(6.0).reshape(2, 3)
    assert x[[]].shape == (0, 3)
    assert x[:, []].shape == (2, 0)
    x[[]] = 5.0
    assert x.tolist() == [[0.0, 1.0, 2.0], [3.0, 4.0, 5.0]]
    y = cr.arange(6.0, dtype=cr.float64, requires_grad=True)
    y[[]].sum().backward()
    close(y.grad, np.zeros(6))


# ------------------------------------------------------------------ 10. smaller ones


def test_several_ellipses_index_as_in_torch():
    x = cr.arange(24).reshape(2, 3, 4)
    assert x[..., ...].shape == (2, 3, 4)
    assert cr.equal(x[..., 0, ...], x[..., 0])
    assert x[..., None, ...].shape == (2, 3, 4, 1)
    assert cr.equal(x[0, ..., ...], x[0])


@pytest.mark.parametrize("data, dtype", [
    ([1.0, np.float64(2)], cr.float64),
    ([[1.0], [np.float64(2)]], cr.float64),
    ([1, np.float64(2)], cr.float64),
    ([np.float32(2), 1.0], cr.float32),
    ([np.float16(1), 1.0], cr.float32),
    ([np.float16(1), np.float16(2)], cr.float16),
    ([1.0, 2.0], cr.float32),
    ([[1.0, 2.0], [3, 4]], cr.float32),
    ([cr.tensor(1.0, dtype=cr.float64), 1.0], cr.float64),
])
def test_tensor_infers_dtype_from_all_elements(data, dtype):
    assert cr.tensor(data).dtype == dtype


@pytest.mark.parametrize("p", [-1, -2, -0.5])
def test_norm_negative_p(p):
    x = f64([[3.0, 0.0, 1.0], [1.0, 2.0, -2.0]])
    out = cr.norm(x, p=p, dim=1)
    row = np.array([1.0, 2.0, -2.0])
    close(out, [0.0, np.sum(np.abs(row) ** p) ** (1 / p)], 1e-12)
    out.sum().backward()
    assert np.isfinite(x.grad.numpy()).all()
    close(x.grad[0], [0.0, 0.0, 0.0])
    y = f64([[3.0, 0.5, 1.0], [1.0, 2.0, -2.0]])
    assert gradcheck(lambda y: cr.norm(y, p=p, dim=1), (y,))
    assert gradgradcheck(lambda y: cr.norm(y, p=p), (y,))


@pytest.mark.requires_torch
def test_norm_negative_p_matches_torch(torch):
    a = np.array([[3.0, 0.0, 1.0], [1.0, 2.0, -2.0]])
    x, t = f64(a), torch.tensor(a, requires_grad=True)
    cr.norm(x, p=-1.5, dim=1).sum().backward()
    torch.norm(t, p=-1.5, dim=1).sum().backward()
    close(x.grad, t.grad.numpy(), 1e-12)


@pytest.mark.parametrize("method", ["uniform_", "normal_"])
def test_random_fill_of_a_recorded_tensor_stays_in_the_graph(method):
    x = cr.tensor([3.0, 4.0], requires_grad=True)
    y = x * 2
    getattr(y, method)()
    assert y.requires_grad and y.grad_fn is not None
    (y * 3).sum().backward()
    close(x.grad.double(), [0.0, 0.0])


def test_random_fill_of_a_leaf_that_requires_grad_is_refused():
    with pytest.raises(RuntimeError, match="uniform_.*leaf"):
        cr.ones(2, requires_grad=True).uniform_()
