"""Adamax: Adam with the infinity norm."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..backend import xp
from .adam import _check_common
from .optimizer import Optimizer, _grad_with_decay, _incr_step, _lerp_, _scalar, _zeros_like

__all__ = ["Adamax"]


class Adamax(Optimizer):
    """Adamax, like ``torch.optim.Adamax``.

    Example:
        >>> import ember
        >>> w = ember.tensor([1.0], requires_grad=True)
        >>> opt = ember.optim.Adamax([w], lr=0.1)
        >>> w.grad = ember.tensor([2.0]); _ = opt.step(); w
        tensor([0.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 2e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach: bool | None = None, *,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False) -> None:
        _check_common(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        foreach=foreach, maximize=maximize, differentiable=differentiable,
                        capturable=capturable)
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one update; returns ``closure()``'s loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = self._hyper(group, "lr")
            beta1, beta2 = (float(b) for b in group["betas"])
            eps, wd, maximize = group["eps"], group["weight_decay"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p._data
                g = p.grad._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar()
                    state["exp_avg"] = _zeros_like(p)
                    state["exp_inf"] = _zeros_like(p)
                step = _incr_step(state)
                g = _grad_with_decay(d, g, lr, wd, maximize)
                m = state["exp_avg"]._data
                u = state["exp_inf"]._data
                tmp = xp.empty_like(d)
                _lerp_(m, g, 1.0 - beta1, tmp)
                u *= beta2
                xp.abs(g, out=tmp)
                tmp += eps
                xp.maximum(u, tmp, out=u)
                clr = lr / (1.0 - beta1 ** step)
                xp.multiply(m, -clr, out=tmp)
                tmp /= u
                d += tmp
                p._bump_version()
        return loss
