"""Gather and scatter ops: gather/scatter/scatter_add/scatter_reduce, index_select and the
index_add/index_copy/index_fill/index_put family, take/take_along_dim, and the masked_fill/
masked_select/masked_scatter family.
"""

from __future__ import annotations

import builtins

from ..autograd.grad_mode import _state
from ..backend import xp
from ..tensor import Tensor
from ._util import const_tensor, norm_dim
from .indexing import Index, IndexBackward, Setitem, _adv, _nonzero_tuple, _parse
from .registry import Op, apply_inplace, install_methods, register
from .shape import decode_index, reshape

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "index_copy", "index_fill", "index_put", "take", "take_along_dim", "masked_fill",
           "masked_select", "masked_scatter"]


def _gather_index(index, dim: int) -> tuple:
    """The NumPy index reading ``x[i0, .., index[i0, .., ik], .., ik]`` over index's shape."""
    idx = list(xp.indices(index.shape, sparse=True))
    idx[dim] = index
    return tuple(idx)


@register
class Gather(Op):
    name = "gather"

    @staticmethod
    def forward(ctx, x, index, dim):
        ctx.shape, ctx.dim = x.shape, dim
        ctx.save_for_backward(index)
        return x[_gather_index(index, dim)]

    @staticmethod
    def backward(ctx, F, g):
        (index,) = ctx.saved_tensors
        return F.gather_backward(g, index, dim=ctx.dim, shape=ctx.shape), None


@register
class GatherBackward(Op):
    """Zeros of ``shape`` with ``g`` added at the gathered positions: gather's adjoint."""

    name = "gather_backward"

    @staticmethod
    def forward(ctx, g, index, dim, shape):
        ctx.dim = dim
        ctx.save_for_backward(index)
        z = xp.zeros(shape, g.dtype)
        xp.add.at(z, _gather_index(index, dim), g)
        return z

    @staticmethod
    def backward(ctx, F, g):
        (index,) = ctx.saved_tensors
        return F.gather(g, index, dim=ctx.dim), None


def _src_part(src, index):
    if type(src) is not xp.ndarray or src.ndim == 0:
        return src
    return src[tuple(slice(0, k) for k in index.shape)]


def _src_grad(F, g, index, dim, src_shape, index_shape):
    gs = F.gather(g, index, dim=dim)
    if src_shape is not None and tuple(src_shape) != tuple(index_shape):
        gs = F.slice_backward(gs, shape=src_shape, index=tuple((0, k, 1) for k in index_shape))
    return gs


@register
class Scatter(Op):
    """``x`` with ``src`` (an array, sliced to index's shape, or a scalar) written at index."""

    name = "scatter"

    @staticmethod
    def forward(ctx, x, index, src, dim):
        ctx.dim, ctx.index_shape = dim, index.shape
        ctx.src_shape = src.shape if type(src) is xp.ndarray else None
        ctx.save_for_backward(index)
        z = x.copy()
        z[_gather_index(index, dim)] = _src_part(src, index)
        return z

    @staticmethod
    def backward(ctx, F, g):
        (index,) = ctx.saved_tensors
        nx, _, ns = ctx.needs_input_grad
        gx = F.scatter(g, index, 0.0, dim=ctx.dim) if nx else None
        gs = _src_grad(F, g, index, ctx.dim, ctx.src_shape, ctx.index_shape) if ns else None
        return gx, None, gs


@register
class ScatterAdd(Op):
    name = "scatter_add"

    @staticmethod
    def forward(ctx, x, index, src, dim):
        ctx.dim, ctx.index_shape = dim, index.shape
        ctx.src_shape = src.shape if type(src) is xp.ndarray else None
        ctx.save_for_backward(index)
        z = x.copy()
        xp.add.at(z, _gather_index(index, dim), _src_part(src, index))
        return z

    @staticmethod
    def backward(ctx, F, g):
        (index,) = ctx.saved_tensors
        ns = ctx.needs_input_grad[2]
        gs = _src_grad(F, g, index, ctx.dim, ctx.src_shape, ctx.index_shape) if ns else None
        return g, None, gs


_UFUNC = {"multiply": "multiply", "prod": "multiply", "amax": "maximum", "amin": "minimum",
          "sum": "add", "add": "add"}


