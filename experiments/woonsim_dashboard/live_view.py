"""The live model view: Mesa's SolaraViz on a `LiveMarket`. The sidebar chooses the region
and holds SolaraViz's controls (Reset, play, Step: one simulated year) and the region's
levers, which take effect at Reset and stay as set through it. The main area shows where
the run is (burn-in with its progress, or the reported window and whether it is past the
start-up transient), then per group the search and the chance of being housed, the
backlogs, the lettings by route and the municipal map of the task against fair shares."""

from __future__ import annotations

import html
import threading

import pandas as pd
import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import force_update, update_counter

from woonsim.paths import get_path
from woonsim_dashboard.figures import (
    backlog_figure,
    groups_figure,
    map_figure,
    routes_figure,
    run_figure,
)
from woonsim_dashboard.levers import available, model_params
from woonsim_dashboard.live_model import LiveMarket
from woonsim_dashboard.settings import load_region, region_files
from woonsim_dashboard.snapshot import snapshot
from woonsim_dashboard.widgets import CSS, figure, heading, table, text

__all__ = ["Backlogs", "Groups", "LivePage", "LiveView", "Map", "Routes", "Status"]


def _year(x: float) -> str:
    return f"{x:.1f}".removesuffix(".0")


def _years(x: float) -> str:
    return f"{_year(x)} year{'' if x == 1 else 's'}"


@solara.component
def Status(model: LiveMarket):
    """Where the run is: the calendar year, the burn-in with its progress (and a button
    to run it), or the reported window with the run's stationarity verdict; the levers of
    this run against the scenario file's values; and the run so far, drawn as the burn-in
    goes."""
    update_counter.get()
    stop = solara.use_memo(threading.Event, [model])
    solara.use_effect(lambda: stop.set, [model])  # a replaced model's burn-in stops

    def burn_in():
        def progress(done: float, total: float) -> None:
            task.progress = 100 * done / total

        model.run_burn_in(progress, stop)

    task = solara.lab.use_task(burn_in, dependencies=None)
    # once it is done, every view draws the end of the burn-in (from the render thread)
    solara.use_effect(lambda: force_update() if task.finished else None, [task.finished])
    snap = snapshot(model)
    with solara.Columns([2, 3]):
        with solara.Column():
            _where(model, snap, task)
            Levers(model)
        figure(run_figure(snap), "run")


def _where(model: LiveMarket, snap, task) -> None:
    """The calendar year, then the burn-in (progress, button) or the window's verdict."""
    b = model.burn_in_years
    start = model.spec.start_year
    solara.HTML(
        tag="p",
        unsafe_innerHTML=(
            f"<b>{html.escape(model.spec.name)}</b>, seed {model.seed_value}: simulated year "
            f"<b class='woonsim-year'>{_year(model.calendar_year)}</b> "
            f"(model year {_year(model.time)} of {_year(model.horizon)})"
        ),
    )
    if model.in_burn_in or task.pending:
        solara.Warning(
            f"Burn-in: model year {_year(model.time)} of {_year(b)}. The lists start empty "
            "and are still filling, so nothing here is a result yet; the measures start "
            f"with {start}, after the burn-in."
        )
        done = task.progress if task.pending and task.progress else 100 * model.time / b
        solara.ProgressLinear(value=done)
        solara.Button(
            f"Run the burn-in ({_years(b - model.time)})",
            on_click=task,
            disabled=task.pending,
            color="primary",
            classes=["woonsim-burn-in"],
        )
    elif snap.window is None:
        solara.Info(f"The burn-in is done. Step a year to see {start}'s measures.")
    elif snap.stationary:
        solara.Success(
            f"Reported window {snap.window_label}: it starts past the start-up transient "
            "(MSER-5 truncates every diagnostic series within the burn-in)."
        )
    else:
        solara.Warning(
            f"Reported window {snap.window_label}: NOT past the start-up transient (MSER-5 "
            "truncates a diagnostic series after the burn-in, or the window is too short "
            "to tell). Read its figures as a transient, not a steady state."
        )


