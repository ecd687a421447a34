"""Derive the calibration tables from the verbatim copies in calibration_data/raw/.

Usage: python calibration_data/build.py [OUTPUT_DIR]   (default: calibration_data/)

Writes municipalities_2025.csv, national_2025.json and taakstelling_statushouders.csv.
Reads only raw/, never the shared source collection. Standard library only, so the output is
byte-for-byte the same on every run and does not depend on a pandas version. Every cross-check
below stops the build with a message if the raw data do not behave as PROVENANCE.md says.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
RAW = HERE / "raw"
CBS = RAW / "cbs_82900NED_woningvoorraad_eigendom"
KWB = RAW / "cbs_kwb_gemeenten_2022_2024"

YEARS = (2019, 2024, 2025)
N_MUNICIPALITIES = 342

# ASSUMPTION (general knowledge of the CBS municipal division, "Gemeentelijke indeling"): the
# municipalities that disappeared between 1 Jan 2019 and 1 Jan 2025 and where their territory
# went. `first_year` is the first 1 January on which 82900NED shows the new division; it is
# checked against the data in check_boundary_changes(), as is completeness of this list.
MERGERS = (  # (successor code, successor name, first_year, date, predecessor labels in 82900NED)
    ("GM1979", "Eemsdelta", 2021, "1-1-2021", ("Appingedam", "Delfzijl", "Loppersum")),
    ("GM0439", "Purmerend", 2022, "1-1-2022", ("Beemster",)),
    ("GM1980", "Dijk en Waard", 2022, "1-1-2022", ("Heerhugowaard", "Langedijk")),
    (
        "GM1982",
        "Land van Cuijk",
        2022,
        "1-1-2022",
        ("Boxmeer", "Cuijk", "Grave", "Mill en Sint Hubert", "Sint Anthonis"),
    ),
    ("GM1991", "Maashorst", 2022, "1-1-2022", ("Landerd", "Uden")),
    ("GM0363", "Amsterdam", 2023, "24-3-2022", ("Weesp",)),
    ("GM1992", "Voorne aan Zee", 2023, "1-1-2023", ("Brielle", "Hellevoetsluis", "Westvoorne")),
)
# Haaren was dissolved on 1-1-2021 and split over four municipalities (ASSUMPTION, as above);
# its stock cannot be allocated to them from 82900NED.
SPLIT_LABEL, SPLIT_YEAR = "Haaren", 2021
SPLIT_TO = (
    ("GM0757", "Boxtel"),
    ("GM0824", "Oisterwijk"),
    ("GM0865", "Vught"),
    ("GM0855", "Tilburg"),
)

# KoppelCodes.csv spells four province names differently from CBS (82900NED labels).
PROVINCE_SPELLING = {"Friesland": "Fryslân", "Noord Holland": "Noord-Holland"}
PROVINCE_SPELLING |= {"Zuid Holland": "Zuid-Holland", "Noord Brabant": "Noord-Brabant"}

COLUMNS = (
    "code",
    "name",
    "corop_code",
    "corop_name",
    "province_code",
    "province",
    "population_2024",
    "households_2024",
    "avg_household_size_2024",
    "pct_one_person_households_2024",
    "pct_households_with_children_2024",
    "dwellings_2025",
    "owner_occupied_2025",
    "rented_2025",
    "corporation_2025",
    "other_landlord_2025",
    "ownership_unknown_2025",
    "corporation_2024",
    "corporation_2019",
    "corporation_share_2025",
    "pct_single_family_2023",
    "pct_low_income_households_2022",
    "notes",
)


class BuildError(RuntimeError):
    """A cross-check on the raw data failed."""


def check(ok: bool, msg: str) -> None:
    if not ok:
        raise BuildError(msg)


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f, delimiter=delimiter))


def is_region_label(label: str) -> bool:
    return label == "Nederland" or label.endswith((" (LD)", " (PV)", " (CR)"))


# --- 82900NED --------------------------------------------------------------------------------


def load_82900ned() -> dict[tuple[str, int], tuple[int, ...]]:
    """(RegioS label, year) -> six counts, status 'Totaal'; years without values are absent."""
    out = {}
    for r in read_csv(CBS / "82900NED_2019-2025.csv"):
        if r["StatusVanBewoning"] != "Totaal" or r["TotaleWoningvoorraad_1"] == "":
            continue
        cols = list(r.values())[4:10]
        vals = tuple(int(float(v)) for v in cols)
        check(all(float(v) == int(float(v)) for v in cols), f"non-integer count: {r}")
        out[(r["RegioS"], int(r["Perioden"]))] = vals
    for (label, year), v in out.items():
        total, koop, huur, corp, overig, onbekend = v
        check(total == koop + huur + onbekend and huur == corp + overig, f"{label} {year}: {v}")
    return out


def load_tidy(label_of: dict[str, str], ned) -> dict[tuple[str, int], tuple[int, ...]]:
    """(GM code, year) -> six counts from the tidy extract; cross-checked against 82900NED."""
    out = {}
    for r in read_csv(CBS / "82900NED_gemeenten2025_2019-2025.csv"):
        key = (r["gemeentecode"], int(r["jaar"]))
        vals = tuple(int(r[c]) for c in list(r)[4:10])
        if r["status_bewoning"] == "Totaal":
            out[key] = vals
    for (code, year), vals in out.items():
        check(ned.get((label_of[code], year)) == vals, f"tidy extract != 82900NED: {code} {year}")
    code_of = {lab: c for c, lab in label_of.items()}
    for label, year in ned:
        check(label not in code_of or (code_of[label], year) in out, f"tidy lacks {label} {year}")
    return out


# --- regions -----------------------------------------------------------------------------------


def load_regions(ned) -> tuple[dict[str, dict[str, str]], dict[str, str]]:
    """Per GM code: name, 82900NED label, COROP and province. Also returns PV code -> name."""
    xwalk = read_csv(CBS / "gemeente_label_to_gmcode_2025.csv")
    munis = {
        r["gemeentecode"]: {"name": r["gemeentenaam"], "label": r["RegioS_label_82900NED"]}
        for r in xwalk
    }
    check(len(munis) == len(xwalk) == N_MUNICIPALITIES, "crosswalk is not 342 unique codes")

    corop = {}
    for r in read_csv(RAW / "woningwaardering_corop_wws" / "corop.generated.csv"):
        code = "GM" + r["Gemeentecode"]
        entry = (r["Gemeente"], "CR" + r["COROP-gebiedcode"], r["COROP-gebied"])
        check(corop.setdefault(code, entry) == entry, f"{code} maps to two COROP areas")
    check(set(corop) == set(munis), "COROP mapping and crosswalk differ in codes")
    for code, (name, cr_code, cr_name) in corop.items():
        check(name == munis[code]["name"], f"name differs: {code} {name}")
        check((cr_name + " (CR)", 2025) in ned, f"COROP {cr_name} not in 82900NED")
        munis[code].update(corop_code=cr_code, corop_name=cr_name)

    pv_labels = {lab[: -len(" (PV)")] for lab, _ in ned if lab.endswith(" (PV)")}
    provinces: dict[str, str] = {}
    rows = read_csv(RAW / "geo_gemeenten_provincies_wgs84" / "KoppelCodes.csv", delimiter=";")
    check({r["gemeentCode"] for r in rows} == set(munis), "KoppelCodes and crosswalk differ")
    for r in rows:
        name = PROVINCE_SPELLING.get(r["Provincie"], r["Provincie"])
        check(name in pv_labels, f"province {r['Provincie']!r} not in 82900NED")
        check(provinces.setdefault(r["provincieCode"], name) == name, "PV code with two names")
        munis[r["gemeentCode"]].update(province_code=r["provincieCode"], province=name)
    check(len(provinces) == 12, "not 12 provinces")

    nest = defaultdict(set)
    for m in munis.values():
        nest[m["corop_code"]].add(m["province_code"])
    check(len(nest) == 40 and all(len(p) == 1 for p in nest.values()), "COROP not nested in PV")

    geo = json.loads((RAW / "geo_gemeenten_2025_rd" / "gemeenten_2025_rd.geojson").read_bytes())
    geo_codes = {"GM" + f["properties"]["c"] for f in geo["features"]} - {"GM0998"}
    check(geo_codes == set(munis), "boundary file and crosswalk differ in codes")
    return munis, provinces


def check_boundary_changes(ned, munis) -> None:
    """MERGERS and the Haaren split are exactly the municipalities that vanished since 2019."""
    labels = {lab for lab, _ in ned if not is_region_label(lab)}
    gone = {lab for lab in labels if (lab, 2019) in ned and (lab, 2025) not in ned}
    listed = {p for *_, preds in MERGERS for p in preds} | {SPLIT_LABEL}
    check(gone == listed, f"vanished since 2019 per 82900NED {sorted(gone)} != {sorted(listed)}")
    current = {m["label"] for m in munis.values()}
    check(all((lab, 2024) in ned for lab in current), "a 2025 municipality lacks 2024 values")
    check(not any((lab, 2024) in ned for lab in gone), "a change between 2024 and 2025")
    for code, _name, year, _date, preds in MERGERS:
        label = munis[code]["label"]
        for p in preds:
            check((p, year - 1) in ned and (p, year) not in ned, f"{p}: not merged in {year}")
        before = sum(ned[(p, year - 1)][0] for p in preds) + ned.get((label, year - 1), (0,))[0]
        after = ned[(label, year)][0]
        check(abs(after / before - 1) < 0.03, f"{label} {year}: {after} vs {before} before")
    check((SPLIT_LABEL, SPLIT_YEAR - 1) in ned and (SPLIT_LABEL, SPLIT_YEAR) not in ned, "Haaren")
    jump = sum(
        ned[(munis[c]["label"], SPLIT_YEAR)][0] - ned[(munis[c]["label"], SPLIT_YEAR - 1)][0]
        for c, _ in SPLIT_TO[:3]
    )  # Tilburg's share is too small to see in its growth
    ratio = jump / ned[(SPLIT_LABEL, SPLIT_YEAR - 1)][0]
    check(0.8 < ratio < 1.15, f"Haaren split not visible in Boxtel/Oisterwijk/Vught ({ratio:.2f})")


# --- KWB -------------------------------------------------------------------------------------


def load_kwb() -> dict[int, dict[str, dict[str, str]]]:
    return {
        y: {r["gemeentecode"]: r for r in read_csv(KWB / f"kwb_gemeenten_{y}.csv")}
        for y in (2022, 2023, 2024)
    }


def kwb_value(kwb, code: str, field: str, notes: list[str]) -> str:
    """KWB 2024 value; falls back to the newest older edition that has it (and says so)."""
    for year in (2024, 2023, 2022):
        value = kwb[year].get(code, {}).get(field, "")
        if value != "":
            if year != 2024:
                notes.append(f"{field}: KWB {year} value (missing in KWB 2024)")
            return value
    notes.append(f"{field}: missing in KWB 2022-2024")
    return ""


def low_income_2022(kwb, munis) -> dict[str, tuple[str, str]]:
    """KWB 2022 pct_hh_laag_inkomen on the 2025 territory: code -> (value, note)."""
    k22 = kwb[2022]
    by_name = {r["gemeentenaam"]: c for c, r in k22.items()}
    extra = set(k22) - set(munis)
    merged_after_kwb = [(c, n, d, preds) for c, n, y, d, preds in MERGERS if y >= 2023]
    pred_codes = {by_name.get(p) for *_, preds in merged_after_kwb for p in preds}
    check(extra == pred_codes, f"KWB 2022 codes outside 2025 {sorted(extra)} != predecessors")
    check(set(munis) - set(k22) == {c for c, *_ in merged_after_kwb} - set(k22), "KWB 2022 set")
    out = {c: (k22[c]["pct_hh_laag_inkomen"], "") for c in munis if c in k22}
    for code, name, date, preds in merged_after_kwb:
        parts = ([code] if code in k22 else []) + [by_name[p] for p in preds]
        hh = [int(k22[p]["huishoudens"]) for p in parts]
        pct = [int(k22[p]["pct_hh_laag_inkomen"]) for p in parts]
        value = sum(h * p for h, p in zip(hh, pct, strict=True)) / sum(hh)
        names = ", ".join(f"{k22[p]['gemeentenaam']} {p}" for p in parts)
        note = (
            f"pct_low_income_households_2022: mean of KWB 2022 {names} weighted by KWB 2022 "
            f"households (merged into {name} on {date}), inputs whole percent"
        )
        out[code] = (f"{value:.1f}", note)
    return out


# --- build -----------------------------------------------------------------------------------


def build_municipalities(ned, tidy, munis, kwb) -> list[dict[str, str]]:
    low_income = low_income_2022(kwb, munis)
    newest_sf = max(y for y in kwb if "pct_eengezins" in next(iter(kwb[y].values())))
    check(newest_sf == 2023, f"newest KWB with pct_eengezins is {newest_sf}; rename the column")
    merged_into = {code: (name, date, preds) for code, name, _y, date, preds in MERGERS}
    split_to = dict(SPLIT_TO)

    rows = []
    for code in sorted(munis):
        m, notes = munis[code], []
        k24 = kwb[2024][code]
        check(k24["gemeentenaam"] == m["name"], f"KWB 2024 name differs for {code}")
        v25, v24 = tidy[(code, 2025)], tidy[(code, 2024)]

        own_2019 = tidy.get((code, 2019))
        corp_2019 = own_2019[3] if own_2019 else 0
        if code in merged_into:
            name, date, preds = merged_into[code]
            corp_2019 += sum(ned[(p, 2019)][3] for p in preds)
            parts = ", ".join(([m["label"]] if own_2019 else []) + list(preds))
            notes.append(
                f"corporation_2019: sum of the 1-1-2019 values of {parts} "
                f"(merged into {name} on {date}), i.e. on the 2025 territory"
            )
        elif code in split_to:
            notes.append(
                f"corporation_2019: excludes the part of Haaren added on 1-1-2021 "
                f"(Haaren was split over {', '.join(n for _, n in SPLIT_TO)})"
            )
        check(own_2019 is not None or code in merged_into, f"{code}: no 2019 value")

        li_value, li_note = low_income[code]
        rows.append(
            {
                "code": code,
                "name": m["name"],
                "corop_code": m["corop_code"],
                "corop_name": m["corop_name"],
                "province_code": m["province_code"],
                "province": m["province"],
                "population_2024": str(int(k24["aantal_inwoners"])),
                "households_2024": str(int(k24["huishoudens"])),
                "avg_household_size_2024": f"{float(k24['gem_huishouden_grootte']):.1f}",
                "pct_one_person_households_2024": kwb_value(kwb, code, "pct_eenpersoonshhd", notes),
                "pct_households_with_children_2024": kwb_value(
                    kwb, code, "pct_hhd_met_kind", notes
                ),
                "dwellings_2025": str(v25[0]),
                "owner_occupied_2025": str(v25[1]),
                "rented_2025": str(v25[2]),
                "corporation_2025": str(v25[3]),
                "other_landlord_2025": str(v25[4]),
                "ownership_unknown_2025": str(v25[5]),
                "corporation_2024": str(v24[3]),
                "corporation_2019": str(corp_2019),
                "corporation_share_2025": f"{v25[3] / v25[0]:.4f}",
                "pct_single_family_2023": kwb[2023][code]["pct_eengezins"],
                "pct_low_income_households_2022": li_value,
                "notes": "; ".join([*notes, li_note] if li_note else notes),
            }
        )
    return rows


def build_national(ned, tidy, munis, provinces, rows) -> dict:
    nl = {y: ned[("Nederland", y)] for y in YEARS}
    sums = {
        y: [sum(tidy[(c, y)][i] for c in munis if (c, y) in tidy) for i in range(6)] for y in YEARS
    }
    names = (
        "dwellings",
        "owner_occupied",
        "rented",
        "corporation",
        "other_landlord",
        "ownership_unknown",
    )
    nl_2025 = dict(zip(names, nl[2025], strict=True))
    sum_2025 = dict(zip(names, sums[2025], strict=True))
    match_2025 = nl_2025 == sum_2025
    check(match_2025 and list(nl[2024]) == sums[2024], "municipal sums != Nederland")

    def region_sums(key: str, suffix: str, name_of) -> tuple[int, int]:
        groups = defaultdict(lambda: [0] * 6)
        for code, m in munis.items():
            for i, v in enumerate(tidy[(code, 2025)]):
                groups[m[key]][i] += v
        ok = sum(list(ned[(name_of(g) + suffix, 2025)]) == s for g, s in groups.items())
        return ok, len(groups)

    pv_ok, n_pv = region_sums("province_code", " (PV)", provinces.__getitem__)
    cr_names = {m["corop_code"]: m["corop_name"] for m in munis.values()}
    cr_ok, n_cr = region_sums("corop_code", " (CR)", cr_names.__getitem__)
    check(pv_ok == n_pv == 12 and cr_ok == n_cr == 40, "province/COROP sums != 82900NED")

    corp_2019 = sum(int(r["corporation_2019"]) for r in rows)
    haaren = ned[(SPLIT_LABEL, 2019)][3]
    check(corp_2019 + haaren == nl[2019][3], "corporation_2019 + Haaren != Nederland 2019")
    pop = sum(int(r["population_2024"]) for r in rows)
    hh = sum(int(r["households_2024"]) for r in rows)
    return {
        "description": "National dwelling stock by ownership on 1 January 2025 (82900NED row "
        "'Nederland', status 'Totaal') and the check that the 342 municipalities add up to it.",
        "source": "CBS StatLine 82900NED 'Voorraad woningen; eigendom, type verhuurder, "
        "bewoning, regio'; Bron: CBS (CC BY 4.0)",
        "raw_file": "raw/cbs_82900NED_woningvoorraad_eigendom/82900NED_2019-2025.csv",
        "reference_date": "2025-01-01",
        "nederland_2025": nl_2025,
        "corporation_share_2025": round(nl_2025["corporation"] / nl_2025["dwellings"], 4),
        "nederland_corporation_2024": nl[2024][3],
        "nederland_corporation_2019": nl[2019][3],
        "municipalities": len(rows),
        "sum_of_municipalities_2025": sum_2025,
        "sums_match_exactly": match_2025,
        "checks": {
            "all_six_counts_2024_sum_to_nederland": True,
            "provinces_2025_sum_exactly": f"{pv_ok}/{n_pv}",
            "corop_2025_sum_exactly": f"{cr_ok}/{n_cr}",
            "corporation_2019_plus_haaren_equals_nederland_2019": True,
            "haaren_corporation_2019_not_allocated": haaren,
            "tidy_extract_equals_82900NED_2019_2025": True,
        },
        "population_2024": pop,
        "households_2024": hh,
        "population_households_source": "sum of the 342 municipal rows of CBS Kerncijfers "
        "wijken en buurten 2024 (aantal_inwoners, huishoudens; 1 January 2024); Bron: CBS",
    }


def build_taakstelling() -> list[dict[str, str]]:
    raw = RAW / "taakstelling_statushouders_landelijk" / "taakstelling_landelijk_halfjaar.csv"
    out = []
    for r in read_csv(raw):
        year, half = r["periode"].split("-H")
        check(half in ("1", "2") and r["landelijke_taakstelling"].isdigit(), f"bad row {r}")
        out.append(
            {
                "period": r["periode"],
                "year": year,
                "half": half,
                "start_date": f"{year}-01-01" if half == "1" else f"{year}-07-01",
                "end_date": f"{year}-06-30" if half == "1" else f"{year}-12-31",
                "national_task_persons": r["landelijke_taakstelling"],
                "status": r["status"],
                "note": r["toelichting"],
                "source_url": r["bron_url"],
                "source_date": r["bron_datum"],
            }
        )
    return sorted(out, key=lambda r: r["period"])


def write_csv(path: Path, rows: list[dict[str, str]], columns) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    path.write_text(buf.getvalue(), encoding="utf-8", newline="")


def main(out_dir: Path = HERE) -> None:
    ned = load_82900ned()
    munis, provinces = load_regions(ned)
    label_of = {c: m["label"] for c, m in munis.items()}
    tidy = load_tidy(label_of, ned)
    check_boundary_changes(ned, munis)
    kwb = load_kwb()
    for y in (2023, 2024):
        check(set(kwb[y]) == set(munis), f"KWB {y} is not the 2025 division")

    rows = build_municipalities(ned, tidy, munis, kwb)
    check(len(rows) == N_MUNICIPALITIES, "not 342 rows")
    national = build_national(ned, tidy, munis, provinces, rows)
    taak = build_taakstelling()

    out_dir.mkdir(parents=True, exist_ok=True)
    write_csv(out_dir / "municipalities_2025.csv", rows, COLUMNS)
    text = json.dumps(national, indent=2, ensure_ascii=False) + "\n"
    (out_dir / "national_2025.json").write_text(text, encoding="utf-8", newline="")
    write_csv(out_dir / "taakstelling_statushouders.csv", taak, taak[0].keys())
    print(
        f"wrote {len(rows)} municipalities, national totals, {len(taak)} taakstelling rows "
        f"to {out_dir}"
    )


if __name__ == "__main__":
    try:
        main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
    except BuildError as exc:
        sys.exit(f"build.py: {exc}")