@register
class ScatterReduce(Op):
    """``scatter_reduce`` with prod/amax/amin/mean (forward only; sum goes to scatter_add)."""

    name = "scatter_reduce"

    @staticmethod
    def forward(ctx, x, index, src, dim, reduce, include_self):
        gi = _gather_index(index, dim)
        s = _src_part(src, index)
        if reduce == "mean":
            z = x.copy() if include_self else x.copy() * 0
            cnt = xp.ones(x.shape, x.dtype) if include_self else xp.zeros(x.shape, x.dtype)
            xp.add.at(z, gi, s)
            xp.add.at(cnt, gi, 1)
            out = z / xp.maximum(cnt, 1)
            out = xp.where(cnt == 0, x, out)
            return out.astype(x.dtype) if x.dtype.kind == "f" else (z // xp.maximum(cnt, 1))
        ufunc = getattr(xp, _UFUNC[reduce])
        z = x.copy()
        if not include_self:
            init = {"multiply": 1, "maximum": None, "minimum": None, "add": 0}[_UFUNC[reduce]]
            hit = xp.zeros(x.shape, bool)
            hit[gi] = True
            if init is None:
                first = xp.full(x.shape, 0, x.dtype)
                first[gi] = s
                z = xp.where(hit, first, z)
            else:
                z = xp.where(hit, xp.asarray(init, x.dtype), z)
        ufunc.at(z, gi, s)
        return z


def _check_index(index: Tensor, op: str) -> None:
    if not isinstance(index, Tensor):
        raise TypeError(f"{op}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._data.dtype.kind not in "iu":
        raise RuntimeError(f"{op}(): Expected dtype int32/int64 for index")


def _check_gather_args(input: Tensor, dim: int, index: Tensor, op: str, src=None) -> int:
    _check_index(index, op)
    n = input.ndim
    d = norm_dim(dim, n, op)
    if index.ndim != n and not (index.ndim <= 1 and n <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
    shape, ishape = input._data.shape, index._data.shape
    for k in range(min(len(ishape), len(shape))):
        if k != d and ishape[k] > shape[k]:
            raise RuntimeError(f"Size does not match at dimension {k} expected index "
                               f"{list(ishape)} to be no larger than self {list(shape)} apart "
                               f"from dimension {d}")
    if isinstance(src, Tensor) and src.ndim == index.ndim:
        for k in range(src.ndim):
            if ishape[k] > src._data.shape[k]:
                raise RuntimeError(f"Size does not match at dimension {k} expected index "
                                   f"{list(ishape)} to be no larger than src "
                                   f"{list(src._data.shape)}")
    a = index._data
    if a.size:
        size = shape[d] if shape else 1
        bad = a[(a < 0) | (a >= size)] if op != "gather" else a[(a < -size) | (a >= size)]
        if bad.size:
            raise RuntimeError(f"index {int(bad.flat[0])} is out of bounds for dimension {d} "
                               f"with size {size}")
    return d


def _as_1d(t: Tensor) -> Tensor:
    return reshape(t, 1) if t.ndim == 0 else t


# ---------------------------------------------------------------- gather / scatter / index_*


def gather(input: Tensor, dim: int, index: Tensor, *, sparse_grad: bool = False) -> Tensor:
    """``out[i][j] = input[index[i][j]][j]`` for ``dim=0`` (and likewise for other dims).

    Example:
        >>> import ember
        >>> ember.gather(ember.tensor([[1, 2], [3, 4]]), 1, ember.tensor([[0, 0], [1, 0]]))
        tensor([[1, 1],
                [4, 3]])
    """
    d = _check_gather_args(input, dim, index, "gather")
    if input.ndim == 0:
        return reshape(Gather.apply(reshape(input, 1), _as_1d(index), dim=0), *index.shape)
    return Gather.apply(input, index, dim=d)


def scatter(input: Tensor, dim: int, index: Tensor, src=None, *, value=None,
            reduce: str | None = None) -> Tensor:
    """``input`` with ``src`` (a tensor, or a scalar ``value``) written at ``index`` along ``dim``.

    ``reduce='add'`` or ``'multiply'`` combines instead of overwriting.

    Example:
        >>> import ember
        >>> ember.zeros(3).scatter(0, ember.tensor([2, 0]), ember.tensor([5.0, 6.0]))
        tensor([6., 0., 5.])
    """
    if src is None:
        src = value
    d = _check_gather_args(input, dim, index, "scatter", src)
    if isinstance(src, Tensor) and src._data.dtype != input._data.dtype:
        if src.ndim == 0 and reduce is None:
            src = src.item()
        else:
            raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    if reduce is None:
        return Scatter.apply(input, index, src, dim=d)
    if reduce == "add":
        return ScatterAdd.apply(input, index, src, dim=d)
    if reduce == "multiply":
        return ScatterReduce.apply(input, index, src, dim=d, reduce="multiply",
                                   include_self=True)
    raise RuntimeError(f"reduce argument must be either add or multiply. Got {reduce}")


def scatter_add(input: Tensor, dim: int, index: Tensor, src: Tensor) -> Tensor:
    """``input`` with ``src`` added at ``index`` along ``dim`` (duplicates accumulate).

    Example:
        >>> import ember
        >>> ember.zeros(2).scatter_add(0, ember.tensor([1, 1]), ember.tensor([1.0, 2.0]))
        tensor([0., 3.])
    """
    d = _check_gather_args(input, dim, index, "scatter_add", src)
    return ScatterAdd.apply(input, index, src, dim=d)


def scatter_reduce(input: Tensor, dim: int, index: Tensor, src: Tensor, reduce: str, *,
                   include_self: bool = True) -> Tensor:
    """Reduce ``src`` into ``input`` at ``index`` with ``sum``/``prod``/``mean``/``amax``/``amin``.

    Differentiable for every reduction but ``prod``.

    Example:
        >>> import ember
        >>> ember.zeros(2).scatter_reduce(0, ember.tensor([0, 0]), ember.tensor([1.0, 3.0]),
        ...                               "amax")
        tensor([3., 0.])
    """
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got "
                           f"{reduce}")
    d = _check_gather_args(input, dim, index, "scatter_reduce", src)
    if reduce == "sum" and include_self:
        return ScatterAdd.apply(input, index, src, dim=d)
    out = ScatterReduce.apply(input, index, src, dim=d, reduce=reduce,
                              include_self=include_self)
    needs = (input._rg or src._rg) and _state.grad_enabled and input._data.dtype.kind == "f"
    if not needs or reduce == "prod":
        return out
    return _scatter_reduce_grad(input, index, src, d, reduce, include_self, out.detach())


def _scatter_reduce_grad(x: Tensor, index: Tensor, src: Tensor, d: int, reduce: str,
                         include_self: bool, r: Tensor) -> Tensor:
    """``r`` (the reduction's value) with torch's gradients attached: sum and mean pass
    the gradient (divided by the count for mean), amax/amin split it evenly among ties."""
    part = src[tuple(slice(0, k) for k in index._data.shape)] if src.ndim else src
    if include_self:
        keep = const_tensor(xp.ones(x._data.shape, x._data.dtype))
    else:  # the positions no index reaches keep their value's gradient
        ones = const_tensor(xp.ones(index._data.shape, x._data.dtype))
        hits = ScatterAdd.apply(const_tensor(xp.zeros(x._data.shape, x._data.dtype)), index,
                                ones, dim=d)
        keep = (hits == 0).to(x.dtype)
    if reduce in ("sum", "mean"):
        mx, ms = keep, 1.0
    else:
        mx = keep * (x.detach() == r)
        ms = (part.detach() == gather(r, d, index)).to(x.dtype)
    n = ScatterAdd.apply(mx if reduce != "sum" else keep * 0, index,
                         ms * const_tensor(xp.ones(index._data.shape, x._data.dtype)), dim=d)
    n = n.clamp(min=1) if reduce != "sum" else 1.0
    dx = (x - x.detach()) * mx
    ds = (part - part.detach()) * ms
    return r + ScatterAdd.apply(dx, index, ds, dim=d) / n


def _check_vector_index(input: Tensor, dim: int, index: Tensor, op: str) -> int:
    _check_index(index, op)
    if index.ndim > 1:
        raise IndexError(f"{op}(): Index is supposed to be a vector")
    d = norm_dim(dim, input.ndim, op)
    n = input._data.shape[d] if input.ndim else 1
    a = index._data
    if a.size and (a.max() >= n or a.min() < -n):
        bad = int(a.max()) if a.max() >= n else int(a.min())
        if op == "index_select":
            raise IndexError("index out of range in self")
        raise RuntimeError(f"index {bad} is out of bounds for dimension {d} with size {n}")
    return d


def index_select(input: Tensor, dim: int, index: Tensor) -> Tensor:
    """The entries of ``input`` at ``index`` (1-D) along ``dim``.

    Example:
        >>> import ember
        >>> ember.tensor([[1, 2], [3, 4]]).index_select(0, ember.tensor([1, 1]))
        tensor([[3, 4],
                [3, 4]])
    """
    d = _check_vector_index(input, dim, index, "index_select")
    if input.ndim == 0:
        if index.numel() != 1:
            raise RuntimeError(f"index_select(): Index to scalar can have only 1 value, got "
                               f"{index.numel()} value(s)")
        return reshape(Index.apply(reshape(input, 1), _as_1d(index), dims=(0,)))
    return Index.apply(input, _as_1d(index), dims=(d,))


def index_add(input: Tensor, dim: int, index: Tensor, source: Tensor, *, alpha=1) -> Tensor:
    """``input`` with ``alpha * source`` added at ``index`` along ``dim`` (duplicates add up).

    Example:
        >>> import ember
        >>> ember.zeros(3).index_add(0, ember.tensor([0, 0]), ember.tensor([1.0, 2.0]))
        tensor([3., 0., 0.])
    """
    d = _check_vector_index(input, dim, index, "index_add")
    if alpha != 1:
        source = source * alpha
    if input.ndim == 0:
        return input + reshape(source, ())
    add = IndexBackward.apply(source if source.ndim else reshape(source, 1), _as_1d(index),
                              shape=input._data.shape, dims=(d,))
    return input + add if add._data.dtype == input._data.dtype else \
        input + add.to(input.dtype)


def index_copy(input: Tensor, dim: int, index: Tensor, source: Tensor) -> Tensor:
    """``input`` with the slices at ``index`` along ``dim`` replaced by ``source``'s.

    Example:
        >>> import ember
        >>> ember.zeros(3).index_copy(0, ember.tensor([2]), ember.tensor([7.0]))
        tensor([0., 0., 7.])
    """
    d = _check_vector_index(input, dim, index, "index_copy")
    if input.ndim == 0:
        return Setitem.apply(input, reshape(source, ()), basic=(), dims=())
    return Setitem.apply(input, source, _as_1d(index), basic=(), dims=(d,))


def index_fill(input: Tensor, dim: int, index: Tensor, value) -> Tensor:
    """``input`` with the slices at ``index`` along ``dim`` set to ``value``.

    Example:
        >>> import ember
        >>> ember.zeros(3).index_fill(0, ember.tensor([1]), 5.0)
        tensor([0., 5., 0.])
    """
    d = _check_vector_index(input, dim, index, "index_fill")
    if isinstance(value, Tensor) and value.ndim:
        raise RuntimeError(f"index_fill_ only supports a 0-dimensional value tensor, but got "
                           f"tensor with {value.ndim} dimension(s).")
    if input.ndim == 0:
        return Setitem.apply(input, value, basic=(), dims=())
    return Setitem.apply(input, value, _as_1d(index), basic=(), dims=(d,))


def index_put(input: Tensor, indices, values, accumulate: bool = False) -> Tensor:
    """``input`` with ``values`` written (or, with ``accumulate``, added) at ``input[indices]``.

    Example:
        >>> import ember
        >>> ember.zeros(3).index_put((ember.tensor([0, 0]),), ember.tensor(1.0), accumulate=True)
        tensor([2., 0., 0.])
    """
    basic, dims, arrays = _parse(input, tuple(indices))
    idx = [Tensor._make(a) for a in arrays]
    if not accumulate:
        return Setitem.apply(input, values, *idx, basic=basic, dims=dims)
    from .shape import expand
    if not isinstance(values, Tensor):
        values = Tensor._make(xp.asarray(values, input._data.dtype))
    probe = xp.broadcast_to(xp.zeros((), xp.int8), input._data.shape)
    t = probe[decode_index(basic)] if basic else probe
    if dims:
        t = t[_adv(t.ndim, arrays, dims)]
    v = expand(values, *t.shape) if values._data.shape != t.shape else values
    if basic:
        from .shape import SliceBackward
        sliced = input._data[decode_index(basic)].shape
        add = SliceBackward.apply(IndexBackward.apply(v, *idx, shape=sliced, dims=dims)
                                  if dims else v, shape=input._data.shape, index=basic)
    else:
        add = IndexBackward.apply(v, *idx, shape=input._data.shape, dims=dims)
    return input + (add if add._data.dtype == input._data.dtype else add.to(input.dtype))


def take(input: Tensor, index: Tensor) -> Tensor:
    """The elements of flattened ``input`` at ``index`` (result has index's shape).

    Example:
        >>> import ember
        >>> ember.take(ember.tensor([[1, 2], [3, 4]]), ember.tensor([0, 3]))
        tensor([1, 4])
    """
    _check_index(index, "take")
    n = input.numel()
    a = index._data
    if a.size and (a.max() >= n or a.min() < -n):
        bad = int(a.max()) if a.max() >= n else int(a.min())
        raise IndexError(f"out of range: tried to access index {bad} on a tensor of {n} "
                         f"elements.")
    return Index.apply(reshape(input, -1), index, dims=(0,))


def take_along_dim(input: Tensor, indices: Tensor, dim: int | None = None) -> Tensor:
    """``gather`` with ``indices`` broadcast against ``input`` (flattened when ``dim`` is None).

    Example:
        >>> import ember
        >>> x = ember.tensor([[3, 1], [2, 4]])
        >>> ember.take_along_dim(x, x.argsort(dim=1), dim=1)
        tensor([[1, 3],
                [2, 4]])
    """
    if dim is None:
        return Index.apply(reshape(input, -1), reshape(indices, -1), dims=(0,))
    from .shape import expand
    d = norm_dim(dim, input.ndim, "take_along_dim")
    if input.ndim != indices.ndim:
        raise RuntimeError("torch.take_along_dim(): input and indices should have the same "
                           f"number of dimensions, but got {input.ndim} dimensions for input, "
                           f"and {indices.ndim} dimensions for indices")
    si, sx = list(input._data.shape), list(indices._data.shape)
    si[d] = sx[d] = 1
    b = list(xp.broadcast_shapes(tuple(si), tuple(sx)))
    bi, bx = list(b), list(b)
    bi[d], bx[d] = input._data.shape[d], indices._data.shape[d]
    if tuple(bi) != input._data.shape:
        input = expand(input, *bi)
    if tuple(bx) != indices._data.shape:
        indices = expand(indices, *bx)
    return gather(input, d, indices)


# ---------------------------------------------------------------- masks


@register
class MaskedFill(Op):
    """``where(mask, value, x)`` in x's dtype, with x first (so it runs in place)."""

    name = "masked_fill"

    @staticmethod
    def forward(ctx, x, mask, value):
        ctx.save_for_backward(mask)
        out = xp.where(mask, xp.asarray(value).astype(x.dtype), x)
        return out if out.shape == x.shape else xp.broadcast_to(out, x.shape).copy()

    @staticmethod
    def backward(ctx, F, g):
        (mask,) = ctx.saved_tensors
        nx, _, nv = ctx.needs_input_grad
        return (F.where(mask, 0.0, g) if nx else None, None,
                F.sum(F.where(mask, g, 0.0), dim=None, keepdim=False) if nv else None)


def _mask_args(input: Tensor, mask: Tensor, value, op: str):
    if not isinstance(mask, Tensor) or mask._data.dtype != xp.bool_:
        dt = mask.dtype if isinstance(mask, Tensor) else type(mask).__name__
        raise RuntimeError(f"{op} only supports boolean masks, but got mask with dtype "
                           f"{str(dt).split('.')[-1]}")
    if xp.broadcast_shapes(mask._data.shape, input._data.shape) != input._data.shape:
        raise RuntimeError(f"The size of tensor a ({input._data.shape[-1] if input.ndim else 1}) "
                           f"must match the size of tensor b ({mask._data.shape[-1]}) at "
                           f"non-singleton dimension {max(input.ndim, mask.ndim) - 1}")
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"{op} only supports a 0-dimensional value tensor, but got tensor "
                               f"with {value.ndim} dimension(s).")
        if not value._rg:
            value = value.item()
    return value


def masked_fill(input: Tensor, mask: Tensor, value) -> Tensor:
    """``input`` with ``value`` where ``mask`` (bool, broadcastable) is True.

    Example:
        >>> import ember
        >>> ember.zeros(3).masked_fill(ember.tensor([True, False, True]), 1.0)
        tensor([1., 0., 1.])
    """
    value = _mask_args(input, mask, value, "masked_fill_")
    return MaskedFill.apply(input, mask, value)


def _masked_fill_(self: Tensor, mask: Tensor, value) -> Tensor:
    value = _mask_args(self, mask, value, "masked_fill_")
    return apply_inplace(MaskedFill, self, mask, value)


def masked_select(input: Tensor, mask: Tensor) -> Tensor:
    """The elements of ``input`` where ``mask`` is True, as a 1-D tensor.

    Example:
        >>> import ember
        >>> ember.tensor([1, 2, 3]).masked_select(ember.tensor([True, False, True]))
        tensor([1, 3])
    """
    if not isinstance(mask, Tensor) or mask._data.dtype != xp.bool_:
        raise RuntimeError("masked_select: expected BoolTensor for mask")
    from .shape import broadcast_tensors
    x, m = broadcast_tensors(input, mask)
    if x.ndim == 0:
        x, m = reshape(x, 1), reshape(m, 1)
    idx = _nonzero_tuple(m)
    return Index.apply(x, *idx, dims=tuple(range(len(idx))))


def masked_scatter(input: Tensor, mask: Tensor, source: Tensor) -> Tensor:
    """``input`` with consecutive elements of ``source`` written where ``mask`` is True.

    Example:
        >>> import ember
        >>> ember.zeros(3).masked_scatter(ember.tensor([True, False, True]),
        ...                               ember.tensor([1.0, 2.0]))
        tensor([1., 0., 2.])
    """
    if not isinstance(mask, Tensor) or mask._data.dtype != xp.bool_:
        raise RuntimeError("masked_scatter_ only supports boolean masks")
    from .shape import expand
    m = mask if mask._data.shape == input._data.shape else expand(mask, input._data.shape)
    idx = _nonzero_tuple(m) if m.ndim else ()
    k = int(idx[0]._data.size) if idx else int(builtins.bool(m))
    if source.numel() < k:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements "
                           "as ones in mask")
    src = Index.apply(reshape(source, -1), const_tensor(xp.arange(k)), dims=(0,))
    if input.ndim == 0:
        return expand(input, ()) if not k else reshape(src, ())
    return Setitem.apply(input, src, *idx, basic=(), dims=tuple(range(len(idx))))


