"""Utilities, like ``torch.utils``: ``ember.utils.data`` holds datasets and loaders.

Example:
    >>> import ember
    >>> len(ember.utils.data.TensorDataset(ember.zeros(3)))
    3
"""

from . import data

__all__ = ["data"]
