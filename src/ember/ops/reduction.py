"""Reductions: sum, mean and friends, plus ``sum_to`` (the adjoint of broadcasting)."""

from __future__ import annotations

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from ._util import kept_shape, norm_dims
from .registry import Op, install_methods, register

__all__ = ["sum", "mean", "sum_to_size"]



@register
class SumTo(Op):
    """Sum a broadcast array back to ``shape``: the gradient of ``expand``."""

    name = "sum_to"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        if x.shape == shape:
            return x
        lead = x.ndim - len(shape)
        if lead < 0:
            raise ValueError(f"cannot sum shape {x.shape} to {shape}")
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
        for i, s in enumerate(shape):
            if s != 1 and x.shape[lead + i] != s:
                raise ValueError(f"cannot sum shape {x.shape} to {shape}")
        out = x.sum(axis=axes, keepdims=True) if axes else x
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.expand(g, shape=ctx.in_shape)


@register
class Sum(Op):
    name = "sum"

    @staticmethod
    def forward(ctx, x, dim, keepdim, dtype=None):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        if dtype is None and x.dtype.kind in "biu":
            dtype = dtypes.int64
        return xp.sum(x, axis=dim, keepdims=keepdim, dtype=None if dtype is None else dtype.np)

    @staticmethod
    def backward(ctx, F, g):
        if not ctx.keepdim:
            g = F.reshape(g, shape=kept_shape(ctx.in_shape, ctx.dim))
        return F.expand(g, shape=ctx.in_shape)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or all dims).

    Example:
        >>> import ember
        >>> ember.sum(ember.tensor([[1, 2], [3, 4]]), dim=0)
        tensor([4, 6])
    """
    axes = norm_dims(dim, input.ndim, "sum")
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
    return Sum.apply(input, dim=axes, keepdim=keepdim, dtype=dtype)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``; floating inputs only, as in torch.

    Example:
        >>> import ember
        >>> ember.mean(ember.tensor([1.0, 2.0, 3.0]))
        tensor(2.)
    """
    if dtype is not None:
        input = input.to(dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {_dname(input)}")
    axes = norm_dims(dim, input.ndim, "mean")
    n = input._data.size if axes is None else _prod(input._data.shape[a] for a in axes)
    return Sum.apply(input, dim=axes, keepdim=keepdim) / max(n, 0) if n else \
        Sum.apply(input, dim=axes, keepdim=keepdim) * float("nan")


def _prod(it) -> int:
    n = 1
    for s in it:
        n *= s
    return n


def _dname(t: Tensor) -> str:
    return t.dtype.name.capitalize().replace("Int64", "Long").replace("Float32", "Float")


def sum_to_size(input: Tensor, *size) -> Tensor:
    """Sum ``input`` down to a broadcast-compatible ``size``.

    Example:
        >>> import ember
        >>> ember.ones(2, 3).sum_to_size(1, 3)
        tensor([[2., 2., 2.]])
    """
    from ._util import shape_arg
    return SumTo.apply(input, shape=shape_arg(size))


install_methods({"sum": sum, "mean": mean, "sum_to_size": sum_to_size})
