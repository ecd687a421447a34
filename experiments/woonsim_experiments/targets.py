"""Calibration targets: the observed figures the regional model is held against.

Reads `calibration_data/targets.csv` (described in `calibration_data/TARGETS.md`). Every row
quotes one figure of the project's domain reference (`dutch_allocation_facts.md`) with its year,
source and confidence tag; `use` says whether it is fitted (`fit`), only reported beside the
simulated value (`holdout`), or background whose definition does not match a model measure well
enough (`context`). The table is validated on load; a bad row raises `ValueError` with one line
naming the row and the column.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pandas as pd

from woonsim.data import data_file
from woonsim.errors import DataError
from woonsim.measures import TARGET_MEASURES

# the data files as found at import; `targets()` looks them up again when called, so that
# WOONSIM_CALIBRATION_DATA set later is honoured
TARGETS_CSV = data_file("targets.csv")
NATIONAL_CSV = data_file("national_targets.csv")

# region id -> CBS municipality codes (2025 division). Membership of `amsterdam` and `twente` is
# an assumption (see TARGETS.md): the reference gives no member lists for them.
REGIONS: dict[str, list[str]] = {
    # Haaglanden: the 9 municipalities of the former Stadsgewest (= COROP CR26 + CR27).
    "haaglanden": [
        "GM0503",  # Delft
        "GM0518",  # 's-Gravenhage (Den Haag)
        "GM1916",  # Leidschendam-Voorburg
        "GM1842",  # Midden-Delfland
        "GM1926",  # Pijnacker-Nootdorp
        "GM0603",  # Rijswijk (ZH.)
        "GM0629",  # Wassenaar
        "GM1783",  # Westland
        "GM0637",  # Zoetermeer
    ],
    # Regio Amsterdam (former Stadsregio; "14 municipalities" in the reference, 2024):
    # COROP Groot-Amsterdam (CR23, 12) + Zaanstreek (CR22, 2). ASSUMPTION.
    "amsterdam": [
        "GM0358",  # Aalsmeer
        "GM0362",  # Amstelveen
        "GM0363",  # Amsterdam (incl. Weesp since 2022)
        "GM0384",  # Diemen
        "GM0385",  # Edam-Volendam
        "GM0394",  # Haarlemmermeer
        "GM0415",  # Landsmeer
        "GM0431",  # Oostzaan
        "GM0437",  # Ouder-Amstel
        "GM0439",  # Purmerend (incl. Beemster since 2022)
        "GM0451",  # Uithoorn
        "GM0852",  # Waterland
        "GM0479",  # Zaanstad
        "GM0880",  # Wormerland
    ],
    # Short-wait region: COROP Twente (CR12), which holds the two short-wait figures of the
    # reference (Enschede, Rijssen-Holten). ASSUMPTION: COROP as the regional unit.
    "twente": [
        "GM0141",  # Almelo
        "GM0147",  # Borne
        "GM0153",  # Enschede
        "GM0158",  # Haaksbergen
        "GM0163",  # Hellendoorn
        "GM0164",  # Hengelo (O.)
        "GM0168",  # Losser
        "GM0173",  # Oldenzaal
        "GM0183",  # Tubbergen
        "GM0189",  # Wierden
        "GM1700",  # Twenterand
        "GM1735",  # Hof van Twente
        "GM1742",  # Rijssen-Holten
        "GM1774",  # Dinkelland
    ],
}

# measure -> unit of `value`, `low`, `high`
MEASURES: dict[str, str] = TARGET_MEASURES  # name -> unit; one definition: woonsim.measures
USES = ("fit", "holdout", "context")
CONFIDENCE = ("A", "B", "C")
COLUMNS = [
    "region",
    "measure",
    "group",
    "value",
    "low",
    "high",
    "year",
    "definition",
    "source",
    "confidence",
    "use",
    "tolerance",
    "derivation",
    "area",
    "statistic",
]
STATISTICS = ("mean", "median")  # of the time measures: the one the source reports
_NUMERIC = ("value", "low", "high", "tolerance")
_REQUIRED_TEXT = ("region", "measure", "group", "year", "definition", "source", "confidence")
_YEAR = re.compile(r"\d{4}(?:[-/]\d{2}(?:\d{2})?| H[12])?")


def targets(
    region: str | None = None, use: str | None = None, path: str | Path | None = None
) -> pd.DataFrame:
    """The validated targets table, optionally only one region and/or one use.

    Columns as in the CSV; `value`, `low`, `high` and `tolerance` are floats (`low`/`high`
    NaN when the source gives no range), the text columns are strings ("" when empty).
    `path` points at another CSV (for tests). Raises ValueError on a bad table or argument.
    """
    if region is not None and region not in REGIONS:
        raise ValueError(f"unknown region {region!r}; expected one of {', '.join(REGIONS)}")
    if use is not None and use not in USES:
        raise ValueError(f"unknown use {use!r}; expected one of {', '.join(USES)}")
    df = _load(Path(path) if path is not None else data_file("targets.csv"))
    if region is not None:
        df = df[df["region"] == region]
    if use is not None:
        df = df[df["use"] == use]
    return df.reset_index(drop=True)


def acceptance_interval(table: pd.DataFrame) -> pd.DataFrame:
    """Per row, the interval a simulated value must fall in (TARGETS.md, tolerance rule):
    [min(low, value) * (1 - tolerance), max(high, value) * (1 + tolerance)], a missing low or
    high counting as `value`. Returns columns `accept_low`, `accept_high` on the table's index."""
    lo = table[["low", "value"]].min(axis=1)  # NaN low -> value
    hi = table[["high", "value"]].max(axis=1)
    return pd.DataFrame(
        {"accept_low": lo * (1 - table["tolerance"]), "accept_high": hi * (1 + table["tolerance"])}
    )


