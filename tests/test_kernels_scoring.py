"""The shared score and clipped-SSE kernels against plain NumPy."""

from __future__ import annotations

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.scoring import (_CHUNK, _PARALLEL_MIN_WORK, bias_rmse, clipped_rmse,
                                    clipped_sse, mf_score_pairs)
from recsys.threads import numba_threads


def problem(seed, n_users, n_items, n_ratings, k, dtype):
    """Random ratings (repeats allowed) and parameters of one dtype."""
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, n_ratings).astype(np.int32)
    items = rng.integers(0, n_items, n_ratings).astype(np.int32)
    ratings = rng.integers(1, 6, n_ratings).astype(dtype)
    P = rng.normal(0, 0.3, (n_users, k)).astype(dtype)
    Q = rng.normal(0, 0.3, (n_items, k)).astype(dtype)
    bu = rng.normal(0, 0.2, n_users).astype(dtype)
    bi = rng.normal(0, 0.2, n_items).astype(dtype)
    return users, items, ratings, P, Q, bu, bi, rng


def reference_scores(users, items, mu, P, Q, bu, bi):
    """mu + b_u + b_i + p_u . q_i in float64, leaving out what an index of -1 marks."""
    out = np.full(len(users), float(mu))
    for j, (u, i) in enumerate(zip(users, items)):
        out[j] += (float(bu[u]) if u >= 0 else 0.0) + (float(bi[i]) if i >= 0 else 0.0)
        if u >= 0 and i >= 0:
            out[j] += float(P[u].astype(np.float64) @ Q[i].astype(np.float64))
    return out


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(0, 30), k=st.integers(1, 5))
def test_mf_sse_matches_numpy(seed, n, k):
    rng = np.random.default_rng(seed)
    p, q = rng.normal(size=(6, k)), rng.normal(size=(7, k))
    bu, bi = rng.normal(size=6), rng.normal(size=7)
    users = rng.integers(0, 6, n).astype(np.int32)
    items = rng.integers(0, 7, n).astype(np.int32)
    ratings = rng.integers(1, 6, n).astype(np.float64)
    pred = np.clip(3.0 + bu[users] + bi[items] + np.einsum("nk,nk->n", p[users], q[items]),
                   1.0, 5.0)
    got = clipped_sse(users, items, ratings, 3.0, p, q, bu, bi, 1.0, 5.0)
    np.testing.assert_allclose(got, ((ratings - pred) ** 2).sum(), rtol=1e-10, atol=1e-12)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 50),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_score_pairs_and_rmse_with_unknowns(seed, n, dtype):
    users_, items_, ratings, P, Q, bu, bi, rng = problem(seed, 5, 6, n, 4, dtype)
    users = np.where(rng.random(n) < 0.2, -1, users_).astype(np.int64)
    items = np.where(rng.random(n) < 0.2, -1, items_).astype(np.int64)
    mu = 3.0
    expected = np.full(n, mu)
    for j in range(n):
        u, i = users[j], items[j]
        expected[j] += (bu[u] if u >= 0 else 0) + (bi[i] if i >= 0 else 0)
        if u >= 0 and i >= 0:
            expected[j] += float(P[u].astype(np.float64) @ Q[i].astype(np.float64))
    out = np.empty(n)
    mf_score_pairs(users, items, mu, P, Q, bu, bi, out)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-5)
    rmse = clipped_rmse(users, items, ratings, mu, P, Q, bu, bi, 1.0, 5.0)
    if n == 0:
        assert np.isnan(rmse)
    else:
        want = np.sqrt(np.mean((np.clip(expected, 1, 5) - ratings) ** 2))
        assert rmse == pytest.approx(want, rel=1e-5, abs=1e-6)


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 3 * _CHUNK), k=st.integers(0, 9),
       p_unknown=st.sampled_from([0.0, 0.3]), dtype=st.sampled_from([np.float32, np.float64]),
       scale=st.sampled_from([(1.0, 5.0), (2.0, 3.0)]))
def test_clipped_sse_matches_numpy_over_chunks(seed, n, k, p_unknown, dtype, scale):
    # Sizes across several chunks, k = 0 (no factors), unknown indices, tight clipping.
    users, items, ratings, P, Q, bu, bi, rng = problem(seed, 9, 7, n, k, dtype)
    users = np.where(rng.random(n) < p_unknown, -1, users).astype(np.int32)
    items = np.where(rng.random(n) < p_unknown, -1, items).astype(np.int32)
    low, high = scale
    pred = np.clip(reference_scores(users, items, 3.2, P, Q, bu, bi), low, high)
    want = float(((ratings.astype(np.float64) - pred) ** 2).sum())
    got = clipped_sse(users, items, ratings, 3.2, P, Q, bu, bi, low, high)
    assert got == pytest.approx(want, rel=1e-5 if dtype == np.float32 else 1e-10, abs=1e-9)


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31), n=st.integers(0, 40))
def test_bias_rmse_is_the_clipped_rmse_without_factors(seed, n):
    users, items, ratings, _, _, bu, bi, rng = problem(seed, 6, 5, n, 0, np.float64)
    users = np.where(rng.random(n) < 0.25, -1, users).astype(np.int32)
    items = np.where(rng.random(n) < 0.25, -1, items).astype(np.int32)
    got = bias_rmse(users, items, ratings, 3.0, bu, bi, 1.0, 5.0)
    if n == 0:
        assert np.isnan(got)
        return
    pred = np.clip(3.0 + np.where(users >= 0, bu[users], 0.0)
                   + np.where(items >= 0, bi[items], 0.0), 1.0, 5.0)
    assert got == pytest.approx(np.sqrt(np.mean((ratings - pred) ** 2)), rel=1e-12)


def test_empty_input_sse_is_zero_and_rmse_nan():
    users, items, ratings, P, Q, bu, bi, _ = problem(0, 3, 3, 0, 2, np.float32)
    assert clipped_sse(users, items, ratings, 3.0, P, Q, bu, bi, 1.0, 5.0) == 0.0
    assert np.isnan(clipped_rmse(users, items, ratings, 3.0, P, Q, bu, bi, 1.0, 5.0))


def test_a_nan_prediction_gives_a_nan_error():
    # No nnan fastmath flag: a diverged model must not report a finite RMSE.
    users, items, ratings, P, Q, bu, bi, _ = problem(1, 4, 4, 50, 3, np.float32)
    P[users[0], 0] = np.nan
    assert np.isnan(clipped_sse(users, items, ratings, 3.0, P, Q, bu, bi, 1.0, 5.0))


def test_large_input_runs_in_parallel_and_gives_the_same_number_on_any_threads():
    k = 15
    n = _PARALLEL_MIN_WORK // (k + 1) + 3 * _CHUNK + 17  # the parallel path, ragged end
    users, items, ratings, P, Q, bu, bi, _ = problem(2, 500, 300, n, k, np.float32)
    results = []
    for threads in (1, min(2, numba.config.NUMBA_NUM_THREADS)):
        with numba_threads(threads):
            results.append(clipped_sse(users, items, ratings, 3.5, P, Q, bu, bi, 1.0, 5.0))
    assert results[0] == results[1]
    pred = 3.5 + bu[users].astype(np.float64) + bi[items] + np.einsum(
        "nk,nk->n", P[users].astype(np.float64), Q[items].astype(np.float64))
    want = ((ratings - np.clip(pred, 1.0, 5.0)) ** 2).sum()
    assert results[0] == pytest.approx(want, rel=1e-6)
