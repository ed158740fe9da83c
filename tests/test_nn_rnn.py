"""RNN / LSTM / GRU layers and cells, and the pack/pad utilities, against torch."""

import time
import warnings

import numpy as np
import pytest

import ember
import ember.nn.utils.rnn as er
from ember import nn

torch = pytest.importorskip("torch")
tr = torch.nn.utils.rnn

TOL = dict(rtol=1e-9, atol=1e-10)


def _np(t):
    if isinstance(t, np.ndarray):
        return t
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else t.detach().numpy()


def _close(e, t, **tol):
    np.testing.assert_allclose(_np(e), _np(t), **(tol or TOL))


def _pair(name, *args, dtype=torch.float64, **kw):
    """The same module in torch and in ember, with torch's weights loaded into ember."""
    tm = getattr(torch.nn, name)(*args, **kw).to(dtype)
    em = getattr(nn, name)(*args, **kw)
    em = em.double() if dtype == torch.float64 else em
    state = {k: ember.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()}
    em.load_state_dict(state)
    return tm, em


def _leaf(a):
    """A float64 NumPy array as a torch and an ember leaf that require grad."""
    return (torch.tensor(a, requires_grad=True),
            ember.tensor(a).requires_grad_(True))


def _weighted_sum(tensors, rng, lib):
    """A loss that weights every output element differently, so gradients are not trivial."""
    total = 0
    for t in tensors:
        w = rng.standard_normal(tuple(t.shape))
        total = total + (t * (torch.tensor(w) if lib == "torch" else ember.tensor(w))).sum()
    return total


def _flat(out):
    """Output tensors of an RNN call, flattened: output (or packed data), h_n[, c_n]."""
    o, h = out
    o = o.data if isinstance(o, (tr.PackedSequence, er.PackedSequence)) else o
    return [o, *h] if isinstance(h, tuple) else [o, h]


def _check_call(tm, em, t_args, e_args, t_leaves, e_leaves):
    t_out, e_out = _flat(tm(*t_args)), _flat(em(*e_args))
    assert len(t_out) == len(e_out)
    for a, b in zip(e_out, t_out):
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b)
    _weighted_sum(t_out, np.random.default_rng(1), "torch").backward()
    _weighted_sum(e_out, np.random.default_rng(1), "ember").backward()
    for a, b in zip(e_leaves, t_leaves):
        _close(a.grad, b.grad)
    tp = dict(tm.named_parameters())
    for n, p in em.named_parameters():
        assert p.grad is not None, n
        _close(p.grad, tp[n].grad)


# ---------------------------------------------------------------- full layers

CONFIGS = [
    ("RNN", dict()),
    ("RNN", dict(nonlinearity="relu", num_layers=2)),
    ("RNN", dict(bidirectional=True, bias=False)),
    ("GRU", dict()),
    ("GRU", dict(num_layers=2, bidirectional=True, batch_first=True)),
    ("GRU", dict(bias=False)),
    ("LSTM", dict()),
    ("LSTM", dict(num_layers=2, bidirectional=True)),
    ("LSTM", dict(proj_size=3, batch_first=True)),
    ("LSTM", dict(proj_size=2, num_layers=2, bidirectional=True, bias=False)),
]


@pytest.mark.parametrize("name,kw", CONFIGS)
@pytest.mark.parametrize("with_h0", [False, True])
def test_layer_matches_torch(name, kw, with_h0):
    rng = np.random.default_rng(0)
    tm, em = _pair(name, 4, 5, **kw)
    T, B = 3, 2
    shape = (B, T, 4) if kw.get("batch_first") else (T, B, 4)
    tx, ex = _leaf(rng.standard_normal(shape))
    t_args, e_args, t_leaves, e_leaves = [tx], [ex], [tx], [ex]
    if with_h0:
        dirs = 2 if kw.get("bidirectional") else 1
        layers = kw.get("num_layers", 1)
        hs = kw.get("proj_size", 0) or 5
        th, eh = _leaf(rng.standard_normal((layers * dirs, B, hs)))
        t_leaves.append(th)
        e_leaves.append(eh)
        if name == "LSTM":
            tc, ec = _leaf(rng.standard_normal((layers * dirs, B, 5)))
            t_leaves.append(tc)
            e_leaves.append(ec)
            t_args.append((th, tc))
            e_args.append((eh, ec))
        else:
            t_args.append(th)
            e_args.append(eh)
    _check_call(tm, em, t_args, e_args, t_leaves, e_leaves)


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_unbatched_input(name):
    rng = np.random.default_rng(0)
    tm, em = _pair(name, 3, 4, num_layers=2, bidirectional=True)
    tx, ex = _leaf(rng.standard_normal((5, 3)))
    th, eh = _leaf(rng.standard_normal((4, 4)))
    if name == "LSTM":
        tc, ec = _leaf(rng.standard_normal((4, 4)))
        _check_call(tm, em, [tx, (th, tc)], [ex, (eh, ec)], [tx, th, tc], [ex, eh, ec])
    else:
        _check_call(tm, em, [tx, th], [ex, eh], [tx, th], [ex, eh])


