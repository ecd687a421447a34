"""Paired displacement analysis (issue 6): intervals against scipy on hand-made data with
known answers, the delta-method ratio, and on small model runs: pairing narrows the
interval of a policy difference, and the displacement tables are complete.

`write_sweep` builds a results folder in the sweep runner's format (experiment.json and
runs/<run>.parquet) from direct `run` calls; tests/test_report.py uses it too.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from scipy import stats

from woonsim import ScenarioError, parse_scenario, run
from woonsim.measures import MEASURES, run_metrics
from woonsim_experiments.analysis import (
    compare,
    lettings_lost,
    load_results,
    months_per_point,
    paired_differences,
    ratio_of_differences,
    tables,
    variant_levers,
)

ROOT = Path(__file__).resolve().parents[1]
HAAGLANDEN = ROOT / "experiments" / "scenarios" / "haaglanden.yaml"
MUNIS = ["GM1842", "GM0629"]  # Midden-Delfland, Wassenaar
VARIANTS = [
    {"name": "current practice", "set": {}},
    {"name": "floor 20%", "set": {"allocation.quota": {"share": 0.2, "mode": "floor"}}},
    {"name": "floor 50%", "set": {"allocation.quota": {"share": 0.5, "mode": "floor"}}},
]


# --- a results folder as the sweep runner writes it -------------------------------------
def small_base() -> dict:
    """Haaglanden's groups on two small municipalities, one burn-in year and three years."""
    d = yaml.safe_load(HAAGLANDEN.read_text(encoding="utf-8"))
    d.update(name="small region", municipalities=MUNIS, burn_in_years=1, years=3)
    return parse_scenario(d).model_dump(mode="python")


