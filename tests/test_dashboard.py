"""The dashboard (issue 15), headless with `solara.render`: a lever changes the scenario
through the path language, the burn-in comes first, a step changes the figures, Reset keeps
the levers, the live measures are those of a run, and the results view shows the paired
differences of a results folder made by `woonsim experiment`. The browser test is
test_dashboard_browser.py."""

from __future__ import annotations

import inspect
import os
import threading
import time
from pathlib import Path
from typing import ClassVar

import ipyvuetify as v
import ipywidgets
import numpy as np
import pytest
import solara

from woonsim import ScenarioError, load_scenario, parse_scenario
from woonsim.measures import run_metrics
from woonsim.region.market import RegionalMarket
from woonsim_cli import commands
from woonsim_dashboard import live_view, settings
from woonsim_dashboard.levers import LEVERS, available, model_params, scenario_with
from woonsim_dashboard.live_model import LiveMarket
from woonsim_dashboard.results_data import open_results
from woonsim_dashboard.results_view import ResultsPage
from woonsim_dashboard.snapshot import snapshot
from woonsim_experiments.analysis import load_results, paired_differences

DATA = Path(__file__).resolve().parent / "data"
TINY = DATA / "tiny_region.yaml"


@pytest.fixture(autouse=True)
def tiny_region(monkeypatch):
    """The dashboard shows the tiny test region (1 burn-in year, 2 reported years)."""
    monkeypatch.setenv(settings.SCENARIOS_ENV, str(TINY))


@pytest.fixture(scope="module")
def results_root(tmp_path_factory) -> Path:
    """A results folder made by `woonsim experiment` on the tiny experiment (9 runs)."""
    root = tmp_path_factory.mktemp("results")
    out = root / "tiny"
    argv = ["experiment", str(DATA / "tiny_experiment.yaml"), "--out", str(out)]
    assert commands.main([*argv, "--workers", "1", "--no-report"]) == 0
    return root


def wait_until(condition, timeout: float = 30.0) -> None:
    t0 = time.monotonic()
    while not condition():
        assert time.monotonic() - t0 < timeout, "timed out"
        time.sleep(0.05)


class Page:
    """A rendered page and what a person reads and clicks on it."""

    def __init__(self, element):
        self.box, self.rc = solara.render(solara.AppLayout(children=[element]), handle_error=False)

    def html(self, css_class: str) -> str:
        hits = [
            w.unsafe_innerHTML
            for w in self.rc.find(solara.widgets.HTML).widgets
            if css_class in (w.unsafe_innerHTML or "") or css_class in str(w.attributes)
        ]
        return hits[0] if hits else ""

    def alerts(self) -> str:
        return " ".join(str(a.children) for a in self.rc.find(v.Alert).widgets)

    def images(self) -> list[bytes]:
        return [w.value for w in self.rc.find(ipywidgets.Image).widgets]

    def click(self, label: str) -> None:
        self.rc.find(v.Btn, children=[label]).widget.click()

    def spans(self) -> str:
        return " ".join(str(h.children) for h in self.rc.find(v.Html, tag="span").widgets)

    def buttons(self) -> list[str]:
        return [str(b.children[0]) for b in self.rc.find(v.Btn).widgets if b.children]


class Recording(LiveMarket):
    """LiveMarket that keeps the models SolaraViz makes (at start and at each Reset)."""

    made: ClassVar[list[LiveMarket]] = []

    def __new__(cls, *args, **kwargs):
        model = super().__new__(cls)
        cls.made.append(model)
        return model


# --- levers ---------------------------------------------------------------------------------
def test_levers_are_the_models_keywords():
    keywords = [
        p.name
        for p in inspect.signature(LiveMarket.__init__).parameters.values()
        if p.kind == p.KEYWORD_ONLY
    ]
    assert keywords == [lv.name for lv in LEVERS]


def test_a_lever_sets_its_path_and_bad_values_are_refused_by_the_schema():
    base = load_scenario(TINY)
    s = scenario_with(base, {"quota_mode": "floor", "quota_share": 0.4, "urgency_search_weeks": 30})
    assert (s.allocation.quota.mode, s.allocation.quota.share) == ("floor", 0.4)
    assert s.allocation.urgency.search_weeks == 30.0
    assert s.flows == base.flows and s.groups == base.groups  # nothing else moves
    with pytest.raises(ScenarioError, match=r"allocation\.quota\.share"):
        scenario_with(base, {"quota_share": 1.5})
    with pytest.raises(ScenarioError, match=r"allocation\.quota\.mode"):
        scenario_with(base, {"quota_mode": "quota"})


