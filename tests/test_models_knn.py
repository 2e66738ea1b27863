"""ItemKNN and UserKNN: the conformance suite, Surprise's KNN algorithms as oracles for the
rating modes, a dense NumPy reference for the top-N sum mode, and the optional hooks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model_conformance import ModelConformance, small_ratings
from recsys.similarity import similarity
from recsys.models.baseline import Baseline
from recsys.models.knn import ItemKNN, UserKNN

WEIGHTED_VARIED = {
    "k": 3, "min_k": 4, "similarity": "cosine", "centering": "mean", "shrinkage": 0.0,
    "min_support": 5, "max_neighbors": 3, "baseline_reg_user": 0.0, "baseline_reg_item": 0.0,
    "baseline_epochs": 1, "aggregate": "sum",
}
SUM_VARIED = {"k": 2, "similarity": "pearson", "shrinkage": 10.0, "min_support": 9}


# ---------------------------------------------------------------------------------- conformance
class TestItemKNNBaseline(ModelConformance):
    varied_params = WEIGHTED_VARIED
    expected_rmse = (0.781, 0.812)  # measured 0.8014

    def make_model(self, **overrides):
        return ItemKNN(**overrides)


class TestItemKNNMeans(ModelConformance):
    varied_params = {"centering": "none", "similarity": "msd", "k": 2}
    expected_rmse = (0.806, 0.837)  # measured 0.8263

    def make_model(self, **overrides):
        return ItemKNN(**{"centering": "mean", "similarity": "pearson", **overrides})


class TestItemKNNSum(ModelConformance):
    varied_params = SUM_VARIED
    expected_ndcg = (0.248, 0.296)  # measured 0.2641

    def make_model(self, **overrides):
        return ItemKNN(**{"aggregate": "sum", "similarity": "cosine", "k": 5, **overrides})


class TestUserKNNBaseline(ModelConformance):
    varied_params = {k: v for k, v in WEIGHTED_VARIED.items() if k != "centering"} | {
        "centering": "none"}
    expected_rmse = (0.791, 0.822)  # measured 0.8112

    def make_model(self, **overrides):
        return UserKNN(**overrides)


class TestUserKNNSum(ModelConformance):
    varied_params = SUM_VARIED
    expected_ndcg = (0.183, 0.219)  # measured 0.1949

    def make_model(self, **overrides):
        return UserKNN(**{"aggregate": "sum", "similarity": "cosine", "k": 5, **overrides})


# ---------------------------------------------------------------------------------- oracles
def split(seed: int = 0, test_fraction: float = 0.2, continuous: bool = False):
    data = small_ratings(seed, n_users=50, n_items=35)
    rng = np.random.default_rng(seed)
    if continuous:  # distinct similarities: ties at the k-th neighbour become rare
        data = data.with_ratings(data.ratings + rng.uniform(-0.2, 0.2, data.n_ratings))
    test = rng.random(data.n_ratings) < test_fraction
    return data.subset(~test), data.subset(test)


def surprise_predictions(algo_name, sim_options, train, test, k, min_k):
    import surprise

    frame = pd.DataFrame({"u": train.user_ids[train.users], "i": train.item_ids[train.items],
                          "r": train.ratings.astype(np.float64)})
    trainset = surprise.Dataset.load_from_df(
        frame, surprise.Reader(rating_scale=train.rating_scale)).build_full_trainset()
    algo = getattr(surprise, algo_name)(k=k, min_k=min_k, sim_options=sim_options,
                                       verbose=False).fit(trainset)
    return np.array([algo.predict(u, i).est for u, i in
                     zip(test.user_ids[test.users].tolist(), test.item_ids[test.items].tolist())])


@pytest.mark.parametrize("user_based", [False, True])
@pytest.mark.parametrize("centering,algo,sim", [
    ("none", "KNNBasic", "msd"),
    ("none", "KNNBasic", "cosine"),
    ("mean", "KNNWithMeans", "pearson"),
    ("baseline", "KNNBaseline", "pearson_baseline"),
])
@pytest.mark.parametrize("k,min_k", [(40, 1), (3, 2)])
def test_rating_modes_equal_surprise(user_based, centering, algo, sim, k, min_k):
    train, test = split(1, continuous=True)
    ours_sim = "cosine_corated" if sim == "cosine" else sim
    cls = UserKNN if user_based else ItemKNN
    # Pearson over 2 common ratings is +-1 and cosine over 1 is 1: many exact ties, which
    # would make most of the comparison meaningless; ask for more support.
    support = {"pearson": 3, "cosine": 2}.get(sim, 1)
    model = cls(k=k, min_k=min_k, centering=centering, similarity=ours_sim,
                min_support=support).fit(train)
    got = model.predict(test.users, test.items)
    want = surprise_predictions(algo, {"name": sim, "user_based": user_based,
                                       "min_support": support}, train, test, k, min_k)
    # Where the k-th and (k+1)-th neighbours tie in float32, Surprise's float64 similarities
    # may order them the other way: leave those few pairs out.
    sims = model.similarity_.toarray()
    by_y = train.csr_by_item if user_based else train.csr
    xs, ys = (test.users, test.items) if user_based else (test.items, test.users)
    tied = np.zeros(len(xs), dtype=bool)
    for p, (x, y) in enumerate(zip(xs, ys)):
        s = np.sort(sims[x, by_y[y].indices])[::-1]
        s = s[s > 0]
        tied[p] = len(s) > k and s[k - 1] == s[k]
    assert tied.mean() < 0.05
    np.testing.assert_allclose(got[~tied], want[~tied], atol=1e-4)


def reference_sum_scores(train, metric: str, k: int, user_based: bool) -> np.ndarray:
    """Deshpande-Karypis by dense NumPy: prune each row to its k largest positive
    similarities, then score = binary ratings times the pruned matrix."""
    b = (train.csr.toarray() != 0).astype(np.float64)
    b[train.users, train.items] = 1.0  # stored zeros would be ratings too
    matrix = train.csr if user_based else train.csr_by_item
    dense = similarity(matrix, metric, dense=True).astype(np.float64)
    pruned = np.zeros_like(dense)
    for a in range(len(dense)):
        cand = [j for j in np.argsort(-dense[a], kind="stable") if dense[a, j] > 0][:k]
        pruned[a, cand] = dense[a, cand]
    return pruned @ b if user_based else b @ pruned


@pytest.mark.parametrize("cls", [ItemKNN, UserKNN])
@pytest.mark.parametrize("metric,k", [("cosine", 4), ("adjusted_cosine", 10), ("pearson", 3)])
def test_sum_mode_equals_dense_reference(cls, metric, k):
    train, test = split(2)
    model = cls(aggregate="sum", similarity=metric, k=k).fit(train)
    want = reference_sum_scores(train, metric, k, cls is UserKNN)
    users = np.arange(train.n_users)
    np.testing.assert_allclose(model.score_items(users), want, atol=1e-5)
    np.testing.assert_allclose(model.predict(test.users, test.items),
                               want[test.users, test.items], atol=1e-5)
    assert not model.predicts_ratings


# ---------------------------------------------------------------------------------- fallbacks
def test_fallbacks_for_unknown_ids_and_min_k():
    train, _ = split(3)
    base = Baseline(method="als").fit(train)
    mu = train.global_mean
    model = ItemKNN().fit(train)  # baseline centering
    bu, bi = base.user_bias_.astype(np.float64), base.item_bias_.astype(np.float64)
    np.testing.assert_allclose(model._score(np.array([-1, 2, -1]), np.array([4, -1, -1])),
                               [mu + bi[4], mu + bu[2], mu], atol=1e-6)
    # With min_k above any neighbourhood size, every prediction is the baseline.
    lonely = ItemKNN(min_k=10_000).fit(train)
    u, i = np.arange(train.n_users), np.arange(train.n_users) % train.n_items
    np.testing.assert_allclose(lonely._score(u, i), mu + bu[u] + bi[i], atol=1e-6)
    means = ItemKNN(centering="mean", similarity="cosine", min_k=10_000).fit(train)
    np.testing.assert_allclose(means._score(u, i), train.item_means[i], atol=1e-6)
    np.testing.assert_allclose(means._score(np.array([-1]), np.array([3])),
                               train.item_means[[3]], atol=1e-6)
    user_means = UserKNN(centering="mean", similarity="cosine", min_k=10_000).fit(train)
    np.testing.assert_allclose(user_means._score(u, i), train.user_means[u], atol=1e-6)
    basic = ItemKNN(centering="none", similarity="cosine", min_k=10_000).fit(train)
    np.testing.assert_allclose(basic._score(u, i), mu, atol=1e-9)
    assert ItemKNN(aggregate="sum", similarity="cosine").fit(train)._score(
        np.array([-1, 0]), np.array([0, -1])).tolist() == [0.0, 0.0]


def test_max_neighbors_bounds_the_stored_rows():
    train, test = split(4)
    full = ItemKNN(centering="mean", similarity="pearson").fit(train)
    wide = ItemKNN(centering="mean", similarity="pearson", max_neighbors=train.n_items).fit(train)
    np.testing.assert_array_equal(full.predict(test.users, test.items),
                                  wide.predict(test.users, test.items))
    narrow = ItemKNN(centering="mean", similarity="pearson", max_neighbors=4).fit(train)
    assert np.diff(narrow.similarity_indptr_).max() <= 4
    assert narrow.similarity_data_.min() > 0  # only positive similarities are kept


def test_bad_hyperparameters_are_named():
    train, _ = split(5)
    for params, message in [({"centering": "z"}, "centering must be one of"),
                            ({"similarity": "jaccard"}, "unknown similarity 'jaccard'"),
                            ({"aggregate": "max"}, "aggregate must be one of"),
                            ({"k": 0}, "k must be >= 1"),
                            ({"max_neighbors": 0}, "max_neighbors must be >= 1"),
                            ({"shrinkage": -1.0}, "shrinkage must be >= 0")]:
        with pytest.raises(ValueError, match=message):
            ItemKNN(**params).fit(train)


# ---------------------------------------------------------------------------------- hooks
@pytest.mark.parametrize("params", [
    dict(centering="none", similarity="cosine"),
    dict(centering="mean", similarity="pearson"),
    dict(aggregate="sum", similarity="cosine", k=5),
])
def test_new_user_fold_in_equals_the_trained_user(params):
    train, _ = split(6)
    model = ItemKNN(**params).fit(train)
    for u in (0, 7, 19):
        items, ratings = train.user_items(u)
        perm = np.random.default_rng(u).permutation(len(items))  # order must not matter
        got = model._score_new_user(items[perm].astype(np.int64), ratings[perm])
        np.testing.assert_allclose(got, model.score_items([u])[0], atol=1e-9)


def test_new_user_with_baseline_folds_in_the_user_bias():
    train, _ = split(6)
    model = ItemKNN().fit(train)
    items, ratings = train.user_items(3)
    got = model._score_new_user(items.astype(np.int64), ratings)
    mu, bi = train.global_mean, model.item_offset_
    bias = (ratings - mu - bi[items]).sum() / (15.0 + len(items))
    # An item with no neighbour the user rated gets exactly the folded-in baseline.
    empty = ItemKNN(min_k=10_000).fit(train)._score_new_user(items.astype(np.int64), ratings)
    np.testing.assert_allclose(empty, mu + bias + bi, atol=1e-6)
    assert np.isfinite(got).all()
    assert np.abs(got - model.score_items([3])[0]).max() < 0.5  # close to the trained user
    items_new, scores = model.recommend_new_user(items, ratings, k=5)
    assert not set(items_new) & set(items)


@pytest.mark.parametrize("params", [
    dict(), dict(centering="none", similarity="cosine"),
    dict(aggregate="sum", similarity="cosine", k=5)])
def test_explain_contributions_add_up_to_the_score(params):
    train, test = split(7)
    model = ItemKNN(**params).fit(train)
    for u, i in zip(test.users[:25], test.items[:25]):
        idx, contrib = model.explain(int(u), int(i), n=1000)
        assert (np.diff(contrib) <= 1e-12).all()
        rated = set(train.user_items(int(u))[0].tolist())
        assert set(idx.tolist()) <= rated
        score = model._score(np.array([u]), np.array([i]))[0]
        if model.aggregate == "sum" or model.centering == "none":
            base = 0.0 if len(idx) or model.aggregate == "sum" else train.global_mean
        else:
            base = train.global_mean + model.user_offset_[u] + model.item_offset_[i]
        np.testing.assert_allclose(base + contrib.sum(), score, atol=1e-6)
        top_idx, top_c = model.explain(int(u), int(i), n=2)
        np.testing.assert_array_equal(top_idx, idx[:2])
    raw_idx, _ = model.explain(train.user_ids[0], train.item_ids[1], n=3, raw=True)
    assert set(raw_idx.tolist()) <= set(train.item_ids.tolist())


def test_similar_items_is_the_stored_similarity_row():
    train, _ = split(8)
    model = ItemKNN(centering="mean", similarity="cosine").fit(train)
    dense = similarity(train.csr_by_item, "cosine", dense=True)
    for i in (0, 5, 12):
        np.testing.assert_allclose(model._similar_items(i), np.maximum(dense[i], 0), atol=1e-7)
    items, sims = model.similar_items(5, k=4)
    assert 5 not in items and (np.diff(sims) <= 0).all()
    summed = ItemKNN(aggregate="sum", similarity="cosine", k=3).fit(train)
    row = summed._similar_items(5)
    assert (row > 0).sum() <= 3
    np.testing.assert_allclose(row[row > 0], np.sort(dense[5])[::-1][: (row > 0).sum()],
                               atol=1e-7)


def test_user_knn_has_no_item_hooks():
    train, _ = split(9)
    model = UserKNN().fit(train)
    with pytest.raises(NotImplementedError):
        model.similar_items(0)
    with pytest.raises(NotImplementedError):
        model.explain(0, 0)
    with pytest.raises(NotImplementedError):
        model.recommend_new_user([0, 1], [4.0, 3.0])
