"""Debugging and introspection tools: find where NaNs appear, what holds memory, what leaks.

- ``nan_guard``: stop at the first op whose forward output holds a NaN (or Inf) and say
  which module, which op, what the inputs looked like and which line of your code ran it.
- ``memory_report``: bytes held by live tensors and by the values graphs saved for backward,
  grouped by op, and by module for graphs recorded under ``track_memory(model)``.
- ``GraphLeakWarning``: issued (once per process) when graphs from earlier iterations are
  still alive at ``optimizer.step()``, the classic ``total_loss += loss`` leak.
- ``tap``: an identity op that hands the value flowing through it to a callback.

Nothing here costs anything while unused: ``nan_guard`` pushes a dispatch mode and wraps
``nn.Module.__call__`` only while it is active (and so does ``track_memory``), and the
leak check looks at the first few steps of each optimizer only.

Example:
    >>> import ember, ember.debug
    >>> x = ember.tensor([1.0, -1.0])
    >>> try:
    ...     with ember.debug.nan_guard():
    ...         y = x.sqrt()
    ... except ember.debug.NanError as e:
    ...     print(str(e).splitlines()[0])
    NaN detected in the output of op 'sqrt' (outside any nn.Module)
"""

from __future__ import annotations

import functools
import gc
import linecache
import math
import os
import sys
import threading
import warnings
from collections.abc import Callable
from typing import Any

from .autograd.grad_mode import _state, no_grad, pop_mode, step_aside
from .backend import xp
from .ops.registry import Op, register
from .tensor import Tensor

__all__ = ["nan_guard", "NanError", "memory_report", "MemoryReport", "track_memory",
           "GraphLeakWarning", "tap"]

_EMBER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


class NanError(RuntimeError):
    """Raised by ``nan_guard`` at the first op output holding a NaN (or Inf).

    Attributes:
        op: the op name (``"log"``; in-place calls end in ``_``).
        module_path: the dotted path of the innermost module running, from the outermost
            module being called (``"encoder.layers.1.fc1"``; ``""`` for the outermost
            module itself), or None outside any module.
        module_class: the class name of that module, or None.
        shape, dtype: the offending output's shape (a tuple) and ember dtype.
        nan_count, inf_count: how many NaN and Inf elements it holds.
        filename, lineno: the innermost line of user code (outside ember) that ran the op.
    """

    def __init__(self, message: str, **info: Any) -> None:
        super().__init__(message)
        self.op: str = info.get("op", "")
        self.module_path: str | None = info.get("module_path")
        self.module_class: str | None = info.get("module_class")
        self.shape: tuple = info.get("shape", ())
        self.dtype = info.get("dtype")
        self.nan_count: int = info.get("nan_count", 0)
        self.inf_count: int = info.get("inf_count", 0)
        self.filename: str | None = info.get("filename")
        self.lineno: int | None = info.get("lineno")


class GraphLeakWarning(UserWarning):
    """Autograd graphs from earlier iterations are still alive at ``optimizer.step()``."""


# ---------------------------------------------------------------------------- nan_guard


class _Tls(threading.local):
    def __init__(self) -> None:
        self.modules: list = []


_tls = _Tls()
_patch_lock = threading.Lock()
_patch_depth = 0
_patched_call: Callable | None = None


def _wrap_module_call(orig: Callable) -> Callable:
    def __call__(module, *args, **kwargs):
        stack = _tls.modules
        stack.append(module)
        try:
            return orig(module, *args, **kwargs)
        finally:
            stack.pop()
    __call__.__wrapped__ = orig
    return __call__


def _push_module_tracking() -> None:
    global _patch_depth, _patched_call
    from .nn.modules.module import Module
    with _patch_lock:
        if _patch_depth == 0:
            _patched_call = Module.__dict__["__call__"]
            Module.__call__ = _wrap_module_call(_patched_call)
        _patch_depth += 1


def _pop_module_tracking() -> None:
    global _patch_depth, _patched_call
    from .nn.modules.module import Module
    with _patch_lock:
        _patch_depth -= 1
        if _patch_depth == 0:
            Module.__call__ = _patched_call
            _patched_call = None


