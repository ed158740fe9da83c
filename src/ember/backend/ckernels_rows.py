"""Row kernels over the last dim (softmax, log_softmax, layer norm and its backward) and
GELU: each returns False/None where C does not apply, so callers keep their NumPy code."""

from __future__ import annotations

import ctypes
import os

import numpy as np

from .ckernels import (
    _CT,
    _INV_SQRT2,
    _INV_SQRT_2PI,
    _NULL,
    _TANH_C,
    _TANH_K,
    PARALLEL_MIN,
    _lock,
    _row_lib,
    _vp,
    available,
    build,
    num_threads,
)

_ROW_TEMPLATE = r"""
void softmax_SFX(long rows, long m, int nt, T *restrict out, const T *restrict x) {
  #pragma omp parallel for EM_PAR(rows * m)
  for (long r = 0; r < rows; r++) {
    const T *xr = x + r * m; T *o = out + r * m;
    T mx = -(T)INFINITY;
    #pragma omp simd reduction(max:mx)
    for (long j = 0; j < m; j++) mx = xr[j] > mx ? xr[j] : mx;
    T s = 0;
    #pragma omp simd reduction(+:s)
    for (long j = 0; j < m; j++) { T e = EXP(xr[j] - mx); o[j] = e; s += e; }
    const T inv = (T)1 / s;
    #pragma omp simd
    for (long j = 0; j < m; j++) o[j] *= inv;
  }
}

void log_softmax_SFX(long rows, long m, int nt, T *restrict out, const T *restrict x) {
  #pragma omp parallel for EM_PAR(rows * m)
  for (long r = 0; r < rows; r++) {
    const T *xr = x + r * m; T *o = out + r * m;
    T mx = -(T)INFINITY;
    #pragma omp simd reduction(max:mx)
    for (long j = 0; j < m; j++) mx = xr[j] > mx ? xr[j] : mx;
    T s = 0;
    #pragma omp simd reduction(+:s)
    for (long j = 0; j < m; j++) s += EXP(xr[j] - mx);
    const T ls = LOG(s);
    #pragma omp simd
    for (long j = 0; j < m; j++) o[j] = (xr[j] - mx) - ls;
  }
}

/* mean and variance accumulate in double (two passes over the row, which is in cache) */
void layer_norm_SFX(long rows, long m, int nt, const T *restrict x, const T *restrict w,
                    const T *restrict b, double eps, T *restrict out, T *restrict mean_out,
                    T *restrict rstd_out, T *restrict var_out) {
  #pragma omp parallel for EM_PAR(rows * m)
  for (long r = 0; r < rows; r++) {
    const T *xr = x + r * m; T *o = out + r * m;
    double s = 0;
    #pragma omp simd reduction(+:s)
    for (long j = 0; j < m; j++) s += xr[j];
    const double mu = m ? s / m : NAN;
    double q = 0;
    #pragma omp simd reduction(+:q)
    for (long j = 0; j < m; j++) { double d = xr[j] - mu; q += d * d; }
    const double var = m ? q / m : NAN;
    const T rs = (T)(1.0 / sqrt(var + eps));
    const T mt = (T)mu;
    if (mean_out) mean_out[r] = mt;
    if (rstd_out) rstd_out[r] = rs;
    if (var_out) var_out[r] = (T)var;
    if (w && b) {
      #pragma omp simd
      for (long j = 0; j < m; j++) o[j] = (xr[j] - mt) * rs * w[j] + b[j];
    } else if (w) {
      #pragma omp simd
      for (long j = 0; j < m; j++) o[j] = (xr[j] - mt) * rs * w[j];
    } else if (b) {
      #pragma omp simd
      for (long j = 0; j < m; j++) o[j] = (xr[j] - mt) * rs + b[j];
    } else {
      #pragma omp simd
      for (long j = 0; j < m; j++) o[j] = (xr[j] - mt) * rs;
    }
  }
}

/* gx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)) with gw = g * w; per-thread partial
   sums of g * xhat and g (rows of part_w / part_b, one per thread) give dweight and dbias */
void layer_norm_backward_SFX(long rows, long m, int nt, const T *restrict g,
                             const T *restrict x, const T *restrict mean,
                             const T *restrict rstd, const T *restrict w, T *restrict gx,
                             double *restrict part_w, double *restrict part_b) {
  #pragma omp parallel EM_REGION(rows * m)
  {
    const int tid = EM_TID();
    double *pw = part_w ? part_w + (long)tid * m : NULL;
    double *pb = part_b ? part_b + (long)tid * m : NULL;
    #pragma omp for schedule(static)
    for (long r = 0; r < rows; r++) {
      const T *gr = g + r * m, *xr = x + r * m;
      const T mu = mean[r], rs = rstd[r];
      if (gx) {
        double a = 0, c = 0;
        if (w) {
          #pragma omp simd reduction(+:a, c)
          for (long j = 0; j < m; j++) {
            T gw = gr[j] * w[j]; a += gw; c += gw * ((xr[j] - mu) * rs);
          }
        } else {
          #pragma omp simd reduction(+:a, c)
          for (long j = 0; j < m; j++) { a += gr[j]; c += gr[j] * ((xr[j] - mu) * rs); }
        }
        const T am = (T)(a / m), cm = (T)(c / m);
        T *o = gx + r * m;
        if (w) {
          #pragma omp simd
          for (long j = 0; j < m; j++)
            o[j] = rs * (gr[j] * w[j] - am - ((xr[j] - mu) * rs) * cm);
        } else {
          #pragma omp simd
          for (long j = 0; j < m; j++) o[j] = rs * (gr[j] - am - ((xr[j] - mu) * rs) * cm);
        }
      }
      if (pw) {
        #pragma omp simd
        for (long j = 0; j < m; j++) pw[j] += gr[j] * ((xr[j] - mu) * rs);
      }
      if (pb) {
        #pragma omp simd
        for (long j = 0; j < m; j++) pb[j] += gr[j];
      }
    }
  }
}

/* GELU: 'none' is x * Phi(x) with Phi(x) = erfc(-x/sqrt2)/2; 'tanh' is torch's tanh form */
void gelu_SFX(long n, int nt, int tanh_form, T *restrict out, const T *restrict x) {
  if (tanh_form) {
    #pragma omp parallel for simd EM_PAR(n)
    for (long i = 0; i < n; i++) {
      const T v = x[i];
      out[i] = (T)0.5 * v * (1 + TANH((T)TANH_K * (v + (T)TANH_C * v * v * v)));
    }
  } else {
    #pragma omp parallel for simd EM_PAR(n)
    for (long i = 0; i < n; i++) {
      const T v = x[i];
      out[i] = v * ((T)0.5 * ERFC(v * (T)(-INV_SQRT2)));
    }
  }
}

void gelu_backward_SFX(long n, int nt, int tanh_form, T *restrict gx, const T *restrict g,
                       const T *restrict x) {
  if (tanh_form) {
    #pragma omp parallel for simd EM_PAR(n)
    for (long i = 0; i < n; i++) {
      const T v = x[i];
      const T t = TANH((T)TANH_K * (v + (T)TANH_C * v * v * v));
      const T dinner = (T)TANH_K * (1 + (T)(3 * TANH_C) * v * v);
      gx[i] = g[i] * ((T)0.5 * (1 + t) + (T)0.5 * v * (1 - t * t) * dinner);
    }
  } else {
    #pragma omp parallel for simd EM_PAR(n)
    for (long i = 0; i < n; i++) {
      const T v = x[i];
      const T cdf = (T)0.5 * ERFC(v * (T)(-INV_SQRT2));
      const T pdf = (T)INV_SQRT_2PI * EXP((T)-0.5 * v * v);
      gx[i] = g[i] * (cdf + v * pdf);
    }
  }
}
"""


