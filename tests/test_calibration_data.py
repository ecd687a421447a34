"""calibration_data/: reproducible build, completeness and consistency with CBS totals."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from woonsim import data

CAL = Path(__file__).resolve().parents[1] / "calibration_data"
DERIVED = ("municipalities_2025.csv", "national_2025.json", "taakstelling_statushouders.csv")
RAW_82900 = CAL / "raw" / "cbs_82900NED_woningvoorraad_eigendom" / "82900NED_2019-2025.csv"

HAAGLANDEN = {  # code -> name as spelled by CBS
    "GM0503": "Delft",
    "GM0518": "'s-Gravenhage",
    "GM1916": "Leidschendam-Voorburg",
    "GM1842": "Midden-Delfland",
    "GM1926": "Pijnacker-Nootdorp",
    "GM0603": "Rijswijk (ZH.)",  # CBS name; "Rijswijk" in everyday use
    "GM0629": "Wassenaar",
    "GM1783": "Westland",
    "GM0637": "Zoetermeer",
}


def nederland_2025() -> dict[str, int]:
    """The 'Nederland' row for 1 Jan 2025, status Totaal, read straight from the raw CBS file."""
    with open(RAW_82900, encoding="utf-8", newline="") as f:
        for r in csv.DictReader(f):
            if (r["RegioS"], r["Perioden"], r["StatusVanBewoning"]) == (
                "Nederland",
                "2025",
                "Totaal",
            ):
                return {
                    "dwellings": int(float(r["TotaleWoningvoorraad_1"])),
                    "corporation": int(float(r["EigendomWoningcorporatie_4"])),
                }
    raise AssertionError("no Nederland 2025 row")


def test_build_reproduces_committed_files(tmp_path):
    build = CAL / "build.py"
    assert "/work/shared" not in build.read_text(encoding="utf-8")  # raw/ only
    subprocess.run([sys.executable, str(build), str(tmp_path)], check=True, capture_output=True)
    for name in DERIVED:
        assert (tmp_path / name).read_bytes() == (CAL / name).read_bytes(), name


def test_342_municipalities_with_corop_and_province():
    m = data.municipalities()
    assert len(m) == 342
    assert m["code"].is_unique and m["code"].str.fullmatch(r"GM\d{4}").all()
    assert list(m["code"]) == sorted(m["code"])
    assert m["corop_code"].str.fullmatch(r"CR\d{2}").all() and m["corop_code"].nunique() == 40
    assert m["province_code"].str.fullmatch(r"PV\d{2}").all() and m["province"].nunique() == 12
    assert m[["corop_name", "province"]].notna().all().all()
    assert sum(len(v) for v in data.corop_regions().values()) == 342


def test_municipal_sums_equal_national_82900ned():
    m, nl = data.municipalities(), nederland_2025()
    assert nl["dwellings"] == 8_274_478  # domain reference
    assert m["dwellings_2025"].sum() == nl["dwellings"]
    assert m["corporation_2025"].sum() == nl["corporation"]
    totals = data.national_totals()
    assert totals["sums_match_exactly"] is True
    assert totals["nederland_2025"]["corporation"] == nl["corporation"]


def test_population_2024_sums_to_kwb_national_total():
    assert data.municipalities()["population_2024"].sum() == 17_942_942


def test_haaglanden_codes_and_names():
    rows = data.region(list(HAAGLANDEN))
    assert dict(zip(rows["code"], rows["name"], strict=True)) == HAAGLANDEN
    assert set(rows["province"]) == {"Zuid-Holland"}


def test_region_unknown_code_raises_keyerror_naming_it():
    with pytest.raises(KeyError, match="GM9999"):
        data.region(["GM0503", "GM9999"])
