"""scaled_dot_product_attention, MultiheadAttention and the Transformer layers, against torch.

torch's weights are copied into ember (via NumPy), dropout is 0 (or the modules are in eval
mode), and outputs plus input/parameter gradients are compared in float64.
"""

import copy
import math

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn

torch = pytest.importorskip("torch")
TF = torch.nn.functional
torch.set_num_threads(1)

TOL = dict(rtol=1e-9, atol=1e-10)


def _np(t):
    if isinstance(t, np.ndarray):
        return t
    return t.detach().numpy()


def _close(e, t, **tol):
    np.testing.assert_allclose(_np(e), _np(t), **(tol or TOL))


def _leaves(*arrays):
    """Float64 arrays as torch and ember leaves that require grad."""
    ts = [torch.tensor(a, requires_grad=True) for a in arrays]
    es = [ember.tensor(a, requires_grad=True) for a in arrays]
    return ts, es


def _const(a):
    return torch.tensor(a), ember.tensor(a)


def _rand(rng, *shape):
    return rng.standard_normal(shape)


def _pair(name, *args, **kw):
    """The same module in torch and ember (float64), torch's weights loaded into ember."""
    tm = getattr(torch.nn, name)(*args, **kw).double()
    em = getattr(nn, name)(*args, **kw).double()
    assert [(n, tuple(p.shape)) for n, p in tm.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in em.named_parameters()]
    em.load_state_dict({k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, em


def _check_param_grads(tm, em, **tol):
    for (n, tp), (_, ep) in zip(tm.named_parameters(), em.named_parameters()):
        assert (tp.grad is None) == (ep.grad is None), n
        if tp.grad is not None:
            _close(ep.grad, tp.grad, **tol)


def _backward(t_out, e_out, rng):
    """Backpropagate the same random cotangent through both outputs."""
    g = _rand(rng, *t_out.shape)
    t_out.backward(torch.tensor(g))
    e_out.backward(ember.tensor(g))


# ---------------------------------------------------------------- scaled_dot_product_attention

SDPA_CASES = {
    "plain_4d": dict(q=(2, 3, 4, 5), k=(2, 3, 6, 5), v=(2, 3, 6, 7)),
    "plain_3d": dict(q=(2, 4, 5), k=(2, 6, 5), v=(2, 6, 3)),
    "unbatched_2d": dict(q=(4, 5), k=(6, 5), v=(6, 3)),
    "broadcast_batch": dict(q=(2, 3, 4, 5), k=(1, 3, 6, 5), v=(1, 3, 6, 5)),
    "scale": dict(q=(2, 4, 5), k=(2, 6, 5), v=(2, 6, 5), kw=dict(scale=0.37)),
    "causal_square": dict(q=(2, 2, 5, 4), k=(2, 2, 5, 4), v=(2, 2, 5, 3),
                          kw=dict(is_causal=True)),
    "causal_rect": dict(q=(2, 4, 3), k=(2, 6, 3), v=(2, 6, 3), kw=dict(is_causal=True)),
    "bool_mask_2d": dict(q=(2, 3, 4, 5), k=(2, 3, 6, 5), v=(2, 3, 6, 5), mask=("bool", (4, 6))),
    "bool_mask_full": dict(q=(2, 3, 4, 5), k=(2, 3, 6, 5), v=(2, 3, 6, 5),
                           mask=("bool", (2, 3, 4, 6))),
    "bool_mask_bcast": dict(q=(2, 3, 4, 5), k=(2, 3, 6, 5), v=(2, 3, 6, 5),
                            mask=("bool", (2, 1, 1, 6))),
    "float_mask": dict(q=(2, 4, 5), k=(2, 6, 5), v=(2, 6, 5), mask=("float", (2, 4, 6))),
    "float_mask_scale": dict(q=(2, 4, 5), k=(2, 6, 5), v=(2, 6, 5), mask=("float", (4, 6)),
                             kw=dict(scale=2.0)),
    "gqa": dict(q=(2, 4, 3, 5), k=(2, 2, 6, 5), v=(2, 2, 6, 3), kw=dict(enable_gqa=True)),
    "gqa_causal": dict(q=(1, 6, 4, 5), k=(1, 3, 4, 5), v=(1, 1, 4, 3),
                       kw=dict(enable_gqa=True, is_causal=True)),
}


@pytest.mark.parametrize("case", list(SDPA_CASES))
def test_sdpa_matches_torch(case):
    spec = SDPA_CASES[case]
    rng = np.random.default_rng(1)
    (tq, tk, tv), (eq, ek, ev) = _leaves(*(_rand(rng, *spec[n]) for n in "qkv"))
    kw = dict(spec.get("kw", {}))
    t_mask = e_mask = None
    if "mask" in spec:
        kind, shape = spec["mask"]
        if kind == "bool":
            m = rng.random(shape) > 0.35
            m[..., 0] = True  # every query keeps at least one key
            t_mask, e_mask = _const(m)
        else:
            (t_mask,), (e_mask,) = _leaves(_rand(rng, *shape))
    t_out = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=t_mask, **kw)
    e_out = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=e_mask, **kw)
    assert e_out.shape == t_out.shape
    assert e_out.dtype == ember.float64
    _close(e_out, t_out)
    _backward(t_out, e_out, rng)
    for t, e in zip((tq, tk, tv), (eq, ek, ev)):
        _close(e.grad, t.grad)
    if t_mask is not None and t_mask.requires_grad:
        _close(e_mask.grad, t_mask.grad)


