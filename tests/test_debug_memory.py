"""Tests of ember.debug.track_memory and the by-module grouping of memory_report."""

from __future__ import annotations

import gc

import numpy as np
import pytest

import ember
import ember.debug
from ember import nn
from ember.autograd.grad_mode import _state
from ember.debug import _tls

F32 = 4  # bytes per float32 element
_CALL = nn.Module.__dict__["__call__"]


@pytest.fixture(autouse=True)
def _clean():
    # memory_report finds graphs with gc: drop other tests' unreachable ones first
    gc.collect()
    yield
    assert not _state.modes and not _tls.modules
    assert nn.Module.__dict__["__call__"] is _CALL


def _by_module(rep) -> dict:
    return {(path, cls): (nodes, arrays, nbytes)
            for path, cls, nodes, arrays, nbytes in rep.saved_by_module}


class Parent(nn.Module):
    def __init__(self, d_in: int = 4, hidden: int = 8, d_out: int = 3) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, d_out))

    def forward(self, x):
        return self.body(x)


def test_two_layer_bytes_by_path():
    batch, d_in, hidden, d_out = 5, 4, 8, 3
    net = Parent(d_in, hidden, d_out)
    x = ember.randn(batch, d_in)
    with ember.debug.track_memory(net):
        out = net(x)
    rep = ember.debug.memory_report()
    # Linear saves its input and its weight, ReLU its output
    h = batch * hidden * F32
    assert _by_module(rep) == {
        ("body.0", "Linear"): (1, 2, batch * d_in * F32 + hidden * d_in * F32),
        ("body.1", "ReLU"): (1, 1, h),
        ("body.2", "Linear"): (1, 2, h + d_out * hidden * F32),
    }
    assert [r[0] for r in rep.saved_by_module] == ["body.2", "body.0", "body.1"]
    assert out.grad_fn.metadata["module"] == ("body.2", "Linear")
    text = str(rep)
    assert "body.0 (Linear)" in text and "body.1 (ReLU)" in text
    assert "(untracked)" not in text


def test_paths_are_torchs_named_modules():
    torch = pytest.importorskip("torch")
    tnet = torch.nn.Module()
    tnet.body = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(),
                                    torch.nn.Linear(8, 3))
    expected = {(n, type(m).__name__) for n, m in tnet.named_modules() if n.count(".")}
    net = Parent()
    with ember.debug.track_memory(net):
        out = net(ember.randn(2, 4))  # noqa: F841 - keeps the graph alive
    assert set(_by_module(ember.debug.memory_report())) == expected


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(4, 6)
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc1(x))


class Encoder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList([Block(), Block()])
        self.layers[1].fc1 = nn.Linear(6, 5)

    def forward(self, x):
        for layer in self.layers:
            x = layer(x)
        return x


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.encoder = Encoder()

    def forward(self, x):
        # an op of the root's own forward, and a module that is not registered in it
        return nn.Sigmoid()(self.encoder(x).exp())


def test_nested_modules_charge_the_innermost():
    net = Net()
    x = ember.randn(3, 4)
    with ember.debug.track_memory(net):
        out = net(x)  # noqa: F841
    rows = _by_module(ember.debug.memory_report())
    a1, a2 = 3 * 6 * F32, 3 * 5 * F32  # the two blocks' activations
    assert rows == {
        ("encoder.layers.0.fc1", "Linear"): (1, 2, 3 * 4 * F32 + 6 * 4 * F32),
        ("encoder.layers.0.act", "ReLU"): (1, 1, a1),
        ("encoder.layers.1.fc1", "Linear"): (1, 2, a1 + 5 * 6 * F32),
        ("encoder.layers.1.act", "ReLU"): (1, 1, a2),
        # exp saves its output, sigmoid (called inside Net's forward) its output too
        ("", "Net"): (2, 2, 2 * a2),
    }
    text = str(ember.debug.memory_report())
    assert "encoder.layers.1.fc1 (Linear)" in text and "<root> (Net)" in text


def test_rows_gone_after_backward():
    net = Parent()
    with ember.debug.track_memory(net):
        loss = net(ember.randn(2, 4)).sum()
    assert len(ember.debug.memory_report().saved_by_module) == 3
    loss.backward()
    rep = ember.debug.memory_report()
    assert rep.saved_by_module == []
    assert "module" not in str(rep).split("Saved for backward")[1]


