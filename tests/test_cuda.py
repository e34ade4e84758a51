"""chainrule on an NVIDIA GPU (CuPy): everything a user does on ``device='cuda'``, each result
compared with the same computation on the CPU (NumPy) within float32 tolerance.

Runs only where CuPy imports and sees a GPU; elsewhere (CI) the whole module is skipped.
The op-spec table (``tests/op_specs.py``) drives the op coverage: every row and case runs
forward and backward (and, for rows with a second derivative, a second backward through a
``create_graph`` gradient) on both devices, and values, dtypes, devices and gradients must
agree.  Random draws are made on the CPU by chainrule's one generator and then moved, so
the same seed gives the same numbers on both devices.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

cupy = pytest.importorskip("cupy")

import chainrule as cr  # noqa: E402
from chainrule import nn, optim  # noqa: E402
from chainrule.nn import functional as F  # noqa: E402
from chainrule.utils.data import DataLoader, Dataset, TensorDataset  # noqa: E402

if not cr.cuda.is_available():
    pytest.skip("no CUDA device visible to CuPy", allow_module_level=True)

from op_specs import SPECS, draw_case  # noqa: E402

CUDA = cr.device("cuda:0")
CPU = cr.device("cpu")
RTOL, ATOL = 1e-4, 1e-5  # float32, GPU vs CPU (different summation orders, fused kernels)


# ----------------------------------------------------------------------- helpers


def host(t):
    """A tensor's (or array's) values as a NumPy array, wherever they live."""
    a = t.data if isinstance(t, cr.Tensor) else t
    return cupy.asnumpy(a) if isinstance(a, cupy.ndarray) else np.asarray(a)


def close(actual, expected, what, rtol=RTOL, atol=ATOL):
    a, e = host(actual), host(expected)
    assert a.shape == e.shape, f"{what}: shape {a.shape} != {e.shape}"
    np.testing.assert_allclose(a.astype(np.float64), e.astype(np.float64), rtol=rtol,
                               atol=atol, equal_nan=True, err_msg=what)


def on(dev, t):
    assert isinstance(t, cr.Tensor), f"expected a Tensor, got {type(t).__name__}"
    want = cupy.ndarray if cr.device(dev).type == "cuda" else np.ndarray
    assert t.device == cr.device(dev), f"tensor on {t.device}, expected {dev}"
    assert isinstance(t.data, want), f"data is {type(t.data).__name__} on {t.device}"
    return t


def make(values, dev, dtype=np.float32, grad=True):
    """Tensors on ``dev``: float arrays require grad (as float32), integer/bool arrays are
    constants, anything else passes through."""
    out = []
    for v in values:
        if isinstance(v, np.ndarray) and v.dtype.kind == "f":
            out.append(cr.tensor(v.astype(dtype), device=dev, requires_grad=grad))
        elif isinstance(v, np.ndarray):
            out.append(cr.tensor(v, device=dev))
        else:
            out.append(v)
    return out


def flat(result):
    return list(result) if isinstance(result, (tuple, list)) else [result]


def run_on(fn, values, dev, upstream, second=None):
    """Forward ``fn`` on ``dev``, backward from ``sum(out * upstream)``; with ``second``
    (arrays, one per differentiable input) also a second backward through the
    create_graph gradients.  Returns (outputs, first grads, second grads)."""
    xs = make(values, dev)
    diff = [x for x in xs if isinstance(x, cr.Tensor) and x.requires_grad]
    outs = flat(fn(*xs))
    pairs = [(o, u) for o, u in zip(outs, upstream) if o.requires_grad]
    grads = seconds = None
    if pairs:
        total = sum((o * cr.tensor(u, device=dev)).sum() for o, u in pairs)
        if second is None:
            total.backward()
            grads = [x.grad for x in diff]
        else:
            grads = cr.autograd.grad(total, diff, create_graph=True, allow_unused=True)
            terms = [(g * cr.tensor(v, device=dev)).sum() for g, v in zip(grads, second)
                     if g is not None and g.requires_grad]
            if terms:
                sum(terms).backward()
                seconds = [x.grad for x in diff]
    return outs, grads, seconds


def compare_runs(name, cpu, gpu, rtol=RTOL, atol=ATOL):
    (co, cg, cs), (go, gg, gs) = cpu, gpu
    assert len(co) == len(go), f"{name}: {len(go)} outputs on cuda, {len(co)} on cpu"
    for k, (c, g) in enumerate(zip(co, go)):
        on(CUDA, g)
        assert g.dtype == c.dtype, f"{name} output {k}: dtype {g.dtype} vs cpu {c.dtype}"
        assert g.requires_grad == c.requires_grad, f"{name} output {k}: requires_grad"
        close(g, c, f"{name} output {k}", rtol, atol)
    for label, c_list, g_list in (("grad", cg, gg), ("second-order grad", cs, gs)):
        assert (c_list is None) == (g_list is None), f"{name}: {label} on one device only"
        for k, (c, g) in enumerate(zip(c_list or (), g_list or ())):
            assert (c is None) == (g is None), f"{name} input {k}: {label} None on one device"
            if c is not None:
                on(CUDA, g)
                close(g, c, f"{name} input {k} {label}", rtol, atol)


def upstream_for(fn, values, rng):
    """Random upstream gradients shaped like the (float) outputs, from a CPU dry run."""
    outs = flat(fn(*make(values, CPU)))
    return [rng.standard_normal(tuple(o.shape)).astype(np.float32) for o in outs]


# ----------------------------------------------------------------------- the device


def test_cuda_is_available_and_counted():
    assert cr.cuda.is_available() is True
    assert cr.cuda.device_count() >= 1
    assert str(CUDA) == "cuda:0" and cr.device("cuda") == CUDA


# ----------------------------------------------------------------------- tensors


def test_creation_on_cuda():
    for t in (cr.zeros(2, 3, device="cuda"), cr.ones((2, 3), device=CUDA),
              cr.full((2, 3), 1.5, device="cuda"), cr.empty(2, 3, device="cuda"),
              cr.eye(3, device="cuda"), cr.arange(5, device="cuda"),
              cr.arange(0.0, 1.0, 0.25, device="cuda"), cr.linspace(0, 1, 5, device="cuda"),
              cr.tensor([[1.0, 2.0], [3.0, 4.0]], device="cuda"),
              cr.as_tensor(np.arange(4), device="cuda"), cr.rand(3, device="cuda"),
              cr.randn(3, device="cuda"), cr.randint(0, 5, (4,), device="cuda"),
              cr.randperm(6, device="cuda")):
        on(CUDA, t)
    assert cr.tensor([1.0, 2.0], device="cuda").dtype == cr.float32
    assert cr.arange(5, device="cuda").dtype == cr.int64
    close(cr.linspace(0, 1, 5, device="cuda"), np.linspace(0, 1, 5), "linspace")
    close(cr.eye(3, device="cuda"), np.eye(3), "eye")
    x = cr.tensor([[1.0, 2.0]], device="cuda")
    for t in (cr.zeros_like(x), cr.ones_like(x), cr.full_like(x, 3.0), cr.empty_like(x),
              cr.rand_like(x), cr.randn_like(x), x.new_zeros(2), x.new_ones(2),
              x.new_full((2,), 1.0), x.new_tensor([1.0])):
        on(CUDA, t)
    w = cr.zeros(3, device="cuda", requires_grad=True)
    assert w.requires_grad and w.is_leaf and w.is_cuda


def test_moving_between_devices():
    a = cr.tensor([[1.0, -2.0], [3.5, 4.0]])
    for g in (a.to("cuda"), a.to(CUDA), a.cuda(), a.to(device="cuda"), a.cuda(0),
              a.to("cuda:0")):
        on(CUDA, g)
        close(g, a, "moved")
    g = a.cuda()
    assert g.is_cuda and not a.is_cuda
    back = g.cpu()
    on(CPU, back)
    np.testing.assert_array_equal(back.numpy(), a.numpy())
    assert g.cuda() is g and a.cpu() is a  # no copy when nothing moves
    d = a.to("cuda", cr.float64)
    on(CUDA, d)
    assert d.dtype == cr.float64
    assert on(CUDA, a.to(g)).dtype == cr.float32
    assert on(CUDA, a.to(cr.zeros(1, dtype=cr.float64, device="cuda"))).dtype == cr.float64
    i = cr.tensor([1, 2, 3]).cuda()
    assert on(CUDA, i).dtype == cr.int64
    assert on(CUDA, i.float()).dtype == cr.float32
    assert on(CUDA, g.double()).dtype == cr.float64
    assert on(CUDA, g.long()).dtype == cr.int64
    c = g.to("cuda", copy=True)
    assert c is not g
    close(c, g, "copy")
    f = cr.from_numpy(np.arange(3.0)).to("cuda")
    on(CUDA, f)


def test_numpy_item_tolist_and_conversions():
    g = cr.tensor([[1.5, -2.0], [3.0, 4.25]], device="cuda")
    with pytest.raises(TypeError, match="cpu"):
        g.numpy()  # as torch: a cuda tensor must be copied to the host first
    np.testing.assert_array_equal(g.cpu().numpy(), [[1.5, -2.0], [3.0, 4.25]])
    np.testing.assert_array_equal(g.numpy(force=True), [[1.5, -2.0], [3.0, 4.25]])
    assert g.tolist() == [[1.5, -2.0], [3.0, 4.25]]
    s = g.sum()
    assert isinstance(s.item(), float) and s.item() == pytest.approx(6.75)
    assert float(s) == pytest.approx(6.75) and f"{s:.2f}" == "6.75"
    assert int(cr.tensor(7, device="cuda")) == 7
    assert bool(cr.tensor(True, device="cuda")) is True
    assert [row.tolist() for row in g] == [[1.5, -2.0], [3.0, 4.25]]
    assert len(g) == 2 and g.shape == (2, 2) and g.numel() == 4
    with pytest.raises(RuntimeError):
        g.item()
    r = cr.tensor([1.0], device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError, match="requires grad"):
        r.numpy()
    np.testing.assert_array_equal(r.detach().cpu().numpy(), [1.0])
    assert np.asarray(g.cpu()).shape == (2, 2)
    lst = [0.0, 1.0, 2.0]
    assert lst[cr.tensor(1, device="cuda")] == 1.0  # __index__


def test_printing():
    a = cr.tensor([[1.0, 2.5], [-3.0, 4.0]])
    g = a.cuda()
    text = repr(g)
    assert "device='cuda:0'" in text
    assert text == repr(a)[:-1] + ", device='cuda:0')"
    r = cr.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    assert repr(r) == "tensor([1., 2.], device='cuda:0', requires_grad=True)"
    y = r * 2
    assert "device='cuda:0'" in repr(y) and "grad_fn=" in repr(y)
    assert "device='cuda:0'" in repr(cr.arange(3, device="cuda"))
    big = cr.arange(2000.0, device="cuda")
    assert "..." in repr(big)
    assert str(g) == repr(g)
    assert str(g.device) == "cuda:0" and repr(g.device) == "device(type='cuda', index=0)"


# ----------------------------------------------------------------------- the op table

# Rows that cannot be compared on CuPy, each with its reason.  (Empty: every row runs.)
SKIP_ROWS: dict[str, str] = {}

CASES = [pytest.param(s, c, id=f"{s.name}-{i}") for s in SPECS if s.name not in SKIP_ROWS
         for i, c in enumerate(list(s.cases) + list(s.empty))]
SECOND = [pytest.param(s, c, id=f"{s.name}-{i}") for s in SPECS
          if s.second_order and s.name not in SKIP_ROWS for i, c in enumerate(s.cases)]


def _tolerances(spec):
    r = max(RTOL, 10 * spec.rtol32)
    return r, r / 10


@pytest.mark.parametrize("spec,case", CASES)
def test_op_table_forward_backward(spec, case, rng):
    values = draw_case(spec, case, rng)
    upstream = upstream_for(spec.run, values, rng)
    cpu = run_on(spec.run, values, CPU, upstream)
    gpu = run_on(spec.run, values, CUDA, upstream)
    compare_runs(spec.name, cpu, gpu, *_tolerances(spec))


@pytest.mark.parametrize("spec,case", SECOND)
def test_op_table_second_order(spec, case, rng):
    values = draw_case(spec, case, rng)
    upstream = upstream_for(spec.run, values, rng)
    second = [rng.standard_normal(v.shape).astype(np.float32) for v in values
              if isinstance(v, np.ndarray) and v.dtype.kind == "f"]
    cpu = run_on(spec.run, values, CPU, upstream, second)
    gpu = run_on(spec.run, values, CUDA, upstream, second)
    r, a = _tolerances(spec)
    compare_runs(spec.name, cpu, gpu, 10 * r, 10 * a)


def test_op_table_is_covered():
    assert len(CASES) > 300, "the op table drives most of this file"


# ----------------------------------------------------------------------- non-differentiable ops


NONDIFF = [
    ("argmax", lambda x: cr.argmax(x, 1)),
    ("argmin", lambda x: x.argmin()),
    ("comparisons", lambda x: (x > 0.5, x <= 0, x == x, x != 0.25)),
    ("logic", lambda x: ((x > 0) & (x < 1), (x > 0) | (x < -1), ~(x > 0),
                         cr.logical_xor(x > 0, x > 1), (x > 0).logical_not())),
    ("any/all", lambda x: (cr.any(x > 1.5), cr.all(x > -3, dim=1))),
    ("isnan/isinf/isfinite", lambda x: (cr.isnan(x / 0), cr.isinf(x / 0), cr.isfinite(x))),
    ("floor_divide", lambda x: cr.floor_divide(x, 0.75)),
    ("sort-free max values", lambda x: cr.amax(x, dim=0)),
    ("integer arithmetic", lambda x: (cr.arange(6, device=x.device) * 3 + 1) // 2 % 4),
    ("bool sum", lambda x: (x > 0).sum()),
    ("int mean via float", lambda x: (x > 0).float().mean()),
    ("isclose", lambda x: cr.isclose(x, x + 1e-9)),
]


@pytest.mark.parametrize("name,fn", NONDIFF, ids=[n for n, _ in NONDIFF])
def test_non_differentiable_ops(name, fn, rng):
    a = rng.uniform(-2, 2, (3, 4)).astype(np.float32)
    with np.errstate(all="ignore"):
        c = flat(fn(cr.tensor(a)))
    g = flat(fn(cr.tensor(a, device="cuda")))
    for k, (x, y) in enumerate(zip(c, g)):
        on(CUDA, y)
        assert x.dtype == y.dtype, f"{name} {k}: dtype {y.dtype} vs cpu {x.dtype}"
        close(y, x, f"{name} {k}")
    assert cr.equal(g[0].cpu(), c[0]) or g[0].dtype.is_floating_point
    assert cr.tensor(a, device="cuda").allclose(cr.tensor(a, device="cuda"))


# ----------------------------------------------------------------------- the engine


def test_broadcasting_is_undone_in_the_engine():
    rng = np.random.default_rng(0)
    vals = [rng.standard_normal(s).astype(np.float32) for s in ((3, 1), (1, 4), (), (4,),
                                                                 (2, 3, 4))]

    def fn(a, b, c, d, e):
        return ((a * b + c) * d - e) ** 2 / (1 + a * a)

    up = [rng.standard_normal((2, 3, 4)).astype(np.float32)]
    cpu, gpu = run_on(fn, vals, CPU, up), run_on(fn, vals, CUDA, up)
    compare_runs("broadcast", cpu, gpu)
    for x, v in zip(gpu[1], vals):
        assert tuple(x.shape) == v.shape


def test_bias_broadcast_over_a_batch():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((8, 5)).astype(np.float32)
    b = rng.standard_normal((5,)).astype(np.float32)
    res = []
    for dev in (CPU, CUDA):
        xt, bt = make([x, b], dev)
        (xt + bt).tanh().sum().backward()
        res.append((xt.grad, bt.grad))
    close(on(CUDA, res[1][1]), res[0][1], "bias grad")
    close(on(CUDA, res[1][0]), res[0][0], "input grad")


def test_grad_accumulates_and_retain_graph():
    for dev in (CPU, CUDA):
        x = cr.tensor([1.0, -2.0, 3.0], device=dev, requires_grad=True)
        y = (x * x * x).sum()
        y.backward(retain_graph=True)
        first = host(x.grad).copy()
        y.backward()
        close(x.grad, 2 * first, f"accumulated on {dev}")
        on(dev, x.grad)
        with pytest.raises(RuntimeError, match="second time"):
            y.backward()
        x.grad = None
        (x.sin() * 2).sum().backward()
        close(x.grad, 2 * np.cos([1.0, -2.0, 3.0]), f"after reset on {dev}")


def test_autograd_grad_hooks_and_retain_grad():
    res = []
    for dev in (CPU, CUDA):
        x = cr.tensor([0.5, -1.5, 2.0], device=dev, requires_grad=True)
        h = x.exp()
        h.retain_grad()
        seen = []
        h.register_hook(lambda g, seen=seen: seen.append(g.device) or g * 2)
        out = (h * h).sum()
        (gx,) = cr.autograd.grad(out, [x], retain_graph=True)
        on(dev, gx)
        close(gx, 4 * np.exp(2 * np.array([0.5, -1.5, 2.0])), "hooked grad")
        out.backward()
        on(dev, h.grad)
        on(dev, x.grad)
        assert seen and all(d == dev for d in seen)
        res.append((gx, h.grad, x.grad))
        other = "cuda" if dev == CPU else "cpu"
        x.register_hook(lambda g, other=other: cr.zeros(3, device=other))
        with pytest.raises(RuntimeError, match="hook"):  # a hook that moves the gradient
            x.exp().sum().backward()
    for c, g in zip(*res):
        close(g, c, "hooks")


def test_grad_setter_checks_the_device():
    p = cr.zeros(3, device="cuda", requires_grad=True)
    p.grad = cr.ones(3, device="cuda")
    on(CUDA, p.grad)
    with pytest.raises(RuntimeError, match="device"):
        p.grad = cr.ones(3)


def test_gradient_flows_across_devices():
    x = cr.tensor([1.0, 2.0, -3.0], requires_grad=True)  # a CPU leaf
    (x.to("cuda") ** 2).sum().backward()
    on(CPU, x.grad)
    close(x.grad, [2.0, 4.0, -6.0], "to('cuda') backward")
    w = cr.tensor([1.0, 2.0], device="cuda", requires_grad=True)
    (w.cpu() * 3).sum().backward()
    on(CUDA, w.grad)
    close(w.grad, [3.0, 3.0], "cpu() backward")
    z = cr.tensor([0.5, 1.0], requires_grad=True)
    (g,) = cr.autograd.grad((z.cuda().exp() ** 2).sum(), [z], create_graph=True)
    on(CPU, g)
    g.sum().backward()
    close(z.grad, 4 * np.exp(2 * np.array([0.5, 1.0])), "second order across devices")


@pytest.mark.parametrize("name,fn", [
    ("tanh", lambda x, w: (x.tanh() * w).sum()),
    ("matmul+softmax", lambda x, w: (cr.softmax(x @ w.T, -1) ** 2).sum()),
    ("log_softmax", lambda x, w: (F.log_softmax(x * w, 1) * w).sum()),
    ("linear+sigmoid", lambda x, w: F.linear(x, w).sigmoid().sum()),
    ("norm+exp", lambda x, w: (x.norm(dim=1) * (x * w).exp().mean()).sum()),
], ids=["tanh", "matmul+softmax", "log_softmax", "linear+sigmoid", "norm+exp"])
def test_higher_order_gradients(name, fn):
    rng = np.random.default_rng(3)
    vals = [rng.uniform(-1, 1, (4, 3)).astype(np.float32), rng.uniform(-1, 1, (4, 3))
            .astype(np.float32)]
    res = []
    for dev in (CPU, CUDA):
        x, w = make(vals, dev)
        gx, gw = cr.autograd.grad(fn(x, w), [x, w], create_graph=True)
        (ggx,) = cr.autograd.grad((gx * gx).sum() + gw.sum(), [x], create_graph=True)
        ggx.sum().backward()
        res.append((gx, gw, ggx, x.grad, w.grad))
    for k, (c, g) in enumerate(zip(*res)):
        on(CUDA, g)
        close(g, c, f"{name} order {k}", 1e-3, 1e-4)


def test_func_transforms_on_cuda():
    from chainrule import func

    def f(x):
        return (x.sin() * x).sum()

    a = np.array([0.3, -1.2, 2.0], dtype=np.float32)
    for transform in (func.grad(f), lambda x: func.hessian(f)(x),
                      lambda x: func.jacrev(lambda y: y.exp() * y)(x)):
        c, g = transform(cr.tensor(a)), transform(cr.tensor(a, device="cuda"))
        close(on(CUDA, g), c, "func transform", 1e-4, 1e-5)
    out, vjp_fn = func.vjp(lambda x: x.tanh(), cr.tensor(a, device="cuda"))
    (gv,) = vjp_fn(cr.ones(3, device="cuda"))
    close(on(CUDA, gv), 1 - np.tanh(a) ** 2, "vjp")


def test_gradcheck_on_cuda_float64():
    x = cr.tensor([[0.3, -0.7], [1.1, 0.2]], dtype=cr.float64, device="cuda",
                  requires_grad=True)
    w = cr.tensor([0.5, -1.5], dtype=cr.float64, device="cuda", requires_grad=True)
    assert cr.autograd.gradcheck(lambda x, w: (x @ w).tanh(), (x, w))
    assert cr.autograd.gradgradcheck(lambda x, w: (x * w).sin().sum(), (x, w))


def test_anomaly_mode_on_cuda():
    x = cr.tensor([-1.0, 1.0], device="cuda", requires_grad=True)
    with cr.autograd.detect_anomaly():
        with pytest.raises(RuntimeError, match="log"):
            x.log()
        y = (x * 2).exp().sum()
        y.backward()
    close(on(CUDA, x.grad), 2 * np.exp([-2.0, 2.0]), "anomaly-mode backward")


def test_in_place_ops_on_cuda():
    rng = np.random.default_rng(5)
    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.standard_normal((4,)).astype(np.float32)
    res = []
    for dev in (CPU, CUDA):
        x, w = make([a, b], dev)
        y = x * 2
        y.add_(w)
        y.mul_(w)
        y.clamp_(-1.5, 1.5)
        y.sub_(1.0, alpha=0.5)
        y.div_(2.0)
        z = y.relu_()
        z.sum().backward()
        res.append((y.detach(), x.grad, w.grad))
        with cr.no_grad():  # the direct (unrecorded) paths an optimizer uses
            p = cr.tensor(a, device=dev)
            p.add_(cr.tensor(b, device=dev), alpha=-0.1)
            p.mul_(0.9)
            p.addcmul_(p, p, value=0.01)
            p.addcdiv_(p, p.abs() + 1, value=-0.5)
            p.lerp_(cr.zeros_like(p), 0.25)
            p.clamp_(max=0.5)
            p.masked_fill_(p < -1, -1.0)
            res.append((p,))
    for k, (c, g) in enumerate(zip(res[0] + res[1], res[2] + res[3])):
        on(CUDA, g)
        close(g, c, f"in-place {k}")


def test_fill_copy_and_setitem_on_cuda():
    g = cr.zeros(2, 3, device="cuda")
    g.fill_(2.5)
    close(g, np.full((2, 3), 2.5), "fill_")
    g.zero_()
    close(g, np.zeros((2, 3)), "zero_")
    src = cr.arange(6.0).reshape(2, 3)  # a CPU tensor copied into a CUDA one (as torch)
    g.copy_(src)
    on(CUDA, g)
    close(g, host(src), "copy_ from cpu")
    c = cr.zeros(2, 3)
    c.copy_(g * 2)  # and back
    on(CPU, c)
    close(c, 2 * host(src), "copy_ to cpu")
    g[0, 1] = 9.0
    g[1] = cr.tensor([7.0, 8.0, 9.0], device="cuda")
    g[g > 8.5] = -1.0
    g[:, cr.tensor([0, 2], device="cuda")] = 0.5
    on(CUDA, g)
    np.testing.assert_array_equal(host(g), [[0.5, -1.0, 0.5], [0.5, 8.0, 0.5]])
    g.uniform_(0, 1)
    g.normal_(0, 1)
    on(CUDA, g)


def test_indexing_a_cuda_tensor_with_cpu_indices():
    # torch accepts CPU index tensors (and lists, NumPy arrays) for a CUDA tensor
    x = cr.arange(12.0, device="cuda").reshape(3, 4)
    for key in (cr.tensor([2, 0]), [2, 0], np.array([2, 0])):
        close(on(CUDA, x[key]), np.arange(12.0).reshape(3, 4)[[2, 0]], f"index {key!r}")
    close(on(CUDA, x[cr.tensor([True, False, True])]), np.arange(12.0).reshape(3, 4)[[0, 2]],
          "cpu mask")


# ----------------------------------------------------------------------- mixing devices

MIXED = [
    ("add", ("add",), lambda c, g: c + g),
    ("add (cuda first)", ("add",), lambda c, g: g + c),
    ("mul", ("mul", "multiply"), lambda c, g: g * c),
    ("sub", ("sub", "subtract"), lambda c, g: c - g),
    ("div", ("div", "divide"), lambda c, g: g / c),
    ("matmul", ("matmul",), lambda c, g: c @ g.T),
    ("maximum", ("maximum",), lambda c, g: cr.maximum(g, c)),
    ("cat", ("cat", "concatenate"), lambda c, g: cr.cat([c, g])),
    ("stack", ("stack", "concatenate"), lambda c, g: cr.stack([g, c])),
    ("where", ("where",), lambda c, g: cr.where(g > 0, c, g)),
    ("linear", ("linear",), lambda c, g: F.linear(c, g)),
    ("mse_loss", ("mse_loss", "subtract", "sub"), lambda c, g: F.mse_loss(g, c)),
    ("comparison", ("less", "lt"), lambda c, g: c < g),
    ("add_", ("add_",), lambda c, g: g.add_(c)),
]


@pytest.mark.parametrize("name,ops,fn", MIXED, ids=[m[0] for m in MIXED])
def test_mixing_devices_is_a_clear_error(name, ops, fn):
    c = cr.tensor([[1.0, 2.0], [3.0, 4.0]])
    g = cr.tensor([[0.5, -1.0], [2.0, 1.0]], device="cuda")
    with pytest.raises(RuntimeError) as info:
        fn(c, g)
    msg = str(info.value)
    assert any(msg.startswith(f"{op}:") or f" {op}:" in msg or f"'{op}'" in msg
               for op in ops), f"the error should name the op ({ops}): {msg}"
    assert "cpu" in msg and "cuda:0" in msg, f"the error should name both devices: {msg}"


def test_mixing_devices_in_a_model_and_a_loss():
    model = nn.Linear(3, 2).to("cuda")
    with pytest.raises(RuntimeError, match="cuda:0") as info:
        model(cr.randn(4, 3))
    assert "cpu" in str(info.value) and "linear" in str(info.value)
    logits = cr.randn(4, 3, device="cuda", requires_grad=True)
    with pytest.raises(RuntimeError) as info:
        F.cross_entropy(logits, cr.tensor([0, 1, 2, 0]))
    assert "cross_entropy" in str(info.value) and "cpu" in str(info.value)
    assert "cuda:0" in str(info.value)


# ----------------------------------------------------------------------- nn

FUNCTIONAL = [
    ("relu", lambda x: F.relu(x)),
    ("hardtanh", lambda x: F.hardtanh(x, -0.5, 0.5)),
    ("relu6", lambda x: F.relu6(x * 4)),
    ("leaky_relu", lambda x: F.leaky_relu(x, 0.1)),
    ("elu", lambda x: F.elu(x)),
    ("selu", lambda x: F.selu(x)),
    ("gelu", lambda x: F.gelu(x)),
    ("gelu(tanh)", lambda x: F.gelu(x, approximate="tanh")),
    ("erf", lambda x: F.erf(x * 2)),
    ("silu", lambda x: F.silu(x)),
    ("logsigmoid", lambda x: F.logsigmoid(x)),
    ("softplus", lambda x: F.softplus(x, beta=2.0)),
    ("softmin", lambda x: F.softmin(x, dim=1)),
    ("normalize", lambda x: F.normalize(x, dim=1)),
    ("pad", lambda x: F.pad(x, (1, 2), value=0.5)),
    ("layer_norm", lambda x: F.layer_norm(x, (5,))),
    ("dropout(eval)", lambda x: F.dropout(x, 0.5, training=False)),
]


@pytest.mark.parametrize("name,fn", FUNCTIONAL, ids=[n for n, _ in FUNCTIONAL])
def test_nn_functional(name, fn):
    rng = np.random.default_rng(7)
    vals = [rng.uniform(-2, 2, (4, 5)).astype(np.float32)]
    vals[0][np.abs(vals[0]) < 0.05] = 0.3  # away from the kinks
    up = upstream_for(fn, vals, rng)
    compare_runs(name, run_on(fn, vals, CPU, up), run_on(fn, vals, CUDA, up))


LOSSES = [
    ("cross_entropy", lambda x, t, p, w: F.cross_entropy(x, t)),
    ("cross_entropy(weight)", lambda x, t, p, w: F.cross_entropy(x, t, weight=w)),
    ("cross_entropy(ignore_index)", lambda x, t, p, w: F.cross_entropy(x, t, ignore_index=1)),
    ("cross_entropy(label_smoothing)",
     lambda x, t, p, w: F.cross_entropy(x, t, label_smoothing=0.1)),
    ("cross_entropy(none)", lambda x, t, p, w: F.cross_entropy(x, t, reduction="none")),
    ("cross_entropy(sum, weight)",
     lambda x, t, p, w: F.cross_entropy(x, t, weight=w, reduction="sum")),
    ("cross_entropy(probabilities)", lambda x, t, p, w: F.cross_entropy(x, p.softmax(1))),
    ("nll_loss", lambda x, t, p, w: F.nll_loss(F.log_softmax(x, 1), t, weight=w)),
    ("mse_loss", lambda x, t, p, w: F.mse_loss(x, p)),
    ("mse_loss(sum)", lambda x, t, p, w: F.mse_loss(x, p, reduction="sum")),
    ("l1_loss", lambda x, t, p, w: F.l1_loss(x, p)),
    ("smooth_l1_loss", lambda x, t, p, w: F.smooth_l1_loss(x, p)),
    ("huber_loss", lambda x, t, p, w: F.huber_loss(x, p, delta=0.5)),
    ("binary_cross_entropy",
     lambda x, t, p, w: F.binary_cross_entropy(x.sigmoid(), p.sigmoid())),
    ("binary_cross_entropy_with_logits",
     lambda x, t, p, w: F.binary_cross_entropy_with_logits(x, p.sigmoid())),
    ("kl_div", lambda x, t, p, w: F.kl_div(F.log_softmax(x, 1), p.softmax(1),
                                           reduction="batchmean")),
    ("CrossEntropyLoss", lambda x, t, p, w: nn.CrossEntropyLoss()(x, t)),
    ("MSELoss", lambda x, t, p, w: nn.MSELoss()(x, p)),
]


@pytest.mark.parametrize("name,fn", LOSSES, ids=[n for n, _ in LOSSES])
def test_losses(name, fn):
    rng = np.random.default_rng(11)
    x = rng.standard_normal((6, 4)).astype(np.float32)
    t = np.array([0, 3, 1, 1, 2, 0], dtype=np.int64)
    p = rng.standard_normal((6, 4)).astype(np.float32)
    w = rng.uniform(0.5, 2, 4).astype(np.float32)
    vals = [x, t, p, w]

    def call(x, t, p, w):
        return fn(x, t, p.detach(), w.detach())

    up = upstream_for(call, vals, rng)
    compare_runs(name, run_on(call, vals, CPU, up), run_on(call, vals, CUDA, up))


def _twin(make_module):
    """The same module (same seed) on the CPU and on CUDA."""
    cr.manual_seed(0)
    a = make_module()
    cr.manual_seed(0)
    b = make_module().to("cuda")
    for p in b.parameters():
        on(CUDA, p)
    for buf in b.buffers():
        on(CUDA, buf)
    for (na, pa), (nb, pb) in zip(a.named_parameters(), b.named_parameters()):
        assert na == nb
        close(pb, pa, f"init of {na}")
    return a, b


def _module_step(a, b, x, what):
    res = []
    for m, dev in ((a, CPU), (b, CUDA)):
        xt = x if not isinstance(x, np.ndarray) else cr.tensor(x, device=dev)
        xt = xt.to(dev)
        out = m(xt)
        on(dev, out)
        res.append(out)
        (out.float() ** 2).sum().backward() if out.requires_grad else None
    close(res[1], res[0], f"{what} forward")
    for (n, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters()):
        if pa.grad is not None:
            close(on(CUDA, pb.grad), pa.grad, f"{what} grad of {n}", 1e-3, 1e-4)
    return res


def test_layers_linear_relu_layernorm():
    def mlp():
        return nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.LayerNorm(8), nn.Linear(8, 3),
                             nn.Tanh())

    a, b = _twin(mlp)
    x = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    _module_step(a, b, x, "mlp")
    x3 = np.random.default_rng(1).standard_normal((2, 5, 6)).astype(np.float32)
    _module_step(a, b, x3, "mlp on a 3-d batch")


def test_batchnorm1d_train_and_eval():
    a, b = _twin(lambda: nn.BatchNorm1d(4))
    rng = np.random.default_rng(2)
    for step in range(3):
        x = (rng.standard_normal((8, 4)) * 3 + 1).astype(np.float32)
        _module_step(a, b, x, f"batchnorm train step {step}")
    for name in ("running_mean", "running_var"):
        close(on(CUDA, getattr(b, name)), getattr(a, name), name)
    assert int(b.num_batches_tracked.item()) == 3
    a.eval()
    b.eval()
    x = rng.standard_normal((5, 4)).astype(np.float32)
    _module_step(a, b, x, "batchnorm eval")
    a2, b2 = _twin(lambda: nn.BatchNorm1d(3, momentum=None))
    _module_step(a2, b2, rng.standard_normal((6, 3, 2)).astype(np.float32), "bn cumulative")


def test_dropout_eval_and_seeded_train():
    d = nn.Dropout(0.3)
    x = cr.randn(50, 8, device="cuda")
    d.eval()
    close(on(CUDA, d(x)), x, "dropout eval is the identity")
    d.train()
    outs = []
    for dev in (CPU, CUDA):
        cr.manual_seed(123)
        outs.append(d(x.to(dev)))
    on(CUDA, outs[1])
    close(outs[1], outs[0], "dropout masks follow the one seeded generator")
    kept = host(outs[1]) != 0
    assert 0.55 < kept.mean() < 0.85
    np.testing.assert_allclose(host(outs[1])[kept], host(x)[kept] / 0.7, rtol=1e-6)
    cr.manual_seed(9)
    y = x.clone().requires_grad_()
    F.dropout(y, 0.5, training=True).sum().backward()
    assert set(np.unique(host(y.grad)).tolist()) <= {0.0, 2.0}
    on(CUDA, y.grad)


def test_embedding():
    a, b = _twin(lambda: nn.Embedding(10, 4, padding_idx=0))
    ids = np.array([[1, 0, 3], [3, 9, 1]], dtype=np.int64)
    _module_step(a, b, ids, "embedding")
    close(on(CUDA, b.weight.grad)[0], np.zeros(4), "padding row gets no gradient")
    a, b = _twin(lambda: nn.Embedding(6, 3, max_norm=0.5, scale_grad_by_freq=True))
    _module_step(a, b, np.array([2, 2, 5, 0], dtype=np.int64), "embedding max_norm")
    close(b.weight, a.weight, "renormalized rows")
    with pytest.raises(IndexError):
        b(cr.tensor([7], device="cuda"))
    oh = F.one_hot(cr.tensor([0, 2, 1], device="cuda"), 3)
    on(CUDA, oh)
    np.testing.assert_array_equal(host(oh), np.eye(3, dtype=np.int64)[[0, 2, 1]])


def test_init_functions_on_cuda():
    from chainrule.nn import init

    inits = [
        lambda t: init.uniform_(t, -1, 1), lambda t: init.normal_(t, 0, 2),
        lambda t: init.trunc_normal_(t, std=0.5), lambda t: init.constant_(t, 0.3),
        init.ones_, init.zeros_, init.eye_, init.xavier_uniform_, init.xavier_normal_,
        init.kaiming_uniform_, lambda t: init.kaiming_normal_(t, nonlinearity="relu"),
        init.orthogonal_,
    ]
    for k, fn in enumerate(inits):
        res = []
        for dev in (CPU, CUDA):
            t = cr.empty(4, 6, device=dev)
            cr.manual_seed(42)
            out = fn(t)
            assert out is t or out is None
            on(dev, t)
            res.append(t)
        close(res[1], res[0], f"init {k}", 1e-4, 1e-5)


def test_clip_grad_norm_and_value_on_cuda():
    res = []
    for dev in (CPU, CUDA):
        cr.manual_seed(0)
        m = nn.Linear(5, 3).to(dev)
        (m(cr.ones(4, 5, device=dev)) ** 2).sum().backward()
        total = nn.utils.clip_grad_norm_(m.parameters(), 0.5)
        on(dev, total)
        res.append((total, m.weight.grad, m.bias.grad))
        nn.utils.clip_grad_value_(m.parameters(), 0.01)
        res.append((m.weight.grad,))
    for c, g in zip(res[0] + res[1], res[2] + res[3]):
        close(on(CUDA, g), c, "clip")


# ----------------------------------------------------------------------- training

X_TRAIN = np.random.default_rng(0).standard_normal((64, 10)).astype(np.float32)
Y_TRAIN = (X_TRAIN[:, :3].argmax(1)).astype(np.int64)

OPTIMIZERS = {
    "SGD(momentum)": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    "SGD(nesterov, wd)": lambda ps: optim.SGD(ps, lr=0.05, momentum=0.9, nesterov=True,
                                              weight_decay=1e-3),
    "Adam": lambda ps: optim.Adam(ps, lr=1e-2),
    "Adam(amsgrad)": lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True, weight_decay=1e-3),
    "AdamW": lambda ps: optim.AdamW(ps, lr=1e-2, weight_decay=0.01),
    "RMSprop": lambda ps: optim.RMSprop(ps, lr=1e-3, momentum=0.5),
    "Adagrad": lambda ps: optim.Adagrad(ps, lr=0.05),
}


def _mlp():
    return nn.Sequential(nn.Linear(10, 32), nn.ReLU(), nn.Linear(32, 16), nn.ReLU(),
                         nn.Linear(16, 3))


def _train(dev, make_opt, steps=20, model_fn=_mlp):
    cr.manual_seed(0)
    model = model_fn().to(dev)
    X, y = cr.tensor(X_TRAIN, device=dev), cr.tensor(Y_TRAIN, device=dev)
    opt = make_opt(model.parameters())
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return model, opt, losses


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_training_loop_matches_cpu(name):
    cpu_model, _, cpu_losses = _train(CPU, OPTIMIZERS[name])
    gpu_model, opt, gpu_losses = _train(CUDA, OPTIMIZERS[name])
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=2e-3, atol=1e-4,
                               err_msg=f"{name}: losses over 20 steps")
    assert gpu_losses[-1] < gpu_losses[0], f"{name}: the loss should go down"
    for (n, pc), (_, pg) in zip(cpu_model.named_parameters(), gpu_model.named_parameters()):
        on(CUDA, pg)
        close(pg, pc, f"{name}: parameter {n} after training", 2e-3, 1e-4)
    for st in opt.state.values():
        for k, v in st.items():
            if isinstance(v, cr.Tensor) and k != "step":
                on(CUDA, v)


def test_training_with_batchnorm_dropout_and_a_loader():
    def model_fn():
        return nn.Sequential(nn.Linear(10, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2),
                             nn.Linear(16, 3))

    runs = []
    for dev in (CPU, CUDA):
        cr.manual_seed(0)
        model = model_fn().to(dev)
        ds = TensorDataset(cr.tensor(X_TRAIN, device=dev), cr.tensor(Y_TRAIN, device=dev))
        loader = DataLoader(ds, batch_size=16, shuffle=True)
        opt = optim.AdamW(model.parameters(), lr=5e-3)
        losses = []
        for _epoch in range(3):
            for xb, yb in loader:
                on(dev, xb)
                on(dev, yb)
                opt.zero_grad()
                loss = F.cross_entropy(model(xb), yb)
                loss.backward()
                opt.step()
                losses.append(loss.item())
        model.eval()
        with cr.no_grad():
            acc = (model(ds.tensors[0]).argmax(1) == ds.tensors[1]).float().mean().item()
        runs.append((losses, acc))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=2e-3, atol=1e-4)
    assert runs[1][1] == pytest.approx(runs[0][1], abs=1 / 32)


def test_lr_scheduler_with_a_cuda_optimizer():
    model, opt, _ = _train(CUDA, OPTIMIZERS["SGD(momentum)"], steps=2)
    sched = optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    sched.step()
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)


# ----------------------------------------------------------------------- saving and loading


def test_state_dict_save_and_load(tmp_path):
    model, opt, _ = _train(CUDA, OPTIMIZERS["Adam"], steps=3)
    sd = model.state_dict()
    for v in sd.values():
        on(CUDA, v)
    path = tmp_path / "model.safetensors"
    cr.save({"model": sd, "optim": opt.state_dict(), "epoch": 3}, path)
    ck = cr.load(path)  # documented: tensors come back on the CPU unless map_location
    for k, v in ck["model"].items():
        on(CPU, v)
        close(v, sd[k], f"loaded {k}")
    ck_gpu = cr.load(path, map_location="cuda")
    for k, v in ck_gpu["model"].items():
        on(CUDA, v)
        close(v, sd[k], f"loaded on cuda {k}")
    ck_map = cr.load(path, map_location={"cuda:0": "cpu"})
    on(CPU, ck_map["model"]["0.weight"])
    assert ck["epoch"] == 3

    cpu_model = _mlp()  # a CPU model loads a CUDA checkpoint
    cpu_model.load_state_dict(ck["model"])
    gpu_model = _mlp().to("cuda")  # a CUDA model loads a CPU state dict: stays on CUDA
    gpu_model.load_state_dict(ck["model"])
    X = cr.tensor(X_TRAIN)
    for p in gpu_model.parameters():
        on(CUDA, p)
    close(gpu_model(X.cuda()), cpu_model(X), "reloaded models agree", 1e-4, 1e-5)
    close(gpu_model(X.cuda()), model(X.cuda()), "reloaded model equals the saved one")

    # optimizer state loads onto the parameters' device, and training resumes identically
    opt2 = optim.Adam(gpu_model.parameters(), lr=1e-2)
    opt2.load_state_dict(ck["optim"])
    for st in opt2.state.values():
        for k, v in st.items():
            if isinstance(v, cr.Tensor) and k != "step":
                on(CUDA, v)
    y = cr.tensor(Y_TRAIN, device="cuda")
    for m, o in ((model, opt), (gpu_model, opt2)):
        o.zero_grad()
        F.cross_entropy(m(X.cuda()), y).backward()
        o.step()
    for pa, pb in zip(model.parameters(), gpu_model.parameters()):
        close(pb, pa, "resumed training", 1e-5, 1e-6)


def test_saving_single_tensors_and_modules_moved_back(tmp_path):
    t = cr.randn(3, 4, device="cuda", requires_grad=True)
    cr.save(t, tmp_path / "t.st")
    back = cr.load(tmp_path / "t.st", map_location=CUDA)
    on(CUDA, back)
    assert back.requires_grad
    close(back, t.detach(), "tensor round trip")
    m = _mlp().cuda()
    m.cpu()
    for p in m.parameters():
        on(CPU, p)
    m.to(device="cuda", dtype=cr.float64)
    for p in m.parameters():
        on(CUDA, p)
        assert p.dtype == cr.float64


# ----------------------------------------------------------------------- data loading


def test_dataloader_over_cuda_tensors():
    X = cr.tensor(X_TRAIN[:20])
    y = cr.tensor(Y_TRAIN[:20])
    batches = []
    for dev in (CPU, CUDA):
        cr.manual_seed(5)
        loader = DataLoader(TensorDataset(X.to(dev), y.to(dev)), batch_size=6, shuffle=True,
                            drop_last=False)
        batches.append(list(loader))
    assert [len(b[0]) for b in batches[1]] == [6, 6, 6, 2]
    for (xc, yc), (xg, yg) in zip(*batches):
        on(CUDA, xg)
        on(CUDA, yg)
        close(xg, xc, "shuffled batch")
        np.testing.assert_array_equal(host(yg), host(yc))


class _RowDataset(Dataset):
    def __init__(self, X):
        self.X = X

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return self.X[i], i % 3


def test_default_collate_of_cuda_items():
    X = cr.tensor(X_TRAIN[:10], device="cuda")
    xb, yb = next(iter(DataLoader(_RowDataset(X), batch_size=4)))
    on(CUDA, xb)
    close(xb, X_TRAIN[:4], "collated rows")
    np.testing.assert_array_equal(host(yb), [0, 1, 2, 0])


# ----------------------------------------------------------------------- compile


def test_compile_on_cuda_gives_eager_results():
    def setup():
        cr.manual_seed(0)
        model = _mlp().to("cuda")
        return model, optim.SGD(model.parameters(), lr=0.1, momentum=0.9)

    X, y = cr.tensor(X_TRAIN, device="cuda"), cr.tensor(Y_TRAIN, device="cuda")
    model, opt = setup()

    def step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    compiled = cr.compile(step)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled_losses = [compiled(X, y) for _ in range(6)]
    assert len([w for w in caught if "chainrule.compile" in str(w.message)]) <= 1
    for loss in compiled_losses:
        on(CUDA, loss)
    m2, o2 = setup()
    eager = []
    for _ in range(6):
        o2.zero_grad()
        loss = F.cross_entropy(m2(X), y)
        loss.backward()
        o2.step()
        eager.append(loss.item())
    np.testing.assert_allclose([v.item() for v in compiled_losses], eager, rtol=1e-6)
    for p, q in zip(model.parameters(), m2.parameters()):
        on(CUDA, p)
        close(p, q, "compiled parameters", 1e-6, 1e-7)


# ----------------------------------------------------------------------- random numbers


def test_random_draws_are_seeded_and_device_independent():
    draws = []
    for dev in (CPU, CUDA, CUDA):
        cr.manual_seed(2024)
        draws.append((cr.randn(4, 5, device=dev), cr.rand(3, device=dev),
                      cr.randint(0, 10, (6,), device=dev), cr.randperm(7, device=dev),
                      cr.randn(2, 3, device=dev, dtype=cr.float64),
                      cr.empty(3, device=dev).normal_(1.0, 2.0),
                      cr.empty(3, device=dev).uniform_(-1, 1)))
    for k, (c, g1, g2) in enumerate(zip(*draws)):
        on(CUDA, g1)
        assert g1.dtype == c.dtype
        np.testing.assert_array_equal(host(g1), host(c), err_msg=f"draw {k}")
        np.testing.assert_array_equal(host(g2), host(g1), err_msg=f"draw {k} again")
    cr.cuda.manual_seed(3)
    a = cr.randn(3, device="cuda")
    cr.manual_seed(3)
    close(cr.randn(3, device="cuda"), a, "cuda.manual_seed seeds the one generator")
    gen = cr.Generator().manual_seed(77)
    b = cr.randn(4, generator=gen, device="cuda")
    close(b, cr.randn(4, generator=cr.Generator().manual_seed(77)), "own generator")
    assert math.isfinite(b.sum().item())


# ----------------------------------------------------------------------- more of the surface


def test_setitem_with_a_cpu_value_and_zero_grad_in_place():
    g = cr.zeros(2, 3, device="cuda")
    g[0] = cr.tensor([1.0, 2.0, 3.0])  # a CPU value copied in (torch's copy_ semantics)
    g[1, 1:] = cr.tensor(5.0)
    on(CUDA, g)
    np.testing.assert_array_equal(host(g), [[1.0, 2.0, 3.0], [0.0, 5.0, 5.0]])
    model, opt, _ = _train(CUDA, OPTIMIZERS["SGD(momentum)"], steps=2)
    opt.zero_grad(set_to_none=False)
    for p in model.parameters():
        on(CUDA, p.grad)
        assert not host(p.grad).any()
    model.zero_grad()
    assert all(p.grad is None for p in model.parameters())


def _numbers_close(a, b, what, skip=("epoch_time", "train_time", "time", "seconds")):
    if isinstance(a, dict):
        assert set(a) == set(b), what
        for k in a:
            if k not in skip and not k.endswith("_time"):
                _numbers_close(a[k], b[k], f"{what}.{k}")
    elif isinstance(a, list):
        assert len(a) == len(b), what
        for i, (x, y) in enumerate(zip(a, b)):
            _numbers_close(x, y, f"{what}[{i}]")
    elif isinstance(a, float):
        assert b == pytest.approx(a, rel=1e-3, abs=1e-4), what
    else:
        assert a == b, what


def test_command_line_training_on_cuda(tmp_path, capsys):
    import json

    from chainrule.cli import main

    runs = {}
    for dev in ("cpu", "cuda"):
        folder = tmp_path / dev
        status = main(["train", "--epochs", "2", "--out", str(folder), "--quiet", "--device",
                       dev, "--inspect"])
        out = capsys.readouterr()
        assert status == 0, f"train --device {dev} failed: {out.err}"
        with open(folder / "metrics.json", encoding="utf-8") as f:
            runs[dev] = json.load(f)
    _numbers_close(runs["cpu"], runs["cuda"], "metrics")
    status = main(["train", "--resume", str(tmp_path / "cuda"), "--epochs", "3", "--quiet",
                   "--device", "cuda"])
    assert status == 0, capsys.readouterr().err
    status = main(["eval", str(tmp_path / "cuda")])
    assert status == 0, capsys.readouterr().err
