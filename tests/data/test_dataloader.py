"""DataLoader: batching semantics against torch, the vectorized TensorDataset path against
the generic path, seeded shuffling, and resuming from a saved position."""

from __future__ import annotations

import numpy as np
import pytest

import chainrule as cr
from chainrule.tensor import Tensor
from chainrule.utils.data import (
    BatchSampler,
    DataLoader,
    IterableDataset,
    SequentialSampler,
    Subset,
    TensorDataset,
    default_collate,
)


def _lists(batches):
    """Batches (lists/tuples of tensors, or tensors) as nested Python lists of values."""
    out = []
    for b in batches:
        if isinstance(b, (list, tuple)):
            out.append([t.tolist() for t in b])
        else:
            out.append(b.tolist())
    return out


def _data(n, f=3):
    X = cr.tensor(np.arange(n * f, dtype=np.float32).reshape(n, f))
    y = cr.tensor(np.arange(n) % 4)
    return X, y


def _generic(batch):  # same result as the default, but forces per-sample fetch + collate
    return default_collate(batch)


# n, batch_size, drop_last
SHAPES = [(10, 1, False), (10, 3, False), (10, 3, True), (9, 3, False), (9, 3, True),
          (2, 5, False), (2, 5, True), (7, 7, False), (0, 4, False)]


@pytest.mark.parametrize("n,bs,drop", SHAPES)
def test_tensor_dataset_batches_match_torch(torch, n, bs, drop):
    X, y = _data(n)
    ours = DataLoader(TensorDataset(X, y), batch_size=bs, drop_last=drop)
    theirs = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(X.numpy()), torch.tensor(y.numpy())),
        batch_size=bs, drop_last=drop)
    assert len(ours) == len(theirs)
    ob, tb = list(ours), list(theirs)
    assert [type(b) for b in ob] == [type(b) for b in tb]  # torch gives lists for tuples
    assert _lists(ob) == _lists(tb)
    assert [b[0].dtype.name for b in ob] == [str(b[0].dtype).split(".")[-1] for b in tb]


@pytest.mark.parametrize("n,bs,drop", SHAPES)
def test_generic_dataset_batches_match_torch(torch, n, bs, drop):
    samples = [(np.full(2, i, np.float32), i, float(i) / 2) for i in range(n)]
    ours = DataLoader(samples, batch_size=bs, drop_last=drop)
    theirs = torch.utils.data.DataLoader(samples, batch_size=bs, drop_last=drop)
    assert len(ours) == len(theirs)
    assert _lists(ours) == _lists(theirs)


def test_batch_size_none_matches_torch(torch):
    X, y = _data(4)
    ours = list(DataLoader(TensorDataset(X, y), batch_size=None))
    theirs = list(torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(torch.tensor(X.numpy()), torch.tensor(y.numpy())),
        batch_size=None))
    assert len(ours) == len(theirs) == 4
    assert [type(s) for s in ours] == [type(s) for s in theirs]
    assert _lists(ours) == _lists(theirs)
    assert list(DataLoader(range(3), batch_size=None)) == [0, 1, 2]


def test_iterable_dataset_matches_torch(torch):
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(11))

    class TorchStream(torch.utils.data.IterableDataset):
        def __iter__(self):
            return iter(range(11))

    for bs, drop in [(4, False), (4, True), (None, False)]:
        ours = list(DataLoader(Stream(), batch_size=bs, drop_last=drop))
        theirs = list(torch.utils.data.DataLoader(TorchStream(), batch_size=bs,
                                                  drop_last=drop))
        conv = [o if isinstance(o, int) else o.tolist() for o in ours]
        assert conv == [t if isinstance(t, int) else t.tolist() for t in theirs]


