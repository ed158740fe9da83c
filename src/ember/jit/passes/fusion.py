"""Elementwise fusion: chains/DAGs of elementwise calls become one ``fused`` node.

A group is a set of call nodes of ``ELEMENTWISE`` ops, all of one float dtype and one shape
(the group's), whose values are read only inside the group except the last one (its root).
Group inputs are full-shape arrays, 0-d/one-element arrays, Python numbers or trailing-dim
vectors broadcast along rows. Nodes move only forward to the root's position and never
across a side-effect node; random ops and calls run with a real ctx never join a group.

The fused node's ``target`` is a :class:`FusedExecutor` (``fused[mul,add,gelu]``) called on
the group's inputs; its ``mode`` (shown with ``backend`` in the node's kwargs) is

* ``"c"`` (backend ``"c"``): one C loop from ``ember.backend.ckernels.compile_elementwise``,
  for groups of at least ``C_MIN`` elements (``C_MIN_FAST`` where the loop is called
  through ``ember.backend.ckernels_call``'s extension module rather than ctypes) when a
  compiler works, ``EMBER_JIT_BACKEND`` is not ``numpy`` and every op has a C form;
* ``"chunks"`` (backend ``"numpy"``): the ops on cache-sized chunks (``CHUNK`` elements)
  with ``out=`` into preallocated scratch buffers, so intermediates never leave the cache
  (groups of at least ``SMALL`` elements);
* ``"ops"`` (backend ``"numpy"``): op by op on whole arrays, for small groups, where
  chunking or a C call costs more than it saves.

Results equal op-by-op execution of the ops' forwards: bit for bit on the NumPy paths, and
within the C kernels' documented accuracy (a few ulp) for transcendental functions.

Example:
    >>> from ember.jit.ir import Graph
    >>> from ember.jit.passes.fusion import fusion
    >>> g = Graph()
    >>> x = g.placeholder("x", (4,), "float32")
    >>> y = g.call("mul", (x, 2.0), {}, (4,), "float32")
    >>> z = g.call("tanh", (y,), {}, (4,), "float32")
    >>> _ = g.output((z,))
    >>> print(fusion(g))  # doctest: +ELLIPSIS
    graph(x: f32[4]):
        tanh: f32[4] = fused(x, ops='mul,tanh', backend='numpy', mode='ops')
        return (tanh,)
"""

from __future__ import annotations

import numpy as np

from ...backend import xp
from ...ops.activation import _TANH_C, _TANH_K
from ...ops.registry import NULL_CTX, OPS
from ..ir import SIDE_EFFECTS, Graph, Node
from . import ELEMENTWISE, Info, erase_nodes, is_random

__all__ = ["fusion", "FusedExecutor", "CHUNK", "SMALL", "C_MIN", "C_MIN_FAST"]

#: elements per chunk of the NumPy executor (a few scratch buffers stay in L2)
CHUNK = 1 << 15
#: groups with fewer elements run op by op (chunking and C calls cost more than they save)
SMALL = 1 << 15
#: groups with fewer elements use C only through the extension-module call (a ctypes call
#: costs a few microseconds)
C_MIN = 1 << 12
#: groups with fewer elements never use C: op by op is about as fast, and costs no build
C_MIN_FAST = 1 << 9

_FLOATS = ("float16", "float32", "float64")
#: comparisons: their bool results may live inside a group (never leave it)
_COMPARE = frozenset({"gt", "lt", "ge", "le", "eq", "ne"})

#: chunk implementations with ``out=``; others run their forward on the chunk
_UFUNC = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.true_divide,
          "maximum": np.maximum, "minimum": np.minimum, "neg": np.negative, "exp": np.exp,
          "log": np.log, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos, "tanh": np.tanh,
          "abs": np.absolute, "expm1": np.expm1, "log1p": np.log1p}


def _input_kind(shape: tuple, out_shape: tuple) -> str | None:
    """How an input of ``shape`` broadcasts to ``out_shape``: full, scalar, row or None."""
    if shape == out_shape:
        return "full"
    if len(shape) > len(out_shape):
        return None
    size = 1
    for d in shape:
        size *= d
    if size == 1:
        return "scalar"
    if out_shape and shape[-1] == out_shape[-1] and size == shape[-1]:
        return "row"
    return None


