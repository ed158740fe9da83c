"""Joining and splitting ops: cat/stack and the hstack family, split/chunk/tensor_split/
unbind, atleast_1d/2d/3d and meshgrid.
"""

from __future__ import annotations

import builtins

from ..backend import xp
from ..tensor import Tensor
from ._util import norm_dim
from .registry import Op, _result_np_dtype, install_methods, register
from .shape import Reshape, _slice_dim, expand, reshape, unsqueeze

__all__ = ["cat", "concat", "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack",
           "split", "chunk", "tensor_split", "unbind", "atleast_1d", "atleast_2d", "atleast_3d",
           "meshgrid"]


# ---------------------------------------------------------------- concatenation and splits


@register
class Cat(Op):
    """Concatenate along ``dim``; inputs at ``skip`` (empty 1-D ones) are left out."""

    name = "cat"
    promote = "same"

    @staticmethod
    def forward(ctx, *arrays, dim, skip=()):
        kept = [a for i, a in enumerate(arrays) if i not in skip] if skip else arrays
        ctx.sizes, ctx.dim, ctx.skip, ctx.n = tuple(a.shape[dim] for a in kept), dim, skip, \
            len(arrays)
        return xp.concatenate(kept, axis=dim)

    @staticmethod
    def backward(ctx, F, g):
        out = F.split(g, sizes=ctx.sizes, dim=ctx.dim)
        out = list(out) if type(out) is tuple else [out]
        for i in ctx.skip:
            empty = F.slice(g, index=((0, 0, 1),) * len(g.shape))
            out.insert(i, F.reshape(empty, shape=(0,)))
        return tuple(out)


@register
class SplitWithSizes(Op):
    """Split along ``dim`` into pieces of ``sizes`` (views)."""

    name = "split"
    view = True

    @staticmethod
    def forward(ctx, x, sizes, dim):
        ctx.dim = dim
        pre = (slice(None),) * dim
        out, o = [], 0
        for s in sizes:
            out.append(x[pre + (slice(o, o + s),)])
            o += s
        return tuple(out)

    @staticmethod
    def backward(ctx, F, *grads):
        return F.cat(*grads, dim=ctx.dim)


@register
class Unbind(Op):
    """The slices along ``dim`` (views), as a tuple."""

    name = "unbind"
    view = True

    @staticmethod
    def forward(ctx, x, dim):
        ctx.dim, ctx.kept = dim, x.shape[:dim] + (1,) + x.shape[dim + 1:]
        pre = (slice(None),) * dim
        return tuple(x[pre + (i, Ellipsis)] for i in range(x.shape[dim]))

    @staticmethod
    def backward(ctx, F, *grads):
        return F.cat(*(F.reshape(g, shape=ctx.kept) for g in grads), dim=ctx.dim)


def _check_cat(tensors, dim: int, op: str):
    if len(tensors) == 0:
        raise ValueError(f"torch.{op}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got "
                            f"{type(t).__name__}")
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Concatenate tensors along an existing dim, with torch's type promotion.

    Empty 1-D tensors are skipped (torch's legacy behaviour).

    Example:
        >>> import ember
        >>> ember.cat([ember.zeros(2, 1), ember.ones(2, 2)], dim=1)
        tensor([[0., 1., 1.],
                [0., 1., 1.]])
    """
    tensors = list(tensors)
    _check_cat(tensors, dim, "cat")
    dt = _result_np_dtype("same", [t._data for t in tensors])
    skip = tuple(i for i, t in enumerate(tensors) if t.ndim == 1 and t._data.shape[0] == 0)
    if len(skip) == len(tensors):
        skip = skip[1:]
    kept = [t for i, t in enumerate(tensors) if i not in skip]
    ref = kept[0]
    d = norm_dim(dim, ref.ndim, "cat")
    for t in kept:
        if t.ndim != ref.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.ndim} and "
                               f"{t.ndim}")
        for k in range(ref.ndim):
            if k != d and t._data.shape[k] != ref._data.shape[k]:
                raise RuntimeError(
                    f"Sizes of tensors must match except in dimension {d}. Expected size "
                    f"{ref._data.shape[k]} but got size {t._data.shape[k]} for tensor number "
                    f"{_index_of(tensors, t)} in the list.")
    tensors = [t if t._data.dtype == dt else t.to(_from_np(dt)) for t in tensors]
    return Cat.apply(*tensors, dim=d, skip=skip) if skip else Cat.apply(*tensors, dim=d)


def _index_of(seq, obj) -> int:
    return next(i for i, o in enumerate(seq) if o is obj)


def _from_np(dt):
    from ..dtypes import from_np
    return from_np(dt)


concat = concatenate = cat


def stack(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join same-shaped tensors along a new dim.

    Example:
        >>> import ember
        >>> ember.stack([ember.zeros(2), ember.ones(2)]).shape
        ember.Size([2, 2])
    """
    tensors = list(tensors)
    if len(tensors) == 0:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors[1:], 1):
        if t._data.shape != tensors[0]._data.shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(tensors[0]._data.shape)} at entry 0 and "
                               f"{list(t._data.shape)} at entry {i}")
    d = norm_dim(dim, tensors[0].ndim + 1, "stack")
    return cat([unsqueeze(t, d) for t in tensors], d)


