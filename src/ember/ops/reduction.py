"""Reductions: sum, mean, prod, var/std, norms, cumsum/cumprod, all/any, count_nonzero
and the nan-ignoring sums.

Reductions over several dims take ``dim`` as an int, a tuple or None (all dims);
``dim=()`` also means all dims, as in torch.
"""

from __future__ import annotations

import math
import warnings

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from ._util import kept_shape, norm_dim, norm_dims
from .arith import cast
from .registry import Op, dispatch, install_methods, register

__all__ = ["sum", "mean", "sum_to_size", "prod", "var", "std", "var_mean", "std_mean", "norm",
           "cumsum", "cumprod", "all", "any", "count_nonzero", "nansum", "nanmean", "bincount",
           "histc"]


_pymax = max  # the builtin, under a name that no op function shadows


def _axes(dim, ndim: int, op: str):
    """Normalised reduction axes; None (all dims) for ``dim=None`` and ``dim=()``."""
    axes = norm_dims(dim, ndim, op)
    return axes or None


def _numel(shape, axes) -> int:
    n = 1
    for i, s in enumerate(shape):
        if axes is None or i in axes:
            n *= s
    return n


def _dname(t) -> str:
    """torch's capitalised scalar-type name (Float, Double, Long, ...)."""
    name = (t.dtype if isinstance(t, Tensor) else t).name
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(name, name.capitalize())


def _drop_dims(out, dim, keepdim: bool):
    """A keepdims result reshaped to the shape without the reduced dims unless ``keepdim``."""
    if keepdim:
        return out
    return out.reshape(tuple(s for i, s in enumerate(out.shape) if dim is not None
                             and i not in dim))


def _grad_kept(F, g, ctx):
    """The output gradient reshaped so it broadcasts against the input."""
    if ctx.keepdim or ctx.dim is None:  # a full reduction's 0-d grad broadcasts as it is
        return g
    return F.reshape(g, shape=kept_shape(ctx.in_shape, ctx.dim))


def _int_to_long(x, dtype):
    """torch's accumulation dtype: integers and bools sum into int64 unless told otherwise."""
    if dtype is not None:
        return dtype.np
    return xp.dtype(xp.int64) if x.dtype.kind in "biu" else None


def _check_nonempty(input: Tensor, axes, op: str) -> None:
    shape = input._data.shape
    if axes is None:
        if input._data.size == 0:
            raise RuntimeError(f"{op}(): Expected reduction dim to be specified for input.numel() "
                               f"== 0. Specify the reduction dim with the 'dim' argument.")
        return
    for a in axes:
        if input.ndim and shape[a] == 0:
            raise IndexError(f"{op}(): Expected reduction dim {a} to have non-zero size.")


# ---------------------------------------------------------------- sum, mean, prod


@register
class SumTo(Op):
    """Sum a broadcast array back to ``shape``: the gradient of ``expand``."""

    name = "sum_to"

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        if x.shape == shape:
            return x
        lead = x.ndim - len(shape)
        if lead < 0:
            raise ValueError(f"cannot sum shape {x.shape} to {shape}")
        axes = tuple(range(lead)) + tuple(
            lead + i for i, s in enumerate(shape) if s == 1 and x.shape[lead + i] != 1)
        for i, s in enumerate(shape):
            if s != 1 and x.shape[lead + i] != s:
                raise ValueError(f"cannot sum shape {x.shape} to {shape}")
        out = x.sum(axis=axes, keepdims=True) if axes else x
        return out.reshape(shape)

    @staticmethod
    def backward(ctx, F, g):
        return F.expand(g, shape=ctx.in_shape)


@register
class Sum(Op):
    name = "sum"

    @staticmethod
    def forward(ctx, x, dim, keepdim, dtype=None):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        return x.sum(axis=dim, keepdims=keepdim, dtype=_int_to_long(x, dtype))

    @staticmethod
    def backward(ctx, F, g):
        return F.expand(_grad_kept(F, g, ctx), shape=ctx.in_shape)


