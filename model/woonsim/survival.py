"""Censored measures of the time to housing: Kaplan–Meier and Aalen–Johansen estimates
from a window of observation (period analysis), counting the seekers who gave up and
those who still wait.

A seeker is observed from `origin` (registration, or the start of searching) to `exit`
with an `event`: HOUSED, ABANDONED (gave up: patience ran out) or CENSORED (still waiting
when the run ends). Only what happens inside the window [w0, w1) is used: a seeker who
started before w0 enters the risk set at duration w0 - origin (delayed entry, left
truncation), and one still waiting at w1 is censored there. In a stationary window this
estimates the same curves as a cohort followed for ever, and it uses every year of the
window, not only the cohorts that could be followed to the end.

Two curves answer two questions (docs/ODD.md §B2):
- `housed_within(t)`: the chance of being housed within t years, counting those who give
  up as not housed (the cumulative incidence of housing, Aalen–Johansen);
- `km_median()`, `km_restricted_mean(tau)`: the time to housing if nobody gave up
  (Kaplan–Meier with give-up and still waiting as censoring); the measures that correct
  "search time at letting" for survivor selection.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from woonsim.results import ABANDONED, HOUSED

__all__ = ["Curves", "period_curves"]


@dataclass(frozen=True)
class Curves:
    """Step functions at the distinct event durations `time` (right-continuous)."""

    time: np.ndarray
    at_risk: np.ndarray
    km_housed: np.ndarray  # P(not housed by t) if nobody gave up (Kaplan–Meier)
    cif_housed: np.ndarray  # P(housed by t), giving up a competing exit (Aalen–Johansen)
    cif_abandoned: np.ndarray  # P(gave up by t)
    last: float  # longest duration observed (events or censoring)
    closed: bool  # every seeker at risk at `last` left then: the curves are known beyond

    def _at(self, curve: np.ndarray, t: float, before: float) -> float:
        if t > self.last + 1e-12 and not self.closed:
            return np.nan  # beyond what the window observed
        i = np.searchsorted(self.time, t, side="right")
        return float(curve[i - 1]) if i else before

    def housed_within(self, t: float) -> float:
        """The chance of being housed within t years (those who gave up count as not
        housed); NaN beyond the longest observed duration."""
        return self._at(self.cif_housed, t, 0.0)

    def abandoned_within(self, t: float) -> float:
        """The chance of having given up, unhoused, within t years."""
        return self._at(self.cif_abandoned, t, 0.0)

    def km_median(self) -> float:
        """The median time to housing if nobody gave up; NaN when the curve does not reach
        one half within the observed durations."""
        below = np.flatnonzero(self.km_housed <= 0.5)
        return float(self.time[below[0]]) if len(below) else np.nan

    def km_restricted_mean(self, tau: float) -> float:
        """The mean of min(T, tau) for the time to housing T if nobody gave up (the area
        under the Kaplan–Meier curve up to tau); NaN when tau lies beyond the observed
        durations and the curve has not reached zero."""
        if tau > self.last + 1e-12 and not (len(self.time) and self.km_housed[-1] == 0):
            return np.nan
        t = np.concatenate([[0.0], self.time[self.time < tau], [tau]])
        s = np.concatenate([[1.0], self.km_housed[self.time < tau]])
        return float(np.sum(s * np.diff(t)))


def period_curves(
    origin: np.ndarray, exit: np.ndarray, event: np.ndarray, window: tuple[float, float]
) -> Curves:
    """The curves of the seekers at risk in `window` (see the module docstring). `event`
    holds HOUSED, ABANDONED or CENSORED per seeker; `exit` its time."""
    w0, w1 = window
    origin, exit = np.asarray(origin, float), np.asarray(exit, float)
    seen = (origin < w1) & (exit >= w0) & (exit >= origin)
    o, x, e = origin[seen], exit[seen], np.asarray(event)[seen]
    entry = np.maximum(w0 - o, 0.0)
    stop = np.minimum(x, w1) - o
    ends_inside = x < w1
    housed = ends_inside & (e == HOUSED)
    gone = ends_inside & (e == ABANDONED)
    # an exit at the moment of entry (zero exposure) carries no information
    keep = stop > entry
    entry, stop, housed, gone = entry[keep], stop[keep], housed[keep], gone[keep]
    if not len(stop):
        z = np.zeros(0)
        return Curves(z, z, z, z, z, 0.0, False)
    t, inv = np.unique(stop[housed | gone], return_inverse=True)
    d_h = np.bincount(inv[housed[housed | gone]], minlength=len(t)).astype(float)
    d_g = np.bincount(inv[gone[housed | gone]], minlength=len(t)).astype(float)
    # at risk at u: entered before u and not yet out (entry < u <= stop)
    n = np.searchsorted(np.sort(entry), t, side="left") - np.searchsorted(
        np.sort(stop), t, side="left"
    )
    n = n.astype(float)
    km_all = np.cumprod(1.0 - (d_h + d_g) / n)
    before = np.concatenate([[1.0], km_all[:-1]])
    return Curves(
        time=t,
        at_risk=n,
        km_housed=np.cumprod(1.0 - d_h / n),
        cif_housed=np.cumsum(before * d_h / n),
        cif_abandoned=np.cumsum(before * d_g / n),
        last=float(stop.max()),
        closed=bool(len(t) and km_all[-1] == 0.0 and t[-1] >= stop.max()),
    )
