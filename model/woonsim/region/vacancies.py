"""The vacancy ledger of a regional run: one row per vacancy, columns as numpy arrays.

A vacancy arises from a tenant's departure (`source` 0), a new-build completion (1) or a
vacancy chain (2: the old dwelling of a housed doorstromer, `chain` the chain's first
vacancy and `link` its place in the chain). When it arises it gets its labels: designated
for aandachtsgroepen (the quota), a lottery advert, local binding. Under a lettings norm
(`quota.basis: lettings`) a vacancy is designated when its municipality's aandachtsgroep
lettings this calendar year, counting the designated vacancies still open as such, fall
short of the norm's share of its lettings and open vacancies (a feedback rule, so the
realised share is what the norm asks); otherwise each is designated at random with the
quota's share. It stays open, and is
offered again every cycle, until it is let, or until it is withdrawn: let outside the
lists after `allocation.withdraw_after_weeks` unlet (`withdrawn`, the time).
"""

from __future__ import annotations

import numpy as np

__all__ = ["SOURCES", "VacancyLedger"]

SOURCES = ("departure", "new_build", "chain")


def _grow(a: np.ndarray, n: int, cap: int, fill) -> np.ndarray:
    out = np.full(cap, fill, a.dtype)
    out[:n] = a[:n]
    return out


