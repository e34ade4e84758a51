"""nn.init: torch's gains, fans and bounds; sample statistics of each initializer; seeding;
errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import chainrule as cr
from chainrule.nn import init


def test_calculate_gain_matches_torchs_table():
    assert init.calculate_gain("linear") == 1 and init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01**2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="Unsupported nonlinearity"):
        init.calculate_gain("swish")
    with pytest.raises(ValueError, match="not a valid number"):
        init.calculate_gain("leaky_relu", "a")


def test_fans_include_the_receptive_field():
    assert init._calculate_fan_in_and_fan_out(cr.empty(6, 4)) == (4, 6)
    assert init._calculate_fan_in_and_fan_out(cr.empty(6, 4, 3, 2)) == (24, 36)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init.xavier_uniform_(cr.empty(5))


def test_uniform_normal_constant():
    cr.manual_seed(0)
    t = init.uniform_(cr.empty(200, 200), -2.0, 3.0)
    v = t.numpy()
    assert v.min() >= -2 and v.max() < 3 and abs(v.mean() - 0.5) < 0.05
    v = init.normal_(cr.empty(200, 200), 1.0, 2.0).numpy()
    assert abs(v.mean() - 1) < 0.05 and abs(v.std() - 2) < 0.05
    assert (init.constant_(cr.empty(3), 0.5).numpy() == 0.5).all()
    assert (init.zeros_(cr.ones(3)).numpy() == 0).all()
    assert (init.ones_(cr.zeros(3)).numpy() == 1).all()
    assert init.eye_(cr.empty(2, 3)).tolist() == [[1, 0, 0], [0, 1, 0]]


def test_initializers_work_on_parameters_in_place_without_recording():
    p = cr.nn.Parameter(cr.zeros(30, 20))
    out = init.kaiming_normal_(p)
    assert out is p and p.grad_fn is None and p.requires_grad
    assert p.detach().numpy().std() > 0


def test_kaiming_uniform_bounds_and_modes():
    cr.manual_seed(1)
    w = init.kaiming_uniform_(cr.empty(300, 200), nonlinearity="relu").numpy()
    bound = math.sqrt(2) * math.sqrt(3 / 200)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    w = init.kaiming_uniform_(cr.empty(300, 200), mode="fan_out", nonlinearity="relu").numpy()
    assert np.abs(w).max() <= math.sqrt(2) * math.sqrt(3 / 300)
    w = init.kaiming_normal_(cr.empty(300, 200), a=0.1).numpy()
    assert abs(w.std() - math.sqrt(2 / 1.01) / math.sqrt(200)) < 0.002
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(cr.empty(3, 3), mode="fan_avg")
    with pytest.warns(UserWarning, match="zero-element"):
        init.kaiming_uniform_(cr.empty(0, 3))


def test_xavier():
    cr.manual_seed(2)
    w = init.xavier_uniform_(cr.empty(300, 100), gain=2.0).numpy()
    a = 2.0 * math.sqrt(6 / 400)
    assert np.abs(w).max() <= a and np.abs(w).max() > 0.99 * a
    w = init.xavier_normal_(cr.empty(300, 100)).numpy()
    assert abs(w.std() - math.sqrt(2 / 400)) < 0.002


def test_orthogonal_and_trunc_normal():
    cr.manual_seed(3)
    for shape in [(5, 3), (3, 5), (4, 2, 3)]:
        w = init.orthogonal_(cr.empty(*shape, dtype=cr.float64), gain=2.0).numpy()
        flat = w.reshape(shape[0], -1)
        small = flat.T @ flat if flat.shape[0] >= flat.shape[1] else flat @ flat.T
        np.testing.assert_allclose(small, 4 * np.eye(len(small)), atol=1e-12)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        init.orthogonal_(cr.empty(3))
    v = init.trunc_normal_(cr.empty(100, 100), mean=1.0, std=2.0, a=-1.0, b=2.0).numpy()
    assert v.min() >= -1 and v.max() <= 2 and v.std() > 0.5


def test_same_seed_same_weights_and_explicit_generators():
    cr.manual_seed(5)
    a = init.xavier_uniform_(cr.empty(4, 4)).numpy()
    cr.manual_seed(5)
    b = init.xavier_uniform_(cr.empty(4, 4)).numpy()
    np.testing.assert_array_equal(a, b)
    g1, g2 = cr.Generator().manual_seed(9), cr.Generator().manual_seed(9)
    np.testing.assert_array_equal(init.normal_(cr.empty(3), generator=g1).numpy(),
                                  init.normal_(cr.empty(3), generator=g2).numpy())


@pytest.mark.requires_torch
def test_gain_values_equal_torchs(torch):
    for name, param in [("linear", None), ("tanh", None), ("relu", None), ("leaky_relu", None),
                        ("leaky_relu", 0.3), ("selu", None), ("sigmoid", None)]:
        assert init.calculate_gain(name, param) == pytest.approx(
            torch.nn.init.calculate_gain(name, param), rel=1e-15)
