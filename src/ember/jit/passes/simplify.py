"""Algebraic simplification: identities that hold bit for bit.

* ``x * 1``, ``1 * x``, ``x / 1``, ``x ** 1`` -> ``x``; ``x - 0`` -> ``x``; ``x + 0`` and
  ``0 + x`` -> ``x`` for integer ``x`` (for floats only with ``-0.0``: ``-0.0 + 0.0`` is
  ``+0.0``, so ``x + 0.0`` is not ``x``).
* ``neg(neg(x))`` -> ``x``.
* ``permute(permute(x, a), b)`` -> one permute, or ``x`` when they cancel;
  ``swap_last(swap_last(x))`` -> ``x``.
* ``reshape(reshape(x, s1), s2)`` -> ``reshape(x, s2)``; ``reshape(x, x.shape)`` -> ``x``.
* ``sum(expand(x))`` over exactly the expanded leading dims of an int64 ``x`` ->
  ``x * count`` (exact in integer arithmetic; for floats the summation order rounds).

A rewrite needs the node's dtype and shape to equal the replacement's (``x * 1`` with int
``x`` and a float ``1`` promotes, so it stays). A value replaced by another node's array
must not be returned, written or kept by an effect or a ctx, and nothing may change memory
while it is read (see ``Info.may_share``). Nodes run with a real ctx are never rewritten.

Example:
    >>> from ember.jit.ir import Graph
    >>> from ember.jit.passes.simplify import simplify
    >>> g = Graph()
    >>> x = g.placeholder("x", (3,), "float32")
    >>> y = g.call("mul", (x, 1), {}, (3,), "float32")
    >>> _ = g.output((g.call("exp", (y,), {}, (3,), "float32"),))
    >>> print(simplify(g))
    graph(x: f32[3]):
        exp: f32[3] = exp(x)
        return (exp,)
"""

from __future__ import annotations

import math

from ...ops.registry import OPS
from ..ir import Graph, Node
from . import Info, erase_nodes

__all__ = ["simplify"]


def _scalar(a):
    """The value of a Python number or a one-element constant node, else None."""
    if type(a) in (int, float):
        return a
    if isinstance(a, Node) and a.kind == "constant" and a.shape is not None:
        arr = a.graph.constants.get(a.target)
        if arr is not None and arr.size == 1 and arr.dtype.kind in "iuf":
            return arr.reshape(()).item()
    return None


def _is(v, want: float, sign: float | None = None) -> bool:
    if v is None or v != want:
        return False
    return sign is None or math.copysign(1.0, v) == sign


def _identity_operand(n: Node):
    """For ``x op c`` with ``c`` the op's identity: ``x``, else None."""
    if len(n.args) != 2 or n.kwargs:
        return None
    a, b = n.args
    t = n.target
    is_int = n.dtype is not None and n.dtype.startswith(("int", "uint"))
    cands = []
    if t == "mul":
        cands = [(a, _scalar(b), 1, None), (b, _scalar(a), 1, None)]
    elif t in ("div", "pow"):
        cands = [(a, _scalar(b), 1, None)]
    elif t == "sub":
        cands = [(a, _scalar(b), 0, None if is_int else 1.0)]
    elif t == "add":
        sign = None if is_int else -1.0
        cands = [(a, _scalar(b), 0, sign), (b, _scalar(a), 0, sign)]
    for x, v, want, sign in cands:
        if isinstance(x, Node) and _is(v, want, sign) and x.shape == n.shape \
                and x.dtype == n.dtype:
            return x
    return None


def _compose(d1, d2) -> tuple:
    return tuple(d1[j] for j in d2)


def simplify(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` with exact algebraic identities applied."""
    g = graph.copy() if _copy else graph
    info = Info(g)
    dead = []

    def rewire(n: Node, old: Node, new: Node) -> None:
        n.replace_input(old, new)
        if n in info.users[old]:
            info.users[old].remove(n)
        if n not in info.users[new]:
            info.users[new].append(n)

    for n in g.nodes:
        if n.kind != "call" or n in info.ctx or n in dead:
            continue
        t = n.target
        repl = None
        src = n.args[0] if n.args and isinstance(n.args[0], Node) else None
        if t in ("mul", "div", "pow", "sub", "add"):
            repl = _identity_operand(n)
        elif t == "neg" and src is not None and src.kind == "call" and src.target == "neg":
            repl = src.args[0] if isinstance(src.args[0], Node) else None
        elif t == "swap_last" and src is not None and src.kind == "call" and \
                src.target == "swap_last":
            repl = src.args[0]
        elif t == "permute" and src is not None and src.kind == "call" and \
                src.target == "permute":
            dims = _compose(tuple(src.kwargs["dims"]), tuple(n.kwargs["dims"]))
            if dims == tuple(range(len(dims))):
                repl = src.args[0]
            else:
                rewire(n, src, src.args[0])
                n.kwargs = {**n.kwargs, "dims": dims}
        elif t == "reshape" and src is not None:
            if src.shape == n.shape:
                repl = src
            elif src.kind == "call" and src.target == "reshape" and info.may_share(n):
                rewire(n, src, src.args[0])
        elif t == "sum" and src is not None:
            _sum_of_expand(g, info, n, src)
        if repl is None or not isinstance(repl, Node):
            continue
        if repl.shape != n.shape or repl.dtype != n.dtype or not info.may_share(n):
            continue
        info.replace(n, repl)
        dead.append(n)
    erase_nodes(g, dead)
    return g


def _sum_of_expand(g: Graph, info: Info, n: Node, src: Node) -> None:
    """``sum(expand(x, shape), dim=lead)`` of int64 -> ``mul(x, count)`` (in place)."""
    if src.kind != "call" or src.target != "expand" or n.dtype != "int64" or \
            src.dtype != "int64" or n.kwargs.get("dtype") is not None:
        return
    x = src.args[0]
    if not isinstance(x, Node) or x.shape is None or src.shape is None:
        return
    lead = len(src.shape) - len(x.shape)
    dim = n.kwargs.get("dim")
    dims = (dim,) if isinstance(dim, int) else tuple(dim) if dim is not None else None
    if lead <= 0 or dims is None or n.kwargs.get("keepdim"):
        return
    dims = tuple(sorted(d % len(src.shape) for d in dims))
    if dims != tuple(range(lead)) or tuple(src.shape[lead:]) != tuple(x.shape) or \
            n.shape != x.shape:
        return
    count = 1
    for d in src.shape[:lead]:
        count *= d
    info.users[src].remove(n)
    info.users[x].append(n)
    n.target, n.args, n.kwargs = "mul", (x, count), {}
    n.meta = {k: v for k, v in n.meta.items() if k not in ("op",)}
    n.meta["op"] = OPS["mul"]
