"""Unary math ops: neg/abs/sign, exp/log and friends, sqrt/rsqrt, trigonometric and
hyperbolic functions, the erf family, logit, rounding (floor/ceil/trunc/round/frac),
the isnan family of predicates, and the activations tanh/sigmoid/relu.

Each op's forward computes on backend arrays; its backward is written with
operators and ``F.<op>`` only, so it runs on arrays and on Tensors alike.
"""

from __future__ import annotations

import math

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from ._util import _not_implemented, _require_float
from .arith import Pow, Trunc, _inplace, cast
from .registry import Op, apply_inplace, dispatch, install_methods, register

__all__ = ["exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "sign", "floor",
           "trunc", "neg", "negative", "absolute", "exp2", "log2", "log10", "log1p", "expm1",
           "rsqrt", "square", "tan", "asin", "acos", "atan", "arcsin", "arccos", "arctan", "sinh",
           "cosh", "logit", "erf", "erfc", "erfinv", "ceil", "round", "frac", "reciprocal", "isnan",
           "isinf", "isfinite", "isposinf", "isneginf", "sgn", "signbit", "positive"]


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


_LN2 = math.log(2.0)
_LN10 = math.log(10.0)
_SQRT_PI = math.sqrt(math.pi)
_TWO_OVER_SQRT_PI = 2.0 / _SQRT_PI


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


# Numerical Recipes' erfcc: erfc(|x|) = t exp(-x^2 + P(t)), t = 1 / (1 + |x|/2), with
# relative error below 1.2e-7 everywhere, which is float32 precision at a third of the
# passes of the float64 series above.
_NR_ERFC = (-1.26551223, 1.00002368, 0.37409196, 0.09678418, -0.18628806, 0.27886807,
            -1.13520398, 1.48851587, -0.82215223, 0.17087277)
# erf's Maclaurin series to x^13: relative error < 1e-9 for |x| < 0.5
_ERF_SERIES = (1.0, -1.0 / 3, 1.0 / 10, -1.0 / 42, 1.0 / 216, -1.0 / 1320, 1.0 / 9360)


def _erfc_abs_fast(a, exact_tail: bool = True):
    """erfc(a) for a 1-D a >= 0 in a's own (float32/float16) dtype, computed in place.

    Without ``exact_tail`` the rounding of a^2 costs up to ~1e-5 relative error far in
    the tail (erfc < 1e-10), which a caller that multiplies by erfc can accept."""
    dt = a.dtype.type
    if exact_tail:
        a = xp.minimum(a, dt(12))  # erfc(12) underflows to 0 anyway; keeps inf out of hi - a
    t = a * dt(0.5)
    t += dt(1)
    xp.reciprocal(t, out=t)
    p = xp.full_like(t, dt(_NR_ERFC[-1]))
    for c in _NR_ERFC[-2::-1]:
        p *= t
        p += dt(c)
    with xp.errstate(under="ignore", over="ignore"):
        if exact_tail and a.dtype == xp.float32:
            # exp(-a^2) with a rounded a^2 is off by ~1e-5 relative at a = 6: split
            # a = hi + lo with hi's low 12 mantissa bits cleared, so hi^2 is exact
            hi = (a.view(xp.int32) & -4096).view(xp.float32)
            p += (hi - a) * (hi + a)
            big = hi * hi
            xp.negative(big, out=big)
            xp.exp(big, out=big)
            xp.exp(p, out=p)
            p *= big
        else:
            p -= a * a
            xp.exp(p, out=p)
    p *= t
    return p


_CHUNK = 8192  # elements per block: the ~35 passes then run in cache, ~1.7x faster


def _erfc_fast(x, exact_tail: bool = True):
    """erfc(x) for a float32/float16 array in its own dtype (relative error ~2e-7)."""
    shape = x.shape
    x = x.reshape(-1)
    out = xp.empty_like(x)
    for i in range(0, x.size, _CHUNK):
        xc = x[i:i + _CHUNK]
        ec = _erfc_abs_fast(xp.abs(xc), exact_tail)
        xp.subtract(x.dtype.type(2), ec, out=ec, where=xc < 0)
        out[i:i + _CHUNK] = ec
    return out.reshape(shape)


def _erf_erfc_fast(x):
    """``(erf(x), erfc(x))`` for a float32/float16 array in its own dtype: erfc from
    ``_erfc_abs_fast``, erf from the series near 0 (where ``1 - erfc`` would cancel)."""
    shape = x.shape
    x = x.reshape(-1)
    dt = x.dtype.type
    a = xp.abs(x)
    ec = _erfc_abs_fast(a)
    x2 = x * x
    s = xp.full_like(x2, dt(_ERF_SERIES[-1]))
    for c in _ERF_SERIES[-2::-1]:
        s *= x2
        s += dt(c)
    s *= x
    s *= dt(_TWO_OVER_SQRT_PI)
    small = a < dt(0.5)
    erf = xp.subtract(dt(1), ec, out=x2)
    xp.copysign(erf, x, out=erf)
    xp.copyto(erf, s, where=small)
    xp.subtract(dt(2), ec, out=ec, where=x < 0)
    xp.subtract(dt(1), s, out=ec, where=small)
    return erf.reshape(shape), ec.reshape(shape)


