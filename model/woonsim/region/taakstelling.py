"""Whole-unit splits: the statushouder taakstelling over municipalities, and any integer
total over weights (largest remainder), and the period a time belongs to."""

from __future__ import annotations

import numpy as np

__all__ = ["largest_remainder", "period_of", "taakstelling_split"]


def taakstelling_split(
    national: float, population: np.ndarray, national_population: float
) -> np.ndarray:
    """Statushouder task per municipality: the national number x its share of the national
    population (Huisvestingswet 2014), in whole persons by largest remainder, so that the
    municipal tasks of the whole country add up to the national number exactly."""
    exact = national * np.asarray(population, dtype=float) / national_population
    base = np.floor(exact)
    short = int(round(exact.sum() - base.sum()))
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base.astype(np.int64)


def period_of(t, per_year: int = 1):
    """Index of the period (year: 1, half-year: 2) a letting at time t belongs to.
    Lettings happen at the close of a cycle, so a letting at a period's end boundary
    belongs to the period that ends there."""
    k = np.floor(per_year * np.asarray(t, dtype=float) - 1e-9).astype(np.int64)
    return int(k) if np.ndim(k) == 0 else k


def largest_remainder(total: int, weights: np.ndarray) -> np.ndarray:
    """Split an integer total over weights in whole units that add up exactly."""
    w = np.asarray(weights, dtype=float)
    if w.sum() <= 0:
        if total:
            raise ValueError("largest_remainder: cannot split a total over zero weights")
        return np.zeros(len(w), dtype=np.int64)
    exact = total * w / w.sum()
    base = np.floor(exact)
    short = int(round(total - base.sum()))
    base[np.argsort(-(exact - base), kind="stable")[:short]] += 1
    return base.astype(np.int64)
