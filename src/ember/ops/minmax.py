"""Max-like reductions: max/min (with indices), amax/amin/aminmax, argmax/argmin and median.

Gradients of max-like reductions split evenly among tied elements (torch's rule),
while the ``(values, indices)`` forms send the gradient to the selected index only.
"""

from __future__ import annotations

from collections import namedtuple

from ..backend import xp
from ..tensor import Tensor
from ._util import kept_shape, norm_dim
from .reduction import _axes, _check_nonempty, _grad_kept
from .registry import Op, install_methods, register

__all__ = ["max", "min", "amax", "amin", "aminmax", "argmax", "argmin", "median", "cummax",
           "cummin"]


#: ``torch.return_types``-like results: tuples with named fields
ReturnMax = namedtuple("max", ["values", "indices"])
ReturnMin = namedtuple("min", ["values", "indices"])
ReturnMedian = namedtuple("median", ["values", "indices"])
ReturnAminmax = namedtuple("aminmax", ["min", "max"])
ReturnCummax = namedtuple("cummax", ["values", "indices"])
ReturnCummin = namedtuple("cummin", ["values", "indices"])
for _rt in (ReturnMax, ReturnMin, ReturnMedian, ReturnAminmax, ReturnCummax, ReturnCummin):
    _rt.__module__ = "ember.return_types"


# ---------------------------------------------------------------- max-like reductions


class _EvenSplit(Op):
    """A reduction picking a value; the gradient is shared evenly by the elements equal to it."""

    @staticmethod
    def _reduce(x, dim, keepdim):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, dim, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        out = cls._reduce(x, dim, keepdim)
        if ctx.recording:
            kept = out if keepdim else out.reshape(kept_shape(x.shape, dim))
            mask = x == kept
            count = mask.sum(axis=dim, keepdims=True)
            ctx.save_for_backward(mask, 1.0 / xp.maximum(count, 1).astype(x.dtype))
        return out

    @staticmethod
    def backward(ctx, F, g):
        mask, scale = ctx.saved_tensors
        return F.where(mask, _grad_kept(F, g, ctx) * scale, 0.0)


@register
class Amax(_EvenSplit):
    name = "amax"

    @staticmethod
    def _reduce(x, dim, keepdim):
        return xp.max(x, axis=dim, keepdims=keepdim)


@register
class Amin(_EvenSplit):
    name = "amin"

    @staticmethod
    def _reduce(x, dim, keepdim):
        return xp.min(x, axis=dim, keepdims=keepdim)


