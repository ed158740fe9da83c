"""ember's JIT: trace a function or module into a guarded graph, optimize it, run it fast,
save and load it.

* :func:`trace` / :func:`compile` capture calls into :class:`~ember.jit.ir.Graph` s.
* Data-dependent Python (``if x.sum() > 0``, ``.item()``) becomes guards: a call whose
  data fails one is traced again, never answered from the wrong graph.
* :func:`load` reads a file written by ``TracedModule.save`` without the model's source.

Example:
    >>> import ember
    >>> f = ember.jit.compile(lambda x: (x * 3).relu())
    >>> f(ember.tensor([-1.0, 2.0]))
    tensor([0., 6.])
"""

from __future__ import annotations

from .api import CompiledFunction, TracedModule, compile, trace
from .errors import GraphError, JitError, TraceUnsupported
from . import dot as _dot  # noqa: F401 - registers make_dot for graphs
from .ir import Graph, Node

__all__ = ["trace", "compile", "load", "CompiledFunction", "TracedModule", "Graph", "Node",
           "JitError", "GraphError", "TraceUnsupported"]


def load(path, *, tap_fn=None, strip_taps: bool = False):
    """Load a graph file written by ``.save`` (runs no code from the file).

    ``ember.debug.tap`` calls in the graph call ``tap_fn(value)`` (default: print), or are
    removed with ``strip_taps=True``.

    Example:
        >>> import ember, tempfile, os
        >>> f = ember.jit.trace(lambda x: x * 2 + 1, (ember.ones(2),))
        >>> path = os.path.join(tempfile.mkdtemp(), "f.ember")
        >>> f.save(path)
        >>> ember.jit.load(path)(ember.tensor([1.0, 2.0]))
        tensor([3., 5.])
    """
    from .serialize import load as _load
    return _load(path, tap_fn=tap_fn, strip_taps=strip_taps)
