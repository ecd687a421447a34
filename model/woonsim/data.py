"""Data access: municipalities (2025 division), national totals and the taakstelling.

Reads the derived files of `calibration_data/` (built by `calibration_data/build.py` from
the verbatim copies in `calibration_data/raw/`; sources in `calibration_data/PROVENANCE.md`).
They ship inside the package as `woonsim.calibration_data` and are read through
`importlib.resources`, so an installed woonsim (a Dask worker, say) runs a region
without the repository. The environment variable `WOONSIM_CALIBRATION_DATA` points at
another folder of the same layout instead (a corrected or updated copy; the tests plant
corruptions in one).

Every table is validated when it is read: a bad file raises `DataError` with one line
naming the file, the row (with its line in the file) and the column. The municipalities
must be the whole 2025 division: as many rows as `national_2025.json` counts, unique
codes, whole non-negative counts, corporation stock within all dwellings, households
within the population, and column sums equal to the national totals there (so a
deleted, duplicated or changed row is blamed on the data, not on a scenario).
"""

from __future__ import annotations

import difflib
import hashlib
import io
import json
import math
import os
import re
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

import pandas as pd

from woonsim.errors import DataError

__all__ = [
    "DATA_ENV",
    "clear_cache",
    "corop_regions",
    "data_digest",
    "data_file",
    "data_root",
    "municipalities",
    "municipality_counts",
    "national_totals",
    "near_municipalities",
    "region",
    "taakstelling",
]

# names in common use that differ from CBS's official ones
ALIASES = {"den haag": "GM0518", "the hague": "GM0518", "den bosch": "GM0796"}
WHERE_CODES = (
    "`woonsim municipalities` lists every code with its name "
    "(calibration_data/municipalities_2025.csv)"
)
DATA_ENV = "WOONSIM_CALIBRATION_DATA"  # another folder of calibration data (tests, updates)

# municipalities_2025.csv: its columns, the whole counts the model reads (and the sums in
# national_2025.json they must add up to), and the largest plausible value of each
MUNICIPALITY_COLUMNS = (
    "code", "name", "corop_code", "corop_name", "province_code", "province",
    "population_2024", "households_2024", "avg_household_size_2024",
    "pct_one_person_households_2024", "pct_households_with_children_2024", "dwellings_2025",
    "owner_occupied_2025", "rented_2025", "corporation_2025", "other_landlord_2025",
    "ownership_unknown_2025", "corporation_2024", "corporation_2019", "corporation_share_2025",
    "pct_single_family_2023", "pct_low_income_households_2022", "notes",
)  # fmt: skip
COUNTS = {  # column: (key of the national sum, whether it must be positive)
    "population_2024": ("population_2024", True),
    "households_2024": ("households_2024", True),
    "dwellings_2025": ("dwellings", True),
    "corporation_2025": ("corporation", False),  # Renswoude has none
}
SHARE_ROUNDING = 6e-5  # corporation_share_2025 is corporation / dwellings to 4 decimals
MAX_COUNT = 5_000_000  # more people or dwellings than any Dutch municipality has, by far
_CODE = re.compile(r"GM\d{4}")
_COROP = re.compile(r"CR\d{2}")


def clear_cache() -> None:
    """Forget the tables read so far (after the files of a data folder changed)."""
    for f in (_digest, _national_totals, _load_municipalities, _counts):
        f.cache_clear()


def data_root() -> Traversable:
    """The folder the data are read from: `WOONSIM_CALIBRATION_DATA`, or the shipped copy."""
    env = os.environ.get(DATA_ENV)
    if env:
        root = Path(env)
        if not root.is_dir():
            raise DataError(f"{DATA_ENV}: {env} is not a folder")
        return root
    return resources.files("woonsim.calibration_data")


def _label(name: str) -> str:
    """How a data file is named in messages: by its path when it is not the shipped copy."""
    root = data_root()
    return str(Path(root) / name) if isinstance(root, Path) else f"calibration_data/{name}"


def data_file(name: str) -> Traversable:
    """A data file by its path inside `calibration_data/`, e.g. `fits/fit_twente.csv`."""
    f = data_root().joinpath(*name.split("/"))
    if not f.is_file():
        raise DataError(f"{_label(name)}: data file is missing")
    return f


def data_digest() -> str:
    """sha256 over the data the model reads (the derived CSV and JSON files and the fits,
    by name and bytes): results folders record it, so that a resume after the data
    changed does not mix results."""
    return _digest(str(data_root()))


@cache
def _digest(root_key: str) -> str:
    root = data_root()
    named = {
        f.name: f for f in root.iterdir() if f.is_file() and f.name.endswith((".csv", ".json"))
    }
    fits = root.joinpath("fits")
    if fits.is_dir():
        named |= {f"fits/{f.name}": f for f in fits.iterdir() if f.is_file()}
    h = hashlib.sha256()
    for name in sorted(named):
        h.update(name.encode() + b"\0" + named[name].read_bytes())
    return h.hexdigest()


