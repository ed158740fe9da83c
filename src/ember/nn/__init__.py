"""Neural-network layers, losses and utilities, mirroring ``torch.nn``.

Example:
    >>> import ember
    >>> from ember import nn
    >>> nn.Linear(3, 2)(ember.zeros(4, 3)).shape
    ember.Size([4, 2])
"""

from . import functional, init, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules import __all__ as _modules_all
from .parameter import Buffer, Parameter, UninitializedParameter  # noqa: F401

__all__ = ["functional", "init", "utils", "Parameter", "Buffer", *_modules_all]
