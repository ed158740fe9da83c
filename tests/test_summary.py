import subprocess
import sys

import pytest

import ember
from ember import nn
from ember.utils.summary import ModelStatistics, summary


def _cnn(lib):
    n = lib.nn
    return n.Sequential(
        n.Sequential(n.Conv2d(1, 4, 3, padding=1), n.ReLU(), n.MaxPool2d(2)),
        n.Conv2d(4, 6, 3),
        n.Flatten(),
        n.Linear(6 * 2 * 2, 10),
    )


def _rows(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[3:lines.index(lines[0], 3)]


def test_cnn_rows_match_torch():
    torch = pytest.importorskip("torch")
    tm = _cnn(torch)
    shapes = []
    for m in tm.modules():
        m.register_forward_hook(lambda mod, i, o: shapes.append((type(mod).__name__,
                                                                  list(o.shape))))
    calls = []
    for m in tm.modules():
        m.register_forward_pre_hook(lambda mod, i: calls.append(type(mod).__name__))
    tm(torch.randn(2, 1, 8, 8))
    out_shape = dict(zip(range(len(shapes)), shapes))

    model = _cnn(ember)
    stats = summary(model, input_size=(2, 1, 8, 8), verbose=0)
    assert isinstance(stats, ModelStatistics)
    assert [r.class_name for r in stats.summary_list] == calls
    # torch's hooks fire on exit: match each row to its module's output by post-order
    by_exit = sorted(stats.summary_list, key=lambda r: _exit_order(stats.summary_list, r))
    assert [(r.class_name, r.output_size) for r in by_exit] == list(out_shape.values())
    assert stats.total_params == sum(p.numel() for p in model.parameters())
    assert stats.total_params == sum(p.numel() for p in tm.parameters())
    assert stats.trainable_params == stats.total_params
    assert stats.total_input == 2 * 1 * 8 * 8 * 4


def _exit_order(rows, row):
    """Post-order position: children finish before their parent."""
    order = []

    def visit(r):
        for c in r.children:
            visit(c)
        order.append(r)
    for r in rows:
        if r.parent is None:
            visit(r)
    return order.index(row)


def test_cnn_table_text():
    model = _cnn(ember)
    text = str(summary(model, input_size=(2, 1, 8, 8), verbose=0))
    rows = _rows(text)
    names = [r[:40].rstrip() for r in rows]
    assert names == ["Sequential", "├─Sequential: 1-1", "│    └─Conv2d: 2-1",
                     "│    └─ReLU: 2-2", "│    └─MaxPool2d: 2-3", "├─Conv2d: 1-2",
                     "├─Flatten: 1-3", "├─Linear: 1-4"]
    cells = {r[:40].rstrip(): r[40:].split() for r in rows}
    assert cells["│    └─Conv2d: 2-1"] == ["[2,", "4,", "8,", "8]", "40"]
    assert cells["├─Conv2d: 1-2"] == ["[2,", "6,", "2,", "2]", "222"]
    assert cells["├─Linear: 1-4"] == ["[2,", "10]", "250"]
    assert cells["├─Sequential: 1-1"][-1] == "--"
    total = 40 + 222 + 250
    assert f"Total params: {total:,}" in text and "Non-trainable params: 0" in text
    assert f"Params size (MB): {total * 4 / 1e6:.2f}" in text
    lines = text.splitlines()
    assert lines[1].split() == ["Layer", "(type:depth-idx)", "Output", "Shape", "Param", "#"]


def test_depth_limit_shows_totals():
    text = str(summary(_cnn(ember), input_size=(2, 1, 8, 8), depth=1, verbose=0))
    rows = _rows(text)
    assert len(rows) == 5 and not any("2-" in r for r in rows)
    seq = next(r for r in rows if r.startswith("├─Sequential"))
    assert seq.split()[-1] == "40"  # the hidden children's parameters


def test_shape_bug_names_failing_layer():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(100, 10),
                          nn.Linear(10, 2))
    with pytest.raises(RuntimeError) as info:
        summary(model, input_size=(2, 1, 8, 8), verbose=0)
    msg = str(info.value)
    assert "Linear: 1-4" in msg and "input shape [2, 144]" in msg
    assert "mat1 and mat2 shapes cannot be multiplied" in msg
    assert "├─Conv2d: 1-1" in msg and "├─Flatten: 1-3" in msg
    assert "Linear: 1-5" not in msg  # nothing after the failing layer
    failing = next(line for line in msg.splitlines() if line.startswith("├─Linear: 1-4"))
    assert "(error)" in failing
    assert isinstance(info.value.__cause__, RuntimeError)
    assert "cannot be multiplied" in str(info.value.__cause__)
    # the hooks are gone afterwards
    assert all(not m._forward_hooks and not m._forward_pre_hooks for m in model.modules())


