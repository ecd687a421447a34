"""National experiments (issue 14): `woonsim experiment` on a national base runs one task
per (variant, point, replication, region), resumable per region, and the analysis sees
the nation (sums within a replication, before differencing), every region and every
municipality."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from woonsim.data import municipalities
from woonsim.errors import ScenarioError
from woonsim_experiments.analysis import compare, load_results, national_view
from woonsim_experiments.executors import process_pool
from woonsim_experiments.experiment import load_experiment
from woonsim_experiments.runner import sweep

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "experiments" / "scenarios"
NORM = {"share": 0.30, "mode": "floor", "basis": "lettings"}


def _national(tmp_path: Path, burn_in: float = 0.2, years: float = 0.3) -> Path:
    """The national scenario over a very short horizon, in `tmp_path`."""
    text = (SCENARIOS / "national.yaml").read_text()
    text = re.sub(r"(?m)^burn_in_years: .*$", f"burn_in_years: {burn_in}", text)
    text = re.sub(r"(?m)^years: .*$", f"years: {years}", text)
    for name in ("haaglanden", "amsterdam", "twente"):
        text = text.replace(f"{name}.yaml", str(SCENARIOS / f"{name}.yaml"))
    path = tmp_path / "national.yaml"
    path.write_text(text)
    return path


def _experiment(tmp_path: Path, variants=None, replications: int = 2, **extra) -> Path:
    base = _national(tmp_path)
    variants = variants or [
        {"name": "current practice", "set": {}},
        {"name": "30% norm", "set": {"allocation.quota": NORM}},
    ]
    doc = {
        "name": "national test",
        "base": str(base),
        "replications": replications,
        "root_seed": 11,
        "baseline": variants[0]["name"],
        "variants": variants,
        **extra,
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(json.dumps(doc))
    return path


def test_one_run_per_region_with_paired_seeds(tmp_path):
    exp = load_experiment(_experiment(tmp_path))
    runs = exp.runs()
    regions = [r for r, _, _ in exp.regions]
    assert len(regions) == 40 and len(runs) == 2 * 2 * 40
    assert len({r.run for r in runs}) == len(runs)
    assert regions[0] == "CR23"  # Groot-Amsterdam, the largest corporation stock, first
    by = {(r.variant_index, r.replication, r.region): r for r in runs}
    for reg in ("CR23", "CR01"):
        a, b = by[(0, 1, reg)], by[(1, 1, reg)]
        assert a.seed.spawn_key == b.seed.spawn_key  # paired: the same seed in each variant
        assert a.scenario.allocation.quota.mode == "none"
        assert b.scenario.allocation.quota.mode == "floor"
    keys = {by[(0, 0, reg)].seed.spawn_key for reg in regions}
    assert len(keys) == 40  # each region its own stream
    assert by[(0, 0, "CR26")].parameters == "calibrated:haaglanden"
    assert by[(0, 0, "CR01")].parameters == "national_default"
    doc = exp.to_json()
    assert doc["kind"] == "national" and doc["total_runs"] == 160
    assert sorted(doc["municipalities"]) == sorted(municipalities()["code"])


def test_bad_variant_names_the_field_and_the_region(tmp_path):
    bad = [
        {"name": "current practice", "set": {}},
        {"name": "too much", "set": {"allocation.quota": {"share": 1.5, "mode": "floor"}}},
    ]
    with pytest.raises(ScenarioError) as err:
        load_experiment(_experiment(tmp_path, bad))
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith("variants[1].set.allocation.quota.share")
    assert "(region CR" in msg


def _rows(measure, group, region, value, variant="base", replication=0, time=np.nan):
    return {
        "measure": measure, "group": group, "municipality": "", "time": time, "value": value,
        "run": f"v00-p000-r{replication:03d}-{region}", "variant": variant, "point": 0,
        "replication": replication, "region": region,
    }  # fmt: skip


def test_national_view_known_answers():
    """Two regions, values chosen by hand: counts add; the share of lettings is the
    sum's; a mean time is lettings-weighted; a chance is the entrants-weighted mixture;
    a chance missing in a region that has entrants leaves the nation without one."""
    rows = [
        _rows("lettings_per_year", "all", "A", 300.0),
        _rows("lettings_per_year", "all", "B", 100.0),
        _rows("lettings_per_year", "urgent", "A", 30.0),
        _rows("lettings_per_year", "urgent", "B", 50.0),
        _rows("search_time_mean", "urgent", "A", 1.0),
        _rows("search_time_mean", "urgent", "B", 3.0),
        _rows("entering_search_per_year", "urgent", "A", 10.0),
        _rows("entering_search_per_year", "urgent", "B", 30.0),
        _rows("housed_within_1y_of_search", "urgent", "A", 0.8),
        _rows("housed_within_1y_of_search", "urgent", "B", 0.4),
        _rows("housed_within_3y_of_search", "urgent", "A", 0.9),
        _rows("housed_within_3y_of_search", "urgent", "B", np.nan),
        _rows("window_stationary", "all", "A", 1.0),
        _rows("window_stationary", "all", "B", 0.0),
        _rows("waiting_end_of_year", "urgent", "A", 7.0, time=2026.0),
        _rows("waiting_end_of_year", "urgent", "B", 5.0, time=2026.0),
    ]
    out = national_view(pd.DataFrame(rows))
    nation = out[out["municipality"] == ""].set_index(["measure", "group"])["value"]
    assert nation[("lettings_per_year", "all")] == 400
    assert nation[("share_of_lettings", "urgent")] == pytest.approx(80 / 400)
    assert nation[("search_time_mean", "urgent")] == pytest.approx((30 * 1 + 50 * 3) / 80)
    assert nation[("housed_within_1y_of_search", "urgent")] == pytest.approx(
        (10 * 0.8 + 30 * 0.4) / 40
    )
    assert np.isnan(nation[("housed_within_3y_of_search", "urgent")])
    assert nation[("window_stationary", "all")] == 0
    assert nation[("waiting_end_of_year", "urgent")] == 12
    assert set(out.loc[out["measure"] == "search_time_mean", "municipality"]) == {"", "A", "B"}
    assert (out.loc[out["municipality"] == "", "run"] == "v00-p000-r000").all()


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("national_experiment")
    exp = load_experiment(_experiment(tmp))
    out = tmp / "out"
    with process_pool(2) as ex:
        result = sweep(exp, out, ex)
    return exp, out, result


def test_sweep_writes_one_file_per_region_run(swept):
    exp, out, result = swept
    assert result.total == result.ran == 160
    files = sorted(p.name for p in (out / "runs").iterdir())
    assert files == sorted(f"{r.run}.parquet" for r in exp.runs())
    manifest = json.loads((out / "manifest.json").read_text())
    assert {r["region"] for r in manifest["runs"]} == {r for r, _, _ in exp.regions}


def test_nation_adds_up_from_the_municipalities(swept):
    """The national lettings (summed over the regions' own rows) equal the sum of the
    municipality rows, which run_metrics counts separately, in every run."""
    _, out, _ = swept
    df, _ = load_results(out)
    lets = df[(df["measure"] == "lettings_per_year") & (df["group"] == "all")]
    lets = lets[lets["time"].isna()]
    for _, g in lets.groupby(["variant", "replication"]):
        nation = g.loc[g["municipality"] == "", "value"]
        assert len(nation) == 1 and nation.iloc[0] > 0
        munis = g.loc[g["municipality"].str.startswith("GM"), "value"]
        regions = g.loc[g["municipality"].str.startswith("CR"), "value"]
        assert len(munis) == 342 and len(regions) == 40
        assert nation.iloc[0] == pytest.approx(munis.sum()) == pytest.approx(regions.sum())
    share = df[(df["measure"] == "share_of_lettings") & (df["group"] == "aandachtsgroepen")]
    diff = compare(share[share["municipality"].isin(["", "CR23"])])
    assert set(diff["municipality"]) == {"", "CR23"}
    assert (diff["n_pairs"] == 2).all()


def test_killed_national_sweep_resumes_per_region(swept, tmp_path):
    """Files of finished region runs survive; a resumed sweep runs only the missing
    regions and ends with the same bytes."""
    exp, out, _ = swept
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "runs").mkdir()
    for p in ["experiment.json"]:
        (copy / p).write_bytes((out / p).read_bytes())
    keep = sorted((out / "runs").iterdir())[::3]
    for p in keep:
        (copy / "runs" / p.name).write_bytes(p.read_bytes())
    with process_pool(2) as ex:
        result = sweep(exp, copy, ex)
    assert result.skipped == len(keep) and result.ran == 160 - len(keep)
    for p in sorted((out / "runs").iterdir()):
        assert (copy / "runs" / p.name).read_bytes() == p.read_bytes()
    assert (copy / "manifest.json").read_bytes() == (out / "manifest.json").read_bytes()


def test_national_report_answers_where_the_norm_binds(swept, tmp_path):
    """The report of a national experiment: the per-region table (the nation and 40
    regions, per non-baseline variant, with the cost to regulier and `binds`), the
    municipal shares of all 342 municipalities and the country map."""
    from woonsim_experiments.report import build_report

    _, out, _ = swept
    report = build_report(out, tmp_path / "report").parent
    regions = pd.read_csv(report / "regions.csv", keep_default_na=False)
    assert sorted(set(regions["area"])) == ["", *sorted(f"CR{i:02d}" for i in range(1, 41))]
    assert set(regions["variant"]) == {"30% norm"}
    assert {"binds", "regulier_housed_within_3y_pp_change", "statushouder_backlog_end_lo"} <= set(
        regions.columns
    )
    shares = pd.read_csv(report / "municipal_shares.csv")
    assert shares["municipality"].nunique() == 342
    assert (report / "norm_map.png").stat().st_size > 10_000
    html = (report / "index.html").read_text()
    assert "Per region: 30% norm" in html and "Where the norm binds" in html


def test_dask_cluster_of_two_workers_survives_a_killed_worker(tmp_path):
    """A small national experiment (40 region runs) on a Dask scheduler with two workers
    on 127.0.0.1, one of them killed (SIGKILL) mid-sweep: the sweep finishes on the other
    and its files are byte-identical to a serial run's."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import test_runner as tr

    path = _experiment(tmp_path, [{"name": "current practice", "set": {}}], replications=1)
    serial = tmp_path / "serial"
    sweep(load_experiment(path), serial)
    handles: list = []
    out = tmp_path / "dask"
    with tr.dask_cluster(tmp_path, workers=2, handles=handles) as address:
        proc = subprocess.Popen(
            [sys.executable, "-m", "woonsim_cli", "experiment", str(path), "--out", str(out),
             "--scheduler", address, "--no-report"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )  # fmt: skip
        deadline = time.monotonic() + 300
        while not out.exists() or len(list((out / "runs").glob("*.parquet"))) < 5:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no runs finished"
            time.sleep(0.2)
        os.killpg(handles[1].pid, signal.SIGKILL)
        done_at_kill = len(list((out / "runs").glob("*.parquet")))
        running_at_kill = proc.poll() is None
        _, stderr = proc.communicate(timeout=600)
    assert running_at_kill and done_at_kill < 40  # the kill came mid-sweep
    assert handles[1].wait(10) == -signal.SIGKILL
    assert proc.returncode == 0, stderr
    assert len(list((out / "runs").glob("*.parquet"))) == 40
    assert tr.tree(out) == tr.tree(serial)
