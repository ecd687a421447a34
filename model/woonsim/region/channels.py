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

from woonsim.region.cells import KINDS, N_LOCAL, N_TYPES
from woonsim.region.kernels import rank_order
from woonsim.region.seekers import Seekers
from woonsim.region.vacancies import VacancyLedger

__all__ = ["Adverts", "BindingOffers", "DirectPlacement"]


class BindingOffers:
    """Urgent households past their search period, waiting for their one binding offer."""

    name = "binding"
    batched = False

    def __init__(self, seekers: Seekers, ledger: VacancyLedger, rows: np.ndarray):
        self.seekers, self.ledger = seekers, ledger
        order = np.argsort(seekers.urgency_expiry[rows], kind="stable")
        self._rows = rows[order].tolist()
        self._expiry = seekers.urgency_expiry[rows][order].tolist()
        self._head = 0

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def pop(self, v: int, t: float) -> int:
        sk = self.seekers
        rows, expiry = self._rows, self._expiry
        # drop from the front whoever no longer waits for a binding offer
        while self._head < len(rows) and not sk.urgency_pending(rows[self._head], t):
            if expiry[self._head] > t:
                break
            self._head += 1
        cell = self.ledger.cell[v]
        for k in range(self._head, len(rows)):
            if expiry[k] > t:
                break
            s = rows[k]
            if not sk.urgency_pending(s, t) or not sk.eligible(s, cell):
                continue
            self.ledger.offers[v] += 1
            if sk.accepts_binding():
                return s
            sk.refuse_binding(s)  # refused a suitable binding offer
        return -1

    def has_taker(self, v: int, t: float) -> bool:
        """An urgent household past its search period waits for a binding offer that
        vacancy v suits (no state changes)."""
        sk, cell = self.seekers, self.ledger.cell[v]
        for k in range(self._head, len(self._rows)):
            if self._expiry[k] > t:
                break
            s = self._rows[k]
            if sk.urgency_pending(s, t) and sk.eligible(s, cell):
                return True
        return False


class DirectPlacement:
    """First-come first-served per (municipality, household type): a vacancy goes to the
    longest-waiting household of its municipality that it suits, within the
    municipality's budgets (`woonsim.region.budgets`)."""

    batched = False

    def __init__(
        self,
        name: str,
        seekers: Seekers,
        ledger: VacancyLedger,
        budgets,
        rows: np.ndarray,
        contingent: bool,
        n_munis: int,
        types_for_cell: list[list[int]],
    ):
        self.name, self.contingent = name, contingent
        self.seekers, self.ledger, self.budgets = seekers, ledger, budgets
        self.types_for_cell = types_for_cell
        n_types = self.n_types = N_TYPES
        key = seekers.muni[rows].astype(np.int64) * n_types + seekers.htype[rows]
        order = np.lexsort((seekers.arrival[rows], key))
        rows, key = rows[order], key[order]
        starts = np.searchsorted(key, np.arange(n_munis * n_types + 1))
        self._queues = [rows[a:b].tolist() for a, b in pairwise(starts)]
        self._heads = [0] * len(self._queues)
        # per municipality: member arrival times (sorted) and how many were placed, for a
        # quick "nobody can be waiting" exit
        mu = seekers.muni[rows]
        self._arrivals = [np.sort(seekers.arrival[rows[mu == i]]).tolist() for i in range(n_munis)]
        self._placed = [0] * n_munis

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def _needs_contingent(self, v: int) -> bool:
        return self.contingent and not self.ledger.designated[v]

    def pop(self, v: int, t: float) -> int:
        mu = int(self.ledger.muni[v])
        arrived = bisect_right(self._arrivals[mu], t)
        if arrived == self._placed[mu] or not self.budgets.left(mu, self._needs_contingent(v)):
            return -1
        best, best_q, best_arr = -1, -1, np.inf
        arrival, gone = self.seekers.arrival_list, self.seekers.gone
        for ty in self.types_for_cell[self.ledger.cell[v]]:
            qi = mu * self.n_types + ty
            q, h = self._queues[qi], self._heads[qi]
            while h < len(q) and gone(q[h], t):
                h += 1
            self._heads[qi] = h
            if h < len(q) and arrival[q[h]] <= t and arrival[q[h]] < best_arr:
                best, best_q, best_arr = q[h], qi, arrival[q[h]]
        if best >= 0:
            self._heads[best_q] += 1
            self._placed[mu] += 1
            self.ledger.offers[v] += 1
            self.budgets.use(mu, self._needs_contingent(v))
        return best

    def has_taker(self, v: int, t: float) -> bool:
        """Within budget, a household of the vacancy's municipality that it suits waits
        (no state changes)."""
        mu = int(self.ledger.muni[v])
        if not self.budgets.left(mu, self._needs_contingent(v)):
            return False
        arrival, gone = self.seekers.arrival_list, self.seekers.gone
        for ty in self.types_for_cell[self.ledger.cell[v]]:
            q = self._queues[mu * self.n_types + ty]
            h = self._heads[mu * self.n_types + ty]
            while h < len(q) and arrival[q[h]] <= t:
                if not gone(q[h], t):
                    return True
                h += 1
        return False


