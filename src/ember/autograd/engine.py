"""Backward functions (graph nodes) and the iterative backward engine.

The graph is recorded as ops run: every result of a recorded op points at its
``grad_fn`` node, and each node holds ``next_edges``, one ``(target, output_nr)``
per input, where the target is the input's node or, for a leaf, the leaf tensor.
``run_backward`` walks that graph without recursion (a 100 000-op chain is fine):
it counts each node's consumers, then runs nodes once all their gradients have
arrived, validating each gradient against the input's shape and dtype (a
broadcast input gets its gradient summed back, as torch does).

First-order backward moves raw backend arrays; with ``create_graph=True`` it moves
Tensors, so the backward pass itself is recorded and can be differentiated again.
"""

from __future__ import annotations

import weakref

from ..backend import xp
from .grad_mode import _state, mode_hook

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors "
    "after they have already been freed). Saved intermediate values of the graph are freed when "
    "you call .backward() or autograd.grad(). Specify retain_graph=True if you need to backward "
    "through the graph a second time or if you need to access saved tensors after calling "
    "backward."
)

INPUT, OUTPUT, CONST = 0, 1, 2

# Set by ember.ops.registry once the op table exists (the engine sits below the ops).
_NS: dict = {}


class Node:
    """A backward function in the recorded graph: what ``tensor.grad_fn`` holds.

    Subclasses implement ``_apply(grads, create_graph)`` returning one gradient (or
    None) per entry of ``next_edges``.
    """

    _freed = False
    _hook_dicts = None      # {output_nr: {id: hook}} for hooks on non-leaf tensors
    _retained = None        # {output_nr: weakref to a tensor that retains its grad}
    _node_hooks = None      # hooks on the node itself: fn(grad_inputs, grad_outputs)
    _anomaly_trace = None   # forward traceback recorded under detect_anomaly
    _special = False        # has hooks, retains grads, or has several outputs
    n_outputs = 1
    out_meta = None         # ((shape, np dtype), ...) when n_outputs > 1
    next_edges: tuple = ()
    in_meta: tuple = ()     # (shape, np dtype) per edge, for gradient validation
    _engine_materializes = True  # zero-fill missing output grads (custom Functions do it)

    def name(self) -> str:
        return type(self).__name__

    def __repr__(self) -> str:
        return f"<{self.name()} object at {id(self):#x}>"

    @property
    def next_functions(self) -> tuple:
        out = []
        for e in self.next_edges:
            if e is None:
                out.append((None, 0))
            elif isinstance(e[0], Node):
                out.append(e)
            else:
                out.append((AccumulateGrad(e[0]), 0))
        return tuple(out)

    @property
    def metadata(self) -> dict:
        md = self.__dict__.get("_metadata")
        if md is None:
            md = self.__dict__["_metadata"] = {}
        return md

    def _tensor_hooks(self, output_nr: int) -> dict:
        if self._hook_dicts is None:
            self._hook_dicts = {}
        self._special = True
        return self._hook_dicts.setdefault(output_nr, {})

    def _add_retain(self, tensor) -> None:
        if self._retained is None:
            self._retained = {}
        self._special = True
        self._retained[tensor._output_nr] = weakref.ref(tensor)

    def register_hook(self, fn):
        """Call ``fn(grad_inputs, grad_outputs)`` after this node's backward runs."""
        from ..tensor import RemovableHandle
        if self._node_hooks is None:
            self._node_hooks = {}
        return RemovableHandle(self._node_hooks, fn)

    def _release(self) -> None:
        """Drop saved values after a backward that does not retain the graph."""

    def _apply(self, grads, create_graph: bool):
        raise NotImplementedError


class AccumulateGrad:
    """Stands for a leaf in ``next_functions``; the engine accumulates into ``variable.grad``."""

    def __init__(self, variable) -> None:
        self.variable = variable
        self.next_functions = ()

    def name(self) -> str:
        return "AccumulateGrad"

    def __repr__(self) -> str:
        return f"<AccumulateGrad object at {id(self):#x}>"


def saved_box(t) -> list:
    """The version box of a tensor whose value is being saved for backward, marked as
    watched: ``Tensor._bump_version`` then records the site of each in-place write in its
    second slot."""
    box = t._vbox
    if box is None:
        box = t._vbox = [0, None]
    elif len(box) == 1:
        box.append(None)
    return box


