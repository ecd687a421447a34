"""The whole country: all 342 municipalities (2025 division) in regional markets that
allocate separately.

The statutory woningmarktregio membership is not in the shipped data, so the default
membership is the 40 COROP areas (documented stand-in); a user may supply the real
membership as a CSV (`municipality,region`). A region whose municipalities all belong to a
calibrated scenario (Haaglanden, Amsterdam, Twente) takes that scenario's parameters; every
other region takes the national defaults, which are rates per household, per dwelling and
per 1,000 social dwellings, so they scale with the region's stock and population. Each
region's output says which it used (`parameters`).
"""

from __future__ import annotations

import csv
import math
import zlib
from collections.abc import Callable
from concurrent.futures import Executor
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
import pandas as pd
from pydantic import Field, ValidationError

from woonsim.data import corop_regions, municipalities, national_totals
from woonsim.errors import ScenarioError
from woonsim.scenario import load_scenario, parse_scenario
from woonsim.spec import MAX_YEARS, Spec, bounded, one_line
from woonsim.yaml_loader import read_yaml
from woonsim_experiments.calibrate import Parameter, with_parameters
from woonsim_experiments.targets import national_targets

__all__ = [
    "NATIONAL_CHECKS",
    "NationalScenario",
    "RelativeRoot",
    "fit_defaults",
    "fit_regions",
    "largest_municipalities",
    "load_national",
    "membership",
    "region_scenarios",
    "run_national",
    "takes_defaults",
]

# Observed national figures the baseline is reported against (domain reference §2a, §4a).
NATIONAL_CHECKS = {
    "lettings_per_year": {
        "observed": 161_000,
        "year": 2023,
        "source": "CBS, corporation dwellings let to a new household (self-contained), via "
        "gemeente.nu / Blik op Nieuws 2025 [A/B]",
    },
    "statushouder_share_of_lettings": {
        "observed": 0.08,
        "year": 2023,
        "source": "CBS: statushouder households 'almost 8%' of those lettings [A]",
    },
    "priority_share_43_largest": {
        "observed": 0.27,
        "year": 2022,
        "source": "NOS survey of the 43 largest municipalities: 27% of lettings to some form "
        "of urgency or priority (Nov 2023) [B]; the 43 taken as the most populous (CBS 2024, "
        "an ASSUMPTION)",
    },
    "municipalities_below_30pct_social": {
        "observed": None,  # computed from CBS 82900NED 1 Jan 2025 in `run_national`
        "year": 2025,
        "source": "CBS 82900NED, corporation dwellings / all dwellings, 1 Jan 2025 [A]",
    },
}


class NationalScenario(Spec):
    """Every municipality in a regional market; paths are relative to the scenario file."""

    kind: Literal["national"]  # the scenario kind: `national`
    name: str  # a label, written into every output
    defaults: str  # a region scenario whose parameters are the national defaults
    membership: str = "corop"  # "corop", or a CSV file with columns municipality,region
    # label -> region scenario file with fitted parameters
    calibrated: dict[str, str] = Field(default_factory=dict)
    # values set on the national defaults, by path as in calibration (flows.departure_rate)
    default_overrides: dict[str, float] = Field(default_factory=dict)
    # region -> {path: value}: values fitted to that region's own published figures (the
    # `use: fit` rows of national_targets.csv that lie in it; `woonsim national
    # --fit-regions`), set on top of the parameters the region takes
    region_overrides: dict[str, dict[str, float]] = Field(default_factory=dict)
    # null: each region the burn-in of its scenario
    burn_in_years: bounded(0, MAX_YEARS, "years before the reported window") | None = None
    # reported years; null: those of each region's scenario
    years: bounded(0, MAX_YEARS, "reported years", open_low=True) | None = None
    # a subset of the membership's regions to run (empty: all of them); the national
    # checks against CBS then do not apply
    regions: Annotated[list[str], Field(max_length=50)] = Field(default_factory=list)


def load_national(path: str | Path, data: dict | None = None) -> tuple[NationalScenario, Path]:
    """Read and validate a national scenario file; returns it and its folder."""
    path = Path(path)
    if data is None:
        data = read_yaml(path)
    try:
        ns = NationalScenario.model_validate(data)
    except ValidationError as err:
        raise ScenarioError(one_line(err)) from None
    return ns, path.parent


