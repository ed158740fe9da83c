"""``Module``: the base class of every layer, with parameter/buffer/submodule registration,
state_dict save and load, train/eval modes and forward/backward hooks, as in torch.

Example:
    >>> import ember
    >>> from ember import nn
    >>> class Net(nn.Module):
    ...     def __init__(self):
    ...         super().__init__()
    ...         self.fc = nn.Linear(3, 2)
    ...     def forward(self, x):
    ...         return self.fc(x).relu()
    >>> net = Net()
    >>> [name for name, _ in net.named_parameters()]
    ['fc.weight', 'fc.bias']
    >>> net
    Net(
      (fc): Linear(in_features=3, out_features=2, bias=True)
    )
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple

from ... import dtypes
from ...autograd.engine import reset_grad
from ...autograd.grad_mode import _state, host_effect, no_grad
from ...backend import xp
from ...ops.registry import Op, register
from ...tensor import RemovableHandle, Tensor, _check_device, device
from ..parameter import Buffer, Parameter

# the global hook functions are public here only (not re-exported by ember.nn), as in torch
__all__ = ["Module"]

_EXTRA_STATE_KEY_SUFFIX = "_extra_state"


def add_error_note(e: BaseException, text: str, replace: str | None = None) -> None:
    """Attach ``text`` to an exception that is propagating, keeping its type and traceback:
    a PEP 678 note (replacing the note ``replace`` if given), or on Python 3.10 a line
    appended to the message of the builtin error types ember raises."""
    if hasattr(e, "add_note"):
        notes = getattr(e, "__notes__", None)
        if replace is not None and notes:
            for i, n in enumerate(notes):
                if n is replace:
                    notes[i] = text
                    return
        e.add_note(text)
    elif (type(e) in (RuntimeError, ValueError, TypeError, IndexError) and len(e.args) == 1
          and isinstance(e.args[0], str)):
        msg = e.args[0]
        if replace is not None and msg.endswith("\n" + replace):
            msg = msg[:-len(replace) - 1]
        e.args = (msg + "\n" + text,)


def _note_module(module: Module, e: BaseException, args: tuple) -> None:
    """Record, as an exception leaves each ``Module.__call__``, the path from the module
    being left to the innermost module that raised; the note always names the innermost
    module and its path from the outermost one reached so far."""
    try:
        ctx = e.__dict__.get("_ember_module_ctx")
        if ctx is None:
            shapes = ", ".join(f"{tuple(a.shape)} {a.dtype}" for a in args
                               if isinstance(a, Tensor))
            inputs = f", with input {shapes}" if shapes else ""
            note = f"The error was raised in {type(module).__name__}{inputs}."
            e._ember_module_ctx = [module, module, "", inputs, note]
            add_error_note(e, note)
            return
        inner, last, path, inputs, note = ctx
        if last is module or last is None:
            return
        name = next((n for n, m in module.named_modules() if m is last), None)
        if name is None:
            ctx[1] = None  # called from outside this module's tree: keep the path so far
            return
        path = name + ("." + path if path and name else path)
        new = (f"The error was raised in module {path} ({type(inner).__name__}) of "
               f"{type(module).__name__}{inputs}.")
        ctx[1:] = [module, path, inputs, new]
        add_error_note(e, new, replace=note)
    except Exception:  # noqa: BLE001, S110 - never hide the error being reported
        pass


def _typename(obj) -> str:
    """The type name torch puts in its assignment errors (tensors by legacy name)."""
    if isinstance(obj, Tensor):
        return obj.type().replace("torch.", "ember.")
    t = type(obj)
    mod = t.__module__
    if mod in ("builtins", "__builtin__", None):
        return t.__qualname__
    return f"{mod}.{t.__qualname__}"


def _addindent(s: str, num_spaces: int) -> str:
    lines = s.split("\n")
    if len(lines) == 1:
        return s
    first = lines.pop(0)
    return first + "\n" + "\n".join(num_spaces * " " + line for line in lines)


class _IncompatibleKeys(NamedTuple):
    missing_keys: list
    unexpected_keys: list

    def __repr__(self) -> str:
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return (f"_IncompatibleKeys(missing_keys={self.missing_keys!r}, "
                f"unexpected_keys={self.unexpected_keys!r})")

    __str__ = __repr__


def _remove_from(name: str, *dicts_or_sets) -> None:
    for d in dicts_or_sets:
        if name in d:
            if isinstance(d, dict):
                del d[name]
            else:
                d.discard(name)


def _prepend(hooks: dict, handle: RemovableHandle) -> None:
    """Move the hook just registered under ``handle`` to the front of ``hooks``."""
    items = list(hooks.items())
    hooks.clear()
    hooks[handle.id] = items[-1][1]
    hooks.update(items[:-1])


# ---- full backward hooks: identity ops around the forward ---------------------------

@register
class _BackwardHookIdentity(Op):
    """Identity on several tensors whose backward hands the gradients to a module's
    backward hooks (set on the node as ``ctx.hook_fn``), which may replace them."""

    name = "_module_backward_hook"

    @staticmethod
    def forward(ctx, *arrays):
        return tuple(a.view() for a in arrays)

    @staticmethod
    def backward(ctx, F, *grads):
        fn = getattr(ctx, "hook_fn", None)
        if fn is None:
            return grads
        tensor_mode = ctx._tensor_mode
        wrapped = tuple(g if g is None or tensor_mode else Tensor._make(g) for g in grads)
        out = fn(wrapped)
        return tuple(g if g is None or tensor_mode else g._data for g in out)


class _BackwardHook:
    """One forward call's state for ``register_full_backward_hook`` (torch's BackwardHook)."""

    def __init__(self, module: Module, hooks: list, pre_hooks: list) -> None:
        self.module = module
        self.hooks = hooks
        self.pre_hooks = pre_hooks
        self.grad_outputs = None
        self.n_inputs = 0
        self.input_index = None

    @staticmethod
    def _wrap(values: list, on_grads: Callable) -> list | None:
        idx = [i for i, v in enumerate(values) if isinstance(v, Tensor) and v._rg]
        if not idx or not _state.grad_enabled:
            return None
        outs = _BackwardHookIdentity.apply(*[values[i] for i in idx])
        node = outs[0].grad_fn
        if node is None:  # not recorded (e.g. under a tracer): leave the values alone
            return None
        node.hook_fn = on_grads
        for i, o in zip(idx, outs, strict=True):
            values[i] = o
        return idx

    def setup_input_hook(self, args: tuple) -> tuple:
        self.n_inputs = len(args)
        values = list(args)
        self.input_index = self._wrap(values, self._on_input_grads)
        return tuple(values)

    def setup_output_hook(self, result):
        single = isinstance(result, Tensor)
        values = [result] if single else list(result) if isinstance(result, tuple) else None
        if values is None or self._wrap(values, self._on_output_grads) is None:
            return result
        return values[0] if single else tuple(values)

    def _on_output_grads(self, grads: tuple) -> tuple:
        for hook in self.pre_hooks:
            res = hook(self.module, grads)
            if res is not None:
                res = (res,) if isinstance(res, Tensor) else tuple(res)
                if len(res) != len(grads):
                    raise RuntimeError(f"Backward pre hook returned an invalid number of "
                                       f"grad_output, got {len(res)}, but expected {len(grads)}")
                grads = res
        self.grad_outputs = grads
        if self.input_index is None:
            grad_inputs = (None,) * self.n_inputs
            for hook in self.hooks:
                res = hook(self.module, grad_inputs, self.grad_outputs)
                if res is not None and not all(r is None for r in res):
                    raise RuntimeError("Backward hook for Modules where no input requires "
                                       "gradient should always return None or None for all "
                                       "gradients.")
        return grads

    def _on_input_grads(self, grads: tuple) -> tuple:
        full = [None] * self.n_inputs
        for i, g in zip(self.input_index, grads, strict=True):
            full[i] = g
        grad_inputs = tuple(full)
        for hook in self.hooks:
            res = hook(self.module, grad_inputs, self.grad_outputs)
            if res is not None:
                res = tuple(res)
                if len(res) != len(grad_inputs):
                    raise RuntimeError(f"Backward hook returned an invalid number of grad_input, "
                                       f"got {len(res)}, but expected {len(grad_inputs)}")
                grad_inputs = res
        return tuple(grad_inputs[i] for i in self.input_index)


# ---- Module --------------------------------------------------------------------------

# ---------------------------------------------------------------- global module hooks

_global_forward_pre_hooks: dict = {}
_global_forward_hooks: dict = {}
_global_forward_hooks_with_kwargs: dict = {}
_global_forward_hooks_always_called: dict = {}
#: every registered global hook: the one dict ``Module.__call__`` tests on its fast path
_global_hooks: dict = {}


class _GlobalHookHandle(RemovableHandle):
    """A global hook's handle: removal also drops it from ``_global_hooks``."""

    def __init__(self, hooks: dict, hook: Callable, *extra: dict) -> None:
        super().__init__(hooks, hook)
        self._extra = extra
        _global_hooks[self.id] = hook

    def remove(self) -> None:
        super().remove()
        for d in (_global_hooks, *self._extra):
            d.pop(self.id, None)


