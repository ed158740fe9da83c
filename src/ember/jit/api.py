"""``ember.jit.trace`` and ``ember.jit.compile``: cached, guarded graphs behind a callable."""

from __future__ import annotations

import functools
import os
import warnings
from collections.abc import Callable

from .. import debug as _debug
from ..autograd.grad_mode import _state
from ..backend import xp
from ..dtypes import _default
from ..tensor import Tensor
from .errors import GuardFailed, JitError
from .pytree import _flatten, _literal_key
from .runtime import CompiledGraph
from .trace import ItemValue, Tracer

__all__ = ["trace", "compile", "CompiledFunction", "TracedModule"]


class _Trace:
    """One traced case: its graph, compiled program and the guards checked before a run."""

    def __init__(self, graph, compiled: CompiledGraph, modules: list, out_spec):
        self.graph = graph
        self.compiled = compiled
        self.modules = modules      # [(module, training flag)]
        self.out_spec = out_spec
        self.verified = False

    def modules_match(self) -> bool:
        for m, flag in self.modules:
            if m.training is not flag:
                return False
        return True


class CompiledFunction:
    """A function whose calls run traced graphs, one per input signature and guard set.

    Made by :func:`ember.jit.compile` and :func:`ember.jit.trace`.
    """

    def __init__(self, fn: Callable, *, dynamic=None, max_traces: int = 8, strict: bool = False,
                 passes=None, state_names: dict | None = None, verify: bool = True,
                 strip_taps: bool = False) -> None:
        self.fn = fn
        self.verify = verify
        self.strip_taps = strip_taps
        self.dynamic = dynamic
        self.max_traces = max_traces
        self.strict = strict
        self.passes = passes
        self._state_names = state_names
        self._cache: dict = {}
        self._n_traces = 0
        self._eager: dict = {}          # signature -> why it runs eagerly
        self.log: list[str] = []        # every (re)trace and fallback reason
        self._warned = False
        functools.update_wrapper(self, fn, updated=())

    # ---- calling ---------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        if not kwargs and all(type(a) is Tensor for a in args):
            # the common case, tensor arguments only: the key is their metadata
            leaves = args
            key = (tuple([(a._data.shape, a._data.dtype, a._rg) for a in args]),
                   _state.grad_enabled, _default.float_dtype)
            traces = self._cache.get(key)
            if traces is not None and len(traces) == 1:
                tr = traces[0]
                if tr.verified and tr.modules_match():
                    try:
                        return tr.compiled.run(args, tr.out_spec)
                    except GuardFailed as g:
                        self._guard_failed(tr, g)
                    return self._trace(args, kwargs, key, args)
        else:
            leaves = []
            spec = _flatten((args, kwargs), leaves)
            key = ((tuple((a._data.shape, a._data.dtype, a._rg) for a in leaves),
                    _literal_key(spec)), _state.grad_enabled, _default.float_dtype)
        if key in self._eager:
            return self.fn(*args, **kwargs)
        traces = self._cache.get(key)
        if traces:
            for tr in traces:
                if not tr.modules_match():
                    continue
                try:
                    if not tr.verified:
                        return self._verified_run(tr, key, leaves, args, kwargs)
                    return tr.compiled.run(leaves, tr.out_spec)
                except GuardFailed as g:
                    self._guard_failed(tr, g)
            if self.strict and traces:
                raise JitError("no trace matches this call (strict=True): module train/eval "
                               "flags differ from every trace")
        return self._trace(args, kwargs, key, leaves)

    def _guard_failed(self, tr, g: GuardFailed) -> None:
        """Log a failed guard, or raise where tracing again would be wrong."""
        node = tr.graph.nodes[g.index]
        why = g.reason or (f"guard {node.kwargs.get('what')} at {node.kwargs.get('site')}: "
                           f"expected {_short(node.kwargs.get('expected'))}")
        if tr.compiled.effects_before(g.index):
            raise JitError(
                f"a guard failed ({why}) after the compiled function had already changed "
                "state (an in-place write or an optimizer step), so it cannot be run again "
                "from the start; move the data-dependent Python code before the update or out "
                "of the compiled function") from None
        if self.strict:
            raise JitError(f"guard failed: {why} (strict=True)") from None
        self.log.append(f"recompile: {why}")

    def _trace(self, args, kwargs, key, leaves):
        if self._n_traces >= self.max_traces:
            reason = f"more than max_traces={self.max_traces} traces"
            self._eager[key] = reason
            self.log.append(f"eager: {reason}")
            self._warn(reason)
            return self.fn(*args, **kwargs)
        tracer = Tracer(self._state_names() if callable(self._state_names) else None)
        names = _arg_names(self.fn, len(leaves))
        for i, t in enumerate(leaves):
            tracer.placeholder(t, names[i])
        modules: dict = {}
        from ..random import get_rng_state
        rng_before = get_rng_state()
        handle = _watch_modules(modules)
        _state.modes.append(tracer)
        _debug._leak_paused += 1
        make = tracer.track()
        try:
            out = self.fn(*args, **kwargs)
        finally:
            Tensor._make = make
            _debug._leak_paused -= 1
            _state.modes.remove(tracer)
            if handle is not None:
                handle.remove()
        if tracer.failed is None:
            try:
                out_leaves = []
                out_spec = _flatten(out, out_leaves, (Tensor, ItemValue), strict=True)
                graph = tracer.graph
                outs = [tracer._node_of(t) if isinstance(t, Tensor) else t._node
                        for t in out_leaves]
                items = [i for i, t in enumerate(out_leaves) if isinstance(t, ItemValue)]
                diff = [i for i, t in enumerate(out_leaves) if isinstance(t, Tensor) and t._rg]
                kw = {"items": items}
                if diff and _state.grad_enabled and not tracer.did_backward:
                    from .autodiff import build_differentiable
                    kw["leaves"], kw["grads"] = build_differentiable(tracer, outs, diff)
                    kw["diff"] = diff
                graph.output(tuple(outs)).kwargs.update(kw)
                tracer.finish()
                self._n_traces += 1
                compiled = CompiledGraph(graph, self.passes, tracer, rng_before,
                                         self.strip_taps)
                t = _Trace(compiled.graph, compiled, list(modules.values()), out_spec)
                self._cache.setdefault(key, []).append(t)
                self.log.append(f"trace {self._n_traces}: {len(graph)} nodes")
                return out
            except Exception as e:  # noqa: BLE001 - any failure here means: run eagerly
                from .errors import TraceUnsupported
                if not isinstance(e, (TraceUnsupported, JitError)):
                    raise
                tracer.failed = str(e)
        self._eager[key] = tracer.failed
        self.log.append(f"eager: {tracer.failed}")
        self._warn(tracer.failed)
        return out

    def _verified_run(self, tr, key, leaves, args, kwargs):
        """The first replay of a side-effect-free trace is checked against eager: a
        mismatch means the function computes on raw arrays the tracer cannot see."""
        tr.verified = True
        if not tr.compiled.pure or not self.verify:
            return tr.compiled.run(leaves, tr.out_spec)
        from ..random import get_rng_state, set_rng_state
        before = get_rng_state() if tr.compiled.random else None
        got = tr.compiled.run(leaves, tr.out_spec)
        if before is not None:
            after = get_rng_state()
            set_rng_state(before)
        want = self.fn(*args, **kwargs)
        if before is not None:
            set_rng_state(after)
        if not _same(got, want):
            reason = ("the traced graph disagreed with eager execution on new inputs (the "
                      "function probably computes on raw arrays, e.g. tensor._data or "
                      ".numpy() results fed back as new tensors)")
            self._eager[key] = reason
            self._cache.pop(key, None)
            self.log.append(f"eager: {reason}")
            self._warn(reason)
            return want
        return got

    def _warn(self, reason: str) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(f"ember.jit: {_fn_name(self.fn)} runs eagerly "
                          f"for this input signature: {reason}", stacklevel=3)

    # ---- introspection -----------------------------------------------------------------
    @property
    def traces(self) -> list[_Trace]:
        return [t for ts in self._cache.values() for t in ts]

    @property
    def graph(self):
        """The graph of the first trace."""
        ts = self.traces
        if not ts:
            raise JitError("nothing traced yet: call the function first")
        return ts[0].graph

    @property
    def code(self) -> str:
        """The Python source run for the first trace."""
        return self.traces[0].compiled.program.source

    def save(self, path, trace_index: int = 0) -> None:
        """Write a trace's graph and weights to one file (read back by ``ember.jit.load``,
        without the function's source). Training steps (optimizer calls) cannot be saved.

        Example:
            >>> import ember, tempfile, os
            >>> m = ember.jit.trace(ember.nn.Linear(3, 2), (ember.ones(1, 3),))
            >>> m.save(os.path.join(tempfile.mkdtemp(), "linear.ember"))
        """
        from .serialize import save
        save(self, path, trace_index)

    def explain(self) -> str:
        """The traces, their guards, the backend, and every recompile or fallback reason.

        Example:
            >>> import ember
            >>> f = ember.jit.compile(lambda x: x * 2 if x.sum() > 0 else -x)
            >>> _ = f(ember.ones(2)); _ = f(-ember.ones(2))
            >>> print(f.explain())  # doctest: +ELLIPSIS
            <lambda>: 2 trace(s), max_traces=8
            trace 1: ... nodes, 0 state tensors, backend=numpy, passes=...
              guard: __bool__ of gt == True  (<doctest ...>:1)
            ...
        """
        lines = [f"{_fn_name(self.fn)}: {len(self.traces)} trace(s), "
                 f"max_traces={self.max_traces}"]
        for i, t in enumerate(self.traces, 1):
            g = t.graph
            lines.append(f"trace {i}: {len(g)} nodes, {len(g.state)} state tensors, "
                         f"backend={t.compiled.backend}, passes={', '.join(t.compiled.passes)}")
            for m, flag in t.modules:
                lines.append(f"  guard: {type(m).__name__}.training is {flag}")
            for n in g.nodes:
                if n.kind == "guard":
                    lines.append(f"  guard: {n.kwargs['what']} of {n.args[0].name} == "
                                 f"{_short(n.kwargs['expected'])}  ({n.kwargs['site']})")
        for why in self._eager.values():
            lines.append(f"eager: {why}")
        lines += ["log:"] + ["  " + s for s in self.log]
        return "\n".join(lines)


