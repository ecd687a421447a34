"""Compiled kernels (numba) for the hot loops of the advert round.

Each kernel does exactly what its numpy formulation does, number for number: it is fed
the same uniforms from the same named streams, in the same order, and performs the same
floating-point operations, so a run's results do not depend on which one ran
(`tests/test_kernels.py` checks the kernels against the numpy formulation).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "ONE_BELOW",
    "advert_weights",
    "choice_weights",
    "count_new_active",
    "draw_reactions",
    "offer_walk",
    "rank_order",
    "react_filter",
    "reaction_keys",
    "reaction_pairs",
    "refresh_pool",
]

URGENT = 1  # cells.KINDS["urgent"]

ONE_BELOW = float(np.nextafter(1.0, 0.0))  # the largest float below 1


@njit(cache=True)
def refresh_pool(pool, pool_deadline, n, new, deadline, housed, t):
    """The searching pool at t, in place: of its first n households and then the newly
    started `new`, those not housed and not gone, in that order; `pool_deadline` holds
    each pool member's deadline alongside (read in order, not gathered). Returns the
    new size."""
    m = 0
    for i in range(n):
        s = pool[i]
        if not housed[s] and pool_deadline[i] > t:
            pool[m] = s
            pool_deadline[m] = pool_deadline[i]
            m += 1
    for s in new:
        if not housed[s] and deadline[s] > t:
            pool[m] = s
            pool_deadline[m] = deadline[s]
            m += 1
    return m


@njit(cache=True)
def react_filter(pool, blocked_until, p_react, u, t):
    """The households of `pool` who react this cycle: not blocked at t, and u[i] below
    their chance of reacting (u: one uniform per household of the pool)."""
    out = np.empty(len(pool), np.int64)
    n = 0
    for i in range(len(pool)):
        s = pool[i]
        if blocked_until[s] <= t and u[i] < p_react[s]:
            out[n] = s
            n += 1
    return out[:n]


@njit(cache=True)
def pairwise_sum(a, lo, n):
    """Sum of a[lo:lo + n] in numpy's pairwise order (what `ndarray.sum` gives)."""
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[lo + i]
        return res
    if n <= 128:
        r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
        r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
        i = 8
        while i < n - (n % 8):
            r0 += a[lo + i]
            r1 += a[lo + i + 1]
            r2 += a[lo + i + 2]
            r3 += a[lo + i + 3]
            r4 += a[lo + i + 4]
            r5 += a[lo + i + 5]
            r6 += a[lo + i + 6]
            r7 += a[lo + i + 7]
            i += 8
        res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
        while i < n:
            res += a[lo + i]
            i += 1
        return res
    n2 = n // 2
    n2 -= n2 % 8
    return pairwise_sum(a, lo, n2) + pairwise_sum(a, lo + n2, n - n2)


@njit(cache=True)
def _key_index(key, n_keys):
    """The distinct keys of `key` (values below n_keys) in key order: each key's row
    index (-1 where absent) and the keys by row."""
    index = np.full(n_keys, -1, np.int64)
    for i in range(len(key)):
        index[key[i]] = 0
    R = 0
    for k in range(n_keys):
        if index[k] == 0:
            index[k] = R
            R += 1
    ukeys = np.empty(R, np.int64)
    for k in range(n_keys):
        if index[k] >= 0:
            ukeys[index[k]] = k
    return index, ukeys


@njit(cache=True)
def _draw_counts(key, index, n_elig, K):
    """Each household's weight row, its number of draws min(K, eligible adverts), and per
    round j the number of households that draw in it."""
    n = len(key)
    row_of = np.empty(n, np.int64)
    k_of = np.empty(n, np.int64)
    counts = np.zeros(K, np.int64)
    for i in range(n):
        row_of[i] = index[key[i]]
        k_of[i] = min(K, n_elig[row_of[i]])
        for j in range(k_of[i]):
            counts[j] += 1
    return row_of, k_of, counts


