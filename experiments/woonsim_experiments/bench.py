"""`woonsim bench`: wall time of the stylized market at regional or national scale.

Regional (issue 3): two groups, 45,000 seekers a year in all (an aandachtsgroep of
9,000 and 36,000 regular seekers: the split is an assumption of the benchmark), 13,000
vacancies a year, mean patience 4 years, a 30% quota with pass_on, 20 simulated years.
National: 400,000 seekers a year (80,000 + 320,000), 160,000 vacancies a year (about
the national corporation lettings, 161,000 in 2023), patience 4 years, so that about a
million seekers wait at any time; 20 years.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time

from woonsim.scenario import parse_scenario
from woonsim.stylized.market import HousingMarket

SCALES = {
    "regional": {"vacancies": 13_000, "aandachtsgroep": 9_000, "regular": 36_000},
    "national": {"vacancies": 160_000, "aandachtsgroep": 80_000, "regular": 320_000},
}


def bench_scenario(scale: str = "regional"):
    s = SCALES[scale]
    return parse_scenario(
        {
            "kind": "stylized",
            "name": f"benchmark {scale}",
            "time_unit": "year",
            "measure": {"warmup": 4, "window": 12, "tail": 4},
            "vacancies": {"rate": s["vacancies"]},
            "allocation": {
                "rule": "quota",
                "quota": {"share": 0.3, "groups": ["aandachtsgroep"], "unused": "pass_on"},
            },
            "groups": [
                {"name": "aandachtsgroep", "rate": s["aandachtsgroep"], "patience": 4},
                {"name": "regular", "rate": s["regular"], "patience": 4},
            ],
        }
    )


def time_once(scale: str, seed: int) -> dict[str, float]:
    """Seconds per stage of one run, from scenario to written files."""
    sc = bench_scenario(scale)
    t = [time.perf_counter()]
    market = HousingMarket(sc, seed)  # draws every random time
    t.append(time.perf_counter())
    market.run_until(market.end)  # the allocation loop
    market._let_until(market.end)
    t.append(time.perf_counter())
    result = market.result()
    result.check_invariants()
    t.append(time.perf_counter())
    result.summary()
    t.append(time.perf_counter())
    with tempfile.TemporaryDirectory() as d:
        result.write(d + "/out")
    t.append(time.perf_counter())
    stages = ("draw", "allocate", "records+invariants", "summary", "write")
    out = {k: t[i + 1] - t[i] for i, k in enumerate(stages)}
    out["total"] = t[-1] - t[0]
    out["seekers"] = len(market.register)
    out["vacancies"] = len(market.vacancy_time)
    return out


def benchmark(repeats: int = 5, scale: str = "regional", out=sys.stdout) -> int:
    runs = []
    for r in range(max(repeats, 1)):
        runs.append(time_once(scale, seed=r))
        print(f"  run {r + 1}/{repeats}: {runs[-1]['total']:.2f} s", file=sys.stderr)
    first = runs[0]
    print(
        f"benchmark {scale}: {first['seekers']:,} seekers, {first['vacancies']:,} vacancies, "
        f"20 simulated years; median of {len(runs)} runs",
        file=out,
    )
    for k in ("draw", "allocate", "records+invariants", "summary", "write", "total"):
        vals = [x[k] for x in runs]
        print(
            f"  {k:<20} {statistics.median(vals):7.3f} s  (min {min(vals):.3f}, "
            f"max {max(vals):.3f})",
            file=out,
        )
    return 0
