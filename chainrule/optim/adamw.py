"""AdamW: Adam with decoupled weight decay (Loshchilov & Hutter, 2019)."""

from __future__ import annotations

from .adam import Adam

__all__ = ["AdamW"]


class AdamW(Adam):
    r"""AdamW, as ``torch.optim.AdamW``: Adam whose weight decay shrinks the weights directly
    instead of entering the gradient (so it is not rescaled by the adaptive denominator).

    Algorithm, for each parameter :math:`\theta` with gradient :math:`g_t` at step t
    (lr :math:`\gamma`, betas :math:`(\beta_1, \beta_2)`, weight decay :math:`\lambda`;
    m, v and v_max start at zero)::

        if maximize: g_t = -g_t
        theta_{t-1} = theta_{t-1} * (1 - gamma * lambda)
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
        weight_decay: decoupled weight decay coefficient (default 1e-2).
        amsgrad: use the AMSGrad variant (the running maximum of v).
        maximize: maximize the objective instead of minimizing it.
        foreach, capturable, fused: torch's kernel choices, accepted and kept in the param
            groups; they don't change the result.
        differentiable: must be False.

    State per parameter: ``step`` (0-d float32 Tensor), ``exp_avg``, ``exp_avg_sq`` and, with
    amsgrad, ``max_exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None, capturable: bool = False,
                 differentiable: bool = False, fused: bool | None = None):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                         amsgrad=amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict):
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW always decouples, whatever was saved
            group["decoupled_weight_decay"] = True
