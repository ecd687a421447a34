"""The statushouder taakstelling: the national task split over municipalities in whole
persons, the households housed against it per half-year and the backlog; plus the
whole-unit splits (largest remainder) and the period a time belongs to."""

from __future__ import annotations

import numpy as np

from woonsim.data import municipalities

__all__ = [
    "Taakstelling",
    "largest_remainder",
    "period_of",
    "periods",
    "reported",
    "taakstelling_split",
    "task_persons",
]


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


def reported(t, burn_in: float):
    """Whether times fall in the reported window (burn_in, horizon], exactly: a letting at
    the close of the cycle that ends the burn-in belongs to the burn-in (as `period_of`)."""
    return np.asarray(t, dtype=float) - 1e-9 >= burn_in


def periods(burn_in: float, horizon: float, per_year: int = 1) -> tuple[int, int]:
    """The periods (years: 1, half-years: 2) p0 <= p < p1 that overlap the reported
    window (burn_in, horizon]: for whole periods, exactly the window's; a fractional
    burn-in or horizon includes the period it cuts."""
    p0 = int(np.floor(per_year * burn_in + 1e-9))
    p1 = int(np.ceil(per_year * horizon - 1e-9))
    return p0, max(p1, p0 + 1)


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


def task_persons(
    national_per_halfyear: float,
    national_population: float,
    codes: list[str],
    key: str,
    weights: np.ndarray,
) -> np.ndarray:
    """Each municipality's half-yearly statushouder task in persons. By population (the
    law): its share of the national split over all 342 municipalities. By another key
    (`weights`): the region's total of those shares, split by that key."""
    nl = municipalities()
    national = taakstelling_split(national_per_halfyear, nl["population_2024"], national_population)
    position = {c: i for i, c in enumerate(nl["code"])}
    mine = national[[position[c] for c in codes]]
    if key == "population":
        return mine
    return largest_remainder(int(mine.sum()), weights)


class Taakstelling:
    """The statushouder task of each municipality and the households housed against it,
    per half-year."""

    def __init__(self, persons: np.ndarray, persons_per_household: float, horizon: float):
        self.persons = persons  # per half-year
        self.persons_per_household = persons_per_household
        n_half = int(np.ceil(2 * horizon)) + 1
        self.housed = np.zeros((n_half, len(persons)), np.int64)

    def record(self, t: float, munis: np.ndarray) -> None:
        """Statushouder households housed at t in these municipalities."""
        np.add.at(self.housed[period_of(t, 2)], munis, 1)

    def backlog(self, h0: int, h1: int) -> np.ndarray:
        """(half-years h0..h1-1, municipalities): task in households minus households
        housed, carried over from half-year to half-year from h0 on."""
        task_hh = self.persons / self.persons_per_household
        backlog, rows = np.zeros(len(self.persons)), []
        for h in range(h0, h1):
            backlog = backlog + task_hh - self.housed[h]
            rows.append(backlog.copy())
        return np.array(rows)
