"""RMSprop (Hinton's lecture notes; the centered variant of Graves, 2013)."""

from __future__ import annotations

from collections.abc import Callable

from .. import backend
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, as_1d, check, check_flags, new_step, zeros_state

__all__ = ["RMSprop", "rmsprop"]


class RMSprop(Optimizer):
    r"""RMSprop, as ``torch.optim.RMSprop``.

    Algorithm, for each parameter :math:`\theta` with gradient :math:`g_t` at step t
    (lr :math:`\gamma`, smoothing constant :math:`\alpha`, momentum :math:`\mu`, weight
    decay :math:`\lambda`; v, b and g_avg start at zero)::

        if maximize:    g_t = -g_t
        if lambda != 0: g_t = g_t + lambda * theta_{t-1}
        v_t = alpha * v_{t-1} + (1 - alpha) * g_t**2
        if centered:
            g_avg_t = alpha * g_avg_{t-1} + (1 - alpha) * g_t
            v' = v_t - g_avg_t**2
        else:
            v' = v_t
        if mu > 0:
            b_t = mu * b_{t-1} + g_t / (sqrt(v') + eps)
            theta_t = theta_{t-1} - gamma * b_t
        else:
            theta_t = theta_{t-1} - gamma * g_t / (sqrt(v') + eps)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        alpha: smoothing constant of the running average of the squared gradient (0.99).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0).
        momentum: momentum factor (default 0).
        centered: normalize by an estimate of the gradient's variance instead of its
            second moment.
        capturable, foreach: torch's kernel choices, accepted and kept in the param groups;
            they don't change the result.
        maximize: maximize the objective instead of minimizing it.
        differentiable: must be False (see ``optimizer.check_flags``).

    State per parameter: ``step`` (0-d float32 Tensor), ``square_avg``, and
    ``momentum_buffer`` (momentum > 0) and ``grad_avg`` (centered).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False,
                 capturable: bool = False, foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, capturable=capturable,
                        foreach=foreach, maximize=maximize, differentiable=differentiable)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_flags(group)
        lr, eps, momentum = group["lr"], group["eps"], group["momentum"]
        wd, alpha = group["weight_decay"], group["alpha"]
        check(0.0 <= lr, f"Invalid learning rate: {lr}")
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check(0.0 <= momentum, f"Invalid momentum value: {momentum}")
        check(0.0 <= wd, f"Invalid weight_decay value: {wd}")
        check(0.0 <= alpha, f"Invalid alpha value: {alpha}")

    def step(self, closure: Callable | None = None):
        """Perform one RMSprop update; returns ``closure()``'s loss if a closure is given."""
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                momentum, centered = float(group["momentum"]), group["centered"]
                params, grads, square_avgs, grad_avgs, bufs, steps = [], [], [], [], [], []
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = new_step(p.data)
                        state["square_avg"] = zeros_state(p)
                    if momentum > 0 and "momentum_buffer" not in state:
                        state["momentum_buffer"] = zeros_state(p)
                    if centered and "grad_avg" not in state:
                        state["grad_avg"] = zeros_state(p)
                    params.append(p)
                    grads.append(p.grad)
                    square_avgs.append(state["square_avg"])
                    steps.append(state["step"])
                    if momentum > 0:
                        bufs.append(state["momentum_buffer"])
                    if centered:
                        grad_avgs.append(state["grad_avg"])
                rmsprop(params, grads, square_avgs, grad_avgs, bufs, steps,
                        lr=float(group["lr"]), alpha=float(group["alpha"]),
                        eps=float(group["eps"]), weight_decay=float(group["weight_decay"]),
                        momentum=momentum, centered=centered, maximize=group["maximize"])
        return loss


def rmsprop(params: list[Tensor], grads: list[Tensor], square_avgs: list[Tensor],
            grad_avgs: list[Tensor], momentum_buffers: list[Tensor], state_steps: list[Tensor],
            *, lr: float, alpha: float, eps: float, weight_decay: float, momentum: float,
            centered: bool, maximize: bool) -> None:
    """The RMSprop update of one parameter group, in place (``RMSprop``'s algorithm)."""
    for i, p in enumerate(params):
        theta, grad = as_1d(p.data), as_1d(grads[i].data)
        v = as_1d(square_avgs[i].data)
        xp = backend.get_array_module(theta)
        state_steps[i].data += 1

        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = grad + theta * weight_decay

        tmp = grad * grad
        tmp *= 1 - alpha
        v *= alpha
        v += tmp
        if centered:
            g_avg = as_1d(grad_avgs[i].data)
            xp.subtract(grad, g_avg, out=tmp)  # lerp towards g, as torch
            tmp *= 1 - alpha
            g_avg += tmp
            xp.multiply(g_avg, g_avg, out=tmp)
            xp.subtract(v, tmp, out=tmp)
            avg = xp.sqrt(tmp, out=tmp)
        else:
            avg = xp.sqrt(v, out=tmp)
        avg += eps

        if momentum > 0:
            buf = as_1d(momentum_buffers[i].data)
            buf *= momentum
            buf += xp.divide(grad, avg, out=avg)
            update = xp.multiply(buf, lr, out=avg)
        else:
            update = xp.divide(grad, avg, out=avg)
            update *= lr
        theta -= update
        p._version[0] += 1
