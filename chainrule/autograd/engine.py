"""The backward pass: order the recorded graph once, walk it from the outputs, apply each
node's VJP (the chain rule), sum gradients back to each input's shape (the one place that
undoes broadcasting), and accumulate into leaves.

Ordering is an iterative depth-first post-order (no recursion, so a 50,000-node chain
works); its reverse visits every node before the nodes it consumed.  Gradients travel
along each node's ``edges`` (captured when the op ran), never through the input Tensors,
so an in-place op recorded later cannot rewire an earlier node.

Gradient arrays are shared freely while they flow (``add`` hands the same array to both of
its inputs); an array is *owned* only when the engine knows nobody else holds it, and only
owned arrays are added to in place or adopted as a leaf's ``.grad`` without a copy.
"""

from __future__ import annotations

from .. import backend
from .._errors import OpError
from ..ops.namespace import TENSOR_NS, array_namespace
from ..ops.registry import Meta, Node
from .grad_buffers import SLOTS, free_slot
from .grad_mode import state

_ndarray = backend.ndarray
_add_reduce = backend.np.add.reduce
_NUMPY_NS = array_namespace(backend.np)

_FREED = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed "
    "when you call .backward() or autograd.grad(). Specify retain_graph=True if you need to "
    "backward through the graph a second time or if you need to access saved tensors after "
    "calling backward."
)


def topological_order(roots):
    """Nodes reachable from ``roots`` (Nodes), every node before the ones it consumed."""
    order, seen = [], set()
    for root in roots:
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, iter(root.edges))]
        while stack:
            node, edges = stack[-1]
            for e in edges:
                if type(e) is Node and id(e) not in seen:
                    seen.add(id(e))
                    stack.append((e, iter(e.edges)))
                    break
            else:
                stack.pop()
                order.append(node)
    order.reverse()
    return order


def _expanding(order, keys):
    """Ids of the nodes whose VJP autograd.grad must run: those from which a target (a key:
    the id of a leaf or of a non-leaf's node) is reached.  The rest of the graph is
    skipped."""
    expand = set()
    for node in reversed(order):  # producers before their consumers
        for e in node.edges:
            if e is not None and (id(e) in keys or id(e) in expand):
                expand.add(id(node))
                break
    return expand


# --------------------------------------------------------------- array / Tensor kits


def _fit_array(g, shape, dtype, out=None):
    """``g`` summed over broadcast axes to ``shape`` (the one un-broadcast) and cast to
    ``dtype``; also whether that made a new, writable array of its own.  ``out``: a free
    gradient slot (grad_buffers) the common bias sum may be written into."""
    made = False
    if type(g) is not _ndarray and not backend.is_array(g):
        g = backend.np.asarray(g)  # a NumPy scalar (0-d arithmetic) or a Python number
        made = True
    if g.shape != shape:
        lead = g.ndim - len(shape)
        if lead == 1 and g.shape[1:] == shape and type(g) is _ndarray:
            # the common case, a bias broadcast over a batch: one reduction, no axis tuple
            if out is not None and g.dtype == dtype:
                return _add_reduce(g, axis=0, out=out), True
            g = _add_reduce(g, axis=0)
            made = True
        elif lead >= 0:
            axes = tuple(range(lead)) + tuple(
                i + lead for i, s in enumerate(shape) if s == 1 and g.shape[i + lead] != 1
            )
            if axes:
                g = g.sum(axis=axes, keepdims=True)
                made = True
            if lead:
                g = g.reshape(g.shape[lead:])
        if g.shape != shape:  # a gradient smaller than its input (constant along an axis)
            g = backend.get_array_module(g).broadcast_to(g, shape)
            made = False  # a read-only view
    if g.dtype != dtype:
        g = g.astype(dtype)
        made = True
    return g, made


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


def _fit_tensor(g, shape, dtype):
    if not isinstance(g, Tensor):
        g = Tensor._wrap(backend.get_array_module(g).asarray(g, dtype=dtype))
    g = _sum_to_tensor(g, shape)
    if g.data.dtype != dtype:
        g = g.to(backend.from_np(dtype))
    return g


def _private(gi, g, node, in_grads):
    """True when a VJP made ``gi`` for this input alone: not the incoming gradient, not a
    view, not a saved array, not returned for two inputs, not from user code."""
    if gi is g or node.prim.custom:
        return False
    if type(gi) is not _ndarray and not backend.is_array(gi):
        return False
    return _sole_owner(gi, node.out, node.saved, in_grads)


def _sole_owner(gi, out, saved, in_grads) -> bool:
    """``gi`` is no view, not the forward's output, not a saved array, and returned for one
    input only (the rule ``_private`` and a compiled replay's ``_own`` share)."""
    if gi.base is not None or gi is out:
        return False
    for s in saved:
        if s is gi:
            return False
    n = 0
    for x in in_grads:
        if x is gi:
            n += 1
    return n == 1


