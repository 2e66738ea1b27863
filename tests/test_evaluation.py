"""evaluate_topn against a brute-force per-user loop with full sorting; evaluate_ratings."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings, strategies as st

from recsys import metrics as M
from recsys.dataset import Dataset
from recsys.evaluation import evaluate_ratings, evaluate_topn, item_popularity


def make_split(seed: int, n_users: int, n_items: int, density: float, test_share: float):
    """Random ratings (1..5, half stars) split into train/test with shared id maps."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    u, i = np.nonzero(mask)
    r = rng.integers(2, 11, size=u.size) / 2.0
    in_test = rng.random(u.size) < test_share
    ids_u, ids_i = np.arange(100, 100 + n_users), np.arange(1000, 1000 + n_items)

    def part(sel):
        return Dataset(u[sel], i[sel], r[sel], None, ids_u, ids_i, rating_scale=(0.5, 5.0))

    return part(~in_test), part(in_test)


def brute_force(scores, train, test, k, threshold, graded):
    """One user at a time: exclude train items, full stable sort, metrics.py per user."""
    out = {"users": [], "rec": [], "precision": [], "recall": [], "ndcg": [], "map": [],
           "mrr": [], "hit": []}
    for u in range(train.n_users):
        t_items, t_ratings = test.user_items(u)
        sel = t_ratings >= threshold
        relevant, gains = t_items[sel].astype(np.int64), t_ratings[sel].astype(np.float64)
        if relevant.size == 0:
            continue
        row = scores[u].astype(np.float64).copy()
        row[train.user_items(u)[0]] = -np.inf
        order = np.argsort(-row, kind="stable")  # ties: lower item index first
        order = [j for j in order if np.isfinite(row[j]) or row[j] == np.inf][:k]
        rec = np.array(order + [-1] * (k - len(order)), dtype=np.int64)
        out["users"].append(u)
        out["rec"].append(rec)
        out["precision"].append(M.precision_at_k(rec, relevant, k))
        out["recall"].append(M.recall_at_k(rec, relevant, k))
        out["ndcg"].append(M.ndcg_at_k(rec, relevant, k, gains=gains if graded else None))
        out["map"].append(M.average_precision_at_k(rec, relevant, k))
        out["mrr"].append(M.reciprocal_rank(rec, relevant, k))
        out["hit"].append(M.hit_rate_at_k(rec, relevant, k))
    return out


def check_against_brute_force(scores, train, test, k, threshold, graded, batch_size):
    before = scores.copy()
    res = evaluate_topn(lambda users: scores[users], train, test, k=k,
                        relevance_threshold=threshold, graded=graded, batch_size=batch_size)
    # The scoring function's array is never written to.
    np.testing.assert_array_equal(scores, before)
    ref = brute_force(scores, train, test, k, threshold, graded)
    np.testing.assert_array_equal(res.users, ref["users"])
    np.testing.assert_array_equal(res.recommended.reshape(-1, k),
                                  np.array(ref["rec"], dtype=np.int64).reshape(-1, k))
    for name in ("precision", "recall", "ndcg", "map", "hit"):
        np.testing.assert_allclose(res.per_user[f"{name}@{k}"], ref[name], rtol=1e-12,
                                   atol=1e-12)
    np.testing.assert_allclose(res.per_user["mrr"], ref["mrr"], rtol=1e-12, atol=1e-12)
    # Training items never come back.
    for row, u in zip(res.recommended, res.users):
        assert not set(row.tolist()) & set(train.user_items(u)[0].tolist())
    if res.users.size:
        assert res.coverage == pytest.approx(M.catalog_coverage(res.recommended, train.n_items))
        nov = M.novelty(res.recommended, item_popularity(train), n_users=train.n_users)
        assert (math.isnan(nov) and math.isnan(res.novelty)) or res.novelty == pytest.approx(nov)
        mean, lo, hi = M.mean_ci(ref["ndcg"])
        assert res.means[f"ndcg@{k}"] == pytest.approx(mean)
    return res


@settings(deadline=None, max_examples=60)
@given(seed=st.integers(0, 2**32 - 1), n_users=st.integers(1, 25), n_items=st.integers(1, 30),
       density=st.sampled_from([0.1, 0.3, 0.8]), k=st.integers(1, 12),
       n_levels=st.sampled_from([0, 2, 5]), graded=st.booleans(),
       batch_size=st.sampled_from([1, 3, 1024]), dtype=st.sampled_from([np.float32, np.float64]),
       threshold=st.sampled_from([0.5, 3.0, 4.5]))
