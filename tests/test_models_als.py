"""ALS model: conformance suite, normal equations at convergence, low-rank recovery,
thread independence, fallbacks, fold-in and similarity."""

from __future__ import annotations

import numpy as np
import pytest

from model_conformance import ModelConformance, small_ratings
from recsys.dataset import Dataset
from recsys.models.als import ALS
from recsys.threads import numba_threads


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


class TestALSConformance(ModelConformance):
    varied_params = {"n_factors": 3, "n_iterations": 1, "reg": 0.5, "reg_bias": 50.0,
                     "biases": False, "init_std": 1.0, "seed": 1}
    expected_rmse = (0.794, 0.825)  # measured 0.8141

    def make_model(self, **overrides):
        return ALS(**{"n_factors": 6, "n_iterations": 5, "seed": 0, **overrides})


def test_recovers_noiseless_low_rank_matrix():
    train, test = low_rank_split()
    model = ALS(n_factors=2, n_iterations=20, reg=0.001, reg_bias=0.0, seed=0).fit(train)
    assert rmse(model, test) < 0.05
    assert model.history_["train_rmse"][-1] < 0.05


@pytest.mark.parametrize("biases", [True, False])
def test_last_half_sweep_solves_item_normal_equations(biases):
    data = small_ratings()
    m = ALS(n_factors=4, n_iterations=3, reg=0.07, reg_bias=3.0, biases=biases, seed=0,
            dtype="float64").fit(data)
    p, bu = m.user_factors_, m.user_bias_
    by_item = data.csr_by_item
    for i in range(data.n_items):
        lo, hi = by_item.indptr[i], by_item.indptr[i + 1]
        users = by_item.indices[lo:hi]
        y = by_item.data[lo:hi].astype(np.float64) - data.global_mean
        x = p[users]
        if biases:
            y = y - bu[users]
            x = np.hstack([x, np.ones((len(users), 1))])
        penalty = np.full(x.shape[1], 0.07 * len(users))
        if biases:
            penalty[-1] = 3.0
        w = np.linalg.solve(x.T @ x + np.diag(penalty), x.T @ y)
        np.testing.assert_allclose(m.item_factors_[i], w[:4], rtol=1e-8, atol=1e-10)
        if biases:
            np.testing.assert_allclose(m.item_bias_[i], w[4], rtol=1e-8, atol=1e-10)
    if not biases:
        assert not m.user_bias_.any() and not m.item_bias_.any()


def test_parallel_and_serial_are_bit_identical(monkeypatch):
    import recsys.threads

    monkeypatch.setattr(recsys.threads, "PARALLEL_MIN_WORK", 0)  # parallel even on tiny data
    data = small_ratings(n_users=120, n_items=50)
    a = ALS(n_factors=5, n_iterations=4, seed=3, parallel=True).fit(data)
    b = ALS(n_factors=5, n_iterations=4, seed=3, parallel=False).fit(data)
    with numba_threads(1):
        c = ALS(n_factors=5, n_iterations=4, seed=3, parallel=True).fit(data)
    for name in ALS._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
        np.testing.assert_array_equal(getattr(a, name), getattr(c, name))


def test_history_and_eval_set():
    train, test = low_rank_split()
    m = ALS(n_factors=2, n_iterations=5, reg=0.01, seed=0).fit(train, eval_set=test)
    assert len(m.history_["train_rmse"]) == len(m.history_["eval_rmse"]) == 5
    assert m.history_["eval_rmse"][-1] == pytest.approx(rmse(m, test), rel=1e-4)
    assert m.history_["train_rmse"][-1] < m.history_["train_rmse"][0]


def test_fallbacks_for_unknown_and_unrated_users_and_items():
    data = small_ratings()
    ds = Dataset(data.users, data.items, data.ratings, None, np.arange(41) + 100,
                 np.arange(31) + 1000, data.rating_scale)
    m = ALS(n_factors=4, n_iterations=3, seed=0).fit(ds)
    mu = ds.global_mean
    assert not m.user_factors_[40].any() and m.user_bias_[40] == 0
    assert not m.item_factors_[30].any() and m.item_bias_[30] == 0
    pred = m.predict([140, -5, 100, -5], [1000, 1000, -7, -7], raw=True)
    expected = [mu + m.item_bias_[0], mu + m.item_bias_[0], mu + m.user_bias_[0], mu]
    np.testing.assert_allclose(pred, np.clip(expected, 1, 5), rtol=1e-6)


def test_fold_in_of_a_training_user_is_one_user_step():
    data = small_ratings()
    m = ALS(n_factors=4, n_iterations=30, reg=0.05, reg_bias=2.0, seed=0,
            dtype="float64").fit(data)
    u = 5
    items, ratings = data.user_items(u)
    ratings = ratings.astype(np.float64)  # float32 - Python float stays float32 in NumPy 2
    scores = m._score_new_user(items.astype(np.int64), ratings)
    q, bi = m.item_factors_, m.item_bias_
    x = np.hstack([q[items], np.ones((len(items), 1))])
    penalty = np.array([0.05 * len(items)] * 4 + [2.0])
    w = np.linalg.solve(x.T @ x + np.diag(penalty),
                        x.T @ (ratings - data.global_mean - bi[items]))
    np.testing.assert_allclose(scores, data.global_mean + bi + w[4] + q @ w[:4], rtol=1e-9)
    # Near convergence the fold-in reproduces the trained user's scores.
    np.testing.assert_allclose(scores, m.score_items([u])[0], atol=0.05)


def test_similar_items_is_cosine_of_item_factors():
    m = ALS(n_factors=4, n_iterations=3, seed=0).fit(small_ratings())
    q = m.item_factors_.astype(np.float64)
    expected = q @ q[4] / (np.linalg.norm(q, axis=1) * np.linalg.norm(q[4]))
    np.testing.assert_allclose(m._similar_items(4), expected, rtol=1e-10)


@pytest.mark.parametrize("bad", [{"reg": 0.0}, {"n_factors": 0}, {"reg_bias": -1.0},
                                 {"dtype": "int8"}])
def test_bad_hyperparameters_name_the_problem(bad):
    name = next(iter(bad))
    with pytest.raises(ValueError, match=name):
        ALS(**bad).fit(small_ratings())