def membership(spec: str, base: Path | None = None) -> dict[str, list[str]]:
    """Region -> municipality codes. `corop`: the 40 COROP areas (stand-in for the
    woningmarktregio's). Otherwise a CSV with columns `municipality,region` that must list
    each of the 342 municipalities exactly once."""
    if spec == "corop":
        return corop_regions()
    path = Path(spec) if base is None else base / spec
    try:
        rows = list(csv.DictReader(path.read_text(encoding="utf-8").splitlines()))
    except OSError:
        raise ScenarioError(f"membership: cannot read {path}") from None
    if not rows or not {"municipality", "region"} <= set(rows[0]):
        raise ScenarioError(f"membership: {path.name} needs columns municipality,region")
    known = set(municipalities()["code"])
    out: dict[str, list[str]] = {}
    seen: set[str] = set()
    for i, r in enumerate(rows, start=2):
        code, reg = (r["municipality"] or "").strip(), (r["region"] or "").strip()
        if code not in known:
            raise ScenarioError(f"membership: {path.name} line {i}: unknown municipality {code!r}")
        if not reg:
            raise ScenarioError(f"membership: {path.name} line {i}: empty region")
        if code in seen:
            raise ScenarioError(f"membership: {path.name} line {i}: {code} listed twice")
        seen.add(code)
        out.setdefault(reg, []).append(code)
    missing = sorted(known - seen)
    if missing:
        raise ScenarioError(
            f"membership: {path.name} misses {len(missing)} municipalities (first {missing[0]})"
        )
    return {k: sorted(v) for k, v in sorted(out.items())}


def _for_region(template: dict, codes: list[str], name: str, ns: NationalScenario):
    d = {**template, "municipalities": codes, "name": name}
    for key in ("burn_in_years", "years"):
        if getattr(ns, key) is not None:
            d[key] = getattr(ns, key)
    # per-municipality levers of the template apply to its own municipalities only
    for section, key in (
        ("allocation", "contingent_dwellings"),
        ("construction", "social_share"),
    ):
        value = d[section].get(key)
        if isinstance(value, dict):
            d[section] = {**d[section], key: {c: v for c, v in value.items() if c in codes}}
    quota = d["allocation"]["quota"]
    if isinstance(quota["share"], dict):
        share = {c: v for c, v in quota["share"].items() if c in codes}
        d["allocation"] = {**d["allocation"], "quota": {**quota, "share": share}}
    return parse_scenario(d)


def region_scenarios(ns: NationalScenario, base: Path) -> list[tuple[str, object, str]]:
    """(region, region scenario, parameters used) for every region of the membership."""
    defaults = load_scenario(base / ns.defaults)
    if ns.default_overrides:
        defaults = _with_overrides(defaults, ns.default_overrides, "default_overrides")
    defaults = defaults.model_dump(mode="python")
    calibrated = {
        label: load_scenario(base / p).model_dump(mode="python")
        for label, p in ns.calibrated.items()
    }
    names = municipalities().set_index("code")["corop_name"]
    members = membership(ns.membership, base)
    unknown = [r for r in ns.regions if r not in members]
    if unknown:
        raise ScenarioError(f"regions: unknown region {unknown[0]!r} (known: {', '.join(members)})")
    unknown = [r for r in ns.region_overrides if r not in members]
    if unknown:
        raise ScenarioError(f"region_overrides: unknown region {unknown[0]!r}")
    out = []
    for reg, codes in members.items():
        if ns.regions and reg not in ns.regions:
            continue
        label, template = "national_default", defaults
        for cal_label, d in calibrated.items():
            if set(codes) <= set(d["municipalities"]):
                label, template = f"calibrated:{cal_label}", d
                break
        title = f"{reg} {names[codes[0]]}" if ns.membership == "corop" else reg
        scenario = _for_region(template, codes, title, ns)
        if ns.region_overrides.get(reg):
            where = f"region_overrides.{reg}"
            scenario = _with_overrides(scenario, ns.region_overrides[reg], where)
            label = f"{label}+{REGION_FIT}"
        out.append((reg, scenario, label))
    return out


REGION_FIT = "fitted"  # suffix of the parameters label of a region with region_overrides


def takes_defaults(label: str) -> bool:
    """Whether a region with this parameters label runs on the national defaults (with or
    without values fitted to its own figures)."""
    return label.split("+")[0] == "national_default"


