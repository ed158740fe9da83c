"""C kernel backend: fused loops written as C, built with the system compiler, called by ctypes.

The NumPy path is always available; this module only adds speed where a C compiler works.

* ``available()`` / ``backend_name()``: whether kernels can be built here. The environment
  variable ``EMBER_JIT_BACKEND`` selects: ``numpy`` disables C, ``c`` forces it (a
  ``RuntimeError`` when no compiler builds), anything else (default) uses C when it works.
* ``build(source)``: C source -> loaded ``ctypes.CDLL`` (or None on a compile error, with one
  warning). Libraries are cached on disk in ``$EMBER_CACHE_DIR`` (default
  ``~/.cache/ember/jit``) as ``<sha256>.so``, keyed on the source, the flags, the compiler's
  version and (with ``-march=native``) the CPU's flags; they are written atomically.
* ``compile_elementwise(program, n_inputs, dtype)``: one fused loop for a list of SSA
  instructions named like the op table's ops (see its docstring).
* Row kernels over the last dim of a C-contiguous float32/float64 array: ``softmax``,
  ``log_softmax``, ``layer_norm``, ``layer_norm_backward``; elementwise ``gelu`` and
  ``gelu_backward``. They return False / None when C is not available, so callers keep their
  NumPy code as the fallback.

Math: +, -, *, /, sqrt are IEEE (no ``-ffast-math``: a library built with it would turn on
flush-to-zero for the whole process). exp, log, tanh, erf, erfc, expm1, log1p, sin, cos and
pow come from glibc: float32 through libmvec's vector variants (declared ``simd`` below, so
loops calling them vectorize; glibc documents them within 4 ulp), float64 through scalar libm.
Max errors measured against float64 (for float64: NumPy) references over normal, large, tiny
and subnormal inputs (tests/test_ckernels.py asserts <= 4 ulp for float32, <= 3 for float64):
float32 exp 2.3, expm1 2.2, log 3.7, log1p 1.6, tanh 1.3, erf 4.0, erfc 1.4, sin/cos 1.5,
sigmoid 3.2 (it is ``1/(1+exp(-|x|))`` split by sign exactly like the NumPy op), sqrt 0.5;
float64 within 2 ulp of NumPy (sigmoid 3). inf and nan propagate as in libm.

Threads: loops over at least ``PARALLEL_MIN`` elements may use OpenMP, ``num_threads()``
threads (1 unless ``EMBER_NUM_THREADS`` says more; see there why).

This module builds and caches; the kernels live in ``ckernels_elementwise.py`` and
``ckernels_rows.py`` and are re-exported here.
"""

from __future__ import annotations

import ctypes
import hashlib
import math
import os
import shutil
import subprocess
import tempfile
import threading
import warnings

import numpy as np

__all__ = ["available", "backend_name", "build", "compile_elementwise", "ElementwiseKernel",
           "softmax", "log_softmax", "layer_norm", "layer_norm_backward", "gelu",
           "gelu_backward", "num_threads", "fused_threads", "PARALLEL_MIN", "run_numpy"]

#: arrays with at least this many elements are split over OpenMP threads
PARALLEL_MIN = 1 << 16

_BASE_FLAGS = ("-O3", "-fPIC", "-shared", "-std=c99", "-fno-math-errno")
_lock = threading.RLock()
_probe: dict = {}          # "ok", "cc", "flags", "libs", "key"
_libs: dict[str, ctypes.CDLL] = {}
_warned: set[str] = set()
_row_lib: list = []        # [dict of ctypes functions | None] once built
_vp = ctypes.c_void_p
_NULL = None


def num_threads() -> int:
    """OpenMP threads used above ``PARALLEL_MIN`` elements: ``EMBER_NUM_THREADS``, default 1.

    One by default because the eager ops run between BLAS calls: after a parallel region,
    libgomp's threads spin-wait (OMP_WAIT_POLICY) on the cores OpenBLAS needs next, which
    made the W4 training step 2.5x slower on a 2-core machine; with one thread no OpenMP team
    is ever started. Set ``EMBER_NUM_THREADS=2`` (best with ``OMP_WAIT_POLICY=passive``) for
    long runs of large kernels.
    """
    env = os.environ.get("EMBER_NUM_THREADS")
    return max(1, int(env)) if env else 1


#: fused elementwise kernels at least this big use every core (unless EMBER_NUM_THREADS)
FUSED_PARALLEL_MIN = 1 << 20


