"""woonsim: agent-based simulation of Dutch social-housing allocation.

The public API:

- `load_scenario`, `parse_scenario`: validated scenarios (YAML in, one-line errors out);
- `run(scenario, seed)`: a run as a pure function, for every scenario kind;
- `market_for(scenario, seed)`: the Mesa model of a scenario, to step it yourself:
  `RegionalMarket` (kind `region`, the Dutch model) or `HousingMarket` (kind
  `stylized`, the market of the validation reference);
- `RunResult`, `RegionResult`: per-seeker records, summaries and output files;
- `measures`, `run_measures(result)`: the one measures registry and a run's long table;
- `WoonsimError` and its subclasses `ScenarioError`, `DataError`, `InvariantError`.

The experiment layer (sweeps, calibration, analysis, report, EMA adapter) is
`woonsim_experiments`; the command line is `woonsim_cli`.
"""

from woonsim import measures
from woonsim._version import __version__
from woonsim.errors import DataError, InvariantError, ScenarioError, WoonsimError
from woonsim.measures import run_measures
from woonsim.region.market import RegionalMarket
from woonsim.region.results import RegionResult
from woonsim.results import RunResult
from woonsim.scenario import load_scenario, parse_scenario
from woonsim.simulate import market_for, run
from woonsim.stylized.market import HousingMarket, Seeker, Vacancy

__all__ = [
    "DataError",
    "HousingMarket",
    "InvariantError",
    "RegionResult",
    "RegionalMarket",
    "RunResult",
    "ScenarioError",
    "Seeker",
    "Vacancy",
    "WoonsimError",
    "__version__",
    "load_scenario",
    "market_for",
    "measures",
    "parse_scenario",
    "run",
    "run_measures",
]
