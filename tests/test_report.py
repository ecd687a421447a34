"""The HTML report of an experiment (issue 6): it builds from a small sweep folder, every
figure it references exists and is an image, the CSV behind each figure has its columns,
the text names the variants with intervals, and bad folders give a one-line error."""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from test_analysis import VARIANTS, write_sweep

from woonsim import ScenarioError
from woonsim_experiments.report import build_report, main

ROOT = Path(__file__).resolve().parents[1]

CSV_COLUMNS = {
    "differences": {"measure", "group", "municipality", "variant", "diff", "lo", "hi", "method"},
    "ratios": {"variant", "municipality", "quantity", "estimate", "lo", "hi", "method"},
    "headline": {"variant", "quantity", "unit", "baseline", "level", "estimate", "lo", "hi",
                 "method"},
    "displacement_curve": {"measure", "group", "variant", "lever_value", "level", "diff",
                           "unit"},
    "search_time_cdf": {"variant", "group", "quantile", "search_time", "lo", "hi"},
    "backlog": {"measure", "group", "municipality", "time", "variant", "mean", "lo", "hi",
                "clipped"},
    "task_share_change": {"municipality", "variant", "diff", "lo", "hi"},
    "task_share": {"municipality", "variant", "share", "fair_share_population",
                   "excess_pp_population"},
    "variants": {"variant", "lever", "lever_value", "setting"},
}  # fmt: skip


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    """Three paired variants (no quota, 20% and 50% floor), three replications each."""
    return write_sweep(tmp_path_factory.mktemp("report") / "results", VARIANTS, 3)


@pytest.fixture(scope="module")
def report(sweep):
    return build_report(sweep)


def test_report_builds_with_figures_and_tables(sweep, report):
    assert report == sweep / "report" / "index.html" and report.is_file()
    page = report.read_text(encoding="utf-8")
    out = report.parent
    pngs = set(re.findall(r'src="([^"]+\.png)"', page))
    assert pngs == {
        "main_differences.png", "displacement.png", "waiting_cdf.png", "backlog.png",
        "task_map.png", "task_map_change.png",
    }  # fmt: skip
    assert pngs == {p.name for p in out.glob("*.png")}  # every PNG is referenced
    for name in pngs:
        path = out / name
        assert path.stat().st_size > 10_000, name
        with Image.open(path) as im:
            im.verify()
        with Image.open(path) as im:
            assert im.format == "PNG" and min(im.size) > 200, (name, im.size)
    for name in set(re.findall(r'href="([^"]+\.csv)"', page)):
        assert (out / name).is_file(), name
    for name, cols in CSV_COLUMNS.items():
        table = pd.read_csv(out / f"{name}.csv")
        assert cols <= set(table.columns), (name, cols - set(table.columns))
        assert len(table), name
    assert "http" not in page.replace("http-equiv", "")  # nothing fetched from outside


def test_report_text_names_variants_with_intervals(report):
    page = report.read_text(encoding="utf-8")
    text = page.split("<h3>In words</h3>")[1].split("<details")[0]
    paragraphs = re.findall(r"<p>(.*?)</p>", text, flags=re.S)[:3]
    assert len(paragraphs) == 3  # one per variant, then the caveat on housed seekers
    for p, name in zip(paragraphs[:2], ("floor 20%", "floor 50%"), strict=True):
        assert p.startswith(name) and "current practice" in p
        assert "censored median search time" in p and "95% CI" in p
        assert "chance of reguliere woningzoekenden of being housed within 3 years" in p
        assert "share of lettings to aandachtsgroepen from " in p  # levels, not only changes
        assert "taakstelling backlog" in p
    assert "give up" in paragraphs[2] and "housed only" in paragraphs[2]
    assert "paired t-intervals" in page
    assert re.search(r"Stationarity: in \d+ of 9 runs the reported window", page)
    footer = page.split("<footer>")[1]
    for part in ("small sweep", "0" * 64, "root seed 2025", "9 runs", "woonsim 0."):
        assert part in footer, part


