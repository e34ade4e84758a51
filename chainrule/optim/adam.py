"""Adam: adaptive moment estimation (Kingma & Ba, 2014), with AMSGrad and, optionally,
decoupled weight decay (which is AdamW, see ``adamw.py``)."""

from __future__ import annotations

from collections.abc import Callable

from .. import backend
from ..autograd.grad_mode import no_grad
from ..tensor import Tensor
from .optimizer import Optimizer, as_1d, check, check_flags, new_step, zeros_state

__all__ = ["Adam", "adam"]


class Adam(Optimizer):
    r"""Adam, as ``torch.optim.Adam``.

    Algorithm, for each parameter :math:`\theta` with gradient :math:`g_t` at step t
    (lr :math:`\gamma`, betas :math:`(\beta_1, \beta_2)`, weight decay :math:`\lambda`;
    m, v and v_max start at zero)::

        if maximize:    g_t = -g_t
        if lambda != 0:
            if decoupled_weight_decay: theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)
            else:                      g_t = g_t + lambda * theta_{t-1}
        m_t = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t = beta2 * v_{t-1} + (1 - beta2) * g_t**2
        if amsgrad: v_max_t = max(v_max_{t-1}, v_t);  v' = v_max_t
        else:       v' = v_t
        theta_t = theta_{t-1} - gamma / (1 - beta1**t) * m_t / (sqrt(v') / sqrt(1 - beta2**t) + eps)

    Args:
        params: parameters or parameter groups to optimize.
        lr: learning rate (default 1e-3).
        betas: decay rates of the running averages of the gradient and of its square
            (default (0.9, 0.999)).
        eps: added to the denominator for numerical stability (default 1e-8).
        weight_decay: L2 penalty (default 0), or decoupled decay (see below).
        amsgrad: use the AMSGrad variant (the running maximum of v).
        maximize: maximize the objective instead of minimizing it.
        decoupled_weight_decay: shrink the weights directly, as AdamW does, instead of adding
            the L2 term to the gradient.
        foreach, capturable, fused: torch's kernel choices, accepted and kept in the param
            groups; they don't change the result.
        differentiable: must be False (see ``optimizer.check_flags``).

    State per parameter: ``step`` (0-d float32 Tensor), ``exp_avg`` (m), ``exp_avg_sq`` (v)
    and, with amsgrad, ``max_exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None,
                 decoupled_weight_decay: bool = False):
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        self._check_group(defaults)
        defaults["betas"] = tuple(float(b) for b in betas)
        super().__init__(params, defaults)

    def _check_group(self, group):
        check_flags(group)
        lr, eps, betas, wd = group["lr"], group["eps"], group["betas"], group["weight_decay"]
        check(0.0 <= lr, f"Invalid learning rate: {lr}")
        check(0.0 <= eps, f"Invalid epsilon value: {eps}")
        check(isinstance(betas, (tuple, list)) and len(betas) == 2,
              f"Invalid betas: {betas!r} (expected a pair (beta1, beta2))")
        check(0.0 <= betas[0] < 1.0, f"Invalid beta parameter at index 0: {betas[0]}")
        check(0.0 <= betas[1] < 1.0, f"Invalid beta parameter at index 1: {betas[1]}")
        check(0.0 <= wd, f"Invalid weight_decay value: {wd}")

    def step(self, closure: Callable | None = None):
        """Perform one Adam update; returns ``closure()``'s loss if a closure is given."""
        loss = self._eval_closure(closure)
        with no_grad():
            for group in self.param_groups:
                amsgrad = group["amsgrad"]
                params, grads, exp_avgs, exp_avg_sqs, max_sqs, steps = [], [], [], [], [], []
                for p in group["params"]:
                    if p.grad is None:
                        continue
                    state = self.state[p]
                    if len(state) == 0:
                        state["step"] = new_step(p.data)
                        state["exp_avg"] = zeros_state(p)
                        state["exp_avg_sq"] = zeros_state(p)
                    if amsgrad and "max_exp_avg_sq" not in state:
                        state["max_exp_avg_sq"] = zeros_state(p)
                    params.append(p)
                    grads.append(p.grad)
                    exp_avgs.append(state["exp_avg"])
                    exp_avg_sqs.append(state["exp_avg_sq"])
                    steps.append(state["step"])
                    if amsgrad:
                        max_sqs.append(state["max_exp_avg_sq"])
                beta1, beta2 = group["betas"]
                adam(params, grads, exp_avgs, exp_avg_sqs, max_sqs, steps, amsgrad=amsgrad,
                     beta1=float(beta1), beta2=float(beta2), lr=float(group["lr"]),
                     weight_decay=float(group["weight_decay"]), eps=float(group["eps"]),
                     maximize=group["maximize"],
                     decoupled_weight_decay=group["decoupled_weight_decay"])
        return loss


def adam(params: list[Tensor], grads: list[Tensor], exp_avgs: list[Tensor],
         exp_avg_sqs: list[Tensor], max_exp_avg_sqs: list[Tensor], state_steps: list[Tensor],
         *, amsgrad: bool, beta1: float, beta2: float, lr: float, weight_decay: float,
         eps: float, maximize: bool, decoupled_weight_decay: bool) -> None:
    """The Adam/AdamW update of one parameter group, in place (``Adam``'s algorithm)."""
    for i, p in enumerate(params):
        theta, grad = as_1d(p.data), as_1d(grads[i].data)
        m, v = as_1d(exp_avgs[i].data), as_1d(exp_avg_sqs[i].data)
        xp = backend.get_array_module(theta)
        step_arr = state_steps[i].data
        step_arr += 1
        step = float(step_arr)

        if maximize:
            grad = -grad
        if weight_decay != 0:
            if decoupled_weight_decay:
                theta *= 1 - lr * weight_decay
            else:
                grad = grad + theta * weight_decay

        # m = m + (1 - beta1) * (g - m): torch's lerp, the same rounding
        tmp = grad - m
        tmp *= 1 - beta1
        m += tmp
        v *= beta2
        xp.multiply(grad, grad, out=tmp)
        tmp *= 1 - beta2
        v += tmp

        step_size = lr / (1 - beta1 ** step)
        bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
        if amsgrad:
            v_max = as_1d(max_exp_avg_sqs[i].data)
            v = xp.maximum(v_max, v, out=v_max)
        denom = xp.sqrt(v, out=tmp)
        denom /= bias_correction2_sqrt
        denom += eps
        update = xp.divide(m, denom, out=denom)
        update *= step_size
        theta -= update
        p._version[0] += 1
