"""The JIT's graph passes (ember/jit/passes): each pass on hand-built and traced graphs,
the invariants they keep, the fused executors against eager, and the pipeline options."""

import math
import types

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import cext, cgemm, ckernels
from ember.jit.codegen import generate
from ember.jit.ir import Graph
from ember.jit.passes import DEFAULT_PIPELINE, pass_names, run_passes
from ember.jit.passes.constfold import constfold
from ember.jit.passes.cse import cse, value_key
from ember.jit.passes.dce import dce
from ember.jit.passes.fusion import FusedExecutor, fusion
from ember.jit.passes.linear_act import GemmExecutor, LinearActExecutor, linear_act
from ember.jit.passes.memory import Buffer, memory
from ember.jit.passes.simplify import simplify
from ember.ops.registry import NULL_CTX, OPS

F32 = "float32"


def run(g, *arrays):
    """Run a graph's generated program on arrays; returns the output tuple."""
    return generate(g).fn(list(arrays), [])


def check_pass(pass_fn, g, *arrays, exact=True):
    """Apply a pass, lint, and check the values equal the unchanged graph's."""
    before = str(g)
    want = run(g, *arrays)
    out = pass_fn(g)
    out.lint()
    assert str(g) == before, "a pass changed its input graph"
    got = run(out, *arrays)
    assert len(got) == len(want)
    for a, b in zip(got, want):
        if exact:
            np.testing.assert_array_equal(a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    return out


def names(g, kind="call"):
    return [n.target if kind == "call" else n.kind for n in g.nodes if kind is None
            or n.kind == kind]


def vec(n=5, seed=0, dtype=np.float32):
    return np.random.default_rng(seed).standard_normal(n).astype(dtype)


# ----------------------------------------------------------------------------- dce


def test_dce_drops_unused_pure_nodes_and_constants():
    g = Graph()
    x = g.placeholder("x", (5,), F32)
    g.placeholder("unused_arg", (5,), F32)
    e = g.call("exp", (x,), {}, (5,), F32)
    g.call("neg", (e,), {}, (5,), F32)              # dead chain
    g.constants["c"] = np.ones(5, np.float32)
    g.add("constant", "c", (), None, (5,), F32)      # dead constant
    y = g.call("tanh", (x,), {}, (5,), F32)
    g.output((y,))
    out = check_pass(dce, g, vec(), vec(seed=1))
    assert out.ops() == ["tanh"]
    assert [n.kind for n in out.nodes] == ["placeholder", "placeholder", "call", "output"]
    assert out.constants == {}


def test_dce_keeps_random_ops_and_side_effects():
    g = Graph()
    x = g.placeholder("x", (5,), F32)
    g.call("uniform", (), {"shape": (5,), "dtype": ember.float32}, (5,), F32)
    t = g.call("mul", (x, 2.0), {}, (5,), F32)
    g.add("guard", None, (t,), {"what": "shape", "expected": (5,), "site": "here"})
    g.output((x,))
    out = dce(g)
    out.lint()
    assert out.ops() == ["uniform", "mul"]
    assert [n.kind for n in out.nodes].count("guard") == 1


def test_dce_on_traced_graph_keeps_results():
    f = ember.jit.trace(lambda x: (x.exp(), x.sin()), (ember.ones(3),), passes=[])
    raw = f.graph
    raw.lint()
    out = check_pass(dce, raw, vec(3))
    assert out.ops() == ["exp", "sin"]


# ----------------------------------------------------------------------------- cse


def _dup_graph(arg_b=2.0, **kw):
    g = Graph()
    x = g.placeholder("x", (5,), F32)
    a = g.call("mul", (x, 2.0), {}, (5,), F32)
    b = g.call("mul", (x, arg_b), {}, (5,), F32)
    return g, x, a, b


def test_cse_merges_identical_calls():
    g, x, a, b = _dup_graph()
    s = g.call("add", (a, b), {}, (5,), F32)
    g.output((s,))
    out = check_pass(cse, g, vec())
    assert out.ops() == ["mul", "add"]
    add = out.nodes[-2]
    assert add.args[0] is add.args[1]


@pytest.mark.parametrize("lit_a, lit_b, merged", [
    (0.0, -0.0, False), (1, 1.0, False), (True, 1, False), (2.0, 2.0, True),
    (float("nan"), float("nan"), True), (-0.0, -0.0, True)])
def test_cse_literal_keys_are_exact(lit_a, lit_b, merged):
    g = Graph()
    x = g.placeholder("x", (5,), F32)
    a = g.call("add", (x, lit_a), {}, (5,), F32)
    b = g.call("add", (x, lit_b), {}, (5,), F32)
    g.output((g.call("div", (a, b), {}, (5,), F32),))
    out = cse(g)
    out.lint()
    assert out.ops().count("add") == (1 if merged else 2)


def test_cse_unhashable_params():
    g = Graph()
    x = g.placeholder("x", (2, 3), F32)
    a = g.call("permute", (x,), {"dims": [1, 0]}, (3, 2), F32)
    b = g.call("permute", (x,), {"dims": [1, 0]}, (3, 2), F32)
    c = g.call("permute", (x,), {"dims": (1, 0)}, (3, 2), F32)
    s = g.call("add", (a, b), {}, (3, 2), F32)
    g.output((g.call("add", (s, c), {}, (3, 2), F32),))
    out = check_pass(cse, g, vec(6).reshape(2, 3))
    assert out.ops() == ["permute", "permute", "add", "add"]  # list vs tuple stay apart
    assert value_key({"a": [1, 2]}) == value_key({"a": [1, 2]})
    assert value_key([0.0]) != value_key([-0.0])


def test_no_cse_across_a_write():
    g = Graph()
    x = g.placeholder("x", (5,), F32)
    t = g.call("mul", (x, 1.5), {}, (5,), F32)       # a temporary written in place below
    a = g.call("exp", (t,), {}, (5,), F32)
    v = g.call("neg", (t,), {}, (5,), F32)
    g.add("write", None, (t, v), {}, (5,), F32)
    b = g.call("exp", (t,), {}, (5,), F32)           # reads t after the write
    g.output((g.call("sub", (a, b), {}, (5,), F32),))
    out = check_pass(cse, g, vec())
    assert out.ops().count("exp") == 2
    assert not np.all(run(out, vec())[0] == 0)


def test_cse_state_reads_merge_within_a_stretch_only():
    g = Graph()
    g.state = [types.SimpleNamespace(tensor=ember.tensor([1.0, 2.0]), name="w")]
    x = g.placeholder("x", (2,), F32)
    s1 = g.add("state", 0, (), {"attr": "data"}, (2,), F32)
    s2 = g.add("state", 0, (), {"attr": "data"}, (2,), F32)
    a = g.call("add", (x, s1), {}, (2,), F32)
    b = g.call("add", (a, s2), {}, (2,), F32)
    g.add("guard", None, (b,), {"what": "shape", "expected": (2,), "site": "t"})
    s3 = g.add("state", 0, (), {"attr": "data"}, (2,), F32)
    g.output((g.call("mul", (b, s3), {}, (2,), F32),))
    out = check_pass(cse, g, np.ones(2, np.float32))
    assert [n.kind for n in out.nodes].count("state") == 2


def test_cse_never_merges_random_ops():
    g = Graph()
    kw = {"shape": (5,), "dtype": ember.float32}
    a = g.call("uniform", (), kw, (5,), F32)
    b = g.call("uniform", (), dict(kw), (5,), F32)
    g.output((g.call("sub", (a, b), {}, (5,), F32),))
    for p in (cse, constfold, dce, fusion):
        assert p(g).ops().count("uniform") == 2


def test_cse_keeps_results_apart_when_returned():
    g, x, a, b = _dup_graph()
    g.output((a, b))
    out = cse(g)
    assert out.ops() == ["mul", "mul"]   # two returned tensors must not share memory


def test_ctx_nodes_untouched_by_every_pass():
    x = ember.randn(4, requires_grad=True)

    def f(x):
        # gelu keeps a computed array (its cdf) on the ctx: its backward stays one node
        y = ember.nn.functional.gelu(x * 2)
        z = ember.nn.functional.gelu(x * 2)
        ((y + z) * 1).sum().backward()
        return y

    raw = ember.jit.trace(f, (x,), passes=[]).graph
    ctx = [n.name for n in raw.nodes if n.kind == "call" and any(
        u.kind == "backward" and u.args[0] is n for u in raw.nodes)]
    assert len(ctx) == 2
    g, applied = run_passes(raw)
    g.lint()
    assert applied == list(DEFAULT_PIPELINE)
    for name in ctx:
        before = next(n for n in raw.nodes if n.name == name)
        after = next(n for n in g.nodes if n.name == name)
        assert (after.kind, after.target, after.kwargs) == ("call", before.target,
                                                           before.kwargs)
        assert [a.name if hasattr(a, "name") else a for a in after.args] == \
            [a.name if hasattr(a, "name") else a for a in before.args]
    xg = ember.randn(4, requires_grad=True)
    c = ember.jit.compile(f)
    c(xg)
    xg.grad = None
    y = c(xg)
    xe = xg.detach().requires_grad_()
    ye = f(xe)
    np.testing.assert_allclose(y._data, ye._data, rtol=1e-6)
    np.testing.assert_allclose(xg.grad._data, xe.grad._data, rtol=1e-6)


# ------------------------------------------------------------------------ constfold


def _const(g, name, arr):
    g.constants[name] = arr
    return g.add("constant", name, (), None, arr.shape, arr.dtype.name)


def test_constfold_folds_calls_on_constants():
    g = Graph()
    x = g.placeholder("x", (3,), F32)
    c = _const(g, "c", np.array([0.5, 1.0, 2.0], np.float32))
    e = g.call("exp", (c,), {}, (3,), F32)
    m = g.call("mul", (e, 3.0), {}, (3,), F32)
    g.output((g.call("add", (x, m), {}, (3,), F32),))
    out = check_pass(lambda g: dce(constfold(g)), g, vec(3))
    assert out.ops() == ["add"]
    folded = out.constants[out.nodes[1].target]
    np.testing.assert_array_equal(folded, np.exp(np.float32([0.5, 1, 2])) * np.float32(3))


def test_constfold_skips_written_returned_huge_and_failing(monkeypatch):
    from ember.jit.passes import constfold as cf
    g = Graph()
    x = g.placeholder("x", (3,), F32)
    c = _const(g, "c", np.ones(3, np.float32))
    w = _const(g, "w", np.ones(3, np.float32))
    returned = g.call("exp", (c,), {}, (3,), F32)          # returned: stays a call
    before_write = g.call("neg", (w,), {}, (3,), F32)      # reads a written constant
    g.add("write", None, (w, x), {}, (3,), F32)
    big = g.call("sin", (c,), {}, (3,), F32)               # "huge" below
    s = g.call("add", (before_write, big), {}, (3,), F32)
    g.output((returned, s))
    monkeypatch.setattr(cf, "MAX_ELEMENTS", 2)
    out = check_pass(constfold, g, vec(3))
    assert out.ops() == ["exp", "neg", "sin", "add"]
    monkeypatch.setattr(cf, "MAX_ELEMENTS", 1 << 20)
    assert constfold(g).ops() == ["exp", "neg", "add"]


def test_constfold_traced_temporary():
    def f(x):
        t = ember.arange(4.0).reshape(2, 2)   # made inside: a constant in the graph
        return x + (t * 2).exp()

    raw = ember.jit.trace(f, (ember.ones(2, 2),), passes=[]).graph
    out = check_pass(lambda g: dce(constfold(g)), raw, np.ones((2, 2), np.float32))
    assert out.ops() == ["add"]


# ------------------------------------------------------------------------- simplify


@pytest.mark.parametrize("op, args, gone", [
    ("mul", ("x", 1), True), ("mul", (1.0, "x"), True), ("div", ("x", 1), True),
    ("pow", ("x", 1), True), ("sub", ("x", 0), True), ("sub", ("x", -0.0), False),
    ("add", ("x", 0.0), False), ("add", (-0.0, "x"), True), ("mul", ("x", 2.0), False)])
def test_simplify_identities_float(op, args, gone):
    g = Graph()
    x = g.placeholder("x", (4,), F32)
    y = g.call(op, tuple(x if a == "x" else a for a in args), {}, (4,), F32)
    g.output((g.call("exp", (y,), {}, (4,), F32),))
    xs = np.array([-0.0, 0.0, 1.5, np.nan], np.float32)
    out = check_pass(simplify, g, xs)
    assert (op not in out.ops()) == gone


def test_simplify_int_and_promotion():
    g = Graph()
    x = g.placeholder("x", (3,), "int32")
    a = g.call("add", (x, 0), {}, (3,), "int32")           # exact for ints
    b = g.call("mul", (x, 1.0), {}, (3,), F32)             # promotes: stays
    c = g.call("cast", (a,), {"dtype": ember.float32}, (3,), F32)
    g.output((g.call("add", (b, c), {}, (3,), F32),))
    out = check_pass(simplify, g, np.array([1, -2, 3], np.int32))
    assert out.ops() == ["mul", "cast", "add"]


def test_simplify_keeps_returned_and_written_values():
    g = Graph()
    x = g.placeholder("x", (3,), F32)
    y = g.call("mul", (x, 1), {}, (3,), F32)                # returned: a new tensor
    z = g.call("mul", (x, 1), {}, (3,), F32)                # written below
    g.add("write", None, (z, y), {}, (3,), F32)
    g.output((y,))
    out = simplify(g)
    assert out.ops() == ["mul", "mul"]


def test_simplify_not_across_a_write_of_the_operand():
    g = Graph()
    x = g.placeholder("x", (3,), F32)
    t = g.call("exp", (x,), {}, (3,), F32)
    y = g.call("mul", (t, 1), {}, (3,), F32)                # a copy of t before the write
    g.add("write", None, (t, x), {}, (3,), F32)
    g.output((g.call("sub", (y, t), {}, (3,), F32),))
    out = check_pass(simplify, g, vec(3))
    assert out.ops() == ["exp", "mul", "sub"]


def test_simplify_neg_permute_reshape():
    g = Graph()
    x = g.placeholder("x", (2, 3, 4), F32)
    n1 = g.call("neg", (x,), {}, (2, 3, 4), F32)
    n2 = g.call("neg", (n1,), {}, (2, 3, 4), F32)
    p1 = g.call("permute", (n2,), {"dims": (2, 0, 1)}, (4, 2, 3), F32)
    p2 = g.call("permute", (p1,), {"dims": (1, 2, 0)}, (2, 3, 4), F32)   # cancels
    p3 = g.call("permute", (p1,), {"dims": (0, 2, 1)}, (4, 3, 2), F32)   # composes
    r1 = g.call("reshape", (p2,), {"shape": (6, 4)}, (6, 4), F32)
    r2 = g.call("reshape", (r1,), {"shape": (24,)}, (24,), F32)
    e = g.call("exp", (r2,), {}, (24,), F32)
    t = g.call("tanh", (p3,), {}, (4, 3, 2), F32)
    g.output((e, t))
    out = check_pass(lambda g: dce(simplify(g)), g, vec(24).reshape(2, 3, 4))
    assert out.ops() == ["permute", "reshape", "exp", "tanh"]
    perm = out.nodes[1]
    assert perm.args[0].kind == "placeholder" and tuple(perm.kwargs["dims"]) == (2, 1, 0)
    assert out.nodes[2].args[0].kind == "placeholder"


def test_simplify_swap_last_and_sum_of_expand():
    g = Graph()
    x = g.placeholder("x", (2, 3), F32)
    s1 = g.call("swap_last", (x,), {}, (3, 2), F32)
    s2 = g.call("swap_last", (s1,), {}, (2, 3), F32)
    i = g.placeholder("i", (3,), "int64")
    ex = g.call("expand", (i,), {"shape": (4, 3)}, (4, 3), "int64")
    sm = g.call("sum", (ex,), {"dim": (0,), "keepdim": False, "dtype": None}, (3,), "int64")
    g.output((g.call("exp", (s2,), {}, (2, 3), F32), sm))
    out = check_pass(lambda g: dce(simplify(g)), g, vec(6).reshape(2, 3),
                     np.array([1, -5, 2**40], np.int64))
    assert out.ops() == ["mul", "exp"]


def test_simplify_traced():
    f = ember.jit.trace(lambda x: x.neg().neg().permute(1, 0).permute(1, 0) * 1 + 1,
                        (ember.ones(2, 3),), passes=[])
    out = check_pass(lambda g: dce(simplify(g)), f.graph, vec(6).reshape(2, 3))
    assert out.ops() == ["add"]


# --------------------------------------------------------------------------- fusion


def _chain_graph(n=8, shape=None):
    shape = shape or (n,)
    g = Graph()
    x = g.placeholder("x", shape, F32)
    w = g.placeholder("w", shape[-1:], F32)
    a = g.call("mul", (x, w), {}, shape, F32)
    b = g.call("add", (a, 0.5), {}, shape, F32)
    c = g.call("tanh", (b,), {}, shape, F32)
    return g, x, w, a, b, c


def test_fusion_groups_a_chain():
    g, x, w, a, b, c = _chain_graph()
    g.output((c,))
    out = check_pass(fusion, g, vec(8), vec(8, 1))
    fused = [n for n in out.nodes if n.kind == "fused"]
    assert len(fused) == 1 and out.ops() == []
    f = fused[0]
    assert isinstance(f.target, FusedExecutor)
    assert repr(f.target) == "fused[mul,add,tanh]"
    assert f.kwargs["ops"] == "mul,add,tanh" and f.kwargs["backend"] == "numpy"
    assert f.kwargs["mode"] == f.target.mode == "ops"
    assert [a.name for a in f.args] == ["x", "w"]
    assert "fused(x, w, ops='mul,add,tanh'" in str(out)


@pytest.mark.parametrize("guard_at", [2, 3, 5])
def test_fusion_stops_at_shared_values_and_side_effects(guard_at):
    g = Graph()
    x = g.placeholder("x", (8,), F32)
    a = g.call("mul", (x, 3.0), {}, (8,), F32)
    b = g.call("add", (a, 0.5), {}, (8,), F32)
    c = g.call("tanh", (b,), {}, (8,), F32)
    d = g.call("exp", (c,), {}, (8,), F32)
    e = g.call("sin", (c,), {}, (8,), F32)
    g.output((d, e))        # c is read twice in the group: fine; d, e: two roots
    guard = g.add("guard", None, (x,), {"what": "shape", "expected": (8,), "site": "t"},
                  index=guard_at)
    assert g.nodes[guard_at] is guard
    out = check_pass(fusion, g, vec(8))
    groups = [n.kwargs["ops"] for n in out.nodes if n.kind == "fused"]
    # nothing moves across the guard; c feeds two roots, so it is no root's intermediate
    assert groups == {2: ["add,tanh"], 3: ["mul,add"], 5: ["mul,add,tanh"]}[guard_at]
    g2, x2, w2, a2, b2, c2 = _chain_graph()
    g2.output((c2, b2))     # b is returned: a root, not an intermediate
    out = check_pass(fusion, g2, vec(8), vec(8, 1))
    assert out.ops() == ["tanh"]
    assert [n.kwargs["ops"] for n in out.nodes if n.kind == "fused"] == ["mul,add"]


def test_fusion_broadcast_kinds_and_mixed_dtypes():
    g = Graph()
    x = g.placeholder("x", (4, 3), F32)
    s = g.placeholder("s", (), F32)
    r = g.placeholder("r", (1, 3), F32)
    col = g.placeholder("col", (4, 1), F32)          # broadcast along columns: not fused
    d = g.placeholder("d", (4, 3), "float64")
    a = g.call("mul", (x, s), {}, (4, 3), F32)
    b = g.call("add", (a, r), {}, (4, 3), F32)
    c = g.call("sub", (b, col), {}, (4, 3), F32)
    e = g.call("exp", (c,), {}, (4, 3), F32)
    k = g.call("cast", (e,), {"dtype": ember.float64}, (4, 3), "float64")
    m = g.call("mul", (k, d), {}, (4, 3), "float64")
    g.output((m,))
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(sh).astype(dt) for sh, dt in
            [((4, 3), np.float32), ((), np.float32), ((1, 3), np.float32),
             ((4, 1), np.float32), ((4, 3), np.float64)]]
    out = check_pass(fusion, g, *args)
    assert out.ops() == ["sub", "exp"]   # exp's float32 group would be exp alone
    # a cast to the group's dtype joins it: its float32 input is converted on the way in
    assert [n.kwargs["ops"] for n in out.nodes if n.kind == "fused"] == ["mul,add", "cast,mul"]


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_fusion_takes_masks_and_their_casts(backend, monkeypatch):
    """relu's gradient ``g * cast(out > 0)``: the bool mask lives only inside the group."""
    if backend == "c" and not ckernels.available():
        pytest.skip("no C compiler")
    for name in ("C_MIN", "C_MIN_FAST"):
        monkeypatch.setattr(f"ember.jit.passes.fusion.{name}", 0 if backend == "c" else 1 << 30)
    g = Graph()
    x = g.placeholder("x", (5, 4), F32)
    gr = g.placeholder("g", (5, 4), F32)
    r = g.call("relu", (x,), {}, (5, 4), F32)
    m = g.call("gt", (r, 0), {}, (5, 4), "bool")
    c = g.call("cast", (m,), {"dtype": ember.float32}, (5, 4), F32)
    o = g.call("mul", (gr, c), {}, (5, 4), F32)
    g.output((o, m))
    xs = np.array([[-1.0, 0.0, 2.0, np.nan]] * 5, np.float32)
    out = check_pass(fusion, g, xs, np.ones((5, 4), np.float32))
    # the mask is also returned: it stays a call, and the group ends at the cast's users
    assert "gt" in out.ops()
    g.output_node.args = ((o,),)
    out = check_pass(fusion, g, xs, np.ones((5, 4), np.float32))
    assert out.ops() == [] and [n.kwargs["ops"] for n in out.nodes if n.kind == "fused"] == [
        "relu,gt,cast,mul"]
    assert [n.kwargs["backend"] for n in out.nodes if n.kind == "fused"] == [backend]


