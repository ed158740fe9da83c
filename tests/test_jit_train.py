"""Compiled training steps equal eager ones, and traced functions are differentiable."""

from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn


def _mlp():
    return nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 32), nn.GELU(),
                         nn.Linear(32, 5))


def _cnn():
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(4, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 2 * 2, 5))


def _opt(kind, params):
    if kind == "sgd":
        return ember.optim.SGD(params, lr=0.05, momentum=0.9)
    return ember.optim.AdamW(params, lr=3e-3, weight_decay=0.01)


def _run(model_fn, opt_kind, x, y, compiled: bool, steps: int = 50):
    ember.manual_seed(0)
    model = model_fn()
    opt = _opt(opt_kind, model.parameters())

    def train_step(xb, yb):
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        return loss

    step = ember.jit.compile(train_step) if compiled else train_step
    losses = []
    for i in range(steps):
        j = (i * 8) % len(x)
        losses.append(step(x[j:j + 8], y[j:j + 8]).item())
    state = {k: v.numpy().copy() for k, v in opt.state_dict()["state"][0].items()}
    return losses, [p.detach().numpy().copy() for p in model.parameters()], state, step


@pytest.mark.parametrize("model_fn,shape", [(_mlp, (16,)), (_cnn, (1, 8, 8))],
                         ids=["mlp", "cnn"])
@pytest.mark.parametrize("opt_kind", ["sgd", "adamw"])
def test_compiled_train_step_equals_eager(model_fn, shape, opt_kind):
    ember.manual_seed(1)
    x = ember.randn(32, *shape)
    y = ember.randint(0, 5, (32,))
    le, pe, se, _ = _run(model_fn, opt_kind, x, y, compiled=False)
    lc, pc, sc, step = _run(model_fn, opt_kind, x, y, compiled=True)
    np.testing.assert_allclose(lc, le, rtol=1e-5, atol=1e-6)
    for a, b in zip(pc, pe):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    for k in se:
        np.testing.assert_allclose(sc[k], se[k], rtol=1e-5, atol=1e-6)
    assert len(step.traces) == 1 and not step._eager
    assert losses_fall(le)


def losses_fall(losses):
    return np.mean(losses[-8:]) < np.mean(losses[:8])


def test_lr_scheduler_changes_are_seen():
    ember.manual_seed(0)
    lin = nn.Linear(3, 1)
    opt = ember.optim.SGD(lin.parameters(), lr=0.1)
    sched = ember.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)

    def step(x):
        opt.zero_grad()
        lin(x).sum().backward()
        opt.step()

    cstep = ember.jit.compile(step)
    x = ember.ones(1, 3)
    before = lin.weight.detach().numpy().copy()
    cstep(x)
    sched.step()
    mid = lin.weight.detach().numpy().copy()
    cstep(x)
    after = lin.weight.detach().numpy().copy()
    np.testing.assert_allclose(before - mid, 0.1 * np.ones((1, 3)), rtol=1e-6)
    np.testing.assert_allclose(mid - after, 0.05 * np.ones((1, 3)), rtol=1e-6)


def test_clip_grad_norm_inside_compiled_step():
    def run(compiled):
        ember.manual_seed(0)
        lin = nn.Linear(4, 2)
        opt = ember.optim.SGD(lin.parameters(), lr=0.1)

        def step(x):
            opt.zero_grad()
            (lin(x) * 10).pow(2).sum().backward()
            norm = nn.utils.clip_grad_norm_(lin.parameters(), 1.0)
            opt.step()
            return norm

        f = ember.jit.compile(step) if compiled else step
        norms = [float(f(ember.full((2, 4), float(i + 1)))) for i in range(3)]
        return norms, lin.weight.detach().numpy().copy()

    (ne, we), (nc, wc) = run(False), run(True)
    np.testing.assert_allclose(nc, ne, rtol=1e-5)
    np.testing.assert_allclose(wc, we, rtol=1e-5)


