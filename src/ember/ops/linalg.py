"""Linear algebra: inverse, determinants, solve, decompositions (cholesky, eigh, qr),
singular values and matrix/vector norms.

The ``torch.linalg`` functions live here under ``linalg_*`` names and are public as
``ember.linalg.<name>`` (see ``ember/linalg.py``); the ones that torch also has at top
level (``det``, ``inverse``, ...) are in ``__all__``. The matrix products are in
``products.py``.
"""

from __future__ import annotations

import math
from collections import namedtuple

from ..backend import xp
from ..tensor import Tensor
from .minmax import amax, amin
from .reduction import _dname, _vector_norm, vector_norm
from .reduction import sum as _sum
from .registry import Op, install_methods, register

__all__ = ["det", "logdet", "slogdet", "inverse"]


ReturnSlogdet = namedtuple("slogdet", ["sign", "logabsdet"])
ReturnSlogdet.__module__ = "ember.return_types"
ReturnEigh = namedtuple("eigh", ["eigenvalues", "eigenvectors"])
ReturnEigh.__module__ = "ember.return_types"
ReturnQr = namedtuple("qr", ["Q", "R"])
ReturnQr.__module__ = "ember.return_types"


class LinAlgError(RuntimeError):
    """A linear-algebra failure such as a singular matrix (``torch.linalg.LinAlgError``)."""


# ---------------------------------------------------------------- torch.linalg


def _square_check(op: str, a: Tensor) -> None:
    if a.ndim < 2:
        raise RuntimeError(f"{op}: The input tensor A must have at least 2 dimensions.")
    if a.shape[-1] != a.shape[-2]:
        raise RuntimeError(f"{op}: A must be batches of square matrices, but they are "
                           f"{a.shape[-2]} by {a.shape[-1]} matrices")
    if a._data.dtype.kind != "f":
        raise RuntimeError(f"{op}: Expected a floating point or complex tensor as input. Got "
                           f"{_dname(a)}")


def _singular(op: str) -> LinAlgError:
    return LinAlgError(f"{op}: The input matrix is singular, so the operation could not be "
                       f"completed.")


def _call(op_cls, *args, **params):
    """Run a linalg op, giving a singular-matrix failure torch's type and the public name."""
    try:
        return op_cls.apply(*args, **params)
    except LinAlgError as e:
        raise LinAlgError(str(e).removeprefix(op_cls.name + ": ")) from None


@register
class LinalgInv(Op):
    name = "linalg_inv"

    @staticmethod
    def forward(ctx, a):
        try:
            out = xp.linalg.inv(a)
        except xp.linalg.LinAlgError:
            raise _singular("linalg.inv") from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (inv,) = ctx.saved_tensors
        inv_t = F.swap_last(inv)
        return -F.matmul(F.matmul(inv_t, g), inv_t)


@register
class LinalgDet(Op):
    name = "linalg_det"

    @staticmethod
    def forward(ctx, a):
        out = xp.linalg.det(a)
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        a, det = ctx.saved_tensors
        lift = tuple(g.shape) + (1, 1)
        try:
            # d det / dA = det * inv(A)^T for invertible A
            return F.reshape(g * det, shape=lift) * F.swap_last(F.linalg_inv(a))
        except LinAlgError:
            # singular: the cofactor matrix from an SVD (a constant for higher orders)
            return F.reshape(g, shape=lift) * _cofactor(a._data if isinstance(a, Tensor) else a)


def _cofactor(a):
    """The cofactor matrix ``adj(A)^T`` of (a batch of) matrices, valid when ``A`` is singular."""
    u, sv, vh = xp.linalg.svd(a)
    n = sv.shape[-1]
    others = xp.stack([xp.prod(xp.delete(sv, i, axis=-1), axis=-1) for i in range(n)], axis=-1)
    sign = xp.linalg.det(u) * xp.linalg.det(vh)
    return (u * others[..., None, :]) @ vh * sign[..., None, None]