@solara.component
def Levers(model: LiveMarket):
    """This run's levers beside the scenario file's values (they take effect at Reset)."""
    run = model.spec.model_dump(mode="python")
    file = model.base_scenario.model_dump(mode="python")
    rows = [
        {
            "lever": lv.label,
            "this run": get_path(run, lv.path),
            "scenario file": get_path(file, lv.path),
        }
        for lv in available(model.base_scenario)
    ]
    df = pd.DataFrame(rows).set_index("lever")
    changed = df[df["this run"] != df["scenario file"]]
    text(
        "Levers changed from the scenario file (set in the sidebar, applied at Reset): "
        + (", ".join(f"{i} = {r['this run']}" for i, r in changed.iterrows()) or "none"),
        "woonsim-changed",
    )
    with solara.Details("Every lever of this run"):
        table(df, "woonsim-levers", 3)


def _not_yet(model: LiveMarket) -> bool:
    """Before the first reported year: say so and show nothing."""
    if snapshot(model).window is not None:
        return False
    solara.Info(
        f"From the first year after the burn-in ({model.spec.start_year}) on; during the "
        "burn-in the lists are still filling."
    )
    return True


@solara.component
def Groups(model: LiveMarket):
    """Search time and the chance of being housed, per group, over the window."""
    update_counter.get()
    heading("Search time and chance of being housed, per group")
    if _not_yet(model):
        return
    snap = snapshot(model)
    table(snap.group_table(), "woonsim-groups")
    text(
        "Chances and Kaplan–Meier medians count those who give up as not housed and those "
        "still waiting as censored (woonsim.survival); the median at letting is over the "
        "housed only. n/a: not enough years since the burn-in to tell."
    )
    figure(groups_figure(snap), "groups")


@solara.component
def Backlogs(model: LiveMarket):
    """The backlogs per group over the window."""
    update_counter.get()
    heading("Backlogs")
    if _not_yet(model):
        return
    snap = snapshot(model)
    figure(backlog_figure(snap), "backlog")
    waiting = snap.over_time("waiting_end_of_year")
    wide = waiting.pivot(index="group", columns="time", values="value")
    wide = wide.reindex([g for g in [*snap.group_names, "aandachtsgroepen"] if g in wide.index])
    wide.columns = [f"end of {_year(t - 1)}" for t in wide.columns]
    text("Households waiting (on a list or in reception) at each year end")
    table(wide, "woonsim-backlogs", 0)


@solara.component
def Routes(model: LiveMarket):
    """Lettings per year by route, per group."""
    update_counter.get()
    heading("Lettings by route")
    if _not_yet(model):
        return
    snap = snapshot(model)
    figure(routes_figure(snap), "routes")
    table(snap.lettings_by_route(), "woonsim-routes", 0)


@solara.component
def Map(model: LiveMarket):
    """Each municipality's share of the region's aandachtsgroep lettings minus its fair
    share (the report's map, from the shipped CBS boundaries)."""
    update_counter.get()
    heading("Who carries the task: share of the aandachtsgroep lettings against fair share")
    if _not_yet(model):
        return
    snap = snapshot(model)
    figure(map_figure(snap, model.codes), "map")
    share = snap.task_share()
    cols = ["share", "fair_share_population", "fair_share_social_stock"]
    shown = (100 * share.set_index("municipality")[cols]).rename(
        columns=lambda c: c.replace("_", " ") + " (%)"
    )
    names = {mu.code: mu.name for mu in model.munis}
    shown.index = [f"{names.get(c, c)} ({c})" for c in shown.index]
    table(shown, "woonsim-map", 1)


@solara.component
def LiveView(model: LiveMarket):
    """The main area: where the run is, then the figures."""
    with solara.Column(classes=["woonsim"], style={"padding": "8px 16px"}):
        Status(model)
        Groups(model)
        with solara.Columns([1, 1]):
            Backlogs(model)
            Routes(model)
        Map(model)


@solara.component
def LivePage():
    """The region chooser, SolaraViz's sidebar (controls and levers) for the chosen region
    (a new region starts from its scenario file's levers) and the live view."""
    files = region_files()
    region = solara.use_reactive(next(iter(files)))
    scenario = load_region(region.value)
    model = solara.use_memo(lambda: solara.reactive(LiveMarket(region.value)), [region.value])
    solara.Style(CSS)
    with solara.Sidebar():
        solara.Select("Region", values=list(files), value=region)
    SolaraViz(
        model,  # a reactive: Reset puts the new model in it, and the view below follows
        components=[],  # the main area is LiveView's
        model_params=model_params(scenario, region.value),
        name=f"woonsim live: {scenario.name}",
    ).key(f"live-{region.value}")
    LiveView(model.value).key(f"view-{id(model.value)}")
