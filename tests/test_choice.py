"""Random-utility search (scenario `choice`, docs/ODD.md §B3.7) and the groups' routes
(urgency after a pre-search, the zoekprofiel, the statushouders' matching time, own
channels). Expected values come from the model's stated formulas, computed here
independently (numpy, by hand), or from rules that must hold in every run; behavioural
claims are checked over replications with the pass rule stated in each test."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import plant
from scipy import stats

from woonsim import parse_scenario
from woonsim.region.cells import ELIGIBLE, ELIGIBLE_RELAXED, KINDS, N_LOCAL, ROUTES
from woonsim.region.kernels import choice_weights, reaction_keys
from woonsim.region.market import RegionalMarket

MIDDEN_DELFLAND, WASSENAAR = "GM1842", "GM0629"
SEEDS = np.random.SeedSequence(20250101).spawn(3)

STARTERS = {
    "name": "starters",
    "inflow_per_1000_households": 40.0,
    "registration_lead_years": 2.0,
    "patience_years": 4.0,
    "weekly_activity": 0.3,
    "reservation": 2.0,
}
URGENT = {
    "name": "urgent",
    "kind": "urgent",
    "aandachtsgroep": True,
    "inflow_per_1000_households": 3.0,
    "registration_lead_years": 1.0,
    "weekly_activity": 0.8,
}
STATUSHOUDERS = {
    "name": "statushouders",
    "kind": "statushouder",
    "aandachtsgroep": True,
    "patience_years": None,
    "registration_lead_years": 0.0,
}


def region(groups=(STARTERS,), choice=None, **kw):
    data = {
        "kind": "region",
        "name": "choice test",
        "municipalities": [MIDDEN_DELFLAND, WASSENAAR],
        "burn_in_years": 4,
        "years": 3,
        "allocation": {"lottery_share": 0.3},
        "choice": {} if choice is None else choice,
        "groups": [dict(g) for g in groups],
    }
    data.update(kw)
    return parse_scenario(data)


def run(scenario, seed):
    return RegionalMarket(scenario, seed).run()


# --- the weights kernel against its numpy formulation ----------------------------------
def reference_weights(htype, aandacht, muni, qbin, rows, local, adv_muni, only, relaxed,
                      utility, lottery, own, M, B, K, a_rate, strategic):  # fmt: skip
    """The weights of `choice_weights`, written with numpy: per key (household type,
    aandachtsgroep, municipality, rank bin) in key order, exp(utility) of eligible
    adverts, the expected reactions from those, the chance of the rank bin, normalised."""
    keys = ((htype[rows].astype(np.int64) * 2 + aandacht[rows]) * M + muni[rows]) * (B + 1)
    keys = keys + qbin[rows]
    ukeys, inverse, count = np.unique(keys, return_inverse=True, return_counts=True)
    rest, b = ukeys // (B + 1), ukeys % (B + 1)
    ht, aa, mu = rest // (2 * M), (rest // M) % 2, rest % M
    ok = np.where(relaxed[None, :], ELIGIBLE_RELAXED[ht][:, local], ELIGIBLE[ht][:, local])
    ok &= ~only[None, :] | (aa[:, None] == 1)
    u = utility[None, :] + own * (adv_muni[None, :] == mu[:, None])
    e = np.where(ok, np.exp(u - utility.max()), 0.0)
    draws = np.minimum(K, (e > 0).sum(axis=1))
    mass = e.sum(axis=1)
    expected = (count * draws / np.where(mass > 0, mass, 1))[:, None] * e
    n = expected.sum(axis=0)
    q = (b + 0.5) / B
    chance = np.ones_like(e)
    if strategic:
        regular = (1 - a_rate) ** (q[:, None] * n[None, :])
        x = n * a_rate
        lot = np.where(x > 1e-12, (1 - (1 - a_rate) ** n) / np.where(x > 0, x, 1), 1.0)
        chance = np.where(lottery[None, :], lot[None, :], regular) ** strategic
        chance[b == B] = 1.0
    w = e * chance
    w = w / np.where(w.sum(axis=1) > 0, w.sum(axis=1), 1)[:, None]
    return w, inverse, np.minimum(K, (w > 0).sum(axis=1))


@pytest.mark.parametrize("strategic", [1.0, 0.4, 0.0])
def test_choice_weights_equal_the_numpy_formulation(strategic):
    g = np.random.default_rng(3)
    n_seekers, M, B, K, A = 400, 3, 4, 2, 30
    htype = g.integers(0, 27, n_seekers).astype(np.int16)
    aandacht = g.random(n_seekers) < 0.3
    muni = g.integers(0, M, n_seekers).astype(np.int16)
    qbin = g.integers(0, B + 1, n_seekers).astype(np.int64)
    rows = np.sort(g.choice(n_seekers, 250, replace=False)).astype(np.int64)
    local = g.integers(0, N_LOCAL, A).astype(np.int64)
    adv_muni = g.integers(0, M, A).astype(np.int16)
    only = g.random(A) < 0.2
    relaxed = g.random(A) < 0.2
    utility = g.normal(0, 1.5, A)
    lottery = g.random(A) < 0.3
    work = np.empty(3 * 250 * A)
    w, _, _, row_of, k_of, counts = choice_weights(
        htype, aandacht, muni, qbin, rows, local, adv_muni, only, relaxed, utility, lottery,
        ELIGIBLE, ELIGIBLE_RELAXED, 1.2, M, 27, B, K, 0.15, strategic, work,
    )  # fmt: skip
    ref, inverse, draws = reference_weights(
        htype, aandacht, muni, qbin, rows, local, adv_muni, only, relaxed, utility, lottery,
        1.2, M, B, K, 0.15, strategic,
    )  # fmt: skip
    R = len(ref)
    np.testing.assert_allclose(w[: R * A].reshape(R, A), ref, rtol=1e-10, atol=1e-300)
    np.testing.assert_array_equal(row_of, inverse)
    np.testing.assert_array_equal(k_of, draws[inverse])
    np.testing.assert_array_equal(counts, [(k_of > j).sum() for j in range(K)])


def test_reactions_follow_exp_utility_when_not_strategic():
    """K = 1, two suitable adverts of equal utility, one in the household's own
    municipality: P(home) = e^own / (e^own + 1) (the logit of the utility difference)."""
    own = 0.8
    sc = region(choice={"own_municipality": own, "strategic": 0.0, "quality_sd": 0.0},
                allocation={"reactions_per_week": 1})  # fmt: skip
    m = RegionalMarket(sc, 14)
    t = 1.0
    medium_affordable = (1 * 5 + 1) * 3
    for mu in (0, 1):
        m.vacancies.add(
            np.array([t]), np.array([mu]), np.array([mu * N_LOCAL + medium_affordable]), 0
        )
    s = np.flatnonzero((m.seekers.htype // 3) % 3 < 2)[0]  # income up to DAEB
    plant(m.seekers, s, muni=0)
    n = 4000
    rows, adverts, _ = m.adverts.choose(np.full(n, s), np.array([0, 1]), t)
    assert len(rows) == n
    lo, hi = stats.binom.interval(0.999, n, np.exp(own) / (np.exp(own) + 1))
    assert lo <= (adverts == 0).sum() <= hi


@pytest.mark.parametrize("sincere", [0.0, 1.0])
def test_sincere_households_ignore_their_chance(sincere):
    """K = 1, two suitable adverts of equal utility in the household's municipality, one
    ranked and one a lottery, and a household ranked last among 4,000 reactors: weighing
    its chance it reacts to the lottery (the ranked advert's chance is about
    0.8^(0.9 x 2000)); sincere (`sincere_share` 1) it takes either with chance 1/2."""
    sc = region(
        choice={"strategic": 1.0, "sincere_share": sincere, "quality_sd": 0.0},
        allocation={"reactions_per_week": 1, "lottery_share": 0.0},
    )
    m = RegionalMarket(sc, 14)
    t = 1.0
    medium_affordable = (1 * 5 + 1) * 3
    ids = m.vacancies.add(np.array([t, t]), np.array([0, 0]), np.full(2, medium_affordable), 0)
    m.vacancies.lottery[ids[1]] = True
    s = np.flatnonzero((m.seekers.htype // 3) % 3 < 2)[0]  # income up to DAEB
    plant(m.seekers, s, muni=0, kind=KINDS["regular"])
    n = 4000
    rows, adverts, _ = m.adverts.choose(np.full(n, s), ids, t)
    assert len(rows) == n
    if sincere:
        lo, hi = stats.binom.interval(0.999, n, 0.5)
        assert lo <= (adverts == 1).sum() <= hi
    else:
        assert (adverts == 1).sum() >= n - 5


def test_sincere_share_is_the_share_of_households_drawn_sincere():
    """Each household is sincere with probability `sincere_share` (stream `sincere`),
    independently of its group: a binomial count over the run's seekers."""
    sc = region(choice={"sincere_share": 0.3})
    sk = RegionalMarket(sc, 5).seekers
    lo, hi = stats.binom.interval(0.999, len(sk), 0.3)
    assert len(sk) > 500
    assert lo <= sk.sincere.sum() <= hi
    assert not RegionalMarket(region(), 5).seekers.sincere.any()


