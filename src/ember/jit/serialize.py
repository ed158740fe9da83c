"""Graph files: ``TracedModule.save(path)`` writes a traced graph and its tensors to one
file; ``ember.jit.load(path)`` reads it back as a :class:`LoadedModule` that runs without
the model's Python source.

A graph file is a plain safetensors file (see ``ember/serialization.py``, whose atomic
write and header checks this module reuses). Its tensors are the graph's state under
their names (a module's parameter and buffer names, e.g. ``"fc1.weight"``), its
constants as ``"const/<key>"`` and array-valued guard expectations as
``"guard/<node name>"``. Its ``__metadata__`` holds one JSON string under ``"ember_jit"``::

    {"format_version": 1, "opset_version": 1, "ember_version": "0.1.0",
     "graph": {"inputs": [{"name": "input", "shape": [3, 4], "dtype": "float32"}],
               "state": [{"name": "0.weight", "shape": [8, 4], "dtype": "float32",
                          "kind": "parameter"}, ...],
               "constants": [{"key": "c0", "shape": [], "dtype": "float32"}],
               "nodes": [{"name": "linear", "kind": "call", "target": "linear",
                          "args": [{"$": "node", "v": "input"}, ...], "kwargs": {},
                          "shape": [3, 8], "dtype": "float32", "meta": {...}}, ...],
               "output_spec": ["tensor"], "source": "Sequential", "training": false}}

Values JSON cannot hold are tagged objects ``{"$": tag, "v": payload}``: ``node`` (a
reference by name to an earlier node), ``tuple`` (JSON arrays are lists), ``dict`` (a list
of ``[key, value]`` pairs), ``slice``, ``ellipsis``, ``float`` (``"nan"``, ``"inf"``,
``"-inf"``), ``complex``, ``dtype`` (an ember dtype by name), ``npdtype``, ``scalar`` (a
NumPy scalar: ``[dtype, value]``) and ``array`` (a tensor of the file, guards only).

What is saved is the graph as traced, before optimization passes; passes run again at
load. Graphs with ``effect`` nodes (optimizer steps, Python callables) or ``grad_acc``
nodes, or that read a ``.grad``, are training steps, not models: saving them raises
``JitError``.

The backward part of a differentiable trace (the nodes after ``split``) is not saved.

Loading runs no code from the file: op names are looked up in ember's op table, every
node kind, tag, name, reference, shape, dtype and tensor is checked before the graph is
built, and problems raise ``SerializationError`` (the file: header, versions, tensors) or
``GraphError`` (the graph), both ``RuntimeError`` s, with a message saying what and where.
Then the graph runs once, op by op, on zero inputs and copies of its state, to check that
every node computes the shape and dtype the file declares (a mismatch is a ``GraphError``);
where that check cannot run (an op fails on zeros, a data-dependent shape, values over
``_CHECK_BUDGET`` bytes) the graph is compiled without the passes that trust declared
shapes. State is loaded as fresh tensors that do not require grad (parameters as
``nn.Parameter(requires_grad=False)``): a loaded module is for inference.

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> net = nn.Sequential(nn.Linear(3, 2), nn.ReLU()).eval()
    >>> traced = ember.jit.trace(net, (ember.ones(1, 3),))
    >>> path = os.path.join(tempfile.mkdtemp(), "net.ember")
    >>> traced.save(path)
    >>> m = ember.jit.load(path)
    >>> bool((m(ember.ones(1, 3)) == net(ember.ones(1, 3))).all())
    True
    >>> sorted(m.state_dict())
    ['0.bias', '0.weight']
"""

from __future__ import annotations

import inspect
import json
import keyword
import math
import os
import re
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import IO, Any

from .. import dtypes
from ..backend import xp
from ..serialization import (
    _ST_TO_NP,
    SerializationError,
    _atomic_write,
    _parse_header,
    _read_arrays,
    read_bytes,
)
from ..tensor import Tensor
from .errors import GraphError, GuardFailed, JitError
from .ir import FORMAT_VERSION, OPSET_VERSION, Graph, Node

__all__ = ["save", "load", "LoadedModule", "META_KEY"]

#: the ``__metadata__`` key holding the graph's JSON
META_KEY = "ember_jit"

