"""Op database entries: matrix products, einsum and torch.linalg.

Square-matrix inputs are made well conditioned inside the op function: with the
domain (-1, 1), ``x + 4 * I`` is strictly diagonally dominant for n <= 4.
"""

import math

import numpy as np

from . import OpInfo, S

U = (-1.0, 1.0)


def _wc(m, x):
    """A well-conditioned (batch of) square matrices from ``x``."""
    return x + 4 * m.eye(x.shape[-1], dtype=x.dtype)


def _spd(m, x):
    """A symmetric positive definite matrix (positive determinant) from ``x``."""
    a = _wc(m, x)
    return a @ a.mT


OPS = [
    OpInfo("mm", lambda m, a, b: m.mm(a, b), [S((3, 4), (4, 2)), S((0, 3), (3, 2)),
                                              S((2, 0), (0, 3), name="k0")]),
    OpInfo("mm_method", lambda m, a, b: a.mm(b), [S((2, 3), (3, 2))]),
    OpInfo("bmm", lambda m, a, b: m.bmm(a, b), [S((2, 3, 4), (2, 4, 2)), S((0, 2, 3), (0, 3, 1))]),
    OpInfo("mv", lambda m, a, b: m.mv(a, b), [S((3, 4), (4,)), S((0, 2), (2,))]),
    OpInfo("dot", lambda m, a, b: m.dot(a, b), [S((5,), (5,)), S((0,), (0,))]),
    OpInfo("vdot", lambda m, a, b: m.vdot(a, b), [S((5,), (5,))]),
    OpInfo("inner", lambda m, a, b: m.inner(a, b), [S((2, 3), (4, 3)), S((3,), (3,)),
                                                    S((), (2, 3), name="0d")]),
    OpInfo("outer", lambda m, a, b: m.outer(a, b), [S((3,), (4,)), S((0,), (2,))]),
    OpInfo("ger", lambda m, a, b: m.ger(a, b), [S((3,), (2,))]),
    OpInfo("addmm", lambda m, c, a, b: m.addmm(c, a, b), [S((3, 2), (3, 4), (4, 2)),
                                                          S((2,), (3, 4), (4, 2), name="bcast")]),
    OpInfo("addmm_scaled", lambda m, c, a, b: m.addmm(c, a, b, beta=0.5, alpha=-2),
           [S((3, 2), (3, 4), (4, 2))]),
    OpInfo("addmm_beta0", lambda m, c, a, b: m.addmm(c * math.nan, a, b, beta=0),
           [S((3, 2), (3, 4), (4, 2))], gradcheck=False),
    OpInfo("addmv", lambda m, c, a, b: m.addmv(c, a, b, alpha=3), [S((3,), (3, 4), (4,))]),
    OpInfo("addbmm", lambda m, c, a, b: m.addbmm(c, a, b, beta=2),
           [S((3, 2), (2, 3, 4), (2, 4, 2))]),
    OpInfo("baddbmm", lambda m, c, a, b: m.baddbmm(c, a, b, alpha=0.5),
           [S((2, 3, 2), (2, 3, 4), (2, 4, 2)), S((3, 2), (2, 3, 4), (2, 4, 2), name="bcast")]),
    OpInfo("einsum_mm", lambda m, a, b: m.einsum("ij,jk->ik", a, b), [S((3, 4), (4, 2))]),
    OpInfo("einsum_implicit", lambda m, a, b: m.einsum("ij,kj", a, b), [S((3, 4), (2, 4))]),
    OpInfo("einsum_batch", lambda m, a, b: m.einsum("bij,bjk->bik", a, b),
           [S((2, 3, 4), (2, 4, 2))]),
    OpInfo("einsum_ellipsis", lambda m, a, b: m.einsum("...ij,...jk", a, b),
           [S((2, 3, 4), (4, 2)), S((3, 4), (2, 4, 2))]),
    OpInfo("einsum_ellipsis_bcast", lambda m, a, b: m.einsum("b...i,b...i->b", a, b),
           [S((2, 3, 4), (2, 1, 4)), S((2, 1, 4), (2, 3, 4))]),
    OpInfo("einsum_diag", lambda m, a: m.einsum("ii->i", a), [S((3, 3))]),
    OpInfo("einsum_trace", lambda m, a: m.einsum("ii", a), [S((3, 3))]),
    OpInfo("einsum_sum", lambda m, a: m.einsum("ijk->j", a), [S((2, 3, 2))]),
    OpInfo("einsum_outer_sum", lambda m, a, b: m.einsum("ij,k->i", a, b), [S((2, 3), (4,))]),
    OpInfo("einsum_three", lambda m, a, b, c: m.einsum("ij,jk,kl->il", a, b, c),
           [S((2, 3), (3, 4), (4, 2))]),
    OpInfo("einsum_repeat_other", lambda m, a, b: m.einsum("iij,j->i", a, b),
           [S((3, 3, 2), (2,))]),
    OpInfo("einsum_bcast", lambda m, a, b: m.einsum("ij,ij->ij", a, b), [S((1, 3), (2, 3))]),
    OpInfo("einsum_list", lambda m, a, b: m.einsum("i,i->", [a, b]), [S((4,), (4,))]),
    OpInfo("einsum_transpose", lambda m, a: m.einsum("ij->ji", a), [S((2, 3)), S((0, 3))]),
    OpInfo("tensordot", lambda m, a, b: m.tensordot(a, b, dims=2),
           [S((2, 3, 4), (3, 4, 2))]),
    OpInfo("tensordot_lists", lambda m, a, b: m.tensordot(a, b, dims=([0, 2], [2, 0])),
           [S((2, 3, 4), (4, 2, 2))]),
    OpInfo("tensordot_0", lambda m, a, b: m.tensordot(a, b, dims=0), [S((2,), (3,))]),
    OpInfo("kron", lambda m, a, b: m.kron(a, b), [S((2, 3), (2, 2)), S((2,), (3, 2))]),
    OpInfo("trace", lambda m, a: m.trace(a), [S((3, 3)), S((2, 4)), S((4, 2))]),
    OpInfo("trace_method", lambda m, a: a.trace(), [S((3, 3))]),
    OpInfo("linalg_norm", lambda m, a: m.linalg.norm(a), [S((3, 4)), S((2, 3, 2)), S(())]),
    OpInfo("linalg_norm_vec_ord", lambda m, a: m.linalg.norm(a, 3), [S((5,))]),
    OpInfo("linalg_norm_dim", lambda m, a: m.linalg.norm(a, dim=1, keepdim=True), [S((3, 4))]),
    OpInfo("linalg_norm_mat_inf", lambda m, a: m.linalg.norm(a, math.inf), [S((3, 4))]),
    OpInfo("linalg_norm_mat_fro_dims", lambda m, a: m.linalg.norm(a, "fro", dim=(0, 2)),
           [S((2, 3, 2))]),
    OpInfo("linalg_vector_norm", lambda m, a: m.linalg.vector_norm(a, 1, dim=(0, 1)),
           [S((3, 4))]),
    OpInfo("matrix_norm_fro", lambda m, a: m.linalg.matrix_norm(a), [S((3, 4)), S((2, 3, 2))]),
    OpInfo("matrix_norm_ords", lambda m, a: [m.linalg.matrix_norm(a, o) for o in
                                             (1, -1, math.inf, -math.inf)], [S((3, 4))]),
    OpInfo("matrix_norm_keepdim", lambda m, a: m.linalg.matrix_norm(a, 1, dim=(2, 0),
                                                                    keepdim=True),
           [S((3, 2, 4))]),
    OpInfo("matrix_norm_nuc", lambda m, a: m.linalg.matrix_norm(a, "nuc"), [S((3, 4)),
                                                                            S((2, 3, 2))],
           gradgrad=False),
    OpInfo("matrix_norm_2", lambda m, a: m.linalg.matrix_norm(a, 2, keepdim=True),
           [S((3, 4))], gradgrad=False),
    OpInfo("matrix_norm_neg2", lambda m, a: m.linalg.matrix_norm(a, -2, dim=(0, 1)),
           [S((3, 4))], gradgrad=False),
    OpInfo("torch_norm_nuc", lambda m, a: m.norm(a, "nuc"), [S((3, 3))], gradgrad=False),
    OpInfo("svdvals", lambda m, a: m.linalg.svdvals(a), [S((3, 4)), S((2, 4, 3))],
           gradgrad=False),
    OpInfo("linalg_inv", lambda m, a: m.linalg.inv(_wc(m, a)), [S((3, 3)), S((2, 3, 3)),
                                                                S((1, 1))], domain=U),
    OpInfo("inverse", lambda m, a: m.inverse(_wc(m, a)), [S((2, 2))], domain=U),
    OpInfo("linalg_det", lambda m, a: m.linalg.det(_wc(m, a)), [S((3, 3)), S((2, 3, 3))],
           domain=U),
    OpInfo("det_method", lambda m, a: _wc(m, a).det(), [S((2, 2))], domain=U),
    OpInfo("linalg_slogdet", lambda m, a: tuple(m.linalg.slogdet(_wc(m, a) * -1)),
           [S((3, 3)), S((2, 2, 2))], domain=U),
    OpInfo("logdet", lambda m, a: m.logdet(_spd(m, a)), [S((3, 3))], domain=U),
    OpInfo("linalg_solve", lambda m, a, b: m.linalg.solve(_wc(m, a), b),
           [S((3, 3), (3,)), S((3, 3), (3, 2)), S((2, 3, 3), (2, 3)),
            S((2, 3, 3), (3, 1), name="bcast")], domain=U),
    OpInfo("linalg_solve_right", lambda m, a, b: m.linalg.solve(_wc(m, a), b, left=False),
           [S((3, 3), (2, 3))], domain=U),
    OpInfo("multi_dot", lambda m, a, b, c: m.linalg.multi_dot([a, b, c]),
           [S((3,), (3, 2), (2, 4)), S((2, 3), (3, 2), (2,))]),
    OpInfo("vecdot", lambda m, a, b: m.linalg.vecdot(a, b), [S((3, 4), (4,))]),
    OpInfo("linalg_ints", lambda m, a, b: [m.mm(a, b), m.dot(a[0], b[:, 0]), m.trace(a @ b)],
           [S(np.arange(6).reshape(2, 3), np.arange(6).reshape(3, 2))], grad=False),
]