def _check_versions(node):
    for pos, box, stamp in node.versions:
        if box[0] != stamp:
            if pos is None:  # a custom Function's saved tensor that is neither input nor output
                what = "a tensor saved by its forward"
            else:
                what = "its output" if pos < 0 else f"its input {pos}"
                held = node.out if pos < 0 else node.saved[pos]
                if held is not None:
                    what += f" (shape {tuple(held.shape)})"
            where = (f"; the op was called at {node.where}" if node.where else
                     "; enable anomaly detection (chainrule.autograd.set_detect_anomaly(True)) "
                     "to see where the op was called")
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an "
                f"inplace operation: {what} of {node.prim.name} (grad_fn={node.name()}) is at "
                f"version {box[0]}; expected version {stamp}{where}. Hint: avoid modifying in "
                "place a tensor that a gradient needs (use the out-of-place op, or clone() "
                "first)."
            )


def _check_finite_grads(node, grads):
    for i, g in enumerate(grads):
        if g is None:
            continue
        data = g.data if isinstance(g, Tensor) else g
        xp = backend.get_array_module(data)
        if data.dtype.kind == "f" and not bool(xp.isfinite(data).all()):
            where = f", at {node.where}" if node.where else ""
            raise OpError(
                f"anomaly: the backward of {node.prim.name} ({node.name()}) returned NaN or Inf "
                f"in the gradient of its input {i}{where}"
            )


def _vjp_tensor(node, g, params):
    """Run a node's VJP on Tensors so that the backward pass is itself recorded
    (create_graph).  Saved arrays become Tensors joined to the graph where their values
    came from (the edge's node, the leaf itself, or this node for its own output), as
    torch unpacks saved variables."""
    boxes = {pos: box for pos, box, _ in node.versions}
    args = []
    for i, (s, e) in enumerate(zip(node.saved, node.edges)):
        if type(s) is Meta:
            args.append(s)
        elif e is None or type(e) is Node:
            t = Tensor._wrap(s, requires_grad=e is not None)
            t._node = e
            t._version = boxes.get(i, t._version)
            args.append(t)
        else:
            args.append(e)  # a leaf: its own Tensor, so gradients reach its .grad
    out = None
    if node.prim.save_out:
        out = Tensor._wrap(node.out, requires_grad=True)
        out._node = node
        out._version = boxes[-1]
    return node.prim.vjp(TENSOR_NS, g, out, *args, **params)


# ------------------------------------------------------------------------ the walk


