"""A run as a pure function of (scenario, seed), for every scenario kind."""

from __future__ import annotations

import numpy as np

from woonsim.region.market import RegionalMarket
from woonsim.stylized.market import HousingMarket

__all__ = ["market_for", "run"]


def market_for(scenario, seed: int | np.random.SeedSequence = 0):
    """The Mesa model of a scenario: `RegionalMarket` (kind region) or `HousingMarket`."""
    if scenario.kind == "region":
        return RegionalMarket(scenario, seed)
    return HousingMarket(scenario, seed)


def run(scenario, seed: int | np.random.SeedSequence = 0):
    """Run a scenario to its end and return its result (invariants checked)."""
    return market_for(scenario, seed).run()