def hstack(tensors) -> Tensor:
    """Concatenate column-wise (along dim 0 for 1-D inputs, dim 1 otherwise).

    Example:
        >>> import ember
        >>> ember.hstack([ember.tensor([1, 2]), ember.tensor([3])])
        tensor([1, 2, 3])
    """
    ts = [atleast_1d(t) for t in tensors]
    return cat(ts, 0 if ts and ts[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Concatenate row-wise after making inputs at least 2-D.

    Example:
        >>> import ember
        >>> ember.vstack([ember.tensor([1, 2]), ember.tensor([3, 4])])
        tensor([[1, 2],
                [3, 4]])
    """
    return cat([atleast_2d(t) for t in tensors], 0)


def dstack(tensors) -> Tensor:
    """Concatenate depth-wise (dim 2) after making inputs at least 3-D.

    Example:
        >>> import ember
        >>> ember.dstack([ember.zeros(2), ember.ones(2)]).shape
        ember.Size([1, 2, 2])
    """
    return cat([atleast_3d(t) for t in tensors], 2)


def column_stack(tensors) -> Tensor:
    """Stack 0/1-D tensors as columns (and concatenate 2-D ones along dim 1).

    Example:
        >>> import ember
        >>> ember.column_stack([ember.tensor([1, 2]), ember.tensor([3, 4])])
        tensor([[1, 3],
                [2, 4]])
    """
    return cat([reshape(t, t.numel(), 1) if t.ndim <= 1 else t for t in tensors], 1)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Split into pieces of ``split_size`` (the last may be smaller) or of the given sizes.

    Example:
        >>> import ember
        >>> [t.tolist() for t in ember.arange(5).split(2)]
        [[0, 1], [2, 3], [4]]
    """
    d = norm_dim(dim, tensor.ndim, "split")
    n = tensor._data.shape[d]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = tuple(int(s) for s in split_size_or_sections)
        if builtins.sum(sizes) != n or builtins.any(s < 0 for s in sizes):
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} "
                               f"(input tensor's size at dimension {d}), but got "
                               f"split_sizes={list(sizes)}")
    else:
        s = int(split_size_or_sections)
        if s < 0 or (s == 0 and n != 0):
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got "
                               f"dimension size of {n}" if s == 0 else
                               f"split expects split_size be non-negative, but got split_size={s}")
        sizes = (0,) if n == 0 else tuple(min(s, n - o) for o in range(0, n, s))
    return SplitWithSizes.apply(tensor, sizes=sizes, dim=d)


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """Split into at most ``chunks`` pieces of equal size (the last may be smaller).

    Example:
        >>> import ember
        >>> [t.tolist() for t in ember.arange(5).chunk(2)]
        [[0, 1, 2], [3, 4]]
    """
    if chunks <= 0:
        raise RuntimeError("chunk expects `chunks` to be greater than 0, got: " + str(chunks))
    d = norm_dim(dim, input.ndim, "chunk")
    n = input._data.shape[d]
    if n == 0:
        return SplitWithSizes.apply(input, sizes=(0,) * chunks, dim=d)
    return split(input, -(-n // chunks), d)


def tensor_split(input: Tensor, indices_or_sections, dim: int = 0) -> tuple:
    """Split into ``n`` nearly equal pieces, or at the given indices.

    Example:
        >>> import ember
        >>> [t.tolist() for t in ember.arange(7).tensor_split(3)]
        [[0, 1, 2], [3, 4], [5, 6]]
    """
    d = norm_dim(dim, input.ndim, "tensor_split")
    n = input._data.shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        ios = ios.tolist()
    if isinstance(ios, (list, tuple)):
        cuts = [0] + [max(0, min(n, int(i) + n if i < 0 else int(i))) for i in ios] + [n]
        if builtins.any(b < a for a, b in zip(cuts, cuts[1:])):
            # decreasing indices make overlapping pieces, as in torch: slice each one
            return tuple(_slice_dim(input, d, (a, max(a, b), 1))
                         for a, b in zip(cuts, cuts[1:]))
        sizes = tuple(b - a for a, b in zip(cuts, cuts[1:]))
    else:
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        sizes = tuple(n // k + (1 if i < n % k else 0) for i in range(k))
    return SplitWithSizes.apply(input, sizes=sizes, dim=d)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim`` as a tuple of views.

    Example:
        >>> import ember
        >>> ember.unbind(ember.tensor([[1, 2], [3, 4]]), 1)
        (tensor([1, 3]), tensor([2, 4]))
    """
    if input.ndim == 0:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    return Unbind.apply(input, dim=norm_dim(dim, input.ndim, "unbind"))


def atleast_1d(*tensors):
    """Make tensors at least 1-D (0-d become shape ``[1]``); one tensor in, one out.

    Example:
        >>> import ember
        >>> ember.atleast_1d(ember.tensor(1.0)).shape
        ember.Size([1])
    """
    return _atleast(tensors, 1)


def atleast_2d(*tensors):
    """Make tensors at least 2-D (new dims in front).

    Example:
        >>> import ember
        >>> ember.atleast_2d(ember.zeros(3)).shape
        ember.Size([1, 3])
    """
    return _atleast(tensors, 2)


def atleast_3d(*tensors):
    """Make tensors at least 3-D (``[n]`` becomes ``[1, n, 1]``, ``[m, n]`` ``[m, n, 1]``).

    Example:
        >>> import ember
        >>> ember.atleast_3d(ember.zeros(2, 3)).shape
        ember.Size([2, 3, 1])
    """
    return _atleast(tensors, 3)


def _atleast(tensors, n: int):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(_atleast1(t, n) for t in tensors[0])
    if len(tensors) == 1:
        return _atleast1(tensors[0], n)
    return tuple(_atleast1(t, n) for t in tensors)


def _atleast1(x: Tensor, n: int) -> Tensor:
    shape = x._data.shape
    if len(shape) >= n:
        return x
    if n == 3:
        new = {0: (1, 1, 1), 1: (1,) + shape + (1,), 2: shape + (1,)}[len(shape)]
    else:
        new = (1,) * (n - len(shape)) + shape
    return Reshape.apply(x, shape=new)


def meshgrid(*tensors, indexing: str | None = None) -> tuple:
    """Coordinate grids from 1-D tensors (``indexing='ij'`` by default, or ``'xy'``).

    Example:
        >>> import ember
        >>> a, b = ember.meshgrid(ember.tensor([1, 2]), ember.tensor([3, 4, 5]), indexing="ij")
        >>> a.shape
        ember.Size([2, 3])
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    indexing = indexing or "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but "
                           f"received: {indexing}")
    for t in tensors:
        if t.ndim > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but "
                               f"got: {t}")
    sizes = [t.numel() for t in tensors]
    swap = indexing == "xy" and len(tensors) >= 2
    if swap:
        sizes[0], sizes[1] = sizes[1], sizes[0]
    out = []
    for i, t in enumerate(tensors):
        k = (1 if i == 0 else 0 if i == 1 else i) if swap else i
        shape = [1] * len(tensors)
        shape[k] = sizes[k]
        out.append(expand(Reshape.apply(t, shape=tuple(shape)), *sizes))
    return tuple(out)


install_methods({
    "split": split, "chunk": chunk, "tensor_split": tensor_split, "unbind": unbind,
})
