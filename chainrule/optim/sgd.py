"""Stochastic gradient descent, with momentum, dampening, Nesterov momentum and weight decay."""

from __future__ import annotations

from collections.abc import Callable

from .. import backend, blas
from ..tensor import Tensor
from .flat import flat_group
from .optimizer import Optimizer, as_1d, check, check_flags

__all__ = ["SGD", "sgd"]

_np = backend.np


class SGD(Optimizer):
    r"""Stochastic gradient descent (optionally with momentum), as ``torch.optim.SGD``.

    Algorithm, for each parameter :math:`\theta` with gradient :math:`g_t` at step t
    (lr :math:`\gamma`, momentum :math:`\mu`, dampening :math:`\tau`, weight decay
    :math:`\lambda`)::

        if maximize:    g_t = -g_t
        if lambda != 0: g_t = g_t + lambda * theta_{t-1}
        if mu != 0:
            b_t = g_t                                  if t == 1
                  mu * b_{t-1} + (1 - tau) * g_t       otherwise
            g_t = g_t + mu * b_t    if nesterov else    b_t
        theta_t = theta_{t-1} - gamma * g_t

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        momentum: momentum factor (default 0).
        dampening: dampening for momentum (default 0).
        weight_decay: L2 penalty (default 0).
        nesterov: use Nesterov momentum (needs momentum > 0 and zero dampening).
        maximize: maximize the objective instead of minimizing it.
        foreach, fused: torch's kernel choices, accepted and kept in the param groups; the
            result is the same either way (``foreach=False`` keeps the per-parameter loop).
        differentiable: must be False (see ``optimizer.check_flags``).

    State: ``state[p]['momentum_buffer']`` (a Tensor shaped like ``p``) once ``p`` has been
    updated with momentum != 0.

    >>> import chainrule as cr
    >>> w = cr.tensor([1.0, -2.0], requires_grad=True)
    >>> opt = cr.optim.SGD([w], lr=0.1, momentum=0.9)
    >>> (w * w).sum().backward()
    >>> opt.step()
    >>> w
    tensor([ 0.8000, -1.6000], requires_grad=True)
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach: bool | None = None, differentiable: bool = False,
                 fused: bool | None = None):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_flags(group)
        lr, momentum, wd = group["lr"], group["momentum"], group["weight_decay"]
        check(0.0 <= lr, f"Invalid learning rate: {lr}")
        check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        check(0.0 <= wd, f"Invalid weight_decay value: {wd}")
        if group["nesterov"]:
            check(momentum > 0 and group["dampening"] == 0,
                  "Nesterov momentum requires a momentum and zero dampening")

    def step(self, closure: Callable | None = None):
        """Perform one SGD update; returns ``closure()``'s loss if a closure is given."""
        loss = self._eval_closure(closure) if closure is not None else None
        # (no no_grad() needed: both paths update arrays, no Tensor op records anything)
        for index, group in enumerate(self.param_groups):
            if self._flat_step(index, group):
                continue
            params, grads, bufs = [], [], []
            momentum = float(group["momentum"])
            for p in group["params"]:
                if p.grad is None:
                    continue
                params.append(p)
                grads.append(p.grad)
                if momentum != 0:
                    bufs.append(self.state[p].get("momentum_buffer"))
            sgd(params, grads, bufs, lr=float(group["lr"]), momentum=momentum,
                dampening=float(group["dampening"]),
                weight_decay=float(group["weight_decay"]), nesterov=group["nesterov"],
                maximize=group["maximize"])
            if momentum != 0:
                for p, buf in zip(params, bufs):
                    self.state[p]["momentum_buffer"] = buf
        return loss

    def _flat_step(self, index, group) -> bool:
        """The multi-tensor path (optim/flat.py): the same update on the whole group at once.
        False (nothing done) when the group doesn't qualify this step."""
        if group.get("foreach") is False:  # torch's for-loop implementation, asked for
            return False
        momentum = group["momentum"]
        plain = not (group["weight_decay"] or group["dampening"] or group["nesterov"]
                     or group["maximize"])
        flat = self.__dict__.get("_flat_groups", {}).get(index)
        if flat is not None and plain:
            # the usual step: everything as the last flat step left it (one pass of checks)
            buf = flat.ready(group["params"], self.state,
                             "momentum_buffer" if momentum != 0 else None)
            if buf is not False:
                _sgd_plain(flat, buf, float(group["lr"]), float(momentum))
                return True
            buf = None
        flat = None  # (no stray reference to the old group while flat_group counts them)
        flat = flat_group(self, index, group)
        if flat is None or not flat.in_place():
            return False
        options = dict(lr=float(group["lr"]), momentum=float(momentum),
                       dampening=float(group["dampening"]),
                       weight_decay=float(group["weight_decay"]), nesterov=group["nesterov"],
                       maximize=group["maximize"])
        buf = None
        if momentum != 0:
            buf = flat.state_flat(self.state, "momentum_buffer")
            if buf is False:
                return False
        if momentum != 0 and buf is None:  # the first step makes the buffer: in one piece
            bufs = [None]
            sgd([Tensor._wrap(flat.pflat)], [Tensor._wrap(flat.grads.flat)], bufs, **options)
            flat.adopt_state(self.state, "momentum_buffer", bufs[0].data)
            flat.bump_versions()
        elif plain:
            _sgd_plain(flat, buf, options["lr"], options["momentum"])
        else:
            p, g = flat.pflat, flat.grads.flat
            for a, b in flat.chunks:  # (sgd itself, a chunk at a time)
                sgd([Tensor._wrap(p[a:b])], [Tensor._wrap(g[a:b])],
                    [None if buf is None else Tensor._wrap(buf[a:b])], **options)
            flat.bump_versions()
        return True


