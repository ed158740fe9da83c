"""``ember.nn.utils``: gradient clipping and parameter/vector conversion.

Example:
    >>> import ember
    >>> from ember import nn
    >>> p = nn.Parameter(ember.zeros(2)); p.grad = ember.tensor([6.0, 8.0])
    >>> nn.utils.clip_grad_norm_([p], 5.0).item()
    10.0
"""

from . import clip_grad, convert_parameters
from .clip_grad import (
           clip_grad_norm,
           clip_grad_norm_,
           clip_grad_value_,
           clip_grads_with_norm_,
           get_total_norm,
)
from .convert_parameters import parameters_to_vector, vector_to_parameters

__all__ = ["clip_grad", "convert_parameters", "clip_grad_norm_", "clip_grad_norm",
           "clip_grad_value_", "get_total_norm", "clip_grads_with_norm_",
           "parameters_to_vector", "vector_to_parameters"]
