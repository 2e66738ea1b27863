"""The neighbourhood aggregation kernels against a slow, obviously correct NumPy reference.

Notation as in :mod:`recsys.kernels.knn`: ``x`` is the entity the similarities are between,
``y`` the other one; ``R[x, y]`` is the rating (NaN when there is none). Hypothesis draws
sizes, densities and seeds; NumPy builds the data. Similarities take few distinct values so
that ties are frequent; empty rating rows, entities without neighbours and unknown (-1)
indices are part of every draw, and explicit cases follow.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.knn import (CENTRED, RAW, SUM, knn_predict_pairs, knn_score_neighbors,
                                knn_score_rows)

MODES = (RAW, CENTRED, SUM)


# ---------------------------------------------------------------------------------- reference
def reference_estimate(R, sims, x, y, x_offset, y_offset, mu, k, min_k, mode):
    """One estimate by the definition: the k most similar neighbours of x that rated y.

    ``sims[x]`` lists x's neighbours as (x2, similarity) in their stored order (descending
    similarity, ties by ascending index), which decides which k are taken.
    """
    yo = y_offset[y] if y >= 0 else 0.0
    base = mu + (x_offset[x] if x >= 0 else 0.0) + yo
    used = []
    if x >= 0 and y >= 0:
        used = [(x2, s) for x2, s in sims[x] if not np.isnan(R[x2, y])]
        if mode != SUM:
            used = used[:k]
    if mode == SUM:
        return float(sum(s for _, s in used))
    if len(used) < max(min_k, 1):
        return base if mode == CENTRED else mu
    den = sum(s for _, s in used)
    if mode == CENTRED:
        num = sum(s * (R[x2, y] - (mu + x_offset[x2] + yo)) for x2, s in used)
        return base + num / den
    return sum(s * R[x2, y] for x2, s in used) / den


# ---------------------------------------------------------------------------------- data
def csr(rows: list[list[tuple[int, float]]]):
    """(indptr int64, indices int32, data float32) of rows given as (column, value) lists,
    in the order given."""
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum([len(r) for r in rows], out=indptr[1:])
    indices = np.array([c for r in rows for c, _ in r], dtype=np.int32)
    data = np.array([v for r in rows for _, v in r], dtype=np.float32)
    return indptr, indices, data


def make_problem(seed, n_x, n_y, density, sim_density):
    """Ratings R (n_x, n_y) with NaN for missing, positive neighbour lists, offsets."""
    rng = np.random.default_rng(seed)
    R = np.where(rng.random((n_x, n_y)) < density,
                 rng.integers(1, 6, size=(n_x, n_y)).astype(np.float64), np.nan)
    R[rng.integers(n_x)] = np.nan                  # an x without ratings
    R[:, rng.integers(n_y)] = np.nan               # a y nobody rated
    levels = np.array([0.25, 0.5, 1.0], dtype=np.float32)  # few values: many ties
    sims = []
    for x in range(n_x):
        others = [x2 for x2 in range(n_x) if x2 != x and rng.random() < sim_density]
        vals = levels[rng.integers(0, 3, len(others))]
        order = sorted(range(len(others)), key=lambda t: (-vals[t], others[t]))
        sims.append([(others[t], float(vals[t])) for t in order])
    sims[rng.integers(n_x)] = []                   # an x without neighbours
    x_offset = rng.normal(0, 0.3, n_x)
    y_offset = rng.normal(0, 0.3, n_y)
    return R, sims, x_offset, y_offset


def ratings_by_y(R):
    """CSR of R by y: row y lists the x that rated it (ascending) and their ratings."""
    return csr([[(x, float(R[x, y])) for x in np.flatnonzero(~np.isnan(R[:, y]))]
                for y in range(R.shape[1])])


def ratings_by_x(R):
    return csr([[(y, float(R[x, y])) for y in np.flatnonzero(~np.isnan(R[x]))]
                for x in range(R.shape[0])])


def predict_pairs(xs, ys, R, sims, x_offset, y_offset, mu, k, min_k, mode, n_chunks=2):
    xs = np.asarray(xs, dtype=np.int64)
    ys = np.asarray(ys, dtype=np.int64)
    order = np.argsort(ys, kind="stable").astype(np.int64)
    starts = np.flatnonzero(np.diff(ys[order])) + 1
    group_ptr = np.concatenate([[0], starts, [len(ys)]]).astype(np.int64)
    out = np.full(len(xs), np.nan)
    if len(xs):
        knn_predict_pairs(xs, ys, order, group_ptr, *csr(sims), *ratings_by_y(R), x_offset,
                          y_offset, mu, k, min_k, mode, n_chunks, out)
    return out


sizes = dict(seed=st.integers(0, 2**32 - 1), n_x=st.integers(1, 9), n_y=st.integers(1, 8),
             density=st.sampled_from([0.0, 0.3, 0.7, 1.0]),
             sim_density=st.sampled_from([0.0, 0.4, 1.0]), k=st.integers(1, 5),
             min_k=st.integers(0, 3), mode=st.sampled_from(MODES))


# ---------------------------------------------------------------------------------- oracle
@settings(deadline=None, max_examples=60)
@given(n_pairs=st.integers(0, 30), n_chunks=st.integers(1, 4), **sizes)
def test_predict_pairs_matches_reference(seed, n_x, n_y, density, sim_density, k, min_k,
                                         mode, n_pairs, n_chunks):
    R, sims, xo, yo = make_problem(seed, n_x, n_y, density, sim_density)
    rng = np.random.default_rng(seed + 1)
    xs = rng.integers(-1, n_x, n_pairs)  # -1: an unknown x
    ys = rng.integers(-1, n_y, n_pairs)
    got = predict_pairs(xs, ys, R, sims, xo, yo, 3.1, k, min_k, mode, n_chunks)
    want = [reference_estimate(R, sims, x, y, xo, yo, 3.1, k, min_k, mode)
            for x, y in zip(xs, ys)]
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


@settings(deadline=None, max_examples=60)
@given(n_chunks=st.integers(1, 4), **sizes)
def test_score_rows_matches_reference_and_the_pair_kernel(seed, n_x, n_y, density,
                                                          sim_density, k, min_k, mode,
                                                          n_chunks):
    # Item-based scoring: row j holds the ratings of the j-th y over all x.
    R, sims, xo, yo = make_problem(seed, n_x, n_y, density, sim_density)
    out = np.full((n_y, n_x), np.nan)
    knn_score_rows(*ratings_by_x(R.T), yo, *csr(sims), xo, 3.1, k, min_k, mode, n_chunks, out)
    want = [[reference_estimate(R, sims, x, y, xo, yo, 3.1, k, min_k, mode)
             for x in range(n_x)] for y in range(n_y)]
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    xs, ys = np.meshgrid(np.arange(n_x), np.arange(n_y))
    pairs = predict_pairs(xs.ravel(), ys.ravel(), R, sims, xo, yo, 3.1, k, min_k, mode)
    np.testing.assert_array_equal(out.ravel(), pairs)  # the same floats, bit for bit


@settings(deadline=None, max_examples=60)
@given(n_chunks=st.integers(1, 4), **sizes)
def test_score_neighbors_matches_reference_and_the_pair_kernel(seed, n_x, n_y, density,
                                                               sim_density, k, min_k, mode,
                                                               n_chunks):
    # User-based scoring: spread each neighbour's ratings over the y it rated.
    R, sims, xo, yo = make_problem(seed, n_x, n_y, density, sim_density)
    xs = np.concatenate([np.arange(n_x), [-1]]).astype(np.int64)  # and an unknown x
    out = np.full((len(xs), n_y), np.nan)
    knn_score_neighbors(xs, *csr(sims), *ratings_by_x(R), xo, yo, 3.1, k, min_k, mode,
                        n_chunks, out)
    want = [[reference_estimate(R, sims, x, y, xo, yo, 3.1, k, min_k, mode)
             for y in range(n_y)] for x in xs]
    np.testing.assert_allclose(out, want, rtol=1e-12, atol=1e-12)
    gx, gy = np.meshgrid(xs, np.arange(n_y), indexing="ij")
    pairs = predict_pairs(gx.ravel(), gy.ravel(), R, sims, xo, yo, 3.1, k, min_k, mode)
    np.testing.assert_array_equal(out.ravel(), pairs)


# ---------------------------------------------------------------------------------- explicit
def _tiny():
    # x0's neighbours: x1 and x2 tied at 0.5, then x3 at 0.25. x1, x2, x3 rated y0.
    R = np.full((4, 2), np.nan)
    R[1, 0], R[2, 0], R[3, 0] = 5.0, 1.0, 3.0
    sims = [[(1, 0.5), (2, 0.5), (3, 0.25)], [], [], []]
    return R, sims, np.zeros(4), np.zeros(2)


def test_ties_take_the_smaller_index_first():
    R, sims, xo, yo = _tiny()
    assert predict_pairs([0], [0], R, sims, xo, yo, 3.0, 1, 1, RAW)[0] == 5.0   # x1, not x2
    two = predict_pairs([0], [0], R, sims, xo, yo, 3.0, 2, 1, RAW)[0]
    assert two == pytest.approx(3.0)                                            # (5 + 1) / 2
    assert predict_pairs([0], [0], R, sims, xo, yo, 3.0, 2, 1, SUM)[0] == 1.25  # all three


def test_min_k_and_missing_neighbours_fall_back():
    R, sims, xo, yo = _tiny()
    xo = np.array([0.4, 0.0, 0.0, 0.0])
    yo = np.array([-0.1, 0.2])
    args = (R, sims, xo, yo, 3.0)
    # Fewer than min_k neighbours rated y0: the baseline (CENTRED) or the mean (RAW).
    assert predict_pairs([0], [0], *args, 5, 4, CENTRED)[0] == pytest.approx(3.3)
    assert predict_pairs([0], [0], *args, 5, 4, RAW)[0] == 3.0
    # Nobody rated y1; x1 has no neighbours at all: the same fallbacks, and 0 for SUM.
    for x, y in ((0, 1), (1, 0)):
        assert predict_pairs([x], [y], *args, 5, 1, CENTRED)[0] == pytest.approx(
            3.0 + xo[x] + yo[y])
        assert predict_pairs([x], [y], *args, 5, 1, RAW)[0] == 3.0
        assert predict_pairs([x], [y], *args, 5, 1, SUM)[0] == 0.0


def test_unknown_entities_get_the_fallback():
    R, sims, _, _ = _tiny()
    xo, yo = np.full(4, 0.5), np.full(2, -0.25)
    got = predict_pairs([-1, 0, -1], [0, -1, -1], R, sims, xo, yo, 3.0, 5, 1, CENTRED)
    np.testing.assert_allclose(got, [2.75, 3.5, 3.0])
    assert predict_pairs([-1], [0], R, sims, xo, yo, 3.0, 5, 1, RAW)[0] == 3.0


def test_empty_rating_rows_and_no_similarities_at_all():
    n_x, n_y = 3, 4
    R = np.full((n_x, n_y), np.nan)                # nobody rated anything
    sims = [[] for _ in range(n_x)]                # and no entity has a neighbour
    xo, yo = np.arange(n_x) * 0.1, np.arange(n_y) * -0.1
    out = np.empty((n_y, n_x))
    knn_score_rows(*ratings_by_x(R.T), yo, *csr(sims), xo, 3.0, 2, 1, CENTRED, 2, out)
    np.testing.assert_allclose(out, 3.0 + xo[None, :] + yo[:, None])
    out = np.empty((n_x, n_y))
    knn_score_neighbors(np.arange(n_x), *csr(sims), *ratings_by_x(R), xo, yo, 3.0, 2, 1, SUM,
                        2, out)
    np.testing.assert_array_equal(out, 0.0)
    got = predict_pairs([0, 2], [1, 3], R, sims, xo, yo, 3.0, 2, 1, RAW)
    np.testing.assert_array_equal(got, [3.0, 3.0])


def test_k_stops_at_the_kth_neighbour_that_rated_the_target():
    # x0's best neighbours x1, x2 did not rate y0; x3, x4 did: k=1 takes x3.
    R = np.full((5, 1), np.nan)
    R[3, 0], R[4, 0] = 2.0, 4.0
    sims = [[(1, 0.9), (2, 0.8), (3, 0.7), (4, 0.6)], [], [], [], []]
    args = (R, sims, np.zeros(5), np.zeros(1), 3.0)
    assert predict_pairs([0], [0], *args, 1, 1, RAW)[0] == 2.0
    assert predict_pairs([0], [0], *args, 2, 1, RAW)[0] == pytest.approx(
        (0.7 * 2.0 + 0.6 * 4.0) / 1.3, rel=1e-6)
