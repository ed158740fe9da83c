"""Grad-mode switches and the dispatch mode stack.

``_state`` is read on every op dispatch, so it is one small object with plain
attributes. ``modes`` is the hook the JIT uses: when it is non-empty, every op call
goes to ``modes[-1].dispatch(op, inputs, params)`` instead of running eagerly, so
ops need no tracing special cases and the core never imports the JIT.
"""

from __future__ import annotations

import functools
import inspect

__all__ = ["no_grad", "enable_grad", "set_grad_enabled", "inference_mode", "is_grad_enabled",
           "is_inference_mode_enabled"]


class _State:
    __slots__ = ("grad_enabled", "inference", "modes", "anomaly", "anomaly_check_nan",
                 "inplace_epoch")

    def __init__(self) -> None:
        self.grad_enabled = True
        self.inference = False
        self.modes: list = []
        self.anomaly = False
        self.anomaly_check_nan = True
        # bumped by every in-place write; saved values recorded at the current epoch need
        # no version check
        self.inplace_epoch = 0


_state = _State()


def is_grad_enabled() -> bool:
    """Whether ops are currently recorded for autograd.

    Example:
        >>> import ember
        >>> with ember.no_grad():
        ...     ember.is_grad_enabled()
        False
    """
    return _state.grad_enabled


def is_inference_mode_enabled() -> bool:
    """Whether an ``inference_mode`` block is active."""
    return _state.inference


class _GradModeContext:
    """Base for context managers that are also decorators (and wrap generators)."""

    def __call__(self, fn):
        if inspect.isclass(fn):
            raise TypeError(f"{type(self).__name__} cannot decorate a class")
        if inspect.isgeneratorfunction(fn):
            @functools.wraps(fn)
            def gen_wrapper(*args, **kwargs):
                gen = fn(*args, **kwargs)
                try:
                    with self.clone():
                        response = gen.send(None)
                    while True:
                        try:
                            request = yield response
                        except GeneratorExit:
                            with self.clone():
                                gen.close()
                            raise
                        except BaseException as e:
                            with self.clone():
                                response = gen.throw(e)
                        else:
                            with self.clone():
                                response = gen.send(request)
                except StopIteration as e:  # the wrapped generator finished
                    return e.value
            return gen_wrapper

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.clone():
                return fn(*args, **kwargs)
        return wrapper

    def clone(self):
        return type(self)()


class no_grad(_GradModeContext):
    """Context manager and decorator that turns gradient recording off.

    Example:
        >>> import ember
        >>> x = ember.ones(2, requires_grad=True)
        >>> with ember.no_grad():
        ...     y = x * 2
        >>> y.requires_grad
        False
    """

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = False

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev


class enable_grad(_GradModeContext):
    """Context manager and decorator that turns gradient recording on (inside ``no_grad``).

    Example:
        >>> import ember
        >>> x = ember.ones(2, requires_grad=True)
        >>> with ember.no_grad(), ember.enable_grad():
        ...     (x * 2).requires_grad
        True
    """

    def __enter__(self):
        self.prev = _state.grad_enabled
        _state.grad_enabled = True

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev


class set_grad_enabled(_GradModeContext):
    """Set grad mode on or off; works as a function, context manager or decorator.

    Example:
        >>> import ember
        >>> with ember.set_grad_enabled(False):
        ...     ember.is_grad_enabled()
        False
    """

    def __init__(self, mode: bool) -> None:
        self.prev = _state.grad_enabled
        self.mode = bool(mode)
        _state.grad_enabled = self.mode

    def __enter__(self):
        _state.grad_enabled = self.mode

    def __exit__(self, *exc):
        _state.grad_enabled = self.prev

    def __call__(self, fn):
        # used as a decorator, the mode set by __init__ must not outlive the decoration
        _state.grad_enabled = self.prev
        return super().__call__(fn)

    def clone(self):
        return set_grad_enabled(self.mode)


class inference_mode(_GradModeContext):
    """Like ``no_grad``; tensors made inside report ``is_inference()``.

    Example:
        >>> import ember
        >>> with ember.inference_mode():
        ...     (ember.ones(2, requires_grad=True) * 2).requires_grad
        False
    """

    def __init__(self, mode: bool = True) -> None:
        self.mode = mode

    def __enter__(self):
        self.prev = (_state.grad_enabled, _state.inference)
        if self.mode:
            _state.grad_enabled, _state.inference = False, True

    def __exit__(self, *exc):
        _state.grad_enabled, _state.inference = self.prev

    def clone(self):
        return inference_mode(self.mode)


def pop_mode(mode) -> None:
    """Remove ``mode`` (its innermost entry) from the dispatch mode stack, if there."""
    modes = _state.modes
    for i in range(len(modes) - 1, -1, -1):
        if modes[i] is mode:
            del modes[i]
            return


class step_aside:
    """``with step_aside(mode):`` takes ``mode`` (its innermost entry) off the dispatch mode
    stack and puts it back at the same place afterwards: for the eager work a mode does
    itself (running the op it is recording, an in-place op that dispatches again), whose
    ops must not come back to it.

    Example:
        >>> from ember.autograd.grad_mode import _state, step_aside
        >>> m = object()
        >>> _state.modes.append(m)
        >>> with step_aside(m):
        ...     m in _state.modes
        False
        >>> _state.modes.pop() is m
        True
    """

    __slots__ = ("mode", "i")

    def __init__(self, mode) -> None:
        self.mode = mode

    def __enter__(self) -> None:
        modes = _state.modes
        self.i = len(modes) - 1 - modes[::-1].index(self.mode)
        del modes[self.i]

    def __exit__(self, *exc) -> None:
        _state.modes.insert(self.i, self.mode)


def mode_hook(name: str):
    """The ``name`` method of the innermost pushed mode that has one (or None): modes that
    only watch op dispatch (profiler, nan_guard) let such calls through to the JIT."""
    for m in reversed(_state.modes):
        hook = getattr(m, name, None)
        if hook is not None:
            return hook
    return None


def host_effect(fn):
    """Mark a routine that changes tensor state outside the op table (an optimizer's
    ``step``, ``zero_grad``, gradient clipping).

    Called with no dispatch mode pushed it simply runs. Under a mode the call goes to
    ``mode.host_effect(fn, args, kwargs)`` (modes without that method just run it), so the
    JIT records it as a call it makes again at run time instead of freezing its result.
    """
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if _state.modes:
            hook = mode_hook("host_effect")
            if hook is not None:
                return hook(fn, args, kwargs)
        return fn(*args, **kwargs)
    return wrapper
