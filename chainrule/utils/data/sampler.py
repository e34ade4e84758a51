"""Samplers: the order in which a DataLoader visits a map-style dataset's indices.

Each built-in sampler can also hand over one epoch's indices as a single int64 array
(``_index_array``), which is what the DataLoader uses: it draws the epoch's order once,
can slice batches out of it without a Python loop, and can save it in a checkpoint.
"""

from __future__ import annotations

from ... import backend, random

_np = backend.np


def _check_generator(name, generator):
    if generator is not None and not isinstance(generator, random.Generator):
        raise TypeError(f"{name}: generator must be a chainrule.Generator, got "
                        f"{type(generator).__name__}")


class Sampler:
    """Base class: ``__iter__`` yields dataset indices; ``__len__`` (optional) counts them."""

    def __init__(self, data_source=None):
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source):
        self.data_source = data_source

    def _index_array(self):
        return _np.arange(len(self.data_source), dtype=_np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self) -> int:
        return len(self.data_source)


class RandomSampler(Sampler):
    """A random order of the indices, drawn afresh each epoch from ``generator`` (default:
    chainrule's default generator, so ``manual_seed`` makes it reproducible).

    Without ``replacement``, ``num_samples`` (default ``len(data_source)``) may exceed the
    dataset size: whole permutations are concatenated, then part of one more, as in torch.
    With ``replacement``, indices are drawn independently and uniformly.
    """

    def __init__(self, data_source, replacement: bool = False, num_samples: int | None = None,
                 generator=None):
        if not isinstance(replacement, bool):
            raise TypeError(f"RandomSampler: replacement should be a boolean value, but got "
                            f"replacement={replacement}")
        _check_generator("RandomSampler", generator)
        self.data_source = data_source
        self.replacement = replacement
        self._num_samples = num_samples
        self.generator = generator
        k = self.num_samples
        if isinstance(k, bool) or not isinstance(k, int) or k <= 0:
            raise ValueError(f"RandomSampler: num_samples should be a positive integer value, "
                             f"but got num_samples={k}")

    @property
    def num_samples(self) -> int:
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _index_array(self):
        n, k = len(self.data_source), self.num_samples
        if n == 0:
            return _np.zeros(0, dtype=_np.int64)
        if self.replacement:
            return random.integers_array(0, n, (k,), _np.int64, generator=self.generator)
        parts = [random.permutation_array(n, generator=self.generator) for _ in range(k // n)]
        if k % n:
            parts.append(random.permutation_array(n, generator=self.generator)[:k % n])
        return parts[0] if len(parts) == 1 else _np.concatenate(parts)

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class SubsetRandomSampler(Sampler):
    """The given ``indices`` in a random order, drawn afresh each epoch."""

    def __init__(self, indices, generator=None):
        _check_generator("SubsetRandomSampler", generator)
        self.indices = indices
        self.generator = generator

    def _index_array(self):
        idx = _np.asarray(self.indices, dtype=_np.int64).reshape(-1)
        return idx[random.permutation_array(len(idx), generator=self.generator)]

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return len(self.indices)


class WeightedRandomSampler(Sampler):
    """``num_samples`` indices in ``[0, len(weights))`` drawn with probability proportional
    to ``weights`` (with replacement by default)."""

    def __init__(self, weights, num_samples: int, replacement: bool = True, generator=None):
        if isinstance(num_samples, bool) or not isinstance(num_samples, int) or num_samples <= 0:
            raise ValueError(f"WeightedRandomSampler: num_samples should be a positive integer "
                             f"value, but got num_samples={num_samples}")
        if not isinstance(replacement, bool):
            raise ValueError(f"WeightedRandomSampler: replacement should be a boolean value, but "
                             f"got replacement={replacement}")
        _check_generator("WeightedRandomSampler", generator)
        w = _np.asarray(weights, dtype=_np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1-d sequence, got "
                             f"shape {w.shape}")
        if not _np.all(_np.isfinite(w)) or _np.any(w < 0) or w.sum() <= 0:
            raise ValueError("WeightedRandomSampler: weights must be finite, non-negative and "
                             "not all zero")
        if not replacement and num_samples > int(_np.count_nonzero(w)):
            raise ValueError(f"WeightedRandomSampler: cannot draw {num_samples} samples without "
                             f"replacement from {int(_np.count_nonzero(w))} non-zero weights")
        self.weights = w
        self.num_samples = num_samples
        self.replacement = replacement
        self.generator = generator

    def _index_array(self):
        rng = random._rng(self.generator)
        p = self.weights / self.weights.sum()
        return rng.choice(len(p), size=self.num_samples, replace=self.replacement,
                          p=p).astype(_np.int64)

    def __iter__(self):
        return iter(self._index_array().tolist())

    def __len__(self) -> int:
        return self.num_samples


class BatchSampler(Sampler):
    """Group the indices of ``sampler`` into lists of ``batch_size``; the last, shorter batch
    is dropped when ``drop_last``."""

    def __init__(self, sampler, batch_size: int, drop_last: bool):
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"BatchSampler: batch_size should be a positive integer value, but "
                             f"got batch_size={batch_size}")
        if not isinstance(drop_last, bool):
            raise ValueError(f"BatchSampler: drop_last should be a boolean value, but got "
                             f"drop_last={drop_last}")
        self.sampler = sampler
        self.batch_size = batch_size
        self.drop_last = drop_last

    def __iter__(self):
        batch = []
        for idx in self.sampler:
            batch.append(idx)
            if len(batch) == self.batch_size:
                yield batch
                batch = []
        if batch and not self.drop_last:
            yield batch

    def __len__(self) -> int:
        n = len(self.sampler)
        if self.drop_last:
            return n // self.batch_size
        return (n + self.batch_size - 1) // self.batch_size
