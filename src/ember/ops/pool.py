"""Pooling ops (1-D and 2-D, on (N, C, *spatial) arrays).

Max pooling returns flat indices into each (n, c) plane of the unpadded input (torch's
convention); its gradient scatters through them (``pool_scatter``), and gathering
(``pool_gather``) is the adjoint of scattering, so gradients of any order stay closed.
Average pooling and its backward (``avg_pool_backward``) are likewise each other's adjoints.
"""

from __future__ import annotations

import math

from ..backend import xp
from .conv import windows
from .registry import Op, register

__all__: list[str] = []


def _prod(shape) -> int:
    out = 1
    for s in shape:
        out *= s
    return out


def pool_out_len(n: int, k: int, s: int, p: int, d: int, ceil_mode: bool) -> int:
    """torch's pooling output size (a ceil-mode window must start inside the input or
    left padding)."""
    num = n + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)
    out = num // s + 1
    if ceil_mode and (out - 1) * s >= n + p:
        out -= 1
    return out


def _lift(a, nd: int):
    return a if nd == 2 else a.reshape(a.shape[:2] + (1,) + a.shape[2:])


def _lift_p(nd: int, *params):
    """1-D params (tuples of length 1) lifted to 2-D with a unit height."""
    if nd == 2:
        return params
    fill = {0: 1, 1: 1, 2: 0, 3: 1}
    return tuple((fill[i],) + tuple(p) for i, p in enumerate(params))


def _geometry(hw, ksize, stride, padding, dilation, ceil_mode):
    out = tuple(pool_out_len(hw[i], ksize[i], stride[i], padding[i], dilation[i], ceil_mode)
                for i in range(2))
    # right/bottom padding so every (ceil-mode) window lies inside the padded array
    hi = tuple(max(0, (out[i] - 1) * stride[i] + dilation[i] * (ksize[i] - 1) + 1
                   - hw[i] - padding[i]) for i in range(2))
    return out, hi


@register
class MaxPool(Op):
    """Max over windows; returns (values, flat indices)."""

    name = "max_pool"
    nondiff_outputs = (1,)

    @staticmethod
    def forward(ctx, x, ksize, stride, padding, dilation, ceil_mode):
        nd = x.ndim - 2
        k2, s2, p2, d2 = _lift_p(nd, ksize, stride, padding, dilation)
        x4 = _lift(x, nd)
        n, c, h, w = x4.shape
        out_hw, hi = _geometry((h, w), k2, s2, p2, d2, ceil_mode)
        if x.dtype.kind == "f":
            fill = -math.inf
        else:
            fill = xp.iinfo(x.dtype).min
        if any(p2) or any(hi):
            xp_ = xp.pad(x4, ((0, 0), (0, 0), (p2[0], hi[0]), (p2[1], hi[1])),
                         constant_values=fill)
        else:
            xp_ = x4
        # window elements last: argmax over a trailing axis avoids NumPy's internal transpose
        cols = windows(xp_, k2, s2, d2, out_hw).transpose(0, 1, 4, 5, 2, 3)
        cols = cols.reshape(n, c, out_hw[0], out_hw[1], k2[0] * k2[1])
        arg = cols.argmax(axis=-1)
        vals = xp.take_along_axis(cols, arg[..., None], axis=-1)[..., 0]
        # flat index = window origin + the argmax's offset inside the window
        offs = (xp.arange(k2[0]).reshape(-1, 1) * (d2[0] * w)
                + xp.arange(k2[1]) * d2[1]).astype(xp.int64).ravel()
        origin = ((xp.arange(out_hw[0]) * s2[0] - p2[0]).reshape(-1, 1) * w
                  + xp.arange(out_hw[1]) * s2[1] - p2[1]).astype(xp.int64)
        idx = offs.take(arg)
        idx += origin
        shape = x.shape[:2] + (out_hw if nd == 2 else out_hw[1:])
        idx = idx.reshape(shape)
        ctx.save_for_backward(idx)
        ctx.size = x.shape[2:]
        # windows that cannot overlap give distinct indices: a plain put suffices
        ctx.unique = all(s2[i] >= d2[i] * (k2[i] - 1) + 1 for i in range(2))
        return vals.reshape(shape), idx

    @staticmethod
    def backward(ctx, F, g, _gi=None):
        (idx,) = ctx.saved_tensors
        return F.pool_scatter(g, idx, size=tuple(ctx.size), unique=ctx.unique)


