"""Convolution ops (1-D and 2-D): im2col windows plus one batched GEMM.

Three bilinear ops come from one trilinear form ``<g, conv(x, w)>``, so each one's
backward is made of the other two and gradients of any order stay closed:

* ``convolution(x, w, b)``: the forward conv;
* ``conv_transpose(g, w, b)``: its adjoint in ``x`` (also ``conv_transpose2d``);
* ``convolution_backward_weight(x, g)``: its adjoint in ``w``.

``im2col`` and ``col2im`` (``unfold`` and ``fold``) are each other's adjoints too.

Every op takes spatial params as tuples of length ``nd`` (1 or 2); ``padding`` is a tuple
of ``(low, high)`` pairs so that ``padding='same'`` with even kernels pads like torch.
Arrays are handled internally as 2-D (a 1-D op gets a unit height).
"""

from __future__ import annotations

from ..backend import xp
from .registry import Op, register

__all__: list[str] = []

_as_strided = xp.lib.stride_tricks.as_strided


def _to2d(nd: int, stride, padding, dilation):
    """1-D params lifted to 2-D (unit height, no height padding)."""
    if nd == 2:
        return stride, padding, dilation
    return (1,) + tuple(stride), ((0, 0),) + tuple(padding), (1,) + tuple(dilation)


def _lift(a, nd: int):
    """(N, C, L) -> (N, C, 1, L); 2-D arrays pass through."""
    return a if nd == 2 else a.reshape(a.shape[:2] + (1,) + a.shape[2:])


def _dense(a):
    """A C-contiguous array: incoming gradients are often zero-stride broadcasts, which
    BLAS cannot use."""
    return a if a.flags.c_contiguous else xp.ascontiguousarray(a)


def _pad(x, padding):
    (t, b), (left, r) = padding
    if not (t or b or left or r):
        return x
    n, c, h, w = x.shape
    out = xp.zeros((n, c, h + t + b, w + left + r), dtype=x.dtype)
    out[:, :, t:t + h, left:left + w] = x
    return out


def out_len(n: int, k: int, s: int, d: int, lo: int, hi: int) -> int:
    return (n + lo + hi - d * (k - 1) - 1) // s + 1


def windows(xp_, ksize, stride, dilation, out_hw):
    """A read-only strided view (N, C, kh, kw, Ho, Wo) of a padded (N, C, H, W) array."""
    n, c = xp_.shape[:2]
    sn, sc, sh, sw = xp_.strides
    return _as_strided(xp_, (n, c) + tuple(ksize) + tuple(out_hw),
                       (sn, sc, sh * dilation[0], sw * dilation[1], sh * stride[0], sw * stride[1]),
                       writeable=False)


def col2im(cols, padded_hw, stride, dilation):
    """Sum columns (N, C, kh, kw, Ho, Wo) back into a zero (N, C, Hp, Wp) array."""
    n, c, kh, kw, ho, wo = cols.shape
    out = xp.zeros((n, c) + tuple(padded_hw), dtype=cols.dtype)
    sh, sw = stride
    dh, dw = dilation
    for i in range(kh):
        for j in range(kw):
            out[:, :, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                j * dw:j * dw + sw * (wo - 1) + 1:sw] += cols[:, :, i, j]
    return out


def _crop(x, padding, hw):
    (t, _), (left, _) = padding
    if x.shape[2:] == tuple(hw):
        return x
    return x[:, :, t:t + hw[0], left:left + hw[1]]


def _im2col(x, ksize, stride, padding, dilation, out_hw):
    """(N, C, H, W) -> contiguous columns (N, C*kh*kw, Ho*Wo)."""
    v = windows(_pad(x, padding), ksize, stride, dilation, out_hw)
    n, c = x.shape[:2]
    return v.reshape(n, c * ksize[0] * ksize[1], out_hw[0] * out_hw[1])


