"""Op database entries: indexing, gather/scatter, masks, sorting."""

import numpy as np

from . import OpInfo, S


def _i(*v):
    return np.array(v, dtype=np.int64)


def _setitem(idx):
    def fn(m, x, v):
        y = x * 1
        y[idx] = v
        return y
    return fn


def _iadd(idx):
    def fn(m, x, v):
        y = x * 1
        y[idx] += v
        return y
    return fn


def _view_inplace(m, x, w):
    y = x * 1
    r = y[1]
    r.mul_(w)
    c = y[:, 1:3]
    c.add_(w[:2])
    return y


def _setitem_tensor_idx(m, x, idx, v):
    y = x * 1
    y[idx] = v
    return y


def _ties(m, x):
    """Values with many ties (floored) whose gradient is still the identity."""
    return m.floor(x.detach()) + (x - x.detach())


def _masked_fill_(m, x, mask):
    y = x * 1
    y.masked_fill_(mask, 0.5)
    return y


MASK = np.array([[True, False, True, False], [False, False, True, True], [True] * 4])
SR_IDX = np.array([[0, 0, 1, 2], [0, 2, 1, 2]])
IDX2 = np.array([[0, 2, 0], [1, 1, 0]], dtype=np.int64)

OPS = [
    OpInfo("getitem_int", lambda m, x: x[1], [S((3, 4)), S((3,))]),
    OpInfo("getitem_slices", lambda m, x: x[1:, ::2], [S((3, 4)), S((3, 5, 2))]),
    OpInfo("getitem_none_ellipsis", lambda m, x: x[None, ..., 1:2, None], [S((3, 4)),
                                                                            S((2, 3, 4))]),
    OpInfo("getitem_neg", lambda m, x: x[-1, -3:], [S((3, 4))]),
    OpInfo("getitem_empty_slice", lambda m, x: x[2:1], [S((3, 4))]),
    OpInfo("getitem_0d", lambda m, x: x[None][...], [S(())]),
    OpInfo("getitem_list", lambda m, x: x[[0, 2, 0]], [S((3, 4))]),
    OpInfo("getitem_tensor", lambda m, x, i: x[i], [S((3, 4), _i(2, 0, 2, -1), grad=[0]),
                                                    S((3, 4), IDX2, grad=[0], name="2d")]),
    OpInfo("getitem_tensor_dim1", lambda m, x, i: x[:, i], [S((3, 4), _i(3, 3, 0), grad=[0])]),
    OpInfo("getitem_two_tensors", lambda m, x, i, j: x[i, j],
           [S((3, 4), _i(0, 2, 2), _i(1, 3, 1), grad=[0]),
            S((3, 4, 2), _i(0, 2), _i(1, 3), grad=[0], name="3d")]),
    OpInfo("getitem_split_adv", lambda m, x, i, j: x[i, :, j],
           [S((3, 2, 4), _i(0, 2, 2), _i(1, 3, 1), grad=[0])]),
    OpInfo("getitem_int_and_adv", lambda m, x, i: x[0, :, i], [S((3, 2, 4), _i(1, 3, 1),
                                                                  grad=[0])]),
    OpInfo("getitem_adv_broadcast", lambda m, x, i, j: x[i[:, None], j],
           [S((3, 4), _i(0, 2), _i(1, 3, 1), grad=[0])]),
    OpInfo("getitem_mask", lambda m, x, k: x[k], [S((3, 4), MASK, grad=[0])]),
    OpInfo("getitem_mask_row", lambda m, x, k: x[k, 1:], [S((3, 4), MASK[:, 0], grad=[0])]),
    OpInfo("getitem_mask_empty", lambda m, x, k: x[k], [S((3, 4), MASK & False, grad=[0])]),
    OpInfo("setitem_basic", _setitem((1, slice(None, 3))), [S((3, 4), (3,)), S((3, 4), ())]),
    OpInfo("setitem_adv", _setitem(([0, 2], slice(1, None))), [S((3, 4), (3,))]),
    OpInfo("setitem_scalar", lambda m, x: _setitem((slice(None), 1))(m, x, 2.5), [S((3, 4))]),
    OpInfo("setitem_tensor_idx", _setitem_tensor_idx,
           [S((3, 4), _i(2, 0), (2, 1), grad=[0, 2]), S((3, 4), MASK, (), grad=[0, 2])]),
    OpInfo("setitem_bcast_lead", _setitem((0,)), [S((3, 4), (1, 4))]),
    OpInfo("iadd_basic", _iadd((slice(1, None), 0)), [S((3, 4), (2,))]),
    OpInfo("iadd_adv", _iadd(([0, 2], [1, 3])), [S((3, 4), (2,))]),
    OpInfo("view_inplace", _view_inplace, [S((3, 4), (4,))]),
    OpInfo("gather", lambda m, x, i: m.gather(x, 1, i),
           [S((3, 4), np.array([[0, 3], [1, 1], [2, 0]]), grad=[0]),
            S((3, 4), np.array([[2, 0, 1, 1]]), grad=[0], name="dim0small")]),
    OpInfo("gather_dim0", lambda m, x, i: x.gather(0, i),
           [S((3, 4), np.array([[2, 0, 1, 1], [0, 0, 0, 0]]), grad=[0])]),
    OpInfo("scatter", lambda m, x, i, s: m.scatter(x, 1, i, s),
           [S((3, 4), np.array([[0, 3], [1, 2], [2, 0]]), (3, 2), grad=[0, 2])]),
    OpInfo("scatter_value", lambda m, x, i: x.scatter(0, i, 1.5),
           [S((3, 4), np.array([[2, 0, 1, 1]]), grad=[0])]),
    OpInfo("scatter_add", lambda m, x, i, s: m.scatter_add(x, 0, i, s),
           [S((3, 4), np.array([[0, 0, 1, 2], [0, 2, 1, 2]]), (2, 4), grad=[0, 2])]),
    OpInfo("scatter_reduce_add", lambda m, x, i, s: x.scatter(0, i, s, reduce="add"),
           [S((3, 4), np.array([[0, 0, 1, 2], [0, 2, 1, 2]]), (2, 4))], grad=False),
    OpInfo("scatter_reduce_multiply", lambda m, x, i, s: x.scatter(0, i, s, reduce="multiply"),
           [S((3, 4), np.array([[0, 0, 1, 2], [0, 2, 1, 2]]), (2, 4))], grad=False),
    OpInfo("scatter_reduce_sum", lambda m, x, i, s: x.scatter_reduce(0, i, s, "sum"),
           [S((3, 4), np.array([[0, 0, 1, 2], [0, 2, 1, 2]]), (2, 4), grad=[0, 2])]),
    OpInfo("scatter_reduce_amax", lambda m, x, i, s: x.scatter_reduce(0, i, s, "amax",
                                                                    include_self=False),
           [S((3, 4), SR_IDX, (2, 4), grad=[0, 2])]),
    OpInfo("scatter_reduce_amin_ties", lambda m, x, i, s: m.scatter_reduce(
        _ties(m, x), 0, i, _ties(m, s), "amin"), [S((3, 4), SR_IDX, (2, 4), grad=[0, 2])],
           gradcheck=False),
    OpInfo("scatter_reduce_mean", lambda m, x, i, s: x.scatter_reduce(0, i, s, "mean"),
           [S((3, 4), SR_IDX, (2, 4), grad=[0, 2])]),
    OpInfo("scatter_reduce_mean_noself", lambda m, x, i, s: x.scatter_reduce(
        0, i, s, "mean", include_self=False), [S((3, 4), SR_IDX, (2, 4), grad=[0, 2])]),
    OpInfo("scatter_reduce_sum_noself", lambda m, x, i, s: x.scatter_reduce(
        1, i, s, "sum", include_self=False), [S((3, 4), SR_IDX[:, :3], (2, 3), grad=[0, 2])]),
    OpInfo("scatter_reduce_prod", lambda m, x, i, s: x.scatter_reduce(0, i, s, "prod",
                                                                    include_self=False),
           [S((3, 4), SR_IDX, (2, 4))], grad=False),
    OpInfo("index_select", lambda m, x, i: m.index_select(x, 1, i),
           [S((3, 4), _i(0, 3, 3), grad=[0]), S((3, 4), _i(), grad=[0], name="empty")]),
    OpInfo("index_select_0d", lambda m, x, i: x.index_select(0, i),
           [S((3, 4), np.array(1), grad=[0]), S((), np.array([0]), grad=[0])]),
    OpInfo("index_add", lambda m, x, i, s: m.index_add(x, 0, i, s, alpha=2),
           [S((3, 4), _i(0, 2, 0), (3, 4), grad=[0, 2])]),
    OpInfo("index_copy", lambda m, x, i, s: x.index_copy(1, i, s),
           [S((3, 4), _i(3, 0), (3, 2), grad=[0, 2])]),
    OpInfo("index_fill", lambda m, x, i: x.index_fill(1, i, -1.0), [S((3, 4), _i(1, 3),
                                                                     grad=[0])]),
    OpInfo("index_put", lambda m, x, i, j, v: m.index_put(x, (i, j), v),
           [S((3, 4), _i(0, 2), _i(1, 3), (2,), grad=[0, 3])]),
    OpInfo("index_put_acc", lambda m, x, i, v: x.index_put((i,), v, accumulate=True),
           [S((3, 4), _i(0, 2, 0), (4,), grad=[0, 2]),
            S((3, 4), MASK, (), grad=[0, 2], name="mask")]),
    OpInfo("index_put_", lambda m, x, i, v: (x * 1).index_put_((i,), v, accumulate=True),
           [S((3, 4), _i(1, 1), (2, 4), grad=[0, 2])]),
    OpInfo("take", lambda m, x, i: m.take(x, i), [S((3, 4), np.array([[0, 11], [5, 5]]),
                                                    grad=[0])]),
    OpInfo("take_along_dim", lambda m, x, i: m.take_along_dim(x, i, dim=1),
           [S((3, 4), np.array([[0, 3], [1, 1], [2, 0]]), grad=[0]),
            S((3, 4), np.array([[0], [1], [3]]), grad=[0], name="small")]),
    OpInfo("take_along_dim_flat", lambda m, x, i: m.take_along_dim(x, i),
           [S((3, 4), _i(0, 7, 7), grad=[0])]),
    OpInfo("masked_fill", lambda m, x, k: m.masked_fill(x, k, 2.0),
           [S((3, 4), MASK, grad=[0]), S((3, 4), MASK[0], grad=[0], name="bcast")]),
    OpInfo("masked_fill_tensor", lambda m, x, k, v: x.masked_fill(k, v),
           [S((3, 4), MASK, (), grad=[0, 2])]),
    OpInfo("masked_fill_", _masked_fill_, [S((3, 4), MASK, grad=[0])]),
    OpInfo("masked_select", lambda m, x, k: m.masked_select(x, k),
           [S((3, 4), MASK, grad=[0]), S((3, 4), MASK[1], grad=[0], name="bcast")]),
    OpInfo("masked_scatter", lambda m, x, k, s: x.masked_scatter(k, s),
           [S((3, 4), MASK, (9,), grad=[0, 2])]),
    OpInfo("where_cond", lambda m, x: m.where(x > 0), [S((3, 4))], grad=False),
    OpInfo("nonzero", lambda m, x: m.nonzero(x > 0), [S((3, 4)), S(())], grad=False),
    OpInfo("nonzero_tuple", lambda m, x: x.nonzero(as_tuple=True), [S((3, 4)), S((0,))],
           grad=False),
    OpInfo("argwhere", lambda m, x: m.argwhere(x > 0.5), [S((2, 3))], grad=False),
    OpInfo("sort", lambda m, x: m.sort(x), [S((3, 4)), S(()), S((0, 2))]),
    OpInfo("sort_desc", lambda m, x: x.sort(dim=0, descending=True), [S((3, 4))]),
    OpInfo("sort_stable_ties", lambda m, x: m.sort(m.floor(x * 2) + x * 0, stable=True,
                                                   descending=True), [S((8,))]),
    OpInfo("argsort", lambda m, x: m.argsort(x, dim=1), [S((3, 4))], grad=False),
    OpInfo("msort", lambda m, x: m.msort(x), [S((3, 4))]),
    OpInfo("topk", lambda m, x: m.topk(x, 2), [S((3, 4)), S((5,))]),
    OpInfo("topk_small", lambda m, x: x.topk(3, dim=0, largest=False), [S((4, 2))]),
    OpInfo("kthvalue", lambda m, x: m.kthvalue(x, 2, 1, keepdim=True), [S((3, 4))]),
    OpInfo("unique", lambda m, x: m.unique(m.floor(x), return_inverse=True,
                                           return_counts=True), [S((3, 4))], grad=False),
    OpInfo("unique_dim", lambda m, x: m.unique(m.floor(x), dim=0), [S((5, 1))], grad=False),
    OpInfo("unique_consecutive", lambda m, x: m.unique_consecutive(
        m.floor(x), return_inverse=True, return_counts=True), [S((8,))], grad=False),
    OpInfo("searchsorted", lambda m, s, v: m.searchsorted(m.sort(s).values, v),
           [S((5,), (3, 2)), S((2, 5), (2, 3), name="nd")], grad=False),
    OpInfo("searchsorted_right", lambda m, s, v: m.searchsorted(m.sort(s).values, v, right=True),
           [S((5,), (4,))], grad=False),
    OpInfo("bucketize", lambda m, v, b: m.bucketize(v, m.sort(b).values), [S((3, 2), (4,))],
           grad=False),
]