_MAX_DEPTH = 100
_MAX_NAME = 200
_MAX_NDIM = 64
_MAX_KEY = 1000
_NAME_RE = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")
_KW_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_DTYPES = {d.name: d for d in dtypes.ALL}
_NP_TO_ST = {v: k for k, v in _ST_TO_NP.items()}
_LOADABLE = ("placeholder", "state", "constant", "call", "select", "write", "guard",
             "backward", "output")
_GUARD_ARRAY = frozenset({"tolist", "numpy", "__array__"})
_GUARD_SCALAR = frozenset({"item", "__bool__"})
_NODE_FIELDS = frozenset({"name", "kind", "target", "args", "kwargs", "shape", "dtype", "meta"})
_GRAPH_FIELDS = frozenset({"inputs", "state", "constants", "nodes", "output_spec", "source",
                           "training"})
_DOC_FIELDS = frozenset({"format_version", "opset_version", "ember_version", "graph"})
#: the most bytes of declared node values the load-time check may compute
_CHECK_BUDGET = 1 << 31
#: passes that size buffers by the declared node shapes: off for a graph whose shapes the
#: load could not check
_TRUSTING_PASSES = ("fusion", "memory")
_TRAINING_STEP = ("a training step is not a model: save a trace of the model's forward "
                  "(e.g. ember.jit.trace(model.eval(), example_inputs).save(path))")


# ---- saving -------------------------------------------------------------------------------

class _Writer:
    """Encodes one graph: JSON-able values plus the ``{name: array}`` tensor section."""

    def __init__(self) -> None:
        self.arrays: dict[str, Any] = {}

    def tensor(self, key: str, arr, where: str) -> None:
        if key in self.arrays or key == "__metadata__":
            raise JitError(f"cannot save: {where}: tensor name {key!r} is used twice")
        arr = xp.asarray(arr)
        if arr.dtype not in _NP_TO_ST:
            raise JitError(f"cannot save: {where}: arrays of dtype {arr.dtype} cannot be "
                           "stored in a graph file")
        # (not ascontiguousarray: it turns 0-d arrays into 1-d ones)
        self.arrays[key] = arr if arr.flags.c_contiguous else arr.copy(order="C")

    def value(self, v, where: str, array_key: str | None = None, depth: int = 0):
        if depth > _MAX_DEPTH:
            raise JitError(f"cannot save: {where}: values nested deeper than {_MAX_DEPTH}")
        if isinstance(v, Node):
            return {"$": "node", "v": v.name}
        if v is None or isinstance(v, (bool, str)):
            return v
        if isinstance(v, xp.generic):
            if v.dtype.name not in _DTYPES:
                raise JitError(f"cannot save: {where}: a NumPy scalar of dtype {v.dtype}")
            return {"$": "scalar", "v": [v.dtype.name, self.value(v.item(), where)]}
        if isinstance(v, int):
            return int(v)
        if isinstance(v, float):
            v = float(v)  # an ItemValue or another float subclass: its number only
            if v != v:
                return {"$": "float", "v": "nan"}
            if v in (float("inf"), float("-inf")):
                return {"$": "float", "v": "inf" if v > 0 else "-inf"}
            return v
        if isinstance(v, complex):
            return {"$": "complex", "v": [self.value(v.real, where), self.value(v.imag, where)]}
        t = type(v)
        if t is tuple:
            return {"$": "tuple", "v": [self.value(x, where, None, depth + 1) for x in v]}
        if t is list:
            return [self.value(x, where, None, depth + 1) for x in v]
        if t is dict:
            return {"$": "dict", "v": [[self.value(k, where, None, depth + 1),
                                        self.value(x, where, None, depth + 1)]
                                       for k, x in v.items()]}
        if t is slice:
            return {"$": "slice", "v": [self.value(x, where, None, depth + 1)
                                        for x in (v.start, v.stop, v.step)]}
        if v is Ellipsis:
            return {"$": "ellipsis"}
        if isinstance(v, dtypes.DType):
            return {"$": "dtype", "v": v.name}
        if isinstance(v, xp.dtype):
            if v.name not in _DTYPES:
                raise JitError(f"cannot save: {where}: NumPy dtype {v} has no ember dtype")
            return {"$": "npdtype", "v": v.name}
        if isinstance(v, xp.ndarray) and array_key is not None:
            self.tensor(array_key, v, where)
            return {"$": "array", "v": array_key}
        raise JitError(f"cannot save: {where} holds a value of type {t.__qualname__}, which a "
                       "graph file cannot hold (only numbers, strings, None, tuples, lists, "
                       "dicts, slices, dtypes and nodes)")

    def spec(self, spec, depth: int = 0):
        k = spec.kind
        if depth > _MAX_DEPTH:
            raise JitError(f"cannot save: the output is nested deeper than {_MAX_DEPTH}")
        if k == "tensor":
            return ["tensor"]
        if k == "literal":
            return ["literal", self.value(spec.data, "the output")]
        children = [self.spec(c, depth + 1) for c in spec.children]
        if k is dict:
            return ["dict", [self.value(key, "an output dict key") for key in spec.data],
                    children]
        # a namedtuple (sort's values/indices) is saved as the tuple it is
        return ["tuple" if issubclass(k, tuple) else k.__name__, children]


