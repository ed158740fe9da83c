"""``ember.linalg``: torch.linalg's functions (norms, inverses, determinants, solves).

Example:
    >>> import ember
    >>> ember.linalg.norm(ember.tensor([3.0, 4.0]))
    tensor(5.)
"""

from __future__ import annotations

from .ops.linalg import LinAlgError
from .ops.linalg import linalg_cholesky as cholesky
from .ops.linalg import linalg_det as det
from .ops.linalg import linalg_eigh as eigh
from .ops.linalg import linalg_eigvalsh as eigvalsh
from .ops.linalg import linalg_inv as inv
from .ops.linalg import linalg_matrix_norm as matrix_norm
from .ops.linalg import linalg_norm as norm
from .ops.linalg import linalg_qr as qr
from .ops.linalg import linalg_slogdet as slogdet
from .ops.linalg import linalg_solve as solve
from .ops.linalg import linalg_svdvals as svdvals
from .ops.linalg import linalg_vector_norm as vector_norm
from .ops.products import linalg_cross as cross
from .ops.products import linalg_multi_dot as multi_dot
from .ops.products import linalg_vecdot as vecdot
from .ops.products import matmul

__all__ = ["LinAlgError", "cholesky", "cross", "det", "eigh", "eigvalsh", "inv", "matmul",
           "matrix_norm", "multi_dot", "norm", "qr", "slogdet", "solve", "svdvals", "vecdot",
           "vector_norm"]