@pytest.mark.parametrize("grad_input", [True, False])
def test_traced_module_is_differentiable(grad_input):
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3), nn.LogSoftmax(-1))
    tm = ember.jit.trace(m, (ember.randn(5, 4, requires_grad=grad_input),))
    x = ember.randn(5, 4, requires_grad=grad_input)
    out = tm(x)
    assert out.requires_grad and "Compiled" in type(out.grad_fn).__name__
    (out * out).sum().backward()
    got = [p.grad.numpy().copy() for p in m.parameters()]
    gx = x.grad.numpy().copy() if grad_input else None
    m.zero_grad()
    x2 = x.detach().clone().requires_grad_(grad_input)
    o = m(x2)
    (o * o).sum().backward()
    for a, p in zip(got, m.parameters()):
        np.testing.assert_allclose(a, p.grad.numpy(), rtol=1e-5, atol=1e-6)
    if grad_input:
        np.testing.assert_allclose(gx, x2.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_traced_function_multiple_outputs_gradients():
    def f(a, b):
        return (a * b).sum(0), (a - b).exp()

    a = ember.randn(3, 2, requires_grad=True)
    b = ember.randn(3, 2, requires_grad=True)
    tf = ember.jit.trace(f, (a, b))
    a2 = ember.randn(3, 2, requires_grad=True)
    b2 = ember.randn(3, 2, requires_grad=True)
    u, v = tf(a2, b2)
    (u.sum() + v.sum()).backward()
    a3 = a2.detach().clone().requires_grad_()
    b3 = b2.detach().clone().requires_grad_()
    u3, v3 = f(a3, b3)
    (u3.sum() + v3.sum()).backward()
    np.testing.assert_allclose(a2.grad.numpy(), a3.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(b2.grad.numpy(), b3.grad.numpy(), rtol=1e-5)
    u, _ = tf(a2, b2)
    u.sum().backward()  # one output unused: its gradient counts as zero
    with pytest.raises(RuntimeError, match="not supported"):
        w, _ = tf(a2, b2)
        ember.autograd.grad(w.sum(), a2, create_graph=True)


def _encoder(causal: bool):
    layer = nn.TransformerEncoderLayer(8, 2, dim_feedforward=16, dropout=0.0,
                                       batch_first=True)
    mask = nn.Transformer.generate_square_subsequent_mask(5) if causal else None
    pad = ember.tensor([[False] * 4 + [True], [False] * 5])
    if causal:  # one mask type for both (mixing them is deprecated, with a warning)
        pad = ember.zeros(2, 5).masked_fill(pad, float("-inf"))

    def loss(x):
        return layer(x, src_mask=mask, src_key_padding_mask=pad).square().mean()
    return layer, loss


def _sdpa(causal: bool):
    lin = nn.Linear(8, 24)
    keep = ember.tensor([[True] * 5] * 4 + [[True, True, False, False, False]])

    def loss(x):
        q, k, v = lin(x).chunk(3, dim=-1)
        return F.scaled_dot_product_attention(
            q, k, v, is_causal=causal, attn_mask=None if causal else keep).sum()
    return lin, loss


def _gaussian_nll(_):
    lin = nn.Linear(8, 8)
    target = ember.ones(2, 5, 8)

    def loss(x):
        return F.gaussian_nll_loss(lin(x), target, 0.5) + F.gaussian_nll_loss(
            lin(x), target, lin(x).exp())
    return lin, loss


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("make", [_encoder, _sdpa, _gaussian_nll])
def test_library_layers_trace_without_eager_fallback(make, causal):
    """Masks and constants the library builds itself are graph constants or ops, so a
    training step through them compiles (no fallback warning) and matches eager."""
    import warnings

    def run(compiled: bool):
        ember.manual_seed(0)
        model, loss_fn = make(causal)
        opt = ember.optim.SGD(model.parameters(), lr=0.01)

        def step(x):
            opt.zero_grad()
            loss = loss_fn(x)
            loss.backward()
            opt.step()
            return loss
        f = ember.jit.compile(step) if compiled else step
        rng = np.random.default_rng(1)
        return [f(ember.from_numpy(rng.standard_normal((2, 5, 8)).astype(np.float32))).item()
                for _ in range(4)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = run(True)
    np.testing.assert_allclose(got, run(False), rtol=1e-5)
