"""Adam's update of one parameter as a single C loop, like torch's ``fused=True``.

The NumPy path of ``ember.optim.Adam`` makes about ten passes over each parameter (one per
ufunc, with temporaries); on small models that is most of a training step. The C function
here reads each element of the parameter, its gradient and its moments once and writes the
results once. It performs the NumPy path's operations in the same order, with the Python
scalars rounded to the arrays' dtype as NumPy rounds them (float32 arrays compute in
float32) and, unlike the rest of ``cext``, with no multiply-add fused into an FMA: its
results equal the NumPy path's bit for bit.

* ``adam_kernel()``: the C function ``adam(...)`` (see its docstring), or None where C is
  not available or ``EMBER_JIT_BACKEND=numpy``.
"""

from __future__ import annotations

from collections.abc import Callable

from . import cext
from . import ckernels as _ck

__all__ = ["adam_kernel", "GIL_MIN_ELEMENTS", "PARALLEL_MIN_ELEMENTS"]

#: the loop releases the GIL for arrays of at least this many elements; below, it takes
#: about as long as releasing and taking back the GIL
GIL_MIN_ELEMENTS = 4096
#: with threads > 1, arrays of at least this many elements are split over the threads
PARALLEL_MIN_ELEMENTS = 16384

_adam: list = []           # [the adam module | None] once built


def adam_kernel() -> Callable | None:
    """The C function ``adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1,
    beta2, eps, weight_decay, step, maximize, decoupled[, threads])``, or None where C is
    not available. ``threads`` (default 1) OpenMP threads share arrays of at least
    ``PARALLEL_MIN_ELEMENTS``; the results do not depend on it.

    It performs one step of ``ember.optim.Adam`` on one parameter, in place: ``param``,
    ``exp_avg``, ``exp_avg_sq`` and (AMSGrad; None otherwise) ``max_exp_avg_sq`` are
    updated from ``grad``; ``step`` is the step number after this step (1 on the first);
    ``decoupled`` applies ``weight_decay`` to the parameter (AdamW) instead of adding it to
    the gradient. The arrays must be NumPy arrays of one shape and one dtype, float32 or
    float64, C-contiguous, aligned, in native byte order and sharing no memory; those it
    writes must be writeable. Anything else raises TypeError (types, dtypes) or ValueError
    (shapes, layout, overlap) before any array is changed. Returns None.

    Example:
        >>> import numpy as np
        >>> from ember.backend import cadam
        >>> p, g = np.ones(2, np.float32), np.array([3, -3], np.float32)
        >>> m, v = np.zeros(2, np.float32), np.zeros(2, np.float32)
        >>> k = cadam.adam_kernel()
        >>> if k is not None:  # None: no C compiler
        ...     k(p, g, m, v, None, 0.1, 0.9, 0.999, 1e-8, 0.0, 1.0, False, False)
        ... else:
        ...     p -= 0.1 * np.sign(g)
        >>> p.tolist()
        [0.8999999761581421, 1.100000023841858]
    """
    return cext.module_function(_adam, "_ember_adam", _source, "adam")


def _reset_for_tests() -> None:
    """Forget the built module (tests change $CC, the cache and EMBER_JIT_BACKEND)."""
    with _ck._lock:
        _adam.clear()


# ---------------------------------------------------------------------------- the module

_HEADER = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>

/* One rounding per operation, as NumPy's ufuncs round: cext compiles with
   -ffp-contract=fast, which would fuse a*b+c into an FMA and make the results differ from
   the NumPy path's in the last bit. */
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#define GIL_MIN_ELEMENTS GIL_MIN_VALUE
#define PARALLEL_MIN_ELEMENTS PARALLEL_MIN_VALUE