@pytest.mark.parametrize("dataset_kind", ["tensor", "subset", "nested-subset"])
@pytest.mark.parametrize("n,bs,drop", [(23, 5, False), (23, 5, True), (8, 8, False)])
def test_vectorized_path_equals_generic_path(dataset_kind, n, bs, drop):
    X, y = _data(n + 5)
    ds = TensorDataset(X, y)
    if dataset_kind == "subset":
        ds = Subset(ds, list(range(n + 4, 3, -1))[:n])
    elif dataset_kind == "nested-subset":
        ds = Subset(Subset(ds, list(range(1, n + 5))), cr.tensor(list(range(n))[::-1]))
    else:
        ds = TensorDataset(X[:n], y[:n])
    fast = DataLoader(ds, batch_size=bs, drop_last=drop, shuffle=True,
                      generator=cr.Generator().manual_seed(7))
    slow = DataLoader(ds, batch_size=bs, drop_last=drop, shuffle=True, collate_fn=_generic,
                      generator=cr.Generator().manual_seed(7))
    for _ in range(2):  # two epochs: different orders, still the same between the paths
        fb, sb = list(fast), list(slow)
        assert _lists(fb) == _lists(sb)
        assert [[t.dtype for t in b] for b in fb] == [[t.dtype for t in b] for b in sb]


def test_vectorized_path_does_not_index_per_sample(monkeypatch):
    calls = []
    original = Tensor.__getitem__

    def counting(self, key):
        calls.append(key)
        return original(self, key)

    monkeypatch.setattr(Tensor, "__getitem__", counting)
    X, y = _data(12)
    batches = list(DataLoader(TensorDataset(X, y), batch_size=5, shuffle=True))
    assert len(batches) == 3 and not calls  # one vectorized take per tensor per batch
    list(DataLoader(TensorDataset(X, y), batch_size=5, collate_fn=_generic))
    assert len(calls) == 24  # the generic path indexes every sample of both tensors


def test_vectorized_batches_are_copies():
    X, y = _data(4)
    xb, _ = next(iter(DataLoader(TensorDataset(X, y), batch_size=2)))
    xb.data[...] = -1
    assert X.data.min() == 0


def test_vectorized_path_keeps_graph():
    w = cr.ones(4, 2, requires_grad=True)
    ds = TensorDataset(w * 3, cr.arange(4))
    total = sum(xb.sum() for xb, _ in DataLoader(ds, batch_size=3))
    total.backward()
    assert w.grad.tolist() == [[3.0, 3.0]] * 4


