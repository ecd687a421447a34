"""Sensitivity of the Haaglanden patterns and of the 30% norm's cost to the assumptions of
random-utility search and of the groups' routes (docs/ODD.md §B3.7-B3.8). Each variant
changes one assumption of experiments/scenarios/haaglanden.yaml; 4 paired replications
(the same seeds for every variant) at the calibration horizon (35 + 4 years), each also
run under a 30% lettings norm (floor), so that the norm's effect on the regulier search
time is a paired difference. Run from the repository root:
    .venv/bin/python experiments/sensitivity/choice_haaglanden.py    # about 15 min on 2 cores
It prints a markdown table (FITS.md, "Sensitivity of the choice assumptions").
"""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from woonsim.measures import observe
from woonsim.paths import set_path
from woonsim.scenario import load_scenario, parse_scenario
from woonsim.simulate import run

SCENARIO = "experiments/scenarios/haaglanden.yaml"
HORIZON = {"burn_in_years": 35.0, "years": 4.0}
NORM = {"share": 0.30, "mode": "floor", "basis": "lettings"}
CORPORATION_SHARE = 0.6  # of freed dwellings, in the region's corporation stock (assumed)
FREES = {"doorstromers": 0.67, "urgent": 0.52, "statushouders": 0.17}  # CBS 2023

VARIANTS: dict[str, dict] = {
    "default": {},
    "own municipality 0.75": {"choice.own_municipality": 0.75},
    "own municipality 3.0": {"choice.own_municipality": 3.0},
    "quality sd 0.5": {"choice.quality_sd": 0.5},
    "quality sd 2.0": {"choice.quality_sd": 2.0},
    "decline 0.25/yr": {"choice.decline_per_year": 0.25},
    "decline 1.0/yr": {"choice.decline_per_year": 1.0},
    "seniority 1.0": {"choice.seniority": 1.0},
    "seniority 3.0": {"choice.seniority": 3.0},
    "not strategic": {"choice.strategic": 0.0},
    **{
        f"freed in corporation stock {c}": {
            f"groups[{g}].leaves_vacancy": round(f * c, 3) for g, f in FREES.items()
        }
        for c in (0.4, 0.8)
    },
    "own channels 50%": {
        "groups[studenten].own_channel_per_1000_households": 3.0,
        "groups[arbeidsmigranten].own_channel_per_1000_households": 2.0,
    },
    "no own channels": {
        "groups[studenten].own_channel_per_1000_households": 0.0,
        "groups[arbeidsmigranten].own_channel_per_1000_households": 0.0,
    },
}

COLUMNS = {
    "lettings/yr": lambda r: observe(r, "lettings_per_year"),
    "reg. time": lambda r: observe(r, "registration_time_at_letting_years"),
    "search time": lambda r: observe(r, "search_time_at_letting_years"),
    "refusals": lambda r: r.patterns["refusals_per_letting"],
    "lottery/regular refusals": lambda r: (
        r.patterns["refusals_per_letting_lottery"] / r.patterns["refusals_per_letting_regular"]
    ),
    "place of taker": lambda r: r.patterns["place_of_taker"],
    "lottery/regular reactions": lambda r: (
        r.patterns["reactions_per_lottery_advert"] / r.patterns["reactions_per_regular_advert"]
    ),
    "own municipality": lambda r: r.patterns["own_municipality_share"],
    "priority share": lambda r: observe(r, "share_lettings_priority"),
    "aandachtsgroep share": lambda r: r.summary()["region"]["aandachtsgroep_share_of_lettings"],
    "reception (yr)": lambda r: r.patterns["time_in_reception"],
}


def scenario(changes: dict, norm: bool):
    d = load_scenario(SCENARIO).model_dump(mode="python")
    d.update(HORIZON)
    for path, value in changes.items():
        set_path(d, path, value)
    if norm:
        d["allocation"]["quota"] = dict(NORM)
    return parse_scenario(d)


def _run(args):
    name, norm, seed = args
    r = run(scenario(VARIANTS[name], norm), seed)
    values = {c: f(r) for c, f in COLUMNS.items()}
    values["regulier search"] = observe(r, "search_time_at_letting_years", "regulier")
    return name, norm, values


def main() -> None:
    seeds = np.random.SeedSequence(20261202).spawn(4)
    jobs = [(n, norm, s) for n in VARIANTS for norm in (False, True) for s in seeds]
    out: dict[tuple[str, bool], list[dict]] = {}
    with ProcessPoolExecutor(2) as ex:
        for k, (n, norm, v) in enumerate(ex.map(_run, jobs), start=1):
            out.setdefault((n, norm), []).append(v)
            print(f"run {k}/{len(jobs)}", file=sys.stderr, flush=True)
    head = [*COLUMNS, "30% norm: Δ regulier search time (yr)"]
    print("| variant | " + " | ".join(head) + " |")
    print("|---" * (len(head) + 1) + "|")
    for n in VARIANTS:
        base, normed = out[(n, False)], out[(n, True)]
        cells = [f"{np.mean([v[c] for v in base]):.3g}" for c in COLUMNS]
        pairs = zip(base, normed, strict=True)
        d = np.array([b["regulier search"] - a["regulier search"] for a, b in pairs])
        se = d.std(ddof=1) / np.sqrt(len(d))
        cells.append(f"{d.mean():+.3f} ± {se:.3f}")
        print(f"| {n} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
