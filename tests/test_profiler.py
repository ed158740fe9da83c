import json

import numpy as np
import pytest

import ember
import ember.profiler as profiler
from ember import nn
from ember.autograd.engine import OpNode
from ember.autograd.grad_mode import _state
from ember.nn.modules.module import Module


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))


def _parse(table: str) -> list[dict]:
    """Rows of a profiler table as {header: cell}, using the dashed rule for column spans."""
    lines = table.splitlines()
    rule = lines[0]
    spans, start = [], None
    for i, ch in enumerate(rule + " "):
        if ch == "-" and start is None:
            start = i
        elif ch != "-" and start is not None:
            spans.append((start, i))
            start = None
    header = [lines[1][a:b].strip() for a, b in spans]
    rows = []
    for line in lines[3:]:
        if line.startswith("-"):
            break
        rows.append({h: line[a:b].strip() for h, (a, b) in zip(header, spans)})
    return rows


def _run_mlp(**kw):
    m = _mlp()
    x = ember.randn(3, 4)
    with profiler.profile(**kw) as prof:
        m(x).sum().backward()
    return prof


def test_table_counts_and_names():
    prof = _run_mlp()
    rows = {r["Name"]: r for r in _parse(prof.key_averages().table(sort_by="cpu_time_total"))}
    expected = {"linear": 2, "relu": 1, "sum": 1, "LinearBackward0": 2, "ReluBackward0": 1,
                "SumBackward0": 1, "nn.Module: Sequential_0": 1, "nn.Module: Linear_0": 1,
                "nn.Module: Linear_1": 1, "nn.Module: ReLU_0": 1}
    for name, count in expected.items():
        assert int(rows[name]["# of Calls"]) == count, name
    assert set(rows) == set(expected)


def test_counts_match_torch():
    torch = pytest.importorskip("torch")
    tm = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
    tx = torch.randn(3, 4)
    # the legacy (non-kineto) profiler starts in milliseconds
    with torch.autograd.profiler.profile(use_kineto=False) as tprof:
        tm(tx)
    tcounts = {e.key.removeprefix("aten::"): e.count for e in tprof.key_averages()}
    m = _mlp()
    with profiler.profile() as prof:
        m(ember.randn(3, 4))
    counts = {e.key: e.count for e in prof.key_averages()}
    for name in ("linear", "relu"):
        assert counts[name] == tcounts[name]


def test_header_and_columns():
    prof = _run_mlp(profile_memory=True, with_flops=True, record_shapes=True)
    table = prof.key_averages(group_by_input_shape=True).table()
    header = table.splitlines()[1].split()
    for col in ("Name", "Self", "CPU", "%", "total", "avg", "Mem", "Calls", "Input", "Shapes",
                "FLOPs"):
        assert col in header
    assert table.rstrip().splitlines()[-1].startswith("Self CPU time total: ")
    plain = _run_mlp().key_averages().table()
    assert "Mem" not in plain and "FLOPs" not in plain and "Input Shapes" not in plain


def test_times_are_consistent():
    prof = _run_mlp()
    events = prof.events()
    for ev in events:
        assert ev.cpu_time_total >= 0
        assert ev.self_cpu_time_total <= ev.cpu_time_total + 1e-9
        for c in ev.children:
            assert c.parent is ev
            assert ev.start_ns <= c.start_ns <= c.end_ns <= ev.end_ns
    top = sum(e.cpu_time_total for e in events if e.parent is None)
    assert prof.self_cpu_time_total == pytest.approx(top)
    avg = prof.key_averages()
    assert sum(a.self_cpu_time_total for a in avg) == pytest.approx(top)
    lin = next(a for a in avg if a.key == "linear")
    assert lin.cpu_time == pytest.approx(lin.cpu_time_total / 2)


def test_module_scopes_nest_ops():
    prof = _run_mlp()
    events = prof.events()
    lin0 = next(e for e in events if e.name == "nn.Module: Linear_0")
    assert [c.name for c in lin0.children] == ["linear"]
    assert lin0.parent.name == "nn.Module: Sequential_0"
    relu = next(e for e in events if e.name == "relu")
    assert relu.parent.name == "nn.Module: ReLU_0"
    names = {e.name for e in _run_mlp(with_modules=False).events()}
    assert not any(n.startswith("nn.Module") for n in names)
    assert "linear" in names


