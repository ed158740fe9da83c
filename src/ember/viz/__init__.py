"""Graph pictures: ``make_dot`` draws the autograd graph behind a tensor as Graphviz DOT.

The returned :class:`Digraph` holds the DOT text (``.source``); ``.save()`` writes it and
``.render()`` runs Graphviz's ``dot`` program (install Graphviz to render). Other graph
kinds (such as a JIT graph) plug in with :func:`register_graph_builder`.

Example:
    >>> import ember
    >>> from ember.viz import make_dot
    >>> w = ember.ones(3, requires_grad=True)
    >>> dot = make_dot((w * 2).sum(), params={"w": w})
    >>> "MulBackward0" in dot.source and "AccumulateGrad" in dot.source
    True
"""

from __future__ import annotations

from collections.abc import Callable

from ..autograd.engine import Node
from ..tensor import Tensor
from ._dot import Digraph

__all__ = ["make_dot", "Digraph", "register_graph_builder"]

_BUILDERS: list[tuple[type, Callable]] = []

_NODE_ATTR = {"style": "filled", "shape": "box", "align": "left", "fontsize": "10",
              "ranksep": "0.1", "height": "0.2", "fontname": "monospace"}
# node bookkeeping set by the engine and ops, not attributes a user set on ctx
_INTERNAL = {"next_edges", "in_meta", "out_meta", "n_outputs", "metadata"}


def register_graph_builder(cls: type, builder: Callable[..., Digraph]) -> None:
    """Let ``make_dot`` draw objects of type ``cls`` with ``builder(obj, params=...,
    show_attrs=..., show_saved=..., max_attr_chars=...)``; later registrations win."""
    _BUILDERS.append((cls, builder))


def make_dot(var, params: dict | None = None, show_attrs: bool = False,
             show_saved: bool = False, max_attr_chars: int = 50) -> Digraph:
    """Draw the autograd graph that produced ``var`` (a tensor, or a tuple, list or dict of
    tensors such as a model's outputs), like torchviz's ``make_dot``.

    Blue boxes are leaves (named from ``params``, e.g. ``dict(model.named_parameters())``),
    green boxes the outputs, grey boxes the backward functions (``MulBackward0``, ...) with
    the shape they produce; ``AccumulateGrad`` feeds each leaf. ``show_attrs`` lists the
    attributes each backward function stored, ``show_saved`` draws the saved arrays
    (orange). Edges run in the forward direction.

    Example:
        >>> import ember
        >>> from ember.viz import make_dot
        >>> x = ember.ones(2, 3, requires_grad=True)
        >>> print(make_dot(x.exp().sum(dim=0), params={"x": x}).source)  # doctest: +ELLIPSIS
        digraph {
            graph [size="12,12"]
            node [style="filled" shape="box" align="left" fontsize="10" ranksep="0.1" ...]
            n0 [label="(3,)" fillcolor="darkolivegreen1"]
            n1 -> n0
            n1 [label="SumBackward0\\l(3,)\\l"]
            n2 -> n1
            n2 [label="ExpBackward0\\l(2, 3)\\l"]
            n3 [label="AccumulateGrad"]
            n4 [label="x\\l(2, 3)\\l" fillcolor="lightblue"]
            n4 -> n3
            n3 -> n2
        }
        <BLANKLINE>
    """
    opts = {"params": params, "show_attrs": show_attrs, "show_saved": show_saved,
            "max_attr_chars": max_attr_chars}
    for cls, builder in reversed(_BUILDERS):
        if isinstance(var, cls):
            return builder(var, **opts)
    outputs = _tensors(var)
    if outputs is None:
        raise TypeError(f"make_dot expects a Tensor or a tuple, list or dict of Tensors, but got "
                        f"{type(var).__name__}")
    return _autograd_dot(outputs, **opts)


def _tensors(var) -> list | None:
    if isinstance(var, Tensor):
        return [var]
    if isinstance(var, dict):
        var = list(var.values())
    if isinstance(var, (tuple, list)) and all(isinstance(v, Tensor) for v in var):
        return list(var)
    return None


