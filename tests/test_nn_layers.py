"""Layers (Linear, Bilinear, Embedding, Flatten, dropout, activations) and their functional
forms against torch with identical weights: outputs, input and parameter gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.autograd.gradcheck import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
tnn = torch.nn


def _e(a, rg=False, dtype=None):
    t = ember.tensor(np.array(a, dtype=dtype))
    return t.requires_grad_() if rg else t


def _t(a, rg=False, dtype=None):
    t = torch.from_numpy(np.array(a, dtype=dtype))
    return t.requires_grad_() if rg else t


def _copy_weights(tm, em):
    """Load torch module's state into the ember module (through load_state_dict)."""
    sd = {k: ember.tensor(v.detach().numpy().copy()) for k, v in tm.state_dict().items()}
    res = em.load_state_dict(sd)
    assert res.missing_keys == [] and res.unexpected_keys == []


def _close(e, t, atol=1e-5, rtol=1e-5):
    assert e is not None and t is not None
    np.testing.assert_allclose(e.detach().numpy(), t.detach().numpy(), atol=atol, rtol=rtol)


def _compare_module(tm, em, *inputs, atol=1e-5, rtol=1e-5, grad=True):
    """Same weights, same inputs: compare output, input grads and parameter grads."""
    _copy_weights(tm, em)
    t_in = [_t(x, rg=grad and np.asarray(x).dtype.kind == "f") for x in inputs]
    e_in = [_e(x, rg=grad and np.asarray(x).dtype.kind == "f") for x in inputs]
    ty = tm(*t_in)
    ey = em(*e_in)
    assert tuple(ey.shape) == tuple(ty.shape)
    assert str(ey.dtype).split(".")[-1] == str(ty.dtype).split(".")[-1]
    _close(ey, ty, atol, rtol)
    if not grad:
        return
    g = np.random.default_rng(1).standard_normal(tuple(ty.shape)).astype(np.float32)
    ty.backward(torch.from_numpy(g.astype(ty.detach().numpy().dtype)))
    ey.backward(ember.tensor(g.astype(ey.detach().numpy().dtype)))
    for ti, ei in zip(t_in, e_in, strict=True):
        if ti.requires_grad:
            _close(ei.grad, ti.grad, atol, rtol)
    tp = dict(tm.named_parameters())
    for name, p in em.named_parameters():
        if tp[name].grad is None:
            assert p.grad is None or not p.grad.numpy().any()
        else:
            _close(p.grad, tp[name].grad, atol, rtol)


def _rand(*shape, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------- Linear / Bilinear


@pytest.mark.parametrize("shape", [(4, 3), (3,), (2, 5, 3), (0, 3), (2, 1, 2, 3)])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_matches_torch(shape, bias):
    _compare_module(tnn.Linear(3, 2, bias=bias), nn.Linear(3, 2, bias=bias), _rand(*shape))


def test_linear_float64():
    tm, em = tnn.Linear(3, 2).double(), nn.Linear(3, 2).double()
    assert em.weight.dtype == ember.float64 and em.bias.dtype == ember.float64
    _compare_module(tm, em, _rand(4, 3, dtype=np.float64))


def test_linear_default_init_bounds():
    m = nn.Linear(50, 40)
    bound = 1 / math.sqrt(50)  # kaiming_uniform(a=sqrt(5)) gives the same bound as the bias
    w, b = m.weight.detach().numpy(), m.bias.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    assert np.abs(w).max() > 0.9 * bound  # really uniform over the whole range
    assert abs(w.std() - bound / math.sqrt(3)) < 0.1 * bound
    assert m.weight.requires_grad and isinstance(m.weight, nn.Parameter)


def test_linear_errors():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x5 "
                                           r"and 3x2\)"):
        F.linear(ember.zeros(4, 5), ember.zeros(2, 3))
    with pytest.raises(RuntimeError, match="mat1 and mat2 must have the same dtype"):
        F.linear(ember.zeros(4, 3, dtype=ember.float64), ember.zeros(2, 3))
    with pytest.raises(RuntimeError):
        torch.nn.functional.linear(torch.zeros(4, 5), torch.zeros(2, 3))


@pytest.mark.parametrize("xshape,bias", [((3, 4), True), ((4,), False), ((2, 3, 4), True)])
def test_linear_gradcheck(xshape, bias):
    rng = np.random.default_rng(0)
    x = ember.tensor(rng.standard_normal(xshape), requires_grad=True)
    w = ember.tensor(rng.standard_normal((2, 4)), requires_grad=True)
    args = [x, w] + ([ember.tensor(rng.standard_normal(2), requires_grad=True)] if bias else [])
    assert gradcheck(F.linear, args)
    assert gradgradcheck(F.linear, args)


