"""The backward pass: order the recorded graph once, walk it from the outputs, apply each
node's VJP (the chain rule), sum gradients back to each input's shape (the one place that
undoes broadcasting), and accumulate into leaves.

Ordering is an iterative depth-first post-order (no recursion, so a 50,000-node chain
works); its reverse visits every node before the nodes it consumed.
"""

from __future__ import annotations

from .. import backend
from .._errors import OpError
from ..ops.namespace import TENSOR_NS, array_namespace
from .grad_mode import state

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time."
)


def topological_order(roots):
    """Nodes reachable from ``roots`` (Nodes), every node before the ones it consumed."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.inputs))]
        while stack:
            node, inputs = stack[-1]
            for t in inputs:
                child = t._node
                if child is not None and id(child) not in seen:
                    seen.add(id(child))
                    stack.append((child, iter(child.inputs)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _needed(order, targets):
    """Ids of nodes through which some target is reached (used by autograd.grad to skip
    the rest of the graph)."""
    needed = set()
    for node in reversed(order):  # consumed nodes first
        for t in node.inputs:
            if id(t) in targets or (t._node is not None and id(t._node) in needed):
                needed.add(id(node))
                break
    return needed


# --------------------------------------------------------------- array / Tensor kits


def _sum_to_array(g, shape):
    """Sum ``g`` over broadcast axes so that it has ``shape`` (the one un-broadcast)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead >= 0:
        axes = tuple(range(lead)) + tuple(
            i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1
        )
        if axes:
            g = g.sum(axis=axes, keepdims=True)
        if lead:
            g = g.reshape(g.shape[lead:])
    if g.shape != shape:  # a gradient smaller than its input (constant along an axis)
        g = backend.get_array_module(g).broadcast_to(g, shape)
    return g


def _sum_to_tensor(g, shape):
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    if lead >= 0:
        axes = tuple(range(lead)) + tuple(
            i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1
        )
        if axes:
            g = TENSOR_NS.sum(g, axis=axes, keepdims=True)
        if lead:
            g = TENSOR_NS.reshape(g, g.shape[lead:])
    if g.shape != shape:
        g = TENSOR_NS.broadcast_to(g, shape)
    return g


def _check_versions(node):
    for box, stamp in node.versions:
        if box[0] != stamp:
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: an input or output of {node.prim.name} "
                f"(grad_fn={node.name()}) is at version {box[0]}; expected version {stamp}"
                + (f"; the op was called at {node.where}" if node.where else "")
                + ". Hint: avoid modifying in place a tensor that a later gradient needs "
                "(use the out-of-place op, or clone() first)."
            )


def _check_finite_grads(node, grads):
    for g in grads:
        if g is None:
            continue
        data = g.data if isinstance(g, Tensor) else g
        if data.dtype.kind == "f" and not bool(backend.get_array_module(data).isfinite(data).all()):
            where = f", at {node.where}" if node.where else ""
            raise OpError(
                f"anomaly: the backward of {node.prim.name} ({node.name()}) returned NaN or Inf"
                f"{where}"
            )


# ------------------------------------------------------------------------ the walk


