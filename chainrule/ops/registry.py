"""The op registry: primitives, graph nodes, and the one dispatch function ``apply``.

A primitive is one block: a forward on backend arrays and a VJP beside it.

    @primitive(save="out")
    class exp:
        def forward(xp, x):
            return xp.exp(x)

        def vjp(ns, g, out, x):
            return (g * out,)

``forward(xp, *arrays, **params)`` runs on NumPy/CuPy arrays.  ``vjp(ns, g, out, *inputs,
**params)`` returns one gradient (or ``None``) per input.  ``ns`` is an *array namespace*:
in a plain backward it holds the backend's functions (``ns.exp`` is ``numpy.exp``) and the
operands are arrays; under ``create_graph=True`` it holds chainrule's differentiable ops and
the operands are Tensors, so the same rule records its own graph and can be differentiated
again.  VJPs ignore broadcasting: the engine sums each gradient back to its input's shape.

A VJP may take a keyword ``needs`` (a tuple of bools, one per input, default all True): the
engine then passes which inputs want a gradient, and the VJP may return None for the rest
instead of computing them.  A VJP may take a keyword ``into`` (a tuple, one array or None
per input): in a plain backward, a leaf's preallocated gradient slot
(``autograd/grad_buffers.py``), which the VJP may fill and return instead of a new array.

``save`` says what the VJP reads: ``"inputs"`` (the input arrays), ``"out"`` (the result),
``"both"``, ``""`` (only shapes and dtypes, given as lightweight stand-ins), or a tuple of
input positions (those inputs' arrays, stand-ins for the rest).  Saved
arrays are stamped with their tensor's version so that an in-place change is detected.
"""

from __future__ import annotations

import inspect

from .. import backend
from .._errors import OpError, describe, op_error, user_frame_location
from ..autograd.grad_mode import state

_ndarray = backend.ndarray
_np = backend.np
REGISTRY: dict[str, "Primitive"] = {}


class Primitive:
    __slots__ = ("name", "forward", "vjp", "save_inputs", "save_out", "doc", "custom", "needs",
                 "into")

    def __init__(self, name, forward, vjp, save, custom=False):
        if isinstance(save, tuple):
            self.save_inputs = save  # positions of the inputs whose values the VJP reads
            self.save_out = False
        elif save in ("", "inputs", "out", "both"):
            self.save_inputs = save in ("inputs", "both")
            self.save_out = save in ("out", "both")
        else:
            raise ValueError(f"primitive {name}: save must be '', 'inputs', 'out', 'both' or a "
                             "tuple of input positions")
        self.name = name
        self.forward = forward
        self.vjp = vjp
        self.doc = None
        self.custom = custom  # a user's autograd.Function: its gradients may alias anything
        # a VJP with a ``needs`` keyword is told which inputs want a gradient, so that it
        # can skip the others' work (matmul: the gradient of a first layer's data)
        self.needs = vjp is not None and "needs" in inspect.signature(vjp).parameters
        # a VJP with an ``into`` keyword may write an input's gradient into the array given
        # for it (a leaf's preallocated slot, autograd/grad_buffers.py) and return that array
        self.into = vjp is not None and "into" in inspect.signature(vjp).parameters

    def __repr__(self) -> str:
        return f"<primitive {self.name}>"

    def __call__(self, *args, **params):
        return apply(self, *args, **params)


def primitive(save="", name: str | None = None):
    """Class decorator registering a primitive from its ``forward`` and ``vjp`` functions."""

    def register(cls):
        prim_name = name or cls.__name__
        if prim_name in REGISTRY:
            raise ValueError(f"primitive {prim_name!r} is registered twice")
        prim = Primitive(prim_name, cls.__dict__["forward"], cls.__dict__.get("vjp"), save)
        prim.doc = cls.__doc__
        REGISTRY[prim_name] = prim
        return prim

    return register


class CallState:
    """Base of per-call scratch objects passed as a parameter (the forward fills one for its
    VJP, as cross-entropy's saved softmax): a recorded step that is replayed
    (``chainrule.compile``) gets a fresh one, made by calling the class, on each replay."""

    __slots__ = ()


