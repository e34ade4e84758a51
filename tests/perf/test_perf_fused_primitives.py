"""The fused primitives of the training fast path, each against its unfused composition, a
float64 gradient check and (where installed) torch: linear (both matrix-product forms and
the write into a gradient slot), softmax cross-entropy, and ReLU's branch-free backward.

No timing here: speed is guarded by ``chainrule bench``; these guard the numbers.
"""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
import chainrule.nn.functional as F
from chainrule import nn
from chainrule.autograd import gradcheck
from chainrule.ops import layers
from chainrule.ops.elementwise import _zero_where

# (batch, in, out): some rows take linear's small-batch form, (w @ x.T).T, for row-major
# weights, some for column-major ones (nn.Linear's), some for neither
LINEAR_SHAPES = [(2, 128, 4), (3, 130, 6), (5, 128, 12), (16, 200, 40), (64, 128, 128),
                 (4, 8, 3), (65, 128, 200), (7, 128, 13), (3, 520, 12), (8, 512, 40)]
LAYOUTS = ["C", "F"]


def test_the_table_covers_both_forms_for_both_layouts():
    for layout in LAYOUTS:
        forms = set()
        for n, i, o in LINEAR_SHAPES:
            w = np.zeros((o, i), order=layout)
            forms.add(layers._small_batch(n, w))
        assert forms == {True, False}, layout


def test_nn_linear_stores_its_weight_column_major():
    lin = nn.Linear(5, 3)
    assert lin.weight.shape == (3, 5) and lin.weight.data.flags.f_contiguous


def _tensors(rng, n, i, o, dtype=np.float64, bias=True, layout="C"):
    x = cr.tensor(rng.standard_normal((n, i)).astype(dtype), requires_grad=True)
    w = cr.tensor(rng.standard_normal((o, i)).astype(dtype), requires_grad=True)
    w.data = np.asarray(w.data, order=layout)
    b = cr.tensor(rng.standard_normal(o).astype(dtype), requires_grad=True) if bias else None
    return x, w, b


@pytest.mark.parametrize("shape", LINEAR_SHAPES, ids=str)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_linear_matches_its_composition(rng, shape, bias, layout):
    x, w, b = _tensors(rng, *shape, bias=bias, layout=layout)
    fused = F.linear(x, w, b)
    g = rng.standard_normal(fused.shape)
    fused.backward(cr.tensor(g))
    got = [t.grad.numpy().copy() for t in (x, w, b) if t is not None]
    for t in (x, w, b):
        if t is not None:
            t.grad = None
    plain = x @ w.t() + b if bias else x @ w.t()
    plain.backward(cr.tensor(g))
    np.testing.assert_allclose(fused.detach().numpy(), plain.detach().numpy(), rtol=1e-12,
                               atol=1e-12)
    for a, t in zip(got, [t for t in (x, w, b) if t is not None]):
        np.testing.assert_allclose(a, t.grad.numpy(), rtol=1e-12, atol=1e-12)
    assert fused.data.flags.c_contiguous  # both forms give a row-major result


@pytest.mark.parametrize("layout", LAYOUTS)
def test_linear_weight_gradient_has_the_weight_layout(rng, layout):
    x, w, b = _tensors(rng, 6, 20, 9, layout=layout)
    F.linear(x, w, b).sum().backward()
    g = w.grad.data
    assert g.flags.f_contiguous == (layout == "F") and g.base is None  # adopted, not copied


@pytest.mark.parametrize("shape", [(2, 128, 5), (3, 129, 7), (4, 6, 3), (2, 513, 9)], ids=str)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_linear_gradcheck(rng, shape, layout):
    x, w, b = _tensors(rng, *shape, layout=layout)
    assert gradcheck(lambda x, w, b: F.linear(x, w, b), (x, w, b))


