"""The measures of one run as one long table (`measures.parquet`): the unit an experiment
stores per run and compares between policy variants, and what `woonsim run` writes.

`run_measures(result)` gives the table for either kind of run: `run_metrics` for a
regional run (measures in `MEASURES`), `stylized_measures` for a stylized one (measures in
`STYLIZED_MEASURES`, the cohort measures of the validation reference, in the scenario's
time unit, with `municipality` "" and `time` NaN).

Columns: `measure`, `group`, `municipality`, `time`, `value`.

- `group` is a group name, or one of the aggregates in `AGGREGATES`: `all`, `regulier`
  (the groups that are not aandachtsgroepen: reguliere woningzoekenden) and
  `aandachtsgroepen`. A group's `kind` (regular, urgent, statushouder, contingent) is
  something else: the route its households take; studenten, say, are of kind regular
  (they search through adverts) and may or may not be an aandachtsgroep.
- `municipality` is a GM code, or `""` for the whole region.
- `time` is the calendar time the value refers to (the end of a year, 2031.0, or of a
  half-year, 2030.5), or NaN for a measure over the whole reporting period.

Times are in years. Lettings count within the reporting period (after the burn-in); search
time runs from the start of searching (first possible reaction, or entry into reception)
to the letting, registration time from registration to the letting.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from woonsim.errors import InvariantError, ScenarioError
from woonsim.region.cells import KINDS
from woonsim.region.results import RegionResult
from woonsim.region.taakstelling import periods, reported
from woonsim.results import ABANDONED, CENSORED, HOUSED, RunResult, take
from woonsim.stationarity import SERIES
from woonsim.survival import period_curves

__all__ = [
    "AGGREGATES",
    "HORIZONS",
    "MEASURES",
    "QUANTILES",
    "REGISTRY",
    "STYLIZED_MEASURES",
    "TARGET_MEASURES",
    "Measure",
    "describe",
    "group_sets",
    "observe",
    "run_measures",
    "run_metrics",
    "stylized_measures",
]

AGGREGATES = {
    "all": "every household",
    "regulier": "households of the groups that are not aandachtsgroepen",
    "aandachtsgroepen": "households of the aandachtsgroepen",
    "regulier_first_home": "reguliere woningzoekenden who leave no corporation dwelling in "
    "the region behind (a letting is a first home: starters)",
    "regulier_move": "reguliere woningzoekenden who leave a corporation dwelling in the "
    "region behind (a letting is a move of a sitting tenant: doorstromers)",
}


def group_sets(
    group_names, group: np.ndarray, aandacht: np.ndarray, leaves: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Boolean row masks of every group and of every aggregate in `AGGREGATES` (the
    first-home / move split needs `leaves`, whether a household frees a dwelling)."""
    sets = {name: group == gi for gi, name in enumerate(group_names)}
    sets["all"] = np.ones(len(group), dtype=bool)
    sets["regulier"] = ~aandacht
    sets["aandachtsgroepen"] = aandacht.copy()
    if leaves is not None:
        sets["regulier_first_home"] = ~aandacht & ~leaves
        sets["regulier_move"] = ~aandacht & leaves
    return sets


HORIZONS = (1, 3, 5)  # years: P(housed within k years of starting to search)
RMST_YEARS = 10.0  # restriction of the censored mean time to housing
ORIGINS = {"search": "starting to search", "registration": "registering"}
QUANTILES = tuple(round(q, 2) for q in np.arange(0.05, 1.0, 0.05))


@dataclass(frozen=True)
class Measure:
    """One measure: its name, unit and definition, and where it is used: in the per-run
    long table (`table`: run summary files, experiments, EMA outcomes, report) and/or as a
    calibration target (`target`: `observe`, `calibration_data/targets.csv`), with a
    per-area value (`per_area`: restricted to the dwellings let in some municipalities)."""

    name: str
    unit: str
    description: str
    table: bool = True
    target: bool = False
    per_area: bool = False


def _registry(*measures: Measure) -> dict[str, Measure]:
    return {m.name: m for m in measures}


