"""Numerical gradient checks in float64: ``gradcheck`` and ``gradgradcheck``."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..backend import xp

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised when analytical and numerical gradients disagree."""


def _outputs(func, inputs) -> list:
    """The Tensor outputs of ``func`` (non-Tensor outputs are ignored)."""
    from ..tensor import Tensor
    out = func(*inputs)
    outs = [out] if isinstance(out, Tensor) else list(out)
    return [o for o in outs if isinstance(o, Tensor)]


def _fn_name(func) -> str:
    return getattr(func, "__qualname__", getattr(func, "__name__", repr(func)))


def _prepare(inputs) -> list:
    """float64 contiguous copies of the inputs that require grad (others are kept as given)."""
    from ..tensor import Tensor
    if isinstance(inputs, Tensor):
        inputs = (inputs,)
    return [Tensor._make(xp.array(x._data, dtype=xp.float64, order="C", copy=True))
            .requires_grad_() if isinstance(x, Tensor) and x.requires_grad else x
            for x in inputs]


def _analytical(func, inputs, diff: list) -> list:
    """Per output: per differentiable input, a (input numel, output numel) Jacobian."""
    from ..tensor import Tensor
    from . import grad
    outs = _outputs(func, inputs)
    jac = []
    for out in outs:
        n_out = out._data.size
        per_in = [xp.zeros((inputs[i]._data.size, n_out)) for i in diff]
        if out.requires_grad:
            for j in range(n_out):
                gout = xp.zeros(n_out, out._data.dtype)
                gout[j] = 1
                gs = grad(out, [inputs[i] for i in diff],
                          Tensor._make(gout.reshape(out._data.shape)), retain_graph=True,
                          allow_unused=True)
                for m, g in enumerate(gs):
                    if g is not None:
                        per_in[m][:, j] = g._data.reshape(-1)
        jac.append(per_in)
    return jac


def _numerical(func, inputs, diff: list, n_outs: int, eps: float) -> list:
    """Central finite differences, in the same layout as ``_analytical``."""
    jac = [[None] * len(diff) for _ in range(n_outs)]
    for m, i in enumerate(diff):
        flat = inputs[i]._data.reshape(-1)  # a view: the copies made by _prepare are C-order
        for k in range(n_outs):
            jac[k][m] = xp.zeros((flat.size, 0))
        for p in range(flat.size):
            orig = flat[p]
            flat[p] = orig + eps
            # copies: an output may alias the perturbed input
            plus = [o._data.astype(xp.float64) for o in _outputs(func, inputs)]
            flat[p] = orig - eps
            minus = [o._data.astype(xp.float64) for o in _outputs(func, inputs)]
            flat[p] = orig
            for k in range(n_outs):
                d = ((plus[k] - minus[k]) / (2 * eps)).reshape(-1)
                if jac[k][m].shape[1] != d.size:
                    jac[k][m] = xp.zeros((flat.size, d.size))
                jac[k][m][p] = d
    return jac


def gradcheck(func: Callable, inputs: Sequence, *, eps: float = 1e-6, atol: float = 1e-5,
              rtol: float = 1e-3, raise_exception: bool = True, nondet_tol: float = 0.0,
              check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
              check_batched_grad: bool = False, check_batched_forward_grad: bool = False,
              check_forward_ad: bool = False, check_backward_ad: bool = True,
              fast_mode: bool = False, masked: bool | None = None) -> bool:
    """Compare backward's gradients with central finite differences, in float64.

    Inputs that require grad are replaced by float64 copies first; other inputs
    (Tensors that don't require grad, Python values) are passed through. Every Tensor
    output is checked against every input that requires grad. On a mismatch the error
    names the function, the output, the input, the worst element and both values.

    ``fast_mode`` and the ``check_*`` flags other than ``check_backward_ad`` are
    accepted for compatibility; the full Jacobian is always compared.

    Example:
        >>> import ember
        >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
        >>> ember.autograd.gradcheck(lambda t: (t * t).sin(), (x,))
        True
    """
    from ..tensor import Tensor
    inputs = _prepare(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but "
                         "none of the them have requires_grad=True.")
    if not check_backward_ad:
        return True
    name = _fn_name(func)
    analytical = _analytical(func, inputs, diff)
    numerical = _numerical(func, inputs, diff, len(analytical), eps)
    for k, (a_out, n_out) in enumerate(zip(analytical, numerical, strict=False)):
        for m, i in enumerate(diff):
            a, n = a_out[m], n_out[m]
            if not a.size:
                continue
            err = xp.abs(a - n) - (atol + rtol * xp.abs(n))
            nan_mismatch = bool((xp.isnan(a) != xp.isnan(n)).any())
            if not nan_mismatch and not (err > 0).any():
                continue
            bad = xp.where(xp.isnan(err), xp.inf, err)
            idx = xp.unravel_index(int(xp.argmax(bad)), err.shape)
            msg = (f"Jacobian mismatch for output {k} with respect to input {i} of {name}: "
                   f"worst element (input element {int(idx[0])}, output element {int(idx[1])})"
                   f": analytical {a[idx]:.6g} vs numerical {n[idx]:.6g} (atol={atol}, "
                   f"rtol={rtol}).\nnumerical:\n{n}\nanalytical:\n{a}")
            if raise_exception:
                raise GradcheckError(msg)
            return False
    return True


def gradgradcheck(func: Callable, inputs: Sequence, grad_outputs=None, *, eps: float = 1e-6,
                  atol: float = 1e-5, rtol: float = 1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception: bool = True, nondet_tol: float = 0.0,
                  check_undefined_grad: bool = True, check_grad_dtypes: bool = False,
                  check_batched_grad: bool = False, check_fwd_over_rev: bool = False,
                  check_rev_over_rev: bool = True, fast_mode: bool = False,
                  masked: bool = False) -> bool:
    """Check second derivatives: gradcheck of the (create_graph) backward of ``func``.

    Random ``grad_outputs`` (fixed seed) are used when none are given; they are
    differentiated too, as in torch.

    Example:
        >>> import ember
        >>> x = ember.randn(3, dtype=ember.float64, requires_grad=True)
        >>> ember.autograd.gradgradcheck(lambda t: (t ** 3).sum(), (x,))
        True
    """
    from ..tensor import Tensor
    from . import grad
    inputs = _prepare(inputs)
    outs = [o for o in _outputs(func, inputs) if o.requires_grad]
    rng = xp.random.default_rng(0)
    if grad_outputs is None:
        grad_outputs = [Tensor._make(rng.standard_normal(o._data.shape)).requires_grad_()
                        for o in outs]
    else:
        if isinstance(grad_outputs, Tensor):
            grad_outputs = (grad_outputs,)
        grad_outputs = _prepare([g.detach().requires_grad_() for g in grad_outputs])
    n_in = len(inputs)

    def first_grads(*args):
        ins, gos = list(args[:n_in]), args[n_in:]
        outs2 = [o for o in _outputs(func, ins) if o.requires_grad]
        dins = [x for x in ins if isinstance(x, Tensor) and x.requires_grad]
        if not outs2:
            return ()
        gs = grad(outs2, dins, list(gos), create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    first_grads.__qualname__ = f"backward of {_fn_name(func)}"
    return gradcheck(first_grads, list(inputs) + list(grad_outputs), eps=eps, atol=atol,
                     rtol=rtol, raise_exception=raise_exception)
