"""CPython extension modules built from C with the system compiler, for kernels so small that
the call itself is the cost.

A ctypes call costs about 2 us per array pointer, more than a batch-1 linear layer takes
to compute; a function of an extension module reads the arrays through the NumPy C API in
about 0.1-0.2 us. Everything else follows ``ember.backend.ckernels``: its compiler probe and
flags, the ``EMBER_JIT_BACKEND`` switch (``numpy`` disables C, ``c`` raises a RuntimeError
when no compiler works), its disk cache (``$EMBER_CACHE_DIR``, files named by a SHA-256 of
everything that went into them, written atomically) and its rule that a build failure warns
once and returns None, so callers keep their NumPy code. The cache key adds the Python
version and ABI and the NumPy version the module was built against.

* ``build_module(name, source)``: C source defining ``PyInit_<name>`` -> the loaded module.
* ``linear_kernel()``: ``linear(x, w, b, out, relu)`` of the built-in module below, for
  linear layers on a few rows (``Linear.forward`` and the JIT's ``linear_act`` pass);
  ``linear_fits(rows, out_features, in_features)`` says where it beats BLAS.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import os
import sys
import sysconfig
import types
from collections.abc import Callable

import numpy as np

from . import ckernels as _ck

__all__ = ["build_module", "linear_kernel", "linear_fits", "LINEAR_MAX_ROWS",
           "LINEAR_MAX_MACS"]

#: the kernel is for at most this many rows (beyond, BLAS's blocked GEMM wins)
LINEAR_MAX_ROWS = 16
#: and at most this many multiply-adds: measured on the W5 layers (2 cores, AVX-512), it
#: beats BLAS 2-8x at one row of (256, 256) or eight of (256, 64), is even at 4 rows of
#: (256, 256), and loses beyond; at one row of a 4 MB weight BLAS's threads read faster
LINEAR_MAX_MACS = 1 << 17

# contraction into fused multiply-adds is what BLAS does too; -ffast-math stays off
_EXT_FLAGS = ("-ffp-contract=fast",)

#: C for a module's ``backend_is_numpy()`` (put before its method table, which lists
#: ``EM_BACKEND_METHOD``): EMBER_JIT_BACKEND=numpy (any case), read with C getenv on each
#: call, as os.environ sets it (putenv); os.environ.get costs ~1 us
BACKEND_SWITCH_C = r"""
static PyObject *backend_is_numpy(PyObject *self, PyObject *noargs) {
  const char *v = getenv("EMBER_JIT_BACKEND"), *want = "numpy";
  int same = v != NULL;
  for (; same && *want; v++, want++) same = tolower((unsigned char)*v) == *want;
  return PyBool_FromLong(same && *v == 0);
}
#define EM_BACKEND_METHOD {"backend_is_numpy", backend_is_numpy, METH_NOARGS, \
  "backend_is_numpy(): whether EMBER_JIT_BACKEND is numpy"}
"""

#: C for ``overlaps(a, b)``: whether two arrays' elements share bytes (strides of any
#: sign), so a kernel never writes an output its inputs read
OVERLAPS_C = r"""
/* the bytes an array's elements span (strides of any sign) */
static void extent(PyArrayObject *x, const char **lo, const char **hi) {
  const char *p = PyArray_BYTES(x), *q = p;
  for (int d = 0; d < PyArray_NDIM(x); d++) {
    const npy_intp span = (PyArray_DIM(x, d) - 1) * PyArray_STRIDE(x, d);
    if (span < 0) p += span; else q += span;
  }
  *lo = p;
  *hi = q + PyArray_ITEMSIZE(x);
}