@njit(cache=True)
def advert_weights(
    htype, aandacht, muni, rows, adv_local, adv_muni, adv_only, adv_relaxed,
    eligible, eligible_relaxed, own_weight, n_munis, n_types, K, work,
):  # fmt: skip
    """The reaction weights of a cycle, per distinct (household type, aandachtsgroep,
    municipality) key of the reacting households `rows`, in key order: weight 1 for an
    advert the key may rent (relaxed rules on relaxed adverts; adverts only for
    aandachtsgroepen need one), `own_weight` in its own municipality, 0 otherwise,
    normalised per key. Returns (w, left edges, right edges plus the key's index, each
    row after row (R keys x A adverts, flattened), each household's key index, its
    number of draws min(K, eligible adverts), and per round j the number of households
    that draw in it). `work` is reused scratch space of at least 3 * R * A floats."""
    n, A = len(rows), len(adv_local)
    n_keys = n_types * 2 * n_munis
    key = np.empty(n, np.int64)
    for i in range(n):
        s = rows[i]
        key[i] = (np.int64(htype[s]) * 2 + aandacht[s]) * n_munis + muni[s]
    index, ukeys = _key_index(key, n_keys)
    R = len(ukeys)
    w = work[: R * A]
    left = work[R * A : 2 * R * A]
    flat = work[2 * R * A : 3 * R * A]
    w[:] = 0.0
    n_elig = np.zeros(R, np.int64)
    for r in range(R):
        k = ukeys[r]
        ht, aa, mu = k // (2 * n_munis), (k // n_munis) % 2, k % n_munis
        for a in range(A):
            if adv_relaxed[a]:
                ok = eligible_relaxed[ht, adv_local[a]]
            else:
                ok = eligible[ht, adv_local[a]]
            if ok and (not adv_only[a] or aa == 1):
                w[r * A + a] = own_weight if adv_muni[a] == mu else 1.0
                if w[r * A + a] > 0:
                    n_elig[r] += 1
        mass = pairwise_sum(w, r * A, A)
        acc = 0.0
        for a in range(r * A, (r + 1) * A):
            w[a] = w[a] / mass if mass > 0 else 0.0
            acc = w[a] if a == r * A else acc + w[a]
            left[a] = acc - w[a]
            flat[a] = acc + r
    row_of, k_of, counts = _draw_counts(key, index, n_elig, K)
    return w, left, flat, row_of, k_of, counts


@njit(cache=True)
def _bisect_right(a, x, lo, hi):
    """First index i in [lo, hi) with a[i] > x (hi if none); a sorted. Branch-free
    halving: the same answer as `bisect.bisect_right`, without mispredicted jumps."""
    n = hi - lo
    if n <= 0:
        return lo
    base = lo
    while n > 1:
        half = n >> 1
        if a[base + half - 1] <= x:
            base += half
        n -= half
    return base + (a[base] <= x)


@njit(cache=True)
def _search(flat, q, r, A):
    """First index i with flat[i] > q (numpy's searchsorted, side right): flat is row
    r's cumulative weights plus r, row after row. Bisection inside row r's block; an
    answer outside the block (rounding at its edges) is found by bisection there."""
    lo, hi = r * A, (r + 1) * A
    i = _bisect_right(flat, q, lo, hi)
    if i == lo and lo > 0 and flat[lo - 1] > q:
        i = _bisect_right(flat, q, 0, lo)
    elif i == hi and hi < len(flat) and not flat[hi] > q:
        i = _bisect_right(flat, q, hi, len(flat))
    return i


@njit(cache=True)
def draw_reactions(w, left, flat, row_of, k_of, uniforms, offsets, K, A, one_below):
    """Each reacting household i draws up to k_of[i] distinct adverts from its row
    row_of[i] of the weights w (rows of A, flattened; `left` their left edges, `flat`
    their right edges plus the row index), without replacement: round j uses the next uniform of
    block j (uniforms[offsets[j]:offsets[j + 1]], one per household still drawing),
    scaled to the weight not yet taken, skips the intervals already chosen in order of
    their left edge, and inverts the cumulative weights. Returns (households, K) advert
    positions, -1 where none was drawn."""
    n = len(row_of)
    chosen = np.full((n, K), -1, np.int64)
    removed = np.zeros(n)
    lefts = np.empty(K)
    widths = np.empty(K)
    for j in range(K):
        u = offsets[j]
        if u == offsets[j + 1]:
            break
        for i in range(n):
            if k_of[i] <= j:
                continue
            r = row_of[i]
            x = uniforms[u] * (1 - removed[i])
            u += 1
            if j:
                # the intervals already chosen, in order of their left edge (insertion
                # sort: no two chosen intervals share a left edge; none drawn: +inf)
                for c in range(j):
                    p = chosen[i, c]
                    lo_c = left[r * A + p] if p >= 0 else np.inf
                    wd_c = w[r * A + p] if p >= 0 else 0.0
                    d = c
                    while d > 0 and lefts[d - 1] > lo_c:
                        lefts[d] = lefts[d - 1]
                        widths[d] = widths[d - 1]
                        d -= 1
                    lefts[d] = lo_c
                    widths[d] = wd_c
                for c in range(j):
                    if lefts[c] <= x:
                        x = x + widths[c]
            x = min(x, one_below)
            a = _search(flat, r + x, r, A) - r * A
            a = min(a, A - 1)
            # rounding at a row's end can land on an advert of zero weight (one the
            # household may not rent): take the nearest advert of weight below it
            if w[r * A + a] == 0.0:
                b = a
                while b >= 0 and w[r * A + b] == 0.0:
                    b -= 1
                if b < 0:
                    b = a
                    while b < A and w[r * A + b] == 0.0:
                        b += 1
                a = b if b < A else -1
            for c in range(j):
                if chosen[i, c] == a:
                    a = -1
                    break
            chosen[i, j] = a
            if a >= 0:
                removed[i] += w[r * A + a]
    return chosen


