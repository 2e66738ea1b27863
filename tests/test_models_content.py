"""ContentKNN: conformance, item vectors, the rating and profile formulas against NumPy,
cold-start items, explanations, new users, and the missing-metadata error."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model_conformance import ModelConformance
from recsys.dataset import Dataset
from recsys.features import genre_matrix, tfidf_matrix, year_matrix
from recsys.models import Baseline, ContentKNN, Recommender
from recsys.models.content import item_features, with_catalogue

GENRES = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi"]
WORDS = {  # title words that go with each genre, so that titles carry some signal
    "Action": ["fist", "fury", "strike"], "Comedy": ["laugh", "party", "crazy"],
    "Drama": ["river", "quiet", "life"], "Horror": ["night", "blood", "house"],
    "Romance": ["love", "kiss", "summer"], "Sci-Fi": ["star", "robot", "planet"],
}
TAGS = ["classic", "cult", "dark", "feel good", "twist"]


def make_item_info(n_items: int, rng: np.random.Generator, first_id: int = 1000):
    """Titles with "(year)", "|"-joined genres and tags (some missing), indexed by raw id;
    also each item's genre indices."""
    rows, genre_sets = [], []
    for i in range(n_items):
        g = sorted(rng.choice(len(GENRES), size=rng.integers(1, 4), replace=False))
        genre_sets.append(g)
        words = [rng.choice(WORDS[GENRES[g[0]]]), rng.choice(sum(WORDS.values(), []))]
        year = int(rng.integers(1950, 2010))
        tags = rng.choice(TAGS, size=rng.integers(0, 3), replace=False)
        rows.append({"item": first_id + i, "title": f"The {' '.join(words).title()} ({year})",
                     "genres": "|".join(GENRES[j] for j in g),
                     "tags": "|".join(tags) if len(tags) else None})
    return pd.DataFrame(rows).set_index("item"), genre_sets


def content_data(seed: int = 0, n_users: int = 40, n_items: int = 30, density: float = 0.35,
                 n_cold_users: int = 3, n_cold_items: int = 1) -> Dataset:
    """Ratings driven by each user's taste for genres, with item_info.

    Raw ids 100 + u and 1000 + i. The last ``n_cold_items`` items have no rating (they are in
    the id map and in item_info); the first ``n_cold_users`` users have exactly 3 ratings;
    every other user and item has at least 2.
    """
    rng = np.random.default_rng(seed)
    info, genre_sets = make_item_info(n_items, rng)
    taste = rng.normal(size=(n_users, len(GENRES)))
    quality = rng.normal(scale=0.5, size=n_items)
    affinity = np.array([[taste[u, g].mean() for g in genre_sets] for u in range(n_users)])
    full = 3.2 + 0.9 * affinity + quality + rng.normal(scale=0.3, size=(n_users, n_items))
    warm = n_items - n_cold_items
    mask = rng.random((n_users, n_items)) < density
    for u in range(n_users):
        mask[u, rng.choice(warm, 2, replace=False)] = True
    for i in range(warm):
        mask[rng.choice(np.arange(n_cold_users, n_users), 2, replace=False), i] = True
    mask[:, warm:] = False
    for u in range(n_cold_users):
        mask[u] = False
        mask[u, rng.choice(warm, 3, replace=False)] = True
    users, items = np.nonzero(mask)
    ratings = np.clip(np.round(full[users, items] * 2) / 2, 1.0, 5.0)
    return Dataset(users, items, ratings, None, np.arange(n_users) + 100,
                   np.arange(n_items) + 1000, (1.0, 5.0), item_info=info, name="content")


class TestContentKNN(ModelConformance):
    varied_params = {"k": 2, "max_neighbors": 3, "scoring": "profile", "centering": "baseline",
                     "genre_weight": 0.2, "decade_weight": 2.0, "title_weight": 2.0,
                     "tag_weight": 0.0}
    expected_rmse = (0.868, 0.899)  # measured 0.8887

    def make_data(self):
        return content_data()

    def make_model(self, **overrides):
        return ContentKNN(**{"k": 10, **overrides})


class TestContentKNNProfile(ModelConformance):
    # k and max_neighbors only shape the rating neighbourhoods; the profile ignores them.
    varied_params = {"centering": "baseline", "genre_weight": 0.2, "decade_weight": 2.0,
                     "title_weight": 2.0, "tag_weight": 0.0}
    expected_ndcg = (0.043, 0.074)  # measured 0.0535

    def make_data(self):
        return content_data(seed=1)

    def make_model(self, **overrides):
        return ContentKNN(**{"scoring": "profile", **overrides})


