"""Capture: run a function eagerly while recording every op into a ``Graph``.

The ``Tracer`` is a dispatch mode (pushed on ``_state.modes``): each op still runs for
real, so the traced call returns eager's result, and the op is appended to the graph.
What the graph cannot express is handled so the result is never silently wrong:

* Python values read from tensor data (``item``, ``bool``, ``tolist``, ``numpy``) become
  *guards*: the compiled graph re-checks them and the caller traces again on a mismatch.
  ``item()`` returns an ``ItemValue`` that records its guard only when Python actually
  uses the number, so ``return loss.item()`` costs no guard.
* Tensors reached that are not arguments are *state*, read live at each call (module
  parameters, optimizer state), or constants when they die with the call (temporaries).
* ``loss.backward()`` is recorded as one ``backward`` node per op (the op's own backward
  formula, run on the ctx its forward filled at run time) plus ``grad_acc`` nodes.
* Routines that change state outside the op table (``Optimizer.step``, ``zero_grad``,
  ``clip_grad_norm_``) are recorded as ``effect`` nodes and called at run time.
"""

from __future__ import annotations

import os
import sys
import weakref

from .. import dtypes
from ..autograd import engine as _engine
from ..autograd.engine import OpNode
from ..autograd.grad_mode import _state, step_aside
from ..backend import xp
from ..ops.registry import _cast_target, apply_inplace, eager
from ..tensor import Tensor
from .errors import TraceUnsupported
from .ir import Graph, Node, storage_root

__all__ = ["Tracer", "StateRef", "ItemValue", "user_site"]

#: ops whose output shape depends on the input's values: their shapes are guarded
DATA_DEPENDENT_SHAPE = frozenset({"nonzero", "nonzero_tuple", "masked_select", "unique",
                                  "unique_consecutive", "argwhere", "bincount",
                                  "repeat_interleave"})

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_EXAMPLES = os.path.join(_EMBER_DIR, "examples")


def user_site() -> str:
    """``file:line`` of the innermost frame outside ember (examples count as user code)."""
    f = sys._getframe(1)
    while f is not None:
        fn = f.f_code.co_filename
        if not fn.startswith(_EMBER_DIR) or fn.startswith(_EXAMPLES):
            return f"{fn}:{f.f_lineno}"
        f = f.f_back
    return "<unknown>"


class StateRef:
    """A tensor read live by a graph: ``tensor`` is the object, ``name`` its label."""

    __slots__ = ("tensor", "name", "_weak", "_weak_arr", "_snapshot")

    def __init__(self, tensor: Tensor | None, name: str) -> None:
        self.tensor = tensor
        self.name = name
        self._weak = None
        self._weak_arr = None
        self._snapshot = None

    def __repr__(self) -> str:
        return f"StateRef({self.name})"


def _dtype_name(arr) -> str:
    return arr.dtype.name if arr.dtype.kind != "b" else "bool"


class ItemValue(float):
    """What ``Tensor.item()`` returns while tracing a float tensor: a float that records a
    guard on the tensor's value the first time Python uses it (so a value that is only
    returned needs no guard)."""

    __slots__ = ("_tracer", "_node", "_site")

    def _use(self) -> float:
        value = float.__float__(self)
        tr = self._tracer
        if tr is not None:
            self._tracer = None
            tr._guard_value(self._node, "item", value, self._site)
        return value


def _make_forwarder(name):
    def method(self, *args):
        return getattr(self._use(), name)(*args)
    method.__name__ = name
    return method


for _name in ("__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__",
              "__truediv__", "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__",
              "__rmod__", "__pow__", "__rpow__", "__neg__", "__pos__", "__abs__", "__lt__",
              "__le__", "__gt__", "__ge__", "__eq__", "__ne__", "__bool__", "__int__",
              "__float__", "__round__", "__trunc__", "__floor__", "__ceil__", "__format__",
              "__str__", "__repr__", "__hash__", "__divmod__", "__rdivmod__", "is_integer",
              "as_integer_ratio", "hex", "conjugate"):
    setattr(ItemValue, _name, _make_forwarder(_name))


