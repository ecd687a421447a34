"""Policy analysis with EMA Workbench: woonsim as an `ema_workbench.Model`.

Needs the optional extra: ``pip install woonsim[ema]`` (ema-workbench and SALib). The
extra is imported only when a function of this module needs it; without it the call
fails with one line saying what to install.

    >>> m = woonsim_model(
    ...     base,  # a region scenario
    ...     uncertainties={"flows.departure_rate": (0.02, 0.03)},
    ...     levers={"allocation.quota.share": (0.0, 0.5),
    ...             "allocation.quota.mode": ["none", "floor", "cap", "ring_fenced"]},
    ...     outcomes=[("search_time_mean", "regulier")],
    ... )
    >>> current = policy(m, "current", {"allocation.quota.share": 0.0,
    ...                                 "allocation.quota.mode": "none"})
    >>> norm = policy(m, "norm30", {"allocation.quota.share": 0.3,
    ...                             "allocation.quota.mode": "floor"})
    >>> with make_evaluator(m) as ev:
    ...     results = ev.perform_experiments(sample_scenarios(m, 50, rng=1), [current, norm])
    >>> raise_ = paired_difference(m, results, "search_time_mean_regulier", "norm30", "current")

Uncertainties and levers are scenario values named by a path, as in `woonsim_experiments.calibrate`:
``flows.departure_rate``, ``groups[urgent].inflow_per_1000_households``,
``groups[starters|doorstromers].patience_years`` (both groups get the value),
``allocation.quota.mode``. A pair ``(low, high)`` is a real parameter (an integer one when
the scenario's value at the path is an int); a list is a categorical parameter. EMA names
each parameter by a Python identifier: the path with every run of other characters
replaced by ``_``, unless `names` gives a shorter one.

Outcomes are measures of `woonsim.measures.run_metrics` for the whole region, as
``(measure, group)`` pairs (or a mapping name -> pair); ``group`` is a group name or the
aggregate ``all``, ``regulier`` or ``aandachtsgroepen``. A measure recorded over time
(``taakstelling_backlog``, ``waiting_end_of_year``) gives its value at the end of the run.

Seeds (common random numbers). Every experiment is run with a
`numpy.random.SeedSequence` that depends on the scenario only, never on the policy, so
the policies evaluated on one scenario share arrivals, patience, household attributes and
departures (woonsim's named streams, `woonsim.streams`), and their difference is measured
without between-run noise. `seed_policy`:

- ``"values"`` (default): ``SeedSequence(root_seed, spawn_key=(k,))`` with k the first
  8 bytes of the SHA-256 of the scenario's uncertainty values (path=repr(value), sorted by
  path). Works with any design and evaluator; rerunning a scenario reproduces it.
- ``"index"``: ``SeedSequence(root_seed, spawn_key=(i,))`` with i the scenario's index,
  read from the name ``"0"``, ``"1"``, ... that `sample_scenarios` gives. (EMA's own
  ``perform_experiments(scenarios=n)`` numbers scenarios with a process-wide counter,
  which is not reproducible between calls, so it is refused.)
- ``"common"``: ``SeedSequence(root_seed)`` for every experiment: common random numbers
  across scenarios as well (useful for the elementary effects of a Morris design).

Evaluators: `make_evaluator(model)` is EMA's SequentialEvaluator; with ``processes=n`` or
``executor=`` it is an `ExecutorEvaluator` over a (spawn-started) process pool or any
`concurrent.futures` executor (a Dask client's `get_executor()` works too). An error in a
run reaches the caller as EMA's ``EMAError`` (a BaseException) naming the cause.
"""

from __future__ import annotations

import copy
import hashlib
import re
import warnings
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor, as_completed

import numpy as np

from woonsim.errors import ScenarioError
from woonsim.measures import AGGREGATES
from woonsim.paths import get_path, set_path
from woonsim.scenario import parse_scenario