class Meta:
    """Shape and dtype of an input whose values the VJP does not need.  ``value``: with
    ``keep`` (a constant: an input that needs no gradient) the array itself when it is tiny
    (at most ``META_KEEP`` entries, as the constants of ``(w * x - 1.0) ** 2``), else None --
    so that ``chainrule.viz`` can replay a graph built without ``record()``.  Values that
    require grad are never kept: the graph holds no intermediate result a VJP does not
    read."""

    __slots__ = ("shape", "dtype", "ndim", "value")

    def __init__(self, array, keep=False):
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim
        self.value = array if keep and array.size <= META_KEEP else None


META_KEEP = 64


class Node:
    """One recorded operation (``tensor.grad_fn``): the primitive, where each input's
    gradient goes, what the VJP needs saved, and version stamps of the saved tensors.

    ``edges`` has one entry per input, captured when the op ran (so a later in-place op
    that gives an input a new node cannot rewire this one): the input's Node, the input
    itself when it is a leaf that requires grad, or None when it needs no gradient.
    ``versions`` holds ``(position, version_box, stamp)`` for each saved input (position
    -1: the output).  ``vout`` is the output tensor's version when this node became its
    ``grad_fn``: a tensor whose version moved on without a new node was modified behind
    the graph's back (through a view, a detached alias or under no_grad).
    """

    __slots__ = (
        "prim", "edges", "params", "saved", "out", "versions", "shape", "np_dtype", "vout",
        "hooks", "retained", "where", "freed", "__weakref__",
    )

    def __init__(self, prim, edges, params, saved, out, versions, shape, np_dtype, vout=0):
        self.prim = prim
        self.edges = edges
        self.params = params
        self.saved = saved  # arrays (or Meta stand-ins), one per input
        self.out = out  # the forward result's array when the VJP needs it
        self.versions = versions
        self.shape = shape  # the output's shape and NumPy dtype (for un-broadcasting)
        self.np_dtype = np_dtype
        self.vout = vout
        self.hooks = None  # tensor hooks registered on the output
        self.retained = None  # weakref to the output when retain_grad() was called
        self.where = None  # user source line, recorded in anomaly mode only
        self.freed = False

    def name(self) -> str:
        # multiply -> MultiplyBackward, log_softmax -> LogSoftmaxBackward, MyFn -> MyFnBackward
        return "".join(p[:1].upper() + p[1:] for p in self.prim.name.split("_")) + "Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self):
        """torch's view of the edges: ``(node, 0)``, ``(AccumulateGrad, 0)`` for a leaf, or
        ``(None, 0)``."""
        return tuple(
            (e if e is None or type(e) is Node else AccumulateGrad(e), 0) for e in self.edges
        )


class AccumulateGrad:
    """Stand-in for a leaf in ``next_functions`` (``.variable`` is the leaf)."""

    __slots__ = ("variable",)

    def __init__(self, variable):
        self.variable = variable

    def __repr__(self) -> str:
        return "<AccumulateGrad>"

    def __eq__(self, other):
        return isinstance(other, AccumulateGrad) and other.variable is self.variable

    def __hash__(self):
        return id(self.variable)


def stale_error(op_name, position):
    """The error for an input whose values changed after its node recorded them."""
    return op_error(
        op_name,
        f"input {position} was modified in place after it was computed, without the graph "
        "seeing it (through a view of it or of its base, a detach()ed alias, or under "
        "no_grad), so the gradient recorded for it would be wrong; clone() it before "
        "modifying, or recompute it",
        RuntimeError,
    )


def edges_of(op_name, inputs):
    """The ``edges`` of a node with these inputs (see Node), rejecting stale inputs."""
    edges = []
    for i, t in enumerate(inputs):
        if not t._requires_grad:
            edges.append(None)
            continue
        node = t._node
        if node is None:
            edges.append(t)
        elif node.vout != t._version[0]:
            raise stale_error(op_name, i)
        else:
            edges.append(node)
    return tuple(edges)


_GPU_ARRAYS = backend.cuda_is_available()  # CuPy arrays can exist (CuPy and a GPU)


def _check_devices(prim, inputs, params, arrays):
    """All operands on one device (torch's rule), before the forward runs: a CPU array
    reaching a CuPy function (or the reverse) fails obscurely, or is silently copied."""
    t0 = type(arrays[0])
    for a in arrays:
        if type(a) is not t0:
            d0, d = backend.device_of(arrays[0]), backend.device_of(a)
            if d != d0:
                raise _fail(prim, inputs, params, RuntimeError(
                    f"expected all tensors to be on the same device, but found at least two "
                    f"devices, {d0} and {d}"))