# ---------------------------------------------------------------------- item vectors
def _dense_unit(m) -> np.ndarray:
    d = np.asarray(m.todense() if hasattr(m, "todense") else m, dtype=np.float64)
    n = np.linalg.norm(d, axis=1, keepdims=True)
    return np.divide(d, n, out=np.zeros_like(d), where=n > 0)


@pytest.mark.parametrize("weights", [(1.0, 0.5, 0.5, 1.0), (0.0, 1.0, 2.0, 0.3),
                                     (2.0, 0.0, 0.0, 0.0)])
def test_item_features_are_the_weighted_normalised_blocks(weights):
    data = content_data(seed=3)
    wg, wd, wt, wx = weights
    x, names = item_features(data, *weights)
    blocks = [w * _dense_unit(b) for w, b in [
        (wg, genre_matrix(data)[0]), (wd, year_matrix(data)),
        (wt, tfidf_matrix(data, fields=("title",))[0]),
        (wx, tfidf_matrix(data, fields=("tags",))[0])] if w > 0]
    expected = _dense_unit(np.hstack(blocks))
    np.testing.assert_allclose(x.toarray(), expected, atol=1e-6)
    assert x.shape == (data.n_items, len(names))
    assert all(n.split(":")[0] in ("genre", "decade", "title", "tag") for n in names)
    assert any(n.startswith("decade:19") for n in names) == (wd > 0)
    assert any(n.startswith("tag:") for n in names) == (wx > 0)


def test_block_weights_set_each_blocks_share_of_the_cosine():
    # Two items that share their genres exactly and nothing else: cos = wg^2 / sum w^2.
    info = pd.DataFrame({"title": ["Alpha (1950)", "Beta (1990)"],
                         "genres": ["Comedy|Drama", "Comedy|Drama"],
                         "tags": ["cult", "twist"]}, index=[1, 2])
    data = Dataset([0, 0], [0, 1], [4.0, 2.0], None, [7], [1, 2], (1.0, 5.0), item_info=info)
    x, _ = item_features(data, 1.0, 0.5, 2.0, 1.0)
    cos = float((x[0] @ x[1].T).toarray()[0, 0])
    assert cos == pytest.approx(1.0 / (1.0 + 0.25 + 4.0 + 1.0), rel=1e-6)


def test_dataset_without_item_info_is_a_clear_error():
    data = content_data()
    bare = Dataset(data.users, data.items, data.ratings, None, data.user_ids, data.item_ids,
                   data.rating_scale, name="bare")
    with pytest.raises(ValueError, match="ContentKNN needs item metadata.*'bare'.*item_info"):
        ContentKNN().fit(bare)


def test_bad_hyperparameters_raise():
    data = content_data()
    for params in ({"k": 0}, {"scoring": "dot"}, {"genre_weight": -1.0},
                   {"genre_weight": 0, "decade_weight": 0, "title_weight": 0,
                    "tag_weight": 0}, {"max_neighbors": 0}):
        with pytest.raises(ValueError):
            ContentKNN(**params).fit(data)


# ---------------------------------------------------------------------- formulas vs NumPy
def _centres(data: Dataset, centering: str):
    """(mu, user offsets, item offsets) of b_ui = mu + bu[u] + bi[i], from scratch."""
    if centering == "mean":
        return data.global_mean, data.user_means - data.global_mean, np.zeros(data.n_items)
    base = Baseline(**ContentKNN.BASELINE).fit(data)
    return base.global_mean_, base.user_bias_.astype(float), base.item_bias_.astype(float)


def _oracle_rating(sim, centres, data: Dataset, user: int, item: int, k: int) -> float:
    mu, bu, bi = centres
    sims = sim[item]
    rated, ratings = data.user_items(user)
    cand = sorted((-np.float32(sims[j]), j, r) for j, r in zip(rated, ratings) if sims[j] > 0)
    top = cand[:k]
    if not top:
        return float(mu + bu[user] + bi[item])
    s = np.array([-c[0] for c in top], dtype=np.float64)
    j = np.array([c[1] for c in top])
    r = np.array([c[2] for c in top], dtype=np.float64)
    return float(mu + bu[user] + bi[item] + (s * (r - mu - bu[user] - bi[j])).sum() / s.sum())


@pytest.mark.parametrize("k, centering", [(1, "mean"), (3, "mean"), (40, "mean"),
                                          (5, "baseline")])
