"""Convolution, pooling, normalization, resampling, pixel shuffle and fold/unfold.

The table ops live in ``ember.ops.conv``, ``ember.ops.pool`` and
``ember.ops.normalization``; this module checks arguments as torch does and maps
torch's signatures onto them.
"""

from __future__ import annotations

import math
import operator

from ...autograd.grad_mode import no_grad
from ...backend import xp
from ...ops._util import const_tensor
from ...ops.conv import Col2im, Convolution, ConvTranspose, Im2col, out_len
from ...ops.normalization import Normalize
from ...ops.pool import (
    AdaptiveMaxPool,
    AvgPool,
    MaxPool,
    PoolScatter,
    adaptive_bounds,
    pool_out_len,
)
from ...ops.registry import OPS, apply_inplace
from ...tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv_transpose1d", "conv_transpose2d", "unfold", "fold",
           "max_pool1d", "max_pool2d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "avg_pool1d", "avg_pool2d", "adaptive_avg_pool1d", "adaptive_avg_pool2d",
           "adaptive_max_pool1d", "adaptive_max_pool2d", "adaptive_max_pool1d_with_indices",
           "adaptive_max_pool2d_with_indices", "lp_pool1d", "lp_pool2d", "max_unpool1d",
           "max_unpool2d", "batch_norm", "layer_norm", "group_norm", "rms_norm",
           "instance_norm", "local_response_norm", "interpolate", "upsample",
           "upsample_nearest", "upsample_bilinear", "pixel_shuffle", "pixel_unshuffle"]

_size = int | tuple


def _int(v, name: str) -> int:
    try:
        return operator.index(v)
    except TypeError:
        raise TypeError(f"argument '{name}' must be tuple of ints, not "
                        f"{type(v).__name__}") from None


def _tuple(v, n: int, name: str = "") -> tuple:
    if isinstance(v, (tuple, list)):
        if len(v) == 1 and n > 1:
            return (_int(v[0], name),) * n
        if len(v) != n:
            raise RuntimeError(f"{name} must be an int or a tuple of {n} ints, got {tuple(v)}")
        return tuple(_int(x, name) for x in v)
    return (_int(v, name),) * n


def _dtname(t: Tensor) -> str:
    return {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor",
            "float16": "torch.HalfTensor"}.get(t.dtype.name, str(t.dtype))


def _batched(input: Tensor, nd: int, name: str) -> bool:
    """Check the rank of an input with ``nd`` spatial dims; True when it has a batch dim."""
    if input.ndim not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to "
                           f"{name}, but got input of size: {list(input.shape)}")
    return input.ndim == nd + 2


def _check_same_dtype(input: Tensor, weight: Tensor, bias) -> None:
    if weight.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_dtname(input)}) and weight type ({_dtname(weight)}) "
                           f"should be the same")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_dtname(input)}) and bias type ({_dtname(bias)}) "
                           f"should be the same")


def _conv_padding(padding, nd: int, ksize, stride, dilation) -> tuple:
    if isinstance(padding, str):
        if padding == "valid":
            return ((0, 0),) * nd
        if padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            tot = [d * (k - 1) for d, k in zip(dilation, ksize)]
            return tuple((t // 2, t - t // 2) for t in tot)
        raise RuntimeError(f"Invalid padding string: '{padding}'")
    return tuple((p, p) for p in _tuple(padding, nd, "padding"))


def _convnd(input, weight, bias, stride, padding, dilation, groups, nd: int, name: str):
    batched = _batched(input, nd, name)
    if not batched:
        input = input.unsqueeze(0)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}D weight for {name}, but got weight of size "
                           f"{list(weight.shape)}")
    _check_same_dtype(input, weight, bias)
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    ksize = tuple(weight.shape[2:])
    pads = _conv_padding(padding, nd, ksize, stride, dilation)
    c = input.shape[1]
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    if weight.shape[0] < groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be at least {groups} at "
                           f"dimension 0, but got weight of size {list(weight.shape)} instead")
    if weight.shape[1] * groups != c or weight.shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(weight.shape)}, expected "
                           f"input{list(input.shape)} to have {weight.shape[1] * groups} "
                           f"channels, but got {c} channels instead")
    if bias is not None and tuple(bias.shape) != (weight.shape[0],):
        raise RuntimeError(f"Given weight of size {list(weight.shape)}, expected bias to be 1-"
                           f"dimensional with {weight.shape[0]} elements, but got bias of size "
                           f"{list(bias.shape)} instead")
    padded = [input.shape[2 + i] + sum(pads[i]) for i in range(nd)]
    eff = [dilation[i] * (ksize[i] - 1) + 1 for i in range(nd)]
    if any(p < e for p, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: "
                           f"({' x '.join(map(str, padded))}). Kernel size: "
                           f"({' x '.join(map(str, eff))}). Kernel size can't be greater than "
                           f"actual input size")
    out = Convolution.apply(input, weight, bias, stride=stride, padding=pads,
                            dilation=dilation, groups=groups)
    return out if batched else out.squeeze(0)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size = 1,
           padding: _size | str = 0, dilation: _size = 1, groups: int = 1) -> Tensor:
    """1-D convolution (cross-correlation) over an (N, C, L) or (C, L) input.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.conv1d(ember.ones(1, 1, 5), ember.ones(1, 1, 3))
        tensor([[[3., 3., 3.]]])
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 1, "conv1d")


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride: _size = 1,
           padding: _size | str = 0, dilation: _size = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation) over an (N, C, H, W) or (C, H, W) input.

    ``padding`` is an int, a pair, ``'valid'`` or ``'same'`` (stride 1 only).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.conv2d(ember.ones(1, 1, 4, 4), ember.ones(2, 1, 3, 3), padding=1).shape
        ember.Size([1, 2, 4, 4])
    """
    return _convnd(input, weight, bias, stride, padding, dilation, groups, 2, "conv2d")