# The one definition of every measure of a regional run. Times are in years; a letting
# counts in the reporting period (after the burn-in) when it closes in it; search time runs
# from the start of searching (first possible reaction, or entry into reception) to the
# letting, registration time from registration to the letting.
REGISTRY: dict[str, Measure] = _registry(
    Measure("lettings_per_year", "count per year", "lettings per year in the reporting period",
            target=True, per_area=True),
    Measure("search_time_mean", "years", "mean search time at letting"),
    Measure("search_time_median", "years", "median search time at letting"),
    Measure("registration_time_mean", "years", "mean registration time at letting"),
    Measure("registration_time_median", "years", "median registration time at letting"),
    *(
        Measure(f"p_housed_{k}y", "fraction",
                f"share housed within {k} years of starting to search (seekers who start in "
                f"the reporting period at least {k} years before its end)")
        for k in HORIZONS
    ),
    *(
        Measure(f"search_time_q{round(100 * q):02d}", "years", f"{q:.2f} quantile of search time")
        for q in QUANTILES
    ),
    *(
        Measure(f"housed_within_{k}y_of_{o}", "fraction",
                f"chance of being housed within {k} years of {what}, counting those who "
                "give up as not housed and those still waiting as censored (Aalen–Johansen, "
                "over the seekers at risk in the reporting period; woonsim.survival)")
        for o, what in ORIGINS.items()
        for k in HORIZONS
    ),
    *(
        Measure(f"{o}_time_km_median", "years",
                f"median time from {what} to housing if nobody gave up (Kaplan–Meier: "
                "giving up and still waiting censored); NaN when fewer than half are housed "
                "within the observed durations")
        for o, what in ORIGINS.items()
    ),
    *(
        Measure(f"{o}_time_km_rmst", "years",
                f"restricted mean time from {what} to housing, up to {RMST_YEARS:g} years, "
                "if nobody gave up (area under the Kaplan–Meier curve)")
        for o, what in ORIGINS.items()
    ),
    Measure("entering_search_per_year", "count per year",
            "households of the group that start to search in the period, per year: the "
            "weight of its search-time curves when areas are pooled (a national total)"),
    Measure("registering_per_year", "count per year",
            "households of the group that register in the period, per year: the weight of "
            "its registration-time curves when areas are pooled"),
    Measure("abandoned_within_5y_of_search", "fraction",
            "chance of leaving the list unhoused (giving up) within 5 years of starting to "
            "search (Aalen–Johansen)"),
    Measure("exits_without_housing_per_year", "count per year",
            "households leaving a list unhoused (patience ran out) per year of the period"),
    Measure("window_stationary", "0/1",
            "1 when the run's reported window starts past the start-up transient: MSER-5 "
            "truncates every diagnostic series within the burn-in (woonsim.stationarity)"),
    *(
        Measure(f"window_drift_{name}", "per year",
                f"relative change per year in the reported window of: {what} (drivers: "
                "construction, demolition, sales)")
        for name, what in SERIES.items()
    ),
    Measure("share_of_lettings", "fraction", "share of all lettings in the period"),
    Measure("waiting_end_of_year", "households",
            "households of the group on a list (or in reception) at year end"),
    Measure("taakstelling_backlog", "households",
            "statushouder households: task minus housed, carried over"),
    Measure("share_of_aandachtsgroep_lettings", "fraction",
            "municipality's share of the region's lettings to aandachtsgroepen (its part of "
            "the task)"),
    Measure("fair_share_population", "fraction", "municipality's share of the region's population"),
    Measure("fair_share_social_stock", "fraction",
            "municipality's share of the region's corporation stock (2025)"),
    Measure("social_share_end", "fraction", "corporation share of the dwelling stock at the end"),
    # calibration observables: the definitions the published figures use
    Measure("active_seekers", "count per year",
            "households that reacted at least once in the year (the monitors' actief "
            "woningzoekende), mean over the reported years", table=False, target=True),
    Measure("registered_seekers", "count",
            "households registered and not yet housed or gone at year end (advert groups; "
            "includes those not yet searching), mean over the reported years",
            table=False, target=True),
    Measure("registration_time_at_letting_years", "years",
            "mean (or median) registration time at letting over advert and lottery "
            "lettings (the published wachttijd)", table=False, target=True, per_area=True),
    Measure("search_time_at_letting_years", "years",
            "mean (or median) search time at letting over advert and lottery lettings "
            "(the published zoekduur)", table=False, target=True, per_area=True),
    Measure("share_lettings_priority", "fraction",
            "share of lettings to voorrangskandidaten in the reporting period: by a "
            "priority route (binding offer, direct placement, contingent) or on a ranked "
            "advert to an urgent household holding its urgency", table=False, target=True,
            per_area=True),
    Measure("share_lettings_statushouders", "fraction",
            "share of lettings to statushouders in the reporting period",
            table=False, target=True, per_area=True),
    Measure("slaagkans", "fraction",
            "advert lettings per active seeker per year (Maaskoepel's definition), mean over "
            "the reported years", table=False, target=True),
    Measure("reactions_per_advert", "count",
            "mean reactions per let advert; group `regular` or `lottery`: per let regular "
            "(ranked) or lottery advert", table=False, target=True, per_area=True),
    Measure("refusals_per_letting", "count",
            "mean refusals before an advert or lottery letting (offers per accepted "
            "dwelling minus one); group `regular` or `lottery` by advert", table=False,
            target=True),
    Measure("place_of_taker", "rank",
            "mean place in the advert's ranking of the household that accepts it (1: the "
            "first candidate)", table=False, target=True),
    Measure("own_municipality_share", "fraction",
            "share of advert and lottery lettings to a household of the dwelling's own "
            "municipality", table=False, target=True),
    Measure("time_in_reception_years", "years",
            "statushouders: mean time from permit (registration) to housing",
            table=False, target=True),
    Measure("taakstelling_realisation", "fraction",
            "statushouder households housed in a half-year / (its task + the backlog "
            "carried into it), mean over the reported half-years", table=False, target=True,
            per_area=True),
    Measure("taakstelling_backlog_persons", "persons",
            "statushouders linked to the municipality and not yet housed, in persons "
            "(households x persons per household), mean over the reported half-year ends",
            table=False, target=True, per_area=True),
)  # fmt: skip