def test_linear_skips_the_gradient_of_data_that_needs_none(rng):
    x, w, b = _tensors(rng, 4, 130, 9)
    x.requires_grad_(False)
    F.linear(x, w, b).sum().backward()
    assert x.grad is None and w.grad is not None and b.grad is not None


@pytest.mark.parametrize("layout", LAYOUTS)
def test_linear_vjp_writes_into_a_given_slot(rng, layout):
    n, i, o = 8, 130, 20
    x, w, g = (rng.standard_normal(s) for s in ((n, i), (o, i), (n, o)))
    w = np.asarray(w, order=layout)
    slot = np.full((o, i), np.nan, order=layout)
    gx, gw, gb = layers.linear.vjp(cr.ops.namespace.array_namespace(np), g, None, x, w,
                                   np.zeros(o), into=(None, slot, None))
    assert gw is slot
    np.testing.assert_allclose(slot, g.T @ x, rtol=1e-12)
    np.testing.assert_allclose(gx, g @ w, rtol=1e-12)
    assert gb is g


@pytest.mark.parametrize("shape", [(32, 784, 256), (8, 128, 64), (128, 256, 128)], ids=str)
def test_linear_float32_matches_torch(torch, rng, shape):
    x, w, b = _tensors(rng, *shape, dtype=np.float32)
    x.requires_grad_(False)
    out = F.linear(x, w, b)
    out.sum().backward()
    xt, wt, bt = (torch.tensor(t.detach().numpy(), requires_grad=t is not x) for t in (x, w, b))
    ot = torch.nn.functional.linear(xt, wt, bt)
    ot.sum().backward()
    np.testing.assert_allclose(out.detach().numpy(), ot.detach().numpy(), rtol=1e-4,
                               atol=1e-4)
    np.testing.assert_allclose(w.grad.numpy(), wt.grad.numpy(), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(b.grad.numpy(), bt.grad.numpy(), rtol=1e-4, atol=1e-3)


# ------------------------------------------------------------------ cross-entropy


def _composed_cross_entropy(x, t):
    """-mean log_softmax(x)[i, t_i], from primitives."""
    n = x.shape[0]
    onehot = cr.tensor(np.eye(x.shape[1])[t.numpy()])
    return -(F.log_softmax(x, dim=1) * onehot).sum() / n


@pytest.mark.parametrize("n,c", [(1, 2), (7, 10), (32, 10), (5, 300)])
@pytest.mark.parametrize("tdtype", [np.int64, np.int32, np.uint8])
def test_cross_entropy_matches_its_composition(rng, n, c, tdtype):
    x = cr.tensor(rng.standard_normal((n, c)) * 5, requires_grad=True)
    t = cr.tensor(rng.integers(0, c, n).astype(tdtype))
    fused = F.cross_entropy(x, t)
    fused.backward()
    g = x.grad.numpy().copy()
    x.grad = None
    plain = _composed_cross_entropy(x, t)
    plain.backward()
    np.testing.assert_allclose(fused.item(), plain.item(), rtol=1e-12)
    np.testing.assert_allclose(g, x.grad.numpy(), rtol=1e-10, atol=1e-12)
    assert gradcheck(lambda x: F.cross_entropy(x, t), (x.detach().requires_grad_(),))


@pytest.mark.parametrize("options", [{}, {"reduction": "none"}, {"reduction": "sum"},
                                     {"label_smoothing": 0.2}, {"ignore_index": 3},
                                     {"weight": "w"}])
def test_cross_entropy_gives_the_same_bits_for_logits_in_any_layout(rng, options):
    # the target entries are found as positions in the flattened logits; logits stored
    # column-major (a transposed array) take the 2-d route and must agree exactly
    n, c = 9, 6
    t = cr.tensor(rng.integers(0, c, n))
    if options.get("weight") == "w":
        options = {"weight": cr.tensor(rng.uniform(0.5, 2.0, c).astype(np.float32))}
    base = (rng.standard_normal((n, c)) * 4).astype(np.float32)
    results = []
    for layout in (base, np.asfortranarray(base), base.T.copy().T):
        x = cr.tensor(layout, requires_grad=True)
        loss = F.cross_entropy(x, t, **options)
        loss.sum().backward()
        results.append((loss.detach().numpy(), x.grad.numpy()))
    for loss, grad in results[1:]:
        assert np.array_equal(loss, results[0][0]) and np.array_equal(grad, results[0][1])


def test_cross_entropy_gradient_from_exponentials_in_either_layout(rng):
    from chainrule.ops.loss import CrossEntropySaved, _grad_from_saved, cross_entropy

    x = (rng.standard_normal((7, 5)) * 3).astype(np.float32)
    t = rng.integers(0, 5, 7)
    grads = []
    for order in ("C", "F"):
        saved = CrossEntropySaved()
        cross_entropy.forward(np, x, t, reduction="mean", ignore_index=-100,
                              label_smoothing=0.0, saved=saved)
        saved.exp = np.array(saved.exp, order=order)
        grads.append(_grad_from_saved(np, np.float32(1 / 7), 0.0, saved))
    assert grads[1].flags.f_contiguous and not grads[1].flags.c_contiguous
    assert np.array_equal(grads[0], grads[1])


def test_cross_entropy_is_stable_for_huge_logits():
    x = cr.tensor([[1e4, 0.0, -1e4], [-3e38, 3e38, 0.0]], dtype=cr.float32,
                  requires_grad=True)
    loss = F.cross_entropy(x, cr.tensor([0, 1]))
    loss.backward()
    assert np.isfinite(loss.item()) and np.isfinite(x.grad.numpy()).all()


@pytest.mark.parametrize("bad,dtype", [(-1, np.int64), (3, np.int64), (-2, np.int32),
                                       (200, np.uint8), (2**40, np.int64)])
def test_cross_entropy_rejects_targets_out_of_range(bad, dtype):
    x = cr.zeros(2, 3, requires_grad=True)
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, cr.tensor(np.array([0, bad], dtype=dtype)))