def _conv_transposend(input, weight, bias, stride, padding, output_padding, groups, dilation,
                      nd: int, name: str):
    batched = _batched(input, nd, name)
    if not batched:
        input = input.unsqueeze(0)
    if weight.ndim != nd + 2:
        raise RuntimeError(f"Expected {nd + 2}D weight for {name}, but got weight of size "
                           f"{list(weight.shape)}")
    _check_same_dtype(input, weight, bias)
    stride = _tuple(stride, nd, "stride")
    dilation = _tuple(dilation, nd, "dilation")
    pad = _tuple(padding, nd, "padding")
    opad = _tuple(output_padding, nd, "output_padding")
    for i in range(nd):
        if opad[i] >= stride[i] and opad[i] >= dilation[i]:
            dims = ("height", "width") if nd == 2 else ("width",)
            raise RuntimeError(
                "output padding must be smaller than either stride or dilation, but got "
                + " ".join(f"output_padding_{d}: {opad[j]}" for j, d in enumerate(dims)) + " "
                + " ".join(f"stride_{d}: {stride[j]}" for j, d in enumerate(dims)) + " "
                + " ".join(f"dilation_{d}: {dilation[j]}" for j, d in enumerate(dims)))
    c = input.shape[1]
    if weight.shape[0] != c or c % groups:
        raise RuntimeError(f"Given transposed=1, weight of size {list(weight.shape)}, expected "
                           f"input{list(input.shape)} to have {weight.shape[0]} channels, but "
                           f"got {c} channels instead")
    ksize = tuple(weight.shape[2:])
    out_size = tuple((input.shape[2 + i] - 1) * stride[i] - 2 * pad[i]
                     + dilation[i] * (ksize[i] - 1) + opad[i] + 1 for i in range(nd))
    if any(s <= 0 for s in out_size):
        raise RuntimeError(f"Given input size per channel: {list(input.shape[2:])}. Calculated "
                           f"output size per channel: {list(out_size)}. Output size is too small")
    out = ConvTranspose.apply(input, weight, bias, stride=stride,
                              padding=tuple((p, p) for p in pad), dilation=dilation,
                              groups=groups, out_size=out_size)
    return out if batched else out.squeeze(0)


