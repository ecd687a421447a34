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

from woonsim.region.cells import ELIGIBLE, KINDS, N_LAB, N_LOCAL, N_TYPES, RENTS
from woonsim.region.kernels import offer_walk, rank_order, reaction_keys, refresh_pool
from woonsim.region.seekers import Seekers
from woonsim.region.vacancies import VacancyLedger

__all__ = ["Adverts", "BindingOffers", "DirectPlacement", "NoTaker"]


class NoTaker:
    """The keys (a vacancy's cell, and what it needs of the budgets) for which a channel
    found no taker at one instant. While the vacancies of one cycle are let at time t,
    nothing joins a direct channel: households only leave its queues and budgets are only
    used. A channel without a taker for a key at t therefore has none for it for the rest
    of the cycle, and need not look again (the answers, and so every run, are the same;
    `tests/test_candidates.py`). Forgotten when the stamp (t, and the budgets' year)
    changes."""

    __slots__ = ("_keys", "_stamp")

    def __init__(self):
        self._stamp: object = None
        self._keys: set[int] = set()

    def known(self, key: int, stamp) -> bool:
        """Whether `key` is known to have no taker under `stamp`."""
        if stamp != self._stamp:
            self._stamp, self._keys = stamp, set()
            return False
        return key in self._keys

    def add(self, key: int) -> None:
        self._keys.add(key)


