"""Making tensors: from data, filled, ranges, and random."""

from __future__ import annotations

import math
from numbers import Number

from . import dtypes
from .autograd.grad_mode import no_grad
from .backend import xp
from .ops._util import created, shape_arg
from .ops.arith import cast
from .ops.registry import OPS, Op, apply_inplace, dispatch, install_methods, register
from .tensor import Tensor, _check_device

__all__ = ["tensor", "as_tensor", "from_numpy", "asarray", "zeros", "ones", "full", "empty",
           "zeros_like", "ones_like", "full_like", "empty_like", "arange", "linspace",
           "logspace", "eye", "rand", "randn", "randint", "randperm", "normal", "bernoulli",
           "multinomial", "rand_like", "randn_like", "randint_like", "scalar_tensor"]


def _infer_np_dtype(data):
    """torch.tensor's inference: Python floats give the default dtype, ints int64."""
    kind = -1  # no element seen: empty data gives the default dtype, as in torch
    stack = [data]
    while stack:
        d = stack.pop()
        if isinstance(d, Tensor):
            return None
        if isinstance(d, (list, tuple)):
            stack.extend(d)
        elif isinstance(d, bool) or isinstance(d, xp.bool_):
            kind = max(kind, 0)
        elif isinstance(d, (int, xp.integer)):
            kind = max(kind, 1)
        elif isinstance(d, (float, xp.floating)):
            kind = 2
        elif isinstance(d, complex):
            raise TypeError("ember does not support complex tensors")
        elif isinstance(d, xp.ndarray):
            return None
        else:
            raise TypeError(f"Could not infer dtype of {type(d).__name__}")
    if kind < 0:
        return dtypes.get_default_dtype().np
    return (xp.dtype(xp.bool_), xp.dtype(xp.int64), dtypes.get_default_dtype().np)[kind]


def _as_array(data, dtype=None, copy: bool = True):
    dt = None if dtype is None else dtypes.to_dtype(dtype).np
    if isinstance(data, Tensor):
        arr = data._data
        out = arr.astype(dt) if dt is not None and arr.dtype != dt else arr
        return out.copy() if copy and out is arr else out
    if isinstance(data, xp.ndarray) or hasattr(data, "__array_interface__"):
        arr = xp.asarray(data)
        if dt is None:
            dtypes.from_np(arr.dtype)  # raises for unsupported dtypes
        out = arr.astype(dt) if dt is not None and arr.dtype != dt else arr
        return out.copy() if copy and out is arr else out
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in _flat(data)):
        data = _tensors_to_lists(data)
    if dt is None:
        dt = _infer_np_dtype(data)
    if isinstance(data, (list, tuple)):
        _check_ragged(data)
    try:
        return xp.array(data, dtype=dt)
    except (ValueError, OverflowError) as e:
        raise ValueError(f"ember.tensor: cannot make a tensor from this data: {e}") from None


def _flat(data):
    for d in data:
        if isinstance(d, (list, tuple)):
            yield from _flat(d)
        else:
            yield d


def _tensors_to_lists(data):
    if isinstance(data, Tensor):
        if data._data.size != 1 and data.ndim:
            return data._data.tolist()
        return data._data.item() if data.ndim == 0 else data._data.tolist()
    if isinstance(data, (list, tuple)):
        return [_tensors_to_lists(d) for d in data]
    return data


def _check_ragged(data) -> None:
    def shape(d):
        if isinstance(d, (list, tuple)):
            subs = [shape(x) for x in d]
            if subs and any(s != subs[0] for s in subs):
                raise ValueError(f"expected sequence of length {len(subs[0]) if subs[0] else 0} "
                                 f"at dim 1 (got a ragged nested list)")
            return (len(d),) + (subs[0] if subs else ())
        if isinstance(d, xp.ndarray):
            return d.shape
        return ()
    shape(data)


def _finish(arr, requires_grad: bool, device=None) -> Tensor:
    _check_device(device)
    t = Tensor._make(arr)
    if requires_grad:
        t.requires_grad = True
    return created(t)


