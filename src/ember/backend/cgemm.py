"""A packed, register-blocked GEMM in C for the linear layers of small models.

OpenBLAS on a 2-core machine leaves most of the second core idle on the layers of a small
MLP: at (256, 64) @ (64, 256) its two threads took longer than one (84 us against 73 us;
torch's oneDNN: 36 us), because its threading is tuned for large matrices. This kernel
is the textbook design (Goto's, BLIS's) cut down to what those sizes need:

* ``C = P @ Q``, where ``P`` is read in place a scalar at a time (any strides) and ``Q`` is
  packed into panels of ``NR`` columns (zero-padded); ``w.T`` is packed by L x L
  transposes in registers. The product is computed as ``a @ b`` or as its transpose
  ``b^T @ a^T``, whichever costs less to pack, pad and store;
* a micro-kernel keeps an ``MR x NR`` tile of the output in registers (``2 * MR`` machine
  vectors, one vector a row for narrow outputs), written with GCC/Clang vector
  extensions, so it compiles to AVX-512, AVX2 or NEON from one source; bias and relu are
  applied to the tile in registers. A last, partial row block moves up over rows an
  earlier block stores, so ``P`` is never copied;
* outputs of a few columns (a classifier's logits) are dot products along ``k`` instead,
  where ``P``'s rows and ``Q``'s columns both run along ``k``: there a one-vector tile
  would wait on its loads, one per multiply-add;
* ``k`` is cut into blocks of ``KC`` so a panel stays in L1;
* OpenMP threads, the GIL released, each pack their own panels and split the row blocks
  (a thread's rows of C then stay in its cache for the next layer), taking the blocks
  another thread has not reached yet once done with theirs; with few row blocks they
  split the panels. In a forked child they run serially (GNU OpenMP would hang there).

The sums run in another order than BLAS's, so results differ by rounding only.

* ``gemm_kernel()``: ``gemm(a, b, out, bias, relu, threads)`` of the module below, or None
  where C is not available; ``gemm_fits(m, n, k)`` says where it is the faster path and
  ``gemm_threads`` how many threads a product gets.
* ``c_linear(x, w, b, relu, parallel)``: a linear layer by whichever C kernel fits its size
  (this one, or ``cext.linear_kernel``'s dot products for a few rows), or None for NumPy.
* ``c_matmul(a, b, parallel)``: a 2-D product by this kernel, or None for the op.
* ``team_hot()``: whether a threaded product just ended, its workers still spinning.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

from . import cext
from . import ckernels as _ck

__all__ = ["gemm_kernel", "gemm_fits", "gemm_threads", "team_threads", "c_linear",
           "c_linear_fits", "c_matmul", "gemm_runner", "team_hot"]

#: below this many multiply-adds a second thread costs more (its wake-up, ~5 us) than it saves
PARALLEL_MACS = 1 << 19
#: above this many multiply-adds per call BLAS's deeper blocking and its own threads win
MAX_MACS = 1 << 26

#: seconds after a threaded product during which its OpenMP workers still spin-wait (GNU
#: OpenMP spins for about this long by default): work that can use them then should
#: (``team_hot``), since a spinning worker slows the single-threaded code beside it
HOT_SECONDS = 0.001

_gemm: list = []           # [the module | None] once built
#: os.cpu_count() reads the affinity mask each time: 5-10 us, as much as a small product
_CORES = min(os.cpu_count() or 1, 8)


def gemm_fits(m: int, n: int, k: int) -> bool:
    """Whether ``gemm_kernel`` is the faster way to multiply (m, k) by (k, n): from a few
    rows (below, ``cext.linear_kernel``'s dot products win) up to ``MAX_MACS``.

    Example:
        >>> from ember.backend import cgemm
        >>> cgemm.gemm_fits(256, 256, 256), cgemm.gemm_fits(4096, 4096, 4096)
        (True, False)
    """
    return m > cext.LINEAR_MAX_ROWS and 0 < m * n * k <= MAX_MACS


def team_threads() -> int:
    """The threads of a threaded product: every core (at most 8), capped by
    ``EMBER_NUM_THREADS``.

    Example:
        >>> from ember.backend import cgemm
        >>> 1 <= cgemm.team_threads() <= 8
        True
    """
    return _team(_module())


def _module():
    """The built extension module, or None (no C, or ``EMBER_JIT_BACKEND=numpy``)."""
    if not _gemm:
        gemm_kernel()
    mod = _gemm[0] if _gemm else None
    return mod if mod is not None and not mod.backend_is_numpy() else None


def _team(mod) -> int:
    """``team_threads()``, the C module ``mod`` (or None) at hand."""
    cap = mod.thread_cap() if mod is not None else None
    if cap is None:     # no C, or a value for int() to judge (C's strtol is stricter)
        env = os.environ.get("EMBER_NUM_THREADS")
        cap = max(1, int(env)) if env else 0
    return min(_CORES, cap) if cap else _CORES


def gemm_threads(m: int, n: int, k: int) -> int:
    """Threads for one product of that size: ``team_threads()`` from ``PARALLEL_MACS``
    multiply-adds, else 1.

    Example:
        >>> from ember.backend import cgemm
        >>> cgemm.gemm_threads(16, 16, 16)
        1
    """
    return 1 if m * n * k < PARALLEL_MACS else team_threads()


def gemm_kernel() -> Callable | None:
    """The C function ``gemm(a, b, out, bias, relu, threads)``, or None where C is not
    available.

    It computes ``a @ b``, adds ``bias`` (shape (N,), or None), then takes
    ``maximum(., 0)`` when ``relu`` is true (NaN stays NaN, as in the ``relu`` op), for
    2-D ``a`` (M, K) and ``b`` (K, N) of any strides (so ``w.T`` is passed as the view it
    is), all of one dtype, float32 or float64, into ``out``, a C-contiguous (M, N) array
    sharing no memory with the inputs; ``out=None`` makes a new one. It returns ``out``.
    Anything else raises TypeError (types, dtypes) or ValueError (shapes, layout,
    overlap). ``threads`` OpenMP threads share the work (``gemm_threads``).

    Example:
        >>> import numpy as np
        >>> from ember.backend import cgemm
        >>> a, b = np.ones((20, 3), np.float32), np.ones((2, 3), np.float32)
        >>> bias = np.array([1, -5], np.float32)
        >>> k = cgemm.gemm_kernel()
        >>> r = k(a, b.T, None, bias, True, 1) if k else np.maximum(a @ b.T + bias, 0)
        >>> r[0].tolist(), r.shape
        ([4.0, 0.0], (20, 2))
    """
    return cext.module_function(_gemm, "_ember_gemm", _source, "gemm")


def team_hot() -> bool:
    """Whether a threaded product (``gemm`` with threads > 1) ended less than
    ``HOT_SECONDS`` ago: its OpenMP workers are still spinning, and a loop that follows
    (an optimizer step in a compiled training step) runs faster sharing the work with
    them than beside them. False where C is not available.

    Example:
        >>> from ember.backend import cgemm
        >>> cgemm.team_hot() in (True, False)
        True
    """
    f = cext.module_function(_gemm, "_ember_gemm", _source, "team_hot")
    return f is not None and f()


def c_linear_fits(m: int, n: int, k: int, parallel: bool = False) -> bool:
    """Whether ``c_linear`` has a kernel for ``m`` rows of a (n, k) weight (with
    ``parallel=False``: on one thread, so up to ``PARALLEL_MACS``).

    Example:
        >>> from ember.backend import cgemm
        >>> cgemm.c_linear_fits(1, 10, 64), cgemm.c_linear_fits(256, 256, 64, parallel=True)
        (True, True)
    """
    return _plan(m, n, k, parallel, True) != 0


_LINEAR, _TEAM = -2, -1


@functools.lru_cache(maxsize=1024)
def _plan(m: int, n: int, k: int, parallel: bool, linear: bool) -> int:
    """What computes (m, k) @ (k, n): ``_LINEAR`` (``cext.linear_kernel``'s dot products,
    for ``c_linear``), ``_TEAM`` (the GEMM on ``team_threads()``, read at each call), 1
    (the GEMM on one thread), or 0 (nothing here: BLAS's or NumPy's). Without
    ``parallel``, products that want threads are BLAS's. Cached by size: working it out
    cost 1-2 us a call, as much as a small product."""
    if linear and cext.linear_fits(m, n, k):
        return _LINEAR
    if not (gemm_fits(m, n, k) if linear else 0 < m * n * k <= MAX_MACS):
        return 0
    if m * n * k < PARALLEL_MACS:
        return 1
    return _TEAM if parallel else 0


def c_linear(x, w, b=None, relu: bool = False, parallel: bool = False, out=None):
    """``x @ w.T + b``, then ``maximum(., 0)`` with ``relu``, by a C kernel, for 2-D ``x``
    (M, K) and ``w`` (N, K) float32 or float64 arrays and ``b`` (N,) or None; or None where
    no kernel applies (no compiler, ``EMBER_JIT_BACKEND=numpy``, another size, dtype or
    layout), for the caller's NumPy code. ``out``: an (M, N) C-contiguous array to write
    into (sharing no memory with the inputs), or None for a new one.

    ``parallel`` lets the GEMM start OpenMP threads (``gemm_threads``). Only callers that
    know no BLAS call runs between theirs should: OpenBLAS's worker threads and OpenMP's
    spin-wait for a while after their work, and the two pools then fight over the cores
    (an LSTM step mixing both ran 5x slower). Without it, products big enough to want
    threads are left to BLAS.

    Example:
        >>> import numpy as np
        >>> from ember.backend import cgemm
        >>> x, w = np.ones((40, 3), np.float32), np.ones((2, 3), np.float32)
        >>> r = cgemm.c_linear(x, w, np.array([1, -5], np.float32), relu=True)
        >>> (r if r is not None else np.maximum(x @ w.T + [1, -5], 0))[0].tolist()
        [4.0, 0.0]
    """
    n, k = w.shape
    plan = _plan(x.shape[0], n, k, parallel, True)
    if plan != _LINEAR:
        return _run(plan, x, w.T, out, b, relu) if plan else None
    kern = cext.linear_kernel()
    try:
        return kern(x, w, b, out, relu) if kern is not None else None
    except (TypeError, ValueError):
        return None     # a dtype or layout the kernel refuses: strided, misaligned, a bias


def _run(plan: int, a, b, out, bias, relu: bool):
    """The GEMM on ``plan``'s threads, or None where it is not available now or refuses
    the arrays (a dtype or layout: strided, misaligned, a broadcast bias; mismatched
    shapes)."""
    mod = _module()
    if mod is None:
        return None
    try:
        return mod.gemm(a, b, out, bias, relu, _team(mod) if plan == _TEAM else plan)
    except (TypeError, ValueError):
        return None


def gemm_runner(m: int, n: int, k: int, parallel: bool = False, linear: bool = True
                ) -> Callable | None:
    """A function ``run(a, b, out, bias, relu)`` computing ``a @ b`` (+ ``bias``, relu'd)
    for products of this size by the C GEMM as ``c_linear`` (``linear``) or ``c_matmul``
    would, or returning None where the GEMM is not available now or refuses the arrays;
    or None where the size is not the GEMM's. For callers that run one size many times
    (the JIT's linear layers): working out the plan on each call cost 1-2 us.

    Example:
        >>> import numpy as np
        >>> from ember.backend import cgemm
        >>> run = cgemm.gemm_runner(40, 2, 3)
        >>> a, w = np.ones((40, 3), np.float32), np.ones((2, 3), np.float32)
        >>> r = run(a, w.T, None, None, False) if run is not None else None
        >>> (r if r is not None else a @ w.T)[0].tolist()
        [3.0, 3.0]
    """
    plan = _plan(m, n, k, parallel, linear)
    if plan == 0 or plan == _LINEAR:
        return None
    return functools.partial(_run, plan)


def c_matmul(a, b, parallel: bool = False, out=None):
    """``a @ b`` by the C GEMM for 2-D float32 or float64 ``a`` (M, K) and ``b`` (K, N) of
    any strides and up to ``MAX_MACS`` multiply-adds, threaded as in ``c_linear``; or None
    where it does not apply (no compiler, ``EMBER_JIT_BACKEND=numpy``, another size, dtype
    or layout, mismatched shapes), for the caller's op. ``out`` as in ``c_linear``.

    Example:
        >>> import numpy as np
        >>> from ember.backend import cgemm
        >>> a, b = np.ones((4, 3), np.float32), np.ones((3, 2), np.float32)
        >>> r = cgemm.c_matmul(a, b)
        >>> (r if r is not None else a @ b).tolist()[0]
        [3.0, 3.0]
    """
    if a.ndim != 2 or b.ndim != 2 or a.dtype != b.dtype:
        return None
    (m, k), n = a.shape, b.shape[1]
    plan = _plan(m, n, k, parallel, False)
    return _run(plan, a, b, out, None, False) if plan else None


def _reset_for_tests() -> None:
    with _ck._lock:
        _gemm.clear()


_PREAMBLE = r"""
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#if defined(__has_builtin)
#if __has_builtin(__builtin_shufflevector)
#define EM_SHUFFLE 1
#endif
#endif
#ifndef EM_SHUFFLE
#define EM_SHUFFLE 0
#endif
#ifdef _OPENMP
#include <omp.h>
#endif

/* EM_VB: bytes in one vector register; EM_MR: tile rows, so that the 2 * MR accumulators,
   two vectors of b and one broadcast fit the register file (32 with AVX-512 and on
   AArch64, 16 otherwise) */
#if defined(__AVX512F__)
#define EM_VB 64
#define EM_MR 12
#elif defined(__AVX__)
#define EM_VB 32
#define EM_MR 6
#elif defined(__aarch64__)
#define EM_VB 16
#define EM_MR 12
#else
#define EM_VB 16
#define EM_MR 6
#endif
/* EM_MR1: rows of a tile one vector wide (few columns). Eight accumulators keep both FMA
   pipes busy; twelve rows read in place needed more pointers than the integer registers
   hold, and the spills cost 10-15% */
#if EM_MR > 8
#define EM_MR1 8
#else
#define EM_MR1 EM_MR
#endif
/* the dot-product path for narrow products (dot_rows): DOT_R rows by DOT_NB columns of
   accumulators, and DOT_R + 1 vectors loaded, fit the register file */
#if EM_MR > 8
#define DOT_R 4
#else
#define DOT_R 2
#endif
#define DOT_NB 5
/* em_forked: in a forked child every product runs on one thread (ckernels' fork guard) */
FORK_GUARD_C
#include <time.h>
static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
/* when the last product that started a team ended (see team_hot) */
static double team_end = -1e9;
#define EM_KC 256     /* k per block: a 12 x 256 a-panel (12 KB) stays in L1 */
#define EM_ALIGN 64

/* one scratch buffer kept between calls (a fresh multi-megabyte malloc is an mmap, and
   its page faults cost more than small products); taken under the GIL, so a second
   thread's call meanwhile gets a buffer of its own */
static void *scratch = NULL;
static size_t scratch_size = 0;
static int scratch_busy = 0;

static void *take_scratch(size_t size, int *owned) {
  size = (size + EM_ALIGN - 1) / EM_ALIGN * EM_ALIGN;
  if (!scratch_busy) {
    if (scratch_size < size) {
      free(scratch);
      scratch = aligned_alloc(EM_ALIGN, size);
      scratch_size = scratch ? size : 0;
    }
    if (scratch) {
      scratch_busy = 1;
      *owned = 0;
      return scratch;
    }
  }
  *owned = 1;
  return aligned_alloc(EM_ALIGN, size);
}

static void give_scratch(void *p, int owned) {
  if (owned) free(p);
  else scratch_busy = 0;
}
"""

_TEMPLATE = r"""
#define L (EM_VB / (int)sizeof(T))
typedef T V_SFX __attribute__((vector_size(EM_VB)));
typedef long long VI_SFX __attribute__((vector_size(EM_VB)));

static inline V_SFX load_SFX(const T *p) { V_SFX v; memcpy(&v, p, sizeof v); return v; }
static inline void store_SFX(T *p, V_SFX v) { memcpy(p, &v, sizeof v); }

/* relu as the op: v > 0 or NaN keeps v, anything else (negatives, -0) becomes +0 */
static inline V_SFX relu_SFX(V_SFX v) {
  VI_SFX keep = (VI_SFX)((v > 0) | (v != v));
  return (V_SFX)((VI_SFX)v & keep);
}

/* one scalar, by the vector code: a branch on the sign mispredicted for half the elements
   of a random tile (the transposed stores took 7x the time of the product at k = 64) */
static inline T relu1_SFX(T v) {
  V_SFX x = {v};
  return relu_SFX(x)[0];
}

/* The product is computed as C (rows x cols) = P (rows x k) @ Q (k x cols). P is read in
   place one scalar at a time (element (i, k) at p[i*pri + k*pk]); Q is packed into
   panels of nv vectors' worth of columns (zero past the last), read a vector at a time.
   C's element (i, j) is at c[i*cri + j*crj]: out itself, or its transpose where the
   caller swapped the operands (C^T = b^T @ a^T) because that packs or wastes less. */
typedef struct {
  const T *p; npy_intp pri, pk;
  const T *q; npy_intp qk, qj;
  npy_intp rows, cols, k;
  T *c; npy_intp cri, crj;
  const T *bias; int bias_on_rows;       /* bias per column of C, or per row */
  int relu;
  int nv;                                /* vectors per tile row: 2, or 1 for few columns */
} prob_SFX;

/* panel `panel` (nr = nv * L columns wide), k-block [k0, k0+kc): dst[k*nr + j]. k outer:
   each row of the panel is written whole, and the columns it gathers from stay in L1 for
   the next k. */
#if EM_SHUFFLE
/* r[0..L) transposed in place: r[i][l] becomes r[l][i] (log2(L) rounds of swapping the
   off-diagonal halves of ever smaller blocks) */
static inline void transpose_SFX(V_SFX *r) {
TRANSPOSE
}
#endif

/* panel `panel` (nr = nv * L columns wide), k-block [k0, k0+kc): dst[k*nr + j]. Where Q's
   columns run along k (w.T), L x L blocks are transposed in registers; elsewhere k outer:
   each row of the panel is written whole while the columns it gathers from stay in L1. */
static void pack_q_SFX(const prob_SFX *pr, npy_intp panel, npy_intp k0, npy_intp kc,
                       T *restrict dst) {
  const npy_intp w = pr->nv * L, j0 = panel * w;
  const npy_intp nr = pr->cols - j0 < w ? pr->cols - j0 : w;
  const npy_intp qk = pr->qk, qj = pr->qj;
  const T *restrict src = pr->q + j0 * qj + k0 * qk;
  npy_intp kdone = 0;
#if EM_SHUFFLE
  if (qk == 1 && nr == w) {
    kdone = kc - kc % L;
    for (npy_intp k = 0; k < kdone; k += L)
      for (npy_intp j = 0; j < w; j += L) {
        V_SFX r[L];
        for (int l = 0; l < L; l++) r[l] = load_SFX(src + (j + l) * qj + k);
        transpose_SFX(r);
        for (int l = 0; l < L; l++) store_SFX(dst + (k + l) * w + j, r[l]);
      }
  }
#endif
  for (npy_intp k = kdone; k < kc; k++) {
    T *d = dst + k * w;
    const T *s = src + k * qk;
    for (npy_intp j = 0; j < nr; j++) d[j] = s[j * qj];
    for (npy_intp j = nr; j < w; j++) d[j] = 0;
  }
}

/* the mr rows of P of the row block at *i0, read in place. Where fewer are left, the
   block moves up to end at the last row, and its first *skip rows, an earlier block's,
   are computed again but not stored: a zero-padded copy of the rows, made for every
   panel, cost about as much as the block's product. Only where P has fewer than mr rows
   in all is it copied, zero-padded, to pad. */
static const T *p_rows_SFX(const prob_SFX *pr, int mr, npy_intp *i0, npy_intp k0,
                           npy_intp kc, npy_intp *ri, npy_intp *rk, int *skip, T *pad) {
  const npy_intp left = pr->rows - *i0;
  *skip = 0;
  if (pr->rows >= mr) {
    if (left < mr) {
      *skip = (int)(mr - left);
      *i0 = pr->rows - mr;
    }
    *ri = pr->pri;
    *rk = pr->pk;
    return pr->p + *i0 * pr->pri + k0 * pr->pk;
  }
  for (npy_intp k = 0; k < kc; k++)
    for (npy_intp i = 0; i < mr; i++)
      pad[k * mr + i] = i < left ? pr->p[(*i0 + i) * pr->pri + (k0 + k) * pr->pk] : 0;
  *ri = 1;
  *rk = mr;
  return pad;
}

/* the tile's outputs in t (MR x nv vectors) but its first skip rows, to C: on the first
   k-block written, on later ones added; bias and relu after the last */
static void tile_out_SFX(const prob_SFX *pr, const T *t, int mr_full, npy_intp i0,
                         npy_intp j0, int first, int last, int skip) {
  const npy_intp w = pr->nv * L;
  const npy_intp mr = pr->rows - i0 < mr_full ? pr->rows - i0 : mr_full;
  const npy_intp nr = pr->cols - j0 < w ? pr->cols - j0 : w;
  const T *bias = last ? pr->bias : NULL;
  const int relu = last && pr->relu;
  T *c = pr->c + i0 * pr->cri + j0 * pr->crj;
  /* along out's rows: C's rows, or with the operands swapped its columns */
  if (pr->crj == 1) {
    for (npy_intp i = skip; i < mr; i++)
      for (npy_intp j = 0; j < nr; j++) {
        T v = t[i * w + j];
        if (!first) v += c[i * pr->cri + j];
        if (bias) v += bias[j0 + j];
        if (relu) v = relu1_SFX(v);
        c[i * pr->cri + j] = v;
      }
    return;
  }
  for (npy_intp j = 0; j < nr; j++)
    for (npy_intp i = skip; i < mr; i++) {
      T *cij = c + i * pr->cri + j * pr->crj;
      T v = t[i * w + j];
      if (!first) v += *cij;
      if (bias) v += pr->bias_on_rows ? bias[i0 + i] : bias[j0 + j];
      if (relu) v = relu1_SFX(v);
      *cij = v;
    }
}

TILES

/* Narrow products (one vector of columns or fewer) whose P rows and Q columns both run
   along k (x and a linear layer's w.T): each output a dot product, summed in L lanes
   along k, the lanes added at the end. The tiles broadcast one element of P to each
   multiply-add there, and their loads, not the multiply-adds, set the pace (8 cycles a
   k for 8 rows, against 4 for the FMAs); here each loaded vector feeds DOT_R or DOT_NB
   of them. */
static inline T hsum_SFX(V_SFX v) {
HSUM
}

/* rows [i0, i0 + DOT_R) of C but the first skip, all columns, DOT_NB at a time */
static void dot_rows_SFX(const prob_SFX *pr, npy_intp i0, int skip) {
  const npy_intp K = pr->k, kv = K - K % L;
  const T *x[DOT_R];
  for (int r = 0; r < DOT_R; r++) x[r] = pr->p + (i0 + r) * pr->pri;
  for (npy_intp j0 = 0; j0 < pr->cols; j0 += DOT_NB) {
    const npy_intp nn = pr->cols - j0 < DOT_NB ? pr->cols - j0 : DOT_NB;
    const T *w[DOT_NB];
    /* columns past the last repeat it, and are not stored */
    for (int n = 0; n < DOT_NB; n++) w[n] = pr->q + (j0 + (n < nn ? n : nn - 1)) * pr->qj;
    V_SFX acc[DOT_R][DOT_NB], xv[DOT_R];
#pragma GCC unroll 8
    for (int r = 0; r < DOT_R; r++)
#pragma GCC unroll 8
      for (int n = 0; n < DOT_NB; n++) acc[r][n] = (V_SFX){0};
    for (npy_intp k = 0; k < kv; k += L) {
#pragma GCC unroll 8
      for (int r = 0; r < DOT_R; r++) xv[r] = load_SFX(x[r] + k);
#pragma GCC unroll 8
      for (int n = 0; n < DOT_NB; n++) {
        const V_SFX wv = load_SFX(w[n] + k);
#pragma GCC unroll 8
        for (int r = 0; r < DOT_R; r++) acc[r][n] += xv[r] * wv;
      }
    }
    if (kv < K) {     /* the last K % L elements: zero-padded copies */
      const size_t left = (size_t)(K - kv) * sizeof(T);
#pragma GCC unroll 8
      for (int r = 0; r < DOT_R; r++) {
        xv[r] = (V_SFX){0};
        memcpy(&xv[r], x[r] + kv, left);
      }
#pragma GCC unroll 8
      for (int n = 0; n < DOT_NB; n++) {
        V_SFX wv = (V_SFX){0};
        memcpy(&wv, w[n] + kv, left);
#pragma GCC unroll 8
        for (int r = 0; r < DOT_R; r++) acc[r][n] += xv[r] * wv;
      }
    }
    for (int r = skip; r < DOT_R; r++)
      for (npy_intp n = 0; n < nn; n++) {
        T v = hsum_SFX(acc[r][n]);
        if (pr->bias) v += pr->bias[j0 + n];
        if (pr->relu) v = relu1_SFX(v);
        pr->c[(i0 + r) * pr->cri + j0 + n] = v;
      }
  }
}

/* elements of scratch per thread: one panel of Q and the padded last rows of P, rounded
   so that every thread's panel starts aligned */
static npy_intp per_thread_SFX(npy_intp kc) {
  const npy_intp per = EM_ALIGN / (npy_intp)sizeof(T);
  return ((2 * L + EM_MR) * kc + per - 1) / per * per;
}

static size_t scratch_SFX(npy_intp k, int nt) {
  return (size_t)nt * (size_t)per_thread_SFX(k < EM_KC ? k : EM_KC) * sizeof(T);
}

/* the tile at (i0, j0) by the loop made for its strides of P: one of them constant (1,
   or MR for a padded copy) keeps the addresses in a few registers */
static void tile_SFX(const prob_SFX *pr, const T *a, npy_intp ri, npy_intp rk, const T *b,
                     npy_intp i0, npy_intp j0, npy_intp kc, int edge) {
  if (pr->nv == 1) {
    if (ri == 1) tile1_SFX(pr, a, 1, rk, b, i0, j0, kc, edge);
    else if (rk == 1) tile1_SFX(pr, a, ri, 1, b, i0, j0, kc, edge);
    else tile1_SFX(pr, a, ri, rk, b, i0, j0, kc, edge);
  } else if (ri == 1 && rk == EM_MR) {
    tile2_SFX(pr, a, 1, EM_MR, b, i0, j0, kc, edge);
  } else if (ri == 1) {
    tile2_SFX(pr, a, 1, rk, b, i0, j0, kc, edge);
  } else if (rk == 1) {
    tile2_SFX(pr, a, ri, 1, b, i0, j0, kc, edge);
  } else {
    tile2_SFX(pr, a, ri, rk, b, i0, j0, kc, edge);
  }
}

/* With row blocks enough for every thread (ROWS_PER_THREAD), they are split over the
   threads, and each thread packs every panel of Q itself, into a panel of its own, and
   runs its row blocks against it while it is in L1. Packing twice costs less than
   sharing: no barrier, no panel read from another core's cache, and each thread's rows
   of C stay in its cache for the next layer, which splits its rows the same way. With
   few row blocks (a batch of 64) the packing would cost as much as the tiles: the panels
   are split over the threads instead, each packed once.

   Split by rows, with one k-block, a thread done with its rows of a panel takes the row
   blocks still waiting in the others' (a counter per thread and panel, on a cache line
   of its own): on a virtual machine one core often runs slower for a while, and the
   faster thread no longer waits for it at the end (the W5 layers: 6-9% faster). With
   more k-blocks a row block's tiles must run in order, on one thread: static rows. */
#define ROWS_PER_THREAD 8
static void gemm_SFX(const prob_SFX *pr, int nt, T *buf) {
  if (pr->k == 0) {
    for (npy_intp i = 0; i < pr->rows; i++)
      for (npy_intp j = 0; j < pr->cols; j++) {
        T v = pr->bias ? pr->bias[pr->bias_on_rows ? i : j] : 0;
        pr->c[i * pr->cri + j * pr->crj] = pr->relu ? relu1_SFX(v) : v;
      }
    return;
  }
  /* up to two blocks of DOT_NB columns, k of four vectors or more, P's rows and Q's
     columns along k: dot products, in row blocks of DOT_R. Measured at 256 rows (f32,
     AVX-512), they took 0.3-0.95x the tiles' time there; with more columns (16: the tiles
     waste no lane) or a shorter k (the lanes' sums cost more) the tiles won. */
  const int dot = pr->nv == 1 && pr->cols <= 2 * DOT_NB && pr->k >= 4 * L &&
                  pr->pk == 1 && pr->qk == 1 && pr->crj == 1 && !pr->bias_on_rows &&
                  pr->rows >= DOT_R;
  const int mr = dot ? DOT_R : pr->nv == 1 ? EM_MR1 : EM_MR;
  const npy_intp w = pr->nv * L;
  const npy_intp pa = (pr->rows + mr - 1) / mr, pb = (pr->cols + w - 1) / w;
  const npy_intp kcmax = pr->k < EM_KC ? pr->k : EM_KC;
  const int by_rows = pa >= ROWS_PER_THREAD * nt || pb < nt;
  if (nt > (by_rows ? pa : pb)) nt = (int)(by_rows ? pa : pb);
  enum { LINE = EM_ALIGN / sizeof(npy_intp) };
  npy_intp *next = NULL;     /* next[(thread * pb + panel) * LINE]: row blocks handed out */
  if (by_rows && nt > 1 && (pr->k <= EM_KC || dot) && !em_forked)
    next = calloc((size_t)(nt * pb * LINE), sizeof *next);
#pragma omp parallel num_threads(nt) if (nt > 1 && !em_forked)
  {
#ifdef _OPENMP
    const npy_intp tid = omp_get_thread_num(), team = omp_get_num_threads();
#else
    const npy_intp tid = 0, team = 1;
#endif
    T *panel = buf + tid * per_thread_SFX(kcmax), *pad = panel + w * kcmax;
    const npy_intp n_part = by_rows ? pa : pb;
    const npy_intp p0 = n_part * tid / team, p1 = n_part * (tid + 1) / team;
    const npy_intp i0 = by_rows ? p0 : 0, i1 = by_rows ? p1 : pa;
    const npy_intp j0 = by_rows ? 0 : p0, j1 = by_rows ? pb : p1;
    npy_intp ri, rk;
    for (npy_intp j = j0; j < j1; j++)
      for (npy_intp k0 = 0; k0 < pr->k; k0 += dot ? pr->k : EM_KC) {
        const npy_intp kc = pr->k - k0 < EM_KC ? pr->k - k0 : EM_KC;
        if (!dot) pack_q_SFX(pr, j, k0, kc, panel);
        /* without counters, this thread's blocks [i0, i1); with them, its own thread's
           first, then every other's */
        for (npy_intp r = 0; r < (next ? team : 1); r++) {
          const npy_intp owner = (tid + r) % team;
          const npy_intp q0 = next ? pa * owner / team : i0;
          const npy_intp q1 = next ? pa * (owner + 1) / team : i1;
          npy_intp *taken = next ? next + (owner * pb + j) * LINE : NULL;
          for (npy_intp i = q0;; i++) {
            if (taken) i = q0 + __atomic_fetch_add(taken, 1, __ATOMIC_RELAXED);
            if (i >= q1) break;
            npy_intp row = i * mr;
            int skip;
            const T *a = p_rows_SFX(pr, mr, &row, k0, kc, &ri, &rk, &skip, pad);
            if (dot)
              dot_rows_SFX(pr, row, skip);
            else
              tile_SFX(pr, a, ri, rk, panel, row, j * w, kc,
                       (k0 == 0) | (k0 + kc == pr->k) << 1 | skip << 2);
          }
        }
      }
  }
  free(next);
}
#undef L
"""

# One tile of C: MR rows of NV vectors, MR * NV accumulators (2 * EM_MR, what the register
# file holds next to the loaded vectors; EM_MR1 rows one vector wide), named by constant
# indices once the loops unroll, so they stay in registers. Whole tiles of out itself are
# finished in registers; the rest goes through tile_out. ``edge`` packs the tile's first,
# last and skip (first | last << 1 | skip << 2) in one argument: one more live argument
# spilled the row offsets of P's rows out of the integer registers in the k-loop (8%).
_TILE = r"""
static inline __attribute__((always_inline)) void tileNV_SFX(
    const prob_SFX *pr, const T *restrict a, npy_intp ri, npy_intp rk, const T *restrict b,
    npy_intp i0, npy_intp j0, npy_intp kc, int edge) {
  /* more than eight rows are read from two pointers, H rows apart: their offsets then fit
     the integer registers (twelve offsets did not: the spills cost 8%) */
  enum { MR = NV == 1 ? EM_MR1 : EM_MR, H = MR > 8 ? (MR + 1) / 2 : MR };
  V_SFX acc[MR][NV];
  b = __builtin_assume_aligned(b, EM_ALIGN);
  const T *restrict a_hi = a + H * ri;
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) acc[i][v] = (V_SFX){0};
  /* two steps of k a round: the loop's own instructions halve (3% on the W5 layers) */
#pragma GCC unroll 2
  for (npy_intp k = 0; k < kc; k++) {
    V_SFX bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) bv[v] = *(const V_SFX *)(b + (k * NV + v) * L);
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++) {
      const T s = i < H ? a[i * ri + k * rk] : a_hi[(i - H) * ri + k * rk];
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) acc[i][v] += s * bv[v];
    }
  }
  const int first = edge & 1, last = edge >> 1 & 1, skip = edge >> 2;
  if (!skip && pr->rows - i0 >= MR && pr->cols - j0 >= NV * L && pr->crj == 1 &&
      !pr->bias_on_rows) {
    const T *bias = last ? pr->bias : NULL;
    T *c = pr->c + i0 * pr->cri + j0;
#pragma GCC unroll 32
    for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
      for (int v = 0; v < NV; v++) {
        T *cv = c + i * pr->cri + v * L;
        V_SFX x = acc[i][v];
        if (!first) x += load_SFX(cv);
        if (bias) x += load_SFX(bias + j0 + v * L);
        if (last && pr->relu) x = relu_SFX(x);
        store_SFX(cv, x);
      }
    return;
  }
  T t[MR * NV * L] __attribute__((aligned(EM_ALIGN)));
