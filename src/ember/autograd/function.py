"""Custom differentiable functions: ``ember.autograd.Function``.

Subclass :class:`Function` with static ``forward`` and ``backward`` methods and call
``MyFn.apply(*args)``. ``forward`` runs with gradient recording off and sees the real
Tensors; the outputs get a ``MyFnBackward`` node as ``grad_fn``, which is also the
``ctx`` both methods receive. ``backward`` gets one gradient Tensor per output and
returns one gradient (or None) per positional input of ``apply``. With
``create_graph=True`` the user's backward is recorded like any other code, so it can
be differentiated again when it is written with differentiable ops.

Example:
    >>> import ember
    >>> class Cube(ember.autograd.Function):
    ...     @staticmethod
    ...     def forward(ctx, x):
    ...         ctx.save_for_backward(x)
    ...         return x ** 3
    ...     @staticmethod
    ...     def backward(ctx, g):
    ...         (x,) = ctx.saved_tensors
    ...         return 3 * x ** 2 * g
    >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> y = Cube.apply(x); y
    tensor([1., 8.], grad_fn=<CubeBackward>)
    >>> y.sum().backward(); x.grad
    tensor([ 3., 12.])
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ..backend import xp
from .engine import FREED_MSG, Node, _describe, inplace_site, saved_box
from .grad_mode import _state, mode_hook

__all__ = ["Function", "FunctionCtx", "FunctionNode", "once_differentiable"]


class FunctionCtx:
    """The ``ctx`` API of custom functions (the node itself, as in torch)."""

    _to_save: tuple | None = None
    _saved_versions: tuple = ()
    _non_differentiable: tuple = ()
    _dirty: tuple = ()
    materialize_grads = True
    needs_input_grad: tuple = ()

    def save_for_backward(self, *tensors) -> None:
        """Keep Tensors (or None) for ``backward``; read them back with ``saved_tensors``."""
        from ..tensor import Tensor
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError("save_for_backward can only save variables, but argument "
                                f"{tensors.index(t)} is of type {type(t).__name__}")
        self._to_save = tensors

    def mark_non_differentiable(self, *tensors) -> None:
        """Mark outputs that never get gradients (e.g. indices)."""
        self._non_differentiable = tuple(tensors)

    def mark_dirty(self, *tensors) -> None:
        """Declare inputs that ``forward`` modified in place (they must be returned)."""
        self._dirty = tuple(tensors)

    def set_materialize_grads(self, value: bool) -> None:
        """With False, ``backward`` receives None (not zeros) for outputs without gradient."""
        self.materialize_grads = bool(value)

    @property
    def saved_tensors(self) -> tuple:
        if self._freed:
            raise RuntimeError(FREED_MSG)
        if self._to_save is None:
            return ()
        for t, (version, is_output, nr) in zip(self._to_save, self._saved_versions,
                                               strict=False):
            if t is not None and t._version != version:
                # as torch: a saved output names this node, a saved input its current history
                fn, nr = (self, nr) if is_output else (t.grad_fn, t._output_nr)
                where = "" if fn is None else f", which is output {nr} of {fn.name()},"
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by "
                    f"an inplace operation: {_describe(t._data)}{where} is at version "
                    f"{t._version}; expected version {version} instead.{inplace_site(t._vbox)} "
                    "Hint: enable anomaly detection to find the operation that failed to "
                    "compute its gradient, with ember.autograd.set_detect_anomaly(True).")
        return self._to_save

    saved_variables = saved_tensors


class FunctionNode(FunctionCtx, Node):
    """The ``grad_fn`` of a custom Function's outputs, and the ``ctx`` of its methods."""

    _fn_cls: Any = None
    _n_args = 0
    _is_tensor_arg: tuple = ()
    _engine_materializes = False

    def __init__(self, fn_cls) -> None:
        self._fn_cls = fn_cls

    def name(self) -> str:
        return self._fn_cls.__name__ + "Backward"

    def _release(self) -> None:
        if self._to_save is not None:
            self._to_save = None
            self._freed = True

    def _apply(self, grads, create_graph: bool):
        from ..tensor import Tensor
        gts = []
        for k, g in enumerate(grads):
            if g is None and self.materialize_grads and self.out_meta[k] is not None:
                g = xp.zeros(*self.out_meta[k])
            if g is not None and not isinstance(g, Tensor):
                g = Tensor._make(g)
            gts.append(g)
        result = self._fn_cls.backward(self, *gts)
        if not isinstance(result, tuple):
            result = (result,)
        n = self._n_args
        name = self.name()
        if len(result) != n:
            if len(result) > n and all(r is None for r in result[n:]):
                result = result[:n]
            else:
                raise RuntimeError(f"function {name} returned an incorrect number of gradients "
                                   f"(expected {n}, got {len(result)})")
        out = []
        for i, r in enumerate(result):
            if r is None:
                out.append(None)
                continue
            if not isinstance(r, Tensor):
                raise RuntimeError(f"expected Variable or None (got {type(r).__name__})")
            if self._is_tensor_arg[i] is False:
                raise RuntimeError(f"function {name} returned a gradient different than None at "
                                   f"position {i + 1}, but the corresponding forward input was "
                                   "not a Variable")
            if self.next_edges[i] is None:
                out.append(None)
                continue
            out.append(r if create_graph else r._data)
        return tuple(out)


