"""The national scenario: every municipality once, stock totals equal to CBS, membership
files checked, and the national checks reported beside the statistics."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from woonsim.data import municipalities, national_totals
from woonsim.region.market import RegionalMarket
from woonsim.scenario import ScenarioError, load_scenario
from woonsim_experiments.executors import process_pool
from woonsim_experiments.national import load_national, membership, region_scenarios

ROOT = Path(__file__).resolve().parents[1]
NATIONAL = ROOT / "experiments" / "scenarios" / "national.yaml"
CBS = national_totals()["nederland_2025"]


@pytest.fixture(scope="module")
def regions():
    ns, base = load_national(NATIONAL)
    return region_scenarios(ns, base)


def test_every_municipality_in_exactly_one_region(regions):
    codes = [c for _, sc, _ in regions for c in sc.municipalities]
    assert len(codes) == len(set(codes)) == 342
    assert set(codes) == set(municipalities()["code"])


def test_stock_totals_equal_cbs_exactly(regions):
    """The stock the markets start from, summed over all regions, is CBS 82900NED's
    national total on 1 Jan 2025 (2,331,463 corporation dwellings of 8,274,478)."""
    occupied = dwellings = 0
    for _, sc, _ in regions:
        tiny = sc.model_copy(update={"burn_in_years": 0.0, "years": 0.02})
        m = RegionalMarket(tiny, 0)
        occupied += int(m.stock.occupied.sum() + m.stock.vacant.sum())
        dwellings += sum(x.dwellings for x in m.munis)
    assert occupied == CBS["corporation"] == 2_331_463
    assert dwellings == CBS["dwellings"] == 8_274_478


def test_calibrated_regions_take_their_fitted_parameters(regions):
    by_region = {r: (sc, label) for r, sc, label in regions}
    haaglanden = load_scenario(ROOT / "experiments" / "scenarios" / "haaglanden.yaml")
    amsterdam = load_scenario(ROOT / "experiments" / "scenarios" / "amsterdam.yaml")
    for cr in ("CR26", "CR27"):  # Delft en Westland, Agglomeratie 's-Gravenhage
        sc, label = by_region[cr]
        assert label == "calibrated:haaglanden"
        assert sc.groups == haaglanden.groups and sc.flows == haaglanden.flows
    assert by_region["CR23"][1] == "calibrated:amsterdam"
    assert by_region["CR23"][0].allocation.ranking == amsterdam.allocation.ranking == "points"
    assert by_region["CR12"][1] == "calibrated:twente"
    defaults = [label for _, _, label in regions if label == "national_default"]
    assert len(defaults) == 40 - 5


def _write_membership(path: Path, rows) -> Path:
    pd.DataFrame(rows, columns=["municipality", "region"]).to_csv(path, index=False)
    return path


def test_membership_csv_by_province(tmp_path):
    m = municipalities()
    path = _write_membership(tmp_path / "m.csv", zip(m["code"], m["province"], strict=True))
    regions = membership(str(path))
    assert len(regions) == 12
    assert sum(len(v) for v in regions.values()) == 342


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda rows: rows[1:], "misses 1 municipalities"),
        (lambda rows: [*rows, rows[0]], "listed twice"),
        (lambda rows: [("GM9999", "X"), *rows], "unknown municipality 'GM9999'"),
        (lambda rows: [(rows[0][0], ""), *rows[1:]], "empty region"),
    ],
)
def test_bad_membership_csv(tmp_path, edit, message):
    m = municipalities()
    rows = list(zip(m["code"], m["corop_code"], strict=True))
    path = _write_membership(tmp_path / "m.csv", edit(rows))
    with pytest.raises(ScenarioError, match=message) as err:
        membership(str(path))
    assert "\n" not in str(err.value)


def test_national_run_reports_checks(tmp_path):
    """The whole country over a very short horizon, through the command line: every
    region and municipality in the outputs, and at baseline the share of municipalities
    below 30% social stock equals CBS (285 of 342 on 1 Jan 2025)."""
    text = re.sub(r"(?m)^burn_in_years: .*$", "burn_in_years: 0.2", NATIONAL.read_text())
    assert "burn_in_years: 0.2" in text
    text = re.sub(r"(?m)^years: .*$", "years: 0.3", text)
    assert "years: 0.3" in text
    for name in ("haaglanden", "amsterdam", "twente"):
        text = text.replace(f"{name}.yaml", str(NATIONAL.parent / f"{name}.yaml"))
    scenario = tmp_path / "national.yaml"
    scenario.write_text(text)
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "woonsim_cli",
            "national",
            str(scenario),
            "--workers",
            "2",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    meta = json.loads((out / "national.json").read_text())
    checks = {c["measure"]: c for c in meta["checks"]}
    below = checks["municipalities_below_30pct_social"]
    assert below["simulated"] == below["observed"] == 285
    assert checks["lettings_per_year"]["observed"] == 161_000
    assert checks["lettings_per_year"]["simulated"] > 0
    # the national holdouts (calibration_data/national_targets.csv), each in its region
    pats = pd.read_csv(out / "patterns.csv")
    from woonsim_experiments.targets import national_targets

    expected = national_targets()
    assert sorted(pats["area"]) == sorted(expected["area"])
    assert sorted(pats["observed"]) == sorted(expected["value"])
    assert set(pats.loc[pats["area"] == "GM0344", "region"]) == {"CR17"}
    assert pats["simulated"].notna().all()
    munis = pd.read_csv(out / "municipalities.csv")
    assert sorted(munis["municipality"]) == sorted(municipalities()["code"])
    regions = pd.read_csv(out / "regions.csv")
    assert len(regions) == 40
    assert regions["corporation_stock_2025"].sum() == CBS["corporation"]
    assert np.isclose(regions["lettings_per_year"].sum(), munis["lettings_per_year"].sum())
    assert set(regions["parameters"]) == {
        "national_default",
        "calibrated:haaglanden",
        "calibrated:amsterdam",
        "calibrated:twente",
    }


def test_bad_national_scenario_is_one_line(tmp_path):
    bad = tmp_path / "n.yaml"
    bad.write_text("kind: national\nname: x\ndefaults: haaglanden.yaml\nyears: -1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "woonsim_cli", "national", str(bad)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "years" in proc.stderr


def _short(**changes) -> tuple:
    """The national scenario over a very short horizon (regions of a few months)."""
    ns, base = load_national(NATIONAL)
    return ns.model_copy(update={"burn_in_years": 0.2, "years": 0.3, **changes}), base


def test_default_overrides_reach_the_default_regions_only(regions):
    ns, _ = load_national(NATIONAL)
    rate = ns.default_overrides["flows.departure_rate"]
    haaglanden = load_scenario(ROOT / "experiments" / "scenarios" / "haaglanden.yaml")
    assert rate != haaglanden.flows.departure_rate
    for _, sc, label in regions:
        if label == "national_default":
            assert sc.flows.departure_rate == rate
            assert sc.groups == haaglanden.groups
        else:
            assert sc.flows.departure_rate != rate


def test_bad_default_override_is_one_line():
    ns, base = _short(default_overrides={"flows.turnover": 0.03})
    with pytest.raises(ScenarioError, match=r"default_overrides: flows\.turnover") as err:
        region_scenarios(ns, base)
    assert "\n" not in str(err.value)


def test_fit_of_the_default_departure_rate_recovers_a_known_rate(tmp_path):
    """Parameter recovery at national scale: national lettings produced with a known
    default departure rate (0.030, seed 7) are fitted back from the scenario's 0.04047 with
    the same seed. Pass rule, fixed before running: the fit stops within its 0.5%
    tolerance of the target, and the rate is within 2% of 0.030 (lettings respond almost
    proportionally to the rate, so 0.5% on lettings is about 0.5-1% on the rate)."""
    from woonsim_experiments.national import fit_default_departure_rate, run_national

    ns, base = _short()
    truth = ns.model_copy(update={"default_overrides": {"flows.departure_rate": 0.030}})
    with process_pool(2) as ex:
        target = float(run_national(truth, base, 7, ex)["regions"]["lettings_per_year"].sum())
        fit = fit_default_departure_rate(ns, base, 7, target=target, executor=ex)
    assert abs(fit["relative_error"]) <= 0.005
    assert fit["fitted"] == pytest.approx(0.030, rel=0.02)
    assert fit["evaluations"][0]["departure_rate"] == ns.default_overrides["flows.departure_rate"]
    assert 2 <= len(fit["evaluations"]) <= 8


def test_a_subset_of_regions_runs_alone_and_is_not_compared_with_cbs():
    """`regions` keeps the named regions of the membership, each with the scenario it has
    in the whole country; the national checks say they do not apply; an unknown region is
    one line naming the known ones; fitting the national lettings refuses a subset."""
    from woonsim.yaml_loader import read_yaml
    from woonsim_experiments.national import fit_default_departure_rate, run_national

    data = read_yaml(NATIONAL)
    whole = {r: sc for r, sc, _ in region_scenarios(*load_national(NATIONAL))}
    sub = {**data, "regions": ["CR31", "CR02"], "burn_in_years": 1.0, "years": 1.0}
    ns, base = load_national(NATIONAL, sub)
    kept = region_scenarios(ns, base)
    assert [r for r, _, _ in kept] == ["CR02", "CR31"]
    for r, sc, _ in kept:
        assert sc.municipalities == whole[r].municipalities
        assert sc.groups == whole[r].groups and sc.flows == whole[r].flows
    out = run_national(ns, base, seed=1)
    assert list(out["regions"]["region"]) == ["CR02", "CR31"]
    assert all("not comparable" in c["note"] for c in out["checks"])
    with pytest.raises(ScenarioError, match=r"regions: unknown region 'CR99' \(known: CR01"):
        region_scenarios(*load_national(NATIONAL, {**data, "regions": ["CR99"]}))
    with pytest.raises(ScenarioError, match="needs every region"):
        fit_default_departure_rate(ns, base, seed=1)


def test_an_experiment_on_a_subset_of_regions(tmp_path):
    """An experiment's `regions` keeps those regions of a national base (and is refused
    on a regional base, with one line naming the field)."""
    from woonsim_experiments.experiment import parse_experiment

    exp = {
        "name": "subset",
        "base": str(NATIONAL),
        "replications": 1,
        "root_seed": 1,
        "baseline": "now",
        "variants": [{"name": "now", "set": {}}],
        "regions": ["CR05", "CR02"],
    }
    e = parse_experiment(exp)
    assert sorted(r for r, _, _ in e.regions) == ["CR02", "CR05"]
    assert {s.region for s in e.runs()} == {"CR02", "CR05"}
    regional = {**exp, "base": str(ROOT / "experiments" / "scenarios" / "twente.yaml")}
    with pytest.raises(ScenarioError, match=r"^regions: only an experiment on a national base"):
        parse_experiment(regional)


def test_a_national_run_on_a_dask_cluster_gives_the_serial_bytes(tmp_path):
    """`woonsim national --scheduler`: the regions as tasks on a local Dask cluster of two
    workers write the same files, byte for byte, as one process does alone."""
    from test_runner import dask_cluster

    text = NATIONAL.read_text()
    for name in ("haaglanden", "amsterdam", "twente"):
        text = text.replace(f"{name}.yaml", str(NATIONAL.parent / f"{name}.yaml"))
    text = re.sub(r"(?m)^burn_in_years: .*$", "burn_in_years: 1.0", text)
    text = re.sub(r"(?m)^years: .*$", "years: 1.0\nregions: [CR02, CR05, CR31, CR22]", text)
    scenario = tmp_path / "national.yaml"
    scenario.write_text(text)

    def national(out, *how):
        cmd = [sys.executable, "-m", "woonsim_cli", "national", str(scenario), "--seed", "3"]
        proc = subprocess.run(
            [*cmd, *how, "--out", str(tmp_path / out)], capture_output=True, text=True, cwd=ROOT
        )
        assert proc.returncode == 0, proc.stderr
        return {p.name: p.read_bytes() for p in sorted((tmp_path / out).iterdir())}

    serial = national("serial", "--workers", "1")
    (tmp_path / "cluster").mkdir()
    with dask_cluster(tmp_path / "cluster", workers=2) as address:
        distributed = national("dask", "--scheduler", address)
    assert set(serial) == {"national.json", "regions.csv", "municipalities.csv", "patterns.csv"}
    assert distributed == serial
    # --workers has no meaning on a cluster: refused in one line
    proc = subprocess.run(
        [sys.executable, "-m", "woonsim_cli", "national", str(scenario), "--workers", "2",
         "--scheduler", "tcp://127.0.0.1:1"],
        capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    assert proc.returncode != 0 and "--workers: not used with --scheduler" in proc.stderr
    assert "Traceback" not in proc.stderr