def _with_overrides(scenario, overrides: dict[str, float], where: str):
    params = [Parameter(path, -math.inf, math.inf) for path in overrides]
    try:
        return with_parameters(scenario, params, list(overrides.values()))
    except ScenarioError as err:
        raise ScenarioError(f"{where}: {err}") from None


def _region_seed(seed: int, region: str) -> np.random.SeedSequence:
    """Each region's seed, keyed by its name (adding a region changes no other)."""
    return np.random.SeedSequence(seed, spawn_key=(zlib.crc32(region.encode("utf-8")),))


def _run_region(task) -> tuple[dict, list[dict], list[dict]]:
    """One region: its totals, its municipality rows and its values of the national
    holdouts that lie in it, `patterns` (small, picklable)."""
    from woonsim.measures import observe
    from woonsim.region.cells import KINDS
    from woonsim.simulate import run

    region, scenario, label, seed, *rest = task
    patterns = rest[0] if rest else []
    res = run(scenario, _region_seed(seed, region))
    observed = [
        {**p, "region": region, "parameters": label,
         "simulated": observe(res, p["measure"], p["group"], tuple(p["area"].split(";")),
                              p["statistic"] or "mean")}
        for p in patterns
    ]  # fmt: skip
    m, b = res, res.base
    s = res.summary()
    r = s["region"]
    housed = (b.reason == 0) & res._reported(b.exit)
    sh = m.seekers.kind == KINDS["statushouder"]
    backlog = res.statushouder_backlog()[-1]
    row = {
        "region": region,
        "name": scenario.name,
        "parameters": label,
        "municipalities": len(scenario.municipalities),
        "corporation_stock_2025": int(sum(x.corporation_start for x in m.munis)),
        "lettings_per_year": r["lettings_per_year"],
        "statushouder_lettings_per_year": float((housed & sh).sum() / scenario.years),
        "aandachtsgroep_share_of_lettings": r["aandachtsgroep_share_of_lettings"],
        "active_seekers_per_year": r["active_seekers_per_year"],
        "statushouder_backlog_end": float(backlog.sum()),
        "window_stationary": bool(s["stationarity"]["stationary"]),
    }
    for g in ("starters", "doorstromers"):
        st = s["groups"].get(g, {}).get("search_time_at_letting")
        rt = s["groups"].get(g, {}).get("registration_time_at_letting")
        row[f"median_search_time_{g}"] = st and st["median"]
        row[f"median_registration_time_{g}"] = rt and rt["median"]
    munis = []
    for k, (x, mu, bl) in enumerate(zip(m.munis, s["municipalities"], backlog, strict=True)):
        munis.append(
            {
                "municipality": x.code,
                "name": x.name,
                "region": region,
                "parameters": label,
                "lettings_per_year": mu["lettings"] / scenario.years,
                "aandachtsgroep_lettings_per_year": mu["aandachtsgroep_lettings"] / scenario.years,
                "priority_lettings_per_year": (res.priority_share([k]) or 0.0)
                * mu["lettings"]
                / scenario.years,
                "social_share_start": mu["social_share_start"],
                "social_share_end": mu["social_share_end"],
                "statushouder_backlog_end": float(bl),
                "median_registration_time": (mu["registration_time_at_letting"] or {}).get(
                    "median"
                ),
                "median_search_time": (mu["search_time_at_letting"] or {}).get("median"),
            }
        )
    return row, munis, observed


def _run_regions(tasks: list, executor: Executor | None, progress) -> list:
    # largest regions first, so that a pool is not left waiting on one big region
    stock = municipalities().set_index("code")["corporation_2025"]
    tasks = sorted(tasks, key=lambda t: -stock[t[1].municipalities].sum())
    results = []
    mapper = executor.map if executor is not None else map
    for k, res in enumerate(mapper(_run_region, tasks), start=1):
        results.append(res)
        if progress:
            progress(k, len(tasks))
    return results


DEFAULT_FIT = {  # national default -> the national figure it is fitted to
    "flows.departure_rate": "lettings_per_year",
    "groups[urgent].inflow_per_1000_households": "priority_share_43_largest",
}


