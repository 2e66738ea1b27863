"""SVDpp model: conformance suite, recovery of a noiseless low-rank matrix, fallbacks,
fold-in and similarity."""

from __future__ import annotations

import numpy as np
import pytest

from model_conformance import ModelConformance, small_ratings
from recsys.dataset import Dataset
from recsys.models.svdpp import SVDpp


def low_rank_split(seed=0, n_users=80, n_items=60, rank=2, density=0.6):
    """Noiseless ratings 3 + P Q^T on a wide scale (no clipping); 10% held out."""
    rng = np.random.default_rng(seed)
    p, q = rng.normal(0, 0.8, (n_users, rank)), rng.normal(0, 0.8, (n_items, rank))
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    ds = Dataset(users, items, 3 + np.einsum("nk,nk->n", p[users], q[items]), None,
                 np.arange(n_users), np.arange(n_items), (-10.0, 20.0))
    test = rng.random(len(users)) < 0.1
    return ds.subset(~test), ds.subset(test)


def rmse(model, data):
    return float(np.sqrt(np.mean((model.predict(data.users, data.items) - data.ratings) ** 2)))


class TestSVDppConformance(ModelConformance):
    varied_params = {"n_factors": 3, "n_epochs": 4, "learning_rate": 0.02, "reg_factors": 0.3,
                     "reg_bias": 0.5, "reg_implicit": 0.5, "init_std": 0.3, "lr_decay": 0.8,
                     "seed": 1}
    expected_rmse = (0.808, 0.839)  # measured 0.8285

    def make_model(self, **overrides):
        return SVDpp(**{"n_factors": 8, "n_epochs": 10, "seed": 0, **overrides})


def test_recovers_noiseless_low_rank_matrix():
    train, test = low_rank_split()
    model = SVDpp(n_factors=4, n_epochs=100, learning_rate=0.02, reg_factors=0.001,
                  reg_bias=0.001, reg_implicit=0.001, seed=0).fit(train)
    assert rmse(model, test) < 0.05
    assert model.history_["train_rmse"][-1] < 0.05 * model.history_["train_rmse"][0]


def test_same_seed_bit_identical_arrays_and_other_seed_differs():
    data = small_ratings()
    a = SVDpp(n_factors=5, n_epochs=5, seed=7).fit(data)
    b = SVDpp(n_factors=5, n_epochs=5, seed=7).fit(data)
    c = SVDpp(n_factors=5, n_epochs=5, seed=8).fit(data)
    for name in SVDpp._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        assert getattr(a, name).dtype == np.float32
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_history_with_eval_set_and_eval_set_must_share_ids():
    train, test = low_rank_split()
    model = SVDpp(n_factors=4, n_epochs=6, learning_rate=0.02, seed=0).fit(train,
                                                                           eval_set=test)
    assert len(model.history_["train_rmse"]) == len(model.history_["eval_rmse"]) == 6
    assert model.history_["eval_rmse"][-1] == pytest.approx(rmse(model, test), rel=1e-4)
    assert model.history_["eval_rmse"][-1] < model.history_["eval_rmse"][0]
    other = Dataset(test.users, test.items, test.ratings, None, test.user_ids + 1,
                    test.item_ids, test.rating_scale)
    with pytest.raises(ValueError, match="id maps"):
        SVDpp(n_epochs=1).fit(train, eval_set=other)
    assert SVDpp(n_epochs=2, seed=0).fit(train).history_["eval_rmse"] == []


def test_fallbacks_for_unknown_and_unrated_users_and_items():
    data = small_ratings()
    # User index 40 and item index 30 exist in the id maps but have no rating.
    ds = Dataset(data.users, data.items, data.ratings, None, np.arange(41) + 100,
                 np.arange(31) + 1000, data.rating_scale)
    m = SVDpp(n_factors=4, n_epochs=5, seed=0).fit(ds)
    mu = ds.global_mean
    assert not m.user_factors_[40].any() and not m.user_implicit_sum_[40].any()
    assert not m.item_factors_[30].any()
    pred = m.predict([100, 140, -5, 100, -5], [1000, 1000, 1000, -7, -7], raw=True)
    expected = [None, mu + m.item_bias_[0], mu + m.item_bias_[0], mu + m.user_bias_[0], mu]
    np.testing.assert_allclose(pred[1:], np.clip(expected[1:], 1, 5), rtol=1e-6)
    np.testing.assert_allclose(m.predict([140], [1030], raw=True), [mu], rtol=1e-6)
    np.testing.assert_allclose(m.predict([100], [1030], raw=True),
                               [np.clip(mu + m.user_bias_[0], 1, 5)], rtol=1e-6)