class Tracer:
    """The dispatch mode that records ops into ``self.graph`` while running them."""

    def __init__(self, state_names: dict | None = None) -> None:
        self.graph = Graph()
        self.tmap: dict[int, tuple] = {}        # id(tensor) -> (weakref, node)
        self.amap: dict[int, tuple] = {}        # id(array) -> (weakref, node)
        self.state_index: dict[int, int] = {}   # id(tensor) -> index in graph.state
        self.state_names = state_names or {}
        self.grad_owner: dict[int, Tensor] = {}  # id(a .grad tensor) -> its owner
        self.grad_none: dict[int, bool] = {}     # id(leaf) -> whether .grad is None now
        self.modules: dict[int, tuple] = {}      # id(module) -> (module, training)
        self.did_backward = False
        self.random_ops = False
        self.items: list[ItemValue] = []
        self._consts = 0
        #: why this trace cannot become a graph (the call still runs eagerly to the end)
        self.failed: str | None = None
        #: nodes of tensors that were then written in place while requiring grad
        self.rg_written: set = set()
        #: id -> (weakref, file:line) of each tensor ``Tensor._make`` made while tracing
        self.made: dict[int, tuple] = {}

    def track(self):
        """Remember each tensor ``Tensor._make`` creates while tracing; returns the original
        ``_make`` to put back. Op outputs are bound to nodes as soon as dispatch returns, and
        constants made from Python data say so (``creation.const_tensor``); a tensor an op
        later receives that is neither came from raw array code, which a graph cannot
        follow, so the call runs eagerly."""
        made = self.made
        orig = Tensor.__dict__["_make"]

        def _make(arr):
            t = object.__new__(Tensor)
            t._data = arr
            f = sys._getframe(1)
            made[id(t)] = (weakref.ref(t), f"{f.f_code.co_filename}:{f.f_lineno}")
            return t
        Tensor._make = staticmethod(_make)
        return orig

    # ---- the mode protocol ---------------------------------------------------------
    def dispatch(self, op, inputs: tuple, params: dict):
        with step_aside(self):
            out = eager(op, inputs, params)
        if self.failed is None:
            try:
                self._record(op, inputs, params, out)
            except TraceUnsupported as e:
                self.failed = str(e)
        return out

    def _record(self, op, inputs: tuple, params: dict, out) -> None:
        args = self._args(op, inputs)
        if getattr(op, "random", False):
            self.random_ops = True
        if params:
            _check_params(op, params)
        first = out[0] if type(out) is tuple else out
        node = self.graph.call(op.name, args, params, *(_meta(first) if type(out) is not tuple
                                                         else (None, None)))
        node.meta["op"] = op
        if _state.grad_enabled and op.differentiable:
            node.meta["needs"] = tuple(isinstance(x, Tensor) and x._rg for x in inputs)
            if any(node.meta["needs"]):
                _keep_ctx(node, out, inputs)
        if type(out) is tuple:
            node.meta["n_out"] = len(out)
            node.meta["out_meta"] = [(t._data.shape, t._data.dtype) for t in out]
            sels = node.meta["selects"] = []
            for k, t in enumerate(out):
                s = self.graph.add("select", k, (node,), None, *_meta(t),
                                   name=f"{op.name}_{k}")
                sels.append(s)
                self._bind(t, s)
                if op.name in DATA_DEPENDENT_SHAPE:
                    self._guard_shape(s, t)
        else:
            self._bind(out, node)
            if op.name in DATA_DEPENDENT_SHAPE:
                self._guard_shape(node, out)

    def dispatch_inplace(self, op, target: Tensor, others: tuple, params: dict):
        grad_write = _state.grad_enabled and (target._rg or any(
            isinstance(o, Tensor) and o._rg for o in others))
        needs = tuple(isinstance(x, Tensor) and x._rg for x in (target, *others))
        if grad_write and self.failed is None and target._base is not None:
            self.failed = (f"in-place {op.name}_ into a view of a tensor that requires grad (at "
                           f"{user_site()})")
        if self.failed is None:
            try:
                tnode = self._node_of(target)
                args = self._args(op, (target, *others))
            except TraceUnsupported as e:
                self.failed = str(e)
        with step_aside(self):
            apply_inplace(op, target, *others, **params)
        if self.failed is None:
            try:
                self._record_inplace(op, target, params, tnode, args,
                                     needs if grad_write and op.differentiable else None)
            except TraceUnsupported as e:
                self.failed = str(e)
        return target

    def _record_inplace(self, op, target, params, tnode, args, needs) -> None:
        if params:
            _check_params(op, params)
        value = self.graph.call(op.name, args, params, *_meta(target))
        value.meta["op"] = op
        if needs is not None:
            # the op's backward may read the target's old value, which the write replaces:
            # its forward gets a copy (as eager's in-place path snapshots saved targets)
            value.meta["needs"] = needs
            value.meta["copy_target"] = True
            if isinstance(target.grad_fn, OpNode):
                value.meta["ctx"] = target.grad_fn
            self.rg_written.add(tnode)
        root = storage_root(tnode)
        w = self.graph.add("write", None, (tnode, value), {}, *_meta(target))
        if root.kind == "state":
            w.kwargs["bump"] = root.target
        self._bind(target, w)

    def on_host_read(self, tensor: Tensor, what: str) -> None:
        if self.failed is not None:
            return
        node = self._node_of(tensor)
        value = tensor._data
        self._guard_value(node, what, value.copy() if what in ("tolist", "numpy", "__array__")
                          else value.item(), user_site())

    def on_create(self, t: Tensor) -> None:
        """A tensor made from Python or NumPy data inside the function: a constant (its
        value now), or the node of the traced array it wraps."""
        if self.failed is not None or id(t) in self.tmap:
            return
        arr = t._data
        hit = self.amap.get(id(arr))
        if hit is not None and hit[0]() is arr:
            self._alias(t, hit[1])
            return
        for _, node in list(self.amap.values()):
            if node.kind in ("placeholder", "state"):
                src = self._tensor_of(node)
                if src is not None and xp.may_share_memory(src._data, arr):
                    self.failed = (f"a tensor was made from {node.name}'s memory outside the op "
                                   f"table (at {user_site()}); the JIT cannot follow it")
                    return
        self._bind(t, self._constant(arr.copy()))

    def on_alias(self, src: Tensor, t: Tensor) -> None:
        """``t = src.detach()``: the same value as ``src`` (whose history does not matter,
        so an outside tensor with history, such as a carried RNN state, is fine here)."""
        if self.failed is None:
            try:
                self._alias(t, self._node_of(src, history_ok=True))
            except TraceUnsupported as e:
                self.failed = str(e)

    def item_value(self, tensor: Tensor, value):
        """``Tensor.item()`` under tracing: floats come back as a lazily guarded value."""
        if self.failed is not None:
            return value
        node = self._node_of(tensor)
        if isinstance(value, float) and not isinstance(value, bool):
            v = ItemValue(value)
            v._tracer, v._node, v._site = self, node, user_site()
            self.items.append(v)
            return v
        self._guard_value(node, "item", value, user_site())
        return value

    def custom_function(self, cls) -> None:
        """A custom ``autograd.Function`` that records a backward: its Python backward
        cannot be a graph node, so this call runs eagerly."""
        if self.failed is None:
            self.failed = (f"custom autograd.Function {cls.__qualname__} with inputs that "
                           f"require grad (at {user_site()})")

    def set_grad(self, t: Tensor, value) -> None:
        """``t.grad = value`` in the traced Python: ``None`` is recorded as a reset made at
        that point of each run (even where the gradient was already None while tracing:
        on later calls it need not be); any other value cannot be replayed."""
        if self.failed is not None:
            return
        hit = self.tmap.get(id(t))
        if value is not None or (hit is not None and hit[1].kind == "placeholder"):
            self.failed = f"a .grad was assigned in Python inside the function (at {user_site()})"
            return
        try:
            self._grad_reset(t)
        except TraceUnsupported as e:
            self.failed = str(e)

    def host_effect(self, fn, args: tuple, kwargs: dict):
        args = tuple(list(a) if _is_iterator(a) else a for a in args)
        with step_aside(self):
            out = fn(*args, **kwargs)
        if self.failed is None:
            try:
                self._record_effect(fn, args, kwargs, out)
            except TraceUnsupported as e:
                self.failed = str(e)
        return out

    def _record_effect(self, fn, args, kwargs, out) -> None:
        if _state.grad_enabled and isinstance(out, Tensor) and out._rg:
            raise TraceUnsupported(f"{fn.__qualname__} returned a tensor that requires grad")
        targs = self._effect_args(args)
        tkw = self._effect_args(kwargs)
        node = self.graph.add("effect", fn, (targs,), {"kwargs": tkw},
                              *(_meta(out) if isinstance(out, Tensor) else (None, None)),
                              name=getattr(fn, "__name__", "effect"))
        # the routine may have replaced arrays or gradients: read state afresh after it
        for m in (self.tmap, self.amap):
            for k in [k for k, (_, n) in m.items() if n.kind in ("state", "grad_acc")]:
                del m[k]
        for ref in self.graph.state:
            t = ref._weak() if ref._weak is not None else ref.tensor
            if t is not None and t._rg:
                self._note_grad(t)
        if isinstance(out, Tensor):
            self._bind(out, node)
        elif out is not None and not isinstance(out, (int, float, bool, str)):
            raise TraceUnsupported(f"{fn.__qualname__} returned {type(out).__name__}")

    def run_backward(self, roots, root_grads, retain_graph, create_graph, inputs=None,
                     accumulate=True):
        if create_graph and self.failed is None:
            self.failed = f"backward with create_graph=True (at {user_site()})"
        if self.failed is not None:
            with step_aside(self):
                return _engine.run_backward(roots, root_grads, retain_graph, create_graph,
                                            inputs, accumulate)
        try:
            resets = self._grad_resets()
        except TraceUnsupported as e:
            self.failed = str(e)
            resets = []
        for t in resets:
            self._grad_reset(t)
        # the values each recorded op saved, before the engine frees them: building the
        # backward part reruns formulas on them
        saved = {c: (c._saved, c._saved_meta) for c in
                 (n.meta.get("ctx") for n in self.graph.nodes) if c is not None}
        with step_aside(self):
            results = _engine.run_backward(roots, root_grads, retain_graph, False, inputs,
                                           accumulate)
        self.did_backward = True
        if self.failed is None:
            from .autodiff import build_backward
            try:
                build_backward(self, roots, root_grads, inputs, accumulate, results, saved)
            except TraceUnsupported as e:
                self.failed = str(e)
        return results

    def _grad_resets(self) -> list:
        """Leaves whose .grad Python set to None since the tracer last saw them."""
        resets = []
        for t in self._known_leaves():
            expected_none = self.grad_none.get(id(t))
            if t.grad is None and expected_none is False:
                resets.append(t)  # `p.grad = None` in Python: the graph must do it too
            elif t.grad is not None and expected_none:
                raise TraceUnsupported("a .grad was assigned in Python inside the function "
                                       f"(at {user_site()})")
        return resets

    # ---- helpers -------------------------------------------------------------------
    def _known_leaves(self):
        """The leaves seen so far (state or placeholders that require grad): the tensors a
        backward pass may accumulate into."""
        out = []
        for _, node in list(self.tmap.values()):
            if node.kind in ("state", "placeholder") and node.meta.get("rg"):
                t = self._tensor_of(node)
                if t is not None:
                    out.append(t)
        return out

    def _tensor_of(self, node: Node):
        if node.kind == "state":
            ref = self.graph.state[node.target]
            return ref._weak() if ref._weak is not None else ref.tensor
        return node.meta.get("tensor")

    def _grad_reset(self, leaf: Tensor) -> None:
        k = self._state_slot(leaf)
        self.graph.add("effect", _set_grad_none, ([self.graph.state[k]],), {"kwargs": {}},
                       name="set_grad_none")
        self.grad_none[id(leaf)] = True

    def placeholder(self, t: Tensor, name: str) -> Node:
        """Bind an argument tensor to a new placeholder node."""
        node = self.graph.placeholder(name, *_meta(t))
        node.meta["tensor"] = t
        self._bind(t, node)
        if t._rg:
            self._note_grad(t)
        return node

    def bind_array(self, arr, node: Node) -> None:
        """Map a raw array the core returns (e.g. ``autograd.grad``'s results) to ``node``."""
        amap = self.amap
        key = id(arr)
        amap[key] = (weakref.ref(arr, lambda _, k=key, n=node: _forget(amap, k, n)), node)

    def _note_grad(self, leaf: Tensor) -> None:
        g = leaf.grad
        self.grad_none[id(leaf)] = g is None
        if g is not None:
            self.grad_owner[id(g)] = leaf

    def _bind(self, t: Tensor, node: Node) -> None:
        key = id(t)
        self.made.pop(key, None)
        tmap = self.tmap
        tmap[key] = (weakref.ref(t, lambda _, k=key, n=node: _forget(tmap, k, n)), node)
        node.meta["rg"] = t._rg
        arr = t._data
        if type(arr) is xp.ndarray:
            amap = self.amap
            akey = id(arr)
            amap[akey] = (weakref.ref(arr, lambda _, k=akey, n=node: _forget(amap, k, n)), node)

    def _alias(self, t: Tensor, node: Node) -> None:
        """``t`` wraps ``node``'s array (``detach()``, ``Tensor._make(x._data)``): same
        value, but its own requires-grad flag, which the ops it feeds record."""
        key = id(t)
        self.made.pop(key, None)
        tmap = self.tmap
        tmap[key] = (weakref.ref(t, lambda _, k=key, n=node: _forget(tmap, k, n)), node)

    def _stale(self, node: Node) -> None:
        """A view made before an in-place write with grad, used after it: eager would
        re-derive its history from the written base; a graph cannot."""
        n = node
        while n.kind == "select" or n.kind == "call" and getattr(n.meta.get("op"), "view", False):
            n = n.args[0]
            if n in self.rg_written:
                raise TraceUnsupported("a view of a tensor written in place (with grad) is used "
                                       f"after the write (at {user_site()})")

    def _args(self, op, inputs: tuple) -> tuple:
        arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
        dt = _cast_target(op.promote, arrays) if op.promote is not None else None
        args = []
        for x in inputs:
            if isinstance(x, Tensor):
                n = self._node_of(x)
                if self.rg_written:
                    self._stale(n)
                if dt is not None and x._data.dtype != dt:
                    c = self.graph.call("cast", (n,), {"dtype": dtypes.from_np(dt)},
                                        x._data.shape, dt.name)
                    from ..ops.registry import OPS
                    c.meta["op"] = OPS["cast"]
                    c.meta["rg"] = x._rg and _state.grad_enabled
                    if _state.grad_enabled:
                        c.meta["needs"] = (x._rg,)
                    n = c
                args.append(n)
            elif isinstance(x, ItemValue):
                args.append(x._use())
            elif isinstance(x, xp.generic):
                args.append(x.item())
            elif isinstance(x, xp.ndarray):
                args.append(self._array_node(x))
            else:
                args.append(x)
        return tuple(args)

    def _array_node(self, arr) -> Node:
        """A raw array handed to an op: the node of the tensor it belongs to, if any."""
        hit = self.amap.get(id(arr))
        if hit is not None and hit[0]() is arr:
            return hit[1]
        for _, node in self.amap.values():
            if node.kind in ("placeholder", "state"):
                t = self._tensor_of(node)
                if t is not None and xp.may_share_memory(t._data, arr):
                    raise TraceUnsupported(
                        f"an op got an array derived from {node.name}'s memory outside the op "
                        f"table (at {user_site()}); the JIT cannot follow it")
        return self._constant(arr.copy())

    def _constant(self, arr) -> Node:
        key = f"c{self._consts}"
        self._consts += 1
        self.graph.constants[key] = arr
        return self.graph.add("constant", key, (), None, arr.shape, _dtype_name(arr),
                              name="const")

    def _node_of(self, t: Tensor, history_ok: bool = False) -> Node:
        hit = self.tmap.get(id(t))
        if hit is not None:
            return hit[1]
        hit = self.amap.get(id(t._data))
        if hit is not None and hit[0]() is t._data:  # a new Tensor around a known array
            self._alias(t, hit[1])
            return hit[1]
        made = self.made.get(id(t))
        if made is not None and made[0]() is t:
            raise TraceUnsupported(
                f"an op got a tensor computed from raw arrays outside the op table (made at "
                f"{made[1]}, used at {user_site()}); the JIT cannot follow how it depends on "
                "the inputs")
        owner = self.grad_owner.get(id(t))
        if owner is not None and owner.grad is t:
            k = self._state_slot(owner)
            node = self.graph.add("state", k, (), {"attr": "grad"}, *_meta(t),
                                  name=f"{self.graph.state[k].name}_grad")
            self._bind(t, node)
            return node
        k = self._state_slot(t, history_ok)
        node = self.graph.add("state", k, (), {"attr": "data"}, *_meta(t),
                              name=self.graph.state[k].name)
        self._bind(t, node)
        if t.grad_fn is not None:
            node.meta["outer_history"] = True  # gradients must not stop here
        if t._rg:
            self._note_grad(t)
        return node

    def _state_slot(self, t: Tensor, history_ok: bool = False) -> int:
        k = self.state_index.get(id(t))
        if k is not None:
            ref = self.graph.state[k]
            if (ref._weak() if ref._weak is not None else ref.tensor) is t:
                return k  # else the id belonged to a tensor that has died since
        if t.grad_fn is not None and _state.grad_enabled and not history_ok:
            raise TraceUnsupported(
                f"a tensor with autograd history made outside the function ({t.grad_fn.name()}) "
                f"is used inside it (at {user_site()}); pass it as an argument or detach it")
        name = (self.state_names.get(id(t)) or self.state_names.get(id(t._data))
                or f"state{len(self.graph.state)}")
        ref = StateRef(None, name)
        ref._weak = weakref.ref(t)
        if type(t._data) is xp.ndarray:
            ref._weak_arr = weakref.ref(t._data)
        ref._snapshot = t._data.copy()
        k = self.state_index[id(t)] = len(self.graph.state)
        self.graph.state.append(ref)
        return k

    def _guard_value(self, node: Node, what: str, expected, site: str) -> None:
        self.graph.add("guard", None, (node,), {"what": what, "expected": expected,
                                                "site": site})

    def _guard_shape(self, node: Node, t: Tensor) -> None:
        """A data-dependent output shape: later code may have baked it in."""
        self.graph.add("guard", None, (node,), {"what": "shape",
                                                "expected": tuple(t._data.shape),
                                                "site": user_site()})

    def _effect_args(self, x):
        if isinstance(x, Tensor):
            if id(x) in self.state_index or id(x) not in self.tmap:
                return x
            return self.tmap[id(x)][1]
        if type(x) in (tuple, list):
            return type(x)(self._effect_args(v) for v in x)
        if type(x) is dict:
            return {k: self._effect_args(v) for k, v in x.items()}
        return x

    # ---- the end of a trace ----------------------------------------------------------
    def finish(self) -> None:
        """Decide which reached tensors are live state and which were temporaries."""
        for v in self.items:
            v._tracer = None
        for ref in self.graph.state:
            t = ref._weak()
            if t is not None:
                ref.tensor = t
            else:
                # the tensor was a wrapper (e.g. ``buffer.detach()``) around memory that
                # lives on: read that memory
                arr = ref._weak_arr() if ref._weak_arr is not None else None
                if arr is not None:
                    ref.tensor = Tensor._make(arr)
            ref._weak = ref._weak_arr = None
        dead = {i for i, ref in enumerate(self.graph.state) if ref.tensor is None}
        if dead:
            for n in self.graph.nodes:
                if n.kind == "state" and n.target in dead:
                    if n.kwargs.get("attr") == "grad":
                        raise TraceUnsupported("a gradient read inside the function belongs "
                                               "to a tensor that did not outlive the call")
                    key = f"c{self._consts}"
                    self._consts += 1
                    self.graph.constants[key] = self.graph.state[n.target]._snapshot
                    n.kind, n.target, n.kwargs = "constant", key, {}
                elif n.kind == "grad_acc" and n.target in dead:
                    raise TraceUnsupported("backward accumulated into a tensor that did not "
                                           "outlive the call")
            keep = [i for i in range(len(self.graph.state)) if i not in dead]
            remap = {old: new for new, old in enumerate(keep)}
            self.graph.state = [self.graph.state[i] for i in keep]
            for n in self.graph.nodes:
                if n.kind in ("state", "grad_acc"):
                    n.target = remap[n.target]
                if n.kind == "write" and "bump" in n.kwargs:
                    b = n.kwargs["bump"]
                    if b in dead:
                        del n.kwargs["bump"]
                    else:
                        n.kwargs["bump"] = remap[b]
        for ref in self.graph.state:
            ref._snapshot = None
        for n in self.graph.nodes:
            for k in _TRACE_ONLY_META:
                n.meta.pop(k, None)
        self.tmap.clear()
        self.amap.clear()


