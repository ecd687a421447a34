"""`LiveMarket`: the Mesa model the live view steps. It is the region's `RegionalMarket`
built from a region key and lever values (the keywords SolaraViz passes when it creates
or resets the model), so that Reset rebuilds it with the levers as they are set. One
`step()` is one simulated year; a lock keeps the steps of SolaraViz's play loop, its
Step button and the burn-in task from interleaving."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

from woonsim.region.market import RegionalMarket
from woonsim_dashboard.levers import LEVERS, scenario_with
from woonsim_dashboard.settings import load_region, region_files

__all__ = ["LiveMarket"]

_EPS = 1e-9


class LiveMarket(RegionalMarket):
    """A region with the live view's levers. `region` is a key of
    `settings.region_files()` (default: the first); a lever left at None keeps the
    scenario's value."""

    def __init__(
        self,
        region: str | None = None,
        seed: int = 1,
        *,
        quota_mode: str | None = None,
        quota_share: float | None = None,
        quota_basis: str | None = None,
        quota_start: str | None = None,
        lottery_share: float | None = None,
        urgency_approval: float | None = None,
        urgency_pre_search_weeks: int | None = None,
        urgency_search_weeks: int | None = None,
        urgency_binding_accept: float | None = None,
        contingent_per_1000_social: float | None = None,
        statushouder_task: int | None = None,
        statushouder_matching_weeks: float | None = None,
        building_per_1000: float | None = None,
        building_social_share: float | None = None,
        studenten_own_channel: float | None = None,
        arbeidsmigranten_own_channel: float | None = None,
    ):
        # the keywords above are LEVERS' names (a test checks that they agree)
        given = locals()
        self.levers = {lv.name: given[lv.name] for lv in LEVERS if given[lv.name] is not None}
        self.region = region or next(iter(region_files()))
        self.base_scenario = load_region(self.region)
        super().__init__(scenario_with(self.base_scenario, self.levers), seed)
        self.seed_value = seed
        self.lock = threading.RLock()
        year = self.step  # Mesa's step: the clock advances one year, running its events

        def locked_step() -> None:
            with self.lock:
                year()

        self.step = locked_step

    # --- where the run is ------------------------------------------------------------
    @property
    def burn_in_years(self) -> float:
        return self.spec.burn_in_years

    @property
    def in_burn_in(self) -> bool:
        return self.time < self.burn_in_years - _EPS

    @property
    def calendar_year(self) -> float:
        """The calendar time now (start_year at the end of the burn-in)."""
        return self.spec.start_year + self.time - self.burn_in_years

    @property
    def reported_years(self) -> int:
        """Whole years run since the end of the burn-in (the measures' window)."""
        return max(0, math.floor(self.time - self.burn_in_years + _EPS))

    def run_burn_in(
        self,
        progress: Callable[[float, float], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        """Run to the end of the burn-in a year at a time, reporting (years done, burn-in
        years) after each; `stop` set ends it early."""
        while self.in_burn_in and self.running and not (stop and stop.is_set()):
            with self.lock:
                self.run_until(min(math.floor(self.time + _EPS) + 1.0, self.burn_in_years))
            if progress is not None:
                progress(self.time, self.burn_in_years)
