"""Functional forms of the basic layers: linear, bilinear, dropout, embedding, one_hot,
normalize, cosine_similarity, pairwise_distance.

Example:
    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.linear(ember.ones(2, 3), ember.ones(4, 3), ember.zeros(4))
    tensor([[3., 3., 3., 3.],
            [3., 3., 3., 3.]])
"""

from __future__ import annotations

from ...autograd.grad_mode import no_grad
from ...backend import xp
from ...ops._util import const_tensor
from ...ops.registry import OPS, Op, apply_inplace, dispatch, register
from ...tensor import Tensor

__all__ = ["linear", "bilinear", "identity", "dropout", "dropout1d", "dropout2d", "dropout3d",
           "alpha_dropout", "feature_alpha_dropout", "embedding", "embedding_bag", "one_hot",
           "normalize", "cosine_similarity", "pairwise_distance"]

#: ember.backend.cgemm once imported (on first use: it loads the compiler machinery)
_cgemm = None

_TYPE_WORD = {"f": "Float", "i": "Long", "u": "Byte", "b": "Bool"}


def _dtype_word(dt) -> str:
    return {"float64": "Double", "float16": "Half", "int32": "Int", "int16": "Short",
            "int8": "Char"}.get(str(dt), _TYPE_WORD.get(dt.kind, str(dt)))


# ---------------------------------------------------------------- linear


def _c_linear(x, w, b):
    """``x @ w.T + b`` by a C kernel of ``ember.backend.cgemm`` for 2-D ``x`` (a flattened
    batch), or None where none applies (no C compiler, other dtypes, sizes or layouts): up
    to mid-sized layers they beat BLAS's call, blocking and threading."""
    global _cgemm
    if _cgemm is None:
        from ...backend import cgemm as _cgemm
    if x.dtype.char not in "fd":
        return None
    return _cgemm.c_linear(x, w, b)     # one thread: BLAS may run next (see c_linear)


@register
class Linear(Op):
    """``x @ w.T + b`` as one GEMM on the flattened batch plus an in-place bias add; a C
    kernel for 2-D inputs up to mid sizes (``ember.backend.cgemm.c_linear``)."""

    name = "linear"

    @staticmethod
    def forward(ctx, x, w, b=None):
        if x.dtype != w.dtype or (b is not None and b.dtype != x.dtype):
            other = w.dtype if x.dtype != w.dtype else b.dtype
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got "
                               f"{_dtype_word(x.dtype)} and {_dtype_word(other)}")
        if x.ndim == 0 or w.ndim != 2 or x.shape[-1] != w.shape[1]:
            rows = 1 if x.ndim < 2 else x.size // max(x.shape[-1], 1)
            cols = x.shape[-1] if x.ndim else 1
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{cols} and "
                               f"{'x'.join(str(s) for s in w.shape[::-1])})")
        ctx.save_for_backward(x, w)
        if x.ndim >= 2:
            out = _c_linear(x.reshape(-1, x.shape[-1]) if x.ndim > 2 else x, w, b)
            if out is not None:
                return out.reshape(x.shape[:-1] + (w.shape[0],)) if x.ndim > 2 else out
        if x.ndim > 2:
            out = xp.matmul(x.reshape(-1, x.shape[-1]), w.T).reshape(x.shape[:-1] + (w.shape[0],))
        else:
            out = xp.matmul(x, w.T)
        if b is not None:
            if out.ndim:
                out += b
            else:
                out = out + b
        return out

    @staticmethod
    def backward(ctx, F, g):
        x, w = ctx.saved_tensors
        nx, nw, nb = (tuple(ctx.needs_input_grad) + (False,))[:3]
        gx = gw = gb = None
        if nx:
            gx = F.matmul(g, w)
        if nw or nb:
            out_f = w.shape[0]
            g2 = F.reshape(g, shape=(-1, out_f)) if g.ndim != 2 else g
            if nw:
                x2 = F.reshape(x, shape=(-1, w.shape[1])) if x.ndim != 2 else x
                gw = F.matmul(F.swap_last(g2), x2)
            if nb:
                gb = F.sum(g2, dim=(0,), keepdim=False)
        return gx, gw, gb