#: node meta that only the trace needs: dropped at its end (the ctx holds saved arrays)
_TRACE_ONLY_META = ("tensor", "ctx", "saved_map", "selects")


def _keep_ctx(node: Node, out, inputs: tuple) -> None:
    """Remember the eager ctx of a recorded call and, where its backward formula can be
    recorded as table ops (``autodiff.expandable``), where each saved value comes from:
    ``("in", i)`` (input i itself), ``("out", k)`` or ``("const", None)`` (a non-array
    value). An array saved from elsewhere leaves no ``saved_map``."""
    outs = out if type(out) is tuple else (out,)
    ctx = next((t.grad_fn for t in outs if isinstance(t, Tensor) and t.grad_fn is not None),
               None)
    if not isinstance(ctx, OpNode):
        return
    node.meta["ctx"] = ctx
    saved, meta = ctx._saved or (), ctx._saved_meta or ()
    if len(meta) != len(saved):
        return
    where = []
    for v, (kind, ref, _, _) in zip(saved, meta):
        if kind == _engine.INPUT:
            i = next((i for i, x in enumerate(inputs) if x is ref), None)
            if i is None:  # e.g. a promoted copy of the input
                return
            where.append(("in", i))
        elif kind == _engine.OUTPUT:
            where.append(("out", ref))
        elif isinstance(v, (xp.ndarray, xp.generic, Tensor)):
            return
        else:
            where.append(("const", None))
    from .autodiff import expandable
    if expandable(node, ctx, where):
        node.meta["saved_map"] = tuple(where)


