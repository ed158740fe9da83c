"""Flatten parameters into one vector and back.

Example:
    >>> import ember
    >>> from ember import nn
    >>> m = nn.Linear(2, 1)
    >>> nn.utils.parameters_to_vector(m.parameters()).shape
    ember.Size([3])
"""

from __future__ import annotations

from collections.abc import Iterable

from ...tensor import Tensor

__all__ = ["parameters_to_vector", "vector_to_parameters"]


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """Concatenate the flattened parameters into one 1-D tensor (differentiable).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.utils.parameters_to_vector([ember.ones(2, 2), ember.zeros(1)])
        tensor([1., 1., 1., 1., 0.])
    """
    from ...ops.join import cat
    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive slices of ``vec`` into the parameters (each becomes a view of
    ``vec``'s memory, as in torch).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> m = nn.Linear(2, 1)
        >>> nn.utils.vector_to_parameters(ember.arange(3.0), m.parameters()); m.bias
        Parameter containing:
        tensor([2.], requires_grad=True)
    """
    if not isinstance(vec, Tensor):
        from ..modules.module import _typename
        raise TypeError(f"expected ember.Tensor, but got: {_typename(vec)}")
    pointer = 0
    flat = vec._data.reshape(-1)
    for param in parameters:
        n = param.numel()
        param.data = Tensor._make(flat[pointer:pointer + n].reshape(param._data.shape))
        pointer += n
