"""Sensitivity of the fits to the statistic of the published times (FITS.md): at the fitted
values, the mean and the median of each time target, 4 runs per region at the scenario's
burn-in + 10 years. Run from the repository root:
    .venv/bin/python experiments/sensitivity/statistic_of_times.py    # about 2.5 min on 2 cores
"""

from concurrent.futures import ProcessPoolExecutor

import numpy as np

from woonsim.measures import observe
from woonsim.scenario import load_scenario
from woonsim.simulate import run

CASES = {
    "haaglanden": [
        ("registration_time_at_letting_years", ()),
        ("search_time_at_letting_years", ()),
    ],
    "amsterdam": [("search_time_at_letting_years", ())],
    "twente": [
        ("registration_time_at_letting_years", ("GM0153",)),
        ("registration_time_at_letting_years", ("GM1742",)),
    ],
}


def _run(args):
    region, seed = args
    sc = load_scenario(f"experiments/scenarios/{region}.yaml").model_copy(update={"years": 10.0})
    r = run(sc, seed)
    return region, [
        (m, a, observe(r, m, "all", a, "mean"), observe(r, m, "all", a, "median"))
        for m, a in CASES[region]
    ]


def main() -> None:
    jobs = [(reg, s) for reg in CASES for s in np.random.SeedSequence(20261202).spawn(4)]
    with ProcessPoolExecutor(2) as ex:
        out = list(ex.map(_run, jobs))
    for reg in CASES:
        rows = [o for r, o in out if r == reg]
        for k, (m, a, _, _) in enumerate(rows[0]):
            mean = np.mean([x[k][2] for x in rows])
            med = np.mean([x[k][3] for x in rows])
            print(reg, m, ";".join(a), round(mean, 3), round(med, 3), f"{med / mean - 1:+.1%}")


if __name__ == "__main__":
    main()
