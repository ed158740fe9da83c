"""Matrix products: matmul/mm/bmm/mv, dot/vdot/inner/outer, the addmm family,
chain_matmul, einsum, tensordot, kron, trace, and torch.linalg's multi_dot and vecdot.
"""

from __future__ import annotations

import warnings

from .. import dtypes
from ..backend import xp
from ..tensor import Tensor
from ._util import const_tensor, norm_dim
from .compare import where
from .join import cat
from .reduction import _dname, vector_norm
from .reduction import sum as _sum
from .registry import Op, install_methods, register
from .shape import narrow, unsqueeze

__all__ = ["matmul", "mm", "bmm", "mv", "dot", "vdot", "inner", "outer", "ger", "addmm", "addmv",
           "addbmm", "baddbmm", "einsum", "tensordot", "kron", "trace", "chain_matmul",
           "cross", "cdist", "dist"]


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
        if a.ndim > 2 and b.ndim == 2:
            # a stack times one matrix is one GEMM on the flattened stack (NumPy would run
            # one GEMM per matrix)
            out = xp.matmul(a.reshape(-1, a.shape[-1]), b)
            return out.reshape(a.shape[:-1] + (b.shape[-1],))
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


# ---------------------------------------------------------------- products with fixed ranks


def _shapes(a, b) -> str:
    return f"{tuple(a.shape)} @ {tuple(b.shape)}"


def _check_ranks(op: str, a: Tensor, b: Tensor, ra: int, rb: int) -> None:
    if a.ndim != ra or b.ndim != rb:
        raise RuntimeError(f"{op}: expected {ra}-D and {rb}-D tensors, but got {_shapes(a, b)}")
    ka, kb = a.shape[-1], b.shape[-2] if rb > 1 else b.shape[0]
    if ka != kb:
        raise RuntimeError(f"{op}: {_shapes(a, b)}: inner dimensions {ka} and {kb} differ")
    if a.dtype != b.dtype:
        raise RuntimeError(f"{op}: expected both arguments to have the same dtype, but got "
                           f"{_dname(a)} and {_dname(b)}")


def mm(input: Tensor, mat2: Tensor) -> Tensor:
    """The product of two matrices (no broadcasting).

    Example:
        >>> import ember
        >>> ember.mm(ember.ones(2, 3), ember.ones(3, 4)).shape
        ember.Size([2, 4])
    """
    _check_ranks("mm", input, mat2, 2, 2)
    return Matmul.apply(input, mat2)


def bmm(input: Tensor, mat2: Tensor) -> Tensor:
    """Batched matrix product of ``(b, n, m)`` and ``(b, m, p)`` tensors (no broadcasting).

    Example:
        >>> import ember
        >>> ember.bmm(ember.ones(5, 2, 3), ember.ones(5, 3, 4)).shape
        ember.Size([5, 2, 4])
    """
    _check_ranks("bmm", input, mat2, 3, 3)
    if input.shape[0] != mat2.shape[0]:
        raise RuntimeError(f"bmm: {_shapes(input, mat2)}: batch sizes {input.shape[0]} and "
                           f"{mat2.shape[0]} differ")
    return Matmul.apply(input, mat2)


def mv(input: Tensor, vec: Tensor) -> Tensor:
    """Matrix-vector product.

    Example:
        >>> import ember
        >>> ember.mv(ember.ones(2, 3), ember.ones(3))
        tensor([3., 3.])
    """
    _check_ranks("mv", input, vec, 2, 1)
    return Matmul.apply(input, vec)


def dot(input: Tensor, tensor: Tensor) -> Tensor:
    """Dot product of two 1-D tensors of the same dtype.

    Example:
        >>> import ember
        >>> ember.dot(ember.tensor([1, 2]), ember.tensor([3, 4]))
        tensor(11)
    """
    _check_ranks("dot", input, tensor, 1, 1)
    return Matmul.apply(input, tensor)


def vdot(input: Tensor, other: Tensor) -> Tensor:
    """Dot product conjugating the first argument (the same as :func:`dot` for real tensors).

    Example:
        >>> import ember
        >>> ember.vdot(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
        tensor(11.)
    """
    _check_ranks("vdot", input, other, 1, 1)
    return Matmul.apply(input, other)