MEASURES = {n: m.description for n, m in REGISTRY.items() if m.table}
TARGET_MEASURES = {n: m.unit for n, m in REGISTRY.items() if m.target}


class _Rows:
    def __init__(self):
        self.measure: list[str] = []
        self.group: list[str] = []
        self.muni: list[str] = []
        self.time: list[float] = []
        self.value: list[float] = []

    def add(self, measure: str, group: str, muni: str, value, time: float = np.nan) -> None:
        self.measure.append(measure)
        self.group.append(group)
        self.muni.append(muni)
        self.time.append(float(time))
        self.value.append(np.nan if value is None else float(value))

    def table(self) -> pa.Table:
        return pa.table(
            {
                "measure": pa.array(self.measure, pa.string()),
                "group": pa.array(self.group, pa.string()),
                "municipality": pa.array(self.muni, pa.string()),
                "time": pa.array(self.time, pa.float64()),
                "value": pa.array(self.value, pa.float64()),
            }
        )


def _times(rows: _Rows, group: str, muni: str, search: np.ndarray, reg: np.ndarray, years):
    rows.add("lettings_per_year", group, muni, len(search) / years)
    for name, x in (("search_time", search), ("registration_time", reg)):
        rows.add(f"{name}_mean", group, muni, x.mean() if len(x) else None)
        rows.add(f"{name}_median", group, muni, np.median(x) if len(x) else None)


CENSORED_PER_MUNICIPALITY = ("regulier", "aandachtsgroepen", "regulier_first_home", "regulier_move")


