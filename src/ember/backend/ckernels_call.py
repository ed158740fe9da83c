"""Calling built C kernels through a tiny extension module instead of ctypes.

A ctypes call reads each array's pointer through ``arr.ctypes``, about 1-2 us per array:
for a fused loop over a few thousand elements that is most of the time. ``call`` below does
the same in C through the NumPy API, about 0.1 us per array, and checks every array
against a spec fixed when the caller binds a kernel, so a wrong argument raises TypeError
instead of reading past an array's end.

Kernels called this way take their arrays as one pointer table:
``void kernel(long rows, long m, int nt, void *const *p)`` (outputs first).

Example:
    >>> from ember.backend import ckernels_call
    >>> ckernels_call.caller() is None or callable(ckernels_call.caller())
    True
"""

from __future__ import annotations

import ctypes
import functools
import struct
from collections.abc import Callable

import numpy as np

from . import cext
from . import ckernels as _ck

__all__ = ["caller", "bind"]

#: arrays one call may pass
MAX_ARRAYS = 64

_SOURCE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

typedef void (*kernel_t)(long, long, int, void *const *);
typedef struct { long long size; int type; int write; } spec_t;

/* call(fn, rows, m, nt, spec, *arrays): check each array against spec (NumPy type number,
   element count, C-contiguous, writeable for outputs), then run fn on their data. */
static PyObject *call(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs < 5) {
    PyErr_SetString(PyExc_TypeError, "call(fn, rows, m, nt, spec, *arrays)");
    return NULL;
  }
  void *fn = PyLong_AsVoidPtr(args[0]);
  long rows = PyLong_AsLong(args[1]), m = PyLong_AsLong(args[2]);
  int nt = (int)PyLong_AsLong(args[3]);
  if (PyErr_Occurred()) return NULL;
  Py_ssize_t na = nargs - 5;
  if (!fn || !PyBytes_Check(args[4]) || na > MAXA ||
      PyBytes_GET_SIZE(args[4]) != na * (Py_ssize_t)sizeof(spec_t)) {
    PyErr_SetString(PyExc_ValueError, "call: bad kernel pointer or spec");
    return NULL;
  }
  const spec_t *spec = (const spec_t *)PyBytes_AS_STRING(args[4]);
  void *p[MAXA];
  for (Py_ssize_t i = 0; i < na; i++) {
    PyObject *o = args[5 + i];
    if (!PyArray_Check(o)) {
      PyErr_Format(PyExc_TypeError, "kernel argument %zd: expected an array, got %s", i,
                   Py_TYPE(o)->tp_name);
      return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)o;
    if (PyArray_TYPE(a) != spec[i].type || (long long)PyArray_SIZE(a) != spec[i].size ||
        !PyArray_IS_C_CONTIGUOUS(a) || (spec[i].write && !PyArray_ISWRITEABLE(a))) {
      PyErr_Format(PyExc_TypeError, "kernel argument %zd: expected a C-contiguous%s array "
                   "of type %d with %lld elements", i, spec[i].write ? " writeable" : "",
                   spec[i].type, spec[i].size);
      return NULL;
    }
    p[i] = PyArray_DATA(a);
  }
  if ((long long)rows * m >= (1LL << 16)) {
    Py_BEGIN_ALLOW_THREADS
    ((kernel_t)fn)(rows, m, nt, p);
    Py_END_ALLOW_THREADS
  } else {
    ((kernel_t)fn)(rows, m, nt, p);
  }
  Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
  {"call", (PyCFunction)(void (*)(void))call, METH_FASTCALL, "run a kernel on arrays"},
  {NULL, NULL, 0, NULL}};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "_ember_kcall", NULL, -1, methods};
PyMODINIT_FUNC PyInit__ember_kcall(void) {
  import_array();
  return PyModule_Create(&def);
}
"""

_call: list = []           # [the module's call | None] once built


def caller() -> Callable | None:
    """The extension's ``call(fn, rows, m, nt, spec, *arrays)``, or None without C."""
    if not _call:
        with _ck._lock:
            if not _call:
                mod = cext.build_module("_ember_kcall",
                                        f"#define MAXA {MAX_ARRAYS}\n" + _SOURCE)
                _call.append(mod.call if mod is not None else None)
    return _call[0]


def bind(fn, rows: int, m: int, nt: int, arrays: list) -> Callable | None:
    """A function ``f(*arrays)`` running ctypes kernel ``fn`` on arrays shaped like
    ``arrays`` (outputs first, each ``(dtype, size, writeable)``), or None without the
    extension. Arguments unlike the spec raise TypeError. ``ElementwiseKernel.bind`` (see
    its example) builds the spec from a loop's input kinds."""
    call = caller()
    if call is None or len(arrays) > MAX_ARRAYS:
        return None
    ptr = ctypes.cast(fn, ctypes.c_void_p).value
    spec = b"".join(struct.pack("=qii", size, np.dtype(dt).num, int(write))
                    for dt, size, write in arrays)
    return functools.partial(call, ptr, rows, m, nt, spec)
