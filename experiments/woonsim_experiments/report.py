"""The HTML report of an experiment: `build_report(RESULTS)` writes `RESULTS/report/`:
`index.html` (self-contained apart from the PNG figures beside it), the figures, and the
CSV table behind each figure and table (`woonsim_experiments.analysis.tables`).

Figures are drawn with matplotlib's object API (`Figure`, Agg canvas), so building a
report changes no global pyplot state. The map is drawn from the shipped municipal
boundaries (RD New), one polygon collection per variant, without geopandas.
"""

from __future__ import annotations

import html
import json
import math
import sys
import textwrap
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.cm import ScalarMappable
from matplotlib.collections import PolyCollection
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from woonsim import __version__
from woonsim.data import data_file
from woonsim.errors import DataError
from woonsim.files import write_atomically
from woonsim.measures import REGISTRY
from woonsim_experiments.analysis import (
    AGGREGATES,
    BACKLOG,
    CURVE,
    compare,
    group_roles,
    load_results,
    run_metadata,
    tables,
)

__all__ = [
    "build_report",
    "country_map_figure",
    "displacement_figure",
    "fair_share_basis",
    "main",
    "national_map_figure",
    "stationarity_text",
    "task_map_figure",
]

GEOJSON = "raw/geo_gemeenten_2025_rd/gemeenten_2025_rd.geojson"  # in calibration_data/
DPI = 110

# The main differences, in this order: (headline quantity, short label, the measure it
# reads, the unit of its change). A ratio's "change" is the ratio itself.
SUMMARY = [
    ("share of lettings to aandachtsgroepen", "aandachtsgroepen's share of lettings",
     "share_of_lettings", "pp"),
    ("chance of being housed within 3 years of starting to search, regulier",
     "regulier housed within 3 years of searching", "housed_within_3y_of_search", "pp"),
    ("median search time if nobody gave up (Kaplan–Meier), regulier",
     "regulier median search time (Kaplan–Meier)", "search_time_km_median", "months"),
    ("mean search time up to 10 years if nobody gave up (Kaplan–Meier), regulier",
     "regulier mean search time up to 10 years (Kaplan–Meier)", "search_time_km_rmst",
     "months"),
    ("reguliere woningzoekenden leaving unhoused per year", "regulier leaving unhoused",
     "exits_without_housing_per_year", "households per year"),
    ("starters' first homes lost per extra aandachtsgroep letting",
     "starters' first homes lost per extra aandachtsgroep letting", "lettings_per_year",
     "lettings per letting"),
    (BACKLOG, "statushouder taakstelling backlog at the end", "taakstelling_backlog",
     "households"),
]  # fmt: skip
# the measures every report shows, beside those of the summary
PAGE_MEASURES = [
    "search_time_q50", "waiting_end_of_year", "share_of_aandachtsgroep_lettings",
    "fair_share_population", "window_stationary",
]  # fmt: skip


# --- formatting -------------------------------------------------------------------------
def _num(x: float, digits: int = 1, sign: bool = False) -> str:
    if x is None or not math.isfinite(x):
        return "n/a"
    x = x if round(x, digits) else 0.0  # no "-0.00"
    return f"{x:+.{digits}f}" if sign else f"{x:.{digits}f}"


def _ci(lo: float, hi: float, digits: int = 2, sign: bool = True) -> str:
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return "95% CI not available"
    return f"95% CI {_num(lo, digits, sign)} to {_num(hi, digits, sign)}"


def _esc(x) -> str:
    return html.escape(str(x))


# --- figures ----------------------------------------------------------------------------
def _variant_styles(variants: list[str], baseline: str) -> dict[str, dict]:
    cmap = colormaps["tab10"]
    others = [v for v in variants if v != baseline]
    styles = {baseline: {"color": "black", "lw": 2.0}}
    styles |= {v: {"color": cmap(i % 10), "lw": 1.4} for i, v in enumerate(others)}
    return styles


def _lever_axis(curve: pd.DataFrame) -> str:
    """The lever the displacement figure's x axis shows, or "" when it shows the variants
    (no numeric lever, or one that does not tell the variants apart)."""
    lever = curve["lever"].iloc[0] if len(curve) else ""
    xs = curve.drop_duplicates("variant").set_index("variant")["lever_value"]
    return lever if lever and xs.notna().all() and xs.is_unique else ""


def _fig_displacement(curve: pd.DataFrame, variants: list[str]) -> Figure:
    """Change in the censored measures of regulier (the groups that are not
    aandachtsgroepen), its starters and doorstromers and each of its groups, against the
    lever, or per variant."""
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, 2)
    lever = _lever_axis(curve)
    numeric = bool(lever)
    xs = curve.drop_duplicates("variant").set_index("variant")["lever_value"]
    pos = xs.to_dict() if numeric else {v: i for i, v in enumerate(variants)}
    groups = list(dict.fromkeys(curve["group"]))
    cmap = colormaps["tab10"]
    panels = [m for m in CURVE if (curve["measure"] == m).any()][:2]
    for ax, measure in zip(axes, panels, strict=False):
        title, unit, _ = CURVE[measure]
        for gi, group in enumerate(groups):
            sub = curve[(curve["measure"] == measure) & (curve["group"] == group)].copy()
            sub["x"] = sub["variant"].map(pos)
            sub = sub.sort_values("x")
            style = {"color": cmap(gi % 10), "lw": 2.2 if group == "regulier" else 1.2}
            if numeric:
                ax.plot(sub["x"], sub["diff"], marker="o", label=group, **style)
                ax.fill_between(sub["x"], sub["lo"], sub["hi"], color=style["color"], alpha=0.15)
            else:
                x = sub["x"] + (gi - (len(groups) - 1) / 2) * 0.08
                err = [sub["diff"] - sub["lo"], sub["hi"] - sub["diff"]]
                ax.errorbar(
                    x, sub["diff"], yerr=err, fmt="o", capsize=3, label=group,
                    color=style["color"],
                )  # fmt: skip
        ax.axhline(0, color="grey", lw=0.8)
        if numeric:
            ax.set_xlabel(f"{lever} (the variants' lever)")
        else:
            ax.set_xticks(range(len(variants)), variants, rotation=20, ha="right")
            ax.set_xlabel("policy variant")
        ax.set_ylabel(f"change from baseline ({unit}), 95% interval")
        ax.set_title(
            "\n".join(textwrap.wrap(f"Reguliere woningzoekenden: {title}", 55)), fontsize=10
        )
    axes[0].legend(fontsize=8)
    return fig


def _grid(fig: Figure, n: int, ncols: int):
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    axes = np.atleast_1d(fig.subplots(nrows, ncols, squeeze=False)).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return axes[:n]