def _censored(rows: _Rows, group: str, muni: str, obs: dict, mine, window):
    """The censored measures of the seekers `mine` of `obs` (arrays "search" and
    "registration": the two origins, `ORIGINS`; "exit"; "reason")."""
    for origin in ORIGINS:
        c = period_curves(obs[origin][mine], obs["exit"][mine], obs["reason"][mine], window)
        for k in HORIZONS:
            rows.add(f"housed_within_{k}y_of_{origin}", group, muni, c.housed_within(k))
        rows.add(f"{origin}_time_km_median", group, muni, c.km_median())
        rows.add(f"{origin}_time_km_rmst", group, muni, c.km_restricted_mean(RMST_YEARS))
        if origin == "search":
            rows.add("abandoned_within_5y_of_search", group, muni, c.abandoned_within(5))


def run_metrics(result: RegionResult) -> pa.Table:
    """All measures of one run (see `MEASURES`), with the run's seed, scenario and version
    in the schema metadata."""
    m, b = result, result.base
    sc = m.spec
    rows = _Rows()
    y0, y1 = periods(sc.burn_in_years, m.horizon)  # the years overlapping the window
    w0, w1 = float(sc.burn_in_years), float(m.horizon)  # the window itself, exactly
    years = sc.years
    # calendar year of model time 0 (whole with a whole burn-in)
    start = sc.start_year - (y0 if float(sc.burn_in_years).is_integer() else w0)
    housed = b.reason == HOUSED
    let_t = np.where(housed, b.exit, -1.0)
    in_period = housed & reported(let_t, w0)
    search = b.exit - b.arrival
    reg_time = b.exit - m.seekers.registration
    v = result.vac
    dwell_muni = take(v["muni"], np.where(housed, b.dwelling, -1), -1)
    codes = [x.code for x in m.munis]
    aandacht = m.seekers.aandacht

    sets = group_sets(sc.group_names, b.group, aandacht, m.seekers.leaves)
    total_lettings = max(int(in_period.sum()), 1)
    window = (w0, w1)
    home = m.seekers.muni
    gone_in_period = (b.reason == ABANDONED) & reported(b.exit, w0)
    # seekers who start searching in the period with k years of follow-up before the end
    started = (b.arrival >= w0) & (b.arrival < w1)
    registered = (m.seekers.registration >= w0) & (m.seekers.registration < w1)
    # the censored measures see only the seekers still on a list at the window's start
    # (`period_curves`); the rows of those, and of the window's lettings, in row order
    on = np.flatnonzero(b.exit >= w0)
    obs = {
        "search": b.arrival[on],
        "registration": m.seekers.registration[on],
        "exit": b.exit[on],
        "reason": b.reason[on],
    }
    home_on = home[on]
    let = np.flatnonzero(in_period)
    search_let, reg_let, dwell_let = search[let], reg_time[let], dwell_muni[let]
    for name, mine in sets.items():
        sel = in_period & mine
        _times(rows, name, "", search[sel], reg_time[sel], years)
        rows.add("share_of_lettings", name, "", sel.sum() / total_lettings)
        for k in HORIZONS:
            cohort = started & mine & (b.arrival <= w1 - k)
            rows.add(
                f"p_housed_{k}y",
                name,
                "",
                (housed[cohort] & (search[cohort] <= k)).mean() if cohort.any() else None,
            )
        mine_on = mine[on]
        _censored(rows, name, "", obs, mine_on, window)
        rows.add("entering_search_per_year", name, "", (started & mine).sum() / years)
        rows.add("registering_per_year", name, "", (registered & mine).sum() / years)
        rows.add("exits_without_housing_per_year", name, "", (gone_in_period & mine).sum() / years)
        qs = np.quantile(search[sel], QUANTILES) if sel.any() else [None] * len(QUANTILES)
        for q, x in zip(QUANTILES, qs, strict=True):
            rows.add(f"search_time_q{round(100 * q):02d}", name, "", x)
        mine_let = mine[let]
        for i, code in enumerate(codes):
            here = mine_let & (dwell_let == i)
            _times(rows, name, code, search_let[here], reg_let[here], years)
            # the censored measures count seekers by their home municipality
            if name in CENSORED_PER_MUNICIPALITY:
                _censored(rows, name, code, obs, mine_on & (home_on == i), window)

    verdict = result.stationarity
    rows.add("window_stationary", "all", "", float(verdict["stationary"]))
    for name, x in verdict["window_drift_per_year"].items():
        rows.add(f"window_drift_{name}", "all", "", x)

    # waiting at each year end, per group (the backlog of each aandachtsgroep)
    for yi in range(y0, y1):
        on_list = (b.arrival <= yi + 1) & ((b.exit > yi + 1) | (b.reason == CENSORED))
        for name, mine in sets.items():
            rows.add("waiting_end_of_year", name, "", (on_list & mine).sum(), start + yi + 1)

    # statushouder taakstelling backlog per half-year, region and municipality
    if any(g.kind == "statushouder" for g in sc.groups):
        bl = result.statushouder_backlog()
        h0 = periods(sc.burn_in_years, m.horizon, 2)[0]
        sh_name = next(g.name for g in sc.groups if g.kind == "statushouder")
        for h in range(len(bl)):
            t = start + (h0 + h + 1) / 2
            rows.add("taakstelling_backlog", sh_name, "", bl[h].sum(), t)
            for i, code in enumerate(codes):
                rows.add("taakstelling_backlog", sh_name, code, bl[h, i], t)

    # each municipality's part of the task against its fair share
    task = in_period & aandacht
    per_muni = np.bincount(dwell_muni[task], minlength=m.n_munis)
    pop = np.array([x.population for x in m.munis], float)
    social = np.array([x.corporation_start for x in m.munis], float)
    for i, x in enumerate(m.munis):
        rows.add(
            "share_of_aandachtsgroep_lettings",
            "aandachtsgroepen",
            x.code,
            per_muni[i] / max(per_muni.sum(), 1),
        )
        rows.add("fair_share_population", "aandachtsgroepen", x.code, pop[i] / pop.sum())
        fair = social[i] / social.sum() if social.sum() > 0 else None  # none at all: none
        rows.add("fair_share_social_stock", "aandachtsgroepen", x.code, fair)
        rows.add("social_share_end", "all", x.code, x.social_share)
    return rows.table().replace_schema_metadata(b._metadata())


