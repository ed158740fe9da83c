"""The JIT's exceptions."""

from __future__ import annotations

__all__ = ["JitError", "GraphError", "TraceUnsupported", "GuardFailed"]


class JitError(RuntimeError):
    """A compiled function could not do what was asked (and says why)."""


class GraphError(JitError):
    """A graph is malformed (from ``Graph.lint`` or a graph file)."""


class TraceUnsupported(JitError):
    """The traced code did something the JIT cannot capture; ``compile`` runs it eagerly."""


class GuardFailed(Exception):
    """Raised inside a compiled graph when a guard sees another value than the trace did."""

    def __init__(self, index: int, reason: str = "") -> None:
        super().__init__(index, reason)
        self.index = index
        self.reason = reason
