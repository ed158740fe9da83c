"""Attention: ``scaled_dot_product_attention`` and the functional multi-head attention.

Both are composites of ember ops (matmul, add, softmax, dropout), so autograd (including
higher order) comes for free. The one dedicated op is a "safe" softmax whose rows that are
entirely ``-inf`` (every key masked) give zeros instead of NaN, as torch's SDPA does.

Example:
    >>> import ember
    >>> import ember.nn.functional as F
    >>> q = k = v = ember.ones(2, 3, 4)
    >>> F.scaled_dot_product_attention(q, k, v).shape
    ember.Size([2, 3, 4])
"""

from __future__ import annotations

import math
import warnings

from ... import dtypes
from ...backend import xp
from ...ops._util import const_tensor
from ...ops.compare import where
from ...ops.join import cat
from ...ops.registry import ARRAY_NS, Op, register
from ...tensor import Tensor
from ._layers import dropout, linear
from ._pad import pad
from ._softmax import softmax

__all__ = ["scaled_dot_product_attention", "multi_head_attention_forward"]


def _safe_softmax_(s):
    """Softmax over the last dim of a float array, in place; all ``-inf`` rows become 0."""
    if s.size == 0:
        return s
    with xp.errstate(invalid="ignore"):
        m = xp.max(s, axis=-1, keepdims=True)
        # a fully masked row has max -inf; shifting by 0 instead keeps exp(-inf) = 0
        m[xp.isneginf(m)] = 0
        s -= m
    xp.exp(s, out=s)
    total = xp.sum(s, axis=-1, keepdims=True)
    total[total == 0] = 1
    s /= total
    return s


@register
class SafeSoftmax(Op):
    """Softmax over the last dim; rows with no finite entry give zeros (not NaN)."""

    name = "safe_softmax"

    @staticmethod
    def forward(ctx, x):
        out = _safe_softmax_(x.copy())
        ctx.save_for_backward(out)
        return out

    @staticmethod
    def backward(ctx, F, g):
        (out,) = ctx.saved_tensors
        go = g * out
        return go - out * F.sum(go, dim=(-1,), keepdim=True, dtype=None)


def _dtype_name(dt) -> str:
    """torch's C++ spelling of a dtype in SDPA's messages (``float``, ``double``, ...)."""
    names = {"float32": "float", "float64": "double", "float16": "c10::Half",
             "bfloat16": "c10::BFloat16", "int64": "long int", "int32": "int",
             "int16": "short int", "int8": "signed char", "uint8": "unsigned char",
             "bool": "bool"}
    s = str(dt).replace("ember.", "")
    return names.get(s, s)


def _sdpa_check(query: Tensor, key: Tensor, value: Tensor, attn_mask, is_causal: bool) -> None:
    if not (query.dtype == key.dtype == value.dtype):
        raise RuntimeError(f"Expected query, key, and value to have the same dtype, but got "
                           f"query.dtype: {_dtype_name(query.dtype)} key.dtype: "
                           f"{_dtype_name(key.dtype)} and value.dtype: "
                           f"{_dtype_name(value.dtype)} instead.")
    if not query.dtype.is_floating_point:
        raise RuntimeError(f"scaled_dot_product_attention: expected a floating-point query, "
                           f"got {_dtype_name(query.dtype)}")
    if attn_mask is not None:
        if is_causal:
            raise RuntimeError("_scaled_dot_product_attention: Explicit attn_mask should not be "
                               "set when is_causal=True")
        if attn_mask.dtype != dtypes.bool and attn_mask.dtype != query.dtype:
            raise RuntimeError(f"Expected attn_mask dtype to be bool or float or to match query "
                               f"dtype, but got attn_mask.dtype: {_dtype_name(attn_mask.dtype)} "
                               f"and  query.dtype: {_dtype_name(query.dtype)} instead.")
    if query.ndim < 2 or key.ndim < 2 or value.ndim < 2:
        raise RuntimeError(f"Expected query, key, and value to all be  at least 2 dimensional, "
                           f"but got query.dim: {query.ndim} key.dim: {key.ndim} and value.dim: "
                           f"{value.ndim} instead.")
    if query.shape[-1] != key.shape[-1]:
        raise RuntimeError(f"scaled_dot_product_attention: query and key must have the same "
                           f"embedding size, got query {list(query.shape)} and key "
                           f"{list(key.shape)}")
    if key.shape[-2] != value.shape[-2]:
        raise RuntimeError(f"scaled_dot_product_attention: key and value must have the same "
                           f"sequence length, got key {list(key.shape)} and value "
                           f"{list(value.shape)}")


