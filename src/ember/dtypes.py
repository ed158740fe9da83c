"""ember's dtypes and torch's type-promotion rules.

A :class:`DType` wraps a NumPy dtype and prints like torch's (``ember.float32``).
Promotion follows torch: operands are ranked in three tiers (tensors with
dimensions, zero-dim tensors, Python scalars) and a lower tier only changes the
result when it is of a higher category (bool < integer < floating).

Example:
    >>> import ember
    >>> ember.promote_types(ember.int64, ember.float16)
    ember.float16
    >>> (ember.tensor([1, 2]) * 2.5).dtype
    ember.float32
"""

from __future__ import annotations

import builtins

import numpy as np

__all__ = [
    "DType", "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
    "uint8", "bool", "half", "float", "double", "short", "int", "long",
    "get_default_dtype", "set_default_dtype", "promote_types", "result_type", "can_cast",
    "to_dtype", "finfo", "iinfo",
]

BOOL, INT, FLOAT = 0, 1, 2  # categories, ordered
_pyfloat, _pyint, _pybool = builtins.float, builtins.int, builtins.bool


class DType:
    """A tensor element type; compare with ``is`` or ``==`` (``ember.float32``)."""

    __slots__ = ("name", "np", "category", "itemsize", "is_floating_point", "is_signed")

    def __init__(self, name: str, np_dtype, category: int) -> None:
        self.name = name
        self.np = np.dtype(np_dtype)
        self.category = category
        self.itemsize = self.np.itemsize
        self.is_floating_point = category == FLOAT
        self.is_signed = category == FLOAT or self.np.kind == "i"

    @property
    def is_complex(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"ember.{self.name}"

    def __reduce__(self):
        return self.name

    def to_real(self) -> DType:
        return self


float16 = DType("float16", np.float16, FLOAT)
float32 = DType("float32", np.float32, FLOAT)
float64 = DType("float64", np.float64, FLOAT)
int8 = DType("int8", np.int8, INT)
int16 = DType("int16", np.int16, INT)
int32 = DType("int32", np.int32, INT)
int64 = DType("int64", np.int64, INT)
uint8 = DType("uint8", np.uint8, INT)
bool = DType("bool", np.bool_, BOOL)  # noqa: A001 - torch's name
half, float, double = float16, float32, float64  # noqa: A001
short, int, long = int16, int32, int64  # noqa: A001
#: NumPy has no bfloat16; the name exists so code that mentions it fails clearly.
bfloat16 = None

ALL = (float16, float32, float64, int8, int16, int32, int64, uint8, bool)
_BY_NP = {d.np: d for d in ALL}
_BY_NAME = {d.name: d for d in ALL}
_BY_NAME.update(half=float16, float=float32, double=float64, short=int16, int=int32, long=int64)


class _Default:
    float_dtype = float32


_default = _Default()


def get_default_dtype() -> DType:
    """The dtype of new floating tensors (``float32`` unless changed).

    Example:
        >>> import ember
        >>> ember.get_default_dtype()
        ember.float32
    """
    return _default.float_dtype


def set_default_dtype(d: DType) -> None:
    """Set the default floating dtype; only float32 and float64 are allowed, as in torch.

    Example:
        >>> import ember
        >>> ember.set_default_dtype(ember.float64); ember.tensor([1.0]).dtype
        ember.float64
        >>> ember.set_default_dtype(ember.float32)
    """
    d = to_dtype(d)
    if d not in (float32, float64, float16):
        raise TypeError(f"only floating-point types are supported as the default type, got {d}")
    _default.float_dtype = d


def from_np(np_dtype) -> DType:
    """The ember dtype of a NumPy dtype; TypeError for unsupported ones."""
    try:
        return _BY_NP[np_dtype]
    except KeyError:
        pass
    try:
        return _BY_NP[np.dtype(np_dtype)]
    except (KeyError, TypeError):
        raise TypeError(f"ember: unsupported NumPy dtype {np_dtype!r}; ember supports "
                        f"{', '.join(d.name for d in ALL)}") from None


def to_dtype(d) -> DType:
    """Accept an ember dtype, a NumPy dtype/type, a Python type or a name."""
    if isinstance(d, DType):
        return d
    if d is None:
        raise TypeError("dtype must not be None")
    if isinstance(d, str):
        try:
            return _BY_NAME[d.removeprefix("ember.").removeprefix("torch.")]
        except KeyError:
            raise TypeError(f"ember: unknown dtype name {d!r}") from None
    if d is _pyfloat:
        return _default.float_dtype
    if d is _pyint:
        return int64
    if d is _pybool:
        return bool
    if hasattr(d, "dtype") and not isinstance(d, type):
        return from_np(d.dtype)
    return from_np(np.dtype(d))


def promote_types(a: DType, b: DType) -> DType:
    """torch.promote_types: the smallest dtype both can be cast to, category first.

    Example:
        >>> import ember
        >>> ember.promote_types(ember.uint8, ember.int8)
        ember.int16
    """
    a, b = to_dtype(a), to_dtype(b)
    if a is b:
        return a
    if a.category != b.category:
        return a if a.category > b.category else b
    return _BY_NP[np.promote_types(a.np, b.np)]


def scalar_category(x) -> int:
    if isinstance(x, _pybool) or isinstance(x, np.bool_):
        return BOOL
    if isinstance(x, (_pyint, np.integer)):
        return INT
    return FLOAT


def scalar_dtype(x) -> DType:
    """The dtype ``ember.tensor(x)`` gives a Python scalar."""
    c = scalar_category(x)
    return bool if c == BOOL else int64 if c == INT else _default.float_dtype


_promo_cache: dict = {}


def promote_arrays(dim_dtypes, zero_dtypes, scalar_cat: int) -> DType:
    """torch's result_type from the three tiers (numpy dtypes in, DType out)."""
    key = (dim_dtypes, zero_dtypes, scalar_cat, _default.float_dtype)
    r = _promo_cache.get(key)
    if r is not None:
        return r
    res = None
    for d in dim_dtypes:
        res = from_np(d) if res is None else promote_types(res, from_np(d))
    zres = None
    for d in zero_dtypes:
        zres = from_np(d) if zres is None else promote_types(zres, from_np(d))
    if res is None:
        res = zres
    elif zres is not None and zres.category > res.category:
        res = zres
    if scalar_cat >= 0 and (res is None or scalar_cat > res.category):
        res = bool if scalar_cat == BOOL else int64 if scalar_cat == INT else _default.float_dtype
    _promo_cache[key] = res
    return res


def result_type(*operands) -> DType:
    """torch.result_type for tensors and Python scalars.

    Example:
        >>> import ember
        >>> ember.result_type(ember.tensor([1], dtype=ember.int32), 1.0)
        ember.float32
    """
    dims, zeros, cat = [], [], -1
    for o in operands:
        arr = getattr(o, "_data", None)
        if arr is None and isinstance(o, np.ndarray):
            arr = o
        if arr is not None:
            (dims if arr.ndim else zeros).append(arr.dtype)
        else:
            cat = max(cat, scalar_category(o))
    return promote_arrays(tuple(dims), tuple(zeros), cat)


def can_cast(from_: DType, to: DType) -> _pybool:
    """torch.can_cast: casting is allowed unless it lowers the category.

    Example:
        >>> import ember
        >>> ember.can_cast(ember.float32, ember.int32)
        False
    """
    return to_dtype(from_).category <= to_dtype(to).category


class finfo:
    """Machine limits of a floating dtype, like torch.finfo.

    Example:
        >>> import ember
        >>> ember.finfo(ember.float32).eps > 0
        True
    """

    def __init__(self, dtype: DType | None = None) -> None:
        d = to_dtype(dtype) if dtype is not None else _default.float_dtype
        if not d.is_floating_point:
            raise TypeError(f"finfo: {d} is not a floating point dtype")
        f = np.finfo(d.np)
        self.dtype, self.bits = d.name, d.itemsize * 8
        self.eps, self.max, self.min = _pyfloat(f.eps), _pyfloat(f.max), _pyfloat(f.min)
        self.tiny = self.smallest_normal = _pyfloat(f.tiny)
        self.resolution = _pyfloat(f.resolution)


class iinfo:
    """Machine limits of an integer dtype, like torch.iinfo.

    Example:
        >>> import ember
        >>> ember.iinfo(ember.uint8).max
        255
    """

    def __init__(self, dtype: DType) -> None:
        d = to_dtype(dtype)
        if d.category != INT:
            raise TypeError(f"iinfo: {d} is not an integer dtype")
        i = np.iinfo(d.np)
        self.dtype, self.bits = d.name, d.itemsize * 8
        self.max, self.min = _pyint(i.max), _pyint(i.min)
