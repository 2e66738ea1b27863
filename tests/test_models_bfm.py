"""BayesianFM: conformance suite, the posterior-mean representation, the relational design
against the materialised one, the feature blocks, fallbacks and errors."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from model_conformance import ModelConformance, small_ratings
from recsys.dataset import Dataset
from recsys.models.bfm import BayesianFM, _Chain, fold_in_scores
from recsys.models.fm_features import build_design, parse_blocks


class TestBayesianFMConformance(ModelConformance):
    varied_params = {"rank": 3, "n_samples": 60, "burn_in": 40, "init_std": 0.5,
                     "blocks": "user,item", "seed": 1}
    expected_rmse = (0.764, 0.794)  # measured 0.7838 (0.7841, 0.7844 with seeds 1, 2)

    def make_model(self, **overrides):
        return BayesianFM(**{"rank": 8, "n_samples": 100, "burn_in": 10, "seed": 0,
                             **overrides})


def rmse(model, data):
    return float(np.sqrt(np.mean((model.predict(data.users, data.items) - data.ratings) ** 2)))


def low_rank_split(seed=0, n_users=60, n_items=50, rank=2, density=0.5, noise=0.1):
    """Ratings 3 + P Q^T + noise on a wide scale (no clipping); 10% held out."""
    rng = np.random.default_rng(seed)
    p, q = rng.normal(0, 0.8, (n_users, rank)), rng.normal(0, 0.8, (n_items, rank))
    mask = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(mask)
    r = 3 + np.einsum("nk,nk->n", p[users], q[items]) + rng.normal(0, noise, len(users))
    ds = Dataset(users, items, r, None, np.arange(n_users), np.arange(n_items), (-10.0, 20.0))
    test = rng.random(len(users)) < 0.1
    return ds.subset(~test), ds.subset(test)


def dense_design(train: Dataset, blocks: str) -> np.ndarray:
    """The FM rows written out: [one-hot(u), one-hot(i), N(u)/sqrt|N(u)|, N(i)/sqrt|N(i)|]
    in the design's column order (user relation, then item relation)."""
    names = parse_blocks(blocks)
    r = (train.csr > 0).astype(float).toarray()
    nu, ni = r.shape
    user_side = [np.eye(nu)] + ([r / np.sqrt(np.maximum(r.sum(1, keepdims=True), 1))]
                                if "user_implicit" in names else [])
    item_side = [np.eye(ni)] + ([r.T / np.sqrt(np.maximum(r.T.sum(1, keepdims=True), 1))]
                                if "item_implicit" in names else [])
    bu, bi = np.hstack(user_side), np.hstack(item_side)
    return np.hstack([bu[train.users], bi[train.items]])


def fm_dense(X, w0, w, V):
    q = X @ V.T
    return w0 + X @ w + 0.5 * ((q ** 2).sum(axis=1) - (X ** 2) @ (V ** 2).sum(axis=0))


def test_relational_sweeps_match_the_materialised_design():
    train = small_ratings(seed=3, n_users=12, n_items=10)
    blocks = "user,item,user_implicit,item_implicit"
    design = build_design(train, parse_blocks(blocks))
    X = dense_design(train, blocks)[design.row_order]
    stacked = sp.csr_matrix((design.key_vals, design.key_cols, design.key_indptr)).toarray()
    np.testing.assert_allclose(np.hstack([stacked[design.row_keys[0], :design.relation_cols[1]],
                                          stacked[design.key_offset[1] + design.row_keys[1],
                                                  design.relation_cols[1]:]]), X)
    y = train.ratings[design.row_order].astype(float)
    chain = _Chain(design, y, 3, 0.1, np.random.default_rng(0))
    for _ in range(5):
        chain.sweep()
    np.testing.assert_allclose(chain.e, y - fm_dense(X, chain.scalars[0], chain.w, chain.V),
                               atol=1e-9)


def test_prediction_is_the_mean_over_the_kept_samples():
    train, test = low_rank_split()
    model = BayesianFM(rank=3, n_samples=40, burn_in=10, seed=0)
    model.fit(train, eval_set=test)
    history = model.history_
    assert len(history["eval_rmse"]) == len(history["train_rmse"]) == 40
    # The tracker averages every kept sample's own FM prediction (fm_rows on the caches);
    # predict scores through the stacked factors: the two agree.
    assert history["eval_rmse"][-1] == pytest.approx(rmse(model, test), rel=1e-5)
    assert model.user_factors_.shape == (train.n_users, 30 * 3)
    assert model.item_factors_.shape == (train.n_items, 30 * 3)
    assert history["eval_rmse"][-1] < history["eval_rmse"][0]
    assert all(a > 0 for a in history["alpha"])
    assert BayesianFM(n_samples=3, seed=0).fit(train).history_["eval_rmse"] == []


