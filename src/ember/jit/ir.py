"""The JIT's graph IR: a ``Graph`` is an ordered list of ``Node``s, in the spirit of torch.fx.

Node kinds:

* ``placeholder`` -- an argument of the traced function (``target``: its position).
* ``state`` -- a tensor the function reaches that is not an argument (a parameter, a
  buffer, optimizer state): read live at each call. ``target`` indexes ``graph.state``;
  ``kwargs['attr']`` is ``'data'`` or ``'grad'``.
* ``constant`` -- an array baked into the graph (``target``: its key in ``graph.constants``).
* ``call`` -- an op of the op table (``target``: the op's name; ``kwargs``: its params).
* ``select`` -- output ``target`` of a multi-output ``call``.
* ``write`` -- writes ``args[1]`` into the memory of ``args[0]`` (an in-place op); its
  value is the written array.
* ``grad_acc`` -- accumulates ``args[0]`` into ``.grad`` of state ``target`` as backward does.
* ``effect`` -- a Python routine that changes state outside the op table (an optimizer's
  ``step``); ``target`` is the callable. Such graphs run, but cannot be saved.
* ``guard`` -- checks that ``args[0]`` still has the value the trace saw (``kwargs``:
  ``what``, ``expected``, ``site``); a failing guard makes the caller trace again.
* ``split`` -- in a differentiable graph, where the forward part ends and the backward
  part starts: nodes after it run when autograd asks for gradients.
* ``grad_in`` -- (backward part) the gradient of differentiable output ``target``.
* ``output`` -- the function's result (``args[0]``: a tuple of nodes); ``kwargs['grads']``
  holds the backward part's gradients of the differentiable inputs.

Nodes run in list order. Passes may drop or rewrite nodes but never move a node across a
``write``, ``grad_acc``, ``effect`` or ``guard`` (the side-effecting kinds).

Example:
    >>> from ember.jit.ir import Graph
    >>> g = Graph()
    >>> x = g.placeholder("x", (3,), "float32")
    >>> y = g.call("mul", (x, 2.0), {}, (3,), "float32")
    >>> _ = g.output(y)
    >>> print(g)
    graph(x: f32[3]):
        mul: f32[3] = mul(x, 2.0)
        return mul
"""

from __future__ import annotations

import keyword
from collections.abc import Iterator
from typing import Any

__all__ = ["Graph", "Node", "SIDE_EFFECTS", "map_nodes", "storage_root", "FORMAT_VERSION",
           "OPSET_VERSION"]

#: version of the graph file layout (ember/jit/serialize.py)
FORMAT_VERSION = 1
#: version of the op table's names and parameters as graphs use them
OPSET_VERSION = 1

#: node kinds that must run even when nothing reads their value, in their order
SIDE_EFFECTS = frozenset({"write", "grad_acc", "effect", "guard", "output", "split"})

_SHORT = {"float16": "f16", "float32": "f32", "float64": "f64", "int8": "i8", "int16": "i16",
          "int32": "i32", "int64": "i64", "uint8": "u8", "bool": "b8"}


class Node:
    """One step of a graph; ``args`` may nest tuples/lists/dicts holding other nodes."""

    __slots__ = ("graph", "name", "kind", "target", "args", "kwargs", "shape", "dtype", "meta")

    def __init__(self, graph: Graph, name: str, kind: str, target: Any, args: tuple,
                 kwargs: dict, shape: tuple | None, dtype: str | None) -> None:
        self.graph = graph
        self.name = name
        self.kind = kind
        self.target = target
        self.args = args
        self.kwargs = kwargs
        self.shape = shape
        self.dtype = dtype
        self.meta: dict = {}

    @property
    def inputs(self) -> list[Node]:
        """The nodes this node reads, in order, without repeats."""
        out: list[Node] = []
        map_nodes((self.args, self.kwargs), lambda n: out.append(n) if n not in out else None)
        return out

    @property
    def users(self) -> list[Node]:
        """The nodes that read this node."""
        return [n for n in self.graph.nodes if self in n.inputs]

    def replace_input(self, old: Node, new: Node) -> None:
        self.args = map_nodes(self.args, lambda n: new if n is old else n)
        self.kwargs = map_nodes(self.kwargs, lambda n: new if n is old else n)

    def type_str(self) -> str:
        if self.shape is None:
            return ""
        return f"{_SHORT.get(self.dtype, self.dtype)}[{', '.join(map(str, self.shape))}]"

    def format(self) -> str:
        """The node as one fx-style line."""
        a = ", ".join(_fmt(x) for x in self.args)
        kw = ", ".join(f"{k}={_fmt(v)}" for k, v in self.kwargs.items())
        body = ", ".join(s for s in (a, kw) if s)
        if self.kind == "output":
            return f"return {_fmt(self.args[0])}"
        if self.kind == "call":
            rhs = f"{self.target}({body})"
        elif self.kind == "state":
            rhs = f"state[{self.target}].{self.kwargs.get('attr', 'data')}"
        elif self.kind == "constant":
            rhs = f"constant[{self.target!r}]"
        elif self.kind == "select":
            rhs = f"{_fmt(self.args[0])}[{self.target}]"
        elif self.kind == "placeholder":
            rhs = f"input[{self.target!r}]"
        elif self.kind == "effect":
            rhs = f"effect {getattr(self.target, '__qualname__', self.target)}({body})"
        elif self.kind == "grad_acc":
            rhs = f"grad_acc(state[{self.target}], {a})"
        else:
            rhs = f"{self.kind}({body})"
        ts = self.type_str()
        return f"{self.name}{': ' + ts if ts else ''} = {rhs}"

    def __repr__(self) -> str:
        return self.name


