"""Higher-level differentiation: ``jacobian``, ``hessian``, ``vjp``, ``jvp``, ``hvp``, ``vhp``.

Everything is computed with reverse mode (``jvp`` uses the double-backward trick,
as torch does). ``vectorize`` and ``strategy`` are accepted for compatibility and
ignored: Jacobians are built one output element at a time.

Example:
    >>> import ember
    >>> from ember.autograd.functional import jacobian
    >>> jacobian(lambda x: x ** 2, ember.tensor([1.0, 2.0]))
    tensor([[2., 0.],
            [0., 4.]])
"""

from __future__ import annotations

from collections.abc import Callable

from ..backend import xp

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _as_tuple(x, arg_name: str, fn_name: str) -> tuple[bool, tuple]:
    from ..tensor import Tensor
    if isinstance(x, Tensor):
        return False, (x,)
    if not isinstance(x, (tuple, list)):
        raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a tuple "
                        f"of Tensors but the given {arg_name} has type {type(x)}.")
    for i, t in enumerate(x):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {arg_name} given to {fn_name} must be either a Tensor or a "
                            f"tuple of Tensors but the value at index {i} has type {type(t)}.")
    return True, tuple(x)


def _prepare_inputs(inputs: tuple, create_graph: bool) -> tuple:
    """Fresh tensors that require grad; with create_graph they stay connected to the caller's."""
    from ..ops.registry import OPS
    out = []
    for x in inputs:
        if create_graph and x.requires_grad:
            out.append(OPS["reshape"].apply(x, shape=tuple(x.shape)))
        else:
            out.append(x.detach().requires_grad_(x.is_floating_point()))
    return tuple(out)


def _zeros_like(t):
    from ..tensor import Tensor
    return Tensor._make(xp.zeros(t._data.shape, t._data.dtype))


def _finish(t, create_graph: bool):
    return t if create_graph else t.detach()


def _grads(outputs, inputs, grad_outputs, create_graph: bool, retain_graph=None) -> tuple:
    """``autograd.grad`` that tolerates outputs without grad and unused inputs (None)."""
    from . import grad
    pairs = [(o, g) for o, g in zip(outputs, grad_outputs, strict=False) if o.requires_grad]
    if not pairs:
        return (None,) * len(inputs)
    outs, gos = zip(*pairs, strict=False)
    return grad(list(outs), list(inputs), list(gos), create_graph=create_graph,
                retain_graph=retain_graph, allow_unused=True)


def _check_strict(grads, strict: bool, what: str) -> None:
    if strict:
        for i, g in enumerate(grads):
            if g is None:
                raise RuntimeError(f"The {what} for the user-provided function is independent of "
                                   f"input {i}. This is not allowed in strict mode.")


def _check_v(v, outputs: tuple, fn_name: str, what: str = "outputs"):
    if v is None:
        if len(outputs) != 1 or outputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function "
                               "returns a single Tensor with a single element.")
        from ..tensor import Tensor
        return (Tensor._make(xp.ones(outputs[0]._data.shape, outputs[0]._data.dtype)),)
    _, vs = _as_tuple(v, "v", fn_name)
    if len(vs) != len(outputs):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(outputs)} but got "
                           f"{len(vs)}.")
    for i, (a, b) in enumerate(zip(vs, outputs, strict=False)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {tuple(b.shape)} but "
                               f"got {tuple(a.shape)}.")
    return vs