def largest_municipalities(n: int = 43) -> list[str]:
    """The n most populous municipalities (CBS, 1 Jan 2024): the stand-in for NOS's "43
    largest municipalities" (2022), whose list the reference does not give (ASSUMPTION)."""
    m = municipalities().sort_values(["population_2024", "code"], ascending=[False, True])
    return sorted(m["code"].head(n))


def _national_figures(results: list) -> np.ndarray:
    """(lettings per year, priority lettings per year in the 43 largest municipalities,
    lettings per year there) summed over region results of `_run_region`."""
    largest = set(largest_municipalities())
    total = sum(row["lettings_per_year"] for row, *_ in results)
    mine = [m for _, ms, _ in results for m in ms if m["municipality"] in largest]
    return np.array(
        [
            total,
            sum(m["priority_lettings_per_year"] for m in mine),
            sum(m["lettings_per_year"] for m in mine),
        ]
    )


def fit_defaults(
    ns: NationalScenario,
    base: Path,
    seed: int,
    targets: dict[str, float] | None = None,
    executor: Executor | None = None,
    progress: Callable[[str], None] | None = None,
    rtol: tuple[float, float] = (0.005, 0.02),
    max_evaluations: int = 8,
) -> dict:
    """Fit the national defaults' departure rate and urgent inflow (`DEFAULT_FIT`) to the
    national lettings (CBS 2023, 161,000) and the priority share of lettings in the 43
    largest municipalities (NOS 2022, 27%), by `RelativeRoot` on the regions that take
    the defaults (the calibrated regions keep their own fits and are run once). Every
    evaluation uses the same seeds (common random numbers). `targets` replaces the
    observed figures (for tests). Returns the fitted values and every evaluation."""
    if ns.regions:
        raise ScenarioError("regions: fitting the national lettings needs every region")
    targets = {
        **{k: NATIONAL_CHECKS[k]["observed"] for k in DEFAULT_FIT.values()},
        **(targets or {}),
    }
    tasks = [(r, sc, label, seed) for r, sc, label in region_scenarios(ns, base)]
    fixed = _national_figures(
        _run_regions([t for t in tasks if not takes_defaults(t[2])], executor, None)
    )
    defaults = load_scenario(base / ns.defaults)
    paths = list(DEFAULT_FIT)
    start = [ns.default_overrides.get(p, _current_value(defaults, p)) for p in paths]
    observed = np.array([targets[DEFAULT_FIT[p]] for p in paths])

    def figures(values) -> np.ndarray:
        update = {**ns.default_overrides, **dict(zip(paths, map(float, values), strict=True))}
        trial = ns.model_copy(update={"default_overrides": update})
        own = [
            (reg, sc, label, seed)
            for reg, sc, label in region_scenarios(trial, base)
            if takes_defaults(label)
        ]
        lettings, priority, largest = fixed + _national_figures(_run_regions(own, executor, None))
        return np.array([lettings, priority / largest])

    solver = RelativeRoot(start, np.array(rtol), max_evaluations)
    history = []
    while not solver.done:
        x = solver.ask()
        f = figures(x)
        solver.tell(f / observed - 1)
        history.append({"values": dict(zip(paths, map(float, x), strict=True)),
                        **dict(zip(DEFAULT_FIT.values(), map(float, f), strict=True))})  # fmt: skip
        if progress:
            progress(
                f"national fit: evaluation {len(history)}, "
                + ", ".join(f"{p} {v:.4g}" for p, v in zip(paths, x, strict=True))
                + " -> "
                + ", ".join(f"{k} {v:.4g}" for k, v in zip(DEFAULT_FIT.values(), f, strict=True))
            )
    b = solver.best_index()
    best = history[b]
    return {
        "parameters": dict(DEFAULT_FIT),
        "fitted": dict(best["values"]),
        "targets": {k: float(v) for k, v in targets.items()},
        "at_fit": {k: best[k] for k in DEFAULT_FIT.values()},
        "relative_errors": dict(
            zip(DEFAULT_FIT.values(), map(float, solver.values[b]), strict=True)
        ),
        "calibrated_regions": {
            "lettings_per_year": float(fixed[0]),
            "priority_lettings_per_year_43_largest": float(fixed[1]),
            "lettings_per_year_43_largest": float(fixed[2]),
        },
        "evaluations": history,
    }


def _current_value(scenario, path: str) -> float:
    from woonsim_experiments.calibrate import _current

    return float(_current(scenario, Parameter(path, -math.inf, math.inf)))