def outer(input: Tensor, vec2: Tensor) -> Tensor:
    """Outer product of two vectors.

    Example:
        >>> import ember
        >>> ember.outer(ember.tensor([1, 2]), ember.tensor([1, 10]))
        tensor([[ 1, 10],
                [ 2, 20]])
    """
    if input.ndim != 1 or vec2.ndim != 1:
        raise RuntimeError(f"outer: expected 1-D tensors, but got {tuple(input.shape)} and "
                           f"{tuple(vec2.shape)}")
    return input.reshape(-1, 1) * vec2.reshape(1, -1)


def ger(input: Tensor, vec2: Tensor) -> Tensor:
    """Alias of :func:`outer`.

    Example:
        >>> import ember
        >>> ember.ger(ember.tensor([1, 2]), ember.tensor([3])).shape
        ember.Size([2, 1])
    """
    return outer(input, vec2)


def inner(input: Tensor, other: Tensor) -> Tensor:
    """Sum-product over the last dims of both inputs (a plain product when one is 0-d).

    Example:
        >>> import ember
        >>> ember.inner(ember.ones(2, 3), ember.ones(4, 3)).shape
        ember.Size([2, 4])
    """
    if input.ndim == 0 or other.ndim == 0:
        return input * other
    if input.shape[-1] != other.shape[-1]:
        raise RuntimeError(f"inner: {tuple(input.shape)} and {tuple(other.shape)}: last "
                           f"dimensions {input.shape[-1]} and {other.shape[-1]} differ")
    return tensordot(input, other, ([-1], [-1]))


def _scaled(t: Tensor, s) -> Tensor:
    return t if s == 1 else t * s


def _add_scaled(op: str, input: Tensor, prod: Tensor, beta, alpha) -> Tensor:
    out_shape = tuple(prod.shape)
    try:
        shape = tuple(xp.broadcast_shapes(tuple(input.shape), out_shape))
    except ValueError:
        shape = None
    if shape != out_shape:
        raise RuntimeError(f"{op}: input of shape {tuple(input.shape)} does not broadcast to the "
                           f"product's shape {out_shape}")
    prod = _scaled(prod, alpha)
    if beta == 0:
        # torch ignores ``input``'s values (nan and inf do not propagate); its gradient is zero
        return prod + where(const_tensor(xp.ones((), bool)), 0.0, input)
    return _scaled(input, beta) + prod


def addmm(input: Tensor, mat1: Tensor, mat2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat1 @ mat2)``.

    Example:
        >>> import ember
        >>> ember.addmm(ember.zeros(2, 2), ember.ones(2, 3), ember.ones(3, 2), alpha=2)
        tensor([[6., 6.],
                [6., 6.]])
    """
    return _add_scaled("addmm", input, mm(mat1, mat2), beta, alpha)


def addmv(input: Tensor, mat: Tensor, vec: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * (mat @ vec)``.

    Example:
        >>> import ember
        >>> ember.addmv(ember.ones(2), ember.ones(2, 3), ember.ones(3))
        tensor([4., 4.])
    """
    return _add_scaled("addmv", input, mv(mat, vec), beta, alpha)


def baddbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * bmm(batch1, batch2)``.

    Example:
        >>> import ember
        >>> ember.baddbmm(ember.zeros(4, 2, 2), ember.ones(4, 2, 3), ember.ones(4, 3, 2)).shape
        ember.Size([4, 2, 2])
    """
    return _add_scaled("baddbmm", input, bmm(batch1, batch2), beta, alpha)


def addbmm(input: Tensor, batch1: Tensor, batch2: Tensor, *, beta=1, alpha=1) -> Tensor:
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``.

    Example:
        >>> import ember
        >>> ember.addbmm(ember.zeros(2, 2), ember.ones(4, 2, 3), ember.ones(4, 3, 2))
        tensor([[12., 12.],
                [12., 12.]])
    """
    _check_ranks("addbmm", batch1, batch2, 3, 3)
    if batch1.shape[0] != batch2.shape[0]:
        raise RuntimeError(f"addbmm: {_shapes(batch1, batch2)}: batch sizes {batch1.shape[0]} "
                           f"and {batch2.shape[0]} differ")
    return _add_scaled("addbmm", input, einsum("bij,bjk->ik", batch1, batch2), beta, alpha)


def chain_matmul(*matrices: Tensor) -> Tensor:
    """The product of a chain of matrices, left to right.

    Example:
        >>> import ember
        >>> ember.chain_matmul(ember.ones(2, 3), ember.ones(3, 4), ember.ones(4, 1)).shape
        ember.Size([2, 1])
    """
    return linalg_multi_dot(list(matrices))


