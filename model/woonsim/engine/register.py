"""The seeker register of the stylized market: one numpy column per attribute."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["SeekerRegister"]


@dataclass
class SeekerRegister:
    """Columnar store of every seeker of a run, rows in arrival order."""

    group: np.ndarray  # int16 index into group names
    arrival: np.ndarray  # float64
    deadline: np.ndarray  # float64, arrival + patience (inf: never leaves)

    def __len__(self) -> int:
        return len(self.arrival)