STYLIZED_MEASURES = {
    "arrivals": "seekers of the cohort (arrived in the measurement window)",
    "housed": "cohort seekers housed",
    "abandoned": "cohort seekers who left the list unhoused (patience ran out)",
    "censored": "cohort seekers still waiting at the end of the run",
    "p_housed": "share of the cohort housed",
    "mean_time_on_list": "mean time on the list of cohort seekers who left it (housed or not)",
    "mean_wait_housed": "mean wait of housed cohort seekers",
    "sd_wait_housed": "standard deviation of the wait of housed cohort seekers",
    "median_wait_housed": "median wait of housed cohort seekers",
    "p90_wait_housed": "0.9 quantile of the wait of housed cohort seekers",
    "share_of_lettings": "the group's share of lettings in the window",
    "lettings": "lettings to the group in the window",
    "arrival_rate": "cohort arrivals per time unit",
    "mean_number_waiting": "time-average number of the group waiting in the window",
    "vacancies_arrived": "vacancies that arose in the window (group `all`)",
    "vacancies_let": "vacancies of the window that were let (group `all`)",
    "vacancies_unused_share": "share of the window's vacancies left unused (group `all`)",
}


def stylized_measures(result: RunResult) -> pa.Table:
    """The cohort measures of a stylized run as the long table (see `STYLIZED_MEASURES`)."""
    s = result.summary()
    rows = _Rows()
    for name, g in s["groups"].items():
        for key, value in g.items():
            rows.add(key, name, "", value)
    v = s["vacancies"]
    rows.add("vacancies_arrived", "all", "", v["arrived"])
    rows.add("vacancies_let", "all", "", v["let"])
    rows.add("vacancies_unused_share", "all", "", v["unused_share"])
    return rows.table().replace_schema_metadata(result._metadata())


def run_measures(result: RunResult | RegionResult) -> pa.Table:
    """The long measures table of a run of either kind, its ranges checked."""
    if isinstance(result, RegionResult):
        return check_ranges(run_metrics(result))
    return check_ranges(stylized_measures(result))


