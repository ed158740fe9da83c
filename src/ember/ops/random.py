"""Random draws as table ops, so a dispatch mode (the JIT's tracer) sees every draw.

Each op draws from ember's generator when its forward runs: ``generator=None`` is the
default generator, or a ``Generator`` object is passed as the param. The draws are
the ones ``ember.rand``/``randn``/... have always made (same NumPy method, same dtype
argument), so seeded streams are unchanged. None of these ops is differentiable.

Ops without tensor inputs are called as ``dispatch(OPS["uniform"], (), params)``.
``dtype`` params are ember dtypes, as for ``cast``.

Example:
    >>> import ember
    >>> from ember.ops.registry import OPS, dispatch
    >>> _ = ember.manual_seed(0)
    >>> dispatch(OPS["uniform"], (), {"shape": (2,), "dtype": ember.float32}).shape
    ember.Size([2])
"""

from __future__ import annotations

from ..backend import xp
from ..random import _gen
from .registry import Op, register

__all__: list[str] = []

_F32 = xp.dtype(xp.float32)
_F64 = xp.dtype(xp.float64)


class _RandomOp(Op):
    differentiable = False
    #: the op consumes the generator's stream (a compiled graph must replay the RNG state)
    random = True


@register
class Uniform(_RandomOp):
    """Uniform draws on [low, high): float32 draws for float32, float64 draws otherwise."""

    name = "uniform"

    @staticmethod
    def forward(ctx, shape, dtype, low=0.0, high=1.0, generator=None):
        dt = dtype.np
        rng = _gen(generator)
        if dt is _F32:
            r = rng.random(shape, dtype=_F32)
            if low != 0.0 or high != 1.0:
                r = (r * (high - low) + low).astype(_F32, copy=False)
            return r
        r = rng.random(shape) if low == 0.0 and high == 1.0 else rng.uniform(low, high, shape)
        return r.astype(dt, copy=False)


@register
class Normal(_RandomOp):
    """Normal draws; the standard case draws in float32 for float32 (as ``randn``), any
    other ``mean``/``std`` computes ``mean + std * z`` from float64 draws."""

    name = "normal"

    @staticmethod
    def forward(ctx, shape, dtype, mean=0.0, std=1.0, generator=None):
        dt = dtype.np
        rng = _gen(generator)
        if mean == 0.0 and std == 1.0:
            return rng.standard_normal(shape, dtype=_F32 if dt is _F32 else _F64).astype(
                dt, copy=False)
        return xp.asarray(mean + std * rng.standard_normal(shape)).astype(dt)


@register
class Randint(_RandomOp):
    """Integers uniform on [low, high)."""

    name = "randint"

    @staticmethod
    def forward(ctx, shape, low, high, dtype, generator=None):
        return _gen(generator).integers(low, high, size=shape).astype(dtype.np)


@register
class Randperm(_RandomOp):
    """A random permutation of ``0..n-1``."""

    name = "randperm"

    @staticmethod
    def forward(ctx, n, dtype, generator=None):
        return _gen(generator).permutation(n).astype(dtype.np)


@register
class Exponential(_RandomOp):
    """Exponential draws with rate ``lambd`` (float64 draws, cast to ``dtype``)."""

    name = "exponential"

    @staticmethod
    def forward(ctx, shape, dtype, lambd=1.0, generator=None):
        return _gen(generator).exponential(1.0 / lambd, shape).astype(dtype.np)


@register
class Bernoulli(_RandomOp):
    """0/1 draws in the input's dtype with probabilities the input (or the constant ``p``)."""

    name = "bernoulli"

    @staticmethod
    def forward(ctx, x, p=None, generator=None):
        probs = x if p is None else p
        if p is None:
            bad = ((probs < 0) | (probs > 1)).any()
        else:
            bad = not 0 <= p <= 1
        if bad:
            raise RuntimeError("bernoulli: all probabilities must be in [0, 1]")
        return (_gen(generator).random(x.shape) < probs).astype(x.dtype)


@register
class Multinomial(_RandomOp):
    """Category indices drawn with probabilities proportional to the rows of the input."""

    name = "multinomial"

    @staticmethod
    def forward(ctx, x, num_samples, replacement=False, generator=None):
        p = x.astype(xp.float64)
        if p.ndim not in (1, 2):
            raise RuntimeError("prob_dist must be 1 or 2 dim")
        if (p < 0).any() or not xp.isfinite(p).all():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        rows = p.reshape(-1, p.shape[-1])
        if not replacement and num_samples > rows.shape[1]:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without "
                               "replacement")
        rng = _gen(generator)
        out = []
        for r in rows:
            total = r.sum()
            if total <= 0:
                raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
            if not replacement:
                # Gumbel top-k draws without replacement in one vectorised step
                with xp.errstate(divide="ignore"):  # zero probabilities are masked just below
                    keys = xp.where(r > 0,
                                    xp.log(r / total) - xp.log(-xp.log(rng.random(r.shape))),
                                    -xp.inf)
                out.append(xp.argsort(-keys, kind="stable")[:num_samples])
            else:
                out.append(rng.choice(r.shape[0], size=num_samples, p=r / total))
        arr = xp.stack(out).astype(xp.int64) if out else xp.zeros((0, num_samples), xp.int64)
        return arr.reshape(p.shape[:-1] + (num_samples,))


@register
class DropoutMask(_RandomOp):
    """Dropout's keep mask in ``dtype``: ``scale`` where kept (probability 1-p), 0 where
    dropped. Draws in the mask's dtype for float32/float64, in float64 otherwise."""

    name = "dropout_mask"

    @staticmethod
    def forward(ctx, shape, p, dtype, scale=1.0):
        dt = dtype.np
        r = _gen(None).random(shape, dtype=dt if dt is _F32 or dt is _F64 else _F64)
        mask = (r >= p).astype(dt)
        if scale != 1.0:
            mask *= scale
        return mask
