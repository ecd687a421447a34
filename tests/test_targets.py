"""calibration_data/targets.csv: provenance on every row, fit/holdout per region, municipality
codes, values against the domain reference, and validation of a corrupted table."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from woonsim import data
from woonsim_experiments.targets import MEASURES, REGIONS, TARGETS_CSV, acceptance_interval, targets

# The nine Haaglanden municipalities (brief of the calibration issue; CBS codes).
HAAGLANDEN = {
    "GM0503",
    "GM0518",
    "GM1916",
    "GM1842",
    "GM1926",
    "GM0603",
    "GM0629",
    "GM1783",
    "GM0637",
}

REG = "registration_time_at_letting_years"
SEARCH = "search_time_at_letting_years"
STATUS = "share_lettings_statushouders"
DELFT_WESTLAND = "GM0503;GM1783;GM1842"

# Literals typed from dutch_allocation_facts.md (not from targets.csv):
# (region, measure, group, use, year, figure as printed in the reference, unit factor to the
# CSV unit, area)
REFERENCE = [
    # §2b "Haaglanden (Woonnet Haaglanden) | 8,159 lettings | 2019"
    ("haaglanden", "lettings_per_year", "all", "fit", "2019", 8_159, 1, ""),
    # §3b "Haaglanden active seekers / lettings | 64,807 / 8,159 (≈12.6% success) | 2019–20"
    ("haaglanden", "active_seekers", "all", "fit", "2019-20", 64_807, 1, ""),
    ("haaglanden", "slaagkans", "all", "context", "2019-20", 12.6, 1 / 100, ""),
    # §3a Haaglanden "40 months (2015) → 57 (2019) → 68 (H1 2020)"; "28.3 months (2019)"
    ("haaglanden", REG, "all", "fit", "2019", 57, 1 / 12, ""),
    ("haaglanden", SEARCH, "all", "fit", "2019", 28.3, 1 / 12, ""),
    ("haaglanden", REG, "all", "context", "2020 H1", 68, 1 / 12, ""),
    ("haaglanden", REG, "all", "context", "2015", 40, 1 / 12, ""),
    # §3a "Den Haag about 6 yrs (2022)"
    ("haaglanden", REG, "all", "holdout", "2022", 6, 1, "GM0518"),
    # §4a "about 4% in Delft/Westland" (2021, CBS [A])
    ("haaglanden", STATUS, "all", "context", "2021", 4, 1 / 100, DELFT_WESTLAND),
    # §2b "Regio Amsterdam (14 municipalities) | 12,851; half to starters | 2024"
    ("amsterdam", "lettings_per_year", "all", "fit", "2024", 12_851, 1, ""),
    ("amsterdam", "lettings_per_year", "starters", "holdout", "2024", 12_851, 1 / 2, ""),
    # §2b "Regio Amsterdam (WoningNet + Woonmatch, ...) | 12,385 | 2022"
    ("amsterdam", "lettings_per_year", "all", "context", "2022", 12_385, 1, ""),
    # §3b "Regio Amsterdam active seekers | more than 170,000"
    ("amsterdam", "active_seekers", "all", "fit", "2024/25", 170_000, 1, ""),
    # §3a "Regio Amsterdam | – | 6.1 yrs (2022) → 5.3 yrs (2024)"
    ("amsterdam", SEARCH, "all", "fit", "2024", 5.3, 1, ""),
    ("amsterdam", SEARCH, "all", "context", "2022", 6.1, 1, ""),
    # §3a "8.7 yrs (starters, Amsterdam region)" (2015, RIGO [A])
    ("amsterdam", REG, "starters", "context", "2015", 8.7, 1, ""),
    # §3b "Amsterdam reactions per advert | 272 regular; 1,173 per lottery advert | 2018"
    ("amsterdam", "reactions_per_advert", "regular", "fit", "2018", 272, 1, "GM0363"),
    ("amsterdam", "reactions_per_advert", "lottery", "fit", "2018", 1_173, 1, "GM0363"),
    # §4a "Amsterdam urgency budget | about 1,800 urgentiewoningen/yr ... | 2021"
    ("amsterdam", "lettings_per_year", "urgent", "fit", "2021", 1_800, 1, "GM0363"),
    # §4b "Amsterdam 849 housed vs 1,459 + 276 due" (whole 2022)
    ("amsterdam", "taakstelling_realisation", "all", "holdout", "2022", 849 / 1_735, 1, "GM0363"),
    # §3a NOS 2022: "Amstelveen and Haarlemmermeer about 19; Amsterdam about 12.5"
    ("amsterdam", REG, "all", "holdout", "2022", 12.5, 1, "GM0363"),
    ("amsterdam", REG, "all", "holdout", "2022", 19, 1, "GM0362"),
    ("amsterdam", REG, "all", "holdout", "2022", 19, 1, "GM0394"),
    # §3a NOS 2022: "Ede and Enschede about 0.5"; NOS 2020: "shortest Rijssen-Holten 8 months"
    ("twente", REG, "all", "fit", "2022", 0.5, 1, "GM0153"),
    ("twente", REG, "all", "holdout", "2020", 8, 1 / 12, "GM1742"),
]

# The tolerance rule of TARGETS.md: base by confidence, +0.10 for waiting and search times.
BASE_TOLERANCE = {"A": 0.05, "B": 0.10, "C": 0.20}
TIMES = {"registration_time_at_letting_years", "search_time_at_letting_years"}


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return targets()


def test_every_row_has_source_year_and_confidence(table):
    assert len(table) > 0
    for col in ("source", "year", "definition", "confidence", "use"):
        assert (table[col].str.len() > 0).all(), col
    assert table["confidence"].isin(["A", "B", "C"]).all()
    assert table["year"].str[:4].astype(int).between(2000, 2026).all()
    # a section of the domain reference, or the woonsim issue that gives the figure
    cited = table["source"].str.contains(r"\[(?:facts §\d|woonsim issue \d+\])", regex=True)
    assert cited.all()
    # a figure taken from an issue, not from a retrieved source, is confidence C
    from_issue = ~table["source"].str.contains(r"\[facts §\d", regex=True)
    assert (table.loc[from_issue, "confidence"] == "C").all()
    assert set(table["measure"]) <= set(MEASURES)


def test_each_region_has_fit_and_holdout(table):
    assert set(table["region"]) == set(REGIONS)
    for region in REGIONS:
        uses = set(targets(region)["use"])
        assert {"fit", "holdout"} <= uses, region


def test_region_codes_exist():
    known = set(data.municipalities()["code"])
    for region, codes in REGIONS.items():
        assert len(codes) == len(set(codes)), region
        assert set(codes) <= known, (region, sorted(set(codes) - known))
    assert set(REGIONS["haaglanden"]) == HAAGLANDEN
    assert len(REGIONS["amsterdam"]) == 14  # §2b "Regio Amsterdam (14 municipalities)"
    seen: set[str] = set()
    for codes in REGIONS.values():
        assert not seen & set(codes)  # regions do not overlap
        seen |= set(codes)


def test_area_codes_exist_and_lie_in_their_region(table):
    known = set(data.municipalities()["code"])
    for _, r in table[table["area"] != ""].iterrows():
        codes = set(r["area"].split(";"))
        assert codes <= known and codes <= set(REGIONS[r["region"]]), r["area"]


@pytest.mark.parametrize(
    ("region", "measure", "group", "use", "year", "figure", "factor", "area"), REFERENCE
)
def test_values_equal_the_reference(table, region, measure, group, use, year, figure, factor, area):
    sel = table[
        (table["region"] == region)
        & (table["measure"] == measure)
        & (table["group"] == group)
        & (table["year"] == year)
        & (table["area"] == area)
        & (table["use"] == use)
    ]
    assert len(sel) == 1, (region, measure, group, year)
    assert sel["value"].iloc[0] == pytest.approx(figure * factor, abs=5e-4)
    if factor != 1:  # a converted figure says how
        assert sel["derivation"].iloc[0] != ""


def test_lower_and_upper_bounds(table):
    # "more than 170,000" (§3b) is a lower bound; "almost 9 yrs" (§3a) an upper bound
    ams = table[table["region"] == "amsterdam"].set_index(["measure", "year"])
    assert ams.loc[("active_seekers", "2024/25"), "low"] == 170_000
    assert math.isnan(ams.loc[("active_seekers", "2024/25"), "high"])
    assert ams.loc[("registration_time_at_letting_years", "2018"), "high"] == 9


def test_tolerance_rule(table):
    for _, r in table.iterrows():
        floor = BASE_TOLERANCE[r["confidence"]] + (0.10 if r["measure"] in TIMES else 0.0)
        assert floor - 1e-9 <= r["tolerance"] <= 1, (r["region"], r["measure"], r["year"])


def test_acceptance_interval(table):
    iv = acceptance_interval(table)
    assert (iv["accept_low"] > 0).all() and (iv["accept_low"] < iv["accept_high"]).all()
    lettings = _first(table, region="haaglanden", measure="lettings_per_year", use="fit")
    assert iv.loc[lettings].tolist() == pytest.approx([8_159 * 0.9, 8_159 * 1.1])
    ranged = _first(table, region="amsterdam", measure="share_lettings_priority", year="2013")
    assert iv.loc[ranged].tolist() == pytest.approx([0.15 * 0.9, 0.18 * 1.1])


def test_filters():
    fit = targets("haaglanden", "fit")
    assert len(fit) > 0 and set(fit["region"]) == {"haaglanden"} and set(fit["use"]) == {"fit"}
    assert len(targets(use="holdout")) >= len(REGIONS)
    with pytest.raises(ValueError, match="unknown region"):
        targets("rotterdam")
    with pytest.raises(ValueError, match="unknown use"):
        targets(use="train")


def _first(df: pd.DataFrame, **where) -> int:
    mask = pd.Series(True, index=df.index)
    for k, v in where.items():
        mask &= df[k] == v
    return int(df.index[mask][0])


# (row selector, column, bad text, expected fragment of the message)
CORRUPTIONS = [
    ({"measure": "lettings_per_year"}, "value", "-8159", "must be positive"),
    ({"measure": "lettings_per_year"}, "value", "n/a", "not a number"),
    ({"measure": "active_seekers"}, "value", "0", "must be positive"),
    ({"measure": "slaagkans"}, "value", "12.6", "share must lie in [0, 1]"),
    ({"measure": "share_lettings_priority"}, "high", "1.8", "share must lie in [0, 1]"),
    ({"measure": "lettings_per_year"}, "low", "9000", "exceeds value"),
    ({"measure": "lettings_per_year"}, "high", "8000", "is below value"),
    ({"measure": "lettings_per_year"}, "measure", "waiting_time", "unknown measure"),
    ({"measure": "lettings_per_year"}, "region", "rotterdam", "unknown region"),
    ({"measure": "lettings_per_year"}, "source", "", "empty"),
    ({"measure": "lettings_per_year"}, "year", "", "empty"),
    ({"measure": "lettings_per_year"}, "year", "recent", "expected e.g. 2019"),
    ({"measure": "lettings_per_year"}, "confidence", "D", "must be one of A, B, C"),
    ({"measure": "lettings_per_year"}, "use", "train", "must be one of fit"),
    ({"measure": "lettings_per_year"}, "tolerance", "", "not a number"),
    ({"measure": "lettings_per_year"}, "tolerance", "1.5", "at most 1"),
    ({"region": "haaglanden"}, "area", "GM0363", "not in region haaglanden"),
]


@pytest.mark.parametrize(("where", "column", "bad", "fragment"), CORRUPTIONS)
def test_rejects_corrupted_table(tmp_path, where, column, bad, fragment):
    df = pd.read_csv(TARGETS_CSV, dtype=str, keep_default_na=False)
    i = _first(df, **where)
    df.loc[i, column] = bad
    path = tmp_path / "targets.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ValueError) as err:
        targets(path=path)
    msg = str(err.value)
    assert "\n" not in msg
    assert f"row {i + 1} " in msg and f"column '{column}'" in msg and fragment in msg, msg


def test_rejects_missing_column(tmp_path):
    df = pd.read_csv(TARGETS_CSV, dtype=str, keep_default_na=False).drop(columns="source")
    path = tmp_path / "targets.csv"
    df.to_csv(path, index=False)
    with pytest.raises(ValueError, match="missing column"):
        targets(path=path)


def test_committed_table_round_trips(tmp_path):
    # an unmodified copy loads identically through the `path` argument
    path = tmp_path / "copy.csv"
    path.write_bytes(TARGETS_CSV.read_bytes())
    pd.testing.assert_frame_equal(targets(path=path), targets())
