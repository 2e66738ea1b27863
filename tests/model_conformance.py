"""The conformance suite every model runs (after LensKit's and Surprise's shared model tests).

Use it by subclassing in a model's test file::

    class TestFunkSVD(ModelConformance):
        varied_params = {"n_factors": 3, "reg": 0.5}      # each must change the predictions

        def make_model(self, **overrides):
            return FunkSVD(**{"n_factors": 8, "n_epochs": 5, "seed": 0, **overrides})

The checks: fit returns self; predictions have the right shape, are finite and (for rating
models) inside the rating scale; unknown users/items fall back without raising; recommend
excludes seen items and is sorted; score_items agrees with predict; the same seed gives the
same model; every listed hyperparameter changes the result; save/load round-trips exactly;
truncated and foreign files raise ModelFileError.
"""

from __future__ import annotations

import numpy as np
import pytest

from recsys.dataset import Dataset
from recsys.errors import ModelFileError
from recsys.models.base import Recommender


def small_ratings(seed: int = 0, n_users: int = 40, n_items: int = 30, density: float = 0.35,
                  rank: int = 3, scale: tuple[float, float] = (1.0, 5.0)) -> Dataset:
    """A small low-rank rating Dataset with raw ids offset from the indices (100 + u, 1000 + i).

    Every user and every item has at least two ratings.
    """
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n_users, rank))
    q = rng.normal(size=(n_items, rank))
    full = 3.0 + (p @ q.T) / np.sqrt(rank) + rng.normal(scale=0.3, size=(n_users, n_items))
    mask = rng.random((n_users, n_items)) < density
    for u in range(n_users):
        mask[u, rng.choice(n_items, 2, replace=False)] = True
    for i in range(n_items):
        mask[rng.choice(n_users, 2, replace=False), i] = True
    users, items = np.nonzero(mask)
    ratings = np.clip(np.round(full[users, items] * 2) / 2, *scale)
    ts = rng.integers(10**9, 10**9 + 10**6, size=len(users))
    return Dataset(users, items, ratings, ts, np.arange(n_users) + 100,
                   np.arange(n_items) + 1000, scale, name="small")


