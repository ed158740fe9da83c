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
           "gelu_backward", "num_threads", "fused_threads", "PARALLEL_MIN"]

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
/* OpenMP's if() must name "parallel": a plain if() on "parallel for simd" disables SIMD */
#define EM_REGION(n) if(parallel: (n) >= PARALLEL_MIN) num_threads(nt)
#define EM_PAR(n) EM_REGION(n) schedule(static)
"""

# --------------------------------------------------------------------- elementwise programs

_CT = {np.dtype(np.float32): ("float", "f"), np.dtype(np.float64): ("double", "")}


def _fmt_const(v: float, ctype: str) -> str:
    v = float(v)
    if math.isnan(v):
        return f"(({ctype})NAN)"
    if math.isinf(v):
        return f"(({ctype})INFINITY)" if v > 0 else f"(-({ctype})INFINITY)"
    return f"(({ctype}){v!r})"


_UNARY_CALL = {"exp": "exp", "log": "log", "tanh": "tanh", "erf": "erf", "erfc": "erfc",
               "expm1": "expm1", "log1p": "log1p", "sin": "sin", "cos": "cos",
               "sqrt": "sqrt"}
_CMP = {"gt": ">", "lt": "<", "ge": ">=", "le": "<=", "eq": "==", "ne": "!="}
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_TANH_K = math.sqrt(2.0 / math.pi)
_TANH_C = 0.044715


class _Unsupported(Exception):
    pass


def _op_expr(op: str, a: list[str], params: dict, ct: str, sfx: str, consts: list) -> str:
    """C expression (type ``ct``, or int for comparisons) of one op on operand expressions."""
    def c(v):
        return _fmt_const(v, ct)

    def nargs(k):
        if len(a) != k:
            raise _Unsupported(f"{op} takes {k} array/const args, got {len(a)}")

    if op in ("add", "sub", "mul", "div"):
        nargs(2)
        sym = {"add": "+", "sub": "-", "mul": "*", "div": "/"}[op]
        return f"({a[0]} {sym} {a[1]})"
    if op in _CMP:
        nargs(2)
        return f"({a[0]} {_CMP[op]} {a[1]})"
    if op == "maximum":  # NaN-propagating, as NumPy's maximum
        nargs(2)
        return f"({a[0]} > {a[1]} || {a[0]} != {a[0]} ? {a[0]} : {a[1]})"
    if op == "minimum":
        nargs(2)
        return f"({a[0]} < {a[1]} || {a[0]} != {a[0]} ? {a[0]} : {a[1]})"
    if op == "where":
        nargs(3)
        return f"({a[0]} ? {a[1]} : {a[2]})"
    if op == "masked_fill":
        nargs(2)
        return f"({a[1]} ? {c(params['value'])} : {a[0]})"
    if op == "pow":
        if len(a) == 1 and "exponent" in params:
            a = [a[0], c(params["exponent"])]
        nargs(2)
        p = consts[1]
        if p is not None:  # NumPy's fast paths for scalar exponents
            if p == 2.0:
                return f"({a[0]} * {a[0]})"
            if p == 1.0:
                return f"(+{a[0]})"
            if p == 0.5:
                return f"sqrt{sfx}({a[0]})"
            if p == -1.0:
                return f"(({ct})1 / {a[0]})"
            if p == 0.0:
                return f"(({ct})1)"
        return f"pow{sfx}({a[0]}, {a[1]})"
    nargs(1)
    x = a[0]
    if op in _UNARY_CALL:
        return f"{_UNARY_CALL[op]}{sfx}({x})"
    if op == "neg":
        return f"(-{x})"
    if op == "abs":
        return f"fabs{sfx}({x})"
    if op == "square":
        return f"({x} * {x})"
    if op == "reciprocal":
        return f"(({ct})1 / {x})"
    if op == "rsqrt":
        return f"(({ct})1 / sqrt{sfx}({x}))"
    if op == "relu":
        return f"({x} > 0 || {x} != {x} ? {x} : ({ct})0)"
    if op in ("sigmoid", "silu"):
        # split by sign so neither branch overflows (as the NumPy op)
        e = f"exp{sfx}(-fabs{sfx}({x}))"
        s = f"({x} >= 0 ? ({ct})1 / (1 + {e}) : {e} / (1 + {e}))"
        return s if op == "sigmoid" else f"({x} * {s})"
    if op == "leaky_relu":
        return f"({x} > 0 ? {x} : {x} * {c(params.get('negative_slope', 0.01))})"
    if op == "clamp":
        out = x
        lo, hi = params.get("lo"), params.get("hi")
        if lo is not None:
            out = f"({out} < {c(lo)} ? {c(lo)} : {out})"
        if hi is not None:
            out = f"({out} > {c(hi)} ? {c(hi)} : {out})"
        return out
    if op == "gelu":
        approx = params.get("approximate", "none")
        if approx == "tanh":
            inner = f"{c(_TANH_K)} * ({x} + {c(_TANH_C)} * {x} * {x} * {x})"
            return f"(({ct})0.5 * {x} * (1 + tanh{sfx}({inner})))"
        if approx == "none":
            return f"({x} * (({ct})0.5 * erfc{sfx}({x} * {c(-_INV_SQRT2)})))"
        raise _Unsupported(f"gelu approximate={approx!r}")
    raise _Unsupported(op)


_BOOL_OUT = set(_CMP)


class ElementwiseKernel:
    """A fused elementwise loop for one SSA program; see ``compile_elementwise``.

    Call ``kernel(out, *inputs)`` (one preallocated C-contiguous output; use
    ``kernel.call_multi(outs, inputs)`` for several) or ``kernel(*inputs)`` which returns a
    new array (a tuple with several outputs). Each input is C-contiguous with the kernel's
    dtype (bool for ``where``/``masked_fill`` conditions) and either has the full size n, size
    1, or is a trailing-dim vector of length m with n % m == 0 (broadcast along rows).
    """

    def __init__(self, program, n_inputs: int, dtype, outputs=None):
        self.dtype = np.dtype(dtype)
        if self.dtype not in _CT:
            raise _Unsupported(f"dtype {self.dtype}")
        self.program = [(op, tuple(args), dict(params or {})) for op, args, params in program]
        if not self.program:
            raise _Unsupported("empty program")
        self.n_inputs = int(n_inputs)
        self.outputs = tuple(outputs) if outputs is not None else (len(self.program) - 1,)
        self.bool_inputs = set()
        self._vkind = []   # per value: "f" or "b"
        for op, args, _ in self.program:
            for pos, arg in enumerate(args):
                if arg[0] == "in" and op in ("where", "masked_fill") and \
                        pos == (0 if op == "where" else 1):
                    self.bool_inputs.add(arg[1])
            self._vkind.append("b" if op in _BOOL_OUT else "f")
        for j in self.outputs:
            if not 0 <= j < len(self.program) or self._vkind[j] == "b":
                raise _Unsupported(f"output {j}")
        # fail early on unsupported ops / arities
        self._body("full_flat", ("full",) * self.n_inputs)
        self._fns: dict = {}

    # code generation -----------------------------------------------------------------
    def _body(self, loop: str, kinds) -> tuple[list[str], list[str]]:
        ct, sfx = _CT[self.dtype]
        hoist, body = [], []
        idx = "i" if loop == "full_flat" else "j"
        full = "i" if loop == "full_flat" else "base + j"
        for k in range(self.n_inputs):
            t = "unsigned char" if k in self.bool_inputs else ct
            if kinds[k] == "scalar":
                hoist.append(f"const {t} s{k} = in{k}[0];")
        for j, (op, args, params) in enumerate(self.program):
            exprs, consts = [], []
            for arg in args:
                tag = arg[0]
                if tag == "in":
                    i = int(arg[1])
                    if not 0 <= i < self.n_inputs:
                        raise _Unsupported(f"input {i}")
                    exprs.append(f"s{i}" if kinds[i] == "scalar"
                                 else f"in{i}[{idx if kinds[i] == 'row' else full}]")
                    consts.append(None)
                elif tag == "v":
                    i = int(arg[1])
                    if not 0 <= i < j:
                        raise _Unsupported(f"value {i} used before definition")
                    exprs.append(f"v{i}")
                    consts.append(None)
                elif tag == "const":
                    exprs.append(_fmt_const(arg[1], ct))
                    consts.append(float(arg[1]))
                else:
                    raise _Unsupported(f"argument {arg!r}")
            expr = _op_expr(op, exprs, params, ct, sfx, consts)
            t = "int" if self._vkind[j] == "b" else ct
            body.append(f"const {t} v{j} = {expr};")
        for o, j in enumerate(self.outputs):
            body.append(f"out{o}[{full}] = v{j};")
        return hoist, body

    def source(self, kinds) -> str:
        ct, _ = _CT[self.dtype]
        rowwise = "row" in kinds
        hoist, body = self._body("rows" if rowwise else "full_flat", kinds)
        params = ["long rows", "long m", "int nt"]
        params += [f"{ct} *restrict out{o}" for o in range(len(self.outputs))]
        params += [f"const {'unsigned char' if k in self.bool_inputs else ct} *restrict in{k}"
                   for k in range(self.n_inputs)]
        lines = [f"void kernel({', '.join(params)}) {{", *hoist]
        inner = ["  " + b for b in body]
        if rowwise:
            lines += ["  #pragma omp parallel for EM_PAR(rows * m)",
                      "  for (long r = 0; r < rows; r++) {",
                      "    const long base = r * m;",
                      "    #pragma omp simd",
                      "    for (long j = 0; j < m; j++) {", *["  " + b for b in inner],
                      "    }", "  }"]
        else:
            lines += ["  const long n = rows * m;",
                      "  #pragma omp parallel for simd EM_PAR(n)",
                      "  for (long i = 0; i < n; i++) {", *inner, "  }"]
        lines.append("}")
        return "\n".join(lines) + "\n"

    def _fn(self, kinds):
        fn = self._fns.get(kinds)
        if fn is None:
            lib = build(self.source(kinds))
            if lib is None:
                self._fns[kinds] = False
                return False
            fn = lib.kernel
            fn.restype = None
            fn.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_int] + \
                [_vp] * (len(self.outputs) + self.n_inputs)
            self._fns[kinds] = fn
        return fn

    def compile(self, kinds=None) -> bool:
        """Build the loop for the given broadcast kinds (default: all inputs full)."""
        return self._fn(tuple(kinds) if kinds else ("full",) * self.n_inputs) is not False

    # calling -------------------------------------------------------------------------
    def _check_input(self, k, a):
        want = np.dtype(np.bool_) if k in self.bool_inputs else self.dtype
        if not isinstance(a, np.ndarray) or a.dtype != want or not a.flags.c_contiguous:
            raise TypeError(f"ember.jit kernel input {k}: expected a C-contiguous {want} "
                            f"array, got {type(a).__name__} "
                            f"{getattr(a, 'dtype', '')}{getattr(a, 'shape', '')}")

    def call_multi(self, outs, inputs):
        if len(inputs) != self.n_inputs:
            raise TypeError(f"ember.jit kernel takes {self.n_inputs} inputs, got {len(inputs)}")
        for k, a in enumerate(inputs):
            self._check_input(k, a)
        if outs is None:
            big = max(inputs, key=lambda a: a.size) if inputs else None
            shape = big.shape if big is not None else ()
            outs = tuple(np.empty(shape, self.dtype) for _ in self.outputs)
        n = outs[0].size
        for o in outs:
            if o.dtype != self.dtype or not o.flags.c_contiguous or o.size != n:
                raise TypeError("ember.jit kernel outputs must be C-contiguous arrays of "
                                f"dtype {self.dtype} and equal size")
        kinds, m = [], 0
        for k, a in enumerate(inputs):
            if a.size == n:
                kinds.append("full")
            elif a.size == 1:
                kinds.append("scalar")
            elif a.size and n % a.size == 0 and (m in (0, a.size)) and \
                    a.shape and a.shape[-1] == a.size:
                kinds.append("row")
                m = a.size
            else:
                raise ValueError(f"ember.jit kernel input {k} of shape {a.shape} does not "
                                 f"broadcast to {n} elements as a scalar or trailing vector")
        kinds = tuple(kinds)
        if n == 0:
            return outs
        fn = self._fn(kinds)
        if fn is False:
            self._run_numpy(outs, inputs)
            return outs
        rows, mm = (n // m, m) if m else (1, n)
        nt = fused_threads(n)
        fn(rows, mm, nt, *[o.ctypes.data for o in outs], *[a.ctypes.data for a in inputs])
        return outs

    def __call__(self, *arrays):
        if len(arrays) == self.n_inputs + 1 and len(self.outputs) == 1:
            return self.call_multi((arrays[0],), arrays[1:])[0]
        outs = self.call_multi(None, arrays)
        return outs[0] if len(outs) == 1 else outs

    def _run_numpy(self, outs, inputs):
        """The same program with NumPy (used when one specialization does not build)."""
        n = outs[0].size
        flat = []
        for a in inputs:
            if a.size in (1, n):
                flat.append(a.reshape(-1))
            else:
                flat.append(np.broadcast_to(a.reshape(-1), (n // a.size, a.size)).reshape(-1))
        vals = run_numpy(self.program, flat, self.outputs, self.dtype)
        for o, v in zip(outs, vals):
            o.reshape(-1)[...] = v


def run_numpy(program, inputs, outputs, dtype):
    """Evaluate an SSA program with the op table's NumPy forwards (the reference path)."""
    from ..ops.registry import OPS

    class _Ctx:
        recording = False
        _tensor_mode = False

        def save_for_backward(self, *a):
            pass

    dtype = np.dtype(dtype)
    vals = []
    for op, args, params in program:
        arr = []
        for arg in args:
            if arg[0] == "in":
                arr.append(inputs[arg[1]])
            elif arg[0] == "v":
                arr.append(vals[arg[1]])
            else:
                arr.append(np.asarray(arg[1], dtype))
        params = dict(params or {})
        if op == "pow" and len(arr) == 1:
            arr.append(np.asarray(params.pop("exponent"), dtype))
        if op == "masked_fill":
            arr = [arr[0], arr[1]]
        with np.errstate(all="ignore"):
            vals.append(OPS[op].forward(_Ctx(), *arr, **params))
    return [vals[j] for j in outputs]