def fused_threads(n: int) -> int:
    """Threads of a JIT-fused elementwise kernel over ``n`` elements: all cores (at most 8)
    from ``FUSED_PARALLEL_MIN`` elements, where the team's spin-wait after the loop is
    small next to the loop itself; ``EMBER_NUM_THREADS`` overrides."""
    if os.environ.get("EMBER_NUM_THREADS"):
        return num_threads() if n >= PARALLEL_MIN else 1
    return min(os.cpu_count() or 1, 8) if n >= FUSED_PARALLEL_MIN else 1


def _warn_once(key: str, msg: str) -> None:
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def _cache_dir() -> str:
    d = os.environ.get("EMBER_CACHE_DIR") or os.path.join(
        os.path.expanduser("~"), ".cache", "ember", "jit")
    os.makedirs(d, exist_ok=True)
    return d


def _find_cc() -> str | None:
    env = os.environ.get("CC")
    names = [env] if env else ["cc", "gcc", "clang"]
    for name in names:
        path = shutil.which(name.split()[0]) if name else None
        if path:
            return path
    return None


def _cc_version(cc: str) -> str:
    try:
        r = subprocess.run([cc, "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return r.stdout if r.returncode == 0 else ""


def _cpu_flags() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(("flags", "Features")):
                    return line
    except OSError:
        pass
    import platform
    return platform.processor() + platform.machine()


def _compile(cc: str, flags, libs, source: str, key: str) -> str | None:
    """Build ``source`` to ``<cache>/<key>.so`` (atomically); the path, or None on failure."""
    d = _cache_dir()
    path = os.path.join(d, key + ".so")
    if os.path.exists(path):
        return path
    fd, src = tempfile.mkstemp(suffix=".c", dir=d)
    tmp = src[:-2] + ".so.tmp"
    try:
        with os.fdopen(fd, "w") as f:
            f.write(source)
        cmd = [cc, *flags, src, "-o", tmp, *libs]
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        except (OSError, subprocess.SubprocessError) as e:
            _probe["last_error"] = str(e)
            return None
        if r.returncode != 0 or not os.path.exists(tmp):
            _probe["last_error"] = r.stderr[-2000:]
            return None
        os.replace(tmp, path)
        return path
    finally:
        for p in (src, tmp):
            try:
                os.unlink(p)
            except OSError:
                pass


_PROBE_SRC = r"""
#include <math.h>
__attribute__((simd("notinbranch"))) float expf(float);
#ifdef _OPENMP
#include <omp.h>
int probe_threads(void) { return omp_get_max_threads(); }
#else
int probe_threads(void) { return 1; }
#endif
void probe(long n, float *o, const float *x) {
  #pragma omp simd
  for (long i = 0; i < n; i++) o[i] = expf(x[i]);
}
"""


def _probe_compiler() -> bool:
    """Find a compiler and the richest flag set that builds and runs a test library."""
    if "ok" in _probe:
        return _probe["ok"]
    with _lock:
        if "ok" in _probe:
            return _probe["ok"]
        _probe["ok"] = False
        cc = _find_cc()
        if cc is None:
            _probe["last_error"] = "no C compiler found ($CC, cc, gcc, clang)"
            return False
        version = _cc_version(cc)
        if not version:
            _probe["last_error"] = f"{cc} --version failed"
            return False
        cpu = _cpu_flags()
        for extra, libs in ((("-march=native", "-fopenmp"), ("-lmvec", "-lm")),
                            (("-fopenmp",), ("-lmvec", "-lm")),
                            (("-march=native", "-fopenmp"), ("-lm",)),
                            (("-fopenmp",), ("-lm",)),
                            (("-fopenmp-simd",), ("-lm",)),
                            ((), ("-lm",))):
            flags = _BASE_FLAGS + extra
            key = "\0".join([cc, version, " ".join(flags), " ".join(libs),
                             cpu if "-march=native" in extra else ""])
            _probe.update(cc=cc, flags=flags, libs=libs, key=key)
            lib = _load(_PROBE_SRC)
            if lib is None:
                continue
            try:
                x = np.linspace(-3, 3, 19, dtype=np.float32)
                o = np.empty_like(x)
                lib.probe(ctypes.c_long(x.size), _vp(o.ctypes.data), _vp(x.ctypes.data))
            except Exception as e:  # noqa: BLE001 - any failure means "no C backend"
                _probe["last_error"] = repr(e)
                continue
            if np.allclose(o, np.exp(x.astype(np.float64)), rtol=1e-6):
                _probe["ok"] = True
                _probe["openmp"] = "-fopenmp" in extra
                return True
        return False


def _load(source: str) -> ctypes.CDLL | None:
    key = hashlib.sha256((_probe["key"] + "\0" + source).encode()).hexdigest()
    lib = _libs.get(key)
    if lib is not None:
        return lib
    path = _compile(_probe["cc"], _probe["flags"], _probe["libs"], source, key)
    if path is None:
        return None
    try:
        lib = ctypes.CDLL(path)
    except OSError as e:
        _probe["last_error"] = str(e)
        return None
    _libs[key] = lib
    return lib


def available() -> bool:
    """True when C kernels can be built and ``EMBER_JIT_BACKEND`` is not ``numpy``.

    ``EMBER_JIT_BACKEND=c`` raises a RuntimeError when no compiler builds a test library.
    """
    mode = os.environ.get("EMBER_JIT_BACKEND", "").lower()
    if mode == "numpy":
        return False
    ok = _probe_compiler()
    if not ok and mode == "c":
        raise RuntimeError("EMBER_JIT_BACKEND=c but no working C compiler was found: "
                           f"{_probe.get('last_error', '')}")
    return ok


def backend_name() -> str:
    """``"c"`` when C kernels are used, else ``"numpy"``."""
    return "c" if available() else "numpy"


def build(source: str) -> ctypes.CDLL | None:
    """Build (or load from the disk cache) a shared library from C source.

    Returns None, with one warning, when C is unavailable or the source does not compile.
    """
    if not available():
        return None
    with _lock:
        lib = _load(_PREAMBLE + source)
    if lib is None:
        _warn_once("build:" + hashlib.sha256(source.encode()).hexdigest(),
                   "ember.jit: C kernel failed to build, using NumPy: "
                   + _probe.get("last_error", "")[-500:])
    return lib


def _reset_for_tests() -> None:
    """Forget the compiler probe and loaded libraries (tests change $CC and the cache)."""
    with _lock:
        _probe.clear()
        _libs.clear()
        _warned.clear()
        _row_lib.clear()


# ----------------------------------------------------------------------------- C preamble

#: C defining ``em_forked``, true in a process forked after this library was loaded: GNU
#: OpenMP is not fork-safe (a forked child, such as a DataLoader worker, that starts a team
#: waits forever for its parent's pool threads), so every OpenMP region of ember's C
#: (here, ``cgemm``, ``cadam``) tests it and runs serially there
FORK_GUARD_C = r"""
#include <pthread.h>
static int em_forked = 0;
static void em_on_fork(void) { em_forked = 1; }
__attribute__((constructor)) static void em_watch_fork(void) {
  pthread_atfork(NULL, NULL, em_on_fork);
}
"""

_PREAMBLE = f"#define PARALLEL_MIN {PARALLEL_MIN}L\n" + r"""
#include <math.h>
#include <stddef.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#define EM_TID() omp_get_thread_num()
#else
#define EM_TID() 0
#endif
/* glibc's libmvec has vector variants of these; declaring them simd lets loops vectorize */
#define EM_SIMD __attribute__((simd("notinbranch")))
EM_SIMD float expf(float); EM_SIMD float logf(float); EM_SIMD float tanhf(float);
EM_SIMD float erff(float); EM_SIMD float erfcf(float); EM_SIMD float expm1f(float);
EM_SIMD float log1pf(float); EM_SIMD float sinf(float); EM_SIMD float cosf(float);
EM_SIMD float powf(float, float);
FORK_GUARD_C
/* OpenMP's if() must name "parallel": a plain if() on "parallel for simd" disables SIMD */
#define EM_REGION(n) if(parallel: (n) >= PARALLEL_MIN && !em_forked) num_threads(nt)
#define EM_PAR(n) EM_REGION(n) schedule(static)
""".replace("FORK_GUARD_C", FORK_GUARD_C)

# --------------------------------------------------------------------- elementwise programs

_CT = {np.dtype(np.float32): ("float", "f"), np.dtype(np.float64): ("double", "")}
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# the kernels themselves, re-exported here: one import gives the whole backend
from .ckernels_elementwise import ElementwiseKernel, compile_elementwise, run_numpy  # noqa: E402
from .ckernels_rows import (  # noqa: E402
    gelu,
    gelu_backward,
    layer_norm,
    layer_norm_backward,
    log_softmax,
    softmax,
)
