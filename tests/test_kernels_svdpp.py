"""SVD++ kernels against slow NumPy references (hypothesis draws sizes and seeds)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.scoring import clipped_sse
from recsys.kernels.svdpp import (implicit_sums, shuffle_within_rows, svdpp_epoch,
                                  svdpp_epoch_hogwild)
from recsys.models.als import numba_threads


# ---------------------------------------------------------------------- data and references
def random_problem(seed, n_users, n_items, k, density, dtype=np.float64):
    """CSR ratings by user (some users may have none), parameters and a visiting order."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    indices = items.astype(np.int32)
    ratings = rng.integers(1, 6, size=len(items)).astype(dtype)
    params = dict(
        user_factors=rng.normal(0, 0.3, (n_users, k)).astype(dtype),
        item_factors=rng.normal(0, 0.3, (n_items, k)).astype(dtype),
        implicit_factors=rng.normal(0, 0.3, (n_items, k)).astype(dtype),
        user_bias=rng.normal(0, 0.2, n_users).astype(dtype),
        item_bias=rng.normal(0, 0.2, n_items).astype(dtype),
    )
    user_order = rng.permutation(n_users).astype(np.int32)
    order = reference_shuffle(indptr, rng.random(len(indices)))
    hyper = dict(global_mean=float(ratings.mean()) if len(ratings) else 3.0,
                 learning_rate=float(rng.uniform(0.005, 0.05)),
                 reg_bias=float(rng.uniform(0, 0.1)), reg_factors=float(rng.uniform(0, 0.1)),
                 reg_implicit=float(rng.uniform(0, 0.1)))
    return indptr, indices, ratings, user_order, order, params, hyper


def reference_shuffle(indptr, uniform):
    """Fisher-Yates within each row, written plainly."""
    order = np.arange(indptr[-1], dtype=np.int64)
    for r in range(len(indptr) - 1):
        lo, hi = int(indptr[r]), int(indptr[r + 1])
        for t in range(hi - lo - 1, 0, -1):
            j = min(int(uniform[lo + t] * (t + 1)), t)
            order[lo + t], order[lo + j] = order[lo + j], order[lo + t]
    return order


def surprise_epoch(indptr, indices, ratings, user_order, order, params, hyper):
    """Surprise's SVDpp loop, literally: rebuild z from every y_j, then update every y_j,
    at each rating (O(|N(u)| k) per rating)."""
    P, Q, Y = params["user_factors"], params["item_factors"], params["implicit_factors"]
    bu, bi = params["user_bias"], params["item_bias"]
    mu, lr = hyper["global_mean"], hyper["learning_rate"]
    rb, rf, ry = hyper["reg_bias"], hyper["reg_factors"], hyper["reg_implicit"]
    sse = 0.0
    for u in user_order:
        lo, hi = indptr[u], indptr[u + 1]
        nu = indices[lo:hi]
        for t in range(lo, hi):
            p = order[t]
            i, r = indices[p], ratings[p]
            z = Y[nu].sum(axis=0) / np.sqrt(len(nu))
            err = r - (mu + bu[u] + bi[i] + Q[i] @ (P[u] + z))
            sse += err ** 2
            bu[u] += lr * (err - rb * bu[u])
            bi[i] += lr * (err - rb * bi[i])
            pu, qi = P[u].copy(), Q[i].copy()
            P[u] += lr * (err * qi - rf * pu)
            Q[i] += lr * (err * (pu + z) - rf * qi)
            Y[nu] += lr * (err * qi / np.sqrt(len(nu)) - ry * Y[nu])
    return sse


def cached_epoch(indptr, indices, ratings, user_order, order, params, hyper):
    """The kernel's algorithm, plainly: z once per user and updated in O(k) per rating; the
    y_j steps accumulated in (g, decay) and applied at the end of the user's ratings."""
    P, Q, Y = params["user_factors"], params["item_factors"], params["implicit_factors"]
    bu, bi = params["user_bias"], params["item_bias"]
    mu, lr = hyper["global_mean"], hyper["learning_rate"]
    rb, rf, ry = hyper["reg_bias"], hyper["reg_factors"], hyper["reg_implicit"]
    sse = 0.0
    for u in user_order:
        lo, hi = indptr[u], indptr[u + 1]
        if hi == lo:
            continue
        nu = indices[lo:hi]
        norm = 1 / np.sqrt(len(nu))
        z = Y[nu].sum(axis=0) * norm
        g = np.zeros_like(z)
        decay = 1.0
        for t in range(lo, hi):
            p = order[t]
            i, r = indices[p], ratings[p]
            err = r - (mu + bu[u] + bi[i] + Q[i] @ (P[u] + z))
            sse += err ** 2
            bu[u] += lr * (err - rb * bu[u])
            bi[i] += lr * (err - rb * bi[i])
            pu, qi = P[u].copy(), Q[i].copy()
            P[u] += lr * (err * qi - rf * pu)
            Q[i] += lr * (err * (pu + z) - rf * qi)
            g = (1 - lr * ry) * g + lr * err * qi * norm
            z = (1 - lr * ry) * z + lr * err * qi
            decay *= 1 - lr * ry
        Y[nu] = decay * Y[nu] + g
    return sse


def run_kernel(problem, kernel=svdpp_epoch, extra=()):
    indptr, indices, ratings, user_order, order, params, hyper = problem
    dtype = ratings.dtype.type
    p = {k: v.copy() for k, v in params.items()}
    sse = kernel(indptr, indices, ratings, user_order, order, dtype(hyper["global_mean"]),
                 p["user_factors"], p["item_factors"], p["implicit_factors"], p["user_bias"],
                 p["item_bias"], dtype(hyper["learning_rate"]), dtype(hyper["reg_bias"]),
                 dtype(hyper["reg_factors"]), dtype(hyper["reg_implicit"]), *extra)
    return sse, p