def _fig_cdf(cdf: pd.DataFrame, groups: list[str], styles: dict) -> Figure:
    """CDF of search time at letting per group (quantiles averaged over runs)."""
    ncols = 4
    fig = Figure(figsize=(3.2 * min(ncols, len(groups)), 2.8 * math.ceil(len(groups) / ncols)))
    fig.set_layout_engine("constrained")
    for ax, group in zip(_grid(fig, len(groups), ncols), groups, strict=True):
        for v, style in styles.items():
            sub = cdf[(cdf["group"] == group) & (cdf["variant"] == v)].dropna()
            if len(sub):
                ax.plot(12 * sub["search_time"], sub["quantile"], label=v, **style)
                if {"lo", "hi"} <= set(sub.columns):
                    ax.fill_betweenx(
                        sub["quantile"], 12 * sub["lo"], 12 * sub["hi"],
                        color=style["color"], alpha=0.15, lw=0,
                    )  # fmt: skip
        ax.set_title(group, fontsize=9)
        ax.set_xlabel("search time (months)", fontsize=8)
        ax.set_ylim(0, 1)
        ax.tick_params(labelsize=7)
    fig.axes[0].set_ylabel("share of lettings within (fraction)")
    fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
    return fig


def _fig_backlog(bl: pd.DataFrame, panels: list[tuple[str, str, str]], styles: dict) -> Figure:
    """Backlogs over time: mean over runs with its 95% band, per variant."""
    ncols = 3
    fig = Figure(figsize=(4 * min(ncols, len(panels)), 3 * math.ceil(len(panels) / ncols)))
    fig.set_layout_engine("constrained")
    for ax, (measure, group, title) in zip(_grid(fig, len(panels), ncols), panels, strict=True):
        sel = (bl["measure"] == measure) & (bl["group"] == group) & (bl["municipality"] == "")
        for v, style in styles.items():
            sub = bl[sel & (bl["variant"] == v)].sort_values("time")
            if len(sub):
                ax.plot(sub["time"], sub["mean"], label=v, **style)
                ax.fill_between(sub["time"], sub["lo"], sub["hi"], color=style["color"], alpha=0.15)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("year", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 5, 10]))
        ax.xaxis.set_major_formatter("{x:g}")
        ax.set_ylabel("households (mean, 95% band)", fontsize=8)
        if measure == "waiting_end_of_year":
            ax.set_ylim(bottom=0)  # a count; the taakstelling backlog is below 0 when ahead
        ax.tick_params(labelsize=7)
    fig.legend(*fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=4)
    return fig


@cache
def _boundaries() -> dict[str, tuple[str, list[np.ndarray]]]:
    """GM code -> (name, outer rings in RD metres) from the shipped GeoJSON."""
    data = json.loads(data_file(GEOJSON).read_text(encoding="utf-8"))
    out = {}
    for f in data["features"]:
        g = f["geometry"]
        polys = [g["coordinates"]] if g["type"] == "Polygon" else g["coordinates"]
        out["GM" + f["properties"]["c"]] = (
            f["properties"]["n"],
            [np.asarray(p[0], dtype=float) for p in polys],
        )
    return out


def _centroid(ring: np.ndarray) -> tuple[float, float]:
    """Area centroid of a polygon ring (shoelace formula)."""
    x, y = ring[:, 0], ring[:, 1]
    cross = x * np.roll(y, -1) - np.roll(x, -1) * y
    area = cross.sum() / 2
    if area == 0:
        return float(x.mean()), float(y.mean())
    cx = ((x + np.roll(x, -1)) * cross).sum() / (6 * area)
    cy = ((y + np.roll(y, -1)) * cross).sum() / (6 * area)
    return float(cx), float(cy)


def _callouts(ax, labels: dict[str, tuple[float, float, str]], box) -> None:
    """Labels beside the map, joined to their municipality by a line, so that they never
    overlap: the western half of the municipalities on the left, the others on the right,
    each side in the order of the municipalities from north to south, evenly spaced."""
    x0, x1, y0, y1 = box
    w = x1 - x0
    points = sorted(labels.values())  # west to east
    half = (len(points) + 1) // 2
    for items, sign in ((points[:half], -1), (points[half:], 1)):
        items = sorted(items, key=lambda p: -p[1])  # north to south
        n = len(items)
        for i, (cx, cy, text) in enumerate(items):
            y = y1 - (i + 0.5) * (y1 - y0) / n
            x = (x0 - 0.04 * w) if sign < 0 else (x1 + 0.04 * w)
            ax.annotate(
                text, (cx, cy), xytext=(x, y), ha="right" if sign < 0 else "left",
                va="center", fontsize=7,
                arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "0.35"},
            )  # fmt: skip
        ax.plot([p[0] for p in items], [p[1] for p in items], "o", ms=1.5, color="0.2")
    ax.set_xlim(x0 - 0.62 * w, x1 + 0.62 * w)
    ax.set_ylim(y0 - 0.02 * (y1 - y0), y1 + 0.02 * (y1 - y0))


def _draw_map(ax, geo, codes, values: dict, norm, cmap, labels: dict, hatch=()) -> None:
    """One panel: the municipalities coloured by `values` (grey: none), hatched where
    `hatch` says, labelled by callouts."""

    def colour(c):
        x = values.get(c, np.nan)
        return cmap(norm(x)) if math.isfinite(x) else (0.85, 0.85, 0.85, 1)

    rings = [(c, r) for c in codes for r in geo[c][1]]
    ax.add_collection(
        PolyCollection(
            [r for _, r in rings], facecolors=[colour(c) for c, _ in rings],
            edgecolors="white", lw=0.6,
        )
    )  # fmt: skip
    if hatch:
        ax.add_collection(
            PolyCollection(
                [r for c, r in rings if c in hatch], facecolors="none", edgecolors="0.45",
                hatch="////", lw=0,
            )
        )  # fmt: skip
    pts = np.concatenate([r for _, r in rings])
    box = (pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max())
    points = {c: (*_centroid(max(geo[c][1], key=len)), labels[c]) for c in codes}
    _callouts(ax, points, box)
    ax.set_aspect("equal", adjustable="box")
    ax.set_axis_off()


