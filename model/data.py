"""Calibration data: municipalities (2025 division), national totals and the taakstelling.

Reads the derived files in `calibration_data/` (built by `calibration_data/build.py` from the
verbatim copies in `calibration_data/raw/`; sources in `calibration_data/PROVENANCE.md`).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pandas as pd

DATA_DIR = Path(__file__).resolve().parents[1] / "calibration_data"


@cache
def _municipalities() -> pd.DataFrame:
    df = pd.read_csv(DATA_DIR / "municipalities_2025.csv")
    df["notes"] = df["notes"].fillna("")
    return df


def municipalities() -> pd.DataFrame:
    """One row per municipality of the 2025 division (342), sorted by `code` (GMxxxx)."""
    return _municipalities().copy()


def national_totals() -> dict:
    """National dwelling stock on 1 Jan 2025 (CBS 82900NED) and the municipal-sum checks."""
    return json.loads((DATA_DIR / "national_2025.json").read_text(encoding="utf-8"))


def taakstelling() -> pd.DataFrame:
    """National half-year taakstelling for permit holders (statushouders), 2017-2025 with gaps."""
    return pd.read_csv(DATA_DIR / "taakstelling_statushouders.csv")


def corop_regions() -> dict[str, list[str]]:
    """COROP code (CRxx) -> sorted municipality codes (GMxxxx)."""
    m = _municipalities()
    return {cr: sorted(codes) for cr, codes in m.groupby("corop_code")["code"]}


def region(codes: list[str]) -> pd.DataFrame:
    """The rows of the given municipality codes, in that order; KeyError names unknown codes."""
    codes = [codes] if isinstance(codes, str) else list(codes)
    m = _municipalities().set_index("code", drop=False)
    unknown = [c for c in codes if c not in m.index]
    if unknown:
        raise KeyError(f"unknown municipality code(s): {', '.join(map(str, unknown))}")
    return m.loc[codes].reset_index(drop=True)
