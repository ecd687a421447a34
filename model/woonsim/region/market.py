"""`RegionalMarket`: Dutch social-rent allocation in a woningmarktregio (scenario kind
`region`).

Municipalities (Mesa agents) hold corporation stock split into segments (size x rent
class x age label). Tenants leave at exact times; new construction, demolition and sales
change the stock; a housed doorstromer frees their old dwelling (vacancy chains). Seekers
of every group arrive at exact times; vacancies are let once per advert cycle (a week)
through the channels of `woonsim.region.channels`: binding urgency offers, direct placement of
statushouders and contingent groups, and adverts with reactions, ranking and refusals.

Time is in years since the start of the burn-in; calendar year = start_year +
(t - burn_in_years). The stock is frozen during the burn-in (no construction, demolition
or sales) so that the waiting lists reach a steady state before 1 January of start_year.
"""

from __future__ import annotations

from dataclasses import dataclass

import mesa
import numpy as np

from woonsim.data import municipalities
from woonsim.data import region as region_table
from woonsim.engine.allocator import Allocator
from woonsim.engine.draws import UniformDraws, poisson_times
from woonsim.region.cells import (
    ELIGIBLE,
    ELIGIBLE_RELAXED,
    KINDS,
    N_LAB,
    N_LOCAL,
    N_SEG,
    RENTS,
    ROUTES,
)
from woonsim.region.channels import Adverts, BindingOffers, DirectPlacement
from woonsim.region.results import RegionResult
from woonsim.region.scenario import RegionScenario
from woonsim.region.taakstelling import largest_remainder, period_of, taakstelling_split
from woonsim.streams import as_seed_sequence, stream

__all__ = ["Municipality", "RegionRegister", "RegionalMarket"]

_LEDGER_FILL = {"let_time": np.nan, "let_to": -1}


class Municipality(mesa.Agent):
    """A municipality: its stock, its share of the task, and its counters."""

    def __init__(self, model: RegionalMarket, index: int, row):
        super().__init__(model)
        self.index, self.code, self.name = index, row["code"], row["name"]
        self.population = int(row["population_2024"])
        self.households = int(row["households_2024"])
        self.dwellings = int(row["dwellings_2025"])  # all tenures, evolves
        self.corporation_start = int(row["corporation_2025"])

    @property
    def social_stock(self) -> int:
        m = self.model
        a = self.index * N_LOCAL
        return int(m.occupied[a : a + N_LOCAL].sum() + m.vacant[a : a + N_LOCAL].sum())

    @property
    def social_share(self) -> float:
        return self.social_stock / self.dwellings


@dataclass
class RegionRegister:
    """Every seeker of a run, in activation order (columns of equal length)."""

    group: np.ndarray
    kind: np.ndarray
    aandacht: np.ndarray
    muni: np.ndarray
    arrival: np.ndarray  # starts searching (active) / is linked (statushouder)
    registration: np.ndarray  # registered on the platform
    deadline: np.ndarray  # leaves the list (patience)
    htype: np.ndarray  # household type: size * 9 + income * 3 + age
    leaves: np.ndarray  # frees a corporation dwelling in the region when housed
    urgency_expiry: np.ndarray
    urgency_lost: np.ndarray

    def __len__(self) -> int:
        return len(self.arrival)