@pytest.mark.parametrize("m,k,n,batch", [(3, 4, 5, ()), (2, 3, 7, (4,)), (1, 6, 2, (2, 3))])
def test_matmul_flops(m, k, n, batch):
    a, b = ember.randn(*batch, m, k), ember.randn(k, n)
    with profiler.profile(with_flops=True) as prof:
        a @ b
    (ev,) = [e for e in prof.key_averages() if e.key == "matmul"]
    assert ev.flops == 2 * m * n * k * int(np.prod(batch))


def test_flops_match_torch_flop_counter():
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    cases = [
        (lambda F, x, w: F.linear(x, w), (5, 3), (4, 3)),
        (lambda F, x, w: F.conv2d(x, w, stride=2, padding=1), (2, 3, 7, 6), (4, 3, 3, 2)),
        (lambda F, x, w: F.conv2d(x, w, groups=2), (1, 4, 5, 5), (6, 2, 3, 3)),
        (lambda F, x, w: F.conv1d(x, w), (2, 3, 9), (5, 3, 4)),
        (lambda F, x, w: F.conv_transpose2d(x, w, stride=2), (2, 3, 4, 4), (3, 5, 3, 3)),
    ]
    for fn, xs, ws in cases:
        with FlopCounterMode(display=False) as counter:
            fn(torch.nn.functional, torch.randn(*xs), torch.randn(*ws))
        with profiler.profile(with_flops=True) as prof:
            fn(ember.nn.functional, ember.randn(*xs), ember.randn(*ws))
        assert sum(e.flops for e in prof.events()) == counter.get_total_flops(), (xs, ws)


def test_flops_column_scaled():
    with profiler.profile(with_flops=True) as prof:
        ember.randn(128, 128) @ ember.randn(128, 128)
    table = prof.key_averages().table()
    assert "Total MFLOPs" in table.splitlines()[1]
    row = next(r for r in _parse(table) if r["Name"] == "matmul")
    assert float(row["Total MFLOPs"]) == pytest.approx(2 * 128 ** 3 / 1e6, abs=1e-3)


def test_record_shapes_and_grouping():
    prof = _run_mlp(record_shapes=True)
    groups = prof.key_averages(group_by_input_shape=True)
    lin = sorted(e.input_shapes for e in groups if e.key == "linear")
    assert lin == [[[3, 4], [8, 4], [8]], [[3, 8], [2, 8], [2]]]
    with pytest.raises(RuntimeError, match="record_shapes"):
        _run_mlp().key_averages(group_by_input_shape=True)


def test_profile_memory():
    x = ember.randn(3, 8)
    with profiler.profile(profile_memory=True) as prof:
        with profiler.record_function("block"):
            y = x.relu()
            y.reshape(24)
            y.double()
    ev = {e.name: e for e in prof.events()}
    assert ev["relu"].cpu_memory_usage == 3 * 8 * 4
    assert ev["reshape"].cpu_memory_usage == 0  # a view allocates nothing
    assert ev["cast"].cpu_memory_usage == 3 * 8 * 8
    assert ev["block"].self_cpu_memory_usage == 0
    assert ev["block"].cpu_memory_usage == 3 * 8 * 4 + 3 * 8 * 8


def test_record_function_ranges_and_decorator():
    @profiler.record_function("helper")
    def helper(t):
        return t * 2

    x = ember.ones(3)
    with profiler.profile() as prof:
        with profiler.record_function("outer", args="a=1"):
            helper(x)
            helper(x)
    avg = {e.key: e.count for e in prof.key_averages()}
    assert avg["outer"] == 1 and avg["helper"] == 2 and avg["mul"] == 2
    outer = next(e for e in prof.events() if e.name == "outer")
    assert [c.name for c in outer.children] == ["helper", "helper"]
    assert outer.children[0].children[0].name == "mul"
    # no profiler running: a plain no-op
    with profiler.record_function("idle"):
        assert helper(x).tolist() == [2.0, 2.0, 2.0]


def test_inplace_and_results_unchanged():
    x = ember.ones(4)
    with profiler.profile() as prof:
        x.add_(2)
        y = (x * 3).sum()
    assert x.tolist() == [3.0] * 4 and y.item() == 36.0
    avg = {e.key: e.count for e in prof.key_averages()}
    assert avg["add_"] == 1 and avg["mul"] == 1 and avg["sum"] == 1


