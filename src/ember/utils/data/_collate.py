"""``default_collate`` and ``default_convert``: turn samples into batched tensors."""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping, MutableMapping, Sequence
from typing import Any

from ... import dtypes
from ...backend import xp
from ...tensor import Tensor

__all__ = ["default_collate", "default_convert"]

_ERR = ("default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; "
        "found {}")
# NumPy dtype strings of strings and objects, which cannot become tensors
_STR_OBJ = re.compile(r"[SaUO]")


def _array_tensor(arr) -> Tensor:
    """A tensor owning a copy of a NumPy array (or scalar), torch's dtype rules aside from
    the dtypes ember lacks."""
    arr = xp.array(arr)
    dtypes.from_np(arr.dtype)  # TypeError naming the dtype if ember has no such dtype
    return Tensor._make(arr)


def _stack(batch: list[Tensor]) -> Tensor:
    shape = batch[0]._data.shape
    for i, t in enumerate(batch):
        if t._data.shape != shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got "
                               f"{list(shape)} at entry 0 and {list(t._data.shape)} at entry {i}")
    if any(t.requires_grad for t in batch):
        from ...ops import stack
        return stack(batch, 0)
    dts = {t._data.dtype for t in batch}
    if len(dts) > 1:
        from ...ops import stack
        return stack(batch, 0)
    return Tensor._make(xp.stack([t._data for t in batch]))


def default_collate(batch: list) -> Any:
    """Merge a list of samples into a batch, like ``torch.utils.data.default_collate``.

    Tensors are stacked, NumPy arrays and numbers become tensors (Python floats as
    float64, ints as int64), strings stay lists, and mappings, namedtuples and sequences
    are collated field by field.

    Example:
        >>> import ember
        >>> from ember.utils.data import default_collate
        >>> default_collate([(ember.zeros(2), 1), (ember.ones(2), 2)])
        [tensor([[0., 0.],
                [1., 1.]]), tensor([1, 2])]
    """
    elem = batch[0]
    elem_type = type(elem)
    if isinstance(elem, Tensor):
        return _stack(batch)
    if isinstance(elem, (xp.ndarray, xp.generic)) and not isinstance(elem, (str, bytes)):
        if isinstance(elem, xp.ndarray):
            if _STR_OBJ.search(elem.dtype.str) is not None:
                raise TypeError(_ERR.format(elem.dtype))
            return default_collate([_array_tensor(b) for b in batch])
        if _STR_OBJ.search(elem.dtype.str) is not None:
            raise TypeError(_ERR.format(elem.dtype))
        return _array_tensor(xp.array(batch))
    if isinstance(elem, bool):
        return Tensor._make(xp.array(batch, dtype=xp.bool_))
    if isinstance(elem, float):
        return Tensor._make(xp.array(batch, dtype=xp.float64))
    if isinstance(elem, int):
        return Tensor._make(xp.array(batch, dtype=xp.int64))
    if isinstance(elem, (str, bytes)):
        return batch
    if isinstance(elem, Mapping):
        fields = {key: default_collate([d[key] for d in batch]) for key in elem}
        if isinstance(elem, MutableMapping):
            clone = copy.copy(elem)
            clone.update(fields)
            return clone
        try:
            return elem_type(fields)
        except TypeError:
            return fields
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return elem_type(*(default_collate(s) for s in zip(*batch, strict=True)))
    if isinstance(elem, Sequence):
        size = len(elem)
        if not all(len(e) == size for e in batch):
            raise RuntimeError("each element in list of batch should be of equal size")
        transposed = list(zip(*batch, strict=True))
        if isinstance(elem, tuple):
            return [default_collate(s) for s in transposed]
        try:
            return elem_type([default_collate(s) for s in transposed])
        except TypeError:
            return [default_collate(s) for s in transposed]
    raise TypeError(_ERR.format(elem_type))


def default_convert(data: Any) -> Any:
    """Convert NumPy arrays and scalars inside ``data`` to tensors, without batching
    (the collate function when ``batch_size=None``).

    Example:
        >>> import numpy as np
        >>> from ember.utils.data import default_convert
        >>> default_convert({"x": np.zeros(2)})
        {'x': tensor([0., 0.], dtype=ember.float64)}
    """
    if isinstance(data, Tensor):
        return data
    if isinstance(data, (xp.ndarray, xp.generic)) and not isinstance(data, (str, bytes)):
        if _STR_OBJ.search(data.dtype.str) is not None:
            return data
        return _array_tensor(data)
    if isinstance(data, Mapping):
        fields = {k: default_convert(v) for k, v in data.items()}
        if isinstance(data, MutableMapping):
            clone = copy.copy(data)
            clone.update(fields)
            return clone
        try:
            return type(data)(fields)
        except TypeError:
            return fields
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, Sequence) and not isinstance(data, (str, bytes)):
        try:
            return type(data)([default_convert(d) for d in data])
        except TypeError:
            return [default_convert(d) for d in data]
    return data