def conv_transpose1d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _size = 1, padding: _size = 0, output_padding: _size = 0,
                     groups: int = 1, dilation: _size = 1) -> Tensor:
    """1-D transposed convolution; ``weight`` is (C_in, C_out / groups, k).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.conv_transpose1d(ember.ones(1, 1, 3), ember.ones(1, 1, 2))
        tensor([[[1., 2., 2., 1.]]])
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 1, "conv_transpose1d")


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Tensor | None = None,
                     stride: _size = 1, padding: _size = 0, output_padding: _size = 0,
                     groups: int = 1, dilation: _size = 1) -> Tensor:
    """2-D transposed convolution; ``weight`` is (C_in, C_out / groups, kh, kw).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.conv_transpose2d(ember.ones(1, 2, 3, 3), ember.ones(2, 4, 2, 2), stride=2).shape
        ember.Size([1, 4, 6, 6])
    """
    return _conv_transposend(input, weight, bias, stride, padding, output_padding, groups,
                             dilation, 2, "conv_transpose2d")


# ---------------------------------------------------------------- fold / unfold


def unfold(input: Tensor, kernel_size: _size, dilation: _size = 1, padding: _size = 0,
           stride: _size = 1) -> Tensor:
    """Extract sliding blocks: (N, C, H, W) -> (N, C * kh * kw, L) (im2col).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.unfold(ember.ones(1, 2, 4, 4), kernel_size=2).shape
        ember.Size([1, 8, 9])
    """
    if input.ndim not in (3, 4):
        raise RuntimeError(f"Input Error: Only 3D or 4D input Tensors are supported (got "
                           f"{input.ndim}D)")
    batched = input.ndim == 4
    if not batched:
        input = input.unsqueeze(0)
    k = _tuple(kernel_size, 2, "kernel_size")
    d = _tuple(dilation, 2, "dilation")
    p = _tuple(padding, 2, "padding")
    s = _tuple(stride, 2, "stride")
    for i in range(2):
        if out_len(input.shape[2 + i], k[i], s[i], d[i], p[i], p[i]) <= 0:
            raise RuntimeError(f"Given input with spatial size {list(input.shape[2:])}, "
                               f"kernel_size={list(k)}, dilation={list(d)}, padding={list(p)}, "
                               f"calculated shape of the array of sliding blocks is non-positive.")
    out = Im2col.apply(input, ksize=k, stride=s, padding=tuple((q, q) for q in p), dilation=d)
    return out if batched else out.squeeze(0)


def fold(input: Tensor, output_size: _size, kernel_size: _size, dilation: _size = 1,
         padding: _size = 0, stride: _size = 1) -> Tensor:
    """Sum sliding blocks back into an image: (N, C * kh * kw, L) -> (N, C, H, W) (col2im).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.fold(ember.ones(1, 4, 4), output_size=3, kernel_size=2)
        tensor([[[[1., 2., 1.],
                  [2., 4., 2.],
                  [1., 2., 1.]]]])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are "
                           f"supported (got {input.ndim}D)")
    batched = input.ndim == 3
    if not batched:
        input = input.unsqueeze(0)
    o = _tuple(output_size, 2, "output_size")
    k = _tuple(kernel_size, 2, "kernel_size")
    d = _tuple(dilation, 2, "dilation")
    p = _tuple(padding, 2, "padding")
    s = _tuple(stride, 2, "stride")
    ck, n_blocks = input.shape[1], input.shape[2]
    if ck % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product "
                           f"of kernel_size, but got input.size(1)={ck} and "
                           f"kernel_size=({k[0]}, {k[1]})")
    blocks = [out_len(o[i], k[i], s[i], d[i], p[i], p[i]) for i in range(2)]
    if blocks[0] * blocks[1] != n_blocks:
        raise RuntimeError(f"Given output_size=({o[0]}, {o[1]}), kernel_size=({k[0]}, {k[1]}), "
                           f"dilation=({d[0]}, {d[1]}), padding=({p[0]}, {p[1]}), "
                           f"stride=({s[0]}, {s[1]}), expected size of input's dimension 2 to "
                           f"match the calculated number of sliding blocks {blocks[0]} * "
                           f"{blocks[1]} = {blocks[0] * blocks[1]}, but got "
                           f"input.size(2)={n_blocks}.")
    out = Col2im.apply(input, output_size=o, ksize=k, stride=s,
                       padding=tuple((q, q) for q in p), dilation=d)
    return out if batched else out.squeeze(0)


# ---------------------------------------------------------------- pooling


def _pool_args(input, kernel_size, stride, padding, dilation, nd, name):
    batched = _batched(input, nd, name)
    k = _tuple(kernel_size, nd, "kernel_size")
    s = k if stride is None or (isinstance(stride, (list, tuple)) and len(stride) == 0) \
        else _tuple(stride, nd, "stride")
    p = _tuple(padding, nd, "padding")
    d = _tuple(dilation, nd, "dilation")
    if any(v <= 0 for v in k + s + d):
        raise RuntimeError(f"{name}: kernel_size, stride and dilation must be greater than zero, "
                           f"but got kernel_size={list(k)}, stride={list(s)}, "
                           f"dilation={list(d)}")
    for i in range(nd):
        if p[i] > (d[i] * (k[i] - 1) + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got "
                               f"pad={p[i]}, kernel_size={k[i]} and dilation={d[i]}")
    return batched, k, s, p, d


def _check_out(input, out_sz, name):
    if any(o <= 0 for o in out_sz):
        raise RuntimeError(f"{name}: Given input size: ({'x'.join(map(str, input.shape[-3:]))})."
                           f" Calculated output size: ({'x'.join(map(str, out_sz))}). "
                           f"Output size is too small")


def _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, nd, name):
    batched, k, s, p, d = _pool_args(input, kernel_size, stride, padding, dilation, nd, name)
    _check_out(input, [pool_out_len(input.shape[-nd + i], k[i], s[i], p[i], d[i], ceil_mode)
                       for i in range(nd)], name)
    x = input if batched else input.unsqueeze(0)
    out, idx = MaxPool.apply(x, ksize=k, stride=s, padding=p, dilation=d,
                             ceil_mode=bool(ceil_mode))
    return (out, idx) if batched else (out.squeeze(0), idx.squeeze(0))


