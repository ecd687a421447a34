"""Displacement analysis of an experiment: every policy variant against the baseline.

An experiment's results folder (written by the sweep runner) holds

- `experiment.json`: name, `baseline` (a variant name), `variants` (`name`, `set`; or
  `variant_sets`, which also holds the variants of a lever grid),
  `replications`, `root_seed`, `paired`, `points`, `municipalities`, `base_scenario`, ...;
- `runs/<run id>.parquet`: the `woonsim.measures.run_metrics` table of one run plus the
  columns `run`, `variant`, `point` and `replication`.

When the experiment is paired, replication r of every variant at design point p used the
same seed (common random numbers), so a variant is compared with the baseline through the
per-replication differences: a 95% t-interval with n − 1 degrees of freedom over the n
pairs (point, replication). The unpaired Welch interval is given alongside; for an
unpaired experiment it is the only one. Several design points are pooled: the pairs then
also vary over the design.

Ratios (lettings to regulier lost per extra aandachtsgroep letting; months of extra
waiting per percentage point of priority lettings) are ratios of mean differences, with a
delta-method interval: the linearised difference Δnum − R·Δden has the paired (or
Welch) standard error, divided by |Δden|. When the denominator's own 95% interval
contains zero the ratio is not identified and its interval is left empty (NaN), as
Fieller's interval would be unbounded.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from scipy import stats

from woonsim.scenario import ScenarioError
from woonsim_experiments.run_record import verified

__all__ = [
    "AGGREGATES",
    "CONFIDENCE",
    "DISPLACEMENT_MEASURES",
    "backlog",
    "compare",
    "displacement",
    "displacement_curve",
    "group_roles",
    "headline",
    "lettings_lost",
    "load_results",
    "months_per_point",
    "municipal_shares",
    "national_view",
    "paired_differences",
    "ratio_of_differences",
    "region_table",
    "run_metadata",
    "search_time_cdf",
    "tables",
    "task_shares",
    "variant_levers",
    "who_fills",
]

CONFIDENCE = 0.95
AGGREGATES = ("all", "regulier", "aandachtsgroepen", "regulier_first_home", "regulier_move")
KEYS = ["measure", "group", "municipality", "time"]
RUN_COLUMNS = ["run", "variant", "point", "replication"]
DISPLACEMENT_MEASURES = (
    "housed_within_1y_of_search",
    "housed_within_3y_of_search",
    "housed_within_5y_of_search",
    "housed_within_1y_of_registration",
    "housed_within_3y_of_registration",
    "housed_within_5y_of_registration",
    "search_time_km_median",
    "search_time_km_rmst",
    "registration_time_km_median",
    "registration_time_km_rmst",
    "abandoned_within_5y_of_search",
    "exits_without_housing_per_year",
    "search_time_mean",
    "search_time_median",
    "registration_time_mean",
    "registration_time_median",
    "p_housed_1y",
    "p_housed_3y",
    "p_housed_5y",
    "lettings_per_year",
    "share_of_lettings",
)
QUOTA_LEVER = "allocation.quota.share"


# --- reading ----------------------------------------------------------------------------
def load_results(path: str | Path) -> tuple[pd.DataFrame, dict]:
    """All runs of a results folder as one long table, and the experiment description.

    Raises `ScenarioError` (one line) for a missing folder, a missing or unreadable
    experiment.json, or a folder without runs.
    """
    path = Path(path)
    if not path.is_dir():
        raise ScenarioError(f"{path}: results folder not found")
    exp_file = path / "experiment.json"
    if not exp_file.is_file():
        raise ScenarioError(f"{path}: no experiment.json (not an experiment results folder)")
    _check_against_manifest(path, exp_file)
    try:
        experiment = json.loads(exp_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ScenarioError(f"{exp_file}: cannot read ({err.__class__.__name__})") from None
    if not isinstance(experiment, dict):
        raise ScenarioError(f"{exp_file}: expected a JSON object")
    for key in ("name", "baseline", "variants"):
        if key not in experiment:
            raise ScenarioError(f"{exp_file}: {key}: required key is missing")
    variants = _variants(experiment)
    if not isinstance(variants, list) or not all(
        isinstance(v, dict) and "name" in v for v in variants
    ):
        raise ScenarioError(f"{exp_file}: variants: expected a list of {{name, set}} objects")
    files = _finished_files(path, str(experiment.get("sha256", "")))
    if not files:
        raise ScenarioError(f"{path}: no finished runs (runs/*.parquet)")
    try:
        tables = [
            pq.read_table(f, page_checksum_verification=True).replace_schema_metadata(None)
            for f in files
        ]
        df = pa.concat_tables(tables).to_pandas()
    except (OSError, pa.ArrowException) as err:
        raise ScenarioError(f"{path}: cannot read runs ({err.__class__.__name__})") from None
    missing = [c for c in [*KEYS, "value", *RUN_COLUMNS] if c not in df.columns]
    if missing:
        raise ScenarioError(f"{path}: run tables lack column(s) {', '.join(missing)}")
    if experiment["baseline"] not in set(df["variant"]):
        raise ScenarioError(f"{path}: no runs of the baseline {experiment['baseline']!r}")
    if experiment.get("kind") == "national":
        if "region" not in df.columns:
            raise ScenarioError(f"{path}: national run tables lack the column region")
        df = national_view(df)
    # the design only: pandas deep-copies `attrs` on every operation
    df.attrs["experiment"] = {
        "baseline": experiment["baseline"],
        "paired": bool(experiment.get("paired", True)),
        "variants": [{"name": v["name"]} for v in variants],
    }
    experiment = {**experiment, "runs_found": len(files)}
    return df, experiment


def _check_against_manifest(path: Path, exp_file: Path) -> None:
    """experiment.json as the manifest recorded it (when it did): a damaged file is
    refused with one line, never read."""
    from woonsim_experiments.run_record import MANIFEST_FILE, digest

    try:
        recorded = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
        want = recorded["experiment_json_sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        return  # no record to check against (an older folder, or the manifest lost)
    if digest(exp_file.read_bytes()) != want:
        raise ScenarioError(
            f"{exp_file}: corrupt (it does not match its sha256 in manifest.json); run the "
            "sweep into this folder again to repair it"
        )


def _finished_files(path: Path, experiment_sha256: str) -> list[Path]:
    """The finished run files (`run_record.verified`); one that is not (corrupt or
    replaced) is refused with one line."""
    ids = sorted(f.stem for f in (path / "runs").glob("*.parquet"))
    good, bad = verified(path, ids, experiment_sha256)
    if bad:
        raise ScenarioError(
            f"{path / 'runs' / bad[0]}.parquet: corrupt or replaced (it does not match its "
            "sha256 in manifest.json, or names another run)"
            f"{f', and {len(bad) - 1} more' if len(bad) > 1 else ''}; "
            "run the sweep into this folder again to repair it"
        )
    return [path / "runs" / f"{run}.parquet" for run in ids if run in good]


# measures that add up over regions, and the mean times (weighted by their lettings)
ADDITIVE = ("lettings_per_year", "exits_without_housing_per_year", "waiting_end_of_year",
            "taakstelling_backlog", "entering_search_per_year", "registering_per_year")  # fmt: skip
MEAN_TIMES = ("search_time_mean", "registration_time_mean")
_NO_TIME = -1.0
# the curve measures, pooled over regions as a mixture weighted by the households that
# enter them (entrants per year): exact for chances and restricted means
POOLED = {
    **{f"housed_within_{k}y_of_search": "entering_search_per_year" for k in (1, 3, 5)},
    **{f"p_housed_{k}y": "entering_search_per_year" for k in (1, 3, 5)},
    "abandoned_within_5y_of_search": "entering_search_per_year",
    "search_time_km_rmst": "entering_search_per_year",
    **{f"housed_within_{k}y_of_registration": "registering_per_year" for k in (1, 3, 5)},
    "registration_time_km_rmst": "registering_per_year",
}


def national_view(df: pd.DataFrame) -> pd.DataFrame:
    """A national experiment's region runs as one table over areas, like a region
    experiment's: each region's own rows (`municipality` "") take the region's id,
    municipality rows keep their GM codes, and the nation (`municipality` "") is
    computed within each (variant, point, replication), before any differencing: the
    counts in `ADDITIVE` summed over regions, the share of lettings from those sums, the
    mean times weighted by the lettings they are means of, the curve measures in
    `POOLED` as the mixture of the regions' curves weighted by their entrants (the
    chance that a household entering anywhere in the country is housed within k years,
    and the restricted mean), and `window_stationary` 1 only when every region's window
    is. Medians and quantiles do not pool this way and have no national row."""
    df = df.copy()
    own = df["municipality"] == ""
    df.loc[own, "municipality"] = df.loc[own, "region"]
    run = ["variant", "point", "replication"]
    by = [*run, "measure", "group", "time"]
    # plain keys (a whole-period time, NaN, as _NO_TIME) group reliably; restored below
    reg = df.loc[own, [*by, "region", "value"]].astype(
        {"variant": object, "measure": object, "group": object, "region": object}
    )
    reg["time"] = reg["time"].fillna(_NO_TIME)

    def total(x: pd.DataFrame, how: str = "sum") -> pd.DataFrame:
        return x.groupby(by, sort=False)["value"].agg(how).reset_index()

    def pooled(x: pd.DataFrame, w: pd.DataFrame) -> pd.DataFrame:
        """The weighted mean over regions; NaN when a region with weight has none (a
        mixture that left it out would not be the nation's)."""
        x = x.merge(w, on=[*run, "group", "region"])
        x = x.assign(vw=(x["value"] * x["w"]).fillna(0.0), bad=x["value"].isna() & (x["w"] > 0))
        g = x.groupby(by, sort=False)[["vw", "w", "bad"]].sum().reset_index()
        value = (g["vw"] / g["w"].where(g["w"] > 0)).where(g["bad"] == 0)
        return g.assign(value=value)[[*by, "value"]]

    def weights(measure: str) -> pd.DataFrame:
        w = reg[(reg["measure"] == measure) & (reg["time"] == _NO_TIME)]
        return w[[*run, "group", "region", "value"]].rename(columns={"value": "w"})

    parts = [total(reg[reg["measure"].isin(ADDITIVE)])]
    lets = total(weights("lettings_per_year").rename(columns={"w": "value"}).assign(
        measure="lettings_per_year", time=_NO_TIME))  # fmt: skip
    every = lets[lets["group"] == "all"][[*run, "value"]].rename(columns={"value": "all"})
    share = lets.merge(every, on=run)
    parts.append(
        share.assign(measure="share_of_lettings", value=share["value"] / share["all"])[
            [*by, "value"]
        ]
    )
    parts.append(pooled(reg[reg["measure"].isin(MEAN_TIMES)], weights("lettings_per_year")))
    for measure, weight in POOLED.items():
        parts.append(pooled(reg[reg["measure"] == measure], weights(weight)))
    parts.append(total(reg[reg["measure"] == "window_stationary"], "min"))
    nation = pd.concat(parts, ignore_index=True)
    nation["time"] = nation["time"].where(nation["time"] != _NO_TIME)
    first = df.drop_duplicates(run)[[*run, "run"]]
    first = first.assign(run=first["run"].str.rsplit("-", n=1).str[0])
    nation = nation.merge(first.astype({"variant": object}), on=run).assign(municipality="")
    columns = df.columns.drop("region")
    nation = nation[columns].astype(df[columns].dtypes.to_dict())
    return pd.concat([df[columns], nation], ignore_index=True)


def run_metadata(path: str | Path) -> dict:
    """The `woonsim` schema metadata (scenario, seed, version) of the first run file."""
    files = sorted((Path(path) / "runs").glob("*.parquet"))
    if not files:
        return {}
    meta = pq.read_schema(files[0]).metadata or {}
    return json.loads(meta.get(b"woonsim", b"{}"))


# --- the experiment's design ------------------------------------------------------------
def _defaults(df: pd.DataFrame, baseline, paired) -> tuple[str, bool]:
    exp = df.attrs.get("experiment", {})
    baseline = baseline if baseline is not None else exp.get("baseline")
    if baseline is None:
        raise ValueError("baseline: name the baseline variant")
    paired = paired if paired is not None else bool(exp.get("paired", True))
    return baseline, paired


def _variants(experiment: dict) -> list[dict]:
    """Every variant (`name`, `set`): `variant_sets` when the runner wrote it (it includes
    the variants of a lever grid), else `variants`."""
    return experiment.get("variant_sets") or experiment.get("variants") or []


def _order(experiment: dict, df: pd.DataFrame | None = None) -> list[str]:
    names = [v["name"] for v in _variants(experiment)]
    if df is not None:
        names += [v for v in pd.unique(df["variant"]) if v not in names]
    return names


def group_roles(experiment: dict, df: pd.DataFrame | None = None) -> dict[str, list[str]]:
    """Group names by role: `aandachtsgroepen` and `regulier` (from the base scenario),
    and `all` (every group, in scenario order)."""
    groups = experiment.get("base_scenario", {}).get("groups", [])
    names = [g["name"] for g in groups]
    if not names and df is not None:
        names = [g for g in pd.unique(df["group"]) if g not in AGGREGATES]
    flagged = {g["name"] for g in groups if g.get("aandachtsgroep")}
    return {
        "all": names,
        "aandachtsgroepen": [g for g in names if g in flagged],
        "regulier": [g for g in names if g not in flagged],
    }


def _get(tree, path: str):
    """The value at a dotted path (`allocation.quota.share`, `groups[starters].accept`;
    `groups[a|b]` reads group a)."""
    node = tree
    for part in path.replace("[", ".").replace("]", "").split("."):
        if isinstance(node, list):
            name = part.split("|")[0]
            hits = [g for g in node if isinstance(g, dict) and g.get("name") == name]
            if not hits:
                return None
            node = hits[0]
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return None
    return node


def _leaves(path: str, value) -> dict:
    """A set value as dotted leaf paths: `quota: {share: 0.3}` -> `quota.share: 0.3`."""
    if not (isinstance(value, dict) and value):
        return {path: value}
    out = {}
    for key, sub in value.items():
        out |= _leaves(f"{path}.{key}", sub)
    return out


def _settings(variant: dict) -> dict:
    """Every leaf path a variant sets, with its value."""
    out = {}
    for path, value in variant.get("set", {}).items():
        out |= _leaves(path, value)
    return out


def _is_number(x) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def variant_levers(experiment: dict) -> pd.DataFrame:
    """One row per variant: `lever` (the numeric policy lever that varies over the variants,
    `allocation.quota.share` when it does), its `lever_value` (NaN when there is none), and
    `setting` (what the variant sets, in words)."""
    variants = _variants(experiment)
    base = experiment.get("base_scenario", {})
    settings = [_settings(v) for v in variants]
    candidates = [QUOTA_LEVER] + [p for s in settings for p in s if p != QUOTA_LEVER]

    def value(s: dict, path: str):
        return s[path] if path in s else _get(base, path)

    lever = None
    for path in dict.fromkeys(candidates):
        vals = [value(s, path) for s in settings]
        if vals and all(_is_number(x) for x in vals) and len(set(vals)) > 1:
            lever = path
            break
    rows = []
    for v, s in zip(variants, settings, strict=True):
        text = ", ".join(f"{p} = {x}" for p, x in s.items()) or "base scenario"
        x = value(s, lever) if lever else None
        rows.append(
            {
                "variant": v["name"],
                "lever": lever or "",
                "lever_value": float(x) if lever else np.nan,
                "setting": text,
            }
        )
    return pd.DataFrame(rows, columns=["variant", "lever", "lever_value", "setting"])


# --- intervals --------------------------------------------------------------------------
def _tq(dof):
    """The two-sided t quantile of `CONFIDENCE` (NaN for dof < 1)."""
    dof = np.asarray(dof, dtype=float)
    with np.errstate(invalid="ignore"):
        return np.where(dof >= 1, stats.t.ppf(0.5 + CONFIDENCE / 2, np.maximum(dof, 1)), np.nan)


def _welch(var_a, n_a, var_b, n_b):
    """Standard error of a difference of two means and its Welch-Satterthwaite dof."""
    var_a, n_a, var_b, n_b = (np.asarray(x, dtype=float) for x in (var_a, n_a, var_b, n_b))
    with np.errstate(invalid="ignore", divide="ignore"):
        wa, wb = var_a / n_a, var_b / n_b
        se2 = wa + wb
        dof = se2**2 / (wa**2 / (n_a - 1) + wb**2 / (n_b - 1))
    dof = np.where(se2 > 0, dof, np.minimum(n_a, n_b) - 1)  # no spread: any finite dof
    return np.sqrt(se2), dof


def compare(
    df: pd.DataFrame, baseline: str | None = None, paired: bool | None = None, keys=KEYS
) -> pd.DataFrame:
    """Every variant against the baseline, for every combination of `keys` in `df`.

    Columns: the keys, `variant`, `n_baseline`, `n_variant`, `baseline_mean`,
    `variant_mean` (over runs with a value), `n_pairs`, `diff` (the mean paired difference
    over complete pairs, or the difference of means when unpaired), `sd_diff`,
    `paired_lo`/`paired_hi` (t, n_pairs − 1 dof), `welch_lo`/`welch_hi` (Welch, around
    the difference of means), `sd_welch` (sqrt(var_baseline + var_variant)), and `lo`/`hi`
    with `method`: the paired interval when paired, else Welch.
    """
    baseline, paired = _defaults(df, baseline, paired)
    keys = list(keys)
    d = df[[*keys, "variant", "point", "replication", "value"]]
    lvl = (
        d.groupby([*keys, "variant"], dropna=False, sort=False)["value"]
        .agg(n="count", mean="mean", var="var")
        .reset_index()
    )
    base = lvl[lvl["variant"] == baseline].drop(columns="variant")
    out = lvl[lvl["variant"] != baseline].merge(base, on=keys, suffixes=("", "_b"))
    se_w, dof_w = _welch(out["var"], out["n"], out["var_b"], out["n_b"])
    diff_w = out["mean"] - out["mean_b"]
    hw_w = _tq(dof_w) * se_w
    res = out[[*keys, "variant"]].assign(
        n_baseline=out["n_b"],
        n_variant=out["n"],
        baseline_mean=out["mean_b"],
        variant_mean=out["mean"],
        n_pairs=0,
        diff=diff_w,
        sd_diff=np.nan,
        paired_lo=np.nan,
        paired_hi=np.nan,
        welch_lo=diff_w - hw_w,
        welch_hi=diff_w + hw_w,
        sd_welch=np.sqrt(out["var"] + out["var_b"]),
    )
    if paired:
        on = [*keys, "point", "replication"]
        b = d[d["variant"] == baseline].drop(columns="variant")
        pairs = d[d["variant"] != baseline].merge(b, on=on, suffixes=("", "_b"))
        pairs["d"] = pairs["value"] - pairs["value_b"]
        ps = (
            pairs.groupby([*keys, "variant"], dropna=False, sort=False)["d"]
            .agg(n_pairs="count", diff="mean", sd_diff="std")
            .reset_index()
        )
        res = res.drop(columns=["n_pairs", "diff", "sd_diff"]).merge(
            ps, on=[*keys, "variant"], how="left"
        )
        res["n_pairs"] = res["n_pairs"].fillna(0).astype(int)
        hw = _tq(res["n_pairs"] - 1) * res["sd_diff"] / np.sqrt(res["n_pairs"])
        res["paired_lo"], res["paired_hi"] = res["diff"] - hw, res["diff"] + hw
    res["lo"] = res["paired_lo"] if paired else res["welch_lo"]
    res["hi"] = res["paired_hi"] if paired else res["welch_hi"]
    res["method"] = "paired t" if paired else "welch t"
    cols = [
        *keys, "variant", "n_baseline", "n_variant", "baseline_mean", "variant_mean",
        "n_pairs", "diff", "sd_diff", "lo", "hi", "method",
        "paired_lo", "paired_hi", "welch_lo", "welch_hi", "sd_welch",
    ]  # fmt: skip
    return _sorted(res[cols], df)


def _sorted(res: pd.DataFrame, df: pd.DataFrame | None, order=None) -> pd.DataFrame:
    """Rows in the experiment's variant order (stable within a variant)."""
    order = order or _order(df.attrs.get("experiment", {}), df)
    rank = res["variant"].map({v: i for i, v in enumerate(order)})
    res = res.assign(_r=rank).sort_values("_r", kind="stable")
    return res.drop(columns="_r").reset_index(drop=True)


def _select(df, measure, group, municipality="", time=None) -> pd.DataFrame:
    sel = (df["measure"] == measure) & (df["group"] == group) & (df["municipality"] == municipality)
    sel &= df["time"].isna() if time is None else np.isclose(df["time"], time)
    return df[sel]


def paired_differences(
    df: pd.DataFrame,
    measure: str,
    group: str,
    municipality: str = "",
    baseline: str | None = None,
    paired: bool | None = None,
    time: float | None = None,
) -> pd.DataFrame:
    """One measure (for one group, municipality and time; NaN time: the whole period)
    compared between each variant and the baseline: baseline and variant means, the mean
    difference with its 95% paired t-interval and, for comparison, the Welch interval
    (see `compare` for the columns). `baseline` and `paired` default to the experiment's
    when `df` comes from `load_results`."""
    baseline, paired = _defaults(df, baseline, paired)
    return compare(_select(df, measure, group, municipality, time), baseline, paired)


def _wide(df, num: tuple, den: tuple) -> pd.DataFrame:
    """Runs with both the numerator and the denominator measure: index (variant, point,
    replication), columns `num`, `den`."""
    idx = ["variant", "point", "replication"]
    a = _select(df, *num).set_index(idx)["value"].rename("num")
    b = _select(df, *den).set_index(idx)["value"].rename("den")
    return pd.concat([a, b], axis=1, join="inner").dropna()


def ratio_of_differences(
    df: pd.DataFrame,
    num: tuple[str, str, str],
    den: tuple[str, str, str],
    *,
    scale: float = 1.0,
    baseline: str | None = None,
    paired: bool | None = None,
) -> pd.DataFrame:
    """`scale · Δnum / Δden` for each variant against the baseline (Δ: a ratio of mean
    differences; `num`, `den`: (measure, group, municipality)), with a 95% delta-method
    interval (see the module docstring). Columns: `variant`, `n`, `d_num`, `d_den`,
    `d_den_lo`, `d_den_hi`, `estimate`, `se`, `lo`, `hi`, `identified`, `method`."""
    baseline, paired = _defaults(df, baseline, paired)
    wide = _wide(df, num, den)
    rows = []
    if baseline not in wide.index.get_level_values("variant"):
        return pd.DataFrame(rows)
    base = wide.loc[baseline]
    for v in _order(df.attrs.get("experiment", {}), df):
        if v == baseline or v not in wide.index.get_level_values("variant"):
            continue
        a = wide.loc[v]
        if paired:
            j = a.merge(base, left_index=True, right_index=True, suffixes=("", "_b"))
            dn, dd = j["num"] - j["num_b"], j["den"] - j["den_b"]
            n, d_num, d_den = len(j), dn.mean(), dd.mean()
            r = d_num / d_den if d_den else np.nan
            se_e, dof = (dn - r * dd).std(ddof=1) / math.sqrt(n), n - 1
            se_den, dof_den = dd.std(ddof=1) / math.sqrt(n), n - 1
        else:
            n = min(len(a), len(base))
            d_num = a["num"].mean() - base["num"].mean()
            d_den = a["den"].mean() - base["den"].mean()
            r = d_num / d_den if d_den else np.nan
            ea, eb = a["num"] - r * a["den"], base["num"] - r * base["den"]
            se_e, dof = _welch(ea.var(), len(ea), eb.var(), len(eb))
            se_den, dof_den = _welch(a["den"].var(), len(a), base["den"].var(), len(base))
        hw_den = float(_tq(dof_den)) * float(se_den)
        identified = bool(abs(d_den) > hw_den)
        se = abs(scale) * float(se_e) / abs(d_den) if d_den else np.nan
        hw = float(_tq(dof)) * se if identified else np.nan
        est = scale * r
        rows.append(
            {
                "variant": v,
                "n": n,
                "d_num": d_num,
                "d_den": d_den,
                "d_den_lo": d_den - hw_den,
                "d_den_hi": d_den + hw_den,
                "estimate": est,
                "se": se,
                "lo": est - hw,
                "hi": est + hw,
                "identified": identified,
                "method": "delta, " + ("paired t" if paired else "welch t"),
            }
        )
    return pd.DataFrame(rows)


# --- displacement measures --------------------------------------------------------------
def displacement(df: pd.DataFrame, baseline=None, paired=None) -> pd.DataFrame:
    """Change against the baseline of search and registration time (mean, median),
    P(housed within 1, 3, 5 years), lettings per year and share of lettings: every group
    and aggregate, the region (`municipality` "") and each municipality where the
    metrics have it (see `compare` for the columns)."""
    sub = df[df["measure"].isin(DISPLACEMENT_MEASURES) & df["time"].isna()]
    return compare(sub, baseline, paired)


LOSSES = {  # regulier aggregate -> what one of its lettings is
    "regulier": "lettings to regulier",
    "regulier_first_home": "starters' first homes",
    "regulier_move": "doorstromers' moves",
}


def lettings_lost(df: pd.DataFrame, baseline=None, paired=None) -> pd.DataFrame:
    """Lettings to regulier lost per extra aandachtsgroep letting,
    −Δ(lettings_per_year, regulier) / Δ(lettings_per_year, aandachtsgroepen), for the
    region and each municipality, in total and split into first homes lost (starters,
    who stay without a home of their own) and moves lost (doorstromers, who stay housed
    where they are). The total differs from 1 through vacancy chains: a doorstromer's
    move frees another dwelling, an aandachtsgroep letting seldom does. Under a cap the
    denominator is negative and the same ratio reads as lettings gained per aandachtsgroep
    letting fewer."""
    df = df[(df["measure"] == "lettings_per_year") & df["time"].isna()]  # once, not per area
    munis = ["", *sorted(set(df["municipality"]) - {""})]
    parts = []
    for group, what in LOSSES.items():
        for code in munis:
            r = ratio_of_differences(
                df,
                ("lettings_per_year", group, code),
                ("lettings_per_year", "aandachtsgroepen", code),
                scale=-1.0,
                baseline=baseline,
                paired=paired,
            )
            if len(r):
                parts.append(
                    r.assign(
                        municipality=code,
                        quantity=f"{what} lost per extra aandachtsgroep letting",
                    )
                )
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def who_fills(df: pd.DataFrame, experiment: dict) -> pd.DataFrame:
    """Who fills the extra lettings to aandachtsgroepen, group by group: each group's
    Δ(lettings_per_year) / Δ(lettings_per_year, aandachtsgroepen) against the baseline
    (the region), with the group's Δ lettings per year beside it. The aandachtsgroepen's
    ratios add up to 1; a regular group's ratio is minus its lettings lost per extra
    aandachtsgroep letting."""
    baseline, paired = experiment["baseline"], bool(experiment.get("paired", True))
    roles = group_roles(experiment, df)
    parts = []
    for group in roles["all"]:
        r = ratio_of_differences(
            df,
            ("lettings_per_year", group, ""),
            ("lettings_per_year", "aandachtsgroepen", ""),
            baseline=baseline,
            paired=paired,
        )
        if not len(r):
            continue
        d = compare(_select(df, "lettings_per_year", group), baseline, paired)
        d = d[d["municipality"] == ""][["variant", "diff", "lo", "hi"]]
        d = d.rename(columns={"diff": "lettings_change", "lo": "lettings_lo",
                              "hi": "lettings_hi"})  # fmt: skip
        r = r.assign(group=group, aandachtsgroep=group in roles["aandachtsgroepen"])
        parts.append(r.merge(d, on="variant", how="left"))
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()


def months_per_point(df: pd.DataFrame, baseline=None, paired=None) -> pd.DataFrame:
    """Months of extra waiting of reguliere woningzoekenden per percentage point of lettings
    to aandachtsgroepen: 12·Δ(search_time_km_median, regulier) / (100·Δ share_of_lettings
    of aandachtsgroepen), the censored median (those who give up counted)."""
    r = ratio_of_differences(
        df,
        ("search_time_km_median", "regulier", ""),
        ("share_of_lettings", "aandachtsgroepen", ""),
        scale=12 / 100,
        baseline=baseline,
        paired=paired,
    )
    return r.assign(
        municipality="",
        quantity="months of extra median search time (Kaplan–Meier) of regulier per pp of "
        "aandachtsgroep lettings",
    )


def _band(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean over runs with its 95% t-interval (`lo`, `hi`), per keys and variant."""
    g = (
        df.groupby([*keys, "variant"], dropna=False, sort=False)["value"]
        .agg(n="count", mean="mean", sd="std")
        .reset_index()
    )
    hw = _tq(g["n"] - 1) * g["sd"].fillna(0) / np.sqrt(g["n"])
    return _sorted(g.assign(lo=g["mean"] - hw, hi=g["mean"] + hw), df)


def backlog(df: pd.DataFrame, experiment: dict) -> pd.DataFrame:
    """Backlogs over time per variant: households of each aandachtsgroep (and of all
    aandachtsgroepen) waiting at each year end, and the statushouder taakstelling backlog
    (region and municipalities), as the mean over runs with its 95% band. The band of the
    households waiting, a count, is clipped at 0 (`clipped` says where the t-interval went
    below); the taakstelling backlog (task minus housed) is below 0 when ahead of the task."""
    groups = [*group_roles(experiment, df)["aandachtsgroepen"], "aandachtsgroepen"]
    waiting = (df["measure"] == "waiting_end_of_year") & df["group"].isin(groups)
    sub = df[(waiting & (df["municipality"] == "")) | (df["measure"] == "taakstelling_backlog")]
    out = _band(sub, KEYS)
    clip = (out["measure"] == "waiting_end_of_year") & (out["lo"] < 0)
    return out.assign(clipped=clip, lo=out["lo"].mask(clip, 0.0))


def task_shares(df: pd.DataFrame, experiment: dict) -> pd.DataFrame:
    """Each municipality's share of the region's aandachtsgroep lettings (its part of the
    task; mean over runs with 95% band) against its fair share by population and by
    corporation stock: differences in percentage points and ratios. The band is clipped
    to [0, 1]: a share."""
    sub = df[df["measure"] == "share_of_aandachtsgroep_lettings"]
    share = _band(sub, ["municipality"])
    share = share.assign(lo=share["lo"].clip(lower=0), hi=share["hi"].clip(upper=1))
    fair = (
        df[df["measure"].isin(["fair_share_population", "fair_share_social_stock"])]
        .groupby(["municipality", "measure"])["value"]
        .mean()
        .unstack("measure")
        .reset_index()
    )
    out = share.merge(fair, on="municipality", how="left")
    for by in ("population", "social_stock"):
        fs = out[f"fair_share_{by}"]
        out[f"excess_pp_{by}"] = 100 * (out["mean"] - fs)
        out[f"ratio_{by}"] = out["mean"] / fs
    return out.rename(columns={"mean": "share", "lo": "share_lo", "hi": "share_hi"})


def search_time_cdf(df: pd.DataFrame) -> pd.DataFrame:
    """The distribution of search time at letting per variant and group: the quantiles
    `search_time_qXX` averaged over runs (region), as `quantile`, `search_time` (years),
    with the 95% t-interval of that mean over runs (`lo` clipped at 0, `hi`)."""
    sub = df[df["measure"].str.startswith("search_time_q") & (df["municipality"] == "")]
    g = sub.groupby(["variant", "group", "measure"], sort=False)["value"].agg(
        search_time="mean", n="count", sd="std"
    )
    g = g.reset_index()
    hw = _tq(g["n"] - 1) * g["sd"].fillna(0) / np.sqrt(g["n"])
    g = g.assign(lo=(g["search_time"] - hw).clip(lower=0), hi=g["search_time"] + hw)
    g["quantile"] = g["measure"].str.removeprefix("search_time_q").astype(int) / 100
    g = g.drop(columns="measure").sort_values(["variant", "group", "quantile"], kind="stable")
    return _sorted(g[["variant", "group", "quantile", "search_time", "lo", "hi", "n"]], df)


CURVE = {  # measure -> (what, unit, scale): the displacement curve's panels
    "housed_within_3y_of_search": ("chance of being housed within 3 years", "pp", 100),
    "search_time_km_median": ("median search time if nobody gave up", "months", 12),
    # in its place where medians do not pool (the nation of a national experiment)
    "search_time_km_rmst": ("mean search time up to 10 years if nobody gave up", "months", 12),
}


def displacement_curve(df: pd.DataFrame, experiment: dict) -> pd.DataFrame:
    """The censored measures of `regulier` (the groups that are not aandachtsgroepen),
    of its starters and doorstromers and of each of its groups, per variant against the
    policy lever (`variant_levers`): level and change from the baseline with its 95%
    interval (zero at the baseline), in the unit of `CURVE` (`level`, `diff`, `lo`,
    `hi`, `unit`)."""
    baseline, paired = _defaults(df, experiment.get("baseline"), experiment.get("paired"))
    groups = [
        "regulier", "regulier_first_home", "regulier_move",
        *group_roles(experiment, df)["regulier"],
    ]  # fmt: skip
    sub = df[df["group"].isin(groups) & (df["municipality"] == "") & df["time"].isna()]
    median = "search_time_km_median"
    panels = ["housed_within_3y_of_search"]
    panels.append(median if (sub["measure"] == median).any() else "search_time_km_rmst")
    sub = sub[sub["measure"].isin(panels)]
    cmp = compare(sub, baseline, paired)
    base = _band(sub[sub["variant"] == baseline], ["measure", "group"])
    base = base.assign(diff=0.0, lo=0.0, hi=0.0, variant_mean=base["mean"])
    cols = ["measure", "group", "variant", "variant_mean", "diff", "lo", "hi"]
    out = pd.concat([base[cols], cmp[cols]], ignore_index=True)
    k = out["measure"].map({m: c[2] for m, c in CURVE.items()})
    out = out.assign(
        level=k * out["variant_mean"],
        diff=k * out["diff"],
        lo=k * out["lo"],
        hi=k * out["hi"],
        unit=out["measure"].map({m: c[1] for m, c in CURVE.items()}),
    ).drop(columns="variant_mean")
    out = out.merge(variant_levers(experiment), on="variant", how="left")
    return _sorted(out, df)


HEADLINE = [  # (measure, group, quantity, unit, scale of the level, scale of the change)
    ("share_of_lettings", "aandachtsgroepen", "share of lettings to aandachtsgroepen",
     "%", 100, 100),
    ("housed_within_3y_of_search", "regulier",
     "chance of being housed within 3 years of starting to search, regulier", "%", 100, 100),
    ("housed_within_5y_of_registration", "regulier",
     "chance of being housed within 5 years of registering, regulier", "%", 100, 100),
    ("search_time_km_median", "regulier",
     "median search time if nobody gave up (Kaplan–Meier), regulier", "years", 1, 1),
    ("search_time_km_rmst", "regulier",
     "mean search time up to 10 years if nobody gave up (Kaplan–Meier), regulier", "years",
     1, 1),
    ("exits_without_housing_per_year", "regulier",
     "reguliere woningzoekenden leaving unhoused per year", "households", 1, 1),
    ("lettings_per_year", "regulier_first_home", "first homes to starters per year",
     "lettings", 1, 1),
    ("lettings_per_year", "regulier_move", "moves of doorstromers per year", "lettings", 1, 1),
    ("housed_within_1y_of_search", "statushouders",
     "chance of a statushouder being housed within a year in reception", "%", 100, 100),
    ("search_time_mean", "regulier",
     "mean search time at letting, regulier (over the housed only)", "years", 1, 1),
]  # fmt: skip
BACKLOG = "statushouder taakstelling backlog at the end (households)"
MONTHS_PER_POINT = (
    "months of extra median search time (Kaplan–Meier) of regulier per pp of "
    "aandachtsgroep lettings"
)


def _last_time(df: pd.DataFrame, measure: str) -> pd.DataFrame:
    sub = df[(df["measure"] == measure) & (df["municipality"] == "")]
    return sub[np.isclose(sub["time"], sub["time"].max())] if len(sub) else sub


def headline(
    differences: pd.DataFrame, ratios: pd.DataFrame, experiment: dict, df=None
) -> pd.DataFrame:
    """The headline per variant, levels beside changes: `variant`, `quantity`, `unit`,
    `baseline` and `level` (the means of the baseline and the variant; NaN for ratios),
    `estimate` (the change, in the unit; for % in percentage points), `lo`, `hi`,
    `method`. Censored measures first (woonsim.survival), then the statushouders' side,
    then search time at letting, a measure over the housed only."""
    region = differences[differences["municipality"] == ""]
    backlog_end = None
    if df is not None:
        baseline, paired = _defaults(df, experiment.get("baseline"), experiment.get("paired"))
        bl = _last_time(df, "taakstelling_backlog")
        if len(bl):
            backlog_end = compare(bl, baseline, paired)
    rows = []
    for measure, group, quantity, unit, k_level, k in HEADLINE:
        sel = region[(region["measure"] == measure) & (region["group"] == group)]
        for r in sel.itertuples():
            rows.append(
                {
                    "variant": r.variant, "quantity": quantity, "unit": unit,
                    "baseline": k_level * r.baseline_mean, "level": k_level * r.variant_mean,
                    "estimate": k * r.diff, "lo": k * r.lo, "hi": k * r.hi,
                    "method": r.method,
                }
            )  # fmt: skip
    if backlog_end is not None:
        for r in backlog_end.itertuples():
            rows.append(
                {
                    "variant": r.variant, "quantity": BACKLOG, "unit": "households",
                    "baseline": r.baseline_mean, "level": r.variant_mean,
                    "estimate": r.diff, "lo": r.lo, "hi": r.hi, "method": r.method,
                }
            )  # fmt: skip
    units = {MONTHS_PER_POINT: "months per pp"}
    for r in ratios[ratios["municipality"] == ""].itertuples():
        rows.append(
            {
                "variant": r.variant, "quantity": r.quantity,
                "unit": units.get(r.quantity, "lettings"),
                "baseline": np.nan, "level": np.nan,
                "estimate": r.estimate, "lo": r.lo, "hi": r.hi, "method": r.method,
            }
        )  # fmt: skip
    cols = ["variant", "quantity", "unit", "baseline", "level", "estimate", "lo", "hi", "method"]
    return _sorted(pd.DataFrame(rows, columns=cols), None, _order(experiment))


REGION_TABLE = [  # (column stem, measure, group, scale): the per-region table's changes
    ("aandachtsgroep_share_pp", "share_of_lettings", "aandachtsgroepen", 100),
    ("regulier_housed_within_3y_pp", "housed_within_3y_of_search", "regulier", 100),
    ("regulier_km_median_months", "search_time_km_median", "regulier", 12),
    ("regulier_km_rmst_months", "search_time_km_rmst", "regulier", 12),
    ("first_homes_per_year", "lettings_per_year", "regulier_first_home", 1),
    ("statushouder_backlog_end", "taakstelling_backlog", "statushouders", 1),
]


def region_table(df: pd.DataFrame, experiment: dict) -> pd.DataFrame:
    """A national experiment per area (the nation, `area` "", then each region) and
    variant: the baseline level and the change of each measure of `REGION_TABLE` with its
    95% interval (paired by replication), and `binds`: whether the variant raises the
    share of lettings to aandachtsgroepen there (its interval above zero). Empty for a
    region experiment."""
    regions = experiment.get("regions") or {}
    if not regions:
        return pd.DataFrame()
    baseline, paired = _defaults(df, experiment.get("baseline"), experiment.get("paired"))
    areas = ["", *sorted(regions)]
    parts = []
    for stem, measure, group, k in REGION_TABLE:
        sub = df[
            (df["measure"] == measure) & (df["group"] == group) & df["municipality"].isin(areas)
        ]
        if measure == "taakstelling_backlog":
            sub = sub[np.isclose(sub["time"], sub["time"].max())] if len(sub) else sub
        else:
            sub = sub[sub["time"].isna()]
        if not len(sub):
            continue
        c = compare(sub, baseline, paired)
        parts.append(
            pd.DataFrame(
                {
                    "area": c["municipality"],
                    "variant": c["variant"],
                    f"{stem}_baseline": k * c["baseline_mean"],
                    f"{stem}_change": k * c["diff"],
                    f"{stem}_lo": k * c["lo"],
                    f"{stem}_hi": k * c["hi"],
                }
            )
        )
    out = parts[0]
    for p in parts[1:]:
        out = out.merge(p, on=["area", "variant"], how="outer")
    out["binds"] = out["aandachtsgroep_share_pp_lo"] > 0
    out.insert(1, "parameters", out["area"].map({r: v["parameters"] for r, v in regions.items()}))
    out["area"] = pd.Categorical(out["area"], areas, ordered=True)
    out = out.sort_values(["area"], kind="stable").astype({"area": str})
    return (
        _sorted(out, df)
        .sort_values("area", kind="stable", key=_nation_first)
        .reset_index(drop=True)
    )


def municipal_shares(df: pd.DataFrame, experiment: dict) -> pd.DataFrame:
    """Each municipality's share of its lettings that goes to aandachtsgroepen, per
    variant: `share` (mean over runs) and `change` from the baseline (mean paired
    difference, or difference of means when unpaired), both as fractions."""
    baseline, paired = _defaults(df, experiment.get("baseline"), experiment.get("paired"))
    sub = df[
        (df["measure"] == "lettings_per_year")
        & df["group"].isin(["all", "aandachtsgroepen"])
        & df["municipality"].str.startswith("GM")
        & df["time"].isna()
    ]
    wide = sub.pivot_table(
        index=["municipality", "variant", "point", "replication"],
        columns="group",
        values="value",
        observed=True,
    ).reset_index()
    wide["value"] = wide["aandachtsgroepen"] / wide["all"].where(wide["all"] > 0)
    runs = wide[["municipality", "variant", "point", "replication", "value"]].assign(
        measure="share", group="aandachtsgroepen", time=np.nan
    )
    c = compare(runs, baseline, paired)
    level = runs.groupby(["municipality", "variant"], sort=False)["value"].mean()
    out = level.rename("share").reset_index()
    change = c[["municipality", "variant", "diff"]].rename(columns={"diff": "change"})
    out = out.merge(change, on=["municipality", "variant"], how="left")
    out.loc[out["variant"] == baseline, "change"] = 0.0
    return _sorted(out, df)


def _nation_first(s: pd.Series) -> pd.Series:
    return s.map(lambda a: (a != "", a))


def tables(df: pd.DataFrame, experiment: dict) -> dict[str, pd.DataFrame]:
    """Every tidy table of the analysis, by the CSV name the report writes it under."""
    baseline, paired = experiment["baseline"], bool(experiment.get("paired", True))
    diffs = displacement(df, baseline, paired)
    ratios = pd.concat(
        [lettings_lost(df, baseline, paired), months_per_point(df, baseline, paired)],
        ignore_index=True,
    )
    return {
        "differences": diffs,
        "ratios": ratios,
        "headline": headline(diffs, ratios, experiment, df),
        "who_fills": who_fills(df, experiment),
        "displacement_curve": displacement_curve(df, experiment),
        "search_time_cdf": search_time_cdf(df),
        "backlog": backlog(df, experiment),
        "task_share": task_shares(df, experiment),
        "variants": variant_levers(experiment),
        **(
            {
                "regions": region_table(df, experiment),
                "municipal_shares": municipal_shares(df, experiment),
            }
            if experiment.get("regions")
            else {}
        ),
    }
