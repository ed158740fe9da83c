"""Tests of ember.debug: nan_guard, memory_report, the graph-leak warning and tap."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.debug
from ember import nn
from ember.autograd.grad_mode import _state

torch = pytest.importorskip("torch")


def _line_of(marker: str) -> int:
    """The line number in this file of the line that carries ``marker``."""
    with open(__file__) as f:
        for i, line in enumerate(f, 1):
            if marker in line and "_line_of" not in line:
                return i
    raise AssertionError(marker)


# ---------------------------------------------------------------------------- nan_guard


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 4)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc1(x))  # MARK-block-forward


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([Block(), Block()])

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()
        self.head = nn.Linear(4, 2)

    def forward(self, x):
        return self.head(self.encoder(x))


def _poisoned_net() -> Net:
    net = Net()
    with ember.no_grad():
        net.encoder.layers[1].fc1.weight[2, 1] = float("nan")
    return net


def test_nan_guard_names_module_op_shapes_and_line():
    net = _poisoned_net()
    x = ember.ones(3, 4)
    with pytest.raises(ember.debug.NanError) as info:
        with ember.debug.nan_guard():
            net(x)
    e = info.value
    assert isinstance(e, RuntimeError)
    assert (e.op, e.module_path, e.module_class) == ("linear", "encoder.layers.1.fc1", "Linear")
    assert e.shape == (3, 4) and e.dtype is ember.float32
    # one NaN weight reaches one output column, in every row
    assert (e.nan_count, e.inf_count) == (3, 0)
    msg = str(e)
    first = msg.splitlines()[0]
    assert first == "NaN detected in the output of op 'linear' in module encoder.layers.1.fc1 " \
                    "(Linear)"
    assert "output: shape (3, 4), dtype ember.float32: 3 NaN, 0 Inf of 12 elements" in msg
    # the inputs: activations, the poisoned weight (16 elements, 1 NaN) and the bias
    assert "input 0: shape (3, 4), dtype ember.float32" in msg
    assert "input 1: shape (4, 4), dtype ember.float32" in msg
    assert "(of finite values), 1 NaN, 0 Inf" in msg
    assert "input 2: shape (4,), dtype ember.float32" in msg
    # the innermost line of user code is this file's Block.forward
    assert os.path.samefile(e.filename, __file__)
    assert e.lineno == _line_of("MARK-block-forward")
    assert f'line {e.lineno}, in forward' in msg
    assert "return self.act(self.fc1(x))" in msg


def test_nan_guard_input_stats_values():
    a = ember.tensor([[1.0, -2.0], [3.0, 0.5]])
    with pytest.raises(ember.debug.NanError) as info:
        with ember.debug.nan_guard():
            a.log()  # MARK-log
    e = info.value
    assert e.op == "log" and e.module_path is None and e.module_class is None
    msg = str(e)
    assert msg.splitlines()[0] == "NaN detected in the output of op 'log' (outside any nn.Module)"
    t = torch.tensor([[1.0, -2.0], [3.0, 0.5]])
    stats = (f"input 0: shape (2, 2), dtype ember.float32, min {t.min().item():.6g}, "
             f"max {t.max().item():.6g}, mean {t.mean().item():.6g}, 0 NaN, 0 Inf")
    assert stats in msg
    assert e.lineno == _line_of("MARK-log") and os.path.samefile(e.filename, __file__)


def test_nan_guard_root_module_and_inf():
    lin = nn.Linear(2, 2)
    with ember.no_grad():
        lin.weight.fill_(1e38)
    with pytest.raises(ember.debug.NanError) as info, np.errstate(over="ignore"):
        with ember.debug.nan_guard():
            lin(ember.full((1, 2), 1e38))
    e = info.value
    assert (e.module_path, e.module_class) == ("", "Linear")
    assert e.inf_count == 2 and e.nan_count == 0
    assert str(e).startswith("Inf detected in the output of op 'linear' in module <root> "
                             "(Linear)")
    # infinities pass when only NaNs are looked for
    with ember.debug.nan_guard(check_inf=False), np.errstate(over="ignore"):
        out = lin(ember.full((1, 2), 1e38))
    assert np.isinf(out.detach().numpy()).all()


def test_nan_guard_finite_overflowing_sum_passes():
    x = ember.full((4,), 3e38)
    with ember.debug.nan_guard():
        y = x * 1.0
    assert np.isfinite(y.numpy()).all()


def test_nan_guard_warns_instead_of_raising():
    x = ember.tensor([0.0, 1.0])
    with pytest.warns(RuntimeWarning, match="NaN detected in the output of op 'div'") as rec:
        with ember.debug.nan_guard(raise_error=False), np.errstate(invalid="ignore"):
            y = x / x  # MARK-div
    assert np.isnan(y.numpy()[0])
    assert os.path.samefile(rec[0].filename, __file__) and rec[0].lineno == _line_of("MARK-div")


def test_nan_guard_inplace_op():
    x = ember.tensor([4.0, -1.0])
    with pytest.raises(ember.debug.NanError, match="op 'sqrt_'") as info:
        with ember.debug.nan_guard():
            x.sqrt_()
    # the message shows the target as it was before the write
    assert "input 0: shape (2,), dtype ember.float32, min -1, max 4" in str(info.value)


def test_nan_guard_decorator_and_cleanup():
    from ember.nn.modules.module import Module
    call = Module.__dict__["__call__"]

    @ember.debug.nan_guard()
    def f(v):
        assert len(_state.modes) == 1
        assert Module.__dict__["__call__"] is not call
        return v.log()

    assert f(ember.tensor([1.0])).item() == 0.0
    with pytest.raises(ember.debug.NanError):
        f(ember.tensor([-1.0]))
    assert _state.modes == [] and Module.__dict__["__call__"] is call
    # nested guards share one Module.__call__ wrapper and restore it at the end
    with ember.debug.nan_guard(), ember.debug.nan_guard(check_inf=False):
        pass
    assert _state.modes == [] and Module.__dict__["__call__"] is call


def test_nan_guard_leaves_results_and_grads_alone():
    torch.manual_seed(0)
    xt = torch.randn(3, 4, requires_grad=True)
    x = ember.tensor(xt.detach().numpy(), requires_grad=True)
    with ember.debug.nan_guard():
        y = (x.exp() * x).tanh().sum(1)
    y.sum().backward()
    (xt.exp() * xt).tanh().sum(1).sum().backward()
    np.testing.assert_allclose(y.detach().numpy(), (xt.exp() * xt).tanh().sum(1).detach(),
                               rtol=1e-6)
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy(), rtol=1e-5)


def test_nan_guard_inside_profiler():
    import ember.profiler
    with ember.profiler.profile() as prof:
        with pytest.raises(ember.debug.NanError, match="op 'log'"):
            with ember.debug.nan_guard():
                ember.tensor([-1.0]).log()
    assert "log" in {ev.key for ev in prof.key_averages()}
    assert _state.modes == []


# ---------------------------------------------------------------------------- memory


def test_memory_report_counts_storages_once_and_saved_by_op():
    gc.collect()
    before = ember.debug.memory_report()
    big = ember.ones(500, 500, requires_grad=True)      # 1 MB
    view = big[:10]                                     # shares big's storage
    det = big.detach()                                  # shares it too
    out = (big * 2.0).exp()                             # 1 MB output, 1 MB temporary
    rep = ember.debug.memory_report(top=3)
    assert rep.n_tensors - before.n_tensors == 3 + 1
    assert rep.tensor_bytes - before.tensor_bytes == 2 * 500 * 500 * 4
    assert rep.largest[0][0] == 500 * 500 * 4 and rep.largest[0][1] == (500, 500)
    rows = {r[0]: r for r in rep.saved_by_op}
    # exp saves its output (alive as `out`)
    assert rows["exp"] == ("exp", 1, 1, 500 * 500 * 4)
    text = str(rep)
    assert "Live tensors:" in text and "Saved for backward:" in text
    assert "exp" in text and "ExpBackward0" in text
    del out
    rep2 = ember.debug.memory_report()
    assert "exp" not in {r[0] for r in rep2.saved_by_op}
    del view, det


def test_memory_report_graph_only_bytes():
    gc.collect()
    w = ember.ones(200, 200, requires_grad=True)
    loss = w.sigmoid().exp().sum()  # the sigmoid output lives only in the graph
    rep = ember.debug.memory_report()
    assert rep.saved_only_bytes >= 200 * 200 * 4
    loss.backward()
    rep = ember.debug.memory_report()
    assert {"sigmoid", "exp"}.isdisjoint(r[0] for r in rep.saved_by_op)


# ---------------------------------------------------------------------------- leak


def _train(accumulate, steps: int = 6):
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 1))
    opt = ember.optim.SGD(model.parameters(), lr=0.01)
    x = ember.ones(5, 3)
    total = 0.0
    for _ in range(steps):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()  # MARK-step
        total = accumulate(total, loss)
    return total


def test_graph_leak_warns_once(monkeypatch):
    monkeypatch.setattr(ember.debug, "_leak_warned", False)
    with pytest.warns(ember.debug.GraphLeakWarning, match="total_loss") as rec:
        _train(lambda total, loss: total + loss)
    assert issubclass(ember.debug.GraphLeakWarning, UserWarning)
    leaks = [w for w in rec if w.category is ember.debug.GraphLeakWarning]
    assert len(leaks) == 1
    # reported at the user's optimizer.step() call
    assert os.path.samefile(leaks[0].filename, __file__)
    assert leaks[0].lineno == _line_of("MARK-step")
    # once per process
    with warnings.catch_warnings():
        warnings.simplefilter("error", ember.debug.GraphLeakWarning)
        _train(lambda total, loss: total + loss)


def test_graph_leak_inplace_accumulation_warns(monkeypatch):
    monkeypatch.setattr(ember.debug, "_leak_warned", False)

    def acc(total, loss):
        if isinstance(total, float):
            return loss * 1.0
        total += loss
        return total

    with pytest.warns(ember.debug.GraphLeakWarning):
        _train(acc)


@pytest.mark.parametrize("acc", [lambda t, loss: t + loss.item(),
                                 lambda t, loss: t + loss.detach()])
def test_no_leak_no_warning(monkeypatch, acc):
    monkeypatch.setattr(ember.debug, "_leak_warned", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ember.debug.GraphLeakWarning)
        _train(acc)
    assert ember.debug._leak_warned is False


# ---------------------------------------------------------------------------- tap


def test_tap_calls_fn_with_value_and_passes_grads():
    seen = []
    xt = torch.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
    x = ember.tensor(xt.detach().numpy(), requires_grad=True)
    mid = ember.debug.tap(x * 3.0, fn=lambda v: seen.append(v.numpy().copy()))
    (mid * mid).sum().backward()
    ((xt * 3.0) * (xt * 3.0)).sum().backward()
    assert len(seen) == 1
    np.testing.assert_array_equal(seen[0], (xt * 3.0).detach().numpy())
    np.testing.assert_array_equal(mid.detach().numpy(), seen[0])
    assert mid.grad_fn.name() == "TapBackward0"
    np.testing.assert_allclose(x.grad.numpy(), xt.grad.numpy())


def test_tap_default_prints_and_second_order(capsys):
    x = ember.tensor([2.0], requires_grad=True)
    y = ember.debug.tap(x * x)
    assert capsys.readouterr().out == "tensor([4.])\n"
    (g,) = ember.autograd.grad(y.sum(), x, create_graph=True)
    (g2,) = ember.autograd.grad(g.sum(), x)
    assert g.item() == 4.0 and g2.item() == 2.0


def test_tap_errors():
    with pytest.raises(TypeError, match="must be Tensor"):
        ember.debug.tap([1.0])
    with pytest.raises(TypeError, match="must be callable"):
        ember.debug.tap(ember.ones(1), fn=3)


def test_debug_loads_lazily():
    src = os.path.dirname(os.path.dirname(ember.__file__))
    code = ("import sys, ember; assert 'ember.debug' not in sys.modules; "
            "ember.debug.nan_guard; print('ok')")
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stdout.strip() == "ok"
