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
    "fit_default_departure_rate",
    "load_national",
    "membership",
    "region_scenarios",
    "run_national",
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
        params = [Parameter(path, -math.inf, math.inf) for path in ns.default_overrides]
        try:
            defaults = with_parameters(defaults, params, list(ns.default_overrides.values()))
        except ScenarioError as err:
            raise ScenarioError(f"default_overrides: {err}") from None
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
        out.append((reg, _for_region(template, codes, title, ns), label))
    return out


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
    for x, mu, bl in zip(m.munis, s["municipalities"], backlog, strict=True):
        munis.append(
            {
                "municipality": x.code,
                "name": x.name,
                "region": region,
                "parameters": label,
                "lettings_per_year": mu["lettings"] / scenario.years,
                "aandachtsgroep_lettings_per_year": mu["aandachtsgroep_lettings"] / scenario.years,
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


def fit_default_departure_rate(
    ns: NationalScenario,
    base: Path,
    seed: int,
    target: float = NATIONAL_CHECKS["lettings_per_year"]["observed"],
    executor: Executor | None = None,
    progress: Callable[[int, float, float], None] | None = None,
    rtol: float = 0.005,
    max_evaluations: int = 8,
) -> dict:
    """The national defaults' departure rate at which the national lettings per year equal
    `target` (CBS 2023), by the secant method on the regions that take the defaults (the
    calibrated regions keep their own fits and are run once). Every evaluation uses the
    same seeds (common random numbers), so lettings are a deterministic function of the
    rate. Stops when within `rtol` of the target; returns the evaluations and the rate."""
    if ns.regions:
        raise ScenarioError("regions: fitting the national lettings needs every region")
    tasks = [(r, sc, label, seed) for r, sc, label in region_scenarios(ns, base)]
    fixed = sum(
        row["lettings_per_year"]
        for row, *_ in _run_regions(
            [t for t in tasks if t[2] != "national_default"], executor, None
        )
    )
    path = "flows.departure_rate"
    rate = ns.default_overrides.get(path, load_scenario(base / ns.defaults).flows.departure_rate)

    def lettings(r: float) -> float:
        trial = ns.model_copy(update={"default_overrides": {**ns.default_overrides, path: r}})
        own = [
            (reg, sc, label, seed)
            for reg, sc, label in region_scenarios(trial, base)
            if label == "national_default"
        ]
        return fixed + sum(
            row["lettings_per_year"] for row, *_ in _run_regions(own, executor, None)
        )

    history = []
    x0, f0 = rate, lettings(rate) - target
    history.append((x0, f0 + target))
    if progress:
        progress(1, x0, f0 + target)
    # first step: lettings of the default regions taken as proportional to the rate
    x1 = x0 * (1 - f0 / (f0 + target - fixed))
    while len(history) < max_evaluations and abs(f0) > rtol * target:
        f1 = lettings(x1) - target
        history.append((x1, f1 + target))
        if progress:
            progress(len(history), x1, f1 + target)
        if abs(f1) <= rtol * target or f1 == f0:
            x0, f0 = x1, f1
            break
        x0, f0, x1 = x1, f1, x1 - f1 * (x1 - x0) / (f1 - f0)
    return {
        "parameter": path,
        "fitted": float(x0),
        "target": float(target),
        "lettings_at_fit": float(f0 + target),
        "relative_error": float(f0 / target),
        "calibrated_regions_lettings": float(fixed),
        "evaluations": [{"departure_rate": x, "lettings_per_year": y} for x, y in history],
    }


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
            "regions_with_national_defaults": int(
                (regions["parameters"] == "national_default").sum()
            ),
        },
    }
