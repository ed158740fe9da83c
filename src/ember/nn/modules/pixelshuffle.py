"""``PixelShuffle`` and ``PixelUnshuffle``: move channels into space and back.

Example:
    >>> import ember
    >>> from ember import nn
    >>> nn.PixelShuffle(3)(ember.zeros(1, 9, 4, 4)).shape
    ember.Size([1, 1, 12, 12])
"""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["PixelShuffle", "PixelUnshuffle"]


class PixelShuffle(Module):
    """(*, C * r**2, H, W) -> (*, C, H * r, W * r).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.PixelShuffle(2)
        PixelShuffle(upscale_factor=2)
    """

    __constants__ = ["upscale_factor"]

    def __init__(self, upscale_factor: int) -> None:
        super().__init__()
        self.upscale_factor = upscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_shuffle(input, self.upscale_factor)

    def extra_repr(self) -> str:
        return f"upscale_factor={self.upscale_factor}"


class PixelUnshuffle(Module):
    """(*, C, H * r, W * r) -> (*, C * r**2, H, W).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.PixelUnshuffle(3)(ember.zeros(1, 1, 12, 12)).shape
        ember.Size([1, 9, 4, 4])
    """

    __constants__ = ["downscale_factor"]

    def __init__(self, downscale_factor: int) -> None:
        super().__init__()
        self.downscale_factor = downscale_factor

    def forward(self, input: Tensor) -> Tensor:
        return F.pixel_unshuffle(input, self.downscale_factor)

    def extra_repr(self) -> str:
        return f"downscale_factor={self.downscale_factor}"