def _gelu_fn(x, w, b):
    return F.gelu(x * w + b, approximate="tanh")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_fusion_gelu_tanh_vs_eager(dtype, backend, monkeypatch):
    if backend == "c" and not ckernels.available():
        pytest.skip("no C compiler")
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy" if backend == "numpy" else "auto")
    ember.manual_seed(0)
    dt = getattr(ember, dtype)
    x, w, b = ember.randn(400, 250, dtype=dt), ember.randn(250, dtype=dt), \
        ember.randn(250, dtype=dt)
    want = _gelu_fn(x, w, b)._data
    c = ember.jit.compile(_gelu_fn)
    c(x, w, b)
    got = c(x, w, b)._data
    fused = [n for n in c.graph.nodes if n.kind == "fused"]
    assert len(fused) == 1 and fused[0].kwargs["backend"] == backend
    assert fused[0].target.mode == ("c" if backend == "c" else "chunks")
    assert fused[0].kwargs["ops"] == "mul,add,gelu"
    assert got.dtype == want.dtype and got.shape == want.shape
    if backend == "numpy" or dtype == "float64":
        np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-12)
    else:
        # libmvec's tanhf: a few ulp; 1 + tanh cancels for very negative inputs
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    z = x._data.astype(np.float64) * w._data + b._data
    ref = 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z ** 3)))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(got, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("ops", [
    lambda x, y: (x * 2.0 - y).exp().log1p() / 3,
    lambda x, y: F.silu(x).sigmoid().relu() ** 2 + F.leaky_relu(y, 0.2),
    lambda x, y: ember.maximum(x, y).clamp(-0.5, 0.7).sqrt() * x.neg().abs(),
    lambda x, y: F.gelu(x) * y.rsqrt().reciprocal() + x.erf() - y.sin() * x.cos()])
@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_fusion_many_ops_vs_eager(ops, backend, monkeypatch):
    if backend == "c" and not ckernels.available():
        pytest.skip("no C compiler")
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy" if backend == "numpy" else "auto")
    ember.manual_seed(1)
    x, y = ember.randn(300, 130), ember.rand(300, 130) + 0.1
    with np.errstate(all="ignore"):
        want = ops(x, y)._data
    c = ember.jit.compile(ops)
    c(x, y)
    got = c(x, y)._data
    assert any(n.kind == "fused" and n.target.backend == backend for n in c.graph.nodes) or \
        backend == "c"
    np.testing.assert_allclose(got, want, rtol=1e-5 if backend == "c" else 1e-6, atol=1e-6,
                               equal_nan=True)


def test_fused_executor_backends_agree(monkeypatch):
    prog = [("mul", (("in", 0), ("in", 1)), {}), ("add", (("v", 0), ("const", 1)), {}),
            ("pow", (("v", 1), ("const", 2)), {}), ("gelu", (("v", 2),), {"approximate": "tanh"})]
    shape = (70000,)
    rng = np.random.default_rng(3)
    x, s = rng.standard_normal(shape).astype(np.float32), np.float32(0.3)
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    ops = FusedExecutor(prog, ("full", "scalar"), shape, "float32", mode="ops")
    chunks = FusedExecutor(prog, ("full", "scalar"), shape, "float32")
    assert chunks.backend == "numpy" and chunks.mode == "chunks"
    want = ops(x, s)
    np.testing.assert_array_equal(chunks(x, s), want)
    monkeypatch.setenv("EMBER_JIT_BACKEND", "auto")
    if ckernels.available():
        c = FusedExecutor(prog, ("full", "scalar"), shape, "float32", mode="c")
        assert c.mode == "c" and c.backend == "c"
        np.testing.assert_allclose(c(x, s), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        chunks(x[:-1], s)


def test_fusion_skips_random_and_traced_backward():
    g = Graph()
    u = g.call("uniform", (), {"shape": (5,), "dtype": ember.float32}, (5,), F32)
    a = g.call("mul", (u, 2.0), {}, (5,), F32)
    b = g.call("exp", (a,), {}, (5,), F32)
    g.output((b,))
    out = fusion(g)
    assert out.ops() == ["uniform"] and out.nodes[1].kwargs["ops"] == "mul,exp"


# --------------------------------------------------------------------------- memory


def _mlp(x, w):
    h = (x * 2.0 + 1.0).tanh()                 # fused, read by matmul only: reusable
    return (h @ w).exp() * 0.5 - 1.0           # fused, returned: never a reused buffer


@pytest.mark.parametrize("backend", ["c", "numpy"])
def test_outputs_never_get_a_reused_buffer(backend, monkeypatch):
    if backend == "c" and not ckernels.available():
        pytest.skip("no C compiler")
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy" if backend == "numpy" else "auto")
    ember.manual_seed(2)
    x1, x2, w = ember.randn(256, 160), ember.randn(256, 160), ember.randn(160, 200) * 0.1
    c = ember.jit.compile(_mlp)
    c(x1, w)
    r1 = c(x1, w)
    keep = r1._data.copy()
    r2 = c(x2, w)
    np.testing.assert_array_equal(r1._data, keep)
    assert not np.shares_memory(r1._data, r2._data)
    np.testing.assert_allclose(r2._data, _mlp(x2, w)._data, rtol=1e-5, atol=1e-6)
    fused = [n for n in c.graph.nodes if n.kind == "fused" and n.kwargs["ops"] != "matmul"]
    assert [("out" in n.kwargs) for n in fused] == [True, False]
    assert "inplace" not in fused[1].kwargs or backend == "numpy"
    # with C, the product is a GEMM call whose result (read by the fused exp) is kept too
    products = [n for n in c.graph.nodes if n.kind == "fused" and n.kwargs["ops"] == "matmul"]
    assert [("out" in n.kwargs) for n in products] == ([True] if backend == "c" else [])


def test_memory_shares_buffers_between_disjoint_ranges_and_inplace(monkeypatch):
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    shape = (200, 200)
    g = Graph()
    x = g.placeholder("x", shape, F32)
    w = g.placeholder("w", shape, F32)
    a = g.call("tanh", (g.call("mul", (x, 2.0), {}, shape, F32),), {}, shape, F32)
    m1 = g.call("matmul", (a, w), {}, shape, F32)
    b = g.call("exp", (g.call("mul", (x, 0.1), {}, shape, F32),), {}, shape, F32)
    m2 = g.call("matmul", (b, w), {}, shape, F32)
    c = g.call("sin", (g.call("mul", (m1, m2), {}, shape, F32),), {}, shape, F32)
    g.output((g.call("sum", (c,), {"dim": None, "keepdim": False, "dtype": None}, (), F32),))
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(shape).astype(np.float32) for _ in range(2)]
    out = check_pass(lambda g: memory(fusion(g)), g, *args)
    fused = [n for n in out.nodes if n.kind == "fused"]
    # a and b live apart: one buffer; c writes into m1, which dies there
    assert [n.kwargs.get("out") for n in fused] == [0, 0, None]
    assert [n.kwargs.get("inplace") for n in fused] == [None, None, 0]
    assert fused[0].target.out_buffer is fused[1].target.out_buffer
    prog = generate(out)
    r1 = prog.fn(args, [])[0]
    keep = r1.copy()
    prog.fn([args[1], args[0]], [])
    np.testing.assert_array_equal(r1, keep)


def test_memory_never_reuses_values_that_escape():
    shape = (300, 200)
    g = Graph()
    x = g.placeholder("x", shape, F32)
    a = g.call("exp", (g.call("mul", (x, 2.0), {}, shape, F32),), {}, shape, F32)
    v = g.call("reshape", (a,), {"shape": (200, 300)}, (200, 300), F32)   # a view of a
    b = g.call("tanh", (g.call("mul", (x, 3.0), {}, shape, F32),), {}, shape, F32)
    s = g.call("sum", (b,), {"dim": None, "keepdim": False, "dtype": None}, (), F32)
    g.output((v, s))
    out = memory(fusion(g))
    out.lint()
    assert [n.kwargs.get("out") for n in out.nodes if n.kind == "fused"] == [None, 0]


# ------------------------------------------------------------------------- linear_act


@pytest.fixture
def linear_c(monkeypatch):
    monkeypatch.delenv("EMBER_JIT_BACKEND", raising=False)
    if cext.linear_kernel() is None:
        pytest.skip("no C compiler builds extension modules here")


def _lin_relu_graph(m=1, k=24, n=16, dtype=F32, bias=True, also_return_linear=False):
    g = Graph()
    x = g.placeholder("x", (m, k), dtype)
    w = g.placeholder("w", (n, k), dtype)
    args = (x, w, g.placeholder("b", (n,), dtype)) if bias else (x, w)
    lin = g.call("linear", args, {}, (m, n), dtype)
    y = g.call("relu", (lin,), {}, (m, n), dtype)
    g.output((y, lin) if also_return_linear else (y,))
    return g


def _lin_arrays(m=1, k=24, n=16, dtype=np.float32, bias=True, seed=0):
    rng = np.random.default_rng(seed)
    arrays = [rng.standard_normal((m, k)), rng.standard_normal((n, k)), rng.standard_normal(n)]
    return [a.astype(dtype) for a in arrays[:3 if bias else 2]]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 3, 8])
