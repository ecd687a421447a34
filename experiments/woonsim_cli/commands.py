"""The `woonsim` command line: run, validate, calibrate, experiment, bench, dashboard.

Bad input gives one line on stderr naming the field and the problem, exit status 2,
and nothing written.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import threading
import time
from pathlib import Path

from woonsim import __version__
from woonsim.errors import DataError, InvariantError, ScenarioError, WoonsimError
from woonsim_experiments.executors import RespawningPool, process_pool

EXIT_BAD_INPUT = 2
EXIT_INVARIANT = 3  # a run broke an invariant (`InvariantError`): a bug, reported as such
BENCH_SCALES = ("regional", "national-stylized", "region", "experiment-run", "scaling", "national")


class UsageError(WoonsimError):
    """Bad input: printed as one line, exit status 2."""


class Progress:
    """Work done and time left, on one self-updating line (or every 10% in a log).
    `minimum`: stay silent for less work than that."""

    def __init__(self, label: str, stream=None, unit: str = "runs", minimum: int = 0):
        stream = stream or sys.stderr
        self.label, self.stream, self.t0 = label, stream, time.perf_counter()
        self.unit, self.minimum = unit, minimum
        self.tty = stream.isatty()
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        if total < self.minimum:
            return
        elapsed = time.perf_counter() - self.t0
        left = elapsed / done * (total - done) if done else float("nan")
        line = (
            f"{self.label}: {done}/{total} {self.unit}, {elapsed:.0f} s elapsed, ~{left:.0f} s left"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if done == total else ""))
        elif done * 10 // total != self._last_decile:
            self._last_decile = done * 10 // total
            self.stream.write(line + "\n")
        self.stream.flush()


def _duration(seconds: float) -> str:
    if seconds < 120:
        return "under 2 minutes"
    if seconds < 7200:
        return f"about {seconds / 60:.0f} minutes"
    return f"about {seconds / 3600:,.0f} hours"


def _fmt(x, spec: str = ".3f") -> str:
    return "-" if x is None else format(x, spec)


def _print_summary(summary: dict, out=None) -> None:
    out = out or sys.stdout
    cols = (
        "group",
        "arrivals",
        "housed",
        "abandoned",
        "censored",
        "p_housed",
        "mean_wait",
        "median_wait",
        "p90_wait",
        "share_lettings",
    )
    rows = []
    for name, g in summary["groups"].items():
        rows.append(
            (
                name,
                str(g["arrivals"]),
                str(g["housed"]),
                str(g["abandoned"]),
                str(g["censored"]),
                _fmt(g["p_housed"]),
                _fmt(g["mean_wait_housed"]),
                _fmt(g["median_wait_housed"]),
                _fmt(g["p90_wait_housed"]),
                _fmt(g["share_of_lettings"]),
            )
        )
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    print(
        f"{summary['scenario']} (seed {summary['seed']}; times in {summary['time_unit']}s;"
        f" cohort arriving in [{summary['cohort_window'][0]:g}, "
        f"{summary['cohort_window'][1]:g}])",
        file=out,
    )
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)), file=out)
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)), file=out)
    v = summary["vacancies"]
    print(
        f"vacancies: {v['arrived']} arrived, {v['let']} let, {v['unused']} unused "
        f"({_fmt(v['unused_share'])})",
        file=out,
    )


def _print_region(summary: dict, out=None) -> None:
    out = out or sys.stdout
    r = summary["region"]
    y0, y1 = r["years_reported"]
    print(f"{summary['scenario']} (seed {summary['seed']}; {y0}-{y1}; times in years)", file=out)
    cols = ("group", "lettings/yr", "share", "med. registration", "med. search", "p_housed")
    print(
        f"{cols[0]:<30} {cols[1]:>11} {cols[2]:>6} {cols[3]:>17} {cols[4]:>11} {cols[5]:>8}",
        file=out,
    )
    years = summary["scenario_spec"]["years"]  # exact, also when fractional
    for name, g in summary["groups"].items():
        n = sum(g["lettings_by_route"].values())
        reg, srch = g["registration_time_at_letting"], g["search_time_at_letting"]
        print(
            f"{name:<30} {n / years:>11.0f} {_fmt(g['share_of_lettings'], '.3f'):>6} "
            f"{_fmt(reg and reg['median'], '.2f'):>17} {_fmt(srch and srch['median'], '.2f'):>11}"
            f" {_fmt(g['p_housed'], '.3f'):>8}",
            file=out,
        )
    print(
        f"lettings per year {r['lettings_per_year']:.0f}; to aandachtsgroepen "
        f"{_fmt(r['aandachtsgroep_share_of_lettings'], '.1%')}; refusals per letting "
        f"{_fmt(r['refusals_per_letting'], '.2f')}; statushouder backlog at end "
        f"{sum(r['statushouder_backlog_at_end']):.0f} households",
        file=out,
    )
    print(
        f"active seekers per year {r['active_seekers_per_year']:.0f}; registered at year end "
        f"{r['registered_end_of_year']:.0f}; slaagkans {_fmt(r['slaagkans'], '.1%')}",
        file=out,
    )
    st = summary.get("stationarity")
    if st:
        cut = ", ".join(
            f"{k} {'-' if v is None else format(v, 'g')}" for k, v in st["truncation_years"].items()
        )
        print(
            f"reported window stationary: {'yes' if st['stationary'] else 'NO'} "
            f"(MSER-5 truncation, years: {cut}; burn-in {st['burn_in_years']:g})",
            file=out,
        )


def cmd_run(args: argparse.Namespace) -> int:
    from woonsim.scenario import load_scenario

    scenario = load_scenario(args.scenario)  # bad input fails here, before heavy imports
    from woonsim.files import refuse_foreign
    from woonsim.outputs import write_run
    from woonsim.simulate import market_for

    out = (
        Path(args.out)
        if args.out
        else Path("results") / Path(args.scenario).stem / f"seed-{args.seed}"
    )
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out: {out} exists and is not a directory")
    try:  # an earlier run's folder is replaced as a set; any other folder is refused
        refuse_foreign(out, "summary.json")
    except FileExistsError as err:
        raise UsageError(f"--out: {err}") from None
    result = run_with_progress(market_for(scenario, args.seed))
    written = write_run(result, out)
    # the summary just written (computing it again costs a quarter of a second)
    summary = json.loads((written / "summary.json").read_text(encoding="utf-8"))
    (_print_region if "region" in summary else _print_summary)(summary)
    files = ", ".join(sorted(p.name for p in written.iterdir()))
    print(f"wrote {out}: {files}")
    return 0


def run_with_progress(market, stream=None, every: float = 5.0):
    """Run a market to its end, telling on stderr how far it is: a self-updating line on a
    terminal, else a line every `every` simulated years. The result is that of
    `market.run()`: the same events in the same order, in slices of a simulated year."""
    spec = market.spec if hasattr(market, "spec") else None
    if getattr(spec, "kind", None) != "region":
        return _run_stylized_with_progress(market, spec, stream)
    stream = stream or sys.stderr
    tty, t0, told = stream.isatty(), time.perf_counter(), 0.0
    per_year = max(1, round(1 / market.dt))
    burn, horizon = spec.burn_in_years, spec.horizon
    while market.cycles_done < market.n_cycles:
        market.advance(per_year)
        t = market.cycles_done * market.dt
        done = market.cycles_done == market.n_cycles
        if not (tty or done or t >= told + every - 1e-9):
            continue
        told = t
        elapsed = time.perf_counter() - t0
        where = (
            f"burn-in year {t:.0f} of {burn:g}"
            if t <= burn + 1e-9
            else f"year {spec.start_year + math.ceil(t - burn - 1e-9) - 1}"
        )
        line = (
            f"woonsim run: {t:.0f} of {horizon:g} simulated years ({where}), "
            f"{elapsed:.0f} s elapsed, ~{elapsed / t * (horizon - t):.0f} s left"
        )
        stream.write(("\r" + line + ("\n" if done else "")) if tty else line + "\n")
        stream.flush()
    return market.run()


LONG_RUN_SECONDS = 15.0  # a stylized run estimated to take longer shows its progress


def _run_stylized_with_progress(market, spec, stream=None):
    """A stylized market (about a second at the validation's sizes) run to its end; a long
    one (by its size estimate) in 20 steps with its progress on stderr."""
    from woonsim.size import estimate

    if spec is None or estimate(spec).seconds < LONG_RUN_SECONDS:
        return market.run()
    progress = Progress("run", stream, unit="steps")
    for k in range(1, 21):
        market.run_until(market.end * k / 20)
        progress(k, 20)
    return market.run()


def cmd_municipalities(args: argparse.Namespace) -> int:
    from woonsim.data import municipalities, near_municipalities

    m = municipalities()
    if args.query:
        exact = {c.lower(): c for c in m["code"]} | {
            n.lower(): c for c, n in zip(m["code"], m["name"], strict=True)
        }
        codes = []
        for q in args.query:
            hit = exact.get(q.strip().lower())
            codes += [hit] if hit else [x.split(" ")[0] for x in near_municipalities(q, n=10)]
        if not codes:
            raise UsageError(f"no municipality like {' '.join(args.query)!r}")
        m = m.set_index("code", drop=False).loc[list(dict.fromkeys(codes))]
    lines = ["code\tname\tcorop_code\tcorop_name\tcorporation_dwellings_2025"]
    lines += [
        f"{r.code}\t{r.name}\t{r.corop_code}\t{r.corop_name}\t{r.corporation_2025}"
        for r in m.itertuples()
    ]
    try:
        sys.stdout.write("\n".join(lines) + "\n")
        sys.stdout.flush()
    except BrokenPipeError:  # `woonsim municipalities | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from woonsim_experiments.validation import CASES, evaluate

    cases = args.cases or list(CASES)
    for c in cases:
        if c not in CASES:
            raise UsageError(f"--cases: unknown case {c!r} (known: {', '.join(CASES)})")
    progress = Progress("validate")
    t0 = time.perf_counter()
    if args.workers == 1:
        results = evaluate(cases, args.replications, args.root_seed, None, progress)
    else:
        with process_pool(args.workers) as ex:
            results = evaluate(cases, args.replications, args.root_seed, ex, progress)
    print(
        f"Validation against the exact values of the validation reference: "
        f"R = {args.replications} replications per case, seeds "
        f"SeedSequence({args.root_seed}).spawn({args.replications})."
    )
    print(
        "Pass: |mean - exact| <= t(0.999, R-1) * SE, or within the margin "
        "(1% of exact; 2% for fluid-limit values)."
    )
    head = f"{'case':<19} {'measure':<21} {'exact':>9} {'simulated mean ± SE':>22} {'':>6}"
    print(head)
    print("-" * len(head))
    failed = 0
    for r in results:
        ok = r.passed
        failed += not ok
        sim = f"{r.mean:.4f} ± {r.se:.4f}"
        print(
            f"{r.line.case:<19} {r.line.label:<21} {r.line.exact:>9.4f} {sim:>22} "
            f"{'pass' if ok else 'FAIL':>6}" + (f"  ({r.line.note})" if r.line.note else "")
        )
    print(
        f"{len(results) - failed} of {len(results)} lines pass "
        f"({time.perf_counter() - t0:.0f} s, {args.workers} worker(s))."
    )
    if args.out:
        _write_validation_csv(results, Path(args.out))
    return 0 if failed == 0 else 1


def _write_validation_csv(results, path: Path) -> None:
    import csv
    import io

    from woonsim.files import write_atomically

    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "case",
            "measure",
            "exact",
            "mean",
            "se",
            "t_bound",
            "margin",
            "passed",
            "replications",
            "note",
        ]
    )
    for r in results:
        w.writerow(
            [
                r.line.case,
                r.line.label,
                repr(r.line.exact),
                repr(r.mean),
                repr(r.se),
                repr(r.t_bound),
                r.line.margin,
                r.passed,
                len(r.values),
                r.line.note,
            ]
        )
    write_atomically(path, lambda tmp: (tmp / "validation.csv").write_text(buf.getvalue()))
    print(f"wrote {path}/validation.csv")


def cmd_warmup(args: argparse.Namespace) -> int:
    from woonsim.files import write_atomically
    from woonsim.scenario import load_scenario
    from woonsim_experiments.warmup import choose_burn_in

    scenario = load_scenario(args.scenario)
    if scenario.kind != "region":
        raise UsageError("scenario: warmup needs a scenario of kind region")
    ex = process_pool(args.workers) if args.workers > 1 else None
    t0 = time.perf_counter()
    print(
        f"warmup: {args.replications} pilot runs of {args.max_years} years (stock frozen)",
        file=sys.stderr,
        flush=True,
    )
    try:
        out = choose_burn_in(scenario, args.replications, float(args.max_years), args.root_seed, ex)
    finally:
        if ex is not None:
            ex.shutdown()
    print(f"{'series':<26} {'MSER-5 truncation (yr)':>24}  per replication")
    for r in out["series"]:
        t = r["truncation_years_mean"]
        per = ", ".join(
            "-" if p is None else f"{p:g}" for p in r["truncation_years_per_replication"]
        )
        print(f"{r['series']:<26} {'not settled' if t is None else f'{t:g}':>24}  {per}")
    b = out["recommended_burn_in_years"]
    print(
        "recommended burn_in_years: "
        + ("none (not settled: run longer pilots)" if b is None else f"{b:g}")
        + f" ({time.perf_counter() - t0:.0f} s)"
    )
    if args.out:
        text = json.dumps(out, indent=2) + "\n"
        path = write_atomically(args.out, lambda tmp: (tmp / "warmup.json").write_text(text))
        print(f"wrote {path}/warmup.json")
    return 0 if b is not None else 1


def cmd_calibrate(args: argparse.Namespace) -> int:
    import csv
    import io

    import yaml

    from woonsim.files import write_atomically
    from woonsim_experiments.calibrate import calibrate, load_spec

    scenario, params, targets, region = load_spec(args.spec)
    t0 = time.perf_counter()

    best = [math.inf]

    def progress(k: int, f: float, values) -> None:
        # the values go to the log, so that a fit cut short leaves its best point behind
        best[0] = min(best[0], f)
        at = ", ".join(f"{p.path}={v:.4g}" for p, v in zip(params, values, strict=True))
        print(
            f"calibrate: evaluation {k}/{args.max_evaluations}, objective {f:.3f} "
            f"(best {best[0]:.3f}), {time.perf_counter() - t0:.0f} s; {at}",
            file=sys.stderr,
            flush=True,
        )

    ex = process_pool(args.workers) if args.workers > 1 else None
    try:
        fit = calibrate(
            scenario,
            params,
            targets,
            args.replications,
            args.root_seed,
            args.max_evaluations,
            ex,
            progress,
            args.table_replications,
        )
    finally:
        if ex is not None:
            ex.shutdown()
    rows = fit.table()
    print(
        f"{'measure':<36} {'group':<10} {'use':<8} {'target':>10} {'simulated [95% CI]':>30}"
        f" {'rel.err':>8} {'tol':>5}"
    )
    for r in rows:
        ci = f"{r['simulated']:.3f} [{r['ci95_low']:.3f}, {r['ci95_high']:.3f}]"
        print(
            f"{r['measure']:<36} {r['group']:<10} {r['use']:<8} {r['target']:>10.3f} "
            f"{ci:>30} {r['relative_error']:>+8.1%} {r['tolerance']:>5.2f}"
        )
    fitted = {p.path: v for p, v in zip(fit.params, fit.values, strict=True)}
    for (path, v), se in zip(fitted.items(), fit.standard_errors(), strict=True):
        print(f"fitted {path} = {v:.4g} (s.e. {se:.2g}, from the targets' tolerances)")
    print(f"burn-in settled (MSER-5) in {fit.stationary:.0%} of the table's runs")
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    meta = {
        "region": region,
        "spec": str(args.spec),
        "replications": args.replications,
        "table_replications": args.table_replications,
        "root_seed": args.root_seed,
        "evaluations": fit.evaluations,
        "objective": fit.objective,
        "start": dict(zip(fitted, fit.start, strict=True)),
        "fitted": fitted,
        "standard_errors": dict(zip(fitted, fit.standard_errors(), strict=True)),
        "correlation": fit.correlation(),
        "burn_in_years": float(scenario.burn_in_years),
        "stationary_share": fit.stationary,
    }

    def files(tmp):
        (tmp / f"fit_{region}.csv").write_text(buf.getvalue())
        (tmp / f"fitted_{region}.yaml").write_text(yaml.safe_dump(meta, sort_keys=False))

    out = write_atomically(args.out, files)
    print(
        f"wrote {out}/fit_{region}.csv and fitted_{region}.yaml "
        f"({fit.evaluations} evaluations, {time.perf_counter() - t0:.0f} s)"
    )
    return 0


def cmd_national(args: argparse.Namespace) -> int:
    import json
    from contextlib import ExitStack

    import yaml

    from woonsim.files import write_atomically
    from woonsim_experiments.national import (
        fit_defaults,
        fit_regions,
        load_national,
        run_national,
    )

    try:
        ns, base = load_national(args.scenario)
    except OSError as err:
        problem = err.__class__.__name__
        raise ScenarioError(f"{args.scenario}: cannot read file ({problem})") from None
    if args.membership:
        ns = ns.model_copy(update={"membership": str(Path(args.membership).resolve())})
    t0 = time.perf_counter()
    fit = regional = None
    if args.scheduler and args.workers is not None:
        raise UsageError("--workers: not used with --scheduler (the cluster has its workers)")
    workers = args.workers or os.cpu_count() or 1
    with ExitStack() as stack:
        if args.scheduler:
            ex = stack.enter_context(_connect(args.scheduler)).get_executor()
        else:
            ex = RespawningPool(workers) if workers > 1 else None
            if ex is not None:
                stack.push(_closer(ex))
        if args.fit_defaults:
            fit = fit_defaults(ns, base, args.seed, executor=ex, progress=_say)
            for path, figure in fit["parameters"].items():
                print(
                    f"fitted national defaults: {path} = {fit['fitted'][path]:.4g} "
                    f"({figure} {fit['at_fit'][figure]:,.4g} against "
                    f"{fit['targets'][figure]:,.4g}; {len(fit['evaluations'])} evaluations)"
                )
            rounded = {k: float(f"{v:.3g}") for k, v in fit["fitted"].items()}
            ns = ns.model_copy(update={"default_overrides": {**ns.default_overrides, **rounded}})
        if args.fit_regions:
            regional = fit_regions(ns, base, args.seed, executor=ex, progress=_say)
            for reg, r in regional.items():
                for k, c in enumerate(r["check"]):
                    print(
                        f"fitted {reg}: {list(r['fitted'])[k]} = "
                        f"{list(r['fitted'].values())[k]:.4g}; {c['measure']} {c['area']} "
                        f"{c['simulated']:.3g} [{c['ci95_low']:.3g}, {c['ci95_high']:.3g}] "
                        f"against {c['observed']:.3g} ({c['relative_error']:+.1%}, "
                        f"{len(r['check_seeds'])} fresh seeds)"
                    )
            overrides = {
                reg: {k: float(f"{v:.3g}") for k, v in r["fitted"].items()}
                for reg, r in regional.items()
            }
            ns = ns.model_copy(update={"region_overrides": overrides})
        out = run_national(ns, base, args.seed, ex, Progress("national"))
    meta = {
        "scenario": ns.model_dump(mode="json"),
        "scenario_sha256": ns.digest(),
        "seed": args.seed,
        "version": __version__,
        "national": out["national"],
        "checks": out["checks"],
    }

    def files(tmp):
        (tmp / "national.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
        if fit is not None:
            record = {"scenario": str(args.scenario), "seed": args.seed, **fit}
            (tmp / "fitted_national.yaml").write_text(yaml.safe_dump(record, sort_keys=False))
        if regional is not None:
            record = {"scenario": str(args.scenario), "seed": args.seed, "regions": regional}
            text = yaml.safe_dump(record, sort_keys=False)
            (tmp / "fitted_national_regions.yaml").write_text(text)
        out["regions"].to_csv(tmp / "regions.csv", index=False, lineterminator="\n")
        out["municipalities"].to_csv(tmp / "municipalities.csv", index=False, lineterminator="\n")
        out["patterns"].to_csv(tmp / "patterns.csv", index=False, lineterminator="\n")

    target = Path(args.out) if args.out else Path("results") / "national" / f"seed-{args.seed}"
    written = write_atomically(target, files)
    n = out["national"]
    print(
        f"{ns.name}: {n['municipalities']} municipalities in {n['regions']} regions "
        f"({n['regions_with_national_defaults']} with national default parameters); "
        f"corporation stock {n['corporation_stock_2025']:,} "
        f"(CBS {n['cbs_corporation_stock_2025']:,})"
    )
    print(f"{'check':<36} {'simulated':>12} {'observed':>12}  year  source")
    for c in out["checks"]:
        fmt = ".1%" if "share" in c["measure"] else ",.0f"
        print(
            f"{c['measure']:<36} {format(c['simulated'], fmt):>12} "
            f"{format(c['observed'], fmt):>12}  {c['year']}  {c['source']}"
            + (f" ({c['note']})" if c.get("note") else "")
        )
    pats = out["patterns"]
    if len(pats):
        print(f"{'figure':<44} {'use':<8} {'observed':>9} {'simulated':>9} {'error':>7}  within")
        for p in pats.itertuples():
            fmt = ".1%" if "share" in p.measure else ".2f"
            name = p.name if len(p.name) <= 30 else f"{p.name[:27]}..."
            what = f"{p.measure.removesuffix('_at_letting_years')}, {name}"
            print(
                f"{what:<44} {p.use:<8} {format(p.observed, fmt):>9} "
                f"{format(p.simulated, fmt):>9} {p.relative_error:>+7.1%}  "
                f"{'yes' if p.within else 'no'}"
            )
    reg = out["regions"]
    if "window_stationary" in reg:
        bad = reg.loc[~reg["window_stationary"].astype(bool), "region"].tolist()
        print(
            f"reported window stationary (MSER-5) in {len(reg) - len(bad)} of {len(reg)} "
            "regions" + (f"; not in {', '.join(bad)}" if bad else "")
        )
    print(f"wrote {written} ({time.perf_counter() - t0:.0f} s)")
    return 0


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _closer(executor):
    """An exit callback: after a finished sweep, wait for the pool's manager thread (so it
    does not replace a worker of a pool already shut down, a traceback on Python 3.12);
    after an error, Ctrl-C or SIGTERM, cancel what is queued and stop the workers."""

    def close(exc_type, exc, tb) -> bool:
        if exc_type is not None and hasattr(executor, "terminate"):
            executor.terminate()  # kill the workers: no orphans after Ctrl-C or SIGTERM
        else:
            executor.shutdown(wait=exc_type is None, cancel_futures=True)
        return False

    return close


def _connect(address: str):
    """A Dask client for the scheduler at `address`; UsageError when unreachable."""
    try:
        from distributed import Client
    except ImportError:
        raise UsageError("--scheduler: needs dask[distributed] (pip install woonsim)") from None
    try:
        return Client(address, timeout="10s")
    except Exception as err:
        raise UsageError(
            f"--scheduler: cannot connect to {address} ({type(err).__name__}: {err})"
        ) from None


def cmd_experiment(args: argparse.Namespace) -> int:
    from contextlib import ExitStack

    from woonsim.size import memory_limit
    from woonsim_experiments.experiment import load_experiment
    from woonsim_experiments.runner import FolderError, RunFailed, check_folder, sweep

    # every run validated (with progress for a large design): nothing written on error
    checking = Progress("experiment: validating", unit="scenarios", minimum=1000)
    experiment = load_experiment(args.file, checking)
    out = Path(args.out) if args.out else Path("results") / Path(args.file).stem
    if args.scheduler and args.workers is not None:
        raise UsageError("--workers: not used with --scheduler (the cluster has its workers)")
    largest, seconds = experiment.size()
    total = len(experiment.runs())
    at_once = 1 if args.scheduler else min(args.workers or os.cpu_count() or 1, total)
    limit = memory_limit()
    if at_once * largest.bytes > limit:
        fit = max(int(limit // largest.bytes), 1)
        raise UsageError(
            f"--workers: {at_once} runs at once of about {largest.bytes / 1e9:.3g} GB each "
            f"need more than the {limit / 1e9:.3g} GB available (WOONSIM_MAX_MEMORY_GB); use "
            f"--workers {fit} or fewer"
        )
    try:
        check_folder(experiment, out)
    except FolderError as err:
        raise UsageError(str(err)) from None
    progress = Progress("experiment")
    with ExitStack() as stack:
        if args.scheduler:
            client = stack.enter_context(_connect(args.scheduler))
            executor, where = client.get_executor(), f"Dask scheduler {args.scheduler}"
        else:
            workers = min(args.workers or os.cpu_count() or 1, total)
            if workers > 1:
                executor = RespawningPool(workers)
                stack.push(_closer(executor))
                where = f"{workers} local worker processes"
            else:
                executor, where = None, "1 worker (in this process)"
        print(
            f"{experiment.name}: {len(experiment.variant_names)} variant(s) x "
            f"{len(experiment.points)} design point(s) x {experiment.replications} "
            f"replication(s) = {total} runs on {where}; the largest run about "
            f"{largest.seekers:,.0f} seekers ({largest.bytes / 1e9:.2g} GB), all runs "
            f"{_duration(seconds)} of one core (a rough estimate)",
            file=sys.stderr,
            flush=True,
        )
        try:
            result = sweep(experiment, out, executor, progress)
        except FolderError as err:
            raise UsageError(str(err)) from None
        except RunFailed as err:
            print(f"woonsim: error: {err}", file=sys.stderr)
            return 1
    note = f", {result.skipped} already done before" if result.skipped else ""
    if result.repaired:
        note += (
            f"; {result.repaired} file(s) that did not match their recorded sha256 were run again"
        )
    print(f"results: {out} ({result.total} runs{note})")
    if not args.no_report:
        from woonsim_experiments.report import build_report

        print(f"report: {build_report(out)}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from woonsim_experiments.report import build_report

    print(f"report: {build_report(args.results, args.out)}")
    return 0


# `woonsim dashboard` hands these to the dashboard's server (woonsim_dashboard.settings)
DASHBOARD_SCENARIOS_ENV = "WOONSIM_DASHBOARD_SCENARIOS"
DASHBOARD_RESULTS_ENV = "WOONSIM_DASHBOARD_RESULTS"
DASHBOARD_REGIONS = ("haaglanden", "amsterdam", "twente")


def dashboard_command(args: argparse.Namespace) -> tuple[list[str], dict[str, str]]:
    """The solara server of the dashboard: its command line and environment (bound to
    `--host`, telemetry and solara's version check off; every asset is served from the
    installed solara-assets)."""
    from importlib.util import find_spec

    if find_spec("solara") is None or find_spec("solara_assets") is None:
        raise UsageError(
            "dashboard: needs the dashboard extra (pip install 'woonsim[dashboard]'; make "
            "installs it)"
        )
    scenarios = [Path(s) for s in args.scenario or []]
    if not scenarios:
        here = Path(__file__).resolve().parents[1] / "scenarios"
        scenarios = [here / f"{name}.yaml" for name in DASHBOARD_REGIONS]
        if not all(s.is_file() for s in scenarios):
            raise UsageError("--scenario: name the region scenario files to show")
    for s in scenarios:
        if not s.is_file():
            raise UsageError(f"--scenario: {s}: no such file")
    env = {
        **os.environ,
        DASHBOARD_SCENARIOS_ENV: os.pathsep.join(str(s.resolve()) for s in scenarios),
        DASHBOARD_RESULTS_ENV: str(Path(args.results).resolve()),
        "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "false",
        # solara warns, per process, that a cookie over plain http on 127.0.0.1 is lax
        "PYTHONWARNINGS": "ignore:Cookies with samesite:UserWarning",
    }
    argv = [
        sys.executable, "-m", "solara", "run", "woonsim_dashboard.app",
        "--host", args.host, "--port", str(args.port), "--production", "--no-check-version",
    ]  # fmt: skip
    return argv, env


def cmd_dashboard(args: argparse.Namespace) -> int:
    argv, env = dashboard_command(args)
    print(f"woonsim dashboard: http://{args.host}:{args.port} (Ctrl-C stops it)", flush=True)
    os.execve(argv[0], argv, env)  # the server replaces this process (signals reach it)
    return 0  # not reached


def cmd_bench(args: argparse.Namespace) -> int:
    if args.scale in ("regional", "national-stylized"):
        from woonsim_experiments.bench import benchmark

        scale = "national" if args.scale == "national-stylized" else "regional"
        return benchmark(repeats=args.repeats, scale=scale, out=sys.stdout)
    from woonsim_experiments.bench_model import benchmark_model

    repo = Path(__file__).resolve().parents[2]
    if not (repo / "experiments" / "scenarios" / "haaglanden.yaml").exists():
        raise UsageError("--scale: the model benchmarks need a checkout of the repository")
    return benchmark_model(args.scale, args.repeats, repo, out=sys.stdout)


MAX_INT = 2**63 - 1  # seeds: any non-negative 64-bit number


def _positive_int(text: str, most: int = MAX_INT) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    if value > most:
        raise argparse.ArgumentTypeError(f"must be at most {most:,}, got {value:,}")
    return value


def _upto(most: int):
    """A whole number in [0, most] (the bounds of what a user can type: README)."""

    def parse(text: str) -> int:
        return _positive_int(text, most)

    parse.__name__ = "whole number"
    return parse


WORKERS, REPLICATIONS = _upto(4096), _upto(10_000)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, exit 2 (argparse prints usage too)
        self.exit(EXIT_BAD_INPUT, f"woonsim: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="woonsim", description="Simulate Dutch social-housing allocation.")
    p.add_argument("--version", action="version", version=f"woonsim {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    r = sub.add_parser("run", help="run one scenario with one seed")
    r.add_argument("scenario", help="scenario YAML file")
    r.add_argument("--seed", type=_positive_int, default=0, help="root seed (default 0)")
    r.add_argument("--out", help="output directory (default results/SCENARIO/seed-N)")
    r.set_defaults(fn=cmd_run)

    mu = sub.add_parser(
        "municipalities", help="list the CBS municipality codes (GMxxxx) with their names"
    )
    mu.add_argument("query", nargs="*", help="names or codes to look up (near matches too)")
    mu.set_defaults(fn=cmd_municipalities)

    v = sub.add_parser("validate", help="run the validation table V1-V5 against exact values")
    v.add_argument("--replications", "-R", type=REPLICATIONS, default=10)
    v.add_argument("--root-seed", type=_positive_int, default=20220511)
    v.add_argument("--workers", type=WORKERS, default=os.cpu_count() or 1)
    v.add_argument("--cases", nargs="+", metavar="CASE", help="a subset of the cases")
    v.add_argument("--out", help="directory to write validation.csv into")
    v.set_defaults(fn=cmd_validate)

    c = sub.add_parser("calibrate", help="fit behavioural parameters to observed targets")
    c.add_argument(
        "spec", help="calibration spec YAML (e.g. experiments/calibration/haaglanden.yaml)"
    )
    c.add_argument("--replications", "-R", type=REPLICATIONS, default=2)
    c.add_argument("--root-seed", type=_positive_int, default=20250101)
    c.add_argument(
        "--max-evaluations",
        type=_upto(100_000),
        default=40,
        help="0: no fit, only the table at the scenario's values",
    )
    c.add_argument(
        "--table-replications",
        type=REPLICATIONS,
        default=10,
        help="fresh seeds for the fit table at the fitted values (default 10)",
    )
    c.add_argument("--workers", type=WORKERS, default=os.cpu_count() or 1)
    c.add_argument("--out", default="results/calibration")
    c.set_defaults(fn=cmd_calibrate)

    w = sub.add_parser("warmup", help="choose a region scenario's burn-in by MSER-5 pilots")
    w.add_argument("scenario", help="region scenario YAML")
    w.add_argument("--replications", "-R", type=REPLICATIONS, default=3)
    w.add_argument("--max-years", type=_upto(300), default=60)
    w.add_argument("--root-seed", type=_positive_int, default=20251201)
    w.add_argument("--workers", type=WORKERS, default=os.cpu_count() or 1)
    w.add_argument("--out", help="directory to write warmup.json into")
    w.set_defaults(fn=cmd_warmup)

    n = sub.add_parser("national", help="run all 342 municipalities in regional markets")
    n.add_argument("scenario", help="national scenario YAML (experiments/scenarios/national.yaml)")
    n.add_argument("--seed", type=_positive_int, default=1)
    n.add_argument("--membership", help="CSV municipality,region (default: the scenario's)")
    n.add_argument("--workers", type=WORKERS, help="local worker processes (default: every core)")
    n.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, tcp://host:8786")
    n.add_argument("--out")
    n.add_argument(
        "--fit-defaults",
        action="store_true",
        help="first fit the national defaults' departure rate and urgent inflow to CBS's "
        "national lettings (161,000 in 2023) and NOS's priority share in the 43 largest "
        "municipalities (27%%, 2022); writes fitted_national.yaml beside the outputs",
    )
    n.add_argument(
        "--fit-regions",
        action="store_true",
        help="then fit the values of region_overrides to the regions' own figures (use: fit "
        "in national_targets.csv), starting from them; writes fitted_national_regions.yaml",
    )
    n.set_defaults(fn=cmd_national)

    e = sub.add_parser(
        "experiment", help="run an experiment (policy variants x replications) into a folder"
    )
    e.add_argument("file", help="experiment YAML (e.g. experiments/quota_haaglanden.yaml)")
    e.add_argument("--out", help="results folder (default results/FILE-STEM); resumes")
    e.add_argument(
        "--workers",
        type=WORKERS,
        default=None,
        help="local worker processes (default: every core; 1: serial in this process)",
    )
    e.add_argument("--scheduler", metavar="ADDRESS", help="a Dask scheduler, tcp://host:8786")
    e.add_argument("--no-report", action="store_true", help="skip the HTML report at the end")
    e.set_defaults(fn=cmd_experiment)

    rp = sub.add_parser("report", help="HTML report (figures + CSV tables) of a results folder")
    rp.add_argument("results", help="results folder of `woonsim experiment`")
    rp.add_argument("--out", help="report folder (default RESULTS/report)")
    rp.set_defaults(fn=cmd_report)

    d = sub.add_parser(
        "dashboard", help="the interactive dashboard (live model and results) in the browser"
    )
    d.add_argument(
        "--scenario",
        action="append",
        metavar="FILE",
        help="a region scenario to choose from (repeat; default: the Haaglanden, Amsterdam "
        "and Twente scenarios of experiments/scenarios/)",
    )
    d.add_argument("--results", default="results", help="where to find results folders")
    d.add_argument("--host", default="127.0.0.1", help="address to serve on (default 127.0.0.1)")
    d.add_argument("--port", type=_positive_int, default=8765)
    d.set_defaults(fn=cmd_dashboard)

    b = sub.add_parser("bench", help="medians of repeated timings: stylized market or real model")
    b.add_argument("--repeats", type=_upto(1000), default=5)
    b.add_argument(
        "--scale",
        choices=(
            "regional",
            "national-stylized",
            "region",
            "experiment-run",
            "scaling",
            "national",
        ),
        default="regional",
        help="regional / national-stylized: the stylized market by stage (in process); region, "
        "experiment-run, scaling, national: whole `woonsim` processes of the real model",
    )
    b.set_defaults(fn=cmd_bench)
    return p


def _terminated(signum, frame) -> None:
    raise KeyboardInterrupt  # SIGTERM stops like Ctrl-C: workers stopped, finished runs kept


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    main_thread = threading.current_thread() is threading.main_thread()
    before = signal.signal(signal.SIGTERM, _terminated) if main_thread else None
    try:
        return _dispatch(args)
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, before)


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "replications", 2) < 2:
        print("woonsim: error: --replications: need at least 2", file=sys.stderr)
        return EXIT_BAD_INPUT
    if getattr(args, "workers", None) is not None and args.workers < 1:
        print("woonsim: error: --workers: need at least 1", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        return args.fn(args)
    except (ScenarioError, UsageError, DataError) as err:
        print(f"woonsim: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except InvariantError as err:  # a bug in woonsim, not in the input: nothing written
        print(
            f"woonsim: error: invariant broken: {err} (a bug in woonsim; please report it "
            "with the scenario and seed)",
            file=sys.stderr,
        )
        return EXIT_INVARIANT
    except OSError as err:
        where = f"{err.filename}: " if err.filename else ""
        print(f"woonsim: error: {where}{err.strerror or err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("woonsim: interrupted", file=sys.stderr)
        return 130
