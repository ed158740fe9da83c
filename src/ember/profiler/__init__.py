"""A CPU profiler for ember programs, like ``torch.profiler``.

``profile`` records every op call (through the dispatch mode stack), every backward node
the autograd engine runs, every ``nn.Module`` call (``with_modules``) and the ranges
opened with ``record_function``. Results are summarised with ``key_averages().table()``
or written as a Chrome trace (``export_chrome_trace``) for Perfetto / chrome://tracing.

Nothing is patched or pushed while no profiler runs, so profiling costs nothing when off.

Example:
    >>> import ember
    >>> import ember.profiler
    >>> x = ember.ones(2, 3, requires_grad=True)
    >>> with ember.profiler.profile() as prof:
    ...     with ember.profiler.record_function("step"):
    ...         (x * 2).relu().sum().backward()
    >>> sorted({e.key for e in prof.key_averages()})[:4]
    ['MulBackward0', 'ReluBackward0', 'SumBackward0', 'mul']
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import threading
import time
from collections.abc import Callable

from ..autograd.grad_mode import _state, pop_mode, step_aside
from ._events import EventList, FunctionEvent, FunctionEventAvg
from ._flops import op_flops

__all__ = ["profile", "record_function", "ProfilerActivity", "EventList", "FunctionEvent",
           "FunctionEventAvg"]

_current: profile | None = None
_lock = threading.Lock()


class ProfilerActivity(enum.Enum):
    """What to profile; ember runs on the CPU only."""

    CPU = 0


def _shapes(values) -> list:
    return [list(v.shape) if hasattr(v, "shape") else [] for v in values]


class _ProfilerMode:
    """The dispatch mode that times each op call (see ``ember.ops.registry``)."""

    def __init__(self, prof: profile) -> None:
        self.prof = prof

    def dispatch(self, op, inputs: tuple, params: dict):
        from ..ops.registry import eager
        prof = self.prof
        ev = prof._begin(op.name, "cpu_op", inputs)
        modes = _state.modes
        try:
            # a mode below this one (a JIT tracer) still sees the call; ops that the call
            # makes itself (dtype casts) come back here and are recorded as children
            if len(modes) > 1 and modes[-1] is self:
                out = modes[-2].dispatch(op, inputs, params)
            else:
                out = eager(op, inputs, params)
        finally:
            prof._end(ev)
        prof._account(ev, op, inputs, out)
        return out

    def dispatch_inplace(self, op, target, others: tuple, params: dict):
        from ..ops.registry import apply_inplace
        prof = self.prof
        ev = prof._begin(op.name + "_", "cpu_op", (target, *others))
        # the in-place path re-dispatches while modes are pushed: step aside meanwhile
        try:
            with step_aside(self):
                return apply_inplace(op, target, *others, **params)
        finally:
            prof._end(ev)

    def on_host_read(self, tensor, what: str) -> None:
        modes = _state.modes
        if len(modes) > 1 and modes[-1] is self:
            modes[-2].on_host_read(tensor, what)


def _wrap_apply(orig: Callable) -> Callable:
    def _apply(node, grads, create_graph: bool):
        prof = _current
        if prof is None:
            return orig(node, grads, create_graph)
        ev = prof._begin(node.name(), "autograd", grads)
        try:
            return orig(node, grads, create_graph)
        finally:
            prof._end(ev)
    _apply.__wrapped__ = orig
    return _apply


def _wrap_call(orig: Callable) -> Callable:
    def __call__(module, *args, **kwargs):
        prof = _current
        if prof is None:
            return orig(module, *args, **kwargs)
        ev = prof._begin(prof._module_name(module), "python_function", args)
        try:
            return orig(module, *args, **kwargs)
        finally:
            prof._end(ev)
    __call__.__wrapped__ = orig
    return __call__


def _node_classes() -> list:
    """Every graph-node class that defines its own ``_apply`` (per-op classes inherit)."""
    from ..autograd.engine import Node
    found, stack, seen = [], [Node], set()
    while stack:
        cls = stack.pop()
        if cls in seen:
            continue
        seen.add(cls)
        if "_apply" in cls.__dict__:
            found.append(cls)
        stack.extend(cls.__subclasses__())
    return found


class profile:
    """Record op calls, backward nodes, module calls and user ranges on the CPU.

    Args:
        activities: accepted for torch compatibility; only ``ProfilerActivity.CPU`` exists.
        record_shapes: keep the input shapes of each event (``key_averages(
            group_by_input_shape=True)`` groups by them).
        profile_memory: count the bytes of the tensors each op returns (views count 0).
        with_flops: count the FLOPs of matmul, linear and convolutions (2 per multiply-add).
        with_stack: accepted for torch compatibility; Python stacks are not recorded.
        with_modules: record each ``nn.Module`` call as a range named
            ``nn.Module: <Class>_<n>``.
        on_trace_ready: called with the profiler when it stops.
        enabled: when False, nothing is recorded.

    Example:
        >>> import ember, ember.profiler
        >>> with ember.profiler.profile(with_flops=True) as prof:
        ...     y = ember.ones(4, 3) @ ember.ones(3, 5)
        >>> prof.key_averages()[0].key, prof.key_averages()[0].flops
        ('matmul', 120)
    """

    def __init__(self, activities=None, *, record_shapes: bool = False,
                 profile_memory: bool = False, with_stack: bool = False,
                 with_flops: bool = False, with_modules: bool = True,
                 on_trace_ready: Callable | None = None, enabled: bool = True) -> None:
        for a in activities or ():
            if a is not ProfilerActivity.CPU:
                raise ValueError(f"unsupported profiler activity {a!r}; ember profiles the CPU")
        self.record_shapes = record_shapes
        self.profile_memory = profile_memory
        self.with_stack = with_stack
        self.with_flops = with_flops
        self.with_modules = with_modules
        self.on_trace_ready = on_trace_ready
        self.enabled = enabled
        self._events: list[FunctionEvent] = []
        self._stacks: dict[int, list[FunctionEvent]] = {}
        self._module_names: dict[int, tuple] = {}
        self._class_counts: dict[str, int] = {}
        self._mode = _ProfilerMode(self)
        self._patched: list[tuple] = []
        self._running = False
        self._perf0 = self._wall0 = 0
        self.step_num = 0

    # ---- start / stop ---------------------------------------------------------------
    def __enter__(self) -> profile:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        """Begin recording (what ``with profile()`` does on entry)."""
        global _current
        if not self.enabled:
            return
        with _lock:
            if _current is not None:
                raise RuntimeError("Profiler is already enabled: ember runs one profiler at a "
                                   "time; stop the other one first.")
            _current = self
        self._running = True
        self._perf0, self._wall0 = time.perf_counter_ns(), time.time_ns()
        for cls in _node_classes():
            orig = cls.__dict__["_apply"]
            self._patched.append((cls, "_apply", orig))
            cls._apply = _wrap_apply(orig)
        if self.with_modules:
            from ..nn.modules.module import Module
            orig = Module.__dict__["__call__"]
            self._patched.append((Module, "__call__", orig))
            Module.__call__ = _wrap_call(orig)
        _state.modes.append(self._mode)

    def stop(self) -> None:
        """Stop recording and restore everything ``start`` changed."""
        global _current
        if not self._running:
            return
        self._running = False
        pop_mode(self._mode)
        for cls, attr, orig in reversed(self._patched):
            setattr(cls, attr, orig)
        self._patched.clear()
        # close ranges left open (a record_function that outlives the profiler)
        end = time.perf_counter_ns()
        for stack in self._stacks.values():
            for ev in stack:
                ev.end_ns = end
            stack.clear()
        with _lock:
            _current = None
        if self.on_trace_ready is not None:
            self.on_trace_ready(self)

    def step(self) -> None:
        """Mark the end of a training step (counted in ``step_num``); schedules, which
        torch drives with it, are not supported, so every step is recorded."""
        self.step_num += 1

    # ---- recording ------------------------------------------------------------------
    def _begin(self, name: str, cat: str, values=()) -> FunctionEvent:
        tid = threading.get_ident()
        stack = self._stacks.get(tid)
        if stack is None:
            stack = self._stacks[tid] = []
        ev = FunctionEvent(len(self._events), name, cat, tid, 0,
                           _shapes(values) if self.record_shapes else None)
        if stack:
            ev.parent = stack[-1]
            stack[-1].children.append(ev)
        stack.append(ev)
        self._events.append(ev)
        ev.start_ns = time.perf_counter_ns()
        return ev

    def _end(self, ev: FunctionEvent) -> None:
        ev.end_ns = time.perf_counter_ns()
        stack = self._stacks.get(ev.thread)
        if stack and stack[-1] is ev:
            stack.pop()
        elif stack and ev in stack:
            stack.remove(ev)

    def _account(self, ev: FunctionEvent, op, inputs: tuple, out) -> None:
        """FLOPs and output bytes of an op call (outside its timed range)."""
        outs = out if isinstance(out, tuple) else (out,)
        if self.with_flops:
            shapes = [tuple(x.shape) if hasattr(x, "shape") else None for x in inputs]
            first = outs[0] if outs else None
            ev.flops = op_flops(op.name, shapes, tuple(first.shape) if hasattr(first, "shape")
                                else None)
        if self.profile_memory and not op.view:
            ev.own_memory = sum(o._data.nbytes for o in outs if hasattr(o, "_data"))

    def _module_name(self, module) -> str:
        entry = self._module_names.get(id(module))
        if entry is None or entry[0] is not module:
            cls = type(module).__name__
            n = self._class_counts.get(cls, 0)
            self._class_counts[cls] = n + 1
            entry = self._module_names[id(module)] = (module, f"nn.Module: {cls}_{n}")
        return entry[1]

    # ---- results --------------------------------------------------------------------
    def events(self) -> EventList:
        """Every recorded event, in the order the ranges began."""
        return EventList(self._events, profile_memory=self.profile_memory,
                         with_flops=self.with_flops)

    def key_averages(self, group_by_input_shape: bool = False) -> EventList:
        """Events added up by name (and input shapes, which needs ``record_shapes=True``)."""
        if group_by_input_shape and not self.record_shapes:
            raise RuntimeError("group_by_input_shape needs the profiler to run with "
                               "record_shapes=True")
        return self.events().key_averages(group_by_input_shape)

    def table(self, sort_by: str | None = None, row_limit: int = 100, **kw) -> str:
        """Shorthand for ``key_averages().table(...)``."""
        return self.key_averages().table(sort_by=sort_by, row_limit=row_limit, **kw)

    @property
    def self_cpu_time_total(self) -> float:
        """Time spent in all recorded ranges, in microseconds."""
        return self.events().self_cpu_time_total

    def export_chrome_trace(self, path: str | os.PathLike) -> None:
        """Write the events as Chrome trace-event JSON (open it in Perfetto or
        chrome://tracing): complete events (``"ph": "X"``) with microsecond times."""
        pid = os.getpid()
        offset = self._wall0 - self._perf0
        trace = []
        for ev in self._events:
            args: dict = {"External id": ev.id, **ev.args}
            if ev.input_shapes is not None:
                args["Input Dims"] = ev.input_shapes
            if ev.flops:
                args["flops"] = ev.flops
            if self.profile_memory and ev.own_memory:
                args["bytes"] = ev.own_memory
            trace.append({"name": ev.name, "cat": ev.cat, "ph": "X",
                          "ts": (ev.start_ns + offset) / 1e3,
                          "dur": max(ev.end_ns - ev.start_ns, 0) / 1e3,
                          "pid": pid, "tid": ev.thread, "args": args})
        with open(path, "w") as f:
            json.dump({"traceEvents": trace, "displayTimeUnit": "ms"}, f)


class record_function(contextlib.ContextDecorator):
    """Mark a range of user code; it shows in the profiler's tables and trace under ``name``.

    Costs a global lookup when no profiler runs. Usable as a decorator too.

    Example:
        >>> import ember, ember.profiler
        >>> with ember.profiler.profile() as prof:
        ...     with ember.profiler.record_function("load"):
        ...         x = ember.ones(3) + 1
        >>> [e.key for e in prof.key_averages()]
        ['load', 'add']
    """

    def __init__(self, name: str, args: str | None = None) -> None:
        self.name = name
        self.args = args
        self._open: list = []

    def __enter__(self) -> record_function:
        prof = _current
        ev = prof._begin(self.name, "user_annotation") if prof is not None else None
        if ev is not None and self.args is not None:
            ev.args["args"] = self.args
        self._open.append((prof, ev))
        return self

    def __exit__(self, *exc) -> None:
        prof, ev = self._open.pop()
        if ev is not None and prof._running:
            prof._end(ev)
