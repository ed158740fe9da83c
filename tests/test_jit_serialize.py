"""Graph files: ``TracedModule.save`` / ``ember.jit.load`` round trips, a fresh interpreter
loading a model whose class it never sees, and a corpus of malformed files that must each
raise ember's error naming the problem (never a crash, never code from the file)."""

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember import nn
from ember.jit import GraphError, JitError
from ember.jit.serialize import META_KEY, LoadedModule
from ember.jit.serialize import save as jit_save
from ember.serialization import SerializationError


def _flat(x, out):
    if isinstance(x, ember.Tensor):
        out.append(x)
    elif isinstance(x, (tuple, list)):
        for v in x:
            _flat(v, out)
    elif isinstance(x, dict):
        for v in x.values():
            _flat(v, out)
    return out


def _structure(x):
    if isinstance(x, ember.Tensor):
        return "T"
    if isinstance(x, (tuple, list)):
        return type(x)(_structure(v) for v in x)
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    return x


def _assert_same(got, want):
    assert _structure(got) == _structure(want)
    for a, b in zip(_flat(got, []), _flat(want, [])):
        a, b = a.detach().numpy(), b.detach().numpy()
        assert a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _mlp():
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)).eval(), (ember.randn(5, 4),)


def _cnn():
    net = nn.Sequential(nn.Conv2d(1, 2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(2 * 3 * 3, 4)).eval()
    return net, (ember.randn(2, 1, 6, 6),)


def _norm_fn():
    ln = nn.LayerNorm(6)

    def f(x):
        return F.gelu(ln(x)).softmax(-1)
    return f, (ember.randn(3, 6),)


def _multi_out():
    lin = nn.Linear(4, 4)

    def f(x, y):
        h = lin(x) * y
        return {"h": h, "stats": (h.sum(), h.argmax(-1), h > 0), "tag": "ok", "n": 2}, [y + 1]
    return f, (ember.randn(3, 4), ember.randn(3, 4))


CASES = {"mlp": _mlp, "cnn": _cnn, "layernorm_gelu_softmax": _norm_fn, "multi_output": _multi_out}


@pytest.fixture
def path(tmp_path):
    return str(tmp_path / "model.ember")


@pytest.mark.parametrize("case", list(CASES))
def test_round_trip(case, path):
    ember.manual_seed(0)
    fn, inputs = CASES[case]()
    traced = ember.jit.trace(fn, inputs)
    jit_save(traced, path)
    loaded = ember.jit.load(path)
    assert isinstance(loaded, LoadedModule)
    # traced with grad enabled: the backward part of the trace is not saved
    assert not {"split", "grad_in", "backward"} & {n.kind for n in loaded.source_graph}
    new = tuple(ember.randn(*t.shape) for t in inputs)
    with ember.no_grad():
        eager = fn(*new)
    _assert_same(traced(*new), eager)
    _assert_same(loaded(*new), eager)
    # saving the loaded module again gives the same model
    loaded.save(path)
    _assert_same(ember.jit.load(path)(*new), eager)


def test_traced_module_save_method_and_state(path):
    ember.manual_seed(1)
    net, (x,) = _mlp()
    traced = ember.jit.trace(net, (x,))
    traced.save(path)
    m = ember.jit.load(path)
    assert list(m.state_dict()) == list(net.state_dict())
    assert [n for n, _ in m.named_parameters()] == [n for n, _ in net.named_parameters()]
    for (_, a), b in zip(m.named_parameters(), net.parameters()):
        assert isinstance(a, nn.Parameter) and not a.requires_grad
        np.testing.assert_array_equal(a.numpy(), b.detach().numpy())
    assert list(m.buffers()) == []
    assert m.training is False
    assert "linear" in m.code and "def forward" in m.code
    # the file holds the graph before passes (linear_act may fuse relu(linear) after them)
    assert m.source_graph.ops().count("linear") == 2
    assert "Sequential" in m.explain() and "input: float32[5, 4]" in m.explain()
    # new weights from another module of the same shape: the loaded graph computes with them
    other, _ = _mlp()
    assert tuple(m.load_state_dict(other.state_dict())) == ([], [])
    with ember.no_grad():
        _assert_same(m(x), other(x))
    m.save(path)
    with ember.no_grad():
        _assert_same(ember.jit.load(path)(x), other(x))


def test_file_objects():
    import io
    net, (x,) = _mlp()
    buf = io.BytesIO()
    jit_save(ember.jit.trace(net, (x,)), buf)
    buf.seek(0)
    with ember.no_grad():
        _assert_same(ember.jit.load(buf)(x), net(x))


def test_load_state_dict_errors(path):
    net, (x,) = _mlp()
    ember.jit.trace(net, (x,)).save(path)
    m = ember.jit.load(path)
    sd = dict(net.state_dict())
    sd["0.weight"] = ember.zeros(2, 2)
    with pytest.raises(RuntimeError, match=r"size mismatch for 0\.weight"):
        m.load_state_dict(sd)
    del sd["0.weight"]
    sd["extra"] = ember.zeros(1)
    with pytest.raises(RuntimeError, match=r'Missing key\(s\).*"0\.weight"'):
        m.load_state_dict(sd)
    keys = m.load_state_dict(sd, strict=False)
    assert keys.missing_keys == ["0.weight"] and keys.unexpected_keys == ["extra"]


def test_buffers_are_saved(path):
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 2)
            self.register_buffer("scale", ember.tensor([2.0, -1.0]))

        def forward(self, x):
            return self.fc(x) * self.scale

    net = Scaled().eval()
    x = ember.randn(4, 3)
    ember.jit.trace(net, (x,)).save(path)
    m = ember.jit.load(path)
    assert [n for n, _ in m.named_buffers()] == ["scale"]
    assert [n for n, _ in m.named_parameters()] == ["fc.weight", "fc.bias"]
    assert not isinstance(m.state_dict()["scale"], nn.Parameter)
    with ember.no_grad():
        _assert_same(m(x), net(x))