def test_acceptance_is_logistic_in_utility_minus_reservation():
    sc = region(choice={"seniority": 1.5, "decline_per_year": 0.4})
    m = RegionalMarket(sc, 1)
    sk = m.seekers
    s = np.array([0, 1])
    sk.queue_place[s] = [0.9, 0.1]
    t = sk.arrival[s] + np.array([0.0, 2.5])  # searching 0 and 2.5 years
    got = np.array([sk.acceptance(s[i : i + 1], np.array([3.0]), t[i])[0] for i in range(2)])
    r = 2.0 + 1.5 * np.array([0.9, 0.1]) - 0.4 * np.array([0.0, 2.5])  # reservation 2.0
    np.testing.assert_allclose(got, 1 / (1 + np.exp(-(3.0 - r))), rtol=1e-12)


# --- behaviour over replications -------------------------------------------------------
def _patterns(sc):
    return [run(sc, s).patterns for s in SEEDS]


def test_lottery_adverts_draw_more_reactions_when_seekers_weigh_their_chance():
    """Pass rule: paired by seed, in every replication the reactions per lottery advert
    over those per regular advert exceed 1 and the same ratio without the chance term;
    without it the mean ratio is within [0.8, 1.25] (the adverts differ only in ranking)."""
    strategic = _patterns(region())
    plain = _patterns(region(choice={"strategic": 0.0}))

    def ratio(p):
        return p["reactions_per_lottery_advert"] / p["reactions_per_regular_advert"]

    for a, b in zip(strategic, plain, strict=True):
        assert ratio(a) > max(1.0, ratio(b)), (a, b)
    assert 0.8 <= np.mean([ratio(p) for p in plain]) <= 1.25


