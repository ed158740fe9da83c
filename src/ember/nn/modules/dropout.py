"""Dropout layers: active in training mode, the identity in eval mode.

Example:
    >>> import ember
    >>> from ember import nn
    >>> nn.Dropout(0.5).eval()(ember.ones(3))
    tensor([1., 1., 1.])
"""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from .module import Module

__all__ = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
           "FeatureAlphaDropout"]


class _DropoutNd(Module):
    __constants__ = ["p", "inplace"]

    def __init__(self, p: float = 0.5, inplace: bool = False) -> None:
        super().__init__()
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p = p
        self.inplace = inplace

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout(_DropoutNd):
    """Zero elements with probability ``p`` in training, scaling the rest by ``1/(1-p)``.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> y = nn.Dropout(0.5)(ember.ones(1000))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout(input, self.p, self.training, self.inplace)


class Dropout1d(_DropoutNd):
    """Zero whole channels of ``(N, C, L)`` / ``(C, L)`` inputs in training.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Dropout1d(0.2)(ember.ones(2, 3, 4)).shape
        ember.Size([2, 3, 4])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout1d(input, self.p, self.training, self.inplace)


class Dropout2d(_DropoutNd):
    """Zero whole channels of ``(N, C, H, W)`` inputs in training.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Dropout2d(0.2)(ember.ones(2, 3, 4, 4)).shape
        ember.Size([2, 3, 4, 4])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout2d(input, self.p, self.training, self.inplace)


class Dropout3d(_DropoutNd):
    """Zero whole channels of ``(N, C, D, H, W)`` inputs in training.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Dropout3d(0.2)(ember.ones(1, 2, 2, 2, 2)).shape
        ember.Size([1, 2, 2, 2, 2])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.dropout3d(input, self.p, self.training, self.inplace)


class AlphaDropout(_DropoutNd):
    """Dropout for SELU networks: keeps zero mean and unit variance.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.AlphaDropout(0.2)(ember.randn(8)).shape
        ember.Size([8])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.alpha_dropout(input, self.p, self.training)


class FeatureAlphaDropout(_DropoutNd):
    """Alpha dropout of whole channels.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.FeatureAlphaDropout(0.2)(ember.randn(2, 3, 4)).shape
        ember.Size([2, 3, 4])
    """

    def forward(self, input: Tensor) -> Tensor:
        return F.feature_alpha_dropout(input, self.p, self.training)