def _set_grad_none(*refs) -> None:
    for ref in refs:
        ref.tensor.grad = None


def _forget(tmap: dict, key: int, node: Node) -> None:
    hit = tmap.get(key)
    if hit is not None and hit[1] is node:
        del tmap[key]


def _meta(t) -> tuple:
    arr = t._data
    return tuple(arr.shape), _dtype_name(arr)


def _is_iterator(x) -> bool:
    return hasattr(x, "__next__") and hasattr(x, "__iter__")


_PARAM_OK = (int, float, str, bool, type(None), slice, type(Ellipsis), dtypes.DType)


def _check_params(op, params: dict) -> None:
    for k, v in params.items():
        if op.name == "tap" and k == "fn":  # ember.debug.tap: the callback runs at each call
            continue
        if not _param_ok(v):
            raise TraceUnsupported(f"op {op.name!r} got parameter {k}={type(v).__name__}, which "
                                   "a graph cannot hold")


def _param_ok(v) -> bool:
    if isinstance(v, _PARAM_OK):
        return not (isinstance(v, float) and isinstance(v, ItemValue))
    if type(v) in (tuple, list):
        return all(_param_ok(x) for x in v)
    if isinstance(v, xp.dtype):
        return True
    return getattr(v, "_jit_param", False) or type(v).__name__ == "Generator"

