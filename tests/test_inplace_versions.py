"""In-place safety: version counters turn a would-be wrong gradient into an error that names
the op; in-place ops on non-leaves are recorded; leaves that require grad are protected
outside ``no_grad``."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr


def t64(values, requires_grad=True):
    return cr.tensor(np.asarray(values, dtype=np.float64), requires_grad=requires_grad)


def close(a, b, tol=1e-10):
    a = a.detach().numpy() if isinstance(a, cr.Tensor) else np.asarray(a)
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    np.testing.assert_allclose(a, b, rtol=tol, atol=tol)


VERSION_ERROR = "modified by an inplace operation"


# -------------------------------------------------------- saved tensors modified in place


def test_modifying_a_saved_output_names_the_op():
    x = t64([1.0, 2.0])
    y = x.exp()  # exp saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match=VERSION_ERROR) as err:
        y.sum().backward()
    assert "exp" in str(err.value)


def test_modifying_a_saved_input_through_detach_names_the_op():
    x, w = t64([1.0, 2.0]), t64([3.0, 4.0])
    a = x * w  # multiply saves both inputs
    w_detached = w.detach()
    w_detached.mul_(2)  # shares w's memory and version counter
    with pytest.raises(RuntimeError, match=VERSION_ERROR) as err:
        a.sum().backward()
    assert "multiply" in str(err.value)


def test_modifying_a_saved_input_through_a_view_is_caught():
    x = t64([[1.0, 2.0], [3.0, 4.0]])
    y = x.exp()
    row = y[0]  # a view: shares y's version counter
    with cr.no_grad():
        row.mul_(2)
    with pytest.raises(RuntimeError, match="exp|modified"):
        y.sum().backward()


def test_view_of_a_saved_tensor_modified_then_base_used():
    x = t64([1.0, 2.0, 3.0, 4.0])
    h = x * 2
    w = t64([1.0, 1.0, 1.0, 1.0])
    out = (h * w).sum()  # saves h
    h.view(2, 2).mul_(3)
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        out.backward()


def test_optimizer_step_before_backward_is_caught():
    w, x = t64([1.0, 2.0]), t64([3.0, 4.0], requires_grad=False)
    loss = (x * w).sum()
    with cr.no_grad():
        w.sub_(0.1)  # the forward saved w's old value
    with pytest.raises(RuntimeError, match=VERSION_ERROR):
        loss.backward()


def test_error_message_names_the_line_in_anomaly_mode():
    x = t64([1.0, 2.0])
    with cr.autograd.detect_anomaly():
        y = x.exp()
    y.add_(1)
    with pytest.raises(RuntimeError, match="test_inplace_versions.py:"):
        y.sum().backward()


def test_version_counter_counts_in_place_changes():
    x = t64([1.0, 2.0], requires_grad=False)
    start = x._version[0]
    x.add_(1)
    x.mul_(2)
    x[0] = 5.0
    assert x._version[0] == start + 3
    assert x.detach()._version is x._version


def test_views_share_the_version_counter_of_their_base():
    y = t64([[1.0, 2.0], [3.0, 4.0]]) * 1.0
    for view in (y[0], y.view(4), y.T, y.reshape(2, 2), y.unsqueeze(0)):
        assert view._version is y._version
    assert (y * 2)._version is not y._version
    assert y.clone()._version is not y._version


# --------------------------------------------------------- in-place on non-leaves


def test_in_place_on_non_leaf_is_recorded():
    a = np.array([1.0, -2.0, 3.0])
    x = t64(a)
    y = x * 2
    y.add_(1)
    y.mul_(3)
    (y * y).sum().backward()
    close(x.grad, 12 * 3 * (2 * a + 1))  # y = 3(2x + 1): d sum(y^2)/dx = 2y * 6


def test_in_place_with_tensor_operand_on_non_leaf():
    a, b = np.array([1.0, 2.0]), np.array([3.0, -4.0])
    x, w = t64(a), t64(b)
    y = x * 2
    y.mul_(w)  # needs y's old value for w's gradient
    y.sum().backward()
    close(x.grad, 2 * b)
    close(w.grad, 2 * a)


def test_augmented_assignment_on_non_leaf():
    x = t64([1.0, 2.0])
    y = x * 2
    y += 1
    y *= y
    y.sum().backward()
    close(x.grad, 2 * (2 * np.array([1.0, 2.0]) + 1) * 2)


def test_earlier_nodes_keep_their_edges():
    # b used a's old value; a later gains a graph through add_: b's gradient must not follow
    a = cr.zeros(2, dtype=cr.float64)
    w, x = t64([1.0, 2.0]), t64([3.0, 4.0])
    b = a + w
    a.add_(x)
    assert a.requires_grad and not a.is_leaf
    b.sum().backward()
    assert x.grad is None
    close(w.grad, [1.0, 1.0])
    a.sum().backward()
    close(x.grad, [1.0, 1.0])


def test_fill_on_non_leaf_gives_zero_gradient_to_the_old_value():
    x = t64([1.0, 2.0])
    y = x * 2
    y.fill_(1.0)
    (y * x).sum().backward()
    close(x.grad, [1.0, 1.0])  # as torch: only the direct use of x counts


def test_grad_with_respect_to_a_tensor_modified_after_use():
    # as torch: the differentiated tensor is now a different graph node
    x = t64([1.0, 2.0])
    y = x * 2
    z = (y * 3).sum()
    y.add_(1)
    with pytest.raises(RuntimeError, match="appears to not have been used"):
        cr.autograd.grad(z, y)


def test_using_a_tensor_whose_alias_was_modified_is_an_error():
    x = t64([1.0, 2.0])
    y = x * 2
    y.detach().add_(1)  # y's values changed behind its graph
    with pytest.raises(RuntimeError, match="modified in place"):
        y * 3
    with pytest.raises(RuntimeError, match="modified in place"):
        y.sum().backward()


# ---------------------------------------------------------------------- on leaves


def test_in_place_on_leaf_requiring_grad_is_an_error():
    x = t64([1.0, 2.0])
    with pytest.raises(RuntimeError, match="leaf"):
        x.add_(1)
    with pytest.raises(RuntimeError, match="leaf"):
        x.mul_(t64([2.0, 2.0]))
    with pytest.raises(RuntimeError):
        x[0] = 3.0
    close(x, [1.0, 2.0])  # nothing was written


def test_in_place_on_leaf_inside_no_grad_works():
    x = t64([1.0, 2.0])
    with cr.no_grad():
        x.mul_(3)
        x[1] = 10.0
    assert x.is_leaf and x.requires_grad
    close(x, [3.0, 10.0])
    (x * x).sum().backward()
    close(x.grad, [6.0, 20.0])


def test_in_place_on_plain_leaf_takes_a_graph():
    acc = cr.zeros(2, dtype=cr.float64)
    x = t64([1.0, 2.0])
    acc.add_(x * x)
    acc.add_(x)
    acc.sum().backward()
    close(x.grad, [3.0, 5.0])