def linear(input: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``input @ weight.T + bias``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.linear(ember.ones(5, 3), ember.ones(2, 3)).shape
        ember.Size([5, 2])
    """
    if bias is None:
        return Linear.apply(input, weight)
    return Linear.apply(input, weight, bias)


def bilinear(input1: Tensor, input2: Tensor, weight: Tensor, bias: Tensor | None = None
             ) -> Tensor:
    """``y[..., o] = sum_ij x1[..., i] * weight[o, i, j] * x2[..., j] + bias[o]``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.bilinear(ember.ones(4, 2), ember.ones(4, 3), ember.ones(5, 2, 3)).shape
        ember.Size([4, 5])
    """
    if weight.ndim != 3:
        raise RuntimeError(f"bilinear(): weight must be 3-dimensional, got {weight.ndim}D")
    out_f, in1, in2 = weight.shape
    if input1.shape[:-1] != input2.shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got "
                           f"{list(input1.shape[:-1])} and {list(input2.shape[:-1])}")
    if input1.shape[-1] != in1 or input2.shape[-1] != in2:
        raise RuntimeError(f"bilinear(): input sizes {input1.shape[-1]} and {input2.shape[-1]} "
                           f"do not match weight size {list(weight.shape)}")
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, 1, in2)
    # (N, in1) @ (in1, out*in2) contracts i with one GEMM; the j contraction is a multiply-sum
    wmat = weight.permute(1, 0, 2).reshape(in1, out_f * in2)
    t = (x1 @ wmat).reshape(-1, out_f, in2)
    y = (t * x2).sum(-1)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))


def identity(input: Tensor) -> Tensor:
    """Return the input unchanged.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.identity(ember.ones(2))
        tensor([1., 1.])
    """
    return input


# ---------------------------------------------------------------- dropout


_DROPOUT_MASK = OPS["dropout_mask"]


def _check_p(p: float) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _keep_mask(x: Tensor, p: float, shape: tuple, scale: float = 1.0) -> Tensor:
    """A mask of ``shape`` in x's dtype: ``scale`` where kept (probability 1-p), 0 where
    dropped; drawn by the ``dropout_mask`` op so a dispatch mode sees the draw."""
    return dispatch(_DROPOUT_MASK, (), {"shape": shape, "p": p, "dtype": x.dtype,
                                        "scale": scale})


def _apply_mask(input: Tensor, mask: Tensor, inplace: bool) -> Tensor:
    if inplace:
        return apply_inplace(OPS["mul"], input, mask)
    return input * mask


def _dropout(input: Tensor, p: float, training: bool, inplace: bool, shape: tuple) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        mask = const_tensor(xp.zeros(shape, input._data.dtype))
    else:
        mask = _keep_mask(input, p, shape, 1.0 / (1.0 - p))
    return _apply_mask(input, mask, inplace)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
            ) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)``
    (identity when not ``training``).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.dropout(ember.ones(3), 0.5, training=False)
        tensor([1., 1., 1.])
    """
    return _dropout(input, p, training, inplace, tuple(input.shape))


def _feature_shape(input: Tensor, batched: bool) -> tuple:
    shape = tuple(input.shape)
    if batched:
        return shape[:2] + (1,) * (len(shape) - 2)
    return shape[:1] + (1,) * (len(shape) - 1)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
              ) -> Tensor:
    """Zero whole channels of a ``(N, C, L)`` or ``(C, L)`` input with probability ``p``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.dropout1d(ember.ones(2, 3, 4), training=False).shape
        ember.Size([2, 3, 4])
    """
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D "
                           f"input. Note that dropout1d exists to provide channel-wise dropout "
                           f"on inputs with 1 spatial dimension, a channel dimension, and an "
                           f"optional batch dimension (i.e. 2D or 3D inputs).")
    return _dropout(input, p, training, inplace, _feature_shape(input, input.ndim == 3))


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
              ) -> Tensor:
    """Zero whole channels of a ``(N, C, H, W)`` input with probability ``p`` (a 3-D input
    is read as ``(N, C, L)``, as torch does).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.dropout2d(ember.ones(2, 3, 4, 4), training=False).shape
        ember.Size([2, 3, 4, 4])
    """
    if input.ndim < 2:
        raise RuntimeError(f"dropout2d: Expected 3D or 4D input, but received a {input.ndim}D "
                           f"input")
    return _dropout(input, p, training, inplace, _feature_shape(input, True))


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False
              ) -> Tensor:
    """Zero whole channels of a ``(N, C, D, H, W)`` or ``(C, D, H, W)`` input.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.dropout3d(ember.ones(1, 2, 2, 2, 2), training=False).shape
        ember.Size([1, 2, 2, 2, 2])
    """
    if input.ndim not in (4, 5):
        raise RuntimeError(f"dropout3d: Expected 4D or 5D input, but received a {input.ndim}D "
                           f"input")
    return _dropout(input, p, training, inplace, _feature_shape(input, input.ndim == 5))


