"""Every invariant of a regional run fails when its error is planted (issue 16): each test
corrupts one part of a finished run's records and checks that `check_invariants` (or the
output-range checks) raises `InvariantError` naming that invariant. The honest run passes
the same checks first, so no test passes for a run that always fails."""

from __future__ import annotations

import copy

import numpy as np
import pyarrow as pa
import pytest
from conftest import REPO

from woonsim import InvariantError, load_scenario, parse_scenario, run
from woonsim.measures import check_ranges, run_measures
from woonsim.region.cells import KINDS, ROUTES
from woonsim.region.results import RegionResult
from woonsim.results import check_shares

TINY = REPO / "tests" / "data" / "tiny_region.yaml"
PARTS = ("munis", "seekers", "vacancies", "stock", "taakstelling")


def _scenario(**alloc):
    d = load_scenario(TINY).model_dump(mode="json")
    d["allocation"].update(alloc)
    return parse_scenario(d)


@pytest.fixture(scope="module")
def honest() -> RegionResult:
    return run(_scenario(), 5)


@pytest.fixture(scope="module")
def capped() -> RegionResult:
    return run(_scenario(quota={"share": 0.3, "mode": "cap"}), 5)


def planted(result: RegionResult) -> RegionResult:
    """A deep copy of a run's parts, to corrupt."""
    return copy.deepcopy(result)


def recheck(r: RegionResult, spec=None) -> None:
    RegionResult.from_parts(
        spec=spec or r.spec, seed=r.seed, now=r.horizon, **{k: getattr(r, k) for k in PARTS}
    ).check_invariants()


def lettings(r: RegionResult):
    """(vacancies let, their tenants, the tenants' routes)."""
    v = np.flatnonzero(r.vacancies.let_to[: r.vacancies.n] >= 0)
    s = r.vacancies.let_to[v]
    return v, s, r.seekers.route[s]


def test_the_honest_runs_pass(honest, capped):
    recheck(planted(honest))
    recheck(planted(capped))
    run_measures(honest)
    check_shares(honest.summary())


def test_negative_stock(honest):
    r = planted(honest)
    r.stock.occupied[0] -= r.stock.occupied[0] + 1
    with pytest.raises(InvariantError, match="negative occupied or vacant stock"):
        recheck(r)


def test_negative_stock_during_the_run():
    """Checked at every year start, not only at the end."""
    from woonsim.region.market import RegionalMarket

    m = RegionalMarket(_scenario(), 5)
    m.advance(10)
    m.stock.vacant[0] = -1
    with pytest.raises(InvariantError, match=r"negative .* stock at the start of year 1"):
        m.run()


@pytest.mark.parametrize("year", ["first", "last"])
def test_stock_accounting_in_every_year_including_the_last(honest, year):
    r = planted(honest)
    y = 0 if year == "first" else int(np.ceil(r.horizon)) - 1
    r.stock.built[y, 1] += 1  # a completion counted that never entered the stock
    with pytest.raises(InvariantError, match=f"stock accounting fails in year index {y} in "):
        recheck(r)


def test_vacancy_ledger_against_the_counters(honest):
    r = planted(honest)
    c = int(np.flatnonzero(r.stock.occupied > 0)[0])
    r.stock.occupied[c] -= 1  # one dwelling counted vacant, no vacancy in the ledger
    r.stock.vacant[c] += 1
    with pytest.raises(InvariantError, match=r"vacancy ledger: .* open vacancies, but the stock"):
        recheck(r)


def test_open_list_against_the_ledger(honest):
    r = planted(honest)
    v, _, _ = lettings(r)
    r.vacancies.open.append(int(v[0]))  # a let vacancy still offered
    with pytest.raises(InvariantError, match="open list and the open rows differ"):
        recheck(r)


