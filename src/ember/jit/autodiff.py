"""Backward as graph nodes: what ``loss.backward()`` records while tracing.

The walk mirrors the eager engine (ember/autograd/engine.py) over the traced graph
instead of the autograd graph: for each recorded op that needs gradients, one
``backward`` node runs the op's own backward formula on the ctx its forward filled at
run time; ``select`` nodes with ``fit`` sum broadcast gradients back and cast them, as
the engine's ``_validate`` does; gradients reaching a leaf become ``grad_acc`` nodes,
which run the engine's own accumulation. Nodes are visited in reverse graph order,
which is a reverse topological order because graphs are built in execution order.
"""

from __future__ import annotations

from ..autograd.engine import _validate
from ..autograd.grad_mode import _state
from ..backend import xp
from ..ops.registry import OPS, TENSOR_NS
from ..tensor import Tensor
from .errors import TraceUnsupported
from .ir import Node


def _sum(tr, a: Node, b: Node) -> Node:
    n = tr.graph.call("add", (a, b), {}, a.shape, a.dtype)
    n.meta["op"] = OPS["add"]
    return n


def _slot_adder(slots: dict, combine):
    """``add(node, g)``: put gradient ``g`` of value ``node`` in ``slots`` ({node: [grad per
    output]}), combined with one already there by ``combine``."""
    def add(node: Node, g) -> None:
        k = 0
        while node.kind == "write":  # an in-place op's result: the gradient is its value's
            node = node.args[1]
        if node.kind == "select" and node.args[0].kind == "call":
            node, k = node.args[0], node.target
        s = slots.get(node)
        if s is None:
            s = slots[node] = [None] * node.meta.get("n_out", 1)
        s[k] = g if s[k] is None else combine(s[k], g)
    return add


def make_grad_slots(tr, seeds):
    """Gradient slots of value nodes: {node: [grad per output]}, seeded by ``seeds``."""
    slots: dict = {}
    add = _slot_adder(slots, lambda a, b: _sum(tr, a, b))
    for node, gn in seeds:
        add(node, gn)
    return slots, add


def _calls_to_differentiate(nodes, slots: dict, leaf_grads: dict):
    """Walk ``nodes`` backwards as the engine would: each leaf's slot goes to
    ``leaf_grads``; yields ``(node, grads, needs)`` for each call that has gradients and
    inputs that need them (slots of later nodes are filled while the caller handles one)."""
    for node in reversed(nodes):
        s = slots.pop(node, None)
        if s is None:
            continue
        if node.kind in ("placeholder", "state"):
            if node.meta.get("outer_history"):
                raise TraceUnsupported(f"backward reaches {node.name}, a tensor with autograd "
                                       "history made outside the function")
            if node.meta.get("rg"):
                leaf_grads[node] = s[0]
            continue
        needs = node.meta.get("needs")
        if node.kind == "call" and needs and any(needs):
            yield node, s, needs


def emit_backward(tr, nodes, slots, add) -> dict:
    """Emit backward nodes for ``nodes`` (reversed); returns {leaf node: grad node}."""
    g = tr.graph
    leaf_grads: dict = {}
    for node, s, needs in _calls_to_differentiate(nodes, slots, leaf_grads):
        gs = []
        for k, gk in enumerate(s):
            if gk is None:
                shape, dtype = node.meta["out_meta"][k]
                gk = tr._constant(xp.zeros(shape, dtype))
            gs.append(gk)
        bn = g.add("backward", None, (node, *gs), {}, name=f"{node.target}_backward")
        for i, (x, need) in enumerate(zip(node.args, needs)):
            if need and isinstance(x, Node):
                sel = g.add("select", i, (bn,), {"fit": (x.shape, x.dtype)}, x.shape, x.dtype,
                            name=f"grad_{x.name}")
                add(x, sel)
    return leaf_grads


#: ctx attributes the engine sets on every node (not state an op's forward left there)
_ENGINE_ATTRS = frozenset({"next_edges", "in_meta", "_saved", "_saved_meta", "_epoch",
                           "_metadata", "_freed", "_tensor_mode"})
_PLAIN = (int, bool, str, type(None), xp.dtype)


def _plain(v, params) -> bool:
    """A ctx attribute a graph may bake in: fixed by the op's shapes and arguments, not by
    data. Ints, strings and dtypes are taken as fixed (shapes, dims, modes); a bool or a
    float only when it is one of the op's arguments (``has_zero`` of a cumprod input, say,
    is not)."""
    if isinstance(v, (bool, float)):
        return any(type(p) is type(v) and (v == p or v != v and p != p) for p in params)
    if isinstance(v, _PLAIN) or type(v).__name__ == "DType":
        return not isinstance(v, xp.generic)
    if type(v) in (tuple, list):
        return all(_plain(x, params) for x in v)
    return False