def _module_where(stack: list) -> tuple[str | None, str | None]:
    """(dotted path, class name) of the innermost module on ``stack``."""
    if not stack:
        return None, None
    inner = stack[-1]
    # the path from the outermost module that contains it (a module called on its own
    # inside another's forward may not be registered under it)
    for outer in stack:
        for name, m in outer.named_modules():
            if m is inner:
                return name, type(inner).__name__
    return "", type(inner).__name__


def _user_frame():
    """The innermost stack frame whose code lies outside the ember package."""
    f = sys._getframe(1)
    while f is not None:
        fn = os.path.abspath(f.f_code.co_filename)
        if not fn.startswith(_EMBER_DIR):
            return f
        f = f.f_back
    return None


def _fmt(v: float) -> str:
    return f"{v:.6g}"


def _stats(a) -> str:
    """Shape, dtype and value statistics of one array, for the error message."""
    from . import dtypes
    desc = f"shape {tuple(a.shape)}, dtype {dtypes.from_np(a.dtype)}"
    if a.size == 0 or a.dtype.kind not in "fcbiu":
        return desc
    if a.dtype.kind in "fc":
        nan = int(xp.isnan(a).sum())
        inf = int(xp.isinf(a).sum())
        finite = a[xp.isfinite(a)] if nan or inf else a
        if a.dtype.kind == "c":
            finite = abs(finite)
    else:
        nan = inf = 0
        finite = a
    if finite.size:
        f64 = finite.astype(xp.float64)
        desc += (f", min {_fmt(float(f64.min()))}, max {_fmt(float(f64.max()))}, "
                 f"mean {_fmt(float(f64.mean()))}")
        if nan or inf:
            desc += " (of finite values)"
    return desc + f", {nan} NaN, {inf} Inf"


def _bad_counts(a, check_inf: bool) -> tuple[int, int] | None:
    """(NaN count, Inf count) of a float array when it holds what the guard looks for."""
    if a.dtype.kind not in "fc" or a.size == 0:
        return None
    # one reduction finds the rare bad array; the exact counts are paid for only then
    # (a finite array whose sum overflows is counted and passes)
    with xp.errstate(all="ignore"):
        s = a.sum()
    if math.isfinite(abs(complex(s))):
        return None
    nan = int(xp.isnan(a).sum())
    inf = int(xp.isinf(a).sum())
    if nan or (check_inf and inf):
        return nan, inf
    return None


class _NanGuardMode:
    """The dispatch mode that checks every op's forward output."""

    def __init__(self, guard: nan_guard) -> None:
        self.guard = guard

    def dispatch(self, op, inputs: tuple, params: dict):
        from .ops.registry import eager
        modes = _state.modes
        if len(modes) > 1 and modes[-1] is self:
            out = modes[-2].dispatch(op, inputs, params)
        else:
            out = eager(op, inputs, params)
        outs = out if isinstance(out, tuple) else (out,)
        for i, t in enumerate(outs):
            if isinstance(t, Tensor):
                bad = _bad_counts(t._data, self.guard.check_inf)
                if bad is not None:
                    self.guard._report(op.name, i, len(outs), t._data, bad, inputs, params)
        return out

    def dispatch_inplace(self, op, target, others: tuple, params: dict):
        from .ops.registry import apply_inplace
        # the in-place path re-dispatches while modes are pushed: step aside meanwhile
        # and check the written target afterwards
        before = target._data.copy()
        with step_aside(self):
            out = apply_inplace(op, target, *others, **params)
        bad = _bad_counts(target._data, self.guard.check_inf)
        if bad is not None:
            shown = (Tensor._make(before), *others)
            self.guard._report(op.name + "_", 0, 1, target._data, bad, shown, params)
        return out

    def on_host_read(self, tensor, what: str) -> None:
        modes = _state.modes
        if len(modes) > 1 and modes[-1] is self:
            modes[-2].on_host_read(tensor, what)


def _enter_mode(ctx, what: str) -> None:
    """Push ``ctx._mode`` with module tracking on (once: a context is not re-entrant)."""
    if ctx._active:
        raise RuntimeError(f"this {what} is already active")
    ctx._active = True
    _push_module_tracking()
    _state.modes.append(ctx._mode)


