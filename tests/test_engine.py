"""The backward engine: ordering, accumulation, freeing, aliasing of gradients, hooks,
retain_grad, ``backward(inputs=...)`` and the pruning of ``autograd.grad``.

Each test states what a user sees; where torch is installed the same computation is run
through torch and compared.
"""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest

import chainrule as cr
from chainrule.autograd import Function


def optional_torch():
    """torch where it is installed (for an extra comparison), else None."""
    try:
        import torch
    except ImportError:
        return None
    return torch


def t64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-10):
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


class Counted(Function):
    """Identity whose backward counts its calls (and can be told to fail)."""

    calls = 0
    fail = False

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        if Counted.fail:
            raise AssertionError("this backward must not run")
        Counted.calls += 1
        return g


@pytest.fixture(autouse=True)
def _reset_counted():
    Counted.calls, Counted.fail = 0, False
    yield
    Counted.calls, Counted.fail = 0, False


# ----------------------------------------------------------------------- backward()


def test_scalar_backward_and_gradient_argument(rng):
    a = rng.standard_normal((3, 4))
    x = t64(a)
    (x * x).sum().backward()
    close(x.grad, 2 * a)
    x.grad = None
    v = rng.standard_normal((3, 4))
    (x * 3).backward(gradient=cr.tensor(v))
    close(x.grad, 3 * v)


def test_gradient_given_as_array_and_of_other_dtype(rng):
    x = cr.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    (x * 2).backward(np.ones(3, dtype=np.float64))
    assert x.grad.dtype == cr.float32
    close(x.grad, [2.0, 2.0, 2.0])


def test_non_scalar_output_without_gradient_is_a_clear_error():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="implicitly created only for scalar outputs"):
        (x * 2).backward()
    with pytest.raises(RuntimeError, match="shape"):
        (x * 2).backward(cr.ones(3, dtype=cr.float64))


def test_backward_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="does not require grad"):
        cr.ones(2).sum().backward()


def test_gradients_accumulate_across_backward_calls_in_place():
    x = t64([1.0, 2.0, 3.0])
    (x * 2).sum().backward()
    first = x.grad
    (x * x).sum().backward()
    close(x.grad, [2 + 2, 2 + 4, 2 + 6])
    assert x.grad is first  # accumulated into the same tensor, as torch does


def test_retain_graph_allows_a_second_backward():
    x = t64([1.0, 2.0])
    y = (x.exp() * x).sum()
    y.backward(retain_graph=True)
    once = x.grad.numpy().copy()
    y.backward()
    close(x.grad, 2 * once)


