"""ember.backend.cgemm: the packed C GEMM against float64 references for every operand
layout, tile shape and edge, its input checks, its threads (results independent of them,
and safe after fork), and the linear layers that use it."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import cext, cgemm
from ember.backend import ckernels as ck
from ember.nn.functional import _layers
from ember.ops.registry import NULL_CTX, OPS


@pytest.fixture(autouse=True)
def _default_backend(monkeypatch):
    monkeypatch.delenv("EMBER_JIT_BACKEND", raising=False)
    monkeypatch.delenv("EMBER_NUM_THREADS", raising=False)


@pytest.fixture
def gemm():
    k = cgemm.gemm_kernel() if ck._find_cc() else None
    if k is None:
        pytest.skip("the C compiler does not build extension modules here")
    return k


def _ref(a, b, bias, relu):
    """float64 reference and the bound on a float32/64 sum of k products in any order."""
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    ref, mag = a64 @ b64, np.abs(a64) @ np.abs(b64)
    if bias is not None:
        ref += bias
        mag += np.abs(bias.astype(np.float64))
    if relu:
        ref = np.maximum(ref, 0)
    return ref, (a.shape[1] + 2) * np.finfo(a.dtype).eps * mag


def _layouts(m, k, n, dt, seed=0):
    """(name, a, b) for one product in each layout the kernel reads: C and Fortran order,
    a transposed weight (linear's ``w.T``), strided and reversed views."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((m, k)).astype(dt)
    w = rng.standard_normal((n, k)).astype(dt)
    wide = rng.standard_normal((2 * k, 2 * n)).astype(dt)
    return [("C", a, np.ascontiguousarray(w.T)), ("w.T", a, w.T),
            ("F", np.asfortranarray(a), np.asfortranarray(w.T)),
            ("strided", np.repeat(a, 2, axis=1)[:, ::2], wide[::2, ::2]),
            ("reversed", a[::-1], w.T[:, ::-1])]


# Shapes: narrow outputs (one vector a row), wide ones, partial tiles in both directions,
# several k-blocks (EM_KC = 256), the sizes of the W5 layers, and a last row block moved up
# over rows another thread's blocks store, in both tile widths, with row blocks handed out
# to threads as they come (one k-block) and split in advance (several), and few columns
# by dot products (k not a whole number of vectors).
_SHAPES = [(17, 3, 2), (40, 64, 10), (33, 300, 65), (256, 64, 256), (25, 513, 40),
           (1, 7, 5), (130, 16, 17), (230, 300, 40), (203, 200, 10), (50, 70, 5)]


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("m, k, n", _SHAPES)
@pytest.mark.parametrize("epilogue", ["none", "bias", "bias+relu", "relu"])
def test_matches_float64_in_every_layout(gemm, dt, m, k, n, epilogue):
    bias = np.random.default_rng(1).standard_normal(n).astype(dt) if "bias" in epilogue \
        else None
    relu = "relu" in epilogue
    for name, a, b in _layouts(m, k, n, dt):
        ref, bound = _ref(a, b, bias, relu)
        out = np.full((m, n), np.nan, dt)
        assert gemm(a, b, out, bias, relu, 1) is out, name
        assert np.all(np.abs(out - ref) <= bound), name
        assert not (relu and np.signbit(out).any())
        # a new array, and the same bits from two threads (each tile is summed alike)
        new = gemm(a, b, None, bias, relu, 2)
        assert new.flags.c_contiguous and new.dtype == dt
        np.testing.assert_array_equal(new, out)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_empty_and_k0(gemm, dt):
    bias = np.array([1, -0.0, -2], dt)
    r = gemm(np.ones((20, 0), dt), np.ones((0, 3), dt), None, bias, False, 1)
    np.testing.assert_array_equal(r, np.tile(bias, (20, 1)))
    r = gemm(np.ones((20, 0), dt), np.ones((0, 3), dt), None, bias, True, 2)
    np.testing.assert_array_equal(r, np.maximum(np.tile(bias, (20, 1)), 0))
    assert not np.signbit(r).any()    # maximum(-0.0, 0) is 0.0, as in the relu op
    np.testing.assert_array_equal(gemm(np.ones((20, 0), dt), np.ones((0, 3), dt), None,
                                       None, False, 1), np.zeros((20, 3), dt))
    assert gemm(np.ones((0, 4), dt), np.ones((4, 3), dt), None, None, True, 1).shape == (0, 3)
    assert gemm(np.ones((20, 4), dt), np.ones((4, 0), dt), None, None, True, 1).shape == (20, 0)


@pytest.mark.parametrize("k, n", [(40, 20), (70, 6)])     # tiles; dot products
@pytest.mark.parametrize("relu", [True, False])
def test_nan_and_inf_like_the_ops(gemm, relu, k, n):
    rng = np.random.default_rng(3)
    a, w = rng.standard_normal((30, k)).astype(np.float32), rng.standard_normal(
        (n, k)).astype(np.float32)
    a[0, 3], a[5, 1], w[n - 1, 2] = np.nan, np.inf, -np.inf
    want = OPS["linear"].forward(NULL_CTX, a, w, None)
    if relu:
        want = OPS["relu"].forward(NULL_CTX, want)
    got = gemm(a, w.T, None, None, relu, 1)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isinf(got), np.isinf(want))


