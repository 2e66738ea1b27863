"""Hybrid: conformance (rating and ranking blends), switching, fitted weights (on a carved or
a given validation set), capabilities and their delegation, specs and persistence of members."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from model_conformance import ModelConformance
from recsys.errors import UnsupportedError
from recsys.metrics import rmse
from recsys.models import (Baseline, ContentKNN, Hybrid, ItemKNN, Popularity, Recommender,
                           UserKNN)
from recsys.models.hybrid import simplex_least_squares
from recsys.split import holdout
from test_models_content import content_data


def _rating_hybrid(**overrides):
    return Hybrid(**{"models": [ContentKNN(k=10), Baseline()], **overrides})


class TestHybridRatings(ModelConformance):
    varied_params = {
        "models": [ContentKNN(k=2, title_weight=0.0), Baseline(reg_item=50.0)],
        "weights": [0.8, 0.2],
        "switch_min_ratings": 0,
        "switch_model": 1,
        "validation_fraction": 0.3,
        "seed": 1,
    }
    expected_rmse = (0.806, 0.837)  # measured 0.8269

    def make_data(self):
        return content_data(seed=2)

    def make_model(self, **overrides):
        return _rating_hybrid(**overrides)


class TestHybridRanking(ModelConformance):
    varied_params = {"weights": [0.2, 0.8], "switch_min_ratings": 0,
                     "models": [ContentKNN(scoring="profile", genre_weight=0.1),
                                Popularity()]}
    expected_ndcg = (0.192, 0.229)  # measured 0.2043

    def make_data(self):
        return content_data(seed=3)

    def make_model(self, **overrides):
        return Hybrid(**{"models": [ContentKNN(scoring="profile"), Popularity()],
                         "weights": [0.5, 0.5], **overrides})


# ---------------------------------------------------------------------- switching
def test_switching_sends_cold_items_and_cold_users_to_the_content_model():
    data = content_data(seed=4, n_cold_users=3, n_cold_items=2)
    hybrid = _rating_hybrid(weights=[0.0, 1.0], switch_min_ratings=5).fit(data)
    content = ContentKNN(k=10).fit(data)
    base = Baseline().fit(data)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    cold = (data.user_counts[users] < 5) | (data.item_counts[items] == 0)
    assert cold.sum() > 0 and (~cold).sum() > 0
    got = hybrid.predict(users, items)
    np.testing.assert_allclose(got[cold], content.predict(users[cold], items[cold]))
    np.testing.assert_allclose(got[~cold], base.predict(users[~cold], items[~cold]))
    # The content model gives a cold item personal scores; the baseline could not.
    cold_item = data.n_items - 1
    warm_users = np.flatnonzero(data.user_counts >= 5)
    assert np.ptp(hybrid.predict(warm_users, np.full(len(warm_users), cold_item))) > 0.1
    # Unknown users and items switch too.
    unknown = hybrid.predict([-999, data.user_ids[10]], [data.item_ids[0], -777], raw=True)
    np.testing.assert_allclose(unknown, content.predict([-999, data.user_ids[10]],
                                                        [data.item_ids[0], -777], raw=True))
    # No switching without a switch model, or with switch_min_ratings=0 for warm items.
    plain = Hybrid([Baseline(), Baseline(reg_user=5.0)], weights=[1.0, 0.0]).fit(data)
    assert plain.switch_index_ == -1
    np.testing.assert_allclose(plain.predict(users, items), base.predict(users, items))
    never = _rating_hybrid(weights=[0.0, 1.0], switch_min_ratings=0).fit(data)
    warm_item = data.item_counts[items] > 0
    np.testing.assert_allclose(never.predict(users[warm_item], items[warm_item]),
                               base.predict(users[warm_item], items[warm_item]))


def test_switching_in_a_ranking_blend_and_for_new_users():
    data = content_data(seed=5, n_cold_items=2)
    hybrid = Hybrid([ContentKNN(scoring="profile"), Popularity()], weights=[0.0, 1.0]).fit(data)
    content = hybrid.members_[0]
    scores = hybrid.score_items(np.arange(data.n_users))
    z = (lambda j, s: (s - hybrid.offsets_[j]) / hybrid.scales_[j])
    own = z(0, content.score_items(np.arange(data.n_users)))
    cold_items = data.item_counts == 0
    cold_users = data.user_counts < 5
    np.testing.assert_allclose(scores[:, cold_items], own[:, cold_items])
    np.testing.assert_allclose(scores[cold_users], own[cold_users])
    # A new user with few ratings is scored by the switch model alone.
    new = hybrid._score_new_user(np.array([0, 1]), np.array([5.0, 1.0]))
    np.testing.assert_allclose(new, z(0, content._score_new_user(np.array([0, 1]),
                                                                 np.array([5.0, 1.0]))))
    items, ratings = data.user_items(20)
    new = hybrid._score_new_user(items, ratings)
    pop = z(1, hybrid.members_[1].item_scores_.astype(np.float64))
    np.testing.assert_allclose(new[~cold_items], pop[~cold_items])


# ---------------------------------------------------------------------- fitted weights
def test_fitted_weights_do_no_worse_than_the_worse_member_on_held_out_data():
    data = content_data(seed=6, n_users=80, n_items=40, n_cold_users=0, n_cold_items=0)
    fold = holdout(data, 0.2, seed=0)[0]
    members = [ContentKNN(k=10), Baseline()]
    hybrid = Hybrid(members, switch_min_ratings=0).fit(fold.train)
    alone = [rmse(fold.test.ratings, m.clone().fit(fold.train).predict(
        fold.test.users, fold.test.items)) for m in members]
    blended = rmse(fold.test.ratings, hybrid.predict(fold.test.users, fold.test.items))
    assert blended <= max(alone) + 1e-9
    assert blended <= min(alone) + 0.02
    w = hybrid.weights_
    assert w.shape == (2,) and (w >= 0).all() and w.sum() == pytest.approx(1.0)
    assert 0 < w[0] < 1  # both members help on this data
    val = hybrid.validation_scores_
    assert val[-1] <= val[:-1].min() + 1e-12  # on the validation part, by construction


def test_fitted_ranking_weights_pick_the_best_grid_point():
    data = content_data(seed=7, n_users=60, n_items=30)
    hybrid = Hybrid([ContentKNN(scoring="profile"), Popularity()]).fit(data)
    assert hybrid.weights_.sum() == pytest.approx(1.0)
    assert np.allclose(hybrid.weights_ * 10, np.round(hybrid.weights_ * 10))
    val = hybrid.validation_scores_
    assert val[-1] >= val[:-1].max() - 1e-12
    assert not hybrid.predicts_ratings and (hybrid.scales_ > 0).all()


def test_weights_fitted_on_a_given_validation_set():
    data = content_data(seed=6, n_users=80, n_items=40, n_cold_users=0, n_cold_items=0)
    fold = holdout(data, 0.2, seed=0)[0]
    members = [ContentKNN(k=10), Baseline()]
    hybrid = Hybrid(members, switch_min_ratings=0).fit(fold.train, validation=fold.test)
    alone = [m.clone().fit(fold.train) for m in members]
    for fitted, single in zip(hybrid.members_, alone):  # fitted on train once, not refitted
        np.testing.assert_array_equal(fitted.score_items(np.arange(data.n_users)),
                                      single.score_items(np.arange(data.n_users)))
    P = np.column_stack([m.predict(fold.test.users, fold.test.items) for m in alone])
    np.testing.assert_allclose(hybrid.weights_, simplex_least_squares(P, fold.test.ratings))
    rmses = [rmse(fold.test.ratings, P[:, j]) for j in range(2)]
    np.testing.assert_allclose(hybrid.validation_scores_[:2], rmses)
    assert hybrid.validation_scores_[-1] <= min(rmses) + 1e-12
    # With given weights there is nothing to fit: the validation set changes nothing.
    given = Hybrid(members, weights=[0.5, 0.5]).fit(fold.train, validation=fold.test)
    plain = Hybrid(members, weights=[0.5, 0.5]).fit(fold.train)
    np.testing.assert_array_equal(given.score_items(np.arange(5)), plain.score_items(np.arange(5)))
    with pytest.raises(ValueError, match="id maps"):
        Hybrid(members).fit(fold.train, validation=content_data(seed=1))
    with pytest.raises(ValueError, match="no ratings"):
        Hybrid(members).fit(fold.train, validation=fold.test.subset(np.zeros(
            fold.test.n_ratings, dtype=bool)))
    with pytest.raises(TypeError, match="validation must be a recsys Dataset"):
        Hybrid(members).fit(fold.train, validation=fold.test.to_frame())


def test_a_generator_seed_splits_as_its_integer_does():
    data = content_data(seed=7, n_users=60, n_items=30)
    by_int = Hybrid([ContentKNN(scoring="profile"), Popularity()], seed=3).fit(data)
    by_rng = Hybrid([ContentKNN(scoring="profile"), Popularity()],
                    seed=np.random.default_rng(3)).fit(data)
    np.testing.assert_array_equal(by_rng.weights_, by_int.weights_)
    np.testing.assert_array_equal(by_rng.validation_scores_, by_int.validation_scores_)


def test_capabilities_are_what_the_delegation_reaches():
    data = content_data(seed=12)
    everything = {"new_user", "similar_items", "explain", "shared_features"}
    assert _rating_hybrid().capabilities == everything  # unfitted: any member's
    # Weight 0 takes the content model's similarity and explanations away (it still
    # switches, folds in new users with few ratings, and knows what two items share).
    base_only = _rating_hybrid(weights=[0.0, 1.0]).fit(data)
    assert base_only.capabilities == {"new_user", "shared_features"}
    with pytest.raises(UnsupportedError):
        base_only.explain(10, 3)
    with pytest.raises(UnsupportedError):
        base_only.similar_items(3)
    assert _rating_hybrid(weights=[0.5, 0.5]).fit(data).capabilities == everything
    # A switch model that cannot fold in users takes new users away.
    knn = ItemKNN(k=10, similarity="cosine", centering="mean")
    no_fold_in = Hybrid([knn, UserKNN(k=10, similarity="cosine")], weights=[0.5, 0.5],
                        switch_model=1).fit(data)
    assert no_fold_in.capabilities == {"similar_items", "explain"}
    with pytest.raises(UnsupportedError):
        no_fold_in.recommend_new_user([0, 1], [4.0, 2.0])


@pytest.mark.parametrize("seed", range(6))
def test_simplex_least_squares_beats_every_grid_point(seed):
    rng = np.random.default_rng(seed)
    n, m = 50, int(rng.integers(1, 4))
    P = rng.normal(size=(n, m)) + rng.normal(size=(1, m))
    y = P @ rng.dirichlet(np.ones(m)) + rng.normal(scale=0.5, size=n)
    if seed % 2:
        y += 3.0  # the unconstrained optimum leaves the simplex
    w = simplex_least_squares(P, y)
    assert (w >= 0).all() and w.sum() == pytest.approx(1.0)
    best = np.sum((y - P @ w) ** 2)
    steps = 40
    for c in itertools.product(range(steps + 1), repeat=m):
        if sum(c) == steps:
            g = np.array(c) / steps
            assert best <= np.sum((y - P @ g) ** 2) + 1e-9


# ---------------------------------------------------------------------- explanation
def test_explanation_comes_from_the_heaviest_member_that_can_explain():
    data = content_data(seed=8)
    # Baseline weighs most but cannot explain: the content model explains.
    hybrid = _rating_hybrid(weights=[0.3, 0.7], switch_min_ratings=0).fit(data)
    content = hybrid.members_[0]
    user = 10
    rated, _ = data.user_items(user)
    for item in range(data.n_items):
        items, contrib = hybrid.explain(user, item, n=4)
        want_items, want_contrib = content.explain(user, item, n=4)
        np.testing.assert_array_equal(items, want_items)
        np.testing.assert_allclose(contrib, want_contrib)
        assert set(items) <= set(rated)
        assert (np.diff(contrib) <= 0).all()
    # ItemKNN weighs most and can explain: it does, except for a switched (cold) item.
    both = Hybrid([ContentKNN(k=10), ItemKNN(k=10, similarity="cosine", centering="mean")],
                  weights=[0.2, 0.8]).fit(data)
    knn = both.members_[1]
    warm = int(np.flatnonzero(data.item_counts > 0)[0])
    np.testing.assert_array_equal(both.explain(user, warm, n=3)[0],
                                  knn.explain(user, warm, n=3)[0])
    cold = data.n_items - 1
    items, contrib = both.explain(user, cold, n=3)
    np.testing.assert_array_equal(items, both.members_[0].explain(user, cold, n=3)[0])
    assert len(items) and set(items) <= set(rated) and (np.diff(contrib) <= 0).all()
    # Nobody can explain: NotImplementedError.
    with pytest.raises(NotImplementedError):
        Hybrid([Baseline(), Baseline(reg_user=1.0)], weights=[0.5, 0.5]).fit(data).explain(0, 0)


def test_similar_items_delegate_to_a_member_with_a_similarity():
    data = content_data(seed=9)
    hybrid = _rating_hybrid(weights=[0.4, 0.6]).fit(data)
    np.testing.assert_array_equal(hybrid.similar_items(3, k=5)[0],
                                  hybrid.members_[0].similar_items(3, k=5)[0])


# ---------------------------------------------------------------------- params, persistence
def test_members_as_specs_and_params_as_plain_data():
    spec = [{"class": "ContentKNN", "params": {"k": 10}}, {"class": "Baseline"}]
    a = Hybrid(spec, weights=(1, 3))
    b = _rating_hybrid(weights=[0.25, 0.75])
    params = a.get_params()
    assert params["models"][0] == {"class": "ContentKNN",
                                   "params": ContentKNN(k=10).get_params()}
    assert params["weights"] == [1.0, 3.0]
    data = content_data(seed=10)
    np.testing.assert_allclose(a.fit(data).score_items(np.arange(5)),
                               b.fit(data).score_items(np.arange(5)))
    members = [ContentKNN(k=10), Baseline()]
    Hybrid(members).fit(data)
    assert not hasattr(members[0], "item_ids_")  # the objects passed are never fitted


@pytest.mark.parametrize("params, message", [
    ({"models": []}, "at least one"),
    ({"models": [Baseline()], "weights": [1.0, 2.0]}, "weights has 2"),
    ({"models": [Baseline(), Baseline()], "weights": [-1.0, 2.0]}, "non-negative"),
    ({"models": [Baseline()], "switch_model": 3}, "switch_model=3"),
    ({"models": [{"class": "NoSuchModel"}]}, "unknown model class"),
    ({"models": [Baseline()], "validation_fraction": 1.0}, "validation_fraction"),
])
def test_bad_parameters_raise(params, message):
    with pytest.raises(ValueError, match=message):
        Hybrid(**params).fit(content_data())


def test_nested_hybrid_round_trips(tmp_path):
    data = content_data(seed=11)
    inner = Hybrid([ContentKNN(k=5), Baseline()], weights=[0.5, 0.5])
    outer = Hybrid([inner, ItemKNN(k=10, similarity="cosine", centering="mean")]).fit(data)
    path = outer.save(tmp_path / "nested.npz")
    loaded = Recommender.load(path)
    assert type(loaded.members_[0]) is Hybrid and loaded.get_params() == outer.get_params()
    np.testing.assert_array_equal(loaded.score_items(np.arange(data.n_users)),
                                  outer.score_items(np.arange(data.n_users)))
    np.testing.assert_array_equal(loaded.weights_, outer.weights_)
    np.testing.assert_array_equal(loaded.explain(7, 2)[0], outer.explain(7, 2)[0])
    with np.load(path, allow_pickle=False) as npz:
        assert "m0__m0__feature_data_" in npz.files and "m1__similarity_data_" in npz.files
        assert not any(k.startswith("m0__user_ids") for k in npz.files)


# ---------------------------------------------------------------------- TMDB content
def test_a_cold_item_gets_the_tmdb_content_models_score(tmp_path):
    from test_content_tmdb import tmdb_data

    data = tmdb_data(seed=3, n_users=50, n_items=45, n_cold_items=3)
    cold = np.flatnonzero(data.item_counts == 0)
    content = ContentKNN(features="tmdb", k=10)
    rating = Hybrid([ItemKNN(k=10), content]).fit(data)
    assert rating.switch_index_ == 1 and rating.members_[1].features == "tmdb"
    alone = content.clone().fit(data)
    users = np.repeat(np.arange(data.n_users), len(cold))
    items = np.tile(cold, data.n_users)
    np.testing.assert_allclose(rating.predict(users, items), alone.predict(users, items),
                               atol=1e-12)
    assert np.ptp(rating.predict(users, items)) > 0.5  # personal, not a fallback
    warm = np.full(data.n_users, int(np.argmax(data.item_counts)))
    blend = rating.predict(np.arange(data.n_users), warm)
    assert not np.allclose(blend, alone.predict(np.arange(data.n_users), warm))
    # A ranking blend: the cold columns are the content model's standardised profile scores.
    profile = ContentKNN(features="tmdb", scoring="profile")
    ranking = Hybrid([ItemKNN(k=10, similarity="cosine", aggregate="sum"), profile]).fit(data)
    own = profile.clone().fit(data).score_items(np.arange(data.n_users))
    np.testing.assert_allclose(ranking.score_items(np.arange(data.n_users))[:, cold],
                               (own[:, cold] - ranking.offsets_[1]) / ranking.scales_[1],
                               atol=1e-9)
    # What two items share comes from the content member, before and after save/load.
    assert rating.supports_shared_features and "shared_features" in rating.capabilities
    assert rating.shared_features(0, 1) == alone.shared_features(0, 1)
    loaded = Recommender.load(rating.save(tmp_path / "h.npz"))
    assert loaded.shared_features(cold[-1], 2) == alone.shared_features(cold[-1], 2)
    np.testing.assert_array_equal(loaded.predict(users, items), rating.predict(users, items))


def test_shared_features_need_a_member_that_knows():
    from test_content_tmdb import tmdb_data

    assert Hybrid([ItemKNN(k=10), ContentKNN(features="tmdb")]).supports_shared_features
    model = Hybrid([ItemKNN(k=10), Baseline()])
    assert not model.supports_shared_features  # before fit: what the members would do
    model.fit(tmdb_data(seed=4))
    assert not model.supports_shared_features
    assert "shared_features" not in model.capabilities
    with pytest.raises(UnsupportedError, match="cannot say what two items share"):
        model.shared_features(0, 1)
