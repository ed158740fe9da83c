"""Reading a graph file's JSON back into a ``Graph``, checking everything on the way: field
names, node kinds, op names and their arguments, references, tags, shapes and dtypes. No
value read is ever executed or imported."""

from __future__ import annotations

import inspect
import keyword

from ..backend import xp
from ..ops.registry import OPS
from ..serialization import _ST_TO_NP, SerializationError
from .errors import GraphError
from .graph_format import (
    _DTYPES,
    _GRAPH_FIELDS,
    _GUARD_ARRAY,
    _GUARD_SCALAR,
    _KW_RE,
    _LOADABLE,
    _MAX_DEPTH,
    _MAX_KEY,
    _MAX_NAME,
    _MAX_NDIM,
    _NAME_RE,
    _NODE_FIELDS,
    _clip,
    _key_ok,
)
from .ir import Graph, Node
from .pytree import _Spec


class _ArrayRef:
    __slots__ = ("key",)

    def __init__(self, key: str) -> None:
        self.key = key


class _Reader:
    """Checks and decodes the JSON of one file into a ``Graph``."""

    def __init__(self, name: str, header: dict) -> None:
        self.name = name
        self.header = header            # tensor name -> safetensors entry
        self.expected: dict[str, tuple] = {}  # tensor name -> (shape, dtype, what)
        self.by_name: dict[str, Node] = {}

    # -- errors
    def graph_error(self, what: str):
        raise GraphError(f"ember.jit.load: {self.name}: {what}")

    def file_error(self, what: str):
        raise SerializationError(f"ember.jit.load: {self.name}: {what}")

    # -- small checks
    def shape(self, s, where: str, required: bool = True):
        if s is None and not required:
            return None
        if (not isinstance(s, list) or len(s) > _MAX_NDIM
                or not all(type(d) is int and d >= 0 for d in s)):
            self.graph_error(f"{where}: shape must be a list of at most {_MAX_NDIM} "
                             f"non-negative integers, got {_clip(s)}")
        return tuple(s)

    def dtype(self, d, where: str, required: bool = True):
        if d is None and not required:
            return None
        if not isinstance(d, str) or d not in _DTYPES:
            self.graph_error(f"{where}: dtype {_clip(d)} is not one of ember's dtypes "
                             f"({', '.join(_DTYPES)})")
        return d

    def fields(self, e, where: str, allowed: frozenset, required: tuple) -> dict:
        if not isinstance(e, dict):
            self.graph_error(f"{where}: expected a JSON object, got {_clip(e)}")
        extra = sorted(set(e) - allowed)
        if extra:
            self.graph_error(f"{where}: unknown field(s) {extra}")
        missing = [k for k in required if k not in e]
        if missing:
            self.graph_error(f"{where}: missing field(s) {missing}")
        return e

    def expect_tensor(self, key: str, shape: tuple, dtype: str, what: str) -> None:
        if key in self.expected:
            self.graph_error(f"{what}: tensor {key!r} is declared twice")
        e = self.header.get(key)
        if e is None:
            self.file_error(f"{what}: tensor {key!r} is missing from the file's tensors")
        got = tuple(e["shape"])
        if got != shape:
            self.file_error(f"{what}: tensor {key!r} has shape {list(got)} in the file but the "
                            f"graph declares {list(shape)}")
        np_dt = _ST_TO_NP.get(e["dtype"])
        if np_dt is None or np_dt != xp.dtype(dtype):
            self.file_error(f"{what}: tensor {key!r} is stored as {e['dtype']} but the graph "
                            f"declares {dtype}")
        self.expected[key] = (shape, dtype, what)

    # -- values
    def value(self, x, where: str, array_key: str | None = None, depth: int = 0):
        if depth > _MAX_DEPTH:
            self.graph_error(f"{where}: values nested deeper than {_MAX_DEPTH}")
        if x is None or isinstance(x, (bool, int, float, str)):
            return x
        if isinstance(x, list):
            return [self.value(v, where, None, depth + 1) for v in x]
        if not isinstance(x, dict):
            self.graph_error(f"{where}: unexpected JSON value {_clip(x)}")
        tag = x.get("$")
        if not isinstance(tag, str):
            self.graph_error(f"{where}: a JSON object must be a tagged value "
                             f"{{\"$\": tag, \"v\": ...}}, got {_clip(x)}")
        if set(x) - {"$", "v"}:
            self.graph_error(f"{where}: tagged value {_clip(x)} has fields other than $ and v")
        v = x.get("v")
        sub = depth + 1
        if tag == "node":
            if not isinstance(v, str):
                self.graph_error(f"{where}: a node reference must be a name, got {_clip(v)}")
            node = self.by_name.get(v)
            if node is None:
                self.graph_error(f"{where} refers to node {v[:_MAX_NAME]!r}, which is not "
                                 "defined before it")
            return node
        if tag == "tuple" and isinstance(v, list):
            return tuple(self.value(a, where, None, sub) for a in v)
        if tag == "dict" and isinstance(v, list):
            out = {}
            for item in v:
                if not isinstance(item, list) or len(item) != 2:
                    self.graph_error(f"{where}: dict items must be [key, value] pairs")
                k = self.value(item[0], where, None, sub)
                try:
                    hash(k)
                except TypeError:
                    self.graph_error(f"{where}: unhashable dict key {_clip(item[0])}")
                out[k] = self.value(item[1], where, None, sub)
            return out
        if tag == "slice" and isinstance(v, list) and len(v) == 3 and all(
                a is None or type(a) is int for a in v):
            return slice(*v)
        if tag == "ellipsis" and "v" not in x:
            return Ellipsis
        if tag == "float" and v in ("nan", "inf", "-inf"):
            return float(v)
        if tag == "complex" and isinstance(v, list) and len(v) == 2:
            re_, im = (self.value(a, where, None, sub) for a in v)
            if all(type(a) in (int, float) for a in (re_, im)):
                return complex(re_, im)
        if tag in ("dtype", "npdtype") and isinstance(v, str):
            if v not in _DTYPES:
                self.graph_error(f"{where}: dtype {v[:_MAX_NAME]!r} is not one of ember's "
                                 f"dtypes ({', '.join(_DTYPES)})")
            return _DTYPES[v] if tag == "dtype" else xp.dtype(v)
        if tag == "scalar" and isinstance(v, list) and len(v) == 2 and isinstance(v[0], str) \
                and v[0] in _DTYPES:
            s = self.value(v[1], where, None, sub)
            if type(s) in (bool, int, float):
                try:
                    return xp.dtype(v[0]).type(s)
                except (OverflowError, ValueError):
                    pass
        if tag == "array" and array_key is not None and v == array_key:
            return _ArrayRef(v)
        known = ("node", "tuple", "dict", "slice", "ellipsis", "float", "complex", "dtype",
                 "npdtype", "scalar", "array")
        if tag not in known:
            self.graph_error(f"{where}: unknown tag {tag[:_MAX_NAME]!r} (known: "
                             f"{', '.join(known)})")
        self.graph_error(f"{where}: malformed {tag!r} value {_clip(x)}")

    # -- the graph
    def graph(self, doc: dict):
        g = self.fields(doc, "graph", _GRAPH_FIELDS,
                        ("inputs", "state", "constants", "nodes", "output_spec"))
        for key in ("inputs", "state", "constants", "nodes"):
            if not isinstance(g[key], list):
                self.graph_error(f"graph.{key} must be a list, got {_clip(g[key])}")
        graph = Graph()
        kinds = []
        for k, e in enumerate(g["state"]):
            where = f"state {k}"
            self.fields(e, where, frozenset({"name", "shape", "dtype", "kind"}),
                        ("name", "shape", "dtype", "kind"))
            name = e["name"]
            if not isinstance(name, str) or not _key_ok(name):
                self.graph_error(f"{where}: bad state name {_clip(name)}")
            where = f"state {k} ({name!r})"
            if e["kind"] not in ("parameter", "buffer"):
                self.graph_error(f"{where}: kind must be 'parameter' or 'buffer', got "
                                 f"{_clip(e['kind'])}")
            shape = self.shape(e["shape"], where)
            dtype = self.dtype(e["dtype"], where)
            self.expect_tensor(name, shape, dtype, where)
            graph.state.append([name, shape, dtype])
            kinds.append(e["kind"])
        const_meta = {}
        for k, e in enumerate(g["constants"]):
            where = f"constant {k}"
            self.fields(e, where, frozenset({"key", "shape", "dtype"}), ("key", "shape", "dtype"))
            key = e["key"]
            if not isinstance(key, str) or not 0 < len(key) <= _MAX_KEY or key in const_meta:
                self.graph_error(f"{where}: bad or repeated constant key {_clip(key)}")
            where = f"constant {key!r}"
            shape = self.shape(e["shape"], where)
            dtype = self.dtype(e["dtype"], where)
            self.expect_tensor(f"const/{key}", shape, dtype, where)
            const_meta[key] = (shape, dtype)
        nodes = g["nodes"]
        for i, e in enumerate(nodes):
            self.node(graph, i, e, const_meta, last=i == len(nodes) - 1)
        if not graph.nodes or graph.nodes[-1].kind != "output":
            self.graph_error("the graph must end with an output node")
        phs = graph.placeholders
        inputs = g["inputs"]
        if len(inputs) != len(phs):
            self.graph_error(f"graph.inputs lists {len(inputs)} inputs but the graph has "
                             f"{len(phs)} placeholders")
        for k, (e, ph) in enumerate(zip(inputs, phs)):
            where = f"input {k}"
            self.fields(e, where, frozenset({"name", "shape", "dtype"}), ("name", "shape", "dtype"))
            if (e["name"] != ph.target or self.shape(e["shape"], where) != ph.shape
                    or self.dtype(e["dtype"], where) != ph.dtype):
                self.graph_error(f"{where} ({_clip(e['name'])}) does not match placeholder "
                                 f"{ph.name}")
        out_spec = self.spec(g["output_spec"], "graph.output_spec")
        n_leaves = _count_tensors(out_spec)
        outs = graph.nodes[-1].args[0]
        if n_leaves != len(outs):
            self.graph_error(f"graph.output_spec holds {n_leaves} tensors but the output node "
                             f"returns {len(outs)}")
        source = g.get("source")
        training = g.get("training")
        if not (source is None or isinstance(source, str)) or training not in (None, True,
                                                                                False):
            self.graph_error("graph.source must be a string and graph.training a bool or null")
        extra = sorted(set(self.header) - set(self.expected))
        if extra:
            self.file_error(f"the file holds tensor(s) the graph does not use: "
                            f"{_clip(extra)}")
        return graph, kinds, out_spec, {"source": source, "training": training}

    def node(self, graph: Graph, i: int, e, const_meta: dict, last: bool) -> None:
        where = f"node {i}"
        self.fields(e, where, _NODE_FIELDS, ("name", "kind"))
        name = e["name"]
        if (not isinstance(name, str) or len(name) > _MAX_NAME or not _NAME_RE.match(name)
                or keyword.iskeyword(name)):
            self.graph_error(f"{where}: node name {_clip(name)} is not a plain identifier "
                             f"(a letter, then letters, digits or _; at most {_MAX_NAME})")
        if name in self.by_name or name + "_ctx" in self.by_name or (
                name.endswith("_ctx") and name[:-4] in self.by_name):
            # (generated code names a call's ctx <name>_ctx)
            self.graph_error(f"{where}: duplicate node name {name!r}")
        where = f"node {i} ({name})"
        kind = e["kind"]
        if kind in ("effect", "grad_acc"):
            self.graph_error(f"{where}: node kind {kind!r} (a training step) cannot be loaded")
        if kind in ("split", "grad_in", "fused"):
            self.graph_error(f"{where}: node kind {kind!r} cannot be loaded (graph files hold "
                             "inference graphs before passes)")
        if kind not in _LOADABLE:
            self.graph_error(f"{where}: unknown node kind {_clip(kind)} (known: "
                             f"{', '.join(_LOADABLE)})")
        target = self.value(e.get("target"), f"{where} target")
        raw_args = e.get("args", [])
        if not isinstance(raw_args, list):
            self.graph_error(f"{where}: args must be a list")
        args = tuple(self.value(a, f"{where} args") for a in raw_args)
        raw_kw = e.get("kwargs", {})
        if not isinstance(raw_kw, dict):
            self.graph_error(f"{where}: kwargs must be an object")
        kwargs = {}
        for k, v in raw_kw.items():
            if len(k) > _MAX_NAME or not _KW_RE.match(k):
                self.graph_error(f"{where}: keyword {k[:_MAX_NAME]!r} is not an identifier")
            akey = f"guard/{name}" if kind == "guard" and k == "expected" else None
            kwargs[k] = self.value(v, f"{where} kwarg {k!r}", akey)
        shape = self.shape(e.get("shape"), where, required=False)
        dtype = self.dtype(e.get("dtype"), where, required=False)
        raw_meta = e.get("meta", {})
        if not isinstance(raw_meta, dict) or set(raw_meta) - {"needs", "rg", "n_out",
                                                               "out_meta"}:
            self.graph_error(f"{where}: meta must be an object with keys among needs, rg, "
                             f"n_out, out_meta, got {_clip(raw_meta)}")
        meta = {k: self.value(v, f"{where} meta {k!r}") for k, v in raw_meta.items()}
        node = Node(graph, name, kind, target, args, kwargs, shape, dtype)
        self.check_node(graph, node, where, meta, const_meta, last)
        node.meta.update(meta)
        graph.nodes.append(node)
        self.by_name[name] = node

    def check_node(self, graph, n: Node, where: str, meta: dict, const_meta: dict,
                   last: bool) -> None:
        kind, target, args, kwargs = n.kind, n.target, n.args, n.kwargs
        bad = self.graph_error

        def no_inputs():
            if args or kwargs:
                bad(f"{where}: a {kind} node takes no args or kwargs")

        def typed():
            if n.shape is None or n.dtype is None:
                bad(f"{where}: a {kind} node needs a shape and a dtype")

        def int_in(v, hi):
            return type(v) is int and 0 <= v < hi

        if "needs" in meta and not (kind == "call" and type(meta["needs"]) is tuple and len(
                meta["needs"]) == len(args) and all(type(b) is bool for b in meta["needs"])):
            bad(f"{where}: meta 'needs' must be one bool per argument of a call node")
        if "rg" in meta and type(meta["rg"]) is not bool:
            bad(f"{where}: meta 'rg' must be a bool")
        if "n_out" in meta and not (kind == "call" and type(meta["n_out"]) is int
                                    and 0 < meta["n_out"] <= 1000):
            bad(f"{where}: meta 'n_out' must be a positive count on a call node")
        if "out_meta" in meta and not (type(meta["out_meta"]) is list and all(
                type(m) is tuple and len(m) == 2 and type(m[0]) is tuple
                and all(type(d) is int and d >= 0 for d in m[0]) and isinstance(m[1], xp.dtype)
                for m in meta["out_meta"])):
            bad(f"{where}: meta 'out_meta' must be a list of (shape, dtype) pairs")
        if kind != "output" and last:
            bad(f"{where}: the last node must be the output node")
        if kind == "placeholder":
            no_inputs()
            typed()
            if not isinstance(target, str) or not 0 < len(target) <= _MAX_NAME:
                bad(f"{where}: a placeholder's target must be its argument name")
        elif kind == "state":
            typed()
            if not int_in(target, len(graph.state)):
                bad(f"{where}: state index {_clip(target)} out of range "
                    f"({len(graph.state)} state tensors)")
            if args or kwargs != {"attr": "data"}:
                bad(f"{where}: a state node takes kwargs {{'attr': 'data'}} only (reading a "
                    ".grad is a training step)")
            _, shape, dtype = graph.state[target]
            if (n.shape, n.dtype) != (shape, dtype):
                bad(f"{where}: declares {n.dtype}{list(n.shape)} but state {target} is "
                    f"{dtype}{list(shape)}")
        elif kind == "constant":
            no_inputs()
            typed()
            if not isinstance(target, str) or target not in const_meta:
                bad(f"{where}: unknown constant {_clip(target)}")
            if (n.shape, n.dtype) != const_meta[target]:
                bad(f"{where}: declares {n.dtype}{list(n.shape)} but constant {target!r} is "
                    f"{const_meta[target][1]}{list(const_meta[target][0])}")
        elif kind == "call":
            if not isinstance(target, str) or target not in OPS:
                bad(f"{where}: unknown op {_clip(target)} (not in ember's op table)")
            op = OPS[target]
            try:
                sig = inspect.signature(op.forward)
            except (TypeError, ValueError):
                sig = None
            if sig is not None:
                try:
                    sig.bind(None, *args, **kwargs)
                except TypeError as err:
                    bad(f"{where}: op {target!r} does not take these arguments ({err})")
            n.meta["op"] = op
        elif kind == "select":
            if len(args) != 1 or not isinstance(args[0], Node) or args[0].kind not in (
                    "call", "backward"):
                bad(f"{where}: a select node reads one call or backward node")
            src = args[0]
            hi = src.meta.get("n_out", 1000) if src.kind == "call" else len(src.args[0].args)
            if not int_in(target, hi):
                bad(f"{where}: output index {_clip(target)} out of range")
            if set(kwargs) - {"fit"}:
                bad(f"{where}: unknown select kwargs {sorted(kwargs)}")
            if "fit" in kwargs and kwargs["fit"] != (n.shape, n.dtype):
                bad(f"{where}: kwarg fit must be this node's (shape, dtype)")
        elif kind == "write":
            if len(args) != 2 or not isinstance(args[0], Node):
                bad(f"{where}: a write node takes (target node, value)")
            if set(kwargs) - {"bump"} or "bump" in kwargs and not int_in(kwargs["bump"],
                                                                           len(graph.state)):
                bad(f"{where}: a write node's only kwarg is bump=<state index>")
        elif kind == "guard":
            self.check_guard(n, where)
        elif kind == "backward":
            if not args or not isinstance(args[0], Node) or args[0].kind != "call" or not all(
                    isinstance(a, Node) for a in args[1:]) or kwargs:
                bad(f"{where}: a backward node reads its call node and gradient nodes")
            if "needs" not in args[0].meta:
                bad(f"{where}: call node {args[0].name} lacks meta 'needs'")
        elif kind == "output":
            if len(args) != 1 or type(args[0]) is not tuple or not all(
                    isinstance(a, Node) for a in args[0]):
                bad(f"{where}: the output node returns one tuple of nodes")
            items = kwargs.get("items", [])
            if set(kwargs) - {"items"} or type(items) is not list or not all(
                    int_in(k, len(args[0])) for k in items):
                bad(f"{where}: the output node's only kwarg is items=<list of output indices>")

    def check_guard(self, n: Node, where: str) -> None:
        bad = self.graph_error
        if len(n.args) != 1 or not isinstance(n.args[0], Node):
            bad(f"{where}: a guard reads one node")
        kw = n.kwargs
        if set(kw) != {"what", "expected", "site"} or not isinstance(kw["site"], str):
            bad(f"{where}: a guard's kwargs are what, expected and site")
        what, exp = kw["what"], kw["expected"]
        if not isinstance(what, str):
            bad(f"{where}: a guard's what must be a string, got {_clip(what)}")
        if what == "shape":
            ok = type(exp) is tuple and all(type(d) is int and d >= 0 for d in exp)
        elif what in _GUARD_ARRAY:
            ok = isinstance(exp, _ArrayRef)
            if ok:
                e = self.header.get(exp.key)
                if e is None:
                    self.file_error(f"{where}: tensor {exp.key!r} is missing from the file's "
                                    "tensors")
                dt = _ST_TO_NP.get(e["dtype"])
                if dt is None:
                    self.file_error(f"{where}: tensor {exp.key!r} has unsupported dtype "
                                    f"{e['dtype']}")
                self.expect_tensor(exp.key, tuple(e["shape"]),
                                   "bool" if dt.kind == "b" else dt.name, where)
        elif what in _GUARD_SCALAR:
            ok = type(exp) in (bool, int, float, complex)
        else:
            bad(f"{where}: unknown guard kind {_clip(what)}")
        if not ok:
            bad(f"{where}: bad expected value {_clip(exp)} for a {what!r} guard")

    def spec(self, s, where: str, depth: int = 0):
        if depth > _MAX_DEPTH:
            self.graph_error(f"{where}: nested deeper than {_MAX_DEPTH}")
        if not isinstance(s, list) or not s or not isinstance(s[0], str):
            self.graph_error(f"{where}: expected [kind, ...], got {_clip(s)}")
        kind = s[0]
        if kind == "tensor" and len(s) == 1:
            return _Spec("tensor")
        if kind == "literal" and len(s) == 2:
            v = self.value(s[1], where)
            if v is None or type(v) in (bool, int, float, str):
                return _Spec("literal", v)
        if kind in ("tuple", "list") and len(s) == 2 and isinstance(s[1], list):
            return _Spec(tuple if kind == "tuple" else list, None,
                         tuple(self.spec(c, where, depth + 1) for c in s[1]))
        if kind == "dict" and len(s) == 3 and isinstance(s[1], list) and isinstance(
                s[2], list) and len(s[1]) == len(s[2]):
            keys = tuple(self.value(k, where) for k in s[1])
            for k in keys:
                try:
                    hash(k)
                except TypeError:
                    self.graph_error(f"{where}: unhashable dict key {_clip(k)}")
            return _Spec(dict, keys, tuple(self.spec(c, where, depth + 1) for c in s[2]))
        self.graph_error(f"{where}: malformed output structure {_clip(s)}")


def _count_tensors(spec) -> int:
    if spec.kind == "tensor":
        return 1
    return sum(_count_tensors(c) for c in spec.children)


def _register_all_ops() -> None:
    """Import the modules whose ops a graph may call (``import ember`` leaves some out)."""
    import importlib
    for mod in ("ember.nn", "ember.nn.functional", "ember.debug"):
        try:
            importlib.import_module(mod)
        except ImportError:
            pass


def _rewrap(fn, *args):
    """Run a serialization.py reader, naming ``ember.jit.load`` in its errors."""
    try:
        return fn(*args)
    except SerializationError as e:
        raise SerializationError(str(e).replace("ember.load:", "ember.jit.load:", 1)) from None


def _reject_constant(s: str):
    raise ValueError(f"non-standard JSON constant {s}")
