"""Loss modules: thin wrappers over ``ember.nn.functional`` holding the options, as in torch.

Example:
    >>> import ember
    >>> from ember import nn
    >>> loss_fn = nn.CrossEntropyLoss()
    >>> loss_fn(ember.tensor([[2.0, 0.0]]), ember.tensor([0]))
    tensor(0.1269)
"""

from __future__ import annotations

from ...tensor import Tensor
from .. import functional as F
from ..functional._loss import _legacy_to_string
from .module import Module

__all__ = ["L1Loss", "MSELoss", "SmoothL1Loss", "HuberLoss", "CrossEntropyLoss", "NLLLoss",
           "BCELoss", "BCEWithLogitsLoss", "KLDivLoss", "CosineEmbeddingLoss",
           "MarginRankingLoss", "TripletMarginLoss", "SoftMarginLoss", "HingeEmbeddingLoss",
           "PoissonNLLLoss", "GaussianNLLLoss"]


class _Loss(Module):
    """Base of the losses: the ``reduction`` option (and the deprecated pair it replaces)."""

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__()
        if size_average is not None or reduce is not None:
            import warnings
            reduction = _legacy_to_string(size_average, reduce)
            warnings.warn(f"size_average and reduce args will be deprecated, please use "
                          f"reduction='{reduction}' instead.", stacklevel=3)
        self.reduction = reduction


class _WeightedLoss(_Loss):
    """A loss with an optional per-class ``weight`` buffer."""

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)


class L1Loss(_Loss):
    """Mean absolute error; see :func:`ember.nn.functional.l1_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.L1Loss()(ember.tensor([1.0, -1.0]), ember.zeros(2))
        tensor(1.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.l1_loss(input, target, reduction=self.reduction)


class MSELoss(_Loss):
    """Mean squared error; see :func:`ember.nn.functional.mse_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.MSELoss(reduction="sum")(ember.tensor([1.0, 2.0]), ember.zeros(2))
        tensor(5.)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.mse_loss(input, target, reduction=self.reduction)


class SmoothL1Loss(_Loss):
    """Smooth L1 with threshold ``beta``; see :func:`ember.nn.functional.smooth_l1_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.SmoothL1Loss(beta=0.5)(ember.tensor([2.0]), ember.zeros(1))
        tensor(1.7500)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 beta: float = 1.0) -> None:
        super().__init__(size_average, reduce, reduction)
        self.beta = beta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.smooth_l1_loss(input, target, reduction=self.reduction, beta=self.beta)


class HuberLoss(_Loss):
    """Huber loss with threshold ``delta``; see :func:`ember.nn.functional.huber_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.HuberLoss(delta=0.5)(ember.tensor([2.0]), ember.zeros(1))
        tensor(0.8750)
    """

    def __init__(self, reduction: str = "mean", delta: float = 1.0) -> None:
        super().__init__(reduction=reduction)
        self.delta = delta

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.huber_loss(input, target, reduction=self.reduction, delta=self.delta)


