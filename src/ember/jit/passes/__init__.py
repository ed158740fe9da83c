"""Graph passes: rewrites of a traced ``Graph`` that keep its results exactly.

``run_passes(graph, names)`` runs a pipeline on a copy of ``graph`` (the input is never
changed). Every pass is also a plain function ``pass_fn(graph) -> graph`` that returns a
new graph:

* ``dce`` (:func:`~ember.jit.passes.dce.dce`): drops pure nodes whose value is unused.
* ``cse`` (:func:`~ember.jit.passes.cse.cse`): merges identical pure calls and state reads
  between side effects.
* ``constfold`` (:func:`~ember.jit.passes.constfold.constfold`): computes calls on constants
  once, at compile time.
* ``simplify`` (:func:`~ember.jit.passes.simplify.simplify`): algebraic identities
  (``x * 1``, ``neg(neg(x))``, permutes that cancel, reshape chains).
* ``linear_act`` (:func:`~ember.jit.passes.linear_act.linear_act`): ``relu(linear(x, w, b))``
  on a few rows becomes one ``fused`` node calling one C kernel.
* ``fusion`` (:func:`~ember.jit.passes.fusion.fusion`): elementwise chains become one
  ``fused`` node running a C loop or cache-sized NumPy chunks.
* ``memory`` (:func:`~ember.jit.passes.memory.memory`): fused nodes reuse output buffers
  across calls, or write into a dying temporary, where no one else can see the memory.

Rules every pass keeps: nodes run in list order and none moves across a side-effect node
(``ir.SIDE_EFFECTS``); side effects, random ops and calls whose ``backward`` needs a real
ctx are never removed or rewritten; a value replaced by another one is only merged when
no write, effect or output could observe that they now share memory.

Example:
    >>> import ember
    >>> from ember.jit.passes import run_passes
    >>> f = ember.jit.trace(lambda x: (x * 1 + x * 1).relu(), (ember.ones(3),), passes=[])
    >>> g, applied = run_passes(f.graph, ["cse", "simplify", "dce"])
    >>> g.ops()
    ['add', 'relu']
"""

from __future__ import annotations

import os

from ...ops.registry import OPS
from ..ir import SIDE_EFFECTS, Graph, Node, map_nodes, storage_root

__all__ = ["run_passes", "DEFAULT_PIPELINE", "pass_names"]

#: the default pipeline, in order
DEFAULT_PIPELINE = ("dce", "cse", "constfold", "simplify", "dce", "linear_act", "fusion",
                    "memory")

#: op names whose results are random: never merged, folded or dropped
RANDOM_OPS = frozenset({"uniform", "normal", "randint", "bernoulli", "randperm", "multinomial",
                        "dropout_mask", "rand", "randn", "exponential"})

#: node kinds that change memory or Python state
MUTATING = frozenset({"write", "grad_acc", "effect"})

#: elementwise math ops on floats: one output, a fresh array of the broadcast shape
ELEMENTWISE_UNARY = frozenset({
    "neg", "exp", "log", "sqrt", "sin", "cos", "tanh", "sigmoid", "relu", "abs", "expm1",
    "log1p", "rsqrt", "reciprocal", "erf", "erfc", "exp2", "log2", "log10", "tan", "atan",
    "sinh", "cosh", "gelu", "silu", "softplus", "mish", "elu", "leaky_relu", "hardtanh",
    "hardswish", "hardsigmoid", "clamp"})
ELEMENTWISE_BINARY = frozenset({"add", "sub", "mul", "div", "pow", "maximum", "minimum"})
ELEMENTWISE = ELEMENTWISE_UNARY | ELEMENTWISE_BINARY

#: ops whose result never shares memory with an input (anything else might: views, ops that
#: return an input unchanged in some case)
FRESH_OUTPUT = ELEMENTWISE | {"matmul", "cast", "sum", "softmax", "log_softmax"}


def pass_names() -> list[str]:
    """The names ``run_passes`` accepts."""
    return list(_registry())


def _registry() -> dict:
    from .constfold import constfold
    from .cse import cse
    from .dce import dce
    from .fusion import fusion
    from .linear_act import linear_act
    from .memory import memory
    from .simplify import simplify
    return {"dce": dce, "cse": cse, "constfold": constfold, "simplify": simplify,
            "linear_act": linear_act, "fusion": fusion, "memory": memory}


def run_passes(graph: Graph, names=None, dump=None) -> tuple[Graph, list[str]]:
    """Run passes on a copy of ``graph``; returns ``(new_graph, names_applied)``.

    ``names``: None for ``DEFAULT_PIPELINE``, a list/tuple of pass names, or False/``[]``
    for none. ``dump``: falsy (or ``"0"``) for nothing, True/``"1"`` to print the graph after
    each pass, any other string a path prefix: the graph after pass ``i`` goes to
    ``<prefix>.<i>.<name>.txt``.

    Example:
        >>> import ember
        >>> from ember.jit.passes import run_passes
        >>> raw = ember.jit.trace(lambda x: (x * 1).exp(), (ember.ones(2),), passes=[]).graph
        >>> g, applied = run_passes(raw, ["simplify", "dce"])
        >>> g.ops(), applied
        (['exp'], ['simplify', 'dce'])
    """
    if names is None:
        names = DEFAULT_PIPELINE
    elif names is False:
        names = ()
    elif isinstance(names, str):
        names = (names,)
    reg = _registry()
    bad = [n for n in names if n not in reg]
    if bad:
        raise ValueError(f"unknown JIT pass(es) {bad}; known passes: {', '.join(reg)}")
    g = graph.copy()
    applied: list[str] = []
    for i, name in enumerate(names):
        g = reg[name](g, _copy=False)
        applied.append(name)
        _dump(dump, i, name, g)
    return g, applied


