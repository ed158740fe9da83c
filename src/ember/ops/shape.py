"""Shape and movement ops. Where NumPy gives a view, the result is a view (sharing the
version counter), as in torch."""

from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor
from ._util import norm_dim, shape_arg
from .registry import Op, install_methods, register

__all__ = ["reshape", "view", "expand", "permute", "transpose", "unsqueeze", "squeeze"]



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
})
