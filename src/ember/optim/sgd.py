"""Stochastic gradient descent with momentum, dampening, Nesterov and weight decay."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from ..backend import xp
from ..tensor import Tensor
from .optimizer import Optimizer, _grad_with_decay

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, like ``torch.optim.SGD``.

    Example:
        >>> import ember
        >>> w = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> opt = ember.optim.SGD([w], lr=0.1, momentum=0.9)
        >>> w.grad = ember.tensor([1.0, 1.0]); _ = opt.step(); w
        tensor([0.9000, 1.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0,
                 dampening: float = 0, weight_decay: float = 0, nesterov: bool = False, *,
                 maximize: bool = False, foreach: bool | None = None,
                 differentiable: bool = False, fused: bool | None = None) -> None:
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize,
                        foreach=foreach, differentiable=differentiable, fused=fused)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one update; returns ``closure()``'s loss if given."""
        loss = self._eval_closure(closure)
        for group in self.param_groups:
            lr = self._hyper(group, "lr")
            wd = group["weight_decay"]
            momentum = group["momentum"]
            damp = 1.0 - group["dampening"]
            nesterov = group["nesterov"]
            maximize = group["maximize"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                d = p._data
                g = p.grad._data
                g = _grad_with_decay(d, g, lr, wd, maximize)
                if momentum != 0:
                    state = self.state[p]
                    buf = state.get("momentum_buffer")
                    if buf is None:
                        b = xp.array(g)  # an array even for 0-d (NumPy ops give scalars)
                        state["momentum_buffer"] = Tensor._make(b)
                    else:
                        b = buf._data
                        b *= momentum
                        b += g * damp if damp != 1.0 else g
                    g = g + momentum * b if nesterov else b
                d -= lr * g
                p._bump_version()
        return loss