def register_module_forward_pre_hook(hook: Callable) -> RemovableHandle:
    """Call ``hook(module, args)`` before the forward of every module (before the module's
    own pre-hooks); a non-None result replaces the inputs. For debugging and profiling.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> from ember.nn.modules.module import register_module_forward_pre_hook
        >>> seen = []
        >>> h = register_module_forward_pre_hook(lambda m, args: seen.append(type(m).__name__))
        >>> _ = nn.ReLU()(ember.ones(1)); h.remove(); seen
        ['ReLU']
    """
    return _GlobalHookHandle(_global_forward_pre_hooks, hook)


def register_module_forward_hook(hook: Callable, *, with_kwargs: bool = False,
                                 always_call: bool = False) -> RemovableHandle:
    """Call ``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``)
    after the forward of every module (before the module's own hooks); a non-None result
    replaces the output. ``always_call`` hooks also run when forward raises.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> from ember.nn.modules.module import register_module_forward_hook
        >>> h = register_module_forward_hook(lambda m, args, out: out * 2)
        >>> nn.Identity()(ember.ones(2))
        tensor([2., 2.])
        >>> h.remove()
    """
    handle = _GlobalHookHandle(_global_forward_hooks, hook, _global_forward_hooks_with_kwargs,
                               _global_forward_hooks_always_called)
    if with_kwargs:
        _global_forward_hooks_with_kwargs[handle.id] = True
    if always_call:
        _global_forward_hooks_always_called[handle.id] = True
    return handle