def inplace_site(box) -> str:
    """The sentence naming the user's line that last wrote a watched version box, or ''."""
    site = box[1] if len(box) > 1 else None
    if not site:
        return ""
    if isinstance(site, str):
        return f" The in-place write happened at {site}."
    import linecache
    filename, lineno, func = site
    text = linecache.getline(filename, lineno).strip()
    return (f" The in-place write happened at {filename}:{lineno} in {func}"
            + (f": {text}" if text else "") + ".")


def _describe(arr) -> str:
    from ..tensor import _LEGACY_NAMES
    kind = _LEGACY_NAMES.get(str(arr.dtype), "Tensor").replace("torch.", "ember.")
    return f"[{kind} [{', '.join(map(str, arr.shape))}]]"


class OpNode(Node):
    """The node recorded for one call of a table op; it is also the op's ``ctx``.

    Forward code stores what backward needs with ``ctx.save_for_backward(*arrays)``
    and plain attributes (``ctx.dim = dim``); backward reads ``ctx.saved_tensors``,
    which are raw arrays in first-order backward and Tensors with ``create_graph``.
    """

    _saved = None
    _saved_meta = None
    _epoch = -1             # in-place epoch when the values were saved
    _tensor_mode = False
    recording = True

    op = None               # the table op (set on the per-op subclass, e.g. MulBackward0)

    def name(self) -> str:
        return type(self).__name__

    @property
    def needs_input_grad(self) -> tuple:
        return tuple([e is not None for e in self.next_edges])

    def save_for_backward(self, *values) -> None:
        self._saved = values

    def _check_versions(self) -> None:
        for kind, ref, box, version in self._saved_meta:
            if box is not None and box[0] != version:
                if kind == INPUT:
                    arr, fn = ref._data, ref.grad_fn
                    where = ("" if fn is None else
                             f", which is output {ref._output_nr} of {fn.name()},")
                else:
                    arr, fn = self._saved[[m[1] for m in self._saved_meta].index(ref)], self
                    where = f", which is output {ref} of {self.name()},"
                site = inplace_site(box)
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an "
                    f"inplace operation: {_describe(arr)}{where} is at version {box[0]}; expected "
                    f"version {version} instead.{site} Hint: enable anomaly detection to find the "
                    "operation that failed to compute its gradient, with "
                    "ember.autograd.set_detect_anomaly(True).")

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(FREED_MSG)
        saved = self._saved
        if saved is None:
            return ()
        meta = self._saved_meta
        if meta is None:
            return saved
        if self._epoch != _state.inplace_epoch:
            self._check_versions()
        if not self._tensor_mode:
            return saved
        from ..tensor import Tensor
        out = []
        for value, (kind, ref, box, _) in zip(saved, meta):
            if kind == INPUT:
                out.append(ref)
            elif kind == OUTPUT:
                t = Tensor._make(value)
                t.grad_fn, t._output_nr, t._rg, t._vbox = self, ref, True, box
                out.append(t)
            elif isinstance(value, xp.ndarray):
                out.append(Tensor._make(value))
            else:
                out.append(value)
        return tuple(out)

    def _release(self) -> None:
        if self._saved is not None:
            self._saved = None
            self._saved_meta = None
            self._freed = True

    def _apply(self, grads, create_graph: bool):
        if self._freed:
            raise RuntimeError(FREED_MSG)
        self._tensor_mode = create_graph
        r = self.op.backward(self, _NS[create_graph], *grads)
        return r if type(r) is tuple else (r,)


def _sum_to(g, shape, create_graph: bool):
    """Sum a broadcast gradient back to ``shape`` (torch's sum_to)."""
    return _NS[create_graph].sum_to(g, shape=tuple(shape))


def _validate(g, meta, create_graph: bool, node, i: int):
    shape, dtype = meta
    gshape = g.shape if not create_graph else g._data.shape
    if gshape != shape:
        try:
            g = _sum_to(g, shape, create_graph)
        except ValueError:
            raise RuntimeError(f"Function {node.name()} returned an invalid gradient at index {i} "
                               f"- got {list(gshape)} but expected shape compatible with "
                               f"{list(shape)}") from None
    gd = g.dtype if not create_graph else g._data.dtype
    if gd != dtype:
        g = g.astype(dtype) if not create_graph else g.to(dtype_from_np(dtype))
    return g


def dtype_from_np(d):
    from ..dtypes import from_np
    return from_np(d)


def _call_tensor_hooks(hooks: dict, g, create_graph: bool):
    from ..tensor import Tensor
    gt = g if create_graph else Tensor._make(g)
    for hook in list(hooks.values()):
        r = hook(gt)
        if r is not None:
            gt = r
    return gt if create_graph else gt._data


