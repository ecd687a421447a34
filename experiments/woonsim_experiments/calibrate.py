"""Calibration by the method of simulated moments.

Behavioural parameters that no statistic gives directly (registration lead, activity,
patience, acceptance, the departure rate, ...) are fitted so that the model's measures
match observed targets. Every candidate parameter set is simulated with the same R
seeds (common random numbers), so the objective is a smooth-ish deterministic function
of the parameters and differences between candidates are not drowned in noise. The
optimiser is scipy's Nelder-Mead on a bounded (logistic) transform of the parameters.

Objective: sum over fit targets of ((mean simulated - target) / (tolerance x target))^2.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import Field, ValidationError, model_validator
from scipy import optimize, stats

from woonsim.errors import DataError, ScenarioError
from woonsim.measures import observe
from woonsim.paths import get_path, set_path
from woonsim.region.market import RegionalMarket
from woonsim.scenario import parse_scenario
from woonsim.spec import Horizon, Spec, one_line
from woonsim.yaml_loader import read_yaml

__all__ = [
    "CalibrationSpec",
    "Parameter",
    "Target",
    "calibrate",
    "load_spec",
    "measure",
    "with_parameters",
]

Name = Annotated[str, Field(min_length=1, max_length=1000)]


class ParameterSpec(Spec):
    """A scenario value to fit, by path (as in experiment files), within [low, high]."""

    path: Name  # e.g. flows.departure_rate
    low: float  # lower bound of the search
    high: float  # upper bound of the search (above low)

    @model_validator(mode="after")
    def _ordered(self) -> ParameterSpec:
        if not self.low < self.high:
            raise ValueError(f"high: must be above low ({self.high:g} <= {self.low:g})")
        return self


class CalibrationSpec(Spec):
    """A calibration spec (`woonsim calibrate FILE`): which region scenario to fit, to
    which region's targets in calibration_data/targets.csv, over which parameters (at most
    20)."""

    scenario: Name  # the region scenario, relative to this file
    # the region whose targets (use fit or holdout) are fitted: haaglanden, amsterdam, ...
    region: Name
    horizon: Horizon | None = None  # default: the scenario's own
    # the values to fit, with their search bounds
    parameters: Annotated[list[ParameterSpec], Field(min_length=1, max_length=20)]


@dataclass(frozen=True)
class Parameter:
    """A scenario value to fit, by path: ``flows.departure_rate`` or
    ``groups[starters].registration_lead_years`` (``groups[starters|doorstromers].x`` sets
    both groups to one value); searched within [low, high]."""

    path: str
    low: float
    high: float


@dataclass(frozen=True)
class Target:
    measure: str
    value: float
    tolerance: float
    group: str = "all"
    use: str = "fit"  # fit | holdout
    area: tuple[str, ...] = ()  # municipality codes the figure covers; () = whole region
    statistic: str = "mean"  # of a time: the statistic the source reports


def with_parameters(scenario, params: Sequence[Parameter], values: Sequence[float]):
    """A copy of the scenario with the parameters set to the values (validated)."""
    d = scenario.model_dump(mode="python")
    for p, v in zip(params, values, strict=True):
        set_path(d, p.path, float(v))
    return parse_scenario(d)


# the calibration observables are model measures: one definition, in woonsim.measures
measure = observe


def _simulate(args) -> list[float]:
    scenario, seed, targets = args
    result = RegionalMarket(scenario, seed).run()
    values = [measure(result, t.measure, t.group, t.area, t.statistic) for t in targets]
    return [*values, float(result.stationarity["stationary"])]


@dataclass
class Fit:
    params: list[Parameter]
    values: list[float]
    start: list[float]
    targets: list[Target]
    simulated: np.ndarray  # (replications, targets) at the fitted values
    objective: float
    evaluations: int
    stationary: float = float("nan")  # share of the table's runs whose burn-in settled
    # (parameters, parameters) covariance if each fit target's tolerance were one standard
    # deviation of the observed figure (delta method on the fitted moments; NaN: not run)
    covariance: np.ndarray | None = None
    jacobian: np.ndarray | None = None  # d(simulated fit target)/d(parameter) at the fit

    def standard_errors(self) -> list[float]:
        if self.covariance is None:
            return [math.nan] * len(self.params)
        return np.sqrt(np.clip(np.diag(self.covariance), 0, None)).tolist()

    def correlation(self) -> list[list[float]]:
        se = np.array(self.standard_errors())
        if self.covariance is None or not np.all(se > 0):
            return []
        return (self.covariance / np.outer(se, se)).round(3).tolist()

    def table(self) -> list[dict]:
        """Per target: observed, simulated mean with a 95% interval over the
        replications, relative error, and whether it is within tolerance."""
        R = self.simulated.shape[0]
        tq = stats.t.ppf(0.975, R - 1) if R > 1 else math.nan
        rows = []
        for k, t in enumerate(self.targets):
            x = self.simulated[:, k]
            mean = float(x.mean())
            half = float(tq * x.std(ddof=1) / math.sqrt(R)) if R > 1 else math.nan
            rel = (mean - t.value) / t.value
            rows.append(
                {
                    "measure": t.measure,
                    "group": t.group,
                    "area": ";".join(t.area),
                    "use": t.use,
                    "target": t.value,
                    "simulated": mean,
                    "ci95_low": mean - half,
                    "ci95_high": mean + half,
                    "relative_error": rel,
                    "tolerance": t.tolerance,
                    "within": abs(rel) <= t.tolerance,
                }
            )
        return rows


def calibrate(
    scenario,
    params: Sequence[Parameter],
    targets: Sequence[Target],
    replications: int = 2,
    root_seed: int = 20250101,
    max_evaluations: int = 60,
    executor: Executor | None = None,
    progress: Callable[[int, float, np.ndarray], None] | None = None,
    table_replications: int | None = None,
    identify: bool = True,
) -> Fit:
    """Fit `params` to the `fit` targets with `replications` seeds from
    SeedSequence(root_seed).spawn(R), the same seeds for every candidate (common random
    numbers). The fit table (every target, holdouts included) simulates the fitted values
    with `table_replications` fresh seeds, SeedSequence(root_seed + 1).spawn(n), or with
    the fitting seeds when None. With `max_evaluations` 0 nothing is fitted: the table
    shows the scenario's own values (a check of a committed fit). With `identify`, the
    fitted moments' Jacobian gives the parameters' standard errors as if each target's
    tolerance were one standard deviation of the figure (2 x parameters more evaluations):
    the local identification of the fit, not a sampling error."""
    params, targets = list(params), list(targets)
    fit_idx = [k for k, t in enumerate(targets) if t.use == "fit"]
    if not fit_idx:
        raise ScenarioError("targets: no target marked use: fit")
    seeds = np.random.SeedSequence(root_seed).spawn(replications)
    lo = np.array([p.low for p in params])
    hi = np.array([p.high for p in params])
    start = np.array([_current(scenario, p) for p in params], dtype=float)
    mapper = executor.map if executor is not None else map

    def values_of(u: np.ndarray) -> np.ndarray:
        return lo + (hi - lo) / (1 + np.exp(-u))

    def simulate_table(values, seeds) -> tuple[np.ndarray, float]:
        """(replications, targets) values, and the share of runs with a stationary window."""
        sc = with_parameters(scenario, params, values)
        out = np.array(list(mapper(_simulate, [(sc, s, targets) for s in seeds])))
        return out[:, :-1], float(out[:, -1].mean())

    def simulate(values, seeds=seeds) -> np.ndarray:
        return simulate_table(values, seeds)[0]

    count = 0

    def objective(u: np.ndarray) -> float:
        nonlocal count
        values = values_of(u)
        sim = simulate(values).mean(axis=0)
        z = [
            (sim[k] - targets[k].value) / (targets[k].tolerance * targets[k].value) for k in fit_idx
        ]
        count += 1
        value = float(np.sum(np.square(z)))
        if progress:
            progress(count, value, values)
        return value

    if max_evaluations == 0:  # no fit: the table at the scenario's own values
        best, fun = start, math.nan
    else:
        clipped = np.clip((start - lo) / (hi - lo), 1e-3, 1 - 1e-3)
        u0 = np.log(clipped / (1 - clipped))
        res = optimize.minimize(
            objective,
            u0,
            method="Nelder-Mead",
            options={
                "maxfev": max_evaluations,
                "xatol": 1e-3,
                "fatol": 1e-3,
                "initial_simplex": u0 + 0.8 * np.vstack([np.zeros(len(u0)), np.eye(len(u0))]),
            },
        )
        best, fun = values_of(res.x), float(res.fun)
    jac = cov = None
    if max_evaluations and identify:
        # central differences of the fit targets' means, 5% of each value, common seeds
        jac = np.zeros((len(fit_idx), len(params)))
        for i in range(len(params)):
            h = np.zeros(len(params))
            h[i] = 0.05 * best[i]
            up = simulate(np.minimum(best + h, hi)).mean(axis=0)[fit_idx]
            down = simulate(np.maximum(best - h, lo)).mean(axis=0)[fit_idx]
            step = np.minimum(best + h, hi)[i] - np.maximum(best - h, lo)[i]
            jac[:, i] = (up - down) / step
        sd = np.array([targets[k].tolerance * targets[k].value for k in fit_idx])
        a = jac / sd[:, None]
        cov = np.linalg.pinv(a.T @ a)
    simulated, stationary = simulate_table(
        best,
        seeds
        if table_replications is None
        else np.random.SeedSequence(root_seed + 1).spawn(table_replications),
    )
    return Fit(
        params=params,
        values=best.tolist(),
        start=start.tolist(),
        targets=targets,
        simulated=simulated,
        objective=fun,
        evaluations=count,
        stationary=stationary,
        covariance=cov,
        jacobian=jac,
    )


def _current(scenario, p: Parameter) -> float:
    return float(get_path(scenario.model_dump(mode="python"), p.path))


def load_spec(path) -> tuple[object, list[Parameter], list[Target], str]:
    """A calibration spec (YAML): the region scenario, the shorter horizon used while
    fitting, the parameters with bounds, and the region whose targets (fit and holdout)
    come from calibration_data/targets.csv."""
    from woonsim.scenario import load_scenario
    from woonsim_experiments.targets import REGIONS
    from woonsim_experiments.targets import targets as load_targets

    path = Path(path)
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ScenarioError(f"{path}: expected a mapping of keys, got {type(data).__name__}")
    try:
        spec = CalibrationSpec.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(one_line(err).replace("scenario: ", "calibration: ", 1)) from None
    if spec.region not in REGIONS:
        raise ScenarioError(
            f"region: unknown region {spec.region!r}; expected one of {', '.join(REGIONS)}"
        )
    try:
        scenario = load_scenario(path.parent / spec.scenario)
    except ScenarioError as err:
        raise ScenarioError(f"scenario: {err}") from None
    if scenario.kind != "region":
        raise ScenarioError(f"scenario: calibration needs a region scenario, not {scenario.kind}")
    if spec.horizon is not None:
        d = scenario.model_dump(mode="python")
        d.update(spec.horizon.model_dump(exclude_none=True))
        try:
            scenario = parse_scenario(d)
        except ScenarioError as err:
            raise ScenarioError(f"horizon: {err}") from None
    params = []
    for i, p in enumerate(spec.parameters):
        params.append(Parameter(p.path, p.low, p.high))
        try:
            _current(scenario, params[-1])  # the path exists and holds a number
            for end in (p.low, p.high):  # both ends of the interval are valid values
                with_parameters(scenario, [params[-1]], [end])
        except (ScenarioError, TypeError, ValueError) as err:
            raise ScenarioError(f"parameters[{i}]: {err}") from None
    try:
        table = load_targets(spec.region)
    except DataError:
        raise
    except ValueError as err:
        raise ScenarioError(f"region: {err}") from None
    table = table[table["use"].isin(["fit", "holdout"])]
    tg = [
        Target(
            r.measure,
            float(r.value),
            float(r.tolerance),
            r.group,
            r.use,
            tuple(r.area.split(";")) if r.area else (),
            r.statistic or "mean",
        )
        for r in table.itertuples()
    ]
    return scenario, params, tg, spec.region
