"""Finite-difference checks of gradients (first and second order), in float64."""

from __future__ import annotations

from .. import backend
from .api import grad as autograd_grad

_np = backend.np


class GradcheckError(RuntimeError):
    """Analytical and numerical gradients disagree."""


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _outputs(fn, inputs):
    return [o for o in _as_tuple(fn(*inputs)) if isinstance(o, Tensor)]


def _numerical_jacobian(fn, inputs, i, eps):
    """d outputs / d inputs[i] by central differences: rows = input elements.  The input's
    array is perturbed in place, element by element, and restored."""
    x = inputs[i].data
    if not getattr(x.flags, "writeable", True):  # (CuPy arrays have no such flag)
        raise ValueError(f"gradcheck: input {i} is read-only (an expanded view?); pass a copy")
    rows = []
    for index in _np.ndindex(*x.shape):
        orig = x[index].item()
        try:
            x[index] = orig + eps
            plus = [backend.to_numpy(o.data).astype(_np.float64).ravel()
                    for o in _outputs(fn, inputs)]
            x[index] = orig - eps
            minus = [backend.to_numpy(o.data).astype(_np.float64).ravel()
                     for o in _outputs(fn, inputs)]
        finally:  # the caller's input is left as it was, even when fn raises
            x[index] = orig
        rows.append(_np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)])
                    if plus else _np.zeros(0))
    return _np.array(rows).reshape(x.size, -1)  # (numel(x), total outputs)


def _analytical_jacobian(fn, inputs, diff):
    """Rows = output elements (one VJP per element), columns = each input's elements."""
    outs = _outputs(fn, inputs)
    total = sum(o.data.size for o in outs)
    jac = {i: _np.zeros((inputs[i].data.size, total)) for i in diff}
    row = 0
    for o in outs:
        if not o.requires_grad:
            row += o.data.size
            continue
        xp = backend.get_array_module(o.data)
        for k in range(o.data.size):
            seed = xp.zeros(o.data.size, dtype=o.data.dtype)
            seed[k] = 1
            gs = autograd_grad(o, [inputs[i] for i in diff],
                               Tensor._wrap(seed.reshape(o.data.shape)), retain_graph=True,
                               allow_unused=True)
            for i, g in zip(diff, gs):
                if g is not None:
                    jac[i][:, row] = backend.to_numpy(g.data).astype(_np.float64).ravel()
            row += 1
    return jac


def gradcheck(fn, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0):
    """Compare ``fn``'s gradients with central finite differences.

    ``inputs`` is a Tensor or tuple; those with ``requires_grad=True`` are checked and
    should be float64.  Returns True, or raises GradcheckError naming the input and
    element that disagree (returns False when ``raise_exception=False``).
    """
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    imprecise = [i for i in diff if inputs[i].data.dtype != _np.float64]
    for i in imprecise:
        import warnings

        warnings.warn(f"gradcheck: input {i} is {inputs[i].dtype}, not float64; finite "
                      "differences will be inaccurate", stacklevel=2)
    analytical = _analytical_jacobian(fn, inputs, diff)
    for i in diff:
        numerical = _numerical_jacobian(fn, inputs, i, eps)
        a = analytical[i]
        bad = ~_np.isclose(a, numerical, rtol=rtol, atol=atol, equal_nan=False)
        if bad.any():
            el, out_el = (int(v) for v in _np.argwhere(bad)[0])
            index = _np.unravel_index(el, inputs[i].shape) if inputs[i].ndim else ()
            msg = (f"gradcheck: Jacobian mismatch for input {i} (shape {tuple(inputs[i].shape)}) "
                   f"at element {tuple(int(v) for v in index)}, output element {out_el}: "
                   f"analytical {float(a[el, out_el])!r} vs numerical "
                   f"{float(numerical[el, out_el])!r} ({int(bad.sum())} of {bad.size} entries "
                   "differ)")
            if imprecise:
                msg += (f"; note: input(s) {imprecise} are "
                        f"{', '.join(str(inputs[j].dtype) for j in imprecise)}, not float64, "
                        f"and finite differences with eps={eps} in that precision are "
                        "imprecise: the mismatch may be rounding, not a wrong gradient; "
                        "check with float64 inputs")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  raise_exception=True):
    """Check second derivatives: gradcheck of the function (inputs, v) -> VJP(fn)(v) built
    with ``create_graph=True``, with random (seeded) or given output cotangents ``v``."""
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    outs = _outputs(fn, inputs)
    if grad_outputs is None:
        rng = _np.random.default_rng(0)
        grad_outputs = tuple(
            Tensor._wrap(backend.to_device(rng.standard_normal(o.data.shape).astype(
                o.data.dtype), o.device), requires_grad=True) for o in outs if o.requires_grad)
    grad_outputs = _as_tuple(grad_outputs)
    n = len(inputs)

    def first_order(*args):
        xs, vs = args[:n], args[n:]
        os = [o for o in _outputs(fn, xs) if o.requires_grad]
        gs = autograd_grad(os, [xs[i] for i in diff], list(vs), create_graph=True,
                           allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first_order, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)


from ..tensor import Tensor  # noqa: E402
