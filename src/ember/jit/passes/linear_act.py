"""``relu(linear(x, w, b))`` becomes one ``fused`` node: one C kernel call.

At batch 1 a linear layer costs more in calls than in math, and its relu is one more call
and one more array; at a few hundred rows the relu is one more pass over the output,
which the GEMM's tile applies while it is still in registers. The pair is rewritten when

* the relu is the linear's only reader and no side-effect node lies between them;
* neither runs with a real ctx (no ``backward`` node reads what they saved);
* the linear's result is 2-D float32/float64 of a size a C kernel takes
  (``ember.backend.cgemm.c_linear_fits``), and the kernels build here (a C compiler,
  ``EMBER_JIT_BACKEND`` not ``numpy``).

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

    ``kernel`` is ``ember.backend.cgemm.c_linear``; arrays it has no kernel for (it returns
    None: another dtype, size or layout, a broadcast bias) go through the ops' forwards.
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
        out = self.kernel(x, w, b, True) if x.ndim == 2 and w.ndim == 2 else None
        if out is None:
            out = self._relu(NULL_CTX, self._linear(NULL_CTX, x, w, b))
        return out


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
    from ...backend.cgemm import c_linear_fits
    if not c_linear_fits(lin.shape[0], *w.shape):
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
    from ...backend import cext, cgemm
    try:
        built = cext.linear_kernel() is not None and cgemm.gemm_kernel() is not None
    except RuntimeError:  # EMBER_JIT_BACKEND=c without a compiler: the graph stays as is
        return g
    if not built:
        return g
    ex = LinearActExecutor(cgemm.c_linear)
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
