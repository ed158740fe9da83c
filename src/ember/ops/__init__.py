"""The op table: every op's forward and backward, by theme, and the public functions.

Importing this package registers every op (``registry.OPS``) and attaches the
Tensor methods.
"""

from . import elementwise, linalg, reduction, shape  # noqa: F401 - registers the ops
from .elementwise import *  # noqa: F401,F403
from .linalg import *  # noqa: F401,F403
from .reduction import *  # noqa: F401,F403
from .registry import OPS
from .shape import *  # noqa: F401,F403

__all__ = [n for m in (elementwise, linalg, reduction, shape) for n in m.__all__]
__all__ += ["OPS"]
