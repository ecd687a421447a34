"""The compiled kernels do what their numpy formulation does, number for number: the
reaction draw of `woonsim.region.kernels` against the vectorised numpy code it replaced,
on random weight matrices, for several K (K >= 3 exercises the skipping of two or more
chosen intervals), with rows of zero weight and households that draw fewer than K."""

from __future__ import annotations

import numpy as np
import pytest

from woonsim.region.kernels import ONE_BELOW, draw_reactions


def numpy_reference(w, row_of, k_of, rng, K):
    """The numpy formulation (woonsim 0.1.0's `sample_reactions` loop)."""
    right = np.cumsum(w, axis=1)
    left = right - w
    R, A = w.shape
    flat = (right + np.arange(R)[:, None]).ravel()
    chosen = np.full((len(row_of), K), -1, dtype=np.int64)
    removed = np.zeros(len(row_of))
    for j in range(K):
        act = np.flatnonzero(k_of > j)
        if len(act) == 0:
            break
        r = row_of[act]
        x = rng.random(len(act)) * (1 - removed[act])
        prev = chosen[act, :j]
        if j:
            lefts = np.where(prev >= 0, left[r[:, None], np.maximum(prev, 0)], np.inf)
            widths = np.where(prev >= 0, w[r[:, None], np.maximum(prev, 0)], 0.0)
            order = np.argsort(lefts, axis=1)
            lefts = np.take_along_axis(lefts, order, 1)
            widths = np.take_along_axis(widths, order, 1)
            for c in range(j):
                x = np.where(lefts[:, c] <= x, x + widths[:, c], x)
        x = np.minimum(x, np.nextafter(1.0, 0.0))
        a = np.searchsorted(flat, r + x, side="right") - r * A
        a = np.minimum(a, A - 1)
        dup = (prev == a[:, None]).any(axis=1) if j else np.zeros(len(act), bool)
        a = np.where(dup, -1, a)
        chosen[act, j] = a
        removed[act] += np.where(a >= 0, w[r, np.maximum(a, 0)], 0.0)
    return chosen


def kernel(w, row_of, k_of, rng, K):
    right = np.cumsum(w, axis=1)
    left = right - w
    R, A = w.shape
    flat = (right + np.arange(R)[:, None]).ravel()
    counts = [int((k_of > j).sum()) for j in range(K)]
    blocks = [rng.random(c) for c in counts]
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    uniforms = np.concatenate(blocks)
    return draw_reactions(w, left, flat, row_of, k_of, uniforms, offsets, K, A, ONE_BELOW)


@pytest.mark.parametrize("K", [1, 2, 3, 5])
@pytest.mark.parametrize("seed", range(4))
def test_reaction_draw_kernel_equals_the_numpy_formulation(K, seed):
    g = np.random.default_rng(seed)
    R, A, n = 7, 13, 400
    w = g.random((R, A)) * (g.random((R, A)) < 0.6)  # about 40% ineligible adverts
    w[2] = 0.0  # a household type with nothing it may rent
    w *= np.where(g.random((R, A)) < 0.3, 3.0, 1.0)  # own-municipality weight
    mass = w.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(mass[:, None] > 0, w / mass[:, None], 0.0)
    row_of = g.integers(0, R, n).astype(np.int64)
    k_of = np.minimum(K, (w > 0).sum(axis=1)[row_of]).astype(np.int64)
    expected = numpy_reference(w, row_of, k_of, np.random.default_rng(100 + seed), K)
    got = kernel(w, row_of, k_of, np.random.default_rng(100 + seed), K)
    np.testing.assert_array_equal(got, expected)
    assert (got >= 0).sum() > n // 2  # the test draws something


@pytest.mark.parametrize("seed", range(5))
def test_rank_order_equals_lexsort(seed):
    """Sorting by (packed key, third) with ties in input order, as np.lexsort does;
    thirds with many ties (registration dates) and without (lottery draws)."""
    from woonsim.region.kernels import rank_order

    g = np.random.default_rng(seed)
    n, n_keys = 3000, 8 * 40
    key = g.integers(0, n_keys, n).astype(np.int64)
    third = np.round(g.random(n) * 20) if seed % 2 else g.random(n)  # ties, or none
    order, bounds = rank_order(key, third, n_keys)
    np.testing.assert_array_equal(order, np.lexsort((third, key)))
    np.testing.assert_array_equal(bounds, np.searchsorted(key[order], np.arange(n_keys + 1)))
