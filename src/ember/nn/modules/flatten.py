"""``Flatten`` and ``Unflatten``: reshape a range of dims into one, and back.

Example:
    >>> import ember
    >>> from ember import nn
    >>> nn.Flatten()(ember.zeros(2, 3, 4)).shape
    ember.Size([2, 12])
"""

from __future__ import annotations

from ...tensor import Tensor, _wrap_dim
from .module import Module

__all__ = ["Flatten", "Unflatten"]


class Flatten(Module):
    """Flatten dims ``start_dim`` to ``end_dim`` into one (the batch dim is kept by default).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Flatten(0, -1)(ember.zeros(2, 3)).shape
        ember.Size([6])
    """

    __constants__ = ["start_dim", "end_dim"]

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        shape = input.shape
        nd = len(shape)
        if nd == 0:
            return input.reshape(1)
        s = _wrap_dim(self.start_dim, nd, "flatten")
        e = _wrap_dim(self.end_dim, nd, "flatten")
        if s > e:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        if s == e:
            return input
        n = 1
        for d in shape[s:e + 1]:
            n *= d
        return input.reshape(tuple(shape[:s]) + (n,) + tuple(shape[e + 1:]))

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Expand dim ``dim`` into the shape ``unflattened_size``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Unflatten(1, (2, 3))(ember.zeros(4, 6)).shape
        ember.Size([4, 2, 3])
    """

    def __init__(self, dim: int | str, unflattened_size) -> None:
        super().__init__()
        if isinstance(dim, str):
            raise TypeError("ember.nn.Unflatten: named dimensions are not supported")
        if not isinstance(unflattened_size, (tuple, list)):
            raise TypeError("unflattened_size must be tuple of ints, but found type "
                            f"{type(unflattened_size).__name__}")
        self.dim = dim
        self.unflattened_size = unflattened_size

    def forward(self, input: Tensor) -> Tensor:
        shape = tuple(input.shape)
        d = _wrap_dim(self.dim, len(shape), "unflatten")
        sizes = list(self.unflattened_size)
        if sizes.count(-1) == 1:
            known = 1
            for s in sizes:
                if s != -1:
                    known *= s
            sizes[sizes.index(-1)] = shape[d] // known if known else 0
        n = 1
        for s in sizes:
            n *= s
        if n != shape[d]:
            raise RuntimeError(f"unflatten: Provided sizes {list(self.unflattened_size)} don't "
                               f"multiply up to the size of dim {self.dim} ({shape[d]}) in the "
                               f"input tensor")
        return input.reshape(shape[:d] + tuple(sizes) + shape[d + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"