def expandable(node: Node, ctx, saved_map) -> bool:
    """Whether ``node``'s backward formula can be recorded as table ops, judged right after
    its forward: the ctx holds only inputs, outputs (``saved_map`` says which) and values
    fixed by the op's arguments (an array the forward computed and kept would become a
    constant of the graph)."""
    params = [*(a for a in node.args if not isinstance(a, Node)), *node.kwargs.values()]
    if not all(_plain(v, params) for v, (where, _) in zip(ctx._saved or (), saved_map)
               if where == "const"):
        return False
    return all(_plain(v, params) for k, v in vars(ctx).items() if k not in _ENGINE_ATTRS)


class _TensorCtx:
    """A recorded op's ctx with ``saved_tensors`` as Tensors bound to graph nodes."""

    __slots__ = ("_ctx", "saved_tensors")
    _tensor_mode = True  # formulas that branch on it take their Tensor path

    def __init__(self, ctx, saved_tensors: tuple) -> None:
        self._ctx = ctx
        self.saved_tensors = saved_tensors

    def __getattr__(self, name: str):
        return getattr(self._ctx, name)

    def __setattr__(self, name: str, value) -> None:
        if name in _TensorCtx.__slots__:
            object.__setattr__(self, name, value)
        else:
            setattr(self._ctx, name, value)


def _wrap(tr, arr, node: Node) -> Tensor:
    t = Tensor._make(arr)
    tr._alias(t, node)
    return t


def expand_backward(tr, nodes, roots, root_grads, saved: dict):
    """Record the backward pass as table ops, running each op's backward formula on
    Tensors (``F`` = the op table) while the tracer records, so the graph sees primitive,
    fusible ops instead of opaque ``backward`` nodes. Ops whose ctx holds computed arrays
    keep a ``backward`` node, run here on the values they saved. Returns
    {leaf node: gradient Tensor}, or None (with the graph untouched) where some part cannot
    be recorded this way."""
    g = tr.graph
    n0, consts = len(g.nodes), set(g.constants)
    grad_mode = _state.grad_enabled
    _state.grad_enabled = False
    try:
        leaf_grads = _expand(tr, nodes, roots, root_grads, saved)
    except TraceUnsupported:
        leaf_grads = None
    finally:
        _state.grad_enabled = grad_mode
    if leaf_grads is None or tr.failed is not None:
        del g.nodes[n0:]
        for k in set(g.constants) - consts:
            del g.constants[k]
        tr.failed = None
        return None
    return leaf_grads


def _expand(tr, nodes, roots, root_grads, saved: dict):
    from .codegen import _fit
    g = tr.graph
    slots: dict = {}
    add = _slot_adder(slots, lambda a, b: a + b)
    for t, gr in zip(roots, root_grads):
        if not isinstance(gr, Tensor):
            arr = xp.array(gr)
            gr = _wrap(tr, arr, tr._constant(arr))
        add(tr._node_of(t), gr)
    leaf_grads: dict = {}
    for node, s, needs in _calls_to_differentiate(nodes, slots, leaf_grads):
        ctx = node.meta.get("ctx")
        if ctx is None:  # e.g. a cast the tracer inserted for promotion
            return None
        grads = []
        for k, gk in enumerate(s):
            if gk is None:
                shape, dtype = node.meta["out_meta"][k]
                z = xp.zeros(shape, dtype)
                gk = _wrap(tr, z, tr._constant(z))
            grads.append(gk)
        values, _ = saved[ctx]
        saved_map = node.meta.get("saved_map")
        if saved_map is not None:
            outs = node.meta.get("selects") or (node,)
            ts = []
            for v, (where, i) in zip(values or (), saved_map):
                if where == "in":
                    ts.append(_wrap(tr, v, node.args[i]))
                elif where == "out":
                    ts.append(_wrap(tr, v, outs[i]))
                else:
                    ts.append(v)
            r = node.meta["op"].backward(_TensorCtx(ctx, tuple(ts)), TENSOR_NS, *grads)
            r = r if type(r) is tuple else (r,)
            for i, (x, need) in enumerate(zip(node.args, needs)):
                if need and isinstance(x, Node) and i < len(r) and r[i] is not None:
                    if not isinstance(r[i], Tensor):
                        return None
                    add(x, _validate(r[i], ctx.in_meta[i], True, ctx, i))
            continue
        bn = g.add("backward", None, (node, *(tr._node_of(t) for t in grads)), {},
                   name=f"{node.target}_backward")
        r = _rerun(ctx, saved[ctx], [t._data for t in grads])
        for i, (x, need) in enumerate(zip(node.args, needs)):
            if need and isinstance(x, Node):
                sel = g.add("select", i, (bn,), {"fit": (x.shape, x.dtype)}, x.shape, x.dtype,
                            name=f"grad_{x.name}")
                add(x, _wrap(tr, _fit(r[i] if i < len(r) else None, x.shape, x.dtype), sel))
    return leaf_grads