def _dump(dump, i: int, name: str, g: Graph) -> None:
    if dump is None or dump is False or dump == "" or dump == "0":
        return
    text = f"# after pass {i}: {name}\n{g}\n"
    if dump is True or dump == "1":
        print(text, end="")
        return
    path = f"{os.fspath(dump)}.{i}.{name}.txt"
    d = os.path.dirname(path)
    if d:
        os.makedirs(d, exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


# ------------------------------------------------------------------ shared analysis helpers


def is_random(node: Node) -> bool:
    """Whether ``node`` is a call of a random op (its value depends on the RNG stream)."""
    if node.kind != "call":
        return False
    op = node.meta.get("op") or OPS.get(node.target)
    return node.target in RANDOM_OPS or bool(getattr(op, "random", False)) or (
        op is not None and getattr(op, "__module__", "").endswith("ops.random"))


def is_view(node: Node) -> bool:
    if node.kind != "call":
        return False
    op = node.meta.get("op") or OPS.get(node.target)
    return bool(getattr(op, "view", False))


def fresh_result(node, ctx: set) -> bool:
    """Whether ``node``'s array is made anew on each run and belongs to nobody else: a
    fused node writing no kept buffer (``kwargs["out"]``), or a call of a ``FRESH_OUTPUT``
    op with one result, not a view, whose ctx (``ctx``: ``ctx_nodes``) holds nothing."""
    if not isinstance(node, Node):
        return False
    if node.kind == "fused":
        return "out" not in node.kwargs
    return (node.kind == "call" and node.target in FRESH_OUTPUT and node not in ctx
            and not is_view(node) and "n_out" not in node.meta)


def users_map(graph: Graph) -> dict[Node, list[Node]]:
    """``{node: [users in list order]}`` for every node (one pass over the graph)."""
    users: dict[Node, list[Node]] = {n: [] for n in graph.nodes}
    for n in graph.nodes:
        for inp in n.inputs:
            if inp in users:
                users[inp].append(n)
    return users


def ctx_nodes(graph: Graph) -> set[Node]:
    """Call nodes that run with a real ctx (a ``backward`` node reads them)."""
    return {n.args[0] for n in graph.nodes if n.kind == "backward" and n.args}


def has_nodes(x) -> bool:
    found = []
    map_nodes(x, found.append)
    return bool(found)


class Info:
    """Positions, users and ctx nodes of a graph, for the safety checks of rewrites."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.users = users_map(graph)
        self.index = {n: i for i, n in enumerate(graph.nodes)}
        self.ctx = ctx_nodes(graph)
        self.mutations = [i for i, n in enumerate(graph.nodes) if n.kind in MUTATING]

    def alias_closure(self, node: Node) -> list[Node]:
        """``node`` and every node whose value may share its memory (views, selects, writes
        into it, calls of ops not known to return fresh arrays)."""
        out, todo, seen = [], [node], {node}
        while todo:
            n = todo.pop()
            out.append(n)
            for u in self.users.get(n, ()):
                if u in seen:
                    continue
                if u.kind in ("select", "write") or (
                        u.kind == "call" and u.target not in FRESH_OUTPUT) or (
                        u.kind == "fused" and "inplace" in u.kwargs):
                    seen.add(u)
                    todo.append(u)
        return out

    def may_share(self, drop: Node) -> bool:
        """Whether ``drop``'s value may be replaced by another node's array: nothing that
        reads it (or an alias of it) keeps, returns or changes that memory, and no node
        changes memory while it is still read."""
        last = self.index[drop]
        for n in self.alias_closure(drop):
            for u in self.users.get(n, ()):
                if u.kind in SIDE_EFFECTS and u.kind != "guard" or u.kind == "backward" or \
                        u in self.ctx:
                    return False
                last = max(last, self.index[u])
        start = self.index[drop]
        return not any(start < i <= last for i in self.mutations)

    def escapes(self, node: Node) -> bool:
        """Whether ``node``'s memory (or an alias of it) is returned, written, handed to an
        effect/grad_acc/backward or saved by a ctx."""
        for n in self.alias_closure(node):
            if n is not node and n.kind == "write":
                return True
            for u in self.users.get(n, ()):
                if u.kind in SIDE_EFFECTS and u.kind != "guard" or u.kind == "backward" or \
                        u in self.ctx:
                    return True
        return False

    def replace(self, old: Node, new) -> None:
        """Make every reader of ``old`` read ``new`` instead, keeping ``users`` current."""
        for u in self.users.get(old, ()):
            u.args = map_nodes(u.args, lambda x: new if x is old else x)
            u.kwargs = map_nodes(u.kwargs, lambda x: new if x is old else x)
            if isinstance(new, Node) and u not in self.users[new]:
                self.users[new].append(u)
        self.users[old] = []

    def written_roots(self) -> set[Node]:
        """Nodes whose memory some ``write`` changes (the root behind its target)."""
        return {storage_root(n.args[0]) for n in self.graph.nodes if n.kind == "write"}


def replace_all_uses(graph: Graph, old: Node, new) -> None:
    """Make every reader of ``old`` read ``new`` (a node or a literal) instead."""
    for n in graph.nodes:
        if n is not old and old in n.inputs:
            n.args = map_nodes(n.args, lambda x: new if x is old else x)
            n.kwargs = map_nodes(n.kwargs, lambda x: new if x is old else x)


def erase_nodes(graph: Graph, dead) -> None:
    dead = set(dead)
    if dead:
        graph.nodes = [n for n in graph.nodes if n not in dead]
