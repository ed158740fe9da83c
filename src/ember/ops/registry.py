"""The op table and op dispatch.

An op is one class holding its forward and backward side by side::

    @register
    class Mul(Op):
        name = "mul"
        promote = "same"

        @staticmethod
        def forward(ctx, a, b):
            ctx.save_for_backward(a, b)
            return a * b

        @staticmethod
        def backward(ctx, F, g):
            a, b = ctx.saved_tensors
            return g * b, g * a

``forward`` receives backend arrays (and Python scalars) and returns an array or a
tuple of arrays. ``backward`` receives the output gradients and a namespace ``F``;
it must compute only with operators and ``F.<op name>(...)`` so that one formula
serves both passes: in first-order backward ``F`` runs the table ops' forwards on
raw arrays (fast), with ``create_graph=True`` it applies the table ops to Tensors
(recorded, so differentiable again). Values saved in forward that are neither an
input nor an output are treated as constants by higher-order gradients, so a
formula that needs a differentiable intermediate recomputes it from the inputs.

Gradients of broadcast inputs are summed back by the engine, so formulas may
return gradients in the broadcast shape.

The JIT records a backward formula as table ops (once, while tracing) when the ctx holds
only inputs, outputs and plain attributes; so an attribute that depends on input *values*
must be a bool, a float or an array (``ctx.has_zero = bool((x == 0).any())``), never an
int, a string or a tuple of ints, which are taken as fixed by shapes and arguments.

Dispatch: when a mode is pushed on ``_state.modes`` (the JIT's tracer), every op
call goes to that mode instead of running here.
"""

from __future__ import annotations

import re

from .. import dtypes
from ..autograd import engine as _engine
from ..autograd.engine import CONST, INPUT, OUTPUT, Node, OpNode, saved_box
from ..autograd.grad_mode import _state
from ..backend import xp
from ..tensor import Tensor

__all__ = ["Op", "OPS", "register", "ARRAY_NS", "TENSOR_NS", "apply_inplace", "install_methods"]

OPS: dict[str, type[Op]] = {}
ndarray = xp.ndarray


class Op:
    """Base class of table ops; see the module docstring for the contract."""

    name: str = ""
    #: dtype promotion of array inputs: None (as given), "same" (torch's result_type),
    #: "float" (result_type, then integers and bools become the default float dtype)
    promote: str | None = None
    #: outputs share memory with input 0 (views share its version counter)
    view = False
    differentiable = True
    #: indices of outputs that never carry gradients (e.g. argmax indices)
    nondiff_outputs: tuple = ()
    backward_name = ""

    #: the class of this op's graph nodes, e.g. ``MulBackward0`` (made by ``register``)
    node_class: type = OpNode

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        cls.backward_name = cls.__name__ + "Backward0"
        cls.node_class = type(cls.backward_name, (OpNode,), {"op": cls, "__slots__": ()})

    @staticmethod
    def forward(ctx, *args, **params):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, F, *grads):
        raise RuntimeError("derivative not implemented")

    @classmethod
    def apply(cls, *inputs, **params):
        if _state.modes:
            return _state.modes[-1].dispatch(cls, inputs, params)
        return eager(cls, inputs, params)


def dispatch(op: type[Op], inputs: tuple, params: dict):
    """``op.apply(*inputs, **params)`` without the argument packing (for hot callers)."""
    if _state.modes:
        return _state.modes[-1].dispatch(op, inputs, params)
    return eager(op, inputs, params)


def register(cls: type[Op]) -> type[Op]:
    """Add an op class to the table under ``cls.name``."""
    if not cls.name:
        cls.name = re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()
    if cls.name in OPS:
        raise ValueError(f"op {cls.name!r} registered twice ({OPS[cls.name]} and {cls})")
    OPS[cls.name] = cls
    return cls


class _NoGrads(tuple):
    """``needs_input_grad`` of an unrecorded call: False for every input."""

    def __getitem__(self, i):
        return False