OPS += [
    OpInfo("linalg_cholesky", lambda m, a: m.linalg.cholesky(_spd(m, a)),
           [S((3, 3)), S((2, 2, 2))], domain=U),
    OpInfo("linalg_cholesky_upper", lambda m, a: m.linalg.cholesky(_spd(m, a), upper=True),
           [S((3, 3))], domain=U),
    # eigenvectors are unique up to sign: compare sign-free functions of them
    OpInfo("linalg_eigh_vectors", lambda m, a: m.linalg.eigh(a + a.mT).eigenvectors ** 2,
           [S((3, 3)), S((2, 3, 3))], domain=U),
    OpInfo("linalg_eigh_values", lambda m, a: m.linalg.eigh(a + a.mT, UPLO="U")[0],
           [S((3, 3))], domain=U),
    OpInfo("linalg_eigvalsh", lambda m, a: m.linalg.eigvalsh(a + a.mT), [S((4, 4))], domain=U),
]

OPS += [
    OpInfo("linalg_qr", lambda m, a: tuple(m.linalg.qr(a)), [S((4, 3)), S((3, 3)), S((2, 3, 2))]),
    OpInfo("linalg_qr_complete", lambda m, a: tuple(m.linalg.qr(a, mode="complete")),
           [S((3, 3)), S((2, 4))], grad=False),
    # cross products and distances
    OpInfo("cross", lambda m, a, b: m.cross(a, b, dim=1), [S((2, 3), (2, 3)), S((4, 3), (1, 3))]),
    OpInfo("cross_method", lambda m, a, b: a.cross(b, dim=0), [S((3,), (3,)), S((3, 2), (3, 2))]),
    OpInfo("linalg_cross", lambda m, a, b: m.linalg.cross(a, b), [S((2, 1, 3), (1, 4, 3))]),
    OpInfo("linalg_cross_dim", lambda m, a, b: m.linalg.cross(a, b, dim=-2), [S((3, 2), (3, 2))]),
    OpInfo("cdist", lambda m, a, b: m.cdist(a, b), [S((3, 2), (4, 2)), S((2, 3, 2), (2, 4, 2)),
                                                   S((2, 1, 3, 2), (4, 2), name="bcast"),
                                                   S((0, 2), (3, 2), name="empty")]),
    OpInfo("cdist_p", lambda m, a, b: (m.cdist(a, b, p=1), m.cdist(a, b, p=3),
                                       m.cdist(a, b, p=math.inf), m.cdist(a, b, p=0)),
           [S((3, 2), (4, 2))], gradgrad=False),
    OpInfo("dist", lambda m, a, b: m.dist(a, b), [S((3, 4), (4,)), S((), ()), S((0,), (0,))]),
    OpInfo("dist_p", lambda m, a, b: (a.dist(b, 3), m.dist(a, b, p=math.inf), m.dist(a, b, 1)),
           [S((3, 4), (3, 4))], gradgrad=False),
]