def _row_source() -> str:
    consts = (f"#define TANH_K {_TANH_K!r}\n#define TANH_C {_TANH_C!r}\n"
              f"#define INV_SQRT2 {_INV_SQRT2!r}\n#define INV_SQRT_2PI {_INV_SQRT_2PI!r}\n")
    parts = [consts]
    for ct, sfx, fs in (("float", "f32", "f"), ("double", "f64", "")):
        body = _ROW_TEMPLATE.replace("_SFX", "_" + sfx)
        parts.append(f"#define T {ct}\n#define EXP exp{fs}\n#define LOG log{fs}\n"
                     f"#define TANH tanh{fs}\n#define ERFC erfc{fs}\n{body}\n"
                     "#undef T\n#undef EXP\n#undef LOG\n#undef TANH\n#undef ERFC\n")
    return "".join(parts)


_L, _I, _D = ctypes.c_long, ctypes.c_int, ctypes.c_double
_ROW_SIGS = {
    "softmax": [_L, _L, _I, _vp, _vp],
    "log_softmax": [_L, _L, _I, _vp, _vp],
    "layer_norm": [_L, _L, _I, _vp, _vp, _vp, _D, _vp, _vp, _vp, _vp],
    "layer_norm_backward": [_L, _L, _I, _vp, _vp, _vp, _vp, _vp, _vp, _vp, _vp],
    "gelu": [_L, _I, _I, _vp, _vp],
    "gelu_backward": [_L, _I, _I, _vp, _vp, _vp],
}


