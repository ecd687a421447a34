"""Random streams: every random quantity of a run comes from a named stream derived
from the run's `numpy.random.SeedSequence`.

Streams are keyed by name (``"arrivals/regular"``, ``"vacancies"``, ...), not by the
order in which they are created, so adding a group or switching the allocation rule
leaves every other stream untouched: runs of two policy variants with the same seed
share arrivals, patience and vacancies (common random numbers).
"""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["as_seed_sequence", "seed_record", "stream"]


def as_seed_sequence(seed: int | np.random.SeedSequence) -> np.random.SeedSequence:
    """An int seed or a SeedSequence (e.g. one child of ``SeedSequence(root).spawn(R)``)."""
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise ValueError(f"seed: must be a non-negative integer or a SeedSequence (got {seed!r})")
    return np.random.SeedSequence(int(seed))


def stream(seed: np.random.SeedSequence, name: str) -> np.random.Generator:
    """The generator for stream `name` of the run seeded by `seed`."""
    key = zlib.crc32(name.encode("utf-8"))
    child = np.random.SeedSequence(seed.entropy, spawn_key=(*seed.spawn_key, key))
    return np.random.Generator(np.random.PCG64(child))


def seed_record(seed: np.random.SeedSequence) -> int | dict:
    """How a seed is written into outputs: the int itself, or entropy and spawn key."""
    if not seed.spawn_key and isinstance(seed.entropy, int):
        return seed.entropy
    return {"entropy": seed.entropy, "spawn_key": list(seed.spawn_key)}