static int overlaps(PyArrayObject *x, PyArrayObject *y) {
  if (PyArray_SIZE(x) == 0 || PyArray_SIZE(y) == 0) return 0;
  const char *a0, *a1, *b0, *b1;
  extent(x, &a0, &a1);
  extent(y, &b0, &b1);
  return a0 < b1 && b0 < a1;
}
"""

_modules: dict[str, types.ModuleType] = {}
_linear: list = []         # [the linear module | None] once built


def _includes() -> tuple[str, str]:
    return sysconfig.get_paths()["include"], np.get_include()


def _load(name: str, source: str) -> types.ModuleType | None:
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    py_inc, np_inc = _includes()
    flags = _ck._probe["flags"] + _EXT_FLAGS + ("-I", py_inc, "-I", np_inc)
    key = hashlib.sha256("\0".join([
        _ck._probe["key"], " ".join(_EXT_FLAGS), sys.version, suffix, np.__version__,
        py_inc, np_inc, name, source]).encode()).hexdigest()
    mod = _modules.get(key)
    if mod is not None:
        return mod
    if not os.path.exists(os.path.join(py_inc, "Python.h")):
        _ck._probe["last_error"] = f"Python.h not found in {py_inc} (no Python headers)"
        return None
    if not suffix.endswith(".so"):
        _ck._probe["last_error"] = f"extension suffix {suffix!r} is not a shared object's"
        return None
    # ckernels' cache names files <key>.so: the key carries the rest of the suffix
    path = _ck._compile(_ck._probe["cc"], flags, _ck._probe["libs"], source,
                        key + suffix[:-len(".so")])
    if path is None:
        return None
    try:
        loader = importlib.machinery.ExtensionFileLoader(name, path)
        spec = importlib.util.spec_from_file_location(name, path, loader=loader)
        mod = importlib.util.module_from_spec(spec)
        loader.exec_module(mod)
    except (ImportError, OSError) as e:
        _ck._probe["last_error"] = repr(e)
        return None
    _modules[key] = mod
    return mod


def build_module(name: str, source: str) -> types.ModuleType | None:
    """Build (or load from the disk cache) extension module ``name`` from C ``source``,
    which defines ``PyInit_<name>``; it may include ``Python.h`` and NumPy's headers.

    Returns None, with one warning, when C is not available (see
    ``ember.backend.ckernels.available``), Python's headers are missing or the source does
    not compile.

    Example:
        >>> from ember.backend import cext
        >>> src = '''
        ... #include <Python.h>
        ... static PyObject *answer(PyObject *self, PyObject *noargs) {
        ...     return PyLong_FromLong(42);
        ... }
        ... static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {0}};
        ... static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "demo", "", -1, methods};
        ... PyMODINIT_FUNC PyInit_demo(void) { return PyModule_Create(&def); }
        ... '''
        >>> mod = cext.build_module("demo", src)
        >>> mod.answer() if mod is not None else 42  # None: no C compiler
        42
    """
    if not _ck.available():
        return None
    with _ck._lock:
        mod = _load(name, source)
    if mod is None:
        _ck._warn_once("cext:" + hashlib.sha256(source.encode()).hexdigest(),
                       f"ember: C extension {name} failed to build, using NumPy: "
                       + _ck._probe.get("last_error", "")[-500:])
    return mod


def linear_kernel() -> Callable | None:
    """The C function ``linear(x, w, b, out, relu)``, or None where C is not available.

    It computes ``x @ w.T + b``, then ``maximum(., 0)`` when ``relu`` is true (NaN stays
    NaN, as in the ``relu`` op), for ``x`` of shape (M, K), ``w`` (N, K), ``b`` (N,) or
    None, all C-contiguous with one dtype, float32 or float64. It writes into ``out``, an
    (M, N) C-contiguous array of that dtype sharing no memory with the inputs, and returns
    it; with ``out=None`` it returns a new array. Anything else raises TypeError (types,
    dtypes) or ValueError (shapes, layout, overlap). Each output is one dot product of a row
    of ``x`` and a row of ``w``, four rows of ``w`` per pass over two rows of ``x``: made
    for a few rows (``linear_fits``), where BLAS's call and blocking cost more than the
    math. Results differ from BLAS only by the order of the sums.

    Example:
        >>> import numpy as np
        >>> from ember.backend import cext
        >>> x, w = np.ones((1, 3), np.float32), np.ones((2, 3), np.float32)
        >>> b = np.array([1, -5], np.float32)
        >>> k = cext.linear_kernel()
        >>> (k(x, w, b, None, True) if k else np.maximum(x @ w.T + b, 0)).tolist()
        [[4.0, 0.0]]
    """
    return module_function(_linear, "_ember_linear", _linear_source, "linear")


def module_function(cache: list, name: str, source: Callable[[], str], attr: str
                    ) -> Callable | None:
    """Function ``attr`` of extension module ``name``, built from ``source()`` on first use
    and kept in ``cache`` (a list, empty until then); None where C is not available or
    ``EMBER_JIT_BACKEND`` is ``numpy`` (the module must define ``BACKEND_SWITCH_C``).
    ckernels' rules apply: ``EMBER_JIT_BACKEND=c`` raises without a compiler.

    Example:
        >>> from ember.backend import cext
        >>> k = cext.module_function([], "_ember_linear", cext._linear_source, "linear")
        >>> k is None or callable(k)
        True
    """
    if not cache:
        if not _ck.available():
            if _ck._probe.get("ok") is False:   # no compiler: that will not change
                cache.append(None)
            return None
        with _ck._lock:
            if not cache:
                cache.append(build_module(name, source()))
    mod = cache[0]
    return getattr(mod, attr) if mod is not None and not mod.backend_is_numpy() else None


def linear_fits(rows: int, out_features: int, in_features: int) -> bool:
    """Whether ``linear_kernel`` is the faster way to compute a linear layer of this size
    (``LINEAR_MAX_ROWS``, ``LINEAR_MAX_MACS``).

    Example:
        >>> from ember.backend import cext
        >>> cext.linear_fits(1, 256, 256), cext.linear_fits(64, 256, 256)
        (True, False)
    """
    return rows <= LINEAR_MAX_ROWS and rows * out_features * in_features <= LINEAR_MAX_MACS


def _reset_for_tests() -> None:
    """Forget the compiler probe and the built modules (tests change $CC and the cache)."""
    with _ck._lock:
        _ck._reset_for_tests()
        _modules.clear()
        _linear.clear()


# ------------------------------------------------------------------------- linear module

_LINEAR_TEMPLATE = r"""
/* V: one machine vector of T, L lanes (GCC/Clang vector extensions; wider than the
   registers, eight accumulators would spill). Each output is summed in L partial sums,
   lane by lane, then pairwise: elementwise code, so it vectorizes without -ffast-math. */
