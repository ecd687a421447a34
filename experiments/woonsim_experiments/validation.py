"""The validation table: cases V1-V5 of the validation reference, run through the
same engine as every other scenario, compared with their exact values.

Protocol (validation reference §5): R >= 10 replications seeded by
``SeedSequence(root).spawn(R)``; a line passes when
``|mean - exact| <= t(0.999, R-1) * SE`` or ``|mean - exact| <= 1% of exact``.
Lines whose reference value is a fluid limit (V5b) are held to the reference's stated
fluid accuracy, 2%, instead of the 1% margin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from concurrent.futures import Executor
from dataclasses import dataclass
from importlib import resources

import numpy as np
from scipy import stats

from woonsim.results import HOUSED, RunResult
from woonsim.scenario import StylizedScenario, load_scenario
from woonsim.simulate import run
from woonsim_experiments.queueing import solve_two_class

__all__ = ["CASES", "LINES", "Line", "LineResult", "case_scenario", "evaluate", "run_case"]

CASES = (
    "v1_fifo",
    "v1_lottery",
    "v2_priority",
    "v3a_quota_lose",
    "v3b_quota_pass_on",
    "v4_fifo",
    "v4_lottery",
    "v5a_fifo",
    "v5a_priority",
    "v5a_quota_pass_on",
    "v5a_quota_lose",
    "v5b_fifo",
    "v5b_priority",
    "v5b_quota_pass_on",
)


def case_scenario(case: str) -> StylizedScenario:
    """The shipped scenario of a validation case (`validation_cases/CASE.yaml` beside this
    module)."""
    with resources.as_file(resources.files(__package__) / "validation_cases" / f"{case}.yaml") as p:
        return load_scenario(p)


# --- metrics: RunResult -> float ----------------------------------------------------------
def group_metric(group: str, key: str) -> Callable[[RunResult], float]:
    def metric(r: RunResult) -> float:
        return r.summary()["groups"][group][key]

    return metric


def unused_share(r: RunResult) -> float:
    return r.summary()["vacancies"]["unused_share"]


def p_wait_above(threshold: float) -> Callable[[RunResult], float]:
    def metric(r: RunResult) -> float:
        housed = r.cohort() & (r.reason == HOUSED)
        return float(((r.exit - r.arrival)[housed] > threshold).mean())

    return metric


def conservation(r: RunResult) -> float:
    """sum_i lambda_i W_i / lambda, with the cohort's own arrival counts as weights."""
    g = r.summary()["groups"].values()
    return sum(x["arrivals"] * x["mean_wait_housed"] for x in g) / sum(x["arrivals"] for x in g)


def housing_rate(r: RunResult) -> float:
    w0, w1 = r.window
    return r.summary()["vacancies"]["let"] / (w1 - w0)


@dataclass(frozen=True)
class Line:
    """One line of the table: a metric of a case and its reference value."""

    case: str
    label: str
    metric: Callable[[RunResult], float]
    exact: float
    margin: float = 0.01  # relative margin accepted besides t * SE
    note: str = ""