@register
class LinalgSlogdet(Op):
    name = "linalg_slogdet"
    nondiff_outputs = (0,)

    @staticmethod
    def forward(ctx, a):
        sign, logabs = xp.linalg.slogdet(a)
        ctx.save_for_backward(a)
        return xp.asarray(sign, a.dtype), xp.asarray(logabs, a.dtype)

    @staticmethod
    def backward(ctx, F, _gs, g):
        (a,) = ctx.saved_tensors
        return F.reshape(g, shape=tuple(g.shape) + (1, 1)) * F.swap_last(F.linalg_inv(a))


@register
class LinalgSolve(Op):
    """``X`` with ``A @ X = B`` for matrices ``B`` (batch dims broadcast)."""

    name = "linalg_solve"
    promote = "same"

    @staticmethod
    def forward(ctx, a, b):
        try:
            out = xp.linalg.solve(a, b)
        except xp.linalg.LinAlgError:
            raise _singular("linalg.solve") from None
        ctx.save_for_backward(a, out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        a, x = ctx.saved_tensors
        gb = F.linalg_solve(F.swap_last(a), g)
        ga = -F.matmul(gb, F.swap_last(x)) if ctx.needs_input_grad[0] else None
        return ga, gb


@register
class LinalgSvdvals(Op):
    """Singular values, largest first. Its gradient is first-order only (U and V are constants)."""

    name = "linalg_svdvals"

    @staticmethod
    def forward(ctx, a):
        if not ctx.recording:
            return xp.linalg.svd(a, compute_uv=False)
        u, s, vh = xp.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, vh)
        return s

    @staticmethod
    def backward(ctx, F, g):
        u, vh = ctx.saved_tensors
        return F.matmul(u * F.reshape(g, shape=tuple(g.shape[:-1]) + (1, g.shape[-1])), vh)


@register
class LinalgCholesky(Op):
    """Lower Cholesky factor ``L`` of a symmetric positive-definite ``A = L @ L.mT``."""

    name = "linalg_cholesky"

    @staticmethod
    def forward(ctx, a):
        try:
            out = xp.linalg.cholesky(a)
        except xp.linalg.LinAlgError:
            raise LinAlgError("linalg.cholesky: The factorization could not be completed because "
                              "the input is not positive-definite.") from None
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        # gA = L^-T phi(L^T tril(g)) L^-1, symmetrised; phi keeps the lower triangle, half diagonal
        (low,) = ctx.saved_tensors
        n = low.shape[-1]
        lower = xp.tril(xp.ones((n, n), bool))
        eye = xp.eye(n, dtype=bool)
        inv = F.linalg_inv(low)
        m = F.matmul(F.swap_last(low), F.where(lower, g, 0.0))
        phi = F.where(eye, m * 0.5, F.where(lower, m, 0.0))
        s = F.matmul(F.matmul(F.swap_last(inv), phi), inv)
        return (s + F.swap_last(s)) * 0.5


@register
class LinalgEigh(Op):
    """Eigenvalues (ascending) and orthonormal eigenvectors of a symmetric matrix."""

    name = "linalg_eigh"

    @staticmethod
    def forward(ctx, a, uplo="L"):
        w, v = xp.linalg.eigh(a, UPLO=uplo)
        ctx.save_for_backward(w, v)
        return w, v

    @staticmethod
    def backward(ctx, F, gw, gv):
        # gA = V (diag(gw) + (V^T gV - gV^T V) / 2 / (w_j - w_i)) V^T (distinct eigenvalues)
        w, v = ctx.saved_tensors
        n = w.shape[-1]
        eye = xp.eye(n, dtype=bool)
        vt = F.swap_last(v)
        inner = F.where(eye, F.reshape(gw, shape=tuple(gw.shape) + (1,)), 0.0)
        if gv is not None:
            p = F.matmul(vt, gv)
            gap = F.reshape(w, shape=tuple(w.shape[:-1]) + (1, n)) - F.reshape(
                w, shape=tuple(w.shape) + (1,))
            safe = F.where(eye, 1.0, gap)
            inner = inner + F.where(eye, 0.0, (p - F.swap_last(p)) * 0.5 / safe)
        return F.matmul(F.matmul(v, inner), vt)