def test_rejects_bad_arguments(gemm):
    a, b = np.ones((20, 4), np.float32), np.ones((4, 3), np.float32)
    bias, out = np.ones(3, np.float32), np.empty((20, 3), np.float32)
    misaligned = np.zeros(321, np.uint8)[1:].view(np.float32).reshape(20, 4)
    with pytest.raises(TypeError, match="takes 6 arguments"):
        gemm(a, b, out, bias, False)
    bad = [
        (TypeError, "must be a numpy.ndarray", (a.tolist(), b, out, bias, False, 1)),
        (TypeError, "float32 or all float64", (a, b.astype(np.float64), out, bias, False, 1)),
        (TypeError, "float32 or all float64", (a.astype(np.float16), b.astype(np.float16),
                                                   None, None, False, 1)),
        (TypeError, "float32 or all float64", (a.astype(int), b.astype(int), None, None,
                                                   False, 1)),
        (ValueError, "2 dimension", (a[0], b, out, bias, False, 1)),
        (ValueError, "shapes must be", (a, b[:3], out, bias, False, 1)),
        (ValueError, "shapes must be", (a, b, out[:, :2], bias, False, 1)),
        (ValueError, "shapes must be", (a, b, out, bias[:2], False, 1)),
        (ValueError, "1 dimension", (a, b, out, bias[None], False, 1)),
        (ValueError, "bias must be contiguous", (a, b, out, np.ones(6, np.float32)[::2], False,
                                                 1)),
        (ValueError, "C-contiguous", (a, b, np.empty((3, 20), np.float32).T, bias, False, 1)),
        (ValueError, "must not share memory", (a, np.ones((4, 4), np.float32), a, None,
                                                False, 1)),
        (ValueError, "aligned", (misaligned, b, out, bias, False, 1)),
        (ValueError, "threads must be in 1..64", (a, b, out, bias, False, 0)),
        (ValueError, "byte order", (a.astype(">f4"), b, out, bias, False, 1)),
    ]
    ro = np.empty((20, 3), np.float32)
    ro.flags.writeable = False
    bad.append((ValueError, "writeable", (a, b, ro, bias, False, 1)))
    for exc, msg, args in bad:
        with pytest.raises(exc, match=msg):
            gemm(*args)


