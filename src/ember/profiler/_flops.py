"""Floating-point operation counts of the ops that dominate compute, counted as torch does
(one multiply-add = 2 FLOPs)."""

from __future__ import annotations

import math

__all__ = ["op_flops"]


def _broadcast(a: tuple, b: tuple) -> tuple:
    n = max(len(a), len(b))
    a, b = (1,) * (n - len(a)) + a, (1,) * (n - len(b)) + b
    return tuple(max(x, y) for x, y in zip(a, b))


def _matmul(a: tuple, b: tuple) -> int:
    if not a or not b:
        return 0
    if len(a) == 1 and len(b) == 1:
        return 2 * a[0]
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    m, k = a2[-2:]
    n = b2[-1]
    return 2 * math.prod(_broadcast(a2[:-2], b2[:-2])) * m * n * k


def _linear(x: tuple, w: tuple) -> int:
    if not x or len(w) != 2:
        return 0
    return 2 * math.prod(x[:-1]) * w[0] * w[1]


def _conv(x: tuple, w: tuple, out: tuple, transposed: bool) -> int:
    # batch * (one output position's multiply-adds: the whole kernel) * positions
    spatial = (x if transposed else out)[2:]
    return 2 * x[0] * math.prod(w) * math.prod(spatial)


def op_flops(name: str, shapes: list, out_shape: tuple | None) -> int:
    """FLOPs of one call of the op ``name`` given its input shapes (None for non-tensors);
    0 for ops that are not counted."""
    try:
        if name == "matmul":
            return _matmul(shapes[0], shapes[1])
        if name == "linear":
            return _linear(shapes[0], shapes[1])
        if name in ("convolution", "conv_transpose") and out_shape is not None:
            return _conv(shapes[0], shapes[1], out_shape, name == "conv_transpose")
    except (TypeError, ValueError, IndexError):
        return 0
    return 0