@register
class PoolScatter(Op):
    """Scatter-add g (N, C, *out) into zeros (N, C, *size) at flat spatial indices."""

    name = "pool_scatter"

    @staticmethod
    def forward(ctx, g, idx, size, unique):
        ctx.save_for_backward(idx)
        n, c = g.shape[:2]
        m, k = _prod(size), _prod(idx.shape[2:])
        gf = g.reshape(n * c, k)
        ifl = idx.reshape(n * c, k)
        if unique:
            out = xp.zeros((n * c, m), dtype=g.dtype)
            xp.put_along_axis(out, ifl, gf, axis=1)
        else:
            flat = (ifl + (xp.arange(n * c) * m)[:, None]).ravel()
            out = xp.bincount(flat, weights=gf.ravel(), minlength=n * c * m).astype(g.dtype)
        return out.reshape((n, c) + tuple(size))

    @staticmethod
    def backward(ctx, F, u):
        (idx,) = ctx.saved_tensors
        return F.pool_gather(u, idx), None


@register
class PoolGather(Op):
    """x (N, C, *size) read at flat spatial indices idx (N, C, *out)."""

    name = "pool_gather"

    @staticmethod
    def forward(ctx, x, idx):
        ctx.save_for_backward(idx)
        ctx.size = x.shape[2:]
        n, c = x.shape[:2]
        out = xp.take_along_axis(x.reshape(n, c, _prod(x.shape[2:])),
                                 idx.reshape(n, c, _prod(idx.shape[2:])), axis=2)
        return out.reshape(idx.shape)

    @staticmethod
    def backward(ctx, F, g):
        (idx,) = ctx.saved_tensors
        return F.pool_scatter(g, idx, size=tuple(ctx.size), unique=False), None


def _avg_divisor(hw, out_hw, ksize, stride, padding, count_include_pad, divisor_override, dtype):
    """The (Ho, Wo) divisor of each window, as torch counts it."""
    if divisor_override:
        return float(divisor_override)
    parts = []
    for i in range(2):
        start = xp.arange(out_hw[i]) * stride[i] - padding[i]
        end = xp.minimum(start + ksize[i], hw[i] + padding[i])
        if count_include_pad:
            parts.append(end - start)
        else:
            parts.append(xp.minimum(end, hw[i]) - xp.maximum(start, 0))
    return (parts[0][:, None] * parts[1][None, :]).astype(dtype)


def _avg_geometry(hw, ksize, stride, padding, ceil_mode):
    return _geometry(hw, ksize, stride, padding, (1, 1), ceil_mode)


@register
class AvgPool(Op):
    """Mean over windows (torch's divisor rules for padding and ceil mode)."""

    name = "avg_pool"

    @staticmethod
    def forward(ctx, x, ksize, stride, padding, ceil_mode, count_include_pad, divisor_override):
        nd = x.ndim - 2
        ctx.size = x.shape[2:]
        ctx.params = dict(ksize=ksize, stride=stride, padding=padding, ceil_mode=ceil_mode,
                          count_include_pad=count_include_pad, divisor_override=divisor_override)
        k2, s2, p2 = _lift_p(nd, ksize, stride, padding)
        x4 = _lift(x, nd)
        hw = x4.shape[2:]
        out_hw, hi = _avg_geometry(hw, k2, s2, p2, ceil_mode)
        if any(p2) or any(hi):
            x4 = xp.pad(x4, ((0, 0), (0, 0), (p2[0], hi[0]), (p2[1], hi[1])))
        ho, wo = out_hw
        acc = None
        for i in range(k2[0]):
            for j in range(k2[1]):
                sl = x4[:, :, i:i + s2[0] * (ho - 1) + 1:s2[0], j:j + s2[1] * (wo - 1) + 1:s2[1]]
                acc = sl.copy() if acc is None else acc.__iadd__(sl)
        acc /= _avg_divisor(hw, out_hw, k2, s2, p2, count_include_pad, divisor_override,
                            x.dtype)
        return acc.reshape(x.shape[:2] + (out_hw if nd == 2 else out_hw[1:]))

    @staticmethod
    def backward(ctx, F, g):
        return F.avg_pool_backward(g, size=tuple(ctx.size), **ctx.params)