class _DelayedErrorNode(Node):
    """Stands behind gradients computed by a ``once_differentiable`` backward."""

    def __init__(self, msg: str, edges: tuple, meta: tuple) -> None:
        self.msg = msg
        self.next_edges = edges
        self.in_meta = meta

    def name(self) -> str:
        return "ember::autograd::Error"

    def _apply(self, grads, create_graph: bool):
        raise RuntimeError(self.msg)


def once_differentiable(fn: Callable) -> Callable:
    """Decorate a ``backward`` that is not itself differentiable.

    Its gradients are computed without recording; differentiating them again raises
    ``RuntimeError("trying to differentiate twice a function that was marked with
    @once_differentiable")``.

    Example:
        >>> import ember
        >>> from ember.autograd import Function, once_differentiable
        >>> class Double(Function):
        ...     @staticmethod
        ...     def forward(ctx, x):
        ...         return x * 2
        ...     @staticmethod
        ...     @once_differentiable
        ...     def backward(ctx, g):
        ...         return g * 2
        >>> x = ember.ones(2, requires_grad=True)
        >>> ember.autograd.grad(Double.apply(x).sum(), x)
        (tensor([2., 2.]),)
    """
    @functools.wraps(fn)
    def wrapper(ctx, *args):
        from ..tensor import Tensor
        from .grad_mode import no_grad
        with no_grad():
            outputs = fn(ctx, *args)
        if not _state.grad_enabled:
            return outputs
        needs = [a for a in args if isinstance(a, Tensor) and a._rg]
        if not needs:
            return outputs
        edges = tuple((a.grad_fn, a._output_nr) if a.grad_fn is not None else (a, 0)
                      for a in needs)
        meta = tuple((a._data.shape, a._data.dtype) for a in needs)
        node = _DelayedErrorNode("trying to differentiate twice a function that was marked "
                                 "with @once_differentiable", edges, meta)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        wrapped = []
        for o in outs:
            if isinstance(o, Tensor) and o._data.dtype.kind == "f":
                t = Tensor._make(o._data)
                t.grad_fn, t._rg = node, True
                o = t
            wrapped.append(o)
        return wrapped[0] if single else tuple(wrapped)
    return wrapper


def _uses_setup_context(cls) -> bool:
    return cls.setup_context is not Function.setup_context


