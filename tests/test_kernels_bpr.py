"""BPR kernels against a plain-Python LearnBPR loop, and the sampler's guarantees."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.bpr import (bpr_draw_triples, bpr_epoch, bpr_epoch_hogwild,
                                bpr_sgd_triples)


def reference_triples(users, pos, neg, P, Q, b, lr, reg, use_bias):
    """Rendle et al. 2009, LearnBPR: one gradient step per triple, in float64."""
    P, Q, b = P.astype(np.float64), Q.astype(np.float64), b.astype(np.float64)
    for u, i, j in zip(users, pos, neg):
        x = P[u] @ (Q[i] - Q[j]) + ((b[i] - b[j]) if use_bias else 0.0)
        z = 1.0 / (1.0 + np.exp(x))  # d ln sigmoid(x) / dx
        pu, qi, qj = P[u].copy(), Q[i].copy(), Q[j].copy()
        P[u] = pu + lr * (z * (qi - qj) - reg * pu)
        Q[i] = qi + lr * (z * pu - reg * qi)
        Q[j] = qj + lr * (-z * pu - reg * qj)
        if use_bias:
            bi, bj = b[i], b[j]
            b[i] = bi + lr * (z - reg * bi)
            b[j] = bj + lr * (-z - reg * bj)
    return P, Q, b


def random_positives(rng, n_users, n_items, density):
    """CSR of positives with every user holding at least one and missing at least one item."""
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    if n_items > 1:
        full = mask.all(axis=1)
        mask[full, 0] = False
    m = sp.csr_matrix(mask.astype(np.float32))
    m.sort_indices()
    indptr = m.indptr.astype(np.int64)
    indices = m.indices.astype(np.int32)
    pair_users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(indptr))
    return mask, indptr, indices, pair_users


@settings(deadline=None, max_examples=40)
@given(n_users=st.integers(1, 12), n_items=st.integers(2, 12), k=st.integers(1, 8),
       m=st.integers(0, 60), use_bias=st.booleans(), seed=st.integers(0, 2**31 - 1))
def test_sgd_triples_match_reference_loop(n_users, n_items, k, m, use_bias, seed):
    rng = np.random.default_rng(seed)
    users = rng.integers(0, n_users, m).astype(np.int32)
    pos = rng.integers(0, n_items, m).astype(np.int32)
    neg = rng.integers(0, n_items, m).astype(np.int32)
    P = rng.normal(scale=0.5, size=(n_users, k)).astype(np.float32)
    Q = rng.normal(scale=0.5, size=(n_items, k)).astype(np.float32)
    b = rng.normal(scale=0.5, size=n_items).astype(np.float32)
    lr, reg = 0.05, 0.02
    P_ref, Q_ref, b_ref = reference_triples(users, pos, neg, P, Q, b, lr, reg, use_bias)
    b_before = b.copy()
    bpr_sgd_triples(users, pos, neg, P, Q, b, lr, reg, use_bias)
    np.testing.assert_allclose(P, P_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(Q, Q_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b, b_ref, rtol=1e-4, atol=1e-5)
    if not use_bias:
        np.testing.assert_array_equal(b, b_before)


def test_sgd_step_is_stable_for_large_scores():
    # exp(-x) for x = -1000 would overflow a naive 1 / (1 + exp(x)).
    P = np.full((1, 2), 30.0, dtype=np.float32)
    Q = np.array([[-30.0, -30.0], [30.0, 30.0]], dtype=np.float32)
    b = np.zeros(2, dtype=np.float32)
    one = np.zeros(1, dtype=np.int32)
    bpr_sgd_triples(one, one, one + 1, P, Q, b, 0.001, 0.0, True)
    assert np.isfinite(P).all() and np.isfinite(Q).all()
    assert b[0] > 0 > b[1]  # z is ~1: the pair is ranked wrong and gets the full gradient


@settings(deadline=None, max_examples=30)
@given(n_users=st.integers(1, 10), n_items=st.integers(2, 15),
       density=st.floats(0.05, 0.9), popularity=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_draws_are_valid_triples(n_users, n_items, density, popularity, seed):
    rng = np.random.default_rng(seed)
    mask, indptr, indices, pair_users = random_positives(rng, n_users, n_items, density)
    u, i, j = bpr_draw_triples(indptr, indices, pair_users, n_items, 300, np.uint64(seed),
                               popularity, 1000)
    assert mask[u, i].all()
    found = j >= 0
    assert not mask[u[found], j[found]].any()
    if popularity:
        # Popularity sampling only proposes items somebody has; it fails only for a user who
        # has every such item.
        assert mask[:, j[found]].any(axis=0).all()
        held = mask.any(axis=0)
        assert (mask[u[~found]][:, held]).all()
    else:
        assert found.all()  # every user misses an item; 1000 uniform tries find it here


def test_uniform_negatives_are_uniform_and_popularity_negatives_follow_counts():
    rng = np.random.default_rng(1)
    n_users, n_items = 30, 20
    mask = np.zeros((n_users, n_items), dtype=bool)
    mask[:, 0] = True                      # one positive per user: item 0 ...
    mask[:10, 1] = True                    # ... and item 1 for a third of them
    mask[rng.integers(0, n_users, 40), rng.integers(2, n_items, 40)] = True
    m = sp.csr_matrix(mask.astype(np.float32))
    indptr, indices = m.indptr.astype(np.int64), m.indices.astype(np.int32)
    pair_users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(indptr))
    n = 60_000
    _, _, j = bpr_draw_triples(indptr, indices, pair_users, n_items, n, np.uint64(7), False, 100)
    counts = np.bincount(j, minlength=n_items)
    assert counts[0] == 0  # everybody's positive is never a negative
    # Uniform over each user's non-positives: item 1 is a candidate for 2/3 of the users.
    expected = np.array([np.mean([1.0 / (n_items - mask[u].sum()) * (not mask[u, it])
                                  for u in pair_users]) for it in range(n_items)]) * n
    np.testing.assert_allclose(counts[1:], expected[1:], rtol=0.1)
    _, _, jp = bpr_draw_triples(indptr, indices, pair_users, n_items, n, np.uint64(7), True, 100)
    pop = np.bincount(jp, minlength=n_items)
    assert pop[0] == 0
    # Item 1 (10 positives) is proposed far more often than any item with 1 to 4 positives.
    assert pop[1] > 2 * np.median(pop[2:])


def test_user_with_every_item_is_skipped():
    indptr = np.array([0, 3, 4], dtype=np.int64)
    indices = np.array([0, 1, 2, 1], dtype=np.int32)
    pair_users = np.array([0, 0, 0, 1], dtype=np.int32)
    u, i, j = bpr_draw_triples(indptr, indices, pair_users, 3, 200, np.uint64(3), False, 50)
    assert (j[u == 0] == -1).all()
    assert ((j[u == 1] == 0) | (j[u == 1] == 2)).all()
    P = np.ones((2, 2), dtype=np.float32)
    Q = np.ones((3, 2), dtype=np.float32)
    b = np.zeros(3, dtype=np.float32)
    correct, skipped = bpr_epoch(indptr, indices, pair_users, 200, np.uint64(3), P, Q, b,
                                 0.1, 0.0, True, False, 50)
    assert skipped == (u == 0).sum()


@settings(deadline=None, max_examples=20)
@given(n_users=st.integers(1, 10), n_items=st.integers(2, 12), k=st.integers(1, 6),
       n_samples=st.integers(0, 200), use_bias=st.booleans(), popularity=st.booleans(),
       seed=st.integers(0, 2**31 - 1))
def test_epoch_equals_triples_it_draws(n_users, n_items, k, n_samples, use_bias, popularity,
                                       seed):
    rng = np.random.default_rng(seed)
    _, indptr, indices, pair_users = random_positives(rng, n_users, n_items, 0.3)
    P = rng.normal(scale=0.3, size=(n_users, k)).astype(np.float32)
    Q = rng.normal(scale=0.3, size=(n_items, k)).astype(np.float32)
    b = np.zeros(n_items, dtype=np.float32)
    s = np.uint64(rng.integers(0, 2**63))
    u, i, j = bpr_draw_triples(indptr, indices, pair_users, n_items, n_samples, s,
                               popularity, 100)
    keep = j >= 0
    P_ref, Q_ref, b_ref = reference_triples(u[keep], i[keep], j[keep], P, Q, b, 0.05, 0.01,
                                            use_bias)
    P1, Q1, b1 = P.copy(), Q.copy(), b.copy()
    correct, skipped = bpr_epoch(indptr, indices, pair_users, n_samples, s, P1, Q1, b1,
                                 0.05, 0.01, use_bias, popularity, 100)
    assert skipped == (~keep).sum() and 0 <= correct <= keep.sum()
    np.testing.assert_allclose(P1, P_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(Q1, Q_ref, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(b1, b_ref, rtol=1e-4, atol=1e-5)
    # A Hogwild epoch with a single shard is the same serial walk.
    P2, Q2, b2 = P.copy(), Q.copy(), b.copy()
    bpr_epoch_hogwild(indptr, indices, pair_users, n_samples, np.array([s]), P2, Q2, b2,
                      0.05, 0.01, use_bias, popularity, 100)
    np.testing.assert_array_equal(P2, P1)
    np.testing.assert_array_equal(Q2, Q1)


def test_hogwild_epoch_learns_the_ranking():
    # Two user groups with disjoint tastes: after Hogwild epochs each group ranks its own
    # items above the other group's.
    n_users, n_items = 40, 20
    mask = np.zeros((n_users, n_items), dtype=bool)
    mask[:20, :10] = True
    mask[20:, 10:] = True
    rng = np.random.default_rng(0)
    mask &= rng.random(mask.shape) < 0.6
    m = sp.csr_matrix(mask.astype(np.float32))
    indptr, indices = m.indptr.astype(np.int64), m.indices.astype(np.int32)
    pair_users = np.repeat(np.arange(n_users, dtype=np.int32), np.diff(indptr))
    P = rng.normal(scale=0.1, size=(n_users, 4)).astype(np.float32)
    Q = rng.normal(scale=0.1, size=(n_items, 4)).astype(np.float32)
    b = np.zeros(n_items, dtype=np.float32)
    for epoch in range(30):
        seeds = np.arange(4, dtype=np.uint64) + np.uint64(10 * epoch)  # fresh streams
        bpr_epoch_hogwild(indptr, indices, pair_users, len(indices), seeds, P, Q, b,
                          0.1, 0.01, False, False, 100)
    S = P @ Q.T
    assert (S[:20, :10].mean(axis=1) > S[:20, 10:].mean(axis=1)).all()
    assert (S[20:, 10:].mean(axis=1) > S[20:, :10].mean(axis=1)).all()