@register
class MedianAll(_EvenSplit):
    """The lower median of all elements (nan if any is nan)."""

    name = "median_all"

    @staticmethod
    def _reduce(x, dim, keepdim):
        flat = xp.sort(x.reshape(-1))
        if flat.size == 0:
            val = xp.asarray(xp.nan, x.dtype) if x.dtype.kind == "f" else xp.asarray(0, x.dtype)
        else:
            val = flat[(flat.size - 1) // 2]
            if x.dtype.kind == "f" and xp.isnan(flat[-1]):
                val = flat[-1]
        return xp.asarray(val, x.dtype).reshape((1,) * x.ndim if keepdim else ())


def amax(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Maximum over ``dim`` (all dims by default); ties share the gradient evenly.

    Example:
        >>> import ember
        >>> ember.amax(ember.tensor([[1, 5], [7, 2]]), dim=1)
        tensor([5, 7])
    """
    axes = _axes(dim, input.ndim, "amax")
    _check_nonempty(input, axes, "amax")
    return Amax.apply(input, dim=axes, keepdim=keepdim)


def amin(input: Tensor, dim=(), keepdim: bool = False) -> Tensor:
    """Minimum over ``dim`` (all dims by default); ties share the gradient evenly.

    Example:
        >>> import ember
        >>> ember.amin(ember.tensor([[1, 5], [7, 2]]), dim=1)
        tensor([1, 2])
    """
    axes = _axes(dim, input.ndim, "amin")
    _check_nonempty(input, axes, "amin")
    return Amin.apply(input, dim=axes, keepdim=keepdim)


def aminmax(input: Tensor, *, dim: int | None = None, keepdim: bool = False):
    """``(min, max)`` over ``dim`` (or all elements) as a named tuple.

    Example:
        >>> import ember
        >>> ember.aminmax(ember.tensor([3, 1, 2])).max
        tensor(3)
    """
    d = () if dim is None else dim
    axes = None if dim is None else _axes(dim, input.ndim, "aminmax")
    _check_nonempty(input, axes, "aminmax")
    return ReturnAminmax(amin(input, d, keepdim), amax(input, d, keepdim))


class _IndexPick(Op):
    """``(values, indices)`` along one dim; the gradient goes to the picked element only."""

    nondiff_outputs = (1,)

    @staticmethod
    def _index(x, dim):
        raise NotImplementedError

    @classmethod
    def forward(cls, ctx, x, dim, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, (dim,), keepdim
        if x.ndim == 0:
            ctx.dim = None
            ctx.save_for_backward(xp.ones((), bool))
            return x.copy(), xp.zeros((), xp.int64)
        idx = cls._index(x, dim).astype(xp.int64)
        vals = xp.take_along_axis(x, idx, axis=dim)
        if ctx.recording:
            pos = xp.arange(x.shape[dim]).reshape((-1,) + (1,) * (x.ndim - dim - 1))
            ctx.save_for_backward(pos == idx)
        if not keepdim:
            vals, idx = vals.squeeze(dim), idx.squeeze(dim)
        return vals, idx

    @staticmethod
    def backward(ctx, F, g, _gi):
        (mask,) = ctx.saved_tensors
        return F.where(mask, _grad_kept(F, g, ctx), 0.0)


def _nan_first(x, dim, idx):
    """Where a slice has a nan, pick its first nan (torch propagates nan)."""
    if x.dtype.kind != "f":
        return idx
    isnan = xp.isnan(x)
    has = isnan.any(axis=dim, keepdims=True)
    if not has.any():
        return idx
    return xp.where(has, xp.argmax(isnan, axis=dim, keepdims=True), idx)


@register
class MaxDim(_IndexPick):
    name = "max_dim"

    @staticmethod
    def _index(x, dim):
        return xp.argmax(x, axis=dim, keepdims=True)


@register
class MinDim(_IndexPick):
    name = "min_dim"

    @staticmethod
    def _index(x, dim):
        return xp.argmin(x, axis=dim, keepdims=True)


@register
class MedianDim(_IndexPick):
    name = "median_dim"

    @staticmethod
    def _index(x, dim):
        if x.shape[dim] == 0:
            return xp.zeros(kept_shape(x.shape, (dim,)), xp.int64)
        order = xp.argsort(x, axis=dim, kind="stable")
        k = (x.shape[dim] - 1) // 2
        idx = xp.take(order, [k], axis=dim)
        return _nan_first(x, dim, idx)


def _max_min(input, dim, keepdim, other, op: str, reduce_op, pick_op, ret):
    if isinstance(dim, Tensor) and other is None:
        dim, other = None, dim
    if other is not None:
        from . import compare
        if op == "max":
            return compare.maximum(input, other)
        minimum = getattr(compare, "minimum", None)
        if minimum is not None:
            return minimum(input, other)
        return -compare.maximum(-input, -other)
    if dim is None:
        _check_nonempty(input, None, op)
        return reduce_op.apply(input, dim=None, keepdim=False)
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): argument 'dim' must be int, not {type(dim).__name__}")
    d = norm_dim(dim, input.ndim, op)
    if input.ndim:
        _check_nonempty(input, (d,), op)
    return ret(*pick_op.apply(input, dim=d, keepdim=keepdim))


def max(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    """``max(input)``: the largest value; ``max(input, dim)``: ``(values, indices)``;
    ``max(input, other)``: the elementwise maximum.

    Example:
        >>> import ember
        >>> ember.max(ember.tensor([[1, 5], [7, 2]]), dim=1).indices
        tensor([1, 0])
    """
    return _max_min(input, dim, keepdim, other, "max", Amax, MaxDim, ReturnMax)


def min(input: Tensor, dim=None, keepdim: bool = False, *, other=None):  # noqa: A001
    """``min(input)``: the smallest value; ``min(input, dim)``: ``(values, indices)``;
    ``min(input, other)``: the elementwise minimum.

    Example:
        >>> import ember
        >>> ember.min(ember.tensor([[1, 5], [7, 2]]), dim=1).values
        tensor([1, 2])
    """
    return _max_min(input, dim, keepdim, other, "min", Amin, MinDim, ReturnMin)


def median(input: Tensor, dim: int | None = None, keepdim: bool = False):
    """The lower median of all elements, or ``(values, indices)`` along ``dim``.

    Example:
        >>> import ember
        >>> ember.median(ember.tensor([1.0, 4.0, 2.0, 3.0]))
        tensor(2.)
    """
    if input._data.dtype == xp.bool_:
        raise NotImplementedError("\"median_cpu\" not implemented for 'Bool'")
    if dim is None:
        return MedianAll.apply(input, dim=None, keepdim=False)
    d = norm_dim(dim, input.ndim, "median")
    if input.ndim:
        _check_nonempty(input, (d,), "median")
    return ReturnMedian(*MedianDim.apply(input, dim=d, keepdim=keepdim))


@register
class Argmax(Op):
    name = "argmax"
    differentiable = False

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest=True):
        fn = xp.argmax if largest else xp.argmin
        if dim is None:
            out = fn(x.reshape(-1)).astype(xp.int64)
            return out.reshape((1,) * x.ndim) if keepdim else xp.asarray(out)
        if x.ndim == 0:
            return xp.zeros((), xp.int64)
        # NumPy's argmax/argmin, like torch, pick the first nan of a slice that has one
        idx = fn(x, axis=dim, keepdims=True).astype(xp.int64)
        return idx if keepdim else idx.squeeze(dim)


def _arg(input, dim, keepdim, op, largest):
    if isinstance(dim, (tuple, list)):
        raise TypeError(f"{op}(): argument 'dim' must be int, not tuple")
    if input._data.dtype == xp.bool_:
        raise RuntimeError(f"{op}(): does not support bool input")
    if dim is None:
        if input._data.size == 0:
            raise IndexError(f"{op}(): Expected reduction dim to be specified for input.numel() "
                             f"== 0.")
        return Argmax.apply(input, dim=None, keepdim=keepdim, largest=largest)
    d = norm_dim(dim, input.ndim, op)
    if input.ndim:
        _check_nonempty(input, (d,), op)
    return Argmax.apply(input, dim=d, keepdim=keepdim, largest=largest)


def argmax(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the largest value (of the flattened input when ``dim`` is None).

    Example:
        >>> import ember
        >>> ember.argmax(ember.tensor([[1, 5], [7, 2]]))
        tensor(2)
    """
    return _arg(input, dim, keepdim, "argmax", True)


def argmin(input: Tensor, dim: int | None = None, keepdim: bool = False) -> Tensor:
    """Index of the smallest value (of the flattened input when ``dim`` is None).

    Example:
        >>> import ember
        >>> ember.argmin(ember.tensor([[1, 5], [7, 2]]), dim=0)
        tensor([0, 1])
    """
    return _arg(input, dim, keepdim, "argmin", False)


# ---------------------------------------------------------------- running max / min


class _CumPick(Op):
    """Running extreme along ``dim`` with the index of the element it came from.

    Ties pick the latest index and a nan, once seen, stays (torch's rules); the gradient
    of each output goes to the element at its index.
    """

    nondiff_outputs = (1,)
    _ufunc = None

    @classmethod
    def forward(cls, ctx, x, dim):
        ctx.dim = dim
        if dim is None:
            return x.copy(), xp.zeros((), xp.int64)
        vals = cls._ufunc.accumulate(x, axis=dim)
        hit = x == vals
        if x.dtype.kind == "f":
            hit |= xp.isnan(x)
        pos = xp.arange(x.shape[dim], dtype=xp.int64).reshape((-1,) + (1,) * (x.ndim - dim - 1))
        idx = xp.maximum.accumulate(xp.where(hit, pos, 0), axis=dim) if x.size else \
            xp.zeros(x.shape, xp.int64)
        ctx.save_for_backward(idx)
        return vals, idx

    @staticmethod
    def backward(ctx, F, g, _gi):
        if ctx.dim is None:
            return g
        (idx,) = ctx.saved_tensors
        return F.scatter_add(g * 0.0, idx, g, dim=ctx.dim)


@register
class Cummax(_CumPick):
    name = "cummax"
    _ufunc = xp.maximum


@register
class Cummin(_CumPick):
    name = "cummin"
    _ufunc = xp.minimum


def cummax(input: Tensor, dim: int):
    """Running maximum along ``dim`` as ``(values, indices)``; ties take the latest index.

    Example:
        >>> import ember
        >>> values, indices = ember.cummax(ember.tensor([1, 3, 2, 3]), dim=0)
        >>> values, indices
        (tensor([1, 3, 3, 3]), tensor([0, 1, 1, 3]))
    """
    d = norm_dim(dim, input.ndim, "cummax")
    return ReturnCummax(*Cummax.apply(input, dim=d if input.ndim else None))


def cummin(input: Tensor, dim: int):
    """Running minimum along ``dim`` as ``(values, indices)``; ties take the latest index.

    Example:
        >>> import ember
        >>> ember.cummin(ember.tensor([3, 1, 2, 1]), dim=0).indices
        tensor([0, 1, 1, 3])
    """
    d = norm_dim(dim, input.ndim, "cummin")
    return ReturnCummin(*Cummin.apply(input, dim=d if input.ndim else None))


def _max_method(self, dim=None, keepdim: bool = False):
    if isinstance(dim, Tensor):
        return max(self, other=dim)
    return max(self, dim, keepdim)


def _min_method(self, dim=None, keepdim: bool = False):
    if isinstance(dim, Tensor):
        return min(self, other=dim)
    return min(self, dim, keepdim)


install_methods({
    "max": _max_method, "min": _min_method, "amax": amax, "amin": amin, "aminmax": aminmax,
    "argmax": argmax, "argmin": argmin, "median": median, "cummax": cummax, "cummin": cummin,
})