def _fig_map(share: pd.DataFrame, codes: list[str], variants: list[str], by: str) -> Figure:
    """The municipalities coloured by share of the task minus fair share, per variant;
    each label gives the difference and the 95% interval of the share."""
    geo = _boundaries()
    codes = [c for c in codes if c in geo]
    col = f"excess_pp_{by}"
    vmax = float(np.nanmax(np.abs(share[col]))) if len(share) else 0.0
    norm = Normalize(-(vmax or 1.0), vmax or 1.0)
    cmap = colormaps["RdBu_r"]
    ncols = 2
    fig = Figure(figsize=(6.4 * min(ncols, len(variants)), 3.6 * math.ceil(len(variants) / ncols)))
    fig.set_layout_engine("constrained")
    axes = _grid(fig, len(variants), ncols)
    fair = f"fair_share_{by}"
    for ax, v in zip(axes, variants, strict=True):
        rows = share[share["variant"] == v].set_index("municipality")
        values = rows[col].to_dict()
        labels = {}
        for c in codes:
            name = geo[c][0]
            if c in rows.index and math.isfinite(rows.at[c, col]):
                r = rows.loc[c]
                lo, hi = 100 * (r["share_lo"] - r[fair]), 100 * (r["share_hi"] - r[fair])
                labels[c] = (
                    f"{name}\n{_num(r[col], 1, True)} pp "
                    f"({_num(lo, 1, True)} to {_num(hi, 1, True)})"
                )
            else:
                labels[c] = f"{name}\nno lettings"
        _draw_map(ax, geo, codes, values, norm, cmap, labels)
        ax.set_title(v, fontsize=9)
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=list(axes),
        label=f"share of the task − fair share by {by.replace('_', ' ')} (pp)",
        shrink=0.8,
    )
    return fig


def _fig_map_change(change: pd.DataFrame, codes: list[str], variants: list[str]) -> Figure:
    """Each variant's change from the baseline in every municipality's share of the
    task (pp; paired difference with its 95% interval; hatched where the interval holds
    zero)."""
    geo = _boundaries()
    codes = [c for c in codes if c in geo]
    vmax = float(np.nanmax(np.abs(100 * change["diff"]))) if len(change) else 0.0
    norm = Normalize(-(vmax or 1.0), vmax or 1.0)
    cmap = colormaps["PuOr_r"]
    ncols = 2
    fig = Figure(figsize=(6.4 * min(ncols, len(variants)), 3.6 * math.ceil(len(variants) / ncols)))
    fig.set_layout_engine("constrained")
    axes = _grid(fig, len(variants), ncols)
    for ax, v in zip(axes, variants, strict=True):
        rows = change[change["variant"] == v].set_index("municipality")
        values = (100 * rows["diff"]).to_dict()
        labels, noise = {}, set()
        for c in codes:
            if c not in rows.index or not math.isfinite(rows.at[c, "diff"]):
                labels[c] = f"{geo[c][0]}\nn/a"
                continue
            r = rows.loc[c]
            lo, hi = 100 * r["lo"], 100 * r["hi"]
            if not (lo > 0 or hi < 0):
                noise.add(c)
            labels[c] = (
                f"{geo[c][0]}\n{_num(100 * r['diff'], 2, True)} pp "
                f"({_num(lo, 2, True)} to {_num(hi, 2, True)})"
            )
        _draw_map(ax, geo, codes, values, norm, cmap, labels, hatch=noise)
        ax.set_title(v, fontsize=9)
    fig.colorbar(
        ScalarMappable(norm=norm, cmap=cmap),
        ax=list(axes),
        label="change in the share of the task from the baseline (pp)",
        shrink=0.8,
    )
    return fig


def _fig_country(panels: list[tuple[str, pd.Series, Normalize, str]], label: str) -> Figure:
    """Every municipality of the country coloured by a value (no labels: 342 of them),
    one panel per (title, values by GM code, colour scale, colour map)."""
    geo = _boundaries()
    ncols = min(3, len(panels))
    fig = Figure(figsize=(4.4 * ncols, 5.0 * math.ceil(len(panels) / ncols)))
    fig.set_layout_engine("constrained")
    axes = _grid(fig, len(panels), ncols)
    for ax, (title, values, norm, cmap_name) in zip(axes, panels, strict=True):
        cmap = colormaps[cmap_name]
        rings, colours = [], []
        for code, (_, parts) in geo.items():
            x = values.get(code, np.nan)
            for ring in parts:
                rings.append(ring)
                colours.append(cmap(norm(x)) if math.isfinite(x) else (0.85, 0.85, 0.85, 1))
        ax.add_collection(PolyCollection(rings, facecolors=colours, edgecolors="white", lw=0.2))
        ax.autoscale_view()
        ax.set_aspect("equal")
        ax.set_axis_off()
        ax.set_title(title, fontsize=9)
        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=label, shrink=0.7)
    return fig


def national_map_figure(t: dict, exp: dict, variants: list[str]) -> Figure:
    """The map of a national experiment: today's share of lettings to aandachtsgroepen
    against the norm, and where each norm binds (the change it makes)."""
    shares = t["municipal_shares"]
    baseline = exp["baseline"]
    base = 100 * shares[shares["variant"] == baseline].set_index("municipality")["share"]
    norms = {v: _norm(exp, v) for v in variants if v != baseline}
    level = next((n[0] for n in norms.values() if n), 0.30)
    spread = float(np.nanmax(np.abs(base - 100 * level))) if len(base) else 1.0
    panels = [
        (
            f"{baseline}:\naandachtsgroep share − {100 * level:g}% (pp)",
            base - 100 * level,
            Normalize(-spread, spread),
            "RdBu",
        )
    ]
    change = shares[shares["variant"] != baseline]
    top = float(np.nanmax(np.abs(100 * change["change"]))) if len(change) else 1.0
    for v in variants:
        if v == baseline:
            continue
        values = 100 * change[change["variant"] == v].set_index("municipality")["change"]
        panels.append((f"{v}:\nchange (pp)", values, Normalize(-top, top), "PuOr_r"))
    return _fig_country(panels, "percentage points")


def _national_figures(t: dict, exp: dict, variants: list[str], out: Path) -> list:
    """The national map, saved, with its caption."""
    baseline = exp["baseline"]
    _save(national_map_figure(t, exp, variants), out / "norm_map.png")
    return [
        (
            "Where the norm binds",
            "norm_map.png",
            ["municipal_shares.csv", "regions.csv"],
            "First panel: each municipality's share of its lettings to aandachtsgroepen under "
            f"{baseline} minus the norm (blue: above it, red: below). Other panels: the change "
            "each variant makes to that share (mean paired difference over replications); a "
            "floor binds where the change is above zero. Grey: no lettings. Per region, with "
            "95% intervals and the cost to reguliere woningzoekenden: regions.csv.",
        )
    ]


