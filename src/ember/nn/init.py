"""Parameter initialisation (``ember.nn.init``), with torch's formulas.

Every function fills its tensor in place, outside autograd, and returns it; the random
ones take ``generator=`` (an :class:`ember.Generator`; the default stream otherwise).

Example:
    >>> import ember
    >>> from ember.nn import init
    >>> w = ember.empty(3, 5)
    >>> init.constant_(w, 0.5).sum().item()
    7.5
"""

from __future__ import annotations

import math
import warnings

from ..backend import xp
from ..random import _gen
from ..tensor import Tensor

__all__ = ["calculate_gain", "uniform_", "normal_", "trunc_normal_", "constant_", "ones_",
           "zeros_", "eye_", "dirac_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
           "kaiming_normal_", "orthogonal_", "sparse_"]


def _write(tensor: Tensor, values) -> Tensor:
    """Store ``values`` into the tensor's memory (casting), as an in-place no-grad write."""
    tensor._data[...] = values
    tensor._bump_version()
    return tensor


def _random(tensor: Tensor, generator, kind: str, *args):
    rng = _gen(generator)
    shape = tensor._data.shape
    dt = tensor._data.dtype
    fast = dt == xp.float32 or dt == xp.float64
    if kind == "uniform":
        a, b = args
        r = rng.random(shape, dtype=dt) if fast else rng.random(shape)
        return r * (b - a) + a
    mean, std = args
    r = rng.standard_normal(shape, dtype=dt) if fast else rng.standard_normal(shape)
    return r * std + mean


def _no_elements(tensor: Tensor) -> bool:
    if 0 in tensor._data.shape:
        warnings.warn("Initializing zero-element tensors is a no-op", stacklevel=3)
        return True
    return False


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for a nonlinearity (``relu``: sqrt(2), ``tanh``: 5/3, ...).

    Example:
        >>> from ember.nn import init
        >>> init.calculate_gain("leaky_relu", 0.2)
        1.3867504905630728
    """
    linear_fns = ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d",
                  "conv_transpose2d", "conv_transpose3d"]
    if nonlinearity in linear_fns or nonlinearity == "sigmoid":
        return 1
    if nonlinearity == "tanh":
        return 5.0 / 3
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        if param is None:
            negative_slope = 0.01
        elif not isinstance(param, bool) and isinstance(param, (int, float)):
            negative_slope = param
        else:
            raise ValueError(f"negative_slope {param} not a valid number")
        return math.sqrt(2.0 / (1 + negative_slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4
    raise ValueError(f"Unsupported nonlinearity {nonlinearity}")


def _calculate_fan_in_and_fan_out(tensor: Tensor) -> tuple[int, int]:
    shape = tensor.shape
    if len(shape) < 2:
        raise ValueError("Fan in and fan out can not be computed for tensor with fewer than 2 "
                         "dimensions")
    receptive = 1
    for s in shape[2:]:
        receptive *= s
    return shape[1] * receptive, shape[0] * receptive


def _calculate_correct_fan(tensor: Tensor, mode: str) -> int:
    mode = mode.lower()
    valid = ["fan_in", "fan_out"]
    if mode not in valid:
        raise ValueError(f"Mode {mode} not supported, please use one of {valid}")
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    return fan_in if mode == "fan_in" else fan_out


def uniform_(tensor: Tensor, a: float = 0.0, b: float = 1.0, generator=None) -> Tensor:
    """Fill with U(a, b).

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> w = init.uniform_(ember.empty(100), -1, 1)
        >>> bool((w >= -1).all() and (w < 1).all())
        True
    """
    return _write(tensor, _random(tensor, generator, "uniform", float(a), float(b)))


def normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2).

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.normal_(ember.empty(2, 3), std=0.02).shape
        ember.Size([2, 3])
    """
    return _write(tensor, _random(tensor, generator, "normal", float(mean), float(std)))


def trunc_normal_(tensor: Tensor, mean: float = 0.0, std: float = 1.0, a: float = -2.0,
                  b: float = 2.0, generator=None) -> Tensor:
    """Fill with N(mean, std^2) truncated to ``[a, b]`` (absolute bounds, as in torch).

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> w = init.trunc_normal_(ember.empty(1000), std=1.0, a=-0.5, b=0.5)
        >>> bool((w.abs() <= 0.5).all())
        True
    """
    if mean < a - 2 * std or mean > b + 2 * std:
        warnings.warn("mean is more than 2 std from [a, b] in nn.init.trunc_normal_. The "
                      "distribution of values may be incorrect.", stacklevel=2)
    rng = _gen(generator)
    n = tensor._data.size
    out = xp.empty(n, xp.float64)
    filled = 0
    # rejection sampling: exact, and fast unless [a, b] holds little of the mass
    while filled < n:
        draw = rng.normal(mean, std, size=max(2 * (n - filled), 16))
        ok = draw[(draw >= a) & (draw <= b)][: n - filled]
        out[filled:filled + ok.size] = ok
        filled += ok.size
    return _write(tensor, out.reshape(tensor._data.shape))


def constant_(tensor: Tensor, val: float) -> Tensor:
    """Fill with ``val``.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.constant_(ember.empty(2), 0.3)
        tensor([0.3000, 0.3000])
    """
    return _write(tensor, val)


