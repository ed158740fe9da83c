"""Conv, pooling, normalization, resampling and fold layers against torch, weights shared."""

from __future__ import annotations

import math

import numpy as np
import pytest

import ember
from ember import nn

torch = pytest.importorskip("torch")
tnn = torch.nn


def _copy_params(em, tm) -> None:
    """Give the ember module the torch module's parameters and buffers."""
    for name, p in list(tm.named_parameters()) + list(tm.named_buffers()):
        target = em
        *path, leaf = name.split(".")
        for part in path:
            target = getattr(target, part)
        getattr(target, leaf)._data[...] = p.detach().numpy()


def _pair(shape, seed=0, dtype="float32"):
    a = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return ember.tensor(a, requires_grad=True), torch.tensor(a, requires_grad=True)


def _check(em, tm, shape, *, grad=True, atol=1e-5, seed=0, call=None):
    """Same forward values and the same gradients for the input and every parameter."""
    xe, xt = _pair(shape, seed)
    ye = em(xe) if call is None else call(em, xe, ember)
    yt = tm(xt) if call is None else call(tm, xt, torch)
    if isinstance(yt, tuple):
        for a, b in zip(ye, yt):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), atol=atol)
        ye, yt = ye[0], yt[0]
    assert tuple(ye.shape) == tuple(yt.shape)
    np.testing.assert_allclose(ye.detach().numpy(), yt.detach().numpy(), atol=atol, rtol=1e-4)
    if not grad:
        return
    w = np.random.default_rng(seed + 1).standard_normal(tuple(yt.shape)).astype("float32")
    (ye * ember.tensor(w)).sum().backward()
    (yt * torch.tensor(w)).sum().backward()
    np.testing.assert_allclose(xe.grad.numpy(), xt.grad.numpy(), atol=atol * 10, rtol=1e-4)
    for name, p in tm.named_parameters():
        pe = dict(em.named_parameters())[name]
        np.testing.assert_allclose(pe.grad.numpy(), p.grad.numpy(), atol=atol * 10, rtol=1e-4,
                                   err_msg=name)


CONV = [
    ("Conv2d", (3, 4, 3), {}, (2, 3, 7, 6)),
    ("Conv2d", (1, 16, 3), {"padding": 1}, (4, 1, 8, 8)),
    ("Conv2d", (4, 6, (3, 2)), {"stride": (2, 1), "padding": (1, 0), "dilation": (1, 2),
                                "groups": 2}, (2, 4, 9, 8)),
    ("Conv2d", (2, 3, 4), {"padding": "same", "bias": False}, (1, 2, 6, 5)),
    ("Conv2d", (2, 3, 3), {"padding": "valid"}, (2, 6, 5)),
    ("Conv2d", (2, 3, 3), {"padding": 1, "padding_mode": "reflect"}, (2, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), {"padding": (1, 2), "padding_mode": "circular"}, (2, 2, 5, 5)),
    ("Conv2d", (2, 3, 3), {"padding": 2, "padding_mode": "replicate"}, (2, 2, 5, 5)),
    ("Conv1d", (3, 5, 3), {"stride": 2, "padding": 1}, (2, 3, 11)),
    ("Conv1d", (4, 4, 2), {"groups": 4, "dilation": 3, "padding": "same"}, (2, 4, 9)),
    ("ConvTranspose2d", (3, 4, 3), {"stride": 2, "padding": 1, "output_padding": 1},
     (2, 3, 4, 5)),
    ("ConvTranspose2d", (4, 2, (2, 3)), {"groups": 2, "dilation": 2, "bias": False},
     (1, 4, 3, 3)),
    ("ConvTranspose1d", (3, 2, 4), {"stride": 3, "padding": 2}, (2, 3, 6)),
]


@pytest.mark.parametrize("cls,args,kw,shape", CONV, ids=[f"{c[0]}-{i}" for i, c in
                                                         enumerate(CONV)])
def test_conv_modules_match_torch(cls, args, kw, shape):
    tm = getattr(tnn, cls)(*args, **kw)
    em = getattr(nn, cls)(*args, **kw)
    assert repr(em) == repr(tm)
    assert {n: tuple(p.shape) for n, p in em.named_parameters()} == \
        {n: tuple(p.shape) for n, p in tm.named_parameters()}
    _copy_params(em, tm)
    _check(em, tm, shape)