def national_targets(path: str | Path | None = None) -> pd.DataFrame:
    """The national holdouts (`calibration_data/national_targets.csv`, region `nederland`):
    published figures of single municipalities that the national scenario reports beside
    its own values (`woonsim national`); the same columns and checks as `targets`."""
    from woonsim.data import municipalities

    regions = {"nederland": list(municipalities()["code"])}
    return _load(Path(path) if path is not None else data_file("national_targets.csv"), regions)


def _load(path, regions: dict[str, list[str]] = REGIONS) -> pd.DataFrame:
    try:
        with path.open("rb") as fh:
            raw = pd.read_csv(fh, dtype=str, keep_default_na=False)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path.name}: not a CSV table ({err.__class__.__name__})") from None
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"{path.name}: missing column(s) {', '.join(missing)}")
    raw = raw[COLUMNS].apply(lambda s: s.str.strip())
    rows = [
        _check_row(i, r, path.name, regions) for i, r in enumerate(raw.to_dict("records"), start=1)
    ]
    df = pd.DataFrame(rows, columns=COLUMNS)
    for c in _NUMERIC:
        df[c] = df[c].astype(float)
    return df


def _check_row(i: int, r: dict[str, str], name: str, regions: dict[str, list[str]]) -> dict:
    where = f"{name} row {i} (line {i + 1}; {r['region'] or '?'}, {r['measure'] or '?'})"

    def bad(col: str, problem: str) -> DataError:
        return DataError(f"{where}, column '{col}': {problem}")

    for col in _REQUIRED_TEXT:
        if not r[col]:
            raise bad(col, "empty")
    if r["region"] not in regions:
        raise bad("region", f"unknown region {r['region']!r}")
    if r["measure"] not in MEASURES:
        raise bad("measure", f"unknown measure {r['measure']!r}")
    if r["use"] not in USES:
        raise bad("use", f"must be one of {', '.join(USES)}, got {r['use']!r}")
    if r["confidence"] not in CONFIDENCE:
        raise bad("confidence", f"must be one of A, B, C, got {r['confidence']!r}")
    if not _YEAR.fullmatch(r["year"]):
        raise bad("year", f"expected e.g. 2019, 2019-20, 2024/25 or 2020 H1, got {r['year']!r}")

    out: dict = dict(r)
    for col in _NUMERIC:
        text = r[col]
        if not text and col in ("low", "high"):
            out[col] = math.nan
            continue
        try:
            x = float(text)
        except ValueError:
            raise bad(col, f"not a number: {text!r}") from None
        if not math.isfinite(x):
            raise bad(col, f"not a finite number: {text!r}")
        if x <= 0:
            raise bad(col, f"must be positive, got {text}")
        out[col] = x
    if out["tolerance"] > 1:
        raise bad("tolerance", f"relative tolerance must be at most 1, got {r['tolerance']}")
    if MEASURES[r["measure"]] == "fraction":
        for col in ("value", "low", "high"):
            if out[col] > 1:  # NaN compares False
                raise bad(col, f"a share must lie in [0, 1], got {r[col]}")
    if out["low"] > out["value"]:
        raise bad("low", f"low {r['low']} exceeds value {r['value']}")
    if out["high"] < out["value"]:
        raise bad("high", f"high {r['high']} is below value {r['value']}")
    times = r["measure"].endswith(("_time_at_letting_years", "time_in_reception_years"))
    if times and r["statistic"] not in STATISTICS:
        raise bad("statistic", f"a time needs mean or median, got {r['statistic']!r}")
    if not times and r["statistic"]:
        raise bad("statistic", f"only times take a statistic, got {r['statistic']!r}")
    if r["area"]:
        codes = r["area"].split(";")
        foreign = [c for c in codes if c not in regions[r["region"]]]
        if foreign:
            raise bad("area", f"code(s) not in region {r['region']}: {', '.join(foreign)}")
    return out