def test_sdpa_float32_stays_float32_and_is_stable():
    rng = np.random.default_rng(2)
    # huge logits: a naive exp would overflow
    q = (rng.standard_normal((2, 3, 4)) * 300).astype(np.float32)
    k = (rng.standard_normal((2, 5, 4)) * 300).astype(np.float32)
    v = rng.standard_normal((2, 5, 3)).astype(np.float32)
    t_out = TF.scaled_dot_product_attention(*map(torch.tensor, (q, k, v)))
    e_out = F.scaled_dot_product_attention(*map(ember.tensor, (q, k, v)))
    assert e_out.dtype == ember.float32
    assert np.isfinite(e_out.numpy()).all()
    _close(e_out, t_out, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["bool", "float"])
def test_sdpa_fully_masked_rows_give_zeros(kind):
    rng = np.random.default_rng(3)
    (tq, tk, tv), (eq, ek, ev) = _leaves(*(_rand(rng, 2, n, 4) for n in (3, 5, 5)))
    keep = np.ones((3, 5), bool)
    keep[1] = False
    keep[2, 3:] = False
    m = keep if kind == "bool" else np.where(keep, 0.0, -np.inf)
    t_mask, e_mask = _const(m)
    t_out = TF.scaled_dot_product_attention(tq, tk, tv, attn_mask=t_mask)
    e_out = F.scaled_dot_product_attention(eq, ek, ev, attn_mask=e_mask)
    _close(e_out, t_out)
    assert (e_out.detach().numpy()[:, 1] == 0).all()
    _backward(t_out, e_out, rng)
    for t, e in zip((tq, tk, tv), (eq, ek, ev)):
        assert np.isfinite(e.grad.numpy()).all()
        _close(e.grad, t.grad)


def test_sdpa_dropout_drops_weights():
    # uniform weights 1/S and value = identity: each output entry is 0 or (1/S)/(1-p)
    s, p = 8, 0.5
    q = ember.zeros(4, 16, 3)
    k = ember.zeros(4, s, 3)
    v = ember.eye(s).expand(4, s, s)
    out = F.scaled_dot_product_attention(q, k, v, dropout_p=p).numpy()
    vals = np.unique(np.round(out, 6))
    assert set(vals.tolist()) <= {0.0, round(1 / s / (1 - p), 6)}
    assert len(vals) == 2
    zero = F.scaled_dot_product_attention(q, k, v, dropout_p=1.0).numpy()
    assert (zero == 0).all()