# ---------------------------------------------------------------- einsum, tensordot, kron


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _parse_einsum(equation: str, ndims) -> tuple:
    """Subscripts per operand and for the output, with ``...`` spelt out as letters."""
    eq = equation.replace(" ", "")
    lhs, arrow, rhs = eq.partition("->")
    ins = lhs.split(",")
    if len(ins) != len(ndims):
        raise RuntimeError(f"einsum(): {len(ins)} operands in the equation {equation!r} but "
                           f"{len(ndims)} given")
    for s in ins + [rhs]:
        bad = set(s.replace("...", "")) - set(_LETTERS)
        if bad:
            raise RuntimeError(f"einsum(): invalid subscript given at index "
                               f"{eq.index(sorted(bad)[0])} in the equation string, subscripts "
                               f"must be in [a-zA-Z]")
    free = [c for c in _LETTERS if c not in eq]
    n_ell = 0
    for s, nd in zip(ins, ndims, strict=False):
        if "..." in s:
            n_ell = max(n_ell, nd - (len(s) - 3))
    ell = "".join(free[:n_ell])
    out_ins = []
    for s, nd in zip(ins, ndims, strict=False):
        if "..." in s:
            k = nd - (len(s) - 3)
            s = s.replace("...", ell[n_ell - k:] if k else "")
        if len(s) != nd:
            raise RuntimeError(f"einsum(): the number of subscripts in the equation ({len(s)}) "
                               f"does not match the number of dimensions ({nd}) for operand "
                               f"{len(out_ins)}")
        out_ins.append(s)
    if arrow:
        out = rhs.replace("...", ell)
    else:
        counts = {}
        for s in out_ins:
            for c in s:
                counts[c] = counts.get(c, 0) + 1
        out = ell + "".join(sorted((c for c in counts if counts[c] == 1 and c not in ell),
                                   key=lambda c: (c.isupper(), c)))
    return tuple(out_ins), out


@register
class Einsum(Op):
    """Einstein summation; the gradient of each operand is an einsum of the others."""

    name = "einsum"
    promote = "same"

    @staticmethod
    def forward(ctx, *operands, equation):
        ins, out = _parse_einsum(equation, [o.ndim for o in operands])
        ctx.subs, ctx.out = ins, out
        ctx.shapes = tuple(o.shape for o in operands)
        ctx.save_for_backward(*operands)
        eq = ",".join(ins) + "->" + out
        if len(operands) == 1:
            return xp.einsum(eq, *operands)
        return xp.einsum(eq, *operands, optimize=True)

    @staticmethod
    def backward(ctx, F, g):
        ops = ctx.saved_tensors
        grads = []
        for k, need in enumerate(ctx.needs_input_grad):
            grads.append(_einsum_grad(F, g, ops, ctx, k) if need else None)
        return tuple(grads)


def _einsum_grad(F, g, ops, ctx, k: int):
    subs, out = ctx.subs, ctx.out
    mine = subs[k]
    others = [s for j, s in enumerate(subs) if j != k]
    seen = set(out).union(*others) if others else set(out)
    target = "".join(dict.fromkeys(c for c in mine if c in seen))
    args = [g] + [o for j, o in enumerate(ops) if j != k]
    grad = F.einsum(*args, equation=",".join([out] + others) + "->" + target)
    if target == mine:
        return _broadcast_back(F, grad, ctx.shapes[k])
    # spread over letters summed only in this operand, and onto repeated-letter diagonals
    size = dict(zip(mine, ctx.shapes[k], strict=False))
    spare = iter(c for c in _LETTERS if c not in "".join(subs) + out)
    fresh, consts, csubs, first = "", [], [], {}
    for c in mine:
        if c in first:
            f = next(spare)
            consts.append(xp.eye(size[c], dtype=_np_dtype(grad)))
            csubs.append(first[c] + f)
            fresh += f
            continue
        first[c] = c
        fresh += c
        if c not in target:
            consts.append(xp.ones(size[c], dtype=_np_dtype(grad)))
            csubs.append(c)
    grad = F.einsum(grad, *consts, equation=",".join([target] + csubs) + "->" + fresh)
    return _broadcast_back(F, grad, ctx.shapes[k])


