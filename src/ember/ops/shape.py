"""Shape and movement ops. Where NumPy gives a view, the result is a view (sharing the
version counter), as in torch."""

from __future__ import annotations

import builtins
import math

from ..backend import xp
from ..tensor import Size, Tensor
from ._util import norm_dim, shape_arg
from .registry import Op, _result_np_dtype, apply_inplace, install_methods, register

__all__ = ["reshape", "view", "expand", "permute", "transpose", "unsqueeze", "squeeze",
           "flatten", "unflatten", "swapaxes", "swapdims", "movedim", "moveaxis", "broadcast_to",
           "broadcast_tensors", "broadcast_shapes", "repeat_interleave", "tile", "cat", "concat",
           "concatenate", "stack", "hstack", "vstack", "dstack", "column_stack", "split",
           "chunk", "tensor_split", "unbind", "flip", "fliplr", "flipud", "roll", "narrow",
           "select", "diagonal", "diag", "diag_embed", "tril", "triu", "clone", "t",
           "atleast_1d", "atleast_2d", "atleast_3d", "ravel", "meshgrid", "select_scatter",
           "slice_scatter", "diagonal_scatter", "narrow_copy"]

def _infer_shape(shape: tuple, numel: int, op: str) -> tuple:
    if shape.count(-1) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if -1 in shape:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape = tuple(numel // known if s == -1 else s for s in shape)
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return shape


@register
class Reshape(Op):
    name = "reshape"
    view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.reshape(g, shape=ctx.in_shape)


@register
class Expand(Op):
    """Broadcast to ``shape`` without copying (read-only view, like torch's expand)."""

    name = "expand"
    view = True

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return xp.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.sum_to(g, shape=ctx.in_shape)


@register
class Permute(Op):
    name = "permute"
    view = True

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, F, g):
        inv = [0] * len(ctx.dims)
        for i, d in enumerate(ctx.dims):
            inv[d] = i
        return F.permute(g, dims=tuple(inv))


def reshape(input: Tensor, *shape) -> Tensor:
    """A tensor with the same data in ``shape`` (one dim may be -1); a view when possible.

    Example:
        >>> import ember
        >>> ember.arange(6).reshape(2, -1).shape
        ember.Size([2, 3])
    """
    shape = _infer_shape(shape_arg(shape), input._data.size, "reshape")
    if shape == input._data.shape:
        return Reshape.apply(input, shape=shape) if input._rg else _alias(input)
    return Reshape.apply(input, shape=shape)


def _alias(t: Tensor) -> Tensor:
    return Reshape.apply(t, shape=t._data.shape)