@njit(cache=True)
def _counting_order(key, n_keys):
    """The stable order of reactions by the small integer key, and each key's bounds."""
    n = len(key)
    bounds = np.zeros(n_keys + 1, np.int64)
    for i in range(n):
        bounds[key[i] + 1] += 1
    for k in range(n_keys):
        bounds[k + 1] += bounds[k]
    fill = bounds[:-1].copy()
    order = np.empty(n, np.int64)
    for i in range(n):
        k = key[i]
        order[fill[k]] = i
        fill[k] += 1
    return order, bounds


@njit(cache=True)
def rank_order(key, third, n_keys):
    """The permutation that sorts reactions by (key, third), ties in input order: what
    `np.lexsort((third, key))` gives. A stable counting sort by the small integer key,
    then a stable sort of each key's reactions by `third`. Also returns the start of
    each key's block (n_keys + 1 bounds)."""
    order, bounds = _counting_order(key, n_keys)
    for k in range(n_keys):
        a, b = bounds[k], bounds[k + 1]
        if b - a > 1:
            block = order[a:b].copy()
            order[a:b] = block[np.argsort(third[block], kind="mergesort")]
    return order, bounds


@njit(cache=True)
def reaction_pairs(chosen, rows):
    """(household rows, advert positions) of the drawn reactions, household by household
    and round by round (the order of `np.nonzero(chosen >= 0)`)."""
    n, K = chosen.shape
    m = 0
    for i in range(n):
        for j in range(K):
            if chosen[i, j] >= 0:
                m += 1
    out_rows = np.empty(m, np.int64)
    out_adv = np.empty(m, np.int64)
    m = 0
    for i in range(n):
        for j in range(K):
            if chosen[i, j] >= 0:
                out_rows[m] = rows[i]
                out_adv[m] = chosen[i, j]
                m += 1
    return out_rows, out_adv


@njit(cache=True)
def count_new_active(rows, last_active_year, y):
    """Mark the households of `rows` (repeats allowed) active in year y; returns how many
    were not yet (the monitors' actief woningzoekende, counted once a year)."""
    new = 0
    for s in rows:
        if last_active_year[s] != y:
            last_active_year[s] = y
            new += 1
    return new


@njit(cache=True)
def reaction_keys(
    rows, adv_pos, adv, t, kind, urgency_expiry, urgency_lost, muni, registration,
    arrival, last_refusal, aandacht, designated, local, adv_muni, lottery, lottery_u,
    priority_everywhere, points, urgency_start, profile_local,
):  # fmt: skip
    """Rank keys of reactions (household rows[i] to vacancy adv[adv_pos[i]]), most
    important first, packed with the advert as (advert position * 8 + flags) and a third
    key: flags are not matching urgency (an urgent household within its search period,
    from `urgency_start` to `urgency_expiry`, urgency not lost, on an advert where
    priority applies: everywhere, or designated adverts; with `profile_local`, only in
    its own municipality), not an aandachtsgroep household on an advert designated for them, not
    local on a local-binding advert; the third is registration time, the lottery draw
    `lottery_u[i]` on a lottery advert, or minus the points (wachtpunten: months
    registered, plus zoekpunten: months searching since the last refusal)."""
    n = len(rows)
    key = np.empty(n, np.int64)
    third = np.empty(n)
    for i in range(n):
        s, v = rows[i], adv[adv_pos[i]]
        urgent = (
            kind[s] == URGENT
            and urgency_expiry[s] > t
            and urgency_start[s] <= t
            and not urgency_lost[s]
            and (priority_everywhere or designated[v])
            and (not profile_local or muni[s] == adv_muni[v])
        )
        for_them = designated[v] and aandacht[s]
        is_local = local[v] and muni[s] == adv_muni[v]
        key[i] = adv_pos[i] * 8 + (not urgent) * 4 + (not for_them) * 2 + (not is_local)
        if lottery[v]:
            third[i] = lottery_u[i]
        elif points:
            since = max(arrival[s], last_refusal[s])
            third[i] = -(12 * (t - registration[s]) + 12 * (t - since))
        else:
            third[i] = registration[s]
    return key, third


