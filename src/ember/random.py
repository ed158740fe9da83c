"""Random number generation: ``Generator`` objects and the default one behind ``manual_seed``.

Streams are reproducible: the same seed gives the same numbers on every run and
platform (NumPy's PCG64). They differ from torch's streams, which no NumPy
generator reproduces.
"""

from __future__ import annotations

import time

from .backend import xp

__all__ = ["Generator", "manual_seed", "seed", "initial_seed", "default_generator",
           "get_rng_state", "set_rng_state", "fork_rng"]


class Generator:
    """A random stream; pass it as ``generator=`` to random functions.

    Example:
        >>> import ember
        >>> g = ember.Generator().manual_seed(0)
        >>> a = ember.rand(2, generator=g); g.manual_seed(0)
        <ember.Generator object...>
        >>> bool((ember.rand(2, generator=g) == a).all())
        True
    """

    def __init__(self, device: str = "cpu") -> None:
        self._seed = 67280421310721  # torch's default seed
        self._rng = xp.random.Generator(xp.random.PCG64(self._seed))
        self.device = device

    def __repr__(self) -> str:
        return f"<ember.Generator object at {id(self):#x}>"

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._rng = xp.random.Generator(xp.random.PCG64(self._seed & (2**64 - 1)))
        return self

    def seed(self) -> int:
        s = time.time_ns() & (2**63 - 1)
        self.manual_seed(s)
        return s

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        import json

        from .creation import tensor
        state = json.dumps(self._rng.bit_generator.state)
        return tensor(list(state.encode()), dtype="uint8")

    def set_state(self, state) -> Generator:
        import json
        raw = bytes(state.tolist()) if hasattr(state, "tolist") else bytes(state)
        try:
            st = json.loads(raw.decode())
            self._rng.bit_generator.state = st
        except (ValueError, TypeError, KeyError) as e:
            raise RuntimeError(f"Generator.set_state: invalid RNG state ({e})") from None
        return self

    @property
    def np(self):
        """The NumPy generator behind this stream."""
        return self._rng


default_generator = Generator()


def _gen(generator: Generator | None):
    return (generator or default_generator)._rng


def manual_seed(seed: int) -> Generator:
    """Seed the default generator; returns it.

    Example:
        >>> import ember
        >>> _ = ember.manual_seed(0); a = ember.randn(3)
        >>> _ = ember.manual_seed(0); bool((a == ember.randn(3)).all())
        True
    """
    return default_generator.manual_seed(seed)


def seed() -> int:
    """Seed the default generator from the clock and return the seed."""
    return default_generator.seed()


def initial_seed() -> int:
    """The seed the default generator was last seeded with."""
    return default_generator.initial_seed()


def get_rng_state():
    """The default generator's state, as a uint8 tensor."""
    return default_generator.get_state()


def set_rng_state(state) -> None:
    """Restore a state from ``get_rng_state``."""
    default_generator.set_state(state)


class fork_rng:
    """Context manager that restores the default generator's state on exit.

    Example:
        >>> import ember
        >>> with ember.random.fork_rng():
        ...     _ = ember.rand(1)
    """

    def __init__(self, devices=None, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            self.state = get_rng_state()

    def __exit__(self, *exc):
        if self.enabled:
            set_rng_state(self.state)