@register
class AvgPoolBackward(Op):
    """The adjoint of ``avg_pool``: spread g / divisor over each window."""

    name = "avg_pool_backward"

    @staticmethod
    def forward(ctx, g, size, ksize, stride, padding, ceil_mode, count_include_pad,
                divisor_override):
        nd = g.ndim - 2
        ctx.params = dict(ksize=ksize, stride=stride, padding=padding, ceil_mode=ceil_mode,
                          count_include_pad=count_include_pad, divisor_override=divisor_override)
        k2, s2, p2 = _lift_p(nd, ksize, stride, padding)
        hw = (1,) + tuple(size) if nd == 1 else tuple(size)
        out_hw, hi = _avg_geometry(hw, k2, s2, p2, ceil_mode)
        g4 = _lift(g, nd) / _avg_divisor(hw, out_hw, k2, s2, p2, count_include_pad,
                                         divisor_override, g.dtype)
        n, c = g.shape[:2]
        out = xp.zeros((n, c, hw[0] + p2[0] + hi[0], hw[1] + p2[1] + hi[1]), dtype=g.dtype)
        ho, wo = out_hw
        for i in range(k2[0]):
            for j in range(k2[1]):
                out[:, :, i:i + s2[0] * (ho - 1) + 1:s2[0], j:j + s2[1] * (wo - 1) + 1:s2[1]] += g4
        out = out[:, :, p2[0]:p2[0] + hw[0], p2[1]:p2[1] + hw[1]]
        return xp.ascontiguousarray(out).reshape((n, c) + tuple(size))

    @staticmethod
    def backward(ctx, F, u):
        return F.avg_pool(u, **ctx.params)


def adaptive_bounds(n: int, out: int):
    """torch's adaptive windows: [floor(i*n/out), ceil((i+1)*n/out))."""
    return [((i * n) // out, -((-(i + 1) * n) // out)) for i in range(out)]


@register
class AdaptiveMaxPool(Op):
    """Max over adaptive windows; returns (values, flat indices)."""

    name = "adaptive_max_pool"
    nondiff_outputs = (1,)

    @staticmethod
    def forward(ctx, x, output_size):
        nd = x.ndim - 2
        x4 = _lift(x, nd)
        osz = (1,) + tuple(output_size) if nd == 1 else tuple(output_size)
        n, c, h, w = x4.shape
        vals = xp.empty((n, c) + osz, dtype=x.dtype)
        idx = xp.empty((n, c) + osz, dtype=xp.int64)
        for oi, (h0, h1) in enumerate(adaptive_bounds(h, osz[0])):
            for oj, (w0, w1) in enumerate(adaptive_bounds(w, osz[1])):
                blk = x4[:, :, h0:h1, w0:w1].reshape(n, c, (h1 - h0) * (w1 - w0))
                a = blk.argmax(axis=2)
                vals[:, :, oi, oj] = xp.take_along_axis(blk, a[:, :, None], axis=2)[:, :, 0]
                bi, bj = xp.divmod(a, w1 - w0)
                idx[:, :, oi, oj] = (h0 + bi) * w + w0 + bj
        shape = x.shape[:2] + tuple(output_size)
        idx = idx.reshape(shape)
        ctx.save_for_backward(idx)
        ctx.size = x.shape[2:]
        return vals.reshape(shape), idx

    @staticmethod
    def backward(ctx, F, g, _gi=None):
        (idx,) = ctx.saved_tensors
        return F.pool_scatter(g, idx, size=tuple(ctx.size), unique=False)
