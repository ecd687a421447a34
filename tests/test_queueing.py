"""Exact two-class queue solver against published / closed-form values."""

import math
from functools import cache

import numpy as np
import pytest

from woonsim_experiments.queueing import _solve, solve_two_class

TOL = 5e-4  # reference values are rounded to 4 decimals


@cache
def solve(lam1, lam2, mu, theta1=0.0, theta2=0.0, rule="priority", q=None, unused="pass_on"):
    return solve_two_class(lam1, lam2, mu, theta1, theta2, rule=rule, q=q, unused=unused)


V5A = {"lam1": 8, "lam2": 22, "mu": 20, "theta1": 0.2, "theta2": 0.2}
V5A_RULES = {
    "priority": {"rule": "priority"},
    "pass_on": {"rule": "quota", "q": 0.3, "unused": "pass_on"},
    "lose": {"rule": "quota", "q": 0.3, "unused": "lose"},
}
# (p_housed1, p_housed2, time_on_list1, time_on_list2, share_of_lettings_1)
V5A_TABLE = {
    "priority": (0.9839, 0.5513, 0.0803, 2.2435, 0.3936),
    "pass_on": (0.7355, 0.6416, 1.3223, 1.7919, 0.2942),
    "lose": (0.7355, 0.6364, 1.3224, 1.8182, 0.2959),
}


def test_v2_strict_priority_no_reneging():
    lam1, lam2, mu = 3, 6, 10
    r = solve(lam1, lam2, mu)
    rho1, rho = lam1 / mu, (lam1 + lam2) / mu
    assert r["mean_time_on_list"][0] == pytest.approx(1 / (mu - lam1), abs=1e-8)
    assert r["mean_time_on_list"][1] == pytest.approx(1 / (mu * (1 - rho1) * (1 - rho)), abs=1e-8)
    assert r["mean_time_on_list"] == pytest.approx((0.1429, 1.4286), abs=TOL)
    assert r["p_housed"] == pytest.approx((1.0, 1.0), abs=1e-9)
    assert r["unused_share"] == pytest.approx(0.1, abs=1e-9)
    assert r["mean_wait_housed"] == pytest.approx(r["mean_time_on_list"], abs=1e-9)


def test_v3a_quota_lose_no_reneging():
    lam1, lam2, mu, q = 3, 6, 10, 0.35
    r = solve(lam1, lam2, mu, rule="quota", q=q, unused="lose")
    assert r["mean_time_on_list"][0] == pytest.approx(1 / (q * mu - lam1), abs=1e-8)
    assert r["mean_time_on_list"][1] == pytest.approx(1 / ((1 - q) * mu - lam2), abs=1e-8)
    assert r["mean_time_on_list"] == pytest.approx((2.0, 2.0), abs=TOL)
    assert r["unused_share"] == pytest.approx(0.100, abs=TOL)
    assert r["mean_wait_housed"] == pytest.approx(r["mean_time_on_list"], abs=1e-9)


def test_v3b_quota_pass_on_no_reneging():
    r = solve(3, 6, 10, rule="quota", q=0.35, unused="pass_on")
    assert r["mean_time_on_list"] == pytest.approx((1.0535, 0.9732), abs=TOL)
    # work-conserving: the total list is an M/M/1 queue
    total_wait = (3 * r["mean_time_on_list"][0] + 6 * r["mean_time_on_list"][1]) / 9
    assert total_wait == pytest.approx(1 / (10 - 9), abs=1e-8)
    assert r["unused_share"] == pytest.approx(0.1, abs=1e-9)
    assert r["mean_wait_housed"] == pytest.approx(r["mean_time_on_list"], abs=1e-9)


@pytest.mark.parametrize("name", list(V5A_TABLE))
def test_v5a_reneging_table(name):
    r = solve(**V5A, **V5A_RULES[name])
    got = (*r["p_housed"], *r["mean_time_on_list"], r["share_of_lettings_1"])
    assert got == pytest.approx(V5A_TABLE[name], abs=TOL)


@pytest.mark.parametrize("name", ["priority", "pass_on"])
def test_v5a_total_housing_rate_work_conserving(name):
    r = solve(**V5A, **V5A_RULES[name])
    assert r["total_housing_rate"] == pytest.approx(19.9999, abs=TOL)
    assert sum(r["housing_rate"]) == pytest.approx(r["total_housing_rate"], rel=1e-12)


def test_single_class_mm1():
    r = solve(9, 0, 10)
    assert r["mean_time_on_list"][0] == pytest.approx(1.0, abs=1e-8)
    assert r["unused_share"] == pytest.approx(0.1, abs=1e-9)
    assert r["share_of_lettings_1"] == 1.0
    assert math.isnan(r["p_housed"][1])
    assert r["truncation"][1] == 0