class BindingOffers:
    """Urgent households past their search period, waiting for their one binding offer."""

    name = "binding"
    batched = False

    def __init__(self, seekers: Seekers, ledger: VacancyLedger, rows: np.ndarray):
        self.seekers, self.ledger = seekers, ledger
        order = np.argsort(seekers.urgency_expiry[rows], kind="stable")
        # read-only (tuples: a fork of the model shares them, `RegionalMarket.fork`)
        self._rows = tuple(rows[order].tolist())
        self._expiry = tuple(seekers.urgency_expiry[rows][order].tolist())
        self._head = 0
        # cells without a taker this cycle: found by pop, and found by has_taker (apart,
        # so that the work-conservation check stays a check of pop)
        self._none, self._checked = NoTaker(), NoTaker()

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def read_only(self) -> tuple:
        """The look-ups built once, which a fork of the model shares."""
        return (self._rows, self._expiry)

    def pop(self, v: int, t: float) -> int:
        cell = self.ledger.cell_of[v]
        if self._none.known(cell, t):
            return -1
        sk = self.seekers
        rows, expiry = self._rows, self._expiry
        # drop from the front whoever no longer waits for a binding offer
        while self._head < len(rows) and not sk.urgency_pending(rows[self._head], t):
            if expiry[self._head] > t:
                break
            self._head += 1
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
        self._none.add(cell)
        return -1

    def candidates(self, vacancies: Sequence[int], t: float) -> np.ndarray:
        """Per vacancy of the cycle: whether an urgent household past its search period
        waits for a binding offer of a dwelling of its kind (False: none, all cycle)."""
        sk = self.seekers
        stop = bisect_right(self._expiry, t)
        rows = np.asarray(self._rows[self._head : stop], dtype=np.int64)
        pending = rows[
            ~sk.housed[rows]
            & (sk.deadline[rows] > t)
            & ~sk.urgency_lost[rows]
            & (sk.urgency_expiry[rows] <= t)
        ]
        local_ok = ELIGIBLE[np.unique(sk.htype[pending])].any(axis=0)
        return local_ok[self.ledger.cell[np.asarray(vacancies, dtype=np.int64)] % N_LOCAL]

    def has_taker(self, v: int, t: float) -> bool:
        """An urgent household past its search period waits for a binding offer that
        vacancy v suits (no state changes)."""
        sk, cell = self.seekers, self.ledger.cell_of[v]
        if self._checked.known(cell, t):
            return False
        for k in range(self._head, len(self._rows)):
            if self._expiry[k] > t:
                break
            s = self._rows[k]
            if sk.urgency_pending(s, t) and sk.eligible(s, cell):
                return True
        self._checked.add(cell)
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
        ready_after: float = 0.0,
    ):
        self.name, self.contingent = name, contingent
        # a household can be placed `ready_after` years after it arrives (statushouders:
        # the municipality's matching time after COA links them)
        self.ready_after = ready_after
        self.seekers, self.ledger, self.budgets = seekers, ledger, budgets
        self.types_for_cell = types_for_cell
        n_types = self.n_types = N_TYPES
        key = seekers.muni[rows].astype(np.int64) * n_types + seekers.htype[rows]
        order = np.lexsort((seekers.arrival[rows], key))
        rows, key = rows[order], key[order]
        starts = np.searchsorted(key, np.arange(n_munis * n_types + 1))
        # read-only (tuples: a fork of the model shares them, `RegionalMarket.fork`)
        self._queues = tuple(tuple(rows[a:b].tolist()) for a, b in pairwise(starts))
        self._heads = [0] * len(self._queues)
        # per municipality: member arrival times (sorted) and how many were placed, for a
        # quick "nobody can be waiting" exit
        mu = seekers.muni[rows]
        self._arrivals = tuple(
            tuple(np.sort(seekers.arrival[rows[mu == i]]).tolist()) for i in range(n_munis)
        )
        self._placed = [0] * n_munis
        # (cell, needs contingent budget) without a taker this cycle: found by pop, and
        # found by has_taker (apart, so that the check stays a check of pop)
        self._none, self._checked = NoTaker(), NoTaker()

    def open_cycle(self, vacancies, t: float) -> None:
        """Unbatched: nothing to prepare."""

    def read_only(self) -> tuple:
        """The look-ups built once, which a fork of the model shares."""
        return (self._queues, self._arrivals)

    def _needs_contingent(self, v: int) -> bool:
        return self.contingent and not self.ledger.designated[v]

    def _key(self, v: int) -> int:
        return 2 * self.ledger.cell_of[v] + self._needs_contingent(v)

    def candidates(self, vacancies: Sequence[int], t: float) -> np.ndarray:
        """Per vacancy of the cycle: whether, within budget, a household of its
        municipality that it suits is ready (False: none, all cycle). Moves each queue's
        head past the households gone (as `pop` does on its way)."""
        n_munis = len(self._placed)
        waiting = np.zeros((n_munis, self.n_types), dtype=bool)
        arrival, gone = self.seekers.arrival_list, self.seekers.gone
        t_ready = t - self.ready_after
        heads, queues = self._heads, self._queues
        b = self.budgets
        direct = np.array(b.direct_used) < np.array(b.staff_allowed)
        v = np.asarray(vacancies, dtype=np.int64)
        lg = self.ledger
        mu_v = lg.muni[v].astype(np.int64)
        # the municipalities with a vacancy this cycle and staff to place it
        for mu in np.flatnonzero(np.bincount(mu_v, minlength=n_munis) * direct).tolist():
            if bisect_right(self._arrivals[mu], t_ready) == self._placed[mu]:
                continue
            for ty in range(self.n_types):
                qi = mu * self.n_types + ty
                q, h = queues[qi], heads[qi]
                while h < len(q) and gone(q[h], t):
                    h += 1
                heads[qi] = h
                waiting[mu, ty] = h < len(q) and arrival[q[h]] <= t_ready
        ok = (waiting.astype(np.int64) @ ELIGIBLE.astype(np.int64)) > 0  # (muni, local cell)
        contingent = direct & (np.array(b.contingent_used) < np.array(b.contingent_allowed))
        needs = self.contingent & ~lg.designated[v]
        return ok[mu_v, lg.cell[v] % N_LOCAL] & np.where(needs, contingent[mu_v], direct[mu_v])

    def pop(self, v: int, t: float) -> int:
        key, stamp = self._key(v), (t, self.budgets.year)
        if self._none.known(key, stamp):
            return -1
        mu = self.ledger.muni_of[v]
        t_ready = t - self.ready_after  # households that arrived by then are ready
        arrived = bisect_right(self._arrivals[mu], t_ready)
        if arrived == self._placed[mu] or not self.budgets.left(mu, self._needs_contingent(v)):
            self._none.add(key)
            return -1
        best, best_q, best_arr = -1, -1, np.inf
        arrival, gone = self.seekers.arrival_list, self.seekers.gone
        for ty in self.types_for_cell[self.ledger.cell_of[v]]:
            qi = mu * self.n_types + ty
            q, h = self._queues[qi], self._heads[qi]
            while h < len(q) and gone(q[h], t):
                h += 1
            self._heads[qi] = h
            if h < len(q) and arrival[q[h]] <= t_ready and arrival[q[h]] < best_arr:
                best, best_q, best_arr = q[h], qi, arrival[q[h]]
        if best >= 0:
            self._heads[best_q] += 1
            self._placed[mu] += 1
            self.ledger.offers[v] += 1
            self.budgets.use(mu, self._needs_contingent(v))
        else:
            self._none.add(key)
        return best

    def has_taker(self, v: int, t: float) -> bool:
        """Within budget, a household of the vacancy's municipality that it suits waits
        (no state changes)."""
        key, stamp = self._key(v), (t, self.budgets.year)
        if self._checked.known(key, stamp):
            return False
        mu = self.ledger.muni_of[v]
        if not self.budgets.left(mu, self._needs_contingent(v)):
            self._checked.add(key)
            return False
        arrival, gone = self.seekers.arrival_list, self.seekers.gone
        t_ready = t - self.ready_after
        for ty in self.types_for_cell[self.ledger.cell_of[v]]:
            q = self._queues[mu * self.n_types + ty]
            h = self._heads[mu * self.n_types + ty]
            while h < len(q) and arrival[q[h]] <= t_ready:
                if not gone(q[h], t):
                    return True
                h += 1
        self._checked.add(key)
        return False


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
        self.profile_local = al.urgency.profile == "own_municipality"
        self._react_rng, self._lottery_rng = react_rng, lottery_rng
        kind = seekers.kind
        self.members = np.flatnonzero((kind == KINDS["regular"]) | (kind == KINDS["urgent"]))
        self._member_arrival = seekers.arrival[self.members]  # sorted: activation order
        self._admitted = 0  # members[:admitted] have started searching
        # searching: admitted, not housed, not gone (the first _n_pool entries)
        self._pool = np.zeros(len(self.members), dtype=np.int64)
        self._pool_deadline = np.zeros(len(self.members))
        self._n_pool = 0
        self._takers: dict[int, int] = {}
        self.choice = spec.choice
        if self.choice is not None:
            c = self.choice
            self._attractiveness = np.array(
                [c.attractiveness.get(code, 0.0) for code in spec.municipalities]
            )
            # the region's recent acceptance rate at offer (lettings per offer), which
            # seekers read off the ranks the platform shows; smoothed over cycles
            self.accept_rate = 0.2

    # --- who reacts to what --------------------------------------------------------------
    def searching(self, t: float) -> np.ndarray:
        """Members searching at t: started, not housed, not gone (in activation order)."""
        sk = self.seekers
        stop = int(np.searchsorted(self._member_arrival, t, side="right"))
        new = self.members[self._admitted : stop]
        self._admitted = max(stop, self._admitted)
        self._n_pool = refresh_pool(
            self._pool, self._pool_deadline, self._n_pool, new, sk.deadline, sk.housed, t
        )
        return self._pool[: self._n_pool]

    def relaxed(self, adv: np.ndarray, t: float) -> np.ndarray:
        """Adverts unlet for relax_after_weeks: size and age-label rules no longer apply."""
        return t - self.ledger.arise[adv] >= self.relax_years - 1e-9

    def only_aandacht(self, adv: np.ndarray) -> np.ndarray:
        """Adverts only aandachtsgroep households may react to (ring-fenced, designated)."""
        if self.mode == "ring_fenced":
            return self.ledger.designated[adv]
        return np.zeros(len(adv), bool)

    def reactions(self, rows: np.ndarray, adv: np.ndarray, t: float):
        """(household rows, advert positions) of the reactions of `rows` to adverts `adv`."""
        lg = self.ledger
        return self.seekers.choose_adverts(
            rows,
            lg.cell[adv] % N_LOCAL,
            lg.muni[adv],
            self.only_aandacht(adv),
            self.relaxed(adv, t),
            self.K,
            self.n_munis,
            self._react_rng,
        )

    def utility(self, adv: np.ndarray) -> np.ndarray:
        """The utility of each advert's dwelling to every household, before the
        own-municipality term (docs/ODD.md §B3.7)."""
        c, lg = self.choice, self.ledger
        local = lg.cell[adv] % N_LOCAL
        size, rent = local // (N_LAB * len(RENTS)), local // N_LAB % len(RENTS)
        return (
            self._attractiveness[lg.muni[adv]]
            + c.rooms * size
            + c.rent * rent
            + c.new_build * (lg.source[adv] == 1)
            + c.quality_sd * lg.quality[adv]
        )

    def choose(self, pool: np.ndarray, adv: np.ndarray, t: float):
        """(household rows, advert positions, acceptance chance of each reaction): the
        fixed behaviour, or random-utility search (`choice`)."""
        if self.choice is None:
            rows, advert_idx = self.reactions(pool, adv, t)
            return rows, advert_idx, self.seekers.accept[rows]
        sk, lg = self.seekers, self.ledger
        sk.rank_bins(pool, t)
        base = self.utility(adv)
        rows, advert_idx = sk.choose_adverts_by_utility(
            pool, lg.cell[adv] % N_LOCAL, lg.muni[adv], self.only_aandacht(adv),
            self.relaxed(adv, t), base,
            lg.lottery[adv], self.accept_rate, self.K, self.n_munis, self._react_rng,
        )  # fmt: skip
        own = sk.muni[rows] == lg.muni[adv][advert_idx]
        utility = base[advert_idx] + self.choice.own_municipality * own
        return rows, advert_idx, sk.acceptance(rows, utility, t)

    def rank_keys(self, rows: np.ndarray, advert_idx: np.ndarray, adv: np.ndarray, t: float):
        """Rank keys of the reactions (rows[i] to vacancy adv[advert_idx[i]]), most
        important first (`kernels.reaction_keys`): matching urgency; on an advert
        designated for aandachtsgroepen, aandachtsgroep households; the local-binding
        label; then registration time (earliest first), a lottery draw, or points.
        Returns (advert position * 8 + flags, third key); one lottery draw per reaction."""
        sk, lg = self.seekers, self.ledger
        return reaction_keys(
            rows, advert_idx, adv, t, sk.kind, sk.urgency_expiry, sk.urgency_lost, sk.muni,
            sk.registration, sk.arrival, sk.last_refusal, sk.aandacht, lg.designated,
            lg.local, lg.muni, lg.lottery, self._lottery_rng.random(len(rows)),
            self.mode in ("none", "floor"), self.ranking == "points", sk.urgency_start,
            self.profile_local,
        )  # fmt: skip

    def rank_reactions(
        self, rows: np.ndarray, advert_idx: np.ndarray, adv: np.ndarray, t: float
    ) -> dict[int, list[int]]:
        """{vacancy: its reacting households, best ranked first} for reactions (rows[i]
        to vacancy adv[advert_idx[i]]): the order the offer walk follows."""
        key, third = self.rank_keys(rows, advert_idx, adv, t)
        order, bounds = rank_order(key, third, 8 * len(adv))
        ranked = rows[order].tolist()
        b = bounds[::8].tolist()
        return {v: ranked[b[k] : b[k + 1]] for k, v in enumerate(adv.tolist())}

    # --- the channel ---------------------------------------------------------------------
    def open_cycle(self, adverts: Sequence[int], t: float) -> None:
        """Let this cycle's adverts: the searching seekers react, the reactions are
        ranked per advert, and offers go down each ranking, advert by advert in the
        order given (`kernels.offer_walk`); `pop` then hands out the takers in that
        order. Nothing else changes a household between the adverts of one batch, so
        this is the letting that offering advert by advert would give."""
        self._takers = {}
        if not adverts:
            return
        adv = np.asarray(adverts, dtype=np.int64)
        pool = self.seekers.reacting(self.searching(t), t, self._react_rng)
        if len(pool) == 0:
            return
        rows, advert_idx, p_accept = self.choose(pool, adv, t)
        self.ledger.reactions[adv] += np.bincount(advert_idx, minlength=len(adv))
        self.seekers.count_active(rows, t)
        key, third = self.rank_keys(rows, advert_idx, adv, t)
        sk, lg = self.seekers, self.ledger
        offer_u, pos = sk.offer_draws.reserve(len(rows))  # at most one offer per reaction
        offers_before = int(lg.offers[adv].sum())
        takers, place, pos = offer_walk(
            rows, key, third, adv, t, sk.housed, p_accept, sk.aandacht, sk.kind,
            sk.urgency_expiry, sk.urgency_lost, sk.refusals, sk.last_refusal, sk.streak,
            sk.blocked_until, lg.designated, lg.offers, offer_u, pos,
            self.mode in ("none", "floor"), self.mode == "ring_fenced",
            sk.refusals_before_block, sk.block_years, sk.urgency_start, sk.muni, lg.muni,
            self.profile_local,
        )  # fmt: skip
        sk.offer_draws.consumed(pos)
        lg.place[adv] = place
        if self.choice is not None:
            made = int(lg.offers[adv].sum()) - offers_before
            if made:
                rate = float((takers >= 0).sum()) / made
                self.accept_rate = 0.9 * self.accept_rate + 0.1 * rate
        self._takers = dict(zip(adverts, takers.tolist(), strict=True))

    def pop(self, v: int, t: float) -> int:
        """The household that took advert v this cycle (from `open_cycle`), or -1."""
        return self._takers.get(v, -1)