def run_backward(roots, root_grads, retain_graph: bool, create_graph: bool, inputs=None,
                 accumulate: bool = True):
    """Backpropagate ``root_grads`` from ``roots``.

    With ``accumulate`` gradients land in the ``.grad`` of leaves (restricted to
    ``inputs`` when given); without it, the gradients of ``inputs`` are returned.
    """
    if _state.modes:
        hook = mode_hook("run_backward")
        if hook is not None:  # the JIT records the backward pass
            return hook(roots, root_grads, retain_graph, create_graph, inputs, accumulate)
    capture_nodes: dict = {}    # node -> [(output_nr, input index)]
    capture_leaves: dict = {}   # leaf tensor -> input index
    if inputs is not None:
        for i, t in enumerate(inputs):
            if t.grad_fn is not None:
                capture_nodes.setdefault(t.grad_fn, []).append((t._output_nr, i))
            else:
                capture_leaves[t] = i
    results = [None] * (len(inputs) if inputs is not None else 0)

    # 1. discover the graph (iterative DFS) and count each node's consumers
    root_nodes = [t.grad_fn for t in roots if t.grad_fn is not None]
    deps: dict = {}
    seen = set(root_nodes)
    stack = list(seen)
    while stack:
        for e in stack.pop().next_edges:
            if e is None:
                continue
            tgt = e[0]
            if not isinstance(tgt, Node):
                continue
            if tgt in seen:  # a root can also feed another root: start its count at 0
                deps[tgt] = deps.get(tgt, 0) + 1
            else:
                deps[tgt] = 1
                seen.add(tgt)
                stack.append(tgt)
    needed = _needed_nodes(root_nodes, capture_nodes, capture_leaves) if inputs is not None \
        else None

    # 2. seed the root gradients
    buffers: dict = {}
    leaf_grads: dict = {}
    for t, g in zip(roots, root_grads):
        if t.grad_fn is None:
            prev = leaf_grads.get(id(t))
            leaf_grads[id(t)] = (t, g) if prev is None else (t, prev[1] + g)
            continue
        buf = buffers.get(t.grad_fn)
        if buf is None:
            buf = buffers[t.grad_fn] = [None] * t.grad_fn.n_outputs
        nr = t._output_nr
        buf[nr] = g if buf[nr] is None else buf[nr] + g
    ready = [n for n in dict.fromkeys(root_nodes) if n not in deps]

    # 3. run nodes once all their gradients have arrived
    prev_grad_mode = _state.grad_enabled
    _state.grad_enabled = create_graph
    anomaly = _state.anomaly
    try:
        while ready:
            node = ready.pop()
            grads = buffers.pop(node)
            if node._special or capture_nodes:
                grads = _before_node(node, grads, create_graph, capture_nodes, results)
            if needed is not None and node not in needed:
                _skip(node, deps, ready, buffers)
                continue
            if anomaly:
                from .anomaly import run_with_anomaly
                in_grads = run_with_anomaly(node, grads, create_graph)
            else:
                in_grads = node._apply(grads, create_graph)
            if node._node_hooks:
                _call_node_hooks(node, in_grads, grads, create_graph)
            if not retain_graph:
                node._release()
            for i, (e, g, m) in enumerate(zip(node.next_edges, in_grads, node.in_meta)):
                if e is None:
                    continue
                tgt, nr = e
                if g is not None and m is not None and (g.shape != m[0] or (
                        g.dtype is not m[1] and g.dtype != m[1])):
                    g = _validate(g, m, create_graph, node, i)
                if not isinstance(tgt, Node):  # a leaf: Tensor or a subclass such as Parameter
                    if g is not None:
                        prev = leaf_grads.get(id(tgt))
                        leaf_grads[id(tgt)] = (tgt, g) if prev is None else (tgt, prev[1] + g)
                    continue
                if g is not None:
                    buf = buffers.get(tgt)
                    if buf is None:
                        buf = buffers[tgt] = [None] * tgt.n_outputs
                    buf[nr] = g if buf[nr] is None else buf[nr] + g
                d = deps[tgt] - 1
                deps[tgt] = d
                if d == 0:
                    if tgt in buffers:
                        ready.append(tgt)
                    else:
                        _skip(tgt, deps, ready, buffers)

        # 4. leaves: run their hooks, then accumulate or capture
        for leaf, g in leaf_grads.values():
            if leaf._hooks:
                g = _call_tensor_hooks(leaf._hooks, g, create_graph)
            if inputs is not None:
                idx = capture_leaves.get(leaf)
                if idx is None:
                    continue
                if not accumulate:
                    results[idx] = g
                    continue
            if accumulate:
                _accumulate(leaf, g, create_graph)
    finally:
        _state.grad_enabled = prev_grad_mode
    return results