def _regions_html(regions: pd.DataFrame, variant: str) -> str:
    """The per-region table of one variant: the aandachtsgroep share, whether the norm
    binds, and what it costs reguliere woningzoekenden, with 95% intervals."""
    r = regions[regions["variant"] == variant]
    if not len(r):
        return ""

    def cell(row, stem, digits=1):
        return (
            f"{_num(getattr(row, stem + '_change'), digits, True)} "
            f"{_ci(getattr(row, stem + '_lo'), getattr(row, stem + '_hi'), digits)}"
        )

    head = (
        "<tr><th>area</th><th>parameters</th><th>aandachtsgroep share today (%)</th>"
        "<th>change (pp)</th><th>binds</th><th>regulier housed within 3 years (pp)</th>"
        "<th>regulier KM median search time (months)</th><th>first homes per year</th>"
        "<th>statushouder backlog at the end</th></tr>"
    )
    rows = []
    for row in r.itertuples():
        rows.append(
            f"<tr><td>{_esc(row.area or 'Nederland')}</td><td>{_esc(row.parameters or '')}</td>"
            f"<td>{_num(row.aandachtsgroep_share_pp_baseline, 1)}</td>"
            f"<td>{cell(row, 'aandachtsgroep_share_pp')}</td>"
            f"<td>{'yes' if row.binds else 'no'}</td>"
            f"<td>{cell(row, 'regulier_housed_within_3y_pp')}</td>"
            f"<td>{cell(row, 'regulier_km_median_months')}</td>"
            f"<td>{cell(row, 'first_homes_per_year', 0)}</td>"
            f"<td>{cell(row, 'statushouder_backlog_end', 0)}</td></tr>"
        )
    return (
        f"<h2>Per region: {_esc(variant)}</h2><table>{head}{''.join(rows)}</table>"
        '<p class="caption">Changes from the baseline with 95% paired intervals; '
        "Nederland: regions summed within each replication before differencing (its "
        "Kaplan–Meier median does not pool and is left empty). Every variant: "
        '<a href="regions.csv">regions.csv</a>.</p>'
    )


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, dpi=DPI)


# --- text ---------------------------------------------------------------------------------
def _change(r, what: str, digits: int = 1) -> str:
    """'raises WHAT from a to b (change, CI)' in the direction of the estimate, from a
    headline row: levels in its unit, changes in pp for %, in months for years."""
    if r is None:
        return ""
    k, cu = {"%": (1, " pp"), "years": (12, " months")}.get(r.unit, (1, f" {r.unit}"))
    pct = "%" if r.unit == "%" else f" {r.unit}"
    levels = (
        f"from {_num(r.baseline, digits)}{pct} to {_num(r.level, digits)}{pct}"
        if math.isfinite(r.baseline)
        else ""
    )
    change = f"{_num(k * r.estimate, digits, True)}{cu}, {_ci(k * r.lo, k * r.hi, digits)}"
    if not (math.isfinite(r.lo) and math.isfinite(r.hi)):
        return f"changes {what} {levels} ({change})"
    if not (r.lo > 0 or r.hi < 0):
        return f"leaves {what} unchanged within the noise ({levels}; {change})"
    return f"{'raises' if r.estimate > 0 else 'lowers'} {what} {levels} ({change})"


def _sentences(t: dict[str, pd.DataFrame], experiment: dict) -> list[str]:
    """One paragraph per variant, from the headline: levels beside changes, censored
    measures first, each sentence in the direction of its estimate (a cap lowers what a
    floor raises)."""
    baseline = experiment["baseline"]
    head = t["headline"].set_index(["variant", "quantity"])
    settings = t["variants"].set_index("variant")["setting"]
    out = []
    for v in t["variants"]["variant"]:
        if v == baseline:
            continue

        def get(q, v=v):
            key = (v, q)
            return head.loc[key] if key in head.index else None

        parts = [
            _change(get("share of lettings to aandachtsgroepen"),
                    "the share of lettings to aandachtsgroepen"),
            _change(get("chance of being housed within 3 years of starting to search, regulier"),
                    "the chance of reguliere woningzoekenden of being housed within 3 years "
                    "of starting to search"),
            _change(get("median search time if nobody gave up (Kaplan–Meier), regulier"),
                    "their censored median search time", 2),
            _change(get("reguliere woningzoekenden leaving unhoused per year"),
                    "the number who leave the lists unhoused each year", 0),
        ]  # fmt: skip
        parts = [p for p in parts if p]
        text = f"{v} ({settings.get(v, '')}), against {baseline}, " + _join(parts) + "."
        share = get("share of lettings to aandachtsgroepen")
        norm = _norm(experiment, v)
        short = norm is not None and norm[1] == "floor"
        if short and share is not None and share.level < 100 * norm[0] - 1:
            text += (
                f" The {100 * norm[0]:.0f}% norm is not reached: aandachtsgroepen take "
                f"{_num(share.level, 1)}% of lettings, all their demand allows."
            )
        lost = [
            (get(f"{what} lost per extra aandachtsgroep letting"), what)
            for what in ("starters' first homes", "doorstromers' moves")
        ]
        d = get("share of lettings to aandachtsgroepen")
        if all(r is not None and math.isfinite(r.lo) for r, _ in lost) and d is not None:
            more = d.estimate > 0
            per = (
                "each extra aandachtsgroep letting" if more else "each aandachtsgroep letting fewer"
            )
            verb = "costs" if more else "gives back"
            text += (
                f" {per[0].upper() + per[1:]} {verb} "
                + " and ".join(
                    f"{_num(r.estimate, 2)} {what} ({_ci(r.lo, r.hi, sign=False)})"
                    for r, what in lost
                )
                + "; a lost move leaves a sitting tenant housed where they are, a lost first "
                "home leaves a starter without one."
            )
        r = get(BACKLOG)
        q = get("chance of a statushouder being housed within a year in reception")
        if r is not None:
            text += (
                " Statushouders: the taakstelling backlog at the end is "
                f"{_num(r.level, 0)} households against {_num(r.baseline, 0)} "
                f"({_num(r.estimate, 0, True)}, {_ci(r.lo, r.hi, 0)})"
            )
            if q is not None and math.isfinite(q.level):
                text += (
                    f", and {_num(q.level, 1)}% are housed within a year in reception "
                    f"(baseline {_num(q.baseline, 1)}%)"
                )
            text += "."
        out.append(text)
    if len(out):
        out.append(
            "The chances of being housed and the median search time are censored measures "
            "(woonsim.survival): seekers who give up count as not housed, and those still "
            "waiting at the end are censored, not dropped. Search time at letting, in the "
            "table and the distributions, is over the housed only: where a policy makes more "
            "seekers give up it can stop rising, or fall, while their chance of being housed "
            "falls."
        )
    return out