def _copy_into(self: Tensor, out: Tensor) -> Tensor:
    """Write an out-of-place result into ``self`` with autograd (through setitem)."""
    return apply_inplace(Setitem, self, out, basic=(), dims=())


install_methods({
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "scatter_reduce": scatter_reduce, "index_select": index_select, "index_add": index_add,
    "index_copy": index_copy, "index_fill": index_fill, "take": take,
    "take_along_dim": take_along_dim, "masked_fill": masked_fill,
    "masked_fill_": _masked_fill_, "masked_select": masked_select,
    "masked_scatter": masked_scatter,
    "scatter_": lambda self, dim, index, src=None, *, value=None, reduce=None: _copy_into(
        self, scatter(self, dim, index, src, value=value, reduce=reduce)),
    "scatter_add_": lambda self, dim, index, src: _copy_into(
        self, scatter_add(self, dim, index, src)),
    "index_add_": lambda self, dim, index, source, *, alpha=1: _copy_into(
        self, index_add(self, dim, index, source, alpha=alpha)),
    "index_copy_": lambda self, dim, index, source: _copy_into(
        self, index_copy(self, dim, index, source)),
    "index_fill_": lambda self, dim, index, value: _copy_into(
        self, index_fill(self, dim, index, value)),
    "index_put": index_put,
    "masked_scatter_": lambda self, mask, source: _copy_into(self, masked_scatter(self, mask,
                                                                                  source)),
    "scatter_reduce_": lambda self, dim, index, src, reduce, *, include_self=True: _copy_into(
        self, scatter_reduce(self, dim, index, src, reduce, include_self=include_self)),
    "index_put_": lambda self, indices, values, accumulate=False: _copy_into(
        self, index_put(self, indices, values, accumulate)),
})