def test_learns_a_noisy_low_rank_matrix():
    train, test = low_rank_split(noise=0.1)
    model = BayesianFM(rank=4, n_samples=150, burn_in=20, blocks="user,item", seed=0)
    model.fit(train)
    assert rmse(model, test) < 0.25
    # The noise precision the chain settles on is about 1 / 0.1^2.
    assert 40 < np.median(model.history_["alpha"][-50:]) < 200


def test_same_seed_bit_identical_and_another_seed_differs():
    data = small_ratings()
    a = BayesianFM(rank=3, n_samples=20, seed=5).fit(data)
    b = BayesianFM(rank=3, n_samples=20, seed=5).fit(data)
    c = BayesianFM(rank=3, n_samples=20, seed=6).fit(data)
    for name in BayesianFM._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert a.intercept_ == b.intercept_
    assert not np.array_equal(a.item_factors_, c.item_factors_)


def test_implicit_blocks_come_from_the_training_data_only():
    train, test = low_rank_split()
    design = build_design(train, parse_blocks("user,item,user_implicit"))
    nu, ni = train.n_users, train.n_items
    stacked = sp.csr_matrix((design.key_vals, design.key_cols, design.key_indptr))
    user = int(test.users[0])
    rated = train.csr.indices[train.csr.indptr[user]:train.csr.indptr[user + 1]]
    row = stacked[user].toarray().ravel()
    np.testing.assert_allclose(row[nu + rated], 1 / np.sqrt(len(rated)))
    assert row[user] == 1 and np.count_nonzero(row) == len(rated) + 1
    assert design.groups == ("user", "item", "user_implicit")
    assert design.n_columns == nu + ni + ni  # item relation: its one-hot only


def test_unrated_and_unknown_users_and_items_get_their_groups_prior_means():
    data = small_ratings()
    ds = Dataset(data.users, data.items, data.ratings, None, np.arange(41) + 100,
                 np.arange(31) + 1000, data.rating_scale)
    m = BayesianFM(rank=3, n_samples=20, burn_in=5, seed=0).fit(ds)
    # User 40 and item 30 have no rating: each kept sample's (mu_w, mu_v) of their group.
    np.testing.assert_array_equal(m.user_factors_[40], m.unseen_user_factors_)
    np.testing.assert_array_equal(m.item_factors_[30], m.unseen_item_factors_)
    assert m.user_bias_[40] == pytest.approx(m.unseen_user_bias_)
    assert m.item_bias_[30] == pytest.approx(m.unseen_item_bias_)
    assert m.unseen_user_factors_.shape == (15 * 3,) and m.unseen_item_factors_.any()
    # An unknown id scores as an unrated one.
    for known, unknown, unrated in [((100, 1000), (-5, 1000), (140, 1000)),
                                    ((100, 1000), (100, -7), (100, 1030)),
                                    ((100, 1000), (-5, -7), (140, 1030))]:
        got = m.predict(*zip(unknown), raw=True)
        np.testing.assert_allclose(got, m.predict(*zip(unrated), raw=True), rtol=1e-6)
    scores = m.score_items([0, -1])
    np.testing.assert_allclose(scores[1], m.score_items([40])[0], rtol=1e-6)
    w0 = m.intercept_
    u = m.unseen_user_factors_.astype(float)
    expected = w0 + m.unseen_user_bias_ + m.item_bias_[2] + u @ m.item_factors_[2]
    np.testing.assert_allclose(m.predict([140], [1002], raw=True),
                               np.clip([expected], 1, 5), rtol=1e-6)


def test_scores_are_intercept_biases_and_the_stacked_dot_product():
    data = small_ratings()
    m = BayesianFM(rank=2, n_samples=10, burn_in=4, seed=0).fit(data)
    u, i = 3, 7
    expected = (m.intercept_ + m.user_bias_[u] + m.item_bias_[i]
                + m.user_factors_[u].astype(float) @ m.item_factors_[i].astype(float))
    np.testing.assert_allclose(m.score_items([u])[0, i], expected, rtol=1e-6)