def test_evaluate_topn_matches_brute_force(seed, n_users, n_items, density, k, n_levels, graded,
                                           batch_size, dtype, threshold):
    train, test = make_split(seed, n_users, n_items, density, 0.4)
    rng = np.random.default_rng(seed + 1)
    # Few score levels make ties common; NaN marks a few items as not recommendable.
    scores = (rng.integers(0, n_levels, size=(n_users, n_items)) if n_levels
              else rng.standard_normal((n_users, n_items))).astype(dtype)
    scores[rng.random(scores.shape) < 0.05] = np.nan
    check_against_brute_force(scores, train, test, k, threshold, graded, batch_size)


def test_real_ml100k_fold_matches_brute_force(ml100k_dir):
    cols = ["user", "item", "rating", "timestamp"]
    base = pd.read_csv(ml100k_dir / "u1.base", sep="\t", names=cols)
    test_frame = pd.read_csv(ml100k_dir / "u1.test", sep="\t", names=cols)
    full = Dataset.from_frame(pd.concat([base, test_frame]))
    train = Dataset.from_frame(base, user_ids=full.user_ids, item_ids=full.item_ids)
    test = Dataset.from_frame(test_frame, user_ids=full.user_ids, item_ids=full.item_ids)
    assert (train.n_users, train.n_items) == (943, 1682)
    # Popularity scores: massive ties among rarely rated items.
    pop = np.broadcast_to(train.item_counts.astype(np.float32), (943, 1682))
    res = check_against_brute_force(np.ascontiguousarray(pop), train, test, 10, 4.0, False, 256)
    # Popularity on u1 is a weak but real baseline: far above chance, far below perfect.
    assert 0.05 < res.means["precision@10"] < 0.5
    assert res.users.size > 400


