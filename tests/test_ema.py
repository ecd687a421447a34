"""The EMA Workbench adapter (`woonsim_experiments.ema`): values reach the scenario, seeds make runs
reproducible and pair the policies of one scenario, and the worked example runs."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from woonsim.region.market import RegionalMarket
from woonsim.scenario import ScenarioError, load_scenario, parse_scenario
from woonsim_experiments import ema

ROOT = Path(__file__).resolve().parents[1]

UNC = {
    "flows.departure_rate": (0.02, 0.035),
    "groups[urgent].inflow_per_1000_households": (0.75, 3.0),
    "groups[starters|doorstromers].patience_years": (2.0, 8.0),
}
LEVERS = {
    "allocation.quota.share": (0.0, 0.5),
    "allocation.quota.mode": ["none", "floor", "cap", "ring_fenced"],
}
CURRENT = {"allocation.quota.share": 0.0, "allocation.quota.mode": "none"}
NORM = {"allocation.quota.share": 0.3, "allocation.quota.mode": "floor"}


@pytest.fixture(scope="module")
def base():
    """Two small municipalities of Haaglanden, three simulated years (a run: ~0.1 s)."""
    d = load_scenario(ROOT / "experiments/scenarios/haaglanden.yaml").model_dump(mode="python")
    d.update(municipalities=["GM1842", "GM0629"], burn_in_years=1, years=2, measure=None)
    return parse_scenario(d)


def make(base, seed_policy="index", root_seed=7, **kw):
    m = ema.woonsim_model(
        base,
        UNC,
        LEVERS,
        names={"flows.departure_rate": "departure_rate"},
        seed_policy=seed_policy,
        root_seed=root_seed,
        **kw,
    )
    pols = [ema.policy(m, "current", CURRENT), ema.policy(m, "norm30", NORM)]
    return m, pols


def record(m):
    """Replace the simulation by a recorder: each experiment's (scenario name, scenario,
    seed); outcomes read back from the scenario EMA built."""
    seen = []

    def evaluate(scenario, seed):
        seen.append((m.scenario_name, scenario, seed))
        g = {x.name: x for x in scenario.groups}
        values = [
            scenario.flows.departure_rate,
            g["urgent"].inflow_per_1000_households,
            g["starters"].patience_years,
            scenario.allocation.quota.share,
            float(scenario.allocation.quota.mode == "floor"),
            g["doorstromers"].patience_years,
        ]
        return dict(zip(m.outcome_specs, values, strict=True))

    m.evaluate = evaluate
    return seen


def perform(m, scenarios, pols, evaluator=None):
    with evaluator or ema.make_evaluator(m) as ev:
        return ev.perform_experiments(scenarios, pols)


def test_missing_extra_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "ema_workbench", None)  # import fails
    with pytest.raises(ImportError) as err:
        ema._ema()
    assert str(err.value) == "install the ema extra: pip install woonsim[ema]"


def test_values_set_by_ema_end_up_in_the_scenario(base):
    m, pols = make(base)
    assert [p.name for p in m.uncertainties] == [
        "departure_rate",
        "groups_urgent_inflow_per_1000_households",
        "groups_starters_doorstromers_patience_years",
    ]
    seen = record(m)
    experiments, out = perform(m, ema.sample_scenarios(m, 5, rng=3), pols)
    assert len(seen) == len(experiments) == 10
    o = list(m.outcome_specs)
    np.testing.assert_array_equal(out[o[0]], experiments["departure_rate"].to_numpy(float))
    np.testing.assert_array_equal(
        out[o[1]], experiments["groups_urgent_inflow_per_1000_households"].to_numpy(float)
    )
    # a selector of two groups sets both
    pat = experiments["groups_starters_doorstromers_patience_years"].to_numpy(float)
    np.testing.assert_array_equal(out[o[2]], pat)
    np.testing.assert_array_equal(out[o[5]], pat)
    assert ((pat >= 2.0) & (pat <= 8.0)).all() and len(set(pat)) == 5
    # levers: each policy's values
    current = (experiments["policy"] == "current").to_numpy()
    np.testing.assert_array_equal(out[o[3]], np.where(current, 0.0, 0.3))
    np.testing.assert_array_equal(out[o[4]], np.where(current, 0.0, 1.0))
    # everything else is the base scenario's
    for _, sc, _ in seen:
        assert sc.statushouders == base.statushouders
        assert sc.construction == base.construction
        assert sc.groups[0].inflow_per_1000_households == base.groups[0].inflow_per_1000_households


@pytest.mark.parametrize("seed_policy", ["index", "values", "common"])
def test_policies_of_one_scenario_share_seed_and_arrivals(base, seed_policy):
    m, pols = make(base, seed_policy)
    seen = record(m)
    scenarios = ema.sample_scenarios(m, 3, rng=11)
    perform(m, scenarios, pols)
    by_scenario: dict[str, list] = {}
    for name, sc, seed in seen:
        by_scenario.setdefault(name, []).append((sc, seed))
    assert sorted(by_scenario) == ["0", "1", "2"]
    keys = set()
    for runs in by_scenario.values():
        (sc_a, seed_a), (sc_b, seed_b) = runs
        assert sc_a.allocation.quota != sc_b.allocation.quota  # two different policies
        assert (seed_a.entropy, seed_a.spawn_key) == (seed_b.entropy, seed_b.spawn_key)
        a, b = RegionalMarket(sc_a, seed_a).seekers, RegionalMarket(sc_b, seed_b).seekers
        for col in ("arrival", "group", "muni", "deadline", "registration", "htype"):
            np.testing.assert_array_equal(getattr(a, col), getattr(b, col))
        keys.add(seed_a.spawn_key)
    if seed_policy == "common":
        assert keys == {()}
    else:
        assert len(keys) == 3  # scenarios get different seeds
    if seed_policy == "index":
        assert keys == {(0,), (1,), (2,)}


def test_identical_seeds_give_identical_outcomes(base):
    def outcomes(root_seed, seed_policy="index"):
        m, pols = make(base, seed_policy, root_seed)
        return perform(m, ema.sample_scenarios(m, 2, rng=5), pols[:1])[1]

    first, again = outcomes(7), outcomes(7)
    for k in first:
        np.testing.assert_array_equal(first[k], again[k])
    other = outcomes(8)
    assert any(not np.array_equal(first[k], other[k]) for k in first)
    # "values": the seed follows the scenario values, not the order of the design
    v1, v2 = outcomes(7, "values"), outcomes(7, "values")
    for k in v1:
        np.testing.assert_array_equal(v1[k], v2[k])
    assert np.isfinite(first["search_time_mean_regulier"]).all()


def test_executor_evaluator_matches_sequential(base):
    m, pols = make(base)
    scenarios = ema.sample_scenarios(m, 2, rng=1)
    seq = perform(m, scenarios, pols)
    with ThreadPoolExecutor(2) as pool:
        par = perform(m, scenarios, pols, ema.make_evaluator(m, executor=pool))
    pd.testing.assert_frame_equal(seq[0], par[0])
    for k in seq[1]:
        np.testing.assert_array_equal(seq[1][k], par[1][k])


def test_process_pool_evaluator_matches_sequential(base):
    """The model pickles into a spawned worker (WoonsimModel is found by name there)."""
    m, pols = make(base)
    scenarios = ema.sample_scenarios(m, 1, rng=4)
    seq = perform(m, scenarios, pols)
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(1, mp_context=spawn) as pool:
        par = perform(m, scenarios, pols, ema.make_evaluator(m, executor=pool))
    for k in seq[1]:
        np.testing.assert_array_equal(seq[1][k], par[1][k])


def test_paired_difference_is_policy_minus_reference(base):
    m, pols = make(base)
    record(m)
    results = perform(m, ema.sample_scenarios(m, 4, rng=2), pols)
    share = ema.paired_difference(
        m, results, "share_of_lettings_aandachtsgroepen", "norm30", "current"
    )
    assert list(share.index) == ["0", "1", "2", "3"]
    np.testing.assert_allclose(share["difference"], 0.3)
    dep = ema.paired_difference(m, results, "search_time_mean_regulier", "norm30", "current")
    np.testing.assert_array_equal(dep["difference"], 0.0)
    np.testing.assert_array_equal(dep["current"], dep["departure_rate"])
    with pytest.raises(KeyError, match="no experiments for policy"):
        ema.paired_difference(m, results, "search_time_mean_regulier", "norm40", "current")
    # each pair ran on one scenario
    exp, out = results
    swapped = exp.copy()
    swapped["scenario"] = swapped["scenario"].astype(str)
    swapped.loc[swapped.index[-1], "scenario"] = "0"
    with pytest.raises(ValueError):
        ema.paired_difference(m, (swapped, out), "search_time_mean_regulier", "norm30", "current")


def test_outcome_at_the_end_of_a_time_series():
    table = pa.table(
        {
            "measure": ["taakstelling_backlog"] * 3 + ["lettings_per_year"] * 2,
            "group": ["statushouders"] * 3 + ["all", "all"],
            "municipality": ["", "", "GM0503", "", "GM0503"],
            "time": [2030.5, 2031.0, 2031.0, np.nan, np.nan],
            "value": [4.0, 9.0, 100.0, 250.0, 10.0],
        }
    )
    specs = {"b": ("taakstelling_backlog", "statushouders"), "l": ("lettings_per_year", "all")}
    assert ema.outcome_values(table, specs) == {"b": 9.0, "l": 250.0}


def test_bad_input_is_refused(base):
    with pytest.raises(ScenarioError, match="no such"):
        ema.woonsim_model(base, {"flows.depature_rate": (0.0, 0.1)})
    with pytest.raises(ScenarioError):  # outside the field's bounds
        ema.woonsim_model(base, {"flows.departure_rate": (0.5, 1.5)})
    with pytest.raises(ScenarioError):
        ema.woonsim_model(base, UNC, levers={"allocation.quota.mode": ["none", "strict"]})
    with pytest.raises(ScenarioError, match="unknown measure"):
        ema.woonsim_model(base, UNC, outcomes=[("search_time_average", "regulier")])
    with pytest.raises(ValueError, match="seed_policy"):
        ema.woonsim_model(base, UNC, seed_policy="random")
    # seeds by index need scenarios named by index, not EMA's process-wide counter
    from ema_workbench import EMAError  # a BaseException, wrapping the model's error

    m, pols = make(base, "index")
    record(m)
    with pytest.raises(EMAError, match="sample_scenarios"):
        perform(m, 2, pols)


def test_quick_example_runs_and_writes_its_files(tmp_path):
    out = tmp_path / "pa"
    cmd = [sys.executable, "experiments/policy_analysis.py", "--quick", "--out", str(out)]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    for f in (
        "README.md",
        "summary.json",
        "lhs_experiments.csv",
        "lhs_paired.csv",
        "morris_experiments.csv",
        "morris_paired.csv",
        "morris.csv",
        "raise_hist.png",
        "raise_scatter.png",
        "morris.png",
    ):
        assert (out / f).stat().st_size > 0, f
    paired = pd.read_csv(out / "lhs_paired.csv")
    assert len(paired) == 8 and np.isfinite(paired["raise"]).all()
    np.testing.assert_allclose(paired["raise"], paired["norm30"] - paired["current"])
    runs = pd.read_csv(out / "lhs_experiments.csv")
    assert sorted(runs["policy"].unique()) == ["current", "norm30"] and len(runs) == 16
    mor = pd.read_csv(out / "morris.csv", index_col=0)
    assert set(mor.index) == {
        "departure_rate",
        "starters_inflow",
        "urgent_inflow",
        "statushouder_task",
        "construction",
    }
    assert (mor["mu_star"] >= 0).all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 2 * (8 + 2 * 6)
    text = (out / "README.md").read_text()
    assert "PRIM" in text and "Morris" in text and "QUICK" in text
    if summary["prim"]["box"] is not None:
        assert (out / "prim_box.png").exists() and (out / "prim_box.csv").exists()