@pytest.mark.parametrize("mask", ["none", "bool", "float", "causal", "broadcast_float"])
def test_sdpa_gradcheck_and_gradgradcheck(mask):
    rng = np.random.default_rng(4)
    q, k, v = (ember.tensor(_rand(rng, 2, n, 3), requires_grad=True) for n in (2, 3, 3))
    inputs = [q, k, v]
    bool_mask = ember.tensor(np.array([[True, True, False], [True, False, True]]))
    if mask in ("float", "broadcast_float"):
        shape = (2, 2, 3) if mask == "float" else (3,)
        inputs.append(ember.tensor(_rand(rng, *shape), requires_grad=True))

    def fn(a, b, c, *float_mask):
        m = float_mask[0] if float_mask else (bool_mask if mask == "bool" else None)
        return F.scaled_dot_product_attention(a, b, c, attn_mask=m, is_causal=mask == "causal")

    assert ember.autograd.gradcheck(fn, inputs)
    assert ember.autograd.gradgradcheck(fn, inputs)


def test_sdpa_errors_match_torch():
    q, k, v = ember.randn(2, 3, 4), ember.randn(2, 5, 4), ember.randn(2, 5, 4)
    with pytest.raises(RuntimeError, match="Explicit attn_mask should not be set when "
                                           "is_causal=True"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=ember.ones(3, 5, dtype=ember.bool),
                                       is_causal=True)
    with pytest.raises(RuntimeError, match="Expected query, key, and value to have the same "
                                           "dtype"):
        F.scaled_dot_product_attention(q.double(), k, v)
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=ember.ones(3, 5, dtype=ember.int64))
    with pytest.raises(RuntimeError, match="Expected attn_mask dtype to be bool or float or to "
                                           "match query dtype"):
        F.scaled_dot_product_attention(q, k, v, attn_mask=ember.zeros(3, 5, dtype=ember.float64))
    with pytest.raises(RuntimeError, match="Expected query, key, and value to all be  at least 2 "
                                           "dimensional"):
        F.scaled_dot_product_attention(q[0, 0], k[0, 0], v[0, 0])
    with pytest.raises(RuntimeError):
        F.scaled_dot_product_attention(q, ember.randn(2, 5, 3), v)


# ---------------------------------------------------------------- MultiheadAttention

MHA_CONFIGS = {
    "default": dict(),
    "batch_first": dict(batch_first=True),
    "kdim_vdim": dict(kdim=3, vdim=5),
    "kdim_vdim_batch_first": dict(kdim=3, vdim=5, batch_first=True),
    "no_bias": dict(bias=False),
    "add_zero_attn": dict(add_zero_attn=True),
    "add_bias_kv": dict(add_bias_kv=True),
}


def _mha_inputs(rng, cfg, attn_kind, tgt=4, src=6, bsz=3, e=8):
    kd, vd = cfg.get("kdim", e), cfg.get("vdim", e)
    bf = cfg.get("batch_first", False)
    shape = (lambda n, d: (bsz, n, d)) if bf else (lambda n, d: (n, bsz, d))
    if attn_kind == "self" and kd == vd == e:
        (tq,), (eq,) = _leaves(_rand(rng, *shape(tgt, e)))
        return (tq, tq, tq), (eq, eq, eq), tgt
    if attn_kind == "shared_kv" and kd == vd:
        (tq, tk), (eq, ek) = _leaves(_rand(rng, *shape(tgt, e)), _rand(rng, *shape(src, kd)))
        return (tq, tk, tk), (eq, ek, ek), src
    ts, es = _leaves(_rand(rng, *shape(tgt, e)), _rand(rng, *shape(src, kd)),
                     _rand(rng, *shape(src, vd)))
    return tuple(ts), tuple(es), src


