"""Beyond-accuracy metrics against slow plain-Python definitions (hypothesis draws sizes
and a seed; NumPy builds the data), plus their edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings, strategies as st

from recsys.beyond_accuracy import (average_recommendation_popularity, calibration_kl,
                                    exposure_gini, feature_ild, long_tail_items,
                                    long_tail_share, popularity_baseline, serendipity)
from recsys.dataset import Dataset

sizes = dict(seed=st.integers(0, 2**32 - 1), n_lists=st.integers(1, 8),
             n_items=st.integers(2, 15), k=st.integers(1, 6))


def make_lists(rng, n_lists, n_items, k) -> np.ndarray:
    """Distinct items per row, best first, some rows padded with -1."""
    k = min(k, n_items)
    rec = np.stack([rng.permutation(n_items)[:k] for _ in range(n_lists)])
    pad = rng.integers(0, k + 1, n_lists)
    for r, p in enumerate(pad):
        if p < k and rng.random() < 0.3:
            rec[r, p:] = -1
    return rec


def items_of(row):
    return [int(i) for i in row if i >= 0]


# ---------------------------------------------------------------------- diversity
@settings(deadline=None, max_examples=60)
@given(**sizes, n_features=st.integers(1, 6), binary=st.booleans())
def test_feature_ild_matches_pairwise_loop(seed, n_lists, n_items, k, n_features, binary):
    rng = np.random.default_rng(seed)
    rec = make_lists(rng, n_lists, n_items, k)
    x = rng.random((n_items, n_features))
    if binary:
        x = (x < 0.4).astype(float)  # genre-like, zero rows included
    x[rng.random(n_items) < 0.2] = 0.0
    got = feature_ild(rec, sp.csr_matrix(x) if binary else x)
    for r, row in enumerate(rec):
        items = items_of(row)
        if len(items) < 2:
            assert math.isnan(got[r])
            continue
        total, count = 0.0, 0
        for a in items:
            for b in items:
                if a == b:
                    continue
                na, nb = math.sqrt(sum(v * v for v in x[a])), math.sqrt(sum(v * v for v in x[b]))
                cos = 0.0 if na == 0 or nb == 0 else sum(p * q for p, q in zip(x[a], x[b])) / (na * nb)
                total += 1.0 - cos
                count += 1
        assert got[r] == pytest.approx(total / count, abs=1e-9)


def test_feature_ild_extremes():
    same = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert feature_ild([[0, 1]], same)[0] == pytest.approx(0.0)
    assert feature_ild([[0, 2]], same)[0] == pytest.approx(1.0)
    with pytest.raises(ValueError, match="more than once"):
        feature_ild([[0, 0]], same)
    with pytest.raises(ValueError, match="only 3 items"):
        feature_ild([[0, 5]], same)


# ---------------------------------------------------------------------- popularity bias
@settings(deadline=None, max_examples=60)
@given(**sizes, head_share=st.floats(0.05, 0.95))
def test_popularity_bias_matches_definitions(seed, n_lists, n_items, k, head_share):
    rng = np.random.default_rng(seed)
    rec = make_lists(rng, n_lists, n_items, k)
    pop = rng.integers(0, 5, n_items).astype(float)
    arp = average_recommendation_popularity(rec, pop)
    # The head: the ceil(share * n) most popular, ties by index.
    ranked = sorted(range(n_items), key=lambda i: (-pop[i], i))
    head = set(ranked[:math.ceil(head_share * n_items)])
    assert set(np.flatnonzero(~long_tail_items(pop, head_share)).tolist()) == head
    aplt = long_tail_share(rec, pop, head_share)
    for r, row in enumerate(rec):
        items = items_of(row)
        if not items:
            assert math.isnan(arp[r]) and math.isnan(aplt[r])
            continue
        assert arp[r] == pytest.approx(sum(pop[i] for i in items) / len(items))
        assert aplt[r] == pytest.approx(sum(i not in head for i in items) / len(items))
    counts = [sum(i in items_of(row) for row in rec) for i in range(n_items)]
    total = sum(counts)
    gini = exposure_gini(rec, n_items)
    if total == 0:
        assert math.isnan(gini)
    else:
        mad = sum(abs(a - b) for a in counts for b in counts)
        assert gini == pytest.approx(mad / (2 * n_items * total), abs=1e-12)


def test_gini_extremes_and_errors():
    assert exposure_gini(np.array([[0, 1], [2, 3]]), 4) == pytest.approx(0.0)
    # One item takes every slot of 3 lists in a catalogue of 4: G = (n - 1) / n.
    assert exposure_gini(np.array([[0], [0], [0]]), 4) == pytest.approx(0.75)
    with pytest.raises(ValueError, match="n_items"):
        exposure_gini(np.array([[0]]), 0)
    with pytest.raises(ValueError, match="head_share"):
        long_tail_items([1, 2], 1.0)
    with pytest.raises(ValueError, match="item_popularity"):
        average_recommendation_popularity([[0]], [-1.0])


# ---------------------------------------------------------------------- serendipity
@settings(deadline=None, max_examples=60)
@given(**sizes)
def test_serendipity_matches_definition(seed, n_lists, n_items, k):
    rng = np.random.default_rng(seed)
    rec = make_lists(rng, n_lists, n_items, k)
    exp = make_lists(rng, n_lists, n_items, k)
    rel = rng.random((n_lists, n_items)) < 0.4
    got = serendipity(rec, sp.csr_matrix(rel), exp)
    for r in range(n_lists):
        items = items_of(rec[r])
        if not items:
            assert math.isnan(got[r])
            continue
        good = [i for i in items if rel[r, i] and i not in items_of(exp[r])]
        assert got[r] == pytest.approx(len(good) / len(items))


def test_popularity_baseline_and_serendipity_of_the_baseline_itself():
    # item 0 most rated, then 1, 2; user 0 rated item 0 in train.
    ds = Dataset([0, 1, 2, 1, 2, 2], [0, 0, 0, 1, 1, 2], [5] * 6, [0] * 6, np.arange(3),
                 np.arange(4), (1.0, 5.0))
    base = popularity_baseline(ds, np.array([0, 1]), 2)
    np.testing.assert_array_equal(base, [[1, 2], [2, 3]])
    rel = np.ones((2, 4), dtype=bool)
    np.testing.assert_allclose(serendipity(base, rel, base), [0.0, 0.0])
    mask = np.array([True, True, False, True])
    np.testing.assert_array_equal(popularity_baseline(ds, np.array([0]), 2, mask), [[1, 3]])


# ---------------------------------------------------------------------- calibration
@settings(deadline=None, max_examples=60)
@given(**sizes, n_genres=st.integers(1, 5), alpha=st.floats(0.001, 0.5))
def test_calibration_kl_matches_steck(seed, n_lists, n_items, k, n_genres, alpha):
    rng = np.random.default_rng(seed)
    rec = make_lists(rng, n_lists, n_items, k)
    genres = (rng.random((n_items, n_genres)) < 0.5).astype(float)
    hist = rng.random((n_lists, n_items)) < 0.4
    got = calibration_kl(rec, sp.csr_matrix(hist), genres, alpha)

    def dist(items):
        mass = [0.0] * n_genres
        for i in items:
            s = sum(genres[i])
            for g in range(n_genres):
                if s:
                    mass[g] += genres[i][g] / s
        tot = sum(mass)
        return None if tot == 0 else [m / tot for m in mass]

    for r in range(n_lists):
        p = dist([i for i in range(n_items) if hist[r, i]])
        if p is None:
            assert math.isnan(got[r])
            continue
        q = dist(items_of(rec[r])) or [0.0] * n_genres
        kl = sum(p[g] * math.log(p[g] / ((1 - alpha) * q[g] + alpha * p[g]))
                 for g in range(n_genres) if p[g] > 0)
        assert got[r] == pytest.approx(kl, abs=1e-9)


def test_calibration_perfect_list_is_zero_and_bad_alpha():
    genres = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], dtype=float)
    hist = np.array([[True, True, False, False]])
    assert calibration_kl(np.array([[2, 3]]), hist, genres)[0] == pytest.approx(0.0)
    assert calibration_kl(np.array([[2, -1]]), hist, genres)[0] > 0.5
    with pytest.raises(ValueError, match="alpha"):
        calibration_kl(np.array([[2, 3]]), hist, genres, alpha=0)


def test_feature_ild_agrees_with_metrics_intra_list_diversity():
    """The per-list values average to recsys.metrics.intra_list_diversity with the cosine
    similarity matrix of the same vectors."""
    from recsys.metrics import intra_list_diversity

    rng = np.random.default_rng(7)
    x = (rng.random((30, 6)) < 0.4).astype(float)
    x[0] = 0.0
    rec = make_lists(rng, 12, 30, 5)
    norms = np.linalg.norm(x, axis=1)
    unit = x / np.where(norms > 0, norms, 1.0)[:, None]
    per_list = feature_ild(rec, x)
    assert np.nanmean(per_list) == pytest.approx(intra_list_diversity(rec, unit @ unit.T))