def test_rating_prediction_matches_the_formula(k, centering):
    data = content_data(seed=4)
    model = ContentKNN(k=k, centering=centering).fit(data)
    x = item_features(data)[0].toarray().astype(np.float64)
    # The stored similarities are the cosines (the oracle then ranks by the stored float32
    # values, so that near-ties at the k-th neighbour are broken as the kernel broke them).
    sim = model.similarity_.toarray()
    cosine = x @ x.T
    np.fill_diagonal(cosine, 0.0)
    np.testing.assert_allclose(sim, cosine, atol=1e-6)
    centres = _centres(data, centering)
    users = np.repeat(np.arange(data.n_users), data.n_items)
    items = np.tile(np.arange(data.n_items), data.n_users)
    got = model._score(users, items)
    want = np.array([_oracle_rating(sim, centres, data, u, i, k) for u, i in zip(users, items)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    # Unknown user: b_ui without the user's part; unknown item: the user's centre.
    mu, bu, bi = centres
    np.testing.assert_allclose(model._score(np.array([-1, 3]), np.array([2, -1])),
                               [mu + bi[2], mu + bu[3]], atol=1e-9)


@pytest.mark.parametrize("centering", ["mean", "baseline"])
def test_profile_scores_match_the_formula(centering):
    data = content_data(seed=5)
    model = ContentKNN(scoring="profile", centering=centering).fit(data)
    x = item_features(data)[0].toarray().astype(np.float64)
    mu, bu, bi = _centres(data, centering)
    dense = data.csr.toarray().astype(np.float64)
    scores = model.score_items(np.arange(data.n_users))
    for u in range(data.n_users):
        rated = dense[u] != 0
        w = np.where(rated, dense[u] - mu - bu[u] - bi, 0.0)
        if not np.any(w[rated]):
            w = dense[u]
        p = w @ x
        np.testing.assert_allclose(scores[u], x @ p / np.linalg.norm(p), atol=1e-6)
    assert (np.abs(scores) <= 1 + 1e-9).all()


def test_flat_user_falls_back_to_the_uncentred_profile():
    data = content_data(seed=6)
    model = ContentKNN(scoring="profile").fit(data)
    item = int(np.argmax(data.item_counts))
    scores = model._score_new_user(np.array([item]), np.array([4.0]))
    assert np.argmax(np.where(np.arange(data.n_items) == item, -np.inf, scores)) != item
    assert scores[item] == pytest.approx(1.0)  # the profile is the item's own vector
    assert np.ptp(scores) > 0


# ---------------------------------------------------------------------- cold-start items
def _taste_data():
    """Group A (users 0-5) loves comedies and hates dramas, group B the reverse; item 8 is
    a comedy and item 9 a drama that nobody rated."""
    genres = ["Comedy", "Comedy|Romance", "Comedy", "Comedy", "Drama", "Drama|War", "Drama",
              "Drama", "Comedy|Romance", "Drama|War"]
    titles = [f"Film {w} ({1990 + i})" for i, w in enumerate(
        ["laugh", "party", "laugh", "joke", "river", "war", "river", "tears", "party", "war"])]
    info = pd.DataFrame({"title": titles, "genres": genres}, index=np.arange(10) + 1)
    users, items, ratings = [], [], []
    rng = np.random.default_rng(0)
    for u in range(12):
        liked = range(0, 4) if u < 6 else range(4, 8)
        for i in rng.choice(8, size=6, replace=False):
            users.append(u)
            items.append(i)
            ratings.append(5.0 if i in liked else 1.0 + (u % 2))
    return Dataset(users, items, ratings, None, np.arange(12) + 1, np.arange(10) + 1,
                   (1.0, 5.0), item_info=info, name="taste")


@pytest.mark.parametrize("scoring", ["rating", "profile"])
def test_cold_item_gets_a_personal_score(scoring):
    data = _taste_data()
    assert data.item_counts[8] == 0 and data.item_counts[9] == 0
    model = ContentKNN(scoring=scoring, k=5).fit(data)
    group_a, group_b = np.arange(6), np.arange(6, 12)
    comedy_a = model.predict(group_a, np.full(6, 8))
    comedy_b = model.predict(group_b, np.full(6, 8))
    drama_a = model.predict(group_a, np.full(6, 9))
    assert np.ptp(np.concatenate([comedy_a, comedy_b])) > 0.5 * (4 if scoring == "rating" else 1)
    assert comedy_a.min() > comedy_b.max()
    assert comedy_a.min() > drama_a.max()
    if scoring == "rating":  # above the user's mean for fans, below it for the others
        assert (comedy_a > data.user_means[group_a]).all()
        assert (comedy_b < data.user_means[group_b]).all()
    # Every comedy fan gets the cold comedy before any drama they have not rated.
    ranked, _ = model.recommend(group_a, k=data.n_items)
    for row in ranked:
        row = list(row[row >= 0])
        assert all(row.index(8) < row.index(d) for d in (4, 5, 6, 7, 9) if d in row)


def test_with_catalogue_indexes_items_no_one_rated():
    data = _taste_data()
    info = pd.concat([data.item_info, pd.DataFrame(
        {"title": ["Extra laugh (1999)"], "genres": ["Comedy"]}, index=[99])])
    ds = Dataset(data.users, data.items, data.ratings, None, data.user_ids, data.item_ids,
                 data.rating_scale, item_info=info)
    full = with_catalogue(ds)
    assert full.n_items == ds.n_items + 1 and full.item_ids[-1] == 99
    assert full.n_ratings == ds.n_ratings
    model = ContentKNN(scoring="profile").fit(full)
    a = model.predict([1, 7], [99, 99], raw=True)
    assert a[0] > a[1]
    assert with_catalogue(full) is full


# ---------------------------------------------------------------------- serving hooks
@pytest.mark.parametrize("scoring, centering", [("rating", "mean"), ("profile", "mean"),
                                                ("rating", "baseline")])
def test_explain_lists_the_users_items_by_contribution(scoring, centering):
    data = content_data(seed=7)
    model = ContentKNN(scoring=scoring, centering=centering, k=8).fit(data)
    mu, bu, bi = _centres(data, centering)
    checked = 0
    for u in range(5, data.n_users, 9):
        rated, _ = data.user_items(u)
        for i in range(0, data.n_items, 2):
            items, contrib = model.explain(u, i, n=1000)
            if not len(items):
                continue
            checked += 1
            assert set(items) <= set(rated)
            assert (np.diff(contrib) <= 1e-12).all()
            score = model._score(np.array([u]), np.array([i]))[0]
            base = mu + bu[u] + bi[i] if scoring == "rating" else 0.0
            assert contrib.sum() == pytest.approx(score - base, abs=1e-5)
            top, top_c = model.explain(u, i, n=2)
            np.testing.assert_array_equal(top, items[:2])
    assert checked > 10
    raw_items, _ = model.explain(data.user_ids[5], data.item_ids[0], n=3, raw=True)
    assert set(raw_items) <= set(data.item_ids)


@pytest.mark.parametrize("scoring", ["rating", "profile"])
def test_new_user_scores_equal_a_known_users(scoring):
    data = content_data(seed=8)
    model = ContentKNN(scoring=scoring).fit(data)
    for u in (4, 11):
        items, ratings = data.user_items(u)
        new = model._score_new_user(items, ratings)
        np.testing.assert_allclose(new, model.score_items([u])[0], atol=1e-9)
    # Baseline centering: the new user's bias is one ALS step, close to the fitted one.
    based = ContentKNN(scoring=scoring, centering="baseline").fit(data)
    new = based._score_new_user(items, ratings)
    assert np.corrcoef(new, based.score_items([11])[0])[0, 1] > 0.95
    top, _ = model.recommend_new_user(items, ratings, k=5)
    assert not set(top) & set(items)


def test_similar_items_ranks_an_identical_item_first():
    info, _ = make_item_info(12, np.random.default_rng(9), first_id=1)
    info.iloc[7] = info.iloc[2]
    data = Dataset([0, 0, 1], [0, 2, 7], [4.0, 3.0, 5.0], None, [1, 2], np.arange(12) + 1,
                   (1.0, 5.0), item_info=info)
    model = ContentKNN().fit(data)
    items, sims = model.similar_items(2, k=3)
    assert items[0] == 7 and sims[0] == pytest.approx(1.0)
    assert (np.diff(sims) <= 0).all()


def test_save_load_keeps_the_feature_matrix(tmp_path):
    data = content_data()
    model = ContentKNN(scoring="profile").fit(data)
    loaded = Recommender.load(model.save(tmp_path / "c.npz"))
    assert (loaded.features_ != model.features_).nnz == 0
    np.testing.assert_array_equal(loaded.feature_names_, model.feature_names_)
    np.testing.assert_array_equal(loaded.explain(5, 3)[0], model.explain(5, 3)[0])
    np.testing.assert_allclose(loaded._score_new_user([1, 2], [5.0, 1.0]),
                               model._score_new_user([1, 2], [5.0, 1.0]))