#pragma GCC unroll 32
  for (int i = 0; i < MR; i++)
#pragma GCC unroll 2
    for (int v = 0; v < NV; v++) store_SFX(t + (i * NV + v) * L, acc[i][v]);
  tile_out_SFX(pr, t, MR, i0, j0, first, last, skip);
}
"""

_MODULE = r"""
static int check_operand(PyObject *o, const char *what, int ndim) {
  if (!PyArray_Check(o)) {
    PyErr_Format(PyExc_TypeError, "gemm: %s must be a numpy.ndarray, not %.100s", what,
                 Py_TYPE(o)->tp_name);
    return 0;
  }
  PyArrayObject *x = (PyArrayObject *)o;
  if (PyArray_NDIM(x) != ndim) {
    PyErr_Format(PyExc_ValueError, "gemm: %s must have %d dimension(s), got %d", what, ndim,
                 PyArray_NDIM(x));
    return 0;
  }
  if (!PyArray_ISALIGNED(x) || PyArray_ISBYTESWAPPED(x)) {
    PyErr_Format(PyExc_ValueError, "gemm: %s must be aligned and in native byte order", what);
    return 0;
  }
  return 1;
}

OVERLAPS_C

static npy_intp round_up(npy_intp x, npy_intp to) { return (x + to - 1) / to * to; }

