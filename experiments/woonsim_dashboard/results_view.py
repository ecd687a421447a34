"""The results view: open an experiment's results folder (regional or national), pick
variants, a measure, a group and an area, and see the paired differences from the
baseline with their 95% intervals, the headline, the displacement figure and the map,
from the report's analysis of the stored runs (nothing is run again)."""

from __future__ import annotations

import solara

from woonsim.errors import WoonsimError
from woonsim.measures import AGGREGATES, REGISTRY
from woonsim_dashboard.figures import differences_figure
from woonsim_dashboard.results_data import REGION, Results, find_folders, open_results, unit_of
from woonsim_dashboard.settings import results_root
from woonsim_dashboard.widgets import CSS, figure, heading, table, text
from woonsim_experiments.report import (
    displacement_figure,
    fair_share_basis,
    national_map_figure,
    stationarity_text,
    task_map_figure,
)

__all__ = ["ResultsPage", "ResultsView"]


@solara.component
def ResultsView(results: Results):
    """The differences of one opened folder, with its pickers."""
    variants = solara.use_reactive(results.variants)
    group = solara.use_reactive("regulier" if "regulier" in results.groups else results.groups[0])
    first = solara.use_memo(lambda: results.default_measure(group.value), [])
    measure = solara.use_reactive(first)
    area = solara.use_reactive(REGION)
    with solara.Columns([3, 2, 2, 1]):
        solara.SelectMultiple("Variants", values=variants, all_values=results.variants)
        solara.Select("Measure", values=results.measures, value=measure)
        solara.Select("Group", values=results.groups, value=group)
        solara.Select("Area", values=results.areas, value=area)
    exp = results.experiment
    chosen = [v for v in results.variants if v in variants.value]
    heading(exp["name"])
    text(
        f"Baseline: {results.baseline}; {exp.get('replications', '?')} replications; "
        f"{exp.get('runs_found', '?')} of {exp.get('total_runs', '?')} runs. "
        + stationarity_text(results.df, exp)
    )
    level_unit, unit, scale = unit_of(measure.value)
    rows = results.differences(measure.value, group.value, area.value, chosen)
    what = REGISTRY[measure.value].description if measure.value in REGISTRY else ""
    who = AGGREGATES.get(group.value, f"the group {group.value}")
    heading(f"{measure.value}, {group.value}, {area.value}")
    text(
        f"{what} ({who}). Paired differences from the baseline, per replication, with the "
        "95% t-interval over replications."
    )
    if len(rows):
        cols = ("baseline_mean", "variant_mean", "diff", "lo", "hi")
        shown = rows.assign(**{c: scale * rows[c] for c in cols}).rename(
            columns={
                "baseline_mean": f"baseline ({level_unit})",
                "variant_mean": f"variant ({level_unit})",
                "diff": f"change ({unit})",
                "lo": "95% low",
                "hi": "95% high",
                "n_pairs": "pairs",
            }
        )
        table(shown, "woonsim-differences", 3, False)
        figure(
            differences_figure(rows, f"{measure.value}, {group.value}", unit, scale), "differences"
        )
    else:
        solara.Info("No values of this measure for this group and area in these runs.")
    heading("Headline")
    table(results.headline(chosen), "woonsim-headline", 2, False)
    t = results.tables
    shown_variants = [results.baseline, *chosen]
    curve = t["displacement_curve"]
    if chosen and len(curve):
        heading("Displacement of reguliere woningzoekenden")
        figure(
            displacement_figure(curve[curve["variant"].isin(shown_variants)], shown_variants),
            "displacement",
        )
    heading("Map")
    if results.national:
        figure(national_map_figure(t, exp, shown_variants), "map")
    elif len(t["task_share"]):
        share = t["task_share"][t["task_share"]["variant"].isin(shown_variants)]
        by = fair_share_basis(exp.get("base_scenario", {}).get("allocation", {}).get(
            "task_distribution"))  # fmt: skip
        figure(task_map_figure(share, results.codes, shown_variants, by), "map")


@solara.component
def ResultsPage():
    """Choose a results folder (found under the results root, or typed), then its view."""
    root = results_root()
    folders = solara.use_memo(lambda: [str(p) for p in find_folders(root)], [str(root)])
    path = solara.use_reactive(folders[0] if folders else "")

    def load():
        return open_results(path.value) if path.value else None

    task = solara.lab.use_task(load, dependencies=[path.value], raise_error=False)
    solara.Style(CSS)
    with solara.Column(classes=["woonsim"], style={"padding": "12px"}):
        with solara.Row():
            if folders:
                solara.Select("Results folder", values=folders, value=path)
            solara.InputText("or a folder's path", value=path, continuous_update=False)
        if not path.value:
            solara.Info(f"No experiment results under {root}: run `woonsim experiment FILE`.")
        elif task.pending:
            solara.ProgressLinear(True)
            solara.Text(f"Reading {path.value} …")
        elif task.error:
            err = task.exception
            solara.Error(str(err) if isinstance(err, WoonsimError | OSError) else repr(err))
        elif task.finished and task.value is not None:
            ResultsView(task.value).key(str(task.value.path))