class _NullCtx:
    """The ctx of a forward that is not recorded: saving is a no-op."""

    __slots__ = ()
    recording = False
    needs_input_grad = _NoGrads()

    def save_for_backward(self, *values) -> None:
        pass

    def __setattr__(self, name, value) -> None:
        pass


NULL_CTX = _NullCtx()

_CAT = {xp.dtype(d): c for d, c in ((xp.bool_, 0), (xp.int8, 1), (xp.int16, 1), (xp.int32, 1),
                                    (xp.int64, 1), (xp.uint8, 1), (xp.float16, 2),
                                    (xp.float32, 2), (xp.float64, 2))}


_promo_cache: dict = {}


def _cast_target(kind: str, arrays):
    """The dtype inputs must be cast to, or None when every array already has it."""
    key = (kind, dtypes.get_default_dtype(),
           *[(a.dtype, a.ndim == 0) if type(a) is ndarray else type(a) for a in arrays])
    try:
        return _promo_cache[key]
    except KeyError:
        pass
    dt = _result_np_dtype(kind, arrays)
    r = None if all(a.dtype == dt for a in arrays if type(a) is ndarray) else dt
    _promo_cache[key] = r
    return r


def _result_np_dtype(kind: str, arrays):
    """torch's result dtype (a NumPy dtype) for the array and scalar inputs."""
    dt = None
    uniform = True
    scalar_cat = -1
    for a in arrays:
        if type(a) is ndarray:
            if dt is None:
                dt = a.dtype
            elif a.dtype != dt:
                uniform = False
        elif a is not None:
            c = dtypes.scalar_category(a)
            if c > scalar_cat:
                scalar_cat = c
    if uniform and dt is not None:
        cat = _CAT.get(dt)
        if cat is None:
            dt = dtypes.from_np(dt).np  # raises for unsupported dtypes
            cat = _CAT[dt]
        if scalar_cat > cat:
            dt = (xp.dtype(xp.bool_) if scalar_cat == 0 else xp.dtype(xp.int64) if scalar_cat == 1
                  else dtypes.get_default_dtype().np)
    else:
        dims = tuple(a.dtype for a in arrays if type(a) is ndarray and a.ndim)
        zeros = tuple(a.dtype for a in arrays if type(a) is ndarray and not a.ndim)
        dt = dtypes.promote_arrays(dims, zeros, scalar_cat).np
    if kind == "float" and dt.kind != "f":
        dt = dtypes.get_default_dtype().np
    return dt


def _promote_arrays(kind: str, arrays: list) -> list:
    dt = _cast_target(kind, arrays)
    if dt is None:
        return arrays
    return [a.astype(dt) if type(a) is ndarray and a.dtype != dt else a for a in arrays]


def _promote_tensors(kind: str, inputs: tuple, arrays: list) -> tuple:
    """Promotion while recording: casts are ops too, so gradients flow back to the input dtype."""
    dt = _cast_target(kind, arrays)
    if dt is None:
        return inputs
    out = []
    for x in inputs:
        if isinstance(x, Tensor) and x._data.dtype != dt:
            x = OPS["cast"].apply(x, dtype=dtypes.from_np(dt))
        out.append(x)
    return tuple(out)


def _no_cast_needed(arrays) -> bool:
    """The common case: float arrays of one dtype with Python int/float scalars."""
    a0 = arrays[0]
    if type(a0) is not ndarray:
        return False
    d = a0.dtype
    if d.kind != "f":
        return False
    for a in arrays:
        t = type(a)
        if t is ndarray:
            if a.dtype is not d:
                return False
        elif t is not float and t is not int:
            return False
    return True


