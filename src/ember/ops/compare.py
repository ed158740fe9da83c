"""Comparison, selection and logic ops: eq/ne/lt/le/gt/ge, where, maximum/minimum,
fmax/fmin, clamp, nan_to_num, logical and bitwise ops.

Comparisons and predicates give bool tensors and are not differentiable.
"""

from __future__ import annotations

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from ._util import _not_implemented, const_tensor
from .arith import _fast_binary, _inplace, cast
from .registry import Op, apply_inplace, install_methods, register

__all__ = ["where", "maximum", "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal",
           "less", "less_equal", "not_equal", "clamp", "clip", "clamp_min", "clamp_max", "minimum",
           "fmax", "fmin", "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
           "bitwise_or", "bitwise_xor", "bitwise_not", "nan_to_num", "isclose", "allclose",
           "equal"]


@register
class Where(Op):
    """``where(cond, a, b)``; ``cond`` is a bool array (never differentiated)."""

    name = "where"
    promote = None

    @staticmethod
    def forward(ctx, cond, a, b):
        ctx.save_for_backward(cond)
        return xp.where(cond, a, b)

    @staticmethod
    def backward(ctx, F, g):
        (cond,) = ctx.saved_tensors
        _, na, nb = ctx.needs_input_grad
        return (None, F.where(cond, g, 0.0) if na else None,
                F.where(cond, 0.0, g) if nb else None)


