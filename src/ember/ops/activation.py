"""Activation ops: gelu, silu, softplus, mish, the elu family, leaky_relu, hardtanh and the
hard*/soft* shrinkers, threshold, glu and prelu.

Each op's forward is numerically stable for large ``|x|`` (softplus, logsigmoid and mish
never exponentiate a large positive number); backward formulas are written with
``F.<op>`` on the inputs so they are differentiable again. The public functions live in
``ember.nn.functional`` (with their ``inplace=`` variants); this module exposes them too.
"""

from __future__ import annotations

import math

from ..backend import xp
from ..tensor import Tensor
from .registry import Op, install_methods, register
from .unary import _erf_erfc, _erfc_fast

__all__ = ["gelu", "silu", "softplus", "mish", "elu", "selu", "celu", "leaky_relu", "relu6",
           "hardtanh", "hardswish", "hardsigmoid", "softsign", "logsigmoid", "tanhshrink",
           "softshrink", "hardshrink", "threshold", "glu", "prelu"]

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715
#: arrays at least this big use the C kernels of ember.backend.ckernels where they build
_C_MIN = 256
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def _softplus_arr(z):
    """``log(1 + exp(z))`` without overflow."""
    return xp.maximum(z, 0) + xp.log1p(xp.exp(-xp.abs(z)))


def _sigmoid_arr(z):
    e = xp.exp(-xp.abs(z))
    return xp.where(z >= 0, 1 / (1 + e), e / (1 + e))


def _float_check(name: str, x) -> None:
    if x.dtype.kind != "f":
        from ._util import _not_implemented
        raise _not_implemented(name, x)


@register
class Gelu(Op):
    name = "gelu"

    @staticmethod
    def forward(ctx, x, approximate="none"):
        _float_check("GeluKernelImpl", x)
        if approximate not in ("none", "tanh"):
            raise RuntimeError(f"approximate argument must be either none or tanh, but got "
                               f"{approximate!r}")
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        if x.size >= _C_MIN:
            from ..backend import ckernels  # one fused C loop (returns False where unavailable)
            out = xp.empty_like(x)
            if ckernels.gelu(x, out, approximate):
                return out
        if approximate == "tanh":
            inner = _TANH_K * (x + _TANH_C * x * x * x)
            return (0.5 * x * (1 + xp.tanh(inner))).astype(x.dtype, copy=False)
        if x.dtype == xp.float64:
            cdf = 0.5 * _erf_erfc(x * -_INV_SQRT2)[1]  # Phi(x) = erfc(-x/sqrt2)/2, exact tails
        else:
            # GELU multiplies by the CDF, so erfc's last digits in the far tail don't matter
            cdf = _erfc_fast(x * x.dtype.type(-_INV_SQRT2), exact_tail=False)
            cdf *= x.dtype.type(0.5)
        if ctx.recording:
            ctx.cdf = cdf  # first-order backward reuses it; higher orders recompute
        return x * cdf

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        if not ctx._tensor_mode and x.size >= _C_MIN:
            from ..backend import ckernels
            gx = xp.empty_like(x)
            if ckernels.gelu_backward(g, x, gx, ctx.approximate):
                return gx
        if ctx.approximate == "tanh":
            t = F.tanh(_TANH_K * (x + _TANH_C * x * x * x))
            dinner = _TANH_K * (1 + 3 * _TANH_C * x * x)
            return g * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * dinner)
        cdf = getattr(ctx, "cdf", None)
        ctx.cdf = None
        if cdf is None or ctx._tensor_mode:
            cdf = 0.5 * F.erfc(x * -_INV_SQRT2)
        pdf = _INV_SQRT_2PI * F.exp(-0.5 * x * x)
        return g * (cdf + x * pdf)