def _fmt(x) -> str:
    if isinstance(x, Node):
        return x.name
    if isinstance(x, tuple):
        inner = ", ".join(_fmt(v) for v in x)
        return f"({inner},)" if len(x) == 1 else f"({inner})"
    if isinstance(x, list):
        return "[" + ", ".join(_fmt(v) for v in x) + "]"
    if isinstance(x, dict):
        return "{" + ", ".join(f"{k!r}: {_fmt(v)}" for k, v in x.items()) + "}"
    if hasattr(x, "shape") and hasattr(x, "dtype") and not isinstance(x, (int, float)):
        return f"<array {x.dtype}{list(x.shape)}>"
    return repr(x)


def storage_root(node: Node) -> Node:
    """The node whose memory ``node`` shares: followed back through selects, writes and
    view ops (what an in-place write through ``node`` really changes)."""
    from ..ops.registry import OPS
    while True:
        if node.kind in ("select", "write"):
            node = node.args[0]
        elif node.kind == "call" and getattr(node.meta.get("op") or OPS.get(node.target),
                                             "view", False):
            node = node.args[0]
        else:
            return node


def map_nodes(x, fn):
    """Apply ``fn`` to every node inside the nested tuples/lists/dicts ``x``."""
    if isinstance(x, Node):
        r = fn(x)
        return x if r is None else r
    if type(x) is tuple:
        return tuple(map_nodes(v, fn) for v in x)
    if type(x) is list:
        return [map_nodes(v, fn) for v in x]
    if type(x) is dict:
        return {k: map_nodes(v, fn) for k, v in x.items()}
    return x