def _row_fns() -> dict | None:
    """The row kernels' ctypes functions by (name, dtype), built on first use."""
    if _row_lib:
        return _row_lib[0]
    with _lock:
        if _row_lib:
            return _row_lib[0]
        fns = None
        lib = build(_row_source()) if available() else None
        if lib is not None:
            fns = {}
            for name, sig in _ROW_SIGS.items():
                for dt, sfx in ((np.dtype(np.float32), "f32"), (np.dtype(np.float64), "f64")):
                    f = getattr(lib, f"{name}_{sfx}")
                    f.argtypes = sig
                    f.restype = None
                    fns[name, dt] = f
        _row_lib.append(fns)
        return fns


def _usable(*arrays) -> bool:
    dt = arrays[0].dtype
    return all(type(a) is np.ndarray and a.dtype == dt and a.flags.c_contiguous
               for a in arrays) and dt in _CT


def _fn(name, dtype):
    if os.environ.get("EMBER_JIT_BACKEND", "").lower() == "numpy":
        return None
    fns = _row_lib[0] if _row_lib else _row_fns()
    return fns[name, dtype] if fns else None


def _nt(n: int) -> int:
    return num_threads() if n >= PARALLEL_MIN else 1


def _rows(name: str, x: np.ndarray, out: np.ndarray) -> bool:
    if not (x.ndim and _usable(x, out) and x.shape == out.shape):
        return False
    f = _fn(name, x.dtype)
    if f is None:
        return False
    m = x.shape[-1]
    if x.size:
        f(x.size // m, m, _nt(x.size), out.ctypes.data, x.ctypes.data)
    return True


def softmax(x: np.ndarray, out: np.ndarray) -> bool:
    """Softmax over the last dim of C-contiguous ``x`` into ``out``; False when C is not
    available or the arrays don't qualify (then nothing was written)."""
    return _rows("softmax", x, out)


def log_softmax(x: np.ndarray, out: np.ndarray) -> bool:
    """Log-softmax over the last dim; see ``softmax``."""
    return _rows("log_softmax", x, out)


def layer_norm(x: np.ndarray, weight, bias, eps: float, out: np.ndarray,
               mean_out: np.ndarray | None = None, rstd_out: np.ndarray | None = None,
               var_out: np.ndarray | None = None, m: int | None = None) -> bool:
    """Normalize rows of length ``m`` (default: the last dim) of C-contiguous ``x``:
    ``(x - mean) * rstd * weight + bias`` with ``rstd = 1/sqrt(var + eps)`` (biased var).
    ``weight``/``bias`` are None or contiguous arrays of ``m`` elements; the per-row mean,
    rstd and var go to the optional ``*_out`` arrays (``rows`` elements each). False when
    C is not available or the arrays don't qualify."""
    m = x.shape[-1] if m is None else m
    arrs = [a for a in (x, out, weight, bias, mean_out, rstd_out, var_out) if a is not None]
    if not (x.ndim and m > 0 and x.size % m == 0 and _usable(*arrs) and out.size == x.size):
        return False
    rows = x.size // m
    if any(a is not None and a.size != m for a in (weight, bias)) or \
            any(a is not None and a.size != rows for a in (mean_out, rstd_out, var_out)):
        return False
    f = _fn("layer_norm", x.dtype)
    if f is None:
        return False
    if x.size:
        ptr = [a.ctypes.data if a is not None else _NULL
               for a in (weight, bias)]
        outs = [a.ctypes.data if a is not None else _NULL for a in (mean_out, rstd_out, var_out)]
        f(rows, m, _nt(x.size), x.ctypes.data, ptr[0], ptr[1], float(eps), out.ctypes.data,
          *outs)
    return True


def layer_norm_backward(g: np.ndarray, x: np.ndarray, mean: np.ndarray, rstd: np.ndarray,
                        weight, need_input: bool = True, need_weight: bool = False,
                        need_bias: bool = False, m: int | None = None):
    """Gradients of ``layer_norm`` from the saved per-row ``mean``/``rstd``: a tuple
    ``(grad_x | None, grad_weight | None, grad_bias | None)`` (weight/bias grads flat, of
    ``m`` elements), or None when C is not available or the arrays don't qualify."""
    m = x.shape[-1] if m is None else m
    arrs = [a for a in (g, x, mean, rstd, weight) if a is not None]
    if not (x.ndim and m > 0 and x.size % m == 0 and _usable(*arrs) and g.shape == x.shape):
        return None
    rows = x.size // m
    if mean.size != rows or rstd.size != rows or (weight is not None and weight.size != m):
        return None
    f = _fn("layer_norm_backward", x.dtype)
    if f is None:
        return None
    nt = _nt(x.size)
    gx = np.empty_like(x) if need_input else None
    pw = np.zeros((nt, m)) if need_weight else None
    pb = np.zeros((nt, m)) if need_bias else None
    if x.size:
        f(rows, m, nt, g.ctypes.data, x.ctypes.data, mean.ctypes.data, rstd.ctypes.data,
          weight.ctypes.data if weight is not None else _NULL,
          gx.ctypes.data if gx is not None else _NULL,
          pw.ctypes.data if pw is not None else _NULL,
          pb.ctypes.data if pb is not None else _NULL)
    gw = pw.sum(0).astype(x.dtype) if pw is not None else None
    gb = pb.sum(0).astype(x.dtype) if pb is not None else None
    return gx, gw, gb


def gelu(x: np.ndarray, out: np.ndarray, approximate: str = "none") -> bool:
    """GELU of C-contiguous ``x`` into ``out`` (``approximate`` 'none' or 'tanh'); False when
    C is not available or the arrays don't qualify."""
    if not (_usable(x, out) and x.size == out.size) or approximate not in ("none", "tanh"):
        return False
    f = _fn("gelu", x.dtype)
    if f is None:
        return False
    if x.size:
        f(x.size, _nt(x.size), approximate == "tanh", out.ctypes.data, x.ctypes.data)
    return True


def gelu_backward(g: np.ndarray, x: np.ndarray, out: np.ndarray,
                  approximate: str = "none") -> bool:
    """``g * gelu'(x)`` into ``out``; see ``gelu``."""
    if not (_usable(g, x, out) and g.size == x.size == out.size) or \
            approximate not in ("none", "tanh"):
        return False
    f = _fn("gelu_backward", x.dtype)
    if f is None:
        return False
    if x.size:
        f(x.size, _nt(x.size), approximate == "tanh", out.ctypes.data, g.ctypes.data,
          x.ctypes.data)
    return True
