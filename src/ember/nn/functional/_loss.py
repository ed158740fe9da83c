"""Loss functions (``ember.nn.functional.*_loss``), with torch's semantics.

Cross-entropy is the hot path of classification training, so class-index targets
run as one fused table op (``cross_entropy_indices``: log-softmax, pick, weight,
ignore and label smoothing in one pass, backward ``(softmax - target) * scale``).
Class-probability targets, ``nll_loss`` and the two binary cross-entropies are
table ops as well; the remaining losses are composed from other ops.
"""

from __future__ import annotations

import math
import warnings

from ...backend import xp
from ...ops._util import const_tensor
from ...ops.registry import Op, register
from ...tensor import Tensor

__all__ = [
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "kl_div",
    "cosine_embedding_loss", "margin_ranking_loss", "triplet_margin_loss", "soft_margin_loss",
    "hinge_embedding_loss", "poisson_nll_loss", "gaussian_nll_loss",
]

_REDUCTIONS = ("none", "mean", "sum")


# ---------------------------------------------------------------- reduction helpers


def _legacy_reduction(size_average, reduce, reduction: str) -> str:
    """Map the deprecated ``size_average``/``reduce`` pair onto ``reduction``, as torch does."""
    if size_average is None and reduce is None:
        return reduction
    reduction = _legacy_to_string(size_average, reduce)
    warnings.warn(f"size_average and reduce args will be deprecated, please use "
                  f"reduction='{reduction}' instead.", stacklevel=3)
    return reduction


def _legacy_to_string(size_average, reduce) -> str:
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if size_average and reduce:
        return "mean"
    return "sum" if reduce else "none"


def _check_reduction(reduction: str, allowed=_REDUCTIONS) -> None:
    if reduction not in allowed:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    _check_reduction(reduction)
    if reduction == "none":
        return loss
    return loss.mean() if reduction == "mean" else loss.sum()


def _warn_broadcast(input: Tensor, target: Tensor) -> None:
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size "
                      f"({input.shape}). This will likely lead to incorrect results due to "
                      "broadcasting. Please ensure they have the same size.", stacklevel=3)


# ---------------------------------------------------------------- regression losses


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
             reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean squared error ``(input - target) ** 2``, reduced.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.mse_loss(ember.tensor([1.0, 2.0]), ember.tensor([0.0, 0.0]))
        tensor(2.5000)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_broadcast(input, target)
    d = input - target
    return _weighted(d * d, weight, reduction, normalise=True)


def l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
            reduction: str = "mean", weight: Tensor | None = None) -> Tensor:
    """Mean absolute error ``|input - target|``, reduced.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.l1_loss(ember.tensor([1.0, -3.0]), ember.tensor([0.0, 0.0]))
        tensor(2.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    _warn_broadcast(input, target)
    return _weighted((input - target).abs(), weight, reduction, normalise=True)


def _weighted(loss: Tensor, weight, reduction: str, normalise: bool) -> Tensor:
    """Apply an elementwise ``weight``; ``normalise`` makes 'mean' divide by the weights' sum."""
    if weight is None:
        return _reduce(loss, reduction)
    if weight.shape != loss.shape:
        raise ValueError("Weights and input must have the same size.")
    loss = loss * weight
    if reduction == "mean" and normalise:
        return loss.sum() / weight.sum()
    return _reduce(loss, reduction)


def smooth_l1_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Smooth L1: ``0.5 d**2 / beta`` where ``|d| < beta``, else ``|d| - 0.5 beta``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.smooth_l1_loss(ember.tensor([0.5, 3.0]), ember.zeros(2), reduction="none")
        tensor([0.1250, 2.5000])
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if beta < 0:
        raise RuntimeError("smooth_l1_loss does not support negative values for beta.")
    _warn_broadcast(input, target)
    d = input - target
    a = d.abs()
    if beta == 0:
        return _reduce(a, reduction)
    from ...ops.compare import where
    return _reduce(where(a < beta, d * d * (0.5 / beta), a - 0.5 * beta), reduction)


