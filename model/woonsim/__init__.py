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

Names are imported on first use (PEP 562), so that `import woonsim` and the command
line start without loading Mesa, pandas and pyarrow until a model is needed.
"""

from importlib import import_module

from woonsim._version import __version__
from woonsim.errors import DataError, InvariantError, ScenarioError, WoonsimError

_LAZY = {
    "HousingMarket": "woonsim.stylized.market",
    "Seeker": "woonsim.stylized.market",
    "Vacancy": "woonsim.stylized.market",
    "RegionalMarket": "woonsim.region.market",
    "RegionResult": "woonsim.region.results",
    "RunResult": "woonsim.results",
    "load_scenario": "woonsim.scenario",
    "parse_scenario": "woonsim.scenario",
    "market_for": "woonsim.simulate",
    "run": "woonsim.simulate",
    "run_measures": "woonsim.measures",
}

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


def __getattr__(name: str):
    if name == "measures":
        return import_module("woonsim.measures")
    if name in _LAZY:
        value = getattr(import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'woonsim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
