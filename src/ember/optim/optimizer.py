"""The ``Optimizer`` base class: parameter groups, per-parameter state and hooks.

Optimizers update parameters in place on the raw backend arrays (``p._data``) with a
few fused array expressions per parameter, outside autograd, so a step costs no graph
bookkeeping. The arithmetic follows torch's single-tensor CPU implementations step
for step, so trajectories agree with torch's to rounding.

State dicts use torch's layout: ``{"state": {index: {name: value}}, "param_groups":
[{..., "params": [index, ...]}]}`` with parameters numbered across groups in order.
"""

from __future__ import annotations

import functools
import warnings
from collections import OrderedDict, defaultdict
from collections.abc import Callable, Iterable
from copy import deepcopy
from typing import Any

from .. import debug as _debug
from .. import dtypes
from ..autograd.engine import reset_grad
from ..autograd.grad_mode import enable_grad, host_effect
from ..backend import xp
from ..tensor import RemovableHandle, Tensor

__all__ = ["Optimizer", "required"]


class _RequiredParameter:
    """Marks a hyperparameter that has no default."""

    def __repr__(self) -> str:
        return "<required parameter>"


required = _RequiredParameter()


def _typename(obj) -> str:
    if isinstance(obj, Tensor):
        return "ember.Tensor"
    t = type(obj)
    return t.__qualname__ if t.__module__ == "builtins" else f"{t.__module__}.{t.__qualname__}"


def _scalar_dtype():
    """The dtype of scalar state such as ``step``: float64 if that is the default, else
    float32, as torch does."""
    return xp.float64 if dtypes.get_default_dtype() is dtypes.float64 else xp.float32


def _scalar(value: float = 0.0) -> Tensor:
    return Tensor._make(xp.array(value, dtype=_scalar_dtype()))


def _zeros_like(p: Tensor, fill: float = 0.0) -> Tensor:
    return Tensor._make(xp.full(p._data.shape, fill, dtype=p._data.dtype))


def _incr_step(state: dict) -> float:
    """Advance ``state["step"]`` (a 0-d tensor, or a number from an old state dict) and
    return the new value as a Python float."""
    st = state["step"]
    if isinstance(st, Tensor):
        arr = st._data
        arr += 1
        return float(arr)
    st = Tensor._make(xp.array(float(st) + 1, dtype=_scalar_dtype()))
    state["step"] = st
    return float(st._data)


def _lerp_(a, b, w: float, tmp) -> None:
    """``a.lerp_(b, w)`` in place with torch's two-sided formula (exact at both ends)."""
    xp.subtract(b, a, out=tmp)
    if w < 0.5:
        tmp *= w
        a += tmp
    else:
        tmp *= 1.0 - w
        xp.subtract(b, tmp, out=a)


def _grad_with_decay(d, g, lr: float, wd: float, maximize: bool, decoupled: bool = False):
    """The gradient array ``g`` negated for ``maximize`` and with L2 weight decay ``wd * d``
    added; with ``decoupled`` the decay scales the parameter array ``d`` in place instead."""
    if maximize:
        g = -g
    if wd != 0:
        if decoupled:
            d *= 1.0 - lr * wd
        else:
            g = g + wd * d
    return g


def _adam_moments_(m, v, g, beta1: float, beta2: float, tmp) -> None:
    """Adam's moments in place: ``m.lerp_(g, 1 - beta1)``, ``v = beta2 * v + (1 - beta2) * g * g``
    (``tmp``: scratch of ``g``'s shape)."""
    _lerp_(m, g, 1.0 - beta1, tmp)
    xp.multiply(g, 1.0 - beta2, out=tmp)
    tmp *= g
    v *= beta2
    v += tmp


def _with_hooks(step: Callable) -> Callable:
    @host_effect
    @functools.wraps(step)
    def wrapper(self, *args, **kwargs):
        _debug._step_check(self)  # graph-leak check over the first steps (GraphLeakWarning)
        if not (self._step_pre_hooks or self._step_post_hooks):
            return step(self, *args, **kwargs)
        for hook in list(self._step_pre_hooks.values()):
            res = hook(self, args, kwargs)
            if res is not None:
                if not (isinstance(res, tuple) and len(res) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, "
                                       f"new_kwargs), but got {res}.")
                args, kwargs = res
        out = step(self, *args, **kwargs)
        for hook in list(self._step_post_hooks.values()):
            hook(self, args, kwargs)
        return out
    wrapper._ember_hooked = True
    return wrapper


