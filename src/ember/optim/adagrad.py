"""Adagrad."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..backend import xp
from .optimizer import Optimizer, _grad_with_decay, _incr_step, _scalar, _zeros_like

__all__ = ["Adagrad"]


class Adagrad(Optimizer):
    """Adagrad, like ``torch.optim.Adagrad``.

    Example:
        >>> import ember
        >>> w = ember.tensor([1.0], requires_grad=True)
        >>> opt = ember.optim.Adagrad([w], lr=0.1)
        >>> w.grad = ember.tensor([2.0]); _ = opt.step(); w
        tensor([0.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0,
                 weight_decay: float = 0, initial_accumulator_value: float = 0,
                 eps: float = 1e-10, foreach: bool | None = None, *, maximize: bool = False,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= lr_decay:
            raise ValueError(f"Invalid lr_decay value: {lr_decay}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not 0.0 <= initial_accumulator_value:
            raise ValueError(f"Invalid initial_accumulator_value value: "
                             f"{initial_accumulator_value}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state[p]
                state["step"] = _scalar()
                state["sum"] = _zeros_like(p, group["initial_accumulator_value"])

    def step(self, closure: Callable | None = None):
        """Perform one update; returns ``closure()``'s loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = self._hyper(group, "lr")
            lr_decay, eps, wd = group["lr_decay"], group["eps"], group["weight_decay"]
            maximize = group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p._data
                g = p.grad._data
                state = self.state[p]
                if len(state) == 0:
                    state["step"] = _scalar()
                    state["sum"] = _zeros_like(p, group["initial_accumulator_value"])
                step = _incr_step(state)
                g = _grad_with_decay(d, g, lr, wd, maximize)
                clr = lr / (1 + (step - 1) * lr_decay)
                s = state["sum"]._data
                tmp = xp.multiply(g, g, out=xp.empty_like(d))
                s += tmp
                xp.sqrt(s, out=tmp)
                tmp += eps
                num = xp.multiply(g, -clr)
                num /= tmp
                d += num
                p._bump_version()
        return loss


