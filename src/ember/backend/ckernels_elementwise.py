"""Fused elementwise kernels: a program of op-table ops becomes one C loop (see
``ember.backend.ckernels`` for how C is built and what the math guarantees)."""

from __future__ import annotations

import ctypes
import math

import numpy as np

from .ckernels import _CT, _INV_SQRT2, _TANH_C, _TANH_K, _vp, available, build, fused_threads


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
    if op == "cast":  # to the kernel's type: of a mask (0/1) or of a value already in it
        return f"(({ct}){x})"
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
        n_out = len(self.outputs)
        # one table of pointers, outputs first: one signature for the ctypes and the
        # extension-module callers (ember.backend.ckernels_call)
        ptrs = [f"  {ct} *restrict out{o} = ({ct} *)p[{o}];" for o in range(n_out)]
        for k in range(self.n_inputs):
            t = "unsigned char" if k in self.bool_inputs else ct
            ptrs.append(f"  const {t} *restrict in{k} = (const {t} *)p[{n_out + k}];")
        lines = ["void kernel(long rows, long m, int nt, void *const *p) {", *ptrs, *hoist]
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
            fn.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_int, _vp]
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
        ptrs = [o.ctypes.data for o in outs] + [a.ctypes.data for a in inputs]
        table = (_vp * len(ptrs))(*ptrs)  # alive until the call returns
        fn(rows, mm, nt, ctypes.addressof(table))
        return outs

    def bind(self, kinds, shape, m: int = 0):
        """A fast ``f(out, *inputs)`` for one output of ``shape`` and inputs of ``kinds``
        (``m``: the row length for ``"row"`` inputs), called through the extension module
        of ``ckernels_call``: arrays unlike that raise TypeError. None where it cannot be
        built (no extension, several outputs, or this loop does not build).

        Example:
            >>> import numpy as np
            >>> from ember.backend import ckernels
            >>> k = ckernels.compile_elementwise([("mul", [("in", 0), ("const", 2.0)], {})],
            ...                                  1, np.float32)
            >>> f = k.bind(("full",), (3,)) if k is not None else None
            >>> x, out = np.arange(3, dtype=np.float32), np.empty(3, np.float32)
            >>> _ = f(out, x) if f is not None else np.multiply(x, 2, out=out)
            >>> out.tolist()
            [0.0, 2.0, 4.0]
        """
        from . import ckernels_call
        n = int(np.prod(shape, dtype=np.int64))
        if len(self.outputs) != 1 or n == 0:
            return None
        fn = self._fn(tuple(kinds))
        if fn is False:
            return None
        rows, mm = (n // m, m) if m else (1, n)
        sizes = {"full": n, "scalar": 1, "row": m}
        spec = [(self.dtype, n, True)] + [
            (np.bool_ if k in self.bool_inputs else self.dtype, sizes[kind], False)
            for k, kind in enumerate(kinds)]
        return ckernels_call.bind(fn, rows, mm, fused_threads(n), spec)

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
    leaky_relu clamp maximum minimum pow where masked_fill, the comparisons gt lt ge le eq ne
    (as conditions) and cast (to the kernel's dtype, e.g. of a comparison). Returns None
    when C is unavailable, an op is unsupported, or the loop does not compile (the caller
    then runs NumPy).

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
