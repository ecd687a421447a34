"""Experiment files: policy variants of one base scenario, replicated with common random
numbers, optionally over a design of uncertain parameters.

An experiment is data (YAML), validated like a scenario: strict types, no unknown keys,
and one-line `ScenarioError` messages that name the field. Every variant at every design
point is expanded into a scenario and validated when the file is loaded, so a bad lever
value fails before any run starts.

    name: Quota for aandachtsgroepen, Haaglanden
    base: scenarios/haaglanden.yaml        # relative to the experiment file
    horizon: {burn_in_years: 5, years: 10} # optional override of the base scenario's
    replications: 8
    root_seed: 20251125
    paired: true                           # common random numbers (default)
    baseline: current practice
    variants:
      - {name: current practice, set: {}}
      - {name: 30% floor, set: {allocation.quota: {share: 0.30, mode: floor}}}
    levers:                                # optional full-factorial grid of extra variants
      allocation.quota.share: [0.1, 0.2]   # named "allocation.quota.share=0.1", ...
    uncertainties:                         # optional, sampled per design point
      - {path: flows.departure_rate, low: 0.02, high: 0.03}
    design: {kind: lhs, samples: 4}        # factorial (levels) | lhs | sobol (samples)

Paths name a scenario value with dots: ``allocation.quota.share``,
``groups[starters].weekly_activity`` (``groups[a|b].x`` sets both groups; quote such a
path inside ``{...}``, where YAML reads ``[`` as a list). A value may be
a number, string, boolean, list or mapping; a mapping given for a section of the scenario
(``allocation.quota: {share: 0.3, mode: floor}``) updates the keys it names and keeps the
base's other keys.

On a national base (`kind: national`) every variant runs in every region of the country;
``regions: [CR02, CR31]`` keeps the named regions of its membership.

Seeds: replication r at design point p has seed ``SeedSequence(root_seed,
spawn_key=(p, r))`` in every variant (paired), so everything a policy does not touch
(arrivals, household attributes, departures, ...) is identical between variants. With
``paired: false`` variant v gets ``SeedSequence(root_seed, spawn_key=(p, r, 1 + v))``.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from woonsim import __version__
from woonsim.errors import ScenarioError
from woonsim.paths import locate, set_path
from woonsim.scenario import parse_scenario
from woonsim.spec import Horizon, Spec, one_line
from woonsim.yaml_loader import read_yaml

__all__ = [
    "Design",
    "Experiment",
    "ExperimentSpec",
    "Horizon",
    "RunSpec",
    "Uncertainty",
    "Variant",
    "load_experiment",
    "parse_experiment",
    "run_id",
]

Name = Annotated[str, Field(min_length=1, max_length=1000)]

# Bounds of an experiment's size (README, "Bounds"): checked from the counts before
# anything is expanded, so a huge design is refused at once, not after minutes.
MAX_REPLICATIONS = 10_000
MAX_VARIANTS = 1_000  # listed variants plus the lever grid
MAX_POINTS = 10_000  # design points
MAX_SCENARIOS = 20_000  # variants x design points (each validated when the file is read)
MAX_RUNS = 100_000  # variants x points x replications (x regions, national)

# the spawn key of the design's own random stream (run seeds have keys of length 2 or 3)
_DESIGN_KEY = zlib.crc32(b"design")


class Variant(Spec):
    """A policy variant: values set on the base scenario, by path."""

    name: Name  # the variant's name, on the report
    set: dict[str, Any] = Field(default_factory=dict)  # path -> value set on the base scenario


class Uncertainty(Spec):
    """A scenario value that varies over the design points, within [low, high]."""

    path: Name  # the scenario value, by path
    low: float  # lower end of its range
    high: float  # upper end of its range

    @model_validator(mode="after")
    def _ordered(self) -> Uncertainty:
        if not (math.isfinite(self.low) and math.isfinite(self.high)):
            raise ValueError("low: low and high must be finite numbers")
        if not self.low < self.high:
            raise ValueError(f"high: must be above low ({self.high:g} <= {self.low:g})")
        return self


class Design(Spec):
    """How the uncertainties are sampled: a full `factorial` grid of `levels` evenly
    spaced values each, or `samples` points of a Latin hypercube (`lhs`) or a scrambled
    Sobol sequence (`sobol`, a power of 2), seeded from the experiment's root seed."""

    kind: Literal["factorial", "lhs", "sobol"]  # factorial grid, Latin hypercube or Sobol sequence
    samples: Annotated[int, Field(ge=1, le=MAX_POINTS)] | None = None  # points (lhs, sobol)
    # values per uncertainty (factorial)
    levels: Annotated[int, Field(ge=2, le=MAX_POINTS)] | None = None

    @model_validator(mode="after")
    def _sizes(self) -> Design:
        if self.kind == "factorial":
            if self.levels is None:
                raise ValueError("levels: required for kind factorial")
            if self.samples is not None:
                raise ValueError("samples: not used by kind factorial (give levels)")
        else:
            if self.samples is None:
                raise ValueError(f"samples: required for kind {self.kind}")
            if self.levels is not None:
                raise ValueError(f"levels: only used by kind factorial, not {self.kind}")
            if self.kind == "sobol" and self.samples & (self.samples - 1):
                raise ValueError(f"samples: sobol needs a power of 2 (got {self.samples})")
        return self


