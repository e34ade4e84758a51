"""Function transforms with torch.func's names: ``grad``, ``value_and_grad``, ``vjp``,
``jvp``, ``jacrev``, ``hessian``.  Each takes a function and returns a function; they
compose (``grad(grad(f))``).

They are built on the reverse-mode engine: every transform runs ``f`` on fresh inputs that
require grad and differentiates with ``create_graph=True``, so that an enclosing transform
can differentiate the result again.  ``jvp`` is reverse-of-reverse (the VJP of a VJP is
linear in its cotangent, and differentiating it again gives the forward product).
"""

from __future__ import annotations

import functools

from .. import backend
from ..autograd.api import grad as _autograd_grad
from ..autograd.grad_mode import enable_grad, state


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _prepare(x):
    """An input for the traced call: a fresh leaf, or (inside another transform) an alias
    still connected to the enclosing graph."""
    if not isinstance(x, Tensor):
        raise TypeError(f"func transforms take Tensors as differentiated arguments, got "
                        f"{type(x).__name__}")
    if x.data.dtype.kind != "f":
        raise TypeError(f"func transforms differentiate floating tensors only, got {x.dtype}")
    if x.requires_grad:
        return x.clone()  # an alias of its own, still connected to the enclosing graph
    return Tensor._wrap(x.data, requires_grad=True)


class _Level:
    """Count nested transforms; the outermost one returns results cut from its graph."""

    def __enter__(self):
        state.func_depth += 1
        self._grad = enable_grad()
        self._grad.__enter__()
        return self

    def __exit__(self, *exc):
        self._grad.__exit__(*exc)
        state.func_depth -= 1
        return False

    @staticmethod
    def outermost() -> bool:
        return state.func_depth == 1


def _finish(x, attached):
    if isinstance(x, Tensor) and not attached:
        return x.detach()
    if isinstance(x, tuple):
        return tuple(_finish(v, attached) for v in x)
    if isinstance(x, list):
        return [_finish(v, attached) for v in x]
    if isinstance(x, dict):
        return {k: _finish(v, attached) for k, v in x.items()}
    return x


def value_and_grad(func, argnums=0, has_aux=False):
    """``f -> (x -> (f(x), df/dx))``; ``f`` must return a one-element tensor (or
    ``(value, aux)`` with ``has_aux=True``)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _as_tuple(argnums)
        for n in nums:
            if not -len(args) <= n < len(args):
                raise ValueError(f"argnums {argnums} out of range for {len(args)} arguments")
        attached = state.func_depth > 0 or any(
            isinstance(args[n], Tensor) and args[n].requires_grad for n in nums)
        with _Level():
            args = list(args)
            for n in nums:
                args[n] = _prepare(args[n])
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("has_aux=True: the function must return (output, aux)")
                out, aux = out
            if not isinstance(out, Tensor) or out.data.size != 1:
                raise RuntimeError(
                    "grad: the function must return a one-element Tensor, got "
                    + (f"shape {tuple(out.shape)}" if isinstance(out, Tensor) else type(out).__name__))
            targets = [args[n] for n in nums]
            if out.requires_grad:
                gs = _autograd_grad(out, targets, create_graph=True, allow_unused=True)
            else:
                gs = (None,) * len(targets)
            gs = tuple(g if g is not None else _zeros_like(t) for g, t in zip(gs, targets))
            g = gs if isinstance(argnums, tuple) else gs[0]
            value = out if not has_aux else (out, aux)
            return _finish((value, g), attached)

    return wrapper


def _zeros_like(t):
    return Tensor._wrap(backend.get_array_module(t.data).zeros_like(t.data))


def grad(func, argnums=0, has_aux=False):
    """``f -> df/dx``: the gradient of a scalar-valued function (torch.func.grad)."""
    vg = value_and_grad(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        value, g = vg(*args, **kwargs)
        if has_aux:
            return g, value[1]
        return g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns one gradient per primal."""
    attached = state.func_depth > 0 or any(p.requires_grad for p in primals)
    with _Level():
        xs = [_prepare(p) for p in primals]
        out = func(*xs)
        aux = None
        if has_aux:
            out, aux = out
    outs = _as_tuple(out)

    def vjp_fn(*cotangents):
        cts = list(cotangents)
        if len(cts) == 1 and isinstance(cts[0], tuple) and len(outs) > 1:
            cts = list(cts[0])
        with _Level():
            live = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
            if not live:
                return tuple(_zeros_like(x) for x in xs)
            gs = _autograd_grad([o for o, _ in live], xs, [c for _, c in live],
                                retain_graph=True, create_graph=True, allow_unused=True)
            gs = tuple(g if g is not None else _zeros_like(x) for g, x in zip(gs, xs))
            return _finish(gs, attached or state.func_depth > 1)

    result = _finish(out, attached)
    return (result, vjp_fn) if not has_aux else (result, vjp_fn, _finish(aux, attached))