def test_guard_round_trip(path):
    def f(x):
        return x * 2 if x.sum() > 0 else x - 1
    traced = ember.jit.trace(f, (ember.ones(3),))
    jit_save(traced, path)
    m = ember.jit.load(path)
    assert "guard" in m.explain()
    _assert_same(m(ember.tensor([1.0, 2.0, 3.0])), ember.tensor([2.0, 4.0, 6.0]))
    with pytest.raises(JitError, match=r"guard failed.*test_jit_serialize\.py:\d+.*no source "
                                       r"to re-trace"):
        m(-ember.ones(3))


def test_array_guard_round_trip(path):
    def f(x):
        return x + float(sum(x.tolist()))
    jit_save(ember.jit.trace(f, (ember.ones(2),)), path)
    m = ember.jit.load(path)
    _assert_same(m(ember.ones(2)), ember.tensor([3.0, 3.0]))
    with pytest.raises(JitError, match="guard failed: tolist"):
        m(ember.zeros(2))


def test_input_checks(path):
    def f(x, y):
        return x + y
    jit_save(ember.jit.trace(f, (ember.ones(2), ember.ones(2))), path)
    m = ember.jit.load(path)
    with pytest.raises(JitError, match=r"takes 2 input tensor\(s\) \(x: float32\[2\], y: "
                                       r"float32\[2\]\), got 1.*no source to re-trace"):
        m(ember.ones(2))
    with pytest.raises(JitError, match=r"input 1 \(y\) is float32\[3\].*traced for "
                                       r"float32\[2\]"):
        m(ember.ones(2), ember.ones(3))
    with pytest.raises(JitError, match=r"input 0 \(x\) is float64\[2\]"):
        m(ember.ones(2, dtype=ember.float64), ember.ones(2))
    with pytest.raises(JitError, match=r"input 0 \(x\) must be a Tensor"):
        m([1.0, 2.0], ember.ones(2))


