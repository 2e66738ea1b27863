"""ALS kernels: every row's solution solves its normal equations (checked with NumPy)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.als import als_half_sweep, balanced_chunks
from recsys.models.als import numba_threads


def random_csr(seed, n_rows, n_cols, density, dtype=np.float64):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_cols)) < density
    _, cols = np.nonzero(mask)
    indptr = np.concatenate([[0], np.cumsum(mask.sum(axis=1))]).astype(np.int64)
    ratings = rng.integers(1, 6, size=len(cols)).astype(dtype)
    return indptr, cols.astype(np.int32), ratings


def reference_row(x, y, reg, reg_bias, use_bias):
    """Weighted-lambda ridge for one row, from its definition, via np.linalg.solve."""
    n, k = x.shape
    if n == 0:
        return np.zeros(k), 0.0
    if use_bias:
        x = np.hstack([x, np.ones((n, 1))])
    penalty = np.full(x.shape[1], reg * n)
    if use_bias:
        penalty[k] = reg_bias
    w = np.linalg.solve(x.T @ x + np.diag(penalty), x.T @ y)
    return w[:k], (w[k] if use_bias else 0.0)


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), n_rows=st.integers(1, 10), n_cols=st.integers(1, 10),
       k=st.integers(1, 6), density=st.sampled_from([0.0, 0.2, 0.6, 1.0]),
       use_bias=st.booleans(), n_chunks=st.integers(1, 5),
       dtype=st.sampled_from([np.float32, np.float64]))
def test_half_sweep_solves_normal_equations(seed, n_rows, n_cols, k, density, use_bias,
                                            n_chunks, dtype):
    indptr, indices, ratings = random_csr(seed, n_rows, n_cols, density, dtype)
    rng = np.random.default_rng(seed + 1)
    fixed = rng.normal(size=(n_cols, k)).astype(dtype)
    fixed_bias = rng.normal(size=n_cols).astype(dtype)
    reg, reg_bias, offset = float(rng.uniform(0.01, 1)), float(rng.uniform(0, 5)), 3.2
    factors = np.full((n_rows, k), 7.0, dtype=dtype)  # every row must be overwritten
    bias = np.full(n_rows, 7.0, dtype=dtype)
    bounds = balanced_chunks(indptr, k, n_chunks)
    failed = als_half_sweep(indptr, indices, ratings, offset, fixed, fixed_bias, factors, bias,
                            reg, reg_bias, use_bias, bounds)
    assert failed == 0
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-9, atol=1e-10)
    for r in range(n_rows):
        cols = indices[indptr[r]:indptr[r + 1]]
        y = ratings[indptr[r]:indptr[r + 1]].astype(np.float64) - offset
        if use_bias:
            y = y - fixed_bias[cols]
        p, b = reference_row(fixed[cols].astype(np.float64), y, reg, reg_bias, use_bias)
        np.testing.assert_allclose(factors[r], p, **tol)
        if use_bias:
            np.testing.assert_allclose(bias[r], b, **tol)
    if not use_bias:
        assert (bias == 7.0).all()  # untouched without biases


def test_half_sweep_same_result_for_any_threads_and_chunks():
    indptr, indices, ratings = random_csr(5, 200, 50, 0.3)
    fixed = np.random.default_rng(0).normal(size=(50, 8))
    fixed_bias = np.zeros(50)
    results = []
    for threads, chunks in [(1, 1), (2, 2), (2, 16)]:
        f, b = np.zeros((200, 8)), np.zeros(200)
        with numba_threads(threads):
            als_half_sweep(indptr, indices, ratings, 3.0, fixed, fixed_bias, f, b, 0.1, 2.0,
                           True, balanced_chunks(indptr, 8, chunks))
        results.append((f, b))
    for f, b in results[1:]:
        np.testing.assert_array_equal(f, results[0][0])
        np.testing.assert_array_equal(b, results[0][1])


@settings(deadline=None, max_examples=30)
@given(lengths=st.lists(st.integers(0, 30), max_size=40), n_chunks=st.integers(1, 9))
def test_balanced_chunks_cover_all_rows_in_order(lengths, n_chunks):
    indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    bounds = balanced_chunks(indptr, 4, n_chunks)
    assert bounds[0] == 0 and bounds[-1] == len(lengths)
    assert (np.diff(bounds) > 0).all() or len(lengths) == 0
    assert len(bounds) <= n_chunks + 1


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**32 - 1), k=st.integers(1, 5), use_bias=st.booleans())
def test_alternating_half_sweeps_never_increase_the_objective(seed, k, use_bias):
    # Each half-sweep minimises the regularised loss exactly over one side.
    rng = np.random.default_rng(seed)
    n_users, n_items = 15, 12
    mask = rng.random((n_users, n_items)) < 0.5
    users, items = np.nonzero(mask)
    ratings = rng.integers(1, 6, len(users)).astype(np.float64)
    mu, reg, reg_bias = ratings.mean(), 0.05, 1.0
    by_user = (np.concatenate([[0], np.cumsum(mask.sum(1))]).astype(np.int64),
               items.astype(np.int32), ratings)
    order = np.lexsort((users, items))
    by_item = (np.concatenate([[0], np.cumsum(mask.sum(0))]).astype(np.int64),
               users[order].astype(np.int32), ratings[order])
    p, q = np.zeros((n_users, k)), rng.normal(0, 0.5, (n_items, k))
    bu, bi = np.zeros(n_users), np.zeros(n_items)
    nu, ni = mask.sum(1), mask.sum(0)

    def objective():
        pred = mu + np.einsum("nk,nk->n", p[users], q[items])
        if use_bias:
            pred = pred + bu[users] + bi[items]
        return (((ratings - pred) ** 2).sum() + reg * (nu @ (p ** 2).sum(1))
                + reg * (ni @ (q ** 2).sum(1)) + reg_bias * (bu @ bu + bi @ bi))

    values = [objective()]
    for _ in range(4):
        als_half_sweep(*by_user, mu, q, bi, p, bu, reg, reg_bias, use_bias,
                       balanced_chunks(by_user[0], k, 2))
        values.append(objective())
        als_half_sweep(*by_item, mu, p, bu, q, bi, reg, reg_bias, use_bias,
                       balanced_chunks(by_item[0], k, 2))
        values.append(objective())
    assert all(b <= a * (1 + 1e-12) + 1e-12 for a, b in zip(values, values[1:]))
