"""The op table: every op's forward and backward, by theme, and the public functions.

Importing this package registers every op (``registry.OPS``) and attaches the
Tensor methods.
"""

from . import (  # noqa: F401
    activation,
    arith,
    compare,
    conv,
    copying,
    gather_scatter,
    indexing,
    join,
    linalg,
    minmax,
    normalization,
    pool,
    products,
    random,
    reduction,
    shape,
    softmax_family,
    sorting,
    unary,
)
from .activation import *  # noqa: F401,F403
from .arith import *  # noqa: F401,F403
from .compare import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .copying import *  # noqa: F401,F403
from .gather_scatter import *  # noqa: F401,F403
from .indexing import *  # noqa: F401,F403
from .join import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .minmax import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pool import *  # noqa: F401,F403
from .products import *  # noqa: F401,F403
from .random import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .registry import OPS
from .shape import *  # noqa: F401,F403
from .softmax_family import *  # noqa: F401,F403
from .sorting import *  # noqa: F401,F403
from .unary import *  # noqa: F401,F403

# conv, pool, normalization and activation ops are public through ember.nn.functional only
_PUBLIC = (arith, unary, compare, shape, join, copying, indexing, gather_scatter, sorting,
           reduction, minmax, softmax_family, products, linalg)
__all__ = [n for m in _PUBLIC for n in m.__all__]
__all__ += ["OPS"]