def _lines() -> list[Line]:
    L: list[Line] = []

    def add(case, label, metric, exact, margin=0.01, note=""):
        L.append(Line(case, label, metric, exact, margin, note))

    g = group_metric
    # V1: M/M/1, lambda 9, mu 10 (per month). Wait ~ Exp(mu - lambda).
    add("v1_fifo", "mean wait", g("all", "mean_wait_housed"), 1.0)
    add("v1_fifo", "SD wait", g("all", "sd_wait_housed"), 1.0)
    add("v1_fifo", "median wait", g("all", "median_wait_housed"), math.log(2))
    add("v1_fifo", "P(wait > 3)", p_wait_above(3.0), math.exp(-3.0))
    add("v1_fifo", "unused share", unused_share, 0.1)
    add("v1_lottery", "mean wait", g("all", "mean_wait_housed"), 1.0)
    add("v1_lottery", "SD wait", g("all", "sd_wait_housed"), 1.624)
    # V2: preemptive-resume priority with equal service rates.
    add("v2_priority", "W priority", g("priority", "mean_wait_housed"), 1 / 7)
    add("v2_priority", "W regular", g("regular", "mean_wait_housed"), 10 / 7)
    add("v2_priority", "conservation", conservation, 1.0)
    # V3: quota 0.35 for group 1.
    add("v3a_quota_lose", "W quota", g("quota", "mean_wait_housed"), 2.0)
    add("v3a_quota_lose", "W regular", g("regular", "mean_wait_housed"), 2.0)
    add("v3a_quota_lose", "unused share", unused_share, 0.1)
    add("v3b_quota_pass_on", "W quota", g("quota", "mean_wait_housed"), 1.0535)
    add("v3b_quota_pass_on", "W regular", g("regular", "mean_wait_housed"), 0.9732)
    # V4: overloaded, reneging; discipline invariance of p_housed and time on list.
    for rule, wmean, wsd in (("fifo", 2.0268, 0.0707), ("lottery", 1.6663, 1.6671)):
        case = f"v4_{rule}"
        add(case, "p_housed", g("all", "p_housed"), 2 / 3)
        add(case, "time on list", g("all", "mean_time_on_list"), 5 / 3)
        add(case, "mean wait housed", g("all", "mean_wait_housed"), wmean)
        add(case, "SD wait housed", g("all", "sd_wait_housed"), wsd)
    # V5a: exact 2-D chain.
    v5a = {
        "fifo": (0.6667, 0.6667, 1.6667, 1.6667, 0.2667),
        "priority": (0.9839, 0.5513, 0.0803, 2.2435, 0.3936),
        "quota_pass_on": (0.7355, 0.6416, 1.3223, 1.7919, 0.2942),
        "quota_lose": (0.7355, 0.6364, 1.3224, 1.8182, 0.2959),
    }
    for rule, (p1, p2, t1, t2, s1) in v5a.items():
        case = f"v5a_{rule}"
        add(case, "p_housed 1", g("group1", "p_housed"), p1)
        add(case, "p_housed 2", g("group2", "p_housed"), p2)
        add(case, "time on list 1", g("group1", "mean_time_on_list"), t1)
        add(case, "time on list 2", g("group2", "mean_time_on_list"), t2)
        add(case, "share of lettings 1", g("group1", "share_of_lettings"), s1)
        if rule != "quota_lose":
            add(case, "housing rate", housing_rate, 19.9999)
        if rule != "fifo":  # not in the reference: exact values from woonsim_experiments.queueing
            kw = (
                {"rule": "priority"}
                if rule == "priority"
                else {"rule": "quota", "q": 0.3, "unused": rule.removeprefix("quota_")}
            )
            w1, w2 = solve_two_class(8, 22, 20, 0.2, 0.2, **kw)["mean_wait_housed"]
            note = "exact from woonsim_experiments.queueing; not in the reference"
            add(case, "mean wait housed 1", g("group1", "mean_wait_housed"), w1, note=note)
            add(case, "mean wait housed 2", g("group2", "mean_wait_housed"), w2, note=note)
    # V5b: fluid limit, "a simulation agrees within 1-2%".
    fluid = "fluid limit (reference: within 1-2%)"
    v5b = {
        "fifo": (0.667, 0.667, 2.027, 2.027),
        "priority": (0.9997, 0.545, 1 / 600, 3.031),
        "quota_pass_on": (0.750, 0.636, 1.438, 2.260),
    }
    for rule, (p1, p2, w1, w2) in v5b.items():
        case = f"v5b_{rule}"
        add(case, "p_housed 1", g("group1", "p_housed"), p1, 0.02, fluid)
        add(case, "p_housed 2", g("group2", "p_housed"), p2, 0.02, fluid)
        note = "1/(mu - lambda1): the reference's 0.0017 unrounded" if rule == "priority" else fluid
        add(case, "FIFO wait housed 1", g("group1", "mean_wait_housed"), w1, 0.02, note)
        add(case, "FIFO wait housed 2", g("group2", "mean_wait_housed"), w2, 0.02, fluid)
    return L


LINES: tuple[Line, ...] = tuple(_lines())


@dataclass(frozen=True)
class LineResult:
    line: Line
    values: tuple[float, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.values))

    @property
    def se(self) -> float:
        return float(np.std(self.values, ddof=1) / math.sqrt(len(self.values)))

    @property
    def t_bound(self) -> float:
        return float(stats.t.ppf(0.999, len(self.values) - 1)) * self.se

    @property
    def passed(self) -> bool:
        dev = abs(self.mean - self.line.exact)
        return dev <= self.t_bound or dev <= self.line.margin * abs(self.line.exact)


def run_case(case: str, seed: np.random.SeedSequence) -> dict[str, float]:
    """One replication of one case: every table metric of that case."""
    result = run(case_scenario(case), seed)
    return {ln.label: float(ln.metric(result)) for ln in LINES if ln.case == case}


def _task(args: tuple[str, np.random.SeedSequence]) -> dict[str, float]:
    return run_case(*args)


def evaluate(
    cases: Iterable[str] = CASES,
    replications: int = 10,
    root_seed: int = 20220511,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> list[LineResult]:
    """Run every case `replications` times and compare each line with its exact value.

    Replication r of every case uses child r of ``SeedSequence(root_seed).spawn(R)``.
    """
    if replications < 2:
        raise ValueError("replications: need at least 2 for a standard error")
    cases = list(cases)
    seeds = np.random.SeedSequence(root_seed).spawn(replications)
    tasks = [(c, s) for c in cases for s in seeds]
    mapper = executor.map if executor is not None else map
    out: list[dict[str, float]] = []
    for i, res in enumerate(mapper(_task, tasks)):
        out.append(res)
        if progress:
            progress(i + 1, len(tasks))
    by_case = {c: out[k * replications : (k + 1) * replications] for k, c in enumerate(cases)}
    return [
        LineResult(ln, tuple(rep[ln.label] for rep in by_case[ln.case]))
        for ln in LINES
        if ln.case in by_case
    ]