def _exit_mode(ctx) -> None:
    pop_mode(ctx._mode)
    _pop_module_tracking()
    ctx._active = False


class nan_guard:
    """Context manager and decorator that checks the forward output of every op for NaN
    (and Inf) and stops at the first one.

    The error (``NanError``, a ``RuntimeError``) names the module being run (its dotted
    path from the outermost module called, and its class, e.g. ``encoder.layers.1.fc1
    (Linear)``), the op, the output's shape, dtype and NaN/Inf counts, the shape, dtype,
    min/max/mean and NaN/Inf counts of each input, and the line of your code that ran it.
    Gradients are not checked: ``ember.autograd.detect_anomaly`` does that in backward.

    Args:
        check_inf: also stop at infinities (turn off for models that mask with ``-inf``).
        raise_error: raise ``NanError``; when False, issue a ``RuntimeWarning`` with the
            same message for every offending op and go on.

    Example:
        >>> import ember, ember.debug
        >>> net = ember.nn.Sequential(ember.nn.Linear(2, 2))
        >>> with ember.no_grad():
        ...     net[0].weight[0, 0] = float("nan")
        >>> try:
        ...     with ember.debug.nan_guard():
        ...         out = net(ember.ones(1, 2))
        ... except ember.debug.NanError as e:
        ...     print(e.op, e.module_path, e.module_class, e.shape, e.nan_count)
        linear 0 Linear (1, 2) 1
    """

    def __init__(self, check_inf: bool = True, raise_error: bool = True) -> None:
        self.check_inf = check_inf
        self.raise_error = raise_error
        self._mode = _NanGuardMode(self)
        self._active = False

    def __enter__(self) -> nan_guard:
        _enter_mode(self, "nan_guard")
        return self

    def __exit__(self, *exc) -> None:
        _exit_mode(self)

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with nan_guard(self.check_inf, self.raise_error):
                return fn(*args, **kwargs)
        return wrapper

    def _report(self, op_name: str, index: int, n_out: int, arr, bad: tuple[int, int],
                inputs: tuple, params: dict) -> None:
        from . import dtypes
        nan, inf = bad
        kind = "NaN" if nan and not (self.check_inf and inf) else (
            "Inf" if not nan else "NaN and Inf")
        path, cls = _module_where(_tls.modules)
        where = ("(outside any nn.Module)" if cls is None else
                 f"in module {path or '<root>'} ({cls})")
        which = f"output {index}" if n_out > 1 else "output"
        lines = [f"{kind} detected in the {which} of op {op_name!r} {where}",
                 f"  output: shape {tuple(arr.shape)}, dtype {dtypes.from_np(arr.dtype)}: "
                 f"{nan} NaN, {inf} Inf of {arr.size} elements"]
        for i, x in enumerate(inputs):
            if isinstance(x, Tensor):
                lines.append(f"  input {i}: {_stats(x._data)}")
            elif isinstance(x, (list, tuple)) and any(isinstance(v, Tensor) for v in x):
                for j, v in enumerate(x):
                    if isinstance(v, Tensor):
                        lines.append(f"  input {i}[{j}]: {_stats(v._data)}")
            else:
                lines.append(f"  input {i}: {x!r}")
        shown = {k: v for k, v in params.items() if not callable(v)}
        if shown:
            lines.append(f"  params: {shown}")
        frame = _user_frame()
        filename = lineno = None
        if frame is not None:
            filename, lineno = frame.f_code.co_filename, frame.f_lineno
            lines.append(f'  at File "{filename}", line {lineno}, in {frame.f_code.co_name}')
            src = linecache.getline(filename, lineno).strip()
            if src:
                lines.append(f"    {src}")
        del frame
        msg = "\n".join(lines)
        if self.raise_error:
            raise NanError(msg, op=op_name, module_path=path, module_class=cls,
                           shape=tuple(arr.shape), dtype=dtypes.from_np(arr.dtype),
                           nan_count=nan, inf_count=inf, filename=filename, lineno=lineno)
        if filename is None:
            warnings.warn(msg, RuntimeWarning, stacklevel=2)
        else:
            warnings.warn_explicit(msg, RuntimeWarning, filename, lineno)


