"""Turning a list of samples into a batch (``default_collate``) and converting single samples
(``default_convert``), with torch's rules for tensors, NumPy arrays, numbers, strings,
mappings and sequences."""

from __future__ import annotations

import collections.abc

from ... import backend
from ...tensor import Tensor

_np = backend.np

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(x, "_fields")


def _stack(batch: list) -> Tensor:
    first = batch[0]
    shape, dtype = first.data.shape, first.data.dtype
    for i, t in enumerate(batch):
        if t.data.shape != shape:
            raise RuntimeError(f"default_collate: stack expects each tensor to be equal size, but "
                               f"got {list(shape)} at entry 0 and {list(t.data.shape)} at entry "
                               f"{i}")
    if any(t.requires_grad for t in batch) or any(t.data.dtype != dtype for t in batch):
        from ...ops.functional import stack  # records the graph / promotes like torch

        return stack(batch, 0)
    xp = backend.get_array_module(first.data)
    return Tensor._wrap(xp.stack([t.data for t in batch]))


def default_collate(batch):
    """Combine a list of samples into a batch.

    Tensors are stacked along a new dimension 0; NumPy arrays and NumPy scalars become
    stacked tensors (their dtype kept); Python floats become a float64 tensor, ints an int64
    tensor, bools a bool tensor; strings are returned as they are; mappings, named tuples
    and sequences are collated field by field (tuples and lists come back as lists).
    """
    if not isinstance(batch, (list, tuple)) or not batch:
        raise TypeError("default_collate: expects a non-empty list of samples")
    elem = batch[0]
    if isinstance(elem, Tensor):
        return _stack(list(batch))
    if isinstance(elem, _np.ndarray):
        if elem.dtype.kind in "USO":
            raise TypeError(_ERR.format(elem.dtype))
        return _stack([Tensor._wrap(_np.asarray(b)) for b in batch])
    if isinstance(elem, _np.generic):
        if elem.dtype.kind in "USO":
            raise TypeError(_ERR.format(elem.dtype))
        return Tensor._wrap(_np.asarray(batch))
    if isinstance(elem, float):
        return Tensor._wrap(_np.asarray(batch, dtype=_np.float64))
    if isinstance(elem, bool):
        return Tensor._wrap(_np.asarray(batch, dtype=_np.bool_))
    if isinstance(elem, int):
        return Tensor._wrap(_np.asarray(batch, dtype=_np.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, collections.abc.Mapping):
        out = {key: default_collate([d[key] for d in batch]) for key in elem}
        try:
            return type(elem)(out)
        except TypeError:  # a mapping type that can't be built from a dict
            return out
    if _is_namedtuple(elem):
        return type(elem)(*(default_collate(s) for s in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(e) != size for e in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of "
                               "equal size")
        return [default_collate(samples) for samples in zip(*batch)]
    raise TypeError(_ERR.format(type(elem)))


def default_convert(data):
    """Convert one sample without batching (``batch_size=None``): NumPy arrays and scalars
    become tensors, containers are converted element by element (tuples become lists),
    everything else is returned unchanged."""
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (_np.ndarray, _np.generic)):
        if data.dtype.kind in "USO":
            return data
        return Tensor._wrap(_np.asarray(data))
    if isinstance(data, (str, bytes)):
        return data
    if isinstance(data, collections.abc.Mapping):
        out = {key: default_convert(data[key]) for key in data}
        try:
            return type(data)(out)
        except TypeError:
            return out
    if _is_namedtuple(data):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
