"""softmax, log_softmax and softmin (numerically stable, max-subtracted).

Example:
    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.softmax(ember.tensor([[0.0, 0.0]]), dim=1)
    tensor([[0.5000, 0.5000]])
"""

from __future__ import annotations

import warnings

from ...ops import softmax_family as _softmax
from ...tensor import Tensor

__all__ = ["softmax", "log_softmax", "softmin"]


def _get_softmax_dim(name: str, ndim: int, stacklevel: int) -> int:
    """torch's legacy implicit dim (0 for 0-D, 1-D and 3-D inputs, else 1), with its warning."""
    warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to "
                  f"include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """``exp(x) / sum(exp(x), dim)``; ``dtype`` casts the input first.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.softmax(ember.tensor([1.0, 1.0, 1.0, 1.0]), dim=0)
        tensor([0.2500, 0.2500, 0.2500, 0.2500])
    """
    if dim is None:
        dim = _get_softmax_dim("softmax", input.ndim, _stacklevel)
    return _softmax.softmax(input, dim, dtype=dtype)


def log_softmax(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """``log(softmax(x, dim))`` computed stably; ``dtype`` casts the input first.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.log_softmax(ember.tensor([0.0, 0.0]), dim=0)
        tensor([-0.6931, -0.6931])
    """
    if dim is None:
        dim = _get_softmax_dim("log_softmax", input.ndim, _stacklevel)
    return _softmax.log_softmax(input, dim, dtype=dtype)


def softmin(input: Tensor, dim: int | None = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """``softmax(-x, dim)``: weights favouring the smallest entries.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.softmin(ember.tensor([0.0, 0.0]), dim=0)
        tensor([0.5000, 0.5000])
    """
    if dim is None:
        dim = _get_softmax_dim("softmin", input.ndim, _stacklevel)
    return _softmax.softmax(-input, dim, dtype=dtype)
