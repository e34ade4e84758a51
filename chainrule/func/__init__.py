"""Function transforms with torch.func's names: ``grad``, ``grad_and_value``,
``value_and_grad``, ``vjp``, ``jvp``, ``jacrev``, ``hessian``.  Each takes a function and
returns a function; they compose (``grad(grad(f))``, ``jacrev(jacrev(f))``).

They are built on the reverse-mode engine: every transform runs ``f`` on fresh inputs that
require grad and differentiates.  Inside another transform it differentiates with
``create_graph=True`` so that the enclosing transform can differentiate the result again.
``jvp`` is reverse-of-reverse (the VJP ``u -> J^T u`` is linear in ``u``; differentiating
``<J^T u, t>`` with respect to ``u`` gives ``J t``).

As in torch.func, results are cut from the graph at the outermost transform unless they
depend on a tensor from outside that requires grad (an argument, or a parameter the
function closes over): then they stay joined to it, and ``.backward()`` on them reaches it.
"""

from __future__ import annotations

import functools

from .. import backend
from ..autograd.api import grad as _autograd_grad
from ..autograd.grad_mode import enable_grad, state
from ..ops.registry import Node


def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


class _Level:
    """One transform's scope: grad mode on (even under an outer ``no_grad``, as in
    torch.func), the nesting depth counted, and the fresh inputs it made (``inner``)."""

    def __init__(self):
        self.inner = set()  # ids of this level's own fresh leaves

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

    def prepare(self, x, what="argument"):
        """An input for the traced call: a fresh leaf, or (when ``x`` requires grad) an
        alias still joined to the enclosing graph."""
        if not isinstance(x, Tensor):
            raise TypeError(f"func transforms differentiate Tensors; the {what} is a "
                            f"{type(x).__name__}")
        if x.data.dtype.kind != "f":
            raise TypeError(f"func transforms differentiate floating tensors only; the {what} "
                            f"is {x.dtype}")
        if x.requires_grad:
            return x.clone()
        t = Tensor._wrap(x.data, requires_grad=True)
        self.inner.add(id(t))
        return t

    def leaf(self, like):
        """A fresh zero leaf shaped like ``like`` (the dummy cotangent of jvp)."""
        t = Tensor._wrap(backend.get_array_module(like.data).zeros_like(like.data),
                         requires_grad=True)
        self.inner.add(id(t))
        return t

    def reaches_outside(self, *tensors) -> bool:
        """Whether any of ``tensors`` depends on a tensor from outside this level that
        requires grad (a leaf that is not one of this level's fresh inputs)."""
        stack, seen = [], set()
        for t in tensors:
            if not isinstance(t, Tensor) or not t.requires_grad:
                continue
            if t._node is None:
                if id(t) not in self.inner:
                    return True
            elif id(t._node) not in seen:
                seen.add(id(t._node))
                stack.append(t._node)
        while stack:
            for e in stack.pop().edges:
                if e is None:
                    continue
                if type(e) is Node:
                    if id(e) not in seen:
                        seen.add(id(e))
                        stack.append(e)
                elif id(e) not in self.inner:
                    return True
        return False

    def create_graph(self, *tensors) -> bool:
        """Differentiate with create_graph: inside another transform, or when the result
        must stay joined to an outside tensor."""
        return not self.outermost() or self.reaches_outside(*tensors)

    def finish(self, x):
        """Results as the caller sees them: at the outermost level, tensors that do not
        reach outside are detached."""
        if isinstance(x, Tensor):
            if self.outermost() and not self.reaches_outside(x):
                return x.detach()
            return x
        if isinstance(x, tuple):
            return tuple(self.finish(v) for v in x)
        if isinstance(x, list):
            return [self.finish(v) for v in x]
        if isinstance(x, dict):
            return {k: self.finish(v) for k, v in x.items()}
        return x


def _zeros_like(t):
    return Tensor._wrap(backend.get_array_module(t.data).zeros_like(t.data))


