"""Matrix products and linear algebra."""

from __future__ import annotations

from ..backend import xp
from ..tensor import Tensor
from .registry import Op, install_methods, register

__all__ = ["matmul"]



def _matmul_check(a, b) -> None:
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are "
                           f"{a.ndim}D and {b.ndim}D")
    ka = a.shape[-1]
    kb = b.shape[-2] if b.ndim > 1 else b.shape[0]
    if ka != kb:
        raise RuntimeError(f"matmul: {tuple(a.shape)} @ {tuple(b.shape)}: inner dimensions {ka} "
                           f"and {kb} differ")
    if a.dtype != b.dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a.dtype} != "
                           f"{b.dtype}")


@register
class Matmul(Op):
    """``a @ b`` with NumPy's (and torch's) 1-D and batch-broadcast rules."""

    name = "matmul"

    @staticmethod
    def forward(ctx, a, b):
        _matmul_check(a, b)
        ctx.save_for_backward(a, b)
        return xp.matmul(a, b)

    @staticmethod
    def backward(ctx, F, g):
        a, b = ctx.saved_tensors
        na, nb = ctx.needs_input_grad
        a1, b1 = a.ndim == 1, b.ndim == 1
        # lift 1-D operands to matrices so one formula covers every case
        a2 = F.reshape(a, shape=(1, a.shape[0])) if a1 else a
        b2 = F.reshape(b, shape=(b.shape[0], 1)) if b1 else b
        g2 = g
        gs = tuple(g.shape)
        if a1 and b1:
            g2 = F.reshape(g, shape=(1, 1))
        elif a1:
            g2 = F.reshape(g, shape=gs[:-1] + (1, gs[-1]))
        elif b1:
            g2 = F.reshape(g, shape=gs + (1,))
        ga = gb = None
        if na:
            ga = F.matmul(g2, F.swap_last(b2))
            if a1:
                ga = F.sum_to(ga, shape=(1, a.shape[0])) if ga.ndim > 2 else ga
                ga = F.reshape(ga, shape=a.shape)
        if nb:
            gb = F.matmul(F.swap_last(a2), g2)
            if b1:
                gb = F.sum_to(gb, shape=(b.shape[0], 1)) if gb.ndim > 2 else gb
                gb = F.reshape(gb, shape=b.shape)
        return ga, gb


@register
class SwapLast(Op):
    """Swap the last two dims (the matrix transpose used by matmul's backward)."""

    name = "swap_last"
    view = True

    @staticmethod
    def forward(ctx, x):
        return xp.swapaxes(x, -1, -2)

    @staticmethod
    def backward(ctx, F, g):
        return F.swap_last(g)


def matmul(input: Tensor, other: Tensor) -> Tensor:
    """Matrix product with batching and broadcasting (``@``).

    Example:
        >>> import ember
        >>> (ember.ones(2, 3) @ ember.ones(3, 4)).shape
        ember.Size([2, 4])
    """
    return Matmul.apply(input, other)


install_methods({"matmul": matmul, "__matmul__": matmul,
                 "__rmatmul__": lambda self, other: matmul(other, self)})
