"""The multi-tensor ("flat") path of the optimizers.

A parameter group's parameters, gradients and state buffers live as views of three flat
arrays, so an update is a few vector operations on the whole group instead of a loop over
parameters (torch's ``foreach`` path; NumPy has no multi-tensor kernels, one contiguous
array plays their part).  The arithmetic is the per-parameter algorithm run on the
concatenation, so both paths give the same numbers; tests compare them step by step.

- Parameters: on the first flat step each ``p.data`` is copied into the flat array and
  ``p.data`` becomes a view of it (same values, same Tensor, same version counter).  A
  parameter whose array someone else also holds (``Parameter(t)`` sharing ``t``'s memory,
  a NumPy view of it) is not moved, and its group keeps the per-parameter loop.
- Gradients: slots of a ``GradBuffer`` (autograd/grad_buffers.py), which the backward pass
  fills directly.  A step whose gradients are not all in their slots (a gradient that
  came another way, a parameter without gradient) takes the per-parameter loop.
- State: each buffer (``state[p]['momentum_buffer']``...) is a Tensor whose ``.data`` is a
  view of a flat array; a buffer loaded by ``load_state_dict`` is copied in.
"""

from __future__ import annotations

import sys

from .. import backend
from ..autograd.grad_buffers import GradBuffer, view_like
from ..tensor import Tensor

_np = backend.np

CHUNK = 2**20  # elements per piece of an elementwise update (4 MiB of float32 per array)


def _movable(t, old_base=None) -> bool:
    """``t.data`` is a NumPy float array that only ``t`` holds (so it may be moved): its own
    memory, or a view of ``old_base`` (the flat array of a group being remade)."""
    a = t.data
    return (type(a) is _np.ndarray and a.dtype.kind == "f" and a.flags.writeable
            and (a.base is None or a.base is old_base)
            and sys.getrefcount(a) == 3)  # t.data, a, the argument


class FlatGroup:
    """Flat storage for the parameters of one group (see the module docstring)."""

    def __init__(self, params):
        self.params = tuple(params)
        self.dtype = params[0].data.dtype
        sizes = [p.data.size for p in params]
        self.pflat = _np.empty(sum(sizes), dtype=self.dtype)
        views, start = [], 0
        for p, n in zip(params, sizes):
            v = view_like(self.pflat[start:start + n], p.data)  # the same layout
            v[...] = p.data
            p.data = v
            views.append(v)
            start += n
        self.pviews = tuple(views)
        self.sizes = sizes
        n = len(self.pflat)
        self.chunks = [(a, min(a + CHUNK, n)) for a in range(0, n, CHUNK)] or [(0, 0)]
        self.grads = GradBuffer(self.params)
        self.state = {}  # name -> (flat array, views, the state Tensors holding the views)
        self._scratch = None

    @classmethod
    def make(cls, params, old_base=None):
        """A FlatGroup for ``params``, or None when they can't share flat storage."""
        if len(params) < 2:
            return None
        dtype = params[0].data.dtype
        for p in params:
            if not _movable(p, old_base) or p.data.dtype != dtype:
                return None
        return cls(params)

    def in_place(self) -> bool:
        """Every parameter still is its view, and its gradient is in its slot.  A gradient
        made elsewhere (the first step's, or one kept by ``zero_grad(set_to_none=False)``)
        that only its parameter holds is moved into its slot, once."""
        grads = self.grads
        for i, p in enumerate(self.params):
            g = p.grad
            if p.data is not self.pviews[i] or g is None:
                return False
            if g.data is not grads.views[i]:
                if g.requires_grad or not _movable(g):
                    return False
                slot = grads.free(i)  # (no other local may hold the slot while counting)
                if slot is None or g.data.shape != slot.shape or g.data.dtype != slot.dtype:
                    return False
                slot[...] = g.data
                g.data = slot
        return True

    def ready(self, params, state, name):
        """The usual step's one pass of checks: ``params`` (the group's list) are still this
        group's parameters, each its view, each gradient in its slot, and (``name`` not
        None) each state buffer ``name`` a view of its flat array.  Returns that flat array
        (None without ``name``), or False when anything differs: the careful checks
        (``flat_group``, ``in_place``, ``state_flat``) then run."""
        if len(params) != len(self.params):
            return False
        slots = self.grads.views
        if name is None:
            for p, q, v, slot in zip(params, self.params, self.pviews, slots):
                g = p._grad
                if p is not q or p.data is not v or g is None or g.data is not slot:
                    return False
            return None
        entry = self.state.get(name)
        if entry is None:
            return False
        flat, views, tensors = entry
        for p, q, v, slot, t, tv in zip(params, self.params, self.pviews, slots, tensors, views):
            g = p._grad
            if p is not q or p.data is not v or g is None or g.data is not slot:
                return False
            st = state.get(p)
            if st is None or st.get(name) is not t or t.data is not tv:
                return False
        return flat

    def scratch(self):
        """A scratch array of one chunk's size (made once)."""
        if self._scratch is None:
            self._scratch = _np.empty(self.chunks[0][1] - self.chunks[0][0], dtype=self.dtype)
        return self._scratch

    def state_flat(self, state, name):
        """The flat array of state buffer ``name``: bound (each ``state[p][name]`` a view),
        None when no parameter has the buffer yet, or False when only some have it."""
        entry = self.state.get(name)
        if entry is not None:  # the usual case: every buffer is still its view
            flat, views, tensors = entry
            for p, t, v in zip(self.params, tensors, views):
                st = state.get(p)
                if st is None or st.get(name) is not t or t.data is not v:
                    break
            else:
                return flat
        have = [state[p].get(name) if p in state else None for p in self.params]
        if all(b is None for b in have):
            return None
        if any(not isinstance(b, Tensor) or b.data.shape != p.data.shape
               for b, p in zip(have, self.params)):
            return False
        # buffers made elsewhere (loaded, or from per-parameter steps): copy them in; the
        # state Tensors stay the same objects, their arrays become views
        flat = _np.empty(sum(self.sizes), dtype=self.dtype)
        views = self._views(flat)
        for b, v in zip(have, views):
            v[...] = b.data
            b.data = v
        self.state[name] = (flat, views, tuple(have))
        return flat

    def adopt_state(self, state, name, flat):
        """Store the new flat buffer ``flat`` as ``state[p][name]`` views."""
        views = self._views(flat)
        tensors = tuple(Tensor._wrap(v) for v in views)
        for p, t in zip(self.params, tensors):
            state[p][name] = t
        self.state[name] = (flat, views, tensors)

    def _views(self, flat):
        views, start = [], 0
        for v, n in zip(self.pviews, self.sizes):
            views.append(view_like(flat[start:start + n], v))
            start += n
        return tuple(views)

    def bump_versions(self):
        for p in self.params:
            p._version[0] += 1


def flat_group(optimizer, index, group):
    """The FlatGroup of ``optimizer.param_groups[index]`` (made on first use, remade when the
    group's parameters or their arrays changed), or None when the group doesn't qualify."""
    cache = optimizer.__dict__.get("_flat_groups")
    if cache is None:
        cache = optimizer.__dict__["_flat_groups"] = {}
    params = group["params"]
    flat = cache.get(index)
    if flat is not None and len(flat.params) == len(params):
        for p, q, v in zip(params, flat.params, flat.pviews):
            if p is not q or p.data is not v:
                break
        else:
            return flat
    old_base = flat.pflat if flat is not None else None
    cache[index] = flat = None  # drop the old group's views before counting references
    flat = FlatGroup.make(params, old_base)  # (a group that doesn't qualify: asked again)
    cache[index] = flat
    return flat
