"""``backward`` and ``grad``: the user-facing entry points of the engine."""

from __future__ import annotations

from .. import backend
from .._errors import op_error
from ..ops.registry import stale_error
from .engine import _store_grad, run_backward
from .grad_mode import state


def _seq(x):
    """None, one Tensor, or any iterable of them, as a list."""
    if x is None:
        return None
    if isinstance(x, Tensor) or backend.is_array(x) or not hasattr(x, "__iter__"):
        return [x]
    return list(x)


def _check_outputs(outputs, op):
    for i, t in enumerate(outputs):
        if not isinstance(t, Tensor):
            raise op_error(op, f"element {i} of the outputs is a {type(t).__name__}, not a "
                           "Tensor", TypeError)
        if not t.requires_grad:
            raise op_error(
                op, f"element {i} of tensors does not require grad and does not have a "
                "grad_fn (was it computed under no_grad, or from tensors without "
                "requires_grad=True?)", RuntimeError)
        if t._node is not None and t._node.vout != t._version[0]:
            raise stale_error(op, i)


def _initial_grads(outputs, grad_outputs, create_graph, op):
    """One seed gradient per output: arrays (Tensors under ``create_graph``)."""
    if grad_outputs is not None and len(grad_outputs) != len(outputs):
        raise op_error(op, f"got {len(grad_outputs)} gradients for {len(outputs)} outputs",
                       RuntimeError)
    grads = []
    for i, t in enumerate(outputs):
        g = grad_outputs[i] if grad_outputs is not None else None
        if g is None:
            if t.data.size != 1:
                raise op_error(
                    op, f"grad can be implicitly created only for scalar outputs; output {i} "
                    f"has shape {tuple(t.shape)}: pass gradient= (backward) or grad_outputs= "
                    "(autograd.grad) of that shape", RuntimeError, operands=(t,))
            g = backend.get_array_module(t.data).ones_like(t.data)
            grads.append(Tensor._wrap(g) if create_graph else g)
            continue
        if not isinstance(g, Tensor):
            g = Tensor._wrap(backend.get_array_module(t.data).asarray(g, dtype=t.data.dtype))
        if g.shape != t.shape:
            raise op_error(
                op, f"mismatch in shape: grad_output[{i}] has a shape of {tuple(g.shape)} and "
                f"output[{i}] has a shape of {tuple(t.shape)}", RuntimeError, operands=(g, t))
        if g.data.dtype != t.data.dtype:
            g = g.to(t.dtype)
        grads.append(g if create_graph else g.data)  # the engine never writes into a seed
    return grads


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """Accumulate the gradients of ``tensors`` into the ``.grad`` of the leaves they depend
    on (``inputs``: only into these tensors, leaves or not).

    ``grad_tensors`` is required for outputs with more than one element.  Saved values
    are freed afterwards unless ``retain_graph`` (default: ``create_graph``); with
    ``create_graph=True`` the gradients are themselves differentiable.
    """
    outputs = _seq(tensors)
    _check_outputs(outputs, "backward")
    if retain_graph is None:
        retain_graph = create_graph
    recorder = state.recorder
    if recorder is not None:  # chainrule.compile is recording: plan the replay, then run
        recorder.backward(outputs, grad_tensors, retain_graph, create_graph, inputs)
        state.recorder = None  # what runs inside the walk (hooks) is not part of the step
        try:
            return backward(tensors, grad_tensors, retain_graph, create_graph, inputs)
        finally:
            state.recorder = recorder
    initial = _initial_grads(outputs, _seq(grad_tensors), create_graph, "backward")
    if inputs is None:
        run_backward(outputs, initial, retain_graph, create_graph)
        return
    targets = _seq(inputs)
    if not targets:
        raise op_error("backward", "the 'inputs' argument cannot be empty", RuntimeError)
    for i, t in enumerate(targets):
        if not isinstance(t, Tensor) or not t.requires_grad:
            raise op_error("backward", f"inputs[{i}] is not a Tensor that requires grad",
                           RuntimeError)
    got = run_backward(outputs, initial, retain_graph, create_graph, targets=targets)
    for t, g in zip(targets, got):
        if g is not None:
            _store_grad(t, g, create_graph, owned=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False,
         allow_unused=None, materialize_grads=False):
    """Gradients of ``outputs`` with respect to ``inputs`` (a tuple, one per input);
    ``.grad`` attributes are left alone.

    ``grad_outputs`` holds the vector of the vector-Jacobian product (required for outputs
    with more than one element).  With ``create_graph=True`` the results are themselves
    differentiable (higher order).  An input the outputs do not depend on is an error
    unless ``allow_unused=True`` (its gradient is then None) or ``materialize_grads=True``
    (zeros).
    """
    outs = _seq(outputs)
    ins = _seq(inputs)
    if state.recorder is not None:
        state.recorder.fail("the step calls autograd.grad")
    for i, t in enumerate(ins):
        if not isinstance(t, Tensor):
            raise op_error("grad", f"inputs[{i}] is a {type(t).__name__}, not a Tensor",
                           TypeError)
        if not t.requires_grad:
            raise op_error("grad", f"one of the differentiated Tensors (inputs[{i}]) does not "
                           "require grad", RuntimeError, operands=(t,))
    _check_outputs(outs, "grad")
    if allow_unused is None:
        allow_unused = materialize_grads
    if not allow_unused and materialize_grads:
        raise op_error("grad", "allow_unused=False cannot be combined with "
                       "materialize_grads=True", ValueError)
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
                raise op_error(
                    "grad", f"one of the differentiated Tensors (inputs[{i}]) appears to not "
                    "have been used in the graph. Set allow_unused=True if this is the desired "
                    "behavior", RuntimeError, operands=(t,))
            else:
                result.append(None)
                continue
        result.append(g if isinstance(g, Tensor) else Tensor._wrap(g))
    return tuple(result)


from ..tensor import Tensor  # noqa: E402
