"""``Parameter`` (a tensor a Module learns) and ``Buffer`` (module state that is not learnt).

Example:
    >>> import ember
    >>> from ember import nn
    >>> p = nn.Parameter(ember.zeros(2))
    >>> p
    Parameter containing:
    tensor([0., 0.], requires_grad=True)
"""

from __future__ import annotations

from .._tensor_str import tensor_repr
from ..tensor import Tensor

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer"]


def _share(dst: Tensor, data: Tensor | None) -> None:
    """Make ``dst`` a view of ``data``'s storage with the same version counter (no copy)."""
    if data is None:
        from ..creation import empty
        data = empty(0)
    if not isinstance(data, Tensor):
        raise TypeError(f"{type(dst).__name__}: expected a Tensor as data, got "
                        f"{type(data).__name__}")
    if data._vbox is None:
        data._vbox = [0]
    dst._data = data._data
    dst._vbox = data._vbox


class Parameter(Tensor):
    """A Tensor that is a module parameter: assigned to a Module attribute, it is
    registered and returned by ``parameters()``. Shares storage with ``data``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> w = nn.Parameter(ember.ones(2, 3))
        >>> w.requires_grad, w.shape
        (True, ember.Size([2, 3]))
    """

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True) -> None:
        _share(self, data)
        if requires_grad:
            self.requires_grad = True

    def __repr__(self) -> str:
        return "Parameter containing:\n" + tensor_repr(self)


class Buffer(Tensor):
    """Marks a tensor to register as a buffer when assigned to a Module attribute
    (torch 2.x ``nn.Buffer``); ``persistent=False`` keeps it out of the state_dict.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> m = nn.Module(); m.running = nn.Buffer(ember.zeros(2))
        >>> list(m.state_dict())
        ['running']
    """

    def __init__(self, data: Tensor | None = None, *, persistent: bool = True) -> None:
        _share(self, data)
        self.persistent = persistent

    def __repr__(self) -> str:
        return "Buffer containing:\n" + tensor_repr(self)


class UninitializedParameter(Parameter):
    """Lazy modules are not supported: constructing one raises."""

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError("ember.nn: UninitializedParameter (lazy modules) is not supported; "
                           "create the module with explicit sizes instead")


class UninitializedBuffer(Buffer):
    """Lazy modules are not supported: constructing one raises."""

    def __init__(self, *args, **kwargs) -> None:
        raise RuntimeError("ember.nn: UninitializedBuffer (lazy modules) is not supported; "
                           "create the module with explicit sizes instead")
