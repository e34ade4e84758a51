"""ModuleList's folded repr and BatchNorm state_dicts without num_batches_tracked (torch's
behaviour in both)."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule import nn

FOLDED = (
    "ModuleList(\n"
    "  (0-2): 3 x Linear(in_features=2, out_features=3, bias=True)\n"
    "  (3): ReLU()\n"
    "  (4-5): 2 x Linear(in_features=2, out_features=3, bias=True)\n"
    "  (6): Linear(in_features=3, out_features=3, bias=True)\n"
    ")")


def _lists(lib):
    n = lib.nn
    return [
        n.ModuleList([n.Linear(2, 3), n.Linear(2, 3), n.Linear(2, 3), n.ReLU(), n.Linear(2, 3),
                      n.Linear(2, 3), n.Linear(3, 3)]),
        n.ModuleList(),
        n.ModuleList([n.Linear(1, 1)]),
        n.ModuleList([n.Sequential(n.Linear(1, 2), n.ReLU()) for _ in range(2)]),
        n.Sequential(n.Linear(1, 1), n.ModuleList([n.Tanh(), n.Tanh()])),
    ]


def test_module_list_repr_folds_identical_neighbours():
    lists = _lists(cr)
    assert repr(lists[0]) == FOLDED
    assert repr(lists[1]) == "ModuleList()"
    assert repr(lists[2]) == ("ModuleList(\n  (0): Linear(in_features=1, out_features=1, "
                              "bias=True)\n)")
    assert repr(lists[3]) == (
        "ModuleList(\n"
        "  (0-1): 2 x Sequential(\n"
        "    (0): Linear(in_features=1, out_features=2, bias=True)\n"
        "    (1): ReLU()\n"
        "  )\n"
        ")")
    # Sequential does not fold, as in torch
    assert "(0): Linear" in repr(cr.nn.Sequential(nn.Linear(1, 1), nn.Linear(1, 1)))


@pytest.mark.requires_torch
def test_module_list_repr_matches_torch(torch):
    for ours, theirs in zip(_lists(cr), _lists(torch)):
        assert repr(ours) == repr(theirs)


def _net():
    return nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))


def test_batchnorm_state_dict_without_num_batches_tracked_loads_strictly():
    cr.manual_seed(0)
    src = _net()
    src.train()
    src(cr.randn(4, 2))
    sd = {k: v for k, v in src.state_dict().items() if "num_batches_tracked" not in k}
    dst = _net()
    dst[1].num_batches_tracked.fill_(7)
    result = dst.load_state_dict(sd)  # strict
    assert result.missing_keys == [] and result.unexpected_keys == []
    np.testing.assert_array_equal(dst[1].running_mean.numpy(), src[1].running_mean.numpy())
    assert dst[1].num_batches_tracked.item() == 7  # kept, as torch keeps it
    assert dst.load_state_dict(sd, strict=False).missing_keys == []
    # other keys are still required
    del sd["1.running_var"]
    with pytest.raises(RuntimeError, match='Missing key.*"1.running_var"'):
        dst.load_state_dict(sd)


@pytest.mark.requires_torch
def test_batchnorm_old_torch_state_dict_loads_like_torch(torch):
    t = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.BatchNorm1d(3))
    t.train()
    t(torch.randn(5, 2))
    sd = {k: v.detach().numpy() for k, v in t.state_dict().items()
          if "num_batches_tracked" not in k}
    ours = _net()
    ours.load_state_dict({k: cr.tensor(v) for k, v in sd.items()})
    t.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    np.testing.assert_allclose(ours[1].running_var.numpy(), t[1].running_var.numpy())
    assert ours[1].num_batches_tracked.item() == 0
