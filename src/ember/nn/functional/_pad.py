"""Padding: ``ember.nn.functional.pad`` (implemented with the shape ops)."""

from ...ops.shape import pad

__all__ = ["pad"]