def huber_loss(input: Tensor, target: Tensor, reduction: str = "mean", delta: float = 1.0,
               weight: Tensor | None = None) -> Tensor:
    """Huber: ``0.5 d**2`` where ``|d| < delta``, else ``delta (|d| - 0.5 delta)``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.huber_loss(ember.tensor([0.5, 3.0]), ember.zeros(2), reduction="none", delta=2.0)
        tensor([0.1250, 4.0000])
    """
    _check_reduction(reduction)
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _warn_broadcast(input, target)
    from ...ops.compare import where
    d = input - target
    a = d.abs()
    loss = where(a < delta, d * d * 0.5, (a - 0.5 * delta) * delta)
    return _weighted(loss, weight, reduction, normalise=False)


# ---------------------------------------------------------------- class-index targets


def _dtype_word(dt) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long",
            "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "bool": "Bool"}.get(str(dt), str(dt))


def _check_index_args(x: Tensor, target, weight) -> None:
    """torch's argument checks for class-index losses (before the op runs)."""
    x, t = x._data, target
    if t.dtype != xp.int64 and t.dtype != xp.uint8:
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got "
                           f"{_dtype_word(t.dtype)}")
    if x.ndim == 0:
        raise ValueError(f"Expected 1 or more dimensions (got {x.ndim})")
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    if x.ndim == 1:
        if t.ndim > 1 or (t.ndim == 1 and t.shape[0] != 1):
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: "
                             f"{t.shape[0] if t.ndim == 1 else list(t.shape)}")
    else:
        if t.ndim == 0 or x.shape[0] != t.shape[0]:
            raise ValueError(f"Expected input batch_size ({x.shape[0]}) to match target "
                             f"batch_size ({t.shape[0] if t.ndim else 0}).")
        if t.shape != x.shape[:1] + x.shape[2:]:
            raise RuntimeError(f"Expected target size {list(x.shape[:1] + x.shape[2:])}, got "
                               f"{list(t.shape)}")
    if weight is not None:
        if weight._data.dtype != x.dtype:
            raise RuntimeError(f"expected scalar type {_dtype_word(x.dtype)} but found "
                               f"{_dtype_word(weight._data.dtype)}")
        if weight.shape != (n_classes,):
            raise RuntimeError(f"weight tensor should be defined either for all {n_classes} "
                               f"classes or no classes but got weight tensor of shape: "
                               f"{list(weight.shape)}")


def _index_setup(x, target, weight, ignore_index: int):
    """Build the per-class coefficient table of a (checked) class-index problem.

    Returns ``(x2, coef, wt, wsum, valid)``: ``x2`` is the input with a batch dim,
    ``coef`` has its shape and holds ``w[t]`` at each sample's target class (zero
    elsewhere and on ignored samples), ``wt`` is those weights per sample and
    ``wsum`` their total (the 'mean' denominator).
    """
    n_classes = x.shape[0] if x.ndim == 1 else x.shape[1]
    x2, t = (x.reshape(1, n_classes), target.reshape(1)) if x.ndim == 1 else (x, target)
    if t.dtype != xp.int64:
        t = t.astype(xp.int64)
    valid = t != ignore_index
    every = bool(valid.all())
    safe = t if every else xp.where(valid, t, 0)
    if safe.size and (safe.min() < 0 or safe.max() >= n_classes):
        raise IndexError(f"Target {int(safe[(safe < 0) | (safe >= n_classes)][0])} is out of "
                         "bounds.")
    if weight is None:
        wt = valid.astype(x.dtype)
    else:
        wt = weight[safe] if every else xp.where(valid, weight[safe], 0).astype(x.dtype)
    # the targets one-hot along the class axis (1), scaled by their class weights
    coef = xp.zeros(x2.shape, x.dtype)
    if x2.ndim == 2:
        coef[xp.arange(x2.shape[0]), safe] = wt
    else:
        xp.put_along_axis(coef, safe[:, None], wt[:, None], axis=1)
    return x2, coef, wt, float(wt.sum()), valid