def _fusible(n: Node, info: Info) -> bool:
    """An elementwise call on floats of one dtype; also a comparison of such floats (a
    mask, kept inside a group) and a cast to float (of a mask, say: relu's gradient)."""
    if n.kind != "call" or n in info.ctx or is_random(n) or "n_out" in n.meta:
        return False
    if n.target in ELEMENTWISE or n.target == "cast":
        if n.dtype not in _FLOATS:
            return False
    elif n.target not in _COMPARE or n.dtype != "bool":
        return False
    if n.shape is None or any(isinstance(v, Node) for v in n.kwargs.values()):
        return False
    nodes = [a for a in n.args if isinstance(a, Node)]
    if not nodes:
        return False
    if n.target == "cast":
        arg_dtypes = (*_FLOATS, "bool")
    elif n.target in _COMPARE:
        arg_dtypes = (nodes[0].dtype,)
    else:
        arg_dtypes = (n.dtype,)
    for a in n.args:
        if isinstance(a, Node):
            if a.dtype not in arg_dtypes or a.shape is None or \
                    _input_kind(a.shape, n.shape) is None:
                return False
        elif type(a) not in (int, float):
            return False
    for k, v in n.kwargs.items():
        if not isinstance(v, (int, float, str, bool, type(None))) and not (
                n.target == "cast" and k == "dtype"):
            return False
    return True


def fusion(graph: Graph, _copy: bool = True) -> Graph:
    """A copy of ``graph`` with elementwise groups replaced by ``fused`` nodes."""
    g = graph.copy() if _copy else graph
    info = Info(g)
    fusible = {n for n in g.nodes if _fusible(n, info)}
    # position of the latest side effect at or before each index: a node may join a group
    # rooted later only if no side effect lies between them
    last_effect = []
    cur = -1
    for i, n in enumerate(g.nodes):
        if n.kind in SIDE_EFFECTS:
            cur = i
        last_effect.append(cur)
    taken: set = set()
    dead: list = []
    for root in reversed(list(g.nodes)):
        if root not in fusible or root in taken or root.dtype not in _FLOATS:
            continue
        ri = info.index[root]
        group = {root}
        changed = True
        while changed:
            changed = False
            for m in list(group):
                for p in m.inputs:
                    if p in group or p in taken or p not in fusible:
                        continue
                    if p.shape != root.shape or p.dtype != root.dtype and not (
                            p.target in _COMPARE and p.args[0].dtype == root.dtype):
                        continue
                    if last_effect[ri] > info.index[p]:
                        continue
                    if all(u in group for u in info.users[p]):
                        group.add(p)
                        changed = True
        if len(group) < 2:
            continue
        taken |= group
        order = sorted(group, key=info.index.__getitem__)
        _make_fused(root, order)
        dead += [m for m in order if m is not root]
    erase_nodes(g, dead)
    return g


def _make_fused(root: Node, order: list[Node]) -> None:
    """Turn ``root`` into the fused node of ``order`` (in list order, root last)."""
    pos = {m: j for j, m in enumerate(order)}
    inputs: list[Node] = []
    program = []
    for m in order:
        args = []
        for a in m.args:
            if isinstance(a, Node) and a in pos:
                args.append(("v", pos[a]))
            elif isinstance(a, Node):
                if a not in inputs:
                    inputs.append(a)
                args.append(("in", inputs.index(a)))
            else:
                args.append(("const", a))
        program.append((m.target, tuple(args), dict(m.kwargs)))
    kinds = tuple(_input_kind(a.shape, root.shape) for a in inputs)
    ex = FusedExecutor(program, kinds, root.shape, root.dtype)
    root.kind = "fused"
    root.target = ex
    root.args = tuple(inputs)
    root.kwargs = {"ops": ",".join(op for op, _, _ in program), "backend": ex.backend,
                   "mode": ex.mode}
    meta = {"fused": [m.name for m in order], "program": program}
    if "rg" in root.meta:
        meta["rg"] = root.meta["rg"]
    root.meta = meta