def test_cross_entropy_float32_matches_torch(torch, rng):
    x = rng.standard_normal((64, 10)).astype(np.float32) * 3
    t = rng.integers(0, 10, 64)
    xc = cr.tensor(x, requires_grad=True)
    loss = F.cross_entropy(xc, cr.tensor(t))
    loss.backward()
    xt = torch.tensor(x, requires_grad=True)
    lt = torch.nn.functional.cross_entropy(xt, torch.tensor(t))
    lt.backward()
    assert loss.dtype == cr.float32 and xc.grad.dtype == cr.float32
    np.testing.assert_allclose(loss.item(), lt.item(), rtol=1e-6)
    np.testing.assert_allclose(xc.grad.numpy(), xt.grad.numpy(), rtol=1e-5, atol=1e-7)


# ------------------------------------------------------------------ relu


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_relu_backward_equals_where_bit_for_bit(rng, dtype):
    out = np.maximum(rng.standard_normal((64, 33)), 0).astype(dtype)
    g = rng.standard_normal((64, 33)).astype(dtype)
    out[0, :4] = [np.nan, 0.0, -0.0, np.inf]
    g[0, :4] = 5.0
    g[1, :4] = [np.inf, -np.inf, np.nan, -0.0]
    out[1, :4] = [0.0, -1.0, 0.0, 2.0]
    want = np.where(out <= 0, 0, g).astype(dtype)
    got = _zero_where(out <= 0, g)
    assert got.dtype == dtype
    assert np.array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.int32, np.int64])