def _shape(s) -> list[int] | None:
    return None if s is None else [int(d) for d in s]


def _encode(graph: Graph, out_spec, info: dict) -> bytes:
    """The safetensors bytes of ``graph`` (raises ``JitError`` for what a file cannot hold)."""
    from ..nn.parameter import Parameter
    graph = _forward_part(graph)
    w = _Writer()
    for i, n in enumerate(graph.nodes):
        where = f"node {i} ({n.name})"
        if n.kind == "effect":
            fn = getattr(n.target, "__qualname__", repr(n.target))
            raise JitError(f"cannot save the graph: {where} is an effect node: it calls the "
                           f"Python routine {fn} (an optimizer step or another state change "
                           f"outside the op table), which a graph file cannot hold; "
                           f"{_TRAINING_STEP}")
        if n.kind == "grad_acc":
            whose = (repr(graph.state[n.target].name) if isinstance(n.target, int)
                     else "an input")
            raise JitError(f"cannot save the graph: {where} accumulates a gradient into .grad "
                           f"of {whose} (backward() was traced); {_TRAINING_STEP}")
        if n.kind == "state" and n.kwargs.get("attr", "data") != "data":
            raise JitError(f"cannot save the graph: {where} reads the .grad of "
                           f"{graph.state[n.target].name!r}; {_TRAINING_STEP}")
        if n.kind not in _LOADABLE:
            raise JitError(f"cannot save the graph: {where} is a {n.kind!r} node (made by an "
                           "optimization pass); graph files hold graphs before passes")
    state = []
    for k, ref in enumerate(graph.state):
        t = ref.tensor
        name = ref.name
        where = f"state {k} ({name!r})"
        if not isinstance(t, Tensor):
            raise JitError(f"cannot save: {where} has no live tensor")
        if not isinstance(name, str) or not _key_ok(name):
            raise JitError(f"cannot save: {where}: a state name must be a non-empty string of "
                           f"at most {_MAX_KEY} characters not starting with const/ or guard/")
        w.tensor(name, t._data, where)
        state.append({"name": name, "shape": _shape(t._data.shape), "dtype": _dt(t._data),
                      "kind": "parameter" if isinstance(t, Parameter) else "buffer"})
    constants = []
    for n in graph.nodes:
        if n.kind == "constant" and not any(c["key"] == n.target for c in constants):
            arr = xp.asarray(graph.constants[n.target])
            w.tensor(f"const/{n.target}", arr, f"constant {n.target!r}")
            constants.append({"key": n.target, "shape": _shape(arr.shape), "dtype": _dt(arr)})
    nodes = []
    for i, n in enumerate(graph.nodes):
        where = f"node {i} ({n.name})"
        kwargs = {}
        for key, v in n.kwargs.items():
            if not isinstance(key, str):
                raise JitError(f"cannot save: {where}: keyword {key!r} is not a string")
            akey = f"guard/{n.name}" if n.kind == "guard" and key == "expected" else None
            if n.kind == "call" and n.target == "tap" and key == "fn":
                v = _tap_label(v)  # the callback is code: the file keeps its name only
            kwargs[key] = w.value(v, f"{where} kwarg {key!r}", akey)
        entry = {"name": n.name, "kind": n.kind, "target": w.value(n.target, f"{where} target"),
                 "args": [w.value(a, f"{where} args") for a in n.args], "kwargs": kwargs,
                 "shape": _shape(n.shape), "dtype": n.dtype}
        meta = {k: w.value(n.meta[k], f"{where} meta {k!r}")
                for k in ("needs", "rg", "n_out", "out_meta") if k in n.meta}
        if meta:
            entry["meta"] = meta
        nodes.append(entry)
    inputs = [{"name": n.target, "shape": _shape(n.shape), "dtype": n.dtype}
              for n in graph.placeholders]
    doc = {"format_version": FORMAT_VERSION, "opset_version": OPSET_VERSION,
           "ember_version": _ember_version(),
           "graph": {"inputs": inputs, "state": state, "constants": constants, "nodes": nodes,
                     "output_spec": w.spec(out_spec), **info}}
    try:
        text = json.dumps(doc, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as e:  # a value slipped past the encoder
        raise JitError(f"cannot save: the graph does not encode as JSON ({e})") from None
    from safetensors.numpy import save as st_save
    return st_save(w.arrays, metadata={META_KEY: text})


def _forward_part(graph: Graph) -> Graph:
    """``graph`` without the backward part of a differentiable trace (the nodes after
    ``split``): a graph file holds an inference graph, whose state does not require grad."""
    split = next((i for i, n in enumerate(graph.nodes) if n.kind == "split"), None)
    if split is None:
        return graph
    g = graph.copy()
    out = g.nodes[-1]
    g.nodes = g.nodes[:split] + [out]
    out.kwargs = {k: v for k, v in out.kwargs.items() if k not in ("grads", "leaves", "diff")}
    return g


def _dt(arr) -> str:
    return "bool" if arr.dtype.kind == "b" else arr.dtype.name


def _key_ok(name: str) -> bool:
    return (0 < len(name) <= _MAX_KEY and name != "__metadata__"
            and not name.startswith(("const/", "guard/")))


def _ember_version() -> str:
    from .. import __version__
    return str(__version__)


def _write(payload: bytes, f) -> None:
    if isinstance(f, (str, os.PathLike)):
        _atomic_write(f, payload)
        return
    if not hasattr(f, "write"):
        raise TypeError(f"save: f must be a path or a binary file object, got {type(f).__name__}")
    f.write(payload)
    if hasattr(f, "flush"):
        f.flush()


def save(traced, path: str | os.PathLike | IO[bytes], trace_index: int = 0) -> None:
    """Write trace ``trace_index`` of ``traced`` (a ``TracedModule`` or any compiled
    function from ``ember.jit.trace``/``compile``) to ``path``: its graph before passes, its
    state tensors and constants, its input and output structure. Saving to a path is atomic:
    nothing is written when saving fails, and an existing file is replaced only by a
    complete new one.

    Raises:
        JitError: nothing is traced yet, or the graph is a training step (optimizer
            steps, ``backward()`` into ``.grad``) or holds values a file cannot hold.
    """
    traces = getattr(traced, "traces", None)
    if traces is None:
        raise TypeError(f"save: expected a traced or compiled function, got "
                        f"{type(traced).__name__}")
    if not traces:
        raise JitError("cannot save: nothing traced yet: call the function first")
    if not -len(traces) <= trace_index < len(traces):
        raise JitError(f"cannot save: trace_index {trace_index} is out of range "
                       f"({len(traces)} trace(s))")
    tr = traces[trace_index]
    graph = getattr(tr.compiled, "source_graph", tr.graph)
    module = getattr(traced, "module", None)
    fn = module if module is not None else getattr(traced, "fn", None)
    training = None
    for m, flag in tr.modules:
        if m is module:
            training = flag
    info = {"source": str(type(fn).__qualname__ if module is not None
                          else getattr(fn, "__qualname__", type(fn).__qualname__))[:_MAX_KEY],
            "training": training}
    _write(_encode(graph, tr.out_spec, info), path)


# ---- loading ------------------------------------------------------------------------------

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
        from ..ops.registry import OPS
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
        from .pytree import _Spec
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


def _clip(v, n: int = 80) -> str:
    r = repr(v)
    return r if len(r) <= n else r[:n] + "..."


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


def _tap_label(fn) -> str:
    label = getattr(fn, "_ember_tap_label", None)
    if label is None:
        label = getattr(fn, "__qualname__", None) or type(fn).__name__
    return str(label)[:_MAX_KEY]


def _tap_callback(label: str, fn):
    """The callback of a loaded ``ember.debug.tap`` node: ``fn`` (default: print the value
    with the original callback's name); it keeps the label for a later save."""
    if fn is None:
        def fn(v):
            print(f"tap {label}:", v)
    else:
        user = fn

        def fn(v):
            return user(v)
    fn._ember_tap_label = label
    return fn


def _noop(v) -> None:
    return None


def load(f: str | os.PathLike | IO[bytes], *, tap_fn=None,
         strip_taps: bool = False) -> LoadedModule:
    """Read a graph file written by ``TracedModule.save`` (or ``LoadedModule.save``).

    Everything is checked before use and no code from the file runs; see the module
    docstring for the layout. ``ember.debug.tap`` calls in the graph survive: they call
    ``tap_fn(value)`` (default: print the value with the saved callback's name), or are
    removed with ``strip_taps=True``.

    Raises:
        SerializationError: the file is not a readable graph file (truncated, garbled
            header, missing tensors, newer format).
        GraphError: the graph in it is malformed (unknown op, node kind or tag, a
            reference to an undefined node, ...).
    """
    name, data = read_bytes(f, "ember.jit.load")
    header, meta, start = _rewrap(_parse_header, data, name)
    raw = meta.get(META_KEY)
    if raw is None:
        raise SerializationError(
            f"ember.jit.load: {name}: not an ember graph file: its __metadata__ has no "
            f"{META_KEY!r} entry (a file written by ember.save holds tensors only; read it "
            "with ember.load)")
    try:
        doc = json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError) as e:
        raise SerializationError(f"ember.jit.load: {name}: the {META_KEY!r} metadata is not "
                                 f"valid JSON ({type(e).__name__}: {e})") from None
    r = _Reader(name, header)
    if not isinstance(doc, dict):
        r.file_error(f"the {META_KEY!r} metadata must be a JSON object, got {_clip(doc)}")
    fv, ov, ev = doc.get("format_version"), doc.get("opset_version"), doc.get("ember_version")
    if type(fv) is not int or fv < 1 or type(ov) is not int or ov < 1 or not isinstance(ev, str):
        r.file_error(f"bad versions: format_version={_clip(fv)}, opset_version={_clip(ov)}, "
                     f"ember_version={_clip(ev)}")
    # before any other check: a newer layout may differ in everything else
    if fv > FORMAT_VERSION:
        r.file_error(f"written by a newer ember ({ev[:40]}, graph format {fv}); this ember "
                     f"reads up to format {FORMAT_VERSION}: upgrade ember to load it")
    if ov > OPSET_VERSION:
        r.file_error(f"written by a newer ember ({ev[:40]}) with op set {ov}; this ember "
                     f"knows op sets up to {OPSET_VERSION}: upgrade ember to load it")
    r.fields(doc, META_KEY, _DOC_FIELDS, tuple(sorted(_DOC_FIELDS)))
    _register_all_ops()
    graph, kinds, out_spec, info = r.graph(doc["graph"])
    arrays = _rewrap(_read_arrays, data, header, start, name)
    _fill(graph, arrays, kinds)
    try:
        graph.lint()
    except GraphError as e:
        raise GraphError(f"ember.jit.load: {name}: {e}") from None
    taps = [n for n in graph.nodes if n.kind == "call" and n.target == "tap"]
    labels = {}
    for n in taps:
        label = n.kwargs.get("fn")
        if not isinstance(label, str):
            raise GraphError(f"ember.jit.load: {name}: node {n.name}: a tap's fn must be its "
                             f"saved name (a string), got {_clip(label)}")
        labels[n] = label
        n.kwargs["fn"] = _noop  # the shape check below must not call back
    info.update(path=name, format_version=fv, opset_version=ov, ember_version=ev,
                unverified=_verify(graph, name))
    if strip_taps:
        from .runtime import _strip_taps
        graph = _strip_taps(graph)
    else:
        for n, label in labels.items():
            n.kwargs["fn"] = _tap_callback(label, tap_fn)
    return LoadedModule(graph, out_spec, info)


