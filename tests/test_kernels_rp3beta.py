"""RP3beta's top-k product kernel against a slow dense NumPy reference of the random walk."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from recsys.models.rp3beta import rp3beta_weights


def binary_matrix(seed: int, n_users: int, n_items: int, density: float, n_empty_users: int = 0,
                  n_empty_items: int = 0) -> np.ndarray:
    """A random 0/1 (n_users, n_items) matrix; some users and items without any entry."""
    rng = np.random.default_rng(seed)
    X = (rng.random((n_users, n_items)) < density).astype(np.float64)
    X[rng.permutation(n_users)[:n_empty_users]] = 0.0
    X[:, rng.permutation(n_items)[:n_empty_items]] = 0.0
    return X


def reference_walk(X: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """Dense W = (P_iu^alpha @ P_ui^alpha) * pop^-beta, diagonal 0, as Dacrema et al.'s
    RP3betaRecommender computes it (before its top-k)."""
    user_deg, item_deg = X.sum(axis=1), X.sum(axis=0)
    p_ui = np.divide(X, user_deg[:, None], out=np.zeros_like(X), where=user_deg[:, None] > 0)
    p_iu = np.divide(X.T, item_deg[:, None], out=np.zeros_like(X.T),
                     where=item_deg[:, None] > 0)
    W = (p_iu ** alpha) @ (p_ui ** alpha)
    pop = np.divide(1.0, item_deg ** beta, out=np.zeros_like(item_deg), where=item_deg > 0)
    W = W * pop[None, :]
    np.fill_diagonal(W, 0.0)
    return W


def reference_topk(W: np.ndarray, k: int, normalize: bool = False) -> np.ndarray:
    """Each row's k largest positive entries (float32 values, ties by ascending column),
    then optionally each row scaled to sum to 1; the rest 0."""
    out = np.zeros_like(W)
    for i, row in enumerate(W.astype(np.float32)):
        order = np.argsort(-row, kind="stable")[:k]
        order = order[row[order] > 0]
        out[i, order] = W[i, order]
    if normalize:
        sums = out.sum(axis=1, keepdims=True)
        out = np.divide(out, sums, out=np.zeros_like(out), where=sums > 0)
    return out


def assert_topk_match(got: sp.csr_matrix, full: np.ndarray, k: int, normalize: bool = False):
    """``got`` keeps, per row, k entries of ``full`` whose values are the k largest.

    Exact index sets are not compared: a float64 sum in another order can break a tie the
    other way. Compared: each kept value equals ``full`` there (divided by the row's top-k
    sum with ``normalize``), and each row's kept values, sorted, equal the reference
    top-k's.
    """
    assert got.dtype == np.float32 and got.has_sorted_indices
    raw = reference_topk(full, k)
    ref = reference_topk(full, k, normalize)
    target = full
    if normalize:
        sums = raw.sum(axis=1, keepdims=True)
        target = np.divide(full, sums, out=np.zeros_like(full), where=sums > 0)
    dense = got.toarray().astype(np.float64)
    kept = dense != 0
    np.testing.assert_allclose(dense[kept], target[kept], rtol=2e-6, atol=0)
    for i in range(full.shape[0]):
        a = np.sort(dense[i][kept[i]])[::-1]
        b = np.sort(ref[i][ref[i] > 0])[::-1]
        assert len(a) == len(b) <= k, (i, len(a), len(b))
        np.testing.assert_allclose(a, b, rtol=2e-6, atol=0)


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**31 - 1), n_users=st.integers(1, 25), n_items=st.integers(1, 18),
       density=st.floats(0.05, 0.9), k=st.integers(1, 20),
       alpha=st.sampled_from([0.3, 0.8, 1.0, 1.7]), beta=st.sampled_from([0.0, 0.4, 1.0]),
       normalize=st.booleans(), n_empty=st.integers(0, 3))
def test_kernel_matches_the_dense_walk(seed, n_users, n_items, density, k, alpha, beta,
                                       normalize, n_empty):
    X = binary_matrix(seed, n_users, n_items, density, n_empty // 2, n_empty - n_empty // 2)
    got = rp3beta_weights(sp.csr_matrix(X), alpha, beta, k, normalize)
    assert got.shape == (n_items, n_items)
    assert np.all(got.diagonal() == 0)
    assert_topk_match(got, reference_walk(X, alpha, beta), k, normalize)


def test_normalized_rows_sum_to_one_and_keep_the_order():
    X = binary_matrix(3, 40, 25, 0.3, n_empty_items=2)
    plain = rp3beta_weights(sp.csr_matrix(X), 0.7, 0.5, 6)
    norm = rp3beta_weights(sp.csr_matrix(X), 0.7, 0.5, 6, normalize=True)
    sums = np.asarray(norm.sum(axis=1)).ravel()
    has = np.diff(plain.indptr) > 0
    np.testing.assert_allclose(sums[has], 1.0, rtol=1e-6)
    assert (sums[~has] == 0).all()
    np.testing.assert_array_equal(norm.indices, plain.indices)
    np.testing.assert_array_equal(norm.indptr, plain.indptr)


def test_exact_ties_keep_the_smallest_columns():
    # Four users rate all of items 0..5: every pair of items has the same weight, so each
    # row keeps the smallest other columns.
    X = np.ones((4, 6))
    got = rp3beta_weights(sp.csr_matrix(X), 1.0, 0.5, 3).toarray()
    expected = np.zeros((6, 6), dtype=bool)
    for i in range(6):
        expected[i, [j for j in range(6) if j != i][:3]] = True
    np.testing.assert_array_equal(got != 0, expected)
    assert len(np.unique(got[got != 0])) == 1


def test_empty_rows_columns_and_matrices():
    X = np.zeros((5, 4))
    X[0, 1] = X[1, 1] = X[1, 2] = 1.0  # item 0 and 3 never rated, users 2..4 empty
    got = rp3beta_weights(sp.csr_matrix(X), 1.0, 0.5, 10)
    dense = got.toarray()
    assert (dense[[0, 3]] == 0).all() and (dense[:, [0, 3]] == 0).all()
    np.testing.assert_allclose(dense, reference_topk(reference_walk(X, 1.0, 0.5), 10),
                               rtol=1e-6)
    assert rp3beta_weights(sp.csr_matrix((3, 4)), 1.0, 0.5, 5).nnz == 0
    assert rp3beta_weights(sp.csr_matrix(np.ones((3, 1))), 1.0, 0.5, 5).nnz == 0
    assert rp3beta_weights(sp.csr_matrix((0, 0)), 1.0, 0.5, 5).shape == (0, 0)


def test_a_single_user_walk_by_hand():
    # One user with items 0 and 1, another with 1 and 2: W[0, 1] = 1 * 1/2 * 2^-beta.
    X = np.array([[1, 1, 0], [0, 1, 1]], dtype=np.float64)
    W = rp3beta_weights(sp.csr_matrix(X), 1.0, 1.0, 5).toarray()
    expected = np.array([[0, 0.5 / 2, 0], [0.25, 0, 0.25], [0, 0.5 / 2, 0]])
    np.testing.assert_allclose(W, expected, rtol=1e-7)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_result_does_not_depend_on_threads(threads):
    X = sp.csr_matrix(binary_matrix(11, 120, 70, 0.2, 3, 3))
    base = rp3beta_weights(X, 0.9, 0.4, 8, num_threads=1)
    other = rp3beta_weights(X, 0.9, 0.4, 8, num_threads=threads)
    np.testing.assert_array_equal(base.indptr, other.indptr)
    np.testing.assert_array_equal(base.indices, other.indices)
    np.testing.assert_array_equal(base.data, other.data)
