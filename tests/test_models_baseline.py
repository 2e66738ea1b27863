"""GlobalMean, Popularity and Baseline: conformance, and the bias kernels against NumPy."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from model_conformance import ModelConformance, small_ratings
from recsys.dataset import Dataset
from recsys.kernels.baseline import als_bias_update
from recsys.kernels.scoring import bias_rmse
from recsys.kernels.sgd import bias_epoch, shuffle
from recsys.models import Recommender
from recsys.models.baseline import Baseline, GlobalMean, Popularity


# ---------------------------------------------------------------------------- conformance
class TestGlobalMean(ModelConformance):
    varied_params = {}
    expected_rmse = (0.968, 0.999)  # measured 0.9885

    def make_model(self, **overrides):
        return GlobalMean(**overrides)


class TestPopularityCount(ModelConformance):
    varied_params = {"by": "mean"}
    expected_ndcg = (0.184, 0.221)  # measured 0.1967

    def make_model(self, **overrides):
        return Popularity(**{"by": "count", **overrides})


class TestPopularityMean(ModelConformance):
    varied_params = {"damping": 0.0, "by": "count"}
    expected_ndcg = (0.080, 0.111)  # measured 0.0908

    def make_model(self, **overrides):
        return Popularity(**{"by": "mean", "damping": 5.0, **overrides})


class TestBaselineALS(ModelConformance):
    varied_params = {"reg_user": 1.0, "reg_item": 1.0, "n_epochs": 1, "method": "sgd"}
    expected_rmse = (0.815, 0.846)  # measured 0.8352

    def make_model(self, **overrides):
        return Baseline(**{"method": "als", **overrides})


class TestBaselineSGD(ModelConformance):
    varied_params = {"reg_user": 5.0, "reg_item": 5.0, "n_epochs": 2, "learning_rate": 0.02,
                     "seed": 1, "method": "als"}
    expected_rmse = (0.821, 0.852)  # measured 0.8418

    def make_model(self, **overrides):
        return Baseline(**{"method": "sgd", "n_epochs": 5, "seed": 0, **overrides})


# ---------------------------------------------------------------------------- references
def _random_ratings(seed, n_users, n_items, density):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[0, 0] = True  # at least one rating: fitting on an empty Dataset is an error
    users, items = np.nonzero(mask)
    ratings = rng.integers(1, 6, size=len(users)).astype(np.float32)
    return Dataset(users, items, ratings, None, np.arange(n_users), np.arange(n_items),
                   (1.0, 5.0))


def _als_reference(users, items, ratings, n_users, n_items, mu, reg_u, reg_i, n_epochs):
    """Surprise's BaselineOnly.baseline_als as a plain Python loop."""
    bu = np.zeros(n_users)
    bi = np.zeros(n_items)
    for _ in range(n_epochs):
        for i in range(n_items):
            sel = items == i
            bi[i] = (ratings[sel] - mu - bu[users[sel]]).sum() / (reg_i + sel.sum()) \
                if sel.any() else 0.0
        for u in range(n_users):
            sel = users == u
            bu[u] = (ratings[sel] - mu - bi[items[sel]]).sum() / (reg_u + sel.sum()) \
                if sel.any() else 0.0
    return bu, bi


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31), n_users=st.integers(1, 12), n_items=st.integers(1, 12),
       density=st.floats(0.05, 1.0), reg=st.floats(0.0, 20.0))
def test_als_bias_update_is_the_closed_form(seed, n_users, n_items, density, reg):
    ds = _random_ratings(seed, n_users, n_items, density)
    rng = np.random.default_rng(seed + 1)
    bu = rng.normal(size=n_users)
    mu = ds.global_mean
    by_item = ds.csr_by_item
    got = np.full(n_items, np.nan)
    als_bias_update(by_item.indptr.astype(np.int64), by_item.indices, by_item.data, mu, bu,
                    reg, got)
    r = ds.ratings.astype(np.float64)
    for i in range(n_items):
        sel = ds.items == i
        expected = (r[sel] - mu - bu[ds.users[sel]]).sum() / (reg + sel.sum()) \
            if sel.any() else 0.0
        assert got[i] == pytest.approx(expected, rel=1e-9, abs=1e-12)


@settings(deadline=None, max_examples=15)
@given(seed=st.integers(0, 2**31), n_users=st.integers(2, 10), n_items=st.integers(2, 10),
       n_epochs=st.integers(0, 4))
def test_baseline_als_equals_surprise_loop(seed, n_users, n_items, n_epochs):
    ds = _random_ratings(seed, n_users, n_items, 0.5)
    model = Baseline(method="als", reg_user=3.0, reg_item=2.0, n_epochs=n_epochs).fit(ds)
    bu, bi = _als_reference(ds.users, ds.items, ds.ratings.astype(np.float64), n_users,
                            n_items, ds.global_mean, 3.0, 2.0, n_epochs)
    np.testing.assert_allclose(model.user_bias_, bu, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.item_bias_, bi, rtol=1e-5, atol=1e-6)