/* em_forked: in a forked child the loops run on one thread (ckernels' fork guard) */
FORK_GUARD_C
"""

# The step of ember.optim.Adam (adam.py and _grad_with_decay, _lerp_, _adam_moments_ in
# optimizer.py), element by element, in its order of operations; T(x) is a scalar rounded
# to the arrays' dtype. The flags are constants of each inlined copy, so every case is its
# own branch-free, vectorizable loop.
_TEMPLATE = r"""
static inline __attribute__((always_inline)) void loop_SFX(
    npy_intp n, T *restrict d, const T *restrict g, T *restrict m, T *restrict v,
    T *restrict mx, const T sign, const T decay, const T wd, const T w, const T b2,
    const T c2, const T bc2, const T eps, const T neg_step, const int l2, const int hi,
    const int ams, const int nt) {
  /* elements are independent: split over the threads, each element's arithmetic unchanged */
#pragma omp parallel for simd if(parallel: nt > 1 && n >= PARALLEL_MIN_ELEMENTS && !em_forked) \
    num_threads(nt) schedule(static)
  for (npy_intp i = 0; i < n; i++) {
    /* maximize: g * -1 is -g exactly; decoupled decay: d * 1 is d when there is none */
    const T di = d[i] * decay;
    T gi = g[i] * sign;
    if (l2) gi = gi + wd * di;
    /* m.lerp_(g, w), torch's two-sided formula; w is T(1 - beta1) or T(beta1) (hi) */
    const T diff = gi - m[i];
    const T mi = hi ? gi - diff * w : m[i] + diff * w;
    const T vi = v[i] * b2 + gi * c2 * gi;
    m[i] = mi;
    v[i] = vi;
    T s = vi;
    if (ams) {
      /* numpy.maximum: NaN wins */
      const T x = mx[i];
      s = (x > vi || x != x) ? x : vi;
      mx[i] = s;
    }
    const T den = SQRT(s) / bc2 + eps;
    d[i] = di + mi * neg_step / den;
  }
}

static void adam_SFX(npy_intp n, T *d, const T *g, T *m, T *v, T *mx, const double *h,
                     int l2, int hi, int nt) {
  const T sign = (T)h[0], decay = (T)h[1], wd = (T)h[2], w = (T)h[3], b2 = (T)h[4],
          c2 = (T)h[5], bc2 = (T)h[6], eps = (T)h[7], neg_step = (T)h[8];
#define CALL(L2, HI, AMS) \
  loop_SFX(n, d, g, m, v, mx, sign, decay, wd, w, b2, c2, bc2, eps, neg_step, L2, HI, AMS, nt)
  if (mx) {
    if (l2) { if (hi) CALL(1, 1, 1); else CALL(1, 0, 1); }
    else { if (hi) CALL(0, 1, 1); else CALL(0, 0, 1); }
  } else {
    if (l2) { if (hi) CALL(1, 1, 0); else CALL(1, 0, 0); }
    else { if (hi) CALL(0, 1, 0); else CALL(0, 0, 0); }
  }
#undef CALL
}
"""

_MODULE = r"""
static const char *const NAMES[5] = {"param", "grad", "exp_avg", "exp_avg_sq",
                                     "max_exp_avg_sq"};

static int check_array(PyObject *o, int k) {
  if (!PyArray_Check(o)) {
    PyErr_Format(PyExc_TypeError, "adam: %s must be a numpy.ndarray, not %.100s", NAMES[k],
                 Py_TYPE(o)->tp_name);
    return 0;
  }
  PyArrayObject *a = (PyArrayObject *)o;
  if (PyArray_TYPE(a) != NPY_FLOAT && PyArray_TYPE(a) != NPY_DOUBLE) {
    PyErr_Format(PyExc_TypeError, "adam: %s must be float32 or float64", NAMES[k]);
    return 0;
  }
  if (!PyArray_IS_C_CONTIGUOUS(a) || !PyArray_ISALIGNED(a) || PyArray_ISBYTESWAPPED(a)) {
    PyErr_Format(PyExc_ValueError, "adam: %s must be C-contiguous, aligned and in native "
                 "byte order", NAMES[k]);
    return 0;
  }
  if (k != 1 && !PyArray_ISWRITEABLE(a)) {
    PyErr_Format(PyExc_ValueError, "adam: %s is read-only", NAMES[k]);
    return 0;
  }
  return 1;
}

OVERLAPS_C