def _log_softmax_arr(x, axis: int, probs: bool = True):
    """``(log_softmax(x), softmax(x))`` along ``axis`` (softmax only if ``probs``)."""
    m = x.max(axis=axis, keepdims=True) if x.size else x.sum(axis=axis, keepdims=True)
    z = x - m
    e = xp.exp(z)
    s = e.sum(axis=axis, keepdims=True)
    return z - xp.log(s), (e / s if probs else None)


def _softmax_F(F, x, axis: int):
    """Softmax written with table ops, so it is differentiable again (create_graph)."""
    data = x._data if isinstance(x, Tensor) else x
    # a constant shift: softmax is shift-invariant, so the gradient is unaffected
    m = data.max(axis=axis, keepdims=True) if data.size else 0.0
    e = F.exp(x - m)
    return e / F.sum(e, dim=(axis,), keepdim=True)


def _log_softmax_F(F, x, axis: int):
    data = x._data if isinstance(x, Tensor) else x
    m = data.max(axis=axis, keepdims=True) if data.size else 0.0
    z = x - m
    return z - F.log(F.sum(F.exp(z), dim=(axis,), keepdim=True))


def _mean(total, denom: float):
    """``total / denom``, NaN (not a warning) for an empty denominator as in torch."""
    return total / denom if denom else total * math.nan


def _grad_scale(g, reduction: str, denom: float, any_valid: bool):
    """Broadcast the incoming gradient over the class axis (and apply the 'mean' divisor).

    With every target ignored torch's gradient is zero; with zero total weight it is NaN.
    """
    if reduction == "none":
        return g.unsqueeze(1) if isinstance(g, Tensor) else xp.expand_dims(g, 1)
    if reduction == "mean":
        return g / denom if denom else g * (math.nan if any_valid else 0.0)
    return g


@register
class CrossEntropyIndices(Op):
    """Fused log-softmax + negative log-likelihood for class-index targets.

    Inputs: logits ``(C,)`` or ``(N, C, d1, ...)``, integer targets, optional class weights.
    """

    name = "cross_entropy_indices"

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing):
        x2, coef, wt, wsum, valid = _index_setup(x, target, weight, ignore_index)
        n_classes = x2.shape[1]
        logp, probs = _log_softmax_arr(x2, 1, ctx.recording)
        if label_smoothing > 0.0:
            # smoothing spreads eps/C of each target's mass over all classes (weighted)
            eps = label_smoothing
            spread = xp.ones((1, n_classes) + (1,) * (x2.ndim - 2), x.dtype) if weight is None \
                else weight.reshape((1, n_classes) + (1,) * (x2.ndim - 2))
            spread = spread * valid[:, None].astype(x.dtype)
            coef = coef * (1.0 - eps) + spread * (eps / n_classes)
            csum = coef.sum(axis=1, keepdims=True)
        else:
            csum = wt[:, None]
        per = -(logp * coef).sum(axis=1)
        if reduction == "none":
            out = per.reshape(()) if x.ndim == 1 else per
        elif reduction == "sum":
            out = per.sum()
        else:
            out = _mean(per.sum(), wsum)
        if ctx.recording:
            ctx.reduction, ctx.denom, ctx.x_ndim = reduction, wsum, x.ndim
            ctx.any_valid = bool(valid.any())
            ctx.save_for_backward(x, probs, coef, csum)
        return xp.asarray(out, x.dtype)

    @staticmethod
    def backward(ctx, F, g):
        x, probs, coef, csum = ctx.saved_tensors
        if isinstance(x, Tensor):
            x2 = x.reshape(probs.shape) if ctx.x_ndim == 1 else x
            probs = _softmax_F(F, x2, 1)
        if ctx.reduction == "none" and ctx.x_ndim == 1:
            gs = g
        else:
            gs = _grad_scale(g, ctx.reduction, ctx.denom, ctx.any_valid)
        grad = (probs * csum - coef) * gs
        if ctx.x_ndim == 1:
            grad = F.reshape(grad, shape=tuple(x.shape))
        return grad, None, None