def test_special_values_round_trip(path):
    def f(x):
        y = x.clamp(min=float("-inf"), max=float("inf")) + float("nan") * 0
        return y[..., 1:3], x.to(ember.float64), x[::2]
    x = ember.arange(8, dtype=ember.float32).reshape(2, 4)
    jit_save(ember.jit.trace(f, (x,)), path)
    m = ember.jit.load(path)
    got, want = m(x), f(x)
    assert _structure(got) == _structure(want)
    for a, b in zip(got, want):
        assert a.dtype == b.dtype
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_backward_nodes_round_trip(path):
    """A graph holding ``backward`` nodes (no .grad writes) is saved and runs after load."""
    from ember.jit.pytree import _Spec
    from ember.jit.serialize import _encode
    lin = nn.Linear(3, 1)

    def step(x):
        # gelu's ctx keeps an array it computed: its backward stays a ``backward`` node
        ember.nn.functional.gelu(lin(x)).sum().backward()
    x = ember.randn(2, 3)
    c = ember.jit.compile(step)
    c(x)
    want = [lin.weight.grad.numpy().copy(), lin.bias.grad.numpy().copy()]
    g = c.traces[0].compiled.source_graph.copy()
    acc = [n for n in g.nodes if n.kind == "grad_acc"]
    assert acc and any(n.kind == "backward" for n in g.nodes)
    out = g.nodes[-1]
    out.args = (tuple(n.args[0] for n in acc),)
    g.nodes = [n for n in g.nodes if n.kind != "grad_acc"]
    with open(path, "wb") as fh:
        fh.write(_encode(g, _Spec(tuple, None, (_Spec("tensor"),) * len(acc)), {}))
    m = ember.jit.load(path)
    assert "backward" in [n.kind for n in m.source_graph.nodes]
    got = {tuple(a.shape): a.numpy() for a in m(x)}
    for w in want:
        np.testing.assert_allclose(got[w.shape], w, rtol=1e-6)


def test_unchecked_shapes_turn_off_trusting_passes(path):
    """Shapes after a data-dependent op cannot be checked on zero inputs at load: the
    loaded graph then runs without the passes that size buffers by declared shapes."""
    from ember.jit.ir import Graph
    from ember.jit.pytree import _Spec
    from ember.jit.serialize import _encode
    g = Graph()
    x = g.placeholder("x", (4,), "float32")
    gt = g.call("gt", (x, 0.0), {}, (4,), "bool")
    nz = g.call("nonzero", (gt,), {}, (2, 1), "int64")
    g.add("guard", None, (nz,), {"what": "shape", "expected": (2, 1), "site": "here:1"})
    y = g.call("mul", (nz, 3), {}, (2, 1), "int64")
    g.output((y,))
    with open(path, "wb") as fh:
        fh.write(_encode(g, _Spec("tensor"), {}))
    m = ember.jit.load(path)
    assert "shapes not checked at load (node nonzero (nonzero)" in m.explain()
    assert "fusion" not in m.compiled.passes and "memory" not in m.compiled.passes
    out = m(ember.tensor([1.0, -1.0, 0.0, 2.0]))
    np.testing.assert_array_equal(out.numpy(), [[0], [9]])
    with pytest.raises(JitError, match=r"guard failed: shape of nonzero.*here:1"):
        m(ember.tensor([1.0, 1.0, 1.0, 2.0]))


def test_huge_declared_shapes_allocate_nothing(path):
    from ember.jit.ir import Graph
    from ember.jit.pytree import _Spec
    from ember.jit.serialize import _encode
    g = Graph()
    x = g.placeholder("x", (1 << 20, 1 << 20), "float32")
    g.output((g.call("mul", (x, 2.0), {}, (1 << 20, 1 << 20), "float32"),))
    with open(path, "wb") as fh:
        fh.write(_encode(g, _Spec("tensor"), {}))
    m = ember.jit.load(path)
    assert "over the 2147483648-byte budget" in m.explain()
    with pytest.raises(JitError, match=r"input 0 \(x\) is float32\[2\]"):
        m(ember.ones(2))


def test_subprocess_without_model_source(tmp_path):
    ember.manual_seed(3)

    class Secret(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 3)
            self.fc = nn.Linear(3 * 4 * 4, 2)

        def forward(self, x):
            return {"logits": self.fc(F.relu(self.conv(x)).flatten(1)), "n": 1}

    net = Secret().eval()
    x = ember.randn(2, 2, 6, 6)
    path = str(tmp_path / "secret.ember")
    ember.jit.trace(net, (x,)).save(path)
    np.save(tmp_path / "x.npy", x.numpy())
    with ember.no_grad():
        np.save(tmp_path / "want.npy", net(x)["logits"].numpy())
    code = textwrap.dedent(f"""
        import numpy as np, ember
        m = ember.jit.load({path!r})
        out = m(ember.tensor(np.load({str(tmp_path / "x.npy")!r})))
        assert out["n"] == 1, out
        np.save({str(tmp_path / "got.npy")!r}, out["logits"].numpy())
        print(sorted(m.state_dict()))
    """)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "Secret" not in code
    assert r.stdout.strip() == str(sorted(net.state_dict()))
    got, want = np.load(tmp_path / "got.npy"), np.load(tmp_path / "want.npy")
    assert got.dtype == want.dtype
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7)


# ---- saving errors and atomicity -------------------------------------------------------------