def test_baseline_als_converges_to_the_regularised_least_squares_optimum():
    ds = small_ratings(seed=3)
    model = Baseline(method="als", reg_user=4.0, reg_item=2.0, n_epochs=200).fit(ds)
    bu = model.user_bias_.astype(np.float64)
    bi = model.item_bias_.astype(np.float64)
    resid = ds.ratings - (ds.global_mean + bu[ds.users] + bi[ds.items])
    grad_u = -np.bincount(ds.users, weights=resid, minlength=ds.n_users) + 4.0 * bu
    grad_i = -np.bincount(ds.items, weights=resid, minlength=ds.n_items) + 2.0 * bi
    assert np.abs(grad_u).max() < 1e-3
    assert np.abs(grad_i).max() < 1e-3


@settings(deadline=None, max_examples=25)
@given(seed=st.integers(0, 2**31), n_users=st.integers(1, 8), n_items=st.integers(1, 8),
       lr=st.floats(0.001, 0.1), reg_u=st.floats(0.0, 1.0), reg_i=st.floats(0.0, 1.0))
def test_bias_epoch_equals_reference_loop(seed, n_users, n_items, lr, reg_u, reg_i):
    ds = _random_ratings(seed, n_users, n_items, 0.6)
    rng = np.random.default_rng(seed)
    order = rng.permutation(ds.n_ratings).astype(np.int64)
    r = ds.ratings.astype(np.float64)
    mu = ds.global_mean
    bu = rng.normal(size=n_users)
    bi = rng.normal(size=n_items)
    ref_u, ref_i = bu.copy(), bi.copy()
    ref_loss = 0.0
    for t in order:
        u, i = ds.users[t], ds.items[t]
        err = r[t] - (mu + ref_u[u] + ref_i[i])
        ref_loss += err * err
        ref_u[u] += lr * (err - reg_u * ref_u[u])
        ref_i[i] += lr * (err - reg_i * ref_i[i])
    loss = bias_epoch(ds.users, ds.items, r, order, mu, bu, bi, lr, reg_u, reg_i)
    np.testing.assert_allclose(bu, ref_u, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bi, ref_i, rtol=1e-9, atol=1e-12)
    assert loss == pytest.approx(ref_loss, rel=1e-9)


@settings(deadline=None, max_examples=20)
@given(seed=st.integers(0, 2**63 - 1), n=st.integers(0, 300))
def test_shuffle_is_a_seeded_permutation(seed, n):
    a = np.arange(n, dtype=np.int64)
    b = np.arange(n, dtype=np.int32)
    shuffle(a, seed)
    shuffle(b, seed)
    np.testing.assert_array_equal(np.sort(a), np.arange(n))
    np.testing.assert_array_equal(a, b)


def test_shuffle_is_uniform_enough():
    # Each of the 6 orders of 3 elements should appear ~1/6 of the time.
    counts = {}
    for seed in range(6000):
        a = np.arange(3, dtype=np.int64)
        shuffle(a, seed)
        counts[tuple(a)] = counts.get(tuple(a), 0) + 1
    assert len(counts) == 6
    assert all(800 < c < 1200 for c in counts.values())


def test_bias_rmse_handles_unknown_and_clips():
    bu = np.array([1.0, -3.0])
    bi = np.array([0.5])
    users = np.array([0, 1, -1, 0, -1], dtype=np.int32)
    items = np.array([0, 0, 0, -1, -1], dtype=np.int32)
    ratings = np.array([5.0, 1.0, 4.0, 4.0, 3.0], dtype=np.float32)
    # predictions: 3+1+0.5=4.5, 3-3+0.5=0.5 -> clipped 1, 3.5, 4, 3
    expected = np.sqrt(np.mean(np.square(ratings - [4.5, 1.0, 3.5, 4.0, 3.0])))
    assert bias_rmse(users, items, ratings, 3.0, bu, bi, 1.0, 5.0) == pytest.approx(expected)
    assert np.isnan(bias_rmse(users[:0], items[:0], ratings[:0], 3.0, bu, bi, 1.0, 5.0))


# ---------------------------------------------------------------------------- behaviour
def test_baseline_defaults_follow_surprise():
    assert Baseline().resolved_params() == {"reg_user": 15.0, "reg_item": 10.0,
                                            "n_epochs": 10, "learning_rate": None}
    assert Baseline(method="sgd").resolved_params() == {
        "reg_user": 0.02, "reg_item": 0.02, "n_epochs": 20, "learning_rate": 0.005}
    with pytest.raises(ValueError, match="method"):
        Baseline(method="newton").fit(small_ratings())
    with pytest.raises(ValueError, match="reg_user"):
        Baseline(reg_user=-1.0).fit(small_ratings())
    with pytest.raises(ValueError, match="learning_rate"):
        Baseline(method="sgd", learning_rate=0.0).fit(small_ratings())


def test_baseline_fallbacks_are_the_documented_biases():
    ds = small_ratings()
    model = Baseline().fit(ds)
    mu, bu, bi = model.global_mean_, model.user_bias_, model.item_bias_
    got = model._score(np.array([2, -1, 2, -1]), np.array([3, 3, -1, -1]))
    np.testing.assert_allclose(got, [mu + bu[2] + bi[3], mu + bi[3], mu + bu[2], mu],
                               rtol=1e-6)


