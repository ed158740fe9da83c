"""Indexing: ``Tensor.__getitem__`` and ``__setitem__`` (the index, index_backward and setitem ops).

``x[item]`` runs in two steps, as torch does: the basic part (ints, slices, None,
``...``) is one ``slice`` op, a view; the tensor indices (integer arrays and boolean
masks, the latter turned into integer arrays) are then applied by the ``index`` op,
a copy whose backward accumulates duplicate indices. ``x[item] = v`` is the
``setitem`` op run in place (``registry.apply_inplace``), so the target keeps its
memory, identity and version counter.
"""

from __future__ import annotations

import builtins

from ..autograd.grad_mode import _state
from ..backend import xp
from ..tensor import Tensor
from ._util import const_tensor
from .registry import OPS, Op, apply_inplace, install_methods, register
from .shape import Slice, decode_index, reshape

__all__: list[str] = []  # no public functions: these are Tensor methods


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


# ---------------------------------------------------------------- __getitem__ / __setitem__


def _to_index_tensor(item) -> Tensor:
    if isinstance(item, Tensor):
        t = item
    else:
        a = xp.asarray(item)
        t = const_tensor(a.astype(xp.int64) if a.size == 0 and a.dtype.kind == "f" else a)
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
            items.append(const_tensor(xp.asarray(builtins.bool(it))))
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
                arrays.append(_nonzero_tuple(it)[0]._data)
                od += 1
                trivial = False
                continue
            for j in range(m.ndim):
                if m.shape[j] != shape[d + j]:
                    raise IndexError(f"The shape of the mask {list(m.shape)} at index {j} does "
                                     f"not match the shape of the indexed tensor {list(shape)} "
                                     f"at index {d + j}")
            for t in _nonzero_tuple(it):
                basic.append(_FULL)
                dims.append(od)
                arrays.append(t._data)
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


def _nonzero_tuple(mask: Tensor) -> tuple:
    out = OPS["nonzero_tuple"].apply(mask)
    return out if isinstance(out, tuple) else (out,)


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


install_methods({"__getitem__": _getitem, "__setitem__": _setitem})