def test_levers_start_at_the_scenarios_values_and_exist_only_where_the_group_does():
    base = load_scenario(TINY)
    params = model_params(base, "tiny_region")
    assert params["lottery_share"]["value"] == base.allocation.lottery_share
    assert params["statushouder_task"]["value"] == 13000
    own = params["studenten_own_channel"]
    assert own["max"] == 1.5  # up to the group's whole inflow
    d = base.model_dump(mode="python")
    d["groups"] = [g for g in d["groups"] if g["name"] != "studenten"]
    names = [lv.name for lv in available(parse_scenario(d))]
    assert "studenten_own_channel" not in names and "arbeidsmigranten_own_channel" in names


# --- the live model ---------------------------------------------------------------------------
def test_live_measures_are_those_of_a_run():
    """Stepped through the dashboard to its horizon, the measures equal those of the
    same (scenario, seed) run in one go: one definition, one engine."""
    m = LiveMarket("tiny_region", 3, quota_mode="floor", quota_share=0.4)
    assert snapshot(m).window is None and len(snapshot(m).measures) == 0  # the burn-in
    m.run_burn_in()
    assert m.time == m.burn_in_years and snapshot(m).window is None
    m.step()
    assert snapshot(m).window == (2025, 2025)
    m.step()
    snap = snapshot(m)
    assert snap.window == (2025, 2026) and not m.running
    whole = run_metrics(RegionalMarket(m.spec, 3).run()).to_pandas()
    assert len(snap.measures) == len(whole)
    assert np.allclose(snap.measures["value"], whole["value"], equal_nan=True)
    assert (snap.measures["measure"] == whole["measure"]).all()


# --- the live view, headless ------------------------------------------------------------------
def test_live_view_lever_step_and_reset(monkeypatch):
    Recording.made = []
    monkeypatch.setattr(live_view, "LiveMarket", Recording)
    page = Page(live_view.LivePage())
    first = Recording.made[-1]
    assert "Burn-in" in page.alerts() and "Run the burn-in (1 year)" in page.buttons()
    assert "woonsim-groups" not in page.html("woonsim-groups")  # no measures in the burn-in

    # a lever changes the scenario at Reset
    page.rc.find(v.Slider, label="quota: share").widget.v_model = 0.4
    page.rc.find(v.Select, label="quota: mode").widget.v_model = "floor"
    assert first.spec.allocation.quota.share == 0.0  # not before Reset
    page.click("Reset")
    model = Recording.made[-1]
    assert model is not first
    assert (model.spec.allocation.quota.mode, model.spec.allocation.quota.share) == ("floor", 0.4)
    assert "quota: share = 0.4" in page.html("woonsim-changed")

    # the burn-in, then a step: the figures appear; another step changes them
    before = set(threading.enumerate())
    page.click("Run the burn-in (1 year)")
    wait_until(lambda: "The burn-in is done" in page.alerts())
    # the burn-in's thread has drawn its last views (headless, renders are not queued)
    wait_until(lambda: set(threading.enumerate()) <= before)
    assert "Time: 1.0" in page.spans()  # SolaraViz's clock too
    page.click("Step")
    wait_until(lambda: "woonsim-groups" in page.html("woonsim-groups"))
    assert model.calendar_year == 2026
    table1, images1 = page.html("woonsim-groups"), page.images()
    page.click("Step")
    wait_until(lambda: "2027" in page.html("woonsim-year"))
    table2, images2 = page.html("woonsim-groups"), page.images()
    assert table1 != table2
    assert len(images1) == len(images2) >= 5 and images1 != images2

    # Reset keeps the levers: the sliders as set, and the new model built with them
    page.click("Reset")
    again = Recording.made[-1]
    assert again is not model and again.time == 0
    assert (again.spec.allocation.quota.mode, again.spec.allocation.quota.share) == ("floor", 0.4)
    assert page.rc.find(v.Slider, label="quota: share").widget.v_model == 0.4
    assert page.rc.find(v.Select, label="quota: mode").widget.v_model == "floor"
    assert "Burn-in" in page.alerts()


