"""Elementwise ops: arithmetic, unary math, activations, comparisons and logic.

Each op's forward computes on backend arrays; its backward is written with
operators and ``F.<op>`` only, so it runs on arrays and on Tensors alike.
Gradients of broadcast inputs are reduced by the engine.
"""

from __future__ import annotations

import math

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from .registry import Op, apply_inplace, install_methods, register

# ---------------------------------------------------------------- dtype cast

__all__ = ["cast", "add", "sub", "mul", "div", "pow", "where", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "sign", "floor", "trunc", "neg", "negative", "absolute", "maximum", "remainder", "fmod", "floor_divide", "eq", "ne", "lt", "le", "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal"]



@register
class Cast(Op):
    name = "cast"

    @staticmethod
    def forward(ctx, x, dtype):
        ctx.src = dtypes.from_np(x.dtype)
        return x.astype(dtype.np)

    @staticmethod
    def backward(ctx, F, g):
        return F.cast(g, dtype=ctx.src)


def cast(x: Tensor, dtype) -> Tensor:
    dtype = dtypes.to_dtype(dtype)
    if x._data.dtype == dtype.np:
        return x
    return Cast.apply(x, dtype=dtype)


# ---------------------------------------------------------------- arithmetic


@register
class Add(Op):
    name = "add"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, F, g):
        return g, g


@register
class Sub(Op):
    name = "sub"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        return a - b

    @staticmethod
    def backward(ctx, F, g):
        return g, -g


@register
class Mul(Op):
    name = "mul"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a * b

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * b if na else None), (g * a if nb else None)


@register
class Div(Op):
    name = "div"
    promote = "float"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return a / b

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g / b if na else None), (-g * a / (b * b) if nb else None)


@register
class Neg(Op):
    name = "neg"

    @staticmethod
    def forward(ctx, x):
        if x.dtype == xp.bool_:
            raise TypeError("Negation, the `-` operator, on a bool tensor is not supported. If "
                            "you are trying to invert a mask, use the `~` or `logical_not()` "
                            "operator instead.")
        return -x

    @staticmethod
    def backward(ctx, F, g):
        return -g


@register
class Pow(Op):
    name = "pow"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        if type(a) is xp.ndarray and a.dtype.kind in "iu" and type(b) is xp.ndarray \
                and b.dtype.kind in "iu" and (b < 0).any():
            raise RuntimeError("Integers to negative integer powers are not allowed.")
        out = a ** b
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        ga = gb = None
        if na:
            ga = g * b * a ** (b - 1) if not isinstance(b, (int, float)) or b != 0 else g * 0
        if nb:
            ga_safe = F.where(a == 0, 1.0, a) if not isinstance(a, (int, float)) else a
            gb = g * out * (F.log(ga_safe) if not isinstance(a, (int, float)) else math.log(a))
        return ga, gb


@register
class FloorDivide(Op):
    name = "floor_divide"
    promote = "same"
    differentiable = False

    @staticmethod
    def forward(ctx, a, b):
        return a // b


