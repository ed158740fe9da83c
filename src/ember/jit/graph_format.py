"""The graph file's fixed vocabulary: the metadata key, the limits a file must respect,
the fields and node kinds it may hold (shared by the writer and the reader)."""

from __future__ import annotations

import re

from .. import dtypes
from ..serialization import _ST_TO_NP

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


def _clip(v, n: int = 80) -> str:
    r = repr(v)
    return r if len(r) <= n else r[:n] + "..."


def _key_ok(name: str) -> bool:
    return (0 < len(name) <= _MAX_KEY and name != "__metadata__"
            and not name.startswith(("const/", "guard/")))