def test_shuffle_is_seeded_and_reshuffles_each_epoch():
    ds = TensorDataset(*_data(30))

    def rows(loader):  # which sample each batch row came from
        return [int(r[0]) // 3 for xb, _ in loader for r in xb.tolist()]

    cr.manual_seed(0)
    loader = DataLoader(ds, batch_size=4, shuffle=True)
    e1, e2 = rows(loader), rows(loader)
    assert sorted(e1) == sorted(e2) == list(range(30)) and e1 != e2
    cr.manual_seed(0)
    assert rows(DataLoader(ds, batch_size=4, shuffle=True)) == e1
    g = cr.Generator().manual_seed(4)
    c = rows(DataLoader(ds, batch_size=4, shuffle=True, generator=g))
    g.manual_seed(4)
    cr.manual_seed(123)  # a given generator is independent of the default one
    assert rows(DataLoader(ds, batch_size=4, shuffle=True, generator=g)) == c
    assert rows(DataLoader(ds, batch_size=4)) == list(range(30))


def test_len_of_loader():
    X, y = _data(10)
    ds = TensorDataset(X, y)
    assert len(DataLoader(ds, batch_size=3)) == 4
    assert len(DataLoader(ds, batch_size=3, drop_last=True)) == 3
    assert len(DataLoader(ds, batch_size=None)) == 10
    bs = BatchSampler(SequentialSampler(ds), 4, False)
    assert len(DataLoader(ds, batch_sampler=bs)) == 3


@pytest.mark.parametrize("kwargs,match", [
    ({"shuffle": True, "sampler": [0, 1]}, "mutually exclusive with shuffle"),
    ({"batch_sampler": [[0]], "batch_size": 2}, "batch_sampler option"),
    ({"batch_size": None, "drop_last": True}, "disables auto-batching"),
    ({"batch_size": 0}, "positive integer"),
    ({"num_workers": -1}, "non-negative"),
])
def test_option_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DataLoader(list(range(4)), **kwargs)


def test_iterable_dataset_rejects_shuffle():
    class Stream(IterableDataset):
        def __iter__(self):
            return iter(range(3))

    with pytest.raises(ValueError, match="shuffle"):
        DataLoader(Stream(), shuffle=True)
    with pytest.raises(TypeError, match="streams"):
        DataLoader(Stream(), batch_size=2).state_dict()


def test_custom_sampler_and_batch_sampler():
    X, y = _data(6)
    ds = TensorDataset(X, y)
    got = [yb.tolist() for _, yb in DataLoader(ds, sampler=[5, 0, 3], batch_size=2)]
    assert got == [[5 % 4, 0], [3]]
    got = [xb[:, 0].tolist() for xb, _ in DataLoader(ds, batch_sampler=[[4, 1], [2, 2, 0]])]
    assert got == [[12.0, 3.0], [6.0, 6.0, 0.0]]


def test_dict_keyed_dataset_with_string_sampler():
    data = {"a": 1.0, "b": 2.0, "c": 3.0}
    batches = list(DataLoader(data, sampler=["c", "a", "b"], batch_size=2))
    assert [b.tolist() for b in batches] == [[3.0, 1.0], [2.0]]


# ----------------------------------------------------------------------------- resuming


@pytest.mark.parametrize("use_generator", [True, False])
@pytest.mark.parametrize("stop_after", [0, 1, 3, 5])
def test_resume_sees_the_same_remaining_batches(tmp_path, use_generator, stop_after):
    """Interrupt an epoch after ``stop_after`` batches, checkpoint through chainrule.save,
    resume in a new loader: the rest of this epoch and the next epoch are identical."""
    X, y = _data(23)
    ds = TensorDataset(X, y)

    def make():
        g = cr.Generator().manual_seed(11) if use_generator else None
        return DataLoader(ds, batch_size=4, shuffle=True, generator=g)

    cr.manual_seed(3)
    reference = make()
    full = [_lists(reference), _lists(reference)]  # two uninterrupted epochs

    cr.manual_seed(3)
    loader = make()
    it = iter(loader)
    seen = [next(it) for _ in range(stop_after)]
    cr.save({"loader": loader.state_dict(), "rng": cr.random.get_rng_state()},
            tmp_path / "ckpt")
    del loader, it

    cr.manual_seed(999)  # the resumed process starts from some other RNG state
    ckpt = cr.load(tmp_path / "ckpt")
    cr.random.set_rng_state(ckpt["rng"])
    resumed = make()
    resumed.load_state_dict(ckpt["loader"])
    rest = _lists(resumed)
    assert _lists(seen) + rest == full[0]
    assert _lists(resumed) == full[1]


def test_state_dict_at_epoch_boundary_and_before_iteration():
    X, y = _data(5)
    loader = DataLoader(TensorDataset(X, y), batch_size=2, shuffle=True,
                        generator=cr.Generator().manual_seed(0))
    st = loader.state_dict()
    assert st["indices"] is None and st["next_batch"] == 0 and st["generator"] is not None
    list(loader)
    assert loader.state_dict()["indices"] is None  # finished epoch: next iter starts fresh
    it = iter(loader)
    next(it)
    st = loader.state_dict()
    assert st["next_batch"] == 1 and sorted(st["indices"].tolist()) == [0, 1, 2, 3, 4]
    other = DataLoader(TensorDataset(X, y), batch_size=2, shuffle=True,
                       generator=cr.Generator())
    other.load_state_dict(st)
    assert other.state_dict()["next_batch"] == 1  # a restored position reports itself
    assert _lists(other) == _lists(it)


def test_resume_with_custom_batch_sampler():
    X, y = _data(6)
    ds = TensorDataset(X, y)
    plan = [[5, 1], [0], [2, 3, 4]]
    loader = DataLoader(ds, batch_sampler=plan)
    it = iter(loader)
    next(it)
    resumed = DataLoader(ds, batch_sampler=[[0]])
    resumed.load_state_dict(loader.state_dict())
    assert _lists(resumed) == _lists(it)


def test_load_state_dict_rejects_bad_state():
    X, y = _data(4)
    loader = DataLoader(TensorDataset(X, y), batch_size=2)
    with pytest.raises(ValueError, match="expected a dict"):
        loader.load_state_dict({"next_batch": 0})
    state = {"version": 1, "indices": cr.tensor([0, 9]), "offsets": cr.tensor([0, 2]),
             "next_batch": 0, "generator": None}
    with pytest.raises(ValueError, match="has 4 samples"):
        loader.load_state_dict(state)
    state["indices"], state["offsets"] = cr.tensor([0, 1]), cr.tensor([0, 3])
    with pytest.raises(ValueError, match="inconsistent"):
        loader.load_state_dict(state)
