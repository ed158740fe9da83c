"""ember.backend.cext: extension modules built with the system compiler (disk cache, warnings,
the backend switch, no compiler), the small-batch linear kernel against float64 references
and its input checks, and the eager ``linear`` op that uses it."""

from __future__ import annotations

import importlib.machinery
import os
import sys
import warnings

import numpy as np
import pytest

import ember
import ember.nn.functional as F
from ember.backend import cext
from ember.backend import ckernels as ck
from ember.nn.functional import _layers
from ember.ops.registry import NULL_CTX, OPS

needs_cc = pytest.mark.skipif(not ck._find_cc(), reason="no C compiler")


@pytest.fixture(autouse=True)
def _default_backend(monkeypatch):
    monkeypatch.delenv("EMBER_JIT_BACKEND", raising=False)


@pytest.fixture
def kernel():
    k = cext.linear_kernel() if ck._find_cc() else None
    if k is None:
        pytest.skip("the C compiler does not build extension modules here")
    return k


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    """An empty cache dir and a forgotten compiler probe (restored afterwards)."""
    monkeypatch.setenv("EMBER_CACHE_DIR", str(tmp_path))
    cext._reset_for_tests()
    yield tmp_path
    cext._reset_for_tests()


def _data(m, k, n, dt, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((m, k)).astype(dt), rng.standard_normal((n, k)).astype(dt),
            rng.standard_normal(n).astype(dt))