class Function:
    """Base class of custom autograd functions; see the module docstring.

    Two styles are supported, as in torch: ``forward(ctx, *args)``, or ``forward(*args)``
    together with ``setup_context(ctx, inputs, output)``.
    """

    @staticmethod
    def forward(*args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom "
                                  "autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs: tuple, output) -> None:
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for "
                                  "your custom autograd.Function to use it with backward mode "
                                  "AD.")

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom "
                                  "autograd.Function to use it with forward mode AD.")

    vjp = backward

    def __call__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is "
                           "deprecated. Please use new-style autograd function with static "
                           "forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Run ``forward`` without recording and connect the outputs to ``backward``."""
        from ..tensor import Tensor
        from .grad_mode import no_grad
        is_tensor = tuple(isinstance(a, Tensor) for a in args)
        needs = tuple(t and a._rg for t, a in zip(is_tensor, args, strict=True))
        recording = _state.grad_enabled and any(needs)
        if recording and _state.modes:
            hook = mode_hook("custom_function")
            if hook is not None:  # the JIT cannot record a Python backward
                hook(cls)
        node = FunctionNode(cls)
        node.needs_input_grad = needs
        node._n_args = len(args)
        node._is_tensor_arg = is_tensor
        if recording:
            node.next_edges = tuple(
                ((a.grad_fn, a._output_nr) if a.grad_fn is not None else (a, 0)) if n else None
                for a, n in zip(args, needs, strict=True))
            node.in_meta = tuple((a._data.shape, a._data.dtype) if n else None
                                 for a, n in zip(args, needs, strict=True))
        with no_grad():
            if _uses_setup_context(cls):
                output = cls.forward(*args, **kwargs)
                cls.setup_context(node, args, output)
            else:
                output = cls.forward(node, *args, **kwargs)
        single = not isinstance(output, tuple)
        outs = (output,) if single else output
        dirty_ids = {id(t) for t in node._dirty}
        if node._dirty:
            _check_dirty(node, outs, needs, recording)
        if not recording:
            _finish_saved(node)
            return output
        nondiff = {id(t) for t in node._non_differentiable}
        input_ids = {id(a) for a, t in zip(args, is_tensor, strict=True) if t}
        results = []
        for k, o in enumerate(outs):
            if not isinstance(o, Tensor):
                results.append(o)
                continue
            if id(o) in input_ids and id(o) not in dirty_ids:
                # an input returned as is becomes a new tensor on the same storage
                alias = Tensor._make(o._data)
                if o._vbox is None:
                    o._vbox = [0]
                alias._vbox = o._vbox
                o = alias
            if id(o) in nondiff or o._data.dtype.kind != "f":
                o._rg = False
            else:
                o.grad_fn, o._output_nr, o._rg = node, k, True
            results.append(o)
        node.n_outputs = len(outs)
        node.out_meta = tuple((o._data.shape, o._data.dtype) if isinstance(o, Tensor) else None
                              for o in outs)
        if _state.anomaly:
            from .anomaly import record_forward_site
            record_forward_site(node)
        _finish_saved(node)
        return results[0] if single else tuple(results)


def _check_dirty(node: FunctionNode, outs: tuple, needs: tuple, recording: bool) -> None:
    from ..tensor import Tensor
    out_ids = {id(o) for o in outs if isinstance(o, Tensor)}
    for t in node._dirty:
        if id(t) not in out_ids:
            raise RuntimeError("Some elements marked as dirty during the forward method were "
                               "not returned as output. The inputs that are modified inplace "
                               "must all be outputs of the Function.")
        if recording and t._rg and t.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad has been used in an in-place "
                               "operation.")
        t._bump_version()


def _finish_saved(node: FunctionNode) -> None:
    """Remember the versions (and history, for the error) of the saved tensors, after
    forward's own in-place writes."""
    if node._to_save is not None:
        for t in node._to_save:
            if t is not None:
                # watched: an in-place write records its site for the version error
                saved_box(t)
        node._saved_versions = tuple((None, False, 0) if t is None
                                     else (t._version, t.grad_fn is node, t._output_nr)
                                     for t in node._to_save)