@register
class CrossEntropyProbs(Op):
    """Cross-entropy against class probabilities (soft targets) of the input's shape."""

    name = "cross_entropy_probs"
    promote = "float"

    @staticmethod
    def forward(ctx, x, p, weight, reduction, label_smoothing):
        axis = 0 if x.ndim == 1 else 1
        n_classes = x.shape[axis]
        logp, _ = _log_softmax_arr(x, axis, False)
        if ctx.recording:
            ctx.axis, ctx.reduction, ctx.ls = axis, reduction, label_smoothing
            ctx.save_for_backward(x, p, weight)
        q = _smooth(p, label_smoothing, n_classes)
        wq = q if weight is None else q * _class_view(weight, x.ndim, axis)
        per = -(logp * wq).sum(axis=axis)
        if reduction == "none":
            out = per
        elif reduction == "sum":
            out = per.sum()
        else:
            out = _mean(per.sum(), x.size / n_classes if n_classes else 0.0)
        return xp.asarray(out, x.dtype)

    @staticmethod
    def backward(ctx, F, g):
        x, p, weight = ctx.saved_tensors
        axis, n_classes = ctx.axis, x.shape[ctx.axis]
        if ctx.reduction == "none":
            gs = F.reshape(g, shape=_kept(g.shape, axis)) if axis else g
        elif ctx.reduction == "mean":
            gs = g / (_numel(x.shape) / n_classes)
        else:
            gs = g
        w = None if weight is None else F.reshape(weight, shape=_class_shape(n_classes, x.ndim,
                                                                             axis))
        gx = gp = None
        if ctx.needs_input_grad[0]:
            q = _smooth(p, ctx.ls, n_classes)
            wq = q if w is None else q * w
            gx = (_softmax_F(F, x, axis) * F.sum(wq, dim=(axis,), keepdim=True) - wq) * gs
        if ctx.needs_input_grad[1]:
            wl = _log_softmax_F(F, x, axis)
            if w is not None:
                wl = wl * w
            gp = wl * (gs * -(1.0 - ctx.ls))
        return gx, gp, None


def _smooth(p, eps: float, n_classes: int):
    return p if eps <= 0.0 else p * (1.0 - eps) + eps / n_classes


def _class_shape(n_classes: int, ndim: int, axis: int) -> tuple:
    return (n_classes,) + (1,) * (ndim - 1 - axis)


def _class_view(weight, ndim: int, axis: int):
    return weight.reshape(_class_shape(weight.shape[0], ndim, axis))


def _kept(shape: tuple, axis: int) -> tuple:
    return tuple(shape[:axis]) + (1,) + tuple(shape[axis:])


def _numel(shape) -> int:
    n = 1
    for s in shape:
        n *= s
    return n


@register
class NllLossIndices(Op):
    """Negative log-likelihood of log-probabilities at integer class targets."""

    name = "nll_loss_indices"

    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction):
        x2, coef, wt, wsum, valid = _index_setup(x, target, weight, ignore_index)
        safe = xp.where(valid, target.reshape(valid.shape), 0).astype(xp.int64)
        picked = xp.take_along_axis(x2, safe[:, None], axis=1)[:, 0]
        # ignored samples contribute 0 even where their (unused) log-probability is -inf
        per = -xp.where(valid, picked, 0) * wt
        if reduction == "none":
            out = per.reshape(()) if x.ndim == 1 else per
        elif reduction == "sum":
            out = per.sum()
        else:
            out = _mean(per.sum(), wsum)
        if ctx.recording:
            ctx.reduction, ctx.denom, ctx.x_shape = reduction, wsum, x.shape
            ctx.any_valid = bool(valid.any())
            ctx.save_for_backward(coef)
        return xp.asarray(out, x.dtype)

    @staticmethod
    def backward(ctx, F, g):
        (coef,) = ctx.saved_tensors
        if ctx.reduction == "none" and len(ctx.x_shape) == 1:
            gs = g
        else:
            gs = _grad_scale(g, ctx.reduction, ctx.denom, ctx.any_valid)
        grad = -coef * gs
        if len(ctx.x_shape) == 1:
            grad = F.reshape(grad, shape=tuple(ctx.x_shape))
        return grad, None, None