def _train_step():
    lin = nn.Linear(3, 1)
    opt = ember.optim.SGD(lin.parameters(), lr=0.1)

    def step(x):
        opt.zero_grad()
        loss = lin(x).sum()
        loss.backward()
        opt.step()
        return loss
    c = ember.jit.compile(step)
    c(ember.randn(2, 3))
    return c


def test_cannot_save_training_step(tmp_path):
    c = _train_step()
    target = tmp_path / "step.ember"
    with pytest.raises(JitError, match=r"effect node.*zero_grad.*training step is not a model"):
        jit_save(c, str(target))
    assert list(tmp_path.iterdir()) == []


def test_cannot_save_backward_into_grad(tmp_path):
    lin = nn.Linear(3, 1)

    def step(x):
        loss = lin(x).sum()
        loss.backward()
        return loss
    c = ember.jit.compile(step)
    c(ember.randn(2, 3))
    with pytest.raises(JitError, match=r"accumulates a gradient into \.grad"):
        jit_save(c, str(tmp_path / "x.ember"))
    assert list(tmp_path.iterdir()) == []


def test_save_needs_a_trace(tmp_path):
    c = ember.jit.compile(lambda x: x + 1)
    with pytest.raises(JitError, match="nothing traced yet"):
        jit_save(c, str(tmp_path / "a"))
    c(ember.ones(2))
    with pytest.raises(JitError, match="trace_index 3 is out of range"):
        jit_save(c, str(tmp_path / "a"), trace_index=3)
    assert list(tmp_path.iterdir()) == []


def test_save_is_atomic(tmp_path, monkeypatch):
    net, (x,) = _mlp()
    traced = ember.jit.trace(net, (x,))
    path = tmp_path / "m.ember"
    path.write_bytes(b"old contents")

    def boom(*a):
        raise OSError("disk full")
    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        traced.save(str(path))
    assert path.read_bytes() == b"old contents"
    assert [p.name for p in tmp_path.iterdir()] == ["m.ember"]
    monkeypatch.undo()
    traced.save(str(path))
    assert isinstance(ember.jit.load(str(path)), LoadedModule)


# ---- the malformed-file corpus ----------------------------------------------------------------

