"""Constant folding: a pure call whose inputs are all constants runs once, at compile time.

The node becomes a ``constant`` holding ``op.forward(NULL_CTX, ...)``'s result (a private
copy). Not folded: random ops, calls run with a real ctx, multi-output calls, calls
reading a constant that a ``write`` changes, results over ``MAX_ELEMENTS`` elements or
whose shape/dtype differ from the node's, calls that raise (the error stays at run time),
and values whose memory escapes (returned, written, handed to an effect): a returned
constant would be one array shared by every call's result.

Example:
    >>> import numpy as np
    >>> from ember.jit.ir import Graph
    >>> from ember.jit.passes.constfold import constfold
    >>> g = Graph()
    >>> x = g.placeholder("x", (2,), "float32")
    >>> g.constants["c"] = np.array([1.0, 2.0], np.float32)
    >>> c = g.add("constant", "c", (), None, (2,), "float32")
    >>> e = g.call("exp", (c,), {}, (2,), "float32")
    >>> _ = g.output((g.call("mul", (x, e), {}, (2,), "float32"),))
    >>> constfold(g).ops()
    ['mul']
"""

from __future__ import annotations

import warnings

from ...backend import xp
from ...ops.registry import NULL_CTX, OPS
from ..ir import Graph, map_nodes
from . import Info, is_random

__all__ = ["constfold", "MAX_ELEMENTS"]

#: results larger than this stay computed at run time (graphs stay small)
MAX_ELEMENTS = 1 << 20


def _dtype_name(a) -> str:
    return a.dtype.name if a.dtype.kind != "b" else "bool"


def constfold(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` with calls on constants replaced by their values."""
    g = graph.copy() if _copy else graph
    info = Info(g)
    written = info.written_roots()
    n_fold = 0
    for n in g.nodes:
        if n.kind != "call" or n in info.ctx or is_random(n) or "n_out" in n.meta:
            continue
        op = OPS.get(n.target)
        if op is None or n.shape is None:
            continue
        ins = n.inputs
        if any(i.kind != "constant" or i in written for i in ins):
            continue
        if _size(n.shape) > MAX_ELEMENTS or info.escapes(n):
            continue
        args = map_nodes(n.args, lambda c: g.constants[c.target])
        try:
            with warnings.catch_warnings(), xp.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                out = op.forward(NULL_CTX, *args, **n.kwargs)
        except Exception:  # noqa: BLE001 - the call raises at run time, as it should
            continue
        if type(out) is tuple:
            continue
        out = xp.array(out, copy=True)
        if tuple(out.shape) != tuple(n.shape) or _dtype_name(out) != n.dtype:
            continue
        key = f"fold{n_fold}"
        while key in g.constants:
            n_fold += 1
            key = f"fold{n_fold}"
        n_fold += 1
        g.constants[key] = out
        n.kind, n.target, n.args, n.kwargs, n.meta = "constant", key, (), {}, {}
    return g


def _size(shape) -> int:
    s = 1
    for d in shape:
        s *= d
    return s

