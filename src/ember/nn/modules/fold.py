"""``Fold`` and ``Unfold``: sliding blocks to image and back (col2im / im2col).

Example:
    >>> import ember
    >>> from ember import nn
    >>> nn.Unfold(kernel_size=(2, 3))(ember.randn(2, 5, 3, 4)).shape
    ember.Size([2, 30, 4])
"""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["Fold", "Unfold"]


class Fold(Module):
    """Sum sliding blocks (N, C * kh * kw, L) into an image (N, C, *output_size).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Fold(output_size=(4, 5), kernel_size=(2, 2))(ember.randn(1, 3 * 2 * 2, 12)).shape
        ember.Size([1, 3, 4, 5])
    """

    __constants__ = ["output_size", "kernel_size", "dilation", "padding", "stride"]

    def __init__(self, output_size, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.output_size = output_size
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.fold(input, self.output_size, self.kernel_size, self.dilation, self.padding,
                      self.stride)

    def extra_repr(self) -> str:
        return (f"output_size={self.output_size}, kernel_size={self.kernel_size}, "
                f"dilation={self.dilation}, padding={self.padding}, stride={self.stride}")


class Unfold(Module):
    """Extract sliding blocks (N, C, H, W) -> (N, C * kh * kw, L).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Unfold(2, padding=1)
        Unfold(kernel_size=2, dilation=1, padding=1, stride=1)
    """

    __constants__ = ["kernel_size", "dilation", "padding", "stride"]

    def __init__(self, kernel_size, dilation=1, padding=0, stride=1) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.dilation = dilation
        self.padding = padding
        self.stride = stride

    def forward(self, input: Tensor) -> Tensor:
        return F.unfold(input, self.kernel_size, self.dilation, self.padding, self.stride)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding}, stride={self.stride}")
