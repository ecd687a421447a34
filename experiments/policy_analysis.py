"""Worked example of the policy-analysis layer (`woonsim_experiments.ema`; needs the
extra: `pip install woonsim[ema]`).

Question: under which conditions does a 30% quota floor for aandachtsgroepen raise the
mean search time of reguliere woningzoekenden by more than a year?

1. Latin hypercube over five uncertainties (ranges around the Haaglanden scenario file,
   labelled assumptions). Each scenario is run under current practice and under the 30%
   floor with the same seed (common random numbers); the paired raise in the regular
   mean search time is the outcome of interest.
2. PRIM scenario discovery (`ema_workbench.analysis.prim`) on the cases where the raise
   exceeds one year; if too few cases do, on the upper quartile of the raise, said so.
3. Morris elementary effects (SALib) of the raise on the same uncertainties.
4. A horizon check: the raise at the base values at the short analysis horizon and at the
   scenario file's own horizon.

Writes CSV tables, PNG figures and README.md into --out.

    .venv/bin/python experiments/policy_analysis.py --out results/policy_analysis
    .venv/bin/python experiments/policy_analysis.py --quick --out /tmp/pa   # smoke test
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from woonsim.scenario import load_scenario, parse_scenario
from woonsim_experiments import ema

ROOT = Path(__file__).resolve().parents[1]

SCENARIO = ROOT / "experiments" / "scenarios" / "haaglanden.yaml"
OUTCOME = "search_time_mean_regulier"
CURRENT, NORM = "current", "norm30"
THRESHOLD = 1.0  # years
MIN_CASES = 5  # fewer cases of interest than this: PRIM is not informative
MORRIS_LEVELS = 4

SETUPS = {
    # Delft, Rijswijk, Midden-Delfland: a contiguous part of Haaglanden with about a fifth
    # of its corporation stock, so that one run takes about a second.
    "full": dict(
        municipalities=["GM0503", "GM0603", "GM1842"],
        burn_in_years=5,
        years=5,
        scenarios=150,
        trajectories=12,
    ),
    # Midden-Delfland and Wassenaar, three simulated years: a smoke test of the pipeline.
    "quick": dict(
        municipalities=["GM1842", "GM0629"],
        burn_in_years=1,
        years=2,
        scenarios=8,
        trajectories=2,
    ),
}


def uncertainties(base) -> dict[str, tuple[str, float, float, str]]:
    """path -> (short name, low, high, basis). Ranges around the scenario file's values;
    all are assumptions, chosen wide enough to span plausible futures."""
    g = {x.name: x for x in base.groups}
    dep = base.flows.departure_rate
    start = g["starters"].inflow_per_1000_households
    urg = g["urgent"].inflow_per_1000_households
    build = base.construction.per_1000_dwellings
    return {
        "flows.departure_rate": (
            "departure_rate",
            0.75 * dep,
            1.25 * dep,
            f"file value {dep:g} ±25% [assumption]",
        ),
        "groups[starters].inflow_per_1000_households": (
            "starters_inflow",
            0.7 * start,
            1.3 * start,
            f"file value {start:g} ±30% [assumption]",
        ),
        "groups[urgent].inflow_per_1000_households": (
            "urgent_inflow",
            0.5 * urg,
            2.0 * urg,
            f"file value {urg:g} ×0.5–2 [assumption]",
        ),
        "statushouders.national_per_halfyear": (
            "statushouder_task",
            7000.0,
            20000.0,
            "national persons per half-year; roughly the span of recent half-yearly "
            "taakstellingen [assumption]",
        ),
        "construction.per_1000_dwellings": (
            "construction",
            0.5 * build,
            1.5 * build,
            f"file value {build:g} ±50% [assumption]",
        ),
    }


def base_scenario(setup: dict, sc):
    """The scenario file's scenario `sc` on the set-up's municipalities and horizon."""
    d = sc.model_dump(mode="python")
    d["municipalities"] = setup["municipalities"]
    d["burn_in_years"], d["years"] = setup["burn_in_years"], setup["years"]
    d["measure"] = None
    d["name"] = f"{sc.name} (policy analysis sub-region)"
    return parse_scenario(d)


def build_model(base, seed_policy: str, root_seed: int):
    unc = uncertainties(base)
    return ema.woonsim_model(
        base,
        uncertainties={p: (lo, hi) for p, (_, lo, hi, _) in unc.items()},
        levers={
            "allocation.quota.share": (0.0, 0.5),
            "allocation.quota.mode": ["none", "floor", "cap", "ring_fenced"],
        },
        names={p: n for p, (n, *_) in unc.items()},
        seed_policy=seed_policy,
        root_seed=root_seed,
        name="woonsim",
    )


def policies(model, base):
    q = base.allocation.quota
    current = ema.policy(
        model, CURRENT, {"allocation.quota.share": q.share, "allocation.quota.mode": q.mode}
    )
    norm = ema.policy(
        model, NORM, {"allocation.quota.share": 0.3, "allocation.quota.mode": "floor"}
    )
    return [current, norm]


def run_design(model, scenarios, pols, processes: int):
    with ema.make_evaluator(model, processes) as ev:
        return ev.perform_experiments(scenarios, pols, log_progress=True)


def paired_table(model, results) -> pd.DataFrame:
    """Per scenario: the uncertainties, both policies' regular mean search time, the raise,
    and the paired differences of the other outcomes."""
    tab = ema.paired_difference(model, results, OUTCOME, NORM, CURRENT)
    tab = tab.rename(columns={"difference": "raise"})
    for o in results[1]:
        if o != OUTCOME:
            d = ema.paired_difference(model, results, o, NORM, CURRENT)
            tab[f"diff_{o}"] = d["difference"]
    return tab


def flat_experiments(results) -> pd.DataFrame:
    experiments, outcomes = results
    df = experiments.copy()
    for k, v in outcomes.items():
        df[k] = v
    return df


# --- PRIM --------------------------------------------------------------------------------


def run_prim(tab: pd.DataFrame, unc_names: list[str]) -> dict:
    """PRIM on raise > 1 year, or on the upper quartile when fewer than MIN_CASES exceed
    it. The box reported is the densest on the peeling trajectory with coverage >= 0.5."""
    from ema_workbench.analysis import prim

    raise_ = tab["raise"].to_numpy(float)
    n_over = int((raise_ > THRESHOLD).sum())
    info = {"n": len(raise_), "n_over_1y": n_over, "threshold": THRESHOLD, "fallback": False}
    if n_over >= MIN_CASES:
        y = raise_ > THRESHOLD
    else:
        q75 = float(np.quantile(raise_, 0.75))
        info.update(fallback=True, threshold=q75)
        y = raise_ >= q75
    info["n_cases"] = int(y.sum())
    if y.all() or not y.any():
        info["box"] = None
        return info
    x = tab[unc_names].reset_index(drop=True).astype(float)
    p = prim.Prim(x, y, peel_alpha=0.05, paste_alpha=0.05, mass_min=0.05)
    box = p.find_box()
    traj = box.peeling_trajectory.copy()
    ok = traj[traj["coverage"] >= 0.5]
    best = ok.sort_values(["density", "coverage"], ascending=False).index[0]
    i = int(best)
    stats, limits = box.inspect(i, style="data")[0]
    limits.columns = ["min", "max", "qp_lower", "qp_upper"]
    info.update(box=box, i=i, stats=stats, limits=limits, trajectory=traj, prim=p, x=x, y=y)
    return info


# --- Morris --------------------------------------------------------------------------------


def run_morris(model, tab: pd.DataFrame, root_seed: int) -> pd.DataFrame:
    from SALib.analyze import morris

    names = [p.name for p in model.uncertainties]
    problem = {
        "num_vars": len(names),
        "names": names,
        "bounds": [[p.lower_bound, p.upper_bound] for p in model.uncertainties],
    }
    X = tab[names].to_numpy(float)
    Y = tab["raise"].to_numpy(float)
    si = morris.analyze(problem, X, Y, num_levels=MORRIS_LEVELS, num_resamples=1000, seed=root_seed)
    out = pd.DataFrame(
        {
            "mu": si["mu"],
            "mu_star": si["mu_star"],
            "sigma": si["sigma"],
            "mu_star_conf": si["mu_star_conf"],
        },
        index=pd.Index(names, name="uncertainty"),
    )
    return out.sort_values("mu_star", ascending=False)


# --- horizon check ---------------------------------------------------------------------------


def horizon_check(setup: dict, file_sc, root_seed: int, seeds: int = 3) -> pd.DataFrame:
    """The raise at the base values, at the analysis horizon and at the scenario file's
    own horizon, over a few paired seeds."""
    from woonsim.measures import run_metrics
    from woonsim.simulate import run

    rows = []
    horizons = [
        (setup["burn_in_years"], setup["years"]),
        (file_sc.burn_in_years, file_sc.years),
    ]
    for burn, years in horizons:
        d = base_scenario(setup, file_sc).model_dump(mode="python")
        d["burn_in_years"], d["years"] = burn, years
        sc = parse_scenario(d)
        norm = ema.apply_values(
            sc, {"allocation.quota.share": 0.3, "allocation.quota.mode": "floor"}
        )
        for s in np.random.SeedSequence(root_seed).spawn(seeds):
            y = [
                ema.outcome_values(
                    run_metrics(run(x, s)), {OUTCOME: ("search_time_mean", "regulier")}
                )[OUTCOME]
                for x in (sc, norm)
            ]
            rows.append(
                {
                    "burn_in_years": burn,
                    "years": years,
                    "seed_spawn_key": s.spawn_key[0],
                    CURRENT: y[0],
                    NORM: y[1],
                    "raise": y[1] - y[0],
                }
            )
    return pd.DataFrame(rows)


# --- output ----------------------------------------------------------------------------------


def md_table(df: pd.DataFrame, fmt: str = "{:.3g}") -> str:
    cols = [df.index.name or "", *map(str, df.columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        cells = [str(idx)]
        for v in row:
            if isinstance(v, float | np.floating):
                cells.append("" if math.isnan(v) else fmt.format(v))
            else:
                cells.append(str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figures(out: Path, tab: pd.DataFrame, names: list[str], prim_info: dict, mor) -> None:
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(tab["raise"], bins=30, color="0.6")
    ax.axvline(THRESHOLD, color="C3", label="1 year")
    if prim_info["fallback"]:
        ax.axvline(prim_info["threshold"], color="C0", ls="--", label="upper quartile")
    ax.set_xlabel("raise in regular mean search time, 30% floor − current (years)")
    ax.set_ylabel("scenarios")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "raise_hist.png", dpi=120)
    plt.close(fig)

    fig, axes = plt.subplots(1, len(names), figsize=(3 * len(names), 3), sharey=True)
    case = prim_info.get("y")
    for ax, n in zip(np.atleast_1d(axes), names, strict=True):
        c = np.where(case, "C3", "0.5") if case is not None else "0.5"
        ax.scatter(tab[n], tab["raise"], s=10, c=c)
        ax.set_xlabel(n)
    np.atleast_1d(axes)[0].set_ylabel("raise (years)")
    fig.tight_layout()
    fig.savefig(out / "raise_scatter.png", dpi=120)
    plt.close(fig)

    if prim_info.get("box") is not None:
        box = prim_info["box"]
        fig = box.show_tradeoff(annotated=True)
        fig.savefig(out / "prim_tradeoff.png", dpi=120, bbox_inches="tight")
        plt.close(fig)
        fig = box.inspect(prim_info["i"], style="graph")[0]
        fig = fig if isinstance(fig, plt.Figure) else plt.gcf()
        fig.savefig(out / "prim_box.png", dpi=120, bbox_inches="tight")
        plt.close("all")

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.5))
    a1.barh(mor.index[::-1], mor["mu_star"][::-1], xerr=mor["mu_star_conf"][::-1], color="0.6")
    a1.set_xlabel("Morris μ* of the raise (years)")
    a2.scatter(mor["mu_star"], mor["sigma"])
    for n, r in mor.iterrows():
        a2.annotate(n, (r["mu_star"], r["sigma"]), fontsize=8)
    a2.set_xlabel("μ*")
    a2.set_ylabel("σ")
    fig.tight_layout()
    fig.savefig(out / "morris.png", dpi=120)
    plt.close(fig)


def readme(out: Path, ctx: dict) -> None:
    tab, p, mor, unc = ctx["tab"], ctx["prim"], ctx["morris"], ctx["unc"]
    r = tab["raise"]
    q = r.quantile([0.05, 0.25, 0.5, 0.75, 0.95])
    lines = [
        "# Policy analysis: when does a 30% quota floor raise the search times of "
        "reguliere woningzoekenden?",
        "",
        f"Command: `{ctx['command']}`  ",
        f"Run time: {ctx['seconds']:.0f} s ({ctx['runs']} model runs, {ctx['processes']} "
        f"process{'es' if ctx['processes'] > 1 else ''})"
        + (" — QUICK smoke version." if ctx["quick"] else "."),
        "",
        "## Set-up",
        "",
        f"- Base: `experiments/scenarios/haaglanden.yaml` as it was at run time, restricted to "
        f"{', '.join(ctx['setup']['municipalities'])} (a sub-region, to keep runs short).",
        f"- Horizon shortened to keep the example affordable: burn-in "
        f"{ctx['setup']['burn_in_years']} y, {ctx['setup']['years']} reporting years. "
        "The waiting lists are still filling up at this horizon, so search times and the "
        "raise are lower than in a full-length run"
        + ("; see the horizon check below." if ctx.get("horizon") is not None else "."),
        "- Policies: current practice (the file's quota: "
        f"{ctx['current_quota']}) and a 30% quota floor for aandachtsgroepen "
        "(`allocation.quota: {share: 0.3, mode: floor}`).",
        "- Outcome of interest: the raise = regular (`regulier`) mean search time at letting "
        "under the floor minus under current practice, in years, per scenario. Both policies "
        "of one scenario are run with the same seed (common random numbers).",
        f"- LHS: {len(tab)} scenarios, seeds `SeedSequence({ctx['root_seed']}, "
        "spawn_key=(scenario index,))`. Morris: "
        f"{ctx['trajectories']} trajectories × {len(unc) + 1} points, {MORRIS_LEVELS} levels, "
        f"one common seed `SeedSequence({ctx['root_seed'] + 1})` for every point (so that "
        "elementary effects compare runs with the same random numbers).",
        "",
        "Uncertainties (all ranges are assumptions):",
        "",
        "| name | path | low | high | basis |",
        "|---|---|---|---|---|",
    ]
    for path, (n, lo, hi, basis) in unc.items():
        lines.append(f"| {n} | `{path}` | {lo:.4g} | {hi:.4g} | {basis} |")
    lines += [
        "",
        "## The raise over the LHS sample",
        "",
        f"Mean {r.mean():.3f} years (sd {r.std():.3f}); quantiles 5/25/50/75/95%: "
        + ", ".join(f"{v:.3f}" for v in q)
        + f". Range {r.min():.3f} to {r.max():.3f}.",
        f"Other paired differences (mean over the sample): median search time "
        f"{tab['diff_search_time_median_regulier'].mean():+.3f} y, regular registration time "
        f"{tab['diff_registration_time_mean_regulier'].mean():+.3f} y, aandachtsgroep share "
        f"of lettings {tab['diff_share_of_lettings_aandachtsgroepen'].mean():+.3f}, "
        f"lettings per year {tab['diff_lettings_per_year_all'].mean():+.1f}.",
        "",
        "## PRIM scenario discovery",
        "",
        f"Scenarios with a raise above {THRESHOLD:g} year: **{p['n_over_1y']} of {p['n']}**.",
    ]
    if p["fallback"]:
        lines.append(
            f"Since fewer than {MIN_CASES} scenarios exceed one year, PRIM was run on a lower "
            f"threshold instead: the upper quartile of the raise, raise ≥ {p['threshold']:.3f} "
            f"years ({p['n_cases']} cases of interest). **This box answers 'when is the "
            "raise largest', not 'when does it exceed a year'.**"
        )
    else:
        lines.append(f"PRIM was run on raise > 1 year ({p['n_cases']} cases of interest).")
    if p.get("box") is not None:
        st = p["stats"]
        lim = p["limits"].copy()
        lim.index.name = "uncertainty"
        lines += [
            "",
            f"Box {p['i']} of the peeling trajectory (the densest with coverage ≥ 0.5): "
            f"coverage {st['coverage']:.2f}, density {st['density']:.2f}, mass "
            f"{st['mass']:.2f}, restricted dimensions {int(st['res_dim'])} (base density "
            f"{p['n_cases'] / p['n']:.2f}).",
            "",
            md_table(lim, "{:.4g}") if len(lim) else "(no dimension restricted)",
            "",
            "qp values: quasi-p values of each restriction (one-sided binomial test, Bryant "
            "and Lempert 2010); a restriction with qp > 0.05 is weak.",
            "Figures: `prim_tradeoff.png` (coverage–density trade-off), `prim_box.png`.",
        ]
    else:
        lines.append("PRIM found no box (all or none of the scenarios are of interest).")
    lines += [
        "",
        "## Morris sensitivity of the raise",
        "",
        "μ* is the mean absolute elementary effect: the change of the raise (years) when "
        f"one uncertainty steps by {MORRIS_LEVELS / (2 * (MORRIS_LEVELS - 1)):.2f} of its "
        "range; σ their spread (interactions, non-linearity and seed noise); "
        "μ*_conf the 95% bootstrap half-width.",
        "",
        md_table(mor, "{:.3f}"),
        "",
        "Figure: `morris.png`.",
    ]
    hc = ctx.get("horizon")
    if hc is not None:
        g = hc.groupby(["burn_in_years", "years"])["raise"].agg(["mean", "std", "count"])
        g.index = [f"{int(b)} + {int(y)}" for b, y in g.index]
        g.index.name = "burn-in + years"
        lines += [
            "",
            "## Horizon check",
            "",
            "The raise at the base values (the file's own parameters on the sub-region), "
            "paired seeds, at the analysis horizon and at the file's horizon:",
            "",
            md_table(g, "{:.3f}"),
        ]
    lines += [
        "",
        "## Files",
        "",
        "- `lhs_experiments.csv`, `morris_experiments.csv`: one row per run (inputs, policy, "
        "outcomes).",
        "- `lhs_paired.csv`, `morris_paired.csv`: one row per scenario: inputs, both "
        "policies' regular mean search time, `raise`, and `diff_*` of the other outcomes.",
        "- `prim_trajectory.csv`, `prim_box.csv`, `morris.csv`, "
        + ("`horizon_check.csv`, " if hc is not None else "")
        + "`summary.json`.",
        "- `raise_hist.png`, `raise_scatter.png`, `prim_tradeoff.png`, `prim_box.png`, "
        "`morris.png`.",
        "",
    ]
    (out / "README.md").write_text("\n".join(lines), encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output folder")
    ap.add_argument("--quick", action="store_true", help="tiny smoke version")
    ap.add_argument("--scenarios", type=int, help="LHS scenarios")
    ap.add_argument("--trajectories", type=int, help="Morris trajectories")
    ap.add_argument("--processes", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--root-seed", type=int, default=20250101)
    ap.add_argument("--no-horizon-check", action="store_true")
    args = ap.parse_args(argv)
    setup = dict(SETUPS["quick" if args.quick else "full"])
    if args.scenarios:
        setup["scenarios"] = args.scenarios
    if args.trajectories:
        setup["trajectories"] = args.trajectories
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.quick:
        from ema_workbench import ema_logging

        ema_logging.log_to_stderr(ema_logging.INFO)

    t0 = time.perf_counter()
    file_sc = load_scenario(SCENARIO)  # read once: the file may change during a long run
    base = base_scenario(setup, file_sc)
    unc = uncertainties(base)
    names = [n for n, *_ in unc.values()]
    root = args.root_seed

    # 1. LHS, paired policies, seeds by scenario index
    lhs_model = build_model(base, "index", root)
    pols = policies(lhs_model, base)
    scen = ema.sample_scenarios(lhs_model, setup["scenarios"], "lhs", rng=root)
    lhs = run_design(lhs_model, scen, pols, args.processes)
    tab = paired_table(lhs_model, lhs)
    flat_experiments(lhs).to_csv(out / "lhs_experiments.csv", index=False)
    tab.to_csv(out / "lhs_paired.csv")
    t_lhs = time.perf_counter() - t0

    # 2. PRIM
    p = run_prim(tab, names)
    if p.get("box") is not None:
        p["trajectory"].to_csv(out / "prim_trajectory.csv", index=False)
        lim = p["limits"].copy()
        lim.index.name = "uncertainty"
        lim.to_csv(out / "prim_box.csv")

    # 3. Morris: one common seed for every design point
    mor_model = build_model(base, "common", root + 1)
    mscen = ema.sample_scenarios(
        mor_model, setup["trajectories"], "morris", rng=root, num_levels=MORRIS_LEVELS
    )
    mres = run_design(mor_model, mscen, policies(mor_model, base), args.processes)
    mtab = paired_table(mor_model, mres)
    flat_experiments(mres).to_csv(out / "morris_experiments.csv", index=False)
    mtab.to_csv(out / "morris_paired.csv")
    mor = run_morris(mor_model, mtab, root)
    mor.to_csv(out / "morris.csv")
    t_morris = time.perf_counter() - t0 - t_lhs

    # 4. horizon check (not in the smoke version)
    hc = None
    if not args.quick and not args.no_horizon_check:
        hc = horizon_check(setup, file_sc, root)
        hc.to_csv(out / "horizon_check.csv", index=False)

    figures(out, tab, names, p, mor)
    seconds = time.perf_counter() - t0
    runs = 2 * (len(scen) + len(mscen)) + (0 if hc is None else len(hc) * 2)
    argv_shown = " ".join(sys.argv[1:]) if argv is None else " ".join(map(str, argv))
    command = f".venv/bin/python experiments/policy_analysis.py {argv_shown}".strip()
    summary = {
        "command": command,
        "seconds": round(seconds, 1),
        "seconds_lhs": round(t_lhs, 1),
        "seconds_morris": round(t_morris, 1),
        "runs": runs,
        "processes": args.processes,
        "quick": args.quick,
        "setup": setup,
        "root_seed": root,
        "raise": {
            "mean": float(tab["raise"].mean()),
            "min": float(tab["raise"].min()),
            "max": float(tab["raise"].max()),
            "n_over_1y": p["n_over_1y"],
        },
        "prim": {
            "threshold": p["threshold"],
            "fallback_upper_quartile": p["fallback"],
            "n_cases": p["n_cases"],
            "box": None
            if p.get("box") is None
            else {
                "index": p["i"],
                **{k: float(p["stats"][k]) for k in ("coverage", "density", "mass", "res_dim")},
                "limits": {
                    u: [float(r["min"]), float(r["max"])] for u, r in p["limits"].iterrows()
                },
            },
        },
        "morris": mor.reset_index().to_dict(orient="records"),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    readme(
        out,
        dict(
            tab=tab,
            prim=p,
            morris=mor,
            unc=unc,
            setup=setup,
            command=command,
            seconds=seconds,
            runs=runs,
            processes=args.processes,
            quick=args.quick,
            root_seed=root,
            trajectories=setup["trajectories"],
            current_quota=base.allocation.quota.model_dump(),
            horizon=hc,
        ),
    )
    print(f"policy analysis: {runs} runs in {seconds:.0f} s; results in {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