def slow_fold_in(model, items, ratings):
    """The fold-in on dense FM rows, sample by sample: the new user's row for item i has the
    new one-hot column, the implicit items (1/sqrt(n)) and one pseudo-feature standing for
    the item (weight g(i), factor b(i)); theta's posterior from the FM at unit vectors."""
    sc = model.sample_scalars_
    n_samples, k = sc.shape[0], model.rank
    n_items, n = model.n_items_, len(items)
    implicit = model.sample_implicit_factors_.shape[1] > 0
    total = np.zeros(n_items)
    for s in range(n_samples):
        cols = slice(s * k, (s + 1) * k)
        b = model.item_factors_[:, cols].astype(float) * np.sqrt(n_samples)
        g = model.sample_item_terms_[:, s].astype(float)
        x_imp = np.zeros(n_items)
        if implicit and n:
            x_imp[items] = 1 / np.sqrt(n)
        y = model.sample_implicit_factors_[:, cols].astype(float) if implicit else 0 * b
        wy = model.sample_implicit_weights_[:, s].astype(float) if implicit else 0 * g

        def fm(theta, item):
            x = np.concatenate([[1.0], x_imp, [1.0]])
            w = np.concatenate([[theta[0]], wy, [g[item]]])
            V = np.hstack([theta[1:, None], y.T, b[item][:, None]])
            return fm_dense(x[None], sc[s, 0], w, V)[0]

        m = np.r_[sc[s, 2], sc[s, 4:4 + k]]
        lam = np.r_[sc[s, 3], sc[s, 4 + k:4 + 2 * k]]
        base = np.array([fm(np.zeros(k + 1), i) for i in items])
        H = np.array([[fm(np.eye(k + 1)[j], i) for j in range(k + 1)] for i in items])
        H = (H - base[:, None]).reshape(n, k + 1)
        A = sc[s, 1] * H.T @ H + np.diag(lam)
        theta = np.linalg.solve(A, sc[s, 1] * H.T @ (ratings - base) + lam * m)
        total += [fm(theta, i) for i in range(n_items)]
    return total / n_samples


@pytest.mark.parametrize("blocks", ["user,item", "user,item,user_implicit,item_implicit"])
def test_fold_in_is_the_per_sample_bayesian_regression(blocks):
    data = small_ratings(n_users=15, n_items=12)
    m = BayesianFM(rank=2, n_samples=6, burn_in=3, blocks=blocks, seed=0).fit(data)
    items, ratings = np.array([0, 3, 5, 9]), np.array([5.0, 1.0, 4.0, 2.5])
    np.testing.assert_allclose(fold_in_scores(m, items, ratings),
                               slow_fold_in(m, items, ratings), rtol=1e-6)
    # No ratings: the unseen user's scores.
    np.testing.assert_allclose(fold_in_scores(m, items[:0], ratings[:0]),
                               m.score_items([-1])[0], rtol=1e-6)


def test_fold_in_of_a_training_users_ratings_scores_like_that_user():
    train, test = low_rank_split(seed=2, noise=0.1)
    m = BayesianFM(rank=3, n_samples=80, burn_in=20, seed=0).fit(train)
    user = int(np.argmax(train.user_counts))
    items, ratings = m.user_history(user)
    folded = m._score_new_user(items.astype(np.int64), ratings.astype(float))
    own = m.score_items([user])[0]
    # Measured: correlation 0.99998, RMSE 0.003 against scores of spread 0.38.
    assert np.corrcoef(folded, own)[0, 1] > 0.999
    assert np.sqrt(np.mean((folded - own) ** 2)) < 0.02


def test_blocks_spellings():
    assert parse_blocks("item, user ,user_implicit") == ("user", "item", "user_implicit")
    assert parse_blocks("time,item,user") == ("user", "item", "time")
    for bad, match in [("user,item,season", "unknown block 'season'"), ("user", "'item'"),
                       ("user,item,item", "twice"), (("user", "item"), "comma-separated")]:
        with pytest.raises(ValueError, match=match):
            parse_blocks(bad)


@pytest.mark.parametrize("bad, match", [({"rank": 0}, "rank"), ({"n_samples": 0}, "n_samples"),
                                        ({"burn_in": 5, "n_samples": 5}, "burn_in"),
                                        ({"init_std": -1.0}, "init_std"),
                                        ({"blocks": "user"}, "blocks"), ({"seed": -1}, "seed")])
def test_bad_hyperparameters_name_the_problem(bad, match):
    with pytest.raises(ValueError, match=match):
        BayesianFM(**bad).fit(small_ratings())