/* cycles, roughly, for C (rows x cols) = P @ Q: packing Q (about two elements a cycle)
   plus the padded tiles (about 24 multiply-adds a cycle) */
static npy_intp cost(npy_intp rows, npy_intp cols, npy_intp k, npy_intp lanes) {
  const npy_intp nr = cols <= lanes ? lanes : 2 * lanes;
  const npy_intp mr = nr == lanes ? EM_MR1 : EM_MR;
  return k * cols / 2 + round_up(rows, mr) * round_up(cols, nr) * k / 24;
}

static PyObject *gemm(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
  if (nargs != 6) {
    PyErr_Format(PyExc_TypeError,
                 "gemm(a, b, out, bias, relu, threads) takes 6 arguments (%zd given)", nargs);
    return NULL;
  }
  if (!check_operand(args[0], "a", 2) || !check_operand(args[1], "b", 2) ||
      (args[2] != Py_None && !check_operand(args[2], "out", 2)) ||
      (args[3] != Py_None && !check_operand(args[3], "bias", 1)))
    return NULL;
  const int relu = PyObject_IsTrue(args[4]);
  if (relu < 0) return NULL;
  long nt = PyLong_AsLong(args[5]);
  if (nt == -1 && PyErr_Occurred()) return NULL;
  if (nt < 1 || nt > 64) {
    PyErr_Format(PyExc_ValueError, "gemm: threads must be in 1..64, got %ld", nt);
    return NULL;
  }
  PyArrayObject *a = (PyArrayObject *)args[0], *b = (PyArrayObject *)args[1];
  PyArrayObject *out = args[2] == Py_None ? NULL : (PyArrayObject *)args[2];
  PyArrayObject *bias = args[3] == Py_None ? NULL : (PyArrayObject *)args[3];
  const int type = PyArray_TYPE(a);
  if ((type != NPY_FLOAT && type != NPY_DOUBLE) || PyArray_TYPE(b) != type ||
      (out && PyArray_TYPE(out) != type) || (bias && PyArray_TYPE(bias) != type)) {
    PyErr_SetString(PyExc_TypeError,
                    "gemm: a, b, out and bias must all be float32 or all float64");
    return NULL;
  }
  const npy_intp m = PyArray_DIM(a, 0), k = PyArray_DIM(a, 1), n = PyArray_DIM(b, 1);
  if (PyArray_DIM(b, 0) != k || (out && (PyArray_DIM(out, 0) != m || PyArray_DIM(out, 1) != n)) ||
      (bias && PyArray_DIM(bias, 0) != n)) {
    PyErr_SetString(PyExc_ValueError,
                    "gemm: shapes must be a (M, K), b (K, N), out (M, N) and bias (N,)");
    return NULL;
  }
  if (bias && !PyArray_IS_C_CONTIGUOUS(bias)) {
    PyErr_SetString(PyExc_ValueError, "gemm: bias must be contiguous");
    return NULL;
  }
  if (out) {
    if (!PyArray_IS_C_CONTIGUOUS(out) || !PyArray_ISWRITEABLE(out)) {
      PyErr_SetString(PyExc_ValueError, "gemm: out must be C-contiguous and writeable");
      return NULL;
    }
    if (overlaps(out, a) || overlaps(out, b) || (bias && overlaps(out, bias))) {
      PyErr_SetString(PyExc_ValueError, "gemm: out must not share memory with a, b or bias");
      return NULL;
    }
    Py_INCREF(out);
  } else {
    npy_intp dims[2] = {m, n};
    out = (PyArrayObject *)PyArray_SimpleNew(2, dims, type);
    if (!out) return NULL;
  }
  if (m == 0 || n == 0) return (PyObject *)out;
  const npy_intp isz = PyArray_ITEMSIZE(a);
  npy_intp st[4] = {PyArray_STRIDE(a, 0), PyArray_STRIDE(a, 1), PyArray_STRIDE(b, 0),
                    PyArray_STRIDE(b, 1)};
  for (int d = 0; d < 4; d++) {
    if (st[d] % isz) {
      Py_DECREF(out);
      PyErr_SetString(PyExc_ValueError, "gemm: strides must be whole elements");
      return NULL;
    }
    st[d] /= isz;
  }
  const npy_intp rsa = st[0], csa = st[1], rsb = st[2], csb = st[3];
  /* C = a @ b, or C^T = b^T @ a^T: whichever costs less to pack and to multiply,
     counting the scalar stores of a transposed C at about four cycles an element (fitted
     to products of 20-96 rows by 256-1000 columns: transposing lost up to 1.6x where it
     was taken on a cost of one cycle) */
  const npy_intp lanes = EM_VB / isz;
  const int swap = cost(m, n, k, lanes) > cost(n, m, k, lanes) + 4 * m * n;
  const char *da = PyArray_BYTES(a), *db = PyArray_BYTES(b);
  typedef struct {
    const void *p; npy_intp pri, pk; const void *q; npy_intp qk, qj, rows, cols;
  } operands;
  const operands g = swap ? (operands){db, csb, rsb, da, csa, rsa, n, m}
                          : (operands){da, rsa, csa, db, rsb, csb, m, n};
  const int nv = g.cols <= lanes ? 1 : 2;
  const npy_intp cri = swap ? 1 : n, crj = swap ? n : 1;
  const void *pbias = bias ? PyArray_DATA(bias) : NULL;
  void *po = PyArray_DATA(out);
  const size_t need = type == NPY_FLOAT ? scratch_f32(k, (int)nt) : scratch_f64(k, (int)nt);
  int owned;
  void *buf = take_scratch(need, &owned);
  if (!buf) {
    Py_DECREF(out);
    return PyErr_NoMemory();
  }
  Py_BEGIN_ALLOW_THREADS
  if (type == NPY_FLOAT) {
    prob_f32 pr = {g.p, g.pri, g.pk, g.q, g.qk, g.qj, g.rows, g.cols, k, po, cri, crj,
                   pbias, swap, relu, nv};
    gemm_f32(&pr, (int)nt, buf);
  } else {
    prob_f64 pr = {g.p, g.pri, g.pk, g.q, g.qk, g.qj, g.rows, g.cols, k, po, cri, crj,
                   pbias, swap, relu, nv};
    gemm_f64(&pr, (int)nt, buf);
  }
  Py_END_ALLOW_THREADS
  if (nt > 1 && !em_forked) team_end = now_s();
  give_scratch(buf, owned);
  return (PyObject *)out;
}

