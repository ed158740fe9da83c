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

The writer is ``graph_writer.py``, the checking reader ``graph_reader.py``, their shared
vocabulary ``graph_format.py`` and the loaded module ``loaded.py``.

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

import json
import math
import os
import re
from typing import IO

from ..backend import xp
from ..serialization import (
    SerializationError,
    _parse_header,
    _read_arrays,
    read_bytes,
)
from ..tensor import Tensor
from .errors import GraphError, JitError
from .graph_format import _CHECK_BUDGET, _DOC_FIELDS, _DTYPES, _MAX_KEY, META_KEY, _clip
from .graph_reader import _ArrayRef, _Reader, _register_all_ops, _reject_constant, _rewrap
from .graph_writer import _dt, _encode, _write
from .ir import FORMAT_VERSION, OPSET_VERSION, Graph
from .loaded import LoadedModule

__all__ = ["save", "load", "LoadedModule", "META_KEY"]

# ---- saving -------------------------------------------------------------------------------

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
