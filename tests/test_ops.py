"""Tests generated from the op-spec table (``tests/op_specs.py``), plus the edge cases a
table row cannot express: ties, repeated indices, zeros in prod, huge logits, output dtypes
of mixed operands, and error handling.

For every row and case: float64 gradcheck and gradgradcheck; empty tensors (forward and
backward shapes); where torch is importable, forward values, dtypes and gradients against
torch in float32 and float64.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from op_specs import SPECS, draw_case

import chainrule as cr
from chainrule.autograd import gradcheck, gradgradcheck

CASES = [pytest.param(s, c, id=f"{s.name}-{i}") for s in SPECS for i, c in enumerate(s.cases)]
SECOND = [p for p in CASES if p.values[0].second_order]
TORCH_CASES = [p for p in CASES if p.values[0].compare_torch]
EMPTY = [pytest.param(s, c, id=f"{s.name}-{i}") for s in SPECS for i, c in enumerate(s.empty)]


# ----------------------------------------------------------------------- helpers


def to_cr(values, dtype=np.float64):
    """chainrule tensors: float values require grad; index and mask arrays are constants."""
    out = []
    for v in values:
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            out.append(cr.tensor(v.astype(dtype), requires_grad=True))
        elif isinstance(v, np.ndarray):
            out.append(cr.tensor(v))
        else:
            out.append(v)
    return out


def to_torch(torch, values, dtype=np.float64):
    out = []
    for v in values:
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            out.append(torch.tensor(v.astype(dtype), requires_grad=True))
        elif isinstance(v, np.ndarray):
            out.append(torch.tensor(v))
        else:
            out.append(v)
    return out


def flat(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def diff_inputs(xs):
    return [x for x in xs if isinstance(x, cr.Tensor) and x.requires_grad]


def dtype_name(t):
    return str(t.dtype).replace("torch.", "").replace("chainrule.", "")


def assert_close(actual, expected, rtol, atol, what):
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != {expected.shape}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, equal_nan=True,
                               err_msg=what)


# ----------------------------------------------------------------------- table-driven

# tighter than gradcheck's defaults (torch's): central differences in float64 on these
# smooth, well-scaled inputs are good to ~1e-9, so a 0.1% error in a rule is caught
TOL = {"atol": 1e-6, "rtol": 1e-5}


@pytest.mark.parametrize("spec,case", CASES)
def test_gradcheck(spec, case, rng):
    xs = to_cr(draw_case(spec, case, rng))
    assert diff_inputs(xs), f"{spec.name}: a case needs a float input"
    assert gradcheck(spec.run, tuple(xs), **TOL)


@pytest.mark.parametrize("spec,case", SECOND)
def test_gradgradcheck(spec, case, rng):
    xs = to_cr(draw_case(spec, case, rng))
    assert gradgradcheck(spec.run, tuple(xs), **TOL)


@pytest.mark.requires_torch
@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("spec,case", TORCH_CASES)
def test_against_torch(spec, case, dtype, rng, torch):
    values = draw_case(spec, case, rng)
    check_against_torch(spec, values, dtype, rng, torch)


def check_against_torch(spec, values, dtype, rng, torch):
    """Forward values, dtypes and requires_grad, then gradients from a random upstream
    gradient, against torch."""
    rtol, atol = (1e-9, 1e-12) if dtype == np.float64 else (spec.rtol32, 10 * spec.rtol32)
    xs, ts = to_cr(values, dtype), to_torch(torch, values, dtype)
    outs, touts = flat(spec.run(*xs)), flat(spec.run_torch(torch, *ts))
    assert len(outs) == len(touts), f"{spec.name}: {len(outs)} outputs, torch has {len(touts)}"
    for k, (o, t) in enumerate(zip(outs, touts)):
        what = f"{spec.name} output {k}"
        assert tuple(o.shape) == tuple(t.shape), f"{what}: shape {o.shape} vs torch {t.shape}"
        assert dtype_name(o) == dtype_name(t), f"{what}: dtype {o.dtype} vs torch {t.dtype}"
        assert o.requires_grad == t.requires_grad, f"{what}: requires_grad differs"
        assert_close(o.detach().numpy(), t.detach().numpy(), rtol, atol, what)
    pairs = [(o, t) for o, t in zip(outs, touts) if t.requires_grad]
    if not pairs:
        return
    gs = [rng.standard_normal(tuple(t.shape)).astype(dtype) for _, t in pairs]
    diff = [i for i, v in enumerate(values) if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    cr_grads = cr.autograd.grad([o for o, _ in pairs], [xs[i] for i in diff],
                                [cr.tensor(g) for g in gs], allow_unused=True)
    t_grads = torch.autograd.grad([t for _, t in pairs], [ts[i] for i in diff],
                                  [torch.tensor(g) for g in gs], allow_unused=True)
    for i, a, b in zip(diff, cr_grads, t_grads):
        shape = values[i].shape
        a = np.zeros(shape) if a is None else a.numpy()
        b = np.zeros(shape) if b is None else b.numpy()
        assert_close(a, b, rtol, atol, f"{spec.name}: gradient of input {i}")
        assert a.dtype == dtype, f"{spec.name}: gradient of input {i} is {a.dtype}"


@pytest.mark.parametrize("spec,case", EMPTY)
def test_empty(spec, case, rng):
    """Zero-size inputs: the forward gives torch's shape, the backward gives each input a
    gradient of its own shape."""
    values = draw_case(spec, case, rng)
    xs = to_cr(values)
    outs = [o for o in flat(spec.run(*xs)) if o.requires_grad]
    assert outs
    grads = cr.autograd.grad(outs, diff_inputs(xs), [cr.ones_like(o) for o in outs],
                             allow_unused=True, materialize_grads=True)
    for x, g in zip(diff_inputs(xs), grads):
        assert tuple(g.shape) == tuple(x.shape)
        assert g.dtype == x.dtype


@pytest.mark.requires_torch
@pytest.mark.parametrize("spec,case", EMPTY)
def test_empty_against_torch(spec, case, rng, torch):
    check_against_torch(spec, draw_case(spec, case, rng), np.float64, rng, torch)


def test_table_covers_the_issue():
    """Every op the issue lists has at least one row."""
    names = " ".join(s.name for s in SPECS)
    required = [
        "add", "sub", "mul", "div", "pow(tensor,tensor)", "pow(x,3)", "pow(scalar,x)", "matmul",
        "remainder", "neg", "exp", "log", "log1p", "expm1", "sqrt", "rsqrt", "abs", "sign",
        "sin", "cos", "tanh", "sigmoid", "relu", "clamp(min,max)", "clamp(tensor min,max)",
        "clip", "maximum", "minimum", "where", "reciprocal", "square", "floor", "ceil", "round",
        "sum", "mean", "prod", "max(dim)", "min(dim)", "max()", "amax", "amin", "var", "std",
        "logsumexp", "norm(p=1", "norm(p=inf", "norm(p=3", "norm(zero vector)", "cumsum",
        "reshape", "view", "flatten", "unflatten", "squeeze", "unsqueeze", "transpose",
        "permute", "t", "T", "mT", "expand", "expand_as", "repeat", "chunk", "split", "cat",
        "stack", "flip", "getitem[slice]", "getitem[int array]", "getitem[bool mask]",
        "getitem[None]", "getitem[...]", "gather", "scatter_add", "index_select",
        "masked_fill", "take_along_dim", "mm", "bmm", "mv", "dot", "outer", "einsum",
        "softmax", "log_softmax",
    ]
    missing = [r for r in required if r not in names]
    assert not missing, missing


# ----------------------------------------------------------------------- ties and kinks


def grad_of(fn, *values):
    xs = [cr.tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in values]
    out = fn(*xs)
    out = out[0] if isinstance(out, tuple) else out
    gs = cr.autograd.grad(out, xs, cr.ones_like(out), allow_unused=True, materialize_grads=True)
    return [g.numpy() for g in gs]


TIES = [
    # (name, fn, inputs, expected gradients): torch's subgradients, written out
    ("amax splits ties", lambda m, x: m.amax(x), [[1.0, 3.0, 3.0, 2.0]], [[0, 0.5, 0.5, 0]]),
    ("amax(dim) splits ties", lambda m, x: m.amax(x, 1), [[[3.0, 3.0, 3.0], [1.0, 2.0, 2.0]]],
     [[[1 / 3, 1 / 3, 1 / 3], [0, 0.5, 0.5]]]),
    ("amin splits ties", lambda m, x: x.amin(0), [[[1.0, 2.0], [1.0, 0.0]]],
     [[[0.5, 0], [0.5, 1]]]),
    ("max() splits ties", lambda m, x: m.max(x), [[2.0, 2.0, -1.0, 2.0]],
     [[1 / 3, 1 / 3, 0, 1 / 3]]),
    ("min() splits ties", lambda m, x: x.min(), [[0.0, 0.0]], [[0.5, 0.5]]),
    ("max(dim) picks the index", lambda m, x: m.max(x, 1), [[[1.0, 4.0, 4.0], [2.0, 2.0, 0.0]]],
     [[[0, 1, 0], [1, 0, 0]]]),
    ("min(dim) picks the index", lambda m, x: m.min(x, 0), [[[1.0, 0.0], [1.0, 0.0]]],
     [[[1, 1], [0, 0]]]),
    ("maximum splits ties", lambda m, x, y: m.maximum(x, y), [[1.0, 2.0, 3.0], [1.0, 0.0, 3.0]],
     [[0.5, 1, 0.5], [0.5, 0, 0.5]]),
    ("minimum splits ties", lambda m, x, y: m.minimum(x, y), [[1.0, 2.0], [1.0, 0.0]],
     [[0.5, 0], [0.5, 1]]),
    ("norm(inf) ties", lambda m, x: m.norm(x, p=float("inf")), [[-2.0, 2.0, 1.0]],
     [[-0.5, 0.5, 0]]),
    ("relu'(0) = 0", lambda m, x: m.relu(x), [[0.0, 1.0, -1.0]], [[0, 1, 0]]),
    ("relu passes NaN's gradient", lambda m, x: m.relu(x), [[math.nan, -1.0]], [[1, 0]]),
    ("maximum with NaN", lambda m, x, y: m.maximum(x, y), [[math.nan, 1.0], [0.0, math.nan]],
     [[1, 1], [1, 1]]),
    ("minimum with NaN", lambda m, x, y: m.minimum(x, y), [[math.nan, 1.0], [0.0, 2.0]],
     [[1, 1], [1, 0]]),
    ("clamp(scalar) blocks NaN", lambda m, x: m.clamp(x, -1.0, 1.0), [[math.nan, 0.5]], [[0, 1]]),
    ("abs'(0) = 0", lambda m, x: m.abs(x), [[0.0, 1.0, -1.0]], [[0, 1, -1]]),
    ("clamp passes the bounds", lambda m, x: m.clamp(x, -1.0, 1.0), [[-1.0, 1.0, 2.0, -3.0, 0.0]],
     [[1, 1, 0, 0, 1]]),
    ("clamp(min) at the bound", lambda m, x: x.clamp(min=0.0), [[0.0, -1.0]], [[1, 0]]),
    ("clamp(tensor) at the bounds", lambda m, x, lo: m.clamp(x, min=lo), [[0.0, 1.0], [0.0, 2.0]],
     [[1, 0], [0, 1]]),  # torch: input >= min passes to the input; unlike maximum's half
    ("sqrt at 0 is inf", lambda m, x: m.sqrt(x), [[0.0, 4.0]], [[math.inf, 0.25]]),
    ("norm at 0 is 0", lambda m, x: m.norm(x), [[0.0, 0.0]], [[0, 0]]),
    ("norm(p=3) at 0 is 0", lambda m, x: m.norm(x, p=3), [[0.0, 0.0]], [[0, 0]]),
    ("pow(0, y) wrt y", lambda m, x, y: x**y, [[0.0, 0.0, 2.0], [2.0, 0.0, 1.0]],
     [[0, 0, 1], [0, 0, 2 * math.log(2)]]),
    ("x ** 0 at 0", lambda m, x: x**0, [[0.0, 1.0]], [[0, 0]]),
    ("x ** 2 at 0", lambda m, x: x**2.0, [[0.0]], [[0]]),
    ("prod, one zero", lambda m, x: m.prod(x), [[0.5, 0.0, -1.5, 2.0]], [[0, -1.5, 0, 0]]),
    ("prod, two zeros", lambda m, x: m.prod(x), [[0.0, 3.0, 0.0]], [[0, 0, 0]]),
    ("prod(dim), zeros", lambda m, x: m.prod(x, 1), [[[0.0, 2.0, 3.0], [0.0, 0.0, 5.0]]],
     [[[6, 0, 0], [0, 0, 0]]]),
    ("repeated indices accumulate", lambda m, x: x[[0, 0, 2, 0]], [[1.0, 2.0, 3.0]], [[3, 0, 1]]),
    ("index_select accumulates", lambda m, x: m.index_select(x, 0, m.tensor([1, 1])),
     [[1.0, 2.0]], [[0, 2]]),
    ("gather accumulates", lambda m, x: m.gather(x, 1, m.tensor([[0, 0, 0], [1, 1, 0]])),
     [[[1.0, 2.0], [3.0, 4.0]]], [[[3, 0], [1, 2]]]),
    ("take_along_dim accumulates", lambda m, x: m.take_along_dim(x, m.tensor([2, 2, 2])),
     [[1.0, 2.0, 3.0]], [[0, 0, 3]]),
    ("scatter_add accumulates", lambda m, x, s: m.scatter_add(x, 0, m.tensor([1, 1, 1]), s)[1] * 2,
     [[0.0, 0.0], [1.0, 2.0, 3.0]], [[0, 2], [2, 2, 2]]),
]


@pytest.mark.parametrize("name,fn,inputs,expected", TIES, ids=[t[0] for t in TIES])
def test_subgradients(name, fn, inputs, expected):
    got = grad_of(lambda *xs: fn(cr, *xs), *inputs)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, np.array(e, dtype=np.float64), rtol=1e-12, atol=1e-12)


@pytest.mark.requires_torch
@pytest.mark.parametrize("name,fn,inputs,expected", TIES, ids=[t[0] for t in TIES])
def test_subgradients_match_torch(name, fn, inputs, expected, torch):
    ts = [torch.tensor(np.array(v, dtype=np.float64), requires_grad=True) for v in inputs]
    out = fn(torch, *ts)
    out = out[0] if isinstance(out, tuple) else out
    gs = torch.autograd.grad(out, ts, torch.ones_like(out), allow_unused=True,
                             materialize_grads=True)
    for g, e in zip(gs, expected):
        np.testing.assert_allclose(g.numpy(), np.array(e, dtype=np.float64), rtol=1e-12,
                                   atol=1e-12)


# ----------------------------------------------------------------------- stability


def test_nan_forward():
    """NaN propagates through max/maximum/clamp; sign(NaN) is 0, as in torch."""
    x = cr.tensor([math.nan, 2.0, -3.0], dtype=cr.float64)
    np.testing.assert_array_equal(cr.sign(x).numpy(), [0, 1, -1])
    assert math.isnan(cr.amax(x).item()) and math.isnan(cr.max(x, 0).values.item())
    np.testing.assert_array_equal(cr.maximum(x, cr.zeros_like(x)).numpy(), [math.nan, 2, 0])
    np.testing.assert_array_equal(cr.clamp(x, -1, 1).numpy(), [math.nan, 1, -1])



@pytest.mark.parametrize("dtype", [cr.float32, cr.float64])
def test_softmax_huge_logits(dtype):
    x = cr.tensor([[1e4, 0.0, -1e4], [1e4, 1e4, 0.0]], dtype=dtype, requires_grad=True)
    s = cr.softmax(x, -1)
    ls = cr.log_softmax(x, -1)
    np.testing.assert_allclose(s.detach().numpy(), [[1, 0, 0], [0.5, 0.5, 0]], atol=1e-7)
    np.testing.assert_allclose(ls.detach().numpy(),
                               [[0, -1e4, -2e4], [-math.log(2), -math.log(2), -1e4 - math.log(2)]],
                               rtol=1e-6)
    lse = cr.logsumexp(x, 1)
    np.testing.assert_allclose(lse.detach().numpy(), [1e4, 1e4 + math.log(2)], rtol=1e-7)
    (s[:, 0].sum() + ls.sum() + lse.sum()).backward()
    assert np.isfinite(x.grad.numpy()).all()
    assert x.grad.dtype == dtype


def test_logsumexp_all_minus_inf():
    """A row of -inf gives -inf (no NaN forward); its gradient is NaN, as in torch."""
    x = cr.tensor([[-math.inf, -math.inf], [0.0, -math.inf]], dtype=cr.float64, requires_grad=True)
    out = cr.logsumexp(x, 1)
    np.testing.assert_array_equal(out.detach().numpy(), [-math.inf, 0.0])
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[np.nan, np.nan], [1, 0]])


@pytest.mark.parametrize("x", [-200.0, -90.0, 0.0, 90.0, 200.0])
def test_sigmoid_extremes(x):
    for dtype in (cr.float32, cr.float64):
        t = cr.tensor([x], dtype=dtype, requires_grad=True)
        y = cr.sigmoid(t)
        y.sum().backward()
        assert np.isfinite(y.detach().numpy()).all() and np.isfinite(t.grad.numpy()).all()
        np.testing.assert_allclose(y.item(), 1 / (1 + math.exp(-x)), rtol=1e-6, atol=1e-30)


def test_var_of_one_element_is_nan():
    """torch: var with correction=1 of a single element is NaN (0 / 0), not an error."""
    x = cr.tensor([[2.0, 3.0]], dtype=cr.float64)
    assert np.isnan(cr.var(x, 0).numpy()).all()
    np.testing.assert_array_equal(cr.var(x, 0, correction=0).numpy(), [0.0, 0.0])


# ----------------------------------------------------------------------- dtypes

DTYPE_OPERANDS = {
    # name: (dtype or None for a Python scalar, value)
    "f32": ("float32", [0.5, 1.5, 2.0]), "f64": ("float64", [1.5, 0.5, 3.0]),
    "f16": ("float16", [0.5, 1.0, 2.0]), "i64": ("int64", [1, 2, 3]),
    "i32": ("int32", [3, 1, 2]), "u8": ("uint8", [2, 1, 3]), "b": ("bool", [True, True, True]),
    "f64_0d": ("float64", 1.5), "f32_0d": ("float32", 2.5), "i64_0d": ("int64", 2),
    "i32_0d": ("int32", 3), "b_0d": ("bool", True),
    "2.5": (None, 2.5), "3": (None, 3), "True": (None, True),
}
BINARY_OPS = {
    "+": lambda m, a, b: a + b, "-": lambda m, a, b: a - b, "*": lambda m, a, b: a * b,
    "/": lambda m, a, b: a / b, "**": lambda m, a, b: a**b, "%": lambda m, a, b: a % b,
    "@": lambda m, a, b: a @ b, "//": lambda m, a, b: a // b,
    "maximum": lambda m, a, b: m.maximum(a, b), "minimum": lambda m, a, b: m.minimum(a, b),
    "where": lambda m, a, b: m.where(m.tensor([True, False, True]), a, b),
}
TENSOR_ONLY = {"maximum", "minimum"}  # torch takes no Python scalars there


def _operand(lib, name):
    dtype, value = DTYPE_OPERANDS[name]
    if dtype is None:
        return value
    return lib.tensor(value, dtype=getattr(lib, dtype))


DTYPE_CASES = [
    pytest.param(op, a, b, id=f"{a}{op}{b}")
    for op in BINARY_OPS for a in DTYPE_OPERANDS for b in DTYPE_OPERANDS
    if (DTYPE_OPERANDS[a][0] or DTYPE_OPERANDS[b][0])
    and (op not in TENSOR_ONLY or (DTYPE_OPERANDS[a][0] and DTYPE_OPERANDS[b][0]))
    and (a in ("f32", "i64", "b") or b in ("f32", "i64", "b") or "0d" in a + b)
]


def _outcome(fn):
    try:
        return fn(), None
    except Exception as exc:  # noqa: BLE001  (compare whether both libraries refuse)
        return None, exc


@pytest.mark.requires_torch
@pytest.mark.parametrize("op,a,b", DTYPE_CASES)
def test_binary_dtypes(op, a, b, torch):
    """Output dtype and values for mixed dtypes, 0-d tensors and Python scalars, as torch."""
    fn = BINARY_OPS[op]
    want, terr = _outcome(lambda: fn(torch, _operand(torch, a), _operand(torch, b)))
    got, cerr = _outcome(lambda: fn(cr, _operand(cr, a), _operand(cr, b)))
    if terr is not None:
        assert cerr is not None, f"torch refuses ({terr}) but chainrule gives {got!r}"
        return
    assert cerr is None, f"chainrule raised {cerr!r}; torch gives {want}"
    assert dtype_name(got) == dtype_name(want), f"dtype {got.dtype} vs torch {want.dtype}"
    assert tuple(got.shape) == tuple(want.shape)
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64),
                               rtol=1e-3)


UNARY_OPS = {
    "exp": lambda m, x: m.exp(x), "log": lambda m, x: m.log(x), "sqrt": lambda m, x: m.sqrt(x),
    "rsqrt": lambda m, x: m.rsqrt(x), "sin": lambda m, x: m.sin(x),
    "tanh": lambda m, x: m.tanh(x), "sigmoid": lambda m, x: m.sigmoid(x),
    "log1p": lambda m, x: m.log1p(x), "expm1": lambda m, x: m.expm1(x),
    "reciprocal": lambda m, x: m.reciprocal(x), "abs": lambda m, x: m.abs(x),
    "neg": lambda m, x: -x, "sign": lambda m, x: m.sign(x), "relu": lambda m, x: m.relu(x),
    "floor": lambda m, x: m.floor(x), "ceil": lambda m, x: m.ceil(x),
    "round": lambda m, x: m.round(x), "square": lambda m, x: m.square(x),
    "x**2": lambda m, x: x**2, "x**0.5": lambda m, x: x**0.5, "x**-1": lambda m, x: x**-1,
    "2**x": lambda m, x: 2**x, "2.0**x": lambda m, x: 2.0**x,
    "clamp(int)": lambda m, x: m.clamp(x, 1, 2), "clamp(float)": lambda m, x: m.clamp(x, 0.5),
    "sum": lambda m, x: m.sum(x), "prod": lambda m, x: m.prod(x), "mean": lambda m, x: m.mean(x),
    "cumsum": lambda m, x: m.cumsum(x, 0), "amax": lambda m, x: m.amax(x),
    "max": lambda m, x: m.max(x), "max(dim)": lambda m, x: m.max(x, 0)[0],
    "norm": lambda m, x: m.norm(x), "var": lambda m, x: m.var(x),
    "logsumexp": lambda m, x: m.logsumexp(x, 0), "softmax": lambda m, x: m.softmax(x, 0),
}
UNARY_DTYPE_CASES = [pytest.param(op, a, id=f"{op}({a})") for op in UNARY_OPS
                     for a in ("f64", "i64", "i32", "u8", "b")]


@pytest.mark.requires_torch
@pytest.mark.parametrize("op,a", UNARY_DTYPE_CASES)
def test_unary_dtypes(op, a, torch):
    fn = UNARY_OPS[op]
    want, terr = _outcome(lambda: fn(torch, _operand(torch, a)))
    got, cerr = _outcome(lambda: fn(cr, _operand(cr, a)))
    if terr is not None:
        assert cerr is not None, f"torch refuses ({terr}) but chainrule gives {got!r}"
        return
    assert cerr is None, f"chainrule raised {cerr!r}; torch gives {want}"
    assert dtype_name(got) == dtype_name(want), f"dtype {got.dtype} vs torch {want.dtype}"
    np.testing.assert_allclose(got.numpy().astype(np.float64), want.numpy().astype(np.float64),
                               rtol=1e-3)


MIXED = [
    # (name, fn(lib, *tensors), inputs as (values, dtype name, requires_grad))
    ("f32 + f64", lambda m, a, b: a + b,
     [([1.5, -2.0], "float32", True), ([0.5, 3.0], "float64", True)]),
    ("f64 0-d * f32", lambda m, a, b: a * b,
     [(2.5, "float64", True), ([1.5, -2.0], "float32", True)]),
    ("f32 / i64", lambda m, a, b: a / b,
     [([1.5, -2.0], "float32", True), ([2, 3], "int64", False)]),
    ("i64 ** f32", lambda m, a, b: a**b, [([2, 3], "int64", False), ([0.5, 1.5], "float32", True)]),
    ("f32 ** f64 0-d", lambda m, a, b: a**b,
     [([0.5, 2.0], "float32", True), (1.5, "float64", True)]),
    ("where(f32, f64)", lambda m, a, b: m.where(m.tensor([True, False]), a, b),
     [([1.5, -2.0], "float32", True), ([0.5, 3.0], "float64", True)]),
    ("clamp(f32, f64, f64)", lambda m, x, lo, hi: m.clamp(x, lo, hi),
     [([-1.5, 0.2, 2.0], "float32", True), ([-1.0], "float64", True), ([1.0], "float64", True)]),
    ("cat(f32, f64)", lambda m, a, b: m.cat([a, b]),
     [([1.5, -2.0], "float32", True), ([0.5], "float64", True)]),
    ("maximum(f64, f32)", lambda m, a, b: m.maximum(a, b),
     [([1.5, -2.0], "float64", True), ([0.5, 3.0], "float32", True)]),
    ("masked_fill(f32, f64 value)", lambda m, x, v: x.masked_fill(m.tensor([True, False]), v),
     [([1.5, -2.0], "float32", True), (0.25, "float64", True)]),
    ("f32 - i32 0-d", lambda m, a, b: a - b, [([1.5, -2.0], "float32", True), (3, "int32", False)]),
]


@pytest.mark.requires_torch
@pytest.mark.parametrize("name,fn,inputs", MIXED, ids=[m[0] for m in MIXED])
def test_mixed_dtype_gradients(name, fn, inputs, torch):
    """Promotion is recorded: each input's gradient comes back in that input's dtype."""
    def build(lib):
        return [lib.tensor(v, dtype=getattr(lib, d), requires_grad=g) for v, d, g in inputs]

    xs, ts = build(cr), build(torch)
    out, tout = fn(cr, *xs), fn(torch, *ts)
    assert dtype_name(out) == dtype_name(tout)
    assert_close(out.detach().numpy(), tout.detach().numpy(), 1e-6, 1e-6, name)
    g = np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape))
    out.backward(cr.tensor(g, dtype=out.dtype))
    tout.backward(torch.tensor(g, dtype=tout.dtype))
    for x, t in zip(xs, ts):
        if t.requires_grad:
            assert dtype_name(x.grad) == dtype_name(t.grad), name
            assert_close(x.grad.numpy(), t.grad.numpy(), 1e-6, 1e-6, name)


# ----------------------------------------------------------------------- errors

ERRORS = [
    # (op named in the message, fn(lib)) where torch refuses; chainrule must refuse too
    ("matmul", lambda m: m.ones(2, 3) @ m.ones(4, 2)),
    ("matmul", lambda m: m.matmul(m.ones(2, 2, 3), m.ones(3, 3, 2))),
    ("matmul", lambda m: m.matmul(m.ones(()), m.ones(3))),
    ("mm", lambda m: m.mm(m.ones(3), m.ones(3, 2))),
    ("bmm", lambda m: m.bmm(m.ones(2, 2, 3), m.ones(3, 3, 2))),
    ("mv", lambda m: m.mv(m.ones(2, 3), m.ones(2, 3))),
    ("dot", lambda m: m.dot(m.ones(2, 3), m.ones(3))),
    ("add", lambda m: m.ones(2, 3) + m.ones(3, 2)),
    ("multiply", lambda m: m.ones(2) * m.ones(3)),
    ("reshape", lambda m: m.ones(2, 3).reshape(4, 2)),
    ("reshape", lambda m: m.ones(2, 3).reshape(-1, -1)),
    ("sum", lambda m: m.ones(2, 3).sum(2)),
    ("sum", lambda m: m.ones(2, 3).sum((0, -2))),
    ("mean", lambda m: m.ones(2, 3, dtype=m.int64).mean()),
    ("amax", lambda m: m.ones(0, 3).amax(0)),
    ("max", lambda m: m.ones(0, 3).max(0)),
    ("max", lambda m: m.max(m.ones(0))),
    ("cat", lambda m: m.cat([m.ones(2, 3), m.ones(2, 2)])),
    ("cat", lambda m: m.cat([])),
    ("cat", lambda m: m.cat([m.ones(()), m.ones(())])),
    ("cat", lambda m: m.cat([m.ones(2, 3), m.ones(2, 3)], dim=2)),
    ("stack", lambda m: m.stack([m.ones(2), m.ones(2)], dim=-3)),
    ("mT", lambda m: m.ones(3).mT),
    ("stack", lambda m: m.stack([m.ones(2), m.ones(3)])),
    ("expand", lambda m: m.ones(2, 3).expand(3, 3)),
    ("permute", lambda m: m.ones(2, 3).permute(0, 0)),
    ("transpose", lambda m: m.ones(2, 3).transpose(0, 2)),
    ("squeeze", lambda m: m.ones(2, 1).squeeze(2)),
    ("unsqueeze", lambda m: m.ones(2).unsqueeze(3)),
    ("unflatten", lambda m: m.ones(2, 6).unflatten(1, (4, 2))),
    ("flatten", lambda m: m.ones(2, 3, 4).flatten(2, 1)),
    ("t", lambda m: m.ones(2, 3, 4).t()),
    ("split", lambda m: m.ones(5).split([2, 2])),
    ("chunk", lambda m: m.ones(5).chunk(0)),
    ("getitem", lambda m: m.ones(2, 3)[2]),
    ("getitem", lambda m: m.ones(2, 3)[:, :, 0]),
    ("getitem", lambda m: m.ones(2, 3)[m.tensor([0, 5])]),
    ("getitem", lambda m: m.ones(2, 3)[m.tensor([True, False, True])]),
    ("gather", lambda m: m.gather(m.ones(2, 3), 1, m.tensor([[3]]))),
    ("gather", lambda m: m.gather(m.ones(2, 3), 2, m.tensor([[0]]))),
    ("gather", lambda m: m.gather(m.ones(2, 3), 1, m.tensor([0]))),
    ("scatter_add", lambda m: m.ones(2, 3).scatter_add(1, m.tensor([[3]]), m.ones(1, 1))),
    ("index_select", lambda m: m.ones(2, 3).index_select(0, m.tensor([[0]]))),
    ("index_select", lambda m: m.ones(2, 3).index_select(0, m.tensor([2]))),
    ("index_select", lambda m: m.index_select(m.tensor(2.0), 0, m.tensor([0, 0]))),
    ("take_along_dim", lambda m: m.take_along_dim(m.tensor(2.0), m.tensor(0), 0)),
    ("where", lambda m: m.where(m.ones(3), m.ones(3), m.ones(3))),
    ("where", lambda m: m.where(m.ones(3) > 0, m.ones(2), m.ones(3))),
    ("masked_fill", lambda m: m.ones(2, 3).masked_fill(m.ones(2, 3), 0.0)),
    ("masked_fill", lambda m: m.ones(2, 3).masked_fill(m.ones(3, 2) > 0, 0.0)),
    ("softmax", lambda m: m.softmax(m.ones(2, 3), 2)),
    ("log_softmax", lambda m: m.log_softmax(m.ones(2, 3), -3)),
    ("cumsum", lambda m: m.cumsum(m.ones(2, 3), 2)),
    ("norm", lambda m: m.norm(m.ones(2, 3), dim=2)),
    ("clamp", lambda m: m.clamp(m.ones(2))),
    ("einsum", lambda m: m.einsum("ij,jk->ik", m.ones(2, 3), m.ones(2, 3))),
    ("einsum", lambda m: m.einsum("ij,jk->ik", m.ones(2, 3))),
    ("repeat", lambda m: m.ones(2, 3).repeat(2)),
    ("logsumexp", lambda m: m.logsumexp(m.ones(2, 3), 3)),
    ("var", lambda m: m.var(m.ones(2, 3), 2)),
    ("remainder", lambda m: m.ones(2) % m.ones(3)),
    ("power", lambda m: m.ones(2) ** m.ones(3)),
    ("divide", lambda m: m.ones(2) / m.ones(3)),
]

# chainrule refuses these, torch does not check (out-of-range take_along_dim reads garbage)
CHAINRULE_ONLY_ERRORS = [
    ("take_along_dim", lambda m: m.take_along_dim(m.ones(2, 3), m.tensor([[3]]), 1)),
    ("take_along_dim", lambda m: m.take_along_dim(m.ones(2, 3), m.tensor([-7]))),
]


@pytest.mark.parametrize("op,fn", ERRORS + CHAINRULE_ONLY_ERRORS,
                         ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS + CHAINRULE_ONLY_ERRORS)])
def test_errors_name_the_op(op, fn):
    with pytest.raises(Exception) as info:
        fn(cr)
    msg = str(info.value)
    assert msg.startswith(op + ":") or f" {op}:" in msg or msg.startswith(op), msg
    assert "test_ops.py:" in msg, f"the message should name the user's line: {msg}"


@pytest.mark.requires_torch
@pytest.mark.parametrize("op,fn", ERRORS, ids=[f"{e[0]}-{i}" for i, e in enumerate(ERRORS)])
def test_errors_match_torch(op, fn, torch):
    """torch refuses the same calls, and an ``except`` written for torch's exception class
    catches chainrule's: chainrule raises that class or a subclass of it (``OpError`` is a
    RuntimeError)."""
    with pytest.raises(Exception) as tinfo:
        fn(torch)
    with pytest.raises(Exception) as cinfo:
        fn(cr)
    assert isinstance(cinfo.value, type(tinfo.value)), (
        f"chainrule raised {type(cinfo.value).__name__}, torch {type(tinfo.value).__name__}")
