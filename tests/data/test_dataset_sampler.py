"""Datasets, samplers, random_split and default_collate (against torch where installed)."""

from __future__ import annotations

import collections

import numpy as np
import pytest

import chainrule as cr
from chainrule.utils.data import (
    BatchSampler,
    ConcatDataset,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    default_convert,
    random_split,
)


def _np(x):
    """Nested structure -> nested plain Python/NumPy for comparing chainrule with torch."""
    if hasattr(x, "detach") and hasattr(x, "numpy"):
        return ("tensor", str(x.dtype).split(".")[-1], x.detach().numpy().tolist())
    if isinstance(x, dict):
        return {k: _np(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return (type(x).__name__ if type(x) in (list, tuple) else "namedtuple",
                [_np(v) for v in x])
    return x


# ----------------------------------------------------------------------------- datasets


def test_tensor_dataset_rows_and_length():
    X, y = cr.arange(12.0).reshape(6, 2), cr.arange(6)
    ds = TensorDataset(X, y)
    assert len(ds) == 6
    x3, y3 = ds[3]
    assert x3.tolist() == [6.0, 7.0] and y3.item() == 3


def test_tensor_dataset_size_mismatch():
    with pytest.raises(ValueError, match="size mismatch"):
        TensorDataset(cr.zeros(3, 2), cr.zeros(4))
    with pytest.raises(TypeError, match="expected a Tensor"):
        TensorDataset(np.zeros(3))


def test_subset_and_nested_subset():
    ds = TensorDataset(cr.arange(10))
    sub = Subset(Subset(ds, [9, 7, 5, 3, 1]), [4, 0])
    assert len(sub) == 2
    assert [sub[i][0].item() for i in range(2)] == [1, 9]


def test_concat_dataset_matches_torch(torch):
    a, b = list(range(3)), list(range(10, 15))
    ours, theirs = ConcatDataset([a, b]), torch.utils.data.ConcatDataset([a, b])
    assert ours.cumulative_sizes == theirs.cumulative_sizes
    assert [ours[i] for i in range(-8, 8)] == [theirs[i] for i in range(-8, 8)]
    with pytest.raises(ValueError, match="empty"):
        ConcatDataset([])


def test_dataset_add_is_concat():
    class Letters(Dataset):
        def __init__(self, s):
            self.s = s

        def __len__(self):
            return len(self.s)

        def __getitem__(self, i):
            return self.s[i]

    both = Letters("ab") + Letters("cde")
    assert isinstance(both, ConcatDataset) and [both[i] for i in range(5)] == list("abcde")


@pytest.mark.parametrize("n,lengths", [
    (10, [3, 7]), (10, [0.33, 0.33, 0.34]), (11, [0.5, 0.5]), (7, [0.1, 0.2, 0.7]), (5, [5]),
])
def test_random_split_sizes_match_torch(torch, n, lengths):
    ours = random_split(range(n), lengths, generator=cr.Generator().manual_seed(1))
    theirs = torch.utils.data.random_split(range(n), lengths,
                                           generator=torch.Generator().manual_seed(1))
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    seen = sorted(i for s in ours for i in s.indices)
    assert seen == list(range(n))  # disjoint and covering


def test_random_split_seeded_and_errors():
    a = random_split(range(20), [10, 10], generator=cr.Generator().manual_seed(3))
    b = random_split(range(20), [10, 10], generator=cr.Generator().manual_seed(3))
    assert a[0].indices == b[0].indices
    cr.manual_seed(5)
    c = random_split(range(20), [0.5, 0.5])
    cr.manual_seed(5)
    d = random_split(range(20), [0.5, 0.5])
    assert c[1].indices == d[1].indices
    with pytest.raises(ValueError, match="does not equal"):
        random_split(range(5), [2, 2])


# ----------------------------------------------------------------------------- samplers


@pytest.mark.parametrize("n,bs,drop", [(10, 3, False), (10, 3, True), (9, 3, True),
                                       (2, 5, False), (2, 5, True), (0, 2, False)])
def test_batch_sampler_matches_torch(torch, n, bs, drop):
    ours = BatchSampler(SequentialSampler(range(n)), bs, drop)
    theirs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler(range(n)), bs, drop)
    assert list(ours) == list(theirs)
    assert len(ours) == len(theirs)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_batch_sampler_rejects_bad_size(bad):
    with pytest.raises(ValueError, match="positive integer"):
        BatchSampler(range(3), bad, False)


def test_random_sampler_permutation_and_reproducible():
    g = cr.Generator().manual_seed(0)
    s = RandomSampler(range(50), generator=g)
    e1, e2 = list(s), list(s)
    assert sorted(e1) == list(range(50)) and sorted(e2) == list(range(50))
    assert e1 != e2  # a fresh order each epoch
    g.manual_seed(0)
    assert list(s) == e1


def test_random_sampler_num_samples_and_replacement():
    s = RandomSampler(range(4), num_samples=10, generator=cr.Generator().manual_seed(2))
    out = list(s)
    assert len(s) == 10 and len(out) == 10
    assert sorted(out[:4]) == sorted(out[4:8]) == [0, 1, 2, 3]  # whole permutations first
    assert len(set(out[8:])) == 2
    r = RandomSampler(range(3), replacement=True, num_samples=200,
                      generator=cr.Generator().manual_seed(2))
    out = list(r)
    assert len(out) == 200 and set(out) == {0, 1, 2}
    with pytest.raises(ValueError, match="positive integer"):
        RandomSampler([], generator=None)
    with pytest.raises(TypeError, match="boolean"):
        RandomSampler(range(3), replacement=1)


def test_subset_random_sampler():
    s = SubsetRandomSampler([5, 7, 9, 11], generator=cr.Generator().manual_seed(0))
    assert sorted(s) == [5, 7, 9, 11] and len(s) == 4


def test_weighted_random_sampler():
    s = WeightedRandomSampler([0.0, 1.0, 3.0], 400, generator=cr.Generator().manual_seed(0))
    counts = np.bincount(list(s), minlength=3)
    assert counts[0] == 0 and counts[2] > 2 * counts[1]
    no_rep = WeightedRandomSampler([1, 1, 1, 1], 4, replacement=False,
                                   generator=cr.Generator().manual_seed(0))
    assert sorted(no_rep) == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="non-negative"):
        WeightedRandomSampler([-1.0, 1.0], 2)