def test_nested_failure_and_plain_error_outside_layers():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(nn.Linear(3, 4), nn.Linear(5, 1))

        def forward(self, x):
            return self.body(x)

    with pytest.raises(RuntimeError, match=r"layer Linear: 2-2 \(input shape \[1, 4\]\)"):
        summary(Net(), input_size=(1, 3), verbose=0)

    class Bad(nn.Module):
        def forward(self, x):
            raise ValueError("nope")

    with pytest.raises(RuntimeError, match="layer Bad") as info:
        summary(Bad(), input_data=ember.ones(1), verbose=0)
    assert isinstance(info.value.__cause__, ValueError)


def test_inputs_dtypes_and_columns():
    class Two(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(10, 3)
            self.fc = nn.Linear(3, 2)

        def forward(self, idx, scale=1.0):
            return self.fc(self.emb(idx)) * scale

    model = Two()
    model.emb.weight.requires_grad_(False)
    cols = ("input_size", "output_size", "num_params", "params_percent", "kernel_size",
            "mult_adds", "trainable")
    stats = summary(model, input_size=(2, 5), dtypes=[ember.int64], col_names=cols,
                    row_settings=("depth", "var_names"), verbose=0)
    assert stats.total_params == 38 and stats.trainable_params == 8
    assert stats.non_trainable_params == 30
    text = str(stats)
    fc = next(r for r in _rows(text) if r.startswith("├─Linear (fc): 1-2"))
    assert fc.split()[-8:] == ["[2,", "5,", "2]", "8", "21.05%", "--", "60", "True"]
    emb = next(r for r in _rows(text) if r.startswith("├─Embedding (emb)"))
    assert emb.split()[-1] == "False"
    assert stats.total_mult_adds == 2 * 5 * 3 * 2 + 2 * 5 * 3 * 10
    out = summary(model, input_data={"idx": ember.zeros(1, 2, dtype=ember.int64),
                                     "scale": 2.0}, verbose=0)
    assert out.summary_list[0].output_size == [1, 2, 2]
    out = summary(model, input_data=[ember.zeros(4, dtype=ember.int64)], verbose=0)
    assert out.summary_list[-1].output_size == [4, 2]
    with pytest.raises(ValueError, match="col_names"):
        summary(model, input_size=(2,), col_names=("nope",), verbose=0)
    with pytest.raises(ValueError, match="input_size or input_data"):
        summary(model, verbose=0)


def test_conv_mult_adds_and_batch_dim():
    conv = nn.Conv2d(2, 3, 3)
    stats = summary(conv, input_size=(2, 5, 5), batch_dim=0, verbose=0)
    assert stats.summary_list[0].input_size == [1, 2, 5, 5]
    # each weight element used once per output position: 54 * 3 * 3
    assert stats.total_mult_adds == 3 * 2 * 3 * 3 * 3 * 3


def test_shared_module_is_recursive():
    lin = nn.Linear(3, 3)
    model = nn.Sequential(lin, nn.ReLU(), lin)
    stats = summary(model, input_size=(1, 3), verbose=0)
    assert stats.total_params == 12
    rows = _rows(str(stats))
    assert rows[1].split()[-1] == "12" and rows[3].split()[-1] == "(recursive)"


def test_verbose_prints(capsys):
    model = nn.Linear(2, 2)
    summary(model, input_size=(1, 2), verbose=0)
    assert capsys.readouterr().out == ""
    stats = summary(model, input_size=(1, 2))
    assert capsys.readouterr().out == str(stats) + "\n"


def test_lazy_access_from_ember_utils():
    code = ("import sys, ember; "
            "assert 'ember.utils.summary' not in sys.modules; "
            "assert 'ember.profiler' not in sys.modules and 'ember.viz' not in sys.modules; "
            "s = ember.utils.summary(ember.nn.Linear(2, 3), (1, 2), verbose=0); "
            "assert s.total_params == 9; "
            "import ember.utils.summary as m; assert callable(m)")
    subprocess.run([sys.executable, "-c", code], check=True)