def test_linear_is_fast_path():
    x = ember.randn(8, 3, requires_grad=True)
    y = nn.Linear(3, 2)(x)
    assert y.grad_fn.name() == "LinearBackward0"  # one fused node, not matmul + transpose + add


@pytest.mark.parametrize("lead", [(5,), (), (2, 3)])
def test_bilinear_matches_torch(lead):
    _compare_module(tnn.Bilinear(3, 4, 2), nn.Bilinear(3, 4, 2), _rand(*lead, 3),
                    _rand(*lead, 4, seed=1))


def test_bilinear_no_bias_gradcheck():
    _compare_module(tnn.Bilinear(2, 3, 4, bias=False), nn.Bilinear(2, 3, 4, bias=False),
                    _rand(3, 2), _rand(3, 3, seed=2))
    rng = np.random.default_rng(0)
    args = [ember.tensor(rng.standard_normal(s), requires_grad=True)
            for s in [(3, 2), (3, 3), (4, 2, 3), (4,)]]
    assert gradcheck(F.bilinear, args)


def test_bilinear_init_bounds():
    m = nn.Bilinear(16, 3, 5)
    assert np.abs(m.weight.detach().numpy()).max() <= 1 / 4
    assert np.abs(m.bias.detach().numpy()).max() <= 1 / 4


# ---------------------------------------------------------------- Embedding


@pytest.mark.parametrize("kwargs", [{}, {"padding_idx": 1}, {"padding_idx": -2}])
def test_embedding_matches_torch(kwargs):
    idx = np.array([[0, 1, 3], [1, 1, 4]], dtype=np.int64)
    tm, em = tnn.Embedding(5, 3, **kwargs), nn.Embedding(5, 3, **kwargs)
    assert em.padding_idx == tm.padding_idx
    _compare_module(tm, em, idx)


def test_embedding_padding_row_init_and_grad():
    em = nn.Embedding(6, 4, padding_idx=2)
    assert not em.weight.detach().numpy()[2].any()
    w = em.weight.detach().numpy().copy()
    assert abs(w.std() - 1.0) < 0.6  # N(0, 1) init
    y = em(ember.tensor([2, 2, 3]))
    y.sum().backward()
    g = em.weight.grad.numpy()
    assert not g[2].any() and (g[3] == 1).all() and not g[0].any()


def test_embedding_max_norm_renorms_in_place():
    w = _rand(5, 3) * 3
    idx = np.array([0, 2, 2], dtype=np.int64)
    tm = tnn.Embedding(5, 3, max_norm=1.0)
    em = nn.Embedding(5, 3, max_norm=1.0)
    with torch.no_grad():
        tm.weight.copy_(torch.from_numpy(w))
    em.load_state_dict({"weight": ember.tensor(w)})
    ty, ey = tm(_t(idx)), em(_e(idx))
    _close(ey, ty)
    _close(em.weight, tm.weight)  # only the looked-up rows changed, in place
    ty.sum().backward()
    ey.sum().backward()
    _close(em.weight.grad, tm.weight.grad)


def test_embedding_from_pretrained_and_errors():
    pre = ember.tensor([[1.0, 2.0], [3.0, 4.0]])
    em = nn.Embedding.from_pretrained(pre)
    assert not em.weight.requires_grad
    assert em.weight.numpy(force=True) is not None
    pre.numpy()[0, 0] = 9.0  # shares storage, as torch does
    assert em.weight.detach().numpy()[0, 0] == 9.0
    assert nn.Embedding.from_pretrained(pre, freeze=False).weight.requires_grad
    with pytest.raises(IndexError, match="index out of range in self"):
        em(ember.tensor([2]))
    with pytest.raises(RuntimeError, match="indices"):
        em(ember.tensor([0.0]))
    with pytest.raises(AssertionError, match="Padding_idx must be within num_embeddings"):
        nn.Embedding(3, 2, padding_idx=3)
    assert repr(nn.Embedding(10, 3, padding_idx=0, max_norm=1.0)) == repr(
        tnn.Embedding(10, 3, padding_idx=0, max_norm=1.0))


