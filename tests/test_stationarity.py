"""Is the reported window past the start-up transient? The MSER-5 rule on series with a
known answer, and the default region: its burn-in settles, a baseline without drivers
has no trend, and doubling the burn-in moves no reported measure beyond the replication
noise. Pass rules are stated per test; replications come from
SeedSequence(2026120202).spawn(R) and run on 2 processes."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import REPO
from scipy import stats

from woonsim.measures import run_metrics
from woonsim.scenario import load_scenario, parse_scenario
from woonsim.simulate import run
from woonsim.stationarity import diagnose, drift, series, truncation
from woonsim_experiments.executors import process_pool

HAAGLANDEN = REPO / "experiments" / "scenarios" / "haaglanden.yaml"
R = 4
SEEDS = np.random.SeedSequence(2026120202).spawn(R)
MEASURES = [  # (measure, group): what the report leads with
    ("lettings_per_year", "all"),
    ("search_time_km_median", "regulier"),
    ("housed_within_3y_of_search", "regulier"),
    ("search_time_mean", "regulier"),
    ("exits_without_housing_per_year", "regulier"),
]


def test_mser_finds_the_end_of_a_known_transient():
    """100 replications of each case (rng seed 7). A transient 10 exp(-t/8) in noise of
    SD 0.5 falls below the noise at t = 24: at least 95 of 100 runs find a truncation
    point, with median between 20 and 40. Stationary noise: never unsettled, median
    truncation 0, at least 80% cut 20 observations or fewer. A trend never settles."""
    rng = np.random.default_rng(7)
    t = np.arange(200)
    tr = [truncation(10 * np.exp(-t / 8) + rng.normal(0, 0.5, len(t))) for _ in range(100)]
    found = [d for d in tr if d is not None]
    assert len(found) >= 95 and 20 <= np.median(found) <= 40
    noise = [truncation(rng.normal(0, 1, 200)) for _ in range(100)]
    assert None not in noise
    assert np.median(noise) == 0 and np.mean(np.array(noise) <= 20) >= 0.8
    assert truncation(0.05 * t + rng.normal(0, 0.5, 200)) is None


def test_drift_is_the_relative_slope_per_year():
    x = 100 * (1 + 0.01 * 0.5 * np.arange(20))  # +1% of the start a year, half-yearly
    assert drift(x) == pytest.approx(1.0 / np.mean(x), rel=1e-9)
    # a window of one year has two half-yearly points: no slope, and None, so that the
    # summary stays valid JSON (a NaN made `woonsim run` fail on a 1-year window)
    assert drift(x[:2]) is None and drift(np.zeros(10)) is None


def _scenario(**changes):
    d = load_scenario(HAAGLANDEN).model_dump(mode="python")
    for k, v in changes.items():
        node = d
        *path, last = k.split(".")
        for p in path:
            node = node[p]
        node[last] = v
    return parse_scenario(d)


def _run(args):
    sc, seed = args
    r = run(sc, seed)
    t = run_metrics(r).to_pandas()
    t = t[(t.municipality == "") & t.time.isna()]
    values = {m: float(t[(t.measure == m) & (t.group == g)].value.iloc[0]) for m, g in MEASURES}
    s = series(r)
    n0 = int(round(2 * sc.burn_in_years))
    return values, diagnose(r), {k: drift(x[n0:]) for k, x in s.items()}


@pytest.fixture(scope="module")
def runs():
    base = load_scenario(HAAGLANDEN)
    b = base.burn_in_years
    variants = {
        "default": _scenario(years=10.0),
        "double": _scenario(years=10.0, burn_in_years=2 * b),
        "short": _scenario(years=10.0, burn_in_years=5.0),
        "no drivers": _scenario(
            years=10.0,
            **{
                "construction.per_1000_dwellings": 0.0,
                "flows.demolition_rate": 0.0,
                "flows.sale_rate": 0.0,
            },
        ),
    }
    jobs = [(name, (sc, s)) for name, sc in variants.items() for s in SEEDS]
    with process_pool(2) as ex:
        out = list(ex.map(_run, [j for _, j in jobs]))
    res: dict[str, list] = {name: [] for name in variants}
    for (name, _), o in zip(jobs, out, strict=True):
        res[name].append(o)
    return res


def test_the_default_burn_in_settles_and_a_five_year_one_does_not(runs):
    """Every replication of the default region reports a settled burn-in; the old 5-year
    burn-in is reported as not settled (the verdict can fail)."""
    assert all(d["stationary"] for _, d, _ in runs["default"])
    assert not any(d["stationary"] for _, d, _ in runs["short"])


def test_a_baseline_without_drivers_has_no_trend(runs):
    """No construction, demolition or sales: the window's relative drift per year of
    every diagnostic series is zero within t(0.995, R-1) standard errors of the mean
    over replications, or below 0.2% a year."""
    for name in runs["no drivers"][0][2]:
        x = np.array([d[name] for _, _, d in runs["no drivers"]])
        se = x.std(ddof=1) / math.sqrt(R)
        assert abs(x.mean()) <= max(stats.t.ppf(0.995, R - 1) * se, 0.002), (name, x)


@pytest.mark.parametrize("measure", [m for m, _ in MEASURES])
def test_doubling_the_burn_in_moves_no_measure_beyond_noise(runs, measure):
    """Default against twice its burn-in (independent runs): the difference of the means
    is within t(0.995, 2R-2) standard errors of the difference, or within 1%."""
    a = np.array([v[measure] for v, _, _ in runs["default"]])
    b = np.array([v[measure] for v, _, _ in runs["double"]])
    se = math.sqrt(a.var(ddof=1) / R + b.var(ddof=1) / R)
    dev = abs(a.mean() - b.mean())
    assert dev <= stats.t.ppf(0.995, 2 * R - 2) * se or dev <= 0.01 * abs(b.mean()), (a, b)
