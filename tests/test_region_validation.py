"""The Dutch regional engine, configured to be the stylized overload market, reproduces
the exact queueing values. One group, every dwelling suits everyone, every seeker reacts
to every advert and accepts, ranking by registration time = arrival time (FIFO), no
chains, construction, lottery or labels; vacancies come from tenants leaving at rate
d x stock = mu. Exact values: `woonsim_experiments.queueing` (single class, lambda 150, mu 100,
theta 0.2). Weekly advert cycles delay lettings by half a week on average (0.5% of the
wait), inside the 1% margin. Protocol of the validation reference: R = 10 replications
from SeedSequence.spawn, |mean - exact| <= t(0.999, 9) SE or within 1%."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import passes, replication_seeds

from woonsim import parse_scenario
from woonsim.data import region
from woonsim.region.market import RegionalMarket
from woonsim_experiments.executors import process_pool
from woonsim_experiments.queueing import solve_two_class

LAM, MU, THETA = 150.0, 100.0, 0.2
CODE = "GM1842"  # Midden-Delfland: 1,757 corporation dwellings


def degenerate_scenario():
    row = region([CODE]).iloc[0]
    return parse_scenario(
        {
            "kind": "region",
            "name": "regional engine as V4",
            "municipalities": [CODE],
            "burn_in_years": 0,
            "years": 132,
            "measure": {"warmup": 25, "window": 67, "tail": 40},
            "stock": {
                "size_mix": [0.5, 0.5, 0.0],
                "rent_mix": [0, 1, 0, 0, 0],
                "youth_label_share": 0,
                "senior_label_share": 0,
            },
            "flows": {
                "departure_rate": MU / row.corporation_2025,
                "demolition_rate": 0,
                "sale_rate": 0,
            },
            "construction": {"per_1000_dwellings": 0},
            "allocation": {"reactions_per_week": 5, "lottery_share": 0, "local_binding_share": 0},
            "groups": [
                {
                    "name": "all",
                    "inflow_per_1000_households": LAM / row.households_2024 * 1000,
                    "household": {"size": [1, 0, 0], "income": [1, 0, 0], "age": [0, 1, 0]},
                    "patience_years": 1 / THETA,
                    "registration_lead_years": 0,
                    "leaves_vacancy": 0,
                    "weekly_activity": 1.0,
                    "accept": 1.0,
                }
            ],
        }
    )


def _one(seed) -> tuple[float, float, float]:
    g = RegionalMarket(degenerate_scenario(), seed).run().base.summary()["groups"]["all"]
    return g["p_housed"], g["mean_time_on_list"], g["mean_wait_housed"]


@pytest.fixture(scope="module")
def replications():
    with process_pool(2) as ex:
        return np.array(list(ex.map(_one, replication_seeds(10))))


@pytest.mark.parametrize(
    ("k", "measure"), [(0, "p_housed"), (1, "mean_time_on_list"), (2, "mean_wait_housed")]
)
def test_regional_engine_reproduces_exact_overload_values(replications, k, measure):
    exact = solve_two_class(LAM, 0.0, MU, THETA, 0.0, rule="priority")[measure][0]
    ok, msg = passes(replications[:, k], exact)
    assert ok, f"{measure}: {msg}"
