"""Regional runs through the command line: the outputs issue 4 asks for exist and are
consistent, the shipped Haaglanden scenario validates, and the same seed gives the same
bytes."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import yaml

from woonsim import ScenarioError, load_scenario, parse_scenario
from woonsim_cli import main

ROOT = Path(__file__).resolve().parents[1]
HAAGLANDEN = ROOT / "experiments" / "scenarios" / "haaglanden.yaml"


def small_region(tmp_path: Path) -> Path:
    """Haaglanden's groups on two small municipalities, one burn-in year and two years."""
    d = yaml.safe_load(HAAGLANDEN.read_text())
    d.update(name="small region", municipalities=["GM1842", "GM0629"], burn_in_years=1, years=2)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(d))
    return path


def test_haaglanden_scenario_is_valid():
    sc = load_scenario(HAAGLANDEN)
    assert sc.kind == "region" and len(sc.municipalities) == 9
    kinds = {g.kind for g in sc.groups}
    assert kinds == {"regular", "urgent", "statushouder", "contingent"}
    names = {g.name for g in sc.groups}
    for group in (
        "starters",
        "doorstromers",
        "urgent",
        "statushouders",
        "studenten",
        "arbeidsmigranten",
        "woonwagenbewoners",
        "dak- en thuislozen",
    ):
        assert group in names


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("region")
    path = small_region(tmp)
    for d in ("a", "b"):
        assert main(["run", str(path), "--seed", "5", "--out", str(tmp / d)]) == 0
    return tmp


def test_outputs_exist_and_are_consistent(runs):
    out = runs / "a"
    assert sorted(p.name for p in out.iterdir()) == [
        "measures.parquet",
        "seekers.parquet",
        "statushouder_backlog.parquet",
        "summary.json",
        "vacancies.parquet",
        "yearly.parquet",
    ]
    s = json.loads((out / "summary.json").read_text())
    r = s["region"]
    assert r["years_reported"] == [2025, 2026]
    assert 0 < r["aandachtsgroep_share_of_lettings"] < 1
    assert r["reactions_per_advert"]["n"] > 0 and r["refusals_per_letting"] >= 0
    assert {m["code"] for m in s["municipalities"]} == {"GM1842", "GM0629"}
    assert sum(m["share_of_aandachtsgroep_lettings"] for m in s["municipalities"]) == pytest.approx(
        1.0
    )
    starters = s["groups"]["starters"]
    assert (
        starters["registration_time_at_letting"]["median"]
        >= starters["search_time_at_letting"]["median"]
    )  # registered before searching
    yearly = pq.read_table(out / "yearly.parquet").to_pandas()
    assert set(yearly.year) == {2025, 2026}
    assert set(yearly.group) == {g for g in s["groups"]}
    seekers = pq.read_table(out / "seekers.parquet").to_pandas()
    housed = seekers[seekers.reason == "housed"]
    assert housed.route.notna().all() and housed.municipality.notna().all()
    assert set(housed[housed.group == "statushouders"].route) <= {"statushouder"}
    backlog = pq.read_table(out / "statushouder_backlog.parquet").to_pandas()
    assert len(backlog) == 2 * 2 * 2  # half-years x municipalities


def test_same_seed_same_bytes(runs):
    for f in (
        "summary.json",
        "seekers.parquet",
        "vacancies.parquet",
        "yearly.parquet",
        "statushouder_backlog.parquet",
    ):
        assert (runs / "a" / f).read_bytes() == (runs / "b" / f).read_bytes(), f


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d: d.update(municipalities=["GM1842", "GM9999"]),
            "municipalities: unknown municipality code(s): GM9999",
        ),
        (lambda d: d.update(municipalities=["Delft"]), "municipalities[0]: string should match"),
        (
            lambda d: d["groups"][0]["household"].update(size=[0.5, 0.5, 0.5]),
            "groups[0].household.size: shares must add up to 1",
        ),
        (lambda d: d["groups"][3].update(aandachtsgroep=False), "groups[3].aandachtsgroep:"),
        (
            lambda d: d["allocation"]["quota"].update(mode="sometimes"),
            "allocation.quota.mode: input should be",
        ),
        (
            lambda d: d["allocation"]["quota"].update(share={"GM0363": 0.3}),
            "allocation.quota.share.GM0363: not one of the municipalities",
        ),
        (lambda d: d.update(years=-1), "years: input should be greater than 0"),
        (lambda d: d["flows"].update(turnover=0.07), "flows.turnover: unknown key"),
    ],
)
def test_bad_region_scenarios(tmp_path, capsys, edit, message):
    d = yaml.safe_load(HAAGLANDEN.read_text())
    edit(d)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(d))
    assert main(["run", str(path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"woonsim: error: {message}"), err
    assert not (tmp_path / "o").exists()
    with pytest.raises(ScenarioError):
        parse_scenario(d)


def test_measures_parquet_is_the_per_run_table_of_an_experiment(runs, tmp_path):
    """`woonsim run` writes the same long table an experiment stores per run."""
    import pandas as pd
    import pyarrow.parquet as pq

    from woonsim import load_scenario, run
    from woonsim.measures import MEASURES, run_metrics

    written = pq.read_table(runs / "a" / "measures.parquet")
    assert written.column_names == ["measure", "group", "municipality", "time", "value"]
    assert set(written.column("measure").to_pylist()) == set(MEASURES)  # each one, no other
    again = run_metrics(run(load_scenario(small_region(tmp_path)), 5))
    pd.testing.assert_frame_equal(written.to_pandas(), again.to_pandas(), check_exact=True)


def test_docs_describe_every_measure_and_column():
    """docs/measures.md is generated from the one registry and must be current."""
    from woonsim.measures import describe

    doc = (Path(__file__).resolve().parents[1] / "docs" / "measures.md").read_text()
    assert doc == describe(), "regenerate with: python -m woonsim.measures > docs/measures.md"