def test_worked_example_and_result_fields():
    # 2 users x 5 items. User 0 rated 0 in train; test: item 1 (5 stars), item 3 (2 stars).
    # User 1 has only a low test rating and is skipped.
    train = Dataset([0, 1], [0, 4], [4.0, 3.0], None, np.array([7, 8]), np.arange(5))
    test = Dataset([0, 0, 1], [1, 3, 2], [5.0, 2.0, 3.0], None, np.array([7, 8]), np.arange(5))
    scores = np.array([[9.0, 1.0, 5.0, 8.0, 0.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    res = evaluate_topn(lambda u: scores[u], train, test, k=3)
    np.testing.assert_array_equal(res.users, [0])
    np.testing.assert_array_equal(res.recommended, [[3, 2, 1]])  # item 0 is a train item
    assert res.per_user["precision@3"][0] == pytest.approx(1 / 3)
    assert res.per_user["recall@3"][0] == 1.0
    assert res.per_user["mrr"][0] == pytest.approx(1 / 3)
    assert res.per_user["ndcg@3"][0] == pytest.approx(1 / math.log2(4))
    assert set(res.per_user) == {"precision@3", "recall@3", "ndcg@3", "map@3", "mrr", "hit@3"}
    assert math.isnan(res.ci["mrr"][0])  # one user: no interval
    assert res.coverage == pytest.approx(3 / 5)
    assert res.by_user("mrr") == {0: pytest.approx(1 / 3)}
    # Items nobody rated in train count with p = 1 / n_users.
    assert res.novelty == pytest.approx(1.0)
    # "all" keeps train items eligible; a mask restricts the candidates.
    res_all = evaluate_topn(lambda u: scores[u], train, test, k=3, candidates="all")
    np.testing.assert_array_equal(res_all.recommended, [[0, 3, 2]])
    mask = np.array([True, True, False, False, True])
    res_mask = evaluate_topn(lambda u: scores[u], train, test, k=3, candidates=mask)
    np.testing.assert_array_equal(res_mask.recommended, [[1, 4, -1]])
    # relevance_threshold=None: every test item is relevant, user 1 is evaluated too.
    res_none = evaluate_topn(lambda u: scores[u], train, test, k=3, relevance_threshold=None,
                             metrics=("recall",))
    np.testing.assert_array_equal(res_none.users, [0, 1])
    assert list(res_none.per_user) == ["recall@3"]
    np.testing.assert_allclose(res_none.per_user["recall@3"], [1.0, 1.0])


def test_users_argument_and_no_evaluable_user():
    train, test = make_split(3, 10, 12, 0.4, 0.5)
    scores = np.random.default_rng(0).random((10, 12))
    full = evaluate_topn(lambda u: scores[u], train, test, k=4)
    pick = full.users[::2][::-1].copy()
    part = evaluate_topn(lambda u: scores[u], train, test, k=4, users=pick)
    np.testing.assert_array_equal(part.users, pick)
    where = {u: n for n, u in enumerate(full.users)}
    np.testing.assert_allclose(part.per_user["ndcg@4"],
                               full.per_user["ndcg@4"][[where[u] for u in pick]])
    empty = evaluate_topn(lambda u: scores[u], train, test, k=4, relevance_threshold=6.0)
    assert empty.users.size == 0 and empty.recommended.shape == (0, 4)
    assert math.isnan(empty.means["precision@4"]) and empty.coverage == 0.0


def test_bad_arguments_are_named():
    train, test = make_split(1, 4, 5, 0.5, 0.5)
    ok = lambda u: np.zeros((len(u), 5))  # noqa: E731
    with pytest.raises(ValueError, match="unknown metric"):
        evaluate_topn(ok, train, test, metrics=("auc",))
    with pytest.raises(ValueError, match=r"score_fn returned shape \(\d+, 4\)"):
        evaluate_topn(lambda u: np.zeros((len(u), 4)), train, test, relevance_threshold=None)
    with pytest.raises(ValueError, match="out of range"):
        evaluate_topn(ok, train, test, users=[9])
    with pytest.raises(ValueError, match="more than once"):
        evaluate_topn(ok, train, test, users=[0, 0])
    with pytest.raises(ValueError, match="candidates"):
        evaluate_topn(ok, train, test, candidates="popular")
    other = Dataset([0], [0], [1.0], None, np.arange(4), np.arange(6))
    with pytest.raises(ValueError, match="do not share id maps"):
        evaluate_topn(ok, train, other)
    with pytest.raises(ValueError, match="k must be"):
        evaluate_topn(ok, train, test, k=0)


def test_evaluate_ratings():
    train, test = make_split(5, 8, 9, 0.6, 0.5)
    rng = np.random.default_rng(1)
    noise = rng.normal(size=test.n_ratings)
    pred_of = dict(zip(zip(test.users.tolist(), test.items.tolist()), test.ratings + noise))
    res = evaluate_ratings(lambda u, i: np.array([pred_of[(a, b)] for a, b in zip(u, i)]), test)
    assert res.rmse == pytest.approx(math.sqrt(np.mean(noise ** 2)))
    assert res.mae == pytest.approx(np.mean(np.abs(noise)))
    np.testing.assert_array_equal(res.users, np.unique(test.users))
    for n, u in enumerate(res.users):
        e = noise[test.users == u]
        assert res.per_user_rmse[n] == pytest.approx(math.sqrt(np.mean(e ** 2)))
        assert res.per_user_mae[n] == pytest.approx(np.mean(np.abs(e)))
    np.testing.assert_allclose(res.predictions, test.ratings + noise)
    assert res.by_user("mae")[int(res.users[0])] == pytest.approx(res.per_user_mae[0])

    def nan_at_first(u, i):
        p = np.full(len(u), 3.0)
        p[0] = np.nan
        return p

    with pytest.raises(ValueError, match=f"user {test.user_ids[test.users[0]]}, item "):
        evaluate_ratings(nan_at_first, test)
    with pytest.raises(ValueError, match="shape"):
        evaluate_ratings(lambda u, i: np.zeros(1), test)
    with pytest.raises(ValueError, match="no ratings"):
        evaluate_ratings(lambda u, i: u, test.subset(np.zeros(test.n_ratings, bool)))


def test_rating_predictor_passes_the_test_timestamps_to_a_time_aware_model():
    from model_conformance import small_ratings
    from recsys.evaluation import rating_predictor
    from recsys.models import Baseline
    from recsys.models.timesvdpp import TimeBaseline

    data = small_ratings()
    plain = Baseline().fit(data)
    assert rating_predictor(plain, data) == plain.predict
    model = TimeBaseline(n_epochs=2, seed=0).fit(data)
    got = rating_predictor(model, data)(data.users, data.items)
    want = model.predict(data.users, data.items, times=data.timestamps)
    np.testing.assert_array_equal(got, want)