_SELU_ALPHA_SCALE = 1.7580993408473766  # SELU's scale * alpha: where dropped units go


def _alpha_dropout(input: Tensor, p: float, training: bool, inplace: bool, shape: tuple
                   ) -> Tensor:
    _check_p(p)
    if not training or p == 0.0:
        return input
    if p == 1.0:
        return _apply_mask(input, const_tensor(xp.zeros(shape, input._data.dtype)), inplace)
    keep = _keep_mask(input, p, shape)
    a = 1.0 / ((_SELU_ALPHA_SCALE ** 2 * p + 1.0) * (1.0 - p)) ** 0.5
    # kept: a * x + alpha*a*p; dropped: -alpha*a + alpha*a*p (keeps SELU's mean and variance)
    shift = (keep - 1.0) * (_SELU_ALPHA_SCALE * a) + _SELU_ALPHA_SCALE * a * p
    out = _apply_mask(input, keep * a, inplace)
    if inplace:
        return apply_inplace(OPS["add"], out, shift)
    return out + shift


def alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False, inplace: bool = False
                  ) -> Tensor:
    """Dropout that keeps the mean and variance of SELU activations.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.alpha_dropout(ember.ones(3), 0.5, training=False)
        tensor([1., 1., 1.])
    """
    return _alpha_dropout(input, p, training, inplace, tuple(input.shape))


def feature_alpha_dropout(input: Tensor, p: float = 0.5, training: bool = False,
                          inplace: bool = False) -> Tensor:
    """Alpha dropout of whole channels (dim 1).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.feature_alpha_dropout(ember.ones(2, 3), training=False).shape
        ember.Size([2, 3])
    """
    return _alpha_dropout(input, p, training, inplace, _feature_shape(input, True))


# ---------------------------------------------------------------- embedding


@register
class Embedding(Op):
    """Rows of ``weight`` picked by integer ``indices``."""

    name = "embedding"

    @staticmethod
    def forward(ctx, weight, indices, padding_idx=None):
        ctx.save_for_backward(indices)
        ctx.num_weights, ctx.padding_idx = weight.shape[0], padding_idx
        return xp.take(weight, indices, axis=0)

    @staticmethod
    def backward(ctx, F, g):
        (indices,) = ctx.saved_tensors
        return F.embedding_backward(g, indices, num_weights=ctx.num_weights,
                                    padding_idx=ctx.padding_idx), None


@register
class EmbeddingBackward(Op):
    """Scatter-add of output gradients into the rows they came from (padding row zero)."""

    name = "embedding_backward"

    @staticmethod
    def forward(ctx, g, indices, num_weights, padding_idx=None):
        ctx.save_for_backward(indices)
        ctx.padding_idx = padding_idx
        row = g.shape[indices.ndim:]
        out = xp.zeros((num_weights,) + row, g.dtype)
        flat_idx = indices.reshape(-1)
        xp.add.at(out.reshape(num_weights, -1), flat_idx, g.reshape(flat_idx.size, -1))
        if padding_idx is not None:
            out[padding_idx] = 0
        return out

    @staticmethod
    def backward(ctx, F, gg):
        (indices,) = ctx.saved_tensors
        out = F.embedding(gg, indices)
        if ctx.padding_idx is not None:
            idx = indices if not isinstance(indices, Tensor) else indices._data
            keep = (idx != ctx.padding_idx).astype(out.dtype if not isinstance(out, Tensor)
                                                   else out._data.dtype)
            keep = keep.reshape(keep.shape + (1,) * (out.ndim - keep.ndim))
            out = out * (Tensor._make(keep) if isinstance(out, Tensor) else keep)
        return out, None