def view(input: Tensor, *shape) -> Tensor:
    """Like ``reshape`` but always a view; raises when the memory layout does not allow it.

    Example:
        >>> import ember
        >>> ember.zeros(4).view(2, 2).shape
        ember.Size([2, 2])
    """
    if len(shape) == 1 and not isinstance(shape[0], (int, tuple, list)) and \
            not hasattr(shape[0], "__index__"):
        return input.to(shape[0])
    shape = _infer_shape(shape_arg(shape), input._data.size, "view")
    out = Reshape.apply(input, shape=shape)
    if input._data.size and not xp.may_share_memory(out._data, input._data):
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at "
                           "least one dimension spans across two contiguous subspaces). Use "
                           ".reshape(...) instead.")
    return out


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast singleton dims to ``sizes`` (-1 keeps a dim) without copying.

    Example:
        >>> import ember
        >>> ember.tensor([[1], [2]]).expand(2, 3)
        tensor([[1, 1, 1],
                [2, 2, 2]])
    """
    sizes = shape_arg(sizes)
    shape = input._data.shape
    if len(sizes) < len(shape):
        raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater "
                           f"or equal to the number of dimensions in the tensor ({len(shape)})")
    lead = len(sizes) - len(shape)
    out = []
    for i, s in enumerate(sizes):
        if i < lead:
            if s < 0:
                raise RuntimeError(f"expand: the expanded size of the tensor ({s}) isn't allowed "
                                   f"in a leading, non-existing dimension {i}")
            out.append(s)
            continue
        cur = shape[i - lead]
        if s == -1:
            s = cur
        elif cur != 1 and cur != s:
            raise RuntimeError(f"The expanded size of the tensor ({s}) must match the existing "
                               f"size ({cur}) at non-singleton dimension {i}.  Target sizes: "
                               f"{list(sizes)}.  Tensor sizes: {list(shape)}")
        out.append(s)
    return Expand.apply(input, shape=tuple(out))


def permute(input: Tensor, *dims) -> Tensor:
    """Reorder dimensions (a view).

    Example:
        >>> import ember
        >>> ember.zeros(2, 3, 4).permute(2, 0, 1).shape
        ember.Size([4, 2, 3])
    """
    dims = shape_arg(dims)
    n = input.ndim
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does "
                           f"not match the length of the desired ordering of dimensions i.e. "
                           f"input.dim() = {n} is not equal to len(dims) = {len(dims)}"
                           .replace("(sparse_coo)", ""))
    dims = tuple(norm_dim(d, n, "permute") for d in dims)
    if len(set(dims)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return Permute.apply(input, dims=dims)


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dimensions (a view).

    Example:
        >>> import ember
        >>> ember.zeros(2, 3).transpose(0, 1).shape
        ember.Size([3, 2])
    """
    n = input.ndim
    if n == 0:
        norm_dim(dim0, 0, "transpose"), norm_dim(dim1, 0, "transpose")
        return _alias(input)
    d0, d1 = norm_dim(dim0, n, "transpose"), norm_dim(dim1, n, "transpose")
    dims = list(range(n))
    dims[d0], dims[d1] = dims[d1], dims[d0]
    return Permute.apply(input, dims=tuple(dims))


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at ``dim`` (a view).

    Example:
        >>> import ember
        >>> ember.zeros(3).unsqueeze(0).shape
        ember.Size([1, 3])
    """
    n = input.ndim + 1
    d = norm_dim(dim, n, "unsqueeze")
    shape = list(input._data.shape)
    shape.insert(d, 1)
    return Reshape.apply(input, shape=tuple(shape))


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all, or those in ``dim``) (a view).

    Example:
        >>> import ember
        >>> ember.zeros(1, 3, 1).squeeze().shape
        ember.Size([3])
    """
    shape = input._data.shape
    if dim is None:
        dims = [i for i, s in enumerate(shape) if s == 1]
    else:
        dd = dim if isinstance(dim, (tuple, list)) else (dim,)
        dims = [norm_dim(d, len(shape), "squeeze") for d in dd] if shape else []
    new = tuple(s for i, s in enumerate(shape) if not (i in dims and s == 1))
    return Reshape.apply(input, shape=new)


# ---------------------------------------------------------------- basic slicing (views)


def decode_index(index: tuple) -> tuple:
    """The NumPy index of an encoded basic index: ints, None, and (start, stop, step)."""
    return tuple(slice(*e) if type(e) is tuple else e for e in index) + (Ellipsis,)


@register
class Slice(Op):
    """Basic indexing ``x[index]`` (a view); ``index`` is encoded as in ``decode_index``."""

    name = "slice"
    view = True

    @staticmethod
    def forward(ctx, x, index):
        ctx.in_shape, ctx.index = x.shape, index
        return x[decode_index(index)]

    @staticmethod
    def backward(ctx, F, g):
        return F.slice_backward(g, shape=ctx.in_shape, index=ctx.index)


@register
class SliceBackward(Op):
    """Zeros of ``shape`` with ``g`` written at ``index``: the adjoint of ``slice``."""

    name = "slice_backward"

    @staticmethod
    def forward(ctx, g, shape, index):
        ctx.index = index
        z = xp.zeros(shape, g.dtype)
        z[decode_index(index)] = g
        return z

    @staticmethod
    def backward(ctx, F, g):
        return F.slice(g, index=ctx.index)


def _slice_dim(x: Tensor, dim: int, item) -> Tensor:
    """``x`` indexed by ``item`` (an int or (start, stop, step)) along ``dim``."""
    return Slice.apply(x, index=(((None, None, None),) * dim) + (item,))


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