def _repeat_kv(query: Tensor, key: Tensor, value: Tensor) -> tuple:
    """Grouped-query attention: repeat each key/value head for its group of query heads."""
    if query.ndim < 3 or key.ndim < 3 or value.ndim < 3:
        return key, value
    hq, hk, hv = query.shape[-3], key.shape[-3], value.shape[-3]
    if hq % hk or hq % hv:
        raise RuntimeError(f"scaled_dot_product_attention: number of query heads ({hq}) must be "
                           f"divisible by the number of key heads ({hk}) and value heads ({hv}) "
                           f"with enable_gqa=True")
    if hk != hq:
        key = key.repeat_interleave(hq // hk, dim=-3)
    if hv != hq:
        value = value.repeat_interleave(hq // hv, dim=-3)
    return key, value


@register
class ScaledDotProductAttention(Op):
    """``safe_softmax(q @ k.mT * scale + bias) @ v`` as one op.

    Fusing saves the separate scale and mask passes and lets the softmax run in place; the
    first-order backward reuses the attention weights from the forward, while a recorded
    (``create_graph``) backward recomputes them from the inputs so that they stay
    differentiable.
    """

    name = "scaled_dot_product_attention"

    @staticmethod
    def forward(ctx, q, k, v, bias=None, scale=1.0):
        s = xp.matmul(q, xp.swapaxes(k, -1, -2))
        s *= scale
        if bias is not None:
            if xp.broadcast_shapes(s.shape, bias.shape) == s.shape:
                s += bias
            else:
                s = s + bias
        p = _safe_softmax_(s)
        ctx.p, ctx.scale = p, scale
        ctx.save_for_backward(q, k, v, bias)
        return xp.matmul(p, v)

    @staticmethod
    def backward(ctx, F, g):
        q, k, v, bias = ctx.saved_tensors
        scale = ctx.scale
        need = tuple(ctx.needs_input_grad) + (False,)
        if F is ARRAY_NS:
            p = ctx.p
        else:
            s = F.matmul(q, F.swap_last(k)) * scale
            p = F.safe_softmax(s if bias is None else s + bias)
        gq = gk = gv = gb = None
        if need[2]:
            gv = F.matmul(F.swap_last(p), g)
        if need[0] or need[1] or need[3]:
            dp = F.matmul(g, F.swap_last(v))
            ds = p * (dp - F.sum(dp * p, dim=(-1,), keepdim=True, dtype=None))
            if need[0]:
                gq = F.matmul(ds, k) * scale
            if need[1]:
                gk = F.matmul(F.swap_last(ds), q) * scale
            if need[3]:
                gb = ds
        return gq, gk, gv, gb


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor,
                                 attn_mask: Tensor | None = None, dropout_p: float = 0.0,
                                 is_causal: bool = False, scale: float | None = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``softmax(query @ key.mT * scale + mask) @ value`` over any leading batch dims.

    ``query`` is ``(..., L, E)``, ``key`` ``(..., S, E)``, ``value`` ``(..., S, Ev)``; the
    result is ``(..., L, Ev)``. A bool ``attn_mask`` keeps positions where it is True, a
    float mask is added to the scores; ``is_causal`` applies a lower-triangular (top-left
    aligned) mask. ``scale`` defaults to ``1/sqrt(E)``. ``dropout_p`` drops attention weights
    (always, whatever the module mode; pass 0 in evaluation). Query rows whose keys are all
    masked give zeros.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> q = ember.ones(1, 2, 3)
        >>> v = ember.tensor([[[1.0], [3.0]]])
        >>> F.scaled_dot_product_attention(q, q, v, is_causal=True)
        tensor([[[1.],
                 [2.]]])
    """
    _sdpa_check(query, key, value, attn_mask, is_causal)
    if enable_gqa:
        key, value = _repeat_kv(query, key, value)
    n_l, n_s = query.shape[-2], key.shape[-2]
    scale = 1.0 / math.sqrt(query.shape[-1]) if scale is None else float(scale)
    bias = attn_mask
    if is_causal:  # fixed by the shapes: a constant under the JIT
        bias = const_tensor(xp.where(xp.tri(n_l, n_s, dtype=bool), 0.0, -math.inf)
                            .astype(query._data.dtype))
    elif attn_mask is not None and attn_mask.dtype == dtypes.bool:
        bias = where(attn_mask, 0.0, -math.inf).to(query.dtype)
    if dropout_p > 0.0:
        # dropout sits between the softmax and the value product: compose from ops
        scores = (query * scale) @ key.transpose(-2, -1)
        weights = SafeSoftmax.apply(scores if bias is None else scores + bias)
        return dropout(weights, dropout_p, training=True) @ value
    if bias is None:
        return ScaledDotProductAttention.apply(query, key, value, scale=scale)
    return ScaledDotProductAttention.apply(query, key, value, bias, scale=scale)


# ---------------------------------------------------------------- multi-head attention


def _canonical_mask(mask: Tensor | None, mask_name: str, other_type, other_name: str,
                    target_type, check_other: bool = True) -> Tensor | None:
    """A bool mask (True = masked out) becomes an additive float mask of ``target_type``."""
    if mask is None:
        return None
    is_float = mask.dtype.is_floating_point
    if mask.dtype != dtypes.bool and not is_float:
        raise AssertionError(f"only bool and floating types of {mask_name} are supported")
    if check_other and other_type is not None and mask.dtype != other_type:
        warnings.warn(f"Support for mismatched {mask_name} and {other_name} is deprecated. "
                      f"Use same type for both instead.", stacklevel=3)
    if is_float:
        return mask
    return where(mask, -math.inf, 0.0).to(dtypes.to_dtype(target_type))


def _none_or_dtype(t: Tensor | None):
    if t is None:
        return None
    if isinstance(t, Tensor):
        return t.dtype
    raise RuntimeError("input to _none_or_dtype() must be None or ember.Tensor")


def _mha_shape_check(query: Tensor, key: Tensor, value: Tensor, key_padding_mask, attn_mask,
                     num_heads: int) -> bool:
    """Validate shapes as torch does; returns whether the input is batched (3-D)."""
    if query.ndim == 3:
        if key.ndim != 3 or value.ndim != 3:
            raise AssertionError(f"For batched (3-D) `query`, expected `key` and `value` to be "
                                 f"3-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 2:
            raise AssertionError(f"For batched (3-D) `query`, expected `key_padding_mask` to be "
                                 f"`None` or 2-D but found {key_padding_mask.ndim}-D tensor "
                                 f"instead")
        if attn_mask is not None and attn_mask.ndim not in (2, 3):
            raise AssertionError(f"For batched (3-D) `query`, expected `attn_mask` to be `None`, "
                                 f"2-D or 3-D but found {attn_mask.ndim}-D tensor instead")
        return True
    if query.ndim == 2:
        if key.ndim != 2 or value.ndim != 2:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key` and `value` to be "
                                 f"2-D but found {key.ndim}-D and {value.ndim}-D tensors "
                                 f"respectively")
        if key_padding_mask is not None and key_padding_mask.ndim != 1:
            raise AssertionError(f"For unbatched (2-D) `query`, expected `key_padding_mask` to "
                                 f"be `None` or 1-D but found {key_padding_mask.ndim}-D tensor "
                                 f"instead")
        if attn_mask is not None:
            if attn_mask.ndim not in (2, 3):
                raise AssertionError(f"For unbatched (2-D) `query`, expected `attn_mask` to be "
                                     f"`None`, 2-D or 3-D but found {attn_mask.ndim}-D tensor "
                                     f"instead")
            if attn_mask.ndim == 3:
                expected = (num_heads, query.shape[0], key.shape[0])
                if tuple(attn_mask.shape) != expected:
                    raise AssertionError(f"Expected `attn_mask` shape to be {expected} but got "
                                         f"{tuple(attn_mask.shape)}")
        return False
    raise AssertionError(f"query should be unbatched 2D or batched 3D tensor but received "
                         f"{query.ndim}-D query tensor")


def _in_projection(query: Tensor, key: Tensor, value: Tensor, w_q, w_k, w_v, b_q, b_k, b_v
                   ) -> tuple:
    e_q, e_k, e_v = query.shape[-1], key.shape[-1], value.shape[-1]
    for name, w, want in (("query", w_q, (e_q, e_q)), ("key", w_k, (e_q, e_k)),
                          ("value", w_v, (e_q, e_v))):
        if tuple(w.shape) != want:
            raise AssertionError(f"expecting {name} weights shape of {want}, but got "
                                 f"{tuple(w.shape)}")
    return linear(query, w_q, b_q), linear(key, w_k, b_k), linear(value, w_v, b_v)


def _in_projection_packed(query: Tensor, key: Tensor, value: Tensor, w: Tensor,
                          b: Tensor | None) -> tuple:
    e = query.shape[-1]
    if key is value and query is key:
        # self-attention: one GEMM for q, k and v together
        qkv = linear(query, w, b)
        return tuple(qkv.chunk(3, dim=-1))
    w_q, w_k, w_v = w.chunk(3)
    b_q = b_k = b_v = None
    if b is not None:
        b_q, b_k, b_v = b.chunk(3)
    if key is value:
        q = linear(query, w_q, b_q)
        kv = linear(key, w[e:], None if b is None else b[e:])
        k, v = kv.chunk(2, dim=-1)
        return q, k, v
    return _in_projection(query, key, value, w_q, w_k, w_v, b_q, b_k, b_v)


def multi_head_attention_forward(
        query: Tensor, key: Tensor, value: Tensor, embed_dim_to_check: int, num_heads: int,
        in_proj_weight: Tensor | None, in_proj_bias: Tensor | None, bias_k: Tensor | None,
        bias_v: Tensor | None, add_zero_attn: bool, dropout_p: float, out_proj_weight: Tensor,
        out_proj_bias: Tensor | None, training: bool = True,
        key_padding_mask: Tensor | None = None, need_weights: bool = True,
        attn_mask: Tensor | None = None, use_separate_proj_weight: bool = False,
        q_proj_weight: Tensor | None = None, k_proj_weight: Tensor | None = None,
        v_proj_weight: Tensor | None = None, static_k: Tensor | None = None,
        static_v: Tensor | None = None, average_attn_weights: bool = True,
        is_causal: bool = False) -> tuple:
    """Multi-head attention on sequence-first inputs ``(L, N, E)`` (or unbatched ``(L, E)``).

    Masks follow ``nn.MultiheadAttention``: in a bool ``attn_mask`` or ``key_padding_mask``
    True means "may not attend"; float masks are added to the scores. Returns
    ``(attn_output, attn_weights)``; the weights are ``None`` unless ``need_weights``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> x = ember.randn(5, 2, 4)
        >>> w, b = ember.randn(12, 4), ember.zeros(12)
        >>> out, attn = F.multi_head_attention_forward(
        ...     x, x, x, 4, 2, w, b, None, None, False, 0.0, ember.randn(4, 4), None)
        >>> out.shape, attn.shape
        (ember.Size([5, 2, 4]), ember.Size([2, 5, 5]))
    """
    is_batched = _mha_shape_check(query, key, value, key_padding_mask, attn_mask, num_heads)
    if not is_batched:
        query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
        if key_padding_mask is not None:
            key_padding_mask = key_padding_mask.unsqueeze(0)

    tgt_len, bsz, embed_dim = query.shape
    src_len = key.shape[0]
    key_padding_mask = _canonical_mask(key_padding_mask, "key_padding_mask",
                                       _none_or_dtype(attn_mask), "attn_mask", query.dtype)
    if is_causal and attn_mask is None:
        raise RuntimeError("Need attn_mask if specifying the is_causal hint. You may use the "
                           "Transformer module method `generate_square_subsequent_mask` to "
                           "create this mask.")
    if is_causal and key_padding_mask is None and not need_weights:
        # the hint alone drives SDPA's causal path; the explicit mask is not needed
        attn_mask = None
    else:
        attn_mask = _canonical_mask(attn_mask, "attn_mask", None, "", query.dtype,
                                    check_other=False)
        if key_padding_mask is not None:
            is_causal = False

    if embed_dim != embed_dim_to_check:
        raise AssertionError(f"was expecting embedding dimension of {embed_dim_to_check}, but "
                             f"got {embed_dim}")
    head_dim = embed_dim // num_heads
    if head_dim * num_heads != embed_dim:
        raise AssertionError(f"embed_dim {embed_dim} not divisible by num_heads {num_heads}")
    if use_separate_proj_weight:
        if key.shape[:2] != value.shape[:2]:
            raise AssertionError(f"key's sequence and batch dims {tuple(key.shape[:2])} do not "
                                 f"match value's {tuple(value.shape[:2])}")
        if q_proj_weight is None or k_proj_weight is None or v_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is True but q_proj_weight, "
                                 "k_proj_weight or v_proj_weight is None")
        b_q = b_k = b_v = None
        if in_proj_bias is not None:
            b_q, b_k, b_v = in_proj_bias.chunk(3)
        q, k, v = _in_projection(query, key, value, q_proj_weight, k_proj_weight,
                                 v_proj_weight, b_q, b_k, b_v)
    else:
        if key.shape != value.shape:
            raise AssertionError(f"key shape {tuple(key.shape)} does not match value shape "
                                 f"{tuple(value.shape)}")
        if in_proj_weight is None:
            raise AssertionError("use_separate_proj_weight is False but in_proj_weight is None")
        q, k, v = _in_projection_packed(query, key, value, in_proj_weight, in_proj_bias)

    if attn_mask is not None:
        if attn_mask.ndim == 2:
            if tuple(attn_mask.shape) != (tgt_len, src_len):
                raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(tgt_len, src_len)}.")
            attn_mask = attn_mask.unsqueeze(0)
        elif attn_mask.ndim == 3:
            if tuple(attn_mask.shape) != (bsz * num_heads, tgt_len, src_len):
                raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, "
                                   f"but should be {(bsz * num_heads, tgt_len, src_len)}.")
        else:
            raise RuntimeError(f"attn_mask's dimension {attn_mask.ndim} is not supported")

    if bias_k is not None and bias_v is not None:
        if static_k is not None or static_v is not None:
            raise AssertionError("bias cannot be added to static key and value.")
        k = cat([k, bias_k.expand(1, bsz, embed_dim)])
        v = cat([v, bias_v.expand(1, bsz, embed_dim)])
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))
    elif bias_k is not None or bias_v is not None:
        raise AssertionError("bias_k and bias_v must both be given or both be None")

    # (L, N, E) -> (N*H, L, D): heads become extra batch entries
    q = q.reshape(tgt_len, bsz * num_heads, head_dim).transpose(0, 1)
    if static_k is None:
        k = k.reshape(k.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if tuple(static_k.shape[::2]) != (bsz * num_heads, head_dim):
            raise AssertionError(f"expecting static_k of shape ({bsz * num_heads}, *, "
                                 f"{head_dim}), but got {tuple(static_k.shape)}")
        k = static_k
    if static_v is None:
        v = v.reshape(v.shape[0], bsz * num_heads, head_dim).transpose(0, 1)
    else:
        if tuple(static_v.shape[::2]) != (bsz * num_heads, head_dim):
            raise AssertionError(f"expecting static_v of shape ({bsz * num_heads}, *, "
                                 f"{head_dim}), but got {tuple(static_v.shape)}")
        v = static_v

    if add_zero_attn:
        k = cat([k, k.new_zeros((bsz * num_heads, 1, head_dim))], dim=1)
        v = cat([v, v.new_zeros((bsz * num_heads, 1, head_dim))], dim=1)
        if attn_mask is not None:
            attn_mask = pad(attn_mask, (0, 1))
        if key_padding_mask is not None:
            key_padding_mask = pad(key_padding_mask, (0, 1))

    src_len = k.shape[1]
    if key_padding_mask is not None:
        if tuple(key_padding_mask.shape) != (bsz, src_len):
            raise AssertionError(f"expecting key_padding_mask shape of {(bsz, src_len)}, but "
                                 f"got {tuple(key_padding_mask.shape)}")
        key_padding_mask = (key_padding_mask.reshape(bsz, 1, 1, src_len)
                            .expand(-1, num_heads, -1, -1).reshape(bsz * num_heads, 1, src_len))
        attn_mask = key_padding_mask if attn_mask is None else attn_mask + key_padding_mask

    if not training:
        dropout_p = 0.0

    if need_weights:
        q_scaled = q * math.sqrt(1.0 / head_dim)
        scores = q_scaled @ k.transpose(-2, -1)
        if attn_mask is not None:
            scores = attn_mask + scores
        weights = softmax(scores, dim=-1)
        if dropout_p > 0.0:
            weights = dropout(weights, p=dropout_p)
        out = weights @ v
        out = out.transpose(0, 1).reshape(tgt_len * bsz, embed_dim)
        out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
        weights = weights.reshape(bsz, num_heads, tgt_len, src_len)
        if average_attn_weights:
            weights = weights.mean(dim=1)
        if not is_batched:
            out, weights = out.squeeze(1), weights.squeeze(0)
        return out, weights

    if attn_mask is not None:
        if attn_mask.shape[0] == 1 and attn_mask.ndim == 3:
            attn_mask = attn_mask.unsqueeze(0)
        else:
            attn_mask = attn_mask.reshape(bsz, num_heads, -1, src_len)
    q = q.reshape(bsz, num_heads, tgt_len, head_dim)
    k = k.reshape(bsz, num_heads, src_len, head_dim)
    v = v.reshape(bsz, num_heads, src_len, head_dim)
    out = scaled_dot_product_attention(q, k, v, attn_mask, dropout_p, is_causal)
    out = out.permute(2, 0, 1, 3).reshape(bsz * tgt_len, embed_dim)
    out = linear(out, out_proj_weight, out_proj_bias).reshape(tgt_len, bsz, embed_dim)
    if not is_batched:
        out = out.squeeze(1)
    return out, None