def eager(op: type[Op], inputs: tuple, params: dict):
    """Run ``op`` now: forward on arrays, and record a node if any input needs grad.

    This is the hot path of every recorded op, so the common case (tensors of one float
    dtype, Python int/float scalars, no stale views) is one pass over the inputs;
    anything else goes through ``_eager_general``.
    """
    if not (_state.grad_enabled and op.differentiable):
        return _eager_general(op, inputs, params)
    arrays, edges, meta = [], [], []
    record = False
    uniform = True
    dt = None
    for x in inputs:
        if isinstance(x, Tensor):
            if x._base is not None and x._vbox[0] != x._view_version:
                return _eager_general(op, inputs, params)
            d = x._data
            arrays.append(d)
            if dt is None:
                dt = d.dtype
            elif d.dtype is not dt:
                uniform = False
            if x._rg:
                record = True
                fn = x.grad_fn
                edges.append((fn, x._output_nr) if fn is not None else (x, 0))
                meta.append((d.shape, d.dtype))
                continue
        else:
            tx = type(x)
            if tx is not float and tx is not int:
                if isinstance(x, xp.generic):
                    return _eager_general(op, inputs, params)
                uniform = False
            arrays.append(x)
        edges.append(None)
        meta.append(None)
    if not record or op.promote is not None and not (uniform and dt is not None
                                                     and dt.kind == "f"):
        return _eager_general(op, inputs, params)
    node = op.node_class()
    node.next_edges = tuple(edges)
    node.in_meta = tuple(meta)
    try:
        out = op.forward(node, *arrays, **params)
    except Exception as e:
        raise _op_error(op, inputs, e) from None
    if type(out) is tuple or _state.anomaly:
        return _finish_record(op, node, inputs, arrays, params, out)
    return _link_output(op, node, inputs, arrays, params, out)


def record_binary(op: type[Op], x: Tensor, y, a, b):
    """``eager`` for an operator whose caller checked the common case: no mode, grad
    enabled, ``x`` a tensor and ``y`` a tensor of x's float dtype or a Python number,
    neither a view (so neither can be stale)."""
    node = op.node_class()
    if x._rg:
        fn = x.grad_fn
        e0 = (fn, x._output_nr) if fn is not None else (x, 0)
        m0 = (a.shape, a.dtype)
    else:
        e0 = m0 = None
    if isinstance(y, Tensor) and y._rg:
        fn = y.grad_fn
        e1 = (fn, y._output_nr) if fn is not None else (y, 0)
        m1 = (b.shape, b.dtype)
    else:
        e1 = m1 = None
    node.next_edges = (e0, e1)
    node.in_meta = (m0, m1)
    try:
        out = op.forward(node, a, b)
    except Exception as e:
        raise _op_error(op, (x, y), e) from None
    if _state.anomaly:
        return _finish_record(op, node, (x, y), (a, b), {}, out)
    return _link_output(op, node, (x, y), (a, b), None, out)


def _link_output(op, node, inputs, arrays, params, out):
    """Wrap a recorded single output, link it to ``node`` and resolve the saved values."""
    arr = out if type(out) is ndarray else xp.asarray(out)
    t = Tensor._make(arr)
    if arr.dtype.kind == "f":
        t.grad_fn = node
        t._rg = True
    if op.view:
        _mark_views(op, inputs[0], (t,), params)
    saved = node._saved
    if saved is not None:
        meta = []
        for v in saved:
            if v is arr or v is out:
                if v is not arr:  # a 0-d result NumPy returned as a scalar
                    return _resolve_saved(node, inputs, arrays, (out,), (arr,), (t,)) or t
                meta.append((OUTPUT, 0, saved_box(t), 0))
                continue
            if type(v) is ndarray:
                for x, a in zip(inputs, arrays):
                    if v is a and isinstance(x, Tensor):
                        box = saved_box(x)
                        meta.append((INPUT, x, box, box[0]))
                        break
                else:
                    meta.append(_CONST)
                continue
            meta.append(_CONST)
        node._saved_meta = meta
        node._epoch = _state.inplace_epoch
    return t


_CONST = (CONST, None, None, 0)


