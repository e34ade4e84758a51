"""nn.utils: gradient clipping and parameter/vector conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn
from chainrule.nn.utils import (
    clip_grad_norm_,
    clip_grad_value_,
    parameters_to_vector,
    vector_to_parameters,
)


def params_with_grads(grads):
    out = []
    for g in grads:
        p = nn.Parameter(cr.zeros(*np.shape(g)))
        p.grad = cr.tensor(g)
        out.append(p)
    return out


def test_clip_grad_norm_by_hand():
    ps = params_with_grads([[3.0, 0.0], [[4.0]]])
    total = clip_grad_norm_(ps, max_norm=1.0)
    assert total.item() == pytest.approx(5.0)
    np.testing.assert_allclose(ps[0].grad.numpy(), [3 / (5 + 1e-6), 0.0], rtol=1e-6)
    np.testing.assert_allclose(ps[1].grad.numpy(), [[4 / (5 + 1e-6)]], rtol=1e-6)
    ps = params_with_grads([[0.3, -0.4]])
    assert clip_grad_norm_(ps, 1.0).item() == pytest.approx(0.5)
    np.testing.assert_allclose(ps[0].grad.numpy(), [0.3, -0.4], rtol=1e-6)  # under the limit


def test_clip_grad_norm_other_norms_and_skips_missing_grads():
    ps = params_with_grads([[3.0, -7.0], [2.0]])
    ps.append(nn.Parameter(cr.zeros(2)))  # no gradient: ignored
    assert clip_grad_norm_(ps, 100.0, norm_type=math.inf).item() == 7.0
    assert clip_grad_norm_(ps, 100.0, norm_type=1).item() == 12.0
    assert clip_grad_norm_(ps[0], 100.0, norm_type=3).item() == pytest.approx(
        (27 + 343) ** (1 / 3))
    assert clip_grad_norm_([], 1.0).item() == 0.0


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # inf * 0, as in torch
def test_clip_grad_norm_nonfinite():
    ps = params_with_grads([[float("inf"), 1.0]])
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_(ps, 1.0, error_if_nonfinite=True)
    assert math.isinf(clip_grad_norm_(ps, 1.0).item())


def test_clip_grad_value():
    ps = params_with_grads([[-3.0, 0.5, 2.0]])
    clip_grad_value_(ps, 1.0)
    assert ps[0].grad.tolist() == [-1.0, 0.5, 1.0]


def test_parameters_vector_round_trip():
    lin = nn.Linear(3, 2)
    vec = parameters_to_vector(lin.parameters())
    assert tuple(vec.shape) == (8,)
    np.testing.assert_array_equal(vec.detach().numpy()[:6],
                                  lin.weight.detach().numpy().reshape(-1))
    new = cr.arange(8, dtype=cr.float32)
    vector_to_parameters(new, lin.parameters())
    assert lin.weight.tolist() == [[0, 1, 2], [3, 4, 5]] and lin.bias.tolist() == [6, 7]
    assert isinstance(lin.weight, nn.Parameter)
    vec.sum().backward()  # parameters_to_vector is differentiable
    with pytest.raises(TypeError, match="expected chainrule.Tensor"):
        vector_to_parameters([1.0], lin.parameters())
    with pytest.raises(ValueError, match="8 elements"):
        vector_to_parameters(cr.zeros(7), lin.parameters())


@pytest.mark.requires_torch
@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_clip_grad_norm_against_torch(norm_type, torch):
    rng = np.random.default_rng(0)
    grads = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (4,), (2, 2, 2))]
    ours = params_with_grads(grads)
    theirs = []
    for g in grads:
        p = torch.nn.Parameter(torch.zeros(g.shape))
        p.grad = torch.tensor(g)
        theirs.append(p)
    a = clip_grad_norm_(ours, 0.5, norm_type)
    b = torch.nn.utils.clip_grad_norm_(theirs, 0.5, norm_type)
    assert a.dtype == cr.float32
    np.testing.assert_allclose(a.item(), b.item(), rtol=1e-6)
    for p, q in zip(ours, theirs):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-7)