def test_a_higher_reservation_means_more_refusals():
    """Pass rule: paired by seed, every replication refuses more with reservation 3.5
    than with 1.0."""
    low = _patterns(region([{**STARTERS, "reservation": 1.0}]))
    high = _patterns(region([{**STARTERS, "reservation": 3.5}]))
    for a, b in zip(low, high, strict=True):
        assert b["refusals_per_letting"] > a["refusals_per_letting"], (a, b)


def test_seniority_makes_the_front_of_the_queue_choosier_than_lottery_winners():
    """Pass rule: with seniority 3 (the first in line much choosier than the last), every
    replication refuses lottery lettings less than regular ones."""
    for p in _patterns(region(choice={"seniority": 3.0})):
        assert p["refusals_per_letting_lottery"] < p["refusals_per_letting_regular"], p


def test_own_municipality_preference_raises_the_share_let_at_home():
    """Pass rule: paired by seed, own_municipality 2.5 lets more at home than 0."""
    none = _patterns(region(choice={"own_municipality": 0.0}))
    strong = _patterns(region(choice={"own_municipality": 2.5}))
    for a, b in zip(none, strong, strict=True):
        assert b["own_municipality_share"] > a["own_municipality_share"] + 0.05, (a, b)


# --- routes ----------------------------------------------------------------------------
def test_statushouders_are_placed_no_sooner_than_the_matching_time():
    weeks = 12
    sc = region([STARTERS, STATUSHOUDERS], statushouders={"matching_weeks": weeks})
    res = run(sc, SEEDS[0])
    b = res.base
    sh = (res.seekers.kind == KINDS["statushouder"]) & (b.reason == 0)
    assert sh.sum() > 20
    wait = (b.exit - b.arrival)[sh]
    assert wait.min() >= weeks / 52 - 1e-9
    assert np.median(wait) < (weeks + 8) / 52  # placed soon after, stock permitting
    assert (res.seekers.route[sh] == ROUTES.index("statushouder")).all()