@register
class LinalgQr(Op):
    """``A = Q @ R`` with orthonormal columns in ``Q`` and upper-triangular ``R``."""

    name = "linalg_qr"

    @staticmethod
    def forward(ctx, a, mode="reduced"):
        q, r = xp.linalg.qr(a, mode=mode)
        ctx.mode, ctx.shape = mode, a.shape
        ctx.save_for_backward(q, r)
        return q, r

    @staticmethod
    def backward(ctx, F, gq, gr):
        m, n = ctx.shape[-2:]
        if m < n or (ctx.mode == "complete" and m > n):
            raise NotImplementedError("linalg.qr: the derivative is implemented only for inputs "
                                      "with at least as many rows as columns, with "
                                      "mode='reduced' (or square inputs)")
        # M = R gR^T - gQ^T Q; gA = (gQ + Q copyltu(M)) R^-T, copyltu mirrors the lower triangle
        q, r = ctx.saved_tensors
        mm_ = F.matmul(r, F.swap_last(gr)) - F.matmul(F.swap_last(gq), q)
        strict = xp.tril(xp.ones((n, n), bool), -1)
        low = F.where(strict | xp.eye(n, dtype=bool), mm_, 0.0)
        sym = low + F.swap_last(F.where(strict, mm_, 0.0))
        return F.matmul(gq + F.matmul(q, sym), F.swap_last(F.linalg_inv(r)))


def linalg_inv(A: Tensor) -> Tensor:
    """``torch.linalg.inv``: the inverse of (a batch of) square matrices.

    Example:
        >>> import ember
        >>> ember.linalg.inv(ember.tensor([[2.0, 0.0], [0.0, 4.0]]))
        tensor([[0.5000, 0.0000],
                [0.0000, 0.2500]])
    """
    _square_check("linalg.inv", A)
    return _call(LinalgInv, A)


def inverse(input: Tensor) -> Tensor:
    """Alias of ``linalg.inv``.

    Example:
        >>> import ember
        >>> ember.inverse(ember.tensor([[2.0]]))
        tensor([[0.5000]])
    """
    return linalg_inv(input)


def linalg_det(A: Tensor) -> Tensor:
    """``torch.linalg.det``: the determinant of (a batch of) square matrices.

    Example:
        >>> import ember
        >>> ember.linalg.det(ember.tensor([[1.0, 2.0], [3.0, 4.0]]))
        tensor(-2.)
    """
    _square_check("linalg.det", A)
    return LinalgDet.apply(A)


def det(input: Tensor) -> Tensor:
    """Alias of ``linalg.det``.

    Example:
        >>> import ember
        >>> ember.det(ember.eye(3))
        tensor(1.)
    """
    return linalg_det(input)


def linalg_slogdet(A: Tensor):
    """``(sign, logabsdet)`` of the determinant, computed without overflow.

    Example:
        >>> import ember
        >>> ember.linalg.slogdet(ember.tensor([[-2.0, 0.0], [0.0, 1.0]])).sign
        tensor(-1.)
    """
    _square_check("linalg.slogdet", A)
    return ReturnSlogdet(*LinalgSlogdet.apply(A))


def slogdet(input: Tensor):
    """Alias of ``linalg.slogdet``.

    Example:
        >>> import ember
        >>> ember.slogdet(ember.eye(2)).logabsdet
        tensor(0.)
    """
    return linalg_slogdet(input)


def logdet(input: Tensor) -> Tensor:
    """``log(det(input))``: nan for a negative determinant, -inf for a singular matrix.

    Example:
        >>> import ember
        >>> ember.logdet(ember.tensor([[2.0, 0.0], [0.0, 2.0]]))
        tensor(1.3863)
    """
    sign, logabs = linalg_slogdet(input)
    with xp.errstate(divide="ignore", invalid="ignore"):
        return logabs + sign.log()


