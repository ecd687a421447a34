"""woonsim: agent-based simulation of Dutch social-housing allocation.

The public API is small:

- `load_scenario`, `parse_scenario`: validated scenarios (YAML in, one-line errors out);
- `HousingMarket`: the Mesa model; `run(scenario, seed)` is a run as a pure function;
- `RunResult`: per-seeker records, the cohort summary and the output files.
"""

__version__ = "0.1.0"

from .market import HousingMarket, Seeker, Vacancy, run
from .results import RunResult
from .scenario import ScenarioError, load_scenario, parse_scenario

__all__ = [
    "HousingMarket",
    "RunResult",
    "ScenarioError",
    "Seeker",
    "Vacancy",
    "__version__",
    "load_scenario",
    "parse_scenario",
    "run",
]
