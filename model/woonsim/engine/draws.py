"""Random draws used by every market: Poisson event times, and uniforms in blocks."""

from __future__ import annotations

import numpy as np

__all__ = ["UniformBuffer", "UniformDraws", "poisson_times"]


def poisson_times(rng: np.random.Generator, rate: float, end: float) -> np.ndarray:
    """Event times of a Poisson process with `rate` on [0, end), in increasing order.

    N ~ Poisson(rate * end) points, placed as the order statistics of N uniforms; these
    are drawn without sorting as the normalised partial sums of N + 1 exponentials.
    """
    n = int(rng.poisson(rate * end))
    gaps = rng.standard_exponential(n + 1)
    sums = np.cumsum(gaps)
    return sums[:n] * (end / sums[n])


class UniformDraws:
    """Uniform(0, 1) numbers from one generator, drawn in blocks (a call costs ~50 ns)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16):
        self._rng, self._block = rng, block
        self._buf: list[float] = []
        self._i = 0

    def __call__(self) -> float:
        if self._i == len(self._buf):
            self._buf, self._i = self._rng.random(self._block).tolist(), 0
        u = self._buf[self._i]
        self._i += 1
        return u


class UniformBuffer:
    """Uniform(0, 1) numbers from one generator for a compiled loop and, now and then,
    for Python: `reserve(n)` returns (buffer, position) with at least n unread numbers
    from the position on, `consumed(position)` records how far the loop read, and a call
    returns the next number. The numbers read, in order, are the generator's sequence
    however the blocks fall (drawing a and then b numbers gives the same numbers as
    drawing a + b)."""

    def __init__(self, rng: np.random.Generator, block: int = 1 << 16):
        self._rng, self._block = rng, block
        self._buf = np.zeros(0)
        self._i = 0

    def __call__(self) -> float:
        buf, i = self.reserve(1)
        self._i = i + 1
        return float(buf[i])

    def reserve(self, n: int) -> tuple[np.ndarray, int]:
        """(buffer, position): at least n unread numbers from the position on."""
        if len(self._buf) - self._i < n:
            more = self._rng.random(max(self._block, n))
            self._buf = np.concatenate([self._buf[self._i :], more])
            self._i = 0
        return self._buf, self._i

    def consumed(self, position: int) -> None:
        """A compiled loop read the buffer up to `position` (from `reserve`)."""
        self._i = position
