"""The array-backend seam (Chainer's ``xp`` pattern).

Every op computes with ``xp``, the array module of the active backend, and never
imports NumPy directly. Today the only backend is NumPy on the CPU; a CuPy backend
drops in by providing the same array API under a different device name.

Example:
    >>> from ember.backend import xp, get_backend
    >>> get_backend("cpu").name
    'cpu'
    >>> float(xp.exp(xp.zeros(())))
    1.0
"""

from __future__ import annotations

import numpy

__all__ = ["Backend", "xp", "get_backend", "available_backends"]


class Backend:
    """An array library bound to a device type: ``xp`` plus what ember needs of it."""

    def __init__(self, name: str, xp_module) -> None:
        self.name = name
        self.xp = xp_module
        self.ndarray = xp_module.ndarray

    def __repr__(self) -> str:
        return f"Backend({self.name!r}, xp={self.xp.__name__})"


_BACKENDS: dict[str, Backend] = {"cpu": Backend("cpu", numpy)}

#: The array module ops compute with.
xp = numpy


def get_backend(device_type: str) -> Backend:
    """Return the backend for ``device_type`` or raise a clear RuntimeError."""
    try:
        return _BACKENDS[device_type]
    except KeyError:
        raise RuntimeError(
            f"ember: no backend for device type {device_type!r}; available: "
            f"{sorted(_BACKENDS)} (a CUDA backend through CuPy is planned)"
        ) from None


def available_backends() -> list[str]:
    """Names of the device types ember can allocate on."""
    return sorted(_BACKENDS)
