"""An experiment's results folder for the results view: found under the results root,
read and analysed once (`woonsim_experiments.analysis.load_results` and `tables`, the
report's analysis), and the rows the view shows. Nothing is run again."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pandas as pd

from woonsim.measures import REGISTRY
from woonsim_experiments.analysis import DISPLACEMENT_MEASURES, load_results, tables

__all__ = ["REGION", "UNITS", "Results", "find_folders", "open_results", "unit_of"]

# how a measure is shown: REGISTRY unit -> (unit of levels, unit of changes, scale)
UNITS = {"fraction": ("%", "percentage points", 100.0), "years": ("months", "months", 12.0)}
REGION = "(whole area)"
# the measures the view opens with, in this order where they have values
PREFERRED = ("housed_within_3y_of_search", "search_time_km_median", "share_of_lettings")


def find_folders(root: Path, depth: int = 2) -> list[Path]:
    """Experiment results folders (with experiment.json) under `root`, `depth` deep."""
    if not root.is_dir():
        return []
    found = [p.parent for i in range(1, depth + 1) for p in root.glob("*/" * i + "experiment.json")]
    return sorted(found)


@dataclass(frozen=True)
class Results:
    """One folder: its runs (long table), its experiment and the report's tables."""

    path: Path
    df: pd.DataFrame
    experiment: dict
    tables: dict[str, pd.DataFrame]

    @property
    def baseline(self) -> str:
        return self.experiment["baseline"]

    @property
    def national(self) -> bool:
        return bool(self.experiment.get("regions"))

    @property
    def variants(self) -> list[str]:
        """The variants compared with the baseline, in the experiment's order."""
        names = self.tables["variants"]["variant"]
        present = set(self.df["variant"])
        return [v for v in names if v in present and v != self.baseline]

    @property
    def measures(self) -> list[str]:
        d = self.tables["differences"]
        return [m for m in DISPLACEMENT_MEASURES if (d["measure"] == m).any()]

    @property
    def groups(self) -> list[str]:
        return list(dict.fromkeys(self.tables["differences"]["group"]))

    @property
    def areas(self) -> list[str]:
        """The whole area (region or nation), then the regions or municipalities."""
        codes = sorted(set(self.tables["differences"]["municipality"]) - {""})
        return [REGION, *codes]

    @property
    def codes(self) -> list[str]:
        """The municipalities of a region experiment (its map)."""
        return self.experiment.get("municipalities") or [
            c for c in self.areas if c.startswith("GM")
        ]

    def default_measure(self, group: str) -> str:
        """The first measure of `PREFERRED` (else of all) with a difference for `group`."""
        d = self.tables["differences"]
        whole = d[(d["group"] == group) & (d["municipality"] == "") & d["diff"].notna()]
        found = set(whole["measure"])
        return next((m for m in [*PREFERRED, *self.measures] if m in found), self.measures[0])

    def differences(self, measure: str, group: str, area: str, variants: list[str]):
        """The paired differences of one measure (whole period), per chosen variant:
        baseline and variant means, the difference and its 95% interval."""
        d = self.tables["differences"]
        muni = "" if area == REGION else area
        sel = (d["measure"] == measure) & (d["group"] == group) & (d["municipality"] == muni)
        sel &= d["time"].isna() & d["variant"].isin(variants)
        cols = ["variant", "baseline_mean", "variant_mean", "diff", "lo", "hi", "n_pairs",
                "method"]  # fmt: skip
        return d.loc[sel, cols].reset_index(drop=True)

    def headline(self, variants: list[str]) -> pd.DataFrame:
        h = self.tables["headline"]
        return h[h["variant"].isin(variants)].reset_index(drop=True)


def unit_of(measure: str) -> tuple[str, str, float]:
    """The units a measure's levels and differences are shown in, and the scale to them."""
    unit = REGISTRY[measure].unit if measure in REGISTRY else ""
    return UNITS.get(unit, (unit, unit, 1.0))


@lru_cache(maxsize=4)
def _open(path: Path, stamp: float) -> Results:
    df, exp = load_results(path)
    return Results(path, df, exp, tables(df, exp))


def open_results(path: str | Path) -> Results:
    """The folder's results, analysed once per version of its manifest (`ScenarioError`,
    one line, for a folder that is not an experiment's)."""
    path = Path(path).resolve()
    manifest = path / "manifest.json"
    stamp = manifest.stat().st_mtime if manifest.is_file() else 0.0
    return _open(path, stamp)
