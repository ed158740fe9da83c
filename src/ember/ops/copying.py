"""Shape ops that copy: repeat/tile/repeat_interleave, flip/roll, tril/triu, diag and
diag_embed, clone, the *_scatter family, narrow_copy and pad.
"""

from __future__ import annotations

import builtins

from ..backend import xp
from ..tensor import Tensor
from ._util import const_tensor, norm_dim, shape_arg
from .join import cat
from .registry import Op, apply_inplace, install_methods, register
from .shape import (
    Diagonal,
    DiagonalBackward,
    Expand,
    Reshape,
    diagonal,
    narrow,
    reshape,
    select,
    transpose,
)

__all__ = ["repeat_interleave", "tile", "flip", "fliplr", "flipud", "roll", "diag", "diag_embed",
           "tril", "triu", "clone", "select_scatter", "slice_scatter", "diagonal_scatter",
           "narrow_copy", "diff", "rot90", "detach"]


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
    from .gather_scatter import index_select
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
    if isinstance(repeats, Tensor):
        repeats._host_read("numpy")  # the counts shape the result: the JIT guards them
    r = repeats._data if isinstance(repeats, Tensor) else repeats
    if isinstance(r, xp.ndarray) and r.ndim == 1 and r.shape[0] not in (1, n):
        raise RuntimeError("repeats must have the same size as input along dim, but got "
                           f"repeats.size(0) = {r.shape[0]} and input.size({d}) = {n}")
    if isinstance(r, xp.ndarray) and r.size and r.min() < 0 or not isinstance(r, xp.ndarray) \
            and r < 0:
        raise RuntimeError("repeats can not be negative")
    idx = xp.repeat(xp.arange(n, dtype=xp.int64), r.reshape(-1) if isinstance(r, xp.ndarray)
                    and r.ndim == 0 else r)
    return index_select(input, d, const_tensor(idx))


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
    from .gather_scatter import index_select
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
            x = index_select(x, d, const_tensor(_pad_index(n, lo, hi, mode)))
    return x


# ---------------------------------------------------------------- differences and rotations


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend: Tensor | None = None,
         append: Tensor | None = None) -> Tensor:
    """The ``n``-th forward difference along ``dim``: ``out[i] = input[i + 1] - input[i]``.

    ``prepend`` and ``append`` are concatenated along ``dim`` first; bool inputs give
    ``input[i + 1] != input[i]``.

    Example:
        >>> import ember
        >>> ember.diff(ember.tensor([1, 3, 2, 7]))
        tensor([ 2, -1,  5])
        >>> ember.diff(ember.tensor([1, 3, 2, 7]), n=2, prepend=ember.tensor([0]))
        tensor([ 1, -3,  6])
    """
    if input.ndim == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = norm_dim(dim, input.ndim, "diff")
    for extra in (prepend, append):
        if extra is not None and extra.ndim != input.ndim:
            raise RuntimeError("diff expects prepend or append to be the same dimension as input")
    if prepend is not None or append is not None:
        parts = [t for t in (prepend, input, append) if t is not None]
        input = cat(parts, d)
    for _ in range(n):
        size = input.shape[d]
        if size == 0:
            break
        hi, lo = narrow(input, d, 1, size - 1), narrow(input, d, 0, size - 1)
        input = hi != lo if input.dtype.name == "bool" else hi - lo
    return input


def rot90(input: Tensor, k: int = 1, dims=(0, 1)) -> Tensor:
    """Rotate by ``k`` quarter turns in the plane of ``dims``, from ``dims[0]`` to ``dims[1]``.

    Example:
        >>> import ember
        >>> ember.rot90(ember.tensor([[1, 2], [3, 4]]))
        tensor([[2, 4],
                [1, 3]])
    """
    dims = tuple(dims)
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if input.ndim < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {input.ndim}")
    d0, d1 = (norm_dim(x, input.ndim, "rot90") for x in dims)
    if d0 == d1:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {dims[0]} "
                           f"and dim1 = {dims[1]}")
    k %= 4
    if k == 1:
        return transpose(flip(input, (d1,)), d0, d1)
    if k == 2:
        return flip(input, (d0, d1))
    if k == 3:
        return transpose(flip(input, (d0,)), d0, d1)
    return clone(input)


def detach(input: Tensor) -> Tensor:
    """A tensor sharing ``input``'s data, cut from the autograd graph (``input.detach()``).

    Example:
        >>> import ember
        >>> ember.detach(ember.ones(2, requires_grad=True)).requires_grad
        False
    """
    return input.detach()


install_methods({
    "repeat": _repeat, "tile": tile, "repeat_interleave": repeat_interleave,
    "flip": flip, "fliplr": fliplr, "flipud": flipud, "roll": roll, "tril": tril, "triu": triu,
    "tril_": lambda self, diagonal=0: apply_inplace(Tril, self, diagonal=int(diagonal)),
    "triu_": lambda self, diagonal=0: apply_inplace(Triu, self, diagonal=int(diagonal)),
    "diag": diag, "diag_embed": diag_embed, "clone": clone, "contiguous": _contiguous,
    "select_scatter": select_scatter, "slice_scatter": slice_scatter,
    "diagonal_scatter": diagonal_scatter, "narrow_copy": narrow_copy, "diff": diff,
    "rot90": rot90,
})
