"""Argument normalisation and error helpers shared by the op modules."""

from __future__ import annotations

from ..backend import xp


def norm_dims(dim, ndim: int, op: str = "") -> tuple | None:
    """torch's ``dim`` argument (None, int, or sequence) as a sorted tuple of axes."""
    if dim is None:
        return None
    if isinstance(dim, int) or hasattr(dim, "__index__") and not isinstance(dim, (list, tuple)):
        dim = (int(dim),)
    n = max(ndim, 1)
    out = []
    for d in dim:
        if not -n <= d < n:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                             f"but got {d})" + (f" in {op}" if op else ""))
        d = d + n if d < 0 else d
        if d in out:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
        out.append(d)
    if ndim == 0:
        return ()
    return tuple(sorted(out))


def norm_dim(dim: int, ndim: int, op: str = "") -> int:
    """One ``dim`` wrapped into ``[0, ndim)``, with torch's IndexError otherwise."""
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})" + (f" in {op}" if op else ""))
    return dim + n if dim < 0 else dim


def shape_arg(shape) -> tuple:
    """``f(2, 3)``, ``f((2, 3))`` and ``f([2, 3])`` all mean shape ``(2, 3)``."""
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = shape[0]
    elif len(shape) == 1 and hasattr(shape[0], "shape") and hasattr(shape[0], "tolist"):
        shape = shape[0].tolist()
    return tuple(int(s) for s in shape)


def kept_shape(shape: tuple, axes) -> tuple:
    """The shape a reduction over ``axes`` has with ``keepdim=True``."""
    if axes is None:
        return (1,) * len(shape)
    return tuple(1 if i in axes else s for i, s in enumerate(shape))


# ---------------------------------------------------------------- torch's dtype names in errors

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


def created(t):
    """Return ``t``, a tensor just made from Python data or shapes, after telling the JIT
    (a traced graph holds it as a constant)."""
    from ..autograd.grad_mode import _state, mode_hook
    if _state.modes:
        hook = mode_hook("on_create")
        if hook is not None:
            hook(t)
    return t


def const_tensor(arr):
    """Wrap an array that ember computed from Python data or shapes only (index arrays, a
    fixed layout's mask): under the JIT it is a constant of the graph.

    Example:
        >>> from ember.ops._util import const_tensor
        >>> import numpy as np
        >>> const_tensor(np.arange(3))
        tensor([0, 1, 2])
    """
    from ..tensor import Tensor
    return created(Tensor._make(arr))