static PyObject *adam(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 13 && nargs != 14) {
    PyErr_Format(PyExc_TypeError, "adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, "
                 "lr, beta1, beta2, eps, weight_decay, step, maximize, decoupled[, threads]) "
                 "takes 13 or 14 arguments (%zd given)", nargs);
    return NULL;
  }
  long nt = 1;
  if (nargs == 14) {
    nt = PyLong_AsLong(args[13]);
    if (nt == -1 && PyErr_Occurred()) return NULL;
    if (nt < 1 || nt > 64) {
      PyErr_Format(PyExc_ValueError, "adam: threads must be in 1..64, got %ld", nt);
      return NULL;
    }
  }
  PyArrayObject *a[5] = {NULL};
  const int na = args[4] == Py_None ? 4 : 5;
  for (int k = 0; k < na; k++) {
    if (!check_array(args[k], k)) return NULL;
    a[k] = (PyArrayObject *)args[k];
  }
  const int type = PyArray_TYPE(a[0]), ndim = PyArray_NDIM(a[0]);
  for (int k = 1; k < na; k++) {
    if (PyArray_TYPE(a[k]) != type) {
      PyErr_Format(PyExc_TypeError, "adam: %s and param must have the same dtype", NAMES[k]);
      return NULL;
    }
    if (PyArray_NDIM(a[k]) != ndim ||
        !PyArray_CompareLists(PyArray_DIMS(a[k]), PyArray_DIMS(a[0]), ndim)) {
      PyErr_Format(PyExc_ValueError, "adam: %s and param must have the same shape",
                   NAMES[k]);
      return NULL;
    }
    for (int j = 0; j < k; j++)
      if (overlaps(a[j], a[k])) {
        PyErr_Format(PyExc_ValueError, "adam: %s and %s must not share memory", NAMES[j],
                     NAMES[k]);
        return NULL;
      }
  }
  /* lr, beta1, beta2, eps, weight_decay, step */
  double s[6];
  for (int k = 0; k < 6; k++) {
    s[k] = PyFloat_AsDouble(args[5 + k]);
    if (s[k] == -1.0 && PyErr_Occurred()) return NULL;
  }
  const int maximize = PyObject_IsTrue(args[11]), decoupled = PyObject_IsTrue(args[12]);
  if (maximize < 0 || decoupled < 0) return NULL;
  const double lr = s[0], beta1 = s[1], beta2 = s[2], eps = s[3], wd = s[4], step = s[5];
  /* the scalars as adam.py computes them in Python floats, before NumPy rounds them */
  const double w = 1.0 - beta1;
  const int hi = !(w < 0.5), l2 = wd != 0 && !decoupled;
  const double h[9] = {
      maximize ? -1.0 : 1.0, wd != 0 && decoupled ? 1.0 - lr * wd : 1.0, wd,
      hi ? 1.0 - w : w, beta2, 1.0 - beta2, sqrt(1.0 - pow(beta2, step)), eps,
      -(lr / (1.0 - pow(beta1, step)))};
  const npy_intp n = PyArray_SIZE(a[0]);
  void *mx = a[4] ? PyArray_DATA(a[4]) : NULL;
  PyThreadState *ts = n >= GIL_MIN_ELEMENTS ? PyEval_SaveThread() : NULL;
  if (type == NPY_FLOAT)
    adam_f32(n, PyArray_DATA(a[0]), PyArray_DATA(a[1]), PyArray_DATA(a[2]),
             PyArray_DATA(a[3]), mx, h, l2, hi, (int)nt);
  else
    adam_f64(n, PyArray_DATA(a[0]), PyArray_DATA(a[1]), PyArray_DATA(a[2]),
             PyArray_DATA(a[3]), mx, h, l2, hi, (int)nt);
  if (ts) PyEval_RestoreThread(ts);
  Py_RETURN_NONE;
}

BACKEND_SWITCH_C
static PyMethodDef methods[] = {
  EM_BACKEND_METHOD,
  {"adam", (PyCFunction)(void (*)(void))adam, METH_FASTCALL,
   "adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2, eps, "
   "weight_decay, step, maximize, decoupled): one Adam step in place; see "
   "ember.backend.cadam"},
  {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ember_adam", NULL, -1,
                                    methods};

PyMODINIT_FUNC PyInit__ember_adam(void) {
  import_array();
  return PyModule_Create(&module);
}
"""


def _source() -> str:
    parts = [_HEADER.replace("GIL_MIN_VALUE", str(GIL_MIN_ELEMENTS))
             .replace("FORK_GUARD_C", _ck.FORK_GUARD_C)
             .replace("PARALLEL_MIN_VALUE", str(PARALLEL_MIN_ELEMENTS))]
    for ct, sfx, sqrt in (("float", "f32", "sqrtf"), ("double", "f64", "sqrt")):
        body = _TEMPLATE.replace("_SFX", "_" + sfx)
        parts.append(f"#define T {ct}\n#define SQRT {sqrt}\n{body}#undef T\n#undef SQRT\n")
    parts.append(_MODULE.replace("BACKEND_SWITCH_C", cext.BACKEND_SWITCH_C)
                 .replace("OVERLAPS_C", cext.OVERLAPS_C))
    return "".join(parts)