def linalg_solve(A: Tensor, B: Tensor, *, left: bool = True) -> Tensor:
    """``torch.linalg.solve``: ``X`` with ``A @ X = B`` (``X @ A = B`` if ``left=False``).

    Example:
        >>> import ember
        >>> ember.linalg.solve(ember.tensor([[2.0, 0.0], [0.0, 4.0]]), ember.tensor([2.0, 2.0]))
        tensor([1.0000, 0.5000])
    """
    _square_check("linalg.solve", A)
    if not left:
        return linalg_solve(A.mT, B.mT).mT
    vector = B.ndim == 1 or (B.ndim == A.ndim - 1 and tuple(B.shape) == tuple(A.shape[:-1]))
    Bm = B.unsqueeze(-1) if vector else B
    if Bm.ndim < 2 or Bm.shape[-2] != A.shape[-1]:
        raise RuntimeError(f"linalg.solve: Incompatible shapes of A and B for the equation AX = B "
                           f"({A.shape[-2]}x{A.shape[-1]} and "
                           f"{'x'.join(str(s) for s in B.shape)})")
    X = _call(LinalgSolve, A, Bm)
    return X.squeeze(-1) if vector else X


def linalg_svdvals(A: Tensor) -> Tensor:
    """``torch.linalg.svdvals``: singular values in descending order.

    Example:
        >>> import ember
        >>> ember.linalg.svdvals(ember.tensor([[3.0, 0.0], [0.0, -4.0]]))
        tensor([4., 3.])
    """
    if A.ndim < 2:
        raise RuntimeError("linalg.svdvals: The input tensor A must have at least 2 dimensions.")
    return LinalgSvdvals.apply(A)


def linalg_cholesky(A: Tensor, *, upper: bool = False) -> Tensor:
    """``torch.linalg.cholesky``: ``L`` with ``A = L @ L.mT`` (``L.mT`` if ``upper``).

    Example:
        >>> import ember
        >>> ember.linalg.cholesky(ember.tensor([[4.0, 2.0], [2.0, 5.0]]))
        tensor([[2., 0.],
                [1., 2.]])
    """
    _square_check("linalg.cholesky", A)
    low = _call(LinalgCholesky, A)
    return low.mT if upper else low


def linalg_eigh(A: Tensor, UPLO: str = "L"):
    """``torch.linalg.eigh``: ``(eigenvalues, eigenvectors)`` of a symmetric matrix, eigenvalues
    ascending; the gradient assumes distinct eigenvalues.

    Example:
        >>> import ember
        >>> ember.linalg.eigh(ember.tensor([[2.0, 0.0], [0.0, 1.0]])).eigenvalues
        tensor([1., 2.])
    """
    _square_check("linalg.eigh", A)
    if UPLO not in ("L", "U"):
        raise RuntimeError(f"linalg.eigh: Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return ReturnEigh(*LinalgEigh.apply(A, uplo=UPLO))


def linalg_eigvalsh(A: Tensor, UPLO: str = "L") -> Tensor:
    """``torch.linalg.eigvalsh``: the eigenvalues of a symmetric matrix, ascending.

    Example:
        >>> import ember
        >>> ember.linalg.eigvalsh(ember.tensor([[2.0, 1.0], [1.0, 2.0]]))
        tensor([1., 3.])
    """
    return linalg_eigh(A, UPLO).eigenvalues


def linalg_qr(A: Tensor, mode: str = "reduced"):
    """``torch.linalg.qr``: ``(Q, R)`` with ``A = Q @ R`` (``mode`` is ``'reduced'`` or
    ``'complete'``).

    Example:
        >>> import ember
        >>> Q, R = ember.linalg.qr(ember.tensor([[3.0, 1.0], [4.0, 2.0]]))
        >>> bool(((Q @ R) - ember.tensor([[3.0, 1.0], [4.0, 2.0]])).abs().max() < 1e-5)
        True
    """
    if A.ndim < 2:
        raise RuntimeError("linalg.qr: The input tensor A must have at least 2 dimensions.")
    if mode not in ("reduced", "complete"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of "
                           f"'reduced' (default), 'complete'")
    if A._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.qr: Expected a floating point or complex tensor as input. Got "
                           f"{_dname(A)}")
    return ReturnQr(*LinalgQr.apply(A, mode=mode))