def test_report_categorical_unpaired(sweep, tmp_path):
    """Variants without a numeric lever are drawn as categories; an unpaired experiment
    reports Welch intervals only. (The runs are reused; only experiment.json changes.)"""
    folder = tmp_path / "results"
    shutil.copytree(sweep / "runs", folder / "runs")
    shutil.copy(sweep / "manifest.json", folder / "manifest.json")
    exp = json.loads((sweep / "experiment.json").read_text(encoding="utf-8"))
    exp["paired"] = False
    exp["variants"][1]["set"] = {"allocation.ranking": "points"}
    exp["variants"][2]["set"] = {"allocation.ranking": "points", "allocation.lottery_share": 0.1}
    (folder / "experiment.json").write_text(json.dumps(exp), encoding="utf-8")
    index = main(folder, tmp_path / "out")
    assert index == tmp_path / "out" / "index.html"
    page = index.read_text(encoding="utf-8")
    assert "Welch t-intervals" in page and "paired t-intervals" not in page
    curve = pd.read_csv(tmp_path / "out" / "displacement_curve.csv")
    assert curve["lever_value"].isna().all()
    diffs = pd.read_csv(tmp_path / "out" / "differences.csv")
    assert (diffs["method"] == "welch t").all()


def test_bad_folders_raise_one_line_errors(tmp_path):
    cases = {"missing": tmp_path / "missing", "no experiment.json": tmp_path}
    for what, folder in cases.items():
        with pytest.raises(ScenarioError) as err:
            build_report(folder)
        assert "\n" not in str(err.value) and str(folder) in str(err.value), what
    (tmp_path / "experiment.json").write_text(
        json.dumps({"name": "x", "baseline": "a", "variants": [{"name": "a", "set": {}}]}),
        encoding="utf-8",
    )
    with pytest.raises(ScenarioError, match="no finished runs") as err:
        main(tmp_path)
    assert "\n" not in str(err.value)
    assert not (tmp_path / "report").exists()


def _headline_row(variant, quantity, unit, baseline, level, lo, hi):
    return {"variant": variant, "quantity": quantity, "unit": unit, "baseline": baseline,
            "level": level, "estimate": level - baseline, "lo": lo, "hi": hi,
            "method": "paired t"}  # fmt: skip


def test_sentences_read_in_the_direction_of_the_estimate():
    """A cap lowers the aandachtsgroep share and gives lettings back; a floor raises it
    and costs lettings; a change whose interval holds zero is reported as no change."""
    from woonsim_experiments.report import _sentences

    rows = []
    for v, sign in (("cap", -1), ("floor", 1)):
        rows += [
            _headline_row(v, "share of lettings to aandachtsgroepen", "%", 25.0,
                          25.0 + 5 * sign, 5 * sign - 0.5, 5 * sign + 0.5),
            _headline_row(v, "chance of being housed within 3 years of starting to search, "
                          "regulier", "%", 40.0, 40.0 - 2 * sign, -2 * sign - 0.3,
                          -2 * sign + 0.3),
            _headline_row(v, "reguliere woningzoekenden leaving unhoused per year",
                          "households", 1000.0, 1001.0, -5.0, 7.0),
            _headline_row(v, "starters' first homes lost per extra aandachtsgroep letting",
                          "lettings", np.nan, np.nan, 0.5, 0.7),
            _headline_row(v, "doorstromers' moves lost per extra "
                          "aandachtsgroep letting", "lettings", np.nan, np.nan, 0.3, 0.5),
        ]  # fmt: skip
    head = pd.DataFrame(rows)
    for q in ("first homes", "moves"):  # ratios: estimate is the ratio itself
        sel = head["quantity"].str.contains(q)
        head.loc[sel, "estimate"] = head.loc[sel, ["lo", "hi"]].mean(axis=1)
    t = {
        "headline": head,
        "variants": pd.DataFrame(
            {"variant": ["base", "cap", "floor"], "setting": ["", "20% cap", "30% norm"]}
        ),
    }
    cap, floor = _sentences(t, {"baseline": "base"})[:2]
    assert "lowers the share of lettings to aandachtsgroepen from 25.0% to 20.0%" in cap
    assert "raises the chance of reguliere woningzoekenden" in cap
    assert "Each aandachtsgroep letting fewer gives back 0.60 starters' first homes" in cap
    assert "raises the share of lettings to aandachtsgroepen from 25.0% to 30.0%" in floor
    assert "lowers the chance of reguliere woningzoekenden" in floor
    assert "Each extra aandachtsgroep letting costs 0.60 starters' first homes" in floor
    for text in (cap, floor):
        assert "leaves the number who leave the lists unhoused each year unchanged" in text