def _sgd_plain(flat, buf, lr, momentum):
    """``sgd`` without weight decay, dampening, Nesterov or maximize on a flat group
    (parameters, gradient slots, momentum buffer ``buf`` or None); the arithmetic of
    ``sgd``, so the same numbers.  With a BLAS kernel (chainrule.blas): each update in one
    call over the whole group (``axpby``'s checks hold by construction: one contiguous 1-d
    array each, of one dtype and length).  Else NumPy's passes, chunk by chunk so that
    each chunk's passes run in cache (a 2.9M-parameter group, the large standard net: 1.1
    instead of 1.3 ms), with the product into a scratch array."""
    p, g = flat.pflat, flat.grads.flat
    kernel = blas.kernel(p.dtype) if lr != 0 else None  # (lr = 0: NumPy's 0 * inf = NaN)
    if kernel is not None:
        n, address = len(p), blas.address
        if buf is not None:
            kernel(n, 1.0, address(g), momentum, address(buf))
            g = buf
        kernel(n, -lr, address(g), 1.0, address(p))
        flat.bump_versions()
        return
    scratch = flat.scratch()
    for a, b in flat.chunks:
        if b - a == len(p):  # (one chunk: no slicing)
            pc, d, t, bc = p, g, scratch, buf
        else:
            pc, d, t = p[a:b], g[a:b], scratch[:b - a]
            bc = None if buf is None else buf[a:b]
        if bc is not None:
            _accumulate(bc, d, momentum)
            d = bc
        _descend(pc, d, lr, t)
    flat.bump_versions()


def _accumulate(b, d, momentum):
    """``b = momentum * b + d`` in place (the momentum buffer's update)."""
    if not blas.axpby(1.0, d, momentum, b):
        b *= momentum
        b += d


def _descend(theta, d, lr, scratch=None):
    """``theta -= lr * d`` in place (``scratch``: room for the product, or None)."""
    if not blas.axpby(-lr, d, 1.0, theta):
        if scratch is None:
            theta -= d * lr
        else:
            _np.multiply(d, lr, out=scratch)
            theta -= scratch


def sgd(params: list[Tensor], grads: list[Tensor], momentum_buffers: list[Tensor | None], *,
        lr: float, momentum: float, dampening: float, weight_decay: float, nesterov: bool,
        maximize: bool) -> None:
    """The SGD update of one parameter group, in place (``SGD``'s algorithm).

    ``momentum_buffers[i]`` is ``None`` before the first momentum step; the new buffer is
    stored back into the list.  Hyperparameters are Python floats, so float32 arithmetic
    stays float32.
    """
    for i, p in enumerate(params):
        theta, grad = as_1d(p.data), as_1d(grads[i].data)
        # d is the update direction; `own` says whether d is a scratch array we may overwrite
        if weight_decay != 0:
            d = theta * weight_decay
            if maximize:
                d -= grad
            else:
                d += grad
            own = True
        else:
            d, own = (-grad, True) if maximize else (grad, False)
        if momentum != 0:
            buf = momentum_buffers[i]
            if buf is None:
                buf = momentum_buffers[i] = Tensor._wrap(d.reshape(p.data.shape).copy())
            else:
                b = as_1d(buf.data)
                if dampening == 0:
                    _accumulate(b, d, momentum)
                else:
                    b *= momentum
                    b += d * (1 - dampening)
            if nesterov:
                if own:
                    d += as_1d(buf.data) * momentum
                else:
                    d, own = d + as_1d(buf.data) * momentum, True
            else:
                d, own = as_1d(buf.data), False
        _descend(theta, d, lr)
        p._version[0] += 1