@register
class Silu(Op):
    name = "silu"

    @staticmethod
    def forward(ctx, x):
        _float_check("silu_cpu", x)
        ctx.save_for_backward(x)
        return (x * _sigmoid_arr(x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        s = F.sigmoid(x)
        return g * (s * (1 + x * (1 - s)))


@register
class Softplus(Op):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``."""

    name = "softplus"

    @staticmethod
    def forward(ctx, x, beta=1.0, threshold=20.0):
        _float_check("softplus_cpu", x)
        ctx.save_for_backward(x)
        ctx.beta, ctx.threshold = beta, threshold
        z = x * beta
        with xp.errstate(over="ignore"):
            out = xp.where(z > threshold, x, _softplus_arr(z) / beta)
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        z = x * ctx.beta
        return F.where(z > ctx.threshold, g, g * F.sigmoid(z))


@register
class Mish(Op):
    """``x * tanh(softplus(x))``."""

    name = "mish"

    @staticmethod
    def forward(ctx, x):
        _float_check("mish_cpu", x)
        ctx.save_for_backward(x)
        return (x * xp.tanh(_softplus_arr(x))).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        t = F.tanh(F.softplus(x, beta=1.0, threshold=20.0))
        return g * (t + x * F.sigmoid(x) * (1 - t * t))


@register
class Elu(Op):
    """``scale * (x if x > 0 else alpha * (exp(x * input_scale) - 1))``: elu, selu and celu."""

    name = "elu"

    @staticmethod
    def forward(ctx, x, alpha=1.0, scale=1.0, input_scale=1.0):
        _float_check("elu_cpu", x)
        ctx.save_for_backward(x)
        ctx.alpha, ctx.scale, ctx.input_scale = alpha, scale, input_scale
        neg = alpha * xp.expm1(xp.minimum(x, 0) * input_scale)
        return (scale * xp.where(x > 0, x, neg)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        k = ctx.alpha * ctx.scale * ctx.input_scale
        return F.where(x > 0, g * ctx.scale, g * (k * F.exp(F.clamp(x, None, 0.0) *
                                                            ctx.input_scale)))


@register
class LeakyRelu(Op):
    name = "leaky_relu"

    @staticmethod
    def forward(ctx, x, negative_slope=0.01):
        _float_check("leaky_relu_cpu", x)
        ctx.save_for_backward(x)
        ctx.slope = negative_slope
        return xp.where(x > 0, x, x * negative_slope).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where(x > 0, g, g * ctx.slope)


@register
class Hardtanh(Op):
    """Clamp to ``[min_val, max_val]``; the gradient is zero at and beyond the bounds."""

    name = "hardtanh"

    @staticmethod
    def forward(ctx, x, min_val=-1.0, max_val=1.0):
        if x.dtype == xp.bool_:
            from ._util import _not_implemented
            raise _not_implemented("hardtanh_cpu", x)
        ctx.save_for_backward(x)
        ctx.lo, ctx.hi = min_val, max_val
        return xp.minimum(xp.maximum(x, min_val), max_val).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where((x > ctx.lo) & (x < ctx.hi), g, 0.0)


@register
class Hardswish(Op):
    """``x * relu6(x + 3) / 6``."""

    name = "hardswish"

    @staticmethod
    def forward(ctx, x):
        _float_check("hardswish_cpu", x)
        ctx.save_for_backward(x)
        return (x * xp.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where(x < -3.0, 0.0, F.where(x <= 3.0, g * (x / 3 + 0.5), g))


@register
class Hardsigmoid(Op):
    """``relu6(x + 3) / 6``."""

    name = "hardsigmoid"

    @staticmethod
    def forward(ctx, x):
        _float_check("hardsigmoid_cpu", x)
        ctx.save_for_backward(x)
        return (xp.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where((x > -3.0) & (x < 3.0), g / 6, 0.0)


@register
class Logsigmoid(Op):
    """``log(sigmoid(x)) = -softplus(-x)``."""

    name = "logsigmoid"

    @staticmethod
    def forward(ctx, x):
        _float_check("log_sigmoid_cpu", x)
        ctx.save_for_backward(x)
        return (-_softplus_arr(-x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return g * F.sigmoid(-x)


@register
class Softshrink(Op):
    name = "softshrink"

    @staticmethod
    def forward(ctx, x, lambd=0.5):
        _float_check("softshrink_cpu", x)
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        out = xp.where(x > lambd, x - lambd, xp.where(x < -lambd, x + lambd, 0))
        return out.astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where((x >= -ctx.lambd) & (x <= ctx.lambd), 0.0, g)


@register
class Hardshrink(Op):
    name = "hardshrink"

    @staticmethod
    def forward(ctx, x, lambd=0.5):
        _float_check("hardshrink_cpu", x)
        ctx.save_for_backward(x)
        ctx.lambd = lambd
        return xp.where((x >= -lambd) & (x <= lambd), 0, x).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where((x >= -ctx.lambd) & (x <= ctx.lambd), 0.0, g)


@register
class Threshold(Op):
    """``x if x > threshold else value``."""

    name = "threshold"

    @staticmethod
    def forward(ctx, x, threshold=0.0, value=0.0):
        ctx.save_for_backward(x)
        ctx.threshold = threshold
        return xp.where(x > threshold, x, value).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        (x,) = ctx.saved_tensors
        return F.where(x > ctx.threshold, g, 0.0)


# ---------------------------------------------------------------- public functions


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """Gaussian error linear unit ``x * Phi(x)`` (``approximate='tanh'``: the tanh formula).

    Example:
        >>> import ember
        >>> ember.nn.functional.gelu(ember.tensor([-1.0, 0.0, 1.0]))
        tensor([-0.1587,  0.0000,  0.8413])
    """
    return Gelu.apply(input, approximate=approximate)


def silu(input: Tensor) -> Tensor:
    """``x * sigmoid(x)`` (swish).

    Example:
        >>> import ember
        >>> ember.nn.functional.silu(ember.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7311])
    """
    return Silu.apply(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """``log(1 + exp(beta * x)) / beta``, and ``x`` where ``beta * x > threshold``.

    Example:
        >>> import ember
        >>> ember.nn.functional.softplus(ember.tensor([0.0, 100.0]))
        tensor([  0.6931, 100.0000])
    """
    return Softplus.apply(input, beta=float(beta), threshold=float(threshold))


def mish(input: Tensor) -> Tensor:
    """``x * tanh(softplus(x))``.

    Example:
        >>> import ember
        >>> ember.nn.functional.mish(ember.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8651])
    """
    return Mish.apply(input)


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Example:
        >>> import ember
        >>> ember.nn.functional.elu(ember.tensor([-1.0, 2.0]))
        tensor([-0.6321,  2.0000])
    """
    return Elu.apply(input, alpha=float(alpha))


