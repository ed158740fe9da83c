"""Reductions, softmax and linear algebra beyond the op database: return types, dtype rules,
errors, warnings, and hypothesis properties against NumPy."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ember
import ember.nn.functional as F

torch = pytest.importorskip("torch")


def _both(a):
    return ember.tensor(a), torch.from_numpy(np.array(a))


def _same_error(fn, *args):
    """``fn(lib, *args)`` raises the same exception type in ember and torch; returns ember's."""
    with pytest.raises(Exception) as te:
        fn(torch, *[torch.from_numpy(np.asarray(a)) for a in args])
    with pytest.raises(Exception) as ee:
        fn(ember, *[ember.tensor(np.asarray(a)) for a in args])
    base = [c for c in type(te.value).__mro__ if c.__module__ == "builtins"][0]
    assert isinstance(ee.value, base), f"{type(ee.value)} vs torch's {type(te.value)}"
    return ee.value


# ---------------------------------------------------------------- return types


@pytest.mark.parametrize("name", ["max", "min", "median"])
def test_dim_reductions_return_named_tuples(name):
    x = np.array([[1.0, 5.0, 2.0], [7.0, 0.0, 3.0]])
    e = getattr(ember, name)(ember.tensor(x), 1)
    t = getattr(torch, name)(torch.from_numpy(x), 1)
    values, indices = e
    assert isinstance(e, tuple) and len(e) == 2
    assert e.values is values and e.indices is indices
    np.testing.assert_array_equal(values.numpy(), t.values.numpy())
    np.testing.assert_array_equal(indices.numpy(), t.indices.numpy())
    assert indices.dtype == ember.int64
    assert type(e).__name__ == name


def test_max_method_forms():
    x = ember.tensor([[1.0, 5.0], [7.0, 2.0]])
    assert x.max().item() == 7.0
    assert x.max(dim=0).indices.tolist() == [1, 0]
    assert x.max(1, keepdim=True).values.shape == (2, 1)
    assert x.min(ember.tensor([3.0, 3.0])).tolist() == [[1.0, 3.0], [3.0, 2.0]]
    assert ember.max(x, ember.tensor(4.0)).tolist() == [[4.0, 5.0], [7.0, 4.0]]


def test_aminmax_fields():
    x = ember.tensor([[1.0, 5.0], [7.0, -2.0]])
    r = ember.aminmax(x, dim=1)
    assert r.min.tolist() == [1.0, -2.0] and r.max.tolist() == [5.0, 7.0]


# ---------------------------------------------------------------- dtypes


@pytest.mark.parametrize("fn", [
    lambda m, x: m.sum(x), lambda m, x: m.sum(x, 0), lambda m, x: m.prod(x),
    lambda m, x: m.prod(x, 0), lambda m, x: m.cumsum(x, 0), lambda m, x: m.cumprod(x, 0),
    lambda m, x: m.argmax(x), lambda m, x: m.count_nonzero(x), lambda m, x: m.all(x),
    lambda m, x: m.any(x, 0), lambda m, x: m.amax(x, 0), lambda m, x: m.max(x, 0)[0],
    lambda m, x: m.median(x), lambda m, x: m.nansum(x), lambda m, x: m.logsumexp(x, 0),
    lambda m, x: m.trace(x), lambda m, x: m.sum(x, dtype=m.float64),
    lambda m, x: m.cumsum(x, 1, dtype=m.float32),
])
@pytest.mark.parametrize("dtype", ["int32", "int64", "bool", "uint8", "float32"])
def test_output_dtypes_match_torch(fn, dtype):
    a = np.array([[1, 0, 2], [3, 1, 0], [0, 2, 2]]).astype(dtype)
    try:
        t = fn(torch, torch.from_numpy(a))
    except (RuntimeError, NotImplementedError):
        _same_error(fn, a)
        return
    e = fn(ember, ember.tensor(a))
    assert str(e.dtype).split(".")[-1] == str(t.dtype).split(".")[-1]
    np.testing.assert_allclose(e.numpy().astype(float), t.numpy().astype(float), rtol=1e-6)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.mean(x), lambda m, x: m.var(x), lambda m, x: m.std(x, 0),
    lambda m, x: m.norm(x), lambda m, x: m.linalg.vector_norm(x), lambda m, x: m.nanmean(x),
    lambda m, x: m.softmax(x, 0), lambda m, x: m.linalg.inv(x), lambda m, x: m.linalg.det(x),
])
def test_integer_inputs_rejected_like_torch(fn):
    err = _same_error(fn, np.array([[1, 2], [3, 5]]))
    assert str(err)


