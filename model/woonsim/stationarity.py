"""Is a run's reported window past the start-up transient? MSER-5 on half-yearly series.

Every regional run starts with empty lists; the burn-in (warm-up) must be long enough
for the lists, and the waiting times of the seekers on them, to reach their steady
state. The check here is the MSER-5 truncation rule (White 1997; White, Cobb & Spratt
2000; Hoad, Robinson & Davies 2010 found it the most reliable of the automatic rules):
batch the series in means of 5, and truncate where the squared standard error of the
mean of what remains is smallest, searching the first half only.

A run's reported window starts in the steady state when, for every series, MSER-5
applied to the run's whole series (burn-in and window, searched over its first half as
the rule prescribes) truncates within the burn-in: the start-up transient from empty
lists is over before the first reported year. The verdict is conservative: a transient
that lasts past half the run is flagged even when it ends within the burn-in. (Applied to
the burn-in alone the rule is fragile on single runs of small regions, whose slow
random fluctuations often put its minimum at the end of the search range.) What moves
the series inside the window is the drivers: construction, demolition and sales of the
stock from the first reported year (the stock is frozen during the burn-in); `diagnose`
reports their drift beside the verdict.

`series(result)` gives the diagnostic series of a regional run over its whole horizon
(burn-in included); `diagnose(result)` the verdict that every run reports;
`truncation(x)` the rule itself. `woonsim warmup` uses the same functions on pilot runs
to choose a scenario's burn-in (docs/ODD.md §B1.2).
"""

from __future__ import annotations

import math

import numpy as np

from woonsim.results import CENSORED, HOUSED

__all__ = ["BATCH", "SERIES", "diagnose", "series", "truncation"]

BATCH = 5
STEP = 0.5  # years per observation of the diagnostic series
SERIES = {
    "waiting_regulier": "reguliere woningzoekenden on a list at each half-year end",
    "search_time_regulier": "mean search time at letting of reguliere woningzoekenden "
    "housed in the half-year",
    "waiting_aandachtsgroepen": "aandachtsgroep households waiting at each half-year end",
}


def truncation(x: np.ndarray, batch: int = BATCH) -> int | None:
    """MSER-`batch` truncation point, in observations of `x` (a multiple of `batch`),
    searched over the first half; None when the minimum falls at the end of that half
    (the series has not settled there)."""
    x = np.asarray(x, float)
    x = x[np.isfinite(x)] if np.isnan(x).any() else x
    nb = len(x) // batch
    if nb < 4:
        return None
    b = x[: nb * batch].reshape(nb, batch).mean(axis=1)
    b = b - b.mean()  # centred: the tail sums below lose no precision on large levels
    # MSER(d) = sum_{j>=d} (b_j - mean_d)^2 / (nb - d)^2, from the tail sums
    rev = b[::-1]
    n = np.arange(1, nb + 1)
    s1 = np.cumsum(rev)[::-1]
    s2 = np.cumsum(rev**2)[::-1]
    k = n[::-1].astype(float)
    stat = (s2 - s1**2 / k) / k**2
    limit = nb // 2
    d = int(np.argmin(stat[: limit + 1]))
    return None if d >= limit else d * batch


def series(result) -> dict[str, np.ndarray]:
    """The diagnostic series (`SERIES`) of a regional run, one value per half-year from
    the start of the burn-in to the horizon."""
    b, sk = result.base, result.seekers
    n = max(int(np.ceil(result.horizon / STEP - 1e-9)), 1)  # the last may be cut short
    ends = STEP * np.arange(1, n + 1)
    out = {}
    still = np.where(b.reason == CENSORED, np.inf, b.exit)
    for name, mine in (("regulier", ~sk.aandacht), ("aandachtsgroepen", sk.aandacht)):
        a = np.sort(b.arrival[mine])
        e = np.sort(still[mine])
        out[f"waiting_{name}"] = (
            np.searchsorted(a, ends, side="right") - np.searchsorted(e, ends, side="right")
        ).astype(float)
    housed = (b.reason == HOUSED) & ~sk.aandacht
    half = np.minimum((b.exit[housed] / STEP).astype(np.int64), n - 1)
    wait = (b.exit - b.arrival)[housed]
    count = np.bincount(half, minlength=n)
    total = np.bincount(half, weights=wait, minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["search_time_regulier"] = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return {k: out[k] for k in SERIES}


def drift(x: np.ndarray) -> float | None:
    """Least-squares slope of a half-yearly series per year, relative to its mean (None:
    fewer than 3 points, or a zero mean)."""
    x = np.asarray(x, float)
    ok = np.isfinite(x)
    if ok.sum() < 3:
        return None
    # the closed form with exactly rounded sums, not np.polyfit: its LAPACK call rounds
    # differently on different CPUs (OpenBLAS kernels), and outputs must not depend on them
    t, y = (STEP * np.flatnonzero(ok)).tolist(), x[ok].tolist()
    n = len(y)
    t_mean, y_mean = math.fsum(t) / n, math.fsum(y) / n
    if y_mean == 0:
        return None
    sxy = math.fsum((a - t_mean) * (b - y_mean) for a, b in zip(t, y, strict=True))
    sxx = math.fsum((a - t_mean) ** 2 for a in t)
    return sxy / sxx / y_mean


def diagnose(result) -> dict:
    """The run's verdict (see the module docstring): per series the MSER-5 truncation
    point (years from the start of the burn-in), searched over the first half of the run
    as MSER prescribes (None: the minimum is at the end of the search, the run has not
    settled by then) and the reported window's drift (relative change per year);
    `stationary`: every truncation point lies within the burn-in."""
    burn_in = float(result.spec.burn_in_years)
    n0 = int(round(burn_in / STEP))
    points, drifts = {}, {}
    for name, x in series(result).items():
        d = truncation(x)
        points[name] = None if d is None else d * STEP
        drifts[name] = drift(x[n0:])
    return {
        "rule": f"MSER-{BATCH} on the run's half-yearly series (woonsim.stationarity)",
        "burn_in_years": burn_in,
        "truncation_years": points,
        "stationary": all(p is not None and p <= burn_in + 1e-9 for p in points.values()),
        "window_drift_per_year": drifts,
    }