class ModelConformance:
    """Mixin of conformance tests; subclasses define ``make_model`` and ``varied_params``."""

    #: hyperparameter name -> a value different from make_model's default that must change
    #: the model's scores.
    varied_params: dict = {}
    def make_model(self, **overrides) -> Recommender:
        raise NotImplementedError

    def make_data(self) -> Dataset:
        return small_ratings()

    # ------------------------------------------------------------------ helpers
    @pytest.fixture
    def data(self) -> Dataset:
        return self.make_data()

    @pytest.fixture
    def fitted(self, data) -> Recommender:
        return self.make_model().fit(data)

    @staticmethod
    def _all_pairs(data: Dataset):
        u = np.repeat(np.arange(data.n_users), data.n_items)
        i = np.tile(np.arange(data.n_items), data.n_users)
        return u, i

    # ------------------------------------------------------------------ checks
    def test_fit_returns_self(self, data):
        model = self.make_model()
        assert model.fit(data) is model

    def test_params_roundtrip(self):
        model = self.make_model()
        clone = model.clone()
        assert clone.get_params() == model.get_params()
        assert type(clone) is type(model)

    def test_predict_shape_finite_and_in_scale(self, fitted, data):
        u, i = self._all_pairs(data)
        pred = fitted.predict(u, i)
        assert pred.shape == u.shape
        assert np.isfinite(pred).all()
        if fitted.predicts_ratings:
            lo, hi = data.rating_scale
            assert pred.min() >= lo and pred.max() <= hi

    def test_unknown_ids_fall_back(self, fitted, data):
        known_u, known_i = data.user_ids[0], data.item_ids[0]
        pred = fitted.predict([known_u, -999, known_u, -999], [known_i, known_i, -777, -777],
                              raw=True)
        assert pred.shape == (4,)
        assert np.isfinite(pred).all()
        if fitted.predicts_ratings:
            lo, hi = data.rating_scale
            assert ((pred >= lo) & (pred <= hi)).all()
        # Out-of-range internal indices behave like unknown ids.
        internal = fitted.predict([data.n_users + 5], [0])
        assert np.isfinite(internal).all()

    def test_score_items_agrees_with_predict(self, fitted, data):
        users = np.arange(min(5, data.n_users))
        scores = fitted.score_items(users)
        assert scores.shape == (len(users), data.n_items)
        u = np.repeat(users, data.n_items)
        i = np.tile(np.arange(data.n_items), len(users))
        pred = fitted.predict(u, i).reshape(len(users), data.n_items)
        expected = np.clip(scores, *data.rating_scale) if fitted.predicts_ratings else scores
        np.testing.assert_allclose(pred, expected, rtol=1e-5, atol=1e-5)

    def test_recommend_excludes_seen_and_is_sorted(self, fitted, data):
        users = np.arange(data.n_users)
        k = 5
        items, scores = fitted.recommend(users, k=k)
        assert items.shape == (data.n_users, k) and scores.shape == (data.n_users, k)
        seen = data.csr
        for u in users:
            got = items[u][items[u] >= 0]
            assert not set(got) & set(seen.indices[seen.indptr[u]:seen.indptr[u + 1]])
            s = scores[u][items[u] >= 0]
            assert (np.diff(s) <= 1e-12).all()
        one_items, one_scores = fitted.recommend(int(users[0]), k=k)
        np.testing.assert_array_equal(one_items, items[0])
        raw_items, _ = fitted.recommend(data.user_ids[0], k=k, raw=True)
        np.testing.assert_array_equal(raw_items, data.item_ids[items[0]])

    def test_same_seed_same_model(self, data):
        u, i = self._all_pairs(data)
        a = self.make_model().fit(data).predict(u, i)
        b = self.make_model().fit(data).predict(u, i)
        np.testing.assert_array_equal(a, b)

    def test_every_hyperparameter_matters(self, data):
        u, i = self._all_pairs(data)
        base = self.make_model().fit(data).score_items(np.arange(data.n_users))
        for name, value in self.varied_params.items():
            other = self.make_model(**{name: value}).fit(data).score_items(
                np.arange(data.n_users))
            assert not np.allclose(base, other), f"hyperparameter {name} changed nothing"

    def test_save_load_roundtrip(self, fitted, data, tmp_path):
        path = fitted.save(tmp_path / "model.npz")
        loaded = Recommender.load(path)
        assert type(loaded) is type(fitted)
        assert loaded.get_params() == fitted.get_params()
        u, i = self._all_pairs(data)
        np.testing.assert_array_equal(loaded.predict(u, i), fitted.predict(u, i))
        a_items, a_scores = fitted.recommend(np.arange(data.n_users), k=5)
        b_items, b_scores = loaded.recommend(np.arange(data.n_users), k=5)
        np.testing.assert_array_equal(a_items, b_items)
        np.testing.assert_array_equal(a_scores, b_scores)
        assert type(fitted).load(path).get_params() == fitted.get_params()
        assert not list(tmp_path.glob("*.tmp")), "save left a temporary file behind"

    def test_load_rejects_truncated_and_foreign_files(self, fitted, tmp_path):
        path = fitted.save(tmp_path / "model.npz")
        blob = path.read_bytes()
        truncated = tmp_path / "truncated.npz"
        truncated.write_bytes(blob[: len(blob) // 2])
        with pytest.raises(ModelFileError):
            Recommender.load(truncated)
        foreign = tmp_path / "foreign.npz"
        np.savez(foreign, x=np.arange(3))
        with pytest.raises(ModelFileError):
            Recommender.load(foreign)
        text = tmp_path / "text.npz"
        text.write_text("not a model")
        with pytest.raises(ModelFileError):
            Recommender.load(text)