def test_urgency_holds_only_from_its_grant_and_in_the_zoekprofiel():
    """reaction_keys: the urgency flag (bit 4 clear) needs urgency_start <= t < expiry and,
    with the zoekprofiel, the household's own municipality."""
    rows = np.array([0, 1, 2, 3])
    adv_pos = np.zeros(4, np.int64)
    adv = np.array([0])
    kind = np.full(4, KINDS["urgent"], np.int8)
    start = np.array([0.5, 2.0, 0.5, 0.5])  # household 1: not yet granted at t = 1
    expiry = np.array([1.5, 3.0, 0.9, 1.5])  # household 2: expired
    muni = np.array([0, 0, 0, 1], np.int16)  # household 3: lives elsewhere
    adv_muni = np.array([0], np.int16)
    z = np.zeros(4)

    def urgent(profile_local):
        key, _ = reaction_keys(
            rows, adv_pos, adv, 1.0, kind, expiry, np.zeros(4, bool), muni, z, z,
            np.full(4, -np.inf), np.zeros(4, bool), np.zeros(1, bool), np.zeros(1, bool),
            adv_muni, np.zeros(1, bool), np.zeros(4), True, False, start, profile_local,
        )  # fmt: skip
        return (key & 4) == 0

    assert urgent(False).tolist() == [True, False, False, True]
    assert urgent(True).tolist() == [True, False, False, False]


def test_pre_search_delays_urgent_priority():
    """Pass rule: paired by seed, a 13-week pre-search raises the urgent households'
    median search time by at least 6 weeks in every replication (without it the priority
    houses most of them within weeks)."""
    for seed in SEEDS:
        times = []
        for pre in (0, 13):
            sc = region([STARTERS, URGENT], allocation={
                "lottery_share": 0.3, "urgency": {"pre_search_weeks": pre}})  # fmt: skip
            res = run(sc, seed)
            b = res.base
            u = (res.seekers.kind == KINDS["urgent"]) & (b.reason == 0)
            times.append(np.median((b.exit - b.arrival)[u]))
        assert times[1] > times[0] + 6 / 52, times


@pytest.mark.parametrize("own_channel", [0.0, 2.0, 3.0])
def test_own_channel_takes_its_capacity_out_of_the_adverts(own_channel):
    """The group's households searching the adverts are Poisson with rate (inflow - own
    channel) x households / 1,000 per year: the count lies within 4 sd of its mean."""
    students = {**STARTERS, "name": "studenten", "aandachtsgroep": True,
                "inflow_per_1000_households": 3.0,
                "own_channel_per_1000_households": own_channel}  # fmt: skip
    sc = region([STARTERS, students])
    m = RegionalMarket(sc, 5)
    n = int((m.seekers.group == 1).sum())
    households = sum(x.households for x in m.munis)
    mean = max(3.0 - own_channel, 0) * households / 1000 * sc.horizon
    assert abs(n - mean) <= 4 * np.sqrt(max(mean, 1)), (n, mean)
    if own_channel >= 3.0:
        assert n == 0