# ---------------------------------------------------------------------------- memory


def _storage(a):
    """The array that owns ``a``'s memory (follow ``.base`` through views)."""
    while isinstance(getattr(a, "base", None), xp.ndarray):
        a = a.base
    return a


def _mib(n: int) -> str:
    if n >= 1 << 20:
        return f"{n / (1 << 20):.2f} MiB"
    if n >= 1 << 10:
        return f"{n / (1 << 10):.2f} KiB"
    return f"{n} B"


#: the key of a graph node's ``metadata`` under which ``track_memory`` records the module
#: whose forward created it: ``(path, class name)``
_MODULE_KEY = "module"
#: the ``saved_by_module`` path of nodes made outside tracked modules
_UNTRACKED = "(untracked)"


class _MemoryTagMode:
    """The dispatch mode of ``track_memory``: tags the nodes that ops record with the
    module running them, and passes everything else through."""

    def __init__(self, tracker: track_memory) -> None:
        self.tracker = tracker

    def _below(self):
        """The mode under this one, or None (then the op runs eagerly)."""
        modes = _state.modes
        if len(modes) == 1:
            return None
        i = len(modes) - 1 - modes[::-1].index(self)
        return modes[i - 1] if i else None

    def dispatch(self, op, inputs: tuple, params: dict):
        below = self._below()
        if below is None:
            from .ops.registry import eager
            out = eager(op, inputs, params)
        else:
            out = below.dispatch(op, inputs, params)
        if _tls.modules:
            # the outputs of one call share its node; some may carry none (indices)
            for t in out if type(out) is tuple else (out,):
                node = getattr(t, "grad_fn", None)
                if node is not None:
                    _tag(node, self.tracker._tag_of(_tls.modules))
                    break
        return out

    def dispatch_inplace(self, op, target, others: tuple, params: dict):
        from .ops.registry import apply_inplace
        before = target.grad_fn
        # the in-place path re-dispatches while modes are pushed: step aside meanwhile
        with step_aside(self):
            out = apply_inplace(op, target, *others, **params)
        node = target.grad_fn
        if _tls.modules and node is not None and node is not before:
            _tag(node, self.tracker._tag_of(_tls.modules))
        return out

    def on_host_read(self, tensor, what: str) -> None:
        below = self._below()
        if below is not None:
            below.on_host_read(tensor, what)


def _tag(node, tag: tuple[str, str] | None) -> None:
    """Record ``tag`` in ``node.metadata`` unless the node has one (a node that is not
    new, returned by a mode below, keeps its first)."""
    if tag is None:
        return
    # the dict behind Node.metadata, made here in one step (the property makes it empty)
    d = node.__dict__
    md = d.get("_metadata")
    if md is None:
        d["_metadata"] = {_MODULE_KEY: tag}
    elif _MODULE_KEY not in md:
        md[_MODULE_KEY] = tag