def _c_min() -> int:
    """The smallest group run in C: ``C_MIN_FAST`` when loops can be called through the
    extension module, else ``C_MIN`` (so no loop is built that ctypes would call too
    slowly to use)."""
    from ...backend import ckernels, ckernels_call
    try:
        ok = ckernels.available()
    except RuntimeError:
        return C_MIN
    return C_MIN_FAST if ok and ckernels_call.caller() is not None else C_MIN


class FusedExecutor:
    """Runs a fused elementwise program: ``executor(*inputs) -> array``.

    ``program``: ``[(op_name, args, params)]`` with args ``("in", i)``, ``("v", j)`` or
    ``("const", number)``; ``kinds``: per input ``"full"``, ``"scalar"`` or ``"row"``;
    ``shape``/``dtype``: the result's. ``backend`` is ``"c"`` or ``"numpy"``; ``mode`` is
    ``"c"``, ``"chunks"`` or ``"ops"`` (see the module docstring); ``mode=`` forces one
    (``"c"`` falls back to ``"chunks"`` when no kernel builds).
    The memory pass makes variants writing into a persistent buffer (``with_out``) or into
    a dying input (``with_inplace``).
    """

    def __init__(self, program, kinds, shape, dtype, mode: str | None = None) -> None:
        self.program = [(op, tuple(args), dict(params)) for op, args, params in program]
        self.kinds = tuple(kinds)
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.size = int(np.prod(self.shape, dtype=np.int64))
        self.out_buffer = None     # a Buffer shared with other nodes, or None
        self.inplace = None        # index of the input written into, or None
        self.kernel = None
        self._fns = [(OPS[op].forward, params) for op, _, params in self.program]
        self._fast = None
        if mode is None:
            mode = "c" if self.size >= _c_min() and self._build_c() and (
                self.size >= C_MIN or self._fast is not None) else \
                "chunks" if self.size >= SMALL else "ops"
        elif mode == "c" and not self._build_c():
            mode = "chunks"
        if mode not in ("c", "chunks", "ops"):
            raise ValueError(f"unknown fused executor mode {mode!r}")
        self.mode = mode
        self.backend = "c" if mode == "c" else "numpy"
        self._scratch = None
        self._rows = None

    def _build_c(self) -> bool:
        from ...backend import ckernels
        try:
            if not ckernels.available():
                return False
        except RuntimeError:
            return False
        prog = [(op, [a if a[0] != "const" else ("const", float(a[1])) for a in args], params)
                for op, args, params in self.program]
        self.kernel = ckernels.compile_elementwise(prog, len(self.kinds), self.dtype)
        if self.kernel is None:
            return False
        self._fast = self.kernel.bind(self.kinds, self.shape,
                                      self.shape[-1] if "row" in self.kinds else 0)
        return True

    def __repr__(self) -> str:
        return f"fused[{','.join(op for op, _, _ in self.program)}]"

    @property
    def ops(self) -> list[str]:
        return [op for op, _, _ in self.program]

    def _clone(self) -> FusedExecutor:
        new = object.__new__(FusedExecutor)
        new.__dict__.update(self.__dict__)
        new._scratch = None
        return new

    def with_out(self, buffer) -> FusedExecutor:
        """A copy that writes its result into ``buffer`` (reused across calls)."""
        new = self._clone()
        new.out_buffer, new.inplace = buffer, None
        return new

    def with_inplace(self, index: int) -> FusedExecutor:
        """A copy that writes its result into input ``index`` when that array allows it."""
        new = self._clone()
        new.out_buffer, new.inplace = None, index
        return new

    # ---- running ---------------------------------------------------------------------
    def __call__(self, *args):
        if self.mode == "ops":
            return self._run_ops(args)
        if self._fast is not None:
            out = self._output(args)
            try:
                self._fast(out, *args)
                return out
            except TypeError:  # e.g. a Python scalar or a strided input: prepare them
                pass
        arrays = self._prepare(args)
        out = self._output(arrays)
        if self.size == 0:
            return out
        if self.mode == "c":
            self.kernel(out, *arrays)
        else:
            with np.errstate(all="ignore"):
                self._run_chunks(out, arrays)
        return out

    def _run_ops(self, args):
        vals = []
        for (_, a, _), (fwd, params) in zip(self.program, self._fns):
            ins = [args[i] if t == "in" else vals[i] if t == "v" else i for t, i in a]
            vals.append(fwd(NULL_CTX, *ins, **params))
        return vals[-1]

    def _prepare(self, args) -> list:
        dt = self.dtype
        out = []
        for a, k in zip(args, self.kinds):
            if k == "scalar":
                a = xp.asarray(a, dt).reshape(())
            elif type(a) is not np.ndarray or a.dtype != dt or not a.flags.c_contiguous:
                a = np.ascontiguousarray(a, dt)
            if k == "row":
                a = a.reshape(-1)
                if a.size != self.shape[-1]:
                    raise ValueError(f"{self!r}: row input of {a.size} elements for a result "
                                     f"of shape {self.shape}")
            elif k == "full" and a.shape != self.shape:
                raise ValueError(f"{self!r}: input of shape {a.shape} for a result of shape "
                                 f"{self.shape}")
            out.append(a)
        return out

    def _output(self, arrays):
        k = self.inplace
        if k is not None:
            a = arrays[k]
            if a.shape == self.shape and a.dtype == self.dtype and a.flags.c_contiguous \
                    and a.flags.writeable and a.flags.owndata:
                return a
        elif self.out_buffer is not None:
            return self.out_buffer.get(self.shape, self.dtype)
        return np.empty(self.shape, self.dtype)

    def _run_chunks(self, out, arrays) -> None:
        if "row" in self.kinds:
            m = self.shape[-1]
            rows = self.size // m
            step = max(1, CHUNK // m)
            view = (rows, m)
        else:
            rows, step, view = self.size, CHUNK, (self.size,)
        ins = [a.reshape(view) if k == "full" else a for a, k in zip(arrays, self.kinds)]
        flat_out = out.reshape(view)
        n_vals = len(self.program)
        scratch = self._scratch
        if scratch is None:
            shape = (min(step, rows),) + view[1:]
            # one buffer per intermediate, plus one spare for ops computed in two steps
            scratch = self._scratch = [np.empty(shape, self.dtype) for _ in range(n_vals)]
        spare = scratch[-1]
        prog = self.program
        for s in range(0, rows, step):
            e = min(rows, s + step)
            cin = [a[s:e] if k == "full" else a for a, k in zip(ins, self.kinds)]
            vals = []
            for j, (op, a, params) in enumerate(prog):
                o = flat_out[s:e] if j == n_vals - 1 else scratch[j][:e - s]
                argv = [cin[i] if t == "in" else vals[i] if t == "v" else i for t, i in a]
                _chunk_op(op, o, argv, params, self._fns[j][0], spare[:e - s])
                vals.append(o)


def _chunk_op(op: str, out, args, params, fwd, spare) -> None:
    """``out[...] = op(*args, **params)``, without a temporary where a ufunc does it
    (``spare``: a scratch chunk no argument uses)."""
    uf = _UFUNC.get(op)
    if uf is not None and not params:
        uf(*args, out=out)
    elif op == "relu":
        np.maximum(args[0], 0, out=out)
    elif op == "gelu" and params.get("approximate") == "tanh":
        x = args[0]
        t = spare
        # the op's formula, operation by operation: 0.5 * x * (1 + tanh(K * (x + C*x*x*x)))
        np.multiply(_TANH_C, x, out=t)
        t *= x
        t *= x
        np.add(x, t, out=t)
        np.multiply(_TANH_K, t, out=t)
        np.tanh(t, out=t)
        np.add(1, t, out=t)
        np.multiply(0.5, x, out=out)
        out *= t
    else:
        out[...] = fwd(NULL_CTX, *args, **params)
