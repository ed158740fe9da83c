"""Indexing: ``Tensor.__getitem__``/``__setitem__``, gather/scatter, masks, sorting, search.

``x[item]`` runs in two steps, as torch does: the basic part (ints, slices, None,
``...``) is one ``slice`` op, a view; the tensor indices (integer arrays and boolean
masks, the latter turned into integer arrays) are then applied by the ``index`` op,
a copy whose backward accumulates duplicate indices. ``x[item] = v`` is the
``setitem`` op run in place (``registry.apply_inplace``), so the target keeps its
memory, identity and version counter.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from ..autograd.grad_mode import _state
from ..backend import xp
from ..tensor import Tensor
from ._util import norm_dim
from .registry import Op, apply_inplace, install_methods, register
from .shape import Slice, decode_index, reshape

__all__ = ["gather", "scatter", "scatter_add", "scatter_reduce", "index_select", "index_add",
           "index_copy", "index_fill", "index_put", "take", "take_along_dim", "masked_fill",
           "masked_select", "masked_scatter", "nonzero", "argwhere", "sort", "argsort", "msort",
           "topk", "kthvalue", "unique", "unique_consecutive", "searchsorted", "bucketize"]

_FULL = (None, None, None)


def _adv(ndim: int, idx, dims) -> tuple:
    """The NumPy index putting integer arrays ``idx`` at ``dims`` (full slices elsewhere)."""
    build = [slice(None)] * ndim
    for d, a in zip(dims, idx, strict=True):
        build[d] = a
    return tuple(build)


# ---------------------------------------------------------------- ops


@register
class Index(Op):
    """``x[..., idx0, ..., idx1, ...]`` with integer arrays at ``dims`` (NumPy's rules)."""

    name = "index"

    @staticmethod
    def forward(ctx, x, *idx, dims):
        ctx.shape, ctx.dims = x.shape, dims
        ctx.save_for_backward(*idx)
        return x[_adv(x.ndim, idx, dims)]

    @staticmethod
    def backward(ctx, F, g):
        idx = ctx.saved_tensors
        return (F.index_backward(g, *idx, shape=ctx.shape, dims=ctx.dims),) + (None,) * len(idx)


@register
class IndexBackward(Op):
    """Zeros of ``shape`` with ``g`` added at the indices (duplicates accumulate)."""

    name = "index_backward"

    @staticmethod
    def forward(ctx, g, *idx, shape, dims):
        ctx.dims = dims
        ctx.save_for_backward(*idx)
        z = xp.zeros(shape, g.dtype)
        xp.add.at(z, _adv(len(shape), idx, dims), g)
        return z

    @staticmethod
    def backward(ctx, F, g):
        idx = ctx.saved_tensors
        return (F.index(g, *idx, dims=ctx.dims),) + (None,) * len(idx)


@register
class Setitem(Op):
    """``x`` with ``x[basic][idx at dims] = v`` (``v`` broadcast and cast to x's dtype)."""

    name = "setitem"

    @staticmethod
    def forward(ctx, x, v, *idx, basic, dims):
        ctx.basic, ctx.dims = basic, dims
        ctx.save_for_backward(*idx)
        z = x.copy()
        t = z[decode_index(basic)] if basic else z
        if dims:
            t[_adv(t.ndim, idx, dims)] = v
        else:
            t[...] = v
        return z

    @staticmethod
    def backward(ctx, F, g):
        idx = ctx.saved_tensors
        nx, nv = ctx.needs_input_grad[:2]
        gx = F.setitem(g, 0.0, *idx, basic=ctx.basic, dims=ctx.dims) if nx else None
        gv = None
        if nv:
            gv = F.slice(g, index=ctx.basic) if ctx.basic else g
            if ctx.dims:
                gv = F.index(gv, *idx, dims=ctx.dims)
        return (gx, gv) + (None,) * len(idx)


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


# ---------------------------------------------------------------- __getitem__ / __setitem__


def _to_index_tensor(item) -> Tensor:
    if isinstance(item, Tensor):
        t = item
    else:
        t = Tensor._make(xp.asarray(item))
        if t._data.size == 0 and t._data.dtype.kind == "f":
            t = Tensor._make(t._data.astype(xp.int64))
    if t._data.dtype.kind not in "iub":
        raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
    return t


def _parse(x: Tensor, item):
    """Split ``item`` into an encoded basic index and (dims, integer arrays) applied after it."""
    if type(item) is list and len(item) < 32 and builtins.any(
            isinstance(e, (list, tuple, slice, Tensor, xp.ndarray)) or e is None or e is Ellipsis
            for e in item):
        item = tuple(item)  # torch's legacy reading of a list of sequences as a tuple
    if not isinstance(item, tuple):
        item = (item,)
    items = []
    for it in item:
        if isinstance(it, (builtins.bool, xp.bool_)):
            items.append(Tensor._make(xp.asarray(builtins.bool(it))))
        elif isinstance(it, (list, xp.ndarray)):
            items.append(_to_index_tensor(it))
        elif isinstance(it, Tensor):
            if it._data.dtype.kind not in "iub":
                raise IndexError("tensors used as indices must be long, int, byte or bool "
                                 "tensors")
            items.append(it)
        elif it is None or it is Ellipsis or isinstance(it, slice):
            items.append(it)
        elif hasattr(it, "__index__"):
            items.append(it.__index__())
        else:
            raise IndexError("only integers, slices (`:`), ellipsis (`...`), None and long or "
                             "byte Variables are valid indices (got " + type(it).__name__ + ")")
    shape = x._data.shape
    consumed = 0
    n_ell = 0
    for it in items:
        if it is Ellipsis:
            n_ell += 1
        elif isinstance(it, Tensor):
            consumed += it.ndim if it._data.dtype == xp.bool_ else 1
        elif it is not None:
            consumed += 1
    if consumed > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    basic, dims, arrays = [], [], []
    d = od = 0  # input dim and output dim of the basic step
    trivial = True
    for it in items:
        if it is Ellipsis:
            # torch expands the first ellipsis only; later ones stand for no dims
            k = len(shape) - consumed if n_ell else 0
            n_ell = 0
            basic.extend([_FULL] * k)
            d += k
            od += k
        elif it is None:
            basic.append(None)
            od += 1
            trivial = False
        elif isinstance(it, int):
            n = shape[d]
            if not -n <= it < n:
                raise IndexError(f"index {it} is out of bounds for dimension {d} with size {n}")
            basic.append(it + n if it < 0 else it)
            d += 1
            trivial = False
        elif isinstance(it, slice):
            step = 1 if it.step is None else it.step.__index__()
            if step <= 0:
                raise ValueError("step must be greater than zero")
            start, stop, _ = slice(None if it.start is None else it.start.__index__(),
                                   None if it.stop is None else it.stop.__index__(),
                                   step).indices(shape[d])
            stop = max(stop, start)
            e = (start, stop, step)
            if e != (0, shape[d], 1):
                trivial = False
            basic.append(e)
            d += 1
            od += 1
        elif it._data.dtype == xp.bool_:
            m = it._data
            if m.ndim == 0:
                basic.append(None)
                dims.append(od)
                arrays.append(xp.zeros(1 if m else 0, xp.int64))
                od += 1
                trivial = False
                continue
            for j in range(m.ndim):
                if m.shape[j] != shape[d + j]:
                    raise IndexError(f"The shape of the mask {list(m.shape)} at index {j} does "
                                     f"not match the shape of the indexed tensor {list(shape)} "
                                     f"at index {d + j}")
            for a in xp.nonzero(m):
                basic.append(_FULL)
                dims.append(od)
                arrays.append(a)
                d += 1
                od += 1
        else:
            a = it._data
            n = shape[d]
            if a.size:
                lo, hi = a.min(), a.max()
                if hi >= n or lo < -n:
                    bad = int(hi) if hi >= n else int(lo)
                    raise IndexError(f"index {bad} is out of bounds for dimension {len(arrays)} "
                                     f"with size {n}")
            basic.append(_FULL)
            dims.append(od)
            arrays.append(a)
            d += 1
            od += 1
    while basic and basic[-1] == _FULL:
        basic.pop()
    return (() if trivial else tuple(basic)), tuple(dims), arrays


def _getitem(self: Tensor, item) -> Tensor:
    if type(item) is int and self._data.ndim:
        n = self._data.shape[0]
        if -n <= item < n:
            return Slice.apply(self, index=(item + n if item < 0 else item,))
    basic, dims, arrays = _parse(self, item)
    x = Slice.apply(self, index=basic) if basic or not dims else self
    if dims:
        x = Index.apply(x, *(Tensor._make(a) for a in arrays), dims=dims)
    return x


def _setitem(self: Tensor, item, value) -> None:
    basic, dims, arrays = _parse(self, item)
    if not self._data.flags.writeable:
        raise RuntimeError("unsupported operation: more than one element of the written-to "
                           "tensor refers to a single memory location. Please clone() the tensor "
                           "before performing the operation.")
    if not isinstance(value, Tensor):
        value = xp.asarray(value, dtype=self._data.dtype)
        if value.ndim == 0:
            value = value.item() if self._data.dtype.kind != "b" else builtins.bool(value)
    elif value.ndim and value._data.shape[0] == 1:
        value = _strip_leading_ones(self, basic, dims, arrays, value)
    v_rg = isinstance(value, Tensor) and value._rg
    if not _state.modes and not (_state.grad_enabled and (self._rg or v_rg)):
        v = value._data if isinstance(value, Tensor) else value
        t = self._data[decode_index(basic)] if basic else self._data
        if dims:
            t[_adv(t.ndim, arrays, dims)] = v
        else:
            t[...] = v
        self._bump_version()
        return
    apply_inplace(Setitem, self, value, *(Tensor._make(a) for a in arrays), basic=basic,
                  dims=dims)


def _strip_leading_ones(self: Tensor, basic, dims, arrays, value: Tensor) -> Tensor:
    """torch lets the value have extra leading size-1 dims; drop them so gradients fit."""
    probe = xp.broadcast_to(xp.zeros((), xp.int8), self._data.shape)
    t = probe[decode_index(basic)] if basic else probe
    if dims:
        t = t[_adv(t.ndim, arrays, dims)]
    k = value.ndim - t.ndim
    if k > 0 and builtins.all(s == 1 for s in value._data.shape[:k]):
        return reshape(value, *value._data.shape[k:])
    return value


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
    hit = xp.zeros(x._data.shape, bool)
    hit[_gather_index(index._data, d)] = True
    keep = Tensor._make(xp.ones(x._data.shape, x._data.dtype) if include_self
                        else (~hit).astype(x._data.dtype))
    if reduce in ("sum", "mean"):
        mx, ms = keep, 1.0
    else:
        mx = keep * (x.detach() == r)
        ms = (part.detach() == gather(r, d, index)).to(x.dtype)
    n = ScatterAdd.apply(mx if reduce != "sum" else keep * 0, index,
                         ms * Tensor._make(xp.ones(index._data.shape, x._data.dtype)), dim=d)
    n = Tensor._make(xp.maximum(n._data, 1)) if reduce != "sum" else 1.0
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
    idx = xp.nonzero(m._data)
    return Index.apply(x, *(Tensor._make(a) for a in idx), dims=tuple(range(len(idx))))


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
    m = mask._data
    if m.shape != input._data.shape:
        m = xp.broadcast_to(m, input._data.shape)
    idx = xp.nonzero(m)
    k = int(idx[0].size) if idx else int(builtins.bool(m))
    if source.numel() < k:
        raise RuntimeError("masked_scatter: expected source to have at least as many elements "
                           "as ones in mask")
    src = Index.apply(reshape(source, -1), Tensor._make(xp.arange(k)), dims=(0,))
    if input.ndim == 0:
        return expand(input, ()) if not k else reshape(src, ())
    return Setitem.apply(input, src, *(Tensor._make(a) for a in idx), basic=(),
                         dims=tuple(range(len(idx))))


# ---------------------------------------------------------------- nonzero


@register
class Nonzero(Op):
    name = "nonzero"
    differentiable = False

    @staticmethod
    def forward(ctx, x):
        return xp.argwhere(x).astype(xp.int64)


def nonzero(input: Tensor, *, out=None, as_tuple: bool = False):
    """Indices of the non-zero elements: an ``(n, ndim)`` tensor, or one 1-D tensor per dim.

    Example:
        >>> import ember
        >>> ember.nonzero(ember.tensor([0, 3, 0, 4]))
        tensor([[1],
                [3]])
    """
    if not as_tuple:
        return Nonzero.apply(input)
    a = input._data
    if a.ndim == 0:
        return (Tensor._make(xp.zeros(1 if a else 0, xp.int64)),)
    return tuple(Tensor._make(i.astype(xp.int64)) for i in xp.nonzero(a))


def argwhere(input: Tensor) -> Tensor:
    """``nonzero(input)``: the indices of non-zero elements, one row each.

    Example:
        >>> import ember
        >>> ember.argwhere(ember.tensor([[0, 1], [1, 0]]))
        tensor([[0, 1],
                [1, 0]])
    """
    return Nonzero.apply(input)


# ---------------------------------------------------------------- sorting


SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])
KthvalueResult = namedtuple("kthvalue", ["values", "indices"])


