"""ember.backend.ckernels: math accuracy, elementwise programs, row kernels, the disk cache, the
backend switch, and the eager ops that use the kernels (compared with torch)."""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from ember.backend import ckernels as ck

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.skipif(not ck._find_cc(), reason="no C compiler")


@pytest.fixture(autouse=True)
def _default_backend(monkeypatch):
    """Default backend, and the same random data whatever the test order."""
    global rng
    monkeypatch.delenv("EMBER_JIT_BACKEND", raising=False)
    rng = np.random.default_rng(0)


@pytest.fixture(scope="module")
def need_c():
    if not ck.available():
        pytest.skip("the C compiler does not build kernels here")


class _Ctx:
    recording = False
    _tensor_mode = False

    def save_for_backward(self, *a):
        pass


rng = np.random.default_rng(0)


def _math_inputs(dt):
    fi = np.finfo(dt)
    tiny = float(fi.tiny)
    big = float(fi.max) / 2
    parts = [np.linspace(-10, 10, 4001), rng.standard_normal(4000) * 3,
             np.geomspace(tiny / 2 ** 10, 1e-3, 500), -np.geomspace(tiny / 2 ** 10, 1e-3, 500),
             np.geomspace(1, big, 500), -np.geomspace(1, big, 500),
             [0.0, -0.0, np.inf, -np.inf, np.nan, tiny, -tiny, float(fi.smallest_subnormal)]]
    return np.concatenate([np.asarray(p, np.float64) for p in parts]).astype(dt)


_REF = {"exp": np.exp, "log": np.log, "tanh": np.tanh, "expm1": np.expm1, "log1p": np.log1p,
        "sqrt": np.sqrt, "erf": np.frompyfunc(math.erf, 1, 1),
        "erfc": np.frompyfunc(math.erfc, 1, 1), "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
        "sin": np.sin, "cos": np.cos}


_MATH_CACHE: dict = {}


def _all_outputs(names, dt, n_in=1, arg_orders=((0,),)):
    """One kernel computing every op in ``names`` (for each argument order) as its outputs,
    so the tests compile a few kernels instead of one per op."""
    key = (tuple(names), np.dtype(dt).name, arg_orders)
    if key not in _MATH_CACHE:
        prog = [(op, [("in", i) for i in order], {}) for op in names for order in arg_orders]
        k = ck.compile_elementwise(prog, n_in, dt, outputs=range(len(prog)))
        assert k is not None
        _MATH_CACHE[key] = (prog, k)
    return _MATH_CACHE[key]


@pytest.mark.parametrize("name", sorted(_REF))
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_math_accuracy(need_c, name, dt):
    x = _math_inputs(dt)
    if name in ("sin", "cos"):
        x = x[~(np.abs(x) > 1e4)]  # argument reduction of huge |x|: not what kernels need
    _, k = _all_outputs(sorted(_REF), dt)
    y = k(x)[sorted(_REF).index(name)]
    with np.errstate(all="ignore"):
        r = np.asarray(_REF[name](x.astype(np.float64)), np.float64)
    fi = np.finfo(dt)
    # float32 in a few ulp of the float64 value; float64 within 3 ulp of NumPy's libm
    bound = 4.0 if dt is np.float32 else 3.0
    fin = np.isfinite(r) & (np.abs(r) <= float(fi.max))
    ulp = np.spacing(np.maximum(np.abs(r[fin]), float(fi.tiny)).astype(dt)).astype(np.float64)
    err = np.abs(y[fin].astype(np.float64) - r[fin]) / ulp
    assert err.max() <= bound, (name, x[fin][err.argmax()], err.max())
    # inf / nan propagate like the math
    with np.errstate(over="ignore"):
        r = r.astype(dt)
    np.testing.assert_array_equal(np.isnan(y), np.isnan(r))
    np.testing.assert_array_equal(y[np.isinf(r)], r[np.isinf(r)])


# --------------------------------------------------------------------- elementwise programs

_UNARY = ["neg", "exp", "log", "tanh", "sigmoid", "relu", "erf", "erfc", "sqrt", "rsqrt", "abs",
          "silu", "reciprocal", "expm1", "log1p", "sin", "cos"]
_BINARY = ["add", "sub", "mul", "div", "maximum", "minimum", "pow"]


def _reference(program, inputs, dt, outputs=None):
    return ck.run_numpy(program, inputs, outputs or [len(program) - 1], dt)


