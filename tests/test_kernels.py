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
    return draw_reactions(
        w.ravel(), left.ravel(), flat, row_of, k_of, uniforms, offsets, K, A, ONE_BELOW
    )


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


def test_the_kernels_urgent_code_is_the_urgent_kind():
    from woonsim.region.cells import KINDS
    from woonsim.region.kernels import URGENT

    assert KINDS["urgent"] == URGENT


def numpy_weights(htype, aandacht, muni, rows, adv_local, adv_muni, only, relaxed, own, n_munis):
    """The numpy formulation of the reaction weights (woonsim 0.1.0's `choose_adverts`)."""
    from woonsim.region.cells import ELIGIBLE, ELIGIBLE_RELAXED, N_TYPES

    key = (htype[rows].astype(np.int64) * 2 + aandacht[rows]) * n_munis + muni[rows]
    ukeys, row_of = np.unique(key, return_inverse=True)
    assert ukeys.max() < N_TYPES * 2 * n_munis
    ht, aa, mu = ukeys // (2 * n_munis), (ukeys // n_munis) % 2, ukeys % n_munis
    elig = np.where(
        relaxed[None, :], ELIGIBLE_RELAXED[ht][:, adv_local], ELIGIBLE[ht][:, adv_local]
    )
    w = elig & (~only[None, :] | (aa[:, None] == 1))
    w = w * np.where(adv_muni[None, :] == mu[:, None], own, 1.0)
    mass = w.sum(axis=1)
    n_elig = (w > 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(mass[:, None] > 0, w / mass[:, None], 0.0)
    right = np.cumsum(w, axis=1)
    left = right - w
    flat = (right + np.arange(len(ukeys))[:, None]).ravel()
    return w, left, flat, row_of, n_elig[row_of]


@pytest.mark.parametrize("own", [3.0, 1.7])  # 1.7: sums that depend on the order of adding
@pytest.mark.parametrize("A", [5, 60, 300])  # pairwise summation changes at 8 and 128
def test_advert_weights_kernel_equals_the_numpy_formulation(own, A):
    from woonsim.region.cells import ELIGIBLE, ELIGIBLE_RELAXED, N_LOCAL, N_TYPES
    from woonsim.region.kernels import advert_weights

    g = np.random.default_rng(A)
    n_seekers, n_munis, K = 5000, 4, 3
    htype = g.integers(0, N_TYPES, n_seekers).astype(np.int16)
    aandacht = g.random(n_seekers) < 0.3
    muni = g.integers(0, n_munis, n_seekers).astype(np.int16)
    rows = np.sort(g.choice(n_seekers, 1500, replace=False)).astype(np.int64)
    adv_local = g.integers(0, N_LOCAL, A).astype(np.int32)
    adv_muni = g.integers(0, n_munis, A).astype(np.int16)
    only = g.random(A) < 0.3
    relaxed = g.random(A) < 0.2
    work = np.empty(3 * N_TYPES * 2 * n_munis * A)
    w, left, flat, row_of, k_of, counts = advert_weights(
        htype, aandacht, muni, rows, adv_local, adv_muni, only, relaxed, ELIGIBLE,
        ELIGIBLE_RELAXED, own, n_munis, N_TYPES, K, work,
    )  # fmt: skip
    ew, eleft, eflat, erow, n_elig = numpy_weights(
        htype, aandacht, muni, rows, adv_local, adv_muni, only, relaxed, own, n_munis
    )
    np.testing.assert_array_equal(w, ew.ravel())  # exactly: same floats, same order
    np.testing.assert_array_equal(left, eleft.ravel())
    np.testing.assert_array_equal(flat, eflat)
    np.testing.assert_array_equal(row_of, erow)
    np.testing.assert_array_equal(k_of, np.minimum(K, n_elig))
    np.testing.assert_array_equal(counts, [(np.minimum(K, n_elig) > j).sum() for j in range(K)])
    assert (n_elig >= K).any()
    if A == 5:
        assert (n_elig == 0).any()  # households with nothing they may rent


def test_refresh_pool_keeps_the_searching_in_order():
    from woonsim.region.kernels import refresh_pool

    g = np.random.default_rng(3)
    n = 2000
    housed, deadline = g.random(n) < 0.2, g.random(n) * 10
    pool = np.zeros(n, np.int64)
    pool_deadline = np.zeros(n)
    size, admitted, expected = 0, 0, np.zeros(0, np.int64)
    for t in np.linspace(0.5, 9.5, 10):
        new = np.arange(admitted, admitted + 150)
        admitted += 150
        size = refresh_pool(pool, pool_deadline, size, new, deadline, housed, t)
        expected = np.concatenate([expected, new])
        expected = expected[~housed[expected] & (deadline[expected] > t)]
        np.testing.assert_array_equal(pool[:size], expected)
        np.testing.assert_array_equal(pool_deadline[:size], deadline[expected])
        housed |= g.random(n) < 0.05
    assert 0 < size < admitted


def test_uniform_buffer_reads_the_generators_sequence_however_it_is_reserved():
    from woonsim.engine.draws import UniformBuffer

    expected = np.random.default_rng(9).random(5000)
    buf, got = UniformBuffer(np.random.default_rng(9), block=100), []
    g = np.random.default_rng(1)
    while len(got) < 4000:
        if g.random() < 0.5:
            got.append(buf())
        else:
            arr, pos = buf.reserve(int(g.integers(1, 400)))
            k = int(g.integers(0, 50))
            got.extend(arr[pos : pos + k].tolist())
            buf.consumed(pos + k)
    np.testing.assert_array_equal(got, expected[: len(got)])


def reference_walk(
    rows,
    key,
    third,
    adv,
    t,
    st,
    priority_everywhere,
    ring_fenced,
    offer_u,
    p_accept,
    start,
    muni,
    adv_muni,
    profile_local,
):
    """Offers advert by advert down the full ranking (np.lexsort), in plain Python."""
    order = np.lexsort((third, key))
    pos, takers, places = 0, [], []
    for a, v in enumerate(adv):
        taker, place = -1, 0
        prio = priority_everywhere or st["designated"][v]
        for reached, i in enumerate(order[(key[order] // 8) == a], start=1):
            s = rows[i]
            if st["housed"][s] or (ring_fenced and st["designated"][v] and not st["aandacht"][s]):
                continue
            st["offers"][v] += 1
            u = offer_u[pos]
            pos += 1
            if u < p_accept[i]:
                taker, place = s, reached
                st["housed"][s] = True
                break
            st["refusals"][s] += 1
            st["last_refusal"][s] = t
            granted = st["urgency_expiry"][s] > t and start[s] <= t
            in_profile = not profile_local or muni[s] == adv_muni[v]
            if prio and st["kind"][s] == 1 and granted and in_profile:
                st["urgency_lost"][s] = True
            st["streak"][s] += 1
            if st["streak"][s] >= 2:
                st["blocked_until"][s] = t + 0.25
                st["streak"][s] = 0
        takers.append(taker)
        places.append(place)
    return np.array(takers), np.array(places), pos


@pytest.mark.parametrize("accept", [0.6, 0.04])  # 0.04: long walks, past the 8 picked one by one
@pytest.mark.parametrize("ring_fenced", [False, True])
@pytest.mark.parametrize("profile_local", [False, True])
def test_offer_walk_equals_walking_the_full_ranking(accept, ring_fenced, profile_local):
    from woonsim.region.kernels import offer_walk

    g = np.random.default_rng(int(accept * 100) + ring_fenced)
    n_seekers, A, n = 600, 40, 4000
    t = 2.0
    rows = g.integers(0, n_seekers, n).astype(np.int64)
    adv_pos = np.sort(g.integers(0, A, n)).astype(np.int64)
    key = adv_pos * 8 + g.integers(0, 8, n)
    third = np.round(g.random(n) * 30)  # many ties: registration dates
    adv = g.permutation(A + 10)[:A].astype(np.int64)
    # the acceptance chance of each reaction: the level given, varying by reaction
    p_accept = accept * 2 * g.random(n)
    state = {
        "housed": g.random(n_seekers) < 0.1,
        "aandacht": g.random(n_seekers) < 0.4,
        "kind": g.integers(0, 2, n_seekers).astype(np.int8),
        "urgency_expiry": g.random(n_seekers) * 4,
        "urgency_lost": np.zeros(n_seekers, bool),
        "refusals": np.zeros(n_seekers, np.int32),
        "last_refusal": np.full(n_seekers, -np.inf),
        "streak": np.zeros(n_seekers, np.int32),
        "blocked_until": np.full(n_seekers, -np.inf),
        "designated": g.random(A + 10) < 0.5,
        "offers": np.zeros(A + 10, np.int64),
    }
    offer_u = g.random(n + 5)
    start = g.random(n_seekers) * 3  # urgency granted before t for two in three
    muni = g.integers(0, 3, n_seekers).astype(np.int16)
    adv_muni = g.integers(0, 3, A + 10).astype(np.int16)
    ref = {k: v.copy() for k, v in state.items()}
    expected, expected_place, expected_pos = reference_walk(
        rows,
        key,
        third,
        adv,
        t,
        ref,
        not ring_fenced,
        ring_fenced,
        offer_u,
        p_accept,
        start,
        muni,
        adv_muni,
        profile_local,
    )
    st = state
    takers, place, pos = offer_walk(
        rows, key, third, adv, t, st["housed"], p_accept, st["aandacht"], st["kind"],
        st["urgency_expiry"], st["urgency_lost"], st["refusals"], st["last_refusal"],
        st["streak"], st["blocked_until"], st["designated"], st["offers"], offer_u, 0,
        not ring_fenced, ring_fenced, 2, 0.25, start, muni, adv_muni, profile_local,
    )  # fmt: skip
    np.testing.assert_array_equal(takers, expected)
    np.testing.assert_array_equal(place, expected_place)
    assert pos == expected_pos
    assert (place[takers >= 0] >= 1).all() and (place[takers < 0] == 0).all()
    for k in state:
        np.testing.assert_array_equal(st[k], ref[k], err_msg=k)
    assert (takers >= 0).any() and st["refusals"].sum() > 0
    if not ring_fenced:  # priority on every advert: some urgent households refuse
        assert st["urgency_lost"].any()
    if accept < 0.1:
        assert st["offers"].max() > 8  # some walks went past the one-by-one picks
