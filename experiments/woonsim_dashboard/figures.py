"""The live view's figures, drawn with matplotlib's object API (no pyplot state), from a
`Snapshot`. The municipal map is the report's (`woonsim_experiments.report`)."""

from __future__ import annotations

import math

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from woonsim_dashboard.snapshot import ROUTES, Snapshot
from woonsim_experiments.report import fair_share_basis, task_map_figure

__all__ = [
    "backlog_figure",
    "differences_figure",
    "groups_figure",
    "map_figure",
    "routes_figure",
    "run_figure",
]

BURN_IN_GREY = "#dddddd"


def _years(ax) -> None:
    """Whole calendar years on the x axis."""
    ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
    ax.xaxis.set_major_formatter("{x:g}")
    ax.set_xlabel("year", fontsize=8)


def _note(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=9,
            color="#555555", wrap=True)  # fmt: skip


def run_figure(snap: Snapshot) -> Figure:
    """The run so far, burn-in included: households on the lists and the statushouder
    backlog at each half-year end, the burn-in shaded (its values are not results)."""
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.subplots()
    s = snap.series
    start = snap.calendar_year - snap.time  # the calendar year of model time 0
    ax.axvspan(start, start + snap.burn_in_years, color=BURN_IN_GREY, lw=0, label="burn-in")
    if len(s):
        ax.plot(s["year"], s["waiting"], color="black", lw=1.4, label="on a list (all groups)")
        ax2 = ax.twinx()
        ax2.plot(s["year"], s["statushouder_backlog"], color="tab:red", lw=1.2)
        ax2.set_ylabel("statushouder backlog (households)", color="tab:red", fontsize=8)
        ax2.tick_params(labelsize=7)
    else:
        _note(ax, "no half-year run yet")
    ax.set_xlim(start, max(snap.calendar_year, start + snap.burn_in_years + 1))
    _years(ax)
    ax.set_ylabel("households on a list", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title("The run so far (grey: burn-in, the lists filling)", fontsize=9)
    return fig


def groups_figure(snap: Snapshot) -> Figure:
    """Per group: the chance of being housed within 1 and 3 years of starting to search
    (censored), and the Kaplan–Meier median search time, over the reported window."""
    groups = [*snap.group_names, "regulier", "aandachtsgroepen"]
    fig = Figure(figsize=(7.0, 0.28 * len(groups) + 1.3), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    y = np.arange(len(groups))
    for k, offset, colour in ((1, -0.2, "tab:blue"), (3, 0.2, "tab:green")):
        x = [100 * snap.value(f"housed_within_{k}y_of_search", g) for g in groups]
        left.barh(y + offset, np.nan_to_num(x), height=0.4, color=colour,
                  label=f"within {k} year{'s' if k > 1 else ''}")  # fmt: skip
    left.set_yticks(y, groups, fontsize=7)
    left.invert_yaxis()
    left.set_xlim(0, 100)
    left.set_xlabel("chance of being housed (%)", fontsize=8)
    left.legend(fontsize=7, loc="lower right")
    median = [12 * snap.value("search_time_km_median", g) for g in groups]
    right.barh(y, np.nan_to_num(median), height=0.6, color="tab:purple")
    for yi, m in zip(y, median, strict=True):
        if not math.isfinite(m):
            right.text(0, yi, " n/a", va="center", fontsize=7, color="#555555")
    right.set_xlabel("median search time, Kaplan–Meier (months)", fontsize=8)
    for ax in (left, right):
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Search, {snap.window_label} (n/a: not enough follow-up yet)", fontsize=9)
    return fig


def backlog_figure(snap: Snapshot) -> Figure:
    """Households of each aandachtsgroep waiting at each year end, and the statushouder
    taakstelling backlog at each half-year end, over the reported window."""
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.subplots()
    waiting = snap.over_time("waiting_end_of_year")
    cmap = colormaps["tab10"]
    for i, g in enumerate(snap.aandachtsgroepen):
        sub = waiting[waiting["group"] == g].sort_values("time")
        ax.plot(sub["time"], sub["value"], marker="o", ms=3, color=cmap(i % 10), label=g)
    backlog = snap.over_time("taakstelling_backlog").sort_values("time")
    if len(backlog):
        ax.plot(backlog["time"], backlog["value"], color="black", ls="--", marker="s", ms=3,
                label="taakstelling backlog (statushouders)")  # fmt: skip
    if not len(waiting):
        _note(ax, "the backlogs start with the first reported year")
    _years(ax)
    ax.set_ylabel("households", fontsize=8)
    ax.tick_params(labelsize=7)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=6, loc="upper left", ncols=2)
    ax.set_title(f"Backlogs of the aandachtsgroepen, {snap.window_label}", fontsize=9)
    return fig


def routes_figure(snap: Snapshot) -> Figure:
    """Lettings per year of each group by route, over the reported window."""
    table = snap.lettings_by_route()
    fig = Figure(figsize=(6.4, 0.28 * max(len(table), 4) + 1.2), layout="constrained")
    ax = fig.subplots()
    if not len(table):
        _note(ax, "lettings count from the first reported year")
    else:
        cmap = colormaps["Set2"]
        y = np.arange(len(table))
        left = np.zeros(len(table))
        for i, route in enumerate(ROUTES):
            ax.barh(y, table[route], left=left, color=cmap(i), label=route)
            left += table[route].to_numpy()
        ax.set_yticks(y, table.index, fontsize=7)
        ax.invert_yaxis()
        ax.legend(fontsize=7, loc="lower right")
    ax.set_xlabel("lettings per year", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(f"Lettings by route, {snap.window_label}", fontsize=9)
    return fig


def map_figure(snap: Snapshot, codes: list[str]) -> Figure | None:
    """The report's map of who carries the task: each municipality's share of the
    aandachtsgroep lettings minus its fair share (None before the first reported year)."""
    share = snap.task_share()
    if not len(share):
        return None
    return task_map_figure(
        share, codes, [snap.window_label], fair_share_basis(snap.task_distribution)
    )


def differences_figure(rows, title: str, unit: str, scale: float = 1.0) -> Figure:
    """Paired differences from the baseline with their 95% intervals, one per variant
    (rows of `woonsim_experiments.analysis.compare`: variant, diff, lo, hi)."""
    fig = Figure(figsize=(6.4, 0.45 * max(len(rows), 2) + 1.3), layout="constrained")
    ax = fig.subplots()
    y = np.arange(len(rows))
    d, lo, hi = (scale * rows[c].to_numpy(dtype=float) for c in ("diff", "lo", "hi"))
    ok = np.isfinite(lo) & np.isfinite(hi)
    ax.errorbar(d[ok], y[ok], xerr=[d[ok] - lo[ok], hi[ok] - d[ok]], fmt="o", capsize=4,
                color="tab:blue", label="difference, 95% interval")  # fmt: skip
    ax.plot(d[~ok], y[~ok], "o", color="grey", label="no interval")
    ax.axvline(0, color="grey", lw=0.8)
    ax.set_yticks(y, rows["variant"], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"change from the baseline ({unit})", fontsize=8)
    ax.tick_params(labelsize=7)
    ax.set_title(title, fontsize=9)
    return fig