def test_a_new_region_starts_from_its_own_scenario(monkeypatch, tmp_path):
    other = tmp_path / "tiny_b.yaml"
    other.write_text(TINY.read_text().replace("lottery_share: 0.10", "lottery_share: 0.25"))
    monkeypatch.setenv(settings.SCENARIOS_ENV, os.pathsep.join([str(TINY), str(other)]))
    Recording.made = []
    monkeypatch.setattr(live_view, "LiveMarket", Recording)
    page = Page(live_view.LivePage())

    def lottery() -> float:
        return page.rc.find(v.Slider, label="lottery share of adverts").widget.v_model

    assert lottery() == 0.1 and Recording.made[-1].region == "tiny_region"
    page.rc.find(v.Select, label="Region").widget.v_model = "tiny_b"
    model = Recording.made[-1]
    assert model.region == "tiny_b" and model.spec.allocation.lottery_share == 0.25
    assert lottery() == 0.25


# --- the results view ------------------------------------------------------------------------
def test_results_view_shows_the_paired_differences(monkeypatch, results_root):
    monkeypatch.setenv(settings.RESULTS_ENV, str(results_root))
    page = Page(ResultsPage())
    wait_until(lambda: "woonsim-differences" in page.html("woonsim-differences"))
    table = page.html("woonsim-differences")
    assert "30% floor" in table and "50% ring-fenced" in table
    # pick a measure and group: the table shows analysis' paired difference, in pp
    page.rc.find(v.Select, label="Measure").widget.v_model = "share_of_lettings"
    page.rc.find(v.Select, label="Group").widget.v_model = "aandachtsgroepen"
    df, _ = load_results(results_root / "tiny")
    d = paired_differences(df, "share_of_lettings", "aandachtsgroepen").set_index("variant")
    table = page.html("woonsim-differences")
    for name in ("30% floor", "50% ring-fenced"):
        assert f"{100 * d.loc[name, 'diff']:,.3f}" in table
        assert f"{100 * d.loc[name, 'hi']:,.3f}" in table
    assert d.loc["30% floor", "lo"] > 0  # a floor raises the share: a real difference
    # fewer variants: fewer rows
    page.rc.find(v.Select, label="Variants").widget.v_model = ["30% floor"]
    assert "50% ring-fenced" not in page.html("woonsim-differences")
    assert "woonsim-headline" in page.html("woonsim-headline")
    assert len(page.images()) >= 2  # the differences and the map


def test_results_view_says_what_is_wrong_with_a_folder(monkeypatch, tmp_path):
    monkeypatch.setenv(settings.RESULTS_ENV, str(tmp_path))
    page = Page(ResultsPage())
    assert "No experiment results under" in page.alerts()
    field = page.rc.find(v.TextField, label="or a folder's path").widget
    field.v_model = str(tmp_path)
    field.fire_event("keyup.enter", None)  # typed, then Enter
    wait_until(lambda: "no experiment.json" in page.alerts())  # the one-line error
    with pytest.raises(ScenarioError, match=r"no experiment\.json"):
        open_results(tmp_path)


# --- the command ------------------------------------------------------------------------------
def test_dashboard_command_binds_to_localhost_without_telemetry(tmp_path):
    args = commands.build_parser().parse_args(["dashboard", "--scenario", str(TINY)])
    argv, env = commands.dashboard_command(args)
    assert argv[1:5] == ["-m", "solara", "run", "woonsim_dashboard.app"]
    assert argv[argv.index("--host") + 1] == "127.0.0.1" and "--production" in argv
    assert "--no-check-version" in argv  # solara would ask PyPI for its latest version
    assert env["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] == "false"
    assert env[commands.DASHBOARD_SCENARIOS_ENV] == str(TINY)
    assert env[commands.DASHBOARD_RESULTS_ENV] == str(Path("results").resolve())
    # the names the server reads, and its defaults: the command's
    assert (commands.DASHBOARD_SCENARIOS_ENV, commands.DASHBOARD_RESULTS_ENV) == (
        settings.SCENARIOS_ENV,
        settings.RESULTS_ENV,
    )
    assert commands.DASHBOARD_REGIONS == settings.DEFAULT_REGIONS
    missing = str(tmp_path / "nowhere.yaml")
    assert commands.main(["dashboard", "--scenario", missing]) == 2


def test_default_regions_are_the_shipped_scenarios(monkeypatch):
    monkeypatch.delenv(settings.SCENARIOS_ENV)
    assert list(settings.region_files()) == ["haaglanden", "amsterdam", "twente"]
    assert all(p.is_file() for p in settings.region_files().values())
    assert os.environ.get(settings.SCENARIOS_ENV) is None