class Module:
    """Base class for all neural-network modules; subclass it and define ``forward``.

    Assigning a :class:`Parameter`, a ``Module`` or an ``nn.Buffer`` to an attribute
    registers it, so ``parameters()``, ``state_dict()``, ``to()`` and friends see it.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> m = nn.Sequential(nn.Linear(2, 2), nn.Identity())
        >>> m(ember.ones(1, 2)).shape
        ember.Size([1, 2])
    """

    training: bool
    _version: int = 1
    call_super_init: bool = False

    def __init__(self, *args, **kwargs) -> None:
        if self.call_super_init is False and (args or kwargs):
            if kwargs:
                raise TypeError(f"{type(self).__name__}.__init__() got an unexpected keyword "
                                f"argument '{next(iter(kwargs))}'")
            raise TypeError(f"{type(self).__name__}.__init__() takes 1 positional argument but "
                            f"{len(args) + 1} were given")
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = {}
        d["_buffers"] = {}
        d["_non_persistent_buffers_set"] = set()
        d["_modules"] = {}
        d["_forward_hooks"] = {}
        d["_forward_hooks_with_kwargs"] = {}
        d["_forward_pre_hooks"] = {}
        d["_forward_pre_hooks_with_kwargs"] = {}
        d["_backward_hooks"] = {}
        d["_backward_pre_hooks"] = {}
        d["_forward_hooks_always_called"] = {}
        d["_state_dict_hooks"] = {}
        d["_state_dict_pre_hooks"] = {}
        d["_load_state_dict_pre_hooks"] = {}
        d["_load_state_dict_post_hooks"] = {}
        if self.call_super_init:
            super().__init__(*args, **kwargs)

    def forward(self, *input: Any) -> Any:
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required '
                                  f'"forward" function')

    # ---- calling ---------------------------------------------------------------------
    def __call__(self, *args, **kwargs):
        # hot path: one dict check per hook kind, no allocation when no hooks are registered;
        # the try costs nothing unless forward raises
        try:
            if (self._forward_pre_hooks or self._forward_hooks or self._backward_hooks
                    or self._backward_pre_hooks or _global_hooks):
                return self._call_with_hooks(args, kwargs)
            return self.forward(*args, **kwargs)
        except Exception as e:
            _note_module(self, e, args)
            raise

    def _call_with_hooks(self, args: tuple, kwargs: dict):
        # global hooks (register_module_forward_*_hook) run before the module's own, as in torch
        for hid, hook in [*_global_forward_pre_hooks.items(), *self._forward_pre_hooks.items()]:
            if hid in self._forward_pre_hooks_with_kwargs:
                res = hook(self, args, kwargs)
                if res is not None:
                    if not (isinstance(res, tuple) and len(res) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of "
                                           f"(new_args, new_kwargs), but got {res}.")
                    args, kwargs = res
            else:
                res = hook(self, args)
                if res is not None:
                    args = res if isinstance(res, tuple) else (res,)
        bw = None
        if self._backward_hooks or self._backward_pre_hooks:
            bw = _BackwardHook(self, list(self._backward_hooks.values()),
                               list(self._backward_pre_hooks.values()))
            args = bw.setup_input_hook(args)
        with_kwargs = self._forward_hooks_with_kwargs
        try:
            result = self.forward(*args, **kwargs)
        except Exception:
            # hooks registered with always_call=True run even when forward raises
            always = self._forward_hooks_always_called
            for hid, hook in [*_global_forward_hooks.items(), *self._forward_hooks.items()]:
                if hid in always or hid in _global_forward_hooks_always_called:
                    try:
                        if hid in with_kwargs or hid in _global_forward_hooks_with_kwargs:
                            hook(self, args, kwargs, None)
                        else:
                            hook(self, args, None)
                    except Exception:  # noqa: BLE001, S110 - the forward's error wins
                        pass
            raise
        for hid, hook in [*_global_forward_hooks.items(), *self._forward_hooks.items()]:
            if hid in with_kwargs or hid in _global_forward_hooks_with_kwargs:
                res = hook(self, args, kwargs, result)
            else:
                res = hook(self, args, result)
            if res is not None:
                result = res
        if bw is not None:
            result = bw.setup_output_hook(result)
        return result

    # ---- hooks -----------------------------------------------------------------------
    def _add_hook(self, hooks: dict, hook: Callable, prepend: bool) -> RemovableHandle:
        handle = RemovableHandle(hooks, hook)
        if prepend:
            _prepend(hooks, handle)
        return handle

    def register_forward_pre_hook(self, hook: Callable, *, prepend: bool = False,
                                  with_kwargs: bool = False) -> RemovableHandle:
        """Call ``hook(module, args)`` (or ``hook(module, args, kwargs)``) before forward;
        a non-None result replaces the inputs.

        Example:
            >>> import ember
            >>> from ember import nn
            >>> m = nn.Identity()
            >>> h = m.register_forward_pre_hook(lambda mod, args: (args[0] * 2,))
            >>> m(ember.ones(2))
            tensor([2., 2.])
        """
        handle = self._add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs[handle.id] = True
        return handle

    def register_forward_hook(self, hook: Callable, *, prepend: bool = False,
                              with_kwargs: bool = False, always_call: bool = False
                              ) -> RemovableHandle:
        """Call ``hook(module, args, output)`` (or ``hook(module, args, kwargs, output)``)
        after forward; a non-None result replaces the output.

        Example:
            >>> import ember
            >>> from ember import nn
            >>> m = nn.Identity()
            >>> h = m.register_forward_hook(lambda mod, args, out: out + 1)
            >>> m(ember.zeros(2))
            tensor([1., 1.])
        """
        handle = self._add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs[handle.id] = True
        if always_call:
            self._forward_hooks_always_called[handle.id] = True
        return handle

    def register_full_backward_hook(self, hook: Callable, prepend: bool = False
                                    ) -> RemovableHandle:
        """Call ``hook(module, grad_input, grad_output)`` when the gradients w.r.t. the
        module's inputs are computed; a non-None result replaces ``grad_input``.

        Example:
            >>> import ember
            >>> from ember import nn
            >>> m = nn.Identity(); seen = []
            >>> h = m.register_full_backward_hook(lambda mod, gi, go: seen.append(go[0]))
            >>> m(ember.ones(2, requires_grad=True)).sum().backward(); seen
            [tensor([1., 1.])]
        """
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_full_backward_pre_hook(self, hook: Callable, prepend: bool = False
                                        ) -> RemovableHandle:
        """Call ``hook(module, grad_output)`` when the gradients w.r.t. the module's
        outputs are computed; a non-None result replaces ``grad_output``."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    # ---- registration ----------------------------------------------------------------
    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Add a parameter (or None) under ``name``."""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"parameter name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('parameter name can\'t contain "."')
        if name == "":
            raise KeyError('parameter name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._parameters:
            raise KeyError(f"attribute '{name}' already exists")
        if param is None:
            self._parameters[name] = None
            return
        if not isinstance(param, Parameter):
            raise TypeError(f"cannot assign '{_typename(param)}' object to parameter '{name}' "
                            f"(ember.nn.Parameter or None required)")
        if param.grad_fn is not None:
            raise ValueError(f"Cannot assign non-leaf Tensor to parameter '{name}'. Model "
                             f"parameters must be created explicitly. To express '{name}' as a "
                             f"function of another Tensor, compute the value in the forward() "
                             f"method.")
        self._parameters[name] = param

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Add a buffer: module state that is not a parameter (e.g. running statistics).
        Non-persistent buffers are left out of ``state_dict``.

        Example:
            >>> import ember
            >>> from ember import nn
            >>> m = nn.Module(); m.register_buffer("count", ember.zeros(1))
            >>> m.count
            tensor([0.])
        """
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        if not isinstance(name, str):
            raise TypeError(f"buffer name should be a string. Got {_typename(name)}")
        if "." in name:
            raise KeyError('buffer name can\'t contain "."')
        if name == "":
            raise KeyError('buffer name can\'t be empty string ""')
        if hasattr(self, name) and name not in self._buffers:
            raise KeyError(f"attribute '{name}' already exists")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign '{_typename(tensor)}' object to buffer '{name}' "
                            f"(ember Tensor or None required)")
        if isinstance(tensor, Buffer):
            tensor = tensor.detach()
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers_set.discard(name)
        else:
            self._non_persistent_buffers_set.add(name)

    def add_module(self, name: str, module: Module | None) -> None:
        """Add a child module under ``name`` (it becomes an attribute)."""
        if not isinstance(module, Module) and module is not None:
            raise TypeError(f"{_typename(module)} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {_typename(name)}")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        if "." in name:
            raise KeyError(f'module name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError('module name can\'t be empty string ""')
        self._modules[name] = module

    register_module = add_module

    def get_submodule(self, target: str) -> Module:
        """The submodule at a dotted path (``"encoder.layers.0"``); ``""`` is self."""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not hasattr(mod, item):
                raise AttributeError(mod._get_name() + " has no attribute `" + item + "`")
            mod = getattr(mod, item)
            if not isinstance(mod, Module):
                raise AttributeError("`" + item + "` is not an nn.Module")
        return mod

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at a dotted path (``"fc.weight"``)."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        param = getattr(mod, name)
        if not isinstance(param, Parameter):
            raise AttributeError("`" + name + "` is not an nn.Parameter")
        return param

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at a dotted path."""
        module_path, _, name = target.rpartition(".")
        mod = self.get_submodule(module_path)
        if not hasattr(mod, name):
            raise AttributeError(mod._get_name() + " has no attribute `" + name + "`")
        if name not in mod._buffers:
            raise AttributeError("`" + name + "` is not a buffer")
        return getattr(mod, name)

    def get_extra_state(self) -> Any:
        raise RuntimeError("Reached a code path in Module.get_extra_state() that should never "
                           "be called.")

    def set_extra_state(self, state: Any) -> None:
        raise RuntimeError("Reached a code path in Module.set_extra_state() that should never "
                           "be called.")

    # ---- attribute protocol ------------------------------------------------------------
    def __getattr__(self, name: str) -> Any:
        d = self.__dict__
        if "_parameters" in d:
            p = d["_parameters"]
            if name in p:
                return p[name]
            b = d["_buffers"]
            if name in b:
                return b[name]
            m = d["_modules"]
            if name in m:
                return m[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            if params is None:
                raise AttributeError("cannot assign parameters before Module.__init__() call")
            _remove_from(name, d, self._buffers, self._modules, self._non_persistent_buffers_set)
            self.register_parameter(name, value)
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as parameter '{name}' "
                                f"(ember.nn.Parameter or None expected)")
            self.register_parameter(name, value)
            return
        modules = d.get("_modules")
        if isinstance(value, Module):
            if modules is None:
                raise AttributeError("cannot assign module before Module.__init__() call")
            _remove_from(name, d, self._parameters, self._buffers,
                         self._non_persistent_buffers_set)
            modules[name] = value
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign '{_typename(value)}' as child module '{name}' "
                                f"(ember.nn.Module or None expected)")
            modules[name] = value
            return
        buffers = d.get("_buffers")
        if isinstance(value, Buffer) or (buffers is not None and name in buffers):
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign '{_typename(value)}' as buffer '{name}' "
                                f"(ember.nn.Buffer, ember.Tensor or None expected)")
            if buffers is None:
                raise AttributeError("cannot assign buffer before Module.__init__() call")
            if isinstance(value, Buffer):
                persistent = value.persistent
                _remove_from(name, d, self._parameters, self._modules)
            else:
                persistent = name not in self._non_persistent_buffers_set
            self.register_buffer(name, value, persistent)
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers_set.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list:
        keys = list(object.__dir__(self))
        keys += list(self._parameters) + list(self._modules) + list(self._buffers)
        return sorted(k for k in set(keys) if not k[0].isdigit())

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)

    # ---- iteration -------------------------------------------------------------------
    def _named_members(self, get_members: Callable, prefix: str = "", recurse: bool = True,
                       remove_duplicate: bool = True) -> Iterator:
        memo = set()
        modules = (self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate)
                   if recurse else [(prefix, self)])
        for module_prefix, module in modules:
            for k, v in get_members(module):
                if v is None or id(v) in memo:
                    continue
                if remove_duplicate:
                    memo.add(id(v))
                yield module_prefix + ("." if module_prefix else "") + k, v

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """The parameters of this module (and its submodules when ``recurse``).

        Example:
            >>> from ember import nn
            >>> sum(p.numel() for p in nn.Linear(3, 2).parameters())
            8
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_parameters(self, prefix: str = "", recurse: bool = True,
                         remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """``(name, parameter)`` pairs with dotted names."""
        return self._named_members(lambda m: m._parameters.items(), prefix=prefix,
                                   recurse=recurse, remove_duplicate=remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """The buffers of this module (and its submodules when ``recurse``)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_buffers(self, prefix: str = "", recurse: bool = True,
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(name, buffer)`` pairs with dotted names."""
        return self._named_members(lambda m: m._buffers.items(), prefix=prefix,
                                   recurse=recurse, remove_duplicate=remove_duplicate)

    def children(self) -> Iterator[Module]:
        """The direct submodules."""
        for _, m in self.named_children():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """``(name, module)`` for the direct submodules."""
        memo = set()
        for name, module in self._modules.items():
            if module is not None and id(module) not in memo:
                memo.add(id(module))
                yield name, module

    def modules(self) -> Iterator[Module]:
        """This module and all its submodules, depth first."""
        for _, m in self.named_modules():
            yield m

    def named_modules(self, memo: set | None = None, prefix: str = "",
                      remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """``(dotted name, module)`` for this module (name ``prefix``) and every submodule."""
        if memo is None:
            memo = set()
        if self in memo:
            return
        if remove_duplicate:
            memo.add(self)
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            sub = prefix + ("." if prefix else "") + name
            yield from module.named_modules(memo, sub, remove_duplicate)

    # ---- modes and gradients -----------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (dropout active, batch statistics) on this module and all
        submodules; returns self."""
        if not isinstance(mode, bool):
            raise ValueError("training mode is expected to be boolean")
        self.training = mode
        for module in self.children():
            module.train(mode)
        return self

    def eval(self) -> Module:
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Set ``requires_grad`` on every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    @host_effect
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset the gradients of all parameters (to None by default, else to zeros)."""
        for p in self.parameters():
            reset_grad(p, set_to_none)

    def apply(self, fn: Callable[[Module], None]) -> Module:
        """Call ``fn`` on every submodule (children first) and on self; returns self.

        Example:
            >>> from ember import nn
            >>> m = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
            >>> names = []
            >>> _ = m.apply(lambda mod: names.append(type(mod).__name__)); names
            ['Linear', 'Linear', 'Sequential']
        """
        for module in self.children():
            module.apply(fn)
        fn(self)
        return self

    # ---- dtype / device ----------------------------------------------------------------
    def _apply(self, fn: Callable[[Tensor], Tensor], recurse: bool = True) -> Module:
        if recurse:
            for module in self.children():
                module._apply(fn)
        for param in self._parameters.values():
            if param is None:
                continue
            with no_grad():
                new = fn(param)
            if new is not param:
                # keep the Parameter object (optimizers hold it): swap its storage
                param._data = new._data
                param._vbox = None
            if param.grad is not None:
                with no_grad():
                    g = fn(param.grad)
                if g is not param.grad:
                    param.grad._data = g._data
        for key, buf in self._buffers.items():
            if buf is not None:
                self._buffers[key] = fn(buf)
        return self

    def to(self, *args, **kwargs) -> Module:
        """Move and/or cast parameters and buffers in place: ``to(dtype)``,
        ``to(device)``, ``to(device, dtype)``, ``to(tensor)``. Only floating-point
        tensors change dtype.

        Example:
            >>> import ember
            >>> from ember import nn
            >>> nn.Linear(2, 2).to(ember.float64).weight.dtype
            ember.float64
        """
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() received an invalid combination of arguments: "
                            f"{sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)):
                dev = a
            elif isinstance(a, dtypes.DType):
                dtype = a
            elif a is not None and not isinstance(a, bool):
                dtype = dtypes.to_dtype(a)
        _check_device(dev)
        if dtype is None:
            return self
        dtype = dtypes.to_dtype(dtype)
        if not dtype.is_floating_point:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={dtype}")

        def convert(t: Tensor) -> Tensor:
            return t.to(dtype) if t.is_floating_point() else t
        return self._apply(convert)

    def type(self, dst_type) -> Module:
        """Cast all parameters and buffers to ``dst_type``."""
        dt = dtypes.to_dtype(dst_type)
        return self._apply(lambda t: t.type(dt))

    def float(self) -> Module:
        """Cast floating-point parameters and buffers to float32."""
        return self._apply(lambda t: t.float() if t.is_floating_point() else t)

    def double(self) -> Module:
        """Cast floating-point parameters and buffers to float64."""
        return self._apply(lambda t: t.double() if t.is_floating_point() else t)

    def half(self) -> Module:
        """Cast floating-point parameters and buffers to float16."""
        return self._apply(lambda t: t.half() if t.is_floating_point() else t)

    def cpu(self) -> Module:
        return self

    def cuda(self, device=None) -> Module:
        _check_device("cuda")
        return self

    # ---- state_dict ------------------------------------------------------------------
    def _save_to_state_dict(self, destination: dict, prefix: str, keep_vars: bool) -> None:
        for name, param in self._parameters.items():
            if param is not None:
                destination[prefix + name] = param if keep_vars else param.detach()
        for name, buf in self._buffers.items():
            if buf is not None and name not in self._non_persistent_buffers_set:
                destination[prefix + name] = buf if keep_vars else buf.detach()
        if type(self).get_extra_state is not Module.get_extra_state:
            destination[prefix + _EXTRA_STATE_KEY_SUFFIX] = self.get_extra_state()

    def state_dict(self, *args, destination: dict | None = None, prefix: str = "",
                   keep_vars: bool = False) -> dict:
        """An OrderedDict of every parameter and persistent buffer by dotted name
        (detached tensors sharing storage unless ``keep_vars``).

        Example:
            >>> from ember import nn
            >>> list(nn.Linear(2, 1).state_dict())
            ['weight', 'bias']
        """
        if args:  # torch's deprecated positional form (destination, prefix, keep_vars)
            names = ("destination", "prefix", "keep_vars")
            vals = dict(zip(names[:len(args)], args, strict=True))
            destination = vals.get("destination", destination)
            prefix = vals.get("prefix", prefix)
            keep_vars = vals.get("keep_vars", keep_vars)
        if destination is None:
            destination = OrderedDict()
            destination._metadata = OrderedDict()
        meta = getattr(destination, "_metadata", None)
        if meta is not None:
            meta[prefix[:-1]] = {"version": self._version}
        for hook in self._state_dict_pre_hooks.values():
            hook(self, prefix, keep_vars)
        self._save_to_state_dict(destination, prefix, keep_vars)
        for name, module in self._modules.items():
            if module is not None:
                module.state_dict(destination=destination, prefix=prefix + name + ".",
                                  keep_vars=keep_vars)
        for hook in self._state_dict_hooks.values():
            res = hook(self, destination, prefix, {})
            if res is not None:
                destination = res
        return destination

    def _load_from_state_dict(self, state_dict: dict, prefix: str, local_metadata: dict,
                              strict: bool, missing_keys: list, unexpected_keys: list,
                              error_msgs: list) -> None:
        # torch's signature (subclasses override it); assign travels in the metadata
        for hook in self._load_state_dict_pre_hooks.values():
            hook(self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
                 error_msgs)
        assign = local_metadata.get("assign_to_params_buffers", False)
        persistent = {k: v for k, v in self._buffers.items()
                      if k not in self._non_persistent_buffers_set}
        local_state = {k: v for k, v in list(self._parameters.items()) + list(persistent.items())
                       if v is not None}
        for name, param in local_state.items():
            key = prefix + name
            if key not in state_dict:
                if strict:
                    missing_keys.append(key)
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                error_msgs.append(f'While copying the parameter named "{key}", expected '
                                  f'ember.Tensor or Tensor-like object from checkpoint but '
                                  f'received {type(value)}')
                continue
            if param.ndim == 0 and value.ndim == 1 and value.shape[0] == 1:
                value = value.reshape(())
            if value.shape != param.shape:
                error_msgs.append(f"size mismatch for {key}: copying a param with shape "
                                  f"{value.shape} from checkpoint, the shape in current model is "
                                  f"{param.shape}.")
                continue
            try:
                if assign:
                    if isinstance(param, Parameter):
                        if not isinstance(value, Parameter):
                            value = Parameter(value, requires_grad=param.requires_grad)
                        else:
                            value.requires_grad_(param.requires_grad)
                    setattr(self, name, value)
                else:
                    xp.copyto(param._data, value._data, casting="unsafe")
                    param._bump_version()
            except Exception as ex:  # noqa: BLE001 - torch reports any copy failure this way
                error_msgs.append(f'While copying the parameter named "{key}", whose dimensions '
                                  f'in the model are {param.shape} and whose dimensions in the '
                                  f'checkpoint are {value.shape}, an exception occurred : '
                                  f'{ex.args}.')
        extra_key = prefix + _EXTRA_STATE_KEY_SUFFIX
        if type(self).set_extra_state is not Module.set_extra_state:
            if extra_key in state_dict:
                self.set_extra_state(state_dict[extra_key])
            elif strict:
                missing_keys.append(extra_key)
        elif strict and extra_key in state_dict:
            unexpected_keys.append(extra_key)
        if strict:
            for key in state_dict:
                if key.startswith(prefix) and key != extra_key:
                    parts = key[len(prefix):].split(".", 1)
                    if len(parts) > 1:
                        if parts[0] not in self._modules:
                            unexpected_keys.append(key)
                    elif parts[0] not in local_state:
                        unexpected_keys.append(key)

    def load_state_dict(self, state_dict: Mapping, strict: bool = True,
                        assign: bool = False) -> _IncompatibleKeys:
        """Copy parameters and buffers from ``state_dict`` into this module (in place, or
        by assigning the given tensors with ``assign=True``). With ``strict`` any missing
        or unexpected key raises; returns ``(missing_keys, unexpected_keys)``.

        Example:
            >>> from ember import nn
            >>> a, b = nn.Linear(2, 2), nn.Linear(2, 2)
            >>> b.load_state_dict(a.state_dict())
            <All keys matched successfully>
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"Expected state_dict to be dict-like, got {type(state_dict)}.")
        missing: list = []
        unexpected: list = []
        errors: list = []
        metadata = getattr(state_dict, "_metadata", None)
        state_dict = OrderedDict(state_dict)

        def load(module: Module, local: dict, prefix: str = "") -> None:
            local_meta = dict({} if metadata is None else metadata.get(prefix[:-1], {}))
            if assign:
                local_meta["assign_to_params_buffers"] = assign
            module._load_from_state_dict(local, prefix, local_meta, True, missing, unexpected,
                                         errors)
            for name, child in module._modules.items():
                if child is not None:
                    child_prefix = prefix + name + "."
                    load(child, {k: v for k, v in local.items() if k.startswith(child_prefix)},
                         child_prefix)
            # post hooks see (and may edit) the shared key lists before strict checking
            keys = _IncompatibleKeys(missing, unexpected)
            for hook in module._load_state_dict_post_hooks.values():
                if hook(module, keys) is not None:
                    raise AssertionError("Hooks registered with "
                                         "``register_load_state_dict_post_hook`` are not expected "
                                         "to return new values, if incompatible_keys need to be "
                                         "modified, it should be done inplace.")

        with no_grad():
            load(self, state_dict)
        if strict:
            if unexpected:
                errors.insert(0, "Unexpected key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in unexpected)))
            if missing:
                errors.insert(0, "Missing key(s) in state_dict: {}. ".format(
                    ", ".join(f'"{k}"' for k in missing)))
        if errors:
            raise RuntimeError("Error(s) in loading state_dict for {}:\n\t{}".format(
                type(self).__name__, "\n\t".join(errors)))
        return _IncompatibleKeys(missing, unexpected)

    def register_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata)`` after ``state_dict``;
        a non-None result replaces the state dict."""
        return RemovableHandle(self._state_dict_hooks, hook)

    def register_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, prefix, keep_vars)`` before ``state_dict`` saves this module."""
        return RemovableHandle(self._state_dict_pre_hooks, hook)

    def register_load_state_dict_pre_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)`` before this module loads its entries (it may edit
        ``state_dict``, e.g. to rename old keys)."""
        return RemovableHandle(self._load_state_dict_pre_hooks, hook)

    def register_load_state_dict_post_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(module, incompatible_keys)`` after ``load_state_dict``."""
        return RemovableHandle(self._load_state_dict_post_hooks, hook)

    # ---- printing --------------------------------------------------------------------
    def _get_name(self) -> str:
        return type(self).__name__

    def extra_repr(self) -> str:
        """The text inside this module's parentheses in its repr (override to add it)."""
        return ""

    def __repr__(self) -> str:
        extra = self.extra_repr()
        extra_lines = extra.split("\n") if extra else []
        child_lines = [f"({key}): " + _addindent(repr(module), 2)
                       for key, module in self._modules.items()]
        lines = extra_lines + child_lines
        main = self._get_name() + "("
        if lines:
            if len(extra_lines) == 1 and not child_lines:
                main += extra_lines[0]
            else:
                main += "\n  " + "\n  ".join(lines) + "\n"
        return main + ")"