#define L (EM_VB / (int)sizeof(T))
typedef T V_SFX __attribute__((vector_size(EM_VB)));

static inline V_SFX load_SFX(const T *p) { V_SFX v; memcpy(&v, p, sizeof v); return v; }

/* the L lanes summed pairwise: a[l] += a[l + h] for h = L/2, ..., 1. The shuffles keep
   the accumulators in registers (taking their address would put them in memory). */
static inline T hsum_SFX(V_SFX v) {
#if EM_SHUFFLE
HSUM_SHUFFLES
#else
  T a[L];
  for (int l = 0; l < L; l++) a[l] = v[l];
  for (int h = L / 2; h > 0; h /= 2)
    for (int l = 0; l < h; l++) a[l] += a[l + h];
  return a[0];
#endif
}

/* out[m, n..n+3] and (with two) out[m+1, n..n+3]: each load of w feeds two products, each
   load of x four; the rest of K (under L) goes to scalar sums added last. At one or two
   rows the time is L2 bandwidth: the next four rows of w (pf, or NULL) are prefetched. */
static inline __attribute__((always_inline)) void dot2x4_SFX(
    npy_intp K, const T *restrict x0, const T *restrict x1, const T *restrict w,
    const T *pf, T *restrict o0, T *restrict o1, int two) {
  const T *w0 = w, *w1 = w + K, *w2 = w + 2 * K, *w3 = w + 3 * K;
  V_SFX a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
  const npy_intp kv = K - K % L;
  for (npy_intp k = 0; k < kv; k += L) {
    if (pf)
      for (int r = 0; r < 4; r++) __builtin_prefetch(pf + r * K + k);
    const V_SFX u = load_SFX(x0 + k), c0 = load_SFX(w0 + k), c1 = load_SFX(w1 + k),
                c2 = load_SFX(w2 + k), c3 = load_SFX(w3 + k);
    a0 += u * c0; a1 += u * c1; a2 += u * c2; a3 += u * c3;
    if (two) {
      const V_SFX v = load_SFX(x1 + k);
      b0 += v * c0; b1 += v * c1; b2 += v * c2; b3 += v * c3;
    }
  }
  T t[8] = {0};
  for (npy_intp k = kv; k < K; k++) {
    t[0] += x0[k] * w0[k]; t[1] += x0[k] * w1[k]; t[2] += x0[k] * w2[k];
    t[3] += x0[k] * w3[k]; t[4] += x1[k] * w0[k]; t[5] += x1[k] * w1[k];
    t[6] += x1[k] * w2[k]; t[7] += x1[k] * w3[k];
  }
  o0[0] = hsum_SFX(a0) + t[0]; o0[1] = hsum_SFX(a1) + t[1];
  o0[2] = hsum_SFX(a2) + t[2]; o0[3] = hsum_SFX(a3) + t[3];
  if (two) {
    o1[0] = hsum_SFX(b0) + t[4]; o1[1] = hsum_SFX(b1) + t[5];
    o1[2] = hsum_SFX(b2) + t[6]; o1[3] = hsum_SFX(b3) + t[7];
  }
}