def test_second_backward_through_freed_graph_is_a_clear_error():
    x = t64([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="backward through the graph a second time"):
        y.backward()


def test_graph_that_saved_nothing_can_be_walked_twice():
    # torch allows it: nothing was freed
    x = t64([1.0, 2.0])
    y = (x + 1).sum()
    y.backward()
    y.backward()
    close(x.grad, [2.0, 2.0])


def test_saved_arrays_are_freed_after_backward_unless_retained():
    x = t64([1.0, 2.0])
    w = t64([3.0, 4.0])
    loss = (x.exp() * w).sum()  # multiply saves exp's output, held by nothing else
    mul = loss.grad_fn.edges[0]
    saved = weakref.ref(mul.saved[0])
    gc.collect()
    assert saved() is not None
    loss.backward(retain_graph=True)
    gc.collect()
    assert saved() is not None
    loss.backward()
    gc.collect()
    assert saved() is None


def test_graph_keeps_only_what_vjps_need():
    # add's VJP needs no values: the matmul result it consumed is not kept alive
    x = t64(np.ones((2, 3)))
    w = t64(np.ones((3, 4)))
    b = t64(np.ones(4))
    h = x @ w
    ref = weakref.ref(h.data)
    loss = (h + b).sum()
    del h
    gc.collect()
    assert ref() is None
    loss.backward()
    close(b.grad, [2.0] * 4)
    close(w.grad, np.full((3, 4), 2.0))


# ----------------------------------------------------------------- aliasing of .grad


def test_leaf_grads_are_never_aliased_to_each_other():
    x, y = t64([1.0, 2.0, 3.0]), t64([4.0, 5.0, 6.0])
    (x + y).sum().backward()
    x.grad.add_(1)
    close(y.grad, [1.0, 1.0, 1.0])
    close(x.grad, [2.0, 2.0, 2.0])


def test_leaf_grad_is_writable():
    x = t64([1.0, 2.0])
    x.sum().backward()
    assert x.grad.data.flags.writeable
    x.grad.add_(1)
    close(x.grad, [2.0, 2.0])


def test_grad_of_broadcast_input_is_summed_and_writable(rng):
    x = t64(rng.standard_normal((1, 3)))
    b = t64(rng.standard_normal(3))
    m = cr.tensor(rng.standard_normal((4, 3)))
    (x * m + b).sum().backward()
    close(x.grad, m.numpy().sum(0, keepdims=True))
    close(b.grad, [4.0, 4.0, 4.0])
    x.grad.mul_(0)
    b.grad.mul_(0)
    assert float(abs(x.grad).sum()) == 0.0


def test_leaf_grad_does_not_alias_the_given_gradient():
    x = t64([1.0, 2.0])
    g = cr.tensor([5.0, 6.0], dtype=cr.float64)
    x.backward(g)
    g.add_(1)
    close(x.grad, [5.0, 6.0])
    y = t64([1.0, 2.0])
    y.clone().backward(g)  # clone's VJP hands the gradient through unchanged
    g.add_(1)
    close(y.grad, [6.0, 7.0])


def test_autograd_grad_results_are_private():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    gx, gy = cr.autograd.grad((x + y).sum(), [x, y])
    gx.add_(1)
    close(gy, [1.0, 1.0])
    a, b = cr.autograd.grad((x * 2).sum(), [x, x])
    a.add_(1)
    close(b, [2.0, 2.0])


def test_retained_grad_is_private():
    x = t64([1.0, 2.0])
    y = x * 1.0
    y.retain_grad()
    (y + 0.0).sum().backward()
    y.grad.add_(10)
    close(x.grad, [1.0, 1.0])


# ------------------------------------------------------------ ordering of the walk


def test_50000_node_chain_backward_and_free():
    x = t64([1.0])
    h = x
    for _ in range(50_000):
        h = h * 1.0
    h.sum().backward()
    close(x.grad, [1.0])
    del h
    h = x  # a chain never differentiated is freed too (no recursion in either)
    for _ in range(50_000):
        h = h + 1.0
    del h
    gc.collect()


def test_tensor_used_twice_in_one_op(rng):
    a = rng.standard_normal(5)
    x = t64(a)
    (x * x * x).sum().backward()
    close(x.grad, 3 * a**2)


def test_diamond_graph_runs_each_backward_once(rng):
    a = rng.standard_normal(4)
    x = t64(a)
    s = Counted.apply(x * 2)
    out = (s.exp() * s.sin() + s).sum()
    out.backward()
    assert Counted.calls == 1
    sa = 2 * a
    close(x.grad, 2 * (np.exp(sa) * (np.sin(sa) + np.cos(sa)) + 1))
    torch = optional_torch()
    if torch is not None:
        xt = torch.tensor(a, requires_grad=True)
        st = xt * 2
        (st.exp() * st.sin() + st).sum().backward()
        close(x.grad, xt.grad)


def test_shared_subgraph_between_several_outputs():
    a = np.array([0.5, -1.0, 2.0])
    x = t64(a)
    s = Counted.apply(x.exp())
    cr.autograd.backward([(s * 2).sum(), (s * 3).sum()])
    assert Counted.calls == 1
    close(x.grad, 5 * np.exp(a))


def test_backward_of_several_outputs_with_gradients():
    x = t64([1.0, 2.0])
    y1, y2 = x * 2, x * x
    cr.autograd.backward([y1, y2], [cr.tensor([1.0, 1.0], dtype=cr.float64),
                                    cr.tensor([1.0, 0.5], dtype=cr.float64)])
    close(x.grad, [2 + 2, 2 + 2])


def test_unused_branch_gets_no_gradient():
    x, y = t64([1.0]), t64([2.0])
    (x * 3).sum().backward()
    assert y.grad is None
    close(x.grad, [3.0])


def test_int_and_constant_inputs_get_nothing():
    x = t64([1.0, 2.0, 3.0])
    idx = cr.tensor([2, 0])
    x[idx].sum().backward()
    close(x.grad, [1.0, 0.0, 1.0])
    assert idx.grad is None


# --------------------------------------------------------------------------- hooks


def test_leaf_hook_sees_and_replaces_gradient():
    x = t64([1.0, 2.0])
    seen = []
    x.register_hook(lambda g: seen.append(g.numpy().copy()))
    x.register_hook(lambda g: g * 2)
    (x * 3).sum().backward()
    close(seen[0], [3.0, 3.0])
    close(x.grad, [6.0, 6.0])


def test_non_leaf_hook_replaces_gradient_flowing_on():
    x = t64([1.0, 2.0])
    y = x * 2
    y.register_hook(lambda g: g * 10)
    (y * y).sum().backward()
    close(x.grad, [80.0, 160.0])  # d/dy = 2y = 4x, times 10, times dy/dx = 2


def test_gradient_shown_to_a_hook_is_not_changed_by_later_accumulation():
    x = t64([1.0, 2.0])
    seen = []
    x.register_hook(seen.append)
    (x * 3).sum().backward()
    (x * 3).sum().backward()
    close(seen[0], [3.0, 3.0])
    close(x.grad, [6.0, 6.0])


def test_hook_handle_remove():
    x = t64([1.0])
    calls = []
    handle = x.register_hook(lambda g: calls.append(1))
    (x * 2).sum().backward()
    handle.remove()
    (x * 2).sum().backward()
    assert calls == [1]
    y = x * 2
    h2 = y.register_hook(lambda g: g * 100)
    h2.remove()
    x.grad = None
    y.sum().backward()
    close(x.grad, [2.0])


def test_hook_on_tensor_without_grad_is_an_error():
    with pytest.raises(RuntimeError, match="doesn't require gradient"):
        cr.ones(2).register_hook(lambda g: g)


def test_retain_grad_on_non_leaf():
    x = t64([1.0, 2.0])
    y = x * 2
    z = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 3)
    (y * y + z).sum().backward()
    assert z.grad is None
    assert y.retains_grad and not z.retains_grad
    close(y.grad, [12.0, 24.0])  # 2y, then the hook's * 3: the hook's result, as in torch 2
    close(x.grad, [27.0, 51.0])  # 2 * 6y + 3