def test_gradients_unchanged_under_profiler():
    torch = pytest.importorskip("torch")
    xn = np.random.randn(3, 4).astype(np.float32)
    x = ember.tensor(xn, requires_grad=True)
    with profiler.profile():
        (x.tanh() * x).sum().backward()
    tx = torch.tensor(xn, requires_grad=True)
    (tx.tanh() * tx).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_create_graph_backward_records_ops_inside_nodes():
    x = ember.tensor([1.0, 2.0], requires_grad=True)
    with profiler.profile() as prof:
        (g,) = ember.autograd.grad((x * x).sum(), x, create_graph=True)
    assert g.tolist() == [2.0, 4.0]
    mul_bw = next(e for e in prof.events() if e.name == "MulBackward0")
    assert mul_bw.children and all(c.cat == "cpu_op" for c in mul_bw.children)


def test_state_restored_and_single_profiler():
    orig_call, orig_apply = Module.__dict__["__call__"], OpNode.__dict__["_apply"]
    with pytest.raises(ValueError, match="boom"):
        with profiler.profile():
            with profiler.record_function("r"):
                raise ValueError("boom")
    assert _state.modes == []
    assert Module.__dict__["__call__"] is orig_call
    assert OpNode.__dict__["_apply"] is orig_apply
    with profiler.profile():
        with pytest.raises(RuntimeError, match="already enabled"):
            profiler.profile().start()
    with profiler.profile(enabled=False) as prof:
        ember.ones(2) + 1
    assert len(prof.events()) == 0
    seen = []
    with profiler.profile(on_trace_ready=seen.append) as prof:
        for _ in range(2):
            ember.ones(2) + 1
            prof.step()
    assert seen == [prof] and prof.step_num == 2
    assert [e.key for e in prof.key_averages()] == ["add"]


def test_composes_with_a_lower_mode():
    class Counter:
        def __init__(self):
            self.ops = []

        def dispatch(self, op, inputs, params):
            from ember.ops.registry import eager
            self.ops.append(op.name)
            return eager(op, inputs, params)

    counter = Counter()
    _state.modes.append(counter)
    try:
        with profiler.profile() as prof:
            y = ember.ones(2) * 3
    finally:
        _state.modes.remove(counter)
    assert counter.ops == ["mul"]
    assert [e.name for e in prof.events()] == ["mul"]
    assert y.tolist() == [3.0, 3.0]


def test_sort_and_row_limit():
    prof = _run_mlp()
    avg = prof.key_averages()
    rows = _parse(avg.table(sort_by="count", row_limit=3))
    assert len(rows) == 3
    counts = [int(r["# of Calls"]) for r in rows]
    assert counts == sorted(counts, reverse=True) and counts[0] == 2
    totals = [e.self_cpu_time_total for e in sorted(avg, key=lambda e: -e.self_cpu_time_total)]
    assert [r["Name"] for r in _parse(avg.table(sort_by="self_cpu_time_total"))][0] == \
        next(e.key for e in avg if e.self_cpu_time_total == totals[0])
    with pytest.raises(ValueError, match="sort_by"):
        avg.table(sort_by="nope")


def test_chrome_trace(tmp_path):
    prof = _run_mlp(record_shapes=True, with_flops=True)
    path = tmp_path / "trace.json"
    prof.export_chrome_trace(str(path))
    with open(path) as f:
        data = json.load(f)
    events = data["traceEvents"]
    assert isinstance(events, list) and len(events) == len(prof.events())
    for e in events:
        assert {"name", "ph", "ts", "dur", "pid", "tid", "args"} <= set(e)
        assert e["ph"] == "X"
        assert isinstance(e["ts"], (int, float)) and isinstance(e["dur"], (int, float))
        assert e["dur"] >= 0
        assert isinstance(e["pid"], int) and isinstance(e["tid"], int)
        assert isinstance(e["args"], dict) and isinstance(e["name"], str)
    names = [e["name"] for e in events]
    assert names.count("linear") == 2 and "nn.Module: Linear_0" in names
    lin = next(e for e in events if e["name"] == "linear")
    assert lin["args"]["Input Dims"] == [[3, 4], [8, 4], [8]]
    assert lin["args"]["flops"] == 2 * 3 * 4 * 8
    # a child lies inside its parent's time range
    scope = next(e for e in events if e["name"] == "nn.Module: Linear_0")
    assert scope["ts"] <= lin["ts"] and lin["ts"] + lin["dur"] <= scope["ts"] + scope["dur"] + 1e-3