def _norm(experiment: dict, variant: str) -> tuple[float, str] | None:
    """(share, mode) of a variant's lettings norm (`quota.basis: lettings`), else None."""
    for v in experiment.get("variants", []):
        if v.get("name") == variant:
            q = v.get("set", {}).get("allocation.quota")
            lettings = isinstance(q, dict) and q.get("basis") == "lettings"
            if lettings and isinstance(q.get("share"), int | float):
                return float(q["share"]), q.get("mode", "none")
    return None


def _introduced(exp: dict) -> set[str]:
    """The variants whose quota comes into force at the end of the burn-in."""
    start = (((exp.get("base_scenario") or {}).get("allocation") or {}).get("quota") or {}).get(
        "start", "burn_in"
    )
    out = set()
    for v in exp.get("variant_sets") or exp.get("variants") or []:
        sets = v.get("set") or {}
        q = sets.get("allocation.quota")
        own = q.get("start", "burn_in") if isinstance(q, dict) else start
        if sets.get("allocation.quota.start", own) == "window":
            out.add(v["name"])
    return out


def _stationarity(df: pd.DataFrame, exp: dict | None = None) -> str:
    """The stationarity line of the report: how many runs' reported windows start past
    the start-up transient, and the drift inside the windows."""
    st = df[(df["measure"] == "window_stationary") & (df["municipality"] == "")]
    if not len(st):
        return "Stationarity of the reported windows: not recorded by these runs."
    drift = df[df["measure"] == "window_drift_waiting_regulier"]["value"]
    introduced = _introduced(exp or {})
    if introduced and set(st["variant"]) <= introduced:
        return _transition(st, exp or {}) + _drift(drift)
    ok, n = int(st["value"].sum()), len(st)
    text = (
        "Every policy holds from the start of the burn-in, so each variant is compared "
        "with the baseline in its own steady state. "
        f"Stationarity: in {ok} of {n} runs the reported window starts past the start-up "
        "transient (MSER-5 on the half-yearly series truncates within the burn-in; "
        "woonsim.stationarity)."
    )
    if ok < n:
        bad = st[st["value"] < 1].groupby("variant", sort=False).size()
        names = ", ".join(f"{v} ({k} of its runs)" for v, k in bad.items())
        text += (
            f" In {n - ok} it does not: {names}. Their figures are not those of a steady "
            "state: either the burn-in is too short for them, or the variant has none (a "
            "backlog that grows without bound, as under a cap that leaves statushouders "
            "in reception); the backlog figure shows which."
        )
    return text + _drift(drift)


def _drift(drift: pd.Series) -> str:
    if not len(drift):
        return ""
    return (
        " Inside the window the regulier waiting list drifts by "
        f"{_num(100 * drift.mean(), 2, True)}% a year on average (construction, "
        "demolition and sales of the stock, which start with the first reported year)."
    )


def _transition(st: pd.DataFrame, exp: dict) -> str:
    """The stationarity line when every variant runs current practice through the burn-in
    and introduces its norm at the end of it: the baseline's windows test the burn-in's
    steady state; the other variants' windows are the transition after the norm."""
    base = exp.get("baseline", "")
    b, o = st[st["variant"] == base], st[st["variant"] != base]
    text = (
        "Every variant runs current practice through the burn-in and introduces its norm "
        "at the end of it (quota.start: window), so the reported years are the years "
        "after the norm's introduction: a transition from today's steady state, not a new "
        "steady state. "
        f"That the burn-in reaches today's steady state is tested on {base}'s runs, which "
        f"keep today's rules: in {int(b['value'].sum())} of {len(b)} the reported window "
        "starts past the start-up transient (MSER-5 on the half-yearly series truncates "
        "within the burn-in; woonsim.stationarity)."
    )
    if len(b) and b["value"].min() < 1:
        where = b[b["value"] < 1]
        col = "region" if "region" in where else "run"
        names = ", ".join(sorted(set(where[col].astype(str))))
        text += f" Not in: {names}; their figures start from a transient."
    if len(o):
        text += (
            f" Under the norms, {int(o['value'].sum())} of {len(o)} windows pass the same "
            "test; the others still move after the norm's introduction (the transition "
            "the report measures)."
        )
    return text


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def _who_fills_html(w: pd.DataFrame) -> str:
    """The table of who fills the extra aandachtsgroep lettings, group by group."""
    if not len(w):
        return ""
    variants = list(dict.fromkeys(w["variant"]))
    head = "".join(f"<th>{_esc(v)}</th>" for v in variants)
    rows = []
    for group in dict.fromkeys(w["group"]):
        cells = []
        for v in variants:
            r = w[(w["group"] == group) & (w["variant"] == v)]
            if not len(r) or not r["identified"].iloc[0]:
                cells.append("<td>–</td>")
                continue
            r = r.iloc[0]
            cells.append(
                f"<td>{_num(100 * r['estimate'], 0, sign=True)}% "
                f"({_num(r['lettings_change'], 0, sign=True)}/yr)</td>"
            )
        rows.append(f"<tr><th>{_esc(group)}</th>{''.join(cells)}</tr>")
    return (
        "<h2>Who fills the extra lettings</h2>"
        "<p>Each group's change in lettings per year as a share of the change in lettings to "
        "aandachtsgroepen (the aandachtsgroepen add up to 100%; a regular group's negative "
        "share is what it loses per extra aandachtsgroep letting), and in brackets its "
        "change in lettings per year; – where the aandachtsgroepen's change is not "
        'distinguishable from 0. Data: <a href="who_fills.csv">who_fills.csv</a>.</p>'
        f"<table><tr><th>group</th>{head}</tr>{''.join(rows)}</table>"
    )


def _headline_html(head: pd.DataFrame) -> str:
    shown = pd.DataFrame(
        {
            "policy variant": head["variant"],
            "quantity": head["quantity"],
            "unit": head["unit"],
            "baseline": [_num(x, 2) for x in head["baseline"]],
            "variant": [_num(x, 2) for x in head["level"]],
            "change": [_num(x, 2, True) for x in head["estimate"]],
            "95% interval": [
                f"{_num(a, 2, True)} to {_num(b, 2, True)}" if math.isfinite(a) else "n/a"
                for a, b in zip(head["lo"], head["hi"], strict=True)
            ],
            "method": head["method"],
        }
    )
    return shown.to_html(index=False, escape=True, border=0, classes="headline")


def _summary_rows(head: pd.DataFrame) -> list[tuple]:
    """(label, measure, unit, rows of the headline) of each summary quantity present, with
    changes in the summary's unit (months for years)."""
    out = []
    for quantity, label, measure, unit in SUMMARY:
        rows = head[head["quantity"] == quantity]
        if not len(rows) or not rows["estimate"].notna().any():
            continue
        if measure == "search_time_km_rmst" and any(c[1] == "search_time_km_median" for c in out):
            continue  # the mean up to 10 years stands in where medians do not pool
        k = 12.0 if unit == "months" else 1.0
        rows = rows.assign(estimate=k * rows["estimate"], lo=k * rows["lo"], hi=k * rows["hi"])
        out.append((label, measure, unit, rows))
    return out