@register
class EmbeddingRenorm(Op):
    """``weight`` with the rows referenced by ``indices`` whose norm exceeds ``max_norm``
    rescaled to it: run in place (``apply_inplace``) by ``embedding(max_norm=...)``."""

    name = "embedding_renorm"
    differentiable = False

    @staticmethod
    def forward(ctx, weight, indices, max_norm, norm_type):
        out = weight.copy()
        rows = xp.unique(indices.reshape(-1))
        sub = weight[rows]
        flat = sub.reshape(len(rows), -1)
        if norm_type == float("inf"):
            norms = xp.abs(flat).max(axis=1)
        else:
            norms = (xp.abs(flat) ** norm_type).sum(axis=1) ** (1.0 / norm_type)
        over = norms > max_norm
        if over.any():
            scale = (max_norm / (norms[over] + 1e-7)).astype(weight.dtype)
            out[rows[over]] = sub[over] * scale.reshape((-1,) + (1,) * (weight.ndim - 1))
        return out


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None,
              max_norm: float | None = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Look up rows of ``weight`` at the integer ``input`` indices. The ``padding_idx``
    row gets no gradient; ``max_norm`` renormalises the looked-up rows in place.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.embedding(ember.tensor([2, 0]), ember.arange(6.0).reshape(3, 2))
        tensor([[4., 5.],
                [0., 1.]])
    """
    if not isinstance(input, Tensor) or input._data.dtype.kind not in "iu":
        dt = input.dtype if isinstance(input, Tensor) else type(input).__name__
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the "
                           f"following scalar types: Long, Int; but got {dt} instead (while "
                           f"checking arguments for embedding)")
    if scale_grad_by_freq:
        raise NotImplementedError("ember: embedding(scale_grad_by_freq=True) is not supported")
    if sparse:
        raise NotImplementedError("ember: sparse embedding gradients are not supported")
    n = weight.shape[0]
    if padding_idx is not None:
        if padding_idx > 0:
            if padding_idx >= n:
                raise AssertionError("Padding_idx must be within num_embeddings")
        elif padding_idx < 0:
            if padding_idx < -n:
                raise AssertionError("Padding_idx must be within num_embeddings")
            padding_idx = n + padding_idx
    idx = input._data
    if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= n):
        raise IndexError("index out of range in self")
    if max_norm is not None:
        with no_grad():
            apply_inplace(EmbeddingRenorm, weight, input, max_norm=max_norm, norm_type=norm_type)
    return Embedding.apply(weight, input, padding_idx=padding_idx)


def _bags(input: Tensor, offsets: Tensor | None, include_last_offset: bool):
    """Flat indices and the bag number of each (``(N,)`` arrays) plus the bag count."""
    idx = input._data
    if idx.ndim == 2:
        if offsets is not None:
            raise ValueError(f"if input is 2D, then offsets has to be None, as input is treated "
                             f"is a mini-batch of fixed length sequences. However, found offsets "
                             f"of type {type(offsets)}")
        n_bags, length = idx.shape
        return idx.reshape(-1), xp.repeat(xp.arange(n_bags), length), n_bags
    if idx.ndim != 1:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension "
                         f"{idx.ndim}")
    if offsets is None:
        raise ValueError("offsets has to be a 1D Tensor but got None")
    off = offsets._data.astype(xp.int64)
    if off.ndim != 1:
        raise ValueError("offsets has to be a 1D Tensor")
    end = idx.shape[0]
    if include_last_offset:
        # the last offset ends the last bag: entries after it belong to no bag
        end = min(int(off[-1]), end) if off.shape[0] else 0
        off = off[:-1]
    n_bags = off.shape[0]
    if n_bags and int(off[0]) != 0:
        raise RuntimeError(f"offsets[0] has to be 0, i.e., the first sequence in the mini-batch "
                           f"has to start from position 0. However, got {int(off[0])}")
    bag_of = xp.searchsorted(off, xp.arange(end), side="right") - 1
    return idx[:end], bag_of, n_bags


def embedding_bag(input: Tensor, weight: Tensor, offsets: Tensor | None = None,
                  max_norm: float | None = None, norm_type: float = 2,
                  scale_grad_by_freq: bool = False,
                  mode: str = "mean", sparse: bool = False,
                  per_sample_weights: Tensor | None = None, include_last_offset: bool = False,
                  padding_idx: int | None = None) -> Tensor:
    """Sums, means or maxes of bags of embeddings, without materialising each bag.

    Bags are the rows of a 2-D ``input``, or the slices of a 1-D ``input`` that start at
    ``offsets``; entries equal to ``padding_idx`` are left out and empty bags give zeros.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> w = ember.arange(6.0).reshape(3, 2)
        >>> F.embedding_bag(ember.tensor([0, 2, 1]), w, ember.tensor([0, 2]), mode="sum")
        tensor([[4., 6.],
                [2., 3.]])
    """
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max, but got {mode}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. "
                                      f"per_sample_weights is only supported for mode='sum' "
                                      f"(got mode='{mode}'). Please open a feature request on "
                                      f"the Pytorch GitHub.")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({per_sample_weights.shape})"
                             f" is not None, then it must have the same shape as the input "
                             f"({input.shape})")
    idx, bag_of, n_bags = _bags(input, offsets, include_last_offset)
    if padding_idx is not None and padding_idx < 0:
        padding_idx += weight.shape[0]
    keep = xp.ones(idx.shape[0], bool) if padding_idx is None else idx != padding_idx
    dt = weight._data.dtype
    dim = weight.shape[1]
    if mode == "max":
        # gather each bag into a padded (bags, longest, dim) block and take the max over it
        kept = xp.flatnonzero(keep)
        counts = xp.bincount(bag_of[kept], minlength=n_bags)
        longest = max(int(counts.max()) if n_bags else 0, 1)
        starts = xp.cumsum(counts) - counts
        slot = bag_of[kept] * longest + (xp.arange(kept.size) - starts[bag_of[kept]])
        gidx = xp.zeros(n_bags * longest, idx.dtype)
        gidx[slot] = idx[kept]
        empty_slot = xp.ones(n_bags * longest, bool)
        empty_slot[slot] = False
        block = embedding(Tensor._make(gidx.reshape(n_bags, longest)), weight, None, max_norm,
                          norm_type, scale_grad_by_freq, sparse)
        block = block.masked_fill(Tensor._make(empty_slot.reshape(n_bags, longest, 1)),
                                  float("-inf"))
        return block.amax(1).masked_fill(Tensor._make((counts == 0)[:, None]), 0.0)
    rows = embedding(Tensor._make(idx), weight, None, max_norm, norm_type, scale_grad_by_freq,
                     sparse)
    if per_sample_weights is not None:
        rows = rows * per_sample_weights.reshape(-1, 1)
    # one (bags x entries) matrix product sums (or averages) every bag at once
    scale = keep.astype(dt)
    if mode == "mean":
        counts = xp.bincount(bag_of[keep], minlength=n_bags).astype(dt)
        scale = scale / xp.maximum(counts, 1)[bag_of]
    seg = xp.zeros((n_bags, idx.shape[0]), dt)
    seg[bag_of, xp.arange(idx.shape[0])] = scale
    out = Tensor._make(seg) @ rows
    return out if idx.shape[0] else out.reshape(n_bags, dim)


# ---------------------------------------------------------------- one_hot


@register
class OneHot(Op):
    name = "one_hot"
    differentiable = False

    @staticmethod
    def forward(ctx, x, num_classes):
        out = xp.zeros(x.shape + (num_classes,), xp.int64)
        xp.put_along_axis(out, x[..., None].astype(xp.int64), 1, axis=-1)
        return out


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """One-hot encode int64 class indices: shape ``(*, num_classes)``, int64.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.one_hot(ember.tensor([0, 2]), 3)
        tensor([[1, 0, 0],
                [0, 0, 1]])
    """
    x = tensor._data
    if x.dtype != xp.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    if x.size == 0:
        if num_classes == -1:
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    else:
        if int(x.min()) < 0:
            raise RuntimeError("Class values must be non-negative.")
        if num_classes == -1:
            num_classes = int(x.max()) + 1
        elif int(x.max()) >= num_classes:
            raise RuntimeError("Class values must be smaller than num_classes.")
    return OneHot.apply(tensor, num_classes=int(num_classes))


# ---------------------------------------------------------------- distances


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12,
              out: Tensor | None = None) -> Tensor:
    """Divide by the ``p``-norm over ``dim`` (at least ``eps``).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.normalize(ember.tensor([[3.0, 4.0]]))
        tensor([[0.6000, 0.8000]])
    """
    if out is not None:
        raise NotImplementedError("ember: normalize(out=...) is not supported")
    denom = input.norm(p, dim, keepdim=True).clamp_min(eps)
    return input / denom


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """Cosine of the angle between ``x1`` and ``x2`` along ``dim`` (broadcasting).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.cosine_similarity(ember.tensor([[1.0, 0.0]]), ember.tensor([[1.0, 1.0]]))
        tensor([0.7071])
    """
    n1 = x1.norm(2, dim, keepdim=True).clamp_min(eps)
    n2 = x2.norm(2, dim, keepdim=True).clamp_min(eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """The ``p``-norm of ``x1 - x2 + eps`` over the last dim.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.pairwise_distance(ember.tensor([[0.0, 0.0]]), ember.tensor([[3.0, 4.0]]))
        tensor([5.0000])
    """
    nd = max(x1.ndim, x2.ndim)
    return (x1 - x2 + eps).norm(p, -1 if nd else 0, keepdim=keepdim)