def _check_close(got, x, w, b, relu):
    """``got`` against a float64 reference, within the error bound of the kernel's sums:
    K/L terms per lane (L >= 16 bytes of lanes) plus a pairwise sum of the L lanes, in ulp of
    sum |x||w| + |b|."""
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    ref = x64 @ w64.T
    mag = np.abs(x64) @ np.abs(w64).T
    if b is not None:
        ref += b
        mag += np.abs(b.astype(np.float64))
    if relu:
        ref = np.maximum(ref, 0)
    lanes = 16 // x.dtype.itemsize
    bound = (x.shape[1] // lanes + 8) * np.finfo(x.dtype).eps * mag
    assert got.shape == ref.shape and got.dtype == x.dtype
    assert np.all(np.abs(got - ref) <= bound)


# ------------------------------------------------------------------------------ the kernel

@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2, 5, 16])
@pytest.mark.parametrize("k, n", [(64, 256), (256, 10), (37, 7), (16, 4), (3, 9)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("relu", [True, False])
def test_linear_matches_float64(kernel, dt, m, k, n, bias, relu):
    x, w, b = _data(m, k, n, dt)
    b = b if bias else None
    out = np.full((m, n), np.nan, dt)
    assert kernel(x, w, b, out, relu) is out
    _check_close(out, x, w, b, relu)
    new = kernel(x, w, b, None, relu)
    assert new.flags.c_contiguous and new.flags.owndata
    np.testing.assert_array_equal(new, out)
    # against BLAS: only the order of the sums differs
    want = np.matmul(x, w.T) + (0 if b is None else b)
    if relu:
        want = np.maximum(want, 0)
    tol = 1e-5 if dt == np.float32 else 1e-12
    np.testing.assert_allclose(out, want, rtol=tol, atol=tol * np.sqrt(k))


@pytest.mark.parametrize("dt", [np.float32, np.float64])
def test_linear_empty_dims(kernel, dt):
    x, w, b = np.ones((2, 0), dt), np.ones((3, 0), dt), np.array([1, -0.0, -2], dt)
    np.testing.assert_array_equal(kernel(x, w, b, None, False), np.tile(b, (2, 1)))
    r = kernel(x, w, b, None, True)
    np.testing.assert_array_equal(r, np.maximum(np.tile(b, (2, 1)), 0))
    assert not np.signbit(r).any()    # maximum(-0.0, 0) is 0.0, as in the relu op
    assert kernel(np.ones((0, 4), dt), np.ones((3, 4), dt), None, None, True).shape == (0, 3)
    assert kernel(np.ones((2, 4), dt), np.ones((0, 4), dt), None, None, True).shape == (2, 0)


@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("relu", [True, False])
def test_linear_nan_inf_like_the_ops(kernel, dt, relu):
    x, w, b = _data(5, 40, 9, dt, seed=3)
    x[0, 3] = np.nan        # a whole row of NaN
    x[1, 5] = np.inf        # +-inf by the signs of w[:, 5]
    w[2, 5] = 0.0           # inf * 0: NaN
    x[2, 7] = -np.inf
    w[4, :] = 0.0
    w[4, 7] = 1.0           # -inf, which relu makes 0
    b[6] = np.nan           # a NaN column
    b[8] = np.inf
    got = kernel(x, w, b, None, relu)
    with np.errstate(invalid="ignore"):
        want = OPS["linear"].forward(NULL_CTX, *(a.astype(np.float64) for a in (x, w, b)))
        if relu:
            want = OPS["relu"].forward(NULL_CTX, want)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(np.isposinf(got), np.isposinf(want))
    np.testing.assert_array_equal(np.isneginf(got), np.isneginf(want))
    assert np.isnan(got[0]).all() and np.isnan(got[:, 6]).all()
    assert (got[2, 4] == 0) if relu else (got[2, 4] == -np.inf)
    fin = np.isfinite(want)
    np.testing.assert_allclose(got[fin], want[fin], rtol=1e-5, atol=1e-5)


def test_linear_bad_inputs_raise(kernel):
    x, w, b = _data(2, 8, 4, np.float32)
    out = np.empty((2, 4), np.float32)
    bad_type = [
        ([[1.0] * 8] * 2, w, b, out),                      # not arrays
        (x, w.tolist(), b, out),
        (x, w, b, [0.0] * 4),
        (x.astype(np.float16), w.astype(np.float16), None, None),
        (x, w.astype(np.float64), b, out),                 # mixed dtypes
        (x, w, b.astype(np.float64), out),
        (x, w, b, out.astype(np.float64)),
        (x.astype(np.int64), w.astype(np.int64), None, None),
    ]
    for args in bad_type:
        with pytest.raises(TypeError):
            kernel(*args, False)
    swapped = x.astype(x.dtype.newbyteorder())
    swapped[...] = x
    misaligned = np.frombuffer(bytearray(2 * 8 * 4 + 1), np.float32, 16, 1).reshape(2, 8)
    assert not misaligned.flags.aligned
    bad_value = [
        (x[0], w, b, out),                                 # ndim
        (x, w[None], b, out),
        (x, w, b[None], out),
        (x, w, b, out[0]),
        (x, w[:, :7], b, out),                             # K differs (and w strided)
        (x, np.ascontiguousarray(w[:, :7]), b, out),
        (x, w, b[:3], out),                                # bias length
        (x, w, b, np.empty((2, 5), np.float32)),           # out shape
        (x, w, b, np.empty((3, 4), np.float32)),
        (np.asfortranarray(np.ones((2, 8), np.float32)), w, b, out),   # layouts
        (x, np.ones((8, 4), np.float32).T, b, out),
        (x, w, np.ones(8, np.float32)[::2], out),
        (x, w, b, np.empty((4, 2), np.float32).T),
        (swapped, w, b, out),                              # byte order
        (misaligned, w, b, out),
    ]
    for args in bad_value:
        with pytest.raises(ValueError):
            kernel(*args, False)
    ro = np.empty((2, 4), np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        kernel(x, w, b, ro, False)
    both = np.zeros(20, np.float32)
    with pytest.raises(ValueError, match="share memory"):   # out overlapping x
        kernel(both[:16].reshape(2, 8), w, b, both[12:].reshape(2, 4), False)
    with pytest.raises(TypeError, match="5 arguments"):
        kernel(x, w, b, out)

    class Bad:
        def __bool__(self):
            raise ZeroDivisionError("relu flag")

    with pytest.raises(ZeroDivisionError):
        kernel(x, w, b, out, Bad())


# ---------------------------------------------------------------- the eager op uses it

@pytest.mark.parametrize("dt", [np.float32, np.float64])
@pytest.mark.parametrize("m", [1, 2, 5, 16])
@pytest.mark.parametrize("bias", [True, False])
def test_eager_linear(dt, m, bias):
    x, w, b = _data(m, 64, 32, dt)
    b = b if bias else None
    got = F.linear(ember.tensor(x), ember.tensor(w), None if b is None else ember.tensor(b))
    _check_close(got.numpy(), x, w, b, False)


def test_eager_linear_uses_the_kernel_only_where_it_applies(kernel):
    x, w, b = _data(2, 24, 16, np.float32)
    got = _layers._c_linear(x, w, b)
    assert got is not None
    np.testing.assert_array_equal(got, kernel(x, w, b, None, False))
    wide = np.ones((2, 48), np.float32)
    refused = [
        (wide[:, ::2], w, b),                                    # strided input
        (x, np.ascontiguousarray(w.T).T, b),                    # transposed weight
        (x, w, np.ones((16, 4), np.float32)[:, 0]),              # strided bias
        (x, w, np.float32(1.0) + np.zeros(1, np.float32)),       # broadcast bias
        (x.astype(np.float16), w.astype(np.float16), b.astype(np.float16)),
        (np.ones((2, 8192), np.float32), np.ones((16, 8192), np.float32), b),   # too big
    ]
    for xa, wa, ba in refused:
        assert _layers._c_linear(xa, wa, ba) is None
        # and the op falls back to exactly the NumPy code
        want = np.matmul(xa, wa.T)
        want += ba
        np.testing.assert_array_equal(OPS["linear"].forward(NULL_CTX, xa, wa, ba), want)


def test_eager_linear_backward_unchanged(kernel):
    x, w, b = _data(1, 20, 6, np.float64)
    ex, ew, eb = (ember.tensor(a, requires_grad=True) for a in (x, w, b))
    F.linear(ex, ew, eb).relu().sum().backward()
    mask = (x @ w.T + b > 0).astype(np.float64)
    np.testing.assert_allclose(ex.grad.numpy(), mask @ w, rtol=1e-12)
    np.testing.assert_allclose(ew.grad.numpy(), mask.T @ x, rtol=1e-12)
    np.testing.assert_allclose(eb.grad.numpy(), mask[0], rtol=1e-12)


# -------------------------------------------------------------- building, cache, switches

_DEMO = r"""
#include <Python.h>
static PyObject *answer(PyObject *self, PyObject *noargs) { return PyLong_FromLong(ANSWER); }
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {0}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "demo", "", -1, methods};
PyMODINIT_FUNC PyInit_demo(void) { return PyModule_Create(&def); }
"""


@needs_cc
def test_build_module_disk_cache(fresh, monkeypatch):
    mod = cext.build_module("demo", "#define ANSWER 42\n" + _DEMO)
    if mod is None:
        pytest.skip("the C compiler does not build extension modules here")
    assert mod.answer() == 42
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    ext = {p.name for p in fresh.iterdir() if p.name.endswith(suffix)}
    assert len(ext) == 1
    mtimes = {p.name: p.stat().st_mtime_ns for p in fresh.iterdir()}
    cext._modules.clear()
    assert cext.build_module("demo", "#define ANSWER 42\n" + _DEMO).answer() == 42
    assert {p.name: p.stat().st_mtime_ns for p in fresh.iterdir()} == mtimes  # from disk
    assert cext.build_module("demo", "#define ANSWER 43\n" + _DEMO).answer() == 43
    # the key covers the Python and NumPy the module is built against
    monkeypatch.setattr(np, "__version__", np.__version__ + ".test")
    assert cext.build_module("demo", "#define ANSWER 42\n" + _DEMO).answer() == 42
    monkeypatch.setattr(sys, "version", sys.version + " test")
    assert cext.build_module("demo", "#define ANSWER 42\n" + _DEMO).answer() == 42
    assert len({p.name for p in fresh.iterdir() if p.name.endswith(suffix)}) == 4
    assert all(p.name.endswith(".so") for p in fresh.iterdir())   # no temporary files


@needs_cc
def test_build_failures_warn_once(fresh, monkeypatch):
    if not ck.available():
        pytest.skip("the C compiler does not build kernels here")
    with pytest.warns(RuntimeWarning, match="demo failed to build"):
        assert cext.build_module("demo", "this is not C") is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cext.build_module("demo", "this is not C") is None
    monkeypatch.setattr(cext, "_includes", lambda: (os.fspath(fresh / "none"), np.get_include()))
    with pytest.warns(RuntimeWarning, match="Python.h not found"):
        assert cext.build_module("demo", "#define ANSWER 1\n" + _DEMO) is None


def test_no_compiler_keeps_numpy(fresh, monkeypatch):
    monkeypatch.setenv("CC", "/bin/false")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cext.linear_kernel() is None
        assert cext.build_module("demo", "#define ANSWER 1\n" + _DEMO) is None
    x, w, b = _data(1, 30, 5, np.float32)
    want = np.matmul(x, w.T)
    want += b
    got = F.linear(ember.tensor(x), ember.tensor(w), ember.tensor(b))
    np.testing.assert_array_equal(got.numpy(), want)        # exactly the BLAS path
    monkeypatch.setenv("EMBER_JIT_BACKEND", "c")
    cext._reset_for_tests()
    with pytest.raises(RuntimeError, match="no working C compiler"):
        cext.linear_kernel()


def test_backend_env_numpy(kernel, monkeypatch):
    x, w, b = _data(1, 30, 5, np.float32)
    monkeypatch.setenv("EMBER_JIT_BACKEND", "NumPy")
    assert cext.linear_kernel() is None
    assert _layers._c_linear(x, w, b) is None
    monkeypatch.setenv("EMBER_JIT_BACKEND", "numpy-no")
    assert cext.linear_kernel() is kernel
    monkeypatch.delenv("EMBER_JIT_BACKEND")
    assert cext.linear_kernel() is kernel