def test_conv_transpose_output_size():
    tm = tnn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    em = nn.ConvTranspose2d(3, 2, 3, stride=2, padding=1)
    _copy_params(em, tm)
    _check(em, tm, (1, 3, 4, 4), call=lambda m, x, lib: m(x, output_size=[8, 7]))
    with pytest.raises(ValueError):
        em(ember.zeros(1, 3, 4, 4), output_size=[10, 10])


@pytest.mark.parametrize("cls,args", [("Conv2d", (3, 8, 3)), ("Conv1d", (4, 6, 5)),
                                      ("ConvTranspose2d", (6, 2, 2))])
def test_conv_default_init(cls, args):
    # kaiming_uniform_(a=sqrt(5)) bounds weights by 1/sqrt(fan_in), as is the bias
    m = getattr(nn, cls)(*args)
    w = m.weight.detach().numpy()
    fan_in = w.shape[1] * int(np.prod(w.shape[2:]))
    bound = 1 / math.sqrt(fan_in)
    assert np.abs(w).max() <= bound + 1e-7
    assert np.abs(w).max() > 0.5 * bound
    assert np.abs(m.bias.detach().numpy()).max() <= bound + 1e-7
    assert m.weight.requires_grad and m.bias.requires_grad


def test_conv_errors_match_torch():
    x = ember.zeros(2, 3, 5, 5)
    with pytest.raises(RuntimeError, match="expected input\\[2, 3, 5, 5\\] to have 2 channels"):
        nn.functional.conv2d(x, ember.zeros(4, 2, 3, 3))
    with pytest.raises(RuntimeError, match="Kernel size can't be greater"):
        nn.functional.conv2d(x, ember.zeros(4, 3, 7, 7))
    with pytest.raises(RuntimeError, match="not supported for strided"):
        nn.functional.conv2d(x, ember.zeros(4, 3, 3, 3), stride=2, padding="same")
    with pytest.raises(RuntimeError, match="Expected 3D \\(unbatched\\) or 4D"):
        nn.functional.conv2d(ember.zeros(5, 5), ember.zeros(4, 3, 3, 3))
    with pytest.raises(ValueError):
        nn.Conv2d(3, 4, 3, groups=2)
    with pytest.raises(RuntimeError, match="output padding must be smaller"):
        nn.functional.conv_transpose2d(x, ember.zeros(3, 3, 3, 3), stride=2, output_padding=2)


POOL = [
    ("MaxPool2d", (2,), {}, (2, 3, 8, 8)),
    ("MaxPool2d", (3,), {"stride": 2, "padding": 1, "ceil_mode": True}, (2, 3, 7, 6)),
    ("MaxPool2d", ((2, 3),), {"stride": 1, "dilation": (2, 1), "return_indices": True},
     (2, 2, 6, 6)),
    ("MaxPool1d", (3,), {"stride": 2, "return_indices": True}, (2, 3, 9)),
    ("AvgPool2d", (2,), {}, (2, 3, 8, 8)),
    ("AvgPool2d", (3, 2, 1), {"ceil_mode": True, "count_include_pad": False}, (2, 3, 7, 6)),
    ("AvgPool2d", (3,), {"stride": 2, "divisor_override": 4}, (1, 2, 7, 7)),
    ("AvgPool1d", (3,), {"stride": 2, "padding": 1}, (2, 3, 9)),
    ("AdaptiveAvgPool2d", ((3, None),), {}, (2, 3, 7, 6)),
    ("AdaptiveAvgPool2d", (1,), {}, (2, 3, 7, 6)),
    ("AdaptiveAvgPool1d", (4,), {}, (2, 3, 9)),
    ("AdaptiveMaxPool2d", ((3, 4),), {"return_indices": True}, (2, 3, 7, 6)),
    ("AdaptiveMaxPool1d", (4,), {}, (2, 3, 9)),
    ("LPPool2d", (2, 2), {}, (2, 3, 6, 6)),
    ("LPPool1d", (3, 3), {"stride": 2}, (2, 3, 9)),
    ("Upsample", (), {"scale_factor": 2}, (2, 3, 4, 5)),
    ("Upsample", (), {"size": (7, 3), "mode": "bilinear"}, (2, 3, 4, 5)),
    ("Upsample", (), {"scale_factor": 1.5, "mode": "bilinear", "align_corners": True},
     (2, 3, 4, 5)),
    ("Upsample", (), {"scale_factor": 3, "mode": "linear"}, (2, 3, 5)),
    ("UpsamplingNearest2d", (), {"size": (5, 7)}, (1, 2, 3, 4)),
    ("UpsamplingBilinear2d", (), {"scale_factor": 2}, (1, 2, 3, 4)),
    ("PixelShuffle", (2,), {}, (2, 8, 3, 4)),
    ("PixelUnshuffle", (2,), {}, (2, 2, 4, 6)),
    ("Unfold", ((2, 3),), {"padding": 1, "stride": 2}, (2, 3, 6, 7)),
    ("Fold", ((4, 5), 2), {}, (2, 8, 12)),
]