def compile_elementwise(program, n_inputs: int, dtype, outputs=None) -> ElementwiseKernel | None:
    """Compile an SSA program of elementwise ops into one C loop.

    ``program``: a list of ``(op_name, args, params)``; ``args`` items are ``("in", i)``
    (input i), ``("v", j)`` (the result of instruction j) or ``("const", float)``; ``params``
    are the op's keyword params (e.g. ``{"approximate": "tanh"}`` for gelu, ``{"lo": 0.0}``
    for clamp, ``{"value": 0.0}`` for masked_fill). The last instruction is the output unless
    ``outputs=[j, ...]`` names several. Supported ops: add sub mul div neg exp log tanh erf
    erfc expm1 log1p sin cos sqrt rsqrt reciprocal square abs relu sigmoid silu gelu
    leaky_relu clamp maximum minimum pow where masked_fill and the comparisons gt lt ge le eq
    ne (as conditions). Returns None when C is unavailable, an op is unsupported, or the
    loop does not compile (the caller then runs NumPy).

    Example:
        >>> import numpy as np
        >>> from ember.backend import ckernels
        >>> k = ckernels.compile_elementwise(
        ...     [("mul", [("in", 0), ("in", 1)], {}), ("add", [("v", 0), ("const", 1.0)], {})],
        ...     2, np.float32)
        >>> a, b = np.ones(3, np.float32), np.full(3, 2, np.float32)
        >>> (k(a, b) if k is not None else a * b + 1).tolist()  # None: no C compiler
        [3.0, 3.0, 3.0]
    """
    if not available():
        return None
    try:
        kernel = ElementwiseKernel(program, n_inputs, dtype, outputs)
    except (_Unsupported, KeyError, TypeError, ValueError, IndexError):
        return None
    return kernel if kernel.compile() else None


# ------------------------------------------------------------------------- row kernels

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