class RelativeRoot:
    """Broyden's method for a square system of relative errors, F(x) = simulated / observed
    - 1 = 0, solved as log(simulated / observed) = 0 in log parameters (every parameter
    stays positive, and a power law is linear there), asked and told one point at a time
    so that many regions can be solved in lockstep on one executor. The first n + 1 points
    give a forward-difference Jacobian (steps of a factor `step_factor`); each later point
    is a quasi-Newton step from the best point so far, at most a factor `max_factor` per
    parameter. Done when every |F| is within its `rtol` (one, or one per figure), or after
    `max_evaluations`; `best` is the point with the smallest largest |F| / rtol."""

    def __init__(self, x0, rtol=0.02, max_evaluations=8, step_factor=1.3, max_factor=3.0):
        self.u0 = np.log(np.asarray(x0, dtype=float))
        self.n = len(self.u0)
        self.rtol = np.broadcast_to(np.asarray(rtol, dtype=float), self.u0.shape)
        self.max_evaluations = max_evaluations
        self.h, self.cap = math.log(step_factor), math.log(max_factor)
        self.points: list[np.ndarray] = []  # log x of every evaluation
        self.values: list[np.ndarray] = []  # F of every evaluation
        self.jacobian: np.ndarray | None = None  # d log(sim/obs) / d log x
        self._logs: list[np.ndarray] = []
        self._next = self.u0.copy()

    @property
    def done(self) -> bool:
        if not self.values:
            return False
        return len(self.values) >= self.max_evaluations or bool(
            np.all(np.abs(self.values[-1]) <= self.rtol)
        )

    def best_index(self) -> int:
        """The evaluation with the smallest largest |F| / rtol."""
        return int(np.argmin([np.max(np.abs(f) / self.rtol) for f in self.values]))

    @property
    def best(self) -> tuple[np.ndarray, np.ndarray]:
        k = self.best_index()
        return np.exp(self.points[k]), self.values[k]

    def ask(self) -> np.ndarray:
        return np.exp(self._next)

    def tell(self, f) -> None:
        f = np.asarray(f, dtype=float)
        self.points.append(self._next)
        self.values.append(f)
        self._logs.append(np.log(np.maximum(1 + f, 1e-9)))
        k = len(self.values)
        if k <= self.n:  # the forward differences: point k perturbs parameter k - 1
            self._next = self.u0.copy()
            self._next[k - 1] += self.h
            return
        if self.jacobian is None:
            g0 = self._logs[0]
            cols = [(self._logs[i + 1] - g0) / self.h for i in range(self.n)]
            self.jacobian = np.column_stack(cols)
        else:
            du, dg = self.points[-1] - self.points[-2], self._logs[-1] - self._logs[-2]
            j = self.jacobian
            self.jacobian = j + np.outer(dg - j @ du, du) / float(du @ du)
        b = self.best_index()
        try:
            du = -np.linalg.solve(self.jacobian, self._logs[b])
        except np.linalg.LinAlgError:
            du = -np.linalg.lstsq(self.jacobian, self._logs[b], rcond=None)[0]
        self._next = self.points[b] + np.clip(du, -self.cap, self.cap)


def _observe_region(task) -> list[float]:
    """One region run: its values of `rows` (national targets), then 1.0 if its reported
    window is stationary."""
    from woonsim.measures import observe
    from woonsim.simulate import run

    region, scenario, seed, rows = task
    res = run(scenario, _region_seed(seed, region))
    values = []
    for p in rows:
        area = tuple(p["area"].split(";"))
        values.append(observe(res, p["measure"], p["group"], area, p["statistic"] or "mean"))
    return [*values, float(res.summary()["stationarity"]["stationary"])]