class Ranking:
    """The ranked reactions of one cycle: per advert, its reacting households in rank
    order. Candidates are converted to Python ints a few at a time, as the offer walk
    reaches them (an advert is usually let to one of its first few)."""

    CHUNK = 8

    def __init__(self, adverts: list[int], rows: np.ndarray, bounds: np.ndarray):
        self._pos = dict(zip(adverts, range(len(adverts)), strict=True))
        self._rows, self._bounds = rows, bounds.tolist()

    def candidates(self, v: int):
        """The households that reacted to advert v, best ranked first."""
        k = self._pos.get(v)
        if k is None:
            return
        a, b = self._bounds[k], self._bounds[k + 1]
        while a < b:
            c = min(b, a + self.CHUNK)
            yield from self._rows[a:c].tolist()
            a = c

    def __getitem__(self, v: int) -> list[int]:
        return list(self.candidates(v))

    @classmethod
    def empty(cls) -> Ranking:
        return cls([], np.zeros(0, np.int64), np.zeros(1, np.int64))


class Adverts:
    """The aanbodmodel: one advert per remaining vacancy per cycle. Its members are the
    advert seekers (regular and urgent households) in activation order; each cycle the
    searching ones react (`Seekers.reacting`, `Seekers.choose_adverts`), the reactions to
    each advert are ranked (`rank_keys`), and offers go down the ranking."""

    name = "advert"
    batched = True

    def __init__(
        self,
        seekers: Seekers,
        ledger: VacancyLedger,
        spec,
        n_munis: int,
        react_rng: np.random.Generator,
        lottery_rng: np.random.Generator,
    ):
        self.seekers, self.ledger, self.n_munis = seekers, ledger, n_munis
        al = spec.allocation
        self.mode, self.ranking = al.quota.mode, al.ranking
        self.K = al.reactions_per_week * al.cycle_weeks
        self.relax_years = al.relax_after_weeks / 52
        self._react_rng, self._lottery_rng = react_rng, lottery_rng
        kind = seekers.kind
        self.members = np.flatnonzero((kind == KINDS["regular"]) | (kind == KINDS["urgent"]))
        self._member_arrival = seekers.arrival[self.members]  # sorted: activation order
        self._admitted = 0  # members[:admitted] have started searching
        self._pool = np.zeros(0, dtype=np.int64)  # searching: admitted, not housed, not gone
        self._ranked = Ranking.empty()

    # --- who reacts to what --------------------------------------------------------------
    def searching(self, t: float) -> np.ndarray:
        """Members searching at t: started, not housed, not gone."""
        sk = self.seekers
        stop = int(np.searchsorted(self._member_arrival, t, side="right"))
        if stop > self._admitted:
            self._pool = np.concatenate([self._pool, self.members[self._admitted : stop]])
            self._admitted = stop
        pool = self._pool
        pool = pool[~sk.housed[pool] & (sk.deadline[pool] > t)]
        self._pool = pool
        return pool

    def relaxed(self, adv: np.ndarray, t: float) -> np.ndarray:
        """Adverts unlet for relax_after_weeks: size and age-label rules no longer apply."""
        return t - self.ledger.arise[adv] >= self.relax_years - 1e-9

    def reactions(self, rows: np.ndarray, adv: np.ndarray, t: float):
        """(household rows, advert positions) of the reactions of `rows` to adverts `adv`."""
        lg = self.ledger
        only = lg.designated[adv] if self.mode == "ring_fenced" else np.zeros(len(adv), bool)
        return self.seekers.choose_adverts(
            rows,
            lg.cell[adv] % N_LOCAL,
            lg.muni[adv],
            only,
            self.relaxed(adv, t),
            self.K,
            self.n_munis,
            self._react_rng,
        )

    def _priority_applies(self, adv: np.ndarray) -> np.ndarray:
        if self.mode in ("none", "floor"):
            return np.ones(len(adv), dtype=bool)
        return self.ledger.designated[adv]

    def rank_keys(self, rows: np.ndarray, adv: np.ndarray, t: float):
        """Rank keys, most important first: matching urgency; on an advert designated for
        aandachtsgroepen, aandachtsgroep households; the local-binding label; then
        registration time (earliest first), a lottery draw, or points."""
        sk, lg = self.seekers, self.ledger
        urgent = (
            (sk.kind[rows] == KINDS["urgent"])
            & (sk.urgency_expiry[rows] > t)
            & ~sk.urgency_lost[rows]
            & self._priority_applies(adv)
        )
        local = lg.local[adv] & (sk.muni[rows] == lg.muni[adv])
        if self.ranking == "points":
            # wachtpunten: months registered; zoekpunten: months searching since the last
            # refusal (lost on refusal)
            since = np.maximum(sk.arrival[rows], sk.last_refusal[rows])
            base = -(12 * (t - sk.registration[rows]) + 12 * (t - since))
        else:
            base = sk.registration[rows]
        third = np.where(lg.lottery[adv], self._lottery_rng.random(len(adv)), base)
        for_them = lg.designated[adv] & sk.aandacht[rows]
        return (~urgent, ~for_them, ~local, third)

    # --- the channel ---------------------------------------------------------------------
    def open_cycle(self, adverts: Sequence[int], t: float) -> None:
        """Reactions of the searching seekers to this cycle's adverts, ranked per advert."""
        self._ranked = Ranking.empty()
        if not adverts:
            return
        adv = np.asarray(adverts, dtype=np.int64)
        pool = self.seekers.reacting(self.searching(t), t, self._react_rng)
        if len(pool) == 0:
            return
        rows, advert_idx = self.reactions(pool, adv, t)
        self.ledger.reactions[adv] += np.bincount(advert_idx, minlength=len(adv))
        self.seekers.count_active(rows, t)
        self._ranked = self.rank_reactions(rows, advert_idx, adv, t)

    def rank_reactions(
        self, rows: np.ndarray, advert_idx: np.ndarray, adv: np.ndarray, t: float
    ) -> Ranking:
        """The reacting households of each advert, best ranked first, for reactions
        (rows[i] to advert adv[advert_idx[i]])."""
        not_urgent, not_theirs, not_local, third = self.rank_keys(rows, adv[advert_idx], t)
        # one packed integer: the advert, then urgency, then designation, then label
        flags = not_urgent.astype(np.int64) * 4 + not_theirs * 2 + not_local
        key = advert_idx.astype(np.int64) * 8 + flags
        order, key_bounds = rank_order(key, third.astype(np.float64), 8 * len(adv))
        return Ranking(adv.tolist(), rows[order], key_bounds[::8])

    def _may_take(self, v: int, s: int) -> bool:
        if self.mode == "ring_fenced" and self.ledger.designated[v]:
            return bool(self.seekers.aandacht[s])
        return True

    def pop(self, v: int, t: float) -> int:
        sk, lg = self.seekers, self.ledger
        priority = self.mode in ("none", "floor") or bool(lg.designated[v])
        for s in self._ranked.candidates(v):
            if sk.is_housed(s) or not self._may_take(v, s):
                continue
            lg.offers[v] += 1
            if sk.accepts(s):
                return s
            sk.refuse(s, t, ends_urgency=priority)
        return -1