def selu(input: Tensor) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants.

    Example:
        >>> import ember
        >>> ember.nn.functional.selu(ember.tensor([-1.0, 1.0]))
        tensor([-1.1113,  1.0507])
    """
    return Elu.apply(input, alpha=SELU_ALPHA, scale=SELU_SCALE)


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Example:
        >>> import ember
        >>> ember.nn.functional.celu(ember.tensor([-1.0, 1.0]), alpha=2.0)
        tensor([-0.7869,  1.0000])
    """
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return Elu.apply(input, alpha=float(alpha), input_scale=1.0 / float(alpha))


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Example:
        >>> import ember
        >>> ember.nn.functional.leaky_relu(ember.tensor([-2.0, 2.0]), 0.1)
        tensor([-0.2000,  2.0000])
    """
    return LeakyRelu.apply(input, negative_slope=float(negative_slope))


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """Clamp to ``[min_val, max_val]``.

    Example:
        >>> import ember
        >>> ember.nn.functional.hardtanh(ember.tensor([-2.0, 0.5, 2.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return Hardtanh.apply(input, min_val=min_val, max_val=max_val)


def relu6(input: Tensor) -> Tensor:
    """``min(max(0, x), 6)``.

    Example:
        >>> import ember
        >>> ember.nn.functional.relu6(ember.tensor([-1.0, 3.0, 9.0]))
        tensor([0., 3., 6.])
    """
    return Hardtanh.apply(input, min_val=0.0, max_val=6.0)


def hardswish(input: Tensor) -> Tensor:
    """``x * relu6(x + 3) / 6``.

    Example:
        >>> import ember
        >>> ember.nn.functional.hardswish(ember.tensor([-1.0, 1.0, 4.0]))
        tensor([-0.3333,  0.6667,  4.0000])
    """
    return Hardswish.apply(input)


def hardsigmoid(input: Tensor) -> Tensor:
    """``relu6(x + 3) / 6``.

    Example:
        >>> import ember
        >>> ember.nn.functional.hardsigmoid(ember.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return Hardsigmoid.apply(input)


def softsign(input: Tensor) -> Tensor:
    """``x / (1 + |x|)``.

    Example:
        >>> import ember
        >>> ember.nn.functional.softsign(ember.tensor([-3.0, 1.0]))
        tensor([-0.7500,  0.5000])
    """
    return input / (input.abs() + 1)


def logsigmoid(input: Tensor) -> Tensor:
    """``log(sigmoid(x))``, stable for large ``|x|``.

    Example:
        >>> import ember
        >>> ember.nn.functional.logsigmoid(ember.tensor([0.0, -100.0]))
        tensor([  -0.6931, -100.0000])
    """
    return Logsigmoid.apply(input)


def tanhshrink(input: Tensor) -> Tensor:
    """``x - tanh(x)``.

    Example:
        >>> import ember
        >>> ember.nn.functional.tanhshrink(ember.tensor([0.0, 1.0]))
        tensor([0.0000, 0.2384])
    """
    return input - input.tanh()


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """Shrink towards 0 by ``lambd`` (0 inside ``[-lambd, lambd]``).

    Example:
        >>> import ember
        >>> ember.nn.functional.softshrink(ember.tensor([-1.0, 0.2, 1.0]))
        tensor([-0.5000,  0.0000,  0.5000])
    """
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return Softshrink.apply(input, lambd=float(lambd))


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """0 inside ``[-lambd, lambd]``, ``x`` outside.

    Example:
        >>> import ember
        >>> ember.nn.functional.hardshrink(ember.tensor([-1.0, 0.2, 1.0]))
        tensor([-1.,  0.,  1.])
    """
    return Hardshrink.apply(input, lambd=float(lambd))


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``.

    Example:
        >>> import ember
        >>> ember.nn.functional.threshold(ember.tensor([0.5, 2.0]), 1.0, -1.0)
        tensor([-1.,  2.])
    """
    return Threshold.apply(input, threshold=threshold, value=value)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: ``a * sigmoid(b)`` for the halves ``a, b`` of ``input`` along
    ``dim``.

    Example:
        >>> import ember
        >>> ember.nn.functional.glu(ember.tensor([1.0, 2.0, 0.0, 100.0]))
        tensor([0.5000, 2.0000])
    """
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    n = input.shape[dim]
    if n % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension "
                           f"{dim % input.dim()} is size {n}")
    a, b = input.chunk(2, dim)
    return a * b.sigmoid()


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """``x`` for ``x > 0``, else ``weight * x``; ``weight`` has one entry or one per channel
    (dim 1).

    Example:
        >>> import ember
        >>> ember.nn.functional.prelu(ember.tensor([-2.0, 2.0]), ember.tensor([0.25]))
        tensor([-0.5000,  2.0000])
    """
    n = weight.numel()
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: "
                           f"ndim = {weight.dim()}")
    if n != 1:
        channels = input.shape[1] if input.dim() >= 2 else 1
        if n != channels:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found "
                               f"parameter numbers = {n} and channel size = {channels}.")
        if input.dim() >= 2:
            weight = weight.reshape((n,) + (1,) * (input.dim() - 2))
    from .compare import where
    return where(input > 0, input, weight * input)


install_methods({"hardshrink": hardshrink, "prelu": prelu})
