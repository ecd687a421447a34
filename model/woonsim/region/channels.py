"""Dutch allocation channels: the routes by which a vacancy reaches a household.

Each channel implements the channel protocol of the one allocator
(`woonsim.engine.allocator`), as the stylized waiting lists do: ``pop(v, t)`` returns the
register row that takes vacancy ``v`` at time ``t``, or -1. The allocator routes each
vacancy through its channels, first taker wins, once per advert cycle:

- `BindingOffers`: urgent households whose search period has ended get one binding
  direct offer of a suitable dwelling; refusing it ends their urgency.
- `DirectPlacement`: statushouders (taakstelling) and contingent groups, first-come
  first-served per municipality among the households the dwelling suits.
- `Adverts` (aanbodmodel): every vacancy not placed directly is advertised; active
  seekers react to up to K eligible adverts per cycle; reactors are ranked (matching
  urgency, then labels, then registration time, a lottery draw or points); offers go
  down the ranking until one is accepted. Adverts are a batched channel: every direct
  channel is tried for every vacancy of the cycle before the adverts open, as
  corporations do (what is advertised is what was not placed directly).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import pairwise

import numpy as np

__all__ = ["Adverts", "BindingOffers", "DirectPlacement"]


class BindingOffers:
    """Urgent households past their search period, waiting for their one binding offer."""

    name = "binding"
    batched = False

    def __init__(self, mkt, rows: np.ndarray):
        self.mkt = mkt
        order = np.argsort(mkt.reg.urgency_expiry[rows], kind="stable")
        self._rows = rows[order].tolist()
        self._expiry = mkt.reg.urgency_expiry[rows][order].tolist()
        self._head = 0

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def pop(self, v: int, t: float) -> int:
        m, reg = self.mkt, self.mkt.reg
        rows, expiry = self._rows, self._expiry
        # drop from the front whoever no longer waits for a binding offer
        while self._head < len(rows) and not m.urgency_pending(rows[self._head], t):
            if expiry[self._head] > t:
                break
            self._head += 1
        cell = m.vac_cell[v]
        for k in range(self._head, len(rows)):
            if expiry[k] > t:
                break
            s = rows[k]
            if not m.urgency_pending(s, t) or not m.eligible(s, cell):
                continue
            m.offers[v] += 1
            if m.draw_offer() < m.binding_accept:
                return s
            reg.urgency_lost[s] = True  # refused a suitable binding offer
            m.refusals[s] += 1
        return -1


class DirectPlacement:
    """First-come first-served per (municipality, household type): a vacancy goes to the
    longest-waiting household of its municipality that it suits."""

    batched = False

    def __init__(self, mkt, name: str, rows: np.ndarray, budget: str | None):
        self.mkt, self.name, self.budget = mkt, name, budget
        reg = mkt.reg
        key = reg.muni[rows].astype(np.int64) * mkt.n_types + reg.htype[rows]
        order = np.lexsort((reg.arrival[rows], key))
        rows, key = rows[order], key[order]
        starts = np.searchsorted(key, np.arange(mkt.n_munis * mkt.n_types + 1))
        self._queues = [rows[a:b].tolist() for a, b in pairwise(starts)]
        self._heads = [0] * len(self._queues)
        # per municipality: member arrival times (sorted) and how many were placed, for a
        # quick "nobody can be waiting" exit
        mu = reg.muni[rows]
        self._arrivals = [np.sort(reg.arrival[rows[mu == i]]).tolist() for i in range(mkt.n_munis)]
        self._placed = [0] * mkt.n_munis

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def pop(self, v: int, t: float) -> int:
        m = self.mkt
        mu = int(m.vac_muni[v])
        arrived = bisect_right(self._arrivals[mu], t)
        if arrived == self._placed[mu] or not m.direct_capacity_left(mu, self.budget, v):
            return -1
        best, best_q, best_arr = -1, -1, np.inf
        arrival, gone = m.arrival_list, m.gone
        for ty in m.types_for_cell[m.vac_cell[v]]:
            qi = mu * m.n_types + ty
            q, h = self._queues[qi], self._heads[qi]
            while h < len(q) and gone(q[h], t):
                h += 1
            self._heads[qi] = h
            if h < len(q) and arrival[q[h]] <= t and arrival[q[h]] < best_arr:
                best, best_q, best_arr = q[h], qi, arrival[q[h]]
        if best >= 0:
            self._heads[best_q] += 1
            self._placed[mu] += 1
            m.offers[v] += 1
            m.use_direct_capacity(mu, self.budget, v)
        return best


class Adverts:
    """The aanbodmodel: one advert per remaining vacancy per cycle."""

    name = "advert"
    batched = True

    def __init__(self, mkt):
        self.mkt = mkt
        self._ranked: dict[int, list[int]] = {}

    def open_cycle(self, adverts: Sequence[int], t: float) -> None:
        """Reactions of the active seekers to this cycle's adverts, ranked per advert."""
        m = self.mkt
        self._ranked = {}
        if not adverts:
            return
        adv = np.asarray(adverts, dtype=np.int64)
        pool = m.reacting_seekers(t)
        if len(pool) == 0:
            return
        seekers, advert_idx = m.sample_reactions(pool, adv, t)
        m.reactions[adv] += np.bincount(advert_idx, minlength=len(adv))
        m.count_active(seekers, t)
        not_urgent, not_theirs, not_local, third = m.rank_keys(seekers, adv[advert_idx], t)
        # one small integer: urgency, then designation, then label
        flags = not_urgent.astype(np.int8) * 4 + not_theirs * 2 + not_local
        order = np.lexsort((third, flags, advert_idx))
        ranked = seekers[order].tolist()
        bounds = np.searchsorted(advert_idx[order], np.arange(len(adv) + 1)).tolist()
        self._ranked = {
            v: ranked[bounds[k] : bounds[k + 1]]
            for k, v in enumerate(adv.tolist())
            if bounds[k + 1] > bounds[k]
        }

    def pop(self, v: int, t: float) -> int:
        m = self.mkt
        for s in self._ranked.get(v, ()):
            if m.housed_row(s) or not m.may_take(v, s):
                continue
            m.offers[v] += 1
            if m.draw_offer() < m.accept_of(s, v):
                return s
            m.refused(s, v, t)
        return -1
