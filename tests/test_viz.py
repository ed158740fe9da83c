import re
import shutil
import subprocess

import pytest

import ember
from ember import nn
from ember.viz import Digraph, make_dot, register_graph_builder

NODE = re.compile(r'^    (n\d+) \[label="((?:[^"\\]|\\.)*)"(?: (\w+)="((?:[^"\\]|\\.)*)")*\]$')
EDGE = re.compile(r'^    (n\d+) -> (n\d+)(?: \[dir="none"\])?$')
HAS_DOT = shutil.which("dot") is not None


def _parse(source: str):
    """Check the DOT text's structure; return {node: label} and [(tail, head)]."""
    assert source.count("{") == source.count("}") == 1
    lines = source.splitlines()
    assert lines[0] == "digraph {" and lines[-1] == "}"
    nodes, edges = {}, []
    for line in lines[1:-1]:
        if line.startswith(("    graph [", "    node [", "    edge [")):
            continue
        m = NODE.match(line)
        if m:
            assert m.group(1) not in nodes, f"node declared twice: {line}"
            nodes[m.group(1)] = m.group(2).replace("\\l", "\n").strip()
            continue
        m = EDGE.match(line)
        assert m, f"not a node or edge statement: {line!r}"
        edges.append((m.group(1), m.group(2)))
    for a, b in edges:
        assert a in nodes and b in nodes
    return nodes, edges