def max_pool1d_with_indices(input: Tensor, kernel_size: _size, stride=None, padding: _size = 0,
                            dilation: _size = 1, ceil_mode: bool = False,
                            return_indices: bool = True):
    """``max_pool1d`` that also returns flat indices (for ``max_unpool1d``)."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, 1,
                       "max_pool1d")


def max_pool2d_with_indices(input: Tensor, kernel_size: _size, stride=None, padding: _size = 0,
                            dilation: _size = 1, ceil_mode: bool = False,
                            return_indices: bool = True):
    """``max_pool2d`` that also returns flat indices into each H*W plane."""
    return _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, 2,
                       "max_pool2d")


def max_pool1d(input: Tensor, kernel_size: _size, stride=None, padding: _size = 0,
               dilation: _size = 1, ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of an (N, C, L) or (C, L) input.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.max_pool1d(ember.tensor([[[1.0, 3.0, 2.0, 5.0]]]), 2)
        tensor([[[3., 5.]]])
    """
    out = _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, 1, "max_pool1d")
    return out if return_indices else out[0]


def max_pool2d(input: Tensor, kernel_size: _size, stride=None, padding: _size = 0,
               dilation: _size = 1, ceil_mode: bool = False, return_indices: bool = False):
    """Max over sliding windows of an (N, C, H, W) or (C, H, W) input; with
    ``return_indices`` also the flat index of each max in its H*W plane.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.max_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 5.,  7.],
                  [13., 15.]]]])
    """
    out = _max_poolnd(input, kernel_size, stride, padding, dilation, ceil_mode, 2, "max_pool2d")
    return out if return_indices else out[0]


def _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                divisor_override, nd, name):
    batched, k, s, p, _ = _pool_args(input, kernel_size, stride, padding, 1, nd, name)
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    _check_out(input, [pool_out_len(input.shape[-nd + i], k[i], s[i], p[i], 1, ceil_mode)
                       for i in range(nd)], name)
    x = input if batched else input.unsqueeze(0)
    out = AvgPool.apply(x, ksize=k, stride=s, padding=p, ceil_mode=bool(ceil_mode),
                        count_include_pad=bool(count_include_pad),
                        divisor_override=None if divisor_override is None
                        else int(divisor_override))
    return out if batched else out.squeeze(0)


def avg_pool1d(input: Tensor, kernel_size: _size, stride=None, padding: _size = 0,
               ceil_mode: bool = False, count_include_pad: bool = True) -> Tensor:
    """Mean over sliding windows of an (N, C, L) or (C, L) input.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.avg_pool1d(ember.tensor([[[1.0, 3.0, 2.0, 6.0]]]), 2)
        tensor([[[2., 4.]]])
    """
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad, None,
                       1, "avg_pool1d")


def avg_pool2d(input: Tensor, kernel_size: _size, stride=None, padding: _size = 0,
               ceil_mode: bool = False, count_include_pad: bool = True,
               divisor_override: int | None = None) -> Tensor:
    """Mean over sliding windows of an (N, C, H, W) or (C, H, W) input.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.avg_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 2)
        tensor([[[[ 2.5000,  4.5000],
                  [10.5000, 12.5000]]]])
    """
    return _avg_poolnd(input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                       divisor_override, 2, "avg_pool2d")


def _adaptive_size(input, output_size, nd, name):
    batched = _batched(input, nd, name)
    if isinstance(output_size, (list, tuple)):
        if len(output_size) != nd:
            raise ValueError(f"{name}: output_size must be {nd}")
        osz = tuple(input.shape[-nd + i] if o is None else int(o)
                    for i, o in enumerate(output_size))
    else:
        osz = (int(output_size),) * nd
    if any(input.shape[-nd + i] == 0 for i in range(nd)):
        raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch "
                           f"dimensions, but input has sizes {list(input.shape)} with dimension "
                           f"{input.ndim - nd} being empty")
    return batched, osz


def _adaptive_matrix(n: int, out: int, dtype) -> Tensor:
    m = xp.zeros((out, n), dtype=dtype)
    for i, (a, b) in enumerate(adaptive_bounds(n, out)):
        m[i, a:b] = 1.0 / (b - a)
    return const_tensor(m)


