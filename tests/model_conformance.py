"""The conformance suite every model runs (after LensKit's and Surprise's shared model tests).

Use it by subclassing in a model's test file::

    class TestFunkSVD(ModelConformance):
        varied_params = {"n_factors": 3, "reg": 0.5}      # each must change the predictions
        expected_rmse = (0.83, 0.86)                       # on the real data set (see below)

        def make_model(self, **overrides):
            return FunkSVD(**{"n_factors": 8, "n_epochs": 5, "seed": 0, **overrides})

The checks: fit returns self; predictions have the right shape, are finite and (for rating
models) inside the rating scale; unknown users/items fall back without raising; a user and an
item in the id maps without a single training rating get finite scores and recommendations;
recommend excludes seen items and is sorted; score_items agrees with predict; the same seed
gives the same model; every listed hyperparameter changes the result; save/load round-trips
exactly; truncated and foreign files raise ModelFileError; every capability the model declares
works and every other one raises UnsupportedError.

Accuracy (as LensKit's ``ScorerTests``): ``make_model()`` fitted on :func:`real_fold`'s
training part must reach an RMSE inside ``expected_rmse`` (rating models) and an NDCG@10
inside ``expected_ndcg`` (ranking models; relevant = test ratings >= 4) on its test part. A
class states the range its model must hit, set from the value measured with its seed: RMSE
from 0.02 below to 0.01 above it (the spread over model seeds is under 0.004), NDCG@10 from
6% (at least 0.01) below to twice that above it, 0.03 below for BPR and ImplicitALS (their
spread over seeds is about 0.025). A model that degrades (fewer neighbours, epochs or
iterations; a lost feature block) falls out of its range.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys.dataset import Dataset
from recsys.errors import ModelFileError, UnsupportedError
from recsys.models.base import CAPABILITIES, Recommender

#: The ml-latest-small copy that ships in the package (the loader looks there last).
SHIPPED_DATA = Path(__file__).resolve().parents[1] / "recsys" / "data"


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


def with_unrated_user_and_item(ds: Dataset) -> Dataset:
    """``ds`` with one more user and one more item in its id maps, neither with a rating.

    They are the last indices (``n_users - 1``, ``n_items - 1``). Where ``ds`` has
    ``item_info`` the new item gets a copy of the first item's metadata, as a catalogue item
    no one has rated yet would have.
    """
    new_user, new_item = _fresh_id(ds.user_ids), _fresh_id(ds.item_ids)
    info = ds.item_info
    if info is not None:
        row = info.loc[[ds.item_ids[0]]].copy()
        row.index = pd.Index([new_item], name=info.index.name)
        info = pd.concat([info, row])
    return Dataset(ds.users, ds.items, ds.ratings, ds.timestamps,
                   np.append(ds.user_ids, new_user), np.append(ds.item_ids, new_item),
                   ds.rating_scale, info, ds.user_info, ds.name)


def _fresh_id(ids: np.ndarray):
    return ids.max() + 1 if np.issubdtype(ids.dtype, np.number) else f"unrated-{len(ids)}"


@functools.lru_cache(maxsize=1)
def real_fold() -> tuple[Dataset, Dataset]:
    """(train, test) of the accuracy checks, computed once per test process.

    ml-latest-small (the shipped copy) reduced to its (30, 30)-core, 435 users, 827 items and
    52,971 ratings, split by :func:`recsys.split.holdout` (20% of the ratings, seed 0).
    """
    from recsys.data import load_dataset
    from recsys.preprocess import k_core
    from recsys.split import holdout

    fold = holdout(k_core(load_dataset("ml-latest-small", SHIPPED_DATA), 30, 30), 0.2,
                   seed=0)[0]
    return fold.train, fold.test


def _sorted_desc(scores: np.ndarray) -> bool:
    return bool((np.diff(scores) <= 1e-12).all())


class ModelConformance:
    """Mixin of conformance tests; subclasses define ``make_model`` and ``varied_params``,
    and the accuracy range of their model (``expected_rmse`` and/or ``expected_ndcg``)."""

    #: hyperparameter name -> a value different from make_model's default that must change
    #: the model's scores.
    varied_params: dict = {}
    #: (low, high) of the RMSE on :func:`real_fold`; required of rating models.
    expected_rmse: tuple[float, float] | None = None
    #: (low, high) of NDCG@10 on :func:`real_fold`; required of ranking models.
    expected_ndcg: tuple[float, float] | None = None

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

    # ------------------------------------------------------------------ missing data
    def test_user_and_item_without_ratings(self):
        data = with_unrated_user_and_item(self.make_data())
        model = self.make_model().fit(data)
        user, item = data.n_users - 1, data.n_items - 1
        all_users, all_items = np.arange(data.n_users), np.arange(data.n_items)
        for pred in (model.predict(np.full(data.n_items, user), all_items),
                     model.predict(all_users, np.full(data.n_users, item))):
            assert np.isfinite(pred).all()
            if model.predicts_ratings:
                lo, hi = data.rating_scale
                assert pred.min() >= lo and pred.max() <= hi
        scores = model.score_items(all_users)
        assert np.isfinite(scores[user]).all() and np.isfinite(scores[:, item]).all()
        got, got_scores = model.recommend(user, k=5)
        assert got.shape == (5,) and (got >= 0).all() and len(set(got)) == 5
        assert np.isfinite(got_scores).all() and _sorted_desc(got_scores)
        # Nobody rated the item, so it is eligible in every full-length list.
        every, _ = model.recommend(all_users, k=data.n_items)
        assert (every == item).any(axis=1).all()

    # ------------------------------------------------------------------ capabilities
    def test_capabilities_are_declared_consistently(self, fitted):
        caps = fitted.capabilities
        assert isinstance(caps, frozenset) and caps <= CAPABILITIES
        assert fitted.supports_new_user == ("new_user" in caps)
        assert fitted.supports_similar_items == ("similar_items" in caps)
        assert fitted.supports_explain == ("explain" in caps)

    def test_new_user_fold_in(self, fitted, data):
        items, ratings = fitted.user_history(0)
        if "new_user" not in fitted.capabilities:
            with pytest.raises(UnsupportedError):
                fitted.recommend_new_user(items, ratings)
            return
        ranked, scores = fitted.recommend_new_user(items, ratings, k=data.n_items,
                                                   exclude_rated=False)
        assert ranked.shape == scores.shape == (data.n_items,)
        np.testing.assert_array_equal(np.sort(ranked), np.arange(data.n_items))
        assert np.isfinite(scores).all() and _sorted_desc(scores)
        top, _ = fitted.recommend_new_user(items, ratings, k=5)
        assert top.shape == (5,) and not set(top) & set(items)
        raw, _ = fitted.recommend_new_user(data.item_ids[items], ratings, k=5, raw=True)
        np.testing.assert_array_equal(raw, data.item_ids[top])

    def test_similar_items(self, fitted, data):
        if "similar_items" not in fitted.capabilities:
            with pytest.raises(UnsupportedError):
                fitted.similar_items(0)
            return
        k = 5
        for item in (0, data.n_items // 2):
            got, sims = fitted.similar_items(item, k=k)
            assert got.shape == sims.shape == (k,)
            assert (got >= 0).all() and len(set(got)) == k and item not in got
            assert np.isfinite(sims).all() and _sorted_desc(sims)
        raw, _ = fitted.similar_items(data.item_ids[0], k=k, raw=True)
        np.testing.assert_array_equal(raw, data.item_ids[fitted.similar_items(0, k=k)[0]])

    def test_explain(self, fitted, data):
        if "explain" not in fitted.capabilities:
            with pytest.raises(UnsupportedError):
                fitted.explain(0, 0)
            return
        user = 0
        rated = set(fitted.user_history(user)[0].tolist())
        for item in range(min(data.n_items, 10)):
            idx, contrib = fitted.explain(user, item, n=3)
            assert isinstance(idx, np.ndarray) and isinstance(contrib, np.ndarray)
            assert idx.ndim == 1 and idx.shape == contrib.shape and len(idx) <= 3
            assert set(idx.tolist()) <= rated and np.isfinite(contrib).all()

    # ------------------------------------------------------------------ accuracy
    @pytest.mark.realdata
    def test_accuracy_on_real_data(self):
        from recsys.evaluation import evaluate_ratings, evaluate_topn

        train, test = real_fold()
        model = self.make_model().fit(train)
        name = type(self).__name__
        if model.predicts_ratings or self.expected_rmse is not None:
            assert self.expected_rmse is not None, f"{name} states no expected_rmse"
            value = evaluate_ratings(model.predict, test).rmse
            lo, hi = self.expected_rmse
            assert lo <= value <= hi, f"{name}: RMSE {value:.4f} outside [{lo}, {hi}]"
        if not model.predicts_ratings or self.expected_ndcg is not None:
            assert self.expected_ndcg is not None, f"{name} states no expected_ndcg"
            value = evaluate_topn(model.score_items, train, test, k=10,
                                  metrics=("ndcg",)).means["ndcg@10"]
            lo, hi = self.expected_ndcg
            assert lo <= value <= hi, f"{name}: NDCG@10 {value:.4f} outside [{lo}, {hi}]"
