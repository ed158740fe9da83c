"""Utilities, like ``torch.utils``: ``ember.utils.data`` holds datasets and loaders.

Example:
    >>> import ember
    >>> len(ember.utils.data.TensorDataset(ember.zeros(3)))
    3
"""

from . import data

__all__ = ["data"]


def __getattr__(name: str):
    # summary imports on first use, keeping `import ember` fast
    if name == "summary":
        from .summary import summary
        globals()["summary"] = summary
        return summary
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
