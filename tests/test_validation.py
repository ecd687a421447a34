"""The validation table V1-V5 (validation reference §3) through the engine, with the
reference's protocol: R = 10 replications per case from SeedSequence(root).spawn(10),
pass rule |mean - exact| <= t(0.999, 9) SE or within 1% (2% for fluid-limit values).
The full table takes about 40 s on 2 cores and runs in CI."""

from __future__ import annotations

import pytest

from woonsim_experiments.executors import process_pool
from woonsim_experiments.validation import CASES, LINES, case_scenario, evaluate


@pytest.fixture(scope="module")
def table():
    with process_pool(2) as ex:
        return evaluate(CASES, replications=10, executor=ex)


def test_every_reference_line_is_in_the_table():
    per_case = {c: sum(ln.case == c for ln in LINES) for c in CASES}
    assert per_case == {
        "v1_fifo": 5,
        "v1_lottery": 2,
        "v2_priority": 3,
        "v3a_quota_lose": 3,
        "v3b_quota_pass_on": 2,
        "v4_fifo": 4,
        "v4_lottery": 4,
        "v5a_fifo": 6,
        "v5a_priority": 8,
        "v5a_quota_pass_on": 8,
        "v5a_quota_lose": 7,
        "v5b_fifo": 4,
        "v5b_priority": 4,
        "v5b_quota_pass_on": 4,
    }


def test_cases_follow_the_run_length_protocol():
    """Warm-up >= 5 relaxation times, >= 1e5 cohort arrivals, a tail that empties the
    cohort (validation reference §5)."""
    for c in CASES:
        sc = case_scenario(c)
        lam = sum(g.rate for g in sc.groups)
        mu = sc.vacancies.rate
        assert lam * sc.measure.window >= 1e5, c
        patience = [g.patience for g in sc.groups if g.patience]
        if patience:
            assert sc.measure.warmup >= 5 * max(patience) and sc.measure.tail >= 8 * max(
                patience
            ), c
        else:
            rho = lam / mu
            relax = 1 / (mu * (1 - rho**0.5) ** 2)
            assert sc.measure.warmup >= 5 * relax and sc.measure.tail >= 100 / (mu - lam), c


@pytest.mark.parametrize("line", range(len(LINES)), ids=[f"{ln.case}:{ln.label}" for ln in LINES])
def test_line(table, line):
    r = table[line]
    assert r.passed, (
        f"{r.line.case} {r.line.label}: exact {r.line.exact}, simulated {r.mean:.5f} ± {r.se:.5f}"
    )