def _sort_indices(x, dim: int, descending: bool):
    if not descending:
        return xp.argsort(x, axis=dim, kind="stable")
    # descending but stable: sort the reversed array ascending, then reverse back
    n = x.shape[dim]
    i = xp.argsort(xp.flip(x, dim), axis=dim, kind="stable")
    return (n - 1) - xp.flip(i, dim)


@register
class Sort(Op):
    name = "sort"
    nondiff_outputs = (1,)

    @staticmethod
    def forward(ctx, x, dim, descending):
        ctx.dim, ctx.shape = dim, x.shape
        if x.ndim == 0:
            i = xp.zeros((), xp.int64)
            ctx.save_for_backward(i)
            return x.copy(), i
        i = _sort_indices(x, dim, descending).astype(xp.int64)
        ctx.save_for_backward(i)
        return xp.take_along_axis(x, i, dim), i

    @staticmethod
    def backward(ctx, F, g, _gi):
        (i,) = ctx.saved_tensors
        if not ctx.shape:
            return g
        return F.gather_backward(g, i, dim=ctx.dim, shape=ctx.shape)


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sorted values and their indices along ``dim`` (a ``(values, indices)`` namedtuple).

    Ties keep their original order (always stable).

    Example:
        >>> import ember
        >>> ember.sort(ember.tensor([3, 1, 2])).indices
        tensor([1, 2, 0])
    """
    d = norm_dim(dim, input.ndim, "sort")
    v, i = Sort.apply(input, dim=d, descending=builtins.bool(descending))
    return SortResult(v, i)


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort ``input`` along ``dim``.

    Example:
        >>> import ember
        >>> ember.argsort(ember.tensor([3, 1, 2]), descending=True)
        tensor([0, 2, 1])
    """
    return sort(input, dim, descending, stable).indices