def test_linear_act_one_kernel_call(linear_c, bias, dtype, m):
    g = _lin_relu_graph(m, dtype=np.dtype(dtype).name, bias=bias)
    out = check_pass(linear_act, g, *_lin_arrays(m, dtype=dtype, bias=bias), exact=False)
    (node,) = [n for n in out.nodes if n.kind not in ("placeholder", "output")]
    assert node.kind == "fused" and node.name == "relu" and isinstance(
        node.target, LinearActExecutor)
    assert (node.shape, node.dtype) == ((m, 16), np.dtype(dtype).name)
    assert [a.name for a in node.args] == ["x", "w", "b"][:3 if bias else 2]
    assert node.meta["fused"] == ["linear", "relu"]
    assert "fused(x, w" in str(out) and "ops='linear,relu', backend='c'" in str(out)
    assert repr(node.target) == "linear_act[linear,relu]"


def test_linear_act_left_alone(linear_c, monkeypatch):
    keep = [_lin_relu_graph(m=2, k=4096, n=32),              # too much work for few rows
            _lin_relu_graph(m=4096, k=4096, n=8),            # BLAS's size
            _lin_relu_graph(dtype="float16")]
    for g in keep:
        g.lint()
        assert linear_act(g).ops() == g.ops()
    # no pair, but the linear alone still runs as a kernel call
    apart = [_lin_relu_graph(also_return_linear=True)]     # the linear is read twice
    g = _lin_relu_graph()
    g.add("guard", None, (g.nodes[0],), {"what": "shape", "expected": (1, 24), "site": "t"},
          index=4)
    apart.append(g)                                      # a side effect between them
    for g in apart:
        g.lint()
        out = linear_act(g)
        out.lint()
        assert out.ops() == ["relu"]
        (lin,) = [n for n in out.nodes if n.kind == "fused"]
        assert lin.name == "linear" and lin.kwargs["ops"] == "linear"
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    assert linear_act(_lin_relu_graph()).ops() == ["linear", "relu"]