@pytest.mark.parametrize("cls,args,kw,shape", POOL, ids=[f"{c[0]}-{i}" for i, c in
                                                         enumerate(POOL)])
def test_parameterless_modules_match_torch(cls, args, kw, shape):
    tm = getattr(tnn, cls)(*args, **kw)
    em = getattr(nn, cls)(*args, **kw)
    assert repr(em) == repr(tm)
    if cls == "LPPool2d" or cls == "LPPool1d":
        # a positive input keeps x ** p real
        def call(m, x, lib):
            return m(x.abs() + 0.1)
        _check(em, tm, shape, call=call)
        return
    _check(em, tm, shape)


def test_max_unpool_modules():
    x = np.random.default_rng(0).permutation(2 * 3 * 36).reshape(2, 3, 6, 6).astype("float32")
    for lib, mod in ((ember, nn), (torch, tnn)):
        pool, unpool = mod.MaxPool2d(2, return_indices=True), mod.MaxUnpool2d(2)
        out, idx = pool(lib.tensor(x))
        res = unpool(out, idx).numpy()
        if lib is ember:
            e_res, e_idx = res, idx.numpy()
        else:
            np.testing.assert_array_equal(e_idx, idx.numpy())
            np.testing.assert_array_equal(e_res, res)
    assert repr(nn.MaxUnpool1d(2)) == repr(tnn.MaxUnpool1d(2))


def _bn_steps(cls, kw, shape, steps=3):
    tm = getattr(tnn, cls)(shape[1], **kw)
    em = getattr(nn, cls)(shape[1], **kw)
    assert repr(em) == repr(tm)
    if getattr(tm, "weight", None) is not None:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            if tm.bias is not None:
                tm.bias.uniform_(-0.5, 0.5)
    _copy_params(em, tm)
    for s in range(steps):
        _check(em, tm, shape, seed=s)
        for name, b in tm.named_buffers():
            np.testing.assert_allclose(dict(em.named_buffers())[name].numpy(), b.numpy(),
                                       rtol=1e-5, atol=1e-6, err_msg=name)
    tm.eval()
    em.eval()
    _check(em, tm, shape, seed=10)
    assert sorted(em.state_dict().keys()) == sorted(tm.state_dict().keys())
    return em, tm


@pytest.mark.parametrize("cls,kw,shape", [
    ("BatchNorm2d", {}, (4, 3, 5, 5)),
    ("BatchNorm2d", {"momentum": None}, (4, 3, 3, 3)),
    ("BatchNorm2d", {"affine": False, "momentum": 0.3, "eps": 1e-3}, (4, 3, 3, 3)),
    ("BatchNorm2d", {"track_running_stats": False}, (4, 3, 3, 3)),
    ("BatchNorm1d", {}, (8, 5)),
    ("BatchNorm1d", {"bias": False}, (4, 5, 6)),
    ("InstanceNorm1d", {}, (2, 3, 8)),
    ("InstanceNorm2d", {"affine": True, "track_running_stats": True}, (3, 4, 5, 5)),
])
def test_batch_and_instance_norm_match_torch(cls, kw, shape):
    em, tm = _bn_steps(cls, kw, shape)
    if "num_batches_tracked" in dict(tm.named_buffers()):
        assert int(em.num_batches_tracked.numpy()) == int(tm.num_batches_tracked)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="expected 4D input"):
        nn.BatchNorm2d(3)(ember.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="Expected more than 1 value per channel"):
        nn.BatchNorm1d(3)(ember.zeros(1, 3))
    # eval mode needs no batch statistics
    m = nn.BatchNorm1d(3).eval()
    assert tuple(m(ember.zeros(1, 3)).shape) == (1, 3)


