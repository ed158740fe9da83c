"""Adam (and, with decoupled weight decay, AdamW)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable

from ..backend import xp
from .optimizer import (
    Optimizer,
    _adam_moments_,
    _grad_with_decay,
    _incr_step,
    _scalar,
    _zeros_like,
)

__all__ = ["Adam"]

#: ember.backend.cadam and cgemm once imported (on the first step: they load the compiler
#: machinery)
_cadam = _cgemm = None


def _check_common(lr, eps, betas, weight_decay) -> None:
    if not 0.0 <= lr:
        raise ValueError(f"Invalid learning rate: {lr}")
    if not 0.0 <= eps:
        raise ValueError(f"Invalid epsilon value: {eps}")
    if not 0.0 <= betas[0] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
    if not 0.0 <= betas[1] < 1.0:
        raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
    if not 0.0 <= weight_decay:
        raise ValueError(f"Invalid weight_decay value: {weight_decay}")


class Adam(Optimizer):
    """Adam, like ``torch.optim.Adam``; ``decoupled_weight_decay=True`` gives AdamW.

    Where a C compiler is available (``ember.backend.ckernels.available``) each parameter
    is updated in one C loop (``ember.backend.cadam``), as torch's ``fused=True`` does;
    parameters it does not take (other dtypes than float32 and float64, non-contiguous
    arrays) and ``EMBER_JIT_BACKEND=numpy`` use NumPy. Both give the same results, bit for
    bit. ``fused=None`` (the default) and ``fused=True`` use the C loop where they can,
    ``fused=False`` always uses NumPy; ``foreach``, ``capturable`` and ``differentiable``
    are accepted for compatibility and change nothing.

    Example:
        >>> import ember
        >>> w = ember.tensor([1.0], requires_grad=True)
        >>> opt = ember.optim.Adam([w], lr=0.1)
        >>> w.grad = ember.tensor([3.0]); _ = opt.step(); w
        tensor([0.9000], requires_grad=True)
    """

    def __init__(self, params: Iterable, lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *,
                 foreach: bool | None = None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False,
                 fused: bool | None = None, decoupled_weight_decay: bool = False) -> None:
        _check_common(lr, eps, betas, weight_decay)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure: Callable | None = None):
        """Perform one update; returns ``closure()``'s loss if given."""
        loss = self._eval_closure(closure)
        global _cadam, _cgemm
        if _cadam is None:
            from ..backend import cadam as _cadam
        if _cgemm is None:
            from ..backend import cgemm as _cgemm
        kernel = _cadam.adam_kernel()
        # in a compiled training step whose products ran on OpenMP threads, those threads
        # are still spinning: the step shares its loops with them rather than run beside
        threads = _cgemm.team_threads() if kernel and _cgemm.team_hot() else 1
        for group in self.param_groups:
            lr = self._hyper(group, "lr")
            beta1, beta2 = group["betas"]
            beta1, beta2 = float(beta1), float(beta2)
            eps = group["eps"]
            wd = group["weight_decay"]
            amsgrad = group["amsgrad"]
            maximize = group["maximize"]
            decoupled = group.get("decoupled_weight_decay", False)
            fused = kernel if group.get("fused") is not False else None
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
                    if amsgrad:
                        state["max_exp_avg_sq"] = _zeros_like(p)
                step = _incr_step(state)
                m = state["exp_avg"]._data
                v = state["exp_avg_sq"]._data
                mx = state["max_exp_avg_sq"]._data if amsgrad else None
                if fused is not None:
                    try:
                        fused(d, g, m, v, mx, lr, beta1, beta2, eps, wd, step, maximize,
                              decoupled, threads)
                    except (TypeError, ValueError):
                        pass    # checked before it writes: NumPy takes what C does not
                    else:
                        p._bump_version()
                        continue
                _numpy_step(d, g, m, v, mx, lr, beta1, beta2, eps, wd, step, maximize,
                            decoupled)
                p._bump_version()
        return loss


def _numpy_step(d, g, m, v, mx, lr: float, beta1: float, beta2: float, eps: float,
                wd: float, step: float, maximize: bool, decoupled: bool) -> None:
    """One Adam step on the arrays in place (``mx``: AMSGrad's maximum, or None), in the
    order of operations of torch's single-tensor CPU Adam; ``cadam`` follows this."""
    g = _grad_with_decay(d, g, lr, wd, maximize, decoupled)
    tmp = xp.empty_like(d)
    _adam_moments_(m, v, g, beta1, beta2, tmp)
    step_size = lr / (1.0 - beta1 ** step)
    bc2_sqrt = math.sqrt(1.0 - beta2 ** step)
    if mx is not None:
        xp.maximum(mx, v, out=mx)
        xp.sqrt(mx, out=tmp)
    else:
        xp.sqrt(v, out=tmp)
    tmp /= bc2_sqrt
    tmp += eps
    den = tmp
    num = xp.multiply(m, -step_size)
    num /= den
    d += num