def test_stationarity_line_of_norms_introduced_after_the_burn_in():
    """Known answer: with every norm introduced at the end of the burn-in, the baseline's
    windows test the burn-in (3 of 4 here, CR02 not), the others are transitions."""
    from woonsim_experiments.report import _stationarity

    rows = [
        ("current practice", "CR01", 1.0),
        ("current practice", "CR02", 0.0),
        ("current practice", "CR03", 1.0),
        ("current practice", "CR04", 1.0),
        ("30% norm", "CR01", 0.0),
        ("30% norm", "CR02", 1.0),
    ]
    df = pd.DataFrame(
        [
            {"measure": "window_stationary", "municipality": "", "variant": v, "region": r,
             "value": x}
            for v, r, x in rows
        ]
    )  # fmt: skip
    window = {"share": 0.3, "mode": "floor", "start": "window"}
    exp = {
        "baseline": "current practice",
        "variant_sets": [
            {"name": "current practice", "set": {"allocation.quota": {**window, "share": 0}}},
            {"name": "30% norm", "set": {"allocation.quota": window}},
        ],
    }
    text = _stationarity(df, exp)
    assert "a transition from today's steady state" in text
    assert "in 3 of 4 the reported window starts past" in text
    assert "Not in: CR02;" in text
    assert "Under the norms, 1 of 2 windows pass" in text
    steady = _stationarity(df, {**exp, "variant_sets": []})
    assert "in 4 of 6 runs the reported window starts past" in steady


def test_report_leads_with_a_table_and_a_figure_of_the_main_differences(report):
    """Item 3: the table and the figure come first, the sentences after; every variant
    has a row, every cell its interval."""
    page = report.read_text(encoding="utf-8")
    main = page.split("<h2>Main differences</h2>")[1]
    table = main.index('<table class="summary">')
    assert table < main.index('<img src="main_differences.png"') < main.index("In words")
    rows = re.findall(r"<tr><th>(floor \d+%)</th>(.*?)</tr>", main.split("</table>")[0])
    assert [r[0] for r in rows] == ["floor 20%", "floor 50%"]
    for _, cells in rows:
        cells = re.findall(r"<td>(.*?)</td>", cells)
        assert len(cells) >= 5
        assert all(re.search(r"\(.+ to .+\)", c) or c in ("–",) or "no interval" in c
                   for c in cells), cells  # fmt: skip


def test_report_states_period_warm_up_description_and_calibration(sweep, tmp_path):
    """The small sweep: 1 burn-in year, reported 2025-2027; with Haaglanden as its base,
    the counts of the committed fit table (calibration_data/fits/fit_haaglanden.csv)."""
    folder = tmp_path / "results"
    shutil.copytree(sweep / "runs", folder / "runs")
    shutil.copy(sweep / "manifest.json", folder / "manifest.json")
    exp = json.loads((sweep / "experiment.json").read_text(encoding="utf-8"))
    exp["description"] = "Does a floor help?"
    exp["base"] = "scenarios/haaglanden.yaml"
    (folder / "experiment.json").write_text(json.dumps(exp), encoding="utf-8")
    page = main(folder, tmp_path / "out").read_text(encoding="utf-8")
    about = page.split('<div class="about">')[1].split("</div>")[0]
    assert "Does a floor help?" in about
    assert "Reported period: 2025–2027 (3 years)" in about
    assert "warm-up (burn-in) of 1 simulated years" in about
    fit = pd.read_csv(ROOT / "calibration_data/fits/fit_haaglanden.csv")
    f, h = fit[fit["use"] == "fit"], fit[fit["use"] == "holdout"]
    assert (
        f"within tolerance on {f['within'].sum()} of {len(f)} fit targets and "
        f"{h['within'].sum()} of {len(h)} holdouts"
    ) in about
    exp["base"] = "my_region.yaml"
    (folder / "experiment.json").write_text(json.dumps(exp), encoding="utf-8")
    page = main(folder, tmp_path / "out2").read_text(encoding="utf-8")
    assert "(my_region.yaml) has no fit of its own" in page


def test_every_measure_link_has_its_definition_on_the_page(report):
    from woonsim.measures import REGISTRY

    page = report.read_text(encoding="utf-8")
    links = set(re.findall(r'href="#m-([a-z0-9_]+)"', page))
    ids = set(re.findall(r'id="m-([a-z0-9_]+)"', page))
    assert {"share_of_lettings", "housed_within_3y_of_search"} <= links <= ids
    for name in ids:
        row = page.split(f'id="m-{name}"')[1].split("</tr>")[0]
        assert html.escape(REGISTRY[name].description) in row
        assert f"docs/measures.md#{name}" in row
    doc = (ROOT / "docs" / "measures.md").read_text(encoding="utf-8")
    assert all(f'<a id="{name}"></a>' in doc for name in ids)  # the anchors exist


