"""``relu(linear(x, w, b))`` becomes one ``fused`` node: one C kernel call.

At batch 1 a linear layer costs more in calls than in math, and its relu is one more call
and one more array; at a few hundred rows the relu is one more pass over the output,
which the GEMM's tile applies while it is still in registers. The pair is rewritten when

* the relu is the linear's only reader and no side-effect node lies between them;
* neither runs with a real ctx (no ``backward`` node reads what they saved);
* the linear's result is 2-D float32/float64 of a size a C kernel takes
  (``ember.backend.cgemm.c_linear_fits``), and the kernels build here (a C compiler,
  ``EMBER_JIT_BACKEND`` not ``numpy``).

A linear that meets the rest but has no such relu becomes a fused node of its own
(``ops='linear'``), and so does a 2-D float ``matmul`` of up to ``cgemm.MAX_MACS``
multiply-adds (``ops='matmul'``: the products of a recorded backward). Where no BLAS op
(``BLAS_OPS``), nor the backward node of one, is left in the graph, the kernels may use
OpenMP threads: the graph then never hands the cores from OpenMP's pool to OpenBLAS's
(see ``ember.backend.cgemm.c_linear``); otherwise products that want threads stay BLAS's.

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

__all__ = ["linear_act", "LinearActExecutor", "GemmExecutor", "BLAS_OPS"]

_FLOATS = ("float32", "float64")


#: ops that run BLAS (or whole layers of it): a graph with any of them left keeps the C
#: GEMM on one thread, so that OpenMP's and OpenBLAS's worker pools never meet
BLAS_OPS = frozenset({"linear", "matmul", "einsum", "convolution", "convolution_backward_weight",
                      "conv_transpose", "scaled_dot_product_attention", "rnn_cell_step",
                      "rnn_layer", "linalg_inv", "linalg_solve"})


class LinearActExecutor:
    """Runs ``relu(linear(x, w[, b]))`` (or, with ``relu=False``, ``linear`` alone):
    ``executor(x, w, b=None) -> array``.

    ``kernel`` is ``ember.backend.cgemm.c_linear``; arrays it has no kernel for (it returns
    None: another dtype, size or layout, a broadcast bias) go through the ops' forwards.
    ``parallel`` is passed on: whether the GEMM may use OpenMP threads. ``runner``
    (``cgemm.gemm_runner``, or None) gives the GEMM's call for the sizes and dtype of the
    last call, kept while they repeat (one node, one size: the plan cost 1-2 us a call).
    The memory pass makes variants writing into a buffer kept between calls
    (``with_out``).
    """

    backend = "c"

    def __init__(self, kernel, relu: bool = True, parallel: bool = False,
                 runner=None) -> None:
        self.kernel = kernel
        self.relu = relu
        self.parallel = parallel
        self.runner = runner
        self.ops = ("linear", "relu") if relu else ("linear",)
        self.out_buffer = None
        self._linear = OPS["linear"].forward
        self._relu = OPS["relu"].forward
        self._sizes = self._run = self._dest = None

    def __repr__(self) -> str:
        return f"linear_act[{','.join(self.ops)}]"

    def with_out(self, buffer) -> LinearActExecutor:
        """A copy that writes its result into ``buffer`` (a ``memory.Buffer``): a fresh
        array of a few hundred KB costs its page faults on every call."""
        new = LinearActExecutor(self.kernel, self.relu, self.parallel, self.runner)
        new.out_buffer = buffer
        return new

    def __call__(self, x, w, b=None):
        sizes = (x.shape, w.shape, x.dtype)
        if sizes != self._sizes:
            self._sizes = sizes
            self._run = self._dest = None
            if x.ndim == 2 and w.ndim == 2:
                self._run, self._dest = _bind(self, x.shape[0], *w.shape, x.dtype, True)
        out = None
        if self._run is not None:   # c_linear would run this very call: not tried twice
            out = self._run(x, w.T, self._dest, b, self.relu)
        elif x.ndim == 2 and w.ndim == 2:
            buf = self.out_buffer
            dest = None if buf is None else buf.get((x.shape[0], w.shape[0]), x.dtype)
            out = self.kernel(x, w, b, self.relu, self.parallel, dest)
        if out is None:
            out = self._linear(NULL_CTX, x, w, b)
            if self.relu:
                out = self._relu(NULL_CTX, out)
        return out


def _bind(ex, m: int, n: int, k: int, dtype, linear: bool) -> tuple:
    """``(run, out)`` for executor ``ex``'s (m, k) @ (k, n) products: the GEMM's call
    (``runner``'s, or None) and the kept output array (or None)."""
    if ex.runner is None:
        return None, None
    run = ex.runner(m, n, k, ex.parallel, linear)
    buf = ex.out_buffer
    return run, (buf.get((m, n), dtype) if run is not None and buf is not None else None)


class GemmExecutor:
    """Runs a 2-D ``matmul``: ``executor(a, b) -> array``. ``kernel`` is
    ``ember.backend.cgemm.c_matmul`` (``parallel``: whether it may use OpenMP threads);
    arrays it has no kernel for go through the op's forward, which also raises the op's
    errors. ``runner`` and ``with_out`` as for :class:`LinearActExecutor`."""

    backend = "c"
    ops = ("matmul",)

    def __init__(self, kernel, parallel: bool = False, runner=None) -> None:
        self.kernel = kernel
        self.parallel = parallel
        self.runner = runner
        self.out_buffer = None
        self._matmul = OPS["matmul"].forward
        self._sizes = self._run = self._dest = None

    def __repr__(self) -> str:
        return "linear_act[matmul]"

    def with_out(self, buffer) -> GemmExecutor:
        """A copy that writes its result into ``buffer`` (a ``memory.Buffer``)."""
        new = GemmExecutor(self.kernel, self.parallel, self.runner)
        new.out_buffer = buffer
        return new

    def __call__(self, a, b):
        sizes = (a.shape, b.shape, a.dtype)
        if sizes != self._sizes:
            self._sizes = sizes
            self._run = self._dest = None
            if a.ndim == 2 and b.ndim == 2 and a.dtype == b.dtype:
                self._run, self._dest = _bind(self, a.shape[0], b.shape[1], a.shape[1],
                                              a.dtype, False)
        if self._run is not None:   # c_matmul would run this very call: not tried twice
            out = self._run(a, b, self._dest, None, False)
        else:
            buf = self.out_buffer
            dest = None
            if buf is not None and a.ndim == 2 and b.ndim == 2:
                dest = buf.get((a.shape[0], b.shape[1]), a.dtype)
            out = self.kernel(a, b, self.parallel, dest)
        return out if out is not None else self._matmul(NULL_CTX, a, b)


def _matmul_ok(n: Node, info: Info) -> bool:
    """Whether the matmul node ``n`` is a 2-D product the C GEMM takes."""
    if n.kind != "call" or n.target != "matmul" or n.kwargs or n in info.ctx:
        return False
    if "n_out" in n.meta or len(n.args) != 2 or not all(isinstance(a, Node) for a in n.args):
        return False
    a, b = n.args
    if n.dtype not in _FLOATS or any(x.shape is None or len(x.shape) != 2 for x in (a, b)):
        return False
    from ...backend.cgemm import MAX_MACS
    return 0 < a.shape[0] * a.shape[1] * b.shape[1] <= MAX_MACS


def _blas(n: Node, taken: set) -> bool:
    """Whether node ``n``, left as it is, may run BLAS (a backward node: its op's)."""
    if n.kind == "backward":
        src = n.args[0] if n.args else None
        return not isinstance(src, Node) or src.kind != "call" or src.target in BLAS_OPS
    return n.kind == "call" and n.target in BLAS_OPS and n not in taken


def _linear_ok(lin: Node, info: Info) -> bool:
    """Whether the linear node ``lin`` can run as a C kernel call."""
    if lin.kind != "call" or lin.target != "linear" or lin.kwargs or lin in info.ctx:
        return False
    if "n_out" in lin.meta or len(lin.args) not in (2, 3):
        return False
    if not all(isinstance(a, Node) for a in lin.args):
        return False
    w = lin.args[1]
    if lin.dtype not in _FLOATS or lin.shape is None or len(lin.shape) != 2 or \
            w.shape is None or len(w.shape) != 2:
        return False
    from ...backend.cgemm import c_linear_fits
    return c_linear_fits(lin.shape[0], *w.shape, parallel=True)


def _pair(relu: Node, info: Info) -> Node | None:
    """The linear node ``relu`` can absorb, or None."""
    if relu.kind != "call" or relu.target != "relu" or relu.kwargs or relu in info.ctx:
        return None
    if len(relu.args) != 1 or not isinstance(relu.args[0], Node):
        return None
    lin = relu.args[0]
    if not _linear_ok(lin, info) or info.users[lin] != [relu] or relu.dtype != lin.dtype:
        return None
    start, end = info.index[lin], info.index[relu]
    if any(n.kind in SIDE_EFFECTS for n in info.graph.nodes[start + 1:end]):
        return None
    return lin


def linear_act(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` with each qualifying ``relu(linear(...))``, each other
    qualifying ``linear`` and each qualifying 2-D ``matmul`` one fused node."""
    g = graph.copy() if _copy else graph
    info = Info(g)
    pairs = [(lin, n) for n in g.nodes if (lin := _pair(n, info)) is not None]
    paired = {lin for lin, _ in pairs}
    alone = [n for n in g.nodes if n not in paired and _linear_ok(n, info)]
    products = [n for n in g.nodes if _matmul_ok(n, info)]
    if not pairs and not alone and not products:
        return g
    from ...backend import cext, cgemm
    try:
        built = cext.linear_kernel() is not None and cgemm.gemm_kernel() is not None
    except RuntimeError:  # EMBER_JIT_BACKEND=c without a compiler: the graph stays as is
        return g
    if not built:
        return g
    taken = paired | set(alone) | set(products)
    parallel = not any(_blas(n, taken) for n in g.nodes)
    # an executor a node: each keeps the GEMM's call for its node's sizes
    for relu_ex in (True, False):
        for lin, node in (pairs if relu_ex else [(n, n) for n in alone]):
            ex = LinearActExecutor(cgemm.c_linear, relu_ex, parallel, cgemm.gemm_runner)
            _make_fused(node, ex, lin.args, [lin.name, node.name] if relu_ex else [lin.name])
    for node in products:
        mm = GemmExecutor(cgemm.c_matmul, parallel, cgemm.gemm_runner)
        _make_fused(node, mm, node.args, [node.name])
    erase_nodes(g, [lin for lin, _ in pairs])
    return g


def _make_fused(node: Node, ex, args: tuple, names: list) -> None:
    node.kind = "fused"
    node.target = ex
    node.args = args
    node.kwargs = {"ops": ",".join(ex.ops), "backend": ex.backend}
    meta = {"fused": names}
    if "rg" in node.meta:
        meta["rg"] = node.meta["rg"]
    node.meta = meta
