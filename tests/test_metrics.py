"""Metrics against plain-Python references written the slow obvious way, plus edge cases."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats
from hypothesis import given, settings, strategies as st

from recsys import metrics as M


# ---------------------------------------------------------------------- references
def ref_precision(ranked, relevant, k):
    top = list(ranked)[:k]
    return sum(1 for i in top if i in set(relevant)) / k


def ref_recall(ranked, relevant, k):
    if not relevant:
        return 0.0
    return sum(1 for i in list(ranked)[:k] if i in set(relevant)) / len(relevant)


def ref_hit(ranked, relevant, k):
    return 1.0 if any(i in set(relevant) for i in list(ranked)[:k]) else 0.0


def ref_ndcg(ranked, relevant, k, gains=None):
    if gains is None:
        gains = [1.0] * len(relevant)
    gain = dict(zip(relevant, gains))
    dcg = 0.0
    for pos, i in enumerate(list(ranked)[:k]):
        dcg += gain.get(i, 0.0) / math.log2(pos + 2)
    ideal = sorted(gains, reverse=True)[:k]
    idcg = sum(g / math.log2(pos + 2) for pos, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def ref_ap(ranked, relevant, k):
    if not relevant:
        return 0.0
    hits, total = 0, 0.0
    for pos, i in enumerate(list(ranked)[:k]):
        if i in set(relevant):
            hits += 1
            total += hits / (pos + 1)
    return total / min(len(relevant), k)


def ref_rr(ranked, relevant, k=None):
    lst = list(ranked) if k is None else list(ranked)[:k]
    for pos, i in enumerate(lst):
        if i in set(relevant):
            return 1.0 / (pos + 1)
    return 0.0


def ref_coverage(recommended, n_items):
    seen = set()
    for row in recommended:
        for i in row:
            if i >= 0:
                seen.add(int(i))
    return len(seen) / n_items


def ref_novelty(recommended, pop, n_users):
    vals = []
    for row in recommended:
        for i in row:
            if i >= 0:
                p = pop[i] if pop[i] > 0 else 1.0 / n_users
                vals.append(-math.log2(p))
    return sum(vals) / len(vals) if vals else float("nan")


def ref_ild(recommended, sim):
    per_list = []
    for row in recommended:
        items = [int(i) for i in row if i >= 0]
        pairs = [(a, b) for a in items for b in items if a != b]
        if pairs:
            per_list.append(sum(1.0 - sim(a, b) for a, b in pairs) / len(pairs))
    return sum(per_list) / len(per_list) if per_list else float("nan")


# ---------------------------------------------------------------------- random cases
@st.composite
def ranking_case(draw):
    """A ranked list (with optional -1 padding at the end), relevant items, k and gains."""
    seed = draw(st.integers(0, 2**32 - 1))
    n_items = draw(st.integers(1, 30))
    n_ranked = draw(st.integers(0, n_items))
    n_pad = draw(st.integers(0, 5))
    n_rel = draw(st.integers(0, n_items))
    k = draw(st.integers(1, 40))
    rng = np.random.default_rng(seed)
    ranked = np.concatenate([rng.permutation(n_items)[:n_ranked],
                             np.full(n_pad, -1)]).astype(np.int64)
    relevant = rng.permutation(n_items)[:n_rel].astype(np.int64)
    # Integer-valued gains make ties in the ideal ordering common.
    gains = rng.integers(0, 4, size=n_rel).astype(np.float64)
    return ranked, relevant, k, gains


def close(a, b):
    return a == pytest.approx(b, rel=1e-12, abs=1e-12)


@settings(deadline=None, max_examples=300)
@given(ranking_case())
def test_ranking_metrics_match_reference(case):
    ranked, relevant, k, gains = case
    rel = relevant.tolist()
    assert close(M.precision_at_k(ranked, relevant, k), ref_precision(ranked, rel, k))
    assert close(M.recall_at_k(ranked, relevant, k), ref_recall(ranked, rel, k))
    assert close(M.hit_rate_at_k(ranked, relevant, k), ref_hit(ranked, rel, k))
    assert close(M.ndcg_at_k(ranked, relevant, k), ref_ndcg(ranked, rel, k))
    assert close(M.ndcg_at_k(ranked, relevant, k, gains=gains),
                 ref_ndcg(ranked, rel, k, gains.tolist()))
    assert close(M.average_precision_at_k(ranked, relevant, k), ref_ap(ranked, rel, k))
    assert close(M.reciprocal_rank(ranked, relevant), ref_rr(ranked, rel))
    assert close(M.reciprocal_rank(ranked, relevant, k), ref_rr(ranked, rel, k))
    for value in (M.precision_at_k(ranked, relevant, k), M.recall_at_k(ranked, relevant, k),
                  M.ndcg_at_k(ranked, relevant, k, gains=gains),
                  M.average_precision_at_k(ranked, relevant, k)):
        assert 0.0 <= value <= 1.0 + 1e-12


@settings(deadline=None, max_examples=150)
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(0, 8), n_items=st.integers(1, 25),
       k=st.integers(1, 8), zero_pop=st.booleans())
def test_list_metrics_match_reference(seed, n_users, n_items, k, zero_pop):
    rng = np.random.default_rng(seed)
    rec = np.full((n_users, k), -1, dtype=np.int64)
    for u in range(n_users):
        m = rng.integers(0, min(k, n_items) + 1)
        rec[u, :m] = rng.permutation(n_items)[:m]
    counts = rng.integers(0 if zero_pop else 1, 20, size=n_items)
    pop = counts / 20.0
    dense = rng.random((n_items, n_items))
    sparse = sp.random(n_items, n_items, density=0.3, format="csr", random_state=seed % 2**31)

    assert close(M.catalog_coverage(rec, n_items), ref_coverage(rec, n_items))
    nov, ref = M.novelty(rec, pop, n_users=20), ref_novelty(rec, pop, 20)
    assert (math.isnan(nov) and math.isnan(ref)) or close(nov, ref)
    for sim, f in ((dense, lambda a, b: dense[a, b]),
                   (sparse, lambda a, b: sparse[a, b]),
                   (lambda a, b: dense[a, b], lambda a, b: dense[a, b])):
        got, want = M.intra_list_diversity(rec, sim), ref_ild(rec, f)
        assert (math.isnan(got) and math.isnan(want)) or close(got, want)


# ---------------------------------------------------------------------- explicit edge cases
def test_worked_example():
    ranked, relevant = [3, 1, 7, 5], [1, 5, 9]
    assert M.precision_at_k(ranked, relevant, 4) == pytest.approx(0.5)
    assert M.recall_at_k(ranked, relevant, 4) == pytest.approx(2 / 3)
    assert M.hit_rate_at_k(ranked, relevant, 1) == 0.0
    assert M.reciprocal_rank(ranked, relevant) == pytest.approx(0.5)
    assert M.average_precision_at_k(ranked, relevant, 4) == pytest.approx((1 / 2 + 2 / 4) / 3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3) + 1 / math.log2(4)
    assert M.ndcg_at_k(ranked, relevant, 4) == pytest.approx(dcg / idcg)


def test_no_relevant_items_give_zero():
    for f in (M.precision_at_k, M.recall_at_k, M.hit_rate_at_k, M.ndcg_at_k,
              M.average_precision_at_k, M.reciprocal_rank):
        assert f([1, 2, 3], [], 3) == 0.0
    assert M.ndcg_at_k([1, 2], [1, 2], 2, gains=[0.0, 0.0]) == 0.0


def test_k_larger_than_list_keeps_k_in_precision_denominator():
    assert M.precision_at_k([4, 2], [2, 4], 5) == pytest.approx(2 / 5)
    assert M.recall_at_k([4, 2], [2, 4], 5) == 1.0
    assert M.ndcg_at_k([4, 2], [2, 4], 5) == pytest.approx(1.0)
    assert M.average_precision_at_k([4, 2], [2, 4], 5) == 1.0
    # More relevant items than slots: a perfect list still reaches 1.0 in NDCG and AP.
    assert M.ndcg_at_k([0, 1], [0, 1, 2, 3], 2) == pytest.approx(1.0)
    assert M.average_precision_at_k([0, 1], [0, 1, 2, 3], 2) == pytest.approx(1.0)
    assert M.recall_at_k([0, 1], [0, 1, 2, 3], 2) == pytest.approx(0.5)


def test_padding_is_an_empty_slot():
    assert M.precision_at_k([2, -1, -1], [2], 3) == pytest.approx(1 / 3)
    assert M.reciprocal_rank([-1, -1], [0]) == 0.0
    assert M.hit_rate_at_k(np.full(4, -1), [0, 1], 4) == 0.0
    # A padded slot keeps its discount.
    assert M.ndcg_at_k([-1, 3], [3], 2) == pytest.approx(1 / math.log2(3))


def test_graded_ndcg_ties_and_order():
    # Ties among gains: any order of the tied items in the ideal list gives the same IDCG.
    assert M.ndcg_at_k([1, 0], [0, 1], 2, gains=[2.0, 2.0]) == pytest.approx(1.0)
    # Putting the high-gain item second costs.
    worse = M.ndcg_at_k([1, 0], [0, 1], 2, gains=[3.0, 1.0])
    best = M.ndcg_at_k([0, 1], [0, 1], 2, gains=[3.0, 1.0])
    assert best == pytest.approx(1.0) and worse < best


def test_duplicates_and_bad_inputs_rejected():
    with pytest.raises(ValueError, match="item 3 more than once"):
        M.precision_at_k([3, 1, 3], [1], 3)
    with pytest.raises(ValueError, match="relevant lists item 1 more than once"):
        M.recall_at_k([3, 1], [1, 1], 2)
    with pytest.raises(ValueError, match="k must be"):
        M.ndcg_at_k([1], [1], 0)
    with pytest.raises(ValueError, match="k must be"):
        M.hit_rate_at_k([1], [1], 2.5)
    with pytest.raises(ValueError, match="-1 pads"):
        M.precision_at_k([-2, 1], [1], 2)
    with pytest.raises(ValueError, match="integer"):
        M.precision_at_k([1.5], [1], 1)
    with pytest.raises(ValueError, match="align"):
        M.ndcg_at_k([1], [1, 2], 1, gains=[1.0])
    with pytest.raises(ValueError, match=">= 0"):
        M.ndcg_at_k([1], [1], 1, gains=[-1.0])
    with pytest.raises(ValueError, match="list 1 of recommended holds item 2"):
        M.catalog_coverage([[0, 1], [2, 2]], 3)
    with pytest.raises(ValueError, match="only 3 items"):
        M.catalog_coverage([[0, 3]], 3)


def test_rmse_mae():
    assert M.rmse([1, 2, 3], [1, 2, 5]) == pytest.approx(math.sqrt(4 / 3))
    assert M.mae([1, 2, 3], [1, 2, 5]) == pytest.approx(2 / 3)
    assert M.rmse([3.5], [3.5]) == 0.0
    with pytest.raises(ValueError, match="same length"):
        M.rmse([1, 2], [1])
    with pytest.raises(ValueError, match="empty"):
        M.mae([], [])
    with pytest.raises(ValueError, match="y_pred has a non-finite value nan at position 1"):
        M.rmse([1, 2], [1, np.nan])


@settings(deadline=None, max_examples=100)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 50))
def test_rmse_mae_match_reference(seed, n):
    rng = np.random.default_rng(seed)
    t, p = rng.uniform(1, 5, n), rng.uniform(1, 5, n)
    ref_rmse = math.sqrt(sum((a - b) ** 2 for a, b in zip(t.tolist(), p.tolist())) / n)
    ref_mae = sum(abs(a - b) for a, b in zip(t.tolist(), p.tolist())) / n
    assert M.rmse(t, p) == pytest.approx(ref_rmse, rel=1e-12)
    assert M.mae(t, p) == pytest.approx(ref_mae, rel=1e-12)


def test_coverage_novelty_diversity_edge_cases():
    assert M.catalog_coverage(np.empty((0, 5), dtype=np.int64), 10) == 0.0
    assert M.catalog_coverage([[-1, -1]], 10) == 0.0
    assert M.catalog_coverage([[0, 1], [1, 2]], 4) == pytest.approx(3 / 4)
    assert math.isnan(M.novelty([[-1, -1]], [0.5, 0.5]))
    assert M.novelty([[0, 1]], [0.5, 0.25]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="item 1 has popularity 0; pass n_users"):
        M.novelty([[0, 1]], [0.5, 0.0])
    assert M.novelty([[1]], [0.5, 0.0], n_users=8) == pytest.approx(3.0)
    with pytest.raises(ValueError, match=r"shares in \[0, 1\]"):
        M.novelty([[0]], [2.0])
    sim = np.array([[1.0, 0.5, 0.0], [0.5, 1.0, 1.0], [0.0, 1.0, 1.0]])
    # Lists with fewer than two items are left out; all-short lists give NaN.
    assert M.intra_list_diversity([[0, 1, 2], [0, -1, -1]], sim) == pytest.approx(
        (0.5 + 1.0 + 0.0) / 3)
    assert math.isnan(M.intra_list_diversity([[0, -1], [2, -1]], sim))
    with pytest.raises(ValueError, match="square"):
        M.intra_list_diversity([[0, 1]], np.ones((2, 3)))
    nan_sim = sim.copy()
    nan_sim[0, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        M.intra_list_diversity([[0, 1]], nan_sim)
    # Sparse: a missing entry is similarity 0.
    assert M.intra_list_diversity([[0, 2]], sp.csr_matrix(np.eye(3))) == pytest.approx(1.0)


@settings(deadline=None, max_examples=100)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40),
       confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]))
def test_mean_ci_matches_reference(seed, n, confidence):
    v = np.random.default_rng(seed).normal(size=n).tolist()
    mean = statistics.fmean(v)
    half = scipy.stats.t.ppf((1 + confidence) / 2, n - 1) * statistics.stdev(v) / math.sqrt(n)
    got = M.mean_ci(v, confidence)
    assert got == pytest.approx((mean, mean - half, mean + half), rel=1e-9, abs=1e-12)


def test_mean_ci_edge_cases():
    m, lo, hi = M.mean_ci([0.3])
    assert m == 0.3 and math.isnan(lo) and math.isnan(hi)
    assert all(math.isnan(x) for x in M.mean_ci([]))
    assert M.mean_ci([2.0, 2.0, 2.0]) == (2.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="non-finite"):
        M.mean_ci([1.0, np.nan])
    with pytest.raises(ValueError, match="confidence"):
        M.mean_ci([1.0, 2.0], confidence=95)