def _mha_masks(rng, masks, tgt, src, bsz=3, heads=2):
    t_kw, e_kw = {}, {}
    if "kpm" in masks:
        kpm = rng.random((bsz, src)) > 0.7
        kpm[:, 0] = False  # no fully masked rows: torch's weights path gives NaN there
        t_kw["key_padding_mask"], e_kw["key_padding_mask"] = _const(kpm)
    if "bool2d" in masks:
        am = rng.random((tgt, src)) > 0.75
        am[:, 1] = False
        t_kw["attn_mask"], e_kw["attn_mask"] = _const(am)
    if "bool3d" in masks:
        am = rng.random((bsz * heads, tgt, src)) > 0.75
        am[..., 1] = False
        t_kw["attn_mask"], e_kw["attn_mask"] = _const(am)
    if "float2d" in masks:
        t_kw["attn_mask"], e_kw["attn_mask"] = _const(_rand(rng, tgt, src))
    if "kpm_float" in masks:
        t_kw["key_padding_mask"], e_kw["key_padding_mask"] = _const(_rand(rng, bsz, src))
    return t_kw, e_kw


@pytest.mark.parametrize("cfg_name", list(MHA_CONFIGS))
@pytest.mark.parametrize("attn_kind", ["self", "shared_kv", "cross"])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_matches_torch(cfg_name, attn_kind, need_weights, average):
    cfg = MHA_CONFIGS[cfg_name]
    rng = np.random.default_rng(5)
    tm, em = _pair("MultiheadAttention", 8, 2, **cfg)
    t_in, e_in, src = _mha_inputs(rng, cfg, attn_kind)
    t_kw, e_kw = _mha_masks(rng, ("kpm", "bool2d"), 4, src)
    t_out, t_w = tm(*t_in, need_weights=need_weights, average_attn_weights=average, **t_kw)
    e_out, e_w = em(*e_in, need_weights=need_weights, average_attn_weights=average, **e_kw)
    _close(e_out, t_out)
    if need_weights:
        assert e_w.shape == t_w.shape
        _close(e_w, t_w)
    else:
        assert e_w is None
    _backward(t_out, e_out, rng)
    for t, e in zip(t_in, e_in):
        _close(e.grad, t.grad)
    _check_param_grads(tm, em)


@pytest.mark.parametrize("masks", [(), ("kpm",), ("bool2d",), ("bool3d",), ("float2d",),
                                   ("kpm_float", "float2d"), ("kpm", "bool3d")])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_masks_match_torch(masks, need_weights):
    rng = np.random.default_rng(6)
    tm, em = _pair("MultiheadAttention", 8, 2)
    t_in, e_in, src = _mha_inputs(rng, {}, "cross")
    t_kw, e_kw = _mha_masks(rng, masks, 4, src)
    t_out, t_w = tm(*t_in, need_weights=need_weights, **t_kw)
    e_out, e_w = em(*e_in, need_weights=need_weights, **e_kw)
    _close(e_out, t_out)
    if need_weights:
        _close(e_w, t_w)
    _backward(t_out, e_out, rng)
    for t, e in zip(t_in, e_in):
        _close(e.grad, t.grad)
    _check_param_grads(tm, em)


@pytest.mark.parametrize("need_weights", [True, False])
@pytest.mark.parametrize("with_kpm", [False, True])
def test_mha_is_causal_hint(need_weights, with_kpm):
    rng = np.random.default_rng(7)
    tm, em = _pair("MultiheadAttention", 8, 2, batch_first=True)
    (tx,), (ex,) = _leaves(_rand(rng, 3, 5, 8))
    t_mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    e_mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=ember.float64)
    t_kw, e_kw = {}, {}
    if with_kpm:
        kpm = np.zeros((3, 5), bool)
        kpm[1, 3:] = True
        t_kw["key_padding_mask"], e_kw["key_padding_mask"] = _const(kpm)
    t_out = tm(tx, tx, tx, attn_mask=t_mask, is_causal=True, need_weights=need_weights,
               **t_kw)[0]
    e_out = em(ex, ex, ex, attn_mask=e_mask, is_causal=True, need_weights=need_weights,
               **e_kw)[0]
    _close(e_out, t_out)
    with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
        em(ex, ex, ex, is_causal=True)


