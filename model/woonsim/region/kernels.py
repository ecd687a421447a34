"""Compiled kernels (numba) for the hot loops of the advert round.

Each kernel does exactly what its numpy formulation does, number for number: it is fed
the same uniforms from the same named streams, in the same order, and performs the same
floating-point operations, so a run's results do not depend on which one ran
(`tests/test_kernels.py` checks the kernels against the numpy formulation).
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["ONE_BELOW", "draw_reactions", "rank_order"]

ONE_BELOW = float(np.nextafter(1.0, 0.0))  # the largest float below 1


@njit(cache=True)
def _bisect_right(a, x, lo, hi):
    while lo < hi:
        mid = (lo + hi) // 2
        if x < a[mid]:
            hi = mid
        else:
            lo = mid + 1
    return lo


@njit(cache=True)
def _search(flat, q, r, A):
    """First index i with flat[i] > q (numpy's searchsorted, side right), looking in row
    r's block first: flat is row r's cumulative weights plus r, row after row."""
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
    row_of[i] of the weights w, without replacement: round j uses the next uniform of
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
                for c in range(j):
                    p = chosen[i, c]
                    if p >= 0:
                        lefts[c] = left[r, p]
                        widths[c] = w[r, p]
                    else:
                        lefts[c] = np.inf
                        widths[c] = 0.0
                order = np.argsort(lefts[:j])
                for c in range(j):
                    if lefts[order[c]] <= x:
                        x = x + widths[order[c]]
            x = min(x, one_below)
            a = _search(flat, r + x, r, A) - r * A
            a = min(a, A - 1)
            for c in range(j):
                if chosen[i, c] == a:
                    a = -1
                    break
            chosen[i, j] = a
            if a >= 0:
                removed[i] += w[r, a]
    return chosen


@njit(cache=True)
def rank_order(key, third, n_keys):
    """The permutation that sorts reactions by (key, third), ties in input order: what
    `np.lexsort((third, key))` gives. A stable counting sort by the small integer key,
    then a stable sort of each key's reactions by `third`. Also returns the start of
    each key's block (n_keys + 1 bounds)."""
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
    for k in range(n_keys):
        a, b = bounds[k], bounds[k + 1]
        if b - a > 1:
            block = order[a:b].copy()
            order[a:b] = block[np.argsort(third[block], kind="mergesort")]
    return order, bounds
