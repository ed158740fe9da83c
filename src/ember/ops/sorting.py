"""Sorting and searching ops: nonzero/argwhere, sort/argsort/msort/topk/kthvalue,
unique/unique_consecutive and searchsorted/bucketize.
"""

from __future__ import annotations

import builtins
from collections import namedtuple

from ..backend import xp
from ..tensor import Tensor
from ._util import norm_dim
from .registry import Op, install_methods, register

__all__ = ["nonzero", "argwhere", "sort", "argsort", "msort", "topk", "kthvalue", "unique",
           "unique_consecutive", "searchsorted", "bucketize"]


# ---------------------------------------------------------------- nonzero


@register
class Nonzero(Op):
    name = "nonzero"
    differentiable = False

    @staticmethod
    def forward(ctx, x):
        return xp.argwhere(x).astype(xp.int64)


@register
class NonzeroTuple(Op):
    """``nonzero(as_tuple=True)``: one index array per dimension (what boolean-mask indexing
    uses, so the JIT sees the mask's indices computed from the mask)."""

    name = "nonzero_tuple"
    differentiable = False

    @staticmethod
    def forward(ctx, x):
        if x.ndim == 0:
            return (xp.zeros(1 if x else 0, xp.int64),)
        return tuple(i.astype(xp.int64, copy=False) for i in xp.nonzero(x))


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
    out = NonzeroTuple.apply(input)
    return out if isinstance(out, tuple) else (out,)


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


@register
class Unique(Op):
    """Distinct values, inverse indices and counts (one op, so the JIT sees it)."""

    name = "unique"
    differentiable = False

    @staticmethod
    def forward(ctx, a, dim=None):
        if dim is None:
            vals, inv, cnt = xp.unique(a.reshape(-1), return_inverse=True, return_counts=True)
            inv = inv.reshape(a.shape)
        else:
            vals, inv, cnt = xp.unique(a, return_inverse=True, return_counts=True, axis=dim)
            inv = inv.reshape(-1)
        return vals, inv.astype(xp.int64), cnt.astype(xp.int64)


@register
class UniqueConsecutive(Op):
    """Runs of equal consecutive values: (values, inverse indices, counts)."""

    name = "unique_consecutive"
    differentiable = False

    @staticmethod
    def forward(ctx, a, dim=None):
        if dim is None:
            flat = a.reshape(-1)
            change = flat[1:] != flat[:-1]
            view_shape = a.shape
        else:
            flat = xp.moveaxis(a, dim, 0)
            change = (flat[1:] != flat[:-1]).reshape(max(flat.shape[0] - 1, 0), -1).any(axis=1)
            view_shape = (a.shape[dim],)
        n = flat.shape[0]
        starts = xp.concatenate([xp.zeros(min(n, 1), bool), change]) if n else xp.zeros(0, bool)
        if n:
            starts[0] = True
        first = xp.nonzero(starts)[0]
        vals = flat[first]
        if dim is not None:
            vals = xp.moveaxis(vals, 0, dim)
        inv = (xp.cumsum(starts) - 1).astype(xp.int64).reshape(view_shape)
        return (xp.ascontiguousarray(vals), inv,
                xp.diff(xp.append(first, n)).astype(xp.int64))


def _pick(out: tuple, return_inverse: bool, return_counts: bool):
    r = [out[0]] + ([out[1]] if return_inverse else []) + ([out[2]] if return_counts else [])
    return r[0] if len(r) == 1 else tuple(r)


def unique(input: Tensor, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim: int | None = None):
    """The distinct values (sorted), optionally with inverse indices and counts.

    Example:
        >>> import ember
        >>> ember.unique(ember.tensor([3, 1, 3]), return_counts=True)
        (tensor([1, 3]), tensor([1, 2]))
    """
    d = None if dim is None else norm_dim(dim, input._data.ndim, "unique")
    return _pick(Unique.apply(input, dim=d), return_inverse, return_counts)


def unique_consecutive(input: Tensor, return_inverse: bool = False, return_counts: bool = False,
                       dim: int | None = None):
    """Collapse runs of equal consecutive values (or slices along ``dim``).

    Example:
        >>> import ember
        >>> ember.unique_consecutive(ember.tensor([1, 1, 2, 1]))
        tensor([1, 2, 1])
    """
    d = None if dim is None else norm_dim(dim, input._data.ndim, "unique_consecutive")
    return _pick(UniqueConsecutive.apply(input, dim=d), return_inverse, return_counts)


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
    if sorter is not None:
        return SearchSorted.apply(sorted_sequence, input, sorter, right=right,
                                  out_int32=out_int32)
    return SearchSorted.apply(sorted_sequence, input, right=right, out_int32=out_int32)


@register
class SearchSorted(Op):
    """Insertion indices (one op, so the JIT computes them from the data at each call)."""

    name = "searchsorted"
    differentiable = False

    @staticmethod
    def forward(ctx, seq, vals, sorter=None, right=False, out_int32=False):
        if sorter is not None:
            seq = xp.take_along_axis(seq, sorter, -1)
        vals = xp.asarray(vals)
        s = "right" if right else "left"
        if seq.ndim <= 1:
            res = xp.searchsorted(seq, vals, side=s)
        else:
            if seq.shape[:-1] != vals.shape[:-1]:
                raise RuntimeError(f"torch.searchsorted(): boundaries tensor should be 1 "
                                   f"dimension or the first N-1 dimensions of boundaries tensor "
                                   f"and input value tensor must match, but we got boundaries "
                                   f"tensor {list(seq.shape)} and input value tensor "
                                   f"{list(vals.shape)}")
            s2, v2 = seq.reshape(-1, seq.shape[-1]), vals.reshape(-1, vals.shape[-1])
            res = xp.stack([xp.searchsorted(r, v, side=s) for r, v in zip(s2, v2, strict=True)])
            res = res.reshape(vals.shape)
        return xp.asarray(res, xp.int32 if out_int32 else xp.int64)


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


install_methods({
    "nonzero": nonzero, "argwhere": argwhere,
    "sort": sort, "argsort": argsort, "msort": msort, "topk": topk, "kthvalue": kthvalue,
    "unique": unique, "unique_consecutive": unique_consecutive,
})