def _fmt(value: Any) -> str:
    """A lever value as written in a variant name."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def run_id(variant: int, point: int, replication: int) -> str:
    return f"v{variant:02d}-p{point:03d}-r{replication:03d}"


@dataclass(frozen=True)
class RunSpec:
    """One run of an experiment: everything a worker needs, and its identity."""

    run: str  # "v01-p000-r003"
    variant: str
    variant_index: int
    point: int
    replication: int
    values: dict[str, Any]  # the design point's uncertainty values, by path
    scenario: Any = field(repr=False)  # a validated RegionScenario
    seed: np.random.SeedSequence = field(repr=False)
    experiment_sha256: str = ""
    region: str = ""  # national experiments: the region this run is of
    parameters: str = ""  # national experiments: which parameters the region takes


class ExperimentSpec(Spec):
    """An experiment file as written (see the module docstring), validated on its own;
    `parse_experiment` resolves it into an `Experiment`."""

    name: Name  # a label, on the report
    # what the experiment asks; shown on the report
    description: Annotated[str, Field(max_length=100_000)] = ""
    base: Name  # the base scenario (region or national), relative to this file
    horizon: Horizon | None = None  # override of the base scenario's burn-in and years
    # paired replications per variant and design point
    replications: Annotated[int, Field(ge=1, le=MAX_REPLICATIONS)]
    root_seed: Annotated[int, Field(ge=0, le=2**63 - 1)]  # every run's seed derives from it
    paired: bool = True  # common random numbers across variants
    baseline: Name  # the variant every other one is compared with
    # policy variants: values set on the base scenario
    variants: Annotated[list[Variant], Field(max_length=MAX_VARIANTS)] = Field(default_factory=list)
    # a full-factorial grid of extra variants: path -> values
    levers: Annotated[
        dict[str, Annotated[list[Any], Field(min_length=1, max_length=MAX_VARIANTS)]],
        Field(max_length=20),
    ] = Field(default_factory=dict)
    # values sampled per design point
    uncertainties: Annotated[list[Uncertainty], Field(max_length=50)] = Field(default_factory=list)
    design: Design | None = None  # how the uncertainties are sampled
    # a national base only: run these regions of its membership (empty: every region)
    regions: Annotated[list[str], Field(max_length=50)] = Field(default_factory=list)

    @property
    def n_variants(self) -> int:
        """Listed variants plus the lever grid's, counted without expanding the grid."""
        return len(self.variants) + (
            math.prod(len(v) for v in self.levers.values()) if self.levers else 0
        )

    @property
    def n_points(self) -> int:
        """Design points, counted without drawing them."""
        d = self.design
        if d is None or not self.uncertainties:
            return 1
        return d.levels ** len(self.uncertainties) if d.kind == "factorial" else d.samples

    @model_validator(mode="after")
    def _consistent(self) -> ExperimentSpec:
        n_v, n_p = self.n_variants, self.n_points
        if n_v > MAX_VARIANTS:
            where = "levers" if self.levers else "variants"
            raise ValueError(
                f"{where}: {n_v:,} variants (listed plus the lever grid), more than the "
                f"{MAX_VARIANTS:,} an experiment may have"
            )
        if n_p > MAX_POINTS:
            raise ValueError(
                f"design: {n_p:,} design points, more than the {MAX_POINTS:,} an "
                "experiment may have"
            )
        if n_v * n_p > MAX_SCENARIOS:
            raise ValueError(
                f"design: {n_v:,} variants x {n_p:,} design points = {n_v * n_p:,} "
                f"scenarios, more than {MAX_SCENARIOS:,}"
            )
        if n_v * n_p * self.replications > MAX_RUNS:
            raise ValueError(
                f"replications: {n_v:,} variants x {n_p:,} design points x "
                f"{self.replications:,} replications = {n_v * n_p * self.replications:,} "
                f"runs, more than the {MAX_RUNS:,} a sweep may have"
            )
        names = self.variant_names
        if not names:
            raise ValueError("variants: needs at least one variant (or levers)")
        n_given = len(self.variants)
        for i, n in enumerate(names):
            if n in names[:i]:
                where = f"variants[{i}].name" if i < n_given else "levers"
                raise ValueError(f"{where}: duplicate variant name {n!r}")
        if self.baseline not in names:
            raise ValueError(f"baseline: {self.baseline!r} is not a variant")
        paths = [u.path for u in self.uncertainties]
        for i, p in enumerate(paths):
            if p in paths[:i]:
                raise ValueError(f"uncertainties[{i}].path: {p!r} listed twice")
            if p in self.levers:
                raise ValueError(f"uncertainties[{i}].path: {p!r} is also a lever")
            for j, v in enumerate(self.variants):
                if p in v.set:
                    raise ValueError(f"uncertainties[{i}].path: {p!r} is also set by variants[{j}]")
        if self.uncertainties and self.design is None:
            raise ValueError("design: required when uncertainties are given")
        if self.design is not None and not self.uncertainties:
            raise ValueError("design: no uncertainties to sample")
        return self

    # --- the expansion ----------------------------------------------------------------
    @property
    def variant_names(self) -> list[str]:
        """Names of the variants: the listed ones, then the lever grid's."""
        names = [v.name for v in self.variants]
        paths = list(self.levers)
        if not paths:
            return names
        for combo in itertools.product(*self.levers.values()):
            names.append(", ".join(f"{p}={_fmt(x)}" for p, x in zip(paths, combo, strict=True)))
        return names


