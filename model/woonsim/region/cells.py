"""Dwelling cells and household types of the Dutch model, and who may rent what.

A municipality's corporation stock is split into cells (size class x rent class x age
label); a household has a type (size x income class x age class). `ELIGIBLE[type, cell]`
says whether passend toewijzen, the size rules and the age labels let a household type rent
a cell (docs/ODD.md §B3.6). Seeker kinds and letting routes are named here too.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "ELIGIBLE",
    "ELIGIBLE_RELAXED",
    "KINDS",
    "LABELS",
    "N_LAB",
    "N_LOCAL",
    "N_SEG",
    "N_TYPES",
    "RENTS",
    "ROUTES",
    "SIZES",
    "local_cell",
]

SIZES = ("small", "medium", "large")
# rent class: <= kwaliteitskortingsgrens, <= lage aftoppingsgrens, <= hoge aftoppingsgrens,
# <= liberalisatiegrens, above it
RENTS = ("cheap", "low_aftopping", "high_aftopping", "upper", "free")
LABELS = ("none", "youth", "senior")
N_SEG, N_LAB = len(SIZES) * len(RENTS), len(LABELS)
N_LOCAL = N_SEG * N_LAB  # cells per municipality
N_TYPES = 27  # household types: 3 sizes x 3 income classes x 3 age classes
KINDS = {"regular": 0, "urgent": 1, "statushouder": 2, "contingent": 3}
ROUTES = ("advert", "lottery", "binding", "statushouder", "contingent")

# Eligibility (docs/ODD.md §3.6). Household size 1, 2, 3+ x dwelling small, medium, large:
SIZE_OK = np.array([[1, 1, 0], [1, 1, 0], [0, 1, 1]], dtype=bool)
# Income (huurtoeslag, up to the DAEB limit, above it) x household size x rent class.
# Passend toewijzen: huurtoeslag households up to the lage aftoppingsgrens (1-2 persons)
# or the hoge aftoppingsgrens (3+ persons); above the DAEB limit only the free sector.
RENT_OK = np.zeros((3, 3, 5), dtype=bool)
RENT_OK[0, :2, :2] = True
RENT_OK[0, 2, :3] = True
RENT_OK[1] = True
RENT_OK[2, :, 4] = True
# Age under 23, 23-54, 55+ x label none, youth, senior:
LABEL_OK = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1]], dtype=bool)


def local_cell(size: int, rent: int, label: int) -> int:
    """Index of a (size class, rent class, age label) cell within a municipality."""
    return (size * len(RENTS) + rent) * N_LAB + label


def _eligibility() -> np.ndarray:
    """(27 household types, 45 local cells): which cells a household type may rent."""
    out = np.zeros((27, N_LOCAL), dtype=bool)
    for h in range(3):
        for i in range(3):
            for a in range(3):
                for size in range(3):
                    for rent in range(len(RENTS)):
                        for lab in range(3):
                            out[h * 9 + i * 3 + a, local_cell(size, rent, lab)] = (
                                SIZE_OK[h, size] and RENT_OK[i, h, rent] and LABEL_OK[a, lab]
                            )
    return out


ELIGIBLE = _eligibility()
# After relax_after_weeks unlet, only the income rules (law) remain:
_HT, _CELL = np.arange(27), np.arange(N_LOCAL)
ELIGIBLE_RELAXED = RENT_OK[
    (_HT // 3 % 3)[:, None], (_HT // 9)[:, None], (_CELL // N_LAB % len(RENTS))[None, :]
]
