"""Turning backend failures into torch's exception types, naming the op and inputs."""

from __future__ import annotations

import re

_BCAST = re.compile(r"operands could not be broadcast together with (?:remapped )?shapes? (.*)")


def describe_inputs(inputs) -> str:
    parts = []
    for x in inputs:
        arr = getattr(x, "_data", None)
        if arr is not None:
            parts.append(f"{tuple(arr.shape)} {arr.dtype}")
        elif x is not None:
            parts.append(repr(x) if len(repr(x)) < 40 else type(x).__name__)
    return ", ".join(parts)


def op_error(name: str, inputs, e: Exception) -> Exception:
    """An exception of torch's type whose message starts with the op's name."""
    msg = str(e)
    if isinstance(e, (RuntimeError, IndexError, TypeError, NotImplementedError)):
        if msg.startswith(name + ":") or msg.startswith(name + " "):
            return e
        return type(e)(f"{name}: {msg}")
    shapes = [tuple(x._data.shape) for x in inputs if hasattr(x, "_data")]
    if isinstance(e, ValueError) and _BCAST.search(msg) and len(shapes) >= 2:
        a, b = shapes[0], shapes[1]
        dim, sa, sb = _first_mismatch(a, b)
        return RuntimeError(f"{name}: The size of tensor a ({sa}) must match the size of tensor b "
                            f"({sb}) at non-singleton dimension {dim} (input shapes "
                            f"{', '.join(map(str, shapes))})")
    if isinstance(e, (ValueError, ArithmeticError)):
        return RuntimeError(f"{name}: {msg} (inputs: {describe_inputs(inputs)})")
    return e


def _first_mismatch(a: tuple, b: tuple):
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + a
    b = (1,) * (n - len(b)) + b
    for d in range(n - 1, -1, -1):
        if a[d] != b[d] and a[d] != 1 and b[d] != 1:
            return d, a[d], b[d]
    return 0, a[0] if a else 0, b[0] if b else 0