def _compare(got, program, inputs, dt, outputs=None, exact=False):
    got = got if isinstance(got, tuple) else (got,)
    full = [a for a in inputs if a.dtype != np.bool_]
    shape = np.broadcast_shapes(*(a.shape for a in inputs)) if full else ()
    bcast = [np.broadcast_to(a, shape) for a in inputs]
    with np.errstate(all="ignore"):
        ref = _reference(program, bcast, dt, outputs)
    for j, (g, r) in enumerate(zip(got, ref)):
        assert g.dtype == dt and g.shape == shape
        if exact:
            np.testing.assert_array_equal(g, r)
        else:
            tol = 2e-6 if dt is np.float32 else 1e-14
            np.testing.assert_allclose(g, r, rtol=tol, atol=tol, equal_nan=True,
                                       err_msg=str(program[(outputs or [-1])[j]]))


def _check(program, inputs, dt, outputs=None, exact=False):
    k = ck.compile_elementwise(program, len(inputs), dt, outputs=outputs)
    assert k is not None
    _compare(k(*inputs), program, inputs, dt, outputs, exact)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_unary_ops(need_c, dt):
    x = (rng.standard_normal(1003) * 2).astype(dt)
    x[:5] = [0.0, np.nan, np.inf, -np.inf, -0.0]
    prog, k = _all_outputs(_UNARY, dt)
    _compare(k(x), prog, [x], dt, outputs=list(range(len(prog))))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("kind", ["full", "scalar", "row", "row2d"])
def test_binary_ops_and_broadcast(need_c, dt, kind):
    a = rng.standard_normal((37, 29)).astype(dt)
    a[0, :3] = [np.nan, 0.0, np.inf]
    b = {"full": rng.standard_normal((37, 29)), "scalar": rng.standard_normal(1),
         "row": rng.standard_normal(29), "row2d": rng.standard_normal((1, 29))}[kind]
    b = np.asarray(b, dt)
    prog, k = _all_outputs(_BINARY, dt, 2, ((0, 1), (1, 0)))
    _compare(k(a, b), prog, [a, b], dt, outputs=list(range(len(prog))))


def test_pow_scalar_exponent(need_c):
    x = np.abs(rng.standard_normal(515)).astype(np.float32)
    x[:2] = [0.0, np.inf]
    prog = [("pow", [("in", 0), ("const", p)], {}) for p in (2.0, 0.5, -1.0, 3.0, 1.7, 0.0, 1.0)]
    prog.append(("pow", [("const", 1.5), ("in", 0)], {}))
    _check(prog, [x], np.float32, outputs=list(range(len(prog))))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("n", [0, 1, 7, 17, 1000])
def test_add_mul_chain_exact_and_sizes(need_c, dt, n):
    a, b = (rng.standard_normal(n).astype(dt) for _ in range(2))
    prog = [("mul", [("in", 0), ("in", 1)], {}), ("add", [("v", 0), ("in", 0)], {}),
            ("mul", [("v", 1), ("const", 0.5)], {}), ("sub", [("v", 2), ("in", 1)], {})]
    _check(prog, [a, b], dt, exact=True)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gelu_and_params(need_c, dt):
    x = (rng.standard_normal((64, 33)) * 4).astype(dt)
    prog = [("gelu", [("in", 0)], {"approximate": "none"}),
            ("gelu", [("in", 0)], {"approximate": "tanh"}),
            ("leaky_relu", [("in", 0)], {"negative_slope": 0.2}),
            ("clamp", [("in", 0)], {"lo": -0.5, "hi": 1.0}),
            ("clamp", [("in", 0)], {"lo": -0.5})]
    _check(prog, [x], dt, outputs=list(range(len(prog))))


def test_where_compare_masked_fill_and_outputs(need_c):
    dt = np.float32
    x = rng.standard_normal((40, 16)).astype(dt)
    y = rng.standard_normal(16).astype(dt)
    cond = rng.standard_normal((40, 16)) > 0
    _check([("where", [("in", 0), ("in", 1), ("in", 2)], {})], [cond, x, y], dt)
    _check([("masked_fill", [("in", 0), ("in", 1)], {"value": -1e9})], [x, cond], dt)
    prog = [("gt", [("in", 0), ("const", 0.0)], {}),
            ("mul", [("in", 1), ("const", 2.0)], {}),
            ("where", [("v", 0), ("v", 1), ("const", 0.0)], {}),
            ("exp", [("in", 0)], {})]
    _check(prog, [x, x], dt, outputs=[2, 3])
    # threshold_backward-style: g * (x > 0)
    _check([("le", [("in", 1), ("const", 0.0)], {}),
            ("where", [("v", 0), ("const", 0.0), ("in", 0)], {})], [x, y], dt)


