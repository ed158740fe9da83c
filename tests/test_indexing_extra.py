"""Indexing and shape-op behaviour against torch: views, in-place writes through views,
__setitem__ with autograd, error messages, and property tests of random index combinations."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ember

torch = pytest.importorskip("torch")


def _pair(a, rg=True):
    """The same float64 data as an ember and a torch leaf."""
    a = np.asarray(a, dtype=np.float64)
    return (ember.tensor(a, requires_grad=rg), torch.tensor(a, requires_grad=rg))


def _conv(item, lib):
    """An index with lists/arrays turned into tensors of ``lib``."""
    out = []
    for it in item:
        if isinstance(it, np.ndarray):
            out.append(ember.tensor(it) if lib is ember else torch.from_numpy(it.copy()))
        else:
            out.append(it)
    return tuple(out)


# ---------------------------------------------------------------- property tests


@st.composite
def _index_case(draw, unique=False):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=ndim, max_size=ndim)))
    n_adv = 0
    length = draw(st.integers(1, 3))
    item = []
    for d, n in enumerate(shape):
        kind = draw(st.sampled_from(["int", "slice", "full", "adv", "mask", "none"]
                                    if d < ndim else ["full"]))
        if kind == "none":
            item.append(None)
            kind = draw(st.sampled_from(["int", "slice", "full"]))
        if kind == "int":
            item.append(draw(st.integers(-n, n - 1)))
        elif kind == "slice":
            start = draw(st.none() | st.integers(-n - 1, n + 1))
            stop = draw(st.none() | st.integers(-n - 1, n + 1))
            step = draw(st.none() | st.integers(1, 3))
            item.append(slice(start, stop, step))
        elif kind == "full":
            item.append(slice(None))
        elif kind == "adv":
            k = min(length, n) if unique else length
            vals = draw(st.lists(st.integers(-n, n - 1), min_size=k, max_size=k,
                                 unique_by=(lambda v, n=n: v % n) if unique else None))
            if n_adv and len(vals) != length:
                item.append(slice(None))
                continue
            length = len(vals)
            n_adv += 1
            item.append(np.array(vals, dtype=np.int64))
        else:
            if n_adv:
                item.append(slice(None))
                continue
            mask = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
            n_adv += 1
            length = int(mask.sum())
            item.append(mask)
            if unique and length == 0:
                item[-1] = slice(None)
    if draw(st.booleans()):
        cut = draw(st.integers(0, len(item)))
        item = item[:cut] + [Ellipsis]
    return shape, tuple(item)


_SETTINGS = settings(max_examples=30, deadline=None, derandomize=True,
                     suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_index_case())
def test_getitem_matches_torch_and_numpy(case):
    shape, item = case
    a = np.arange(np.prod(shape), dtype=np.float64).reshape(shape)
    xe, xt = _pair(a)
    ye, yt = xe[_conv(item, ember)], xt[_conv(item, torch)]
    np.testing.assert_array_equal(ye.detach().numpy(), yt.detach().numpy())
    if not any(isinstance(i, int) for i in item) or not any(isinstance(i, np.ndarray)
                                                           for i in item):
        # NumPy agrees with torch unless ints and arrays mix (torch applies ints first)
        np.testing.assert_array_equal(ye.detach().numpy(), a[item])
    w = np.random.default_rng(0).standard_normal(tuple(yt.shape))
    (ye * ember.tensor(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy())


@_SETTINGS
@given(_index_case(unique=True))
def test_setitem_matches_torch(case):
    shape, item = case
    rng = np.random.default_rng(1)
    a = rng.standard_normal(shape)
    xe, xt = _pair(a)
    tshape = tuple(xt.detach()[_conv(item, torch)].shape)
    ve, vt = _pair(rng.standard_normal(tshape))
    ye, yt = xe * 1, xt * 1
    ye[_conv(item, ember)] = ve
    yt[_conv(item, torch)] = vt
    np.testing.assert_array_equal(ye.detach().numpy(), yt.detach().numpy())
    w = rng.standard_normal(shape)
    (ye * ember.tensor(w)).sum().backward()
    (yt * torch.from_numpy(w)).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy())
    np.testing.assert_allclose(ve.grad.numpy(), vt.grad.numpy())


# ---------------------------------------------------------------- views and version counters


def test_basic_index_is_a_view_sharing_version():
    x = ember.zeros(3, 4)
    v = x[1, 1:]
    assert v._version == x._version
    v[0] = 5.0
    assert x[1, 1].item() == 5.0
    assert x._version == v._version == 1
    assert not np.shares_memory(x[[0, 1]].numpy(), x.numpy())


@pytest.mark.parametrize("fn", [
    lambda m, x: m.flatten(x), lambda m, x: x.unbind(0)[1], lambda m, x: x.split(1, 1)[0],
    lambda m, x: m.diagonal(x), lambda m, x: x.narrow(1, 1, 2), lambda m, x: x.select(0, 1),
    lambda m, x: m.movedim(x, 0, 1), lambda m, x: x.t(), lambda m, x: m.swapaxes(x, 0, 1),
    lambda m, x: x.chunk(2, 1)[1], lambda m, x: x.unflatten(1, (3, 1)),
])
def test_views_share_memory_and_write_through_like_torch(fn):
    a = np.arange(9.0).reshape(3, 3)
    xe, xt = ember.tensor(a), torch.tensor(a)
    ve, vt = fn(ember, xe), fn(torch, xt)
    assert np.shares_memory(ve.numpy(), xe.numpy())
    ve.mul_(10)
    vt.mul_(10)
    np.testing.assert_array_equal(xe.numpy(), xt.numpy())
    assert xe._version == ve._version


@pytest.mark.parametrize("fn", [
    lambda m, x: x[1].mul_(2), lambda m, x: x[:, 1:].add_(1.5),
    lambda m, x: x.diagonal().mul_(3), lambda m, x: x.t()[0].mul_(4),
    lambda m, x: x[0].copy_(x[2].detach() * 2), lambda m, x: x[1:, 1:][0].mul_(x[0, 0].clone()),
])
def test_inplace_through_view_gradients_match_torch(fn):
    a = np.arange(1.0, 10.0).reshape(3, 3)
    grads = []
    for lib in (ember, torch):
        x = lib.tensor(a, requires_grad=True)
        y = x * x
        fn(lib, y)
        (y * lib.tensor(a)).sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_sibling_views_see_inplace_writes_in_autograd():
    grads = []
    for lib in (ember, torch):
        x = lib.arange(12.0, requires_grad=True)
        b = (x * 1).reshape(3, 4)
        b[1].mul_(2)
        b[0, [1, 1, 2]] += 5 * x[:3]
        b[:, 1:3].mul_(x[:2])
        b.sum().backward()
        grads.append(x.grad.numpy())
    np.testing.assert_allclose(grads[0], grads[1])


def test_iadd_with_advanced_index_accumulates_duplicates_in_backward():
    xe, xt = _pair(np.zeros(4))
    ye, yt = xe * 1, xt * 1
    ie, it = ember.tensor([0, 0, 2]), torch.tensor([0, 0, 2])
    ze, zt = ye[ie], yt[it]
    (ze * ember.tensor([1.0, 2.0, 3.0])).sum().backward()
    (zt * torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy())
    assert xe.grad.tolist() == [3.0, 0.0, 3.0, 0.0]


def test_setitem_on_leaf_requiring_grad_raises_and_no_grad_allows():
    x = ember.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        x[0] = 1.0
    with ember.no_grad():
        x[0] = 1.0
    assert x.tolist() == [1.0, 0.0, 0.0] and x.is_leaf and x._version == 1


def test_setitem_keeps_identity_memory_and_casts():
    x = ember.zeros(2, 3, dtype=ember.int64)
    data = x.numpy()
    x[0] = ember.tensor([1.7, 2.2, 3.9])
    x[1, [0, 2]] = 7
    x[x == 7] = -1
    assert x.numpy() is data
    assert x.tolist() == [[1, 2, 3], [-1, 0, -1]]
    assert x.dtype == ember.int64


def test_setitem_value_requires_grad_makes_target_non_leaf():
    x = ember.zeros(3)
    w = ember.tensor(2.0, requires_grad=True)
    x[1:] = w * 3
    x.sum().backward()
    assert x.grad_fn is not None
    assert w.grad.item() == 6.0


@pytest.mark.parametrize("fn", [lambda x: x.unbind(1)[2].mul_(-1),
                                lambda x: x.split([1, 2], 0)[1].mul_(2)])
def test_inplace_on_multi_output_view_raises_like_torch(fn):
    msgs = []
    for lib in (ember, torch):
        y = lib.ones(3, 3, requires_grad=True) * 2
        with pytest.raises(RuntimeError) as e:
            fn(y)
        msgs.append(str(e.value))
    assert msgs[0] == msgs[1]


def test_multiple_ellipses_like_torch():
    a = np.arange(24).reshape(2, 3, 4)
    for item in [(Ellipsis, Ellipsis), (0, Ellipsis, 1, Ellipsis), (Ellipsis, 0, Ellipsis)]:
        assert ember.tensor(a)[item].tolist() == torch.tensor(a)[item].tolist()


def test_write_of_grad_value_into_view_of_plain_tensor_reaches_base():
    grads = []
    for lib in (ember, torch):
        x = lib.zeros(3, 4)
        row = x[0]
        w = lib.ones(3, requires_grad=True)
        row[1:] = w * 2
        (x * lib.arange(12.0).reshape(3, 4)).sum().backward()
        assert x.requires_grad and row.requires_grad
        grads.append(w.grad.tolist())
    assert grads[0] == grads[1]


def test_iteration_uses_unbind():
    x = ember.tensor([[1, 2], [3, 4]])
    assert [r.tolist() for r in x] == [[1, 2], [3, 4]]
    x = ember.ones(2, 3, requires_grad=True)
    sum(r.sum() * (i + 1) for i, r in enumerate(x)).backward()
    assert x.grad.tolist() == [[1.0] * 3, [2.0] * 3]


def test_contiguous_copies_only_when_needed():
    x = ember.arange(6.0).reshape(2, 3)
    assert x.contiguous() is x
    y = x.t().contiguous()
    assert y.is_contiguous() and y.numpy().flags["C_CONTIGUOUS"]
    assert y.tolist() == [[0.0, 3.0], [1.0, 4.0], [2.0, 5.0]]


def test_sort_and_topk_return_namedtuples_like_torch():
    a = np.array([[3.0, 1.0, 3.0, 2.0], [0.0, 5.0, 5.0, -1.0]])
    se, st_ = ember.sort(ember.tensor(a), descending=True, stable=True), \
        torch.sort(torch.tensor(a), descending=True, stable=True)
    assert se.values.tolist() == st_.values.tolist()
    assert se.indices.tolist() == st_.indices.tolist()
    te = ember.tensor(a).topk(2, largest=False)
    tt = torch.tensor(a).topk(2, largest=False)
    assert te.values.tolist() == tt.values.tolist()
    assert te.indices.tolist() == tt.indices.tolist()
    values, indices = te
    assert values is te[0]


def test_sort_nan_order_matches_torch():
    a = np.array([1.0, np.nan, -2.0, np.inf, 0.5])
    for desc in (False, True):
        e, t = ember.sort(ember.tensor(a), descending=desc), torch.sort(torch.tensor(a),
                                                                         descending=desc)
        np.testing.assert_array_equal(e.values.numpy(), t.values.numpy())
        assert e.indices.tolist() == t.indices.tolist()


def test_where_one_arg_and_nonzero_tuple():
    a = np.array([[0, 1], [2, 0]])
    we, wt = ember.where(ember.tensor(a)), torch.where(torch.tensor(a))
    assert [t.tolist() for t in we] == [t.tolist() for t in wt]
    assert ember.tensor(a).nonzero().tolist() == torch.tensor(a).nonzero().tolist()


def test_unique_dim_and_sorted_matches_torch():
    a = np.array([[1, 2], [0, 5], [1, 2], [0, 5], [0, 4]])
    re = ember.unique(ember.tensor(a), dim=0, return_inverse=True, return_counts=True)
    rt = torch.unique(torch.tensor(a), dim=0, return_inverse=True, return_counts=True)
    for e, t in zip(re, rt, strict=True):
        assert e.tolist() == t.tolist()


def test_repeat_interleave_single_arg_and_output_values():
    assert ember.repeat_interleave(ember.tensor([1, 0, 2])).tolist() == \
        torch.repeat_interleave(torch.tensor([1, 0, 2])).tolist()


def test_cat_promotes_types_like_torch():
    e = ember.cat([ember.tensor([1, 2]), ember.tensor([0.5], dtype=ember.float64)])
    t = torch.cat([torch.tensor([1, 2]), torch.tensor([0.5], dtype=torch.float64)])
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    assert e.tolist() == t.tolist()


def test_gradgrad_through_setitem_and_gather():
    x = ember.randn(3, 4, dtype=ember.float64, requires_grad=True)

    def f(x):
        y = x * x
        y[1, [0, 2]] = x[0, :2] ** 3
        return y.gather(1, ember.tensor([[0, 1], [2, 2], [3, 0]]))
    assert ember.autograd.gradgradcheck(f, (x,))


# ---------------------------------------------------------------- errors like torch


X = np.zeros((3, 4))


@pytest.mark.parametrize("fn", [
    lambda m, x: x[5], lambda m, x: x[:, 7], lambda m, x: x[-4],
    lambda m, x: x[m.tensor([5])], lambda m, x: x[::-1], lambda m, x: x[0, 0, 0],
    lambda m, x: x[m.tensor([True, False])], lambda m, x: x[m.tensor([1.0])],
    lambda m, x: m.cat([x, m.zeros(3, 5, dtype=x.dtype)]),
    lambda m, x: m.cat([]), lambda m, x: m.cat([m.tensor(1.0), x]),
    lambda m, x: m.stack([x, x[0]]), lambda m, x: x.select(0, 5), lambda m, x: x.narrow(1, 3, 2),
    lambda m, x: x.split([1, 1]), lambda m, x: m.zeros(2, 2, 2).t(),
    lambda m, x: x.gather(0, m.tensor([[5]])), lambda m, x: x.gather(0, m.tensor([1])),
    lambda m, x: x.index_select(0, m.tensor([5])), lambda m, x: x.index_select(0, m.tensor([[1]])),
    lambda m, x: x.take(m.tensor([50])), lambda m, x: x.masked_fill(m.ones(3, 4), 1.0),
    lambda m, x: x.topk(5), lambda m, x: x.flip((0, 0)), lambda m, x: x.diagonal(0, 1, 1),
    lambda m, x: m.nn.functional.pad(x[None], (4, 1), mode="reflect"),
    lambda m, x: m.nn.functional.pad(x, (1,)), lambda m, x: x.repeat(2),
    lambda m, x: x.movedim((0, 1), (1,)), lambda m, x: x.unbind(2),
    lambda m, x: x[0].expand(2, 4).__setitem__((slice(None), 0), 1.0), lambda m, x: x[1.5],
])
def test_errors_match_torch(fn):
    with pytest.raises(Exception) as te:
        fn(torch, torch.tensor(X))
    with pytest.raises(type(te.value)) as ee:
        fn(ember, ember.tensor(X))
    tmsg, emsg = str(te.value).split("\n")[0], str(ee.value).split("\n")[0]
    assert emsg == tmsg or emsg.startswith(tmsg[:20]), (emsg, tmsg)


def test_searchsorted_with_sorter_and_side_like_torch():
    seq = np.array([[5, 1, 3], [2, 9, 4]])
    vals = np.array([[3, 6], [4, 1]])
    se, st_ = ember.tensor(seq), torch.tensor(seq)
    for kw in ({"side": "right"}, {"right": False}):
        e = ember.searchsorted(se, ember.tensor(vals), sorter=se.argsort(), **kw)
        t = torch.searchsorted(st_, torch.tensor(vals), sorter=st_.argsort(), **kw)
        assert e.tolist() == t.tolist()


def test_pad_modes_match_torch_on_small_image():
    a = np.arange(12.0).reshape(1, 1, 3, 4)
    for mode in ("constant", "reflect", "replicate", "circular"):
        e = ember.nn.functional.pad(ember.tensor(a), (1, 2, 2, 1), mode=mode)
        t = torch.nn.functional.pad(torch.tensor(a), (1, 2, 2, 1), mode=mode)
        np.testing.assert_array_equal(e.numpy(), t.numpy())
