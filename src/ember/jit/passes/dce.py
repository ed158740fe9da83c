"""Dead code elimination: drop pure nodes whose value nothing reads.

Kept always: placeholders (they are the signature), side-effect nodes (``ir.SIDE_EFFECTS``),
random ops (dropping one would shift the RNG stream for every later random op) and call
nodes a ``backward`` node reads. Constants no node reads any more leave
``graph.constants`` too.

Example:
    >>> from ember.jit.ir import Graph
    >>> from ember.jit.passes.dce import dce
    >>> g = Graph()
    >>> x = g.placeholder("x", (3,), "float32")
    >>> unused = g.call("exp", (x,), {}, (3,), "float32")
    >>> y = g.call("neg", (x,), {}, (3,), "float32")
    >>> _ = g.output((y,))
    >>> dce(g).ops()
    ['neg']
"""

from __future__ import annotations

from ..ir import SIDE_EFFECTS, Graph
from . import is_random

__all__ = ["dce"]

_REMOVABLE = frozenset({"call", "select", "constant", "state", "fused", "backward"})


def dce(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` without the pure nodes whose value is unused."""
    g = graph.copy() if _copy else graph
    live: set = set()
    keep = []
    for n in reversed(g.nodes):
        needed = (n in live or n.kind in SIDE_EFFECTS or n.kind not in _REMOVABLE
                  or is_random(n))
        if needed:
            keep.append(n)
            live.update(n.inputs)
    keep.reverse()
    g.nodes = keep
    used = {n.target for n in keep if n.kind == "constant"}
    g.constants = {k: v for k, v in g.constants.items() if k in used}
    return g
