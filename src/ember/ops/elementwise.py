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

__all__ = ["cast", "add", "sub", "mul", "div", "pow", "where", "exp", "log", "sqrt", "sin", "cos",
           "tanh", "sigmoid", "relu", "abs", "sign", "floor", "trunc", "neg", "negative",
           "absolute", "maximum", "remainder", "fmod", "floor_divide", "eq", "ne", "lt", "le",
           "gt", "ge", "greater", "greater_equal", "less", "less_equal", "not_equal"]


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
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If "
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
        if x.dtype.kind == "b":
            return x.copy()
        out = xp.sign(x)
        if x.dtype.kind == "f":
            out = xp.where(xp.isnan(x), 0, out)  # torch's sign(nan) is 0
        return out

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
    # "float" ops must still promote integer inputs (int / int is a float)
    needs_float = op.promote == "float"
    state = __import__("ember.autograd.grad_mode", fromlist=["_state"])._state
    null = __import__("ember.ops.registry", fromlist=["NULL_CTX"]).NULL_CTX

    def method(self, other):
        if type(other) is Tensor and not state.modes:
            if not ((self._rg or other._rg) and state.grad_enabled):
                a, b = self._data, other._data
                if a.dtype is b.dtype and not (needs_float and a.dtype.kind != "f") \
                        and not state.inference:
                    try:
                        out = fwd(null, a, b)
                    except Exception:
                        return apply(self, other)  # the slow path raises torch's error
                    return Tensor._make(out if type(out) is ndarray else xp.asarray(out))
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


# ================================================================ more elementwise ops

__all__ += ["exp2", "log2", "log10", "log1p", "expm1", "rsqrt", "square", "tan", "asin", "acos",
            "atan", "arcsin", "arccos", "arctan", "atan2", "arctan2", "sinh", "cosh", "logit",
            "erf", "erfc", "erfinv", "clamp", "clip", "clamp_min", "clamp_max", "ceil", "round",
            "frac", "reciprocal", "minimum", "fmax", "fmin", "lerp", "hypot", "xlogy", "copysign",
            "logical_and", "logical_or", "logical_xor", "logical_not", "bitwise_and",
            "bitwise_or", "bitwise_xor", "bitwise_not", "isnan", "isinf", "isfinite", "isposinf",
            "isneginf", "nan_to_num", "sgn", "signbit", "positive", "float_power", "true_divide",
            "addcmul", "addcdiv"]

_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI

_TORCH_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "int8": "Char",
                     "int16": "Short", "int32": "Int", "int64": "Long", "uint8": "Byte",
                     "bool": "Bool"}


def _type_name(arr) -> str:
    """torch's ScalarType name of an array's dtype (as in its 'not implemented for' errors)."""
    return _TORCH_TYPE_NAMES.get(str(arr.dtype), str(arr.dtype))


def _not_implemented(kernel: str, arr) -> NotImplementedError:
    return NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(arr)}\'')


def _require_float(name: str, *arrays) -> None:
    for a in arrays:
        if type(a) is xp.ndarray and a.dtype.kind != "f":
            raise _not_implemented(name, a)


# ---------------------------------------------------------------- erf, erfc, erfinv (float64)


def _erf_erfc(x):
    """``(erf(x), erfc(x))`` for a float64 array, both accurate to ~1e-13 relative.

    |x| < 2: the everywhere-positive series erf(x) = 2/sqrt(pi) exp(-x^2) sum 2^k x^(2k+1) /
    (2k+1)!! (no cancellation); |x| >= 2: erfc from its continued fraction
    erfc(x) = exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated
    backwards at a fixed depth. The other function follows by ``1 - ...`` where that is exact
    enough, and negative arguments by symmetry.
    """
    shape = x.shape
    x = x.reshape(-1)
    a = xp.abs(x)
    erf = xp.empty_like(a)
    erfc = xp.empty_like(a)
    small = a < 2.0
    with xp.errstate(over="ignore", invalid="ignore", divide="ignore"):
        s = a[small]
        if s.size:
            x2 = s * s
            term = s.copy()
            total = s.copy()
            for k in range(1, 40):
                term *= (2.0 / (2 * k + 1)) * x2
                total += term
                # all terms shrink from here on once 2 x^2 < 2k + 1; stop when negligible
                if k % 4 == 0 and not (term > 1e-17 * total).any():
                    break
            e = _TWO_OVER_SQRT_PI * xp.exp(-x2) * total
            erf[small] = e
            erfc[small] = 1.0 - e
        big = ~small
        b = a[big]
        if b.size:
            t = b.copy()
            for k in range(60, 0, -1):
                t = b + (0.5 * k) / t
            c = xp.exp(-b * b) / (_SQRT_PI * t)
            c[b == xp.inf] = 0.0
            erfc[big] = c
            erf[big] = 1.0 - c
    neg = x < 0
    erf = xp.where(neg, -erf, erf)
    erfc = xp.where(neg, 2.0 - erfc, erfc)
    return erf.reshape(shape), erfc.reshape(shape)


