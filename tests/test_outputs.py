"""`woonsim run` outputs: the summary.json fields the issue names, the Parquet records,
and byte-identical files for the same scenario and seed (in-process, separate processes,
process pool)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from woonsim_cli import main
from woonsim_experiments.executors import process_pool
from woonsim_experiments.validation import run_case

ROOT = Path(__file__).resolve().parents[1]
SCENARIO = (
    ROOT / "experiments" / "woonsim_experiments" / "validation_cases" / "v5a_quota_pass_on.yaml"
)

GROUP_KEYS = {
    "arrivals",
    "housed",
    "abandoned",
    "censored",
    "p_housed",
    "mean_time_on_list",
    "mean_wait_housed",
    "sd_wait_housed",
    "median_wait_housed",
    "p90_wait_housed",
    "share_of_lettings",
}


def test_summary_and_records(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(SCENARIO), "--seed", "7", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "group1" in printed and "group2" in printed and "vacancies:" in printed
    s = json.loads((out / "summary.json").read_text())
    assert s["scenario"] == "V5a quota_pass_on" and s["seed"] == 7 and s["time_unit"] == "year"
    assert s["version"] and len(s["scenario_sha256"]) == 64
    assert s["scenario_spec"]["allocation"]["quota"]["share"] == 0.3
    for g in ("group1", "group2"):
        assert set(s["groups"][g]) >= GROUP_KEYS
        x = s["groups"][g]
        assert x["arrivals"] == x["housed"] + x["abandoned"] + x["censored"]
    assert set(s["vacancies"]) == {"arrived", "let", "unused", "unused_share"}

    t = pq.read_table(out / "seekers.parquet")
    assert t.column_names == [
        "seeker",
        "group",
        "arrival",
        "exit",
        "reason",
        "dwelling",
        "municipality",
        "cohort",
    ]
    df = t.to_pandas()
    cohort = df[df.cohort]
    for g in ("group1", "group2"):
        mine = cohort[cohort.group == g]
        assert len(mine) == s["groups"][g]["arrivals"]
        housed = mine[mine.reason == "housed"]
        assert len(housed) == s["groups"][g]["housed"]
        assert np.isclose((housed.exit - housed.arrival).mean(), s["groups"][g]["mean_wait_housed"])
    assert df.dwelling.notna().sum() == (df.reason == "housed").sum()
    meta = json.loads(t.schema.metadata[b"woonsim"])
    assert meta["seed"] == 7 and meta["scenario"] == "V5a quota_pass_on"
    v = pq.read_table(out / "vacancies.parquet").to_pandas()
    let = v[v.seeker.notna()]
    # every letting traceable to one vacancy and back
    assert (
        df.set_index("seeker").loc[let.seeker.astype(int), "dwelling"].to_numpy()
        == let.vacancy.to_numpy()
    ).all()


def test_same_seed_byte_identical_files(tmp_path):
    for d in ("a", "b", "c"):
        assert (
            main(
                [
                    "run",
                    str(SCENARIO),
                    "--seed",
                    "7" if d != "c" else "8",
                    "--out",
                    str(tmp_path / d),
                ]
            )
            == 0
        )
    for f in ("summary.json", "seekers.parquet", "vacancies.parquet"):
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f
    assert (tmp_path / "a" / "summary.json").read_bytes() != (
        tmp_path / "c" / "summary.json"
    ).read_bytes()


def test_byte_identical_across_processes(tmp_path):
    """A second interpreter (different hash seed) writes the same bytes."""
    main(["run", str(SCENARIO), "--seed", "7", "--out", str(tmp_path / "here")])
    woonsim = Path(sys.executable).with_name("woonsim")
    subprocess.run(
        [str(woonsim), "run", str(SCENARIO), "--seed", "7", "--out", str(tmp_path / "there")],
        check=True,
        capture_output=True,
        env={"PYTHONHASHSEED": "123", "PATH": "/usr/bin:/bin"},
    )
    for f in ("summary.json", "seekers.parquet"):
        assert (tmp_path / "here" / f).read_bytes() == (tmp_path / "there" / f).read_bytes()


def test_process_pool_equals_serial():
    seeds = np.random.SeedSequence(99).spawn(4)
    case = ["v5a_quota_pass_on"] * 4
    serial = [run_case(c, s) for c, s in zip(case, seeds, strict=True)]
    with process_pool(2) as ex:
        pooled = list(ex.map(run_case, case, seeds))
    assert serial == pooled
    assert len({tuple(x.values()) for x in serial}) == 4


def test_rerun_into_existing_directory_replaces_files(tmp_path):
    out = tmp_path / "out"
    main(["run", str(SCENARIO), "--seed", "1", "--out", str(out)])
    first = (out / "summary.json").read_bytes()
    main(["run", str(SCENARIO), "--seed", "2", "--out", str(out)])
    assert (out / "summary.json").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