/* thread_cap(): EMBER_NUM_THREADS as a number (at least 1), 0 where it is unset or
   empty, None where it is not a whole number; read with C getenv on each call, as
   os.environ sets it (putenv): through os.environ an unset variable cost 1 us, as much
   as a small product */
static PyObject *thread_cap(PyObject *self, PyObject *noargs) {
  const char *v = getenv("EMBER_NUM_THREADS");
  char *end;
  if (v == NULL || *v == 0) return PyLong_FromLong(0);
  const long n = strtol(v, &end, 10);
  if (*end != 0) Py_RETURN_NONE;
  return PyLong_FromLong(n < 1 ? 1 : n);
}

/* team_hot(): whether a threaded product ended less than HOT_SECONDS ago, so OpenMP's
   workers are still spin-waiting (libgomp's default) for more work */
static PyObject *team_hot(PyObject *self, PyObject *noargs) {
  return PyBool_FromLong(!em_forked && now_s() - team_end < HOT_SECONDS);
}

BACKEND_SWITCH_C
static PyMethodDef methods[] = {
  EM_BACKEND_METHOD,
  {"thread_cap", thread_cap, METH_NOARGS,
   "thread_cap(): EMBER_NUM_THREADS as an int (0: unset), or None (not a number)"},
  {"team_hot", team_hot, METH_NOARGS,
   "team_hot(): whether OpenMP's workers ran a product in the last HOT_SECONDS"},
  {"gemm", (PyCFunction)(void (*)(void))gemm, METH_FASTCALL,
   "gemm(a, b, out, bias, relu, threads): out = a @ b + bias, relu'd; see ember.backend.cgemm"},
  {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_ember_gemm", NULL, -1, methods};

PyMODINIT_FUNC PyInit__ember_gemm(void) {
  import_array();
  return PyModule_Create(&module);
}
"""


def _transpose(itemsize: int) -> str:
    """C for ``transpose``, for each vector width: rounds b = L/2, ..., 1 swap lane blocks
    of b between rows i and i + b with two-source shuffles (lanes of the second row count
    from L)."""
    out = []
    for cond, vb in (("#if EM_VB == 64", 64), ("#elif EM_VB == 32", 32), ("#else", 16)):
        lanes, b = vb // itemsize, vb // itemsize // 2
        out.append(cond)
        while b >= 1:
            for i in (i for i in range(lanes) if not i & b):
                lo = ", ".join(str(lanes + x - b if x & b else x) for x in range(lanes))
                hi = ", ".join(str(lanes + x if x & b else x + b) for x in range(lanes))
                out.append(f"  {{ const V_SFX x = __builtin_shufflevector(r[{i}], r[{i + b}], "
                           f"{lo});\n    r[{i + b}] = __builtin_shufflevector(r[{i}], "
                           f"r[{i + b}], {hi});\n    r[{i}] = x; }}")
            b //= 2
    return "\n".join(out + ["#endif"])


def _source() -> str:
    parts = [_PREAMBLE.replace("FORK_GUARD_C", _ck.FORK_GUARD_C)]
    tiles = "".join(_TILE.replace("NV", str(nv)) for nv in (1, 2))
    body = _TEMPLATE.replace("TILES", tiles)
    for ct, sfx, size in (("float", "f32", 4), ("double", "f64", 8)):
        typed = (body.replace("TRANSPOSE", _transpose(size))
                 .replace("HSUM", cext.hsum_shuffles(ct)).replace("_SFX", "_" + sfx))
        parts.append(f"#define T {ct}\n{typed}#undef T\n")
    parts.append(_MODULE.replace("BACKEND_SWITCH_C", cext.BACKEND_SWITCH_C)
                 .replace("OVERLAPS_C", cext.OVERLAPS_C)
                 .replace("HOT_SECONDS", repr(HOT_SECONDS)))
    return "".join(parts)
