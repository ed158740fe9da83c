"""``LoadedModule``: a graph read from a file, callable like the module it was traced from."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import IO

from ..backend import xp
from ..serialization import SerializationError
from ..tensor import Tensor
from .errors import GraphError, GuardFailed, JitError
from .graph_format import _TRUSTING_PASSES
from .graph_writer import _dt, _encode, _write
from .ir import Graph


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