def _eager_general(op: type[Op], inputs: tuple, params: dict):
    """``eager`` for every case: promotion, NumPy scalars, stale views, no recording."""
    arrays = []
    need_grad = False
    for x in inputs:
        if isinstance(x, Tensor):
            if x._base is not None and x._vbox[0] != x._view_version and _state.grad_enabled:
                _refresh_view(x)
            arrays.append(x._data)
            if x._rg:
                need_grad = True
        elif isinstance(x, xp.generic):
            # NumPy scalars promote like Python scalars, as in torch
            inputs = tuple(v.item() if isinstance(v, xp.generic) else v for v in inputs)
            arrays.append(x.item())
        else:
            arrays.append(x)
    if not (need_grad and _state.grad_enabled and op.differentiable):
        if op.promote is not None and not _no_cast_needed(arrays):
            arrays = _promote_arrays(op.promote, arrays)
        try:
            out = op.forward(NULL_CTX, *arrays, **params)
        except OverflowError:
            out = _forward_wrapping_ints(op, inputs, arrays, params)
        except Exception as e:
            raise _op_error(op, inputs, e) from None
        return _wrap_plain(op, out, inputs, params if _state.grad_enabled else None)
    if op.promote is not None and not _no_cast_needed(arrays):
        promoted = _promote_tensors(op.promote, inputs, arrays)
        if promoted is not inputs:
            inputs = promoted
            arrays = [x._data if isinstance(x, Tensor) else x for x in inputs]
    node = op.node_class()
    edges, meta = [], []
    for x in inputs:
        if isinstance(x, Tensor) and x._rg:
            fn = x.grad_fn
            edges.append((fn, x._output_nr) if fn is not None else (x, 0))
            d = x._data
            meta.append((d.shape, d.dtype))
        else:
            edges.append(None)
            meta.append(None)
    node.next_edges = tuple(edges)
    node.in_meta = tuple(meta)
    try:
        out = op.forward(node, *arrays, **params)
    except Exception as e:
        raise _op_error(op, inputs, e) from None
    return _finish_record(op, node, inputs, arrays, params, out)


def _finish_record(op, node, inputs, arrays, params, out):
    """Wrap a recorded forward's outputs, link them to ``node`` and resolve saved values."""
    if _state.anomaly:
        from ..autograd.anomaly import record_forward_site
        record_forward_site(node)
    if type(out) is not tuple:
        arr = out if type(out) is ndarray else xp.asarray(out)
        t = Tensor._make(arr)
        if arr.dtype.kind == "f":
            t.grad_fn = node
            t._rg = True
        if op.view:
            _mark_views(op, inputs[0], (t,), params)
        if node._saved is not None:
            _resolve_saved(node, inputs, arrays, (out,), (arr,), (t,))
        return t
    outs = tuple(o if type(o) is ndarray else xp.asarray(o) for o in out)
    tensors = []
    for k, arr in enumerate(outs):
        t = Tensor._make(arr)
        if arr.dtype.kind == "f" and k not in op.nondiff_outputs:
            t.grad_fn, t._output_nr, t._rg = node, k, True
        tensors.append(t)
    if op.view:
        _mark_views(op, inputs[0], tensors, params)
    node._special = True
    node.n_outputs = len(outs)
    node.out_meta = tuple((a.shape, a.dtype) for a in outs)
    if node._saved is not None:
        _resolve_saved(node, inputs, arrays, out, outs, tensors)
    return tuple(tensors)


def _forward_wrapping_ints(op, inputs, arrays, params):
    """Python ints out of an integer dtype's range wrap around, as in torch (uint8 * -2)."""
    dt = next((a.dtype for a in arrays if type(a) is ndarray and a.dtype.kind in "iu"), None)
    if dt is None:
        raise OverflowError("int too big to convert")
    try:
        arrays = [xp.asarray(a).astype(dt) if type(a) is int else a for a in arrays]
    except OverflowError:
        raise OverflowError("int too big to convert") from None
    try:
        return op.forward(NULL_CTX, *arrays, **params)
    except Exception as e:
        raise _op_error(op, inputs, e) from None


def _wrap_plain(op, out, inputs, params=None):
    # views made with grad mode on keep their replay chain even when nothing requires grad,
    # so a later in-place write of a value that requires grad reaches the base (as in torch)
    if type(out) is tuple:
        ts = tuple(Tensor._make(o if type(o) is ndarray else xp.asarray(o)) for o in out)
        if op.view:
            _mark_views(op, inputs[0], ts, params)
        return ts
    t = Tensor._make(out if type(out) is ndarray else xp.asarray(out))
    if op.view:
        _mark_views(op, inputs[0], (t,), params)
    if _state.inference:
        t._is_inference = True
    return t