def tensor(data, *, dtype=None, device=None, requires_grad: bool = False,
           pin_memory: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data`` (numbers, nested lists, arrays, tensors).

    Example:
        >>> import ember
        >>> ember.tensor([[1, 2], [3, 4]], dtype=ember.float32)
        tensor([[1., 2.],
                [3., 4.]])
    """
    return _finish(_as_array(data, dtype, copy=True), requires_grad, device)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like ``tensor`` but shares memory with a NumPy array or tensor when it can.

    Example:
        >>> import ember, numpy as np
        >>> a = np.zeros(2, np.float32); t = ember.as_tensor(a); a[0] = 1; t
        tensor([1., 0.])
    """
    if isinstance(data, Tensor) and (dtype is None or data.dtype == dtypes.to_dtype(dtype)):
        return data
    return _finish(_as_array(data, dtype, copy=False), False, device)


asarray = as_tensor


def from_numpy(ndarray) -> Tensor:
    """A tensor sharing memory with a NumPy array (zero-copy, same dtype).

    Example:
        >>> import ember, numpy as np
        >>> a = np.arange(3); t = ember.from_numpy(a); t[0] = 7; a
        array([7, 1, 2])
    """
    if not isinstance(ndarray, xp.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    dtypes.from_np(ndarray.dtype)
    return created(Tensor._make(ndarray))


def _dt(dtype, default=None):
    if dtype is None:
        return (default or dtypes.get_default_dtype()).np
    return dtypes.to_dtype(dtype).np


def _size(size) -> tuple:
    shape = shape_arg(size)
    for s in shape:
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: "
                               f"{list(shape)}")
    return shape


def zeros(*size, dtype=None, device=None, requires_grad: bool = False, out=None) -> Tensor:
    """A tensor of zeros.

    Example:
        >>> import ember
        >>> ember.zeros(2, 3).shape
        ember.Size([2, 3])
    """
    return _finish(xp.zeros(_size(size), _dt(dtype)), requires_grad, device)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor of ones.

    Example:
        >>> import ember
        >>> ember.ones(2)
        tensor([1., 1.])
    """
    return _finish(xp.ones(_size(size), _dt(dtype)), requires_grad, device)


def empty(*size, dtype=None, device=None, requires_grad: bool = False,
          memory_format=None) -> Tensor:
    """An uninitialised tensor (ember fills it with zeros, which is a valid choice).

    Example:
        >>> import ember
        >>> ember.empty(2, 2).shape
        ember.Size([2, 2])
    """
    return _finish(xp.zeros(_size(size), _dt(dtype)), requires_grad, device)


def full(size, fill_value, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A tensor filled with ``fill_value``; the dtype follows the value, as in torch.

    Example:
        >>> import ember
        >>> ember.full((2,), 7)
        tensor([7, 7])
    """
    if dtype is None:
        dtype = dtypes.scalar_dtype(fill_value.item() if isinstance(fill_value, Tensor)
                                    else fill_value)
    return _finish(xp.full(_size((size,)), fill_value, _dt(dtype)), requires_grad, device)


def scalar_tensor(s, *, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A 0-d tensor of the default float dtype (or ``dtype``)."""
    return _finish(xp.array(s, _dt(dtype)), requires_grad, device)


def _like(fill):
    def fn(input: Tensor, *, dtype=None, device=None, requires_grad: bool = False,
           memory_format=None) -> Tensor:
        dt = input._data.dtype if dtype is None else dtypes.to_dtype(dtype).np
        return _finish(fill(input._data.shape, dt), requires_grad, device)
    return fn


zeros_like = _like(xp.zeros)
ones_like = _like(xp.ones)
empty_like = _like(xp.zeros)
zeros_like.__doc__ = """Zeros with ``input``'s shape and dtype.

    Example:
        >>> import ember
        >>> ember.zeros_like(ember.ones(2))
        tensor([0., 0.])
"""
ones_like.__doc__ = """Ones with ``input``'s shape and dtype.

    Example:
        >>> import ember
        >>> ember.ones_like(ember.zeros(2))
        tensor([1., 1.])
"""
empty_like.__doc__ = "An uninitialised (zero) tensor like ``input``."


def full_like(input: Tensor, fill_value, *, dtype=None, device=None,
              requires_grad: bool = False, memory_format=None) -> Tensor:
    """``fill_value`` with ``input``'s shape and dtype.

    Example:
        >>> import ember
        >>> ember.full_like(ember.zeros(2), 3)
        tensor([3., 3.])
    """
    dt = input._data.dtype if dtype is None else dtypes.to_dtype(dtype).np
    return _finish(xp.full(input._data.shape, fill_value, dt), requires_grad, device)


def arange(start, end=None, step=1, *, dtype=None, device=None,
           requires_grad: bool = False) -> Tensor:
    """Values from ``start`` to ``end`` (exclusive) by ``step``; integer args give int64.

    Example:
        >>> import ember
        >>> ember.arange(0, 1, 0.25)
        tensor([0.0000, 0.2500, 0.5000, 0.7500])
    """
    if end is None:
        start, end = 0, start
    vals = [v.item() if isinstance(v, Tensor) else v for v in (start, end, step)]
    start, end, step = vals
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if (end - start) * step < 0 and end != start:
        raise RuntimeError("upper bound and larger bound inconsistent with step sign")
    if dtype is None:
        dtype = dtypes.int64 if all(isinstance(v, int) for v in vals) else None
    n = max(0, math.ceil((end - start) / step))
    dt = _dt(dtype)
    arr = (start + xp.arange(n, dtype=xp.float64) * step).astype(dt) if dt.kind == "f" \
        else xp.arange(start, end, step, dtype=dt)
    return _finish(arr, requires_grad, device)


def linspace(start, end, steps: int, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end`` inclusive.

    Example:
        >>> import ember
        >>> ember.linspace(0, 1, 3)
        tensor([0.0000, 0.5000, 1.0000])
    """
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    return _finish(xp.linspace(float(start), float(end), steps).astype(_dt(dtype)),
                   requires_grad, device)


def logspace(start, end, steps: int, base: float = 10.0, *, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """``base ** linspace(start, end, steps)``.

    Example:
        >>> import ember
        >>> ember.logspace(0, 2, 3)
        tensor([  1.,  10., 100.])
    """
    return _finish(xp.logspace(float(start), float(end), steps, base=base).astype(_dt(dtype)),
                   requires_grad, device)


def eye(n: int, m: int | None = None, *, dtype=None, device=None,
        requires_grad: bool = False) -> Tensor:
    """The identity matrix (``n`` x ``m``).

    Example:
        >>> import ember
        >>> ember.eye(2)
        tensor([[1., 0.],
                [0., 1.]])
    """
    return _finish(xp.eye(n, m, dtype=_dt(dtype)), requires_grad, device)


# ---------------------------------------------------------------- random

# draws go through the op table (ops/random.py) so a dispatch mode sees them
_UNIFORM, _NORMAL, _RANDINT, _RANDPERM = (OPS["uniform"], OPS["normal"], OPS["randint"],
                                          OPS["randperm"])
_EXPONENTIAL, _BERNOULLI, _MULTINOMIAL = OPS["exponential"], OPS["bernoulli"], OPS["multinomial"]
_COPY = OPS["copy"]


def _edt(dtype, default=None) -> dtypes.dtype:
    """``dtype`` (or the default) as an ember dtype, the form random ops take."""
    if dtype is None:
        return default or dtypes.get_default_dtype()
    return dtypes.to_dtype(dtype)


def _drawn(t: Tensor, requires_grad: bool) -> Tensor:
    if requires_grad:
        t.requires_grad = True
    return t


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform samples on [0, 1).

    Example:
        >>> import ember
        >>> ember.rand(2, 3).shape
        ember.Size([2, 3])
    """
    _check_device(device)
    return _drawn(dispatch(_UNIFORM, (), {"shape": _size(size), "dtype": _edt(dtype),
                                          "generator": generator}), requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples.

    Example:
        >>> import ember
        >>> ember.randn(4).dtype
        ember.float32
    """
    _check_device(device)
    return _drawn(dispatch(_NORMAL, (), {"shape": _size(size), "dtype": _edt(dtype),
                                         "generator": generator}), requires_grad)


def randint(low, high=None, size=None, *, generator=None, dtype=None, device=None,
            requires_grad: bool = False) -> Tensor:
    """Integers uniform on [low, high); ``randint(high, size)`` starts at 0.

    Example:
        >>> import ember
        >>> bool((ember.randint(0, 3, (10,)) < 3).all())
        True
    """
    if size is None:
        if high is None or not isinstance(high, (tuple, list)):
            raise TypeError("randint() missing required argument 'size'")
        low, high, size = 0, low, high
    elif high is None:
        low, high = 0, low
    _check_device(device)
    return _drawn(dispatch(_RANDINT, (), {"shape": _size((size,)), "low": low, "high": high,
                                          "dtype": _edt(dtype, dtypes.int64),
                                          "generator": generator}), requires_grad)


def randperm(n: int, *, generator=None, dtype=None, device=None,
             requires_grad: bool = False) -> Tensor:
    """A random permutation of ``0..n-1``.

    Example:
        >>> import ember
        >>> sorted(ember.randperm(4).tolist())
        [0, 1, 2, 3]
    """
    _check_device(device)
    return _drawn(dispatch(_RANDPERM, (), {"n": n, "dtype": _edt(dtype, dtypes.int64),
                                           "generator": generator}), requires_grad)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None,
           device=None, requires_grad: bool = False) -> Tensor:
    """Normal samples; ``mean``/``std`` may be tensors (broadcast) or numbers with ``size``.

    Example:
        >>> import ember
        >>> ember.normal(ember.zeros(3), 1.0).shape
        ember.Size([3])
    """
    m = mean._data if isinstance(mean, Tensor) else mean
    s = std._data if isinstance(std, Tensor) else std
    if isinstance(std, Number) and std < 0 or isinstance(s, xp.ndarray) and (s < 0).any():
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std}")
    if size is None:
        shape = xp.broadcast_shapes(xp.shape(m), xp.shape(s))
        dt = next((a.dtype for a in (m, s) if isinstance(a, xp.ndarray)), _dt(dtype))
    else:
        shape, dt = _size((size,)), _dt(dtype)
    _check_device(device)
    tensors = isinstance(mean, Tensor) or isinstance(std, Tensor)
    params = {"shape": shape, "dtype": dtypes.float64, "generator": generator}
    if not tensors:
        # float64 draws, then cast: the stream and rounding ember.normal has always had
        params["mean"], params["std"] = float(mean), float(std)
    with no_grad():
        out = dispatch(_NORMAL, (), params)
        if tensors:
            out = mean + std * out
        if out._data.dtype != dt:
            out = cast(out, dtypes.from_np(dt))
    return _drawn(out, requires_grad)


def bernoulli(input: Tensor, p=None, *, generator=None) -> Tensor:
    """0/1 samples with probabilities ``input`` (or the constant ``p``).

    Example:
        >>> import ember
        >>> ember.bernoulli(ember.ones(3))
        tensor([1., 1., 1.])
    """
    return dispatch(_BERNOULLI, (input,), {"p": p, "generator": generator})


def multinomial(input: Tensor, num_samples: int, replacement: bool = False, *,
                generator=None) -> Tensor:
    """Draw category indices with probabilities proportional to the rows of ``input``.

    Example:
        >>> import ember
        >>> ember.multinomial(ember.tensor([0.0, 1.0]), 2, replacement=True)
        tensor([1, 1])
    """
    return dispatch(_MULTINOMIAL, (input,), {"num_samples": num_samples,
                                             "replacement": replacement,
                                             "generator": generator})


def rand_like(input: Tensor, *, generator=None, dtype=None, requires_grad=False) -> Tensor:
    """``rand`` with ``input``'s shape and dtype."""
    return rand(*input.shape, generator=generator, dtype=dtype or input.dtype,
                requires_grad=requires_grad)


def randn_like(input: Tensor, *, generator=None, dtype=None, requires_grad=False) -> Tensor:
    """``randn`` with ``input``'s shape and dtype."""
    return randn(*input.shape, generator=generator, dtype=dtype or input.dtype,
                 requires_grad=requires_grad)


def randint_like(input: Tensor, low, high=None, *, generator=None, dtype=None) -> Tensor:
    """``randint`` with ``input``'s shape and dtype."""
    return randint(low, high, tuple(input.shape), generator=generator, dtype=dtype or input.dtype)


# ---------------------------------------------------------------- in-place fills


@register
class Fill(Op):
    """Overwrite with ``value`` (a number or broadcastable array); no gradient to the old value."""

    name = "fill"

    @staticmethod
    def forward(ctx, x, value):
        return xp.broadcast_to(xp.asarray(value, dtype=x.dtype), x.shape).copy()

    @staticmethod
    def backward(ctx, F, g):
        return g * 0


def _fill_(self: Tensor, value) -> Tensor:
    if isinstance(value, Tensor):
        if value.ndim:
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with "
                               f"{value.ndim} dimensions.")
        value = value.item()
    return apply_inplace(Fill, self, value=value)


