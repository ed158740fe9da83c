"""The classic JIT footguns, each shown handled: ember's JIT is never silently wrong.

torch.jit.trace bakes in data-dependent branches, TinyJit freezes Python values, and
mx.compile refuses data-dependent code; each test here makes the compiled function
face one of those situations and compares it with eager execution.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.jit import JitError


def close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


def test_branch_on_tensor_value_retraces():
    def f(x):
        if x.sum() > 0:
            return x * 2
        return x - 1

    cf = ember.jit.compile(f)
    pos, neg = ember.tensor([1.0, 2.0]), ember.tensor([-1.0, -2.0])
    close(cf(pos), f(pos))
    close(cf(neg), f(neg))  # same shapes: only the guard tells the cases apart
    close(cf(pos), f(pos))
    assert len(cf.traces) == 2
    text = cf.explain()
    assert "__bool__" in text and "test_jit_footguns.py" in text and "recompile" in text


def test_item_in_python_arithmetic():
    def f(x):
        s = x.sum().item()
        return x * (s + 1.0)

    cf = ember.jit.compile(f)
    for v in ([1.0, 2.0], [3.0, 4.0], [1.0, 2.0]):
        x = ember.tensor(v)
        close(cf(x), f(x))
    assert len(cf.traces) == 2


def test_returned_item_needs_no_guard():
    cf = ember.jit.compile(lambda x: (x * 2, (x * x).sum().item()))
    for v in ([1.0, 2.0], [3.0, 5.0]):
        y, s = cf(ember.tensor(v))
        assert isinstance(s, float) and s == float(np.sum(np.square(v)))
    assert len(cf.traces) == 1


def test_python_scalar_argument_changes():
    cf = ember.jit.compile(lambda x, k: x * k)
    x = ember.tensor([1.0, 2.0])
    close(cf(x, 2.0), [2.0, 4.0])
    close(cf(x, 3.0), [3.0, 6.0])
    assert len(cf.traces) == 2


def test_none_arguments():
    def f(x, bias=None):
        return x * 2 if bias is None else x * 2 + bias

    cf = ember.jit.compile(f)
    x, b = ember.tensor([1.0, 2.0]), ember.tensor([10.0, 20.0])
    close(cf(x), [2.0, 4.0])
    close(cf(x, b), [12.0, 24.0])
    close(cf(x, None), [2.0, 4.0])


@pytest.mark.parametrize("shape,dtype", [((3,), ember.float32), ((2, 3), ember.float32),
                                         ((3,), ember.float64), ((3,), ember.int64)])
def test_changing_shapes_and_dtypes(shape, dtype):
    cf = ember.jit.compile(lambda x: (x * 3).sum(-1))
    cf(ember.ones(4))
    x = ember.arange(int(np.prod(shape))).reshape(shape).to(dtype)
    r = cf(x)
    assert r.dtype == dtype and tuple(r.shape) == shape[:-1]
    close(r, (x * 3).sum(-1))


def test_train_eval_switch_dropout_and_batchnorm():
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.Dropout(0.5))
    cm = ember.jit.compile(m)
    x = ember.randn(8, 4)
    m.eval()
    with ember.no_grad():
        ref = m(x)
        close(cm(x), ref)
        m.train()
        y = cm(x)
        assert (y.numpy() == 0).any()  # dropout is active again
        m.eval()
        close(cm(x), m(x))


def test_output_that_aliases_an_input():
    cf = ember.jit.compile(lambda x: (x, x.view(2, 2), x * 1))
    x = ember.arange(4.0)
    a, v, c = cf(x)
    a2, v2, c2 = cf(x)
    assert a2 is x and np.shares_memory(v2.numpy(), x.numpy())
    assert not np.shares_memory(c2.numpy(), x.numpy())


def test_outputs_not_reused_across_calls():
    cf = ember.jit.compile(lambda x: (x * 2 + 1).relu())
    r1 = cf(ember.full((1000,), 1.0))
    r2 = cf(ember.full((1000,), 5.0))
    assert float(r1[0]) == 3.0 and float(r2[0]) == 11.0
    r3 = cf(ember.full((1000,), 7.0))
    assert float(r1[0]) == 3.0 and float(r2[0]) == 11.0 and float(r3[0]) == 15.0


def test_exception_during_tracing_does_not_poison_later_calls():
    calls = []

    def f(x, y):
        calls.append(1)
        return x @ y

    cf = ember.jit.compile(f)
    with pytest.raises(RuntimeError, match="matmul"):
        cf(ember.ones(2, 3), ember.ones(2, 3))
    close(cf(ember.ones(2, 3), ember.ones(3, 2)), np.full((2, 2), 3.0))
    close(cf(ember.ones(2, 3), ember.ones(3, 2)), np.full((2, 2), 3.0))
    from ember.autograd.grad_mode import _state
    assert not _state.modes


def test_parameter_updated_outside():
    lin = nn.Linear(3, 2)
    cm = ember.jit.compile(lin)
    x = ember.ones(1, 3)
    with ember.no_grad():
        cm(x)
        lin.weight.add_(1.0)
        close(cm(x), lin(x))
        lin.load_state_dict({"weight": ember.zeros(2, 3), "bias": ember.ones(2)})
        close(cm(x), [[1.0, 1.0]])


def test_gradient_accumulation_across_calls():
    def run(compiled):
        ember.manual_seed(0)
        lin = nn.Linear(3, 1)

        def step(x):
            loss = lin(x).pow(2).sum()
            loss.backward()
            return loss

        f = ember.jit.compile(step) if compiled else step
        for i in range(3):
            f(ember.full((2, 3), float(i)))
        return lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()

    for a, b in zip(run(False), run(True)):
        close(a, b)


@pytest.mark.parametrize("where", ["first", "between"])
def test_grad_set_to_none_in_python_is_replayed(where):
    """``p.grad = None`` inside the function: even where the gradient was already None
    while tracing, later calls must reset it there, not accumulate into the last call's."""
    def run(compiled):
        ember.manual_seed(0)
        lin = nn.Linear(3, 2)

        def step(x):
            if where == "first":
                lin.weight.grad = None
            lin(x).pow(2).sum().backward()
            if where == "between":
                lin.weight.grad = None
                lin(x).sum().backward()

        f = ember.jit.compile(step) if compiled else step
        for i in range(4):
            f(ember.full((2, 3), float(i + 1)))
        return lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()

    for a, b in zip(run(False), run(True)):
        close(a, b)