def sum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:  # noqa: A001
    """Sum over ``dim`` (an int, a tuple, or all dims).

    Example:
        >>> import ember
        >>> ember.sum(ember.tensor([[1, 2], [3, 4]]), dim=0)
        tensor([4, 6])
    """
    if dim is None and dtype is None:  # the common full sum, without argument checks
        return dispatch(Sum, (input,), {"dim": None, "keepdim": keepdim, "dtype": None})
    axes = _axes(dim, input.ndim, "sum")
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
    return Sum.apply(input, dim=axes, keepdim=keepdim, dtype=dtype)


def mean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Arithmetic mean over ``dim``; floating inputs only, as in torch. Empty means are nan.

    Example:
        >>> import ember
        >>> ember.mean(ember.tensor([1.0, 2.0, 3.0]))
        tensor(2.)
    """
    if dtype is not None:
        input = cast(input, dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a "
                           f"floating point or complex dtype. Got: {_dname(input)}")
    axes = _axes(dim, input.ndim, "mean")
    n = _numel(input._data.shape, axes)
    total = Sum.apply(input, dim=axes, keepdim=keepdim)
    return total / n if n else total * math.nan


def sum_to_size(input: Tensor, *size) -> Tensor:
    """Sum ``input`` down to a broadcast-compatible ``size``.

    Example:
        >>> import ember
        >>> ember.ones(2, 3).sum_to_size(1, 3)
        tensor([[2., 2., 2.]])
    """
    from ._util import shape_arg
    return SumTo.apply(input, shape=shape_arg(size))


@register
class Prod(Op):
    """Product over one dim (or all); the gradient is exact when the input has zeros."""

    name = "prod"

    @staticmethod
    def forward(ctx, x, dim, keepdim, dtype=None):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        out = xp.prod(x, axis=dim, keepdims=keepdim, dtype=_int_to_long(x, dtype))
        if ctx.recording:
            zero = x == 0
            nz = zero.sum(axis=dim, keepdims=True)
            # no zero in the slice: prod / x; one zero: the others' product at the zero only
            ctx.save_for_backward(x, zero, nz == 0, zero & (nz == 1))
        return out

    @staticmethod
    def backward(ctx, F, g):
        x, zero, none, single = ctx.saved_tensors
        g = _grad_kept(F, g, ctx)
        x_nz = F.where(zero, 1.0, x)
        p = F.prod(x_nz, dim=ctx.dim, keepdim=True, dtype=None)
        return F.where(none, g * p / x_nz, F.where(single, g * p, 0.0))


def prod(input: Tensor, dim: int | None = None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of the elements (over one ``dim``); integers and bools give int64.

    Example:
        >>> import ember
        >>> ember.prod(ember.tensor([[1, 2], [3, 4]]), dim=1)
        tensor([ 2, 12])
    """
    if isinstance(dim, (tuple, list)):
        raise TypeError("prod(): argument 'dim' must be int, not tuple")
    axes = None if dim is None or input.ndim == 0 else (norm_dim(dim, input.ndim, "prod"),)
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
    return Prod.apply(input, dim=axes, keepdim=keepdim, dtype=dtype)


# ---------------------------------------------------------------- variance