def _mark_views(op, src: Tensor, outs, params) -> None:
    """Views share their base's version counter (and remember how to re-make the view)."""
    box = src._vbox
    if box is None:
        box = src._vbox = [0]
    base = src._base if src._base is not None else src
    # a view of a view made without a chain (in no_grad mode) cannot be replayed from the base
    chain = src._view_chain + ((op, params),) if params is not None and (
        src._base is None or src._view_chain) else None
    for k, t in enumerate(outs):
        if xp.may_share_memory(t._data, src._data):
            t._vbox = box
            t._base = base
            t._view_version = box[0]
            if chain is not None:
                t._view_chain = chain if len(outs) == 1 else chain[:-1] + ((op, params, k),)


def _refresh_view(view: Tensor) -> None:
    """The base was written in place since this view was made (through another view or
    itself): re-make the view's history from the base's, as torch regenerates a view's
    grad_fn."""
    view._view_version = view._vbox[0]
    base = view._base
    if not view._view_chain or not base._rg:
        return
    fresh = apply_view_chain(base, view._view_chain, True)
    if fresh.grad_fn is not None:
        view.grad_fn, view._output_nr, view._rg = fresh.grad_fn, fresh._output_nr, True


def _resolve_saved(node: OpNode, inputs, arrays, raw_outs, outs, tensors) -> None:
    """Map each saved value to an input, an output or a constant, with its version."""
    meta = []
    saved = list(node._saved)
    for j, s in enumerate(saved):
        entry = None
        if type(s) is not ndarray:
            for k, o in enumerate(raw_outs):
                if s is o and o is not outs[k]:  # a 0-d result NumPy returned as a scalar
                    s = saved[j] = outs[k]
        if type(s) is ndarray:
            for i, a in enumerate(arrays):
                if s is a and isinstance(inputs[i], Tensor):
                    x = inputs[i]
                    box = saved_box(x)
                    entry = (INPUT, x, box, box[0])
                    break
            else:
                for k, o in enumerate(outs):
                    if s is o:
                        box = saved_box(tensors[k])
                        entry = (OUTPUT, k, box, box[0])
                        break
        meta.append(entry or (CONST, None, None, 0))
    node._saved = tuple(saved)
    node._saved_meta = tuple(meta)
    node._epoch = _state.inplace_epoch


def _op_error(op, inputs, e: Exception) -> Exception:
    """Re-raise a backend error as torch's exception type, naming the op and the inputs."""
    from ..errors import op_error
    return op_error(op.name, inputs, e)


def apply_inplace(op: type[Op], target: Tensor, *others, **params) -> Tensor:
    """Run ``op`` out of place and write the result into ``target``'s memory.

    The target keeps its identity and storage (so views and NumPy arrays sharing it
    see the change), its version counter is bumped, and its history is rebased on
    the op's node, as torch does.
    """
    if _state.modes:
        return _state.modes[-1].dispatch_inplace(op, target, others, params)
    if _state.grad_enabled:
        if target._rg and target.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place "
                               "operation.")
        base = target._base
        if base is not None and base._rg and base.grad_fn is None:
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an "
                               "in-place operation.")
        chain = target._view_chain
        if chain and len(chain[-1]) == 3 and target._rg:
            raise RuntimeError(f"Output {chain[-1][2]} of {chain[-1][0].__name__} is a view and "
                               "is being modified inplace. This view is the output of a function "
                               "that returns multiple views. Such functions do not allow the "
                               "output views to be modified inplace. You should replace the "
                               "inplace operation by an out-of-place one.")
    out = op.apply(target, *others, **params)
    arr = out._data
    tgt = target._data
    if arr.dtype != tgt.dtype and _CAT[arr.dtype] > _CAT[tgt.dtype]:
        raise RuntimeError(f"result type {_type_word(arr.dtype)} can't be cast to the desired "
                           f"output type {_type_word(tgt.dtype)}")
    if arr.shape != tgt.shape:
        raise RuntimeError(f"output with shape {list(tgt.shape)} doesn't match the broadcast "
                           f"shape {list(arr.shape)}")
    node = out.grad_fn
    if node is not None and isinstance(node, OpNode) and node._saved_meta:
        _snapshot_saved_target(node, target)
    xp.copyto(tgt, arr, casting="unsafe")
    target._bump_version()
    if target._base is not None:
        target._view_version = target._vbox[0]
    if node is not None:
        if target._base is not None and target._view_chain:
            _rebase_base(target, node, out._output_nr)
        target.grad_fn, target._output_nr, target._rg = node, out._output_nr, True
    return target


