"""Adagrad: per-coordinate learning rates from accumulated squared gradients (Duchi et al.,
2011)."""

from __future__ import annotations

from collections.abc import Callable

from .. import backend
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, as_1d, check, check_flags, new_step

__all__ = ["Adagrad", "adagrad"]


class Adagrad(Optimizer):
    r"""Adagrad, as ``torch.optim.Adagrad``.

    Algorithm, for each parameter :math:`\theta` with gradient :math:`g_t` at step t
    (lr :math:`\gamma`, lr decay :math:`\eta`, weight decay :math:`\lambda`)::

        sum_0 = initial_accumulator_value
        if maximize:    g_t = -g_t
        if lambda != 0: g_t = g_t + lambda * theta_{t-1}
        gamma_t = gamma / (1 + (t - 1) * eta)
        sum_t = sum_{t-1} + g_t**2
        theta_t = theta_{t-1} - gamma_t * g_t / (sqrt(sum_t) + eps)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-2).
        lr_decay: learning-rate decay per step (default 0).
        weight_decay: L2 penalty (default 0).
        initial_accumulator_value: starting value of the sum of squared gradients (0).
        eps: added to the denominator for numerical stability (default 1e-10).
        foreach, fused: torch's kernel choices, accepted and kept in the param groups; they
            don't change the result.
        maximize: maximize the objective instead of minimizing it.
        differentiable: must be False (see ``optimizer.check_flags``).

    State per parameter, created with the optimizer (as in torch): ``step`` (0-d float32
    Tensor) and ``sum``.
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10,
                 foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        fused=fused)
        self._check_group(defaults)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_flags(group)
        lr, lr_decay, wd = group["lr"], group["lr_decay"], group["weight_decay"]
        init, eps = group["initial_accumulator_value"], group["eps"]
        check(0.0 <= lr, f"Invalid learning rate: {lr}")
        check(0.0 <= lr_decay, f"Invalid lr_decay value: {lr_decay}")
        check(0.0 <= wd, f"Invalid weight_decay value: {wd}")
        check(0.0 <= init, f"Invalid initial_accumulator_value value: {init}")
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")

    def _init_group_state(self, group):
        for p in group["params"]:
            _init_state(self.state[p], p, group)

    def step(self, closure: Callable | None = None):
        """Perform one Adagrad update; returns ``closure()``'s loss if a closure is given."""
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                params, grads, sums, steps = [], [], [], []
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if len(state) == 0:  # e.g. after loading a state dict without it
                        _init_state(state, p, group)
                    params.append(p)
                    grads.append(p.grad)
                    sums.append(state["sum"])
                    steps.append(state["step"])
                adagrad(params, grads, sums, steps, lr=float(group["lr"]),
                        weight_decay=float(group["weight_decay"]),
                        lr_decay=float(group["lr_decay"]), eps=float(group["eps"]),
                        maximize=group["maximize"])
        return loss


def _init_state(state, p, group):
    xp = backend.get_array_module(p.data)
    state["step"] = new_step(p.data)
    state["sum"] = Tensor._wrap(xp.full_like(p.data, float(group["initial_accumulator_value"])))


def adagrad(params: list[Tensor], grads: list[Tensor], state_sums: list[Tensor],
            state_steps: list[Tensor], *, lr: float, weight_decay: float, lr_decay: float,
            eps: float, maximize: bool) -> None:
    """The Adagrad update of one parameter group, in place (``Adagrad``'s algorithm)."""
    for i, p in enumerate(params):
        theta, grad = as_1d(p.data), as_1d(grads[i].data)
        total = as_1d(state_sums[i].data)
        xp = backend.get_array_module(theta)
        step_arr = state_steps[i].data
        step_arr += 1
        step = float(step_arr)

        if maximize:
            grad = -grad
        if weight_decay != 0:
            grad = grad + theta * weight_decay
        clr = lr / (1 + (step - 1) * lr_decay)

        tmp = grad * grad
        total += tmp
        std = xp.sqrt(total, out=tmp)
        std += eps
        update = xp.divide(grad, std, out=std)
        update *= clr
        theta -= update
        p._version[0] += 1
