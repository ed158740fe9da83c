"""nn.init against torch: gains and fans exactly, deterministic initialisers exactly, random
ones by their distribution (bounds, mean, std from torch's formulas)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember import nn
from ember.nn import init

torch = pytest.importorskip("torch")
tinit = torch.nn.init

SHAPES = [(30, 20), (8, 4, 3), (6, 3, 2, 5), (4, 2, 1, 3, 3)]


@pytest.mark.parametrize("shape", SHAPES + [(5, 1)])
def test_fan_in_fan_out_matches_torch(shape):
    assert init._calculate_fan_in_and_fan_out(ember.empty(shape)) == \
        tinit._calculate_fan_in_and_fan_out(torch.empty(shape))


def test_fan_errors():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(ember.empty(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        init.kaiming_uniform_(ember.empty(3, 3), mode="fan_avg")


@pytest.mark.parametrize("args", [("linear",), ("conv2d",), ("sigmoid",), ("tanh",), ("relu",),
                                  ("leaky_relu",), ("leaky_relu", 0.2), ("leaky_relu", 3),
                                  ("selu",), ("conv_transpose3d",)])
def test_calculate_gain_matches_torch(args):
    assert init.calculate_gain(*args) == pytest.approx(tinit.calculate_gain(*args), rel=1e-12)


def test_calculate_gain_errors():
    with pytest.raises(ValueError, match="Unsupported nonlinearity gelu"):
        init.calculate_gain("gelu")
    with pytest.raises(ValueError, match="negative_slope True not a valid number"):
        init.calculate_gain("leaky_relu", True)


def _check_uniform(arr, bound):
    a = arr.ravel()
    assert np.abs(a).max() <= bound * (1 + 1e-6)
    assert np.abs(a).max() > 0.95 * bound
    assert abs(a.mean()) < 0.1 * bound
    assert abs(a.std() - bound / math.sqrt(3)) < 0.08 * bound


def _check_normal(arr, std, mean=0.0):
    a = arr.ravel()
    assert abs(a.mean() - mean) < 0.1 * std + 1e-12
    assert abs(a.std() - std) < 0.08 * std


def test_uniform_and_normal():
    t = ember.empty(100, 50)
    assert init.uniform_(t, -2.0, 3.0) is t
    a = t.numpy()
    assert a.min() >= -2.0 and a.max() < 3.0 and abs(a.mean() - 0.5) < 0.1
    init.normal_(t, mean=1.5, std=0.5)
    _check_normal(t.numpy(), 0.5, 1.5)
    assert t.dtype == ember.float32
    d = init.normal_(ember.empty(2000, dtype=ember.float64), std=2.0)
    assert d.dtype == ember.float64
    _check_normal(d.numpy(), 2.0)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("gain", [1.0, 2.5])
def test_xavier(shape, gain):
    big = (shape[0] * 10,) + shape[1:]  # enough samples for the statistics
    fi, fo = tinit._calculate_fan_in_and_fan_out(torch.empty(big))
    std_big = gain * math.sqrt(2.0 / (fi + fo))
    t = ember.empty(big)
    _check_uniform(init.xavier_uniform_(t, gain=gain).numpy(), math.sqrt(3) * std_big)
    _check_normal(init.xavier_normal_(t, gain=gain).numpy(), std_big)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
@pytest.mark.parametrize("nl,a", [("leaky_relu", 0), ("relu", 0), ("leaky_relu", math.sqrt(5)),
                                  ("tanh", 0)])
def test_kaiming(shape, mode, nl, a):
    big = (shape[0] * 10,) + shape[1:]
    fan = tinit._calculate_correct_fan(torch.empty(big), mode)
    std = tinit.calculate_gain(nl, a) / math.sqrt(fan)
    t = ember.empty(big)
    _check_uniform(init.kaiming_uniform_(t, a=a, mode=mode, nonlinearity=nl).numpy(),
                   math.sqrt(3) * std)
    _check_normal(init.kaiming_normal_(t, a=a, mode=mode, nonlinearity=nl).numpy(), std)


def test_kaiming_zero_element_warns():
    t = ember.empty(0, 3)
    with pytest.warns(UserWarning, match="Initializing zero-element tensors is a no-op"):
        assert init.kaiming_uniform_(t) is t


def test_trunc_normal():
    t = init.trunc_normal_(ember.empty(20000), mean=0.5, std=1.0, a=-1.0, b=1.5)
    a = t.numpy()
    assert a.min() >= -1.0 and a.max() <= 1.5
    ref = tinit.trunc_normal_(torch.empty(20000), mean=0.5, std=1.0, a=-1.0, b=1.5).numpy()
    assert abs(a.mean() - ref.mean()) < 0.03 and abs(a.std() - ref.std()) < 0.03
    narrow = init.trunc_normal_(ember.empty(5000), std=0.02).numpy()
    assert abs(narrow.std() - 0.02) < 0.002  # bounds at +-2 are 100 std away


def test_constant_ones_zeros_eye_dirac_match_torch():
    t = ember.empty(3, 4)
    assert (init.constant_(t, 0.25).numpy() == 0.25).all()
    assert (init.ones_(t).numpy() == 1).all()
    assert not init.zeros_(t).numpy().any()
    for shape in [(3, 4), (4, 2)]:
        np.testing.assert_array_equal(init.eye_(ember.empty(shape)).numpy(),
                                      tinit.eye_(torch.empty(shape)).numpy())
    for shape, groups in [((4, 2, 3), 1), ((4, 2, 3, 3), 2), ((6, 3, 3, 1, 3), 3),
                          ((2, 4, 5, 5), 1)]:
        np.testing.assert_array_equal(init.dirac_(ember.empty(shape), groups).numpy(),
                                      tinit.dirac_(torch.empty(shape), groups).numpy())
    with pytest.raises(ValueError, match="Only tensors with 2 dimensions are supported"):
        init.eye_(ember.empty(2, 2, 2))
    with pytest.raises(ValueError, match="Only tensors with 3, 4, or 5 dimensions"):
        init.dirac_(ember.empty(2, 2))


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (8, 2), (4, 2, 3)])
def test_orthogonal(shape):
    gain = 1.7
    w = init.orthogonal_(ember.empty(shape), gain=gain).numpy().reshape(shape[0], -1)
    rows, cols = w.shape
    small = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(small, gain ** 2 * np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="Only tensors with 2 or more dimensions"):
        init.orthogonal_(ember.empty(3))


def test_sparse():
    w = init.sparse_(ember.empty(10, 6), sparsity=0.3, std=0.5).numpy()
    assert ((w == 0).sum(0) == math.ceil(0.3 * 10)).all()
    t = torch.empty(10, 6)
    tinit.sparse_(t, 0.3)
    assert ((t.numpy() == 0).sum(0) == 3).all()


def test_generator_reproducible_and_no_graph():
    g = ember.Generator().manual_seed(5)
    a = init.kaiming_normal_(ember.empty(4, 4), generator=g).numpy().copy()
    g.manual_seed(5)
    b = init.kaiming_normal_(ember.empty(4, 4), generator=g).numpy()
    np.testing.assert_array_equal(a, b)
    p = nn.Parameter(ember.zeros(3, 3))
    v = p._version
    init.xavier_uniform_(p)
    assert p.is_leaf and p.requires_grad and p.grad_fn is None and p._version > v
    assert isinstance(p, nn.Parameter)