def _wgrad_cols(cols, g4, groups: int):
    """Weight gradient (G, O/G, C/G*kh*kw) from columns (N, C*kh*kw, L) and g (N, O, *out)."""
    n, o = g4.shape[:2]
    ck, nl = cols.shape[1] // groups, cols.shape[2]
    # a batched GEMM per sample, then a sum over the batch, beats one long-K GEMM here
    return xp.matmul(_dense(g4).reshape(n, groups, o // groups, nl),
                     cols.reshape(n, groups, ck, nl).transpose(0, 1, 3, 2)).sum(0)


def _sum_dims(nd: int) -> tuple:
    return (0,) + tuple(range(2, 2 + nd))


def _bias_view(b, nd: int):
    return b.reshape((1, -1) + (1,) * nd)


@register
class Convolution(Op):
    """``conv1d`` / ``conv2d``: x (N, C, *sp), w (O, C/groups, *k), b (O,) or None."""

    name = "convolution"

    @staticmethod
    def forward(ctx, x, w, b, stride, padding, dilation, groups):
        nd = x.ndim - 2
        ctx.save_for_backward(x, w)
        ctx.p = (stride, padding, dilation, groups)
        s2, p2, d2 = _to2d(nd, stride, padding, dilation)
        x4, w4 = _lift(x, nd), _lift(w, nd)
        n, c, h, wd = x4.shape
        o, cg, kh, kw = w4.shape
        out_hw = (out_len(h, kh, s2[0], d2[0], *p2[0]), out_len(wd, kw, s2[1], d2[1], *p2[1]))
        cols = _im2col(x4, (kh, kw), s2, p2, d2, out_hw)
        if ctx.recording and ctx.needs_input_grad[1]:
            ctx.cols = cols
        g = groups
        if g == 1:
            y = xp.matmul(w4.reshape(o, cg * kh * kw), cols)
        else:
            y = xp.matmul(w4.reshape(g, o // g, cg * kh * kw),
                          cols.reshape(n, g, cg * kh * kw, out_hw[0] * out_hw[1]))
        y = y.reshape((n, o) + (out_hw if nd == 2 else out_hw[1:]))
        if b is not None:
            y += _bias_view(b, nd)
        return y

    @staticmethod
    def backward(ctx, F, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = ctx.needs_input_grad
        stride, padding, dilation, groups = ctx.p
        nd = x.ndim - 2
        gx = gw = gb = None
        if nx:
            gx = F.conv_transpose(g, w, None, stride=stride, padding=padding, dilation=dilation,
                                  groups=groups, out_size=tuple(x.shape[2:]))
        # first order reuses the forward's columns once (then drops them, as torch frees
        # saved tensors); a retained graph's second pass recomputes them
        cols = getattr(ctx, "cols", None)
        ctx.cols = None
        if nw and cols is not None and not getattr(ctx, "_tensor_mode", True):
            gw = _wgrad_cols(cols, _lift(g, nd), groups).reshape(w.shape)
        elif nw:
            gw = F.convolution_backward_weight(x, g, stride=stride, padding=padding,
                                               dilation=dilation, groups=groups,
                                               ksize=tuple(w.shape[2:]))
        if nb:
            gb = F.sum(g, dim=_sum_dims(nd), keepdim=False)
        return gx, gw, gb


@register
class ConvTranspose(Op):
    """The adjoint of ``convolution`` in its input: g (N, O, *sp_out), w (O, C/groups, *k).

    ``out_size`` is the spatial size of the result (torch's ``output_padding`` picks it).
    """

    name = "conv_transpose"

    @staticmethod
    def forward(ctx, g, w, b, stride, padding, dilation, groups, out_size):
        nd = g.ndim - 2
        ctx.save_for_backward(g, w)
        ctx.p = (stride, padding, dilation, groups)
        s2, p2, d2 = _to2d(nd, stride, padding, dilation)
        g4, w4 = _lift(g, nd), _lift(w, nd)
        out_hw = (1,) + tuple(out_size) if nd == 1 else tuple(out_size)
        n, o, ho, wo = g4.shape
        _, cg, kh, kw = w4.shape
        gr = groups
        # channels-last columns (C, kh, kw, Ho, Wo, N): one GEMM, and the col2im adds below
        # then run over long contiguous rows instead of short (Wo-long) ones
        gt = g4.transpose(1, 2, 3, 0).reshape(gr, o // gr, ho * wo * n)
        if gr == 1:
            cols = w4.reshape(o, cg * kh * kw).T @ gt[0]
        else:
            cols = xp.matmul(w4.reshape(gr, o // gr, cg * kh * kw).transpose(0, 2, 1), gt)
        cols = cols.reshape(gr * cg, kh, kw, ho, wo, n)
        (top, bottom), (left, right) = p2
        out = xp.zeros((gr * cg, out_hw[0] + top + bottom, out_hw[1] + left + right, n),
                       dtype=cols.dtype)
        (sh, sw), (dh, dw) = s2, d2
        for i in range(kh):
            for j in range(kw):
                out[:, i * dh:i * dh + sh * (ho - 1) + 1:sh,
                    j * dw:j * dw + sw * (wo - 1) + 1:sw] += cols[:, i, j]
        out = out[:, top:top + out_hw[0], left:left + out_hw[1]]
        y = xp.ascontiguousarray(out.transpose(3, 0, 1, 2))
        y = y.reshape((n, gr * cg) + tuple(out_size))
        if b is not None:
            y = y + _bias_view(b, nd)
        return y

    @staticmethod
    def backward(ctx, F, h):
        g, w = ctx.saved_tensors
        ng, nw, nb = ctx.needs_input_grad
        stride, padding, dilation, groups = ctx.p
        nd = g.ndim - 2
        gg = gw = gb = None
        if ng:
            gg = F.convolution(h, w, None, stride=stride, padding=padding, dilation=dilation,
                               groups=groups)
        if nw:
            gw = F.convolution_backward_weight(h, g, stride=stride, padding=padding,
                                               dilation=dilation, groups=groups,
                                               ksize=tuple(w.shape[2:]))
        if nb:
            gb = F.sum(h, dim=_sum_dims(nd), keepdim=False)
        return gg, gw, gb


@register
class ConvolutionBackwardWeight(Op):
    """The adjoint of ``convolution`` in its weight: sum over (n, y) of g times x's windows."""

    name = "convolution_backward_weight"

    @staticmethod
    def forward(ctx, x, g, stride, padding, dilation, groups, ksize):
        nd = x.ndim - 2
        ctx.save_for_backward(x, g)
        ctx.p = (stride, padding, dilation, groups)
        s2, p2, d2 = _to2d(nd, stride, padding, dilation)
        x4, g4 = _lift(x, nd), _lift(g, nd)
        k2 = (1,) + tuple(ksize) if nd == 1 else tuple(ksize)
        n, c = x4.shape[:2]
        o, ho, wo = g4.shape[1:]
        gr = groups
        cols = _im2col(x4, k2, s2, p2, d2, (ho, wo))
        gw = _wgrad_cols(cols, g4, gr)
        return gw.reshape((o, c // gr) + tuple(ksize))

    @staticmethod
    def backward(ctx, F, u):
        x, g = ctx.saved_tensors
        nx, ng = ctx.needs_input_grad
        stride, padding, dilation, groups = ctx.p
        gx = gg = None
        if nx:
            gx = F.conv_transpose(g, u, None, stride=stride, padding=padding, dilation=dilation,
                                  groups=groups, out_size=tuple(x.shape[2:]))
        if ng:
            gg = F.convolution(x, u, None, stride=stride, padding=padding, dilation=dilation,
                               groups=groups)
        return gx, gg


@register
class Im2col(Op):
    """``unfold``: (N, C, H, W) -> (N, C*kh*kw, L) sliding blocks."""

    name = "im2col"

    @staticmethod
    def forward(ctx, x, ksize, stride, padding, dilation):
        ctx.p = (ksize, stride, padding, dilation)
        ctx.hw = x.shape[2:]
        out_hw = tuple(out_len(x.shape[2 + i], ksize[i], stride[i], dilation[i], *padding[i])
                       for i in range(2))
        return _im2col(x, ksize, stride, padding, dilation, out_hw)

    @staticmethod
    def backward(ctx, F, g):
        ksize, stride, padding, dilation = ctx.p
        return F.col2im(g, output_size=tuple(ctx.hw), ksize=ksize, stride=stride,
                        padding=padding, dilation=dilation)


@register
class Col2im(Op):
    """``fold``: (N, C*kh*kw, L) -> (N, C, H, W), summing overlapping blocks."""

    name = "col2im"

    @staticmethod
    def forward(ctx, x, output_size, ksize, stride, padding, dilation):
        ctx.p = (ksize, stride, padding, dilation)
        n, ck, _ = x.shape
        c = ck // (ksize[0] * ksize[1])
        out_hw = tuple(out_len(output_size[i], ksize[i], stride[i], dilation[i], *padding[i])
                       for i in range(2))
        cols = x.reshape((n, c) + tuple(ksize) + out_hw)
        padded = tuple(output_size[i] + sum(padding[i]) for i in range(2))
        return xp.ascontiguousarray(_crop(col2im(cols, padded, stride, dilation), padding,
                                          output_size))

    @staticmethod
    def backward(ctx, F, g):
        ksize, stride, padding, dilation = ctx.p
        return F.im2col(g, ksize=ksize, stride=stride, padding=padding, dilation=dilation)