def test_out_argument_and_errors(need_c):
    k = ck.compile_elementwise([("add", [("in", 0), ("in", 1)], {})], 2, np.float32)
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = np.empty_like(a)
    assert k(out, a, a) is out
    np.testing.assert_array_equal(out, a + a)
    with pytest.raises(TypeError):
        k(a, a.astype(np.float64))
    with pytest.raises(TypeError):
        k(a.T, a.T)
    with pytest.raises(ValueError):
        k(a, np.ones(4, np.float32))


def test_unsupported_returns_none(need_c):
    assert ck.compile_elementwise([("cumsum", [("in", 0)], {})], 1, np.float32) is None
    assert ck.compile_elementwise([("exp", [("in", 3)], {})], 1, np.float32) is None
    assert ck.compile_elementwise([("exp", [("in", 0)], {})], 1, np.int32) is None
    assert ck.compile_elementwise([("gt", [("in", 0), ("in", 0)], {})], 1, np.float32) is None


@pytest.mark.parametrize("nt", ["1", "2"])
def test_parallel_matches_serial(need_c, monkeypatch, nt):
    monkeypatch.setenv("EMBER_NUM_THREADS", nt)
    x = rng.standard_normal((ck.PARALLEL_MIN // 128 + 3, 128)).astype(np.float32)
    b = rng.standard_normal(128).astype(np.float32)
    _check([("mul", [("in", 0), ("in", 1)], {}), ("tanh", [("v", 0)], {})], [x, b], np.float32)
    _check([("mul", [("in", 0), ("in", 0)], {})], [x.reshape(-1)], np.float32, exact=True)


# ------------------------------------------------------------------------- row kernels

@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(3, 1), (5, 7), (64, 129), (2, 3, 64)])
@pytest.mark.parametrize("seed", range(4))
def test_softmax_rows(need_c, dt, shape, seed):
    x = (np.random.default_rng(seed).standard_normal(shape) * 5).astype(dt)
    x.reshape(-1, shape[-1])[0, 0] = -np.inf
    t = torch.from_numpy(x)
    tol = 1e-6 if dt is np.float32 else 1e-13
    for fn, ref in ((ck.softmax, torch.softmax), (ck.log_softmax, torch.log_softmax)):
        out = np.empty_like(x)
        assert fn(x, out)
        np.testing.assert_allclose(out, ref(t, -1).numpy(), rtol=tol * 4, atol=tol)