def read_table(name: str) -> pd.DataFrame:
    """A CSV data file as text columns ("" when empty); `DataError` when it is empty,
    not text or not a table."""
    return pd.read_csv(io.StringIO(_text(name)), dtype=str, keep_default_na=False)


def _text(name: str) -> str:
    """A CSV data file's text, once it parses as a table (`DataError` otherwise)."""
    label = _label(name)
    raw = data_file(name).read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise DataError(f"{label}: not a UTF-8 text file") from None
    if not text.strip():
        raise DataError(f"{label}: empty file")
    if "\0" in text:
        raise DataError(f"{label}: binary data, not a CSV table")
    try:
        pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError) as err:
        problem = str(err).splitlines()[0] if str(err) else err.__class__.__name__
        raise DataError(f"{label}: not a CSV table ({problem})") from None
    return text


def national_totals() -> dict:
    """National dwelling stock on 1 Jan 2025 (CBS 82900NED) and the municipal-sum checks."""
    return _national_totals(str(data_root()))


@cache
def _national_totals(root_key: str) -> dict:
    label = _label("national_2025.json")
    try:
        out = json.loads(data_file("national_2025.json").read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{label}: not a JSON file ({err.__class__.__name__})") from None
    need = [("municipalities",), ("population_2024",), ("households_2024",)]
    need += [("sum_of_municipalities_2025", k) for k in ("dwellings", "corporation")]
    for keys in need:
        x = out
        for k in keys:
            x = x.get(k) if isinstance(x, dict) else None
        if not isinstance(x, int) or isinstance(x, bool) or x <= 0:
            raise DataError(f"{label}: {'.'.join(keys)}: expected a positive whole number")
    return out


def _national_sum(totals: dict, key: str) -> int:
    if key in ("population_2024", "households_2024"):
        return totals[key]
    return totals["sum_of_municipalities_2025"][key]


def _municipalities() -> pd.DataFrame:
    return _load_municipalities(str(data_root()))


@cache
def _load_municipalities(root_key: str) -> pd.DataFrame:
    name = "municipalities_2025.csv"
    label = _label(name)
    text = _text(name)
    raw = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    missing = [c for c in MUNICIPALITY_COLUMNS if c not in raw.columns]
    if missing:
        raise DataError(f"{label}: missing column(s) {', '.join(repr(c) for c in missing)}")
    df = raw[list(MUNICIPALITY_COLUMNS)].apply(lambda s: s.str.strip())
    seen: dict[str, int] = {}
    counts = {c: [] for c in COUNTS}
    for i, r in enumerate(df.to_dict("records"), start=1):
        where = f"{label} row {i} (line {i + 1}; {r['code'] or '?'})"

        def bad(col: str, problem: str, where=where) -> DataError:
            return DataError(f"{where}, column '{col}': {problem}")

        if not _CODE.fullmatch(r["code"]):
            raise bad("code", f"expected a CBS code GMxxxx, got {r['code']!r}")
        if r["code"] in seen:
            raise bad("code", f"{r['code']} also on row {seen[r['code']]}")
        seen[r["code"]] = i
        if not r["name"]:
            raise bad("name", "empty")
        if not _COROP.fullmatch(r["corop_code"]):
            raise bad("corop_code", f"expected a COROP code CRxx, got {r['corop_code']!r}")
        for col, (_, positive) in COUNTS.items():
            cell = r[col]
            try:
                x = float(cell)
            except ValueError:
                raise bad(col, f"not a number: {cell!r}") from None
            if not math.isfinite(x):
                raise bad(col, f"not a finite number: {cell!r}")
            if x != int(x):
                raise bad(col, f"not a whole number: {cell!r}")
            if x < 0 or (positive and x == 0):
                raise bad(col, f"must be {'positive' if positive else 'at least 0'}, got {cell}")
            if x > MAX_COUNT:
                raise bad(col, f"{cell} is more than any municipality has ({MAX_COUNT:,})")
            counts[col].append(int(x))
        if counts["corporation_2025"][-1] > counts["dwellings_2025"][-1]:
            raise bad(
                "corporation_2025",
                f"{r['corporation_2025']} corporation dwellings exceed all "
                f"{r['dwellings_2025']} dwellings",
            )
        try:
            share = float(r["corporation_share_2025"])
        except ValueError:
            share = math.nan
        if not 0 <= share <= 1:
            raise bad("corporation_share_2025", f"expected a share in [0, 1], got {share!r}")
        corporation, dwellings = counts["corporation_2025"][-1], counts["dwellings_2025"][-1]
        if abs(corporation / dwellings - share) > SHARE_ROUNDING:
            raise bad(
                "corporation_2025",
                f"{corporation:,} of {dwellings:,} dwellings is a share of "
                f"{corporation / dwellings:.4f}, but corporation_share_2025 says {share:.4f}",
            )
        if counts["households_2024"][-1] > counts["population_2024"][-1]:
            raise bad(
                "households_2024",
                f"{r['households_2024']} households exceed {r['population_2024']} people",
            )
    totals = national_totals()
    if len(df) != totals["municipalities"]:
        raise DataError(
            f"{label}: {len(df)} municipalities, but the 2025 division has "
            f"{totals['municipalities']} (national_2025.json); a row is missing or extra"
        )
    for col, (key, _) in COUNTS.items():
        got, want = sum(counts[col]), _national_sum(totals, key)
        if got != want:
            raise DataError(
                f"{label}, column '{col}': the rows add up to {got:,}, not to the national "
                f"{want:,} (national_2025.json); a row was changed"
            )
    # valid: the table with the types pandas reads (as before validation existed)
    typed = pd.read_csv(io.StringIO(text))
    typed["notes"] = typed["notes"].fillna("")
    return typed


def municipalities() -> pd.DataFrame:
    """One row per municipality of the 2025 division (342), sorted by `code` (GMxxxx)."""
    return _municipalities().copy()


def taakstelling() -> pd.DataFrame:
    """National half-year taakstelling for permit holders (statushouders), 2017-2025 with gaps."""
    df = read_table("taakstelling_statushouders.csv")
    label = _label("taakstelling_statushouders.csv")
    if "national_task_persons" not in df.columns:
        raise DataError(f"{label}: missing column 'national_task_persons'")
    for i, text in enumerate(df["national_task_persons"], start=1):
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        if not (math.isfinite(x) and 0 <= x <= 1e6):
            raise DataError(
                f"{label} row {i} (line {i + 1}), column 'national_task_persons': expected "
                f"a number of persons in [0, 1,000,000], got {text!r}"
            )
    df["national_task_persons"] = df["national_task_persons"].astype(float)
    return df


def municipality_counts() -> dict[str, dict[str, int]]:
    """Code -> the counts the model reads (`COUNTS`): a fast look-up for validation and
    size estimates."""
    return _counts(str(data_root()))


@cache
def _counts(root_key: str) -> dict[str, dict[str, int]]:
    m = _municipalities()
    cols = {c: m[c].tolist() for c in COUNTS}
    return {code: {c: int(cols[c][i]) for c in COUNTS} for i, code in enumerate(m["code"])}


def corop_regions() -> dict[str, list[str]]:
    """COROP code (CRxx) -> sorted municipality codes (GMxxxx)."""
    m = _municipalities()
    return {cr: sorted(codes) for cr, codes in m.groupby("corop_code")["code"]}


def region(codes: list[str]) -> pd.DataFrame:
    """The rows of the given municipality codes, in that order; KeyError names unknown codes
    (the data are complete: a code they lack is not a municipality of 2025)."""
    codes = [codes] if isinstance(codes, str) else list(codes)
    m = _municipalities().set_index("code", drop=False)
    unknown = [c for c in codes if c not in m.index]
    if unknown:
        near = near_municipalities(str(unknown[0]))
        hint = f" (did you mean {' or '.join(near)}?)" if near else ""
        raise KeyError(
            f"unknown municipality code(s): {', '.join(map(str, unknown))}{hint}; {WHERE_CODES}"
        )
    return m.loc[codes].reset_index(drop=True)


def near_municipalities(text: str, n: int = 3) -> list[str]:
    """Up to `n` municipalities near a mistyped code or a name, as "GMxxxx (name)":
    "GM0519", "GM518", "Den Haag" and "'s-Gravenhage" all give GM0518 ('s-Gravenhage)."""
    m = _municipalities()
    names = dict(zip(m["code"], m["name"], strict=True))
    key = text.strip().lower()
    digits = re.sub(r"\D", "", key)
    if re.fullmatch(r"(gm)?\s*\d{1,4}", key):  # a code: one digit off, then the nearest
        target = digits.zfill(4)

        def off(c: str) -> int:
            return sum(a != b for a, b in zip(c[2:], target, strict=True))

        hits = sorted(
            (c for c in names if off(c) <= 1), key=lambda c: abs(int(c[2:]) - int(target))
        )
    else:  # a name: an alias, then names that start with it or contain it, else near ones
        lower = {code: name.lower() for code, name in names.items()}
        hits = [ALIASES[key]] if key in ALIASES else []
        hits += [c for c, x in lower.items() if x == key or x.startswith(key + " ")]
        hits += [c for c, x in lower.items() if key and key in x]
        if not hits:
            by_name = {x: c for c, x in lower.items()}
            hits = [by_name[x] for x in difflib.get_close_matches(key, list(by_name), n, 0.6)]
    return [f"{c} ({names[c]})" for c in dict.fromkeys(hits)][:n]