@pytest.mark.parametrize("cfg_name", ["default", "kdim_vdim", "add_zero_attn"])
@pytest.mark.parametrize("need_weights", [True, False])
def test_mha_unbatched_matches_torch(cfg_name, need_weights):
    cfg = MHA_CONFIGS[cfg_name]
    rng = np.random.default_rng(8)
    tm, em = _pair("MultiheadAttention", 8, 2, **cfg)
    kd, vd = cfg.get("kdim", 8), cfg.get("vdim", 8)
    ts, es = _leaves(_rand(rng, 4, 8), _rand(rng, 6, kd), _rand(rng, 6, vd))
    kpm = np.array([False, False, True, False, True, False])
    t_kpm, e_kpm = _const(kpm)
    t_out, t_w = tm(*ts, key_padding_mask=t_kpm, need_weights=need_weights)
    e_out, e_w = em(*es, key_padding_mask=e_kpm, need_weights=need_weights)
    assert e_out.shape == t_out.shape == (4, 8)
    _close(e_out, t_out)
    if need_weights:
        assert e_w.shape == t_w.shape == (4, 6 + cfg.get("add_zero_attn", 0))
        _close(e_w, t_w)
    _backward(t_out, e_out, rng)
    for t, e in zip(ts, es):
        _close(e.grad, t.grad)
    _check_param_grads(tm, em)


def test_mha_parameters_and_init():
    m = nn.MultiheadAttention(16, 4)
    shapes = {n: tuple(p.shape) for n, p in m.named_parameters()}
    assert shapes == {"in_proj_weight": (48, 16), "in_proj_bias": (48,),
                      "out_proj.weight": (16, 16), "out_proj.bias": (16,)}
    assert m.q_proj_weight is None and m.bias_k is None and m.head_dim == 4
    assert (m.in_proj_bias.detach().numpy() == 0).all()
    assert (m.out_proj.bias.detach().numpy() == 0).all()
    bound = math.sqrt(6.0 / (16 + 48))  # xavier_uniform on the packed (48, 16) weight
    w = m.in_proj_weight.detach().numpy()
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.8 * bound
    assert isinstance(m.out_proj, nn.Linear)

    sep = nn.MultiheadAttention(16, 4, kdim=6, vdim=7, bias=False, add_bias_kv=True)
    names = [n for n, _ in sep.named_parameters()]
    t_names = [n for n, _ in torch.nn.MultiheadAttention(
        16, 4, kdim=6, vdim=7, bias=False, add_bias_kv=True).named_parameters()]
    assert names == t_names
    assert sep.in_proj_weight is None and sep.in_proj_bias is None
    assert tuple(sep.k_proj_weight.shape) == (16, 6) and tuple(sep.bias_v.shape) == (1, 1, 16)


def test_mha_constructor_errors():
    with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="embed_dim and num_heads must be greater than 0"):
        nn.MultiheadAttention(0, 2)


def test_mha_mask_errors():
    m = nn.MultiheadAttention(8, 2)
    x = ember.randn(4, 3, 8)
    with pytest.raises(RuntimeError, match="The shape of the 2D attn_mask is"):
        m(x, x, x, attn_mask=ember.zeros(3, 3))
    with pytest.raises(AssertionError, match="only bool and floating types of attn_mask"):
        m(x, x, x, attn_mask=ember.zeros(4, 4, dtype=ember.int64))