@pytest.mark.parametrize("cls,args,kw,shape", [
    ("LayerNorm", (6,), {}, (2, 3, 6)),
    ("LayerNorm", ((3, 4),), {"eps": 1e-3, "bias": False}, (2, 3, 4)),
    ("LayerNorm", (4,), {"elementwise_affine": False}, (5, 4)),
    ("GroupNorm", (2, 6), {}, (2, 6, 3, 3)),
    ("GroupNorm", (3, 6), {"affine": False}, (2, 6, 4)),
    ("RMSNorm", (6,), {}, (2, 3, 6)),
    ("RMSNorm", ([3, 6],), {"eps": 1e-4, "elementwise_affine": False}, (2, 3, 6)),
    ("LocalResponseNorm", (3,), {"alpha": 0.1, "beta": 0.5}, (2, 5, 3, 3)),
])
def test_layer_group_rms_norm_match_torch(cls, args, kw, shape):
    tm = getattr(tnn, cls)(*args, **kw)
    em = getattr(nn, cls)(*args, **kw)
    assert repr(em) == repr(tm)
    if getattr(tm, "weight", None) is not None:
        with torch.no_grad():
            tm.weight.uniform_(0.5, 1.5)
            if getattr(tm, "bias", None) is not None:
                tm.bias.uniform_(-0.5, 0.5)
    _copy_params(em, tm)
    _check(em, tm, shape)


def test_small_cnn_trains_like_torch():
    """Conv -> BatchNorm -> ReLU -> MaxPool -> Conv -> global pool, two SGD steps."""
    def build(mod):
        return [mod.Conv2d(1, 4, 3, padding=1), mod.BatchNorm2d(4), mod.MaxPool2d(2),
                mod.Conv2d(4, 6, 3), mod.AdaptiveAvgPool2d(1)]

    tl, el = build(tnn), build(nn)
    for e, t in zip(el, tl):
        _copy_params(e, t)
    x = np.random.default_rng(0).standard_normal((8, 1, 8, 8)).astype("float32")

    def run(layers, lib, xx):
        h = layers[1](layers[0](xx))
        h = layers[2](h.relu())
        return layers[4](layers[3](h)).reshape(8, 6)

    for _ in range(2):
        outs = []
        for layers, lib in ((el, ember), (tl, torch)):
            out = run(layers, lib, lib.tensor(x))
            loss = (out * out).sum()
            loss.backward()
            outs.append(out.detach().numpy())
            for m in layers:
                for p in m.parameters():
                    if lib is ember:
                        p._data[...] -= 0.1 * p.grad.numpy()
                    else:
                        with torch.no_grad():
                            p -= 0.1 * p.grad
                    p.grad = None
        np.testing.assert_allclose(outs[0], outs[1], atol=1e-4, rtol=1e-4)
    np.testing.assert_allclose(el[1].running_var.numpy(), tl[1].running_var.numpy(), rtol=1e-4)


def test_conv_backward_twice_with_retained_graph():
    # the first backward reuses (and drops) the forward's im2col columns; the second recomputes
    x = np.random.default_rng(0).standard_normal((2, 3, 5, 5)).astype("float32")
    w = np.random.default_rng(1).standard_normal((4, 3, 3, 3)).astype("float32")
    we = ember.tensor(w, requires_grad=True)
    ye = nn.functional.conv2d(ember.tensor(x), we, padding=1)
    ye.sum().backward(retain_graph=True)
    ye.sum().backward()
    wt = torch.tensor(w, requires_grad=True)
    torch.nn.functional.conv2d(torch.tensor(x), wt, padding=1).sum().backward()
    np.testing.assert_allclose(we.grad.numpy(), 2 * wt.grad.numpy(), rtol=1e-5, atol=1e-5)
