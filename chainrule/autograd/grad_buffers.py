"""Preallocated gradient buffers: the engine writes a leaf's gradient straight into a slice
of one flat array, so that an optimizer updates a whole parameter group in a few vector
operations (``optim``'s flat path) without gathering the gradients first.

An optimizer makes a ``GradBuffer`` for a group of leaves; each leaf then has a *slot*, a
view of the flat array shaped like the leaf.  During a plain backward, a leaf whose
``.grad`` is None and whose slot nobody else holds receives its gradient in the slot: a
VJP that takes ``into=`` (fused linear) writes its matrix product there, and the engine's
un-broadcast sum writes a bias gradient there; any other gradient is stored as usual.

A slot is offered only when no one outside this module holds it or any view of the flat
array (reference counts), so a ``.grad`` kept from an earlier step is never overwritten:
after ``zero_grad()`` (set to None) the old gradient tensor dies and its slot is free
again; a user who keeps it simply gets a fresh array next time.
"""

from __future__ import annotations

import sys
import weakref

from .. import backend

_np = backend.np
_refcount = sys.getrefcount

SLOTS: dict[int, tuple] = {}  # id(leaf) -> (weakref to GradBuffer, index, weakref to leaf)


class GradBuffer:
    """Gradient slots for ``leaves`` (same NumPy float dtype): ``flat`` and, per leaf, a
    view ``views[i]`` of its shape.  Registers the slots until it is garbage collected."""

    def __init__(self, leaves):
        dtype = leaves[0].data.dtype
        sizes = [t.data.size for t in leaves]
        self.flat = _np.zeros(sum(sizes), dtype=dtype)
        views, start = [], 0
        for t, n in zip(leaves, sizes):
            views.append(view_like(self.flat[start:start + n], t.data))
            start += n
        self.views = tuple(views)
        del views, t  # (no stray references while the baselines below are measured)
        self.keys = tuple(id(t) for t in leaves)
        me = weakref.ref(self)
        for i, t in enumerate(leaves):
            SLOTS[id(t)] = (me, i, weakref.ref(t))
        weakref.finalize(self, _unregister, self.keys, me)
        # reference counts when nothing outside holds a slot, counted as free() counts them
        self._view_refs = self._flat_refs = None
        self._view_refs = self._free_counts(0)[0]
        self._flat_refs = self._free_counts(0)[1]

    def _free_counts(self, i):
        v = self.views[i]
        return _refcount(v), _refcount(self.flat)

    def free(self, i):
        """Slot ``i`` if nothing outside holds it or another view of the flat array."""
        v = self.views[i]
        if _refcount(v) != self._view_refs or _refcount(self.flat) != self._flat_refs:
            return None
        return v

    def holds(self, i, array) -> bool:
        return self.views[i] is array


def view_like(flat, array):
    """``flat`` (1-d, ``array.size`` long) reshaped to ``array``'s shape, column-major when
    ``array`` is (nn.Linear's weights), so that a slot has its leaf's layout."""
    if array.ndim == 2 and array.flags.f_contiguous and not array.flags.c_contiguous:
        return flat.reshape(array.shape[::-1]).T
    return flat.reshape(array.shape)


def _unregister(keys, me):
    for k in keys:
        entry = SLOTS.get(k)
        if entry is not None and entry[0] is me:
            del SLOTS[k]


def free_slot(leaf):
    """The free gradient slot of ``leaf`` (see the module docstring), or None."""
    entry = SLOTS.get(id(leaf))
    if entry is None or leaf._grad is not None:
        return None
    buf = entry[0]()
    if buf is None or entry[2]() is not leaf:
        return None
    view = buf.free(entry[1])
    data = leaf.data
    # (the strides also tell whether the leaf's array changed layout since the slots were made)
    if view is None or view.strides != data.strides or view.shape != data.shape or \
            view.dtype != data.dtype:
        return None
    return view
