"""Random draws used by every market: Poisson event times, and uniforms in blocks."""

from __future__ import annotations

import numpy as np

__all__ = ["UniformDraws", "poisson_times"]


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