class track_memory:
    """Context manager and decorator that records which module's forward created each
    autograd node, so that ``memory_report`` groups saved-for-backward bytes by module
    (``MemoryReport.saved_by_module``) as well as by op.

    Paths are the names ``model.named_modules()`` gives (``"encoder.layers.1.fc1"``;
    ``""`` for ``model`` itself), read once on entering. Ops are charged to the innermost
    module of ``model`` running them; modules outside ``model`` (or added to it after
    entering) count as the module of ``model`` that called them, and ops run outside
    ``model``'s modules are not tagged (``memory_report`` shows them as ``(untracked)``).
    With ``model=None`` the paths are relative to the outermost module called, as in
    ``nan_guard``. The tag stays on the node after the block ends (in
    ``grad_fn.metadata["module"]``, a ``(path, class name)`` pair), so the report can be
    taken inside or after the block.

    Costs nothing while inactive; while active, every op call and module call does a
    little more work (a dispatch mode, and ``nn.Module.__call__`` wrapped as by
    ``nan_guard``).

    Args:
        model: the module whose submodule names are used.

    Example:
        >>> import ember, ember.debug
        >>> from ember import nn
        >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> with ember.debug.track_memory(net):
        ...     out = net(ember.ones(3, 4))
        >>> out.grad_fn.metadata["module"]
        ('2', 'Linear')
        >>> rep = ember.debug.memory_report()
        >>> {path: nbytes for path, cls, nodes, arrays, nbytes in rep.saved_by_module}["0"]
        176
    """

    def __init__(self, model: Any = None) -> None:
        self.model = model
        self._mode = _MemoryTagMode(self)
        self._active = False
        #: id(module) -> (path, class name); the roots keep those modules (and ids) alive
        self._names: dict[int, tuple[str, str]] = {}
        self._roots: dict[int, Any] = {}

    def __enter__(self) -> track_memory:
        if self._active:
            raise RuntimeError("this track_memory is already active")
        if self.model is not None:
            self._add_root(self.model)
        _enter_mode(self, "track_memory")
        return self

    def __exit__(self, *exc) -> None:
        _exit_mode(self)
        self._names.clear()
        self._roots.clear()

    def __call__(self, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with track_memory(self.model):
                return fn(*args, **kwargs)
        return wrapper

    def _add_root(self, root: Any) -> None:
        self._roots[id(root)] = root
        names = self._names
        for path, m in root.named_modules():
            names.setdefault(id(m), (path, type(m).__name__))

    def _tag_of(self, stack: list) -> tuple[str, str] | None:
        """(path, class name) of the innermost known module on the module stack."""
        tag = self._names.get(id(stack[-1]))
        if tag is not None:
            return tag
        if self.model is None and id(stack[0]) not in self._roots:
            self._add_root(stack[0])
        names = self._names
        for m in reversed(stack):
            tag = names.get(id(m))
            if tag is not None:
                return tag
        return None


class MemoryReport:
    """What ``memory_report`` found; ``str()`` gives the tables.

    Attributes:
        tensor_bytes: bytes of the distinct storages that live tensors hold.
        n_tensors, n_storages: live tensors and the distinct storages behind them.
        largest: ``(bytes, shape, dtype, requires_grad, grad_fn name)`` of the largest
            tensors, most bytes first.
        saved_bytes: bytes of the distinct arrays live graphs saved for backward.
        saved_only_bytes: the part of ``saved_bytes`` no live tensor holds (what the
            graphs alone keep alive).
        saved_by_op: ``(op name, nodes, arrays, bytes)`` rows, most bytes first.
        saved_by_module: ``(module path, class name, nodes, arrays, bytes)`` rows, most
            bytes first, for nodes made under ``track_memory`` (path ``""`` is the tracked
            model itself); the nodes made outside tracked modules form one row with path
            ``"(untracked)"`` and class ``""``. Empty when no live node was tracked.

    In both groupings an array counts once per row; an array saved by two rows' nodes
    (one layer's output saved by the next) counts in each, so rows can add up to more
    than ``saved_bytes``.
    """

    def __init__(self, top: int) -> None:
        self.top = top
        self.tensor_bytes = 0
        self.n_tensors = 0
        self.n_storages = 0
        self.largest: list[tuple] = []
        self.saved_bytes = 0
        self.saved_only_bytes = 0
        self.saved_by_op: list[tuple[str, int, int, int]] = []
        self.saved_by_module: list[tuple[str, str, int, int, int]] = []

    def __repr__(self) -> str:
        return (f"MemoryReport(tensors={self.n_tensors}, tensor_bytes={self.tensor_bytes}, "
                f"saved_bytes={self.saved_bytes})")

    def __str__(self) -> str:
        out = [f"Live tensors: {self.n_tensors} in {self.n_storages} storages, "
               f"{_mib(self.tensor_bytes)}"]
        if self.largest:
            out.append(f"{'bytes':>12}  {'shape':<20} {'dtype':<16} {'grad_fn':<20}")
            for nb, shape, dt, rg, fn in self.largest:
                name = fn or ("(leaf, requires_grad)" if rg else "")
                out.append(f"{nb:>12}  {str(shape):<20} {str(dt):<16} {name:<20}")
        out.append(f"Saved for backward: {_mib(self.saved_bytes)} "
                   f"({_mib(self.saved_only_bytes)} held by graphs alone)")
        if self.saved_by_op:
            out.append(f"{'op':<20} {'nodes':>7} {'arrays':>7} {'bytes':>12}")
            for name, nodes, arrays, nb in self.saved_by_op:
                out.append(f"{name:<20} {nodes:>7} {arrays:>7} {nb:>12}")
        if self.saved_by_module:
            names = [path if not cls else f"{path or '<root>'} ({cls})"
                     for path, cls, *_ in self.saved_by_module]
            w = max(20, *map(len, names))
            out.append(f"{'module':<{w}} {'nodes':>7} {'arrays':>7} {'bytes':>12}")
            for name, (_, _, nodes, arrays, nb) in zip(names, self.saved_by_module):
                out.append(f"{name:<{w}} {nodes:>7} {arrays:>7} {nb:>12}")
        return "\n".join(out)

    def _repr_pretty_(self, p, cycle: bool) -> None:
        p.text(repr(self) if cycle else str(self))


def _add_saved(row: list, vals: list) -> None:
    """Count one node's saved arrays into a ``[nodes, arrays, bytes, storage ids]`` row."""
    row[0] += 1
    for v in vals:
        root = _storage(v)
        row[1] += 1
        if id(root) not in row[3]:
            row[3].add(id(root))
            row[2] += root.nbytes


def memory_report(top: int = 10) -> MemoryReport:
    """Bytes held by live tensors and by values that live graphs saved for backward.

    Tensors sharing memory (views, ``detach()``) count their storage once. Saved values
    are grouped by the op that saved them and, for graphs recorded under
    ``track_memory(model)``, by the module whose forward ran the op
    (``MemoryReport.saved_by_module``); graphs already run by ``backward`` hold none.
    Objects are found with ``gc``: unreachable ones not yet collected still count (call
    ``gc.collect()`` first for an exact picture).

    Args:
        top: how many of the largest tensors and of the ops and modules with most saved
            bytes to list.

    Example:
        >>> import ember, ember.debug
        >>> w = ember.ones(256, 256, requires_grad=True)
        >>> loss = w.exp().sum()
        >>> rep = ember.debug.memory_report(top=3)
        >>> [row[0] for row in rep.saved_by_op]
        ['exp']
        >>> rep.tensor_bytes >= 256 * 256 * 4
        True
    """
    from .autograd.engine import OpNode
    rep = MemoryReport(top)
    storages: dict[int, Any] = {}
    tensors = []
    nodes = []
    # type() and not isinstance(): some live objects (lazy module proxies) warn or fail
    # when their __class__ is read
    for obj in gc.get_objects():
        cls = type(obj)
        if issubclass(cls, Tensor):
            tensors.append(obj)
        elif issubclass(cls, OpNode):
            nodes.append(obj)
    from . import dtypes
    for t in tensors:
        a = getattr(t, "_data", None)
        if not isinstance(a, xp.ndarray):
            continue
        rep.n_tensors += 1
        root = _storage(a)
        storages[id(root)] = root
        fn = t.grad_fn
        rep.largest.append((a.nbytes, tuple(a.shape), dtypes.from_np(a.dtype), bool(t._rg),
                            None if fn is None else fn.name()))
    rep.n_storages = len(storages)
    rep.tensor_bytes = sum(a.nbytes for a in storages.values())
    rep.largest.sort(key=lambda r: -r[0])
    del rep.largest[top:]
    saved: dict[int, Any] = {}
    by_op: dict[str, list] = {}
    by_module: dict[tuple[str, str], list] = {}
    tracked = False
    for node in nodes:
        vals = [v for v in node._saved or () if isinstance(v, xp.ndarray)]
        if not vals:
            continue
        name = node.op.name if node.op is not None else node.name()
        _add_saved(by_op.setdefault(name, [0, 0, 0, set()]), vals)
        # read the metadata dict without making one for every untagged node
        md = node.__dict__.get("_metadata")
        tag = md.get(_MODULE_KEY) if md else None
        if tag is not None:
            tracked = True
        _add_saved(by_module.setdefault(tag or (_UNTRACKED, ""), [0, 0, 0, set()]), vals)
        for v in vals:
            root = _storage(v)
            saved[id(root)] = root
    rep.saved_bytes = sum(a.nbytes for a in saved.values())
    rep.saved_only_bytes = sum(a.nbytes for k, a in saved.items() if k not in storages)
    rep.saved_by_op = sorted(((k, n, c, b) for k, (n, c, b, _) in by_op.items()),
                             key=lambda r: (-r[3], r[0]))[:top]
    if tracked:
        rep.saved_by_module = sorted(
            ((p, k, n, c, b) for (p, k), (n, c, b, _) in by_module.items()),
            key=lambda r: (-r[4], r[0]))[:top]
    return rep


# ---------------------------------------------------------------------------- leak check

#: optimizer steps (counted per optimizer) at which parameter reference counts are read
_LEAK_STEPS = (2, 3, 4)
_leak_warned = False
#: > 0 while the JIT traces: its traces hold parameters, so their reference counts grow
_leak_paused = 0


def _param_refs(opt) -> int:
    # every live graph node that used a parameter holds a reference to it (its edge), so
    # graphs kept alive across iterations show as reference counts that keep growing
    return sum(sys.getrefcount(p) for g in opt.param_groups for p in g["params"])


def _step_check(opt) -> None:
    """Called by ``Optimizer.step`` before each step: over the first steps of each
    optimizer, look for graphs of earlier iterations that are still alive."""
    if _leak_warned or _leak_paused:
        return
    d = opt.__dict__
    st = d.get("_ember_leak_check")
    if st is None:
        st = d["_ember_leak_check"] = [0]
    n = st[0] = st[0] + 1
    if n > _LEAK_STEPS[-1] or n < _LEAK_STEPS[0]:
        return
    st.append(_param_refs(opt))
    if n == _LEAK_STEPS[-1]:
        counts = st[1:]
        del st[1:]
        if all(b > a for a, b in zip(counts, counts[1:])):
            _confirm_leak(counts)


def _confirm_leak(counts: list) -> None:
    """Warn when nodes that ``backward`` already ran are still alive."""
    global _leak_warned
    from .autograd.engine import Node
    stale = sum(1 for o in gc.get_objects() if issubclass(type(o), Node) and o._freed)
    if not stale:
        return
    _leak_warned = True
    warnings.warn(
        f"{stale} autograd graph nodes already run by backward() are alive at "
        f"optimizer.step(), and the parameters' reference counts grew at every step "
        f"({' -> '.join(map(str, counts))}): a graph from an earlier iteration is being kept "
        "alive, so memory grows each step. The usual cause is accumulating a loss tensor "
        "(`total_loss += loss`) or storing outputs; use `loss.item()` or `loss.detach()`. "
        "(ember.debug.memory_report() shows what graphs hold.)",
        GraphLeakWarning, stacklevel=5)


# ---------------------------------------------------------------------------- tap


@register
class Tap(Op):
    """Identity that calls ``fn`` with the value passing through."""

    name = "tap"
    view = True

    @staticmethod
    def forward(ctx, x, fn):
        with no_grad():
            fn(Tensor._make(x))
        return x.view()

    @staticmethod
    def backward(ctx, F, g):
        return g


def tap(tensor: Tensor, fn: Callable[[Tensor], Any] = print) -> Tensor:
    """Return ``tensor`` unchanged (a view) and call ``fn`` with its value when the op
    runs; gradients pass straight through.

    ``fn`` receives a tensor sharing the value's memory (clone it to keep it), without
    grad. Put ``tap`` in the middle of an expression to look at intermediates.

    Example:
        >>> import ember, ember.debug
        >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
        >>> y = ember.debug.tap(x * 3, fn=lambda v: print("mid:", v)).sum()
        mid: tensor([3., 6.])
        >>> y.backward(); x.grad
        tensor([3., 3.])
    """
    if not isinstance(tensor, Tensor):
        raise TypeError(f"tap(): argument 'tensor' must be Tensor, not {type(tensor).__name__}")
    if not callable(fn):
        raise TypeError(f"tap(): argument 'fn' must be callable, not {type(fn).__name__}")
    return Tap.apply(tensor, fn=fn)

