"""Sampled ranking and the Krichene & Rendle correction: the rank law against brute-force
enumeration of every sample, the bias-variance estimator against a direct minimisation of
its objective computed by enumeration, the ranks against a plain loop, and the negatives."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import minimize

from recsys.dataset import Dataset
from recsys.sampled import (corrected_metric, evaluate_sampled, rank_metric,
                            sampled_rank_law)


def brute_law(n_pool: int, m: int) -> np.ndarray:
    """P(sampled rank = j + 1 | full rank r) by enumerating every m-subset of the pool."""
    law = np.zeros((n_pool + 1, m + 1))
    subsets = list(itertools.combinations(range(n_pool), m))
    for above in range(n_pool + 1):  # negatives 0..above-1 are ranked above the item
        for sub in subsets:
            law[above, sum(x < above for x in sub)] += 1.0 / len(subsets)
    return law


def brute_law_replace(n_pool: int, m: int) -> np.ndarray:
    law = np.zeros((n_pool + 1, m + 1))
    for above in range(n_pool + 1):
        for draw in itertools.product(range(n_pool), repeat=m):
            law[above, sum(x < above for x in draw)] += 1.0 / n_pool ** m
    return law


@pytest.mark.parametrize("n_pool, m", [(5, 2), (6, 3), (4, 4), (7, 1)])
def test_rank_law_matches_enumeration(n_pool, m):
    np.testing.assert_allclose(sampled_rank_law(n_pool, m), brute_law(n_pool, m), atol=1e-12)
    if n_pool ** m <= 5000:
        np.testing.assert_allclose(sampled_rank_law(n_pool, m, replace=True),
                                   brute_law_replace(n_pool, m), atol=1e-12)


@pytest.mark.parametrize("gamma", [0.0, 0.1, 0.5, 1.0])
@pytest.mark.parametrize("metric", ["hit", "ndcg"])
def test_corrected_metric_minimises_the_bias_variance_objective(gamma, metric):
    n_pool, m, k = 6, 3, 2
    law = brute_law(n_pool, m)
    target = rank_metric(metric, np.arange(1, n_pool + 2), k)

    def objective(x):  # sum over true ranks (uniform weights) of bias^2 + gamma var
        total = 0.0
        for r in range(n_pool + 1):
            mean = sum(law[r, j] * x[j] for j in range(m + 1))
            second = sum(law[r, j] * x[j] ** 2 for j in range(m + 1))
            total += ((mean - target[r]) ** 2 + gamma * (second - mean ** 2)) / (n_pool + 1)
        return total

    x = corrected_metric(metric, k, n_pool, m, gamma)
    best = minimize(objective, np.zeros(m + 1), method="BFGS", options={"gtol": 1e-12})
    assert objective(x) <= best.fun + 1e-10
    if gamma == 1.0:  # the posterior mean of M(R) given the sampled rank, uniform prior
        post = (law * target[:, None]).sum(axis=0) / law.sum(axis=0)
        np.testing.assert_allclose(x, post, atol=1e-12)


def test_correction_is_exact_without_sampling_and_corrects_the_raw_hit():
    # m = n_pool: every negative is drawn, the sampled rank is the full rank; the minimal-
    # bias estimator then gives back the metric itself.
    x = corrected_metric("ndcg", 3, 5, 5, gamma=0.0)
    np.testing.assert_allclose(x, rank_metric("ndcg", np.arange(1, 7), 3), atol=1e-10)
    # With 40 negatives out of 400, the raw HR@10 of a sampled rank 1 is 1, but under a
    # uniform prior an item at sampled rank 1 is at full rank <= 10 only with probability
    # sum_{r<=10} C(400 - r + 1, 40) / sum_r C(400 - r + 1, 40) (about 0.66): the
    # posterior mean (gamma = 1) says so.
    none_above = [math.comb(400 - (r - 1), 40) for r in range(1, 402)]
    x = corrected_metric("hit", 10, 400, 40, gamma=1.0)
    assert x[0] == pytest.approx(sum(none_above[:10]) / sum(none_above), rel=1e-9)
    assert x[0] < 0.7 and x[5] < 0.01
    # And the bias-variance estimator's expected value is much closer to the true metric
    # than the raw sampled metric's, over the true ranks.
    law = sampled_rank_law(400, 40)
    truth = rank_metric("hit", np.arange(1, 402), 10)
    raw = law @ rank_metric("hit", np.arange(1, 42), 10)
    cor = law @ corrected_metric("hit", 10, 400, 40, gamma=0.1)
    assert np.mean((cor - truth) ** 2) < 0.2 * np.mean((raw - truth) ** 2)


def ds_from(rows, n_users, n_items):
    u, i, r = (np.array(c) for c in zip(*rows))
    return Dataset(u, i, r, np.zeros(len(u)), np.arange(n_users), np.arange(n_items),
                   (1.0, 5.0))


@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(1, 6), n_items=st.integers(3, 25),
       m=st.integers(1, 30), sampling=st.sampled_from(["uniform", "popularity"]),
       replace=st.booleans(), ties=st.booleans())
def test_ranks_match_a_plain_loop(seed, n_users, n_items, m, sampling, replace, ties):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items))
    rated = dense < 0.5
    test_cell = rated & (rng.random((n_users, n_items)) < 0.4)
    rows_tr = [(u, i, 3) for u, i in zip(*np.nonzero(rated & ~test_cell))]
    rows_te = [(u, i, int(rng.integers(1, 6))) for u, i in zip(*np.nonzero(test_cell))]
    if not rows_tr or not rows_te:
        return
    train, test = ds_from(rows_tr, n_users, n_items), ds_from(rows_te, n_users, n_items)
    scores = rng.integers(0, 3, (n_users, n_items)).astype(float) if ties else \
        rng.random((n_users, n_items))
    res = evaluate_sampled(lambda us: scores[us], train, test, k=3, n_negatives=m,
                           sampling=sampling, replace=replace, seed=seed % 1000)
    j = 0
    for u in range(n_users):
        relevant = [i for (uu, i, r) in rows_te if uu == u and r >= 4]
        if not relevant:
            assert u not in res.users
            continue
        pool = [i for i in range(n_items) if not rated[u, i]]
        for i in sorted(relevant):
            above = sum(scores[u, o] > scores[u, i] or (scores[u, o] == scores[u, i] and o < i)
                        for o in pool)
            assert res.pair_users[j] == u and res.full_ranks[j] == 1 + above
            assert 1 <= res.sampled_ranks[j] <= m + 1
            if not replace:  # a negative above is drawn at most once
                assert res.sampled_ranks[j] <= res.full_ranks[j]
            if not replace and m >= len(pool) and sampling == "uniform":  # all drawn
                assert res.sampled_ranks[j] == res.full_ranks[j]
            j += 1
    assert j == res.full_ranks.size
    again = evaluate_sampled(lambda us: scores[us], train, test, k=3, n_negatives=m,
                             sampling=sampling, replace=replace, seed=seed % 1000)
    np.testing.assert_array_equal(again.sampled_ranks, res.sampled_ranks)
    if sampling == "popularity":
        assert np.isnan(res.means["corrected_hit@3"])


def test_negatives_never_hold_rated_items_and_popularity_prefers_popular_ones():
    rng = np.random.default_rng(0)
    n_users, n_items = 20, 60
    rated = rng.random((n_users, n_items)) < 0.3
    test_cell = rated & (rng.random((n_users, n_items)) < 0.3)
    train = ds_from([(u, i, 3) for u, i in zip(*np.nonzero(rated & ~test_cell))], n_users,
                    n_items)
    test = ds_from([(u, i, 5) for u, i in zip(*np.nonzero(test_cell))], n_users, n_items)
    # The user's own rated items score highest, the relevant ones next: a rated item among
    # the negatives would push the relevant item below rank 1.
    scores = np.where(rated, 100.0, rng.random((n_users, n_items)))
    scores[test_cell] = 50.0
    res = evaluate_sampled(lambda us: scores[us], train, test, n_negatives=20, seed=1)
    assert (res.full_ranks == 1).all() and (res.sampled_ranks == 1).all()
    # Scores = popularity: popular negatives beat the items more often under popularity
    # sampling, so its sampled ranks are worse on average.
    pop_scores = np.broadcast_to(train.item_counts.astype(float), (n_users, n_items))
    uni = evaluate_sampled(lambda us: pop_scores[us], train, test, n_negatives=10, seed=2)
    pop = evaluate_sampled(lambda us: pop_scores[us], train, test, n_negatives=10, seed=2,
                           sampling="popularity")
    assert pop.sampled_ranks.mean() > uni.sampled_ranks.mean()
    np.testing.assert_array_equal(pop.full_ranks, uni.full_ranks)


def test_corrected_estimate_is_closer_to_full_than_raw_on_average():
    """On a catalogue of 400 items and 20 negatives, the raw sampled HR@10 is far above the
    full HR@10; the corrected one is much closer (Krichene & Rendle's point)."""
    rng = np.random.default_rng(3)
    n_users, n_items = 200, 400
    latent = rng.normal(size=(n_users, 4)) @ rng.normal(size=(4, n_items))
    held = latent.argmax(axis=1)
    test = ds_from([(u, int(i), 5) for u, i in enumerate(held)], n_users, n_items)
    train = ds_from([(0, (int(held[0]) + 1) % n_items, 3)], n_users, n_items)
    noisy = latent + rng.normal(scale=3.0, size=latent.shape)
    res = evaluate_sampled(lambda us: noisy[us], train, test, k=10, n_negatives=20, seed=0)
    full, raw, cor = (res.means[f"{v}_hit@10"] for v in ("full", "sampled", "corrected"))
    assert abs(cor - full) < 0.5 * abs(raw - full)


def test_bad_arguments_are_named():
    train = ds_from([(0, 0, 3)], 1, 3)
    test = ds_from([(0, 1, 5)], 1, 3)
    f = lambda us: np.zeros((len(us), 3))  # noqa: E731
    with pytest.raises(ValueError, match="sampling"):
        evaluate_sampled(f, train, test, sampling="pop")
    with pytest.raises(ValueError, match="gamma"):
        evaluate_sampled(f, train, test, gamma=2.0)
    with pytest.raises(ValueError, match="n_negatives"):
        evaluate_sampled(f, train, test, n_negatives=0)
    with pytest.raises(ValueError, match="shape"):
        evaluate_sampled(lambda us: np.zeros((len(us), 2)), train, test)
    with pytest.raises(ValueError, match="without replacement"):
        sampled_rank_law(3, 5)
    with pytest.raises(ValueError, match="unknown sampled metric"):
        rank_metric("map", [1], 3)
    assert math.isclose(evaluate_sampled(f, train, test).means["full_hit@10"], 1.0)