@dataclass(frozen=True)
class Experiment:
    """An experiment resolved from its file: the spec, the base scenario with the
    experiment's horizon, every variant's settings, the design points and every validated
    run scenario. Build it with `load_experiment` or `parse_experiment`."""

    spec: ExperimentSpec
    base_scenario: Any  # a RegionScenario
    # [(name, [(path, value, field named in errors, prefix of path errors)])]
    variant_sets: list = field(repr=False)
    design_points: list = field(repr=False)
    # [variant][point]: a RegionScenario, or (national) {region: RegionScenario}
    scenarios: list = field(repr=False)
    sha256: str = ""  # identifies the spec, the resolved base scenario and the points
    # national experiments: (region, parameters used, municipality codes), largest first,
    # and the national scenario (`base_scenario` is then the largest region taking the
    # national defaults, whose groups and levers the analysis reads)
    regions: tuple = ()
    national_scenario: Any = None

    @property
    def national(self) -> bool:
        return bool(self.regions)

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def replications(self) -> int:
        return self.spec.replications

    @property
    def root_seed(self) -> int:
        return self.spec.root_seed

    @property
    def paired(self) -> bool:
        return self.spec.paired

    @property
    def baseline(self) -> str:
        return self.spec.baseline

    @property
    def variant_names(self) -> list[str]:
        return self.spec.variant_names

    @property
    def points(self) -> list[dict[str, Any]]:
        """The uncertainty values of each design point (``[{}]`` without uncertainties)."""
        return copy.deepcopy(self.design_points)

    def scenario(self, variant: int, point: int = 0):
        return self.scenarios[variant][point]

    def seed(
        self, variant: int, point: int, replication: int, region: str = ""
    ) -> np.random.SeedSequence:
        key = (point, replication) if self.paired else (point, replication, 1 + variant)
        if region:  # keyed by the region's name: adding a region changes no other
            key = (*key, zlib.crc32(region.encode("utf-8")))
        return np.random.SeedSequence(self.root_seed, spawn_key=key)

    def runs(self) -> list[RunSpec]:
        """Every run, ordered by (variant, point, replication) and, in a national
        experiment, region (largest first): one run per region."""
        names = self.variant_names
        areas = self.regions or (("", "", ()),)
        return [
            RunSpec(
                run=run_id(v, p, r) + (f"-{reg}" if reg else ""),
                variant=names[v],
                variant_index=v,
                point=p,
                replication=r,
                values=dict(self.design_points[p]),
                scenario=self.scenarios[v][p][reg] if reg else self.scenarios[v][p],
                seed=self.seed(v, p, r, reg),
                experiment_sha256=self.sha256,
                region=reg,
                parameters=label,
            )
            for v in range(len(names))
            for p in range(len(self.design_points))
            for r in range(self.replications)
            for reg, label, _ in areas
        ]

    def size(self):
        """(`woonsim.size.Size` of the largest run, estimated seconds of all runs on one
        core): what a sweep needs, before it starts."""
        from woonsim.size import estimate

        largest, seconds = None, 0.0
        for row in self.scenarios:
            for cell in row:
                for sc in cell.values() if isinstance(cell, dict) else (cell,):
                    s = estimate(sc)
                    seconds += s.seconds * self.replications
                    if largest is None or s.bytes > largest.bytes:
                        largest = s
        return largest, seconds

    def to_json(self) -> dict:
        """What a results folder's experiment.json holds (national: also `kind` and
        `regions`, each with its municipalities and the parameters it takes)."""
        out = {
            **self.spec.model_dump(mode="json"),
            "sha256": self.sha256,
            "version": __version__,
            "variant_sets": [
                {"name": name, "set": {p: x for p, x, *_ in sets}}
                for name, sets in self.variant_sets
            ],
            "points": self.design_points,
            "total_runs": len(self.runs()),
        }
        if not self.national:
            out["municipalities"] = list(self.base_scenario.municipalities)
            out["base_scenario"] = self.base_scenario.model_dump(mode="json")
            return out
        out["kind"] = "national"
        out["municipalities"] = sorted(c for _, _, codes in self.regions for c in codes)
        out["regions"] = {
            reg: {"parameters": label, "municipalities": list(codes)}
            for reg, label, codes in sorted(self.regions)
        }
        out["base_scenario"] = self.base_scenario.model_dump(mode="json")
        out["national_scenario"] = self.national_scenario.model_dump(mode="json")
        return out