def _summary_html(head: pd.DataFrame, variants: list[str]) -> str:
    """The main differences at a glance: one row per variant, one column per quantity, the
    change from the baseline with its 95% interval and, beneath it, the levels."""
    cols = _summary_rows(head)
    if not cols or not variants:
        return ""
    th = "".join(
        f'<th><a href="#m-{m}">{_esc(label)}</a><br><small>'
        f"{'ratio' if 'per letting' in unit else 'change'}, {_esc(unit)}</small></th>"
        for label, m, unit, _ in cols
    )
    body = []
    for v in variants:
        cells = []
        for _, _, unit, rows in cols:
            r = rows[rows["variant"] == v]
            if not len(r):
                cells.append("<td>–</td>")
                continue
            r = r.iloc[0]
            digits = 0 if unit.startswith("households") else 2 if "per letting" in unit else 1
            ci = (
                f"{_num(r['lo'], digits, True)} to {_num(r['hi'], digits, True)}"
                if math.isfinite(r["lo"])
                else "no interval"
            )
            levels = ""
            if math.isfinite(r["baseline"]) and math.isfinite(r["level"]):
                pct = "%" if r["unit"] == "%" else ""
                d = 0 if unit.startswith("households") else 1 if pct else 2
                levels = (
                    f"<br><small>{_num(r['baseline'], d)}{pct} → {_num(r['level'], d)}{pct}"
                    f"{' years' if r['unit'] == 'years' else ''}</small>"
                )
            cells.append(f"<td><b>{_num(r['estimate'], digits, True)}</b> ({ci}){levels}</td>")
        body.append(f"<tr><th>{_esc(v)}</th>{''.join(cells)}</tr>")
    return (
        '<table class="summary"><tr><th>variant</th>' + th + "</tr>" + "".join(body) + "</table>"
        '<p class="caption">Change from the baseline with its 95% interval in brackets '
        "(levels of the baseline → the variant beneath); a ratio is the ratio itself. Every "
        'quantity, with the method of its interval: <a href="headline.csv">headline.csv</a>.'
        "</p>"
    )


def _fig_summary(head: pd.DataFrame, variants: list[str], styles: dict) -> Figure | None:
    """The main differences: one panel per summary quantity, each variant's change from the
    baseline with its 95% interval."""
    cols = _summary_rows(head)
    if not cols or not variants:
        return None
    ncols = min(3, len(cols))
    nrows = math.ceil(len(cols) / ncols)
    height = 0.9 + 0.32 * len(variants)
    fig = Figure(figsize=(4.0 * ncols, height * nrows + 0.3), layout="constrained")
    for ax, (label, _, unit, rows) in zip(_grid(fig, len(cols), ncols), cols, strict=True):
        for i, v in enumerate(variants):
            r = rows[rows["variant"] == v]
            if not len(r):
                continue
            r = r.iloc[0]
            y = len(variants) - 1 - i
            colour = styles.get(v, {}).get("color", "black")
            if math.isfinite(r["lo"]):
                err = [[r["estimate"] - r["lo"]], [r["hi"] - r["estimate"]]]
                ax.errorbar(r["estimate"], y, xerr=err, fmt="o", color=colour, capsize=3)
            else:
                ax.plot(r["estimate"], y, "o", color=colour)
        ax.axvline(0, color="grey", lw=0.8)
        ax.set_yticks(range(len(variants)), list(reversed(variants)), fontsize=8)
        ax.set_ylim(-0.6, len(variants) - 0.4)
        ax.set_xlabel(f"change from baseline ({unit})" if "per letting" not in unit
                      else f"ratio ({unit})", fontsize=8)  # fmt: skip
        ax.set_title(label, fontsize=9, wrap=True)
        ax.xaxis.set_major_locator(MaxNLocator(nbins=5))
        ax.tick_params(axis="x", labelsize=7)
    return fig


def _period(exp: dict) -> str:
    """The reported years and the warm-up, in words."""
    base = exp.get("base_scenario") or {}
    start, years, burn = base.get("start_year"), base.get("years"), base.get("burn_in_years")
    if not isinstance(start, int) or not isinstance(years, int | float):
        return ""
    end = start + math.ceil(years) - 1
    if exp.get("regions"):
        warm = (
            "each region first runs the burn-in of the scenario it takes its parameters "
            "from (national defaults and Haaglanden 55 years, Amsterdam 70, Twente 40)"
        )
    else:
        warm = (
            f"after a warm-up (burn-in) of {burn:g} simulated years that is not reported "
            "(chosen by MSER-5, docs/ODD.md §B1.2)"
        )
    text = f"Reported period: {start}–{end} ({years:g} years), {warm}."
    if _introduced(exp):
        text += f" The policies are introduced on 1 January {start} (quota.start: window)."
    return text


def _calibration(exp: dict) -> str:
    """The calibration status of the region the experiment runs on."""
    if exp.get("regions"):
        labels = [r.get("parameters", "") for r in exp["regions"].values()]
        own = [x for x in labels if str(x).startswith("calibrated")]
        return (
            f"Calibration: {len(labels) - len(own)} of {len(labels)} regions run on the "
            "national defaults (Haaglanden's behaviour, the departure rate fitted to CBS's "
            "national lettings), so differences between them come from their stock and "
            "households, not from fitted local behaviour; the others take a calibrated "
            "region's parameters (calibration_data/FITS.md)."
        )
    region = Path(str(exp.get("base", ""))).stem
    try:
        with data_file(f"fits/fit_{region}.csv").open("rb") as fh:
            fit = pd.read_csv(fh)
    except DataError:
        return (
            f"Calibration: the base scenario ({_esc(exp.get('base', '?'))}) has no fit of its "
            "own: its fitted values are those of the file it was copied from (the tags "
            "[fitted] and [transfer] in the file; README, Your own region)."
        )
    parts = []
    for use, word in (("fit", "fit targets"), ("holdout", "holdouts")):
        f = fit[fit["use"] == use]
        if len(f):
            parts.append(f"{int(f['within'].sum())} of {len(f)} {word}")
    return (
        f"Calibration: {region.capitalize()} is calibrated in steady state; at the fitted "
        f"values the model is within tolerance on {' and '.join(parts)} "
        f"(calibration_data/fits/fit_{region}.csv; "
        "what each miss means: calibration_data/FITS.md). This holds for the scenario as "
        "shipped: a variant that changes a fitted value leaves the fit."
    )


