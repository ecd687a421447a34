"""What the launch chose: the region scenario files and the results folder, passed by
`woonsim dashboard` to the solara server in environment variables (the names are in
`woonsim_cli.commands` too)."""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from woonsim.errors import ScenarioError
from woonsim.scenario import load_scenario

__all__ = ["RESULTS_ENV", "SCENARIOS_ENV", "load_region", "region_files", "results_root"]

SCENARIOS_ENV = "WOONSIM_DASHBOARD_SCENARIOS"
RESULTS_ENV = "WOONSIM_DASHBOARD_RESULTS"
# the regions of the source tree: experiments/scenarios/ beside this package
DEFAULT_REGIONS = ("haaglanden", "amsterdam", "twente")
SCENARIO_DIR = Path(__file__).resolve().parents[1] / "scenarios"


def region_files() -> dict[str, Path]:
    """The region scenarios to choose from, by key (the file's stem), in launch order."""
    listed = os.environ.get(SCENARIOS_ENV, "")
    files = [Path(p) for p in listed.split(os.pathsep) if p]
    if not files:
        files = [SCENARIO_DIR / f"{name}.yaml" for name in DEFAULT_REGIONS]
        files = [f for f in files if f.is_file()]
    if not files:
        raise ScenarioError(f"{SCENARIOS_ENV}: no region scenario files to show")
    return {f.stem: f for f in files}


@cache
def _load(path: Path):
    scenario = load_scenario(path)
    if scenario.kind != "region":
        raise ScenarioError(f"{path}: the dashboard shows region scenarios (kind: region)")
    return scenario


def load_region(key: str):
    """The validated scenario of region `key` (read once per process)."""
    files = region_files()
    if key not in files:
        raise ScenarioError(f"region: unknown {key!r} (known: {', '.join(files)})")
    return _load(files[key].resolve())


def results_root() -> Path:
    """Where the results view looks for experiment folders (default ./results)."""
    return Path(os.environ.get(RESULTS_ENV) or "results")
