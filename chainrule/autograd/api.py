"""``backward`` and ``grad``: the user-facing entry points of the engine."""

from __future__ import annotations

from .. import backend
from .engine import run_backward


def _seq(x):
    if x is None:
        return None
    return list(x) if isinstance(x, (list, tuple)) else [x]


def _initial_grads(outputs, grad_outputs, create_graph, op):
    grads = []
    for i, t in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if t.data.size != 1:
                raise RuntimeError(
                    f"{op}: grad can be implicitly created only for scalar outputs; output {i} "
                    f"has shape {tuple(t.shape)}: pass gradient= (backward) or grad_outputs= "
                    "(autograd.grad) of that shape")
            xp = backend.get_array_module(t.data)
            g = xp.ones_like(t.data)
            grads.append(Tensor._wrap(g) if create_graph else g)
            continue
        if not isinstance(g, Tensor):
            g = Tensor._wrap(backend.get_array_module(t.data).asarray(g, dtype=t.data.dtype))
        if g.shape != t.shape:
            raise RuntimeError(
                f"{op}: mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                f"output[{i}] has a shape of {tuple(t.shape)}")
        if g.data.dtype != t.data.dtype:
            g = g.to(t.dtype)
        grads.append(g if create_graph else g.data.copy())
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves they depend
    on (``inputs`` restricts which leaves)."""
    outputs = _seq(tensors)
    grads = _seq(grad_tensors)
    for i, t in enumerate(outputs):
        if not t.requires_grad:
            raise RuntimeError(
                f"element {i} of tensors does not require grad and does not have a grad_fn "
                "(was it computed under no_grad, or from tensors without requires_grad=True?)")
    if retain_graph is None:
        retain_graph = create_graph
    initial = _initial_grads(outputs, grads, create_graph, "backward")
    if inputs is not None:
        targets = _seq(inputs)
        got = run_backward(outputs, initial, retain_graph, create_graph, targets=targets)
        from .engine import _store_grad

        for t, g in zip(targets, got):
            if g is not None:
                _store_grad(t, g, create_graph, copy=True)
        return
    run_backward(outputs, initial, retain_graph, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs``, returned (``.grad`` untouched).

    With ``create_graph=True`` the result is itself differentiable (higher order).
    """
    outs = _seq(outputs)
    ins = _seq(inputs)
    single = not isinstance(inputs, (list, tuple))
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise TypeError(f"grad: inputs[{i}] is a {type(t).__name__}, not a Tensor")
        if not t.requires_grad:
            raise RuntimeError(f"grad: inputs[{i}] does not require grad")
    for i, t in enumerate(outs):
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: outputs[{i}] does not require grad and does not have a grad_fn")
    if retain_graph is None:
        retain_graph = create_graph
    initial = _initial_grads(outs, _seq(grad_outputs), create_graph, "grad")
    got = run_backward(outs, initial, retain_graph, create_graph, targets=ins)
    result = []
    for i, (t, g) in enumerate(zip(ins, got)):
        if g is None:
            if materialize_grads:
                g = backend.get_array_module(t.data).zeros_like(t.data)
            elif not allow_unused:
                raise RuntimeError(
                    f"grad: one of the differentiated Tensors (inputs[{i}]) appears to not have "
                    "been used in the graph. Set allow_unused=True if this is the desired "
                    "behavior.")
            else:
                result.append(None)
                continue
        result.append(g if isinstance(g, Tensor) else Tensor._wrap(g))
    return tuple(result) if not single or len(result) != 1 else (result[0],)


from ..tensor import Tensor  # noqa: E402