def _fail(prim, inputs, params, exc) -> OpError:
    operands = ", ".join(describe(t) for t in inputs)
    extra = "".join(f", {k}={v!r}" for k, v in params.items()) if params else ""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return OpError(f"{prim.name}: {msg} (operands {operands}{extra}), at {user_frame_location()}")


def apply(prim: Primitive, *inputs, **params):
    """Run ``prim`` on Tensors: forward on their arrays, record a Node if any input needs
    a gradient and grad mode is on.  The only door into a primitive."""
    arrays = [t.data for t in inputs]
    a0 = arrays[0]
    xp = _np if type(a0) is _ndarray else backend.get_array_module(a0)
    if _GPU_ARRAYS and len(arrays) > 1:  # (only where CuPy sees a GPU)
        _check_devices(prim, inputs, params, arrays)
    try:
        out = prim.forward(xp, *arrays, **params)
    except OpError:
        raise
    except (ValueError, TypeError, IndexError) as exc:
        raise _fail(prim, inputs, params, exc) from None
    if type(out) is not _ndarray and not (_GPU_ARRAYS and backend.is_array(out)):
        out = xp.asarray(out)  # a NumPy scalar from a 0-d result (not to_device's CuPy array)
    result = Tensor.__new__(Tensor)
    result.data = out
    result._grad = None
    result._hooks = None
    result._name = None
    base = out.base
    if out is a0 or (base is not None and (base is a0 or base is a0.base)):
        # a view (reshape, transpose, slice, expand) shares its base's version counter, as
        # in torch, so that an in-place change through either one is seen by both
        result._version = inputs[0]._version
    else:
        result._version = [0]
    record = False
    has_const = False  # an input that needs no gradient (its Meta may keep a tiny value)
    if state.enabled:
        edges = []  # see Node; built while looking for an input that requires grad
        for t in inputs:
            if t._requires_grad:
                record = True
                node = t._node
                if node is None:
                    edges.append(t)
                elif node.vout != t._version[0]:
                    raise stale_error(prim.name, next(i for i, u in enumerate(inputs) if u is t))
                else:
                    edges.append(node)
            else:
                edges.append(None)
                has_const = True
    if not record:
        result._requires_grad = False
        result._node = None
        if state.anomaly:
            _check_finite(prim, out, None)
        if state.recorder is not None:
            state.recorder.op(prim, inputs, params, result)
        return result
    if prim.vjp is None:
        raise OpError(f"{prim.name}: is not differentiable, at {user_frame_location()}")
    save = prim.save_inputs
    if save is True:
        saved = tuple(arrays)
        versions = [(i, t._version, t._version[0]) for i, t in enumerate(inputs)]
    elif save:
        saved = []
        versions = []
        for i, a in enumerate(arrays):
            if i in save:
                saved.append(a)
                t = inputs[i]
                versions.append((i, t._version, t._version[0]))
            else:
                saved.append(Meta(a, edges[i] is None))
        saved = tuple(saved)
    elif has_const:
        saved = tuple([Meta(a, e is None) for a, e in zip(arrays, edges)])
        versions = []
    else:
        saved = tuple(map(Meta, arrays))
        versions = []
    vout = result._version[0]
    if prim.save_out:
        versions.append((-1, result._version, vout))
    versions = tuple(versions)
    node = Node(prim, tuple(edges), params, saved, out if prim.save_out else None, versions,
                out.shape, out.dtype, vout)
    result._requires_grad = True
    result._node = node
    if state.anomaly:
        node.where = user_frame_location()
        _check_finite(prim, out, node)
    if state.recorder is not None:
        state.recorder.op(prim, inputs, params, result)
    return result


def _check_finite(prim, out, node):
    if out.dtype.kind == "f" and not bool(backend.get_array_module(out).isfinite(out).all()):
        where = node.where if node is not None else user_frame_location()
        raise OpError(f"anomaly: {prim.name} produced NaN or Inf in its forward pass, at {where}")


from ..tensor import Tensor  # noqa: E402  (the registry and Tensor refer to each other)