def test_mha_dropout_train_vs_eval():
    m = nn.MultiheadAttention(8, 2, dropout=0.5)
    x = ember.randn(4, 3, 8)
    a = m(x, x, x)[1].detach().numpy()
    b = m(x, x, x)[1].detach().numpy()
    assert not np.allclose(a, b)
    m.eval()
    c = m(x, x, x)[1].detach().numpy()
    np.testing.assert_allclose(c.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(c, m(x, x, x)[1].detach().numpy())


# ---------------------------------------------------------------- Transformer layers

def _seq(rng, bf, n, bsz=2, d=8):
    return _rand(rng, bsz, n, d) if bf else _rand(rng, n, bsz, d)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_encoder_layer_matches_torch(norm_first, activation, batch_first):
    rng = np.random.default_rng(9)
    tm, em = _pair("TransformerEncoderLayer", 8, 2, dim_feedforward=12, dropout=0.0,
                   activation=activation, norm_first=norm_first, batch_first=batch_first)
    (tx,), (ex,) = _leaves(_seq(rng, batch_first, 5))
    kpm = np.zeros((2, 5), bool)
    kpm[1, 3:] = True
    t_kpm, e_kpm = _const(kpm)
    t_mask, e_mask = _const(rng.random((5, 5)) > 0.8)
    t_out = tm(tx, src_mask=t_mask, src_key_padding_mask=t_kpm)
    e_out = em(ex, src_mask=e_mask, src_key_padding_mask=e_kpm)
    _close(e_out, t_out)
    _backward(t_out, e_out, rng)
    _close(ex.grad, tx.grad)
    _check_param_grads(tm, em)


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_decoder_layer_matches_torch(norm_first, activation, batch_first):
    rng = np.random.default_rng(10)
    tm, em = _pair("TransformerDecoderLayer", 8, 2, dim_feedforward=12, dropout=0.0,
                   activation=activation, norm_first=norm_first, batch_first=batch_first)
    (tt, tmem), (et, emem) = _leaves(_seq(rng, batch_first, 4), _seq(rng, batch_first, 6))
    t_causal = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    e_causal = nn.Transformer.generate_square_subsequent_mask(4, dtype=ember.float64)
    mkpm = np.zeros((2, 6), bool)
    mkpm[0, 4:] = True
    t_mkpm, e_mkpm = _const(mkpm)
    t_out = tm(tt, tmem, tgt_mask=t_causal, memory_key_padding_mask=t_mkpm, tgt_is_causal=True)
    e_out = em(et, emem, tgt_mask=e_causal, memory_key_padding_mask=e_mkpm, tgt_is_causal=True)
    _close(e_out, t_out)
    _backward(t_out, e_out, rng)
    _close(et.grad, tt.grad)
    _close(emem.grad, tmem.grad)
    _check_param_grads(tm, em)


def test_layer_callable_activation_and_bias_false():
    rng = np.random.default_rng(11)
    tm = torch.nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, activation=TF.silu,
                                          bias=False).double()
    em = nn.TransformerEncoderLayer(8, 2, 12, dropout=0.0, activation=F.silu, bias=False).double()
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in em.named_parameters()]
    em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    (tx,), (ex,) = _leaves(_seq(rng, False, 5))
    _close(em(ex), tm(tx))
    with pytest.raises(RuntimeError, match="activation should be relu/gelu, not tanh"):
        nn.TransformerEncoderLayer(8, 2, activation="tanh")