# ---------------------------------------------------------------- reshaping functions


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` into one (a view when possible).

    Example:
        >>> import ember
        >>> ember.zeros(2, 3, 4).flatten(1).shape
        ember.Size([2, 12])
    """
    shape = input._data.shape
    if not shape:
        return reshape(input, 1)
    s, e = norm_dim(start_dim, len(shape), "flatten"), norm_dim(end_dim, len(shape), "flatten")
    if s > e:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if s == e:
        return input
    return reshape(input, *shape[:s], math.prod(shape[s:e + 1]), *shape[e + 1:])


def unflatten(input: Tensor, dim: int, sizes) -> Tensor:
    """Expand dim ``dim`` into ``sizes`` (one may be -1).

    Example:
        >>> import ember
        >>> ember.zeros(2, 12).unflatten(1, (3, 4)).shape
        ember.Size([2, 3, 4])
    """
    shape = input._data.shape
    d = norm_dim(dim, len(shape), "unflatten")
    sizes = _infer_shape(tuple(int(s) for s in sizes), shape[d], "unflatten")
    return reshape(input, *shape[:d], *sizes, *shape[d + 1:])


def ravel(input: Tensor) -> Tensor:
    """The elements as a 1-D tensor (a view when contiguous).

    Example:
        >>> import ember
        >>> ember.zeros(2, 3).ravel().shape
        ember.Size([6])
    """
    return reshape(input, -1)


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """Alias of ``transpose``.

    Example:
        >>> import ember
        >>> ember.swapaxes(ember.zeros(2, 3), 0, 1).shape
        ember.Size([3, 2])
    """
    return transpose(input, axis0, axis1)


swapdims = swapaxes


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dims ``source`` to positions ``destination`` (a view).

    Example:
        >>> import ember
        >>> ember.movedim(ember.zeros(2, 3, 4), 0, -1).shape
        ember.Size([3, 4, 2])
    """
    n = input.ndim
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} "
                           f"dims) should contain the same number of dims as destination "
                           f"({list(dst)} dims)")
    src = tuple(norm_dim(d, n, "movedim") for d in src)
    dst = tuple(norm_dim(d, n, "movedim") for d in dst)
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise RuntimeError("movedim: repeated dim in `source` or `destination`")
    order = [d for d in range(n) if d not in src]
    for d, s in sorted(zip(dst, src, strict=True)):
        order.insert(d, s)
    if n == 0:
        return _alias(input)
    return Permute.apply(input, dims=tuple(order))


moveaxis = movedim


def t(input: Tensor) -> Tensor:
    """Transpose a tensor of at most 2 dims.

    Example:
        >>> import ember
        >>> ember.zeros(2, 3).t().shape
        ember.Size([3, 2])
    """
    if input.ndim > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is "
                           f"{input.ndim}D")
    return transpose(input, 0, 1) if input.ndim == 2 else _alias(input)


def broadcast_shapes(*shapes) -> Size:
    """The shape tensors of ``shapes`` broadcast to.

    Example:
        >>> import ember
        >>> ember.broadcast_shapes((2, 1), (3,))
        ember.Size([2, 3])
    """
    from ..tensor import Size
    shapes = [(s,) if isinstance(s, int) else tuple(s) for s in shapes]
    try:
        return Size(xp.broadcast_shapes(*shapes))
    except ValueError:
        raise RuntimeError(f"Shape mismatch: objects cannot be broadcast to a single shape: "
                           f"{shapes}") from None


def broadcast_to(input: Tensor, size) -> Tensor:
    """``input.expand(size)``.

    Example:
        >>> import ember
        >>> ember.broadcast_to(ember.tensor([1, 2]), (2, 2))
        tensor([[1, 2],
                [1, 2]])
    """
    return expand(input, *size)


def broadcast_tensors(*tensors) -> tuple:
    """Expand all tensors to their common broadcast shape (views).

    Example:
        >>> import ember
        >>> [t.shape for t in ember.broadcast_tensors(ember.zeros(2, 1), ember.zeros(3))]
        [ember.Size([2, 3]), ember.Size([2, 3])]
    """
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    try:
        shape = xp.broadcast_shapes(*(t._data.shape for t in tensors))
    except ValueError:
        a, b = tensors[0]._data.shape, None
        for t in tensors[1:]:
            try:
                xp.broadcast_shapes(a, t._data.shape)
                a = xp.broadcast_shapes(a, t._data.shape)
            except ValueError:
                b = t._data.shape
                break
        n = max(len(a), len(b))
        pa, pb = (1,) * (n - len(a)) + tuple(a), (1,) * (n - len(b)) + tuple(b)
        k = max(i for i in range(n) if pa[i] != pb[i] and 1 not in (pa[i], pb[i]))
        raise RuntimeError(f"The size of tensor a ({pa[k]}) must match the size of tensor b "
                           f"({pb[k]}) at non-singleton dimension {k}") from None
    return tuple(t if t._data.shape == shape else expand(t, *shape) for t in tensors)


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


# ---------------------------------------------------------------- repeating


def _repeat(input: Tensor, *sizes) -> Tensor:
    """Tile the tensor ``sizes[i]`` times along each dim (leading new dims allowed).

    Example:
        >>> import ember
        >>> ember.tensor([1, 2]).repeat(2, 2)
        tensor([[1, 2, 1, 2],
                [1, 2, 1, 2]])
    """
    reps = shape_arg(sizes)
    shape = input._data.shape
    if len(reps) < len(shape):
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of "
                           "dimensions of tensor")
    shape = (1,) * (len(reps) - len(shape)) + shape
    inter = tuple(v for s in shape for v in (1, s))
    big = tuple(v for r, s in zip(reps, shape, strict=True) for v in (r, s))
    x = Reshape.apply(input, shape=inter)
    x = Expand.apply(x, shape=big)
    return Reshape.apply(x, shape=tuple(r * s for r, s in zip(reps, shape, strict=True)))


def tile(input: Tensor, dims) -> Tensor:
    """Like ``repeat``, but ``dims`` shorter than the tensor's rank is padded with ones.

    Example:
        >>> import ember
        >>> ember.tile(ember.tensor([[1], [2]]), (2,)).shape
        ember.Size([2, 2])
    """
    dims = tuple(dims) if isinstance(dims, (list, tuple)) else (int(dims),)
    dims = (1,) * (input.ndim - len(dims)) + dims
    return _repeat(input, *dims)


def repeat_interleave(input: Tensor, repeats=None, dim: int | None = None, *,
                      output_size: int | None = None) -> Tensor:
    """Repeat each element ``repeats`` times (an int or one count per element) along ``dim``.

    Example:
        >>> import ember
        >>> ember.repeat_interleave(ember.tensor([1, 2]), 2)
        tensor([1, 1, 2, 2])
    """
    from .indexing import index_select
    if repeats is None:
        counts = input._data
        return Tensor._make(xp.repeat(xp.arange(counts.shape[0], dtype=xp.int64), counts))
    if dim is None:
        input = reshape(input, -1)
        d = 0
    else:
        d = norm_dim(dim, input.ndim, "repeat_interleave")
    n = input._data.shape[d] if input.ndim else 1
    if input.ndim == 0:
        input = reshape(input, 1)
    r = repeats._data if isinstance(repeats, Tensor) else repeats
    if isinstance(r, xp.ndarray) and r.ndim == 1 and r.shape[0] not in (1, n):
        raise RuntimeError("repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {r.shape[0]} and input.size({d}) = {n}")
    if isinstance(r, xp.ndarray) and r.size and r.min() < 0 or not isinstance(r, xp.ndarray) \
            and r < 0:
        raise RuntimeError("repeats can not be negative")
    idx = xp.repeat(xp.arange(n, dtype=xp.int64), r.reshape(-1) if isinstance(r, xp.ndarray)
                    and r.ndim == 0 else r)
    return index_select(input, d, Tensor._make(idx))


# ---------------------------------------------------------------- flips, rolls, triangles


@register
class Flip(Op):
    name = "flip"

    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return xp.flip(x, dims).copy() if dims else x.copy()

    @staticmethod
    def backward(ctx, F, g):
        return F.flip(g, dims=ctx.dims)


@register
class Roll(Op):
    name = "roll"

    @staticmethod
    def forward(ctx, x, shifts, dims):
        ctx.shifts, ctx.dims = shifts, dims
        return xp.roll(x, shifts, dims)

    @staticmethod
    def backward(ctx, F, g):
        return F.roll(g, shifts=tuple(-s for s in ctx.shifts), dims=ctx.dims)


@register
class Tril(Op):
    name = "tril"

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.k = diagonal
        return xp.tril(x, diagonal)

    @staticmethod
    def backward(ctx, F, g):
        return F.tril(g, diagonal=ctx.k)


@register
class Triu(Op):
    name = "triu"

    @staticmethod
    def forward(ctx, x, diagonal):
        ctx.k = diagonal
        return xp.triu(x, diagonal)

    @staticmethod
    def backward(ctx, F, g):
        return F.triu(g, diagonal=ctx.k)


def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order of elements along ``dims`` (a copy, as in torch).

    Example:
        >>> import ember
        >>> ember.flip(ember.tensor([1, 2, 3]), [0])
        tensor([3, 2, 1])
    """
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    d = tuple(norm_dim(x, input.ndim, "flip") for x in dims)
    if len(set(d)) != len(d):
        raise RuntimeError(f"dim {d[0]} appears multiple times in the list of dims")
    return Flip.apply(input, dims=d if input.ndim else ())


def fliplr(input: Tensor) -> Tensor:
    """Flip dim 1 (left/right).

    Example:
        >>> import ember
        >>> ember.fliplr(ember.tensor([[1, 2]]))
        tensor([[2, 1]])
    """
    if input.ndim < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """Flip dim 0 (up/down).

    Example:
        >>> import ember
        >>> ember.flipud(ember.tensor([1, 2]))
        tensor([2, 1])
    """
    if input.ndim < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return flip(input, (0,))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Roll elements along ``dims`` by ``shifts`` (the flattened tensor when ``dims`` is None).

    Example:
        >>> import ember
        >>> ember.roll(ember.tensor([1, 2, 3]), 1)
        tensor([3, 1, 2])
    """
    shifts = (int(shifts),) if not isinstance(shifts, (list, tuple)) else tuple(shifts)
    if dims is None:
        if len(shifts) != 1:
            raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, "
                               f"dims:0")
        return reshape(Roll.apply(reshape(input, -1), shifts=shifts, dims=(0,)),
                       *input._data.shape)
    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    if len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:"
                           f"{len(dims)}")
    dims = tuple(norm_dim(d, input.ndim, "roll") for d in dims)
    return Roll.apply(input, shifts=shifts, dims=dims)


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """The lower triangle (on and below ``diagonal``) of the last two dims; the rest zero.

    Example:
        >>> import ember
        >>> ember.tril(ember.ones(2, 2))
        tensor([[1., 0.],
                [1., 1.]])
    """
    if input.ndim < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return Tril.apply(input, diagonal=int(diagonal))


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """The upper triangle (on and above ``diagonal``) of the last two dims; the rest zero.

    Example:
        >>> import ember
        >>> ember.triu(ember.ones(2, 2))
        tensor([[1., 1.],
                [0., 1.]])
    """
    if input.ndim < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return Triu.apply(input, diagonal=int(diagonal))


# ---------------------------------------------------------------- diagonals


def _writeable_diag(x, offset, dim1, dim2):
    d = xp.diagonal(x, offset, dim1, dim2)
    if x.flags.writeable:
        d.flags.writeable = True
    return d


@register
class Diagonal(Op):
    """The diagonal of dims ``dim1``/``dim2`` as the last dim (a writable view)."""

    name = "diagonal"
    view = True

    @staticmethod
    def forward(ctx, x, offset, dim1, dim2):
        ctx.shape, ctx.args = x.shape, (offset, dim1, dim2)
        return _writeable_diag(x, offset, dim1, dim2)

    @staticmethod
    def backward(ctx, F, g):
        o, d1, d2 = ctx.args
        return F.diagonal_backward(g, shape=ctx.shape, offset=o, dim1=d1, dim2=d2)


@register
class DiagonalBackward(Op):
    """Zeros of ``shape`` with ``g`` on a diagonal: the adjoint of ``diagonal``."""

    name = "diagonal_backward"

    @staticmethod
    def forward(ctx, g, shape, offset, dim1, dim2):
        ctx.args = (offset, dim1, dim2)
        z = xp.zeros(shape, g.dtype)
        _writeable_diag(z, offset, dim1, dim2)[...] = g
        return z

    @staticmethod
    def backward(ctx, F, g):
        o, d1, d2 = ctx.args
        return F.diagonal(g, offset=o, dim1=d1, dim2=d2)


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The diagonal (``offset`` above the main one) of dims ``dim1``/``dim2``, a view.

    Example:
        >>> import ember
        >>> ember.diagonal(ember.tensor([[1, 2], [3, 4]]))
        tensor([1, 4])
    """
    n = input.ndim
    d1, d2 = norm_dim(dim1, n, "diagonal"), norm_dim(dim2, n, "diagonal")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return Diagonal.apply(input, offset=int(offset), dim1=d1, dim2=d2)


def diag_embed(input: Tensor, offset: int = 0, dim1: int = -2, dim2: int = -1) -> Tensor:
    """Tensors whose ``dim1``/``dim2`` diagonals hold the last dim of ``input``.

    Example:
        >>> import ember
        >>> ember.diag_embed(ember.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
    """
    n = input.ndim + 1
    d1, d2 = norm_dim(dim1, n, "diag_embed"), norm_dim(dim2, n, "diag_embed")
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    m = input._data.shape[-1] + builtins.abs(int(offset))
    shape = list(input._data.shape[:-1])
    for d in sorted((d1, d2)):
        shape.insert(d, m)
    return DiagonalBackward.apply(input, shape=tuple(shape), offset=int(offset), dim1=d1, dim2=d2)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """1-D: a square matrix with ``input`` on a diagonal; 2-D: that diagonal (a copy).

    Example:
        >>> import ember
        >>> ember.diag(ember.tensor([1, 2]))
        tensor([[1, 0],
                [0, 2]])
    """
    if input.ndim == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.ndim == 2:
        return clone(Diagonal.apply(input, offset=int(diagonal), dim1=0, dim2=1))
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.ndim}D")


# ---------------------------------------------------------------- select and narrow


def narrow(input: Tensor, dim: int, start, length: int) -> Tensor:
    """``length`` elements of dim ``dim`` from ``start`` (a view).

    Example:
        >>> import ember
        >>> ember.arange(5).narrow(0, 1, 2)
        tensor([1, 2])
    """
    if input.ndim == 0:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim, "narrow")
    n = input._data.shape[d]
    start = int(start)
    if not -n <= start <= n:
        raise IndexError(f"start out of range (expected to be in range of [{-n}, {n}], but got "
                         f"{start})")
    if start < 0:
        start += n
    if length < 0:
        raise RuntimeError("narrow(): length must be non-negative.")
    if start + length > n:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({n}).")
    return _slice_dim(input, d, (start, start + length, 1))


def select(input: Tensor, dim: int, index: int) -> Tensor:
    """The slice at ``index`` of dim ``dim``, that dim removed (a view).

    Example:
        >>> import ember
        >>> ember.tensor([[1, 2], [3, 4]]).select(1, 0)
        tensor([1, 3])
    """
    if input.ndim == 0:
        raise IndexError("select() cannot be applied to a 0-dim tensor.")
    d = norm_dim(dim, input.ndim, "select")
    n = input._data.shape[d]
    i = int(index)
    if not -n <= i < n:
        raise IndexError(f"select(): index {i} out of range for tensor of size "
                         f"{list(input._data.shape)} at dimension {d}")
    return _slice_dim(input, d, i + n if i < 0 else i)


@register
class Unfold(Op):
    """Windows of ``size`` every ``step`` along ``dim``, as a new last dim (a view)."""

    name = "unfold"
    view = True

    @staticmethod
    def forward(ctx, x, dim, size, step):
        ctx.shape, ctx.args = x.shape, (dim, size, step)
        if x.ndim == 0:
            return x.reshape(1)
        w = xp.lib.stride_tricks.sliding_window_view(x, size, axis=dim,
                                                     writeable=x.flags.writeable)
        return w[(slice(None),) * dim + (slice(None, None, step),)]

    @staticmethod
    def backward(ctx, F, g):
        dim, size, step = ctx.args
        return F.unfold_backward(g, shape=ctx.shape, dim=dim, size=size, step=step)


@register
class UnfoldBackward(Op):
    """The adjoint of ``unfold``: window gradients summed back into ``shape``."""

    name = "unfold_backward"

    @staticmethod
    def forward(ctx, g, shape, dim, size, step):
        ctx.args = (dim, size, step)
        z = xp.zeros(shape, g.dtype)
        if not shape:
            return g.reshape(())
        nw = g.shape[dim]
        pre = (slice(None),) * dim
        for k in range(size):
            z[pre + (slice(k, k + step * (nw - 1) + 1, step),)] += xp.moveaxis(g[..., k], dim, dim)
        return z

    @staticmethod
    def backward(ctx, F, g):
        dim, size, step = ctx.args
        return F.unfold(g, dim=dim, size=size, step=step)


def _unfold(self: Tensor, dimension: int, size: int, step: int) -> Tensor:
    """Sliding windows of ``size`` with stride ``step`` along ``dimension`` (a view).

    Example:
        >>> import ember
        >>> ember.arange(5).unfold(0, 2, 2)
        tensor([[0, 1],
                [2, 3]])
    """
    d = norm_dim(dimension, self.ndim, "unfold")
    n = self._data.shape[d] if self.ndim else 1
    if size > n:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {n} but size is {size}")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return Unfold.apply(self, dim=d, size=int(size), step=int(step))


def select_scatter(input: Tensor, src: Tensor, dim: int, index: int) -> Tensor:
    """``input`` with ``input.select(dim, index)`` replaced by ``src``.

    Example:
        >>> import ember
        >>> ember.select_scatter(ember.zeros(2, 2), ember.ones(2), 0, 1)
        tensor([[0., 0.],
                [1., 1.]])
    """
    out = clone(input)
    select(out, dim, index).copy_(src)
    return out


def slice_scatter(input: Tensor, src: Tensor, dim: int = 0, start: int | None = None,
                  end: int | None = None, step: int = 1) -> Tensor:
    """``input`` with the slice ``start:end:step`` of dim ``dim`` replaced by ``src``.

    Example:
        >>> import ember
        >>> ember.slice_scatter(ember.zeros(4), ember.ones(2), start=1, step=2)
        tensor([0., 1., 0., 1.])
    """
    out = clone(input)
    d = norm_dim(dim, input.ndim, "slice_scatter")
    out[(slice(None),) * d + (slice(start, end, step),)] = src
    return out


def diagonal_scatter(input: Tensor, src: Tensor, offset: int = 0, dim1: int = 0,
                     dim2: int = 1) -> Tensor:
    """``input`` with ``input.diagonal(offset, dim1, dim2)`` replaced by ``src``.

    Example:
        >>> import ember
        >>> ember.diagonal_scatter(ember.zeros(2, 2), ember.ones(2))
        tensor([[1., 0.],
                [0., 1.]])
    """
    out = clone(input)
    diagonal(out, offset, dim1, dim2).copy_(src)
    return out


def narrow_copy(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``narrow`` as a copy.

    Example:
        >>> import ember
        >>> ember.narrow_copy(ember.arange(4), 0, 1, 2)
        tensor([1, 2])
    """
    return clone(narrow(input, dim, start, length))


# ---------------------------------------------------------------- copies and padding


@register
class Clone(Op):
    name = "clone"

    @staticmethod
    def forward(ctx, x):
        return x.copy()

    @staticmethod
    def backward(ctx, F, g):
        return g


def clone(input: Tensor, *, memory_format=None) -> Tensor:
    """A copy with its own memory (differentiable).

    Example:
        >>> import ember
        >>> a = ember.zeros(2); b = a.clone(); b[0] = 1; a
        tensor([0., 0.])
    """
    return Clone.apply(input)


def _contiguous(self: Tensor, memory_format=None) -> Tensor:
    return self if self._data.flags["C_CONTIGUOUS"] else Clone.apply(self)


@register
class ConstantPad(Op):
    """Pad with ``value`` (negative pads crop); ``pad`` in torch's order (last dim first)."""

    name = "constant_pad"

    @staticmethod
    def forward(ctx, x, pad, value):
        ctx.pad = pad
        shape, src, dst = list(x.shape), [slice(None)] * x.ndim, [slice(None)] * x.ndim
        for i in range(len(pad) // 2):
            d = x.ndim - 1 - i
            lo, hi, n = pad[2 * i], pad[2 * i + 1], x.shape[d]
            shape[d] = n + lo + hi
            if shape[d] < 0:
                raise RuntimeError(f"The input size {n}, plus negative padding {lo} and {hi} "
                                   f"resulted in a negative output size, which is invalid. Check "
                                   f"dimension {d} of your input.")
            a, b = max(-lo, 0), n - max(-hi, 0)
            src[d] = slice(a, max(a, b))
            dst[d] = slice(max(lo, 0), max(lo, 0) + max(b - a, 0))
        out = xp.full(shape, value, x.dtype)
        out[tuple(dst)] = x[tuple(src)]
        return out

    @staticmethod
    def backward(ctx, F, g):
        return F.constant_pad(g, pad=tuple(-p for p in ctx.pad), value=0)


def _pad_index(n: int, lo: int, hi: int, mode: str):
    j = xp.arange(-lo, n + hi)
    if mode == "reflect":
        j = xp.abs(j)
        return xp.where(j >= n, 2 * (n - 1) - j, j)
    if mode == "replicate":
        return xp.clip(j, 0, n - 1)
    return j % n


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad the last ``len(pad) // 2`` dims; ``pad`` = (last_lo, last_hi, prev_lo, prev_hi, ...).

    ``mode`` is ``'constant'`` (with ``value``), ``'reflect'``, ``'replicate'`` or
    ``'circular'``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.pad(ember.tensor([[1, 2]]), (1, 1))
        tensor([[0, 1, 2, 0]])
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input "
                           f"dimension but got padding length {len(pad)} and input of dimension "
                           f"{input.ndim}")
    if mode == "constant":
        return ConstantPad.apply(input, pad=pad, value=0 if value is None else value)
    if mode not in ("reflect", "replicate", "circular"):
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    k = len(pad) // 2
    if input.ndim not in (k + 1, k + 2):
        raise NotImplementedError(f"Padding size {len(pad)} is not supported for {input.ndim}D "
                                  f"input tensor.")
    from .indexing import index_select
    x = input
    for i in range(k):
        d = x.ndim - 1 - i
        lo, hi, n = pad[2 * i], pad[2 * i + 1], x._data.shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding "
                               f"input dimension, but got: padding ({lo}, {hi}) at dimension {d} "
                               f"of input {list(input._data.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n == 0 and lo + hi > 0:
            raise RuntimeError("padding size should be less than the corresponding input "
                               "dimension")
        if lo or hi:
            x = index_select(x, d, Tensor._make(_pad_index(n, lo, hi, mode)))
    return x



def _T(self: Tensor) -> Tensor:
    if self.ndim > 2:
        return permute(self, *reversed(range(self.ndim)))
    return transpose(self, 0, 1) if self.ndim == 2 else _alias(self)


def _mT(self: Tensor) -> Tensor:
    if self.ndim < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got "
                           f"{self.ndim}-D tensor.")
    return transpose(self, -2, -1)


install_methods({
    "reshape": reshape, "view": view, "expand": expand, "permute": permute,
    "transpose": transpose, "unsqueeze": unsqueeze, "squeeze": squeeze,
    "T": property(_T), "mT": property(_mT),
    "expand_as": lambda self, other: expand(self, *other.shape),
    "view_as": lambda self, other: view(self, *other.shape),
    "reshape_as": lambda self, other: reshape(self, *other.shape),
    "flatten": flatten, "unflatten": unflatten, "ravel": ravel, "swapaxes": swapaxes,
    "swapdims": swapaxes, "movedim": movedim, "moveaxis": movedim, "t": t,
    "broadcast_to": broadcast_to, "repeat": _repeat, "tile": tile,
    "repeat_interleave": repeat_interleave, "split": split, "chunk": chunk,
    "tensor_split": tensor_split, "unbind": unbind, "flip": flip, "fliplr": fliplr,
    "flipud": flipud, "roll": roll, "tril": tril, "triu": triu,
    "tril_": lambda self, diagonal=0: apply_inplace(Tril, self, diagonal=int(diagonal)),
    "triu_": lambda self, diagonal=0: apply_inplace(Triu, self, diagonal=int(diagonal)),
    "diagonal": diagonal, "diag": diag, "diag_embed": diag_embed, "narrow": narrow,
    "select": select, "clone": clone, "contiguous": _contiguous, "unfold": _unfold,
    "select_scatter": select_scatter, "slice_scatter": slice_scatter,
    "diagonal_scatter": diagonal_scatter, "narrow_copy": narrow_copy,
})