def fit_regions(
    ns: NationalScenario,
    base: Path,
    seed: int,
    executor: Executor | None = None,
    progress: Callable[[str], None] | None = None,
    check_replications: int = 4,
    rtol: float = 0.02,
    max_evaluations: int = 8,
    targets: pd.DataFrame | None = None,
) -> dict:
    """Fit, in every region that `ns.region_overrides` names, the parameters it names
    (their values are the start) to the `use: fit` rows of national_targets.csv that lie in
    the region: as many figures as parameters, solved by `RelativeRoot` with the region's
    national seed (common random numbers). Then a check table: the fitted values with
    `check_replications` fresh seeds (seed + 1, seed + 2, ...), mean and 95% t-interval.
    Returns {region: record} with the start, the fitted values, every evaluation and the
    check table. `targets`: another table of national targets (for tests)."""
    from scipy import stats

    if ns.regions:
        raise ScenarioError("regions: --fit-regions runs the regions of region_overrides itself")
    rows = national_targets() if targets is None else targets
    fit_rows = rows[rows["use"] == "fit"].to_dict("records")
    plain = ns.model_copy(update={"region_overrides": {}})
    scenarios = {r: (sc, label) for r, sc, label in region_scenarios(plain, base)}
    problems = {}
    for reg, (sc, _) in scenarios.items():
        mine = [p for p in fit_rows if set(p["area"].split(";")) <= set(sc.municipalities)]
        names = list(ns.region_overrides.get(reg, {}))
        if mine and len(mine) != len(names):
            raise ScenarioError(
                f"region_overrides.{reg}: {len(names)} parameter(s) for {len(mine)} fit "
                "target(s) in national_targets.csv; name one parameter per target"
            )
        if mine:
            problems[reg] = (mine, names)
    for reg in ns.region_overrides:
        if reg not in problems:
            raise ScenarioError(f"region_overrides.{reg}: no fit target of national_targets.csv")
    mapper = executor.map if executor is not None else map

    def scenario_at(reg, values):
        names = problems[reg][1]
        overrides = dict(zip(names, (float(v) for v in values), strict=True))
        return _with_overrides(scenarios[reg][0], overrides, f"region_overrides.{reg}")

    solvers = {
        reg: RelativeRoot(list(ns.region_overrides[reg].values()), rtol, max_evaluations)
        for reg in problems
    }
    while not all(s.done for s in solvers.values()):
        todo = [reg for reg, s in solvers.items() if not s.done]
        tasks = [
            (reg, scenario_at(reg, solvers[reg].ask()), seed, problems[reg][0]) for reg in todo
        ]
        for reg, out in zip(todo, mapper(_observe_region, tasks), strict=True):
            observed = np.array([p["value"] for p in problems[reg][0]])
            solvers[reg].tell(np.array(out[:-1]) / observed - 1)
            if progress:
                progress(
                    f"{reg}: evaluation {len(solvers[reg].values)}, "
                    + ", ".join(f"{v:.4g}" for v in np.exp(solvers[reg].points[-1]))
                    + " -> "
                    + ", ".join(f"{e:+.1%}" for e in solvers[reg].values[-1])
                )
    fitted = {reg: s.best[0] for reg, s in solvers.items()}
    seeds = [seed + 1 + k for k in range(check_replications)]
    tasks = [
        (reg, scenario_at(reg, fitted[reg]), s, problems[reg][0]) for reg in solvers for s in seeds
    ]
    outs = list(mapper(_observe_region, tasks))
    t = stats.t.ppf(0.975, check_replications - 1) if check_replications > 1 else math.nan
    result = {}
    for i, (reg, s) in enumerate(solvers.items()):
        mine, names = problems[reg]
        block = np.array(outs[i * len(seeds) : (i + 1) * len(seeds)])
        table = []
        for k, p in enumerate(mine):
            x = block[:, k]
            half = t * x.std(ddof=1) / math.sqrt(len(x)) if len(x) > 1 else math.nan
            table.append(
                {
                    "measure": p["measure"],
                    "area": p["area"],
                    "observed": float(p["value"]),
                    "simulated": float(x.mean()),
                    "ci95_low": float(x.mean() - half),
                    "ci95_high": float(x.mean() + half),
                    "relative_error": float(x.mean() / p["value"] - 1),
                    "tolerance": float(p["tolerance"]),
                    "within": bool(abs(x.mean() / p["value"] - 1) <= p["tolerance"]),
                    "source": p["source"],
                }
            )
        result[reg] = {
            "parameters_of": scenarios[reg][1],
            "start": dict(zip(names, map(float, ns.region_overrides[reg].values()), strict=True)),
            "fitted": dict(zip(names, map(float, fitted[reg]), strict=True)),
            "relative_errors_at_fit": [float(e) for e in s.best[1]],
            "evaluations": [
                {"values": [float(v) for v in np.exp(u)], "relative_errors": [float(e) for e in f]}
                for u, f in zip(s.points, s.values, strict=True)
            ],
            "check_seeds": seeds,
            "check": table,
            "check_stationary_share": float(block[:, -1].mean()),
        }
    return result