@pytest.mark.parametrize("method", ["als", "sgd"])
def test_baseline_history_and_eval_set(method):
    ds = small_ratings(seed=1)
    rng = np.random.default_rng(0)
    test_mask = rng.random(ds.n_ratings) < 0.2
    train, test = ds.subset(~test_mask), ds.subset(test_mask)
    model = Baseline(method=method, n_epochs=6).fit(train, eval_set=test)
    assert len(model.history_["train_rmse"]) == 6 and len(model.history_["eval_rmse"]) == 6
    pred = model.predict(test.users, test.items)
    final = np.sqrt(np.mean((pred - test.ratings) ** 2))
    assert model.history_["eval_rmse"][-1] == pytest.approx(final, rel=1e-5)
    assert model.history_["train_rmse"][-1] < model.history_["train_rmse"][0]
    with pytest.raises(ValueError, match="id maps"):
        other = Dataset(test.users, test.items, test.ratings, None, test.user_ids + 1,
                        test.item_ids)
        Baseline().fit(train, eval_set=other)


def test_a_generator_seed_draws_as_its_integer_does(tmp_path):
    ds = small_ratings(seed=2)
    by_int = Baseline(method="sgd", n_epochs=3, seed=7).fit(ds)
    by_rng = Baseline(method="sgd", n_epochs=3, seed=np.random.default_rng(7)).fit(ds)
    np.testing.assert_array_equal(by_rng.user_bias_, by_int.user_bias_)
    np.testing.assert_array_equal(by_rng.item_bias_, by_int.item_bias_)
    # A Generator goes on drawing: a second fit with it visits the ratings in a new order.
    rng = np.random.default_rng(7)
    first = Baseline(method="sgd", n_epochs=3, seed=rng).fit(ds).user_bias_
    assert not np.array_equal(Baseline(method="sgd", n_epochs=3, seed=rng).fit(ds).user_bias_,
                              first)
    assert Recommender.load(by_rng.save(tmp_path / "b.npz")).seed is None
    with pytest.raises(ValueError, match="seed"):
        Baseline(method="sgd", seed=-1).fit(ds)


def test_baseline_history_survives_save_load(tmp_path):
    model = Baseline(n_epochs=3).fit(small_ratings())
    loaded = Recommender.load(model.save(tmp_path / "b.npz"))
    assert loaded.history_ == model.history_


def test_baseline_recovers_biases_on_held_out_ratings():
    # Ratings = 3 + user bias + item bias + noise: biases explain most of the variance.
    rng = np.random.default_rng(0)
    n_users, n_items = 80, 50
    bu, bi = rng.normal(0, 0.6, n_users), rng.normal(0, 0.6, n_items)
    users, items = np.nonzero(rng.random((n_users, n_items)) < 0.4)
    ratings = np.clip(3 + bu[users] + bi[items] + rng.normal(0, 0.3, len(users)), 1, 5)
    ds = Dataset(users, items, ratings, None, np.arange(n_users), np.arange(n_items), (1, 5))
    mask = rng.random(ds.n_ratings) < 0.2
    train, test = ds.subset(~mask), ds.subset(mask)

    def rmse(model):
        pred = model.fit(train).predict(test.users, test.items)
        return np.sqrt(np.mean((pred - test.ratings) ** 2))

    base = rmse(GlobalMean())
    assert rmse(Baseline(reg_user=2.0, reg_item=2.0)) < 0.5 * base
    assert rmse(Baseline(method="sgd", learning_rate=0.02, n_epochs=60)) < 0.6 * base


def test_popularity_scores():
    ds = Dataset(np.array([0, 1, 2, 0]), np.array([0, 0, 0, 1]),
                 np.array([1.0, 1.0, 1.0, 5.0]), None, np.arange(3), np.arange(3), (1.0, 5.0))
    count = Popularity(by="count").fit(ds)
    np.testing.assert_array_equal(count.item_scores_, [3, 1, 0])
    mean = Popularity(by="mean", damping=2.0).fit(ds)
    mu = 2.0
    np.testing.assert_allclose(mean.item_scores_, [(3 + 2 * mu) / 5, (5 + 2 * mu) / 3, mu])
    items, _ = mean.recommend(2, k=3, exclude_seen=False)
    np.testing.assert_array_equal(items, [1, 2, 0])  # unrated item 2 scores mu = 2 > 1.4
    with pytest.raises(ValueError, match="by"):
        Popularity(by="rating").fit(ds)


def test_new_user_fold_in_for_baseline():
    ds = small_ratings()
    model = Baseline().fit(ds)
    items = np.array([0, 1, 2])
    ratings = np.array([5.0, 5.0, 5.0])
    scores = model._score_new_user(items, ratings)
    b = (ratings - model.global_mean_ - model.item_bias_[items]).sum() / (15.0 + 3)
    np.testing.assert_allclose(scores, model.global_mean_ + b + model.item_bias_, rtol=1e-6)
    assert b > 0