class RegionalMarket(mesa.Model):
    """A woningmarktregio; one Mesa step is one advert cycle."""

    def __init__(self, scenario: RegionScenario, seed: int | np.random.SeedSequence = 0):
        self.seed = as_seed_sequence(seed)
        super().__init__(rng=stream(self.seed, "mesa"))
        self.spec = sc = scenario
        table = region_table(sc.municipalities)
        self.munis = [Municipality(self, i, r) for i, r in enumerate(table.to_dict("records"))]
        self.n_munis, self.n_types = len(self.munis), 27
        self.dt = sc.allocation.cycle_weeks / 52.0
        self.horizon = sc.horizon
        self.n_cycles = int(round(self.horizon / self.dt))
        self._init_stock()
        self.reg = self._draw_seekers()
        self._init_state()
        self._build_rule()

    # --- set-up ---------------------------------------------------------------------
    def _init_stock(self) -> None:
        st = self.spec.stock
        seg = np.outer(st.size_mix, st.rent_mix).ravel()  # 15 segments
        label = np.zeros((N_SEG, N_LAB))
        for s in range(N_SEG):
            size = s // len(RENTS)
            youth = st.youth_label_share if size == 0 else 0.0
            senior = st.senior_label_share if size in (0, 1) else 0.0
            label[s] = (1 - youth - senior, youth, senior)
        self.cell_mix = (seg[:, None] * label).ravel()  # 36 local cells
        occ = [largest_remainder(m.corporation_start, self.cell_mix) for m in self.munis]
        self.occupied = np.concatenate(occ).astype(np.int64)
        self.vacant = np.zeros_like(self.occupied)
        self.types_for_cell = [
            np.flatnonzero(ELIGIBLE[:, c % N_LOCAL]).tolist() for c in range(self.n_munis * N_LOCAL)
        ]

    def _weights(self, key: str) -> np.ndarray:
        m = self.munis
        pop = np.array([x.population for x in m], float)
        if key == "households":
            return np.array([x.households for x in m], float)
        if key == "population":
            return pop
        social = np.array([x.corporation_start for x in m], float)
        if key == "social_stock":
            return social
        # toward_30: municipalities further below 30% social stock take more
        gap = np.clip(0.30 * np.array([x.dwellings for x in m]) - social, 0, None)
        return gap if gap.sum() > 0 else pop

    def taakstelling_persons(self) -> np.ndarray:
        """Each municipality's half-yearly statushouder task in persons. By population
        (the law): its share of the national split over all 342 municipalities. By
        another key: the region's total of those shares, split by that key."""
        st, key = self.spec.statushouders, self.spec.allocation.task_distribution
        nl = municipalities()
        national = taakstelling_split(
            st.national_per_halfyear, nl["population_2024"], st.national_population
        )
        position = {c: i for i, c in enumerate(nl["code"])}
        mine = national[[position[m.code] for m in self.munis]]
        if key == "population":
            return mine
        return largest_remainder(int(mine.sum()), self._weights(key))

    def _draw_seekers(self) -> RegionRegister:
        sc = self.spec
        H = self.horizon
        households = sum(m.households for m in self.munis)
        population = sum(m.population for m in self.munis)
        cols: dict[str, list[np.ndarray]] = {k: [] for k in RegionRegister.__dataclass_fields__}
        for gi, g in enumerate(sc.groups):
            rng = stream(self.seed, f"arrivals/{g.name}")
            attr = stream(self.seed, f"attributes/{g.name}")
            if g.kind == "statushouder":
                st = sc.statushouders
                per_half = (
                    st.national_per_halfyear
                    * population
                    / st.national_population
                    / st.persons_per_household
                )
                t = np.concatenate(
                    [
                        h / 2 + poisson_times(rng, 2 * per_half, 0.5)
                        for h in range(int(np.ceil(2 * H)))
                    ]
                )
                t = t[t < H]
            else:
                rate = g.inflow_per_1000_households * households / 1000
                if g.household_formation:
                    rate *= 1 + sc.kostendelersnorm_extra_households
                if g.kind == "urgent":
                    rate *= sc.allocation.urgency.approval_share
                t = poisson_times(rng, rate, H)
            n = len(t)
            key = (
                "households" if g.kind in ("regular", "urgent") else sc.allocation.task_distribution
            )
            w = self._weights(key)
            muni = attr.choice(self.n_munis, n, p=w / w.sum()).astype(np.int16)
            hh = attr.choice(3, n, p=g.household.size)
            inc = attr.choice(3, n, p=g.household.income)
            age = attr.choice(3, n, p=g.household.age)
            patience = (
                np.full(n, np.inf)
                if g.patience_years is None
                else stream(self.seed, f"patience/{g.name}").exponential(g.patience_years, n)
            )
            lead = (
                attr.exponential(g.registration_lead_years, n)
                if g.registration_lead_years > 0
                else np.zeros(n)
            )
            expiry = (
                t + sc.allocation.urgency.search_weeks / 52
                if g.kind == "urgent"
                else np.full(n, np.inf)
            )
            cols["group"].append(np.full(n, gi, np.int16))
            cols["kind"].append(np.full(n, KINDS[g.kind], np.int8))
            cols["aandacht"].append(np.full(n, g.aandachtsgroep))
            cols["muni"].append(muni)
            cols["arrival"].append(t)
            cols["registration"].append(t - lead)
            cols["deadline"].append(t + patience)
            cols["htype"].append((hh * 9 + inc * 3 + age).astype(np.int16))
            cols["leaves"].append(attr.random(n) < g.leaves_vacancy)
            cols["urgency_expiry"].append(expiry)
            cols["urgency_lost"].append(np.zeros(n, dtype=bool))
        arrival = np.concatenate(cols["arrival"])
        order = np.argsort(arrival, kind="stable")
        return RegionRegister(**{k: np.concatenate(v)[order] for k, v in cols.items()})

    def _init_state(self) -> None:
        n = len(self.reg)
        self.arrival_list = self.reg.arrival.tolist()
        self._deadline = self.reg.deadline.tolist()
        self._housed = np.zeros(n, dtype=bool)
        self.dwelling = np.full(n, -1, dtype=np.int64)
        self.route = np.full(n, -1, dtype=np.int8)
        self.refusals = np.zeros(n, dtype=np.int32)
        self._streak = np.zeros(n, dtype=np.int32)
        self.blocked_until = np.full(n, -np.inf)
        self.last_refusal = np.full(n, -np.inf)
        g = self.spec.groups
        self.activity = np.array([x.weekly_activity for x in g])[self.reg.group]
        self.accept = np.array([x.accept for x in g])[self.reg.group]
        self.binding_accept = self.spec.allocation.urgency.binding_accept
        advert_kinds = (self.reg.kind == KINDS["regular"]) | (self.reg.kind == KINDS["urgent"])
        self._advert_rows = np.flatnonzero(advert_kinds)
        self._advert_next = 0
        self._pool = np.zeros(0, dtype=np.int64)
        # actief woningzoekende: reacted at least once in the calendar year
        self._last_active_year = np.full(n, -1, dtype=np.int64)
        self.active_per_year = np.zeros(int(np.ceil(self.horizon)) + 1, dtype=np.int64)
        self._offer_draw = UniformDraws(stream(self.seed, "offers"), block=1 << 14)
        # one stream per random process, so that a policy that changes one process (say,
        # who is housed) does not shift the draws of another (say, departures)
        self._react_rng = stream(self.seed, "reactions")
        self._lottery_rng = stream(self.seed, "lottery")
        self._label_rng = stream(self.seed, "labels")
        self._completion_rng = stream(self.seed, "completions")
        self._chain_rng = stream(self.seed, "chains")
        self._quota_rng = stream(self.seed, "quota")
        # vacancy ledger
        cap = 1024
        self.n_vac = 0
        self._vcols = {
            "arise": np.zeros(cap),
            "muni": np.zeros(cap, np.int16),
            "cell": np.zeros(cap, np.int32),
            "source": np.zeros(cap, np.int8),
            "chain": np.zeros(cap, np.int64),
            "link": np.zeros(cap, np.int32),
            "designated": np.zeros(cap, bool),
            "lottery": np.zeros(cap, bool),
            "local": np.zeros(cap, bool),
            "let_time": np.full(cap, _LEDGER_FILL["let_time"]),
            "let_to": np.full(cap, _LEDGER_FILL["let_to"], np.int64),
            "reactions": np.zeros(cap, np.int64),
            "offers": np.zeros(cap, np.int64),
        }
        self._open: list[int] = []  # vacancies not yet let (carried over)
        self._chain_pending: list[tuple[float, int, int, int]] = []
        # yearly counters (calendar years of the run, burn-in years included)
        n_years = int(np.ceil(self.horizon)) + 1
        M = self.n_munis
        self.built = np.zeros((n_years, M), np.int64)
        self.built_total = np.zeros((n_years, M), np.int64)
        self.demolished = np.zeros((n_years, M), np.int64)
        self.sold = np.zeros((n_years, M), np.int64)
        self.stock_at_year_start = np.zeros((n_years, M), np.int64)
        self.dwellings_at_year_start = np.zeros((n_years, M), np.int64)
        self._year = -1
        self._now = 0.0
        self.direct_used = np.zeros(M, np.int64)
        self.contingent_used = np.zeros(M, np.int64)
        social = np.array([m.corporation_start for m in self.munis], float)
        al = self.spec.allocation
        self.contingent_budget = (
            np.array([al.contingent_dwellings.get(m.code, 0.0) for m in self.munis])
            if al.contingent_dwellings is not None
            else al.contingent_per_1000_social * social / 1000
        )
        self.staff_capacity = (
            np.full(M, np.inf)
            if al.staff_capacity_per_1000_social is None
            else al.staff_capacity_per_1000_social * social / 1000
        )
        q = al.quota.share
        self.quota_share = (
            np.array([q.get(m.code, 0.0) for m in self.munis])
            if isinstance(q, dict)
            else np.full(M, q)
        )
        # statushouder bookkeeping per half-year
        n_half = int(np.ceil(2 * self.horizon)) + 1
        self.sh_housed = np.zeros((n_half, M), np.int64)
        self._build_programme()

    def _build_programme(self) -> None:
        """Completions per year per municipality (all tenures) and their social part."""
        c = self.spec.construction
        dwellings = np.array([m.dwellings for m in self.munis], float)
        volume = c.per_1000_dwellings * dwellings / 1000
        if c.capacity is not None and volume.sum() > c.capacity:
            volume *= c.capacity / volume.sum()
        share = (
            np.array([c.social_share.get(m.code, 0.0) for m in self.munis])
            if isinstance(c.social_share, dict)
            else np.full(self.n_munis, c.social_share)
        )
        social = volume * share
        if c.social_distribution == "toward_30":
            social = social.sum() * self._weights("toward_30") / self._weights("toward_30").sum()
        extra = c.extra_social_from_verhuurderheffing
        if extra:
            social = social + extra * volume / volume.sum()
        if c.social_budget is not None and social.sum() > c.social_budget + extra:
            social *= (c.social_budget + extra) / social.sum()
        self.volume_per_year = np.maximum(volume, social)
        self.social_per_year = social

    def _build_rule(self) -> None:
        reg = self.reg
        rows = np.arange(len(reg))
        binding = BindingOffers(self, rows[reg.kind == KINDS["urgent"]])
        sh = DirectPlacement(
            self, "statushouder", rows[reg.kind == KINDS["statushouder"]], budget=None
        )
        cont = DirectPlacement(
            self, "contingent", rows[reg.kind == KINDS["contingent"]], budget="contingent"
        )
        self.adverts = Adverts(self)
        mode = self.spec.allocation.quota.mode
        every = [0, 1, 2, 3]
        routes = {
            "none": [every, every],
            "floor": [every, every],
            "cap": [[3], every],
            "ring_fenced": [[3], every],
        }[mode]
        ledger = self._vcols  # the ledger grows: look the column up at each call
        self.allocator = Allocator(
            [binding, sh, cont, self.adverts],
            routes,
            route_class=lambda v: int(ledger["designated"][v]),
            on_let=lambda v, s, k: self.mark_housed(s),
        )
        self.mode = mode

    # --- vacancy ledger -------------------------------------------------------------
    def _add_vacancies(self, arise, muni, cell, source, chain=None, link=None) -> np.ndarray:
        n = len(arise)
        if self.n_vac + n > len(self._vcols["arise"]):
            cap = max(2 * len(self._vcols["arise"]), self.n_vac + n)
            for k, a in self._vcols.items():
                grown = np.full(cap, _LEDGER_FILL.get(k, 0), a.dtype)
                grown[: self.n_vac] = a[: self.n_vac]
                self._vcols[k] = grown
        ids = np.arange(self.n_vac, self.n_vac + n)
        v = self._vcols
        v["arise"][ids], v["muni"][ids], v["cell"][ids] = arise, muni, cell
        v["source"][ids] = source
        v["chain"][ids] = ids if chain is None else chain
        v["link"][ids] = 0 if link is None else link
        q = self.quota_share[np.asarray(muni, dtype=np.int64)]
        v["designated"][ids] = (self._quota_rng.random(n) < q) & (self.mode != "none")
        al = self.spec.allocation
        v["lottery"][ids] = self._label_rng.random(n) < al.lottery_share
        v["local"][ids] = self._label_rng.random(n) < al.local_binding_share
        self.n_vac += n
        return ids

    @property
    def vac_cell(self):
        return self._vcols["cell"]

    @property
    def vac_muni(self):
        return self._vcols["muni"]

    @property
    def vac_lottery(self):
        return self._vcols["lottery"]

    @property
    def offers(self):
        return self._vcols["offers"]

    @property
    def reactions(self):
        return self._vcols["reactions"]

    # --- helpers used by the channels ------------------------------------------------
    def draw_offer(self) -> float:
        return self._offer_draw()

    def gone(self, s: int, t: float) -> bool:
        return self._housed[s] or self._deadline[s] <= t

    def housed_row(self, s: int) -> bool:
        return bool(self._housed[s])

    def mark_housed(self, s: int) -> None:
        self._housed[s] = True

    def relaxed(self, v) -> np.ndarray | bool:
        """Adverts unlet for relax_after_weeks: size and age-label rules no longer apply."""
        age = self._now - self._vcols["arise"][v]
        return age >= self.spec.allocation.relax_after_weeks / 52 - 1e-9

    def eligible(self, s: int, cell: int) -> bool:
        return bool(ELIGIBLE[self.reg.htype[s], cell % N_LOCAL])

    def urgency_pending(self, s: int, t: float) -> bool:
        reg = self.reg
        return (
            not self._housed[s]
            and self._deadline[s] > t
            and not reg.urgency_lost[s]
            and reg.urgency_expiry[s] <= t
        )

    def _designated(self, v: int) -> bool:
        return bool(self._vcols["designated"][v])

    def direct_capacity_left(self, mu: int, budget: str | None, v: int) -> bool:
        if self.direct_used[mu] >= self._staff_allowed[mu]:
            return False
        if budget == "contingent" and not self._designated(v):
            return self.contingent_used[mu] < self._contingent_allowed[mu]
        return True

    def use_direct_capacity(self, mu: int, budget: str | None, v: int) -> None:
        self.direct_used[mu] += 1
        if budget == "contingent" and not self._designated(v):
            self.contingent_used[mu] += 1

    def _priority_applies(self, adv: np.ndarray) -> np.ndarray:
        if self.mode in ("none", "floor"):
            return np.ones(len(adv), dtype=bool)
        return self._vcols["designated"][adv]

    def may_take(self, v: int, s: int) -> bool:
        if self.mode == "ring_fenced" and self._designated(v):
            return bool(self.reg.aandacht[s])
        return True

    def accept_of(self, s: int, v: int) -> float:
        return float(self.accept[s])

    def refused(self, s: int, v: int, t: float) -> None:
        reg = self.reg
        self.refusals[s] += 1
        self.last_refusal[s] = t
        if (
            reg.kind[s] == KINDS["urgent"]
            and reg.urgency_expiry[s] > t
            and (self.mode in ("none", "floor") or self._designated(v))
        ):
            reg.urgency_lost[s] = True  # refusing a suitable offer ends urgency
        self._streak[s] += 1
        if self._streak[s] >= self.spec.allocation.refusals_before_block:
            self.blocked_until[s] = t + self.spec.allocation.block_weeks / 52
            self._streak[s] = 0

    def reacting_seekers(self, t: float) -> np.ndarray:
        """Active advert seekers at t who react this cycle."""
        stop = int(np.searchsorted(self.reg.arrival[self._advert_rows], t, side="right"))
        if stop > self._advert_next:
            self._pool = np.concatenate([self._pool, self._advert_rows[self._advert_next : stop]])
            self._advert_next = stop
        pool = self._pool
        pool = pool[~self._housed[pool] & (self.reg.deadline[pool] > t)]
        self._pool = pool
        ok = self.blocked_until[pool] <= t
        ok &= self._react_rng.random(len(pool)) < 1 - (1 - self.activity[pool]) ** (
            self.spec.allocation.cycle_weeks
        )
        return pool[ok]

    def count_active(self, seekers: np.ndarray, t: float) -> None:
        """Count each seeker who reacts once per calendar year (the monitors' definition
        of an active seeker)."""
        y = period_of(t, 1)
        new = seekers[self._last_active_year[seekers] != y]
        new = np.unique(new)
        self.active_per_year[y] += len(new)
        self._last_active_year[new] = y

    def sample_reactions(self, seekers: np.ndarray, adv: np.ndarray, t: float):
        """Each reacting seeker reacts to up to K eligible adverts, drawn without
        replacement with weight `own_municipality_weight` for their own municipality."""
        reg, al = self.reg, self.spec.allocation
        K = al.reactions_per_week * al.cycle_weeks
        a_local = self._vcols["cell"][adv] % N_LOCAL
        a_muni = self._vcols["muni"][adv]
        a_only = (
            self._vcols["designated"][adv]
            if self.mode == "ring_fenced"
            else np.zeros(len(adv), bool)
        )
        key = (
            reg.htype[seekers].astype(np.int64) * 2 + reg.aandacht[seekers]
        ) * self.n_munis + reg.muni[seekers]
        ukeys, row_of = np.unique(key, return_inverse=True)
        ht, aa, mu = ukeys // (2 * self.n_munis), (ukeys // self.n_munis) % 2, ukeys % self.n_munis
        relaxed = self.relaxed(adv)
        elig = np.where(
            relaxed[None, :], ELIGIBLE_RELAXED[ht][:, a_local], ELIGIBLE[ht][:, a_local]
        )
        w = elig & (~a_only[None, :] | (aa[:, None] == 1))
        w = w * np.where(a_muni[None, :] == mu[:, None], al.own_municipality_weight, 1.0)
        mass = w.sum(axis=1)
        n_elig = (w > 0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(mass[:, None] > 0, w / mass[:, None], 0.0)
        right = np.cumsum(w, axis=1)
        left = right - w
        R, A = w.shape
        flat = (right + np.arange(R)[:, None]).ravel()
        k_of = np.minimum(K, n_elig[row_of])
        rng = self._react_rng
        chosen = np.full((len(seekers), K), -1, dtype=np.int64)
        removed = np.zeros(len(seekers))
        for j in range(K):
            act = np.flatnonzero(k_of > j)
            if len(act) == 0:
                break
            r = row_of[act]
            x = rng.random(len(act)) * (1 - removed[act])
            # skip the intervals already chosen, in order of their left edge
            prev = chosen[act, :j]
            if j:
                lefts = np.where(prev >= 0, left[r[:, None], np.maximum(prev, 0)], np.inf)
                widths = np.where(prev >= 0, w[r[:, None], np.maximum(prev, 0)], 0.0)
                order = np.argsort(lefts, axis=1)
                lefts = np.take_along_axis(lefts, order, 1)
                widths = np.take_along_axis(widths, order, 1)
                for c in range(j):
                    x = np.where(lefts[:, c] <= x, x + widths[:, c], x)
            x = np.minimum(x, np.nextafter(1.0, 0.0))
            a = np.searchsorted(flat, r + x, side="right") - r * A
            a = np.minimum(a, A - 1)
            dup = (prev == a[:, None]).any(axis=1) if j else np.zeros(len(act), bool)
            a = np.where(dup, -1, a)
            chosen[act, j] = a
            removed[act] += np.where(a >= 0, w[r, np.maximum(a, 0)], 0.0)
        s_idx, j_idx = np.nonzero(chosen >= 0)
        return seekers[s_idx], chosen[s_idx, j_idx]

    def rank_keys(self, seekers: np.ndarray, adv: np.ndarray, t: float):
        """Rank keys, most important first: matching urgency; on an advert designated for
        aandachtsgroepen, aandachtsgroep households; the local-binding label; then
        registration time (earliest first), a lottery draw, or points."""
        reg = self.reg
        urgent = (
            (reg.kind[seekers] == KINDS["urgent"])
            & (reg.urgency_expiry[seekers] > t)
            & ~reg.urgency_lost[seekers]
            & self._priority_applies(adv)
        )
        local = self._vcols["local"][adv] & (reg.muni[seekers] == self._vcols["muni"][adv])
        if self.spec.allocation.ranking == "points":
            # wachtpunten: months registered; zoekpunten: months searching since the last
            # refusal (lost on refusal)
            since = np.maximum(reg.arrival[seekers], self.last_refusal[seekers])
            base = -(12 * (t - reg.registration[seekers]) + 12 * (t - since))
        else:
            base = reg.registration[seekers]
        third = np.where(self._vcols["lottery"][adv], self._lottery_rng.random(len(adv)), base)
        for_them = self._vcols["designated"][adv] & reg.aandacht[seekers]
        return (~urgent, ~for_them, ~local, third)

    # --- time -----------------------------------------------------------------------
    def _year_index(self, t: float) -> int:
        """Year of a cycle that starts at t."""
        return int(np.floor(t + 1e-9))

    def step(self) -> None:
        """One advert cycle: stock flows of the cycle, then the lettings at its close."""
        k = self.steps - 1
        if k >= self.n_cycles:
            self.running = False
            return
        t0, t1 = k * self.dt, (k + 1) * self.dt
        self._now = t1
        yi = self._year_index(t0)
        if yi != self._year:
            self._new_year(yi)
        frozen = t0 < self.spec.burn_in_years - 1e-9
        self._departures(t0, t1, frozen, yi)
        if not frozen:
            self._completions(t0, t1, yi)
        self._release_chain_vacancies(t1)
        vacancies = sorted(self._open, key=lambda v: (self._vcols["arise"][v], v))
        out = self._route_names(self.allocator.allocate_cycle(vacancies, t1))
        self._record_lettings(out, t1)
        self._open = [v for v in vacancies if v not in out]
        if k + 1 >= self.n_cycles:
            self.running = False

    def _new_year(self, yi: int) -> None:
        self._year = yi
        self.direct_used[:] = 0
        self.contingent_used[:] = 0
        # yearly budgets in whole dwellings; the fraction is carried to the next year
        for name in ("staff", "contingent"):
            budget = self.staff_capacity if name == "staff" else self.contingent_budget
            carry = getattr(self, f"_{name}_carry", np.zeros(self.n_munis)) + budget
            finite = np.isfinite(carry)  # an unlimited budget (inf) stays unlimited
            allowed = np.where(finite, np.floor(np.where(finite, carry, 0) + 1e-9), np.inf)
            setattr(self, f"_{name}_allowed", allowed)
            setattr(
                self, f"_{name}_carry", np.where(finite, carry - np.where(finite, allowed, 0), 0)
            )
        occ = (self.occupied + self.vacant).reshape(self.n_munis, N_LOCAL).sum(axis=1)
        self.stock_at_year_start[yi] = occ
        self.dwellings_at_year_start[yi] = [m.dwellings for m in self.munis]

    def _departures(self, t0: float, t1: float, frozen: bool, yi: int) -> None:
        # a stream per cycle: a policy that changes occupancy changes this cycle's draws
        # only, not every later cycle's (closer common random numbers between variants)
        rng = stream(self.seed, f"departures/{self.steps}")
        fl = self.spec.flows
        n = rng.poisson(fl.departure_rate * self.occupied * (t1 - t0))
        if n.sum() == 0:
            return
        cells = np.repeat(np.arange(len(n)), n)
        self.occupied -= n
        arise = t0 + (t1 - t0) * rng.random(len(cells))
        muni = (cells // N_LOCAL).astype(np.int16)
        keep = np.ones(len(cells), dtype=bool)
        if not frozen and fl.departure_rate > 0:
            p_demolish = min(1.0, fl.demolition_rate / fl.departure_rate)
            p_sell = min(1.0 - p_demolish, fl.sale_rate / fl.departure_rate)
            u = rng.random(len(cells))
            demolish, sell = u < p_demolish, (u >= p_demolish) & (u < p_demolish + p_sell)
            np.add.at(self.demolished[yi], muni[demolish], 1)
            np.add.at(self.sold[yi], muni[sell], 1)
            for m in np.flatnonzero(np.bincount(muni[demolish], minlength=self.n_munis)):
                self.munis[m].dwellings -= int((muni[demolish] == m).sum())
            keep = ~(demolish | sell)
        cells, arise, muni = cells[keep], arise[keep], muni[keep]
        self.vacant += np.bincount(cells, minlength=len(self.vacant))
        self._open.extend(self._add_vacancies(arise, muni, cells, 0).tolist())

    def _completions(self, t0: float, t1: float, yi: int) -> None:
        rng = self._completion_rng
        dt = t1 - t0
        total = rng.poisson(self.volume_per_year * dt)
        social = np.minimum(
            rng.binomial(
                total,
                np.divide(
                    self.social_per_year,
                    self.volume_per_year,
                    out=np.zeros(self.n_munis),
                    where=self.volume_per_year > 0,
                ),
            ),
            total,
        )
        for m, x in enumerate(total):
            self.munis[m].dwellings += int(x)
        self.built_total[yi] += total
        self.built[yi] += social
        if social.sum() == 0:
            return
        muni = np.repeat(np.arange(self.n_munis), social).astype(np.int16)
        seg = rng.choice(
            N_SEG, len(muni), p=np.outer(self.spec.stock.size_mix, self.spec.stock.rent_mix).ravel()
        )
        cells = muni.astype(np.int64) * N_LOCAL + seg * N_LAB  # new-build: no age label
        self.vacant += np.bincount(cells, minlength=len(self.vacant))
        arise = t0 + dt * rng.random(len(cells))
        self._open.extend(self._add_vacancies(arise, muni, cells, 1).tolist())

    def _release_chain_vacancies(self, t1: float) -> None:
        """A housed doorstromer's old dwelling falls vacant at the end of the notice."""
        due = [c for c in self._chain_pending if c[0] <= t1]
        if not due:
            return
        self._chain_pending = [c for c in self._chain_pending if c[0] > t1]
        # the household may have left that dwelling already (a departure drew it)
        due = [c for c in due if self.occupied[c[1]] > 0]
        arise = np.array([c[0] for c in due])
        cells = np.array([c[1] for c in due], dtype=np.int64)
        chain = np.array([c[2] for c in due], dtype=np.int64)
        link = np.array([c[3] for c in due], dtype=np.int32)
        np.subtract.at(self.occupied, cells, 1)
        self.vacant += np.bincount(cells, minlength=len(self.vacant))
        ids = self._add_vacancies(arise, (cells // N_LOCAL).astype(np.int16), cells, 2, chain, link)
        self._open.extend(ids.tolist())

    def _route_names(self, lettings) -> dict[int, tuple[int, str]]:
        """{vacancy: (seeker, route)}: an advert letting is `lottery` on a lottery advert."""
        names = [ch.name for ch in self.allocator.channels]
        lottery = self._vcols["lottery"]
        out = {}
        for v, s, k in lettings:
            name = names[k]
            out[v] = (s, "lottery" if name == "advert" and lottery[v] else name)
        return out

    def _record_lettings(self, out: dict[int, tuple[int, str]], t: float) -> None:
        if not out:
            return
        v = np.fromiter(out.keys(), dtype=np.int64, count=len(out))
        s = np.fromiter((x[0] for x in out.values()), dtype=np.int64, count=len(out))
        routes = np.fromiter((ROUTES.index(x[1]) for x in out.values()), np.int8, len(out))
        vc = self._vcols
        vc["let_time"][v] = t
        vc["let_to"][v] = s
        self.dwelling[s] = v
        self.route[s] = routes
        cells = vc["cell"][v]
        np.subtract.at(self.vacant, cells, 1)
        np.add.at(self.occupied, cells, 1)
        sh = self.reg.kind[s] == KINDS["statushouder"]
        if sh.any():
            np.add.at(self.sh_housed[period_of(t, 2)], vc["muni"][v[sh]], 1)
        leavers = self.reg.leaves[s]
        if leavers.any():
            # each doorstromer's old dwelling: a cell of their home municipality drawn in
            # proportion to its occupied dwellings (one vectorised draw per cycle)
            home = self.reg.muni[s[leavers]].astype(np.int64)
            cum = np.cumsum(self.occupied.reshape(self.n_munis, N_LOCAL)[home], axis=1)
            total = cum[:, -1]
            u = self._chain_rng.random(len(home)) * total
            local = (cum > u[:, None]).argmax(axis=1)
            ok = total > 0
            notice = self.spec.flows.notice_weeks / 52
            parents = v[leavers][ok]
            self._chain_pending.extend(
                zip(
                    [t + notice] * int(ok.sum()),
                    (home[ok] * N_LOCAL + local[ok]).tolist(),
                    vc["chain"][parents].tolist(),
                    (vc["link"][parents] + 1).tolist(),
                    strict=True,
                )
            )

    def run(self):
        """Run the whole horizon (burn-in included) and return the result."""
        while self.running and self.steps < self.n_cycles:
            self.step()
        result = RegionResult.from_market(self)
        result.check_invariants()
        return result

    def count_waiting(self, t: float) -> int:
        """Seekers on a list at t (arrived, not housed, not left)."""
        reg = self.reg
        arrived = reg.arrival <= t
        return int((arrived & ~self._housed & (reg.deadline > t)).sum())