def test_module_activation_is_registered_as_submodule():
    em = nn.TransformerEncoderLayer(8, 2, 12, activation=nn.GELU())
    tm = torch.nn.TransformerEncoderLayer(8, 2, 12, activation=torch.nn.GELU())
    assert [n for n, _ in em.named_modules()] == [n for n, _ in tm.named_modules()]


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_decoder_stacks_match_torch(batch_first, norm_first):
    rng = np.random.default_rng(12)
    kw = dict(dim_feedforward=12, dropout=0.0, batch_first=batch_first, norm_first=norm_first)
    t_enc = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(8, 2, **kw), 2,
                                        norm=torch.nn.LayerNorm(8),
                                        enable_nested_tensor=False).double()
    e_enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(8, 2, **kw), 2,
                                  norm=nn.LayerNorm(8)).double()
    t_dec = torch.nn.TransformerDecoder(torch.nn.TransformerDecoderLayer(8, 2, **kw), 2).double()
    e_dec = nn.TransformerDecoder(nn.TransformerDecoderLayer(8, 2, **kw), 2).double()
    for tm, em in ((t_enc, e_enc), (t_dec, e_dec)):
        assert [n for n, _ in tm.named_parameters()] == [n for n, _ in em.named_parameters()]
        em.load_state_dict({k: ember.tensor(v.numpy()) for k, v in tm.state_dict().items()})
    (ts, tt), (es, et) = _leaves(_seq(rng, batch_first, 5), _seq(rng, batch_first, 4))
    t_src_mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    e_src_mask = nn.Transformer.generate_square_subsequent_mask(5, dtype=ember.float64)
    t_tgt_mask = torch.nn.Transformer.generate_square_subsequent_mask(4, dtype=torch.float64)
    e_tgt_mask = nn.Transformer.generate_square_subsequent_mask(4, dtype=ember.float64)
    t_mem = t_enc(ts, mask=t_src_mask)
    e_mem = e_enc(es, mask=e_src_mask)
    _close(e_mem, t_mem)
    t_out = t_dec(tt, t_mem, tgt_mask=t_tgt_mask)
    e_out = e_dec(et, e_mem, tgt_mask=e_tgt_mask)
    _close(e_out, t_out)
    _backward(t_out, e_out, rng)
    _close(es.grad, ts.grad)
    _close(et.grad, tt.grad)
    _check_param_grads(t_enc, e_enc)
    _check_param_grads(t_dec, e_dec)


def test_encoder_clones_are_independent_deep_copies():
    layer = nn.TransformerEncoderLayer(8, 2, 12)
    enc = nn.TransformerEncoder(layer, 3)
    assert len(enc.layers) == 3 and enc.num_layers == 3
    ids = {id(p) for p in enc.parameters()}
    assert len(ids) == 3 * len(list(layer.parameters()))
    assert not ids & {id(p) for p in layer.parameters()}
    for mod in enc.layers:
        np.testing.assert_array_equal(mod.linear1.weight.detach().numpy(),
                                      layer.linear1.weight.detach().numpy())
    with ember.no_grad():
        enc.layers[0].linear1.weight.fill_(0.0)
    assert (layer.linear1.weight.detach().numpy() != 0).any()
    assert (enc.layers[1].linear1.weight.detach().numpy() != 0).any()
    clone = copy.deepcopy(enc)
    assert clone.layers[2].self_attn.in_proj_weight is not enc.layers[2].self_attn.in_proj_weight


@pytest.mark.parametrize("sz", [1, 4])
def test_generate_square_subsequent_mask_matches_torch(sz):
    e = nn.Transformer.generate_square_subsequent_mask(sz)
    t = torch.nn.Transformer.generate_square_subsequent_mask(sz)
    assert e.dtype == ember.float32
    np.testing.assert_array_equal(e.numpy(), t.numpy())


def test_detect_is_causal_mask():
    from ember.nn.modules.transformer import _detect_is_causal_mask
    causal = nn.Transformer.generate_square_subsequent_mask(4)
    assert _detect_is_causal_mask(causal) is True
    assert _detect_is_causal_mask(causal, is_causal=False) is False
    assert _detect_is_causal_mask(ember.zeros(4, 4)) is False
    assert _detect_is_causal_mask(None, is_causal=True) is True
    assert _detect_is_causal_mask(causal, size=3) is False


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_full_transformer_matches_torch(batch_first, activation):
    rng = np.random.default_rng(13)
    tm, em = _pair("Transformer", 8, 2, num_encoder_layers=2, num_decoder_layers=2,
                   dim_feedforward=12, dropout=0.0, activation=activation,
                   batch_first=batch_first)
    (ts, tt), (es, et) = _leaves(_seq(rng, batch_first, 5), _seq(rng, batch_first, 4))
    kpm = np.zeros((2, 5), bool)
    kpm[0, 3:] = True
    t_kpm, e_kpm = _const(kpm)
    tgt_kpm = np.zeros((2, 4), bool)
    tgt_kpm[1, 3] = True
    t_tkpm, e_tkpm = _const(tgt_kpm)
    t_mask = tm.generate_square_subsequent_mask(4, dtype=torch.float64)
    e_mask = em.generate_square_subsequent_mask(4, dtype=ember.float64)
    t_out = tm(ts, tt, tgt_mask=t_mask, src_key_padding_mask=t_kpm,
               tgt_key_padding_mask=t_tkpm, memory_key_padding_mask=t_kpm)
    e_out = em(es, et, tgt_mask=e_mask, src_key_padding_mask=e_kpm,
               tgt_key_padding_mask=e_tkpm, memory_key_padding_mask=e_kpm)
    _close(e_out, t_out)
    _backward(t_out, e_out, rng)
    _close(es.grad, ts.grad)
    _close(et.grad, tt.grad)
    _check_param_grads(tm, em)


