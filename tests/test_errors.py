"""Errors are part of the API: a failing op names itself, the shapes (and dtypes) involved
and the user's source line, and it fails before any state changes.

Each row of ``CASES`` is one failing call written as a one-line lambda: the error must be of
the given class, contain the given fragments, and end with ``at test_errors.py:N`` where N
is the lambda's own line (the first frame outside the chainrule package).
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import chainrule as cr

HERE = "test_errors.py"


def _leaf():
    return cr.ones(3, requires_grad=True)


CASES = [
    # (id, failing call, exception class, fragments the message must contain)
    ("matmul", lambda: cr.ones(3, 4) @ cr.ones(5, 6), RuntimeError,
     ["matmul", "(3, 4)", "(5, 6)", "4 != 5"]),
    ("matmul-vector", lambda: cr.ones(2, 3).matmul(cr.ones(2)), RuntimeError,
     ["matmul", "(2, 3)", "(2,)"]),
    ("matmul-batch", lambda: cr.ones(2, 3, 4) @ cr.ones(3, 4, 5), RuntimeError,
     ["matmul", "(2, 3, 4)", "(3, 4, 5)"]),
    ("add-broadcast", lambda: cr.ones(3) + cr.ones(4), RuntimeError,
     ["add", "(3,)", "(4,)", "float32"]),
    ("sub-broadcast", lambda: cr.ones(3) - cr.ones(4), RuntimeError, ["sub", "(3,)", "(4,)"]),
    ("mul-broadcast", lambda: cr.ones(2, 3) * cr.ones(2, 4), RuntimeError,
     ["mul", "(2, 3)", "(2, 4)"]),
    ("div-broadcast", lambda: cr.ones(3) / cr.ones(4, dtype=cr.float64), RuntimeError,
     ["div", "(3,)", "(4,)"]),
    ("pow-broadcast", lambda: cr.ones(3) ** cr.ones(4), RuntimeError, ["pow", "(3,)", "(4,)"]),
    ("floordiv-broadcast", lambda: cr.ones(3) // cr.ones(4), RuntimeError,
     ["floor_divide", "(3,)", "(4,)"]),
    ("mod-broadcast", lambda: cr.ones(3) % cr.ones(4), RuntimeError,
     ["remainder", "(3,)", "(4,)"]),
    ("compare-broadcast", lambda: cr.ones(3) < cr.ones(4), RuntimeError,
     ["less", "(3,)", "(4,)"]),
    ("reshape", lambda: cr.ones(3).reshape(2, 2), RuntimeError,
     ["reshape", "[2, 2]", "size 3"]),
    ("view-infer", lambda: cr.ones(6).view(4, -1), RuntimeError, ["reshape", "[4, -1]", "6"]),
    ("cat", lambda: cr.cat([cr.ones(2, 3), cr.ones(2, 4)]), RuntimeError,
     ["cat", "(2, 3)", "(2, 4)"]),
    ("cat-dim", lambda: cr.cat([cr.ones(2, 3), cr.ones(2, 3)], dim=2), IndexError,
     ["cat", "dimension out of range", "2"]),
    ("stack", lambda: cr.stack([cr.ones(2), cr.ones(3)]), RuntimeError,
     ["stack", "[2]", "[3]"]),
    ("sum-dim", lambda: cr.ones(2, 3).sum(2), IndexError,
     ["sum", "dimension out of range", "[-2, 1]", "got 2"]),
    ("softmax-dim", lambda: cr.ones(2, 3).softmax(dim=-3), IndexError,
     ["softmax", "dimension out of range", "-3"]),
    ("transpose-dim", lambda: cr.ones(2, 3).transpose(0, 2), IndexError,
     ["transpose", "dimension out of range"]),
    ("size-dim", lambda: cr.ones(2, 3).size(2), IndexError, ["size", "dimension out of range"]),
    ("unsqueeze-dim", lambda: cr.ones(2, 3).unsqueeze(4), IndexError,
     ["unsqueeze", "dimension out of range"]),
    ("index-int", lambda: cr.ones(2, 3)[2], IndexError, ["getitem", "(2, 3)", "2"]),
    ("index-second-axis", lambda: cr.ones(2, 3)[0, 5], IndexError,
     ["getitem", "(2, 3)", "5"]),
    ("index-array", lambda: cr.ones(2, 3)[cr.tensor([0, 7])], IndexError,
     ["getitem", "(2, 3)", "7"]),
    ("index-float", lambda: cr.ones(3)[cr.tensor([0.0])], IndexError,
     ["getitem", "long, int or bool"]),
    ("index-mask-shape", lambda: cr.ones(2, 3)[cr.tensor([True])], IndexError,
     ["getitem", "mask [1]", "[2, 3]"]),
    ("index-mask-shape-dim1", lambda: cr.ones(2, 3)[:, cr.tensor([True, False])], IndexError,
     ["getitem", "mask [2]", "[2, 3]", "index 1"]),
    ("setitem-mask-shape", lambda: cr.ones(2, 3).__setitem__(cr.tensor([True] * 3), 0.0),
     IndexError, ["setitem", "mask [3]", "[2, 3]"]),
    ("setitem-range", lambda: cr.zeros(3).__setitem__(5, 1.0), IndexError,
     ["setitem", "(3,)", "5"]),
    ("setitem-shape", lambda: cr.zeros(3).__setitem__(slice(None), cr.ones(4)), RuntimeError,
     ["setitem", "(3,)", "(4,)"]),
    ("setitem-grad", lambda: _leaf().__setitem__(0, 1.0), RuntimeError,
     ["setitem", "requires grad"]),
    ("expand", lambda: cr.ones(2, 3).expand(3, 3), RuntimeError, ["expand", "[2, 3]"]),
    ("permute", lambda: cr.ones(2, 3).permute(0, 0), RuntimeError, ["permute", "[0, 0]"]),
    ("item", lambda: cr.ones(2).item(), RuntimeError, ["item", "2 elements"]),
    ("mT", lambda: cr.ones(3).mT, RuntimeError, ["mT", "(3,)"]),
    ("backward-nonscalar", lambda: (_leaf() * 2).backward(), RuntimeError,
     ["backward", "scalar", "(3,)"]),
    ("backward-no-grad", lambda: cr.ones(3).sum().backward(), RuntimeError,
     ["backward", "does not require grad"]),
    ("requires-grad-int", lambda: cr.ones(3, dtype=cr.int64).requires_grad_(), RuntimeError,
     ["requires_grad_", "int64", "(3,)"]),
    ("requires-grad-int-tensor", lambda: cr.tensor([1, 2], requires_grad=True), RuntimeError,
     ["requires_grad_", "int64", "(2,)"]),
    ("requires-grad-int-zeros", lambda: cr.zeros(2, dtype=cr.int32, requires_grad=True),
     RuntimeError, ["requires_grad_", "int32"]),
    ("inplace-leaf", lambda: _leaf().add_(1.0), RuntimeError,
     ["add_", "leaf", "requires grad"]),
    ("inplace-shape", lambda: cr.zeros(3).add_(cr.ones(2, 3)), RuntimeError,
     ["add_", "[3]", "[2, 3]"]),
    ("inplace-dtype", lambda: cr.zeros(3, dtype=cr.int64).mul_(1.5), RuntimeError,
     ["mul_", "float32", "int64"]),
    ("inplace-bool", lambda: cr.zeros(3, dtype=cr.bool).add_(1), RuntimeError,
     ["add_", "int64", "bool"]),
    ("inplace-readonly", lambda: cr.zeros(3).expand(2, 3).add_(1.0), RuntimeError,
     ["add_", "read-only"]),
    ("inplace-view-of-leaf", lambda: _leaf()[:2].mul_(2.0), RuntimeError,
     ["mul_", "view of a leaf"]),
    ("copy-shape", lambda: cr.zeros(3).copy_(cr.ones(4)), RuntimeError,
     ["copy_", "(3,)", "(4,)"]),
    ("fill-nd-value", lambda: cr.zeros(3).fill_(cr.ones(2)), RuntimeError, ["fill_", "(2,)"]),
    ("uniform-int", lambda: cr.zeros(3, dtype=cr.int64).uniform_(), TypeError,
     ["uniform_", "int64"]),
    ("sub-bool", lambda: cr.ones(3, dtype=cr.bool) - cr.ones(3, dtype=cr.bool), RuntimeError,
     ["sub", "bool"]),
    ("pow-int-negative", lambda: cr.tensor([1, 2]) ** -1, RuntimeError,
     ["pow", "negative"]),
    ("invert-float", lambda: ~cr.ones(3), TypeError, ["bitwise_not", "float32"]),
    ("tensor-ragged", lambda: cr.tensor([[1, 2], [3]]), ValueError, ["tensor"]),
    ("tensor-str", lambda: cr.tensor("abc"), TypeError, ["tensor", "str"]),
    ("tensor-overflow", lambda: cr.tensor([1, 300], dtype=cr.int8), RuntimeError,
     ["tensor", "int8", "overflow"]),
    ("zeros-negative", lambda: cr.zeros(2, -1), RuntimeError, ["zeros", "[2, -1]"]),
    ("zeros-float-size", lambda: cr.zeros(2.5), TypeError, ["zeros", "2.5"]),
    ("rand-int-dtype", lambda: cr.rand(2, dtype=cr.int64), TypeError, ["rand", "int64"]),
    ("randint-empty", lambda: cr.randint(5, 5, (2,)), ValueError, ["randint", "low=5"]),
    ("arange-step", lambda: cr.arange(0, 5, 0), RuntimeError, ["arange", "step"]),
    ("from-numpy-list", lambda: cr.from_numpy([1, 2]), TypeError, ["from_numpy", "list"]),
]


@pytest.mark.parametrize("call, exc, fragments", [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])
def test_error_names_op_operands_and_user_line(call, exc, fragments):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    for fragment in fragments:
        assert fragment in msg, f"{fragment!r} missing from: {msg}"
    line = call.__code__.co_firstlineno
    assert re.search(rf"at {re.escape(HERE)}:{line}\b", msg), f"no '{HERE}:{line}' in: {msg}"


def test_op_errors_are_runtime_errors():
    """Shape errors from primitives can be caught as RuntimeError, as in torch."""
    with pytest.raises(RuntimeError):
        cr.ones(3) * cr.ones(4)
    assert issubclass(cr.OpError, RuntimeError)


def test_error_line_is_the_callers_not_a_helper_inside_chainrule():
    def user_helper(a, b):
        return a @ b  # the innermost frame outside chainrule

    with pytest.raises(RuntimeError) as info:
        user_helper(cr.ones(2, 3), cr.ones(2, 3))
    line = user_helper.__code__.co_firstlineno + 1
    assert f"{HERE}:{line}" in str(info.value)


# ------------------------------------------------------ failing before any state changes


def _snapshot(t):
    return t.data.copy(), t._version[0], t.data


@pytest.mark.parametrize("op", [
    lambda t: t.add_(cr.ones(2, 3)),              # broadcast to a bigger shape
    lambda t: t.add_(cr.ones(4)),                 # not broadcastable
    lambda t: t.mul_(cr.full((3,), 2.5)),         # a float result into an int tensor
    lambda t: t.div_(2),                          # true division of an int tensor
    lambda t: t.sub_(1, alpha=0.5),               # float alpha for an int tensor
    lambda t: t.copy_(cr.ones(4)),
    lambda t: t.clamp_(0.5, 2.5),                 # float bounds for an int tensor
    lambda t: t.fill_(float("nan")),              # NaN has no int64 value
    lambda t: t.__setitem__(cr.tensor([0, 9]), 7),  # one index out of range
    lambda t: t.__setitem__(slice(None), cr.ones(2)),
    lambda t: t.__iadd__(cr.ones(2, 3, dtype=cr.int64)),
])
def test_failed_inplace_op_leaves_tensor_and_version_unchanged(op):
    t = cr.tensor([1, 2, 3])
    values, version, array = _snapshot(t)
    with pytest.raises((RuntimeError, IndexError, TypeError, ValueError)):
        op(t)
    assert t.data is array
    np.testing.assert_array_equal(t.data, values)
    assert t._version[0] == version


def test_failed_inplace_op_on_float_leaf_keeps_everything():
    x = cr.tensor([1.0, 2.0, 3.0], requires_grad=True)
    values, version, array = _snapshot(x)
    with pytest.raises(RuntimeError):
        x.mul_(2.0)  # leaf that requires grad
    with pytest.raises(RuntimeError):
        x += 1.0
    assert x.data is array and x._version[0] == version and x.is_leaf and x.grad_fn is None
    np.testing.assert_array_equal(x.data, values)


def test_failed_requires_grad_leaves_flag_unchanged():
    t = cr.ones(3, dtype=cr.int64)
    with pytest.raises(RuntimeError):
        t.requires_grad_()
    assert t.requires_grad is False


def test_failed_backward_leaves_grads_untouched():
    x = cr.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    with pytest.raises(RuntimeError):
        y.backward()  # not a scalar
    assert x.grad is None
    y.sum().backward()  # the graph is still usable
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])