def _broadcast_back(F, grad, shape):
    """Expand dims the other operands had as 1 (``...`` broadcasting); the engine sums the rest."""
    have = tuple(grad.shape)
    if all(h != 1 or s == 1 for h, s in zip(have, shape, strict=True)):
        return grad
    return F.expand(grad, shape=tuple(max(h, s) for h, s in zip(have, shape, strict=True)))


def _np_dtype(a):
    return a._data.dtype if isinstance(a, Tensor) else a.dtype


def einsum(equation: str, *operands) -> Tensor:
    """Einstein summation over the operands, e.g. ``einsum("ij,jk->ik", a, b)``.

    Example:
        >>> import ember
        >>> ember.einsum("ii->", ember.eye(3))
        tensor(3.)
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise RuntimeError("einsum(): must provide at least one operand")
    return Einsum.apply(*operands, equation=equation)


def tensordot(a: Tensor, b: Tensor, dims=2) -> Tensor:
    """Contract the last ``dims`` dims of ``a`` with the first of ``b`` (or listed dim pairs).

    Example:
        >>> import ember
        >>> ember.tensordot(ember.ones(2, 3, 4), ember.ones(3, 4, 5), dims=2).shape
        ember.Size([2, 5])
    """
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
    if len(da) != len(db):
        raise RuntimeError(f"tensordot: both dimension lists should have same length, got "
                           f"{len(da)} and {len(db)}")
    da = [d % max(a.ndim, 1) for d in da]
    db = [d % max(b.ndim, 1) for d in db]
    sa = list(_LETTERS[:a.ndim])
    sb = list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for x, y in zip(da, db, strict=False):
        if a.shape[x] != b.shape[y]:
            raise RuntimeError(f"tensordot: contracted dimensions need to match, but first has "
                               f"size {a.shape[x]} in dim {x} and second has size {b.shape[y]} "
                               f"in dim {y}")
        sb[y] = sa[x]
    out = [c for i, c in enumerate(sa) if i not in da] + [c for i, c in enumerate(sb)
                                                          if i not in db]
    return Einsum.apply(a, b, equation="".join(sa) + "," + "".join(sb) + "->" + "".join(out))


def kron(input: Tensor, other: Tensor) -> Tensor:
    """Kronecker product (blocks ``input[i] * other``).

    Example:
        >>> import ember
        >>> ember.kron(ember.tensor([1, 2]), ember.tensor([1, 10]))
        tensor([ 1, 10,  2, 20])
    """
    nd = max(input.ndim, other.ndim)
    sa = (1,) * (nd - input.ndim) + tuple(input.shape)
    sb = (1,) * (nd - other.ndim) + tuple(other.shape)
    a = input.reshape(tuple(v for s in sa for v in (s, 1)))
    b = other.reshape(tuple(v for s in sb for v in (1, s)))
    return (a * b).reshape(tuple(x * y for x, y in zip(sa, sb, strict=False)))


def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a matrix (integers give int64).

    Example:
        >>> import ember
        >>> ember.trace(ember.tensor([[1, 2], [3, 4]]))
        tensor(5)
    """
    if input.ndim != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.ndim}")
    if input._data.dtype == xp.bool_:
        raise NotImplementedError("\"trace\" not implemented for 'Bool'")
    r, c = input.shape
    if r == c:
        out = Einsum.apply(input, equation="ii->")
    else:
        eye = const_tensor(xp.eye(r, c, dtype=input._data.dtype))
        out = Einsum.apply(input, eye, equation="ij,ij->")
    if out._data.dtype.kind in "biu" and out._data.dtype != xp.int64:
        out = out.to(dtypes.int64)
    return out


def linalg_multi_dot(tensors) -> Tensor:
    """``torch.linalg.multi_dot``: the product of matrices (first and last may be vectors).

    Example:
        >>> import ember
        >>> ember.linalg.multi_dot([ember.ones(3), ember.ones(3, 2), ember.ones(2)])
        tensor(6.)
    """
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = Matmul.apply(out, t)
    return out


def linalg_vecdot(x: Tensor, y: Tensor, *, dim: int = -1) -> Tensor:
    """``torch.linalg.vecdot``: ``sum(x * y, dim)`` with broadcasting.

    Example:
        >>> import ember
        >>> ember.linalg.vecdot(ember.tensor([1.0, 2.0]), ember.tensor([3.0, 4.0]))
        tensor(11.)
    """
    return _sum(x * y, dim)


# ---------------------------------------------------------------- cross products and distances