__all__ = [
    "AGGREGATE_GROUPS",
    "INSTALL_HINT",
    "SEED_POLICIES",
    "ExecutorEvaluator",  # noqa: F822 (created on first use, see __getattr__)
    "WoonsimModel",  # noqa: F822
    "apply_values",
    "make_evaluator",
    "outcome_values",
    "paired_difference",
    "policy",
    "sample_scenarios",
    "woonsim_model",
]

INSTALL_HINT = "install the ema extra: pip install woonsim[ema]"
SEED_POLICIES = ("values", "index", "common")
AGGREGATE_GROUPS = tuple(AGGREGATES)  # one vocabulary: woonsim.measures


def _ema():
    """The ema_workbench package, or ImportError with the one-line install hint."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "ipyparallel not installed" etc.
            import ema_workbench
    except ImportError:
        raise ImportError(INSTALL_HINT) from None
    return ema_workbench


def _slug(text: str) -> str:
    s = re.sub(r"\W+", "_", text, flags=re.ASCII).strip("_")
    return s if s and not s[0].isdigit() else f"p_{s}"


def _plain(value):
    """A numpy scalar as the Python value pydantic (strict) accepts."""
    return value.item() if isinstance(value, np.generic) else value


def apply_values(base_scenario, values: Mapping[str, object]):
    """A validated copy of `base_scenario` with the value at each path set."""
    d = base_scenario.model_dump(mode="python")
    for path, value in values.items():
        set_path(d, path, _plain(value))
    return parse_scenario(d)


def _current(base_scenario, path: str):
    return get_path(base_scenario.model_dump(mode="python"), path)


def outcome_values(table, outcomes: Mapping[str, tuple]) -> dict[str, float]:
    """The region-wide value of each (measure, group) in a `run_metrics` table; for a
    measure recorded over time, the value at the last time."""
    import pyarrow.compute as pc

    measure, group = table.column("measure"), table.column("group")
    region = pc.equal(table.column("municipality"), "")
    out = {}
    for name, (m, g) in outcomes.items():
        rows = table.filter(pc.and_(pc.and_(pc.equal(measure, m), pc.equal(group, g)), region))
        if rows.num_rows == 0:
            raise ScenarioError(f"outcomes: {name}: no region-wide value of {m!r} for {g!r}")
        times = rows.column("time").to_numpy(zero_copy_only=False)
        i = int(np.nanargmax(times)) if not np.isnan(times).all() else rows.num_rows - 1
        out[name] = float(rows.column("value")[i].as_py())
    return out


def _simulate(scenario, seed) -> object:
    from woonsim.simulate import run

    return run(scenario, seed)


# --- classes that subclass ema_workbench's, created on first use --------------------------
# They are module attributes (PEP 562 `__getattr__`), so pickle finds them by name in a
# worker process: `woonsim_experiments.ema.WoonsimModel`.


def __getattr__(name: str):
    if name in ("WoonsimModel", "ExecutorEvaluator"):
        _define_classes()
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _run_one(models, experiment):
    """Run one EMA experiment (in a worker): the model's outcomes."""
    from ema_workbench.em_framework.experiment_runner import ExperimentRunner

    runner = ExperimentRunner(copy.deepcopy(models))  # a private copy, also under threads
    return runner.run_experiment(experiment)