def test_embedding_gradcheck():
    idx = ember.tensor([[0, 2], [2, 1]])
    w = ember.tensor(np.random.default_rng(0).standard_normal((4, 3)), requires_grad=True)
    assert gradcheck(lambda w: F.embedding(idx, w), [w])
    # the padding row's gradient is zero by definition, so only the second order is checked
    assert gradgradcheck(lambda w: F.embedding(idx, w, padding_idx=2) ** 2, [w])
    assert gradgradcheck(lambda w: F.embedding(idx, w) ** 2, [w])


# ---------------------------------------------------------------- functional misc


def test_one_hot():
    x = np.array([[0, 3], [1, 1]], dtype=np.int64)
    np.testing.assert_array_equal(F.one_hot(_e(x)).numpy(),
                                  torch.nn.functional.one_hot(_t(x)).numpy())
    out = F.one_hot(_e(x), 5)
    assert out.dtype == ember.int64 and tuple(out.shape) == (2, 2, 5)
    assert tuple(F.one_hot(ember.zeros(0, dtype=ember.int64), 3).shape) == (0, 3)
    with pytest.raises(RuntimeError, match="Class values must be smaller than num_classes"):
        F.one_hot(_e(x), 2)
    with pytest.raises(RuntimeError, match="non-negative"):
        F.one_hot(ember.tensor([-1]))
    with pytest.raises(RuntimeError, match="LongTensor"):
        F.one_hot(ember.tensor([1.0]))


def _has(*names):
    missing = [n for n in names if not hasattr(ember.Tensor, n)]
    if missing:
        pytest.skip(f"Tensor.{missing[0]} is not available yet")


@pytest.mark.parametrize("fn,args,kw", [
    ("normalize", [(3, 4)], {}),
    ("normalize", [(3, 4)], {"p": 1.0, "dim": 0}),
    ("cosine_similarity", [(3, 4), (3, 4)], {}),
    ("cosine_similarity", [(3, 4), (1, 4)], {"dim": -1}),
    ("pairwise_distance", [(3, 4), (3, 4)], {}),
    ("pairwise_distance", [(3, 4), (3, 4)], {"p": 1.0, "keepdim": True}),
])
def test_distance_functions(fn, args, kw):
    _has("norm", "clamp_min")
    arrays = [_rand(*s, seed=i) for i, s in enumerate(args)]
    te = [_t(a, rg=True) for a in arrays]
    ee = [_e(a, rg=True) for a in arrays]
    ty = getattr(torch.nn.functional, fn)(*te, **kw)
    ey = getattr(F, fn)(*ee, **kw)
    _close(ey, ty)
    ty.sum().backward()
    ey.sum().backward()
    for a, b in zip(ee, te, strict=True):
        _close(a.grad, b.grad)


def test_identity_and_flatten():
    x = _rand(2, 3, 4, 5)
    assert F.identity(_e(x)).shape == (2, 3, 4, 5)
    assert repr(nn.Identity(3, k=1)) == repr(tnn.Identity(3, k=1))
    for args in [(), (0, -1), (1, 2), (2, 2), (-3, -2)]:
        t = tnn.Flatten(*args)(_t(x))
        e = nn.Flatten(*args)(_e(x))
        _close(e, t)
        assert repr(nn.Flatten(*args)) == repr(tnn.Flatten(*args))
    for dim, size in [(1, (3, 1)), (-1, [5, 1]), (2, (2, -1))]:
        t = tnn.Unflatten(dim, size)(_t(x[:, :, :4]))
        e = nn.Unflatten(dim, size)(_e(x[:, :, :4]))
        assert tuple(e.shape) == tuple(t.shape)
        _close(e, t)
        assert repr(nn.Unflatten(dim, size)) == repr(tnn.Unflatten(dim, size))
    xg = _e(x, rg=True)
    nn.Flatten()(xg).sum().backward()
    assert (xg.grad.numpy() == 1).all()


# ---------------------------------------------------------------- dropout


@pytest.mark.parametrize("cls,shape", [(nn.Dropout, (4000,)), (nn.Dropout1d, (40, 50, 3)),
                                       (nn.Dropout2d, (40, 50, 2, 2)),
                                       (nn.Dropout3d, (20, 50, 2, 1, 2))])
def test_dropout_train_statistics_and_eval_identity(cls, shape):
    p = 0.3
    m = cls(p)
    x = ember.ones(*shape, requires_grad=True)
    y = m(x)
    vals = y.detach().numpy()
    assert set(np.unique(vals).tolist()) <= {0.0, float(np.float32(1 / (1 - p)))}
    kept = (vals != 0).mean()
    assert abs(kept - (1 - p)) < 0.05
    if cls is not nn.Dropout:  # whole channels are dropped together
        per_ch = vals.reshape(shape[0], shape[1], -1)
        assert (per_ch.min(-1) == per_ch.max(-1)).all()
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), vals)  # gradient uses the same mask
    m.eval()
    assert not m.training
    z = ember.randn(*shape)
    np.testing.assert_array_equal(m(z).numpy(), z.numpy())