def test_mean_with_dtype_of_int():
    x = ember.tensor([1, 2, 4])
    assert ember.mean(x, dtype=ember.float64).item() == pytest.approx(7 / 3)


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize("fn,shapes", [
    (lambda m, x: m.max(x), [(0, 3)]),
    (lambda m, x: m.amax(x, 0), [(0, 3)]),
    (lambda m, x: m.argmax(x), [(0,)]),
    (lambda m, x: m.max(x, 0), [(0, 3)]),
    (lambda m, x: m.median(x, 1), [(2, 0)]),
    (lambda m, x: m.sum(x, 2), [(2, 3)]),
    (lambda m, x: m.var(x, (0, 0)), [(2, 3)]),
    (lambda m, a, b: m.mm(a, b), [(3, 4), (5, 2)]),
    (lambda m, a, b: m.mm(a, b), [(3,), (3, 2)]),
    (lambda m, a, b: m.bmm(a, b), [(2, 3, 4), (3, 4, 2)]),
    (lambda m, a, b: m.mv(a, b), [(3, 4), (5,)]),
    (lambda m, a, b: m.dot(a, b), [(3,), (5,)]),
    (lambda m, a, b: m.dot(a, b), [(3, 1), (3,)]),
    (lambda m, x: m.trace(x), [(3,)]),
    (lambda m, x: m.linalg.inv(x), [(2, 3)]),
    (lambda m, x: m.linalg.det(x), [(3,)]),
    (lambda m, a, b: m.linalg.solve(a, b), [(3, 3), (2, 3)]),
    (lambda m, x: m.linalg.norm(x, 2), [(2, 3, 4)]),
    (lambda m, a, b: m.einsum("ij,jk", a, b), [(2, 3), (4, 3)]),
])
def test_errors_match_torch_types(fn, shapes):
    _same_error(fn, *[np.ones(s) for s in shapes])


@pytest.mark.parametrize("op,a,b,msg", [
    ("mm", (3, 4), (5, 2), "mm: (3, 4) @ (5, 2): inner dimensions 4 and 5 differ"),
    ("bmm", (2, 3, 4), (2, 5, 2), "bmm: (2, 3, 4) @ (2, 5, 2): inner dimensions 4 and 5 differ"),
    ("mv", (3, 4), (5,), "mv: (3, 4) @ (5,): inner dimensions 4 and 5 differ"),
    ("dot", (3,), (5,), "dot: (3,) @ (5,): inner dimensions 3 and 5 differ"),
])
def test_product_errors_name_op_and_shapes(op, a, b, msg):
    with pytest.raises(RuntimeError) as e:
        getattr(ember, op)(ember.ones(a), ember.ones(b))
    assert str(e.value) == msg


def test_dot_dtype_mismatch():
    with pytest.raises(RuntimeError, match="dot"):
        ember.dot(ember.ones(3), ember.ones(3, dtype=ember.float64))


def test_singular_inverse_raises_linalg_error():
    with pytest.raises(ember.linalg.LinAlgError, match="linalg.inv") as e:
        ember.linalg.inv(ember.zeros(2, 2))
    assert isinstance(e.value, RuntimeError)
    with pytest.raises(RuntimeError, match="linalg.solve"):
        ember.linalg.solve(ember.zeros(2, 2), ember.ones(2))


# ---------------------------------------------------------------- numerics


def test_logsumexp_stable_and_neg_inf_rows():
    a = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [-1000.0, -np.inf]])
    (e, t) = _both(a)
    np.testing.assert_allclose(ember.logsumexp(e, 1).numpy(), torch.logsumexp(t, 1).numpy())


def test_softmax_stable_for_large_inputs():
    a = np.array([[1000.0, 0.0, -1000.0], [3.0, 3.0, 3.0]], dtype=np.float32)
    e, t = _both(a)
    np.testing.assert_allclose(F.softmax(e, 1).numpy(), torch.softmax(t, 1).numpy())
    np.testing.assert_allclose(F.log_softmax(e, 1).numpy(), torch.log_softmax(t, 1).numpy())


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape", [(), (4,), (2, 3), (2, 3, 4), (2, 3, 2, 2)])
def test_implicit_softmax_dim_warns_like_torch(name, shape):
    a = np.random.default_rng(0).standard_normal(shape).astype(np.float32)
    e, t = _both(a)
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name}"):
        eo = getattr(F, name)(e)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        to = getattr(torch.nn.functional, name)(t)
    np.testing.assert_allclose(eo.numpy(), to.numpy(), rtol=1e-5, atol=1e-6)


def test_var_degrees_of_freedom_warning():
    with pytest.warns(UserWarning, match="degrees of freedom"):
        v = ember.var(ember.tensor([1.0]))
    assert math.isnan(v.item())


def test_norm_gradient_at_zero_is_zero():
    x = ember.zeros(3, requires_grad=True)
    ember.linalg.vector_norm(x).backward()
    assert x.grad.tolist() == [0.0, 0.0, 0.0]
    y = ember.zeros(2, 2, requires_grad=True)
    y.norm().backward()
    assert not np.isnan(y.grad.numpy()).any()


def test_prod_and_cumprod_grads_with_zeros_match_torch():
    a = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 4.0], [1.0, 2.0, 3.0]])
    for fn in (lambda m, x: m.prod(x, 1), lambda m, x: m.prod(x), lambda m, x: m.cumprod(x, 1),
               lambda m, x: m.cumprod(x, 0)):
        e = ember.tensor(a, requires_grad=True)
        t = torch.tensor(a, requires_grad=True)
        fn(ember, e).sum().backward()
        fn(torch, t).sum().backward()
        np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy())