def _target_array(target: Tensor):
    return target._data if isinstance(target, Tensor) else xp.asarray(target)


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
             ignore_index: int = -100, reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities ``input`` at class indices ``target``.

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``; 'mean' divides by the summed
    weights of the targets that are not ``ignore_index``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.nll_loss(ember.tensor([[-1.0, -2.0], [-3.0, -0.5]]), ember.tensor([0, 1]))
        tensor(0.7500)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    target = _target_array(target)
    _check_index_args(input, target, weight)
    return NllLossIndices.apply(input, target, weight, ignore_index=ignore_index,
                                reduction=reduction)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                  size_average=None, ignore_index: int = -100, reduce=None,
                  reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy between logits ``input`` and ``target`` (class indices or probabilities).

    ``input`` is ``(C,)``, ``(N, C)`` or ``(N, C, d1, ...)``. A ``target`` of the input's
    shape holds class probabilities; otherwise it holds class indices (int64 or uint8),
    of which ``ignore_index`` ones are skipped.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.cross_entropy(ember.tensor([[2.0, 0.0], [0.0, 2.0]]), ember.tensor([0, 1]))
        tensor(0.1269)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if isinstance(target, Tensor) and target.shape == input.shape and input.ndim > 0 \
            and target.is_floating_point():
        if ignore_index >= 0:
            raise RuntimeError("ignore_index is not supported for floating point target")
        if weight is not None and weight.dtype != input.dtype:
            raise RuntimeError(f"expected scalar type {_dtype_word(input._data.dtype)} but "
                               f"found {_dtype_word(weight._data.dtype)}")
        return CrossEntropyProbs.apply(input, target, weight, reduction=reduction,
                                       label_smoothing=float(label_smoothing))
    target = _target_array(target)
    _check_index_args(input, target, weight)
    return CrossEntropyIndices.apply(input, target, weight, ignore_index=ignore_index,
                                     reduction=reduction, label_smoothing=float(label_smoothing))


# ---------------------------------------------------------------- binary targets


@register
class BinaryCrossEntropy(Op):
    """Elementwise ``-(t log x + (1 - t) log(1 - x))``, logs clamped at -100 like torch."""

    name = "binary_cross_entropy"
    promote = "same"

    @staticmethod
    def forward(ctx, x, t):
        if x.size and ((x < 0) | (x > 1)).any():
            raise RuntimeError("all elements of input should be between 0 and 1")
        with xp.errstate(divide="ignore"):
            lx = xp.maximum(xp.log(x), -100.0)
            l1x = xp.maximum(xp.log1p(-x), -100.0)
        ctx.save_for_backward(x, t)
        return (-(t * lx + (1.0 - t) * l1x)).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        x, t = ctx.saved_tensors
        gx = gt = None
        if ctx.needs_input_grad[0]:
            gx = g * (x - t) / F.maximum((1.0 - x) * x, 1e-12)
        if ctx.needs_input_grad[1]:
            gt = g * (F.maximum(F.log(1.0 - x), -100.0) - F.maximum(F.log(x), -100.0))
        return gx, gt