def _adaptive_avg(input, output_size, nd, name):
    _, osz = _adaptive_size(input, output_size, nd, name)
    sp = tuple(input.shape[-nd:])
    if osz == sp:
        return input * 1.0
    dims = tuple(range(-nd, 0))
    if all(o == 1 for o in osz):
        return input.mean(dim=dims, keepdim=True)
    if all(n % o == 0 for n, o in zip(sp, osz)):
        k = tuple(n // o for n, o in zip(sp, osz))
        return _avg_poolnd(input, k, k, 0, False, True, None, nd, name)
    dt = input._data.dtype
    out = input
    if nd == 2:
        out = _adaptive_matrix(sp[0], osz[0], dt) @ out
    return out @ _adaptive_matrix(sp[-1], osz[-1], dt).mT


def adaptive_avg_pool1d(input: Tensor, output_size: _size) -> Tensor:
    """Average pooling to a fixed output length.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.adaptive_avg_pool1d(ember.tensor([[[1.0, 2.0, 3.0, 4.0]]]), 2)
        tensor([[[1.5000, 3.5000]]])
    """
    return _adaptive_avg(input, output_size, 1, "adaptive_avg_pool1d")


def adaptive_avg_pool2d(input: Tensor, output_size: _size) -> Tensor:
    """Average pooling to a fixed output size (``None`` keeps that input dim).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.adaptive_avg_pool2d(ember.ones(2, 3, 5, 7), (2, 3)).shape
        ember.Size([2, 3, 2, 3])
    """
    return _adaptive_avg(input, output_size, 2, "adaptive_avg_pool2d")


def _adaptive_max(input, output_size, nd, name):
    batched, osz = _adaptive_size(input, output_size, nd, name)
    x = input if batched else input.unsqueeze(0)
    out, idx = AdaptiveMaxPool.apply(x, output_size=osz)
    return (out, idx) if batched else (out.squeeze(0), idx.squeeze(0))


def adaptive_max_pool1d_with_indices(input: Tensor, output_size: _size,
                                     return_indices: bool = True):
    """``adaptive_max_pool1d`` returning (values, indices)."""
    return _adaptive_max(input, output_size, 1, "adaptive_max_pool1d")


def adaptive_max_pool2d_with_indices(input: Tensor, output_size: _size,
                                     return_indices: bool = True):
    """``adaptive_max_pool2d`` returning (values, indices)."""
    return _adaptive_max(input, output_size, 2, "adaptive_max_pool2d")


def adaptive_max_pool1d(input: Tensor, output_size: _size, return_indices: bool = False):
    """Max pooling to a fixed output length.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.adaptive_max_pool1d(ember.tensor([[[1.0, 4.0, 3.0, 2.0]]]), 2)
        tensor([[[4., 3.]]])
    """
    out = _adaptive_max(input, output_size, 1, "adaptive_max_pool1d")
    return out if return_indices else out[0]


def adaptive_max_pool2d(input: Tensor, output_size: _size, return_indices: bool = False):
    """Max pooling to a fixed output size; with ``return_indices`` also flat H*W indices.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.adaptive_max_pool2d(ember.arange(16.0).reshape(1, 1, 4, 4), 1)
        tensor([[[[15.]]]])
    """
    out = _adaptive_max(input, output_size, 2, "adaptive_max_pool2d")
    return out if return_indices else out[0]


def _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, nd, name):
    k = _tuple(kernel_size, nd, "kernel_size")
    p = float(norm_type)
    out = _avg_poolnd(input ** p, k, stride, 0, ceil_mode, True, None, nd, name)
    return ((out.sign() * out.abs().relu()) * float(math.prod(k))) ** (1.0 / p)


def lp_pool1d(input: Tensor, norm_type: float, kernel_size: int, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling: ``(sum x**p) ** (1/p)`` over each window.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.lp_pool1d(ember.tensor([[[3.0, 4.0]]]), 2, 2)
        tensor([[[5.]]])
    """
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 1, "lp_pool1d")


def lp_pool2d(input: Tensor, norm_type: float, kernel_size: _size, stride=None,
              ceil_mode: bool = False) -> Tensor:
    """Power-average pooling over 2-D windows.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.lp_pool2d(ember.ones(1, 1, 2, 2), 1, 2)
        tensor([[[[4.]]]])
    """
    return _lp_pool(input, norm_type, kernel_size, stride, ceil_mode, 2, "lp_pool2d")


def _max_unpool(input, indices, kernel_size, stride, padding, output_size, nd, name):
    k = _tuple(kernel_size, nd, "kernel_size")
    s = k if stride is None else _tuple(stride, nd, "stride")
    p = _tuple(padding, nd, "padding")
    batched = _batched(input, nd, name)
    x, idx = (input, indices) if batched else (input.unsqueeze(0), indices.unsqueeze(0))
    default = tuple((x.shape[2 + i] - 1) * s[i] - 2 * p[i] + k[i] for i in range(nd))
    if output_size is None:
        size = default
    else:
        size = tuple(int(v) for v in output_size)[-nd:]
    out = PoolScatter.apply(x, idx, size=size, unique=True)
    return out if batched else out.squeeze(0)


def max_unpool1d(input: Tensor, indices: Tensor, kernel_size: _size, stride=None,
                 padding: _size = 0, output_size=None) -> Tensor:
    """Partial inverse of ``max_pool1d``: put values back at their indices, zeros elsewhere.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> x = ember.tensor([[[1.0, 3.0, 2.0, 5.0]]])
        >>> F.max_unpool1d(*F.max_pool1d(x, 2, return_indices=True), 2)
        tensor([[[0., 3., 0., 5.]]])
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 1,
                       "max_unpool1d")