def msort(input: Tensor) -> Tensor:
    """Values sorted along dim 0.

    Example:
        >>> import ember
        >>> ember.msort(ember.tensor([[2, 1], [1, 3]]))
        tensor([[1, 1],
                [2, 3]])
    """
    return sort(input, 0).values


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) values along ``dim`` and their indices.

    Example:
        >>> import ember
        >>> ember.topk(ember.tensor([1.0, 5.0, 3.0]), 2).values
        tensor([5., 3.])
    """
    d = norm_dim(dim, input.ndim, "topk")
    n = input._data.shape[d] if input.ndim else 1
    if not 0 <= k <= n:
        raise RuntimeError("selected index k out of range")
    v, i = sort(input, d, descending=largest)
    if input.ndim == 0:
        return TopkResult(v, i)
    from .shape import narrow
    return TopkResult(narrow(v, d, 0, k), narrow(i, d, 0, k))


def kthvalue(input: Tensor, k: int, dim: int = -1, keepdim: bool = False):
    """The ``k``-th smallest value along ``dim`` and its index.

    Example:
        >>> import ember
        >>> ember.kthvalue(ember.tensor([3.0, 1.0, 2.0]), 2).values
        tensor(2.)
    """
    d = norm_dim(dim, input.ndim, "kthvalue")
    n = input._data.shape[d] if input.ndim else 1
    if not 1 <= k <= n:
        raise IndexError(f"kthvalue(): selected number k out of range for dimension {d}")
    v, i = sort(input, d)
    if input.ndim == 0:
        return KthvalueResult(v, i)
    from .shape import narrow, squeeze
    v, i = narrow(v, d, k - 1, 1), narrow(i, d, k - 1, 1)
    if not keepdim:
        v, i = squeeze(v, d), squeeze(i, d)
    return KthvalueResult(v, i)


# ---------------------------------------------------------------- unique and search


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (sorted), optionally with inverse indices and counts.

    Example:
        >>> import ember
        >>> ember.unique(ember.tensor([3, 1, 3]), return_counts=True)
        (tensor([1, 3]), tensor([1, 2]))
    """
    a = input._data
    if dim is None:
        vals, inv, cnt = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
        inv = inv.reshape(a.shape)
    else:
        d = norm_dim(dim, a.ndim, "unique")
        vals, inv, cnt = xp.unique(a, return_inverse=True, return_counts=True, axis=d)
        inv = inv.reshape(-1)
    out = [Tensor._make(vals)]
    if return_inverse:
        out.append(Tensor._make(inv.astype(xp.int64)))
    if return_counts:
        out.append(Tensor._make(cnt.astype(xp.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """Collapse runs of equal consecutive values (or slices along ``dim``).

    Example:
        >>> import ember
        >>> ember.unique_consecutive(ember.tensor([1, 1, 2, 1]))
        tensor([1, 2, 1])
    """
    a = input._data
    if dim is None:
        flat = a.reshape(-1)
        change = flat[1:] != flat[:-1]
        view_shape = a.shape
    else:
        d = norm_dim(dim, a.ndim, "unique_consecutive")
        flat = xp.moveaxis(a, d, 0)
        change = (flat[1:] != flat[:-1]).reshape(max(flat.shape[0] - 1, 0), -1).any(axis=1)
        view_shape = (a.shape[d],)
    n = flat.shape[0]
    starts = xp.concatenate([xp.zeros(min(n, 1), bool), change]) if n else xp.zeros(0, bool)
    if n:
        starts[0] = True
    first = xp.nonzero(starts)[0]
    vals = flat[first]
    if dim is not None:
        vals = xp.moveaxis(vals, 0, d)
    out = [Tensor._make(xp.ascontiguousarray(vals))]
    if return_inverse:
        out.append(Tensor._make((xp.cumsum(starts) - 1).astype(xp.int64).reshape(view_shape)))
    if return_counts:
        out.append(Tensor._make(xp.diff(xp.append(first, n)).astype(xp.int64)))
    return out[0] if len(out) == 1 else tuple(out)


def searchsorted(sorted_sequence: Tensor, input, *, out_int32: bool = False, right: bool = False,
                 side: str | None = None, sorter: Tensor | None = None) -> Tensor:
    """Insertion indices of ``input`` into the sorted innermost dim of ``sorted_sequence``.

    Example:
        >>> import ember
        >>> ember.searchsorted(ember.tensor([1, 3, 5]), ember.tensor([3, 4]))
        tensor([1, 2])
    """
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but "
                               f"got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, "
                               "got side of left while right was True")
        right = side == "right"
    seq = sorted_sequence._data
    if sorter is not None:
        seq = xp.take_along_axis(seq, sorter._data, -1)
    scalar = not isinstance(input, Tensor)
    vals = xp.asarray(input) if scalar else input._data
    s = "right" if right else "left"
    if seq.ndim <= 1:
        res = xp.searchsorted(seq, vals, side=s)
    else:
        if seq.shape[:-1] != vals.shape[:-1]:
            raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 dimension or "
                               f"the first N-1 dimensions of boundaries tensor and input value "
                               f"tensor must match, but we got boundaries tensor "
                               f"{list(seq.shape)} and input value tensor {list(vals.shape)}")
        s2, v2 = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
        res = xp.stack([xp.searchsorted(r, v, side=s) for r, v in zip(s2, v2, strict=True)])
        res = res.reshape(vals.shape)
    return Tensor._make(xp.asarray(res, xp.int32 if out_int32 else xp.int64))


def bucketize(input, boundaries: Tensor, *, out_int32: bool = False,
              right: bool = False) -> Tensor:
    """The bucket of each value: ``boundaries[i-1] < x <= boundaries[i]`` (``right=False``).

    Example:
        >>> import ember
        >>> ember.bucketize(ember.tensor([1, 5, 9]), ember.tensor([1, 5]))
        tensor([0, 1, 2])
    """
    if boundaries.ndim != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.ndim})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


def _copy_into(self: Tensor, out: Tensor) -> Tensor:
    """Write an out-of-place result into ``self`` with autograd (through setitem)."""
    return apply_inplace(Setitem, self, out, basic=(), dims=())


install_methods({
    "__getitem__": _getitem, "__setitem__": _setitem,
    "gather": gather, "scatter": scatter, "scatter_add": scatter_add,
    "scatter_reduce": scatter_reduce, "index_select": index_select, "index_add": index_add,
    "index_copy": index_copy, "index_fill": index_fill, "take": take,
    "take_along_dim": take_along_dim, "masked_fill": masked_fill,
    "masked_fill_": _masked_fill_, "masked_select": masked_select,
    "masked_scatter": masked_scatter, "nonzero": nonzero, "argwhere": argwhere,
    "sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "kthvalue": kthvalue,
    "unique": unique, "unique_consecutive": unique_consecutive,
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