@njit(cache=True)
def offer_walk(
    rows, key, third, adv, t, housed, p_accept, aandacht, kind, urgency_expiry,
    urgency_lost, refusals, last_refusal, streak, blocked_until, designated, offers,
    offer_u, offer_pos, priority_everywhere, ring_fenced, refusals_before_block,
    block_years, urgency_start, muni, adv_muni, profile_local,
):  # fmt: skip
    """Let the cycle's adverts adv, in order: offers go down each advert's ranking (by
    key, then third, ties in reaction order: the order `rank_order` gives) to the first
    household not yet housed and allowed to take it (ring-fenced designated adverts:
    aandachtsgroep households only), each offer counted and accepted when the next
    uniform offer_u[offer_pos] is below the reaction's acceptance chance p_accept[i]
    (the household's fixed chance, or its choice given the dwelling); a refusal
    is counted, ends urgency where priority applied (urgency granted, from
    `urgency_start`; with `profile_local` in the household's own municipality only),
    and blocks reactions for `block_years` after `refusals_before_block` in a row.
    Candidates are selected as the walk reaches them (an advert is usually let to one
    of its first few); a long walk sorts the rest of its block once. Returns the taker
    of each advert (-1: none), the taker's place in the advert's ranking (1: first; 0:
    none) and the offers position after the cycle."""
    A = len(adv)
    order, bounds = _counting_order(key, 8 * A)
    used = np.zeros(len(rows), np.bool_)
    takers = np.full(A, -1, np.int64)
    place = np.zeros(A, np.int64)
    for a in range(A):
        v = adv[a]
        prio = priority_everywhere or designated[v]
        fenced = ring_fenced and designated[v]
        reached = 0  # candidates of the ranking reached so far
        for k in range(8 * a, 8 * a + 8):
            lo, hi = bounds[k], bounds[k + 1]
            picked = 0
            rest = np.empty(0, np.int64)
            while True:
                if picked < 8:
                    best = -1
                    for p in range(lo, hi):
                        if not used[p] and (best < 0 or third[order[p]] < third[order[best]]):
                            best = p
                    if best < 0:
                        break
                    used[best] = True
                    i = order[best]
                else:
                    if picked == 8:  # the rest of the block, sorted once
                        left = np.empty(hi - lo, np.int64)
                        m = 0
                        for p in range(lo, hi):
                            if not used[p]:
                                left[m] = order[p]
                                m += 1
                        left = left[:m]
                        rest = left[np.argsort(third[left], kind="mergesort")]
                    if picked - 8 >= len(rest):
                        break
                    i = rest[picked - 8]
                picked += 1
                reached += 1
                s = rows[i]
                if housed[s] or (fenced and not aandacht[s]):
                    continue
                offers[v] += 1
                u = offer_u[offer_pos]
                offer_pos += 1
                if u < p_accept[i]:
                    takers[a] = s
                    place[a] = reached
                    housed[s] = True
                    break
                refusals[s] += 1
                last_refusal[s] = t
                if (
                    prio
                    and kind[s] == URGENT
                    and urgency_expiry[s] > t
                    and urgency_start[s] <= t
                    and (not profile_local or muni[s] == adv_muni[v])
                ):
                    urgency_lost[s] = True
                streak[s] += 1
                if streak[s] >= refusals_before_block:
                    blocked_until[s] = t + block_years
                    streak[s] = 0
            if takers[a] >= 0:
                break
    return takers, place, offer_pos


