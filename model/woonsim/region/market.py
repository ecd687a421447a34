"""`RegionalMarket`: Dutch social-rent allocation in a woningmarktregio (scenario kind
`region`), as a composition of small parts:

- `Municipality` agents (Mesa), each owning its slice of the stock and its counters;
- the stock and its flows (`woonsim.region.stock`): departures, new construction,
  demolition and sales, vacancy chains;
- the seekers of every group, a columnar set with vectorised behaviour
  (`woonsim.region.seekers`);
- the vacancy ledger (`woonsim.region.vacancies`);
- the channels (`woonsim.region.channels`), each owning its state, routed by the one
  allocator of woonsim (`woonsim.engine.allocator`), the same code that lets every
  stylized vacancy;
- the budgets of direct placement (`woonsim.region.budgets`) and the statushouder
  taakstelling (`woonsim.region.taakstelling`).

Time is Mesa's clock, in years since the start of the burn-in (calendar year = start_year
+ t - burn_in_years): `run_until(t)` runs to year t, `step()` advances one year. Advert
cycles (a week by default), half-years and years are scheduled events; vacancies are let
at the close of each cycle. The stock is frozen during the burn-in (no construction,
demolition or sales). Model-level data (`datacollector`) are collected at every
half-year boundary, for a dashboard to watch.
"""

from __future__ import annotations

import copy

import mesa
import numpy as np
from mesa.time import Priority

from woonsim.data import region as region_table
from woonsim.engine.allocator import Allocator
from woonsim.region.budgets import Budgets
from woonsim.region.cells import ELIGIBLE, KINDS, N_LOCAL, ROUTES
from woonsim.region.channels import Adverts, BindingOffers, DirectPlacement
from woonsim.region.results import RegionResult
from woonsim.region.scenario import Quota, RegionScenario
from woonsim.region.seekers import Seekers, draw_columns
from woonsim.region.stock import Stock
from woonsim.region.taakstelling import Taakstelling, period_of, periods, task_persons
from woonsim.region.vacancies import VacancyLedger
from woonsim.spec import require_kind
from woonsim.streams import as_seed_sequence, stream

__all__ = ["Municipality", "RegionalMarket"]

# quota modes: the channels tried by an ordinary (class 0) and a designated (class 1)
# vacancy; channel order: binding offers, statushouders, contingents, adverts
ROUTES_BY_MODE = {
    "none": [[0, 1, 2, 3], [0, 1, 2, 3]],
    "floor": [[0, 1, 2, 3], [0, 1, 2, 3]],
    "cap": [[3], [0, 1, 2, 3]],
    "ring_fenced": [[3], [0, 1, 2, 3]],
}


class Municipality(mesa.Agent):
    """A municipality: its corporation stock (a view into the region's stock), its
    counters, and what it is given: population, households, all dwellings."""

    def __init__(self, model: RegionalMarket, index: int, row, stock: Stock):
        super().__init__(model)
        self.index, self.code, self.name = index, row["code"], row["name"]
        self.population = int(row["population_2024"])
        self.households = int(row["households_2024"])
        self.corporation_start = int(row["corporation_2025"])
        self._stock = stock
        self._cells = slice(index * N_LOCAL, (index + 1) * N_LOCAL)

    # views into the region's stock, made on each access (so that a copied model's
    # municipalities see the copy's stock)
    @property
    def occupied(self) -> np.ndarray:
        return self._stock.occupied[self._cells]

    @property
    def vacant(self) -> np.ndarray:
        return self._stock.vacant[self._cells]

    @property
    def built(self) -> np.ndarray:
        """Completions per year."""
        return self._stock.built[:, self.index]

    @property
    def demolished(self) -> np.ndarray:
        return self._stock.demolished[:, self.index]

    @property
    def sold(self) -> np.ndarray:
        return self._stock.sold[:, self.index]

    @property
    def dwellings(self) -> int:
        """All dwellings (every tenure) now."""
        return int(self._stock.dwellings[self.index])

    @property
    def social_stock(self) -> int:
        return int(self.occupied.sum() + self.vacant.sum())

    @property
    def social_share(self) -> float:
        return self.social_stock / self.dwellings


