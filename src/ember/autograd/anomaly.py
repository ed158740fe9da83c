"""Anomaly detection: find the forward line behind a backward failure or a NaN gradient.

While enabled, every recorded node remembers the user's stack at the moment it was
created. In backward, a node whose gradients contain NaN raises a RuntimeError
(NaN only, like torch: infinite gradients can be legitimate), and any error
raised inside a node's backward names that node; both messages include the
forward traceback (torch prints it as a separate warning).

Example:
    >>> import ember
    >>> x = ember.tensor([0.0], requires_grad=True)
    >>> with ember.autograd.detect_anomaly():
    ...     y = (x.sqrt() * 0.0).sum()
    ...     try:
    ...         y.backward()
    ...     except RuntimeError as e:
    ...         print(str(e).splitlines()[0])
    Function 'SqrtBackward0' returned nan values in its 0th output.
"""

from __future__ import annotations

import os
import traceback
import warnings

from .grad_mode import _GradModeContext, _state

__all__ = ["detect_anomaly", "set_detect_anomaly", "is_anomaly_enabled",
           "is_anomaly_check_nan_enabled"]

_EMBER_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def _warn_enabled() -> None:
    # Python's default warning filter shows it once per call site, as in torch
    warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime "
                  "and should only be enabled for debugging.", stacklevel=3)


def is_anomaly_enabled() -> bool:
    """Whether anomaly detection is on."""
    return _state.anomaly


def is_anomaly_check_nan_enabled() -> bool:
    """Whether anomaly detection also checks gradients for NaN."""
    return _state.anomaly_check_nan


class detect_anomaly(_GradModeContext):
    """Context manager and decorator that turns anomaly detection on.

    Args:
        check_nan: also raise when a backward function returns NaN gradients.

    Example:
        >>> import ember, warnings
        >>> with warnings.catch_warnings():
        ...     warnings.simplefilter("ignore")
        ...     with ember.autograd.detect_anomaly():
        ...         ember.autograd.anomaly.is_anomaly_enabled()
        True
    """

    def __init__(self, check_nan: bool = True) -> None:
        self.check_nan = check_nan
        _warn_enabled()

    def __enter__(self) -> None:
        self.prev = (_state.anomaly, _state.anomaly_check_nan)
        _state.anomaly, _state.anomaly_check_nan = True, self.check_nan

    def __exit__(self, *exc) -> None:
        _state.anomaly, _state.anomaly_check_nan = self.prev

    def clone(self):
        c = object.__new__(detect_anomaly)  # no second warning per decorated call
        c.check_nan = self.check_nan
        return c


class set_detect_anomaly(_GradModeContext):
    """Turn anomaly detection on or off; a function call, context manager or decorator.

    Example:
        >>> import ember
        >>> with ember.autograd.set_detect_anomaly(False):
        ...     ember.autograd.anomaly.is_anomaly_enabled()
        False
    """

    def __init__(self, mode: bool, check_nan: bool = True) -> None:
        self.prev = (_state.anomaly, _state.anomaly_check_nan)
        self.mode, self.check_nan = bool(mode), bool(check_nan)
        _state.anomaly, _state.anomaly_check_nan = self.mode, self.check_nan
        if self.mode:
            _warn_enabled()

    def __enter__(self) -> None:
        _state.anomaly, _state.anomaly_check_nan = self.mode, self.check_nan

    def __exit__(self, *exc) -> None:
        _state.anomaly, _state.anomaly_check_nan = self.prev

    def clone(self):
        c = object.__new__(set_detect_anomaly)  # no second warning per decorated call
        c.prev = (_state.anomaly, _state.anomaly_check_nan)
        c.mode, c.check_nan = self.mode, self.check_nan
        return c

    def __call__(self, fn):
        # used as a decorator, the mode set by __init__ must not outlive the decoration
        _state.anomaly, _state.anomaly_check_nan = self.prev
        return super().__call__(fn)


def record_forward_site(node) -> None:
    """Remember where (in the user's code) ``node`` was created."""
    stack = traceback.extract_stack()[:-1]
    user = [f for f in stack if not os.path.abspath(f.filename).startswith(_EMBER_DIR)]
    node._anomaly_trace = traceback.StackSummary.from_list(user or stack)


def _trace_text(node) -> str:
    trace = node._anomaly_trace
    if trace is None:
        return ("\nNo forward pass information available. Enable detect anomaly during forward "
                "pass for more information.")
    return ("\nTraceback of forward call that caused the error:\n"
            + "".join(trace.format()).rstrip("\n"))


def _has_nan(g) -> bool:
    from ..backend import xp
    arr = getattr(g, "_data", g)
    if arr.dtype.kind != "f":
        return False
    return bool(xp.isnan(arr).any())


def run_with_anomaly(node, grads, create_graph: bool):
    """Run ``node._apply``; name the node and its forward site on errors and NaN results."""
    try:
        out = node._apply(grads, create_graph)
    except Exception as e:
        if getattr(e, "_ember_anomaly", False):
            raise
        try:
            err = type(e)(f"{e}\n\nError detected in {node.name()}.{_trace_text(node)}")
            err._ember_anomaly = True
        except Exception:
            raise e from None
        raise err from e
    if _state.anomaly_check_nan:
        for i, g in enumerate(out):
            if g is not None and _has_nan(g):
                err = RuntimeError(f"Function '{node.name()}' returned nan values in its {i}th "
                                   f"output.{_trace_text(node)}")
                err._ember_anomaly = True
                raise err
    return out
