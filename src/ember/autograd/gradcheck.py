"""Numerical gradient checks in float64: ``gradcheck`` and ``gradgradcheck``."""

from __future__ import annotations

from typing import Callable, Sequence

from ..backend import xp

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


def _tensors(inputs):
    from ..tensor import Tensor
    return [x for x in inputs if isinstance(x, Tensor)]


def _outputs(func, inputs) -> list:
    from ..tensor import Tensor
    out = func(*inputs)
    outs = [out] if isinstance(out, Tensor) else list(out)
    return [o for o in outs if isinstance(o, Tensor)]


def _fn_name(func) -> str:
    return getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))


def gradcheck(func: Callable, inputs: Sequence, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, fast_mode: bool = False,
              masked: bool | None = None) -> bool:
    """Compare backward's gradients with central finite differences, in float64.

    Inputs that require grad are upcast to float64 copies first. On a mismatch the
    error names the function, the input, the worst element and both values.

    Example:
        >>> import ember
        >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
        >>> ember.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
        True
    """
    from ..tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = [x.detach().double().requires_grad_() if isinstance(x, Tensor) and x._rg else x
              for x in inputs]
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x._rg]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient")
    outs = _outputs(func, inputs)
    name = _fn_name(func)
    for k, out in enumerate(outs):
        if not out._rg:
            continue
        n_out = out._data.size
        for i in diff:
            x = inputs[i]
            analytical = xp.zeros((x._data.size, n_out))
            for j in range(n_out):
                from ..autograd import grad
                gout = xp.zeros_like(out._data).reshape(-1)
                gout[j] = 1
                fresh = _outputs(func, inputs)[k]
                (g,) = grad(fresh, x, Tensor._make(gout.reshape(out._data.shape)),
                            allow_unused=True)
                if g is not None:
                    analytical[:, j] = g._data.reshape(-1)
            numerical = xp.zeros_like(analytical)
            flat = x._data.reshape(-1)
            for p in range(flat.size):
                orig = flat[p]
                flat[p] = orig + eps
                plus = _outputs(func, inputs)[k]._data.astype(xp.float64).reshape(-1)
                flat[p] = orig - eps
                minus = _outputs(func, inputs)[k]._data.astype(xp.float64).reshape(-1)
                flat[p] = orig
                numerical[p] = (plus - minus) / (2 * eps)
            err = xp.abs(analytical - numerical) - (atol + rtol * xp.abs(numerical))
            if err.size and (err > 0).any() or xp.isnan(analytical).any() != xp.isnan(numerical).any():
                idx = xp.unravel_index(xp.nanargmax(err) if err.size else 0, err.shape)
                msg = (f"Jacobian mismatch for output {k} with respect to input {i} of {name}: "
                       f"worst element (input index {idx[0]}, output index {idx[1]}): analytical "
                       f"{analytical[idx]:.6g} vs numerical {numerical[idx]:.6g} "
                       f"(atol={atol}, rtol={rtol}).\nnumerical:\n{numerical}\nanalytical:\n"
                       f"{analytical}")
                if raise_exception:
                    raise GradcheckError(msg)
                return False
    return True


def gradgradcheck(func: Callable, inputs: Sequence, grad_outputs=None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, fast_mode: bool = False,
                  masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) backward of ``func``.

    Example:
        >>> import ember
        >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
        >>> ember.autograd.gradgradcheck(lambda t: (t ** 3).sum(), (x,))
        True
    """
    from ..autograd import grad
    from ..tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    inputs = [x.detach().double().requires_grad_() if isinstance(x, Tensor) and x._rg else x
              for x in inputs]
    outs = _outputs(func, inputs)
    rng = xp.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = [Tensor._make(rng.standard_normal(o._data.shape)).requires_grad_()
                        for o in outs if o._rg]
    else:
        grad_outputs = [g.detach().double().requires_grad_() for g in grad_outputs]
    diff = [x for x in inputs if isinstance(x, Tensor) and x._rg]
    n_in = len(inputs)

    def first_grads(*args):
        ins, gos = list(args[:n_in]), args[n_in:]
        outs2 = [o for o in _outputs(func, ins) if o._rg]
        dins = [x for x in ins if isinstance(x, Tensor) and x._rg]
        gs = grad(outs2, dins, gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    first_grads.__qualname__ = f"backward of {_fn_name(func)}"
    del diff
    return gradcheck(first_grads, list(inputs) + list(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