def _measures_html(names: list[str]) -> str:
    """What the measures on the page mean, each with its definition's anchor."""
    rows = []
    for name in dict.fromkeys(names):
        m = REGISTRY.get(name)
        if m is None:
            continue
        rows.append(
            f'<tr id="m-{name}"><td><code>{name}</code></td><td>{_esc(m.unit)}</td>'
            f"<td>{_esc(m.description)}</td><td>docs/measures.md#{name}</td></tr>"
        )
    return (
        "<h2>What the measures mean</h2><p>The measures this page reports, as woonsim "
        "defines them (<code>woonsim.measures</code>; every measure and output column in "
        "docs/measures.md, each at its anchor). Groups: <b>regulier</b> are the groups that "
        "are not aandachtsgroepen, <b>regulier_first_home</b> its starters, "
        "<b>regulier_move</b> its doorstromers. Censored measures count those who give up as "
        "not housed and those still waiting as censored (woonsim.survival).</p>"
        "<table><tr><th>measure</th><th>unit</th><th>definition</th><th>in the docs</th>"
        f"</tr>{''.join(rows)}</table>"
    )


# --- the report -------------------------------------------------------------------------
CSS = """
body { font-family: sans-serif; max-width: 1150px; margin: 2em auto; color: #222; }
img { max-width: 100%; border: 1px solid #ddd; }
table.headline { border-collapse: collapse; font-size: 0.9em; }
table.headline td, table.headline th { padding: 3px 8px; border-bottom: 1px solid #ddd; }
table.summary { border-collapse: collapse; font-size: 0.9em; }
table.summary td, table.summary th { padding: 4px 8px; border: 1px solid #ddd; text-align: left; }
.about { background: #f6f6f6; padding: 0.5em 1em; }
footer { margin-top: 3em; font-size: 0.85em; color: #555; border-top: 1px solid #ccc; }
.caption { font-size: 0.9em; color: #444; }
"""


def build_report(results_dir: str | Path, out_dir: str | Path | None = None) -> Path:
    """Write the report of a results folder; returns the path of index.html.

    Raises `ScenarioError` (one line) when the folder, experiment.json or the runs are
    missing (see `woonsim_experiments.analysis.load_results`).
    """
    results_dir = Path(results_dir)
    df, exp = load_results(results_dir)
    out = Path(out_dir) if out_dir is not None else results_dir / "report"
    # written into a temporary folder and moved in: a killed report leaves no half page
    write_atomically(out, lambda tmp: _write_report(tmp, results_dir, df, exp))
    if warning := _incomplete(exp):
        print(f"woonsim: warning: {warning}", file=sys.stderr)
    return out / "index.html"


def _write_report(out: Path, results_dir: Path, df: pd.DataFrame, exp: dict) -> None:
    t = tables(df, exp)
    for name, table in t.items():
        table.to_csv(out / f"{name}.csv", index=False)

    baseline = exp["baseline"]
    variants = [v for v in t["variants"]["variant"] if v in set(df["variant"])]
    styles = _variant_styles(variants, baseline)
    styles = {v: styles[v] for v in variants}
    roles = group_roles(exp, df)
    present = set(df["group"])
    figures = []  # (title, png, csv files, caption)

    others = [v for v in variants if v != baseline]
    summary = _fig_summary(t["headline"], others, styles)
    if summary is not None:
        _save(summary, out / "main_differences.png")

    curve = t["displacement_curve"]
    lever = _lever_axis(curve)  # the caption names the lever only if the axis shows it
    if len(t["differences"]):  # none when the baseline is the only variant
        _save(_fig_displacement(curve, variants), out / "displacement.png")
    figures.extend(
        []
        if not len(t["differences"])
        else [
            (
                "Displacement of reguliere woningzoekenden",
                "displacement.png",
                ["displacement_curve.csv", "variants.csv"],
                "Change from the baseline in the chance of reguliere woningzoekenden of being "
                "housed within 3 years of starting to search (those who give up count as not "
                "housed) and in their Kaplan–Meier "
                + (
                    "median"
                    if (curve["measure"] == "search_time_km_median").any()
                    else "restricted mean (up to 10 years)"
                )
                + " search time (regulier, its starters "
                "(regulier_first_home) and doorstromers (regulier_move), and each of its groups), "
                + (
                    f", against {lever} (x axis)"
                    if lever
                    else ", per variant (x axis: the variants)"
                )
                + f"; band or bar: 95% interval of the difference "
                f"({t['differences']['method'].iloc[0]}).",
            )
        ]
    )

    cdf_groups = [g for g in [*AGGREGATES, *roles["all"]] if g in present]
    cdf_groups = [
        g for g in cdf_groups if t["search_time_cdf"].query("group == @g")["n"].gt(0).any()
    ]
    if cdf_groups:  # none for the nation of a national experiment: quantiles do not pool
        _save(_fig_cdf(t["search_time_cdf"], cdf_groups, styles), out / "waiting_cdf.png")
        figures.append(
            (
                "Waiting-time distributions",
                "waiting_cdf.png",
                ["search_time_cdf.csv"],
                "Distribution of the search time at letting per group (quantiles 5%-95%, "
                "averaged over replications, with the 95% interval of that mean as a band), "
                "baseline (black) and each variant. These are the times of the seekers who "
                "were housed only.",
            )
        )

    panels = [
        ("waiting_end_of_year", g, f"waiting at year end: {g}")
        for g in [*roles["aandachtsgroepen"], "aandachtsgroepen"]
        if g in present
    ]
    bl = t["backlog"]
    panels += [
        ("taakstelling_backlog", g, f"taakstelling backlog: {g}")
        for g in dict.fromkeys(bl.loc[bl["measure"] == "taakstelling_backlog", "group"])
    ]
    if panels:
        _save(_fig_backlog(bl, panels, styles), out / "backlog.png")
        figures.append(
            (
                "Backlogs of the aandachtsgroepen",
                "backlog.png",
                ["backlog.csv"],
                "Households of each aandachtsgroep waiting (on a list or in reception) at each "
                "year end, and the statushouder taakstelling backlog (households); mean over "
                "runs with its 95% band (a t-interval; for the households waiting, a count, "
                "clipped at 0"
                + (
                    ", where it would reach below 0"
                    if bl["clipped"].any()
                    else ", which no band reached here"
                )
                + "). The taakstelling backlog is the task minus those housed, carried over: "
                "below 0 where a municipality is ahead of its task.",
            )
        )

    by = fair_share_basis(
        exp.get("base_scenario", {}).get("allocation", {}).get("task_distribution")
    )
    codes = exp.get("municipalities") or sorted(set(df["municipality"]) - {""})
    if exp.get("regions"):
        figures += _national_figures(t, exp, variants, out)
    elif any(c in _boundaries() for c in codes) and len(t["task_share"]):
        _save(_fig_map(t["task_share"], codes, variants, by), out / "task_map.png")
        figures.append(
            (
                "Who carries the task",
                "task_map.png",
                ["task_share.csv"],
                "Each municipality's share of the region's lettings to aandachtsgroepen minus "
                f"its fair share by {by.replace('_', ' ')}, in percentage points (red: more "
                "than its fair share); in brackets the 95% interval over replications. "
                "Boundaries: CBS 2025, simplified (RD New).",
            )
        )
        change = _task_change(df, exp)
        if len(change):
            change.to_csv(out / "task_share_change.csv", index=False)
            _save(
                _fig_map_change(change, codes, [v for v in variants if v != baseline]),
                out / "task_map_change.png",
            )
            figures.append(
                (
                    "How each variant moves the task",
                    "task_map_change.png",
                    ["task_share_change.csv"],
                    "Each variant's change from the baseline in each municipality's share of "
                    "the region's lettings to aandachtsgroepen, in percentage points, with "
                    "its 95% interval (paired over replications) in brackets; hatched where "
                    "the interval holds zero.",
                )
            )

    html_text = _page(results_dir, df, exp, t, figures, summary is not None)
    (out / "index.html").write_text(html_text, encoding="utf-8")


