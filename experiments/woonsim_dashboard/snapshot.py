"""The measures of a live run so far: the run as if its reported years ended now.

The reported window is the whole years run since the end of the burn-in (none during the
burn-in, when the lists are still filling and no figure is a result). The measures are
those of every run (`woonsim.measures.run_metrics`, `RegionResult.summary`), computed on
the run's records with the scenario's `years` set to the years done, so each has its one
definition. A snapshot is computed once per model time and kept on the model."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from woonsim.measures import run_metrics
from woonsim.region.cells import ROUTES
from woonsim.region.results import RegionResult
from woonsim_experiments.analysis import task_shares

__all__ = ["GROUP_COLUMNS", "ROUTES", "Snapshot", "snapshot"]

# the per-group table: column -> (measure of woonsim.measures, scale)
GROUP_COLUMNS = {
    "lettings per year": ("lettings_per_year", 1),
    "share of lettings (%)": ("share_of_lettings", 100),
    "housed within 1 year of searching (%)": ("housed_within_1y_of_search", 100),
    "housed within 3 years of searching (%)": ("housed_within_3y_of_search", 100),
    "median search time, Kaplan–Meier (years)": ("search_time_km_median", 1),
    "median search time at letting (years)": ("search_time_median", 1),
    "leaving unhoused per year": ("exits_without_housing_per_year", 1),
}


@dataclass(frozen=True)
class Snapshot:
    """What the live view shows at one model time."""

    time: float  # model years since the start of the burn-in
    calendar_year: float
    burn_in_years: float
    window: tuple[int, int] | None  # first and last reported calendar year, None: none yet
    stationary: bool | None  # the run's verdict on its window (woonsim.stationarity)
    measures: pd.DataFrame  # the long measures table of the window (empty: none yet)
    summary: dict  # RegionResult.summary() of the window ({} when none yet)
    series: pd.DataFrame  # the model's half-yearly data (Mesa's DataCollector)
    group_names: list[str]
    aandachtsgroepen: list[str]
    task_distribution: str

    @property
    def in_burn_in(self) -> bool:
        return self.time < self.burn_in_years - 1e-9

    def value(self, measure: str, group: str, municipality: str = "") -> float:
        """A whole-window value of the measures table (NaN when absent)."""
        m = self.measures
        if not len(m):
            return math.nan
        sel = (m["measure"] == measure) & (m["group"] == group)
        sel &= m["municipality"] == municipality
        sel &= m["time"].isna()
        return float(m.loc[sel, "value"].iloc[0]) if sel.any() else math.nan

    def group_table(self) -> pd.DataFrame:
        """Per group and aggregate (rows): the `GROUP_COLUMNS` over the window, and the
        households waiting at its last year end."""
        groups = [*self.group_names, "regulier", "aandachtsgroepen"]
        table = pd.DataFrame(
            {col: [k * self.value(m, g) for g in groups] for col, (m, k) in GROUP_COLUMNS.items()},
            index=pd.Index(groups, name="group"),
        )
        waiting = self.over_time("waiting_end_of_year")
        last = waiting[waiting["time"] == waiting["time"].max()].set_index("group")["value"]
        return table.assign(**{"waiting at the last year end": last.reindex(groups)})

    def over_time(self, measure: str) -> pd.DataFrame:
        """A measure's region-wide rows that have a time (year or half-year ends)."""
        m = self.measures
        if not len(m):
            return pd.DataFrame(columns=["group", "time", "value"])
        sel = (m["measure"] == measure) & (m["municipality"] == "") & m["time"].notna()
        return m.loc[sel, ["group", "time", "value"]].reset_index(drop=True)

    def lettings_by_route(self) -> pd.DataFrame:
        """Lettings per year of each group by route (rows: groups, columns: ROUTES)."""
        if not self.summary:
            return pd.DataFrame(columns=list(ROUTES), dtype=float)
        years = self.window[1] - self.window[0] + 1
        rows = {
            name: {r: n / years for r, n in g["lettings_by_route"].items()}
            for name, g in self.summary["groups"].items()
        }
        return pd.DataFrame.from_dict(rows, orient="index")[list(ROUTES)]

    @property
    def window_label(self) -> str:
        if self.window is None:
            return "no reported year yet"
        a, b = self.window
        return f"{a}" if a == b else f"{a}–{b}"

    def task_share(self) -> pd.DataFrame:
        """Each municipality's share of the aandachtsgroep lettings against its fair
        share (`woonsim_experiments.analysis.task_shares`, the run as one variant named
        by its window)."""
        if not len(self.measures):
            return pd.DataFrame()
        return task_shares(self.measures.assign(variant=self.window_label), {})


def _result(model, years: int) -> RegionResult:
    """The run's records as a run whose reported window is its first `years` years."""
    spec = model.spec.model_copy(update={"years": float(years)})
    return RegionResult.from_parts(
        spec=spec,
        seed=model.seed,
        now=model.burn_in_years + years,
        munis=model.munis,
        seekers=model.seekers,
        vacancies=model.vacancies,
        stock=model.stock,
        taakstelling=model.taakstelling,
    )


def snapshot(model) -> Snapshot:
    """The snapshot of `model` (a `LiveMarket`) now, computed once per model time."""
    with model.lock:
        cached = getattr(model, "_snapshot", None)
        if cached is not None and cached.time == model.time:
            return cached
        years = model.reported_years
        measures, summary, window, stationary = pd.DataFrame(), {}, None, None
        if years >= 1:
            result = _result(model, years)
            measures = run_metrics(result).to_pandas()
            summary = result.summary()
            start = model.spec.start_year
            window = (start, start + years - 1)
            stationary = bool(summary["stationarity"]["stationary"])
        sc = model.spec
        snap = Snapshot(
            time=float(model.time),
            calendar_year=float(model.calendar_year),
            burn_in_years=float(model.burn_in_years),
            window=window,
            stationary=stationary,
            measures=measures,
            summary=summary,
            series=model.datacollector.get_model_vars_dataframe().reset_index(drop=True),
            group_names=sc.group_names,
            aandachtsgroepen=[g.name for g in sc.groups if g.aandachtsgroep],
            task_distribution=sc.allocation.task_distribution,
        )
        model._snapshot = snap
        return snap
