"""View ops: reshape/view/expand/permute/transpose/squeeze/unsqueeze, flatten and
friends, broadcasting, basic slicing, diagonal, narrow/select and unfold.

Where NumPy gives a view, the result is a view (sharing the version counter), as in torch.
"""

from __future__ import annotations

import math

from ..backend import xp
from ..tensor import Size, Tensor
from ._util import norm_dim, shape_arg
from .registry import Op, install_methods, register

__all__ = ["reshape", "view", "expand", "permute", "transpose", "unsqueeze", "squeeze", "flatten",
           "unflatten", "swapaxes", "swapdims", "movedim", "moveaxis", "broadcast_to",
           "broadcast_tensors", "broadcast_shapes", "narrow", "select", "diagonal", "t", "ravel"]


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
        if type(x) is xp.ndarray and x.size and x.flags.c_contiguous:
            # a zero-stride view built directly: NumPy's broadcast_to costs ~4x more, and
            # every sum's gradient comes through here
            lead = len(shape) - x.ndim
            strides = (0,) * lead + tuple(0 if n == 1 and m != 1 else st for n, m, st in
                                          zip(x.shape, shape[lead:], x.strides))
            out = xp.ndarray(shape, x.dtype, buffer=x, strides=strides)
            out.flags.writeable = False
            return out
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
    "broadcast_to": broadcast_to, "diagonal": diagonal, "narrow": narrow, "select": select,
    "unfold": _unfold,
})