def _patterns(rows: list[dict], munis: pd.DataFrame) -> pd.DataFrame:
    """The national holdouts beside the model's values: observed, simulated, relative
    error, tolerance and whether it is within (|error| <= tolerance)."""
    names = munis.set_index("municipality")["name"].to_dict()
    out = pd.DataFrame(
        [
            {
                "measure": p["measure"],
                "area": p["area"],
                "name": "; ".join(names.get(c, c) for c in p["area"].split(";")),
                "region": p["region"],
                "parameters": p["parameters"],
                "use": p["use"],
                "statistic": p["statistic"],
                "observed": p["value"],
                "simulated": p["simulated"],
                "relative_error": p["simulated"] / p["value"] - 1,
                "tolerance": p["tolerance"],
                "within": abs(p["simulated"] / p["value"] - 1) <= p["tolerance"],
                "year": p["year"],
                "source": p["source"],
            }
            for p in rows
        ]
    )
    return out.sort_values(["measure", "area"], ignore_index=True) if len(out) else out


def run_national(
    ns: NationalScenario,
    base: Path,
    seed: int,
    executor: Executor | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Run every region (in parallel on `executor`); returns the region and municipality
    tables (DataFrames) and the national totals beside the national statistics."""
    holdouts = national_targets()
    tasks = []
    for r, sc, label in region_scenarios(ns, base):
        mine = [
            p
            for p in holdouts.to_dict("records")
            if set(p["area"].split(";")) <= set(sc.municipalities)
        ]
        tasks.append((r, sc, label, seed, mine))
    results = _run_regions(tasks, executor, progress)
    regions = pd.DataFrame([r for r, *_ in results]).sort_values("region", ignore_index=True)
    munis = pd.DataFrame([m for _, ms, _ in results for m in ms]).sort_values(
        "municipality", ignore_index=True
    )
    patterns = _patterns([p for *_, ps in results for p in ps], munis)
    cbs = municipalities()
    below_cbs = int((cbs["corporation_share_2025"] < 0.30).sum())
    lettings = float(regions["lettings_per_year"].sum())
    big = munis[munis["municipality"].isin(largest_municipalities())]
    checks = [
        {
            "measure": "lettings_per_year",
            "simulated": lettings,
            **NATIONAL_CHECKS["lettings_per_year"],
            "note": "fitted: the national defaults' departure rate is set to match it"
            if "flows.departure_rate" in ns.default_overrides
            else "",
        },
        {
            "measure": "statushouder_share_of_lettings",
            "simulated": float(regions["statushouder_lettings_per_year"].sum() / lettings),
            **NATIONAL_CHECKS["statushouder_share_of_lettings"],
        },
        {
            "measure": "priority_share_43_largest",
            "simulated": float(
                big["priority_lettings_per_year"].sum() / big["lettings_per_year"].sum()
            ),
            **NATIONAL_CHECKS["priority_share_43_largest"],
            "note": "fitted: the national defaults' urgent inflow is set to match it"
            if "groups[urgent].inflow_per_1000_households" in ns.default_overrides
            else "",
        },
        {
            "measure": "municipalities_below_30pct_social",
            "simulated": int((munis["social_share_start"] < 0.30).sum()),
            **{**NATIONAL_CHECKS["municipalities_below_30pct_social"], "observed": below_cbs},
            "note": f"at the start of the reported period; at its end: "
            f"{int((munis['social_share_end'] < 0.30).sum())} of {len(munis)}",
        },
    ]
    if ns.regions:
        note = f"not comparable: {len(regions)} of the regions only (`regions`)"
        checks = [{**c, "note": note} for c in checks]
    totals = national_totals()
    return {
        "regions": regions,
        "municipalities": munis,
        "patterns": patterns,
        "checks": checks,
        "national": {
            "municipalities": len(munis),
            "regions": len(regions),
            "corporation_stock_2025": int(regions["corporation_stock_2025"].sum()),
            "cbs_corporation_stock_2025": totals["nederland_2025"]["corporation"],
            "regions_with_national_defaults": int(regions["parameters"].map(takes_defaults).sum()),
        },
    }
