"""DataLoader: batches from a dataset, in sampler order, with torch's arguments.

Each epoch's batches are planned when iteration starts: the sampler's indices are drawn once
into an int64 array and cut into batches.  That plan is what ``state_dict()`` saves, so a
resumed run sees exactly the remaining batches.  For a TensorDataset (or Subsets of one) with
the default collate function, a batch is gathered with one vectorized ``take`` per tensor
instead of fetching and stacking samples one by one; the batches are the same.
"""

from __future__ import annotations

from ... import backend, random
from ...tensor import Tensor
from .collate import default_collate, default_convert
from .dataset import IterableDataset, Subset, TensorDataset
from .sampler import BatchSampler, RandomSampler, SequentialSampler

_np = backend.np

_STATE_VERSION = 1


def get_worker_info():
    """None: chainrule loads batches in the calling process (there are no worker processes)."""
    return None


def _tensor_source(dataset):
    """``(tensors, index_maps)`` when ``dataset`` is a TensorDataset, possibly inside Subsets
    that don't override indexing, else None.  ``index_maps`` run outermost first."""
    maps = []
    while type(dataset).__getitem__ is Subset.__getitem__ and \
            type(dataset).__getitems__ is Subset.__getitems__:
        idx = dataset.indices
        idx = _np.asarray(idx.data if isinstance(idx, Tensor) else idx)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            return None
        maps.append(idx.astype(_np.int64, copy=False))
        dataset = dataset.dataset
    if type(dataset).__getitem__ is not TensorDataset.__getitem__ or \
            hasattr(type(dataset), "__getitems__"):
        return None
    return dataset.tensors, maps


class _Plan:
    """One epoch's batches: ``indices[offsets[b]:offsets[b + 1]]`` is batch ``b``.  The
    indices are an int64 array, or a list when a sampler yields keys that are not ints."""

    __slots__ = ("indices", "offsets")

    def __init__(self, indices, offsets):
        self.indices = indices
        self.offsets = offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1


def _as_index_array(keys):
    """int64 array of ``keys`` if they are all integers, else the list itself."""
    if isinstance(keys, _np.ndarray) and keys.ndim == 1 and keys.dtype.kind in "iu":
        return keys.astype(_np.int64)  # a copy: the plan must not change with the sampler
    keys = list(keys)
    # one pass in C over the keys' types (a sampler of 60,000 indices is checked per epoch)
    if all(issubclass(t, (int, _np.integer)) and t is not bool for t in set(map(type, keys))):
        return _np.fromiter(keys, dtype=_np.int64, count=len(keys))  # (2x asarray's speed)
    return keys


def _defined_in(cls, name):
    return next((c for c in cls.__mro__ if name in c.__dict__), None)


def _sampler_indices(sampler):
    """One epoch of ``sampler``'s indices; built-in samplers hand them over as one array
    (unless a subclass changed ``__iter__`` without changing ``_index_array``)."""
    cls = type(sampler)
    if hasattr(sampler, "_index_array") and \
            _defined_in(cls, "__iter__") is _defined_in(cls, "_index_array"):
        return sampler._index_array()
    if type(sampler) in (list, _np.ndarray):  # the order given as a list or an array
        return _as_index_array(sampler)
    return _as_index_array(iter(sampler))


