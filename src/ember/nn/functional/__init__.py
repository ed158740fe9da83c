"""``ember.nn.functional``: the stateless form of every layer, activation and loss.

Example:
    >>> import ember
    >>> import ember.nn.functional as F
    >>> F.relu(ember.tensor([-1.0, 2.0]))
    tensor([0., 2.])
"""

from . import _activation, _attention, _conv, _layers, _loss, _pad, _softmax
from ._activation import *  # noqa: F401,F403
from ._attention import *  # noqa: F401,F403
from ._conv import *  # noqa: F401,F403
from ._layers import *  # noqa: F401,F403
from ._loss import *  # noqa: F401,F403
from ._pad import *  # noqa: F401,F403
from ._softmax import *  # noqa: F401,F403

__all__ = [n for m in (_activation, _attention, _conv, _layers, _loss, _pad, _softmax)
           for n in m.__all__]
