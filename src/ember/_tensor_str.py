"""Tensor printing in torch's format (``tensor([0.1000, 2.0000], requires_grad=True)``)."""

from __future__ import annotations

import math

import numpy as np

from . import dtypes


class _PrintOptions:
    precision = 4
    threshold = 1000
    edgeitems = 3
    linewidth = 80
    sci_mode: bool | None = None


PRINT_OPTS = _PrintOptions()


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None) -> None:
    """Set how tensors print, like ``torch.set_printoptions``.

    Example:
        >>> import ember
        >>> ember.set_printoptions(precision=2); print(ember.tensor([1.2345]))
        tensor([1.23])
        >>> ember.set_printoptions(profile="default")
    """
    if profile == "default":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems = 4, 1000, 3
        PRINT_OPTS.linewidth = 80
    elif profile == "short":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems = 2, 1000, 2
        PRINT_OPTS.linewidth = 80
    elif profile == "full":
        PRINT_OPTS.precision, PRINT_OPTS.threshold, PRINT_OPTS.edgeitems = 4, math.inf, 3
        PRINT_OPTS.linewidth = 80
    if precision is not None:
        PRINT_OPTS.precision = precision
    if threshold is not None:
        PRINT_OPTS.threshold = threshold
    if edgeitems is not None:
        PRINT_OPTS.edgeitems = edgeitems
    if linewidth is not None:
        PRINT_OPTS.linewidth = linewidth
    PRINT_OPTS.sci_mode = sci_mode


def _float_formatter(arr: np.ndarray):
    p = PRINT_OPTS.precision
    finite = arr[np.isfinite(arr)].astype(np.float64)
    if finite.size == 0:
        return lambda v: _special(v) or f"{v:.{p}f}"
    absf = np.abs(finite)
    nonzero = absf[absf > 0]
    int_mode = bool(np.all(finite == np.round(finite)))
    sci = PRINT_OPTS.sci_mode
    if sci is None:
        sci = nonzero.size > 0 and (nonzero.max() / nonzero.min() > 1000.0 or nonzero.max() > 1e8
                                    or nonzero.min() < 1e-4)
    if sci:
        return lambda v: _special(v) or f"{v:.{p}e}"
    if int_mode:
        return lambda v: _special(v) or f"{v:.0f}."
    return lambda v: _special(v) or f"{v:.{p}f}"


def _special(v) -> str | None:
    if math.isnan(v):
        return "nan"
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return None


def format_array(arr: np.ndarray, prefix: str) -> str:
    if arr.size == 0:
        return "[]"
    summarize = arr.size > PRINT_OPTS.threshold
    shown = _summarized(arr) if summarize else arr
    if arr.dtype.kind == "f":
        fmt = _float_formatter(shown)
    elif arr.dtype.kind == "b":
        def fmt(v):
            return "True" if v else "False"
    else:
        def fmt(v):
            return str(int(v))
    if arr.dtype.kind == "f":
        # as torch: the column width comes from the nonzero finite values only
        sized = shown[np.isfinite(shown) & (shown != 0)]
    else:
        sized = shown
    width = max((len(fmt(v)) for v in np.asarray(sized).ravel().tolist()), default=1)
    if arr.ndim == 0:
        return fmt(arr.item())
    return _layout(arr, fmt, width, len(prefix), summarize)


def _layout(arr: np.ndarray, fmt, width: int, indent: int, summarize: bool) -> str:
    """torch's layout: rows wrap at the line width, summarized dims show ``...``."""
    e = PRINT_OPTS.edgeitems
    n = arr.shape[0]
    cut = summarize and n > 2 * e
    if arr.ndim == 1:
        vals = arr.tolist()
        if cut:
            items = ([fmt(v).rjust(width) for v in vals[:e]] + [" ..."]
                     + [fmt(v).rjust(width) for v in vals[n - e:]])
        else:
            items = [fmt(v).rjust(width) for v in vals]
        per_line = max(1, (PRINT_OPTS.linewidth - indent) // (width + 2))
        lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
        return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"
    rows = list(range(e)) + [None] + list(range(n - e, n)) if cut else range(n)
    parts = ["..." if i is None else _layout(arr[i], fmt, width, indent + 1, summarize)
             for i in rows]
    return "[" + ("," + "\n" * (arr.ndim - 1) + " " * (indent + 1)).join(parts) + "]"


def _summarized(arr: np.ndarray) -> np.ndarray:
    e = PRINT_OPTS.edgeitems
    for ax in range(arr.ndim):
        if arr.shape[ax] > 2 * e:
            idx = list(range(e)) + list(range(arr.shape[ax] - e, arr.shape[ax]))
            arr = np.take(arr, idx, axis=ax)
    return arr


def tensor_repr(t, name: str = "tensor") -> str:
    arr = t._data
    prefix = name + "("
    body = format_array(arr, prefix)
    suffixes = []
    if arr.size == 0 and arr.shape != (0,):
        suffixes.append(f"size={tuple(arr.shape)}")
    d = t.dtype
    if d not in (dtypes.get_default_dtype(), dtypes.int64, dtypes.bool):
        suffixes.append(f"dtype={d}")
    if t.grad_fn is not None:
        suffixes.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        suffixes.append("requires_grad=True")
    if suffixes:
        body += ", " + ", ".join(suffixes)
    return prefix + body + ")"
