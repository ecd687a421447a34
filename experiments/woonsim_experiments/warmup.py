"""Choosing a scenario's burn-in by MSER-5 on pilot runs (`woonsim warmup`).

Each pilot replication runs the scenario with the stock frozen (the whole run is
burn-in) for `max_years`; the diagnostic series of `woonsim.stationarity` are averaged
over the replications and MSER-5 gives the year at which the start-up transient ends.
The recommended burn-in is twice the latest truncation point, rounded up to 5 years (a
margin for single runs, whose own verdict asks MSER-5 to truncate within the burn-in;
docs/ODD.md §B1.2).
"""

from __future__ import annotations

import math
from concurrent.futures import Executor

import numpy as np

from woonsim.region.market import RegionalMarket
from woonsim.scenario import parse_scenario
from woonsim.stationarity import SERIES, STEP, series, truncation

__all__ = ["choose_burn_in"]


def _pilot(args) -> dict[str, np.ndarray]:
    scenario, seed = args
    return series(RegionalMarket(scenario, seed).run())


def choose_burn_in(
    scenario, replications: int = 3, max_years: float = 60.0, root_seed: int = 20251201,
    executor: Executor | None = None,
) -> dict:  # fmt: skip
    """Per series, the MSER-5 truncation year of each pilot replication and of their
    mean; the recommended burn-in (None when a series has not settled within the first
    half of `max_years`: run longer pilots)."""
    d = scenario.model_dump(mode="python")
    d["burn_in_years"], d["years"] = float(max_years), 1.0
    d["measure"] = None
    pilot = parse_scenario(d)
    seeds = np.random.SeedSequence(root_seed).spawn(replications)
    mapper = executor.map if executor is not None else map
    runs = list(mapper(_pilot, [(pilot, s) for s in seeds]))
    n0 = int(round(max_years / STEP))
    rows, worst = [], 0.0
    for name in SERIES:
        xs = np.array([r[name][:n0] for r in runs])
        per_rep = [truncation(x) for x in xs]
        mean = truncation(np.nanmean(xs, axis=0))
        years = None if mean is None else mean * STEP
        worst = math.inf if years is None else max(worst, years)
        rows.append(
            {
                "series": name,
                "truncation_years_mean": years,
                "truncation_years_per_replication": [
                    None if p is None else p * STEP for p in per_rep
                ],
                "level_last_5_years": float(np.nanmean(xs[:, -int(5 / STEP) :])),
            }
        )
    burn_in = None if math.isinf(worst) else max(5.0, 5.0 * math.ceil(2 * worst / 5.0 - 1e-9))
    return {
        "scenario": scenario.name,
        "max_years": float(max_years),
        "replications": replications,
        "root_seed": root_seed,
        "series": rows,
        "recommended_burn_in_years": burn_in,
    }
