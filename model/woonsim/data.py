"""Data access: municipalities (2025 division), national totals and the taakstelling.

Reads the derived files of `calibration_data/` (built by `calibration_data/build.py` from
the verbatim copies in `calibration_data/raw/`; sources in `calibration_data/PROVENANCE.md`).
They ship inside the package as `woonsim.calibration_data` and are read through
`importlib.resources`, so an installed woonsim (a Dask worker, say) runs a region
without the repository.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import re
from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

import pandas as pd

from woonsim.errors import DataError

__all__ = [
    "corop_regions",
    "data_digest",
    "data_file",
    "municipalities",
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


def data_file(name: str) -> Traversable:
    """A shipped data file by its path inside `calibration_data/`, e.g. `fits/fit_twente.csv`."""
    f = resources.files("woonsim.calibration_data").joinpath(*name.split("/"))
    if not f.is_file():
        raise DataError(f"calibration_data/{name}: shipped data file is missing")
    return f


@cache
def data_digest() -> str:
    """sha256 over the shipped data the model reads (the derived CSV and JSON files and
    the fits, by name and bytes): results folders record it, so that a resume after the
    data changed does not mix results."""
    root = resources.files("woonsim.calibration_data")
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


def _csv(name: str, **kw) -> pd.DataFrame:
    with data_file(name).open("rb") as fh:
        return pd.read_csv(fh, **kw)


@cache
def _municipalities() -> pd.DataFrame:
    df = _csv("municipalities_2025.csv")
    df["notes"] = df["notes"].fillna("")
    return df


def municipalities() -> pd.DataFrame:
    """One row per municipality of the 2025 division (342), sorted by `code` (GMxxxx)."""
    return _municipalities().copy()


def national_totals() -> dict:
    """National dwelling stock on 1 Jan 2025 (CBS 82900NED) and the municipal-sum checks."""
    return json.loads(data_file("national_2025.json").read_text(encoding="utf-8"))


def taakstelling() -> pd.DataFrame:
    """National half-year taakstelling for permit holders (statushouders), 2017-2025 with gaps."""
    return _csv("taakstelling_statushouders.csv")


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
