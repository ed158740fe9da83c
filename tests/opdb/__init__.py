"""The op database: one entry per op, driving tests/test_ops.py.

An entry gives one function ``fn(lib, *tensors)`` that runs the op with either
library (``lib`` is ``ember`` or ``torch``: ember's API is torch's), and samples of
input shapes. tests/test_ops.py checks forward values, dtype and shape and every
input's gradient against torch, then float64 gradcheck and gradgradcheck.

Example entry::

    OpInfo("exp", lambda m, x: m.exp(x), samples=[S((3, 4)), S(()), S((0,))])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

FLOAT = ("float32", "float64")


class S:
    """One sample: input shapes (or ready NumPy arrays) and extra info.

    ``shapes`` entries are tuples (random floats in the op's domain), NumPy arrays
    (used as given, e.g. integer indices), or Python scalars (passed through).
    ``grad`` marks which inputs to differentiate (default: every float array input).
    """

    def __init__(self, *shapes, grad=None, name: str = "") -> None:
        self.shapes = shapes
        self.grad = grad
        self.name = name


@dataclass
class OpInfo:
    name: str
    fn: Callable
    samples: list
    dtypes: tuple = FLOAT
    domain: tuple = (-2.0, 2.0)
    grad: bool = True
    gradgrad: bool = True
    gradcheck: bool = True
    atol: float = 1e-5
    rtol: float = 1.3e-6
    #: float32 forward/backward tolerances vs torch (float64 uses atol/rtol)
    atol32: float = 1e-4
    rtol32: float = 1e-4
    #: outputs whose values are compared only in shape/dtype (e.g. random)
    compare_values: bool = True
    skip_reason: str = ""
    extra: dict = field(default_factory=dict)


def all_ops() -> list:
    """Every entry from the per-theme modules of this package."""
    import importlib
    import pkgutil
    out = []
    for info in pkgutil.iter_modules(__path__):
        mod = importlib.import_module(f"{__name__}.{info.name}")
        out.extend(getattr(mod, "OPS", []))
    return out


def make_inputs(sample: S, dtype: str, domain, seed: int):
    rng = np.random.default_rng(seed)
    arrays = []
    for s in sample.shapes:
        if isinstance(s, tuple):
            lo, hi = domain
            arrays.append(rng.uniform(lo, hi, size=s).astype(dtype))
        else:
            arrays.append(s)
    return arrays