class TracedModule(CompiledFunction):
    """A traced ``nn.Module``: calls run graphs; parameters, buffers and mode stay the
    module's own (``named_parameters``, ``state_dict``, ``train``/``eval`` pass through)."""

    def __init__(self, module, **kw) -> None:
        def state_names():
            names = {}
            for n, t in [*module.named_parameters(), *module.named_buffers()]:
                names[id(t)] = names[id(t._data)] = n
            return names
        super().__init__(module, state_names=state_names, **kw)
        self.module = module

    @property
    def training(self) -> bool:
        return self.module.training

    def train(self, mode: bool = True):
        self.module.train(mode)
        return self

    def eval(self):
        return self.train(False)

    def __getattr__(self, name):
        if name in ("module", "fn") or name.startswith("_"):
            raise AttributeError(name)
        return getattr(self.module, name)


def _same(a, b) -> bool:
    la, lb = [], []
    sa, sb = _flatten(a, la), _flatten(b, lb)
    if _literal_key(sa) != _literal_key(sb) or len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        u, v = x._data, y._data
        if u.shape != v.shape or u.dtype != v.dtype:
            return False
        if u.dtype.kind in "fc":
            if not xp.allclose(u, v, rtol=1e-4, atol=1e-5, equal_nan=True):
                return False
        elif not xp.array_equal(u, v):
            return False
    return True