def test_float32_lstm():
    rng = np.random.default_rng(0)
    tm, em = _pair("LSTM", 4, 6, num_layers=2, dtype=torch.float32)
    x = rng.standard_normal((5, 3, 4)).astype(np.float32)
    t_out, (th, tc) = tm(torch.tensor(x))
    e_out, (eh, ec) = em(ember.tensor(x))
    assert e_out.dtype == ember.float32 and eh.dtype == ember.float32
    for a, b in ((e_out, t_out), (eh, th), (ec, tc)):
        _close(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name,kw", [("RNN", dict(nonlinearity="relu")), ("GRU", dict()),
                                     ("LSTM", dict(proj_size=2)),
                                     ("LSTM", dict(bidirectional=True, num_layers=2)),
                                     ("GRU", dict(bidirectional=True, batch_first=True))])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_matches_torch(name, kw, enforce_sorted):
    rng = np.random.default_rng(0)
    tm, em = _pair(name, 3, 4, **kw)
    lengths = [4, 3, 3, 1] if enforce_sorted else [2, 4, 1, 3]
    seqs = [_leaf(rng.standard_normal((n, 3))) for n in lengths]
    tp = tr.pack_sequence([s[0] for s in seqs], enforce_sorted=enforce_sorted)
    ep = er.pack_sequence([s[1] for s in seqs], enforce_sorted=enforce_sorted)
    _close(ep.data, tp.data)
    t_leaves, e_leaves = [s[0] for s in seqs], [s[1] for s in seqs]
    t_args, e_args = [tp], [ep]
    if name == "LSTM":
        dirs = 2 if kw.get("bidirectional") else 1
        n = kw.get("num_layers", 1) * dirs
        th, eh = _leaf(rng.standard_normal((n, 4, kw.get("proj_size", 0) or 4)))
        tc, ec = _leaf(rng.standard_normal((n, 4, 4)))
        t_args.append((th, tc))
        e_args.append((eh, ec))
        t_leaves += [th, tc]
        e_leaves += [eh, ec]
    # the padded view of the output must match too (it depends on the per-length stopping)
    e_out, _ = em(*e_args)
    t_out, _ = tm(*t_args)
    assert isinstance(e_out, er.PackedSequence)
    _close(e_out.batch_sizes, t_out.batch_sizes)
    for a, b in zip(er.pad_packed_sequence(e_out, batch_first=True),
                    tr.pad_packed_sequence(t_out, batch_first=True)):
        _close(a, b)
    _check_call(tm, em, t_args, e_args, t_leaves, e_leaves)


# ---------------------------------------------------------------- cells

@pytest.mark.parametrize("name,kw", [("RNNCell", dict()), ("RNNCell", dict(nonlinearity="relu")),
                                     ("GRUCell", dict()), ("GRUCell", dict(bias=False)),
                                     ("LSTMCell", dict()), ("LSTMCell", dict(bias=False))])
