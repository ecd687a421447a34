"""A norm introduced at the end of the burn-in (`quota.start: window`), and policy
variants that share one burn-in (`RegionalMarket.fork`, the runner's task groups).

The promise tested: a forked run writes the same bytes as the run of its own (scenario,
seed) from scratch, whatever the quota, and forking leaves the model it was copied from
unchanged. Before the norm comes into force the run is current practice's, vacancy by
vacancy; after it, the norm acts."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
from conftest import REPO

from woonsim.errors import ScenarioError
from woonsim.measures import run_metrics
from woonsim.region.market import RegionalMarket
from woonsim.scenario import load_scenario, parse_scenario
from woonsim_experiments.experiment import RunSpec
from woonsim_experiments.runner import fork_groups, parquet_bytes, run_group, run_one

MUNIS = ["GM0503", "GM1842", "GM1783"]  # Delft, Midden-Delfland, Westland
BURN_IN, YEARS, SEED = 3, 2, 5
NONE = {"share": 0.0, "mode": "none", "start": "window"}
QUOTAS = [
    NONE,
    {"share": 0.3, "mode": "floor", "basis": "lettings", "start": "window"},
    {"share": 0.3, "mode": "floor", "basis": "lettings", "start": "window", "scope": "region"},
    {"share": 0.3, "mode": "ring_fenced", "basis": "vacancies", "start": "window"},
    {
        "share": 0.9,
        "mode": "floor",
        "basis": "lettings",
        "start": "window",
        "applies_to": "lagging",
    },
]


def _scenario(quota, **extra):
    d = load_scenario(REPO / "experiments" / "scenarios" / "haaglanden.yaml").model_dump(
        mode="python"
    )
    d.update(municipalities=MUNIS, burn_in_years=BURN_IN, years=YEARS, **extra)
    d["allocation"]["quota"] = quota
    return parse_scenario(d)


def _digest(result) -> str:
    return hashlib.sha256(parquet_bytes(run_metrics(result))).hexdigest()


@pytest.fixture(scope="module")
def fresh():
    return [_digest(RegionalMarket(_scenario(q), SEED).run()) for q in QUOTAS]


def test_a_forked_run_is_the_run_from_scratch(fresh):
    assert len(set(fresh)) == len(QUOTAS)  # the quotas make different runs
    base = RegionalMarket(_scenario(NONE), SEED)
    base.advance(BURN_IN * 52)
    forked = [_digest(base.fork(_scenario(q)).run()) for q in QUOTAS]
    assert forked == fresh
    assert _digest(base.run()) == fresh[0]  # the original, run on, is untouched


def test_forks_share_only_what_cannot_change():
    """A fork shares the seekers' drawn columns and the channels' look-ups with the model
    it was copied from, and those refuse writes; the search state is its own copy."""
    base = RegionalMarket(_scenario(NONE), SEED)
    base.advance(52)
    twin = base.fork(_scenario(QUOTAS[1]))
    for part in ("seekers", "binding", "statushouder_placement", "contingent_placement"):
        shared = getattr(base, part).read_only()
        assert shared and all(
            a is b for a, b in zip(shared, getattr(twin, part).read_only(), strict=True)
        )
    with pytest.raises(ValueError, match="read-only"):
        base.seekers.arrival[0] = 0.0
    with pytest.raises(ValueError, match="read-only"):
        twin.seekers.deadline[0] = 0.0
    with pytest.raises(TypeError):
        twin.seekers.deadline_list[0] = 0.0
    assert twin.seekers.housed is not base.seekers.housed
    assert twin.vacancies.muni_of is not base.vacancies.muni_of
    assert twin.vacancies.muni_of == base.vacancies.muni_of
    twin.seekers.housed[0] = not base.seekers.housed[0]  # its own search state
    assert twin.seekers.housed[0] != base.seekers.housed[0]


def test_a_fork_early_in_the_burn_in_is_the_same_run(fresh):
    base = RegionalMarket(_scenario(NONE), SEED)
    base.advance(40)
    assert _digest(base.fork(_scenario(QUOTAS[3])).run()) == fresh[3]


def test_the_runner_groups_variants_and_writes_the_same_tables():
    specs = [
        RunSpec(
            run=f"v{v:02d}-p000-r000",
            variant=f"variant {v}",
            variant_index=v,
            point=0,
            replication=0,
            values={},
            scenario=_scenario(q),
            seed=np.random.SeedSequence(SEED),
        )
        for v, q in enumerate(QUOTAS[:3])
    ]
    other = dataclasses.replace(
        specs[0], run="v00-p000-r001", replication=1, seed=np.random.SeedSequence(SEED + 1)
    )
    groups = fork_groups([*specs, other])
    assert [[s.run for s in g] for g in groups] == [[s.run for s in specs], [other.run]]
    grouped = [parquet_bytes(t) for t in run_group(specs)]
    assert grouped == [parquet_bytes(run_one(s)) for s in specs]


def test_before_the_norm_the_run_is_current_practice():
    none = RegionalMarket(_scenario(NONE), SEED).run().vac
    ring = RegionalMarket(_scenario(QUOTAS[3]), SEED).run().vac
    n = int(np.argmax(none["arise"] >= BURN_IN - 1e-9))  # vacancies of the burn-in
    assert n > 1000
    for key in ("arise", "muni", "designated"):
        np.testing.assert_array_equal(ring[key][:n], none[key][:n])
    assert not ring["designated"][:n].any()
    early = none["let_time"][:n] <= BURN_IN + 1e-9  # let in the burn-in
    np.testing.assert_array_equal(ring["let_time"][:n] <= BURN_IN + 1e-9, early)
    np.testing.assert_array_equal(ring["let_to"][:n][early], none["let_to"][:n][early])
    share = ring["designated"][n:].mean()
    assert 0.25 < share < 0.35  # 30% designated at random from the norm's start


def test_a_lagging_norm_holds_only_where_lettings_lag():
    """A 90% norm: every municipality lags (none houses 90% aandachtsgroepen), so it acts
    as the norm for all; a 1% norm: none lags, so nothing is designated."""
    all_ = {**QUOTAS[4], "applies_to": "all"}
    m_lag, m_all = RegionalMarket(_scenario(QUOTAS[4]), SEED), RegionalMarket(_scenario(all_), SEED)
    lag, every = m_lag.run().vac, m_all.run().vac
    assert m_lag.lagging.all()
    np.testing.assert_array_equal(lag["designated"], every["designated"])
    low = RegionalMarket(_scenario({**QUOTAS[4], "share": 0.01}), SEED)
    assert not low.run().vac["designated"].any()
    assert not low.lagging.any()


def test_fork_refuses_what_it_cannot_copy():
    base = RegionalMarket(_scenario(NONE), SEED)
    with pytest.raises(ValueError, match=r"only in allocation\.quota"):
        base.fork(_scenario(QUOTAS[1], start_year=2026))
    base.advance(BURN_IN * 52 + 1)
    with pytest.raises(ValueError, match="past its burn-in"):
        base.fork(_scenario(QUOTAS[1]))


@pytest.mark.parametrize(
    ("quota", "burn_in", "message"),
    [
        (QUOTAS[1], 2.5, "burn_in_years: allocation.quota.start window needs a whole"),
        ({**QUOTAS[4], "start": "burn_in"}, 3, "applies_to: lagging needs start: window"),
    ],
)
def test_bad_norm_start_names_the_field(quota, burn_in, message):
    d = load_scenario(REPO / "experiments" / "scenarios" / "haaglanden.yaml").model_dump(
        mode="python"
    )
    d.update(municipalities=MUNIS, burn_in_years=burn_in)
    d["allocation"]["quota"] = quota
    with pytest.raises(ScenarioError, match=message):
        parse_scenario(d)