@register
class Var(Op):
    """Variance with ``correction`` (Bessel's correction is 1)."""

    name = "var"

    @staticmethod
    def forward(ctx, x, dim, correction, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        n = _numel(x.shape, dim)
        denom = _pymax(n - correction, 0)
        ctx.n, ctx.denom = n, denom
        ctx.save_for_backward(x)
        with xp.errstate(divide="ignore", invalid="ignore"):
            d = x - x.mean(axis=dim, keepdims=True) if n else x
            return xp.sum(d * d, axis=dim, keepdims=keepdim) / x.dtype.type(denom)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        n, denom = ctx.n, ctx.denom
        scale = 2.0 / denom if denom else math.nan
        centred = x - F.sum(x, dim=ctx.dim, keepdim=True, dtype=None) * (1.0 / _pymax(n, 1))
        return _grad_kept(F, g, ctx) * scale * centred


def _var_args(input, dim, unbiased, correction, keepdim, op):
    if isinstance(dim, bool) and unbiased is None and correction is None:
        dim, unbiased = None, dim  # the legacy var(input, unbiased) form
    if unbiased is not None and correction is not None:
        raise TypeError(f"{op}(): received an invalid combination of arguments: both "
                        f"'unbiased' and 'correction' given")
    if input._data.dtype.kind != "f":
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if correction is None:
        correction = 0 if unbiased is False else 1
    axes = _axes(dim, input.ndim, op)
    n = _numel(input._data.shape, axes)
    if n - correction <= 0:
        warnings.warn(f"{op}(): degrees of freedom is <= 0. Correction should be strictly less "
                      f"than the reduction factor (input numel divided by output numel).",
                      UserWarning, stacklevel=3)
    return axes, correction


def var(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Variance over ``dim`` with ``correction`` (default 1; ``unbiased=False`` means 0).

    Example:
        >>> import ember
        >>> ember.var(ember.tensor([1.0, 2.0, 3.0, 4.0]))
        tensor(1.6667)
    """
    axes, c = _var_args(input, dim, unbiased, correction, keepdim, "var")
    return Var.apply(input, dim=axes, correction=c, keepdim=keepdim)


def std(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
        correction: float | None = None) -> Tensor:
    """Standard deviation: the square root of :func:`var`.

    Example:
        >>> import ember
        >>> ember.std(ember.tensor([1.0, 3.0]))
        tensor(1.4142)
    """
    axes, c = _var_args(input, dim, unbiased, correction, keepdim, "std")
    return Var.apply(input, dim=axes, correction=c, keepdim=keepdim).sqrt()


def var_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None) -> tuple:
    """``(var, mean)`` over ``dim``.

    Example:
        >>> import ember
        >>> ember.var_mean(ember.tensor([1.0, 3.0]))[1]
        tensor(2.)
    """
    axes, c = _var_args(input, dim, unbiased, correction, keepdim, "var_mean")
    return (Var.apply(input, dim=axes, correction=c, keepdim=keepdim),
            mean(input, axes or (), keepdim))


def std_mean(input: Tensor, dim=None, unbiased: bool | None = None, keepdim: bool = False, *,
             correction: float | None = None) -> tuple:
    """``(std, mean)`` over ``dim``.

    Example:
        >>> import ember
        >>> ember.std_mean(ember.tensor([1.0, 3.0]))[0]
        tensor(1.4142)
    """
    axes, c = _var_args(input, dim, unbiased, correction, keepdim, "std_mean")
    return (Var.apply(input, dim=axes, correction=c, keepdim=keepdim).sqrt(),
            mean(input, axes or (), keepdim))


# ---------------------------------------------------------------- norms


@register
class VectorNorm(Op):
    """``sum(|x|**ord)**(1/ord)`` over ``dim``, with the ``0``, ``inf`` and ``-inf`` cases."""

    name = "vector_norm"

    @staticmethod
    def forward(ctx, x, ord, dim, keepdim):
        ctx.in_shape, ctx.dim, ctx.keepdim, ctx.ord = x.shape, dim, keepdim, ord
        a = xp.abs(x)
        if ord == 2:
            out = xp.sqrt(xp.sum(x * x, axis=dim, keepdims=True))
        elif ord == 1:
            out = xp.sum(a, axis=dim, keepdims=True)
        elif ord == math.inf:
            out = xp.max(a, axis=dim, keepdims=True)
        elif ord == -math.inf:
            out = xp.min(a, axis=dim, keepdims=True)
        elif ord == 0:
            out = xp.sum(x != 0, axis=dim, keepdims=True).astype(x.dtype)
        else:
            with xp.errstate(divide="ignore", over="ignore"):
                out = xp.sum(a ** x.dtype.type(ord), axis=dim, keepdims=True) ** x.dtype.type(
                    1.0 / ord)
        res = _drop_dims(out, dim, keepdim)
        if ctx.recording:
            if abs(ord) == math.inf:
                mask = a == out
                scale = 1.0 / xp.maximum(mask.sum(axis=dim, keepdims=True), 1).astype(x.dtype)
                ctx.save_for_backward(x, res, mask, scale)
            else:
                ctx.save_for_backward(x, res, out == 0)
        return res

    @staticmethod
    def backward(ctx, F, g):
        x, out = ctx.saved_tensors[:2]
        p, g = ctx.ord, _grad_kept(F, g, ctx)
        if p == 0:
            return F.expand(g * 0.0, shape=ctx.in_shape)
        if p == 1:
            return g * F.sign(x)
        if abs(p) == math.inf:
            mask, scale = ctx.saved_tensors[2:]
            return F.where(mask, g * scale * F.sign(x), 0.0)
        zero = ctx.saved_tensors[2]
        safe = F.where(zero, 1.0, _grad_kept(F, out, ctx))
        if p == 2:
            return F.where(zero, 0.0, g * x / safe)
        return F.where(zero, 0.0, g * F.sign(x) * (F.abs(x) / safe) ** (p - 1.0))


def _vector_norm(input: Tensor, ord, dim, keepdim: bool, dtype, op: str) -> Tensor:
    if dtype is not None:
        input = cast(input, dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_dname(input)}")
    axes = _axes(dim, input.ndim, op)
    if ord in (math.inf, -math.inf):
        _check_nonempty(input, axes, op)
    return VectorNorm.apply(input, ord=float(ord), dim=axes, keepdim=keepdim)


def vector_norm(x: Tensor, ord: float = 2, dim=None, keepdim: bool = False, *,
                dtype=None) -> Tensor:
    """``torch.linalg.vector_norm``: the ``ord``-norm of ``x`` over ``dim`` (all dims by default).

    Example:
        >>> import ember
        >>> ember.linalg.vector_norm(ember.tensor([3.0, 4.0]))
        tensor(5.)
    """
    return _vector_norm(x, ord, dim, keepdim, dtype, "linalg.vector_norm")


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False, dtype=None) -> Tensor:
    """``torch.norm``: a vector ``p``-norm (``'fro'`` is the 2-norm) or ``'nuc'`` over 2 dims.

    Example:
        >>> import ember
        >>> ember.norm(ember.tensor([[3.0, 4.0], [0.0, 0.0]]), dim=1)
        tensor([5., 0.])
    """
    if isinstance(dim, int):
        dim = (dim,)
    if p == "nuc":
        from .linalg import linalg_matrix_norm
        return linalg_matrix_norm(input, "nuc", (-2, -1) if dim is None else dim, keepdim,
                                  dtype=dtype)
    if p == "fro":
        if dim is not None and len(dim) > 2:
            raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {dim}")
        p = 2
    if p is None:
        p = 2
    return _vector_norm(input, p, dim, keepdim, dtype, "linalg.vector_norm")


# ---------------------------------------------------------------- scans


@register
class Cumsum(Op):
    name = "cumsum"

    @staticmethod
    def forward(ctx, x, dim, dtype=None):
        ctx.dim = dim
        return xp.cumsum(x, axis=dim, dtype=_int_to_long(x, dtype)).reshape(x.shape)

    @staticmethod
    def backward(ctx, F, g):
        # the reversed cumulative sum, without a flip: total - cumsum + g
        d = ctx.dim
        if d is None:
            return g
        return F.sum(g, dim=(d,), keepdim=True, dtype=None) - F.cumsum(g, dim=d, dtype=None) + g


@register
class Cumprod(Op):
    name = "cumprod"

    @staticmethod
    def forward(ctx, x, dim, dtype=None):
        ctx.dim = dim
        out = xp.cumprod(x, axis=dim, dtype=_int_to_long(x, dtype)).reshape(x.shape)
        if ctx.recording:
            ctx.has_zero = bool((x == 0).any())
            ctx.save_for_backward(x, out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        x, out = ctx.saved_tensors
        d = ctx.dim
        if d is None:
            return g
        if not ctx.has_zero:
            go = g * out
            rev = F.sum(go, dim=(d,), keepdim=True, dtype=None) - F.cumsum(go, dim=d, dtype=None)
            return (rev + go) / x
        # with zeros: grad_i = sum_{j>=i} g_j * prod_{k<=j, k!=i} x_k, as an n x n table
        nd, n = x.ndim, x.shape[d]
        perm = tuple(i for i in range(nd) if i != d) + (d,)
        inv = tuple(perm.index(i) for i in range(nd))
        xl = F.permute(x, dims=perm) if d != nd - 1 else x
        gl = F.permute(g, dims=perm) if d != nd - 1 else g
        lead = tuple(xl.shape[:-1])
        eye = xp.eye(n, dtype=bool)
        table = F.where(eye, 1.0, F.reshape(xl, shape=lead + (1, n)))
        c = F.cumprod(table, dim=nd, dtype=None)
        upper = xp.triu(xp.ones((n, n), dtype=bool))
        gr = F.where(upper, c * F.reshape(gl, shape=lead + (1, n)), 0.0)
        res = F.sum(gr, dim=(nd,), keepdim=False, dtype=None)
        return F.permute(res, dims=inv) if d != nd - 1 else res


def _scan(op, input, dim, dtype, name):
    d = norm_dim(dim, input.ndim, name)
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
    return op.apply(input, dim=d if input.ndim else None, dtype=dtype)


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative sum along ``dim``; integers and bools accumulate in int64.

    Example:
        >>> import ember
        >>> ember.cumsum(ember.tensor([1, 2, 3]), dim=0)
        tensor([1, 3, 6])
    """
    return _scan(Cumsum, input, dim, dtype, "cumsum")


def cumprod(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Cumulative product along ``dim`` (exact gradients with zeros in the input).

    Example:
        >>> import ember
        >>> ember.cumprod(ember.tensor([1, 2, 3]), dim=0)
        tensor([1, 2, 6])
    """
    return _scan(Cumprod, input, dim, dtype, "cumprod")


# ---------------------------------------------------------------- logical reductions, counts


@register
class All(Op):
    name = "all"
    differentiable = False

    @staticmethod
    def forward(ctx, x, dim, keepdim, any=False):  # noqa: A002
        out = (xp.any if any else xp.all)(x, axis=dim, keepdims=keepdim)
        return out.astype(xp.uint8) if x.dtype == xp.uint8 else out


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where every element over ``dim`` is nonzero (bool result; uint8 stays uint8).

    Example:
        >>> import ember
        >>> ember.all(ember.tensor([[True, False], [True, True]]), dim=1)
        tensor([False,  True])
    """
    return All.apply(input, dim=_axes(dim, input.ndim, "all"), keepdim=keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:  # noqa: A001
    """True where some element over ``dim`` is nonzero (bool result; uint8 stays uint8).

    Example:
        >>> import ember
        >>> ember.any(ember.tensor([[True, False], [False, False]]), dim=1)
        tensor([ True, False])
    """
    return All.apply(input, dim=_axes(dim, input.ndim, "any"), keepdim=keepdim, any=True)


@register
class CountNonzero(Op):
    name = "count_nonzero"
    differentiable = False

    @staticmethod
    def forward(ctx, x, dim):
        return xp.asarray(xp.count_nonzero(x, axis=dim), dtype=xp.int64)


def count_nonzero(input: Tensor, dim=None) -> Tensor:
    """The number of nonzero elements over ``dim`` (int64).

    Example:
        >>> import ember
        >>> ember.count_nonzero(ember.tensor([[0, 1], [2, 3]]), dim=0)
        tensor([1, 2])
    """
    return CountNonzero.apply(input, dim=_axes(dim, input.ndim, "count_nonzero"))


@register
class Nansum(Op):
    name = "nansum"

    @staticmethod
    def forward(ctx, x, dim, keepdim, dtype=None):
        ctx.in_shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        if ctx.recording:
            ctx.save_for_backward((~xp.isnan(x)).astype(x.dtype))
        return xp.nansum(x, axis=dim, keepdims=keepdim, dtype=_int_to_long(x, dtype))

    @staticmethod
    def backward(ctx, F, g):
        # a product, not a select: an infinite gradient (nanmean of all-nan) gives nan, as torch
        (keep,) = ctx.saved_tensors
        with xp.errstate(invalid="ignore"):
            return _grad_kept(F, g, ctx) * keep


def nansum(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Sum over ``dim`` treating nan as zero.

    Example:
        >>> import ember
        >>> ember.nansum(ember.tensor([1.0, float("nan"), 2.0]))
        tensor(3.)
    """
    if dtype is not None:
        dtype = dtypes.to_dtype(dtype)
    return Nansum.apply(input, dim=_axes(dim, input.ndim, "nansum"), keepdim=keepdim, dtype=dtype)


def nanmean(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Mean over ``dim`` of the non-nan elements.

    Example:
        >>> import ember
        >>> ember.nanmean(ember.tensor([1.0, float("nan"), 2.0]))
        tensor(1.5000)
    """
    if dtype is not None:
        input = cast(input, dtype)
    if input._data.dtype.kind != "f":
        raise RuntimeError(f"nanmean(): expected input to have floating point or complex dtype "
                           f"but got {_dname(input)}")
    axes = _axes(dim, input.ndim, "nanmean")
    count = sum(cast(input.isnan().logical_not(), input.dtype), axes, keepdim)
    return nansum(input, axes or (), keepdim) / count.detach()


# ---------------------------------------------------------------- counting and histograms


@register
class Bincount(Op):
    name = "bincount"
    differentiable = False

    @staticmethod
    def forward(ctx, x, weights=None, minlength=0):
        n = _pymax(int(x.max()) + 1 if x.size else 0, minlength)
        if weights is None:
            return xp.bincount(x, minlength=n).astype(xp.int64)
        out = xp.bincount(x, weights=weights.astype(xp.float64), minlength=n)
        return out.astype(xp.float32 if weights.dtype == xp.float32 else xp.float64)


def bincount(input: Tensor, weights: Tensor | None = None, minlength: int = 0) -> Tensor:
    """Count the occurrences of each value in a 1-d tensor of non-negative integers.

    With ``weights`` each occurrence adds its weight (float32 weights give float32,
    other weights float64). The result has ``max(input.max() + 1, minlength)`` entries.

    Example:
        >>> import ember
        >>> ember.bincount(ember.tensor([1, 3, 3]))
        tensor([0, 1, 0, 2])
        >>> ember.bincount(ember.tensor([0, 0]), ember.tensor([0.5, 1.0]), minlength=2)
        tensor([1.5000, 0.0000])
    """
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if input.dtype.is_floating_point or input.dtype.name == "bool":
        raise NotImplementedError(f'"bincount_cpu" not implemented for \'{_dname(input)}\'')
    if input.ndim != 1 or (input.numel() and bool((input._data < 0).any())):
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if weights is not None and (weights.ndim != 1 or weights.shape[0] != input.shape[0]):
        raise RuntimeError("weights should be 1-d and have the same length as input")
    if weights is None:
        return Bincount.apply(input, minlength=int(minlength))
    return Bincount.apply(input, weights, minlength=int(minlength))


@register
class Histc(Op):
    name = "histc"
    differentiable = False

    @staticmethod
    def forward(ctx, x, bins, min, max):  # noqa: A002 - torch's names
        lo, hi = xp.asarray(min, x.dtype), xp.asarray(max, x.dtype)
        keep = x[(x >= lo) & (x <= hi)]
        pos = ((keep - lo) * bins / (hi - lo)).astype(xp.int64)
        # the right edge belongs to the last bin
        pos = xp.minimum(pos, bins - 1)
        return xp.bincount(pos, minlength=bins).astype(x.dtype)


def histc(input: Tensor, bins: int = 100, min: float = 0, max: float = 0) -> Tensor:  # noqa: A002
    """Histogram of ``input`` with ``bins`` equal-width bins spanning ``[min, max]``.

    Elements outside the range are ignored; an element equal to ``max`` counts in the last
    bin. When ``min == max`` the data's own minimum and maximum are used (widened by 1 on
    each side if those are equal too).

    Example:
        >>> import ember
        >>> ember.histc(ember.tensor([1.0, 2.0, 1.0]), bins=4, min=0, max=3)
        tensor([0., 2., 1., 0.])
    """
    if not input.dtype.is_floating_point:
        raise NotImplementedError(f'"histogram_cpu" not implemented for \'{_dname(input)}\'')
    if bins <= 0:
        raise RuntimeError(f"torch.histogram(): bins must be > 0, but got {bins} for dimension 0")
    lo, hi = float(min), float(max)
    if lo == hi and input.numel():
        lo, hi = float(input.min()), float(input.max())  # host reads: the JIT guards them
    if lo == hi:
        lo, hi = lo - 1, hi + 1
    if hi < lo:
        raise RuntimeError("torch.histc: max must be larger than min")
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise RuntimeError(f"torch.histc: range of [{lo:g}, {hi:g}] is not finite")
    return Histc.apply(input, bins=int(bins), min=lo, max=hi)


install_methods({
    "sum": sum, "mean": mean, "sum_to_size": sum_to_size, "prod": prod,
    "var": var, "std": std, "norm": norm, "cumsum": cumsum, "cumprod": cumprod,
    "all": all, "any": any, "count_nonzero": count_nonzero, "nansum": nansum,
    "nanmean": nanmean, "bincount": bincount, "histc": histc,
})