def _draw_into(self: Tensor, op, params: dict) -> Tensor:
    """Fill ``self`` with the draws of random ``op`` (made in its shape), as an in-place op."""
    params["shape"] = self._data.shape
    return apply_inplace(_COPY, self, dispatch(op, (), params))


def _uniform_(self: Tensor, a: float = 0.0, b: float = 1.0, *, generator=None) -> Tensor:
    return _draw_into(self, _UNIFORM, {"dtype": dtypes.float64, "low": a, "high": b,
                                       "generator": generator})


def _normal_(self: Tensor, mean: float = 0.0, std: float = 1.0, *, generator=None) -> Tensor:
    return _draw_into(self, _NORMAL, {"dtype": dtypes.float64, "mean": mean, "std": std,
                                      "generator": generator})


def _exponential_(self: Tensor, lambd: float = 1.0, *, generator=None) -> Tensor:
    return _draw_into(self, _EXPONENTIAL, {"dtype": dtypes.float64, "lambd": lambd,
                                           "generator": generator})


def _random_(self: Tensor, low: int = 0, high: int = 2**24, *, generator=None) -> Tensor:
    return _draw_into(self, _RANDINT, {"low": low, "high": high, "dtype": dtypes.int64,
                                       "generator": generator})


def _bernoulli_(self: Tensor, p=0.5, *, generator=None) -> Tensor:
    # drawn in self's shape (and dtype), then written by the differentiable copy op so that
    # a non-leaf target's history is rebased, as with the other fills
    if isinstance(p, Tensor):
        draws = dispatch(_BERNOULLI, (p.expand(self.shape),), {"generator": generator})
    else:
        draws = dispatch(_BERNOULLI, (self,), {"p": p, "generator": generator})
    return apply_inplace(_COPY, self, draws)


install_methods({
    "fill_": _fill_,
    "zero_": lambda self: apply_inplace(Fill, self, value=0),
    "uniform_": _uniform_,
    "normal_": _normal_,
    "bernoulli_": _bernoulli_,
    "exponential_": _exponential_,
    "random_": _random_,
    "new_zeros": lambda self, *size, dtype=None, requires_grad=False: zeros(
        *size, dtype=dtype or self.dtype, requires_grad=requires_grad),
    "new_ones": lambda self, *size, dtype=None, requires_grad=False: ones(
        *size, dtype=dtype or self.dtype, requires_grad=requires_grad),
    "new_empty": lambda self, *size, dtype=None, requires_grad=False: empty(
        *size, dtype=dtype or self.dtype, requires_grad=requires_grad),
    "new_full": lambda self, size, fill_value, dtype=None, requires_grad=False: full(
        size, fill_value, dtype=dtype or self.dtype, requires_grad=requires_grad),
    "new_tensor": lambda self, data, dtype=None, requires_grad=False: tensor(
        data, dtype=dtype or self.dtype, requires_grad=requires_grad),
})
