"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_`` and their building blocks.

Example:
    >>> import ember
    >>> from ember import nn
    >>> p = nn.Parameter(ember.zeros(2)); p.grad = ember.tensor([3.0, 4.0])
    >>> nn.utils.clip_grad_norm_([p], max_norm=1.0)
    tensor(5.)
    >>> p.grad
    tensor([0.6000, 0.8000])
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from ...autograd.grad_mode import host_effect
from ...backend import xp
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "get_total_norm",
           "clip_grads_with_norm_"]

_tensor_or_tensors = Tensor | Iterable[Tensor]


def _as_list(tensors: _tensor_or_tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _norm(arr, p: float) -> float:
    a = xp.abs(arr.astype(xp.float64, copy=False)).reshape(-1)
    if p == math.inf:
        return float(a.max()) if a.size else 0.0
    if p == -math.inf:
        return float(a.min()) if a.size else math.inf
    if p == 0:
        return float(xp.count_nonzero(a))
    if p == 1:
        return float(a.sum())
    if p == 2:
        return float(math.sqrt(float(xp.dot(a, a))))
    return float((a ** p).sum() ** (1.0 / p))


def _scalar(value: float, like) -> Tensor:
    return Tensor._make(xp.asarray(value, dtype=like.dtype))


def get_total_norm(tensors: _tensor_or_tensors, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The ``norm_type``-norm of all the tensors together (as if concatenated).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.utils.get_total_norm([ember.tensor([3.0]), ember.tensor([4.0])])
        tensor(5.)
    """
    ts = [t for t in _as_list(tensors) if t is not None]
    norm_type = float(norm_type)
    if not ts:
        return Tensor._make(xp.asarray(0.0, dtype=xp.float32))
    total = _norm(xp.asarray([_norm(t._data, norm_type) for t in ts]), norm_type)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` "
                           f"is non-finite, so it cannot be clipped. To disable this error and "
                           f"scale the gradients by the non-finite norm anyway, set "
                           f"`error_if_nonfinite=False`")
    return _scalar(total, ts[0]._data)


@host_effect
def clip_grads_with_norm_(parameters: _tensor_or_tensors, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:
    """Scale the gradients by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    coef = min(float(max_norm) / (float(total_norm) + 1e-6), 1.0)
    for g in grads:
        g._data *= coef
        g._bump_version()


@host_effect
def clip_grad_norm_(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Rescale gradients in place so their total ``norm_type``-norm is at most ``max_norm``;
    returns the total norm before clipping (``foreach`` is accepted and ignored).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> p = nn.Parameter(ember.ones(4)); p.grad = ember.ones(4)
        >>> nn.utils.clip_grad_norm_(p, 1.0, norm_type="inf")
        tensor(1.)
    """
    params = _as_list(parameters)
    grads = [p.grad for p in params if p.grad is not None]
    total = get_total_norm(grads, norm_type, error_if_nonfinite)
    clip_grads_with_norm_(params, max_norm, total)
    return total


def clip_grad_norm(parameters: _tensor_or_tensors, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """Deprecated alias of :func:`clip_grad_norm_`."""
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@host_effect
def clip_grad_value_(parameters: _tensor_or_tensors, clip_value: float,
                     foreach: bool | None = None) -> None:
    """Clamp every gradient to ``[-clip_value, clip_value]`` in place.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> p = nn.Parameter(ember.zeros(2)); p.grad = ember.tensor([-5.0, 0.5])
        >>> nn.utils.clip_grad_value_(p, 1.0); p.grad
        tensor([-1.0000,  0.5000])
    """
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            xp.clip(p.grad._data, -clip_value, clip_value, out=p.grad._data)
            p.grad._bump_version()