def vjp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Return ``(func(inputs), v^T J)``.

    Example:
        >>> import ember
        >>> from ember.autograd.functional import vjp
        >>> vjp(lambda x: 3 * x, ember.tensor([1.0, 2.0]), ember.tensor([1.0, 1.0]))[1]
        tensor([3., 3.])
    """
    from .grad_mode import enable_grad
    is_tuple, ins = _as_tuple(inputs, "inputs", "vjp")
    with enable_grad():
        ins = _prepare_inputs(ins, create_graph)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", "vjp")
        vs = _check_v(v, outs, "vjp")
        grads = _grads(outs, ins, vs, create_graph)
    _check_strict(grads, strict, "output")
    res = tuple(_zeros_like(x) if g is None else _finish(g, create_graph)
                for x, g in zip(ins, grads, strict=False))
    outs = tuple(_finish(o, create_graph) for o in outs)
    return (outs if out_tuple else outs[0]), (res if is_tuple else res[0])


def jvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Return ``(func(inputs), J v)``, by differentiating a vjp (the double-backward trick).

    Example:
        >>> import ember
        >>> from ember.autograd.functional import jvp
        >>> jvp(lambda x: x ** 2, ember.tensor([1.0, 2.0]), ember.tensor([1.0, 1.0]))[1]
        tensor([2., 4.])
    """
    from .grad_mode import enable_grad
    is_tuple, ins = _as_tuple(inputs, "inputs", "jvp")
    if v is None:
        if len(ins) != 1 or ins[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        vs = (_zeros_like(ins[0]) + 1,)
    else:
        _, vs = _as_tuple(v, "v", "jvp")
        if len(vs) != len(ins):
            raise RuntimeError(f"v is a tuple of invalid length: should be {len(ins)} but got "
                               f"{len(vs)}.")
    with enable_grad():
        ins = _prepare_inputs(ins, create_graph)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", "jvp")
        us = tuple(_zeros_like(o).requires_grad_() for o in outs)
        grads = _grads(outs, ins, us, create_graph=True)
        _check_strict(grads, strict, "output")
        pairs = [(g, w) for g, w in zip(grads, vs, strict=False)
                 if g is not None and g.requires_grad]
        if pairs:
            from . import grad
            gs, ws = zip(*pairs, strict=False)
            res = grad(list(gs), list(us), list(ws), create_graph=create_graph, allow_unused=True)
        else:
            res = (None,) * len(us)
    res = tuple(_zeros_like(o) if r is None else _finish(r, create_graph)
                for o, r in zip(outs, res, strict=False))
    outs = tuple(_finish(o, create_graph) for o in outs)
    return (outs if out_tuple else outs[0]), (res if out_tuple else res[0])


def _stack_rows(rows: list, out_shape: tuple, in_shape: tuple, create_graph: bool):
    """Assemble per-output-element gradient rows into a tensor of shape out_shape + in_shape."""
    from ..ops.registry import OPS
    from ..tensor import Tensor
    n_out = len(rows)
    n_in = 1
    for s in in_shape:
        n_in *= s
    shape = tuple(out_shape) + tuple(in_shape)
    if not create_graph or not any(r.requires_grad for r in rows):
        data = xp.zeros((n_out, n_in), rows[0]._data.dtype if rows else xp.float32)
        for j, r in enumerate(rows):
            data[j] = r._data.reshape(-1)
        return Tensor._make(data.reshape(shape))
    # differentiable assembly without a stack op: sum of one-hot row embeddings
    total = None
    for j, r in enumerate(rows):
        onehot = xp.zeros((n_out, 1), r._data.dtype)
        onehot[j, 0] = 1
        term = OPS["reshape"].apply(r, shape=(1, n_in)) * Tensor._make(onehot)
        total = term if total is None else total + term
    return OPS["reshape"].apply(total, shape=shape)


def jacobian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
             vectorize: bool = False, strategy: str = "reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: for output i and input j a tensor of shape
    ``outputs[i].shape + inputs[j].shape``, nested like torch's result.

    ``vectorize`` and ``strategy`` are accepted and ignored (always reverse mode, row by row).

    Example:
        >>> import ember
        >>> from ember.autograd.functional import jacobian
        >>> jacobian(lambda a, b: a * b, (ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0])))[1]
        tensor([[1., 0.],
                [0., 2.]])
    """
    from ..tensor import Tensor
    from .grad_mode import enable_grad
    is_tuple, ins = _as_tuple(inputs, "inputs", "jacobian")
    with enable_grad():
        ins = _prepare_inputs(ins, create_graph)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function",
                                    "jacobian")
        result = []
        for i, out in enumerate(outs):
            rows: list[list] = [[] for _ in ins]
            n = out.numel()
            for j in range(n):
                onehot = xp.zeros(n, out._data.dtype)
                onehot[j] = 1
                go = Tensor._make(onehot.reshape(out._data.shape))
                grads = (_grads((out,), ins, (go,), create_graph, retain_graph=True)
                         if out.requires_grad else (None,) * len(ins))
                for k, (x, g) in enumerate(zip(ins, grads, strict=False)):
                    if g is None:
                        if strict:
                            raise RuntimeError(f"Output {i} of the user-provided function is "
                                               f"independent of input {k}. This is not allowed "
                                               "in strict mode.")
                        g = _zeros_like(x)
                    rows[k].append(g)
            per_input = tuple(
                _stack_rows(rows[k], tuple(out.shape), tuple(x.shape), create_graph)
                if n else Tensor._make(xp.zeros(tuple(out.shape) + tuple(x.shape),
                                                x._data.dtype))
                for k, x in enumerate(ins))
            result.append(per_input if is_tuple else per_input[0])
    return tuple(result) if out_tuple else result[0]


def hessian(func: Callable, inputs, create_graph: bool = False, strict: bool = False,
            vectorize: bool = False, outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function: the Jacobian of its gradient.

    ``vectorize`` and ``outer_jacobian_strategy`` are accepted and ignored.

    Example:
        >>> import ember
        >>> from ember.autograd.functional import hessian
        >>> hessian(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]))
        tensor([[ 6.,  0.],
                [ 0., 12.]])
    """
    is_tuple, ins = _as_tuple(inputs, "inputs", "hessian")

    def ensure_single_output(*inp):
        out = func(*inp)
        out_tuple, t_out = _as_tuple(out, "outputs of the user-provided function", "hessian")
        if out_tuple or t_out[0].numel() != 1:
            raise RuntimeError("The function given to hessian should return a single Tensor "
                               "with a single element.")
        return t_out[0].reshape(())

    def jac_func(*inp):
        jac = jacobian(ensure_single_output, inp, create_graph=True, strict=strict)
        return jac

    res = jacobian(jac_func, ins, create_graph=create_graph, strict=strict)
    if not is_tuple:
        return res[0][0]
    return res


