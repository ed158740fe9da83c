"""Define-by-run automatic differentiation: ``backward``, ``grad``, modes and hooks.

Example:
    >>> import ember
    >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
    >>> (g,) = ember.autograd.grad((x ** 3).sum(), x, create_graph=True)
    >>> g
    tensor([ 3., 12.], grad_fn=<MulBackward0>)
"""

from __future__ import annotations

from collections.abc import Sequence

from ..backend import xp
from . import engine as _engine
from . import functional
from .anomaly import detect_anomaly, set_detect_anomaly
from .engine import Node, run_backward
from .function import Function, once_differentiable
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,
                        no_grad, set_grad_enabled)
from .gradcheck import gradcheck, gradgradcheck  # the functions shadow the module, as in torch

__all__ = ["backward", "grad", "Node", "no_grad", "enable_grad", "set_grad_enabled",
           "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "Function",
           "once_differentiable", "gradcheck", "gradgradcheck", "functional", "detect_anomaly",
           "set_detect_anomaly"]


def _as_list(x) -> list:
    if x is None:
        return []
    if isinstance(x, _engine._NS["Tensor"]):
        return [x]
    return list(x)


def _root_grads(outputs, grad_outputs, create_graph: bool, is_grads_batched=False) -> list:
    Tensor = _engine._NS["Tensor"]
    grads = _as_list(grad_outputs) if grad_outputs is not None else [None] * len(outputs)
    if len(grads) != len(outputs):
        raise RuntimeError(f"grad_outputs has {len(grads)} elements but there are "
                           f"{len(outputs)} outputs")
    out = []
    for i, (t, g) in enumerate(zip(outputs, grads)):
        if not t._rg:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a "
                               f"grad_fn")
        if g is None:
            if t._data.size != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            g = Tensor._make(xp.ones(t._data.shape, t._data.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor._make(xp.asarray(g, dtype=t._data.dtype))
        if g._data.shape != t._data.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of "
                               f"{tuple(g.shape)} and output[{i}] has a shape of "
                               f"{tuple(t.shape)}.")
        out.append(g if create_graph else g._data)
    return out


def backward(tensors, grad_tensors=None, retain_graph: bool | None = None,
             create_graph: bool = False, inputs=None) -> None:
    """Accumulate into ``.grad`` of the leaves the gradients of ``tensors``.

    Example:
        >>> import ember
        >>> x = ember.ones(2, requires_grad=True)
        >>> ember.autograd.backward([(x * 2).sum()]); x.grad
        tensor([2., 2.])
    """
    outputs = _as_list(tensors)
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(outputs, grad_tensors, create_graph)
    inputs = _as_list(inputs) if inputs is not None else None
    if inputs is not None and not inputs:
        raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    run_backward(outputs, roots, retain_graph, create_graph, inputs=inputs, accumulate=True)


def grad(outputs, inputs, grad_outputs=None, retain_graph: bool | None = None,
         create_graph: bool = False, allow_unused: bool | None = None,
         is_grads_batched: bool = False, materialize_grads: bool = False) -> tuple:
    """Return the gradients of ``outputs`` w.r.t. ``inputs`` (nothing is accumulated).

    Example:
        >>> import ember
        >>> x = ember.tensor(2.0, requires_grad=True)
        >>> ember.autograd.grad(x ** 2, x)
        (tensor(4.),)
    """
    from ..backend import xp
    from ..tensor import Tensor
    outs = _as_list(outputs)
    ins: Sequence = _as_list(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if not allow_unused and materialize_grads:
        raise ValueError("Expected allow_unused to be True or not passed when "
                         "materialize_grads=True")
    for i, t in enumerate(ins):
        if not t._rg:
            raise RuntimeError(f"One of the differentiated Tensors does not require grad "
                               f"(input {i})")
    if retain_graph is None:
        retain_graph = create_graph
    roots = _root_grads(outs, grad_outputs, create_graph)
    res = run_backward(outs, roots, retain_graph, create_graph, inputs=ins, accumulate=False)
    result = []
    for i, (t, g) in enumerate(zip(ins, res)):
        if g is None:
            if materialize_grads:
                result.append(Tensor._make(xp.zeros_like(t._data)))
                continue
            if not allow_unused:
                raise RuntimeError(f"The differentiated Tensor at index {i} appears to not "
                                   "have been used in the graph. Set allow_unused=True if this "
                                   "is the "
                                   "desired behavior.")
            result.append(None)
        elif create_graph:
            result.append(g)
        else:
            result.append(Tensor._make(g if g.dtype == t._data.dtype
                                       else g.astype(t._data.dtype)))
    return tuple(result)