def test_linear_act_threads_only_without_other_blas(linear_c):
    def chain(extra):
        g = Graph()
        x = g.placeholder("x", (64, 32), F32)
        w = g.placeholder("w", (32, 32), F32)
        y = g.call("relu", (g.call("linear", (x, w), {}, (64, 32), F32),), {}, (64, 32), F32)
        outs = (y,)
        if extra:       # a batched product: BLAS's
            z = g.placeholder("z", (4, 32, 32), F32)
            outs += (g.call("matmul", (z, z), {}, (4, 32, 32), F32),)
        g.output(outs)
        return linear_act(g)

    (alone,) = [n.target for n in chain(False).nodes if n.kind == "fused"]
    (mixed,) = [n.target for n in chain(True).nodes if n.kind == "fused"]
    assert alone.parallel and not mixed.parallel


def test_linear_act_takes_2d_products(linear_c):
    """2-D matmuls (a recorded backward's) become GEMM calls; others stay the op."""
    g = Graph()
    a = g.placeholder("a", (40, 30), F32)
    b = g.placeholder("b", (20, 30), F32)
    z = g.placeholder("z", (3, 4, 4), F32)
    t = g.call("swap_last", (b,), {}, (30, 20), F32)
    p = g.call("matmul", (a, t), {}, (40, 20), F32)
    q = g.call("matmul", (z, z), {}, (3, 4, 4), F32)
    g.output((p, q))
    rng = np.random.default_rng(0)
    args = [rng.standard_normal(s).astype(np.float32) for s in ((40, 30), (20, 30), (3, 4, 4))]
    out = check_pass(linear_act, g, *args, exact=False)
    (prod,) = [n for n in out.nodes if n.kind == "fused"]
    assert prod.kwargs["ops"] == "matmul" and isinstance(prod.target, GemmExecutor)
    assert out.ops().count("matmul") == 1                 # the batched one
    ex = prod.target
    half = (args[0].astype(np.float16), args[1].T.astype(np.float16))
    np.testing.assert_array_equal(ex(*half), np.matmul(*half))       # the op's result
    with pytest.raises(RuntimeError, match="inner dimensions"):      # and its errors
        ex(args[0], args[1])
    with pytest.raises(RuntimeError, match="same dtype"):
        ex(args[0], args[1].T.astype(np.float64))