def _verify(graph: Graph, name: str) -> str | None:
    """Run ``graph`` once on zero inputs (op by op, on copies of its state, guards off) and
    check that every node computes the shape and dtype the file declares for it.

    Raises ``GraphError`` on a mismatch; returns None when every node was checked, else why
    not (an op raised on the zero inputs, or a data-dependent shape): then the loaded graph
    runs without the passes that trust declared shapes (fusion, memory).
    """
    from ..autograd.grad_mode import no_grad
    from ..random import get_rng_state, set_rng_state
    from .codegen import generate
    from .trace import DATA_DEPENDENT_SHAPE, StateRef
    size = sum(math.prod(n.shape) * xp.dtype(n.dtype).itemsize for n in graph.nodes
               if n.shape is not None and n.kind not in ("state", "constant"))
    if size > _CHECK_BUDGET:
        return f"its declared values take {size} bytes, over the {_CHECK_BUDGET}-byte budget"
    g = graph.copy()
    g.state = [StateRef(Tensor._make(r.tensor._data.copy()), r.name) for r in graph.state]
    stop = next((i for i, n in enumerate(g.nodes) if n.kind == "call"
                 and n.target in DATA_DEPENDENT_SHAPE), len(g.nodes) - 1)
    why = None if stop == len(g.nodes) - 1 else (
        f"node {g.nodes[stop].name} ({g.nodes[stop].target}) has a data-dependent shape")
    keep = [n for n in g.nodes[:stop] if n.kind != "guard"]
    checked = [n for n in keep if n.shape is not None]
    out = g.nodes[-1]
    out.args, out.kwargs = (tuple(checked),), {}
    g.nodes = keep + [out]
    rng = get_rng_state()
    try:
        with no_grad(), xp.errstate(all="ignore"):
            vals = generate(g).fn([xp.zeros(n.shape, n.dtype) for n in g.placeholders], [])
    except (TypeError, AttributeError, KeyError) as e:
        # values of the wrong type reached an op: no valid graph does that on any data
        raise GraphError(f"ember.jit.load: {name}: an op got arguments of the wrong type when "
                         f"the graph ran on zero inputs ({type(e).__name__}: "
                         f"{str(e)[:200]})") from None
    except Exception as e:  # noqa: BLE001 - a valid graph may fail on zeros (e.g. cholesky)
        return f"running it on zero inputs raised {type(e).__name__}: {str(e)[:200]}"
    finally:
        set_rng_state(rng)
    for n, v in zip(checked, vals):
        try:
            v = xp.asarray(v)
        except ValueError:
            v = None
        if v is None or tuple(v.shape) != n.shape or _dt(v) != n.dtype:
            if v is None or v.dtype.name not in _DTYPES:
                got = f"a {type(v).__name__}"
            else:
                got = f"{_dt(v)}{list(v.shape)}"
            i = next(i for i, m in enumerate(graph.nodes) if m.name == n.name)
            raise GraphError(f"ember.jit.load: {name}: node {i} ({n.name}) "
                             f"declares {n.dtype}{list(n.shape)} but computes {got}")
    return why


