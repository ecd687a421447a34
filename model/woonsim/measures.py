"""The measures of one run as one long table (`measures.parquet`): the unit an experiment
stores per run and compares between policy variants, and what `woonsim run` writes.

`run_measures(result)` gives the table for either kind of run: `run_metrics` for a
regional run (measures in `MEASURES`), `stylized_measures` for a stylized one (measures in
`STYLIZED_MEASURES`, the cohort measures of the validation reference, in the scenario's
time unit, with `municipality` "" and `time` NaN).

Columns: `measure`, `group`, `municipality`, `time`, `value`.

- `group` is a group name, or one of the aggregates `all`, `regulier` (groups that are not
  aandachtsgroepen) and `aandachtsgroepen`.
- `municipality` is a GM code, or `""` for the whole region.
- `time` is the calendar time the value refers to (the end of a year, 2031.0, or of a
  half-year, 2030.5), or NaN for a measure over the whole reporting period.

Times are in years. Lettings count within the reporting period (after the burn-in); search
time runs from the start of searching (first possible reaction, or entry into reception)
to the letting, registration time from registration to the letting.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from woonsim.region.results import RegionResult
from woonsim.region.taakstelling import period_of
from woonsim.results import CENSORED, HOUSED, RunResult

__all__ = [
    "HORIZONS",
    "MEASURES",
    "QUANTILES",
    "STYLIZED_MEASURES",
    "run_measures",
    "run_metrics",
    "stylized_measures",
]

HORIZONS = (1, 3, 5)  # years: P(housed within k years of starting to search)
QUANTILES = tuple(round(q, 2) for q in np.arange(0.05, 1.0, 0.05))

MEASURES = {
    "lettings_per_year": "lettings per year in the reporting period",
    "search_time_mean": "mean search time at letting (years)",
    "search_time_median": "median search time at letting (years)",
    "registration_time_mean": "mean registration time at letting (years)",
    "registration_time_median": "median registration time at letting (years)",
    **{f"p_housed_{k}y": f"share housed within {k} years of starting to search" for k in HORIZONS},
    **{f"search_time_q{round(100 * q):02d}": f"{q:.2f} quantile of search time" for q in QUANTILES},
    "share_of_lettings": "share of all lettings in the period",
    "waiting_end_of_year": "households of the group on a list (or in reception) at year end",
    "taakstelling_backlog": "statushouder households: task minus housed, carried over",
    "share_of_aandachtsgroep_lettings": "municipality's share of the region's lettings to "
    "aandachtsgroepen (its part of the task)",
    "fair_share_population": "municipality's share of the region's population",
    "fair_share_social_stock": "municipality's share of the region's corporation stock (2025)",
    "social_share_end": "corporation share of the dwelling stock at the end",
}


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


def run_metrics(result: RegionResult) -> pa.Table:
    """All measures of one run (see `MEASURES`), with the run's seed, scenario and version
    in the schema metadata."""
    m, b = result, result.base
    sc = m.spec
    rows = _Rows()
    y0, y1 = round(sc.burn_in_years), round(m.horizon)
    years = sc.years
    start = sc.start_year - y0  # calendar year of model time 0
    housed = b.reason == HOUSED
    let_t = np.where(housed, b.exit, -1.0)
    in_period = housed & (period_of(let_t, 1) >= y0)
    search = b.exit - b.arrival
    reg_time = b.exit - m.seekers.registration
    v = result.vac
    dwell_muni = np.where(housed, v["muni"][np.maximum(b.dwelling, 0)], -1)
    codes = [x.code for x in m.munis]
    aandacht = m.seekers.aandacht

    sets = {name: b.group == gi for gi, name in enumerate(sc.group_names)}
    sets["all"] = np.ones(len(b.group), dtype=bool)
    sets["regulier"] = ~aandacht
    sets["aandachtsgroepen"] = aandacht
    total_lettings = max(int(in_period.sum()), 1)
    # seekers who start searching in the period with k years of follow-up before the end
    started = (b.arrival >= y0) & (b.arrival < y1)
    for name, mine in sets.items():
        sel = in_period & mine
        _times(rows, name, "", search[sel], reg_time[sel], years)
        rows.add("share_of_lettings", name, "", sel.sum() / total_lettings)
        for k in HORIZONS:
            cohort = started & mine & (b.arrival <= y1 - k)
            rows.add(
                f"p_housed_{k}y",
                name,
                "",
                (housed[cohort] & (search[cohort] <= k)).mean() if cohort.any() else None,
            )
        qs = np.quantile(search[sel], QUANTILES) if sel.any() else [None] * len(QUANTILES)
        for q, x in zip(QUANTILES, qs, strict=True):
            rows.add(f"search_time_q{round(100 * q):02d}", name, "", x)
        for i, code in enumerate(codes):
            here = sel & (dwell_muni == i)
            _times(rows, name, code, search[here], reg_time[here], years)

    # waiting at each year end, per group (the backlog of each aandachtsgroep)
    for yi in range(y0, y1):
        on_list = (b.arrival <= yi + 1) & ((b.exit > yi + 1) | (b.reason == CENSORED))
        for name, mine in sets.items():
            rows.add("waiting_end_of_year", name, "", (on_list & mine).sum(), start + yi + 1)

    # statushouder taakstelling backlog per half-year, region and municipality
    if any(g.kind == "statushouder" for g in sc.groups):
        bl = result.statushouder_backlog()
        sh_name = next(g.name for g in sc.groups if g.kind == "statushouder")
        for h in range(len(bl)):
            t = start + (2 * y0 + h + 1) / 2
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
        rows.add("fair_share_social_stock", "aandachtsgroepen", x.code, social[i] / social.sum())
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
    """The long measures table of a run of either kind."""
    if isinstance(result, RegionResult):
        return run_metrics(result)
    return stylized_measures(result)
