"""The committed fits (calibration_data/fits/) agree with what the project runs: every
region scenario carries its fitted values (to the 3 significant digits typed into the
YAML), a region that transfers a parameter from Haaglanden carries Haaglanden's value, and
each fit table lists exactly the region's fit and holdout targets of targets.csv with
their current values and tolerances (a fit table is stale once a target changes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from woonsim import load_scenario
from woonsim.paths import locate
from woonsim_experiments.calibrate import load_spec
from woonsim_experiments.targets import targets

ROOT = Path(__file__).resolve().parents[1]
FITS = ROOT / "calibration_data" / "fits"
REGIONS = ("haaglanden", "amsterdam", "twente")
# Haaglanden-fitted parameters a region sets otherwise, as a labelled assumption (its
# scenario and calibration spec say why): Twente's registration lead, its urgent inflow
# (Haaglanden's would be most of Twente's lettings) and its starters' inflow, held at the
# value fitted without choice (with choice the registration time does not move with it),
# and its regular seekers' reservation (unidentified below 0 when fitted). Amsterdam's
# patience is held at its own earlier fit (issue 13), when the weekly activity took its
# place among the fitted parameters.
ASSUMED = {
    "amsterdam": {"groups[starters|doorstromers].patience_years": 4.443},
    "twente": {
        "groups[starters|doorstromers].registration_lead_years": 0.1,
        "groups[urgent].inflow_per_1000_households": 1.5,
        "groups[starters].inflow_per_1000_households": 2.43,
        "groups[starters].reservation": 0.0,
    },
}


def _fitted(region: str) -> dict:
    return yaml.safe_load((FITS / f"fitted_{region}.yaml").read_text())


def _value(scenario, path: str) -> list[float]:
    return [node[key] for node, key, *_ in locate(scenario.model_dump(mode="python"), path)]


def _refinements(region: str) -> list[dict]:
    """Later fits of some of a region's parameters with the others held
    (fitted_<region>_<what>.yaml), in name order."""
    return [yaml.safe_load(f.read_text()) for f in sorted(FITS.glob(f"fitted_{region}_*.yaml"))]


@pytest.mark.parametrize("region", REGIONS)
def test_scenario_carries_its_fitted_values(region):
    values = {}
    for fitted in [_fitted(region), *_refinements(region)]:
        assert fitted["region"] == region and fitted["evaluations"] > 0
        _, params, _, _ = load_spec(ROOT / fitted["spec"])
        assert sorted(p.path for p in params) == sorted(fitted["fitted"])
        values.update(fitted["fitted"])
    committed = load_scenario(ROOT / "experiments" / "scenarios" / f"{region}.yaml")
    for path, value in values.items():
        for v in _value(committed, path):
            assert v == pytest.approx(value, rel=0.005), (region, path)


def _places(scenario, path: str) -> set[str]:
    """The locations a parameter path sets (``groups[0].reservation``)."""
    return {loc for *_, loc in locate(scenario.model_dump(mode="python"), path)}


@pytest.mark.parametrize("region", ["amsterdam", "twente"])
def test_transferred_parameters_are_haaglandens(region):
    scenario = load_scenario(ROOT / "experiments" / "scenarios" / f"{region}.yaml")
    # a Haaglanden parameter is the region's own when the region's fit sets every place
    # it sets (Twente fits one reservation for the groups Haaglanden fits apart)
    fitted_places = set().union(*(_places(scenario, p) for p in _fitted(region)["fitted"]))
    own = {p for p in _fitted("haaglanden")["fitted"] if _places(scenario, p) <= fitted_places}
    haaglanden = load_scenario(ROOT / "experiments/scenarios/haaglanden.yaml")
    assumed = ASSUMED.get(region, {})
    assert scenario.choice is not None and haaglanden.choice is not None  # one behaviour
    source = {p: _value(haaglanden, p)[0] for p in _fitted("haaglanden")["fitted"]}
    transferred = [p for p in source if p not in own | set(assumed)]
    assert transferred
    for path in transferred:
        assert set(_value(scenario, path)) == {source[path]}, (region, path)
    for path, value in assumed.items():
        assert set(_value(scenario, path)) == {value}, (region, path)


@pytest.mark.parametrize("region", REGIONS)
def test_fit_table_lists_the_current_targets(region):
    table = pd.read_csv(FITS / f"fit_{region}.csv", keep_default_na=False)
    want = targets(region)
    want = want[want["use"].isin(["fit", "holdout"])]
    key = ["measure", "group", "area", "use"]
    got = table[[*key, "target", "tolerance"]].sort_values(key, ignore_index=True)
    exp = (
        want[[*key, "value", "tolerance"]]
        .rename(columns={"value": "target"})
        .sort_values(key, ignore_index=True)
    )
    pd.testing.assert_frame_equal(got, exp, check_dtype=False)
    assert {"fit", "holdout"} <= set(table["use"])


def test_national_defaults_carry_their_fitted_values():
    """The national defaults in national.yaml are the fitted ones of fitted_national.yaml
    rounded to three significant digits; the fit stopped within its tolerances (0.5% on
    the national lettings, 2% on the priority share of the 43 largest municipalities), and
    the national run at the committed values (`national_run`) lies within 1% and 5% of
    the figures."""
    from woonsim_experiments.national import load_national

    fitted = _fitted("national")
    ns, _ = load_national(ROOT / fitted["scenario"])
    assert set(fitted["parameters"]) <= set(ns.default_overrides)
    for path in fitted["parameters"]:
        assert ns.default_overrides[path] == float(f"{fitted['fitted'][path]:.3g}")
    errors = fitted["relative_errors"]
    assert abs(errors["lettings_per_year"]) <= 0.005
    assert abs(errors["priority_share_43_largest"]) <= 0.02
    run, targets = fitted["national_run"], fitted["targets"]
    assert run["lettings_per_year"] == pytest.approx(targets["lettings_per_year"], rel=0.01)
    share = targets["priority_share_43_largest"]
    assert run["priority_share_43_largest"] == pytest.approx(share, rel=0.05)


def test_national_regions_carry_their_fitted_values():
    """Every `region_overrides` value of national.yaml is the fitted one of
    fitted_national_regions.yaml, rounded to three significant digits; each region's fit
    stopped within 2% (or at its budget within the figure's tolerance), and its check
    with 4 fresh seeds lies within each figure's tolerance with every window stationary;
    every `use: fit` row of national_targets.csv lies in a fitted region."""
    from woonsim_experiments.national import load_national, region_scenarios
    from woonsim_experiments.targets import national_targets

    fitted = _fitted("national_regions")
    ns, base = load_national(ROOT / fitted["scenario"])
    assert set(ns.region_overrides) == set(fitted["regions"])
    for reg, record in fitted["regions"].items():
        assert set(ns.region_overrides[reg]) == set(record["fitted"])
        for path, value in record["fitted"].items():
            assert ns.region_overrides[reg][path] == float(f"{value:.3g}")
        # stopped within 2%, or spent its budget of 8 with the best point within the
        # figure's tolerance (Almere: the share jumps past 0.49, FITS.md)
        errors = [abs(e) for e in record["relative_errors_at_fit"]]
        tolerances = [c["tolerance"] for c in record["check"]]
        assert max(errors) <= 0.02 or (
            len(record["evaluations"]) == 8
            and all(e <= t for e, t in zip(errors, tolerances, strict=True))
        ), reg
        assert all(c["within"] for c in record["check"]), reg
        assert record["check_stationary_share"] == 1.0, reg
    members = {r: set(sc.municipalities) for r, sc, _ in region_scenarios(ns, base)}
    rows = national_targets()
    for area in rows.loc[rows["use"] == "fit", "area"]:
        home = [r for r, codes in members.items() if set(area.split(";")) <= codes]
        assert home and home[0] in fitted["regions"], area
