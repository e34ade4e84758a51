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

``save`` says what the VJP reads: ``"inputs"`` (the input arrays), ``"out"`` (the result),
``"both"``, ``""`` (only shapes and dtypes, given as lightweight stand-ins), or a tuple of
input positions (those inputs' arrays, stand-ins for the rest).  Saved
arrays are stamped with their tensor's version so that an in-place change is detected.
"""

from __future__ import annotations

from .. import backend
from .._errors import OpError, describe, user_frame_location
from ..autograd.grad_mode import state

_ndarray = backend.ndarray
REGISTRY: dict[str, "Primitive"] = {}


class Primitive:
    __slots__ = ("name", "forward", "vjp", "save_inputs", "save_out", "doc")

    def __init__(self, name, forward, vjp, save):
        if isinstance(save, tuple):
            self.save_inputs = save  # positions of the inputs whose values the VJP reads
            self.save_out = False
        elif save in ("", "inputs", "out", "both"):
            self.save_inputs = save in ("inputs", "both")
            self.save_out = save in ("out", "both")
        else:
            raise ValueError(f"primitive {name}: save must be '', 'inputs', 'out', 'both' or a tuple")
        self.name = name
        self.forward = forward
        self.vjp = vjp

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


class Meta:
    """Shape and dtype of an input whose values the VJP does not need."""

    __slots__ = ("shape", "dtype", "ndim")

    def __init__(self, array):
        self.shape = array.shape
        self.dtype = array.dtype
        self.ndim = array.ndim


class Node:
    """One recorded operation (``tensor.grad_fn``): the primitive, its inputs, what the VJP
    needs saved, and version stamps of the saved tensors."""

    __slots__ = (
        "prim", "inputs", "params", "saved", "out", "versions",
        "shape", "np_dtype", "hooks", "retained", "where", "freed", "__weakref__",
    )

    def __init__(self, prim, inputs, params, saved, out, versions, shape, np_dtype):
        self.prim = prim
        self.inputs = inputs  # Tensors; the graph's edges
        self.params = params
        self.saved = saved  # arrays (or Meta stand-ins) of the inputs, or None
        self.out = out  # the forward result's array when the VJP needs it
        self.versions = versions  # ((version_box, stamp), ...) of everything saved
        self.shape = shape
        self.np_dtype = np_dtype
        self.hooks = None  # tensor hooks registered on the output
        self.retained = None  # weakref to the output when retain_grad() was called
        self.where = None  # user source line, recorded in anomaly mode only
        self.freed = False

    def name(self) -> str:
        return f"{self.prim.name.capitalize()}Backward"

    def __repr__(self) -> str:
        return f"<{self.name()}>"

    @property
    def next_functions(self):
        return tuple((t._node, 0) if t is not None else (None, 0) for t in self.inputs)


def _fail(prim, inputs, params, exc) -> OpError:
    operands = ", ".join(describe(t) for t in inputs)
    extra = "".join(f", {k}={v!r}" for k, v in params.items()) if params else ""
    msg = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return OpError(f"{prim.name}: {msg} (operands {operands}{extra}), at {user_frame_location()}")


def apply(prim: Primitive, *inputs, **params):
    """Run ``prim`` on Tensors: forward on their arrays, record a Node if any input needs
    a gradient and grad mode is on.  The only door into a primitive."""
    arrays = [t.data for t in inputs]
    xp = backend.get_array_module(arrays[0])
    try:
        out = prim.forward(xp, *arrays, **params)
    except OpError:
        raise
    except (ValueError, TypeError, IndexError) as exc:
        raise _fail(prim, inputs, params, exc) from None
    if type(out) is not _ndarray:
        out = xp.asarray(out)
    result = Tensor.__new__(Tensor)
    result.data = out
    result.grad = None
    result._version = [0]
    result._hooks = None
    result._name = None
    if state.enabled:
        for t in inputs:
            if t.requires_grad:
                break
        else:
            result.requires_grad = False
            result._node = None
            if state.anomaly:
                _check_finite(prim, out, None)
            return result
        if prim.vjp is None:
            raise OpError(f"{prim.name}: is not differentiable, at {user_frame_location()}")
        result.requires_grad = True
        versions = ()
        saved = None
        save = prim.save_inputs
        if save is True:
            saved = tuple(arrays)
            versions = tuple((t._version, t._version[0]) for t in inputs)
        elif save:
            saved = tuple(a if i in save else Meta(a) for i, a in enumerate(arrays))
            versions = tuple((inputs[i]._version, inputs[i]._version[0]) for i in save)
        else:
            saved = tuple(Meta(a) for a in arrays)
        if prim.save_out:
            versions = versions + ((result._version, 0),)
        node = Node(prim, inputs, params, saved, out if prim.save_out else None, versions,
                    out.shape, out.dtype)
        result._node = node
        if state.anomaly:
            node.where = user_frame_location()
            _check_finite(prim, out, node)
    else:
        result.requires_grad = False
        result._node = None
        if state.anomaly:
            _check_finite(prim, out, None)
    return result


def _check_finite(prim, out, node):
    if out.dtype.kind == "f" and not bool(backend.get_array_module(out).isfinite(out).all()):
        where = node.where if node is not None else user_frame_location()
        raise OpError(f"anomaly: {prim.name} produced NaN or Inf in its forward pass, at {where}")


from ..tensor import Tensor  # noqa: E402  (the registry and Tensor refer to each other)