def test_caption_names_the_lever_only_when_the_axis_shows_it(sweep, tmp_path):
    """Two variants with one quota share: the axis shows the variants, and the caption
    must not say the curve is against the quota share."""
    page = report_text = (sweep / "report" / "index.html").read_text(encoding="utf-8")
    assert "against allocation.quota.share (x axis)" in page
    folder = tmp_path / "results"
    shutil.copytree(sweep / "runs", folder / "runs")
    shutil.copy(sweep / "manifest.json", folder / "manifest.json")
    exp = json.loads((sweep / "experiment.json").read_text(encoding="utf-8"))
    exp["variants"][2]["set"] = {"allocation.quota": {"share": 0.2, "mode": "cap"}}
    (folder / "experiment.json").write_text(json.dumps(exp), encoding="utf-8")
    report_text = main(folder, tmp_path / "out").read_text(encoding="utf-8")
    caption = report_text.split('alt="Displacement of reguliere woningzoekenden"')[1]
    caption = caption.split("</p>")[0]
    assert "per variant (x axis: the variants)" in caption and "quota.share" not in caption
    assert page != report_text


@pytest.mark.parametrize("region", ["haaglanden", "amsterdam", "twente"])
def test_map_labels_do_not_overlap(region):
    """The municipalities of each shipped region, several small and side by side: the
    drawn labels' boxes are pairwise disjoint and lie outside the map."""
    import yaml
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.text import Text

    from woonsim_experiments.report import _fig_map

    scenario = ROOT / "experiments" / "scenarios" / f"{region}.yaml"
    codes = yaml.safe_load(scenario.read_text(encoding="utf-8"))["municipalities"]
    share = pd.DataFrame(
        {
            "municipality": codes, "variant": "a", "share": 0.1, "share_lo": 0.05,
            "share_hi": 0.15, "fair_share_population": 0.11,
            "excess_pp_population": np.linspace(-3, 3, len(codes)),
        }
    )  # fmt: skip
    fig = _fig_map(share, codes, ["a"], "population")
    FigureCanvasAgg(fig).draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    boxes = [Text.get_window_extent(t, renderer) for t in ax.texts]  # without the lines
    assert len(boxes) == len(codes)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
    area = ax.collections[0].get_window_extent(renderer)
    assert all(b.x1 <= area.x0 or b.x0 >= area.x1 for b in boxes)


def test_count_bands_are_clipped_at_zero():
    """Known answer: households waiting 0, 0 and 5 over three runs; mean 5/3, t-interval
    5/3 ± t(0.975, 2) · sd / √3 reaches below 0 and is clipped there. The taakstelling
    backlog (task minus housed) may be negative and is not clipped."""
    from scipy import stats

    from woonsim_experiments.analysis import backlog

    rows = []
    for measure, group in (("waiting_end_of_year", "urgent"),
                           ("taakstelling_backlog", "statushouders")):  # fmt: skip
        rows += [
            {"measure": measure, "group": group, "municipality": "", "time": 2030.0,
             "variant": "a", "point": 0, "replication": r, "value": v}
            for r, v in enumerate([0.0, 0.0, 5.0])
        ]  # fmt: skip
    exp = {"baseline": "a", "variants": [{"name": "a", "set": {}}]}
    exp["base_scenario"] = {"groups": [{"name": "urgent", "aandachtsgroep": True}]}
    out = backlog(pd.DataFrame(rows), exp).set_index("measure")
    half = stats.t.ppf(0.975, 2) * np.std([0, 0, 5], ddof=1) / np.sqrt(3)
    waiting, task = out.loc["waiting_end_of_year"], out.loc["taakstelling_backlog"]
    assert waiting["mean"] == pytest.approx(5 / 3) and waiting["hi"] == pytest.approx(5 / 3 + half)
    assert waiting["lo"] == 0.0 and bool(waiting["clipped"])
    assert task["lo"] == pytest.approx(5 / 3 - half) and task["lo"] < 0
    assert not bool(task["clipped"])


def test_national_page_states_how_many_regions_run_on_the_defaults():
    from woonsim_experiments.report import _calibration, _period

    regions = {
        "CR01": {"parameters": "national_default"},
        "CR02": {"parameters": "national_default"},
        "CR26": {"parameters": "calibrated:haaglanden"},
    }
    base = {"start_year": 2025, "years": 10, "burn_in_years": 55,
            "allocation": {"quota": {"start": "window"}}}  # fmt: skip
    exp = {"regions": regions, "base_scenario": base, "variants": [{"name": "a", "set": {}}]}
    assert "Calibration: 2 of 3 regions run on the national defaults" in _calibration(exp)
    period = _period(exp)
    assert period.startswith("Reported period: 2025–2034 (10 years), each region first runs")
    assert "introduced on 1 January 2025" in period