def linalg_matrix_norm(A: Tensor, ord="fro", dim=(-2, -1), keepdim: bool = False, *,
                       dtype=None) -> Tensor:
    """``torch.linalg.matrix_norm``: ``'fro'``, ``'nuc'``, ``inf``, ``-inf``, ``1``, ``-1``, ``2``,
    ``-2`` norms over the two dims ``dim``.

    Example:
        >>> import ember
        >>> ember.linalg.matrix_norm(ember.tensor([[1.0, -2.0], [3.0, 4.0]]), ord=1)
        tensor(6.)
    """
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise RuntimeError("linalg.matrix_norm: The input tensor A must have at least 2 "
                           "dimensions.")
    if A._data.dtype.kind != "f":
        raise RuntimeError(f"linalg.matrix_norm: Expected a floating point or complex tensor as "
                           f"input. Got {_dname(A)}")
    if len(dim) != 2:
        raise RuntimeError(f"linalg.matrix_norm: dim must be a 2-tuple. Got {tuple(dim)}")
    d0, d1 = (d % A.ndim for d in dim)
    if d0 == d1:
        raise RuntimeError(f"linalg.matrix_norm: dims must be different. Got ({d0}, {d1})")
    if ord == "fro":
        return vector_norm(A, 2, (d0, d1), keepdim)
    if ord in ("nuc", 2, -2):
        rest = [i for i in range(A.ndim) if i not in (d0, d1)]
        s = linalg_svdvals(A.permute(*rest, d0, d1))
        out = s.sum(-1) if ord == "nuc" else amax(s, -1) if ord == 2 else amin(s, -1)
        if keepdim:
            out = out.unsqueeze(min(d0, d1)).unsqueeze(max(d0, d1))
        return out
    if ord in (math.inf, -math.inf, 1, -1):
        inner_dim, outer_dim = (d1, d0) if abs(ord) == math.inf else (d0, d1)
        sums = _sum(A.abs(), inner_dim, True)
        out = (amax if ord > 0 else amin)(sums, outer_dim, True)
        if not keepdim:
            out = out.squeeze(max(d0, d1)).squeeze(min(d0, d1))
        return out
    raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")


def linalg_vector_norm(x: Tensor, ord: float = 2, dim=None, keepdim: bool = False, *,
                       dtype=None) -> Tensor:
    """``torch.linalg.vector_norm`` (see :func:`ember.ops.reduction.vector_norm`).

    Example:
        >>> import ember
        >>> ember.linalg.vector_norm(ember.tensor([3.0, -4.0]), ord=1)
        tensor(7.)
    """
    return _vector_norm(x, ord, dim, keepdim, dtype, "linalg.vector_norm")


def linalg_norm(A: Tensor, ord=None, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """``torch.linalg.norm``: a vector norm (1 dim, or 1-D input) or a matrix norm (2 dims, or
    2-D input with ``ord``); ``ord=None`` and ``dim=None`` give the 2-norm of all elements.

    Example:
        >>> import ember
        >>> ember.linalg.norm(ember.tensor([[3.0, 0.0], [4.0, 0.0]]))
        tensor(5.)
    """
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None:
        if len(dim) == 1:
            return _vector_norm(A, 2 if ord is None else ord, dim, keepdim, dtype, "linalg.norm")
        return linalg_matrix_norm(A, "fro" if ord is None else ord, dim, keepdim, dtype=dtype)
    if ord is None:
        return _vector_norm(A, 2, None, keepdim, dtype, "linalg.norm")
    if A.ndim == 1:
        return _vector_norm(A, ord, None, keepdim, dtype, "linalg.norm")
    if A.ndim == 2:
        return linalg_matrix_norm(A, ord, (-2, -1), keepdim, dtype=dtype)
    raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D "
                       f"or 2D. Got {A.ndim}D.")


install_methods({"det": det, "logdet": logdet, "slogdet": slogdet, "inverse": inverse})
