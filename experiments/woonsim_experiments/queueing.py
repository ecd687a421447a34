"""Exact numerical solver for a stylized two-class allocation queue.

Independent of the simulator; used as a validation reference.

Seekers of class 1 and 2 arrive as Poisson processes (rates ``lam1``, ``lam2``),
vacancies arrive as a Poisson process (rate ``mu``) and are let at once to one
waiting seeker chosen by the allocation rule, or stay unused if no eligible
seeker waits. A waiting seeker of class ``i`` leaves the list (reneges) at rate
``theta_i``. Within a class the list is first-come-first-served.

Rules (``a_i`` is the probability that a vacancy goes to class ``i``):

* ``"priority"``: class 1 is served whenever ``n1 > 0``, else class 2.
* ``"quota"``: each vacancy is, independently with probability ``q``, a quota
  vacancy for class 1, otherwise an ordinary vacancy for class 2. If the target
  class has nobody waiting the vacancy goes to the other class
  (``unused="pass_on"``) or stays unused (``unused="lose"``).

The counts ``(n1, n2)`` then form a continuous-time Markov chain, solved on a
truncated grid with a sparse direct solver. The grid grows until the
stationary mass on its outer row and column is below ``1e-10`` each.

Pooled FIFO (``"fifo"``) is not supported: the class counts ``(n1, n2)`` are
not a Markov state under one pooled list (the interleaving order matters), so
class-level results would need a much larger state.

Mean wait of housed seekers is computed by following a tagged arrival through
an absorbing chain (its place in its own class's list, and the other class's
count), started from the stationary distribution (PASTA). With ``theta_i = 0``
it equals the mean time on the list. With ``theta_i > 0`` the stationary
distribution alone does not give it (Little's law only gives the mean over all
exits), which is why the tagged chain is needed.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

__all__ = ["solve_two_class"]

BOUNDARY_TOL = 1e-10
MAX_STATES = 2_000_000
_RULES = ("priority", "quota")
_UNUSED = ("pass_on", "lose")


def _alloc(rule, q, unused, pos1, pos2):
    """Return ``(a1, a2)``: probability that a vacancy goes to class 1 / 2.

    ``pos1``, ``pos2`` are booleans or boolean arrays (``n_i > 0``).
    """
    pos1 = np.asarray(pos1, dtype=bool)
    pos2 = np.asarray(pos2, dtype=bool)
    if rule == "priority":
        a1 = pos1.astype(float)
        a2 = (~pos1 & pos2).astype(float)
    elif unused == "lose":
        a1 = q * pos1
        a2 = (1.0 - q) * pos2
    else:  # quota, pass_on
        both = pos1 & pos2
        a1 = np.where(both, q, pos1.astype(float))
        a2 = np.where(both, 1.0 - q, pos2.astype(float))
    return np.asarray(a1, dtype=float), np.asarray(a2, dtype=float)


def _alloc_given_own(rule, q, unused, cls, other_pos):
    """``(a_own, a_other)`` when class ``cls`` has someone waiting."""
    own = np.ones_like(np.asarray(other_pos, dtype=bool))
    if cls == 0:
        return _alloc(rule, q, unused, own, other_pos)
    a1, a2 = _alloc(rule, q, unused, other_pos, own)
    return a2, a1


def _birth_death(lam, base, theta):
    """Stationary law of a birth-death chain: up-rate ``lam``, down-rate ``base + n theta``.

    Returns ``None`` if the chain is not positive recurrent. The support is cut
    where the remaining mass is negligible (well below 1e-11).
    """
    if lam == 0.0:
        return np.ones(1)
    if theta == 0.0:
        if lam >= base:
            return None
        rho = lam / base
        n_max = math.ceil(math.log(1e-16) / math.log(rho)) + 1
    else:
        n_max = int(lam / theta + 40.0 * math.sqrt(lam / theta + 1.0)) + 100
    n = np.arange(1, n_max + 1)
    logp = np.concatenate(([0.0], np.cumsum(np.log(lam / (base + n * theta)))))
    p = np.exp(logp - logp.max())
    return p / p.sum()


def _saturated_capacity(lam, mu, theta, rule, q, unused, cls):
    """Service rate class ``cls`` gets while its list never empties.

    Returns ``None`` if the other class would then grow without bound.
    """
    o = 1 - cls
    a_own_pos, a_oth_pos = _alloc_given_own(rule, q, unused, cls, True)
    a_own_emp, _ = _alloc_given_own(rule, q, unused, cls, False)
    p = _birth_death(lam[o], mu * float(a_oth_pos), theta[o])
    if p is None:
        return None
    return mu * (float(a_own_emp) * p[0] + float(a_own_pos) * (1.0 - p[0]))


def _check_stable(lam, mu, theta, rule, q, unused):
    lam_tot = lam[0] + lam[1]
    if theta[0] == 0.0 and theta[1] == 0.0:
        if rule == "quota" and unused == "lose":
            ok = lam[0] < q * mu or lam[0] == 0.0
            ok = ok and (lam[1] < (1.0 - q) * mu or lam[1] == 0.0)
        else:
            ok = lam_tot < mu
        if not ok:
            raise ValueError("unstable: arrival rates exceed capacity and nobody reneges")
        return
    for i in (0, 1):
        if theta[i] == 0.0 and lam[i] > 0.0:
            cap = _saturated_capacity(lam, mu, theta, rule, q, unused, i)
            if cap is None or lam[i] >= cap:
                raise ValueError(f"unstable: class {i + 1} (theta=0) arrives faster than served")


def _initial_size(lam, mu, theta, rule, q, unused, cls):
    """Guess ``(truncation, mode)`` for class ``cls`` from a 1-D tail estimate."""
    if lam[cls] == 0.0:
        return 0, 0
    cap = _saturated_capacity(lam, mu, theta, rule, q, unused, cls)
    if cap is None:
        cap = mu * float(_alloc_given_own(rule, q, unused, cls, True)[0])
    p = _birth_death(lam[cls], cap, theta[cls])
    if p is None:
        return 64, 0
    tail = np.cumsum(p[::-1])[::-1]
    n = int(np.argmax(tail < 1e-11)) if (tail < 1e-11).any() else p.size
    return max(8, n + 5), int(np.argmax(p))


def _generator(lam, mu, theta, rule, q, unused, n1_max, n2_max):
    """Sparse generator of the truncated ``(n1, n2)`` chain (arrivals blocked at the edge)."""
    n1, n2 = np.meshgrid(np.arange(n1_max + 1), np.arange(n2_max + 1), indexing="ij")
    n1, n2 = n1.ravel(), n2.ravel()
    idx = np.arange(n1.size)
    stride = n2_max + 1
    a1, a2 = _alloc(rule, q, unused, n1 > 0, n2 > 0)
    rows, cols, vals = [], [], []

    def add(mask, step, rate):
        rate = np.broadcast_to(rate, mask.shape)[mask]
        keep = rate > 0.0
        rows.append(idx[mask][keep])
        cols.append(idx[mask][keep] + step)
        vals.append(rate[keep])

    add(n1 < n1_max, stride, lam[0])
    add(n2 < n2_max, 1, lam[1])
    add(n1 > 0, -stride, mu * a1 + n1 * theta[0])
    add(n2 > 0, -1, mu * a2 + n2 * theta[1])
    rows, cols, vals = (np.concatenate(x) for x in (rows, cols, vals))
    size = n1.size
    off = sp.coo_matrix((vals, (rows, cols)), shape=(size, size)).tocsr()
    out = np.asarray(off.sum(axis=1)).ravel()
    return off - sp.diags(out), n1, n2, a1, a2


def _stationary(Q, ref):
    """Stationary vector of generator ``Q``.

    Fixes ``pi[ref] = 1`` (``ref`` should be a likely state, to avoid
    under/overflow), solves the remaining balance equations, then normalises.
    """
    size = Q.shape[0]
    if size == 1:
        return np.ones(1)
    A = Q.T.tocsc()
    rest = np.flatnonzero(np.arange(size) != ref)
    x = spla.spsolve(A[rest][:, rest].tocsc(), -A[rest, ref].toarray().ravel())
    pi = np.empty(size)
    pi[ref] = 1.0
    pi[rest] = x
    pi = np.maximum(pi, 0.0)
    return pi / pi.sum()


def _tagged(lam, mu, theta, rule, q, unused, cls, n_own, n_oth, pi_grid):
    """Tagged class-``cls`` arrival: ``(P(housed), E[T], E[T | housed])``.

    State ``(j, m)``: ``j`` seekers of its own class ahead of it, ``m`` of the
    other class waiting. ``pi_grid[j, m]`` is the law seen on arrival.
    """
    o = 1 - cls
    j, m = np.meshgrid(np.arange(n_own + 1), np.arange(n_oth + 1), indexing="ij")
    j, m = j.ravel(), m.ravel()
    idx = np.arange(j.size)
    stride = n_oth + 1
    a_own, a_oth = _alloc_given_own(rule, q, unused, cls, m > 0)
    serve = mu * a_own
    up_m = np.where(m < n_oth, lam[o], 0.0)
    down_m = np.where(m > 0, mu * a_oth + m * theta[o], 0.0)
    down_j = np.where(j > 0, serve + j * theta[cls], 0.0)
    rows = np.concatenate((idx, idx, idx))
    cols = np.concatenate((idx + 1, idx - 1, idx - stride))
    vals = np.concatenate((up_m, down_m, down_j))
    keep = vals > 0.0
    size = j.size
    off = sp.coo_matrix((vals[keep], (rows[keep], cols[keep])), shape=(size, size)).tocsr()
    housed = np.where(j == 0, serve, 0.0)
    out = np.asarray(off.sum(axis=1)).ravel() + housed + theta[cls]
    M = (sp.diags(out) - off).tocsc()
    lu = spla.splu(M)
    h = lu.solve(housed)  # P(housed | state)
    tau = lu.solve(np.ones(size))  # E[time on list | state]
    g = lu.solve(h)  # E[time * 1{housed} | state]
    w = pi_grid.ravel()
    p_h, e_t, e_th = w @ h, w @ tau, w @ g
    return p_h, e_t, (e_th / p_h if p_h > 0 else math.nan)


def solve_two_class(
    lam1: float,
    lam2: float,
    mu: float,
    theta1: float = 0.0,
    theta2: float = 0.0,
    rule: str = "priority",
    q: float | None = None,
    unused: str = "pass_on",
) -> dict:
    """Solve the two-class allocation queue exactly (up to truncation < 1e-10).

    Parameters
    ----------
    lam1, lam2 : float
        Arrival rates of class-1 and class-2 seekers (per year).
    mu : float
        Vacancy rate (per year), > 0.
    theta1, theta2 : float
        Reneging rate of each waiting seeker of class 1 / 2 (0 = never leaves).
    rule : {"priority", "quota"}
        Allocation rule; class 1 is the priority / quota class.
    q : float, optional
        Quota share of vacancies for class 1 (required for ``"quota"`` only).
    unused : {"pass_on", "lose"}
        What happens to a quota/ordinary vacancy whose class has nobody waiting.

    Returns
    -------
    dict
        ``p_housed`` (p1, p2): fraction of arrivals eventually housed;
        ``mean_time_on_list`` (w1, w2): E[n_i] / lam_i, over all exits;
        ``mean_wait_housed`` (h1, h2): mean time on list of housed seekers
        (FCFS within class; equals ``mean_time_on_list`` when theta_i = 0);
        ``housing_rate`` (r1, r2) and ``total_housing_rate`` (per year);
        ``share_of_lettings_1``: r1 / (r1 + r2);
        ``unused_share``: fraction of vacancies not let;
        ``mean_on_list`` (E[n1], E[n2]); ``truncation`` (N1, N2).
        Quantities of a class with zero arrival rate are NaN.

    Raises
    ------
    ValueError
        On negative rates, ``mu <= 0``, unknown rule/unused, bad ``q``, or an
        unstable system (a class with theta = 0 arriving faster than served).
    RuntimeError
        If the truncation would exceed ``MAX_STATES`` states.
    """
    lam = (float(lam1), float(lam2))
    theta = (float(theta1), float(theta2))
    mu = float(mu)
    if not all(math.isfinite(x) and x >= 0.0 for x in (*lam, *theta)):
        raise ValueError("rates lam1, lam2, theta1, theta2 must be finite and >= 0")
    if not (math.isfinite(mu) and mu > 0.0):
        raise ValueError("mu must be finite and > 0")
    if rule not in _RULES:
        raise ValueError(f"unknown rule {rule!r}; expected one of {_RULES} (fifo is not supported)")
    if unused not in _UNUSED:
        raise ValueError(f"unknown unused {unused!r}; expected one of {_UNUSED}")
    if rule == "quota":
        if q is None or not (0.0 <= float(q) <= 1.0):
            raise ValueError("rule='quota' needs q in [0, 1]")
        q = float(q)
    elif q is not None:
        raise ValueError("q is only used with rule='quota'")
    _check_stable(lam, mu, theta, rule, q, unused)
    return _solve(lam, mu, theta, rule, q, unused)[0]


def _solve(lam, mu, theta, rule, q, unused):
    """Solve a validated model; return ``(result, tagged)``.

    ``tagged[i]`` is ``(P(housed), E[time on list], E[wait | housed])`` from the
    tagged-arrival chain of class ``i`` (the first two duplicate ``result`` and
    serve as a consistency check).
    """
    guesses = [_initial_size(lam, mu, theta, rule, q, unused, i) for i in (0, 1)]
    sizes = [g[0] for g in guesses]
    mode = [g[1] for g in guesses]
    while True:
        n1_max, n2_max = sizes
        if (n1_max + 1) * (n2_max + 1) > MAX_STATES:
            raise RuntimeError(f"truncation {sizes} exceeds {MAX_STATES} states; near-critical?")
        Q, n1, n2, a1, a2 = _generator(lam, mu, theta, rule, q, unused, n1_max, n2_max)
        ref = min(mode[0], n1_max) * (n2_max + 1) + min(mode[1], n2_max)
        pi = _stationary(Q, ref)
        edge = (
            pi[n1 == n1_max].sum() if n1_max else 0.0,
            pi[n2 == n2_max].sum() if n2_max else 0.0,
        )
        grow = [e >= BOUNDARY_TOL for e in edge]
        if not any(grow):
            break
        sizes = [int(s * 1.5) + 8 if g else s for s, g in zip(sizes, grow, strict=True)]

    rate = (mu * float(pi @ a1), mu * float(pi @ a2))
    mean_n = (float(pi @ n1), float(pi @ n2))
    total = rate[0] + rate[1]
    grid = pi.reshape(n1_max + 1, n2_max + 1)
    p_housed, t_list, w_housed, tagged = [], [], [], []
    for i in (0, 1):
        if lam[i] == 0.0:
            tagged.append((math.nan,) * 3)
            p_housed.append(math.nan)
            t_list.append(math.nan)
            w_housed.append(math.nan)
            continue
        p_housed.append(rate[i] / lam[i])
        t_list.append(mean_n[i] / lam[i])
        n_own, n_oth, law = (n1_max, n2_max, grid) if i == 0 else (n2_max, n1_max, grid.T)
        tag = _tagged(lam, mu, theta, rule, q, unused, i, n_own, n_oth, law)
        tagged.append(tag)
        w_housed.append(float(tag[2]))
    result = {
        "p_housed": tuple(p_housed),
        "mean_time_on_list": tuple(t_list),
        "mean_wait_housed": tuple(w_housed),
        "housing_rate": rate,
        "total_housing_rate": total,
        "share_of_lettings_1": rate[0] / total if total > 0 else math.nan,
        "unused_share": 1.0 - total / mu,
        "mean_on_list": mean_n,
        "truncation": (n1_max, n2_max),
    }
    return result, tagged