def max_unpool2d(input: Tensor, indices: Tensor, kernel_size: _size, stride=None,
                 padding: _size = 0, output_size=None) -> Tensor:
    """Partial inverse of ``max_pool2d``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> x = ember.arange(16.0).reshape(1, 1, 4, 4)
        >>> F.max_unpool2d(*F.max_pool2d(x, 2, return_indices=True), 2).shape
        ember.Size([1, 1, 4, 4])
    """
    return _max_unpool(input, indices, kernel_size, stride, padding, output_size, 2,
                       "max_unpool2d")


# ---------------------------------------------------------------- normalization


_MUL, _ADD, _CAST = OPS["mul"], OPS["add"], OPS["cast"]


def _update_running(stat: Tensor, new: Tensor, momentum: float) -> None:
    """In-place ``stat = (1 - momentum) * stat + momentum * new`` as table ops (``mul_`` then
    ``add_``, outside autograd), so a dispatch mode sees the update."""
    with no_grad():
        apply_inplace(_MUL, stat, 1.0 - momentum)
        step = new * momentum
        if step._data.dtype != stat._data.dtype:
            step = _CAST.apply(step, dtype=stat.dtype)
        apply_inplace(_ADD, stat, step)


def _affine_eval(input, mean, var, weight, bias, eps):
    """(x - mean) / sqrt(var + eps) * w + b with per-channel (dim 1) statistics."""
    shape = (1, -1) + (1,) * (input.ndim - 2)
    scale = (var + eps) ** -0.5
    if weight is not None:
        scale = scale * weight
    shift = -mean * scale
    if bias is not None:
        shift = shift + bias
    return input * scale.reshape(shape) + shift.reshape(shape)


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None,
               weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization over dim 1 of an (N, C, *) input.

    Training uses the batch statistics and updates ``running_mean`` / ``running_var`` in
    place (the variance unbiased), evaluation uses the running statistics.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> x = ember.tensor([[1.0], [3.0]])
        >>> rm, rv = ember.zeros(1), ember.ones(1)
        >>> F.batch_norm(x, rm, rv, training=True)
        tensor([[-1.0000],
                [ 1.0000]])
        >>> rm
        tensor([0.2000])
    """
    if input.ndim < 2:
        raise ValueError(f"expected 2D or more input (got {input.ndim}D input)")
    c = input.shape[1]
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c} elements not {t.numel()}")
    if not training:
        if running_mean is None or running_var is None:
            raise RuntimeError("running_mean must be defined in evaluation mode")
        return _affine_eval(input, running_mean.detach(), running_var.detach(), weight, bias, eps)
    n = input.numel() // max(c, 1)
    if n <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size "
                         f"{input.shape}")
    dims = (0,) + tuple(range(2, input.ndim))
    y, mean, var = Normalize.apply(input, weight, bias, dims=dims, wdims=(1,), eps=float(eps))
    if running_mean is not None:
        _update_running(running_mean, mean.reshape(c), momentum)
    if running_var is not None:
        _update_running(running_var, var.reshape(c) * (n / (n - 1)), momentum)
    return y


def instance_norm(input: Tensor, running_mean: Tensor | None = None,
                  running_var: Tensor | None = None, weight: Tensor | None = None,
                  bias: Tensor | None = None, use_input_stats: bool = True,
                  momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Normalize each (sample, channel) plane over its spatial dims.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.instance_norm(ember.tensor([[[1.0, 3.0]]]))
        tensor([[[-1.0000,  1.0000]]])
    """
    if input.ndim < 3:
        raise ValueError(f"expected 3D or more input (got {input.ndim}D input)")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise RuntimeError("Expected running_mean and running_var to be defined when "
                               "use_input_stats is false")
        return _affine_eval(input, running_mean.detach(), running_var.detach(), weight, bias, eps)
    dims = tuple(range(2, input.ndim))
    n = input.numel() // max(input.shape[0] * input.shape[1], 1)
    if n <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size "
                         f"{input.shape}")
    y, mean, var = Normalize.apply(input, weight, bias, dims=dims, wdims=(1,), eps=float(eps))
    c = input.shape[1]
    if running_mean is not None:
        _update_running(running_mean, mean.reshape(-1, c).mean(0), momentum)
    if running_var is not None:
        _update_running(running_var, var.reshape(-1, c).mean(0) * (n / (n - 1)),
                        momentum)
    return y