def ones_(tensor: Tensor) -> Tensor:
    """Fill with ones.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.ones_(ember.empty(2))
        tensor([1., 1.])
    """
    return _write(tensor, 1)


def zeros_(tensor: Tensor) -> Tensor:
    """Fill with zeros.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.zeros_(ember.ones(2))
        tensor([0., 0.])
    """
    return _write(tensor, 0)


def eye_(tensor: Tensor) -> Tensor:
    """Fill a 2-D tensor with the identity matrix.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.eye_(ember.empty(2, 3))
        tensor([[1., 0., 0.],
                [0., 1., 0.]])
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    return _write(tensor, xp.eye(*tensor._data.shape))


def dirac_(tensor: Tensor, groups: int = 1) -> Tensor:
    """Fill a 3/4/5-D conv weight so the convolution is the identity (per group).

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.dirac_(ember.empty(2, 2, 3))[:, :, 1]
        tensor([[1., 0.],
                [0., 1.]])
    """
    shape = tensor._data.shape
    if len(shape) not in (3, 4, 5):
        raise ValueError("Only tensors with 3, 4, or 5 dimensions are supported")
    if shape[0] % groups != 0:
        raise ValueError("dim 0 must be divisible by groups")
    per_group = shape[0] // groups
    min_dim = min(per_group, shape[1])
    out = xp.zeros(shape)
    centre = tuple(s // 2 for s in shape[2:])
    for g in range(groups):
        for d in range(min_dim):
            out[(g * per_group + d, d) + centre] = 1
    return _write(tensor, out)


def xavier_uniform_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot uniform: U(-a, a) with ``a = gain * sqrt(6 / (fan_in + fan_out))``.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> w = init.xavier_uniform_(ember.empty(3, 5), gain=init.calculate_gain("relu"))
        >>> bool((w.abs() <= 2 ** 0.5 * (6 / 8) ** 0.5).all())
        True
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    a = math.sqrt(3.0) * std
    return uniform_(tensor, -a, a, generator)


def xavier_normal_(tensor: Tensor, gain: float = 1.0, generator=None) -> Tensor:
    """Glorot normal: N(0, std^2) with ``std = gain * sqrt(2 / (fan_in + fan_out))``.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.xavier_normal_(ember.empty(3, 5)).shape
        ember.Size([3, 5])
    """
    fan_in, fan_out = _calculate_fan_in_and_fan_out(tensor)
    std = gain * math.sqrt(2.0 / float(fan_in + fan_out))
    return normal_(tensor, 0.0, std, generator)


def kaiming_uniform_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                     nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He uniform: U(-bound, bound), ``bound = gain * sqrt(3 / fan)``.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> w = init.kaiming_uniform_(ember.empty(3, 6), mode="fan_in", nonlinearity="relu")
        >>> bool((w.abs() <= 1.0).all())
        True
    """
    if _no_elements(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor: Tensor, a: float = 0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", generator=None) -> Tensor:
    """He normal: N(0, std^2), ``std = gain / sqrt(fan)``.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> init.kaiming_normal_(ember.empty(3, 5), mode="fan_out").shape
        ember.Size([3, 5])
    """
    if _no_elements(tensor):
        return tensor
    fan = _calculate_correct_fan(tensor, mode)
    std = calculate_gain(nonlinearity, a) / math.sqrt(fan)
    return normal_(tensor, 0.0, std, generator)


def orthogonal_(tensor: Tensor, gain: float = 1, generator=None) -> Tensor:
    """A (semi-)orthogonal matrix (trailing dims flattened), scaled by ``gain``.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> w = init.orthogonal_(ember.empty(3, 3))
        >>> bool(((w @ w.T - ember.eye(3)).abs() < 1e-5).all())
        True
    """
    if tensor.ndim < 2:
        raise ValueError("Only tensors with 2 or more dimensions are supported")
    if tensor.numel() == 0:
        return tensor
    rows = tensor.shape[0]
    cols = tensor.numel() // rows
    flat = _gen(generator).standard_normal((rows, cols))
    if rows < cols:
        flat = flat.T
    q, r = xp.linalg.qr(flat)
    q = q * xp.sign(xp.diag(r))
    if rows < cols:
        q = q.T
    return _write(tensor, (q * gain).reshape(tensor._data.shape))


def sparse_(tensor: Tensor, sparsity: float, std: float = 0.01, generator=None) -> Tensor:
    """A 2-D N(0, std^2) matrix with a ``sparsity`` fraction of each column zeroed.

    Example:
        >>> import ember
        >>> from ember.nn import init
        >>> w = init.sparse_(ember.empty(4, 3), sparsity=0.5)
        >>> (w == 0).sum(0).tolist()
        [2, 2, 2]
    """
    if tensor.ndim != 2:
        raise ValueError("Only tensors with 2 dimensions are supported")
    rows, cols = tensor.shape
    num_zeros = int(math.ceil(sparsity * rows))
    rng = _gen(generator)
    out = rng.normal(0.0, std, size=(rows, cols))
    for c in range(cols):
        out[rng.permutation(rows)[:num_zeros], c] = 0
    return _write(tensor, out)