class RegionalMarket(mesa.Model):
    """A woningmarktregio. Mesa's clock counts years; `step()` advances one year."""

    def __init__(self, scenario: RegionScenario, seed: int | np.random.SeedSequence = 0):
        require_kind(scenario, "region")
        self.seed = as_seed_sequence(seed)
        # woonsim draws from named streams (`woonsim.streams`); Mesa's own generator, from
        # its own stream, is there for Mesa's agent-set shuffles only
        super().__init__(rng=stream(self.seed, "mesa"))
        self.spec = sc = scenario
        table = region_table(sc.municipalities).to_dict("records")
        self.n_munis = len(table)
        self.codes = [r["code"] for r in table]
        self.dt = sc.allocation.cycle_weeks / 52.0
        self.horizon = sc.horizon
        self.n_cycles = int(round(self.horizon / self.dt))
        self.cycles_done = 0

        corporation = np.array([r["corporation_2025"] for r in table], float)
        dwellings = np.array([r["dwellings_2025"] for r in table], float)
        population = np.array([r["population_2024"] for r in table], float)
        households = np.array([r["households_2024"] for r in table], float)
        self._key_weights = {
            "households": households,
            "population": population,
            "social_stock": corporation,
            # toward_30: municipalities further below 30% social stock take more
            "toward_30": _toward_30(dwellings, corporation, population),
        }
        self.stock = Stock(sc, corporation, dwellings, self.codes, self._key_weights["toward_30"])
        self.munis = [Municipality(self, i, r, self.stock) for i, r in enumerate(table)]
        self.seekers = Seekers(
            draw_columns(sc, self.seed, households, population, self._key_weights.__getitem__),
            sc,
            self.seed,
        )
        al = sc.allocation
        # the quota is set by `_set_quota`: at once, or (`quota.start: window`) at the end
        # of the burn-in, which runs current practice until then
        self.mode = "none"
        self.vacancies = VacancyLedger(
            np.zeros(self.n_munis),
            False,
            al.lottery_share,
            al.local_binding_share,
            quota_rng=stream(self.seed, "quota"),
            label_rng=stream(self.seed, "labels"),
            quality_rng=stream(self.seed, "quality") if sc.choice is not None else None,
        )
        self.budgets = Budgets(
            np.full(self.n_munis, np.inf)
            if al.staff_capacity_per_1000_social is None
            else al.staff_capacity_per_1000_social * corporation / 1000,
            np.array([al.contingent_dwellings.get(c, 0.0) for c in self.codes])
            if al.contingent_dwellings is not None
            else al.contingent_per_1000_social * corporation / 1000,
        )
        st = sc.statushouders
        self.taakstelling = Taakstelling(
            task_persons(
                st.national_per_halfyear,
                st.national_population,
                self.codes,
                al.task_distribution,
                self._key_weights[al.task_distribution],
            ),
            st.persons_per_household,
            self.horizon,
        )
        self._chain_rng = stream(self.seed, "chains")
        self._completion_rng = stream(self.seed, "completions")
        self._chain_pending: list[tuple[float, int, int, int]] = []
        self._build_channels()
        self.norm_year = round(sc.burn_in_years) if al.quota.start == "window" else None
        self.lagging: np.ndarray | None = None  # where a lagging-only norm holds
        self.norm_in_force = False
        self._set_quota(al.quota if self.norm_year is None else Quota())
        self._schedule()
        self.datacollector = mesa.DataCollector(model_reporters=MODEL_REPORTERS)

    def _build_channels(self) -> None:
        sk, lg = self.seekers, self.vacancies
        rows = np.arange(len(sk))
        types_for_cell = [
            np.flatnonzero(ELIGIBLE[:, c % N_LOCAL]).tolist() for c in range(self.n_munis * N_LOCAL)
        ]

        def direct(name: str, kind: str, contingent: bool, ready_after=0.0) -> DirectPlacement:
            members = rows[sk.kind == KINDS[kind]]
            return DirectPlacement(
                name, sk, lg, self.budgets, members, contingent, self.n_munis, types_for_cell,
                ready_after,
            )  # fmt: skip

        self.binding = BindingOffers(sk, lg, rows[sk.kind == KINDS["urgent"]])
        self.statushouder_placement = direct(
            "statushouder", "statushouder", False, self.spec.statushouders.matching_weeks / 52
        )
        self.contingent_placement = direct("contingent", "contingent", True)
        self.adverts = Adverts(
            sk, lg, self.spec, self.n_munis, stream(self.seed, "reactions"),
            stream(self.seed, "lottery"),
        )  # fmt: skip
        self.allocator = Allocator(
            [self.binding, self.statushouder_placement, self.contingent_placement, self.adverts],
            ROUTES_BY_MODE[self.mode],
            route_class=self._route_class,
            on_let=self._on_let,
            route_classes=self._route_classes,
        )

    def _set_quota(self, q, where: np.ndarray | None = None) -> None:
        """Put quota `q` in force (in the municipalities `where`, if given)."""
        share = (
            np.array([q.share.get(c, 0.0) for c in self.codes])
            if isinstance(q.share, dict)
            else np.full(self.n_munis, float(q.share))
        )
        if where is not None:
            share = np.where(where, share, 0.0)
        self.mode = q.mode
        lg = self.vacancies
        lg.quota_share, lg.quota_on = share, q.mode != "none"
        lg.region_scope = q.scope == "region"
        lg.set_aandacht(self.seekers.aandacht if q.basis == "lettings" else None)
        self.adverts.mode = q.mode
        self.allocator.set_routes(ROUTES_BY_MODE[q.mode])

    def _introduce_norm(self) -> None:
        """The end of the burn-in under `quota.start: window`: the scenario's quota comes
        into force; with `applies_to: lagging`, only where the share of lettings to
        aandachtsgroepen in the last burn-in year fell short of the norm's share."""
        q = self.spec.allocation.quota
        where = None
        if q.applies_to == "lagging":
            lettings, aandacht = self.aandacht_lettings(self.norm_year - 1, self.norm_year)
            if q.scope == "region":
                lettings, aandacht = lettings.sum(keepdims=True), aandacht.sum(keepdims=True)
            with np.errstate(invalid="ignore", divide="ignore"):
                lag = aandacht < q.share * lettings - 1e-9
            where = np.broadcast_to(lag, (self.n_munis,)).copy()
        self.lagging = where
        self._set_quota(q, where)
        self.norm_in_force = True

    def aandacht_lettings(self, y0: float, y1: float) -> tuple[np.ndarray, np.ndarray]:
        """Lettings per municipality in model years (y0, y1], and those to aandachtsgroepen."""
        c = self.vacancies.columns()
        let = (c["let_to"] >= 0) & (c["let_time"] > y0 + 1e-9) & (c["let_time"] <= y1 + 1e-9)
        mu = c["muni"][let].astype(np.int64)
        to = c["let_to"][let]
        return (
            np.bincount(mu, minlength=self.n_munis),
            np.bincount(mu[self.seekers.aandacht[to]], minlength=self.n_munis),
        )

    def fork(self, scenario: RegionScenario) -> RegionalMarket:
        """A copy of this model, still in its burn-in, that runs on as `scenario`: a
        scenario that differs from this one only in its quota, introduced at the end of
        the burn-in (`quota.start: window`), so that the copy's run is the run of
        (`scenario`, seed) (tested). Policy variants share one burn-in this way."""
        q0, q1 = self.spec.allocation.quota, scenario.allocation.quota
        if q1.start != "window" or q0.start != "window":
            raise ValueError("fork: both quotas need start: window")
        al = self.spec.allocation.model_copy(update={"quota": q1})
        if self.spec.model_copy(update={"allocation": al}) != scenario:
            raise ValueError("fork: the scenarios may differ only in allocation.quota")
        if self.cycles_done * self.dt > self.norm_year + 1e-9:
            raise ValueError("fork: the model is past its burn-in")
        twin = copy.deepcopy(self, self._fork_memo())
        twin.spec = scenario
        if twin.norm_in_force:  # the new year has begun: the twin's own norm instead
            twin._introduce_norm()
        return twin

    def _fork_memo(self) -> dict[int, object]:
        """What `fork`'s deep copy takes as already copied: the parts' read-only columns
        and look-ups, shared; lists of numbers, copied shallowly; scratch space, fresh."""
        parts = [self.seekers, self.binding, self.statushouder_placement, self.contingent_placement]
        memo: dict[int, object] = {id(x): x for part in parts for x in part.read_only()}
        memo.update((id(x), x.copy()) for x in self.vacancies.flat_lists())
        memo.update((id(x), np.empty(0)) for x in self.seekers.scratch())
        return memo

    def _route_class(self, v: int) -> int:
        return int(self.vacancies.designated[v])

    def _route_classes(self, vacancies) -> list[int]:
        return self.vacancies.designated[np.asarray(vacancies, dtype=np.int64)].astype(int).tolist()

    def _on_let(self, v: int, s: int, k: int) -> None:
        self.seekers.mark_housed(s)  # gone for every other channel of the cycle

    # --- time: scheduled events ------------------------------------------------------
    def _cycle_end(self, k: int) -> float:
        """Model time (years) at which cycle k closes."""
        return (k + 1) * self.dt

    def _first_cycle_at_or_after(self, t: float) -> int:
        """The first cycle that starts in the period beginning at t (a year or half-year
        starts with the first cycle that starts in it)."""
        k = int(np.floor(t / self.dt))
        while k * self.dt + 1e-9 < t:
            k += 1
        while k > 0 and (k - 1) * self.dt + 1e-9 >= t:
            k -= 1
        return k

    def _schedule(self) -> None:
        """Schedule every cycle, year and half-year boundary. At one instant the cycle that
        closes there runs first (priority HIGH), then the new year and half-year (LOW)."""
        for yi in range(int(np.ceil(self.horizon - 1e-9))):
            k = self._first_cycle_at_or_after(yi)
            if k < self.n_cycles:
                self.schedule_event(self._year_start, at=k * self.dt, priority=Priority.LOW)
        for h in range(1, int(np.ceil(2 * self.horizon - 1e-9)) + 1):
            k = min(self._first_cycle_at_or_after(h / 2), self.n_cycles)
            self.schedule_event(self._half_year_end, at=k * self.dt, priority=Priority.LOW)
        self.schedule_event(self._cycle, at=self._cycle_end(0), priority=Priority.HIGH)

    def _year_start(self) -> None:
        """A new year: yearly budgets, the stock at the start of the year."""
        yi = int(np.floor(self.cycles_done * self.dt + 1e-9))
        if yi == self.norm_year:
            self._introduce_norm()
        self.budgets.new_year()
        self.vacancies.new_year()
        self.stock.year_start(yi)

    def _half_year_end(self) -> None:
        self.datacollector.collect(self)

    def _cycle(self) -> None:
        """The cycle that closes now: stock flows of the cycle, then the lettings."""
        k = self.cycles_done
        t0, t1 = k * self.dt, self._cycle_end(k)
        yi = int(np.floor(t0 + 1e-9))
        frozen = t0 < self.spec.burn_in_years - 1e-9
        # a departure stream per cycle: a policy that changes occupancy changes this
        # cycle's draws only, not every later cycle's (closer common random numbers)
        new = self.stock.departures(t0, t1, frozen, yi, stream(self.seed, f"departures/{k + 1}"))
        if new is not None:
            self.vacancies.add(*new, source=0)
        if not frozen:
            new = self.stock.completions(t0, t1, yi, self._completion_rng)
            if new is not None:
                self.vacancies.add(*new, source=1)
        self._release_chain_vacancies(t1)
        lg = self.vacancies
        open_ = np.asarray(lg.open, dtype=np.int64)
        vacancies = open_[np.lexsort((open_, lg.arise[open_]))].tolist()
        out = self._route_names(self.allocator.allocate_cycle(vacancies, t1))
        self._record_lettings(out, t1)
        lg.open = [v for v in vacancies if v not in out]
        self._withdraw_unlet(t1)
        self.cycles_done = k + 1
        if self.cycles_done < self.n_cycles:
            self.schedule_event(self._cycle, at=self._cycle_end(k + 1), priority=Priority.HIGH)
        else:
            self.running = False

    def advance(self, cycles: int = 1) -> None:
        """Run the next `cycles` advert cycles (to the exact close of the last one)."""
        k = min(self.cycles_done + cycles, self.n_cycles)
        if k > self.cycles_done:
            self.run_until(self._cycle_end(k - 1))

    # --- flows between the parts ------------------------------------------------------
    def _withdraw_unlet(self, t1: float) -> None:
        """Vacancies unlet for `withdraw_after_weeks` are let outside the lists (direct
        te huur, to a household not on the region's lists): occupied from now on, no
        longer advertised (docs/ODD.md §B1.3; an ASSUMPTION). This keeps a loose market's
        open vacancies, and so its cost per cycle, bounded."""
        weeks = self.spec.allocation.withdraw_after_weeks
        lg = self.vacancies
        if weeks is None or not lg.open:
            return
        open_ = np.asarray(lg.open, dtype=np.int64)
        old = t1 - lg.arise[open_] >= weeks / 52 - 1e-9
        if not old.any():
            return
        gone = open_[old]
        lg.withdraw(gone, t1)
        self.stock.let(lg.cell[gone])
        lg.open = open_[~old].tolist()

    def _release_chain_vacancies(self, t1: float) -> None:
        """A housed doorstromer's old dwelling falls vacant at the end of the notice."""
        due = [c for c in self._chain_pending if c[0] <= t1]
        if not due:
            return
        self._chain_pending = [c for c in self._chain_pending if c[0] > t1]
        # the household may have left that dwelling already (a departure drew it); two
        # movers from one cell free no more dwellings than the cell has occupied
        left: dict[int, int] = {}
        kept = []
        for c in due:
            n = left.get(c[1], int(self.stock.occupied[c[1]]))
            if n > 0:
                kept.append(c)
                left[c[1]] = n - 1
        due = kept
        arise = np.array([c[0] for c in due])
        cells = np.array([c[1] for c in due], dtype=np.int64)
        chain = np.array([c[2] for c in due], dtype=np.int64)
        link = np.array([c[3] for c in due], dtype=np.int32)
        self.stock.free(cells)
        muni = (cells // N_LOCAL).astype(np.int16)
        self.vacancies.add(arise, muni, cells, 2, chain, link)

    def _route_names(self, lettings) -> dict[int, tuple[int, str]]:
        """{vacancy: (seeker, route)}: an advert letting is `lottery` on a lottery advert."""
        names = [ch.name for ch in self.allocator.channels]
        lottery = self.vacancies.lottery
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
        lg, sk = self.vacancies, self.seekers
        lg.record_lettings(v, s, t)
        sk.dwelling[s] = v
        sk.route[s] = routes
        self.stock.let(lg.cell[v])
        sh = sk.kind[s] == KINDS["statushouder"]
        if sh.any():
            self.taakstelling.record(t, lg.muni[v[sh]])
        leavers = sk.leaves[s]
        if leavers.any():
            # each doorstromer's old dwelling: a cell of their home municipality drawn in
            # proportion to its occupied dwellings (one vectorised draw per cycle)
            home = sk.muni[s[leavers]].astype(np.int64)
            occupied = self.stock.occupied.reshape(self.n_munis, N_LOCAL)
            cum = np.cumsum(occupied[home], axis=1)
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
                    lg.chain[parents].tolist(),
                    (lg.link[parents] + 1).tolist(),
                    strict=True,
                )
            )

    # --- results ---------------------------------------------------------------------
    def run(self) -> RegionResult:
        """Run the whole horizon (burn-in included) and return the result."""
        self.advance(self.n_cycles - self.cycles_done)
        return self.result()

    def result(self) -> RegionResult:
        """The result of the run so far (invariants checked)."""
        result = RegionResult.from_parts(
            spec=self.spec,
            seed=self.seed,
            now=self.cycles_done * self.dt if self.cycles_done < self.n_cycles else self.horizon,
            munis=self.munis,
            seekers=self.seekers,
            vacancies=self.vacancies,
            stock=self.stock,
            taakstelling=self.taakstelling,
        )
        result.check_invariants()
        return result

    def count_waiting(self, t: float) -> int:
        """Seekers on a list at t (arrived, not housed, not gone)."""
        return self.seekers.count_waiting(t)


def _toward_30(dwellings, corporation, population) -> np.ndarray:
    gap = np.clip(0.30 * dwellings - corporation, 0, None)
    return gap if gap.sum() > 0 else population


def _backlog_now(m: RegionalMarket) -> float:
    h = period_of(max(m.time, 1e-9), 2)
    h0 = periods(m.spec.burn_in_years, m.horizon, 2)[0]
    if h < h0:
        return 0.0
    return float(m.taakstelling.backlog(h0, h + 1)[-1].sum())


# what the data collector records at every half-year boundary (a dashboard's view)
MODEL_REPORTERS = {
    "year": lambda m: m.spec.start_year + m.time - m.spec.burn_in_years,
    "waiting": lambda m: m.seekers.count_waiting(m.time),
    "housed": lambda m: int(m.seekers.housed.sum()),
    "lettings": lambda m: int((m.vacancies.let_to[: m.vacancies.n] >= 0).sum()),
    "open_vacancies": lambda m: len(m.vacancies.open),
    "social_stock": lambda m: int(m.stock.social_stock().sum()),
    "statushouder_backlog": _backlog_now,
}
