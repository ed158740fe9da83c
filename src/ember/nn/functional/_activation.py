"""Activation functions of ``ember.nn.functional`` (torch.nn.functional's signatures).

Functions with ``inplace=True`` write the result into ``input`` (through
:func:`ember.ops.registry.apply_inplace`, so autograd sees the in-place op), as the
``*_`` variants do.
"""

from __future__ import annotations

from ...ops import activation as _A
from ...ops import unary as _unary
from ...ops.activation import (
    gelu,
    glu,
    hardshrink,
    logsigmoid,
    prelu,
    softplus,
    softshrink,
    softsign,
    tanhshrink,
)
from ...ops.registry import apply_inplace
from ...tensor import Tensor

__all__ = ["relu", "relu_", "relu6", "elu", "elu_", "selu", "selu_", "celu", "celu_",
           "leaky_relu", "leaky_relu_", "hardtanh", "hardtanh_", "threshold", "threshold_",
           "gelu", "silu", "mish", "softplus", "hardswish", "hardsigmoid", "softsign",
           "logsigmoid", "tanhshrink", "softshrink", "hardshrink", "glu", "prelu", "sigmoid",
           "tanh"]


def _run(op, input: Tensor, inplace: bool, **params) -> Tensor:
    if inplace:
        return apply_inplace(op, input, **params)
    return op.apply(input, **params)


def relu(input: Tensor, inplace: bool = False) -> Tensor:
    """``max(x, 0)``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.relu(ember.tensor([-1.0, 2.0]))
        tensor([0., 2.])
    """
    return _run(_unary.Relu, input, inplace)


def relu_(input: Tensor) -> Tensor:
    """In-place :func:`relu`.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> x = ember.tensor([-1.0, 2.0])
        >>> F.relu_(x) is x
        True
    """
    return apply_inplace(_unary.Relu, input)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    """``min(max(0, x), 6)``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.relu6(ember.tensor([-1.0, 3.0, 9.0]))
        tensor([0., 3., 6.])
    """
    return _run(_A.Hardtanh, input, inplace, min_val=0.0, max_val=6.0)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``x`` for ``x > 0``, else ``alpha * (exp(x) - 1)``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.elu(ember.tensor([-1.0, 2.0]))
        tensor([-0.6321,  2.0000])
    """
    return _run(_A.Elu, input, inplace, alpha=float(alpha))


def elu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`elu`."""
    return elu(input, alpha, inplace=True)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    """``scale * elu(x, alpha)`` with the self-normalising constants.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.selu(ember.tensor([-1.0, 1.0]))
        tensor([-1.1113,  1.0507])
    """
    return _run(_A.Elu, input, inplace, alpha=_A.SELU_ALPHA, scale=_A.SELU_SCALE)


def selu_(input: Tensor) -> Tensor:
    """In-place :func:`selu`."""
    return selu(input, inplace=True)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.celu(ember.tensor([-1.0, 1.0]), alpha=2.0)
        tensor([-0.7869,  1.0000])
    """
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _run(_A.Elu, input, inplace, alpha=float(alpha), input_scale=1.0 / float(alpha))


def celu_(input: Tensor, alpha: float = 1.0) -> Tensor:
    """In-place :func:`celu`."""
    return celu(input, alpha, inplace=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    """``x`` for ``x > 0``, else ``negative_slope * x``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.leaky_relu(ember.tensor([-2.0, 2.0]), 0.1)
        tensor([-0.2000,  2.0000])
    """
    return _run(_A.LeakyRelu, input, inplace, negative_slope=float(negative_slope))


def leaky_relu_(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """In-place :func:`leaky_relu`."""
    return leaky_relu(input, negative_slope, inplace=True)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    """Clamp to ``[min_val, max_val]``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.hardtanh(ember.tensor([-2.0, 0.5, 2.0]))
        tensor([-1.0000,  0.5000,  1.0000])
    """
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    return _run(_A.Hardtanh, input, inplace, min_val=min_val, max_val=max_val)


def hardtanh_(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """In-place :func:`hardtanh`."""
    return hardtanh(input, min_val, max_val, inplace=True)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    """``x`` where ``x > threshold``, else ``value``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.threshold(ember.tensor([0.5, 2.0]), 1.0, -1.0)
        tensor([-1.,  2.])
    """
    return _run(_A.Threshold, input, inplace, threshold=threshold, value=value)


def threshold_(input: Tensor, threshold: float, value: float) -> Tensor:
    """In-place :func:`threshold`."""
    return apply_inplace(_A.Threshold, input, threshold=threshold, value=value)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * sigmoid(x)``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.silu(ember.tensor([0.0, 1.0]))
        tensor([0.0000, 0.7311])
    """
    return _run(_A.Silu, input, inplace)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * tanh(softplus(x))``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.mish(ember.tensor([0.0, 1.0]))
        tensor([0.0000, 0.8651])
    """
    return _run(_A.Mish, input, inplace)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    """``x * relu6(x + 3) / 6``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.hardswish(ember.tensor([-1.0, 1.0, 4.0]))
        tensor([-0.3333,  0.6667,  4.0000])
    """
    return _run(_A.Hardswish, input, inplace)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    """``relu6(x + 3) / 6``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.hardsigmoid(ember.tensor([-4.0, 0.0, 4.0]))
        tensor([0.0000, 0.5000, 1.0000])
    """
    return _run(_A.Hardsigmoid, input, inplace)


def sigmoid(input: Tensor) -> Tensor:
    """``1 / (1 + exp(-x))``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.sigmoid(ember.tensor([0.0]))
        tensor([0.5000])
    """
    return _unary.Sigmoid.apply(input)


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.tanh(ember.tensor([0.0]))
        tensor([0.])
    """
    return _unary.Tanh.apply(input)
