"""The lettings norm as the programme means it: a share of new lettings to
aandachtsgroepen, per municipality and calendar year (`quota.basis: lettings`). Pass rule:
in every municipality and reported year with at least 50 lettings, a floor's realised
share is at least the norm less 1 point and 2 lettings (the rule designates whole
vacancies, and vacancies open at a year's end count in the next), and over the region
it is at least the norm less 1.5 points and at most 1.5 points above the larger of the
norm and, per municipality and year, current practice's own share with the same seed (a
floor is exceeded where current practice alone exceeds it, but designation adds nothing
on top); a cap is never
exceeded by more than 2 points and 2 lettings. Designating the same share of vacancies
at random (`basis: vacancies`) is a different policy, and the test shows it lands
elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import REPO

from woonsim.region.taakstelling import period_of
from woonsim.scenario import load_scenario, parse_scenario
from woonsim.simulate import run

MUNIS = ["GM0503", "GM1842", "GM1783"]  # Delft, Midden-Delfland, Westland


def _scenario(quota):
    d = load_scenario(REPO / "experiments" / "scenarios" / "haaglanden.yaml").model_dump(
        mode="python"
    )
    d.update(municipalities=MUNIS, burn_in_years=3.0, years=4.0)
    d["allocation"]["quota"] = quota
    # the rule is tested with fixed acceptance chances (no `choice`), where aandachtsgroepen
    # take what they are offered: with choice, households that refuse designated offers
    # can leave a floor short, a behavioural outcome that the experiments report
    d["choice"] = None
    return parse_scenario(d)


def _shares(quota, seed=3):
    """(municipality, reported year) -> (aandachtsgroep share, lettings)."""
    r = run(_scenario(quota), seed)
    v = r.vac
    let = v["let_to"] >= 0
    year = period_of(np.where(let, v["let_time"], -1.0), 1)
    aandacht = r.seekers.aandacht[np.where(let, v["let_to"], 0)]
    out = {}
    y0 = round(r.spec.burn_in_years)
    for i in range(len(MUNIS)):
        for y in range(y0, y0 + 4):
            sel = let & (v["muni"] == i) & (year == y)
            out[(MUNIS[i], y)] = (float(aandacht[sel].mean()), int(sel.sum()))
    return out


def _total(shares) -> float:
    return sum(x * n for x, n in shares.values()) / sum(n for _, n in shares.values())


@pytest.mark.parametrize("share", [0.30, 0.35])
def test_a_floor_norm_delivers_its_share_of_lettings(share):
    shares = _shares({"share": share, "mode": "floor", "basis": "lettings"})
    current = _shares({"share": 0.0, "mode": "none"})
    for key, (x, n) in shares.items():
        if n >= 50:
            assert x >= share - 0.01 - 2 / n, (key, x, n)
    total = _total(shares)
    # what the floor may reach: the norm, or current practice where it is above the norm
    reach = _total({k: (max(share, current[k][0]), n) for k, (_, n) in shares.items()})
    assert share - 0.015 <= total <= reach + 0.015, (total, reach)


def test_a_cap_norm_holds_aandachtsgroepen_to_it():
    for key, (x, n) in _shares({"share": 0.20, "mode": "cap", "basis": "lettings"}).items():
        if n >= 50:
            assert x <= 0.20 + 0.02 + 2 / n, (key, x, n)
            assert x >= 0.20 - 0.05, (key, x, n)  # and does not fall far below it


def test_a_region_scope_norm_is_counted_over_the_region():
    """`scope: region`: in every reported year with at least 150 lettings the region's
    share is at least the norm less 1 point and 2 lettings, while municipalities are not
    each held to it: the lowest municipality-year share is below the lowest under the
    municipality rule with the same seed."""
    norm = {"share": 0.35, "mode": "floor", "basis": "lettings"}
    region = _shares({**norm, "scope": "region"})
    for y in sorted({y for _, y in region}):
        year = {k: v for k, v in region.items() if k[1] == y}
        n = sum(m for _, m in year.values())
        if n >= 150:
            assert _total(year) >= 0.35 - 0.01 - 2 / n, (y, _total(year), n)
    per_muni = _shares(norm)
    lowest = min(x for x, n in region.values() if n >= 50)
    assert lowest < min(x for x, n in per_muni.values() if n >= 50)


def test_a_region_scope_norm_needs_one_share_and_the_lettings_basis():
    from woonsim.errors import ScenarioError

    for quota, field in (
        ({"share": 0.3, "mode": "floor", "basis": "vacancies", "scope": "region"}, "basis"),
        ({"share": {MUNIS[0]: 0.3}, "mode": "floor", "basis": "lettings", "scope": "region"},
         "mapping"),
    ):  # fmt: skip
        with pytest.raises(ScenarioError, match=field):
            _scenario(quota)


def test_designating_vacancies_is_not_the_norm():
    """30% of vacancies designated adds to current practice's direct placements: the
    aandachtsgroep share of lettings overshoots the 30% norm's (the old reading of a '30%
    floor'). Pass rule: paired over 8 seeds, the gap is positive in every replication and
    greater than 0 by a one-sided t-test at the 1% level (mean > t(0.99, 7) SE)."""
    from scipy import stats

    gaps = []
    for seed in range(3, 11):
        norm = _shares({"share": 0.30, "mode": "floor", "basis": "lettings"}, seed)
        designated = _shares({"share": 0.30, "mode": "floor", "basis": "vacancies"}, seed)
        gaps.append(_total(designated) - _total(norm))
    gaps = np.array(gaps)
    assert (gaps > 0).all(), gaps
    assert gaps.mean() > stats.t.ppf(0.99, 7) * gaps.std(ddof=1) / np.sqrt(8), gaps