def test_einsum_second_order_matches_torch():
    a = np.random.default_rng(1).standard_normal((3, 3))
    e = ember.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    (ge,) = ember.autograd.grad((ember.einsum("ii,ij->j", e, e) ** 2).sum(), [e],
                                create_graph=True)
    (gt,) = torch.autograd.grad((torch.einsum("ii,ij->j", t, t) ** 2).sum(), [t],
                                create_graph=True)
    np.testing.assert_allclose(ge.detach().numpy(), gt.detach().numpy(), rtol=1e-10)
    (gge,) = ember.autograd.grad(ge.sum(), [e])
    (ggt,) = torch.autograd.grad(gt.sum(), [t])
    np.testing.assert_allclose(gge.numpy(), ggt.numpy(), rtol=1e-10)


def test_linalg_namespace():
    for name in ("norm", "vector_norm", "matrix_norm", "inv", "det", "slogdet", "solve"):
        assert callable(getattr(ember.linalg, name))
    assert "linalg" in ember.__all__


# ---------------------------------------------------------------- properties vs NumPy

_shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


@st.composite
def _array_and_dims(draw):
    shape = draw(_shapes)
    dims = draw(st.lists(st.integers(-len(shape), len(shape) - 1), unique_by=lambda d: d
                         % len(shape), min_size=1, max_size=len(shape)))
    seed = draw(st.integers(0, 2**16))
    a = np.random.default_rng(seed).standard_normal(shape)
    return a, tuple(dims), draw(st.booleans())


@settings(max_examples=25, deadline=None)
@given(_array_and_dims())
def test_sum_mean_amax_match_numpy(case):
    a, dims, keepdim = case
    x = ember.tensor(a)
    np.testing.assert_allclose(ember.sum(x, dims, keepdim).numpy(),
                               a.sum(axis=dims, keepdims=keepdim), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ember.mean(x, dims, keepdim).numpy(),
                               a.mean(axis=dims, keepdims=keepdim), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(ember.amax(x, dims, keepdim).numpy(),
                                  a.max(axis=dims, keepdims=keepdim))
    np.testing.assert_allclose(ember.var(x, dims, keepdim=keepdim, correction=0).numpy(),
                               a.var(axis=dims, keepdims=keepdim), rtol=1e-10, atol=1e-12)


@settings(max_examples=25, deadline=None)
@given(_array_and_dims())
def test_max_dim_matches_numpy(case):
    a, dims, keepdim = case
    d = dims[0]
    values, indices = ember.max(ember.tensor(a), d, keepdim)
    np.testing.assert_array_equal(values.numpy(), a.max(axis=d, keepdims=keepdim))
    np.testing.assert_array_equal(indices.numpy(), a.argmax(axis=d, keepdims=keepdim))
    np.testing.assert_array_equal(ember.argmin(ember.tensor(a), d, keepdim).numpy(),
                                  a.argmin(axis=d, keepdims=keepdim))


@settings(max_examples=25, deadline=None)
@given(_array_and_dims())
def test_softmax_rows_sum_to_one_and_match_log_softmax(case):
    a, dims, _ = case
    x = ember.tensor(a)
    s = ember.softmax(x, dims[0])
    np.testing.assert_allclose(s.sum(dims[0]).numpy(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(np.log(s.numpy()), ember.log_softmax(x, dims[0]).numpy(),
                               rtol=1e-10, atol=1e-12)


def test_det_gradient_of_singular_matrix_matches_torch():
    a = np.array([[1.0, 2.0, 3.0], [2.0, 4.0, 6.0], [1.0, 0.0, 1.0]])
    e = ember.tensor(a, requires_grad=True)
    t = torch.tensor(a, requires_grad=True)
    ember.linalg.det(e).backward()
    torch.linalg.det(t).backward()
    np.testing.assert_allclose(e.grad.numpy(), t.grad.numpy(), atol=1e-12)


@pytest.mark.parametrize("eq,shapes", [
    ("ii->i", [(3, 3)]), ("iij,j->i", [(2, 2, 3), (3,)]), ("ij,jk,kl", [(2, 3), (3, 4), (4, 2)]),
    ("b...i,b...i->b", [(2, 3, 4), (2, 1, 4)]), ("ijk->", [(2, 3, 2)]), ("i,j->ij", [(2,), (3,)]),
])
def test_einsum_gradients_match_torch(eq, shapes):
    rng = np.random.default_rng(3)
    arrays = [rng.standard_normal(s) for s in shapes]
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    eo, to = ember.einsum(eq, *es), torch.einsum(eq, *ts)
    np.testing.assert_allclose(eo.detach().numpy(), to.detach().numpy(), rtol=1e-12)
    w = rng.standard_normal(tuple(to.shape))
    ge = ember.autograd.grad((eo * ember.tensor(w)).sum(), es)
    gt = torch.autograd.grad((to * torch.from_numpy(w)).sum(), ts)
    for a, b in zip(ge, gt):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-10, atol=1e-12)