@pytest.mark.parametrize("batched", [True, False])
def test_cell_matches_torch(name, kw, batched):
    rng = np.random.default_rng(0)
    tm, em = _pair(name, 3, 4, **kw)
    lead = (2,) if batched else ()
    tx, ex = _leaf(rng.standard_normal(lead + (3,)))
    th, eh = _leaf(rng.standard_normal(lead + (4,)))
    if name == "LSTMCell":
        tc, ec = _leaf(rng.standard_normal(lead + (4,)))
        t_out, e_out = tm(tx, (th, tc)), em(ex, (eh, ec))
        leaves = [(tx, ex), (th, eh), (tc, ec)]
    else:
        t_out, e_out = (tm(tx, th),), (em(ex, eh),)
        leaves = [(tx, ex), (th, eh)]
    for a, b in zip(e_out, t_out):
        assert tuple(a.shape) == tuple(b.shape)
        _close(a, b)
    _weighted_sum(t_out, np.random.default_rng(1), "torch").backward()
    _weighted_sum(e_out, np.random.default_rng(1), "ember").backward()
    for t, e in leaves:
        _close(e.grad, t.grad)
    tp = dict(tm.named_parameters())
    for n, p in em.named_parameters():
        _close(p.grad, tp[n].grad)


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_without_state(name):
    tm, em = _pair(name, 3, 4)
    x = np.random.default_rng(0).standard_normal((2, 3))
    t_out, e_out = tm(torch.tensor(x)), em(ember.tensor(x))
    for a, b in zip(e_out if name == "LSTMCell" else [e_out],
                    t_out if name == "LSTMCell" else [t_out]):
        _close(a, b)


# ---------------------------------------------------------------- construction

@pytest.mark.parametrize("name,kw", [("LSTM", dict(num_layers=2, bidirectional=True,
                                                   proj_size=2)),
                                     ("GRU", dict(bias=False, batch_first=True, dropout=0.5,
                                                  num_layers=3)),
                                     ("RNN", dict(nonlinearity="relu")),
                                     ("LSTMCell", dict(bias=False)),
                                     ("RNNCell", dict(nonlinearity="relu"))])
def test_parameters_and_repr_match_torch(name, kw):
    tm = getattr(torch.nn, name)(3, 4, **kw)
    em = getattr(nn, name)(3, 4, **kw)
    assert [(n, tuple(p.shape)) for n, p in em.named_parameters()] == \
        [(n, tuple(p.shape)) for n, p in tm.named_parameters()]
    assert repr(em) == repr(tm)
    if hasattr(tm, "_flat_weights_names"):
        assert em._flat_weights_names == tm._flat_weights_names
        assert em._all_weights == tm._all_weights
        assert [[tuple(w.shape) for w in ws] for ws in em.all_weights] == \
            [[tuple(w.shape) for w in ws] for ws in tm.all_weights]


def test_init_is_uniform_in_bound():
    m = nn.LSTM(3, 16, num_layers=2, proj_size=4)
    bound = 1 / 4.0
    for n, p in m.named_parameters():
        a = p.detach().numpy()
        assert a.min() >= -bound and a.max() <= bound, n
        assert a.max() - a.min() > bound, n  # spread over the interval, not constant


@pytest.mark.parametrize("make", [
    lambda m: m.RNN(3, 0),
    lambda m: m.RNN(3, 4, num_layers=0),
    lambda m: m.RNN(3, 4, dropout=1.5),
    lambda m: m.RNN(3, 4, nonlinearity="foo"),
    lambda m: m.LSTM(3, 4, proj_size=-1),
    lambda m: m.LSTM(3, 4, proj_size=4),
    lambda m: m.GRU(3, 4, proj_size=2),
])
def test_constructor_errors_match_torch(make):
    with pytest.raises(ValueError) as te:
        make(torch.nn)
    with pytest.raises(ValueError) as ee:
        make(nn)
    assert str(ee.value) == str(te.value)


def test_dropout_warning_matches_torch():
    with warnings.catch_warnings(record=True) as tw:
        warnings.simplefilter("always")
        torch.nn.RNN(3, 4, dropout=0.5)
    with warnings.catch_warnings(record=True) as ew:
        warnings.simplefilter("always")
        nn.RNN(3, 4, dropout=0.5)
    assert [str(w.message) for w in ew] == [str(w.message) for w in tw]


