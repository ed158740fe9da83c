"""Memory planning for fused nodes: reuse output buffers across calls, write in place.

* In place: a fused node (NumPy executor) whose full-shape input is a temporary read by
  nothing else (a fresh call result or another fused node, never a placeholder, state,
  constant, view or output) writes its result into that input's array
  (``kwargs["inplace"]`` = the argument index; checked again at run time: the array must
  be a writeable C-contiguous array owning its memory, else a new one is made). The C
  executor is left out: its loops declare inputs and output ``restrict``.
* Persistent buffers: a fused node (C or chunked elementwise, or a ``linear_act`` kernel
  call) whose value nobody can keep gets a buffer allocated on
  the first call and reused by later calls (``kwargs["out"]`` = buffer id); nodes whose
  live ranges (definition to last use, by list index) do not overlap share one buffer.
  Kept by nobody means: every reader is a fused node, a guard or a call of an op that
  returns a fresh array, run without a ctx; not an output, write, effect, grad_acc,
  backward, select or view.

Example:
    >>> import ember
    >>> from ember.jit.passes import run_passes
    >>> f = ember.jit.trace(lambda x: ((x * 2).tanh() @ x.T * 0.01).exp() * 3 + 1,
    ...                     (ember.ones(200, 200),), passes=[])
    >>> g, _ = run_passes(f.graph, ["fusion", "memory"])
    >>> [n.kwargs.get("out") for n in g.nodes if n.kind == "fused"]
    [0, None]
"""

from __future__ import annotations

import numpy as np

from ..ir import Graph, Node
from . import FRESH_OUTPUT, Info, fresh_result, is_view
from .fusion import FusedExecutor
from .linear_act import GemmExecutor, LinearActExecutor

__all__ = ["memory", "Buffer"]


class Buffer:
    """An output array kept between calls (made, or remade, for the shape asked)."""

    def __init__(self, ident: int) -> None:
        self.id = ident
        self.array = None

    def get(self, shape: tuple, dtype) -> np.ndarray:
        a = self.array
        if a is None or a.shape != shape or a.dtype != dtype:
            a = self.array = np.empty(shape, dtype)
        return a

    def __repr__(self) -> str:
        return f"Buffer({self.id})"


def _executor(n: Node):
    ex = n.target if n.kind == "fused" else None
    if isinstance(ex, (LinearActExecutor, GemmExecutor)):
        return ex
    return ex if isinstance(ex, FusedExecutor) and ex.mode in ("c", "chunks") else None


def _private_reader(u: Node, info: Info) -> bool:
    if u.kind in ("fused", "guard"):
        return True
    return u.kind == "call" and u.target in FRESH_OUTPUT and u not in info.ctx and \
        not is_view(u)


def memory(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` whose fused nodes write into reused or dying memory."""
    g = graph.copy() if _copy else graph
    info = Info(g)
    donated: set = set()
    for n in g.nodes:
        ex = _executor(n)
        if ex is None or getattr(ex, "mode", None) != "chunks":
            continue
        for k, (a, kind) in enumerate(zip(n.args, ex.kinds)):
            if kind != "full" or a in donated or not fresh_result(a, info.ctx):
                continue
            if info.users[a] != [n] or a.dtype != n.dtype or a.shape != n.shape:
                continue
            donated.add(a)
            n.target = ex.with_inplace(k)
            n.kwargs = {**n.kwargs, "inplace": k}
            break
    pool: list[tuple[Buffer, tuple, str, int]] = []   # (buffer, shape, dtype, busy until)
    for n in g.nodes:
        ex = _executor(n)
        if ex is None or n in donated or "inplace" in n.kwargs:
            continue
        users = info.users[n]
        if not all(_private_reader(u, info) for u in users):
            continue
        start = info.index[n]
        end = max((info.index[u] for u in users), default=start)
        for j, (buf, shape, dtype, busy) in enumerate(pool):
            if shape == n.shape and dtype == n.dtype and busy < start:
                pool[j] = (buf, shape, dtype, end)
                break
        else:
            buf = Buffer(len(pool))
            pool.append((buf, n.shape, n.dtype, end))
        n.target = ex.with_out(buf)
        n.kwargs = {**n.kwargs, "out": buf.id}
    return g