def _erfinv(y):
    """Inverse error function of a float64 array: M. Giles' single-precision approximation
    refined by Newton steps (on log erfc in the tails, where 1 - |y| is exact)."""
    a = xp.abs(y)
    with xp.errstate(over="ignore", invalid="ignore", divide="ignore"):
        w = -xp.log((1.0 - a) * (1.0 + a))
        ws = w - 2.5
        p = 2.81022636e-08
        for c in (3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087,
                  -0.00125372503, -0.00417768164, 0.246640727, 1.50140941):
            p = c + p * ws
        wb = xp.sqrt(w) - 3.0
        q = -0.000200214257
        for c in (0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613,
                  0.00943887047, 1.00167406, 2.83297682):
            q = c + q * wb
        x = xp.where(w < 5.0, p, q) * a
        x = xp.where(a < 1.0, x, 0.0)
        tail = a > 0.5
        log_tail = xp.log(xp.where(tail, 1.0 - a, 1.0))
        for _ in range(4):
            e, ec = _erf_erfc(x)
            d = _TWO_OVER_SQRT_PI * xp.exp(-x * x)
            # Newton on erf(x) = a centrally, on log(erfc(x)) = log(1 - a) in the tails
            # (nearly quadratic there, so the steps converge fast even far out)
            step = xp.where(tail, (log_tail - xp.log(ec)) * ec / d, (e - a) / d)
            x = x - step
    x = xp.where(a == 1.0, xp.inf, x)
    x = xp.where(a > 1.0, xp.nan, x)
    return xp.copysign(x, y)


def _in_float64(fn, x):
    out = fn(x.astype(xp.float64, copy=False))
    return out.astype(x.dtype, copy=False) if x.dtype != xp.float64 else out


# ---------------------------------------------------------------- unary float math


def _float_unary(name: str, fwd, grad, *, save: str = "input", doc: str = ""):
    """A float-promoting unary op whose derivative is ``grad(F, x_or_out) * g``."""

    def forward(ctx, x):
        with xp.errstate(divide="ignore", invalid="ignore", over="ignore"):
            out = fwd(x)
        if out.dtype != x.dtype:
            out = out.astype(x.dtype)
        ctx.save_for_backward(x if save == "input" else out)
        return out

    def backward(ctx, F, g):
        (v,) = ctx.saved_tensors
        return g * grad(F, v)

    cls = type(name.title().replace("_", ""), (Op,), {
        "name": name, "promote": "float", "forward": staticmethod(forward),
        "backward": staticmethod(backward), "__doc__": doc or f"Elementwise ``{name}``.",
    })
    return register(cls)


Exp2 = _float_unary("exp2", xp.exp2, lambda F, out: out * _LN2, save="output")
Log2 = _float_unary("log2", xp.log2, lambda F, x: 1 / (x * _LN2))
Log10 = _float_unary("log10", xp.log10, lambda F, x: 1 / (x * _LN10))
Log1p = _float_unary("log1p", xp.log1p, lambda F, x: 1 / (x + 1))
Expm1 = _float_unary("expm1", xp.expm1, lambda F, out: out + 1, save="output")
Rsqrt = _float_unary("rsqrt", lambda x: 1 / xp.sqrt(x), lambda F, out: -0.5 * out * out * out,
                     save="output")
Reciprocal = _float_unary("reciprocal", lambda x: 1 / x, lambda F, out: -(out * out),
                          save="output")