def _define_classes() -> None:
    if "WoonsimModel" in globals():
        return
    ema = _ema()
    from ema_workbench.em_framework.evaluators import BaseEvaluator

    class WoonsimModel(ema.Model):
        """An EMA model whose experiments are woonsim runs (see the module docstring).

        `paths` maps each parameter name to its scenario path; `outcome_specs` maps each
        outcome name to its (measure, group). Override `evaluate(scenario, seed)` to
        replace the simulation (tests do, to record what EMA passes in).
        """

        def __init__(
            self,
            name: str,
            base_scenario,
            uncertainties: Mapping[str, object],
            levers: Mapping[str, object],
            outcomes: Mapping[str, tuple],
            names: Mapping[str, str],
            seed_policy: str,
            root_seed: int,
        ):
            super().__init__(name, function=_simulate)  # `function` is not used
            if getattr(base_scenario, "kind", None) != "region":
                raise ScenarioError("woonsim_model: base_scenario must be a region scenario")
            if seed_policy not in SEED_POLICIES:
                raise ValueError(f"seed_policy: one of {', '.join(SEED_POLICIES)}")
            if isinstance(root_seed, bool) or not isinstance(root_seed, int) or root_seed < 0:
                raise ValueError("root_seed: must be a non-negative integer")
            self.base_scenario = base_scenario
            self.seed_policy, self.root_seed = seed_policy, root_seed
            self.paths: dict[str, str] = {}
            self._uncertainty_paths: list[str] = []
            unc = [
                self._parameter(p, spec, names, "uncertainties")
                for p, spec in uncertainties.items()
            ]
            lev = [self._parameter(p, spec, names, "levers") for p, spec in levers.items()]
            self._uncertainty_paths = [p.variable_name[0] for p in unc]
            self.uncertainties, self.levers = unc, lev
            groups = set(base_scenario.group_names) | set(AGGREGATE_GROUPS)
            from woonsim.measures import MEASURES

            for oname, (measure, group) in outcomes.items():
                if measure not in MEASURES:
                    raise ScenarioError(
                        f"outcomes: {oname}: unknown measure {measure!r} "
                        f"(valid: {', '.join(MEASURES)})"
                    )
                if group not in groups:
                    valid = ", ".join(sorted(groups))
                    raise ScenarioError(
                        f"outcomes: {oname}: unknown group {group!r} (valid: {valid})"
                    )
            self.outcome_specs = dict(outcomes)
            self.outcomes = [ema.ScalarOutcome(n) for n in self.outcome_specs]
            self.scenario_name = None

        def _parameter(self, path, spec, names, where):
            name = names.get(path) or _slug(path)
            if not name.isidentifier():
                raise ValueError(f"{where}: {path}: name {name!r} is not a Python identifier")
            if name in self.paths or hasattr(self, name):
                raise ValueError(f"{where}: {path}: name {name!r} is already taken")
            if path in self.paths.values():
                raise ValueError(f"{where}: {path}: given twice")
            current = _current(self.base_scenario, path)  # the path exists
            if isinstance(spec, list):
                if len(spec) < 2:
                    raise ValueError(f"{where}: {path}: needs at least two categories")
                for value in spec:
                    apply_values(self.base_scenario, {path: value})  # each is valid
                par = ema.CategoricalParameter(name, spec, variable_name=path)
            else:
                try:
                    low, high = spec
                except (TypeError, ValueError):
                    raise ValueError(
                        f"{where}: {path}: give (low, high) or a list of categories"
                    ) from None
                if not low < high:
                    raise ValueError(f"{where}: {path}: low must be below high")
                whole = isinstance(current, int) and not isinstance(current, bool)
                kind = ema.IntegerParameter if whole else ema.RealParameter
                apply_values(self.base_scenario, {path: low})
                apply_values(self.base_scenario, {path: high})
                par = kind(name, low, high, variable_name=path)
            self.paths[name] = path
            return par

        # --- one experiment -----------------------------------------------------------
        def run_model(self, scenario, policy, constants):
            self.scenario_name = scenario.name
            super().run_model(scenario, policy, constants)

        def run_experiment(self, experiment):
            values = {p: experiment[p] for p in self.paths.values() if p in experiment}
            unc = {p: values[p] for p in self._uncertainty_paths if p in values}
            scenario = apply_values(self.base_scenario, values)
            seed = self.seed_for(unc, self.scenario_name)
            return self.evaluate(scenario, seed)

        def evaluate(self, scenario, seed: np.random.SeedSequence) -> dict[str, float]:
            """The outcomes of one run of `scenario` with `seed`."""
            from woonsim.measures import run_metrics

            return outcome_values(run_metrics(_simulate(scenario, seed)), self.outcome_specs)

        def seed_for(self, uncertainty_values: Mapping[str, object], scenario_name=None):
            """The run's SeedSequence under `seed_policy` (see the module docstring)."""
            if self.seed_policy == "common":
                return np.random.SeedSequence(self.root_seed)
            if self.seed_policy == "index":
                if not (isinstance(scenario_name, str) and scenario_name.isdigit()):
                    raise ValueError(
                        "seed_policy 'index': scenarios must come from sample_scenarios() "
                        f"(named '0', '1', ...), got scenario name {scenario_name!r}"
                    )
                key = int(scenario_name)
            else:
                text = ";".join(f"{p}={_plain(v)!r}" for p, v in sorted(uncertainty_values.items()))
                key = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
            return np.random.SeedSequence(self.root_seed, spawn_key=(key,))

        def parameter_name(self, path_or_name: str) -> str:
            if path_or_name in self.paths:
                return path_or_name
            for n, p in self.paths.items():
                if p == path_or_name:
                    return n
            raise KeyError(f"{path_or_name!r} is neither a parameter name nor a path")

    class ExecutorEvaluator(BaseEvaluator):
        """An EMA evaluator over any `concurrent.futures.Executor` (a process pool, a
        thread pool, a Dask client's executor). Each experiment is one task; results are
        stored by experiment id, so the order of completion does not matter."""

        def __init__(self, msis, executor: Executor, shutdown: bool = False):
            super().__init__(msis)
            self.executor, self._shutdown = executor, shutdown

        def initialize(self):
            pass

        def finalize(self):
            if self._shutdown:
                self.executor.shutdown()

        def evaluate_experiments(self, experiments, callback, **kwargs):
            jobs = list(experiments)
            futures = {self.executor.submit(_run_one, self._msis, e): e for e in jobs}
            for f in as_completed(futures):
                callback(futures[f], f.result())

    for cls in (WoonsimModel, ExecutorEvaluator):
        cls.__module__, cls.__qualname__ = __name__, cls.__name__
        globals()[cls.__name__] = cls