def _fill(graph: Graph, arrays: dict, kinds: list) -> None:
    """Put the file's tensors into the decoded graph (state, constants, guard arrays)."""
    from ..nn.parameter import Parameter
    from .trace import StateRef
    refs = []
    for (name, _, _), kind in zip(graph.state, kinds):
        t = Tensor._make(arrays[name])
        if kind == "parameter":
            t = Parameter(t, requires_grad=False)
        refs.append(StateRef(t, name))
    graph.state = refs
    for n in graph.nodes:
        if n.kind == "constant":
            graph.constants[n.target] = arrays[f"const/{n.target}"]
        elif n.kind == "guard" and isinstance(n.kwargs["expected"], _ArrayRef):
            n.kwargs["expected"] = arrays[n.kwargs["expected"].key]
    names: dict[str, int] = {}
    for n in graph.nodes:
        # later passes name new nodes with graph._fresh: keep it from reusing these names
        names[n.name] = max(names.get(n.name, 0), 1)
        m = re.match(r"(.+)_(\d+)\Z", n.name)
        if m:
            names[m[1]] = max(names.get(m[1], 0), int(m[2][:9]) + 1)
    graph._names = names


# ---- the loaded module ----------------------------------------------------------------------

class LoadedModule:
    """A graph read from a file: call it on tensors like the traced module.

    It has no Python source to re-trace, so it runs only on inputs with the traced shapes
    and dtypes and on data that passes the trace's guards; anything else raises
    ``JitError``. Parameters and buffers are fresh tensors that do not require grad
    (parameters are ``nn.Parameter(requires_grad=False)``); ``load_state_dict`` copies new
    values into them in place.
    """

    def __init__(self, graph: Graph, out_spec, info: dict) -> None:
        from .runtime import CompiledGraph
        self.source_graph = graph
        self._out_spec = out_spec
        self._info = info
        passes = None
        if info.get("unverified"):
            from .passes import DEFAULT_PIPELINE
            passes = [p for p in DEFAULT_PIPELINE if p not in _TRUSTING_PASSES]
        try:
            # a copy: passes may edit the graph they get, and save() writes the source
            self.compiled = CompiledGraph(graph.copy(), passes=passes)
        except (GraphError, SerializationError):
            raise
        except Exception as e:  # noqa: BLE001 - the file's graph, not ember, is at fault
            raise GraphError(f"ember.jit.load: {info.get('path')}: the graph could not be "
                             f"compiled ({type(e).__name__}: {e})") from e
        self._inputs = [(n.target, n.shape, n.dtype) for n in graph.placeholders]

    # ---- calling ---------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if kwargs:
            raise JitError(f"a loaded graph takes its {len(self._inputs)} input tensors "
                           f"positionally, got keyword arguments {sorted(kwargs)}")
        if len(args) != len(self._inputs):
            raise JitError(f"this loaded graph takes {len(self._inputs)} input tensor(s) "
                           f"({', '.join(self._input_strs())}), got {len(args)}; "
                           "a loaded graph has no source to re-trace")
        for k, (a, (name, shape, dtype)) in enumerate(zip(args, self._inputs)):
            if not isinstance(a, Tensor):
                raise JitError(f"input {k} ({name}) must be a Tensor, got {type(a).__name__}")
            arr = a._data
            if tuple(arr.shape) != shape or _dt(arr) != dtype:
                raise JitError(
                    f"input {k} ({name}) is {_dt(arr)}{list(arr.shape)} but the graph was "
                    f"traced for {dtype}{list(shape)}; a loaded graph has no source to "
                    "re-trace for other shapes or dtypes: trace and save again for those")
        try:
            return self.compiled.run(list(args), self._out_spec)
        except GuardFailed as g:
            raise JitError(f"guard failed: {self._guard_reason(g)}; a loaded graph has no "
                           "source to re-trace, so it runs only on data that takes the same "
                           "path through the model as the traced example") from None
        except Exception as e:
            why = self._info.get("unverified")
            if why is None or isinstance(e, JitError):
                raise
            raise JitError(f"the loaded graph failed ({type(e).__name__}: {e}); its shapes "
                           f"could not be checked at load ({why}), so the file may be "
                           "corrupt") from e

    def _guard_reason(self, g: GuardFailed) -> str:
        if g.reason:
            return g.reason
        n = self.compiled.graph.nodes[g.index]
        from .api import _short
        return (f"{n.kwargs.get('what')} of {n.args[0].name} was "
                f"{_short(n.kwargs.get('expected'))} when traced at {n.kwargs.get('site')}")

    def _input_strs(self) -> list[str]:
        return [f"{name}: {dtype}{list(shape)}" for name, shape, dtype in self._inputs]

    # ---- introspection -----------------------------------------------------------------
    @property
    def graph(self) -> Graph:
        """The graph that runs (after passes); ``source_graph`` is the one in the file."""
        return self.compiled.graph

    @property
    def code(self) -> str:
        """The Python source run for the graph (generated here, never read from the file)."""
        return self.compiled.program.source

    @property
    def training(self) -> bool | None:
        """The traced module's train/eval flag when it was saved (None if unknown)."""
        return self._info.get("training")

    def explain(self) -> str:
        """Where the graph came from, its inputs, state, passes and guards."""
        i = self._info
        g = self.compiled.graph
        src = self.source_graph
        n_par = sum(isinstance(r.tensor, _parameter_cls()) for r in src.state)
        mode = {True: ", traced in train mode", False: ", traced in eval mode"}.get(
            i.get("training"), "")
        lines = [f"LoadedModule from {i.get('path')}: graph format {i.get('format_version')}, "
                 f"op set {i.get('opset_version')}, written by ember {i.get('ember_version')}"
                 f" (source: {i.get('source')}{mode})",
                 f"inputs: {', '.join(self._input_strs()) or '(none)'}",
                 f"state: {len(src.state)} tensors ({n_par} parameters, "
                 f"{len(src.state) - n_par} buffers)",
                 f"graph: {len(src)} nodes in the file, {len(g)} after passes, "
                 f"backend={self.compiled.backend}, passes={', '.join(self.compiled.passes)}"]
        if i.get("unverified"):
            lines.append(f"  shapes not checked at load ({i['unverified']}): passes "
                         f"{', '.join(_TRUSTING_PASSES)} are off")
        from .api import _short
        for n in g.nodes:
            if n.kind == "guard":
                lines.append(f"  guard: {n.kwargs['what']} of {n.args[0].name} == "
                             f"{_short(n.kwargs['expected'])}  ({n.kwargs['site']})")
        lines.append("a loaded graph has no source to re-trace: other input shapes or dtypes, "
                     "or data failing a guard, raise JitError")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"LoadedModule({self._info.get('source')}, inputs=[{', '.join(self._input_strs())}]"
                f", {len(self.source_graph.state)} state tensors)")

    # ---- parameters and state ----------------------------------------------------------
    def named_parameters(self) -> Iterator[tuple[str, Tensor]]:
        """``(name, tensor)`` for the saved module's parameters, in file order."""
        cls = _parameter_cls()
        for r in self.source_graph.state:
            if isinstance(r.tensor, cls):
                yield r.name, r.tensor

    def parameters(self) -> Iterator[Tensor]:
        for _, t in self.named_parameters():
            yield t

    def named_buffers(self) -> Iterator[tuple[str, Tensor]]:
        """``(name, tensor)`` for the state tensors that are not parameters."""
        cls = _parameter_cls()
        for r in self.source_graph.state:
            if not isinstance(r.tensor, cls):
                yield r.name, r.tensor

    def buffers(self) -> Iterator[Tensor]:
        for _, t in self.named_buffers():
            yield t

    def state_dict(self) -> OrderedDict:
        """Every state tensor (parameters and buffers) by name, sharing memory."""
        return OrderedDict((r.name, r.tensor) for r in self.source_graph.state)

    def load_state_dict(self, state_dict: Mapping, strict: bool = True):
        """Copy tensors from ``state_dict`` into the loaded state in place (cast to each
        tensor's dtype); returns ``(missing_keys, unexpected_keys)`` like ``nn.Module``."""
        from ..nn.modules.module import _IncompatibleKeys
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        own = self.state_dict()
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        errors = []
        if strict:
            if unexpected:
                errors.append("Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        srcs = {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v._data if isinstance(v, Tensor) else xp.asarray(v)
            if arr.shape != t._data.shape:
                errors.append(f"size mismatch for {k}: copying a param with shape "
                              f"{list(arr.shape)} from checkpoint, the shape in current model "
                              f"is {list(t._data.shape)}.")
            srcs[k] = arr
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for LoadedModule:\n\t"
                               + "\n\t".join(errors))
        for k, arr in srcs.items():
            t = own[k]
            xp.copyto(t._data, arr, casting="unsafe")
            t._bump_version()
        return _IncompatibleKeys(missing, unexpected)

    def save(self, path: str | os.PathLike | IO[bytes]) -> None:
        """Write the graph and the current state to ``path`` again (same layout)."""
        info = {"source": self._info.get("source"), "training": self._info.get("training")}
        _write(_encode(self.source_graph, self._out_spec, info), path)


def _parameter_cls():
    from ..nn.parameter import Parameter
    return Parameter
