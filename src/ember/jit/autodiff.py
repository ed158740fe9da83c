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

from ..backend import xp
from ..ops.registry import OPS
from ..tensor import Tensor
from .errors import TraceUnsupported
from .ir import Node


def _sum(tr, a: Node, b: Node) -> Node:
    n = tr.graph.call("add", (a, b), {}, a.shape, a.dtype)
    n.meta["op"] = OPS["add"]
    return n


def make_grad_slots(tr, seeds):
    """Gradient slots of value nodes: {node: [grad per output]}, seeded by ``seeds``."""
    slots: dict = {}

    def add(node: Node, gn: Node) -> None:
        k = 0
        while node.kind == "write":  # an in-place op's result: the gradient is its value's
            node = node.args[1]
        if node.kind == "select" and node.args[0].kind in ("call",):
            node, k = node.args[0], node.target
        s = slots.get(node)
        if s is None:
            s = slots[node] = [None] * node.meta.get("n_out", 1)
        s[k] = gn if s[k] is None else _sum(tr, s[k], gn)

    for node, gn in seeds:
        add(node, gn)
    return slots, add


def emit_backward(tr, nodes, slots, add) -> dict:
    """Emit backward nodes for ``nodes`` (reversed); returns {leaf node: grad node}."""
    g = tr.graph
    leaf_grads: dict = {}
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
        if node.kind != "call":
            continue
        needs = node.meta.get("needs")
        if not needs or not any(needs):
            continue
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


def build_backward(tr, roots, root_grads, inputs, accumulate: bool, results) -> None:
    """Record the backward pass the eager engine just ran (``results``: its return)."""
    nodes = list(tr.graph.nodes)
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
