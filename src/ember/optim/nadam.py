"""NAdam: Adam with Nesterov momentum."""

from __future__ import annotations

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

__all__ = ["NAdam"]


class NAdam(Optimizer):
    """NAdam, like ``torch.optim.NAdam``.

    Example:
        >>> import ember
        >>> w = ember.tensor([1.0], requires_grad=True)
        >>> opt = ember.optim.NAdam([w], lr=0.1)
        >>> w.grad = ember.tensor([2.0]); _ = opt.step(); round(w.item(), 4)
        0.8944
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach: bool | None = None,
                 maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False) -> None:
        _check_common(lr, eps, betas, weight_decay)
        if not 0.0 <= momentum_decay:
            raise ValueError(f"Invalid momentum_decay value: {momentum_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one update; returns ``closure()``'s loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = self._hyper(group, "lr")
            beta1, beta2 = (float(b) for b in group["betas"])
            eps, wd, maximize = group["eps"], group["weight_decay"], group["maximize"]
            mdecay = group["momentum_decay"]
            decoupled = group["decoupled_weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p._data
                g = p.grad._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar()
                    state["mu_product"] = _scalar(1.0)
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_avg_sq"] = _zeros_like(p)
                step = _incr_step(state)
                bc2 = 1.0 - beta2 ** step
                g = _grad_with_decay(d, g, lr, wd, maximize, decoupled)
                mu = beta1 * (1.0 - 0.5 * 0.96 ** (step * mdecay))
                mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((step + 1) * mdecay))
                # mu_product lives in a 0-d scalar-dtype tensor, rounded as torch rounds it
                mp = state["mu_product"]._data
                mp *= mu
                mu_prod = float(mp)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                tmp = xp.empty_like(d)
                _adam_moments_(m, v, g, beta1, beta2, tmp)
                den = xp.divide(v, bc2, out=xp.empty_like(d))
                xp.sqrt(den, out=den)
                den += eps
                xp.multiply(g, -lr * (1.0 - mu) / (1.0 - mu_prod), out=tmp)
                tmp /= den
                d += tmp
                xp.multiply(m, (-lr * mu_next) / (1.0 - mu_prod * mu_next), out=tmp)
                tmp /= den
                d += tmp
                p._bump_version()
        return loss