def test_two_python_threads_at_once(gemm):
    """Calls release the GIL; each gets scratch of its own."""
    rng = np.random.default_rng(0)
    cases = [(rng.standard_normal((200, 300)).astype(np.float32),
              rng.standard_normal((300, 150)).astype(np.float32)) for _ in range(2)]
    want = [gemm(a, b, None, None, False, 1) for a, b in cases]
    errors = []

    def work(i):
        for _ in range(30):
            got = gemm(*cases[i], None, None, False, 1)
            if not np.array_equal(got, want[i]):
                errors.append(i)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_forked_child_does_not_hang(gemm):
    """GNU OpenMP waits forever in a forked child for its parent's pool threads; the
    kernels run serially there instead (ckernels' loops too)."""
    code = (
        "import numpy as np, os\n"
        "from ember.backend import cgemm, ckernels_elementwise as ce\n"
        "k = cgemm.gemm_kernel()\n"
        "a = np.ones((256, 256), np.float32)\n"
        "k(a, a, None, None, False, 2)\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    r = k(a, a, None, None, False, 2)\n"
        "    os._exit(0 if r[0, 0] == 256 else 3)\n"
        "_, status = os.waitpid(pid, 0)\n"
        "print(os.waitstatus_to_exitcode(status))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "0"


def test_fits_and_threads(monkeypatch):
    assert not cgemm.gemm_fits(cext.LINEAR_MAX_ROWS, 256, 256)     # the dot-product kernel's
    assert cgemm.gemm_fits(cext.LINEAR_MAX_ROWS + 1, 256, 256)
    assert not cgemm.gemm_fits(1024, 1024, 1024)                    # BLAS's
    assert not cgemm.gemm_fits(64, 0, 64)
    assert cgemm.gemm_threads(64, 64, 64) == 1
    big = cgemm.gemm_threads(256, 256, 256)
    assert big == min(os.cpu_count() or 1, 8)
    monkeypatch.setenv("EMBER_NUM_THREADS", "1")
    assert cgemm.gemm_threads(256, 256, 256) == 1
    assert cgemm.c_linear_fits(1, 10, 64) and cgemm.c_linear_fits(300, 10, 64)
    assert not cgemm.c_linear_fits(4096, 4096, 8)
    # one thread (the eager op, where BLAS may run next): products that want threads go
    # to BLAS
    assert not cgemm.c_linear_fits(256, 256, 256)
    assert cgemm.c_linear_fits(256, 256, 256, parallel=True)


@pytest.mark.parametrize("env", ["1", " 1 ", "0", "-3", "", "64", "x"])
def test_team_threads_reads_the_cap_as_int_does(gemm, monkeypatch, env):
    """The cap is read by C's getenv (os.environ costs 1 us where it is unset); values
    mean what they mean to int(), and a value int() rejects raises its ValueError."""
    monkeypatch.setenv("EMBER_NUM_THREADS", env)
    cores = min(os.cpu_count() or 1, 8)
    try:
        want = min(cores, max(1, int(env))) if env else cores
    except ValueError:
        with pytest.raises(ValueError):
            cgemm.team_threads()
        return
    assert cgemm.team_threads() == want


def test_team_hot_after_a_threaded_product(gemm):
    a = np.ones((64, 64), np.float32)

    def hot_right_after(threads):
        gemm(a, a, None, None, False, threads)
        return cgemm.team_hot()

    # a few tries: a pause of the machine longer than HOT_SECONDS would read as cold
    assert any(hot_right_after(2) for _ in range(5))
    time.sleep(2 * cgemm.HOT_SECONDS)
    assert not cgemm.team_hot()
    assert not hot_right_after(1)        # one thread starts no team


def test_c_matmul_follows_the_linear_thread_rule(gemm):
    rng = np.random.default_rng(4)
    a, b = rng.standard_normal((9, 30)).astype(np.float32), rng.standard_normal(
        (30, 7)).astype(np.float32)
    np.testing.assert_array_equal(cgemm.c_matmul(a, b), gemm(a, b, None, None, False, 1))
    mid = np.ones((256, 256), np.float32)       # wants a team: BLAS's unless parallel
    assert cgemm.c_matmul(mid, mid) is None
    np.testing.assert_array_equal(cgemm.c_matmul(mid, mid, parallel=True), mid @ mid)
    for bad in ((a, b.T), (a, b.astype(np.float64)), (a[0], b)):
        assert cgemm.c_matmul(*bad) is None     # the op raises its own error for these


def test_backend_env_numpy(gemm, monkeypatch):
    x, w = np.ones((40, 8), np.float32), np.ones((4, 8), np.float32)
    assert cgemm.c_linear(x, w) is not None
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy")
    assert cgemm.gemm_kernel() is None
    assert cgemm.c_linear(x, w) is None
    assert _layers._c_linear(x, w, None) is None
    monkeypatch.setenv("EMBER_JIT_BACKEND", "c")
    assert cgemm.gemm_kernel() is gemm


# ------------------------------------------------------------ the linear layers that use it

@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("m", [17, 64, 128])
@pytest.mark.parametrize("bias", [True, False])
def test_eager_linear_uses_it(gemm, dt, m, bias):
    rng = np.random.default_rng(m)
    x, w = rng.standard_normal((m, 64)).astype(dt), rng.standard_normal((48, 64)).astype(dt)
    b = rng.standard_normal(48).astype(dt) if bias else None
    got = _layers._c_linear(x, w, b)
    np.testing.assert_array_equal(got, gemm(x, w.T, None, b, False, 1))
    y = F.linear(ember.tensor(x), ember.tensor(w), None if b is None else ember.tensor(b))
    np.testing.assert_array_equal(y.numpy(), got)
    ref, bound = _ref(x, w.T, b, False)
    assert np.all(np.abs(got - ref) <= bound)


def test_eager_linear_falls_back_to_blas(gemm):
    x, w = np.ones((40, 8), np.float32), np.ones((4, 8), np.float32)
    big, wide = np.ones((4096, 64), np.float32), np.ones((2048, 64), np.float32)
    mid = np.ones((256, 256), np.float32)
    for args in ((x.astype(np.float16), w.astype(np.float16), None),       # a dtype it lacks
                 (x, w, np.ones(1, np.float32)),                           # a broadcast bias
                 (mid, mid, None),                                         # wants threads
                 (big, wide, None)):                                       # BLAS's size
        assert _layers._c_linear(*args) is None
        want = np.matmul(args[0], args[1].T)
        if args[2] is not None:
            want += args[2]
        np.testing.assert_array_equal(OPS["linear"].forward(NULL_CTX, *args), want)


def test_linear_backward_with_the_kernel(gemm):
    rng = np.random.default_rng(0)
    x, w, b = (rng.standard_normal(s) for s in ((50, 20), (6, 20), (6,)))
    ex, ew, eb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    F.linear(ex, ew, eb).relu().sum().backward()
    mask = (x @ w.T + b > 0).astype(np.float64)
    np.testing.assert_allclose(ex.grad.numpy(), mask @ w, rtol=1e-12)
    np.testing.assert_allclose(ew.grad.numpy(), mask.T @ x, rtol=1e-12)
    np.testing.assert_allclose(eb.grad.numpy(), mask.sum(0), rtol=1e-12)
