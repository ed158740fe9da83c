"""Running a graph: optimize it, generate its code, call it and wrap the results."""

from __future__ import annotations

import os

from ..autograd.engine import FREED_MSG, Node
from ..autograd.grad_mode import _state
from ..backend import xp
from ..tensor import Tensor
from .codegen import generate
from .errors import JitError
from .ir import storage_root
from .pytree import _rebuild

__all__ = ["CompiledGraph"]

_MUTATING = ("grad_acc", "effect")


class CompiledGraph:
    """A traced graph after its passes, with its generated program."""

    def __init__(self, graph, passes=None, tracer=None, rng_before=None,
                 strip_taps: bool = False) -> None:
        self.passes: list[str] = []
        #: the graph as traced, before passes (what ``TracedModule.save`` writes)
        self.source_graph = graph
        if strip_taps:
            graph = _strip_taps(graph)
        graph = self._optimize(graph, passes)
        self.graph = graph
        self.program = generate(graph)
        kinds = [n.kwargs.get("backend", "numpy") for n in graph.nodes if n.kind == "fused"]
        self.backend = ("numpy" if not kinds else
                        f"{'c' if 'c' in kinds else 'numpy'} ({len(kinds)} fused: "
                        f"{kinds.count('c')} C, {len(kinds) - kinds.count('c')} NumPy)")
        self.random = bool(tracer is not None and tracer.random_ops)
        self.rng_before = rng_before
        nodes = graph.nodes
        self._first_effect = next((i for i, n in enumerate(nodes) if n.kind in _MUTATING or (
            n.kind == "write" and _writes_outside(n))), len(nodes))
        # pure: no state changes and no callbacks (a replay can be checked against eager)
        self.pure = self._first_effect == len(nodes) and not any(
            n.kind == "call" and n.target == "tap" for n in nodes)
        out = graph.output_node
        self._outs = out.args[0]
        self._items = set(out.kwargs.get("items", ()))
        ph = {n: i for i, n in enumerate(graph.placeholders)}
        self._alias = []
        for n in self._outs:
            if n.kind == "placeholder":
                self._alias.append(("input", ph[n]))
            elif n.kind == "state" and n.kwargs.get("attr") == "data":
                self._alias.append(("state", graph.state[n.target].tensor))
            else:
                self._alias.append(None)
        # a returned constant (or a view of one) is copied: callers own their outputs
        self._copy = {j for j, n in enumerate(self._outs) if storage_root(n).kind == "constant"}
        # one fresh tensor out: the wrapping fast path
        self._simple = (len(self._outs) == 1 and self._alias[0] is None and not self._items
                        and not self._copy)

    def _optimize(self, graph, passes):
        if passes is None and os.environ.get("EMBER_JIT_PASSES"):
            env = os.environ["EMBER_JIT_PASSES"]
            passes = [] if env == "none" else env.split(",")
        if passes is not None and not passes:
            return graph
        from .passes import run_passes
        graph, self.passes = run_passes(graph, passes, dump=os.environ.get("EMBER_JIT_DUMP"))
        return graph

    def effects_before(self, index: int) -> bool:
        """Whether the graph changed state before node ``index`` ran."""
        return self._first_effect < index

    def run(self, leaves, out_spec):
        if self.program.backward is None:
            vals = self.program.fn([t._data for t in leaves], leaves)
            return self._wrap(vals, leaves, out_spec, None)
        vals, env = self.program.fn([t._data for t in leaves], leaves)
        return self._wrap(vals, leaves, out_spec, env if _state.grad_enabled else None)

    def _wrap(self, vals, leaves, out_spec, env):
        kind = out_spec.kind
        if kind == "literal":  # e.g. a training step that returns None
            return out_spec.data
        if self._simple and env is None and kind == "tensor":
            v = vals[0]
            return Tensor._make(v if type(v) is xp.ndarray else xp.asarray(v))
        outs = []
        items = self._items
        for j, v in enumerate(vals):
            a = self._alias[j]
            if a is not None:
                outs.append(leaves[a[1]] if a[0] == "input" else a[1])
            elif j in items:
                outs.append(xp.asarray(v).item())
            elif j in self._copy:
                outs.append(Tensor._make(xp.array(v, copy=True)))
            else:
                outs.append(Tensor._make(v if type(v) is xp.ndarray else xp.asarray(v)))
        if env is not None:
            self._attach(outs, leaves, env)
        if out_spec.kind == "tensor":
            return outs[0]
        return _rebuild(out_spec, iter(outs))


    def _attach(self, outs, leaves, env) -> None:
        """Link the differentiable outputs to a node that runs the backward part."""
        kw = self.graph.output_node.kwargs
        edges, meta = [], []
        for kind, i in kw["leaves"]:
            t = leaves[i] if kind == "input" else self.graph.state[i].tensor
            if t._rg:
                fn = t.grad_fn
                edges.append((fn, t._output_nr) if fn is not None else (t, 0))
                meta.append((t._data.shape, t._data.dtype))
            else:
                edges.append(None)
                meta.append(None)
        node = CompiledFunctionBackward(self.program.backward, env, tuple(edges), tuple(meta))
        diff = kw["diff"]
        node.n_outputs = len(diff)
        node.out_meta = tuple((outs[j]._data.shape, outs[j]._data.dtype) for j in diff)
        node._special = len(diff) > 1
        for k, j in enumerate(diff):
            if self._alias[j] is None:
                t = outs[j]
                t.grad_fn, t._output_nr, t._rg = node, k, True


class CompiledFunctionBackward(Node):
    """The autograd node of a compiled call: runs the graph's backward part."""

    def __init__(self, backward, env, edges, meta) -> None:
        self._backward = backward
        self._env = env
        self.next_edges = edges
        self.in_meta = meta

    def _apply(self, grads, create_graph: bool):
        if create_graph:
            raise JitError("double backward (create_graph=True) through a compiled function is "
                           "not supported; call the function uncompiled for higher-order grads")
        if self._env is None:
            raise RuntimeError(FREED_MSG)
        gs = tuple(xp.zeros(m[0], m[1]) if gr is None else gr
                   for gr, m in zip(grads, self.out_meta))
        return self._backward(self._env, gs)

    def _release(self) -> None:
        self._env = None


def _strip_taps(graph):
    """A copy of ``graph`` without ``ember.debug.tap`` calls (their input flows through)."""
    g = graph.copy()
    for n in [n for n in g.nodes if n.kind == "call" and n.target == "tap"]:
        src = n.args[0]
        for m in g.nodes:
            m.replace_input(n, src)
        g.erase(n)
    return g


def _writes_outside(node) -> bool:
    """A write into memory the caller can see (state or an argument), not a temporary."""
    return storage_root(node.args[0]).kind in ("state", "placeholder")
