"""A run's size before it starts: the seekers and vacancies it will draw, the memory they
need and a rough running time, from the scenario's rates and horizon.

`check_size` refuses a run that would not fit in memory with one line (`ScenarioError`):
every scenario is checked when it is parsed, so neither `woonsim run` nor a sweep starts
a run that cannot finish. The memory available is `WOONSIM_MAX_MEMORY_GB` when set, else
80% of the machine's physical memory. The per-item costs were measured on woonsim runs
(peak resident memory against seekers and vacancies; README, "Bounds").
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from woonsim.errors import ScenarioError

__all__ = ["MAX_SEEKERS", "Size", "check_size", "estimate", "memory_limit"]

BASE_BYTES = 400e6  # the interpreter, numpy, pandas, numba and the compiled kernels
# measured: 480 bytes per regional seeker, 150 per stylized seeker or vacancy (with margin)
BYTES = {"region": (800.0, 400.0), "stylized": (250.0, 250.0)}  # per seeker, per vacancy
SECONDS = {"region": 3e-5, "stylized": 5e-6}  # per seeker or vacancy (rough)
STEP_SECONDS = 15e-6  # a stylized run's Mesa clock ticks once per time unit
MAX_SEEKERS = 1e9  # whatever the memory: row indices stay far from any integer limit


@dataclass(frozen=True)
class Size:
    """Expected seekers and vacancies of a run, its memory (bytes) and time (seconds)."""

    seekers: float
    vacancies: float
    time_span: float  # years (region) or time units (stylized)
    bytes: float
    seconds: float

    def describe(self, unit: str) -> str:
        return (
            f"about {self.seekers:.3g} seekers and {self.vacancies:.3g} vacancies over "
            f"{self.time_span:g} {unit} need about {self.bytes / 1e9:.3g} GB of memory"
        )


def memory_limit() -> float:
    """Bytes a run may use: `WOONSIM_MAX_MEMORY_GB` if set, else 80% of physical memory or
    of the address space left under the process's limit (`ulimit -v`), whichever is less."""
    env = os.environ.get("WOONSIM_MAX_MEMORY_GB")
    if env:
        try:
            gb = float(env)
        except ValueError:
            gb = math.nan
        if not (math.isfinite(gb) and gb > 0):
            raise ScenarioError(f"WOONSIM_MAX_MEMORY_GB: expected a positive number, got {env!r}")
        return gb * 1e9
    try:
        physical = 0.8 * os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # not POSIX: assume a small machine
        return 4e9
    left = _address_space_left()
    return physical if left is None else min(physical, 0.8 * left)


def _address_space_left() -> float | None:
    """Bytes of address space this process may still map under its limit (`ulimit -v`,
    RLIMIT_AS), or None when it has none."""
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
        if soft == resource.RLIM_INFINITY:
            return None
        pages = int(Path("/proc/self/statm").read_text().split()[0])
        return max(0.0, soft - pages * os.sysconf("SC_PAGE_SIZE"))
    except (ImportError, OSError, ValueError, IndexError):
        return None


def estimate(scenario) -> Size:
    """The expected size of a run of `scenario` (kind stylized or region)."""
    if scenario.kind == "stylized":
        end = scenario.measure.end
        seekers = sum(g.rate for g in scenario.groups) * end
        vacancies = scenario.vacancies.rate * end
        per_s, per_v = BYTES["stylized"]
        items = seekers + vacancies
        seconds = items * SECONDS["stylized"] + end * STEP_SECONDS
        memory = BASE_BYTES + per_s * seekers + per_v * vacancies
        return Size(seekers, vacancies, end, memory, seconds)
    return _region(scenario)


def _region(sc) -> Size:
    from woonsim.data import municipality_counts  # pandas: only for a region

    counts = municipality_counts()
    rows = [counts[c] for c in sc.municipalities]

    def total(col: str) -> float:
        return float(sum(r[col] for r in rows))

    households, population = total("households_2024"), total("population_2024")
    stock, dwellings = total("corporation_2025"), total("dwellings_2025")
    H = sc.horizon
    per_year = 0.0
    leaving = 0.0
    for g in sc.groups:
        if g.kind == "statushouder":
            st = sc.statushouders
            rate = 2 * st.national_per_halfyear * population / st.national_population
            rate /= st.persons_per_household
        else:
            rate = max(g.inflow_per_1000_households - g.own_channel_per_1000_households, 0.0)
            rate *= households / 1000 * (1 + sc.kostendelersnorm_extra_households)
        per_year += rate
        leaving += rate * g.leaves_vacancy
    seekers = per_year * H
    built = sc.construction.per_1000_dwellings * dwellings / 1000  # all tenures, per year
    # departures from the stock and from what is built, new-builds, and chains
    vacancies = sc.flows.departure_rate * (stock * H + built * H * H / 2) + built * H
    vacancies += leaving * H
    per_s, per_v = BYTES["region"]
    cycles = H * 52 / sc.allocation.cycle_weeks
    seconds = (seekers + vacancies) * SECONDS["region"] + cycles * len(rows) * 1e-4
    return Size(seekers, vacancies, H, BASE_BYTES + per_s * seekers + per_v * vacancies, seconds)


def check_size(scenario, workers: int = 1) -> Size:
    """The run's size; `ScenarioError` (one line) when `workers` such runs at once would
    not fit in memory, or the run would draw more than `MAX_SEEKERS` seekers."""
    size = estimate(scenario)
    limit = memory_limit()
    what = "years" if scenario.kind == "region" else "time units"
    hint = (
        "shorten burn_in_years or years, or lower the inflows"
        if scenario.kind == "region"
        else "shorten the measure or lower the rates"
    )
    if max(size.seekers, size.vacancies) > MAX_SEEKERS:
        raise ScenarioError(
            f"size: {size.describe(what)}; more than {MAX_SEEKERS:.0e} seekers or vacancies "
            f"is refused ({hint})"
        )
    if workers * size.bytes > limit:
        each = f" each, {workers} runs at once" if workers > 1 else ""
        raise ScenarioError(
            f"size: {size.describe(what)}{each}, more than the {limit / 1e9:.3g} GB available "
            f"(WOONSIM_MAX_MEMORY_GB, else 80% of the memory or of ulimit -v); {hint}"
        )
    return size
