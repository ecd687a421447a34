"""Results of a regional run: the per-group cohort summary of `RunResult` plus the Dutch
outputs: registration and search times, routes, municipalities, stock against 30%,
statushouder backlog, vacancy chains, reactions and refusals, and yearly tables.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from woonsim.errors import InvariantError
from woonsim.files import write_atomically
from woonsim.region.cells import ELIGIBLE, ELIGIBLE_RELAXED, KINDS, N_LOCAL, ROUTES
from woonsim.region.taakstelling import period_of, periods, reported
from woonsim.results import CENSORED, HOUSED, RunResult, check_shares, take
from woonsim.stationarity import diagnose

if TYPE_CHECKING:
    from woonsim.region.scenario import RegionScenario
    from woonsim.region.seekers import Seekers
    from woonsim.region.stock import Stock
    from woonsim.region.taakstelling import Taakstelling
    from woonsim.region.vacancies import VacancyLedger

__all__ = ["RegionResult"]


def mean(x: np.ndarray) -> float | None:
    """The mean of a sample (None when empty)."""
    return float(np.mean(x)) if len(x) else None


def _dist(x: np.ndarray) -> dict | None:
    """Median, mean and the 10th/90th percentiles of a sample (None when empty)."""
    if len(x) == 0:
        return None
    p10, p50, p90 = np.quantile(x, [0.1, 0.5, 0.9])
    return {
        "n": len(x),
        "mean": float(x.mean()),
        "p10": float(p10),
        "median": float(p50),
        "p90": float(p90),
    }


@dataclass
class RegionResult:
    """Everything recorded in a regional run: the engine's per-seeker records and the
    parts of the region (municipalities, seekers, vacancy ledger, stock, taakstelling)."""

    base: RunResult  # per-seeker records and the cohort summary
    spec: RegionScenario
    seed: np.random.SeedSequence
    horizon: float
    munis: list
    seekers: Seekers
    vacancies: VacancyLedger
    stock: Stock
    taakstelling: Taakstelling

    @classmethod
    def from_parts(
        cls, *, spec, seed, now, munis, seekers, vacancies, stock, taakstelling
    ) -> RegionResult:
        vc = vacancies.columns()
        let_time = np.where(vc["let_to"] >= 0, vc["let_time"], np.inf)
        base = RunResult.from_engine(
            scenario=spec,
            seed=seed,
            now=now,
            group=seekers.group,
            arrival=seekers.arrival,
            deadline=seekers.deadline,
            dwelling=seekers.dwelling,
            vacancy_time=let_time,
            vacancy_class=vc["designated"].astype(np.int8),
            let_to=vc["let_to"],
            # work conservation needs each channel's own rule of who may take a vacancy
            # (eligibility, budgets, urgency): the one allocator checks it at every cycle
            # (`Channel.has_taker`), so the records-based check of stylized runs is off
            reachable=None,
            waiting_in_lists=seekers.count_waiting(now),
        )
        return cls(base, spec, seed, spec.horizon, munis, seekers, vacancies, stock, taakstelling)

    @property
    def n_munis(self) -> int:
        return len(self.munis)

    # --- measures --------------------------------------------------------------------
    @property
    def vac(self) -> dict[str, np.ndarray]:
        """The vacancy ledger's columns."""
        return self.vacancies.columns()

    @cached_property
    def stationarity(self) -> dict:
        """The run's stationarity verdict (`woonsim.stationarity.diagnose`), computed once."""
        return diagnose(self)

    @cached_property
    def patterns(self) -> dict:
        """The observed patterns of search and allocation in the reported years (docs/
        ODD.md §B2), computed once: over advert and lottery lettings, refusals per
        letting, the taker's place in the ranking, reactions per regular and per lottery
        advert and the share let to a household of the dwelling's own municipality; for
        statushouders, the time from permit to housing (time in reception) and the
        share of each half-year's task plus backlog housed in it."""
        m, v = self, self.vac
        taker = np.maximum(v["let_to"], 0)
        advert, regular, lottery = self._advert_lettings()

        b = self.base
        sh = (b.reason == HOUSED) & self._reported(b.exit)
        sh &= m.seekers.kind == KINDS["statushouder"]
        out = {
            "refusals_per_letting": mean(v["offers"][advert] - 1),
            "refusals_per_letting_regular": mean(v["offers"][regular] - 1),
            "refusals_per_letting_lottery": mean(v["offers"][lottery] - 1),
            "place_of_taker": mean(v["place"][advert]),
            "reactions_per_regular_advert": self.reactions_per_advert("regular"),
            "reactions_per_lottery_advert": self.reactions_per_advert("lottery"),
            "own_municipality_share": mean(
                (m.seekers.muni[taker[advert]] == v["muni"][advert]).astype(float)
            ),
            "time_in_reception": mean((b.exit - m.seekers.registration)[sh]),
            "taakstelling_realisation": self._realisation(),
        }
        return out

    def _advert_lettings(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Vacancy masks of the reported lettings through the adverts: all, the ranked
        (regular) ones and the lottery ones."""
        v = self.vac
        let = self.reported_lettings()
        advert = let & (take(self.seekers.route, np.where(let, v["let_to"], -1), -1) <= 1)
        return advert, advert & ~v["lottery"], advert & v["lottery"]

    def reactions_per_advert(self, kind: str, munis=None) -> float | None:
        """Mean reactions per let `regular` or `lottery` advert, of the municipalities
        `munis` (indices; None: all)."""
        _, regular, lottery = self._advert_lettings()
        sel = regular if kind == "regular" else lottery
        if munis is not None:
            sel = sel & np.isin(self.vac["muni"], munis)
        return mean(self.vac["reactions"][sel])

    def _in_reception_at(self, T: float) -> np.ndarray:
        """Statushouder households linked to each municipality and not yet housed at T."""
        b = self.base
        sh = self.seekers.kind == KINDS["statushouder"]
        left = np.where(b.reason[sh] == CENSORED, np.inf, b.exit[sh])
        waiting = (b.arrival[sh] <= T) & (left > T)
        return np.bincount(self.seekers.muni[sh][waiting], minlength=self.n_munis)

    def in_reception(self) -> np.ndarray:
        """(reported half-year ends, municipalities): statushouder households linked to
        the municipality and not yet housed, the backlog a municipality reports when its
        task follows the linkings (ODD §B2)."""
        h0, h1 = periods(self.spec.burn_in_years, self.horizon, 2)
        ends = [min(h / 2, self.horizon) for h in range(h0 + 1, h1 + 1)]
        return np.array([self._in_reception_at(t) for t in ends])

    def _realisation(self, munis=None) -> float | None:
        """Households housed in each reported half-year / (its task + the households in
        reception at its start), over the region or the municipalities `munis`
        (indices); the mean over the half-years."""
        sc = self.spec
        if not any(g.kind == "statushouder" for g in sc.groups):
            return None
        tk = self.taakstelling
        cols = list(range(self.n_munis)) if munis is None else list(munis)
        h0, h1 = periods(sc.burn_in_years, self.horizon, 2)
        waiting = [self._in_reception_at(h / 2)[cols].sum() for h in range(h0, h1)]
        task = tk.persons[..., cols].sum() / tk.persons_per_household
        housed = tk.housed[h0:h1][:, cols].sum(axis=1)
        due = task + np.array(waiting, dtype=float)
        owed = due > 0  # a half-year with no task and nobody waiting owes nothing
        return float(np.mean(housed[owed] / due[owed])) if owed.any() else None

    def _reported(self, t: np.ndarray) -> np.ndarray:
        """Times in the reported calendar years (after the burn-in), by `period_of`."""
        return reported(t, self.spec.burn_in_years)

    def summary(self) -> dict:
        m, b, sc = self, self.base, self.spec
        out = b.summary()
        housed = b.reason == HOUSED
        reported = self._reported(b.exit)
        let_t = b.exit
        reg_time = let_t - m.seekers.registration
        search = let_t - b.arrival
        names = sc.group_names
        for gi, name in enumerate(names):
            sel = housed & reported & (b.group == gi)
            routes = np.bincount(m.seekers.route[sel], minlength=len(ROUTES))
            out["groups"][name].update(
                {
                    "aandachtsgroep": sc.groups[gi].aandachtsgroep,
                    "kind": sc.groups[gi].kind,
                    "registration_time_at_letting": _dist(reg_time[sel]),
                    "search_time_at_letting": _dist(search[sel]),
                    "lettings_by_route": {r: int(routes[i]) for i, r in enumerate(ROUTES)},
                }
            )
        v = self.vac
        let = self.reported_lettings()
        years = sc.years
        aandacht = m.seekers.aandacht[v["let_to"][let]]
        advert_route = take(m.seekers.route, v["let_to"], -1)  # advert or lottery
        chains = self._chain_lengths()
        out["region"] = {
            "municipalities": [x.code for x in m.munis],
            "years_reported": [sc.start_year, sc.start_year + int(np.ceil(years - 1e-9)) - 1],
            "lettings_per_year": float(let.sum() / years),
            "aandachtsgroep_share_of_lettings": float(aandacht.mean()) if let.any() else None,
            "priority_share_of_lettings": self._priority_share(let),
            "reactions_per_advert": _dist(v["reactions"][let & (advert_route <= 1)]),
            **self.patterns,
            "vacancy_chain_length": _dist(chains) if len(chains) else None,
            "vacancies_open_at_end": len(m.vacancies.open),
            "vacancies_withdrawn_per_year": float(
                self._reported(np.nan_to_num(v["withdrawn"], nan=-1.0)).sum() / years
            ),
            **self._seeker_counts(),
            "statushouder_backlog_at_end": self.statushouder_backlog()[-1].tolist(),
        }
        out["municipalities"] = self.municipality_summary()
        out["stationarity"] = self.stationarity
        return out

    def reported_lettings(self) -> np.ndarray:
        """Vacancy mask: the dwellings let within the reported window."""
        v = self.vac
        return (v["let_to"] >= 0) & self._reported(np.where(v["let_to"] >= 0, v["let_time"], 0))

    def priority_share(self, munis=None) -> float | None:
        """The share of reported lettings to voorrangskandidaten (`_priority_share`) of
        the dwellings in the municipalities `munis` (indices; None: all)."""
        v = self.vac
        let = self.reported_lettings()
        if munis is not None:
            let &= np.isin(v["muni"], munis)
        return self._priority_share(let)

    def _priority_share(self, let: np.ndarray) -> float | None:
        """The share of the reported lettings `let` (vacancy mask) to voorrangskandidaten:
        through a priority route (binding offer, direct placement, contingent) or on a
        ranked advert to an urgent household holding its urgency. Studenten and
        arbeidsmigranten on the adverts, and lottery winners, compete without priority."""
        if not let.any():
            return None
        v, sk = self.vac, self.seekers
        s = v["let_to"][let]
        t = v["let_time"][let]
        route = sk.route[s]
        urgent = (sk.kind[s] == KINDS["urgent"]) & (sk.urgency_start[s] <= t)
        urgent &= sk.urgency_expiry[s] >= t
        priority = (route >= ROUTES.index("binding")) | ((route == 0) & urgent & ~v["lottery"][let])
        return float(priority.mean())

    def _seeker_counts(self) -> dict:
        """Per reported year, averaged: active seekers (reacted at least once in the
        year), registered households at the end of the year (registered, not yet housed
        or gone; includes those not yet searching), and slaagkans (lettings through the
        adverts and lotteries / active seekers, as Maaskoepel defines it; years without
        an active seeker have none, and a run without any has None). A household let a
        dwelling through an advert reacted in that year, so slaagkans is at most 1."""
        m, b = self, self.base
        y0, y1 = periods(m.spec.burn_in_years, m.horizon)
        active = m.seekers.active_per_year[y0:y1]
        regular = m.seekers.kind == KINDS["regular"]
        advert_kinds = regular | (m.seekers.kind == KINDS["urgent"])
        # still there at the end of year y (those waiting at the horizon are censored)
        still = {y: (b.exit > y + 1) | (b.reason == CENSORED) for y in range(y0, y1)}
        registered = [
            int(((m.seekers.registration <= y + 1) & still[y] & advert_kinds).sum())
            for y in range(y0, y1)
        ]
        by_advert = (b.reason == HOUSED) & advert_kinds & np.isin(m.seekers.route, (0, 1))
        let_year = period_of(np.where(by_advert, b.exit, -1.0), 1)
        lettings = np.array([int((let_year == y).sum()) for y in range(y0, y1)])
        some = active > 0
        return {
            "active_seekers_per_year": float(active.mean()),
            "registered_end_of_year": float(np.mean(registered)),
            "slaagkans": float((lettings[some] / active[some]).mean()) if some.any() else None,
        }

    def _chain_lengths(self) -> np.ndarray:
        """Vacancies per chain, for chains started (by a departure or new-build) after the
        burn-in and at least a year before the end."""
        v = self.vac
        start = v["link"] == 0
        t_end = self.horizon - 1
        ok = start & self._reported(v["arise"]) & (v["arise"] < t_end)
        counts = np.bincount(v["chain"], minlength=len(v["chain"]))
        return counts[np.flatnonzero(ok)]

    def municipality_summary(self) -> list[dict]:
        m, b = self, self.base
        v = self.vac
        let = self.reported_lettings()
        tenant = v["let_to"][let]
        muni = v["muni"][let]
        aandacht = m.seekers.aandacht[tenant]
        pop = np.array([x.population for x in m.munis], float)
        social0 = np.array([x.corporation_start for x in m.munis], float)
        total_aandacht = max(int(aandacht.sum()), 1)
        reg_time = b.exit - m.seekers.registration
        search = b.exit - b.arrival
        y_start = periods(m.spec.burn_in_years, m.horizon)[0]
        out = []
        for i, x in enumerate(m.munis):
            mine = muni == i
            housed_here = tenant[mine]
            out.append(
                {
                    "code": x.code,
                    "name": x.name,
                    "lettings": int(mine.sum()),
                    "aandachtsgroep_lettings": int(aandacht[mine].sum()),
                    "share_of_aandachtsgroep_lettings": float(
                        aandacht[mine].sum() / total_aandacht
                    ),
                    "share_of_social_stock_2025": (
                        float(social0[i] / social0.sum()) if social0.sum() > 0 else None
                    ),
                    "share_of_population": float(pop[i] / pop.sum()),
                    "aandachtsgroep_share_of_new_tenants": (
                        float(aandacht[mine].mean()) if mine.any() else None
                    ),
                    "registration_time_at_letting": _dist(reg_time[housed_here]),
                    "search_time_at_letting": _dist(search[housed_here]),
                    "groups": {
                        name: {
                            "lettings": int((b.group[housed_here] == gi).sum()),
                            "registration_time_at_letting": _dist(
                                reg_time[housed_here[b.group[housed_here] == gi]]
                            ),
                            "search_time_at_letting": _dist(
                                search[housed_here[b.group[housed_here] == gi]]
                            ),
                        }
                        for gi, name in enumerate(m.spec.group_names)
                    },
                    "social_share_start": float(
                        social0[i] / m.stock.dwellings_at_year_start[y_start][i]
                    ),
                    "social_share_end": x.social_share,
                }
            )
        return out

    def statushouder_backlog(self) -> np.ndarray:
        """(half-years, municipalities): task in households minus households housed,
        carried over from half-year to half-year, from the start of the reporting period."""
        m = self
        sc = m.spec
        if not any(g.kind == "statushouder" for g in sc.groups):
            return np.zeros((1, m.n_munis), np.int64)
        return m.taakstelling.backlog(*periods(sc.burn_in_years, m.horizon, 2))

    # --- tables ----------------------------------------------------------------------
    def yearly_table(self) -> pa.Table:
        """Per calendar year and municipality: stock against 30%, flows, lettings by group
        and the median registration and search time of those lettings."""
        m, b = self, self.base
        sc = m.spec
        v = self.vac
        let = v["let_to"] >= 0
        lt = np.where(let, v["let_time"], np.nan)
        y0, y1 = periods(sc.burn_in_years, m.horizon)
        n_groups = len(sc.groups)
        rows = []
        for yi in range(y0, y1):
            year = sc.start_year + yi - y0
            in_year = let & (period_of(np.nan_to_num(lt, nan=-1.0), 1) == yi)
            # on a list at the end of the year (home municipality): arrived, not yet left
            on_list = (b.arrival <= yi + 1) & ((b.exit > yi + 1) | (b.reason == CENSORED))
            waiting = np.bincount(
                m.seekers.muni[on_list].astype(np.int64) * n_groups + b.group[on_list],
                minlength=m.n_munis * n_groups,
            )
            for i, x in enumerate(m.munis):
                mine = in_year & (v["muni"] == i)
                tenants = v["let_to"][mine]
                for gi, name in enumerate(sc.group_names):
                    t_g = tenants[b.group[tenants] == gi]
                    rows.append(
                        {
                            "year": year,
                            "municipality": x.code,
                            "group": name,
                            "lettings": len(t_g),
                            "waiting_end_of_year": int(waiting[i * n_groups + gi]),
                            "median_registration_time": float(
                                np.median(b.exit[t_g] - m.seekers.registration[t_g])
                            )
                            if len(t_g)
                            else None,
                            "median_search_time": float(np.median(b.exit[t_g] - b.arrival[t_g]))
                            if len(t_g)
                            else None,
                            "stock_start": int(m.stock.at_year_start[yi, i]),
                            "dwellings_start": int(m.stock.dwellings_at_year_start[yi, i]),
                            "social_share_start": float(
                                m.stock.at_year_start[yi, i]
                                / m.stock.dwellings_at_year_start[yi, i]
                            ),
                            "built_social": int(m.stock.built[yi, i]),
                            "built_total": int(m.stock.built_total[yi, i]),
                            "demolished": int(m.stock.demolished[yi, i]),
                            "sold": int(m.stock.sold[yi, i]),
                        }
                    )
        return pa.Table.from_pylist(rows)

    def backlog_table(self) -> pa.Table:
        """Per half-year and municipality: the taakstelling backlog (task minus housed,
        carried over) and the waiting line in reception (statushouder households linked
        to the municipality and not yet housed at the end of the half-year)."""
        m, b = self, self.base
        bl = self.statushouder_backlog()
        sc = m.spec
        h0 = periods(sc.burn_in_years, m.horizon, 2)[0]
        sh = np.flatnonzero(m.seekers.kind == KINDS["statushouder"])
        rows = []
        for h in range(len(bl)):
            t_end = (h0 + h + 1) / 2
            housed = (b.reason[sh] == HOUSED) & (b.exit[sh] <= t_end)
            waiting = sh[(b.arrival[sh] <= t_end) & ~housed]
            in_line = np.bincount(m.seekers.muni[waiting], minlength=m.n_munis)
            rows += [
                {
                    "halfyear": f"{sc.start_year + h // 2}-H{h % 2 + 1}",
                    "municipality": x.code,
                    "taakstelling_backlog_households": float(bl[h, i]),
                    "waiting_in_reception_households": int(in_line[i]),
                }
                for i, x in enumerate(m.munis)
            ]
        return pa.Table.from_pylist(rows)

    def seekers_table(self) -> pa.Table:
        m, b = self, self.base
        t = b.seekers_table()
        codes = pa.array([x.code for x in m.munis], pa.string())
        home = pa.DictionaryArray.from_arrays(pa.array(m.seekers.muni.astype(np.int16)), codes)
        dwelling_muni = take(self.vac["muni"], b.dwelling, -1)
        t = t.set_column(
            t.schema.get_field_index("municipality"),
            "municipality",
            pa.DictionaryArray.from_arrays(
                pa.array(dwelling_muni.astype(np.int16), mask=b.dwelling < 0), codes
            ),
        )
        route = pa.DictionaryArray.from_arrays(
            pa.array(m.seekers.route, mask=m.seekers.route < 0), pa.array(ROUTES, pa.string())
        )
        return (
            t.append_column("home_municipality", home)
            .append_column("registration", pa.array(m.seekers.registration))
            .append_column("route", route)
            .append_column("refusals", pa.array(m.seekers.refusals))
        )

    def vacancies_table(self) -> pa.Table:
        v = self.vac
        let = v["let_to"] >= 0
        codes = [x.code for x in self.munis]
        cell = v["cell"] % N_LOCAL
        return pa.table(
            {
                "vacancy": pa.array(np.arange(len(let), dtype=np.int64)),
                "arise": pa.array(v["arise"]),
                "municipality": pa.DictionaryArray.from_arrays(
                    pa.array(v["muni"].astype(np.int16)), pa.array(codes, pa.string())
                ),
                "segment": pa.array((cell // 3).astype(np.int8)),
                "label": pa.array((cell % 3).astype(np.int8)),
                "source": pa.DictionaryArray.from_arrays(
                    pa.array(v["source"]), pa.array(["departure", "newbuild", "chain"])
                ),
                "chain": pa.array(v["chain"]),
                "link": pa.array(v["link"]),
                "designated": pa.array(v["designated"]),
                "lottery": pa.array(v["lottery"]),
                "let_time": pa.array(v["let_time"], mask=~let),
                "seeker": pa.array(v["let_to"], mask=~let),
                "withdrawn": pa.array(v["withdrawn"], mask=np.isnan(v["withdrawn"])),
                "reactions": pa.array(v["reactions"]),
                "offers": pa.array(v["offers"]),
            }
        )

    def summary_json(self) -> str:
        return json.dumps(check_shares(self.summary()), indent=2, allow_nan=False) + "\n"

    def write(self, out_dir, extra=None):
        """Write summary.json and the Parquet tables; `extra(tmp_dir)` may add files to the
        same all-or-nothing write."""

        def files(tmp):
            if extra is not None:
                extra(tmp)
            (tmp / "summary.json").write_text(self.summary_json(), encoding="utf-8")
            meta = self.base._metadata()
            for name, table in (
                ("seekers", self.seekers_table()),
                ("vacancies", self.vacancies_table()),
                ("yearly", self.yearly_table()),
                ("statushouder_backlog", self.backlog_table()),
            ):
                pq.write_table(table.replace_schema_metadata(meta), tmp / f"{name}.parquet")

        return write_atomically(out_dir, files, replace="summary.json")  # a run: a set

    # --- invariants ------------------------------------------------------------------
    def check_invariants(self) -> None:
        """The engine's invariants plus the Dutch ones, each a vectorised pass over the
        run's records (`InvariantError` names the first that fails):
        stock accounting per municipality in every year, the last included, and no
        negative stock; the vacancy ledger against the stock's vacancy counters and the
        construction counters; flow conservation per group, with housed counted from the
        ledger; every letting to a household it suits, after the vacancy arose; route
        rules (binding offers to urgent households only, lottery lettings only on lottery
        adverts, direct placements only to their groups, designations and the yearly
        budgets of direct placement respected); the statushouder bookkeeping against the
        lettings; withdrawals."""
        self.base.check_invariants()
        self._check_stock()
        self._check_ledger()
        self._check_flows()
        self._check_lettings()
        self._check_routes()
        self._check_budgets()
        self._check_taakstelling()

    def _year_starts(self) -> list[int]:
        """Model years whose start the run reached (a year starts with its first cycle)."""
        dt = self.spec.allocation.cycle_weeks / 52
        n_cycles = int(round(self.horizon / dt))
        out = []
        for y in range(int(np.ceil(self.horizon - 1e-9))):
            k = int(np.ceil(y / dt - 1e-9))
            while k > 0 and (k - 1) * dt + 1e-9 >= y:
                k -= 1
            while k * dt + 1e-9 < y:
                k += 1
            if k < n_cycles and k * dt <= self.base.now + 1e-9:
                out.append(y)
        return out

    def _check_stock(self) -> None:
        st = self.stock
        if (st.occupied < 0).any() or (st.vacant < 0).any():
            raise InvariantError("negative occupied or vacant stock")
        s = st.at_year_start
        years = self._year_starts()
        now = st.social_stock()
        for i, y in enumerate(years):
            after = s[years[i + 1]] if i + 1 < len(years) else now
            expected = s[y] + st.built[y] - st.demolished[y] - st.sold[y]
            if not np.array_equal(after, expected):
                bad = int(np.flatnonzero(after != expected)[0])
                raise InvariantError(
                    f"stock accounting fails in year index {y} in {self.munis[bad].code}: "
                    f"{int(after[bad])} corporation dwellings, expected {int(expected[bad])}"
                )

    def _check_ledger(self) -> None:
        v = self.vac
        open_ = (v["let_to"] < 0) & np.isnan(v["withdrawn"])
        counted = np.bincount(v["cell"][open_], minlength=len(self.stock.vacant))
        if not np.array_equal(counted, self.stock.vacant):
            raise InvariantError(
                f"vacancy ledger: {int(open_.sum())} open vacancies, but the stock counts "
                f"{int(self.stock.vacant.sum())} vacant dwellings"
            )
        if sorted(self.vacancies.open) != np.flatnonzero(open_).tolist():
            raise InvariantError("vacancy ledger: the open list and the open rows differ")
        built = np.bincount(v["muni"][v["source"] == 1], minlength=self.n_munis)
        if not np.array_equal(built, self.stock.built.sum(axis=0)):
            raise InvariantError("vacancy ledger: new-build vacancies differ from completions")

    def _check_flows(self) -> None:
        """arrived = housed + gave up + waiting, per group; housed from the ledger,
        waiting from the seekers' own state."""
        b, sk = self.base, self.seekers
        G = len(self.spec.groups)
        v = self.vac
        tenants = v["let_to"][v["let_to"] >= 0]
        arrived = np.bincount(b.group, minlength=G)
        housed = np.bincount(b.group[tenants], minlength=G)
        gave_up = np.bincount(b.group[b.reason == 1], minlength=G)
        waiting_now = (sk.arrival <= b.now) & ~sk.housed & (sk.deadline > b.now)
        waiting = np.bincount(b.group[waiting_now], minlength=G)
        if not np.array_equal(arrived, housed + gave_up + waiting):
            g = int(np.flatnonzero(arrived != housed + gave_up + waiting)[0])
            raise InvariantError(
                f"flow conservation, group {self.spec.groups[g].name!r}: {int(arrived[g])} "
                f"arrived, {int(housed[g])} housed + {int(gave_up[g])} gave up + "
                f"{int(waiting[g])} waiting"
            )
        if not np.array_equal(sk.housed, sk.dwelling >= 0):
            raise InvariantError("a household is marked housed without a dwelling, or not")

    def _check_lettings(self) -> None:
        m = self
        v = self.vac
        let = np.flatnonzero(v["let_to"] >= 0)
        ht, cell = m.seekers.htype[v["let_to"][let]], v["cell"][let] % N_LOCAL
        relaxed = v["let_time"][let] - v["arise"][let] >= (
            m.spec.allocation.relax_after_weeks / 52 - 1e-9
        )
        suits = ELIGIBLE[ht, cell] | (relaxed & ELIGIBLE_RELAXED[ht, cell])
        if not suits.all():
            raise InvariantError("a dwelling was let to a household it does not suit")
        if (v["let_time"][let] < v["arise"][let] - 1e-9).any():
            raise InvariantError("a dwelling was let before it fell vacant")
        out = ~np.isnan(v["withdrawn"])
        weeks = m.spec.allocation.withdraw_after_weeks
        if (out & (v["let_to"] >= 0)).any() or (
            out.any()
            and (weeks is None or (v["withdrawn"][out] - v["arise"][out] < weeks / 52 - 1e-6).any())
        ):
            raise InvariantError("a vacancy was withdrawn while let, or before its time")

    def _check_routes(self) -> None:
        sk, v = self.seekers, self.vac
        let = np.flatnonzero(v["let_to"] >= 0)
        s = v["let_to"][let]
        route, kind = sk.route[s], sk.kind[s]
        allowed = {  # route: the kinds it may house
            ROUTES.index("binding"): [KINDS["urgent"]],
            ROUTES.index("statushouder"): [KINDS["statushouder"]],
            ROUTES.index("contingent"): [KINDS["contingent"]],
        }
        for r, kinds in allowed.items():
            if ((route == r) & ~np.isin(kind, kinds)).any():
                what = "binding offer" if ROUTES[r] == "binding" else "direct placement"
                raise InvariantError(f"a {what} ({ROUTES[r]}) went to a group without that route")
        if ((route < 0) | (route >= len(ROUTES))).any():
            raise InvariantError("a letting has no route")
        lottery = v["lottery"][let]
        advert, drawn = route == ROUTES.index("advert"), route == ROUTES.index("lottery")
        if (drawn & ~lottery).any() or (advert & lottery).any():
            raise InvariantError("a lottery letting on a ranked advert, or the other way round")
        q = self.spec.allocation.quota
        if q.mode in ("cap", "ring_fenced"):
            after = v["let_time"][let] > (
                round(self.spec.burn_in_years) + 1e-9 if q.start == "window" else -1.0
            )
            designated = v["designated"][let]
            if (after & ~designated & (route >= ROUTES.index("binding"))).any():
                raise InvariantError(
                    f"quota {q.mode}: a priority route took a vacancy not designated for it"
                )
            if q.mode == "ring_fenced" and (after & designated & ~sk.aandacht[s]).any():
                raise InvariantError(
                    "quota ring_fenced: a designated vacancy went outside the aandachtsgroepen"
                )

    def _check_budgets(self) -> None:
        """Direct placements (and contingent ones on ordinary vacancies) per municipality,
        cumulated over the budget years, within the yearly budgets plus carry."""
        al = self.spec.allocation
        v = self.vac
        let = np.flatnonzero(v["let_to"] >= 0)
        route = self.seekers.route[v["let_to"][let]]
        direct = route >= ROUTES.index("statushouder")
        contingent = (route == ROUTES.index("contingent")) & ~v["designated"][let]
        corporation = np.array([x.corporation_start for x in self.munis], float)
        budgets = []
        if al.staff_capacity_per_1000_social is not None:
            staff = al.staff_capacity_per_1000_social * corporation / 1000
            budgets.append(("staff", direct, staff))
        if al.contingent_dwellings is not None:
            codes = [x.code for x in self.munis]
            per_year = np.array([al.contingent_dwellings.get(c, 0.0) for c in codes])
        else:
            per_year = al.contingent_per_1000_social * corporation / 1000
        budgets.append(("contingent", contingent, per_year))
        n_years = len(self._year_starts())
        mu = v["muni"][let].astype(np.int64)
        for name, used, per in budgets:
            count = np.bincount(mu[used], minlength=self.n_munis)
            allowed = np.floor(per * n_years + 1e-6)
            if (count > allowed).any():
                i = int(np.flatnonzero(count > allowed)[0])
                raise InvariantError(
                    f"{name} budget of {self.munis[i].code}: {int(count[i])} placements in "
                    f"{n_years} year(s), at most {int(allowed[i])} allowed"
                )

    def _check_taakstelling(self) -> None:
        """The half-yearly statushouder counts against the lettings to statushouders."""
        v, sk = self.vac, self.seekers
        let = np.flatnonzero(v["let_to"] >= 0)
        sh = let[sk.kind[v["let_to"][let]] == KINDS["statushouder"]]
        housed = self.taakstelling.housed
        counted = np.zeros_like(housed)
        np.add.at(counted, (period_of(v["let_time"][sh], 2), v["muni"][sh].astype(np.int64)), 1)
        if not np.array_equal(counted, housed):
            raise InvariantError(
                f"statushouder bookkeeping: {int(housed.sum())} housed against the task, but "
                f"{len(sh)} lettings to statushouders"
            )