def _scalar_fn_grad(func, ins, create_graph, strict, fn_name):
    from .grad_mode import enable_grad
    with enable_grad():
        ins = _prepare_inputs(ins, True)
        out_tuple, outs = _as_tuple(func(*ins), "outputs of the user-provided function", fn_name)
        if out_tuple or outs[0].numel() != 1:
            raise RuntimeError(f"The function given to {fn_name} should return a single Tensor "
                               "with a single element.")
        out = outs[0]
        grads = _grads((out,), ins, (_zeros_like(out) + 1,), create_graph=True)
    _check_strict(grads, strict, "output")
    return out, ins, grads


def vhp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Return ``(func(inputs), v^T H)`` for a scalar function.

    Example:
        >>> import ember
        >>> from ember.autograd.functional import vhp
        >>> vhp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.tensor([1.0, 1.0]))[1]
        tensor([ 6., 12.])
    """
    return _second_order(func, inputs, v, create_graph, strict, "vhp")


def hvp(func: Callable, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """Return ``(func(inputs), H v)`` for a scalar function (equal to vhp: H is symmetric).

    Example:
        >>> import ember
        >>> from ember.autograd.functional import hvp
        >>> hvp(lambda x: (x ** 3).sum(), ember.tensor([1.0, 2.0]), ember.tensor([1.0, 0.0]))[1]
        tensor([6., 0.])
    """
    return _second_order(func, inputs, v, create_graph, strict, "hvp")


def _second_order(func, inputs, v, create_graph, strict, fn_name):
    from . import grad
    from .grad_mode import enable_grad
    is_tuple, ins0 = _as_tuple(inputs, "inputs", fn_name)
    if v is None:
        if len(ins0) != 1 or ins0[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided "
                               "function is a single Tensor with a single element.")
        vs = (_zeros_like(ins0[0]) + 1,)
    else:
        _, vs = _as_tuple(v, "v", fn_name)
        _check_v(vs, ins0, fn_name)
    out, ins, grads = _scalar_fn_grad(func, ins0, create_graph, strict, fn_name)
    with enable_grad():
        pairs = [(g, w) for g, w in zip(grads, vs, strict=False)
                 if g is not None and g.requires_grad]
        if pairs:
            gs, ws = zip(*pairs, strict=False)
            res = grad(list(gs), list(ins), list(ws), create_graph=create_graph,
                       allow_unused=True)
        else:
            res = (None,) * len(ins)
    if strict:
        for i, r in enumerate(res):
            if r is None:
                raise RuntimeError(f"The Hessian of the user-provided function is independent "
                                   f"of entry {i} in the grad of the inputs. This is not allowed "
                                   "in strict mode.")
    res = tuple(_zeros_like(x) if r is None else _finish(r, create_graph)
                for x, r in zip(ins, res, strict=False))
    return _finish(out, create_graph), (res if is_tuple else res[0])