class DataLoader:
    """Iterate over ``dataset`` in batches.

    Arguments and semantics follow ``torch.utils.data.DataLoader``:

    * ``batch_size`` samples per batch (the last may be shorter unless ``drop_last``);
      ``batch_size=None`` disables batching: each item is one sample passed through
      ``default_convert``.
    * ``shuffle=True`` draws a new random order each epoch from ``generator`` (default:
      chainrule's default generator, so ``chainrule.manual_seed`` makes it reproducible).
    * ``sampler`` / ``batch_sampler`` give the order explicitly (exclusive with ``shuffle``;
      ``batch_sampler`` also with ``batch_size`` and ``drop_last``).
    * ``collate_fn`` builds a batch from a list of samples (default ``default_collate``).
    * ``len(loader)`` is the number of batches per epoch.

    Loading happens in the calling process: ``num_workers``, ``pin_memory``, ``timeout``,
    ``worker_init_fn``, ``multiprocessing_context``, ``prefetch_factor``,
    ``persistent_workers``, ``pin_memory_device`` and ``in_order`` are accepted so torch
    scripts run unchanged, and have no effect (batches always come in order).

    ``state_dict()`` / ``load_state_dict()`` save and restore the position in the current
    epoch (its index order and the next batch) and the sampler's own generator, if it has
    one.  With the default generator, checkpoint ``chainrule.random.get_rng_state()`` too,
    so later epochs shuffle the same way.
    """

    def __init__(self, dataset, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler=None, batch_sampler=None, num_workers: int = 0, collate_fn=None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn=None, multiprocessing_context=None, generator=None, *,
                 prefetch_factor=None, persistent_workers: bool = False,
                 pin_memory_device: str = "", in_order: bool = True):
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("DataLoader: num_workers option should be non-negative; use "
                             "num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("DataLoader: timeout option should be non-negative")
        if generator is not None and not isinstance(generator, random.Generator):
            raise TypeError(f"DataLoader: generator must be a chainrule.Generator, got "
                            f"{type(generator).__name__}")
        self._iterable = isinstance(dataset, IterableDataset)
        if self._iterable:
            if shuffle not in (None, False):
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified shuffle "
                                 f"option, but got shuffle={shuffle}")
            if sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified sampler "
                                 f"option, but got sampler={sampler}")
            if batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"batch_sampler option, but got batch_sampler={batch_sampler}")
        shuffle = bool(shuffle)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None:
            if drop_last:
                raise ValueError("DataLoader: batch_size=None option disables auto-batching and "
                                 "is mutually exclusive with drop_last")
        elif isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"DataLoader: batch_size should be a positive integer value, but "
                             f"got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"DataLoader: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")

        if sampler is None and not self._iterable:
            sampler = (RandomSampler(dataset, generator=generator) if shuffle
                       else SequentialSampler(dataset))
        if batch_size is not None and batch_sampler is None and not self._iterable:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)

        self.dataset = dataset
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = multiprocessing_context
        self.prefetch_factor = prefetch_factor
        self.persistent_workers = persistent_workers
        self.pin_memory_device = pin_memory_device
        self.in_order = in_order
        if collate_fn is None:
            collate_fn = default_collate if self._auto_collation else default_convert
        self.collate_fn = collate_fn
        self._last_iter = None
        self._pending = None  # a position restored by load_state_dict, used by the next iter

    # ------------------------------------------------------------ shape of an epoch

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None or (self._iterable and self.batch_size is not None)

    @property
    def _index_sampler(self):
        return self.batch_sampler if self.batch_sampler is not None else self.sampler

    def __len__(self) -> int:
        if self._iterable:
            n = len(self.dataset)  # TypeError if the stream has no length, as in torch
            if self.batch_size is None:
                return n
            return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return len(self._index_sampler)

    def _plannable(self) -> bool:
        if self._iterable:
            return False
        try:
            len(self._index_sampler)
        except TypeError:
            return False
        return True

    def _make_plan(self) -> _Plan:
        bs = self.batch_sampler
        if bs is None:  # no batching: every item is one index
            indices = _sampler_indices(self.sampler)
            return _Plan(indices, _np.arange(len(indices) + 1, dtype=_np.int64))
        if type(bs) is BatchSampler:
            indices = _sampler_indices(bs.sampler)
            n, size = len(indices), bs.batch_size
            ends = _np.arange(size, n + size, size, dtype=_np.int64)
            ends[-1:] = _np.minimum(ends[-1:], n)
            if bs.drop_last and n % size:
                ends = ends[:-1]
            return _Plan(indices, _np.concatenate([_np.zeros(1, _np.int64), ends]))
        batches = [list(b) for b in bs]
        offsets = _np.cumsum([0] + [len(b) for b in batches]).astype(_np.int64)
        return _Plan(_as_index_array(k for b in batches for k in b), offsets)

    # ------------------------------------------------------------ iteration

    def __iter__(self):
        if not self._plannable():
            self._last_iter = None
            self._pending = None
            return _StreamIter(self)
        if self._pending is not None:
            plan, start = self._pending
            self._pending = None
        else:
            plan, start = self._make_plan(), 0
        it = _LoaderIter(self, plan, start)
        self._last_iter = it
        return it

    # ------------------------------------------------------------ checkpointing

    def _generator(self):
        sampler = self.sampler
        if self.batch_sampler is not None and hasattr(self.batch_sampler, "sampler"):
            sampler = self.batch_sampler.sampler
        gen = getattr(sampler, "generator", None)
        return gen if isinstance(gen, random.Generator) else None

    def state_dict(self) -> dict:
        """The loader's position: the current epoch's index order (an int64 tensor, or None
        at an epoch boundary), the batch offsets, the index of the next batch, and the state
        of the sampler's generator (None when it uses the default generator)."""
        if not self._plannable():
            raise TypeError("DataLoader.state_dict: this loader streams (an IterableDataset or "
                            "a sampler without __len__), so its position can't be saved")
        gen = self._generator()
        state = {"version": _STATE_VERSION, "indices": None, "offsets": None, "next_batch": 0,
                 "generator": gen.get_state() if gen is not None else None}
        if self._pending is not None:
            plan, pos = self._pending
        elif self._last_iter is not None:
            plan, pos = self._last_iter._plan, self._last_iter._next
        else:
            return state
        if pos >= len(plan):
            return state
        idx = plan.indices
        state["indices"] = Tensor._wrap(idx.copy()) if isinstance(idx, _np.ndarray) else list(idx)
        state["offsets"] = Tensor._wrap(plan.offsets.copy())
        state["next_batch"] = int(pos)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Restore a position saved by ``state_dict``: the next ``iter(loader)`` continues
        that epoch from its next batch (later epochs start fresh)."""
        if not self._plannable():
            raise TypeError("DataLoader.load_state_dict: this loader streams (an IterableDataset "
                            "or a sampler without __len__), so it has no position to restore")
        keys = {"version", "indices", "offsets", "next_batch", "generator"}
        if not isinstance(state, dict) or not keys <= set(state):
            got = sorted(map(str, state)) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"DataLoader.load_state_dict: expected a dict with keys "
                             f"{sorted(keys)}, got {got}")
        if state["version"] != _STATE_VERSION:
            raise ValueError(f"DataLoader.load_state_dict: unsupported state version "
                             f"{state['version']!r}")
        plan = None
        if state["indices"] is not None:
            idx, offsets = state["indices"], state["offsets"]
            idx = backend.to_numpy(idx.data) if isinstance(idx, Tensor) else _as_index_array(idx)
            offsets = _np.asarray(backend.to_numpy(offsets.data) if isinstance(offsets, Tensor)
                                  else offsets, dtype=_np.int64).reshape(-1)
            pos = int(state["next_batch"])
            if (len(offsets) < 1 or offsets[0] != 0 or offsets[-1] != len(idx)
                    or _np.any(_np.diff(offsets) < 0) or not 0 <= pos < len(offsets) - 1):
                raise ValueError("DataLoader.load_state_dict: the saved batch offsets / next "
                                 "batch are inconsistent with the saved indices")
            if isinstance(idx, _np.ndarray) and idx.size:
                n = len(self.dataset)
                if int(idx.max()) >= n or int(idx.min()) < -n:
                    raise ValueError(f"DataLoader.load_state_dict: the saved epoch indexes "
                                     f"sample {int(idx.max())}, but the dataset has {n} samples")
            plan = (_Plan(idx, offsets), pos)
        if state["generator"] is not None:
            gen = self._generator()
            if gen is None:
                raise ValueError("DataLoader.load_state_dict: the state holds a generator "
                                 "state, but this loader's sampler has no generator")
            gen.set_state(state["generator"])
        self._pending = plan
        self._last_iter = None


class _LoaderIter:
    """Iterator over one planned epoch; ``_next`` is the index of the next batch."""

    def __init__(self, loader: DataLoader, plan: _Plan, start: int):
        self._loader = loader
        self._plan = plan
        self._next = start
        self._dataset = loader.dataset
        self._auto = loader._auto_collation
        self._collate = loader.collate_fn
        self._offsets = _np.asarray(plan.offsets).tolist()  # (Python ints index fastest)
        self._source = None
        if self._auto and loader.collate_fn is default_collate and \
                isinstance(plan.indices, _np.ndarray):
            self._source = _tensor_source(loader.dataset)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self._plan)

    def __next__(self):
        b = self._next
        offsets = self._offsets
        if b >= len(offsets) - 1:
            raise StopIteration
        keys = self._plan.indices[offsets[b]:offsets[b + 1]]
        if self._source is not None:
            batch = self._gather(keys)
        elif self._auto:
            keys = keys.tolist() if isinstance(keys, _np.ndarray) else list(keys)
            getitems = getattr(self._dataset, "__getitems__", None)
            samples = getitems(keys) if getitems is not None else [self._dataset[k] for k in keys]
            batch = self._collate(samples)
        else:
            key = keys[0]
            batch = self._collate(self._dataset[int(key) if isinstance(key, _np.integer) else key])
        self._next = b + 1
        return batch

    def _gather(self, rows):
        """One vectorized index per tensor: the same batch default_collate would stack."""
        tensors, maps = self._source
        for m in maps:
            rows = _np.take(m, rows, axis=0)
        out = []
        for t in tensors:
            a = t.data
            if t._requires_grad:
                out.append(t[Tensor._wrap(rows)])  # recorded, like stacking rows of t
            elif type(a) is _np.ndarray:
                out.append(Tensor._wrap(a.take(rows, axis=0)))
            else:
                r = backend.to_device(rows, t.device)
                out.append(Tensor._wrap(backend.get_array_module(a).take(a, r, axis=0)))
        return out


class _StreamIter:
    """Iterator for loaders whose length isn't known up front (IterableDataset, or a
    sampler without ``__len__``): batches are formed as items arrive."""

    def __init__(self, loader: DataLoader):
        self._loader = loader
        self._collate = loader.collate_fn
        if loader._iterable:
            self._items = iter(loader.dataset)
        else:
            self._items = iter(loader._index_sampler)

    def __iter__(self):
        return self

    def __next__(self):
        loader = self._loader
        if loader._iterable:
            if not loader._auto_collation:
                return self._collate(next(self._items))
            batch = []
            for item in self._items:
                batch.append(item)
                if len(batch) == loader.batch_size:
                    break
            if not batch or (len(batch) < loader.batch_size and loader.drop_last):
                raise StopIteration
            return self._collate(batch)
        keys = next(self._items)
        if not loader._auto_collation:
            return self._collate(loader.dataset[keys])
        keys = list(keys)
        getitems = getattr(loader.dataset, "__getitems__", None)
        samples = getitems(keys) if getitems is not None else [loader.dataset[k] for k in keys]
        return self._collate(samples)

