"""Code generation: a graph becomes one Python function over backend arrays.

The function calls each op's ``forward`` directly on arrays (no Tensor objects, no
autograd bookkeeping); an op whose gradient the graph also computes gets a real ctx so
its ``backward`` node can use what the forward saved. Each value is deleted after its last
use, as eager code drops its tensors. Helpers are bound as globals of
the generated code (names start with ``_j``; node names never start with ``_``).

Example:
    >>> import ember
    >>> f = ember.jit.trace(lambda x: (x * 2).relu(), (ember.ones(3),), passes=[])
    >>> print(f.graph.python_code())
    def forward(_jA, _jT):
        x = _jA[0]
        mul = _j1(x, 2)
        del x
        relu = _j2(mul)
        del mul
        return (relu,)
    <BLANKLINE>
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from ..autograd import engine as _engine
from ..backend import xp
from ..ops.registry import ARRAY_NS, NULL_CTX, OPS
from ..tensor import Tensor
from .errors import GuardFailed
from .ir import Graph, Node, map_nodes, storage_root

__all__ = ["generate", "Program"]


@dataclass
class Program:
    """Generated source and the compiled function ``fn(arrays, tensors) -> tuple``."""

    source: str
    fn: object
    globals: dict = field(default_factory=dict)
    #: the backward part of a differentiable graph: ``backward(env, grads)``
    backward: object = None


def _guard_check(what: str, expected, site: str, index: int):
    if what == "shape":
        def check(v):
            return tuple(xp.shape(v)) != expected
    elif what in ("tolist", "numpy", "__array__"):
        def check(v):
            v = xp.asarray(v)
            return v.shape != expected.shape or v.dtype != expected.dtype or not xp.array_equal(
                v, expected, equal_nan=v.dtype.kind in "fc")
    else:
        def check(v):
            got = xp.asarray(v).item()
            return got != expected and not (got != got and expected != expected)
    return check


def _fit(g, shape, dtype):
    """A backward formula's gradient, summed back and cast to the input's shape and dtype."""
    if g is None:
        return xp.zeros(shape, dtype)
    if type(g) is not xp.ndarray:
        g = xp.asarray(g)
    if g.shape != shape:
        g = OPS["sum_to"].forward(NULL_CTX, g, shape=shape)
    if g.dtype != dtype:
        g = g.astype(dtype)
    return g


def _acc(leaf: Tensor, g):
    _engine._accumulate(leaf, g, False)
    return leaf.grad._data


def _acc_own(leaf: Tensor, g):
    """``_acc`` for a fresh array no other node reads: the first gradient is adopted as
    ``.grad`` instead of copied (the engine copies, not knowing who else holds it)."""
    if leaf.grad is None and type(g) is type(leaf._data) and g.dtype == leaf._data.dtype \
            and g.shape == leaf._data.shape and g.flags.owndata and g.flags.writeable:
        leaf.grad = Tensor._make(g)
        return g
    return _acc(leaf, g)


def _grad_of(t: Tensor, index: int):
    g = t.grad
    if g is None:
        raise GuardFailed(index, "a .grad the trace read is None now")
    return g._data


def _saved(ctx) -> tuple:
    s = ctx._saved
    return () if s is None else s


def _ctx_factory(op, needs: tuple):
    """The class of this call's ctx: the op's node class with ``needs_input_grad`` fixed
    and plain saved values (no version checks: a graph's values change only where the
    graph says); instantiating it is the cheapest way to get a fresh ctx."""
    edges = tuple(True if n else None for n in needs)
    return type(op.node_class.__name__, (op.node_class,), {
        "next_edges": edges, "needs_input_grad": tuple(bool(n) for n in needs),
        "saved_tensors": property(_saved), "__slots__": ()})


def _effect(fn, args, kwargs, refs: list):
    slot = {id(r): j for j, r in enumerate(refs)}

    def subst(x, vals):
        if isinstance(x, Node):
            return Tensor._make(vals[slot[id(x)]])
        if type(x) in (tuple, list):
            return type(x)(subst(v, vals) for v in x)
        if type(x) is dict:
            return {k: subst(v, vals) for k, v in x.items()}
        return x

    def run(*vals):
        r = fn(*subst(args, vals), **subst(kwargs, vals))
        return r._data if isinstance(r, Tensor) else r
    return run


def generate(graph: Graph) -> Program:
    """Generate the NumPy-backend function(s) for ``graph``.

    A graph with a ``split`` node gives ``forward(_jA, _jT) -> (outputs, env)`` and
    ``backward(_jE, _jG) -> input grads`` (``env``: the forward values backward reads).
    """
    g: dict = {"_jGuardFailed": GuardFailed, "_jfit": _fit, "_jacc": _acc, "_jown": _acc_own,
               "_jcopyto": xp.copyto, "_jgrad": _grad_of, "_jasarray": xp.asarray,
               "_jNS": ARRAY_NS}
    from .passes import ctx_nodes, fresh_result, users_map
    users = users_map(graph)
    needs_ctx = ctx_nodes(graph)
    ctx = {"placeholders": {n: i for i, n in enumerate(graph.placeholders)},
           "needs_ctx": needs_ctx,
           "written": {storage_root(n.args[0]) for n in graph.nodes if n.kind == "write"},
           # gradients made anew and read by nothing else: .grad may adopt them
           "adopt": {n.args[0] for n in graph.nodes if n.kind == "grad_acc"
                     and len(users[n.args[0]]) == 1 and fresh_result(n.args[0], needs_ctx)},
           "arg": _literal(g)}
    g["_jS"] = [ref.tensor for ref in graph.state]
    nodes = graph.nodes
    split = next((i for i, n in enumerate(nodes) if n.kind == "split"), None)
    out = graph.output_node
    leaves = []
    map_nodes(out.args[0], lambda x: leaves.append(x.name))
    ret = f"({', '.join(leaves)}{',' if len(leaves) == 1 else ''})"
    if split is None:
        part = list(enumerate(nodes[:-1]))
        lines = _with_frees(part, [_emit(n, i, g, ctx) for i, n in part], set(leaves))
        src = _function("forward", "_jA, _jT", lines, f"return {ret}")
    else:
        bwd_nodes = nodes[split + 1:-1]
        defined = set(nodes[:split])
        env: list[str] = []
        for n in bwd_nodes:
            for x in n.inputs:
                if x in defined and x.name not in env:
                    env.append(x.name)
            if n.kind == "backward" and n.args[0].name + "_ctx" not in env:
                env.append(n.args[0].name + "_ctx")
        for x in out.kwargs["grads"]:
            if x is not None and x in defined and x.name not in env:
                env.append(x.name)
        part = list(enumerate(nodes[:split]))
        fwd = _with_frees(part, [_emit(n, i, g, ctx) for i, n in part], set(leaves) | set(env))
        part = list(enumerate(bwd_nodes, split + 1))
        bwd = _with_frees(part, [_emit(n, i, g, ctx) for i, n in part],
                          {x.name for x in out.kwargs["grads"] if x is not None})
        env_t = f"({', '.join(env)}{',' if len(env) == 1 else ''})"
        src = _function("forward", "_jA, _jT", fwd, f"return {ret}, {env_t}")
        grads = ", ".join("None" if x is None else x.name for x in out.kwargs["grads"])
        unpack = [f"{env_t} = _jE"] if env else []
        src += "\n" + _function("backward", "_jE, _jG", unpack + bwd,
                                 f"return ({grads}{',' if len(out.kwargs['grads']) == 1 else ''})")
    code = compile(src, "<ember.jit graph>", "exec")
    exec(code, g)  # the source is generated above from a graph, never read from a file
    prog = Program(src, g["forward"], globals=g)
    prog.backward = g.get("backward")
    return prog


def _uses(n: Node) -> list[str]:
    names = [x.name for x in n.inputs]
    if n.kind == "backward":
        names.append(n.args[0].name + "_ctx")
    return names


def _with_frees(part: list, emitted: list, keep: set) -> list[str]:
    """The lines of ``part`` with ``del`` of each value after its last use: intermediates
    die as soon as eager's would, so NumPy reuses their memory while it is still in cache."""
    last: dict[str, int] = {}
    for j, (_, n) in enumerate(part):
        for name in _uses(n):
            last[name] = j
        for name in _defines(n):
            last.setdefault(name, j)
    dying: dict[int, list] = {}
    for name, j in last.items():
        if name not in keep:
            dying.setdefault(j, []).append(name)
    defined: set = set()
    lines: list[str] = []
    for j, ((_, n), body) in enumerate(zip(part, emitted)):
        lines += body
        defined.update(_defines(n))
        dead = [x for x in dying.get(j, ()) if x in defined]
        if dead:
            lines.append(f"del {', '.join(dead)}")
    return lines