@pytest.mark.parametrize("call", [
    lambda m, t: m.RNN(3, 4)(t.zeros(2, 2, 2, 3)),
    lambda m, t: m.LSTM(3, 4)(t.zeros(2, 2, 2, 3)),
    lambda m, t: m.GRU(3, 4)(t.zeros(2)),
    lambda m, t: m.RNN(3, 4)(t.zeros(3)),
    lambda m, t: m.RNN(3, 4)(t.zeros(2, 2, 5)),
    lambda m, t: m.RNN(3, 4)(t.zeros(2, 2, 3), t.zeros(1, 3, 4)),
    lambda m, t: m.RNN(3, 4)(t.zeros(2, 3), t.zeros(1, 3, 4)),
    lambda m, t: m.RNN(3, 4)(t.zeros(2, 2, 3), t.zeros(3, 4)),
    lambda m, t: m.RNN(3, 4)(t.zeros(0, 2, 3)),
    lambda m, t: m.LSTM(3, 4)(t.zeros(2, 2, 3), (t.zeros(1, 2, 4), t.zeros(1, 3, 4))),
    lambda m, t: m.LSTM(3, 4)(t.zeros(2, 3), (t.zeros(1, 4), t.zeros(1, 2, 4))),
    lambda m, t: m.LSTM(3, 4, proj_size=2)(t.zeros(2, 2, 3),
                                           (t.zeros(1, 2, 4), t.zeros(1, 2, 4))),
    lambda m, t: m.LSTM(3, 4)(t.zeros(2, 2, 3), t.zeros(1, 2, 4)),
    lambda m, t: m.LSTM(3, 4)(t.zeros(2, 2, 3), t.zeros(2, 2, 4)),
    lambda m, t: m.GRUCell(3, 4)(t.zeros(2, 2, 3)),
    lambda m, t: m.RNNCell(3, 4)(t.zeros(2, 3), t.zeros(1, 2, 4)),
    lambda m, t: m.LSTMCell(3, 4)(t.zeros(2, 3), (t.zeros(1, 2, 4), t.zeros(2, 4))),
    lambda m, t: m.RNNCell(3, 4)(t.zeros(2, 5)),
    lambda m, t: m.RNNCell(3, 4)(t.zeros(2, 3), t.zeros(3, 4)),
    lambda m, t: m.LSTMCell(3, 4)(t.zeros(2, 3), (t.zeros(2, 5), t.zeros(2, 4))),
])
def test_forward_errors_match_torch(call):
    with pytest.raises(Exception) as te:
        call(torch.nn, torch)
    with pytest.raises(Exception) as ee:
        call(nn, ember)
    assert type(ee.value) is type(te.value)
    assert str(ee.value) == str(te.value)


def test_dropout_between_layers_only_in_training():
    m = nn.GRU(3, 8, num_layers=2, dropout=0.5)
    x = ember.randn(4, 2, 3)
    m.eval()
    a, _ = m(x)
    b, _ = m(x)
    _close(a, b.detach().numpy())
    m.train()
    outs = [m(x)[0].detach().numpy() for _ in range(2)]
    assert not np.allclose(outs[0], outs[1])
    # one layer: dropout has no effect even in training
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = nn.GRU(3, 8, dropout=0.5)
    _close(one(x)[0], one(x)[0].detach().numpy())


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM"])
def test_empty_batch(name):
    tm, em = _pair(name, 3, 4, bidirectional=True)
    tx, ex = _leaf(np.zeros((2, 0, 3)))
    _check_call(tm, em, [tx], [ex], [tx], [ex])


def test_state_dict_round_trip_names():
    tm = torch.nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    em = nn.LSTM(3, 4, num_layers=2, bidirectional=True, proj_size=2)
    assert list(em.state_dict()) == list(tm.state_dict())


def test_double_backward_lstm_cell():
    rng = np.random.default_rng(0)
    tm, em = _pair("LSTMCell", 2, 3)
    tx, ex = _leaf(rng.standard_normal((2, 2)))
    th, eh = _leaf(rng.standard_normal((2, 3)))
    tc, ec = _leaf(rng.standard_normal((2, 3)))
    grads = []
    for lib, m, x, h, c in (("t", tm, tx, th, tc), ("e", em, ex, eh, ec)):
        h2, c2 = m(x, (h, c))
        loss = (h2 * h2).sum() + (c2 * h2).sum()
        auto = torch.autograd if lib == "t" else ember.autograd
        gx, gh = auto.grad(loss, (x, h), create_graph=True)
        (gx.sum() + (gh * gh).sum()).backward()
        grads.append([x.grad, h.grad, c.grad, m.weight_hh.grad])
    for a, b in zip(grads[1], grads[0]):
        _close(a, b)