class CrossEntropyLoss(_WeightedLoss):
    """Cross-entropy of logits against class indices or class probabilities.

    See :func:`ember.nn.functional.cross_entropy` for the shapes and options.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.CrossEntropyLoss(label_smoothing=0.1)(ember.zeros(2, 3), ember.tensor([0, 2]))
        tensor(1.0986)
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index
        self.label_smoothing = label_smoothing

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.cross_entropy(input, target, weight=self.weight, ignore_index=self.ignore_index,
                               reduction=self.reduction, label_smoothing=self.label_smoothing)


class NLLLoss(_WeightedLoss):
    """Negative log-likelihood of log-probabilities; see :func:`ember.nn.functional.nll_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.NLLLoss()(ember.tensor([[-0.5, -1.0]]), ember.tensor([1]))
        tensor(1.)
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
                 reduce=None, reduction: str = "mean") -> None:
        super().__init__(weight, size_average, reduce, reduction)
        self.ignore_index = ignore_index

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.nll_loss(input, target, weight=self.weight, ignore_index=self.ignore_index,
                          reduction=self.reduction)


class BCELoss(_WeightedLoss):
    """Binary cross-entropy of probabilities; see :func:`ember.nn.functional.binary_cross_entropy`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.BCELoss()(ember.tensor([0.5]), ember.tensor([1.0]))
        tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy(input, target, weight=self.weight, reduction=self.reduction)


class BCEWithLogitsLoss(_Loss):
    """Sigmoid + binary cross-entropy, stable; ``pos_weight`` scales the positives.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.BCEWithLogitsLoss()(ember.tensor([0.0]), ember.tensor([1.0]))
        tensor(0.6931)
    """

    def __init__(self, weight: Tensor | None = None, size_average=None, reduce=None,
                 reduction: str = "mean", pos_weight: Tensor | None = None) -> None:
        super().__init__(size_average, reduce, reduction)
        self.register_buffer("weight", weight)
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.binary_cross_entropy_with_logits(input, target, self.weight,
                                                  pos_weight=self.pos_weight,
                                                  reduction=self.reduction)


class KLDivLoss(_Loss):
    """KL divergence of ``target`` from log-probabilities; see :func:`ember.nn.functional.kl_div`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> p = ember.tensor([[0.25, 0.75]])
        >>> nn.KLDivLoss(reduction="batchmean")(p.log(), p)
        tensor(0.)
    """

    def __init__(self, size_average=None, reduce=None, reduction: str = "mean",
                 log_target: bool = False) -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_target = log_target

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.kl_div(input, target, reduction=self.reduction, log_target=self.log_target)


class CosineEmbeddingLoss(_Loss):
    """Cosine similarity loss for pairs marked similar (1) or dissimilar (-1).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> a = ember.tensor([[1.0, 0.0]])
        >>> nn.CosineEmbeddingLoss()(a, a, ember.tensor([-1.0]))
        tensor(1.)
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.cosine_embedding_loss(input1, input2, target, margin=self.margin,
                                       reduction=self.reduction)


class MarginRankingLoss(_Loss):
    """``max(0, -y (x1 - x2) + margin)``; see :func:`ember.nn.functional.margin_ranking_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.MarginRankingLoss(margin=1.0)(ember.tensor([2.0]), ember.tensor([1.5]),
        ...                                  ember.tensor([1.0]))
        tensor(0.5000)
    """

    def __init__(self, margin: float = 0.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input1: Tensor, input2: Tensor, target: Tensor) -> Tensor:
        return F.margin_ranking_loss(input1, input2, target, margin=self.margin,
                                     reduction=self.reduction)


class TripletMarginLoss(_Loss):
    """Triplet loss with p-norm distances; see :func:`ember.nn.functional.triplet_margin_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> a = ember.zeros(1, 2)
        >>> nn.TripletMarginLoss(margin=1.0, eps=0.0)(a, a, a)
        tensor(1.)
    """

    def __init__(self, margin: float = 1.0, p: float = 2.0, eps: float = 1e-6, swap: bool = False,
                 size_average=None, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        if margin <= 0:
            raise ValueError(f"TripletMarginLoss: expected margin to be greater than 0, got "
                             f"{margin} instead")
        self.margin, self.p, self.eps, self.swap = margin, p, eps, swap

    def forward(self, anchor: Tensor, positive: Tensor, negative: Tensor) -> Tensor:
        return F.triplet_margin_loss(anchor, positive, negative, margin=self.margin, p=self.p,
                                     eps=self.eps, swap=self.swap, reduction=self.reduction)


class SoftMarginLoss(_Loss):
    """``log(1 + exp(-y x))``; see :func:`ember.nn.functional.soft_margin_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.SoftMarginLoss()(ember.zeros(2), ember.tensor([1.0, -1.0]))
        tensor(0.6931)
    """

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.soft_margin_loss(input, target, reduction=self.reduction)


class HingeEmbeddingLoss(_Loss):
    """Hinge loss on distances; see :func:`ember.nn.functional.hinge_embedding_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.HingeEmbeddingLoss(margin=2.0)(ember.tensor([0.5]), ember.tensor([-1.0]))
        tensor(1.5000)
    """

    def __init__(self, margin: float = 1.0, size_average=None, reduce=None,
                 reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.margin = margin

    def forward(self, input: Tensor, target: Tensor) -> Tensor:
        return F.hinge_embedding_loss(input, target, margin=self.margin,
                                      reduction=self.reduction)


class PoissonNLLLoss(_Loss):
    """Poisson negative log-likelihood; see :func:`ember.nn.functional.poisson_nll_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.PoissonNLLLoss()(ember.zeros(1), ember.ones(1))
        tensor(1.)
    """

    def __init__(self, log_input: bool = True, full: bool = False, size_average=None,
                 eps: float = 1e-8, reduce=None, reduction: str = "mean") -> None:
        super().__init__(size_average, reduce, reduction)
        self.log_input, self.full, self.eps = log_input, full, eps

    def forward(self, log_input: Tensor, target: Tensor) -> Tensor:
        return F.poisson_nll_loss(log_input, target, log_input=self.log_input, full=self.full,
                                  eps=self.eps, reduction=self.reduction)


class GaussianNLLLoss(_Loss):
    """Gaussian negative log-likelihood; see :func:`ember.nn.functional.gaussian_nll_loss`.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.GaussianNLLLoss()(ember.ones(2), ember.ones(2), ember.ones(2))
        tensor(0.)
    """

    def __init__(self, *, full: bool = False, eps: float = 1e-6, reduction: str = "mean") -> None:
        super().__init__(None, None, reduction)
        self.full, self.eps = full, eps

    def forward(self, input: Tensor, target: Tensor, var: Tensor | float) -> Tensor:
        return F.gaussian_nll_loss(input, target, var, full=self.full, eps=self.eps,
                                   reduction=self.reduction)