def _rerun(ctx, saved: tuple, grads: list) -> tuple:
    """Run ``ctx``'s backward on arrays, on the values it saved (the engine may have freed
    them since)."""
    now = (ctx._saved, ctx._saved_meta, ctx._freed)
    ctx._saved, ctx._saved_meta = saved
    ctx._freed = False
    try:
        return ctx._apply(grads, False)
    finally:
        ctx._saved, ctx._saved_meta, ctx._freed = now


def _refuse_hooks(nodes) -> None:
    for n in nodes:
        ctx = n.meta.get("ctx")
        if ctx is not None and (ctx._hook_dicts or ctx._retained or ctx._node_hooks):
            raise TraceUnsupported(f"a gradient hook or retain_grad() on {n.name} (a tensor "
                                   "made inside the function): the graph cannot call it")


def build_backward(tr, roots, root_grads, inputs, accumulate: bool, results,
                   saved: dict) -> None:
    """Record the backward pass the eager engine just ran (``results``: its return;
    ``saved``: each recorded ctx's saved values as they were before it ran)."""
    nodes = list(tr.graph.nodes)
    _refuse_hooks(nodes)
    leaf_grads = expand_backward(tr, nodes, roots, root_grads, saved)
    if leaf_grads is not None:
        leaf_grads = {n: tr._node_of(t) for n, t in leaf_grads.items()}
    else:
        seeds = []
        for t, gr in zip(roots, root_grads):
            gn = tr._node_of(gr) if isinstance(gr, Tensor) else tr._constant(xp.array(gr))
            seeds.append((tr._node_of(t), gn))
        slots, add = make_grad_slots(tr, seeds)
        leaf_grads = emit_backward(tr, nodes, slots, add)
    index = {}
    if inputs is not None:
        index = {id(t): i for i, t in enumerate(inputs)}
    for leaf, gn in leaf_grads.items():
        t = tr._tensor_of(leaf)
        if t is None:
            continue
        if t._hooks:
            raise TraceUnsupported("a gradient hook on a leaf inside a compiled function")
        if inputs is not None:
            i = index.get(id(t))
            if i is None:
                continue
            if not accumulate:
                r = results[i]
                if isinstance(r, Tensor):
                    tr._bind(r, gn)
                elif r is not None:
                    # a 0-d result may be a NumPy scalar: make it the array grad() wraps
                    r = results[i] = xp.asarray(r)
                    tr.bind_array(r, gn)
                continue
        if leaf.kind == "state":
            acc = tr.graph.add("grad_acc", leaf.target, (gn,), {}, leaf.shape, leaf.dtype,
                               name=f"{leaf.name}_grad")
        else:
            acc = tr.graph.add("grad_acc", None, (gn, leaf), {}, leaf.shape, leaf.dtype,
                               name=f"{leaf.name}_grad")
        if t.grad is not None:
            tr._bind(t.grad, acc)
            tr.grad_owner[id(t.grad)] = t
        tr.grad_none[id(t)] = t.grad is None


def build_differentiable(tr, outs: list, diff: list) -> tuple:
    """Append the backward part of a traced function whose outputs ``diff`` (indices into
    ``outs``) require grad; returns (leaves, grads): the differentiable placeholders and
    state as ``("input", i)`` / ``("state", k)``, and each one's gradient node (or None)."""
    g = tr.graph
    fwd_nodes = list(g.nodes)
    _refuse_hooks(fwd_nodes)
    g.add("split", None)
    seeds = []
    for k, i in enumerate(diff):
        gi = g.add("grad_in", k, (), {}, outs[i].shape, outs[i].dtype, name=f"grad_out{k}")
        seeds.append((outs[i], gi))
    slots, add = make_grad_slots(tr, seeds)
    leaf_grads = emit_backward(tr, fwd_nodes, slots, add)
    placeholders = {n: i for i, n in enumerate(g.placeholders)}
    leaves, grads, seen = [], [], set()
    for n in fwd_nodes:
        if n.kind not in ("placeholder", "state") or not n.meta.get("rg"):
            continue
        if n.kind == "state" and n.kwargs.get("attr") != "data":
            continue
        key = ("input", placeholders[n]) if n.kind == "placeholder" else ("state", n.target)
        if key in seen:
            raise TraceUnsupported("a differentiable state tensor is read twice (across an "
                                   "effect) in one compiled function")
        seen.add(key)
        leaves.append(key)
        grads.append(leaf_grads.get(n))
    return tuple(leaves), tuple(grads)
