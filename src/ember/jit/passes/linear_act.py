"""``relu(linear(x, w, b))`` at a few rows becomes one ``fused`` node: one C kernel call.

At batch 1 a linear layer costs more in calls than in math, and its relu is one more call
and one more array. The pair is rewritten when

* the relu is the linear's only reader and no side-effect node lies between them;
* neither runs with a real ctx (no ``backward`` node reads what they saved);
* the linear's result is 2-D float32/float64, small enough for the kernel
  (``ember.backend.cext.linear_fits``: a few rows), and the kernel builds here
  (``ember.backend.cext.linear_kernel``: a C compiler, ``EMBER_JIT_BACKEND`` not ``numpy``).

The relu node becomes the fused node (its name, shape and dtype stay); its ``target`` is a
:class:`LinearActExecutor` called on the linear's arguments. The executor hands the arrays
to the kernel, which checks them; where they do not qualify (a layout or dtype the kernel
refuses) it runs the ops' forwards one by one, so declared shapes are never trusted.
Results differ from the ops only by the order of the dot products' sums.

Example (where the kernel builds, the graph's one line is
``relu: f32[1, 2] = fused(x, w, ops='linear,relu', backend='c')``; else it is unchanged):
    >>> import ember.nn.functional  # registers the linear op
    >>> from ember.jit.ir import Graph
    >>> from ember.jit.passes.linear_act import linear_act
    >>> g = Graph()
    >>> x = g.placeholder("x", (1, 3), "float32")
    >>> w = g.placeholder("w", (2, 3), "float32")
    >>> y = g.call("relu", (g.call("linear", (x, w), {}, (1, 2), "float32"),), {}, (1, 2),
    ...            "float32")
    >>> _ = g.output((y,))
    >>> print(linear_act(g))  # doctest: +ELLIPSIS
    graph(x: f32[1, 3], w: f32[2, 3]):
        ...relu: f32[1, 2] = ...
        return (relu,)
"""

from __future__ import annotations

from ...ops.registry import NULL_CTX, OPS
from ..ir import SIDE_EFFECTS, Graph, Node
from . import Info, erase_nodes

__all__ = ["linear_act", "LinearActExecutor"]

_FLOATS = ("float32", "float64")


class LinearActExecutor:
    """Runs ``relu(linear(x, w[, b]))``: ``executor(x, w, b=None) -> array``.

    ``kernel`` is ``ember.backend.cext.linear_kernel()``; arrays it refuses (TypeError or
    ValueError: another dtype, strides, a broadcast bias) go through the ops' forwards.
    """

    ops = ("linear", "relu")
    backend = "c"

    def __init__(self, kernel) -> None:
        self.kernel = kernel
        self._linear = OPS["linear"].forward
        self._relu = OPS["relu"].forward

    def __repr__(self) -> str:
        return f"linear_act[{','.join(self.ops)}]"

    def __call__(self, x, w, b=None):
        try:
            return self.kernel(x, w, b, None, True)
        except (TypeError, ValueError):
            return self._relu(NULL_CTX, self._linear(NULL_CTX, x, w, b))


def _pair(relu: Node, info: Info) -> Node | None:
    """The linear node ``relu`` can absorb, or None."""
    if relu.kind != "call" or relu.target != "relu" or relu.kwargs or relu in info.ctx:
        return None
    if len(relu.args) != 1 or not isinstance(relu.args[0], Node):
        return None
    lin = relu.args[0]
    if lin.kind != "call" or lin.target != "linear" or lin.kwargs or lin in info.ctx:
        return None
    if info.users[lin] != [relu] or "n_out" in lin.meta or len(lin.args) not in (2, 3):
        return None
    if not all(isinstance(a, Node) for a in lin.args):
        return None
    w = lin.args[1]
    if lin.dtype not in _FLOATS or relu.dtype != lin.dtype or lin.shape is None or \
            len(lin.shape) != 2 or w.shape is None or len(w.shape) != 2:
        return None
    from ...backend.cext import linear_fits
    if not linear_fits(lin.shape[0], *w.shape):
        return None
    start, end = info.index[lin], info.index[relu]
    if any(n.kind in SIDE_EFFECTS for n in info.graph.nodes[start + 1:end]):
        return None
    return lin


def linear_act(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` with each qualifying ``relu(linear(...))`` one fused node."""
    g = graph.copy() if _copy else graph
    info = Info(g)
    pairs = [(lin, n) for n in g.nodes if (lin := _pair(n, info)) is not None]
    if not pairs:
        return g
    from ...backend import cext
    try:
        kernel = cext.linear_kernel()
    except RuntimeError:  # EMBER_JIT_BACKEND=c without a compiler: the graph stays as is
        return g
    if kernel is None:
        return g
    ex = LinearActExecutor(kernel)
    for lin, relu in pairs:
        relu.kind = "fused"
        relu.target = ex
        relu.args = lin.args
        relu.kwargs = {"ops": ",".join(ex.ops), "backend": ex.backend}
        meta = {"fused": [lin.name, relu.name]}
        if "rg" in relu.meta:
            meta["rg"] = relu.meta["rg"]
        relu.meta = meta
    erase_nodes(g, [lin for lin, _ in pairs])
    return g