def test_untracked_nodes_form_one_row():
    net = Parent()
    x = ember.randn(2, 4, requires_grad=True)
    before = x.exp()  # noqa: F841 - made before tracking
    with ember.debug.track_memory(net):
        out = net(x).tanh()  # tanh runs outside the model's modules
        other = nn.Sigmoid()(x)  # a module that is not part of the model
    assert "module" not in other.grad_fn.metadata
    del other
    rows = _by_module(ember.debug.memory_report())
    assert rows[("(untracked)", "")] == (2, 2, 2 * 4 * F32 + 2 * 3 * F32)
    assert "module" not in out.grad_fn.metadata
    assert len(rows) == 4


def test_tracking_off_costs_nothing_and_adds_no_rows():
    net = Parent()
    out = net(ember.randn(2, 4))
    assert not _state.modes and nn.Module.__dict__["__call__"] is _CALL
    rep = ember.debug.memory_report()
    assert rep.saved_by_op and rep.saved_by_module == []
    assert "_metadata" not in vars(out.grad_fn)
    assert "module" not in str(rep).split("Saved for backward")[1]
    with ember.debug.track_memory(net):
        assert _state.modes and nn.Module.__dict__["__call__"] is not _CALL
    assert not _state.modes and nn.Module.__dict__["__call__"] is _CALL


class Raiser(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(4, 4)

    def forward(self, x):
        self.fc(x)
        raise ValueError("boom")


class Catcher(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.bad = Raiser()

    def forward(self, x):
        try:
            self.bad(x)
        except ValueError:
            pass
        return x.exp()


def test_exception_in_forward_leaves_the_stack_clean():
    net = Catcher()
    x = ember.randn(2, 4, requires_grad=True)
    with ember.debug.track_memory(net):
        out = net(x)
        assert out.grad_fn.metadata["module"] == ("", "Catcher")
        assert _tls.modules == []
        with pytest.raises(ValueError, match="boom"):
            net.bad(x)
        assert _tls.modules == []
        y = x.sin()
    assert "module" not in y.grad_fn.metadata


def test_exception_out_of_the_block_cleans_up():
    net = Raiser()
    tm = ember.debug.track_memory(net)
    with pytest.raises(ValueError, match="boom"), tm:
        net(ember.randn(2, 4))
    assert _tls.modules == [] and not tm._active


def test_model_none_uses_the_outermost_module():
    net = Parent()
    with ember.debug.track_memory():
        out = net(ember.randn(2, 4))  # noqa: F841
        blk = Block()
        b = blk(ember.randn(2, 4))
    assert out.grad_fn.metadata["module"] == ("body.2", "Linear")
    assert b.grad_fn.metadata["module"] == ("act", "ReLU")


def test_inplace_op_is_tagged():
    class M(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)

        def forward(self, x):
            h = self.fc(x)
            h.sigmoid_()
            return h

    net = M()
    with ember.debug.track_memory(net):
        h = net(ember.randn(2, 3))
    assert h.grad_fn.metadata["module"] == ("", "M")
    assert h.grad_fn.next_functions[0][0].metadata["module"] == ("fc", "Linear")


def test_decorator_and_reentry():
    net = Parent()
    tm = ember.debug.track_memory(net)

    @tm
    def step(x):
        return net(x)

    out = step(ember.randn(2, 4))
    assert out.grad_fn.metadata["module"] == ("body.2", "Linear")
    with tm, pytest.raises(RuntimeError, match="already active"):
        tm.__enter__()


def test_composes_with_nan_guard():
    net = Parent()
    with ember.debug.nan_guard(), ember.debug.track_memory(net):
        out = net(ember.randn(2, 4))
        with pytest.raises(ember.debug.NanError):
            (out - out).log()
    assert out.grad_fn.metadata["module"] == ("body.2", "Linear")


def test_gradients_unchanged_by_tracking():
    net = Parent()
    x = ember.randn(3, 4)
    net(x).sum().backward()
    ref = [p.grad.numpy().copy() for p in net.parameters()]
    net.zero_grad()
    with ember.debug.track_memory(net):
        net(x).sum().backward()
    for p, r in zip(net.parameters(), ref):
        np.testing.assert_allclose(p.grad.numpy(), r, rtol=1e-6)


def test_multi_output_op_is_tagged():
    class M(nn.Module):
        def forward(self, x):
            return x.max(dim=1)

    net = M()
    x = ember.randn(3, 4, requires_grad=True)
    with ember.debug.track_memory(net):
        values, _ = net(x)
    assert values.grad_fn.metadata["module"] == ("", "M")