def _shape(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ("," if len(shape) == 1 else "") + ")"


def _short(value, limit: int) -> str:
    s = str(value)
    return s if len(s) <= limit else s[:limit - 3] + "..."


class _Ids:
    """Stable DOT names ``n0, n1, ...`` for graph objects (kept alive while drawing)."""

    def __init__(self) -> None:
        self._names: dict = {}
        self._keep: list = []

    def __contains__(self, key) -> bool:
        return key in self._names

    def __call__(self, key, obj=None) -> str:
        name = self._names.get(key)
        if name is None:
            name = self._names[key] = f"n{len(self._names)}"
            self._keep.append(obj)
        return name


def _autograd_dot(outputs: list, params, show_attrs: bool, show_saved: bool,
                  max_attr_chars: int) -> Digraph:
    names = {id(v): k for k, v in (params or {}).items()}
    dot = Digraph(graph_attr={"size": "12,12"}, node_attr=dict(_NODE_ATTR))
    ids = _Ids()

    # 1. walk the graph (iteratively: chains may be very long), learning each node's output
    # shapes from what its consumers expect
    order: list = []
    out_shapes: dict = {}
    seen: set = set()
    stack = []
    for t in outputs:
        fn = t.grad_fn
        if fn is not None:
            out_shapes.setdefault(fn, {})[t._output_nr] = tuple(t._data.shape)
            if fn not in seen:
                seen.add(fn)
                stack.append(fn)
    while stack:
        fn = stack.pop()
        order.append(fn)
        for e, meta in zip(getattr(fn, "next_edges", ()), getattr(fn, "in_meta", ())):
            if e is None or not isinstance(e[0], Node):
                continue
            if meta is not None:
                out_shapes.setdefault(e[0], {})[e[1]] = tuple(meta[0])
            if e[0] not in seen:
                seen.add(e[0])
                stack.append(e[0])

    # 2. emit: outputs, then each node with its inputs (leaves get AccumulateGrad + a box)
    for t in outputs:
        if ("var", id(t)) in ids:
            continue
        label = _shape(t._data.shape)
        if id(t) in names:
            label = f"{names[id(t)]}\n{label}"
        vid = ids(("var", id(t)), t)
        dot.node(vid, label, fillcolor="darkolivegreen1")
        if t.grad_fn is not None:
            dot.edge(ids(("fn", id(t.grad_fn)), t.grad_fn), vid)
    saved_owner: dict = {}
    for fn in order:
        fid = ids(("fn", id(fn)), fn)
        dot.node(fid, _fn_label(fn, out_shapes.get(fn, {}), show_attrs, max_attr_chars))
        for e in getattr(fn, "next_edges", ()):
            if e is None:
                continue
            tgt = e[0]
            if isinstance(tgt, Node):
                dot.edge(ids(("fn", id(tgt)), tgt), fid)
                continue
            acc_key = ("acc", id(tgt))
            new = acc_key not in ids
            aid = ids(acc_key, tgt)
            if new:
                dot.node(aid, "AccumulateGrad")
                leaf_key = ("var", id(tgt))
                leaf_new = leaf_key not in ids
                vid = ids(leaf_key, tgt)
                if leaf_new:
                    label = _shape(tgt._data.shape)
                    if id(tgt) in names:
                        label = f"{names[id(tgt)]}\n{label}"
                    dot.node(vid, label, fillcolor="lightblue")
                dot.edge(vid, aid)
                saved_owner[id(tgt._data)] = vid
            dot.edge(aid, fid)
    if show_saved:
        for fn in order:
            _emit_saved(dot, ids, fn, saved_owner)
    return dot


def _fn_label(fn, shapes: dict, show_attrs: bool, limit: int) -> str:
    lines = [fn.name()]
    meta = getattr(fn, "out_meta", None)
    if meta:
        lines.append(" ".join(_shape(m[0]) for m in meta if m is not None))
    elif shapes:
        lines.append(" ".join(_shape(shapes[k]) for k in sorted(shapes)))
    if show_attrs:
        attrs = {k: v for k, v in vars(fn).items() if not k.startswith("_") and k not in _INTERNAL}
        if attrs:
            lines.append("-" * max(len(lines[0]), 10))
            lines += [f"{k}: {_short(v, limit)}" for k, v in attrs.items()]
    return "\n".join(lines) if len(lines) > 1 else lines[0]


def _emit_saved(dot: Digraph, ids: _Ids, fn, owners: dict) -> None:
    d = vars(fn)
    saved = d.get("_saved") or d.get("_to_save") or ()
    fid = ids(("fn", id(fn)), fn)
    for k, value in enumerate(saved):
        arr = value._data if isinstance(value, Tensor) else value
        shape = getattr(arr, "shape", None)
        if shape is None:
            continue
        owner = owners.get(id(arr))
        if owner is None:
            key = ("saved", id(arr))
            new = key not in ids
            owner = ids(key, arr)
            if new:
                dot.node(owner, f"saved {k}\n{_shape(shape)}", fillcolor="orange")
        dot.edge(owner, fid, dir="none")