def test_retained_grad_accumulates():
    x = t64([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    loss = (y * y).sum()
    loss.backward(retain_graph=True)
    loss.backward()
    close(y.grad, [8.0, 16.0])  # 2y, twice


# ---------------------------------------------------------------- backward(inputs=)


def test_backward_inputs_accumulates_only_into_those_inputs():
    x, y = t64([1.0, 2.0]), t64([3.0, 4.0])
    (x * y).sum().backward(inputs=[x])
    close(x.grad, [3.0, 4.0])
    assert y.grad is None
    (x * y).sum().backward(inputs=[x])
    close(x.grad, [6.0, 8.0])


def test_backward_inputs_non_leaf():
    x = t64([1.0, 2.0])
    y = x * 2
    (y * y).sum().backward(inputs=[y])
    close(y.grad, [4.0, 8.0])
    assert x.grad is None


def test_backward_inputs_skips_unneeded_branches():
    x, y = t64([1.0]), t64([2.0])
    side = Counted.apply(y * 2)
    Counted.fail = True  # the branch to y must not run
    (x * 3 + side).sum().backward(inputs=[x])
    close(x.grad, [3.0])


def test_backward_inputs_unused_and_empty():
    x, y = t64([1.0]), t64([2.0])
    (x * 2).sum().backward(inputs=[y])
    assert y.grad is None and x.grad is None
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (x * 2).sum().backward(inputs=[])


def test_backward_inputs_applies_leaf_hooks():
    x = t64([1.0, 2.0])
    x.register_hook(lambda g: g * 10)
    (x * 2).sum().backward(inputs=[x])
    close(x.grad, [20.0, 20.0])


# ------------------------------------------------------------ autograd.grad pruning


def test_grad_with_respect_to_non_leaf(rng):
    a = rng.standard_normal(3)
    x = t64(a)
    h = x.exp()
    loss = (h * h).sum() + h.sum()
    (gh,) = cr.autograd.grad(loss, h)
    close(gh, 2 * np.exp(a) + 1)
    assert x.grad is None


def test_grad_does_not_run_nodes_upstream_of_a_non_leaf_target():
    x = t64([1.0, 2.0])
    h = Counted.apply(x) * 3
    Counted.fail = True
    (gh,) = cr.autograd.grad((h * h).sum(), [h])
    close(gh, 2 * h.detach().numpy())


def test_grad_with_non_leaf_and_leaf_targets_on_one_path(rng):
    a = rng.standard_normal(3)
    x = t64(a)
    h = x.sin()
    loss = (h * x).sum()
    gh, gx = cr.autograd.grad(loss, [h, x])
    close(gh, a)
    close(gx, np.sin(a) + a * np.cos(a))  # the path through h counts too, as in torch
    torch = optional_torch()
    if torch is not None:
        xt = torch.tensor(a, requires_grad=True)
        ht = xt.sin()
        ght, gxt = torch.autograd.grad((ht * xt).sum(), [ht, xt])
        close(gh, ght)
        close(gx, gxt)


def test_grad_skips_side_branches():
    x, y = t64([1.0]), t64([2.0])
    side = Counted.apply(y)
    Counted.fail = True
    (gx,) = cr.autograd.grad((x * side).sum(), [x])
    close(gx, [2.0])


def test_grad_of_output_with_respect_to_itself():
    x = t64([1.0, 2.0])
    y = x * 2
    (g,) = cr.autograd.grad(y, y, cr.ones(2, dtype=cr.float64))
    close(g, [1.0, 1.0])


def test_grad_leaves_dot_grad_alone_and_fills_retained():
    x = t64([1.0, 2.0])
    y = x * 2
    y.retain_grad()
    cr.autograd.grad(y.sum(), x)
    assert x.grad is None
    close(y.grad, [1.0, 1.0])  # as torch: retain_grad fires in autograd.grad too


def test_next_functions_and_grad_fn_names():
    x = t64([1.0])
    y = (x * 2).exp()
    assert y.grad_fn.name() == "ExpBackward"
    (node, _), = y.grad_fn.next_functions
    assert node.name() == "MultiplyBackward"
    (acc, _), (const, _) = node.next_functions
    assert acc.variable is x and const is None


# ----------------------------------------------- VJPs told which inputs need gradients


def test_vjp_with_needs_is_told_which_inputs_want_a_gradient():
    from chainrule.ops.registry import Primitive, apply

    asked = []

    def forward(xp, a, b):
        return a * b

    def vjp(ns, g, out, a, b, needs=(True, True)):
        asked.append(needs)
        return (g * b if needs[0] else None), (g * a if needs[1] else None)

    probe = Primitive("probe", forward, vjp, "inputs")
    assert probe.needs
    x, y, c = t64([1.0, 2.0]), t64([3.0, 4.0]), t64([5.0, 6.0], requires_grad=False)
    apply(probe, x, c).sum().backward()
    assert asked[-1] == (True, False)
    close(x.grad, [5.0, 6.0])
    cr.autograd.grad(apply(probe, x, y).sum(), [y])  # only the target's branch
    assert asked[-1] == (False, True)
    (gx,) = cr.autograd.grad(apply(probe, x, y).sum(), [x], create_graph=True)
    assert asked[-1] == (True, False)
    close(gx, [3.0, 4.0])


def test_matmul_with_constant_data_gives_parameter_gradients(rng):
    X = cr.tensor(rng.standard_normal((5, 3)))
    W = t64(rng.standard_normal((3, 2)))
    (X @ W).sum().backward()
    close(W.grad, X.numpy().T @ np.ones((5, 2)))
    assert X.grad is None