# ----------------------------------------------------------------------------- collate

Point = collections.namedtuple("Point", "x y")

COLLATE_CASES = {
    "python numbers": [(1.5, 2, True), (2.5, 3, False)],
    "numpy scalars": [np.float32(1.5), np.float32(2.0)],
    "numpy int32 arrays": [np.arange(3, dtype=np.int32), np.arange(3, 6, dtype=np.int32)],
    "numpy float64 arrays": [np.ones((2, 2)), np.zeros((2, 2))],
    "strings": [("a", 1), ("b", 2)],
    "dicts": [{"img": np.zeros(2, np.float32), "label": 1},
              {"img": np.ones(2, np.float32), "label": 0}],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
    "nested lists": [[1, [2, 3]], [4, [5, 6]]],
}


@pytest.mark.parametrize("case", sorted(COLLATE_CASES))
def test_default_collate_matches_torch(torch, case):
    batch = COLLATE_CASES[case]
    assert _np(default_collate(batch)) == _np(torch.utils.data.default_collate(batch))


@pytest.mark.parametrize("case", sorted(COLLATE_CASES))
def test_default_convert_matches_torch(torch, case):
    sample = COLLATE_CASES[case][0]
    assert _np(default_convert(sample)) == _np(torch.utils.data.default_convert(sample))


def test_default_collate_tensors_and_errors():
    out = default_collate([cr.tensor([1.0, 2.0]), cr.tensor([3.0, 4.0])])
    assert out.tolist() == [[1.0, 2.0], [3.0, 4.0]] and out.dtype == cr.float32
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([cr.zeros(2), cr.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([[1, 2], [3]])
    with pytest.raises(TypeError, match="found"):
        default_collate([object(), object()])


def test_default_collate_keeps_graph():
    w = cr.ones(2, requires_grad=True)
    out = default_collate([w * 2, w * 3])
    out.sum().backward()
    assert w.grad.tolist() == [5.0, 5.0]