def _lin_relu_ops(x, w, b=None):
    return OPS["relu"].forward(NULL_CTX, OPS["linear"].forward(NULL_CTX, x, w, b))


# without a runner every call goes through c_linear; with one, the GEMM's call is kept for
# the sizes of the last call, and arrays it refuses still reach the ops
@pytest.mark.parametrize("runner", [None, cgemm.gemm_runner])
def test_linear_act_executor_falls_back_to_the_ops(linear_c, runner):
    x, w, b = _lin_arrays(2)
    ex = LinearActExecutor(cgemm.c_linear, relu=True, runner=runner)
    ops = _lin_relu_ops
    wide = np.repeat(x, 2, axis=1)
    for args in ((wide[:, ::2], w, b), (x, np.asfortranarray(w), b),
                 (x, w, np.float32(0.5)), tuple(a.astype(np.float16) for a in (x, w, b))):
        np.testing.assert_array_equal(ex(*args), ops(*args))      # exactly the ops
    np.testing.assert_allclose(ex(x, w, b), ops(x, w, b), rtol=1e-5, atol=1e-6)
    many = _lin_arrays(40)                               # the GEMM's size
    np.testing.assert_allclose(ex(*many), ops(*many), rtol=1e-5, atol=1e-5)
    with pytest.raises(RuntimeError, match="cannot be multiplied"):   # the ops' errors
        ex(x, w[:, :5], b)
    many16 = [a.astype(np.float16) for a in many]                      # same sizes
    np.testing.assert_array_equal(ex(*many16), ops(*many16))


