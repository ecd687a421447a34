"""The files of one run: what the result writes (summary.json and Parquet tables) plus
`measures.parquet`, the long measures table (`woonsim.measures`), in one atomic write."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq

from woonsim.measures import run_measures
from woonsim.region.results import RegionResult
from woonsim.results import RunResult

__all__ = ["write_run"]


def write_run(result: RunResult | RegionResult, out_dir: str | Path) -> Path:
    """Write every output file of a run into `out_dir`, all or nothing."""
    table = run_measures(result)
    return result.write(out_dir, extra=lambda tmp: pq.write_table(table, tmp / "measures.parquet"))