def test_scores_follow_the_svdpp_formula():
    data = small_ratings()
    m = SVDpp(n_factors=4, n_epochs=3, seed=0).fit(data)
    y = m.item_implicit_factors_.astype(np.float64)
    u, i = 3, 7
    nu = data.csr.indices[data.csr.indptr[u]:data.csr.indptr[u + 1]]
    z = y[nu].sum(axis=0) / np.sqrt(len(nu))
    expected = (data.global_mean + m.user_bias_[u] + m.item_bias_[i]
                + m.item_factors_[i] @ (m.user_factors_[u] + z))
    np.testing.assert_allclose(m.score_items([u])[0, i], expected, rtol=1e-5)


def test_fold_in_solves_the_regularised_least_squares():
    data = small_ratings()
    m = SVDpp(n_factors=4, n_epochs=5, seed=0, reg_factors=0.05, reg_bias=0.1).fit(data)
    items = np.array([0, 3, 5, 9, 12])
    ratings = np.array([5.0, 1.0, 4.0, 2.0, 3.5])
    scores = m._score_new_user(items, ratings)
    q = m.item_factors_.astype(np.float64)
    base = data.global_mean + m.item_bias_.astype(np.float64)
    z = m.item_implicit_factors_[items].astype(np.float64).sum(axis=0) / np.sqrt(len(items))
    # Ridge as an augmented ordinary least-squares problem, solved by lstsq.
    n, k = len(items), q.shape[1]
    x = np.hstack([q[items], np.ones((n, 1))])
    pen = np.sqrt(n * np.array([0.05] * k + [0.1]))
    w = np.linalg.lstsq(np.vstack([x, np.diag(pen)]),
                        np.concatenate([ratings - base[items] - q[items] @ z, np.zeros(k + 1)]),
                        rcond=None)[0]
    np.testing.assert_allclose(scores, base + w[k] + q @ (w[:k] + z), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(m._score_new_user(np.array([], dtype=np.int64), np.array([])),
                               base)
    top, top_scores = m.recommend_new_user(data.item_ids[items], ratings, k=5, raw=True)
    assert not set(top) & set(data.item_ids[items]) and (np.diff(top_scores) <= 0).all()


def test_similar_items_is_cosine_of_item_factors():
    data = small_ratings()
    m = SVDpp(n_factors=4, n_epochs=3, seed=0).fit(data)
    q = m.item_factors_.astype(np.float64)
    sims = m._similar_items(2)
    expected = q @ q[2] / (np.linalg.norm(q, axis=1) * np.linalg.norm(q[2]))
    np.testing.assert_allclose(sims, expected, rtol=1e-10)
    items, scores = m.similar_items(2, k=4)
    assert 2 not in items and (np.diff(scores) <= 0).all()
    np.testing.assert_array_equal(items, np.argsort(-np.where(np.arange(30) == 2, -9, sims),
                                                    kind="stable")[:4])


def test_hogwild_and_float64_fit_as_well_as_the_default():
    train, test = low_rank_split(seed=1)
    kw = dict(n_factors=4, n_epochs=40, learning_rate=0.02, reg_factors=0.001,
              reg_bias=0.001, reg_implicit=0.001, seed=0)
    base = rmse(SVDpp(**kw).fit(train), test)
    hog = SVDpp(**kw, parallel=True).fit(train)
    wide = SVDpp(**kw, dtype="float64").fit(train)
    assert wide.user_factors_.dtype == np.float64
    assert rmse(hog, test) < max(2 * base, 0.1)
    assert rmse(wide, test) == pytest.approx(base, rel=0.1, abs=0.01)


@pytest.mark.parametrize("bad", [{"n_factors": 0}, {"learning_rate": -1.0},
                                 {"reg_implicit": float("nan")}, {"dtype": "float16"}])
def test_bad_hyperparameters_name_the_problem(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        SVDpp(**bad).fit(small_ratings())