# measures that may be negative: drifts, and a backlog the lettings have overtaken
SIGNED = frozenset(
    {"taakstelling_backlog"} | {n for n, m in REGISTRY.items() if m.unit == "per year"}
)
# ratios that may exceed 1: more households housed in a half-year than were due
OPEN_RATIOS = frozenset({"taakstelling_realisation"})
STYLIZED_SHARES = frozenset({"p_housed", "share_of_lettings", "unused_share"})
ROUNDING = 1e-9


def check_ranges(table: pa.Table) -> pa.Table:
    """Output ranges of a measures table: no infinite value, fractions (and 0/1 flags)
    within [0, 1], every other measure not negative except the signed ones (`SIGNED`),
    up to `ROUNDING` (a product of survival factors may end at 1 + 1e-15);
    `InvariantError` names the first measure out of range. Returns the table."""
    names = np.asarray(table.column("measure").to_pylist(), dtype=object)
    value = table.column("value").to_numpy(zero_copy_only=False).astype(float)
    units = {n: m.unit for n, m in REGISTRY.items()}
    unit = np.array([units.get(n, "share" if n in STYLIZED_SHARES else "") for n in names])
    share = np.isin(unit, ["fraction", "0/1", "share"]) & ~np.isin(names, list(OPEN_RATIOS))
    bad = np.isinf(value)
    bad |= share & ((value < -ROUNDING) | (value > 1 + ROUNDING))
    bad |= ~np.isin(names, list(SIGNED)) & (value < -ROUNDING)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        group = table.column("group")[i].as_py()
        raise InvariantError(f"output range: {names[i]} ({group}) = {value[i]}")
    return table


def _indices(result: RegionResult, area) -> list[int] | None:
    """The municipality indices of `area` (CBS codes), or None for the whole region."""
    codes = [x.code for x in result.munis]
    return [codes.index(c) for c in area] if area else None


def observe(
    result: RegionResult, name: str, group: str = "all", area=(), statistic: str = "mean"
) -> float:
    """The model's value of a calibration target measure (`TARGET_MEASURES`; definitions in
    `REGISTRY` and docs/ODD.md §B2). With an `area` (municipality codes), lettings, times
    and shares count the dwellings let in those municipalities. `group` is a group name,
    an aggregate (`AGGREGATES`), or `starters` (households that leave no dwelling behind)
    for lettings. `statistic` (mean or median) is the one a time's source reports."""
    m, b = result, result.base
    if name not in TARGET_MEASURES:
        known = ", ".join(TARGET_MEASURES)
        raise ScenarioError(f"targets: unknown measure {name!r} (known: {known})")
    if area:
        codes = [x.code for x in m.munis]
        missing = [c for c in area if c not in codes]
        if missing:
            raise ScenarioError(f"targets: area {', '.join(missing)} not in the scenario")
        if not REGISTRY[name].per_area:
            raise ScenarioError(f"targets: measure {name!r} has no per-area value")
        housed = b.reason == HOUSED
        muni = take(result.vac["muni"], np.where(housed, b.dwelling, -1), -1)
        in_area = np.isin(muni, [codes.index(c) for c in area])
    else:
        in_area = np.ones(len(b.reason), dtype=bool)

    def selected(g: str) -> np.ndarray:
        sets = group_sets(m.spec.group_names, m.seekers.group, m.seekers.aandacht)
        if g not in sets:
            raise ScenarioError(f"targets: unknown group {g!r} (valid: {', '.join(sets)})")
        return sets[g]

    region = result.summary()["region"] if not area else {}
    if name == "lettings_per_year":
        if group == "all" and not area:
            return region["lettings_per_year"]
        housed = (b.reason == HOUSED) & result._reported(b.exit) & in_area
        # the monitors' starters: households that leave no dwelling behind, any route
        who = ~m.seekers.leaves if group == "starters" else selected(group)
        return float((housed & who).sum() / m.spec.years)
    if name == "active_seekers":
        return region["active_seekers_per_year"]
    if name == "registered_seekers":
        return region["registered_end_of_year"]
    if name == "slaagkans":
        return region["slaagkans"]
    if name == "share_lettings_priority":
        return result.priority_share(_indices(m, area))
    pt = result.patterns
    if name == "reactions_per_advert":
        if group in ("regular", "lottery"):
            return result.reactions_per_advert(group, _indices(m, area))
        return region["reactions_per_advert"]["mean"]
    if name == "refusals_per_letting":
        if group in ("regular", "lottery"):
            return pt[f"refusals_per_letting_{group}"]
        return pt["refusals_per_letting"]
    if name == "taakstelling_realisation":
        return result._realisation(_indices(m, area))
    if name in ("place_of_taker", "own_municipality_share"):
        return pt[name]
    if name == "time_in_reception_years":
        return pt["time_in_reception"]
    if name == "taakstelling_backlog_persons":
        bl = result.in_reception()
        codes = [x.code for x in m.munis]
        cols = [codes.index(c) for c in area] if area else list(range(len(codes)))
        per_hh = m.taakstelling.persons_per_household
        return float(bl[:, cols].sum(axis=1).mean() * per_hh)
    if name == "share_lettings_statushouders":
        housed = (b.reason == HOUSED) & result._reported(b.exit) & in_area
        return float((m.seekers.kind[housed] == KINDS["statushouder"]).mean())
    # registration_time_at_letting_years, search_time_at_letting_years: the published
    # wachttijd and zoekduur concern lettings through the adverts
    housed = (b.reason == HOUSED) & result._reported(b.exit) & selected(group)
    housed &= np.isin(m.seekers.route, [0, 1]) & in_area
    start = m.seekers.registration if name.startswith("registration") else b.arrival
    return float((np.mean if statistic == "mean" else np.median)((b.exit - start)[housed]))