def _type_word(dt) -> str:
    return {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}[dt.kind]


def _snapshot_saved_target(node: OpNode, target: Tensor) -> None:
    """The op saved the target's old value, which is about to be overwritten: keep a copy."""
    meta = list(node._saved_meta)
    saved = list(node._saved)
    for j, (kind, ref, _box, _v) in enumerate(meta):
        if kind == INPUT and ref is target:
            snap = Tensor._make(saved[j].copy())
            snap.grad_fn, snap._output_nr, snap._rg = target.grad_fn, target._output_nr, target._rg
            saved[j] = snap._data
            meta[j] = (INPUT, snap, None, 0)
    node._saved, node._saved_meta = tuple(saved), tuple(meta)


def apply_view_chain(arr_or_tensor, chain, tensors: bool):
    """Re-make a view from its base by replaying the view ops (on arrays or Tensors)."""
    x = arr_or_tensor
    for step in chain:
        op, params = step[0], step[1] or {}
        x = op.apply(x, **params) if tensors else op.forward(NULL_CTX, x, **params)
        if len(step) == 3:
            x = x[step[2]]
    return x


class CopySlices(Node):
    """The base's new history after an in-place write through one of its views."""

    def __init__(self, base: Tensor, chain, view_edge) -> None:
        self.chain = chain
        self.next_edges = (((base.grad_fn, base._output_nr) if base.grad_fn is not None
                            else (base, 0)) if base._rg else None, view_edge)
        self.in_meta = ((base._data.shape, base._data.dtype), None)
        self.base_shape, self.base_dtype = base._data.shape, base._data.dtype

    def _apply(self, grads, create_graph):
        g = grads[0]
        if not create_graph:
            gb = g.copy()
            apply_view_chain(gb, self.chain, False)[...] = 0
            return gb, apply_view_chain(g, self.chain, False).copy()
        mask = xp.ones(self.base_shape, self.base_dtype)
        apply_view_chain(mask, self.chain, False)[...] = 0
        return g * Tensor._make(mask), apply_view_chain(g, self.chain, True)


def _rebase_base(view: Tensor, node, output_nr: int) -> None:
    base = view._base
    base.grad_fn = CopySlices(base, view._view_chain, (node, output_nr))
    base._output_nr, base._rg = 0, True


class _Namespace:
    """``F`` for backward formulas: table ops by name, on arrays or on Tensors."""

    def __init__(self, tensors: bool) -> None:
        self._tensors = tensors

    def __getattr__(self, name: str):
        try:
            op = OPS[name]
        except KeyError:
            raise AttributeError(f"no op named {name!r} in the op table") from None
        if self._tensors:
            fn = op.apply
        else:
            fwd = op.forward

            def fn(*args, **params):
                out = fwd(NULL_CTX, *args, **params)
                return out if type(out) is not tuple or len(out) != 1 else out[0]
        setattr(self, name, fn)
        return fn


ARRAY_NS = _Namespace(tensors=False)
TENSOR_NS = _Namespace(tensors=True)
_engine._NS.update({False: ARRAY_NS, True: TENSOR_NS, "Tensor": Tensor})


def install_methods(methods: dict) -> None:
    """Attach functions to Tensor as methods (done by each op module at import)."""
    for name, fn in methods.items():
        setattr(Tensor, name, fn)