def test_dropout_functional_edge_cases():
    x = ember.randn(100)
    np.testing.assert_array_equal(F.dropout(x, 0.0).numpy(), x.numpy())
    assert not F.dropout(x, 1.0).numpy().any()
    np.testing.assert_array_equal(F.dropout(x, 0.5, training=False).numpy(), x.numpy())
    with pytest.raises(ValueError, match="dropout probability has to be between 0 and 1, but "
                                         "got 1.5"):
        F.dropout(x, 1.5)
    with pytest.raises(ValueError, match="dropout probability"):
        nn.Dropout(-0.1)
    y = ember.ones(1000)
    out = F.dropout(y, 0.5, inplace=True)
    assert out is y and set(np.unique(y.numpy()).tolist()) <= {0.0, 2.0}
    with pytest.raises(RuntimeError, match="dropout1d: Expected 2D or 3D input"):
        F.dropout1d(ember.ones(2, 2, 2, 2))
    for name in ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
                 "FeatureAlphaDropout"]:
        assert repr(getattr(nn, name)(0.2, True)) == repr(getattr(tnn, name)(0.2, True))


def test_dropout_reproducible_with_seed():
    ember.manual_seed(3)
    a = F.dropout(ember.ones(50), 0.5).numpy()
    ember.manual_seed(3)
    b = F.dropout(ember.ones(50), 0.5).numpy()
    np.testing.assert_array_equal(a, b)


def test_alpha_dropout_keeps_selu_statistics():
    x = ember.randn(200000)
    y = nn.AlphaDropout(0.2)(x).numpy()
    assert abs(y.mean()) < 0.02 and abs(y.std() - 1.0) < 0.02
    # torch's formula: kept x -> a*x + b, dropped -> -alpha'*a + b
    alpha = 1.7580993408473766
    a = 1 / math.sqrt((alpha ** 2 * 0.2 + 1) * 0.8)
    b = alpha * a * 0.2
    xv = x.numpy()
    kept = np.isclose(y, a * xv + b, atol=1e-5)
    assert np.allclose(y[~kept], -alpha * a + b, atol=1e-5)
    assert abs(kept.mean() - 0.8) < 0.01
    ty = torch.nn.AlphaDropout(0.2)(torch.from_numpy(xv)).numpy()
    assert abs(ty.std() - y.std()) < 0.02
    m = nn.AlphaDropout(0.2).eval()
    np.testing.assert_array_equal(m(x).numpy(), xv)
    fy = nn.FeatureAlphaDropout(0.5)(ember.randn(20, 30, 4)).numpy()
    assert fy.shape == (20, 30, 4)


# ---------------------------------------------------------------- activation modules

ACTS = [
    ("ReLU", (), {}), ("ReLU", (True,), {}), ("ReLU6", (), {}), ("LeakyReLU", (0.2,), {}),
    ("LeakyReLU", (), {"inplace": True}), ("PReLU", (), {}), ("PReLU", (3, 0.1), {}),
    ("ELU", (0.5,), {}), ("ELU", (), {"inplace": True}), ("SELU", (), {}), ("CELU", (2.0,), {}),
    ("GELU", (), {}), ("GELU", ("tanh",), {}), ("SiLU", (), {}), ("Mish", (), {}),
    ("Tanh", (), {}), ("Sigmoid", (), {}), ("Hardtanh", (-2.0, 1.5), {}), ("Hardswish", (), {}),
    ("Hardsigmoid", (), {}), ("Softplus", (), {}), ("Softplus", (2.0, 1.0), {}),
    ("Softsign", (), {}), ("Softmax", (1,), {}), ("LogSoftmax", (), {"dim": -1}),
    ("Softmin", (0,), {}), ("Threshold", (0.1, 20.0), {}), ("GLU", (), {}), ("GLU", (1,), {}),
    ("LogSigmoid", (), {}), ("Tanhshrink", (), {}), ("Softshrink", (0.3,), {}),
    ("Hardshrink", (), {}), ("Softmax2d", (), {}),
]