static T dot_SFX(npy_intp K, const T *restrict x, const T *restrict w) {
  V_SFX a = {0};
  const npy_intp kv = K - K % L;
  for (npy_intp k = 0; k < kv; k += L) a += load_SFX(x + k) * load_SFX(w + k);
  T t = 0;
  for (npy_intp k = kv; k < K; k++) t += x[k] * w[k];
  return hsum_SFX(a) + t;
}

/* out = x @ w.T (+ b), relu'd: rows of x two at a time, rows of w four at a time (they
   stay in L1 while they are used) */
static void linear_SFX(npy_intp M, npy_intp N, npy_intp K, const T *restrict x,
                       const T *restrict w, const T *restrict b, T *restrict out, int relu) {
  for (npy_intp m = 0; m < M; m += 2) {
    const int two = m + 1 < M;
    const T *x0 = x + m * K, *x1 = two ? x0 + K : x0;
    T *o0 = out + m * N, *o1 = two ? o0 + N : o0;
    npy_intp n = 0;
    /* constant arguments: always_inline makes a loop for each case */
    for (; n + 8 <= N; n += 4) {
      if (two) dot2x4_SFX(K, x0, x1, w + n * K, w + (n + 4) * K, o0 + n, o1 + n, 1);
      else dot2x4_SFX(K, x0, x1, w + n * K, w + (n + 4) * K, o0 + n, o1 + n, 0);
    }
    for (; n + 4 <= N; n += 4) dot2x4_SFX(K, x0, x1, w + n * K, NULL, o0 + n, o1 + n, two);
    for (; n < N; n++) {
      o0[n] = dot_SFX(K, x0, w + n * K);
      if (two) o1[n] = dot_SFX(K, x1, w + n * K);
    }
  }
  /* the bias after the whole dot product and relu as maximum(v, 0): the ops' rounding
     and their NaN rule (v > 0 is false for NaN, which must stay) */
  if (b || relu) {
    for (npy_intp m = 0; m < M; m++) {
      T *o = out + m * N;
      if (b)
        for (npy_intp j = 0; j < N; j++) o[j] += b[j];
      if (relu)
        for (npy_intp j = 0; j < N; j++) o[j] = (o[j] > 0 || o[j] != o[j]) ? o[j] : 0;
    }
  }
}
"""

_LINEAR_MODULE = r"""
static int check_array(PyObject *o, const char *what, int ndim) {
  if (!PyArray_Check(o)) {
    PyErr_Format(PyExc_TypeError, "linear: %s must be a numpy.ndarray, not %.100s", what,
                 Py_TYPE(o)->tp_name);
    return 0;
  }
  PyArrayObject *a = (PyArrayObject *)o;
  if (PyArray_NDIM(a) != ndim) {
    PyErr_Format(PyExc_ValueError, "linear: %s must have %d dimension(s), got %d", what,
                 ndim, PyArray_NDIM(a));
    return 0;
  }
  if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a) || PyArray_ISBYTESWAPPED(a)) {
    PyErr_Format(PyExc_ValueError, "linear: %s must be C-contiguous, aligned and in native "
                 "byte order", what);
    return 0;
  }
  return 1;
}

OVERLAPS_C