def test_softmax_special_rows(need_c):
    x = np.array([[-np.inf] * 4, [np.nan, 1, 2, 3], [np.inf, 1, 2, 3], [1e30, 0, 0, 0]],
                 np.float32)
    for fn, ref in ((ck.softmax, torch.softmax), (ck.log_softmax, torch.log_softmax)):
        out = np.empty_like(x)
        assert fn(x, out)
        np.testing.assert_allclose(out, ref(torch.from_numpy(x), -1).numpy(), equal_nan=True)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_layer_norm_rows(need_c, dt, affine):
    rows, m = 50, 96
    x = (rng.standard_normal((rows, m)) * 3 + 1).astype(dt)
    w = rng.standard_normal(m).astype(dt) if affine in ("both", "weight") else None
    b = rng.standard_normal(m).astype(dt) if affine in ("both", "bias") else None
    g = rng.standard_normal((rows, m)).astype(dt)
    y, mean, rstd = np.empty_like(x), np.empty(rows, dt), np.empty(rows, dt)
    assert ck.layer_norm(x, w, b, 1e-5, y, mean, rstd)
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_() if w is not None else None
    tb = torch.from_numpy(b).requires_grad_() if b is not None else None
    ty = torch.nn.functional.layer_norm(tx, (m,), tw, tb, 1e-5)
    ty.backward(torch.from_numpy(g))
    tol = 2e-5 if dt is np.float32 else 1e-12
    np.testing.assert_allclose(y, ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(1), rtol=tol, atol=tol)
    np.testing.assert_allclose(rstd, 1 / np.sqrt(x.astype(np.float64).var(1) + 1e-5), rtol=tol)
    gx, gw, gb = ck.layer_norm_backward(g, x, mean, rstd, w, True, w is not None, b is not None)
    np.testing.assert_allclose(gx, tx.grad.numpy(), rtol=tol, atol=tol)
    if w is not None:
        np.testing.assert_allclose(gw, tw.grad.numpy(), rtol=tol, atol=tol * 10)
    if b is not None:
        np.testing.assert_allclose(gb, tb.grad.numpy(), rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("approximate", ["none", "tanh"])
@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_gelu_kernels(need_c, approximate, dt):
    x = np.concatenate([rng.standard_normal(2001) * 4, [0.0, -30, 30, np.inf, -np.inf, np.nan]])
    x = x.astype(dt)
    g = rng.standard_normal(x.size).astype(dt)
    out, gx = np.empty_like(x), np.empty_like(x)
    assert ck.gelu(x, out, approximate) and ck.gelu_backward(g, x, gx, approximate)
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.gelu(tx, approximate=approximate)
    ty.backward(torch.from_numpy(g))
    # torch's float32 erf GELU is off by up to 1.1e-6 absolute near x = -3.5 (ember: 3e-9)
    tol = 3e-6 if dt is np.float32 else 1e-13
    fin = np.isfinite(x)  # torch's float32 erf form gives nan at +inf; ember gives inf
    np.testing.assert_allclose(out[fin], ty.detach().numpy()[fin], rtol=tol, atol=tol)
    np.testing.assert_allclose(gx[fin], tx.grad.numpy()[fin], rtol=tol * 4, atol=tol * 4)
    np.testing.assert_array_equal(out[~fin], [np.inf, np.nan, np.nan])
    assert np.isnan(gx[~fin]).all()


def test_row_kernels_refuse_bad_arrays(need_c):
    x = np.ones((4, 6), np.float32)
    assert not ck.softmax(x.T, np.empty((6, 4), np.float32))
    assert not ck.softmax(x.astype(np.float16), np.empty((4, 6), np.float16))
    assert not ck.gelu(x, np.empty((4, 6), np.float64))
    assert ck.layer_norm_backward(x.T, x.T, x[0], x[0], None) is None


# ------------------------------------------------------------------ cache and backend switch

@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache dir and a forgotten compiler probe (restored afterwards)."""
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path))
    ck._reset_for_tests()
    yield tmp_path
    ck._reset_for_tests()


def test_disk_cache(need_c, fresh):
    src = "int forty_two(void) { return 42; }\n"
    lib = ck.build(src)
    assert lib.forty_two() == 42
    files = {p.name for p in fresh.glob("*.so")}
    assert len(files) == 2  # the probe and this one
    mtimes = {p.name: p.stat().st_mtime_ns for p in fresh.glob("*.so")}
    ck._libs.clear()
    assert ck.build(src).forty_two() == 42  # loaded from disk, not rebuilt
    assert {p.name: p.stat().st_mtime_ns for p in fresh.glob("*.so")} == mtimes
    assert ck.build(src.replace("42", "43")).forty_two() == 43
    assert len(list(fresh.glob("*.so"))) == 3
    assert not [p for p in fresh.iterdir() if not p.name.endswith(".so")]  # no temp files


def test_compile_error_falls_back(need_c, fresh):
    with pytest.warns(RuntimeWarning, match="failed to build"):
        assert ck.build("this is not C") is None


def test_backend_env(need_c, monkeypatch):
    assert ck.backend_name() == "c"
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    assert not ck.available() and ck.backend_name() == "numpy"
    assert ck.compile_elementwise([("exp", [("in", 0)], {})], 1, np.float32) is None
    x = np.ones((2, 3), np.float32)
    assert not ck.softmax(x, np.empty_like(x))
    monkeypatch.setenv("EMBER_JIT_BACKEND", "c")
    assert ck.available()


def test_broken_compiler(fresh, monkeypatch):
    monkeypatch.setenv("CC", "/bin/false")
    assert not ck.available()
    assert ck.backend_name() == "numpy"
    assert ck.compile_elementwise([("exp", [("in", 0)], {})], 1, np.float32) is None
    x = np.ones((2, 3), np.float32)
    assert not ck.gelu(x, np.empty_like(x))
    monkeypatch.setenv("EMBER_JIT_BACKEND", "c")
    ck._reset_for_tests()
    with pytest.raises(RuntimeError, match="no working C compiler"):
        ck.available()


def test_cache_key_covers_compiler(need_c, fresh, monkeypatch):
    ck.build("int f(void) { return 1; }\n")
    before = set(os.listdir(fresh))
    ck._reset_for_tests()
    monkeypatch.setattr(ck, "_BASE_FLAGS", ck._BASE_FLAGS + ("-DEMBER_TEST_FLAG",))
    ck.build("int f(void) { return 1; }\n")
    assert set(os.listdir(fresh)) - before  # other flags: other files


# ------------------------------------------------------------ eager ops using the kernels

def _ember():
    import ember
    import ember.nn.functional as F
    return ember, F


@pytest.mark.parametrize("use_c", [True, False])
@pytest.mark.parametrize("approximate", ["none", "tanh"])
def test_eager_gelu(need_c, monkeypatch, use_c, approximate):
    if not use_c:
        monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    ember, F = _ember()
    x = (rng.standard_normal((64, 130)) * 3).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ex = ember.tensor(x, requires_grad=True)
    ey = F.gelu(ex, approximate=approximate)
    ey.backward(ember.tensor(g))
    tx = torch.from_numpy(x).requires_grad_()
    ty = torch.nn.functional.gelu(tx, approximate=approximate)
    ty.backward(torch.from_numpy(g))
    # torch's float32 erf GELU is off by up to 1.1e-6 absolute near x = -3.5 (ember: 3e-9)
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=3e-6)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-5)


def test_eager_gelu_second_order(need_c):
    ember, F = _ember()
    x = rng.standard_normal(5000)
    ex = ember.tensor(x, requires_grad=True)
    (g1,) = ember.autograd.grad(F.gelu(ex).sum(), ex, create_graph=True)
    (g2,) = ember.autograd.grad(g1.sum(), ex)
    tx = torch.from_numpy(x).requires_grad_()
    (t1,) = torch.autograd.grad(torch.nn.functional.gelu(tx).sum(), tx, create_graph=True)
    (t2,) = torch.autograd.grad(t1.sum(), tx)
    np.testing.assert_allclose(g1.detach().numpy(), t1.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(g2.numpy(), t2.numpy(), rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("name", ["softmax", "log_softmax"])
@pytest.mark.parametrize("dim", [-1, 0])
def test_eager_softmax(need_c, name, dim):
    ember, F = _ember()
    x = (rng.standard_normal((8, 16, 40)) * 4).astype(np.float32)
    g = rng.standard_normal(x.shape).astype(np.float32)
    ex = ember.tensor(x, requires_grad=True)
    ey = getattr(F, name)(ex, dim=dim)
    ey.backward(ember.tensor(g))
    tx = torch.from_numpy(x).requires_grad_()
    ty = getattr(torch, name)(tx, dim)
    ty.backward(torch.from_numpy(g))
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("shape", [(40, 128), (4, 8, 16, 16)])
def test_eager_layer_norm(need_c, dt, affine, shape):
    ember, F = _ember()
    ns = shape[-1:] if len(shape) == 2 else shape[-2:]
    x = (rng.standard_normal(shape) * 2 + 0.5).astype(dt)
    g = rng.standard_normal(shape).astype(dt)
    w = rng.standard_normal(ns).astype(dt) if affine else None
    b = rng.standard_normal(ns).astype(dt) if affine else None
    ex = ember.tensor(x, requires_grad=True)
    ew = ember.tensor(w, requires_grad=True) if affine else None
    eb = ember.tensor(b, requires_grad=True) if affine else None
    ey = F.layer_norm(ex, ns, ew, eb, 1e-5)
    ey.backward(ember.tensor(g))
    tx = torch.from_numpy(x).requires_grad_()
    tw = torch.from_numpy(w).requires_grad_() if affine else None
    tb = torch.from_numpy(b).requires_grad_() if affine else None
    ty = torch.nn.functional.layer_norm(tx, ns, tw, tb, 1e-5)
    ty.backward(torch.from_numpy(g))
    tol = 1e-4 if dt is np.float32 else 1e-10
    np.testing.assert_allclose(ey.detach().numpy(), ty.detach().numpy(), rtol=tol, atol=tol)
    np.testing.assert_allclose(ex.grad.numpy(), tx.grad.numpy(), rtol=tol, atol=tol)
    if affine:
        np.testing.assert_allclose(ew.grad.numpy(), tw.grad.numpy(), rtol=tol, atol=tol * 10)
        np.testing.assert_allclose(eb.grad.numpy(), tb.grad.numpy(), rtol=tol, atol=tol * 10)


def test_eager_layer_norm_double_backward(need_c):
    ember, F = _ember()
    x = rng.standard_normal((40, 128))
    w = rng.standard_normal(128)
    ex, ew = ember.tensor(x, requires_grad=True), ember.tensor(w, requires_grad=True)
    tx, tw = torch.from_numpy(x).requires_grad_(), torch.from_numpy(w).requires_grad_()
    res = []
    for lib, a, b, fn in ((ember, ex, ew, F.layer_norm),
                          (torch, tx, tw, torch.nn.functional.layer_norm)):
        y = fn(a, (128,), b, None, 1e-5)
        (g1,) = lib.autograd.grad((y * y * y).sum(), a, create_graph=True)
        (g2,) = lib.autograd.grad((g1 * g1).sum(), b)
        res.append((g1.detach().numpy(), g2.numpy()))
    np.testing.assert_allclose(res[0][0], res[1][0], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(res[0][1], res[1][1], rtol=1e-8, atol=1e-8)


def test_eager_group_norm(need_c):
    ember, F = _ember()
    x = rng.standard_normal((4, 8, 32, 32)).astype(np.float32)
    ey = F.group_norm(ember.tensor(x), 2)
    ty = torch.nn.functional.group_norm(torch.from_numpy(x), 2)
    np.testing.assert_allclose(ey.numpy(), ty.numpy(), rtol=1e-4, atol=1e-5)


# ---------------------------------------------------------------- extension-module calls

def _bound_mul_add(n=10):
    from ember.backend import ckernels_call
    if ckernels_call.caller() is None:
        pytest.skip("no C extension modules here (Python headers missing?)")
    k = ck.compile_elementwise([("mul", [("in", 0), ("in", 1)], {}),
                                ("add", [("v", 0), ("in", 2)], {})], 3, np.float32)
    return k.bind(("full", "row", "scalar"), (2, n // 2), n // 2)


def test_bound_kernel_runs_like_numpy(need_c):
    f = _bound_mul_add()
    x = rng.standard_normal((2, 5)).astype(np.float32)
    w = rng.standard_normal(5).astype(np.float32)
    b = np.float32(0.5).reshape(())
    out = np.empty((2, 5), np.float32)
    assert f(out, x, w, np.asarray(b)) is None
    np.testing.assert_array_equal(out, x * w + b)


@pytest.mark.parametrize("bad", ["dtype", "size", "strided", "readonly_out", "list", "count"])
def test_bound_kernel_rejects_arrays_unlike_its_spec(need_c, bad):
    f = _bound_mul_add()
    args = [np.empty((2, 5), np.float32), np.ones((2, 5), np.float32),
            np.ones(5, np.float32), np.ones((), np.float32)]
    if bad == "dtype":
        args[1] = args[1].astype(np.float64)
    elif bad == "size":
        args[2] = np.ones(4, np.float32)
    elif bad == "strided":
        args[1] = np.ones((2, 10), np.float32)[:, ::2]
    elif bad == "readonly_out":
        args[0].flags.writeable = False
    elif bad == "list":
        args[3] = [1.0]
    else:
        args = args[:3]
    with pytest.raises((TypeError, ValueError)):
        f(*args)


def test_fused_executor_falls_back_when_inputs_need_preparing(need_c, monkeypatch):
    from ember.jit.passes import fusion
    monkeypatch.setattr(fusion, "C_MIN", 0)
    monkeypatch.setattr(fusion, "C_MIN_FAST", 0)
    ex = fusion.FusedExecutor([("mul", (("in", 0), ("in", 1)), {}),
                               ("tanh", (("v", 0),), {})], ("full", "scalar"), (3, 4),
                              np.float32)
    assert ex.mode == "c"
    x = rng.standard_normal((3, 8)).astype(np.float32)
    want = np.tanh(x[:, ::2] * np.float32(2.0))
    # a strided input and a Python number: the checked fast call refuses, NumPy prepares
    np.testing.assert_allclose(ex(x[:, ::2], 2.0), want, rtol=1e-6)
    np.testing.assert_allclose(ex(np.ascontiguousarray(x[:, ::2]), np.float32(2.0)), want,
                               rtol=1e-6)