def test_flow_conservation_per_group(honest):
    """A waiting household of one group leaves the lists and a housed one of another
    group is back on them: the total still adds up, each group does not."""
    r = planted(honest)
    sk = r.seekers
    waiting = np.flatnonzero((sk.arrival <= r.horizon) & ~sk.housed & (sk.deadline > r.horizon))
    a = waiting[0]
    _, s, _ = lettings(r)
    b = s[sk.group[s] != sk.group[a]][0]
    sk.housed[a], sk.housed[b] = True, False
    group = r.spec.groups[int(min(sk.group[a], sk.group[b]))].name
    with pytest.raises(InvariantError, match=f"flow conservation, group '{group}'"):
        recheck(r)


def test_no_double_letting(honest):
    r = planted(honest)
    v, s, _ = lettings(r)
    r.vacancies.let_to[v[1]] = s[0]
    with pytest.raises(InvariantError, match="housed twice"):
        recheck(r)


def test_every_letting_traced_to_one_vacancy(honest):
    r = planted(honest)
    v, s, _ = lettings(r)
    r.seekers.dwelling[s[0]] = v[1]
    with pytest.raises(InvariantError, match="do not trace one-to-one"):
        recheck(r)


def test_binding_offers_only_to_urgent_households(honest):
    r = planted(honest)
    _, s, route = lettings(r)
    regular = s[(r.seekers.kind[s] == KINDS["regular"]) & (route == 0)][0]
    r.seekers.route[regular] = ROUTES.index("binding")
    with pytest.raises(InvariantError, match=r"binding offer \(binding\) went to a group"):
        recheck(r)


def test_lottery_lettings_only_on_lottery_adverts(honest):
    r = planted(honest)
    v, s, route = lettings(r)
    ranked = (route == 0) & ~r.vacancies.lottery[v]
    r.seekers.route[s[ranked][0]] = ROUTES.index("lottery")
    with pytest.raises(InvariantError, match="lottery letting on a ranked advert"):
        recheck(r)


def test_designations_respected_under_a_cap(capped):
    r = planted(capped)
    v, _, route = lettings(r)
    priority = v[route >= ROUTES.index("binding")]
    assert r.vacancies.designated[priority].all()  # as the cap promises
    r.vacancies.designated[priority[0]] = False
    with pytest.raises(InvariantError, match="quota cap: a priority route took a vacancy"):
        recheck(r)


def test_budgets_respected(honest):
    """The records against a budget smaller than the one the run had."""
    r = planted(honest)
    _, _, route = lettings(r)
    assert (route == ROUTES.index("contingent")).any()
    d = r.spec.model_dump(mode="json")
    d["allocation"]["contingent_per_1000_social"] = 0.0
    d["allocation"]["contingent_dwellings"] = None
    with pytest.raises(InvariantError, match="contingent budget of GM"):
        recheck(r, parse_scenario(d))


def test_statushouder_bookkeeping_against_the_lettings(honest):
    r = planted(honest)
    r.taakstelling.housed[3, 0] += 1
    with pytest.raises(InvariantError, match="statushouder bookkeeping"):
        recheck(r)


def test_output_ranges(honest):
    s = honest.summary()
    check_shares(s)
    bad = copy.deepcopy(s)
    bad["region"]["slaagkans"] = 1.2
    with pytest.raises(InvariantError, match=r"region\.slaagkans = 1\.2 is not within \[0, 1\]"):
        check_shares(bad)
    bad = copy.deepcopy(s)
    next(iter(bad["groups"].values()))["p_housed"] = -0.1
    with pytest.raises(InvariantError, match=r"p_housed = -0\.1"):
        check_shares(bad)
    table = run_measures(honest)
    values = table.column("value").to_numpy(zero_copy_only=False).copy()
    i = table.column("measure").to_pylist().index("share_of_lettings")
    values[i] = 1.5
    with pytest.raises(InvariantError, match=r"output range: share_of_lettings"):
        check_ranges(table.set_column(4, "value", pa.array(values)))
    values[i] = np.inf
    with pytest.raises(InvariantError, match="output range"):
        check_ranges(table.set_column(4, "value", pa.array(values)))