def _acyclic(nodes, edges) -> bool:
    indeg = dict.fromkeys(nodes, 0)
    for _, b in edges:
        indeg[b] += 1
    ready = [n for n, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for a, b in edges:
            if a == n:
                indeg[b] -= 1
                if indeg[b] == 0:
                    ready.append(b)
    return seen == len(nodes)


def test_mlp_graph_labels_and_structure():
    m = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
    y = m(ember.randn(3, 4))
    dot = make_dot(y, params=dict(m.named_parameters()))
    nodes, edges = _parse(dot.source)
    labels = sorted(nodes.values())
    assert labels.count("AccumulateGrad") == 4
    for want in ("0.weight\n(8, 4)", "0.bias\n(8,)", "2.weight\n(2, 8)", "2.bias\n(2,)",
                 "LinearBackward0\n(3, 2)", "LinearBackward0\n(3, 8)", "ReluBackward0\n(3, 8)",
                 "(3, 2)"):
        assert want in labels, want
    assert len(nodes) == 12  # output, 3 functions, 4 AccumulateGrad, 4 parameters
    assert len(edges) == 11
    assert _acyclic(nodes, edges)
    # the output box is fed by the last LinearBackward0
    out = next(k for k, v in nodes.items() if v == "(3, 2)")
    (src,) = [a for a, b in edges if b == out]
    assert nodes[src] == "LinearBackward0\n(3, 2)"
    assert str(dot) == dot.source


def test_function_names_match_torch():
    torch = pytest.importorskip("torch")

    def f(lib, a, b):
        return ((a * b).exp() + a).tanh().sum()

    ta, tb = torch.ones(2, 3, requires_grad=True), torch.ones(2, 3, requires_grad=True)
    tnames, stack, seen = [], [f(torch, ta, tb).grad_fn], set()
    while stack:
        fn = stack.pop()
        if fn in seen:
            continue
        seen.add(fn)
        tnames.append(type(fn).__name__)
        stack += [u for u, _ in fn.next_functions if u is not None]
    a, b = ember.ones(2, 3, requires_grad=True), ember.ones(2, 3, requires_grad=True)
    nodes, _ = _parse(make_dot(f(ember, a, b)).source)
    names = [v.split("\n")[0] for v in nodes.values() if not v.startswith("(")]
    assert sorted(names) == sorted(tnames)


def test_shared_leaf_and_multiple_outputs():
    x = ember.ones(3, requires_grad=True)
    a, b = x * x, x.exp()
    nodes, edges = _parse(make_dot((a, b), params={"x": x}).source)
    labels = list(nodes.values())
    assert labels.count("AccumulateGrad") == 1 and labels.count("x\n(3,)") == 1
    assert labels.count("(3,)") == 2  # two output boxes
    acc = next(k for k, v in nodes.items() if v == "AccumulateGrad")
    # MulBackward0 uses x twice: two edges from the same AccumulateGrad
    assert sorted(nodes[b] for a_, b in edges if a_ == acc) == \
        ["ExpBackward0\n(3,)", "MulBackward0\n(3,)", "MulBackward0\n(3,)"]
    nodes2, _ = _parse(make_dot({"a": a, "b": b}).source)
    assert sorted(nodes2.values()) == sorted(v.replace("x\n", "") for v in labels)


def test_attrs_and_saved():
    x = ember.ones(2, 3, requires_grad=True)
    y = (x * 2).sum(dim=0)
    plain, _ = _parse(make_dot(y).source)
    assert not any("dim:" in v for v in plain.values())
    nodes, _ = _parse(make_dot(y, show_attrs=True).source)
    sum_label = next(v for v in nodes.values() if v.startswith("SumBackward0"))
    assert "dim: (0,)" in sum_label and "keepdim: False" in sum_label
    src = make_dot(x.exp().sum(), show_saved=True).source
    nodes, edges = _parse(src)
    assert 'fillcolor="orange"' in src
    saved = [k for k, v in nodes.items() if v.startswith("saved")]
    assert saved and all(nodes[k].endswith("(2, 3)") for k in saved)
    # a saved input that is a leaf links straight to the leaf's box
    z = x * x
    nodes, edges = _parse(make_dot(z, params={"x": x}, show_saved=True).source)
    leaf = next(k for k, v in nodes.items() if v.startswith("x\n"))
    mul = next(k for k, v in nodes.items() if v.startswith("MulBackward0"))
    assert (leaf, mul) in edges


def test_leaf_output_and_long_chain():
    x = ember.ones(2, requires_grad=True)
    nodes, edges = _parse(make_dot(x, params={"x": x}).source)
    assert list(nodes.values()) == ["x\n(2,)"] and edges == []
    y = x
    for _ in range(3000):
        y = y * 1.0
    nodes, edges = _parse(make_dot(y).source)
    assert len(nodes) == 3003 and len(edges) == 3002


def test_bad_input_and_custom_builder():
    with pytest.raises(TypeError, match="make_dot expects a Tensor"):
        make_dot(3)

    class Graph:
        pass

    def build(g, **opts):
        d = Digraph()
        d.node("a", f"custom {sorted(opts)}")
        return d

    register_graph_builder(Graph, build)
    try:
        src = make_dot(Graph()).source
        assert "custom ['max_attr_chars', 'params', 'show_attrs', 'show_saved']" in src
    finally:
        from ember import viz
        viz._BUILDERS.pop()


def test_quoting():
    d = Digraph(name="my graph")
    d.node("a b", 'say "hi"\\ok')
    d.edge("a b", "c")
    assert d.source.startswith('digraph "my graph" {')
    assert '"a b" [label="say \\"hi\\"\\\\ok"]' in d.source
    with pytest.raises(ValueError, match="attr kind"):
        d.attr("nope", color="red")


def test_save(tmp_path):
    x = ember.ones(2, requires_grad=True)
    dot = make_dot(x.sin())
    path = dot.save("g.gv", directory=tmp_path)
    with open(path) as f:
        assert f.read() == dot.source


def test_render_without_graphviz(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    dot = make_dot(ember.ones(2, requires_grad=True).exp())
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        dot.render(tmp_path / "g")
    with pytest.raises(RuntimeError, match="Graphviz"):
        dot.pipe("svg")
    assert not (tmp_path / "g").exists()
    with pytest.raises(ValueError, match="format"):
        dot.render(tmp_path / "g", format="bmpx")


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz's dot is not installed")
def test_dot_parses_and_renders(tmp_path):
    m = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 2))
    y = m(ember.randn(1, 1, 4, 4))
    dot = make_dot(y, params=dict(m.named_parameters()), show_attrs=True, show_saved=True)
    res = subprocess.run(["dot", "-Tsvg"], input=dot.source.encode(), capture_output=True,
                         check=False)
    assert res.returncode == 0, res.stderr.decode()
    assert b"<svg" in res.stdout and b"ConvolutionBackward0" in res.stdout
    out = dot.render(str(tmp_path / "graph"), format="png")
    assert out.endswith("graph.png")
    with open(out, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    out = dot.render(str(tmp_path / "g2"), format="svg", cleanup=True)
    assert not (tmp_path / "g2").exists() and (tmp_path / "g2.svg").exists()