class VacancyLedger:
    """Every vacancy of a run, with its labels and its letting."""

    def __init__(
        self,
        quota_share: np.ndarray,
        quota_on: bool,
        lottery_share: float,
        local_binding_share: float,
        quota_rng: np.random.Generator,
        label_rng: np.random.Generator,
        capacity: int = 1024,
        aandacht: np.ndarray | None = None,
        quality_rng: np.random.Generator | None = None,
        region_scope: bool = False,
    ):
        self.quota_share, self.quota_on = quota_share, quota_on
        # the lettings norm is counted per municipality, or over the whole region
        self.region_scope = region_scope
        # the lettings norm: the aandachtsgroep flag of every seeker (None: random basis)
        self._aandacht = aandacht
        M = len(quota_share)
        self.year_lettings = np.zeros(M, np.int64)
        self.year_aandacht = np.zeros(M, np.int64)
        self.lottery_share, self.local_binding_share = lottery_share, local_binding_share
        self._quota_rng, self._label_rng = quota_rng, label_rng
        self._quality_rng = quality_rng  # None: dwellings have no own quality (no choice)
        self.n = 0
        c = capacity
        self.arise = np.zeros(c)
        self.muni = np.zeros(c, np.int16)
        self.cell = np.zeros(c, np.int32)
        self.source = np.zeros(c, np.int8)
        self.chain = np.zeros(c, np.int64)
        self.link = np.zeros(c, np.int32)
        self.designated = np.zeros(c, bool)
        self.lottery = np.zeros(c, bool)
        self.local = np.zeros(c, bool)
        self.let_time = np.full(c, np.nan)
        self.let_to = np.full(c, -1, np.int64)
        self.withdrawn = np.full(c, np.nan)
        self.reactions = np.zeros(c, np.int64)
        self.offers = np.zeros(c, np.int64)
        self.place = np.zeros(c, np.int64)  # the taker's place in the advert's ranking
        self.quality = np.zeros(c)  # the dwelling's own quality (standard normal)
        self.open: list[int] = []  # vacancies not yet let (carried over)
        # the municipality and cell of every vacancy as Python lists, for the channels'
        # one-vacancy look-ups (fixed when the vacancy arises)
        self.muni_of: list[int] = []
        self.cell_of: list[int] = []

    def __len__(self) -> int:
        return self.n

    def flat_lists(self) -> tuple:
        """The lists of numbers only, which a fork of the model copies shallowly."""
        return (self.open, self.muni_of, self.cell_of)

    def _reserve(self, extra: int) -> None:
        if self.n + extra <= len(self.arise):
            return
        cap, n = max(2 * len(self.arise), self.n + extra), self.n
        self.arise = _grow(self.arise, n, cap, 0)
        self.muni = _grow(self.muni, n, cap, 0)
        self.cell = _grow(self.cell, n, cap, 0)
        self.source = _grow(self.source, n, cap, 0)
        self.chain = _grow(self.chain, n, cap, 0)
        self.link = _grow(self.link, n, cap, 0)
        self.designated = _grow(self.designated, n, cap, False)
        self.lottery = _grow(self.lottery, n, cap, False)
        self.local = _grow(self.local, n, cap, False)
        self.let_time = _grow(self.let_time, n, cap, np.nan)
        self.let_to = _grow(self.let_to, n, cap, -1)
        self.withdrawn = _grow(self.withdrawn, n, cap, np.nan)
        self.reactions = _grow(self.reactions, n, cap, 0)
        self.offers = _grow(self.offers, n, cap, 0)
        self.place = _grow(self.place, n, cap, 0)
        self.quality = _grow(self.quality, n, cap, 0.0)

    def add(self, arise, muni, cell, source: int, chain=None, link=None) -> np.ndarray:
        """Record new vacancies (open from now on) and draw their labels; returns their ids."""
        n = len(arise)
        self._reserve(n)
        ids = np.arange(self.n, self.n + n)
        self.arise[ids], self.muni[ids], self.cell[ids] = arise, muni, cell
        self.source[ids] = source
        self.chain[ids] = ids if chain is None else chain
        self.link[ids] = 0 if link is None else link
        mu = np.asarray(muni, dtype=np.int64)
        if self._aandacht is not None and self.quota_on:
            self.designated[ids] = self._to_designate(mu)
        else:
            q = self.quota_share[mu]
            self.designated[ids] = (self._quota_rng.random(n) < q) & self.quota_on
        self.lottery[ids] = self._label_rng.random(n) < self.lottery_share
        self.local[ids] = self._label_rng.random(n) < self.local_binding_share
        if self._quality_rng is not None:
            self.quality[ids] = self._quality_rng.standard_normal(n)
        self.n += n
        self.open.extend(ids.tolist())
        self.muni_of.extend(self.muni[ids].tolist())
        self.cell_of.extend(self.cell[ids].tolist())
        return ids

    def _to_designate(self, mu: np.ndarray) -> np.ndarray:
        """The lettings norm's rule for new vacancies in municipalities `mu`: in each
        municipality (or, with `region_scope`, in the region as a whole), designate the
        first k, the smallest number that brings this year's aandachtsgroep lettings plus
        open designated vacancies up to the share of this year's lettings plus open
        vacancies (the new ones included)."""
        op = np.asarray(self.open, dtype=np.int64)
        if self.region_scope:  # one account: every municipality counts as the first
            M, share = 1, self.quota_share[:1]
            at, mu = np.zeros(len(op), np.int64), np.zeros(len(mu), np.int64)
            lettings, aandacht = (
                self.year_lettings.sum(keepdims=True),
                self.year_aandacht.sum(keepdims=True),
            )
        else:
            M, share, at = len(self.quota_share), self.quota_share, self.muni[op]
            lettings, aandacht = self.year_lettings, self.year_aandacht
        open_all = np.bincount(at, minlength=M)
        open_des = np.bincount(at, weights=self.designated[op], minlength=M)
        new = np.bincount(mu, minlength=M)
        need = share * (lettings + open_all + new)
        k = np.clip(np.ceil(need - aandacht - open_des - 1e-9), 0, new).astype(int)
        # rank of each new vacancy within its municipality, in arrival order
        order = np.argsort(mu, kind="stable")
        rank = np.empty(len(mu), np.int64)
        starts = np.concatenate([[0], np.cumsum(new)])[mu[order]]
        rank[order] = np.arange(len(mu)) - starts
        return rank < k[mu]

    def set_aandacht(self, aandacht: np.ndarray | None) -> None:
        """The seekers' aandachtsgroep flags for a lettings norm (None: random basis)."""
        self._aandacht = aandacht

    def new_year(self) -> None:
        """A monitor counts the norm per calendar year."""
        self.year_lettings[:] = 0
        self.year_aandacht[:] = 0

    def record_lettings(self, v: np.ndarray, s: np.ndarray, t: float) -> None:
        """Vacancies `v` are let to households `s` at t."""
        self.let_time[v] = t
        self.let_to[v] = s
        if self._aandacht is not None:
            mu = self.muni[v].astype(np.int64)
            M = len(self.quota_share)
            self.year_lettings += np.bincount(mu, minlength=M)
            self.year_aandacht += np.bincount(mu[self._aandacht[s]], minlength=M)

    def withdraw(self, v: np.ndarray, t: float) -> None:
        """Vacancies `v`, unlet too long, are let outside the lists at t."""
        self.withdrawn[v] = t

    def columns(self) -> dict[str, np.ndarray]:
        """Every column, cut to the vacancies recorded (views, not copies)."""
        n = self.n
        return {
            "arise": self.arise[:n],
            "muni": self.muni[:n],
            "cell": self.cell[:n],
            "source": self.source[:n],
            "chain": self.chain[:n],
            "link": self.link[:n],
            "designated": self.designated[:n],
            "lottery": self.lottery[:n],
            "local": self.local[:n],
            "let_time": self.let_time[:n],
            "let_to": self.let_to[:n],
            "withdrawn": self.withdrawn[:n],
            "reactions": self.reactions[:n],
            "offers": self.offers[:n],
            "place": self.place[:n],
            "quality": self.quality[:n],
        }