def test_linear_act_executor_follows_the_backend_switch(linear_c, monkeypatch):
    """A kept GEMM call still reads EMBER_JIT_BACKEND at each call: the GEMM writes the
    kept buffer, NumPy's ops return new arrays."""
    many = _lin_arrays(40, seed=1)
    buf = Buffer(0)
    ex = LinearActExecutor(cgemm.c_linear, relu=True, runner=cgemm.gemm_runner).with_out(buf)
    assert ex(*many) is buf.array
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    by_numpy = ex(*many)
    assert by_numpy is not buf.array
    np.testing.assert_array_equal(by_numpy, _lin_relu_ops(*many))
    monkeypatch.delenv("EMBER_JIT_BACKEND")
    assert ex(*many) is buf.array


def _w5_mlp():
    ember.manual_seed(0)
    return ember.nn.Sequential(ember.nn.Linear(64, 256), ember.nn.ReLU(),
                               ember.nn.Linear(256, 256), ember.nn.ReLU(),
                               ember.nn.Linear(256, 10)).eval()


@pytest.mark.parametrize("batch", [1, 256])
def test_linear_act_traced_mlp_inference(linear_c, batch):
    model, x = _w5_mlp(), ember.randn(batch, 64)
    with ember.no_grad():
        traced = ember.jit.trace(model, (x,))
        want = model(x)._data
        fused = [n for n in traced.graph.nodes if n.kind == "fused"]
        assert [n.kwargs["ops"] for n in fused] == ["linear,relu"] * 2 + ["linear"]
        assert all(n.target.parallel for n in fused)        # nothing else runs BLAS
        # the hidden layers write into kept buffers; the returned one is new each call
        assert [n.kwargs.get("out") for n in fused] == [0, 1, None]
        assert traced.graph.ops() == []
        traced.graph.lint()
        assert "3 fused: 3 C" in traced.explain()
        first = traced(x)._data
        for _ in range(2):
            np.testing.assert_allclose(traced(x)._data, want, rtol=1e-5, atol=1e-5)
        x2 = ember.randn(batch, 64)
        np.testing.assert_allclose(traced(x2)._data, model(x2)._data, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(first, want, rtol=1e-5, atol=1e-5)


def test_linear_act_then_fusion(linear_c):
    def f(x, w, b):
        return (F.linear(x, w, b).relu() * 2.0 + 1.0).tanh()

    args = [ember.tensor(a) for a in _lin_arrays(4)]
    c = ember.jit.compile(f)
    c(*args)
    got = c(*args)
    g = c.traces[0].compiled.graph
    g.lint()
    assert [n.kwargs["ops"] for n in g.nodes if n.kind == "fused"] == ["linear,relu",
                                                                       "mul,add,tanh"]
    np.testing.assert_allclose(got._data, f(*args)._data, rtol=1e-5, atol=1e-6)


def test_linear_act_not_applied_where_backward_needs_the_ctx(linear_c):
    model, x = _w5_mlp(), ember.randn(1, 64)
    raw = ember.jit.trace(model, (x,), passes=[]).graph
    assert any(n.kind == "backward" for n in raw.nodes)
    g, applied = run_passes(raw)
    assert "linear_act" in applied
    assert not any(n.kind == "fused" and "linear" in n.kwargs.get("ops", "") for n in g.nodes)
    assert g.ops().count("linear") == 3 and g.ops().count("relu") == 2
    c = ember.jit.compile(model)
    c(x)
    model.zero_grad()
    c(x).sum().backward()
    grads = [p.grad._data.copy() for p in model.parameters()]
    model.zero_grad()
    model(x).sum().backward()
    for got, p in zip(grads, model.parameters()):
        np.testing.assert_allclose(got, p.grad._data, rtol=1e-5, atol=1e-6)


# ------------------------------------------------------------------ pipeline & options


def test_run_passes_options():
    f = ember.jit.trace(lambda x: (x * 1).exp() + (x * 1).exp(), (ember.ones(3),), passes=[])
    raw = f.graph
    before = str(raw)
    g, applied = run_passes(raw, [])
    assert applied == [] and str(g) == before and g is not raw
    g, applied = run_passes(raw, False)
    assert applied == []
    g, applied = run_passes(raw, ("cse", "dce"))
    assert applied == ["cse", "dce"] and g.ops() == ["mul", "exp", "add"]
    g, applied = run_passes(raw)
    assert applied == list(DEFAULT_PIPELINE)
    assert str(raw) == before
    assert set(pass_names()) == set(DEFAULT_PIPELINE)
    with pytest.raises(ValueError, match="unknown JIT pass"):
        run_passes(raw, ["nope"])


def test_compile_passes_argument():
    def fn(x):
        return (x * 1).exp() + (x * 1).exp()

    x = ember.randn(3)
    for passes, applied, ops in ((None, list(DEFAULT_PIPELINE), []), ([], [], None),
                                 (["dce"], ["dce"], ["mul", "exp", "mul", "exp", "add"])):
        c = ember.jit.compile(fn, passes=passes)
        c(x)
        got = c(x)
        np.testing.assert_allclose(got._data, fn(x)._data, rtol=1e-6)
        comp = c.traces[0].compiled
        assert comp.passes == applied
        if ops is not None:
            assert comp.graph.ops() == ops
    t = ember.jit.trace(fn, (x,), passes=["cse"])
    assert t.traces[0].compiled.passes == ["cse"] and t.graph.ops() == ["mul", "exp", "add"]


def test_dump_prints_and_writes(capsys, tmp_path, monkeypatch):
    raw = ember.jit.trace(lambda x: x.exp().neg(), (ember.ones(3),), passes=[]).graph
    run_passes(raw, ["dce", "fusion"], dump=True)
    text = capsys.readouterr().out
    assert "# after pass 0: dce" in text and "# after pass 1: fusion" in text
    assert "ops='exp,neg'" in text
    run_passes(raw, ["dce"], dump="0")
    assert capsys.readouterr().out == ""
    prefix = tmp_path / "g"
    run_passes(raw, ["dce", "cse"], dump=str(prefix))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["g.0.dce.txt", "g.1.cse.txt"]
    assert "exp" in (tmp_path / "g.1.cse.txt").read_text()
    monkeypatch.setenv("EMBER_JIT_DUMP", "1")
    ember.jit.compile(lambda x: x.sin() * 2, passes=["simplify"])(ember.ones(2))
    assert "# after pass 0: simplify" in capsys.readouterr().out
