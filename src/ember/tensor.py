"""The Tensor: a backend array plus autograd metadata.

A Tensor holds ``_data`` (an array of the active backend), and for autograd
``grad``, ``requires_grad`` and ``grad_fn``. Every computation is an op from the op
table (``ember.ops``); the op modules attach the operators and methods to this class
when ``ember`` is imported, so this file holds only the state, the conversions and
the autograd entry points.

Attributes default at class level so that making a result tensor sets one attribute.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from . import autograd as _autograd
from . import dtypes
from ._tensor_str import tensor_repr
from .autograd import engine as _engine
from .autograd.grad_mode import _state, mode_hook
from .backend import xp

__all__ = ["Tensor", "device", "is_tensor"]


_EMBER_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_site() -> tuple | None:
    """``(filename, lineno, function)`` of the innermost caller outside the ember package."""
    f = sys._getframe(1).f_back  # the caller of _bump_version
    while f is not None:
        code = f.f_code
        if not code.co_filename.startswith(_EMBER_DIR):
            return code.co_filename, f.f_lineno, code.co_name
        f = f.f_back
    return None


class device:
    """Where a tensor lives; only ``cpu`` exists today (CUDA comes through CuPy).

    Example:
        >>> import ember
        >>> ember.device("cpu")
        device(type='cpu')
    """

    __slots__ = ("type", "index")

    def __init__(self, type: str | device = "cpu", index: int | None = None) -> None:  # noqa: A002
        if isinstance(type, device):
            type, index = type.type, type.index  # noqa: A001
        if ":" in type:
            type, idx = type.split(":", 1)  # noqa: A001
            index = int(idx)
        if type not in ("cpu", "cuda", "mps", "meta"):
            raise RuntimeError(f"Expected one of cpu, cuda, mps device type at start of device "
                               f"string: {type}")
        self.type, self.index = type, index

    def __repr__(self) -> str:
        idx = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{idx})"

    def __str__(self) -> str:
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other) -> bool:
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self) -> int:
        return hash((self.type, self.index))


CPU = device("cpu")


def _check_device(dev) -> None:
    if dev is None:
        return
    d = device(dev) if not isinstance(dev, device) else dev
    if d.type != "cpu":
        raise RuntimeError(f"ember: device {str(d)!r} is not available; this build runs on the "
                           f"CPU through NumPy (a CUDA backend through CuPy is planned)")


class Tensor:
    """A multi-dimensional array with autograd, behaving like ``torch.Tensor``.

    Make tensors with :func:`ember.tensor`, :func:`ember.zeros` and friends.

    Example:
        >>> import ember
        >>> x = ember.tensor([1.0, 2.0, 3.0], requires_grad=True)
        >>> (x * x).sum().backward()
        >>> x.grad
        tensor([2., 4., 6.])
    """

    __array_priority__ = 1000  # so ``ndarray + Tensor`` calls Tensor.__radd__

    _rg = False
    _grad = None
    grad_fn = None
    _output_nr = 0
    _vbox = None        # version counter [version], shared by views of one storage
    _base = None        # the tensor this one is a view of
    _view_chain = ()    # ((op, params), ...) that make this view from _base
    _hooks = None       # hooks on a leaf's gradient
    _retains_grad = False
    _is_inference = False
    name = None

    def __init__(self, data: Any = None, *, dtype=None, requires_grad: bool = False) -> None:
        from .creation import _as_array
        self._data = _as_array(data if data is not None else [], dtype, copy=True)
        if requires_grad:
            self.requires_grad = True

    @staticmethod
    def _make(arr) -> Tensor:
        """Wrap a backend array without copying (internal fast path)."""
        t = object.__new__(Tensor)
        t._data = arr
        return t

    # ---- basic attributes -------------------------------------------------------
    @property
    def shape(self) -> Size:
        return Size(self._data.shape)

    def size(self, dim: int | None = None):
        """The shape (a ``Size``), or the length of one dimension."""
        if dim is None:
            return Size(self._data.shape)
        return self._data.shape[_wrap_dim(dim, self._data.ndim, "size")]

    @property
    def dtype(self) -> dtypes.DType:
        return dtypes.from_np(self._data.dtype)

    @property
    def device(self) -> device:
        return CPU

    @property
    def is_cuda(self) -> bool:
        return False

    @property
    def ndim(self) -> int:
        return self._data.ndim

    def dim(self) -> int:
        return self._data.ndim

    ndimension = dim

    def numel(self) -> int:
        return int(self._data.size)

    nelement = numel

    def element_size(self) -> int:
        return self._data.itemsize

    @property
    def itemsize(self) -> int:
        return self._data.itemsize

    @property
    def nbytes(self) -> int:
        return int(self._data.nbytes)

    def stride(self, dim: int | None = None):
        """Strides in elements, like torch (NumPy's are in bytes)."""
        s = tuple(st // self._data.itemsize for st in self._data.strides)
        return s if dim is None else s[_wrap_dim(dim, self._data.ndim, "stride")]

    def is_contiguous(self, memory_format=None) -> bool:
        return bool(self._data.flags["C_CONTIGUOUS"])

    def is_floating_point(self) -> bool:
        return self._data.dtype.kind == "f"

    def is_complex(self) -> bool:
        return False

    def is_inference(self) -> bool:
        return self._is_inference

    def data_ptr(self) -> int:
        return self._data.__array_interface__["data"][0]

    def get_device(self) -> int:
        return -1

    @property
    def _version(self) -> int:
        return 0 if self._vbox is None else self._vbox[0]

    def _bump_version(self) -> None:
        _state.inplace_epoch += 1
        box = self._vbox
        if box is None:
            self._vbox = [1]
        else:
            box[0] += 1
            # a box that something saved for backward has a second slot (``engine.saved_box``):
            # remember where the user's code wrote, for the version-counter error
            if len(box) > 1:
                box[1] = _user_site()

    # ---- autograd attributes ----------------------------------------------------
    @property
    def requires_grad(self) -> bool:
        return self._rg

    @requires_grad.setter
    def requires_grad(self, value: bool) -> None:
        if self.grad_fn is not None and not value:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you "
                               "want to use a computed variable in a subgraph that doesn't require "
                               "differentiation use var_no_grad = var.detach().")
        if value and self._data.dtype.kind != "f":
            raise RuntimeError("only Tensors of floating point dtype can require gradients, "
                               f"got {self.dtype}")
        self._rg = bool(value)

    @property
    def grad(self) -> Tensor | None:
        """The gradient ``backward`` accumulated into this tensor, or None.

        Example:
            >>> import ember
            >>> x = ember.tensor([1.0, 2.0], requires_grad=True)
            >>> (x * x).sum().backward(); x.grad
            tensor([2., 4.])
        """
        return self._grad

    @grad.setter
    def grad(self, value: Tensor | None) -> None:
        # a mode that replays the function later (the JIT) must see Python's assignments
        if _state.modes:
            hook = mode_hook("set_grad")
            if hook is not None:
                hook(self, value)
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    @property
    def output_nr(self) -> int:
        return self._output_nr

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's storage, outside autograd."""
        t = Tensor._make(self._data)
        t._vbox = self._vbox
        return t

    @data.setter
    def data(self, value: Tensor) -> None:
        self._data = value._data if isinstance(value, Tensor) else xp.asarray(value)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` in place and return self.

        Example:
            >>> import ember
            >>> ember.zeros(2).requires_grad_().requires_grad
            True
        """
        self.requires_grad = requires_grad
        return self

    def detach(self) -> Tensor:
        """A new tensor on the same storage, cut from the graph.

        Example:
            >>> import ember
            >>> (ember.ones(2, requires_grad=True) * 2).detach().requires_grad
            False
        """
        t = Tensor._make(self._data)
        if self._vbox is None:
            self._vbox = [0]
        t._vbox = self._vbox
        if _state.modes:
            hook = mode_hook("on_alias")
            if hook is not None:  # the JIT: same value as self, no history
                hook(self, t)
        return t

    def detach_(self) -> Tensor:
        """Cut this tensor from the graph in place."""
        self.grad_fn = None
        self._rg = False
        self._output_nr = 0
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` for this non-leaf tensor after backward.

        Example:
            >>> import ember
            >>> x = ember.ones(2, requires_grad=True); y = x * 3; y.retain_grad()
            >>> y.sum().backward(); y.grad
            tensor([1., 1.])
        """
        if not self._rg:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is None or self._retains_grad:
            return
        self._retains_grad = True
        self.grad_fn._add_retain(self)

    def register_hook(self, hook: Callable) -> RemovableHandle:
        """Call ``hook(grad)`` when this tensor's gradient is computed; a non-None result
        replaces the gradient.

        Example:
            >>> import ember
            >>> x = ember.ones(2, requires_grad=True)
            >>> h = x.register_hook(lambda g: g * 10)
            >>> x.sum().backward(); x.grad
            tensor([10., 10.])
        """
        if not self._rg:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            if self._hooks is None:
                self._hooks = {}
            return RemovableHandle(self._hooks, hook)
        return RemovableHandle(self.grad_fn._tensor_hooks(self._output_nr), hook)

    def backward(self, gradient: Tensor | None = None, retain_graph: bool | None = None,
                 create_graph: bool = False, inputs=None) -> None:
        """Compute gradients of this tensor w.r.t. graph leaves, accumulating into ``.grad``.

        Example:
            >>> import ember
            >>> x = ember.tensor(3.0, requires_grad=True)
            >>> (x ** 2).backward(); x.grad
            tensor(6.)
        """
        if gradient is None and inputs is None and not create_graph and self._rg \
                and self._data.size == 1:
            # the usual `loss.backward()`: skip the argument handling of autograd.backward
            d = self._data
            seed = xp.array(1, d.dtype) if d.ndim == 0 else xp.ones(d.shape, d.dtype)
            _engine.run_backward([self], [seed], bool(retain_graph), False)
            return
        _autograd.backward(self, gradient, retain_graph, create_graph, inputs=inputs)

    # ---- conversion to Python and NumPy ------------------------------------------
    def _host_read(self, what: str) -> None:
        if _state.modes:
            _state.modes[-1].on_host_read(self, what)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self._data.size != 1:
            raise RuntimeError(f"a Tensor with {self._data.size} elements cannot be converted "
                               f"to Scalar")
        if _state.modes:
            hook = mode_hook("item_value")
            if hook is not None:  # the JIT guards the value only if Python uses it
                return hook(self, self._data.item())
            _state.modes[-1].on_host_read(self, "item")
        return self._data.item()

    def tolist(self):
        """The data as (nested) Python lists of numbers."""
        self._host_read("tolist")
        return self._data.tolist()

    def numpy(self, *, force: bool = False) -> xp.ndarray:
        """The data as a NumPy array sharing memory (zero-copy), like torch.

        Example:
            >>> import ember
            >>> t = ember.zeros(2); a = t.numpy(); a[0] = 5; t
            tensor([5., 0.])
        """
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use "
                               "tensor.detach().numpy() instead.")
        self._host_read("numpy")
        return self._data if type(self._data) is xp.ndarray else xp.asarray(self._data)

    def __array__(self, dtype=None, copy=None):
        self._host_read("__array__")
        if dtype is not None and xp.dtype(dtype) != self._data.dtype:
            return self._data.astype(dtype)
        return self._data.copy() if copy else self._data

    def __bool__(self) -> bool:
        if self._data.size != 1:
            raise RuntimeError("Boolean value of Tensor with more than one value is ambiguous"
                               if self._data.size > 1 else
                               "Boolean value of Tensor with no values is ambiguous")
        self._host_read("__bool__")
        return bool(self._data.item())

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    def __index__(self) -> int:
        if self._data.dtype.kind not in "iub" or self._data.size != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self) -> complex:
        return complex(self.item())

    def __len__(self) -> int:
        if self._data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return iter(self.unbind(0))

    def __hash__(self) -> int:
        return id(self)

    def __format__(self, spec: str) -> str:
        if self._data.ndim == 0:
            return format(self.item(), spec)
        return format(repr(self), spec)

    def __repr__(self) -> str:
        return tensor_repr(self)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        # IPython's pretty printer: the same text as repr
        p.text(tensor_repr(self))

    def __reduce_ex__(self, protocol):
        raise TypeError("ember tensors are not picklable by design; use ember.save (safetensors)")

    def __deepcopy__(self, memo) -> Tensor:
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support "
                               "the deepcopy protocol at the moment.")
        t = Tensor._make(self._data.copy())
        t._rg = self._rg
        if self.grad is not None:
            t.grad = self.grad.__deepcopy__(memo)
        if type(self) is not Tensor:
            t.__class__ = type(self)
            t.__dict__.update({k: v for k, v in self.__dict__.items()
                               if k not in ("_data", "grad", "_rg", "_vbox")})
        memo[id(self)] = t
        return t

    # ---- device / dtype movement -----------------------------------------------
    def cpu(self) -> Tensor:
        return self

    def cuda(self, *args, **kwargs) -> Tensor:
        _check_device("cuda")
        return self  # unreachable: _check_device raises

    def to(self, *args, **kwargs) -> Tensor:
        """Convert dtype and/or device: ``to(dtype)``, ``to(device)``, ``to(other)``.

        Example:
            >>> import ember
            >>> ember.ones(2).to(ember.float64).dtype
            ember.float64
        """
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        copy = kwargs.pop("copy", False)
        kwargs.pop("non_blocking", None)
        kwargs.pop("memory_format", None)
        if kwargs:
            raise TypeError(f"to() got unexpected keyword arguments {sorted(kwargs)}")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, (str, device)):
                dev = a
            elif a is not None and not isinstance(a, bool):
                dtype = a
        _check_device(dev)
        out = self if dtype is None else self.type(dtype)
        if copy and out is self:
            out = self.clone()
        return out

    def type(self, dtype=None):
        if dtype is None:
            return _LEGACY_NAMES.get(self.dtype.name, "torch.Tensor")
        from .ops.arith import cast
        return cast(self, dtypes.to_dtype(dtype))

    def float(self) -> Tensor:
        return self.type(dtypes.float32)

    def double(self) -> Tensor:
        return self.type(dtypes.float64)

    def half(self) -> Tensor:
        return self.type(dtypes.float16)

    def long(self) -> Tensor:
        return self.type(dtypes.int64)

    def int(self) -> Tensor:
        return self.type(dtypes.int32)

    def short(self) -> Tensor:
        return self.type(dtypes.int16)

    def char(self) -> Tensor:
        return self.type(dtypes.int8)

    def byte(self) -> Tensor:
        return self.type(dtypes.uint8)

    def bool(self) -> Tensor:
        return self.type(dtypes.bool)

    def type_as(self, other: Tensor) -> Tensor:
        return self.type(other.dtype)


_LEGACY_NAMES = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor",
                 "float16": "torch.HalfTensor", "int64": "torch.LongTensor",
                 "int32": "torch.IntTensor", "int16": "torch.ShortTensor",
                 "int8": "torch.CharTensor", "uint8": "torch.ByteTensor",
                 "bool": "torch.BoolTensor"}


class Size(tuple):
    """A tensor's shape: a tuple that prints like ``ember.Size([2, 3])``.

    Example:
        >>> import ember
        >>> ember.zeros(2, 3).shape
        ember.Size([2, 3])
    """

    def __repr__(self) -> str:
        return f"ember.Size({list(self)})"

    def numel(self) -> int:
        n = 1
        for s in self:
            n *= s
        return n

    def __getitem__(self, item):
        r = tuple.__getitem__(self, item)
        return Size(r) if isinstance(item, slice) else r


class RemovableHandle:
    """Returned by hook registration; ``remove()`` unregisters the hook."""

    _next_id = 0

    def __init__(self, hooks: dict, hook: Callable) -> None:
        RemovableHandle._next_id += 1
        self.id = RemovableHandle._next_id
        self._hooks = hooks
        hooks[self.id] = hook

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.remove()


def _wrap_dim(dim: int, ndim: int, op: str = "") -> int:
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], "
                         f"but got {dim})" + (f" in {op}" if op else ""))
    return dim + n if dim < 0 else dim


def is_tensor(obj) -> bool:
    """True if ``obj`` is an ember Tensor.

    Example:
        >>> import ember
        >>> ember.is_tensor(ember.zeros(1)), ember.is_tensor([1])
        (True, False)
    """
    return isinstance(obj, Tensor)