def _task_change(df: pd.DataFrame, exp: dict) -> pd.DataFrame:
    """Each variant's paired difference from the baseline in each municipality's share of
    the region's aandachtsgroep lettings, with its 95% interval."""
    sub = df[(df["measure"] == "share_of_aandachtsgroep_lettings") & (df["municipality"] != "")]
    if not len(sub) or sub["variant"].nunique() < 2:
        return pd.DataFrame()
    c = compare(sub, exp["baseline"], bool(exp.get("paired", True)))
    return c[["municipality", "variant", "diff", "lo", "hi", "method"]]


def _incomplete(exp: dict) -> str:
    """A warning when the folder holds fewer finished runs than the experiment has."""
    total, found = exp.get("total_runs"), exp.get("runs_found")
    if not isinstance(total, int) or not isinstance(found, int) or found >= total:
        return ""
    return (
        f"Incomplete: {found} of the experiment's {total} runs are finished; {total - found} "
        "are missing, and every figure below uses the finished runs only. Resume the sweep "
        "(the same command) to finish them."
    )


def _page(
    results_dir: Path,
    df: pd.DataFrame,
    exp: dict,
    t: dict,
    figures: list,
    figures_first: bool = False,
) -> str:
    meta = run_metadata(results_dir)
    version = exp.get("version") or meta.get("version") or __version__
    n_runs = df.loc[df["municipality"] == "", "run"].nunique()
    n_points = df["point"].nunique()
    paired = bool(exp.get("paired", True))
    method = (
        "paired t-intervals over replications with common random numbers"
        if paired
        else "Welch t-intervals (the experiment was run without common random numbers)"
    )
    others = [v for v in t["variants"]["variant"] if v != exp["baseline"]]
    about = [exp.get("description", ""), _period(exp), _calibration(exp)]
    body = [
        f"<h1>{_esc(exp['name'])}</h1>",
        *(f'<p class="warning"><b>{_esc(w)}</b></p>' for w in [_incomplete(exp)] if w),
        '<div class="about">',
        *(f"<p>{_esc(a)}</p>" for a in about if a),
        f"<p>{len(t['variants'])} variants against the baseline <b>{_esc(exp['baseline'])}</b>"
        f", {_esc(exp.get('replications', '?'))} replications, {n_points} design point(s), "
        f"{n_runs} runs. Intervals are 95% {method}; ratios use the delta method. What the "
        'measures mean: <a href="#measures">below</a>.</p>',
        "</div>",
        "<h2>Main differences</h2>",
        _summary_html(t["headline"], others),
        *(
            [
                '<img src="main_differences.png" alt="Main differences">',
                '<p class="caption">Each variant\'s change from the baseline (point) with its '
                "95% interval (bar), in the unit under each panel; the grey line is no "
                'change. Data: <a href="headline.csv">headline.csv</a>.</p>',
            ]
            if figures_first
            else []
        ),
        "<h3>In words</h3>",
        *(f"<p>{_esc(s)}</p>" for s in _sentences(t, exp)),
        f"<p>{_esc(_stationarity(df, exp))}</p>",
        "<details><summary>Every headline quantity</summary>",
        _headline_html(t["headline"]),
        '<p class="caption">Table: <a href="headline.csv">headline.csv</a>; all differences: '
        '<a href="differences.csv">differences.csv</a>; ratios: <a href="ratios.csv">'
        "ratios.csv</a>.</p></details>",
        _who_fills_html(t["who_fills"]),
    ]
    if "regions" in t:
        focus = next((v for v in t["variants"]["variant"] if v.startswith("30%")), None)
        body.append(_regions_html(t["regions"], focus or exp["baseline"]))
    for title, png, csvs, caption in figures:
        links = ", ".join(f'<a href="{_esc(c)}">{_esc(c)}</a>' for c in csvs)
        body += [
            f"<h2>{_esc(title)}</h2>",
            f'<img src="{_esc(png)}" alt="{_esc(title)}">',
            f'<p class="caption">{_esc(caption)} Data: {links}.</p>',
        ]
    shown = [m for _, _, m, _ in SUMMARY] + list(CURVE) + PAGE_MEASURES
    body.append('<div id="measures">' + _measures_html(shown) + "</div>")
    body.append(
        "<footer>"
        f"Experiment <b>{_esc(exp['name'])}</b> · sha256 {_esc(exp.get('sha256', 'n/a'))} · "
        f"woonsim {_esc(version)} · root seed {_esc(exp.get('root_seed', 'n/a'))} · "
        f"{n_runs} runs · report by woonsim {_esc(__version__)}"
        "</footer>"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{_esc(exp['name'])}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


# --- the figures, for the dashboard's views -------------------------------------------------
task_map_figure = _fig_map  # who carries the task, per variant (a region's municipalities)
country_map_figure = _fig_country  # every municipality of the country, per panel
displacement_figure = _fig_displacement  # paired differences of regulier against the lever
stationarity_text = _stationarity  # how many runs' windows are past the start-up transient


def fair_share_basis(task_distribution: str | None) -> str:
    """The fair share the task map compares with: the corporation stock when the task is
    distributed by it, else the population."""
    return "social_stock" if task_distribution == "social_stock" else "population"


def main(results_dir: str | Path, out: str | Path | None = None) -> Path:
    """Entry point for `woonsim report RESULTS [--out DIR]`: the path of index.html."""
    return build_report(results_dir, out)