# branches of a union type in pydantic's error locations ("share.constrained-float")
_BRANCH = re.compile(r"\.(?:constrained-[a-z]+|(?:dict|list)\[[^\]]*\])(?=$|[.\[])")


def _parse(d: dict):
    """`parse_scenario`, with union branches dropped from the error's location."""
    try:
        return parse_scenario(d)
    except ScenarioError as err:
        loc, sep, problem = str(err).partition(": ")
        raise ScenarioError(_BRANCH.sub("", loc) + sep + problem) from None


def _attribute(msg: str, where: list[tuple[str, list[str]]]) -> tuple[str, str, str] | None:
    """Which setting a scenario error concerns: (label, rest of the location, problem)."""
    loc, sep, problem = msg.partition(": ")
    if not sep:
        return None
    for label, locs in where:
        for c in locs:
            if loc == c or loc.startswith((c + ".", c + "[")):
                return label, loc[len(c) :], problem
    return None


# --- loading --------------------------------------------------------------------------
def parse_experiment(data: Any, base_dir: str | Path = ".", progress=None) -> Experiment:
    """Validate a parsed experiment mapping, resolve its base scenario (relative to
    `base_dir`) and validate every variant at every design point; raise `ScenarioError`
    with a one-line message naming the field. `progress(done, total)` is told how many
    scenarios are validated (a large design takes a while)."""
    from woonsim.scenario import load_scenario

    if not isinstance(data, dict):
        raise ScenarioError(f"experiment: expected a mapping of keys, got {type(data).__name__}")
    try:
        exp = ExperimentSpec.model_validate(data)
    except ValidationError as err:
        msg = one_line(err)
        if msg.startswith("scenario: "):
            msg = "experiment: " + msg.removeprefix("scenario: ")
        raise ScenarioError(msg) from None

    if _kind(Path(base_dir) / exp.base) == "national":
        return _parse_national(exp, Path(base_dir) / exp.base, progress)
    if exp.regions:
        raise ScenarioError("regions: only an experiment on a national base has regions")
    try:
        base = load_scenario(Path(base_dir) / exp.base)
    except ScenarioError as err:
        raise ScenarioError(f"base: {err}") from None
    if base.kind != "region":
        raise ScenarioError(f"base: the base scenario must be of kind region (got {base.kind})")
    if exp.horizon is not None:
        d = base.model_dump(mode="python")
        d.update(exp.horizon.model_dump(exclude_none=True))
        try:
            base = parse_scenario(d)
        except ScenarioError as err:
            raise ScenarioError(f"horizon: {err}") from None
    variants = _variant_settings(exp)
    _check_uncertainty_paths(exp, base)
    points = _design_points(exp, base.model_dump(mode="python"), base)
    scenarios = _expand(exp, base, variants, points, _Ticker(progress, _n_checks(variants, points)))
    canon = json.dumps(
        {
            "experiment": exp.model_dump(mode="json"),
            "base_scenario": base.model_dump(mode="json"),
            "points": points,
            **_provenance(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    sha = hashlib.sha256(canon.encode()).hexdigest()
    return Experiment(exp, base, variants, points, scenarios, sha)


def _provenance() -> dict:
    """What the experiment's sha256 covers beyond its files: the woonsim version and the
    shipped data, so that a resume after an upgrade does not mix results."""
    from woonsim import __version__
    from woonsim.data import data_digest

    return {"woonsim_version": __version__, "calibration_data_sha256": data_digest()}


def _kind(path: Path) -> str | None:
    """The `kind` a scenario file declares (None when it cannot be read: the loader that
    follows reports why)."""
    try:
        data = read_yaml(path)
    except ScenarioError:
        return None
    return data.get("kind") if isinstance(data, dict) else None


def _parse_national(exp: ExperimentSpec, path: Path, progress=None) -> Experiment:
    """A national base: every variant at every design point applied to every region's
    scenario (`woonsim_experiments.national.region_scenarios`), each validated."""
    from woonsim_experiments.national import load_national, region_scenarios

    try:
        ns, folder = load_national(path)
        if exp.horizon is not None:
            ns = ns.model_copy(update=exp.horizon.model_dump(exclude_none=True))
        if exp.regions:
            ns = ns.model_copy(update={"regions": exp.regions})
        regions = region_scenarios(ns, folder)
    except ScenarioError as err:
        raise ScenarioError(f"base: {err}") from None
    stock = _corporation_stock()
    regions.sort(key=lambda x: (-sum(stock.get(c, 0) for c in x[1].municipalities), x[0]))
    variants = _variant_settings(exp)
    first = regions[0][1]
    _check_uncertainty_paths(exp, first)
    points = _design_points(exp, first.model_dump(mode="python"), first)
    runs = exp.n_variants * exp.n_points * exp.replications * len(regions)
    if runs > MAX_RUNS:
        raise ScenarioError(
            f"replications: {exp.n_variants:,} variants x {exp.n_points:,} design points x "
            f"{exp.replications:,} replications x {len(regions)} regions = {runs:,} runs, "
            f"more than the {MAX_RUNS:,} a sweep may have"
        )
    per_region = {}
    tick = _Ticker(progress, _n_checks(variants, points) * len(regions))
    for reg, sc, _ in regions:
        try:
            per_region[reg] = _expand(exp, sc, variants, points, tick)
        except ScenarioError as err:
            raise ScenarioError(f"{err} (region {reg})") from None
    scenarios = [
        [{reg: per_region[reg][v][p] for reg, _, _ in regions} for p in range(len(points))]
        for v in range(len(variants))
    ]
    canon = json.dumps(
        {
            "experiment": exp.model_dump(mode="json"),
            "base_scenario": ns.model_dump(mode="json"),
            "regions": {reg: sc.model_dump(mode="json") for reg, sc, _ in regions},
            "points": points,
            **_provenance(),
        },
        sort_keys=True,
        separators=(",", ":"),
    )
    sha = hashlib.sha256(canon.encode()).hexdigest()
    info = tuple((reg, label, tuple(sc.municipalities)) for reg, sc, label in regions)
    typical = next((sc for _, sc, label in regions if label == "national_default"), first)
    return Experiment(exp, typical, variants, points, scenarios, sha, info, ns)


def _corporation_stock() -> dict[str, int]:
    from woonsim.data import municipalities

    m = municipalities()
    return dict(zip(m["code"], m["corporation_2025"], strict=True))


def _check_uncertainty_paths(exp: ExperimentSpec, base) -> None:
    base_dump = base.model_dump(mode="python")
    for i, u in enumerate(exp.uncertainties):
        try:
            locate(copy.deepcopy(base_dump), u.path, base)
        except ScenarioError as err:
            raise ScenarioError(f"uncertainties[{i}].path: {err}") from None


def _variant_settings(exp: ExperimentSpec) -> list:
    """Per variant: its name and settings (path, value, field named in errors, prefix of
    errors about the path itself)."""
    variants = [
        (
            v.name,
            [(p, x, f"variants[{i}].set.{p}", f"variants[{i}].set.") for p, x in v.set.items()],
        )
        for i, v in enumerate(exp.variants)
    ]
    names = exp.variant_names
    lever_paths = list(exp.levers)
    grid = itertools.product(*(enumerate(v) for v in exp.levers.values())) if lever_paths else ()
    for k, combo in enumerate(grid):
        variants.append(
            (
                names[len(exp.variants) + k],
                [
                    (p, x, f"levers.{p}[{j}]", "levers.")
                    for p, (j, x) in zip(lever_paths, combo, strict=True)
                ],
            )
        )

    return variants


class _Ticker:
    """Counts validated scenarios for a `progress(done, total)` callback."""

    def __init__(self, progress, total: int):
        self.progress, self.total, self.done = progress, total, 0

    def __call__(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total)


def _n_checks(variants: list, points: list) -> int:
    """Scenarios `_expand` validates."""
    with_values = sum(1 for p in points if p)
    return len(variants) + with_values + len(variants) * with_values


def _expand(exp: ExperimentSpec, base, variants: list, points: list, tick=None) -> list:
    """Every variant at every design point applied to the scenario `base` and validated:
    [variant][point] scenarios; a `ScenarioError` names the setting at fault."""
    base_dump = base.model_dump(mode="python")
    tick = tick or (lambda: None)

    def applied(settings) -> tuple[dict, list[tuple[str, list[str]]]]:
        d = copy.deepcopy(base_dump)
        where = []
        for path, value, label, prefix in settings:
            try:
                where.append((label, set_path(d, path, value, base)))
            except ScenarioError as err:
                raise ScenarioError(f"{prefix}{err}") from None
        return d, where

    def parsed(d: dict, where, otherwise: str, suffix: str = ""):
        tick()
        try:
            return _parse(d)
        except ScenarioError as err:
            hit = _attribute(str(err), where)
            if hit is not None:
                raise ScenarioError(f"{hit[0]}{hit[1]}: {hit[2]}{suffix}") from None
            raise ScenarioError(f"{otherwise}: {err}{suffix}") from None

    per_variant = []
    for vi, (vname, settings) in enumerate(variants):
        d, where = applied(settings)
        per_variant.append(parsed(d, where, f"variants[{vi}] ({vname})"))
    unc = [(u.path, f"uncertainties[{i}]") for i, u in enumerate(exp.uncertainties)]

    def at(point):
        return [(p, point[p], label, f"{label}.path: ") for p, label in unc]

    for pi, point in enumerate(points):
        if point:
            d, where = applied(at(point))
            parsed(d, where, "uncertainties", f" at design point {pi}")
    scenarios = []
    for vi, (vname, settings) in enumerate(variants):
        row = []
        for pi, point in enumerate(points):
            if not point:
                row.append(per_variant[vi])
                continue
            d, where = applied(settings + at(point))
            tick()
            try:
                row.append(_parse(d))
            except ScenarioError as err:
                msg = f"variants[{vi}] ({vname}): {err} at design point {pi}"
                raise ScenarioError(msg) from None
        scenarios.append(row)
    return scenarios


def _design_points(exp: ExperimentSpec, base_dump: dict, base) -> list[dict[str, Any]]:
    """The uncertainty values per design point. A value whose scenario field is a whole
    number (in the base scenario) is rounded."""
    unc = exp.uncertainties
    if not unc:
        return [{}]
    lo = np.array([u.low for u in unc])
    hi = np.array([u.high for u in unc])
    design = exp.design
    if design.kind == "factorial":
        axes = [np.linspace(a, b, design.levels) for a, b in zip(lo, hi, strict=True)]
        grid = np.array(list(itertools.product(*axes)), dtype=float)
    else:
        from scipy.stats import qmc

        rng = np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(exp.root_seed, spawn_key=(_DESIGN_KEY,)))
        )
        if design.kind == "lhs":
            unit = qmc.LatinHypercube(d=len(unc), rng=rng).random(design.samples)
        else:
            m = design.samples.bit_length() - 1
            unit = qmc.Sobol(d=len(unc), scramble=True, rng=rng).random_base2(m)
        grid = qmc.scale(unit, lo, hi)
    whole = []
    for u in unc:
        node, key, *_ = locate(base_dump, u.path, base)[0]
        whole.append(isinstance(node[key], int) and not isinstance(node[key], bool))
    return [
        {
            u.path: (round(float(x)) if w else float(x))
            for u, x, w in zip(unc, row, whole, strict=True)
        }
        for row in grid
    ]


def load_experiment(path: str | Path, progress=None) -> Experiment:
    """Read and validate an experiment YAML file (its base path is relative to it)."""
    path = Path(path)
    data = read_yaml(path)
    return parse_experiment(data, path.parent, progress)