@pytest.fixture
def good(tmp_path):
    """A valid file of a module with a guard and a constant: its doc and tensors."""
    ember.manual_seed(0)

    class Guarded(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(3, 4)

        def forward(self, x):
            y = F.relu(self.fc(x)) + ember.tensor([1.0, 2.0, 3.0, 4.0])
            return y * 2 if y.sum() > -1e9 else y
    c = ember.jit.trace(Guarded().eval(), (ember.randn(2, 3),))
    path = str(tmp_path / "good.ember")
    jit_save(c, path)
    from safetensors import safe_open
    from safetensors.numpy import load_file
    with safe_open(path, "np") as f:
        doc = json.loads(f.metadata()[META_KEY])
    assert ember.jit.load(path)
    return path, doc, load_file(path)


def _write(tmp_path, doc, arrays, raw_meta=None):
    from safetensors.numpy import save
    meta = raw_meta if raw_meta is not None else {META_KEY: json.dumps(doc)}
    p = tmp_path / "bad.ember"
    p.write_bytes(save(arrays, metadata=meta))
    return str(p)


def _node(doc, kind=None, target=None):
    return next(n for n in doc["graph"]["nodes"] if (kind is None or n["kind"] == kind)
                and (target is None or n["target"] == target))


def _set(**kw):
    def mutate(doc, arrays):
        n = _node(doc, kw.get("kind"))
        n.update(kw["fields"])
    return mutate


def _m_unknown_op(doc, arrays):
    _node(doc, "call")["target"] = "no_such_op"


def _m_eval_target(doc, arrays):
    _node(doc, "call")["target"] = "__import__('os').system('touch PWNED')"


def _m_class_target(doc, arrays):
    _node(doc, "call")["target"] = "__class__"


def _m_unknown_kind(doc, arrays):
    _node(doc, "call")["kind"] = "exec"


def _m_effect_kind(doc, arrays):
    _node(doc, "call")["kind"] = "effect"


def _m_undefined_ref(doc, arrays):
    _node(doc, "call")["args"][0] = {"$": "node", "v": "ghost"}


def _m_forward_ref(doc, arrays):
    _node(doc, "call")["args"][0] = {"$": "node", "v": doc["graph"]["nodes"][-2]["name"]}


def _m_unknown_tag(doc, arrays):
    _node(doc, "call")["args"][0] = {"$": "pickle", "v": "cos\nsystem\n"}


def _m_untagged_object(doc, arrays):
    _node(doc, "call")["args"][0] = {"__class__": "x"}


def _m_bad_name(doc, arrays):
    _node(doc, "call")["name"] = "x = 1; import os"


def _m_dup_name(doc, arrays):
    _node(doc, "call")["name"] = doc["graph"]["nodes"][0]["name"]


def _m_format(doc, arrays):
    doc["format_version"] = 999
    doc["graph"] = {"a layout": "this ember does not know"}


def _m_opset(doc, arrays):
    doc["opset_version"] = 999


def _m_missing_state(doc, arrays):
    del arrays["fc.weight"]


def _m_state_shape(doc, arrays):
    arrays["fc.weight"] = np.zeros((3, 4), np.float32)


def _m_state_dtype(doc, arrays):
    arrays["fc.weight"] = arrays["fc.weight"].astype(np.float64)


def _m_const_missing(doc, arrays):
    del arrays[next(k for k in arrays if k.startswith("const/"))]


def _m_extra_tensor(doc, arrays):
    arrays["smuggled"] = np.zeros(2, np.float32)


def _m_bad_dtype(doc, arrays):
    _node(doc, "call")["dtype"] = "object"


def _m_bad_dtype_tag(doc, arrays):
    _node(doc, "call")["args"].append({"$": "dtype", "v": "complex256"})


def _m_select_injection(doc, arrays):
    doc["graph"]["nodes"].insert(-1, {"name": "s", "kind": "select", "target": "0]; import os #",
                                      "args": [{"$": "node", "v": _node(doc, "call")["name"]}]})


def _m_bad_params(doc, arrays):
    _node(doc, "call")["kwargs"]["bogus"] = 1


def _m_no_output(doc, arrays):
    doc["graph"]["nodes"].pop()


def _m_deep(doc, arrays):
    v = 1
    for _ in range(500):
        v = [v]
    _node(doc, "call")["args"].append(v)


def _m_guard_what(doc, arrays):
    _node(doc, "guard")["kwargs"]["what"] = "__reduce__"


def _m_state_index(doc, arrays):
    _node(doc, "state")["target"] = 99


def _m_graph_not_object(doc, arrays):
    doc["graph"] = "rm -rf /"


def _m_bad_version(doc, arrays):
    doc["format_version"] = "1; rm -rf /"


def _m_grad_read(doc, arrays):
    _node(doc, "state")["kwargs"] = {"attr": "grad"}


def _m_declared_shape(doc, arrays):
    _node(doc, "call")["shape"] = [7, 7]


def _m_wrong_arg_type(doc, arrays):
    _node(doc, "call", "add")["args"][1] = {"$": "slice", "v": [1, 2, None]}


def _m_output_spec(doc, arrays):
    doc["graph"]["output_spec"] = ["tuple", [["tensor"], ["tensor"]]]


CORPUS = [
    (_m_unknown_op, GraphError, r"node \d+ \(linear\): unknown op 'no_such_op'"),
    (_m_eval_target, GraphError, r"unknown op \"__import__\('os'\)"),
    (_m_class_target, GraphError, r"unknown op '__class__'"),
    (_m_unknown_kind, GraphError, r"node \d+ \(linear\): unknown node kind 'exec'"),
    (_m_effect_kind, GraphError, r"node kind 'effect' \(a training step\) cannot be loaded"),
    (_m_undefined_ref, GraphError, r"node \d+ \(linear\) args refers to node 'ghost', which is "
                                   r"not defined before it"),
    (_m_forward_ref, GraphError, r"not defined before it"),
    (_m_unknown_tag, GraphError, r"unknown tag 'pickle'"),
    (_m_untagged_object, GraphError, r"must be a tagged value"),
    (_m_bad_name, GraphError, r"node name 'x = 1; import os' is not a plain identifier"),
    (_m_dup_name, GraphError, r"duplicate node name"),
    (_m_format, SerializationError, r"written by a newer ember \(.*graph format 999\); this "
                                    r"ember reads up to format 1"),
    (_m_opset, SerializationError, r"op set 999"),
    (_m_missing_state, SerializationError, r"state 0 \('fc\.weight'\): tensor 'fc\.weight' is "
                                           r"missing"),
    (_m_state_shape, SerializationError, r"tensor 'fc\.weight' has shape \[3, 4\] in the file "
                                         r"but the graph declares \[4, 3\]"),
    (_m_state_dtype, SerializationError, r"tensor 'fc\.weight' is stored as F64 but the graph "
                                         r"declares float32"),
    (_m_const_missing, SerializationError, r"constant 'c\d+': tensor 'const/c\d+' is missing"),
    (_m_extra_tensor, SerializationError, r"tensor\(s\) the graph does not use: \['smuggled'\]"),
    (_m_bad_dtype, GraphError, r"dtype 'object' is not one of ember's dtypes"),
    (_m_bad_dtype_tag, GraphError, r"dtype 'complex256' is not one of ember's dtypes"),
    (_m_select_injection, GraphError, r"node \d+ \(s\): output index '0\]; import os #' out of "
                                      r"range"),
    (_m_bad_params, GraphError, r"op 'linear' does not take these arguments"),
    (_m_no_output, GraphError, r"must end with an output node|last node must be the output"),
    (_m_deep, GraphError, r"nested deeper than"),
    (_m_guard_what, GraphError, r"unknown guard kind '__reduce__'"),
    (_m_state_index, GraphError, r"state index 99 out of range"),
    (_m_graph_not_object, GraphError, r"graph: expected a JSON object"),
    (_m_bad_version, SerializationError, r"bad versions: format_version='1; rm -rf /'"),
    (_m_grad_read, GraphError, r"reading a \.grad is a training step"),
    (_m_declared_shape, GraphError, r"node \d+ \(linear\) declares float32\[7, 7\] but "
                                    r"computes float32\[2, 4\]"),
    (_m_wrong_arg_type, GraphError, r"an op got arguments of the wrong type"),
    (_m_output_spec, GraphError, r"output_spec holds 2 tensors but the output node returns 1"),
]


@pytest.mark.parametrize("mutate,err,msg", CORPUS, ids=[c[0].__name__[3:] for c in CORPUS])
def test_malformed_graph(good, tmp_path, mutate, err, msg):
    _, doc, arrays = good
    mutate(doc, arrays)
    bad = _write(tmp_path, doc, arrays)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(err, match=msg) as info:
            ember.jit.load(bad)
    finally:
        os.chdir(cwd)
    assert "ember.jit.load: " in str(info.value) and "bad.ember" in str(info.value)
    assert not (tmp_path / "PWNED").exists()


def test_truncated_files(good, tmp_path):
    data = open(good[0], "rb").read()
    n = int.from_bytes(data[:8], "little")
    for cut in (0, 3, 8, 20, 8 + n - 1, 8 + n, len(data) - 1):
        p = tmp_path / f"cut{cut}.ember"
        p.write_bytes(data[:cut])
        with pytest.raises(SerializationError, match=rf"ember\.jit\.load: .*cut{cut}\.ember: "):
            ember.jit.load(str(p))


@pytest.mark.parametrize("blob,msg", [
    (b"", r"too short"),
    (bytes(range(256)) * 3, r"header length \d+ is larger"),
    ((2 ** 40).to_bytes(8, "little") + b"{}", r"larger than the 100000000-byte limit"),
    ((9).to_bytes(8, "little") + b"not json!", r"header is not valid JSON"),
    ((2).to_bytes(8, "little") + b"[]", r"header must be a JSON object"),
    (b"PK\x03\x04" + bytes(100), r"zip archive"),
], ids=["empty", "garbage", "huge_header", "not_json", "not_object", "zip"])
def test_garbage_files(tmp_path, blob, msg):
    p = tmp_path / "g.ember"
    p.write_bytes(blob)
    with pytest.raises(SerializationError, match=msg):
        ember.jit.load(str(p))


def test_not_a_graph_file(tmp_path, good):
    _, doc, arrays = good
    p = str(tmp_path / "w.ember")
    ember.save({"w": ember.ones(2)}, p)
    with pytest.raises(SerializationError, match=r"not an ember graph file: its __metadata__ "
                                                 r"has no 'ember_jit' entry"):
        ember.jit.load(p)
    bad = _write(tmp_path, doc, arrays, raw_meta={META_KEY: "{not json"})
    with pytest.raises(SerializationError, match=r"'ember_jit' metadata is not valid JSON"):
        ember.jit.load(bad)
    bad = _write(tmp_path, doc, arrays, raw_meta={META_KEY: '{"format_version": NaN}'})
    with pytest.raises(SerializationError, match=r"not valid JSON"):
        ember.jit.load(bad)