def test_double_backward_gru_cell():
    rng = np.random.default_rng(0)
    tm, em = _pair("GRUCell", 2, 3)
    tx, ex = _leaf(rng.standard_normal((2, 2)))
    th, eh = _leaf(rng.standard_normal((2, 3)))
    grads = []
    for lib, m, x, h in (("t", tm, tx, th), ("e", em, ex, eh)):
        h2 = m(x, h)
        auto = torch.autograd if lib == "t" else ember.autograd
        gx, gh = auto.grad((h2 * h2).sum(), (x, h), create_graph=True)
        (gx.sum() + (gh * gh).sum()).backward()
        grads.append([x.grad, h.grad, m.weight_hh.grad, m.bias_hh.grad])
    for a, b in zip(grads[1], grads[0]):
        _close(a, b)


@pytest.mark.parametrize("name,kw", [("LSTM", dict(proj_size=2, bidirectional=True)),
                                     ("GRU", dict(num_layers=2)),
                                     ("RNN", dict(bidirectional=True))])
def test_double_backward_packed_layer(name, kw):
    rng = np.random.default_rng(0)
    tm, em = _pair(name, 2, 3, **kw)
    seqs = [_leaf(rng.standard_normal((n, 2))) for n in (3, 1, 2)]
    grads = []
    for lib, m, rnn_utils, xs in (("t", tm, tr, [s[0] for s in seqs]),
                                  ("e", em, er, [s[1] for s in seqs])):
        out, _ = m(rnn_utils.pack_sequence(xs, enforce_sorted=False))
        loss = (out.data * out.data).sum()
        auto = torch.autograd if lib == "t" else ember.autograd
        gx = auto.grad(loss, xs, create_graph=True)
        sum((g * g).sum() for g in gx).backward()
        grads.append([x.grad for x in xs] + [p.grad for p in m.parameters()])
    for a, b in zip(grads[1], grads[0]):
        _close(a, b)


# ---------------------------------------------------------------- pack / pad utilities

@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_padded_and_back(batch_first, enforce_sorted):
    rng = np.random.default_rng(0)
    lengths = [5, 3, 2] if enforce_sorted else [2, 5, 3]
    shape = (3, 5, 2) if batch_first else (5, 3, 2)
    tx, ex = _leaf(rng.standard_normal(shape))
    tp = tr.pack_padded_sequence(tx, lengths, batch_first=batch_first,
                                 enforce_sorted=enforce_sorted)
    ep = er.pack_padded_sequence(ex, ember.tensor(lengths), batch_first=batch_first,
                                 enforce_sorted=enforce_sorted)
    for a, b in zip(ep, tp):
        assert (a is None) == (b is None)
        if a is not None:
            _close(a, b)
    assert ep.batch_sizes.dtype == ember.int64
    for kw in (dict(), dict(padding_value=-1.0, total_length=7)):
        (tpad, tlen), (epad, elen) = (tr.pad_packed_sequence(tp, batch_first, **kw),
                                      er.pad_packed_sequence(ep, batch_first, **kw))
        _close(epad, tpad)
        _close(elen, tlen)
    w = rng.standard_normal(tuple(tp.data.shape))
    (tp.data * torch.tensor(w)).sum().backward()
    (ep.data * ember.tensor(w)).sum().backward()
    _close(ex.grad, tx.grad)


def test_pad_packed_gradient():
    rng = np.random.default_rng(0)
    seqs = [_leaf(rng.standard_normal((n, 2))) for n in (2, 4, 1)]
    tpad, _ = tr.pad_packed_sequence(tr.pack_sequence([s[0] for s in seqs], False), True, 3.0)
    epad, _ = er.pad_packed_sequence(er.pack_sequence([s[1] for s in seqs], False), True, 3.0)
    _close(epad, tpad)
    w = rng.standard_normal(tuple(tpad.shape))
    (tpad * torch.tensor(w)).sum().backward()
    (epad * ember.tensor(w)).sum().backward()
    for t, e in seqs:
        _close(e.grad, t.grad)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    rng = np.random.default_rng(0)
    seqs = [_leaf(rng.standard_normal((n, 2, 3))) for n in (2, 4, 1)]
    t = tr.pad_sequence([s[0] for s in seqs], batch_first, -2.0, padding_side=side)
    e = er.pad_sequence([s[1] for s in seqs], batch_first, -2.0, padding_side=side)
    _close(e, t)
    w = rng.standard_normal(tuple(t.shape))
    (t * torch.tensor(w)).sum().backward()
    (e * ember.tensor(w)).sum().backward()
    for a, b in seqs:
        _close(b.grad, a.grad)


