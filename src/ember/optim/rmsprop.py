"""RMSprop."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..backend import xp
from .optimizer import Optimizer, _grad_with_decay, _incr_step, _lerp_, _scalar, _zeros_like

__all__ = ["RMSprop"]


class RMSprop(Optimizer):
    """RMSprop, like ``torch.optim.RMSprop`` (optionally centered, with momentum).

    Example:
        >>> import ember
        >>> w = ember.tensor([1.0], requires_grad=True)
        >>> opt = ember.optim.RMSprop([w], lr=0.01, alpha=0.0)
        >>> w.grad = ember.tensor([2.0]); _ = opt.step(); w
        tensor([0.9900], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99,
                 eps: float = 1e-8, weight_decay: float = 0, momentum: float = 0,
                 centered: bool = False, capturable: bool = False,
                 foreach: bool | None = None, maximize: bool = False,
                 differentiable: bool = False) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= momentum:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= alpha:
            raise ValueError(f"Invalid alpha value: {alpha}")
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered,
                        weight_decay=weight_decay, capturable=capturable, foreach=foreach,
                        maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one update; returns ``closure()``'s loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = self._hyper(group, "lr")
            alpha, eps, wd = group["alpha"], group["eps"], group["weight_decay"]
            momentum, centered, maximize = group["momentum"], group["centered"], group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p._data
                g = p.grad._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar()
                    state["square_avg"] = _zeros_like(p)
                    if momentum > 0:
                        state["momentum_buffer"] = _zeros_like(p)
                    if centered:
                        state["grad_avg"] = _zeros_like(p)
                _incr_step(state)
                g = _grad_with_decay(d, g, lr, wd, maximize)
                sq = state["square_avg"]._data
                tmp = xp.multiply(g, 1.0 - alpha, out=xp.empty_like(d))
                tmp *= g
                sq *= alpha
                sq += tmp
                if centered:
                    ga = state["grad_avg"]._data
                    _lerp_(ga, g, 1.0 - alpha, tmp)
                    xp.multiply(ga, -1.0, out=tmp)
                    tmp *= ga
                    tmp += sq
                    xp.sqrt(tmp, out=tmp)
                else:
                    xp.sqrt(sq, out=tmp)
                tmp += eps
                if momentum > 0:
                    buf = state["momentum_buffer"]._data
                    buf *= momentum
                    buf += g / tmp
                    d -= lr * buf
                else:
                    num = xp.multiply(g, -lr)
                    num /= tmp
                    d += num
                p._bump_version()
        return loss
