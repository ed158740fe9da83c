"""Convolution layers: ``Conv1d``, ``Conv2d``, ``ConvTranspose1d``, ``ConvTranspose2d``.

Example:
    >>> import ember
    >>> from ember import nn
    >>> conv = nn.Conv2d(1, 16, 3)
    >>> conv
    Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1))
    >>> conv(ember.zeros(4, 1, 8, 8)).shape
    ember.Size([4, 16, 6, 6])
"""

from __future__ import annotations

import math

from ...creation import empty
from ...tensor import Tensor
from .. import functional as F
from .. import init
from ..parameter import Parameter
from .module import Module, add_error_note

__all__ = ["Conv1d", "Conv2d", "ConvTranspose1d", "ConvTranspose2d"]

_PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def _ntuple(v, n: int) -> tuple:
    if isinstance(v, (tuple, list)):
        return tuple(v)
    return (v,) * n


class _ConvNd(Module):
    __constants__ = ["stride", "padding", "dilation", "groups", "padding_mode", "output_padding",
                     "in_channels", "out_channels", "kernel_size"]

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride, padding,
                 dilation, transposed: bool, output_padding, groups: int, bias: bool,
                 padding_mode: str, nd: int, device=None, dtype=None) -> None:
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        if isinstance(padding, str):
            if padding not in ("same", "valid"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of "
                                 f"{{'valid', 'same'}}")
            if padding == "same" and any(s != 1 for s in _ntuple(stride, nd)):
                raise ValueError("padding='same' is not supported for strided convolutions")
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {list(_PADDING_MODES)}, but got "
                             f"padding_mode='{padding_mode}'")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.kernel_size = _ntuple(kernel_size, nd)
        self.stride = _ntuple(stride, nd)
        self.padding = padding if isinstance(padding, str) else _ntuple(padding, nd)
        self.dilation = _ntuple(dilation, nd)
        self.transposed = transposed
        self.output_padding = _ntuple(output_padding, nd)
        self.groups = groups
        self.padding_mode = padding_mode
        if isinstance(self.padding, str):
            pads = []
            for d, k in zip(self.dilation, self.kernel_size):
                total = d * (k - 1)
                pads += [total // 2, total - total // 2]
            self._reversed_padding_repeated_twice = pads
        else:
            self._reversed_padding_repeated_twice = [p for p in self.padding for _ in range(2)]
        # F.pad takes the last dim first
        rp = self._reversed_padding_repeated_twice
        self._reversed_padding_repeated_twice = [v for i in range(nd - 1, -1, -1)
                                                 for v in rp[2 * i:2 * i + 2]]
        if transposed:
            shape = (in_channels, out_channels // groups) + self.kernel_size
        else:
            shape = (out_channels, in_channels // groups) + self.kernel_size
        self.weight = Parameter(empty(shape, dtype=dtype, device=device))
        if bias:
            self.bias = Parameter(empty(out_channels, dtype=dtype, device=device))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # torch's default: Kaiming-uniform with a=sqrt(5), bias uniform in +-1/sqrt(fan_in)
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in, _ = init._calculate_fan_in_and_fan_out(self.weight)
            if fan_in != 0:
                bound = 1 / math.sqrt(fan_in)
                init.uniform_(self.bias, -bound, bound)

    def _channel_hint(self, input: Tensor, e: BaseException) -> None:
        """Suggest the constructor argument that fits an input with the wrong channel count."""
        nd = len(self.kernel_size)
        shape = getattr(input, "shape", None)
        if shape is None or len(shape) not in (nd + 1, nd + 2):
            return
        c = shape[-nd - 1]
        if c != self.in_channels:
            add_error_note(e, f"{type(self).__name__}(in_channels={self.in_channels}, "
                              f"out_channels={self.out_channels}, ...) got input of shape "
                              f"{list(shape)} with {c} channels (dim {len(shape) - nd - 1}); "
                              f"did you mean in_channels={c}?")

    def extra_repr(self) -> str:
        s = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
             f"stride={self.stride}")
        if self.padding != (0,) * len(self.kernel_size):
            s += f", padding={self.padding}"
        if self.dilation != (1,) * len(self.dilation):
            s += f", dilation={self.dilation}"
        if self.output_padding != (0,) * len(self.output_padding):
            s += f", output_padding={self.output_padding}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class _Conv(_ConvNd):
    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size,
                 stride=1, padding: str | int | tuple = 0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None,
                 dtype=None) -> None:
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         False, 0, groups, bias, padding_mode, self._nd, device, dtype)

    def _conv_forward(self, input: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
        fn = F.conv2d if self._nd == 2 else F.conv1d
        if self.padding_mode != "zeros":
            input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
            return fn(input, weight, bias, self.stride, 0, self.dilation, self.groups)
        return fn(input, weight, bias, self.stride, self.padding, self.dilation, self.groups)

    def forward(self, input: Tensor) -> Tensor:
        try:
            return self._conv_forward(input, self.weight, self.bias)
        except RuntimeError as e:
            self._channel_hint(input, e)
            raise


class Conv1d(_Conv):
    """1-D convolution over (N, C_in, L) inputs.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Conv1d(16, 33, 3, stride=2)(ember.randn(20, 16, 50)).shape
        ember.Size([20, 33, 24])
    """

    _nd = 1


class Conv2d(_Conv):
    """2-D convolution over (N, C_in, H, W) inputs.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.Conv2d(16, 33, 3, stride=2)(ember.randn(2, 16, 10, 10)).shape
        ember.Size([2, 33, 4, 4])
    """

    _nd = 2


class _ConvTranspose(_ConvNd):
    _nd = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0,
                 output_padding=0, groups: int = 1, bias: bool = True, dilation=1,
                 padding_mode: str = "zeros", device=None, dtype=None) -> None:
        if padding_mode != "zeros":
            raise ValueError(f'Only "zeros" padding mode is supported for '
                             f'{type(self).__name__}')
        super().__init__(in_channels, out_channels, kernel_size, stride, padding, dilation,
                         True, output_padding, groups, bias, padding_mode, self._nd, device,
                         dtype)

    def _output_padding(self, input: Tensor, output_size) -> tuple:
        """The output_padding that makes the result ``output_size`` (torch's rule)."""
        if output_size is None:
            return self.output_padding
        nd = self._nd
        output_size = [int(s) for s in output_size]
        if len(output_size) == nd + 2 or len(output_size) == nd + 1:
            output_size = output_size[-nd:]
        if len(output_size) != nd:
            raise ValueError(f"ConvTranspose{nd}D: for {input.ndim}D input, output_size must "
                             f"have {nd} or {nd + 2} elements (got {len(output_size)})")
        res = []
        for d in range(nd):
            n_in = input.shape[input.ndim - nd + d]
            lo = ((n_in - 1) * self.stride[d] - 2 * self.padding[d]
                  + self.dilation[d] * (self.kernel_size[d] - 1) + 1)
            hi = lo + self.stride[d] - 1
            if not lo <= output_size[d] <= hi:
                raise ValueError(f"requested an output size of {output_size}, but valid sizes "
                                 f"range from {lo} to {hi} (for an input of "
                                 f"{list(input.shape[-nd:])})")
            res.append(output_size[d] - lo)
        return tuple(res)

    def forward(self, input: Tensor, output_size=None) -> Tensor:
        fn = F.conv_transpose2d if self._nd == 2 else F.conv_transpose1d
        opad = self._output_padding(input, output_size)
        try:
            return fn(input, self.weight, self.bias, self.stride, self.padding, opad, self.groups,
                      self.dilation)
        except RuntimeError as e:
            self._channel_hint(input, e)
            raise


class ConvTranspose1d(_ConvTranspose):
    """1-D transposed convolution (the gradient of ``Conv1d`` w.r.t. its input).

    Example:
        >>> import ember
        >>> from ember import nn
        >>> nn.ConvTranspose1d(16, 33, 3, stride=2)(ember.randn(20, 16, 50)).shape
        ember.Size([20, 33, 101])
    """

    _nd = 1


class ConvTranspose2d(_ConvTranspose):
    """2-D transposed convolution; ``forward(input, output_size)`` picks among the sizes a
    strided conv maps to the same input size.

    Example:
        >>> import ember
        >>> from ember import nn
        >>> up = nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1)
        >>> up(ember.randn(1, 16, 6, 6), output_size=[12, 12]).shape
        ember.Size([1, 8, 12, 12])
    """

    _nd = 2
