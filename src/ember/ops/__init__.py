"""The op table: every op's forward and backward, by theme, and the public functions.

Importing this package registers every op (``registry.OPS``) and attaches the
Tensor methods.
"""

from . import (activation, conv, elementwise, indexing, linalg, normalization, pool,  # noqa: F401
               reduction, shape)
from .activation import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .elementwise import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .registry import OPS
from .shape import *  # noqa: F401,F403

# conv, pool, normalization and activation ops are public through ember.nn.functional only
__all__ = [n for m in (elementwise, indexing, linalg, reduction, shape) for n in m.__all__]
__all__ += ["OPS"]