def jvp(func, primals, tangents, has_aux=False):
    """``(f(primals), J @ tangents)``, computed as the VJP of a VJP (reverse-of-reverse)."""
    primals, tangents = _as_tuple(primals), _as_tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError("jvp: primals and tangents must have the same length")
    for p, t in zip(primals, tangents):
        if tuple(p.shape) != tuple(t.shape):
            raise ValueError(f"jvp: tangent shape {tuple(t.shape)} does not match primal shape "
                             f"{tuple(p.shape)}")
    attached = state.func_depth > 0 or any(p.requires_grad for p in primals)
    with _Level():
        xs = [_prepare(p) for p in primals]
        out = func(*xs)
        aux = None
        if has_aux:
            out, aux = out
        outs = _as_tuple(out)
        results = []
        for o in outs:
            if not o.requires_grad:
                results.append(_zeros_like(o))
                continue
            # u is a dummy cotangent; g(u) = J^T u is linear in u, and d<g(u), t>/du = J t
            u = Tensor._wrap(backend.get_array_module(o.data).zeros_like(o.data),
                             requires_grad=True)
            gs = _autograd_grad(o, xs, u, create_graph=True, allow_unused=True)
            pairs = [(g, t) for g, t in zip(gs, tangents) if g is not None]
            if not pairs:
                results.append(_zeros_like(o))
                continue
            total = sum((g * t).sum() for g, t in pairs)
            if not total.requires_grad:
                results.append(_zeros_like(o))
                continue
            (jt,) = _autograd_grad(total, u, create_graph=True, allow_unused=True)
            results.append(jt if jt is not None else _zeros_like(o))
        res = tuple(results) if isinstance(out, tuple) else results[0]
        final = (_finish(out, attached), _finish(res, attached))
        return final if not has_aux else final + (_finish(aux, attached),)


def jacrev(func, argnums=0, has_aux=False):
    """``f -> J``: the Jacobian, one VJP per output element; shape ``out.shape + x.shape``."""

    @functools.wraps(func)
    def wrapper(*args):
        nums = _as_tuple(argnums)
        attached = state.func_depth > 0 or any(
            isinstance(args[n], Tensor) and args[n].requires_grad for n in nums)
        with _Level():
            args = list(args)
            for n in nums:
                args[n] = _prepare(args[n])
            out = func(*args)
            aux = None
            if has_aux:
                out, aux = out
            targets = [args[n] for n in nums]
            jacs = [[] for _ in targets]
            flat = out.reshape(-1)
            for k in range(flat.shape[0]):
                if out.requires_grad:
                    gs = _autograd_grad(flat[k], targets, retain_graph=True, create_graph=True,
                                        allow_unused=True)
                else:
                    gs = (None,) * len(targets)
                for j, (g, t) in enumerate(zip(gs, targets)):
                    jacs[j].append(g if g is not None else _zeros_like(t))
            from ..ops.functional import stack

            result = []
            for j, t in enumerate(targets):
                if jacs[j]:
                    result.append(stack(jacs[j]).reshape(tuple(out.shape) + tuple(t.shape)))
                else:
                    result.append(Tensor._wrap(backend.get_array_module(t.data).zeros(
                        tuple(out.shape) + tuple(t.shape), dtype=t.data.dtype)))
            jac = tuple(result) if isinstance(argnums, tuple) else result[0]
            return _finish(jac if not has_aux else (jac, aux), attached)

    return wrapper


jacobian = jacrev


def hessian(func, argnums=0):
    """``f -> H``: the Hessian of a scalar function, as ``jacrev(jacrev(f))``."""
    return jacrev(jacrev(func, argnums), argnums)


from ..tensor import Tensor  # noqa: E402
