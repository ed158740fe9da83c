"""The softmax family: logsumexp, softmax and log_softmax (numerically stable)."""

from __future__ import annotations

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from ._util import norm_dim
from .arith import cast
from .reduction import _axes, _dname, _drop_dims, _grad_kept
from .registry import Op, install_methods, register

__all__ = ["logsumexp", "softmax", "log_softmax"]


# ---------------------------------------------------------------- logsumexp


def _float_input(input: Tensor) -> Tensor:
    if input._data.dtype.kind in "biu":
        return cast(input, dtypes.get_default_dtype())
    return input


@register
class Logsumexp(Op):
    """``log(sum(exp(x)))`` computed around the maximum, so it neither overflows nor underflows."""

    name = "logsumexp"

    @staticmethod
    def forward(ctx, x, dim, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        with xp.errstate(divide="ignore"):
            if x.size == 0:
                out = xp.log(xp.sum(xp.exp(x), axis=dim, keepdims=True))
            else:
                m = xp.max(x, axis=dim, keepdims=True)
                m = xp.where(xp.isfinite(m), m, xp.zeros((), x.dtype))
                out = xp.log(xp.sum(xp.exp(x - m), axis=dim, keepdims=True)) + m
        out = _drop_dims(out, dim, keepdim)
        ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        x, out = ctx.saved_tensors
        return _grad_kept(F, g, ctx) * F.exp(x - _grad_kept(F, out, ctx))


def logsumexp(input: Tensor, dim, keepdim: bool = False) -> Tensor:
    """``log(sum(exp(input), dim))``, numerically stable.

    Example:
        >>> import ember
        >>> ember.logsumexp(ember.tensor([0.0, 0.0]), dim=0)
        tensor(0.6931)
    """
    input = _float_input(input)
    return Logsumexp.apply(input, dim=_axes(dim, input.ndim, "logsumexp"), keepdim=keepdim)


# ---------------------------------------------------------------- softmax


def _softmax_axis(x, dim):
    return None if x.ndim == 0 else dim


#: arrays at least this big use the C kernels of ember.backend.ckernels where they build
_C_MIN = 256


def _c_rows(name: str, x, dim):
    """The result of C kernel ``name`` over the last dim (one fused pass per row), or None
    where it doesn't apply (small or non-contiguous input, other dim, no C compiler)."""
    if x.size < _C_MIN or dim % x.ndim != x.ndim - 1:
        return None
    from ..backend import ckernels
    out = xp.empty_like(x)
    return out if getattr(ckernels, name)(x, out) else None


@register
class Softmax(Op):
    name = "softmax"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = (dim,)
        out = _c_rows("softmax", x, dim)
        if out is None and x.size == 0:
            out = x.copy()
        elif out is None:
            ax = _softmax_axis(x, dim)
            with xp.errstate(invalid="ignore"):
                e = xp.exp(x - xp.max(x, axis=ax, keepdims=True))
                out = e / xp.sum(e, axis=ax, keepdims=True)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        go = g * out
        return go - out * F.sum(go, dim=ctx.dim if out.ndim else None, keepdim=True, dtype=None)


@register
class LogSoftmax(Op):
    name = "log_softmax"

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim = (dim,)
        out = _c_rows("log_softmax", x, dim)
        if out is None and x.size == 0:
            out = x.copy()
        elif out is None:
            ax = _softmax_axis(x, dim)
            with xp.errstate(invalid="ignore", divide="ignore"):
                s = x - xp.max(x, axis=ax, keepdims=True)
                out = s - xp.log(xp.sum(xp.exp(s), axis=ax, keepdims=True))
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        total = F.sum(g, dim=ctx.dim if out.ndim else None, keepdim=True, dtype=None)
        return g - F.exp(out) * total


def _softmax_input(input: Tensor, dim, dtype, kernel: str):
    if dtype is not None:
        input = cast(input, dtype)
    if input._data.dtype.kind != "f":
        raise NotImplementedError(f'"{kernel}_lastdim_kernel_impl" not implemented for '
                                  f"'{_dname(input)}'")
    return input, norm_dim(dim, input.ndim, kernel)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x), dim)``, computed with the maximum subtracted.

    Example:
        >>> import ember
        >>> ember.softmax(ember.tensor([0.0, 0.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    input, d = _softmax_input(input, dim, dtype, "softmax")
    return Softmax.apply(input, dim=d)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    """``log(softmax(x, dim))``, computed stably as ``x - logsumexp(x, dim)``.

    Example:
        >>> import ember
        >>> ember.log_softmax(ember.tensor([0.0, 0.0]), dim=0)
        tensor([-0.6931, -0.6931])
    """
    input, d = _softmax_input(input, dim, dtype, "log_softmax")
    return LogSoftmax.apply(input, dim=d)


install_methods({"logsumexp": logsumexp, "softmax": softmax, "log_softmax": log_softmax})