@register
class Maximum(Op):
    name = "maximum"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp.maximum(a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        # ties split the gradient evenly, as torch does
        ga = F.where(a > b, g, F.where(a == b, g * 0.5, 0.0))
        return ga, g - ga


# ---------------------------------------------------------------- comparisons, logic


def _cmp(op_name, fn):
    cls = type(op_name.title().replace("_", ""), (Op,), {
        "name": op_name, "promote": "same", "differentiable": False,
        "forward": staticmethod(lambda ctx, a, b: fn(a, b)),
        "__doc__": f"Elementwise ``{op_name}`` comparison (bool result, no gradient).",
    })
    return register(cls)


Eq = _cmp("eq", lambda a, b: a == b)
Ne = _cmp("ne", lambda a, b: a != b)
Lt = _cmp("lt", lambda a, b: a < b)
Le = _cmp("le", lambda a, b: a <= b)
Gt = _cmp("gt", lambda a, b: a > b)
Ge = _cmp("ge", lambda a, b: a >= b)


# ---------------------------------------------------------------- min / max / clamp


@register
class Minimum(Op):
    name = "minimum"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp.minimum(a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        # ties split the gradient evenly, as torch does
        ga = F.where(a < b, g, F.where(a == b, g * 0.5, 0.0))
        return ga, g - ga


def _nan_ignoring(name: str, fwd, cmp):
    """fmax/fmin: the gradient goes to ``a`` where it wins (ties too) or ``b`` is NaN."""

    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return fwd(a, b)

    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        to_a = cmp(a, b) | F.isnan(b)
        return (F.where(to_a, g, 0.0) if na else None), (F.where(to_a, 0.0, g) if nb else None)

    cls = type(name.title(), (Op,), {
        "name": name, "promote": "same", "forward": staticmethod(forward),
        "backward": staticmethod(backward),
        "__doc__": f"Elementwise ``{name}`` that ignores NaN where the other input is a number.",
    })
    return register(cls)


Fmax = _nan_ignoring("fmax", xp.fmax, lambda a, b: a >= b)
Fmin = _nan_ignoring("fmin", xp.fmin, lambda a, b: a <= b)


@register
class Clamp(Op):
    """``min(max(x, lo), hi)``; ``lo``/``hi`` are arrays, numbers or None."""

    name = "clamp"
    promote = "same"

    @staticmethod
    def forward(ctx, x, lo=None, hi=None):
        ctx.save_for_backward(x, lo, hi)
        out = x
        if lo is not None:
            out = xp.maximum(out, lo)
        if hi is not None:
            out = xp.minimum(out, hi)
        return out.copy() if out is x else out

    @staticmethod
    def backward(ctx, F, g):
        x, lo, hi = ctx.saved_tensors
        nx, nlo, nhi = (tuple(ctx.needs_input_grad) + (False, False, False))[:3]
        gx = glo = ghi = None
        if lo is not None and hi is not None:
            if nx:
                gx = F.where((x >= lo) & (x <= hi), g, 0.0)
            if nlo:
                glo = F.where((x < lo) & (lo < hi), g, 0.0)
            if nhi:
                ghi = F.where((x > hi) | (hi < lo), g, 0.0)
        elif lo is not None:
            gx = F.where(x >= lo, g, 0.0) if nx else None
            glo = F.where(x < lo, g, 0.0) if nlo else None
        elif hi is not None:
            gx = F.where(x <= hi, g, 0.0) if nx else None
            ghi = F.where(x > hi, g, 0.0) if nhi else None
        else:
            gx = g
        return gx, glo, ghi


@register
class NanToNum(Op):
    name = "nan_to_num"

    @staticmethod
    def forward(ctx, x, nan=0.0, posinf=None, neginf=None):
        ctx.save_for_backward(x)
        if x.dtype.kind != "f":
            return x.copy()
        return xp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where(F.isfinite(x), g, 0.0)


# ---------------------------------------------------------------- logic and bits


def _logical(name: str, fn):
    cls = type(name.title().replace("_", ""), (Op,), {
        "name": name, "differentiable": False,
        "forward": staticmethod(lambda ctx, *xs: fn(*xs)),
        "__doc__": f"Elementwise ``{name}`` of truth values (bool result, no gradient).",
    })
    return register(cls)


LogicalAnd = _logical("logical_and", xp.logical_and)
LogicalOr = _logical("logical_or", xp.logical_or)
LogicalXor = _logical("logical_xor", xp.logical_xor)
LogicalNot = _logical("logical_not", xp.logical_not)


def _bitwise(name: str, fn, arity: int):
    def forward(ctx, *xs):
        for a in xs:
            if type(a) is xp.ndarray and a.dtype.kind == "f":
                raise _not_implemented(f"{name}_cpu", a)
            if isinstance(a, float):
                raise NotImplementedError(f'"{name}_cpu" not implemented for \'Float\'')
        return fn(*xs)

    cls = type(name.title().replace("_", ""), (Op,), {
        "name": name, "promote": "same" if arity == 2 else None, "differentiable": False,
        "forward": staticmethod(forward),
        "__doc__": f"Elementwise ``{name}`` of integer or bool inputs (no gradient).",
    })
    return register(cls)


BitwiseAnd = _bitwise("bitwise_and", xp.bitwise_and, 2)
BitwiseOr = _bitwise("bitwise_or", xp.bitwise_or, 2)
BitwiseXor = _bitwise("bitwise_xor", xp.bitwise_xor, 2)
BitwiseNot = _bitwise("bitwise_not", xp.invert, 1)


# ---------------------------------------------------------------- public functions


def where(condition, input=None, other=None):
    """Pick from ``input`` where ``condition`` holds, else from ``other``.

    Example:
        >>> import ember
        >>> ember.where(ember.tensor([True, False]), ember.tensor([1.0, 2.0]), 0.0)
        tensor([1., 0.])
    """
    if input is None and other is None:
        from .sorting import nonzero
        return nonzero(condition, as_tuple=True)
    cond = condition if isinstance(condition, Tensor) else const_tensor(xp.asarray(condition))
    if cond._data.dtype != xp.bool_:
        cond = cast(cond, dtypes.bool)
    dt = dtypes.result_type(input, other)
    input = cast(input, dt) if isinstance(input, Tensor) else input
    other = cast(other, dt) if isinstance(other, Tensor) else other
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = const_tensor(xp.asarray(input, dt.np))
    out = Where.apply(cond, input, other)
    if out._data.dtype != dt.np:
        out = cast(out, dt)
    return out


def maximum(input, other) -> Tensor:
    """Elementwise maximum (NaN-propagating).

    Example:
        >>> import ember
        >>> ember.maximum(ember.tensor([1.0, 5.0]), ember.tensor([3.0, 2.0]))
        tensor([3., 5.])
    """
    return Maximum.apply(input, other)


def eq(input, other) -> Tensor:
    """Elementwise ``==`` (bool tensor)."""
    return Eq.apply(input, other)


def ne(input, other) -> Tensor:
    """Elementwise ``!=`` (bool tensor)."""
    return Ne.apply(input, other)


def lt(input, other) -> Tensor:
    """Elementwise ``<`` (bool tensor)."""
    return Lt.apply(input, other)


def le(input, other) -> Tensor:
    """Elementwise ``<=`` (bool tensor)."""
    return Le.apply(input, other)


def gt(input, other) -> Tensor:
    """Elementwise ``>`` (bool tensor)."""
    return Gt.apply(input, other)


def ge(input, other) -> Tensor:
    """Elementwise ``>=`` (bool tensor)."""
    return Ge.apply(input, other)


greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _bound(b):
    if b is None or isinstance(b, Tensor):
        return b
    if isinstance(b, (int, float, bool)):
        return b
    return Tensor._make(xp.asarray(b))


def clamp(input: Tensor, min=None, max=None) -> Tensor:  # noqa: A002 - torch's names
    """Clamp into ``[min, max]`` (numbers or tensors, either may be None; if
    ``min > max`` the result is ``max``).

    Example:
        >>> import ember
        >>> ember.clamp(ember.tensor([-2.0, 0.5, 3.0]), min=-1, max=1)
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return Clamp.apply(input, _bound(min), _bound(max))


clip = clamp


def clamp_min(input: Tensor, min) -> Tensor:  # noqa: A002
    """``clamp(input, min=min)``.

    Example:
        >>> import ember
        >>> ember.clamp_min(ember.tensor([-2.0, 3.0]), 0)
        tensor([0., 3.])
    """
    return Clamp.apply(input, _bound(min), None)


def clamp_max(input: Tensor, max) -> Tensor:  # noqa: A002
    """``clamp(input, max=max)``.

    Example:
        >>> import ember
        >>> ember.clamp_max(ember.tensor([-2.0, 3.0]), 0)
        tensor([-2.,  0.])
    """
    return Clamp.apply(input, None, _bound(max))


def minimum(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum (NaN-propagating).

    Example:
        >>> import ember
        >>> ember.minimum(ember.tensor([1.0, 5.0]), ember.tensor([3.0, 2.0]))
        tensor([1., 2.])
    """
    return Minimum.apply(input, other)


def fmax(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise maximum that prefers a number over NaN.

    Example:
        >>> import ember
        >>> ember.fmax(ember.tensor([1.0, float("nan")]), ember.tensor([float("nan"), 2.0]))
        tensor([1., 2.])
    """
    return Fmax.apply(input, other)


def fmin(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise minimum that prefers a number over NaN.

    Example:
        >>> import ember
        >>> ember.fmin(ember.tensor([1.0, float("nan")]), ember.tensor([0.0, 2.0]))
        tensor([0., 2.])
    """
    return Fmin.apply(input, other)


def _truth(x):
    return x if isinstance(x, Tensor) else Tensor._make(xp.asarray(x))


def logical_and(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise AND of truth values (bool result).

    Example:
        >>> import ember
        >>> ember.logical_and(ember.tensor([1, 0, 2]), ember.tensor([True, True, False]))
        tensor([ True, False, False])
    """
    return LogicalAnd.apply(input, _truth(other))


def logical_or(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise OR of truth values (bool result).

    Example:
        >>> import ember
        >>> ember.logical_or(ember.tensor([1, 0]), ember.tensor([0, 0]))
        tensor([ True, False])
    """
    return LogicalOr.apply(input, _truth(other))


def logical_xor(input: Tensor, other: Tensor) -> Tensor:
    """Elementwise XOR of truth values (bool result).

    Example:
        >>> import ember
        >>> ember.logical_xor(ember.tensor([1, 0]), ember.tensor([1, 1]))
        tensor([False,  True])
    """
    return LogicalXor.apply(input, _truth(other))


def logical_not(input: Tensor) -> Tensor:
    """Elementwise NOT of truth values (bool result).

    Example:
        >>> import ember
        >>> ember.logical_not(ember.tensor([0.0, 2.0]))
        tensor([ True, False])
    """
    return LogicalNot.apply(input)


def bitwise_and(input, other) -> Tensor:
    """Elementwise ``&`` of integer or bool tensors.

    Example:
        >>> import ember
        >>> ember.bitwise_and(ember.tensor([12, 10]), 6)
        tensor([4, 2])
    """
    return BitwiseAnd.apply(input, other)


def bitwise_or(input, other) -> Tensor:
    """Elementwise ``|`` of integer or bool tensors.

    Example:
        >>> import ember
        >>> ember.bitwise_or(ember.tensor([12, 10]), 1)
        tensor([13, 11])
    """
    return BitwiseOr.apply(input, other)


def bitwise_xor(input, other) -> Tensor:
    """Elementwise ``^`` of integer or bool tensors.

    Example:
        >>> import ember
        >>> ember.bitwise_xor(ember.tensor([True, False]), ember.tensor([True, True]))
        tensor([False,  True])
    """
    return BitwiseXor.apply(input, other)


def bitwise_not(input: Tensor) -> Tensor:
    """Elementwise ``~`` of an integer or bool tensor.

    Example:
        >>> import ember
        >>> ember.bitwise_not(ember.tensor([0, -1]))
        tensor([-1,  0])
    """
    return BitwiseNot.apply(input)


def nan_to_num(input: Tensor, nan: float = 0.0, posinf: float | None = None,
               neginf: float | None = None) -> Tensor:
    """Replace NaN, +inf and -inf (by default with 0 and the dtype's largest/lowest values).

    Example:
        >>> import ember
        >>> ember.nan_to_num(ember.tensor([float("nan"), float("inf"), 1.0]), posinf=9.0)
        tensor([0., 9., 1.])
    """
    return NanToNum.apply(input, nan=float(nan), posinf=None if posinf is None else float(posinf),
                          neginf=None if neginf is None else float(neginf))


# ---------------------------------------------------------------- in-place variants and operators


# ---------------------------------------------------------------- closeness and equality


@register
class Isclose(Op):
    name = "isclose"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b, rtol, atol, equal_nan):
        out = a == b
        if a.dtype.kind == "f":
            if equal_nan:
                out = out | (xp.isnan(a) & xp.isnan(b))
            if rtol or atol:
                # infinities are close only when equal (``a == b``): an infinite
                # difference would pass the bound when ``other`` is infinite too
                with xp.errstate(invalid="ignore", over="ignore"):
                    d = a - b
                    out = out | (xp.isfinite(d) & (abs(d) <= atol + rtol * abs(b)))
        elif rtol or atol:
            # integers and bools compare in the default float dtype (no unsigned wrap-around)
            ft = dtypes.get_default_dtype().np
            af, bf = a.astype(ft), b.astype(ft)
            out = out | (abs(af - bf) <= atol + rtol * abs(bf))
        return out


def _check_close_args(input, other, rtol, atol, op: str) -> None:
    from .reduction import _dname
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"{op}(): argument 'input' and 'other' must be Tensor, not "
                        f"{type(input).__name__} and {type(other).__name__}")
    if input.dtype != other.dtype:
        raise RuntimeError(f"{_dname(input)} did not match {_dname(other)}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")


def isclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (broadcasting), as bools.

    Infinities are close only to themselves; nans only to nans when ``equal_nan``.
    Both inputs must have the same dtype.

    Example:
        >>> import ember
        >>> ember.isclose(ember.tensor([1.0, 2.0]), ember.tensor([1.0 + 1e-7, 2.1]))
        tensor([ True, False])
    """
    _check_close_args(input, other, rtol, atol, "isclose")
    return Isclose.apply(input, other, rtol=float(rtol), atol=float(atol),
                         equal_nan=bool(equal_nan))


def allclose(input: Tensor, other: Tensor, rtol: float = 1e-05, atol: float = 1e-08,
             equal_nan: bool = False) -> bool:
    """True when every element of ``input`` is close to ``other`` (see ``isclose``).

    Example:
        >>> import ember
        >>> ember.allclose(ember.tensor([1.0, 2.0]), ember.tensor([1.0, 2.0 + 1e-6]))
        True
    """
    _check_close_args(input, other, rtol, atol, "allclose")
    return bool(Isclose.apply(input, other, rtol=float(rtol), atol=float(atol),
                              equal_nan=bool(equal_nan))._data.all())


def equal(input: Tensor, other: Tensor) -> bool:
    """True when both tensors have the same shape and the same values (nan is never equal).

    Example:
        >>> import ember
        >>> ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2]))
        True
        >>> ember.equal(ember.tensor([1, 2]), ember.tensor([1, 2, 3]))
        False
    """
    if not isinstance(input, Tensor) or not isinstance(other, Tensor):
        raise TypeError(f"equal(): argument 'input' and 'other' must be Tensor, not "
                        f"{type(input).__name__} and {type(other).__name__}")
    a, b = input._data, other._data
    if a.shape != b.shape:
        return False
    return bool((a == b).all())


def _clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return apply_inplace(Clamp, self, _bound(min), _bound(max))


def _invert(self: Tensor) -> Tensor:
    if self._data.dtype.kind == "f":
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type "
                        "tensors")
    return BitwiseNot.apply(self)


def _bit_methods(op):
    return (lambda self, other: op.apply(self, other),
            lambda self, other: op.apply(other, self),
            lambda self, other: apply_inplace(op, self, other))


_BIT_METHODS = {f"__{p}{sym}__": m
                for sym, op in (("and", BitwiseAnd), ("or", BitwiseOr), ("xor", BitwiseXor))
                for p, m in zip(("", "r", "i"), _bit_methods(op), strict=True)}


_ops_methods = {}
for _name, _op in (("eq", Eq), ("ne", Ne), ("lt", Lt), ("le", Le), ("gt", Gt), ("ge", Ge)):
    _ops_methods[f"__{_name}__"] = _fast_binary(_op)[0]


_LOGIC_INPLACE = {"logical_not": LogicalNot, "bitwise_not": BitwiseNot,
                  "logical_and": LogicalAnd, "logical_or": LogicalOr, "logical_xor": LogicalXor,
                  "bitwise_and": BitwiseAnd, "bitwise_or": BitwiseOr, "bitwise_xor": BitwiseXor}

install_methods({
    **_ops_methods,
    **_BIT_METHODS,
    "__invert__": _invert,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le, "not_equal": ne,
    "where": lambda self, condition, other: where(condition, self, other),
    "maximum": maximum, "minimum": minimum, "fmax": fmax, "fmin": fmin,
    "clamp": clamp, "clip": clamp, "clamp_min": clamp_min, "clamp_max": clamp_max,
    "logical_and": logical_and, "logical_or": logical_or,
    "logical_xor": logical_xor, "logical_not": logical_not, "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "nan_to_num": nan_to_num, "isclose": isclose, "allclose": allclose, "equal": equal,
    **{f"{n}_": _inplace(op) for n, op in _LOGIC_INPLACE.items()},
    "clamp_": _clamp_, "clip_": _clamp_,
    "clamp_min_": lambda self, min: apply_inplace(Clamp, self, _bound(min), None),
    "clamp_max_": lambda self, max: apply_inplace(Clamp, self, None, _bound(max)),
    "nan_to_num_": lambda self, nan=0.0, posinf=None, neginf=None: apply_inplace(
        NanToNum, self, nan=float(nan), posinf=None if posinf is None else float(posinf),
        neginf=None if neginf is None else float(neginf)),
})