def _fn_name(fn) -> str:
    name = getattr(fn, "__qualname__", None) if not hasattr(fn, "named_modules") else None
    return name or type(fn).__name__


def _short(v) -> str:
    if isinstance(v, xp.ndarray):
        return f"array{list(v.shape)}" if v.size > 6 else repr(v.tolist())
    return repr(v)


def _arg_names(fn, n: int) -> list[str]:
    import inspect
    try:
        target = fn.forward if hasattr(fn, "forward") and not inspect.isfunction(fn) else fn
        params = [p.name for p in inspect.signature(target).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return [params[i] if i < len(params) else f"arg{i}" for i in range(n)]


def _watch_modules(found: dict):
    try:
        from ..nn.modules.module import register_module_forward_pre_hook
    except ImportError:
        return None

    def hook(module, args):
        found.setdefault(id(module), (module, module.training))
    return register_module_forward_pre_hook(hook)


def trace(fn_or_module, example_inputs=(), check_trace: bool = True, *, strict: bool = False,
          passes=None, max_traces: int = 8, strip_taps: bool = False):
    """Trace ``fn_or_module`` on ``example_inputs`` into a graph and return a callable.

    Later calls run the graph; a call with other shapes or dtypes, or whose data fails a
    guard, is traced again (``strict=True`` raises instead). With ``check_trace`` the
    graph is run once on the example inputs and compared with the eager result.

    Example:
        >>> import ember
        >>> f = ember.jit.trace(lambda x: x * 2 + 1, (ember.ones(2),))
        >>> f(ember.tensor([1.0, 2.0]))
        tensor([3., 5.])
    """
    if not isinstance(example_inputs, tuple):
        example_inputs = (example_inputs,)
    from ..nn.modules.module import Module
    if isinstance(fn_or_module, Module):
        cf = TracedModule(fn_or_module, strict=strict, passes=passes, max_traces=max_traces,
                          strip_taps=strip_taps)
    else:
        cf = CompiledFunction(fn_or_module, strict=strict, passes=passes, max_traces=max_traces,
                              strip_taps=strip_taps)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # raised as an error just below
        out = cf(*example_inputs)
    if cf._eager:
        raise JitError(f"cannot trace {_fn_name(fn_or_module)}: "
                       f"{next(iter(cf._eager.values()))}")
    if check_trace and cf.traces and cf.traces[-1].compiled.pure:
        _check(cf, example_inputs, out)
    return cf


def _check(cf, example_inputs, expected) -> None:
    from ..random import get_rng_state, set_rng_state
    t = cf.traces[-1]
    after = get_rng_state()
    if t.compiled.random:
        set_rng_state(t.compiled.rng_before)
    leaves: list = []
    _flatten(example_inputs, leaves)
    try:
        # the graph itself, not a call: the first real replay is still checked against eager
        got = t.compiled.run(leaves, t.out_spec)
    except GuardFailed:
        raise JitError("check_trace: the traced graph fails its own guards on the example "
                       "inputs") from None
    finally:
        set_rng_state(after)
    a, b = [], []
    _flatten(expected, a)
    _flatten(got, b)
    for x, y in zip(a, b):
        if x._data.shape != y._data.shape or not xp.allclose(x._data, y._data, rtol=1e-5,
                                                              atol=1e-6, equal_nan=True):
            raise JitError("check_trace: the traced graph's output differs from the eager "
                           "output on the example inputs")


def compile(fn: Callable | None = None, *, dynamic=None, max_traces: int = 8,  # noqa: A001
            strict: bool = False, passes=None, strip_taps: bool = False):
    """Compile ``fn`` lazily: each new input signature is traced on its first call.

    A signature is the inputs' shapes, dtypes and ``requires_grad``, the non-tensor
    arguments, grad mode and the train/eval flags of the modules called. Past
    ``max_traces`` the function runs eagerly (with one warning naming the reason).
    Usable as ``@ember.jit.compile`` or ``@ember.jit.compile(max_traces=4)``.
    ``passes``: the optimization passes (default: all; ``[]``: none). ``strip_taps``: drop
    ``ember.debug.tap`` calls from the graphs. ``dynamic`` is accepted for torch.compile
    compatibility: shapes are always specialized (each new shape is a new trace).

    Example:
        >>> import ember
        >>> @ember.jit.compile
        ... def f(x):
        ...     return (x * x).sum()
        >>> f(ember.tensor([1.0, 2.0]))
        tensor(5.)
    """
    if os.environ.get("EMBER_JIT_DISABLE") == "1":
        return fn if fn is not None else (lambda f: f)

    def wrap(f):
        from ..nn.modules.module import Module
        if isinstance(f, Module):
            return TracedModule(f, dynamic=dynamic, max_traces=max_traces, strict=strict,
                                passes=passes, strip_taps=strip_taps)
        return CompiledFunction(f, dynamic=dynamic, max_traces=max_traces, strict=strict,
                                passes=passes, strip_taps=strip_taps)
    return wrap(fn) if fn is not None else wrap