def _check_argnums(argnums, n):
    nums = _as_tuple(argnums)
    if not nums:
        raise ValueError("argnums must not be empty")
    for a in nums:
        if not isinstance(a, int) or isinstance(a, bool):
            raise TypeError(f"argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -n <= a < n:
            raise ValueError(f"argnums {argnums!r} is out of range for a function called with "
                             f"{n} positional arguments")
    return tuple(a % n for a in nums)


def grad_and_value(func, argnums=0, has_aux=False):
    """``f -> (x -> (df/dx, f(x)))`` for ``f`` returning a one-element tensor (with
    ``has_aux=True``: ``f`` returns ``(value, aux)`` and the result is
    ``(grad, (value, aux))``), as torch.func.grad_and_value.  ``argnums`` (an int or a
    tuple of ints) picks the differentiated positional arguments; a tuple gives a tuple
    of gradients."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        nums = _check_argnums(argnums, len(args))
        with _Level() as level:
            args = list(args)
            for n in nums:
                args[n] = level.prepare(args[n], f"argument {n}")
            out = func(*args, **kwargs)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError("grad: with has_aux=True the function must return a "
                                       "tuple (output, aux)")
                out, aux = out
            if not isinstance(out, Tensor) or out.data.size != 1:
                got = (f"a tensor of shape {tuple(out.shape)}" if isinstance(out, Tensor)
                       else f"a {type(out).__name__}")
                raise RuntimeError(f"grad: the function must return a one-element Tensor, got "
                                   f"{got}; use vjp or jacrev for other outputs")
            targets = [args[n] for n in nums]
            if out.requires_grad:
                gs = _autograd_grad(out, targets, create_graph=level.create_graph(out),
                                    allow_unused=True)
            else:
                gs = (None,) * len(targets)
            gs = tuple(g if g is not None else _zeros_like(t) for g, t in zip(gs, targets))
            g = gs if isinstance(argnums, tuple) else gs[0]
            value = (out, aux) if has_aux else out
            return level.finish((g, value))

    return wrapper


def value_and_grad(func, argnums=0, has_aux=False):
    """``f -> (x -> (f(x), df/dx))`` (JAX's order; with ``has_aux``:
    ``((value, aux), grad)``)."""
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return value, g

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """``f -> df/dx``: the gradient of a function returning a one-element tensor
    (torch.func.grad); with ``has_aux=True`` the result is ``(grad, aux)``.

    >>> import chainrule as cr
    >>> cr.func.grad(lambda x: (x ** 3).sum())(cr.tensor([1.0, 2.0]))
    tensor([ 3., 12.])
    """
    gv = grad_and_value(func, argnums, has_aux)

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def vjp(func, *primals, has_aux=False):
    """``(f(*primals), vjp_fn)``; ``vjp_fn(cotangents)`` (one per output, shaped like it)
    returns a tuple with one gradient per primal (torch.func.vjp).  With ``has_aux=True``
    ``f`` returns ``(output, aux)`` and the result is ``(output, vjp_fn, aux)``."""
    with _Level() as level:
        xs = [level.prepare(p, f"primal {i}") for i, p in enumerate(primals)]
        out = func(*xs)
        aux = None
        if has_aux:
            if not (isinstance(out, tuple) and len(out) == 2):
                raise RuntimeError("vjp: with has_aux=True the function must return a tuple "
                                   "(output, aux)")
            out, aux = out
        outs = _as_tuple(out)
        result = level.finish(out)
        aux = level.finish(aux)

    def vjp_fn(*cotangents):
        cts = list(cotangents)
        if len(cts) == 1 and isinstance(cts[0], (tuple, list)) and isinstance(out, tuple):
            cts = list(cts[0])
        if len(cts) != len(outs):
            raise RuntimeError(f"vjp_fn: expected {len(outs)} cotangents (one per output), got "
                               f"{len(cts)}")
        for i, (o, c) in enumerate(zip(outs, cts)):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(f"vjp_fn: cotangent {i} has shape {tuple(c.shape)} but the "
                                   f"output has shape {tuple(o.shape)}")
        with _Level() as call:
            call.inner = level.inner
            live = [(o, c) for o, c in zip(outs, cts) if o.requires_grad]
            if not live:
                return tuple(_zeros_like(x) for x in xs)
            create = call.create_graph(*(o for o, _ in live), *cts)
            gs = _autograd_grad([o for o, _ in live], xs, [c for _, c in live],
                                retain_graph=True, create_graph=create, allow_unused=True)
            gs = tuple(g if g is not None else _zeros_like(x) for g, x in zip(gs, xs))
            return call.finish(gs)

    return (result, vjp_fn, aux) if has_aux else (result, vjp_fn)


def jvp(func, primals, tangents, has_aux=False):
    """``(f(*primals), J @ tangents)`` (torch.func.jvp; ``primals`` and ``tangents`` are
    tuples of matching shapes), computed as the VJP of a VJP."""
    primals, tangents = _as_tuple(primals), _as_tuple(tangents)
    if len(primals) != len(tangents):
        raise ValueError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    for i, (p, t) in enumerate(zip(primals, tangents)):
        if tuple(p.shape) != tuple(t.shape):
            raise ValueError(f"jvp: tangent {i} has shape {tuple(t.shape)} but its primal has "
                             f"shape {tuple(p.shape)}")
    with _Level() as level:
        xs = [level.prepare(p, f"primal {i}") for i, p in enumerate(primals)]
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
            u = level.leaf(o)  # g(u) = J^T u is linear in u, and d<g(u), t>/du = J t
            gs = _autograd_grad(o, xs, u, retain_graph=True, create_graph=True,
                                allow_unused=True)
            pairs = [(g, t) for g, t in zip(gs, tangents) if g is not None]
            total = sum((g * t).sum() for g, t in pairs) if pairs else None
            if total is None or not total.requires_grad:
                results.append(_zeros_like(o))
                continue
            (jt,) = _autograd_grad(total, u, create_graph=level.create_graph(total),
                                   allow_unused=True)
            results.append(jt if jt is not None else _zeros_like(o))
        res = tuple(results) if isinstance(out, tuple) else results[0]
        final = (level.finish(out), level.finish(res))
        return final + (level.finish(aux),) if has_aux else final


def jacrev(func, argnums=0, has_aux=False):
    """``f -> J``: the Jacobian by reverse mode, one VJP per output element, shaped
    ``out.shape + x.shape`` (a tuple of them for a tuple ``argnums``)."""

    @functools.wraps(func)
    def wrapper(*args):
        nums = _check_argnums(argnums, len(args))
        with _Level() as level:
            args = list(args)
            for n in nums:
                args[n] = level.prepare(args[n], f"argument {n}")
            out = func(*args)
            aux = None
            if has_aux:
                out, aux = out
            if not isinstance(out, Tensor):
                raise RuntimeError(f"jacrev: the function must return a Tensor, got "
                                   f"{type(out).__name__}")
            targets = [args[n] for n in nums]
            rows = [[] for _ in targets]
            if out.requires_grad:
                create = level.create_graph(out)
                flat = out.reshape(-1)
                for k in range(flat.shape[0]):
                    gs = _autograd_grad(flat[k], targets, retain_graph=True,
                                        create_graph=create, allow_unused=True)
                    for j, (g, t) in enumerate(zip(gs, targets)):
                        rows[j].append(g if g is not None else _zeros_like(t))
            from ..ops.functional import stack

            jacs = []
            for j, t in enumerate(targets):
                shape = tuple(out.shape) + tuple(t.shape)
                if rows[j]:
                    jacs.append(stack(rows[j]).reshape(shape))
                else:
                    jacs.append(Tensor._wrap(backend.get_array_module(t.data).zeros(
                        shape, dtype=t.data.dtype)))
            jac = tuple(jacs) if isinstance(argnums, tuple) else jacs[0]
            return level.finish((jac, aux) if has_aux else jac)

    return wrapper


jacobian = jacrev


def hessian(func, argnums=0):
    """``f -> H``: the Hessian of a function returning a one-element tensor, as
    ``jacrev(jacrev(f))``; shape ``x.shape + x.shape``."""
    return jacrev(jacrev(func, argnums), argnums)


from ..tensor import Tensor  # noqa: E402
