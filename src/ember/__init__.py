"""ember: PyTorch-style eager deep learning in pure Python on NumPy.

Example:
    >>> import ember
    >>> x = ember.randn(3, requires_grad=True)
    >>> (x * x).sum().backward()
    >>> (x.grad == 2 * x).all().item()
    True
"""

from __future__ import annotations

__version__ = "0.1.0"

from . import autograd, dtypes, random  # noqa: E402
from ._tensor_str import set_printoptions
from .autograd.grad_mode import (
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .creation import *  # noqa: F401,F403
from .creation import __all__ as _creation_all
from .dtypes import (
    DType,
    bool,
    can_cast,
    double,
    finfo,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    iinfo,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    promote_types,
    result_type,
    set_default_dtype,
    short,
    uint8,
)
from .ops import *  # noqa: F401,F403 - the public op functions
from .ops import __all__ as _ops_all
from .random import (
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from .tensor import Size, Tensor, device, is_tensor

# Loaded on first use, so that `import ember` stays fast (the core is what every
# script needs first; nn, optim, data and file I/O follow on demand).
_LAZY_MODULES = {"nn", "optim", "utils", "linalg", "profiler", "viz", "serialization", "jit",
                 "debug"}
_LAZY_NAMES = {"save": "serialization", "load": "serialization",
               "SerializationError": "serialization"}


def __getattr__(name: str):
    import importlib
    if name in _LAZY_MODULES:
        return importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY_NAMES:
        return getattr(importlib.import_module(f"{__name__}.{_LAZY_NAMES[name]}"), name)
    raise AttributeError(f"module 'ember' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | _LAZY_MODULES | set(_LAZY_NAMES))

dtype = DType
FloatTensor = DoubleTensor = LongTensor = None  # legacy constructors are not provided


def is_floating_point(input: Tensor) -> bool:
    """True for tensors of a floating dtype."""
    return input.is_floating_point()


def numel(input: Tensor) -> int:
    """The number of elements."""
    return input.numel()


__all__ = ["Tensor", "Size", "device", "DType", "dtype", "is_tensor", "set_printoptions",
           "no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled", "manual_seed", "seed", "initial_seed", "Generator",
           "get_rng_state", "set_rng_state",
           "default_generator", "autograd", "random", "linalg", "nn", "optim", "utils", "save",
           "load", "SerializationError", "dtypes", "is_floating_point", "numel",
           "bool", "uint8", "int8", "int16", "int32", "int64", "float16", "float32", "float64",
           "half", "float", "double", "short", "int", "long", "can_cast", "promote_types",
           "result_type", "finfo", "iinfo", "get_default_dtype", "set_default_dtype",
           *_ops_all, *_creation_all]
del FloatTensor, DoubleTensor, LongTensor
