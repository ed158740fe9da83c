"""RAdam: Adam with a rectified adaptive learning rate."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ..backend import xp
from .adam import _check_common
from .optimizer import (
    Optimizer,
    _adam_moments_,
    _grad_with_decay,
    _incr_step,
    _scalar,
    _zeros_like,
)

__all__ = ["RAdam"]


class RAdam(Optimizer):
    """RAdam, like ``torch.optim.RAdam``.

    Example:
        >>> import ember
        >>> w = ember.tensor([1.0], requires_grad=True)
        >>> opt = ember.optim.RAdam([w], lr=0.1)
        >>> w.grad = ember.tensor([2.0]); _ = opt.step(); w
        tensor([0.8000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False) -> None:
        _check_common(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        maximize=maximize, foreach=foreach, capturable=capturable,
                        decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one update; returns ``closure()``'s loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = self._hyper(group, "lr")
            beta1, beta2 = (float(b) for b in group["betas"])
            eps, wd, maximize = group["eps"], group["weight_decay"], group["maximize"]
            decoupled = group["decoupled_weight_decay"]
            rho_inf = 2.0 / (1.0 - beta2) - 1.0
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p._data
                g = p.grad._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar()
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_avg_sq"] = _zeros_like(p)
                step = _incr_step(state)
                g = _grad_with_decay(d, g, lr, wd, maximize, decoupled)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                tmp = xp.empty_like(d)
                _adam_moments_(m, v, g, beta1, beta2, tmp)
                bc1 = 1.0 - beta1 ** step
                bc2 = 1.0 - beta2 ** step
                upd = xp.divide(m, bc1)
                upd *= lr
                rho_t = rho_inf - 2.0 * step * (beta2 ** step) / bc2
                if rho_t > 5.0:
                    rect = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                     / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                    xp.sqrt(v, out=tmp)
                    tmp += eps
                    xp.divide(math.sqrt(bc2), tmp, out=tmp)
                    upd *= tmp
                    upd *= rect
                d -= upd
                p._bump_version()
        return loss
