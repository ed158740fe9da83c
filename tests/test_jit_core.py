"""The JIT's IR, codegen, explain, graph pictures and taps."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest

import ember
import ember.debug
from ember import nn
from ember.jit import GraphError
from ember.jit.ir import Graph


def _mlp():
    ember.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def test_graph_prints_fx_style_lines():
    t = ember.jit.trace(lambda x: (x * 2).relu().sum(), (ember.ones(3),), passes=[])
    lines = str(t.graph).splitlines()
    assert lines[0] == "graph(x: f32[3]):"
    assert lines[1].strip() == "mul: f32[3] = mul(x, 2)"
    assert lines[2].strip() == "relu: f32[3] = relu(mul)"
    assert lines[-1].strip() == "return (sum,)"


def test_python_code_is_the_code_that_runs():
    t = ember.jit.trace(lambda x: (x * 2).relu(), (ember.ones(3),), passes=[])
    code = t.graph.python_code()
    assert code.startswith("def forward(") and "relu = " in code
    assert code == t.code


def test_traced_module_keeps_module_api_and_names_state():
    m = _mlp()
    tm = ember.jit.trace(m, (ember.ones(1, 3),))
    assert [n for n, _ in tm.named_parameters()] == [n for n, _ in m.named_parameters()]
    assert list(tm.state_dict()) == list(m.state_dict())
    assert tm.training and not tm.eval().training and not m.training
    names = [ref.name for ref in tm.graph.state]
    assert names == ["0.weight", "0.bias", "2.weight", "2.bias"]


def test_lint_accepts_traced_graphs_and_names_bad_nodes():
    t = ember.jit.trace(lambda x: x.exp() + 1, (ember.ones(2),), passes=[])
    t.graph.lint()
    g = Graph()
    x = g.placeholder("x", (2,), "float32")
    y = g.call("no_such_op", (x,), {})
    g.output((y,))
    with pytest.raises(GraphError, match="no_such_op"):
        g.lint()
    g2 = Graph()
    a = g2.placeholder("a", (2,), "float32")
    later = g2.call("exp", (a,), {})
    b = g2.call("neg", (later,), {})
    g2.nodes.remove(later)
    g2.nodes.append(later)
    g2.output((b,))
    with pytest.raises(GraphError, match="not defined before"):
        g2.lint()
    g3 = Graph()
    g3.placeholder("a", (2,), "float32")
    with pytest.raises(GraphError, match="0 output nodes"):
        g3.lint()


def test_explain_lists_traces_guards_backend_and_reasons():
    m = _mlp()

    def f(x):
        y = m(x)
        return y * 2 if x.sum() > 0 else y

    cf = ember.jit.compile(f)
    cf(ember.ones(1, 3))
    cf(-100 * ember.ones(1, 3))
    text = cf.explain()
    assert "2 trace(s)" in text and "backend=" in text and "passes=" in text
    assert "Linear.training is True" in text
    assert "guard: __bool__" in text and "test_jit_core.py" in text
    assert "recompile" in text


def test_tap_fires_in_eager_and_compiled_code_and_can_be_stripped():
    seen = []

    def f(x):
        return ember.debug.tap(x * 2, fn=lambda v: seen.append(v.tolist())).sum()

    cf = ember.jit.compile(f)
    for v in (1.0, 2.0, 3.0):
        cf(ember.full((2,), v))
    assert seen == [[2.0, 2.0], [4.0, 4.0], [6.0, 6.0]]
    seen.clear()
    stripped = ember.jit.compile(f, strip_taps=True)
    stripped(ember.ones(2))  # tracing runs eagerly, and the first replay is checked
    stripped(ember.ones(2))  # against eager: the tap fires in those two
    n = len(seen)
    assert stripped(ember.full((2,), 5.0)).item() == 20.0
    assert len(seen) == n
    assert "tap" not in stripped.traces[0].compiled.graph.ops()


def test_make_dot_of_a_jit_graph():
    from ember.viz import make_dot
    t = ember.jit.trace(_mlp(), (ember.ones(1, 3),))
    src = make_dot(t).source
    assert src.startswith("digraph {") and "linear" in src and "relu" in src
    assert make_dot(t.graph).source == src
    if shutil.which("dot"):
        out = subprocess.run(["dot", "-Tsvg"], input=src.encode(), capture_output=True,
                             check=True)
        assert b"<svg" in out.stdout


def test_compiled_function_is_differentiable_after_effectless_trace():
    w = ember.ones(3, requires_grad=True)
    cf = ember.jit.compile(lambda x: (x * w).exp().sum())
    for v in (0.0, 1.0):
        x = ember.full((3,), v)
        w.grad = None
        cf(x).backward()
        np.testing.assert_allclose(w.grad.numpy(), np.full(3, v * np.exp(v)), rtol=1e-6)


def test_trace_rejects_untraceable_with_clear_error():
    class Mul2(ember.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    with pytest.raises(ember.jit.JitError, match="Mul2"):
        ember.jit.trace(lambda x: Mul2.apply(x), (ember.ones(2, requires_grad=True),))


def test_tap_survives_save_and_load(tmp_path, capsys):
    def show(v):
        pass

    f = ember.jit.trace(lambda x: ember.debug.tap(x + 1, fn=show) * 2, (ember.ones(2),))
    path = tmp_path / "tapped.ember"
    f.save(path)
    capsys.readouterr()
    m = ember.jit.load(path)
    np.testing.assert_allclose(m(ember.full((2,), 3.0)).numpy(), [8.0, 8.0])
    out = capsys.readouterr().out
    assert "show" in out and "4." in out
    seen = []
    m2 = ember.jit.load(path, tap_fn=lambda v: seen.append(v.tolist()))
    m2(ember.zeros(2))
    assert seen == [[1.0, 1.0]]
    m3 = ember.jit.load(path, strip_taps=True)
    m3(ember.zeros(2))
    assert "tap" not in m3.graph.ops() and capsys.readouterr().out == ""
    m2.save(tmp_path / "again.ember")
    ember.jit.load(tmp_path / "again.ember")(ember.zeros(2))
    assert "show" in capsys.readouterr().out


# ---------------------------------------------------------------- backward as table ops

def _grads_match(step, make_inputs, calls: int = 3) -> ember.jit.CompiledFunction:
    """Run ``step`` compiled and eagerly on equal leaves; .grad must agree after each call
    (gradients accumulate across calls)."""
    a, b = make_inputs(), make_inputs()
    c = ember.jit.compile(step)
    for _ in range(calls):
        c(*a)
        step(*b)
        for u, v in zip(a, b):
            np.testing.assert_allclose(u.grad.numpy(), v.grad.numpy(), rtol=1e-6, atol=1e-7)
    return c


def test_backward_is_recorded_as_table_ops_and_fused():
    def step(x):
        ((x * 2 + 1).relu() * x).sum().backward()

    def make():
        ember.manual_seed(0)
        return (ember.randn(8, 8, requires_grad=True),)
    c = _grads_match(step, make)
    kinds = [n.kind for n in c.traces[0].compiled.source_graph.nodes]
    assert "backward" not in kinds and kinds.count("grad_acc") == 1
    assert any(n.kind == "fused" for n in c.graph.nodes)


def test_backward_mixes_table_ops_and_opaque_nodes():
    # gelu keeps a computed array on its ctx: its backward stays one node, run on the
    # ctx its forward fills at each call; the matmul and tanh around it become table ops
    def step(x, w):
        ember.nn.functional.gelu((x @ w).tanh()).sum().backward()

    def make():
        ember.manual_seed(1)
        return ember.randn(4, 3, requires_grad=True), ember.randn(3, 5, requires_grad=True)
    c = _grads_match(step, make)
    src = c.traces[0].compiled.source_graph
    assert [n.args[0].target for n in src.nodes if n.kind == "backward"] == ["gelu"]


def test_backward_with_promoted_inputs_falls_back_to_backward_nodes():
    def step(x, y):
        (x * y).exp().sum().backward()

    def make():
        ember.manual_seed(2)
        return (ember.randn(5, requires_grad=True),
                ember.randn(5, dtype=ember.float64, requires_grad=True))
    c = _grads_match(step, make)
    assert any(n.kind == "backward" for n in c.traces[0].compiled.source_graph.nodes)


def test_graphs_keep_no_forward_ctx_after_tracing():
    import gc
    import weakref
    x = ember.randn(6, requires_grad=True)
    seen = []

    def step(x):
        y = x.exp()
        seen.append(weakref.ref(y.grad_fn))
        (y * x).sum().backward()
    c = ember.jit.compile(step)
    c(x)
    gc.collect()
    assert seen[0]() is None  # the eager ctx (and the arrays it saved) died with the call
    for g in (c.graph, c.traces[0].compiled.source_graph):
        assert not any("ctx" in n.meta for n in g.nodes)


def test_fresh_gradients_are_adopted_not_copied():
    """A gradient array made anew each call and read by nothing else becomes ``.grad``
    as it is; a ``.grad`` kept from an earlier call is never written by a later one, and
    without zero_grad the next call adds into ``.grad`` as eager does."""
    ember.manual_seed(3)
    w = ember.randn(6, 5, requires_grad=True)
    x = ember.randn(7, 6)
    opt = ember.optim.SGD([w], lr=0.0)

    def step(x):
        opt.zero_grad()
        (x @ w).tanh().sum().backward()

    c = ember.jit.compile(step)
    c(x)
    assert "_jown(" in c.graph.python_code()
    first = w.grad
    kept = first._data.copy()
    c(x * 2)
    np.testing.assert_array_equal(first._data, kept)
    assert w.grad is not first and not np.shares_memory(w.grad._data, first._data)
    got = w.grad._data.copy()
    step(x * 2)
    np.testing.assert_allclose(got, w.grad._data, rtol=1e-6)

    def accumulate(x):
        (x @ w).tanh().sum().backward()

    acc = ember.jit.compile(accumulate)
    w.grad = None
    acc(x)
    acc(x)
    twice = w.grad._data.copy()
    w.grad = None
    accumulate(x)
    accumulate(x)
    np.testing.assert_allclose(twice, w.grad._data, rtol=1e-6)