@register
class Remainder(Op):
    """Python-style modulo (result has the sign of the divisor), like torch.remainder."""

    name = "remainder"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp.mod(a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        return g, (-g * F.floor(a / b) if ctx.needs_input_grad[1] else None)


@register
class Fmod(Op):
    """C-style modulo (result has the sign of the dividend), like torch.fmod."""

    name = "fmod"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp.fmod(a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        return g, (-g * F.trunc(a / b) if ctx.needs_input_grad[1] else None)


# ---------------------------------------------------------------- unary math


@register
class Exp(Op):
    name = "exp"
    promote = "float"

    @staticmethod
    def forward(ctx, x):
        out = xp.exp(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        return g * out


@register
class Log(Op):
    name = "log"
    promote = "float"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log(x)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return g / x


@register
class Sqrt(Op):
    name = "sqrt"
    promote = "float"

    @staticmethod
    def forward(ctx, x):
        with xp.errstate(invalid="ignore"):
            out = xp.sqrt(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        return g / (2 * out)


@register
class Sin(Op):
    name = "sin"
    promote = "float"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.sin(x)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return g * F.cos(x)


@register
class Cos(Op):
    name = "cos"
    promote = "float"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.cos(x)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return -g * F.sin(x)


@register
class Tanh(Op):
    name = "tanh"
    promote = "float"

    @staticmethod
    def forward(ctx, x):
        out = xp.tanh(x)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        return g * (1 - out * out)


@register
class Sigmoid(Op):
    name = "sigmoid"
    promote = "float"

    @staticmethod
    def forward(ctx, x):
        # split by sign so neither branch overflows
        e = xp.exp(-xp.abs(x))
        out = xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        return g * out * (1 - out)


@register
class Relu(Op):
    name = "relu"

    @staticmethod
    def forward(ctx, x):
        out = xp.maximum(x, 0)
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        return g * (out > 0)


@register
class Abs(Op):
    name = "abs"

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return xp.abs(x)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return g * F.sign(x)


@register
class Sign(Op):
    name = "sign"

    @staticmethod
    def forward(ctx, x):
        return xp.sign(x)

    @staticmethod
    def backward(ctx, F, g):
        return g * 0


@register
class Floor(Op):
    name = "floor"

    @staticmethod
    def forward(ctx, x):
        return xp.floor(x) if x.dtype.kind == "f" else x.copy()

    @staticmethod
    def backward(ctx, F, g):
        return g * 0


@register
class Trunc(Op):
    name = "trunc"

    @staticmethod
    def forward(ctx, x):
        return xp.trunc(x) if x.dtype.kind == "f" else x.copy()

    @staticmethod
    def backward(ctx, F, g):
        return g * 0


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


# ---------------------------------------------------------------- public functions


def add(input, other, *, alpha=1) -> Tensor:
    """``input + alpha * other`` with broadcasting and torch's type promotion.

    Example:
        >>> import ember
        >>> ember.add(ember.tensor([1, 2]), ember.tensor([10, 20]), alpha=2)
        tensor([21, 42])
    """
    if alpha != 1:
        other = mul(other, alpha)
    return Add.apply(input, other)


def sub(input, other, *, alpha=1) -> Tensor:
    """``input - alpha * other``.

    Example:
        >>> import ember
        >>> ember.sub(ember.tensor([5.0]), 2)
        tensor([3.])
    """
    if alpha != 1:
        other = mul(other, alpha)
    return Sub.apply(input, other)


def mul(input, other) -> Tensor:
    """Elementwise product.

    Example:
        >>> import ember
        >>> ember.mul(ember.tensor([1.0, 2.0]), 3)
        tensor([3., 6.])
    """
    return Mul.apply(input, other)


def div(input, other, *, rounding_mode: str | None = None) -> Tensor:
    """True division (integers give floats), or ``'trunc'``/``'floor'`` rounding.

    Example:
        >>> import ember
        >>> ember.div(ember.tensor([7, -7]), 2, rounding_mode="floor")
        tensor([ 3, -4])
    """
    if rounding_mode is None:
        return Div.apply(input, other)
    if rounding_mode == "floor":
        return FloorDivide.apply(input, other)
    if rounding_mode == "trunc":
        r = Div.apply(input, other)
        r = Trunc.apply(r)
        return cast(r, dtypes.result_type(input, other))
    raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but "
                       f"found '{rounding_mode}'")


def pow(input, exponent) -> Tensor:  # noqa: A001 - torch's name
    """``input ** exponent`` elementwise.

    Example:
        >>> import ember
        >>> ember.pow(ember.tensor([2.0, 3.0]), 2)
        tensor([4., 9.])
    """
    return Pow.apply(input, exponent)


def where(condition, input=None, other=None):
    """Pick from ``input`` where ``condition`` holds, else from ``other``.

    Example:
        >>> import ember
        >>> ember.where(ember.tensor([True, False]), ember.tensor([1.0, 2.0]), 0.0)
        tensor([1., 0.])
    """
    if input is None and other is None:
        from .indexing import nonzero
        return nonzero(condition, as_tuple=True)
    cond = condition if isinstance(condition, Tensor) else Tensor._make(xp.asarray(condition))
    if cond._data.dtype != xp.bool_:
        cond = cast(cond, dtypes.bool)
    dt = dtypes.result_type(input, other)
    input = cast(input, dt) if isinstance(input, Tensor) else input
    other = cast(other, dt) if isinstance(other, Tensor) else other
    if not isinstance(input, Tensor) and not isinstance(other, Tensor):
        input = Tensor._make(xp.asarray(input, dt.np))
    out = Where.apply(cond, input, other)
    if out._data.dtype != dt.np:
        out = cast(out, dt)
    return out


def _unary(op):
    def fn(input: Tensor) -> Tensor:
        return op.apply(input)
    fn.__name__ = op.name
    fn.__doc__ = (f"Elementwise ``{op.name}``.\n\n    Example:\n        >>> import ember\n"
                  f"        >>> ember.{op.name}(ember.zeros(2)).shape\n        ember.Size([2])\n")
    return fn


exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, sign, floor, trunc, neg = (  # noqa: A001
    _unary(o) for o in (Exp, Log, Sqrt, Sin, Cos, Tanh, Sigmoid, Relu, Abs, Sign, Floor,
                        Trunc, Neg))
negative, absolute = neg, abs


def maximum(input, other) -> Tensor:
    """Elementwise maximum (NaN-propagating).

    Example:
        >>> import ember
        >>> ember.maximum(ember.tensor([1.0, 5.0]), ember.tensor([3.0, 2.0]))
        tensor([3., 5.])
    """
    return Maximum.apply(input, other)


def remainder(input, other) -> Tensor:
    """Python-style modulus: the result has the sign of ``other``.

    Example:
        >>> import ember
        >>> ember.remainder(ember.tensor([-3, 3]), 2)
        tensor([1, 1])
    """
    return Remainder.apply(input, other)


def fmod(input, other) -> Tensor:
    """C-style modulus: the result has the sign of ``input``.

    Example:
        >>> import ember
        >>> ember.fmod(ember.tensor([-3, 3]), 2)
        tensor([-1,  1])
    """
    return Fmod.apply(input, other)


def floor_divide(input, other) -> Tensor:
    """``floor(input / other)``.

    Example:
        >>> import ember
        >>> ember.floor_divide(ember.tensor([7, -7]), 2)
        tensor([ 3, -4])
    """
    return FloorDivide.apply(input, other)


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


# ---------------------------------------------------------------- Tensor operators

def _fast_binary(op):
    """Operator method: skip dispatch bookkeeping when nothing is recorded or traced."""
    fwd = op.forward
    apply = op.apply
    ndarray = xp.ndarray
    state = __import__("ember.autograd.grad_mode", fromlist=["_state"])._state
    null = __import__("ember.ops.registry", fromlist=["NULL_CTX"]).NULL_CTX

    def method(self, other):
        if type(other) is Tensor and not state.modes:
            if not ((self._rg or other._rg) and state.grad_enabled):
                a, b = self._data, other._data
                if a.dtype is b.dtype:
                    out = fwd(null, a, b)
                    t = Tensor._make(out if type(out) is ndarray else xp.asarray(out))
                    return t
        elif isinstance(other, (Tensor, int, float, bool, ndarray)) or hasattr(other, "dtype"):
            pass
        else:
            return NotImplemented
        return apply(self, other)

    def rmethod(self, other):
        if not isinstance(other, (int, float, bool, ndarray)) and not hasattr(other, "dtype"):
            return NotImplemented
        return apply(other, self)
    return method, rmethod


_ops_methods = {}
for _name, _op in (("add", Add), ("sub", Sub), ("mul", Mul), ("truediv", Div),
                   ("floordiv", FloorDivide), ("mod", Remainder), ("pow", Pow)):
    _m, _rm = _fast_binary(_op)
    _ops_methods[f"__{_name}__"] = _m
    _ops_methods[f"__r{_name}__"] = _rm
    _ops_methods[f"__i{_name}__"] = (lambda op: lambda self, other: apply_inplace(op, self, other))(
        _op)
for _name, _op in (("eq", Eq), ("ne", Ne), ("lt", Lt), ("le", Le), ("gt", Gt), ("ge", Ge)):
    _ops_methods[f"__{_name}__"] = _fast_binary(_op)[0]


def _inplace(op, **params):
    def method(self, other=None):
        return apply_inplace(op, self, other, **params) if other is not None else \
            apply_inplace(op, self, **params)
    return method


install_methods({
    **_ops_methods,
    "__neg__": neg, "__abs__": abs, "__pos__": lambda self: self,
    "add": add, "sub": sub, "mul": mul, "div": div, "pow": pow, "neg": neg, "negative": neg,
    "subtract": sub, "multiply": mul, "divide": div, "true_divide": div,
    "exp": exp, "log": log, "sqrt": sqrt, "sin": sin, "cos": cos, "tanh": tanh,
    "sigmoid": sigmoid, "relu": relu, "abs": abs, "absolute": abs, "sign": sign,
    "floor": floor, "trunc": trunc, "fix": trunc,
    "maximum": maximum, "remainder": remainder, "fmod": fmod, "floor_divide": floor_divide,
    "eq": eq, "ne": ne, "lt": lt, "le": le, "gt": gt, "ge": ge,
    "greater": gt, "greater_equal": ge, "less": lt, "less_equal": le, "not_equal": ne,
    "where": lambda self, condition, other: where(condition, self, other),
    "add_": lambda self, other, *, alpha=1: apply_inplace(
        Add, self, other if alpha == 1 else mul(other, alpha)),
    "sub_": lambda self, other, *, alpha=1: apply_inplace(
        Sub, self, other if alpha == 1 else mul(other, alpha)),
    "mul_": _inplace(Mul), "div_": _inplace(Div), "pow_": _inplace(Pow),
    "neg_": _inplace(Neg), "exp_": _inplace(Exp), "log_": _inplace(Log),
    "sqrt_": _inplace(Sqrt), "sigmoid_": _inplace(Sigmoid), "tanh_": _inplace(Tanh),
    "relu_": _inplace(Relu), "abs_": _inplace(Abs), "floor_": _inplace(Floor),
    "trunc_": _inplace(Trunc), "sin_": _inplace(Sin), "cos_": _inplace(Cos),
})