class Graph:
    """An ordered list of nodes plus the tables they index (state, constants).

    ``state`` holds ``StateRef``-like objects (anything with ``.tensor`` and ``.name``);
    ``constants`` maps names to arrays.
    """

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.state: list = []
        self.constants: dict[str, Any] = {}
        self._names: dict[str, int] = {}

    # ---- building ----------------------------------------------------------------
    def _fresh(self, hint: str) -> str:
        # never a leading underscore: generated code keeps those for its helpers
        base = "".join(c if c.isalnum() or c == "_" else "_" for c in str(hint)).lstrip("_")
        if not base or base[0].isdigit() or keyword.iskeyword(base):
            base = "v" + base
        n = self._names.get(base, 0)
        name = base if n == 0 else f"{base}_{n}"
        while name in self._names:  # ``grad_x_1`` may exist already as a base of its own
            n += 1
            name = f"{base}_{n}"
        self._names[base] = n + 1
        if name != base:
            self._names[name] = 1
        return name

    def add(self, kind: str, target, args: tuple = (), kwargs: dict | None = None,
            shape: tuple | None = None, dtype: str | None = None, name: str | None = None,
            index: int | None = None) -> Node:
        """Append (or insert at ``index``) a node; returns it."""
        hint = name or (target if kind == "call" else kind)
        node = Node(self, self._fresh(hint), kind, target, tuple(args), dict(kwargs or {}),
                    None if shape is None else tuple(shape), dtype)
        if index is None:
            self.nodes.append(node)
        else:
            self.nodes.insert(index, node)
        return node

    def placeholder(self, name: str, shape, dtype) -> Node:
        return self.add("placeholder", name, (), None, shape, dtype, name=name)

    def call(self, op: str, args: tuple, params: dict, shape=None, dtype=None) -> Node:
        return self.add("call", op, args, params, shape, dtype)

    def output(self, value) -> Node:
        return self.add("output", None, (value,))

    def erase(self, node: Node) -> None:
        self.nodes.remove(node)

    def copy(self) -> Graph:
        """A copy with new nodes (state, constants and ``meta`` values are shared)."""
        g = Graph()
        g.state = list(self.state)
        g.constants = dict(self.constants)
        g._names = dict(self._names)
        new: dict = {}
        for n in self.nodes:
            m = Node(g, n.name, n.kind, n.target, map_nodes(n.args, new.__getitem__),
                     map_nodes(n.kwargs, new.__getitem__), n.shape, n.dtype)
            m.meta = dict(n.meta)
            new[n] = m
            g.nodes.append(m)
        return g

    # ---- reading -----------------------------------------------------------------
    def __iter__(self) -> Iterator[Node]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def placeholders(self) -> list[Node]:
        return [n for n in self.nodes if n.kind == "placeholder"]

    @property
    def output_node(self) -> Node:
        for n in reversed(self.nodes):
            if n.kind == "output":
                return n
        raise ValueError("graph has no output node")

    def ops(self) -> list[str]:
        """The op names called, in order (repeats included)."""
        return [n.target for n in self.nodes if n.kind == "call"]

    def __str__(self) -> str:
        params = ", ".join(f"{n.name}: {n.type_str()}" for n in self.placeholders)
        lines = [f"graph({params}):"]
        lines += ["    " + n.format() for n in self.nodes if n.kind != "placeholder"]
        return "\n".join(lines)

    __repr__ = __str__

    def python_code(self) -> str:
        """The Python source the NumPy backend runs for this graph.

        Example:
            >>> import ember
            >>> g = ember.jit.trace(lambda x: x.exp(), (ember.ones(2),)).graph
            >>> print(g.python_code().splitlines()[0])
            def forward(_jA, _jT):
        """
        from .codegen import generate
        return generate(self).source

    def lint(self) -> None:
        """Check that the graph is well formed; raises ``GraphError`` naming the bad node.

        Checks: unique names, every input defined earlier in the list, known node kinds,
        ``call`` targets present in the op table, state and constant references valid,
        exactly one ``output`` node and it is last.

        Example:
            >>> from ember.jit.ir import Graph
            >>> g = Graph()
            >>> _ = g.output(g.call("no_such_op", (g.placeholder("x", (2,), "float32"),), {}))
            >>> g.lint()  # doctest: +ELLIPSIS
            Traceback (most recent call last):
            ...
            ember.jit.errors.GraphError: node 1 (no_such_op) calls 'no_such_op', which is not in...
        """
        from ..ops.registry import OPS
        from .errors import GraphError
        seen: set[int] = set()
        names: set[str] = set()
        kinds = {"placeholder", "state", "constant", "call", "select", "write", "grad_acc",
                 "effect", "guard", "output", "backward", "fused", "split", "grad_in"}
        outputs = 0
        for i, n in enumerate(self.nodes):
            where = f"node {i} ({n.name})"
            if n.graph is not self:
                raise GraphError(f"{where} belongs to another graph")
            if n.name in names:
                raise GraphError(f"{where}: duplicate name")
            names.add(n.name)
            if n.kind not in kinds:
                raise GraphError(f"{where}: unknown node kind {n.kind!r}")
            for inp in n.inputs:
                if id(inp) not in seen:
                    raise GraphError(f"{where} reads {inp.name}, which is not defined before it")
            if n.kind == "call" and n.target not in OPS:
                raise GraphError(f"{where} calls {n.target!r}, which is not in the op table")
            if (n.kind == "state" or n.kind == "grad_acc" and n.target is not None) and not (
                    isinstance(n.target, int) and 0 <= n.target < len(self.state)):
                raise GraphError(f"{where}: state index {n.target!r} out of range")
            if n.kind == "constant" and n.target not in self.constants:
                raise GraphError(f"{where}: unknown constant {n.target!r}")
            if n.kind == "select" and not (len(n.args) == 1 and isinstance(n.args[0], Node)):
                raise GraphError(f"{where}: select needs one node argument")
            if n.kind == "output":
                outputs += 1
                if i != len(self.nodes) - 1:
                    raise GraphError(f"{where}: output must be the last node")
            seen.add(id(n))
        if outputs != 1:
            raise GraphError(f"graph has {outputs} output nodes, expected 1")
