"""Common subexpression elimination within side-effect-free stretches.

Two pure nodes with the same kind, target, arguments and parameters compute the same
value, so the later one is replaced by the earlier one: calls (not random, not run with a
real ctx), selects, constants, and ``state`` reads of the same slot and attribute. The
table is reset at every side-effect node (a write may change what a read returns), and a
merge only happens when the two values may share one array: the dropped value is not
returned, written, given to an effect or saved for backward, and nothing changes memory
while it is still read.

Keys are exact: ``0.0`` and ``-0.0`` differ, ``1`` and ``1.0`` and ``True`` differ, NaN
literals match each other; unhashable parameters (lists, dicts) are keyed recursively.

Example:
    >>> from ember.jit.ir import Graph
    >>> from ember.jit.passes.cse import cse
    >>> g = Graph()
    >>> x = g.placeholder("x", (3,), "float32")
    >>> a = g.call("exp", (x,), {}, (3,), "float32")
    >>> b = g.call("exp", (x,), {}, (3,), "float32")
    >>> _ = g.output((g.call("add", (a, b), {}, (3,), "float32"),))
    >>> print(cse(g))
    graph(x: f32[3]):
        exp: f32[3] = exp(x)
        add: f32[3] = add(exp, exp)
        return (add,)
"""

from __future__ import annotations

import math

from ..ir import SIDE_EFFECTS, Graph, Node
from . import Info, erase_nodes, is_random

__all__ = ["cse", "value_key"]


def value_key(x):
    """A hashable key that is equal exactly when two argument values are interchangeable."""
    if isinstance(x, Node):
        return ("node", id(x))
    t = type(x)
    if t is float:
        if math.isnan(x):
            return ("float", "nan")
        return ("float", x, math.copysign(1.0, x))
    if t in (int, bool, str, type(None)) or x is Ellipsis:
        return (t.__name__, x)
    if t in (tuple, list):
        return (t.__name__, tuple(value_key(v) for v in x))
    if t is dict:
        return ("dict", tuple(sorted((repr(k), value_key(v)) for k, v in x.items())))
    if t is slice:
        return ("slice", value_key(x.start), value_key(x.stop), value_key(x.step))
    try:
        hash(x)
    except TypeError:
        return ("id", id(x))
    if hasattr(x, "shape") and hasattr(x, "dtype") and not hasattr(x, "np"):
        return ("id", id(x))  # arrays and NumPy scalars: by identity, never by value
    return (t.__module__, t.__qualname__, x)


def _key(n: Node):
    if n.kind == "call":
        return ("call", n.target, value_key(n.args), value_key(n.kwargs))
    if n.kind == "select":
        return ("select", n.target, value_key(n.args), value_key(n.kwargs))
    if n.kind == "constant":
        return ("constant", n.target)
    if n.kind == "state":
        return ("state", n.target, n.kwargs.get("attr", "data"))
    return None


def cse(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` with duplicate pure nodes merged into their first occurrence."""
    g = graph.copy() if _copy else graph
    info = Info(g)
    table: dict = {}
    dead = []
    for n in list(g.nodes):
        if n.kind in SIDE_EFFECTS:
            table.clear()
            continue
        if n.kind == "call" and (is_random(n) or n in info.ctx):
            continue
        key = _key(n)
        if key is None:
            continue
        first = table.get(key)
        if first is None:
            table[key] = n
            continue
        if n.shape != first.shape or n.dtype != first.dtype:
            continue
        # state reads of one slot are the same live array anyway
        if n.kind != "state" and not info.may_share(n):
            continue
        info.replace(n, first)
        dead.append(n)
    erase_nodes(g, dead)
    return g
