"""Fused normalization: ``(x - mean) / sqrt(var + eps) * w + b`` in one op.

``normalize`` reduces over ``dims`` (batch norm: batch and spatial dims; layer norm: the
trailing dims; instance norm: the spatial dims) and applies an optional affine ``w``, ``b``
that spans the dims ``wdims`` of ``x``. It also returns the (biased) mean and variance,
which batch norm needs for its running statistics.
"""

from __future__ import annotations

from ..backend import xp
from .registry import Op, register

__all__: list[str] = []


def _wshape(shape, wdims) -> tuple:
    return tuple(s if i in wdims else 1 for i, s in enumerate(shape))


#: arrays at least this big use the C kernels of ember.backend.ckernels where they build
_C_MIN = 256


def _c_forward(ctx, x, w, b, dims, wdims, eps):
    """Layer norm over the trailing ``dims`` (affine over the same dims or none) as one C pass
    per row; None where it doesn't apply (then the NumPy code runs)."""
    k = len(dims)
    if x.size < _C_MIN or dims != tuple(range(x.ndim - k, x.ndim)) or wdims not in (dims, ()):
        return None
    from ..backend import ckernels
    stat_shape = x.shape[:x.ndim - k] + (1,) * k
    y = xp.empty_like(x)
    mean, rstd, var = (xp.empty(stat_shape, x.dtype) for _ in range(3))
    m = x.size // mean.size
    if not ckernels.layer_norm(x, w, b, eps, y, mean, rstd, var, m=m):
        return None
    ctx.xhat, ctx.invstd, ctx.mean, ctx.m = None, rstd, mean, m
    return y, mean, var


def _c_backward(ctx, g, x, w):
    from ..backend import ckernels
    nx, nw, nb = ctx.needs_input_grad
    res = ckernels.layer_norm_backward(g, x, ctx.mean, ctx.invstd, w, need_input=nx,
                                       need_weight=nw, need_bias=nb, m=ctx.m)
    if res is None:
        return None
    gx, gw, gb = res
    shape = x.shape[x.ndim - len(ctx.p[0]):]
    return gx, None if gw is None else gw.reshape(shape), None if gb is None else gb.reshape(shape)


@register
class Normalize(Op):
    name = "normalize"
    nondiff_outputs = (1, 2)

    @staticmethod
    def forward(ctx, x, w, b, dims, wdims, eps):
        ctx.save_for_backward(x, w)
        ctx.p = (dims, wdims, eps)
        res = _c_forward(ctx, x, w, b, dims, wdims, eps)
        if res is not None:
            return res
        mean = x.mean(axis=dims, keepdims=True)
        xc = x - mean
        var = xp.mean(xc * xc, axis=dims, keepdims=True)
        invstd = 1.0 / xp.sqrt(var + eps)
        xhat = xc * invstd
        ws = _wshape(x.shape, wdims)
        if w is not None:
            y = xhat * w.reshape(ws)
            if b is not None:
                y += b.reshape(ws)
        elif b is not None:
            y = xhat + b.reshape(ws)
        else:
            y = xhat
        # first-order backward reuses these; higher orders recompute them from x
        ctx.xhat, ctx.invstd = xhat, invstd
        return y, mean, var

    @staticmethod
    def backward(ctx, F, g, _gm=None, _gv=None):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        dims, wdims, eps = ctx.p
        n = 1
        for d in dims:
            n *= x.shape[d]
        inv_n = 1.0 / max(n, 1)
        if getattr(ctx, "_tensor_mode", False):
            xc = x - F.sum(x, dim=dims, keepdim=True) * inv_n
            invstd = (F.sum(xc * xc, dim=dims, keepdim=True) * inv_n + eps) ** -0.5
            xhat = xc * invstd
        elif ctx.xhat is None:  # the C forward ran: one fused C pass, or recompute xhat
            grads = _c_backward(ctx, g, x, w)
            if grads is not None:
                return grads
            invstd = ctx.invstd
            xhat = (x - ctx.mean) * invstd
        else:
            xhat, invstd = ctx.xhat, ctx.invstd
        ws = _wshape(x.shape, wdims)
        other = tuple(i for i in range(x.ndim) if i not in wdims)
        gx = gw = gb = None
        if wdims and sorted(dims + wdims) == list(range(x.ndim)):
            # batch/instance norm: the affine dims are exactly the kept dims, so the sums the
            # input gradient needs are the weight and bias gradients (scaled by w)
            sg = F.sum(g, dim=dims, keepdim=True)
            sgx = F.sum(g * xhat, dim=dims, keepdim=True)
            if nx:
                scale = invstd * F.reshape(w, shape=ws) if w is not None else invstd
                gx = scale * (g - sg * inv_n - xhat * (sgx * inv_n))
            if nw:
                gw = F.reshape(sgx, shape=tuple(w.shape))
            if nb:
                gb = F.reshape(sg, shape=tuple(s for i, s in enumerate(x.shape) if i in wdims))
            return gx, gw, gb
        if nx:
            gxhat = g * F.reshape(w, shape=ws) if w is not None else g
            gx = invstd * (gxhat - F.sum(gxhat, dim=dims, keepdim=True) * inv_n
                           - xhat * (F.sum(gxhat * xhat, dim=dims, keepdim=True) * inv_n))
        if nw:
            gw = F.reshape(F.sum(g * xhat, dim=other, keepdim=False), shape=tuple(w.shape))
        if nb:
            gb = F.sum(g, dim=other, keepdim=False)
            gb = F.reshape(gb, shape=tuple(s for i, s in enumerate(x.shape) if i in wdims))
        return gx, gw, gb