def test_the_weight_of_the_chance_moves_reactions_towards_the_lottery():
    """Pass rule: paired by seed, in every replication the reactions per lottery advert
    over those per regular advert are higher with `strategic` 0.5 and 1 than with 0 (the
    kernel's exponent itself is checked exactly above; in this small market the ratio
    saturates by 0.5, so no order between 0.5 and 1 is claimed)."""
    runs = [_patterns(region(choice={"strategic": w})) for w in (0.0, 0.5, 1.0)]
    for ps in zip(*runs, strict=True):
        r = [p["reactions_per_lottery_advert"] / p["reactions_per_regular_advert"] for p in ps]
        assert r[0] < min(r[1], r[2]), r


STUDENTEN = {**STARTERS, "name": "studenten", "aandachtsgroep": True,
             "inflow_per_1000_households": 8.0}  # fmt: skip


def test_priority_share_counts_priority_routes_not_aandachtsgroepen():
    """Studenten on the adverts are an aandachtsgroep without priority: their lettings
    count in the aandachtsgroep share and not in the priority share. Direct placement of
    statushouders is priority: the priority share is at least the statushouders' share."""
    reg = run(region([STARTERS, STUDENTEN]), SEEDS[0]).summary()["region"]
    assert reg["aandachtsgroep_share_of_lettings"] > 0.05
    assert reg["priority_share_of_lettings"] == 0.0
    res = run(region([STARTERS, STUDENTEN, URGENT, STATUSHOUDERS]), SEEDS[0])
    b, sk = res.base, res.seekers
    housed = (b.reason == 0) & res._reported(b.exit)
    share_sh = (sk.kind[housed] == KINDS["statushouder"]).mean()
    share_students = (b.group[housed] == 1).mean()
    reg = res.summary()["region"]
    assert share_sh > 0.02 and share_students > 0.05
    assert share_sh < reg["priority_share_of_lettings"]
    assert (
        reg["priority_share_of_lettings"]
        <= reg["aandachtsgroep_share_of_lettings"] - share_students + 1e-12
    )


def test_per_area_reactions_and_realisation_add_up_to_the_region():
    """The per-municipality reactions per advert, weighted by let adverts, average to the
    region's; the realisation over every municipality is the region's."""
    from woonsim.measures import observe

    res = run(region([STARTERS, STATUSHOUDERS]), SEEDS[1])
    codes = [MIDDEN_DELFLAND, WASSENAAR]
    _, regular, lottery = res._advert_lettings()
    for kind, mask in (("regular", regular), ("lottery", lottery)):
        per = [observe(res, "reactions_per_advert", kind, (c,)) for c in codes]
        n = [(mask & (res.vac["muni"] == i)).sum() for i in range(2)]
        assert np.average(per, weights=n) == pytest.approx(
            res.patterns[f"reactions_per_{kind}_advert"]
        )
    whole = observe(res, "taakstelling_realisation", "all", tuple(codes))
    assert whole == pytest.approx(res.patterns["taakstelling_realisation"])
    assert observe(res, "taakstelling_realisation", "all", (WASSENAAR,)) != pytest.approx(whole)


def test_per_area_priority_share_adds_up_to_the_region():
    """The per-municipality priority shares, weighted by each one's reported lettings,
    average to the region's; the two municipalities differ."""
    from woonsim.measures import observe

    res = run(region([STARTERS, URGENT, STATUSHOUDERS]), SEEDS[1])
    codes = [MIDDEN_DELFLAND, WASSENAAR]
    v, let = res.vac, res.reported_lettings()
    per = [observe(res, "share_lettings_priority", "all", (c,)) for c in codes]
    n = [(let & (v["muni"] == i)).sum() for i in range(2)]
    whole = res.summary()["region"]["priority_share_of_lettings"]
    assert min(n) > 0 and 0 < whole < 1
    assert np.average(per, weights=n) == pytest.approx(whole)
    assert observe(res, "share_lettings_priority", "all", tuple(codes)) == pytest.approx(whole)
    assert per[0] != pytest.approx(per[1])