@pytest.mark.parametrize("name", list(V5A_TABLE))
def test_tagged_chain_matches_stationary(name):
    """The tagged-arrival chain reproduces P(housed) and Little's-law time on list."""
    cfg = V5A_RULES[name]
    result, tagged = _solve(
        (8.0, 22.0), 20.0, (0.2, 0.2), cfg["rule"], cfg.get("q"), cfg.get("unused", "pass_on")
    )
    for i in (0, 1):
        p_h, e_t, w_h = tagged[i]
        assert p_h == pytest.approx(result["p_housed"][i], abs=1e-8)
        assert e_t == pytest.approx(result["mean_time_on_list"][i], abs=1e-7)
        assert w_h == result["mean_wait_housed"][i]


def _mm1_impatient(lam, mu, theta, n_max=400):
    """Closed form for FCFS M/M/1+M: (P(housed), E[wait | housed])."""
    n = np.arange(n_max + 1)
    logp = np.concatenate(([0.0], np.cumsum(np.log(lam / (mu + n[1:] * theta)))))
    pi = np.exp(logp - logp.max())
    pi /= pi.sum()
    # arrival finding j ahead: stage k (k ahead) ends at rate mu + (k + 1) theta
    stage = mu + (n + 1) * theta
    p_served = np.cumprod((mu + n * theta) / stage)
    wait_served = np.cumsum(1.0 / stage)
    p_h = pi @ p_served
    return p_h, (pi * p_served) @ wait_served / p_h


def test_housed_wait_lose_matches_mm1_impatient_closed_form():
    # under "lose" the classes are independent M/M/1+M queues with rates q*mu, (1-q)*mu
    r = solve(**V5A, **V5A_RULES["lose"])
    for i, (lam, cap) in enumerate(((8.0, 0.3 * 20), (22.0, 0.7 * 20))):
        p_h, w_h = _mm1_impatient(lam, cap, 0.2)
        assert r["p_housed"][i] == pytest.approx(p_h, abs=1e-9)
        assert r["mean_wait_housed"][i] == pytest.approx(w_h, abs=1e-8)


def test_v5a_housed_wait_regression():
    """Housed waits (FCFS within class); checked against 4M-year Monte Carlo runs."""
    got = {name: solve(**V5A, **cfg)["mean_wait_housed"] for name, cfg in V5A_RULES.items()}
    assert got["priority"] == pytest.approx((0.0803, 2.9109), abs=TOL)
    assert got["pass_on"] == pytest.approx((1.4675, 2.1829), abs=TOL)
    assert got["lose"] == pytest.approx((1.4676, 2.2244), abs=TOL)


def test_quota_symmetry_swapping_classes():
    a = solve(8, 22, 20, 0.2, 0.5, rule="quota", q=0.3)
    b = solve(22, 8, 20, 0.5, 0.2, rule="quota", q=0.7)
    for key in ("p_housed", "mean_time_on_list", "mean_wait_housed", "housing_rate"):
        assert a[key] == pytest.approx(b[key][::-1], abs=1e-8)


def test_one_class_without_reneging_is_stable_if_capacity_suffices():
    # class 2 never leaves but gets mu * P(n1 = 0) under priority
    r = solve(8, 5, 20, theta1=0.2, theta2=0.0)
    assert r["p_housed"][1] == pytest.approx(1.0, abs=1e-9)
    assert r["mean_wait_housed"][1] == pytest.approx(r["mean_time_on_list"][1], abs=1e-8)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"lam1": -1, "lam2": 6, "mu": 10},
        {"lam1": 3, "lam2": 6, "mu": 0},
        {"lam1": 3, "lam2": 6, "mu": 10, "theta1": -0.1},
        {"lam1": 3, "lam2": 6, "mu": 10, "rule": "fifo"},
        {"lam1": 3, "lam2": 6, "mu": 10, "rule": "lottery"},
        {"lam1": 3, "lam2": 6, "mu": 10, "rule": "quota"},
        {"lam1": 3, "lam2": 6, "mu": 10, "rule": "quota", "q": 1.2},
        {"lam1": 3, "lam2": 6, "mu": 10, "rule": "quota", "q": 0.3, "unused": "keep"},
        {"lam1": 3, "lam2": 6, "mu": 10, "q": 0.3},
        {"lam1": 4, "lam2": 6, "mu": 10},
        {"lam1": 3, "lam2": 6, "mu": 10, "rule": "quota", "q": 0.3, "unused": "lose"},
        {"lam1": 8, "lam2": 22, "mu": 20, "theta1": 0.2, "theta2": 0.0},
    ],
)
def test_invalid_input_raises(kwargs):
    with pytest.raises(ValueError):
        solve_two_class(**kwargs)
