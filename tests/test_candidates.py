"""The direct channels' shortcuts (docs/ODD.md §B3.6): `candidates` rules out a cycle's
vacancies at once, and `NoTaker` remembers the cells without a taker at one instant.
Both only skip work: a run gives the same numbers with and without them, and every
vacancy ruled out has no taker by the channel's own work-conservation test."""

from __future__ import annotations

import numpy as np
import pytest
from test_golden import TINY, region_digest

from woonsim import load_scenario, parse_scenario, run
from woonsim.region.channels import BindingOffers, DirectPlacement, NoTaker


def _tight() -> object:
    """The tiny region, tightened so that every shortcut is taken: budgets that run out
    (staff and contingents), statushouders waiting for a matching dwelling, urgent
    households waiting for their binding offer."""
    spec = load_scenario(TINY).model_dump(mode="json")
    spec["burn_in_years"], spec["years"] = 2, 3
    spec["allocation"]["staff_capacity_per_1000_social"] = 3.0
    spec["allocation"]["contingent_per_1000_social"] = 1.0
    spec["allocation"]["quota"] = {"share": 0.3, "mode": "floor"}
    return parse_scenario(spec)


def _without_shortcuts(monkeypatch) -> None:
    monkeypatch.setattr(NoTaker, "known", lambda self, key, stamp: False)
    monkeypatch.delattr(DirectPlacement, "candidates")
    monkeypatch.delattr(BindingOffers, "candidates")


@pytest.mark.parametrize("scenario", ["tiny", "tight"])
def test_the_shortcuts_change_no_number(scenario, monkeypatch):
    sc = load_scenario(TINY) if scenario == "tiny" else _tight()
    fast = region_digest(run(sc, seed=np.random.SeedSequence(5)))
    _without_shortcuts(monkeypatch)
    slow = region_digest(run(sc, seed=np.random.SeedSequence(5)))
    assert fast == slow


def test_every_vacancy_ruled_out_has_no_taker(monkeypatch):
    monkeypatch.setattr(NoTaker, "known", lambda self, key, stamp: False)
    seen = {"out": 0, "in": 0}

    def checked(original):
        def candidates(self, vacancies, t):
            mask = original(self, vacancies, t)
            for v, ok in zip(vacancies, mask.tolist(), strict=True):
                if not ok:
                    assert not self.has_taker(v, t), (self.name, v, t)
                seen["in" if ok else "out"] += 1
            return mask

        return candidates

    for cls in (DirectPlacement, BindingOffers):
        monkeypatch.setattr(cls, "candidates", checked(cls.candidates))
    run(_tight(), seed=np.random.SeedSequence(6))
    # both answers occur, so the check is not vacuous
    assert seen["out"] > 100 and seen["in"] > 100, seen