def test_full_transformer_eval_mode_and_unbatched():
    rng = np.random.default_rng(14)
    tm, em = _pair("Transformer", 8, 2, num_encoder_layers=1, num_decoder_layers=1,
                   dim_feedforward=12, dropout=0.3)
    tm.eval()
    em.eval()
    (ts, tt), (es, et) = _leaves(_rand(rng, 5, 8), _rand(rng, 4, 8))
    t_out = tm(ts, tt)
    e_out = em(es, et)
    assert e_out.shape == (4, 8)
    _close(e_out, t_out)
    em.train()
    assert not np.allclose(em(es, et).detach().numpy(), e_out.detach().numpy())


def test_transformer_init_and_errors():
    m = nn.Transformer(8, 2, 1, 1, 12)
    assert (m.d_model, m.nhead, m.batch_first) == (8, 2, False)
    assert isinstance(m.encoder.norm, nn.LayerNorm) and isinstance(m.decoder.norm, nn.LayerNorm)
    w = m.encoder.layers[0].linear1.weight.detach().numpy()
    assert np.abs(w).max() <= math.sqrt(6.0 / (8 + 12))  # xavier_uniform_ on every matrix
    with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
        m(ember.randn(5, 2, 8), ember.randn(4, 3, 8))
    with pytest.raises(RuntimeError, match="the feature number of src and tgt must be equal "
                                           "to d_model"):
        m(ember.randn(5, 2, 8), ember.randn(4, 2, 6))


def test_mismatched_mask_types_warn_like_torch():
    m = nn.MultiheadAttention(8, 2)
    x = ember.randn(4, 2, 8)
    kpm = ember.zeros(2, 4, dtype=ember.bool)
    with pytest.warns(UserWarning, match="Support for mismatched key_padding_mask and attn_mask "
                                         "is deprecated"):
        m(x, x, x, key_padding_mask=kpm, attn_mask=ember.zeros(4, 4))
    layer = nn.TransformerEncoderLayer(8, 2, 12)
    with pytest.warns(UserWarning, match="mismatched src_key_padding_mask and src_mask"):
        layer(x, src_mask=ember.zeros(4, 4), src_key_padding_mask=kpm)


def test_tiny_transformer_learns_to_copy():
    ember.manual_seed(0)
    vocab, d = 5, 16
    emb = nn.Embedding(vocab, d)
    model = nn.Transformer(d, 2, 1, 1, 32, dropout=0.0, batch_first=True)
    head = nn.Linear(d, vocab)
    params = list(emb.parameters()) + list(model.parameters()) + list(head.parameters())
    opt = ember.optim.Adam(params, lr=1e-2)
    seq = ember.randint(0, vocab, (8, 6))
    mask = nn.Transformer.generate_square_subsequent_mask(6)
    losses = []
    for _ in range(30):
        out = head(model(emb(seq), emb(seq), tgt_mask=mask))
        loss = F.cross_entropy(out.reshape(-1, vocab), seq.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0], losses
