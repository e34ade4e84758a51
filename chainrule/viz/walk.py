"""The backward pass of a Trace, one node at a time, with every intermediate gradient kept.

This is what ``loss.backward()`` does (the engine's walk), spelled out so that a reader can
stop at each node: each step's VJP -- the very rule the engine runs, from ``chainrule.ops``
-- turns dL/d(output) into dL/d(input) for each input, the engine's ``_fit_array`` sums a
broadcast gradient back to its input's shape, and contributions to one value add up.
Local Jacobians come from the same VJPs, applied to one-hot output gradients.
"""

from __future__ import annotations

from .. import backend
from ..autograd.engine import _fit_array
from ..ops.namespace import array_namespace
from ..ops.registry import Meta
from .trace import Trace

_np = backend.np


def _vjp_args(step, inputs, out):
    prim = step.prim
    save = prim.save_inputs
    if save is True:
        saved = tuple(inputs)
    elif save:
        saved = tuple(a if i in save else Meta(a) for i, a in enumerate(inputs))
    else:
        saved = tuple(Meta(a) for a in inputs)
    return saved, (out if prim.save_out else None)


class BackwardWalk:
    """The backward pass of ``trace`` (its root must hold one element).

    ``grad_out[j]``: dL/d(output of step j), complete when step j's VJP runs;
    ``edge_grad[(j, i)]``: what step j's VJP sends to its input i (shaped like the input),
    None where that input needs no gradient; ``leaf_grad[k]``: dL/d(leaf k), the total.
    ``order``: the step indices in the order the walk visits them (reverse forward order,
    steps that no gradient reaches left out).
    """

    def __init__(self, trace: Trace):
        trace.require_values("backward walk")
        root = trace.values[-1]
        if root.size != 1:
            raise ValueError(f"the backward walk starts from a one-element loss; got shape "
                             f"{tuple(root.shape)}")
        self.trace = trace
        self.grad_out = {}
        self.edge_grad = {}
        self.leaf_grad = {}
        self.order = []
        steps = trace.steps
        xp = backend.get_array_module(root)
        pending = {len(steps) - 1: xp.ones_like(root)}  # dL/dL = 1
        for s in reversed(steps):
            g = pending.pop(s.index, None)
            if g is None:
                continue
            self.order.append(s.index)
            self.grad_out[s.index] = g
            inputs = trace.inputs_of(s)
            # zip, as the engine: a VJP may return more entries than there are inputs
            for i, (e, gi) in enumerate(zip(s.node.edges, self._vjp(s, inputs, g))):
                if e is None or gi is None:
                    self.edge_grad[(s.index, i)] = None
                    continue
                gi, _ = _fit_array(gi, inputs[i].shape, inputs[i].dtype)
                gi = gi.copy()  # never share an array between two entries
                self.edge_grad[(s.index, i)] = gi
                r = s.refs[i]
                store = pending if r.kind == "step" else self.leaf_grad
                store[r.index] = gi if r.index not in store else store[r.index] + gi

    def _vjp(self, step, inputs, g):
        out = self.trace.values[step.index]
        saved, out_arg = _vjp_args(step, inputs, out)
        ns = array_namespace(backend.get_array_module(g))
        params = self.trace.params[step.index]
        # a VJP may reuse forward state in place (cross-entropy turns its saved
        # exponentials into the gradient): give it a copy of g and of that state
        return step.prim.vjp(ns, g.copy(), out_arg, *saved, **params)

    def jacobian(self, j: int, i: int, limit: int = 4096):
        """d(output of step j)/d(input i), as a matrix (output size x input size) built
        from the step's VJP on one-hot gradients; None when larger than ``limit``
        entries or when the input needs no gradient."""
        s = self.trace.steps[j]
        if s.node.edges[i] is None:
            return None
        inputs = self.trace.inputs_of(s)
        out = self.trace.values[j]
        if out.size * inputs[i].size > limit:
            return None
        xp = backend.get_array_module(out)
        rows = []
        for k in range(out.size):
            e = xp.zeros(out.size, dtype=out.dtype)
            e[k] = 1
            saved, out_arg = _vjp_args(s, inputs, out)
            params = _replay_params(self.trace, j)
            ns = array_namespace(xp)
            gi = s.prim.vjp(ns, e.reshape(out.shape), out_arg, *saved, **params)[i]
            if gi is None:
                return None
            gi, _ = _fit_array(gi, inputs[i].shape, inputs[i].dtype)
            rows.append(backend.to_numpy(gi).reshape(-1))
        return _np.stack(rows).astype(_np.float64)


    def local_diagonal(self, j: int, i: int):
        """For an elementwise step (input i shaped like the output): the local derivative
        d out_k / d in_k of every entry, from one VJP of a gradient of ones -- the
        diagonal of a Jacobian too big to write out."""
        s = self.trace.steps[j]
        inputs = self.trace.inputs_of(s)
        out = self.trace.values[j]
        if s.node.edges[i] is None or tuple(inputs[i].shape) != tuple(out.shape):
            return None
        xp = backend.get_array_module(out)
        saved, out_arg = _vjp_args(s, inputs, out)
        params = _replay_params(self.trace, j)
        gi = s.prim.vjp(array_namespace(xp), xp.ones_like(out), out_arg, *saved, **params)[i]
        if gi is None:
            return None
        gi, _ = _fit_array(gi, inputs[i].shape, inputs[i].dtype)
        return _np.asarray(backend.to_numpy(gi), dtype=_np.float64)


def _replay_params(trace, j):
    """Params for one more VJP call on step j: a fresh forward fills any state the VJP
    reads (the forward's own state is used by the walk)."""
    from .trace import _fresh_params

    s = trace.steps[j]
    params = _fresh_params(s.params)
    if params is not s.params and any(p is not s.params.get(k) for k, p in params.items()):
        xp = backend.get_array_module(trace.values[j])
        s.prim.forward(xp, *trace.inputs_of(s), **params)
    return params