def _needed_nodes(root_nodes, capture_nodes, capture_leaves) -> set:
    """Nodes from which a requested input is reachable (the only ones worth running)."""
    order = []
    seen: set = set()
    stack = [(n, False) for n in root_nodes]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        # mark on expansion, not on push: a node pushed earlier but reached again deeper
        # must still be finished before its new parent, or post-order breaks on diamonds
        if node in seen:
            continue
        seen.add(node)
        stack.append((node, True))
        for e in node.next_edges:
            if e is not None and isinstance(e[0], Node) and e[0] not in seen:
                stack.append((e[0], False))
    needed: set = set()
    for node in order:  # children come before parents in post-order
        if node in capture_nodes:
            needed.add(node)
            continue
        for e in node.next_edges:
            if e is not None and (e[0] in needed or e[0] in capture_leaves):
                needed.add(node)
                break
    return needed


def _before_node(node, grads, create_graph, capture_nodes, results):
    """The rare steps before a node runs: zero-filling, tensor hooks, retain_grad, capture."""
    if node.n_outputs > 1 and any(g is None for g in grads) and node._engine_materializes:
        grads = _materialize(node, grads, create_graph)
    if node._hook_dicts:
        for nr, hooks in node._hook_dicts.items():
            if hooks and grads[nr] is not None:
                grads[nr] = _call_tensor_hooks(hooks, grads[nr], create_graph)
    if node._retained:
        _retain(node, grads, create_graph)
    if node in capture_nodes:
        for nr, idx in capture_nodes[node]:
            results[idx] = grads[nr]
    return grads


def _skip(node, deps, ready, buffers) -> None:
    """A node that is not run still releases the counts of the nodes it feeds."""
    stack = [node]
    while stack:
        n = stack.pop()
        for e in n.next_edges:
            if e is None or not isinstance(e[0], Node):
                continue
            d = deps[e[0]] - 1
            deps[e[0]] = d
            if d == 0:
                (ready if e[0] in buffers else stack).append(e[0])


def _materialize(node, grads, create_graph):
    from ..tensor import Tensor
    out = list(grads)
    for k, g in enumerate(out):
        if g is None:
            shape, dtype = node.out_meta[k]
            z = xp.zeros(shape, dtype)
            out[k] = Tensor._make(z) if create_graph else z
    return out


def _retain(node, grads, create_graph) -> None:
    from ..tensor import Tensor
    for nr, ref in node._retained.items():
        t = ref()
        if t is None or grads[nr] is None:
            continue
        g = grads[nr]
        gt = g if create_graph else Tensor._make(g.copy())
        t.grad = gt if t.grad is None else t.grad + gt


def _call_node_hooks(node, in_grads, grads, create_graph) -> None:
    from ..tensor import Tensor

    def wrap(seq):
        return tuple(None if g is None else (g if create_graph else Tensor._make(g)) for g in seq)
    for hook in list(node._node_hooks.values()):
        hook(wrap(in_grads), wrap(grads))


def reset_grad(t, set_to_none: bool) -> None:
    """``zero_grad`` for one tensor: drop ``t.grad``, or zero it in place (cut from any
    graph; a read-only gradient array, e.g. a broadcast, is replaced by zeros)."""
    g = t.grad
    if g is None:
        return
    if set_to_none:
        t.grad = None
        return
    if g.grad_fn is not None:
        g.detach_()
    else:
        g._rg = False
    if g._data.flags.writeable:
        g._data.fill(0)
    else:
        g._data = xp.zeros(g._data.shape, dtype=g._data.dtype)
    g._bump_version()


def _accumulate(leaf, g, create_graph: bool) -> None:
    if create_graph:
        leaf.grad = g if leaf.grad is None else leaf.grad + g
        return
    dt = leaf._data.dtype
    if g.dtype is not dt and g.dtype != dt:
        g = g.astype(dt)
    grad = leaf.grad
    if grad is None:
        leaf.grad = _NS["Tensor"]._make(xp.array(g, copy=True))
    elif grad.grad_fn is not None:
        leaf.grad = grad + _NS["Tensor"]._make(g)
    else:
        grad._data += g