def _erf_pair(x):
    """``(erf, erfc)`` in x's dtype: float64 exact to ~1e-13, smaller floats to ~1e-7."""
    if x.dtype == xp.float64:
        return _erf_erfc(x)
    return _erf_erfc_fast(x)


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
Erf = _float_unary("erf", lambda x: _erf_pair(x)[0],
                   lambda F, x: _TWO_OVER_SQRT_PI * F.exp(-(x * x)))
Erfc = _float_unary("erfc", lambda x: _erf_pair(x)[1],
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


# ---------------------------------------------------------------- predicates


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


# ---------------------------------------------------------------- public functions


def _unary(op):
    no_params: dict = {}

    def fn(input: Tensor) -> Tensor:
        return dispatch(op, (input,), no_params)
    fn.__name__ = op.name
    fn.__doc__ = (f"Elementwise ``{op.name}``.\n\n    Example:\n        >>> import ember\n"
                  f"        >>> ember.{op.name}(ember.zeros(2)).shape\n        ember.Size([2])\n")
    return fn


exp, log, sqrt, sin, cos, tanh, sigmoid, relu, abs, sign, floor, trunc, neg = (  # noqa: A001
    _unary(o) for o in (Exp, Log, Sqrt, Sin, Cos, Tanh, Sigmoid, Relu, Abs, Sign, Floor,
                        Trunc, Neg))
negative, absolute = neg, abs


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


def logit(input: Tensor, eps: float | None = None) -> Tensor:
    """``log(p / (1 - p))``; with ``eps``, ``p`` is first clamped to ``[eps, 1 - eps]``.

    Example:
        >>> import ember
        >>> ember.logit(ember.tensor([0.5, 0.0]), eps=1e-6)
        tensor([  0.0000, -13.8155])
    """
    return Logit.apply(input, eps=None if eps is None else float(eps))


def round(input: Tensor, *, decimals: int = 0) -> Tensor:  # noqa: A001 - torch's name
    """Round half to even, at ``decimals`` decimal places.

    Example:
        >>> import ember
        >>> ember.round(ember.tensor([0.5, 1.5, 1.26]), decimals=0)
        tensor([0., 2., 1.])
    """
    return Round.apply(input, decimals=int(decimals))


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


def _square_(self: Tensor) -> Tensor:
    return apply_inplace(Pow, self, 2)


_UNARY_INPLACE = {"exp2": Exp2, "log2": Log2, "log10": Log10, "log1p": Log1p, "expm1": Expm1,
                  "rsqrt": Rsqrt, "reciprocal": Reciprocal, "tan": Tan, "asin": Asin,
                  "arcsin": Asin, "acos": Acos, "arccos": Acos, "atan": Atan, "arctan": Atan,
                  "sinh": Sinh, "cosh": Cosh, "erf": Erf, "erfc": Erfc, "erfinv": Erfinv,
                  "ceil": Ceil, "frac": Frac, "sign": Sign, "sgn": Sign}

install_methods({
    "__neg__": neg, "__abs__": abs, "__pos__": positive,
    "neg": neg, "negative": neg,
    "exp": exp, "log": log, "sqrt": sqrt, "sin": sin, "cos": cos, "tanh": tanh,
    "sigmoid": sigmoid, "relu": relu, "abs": abs, "absolute": abs, "sign": sign,
    "floor": floor, "trunc": trunc, "fix": trunc,
    "neg_": _inplace(Neg), "exp_": _inplace(Exp), "log_": _inplace(Log),
    "sqrt_": _inplace(Sqrt), "sigmoid_": _inplace(Sigmoid), "tanh_": _inplace(Tanh),
    "relu_": _inplace(Relu), "abs_": _inplace(Abs), "floor_": _inplace(Floor),
    "trunc_": _inplace(Trunc), "sin_": _inplace(Sin), "cos_": _inplace(Cos),
    "exp2": exp2, "log2": log2, "log10": log10, "log1p": log1p, "expm1": expm1, "rsqrt": rsqrt,
    "reciprocal": reciprocal, "square": square, "tan": tan, "asin": asin, "arcsin": asin,
    "acos": acos, "arccos": acos, "atan": atan, "arctan": atan, "sinh": sinh, "cosh": cosh,
    "logit": logit, "erf": erf, "erfc": erfc, "erfinv": erfinv, "ceil": ceil, "round": round,
    "frac": frac, "sgn": sgn, "signbit": signbit, "positive": positive,
    "isnan": isnan, "isinf": isinf, "isfinite": isfinite, "isposinf": isposinf,
    "isneginf": isneginf,
    **{f"{n}_": _inplace(op) for n, op in _UNARY_INPLACE.items()},
    "square_": _square_,
    "logit_": lambda self, eps=None: apply_inplace(
        Logit, self, eps=None if eps is None else float(eps)),
    "round_": lambda self, *, decimals=0: apply_inplace(Round, self, decimals=int(decimals)),
})
