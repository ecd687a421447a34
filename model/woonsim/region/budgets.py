"""Yearly budgets of direct placement per municipality: the staff who can arrange
placements (randvoorwaarde personeel) and the contingent of dwellings for uitstroom and
other contingent groups. Budgets are whole dwellings per year; the fraction of a year's
budget is carried to the next year; an unlimited budget (inf) stays unlimited."""

from __future__ import annotations

import numpy as np

__all__ = ["Budgets"]


def _allow(carry: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(whole dwellings allowed this year, fraction carried on) of a carried budget."""
    finite = np.isfinite(carry)
    allowed = np.where(finite, np.floor(np.where(finite, carry, 0) + 1e-9), np.inf)
    return allowed, np.where(finite, carry - np.where(finite, allowed, 0), 0)


class Budgets:
    """Staff capacity (all direct placements) and contingent budget per municipality."""

    def __init__(self, staff_capacity: np.ndarray, contingent_budget: np.ndarray):
        M = len(staff_capacity)
        self.staff_capacity, self.contingent_budget = staff_capacity, contingent_budget
        # Python lists: the channels look up one municipality at a time
        self.direct_used = [0] * M
        self.contingent_used = [0] * M
        self.staff_allowed = [0.0] * M
        self.contingent_allowed = [0.0] * M
        self._staff_carry = np.zeros(M)
        self._contingent_carry = np.zeros(M)
        self.year = 0  # how many years have begun: a stamp for what the channels remember

    def new_year(self) -> None:
        """Reset the year's use; this year's allowance is the budget plus the carry."""
        M = len(self.direct_used)
        self.year += 1
        self.direct_used, self.contingent_used = [0] * M, [0] * M
        staff, self._staff_carry = _allow(self._staff_carry + self.staff_capacity)
        contingent, self._contingent_carry = _allow(self._contingent_carry + self.contingent_budget)
        self.staff_allowed, self.contingent_allowed = staff.tolist(), contingent.tolist()

    def left(self, mu: int, contingent: bool) -> bool:
        """Municipality `mu` can still place directly (a contingent placement on an
        ordinary vacancy also needs contingent budget; on a designated one it does not)."""
        if self.direct_used[mu] >= self.staff_allowed[mu]:
            return False
        if contingent:
            return self.contingent_used[mu] < self.contingent_allowed[mu]
        return True

    def use(self, mu: int, contingent: bool) -> None:
        self.direct_used[mu] += 1
        if contingent:
            self.contingent_used[mu] += 1
