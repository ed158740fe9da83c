"""Padding: ``ember.nn.functional.pad`` (implemented with the shape ops)."""

from ...ops.copying import pad

__all__ = ["pad"]