def run_reference(problem, reference):
    indptr, indices, ratings, user_order, order, params, hyper = problem
    p = {k: v.astype(np.float64) for k, v in params.items()}
    sse = reference(indptr, indices, ratings.astype(np.float64), user_order, order, p, hyper)
    return sse, p


sizes = dict(seed=st.integers(0, 2**32 - 1), n_users=st.integers(1, 7),
             n_items=st.integers(1, 9), k=st.integers(1, 5),
             density=st.sampled_from([0.0, 0.3, 0.7, 1.0]))


# ---------------------------------------------------------------------- tests
@settings(deadline=None, max_examples=40)
@given(**sizes)
def test_epoch_matches_cached_reference_and_surprise_loop(seed, n_users, n_items, k, density):
    problem = random_problem(seed, n_users, n_items, k, density)
    sse, got = run_kernel(problem)
    ref_sse, cached = run_reference(problem, cached_epoch)
    lit_sse, literal = run_reference(problem, surprise_epoch)
    for name in got:
        np.testing.assert_allclose(got[name], cached[name], rtol=1e-10, atol=1e-12,
                                   err_msg=name)
        # The cached algorithm is Surprise's per-rating update rewritten, not approximated.
        np.testing.assert_allclose(got[name], literal[name], rtol=1e-9, atol=1e-11,
                                   err_msg=name)
    np.testing.assert_allclose(sse, ref_sse, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(sse, lit_sse, rtol=1e-9, atol=1e-11)


@settings(deadline=None, max_examples=20)
@given(**sizes)
def test_float32_epoch_tracks_float64_reference(seed, n_users, n_items, k, density):
    problem = random_problem(seed, n_users, n_items, k, density, dtype=np.float32)
    _, got = run_kernel(problem)
    _, ref = run_reference(problem, cached_epoch)
    for name in got:
        assert got[name].dtype == np.float32
        np.testing.assert_allclose(got[name], ref[name], rtol=1e-4, atol=1e-5, err_msg=name)


@settings(deadline=None, max_examples=20)
@given(**sizes, n_shards=st.integers(1, 4))
def test_hogwild_on_one_thread_is_the_serial_epoch(seed, n_users, n_items, k, density,
                                                   n_shards):
    # On one thread the shards run one after the other, i.e. in user_order: no race.
    problem = random_problem(seed, n_users, n_items, k, density)
    sse, serial = run_kernel(problem)
    with numba_threads(1):
        hsse, hog = run_kernel(problem, svdpp_epoch_hogwild, (n_shards,))
    for name in serial:
        np.testing.assert_array_equal(hog[name], serial[name], err_msg=name)
    np.testing.assert_allclose(hsse, sse, rtol=1e-12)  # summed per shard, then added


def test_hogwild_on_two_threads_fits_as_well_as_serial():
    problem = random_problem(3, 60, 40, 4, 0.5)
    hyper = problem[6]
    serial, hog = dict(problem[5]), dict(problem[5])
    with numba_threads(2):
        for _ in range(15):
            s_sse, serial = run_kernel(problem[:5] + (serial, hyper))
            h_sse, hog = run_kernel(problem[:5] + (hog, hyper), svdpp_epoch_hogwild, (2,))
    assert all(np.isfinite(v).all() for v in hog.values())
    assert h_sse < 1.05 * s_sse


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), lengths=st.lists(st.integers(0, 12), max_size=8))
def test_shuffle_within_rows(seed, lengths):
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    uniform = np.random.default_rng(seed).random(int(indptr[-1]))
    got = shuffle_within_rows(indptr, uniform)
    np.testing.assert_array_equal(got, reference_shuffle(indptr, uniform))
    for r in range(len(lengths)):
        lo, hi = indptr[r], indptr[r + 1]
        np.testing.assert_array_equal(np.sort(got[lo:hi]), np.arange(lo, hi))


def test_shuffle_within_rows_edge_uniform_one():
    indptr = np.array([0, 3], dtype=np.int64)
    got = shuffle_within_rows(indptr, np.ones(3))  # 1.0 must not index past the row
    np.testing.assert_array_equal(np.sort(got), [0, 1, 2])


@settings(deadline=None, max_examples=30)
@given(**sizes)
def test_implicit_sums_and_sse(seed, n_users, n_items, k, density):
    indptr, indices, ratings, _, _, p, hyper = random_problem(seed, n_users, n_items, k,
                                                               density)
    z = implicit_sums(indptr, indices, p["implicit_factors"])
    for u in range(n_users):
        nu = indices[indptr[u]:indptr[u + 1]]
        expected = (p["implicit_factors"][nu].sum(axis=0) / np.sqrt(len(nu)) if len(nu)
                    else np.zeros(k))
        np.testing.assert_allclose(z[u], expected, rtol=1e-12, atol=1e-12)
    users = np.repeat(np.arange(n_users), np.diff(indptr)).astype(np.int32)
    mu = hyper["global_mean"]
    pred = (mu + p["user_bias"][users] + p["item_bias"][indices]
            + np.einsum("nk,nk->n", p["item_factors"][indices], p["user_factors"][users]
                        + z[users]))
    expected = ((ratings - np.clip(pred, 1.5, 4.5)) ** 2).sum()
    # SVD++'s error is the shared clipped SSE with p_u + z_u as the user factors.
    got = clipped_sse(users, indices, ratings, mu, p["user_factors"] + z, p["item_factors"],
                      p["user_bias"], p["item_bias"], 1.5, 4.5)
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