def test_grad_assigned_a_tensor_in_python_runs_eagerly():
    def make():
        w = ember.ones(2, requires_grad=True)

        def step(x):
            (w * x).sum().backward()
            w.grad = w.grad * 0.5
        return w, step

    w, step = make()
    we, eager = make()
    cf = ember.jit.compile(step)
    with pytest.warns(UserWarning, match="grad was assigned in Python"):
        cf(ember.ones(2))
    eager(ember.ones(2))
    for _ in range(2):
        cf(ember.ones(2) * 2)
        eager(ember.ones(2) * 2)
    close(w.grad, we.grad)


def test_rng_fresh_each_call_and_reproducible():
    def f(x):
        return F.dropout(x, 0.5, training=True) + ember.randn(x.shape[0])

    x = ember.ones(64)
    ember.manual_seed(3)
    eager = [f(x).numpy().copy() for _ in range(3)]
    cf = ember.jit.compile(f)
    ember.manual_seed(3)
    comp = [cf(x).numpy().copy() for _ in range(3)]
    for a, b in zip(eager, comp):
        close(a, b)
    assert not np.allclose(comp[1], comp[2])


def test_guard_after_state_change_raises_instead_of_rerunning():
    lin = nn.Linear(2, 1)
    opt = ember.optim.SGD(lin.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        lin(x).sum().backward()
        opt.step()
        if lin.weight.sum() > 100:  # data-dependent Python after the update
            return lin.weight * 0
        return lin.weight * 1

    cf = ember.jit.compile(step)
    cf(ember.ones(1, 2))
    with ember.no_grad():
        lin.weight.fill_(1000.0)
    with pytest.raises(JitError, match="already changed state"):
        cf(ember.ones(1, 2))


def test_max_traces_falls_back_to_eager_with_one_warning():
    cf = ember.jit.compile(lambda x, k: x * k, max_traces=2)
    x = ember.ones(2)
    cf(x, 1.0)
    cf(x, 2.0)
    with pytest.warns(UserWarning, match="max_traces=2"):
        close(cf(x, 3.0), [3.0, 3.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        close(cf(x, 4.0), [4.0, 4.0])
    assert "eager" in cf.explain()


def test_strict_raises_on_guard_failure():
    def f(x):
        return x * 2 if x.sum() > 0 else x

    cf = ember.jit.compile(f, strict=True)
    cf(ember.ones(2))
    with pytest.raises(JitError, match="strict"):
        cf(-ember.ones(2))


def test_untraceable_code_runs_eagerly_with_a_warning():
    def f(x):
        y = x * 2
        y.add_(1)  # fine: y needs no grad
        z = x.clone().requires_grad_()
        (g,) = ember.autograd.grad((z ** 3).sum(), [z], create_graph=True)  # not captured
        return y + g.detach()

    cf = ember.jit.compile(f)
    with pytest.warns(UserWarning, match="runs eagerly"):
        r = cf(ember.ones(2))
    close(r, f(ember.ones(2)))
    close(cf(ember.ones(2)), f(ember.ones(2)))


def test_nonzero_shape_is_guarded():
    cf = ember.jit.compile(lambda x: x[x > 0] * 2)
    close(cf(ember.tensor([1.0, -1.0, 2.0])), [2.0, 4.0])
    close(cf(ember.tensor([1.0, 3.0, 2.0])), [2.0, 6.0, 4.0])


def test_raw_array_code_is_caught_on_first_replay():
    def f(x):
        hidden = ember.from_numpy(x._data * 2)  # raw array code: invisible to the tracer
        return hidden + 1

    cf = ember.jit.compile(f)
    close(cf(ember.ones(3)), [3.0, 3.0, 3.0])
    with pytest.warns(UserWarning, match="disagreed with eager"):
        close(cf(ember.full((3,), 5.0)), [11.0, 11.0, 11.0])
    close(cf(ember.full((3,), 7.0)), [15.0, 15.0, 15.0])


def test_custom_function_with_grad_runs_eagerly():
    class Double(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    cf = ember.jit.compile(lambda x: Double.apply(x).sum())
    x = ember.ones(3, requires_grad=True)
    with pytest.warns(UserWarning, match="Double"):
        cf(x).backward()
    close(x.grad, [2.0, 2.0, 2.0])
    with ember.no_grad():
        close(cf(ember.ones(3)), 6.0)  # without grad the forward's ops are traced


@pytest.mark.parametrize("fn", [lambda x: ember.unique(x) * 2,
                                lambda x: x.masked_select(x > 1) + 1,
                                lambda x: ember.unique_consecutive(x, return_counts=True)[1]],
                         ids=["unique", "masked_select", "unique_consecutive"])
def test_data_dependent_ops_follow_new_data(fn):
    cf = ember.jit.compile(fn)
    for v in ([1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 1.0, 0.0], [2.0, 2.0, 2.0, 4.0]):
        x = ember.tensor(v)
        close(cf(x), fn(x))


def test_inplace_ops_on_tensors_that_require_grad():
    def f(x):
        y = (x * 3).relu_()
        y.mul_(x)
        return ember.autograd.grad(y.sum(), [x])[0]

    cf = ember.jit.compile(f)
    for v in ([1.0, -2.0, 3.0], [-1.0, 2.0, 0.5]):
        x = ember.tensor(v, requires_grad=True)
        close(cf(x), f(x))
    assert len(cf.traces) == 1


def test_view_used_after_inplace_write_with_grad_runs_eagerly():
    def f(x):
        y = x * 1
        v = y[:2]
        y.mul_(2)
        return (v * 3).sum()

    cf = ember.jit.compile(f)
    x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with pytest.warns(UserWarning, match="view"):
        cf(x).backward()
    close(x.grad, [6.0, 6.0, 0.0])


def test_packed_sequences_with_new_lengths_retrace():
    from ember.nn.utils.rnn import pack_padded_sequence

    def run(compiled):
        ember.manual_seed(0)
        lstm, head = nn.LSTM(4, 8, batch_first=True), nn.Linear(8, 3)
        opt = ember.optim.SGD([*lstm.parameters(), *head.parameters()], lr=0.1)

        def step(x, lengths, y):
            packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            _, (h, _) = lstm(packed)
            loss = F.cross_entropy(head(h[-1]), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            return loss

        f = ember.jit.compile(step) if compiled else step
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(4):
            lengths = ember.tensor(rng.integers(1, 6, 3))
            losses.append(f(ember.randn(3, 5, 4), lengths, ember.randint(0, 3, (3,))).item())
        return losses

    np.testing.assert_allclose(run(True), run(False), rtol=1e-5)


def test_carried_state_detached_inside_the_function():
    """Truncated backprop through time: the state from the last call comes back in with
    its history and is detached inside."""
    def run(compiled):
        ember.manual_seed(0)
        cell = nn.RNNCell(3, 4)
        opt = ember.optim.SGD(cell.parameters(), lr=0.1)
        h = ember.zeros(2, 4)

        def step(x, h):
            h = cell(x, h.detach())
            opt.zero_grad()
            h.pow(2).sum().backward()
            opt.step()
            return h

        f = ember.jit.compile(step) if compiled else step
        outs = []
        for i in range(4):
            h = f(ember.full((2, 3), 0.1 * i), h)
            outs.append(h.detach().numpy().copy())
        return outs

    for a, b in zip(run(True), run(False)):
        close(a, b)


@pytest.mark.parametrize("kind", ["hook", "retain_grad"])
def test_gradient_hooks_inside_the_function_run_eagerly(kind):
    """A hook that rescales an intermediate's gradient (or retain_grad, read after
    backward) is Python the graph cannot call: the function runs eagerly, with a warning."""
    def step(x):
        y = x * 2
        if kind == "hook":
            y.register_hook(lambda g: g * 10)
        else:
            y.retain_grad()
        (y * y).sum().backward()
        return y.grad if kind == "retain_grad" else None

    cf = ember.jit.compile(step)
    x, xe = ember.tensor([1.0, -2.0]), ember.tensor([1.0, -2.0])
    x.requires_grad_()
    xe.requires_grad_()
    with pytest.warns(UserWarning, match="hook or retain_grad"):
        got = cf(x)
    for _ in range(2):
        x.grad = xe.grad = None
        got, want = cf(x), step(xe)
        close(x.grad, xe.grad)
        if kind == "retain_grad":
            close(got, want)


def test_gradient_hook_inside_a_differentiable_call_runs_eagerly():
    def f(x):
        y = x * 2
        y.register_hook(lambda g: g * 10)
        return (y * y).sum()

    cf = ember.jit.compile(f)
    x, xe = ember.tensor([1.0, -2.0], requires_grad=True), ember.tensor([1.0, -2.0],
                                                                       requires_grad=True)
    with pytest.warns(UserWarning, match="hook or retain_grad"):
        cf(x).backward()
    x.grad = None
    cf(x).backward()
    f(xe).backward()
    close(x.grad, xe.grad)


def test_backward_that_depends_on_data_is_not_baked_in():
    """cumprod's backward takes another formula when the input holds zeros (a bool its
    forward computes): a training step traced without zeros must not reuse that formula."""
    w = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
    we = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)

    def step(w, x):
        (w * x).cumprod(0).sum().backward()

    cf = ember.jit.compile(step)
    for x in ([1.0, 2.0, 0.5], [1.0, 0.0, 2.0], [0.0, 3.0, 1.0]):
        w.grad = we.grad = None
        cf(w, ember.tensor(x))
        step(we, ember.tensor(x))
        close(w.grad, we.grad)