def run_backward(outputs, out_grads, retain_graph, create_graph, targets=None):
    """Backpropagate ``out_grads`` (arrays, or Tensors when ``create_graph``) from
    ``outputs`` (Tensors that require grad).

    Without ``targets``: accumulate into leaves' ``.grad`` and return None.  With
    ``targets`` (a list of Tensors): leave ``.grad`` alone and return their gradients
    (None where no gradient reached).
    """
    roots = [t._node for t in outputs if t._node is not None]
    order = topological_order(roots)
    target_ids = None if targets is None else {id(t): i for i, t in enumerate(targets)}
    needed = None if targets is None else _needed(order, target_ids)
    captured = None if targets is None else [None] * len(targets)

    tensor_mode = create_graph
    ns = None
    grads = {}  # id(node) -> [gradient, owned]; owned gradients may be added to in place
    leaf_grads = {}  # id(leaf) -> [leaf, gradient, owned]

    def accumulate(store, key, g, head=None):
        entry = store.get(key)
        if entry is None:
            store[key] = [g, False] if head is None else [head, g, False]
            return
        pos = 0 if head is None else 1
        if tensor_mode:
            entry[pos] = entry[pos] + g
        elif entry[pos + 1]:
            entry[pos] += g
        else:
            entry[pos] = entry[pos] + g
            entry[pos + 1] = True

    # seed the outputs
    for t, g in zip(outputs, out_grads):
        if target_ids is not None and id(t) in target_ids:
            i = target_ids[id(t)]
            captured[i] = g if captured[i] is None else captured[i] + g
        if t._node is None:
            accumulate(leaf_grads, id(t), g, head=t)
        else:
            accumulate(grads, id(t._node), g)

    prev_mode = state.enabled
    state.enabled = create_graph
    try:
        for node in order:
            entry = grads.pop(id(node), None)
            if entry is None:
                continue
            if needed is not None and id(node) not in needed:
                continue
            g = entry[0]
            if node.freed:
                raise RuntimeError(_FREED)
            if node.hooks:
                for hook in node.hooks:
                    r = hook(g if tensor_mode else Tensor._wrap(g))
                    if r is not None:
                        g = r if tensor_mode else r.data
            if node.retained is not None:
                kept = node.retained()
                if kept is not None:
                    _store_grad(kept, g, tensor_mode, copy=True)
            if node.versions:
                _check_versions(node)
            if tensor_mode:
                in_grads = _vjp_tensor(node, g)
            else:
                if ns is None:
                    ns = array_namespace(backend.get_array_module(g))
                in_grads = node.prim.vjp(ns, g, node.out, *node.saved, **node.params)
            if state.anomaly:
                _check_finite_grads(node, in_grads)
            for t, gi in zip(node.inputs, in_grads):
                if gi is None or not t.requires_grad:
                    continue
                child = t._node
                if needed is not None and id(t) not in target_ids and (
                    child is None or id(child) not in needed
                ):
                    continue
                gi = _fit(gi, t, tensor_mode)
                if target_ids is not None and id(t) in target_ids:
                    i = target_ids[id(t)]
                    captured[i] = gi if captured[i] is None else captured[i] + gi
                    if child is None:
                        continue
                if child is None:
                    accumulate(leaf_grads, id(t), gi, head=t)
                else:
                    accumulate(grads, id(child), gi)
            if not retain_graph:
                node.saved = node.out = None
                node.freed = True
        if targets is not None:
            return captured
        for leaf, g, owned in leaf_grads.values():
            hooks = leaf._hooks
            if hooks:
                for hook in hooks:
                    r = hook(g if tensor_mode else Tensor._wrap(g))
                    if r is not None:
                        g, owned = (r if tensor_mode else r.data), False
            _store_grad(leaf, g, tensor_mode, copy=not owned)
    finally:
        state.enabled = prev_mode
    return None


def _fit(g, t, tensor_mode):
    """Make a VJP's output match its input: shape (un-broadcast) and dtype."""
    if tensor_mode:
        if not isinstance(g, Tensor):
            g = Tensor._wrap(backend.get_array_module(t.data).asarray(g, dtype=t.data.dtype))
        g = _sum_to_tensor(g, t.data.shape)
        if g.data.dtype != t.data.dtype:
            g = g.to(backend.from_np(t.data.dtype))
        return g
    if type(g) is not backend.ndarray:
        g = backend.get_array_module(t.data).asarray(g)
    if g.shape != t.data.shape:
        g = _sum_to_array(g, t.data.shape)
    if g.dtype != t.data.dtype:
        g = g.astype(t.data.dtype)
    return g


def _store_grad(t, g, tensor_mode, copy):
    """Accumulate ``g`` into ``t.grad`` (torch semantics: add when a grad is present)."""
    if tensor_mode:
        t.grad = g if t.grad is None else t.grad + g
        return
    old = t.grad
    if old is None:
        if copy or not g.flags.writeable or g.base is not None:
            g = g.copy()  # never hand out a view of, or an alias to, another gradient
        t.grad = Tensor._wrap(g)
    elif old.requires_grad or not old.data.flags.writeable or old.data.shape != g.shape:
        t.grad = Tensor._wrap(old.data + g)
    else:
        old.data += g
        old._version[0] += 1


def _vjp_tensor(node, g):
    """Run a node's VJP on Tensors so that the backward pass is recorded (create_graph)."""
    if node.freed:
        raise RuntimeError(_FREED)
    inputs = node.inputs  # the recorded Tensors; the version check vouched for their values
    out = None
    if node.prim.save_out:
        out = node.prim(*inputs, **node.params)  # recomputed so that it is differentiable
    return node.prim.vjp(TENSOR_NS, g, out, *inputs, **node.params)


from ..tensor import Tensor  # noqa: E402
