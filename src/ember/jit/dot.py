"""``ember.viz.make_dot`` for JIT graphs: one box per node, edges along data flow."""

from __future__ import annotations

from ..viz import register_graph_builder
from ..viz._dot import Digraph
from .api import CompiledFunction
from .ir import Graph

_COLORS = {"placeholder": "lightblue", "state": "lightyellow", "constant": "lightgrey",
           "output": "darkolivegreen1", "guard": "orange", "effect": "pink",
           "grad_acc": "pink", "write": "salmon", "fused": "lightcyan", "backward": "lavender"}


def graph_dot(graph: Graph, **_opts) -> Digraph:
    """Graphviz DOT of ``graph`` (the shapes and dtypes in each box).

    Example:
        >>> import ember
        >>> from ember.viz import make_dot
        >>> f = ember.jit.trace(lambda x: x.exp().sum(), (ember.ones(2),))
        >>> print(make_dot(f).source)  # doctest: +ELLIPSIS
        digraph {
        ...
            exp [label="exp\\lexp(x)\\lf32[2]\\l"]
        ...
        }
        <BLANKLINE>
    """
    dot = Digraph(graph_attr={"size": "12,12"})
    dot.attr("node", style="filled", shape="box", align="left", fontsize="10",
             fontname="monospace")
    for n in graph.nodes:
        if n.kind == "split":
            continue
        line = n.format()
        rhs = line.split(" = ", 1)[1] if " = " in line else line
        if len(rhs) > 60:
            rhs = rhs[:57] + "..."
        label = f"{n.name}\n{rhs}" + (f"\n{n.type_str()}" if n.shape is not None else "")
        color = _COLORS.get(n.kind)
        dot.node(n.name, label, **({"fillcolor": color} if color else {}))
        for inp in n.inputs:
            dot.edge(inp.name, n.name)
    return dot


def _compiled_dot(cf: CompiledFunction, **opts) -> Digraph:
    return graph_dot(cf.graph, **opts)


register_graph_builder(Graph, graph_dot)
register_graph_builder(CompiledFunction, _compiled_dot)