Tan = _float_unary("tan", xp.tan, lambda F, out: 1 + out * out, save="output")
Asin = _float_unary("asin", xp.arcsin, lambda F, x: 1 / F.sqrt(1 - x * x))
Acos = _float_unary("acos", xp.arccos, lambda F, x: -1 / F.sqrt(1 - x * x))
Atan = _float_unary("atan", xp.arctan, lambda F, x: 1 / (1 + x * x))
Sinh = _float_unary("sinh", xp.sinh, lambda F, x: F.cosh(x))
Cosh = _float_unary("cosh", xp.cosh, lambda F, x: F.sinh(x))
Erf = _float_unary("erf", lambda x: _in_float64(lambda v: _erf_erfc(v)[0], x),
                   lambda F, x: _TWO_OVER_SQRT_PI * F.exp(-(x * x)))
Erfc = _float_unary("erfc", lambda x: _in_float64(lambda v: _erf_erfc(v)[1], x),
                    lambda F, x: -_TWO_OVER_SQRT_PI * F.exp(-(x * x)))
Erfinv = _float_unary("erfinv", lambda x: _in_float64(_erfinv, x),
                      lambda F, out: (_SQRT_PI / 2) * F.exp(out * out), save="output")


@register
class Logit(Op):
    """``log(x / (1 - x))``, with ``x`` first clamped to ``[eps, 1 - eps]`` when eps is given."""

    name = "logit"
    promote = "float"

    @staticmethod
    def forward(ctx, x, eps=None):
        ctx.save_for_backward(x)
        ctx.eps = eps
        z = x if eps is None else xp.clip(x, eps, 1.0 - eps)
        with xp.errstate(divide="ignore", invalid="ignore"):
            return xp.log(z / (1 - z)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        gx = g / (x * (1 - x))
        if ctx.eps is None:
            return gx
        return F.where((x < ctx.eps) | (x > 1.0 - ctx.eps), 0.0, gx)


@register
class Atan2(Op):
    name = "atan2"
    promote = "float"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        return xp.arctan2(a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        r = g / (a * a + b * b)
        return (r * b if na else None), (-r * a if nb else None)


@register
class Hypot(Op):
    name = "hypot"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        _require_float("hypot_cpu", a, b)
        out = xp.hypot(a, b)
        ctx.save_for_backward(a, b, out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        a, b, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        r = g / out
        return (r * a if na else None), (r * b if nb else None)


@register
class Xlogy(Op):
    """``x * log(y)``, and 0 where ``x == 0`` (unless ``y`` is NaN)."""

    name = "xlogy"
    promote = "float"

    @staticmethod
    def forward(ctx, a, b):
        ctx.save_for_backward(a, b)
        with xp.errstate(divide="ignore", invalid="ignore"):
            out = xp.where((a == 0) & ~xp.isnan(b), 0.0, a * xp.log(b))
        dt = xp.result_type(a, b)
        return out.astype(dt, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        return (g * F.xlogy(a != 0, b) if na else None), (g * a / b if nb else None)


@register
class Copysign(Op):
    name = "copysign"
    promote = "float"

    @staticmethod
    def forward(ctx, a, b):
        out = xp.copysign(a, b)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        a, out = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        # out / a is the +-1 sign flip; it is locally constant, so no higher-order terms
        ga = g * F.where(a == 0, 0.0, out / F.where(a == 0, 1.0, a)) if na else None
        return ga, (g * 0 if nb else None)


# ---------------------------------------------------------------- rounding and signs


@register
class Ceil(Op):
    name = "ceil"

    @staticmethod
    def forward(ctx, x):
        if x.dtype.kind == "b":
            raise _not_implemented("ceil_vml_cpu", x)
        return xp.ceil(x) if x.dtype.kind == "f" else x.copy()

    @staticmethod
    def backward(ctx, F, g):
        return g * 0


@register
class Round(Op):
    """Round half to even, optionally at ``decimals`` decimal places (like torch.round)."""

    name = "round"

    @staticmethod
    def forward(ctx, x, decimals=0):
        if x.dtype.kind != "f":
            if decimals != 0 or x.dtype.kind == "b":
                raise _not_implemented("round_cpu", x)
            return x.copy()
        if decimals == 0:
            return xp.rint(x)
        if decimals > 0:
            s = x.dtype.type(10.0 ** decimals)
            return xp.rint(x * s) / s
        s = x.dtype.type(10.0 ** -decimals)
        return xp.rint(x / s) * s

    @staticmethod
    def backward(ctx, F, g):
        return g * 0


@register
class Frac(Op):
    name = "frac"

    @staticmethod
    def forward(ctx, x):
        _require_float("frac_cpu", x)
        return x - xp.trunc(x)

    @staticmethod
    def backward(ctx, F, g):
        return g


@register
class Signbit(Op):
    name = "signbit"
    differentiable = False

    @staticmethod
    def forward(ctx, x):
        return xp.signbit(x) if x.dtype.kind == "f" else x < 0


# ---------------------------------------------------------------- min / max / clamp / lerp


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
class Lerp(Op):
    """``start + weight * (end - start)``."""

    name = "lerp"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b, w):
        ctx.save_for_backward(a, b, w)
        return a + w * (b - a)

    @staticmethod
    def backward(ctx, F, g):
        a, b, w = ctx.saved_tensors
        na, nb, nw = ctx.needs_input_grad
        return ((g * (1 - w) if na else None), (g * w if nb else None),
                (g * (b - a) if nw else None))


@register
class Addcmul(Op):
    """``input + value * t1 * t2``."""

    name = "addcmul"
    promote = "same"

    @staticmethod
    def forward(ctx, a, t1, t2, value=1):
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        if a.dtype.kind != "f" and not isinstance(value, bool):
            value = int(value)
        return a + value * (t1 * t2)

    @staticmethod
    def backward(ctx, F, g):
        t1, t2 = ctx.saved_tensors
        _, n1, n2 = ctx.needs_input_grad
        gv = g * ctx.value
        return g, (gv * t2 if n1 else None), (gv * t1 if n2 else None)


@register
class Addcdiv(Op):
    """``input + value * t1 / t2``."""

    name = "addcdiv"
    promote = "same"

    @staticmethod
    def forward(ctx, a, t1, t2, value=1):
        ctx.save_for_backward(t1, t2)
        ctx.value = value
        return a + value * (t1 / t2)

    @staticmethod
    def backward(ctx, F, g):
        t1, t2 = ctx.saved_tensors
        _, n1, n2 = ctx.needs_input_grad
        gv = g * ctx.value / t2
        return g, (gv if n1 else None), (-gv * t1 / t2 if n2 else None)


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


@register
class Copy(Op):
    """``dst.copy_(src)`` out of place: ``src`` broadcast to ``dst``'s shape and dtype."""

    name = "copy"

    @staticmethod
    def forward(ctx, dst, src):
        if type(src) is not xp.ndarray:
            src = xp.asarray(src)
        ctx.src_dtype = src.dtype
        try:
            b = xp.broadcast_to(src, dst.shape)
        except ValueError:
            raise RuntimeError(f"The size of tensor a ({list(dst.shape)}) must match the size of "
                               f"tensor b ({list(src.shape)}): src can't be broadcast to the "
                               f"destination's shape") from None
        return b.astype(dst.dtype, copy=True)

    @staticmethod
    def backward(ctx, F, g):
        nd, ns = ctx.needs_input_grad
        return (g * 0 if nd else None), (g if ns else None)


# ---------------------------------------------------------------- predicates, logic, bits


def _predicate(name: str, fwd, int_value: bool):
    """A non-differentiable bool-valued unary op; integers/bools are always finite."""

    def forward(ctx, x):
        if x.dtype.kind != "f":
            return xp.full(x.shape, int_value, dtype=xp.bool_)
        return fwd(x)

    cls = type(name.title().replace("_", ""), (Op,), {
        "name": name, "differentiable": False, "forward": staticmethod(forward),
        "__doc__": f"Elementwise ``{name}`` test (bool result, no gradient).",
    })
    return register(cls)


Isnan = _predicate("isnan", xp.isnan, False)
Isinf = _predicate("isinf", xp.isinf, False)
Isfinite = _predicate("isfinite", xp.isfinite, True)
Isposinf = _predicate("isposinf", xp.isposinf, False)
Isneginf = _predicate("isneginf", xp.isneginf, False)


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


# ---------------------------------------------------------------- public functions (more)


def _unary_public(op, doc: str, example: str = "ember.tensor([0.5, 1.0])"):
    """The public function of a unary op, with a short docstring example."""

    def fn(input: Tensor) -> Tensor:
        return op.apply(input)
    fn.__name__ = fn.__qualname__ = op.name
    fn.__doc__ = (f"{doc}\n\n    Example:\n        >>> import ember\n"
                  f"        >>> ember.{op.name}({example}).shape\n        ember.Size([2])\n")
    return fn


exp2 = _unary_public(Exp2, "``2 ** input`` elementwise.")
log2 = _unary_public(Log2, "Base-2 logarithm.")
log10 = _unary_public(Log10, "Base-10 logarithm.")
log1p = _unary_public(Log1p, "``log(1 + input)``, accurate for small inputs.")
expm1 = _unary_public(Expm1, "``exp(input) - 1``, accurate for small inputs.")
rsqrt = _unary_public(Rsqrt, "``1 / sqrt(input)``.")
reciprocal = _unary_public(Reciprocal, "``1 / input`` (integers give floats).")
tan = _unary_public(Tan, "Tangent.")
asin = arcsin = _unary_public(Asin, "Inverse sine.")
acos = arccos = _unary_public(Acos, "Inverse cosine.")
atan = arctan = _unary_public(Atan, "Inverse tangent.")
sinh = _unary_public(Sinh, "Hyperbolic sine.")
cosh = _unary_public(Cosh, "Hyperbolic cosine.")
erf = _unary_public(Erf, "The error function.")
erfc = _unary_public(Erfc, "The complementary error function ``1 - erf(input)``, accurate in "
                   "the tails.")
erfinv = _unary_public(Erfinv, "The inverse error function (±inf at ±1, NaN outside [-1, 1]).")
ceil = _unary_public(Ceil, "Round up to an integer value (integer inputs are returned as is).")
frac = _unary_public(Frac, "The fractional part ``input - trunc(input)``.")
signbit = _unary_public(Signbit, "True where the sign bit is set (also for -0.0).")
isnan = _unary_public(Isnan, "True where the input is NaN.")
isinf = _unary_public(Isinf, "True where the input is +inf or -inf.")
isfinite = _unary_public(Isfinite, "True where the input is neither infinite nor NaN.")
isposinf = _unary_public(Isposinf, "True where the input is +inf.")
isneginf = _unary_public(Isneginf, "True where the input is -inf.")
sgn = sign


def square(input: Tensor) -> Tensor:
    """``input * input`` (bool inputs give int64, as in torch).

    Example:
        >>> import ember
        >>> ember.square(ember.tensor([2, -3]))
        tensor([4, 9])
    """
    if input._data.dtype == xp.bool_:
        input = cast(input, dtypes.int64)
    return Pow.apply(input, 2)


def atan2(input: Tensor, other: Tensor) -> Tensor:
    """The angle of the point ``(other, input)``, in ``(-pi, pi]``.

    Example:
        >>> import ember
        >>> ember.atan2(ember.tensor([1.0]), ember.tensor([-1.0]))
        tensor([2.3562])
    """
    return Atan2.apply(input, other)


arctan2 = atan2


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to ``[eps, 1 - eps]``.

    Example:
        >>> import ember
        >>> ember.logit(ember.tensor([0.5, 0.0]), eps=1e-6)
        tensor([  0.0000, -13.8155])
    """
    return Logit.apply(input, eps=None if eps is None else float(eps))


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


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - torch's name
    """Round half to even, at ``decimals`` decimal places.

    Example:
        >>> import ember
        >>> ember.round(ember.tensor([0.5, 1.5, 1.26]), decimals=0)
        tensor([0., 2., 1.])
    """
    return Round.apply(input, decimals=int(decimals))


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


def _check_lerp(input: Tensor, end: Tensor, weight) -> None:
    if input._data.dtype.kind != "f":
        raise _not_implemented("lerp_kernel_scalar", input._data)
    if isinstance(end, Tensor) and end._data.dtype != input._data.dtype:
        names = {"float32": "float", "float64": "double", "float16": "half"}
        raise RuntimeError(f"expected dtype {names.get(input.dtype.name, input.dtype.name)} for "
                           f"`end` but got dtype {names.get(end.dtype.name, end.dtype.name)}")


def lerp(input: Tensor, end: Tensor, weight) -> Tensor:
    """``input + weight * (end - input)`` (``weight`` a number or a tensor).

    Example:
        >>> import ember
        >>> ember.lerp(ember.tensor([0.0, 10.0]), ember.tensor([10.0, 20.0]), 0.5)
        tensor([ 5., 15.])
    """
    _check_lerp(input, end, weight)
    return Lerp.apply(input, end, weight)


def hypot(input: Tensor, other: Tensor) -> Tensor:
    """``sqrt(input**2 + other**2)`` without overflow.

    Example:
        >>> import ember
        >>> ember.hypot(ember.tensor([3.0]), ember.tensor([4.0]))
        tensor([5.])
    """
    return Hypot.apply(input, other)


def xlogy(input, other) -> Tensor:
    """``input * log(other)``, defined as 0 where ``input == 0``.

    Example:
        >>> import ember
        >>> ember.xlogy(ember.tensor([0.0, 2.0]), ember.tensor([0.0, 1.0]))
        tensor([0., 0.])
    """
    return Xlogy.apply(input, other)


def copysign(input, other) -> Tensor:
    """``|input|`` with the sign of ``other`` (floats result).

    Example:
        >>> import ember
        >>> ember.copysign(ember.tensor([1.0, -2.0]), -1.0)
        tensor([-1., -2.])
    """
    return Copysign.apply(input, other)


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


def positive(input: Tensor) -> Tensor:
    """Returns ``input`` itself (bool tensors are refused, as in torch).

    Example:
        >>> import ember
        >>> ember.positive(ember.tensor([-1.0]))
        tensor([-1.])
    """
    if input._data.dtype == xp.bool_:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


def float_power(input, exponent) -> Tensor:
    """``input ** exponent`` computed in float64 (the result is always float64).

    Example:
        >>> import ember
        >>> ember.float_power(ember.tensor([2, 3]), 2)
        tensor([4., 9.], dtype=ember.float64)
    """
    input = cast(input, dtypes.float64) if isinstance(input, Tensor) else float(input)
    exponent = cast(exponent, dtypes.float64) if isinstance(exponent, Tensor) else float(exponent)
    if not isinstance(input, Tensor):
        input = Tensor._make(xp.asarray(input, xp.float64))
    return Pow.apply(input, exponent)


true_divide = div


def addcmul(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 * tensor2``.

    Example:
        >>> import ember
        >>> ember.addcmul(ember.ones(2), ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]),
        ...               value=0.5)
        tensor([2.5000, 5.0000])
    """
    return Addcmul.apply(input, tensor1, tensor2, value=value)


def _check_addcdiv(tensor1, tensor2) -> None:
    def integral(t):
        return isinstance(t, Tensor) and t._data.dtype.kind in "biu"
    if integral(tensor1) and integral(tensor2):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a "
                           "future  release addcdiv will perform a true division of tensor1 and "
                           "tensor2. The historic addcdiv behavior can be implemented as "
                           "(input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float "
                           "inputs. The future addcdiv behavior is just the latter "
                           "implementation: (input + value * tensor1 / tensor2), for all dtypes.")


def addcdiv(input: Tensor, tensor1: Tensor, tensor2: Tensor, *, value=1) -> Tensor:
    """``input + value * tensor1 / tensor2``.

    Example:
        >>> import ember
        >>> ember.addcdiv(ember.ones(2), ember.tensor([1.0, 2.0]), ember.tensor([4.0, 4.0]))
        tensor([1.2500, 1.5000])
    """
    _check_addcdiv(tensor1, tensor2)
    return Addcdiv.apply(input, tensor1, tensor2, value=value)


# ---------------------------------------------------------------- in-place variants


def _copy_(self: Tensor, src, non_blocking: bool = False) -> Tensor:
    """``self.copy_(src)``: broadcast, cast and write ``src`` into ``self``."""
    if not isinstance(src, Tensor):
        src = Tensor._make(xp.asarray(src))
    return apply_inplace(Copy, self, src)


def _clamp_(self: Tensor, min=None, max=None) -> Tensor:  # noqa: A002
    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    return apply_inplace(Clamp, self, _bound(min), _bound(max))


def _lerp_(self: Tensor, end: Tensor, weight) -> Tensor:
    _check_lerp(self, end, weight)
    return apply_inplace(Lerp, self, end, weight)


def _addcdiv_(self: Tensor, tensor1, tensor2, *, value=1) -> Tensor:
    _check_addcdiv(tensor1, tensor2)
    return apply_inplace(Addcdiv, self, tensor1, tensor2, value=value)


def _float_power_(self: Tensor, exponent) -> Tensor:
    if self._data.dtype != xp.float64:
        raise RuntimeError(f"the base given to float_power_ has dtype {_type_name(self._data)} "
                           f"but the operation's result requires dtype Double")
    exponent = cast(exponent, dtypes.float64) if isinstance(exponent, Tensor) else float(exponent)
    return apply_inplace(Pow, self, exponent)


def _square_(self: Tensor) -> Tensor:
    return apply_inplace(Pow, self, 2)


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


_NEW_UNARY = {"exp2": Exp2, "log2": Log2, "log10": Log10, "log1p": Log1p, "expm1": Expm1,
              "rsqrt": Rsqrt, "reciprocal": Reciprocal, "tan": Tan, "asin": Asin,
              "arcsin": Asin, "acos": Acos, "arccos": Acos, "atan": Atan, "arctan": Atan,
              "sinh": Sinh, "cosh": Cosh, "erf": Erf, "erfc": Erfc, "erfinv": Erfinv,
              "ceil": Ceil, "frac": Frac, "sign": Sign, "sgn": Sign,
              "logical_not": LogicalNot, "bitwise_not": BitwiseNot}
_NEW_BINARY = {"atan2": Atan2, "arctan2": Atan2, "hypot": Hypot, "xlogy": Xlogy,
               "copysign": Copysign, "logical_and": LogicalAnd, "logical_or": LogicalOr,
               "logical_xor": LogicalXor, "bitwise_and": BitwiseAnd, "bitwise_or": BitwiseOr,
               "bitwise_xor": BitwiseXor, "true_divide": Div}

install_methods({
    **_BIT_METHODS,
    "__invert__": _invert, "__pos__": positive,
    "exp2": exp2, "log2": log2, "log10": log10, "log1p": log1p, "expm1": expm1, "rsqrt": rsqrt,
    "reciprocal": reciprocal, "square": square, "tan": tan, "asin": asin, "arcsin": asin,
    "acos": acos, "arccos": acos, "atan": atan, "arctan": atan, "atan2": atan2,
    "arctan2": atan2, "sinh": sinh, "cosh": cosh, "logit": logit, "erf": erf, "erfc": erfc,
    "erfinv": erfinv, "clamp": clamp, "clip": clamp, "clamp_min": clamp_min,
    "clamp_max": clamp_max, "ceil": ceil, "round": round, "frac": frac, "minimum": minimum,
    "fmax": fmax, "fmin": fmin, "lerp": lerp, "hypot": hypot, "xlogy": xlogy,
    "copysign": copysign, "logical_and": logical_and, "logical_or": logical_or,
    "logical_xor": logical_xor, "logical_not": logical_not, "bitwise_and": bitwise_and,
    "bitwise_or": bitwise_or, "bitwise_xor": bitwise_xor, "bitwise_not": bitwise_not,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite, "isposinf": isposinf,
    "isneginf": isneginf, "nan_to_num": nan_to_num, "sgn": sgn, "signbit": signbit,
    "positive": positive, "float_power": float_power, "addcmul": addcmul, "addcdiv": addcdiv,
    **{f"{n}_": _inplace(op) for n, op in {**_NEW_UNARY, **_NEW_BINARY}.items()},
    "true_divide_": _inplace(Div), "square_": _square_, "copy_": _copy_,
    "clamp_": _clamp_, "clip_": _clamp_,
    "clamp_min_": lambda self, min: apply_inplace(Clamp, self, _bound(min), None),
    "clamp_max_": lambda self, max: apply_inplace(Clamp, self, None, _bound(max)),
    "logit_": lambda self, eps=None: apply_inplace(
        Logit, self, eps=None if eps is None else float(eps)),
    "round_": lambda self, *, decimals=0: apply_inplace(Round, self, decimals=int(decimals)),
    "nan_to_num_": lambda self, nan=0.0, posinf=None, neginf=None: apply_inplace(
        NanToNum, self, nan=float(nan), posinf=None if posinf is None else float(posinf),
        neginf=None if neginf is None else float(neginf)),
    "lerp_": _lerp_, "float_power_": _float_power_,
    "addcmul_": lambda self, tensor1, tensor2, *, value=1: apply_inplace(
        Addcmul, self, tensor1, tensor2, value=value),
    "addcdiv_": _addcdiv_,
})