@njit(cache=True)
def choice_weights(
    htype, aandacht, muni, qbin, rows, adv_local, adv_muni, adv_only, adv_relaxed,
    adv_utility, adv_lottery, eligible, eligible_relaxed, own, n_munis, n_types, n_bins,
    K, accept_rate, strategic, work,
):  # fmt: skip
    """The reaction weights of a cycle under random-utility search (docs/ODD.md §B3.7),
    per distinct (household type, aandachtsgroep, municipality, rank bin) key of the
    reacting households `rows`, in key order. A key's weight for an advert it may rent is
    exp(utility) x the chance its rank gives it, normalised per key: drawing K adverts
    without replacement in proportion to these weights is taking the K best of utility +
    log chance + a Gumbel taste shock (Plackett-Luce). Utility is the advert's
    `adv_utility` plus `own` in the household's own municipality. The chance: the
    platform shows the rank; with n the advert's expected reactions (from the weights
    without the chance, summed over the keys), a household in rank bin b (of n_bins; the
    bin n_bins is priority: first in line) is reached past q n earlier-registered rivals,
    q = (b + 1/2) / n_bins, each accepting with the region's recent acceptance rate a:
    (1 - a)^(q n); on a lottery advert its place is uniform: (1 - (1 - a)^n) / (n a).
    The chance enters raised to the power `strategic` (1: as it is; 0: left out; between:
    seekers who weigh it less than its worth). Returns what `advert_weights` returns."""
    n, A = len(rows), len(adv_local)
    B = n_bins + 1
    n_keys = n_types * 2 * n_munis * B
    key = np.empty(n, np.int64)
    for i in range(n):
        s = rows[i]
        key[i] = ((np.int64(htype[s]) * 2 + aandacht[s]) * n_munis + muni[s]) * B + qbin[s]
    index, ukeys = _key_index(key, n_keys)
    R = len(ukeys)
    count = np.zeros(R, np.int64)
    for i in range(n):
        count[index[key[i]]] += 1
    w = work[: R * A]
    left = work[R * A : 2 * R * A]
    flat = work[2 * R * A : 3 * R * A]
    n_elig = np.zeros(R, np.int64)
    expected = np.zeros(A)
    # exp(utility) of each advert, outside and inside the own municipality
    top = -np.inf
    for a in range(A):
        top = max(top, adv_utility[a])
    e = np.empty(A)
    for a in range(A):
        e[a] = np.exp(adv_utility[a] - top)
    e_own = np.exp(own)
    # pass 1: utility only; the expected reactions of each advert. Keys that differ only
    # in the rank bin (adjacent in key order) share the row, computed once.
    mass = 0.0
    m = 0
    for r in range(R):
        rest = ukeys[r] // B
        if r > 0 and rest == ukeys[r - 1] // B:
            for a in range(A):
                w[r * A + a] = w[(r - 1) * A + a]
        else:
            ht, aa, mu = rest // (2 * n_munis), (rest // n_munis) % 2, rest % n_munis
            mass = 0.0
            m = 0
            for a in range(A):
                if adv_relaxed[a]:
                    ok = eligible_relaxed[ht, adv_local[a]]
                else:
                    ok = eligible[ht, adv_local[a]]
                x = 0.0
                if ok and (not adv_only[a] or aa == 1):
                    x = e[a] * e_own if adv_muni[a] == mu else e[a]
                    if x > 0:
                        m += 1
                w[r * A + a] = x
                mass += x
        if mass > 0:
            scale = count[r] * min(K, m) / mass
            for a in range(A):
                expected[a] += scale * w[r * A + a]
    # the chance each rank bin gives on each advert
    log_miss = np.log(max(1.0 - accept_rate, 1e-12))
    chance = np.ones((B, A))
    if strategic > 0:
        for a in range(A):
            mu_a = expected[a]
            for b in range(n_bins):
                if adv_lottery[a]:
                    x = mu_a * accept_rate
                    c = (1.0 - np.exp(mu_a * log_miss)) / x if x > 1e-12 else 1.0
                    chance[b, a] = c**strategic
                else:
                    chance[b, a] = np.exp(strategic * (b + 0.5) / n_bins * mu_a * log_miss)
    # pass 2: exp(utility) x chance, normalised per key
    for r in range(R):
        b = ukeys[r] % B
        mass = 0.0
        for a in range(A):
            x = w[r * A + a] * chance[b, a]
            w[r * A + a] = x
            mass += x
        acc = 0.0
        for a in range(r * A, (r + 1) * A):
            w[a] = w[a] / mass if mass > 0 else 0.0
            if w[a] > 0:
                n_elig[r] += 1
            acc = w[a] if a == r * A else acc + w[a]
            left[a] = acc - w[a]
            flat[a] = acc + r
    row_of, k_of, counts = _draw_counts(key, index, n_elig, K)
    return w, left, flat, row_of, k_of, counts