def linalg_cross(input: Tensor, other: Tensor, *, dim: int = -1) -> Tensor:
    """The cross product of 3-vectors along ``dim`` (other dims broadcast).

    Example:
        >>> import ember
        >>> ember.linalg.cross(ember.tensor([1.0, 0.0, 0.0]), ember.tensor([0.0, 1.0, 0.0]))
        tensor([0., 0., 1.])
    """
    if input.ndim != other.ndim:
        raise RuntimeError("linalg.cross: inputs must have the same number of dimensions.")
    if input.dtype != other.dtype:
        raise RuntimeError(f"expected scalar type {_dname(input)} but found {_dname(other)}")
    d = norm_dim(dim, input.ndim, "linalg.cross")
    if input.shape[d] != 3 or other.shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. "
                           f"Got {input.shape[d]} and {other.shape[d]}")
    a = [narrow(input, d, i, 1) for i in range(3)]
    b = [narrow(other, d, i, 1) for i in range(3)]
    return cat([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2],
                a[0] * b[1] - a[1] * b[0]], d)


def cross(input: Tensor, other: Tensor, dim: int | None = None) -> Tensor:
    """The cross product of 3-vectors along ``dim``.

    Without ``dim`` the first dimension of size 3 is used and a deprecation warning is
    given (as torch; ``linalg.cross`` defaults to the last dimension instead).

    Example:
        >>> import ember
        >>> ember.cross(ember.tensor([[1, 0, 0]]), ember.tensor([[0, 0, 1]]), dim=1)
        tensor([[ 0, -1,  0]])
    """
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\n"
                      "Please either pass the dim explicitly or simply use torch.linalg.cross.\n"
                      "The default value of dim will change to agree with that of linalg.cross "
                      "in a future release.", UserWarning, stacklevel=2)
        dim = next((i for i, n in enumerate(input.shape) if n == 3), None)
        if dim is None:
            raise RuntimeError("no dimension of size 3 in input")
    return linalg_cross(input, other, dim=dim)


_CDIST_MODES = ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                "donot_use_mm_for_euclid_dist")


def cdist(x1: Tensor, x2: Tensor, p: float = 2.0,
          compute_mode: str = "use_mm_for_euclid_dist_if_necessary") -> Tensor:
    """p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M).

    The leading batch dims broadcast; the result is (..., P, R). ``compute_mode`` is
    accepted for torch compatibility (distances are always computed directly).

    Example:
        >>> import ember
        >>> ember.cdist(ember.tensor([[0.0, 0.0]]), ember.tensor([[3.0, 4.0], [1.0, 0.0]]))
        tensor([[5., 1.]])
    """
    for name, t in (("X1", x1), ("X2", x2)):
        if t.ndim < 2:
            raise RuntimeError(f"cdist only supports at least 2D tensors, {name} got: {t.ndim}D")
        if not t.dtype.is_floating_point:
            raise RuntimeError(f"cdist only supports floating-point dtypes, {name} got: "
                               f"{_dname(t)}")
    if x1.shape[-1] != x2.shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: "
                           f"{x1.shape[-1]} X2: {x2.shape[-1]}")
    if x1.dtype != x2.dtype:
        raise RuntimeError(f"expected scalar type {_dname(x1)} but found {_dname(x2)}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in _CDIST_MODES:
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    return vector_norm(unsqueeze(x1, -2) - unsqueeze(x2, -3), float(p), dim=-1)


def dist(input: Tensor, other: Tensor, p: float = 2) -> Tensor:
    """The p-norm of ``input - other`` (broadcasting), as a 0-d tensor.

    Example:
        >>> import ember
        >>> ember.dist(ember.tensor([1.0, 2.0]), ember.tensor([4.0, 6.0]))
        tensor(5.)
    """
    for t in (input, other):
        if not t.dtype.is_floating_point:
            raise RuntimeError("norm(): input dtype should be either floating point or complex. "
                               f"Got {_dname(t)} instead.")
    return vector_norm(input - other, float(p))


install_methods({
    "matmul": matmul, "__matmul__": matmul,
    "__rmatmul__": lambda self, other: matmul(other, self),
    "mm": mm, "bmm": bmm, "mv": mv, "dot": dot, "vdot": vdot, "inner": inner,
    "outer": outer, "ger": ger, "addmm": addmm, "addmv": addmv, "addbmm": addbmm,
    "baddbmm": baddbmm, "kron": kron, "trace": trace, "cross": cross, "dist": dist,
})