COLUMNS = {
    "measure": "the measure's name (`REGISTRY`, or `STYLIZED_MEASURES` for a stylized run)",
    "group": "a group name, or an aggregate: `all`, `regulier`, `aandachtsgroepen`",
    "municipality": 'a CBS code (GMxxxx), or "" for the whole region',
    "time": "the calendar time the value refers to (end of a year, 2031.0, or of a "
    "half-year, 2030.5), or NaN for a value over the whole reporting period",
    "value": "the value, in the measure's unit (NaN when undefined: no lettings, say)",
}


def describe() -> str:
    """The measures table documented column by column and measure by measure (Markdown;
    docs/measures.md is this text)."""
    lines = [
        "# Measures",
        "",
        "Generated from `woonsim.measures` (`python -m woonsim.measures`); a test checks",
        "that this file is current.",
        "",
        "## `measures.parquet`: one row per (measure, group, municipality, time)",
        "",
        "`woonsim run` writes it for every run; an experiment stores the same table per run",
        "(`runs/<run>.parquet`, with the run's identity as extra columns). The Parquet",
        "metadata key `woonsim` records the scenario, its SHA-256, the seed and the version.",
        "",
        "| column | meaning |",
        "|---|---|",
        *(f"| `{k}` | {v} |" for k, v in COLUMNS.items()),
        "",
        "Aggregate groups:",
        "",
        *(f"- `{k}`: {v}" for k, v in AGGREGATES.items()),
        "",
        "A group's `kind` (regular, urgent, statushouder, contingent) is the route its",
        "households take, not whether it is an aandachtsgroep.",
        "",
        "## Measures of a regional run",
        "",
        "| measure | unit | definition | per-run table | calibration target |",
        "|---|---|---|---|---|",
    ]
    for m in REGISTRY.values():
        target = ("yes, per area too" if m.per_area else "yes") if m.target else ""
        table = "yes" if m.table else ""
        anchor = f'<a id="{m.name}"></a>'  # the report links to each measure
        lines.append(f"| {anchor}`{m.name}` | {m.unit} | {m.description} | {table} | {target} |")
    lines += [
        "",
        "## Measures of a stylized run",
        "",
        "Cohort measures of the validation reference, in the scenario's time unit, per group",
        '(municipality "", time NaN).',
        "",
        "| measure | definition |",
        "|---|---|",
        *(f"| `{k}` | {v} |" for k, v in STYLIZED_MEASURES.items()),
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    print(describe(), end="")