# --- public functions -----------------------------------------------------------------------


def woonsim_model(
    base_scenario,
    uncertainties: Mapping[str, object],
    levers: Mapping[str, object] | None = None,
    outcomes: Sequence[tuple] | Mapping[str, tuple] | None = None,
    *,
    names: Mapping[str, str] | None = None,
    seed_policy: str = "values",
    root_seed: int = 20250101,
    name: str = "woonsim",
):
    """An EMA `Model` around woonsim (a `WoonsimModel`).

    uncertainties, levers: path -> (low, high) or a list of categories.
    outcomes: (measure, group) pairs of `run_metrics`, or a mapping name -> pair; default:
      mean and median search time of regulier, registration time of regulier, the
      aandachtsgroep share of lettings, lettings per year and the statushouder
      taakstelling backlog at the end.
    names: optional path -> parameter name (an identifier).
    seed_policy, root_seed: how each run is seeded (module docstring).
    """
    _define_classes()
    if outcomes is None:
        outcomes = [
            ("search_time_mean", "regulier"),
            ("search_time_median", "regulier"),
            ("registration_time_mean", "regulier"),
            ("share_of_lettings", "aandachtsgroepen"),
            ("lettings_per_year", "all"),
        ]
        sh = [g.name for g in base_scenario.groups if g.kind == "statushouder"]
        if sh:
            outcomes.append(("taakstelling_backlog", sh[0]))
    if not isinstance(outcomes, Mapping):
        outcomes = {_slug(f"{m}_{g}"): (m, g) for m, g in outcomes}
    return WoonsimModel(  # noqa: F821 (defined by _define_classes)
        name,
        base_scenario,
        uncertainties,
        levers or {},
        outcomes,
        names or {},
        seed_policy,
        root_seed,
    )