class Optimizer:
    """Base class of optimizers, like ``torch.optim.Optimizer``.

    Args:
        params: an iterable of tensors, of ``(name, tensor)`` pairs, or of dicts that
            define parameter groups (each with a ``"params"`` entry).
        defaults: default hyperparameters, filled into every group that lacks them.

    Example:
        >>> import ember
        >>> w = ember.ones(2, requires_grad=True)
        >>> opt = ember.optim.SGD([w], lr=0.5)
        >>> (w * w).sum().backward(); _ = opt.step(); w
        tensor([0., 0.], requires_grad=True)
    """

    def __init_subclass__(cls, **kw) -> None:
        super().__init_subclass__(**kw)
        step = cls.__dict__.get("step")
        if step is not None and not getattr(step, "_ember_hooked", False):
            cls.step = _with_hooks(step)

    def __init__(self, params: Iterable, defaults: dict[str, Any]) -> None:
        self.defaults = defaults
        self._step_pre_hooks: OrderedDict = OrderedDict()
        self._step_post_hooks: OrderedDict = OrderedDict()
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of "
                            f"Tensors or dicts, but got {_typename(params)}")
        self.state: defaultdict = defaultdict(dict)
        self.param_groups: list[dict] = []
        groups = list(params)
        if len(groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for g in groups:
            self.add_param_group(g)

    def __getstate__(self) -> dict:
        return {"defaults": self.defaults, "state": self.state,
                "param_groups": self.param_groups}

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self.__dict__.setdefault("_step_pre_hooks", OrderedDict())
        self.__dict__.setdefault("_step_post_hooks", OrderedDict())

    def __repr__(self) -> str:
        s = self.__class__.__name__ + " ("
        for i, group in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for key in sorted(group):
                if key != "params":
                    s += f"\n    {key}: {group[key]}"
        return s + "\n)"

    # ---- parameter groups ---------------------------------------------------------
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters (a dict with ``"params"`` and optional overrides)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {_typename(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, (set, frozenset)):
            raise TypeError("optimizer parameters need to be organized in ordered collections, "
                            "but the ordering of tensors in sets will change between runs. "
                            "Please use a list instead.")
        else:
            params = list(params)
        names = []
        plain = []
        for p in params:
            if isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str):
                names.append(p[0])
                p = p[1]
            plain.append(p)
        if names and len(names) != len(plain):
            raise ValueError("all optimizer params should be with/without names. Some param "
                             "names are missing")
        for p in plain:
            if not isinstance(p, Tensor):
                raise TypeError("optimizer can only optimize Tensors, but one of the params is "
                                + _typename(p))
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        group = dict(param_group)
        group["params"] = plain
        if names:
            group["param_names"] = names
        for name, default in self.defaults.items():
            if default is required and name not in group:
                raise ValueError("parameter group didn't specify a value of required "
                                 f"optimization parameter {name}")
            group.setdefault(name, default)
        ids = {id(p) for p in plain}
        if len(ids) != len(plain):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in "
                          "future, this will cause an error; see "
                          "github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set = set()
        for g in self.param_groups:
            seen.update(id(p) for p in g["params"])
            if ("param_names" in g) != bool(names):
                raise ValueError("all optimizer param groups should be with/without names.")
        if not seen.isdisjoint(ids):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ---- gradients and steps --------------------------------------------------------
    @host_effect
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all optimized tensors (to ``None`` by default)."""
        for group in self.param_groups:
            for p in group["params"]:
                reset_grad(p, set_to_none)

    def step(self, closure: Callable | None = None):
        """Perform one update; ``closure`` re-evaluates the model and returns the loss."""
        raise NotImplementedError

    def _eval_closure(self, closure: Callable | None):
        if closure is None:
            return None
        with enable_grad():
            return closure()

    def register_step_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` before each step; it may return new
        ``(args, kwargs)``."""
        return RemovableHandle(self._step_pre_hooks, hook)

    def register_step_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(optimizer, args, kwargs)`` after each step."""
        return RemovableHandle(self._step_post_hooks, hook)

    # ---- state dicts ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The state in torch's layout; tensors in it are shared with the optimizer.

        Example:
            >>> import ember
            >>> opt = ember.optim.SGD([ember.ones(1, requires_grad=True)], lr=0.1)
            >>> opt.state_dict()["param_groups"][0]["params"]
            [0]
        """
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                if id(p) not in index:
                    index[id(p)] = len(index)
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v
                 for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Load a state dict made by ``state_dict`` (here or by torch's layout)."""
        try:
            saved_groups = deepcopy(state_dict["param_groups"])
            saved_state = state_dict["state"]
        except (KeyError, TypeError):
            raise ValueError("optimizer state dict must be a dict with 'state' and "
                             "'param_groups' entries") from None
        groups = self.param_groups
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        for g, sg in zip(groups, saved_groups, strict=True):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't "
                                 "match the size of optimizer's group")
        id_map = {}
        for g, sg in zip(groups, saved_groups, strict=True):
            for old, p in zip(sg["params"], g["params"], strict=True):
                id_map[old] = p
        state: defaultdict = defaultdict(dict)
        for k, v in saved_state.items():
            p = id_map.get(k)
            if p is None:
                state[k] = v
                continue
            state[p] = {name: self._cast_state(p, name, val) for name, val in v.items()}
        new_groups = []
        for g, sg in zip(groups, saved_groups, strict=True):
            sg["params"] = g["params"]
            if "param_names" in g and "param_names" not in sg:
                sg["param_names"] = g["param_names"]
            new_groups.append(sg)
        self.state = state
        self.param_groups = new_groups

    @staticmethod
    def _cast_state(p: Tensor, name: str, value):
        if not isinstance(value, Tensor):
            return value
        if name == "step":
            return Tensor._make(xp.array(value._data, dtype=value._data.dtype))
        dt = p._data.dtype if p._data.dtype.kind == "f" else value._data.dtype
        return Tensor._make(xp.array(value._data, dtype=dt))

    def _hyper(self, group: dict, name: str) -> float:
        v = group[name]
        return float(v) if isinstance(v, Tensor) else v