_FUNCTIONAL = {"ReLU": "relu", "ReLU6": "relu6", "LeakyReLU": "leaky_relu", "PReLU": "prelu",
               "ELU": "elu", "SELU": "selu", "CELU": "celu", "GELU": "gelu", "SiLU": "silu",
               "Mish": "mish", "Tanh": "tanh", "Sigmoid": "sigmoid", "Hardtanh": "hardtanh",
               "Hardswish": "hardswish", "Hardsigmoid": "hardsigmoid", "Softplus": "softplus",
               "Softsign": "softsign", "Softmax": "softmax", "LogSoftmax": "log_softmax",
               "Softmin": "softmin", "Threshold": "threshold", "GLU": "glu",
               "LogSigmoid": "logsigmoid", "Tanhshrink": "tanhshrink",
               "Softshrink": "softshrink", "Hardshrink": "hardshrink", "Softmax2d": "softmax"}


@pytest.mark.parametrize("name,args,kw", ACTS, ids=[f"{a[0]}-{i}" for i, a in enumerate(ACTS)])
def test_activation_repr(name, args, kw):
    assert repr(getattr(nn, name)(*args, **kw)) == repr(getattr(tnn, name)(*args, **kw))


@pytest.mark.parametrize("name,args,kw", ACTS, ids=[f"{a[0]}-{i}" for i, a in enumerate(ACTS)])
def test_activation_matches_torch(name, args, kw):
    if not hasattr(F, _FUNCTIONAL[name]):
        pytest.skip(f"F.{_FUNCTIONAL[name]} is not available yet")
    x = _rand(2, 4 if name == "GLU" else 3, 4, 2) * 2
    tm, em = getattr(tnn, name)(*args, **kw), getattr(nn, name)(*args, **kw)
    if kw.get("inplace") or (args and args[-1] is True):
        # in-place on a leaf is an error in both libraries: run on a non-leaf copy
        _copy_weights(tm, em)
        tx, ex = _t(x, rg=True), _e(x, rg=True)
        ty, ey = tm(tx * 1), em(ex * 1)
        _close(ey, ty)
        ty.sum().backward()
        ey.sum().backward()
        _close(ex.grad, tx.grad)
        return
    _compare_module(tm, em, x, atol=1e-5, rtol=1e-4)


# ---------------------------------------------------------------- EmbeddingBag


@pytest.mark.parametrize("mode", ["sum", "mean", "max"])
@pytest.mark.parametrize("padding_idx", [None, 1])
@pytest.mark.parametrize("case", ["offsets", "last_offset", "2d"])
def test_embedding_bag_matches_torch(mode, padding_idx, case):
    x = np.array([0, 1, 1, 4, 2, 0, 3], dtype=np.int64)
    kw = {"mode": mode, "padding_idx": padding_idx}
    if case == "offsets":  # includes an empty bag
        args = (x, np.array([0, 2, 2, 5], dtype=np.int64))
    elif case == "last_offset":
        args = (x, np.array([0, 3, 7], dtype=np.int64))
        kw["include_last_offset"] = True
    else:
        args = (x[:6].reshape(2, 3),)
    tm, em = tnn.EmbeddingBag(5, 3, **kw), nn.EmbeddingBag(5, 3, **kw)
    assert repr(em) == repr(tm)
    _compare_module(tm, em, *args)


def test_embedding_bag_per_sample_weights_and_errors():
    x = np.array([0, 2, 1, 3], dtype=np.int64)
    off = np.array([0, 1], dtype=np.int64)
    psw = np.array([0.5, 2.0, -1.0, 3.0], dtype=np.float32)
    w = _rand(4, 2)
    tw, ew = _t(w, rg=True), _e(w, rg=True)
    tp, ep = _t(psw, rg=True), _e(psw, rg=True)
    ty = torch.nn.functional.embedding_bag(_t(x), tw, _t(off), mode="sum",
                                           per_sample_weights=tp)
    ey = F.embedding_bag(_e(x), ew, _e(off), mode="sum", per_sample_weights=ep)
    _close(ey, ty)
    (ty ** 2).sum().backward()
    (ey ** 2).sum().backward()
    _close(ew.grad, tw.grad)
    _close(ep.grad, tp.grad)
    with pytest.raises(NotImplementedError, match="only supported for mode='sum'"):
        F.embedding_bag(_e(x), ew, _e(off), mode="mean", per_sample_weights=ep)
    with pytest.raises(ValueError, match="offsets has to be None"):
        F.embedding_bag(_e(x.reshape(2, 2)), ew, _e(off))
    with pytest.raises(ValueError, match="offsets has to be a 1D Tensor but got None"):
        F.embedding_bag(_e(x), ew)