def _set(tree: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for p in parents:
        tree = tree[p]
    tree[last] = value


def write_sweep(out: Path, variants, replications: int, paired=True, root_seed=2025) -> Path:
    """Run every variant `replications` times and write a results folder: replication r
    of every variant uses SeedSequence(root_seed, spawn_key=(0, r)) when paired, else
    (v, r) for variant v."""
    base = small_base()
    (out / "runs").mkdir(parents=True)
    manifest = []  # the record of finished runs that the sweep writes
    for vi, v in enumerate(variants):
        d = copy.deepcopy(base)
        for path, value in v["set"].items():
            _set(d, path, value)
        scenario = parse_scenario(d)
        for r in range(replications):
            seed = np.random.SeedSequence(root_seed, spawn_key=(0 if paired else vi, r))
            table = run_metrics(run(scenario, seed))
            run_id = f"v{vi}-p0-r{r}"
            n = table.num_rows
            for name, col in (
                ("run", pa.array([run_id] * n, pa.string())),
                ("variant", pa.array([v["name"]] * n, pa.string())),
                ("point", pa.array(np.zeros(n, np.int32))),
                ("replication", pa.array(np.full(n, r, np.int32))),
            ):
                table = table.append_column(name, col)
            pq.write_table(table, out / "runs" / f"{run_id}.parquet")
            data = (out / "runs" / f"{run_id}.parquet").read_bytes()
            manifest.append({"run": run_id, "sha256": hashlib.sha256(data).hexdigest()})
    experiment = {
        "name": "small sweep",
        "baseline": variants[0]["name"],
        "variants": variants,
        "replications": replications,
        "root_seed": root_seed,
        "paired": paired,
        "uncertainties": {},
        "design": "none",
        "sha256": "0" * 64,
        "points": [{}],
        "municipalities": MUNIS,
        "base_scenario": parse_scenario(base).model_dump(mode="json"),
    }
    (out / "experiment.json").write_text(json.dumps(experiment), encoding="utf-8")
    (out / "manifest.json").write_text(json.dumps({"runs": manifest}), encoding="utf-8")
    return out


@pytest.fixture(scope="module")
def sweeps(tmp_path_factory):
    """Three variants paired (R = 8) and the first two unpaired (R = 8, other seeds)."""
    tmp = tmp_path_factory.mktemp("sweeps")
    return {
        "paired": write_sweep(tmp / "paired", VARIANTS, 8, paired=True, root_seed=2025),
        "unpaired": write_sweep(tmp / "unpaired", VARIANTS[:2], 8, paired=False, root_seed=7),
    }


# --- synthetic data with known answers ----------------------------------------------------
def _frame(values: dict[str, list[float]], measure="m", group="regulier") -> pd.DataFrame:
    rows = [
        {
            "measure": measure,
            "group": group,
            "municipality": "",
            "time": np.nan,
            "value": x,
            "run": f"{v}-{r}",
            "variant": v,
            "point": 0,
            "replication": r,
        }
        for v, xs in values.items()
        for r, x in enumerate(xs)
    ]
    return pd.DataFrame(rows)


A = [10.0, 12.0, 9.5, 11.0, 13.0, 10.5, 12.5]
B = [11.2, 12.9, 10.1, 12.4, 13.8, 11.0, 13.9]


def test_paired_and_welch_intervals_match_scipy():
    df = _frame({"base": A, "quota": B})
    r = paired_differences(df, "m", "regulier", baseline="base", paired=True).iloc[0]
    rel = stats.ttest_rel(B, A).confidence_interval(0.95)
    welch = stats.ttest_ind(B, A, equal_var=False).confidence_interval(0.95)
    assert r["n_pairs"] == 7 and r["method"] == "paired t"
    assert r["diff"] == pytest.approx(np.mean(np.subtract(B, A)))
    assert (r["lo"], r["hi"]) == pytest.approx((rel.low, rel.high))
    assert (r["welch_lo"], r["welch_hi"]) == pytest.approx((welch.low, welch.high))
    assert (r["baseline_mean"], r["variant_mean"]) == pytest.approx((np.mean(A), np.mean(B)))
    # B - A varies little while A varies a lot: pairing narrows the interval
    assert r["hi"] - r["lo"] < 0.5 * (r["welch_hi"] - r["welch_lo"])

    u = paired_differences(df, "m", "regulier", baseline="base", paired=False).iloc[0]
    assert u["method"] == "welch t" and math.isnan(u["paired_lo"])
    assert (u["lo"], u["hi"]) == pytest.approx((welch.low, welch.high))


def test_incomplete_pairs_are_dropped_and_defaults_come_from_the_experiment():
    b = [*B[:3], np.nan, *B[4:]]
    df = _frame({"base": A, "quota": b})
    df.attrs["experiment"] = {"baseline": "base", "paired": True, "variants": []}
    r = paired_differences(df, "m", "regulier").iloc[0]
    keep = [i for i in range(7) if i != 3]
    rel = stats.ttest_rel(np.take(B, keep), np.take(A, keep)).confidence_interval(0.95)
    assert r["n_pairs"] == 6 and r["n_variant"] == 6 and r["n_baseline"] == 7
    assert (r["lo"], r["hi"]) == pytest.approx((rel.low, rel.high))


def test_compare_covers_every_key_and_variant():
    df = pd.concat([_frame({"base": A, "x": B, "y": A}, measure=m) for m in ("m1", "m2")])
    out = compare(df, "base", True)
    assert len(out) == 4 and set(out["variant"]) == {"x", "y"}
    y = out[out["variant"] == "y"]
    assert (y["diff"] == 0).all() and (y["lo"] == 0).all() and (y["hi"] == 0).all()


def _ratio_frame(num_base, num_var, den_base, den_var) -> pd.DataFrame:
    df = pd.concat(
        [
            _frame({"base": num_base, "v": num_var}, measure="lettings_per_year", group="regulier"),
            _frame(
                {"base": den_base, "v": den_var},
                measure="lettings_per_year",
                group="aandachtsgroepen",
            ),
        ]
    )
    df.attrs["experiment"] = {"baseline": "base", "paired": True, "variants": []}
    return df


def test_ratio_with_a_known_answer():
    """Every replication loses exactly 0.8 regular lettings per extra aandachtsgroep
    letting: the estimate is 0.8 and the delta-method interval has zero width."""
    rng = np.random.default_rng(1)
    reg, aan = rng.normal(200, 10, 6), rng.normal(50, 5, 6)
    extra = rng.uniform(5, 15, 6)
    df = _ratio_frame(reg, reg - 0.8 * extra, aan, aan + extra)
    r = lettings_lost(df)
    region = r[r["municipality"] == ""].iloc[0]
    assert region["estimate"] == pytest.approx(0.8)
    assert (region["lo"], region["hi"]) == pytest.approx((0.8, 0.8))
    assert region["identified"] and region["method"] == "delta, paired t"


def test_ratio_delta_method_interval():
    """The delta-method standard error equals the textbook formula
    Var(R) ≈ (Var(N̄) − 2R·Cov(N̄, D̄) + R²·Var(D̄)) / D̄² over the paired differences."""
    rng = np.random.default_rng(2)
    n = 10
    reg, aan = rng.normal(200, 10, n), rng.normal(50, 5, n)
    d_aan = rng.normal(10, 2, n)
    d_reg = -0.7 * d_aan + rng.normal(0, 1.5, n)
    df = _ratio_frame(reg, reg + d_reg, aan, aan + d_aan)
    r = ratio_of_differences(
        df, ("lettings_per_year", "regulier", ""), ("lettings_per_year", "aandachtsgroepen", "")
    ).iloc[0]
    ratio = d_reg.mean() / d_aan.mean()
    cov = np.cov(d_reg, d_aan) / n
    se = math.sqrt(cov[0, 0] - 2 * ratio * cov[0, 1] + ratio**2 * cov[1, 1]) / abs(d_aan.mean())
    t = stats.t.ppf(0.975, n - 1)
    assert r["estimate"] == pytest.approx(ratio)
    assert r["se"] == pytest.approx(se)
    assert (r["lo"], r["hi"]) == pytest.approx((ratio - t * se, ratio + t * se))
    assert r["lo"] < -0.7 < r["hi"]


def test_ratio_without_a_denominator_change_is_not_identified():
    rng = np.random.default_rng(3)
    reg, aan = rng.normal(200, 10, 6), rng.normal(50, 5, 6)
    df = _ratio_frame(reg, reg - 1, aan, aan + rng.normal(0, 1, 6))
    r = lettings_lost(df).iloc[0]
    assert not r["identified"] and math.isnan(r["lo"]) and math.isnan(r["hi"])


def test_variant_levers():
    exp = {
        "base_scenario": {"allocation": {"quota": {"share": 0.0, "mode": "none"}}},
        "variants": VARIANTS,
    }
    lv = variant_levers(exp)
    assert list(lv["lever"].unique()) == ["allocation.quota.share"]
    assert list(lv["lever_value"]) == [0.0, 0.2, 0.5]
    exp["variants"] = [
        {"name": "a", "set": {}},
        {"name": "b", "set": {"allocation.ranking": "points"}},
    ]
    lv = variant_levers(exp)
    assert (lv["lever"] == "").all() and lv["lever_value"].isna().all()
    assert lv["setting"].tolist() == ["base scenario", "allocation.ranking = points"]
    # the runner's variant_sets (with a lever grid) win over variants; group paths
    exp["base_scenario"]["groups"] = [{"name": "starters", "accept": 0.45}]
    exp["variant_sets"] = [
        {"name": "a", "set": {}},
        {"name": "groups[starters].accept=0.3", "set": {"groups[starters].accept": 0.3}},
    ]
    lv = variant_levers(exp)
    assert lv["lever"].iloc[0] == "groups[starters].accept"
    assert list(lv["lever_value"]) == [0.45, 0.3]


# --- small model runs ----------------------------------------------------------------------
def test_pairing_narrows_the_interval(sweeps):
    """Common random numbers narrow the interval of Δ mean search time (regulier) of a 20%
    floor: the SD of the 8 paired differences is smaller than sqrt(var_a + var_b) of the
    unpaired sweep (independent seeds), i.e. the paired half-width is smaller than the
    unpaired Welch half-width; and the two intervals overlap (consistent estimates).

    Pass rule: paired SD < unpaired SD and paired half-width < Welch half-width.
    Why it can fail: both SDs are estimates from 8 runs each; with the correlation of
    about 0.75 between paired runs seen here the true SD ratio is about 0.5, and the
    chance that the sample ratio still exceeds 1 is a few percent for a given set of seeds
    (a change to the model's random streams draws a new set). The check on the same paired
    sweep (paired SD vs sd_welch computed ignoring the pairing) fails only if CRN induced
    no positive correlation at all.
    """
    args = ("search_time_mean", "regulier")
    paired_df, _ = load_results(sweeps["paired"])
    unpaired_df, _ = load_results(sweeps["unpaired"])
    p = paired_differences(paired_df, *args)
    p = p[p["variant"] == "floor 20%"].iloc[0]
    u = paired_differences(unpaired_df, *args).iloc[0]
    assert p["method"] == "paired t" and u["method"] == "welch t" and p["n_pairs"] == 8
    assert p["sd_diff"] < u["sd_welch"], (p["sd_diff"], u["sd_welch"])
    assert p["hi"] - p["lo"] < u["hi"] - u["lo"]
    assert p["sd_diff"] < p["sd_welch"]  # the same runs, pairing ignored
    assert p["lo"] <= u["hi"] and u["lo"] <= p["hi"]


def test_load_results_reads_every_run(sweeps):
    df, exp = load_results(sweeps["paired"])
    assert df["run"].nunique() == 3 * 8 and exp["baseline"] == "current practice"
    assert set(df["measure"]) <= set(MEASURES)
    assert df.attrs["experiment"]["paired"] is True


def test_displacement_tables(sweeps):
    df, exp = load_results(sweeps["paired"])
    t = tables(df, exp)
    groups = {g["name"] for g in exp["base_scenario"]["groups"]} | {
        "all",
        "regulier",
        "aandachtsgroepen",
        "regulier_first_home",
        "regulier_move",
    }
    d = t["differences"]
    region = d[d["municipality"] == ""]
    for m in ("search_time_mean", "search_time_median", "registration_time_mean", "p_housed_3y"):
        assert set(region.loc[region["measure"] == m, "group"]) == groups
    for code in MUNIS:  # per municipality where the metrics allow
        here = d[(d["municipality"] == code) & (d["measure"] == "search_time_mean")]
        assert set(here["group"]) == groups
    assert set(d["variant"]) == {"floor 20%", "floor 50%"}
    assert (d["method"] == "paired t").all()

    # a 50% floor moves lettings from reguliere woningzoekenden to aandachtsgroepen
    share = d[(d["measure"] == "share_of_lettings") & (d["group"] == "aandachtsgroepen")]
    assert share.set_index("variant").loc["floor 50%", "lo"] > 0
    lost = lettings_lost(df)
    assert set(lost["municipality"]) == {"", *MUNIS}
    region_lost = lost[(lost["municipality"] == "") & (lost["variant"] == "floor 50%")]
    by = region_lost.set_index("quantity")["estimate"]
    r = region_lost[region_lost["quantity"].str.startswith("lettings to regulier")].iloc[0]
    assert r["identified"] and r["lo"] < r["estimate"] < r["hi"] and r["estimate"] > 0
    # first homes lost and moves lost add up to the lettings lost (one denominator)
    first = by["starters' first homes lost per extra aandachtsgroep letting"]
    moves = by["doorstromers' moves lost per extra aandachtsgroep letting"]
    assert first + moves == pytest.approx(r["estimate"], rel=1e-9)
    # a row per variant whose censored median is defined in every run (a 50% floor can
    # leave the regular seekers' median unreached in this short sweep); a floor never
    # lowers the aandachtsgroep share
    mp = months_per_point(df).set_index("variant")
    assert len(mp) >= 1 and set(mp.index) <= {"floor 20%", "floor 50%"}
    assert (mp["d_den_hi"] > 0).all()

    bl = t["backlog"]
    assert set(bl["measure"]) == {"waiting_end_of_year", "taakstelling_backlog"}
    assert (bl["lo"] <= bl["mean"] + 1e-9).all() and (bl["mean"] <= bl["hi"] + 1e-9).all()
    ts = t["task_share"]
    assert np.allclose(ts.groupby("variant")["share"].sum(), 1)
    assert {"excess_pp_population", "ratio_social_stock"} <= set(ts.columns)
    cdf = t["search_time_cdf"]
    q = cdf[(cdf["variant"] == "current practice") & (cdf["group"] == "regulier")]
    assert len(q) == 19 and q["search_time"].is_monotonic_increasing
    curve = t["displacement_curve"]
    assert set(curve["lever_value"]) == {0.0, 0.2, 0.5}
    assert (curve.loc[curve["variant"] == "current practice", "diff"] == 0).all()
    assert set(curve["measure"]) == {"housed_within_3y_of_search", "search_time_km_median"}


def test_load_results_bad_folders(tmp_path):
    with pytest.raises(ScenarioError, match="results folder not found"):
        load_results(tmp_path / "missing")
    with pytest.raises(ScenarioError, match=r"no experiment\.json"):
        load_results(tmp_path)
    (tmp_path / "experiment.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_results(tmp_path)
    (tmp_path / "experiment.json").write_text(
        json.dumps({"name": "x", "baseline": "a", "variants": []}), encoding="utf-8"
    )
    with pytest.raises(ScenarioError, match="no finished runs"):
        load_results(tmp_path)