def test_unpad_and_unpack():
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal((n, 2)) for n in (2, 4, 1)]
    tseqs, eseqs = [torch.tensor(a) for a in arrays], [ember.tensor(a) for a in arrays]
    for a, b in zip(er.unpack_sequence(er.pack_sequence(eseqs, enforce_sorted=False)),
                    tr.unpack_sequence(tr.pack_sequence(tseqs, enforce_sorted=False))):
        _close(a, b)
    tpad, epad = tr.pad_sequence(tseqs), er.pad_sequence(eseqs)
    for a, b in zip(er.unpad_sequence(epad, ember.tensor([2, 4, 1])),
                    tr.unpad_sequence(tpad, torch.tensor([2, 4, 1]))):
        _close(a, b)


def test_packed_sequence_class():
    p = er.PackedSequence(ember.ones(4, 2), ember.tensor([2, 1, 1]))
    assert p.sorted_indices is None and p.unsorted_indices is None
    assert er.PackedSequence._fields == tr.PackedSequence._fields
    q = er.PackedSequence(ember.ones(3), ember.tensor([2, 1]), ember.tensor([1, 0]))
    _close(q.unsorted_indices, torch.tensor([1, 0]))
    assert q.double().data.dtype == ember.float64
    assert q.to(ember.float32) is q
    assert repr(p).startswith("PackedSequence(data=tensor(")
    _close(er.invert_permutation(ember.tensor([2, 0, 3, 1])),
           tr.invert_permutation(torch.tensor([2, 0, 3, 1])))


@pytest.mark.parametrize("call", [
    lambda r, t: r.pack_padded_sequence(t.zeros(3, 2), [1, 3]),
    lambda r, t: r.pack_padded_sequence(t.zeros(3, 2), [3, 0]),
    lambda r, t: r.pack_padded_sequence(t.zeros(3, 2), [3]),
    lambda r, t: r.pack_sequence([t.ones(1), t.ones(3)]),
    lambda r, t: r.pad_packed_sequence(r.pack_sequence([t.ones(3), t.ones(1)]), total_length=2),
    lambda r, t: r.pad_sequence([t.ones(1)], padding_side="x"),
    lambda r, t: r.pad_sequence([]),
])
def test_utility_errors_match_torch(call):
    with pytest.raises(Exception) as te:
        call(tr, torch)
    with pytest.raises(Exception) as ee:
        call(er, ember)
    assert type(ee.value) is type(te.value)
    assert str(ee.value) == str(te.value)


# ---------------------------------------------------------------- timing (printed only)

def test_lstm_timing_report():
    """Prints ember vs torch time for a 2-layer LSTM forward+backward (not asserted)."""
    T, B, inp, hid = 64, 32, 64, 256
    x = np.random.default_rng(0).standard_normal((T, B, inp)).astype(np.float32)
    tm, em = _pair("LSTM", inp, hid, num_layers=2, dtype=torch.float32)
    tx, ex = torch.tensor(x, requires_grad=True), ember.tensor(x).requires_grad_(True)

    def run(m, xx):
        out, (h, c) = m(xx)
        (out.sum() + h.sum() + c.sum()).backward()

    times = {}
    for lib, m, xx in (("torch", tm, tx), ("ember", em, ex)):
        run(m, xx)  # warm-up
        t0 = time.perf_counter()
        run(m, xx)
        times[lib] = time.perf_counter() - t0
    print(f"\nLSTM 2x256, batch {B}, seq {T}, input {inp}, fwd+bwd: "
          f"ember {times['ember'] * 1e3:.1f} ms, torch {times['torch'] * 1e3:.1f} ms, "
          f"ratio {times['ember'] / times['torch']:.2f}")