@register
class BinaryCrossEntropyWithLogits(Op):
    """Elementwise ``(1 - t) x + (1 + (pw - 1) t) softplus(-x)``, computed stably."""

    name = "binary_cross_entropy_with_logits"
    promote = "same"

    @staticmethod
    def forward(ctx, x, t, pos_weight):
        sp = xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)  # softplus(-x)
        lw = 1.0 if pos_weight is None else 1.0 + (pos_weight - 1.0) * t
        ctx.save_for_backward(x, t, pos_weight)
        return ((1.0 - t) * x + lw * sp).astype(x.dtype, copy=False)

    @staticmethod
    def backward(ctx, F, g):
        x, t, pw = ctx.saved_tensors
        nx, nt, npw = ctx.needs_input_grad + (False,) * (3 - len(ctx.needs_input_grad))
        lw = 1.0 if pw is None else 1.0 + (pw - 1.0) * t
        gx = gt = gpw = None
        if nx:
            gx = g * ((1.0 - t) - lw * F.sigmoid(-x))
        if nt or npw:
            sp = F.relu(-x) + F.log(1.0 + F.exp(-F.abs(x)))
            if nt:
                gt = g * (-x if pw is None else (pw - 1.0) * sp - x)
            if npw:
                gpw = g * t * sp
        return gx, gt, gpw


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None,
                         size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """Binary cross-entropy between probabilities ``input`` and ``target``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.binary_cross_entropy(ember.tensor([0.5, 0.9]), ember.tensor([1.0, 1.0]))
        tensor(0.3993)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input "
                         f"size ({input.shape}) is deprecated. Please ensure they have the same "
                         "size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_dtype_word(target._data.dtype)} but expected "
                           f"{_dtype_word(input._data.dtype)}")
    loss = BinaryCrossEntropy.apply(input, target)
    if weight is not None:
        loss = loss * weight.expand(*input.shape)
    return _reduce(loss, reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor,
                                     weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """Sigmoid + binary cross-entropy in one numerically stable step.

    ``pos_weight`` scales the positive term (broadcast along the last, class, dim).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.binary_cross_entropy_with_logits(ember.tensor([0.0, 2.0]), ember.tensor([1.0, 0.0]))
        tensor(1.4100)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size "
                         f"({input.shape})")
    loss = BinaryCrossEntropyWithLogits.apply(input, target, pos_weight)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- distribution losses


def kl_div(input: Tensor, target: Tensor, size_average=None, reduce=None,
           reduction: str = "mean", log_target: bool = False) -> Tensor:
    """Kullback-Leibler divergence of ``target`` from log-probabilities ``input``.

    Use ``reduction='batchmean'`` for the mathematical KL divergence ('mean' also divides
    by the number of classes).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> p = ember.tensor([[0.5, 0.5]])
        >>> F.kl_div(p.log(), p, reduction="batchmean")
        tensor(0.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction, _REDUCTIONS + ("batchmean",))
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the "
                      "support size.'batchmean' divides only by the batch size, and aligns with "
                      "the KL div math definition.'mean' will be changed to behave the same as "
                      "'batchmean' in the next major release.", stacklevel=2)
    from ...ops.compare import where
    if log_target:
        loss = target.exp() * (target - input)
    else:
        pos = target > 0
        safe = where(pos, target, 1.0)
        loss = where(pos, target * safe.log(), 0.0) - target * input
    if reduction == "batchmean":
        return loss.sum() / input.shape[0] if input.ndim else loss.sum()
    return _reduce(loss, reduction)


def poisson_nll_loss(input: Tensor, target: Tensor, log_input: bool = True, full: bool = False,
                     size_average=None, eps: float = 1e-8, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Poisson negative log-likelihood (``exp(input) - target * input`` for log rates).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.poisson_nll_loss(ember.tensor([0.0]), ember.tensor([1.0]))
        tensor(1.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        from ...ops.compare import where
        big = target > 1
        safe = where(big, target, 2.0)
        stirling = safe * safe.log() - safe + 0.5 * (2 * math.pi * safe).log()
        loss = loss + where(big, stirling, 0.0)
    return _reduce(loss, reduction)


def gaussian_nll_loss(input: Tensor, target: Tensor, var: Tensor | float, full: bool = False,
                      eps: float = 1e-6, reduction: str = "mean") -> Tensor:
    """Gaussian negative log-likelihood ``0.5 (log var + (input - target)**2 / var)``.

    ``var`` may have the input's shape, lack its last dim, have a last dim of 1, or be a
    float. It is clamped at ``eps`` for stability (the clamp passes gradients through).

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.gaussian_nll_loss(ember.tensor([1.0]), ember.tensor([1.0]), ember.tensor([1.0]))
        tensor(0.)
    """
    _check_reduction(reduction)
    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = const_tensor(xp.full(input.shape, var, input._data.dtype))
    if var.shape != input.shape:
        if input.shape[:-1] == var.shape:
            var = var.unsqueeze(-1)
        elif input.shape[:-1] == var.shape[:-1] and var.shape[-1] == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if bool((var < 0).any()):
        raise ValueError("var has negative entry/entries")
    # clamp the value only: gradients flow through unchanged, as in torch
    v = var.detach()
    var = var + (v.clamp(min=eps) - v)
    d = input - target
    loss = 0.5 * (var.log() + d * d / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction)


# ---------------------------------------------------------------- margin and embedding losses


def margin_ranking_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                        size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``max(0, -target * (input1 - input2) + margin)``, reduced.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.margin_ranking_loss(ember.tensor([1.0]), ember.tensor([2.0]), ember.tensor([1.0]))
        tensor(1.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if not (input1.ndim == input2.ndim == target.ndim):
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension "
                           f"but got sizes: input1: {input1.shape}, input2: {input2.shape}, "
                           f"target: {target.shape} ")
    return _reduce((-target * (input1 - input2) + margin).relu(), reduction)


def hinge_embedding_loss(input: Tensor, target: Tensor, margin: float = 1.0, size_average=None,
                         reduce=None, reduction: str = "mean") -> Tensor:
    """``input`` where ``target == 1``, ``max(0, margin - input)`` where ``target == -1``.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.hinge_embedding_loss(ember.tensor([0.3, 0.3]), ember.tensor([1.0, -1.0]))
        tensor(0.5000)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    from ...ops.compare import where
    margin_part = where(target != 1, (margin - input).relu(), 0.0)
    self_part = where(target != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction)