static PyObject *linear(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 5) {
    PyErr_Format(PyExc_TypeError, "linear(x, w, b, out, relu) takes 5 arguments (%zd given)",
                 nargs);
    return NULL;
  }
  if (!check_array(args[0], "x", 2) || !check_array(args[1], "w", 2) ||
      (args[2] != Py_None && !check_array(args[2], "b", 1)) ||
      (args[3] != Py_None && !check_array(args[3], "out", 2)))
    return NULL;
  const int relu = PyObject_IsTrue(args[4]);
  if (relu < 0) return NULL;
  PyArrayObject *x = (PyArrayObject *)args[0], *w = (PyArrayObject *)args[1];
  PyArrayObject *b = args[2] == Py_None ? NULL : (PyArrayObject *)args[2];
  PyArrayObject *out = args[3] == Py_None ? NULL : (PyArrayObject *)args[3];
  const int type = PyArray_TYPE(x);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_TYPE(w) != type ||
      (b && PyArray_TYPE(b) != type) || (out && PyArray_TYPE(out) != type)) {
    PyErr_SetString(PyExc_TypeError, "linear: x, w, b and out must all be float32 or all "
                    "float64");
    return NULL;
  }
  const npy_intp M = PyArray_DIM(x, 0), K = PyArray_DIM(x, 1), N = PyArray_DIM(w, 0);
  if (PyArray_DIM(w, 1) != K || (b && PyArray_DIM(b, 0) != N) ||
      (out && (PyArray_DIM(out, 0) != M || PyArray_DIM(out, 1) != N))) {
    PyErr_SetString(PyExc_ValueError, "linear: shapes must be x (M, K), w (N, K), b (N,) "
                    "and out (M, N)");
    return NULL;
  }
  if (out) {
    if (!PyArray_ISWRITEABLE(out)) {
      PyErr_SetString(PyExc_ValueError, "linear: out is read-only");
      return NULL;
    }
    if (overlaps(out, x) || overlaps(out, w) || (b && overlaps(out, b))) {
      PyErr_SetString(PyExc_ValueError, "linear: out must not share memory with x, w or b");
      return NULL;
    }
    Py_INCREF(out);
  } else {
    npy_intp dims[2] = {M, N};
    out = (PyArrayObject *)PyArray_SimpleNew(2, dims, type);
    if (!out) return NULL;
  }
  if (type == NPY_FLOAT)
    linear_f32(M, N, K, PyArray_DATA(x), PyArray_DATA(w), b ? PyArray_DATA(b) : NULL,
               PyArray_DATA(out), relu);
  else
    linear_f64(M, N, K, PyArray_DATA(x), PyArray_DATA(w), b ? PyArray_DATA(b) : NULL,
               PyArray_DATA(out), relu);
  return (PyObject *)out;
}

BACKEND_SWITCH_C
static PyMethodDef methods[] = {
  EM_BACKEND_METHOD,
  {"linear", (PyCFunction)(void (*)(void))linear, METH_FASTCALL,
   "linear(x, w, b, out, relu): out = x @ w.T + b, relu'd; see ember.backend.cext"},
  {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ember_linear", NULL, -1,
                                    methods};

PyMODINIT_FUNC PyInit__ember_linear(void) {
  import_array();
  return PyModule_Create(&module);
}
"""


def hsum_shuffles(ct: str) -> str:
    """C for ``hsum``'s pairwise sum with ``__builtin_shufflevector``, for each vector width:
    halves of the vector added while more than two lanes are left."""
    out = []
    for cond, vb in (("#if EM_VB == 64", 64), ("#elif EM_VB == 32", 32), ("#else", 16)):
        lines, v, n = [cond], "v", vb // (4 if ct == "float" else 8)
        while n > 2:
            h = n // 2
            lo = ", ".join(map(str, range(h)))
            hi = ", ".join(map(str, range(h, n)))
            lines.append(f"  typedef T V{h}_SFX __attribute__((vector_size({h} * sizeof(T))));")
            lines.append(f"  const V{h}_SFX s{h} = __builtin_shufflevector({v}, {v}, {lo}) +\n"
                         f"      __builtin_shufflevector({v}, {v}, {hi});")
            v, n = f"s{h}", h
        lines.append(f"  return {v}[0] + {v}[1];")
        out += lines
    return "\n".join(out + ["#endif"])


def _linear_source() -> str:
    parts = ["#define PY_SSIZE_T_CLEAN\n#include <Python.h>\n"
             "#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION\n"
             "#include <numpy/arrayobject.h>\n#include <ctype.h>\n#include <stdlib.h>\n"
             "#include <string.h>\n"
             "#if defined(__has_builtin)\n#if __has_builtin(__builtin_shufflevector)\n"
             "#define EM_SHUFFLE 1\n#endif\n#endif\n"
             "#ifndef EM_SHUFFLE\n#define EM_SHUFFLE 0\n#endif\n"
             "/* vector bytes: what one register holds */\n"
             "#if defined(__AVX512F__)\n#define EM_VB 64\n#elif defined(__AVX__)\n"
             "#define EM_VB 32\n#else\n#define EM_VB 16\n#endif\n"]
    for ct, sfx in (("float", "f32"), ("double", "f64")):
        body = _LINEAR_TEMPLATE.replace("HSUM_SHUFFLES", hsum_shuffles(ct))
        body = body.replace("_SFX", "_" + sfx)
        parts.append(f"#define T {ct}\n{body}#undef T\n#undef L\n")
    parts.append(_LINEAR_MODULE.replace("BACKEND_SWITCH_C", BACKEND_SWITCH_C)
                 .replace("OVERLAPS_C", OVERLAPS_C))
    return "".join(parts)