def layer_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over the trailing ``normalized_shape`` dims, then scale and shift.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.layer_norm(ember.tensor([[1.0, 3.0]]), (2,))
        tensor([[-1.0000,  1.0000]])
    """
    ns = (int(normalized_shape),) if isinstance(normalized_shape, int) \
        else tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{input.shape}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != ns:
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but "
                               f"got {name} of shape {list(t.shape)} and normalized_shape = "
                               f"{list(ns)}")
    dims = tuple(range(input.ndim - k, input.ndim))
    return Normalize.apply(input, weight, bias, dims=dims, wdims=dims, eps=float(eps))[0]


def group_norm(input: Tensor, num_groups: int, weight: Tensor | None = None,
               bias: Tensor | None = None, eps: float = 1e-5) -> Tensor:
    """Normalize over groups of channels (and all spatial dims), then per-channel affine.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.group_norm(ember.tensor([[1.0, 3.0]]), 1)
        tensor([[-1.0000,  1.0000]])
    """
    if input.ndim < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received "
                           f"{input.ndim}")
    n, c = input.shape[:2]
    if c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, "
                           f"but got input of shape {list(input.shape)} and num_groups="
                           f"{num_groups}")
    x = input.reshape(n, num_groups, (c // num_groups) * math.prod(input.shape[2:]))
    y = Normalize.apply(x, None, None, dims=(2,), wdims=(), eps=float(eps))[0]
    y = y.reshape(input.shape)
    shape = (1, c) + (1,) * (input.ndim - 2)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def rms_norm(input: Tensor, normalized_shape, weight: Tensor | None = None,
             eps: float | None = None) -> Tensor:
    """Root-mean-square normalization over the trailing ``normalized_shape`` dims.

    ``eps`` defaults to the machine epsilon of the input's dtype.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.rms_norm(ember.tensor([[3.0, -3.0]]), (2,))
        tensor([[ 1., -1.]])
    """
    ns = (int(normalized_shape),) if isinstance(normalized_shape, int) \
        else tuple(int(s) for s in normalized_shape)
    k = len(ns)
    if k == 0 or input.ndim < k or tuple(input.shape[input.ndim - k:]) != ns:
        raise RuntimeError(f"Given normalized_shape={list(ns)}, expected input with shape "
                           f"[*, {', '.join(map(str, ns))}], but got input of size"
                           f"{input.shape}")
    if eps is None:
        eps = float(xp.finfo(input._data.dtype).eps)
    dims = tuple(range(input.ndim - k, input.ndim))
    y = input * ((input * input).mean(dim=dims, keepdim=True) + eps) ** -0.5
    return y * weight if weight is not None else y


def local_response_norm(input: Tensor, size: int, alpha: float = 1e-4, beta: float = 0.75,
                        k: float = 1.0) -> Tensor:
    """Normalize each element by the summed squares of ``size`` neighbouring channels.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.local_response_norm(ember.ones(1, 4, 2, 2), 2).shape
        ember.Size([1, 4, 2, 2])
    """
    if input.ndim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {input.ndim} "
                         f"dimensions)")
    if input.numel() == 0:
        return input
    from ._pad import pad
    n, c = input.shape[:2]
    div = (input * input).reshape(n, 1, c, math.prod(input.shape[2:]))
    div = pad(div, (0, 0, size // 2, (size - 1) // 2))
    div = avg_pool2d(div, (size, 1), stride=1).reshape(input.shape)
    return input / (div * alpha + k) ** beta


# ---------------------------------------------------------------- resampling

_LINEAR = {"linear": 1, "bilinear": 2}


def _interp_matrix(n: int, out: int, mode: str, align_corners: bool, scale, dtype) -> Tensor:
    """The (out, n) matrix that resamples one dim, with torch's source-index rules."""
    m = xp.zeros((out, n), dtype=xp.float64)
    rows = xp.arange(out)
    if mode in ("nearest", "nearest-exact"):
        sc = n / out if scale is None else 1.0 / scale
        # float32 index math, as torch computes it
        off = 0.5 if mode == "nearest-exact" else 0.0
        src = xp.floor((rows.astype(xp.float32) + xp.float32(off)) * xp.float32(sc))
        src = xp.minimum(src.astype(xp.int64), n - 1)
        m[rows, src] = 1.0
        return const_tensor(m.astype(dtype))
    if align_corners:
        src = rows * ((n - 1) / (out - 1)) if out > 1 else rows * 0.0
    else:
        sc = n / out if scale is None else 1.0 / scale
        src = xp.maximum((rows + 0.5) * sc - 0.5, 0.0)
    i0 = xp.minimum(xp.floor(src).astype(xp.int64), n - 1)
    i1 = xp.minimum(i0 + 1, n - 1)
    lam = src - i0
    xp.add.at(m, (rows, i0), 1.0 - lam)
    xp.add.at(m, (rows, i1), lam)
    return const_tensor(m.astype(dtype))