def soft_margin_loss(input: Tensor, target: Tensor, size_average=None, reduce=None,
                     reduction: str = "mean") -> Tensor:
    """Two-class logistic loss ``log(1 + exp(-target * input))``, reduced.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> F.soft_margin_loss(ember.tensor([0.0]), ember.tensor([1.0]))
        tensor(0.6931)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    return _reduce(((-target * input).exp() + 1.0).log(), reduction)


def cosine_embedding_loss(input1: Tensor, input2: Tensor, target: Tensor, margin: float = 0,
                          size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    """``1 - cos(x1, x2)`` for ``target == 1``, ``max(0, cos(x1, x2) - margin)`` for -1.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> a = ember.tensor([[1.0, 0.0]])
        >>> F.cosine_embedding_loss(a, a, ember.tensor([1.0]))
        tensor(0.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if input1.ndim != input2.ndim or input1.ndim not in (1, 2):
        raise RuntimeError(f"cosine_embedding_loss : 1D or 2D input tensors expected, got "
                           f"{input1.ndim}D and {input2.ndim}D tensors")
    dim = input1.ndim - 1
    eps = 1e-12
    prod = (input1 * input2).sum(dim)
    mag1 = (input1 * input1).sum(dim) + eps
    mag2 = (input2 * input2).sum(dim) + eps
    cos = prod / (mag1 * mag2).sqrt()
    from ...ops.compare import where
    loss = where(target == 1, 1.0 - cos, 0.0) + where(target == -1, (cos - margin).relu(), 0.0)
    return _reduce(loss, reduction)


def triplet_margin_loss(anchor: Tensor, positive: Tensor, negative: Tensor, margin: float = 1.0,
                        p: float = 2, eps: float = 1e-6, swap: bool = False, size_average=None,
                        reduce=None, reduction: str = "mean") -> Tensor:
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the pairwise p-norm distance.

    Example:
        >>> import ember
        >>> import ember.nn.functional as F
        >>> a = ember.tensor([[0.0, 0.0]])
        >>> F.triplet_margin_loss(a, a, a + 3.0, eps=0.0)
        tensor(0.)
    """
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_reduction(reduction)
    if margin <= 0:
        raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got {margin} "
                         "instead")
    dims = (anchor.ndim, positive.ndim, negative.ndim)
    if len(set(dims)) != 1:
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the "
                           f"same number of dimensions, but got: anchor {dims[0]}D, positive "
                           f"{dims[1]}D, and negative {dims[2]}D inputs")
    from ._layers import pairwise_distance
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        from ...ops.compare import where
        d_swap = pairwise_distance(positive, negative, p, eps)
        d_neg = where(d_swap < d_neg, d_swap, d_neg)
    return _reduce((d_pos - d_neg + margin).relu(), reduction)