def run_backward(outputs, out_grads, retain_graph, create_graph, targets=None):
    """Backpropagate ``out_grads`` (arrays, or Tensors when ``create_graph``) from
    ``outputs`` (Tensors that require grad).

    Without ``targets``: accumulate into leaves' ``.grad`` and return None.  With
    ``targets`` (Tensors, leaves or not): leave leaves' ``.grad`` alone and return their
    gradients (None where no gradient reached), each a private array (or a Tensor).
    """
    roots = [t._node for t in outputs if t._node is not None]
    order = topological_order(roots)
    keys = expand = captured = None
    if targets is not None:
        keys = {}  # id(leaf or node) -> positions in targets
        for i, t in enumerate(targets):
            keys.setdefault(id(t if t._node is None else t._node), []).append(i)
        expand = _expanding(order, keys)
        captured = [None] * len(targets)
    tensor_mode = create_graph
    store = {}  # id(node or leaf) -> [node or leaf, gradient so far, owned]

    def push(dest, g, owned):
        entry = store.get(id(dest))
        if entry is None:
            store[id(dest)] = [dest, g, owned]
        elif tensor_mode:
            entry[1] = entry[1] + g
        elif entry[2]:
            entry[1] += g
        else:
            total = entry[1] + g
            entry[1] = total if type(total) is _ndarray else backend.get_array_module(
                total).asarray(total)
            entry[2] = True

    def capture(positions, g, owned):
        for n, i in enumerate(positions):
            captured[i] = g if tensor_mode or (owned and n == 0) else g.copy()

    for t, g in zip(outputs, out_grads):
        dest = t if t._node is None else t._node
        if keys is None or id(dest) in keys or id(dest) in expand:
            push(dest, g, False)

    prev_mode = state.enabled
    state.enabled = create_graph
    pop = store.pop
    try:
        for node in order:
            entry = pop(id(node), None)
            if entry is None:
                continue
            g = entry[1]
            if node.hooks:
                for hook in tuple(node.hooks):
                    r = hook(g if tensor_mode else Tensor._wrap(g))
                    if r is not None:
                        g = _hook_result(hook, r, g, tensor_mode)
            if node.retained is not None:
                kept = node.retained()
                if kept is not None:
                    _store_grad(kept, g, tensor_mode, owned=False)
            if keys is not None:
                positions = keys.get(id(node))
                if positions is not None:
                    capture(positions, g, owned=False)
                if id(node) not in expand:
                    continue
            if node.freed:
                raise RuntimeError(_FREED)
            versions = node.versions
            for _, box, stamp in versions:
                if box[0] != stamp:
                    _check_versions(node)  # raises, naming the modified tensor
            prim = node.prim
            params = node.params
            edges = node.edges
            if prim.needs:
                params = {**params, "needs": tuple(
                    e is not None and (keys is None or id(e) in keys or id(e) in expand)
                    for e in edges)}
            # leaves' preallocated gradient slots (grad_buffers): offered in a plain backward
            # to the first gradient a leaf without .grad receives
            slots = None
            if SLOTS and keys is None and not tensor_mode:
                slots = tuple([None if e is None or type(e) is Node or id(e) in store
                               else free_slot(e) for e in edges])
                if prim.into:
                    params = {**params, "into": slots}
            if tensor_mode:
                in_grads = _vjp_tensor(node, g, params)
            else:
                ns = _NUMPY_NS if type(g) is _ndarray else array_namespace(
                    backend.get_array_module(g))
                in_grads = prim.vjp(ns, g, node.out, *node.saved, **params)
            if state.anomaly:
                _check_finite_grads(node, in_grads)
            for i, (e, gi) in enumerate(zip(edges, in_grads)):
                if gi is None or e is None:
                    continue
                if keys is not None and id(e) not in keys and id(e) not in expand:
                    continue
                if type(e) is Node:
                    shape, dtype = e.shape, e.np_dtype
                else:
                    shape, dtype = e.data.shape, e.data.dtype
                if tensor_mode:
                    push(e, _fit_tensor(gi, shape, dtype), False)
                    continue
                slot = None
                if slots is not None:
                    slot = slots[i]
                    if slot is not None and gi is slot:
                        push(e, gi, True)  # written into the leaf's own slot by the VJP
                        continue
                owned = _private(gi, g, node, in_grads)
                if type(gi) is not _ndarray or gi.shape != shape or gi.dtype != dtype:
                    gi, made = _fit_array(gi, shape, dtype, slot)
                    owned = owned or made
                push(e, gi, owned)
            if not retain_graph and versions:
                # free what was saved (a node that saved nothing can be walked again, as
                # in torch); params go too: a custom Function keeps its ctx there
                node.saved = node.out = node.params = None
                node.versions = ()  # (and the version counters it held: less for the GC)
                node.freed = True
        for leaf, g, owned in store.values():  # what is left are leaves
            if leaf._hooks:
                owned = False  # a hook may keep the array it was shown
                for hook in tuple(leaf._hooks):
                    r = hook(g if tensor_mode else Tensor._wrap(g))
                    if r is not None:
                        g = _hook_result(hook, r, g, tensor_mode)
            if keys is not None:
                capture(keys[id(leaf)], g, owned)
            else:
                _store_grad(leaf, g, tensor_mode, owned)
    finally:
        state.enabled = prev_mode
    return captured


def _hook_result(hook, r, g, tensor_mode):
    """The gradient a tensor hook returned in place of ``g``: a Tensor of ``g``'s shape
    and dtype, as torch requires (checked only when a hook returns something)."""
    name = getattr(hook, "__name__", type(hook).__name__)
    if not isinstance(r, Tensor):
        raise TypeError(f"expected Tensor, but hook {name!r} returned {type(r).__name__!r}")
    old = g.data if tensor_mode else g
    if tuple(r.data.shape) != tuple(old.shape):
        raise RuntimeError(f"hook {name!r} has changed the size of value (was "
                           f"{tuple(old.shape)}, got {tuple(r.data.shape)})")
    if r.data.dtype != old.dtype or backend.device_of(r.data) != backend.device_of(old):
        raise RuntimeError(f"hook {name!r} has changed the type of value (was "
                           f"{backend.from_np(old.dtype)} on {backend.device_of(old)}, got "
                           f"{backend.from_np(r.data.dtype)} on {backend.device_of(r.data)})")
    return r if tensor_mode else r.data


def _store_grad(t, g, tensor_mode, owned):
    """Accumulate ``g`` into ``t.grad`` (torch semantics: add when a grad is present).
    ``owned``: ``g`` is private and may become ``t.grad`` without a copy."""
    if tensor_mode:
        t.grad = g if t.grad is None else t.grad + g
        return
    old = t.grad
    if old is None:
        if not owned or not getattr(g.flags, "writeable", True):  # (CuPy has no such flag)
            g = backend.get_array_module(g).array(g, copy=True)  # never alias a gradient
        t.grad = Tensor._wrap(g)
    elif (old.requires_grad or not getattr(old.data.flags, "writeable", True)
          or old.data.shape != g.shape):
        total = old.data + g
        t.grad = Tensor._wrap(backend.get_array_module(total).asarray(total))
    else:
        old.data += g
        old._version[0] += 1


from ..tensor import Tensor  # noqa: E402