def policy(model, name: str, values: Mapping[str, object]):
    """An EMA policy (a `Sample`) setting levers, by path or parameter name."""
    ema = _ema()
    lever_names = {p.name for p in model.levers}
    data = {}
    for key, value in values.items():
        n = model.parameter_name(key)
        if n not in lever_names:
            raise KeyError(f"policy {name}: {key!r} is not a lever")
        data[n] = value
    missing = lever_names - set(data)
    if missing:
        raise KeyError(f"policy {name}: no value for {', '.join(sorted(missing))}")
    return ema.Sample(name, **data)


def sample_scenarios(model, n: int, sampler="lhs", rng=None, **kwargs) -> list:
    """n scenarios (EMA `Sample`s over the uncertainties) named "0", "1", ... by their
    index; `sampler`: "lhs", "mc", "sobol", "morris", "fast" or an EMA sampler; keyword
    arguments go to the sampler (e.g. num_levels=4 for Morris). For the SALib samplers n
    is their base sample size (Morris: trajectories), so more scenarios may come back."""
    ema = _ema()
    if isinstance(sampler, str):
        sampler = ema.Samplers[sampler.upper()]
    if isinstance(sampler, ema.Samplers):
        sampler = sampler.value
    collection = sampler.generate_samples(model.uncertainties, n, rng=rng, **kwargs)
    return [ema.Sample(str(i), **dict(s.items())) for i, s in enumerate(collection)]


def make_evaluator(model, processes: int = 1, executor: Executor | None = None):
    """An EMA evaluator for `model`: sequential for one process, otherwise an
    `ExecutorEvaluator` over a spawn-started process pool (or over `executor`)."""
    ema = _ema()
    if executor is not None:
        return ExecutorEvaluator(model, executor)  # noqa: F821
    if processes <= 1:
        return ema.SequentialEvaluator(model)
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pool = ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn"))
    return ExecutorEvaluator(model, pool, shutdown=True)  # noqa: F821


def paired_difference(model, results, outcome: str, policy: str, reference: str):
    """Per scenario: the outcome under `policy` minus under `reference` (both run with the
    same seed), with the scenario's uncertainty values. A DataFrame indexed by scenario
    name (in index order for `sample_scenarios` names), columns: the uncertainties,
    ``<reference>``, ``<policy>`` and ``difference``."""
    import pandas as pd

    experiments, outcomes = results
    unc = [p.name for p in model.uncertainties]
    df = experiments[[*unc, "scenario", "policy"]].copy()
    for c in ("scenario", "policy"):
        df[c] = df[c].astype(str)
    df["y"] = np.asarray(outcomes[outcome], dtype=float)
    pieces = {}
    for pol in (reference, policy):
        part = df[df["policy"] == pol]
        if part.empty:
            raise KeyError(f"paired_difference: no experiments for policy {pol!r}")
        if part["scenario"].duplicated().any():
            raise ValueError(f"paired_difference: policy {pol!r} has a scenario twice")
        pieces[pol] = part.set_index("scenario")
    a, b = pieces[reference], pieces[policy]
    if set(a.index) != set(b.index):
        raise ValueError("paired_difference: the two policies were not run on the same scenarios")
    b = b.loc[a.index]
    if unc and not (a[unc].astype(object).to_numpy() == b[unc].astype(object).to_numpy()).all():
        raise ValueError("paired_difference: scenario values differ between the two policies")
    out = a[unc].copy()
    out[reference], out[policy] = a["y"], b["y"]
    out["difference"] = b["y"] - a["y"]
    if all(s.isdigit() for s in out.index):
        out = out.loc[sorted(out.index, key=int)]
    out.index.name = "scenario"
    return pd.DataFrame(out)