def _defines(n: Node) -> list[str]:
    if n.kind in ("guard", "split", "output") or n.kind == "effect" and n.shape is None:
        return []
    if n.kind == "call" and n.meta.get("_ctx"):
        return [n.name, n.name + "_ctx"]
    return [n.name]


def _function(name: str, params: str, lines: list, ret: str) -> str:
    body = lines + [ret]
    return f"def {name}({params}):\n" + "\n".join("    " + ln for ln in body) + "\n"


def _emit(n: Node, i: int, g: dict, ctx: dict) -> list[str]:
    """The source lines of node ``n`` (at index ``i``)."""
    _arg = ctx["arg"]
    v = n.name
    k = f"_j{i}"
    if n.kind == "placeholder":
        return [f"{v} = _jA[{ctx['placeholders'][n]}]"]
    if n.kind == "grad_in":
        return [f"{v} = _jG[{n.target}]"]
    if n.kind == "state":
        if n.kwargs.get("attr") == "grad":
            return [f"{v} = _jgrad(_jS[{n.target}], {i})"]
        return [f"{v} = _jS[{n.target}]._data"]
    if n.kind == "constant":
        g[k] = n.graph.constants[n.target]
        return [f"{v} = {k}.copy()" if n in ctx["written"] else f"{v} = {k}"]
    if n.kind == "call":
        op = OPS[n.target]
        args = ", ".join(_arg(a) for a in n.args)
        if n in ctx["needs_ctx"]:
            n.meta["_ctx"] = True
            g[k] = functools.partial(op.forward, **n.kwargs) if n.kwargs else op.forward
            if n.meta.get("copy_target"):  # an in-place op: its write must not reach the ctx
                first = _arg(n.args[0])
                args = ", ".join([f"{first}.copy()"] + [_arg(a) for a in n.args[1:]])
            g[k + "c"] = _ctx_factory(op, n.meta["needs"])
            call = f"{k}({v}_ctx{', ' if args else ''}{args})"
            return [f"{v}_ctx = {k}c()",
                    f"{v} = _jasarray({call})" if n.shape == () else f"{v} = {call}"]
        g[k] = functools.partial(op.forward, NULL_CTX, **n.kwargs)
        if n.shape == ():  # NumPy returns 0-d results as scalars: keep them arrays
            return [f"{v} = _jasarray({k}({args}))"]
        return [f"{v} = {k}({args})"]
    if n.kind == "fused":
        g[k] = n.target
        call = f"{k}({', '.join(_arg(a) for a in n.args)})"
        return [f"{v} = _jasarray({call})" if n.shape == () else f"{v} = {call}"]
    if n.kind == "select":
        src = n.args[0].name
        if "fit" in n.kwargs:
            shape, dtype = n.kwargs["fit"]
            fwd = n.args[0].args[0] if n.args[0].kind == "backward" else None
            if fwd is not None and fwd.shape == shape and fwd.dtype == dtype and shape \
                    and _elementwise(fwd):
                # an elementwise op's gradient already has its same-shaped input's shape
                return [f"{v} = {src}[{n.target}]"]
            g[k] = (shape, xp.dtype(dtype))
            return [f"{v} = _jfit({src}[{n.target}], *{k})"]
        if n.shape == ():
            return [f"{v} = _jasarray({src}[{n.target}])"]
        return [f"{v} = {src}[{n.target}]"]
    if n.kind == "backward":
        fwd = n.args[0]
        g[k] = OPS[fwd.target].backward
        grads = ", ".join(_arg(a) for a in n.args[1:])
        return [f"{v} = {k}({fwd.name}_ctx, _jNS, {grads})",
                f"if {v}.__class__ is not tuple:", f"    {v} = ({v},)"]
    if n.kind == "write":
        tgt, val = n.args
        lines = [f"_jcopyto({tgt.name}, {_arg(val)}, casting='unsafe')"]
        if "bump" in n.kwargs:
            lines.append(f"_jS[{n.kwargs['bump']}]._bump_version()")
        return lines + [f"{v} = {tgt.name}"]
    if n.kind == "grad_acc":
        leaf = (f"_jS[{n.target}]" if n.target is not None
                else f"_jT[{ctx['placeholders'][n.args[1]]}]")
        val = n.args[0]
        return [f"{v} = {'_jown' if val in ctx['adopt'] else '_jacc'}({leaf}, {val.name})"]
    if n.kind == "effect":
        refs: list = []
        map_nodes((n.args, n.kwargs), lambda x: refs.append(x) if x not in refs else None)
        g[k] = _effect(n.target, n.args[0], n.kwargs.get("kwargs", {}), refs)
        call = f"{k}({', '.join(r.name for r in refs)})"
        return [f"{v} = {call}" if n.shape is not None else call]
    if n.kind == "guard":
        g[k] = _guard_check(n.kwargs["what"], n.kwargs["expected"], n.kwargs["site"], i)
        return [f"if {k}({n.args[0].name}):", f"    raise _jGuardFailed({i})"]
    if n.kind == "split":
        return []
    raise ValueError(f"codegen: unknown node kind {n.kind!r} ({n.name})")


_SAME_SHAPE_GRADS = frozenset({"add", "sub", "mul", "div", "neg", "exp", "log", "tanh",
                               "sigmoid", "relu", "gelu", "silu", "sqrt", "abs", "pow",
                               "maximum", "minimum", "square", "sin", "cos", "leaky_relu",
                               "elu", "softplus", "where", "clamp", "log_softmax", "softmax",
                               "dropout", "hardtanh", "mish", "erf", "rsqrt", "reciprocal"})


def _elementwise(fwd: Node) -> bool:
    return fwd.kind == "call" and fwd.target in _SAME_SHAPE_GRADS


def _literal(g: dict):
    """``arg -> source``: nodes by name, plain literals inline, anything else bound."""
    def arg(a) -> str:
        if isinstance(a, Node):
            return a.name
        if type(a) in (tuple, list):
            inner = ", ".join(arg(x) for x in a)
            return (f"({inner},)" if len(a) == 1 else f"({inner})") if type(a) is tuple \
                else f"[{inner}]"
        if type(a) in (int, bool, str) or a is None or (type(a) is float and a == a
                                                          and abs(a) != float("inf")):
            return repr(a)
        key = f"_jl{len(g)}"
        g[key] = a
        return key
    return arg