def interpolate(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
                align_corners: bool | None = None,
                recompute_scale_factor: bool | None = None,
                antialias: bool = False) -> Tensor:
    """Resize the spatial dims of an (N, C, L) or (N, C, H, W) input.

    Modes: ``'nearest'``, ``'nearest-exact'``, ``'linear'`` (3-D input), ``'bilinear'``
    (4-D input), ``'area'``; ``size`` or ``scale_factor`` gives the output size.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.interpolate(ember.tensor([[[1.0, 2.0]]]), scale_factor=2)
        tensor([[[1., 1., 2., 2.]]])
    """
    nd = input.ndim - 2
    if nd not in (1, 2):
        raise NotImplementedError(f"Input Error: Only 3D and 4D input Tensors supported (got "
                                  f"{input.ndim}D) for the modes: nearest | linear | bilinear | "
                                  f"area | nearest-exact (got {mode})")
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif mode in _LINEAR:
        if _LINEAR[mode] != nd:
            raise NotImplementedError(f"Got {input.ndim}D input, but {mode} mode needs "
                                      f"{_LINEAR[mode] + 2}D input")
        align_corners = bool(align_corners)
    else:
        raise NotImplementedError(f"interpolate: mode {mode!r} is not supported")
    if antialias:
        raise NotImplementedError("interpolate: antialias=True is not supported")
    if (size is None) == (scale_factor is None):
        raise ValueError("either size or scale_factor should be defined" if size is None
                         else "only one of size or scale_factor should be defined")
    sp = tuple(input.shape[2:])
    scales = [None] * nd
    if size is not None:
        osz = _tuple(size, nd, "size")
    else:
        sf = tuple(float(v) for v in scale_factor) if isinstance(scale_factor, (list, tuple)) \
            else (float(scale_factor),) * nd
        if len(sf) != nd:
            raise ValueError(f"Input and scale_factor must have the same number of spatial "
                             f"dimensions, but got input with spatial dimensions of {list(sp)} "
                             f"and scale_factor of shape {list(sf)}.")
        osz = tuple(int(math.floor(n * f)) for n, f in zip(sp, sf))
        if not recompute_scale_factor:
            scales = list(sf)
    if mode == "area":
        return _adaptive_avg(input, osz, nd, f"adaptive_avg_pool{nd}d")
    dt = input._data.dtype
    out = input
    if nd == 2:
        out = _interp_matrix(sp[0], osz[0], mode, align_corners, scales[0], dt) @ out
    return out @ _interp_matrix(sp[-1], osz[-1], mode, align_corners, scales[-1], dt).mT


def upsample(input: Tensor, size=None, scale_factor=None, mode: str = "nearest",
             align_corners: bool | None = None) -> Tensor:
    """Deprecated alias of ``interpolate``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.upsample(ember.ones(1, 1, 2, 2), scale_factor=2).shape
        ember.Size([1, 1, 4, 4])
    """
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='nearest')``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.upsample_nearest(ember.ones(1, 1, 2, 2), size=3).shape
        ember.Size([1, 1, 3, 3])
    """
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input: Tensor, size=None, scale_factor=None) -> Tensor:
    """Deprecated: ``interpolate(..., mode='bilinear', align_corners=True)``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.upsample_bilinear(ember.ones(1, 1, 2, 2), scale_factor=2).shape
        ember.Size([1, 1, 4, 4])
    """
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def pixel_shuffle(input: Tensor, upscale_factor: int) -> Tensor:
    """(*, C * r**2, H, W) -> (*, C, H * r, W * r).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.pixel_shuffle(ember.ones(1, 8, 2, 3), 2).shape
        ember.Size([1, 2, 4, 6])
    """
    if input.ndim < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got "
                           f"input with {input.ndim} dimension(s)")
    r = int(upscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be "
                           f"divisible by the square of upscale_factor, but input.size(-3)={c} "
                           f"is not divisible by {r * r}")
    b = len(lead)
    x = input.reshape(*lead, c // (r * r), r, r, h, w)
    x = x.permute(*range(b), b, b + 3, b + 1, b + 4, b + 2)
    return x.reshape(*lead, c // (r * r), h * r, w * r)


def pixel_unshuffle(input: Tensor, downscale_factor: int) -> Tensor:
    """(*, C, H * r, W * r) -> (*, C * r**2, H, W), the inverse of ``pixel_shuffle``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.pixel_unshuffle(ember.ones(1, 2, 4, 6), 2).shape
        ember.Size([1, 8, 2, 3])
    """
    if input.ndim < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but "
                           f"got input with {input.ndim} dimension(s)")
    r = int(downscale_factor)
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    *lead, c, h, w = input.shape
    if h % r or w % r:
        raise RuntimeError(f"pixel_unshuffle expects height and width to be divisible by "
                           f"downscale_factor, but input.size(-2)={h} and input.size(-1)={w} "
                           f"are not divisible by {r}")
    b = len(lead)
    x = input.reshape(*lead, c, h // r, r, w // r, r)
    x = x.permute(*range(b), b, b + 2, b + 4, b + 1, b + 3)
    return x.reshape(*lead, c * r * r, h // r, w // r)
