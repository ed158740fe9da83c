"""isclose/allclose/equal, diff, cross, rot90, cummax/cummin, bincount, histc, cdist/dist,
detach and the top-level rng state functions: errors and warnings compared against torch
(values and gradients are covered by the op database)."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember

torch = pytest.importorskip("torch")

NAN, INF = float("nan"), float("inf")


def _both(fn):
    """Run ``fn`` with ember and torch; return (ember exception, torch exception)."""
    errs = []
    for lib in (ember, torch):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                fn(lib)
            except Exception as e:  # noqa: BLE001 - compared below
                errs.append(e)
            else:
                errs.append(None)
    return errs


ERROR_CASES = {
    "isclose_dtype": lambda m: m.isclose(m.ones(2), m.ones(2, dtype=m.float64)),
    "isclose_int_float": lambda m: m.isclose(m.tensor([1]), m.tensor([1.0])),
    "isclose_rtol": lambda m: m.isclose(m.ones(2), m.ones(2), rtol=-1),
    "isclose_atol": lambda m: m.allclose(m.ones(2), m.ones(2), atol=-1),
    "isclose_shape": lambda m: m.isclose(m.ones(2), m.ones(3)),
    "diff_0d": lambda m: m.diff(m.tensor(1.0)),
    "diff_order": lambda m: m.diff(m.ones(3), n=-1),
    "diff_prepend_ndim": lambda m: m.diff(m.ones(3), prepend=m.tensor(1.0)),
    "diff_dim": lambda m: m.diff(m.ones(3), dim=1),
    "cross_no3": lambda m: m.cross(m.ones(2, 4), m.ones(2, 4)),
    "cross_dim_len": lambda m: m.cross(m.ones(2, 3), m.ones(2, 3), dim=0),
    "cross_ndim": lambda m: m.cross(m.ones(3, 3), m.ones(3)),
    "cross_dtype": lambda m: m.cross(m.tensor([1, 2, 3]), m.tensor([1.0, 2.0, 4.0]), dim=0),
    "linalg_cross_last": lambda m: m.linalg.cross(m.ones(3, 2), m.ones(3, 2)),
    "rot90_ndims": lambda m: m.rot90(m.ones(2, 3), 1, (0,)),
    "rot90_same": lambda m: m.rot90(m.ones(2, 3), 1, (0, 0)),
    "rot90_range": lambda m: m.rot90(m.ones(2, 3), 1, (0, 2)),
    "rot90_1d": lambda m: m.rot90(m.ones(2), 1, (0, 1)),
    "cummax_dim": lambda m: m.cummax(m.ones(2, 3), 2),
    "bincount_float": lambda m: m.bincount(m.tensor([1.0, 2.0])),
    "bincount_negative": lambda m: m.bincount(m.tensor([-1, 2])),
    "bincount_2d": lambda m: m.bincount(m.tensor([[1, 2]])),
    "bincount_minlength": lambda m: m.bincount(m.tensor([1, 2]), minlength=-1),
    "bincount_weights": lambda m: m.bincount(m.tensor([1, 2]), m.tensor([1.0])),
    "histc_int": lambda m: m.histc(m.tensor([1, 2, 1])),
    "histc_bins": lambda m: m.histc(m.tensor([1.0, 2.0]), bins=0),
    "histc_order": lambda m: m.histc(m.tensor([1.0, 2.0]), bins=3, min=3, max=1),
    "histc_inf": lambda m: m.histc(m.tensor([1.0, INF]), bins=3),
    "cdist_1d": lambda m: m.cdist(m.ones(3), m.ones(3)),
    "cdist_cols": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 4)),
    "cdist_p": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3), p=-1),
    "cdist_int": lambda m: m.cdist(m.ones(2, 3, dtype=m.int64), m.ones(2, 3, dtype=m.int64)),
    "cdist_dtype": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3, dtype=m.float64)),
    "cdist_mode": lambda m: m.cdist(m.ones(2, 3), m.ones(2, 3), compute_mode="fast"),
    "dist_int": lambda m: m.dist(m.ones(2, dtype=m.int64), m.ones(2, dtype=m.int64)),
}


@pytest.mark.parametrize("name", sorted(ERROR_CASES))
def test_errors_match_torch(name):
    e_err, t_err = _both(ERROR_CASES[name])
    assert t_err is not None and e_err is not None, (e_err, t_err)
    assert isinstance(e_err, type(t_err)), (e_err, t_err)
    t_msg = str(t_err).split("\n")[0].replace("-nan", "nan")
    # ember may prefix the op's name
    assert t_msg[:40] in str(e_err).split("\n")[0], (str(e_err), t_msg)


def test_cross_default_dim_warns_and_uses_first_size3_dim():
    a = np.random.default_rng(0).standard_normal((2, 3, 3))
    b = np.random.default_rng(1).standard_normal((2, 3, 3))
    with pytest.warns(UserWarning, match="without specifying the dim arg is deprecated"):
        out = ember.cross(ember.tensor(a), ember.tensor(b))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = torch.cross(torch.from_numpy(a), torch.from_numpy(b))
    np.testing.assert_allclose(out.numpy(), ref.numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ember.linalg.cross(ember.tensor(a), ember.tensor(b))
        ember.cross(ember.tensor(a), ember.tensor(b), dim=2)


def test_close_and_equal_return_python_bools():
    a = ember.tensor([1.0, NAN])
    assert ember.allclose(a, a, equal_nan=True) is True
    assert ember.allclose(a, a) is False
    assert a.equal(a) is False  # nan is never equal
    assert torch.equal(torch.tensor([1.0, NAN]), torch.tensor([1.0, NAN])) is False
    assert ember.equal(ember.tensor([1, 2]), ember.tensor([1.0, 2.0])) is True
    assert torch.equal(torch.tensor([1, 2]), torch.tensor([1.0, 2.0])) is True


def test_isclose_not_differentiable():
    a = ember.ones(3, requires_grad=True)
    out = ember.isclose(a, a)
    assert out.dtype == ember.bool and not out.requires_grad


def test_cummax_gradient_goes_to_index_positions():
    x = [[1.0, 3.0, 3.0, 0.5], [2.0, 2.0, 5.0, 1.0]]
    grads = []
    for lib in (ember, torch):
        t = lib.tensor(x, requires_grad=True)
        v, i = lib.cummax(t, 1)
        (v * lib.arange(4.0)).sum().backward()
        grads.append(t.grad.numpy())
    np.testing.assert_array_equal(*grads)


def test_detach_top_level():
    x = ember.ones(2, requires_grad=True)
    y = ember.detach(x)
    assert not y.requires_grad and y.grad_fn is None
    y.add_(1.0)  # the data is shared, as torch.detach
    np.testing.assert_array_equal(x.detach().numpy(), [2.0, 2.0])


def test_rng_state_top_level():
    state = ember.get_rng_state()
    a = ember.rand(3)
    ember.set_rng_state(state)
    assert ember.equal(ember.rand(3), a)
    assert "get_rng_state" in ember.__all__ and "set_rng_state" in ember.__all__
