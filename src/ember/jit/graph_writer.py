"""Writing a graph file: the graph before passes as JSON in the safetensors metadata, its
state tensors and constants as tensors; what a file cannot hold raises ``JitError``."""

from __future__ import annotations

import json
import os
from typing import Any

from .. import dtypes
from ..backend import xp
from ..serialization import _atomic_write
from ..tensor import Tensor
from .errors import JitError
from .graph_format import (
    _DTYPES,
    _LOADABLE,
    _MAX_DEPTH,
    _MAX_KEY,
    _NP_TO_ST,
    _TRAINING_STEP,
    META_KEY,
    _key_ok,
)
from .ir import FORMAT_VERSION, OPSET_VERSION, Graph, Node


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


def _tap_label(fn) -> str:
    label = getattr(fn, "_ember_tap_label", None)
    if label is None:
        label = getattr(fn, "__qualname__", None) or type(fn).__name__
    return str(label)[:_MAX_KEY]
