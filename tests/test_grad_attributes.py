"""``requires_grad`` and ``.grad`` assigned as attributes are checked as torch checks them,
instead of silently producing a truncated or misshapen gradient."""

import pytest

import chainrule as cr


def test_requires_grad_attribute_refuses_integer_tensors():
    x = cr.tensor([1, 2])
    with pytest.raises(RuntimeError, match="floating point"):
        x.requires_grad = True
    assert x.requires_grad is False


def test_requires_grad_attribute_on_a_non_leaf_cannot_be_turned_off():
    x = cr.ones(3, requires_grad=True)
    y = x * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False
    y.sum().backward()  # the graph was not cut
    assert x.grad.tolist() == [2.0, 2.0, 2.0]


def test_requires_grad_attribute_on_a_leaf_works_both_ways():
    x = cr.ones(2)
    x.requires_grad = True
    (x * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    x.requires_grad = False
    assert not (x * 3).requires_grad


@pytest.mark.parametrize("value, error, pattern", [
    (cr.ones(2, 3), RuntimeError, "different size"),
    (cr.ones(3, dtype=cr.float64), RuntimeError, "different type"),
    ([1.0, 1.0, 1.0], TypeError, "Tensor or None"),
])
def test_assigned_grad_must_match(value, error, pattern):
    x = cr.ones(3, requires_grad=True)
    with pytest.raises(error, match=pattern):
        x.grad = value
    assert x.grad is None


def test_assigned_grad_accumulates():
    x = cr.ones(3, requires_grad=True)
    x.grad = cr.full((3,), 10.0)
    x.sum().backward()
    assert x.grad.tolist() == [11.0, 11.0, 11.0]
    x.grad = None
    assert x.grad is None