@pytest.mark.parametrize("shape", [(64, 33), (5, 8), (3, 7), (2, 3, 16), (16,), (40, 8)])
def test_relu_forward_equals_maximum_with_zero_bit_for_bit(rng, dtype, shape):
    # wide rows take the maximum against a shared row of zeros (NumPy's fast loop)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    if x.dtype.kind == "f":
        flat = x.reshape(-1)
        flat[:6] = [np.nan, -np.nan, 0.0, -0.0, np.inf, -np.inf]
    want = np.maximum(x, 0)
    got = cr.relu(cr.tensor(x)).numpy()
    assert got.dtype == want.dtype and got.shape == want.shape
    assert np.array_equal(got.view(f"u{got.itemsize}"), want.view(f"u{want.itemsize}"))
    cr.relu(cr.tensor(x[..., ::2])).numpy()  # (a strided input works too)
    np.testing.assert_array_equal(cr.relu(cr.tensor(x[..., ::2])).numpy(),
                                  np.maximum(x[..., ::2], 0))


def test_relu_forward_leaves_its_zero_row_alone(rng):
    x = cr.tensor(-np.abs(rng.standard_normal((4, 32)).astype(np.float32)))
    out = cr.relu(x)
    out.data[...] = 7.0  # writing the result must not touch the shared row of zeros
    np.testing.assert_array_equal(cr.relu(x).numpy(), np.zeros((4, 32), np.float32))


def test_relu_backward_on_a_non_contiguous_gradient(rng):
    out = np.maximum(rng.standard_normal((6, 8)), 0)
    g = rng.standard_normal((8, 6)).T  # a transposed view
    np.testing.assert_array_equal(_zero_where(out <= 0, g), np.where(out <= 0, 0, g))


@pytest.mark.parametrize("rows", [2, 64])  # (64 x 128: the branch-free path)
def test_relu_gradient_matches_torch_at_special_values(torch, rng, rows):
    x = rng.standard_normal((rows, 128)).astype(np.float32)
    g = rng.standard_normal((rows, 128)).astype(np.float32)
    x[:2, :4] = [[-1.0, 0.0, 2.0, np.nan], [3.0, -0.0, np.inf, -np.inf]]
    g[:2, :4] = [[1.0, 2.0, np.inf, 4.0], [np.nan, np.nan, 7.0, np.inf]]
    xc = cr.tensor(x, requires_grad=True)
    xc.relu().backward(cr.tensor(g))
    xt = torch.tensor(x, requires_grad=True)
    xt.relu().backward(torch.tensor(g))
    np.testing.assert_array_equal(xc.grad.numpy(), xt.grad.numpy())


def test_relu_gradcheck(rng):
    x = cr.tensor(rng.standard_normal((5, 7)) + 0.05, requires_grad=True)
    assert gradcheck(lambda x: x.relu(), (x,))


# ------------------------------------------------------------------ float32 end to end


def test_a_float32_training_step_makes_no_float64_array(monkeypatch):
    """Python scalars (lr, momentum, the mean's 1/n, label smoothing...) must not promote
    anything to float64: every forward and VJP result of a float32 step stays float32."""
    from chainrule import optim
    from chainrule.ops.registry import REGISTRY

    seen = []

    def watch(name, fn):
        def wrapped(*args, **kwargs):
            out = fn(*args, **kwargs)
            for a in out if isinstance(out, tuple) else (out,):
                if hasattr(a, "dtype") and a.dtype.kind == "f":
                    seen.append((name, a.dtype))
            return out
        return wrapped

    for name, prim in REGISTRY.items():
        monkeypatch.setattr(prim, "forward", watch(name, prim.forward))
        if prim.vjp is not None:
            monkeypatch.setattr(prim, "vjp", watch(name, prim.vjp))
    cr.manual_seed(0)
    model = nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Linear(16, 4))
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    x, y = cr.randn(8, 20), cr.tensor(np.arange(8) % 4)
    for _ in range(2):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y, label_smoothing=0.1)
        loss.backward()
        opt.step()
    assert seen and {d for _, d in seen} == {np.dtype(np.float32)}, set(seen)
    assert loss.dtype == cr.float32
    for p in model.parameters():
        assert p.dtype == p.grad.dtype == opt.state[p]["momentum_buffer"].dtype == cr.float32
