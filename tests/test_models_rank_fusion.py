"""RankFusion: the fusion values against a per-user Python reference, the weight search, the
conformance suite."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from model_conformance import ModelConformance, small_ratings
from recsys.evaluation import evaluate_topn
from recsys.models import EASE, Popularity
from recsys.models.rank_fusion import RankFusion, fuse_rows
from recsys.models.registry import model_class
from recsys.split import holdout

MEMBERS = [{"class": "EASE", "params": {"reg": 20.0}},
           {"class": "ImplicitALS", "params": {"n_factors": 4, "n_iterations": 4, "reg": 0.5,
                                               "alpha": 4.0, "seed": 0}},
           {"class": "Popularity", "params": {}}]


class TestRankFusion(ModelConformance):
    varied_params = {"models": MEMBERS[:2], "weights": [0.2, 0.5, 0.3], "method": "borda",
                     "rrf_k": 2.0, "validation_fraction": 0.4, "seed": 3, "max_rounds": 0}
    expected_ndcg = (0.264, 0.323)  # measured 0.2936 (weak members; EASE reg=50 alone 0.3150)

    def make_model(self, **overrides):
        return RankFusion(**{"models": MEMBERS, "rrf_k": 10.0, "seed": 0, **overrides})


def reference_fuse(scores, seen, method, rrf_k):
    """Row by row, item by item: rank = 1 + the unrated items ranked above (higher score, or
    equal score and lower index); rated items after every unrated one, in the same order."""
    n, m = scores.shape
    out = np.empty((n, m))
    for u in range(n):
        s = np.where(np.isfinite(scores[u]), scores[u], -np.inf)
        free = [i for i in range(m) if not seen[u, i]]
        rated = [i for i in range(m) if seen[u, i]]
        if method == "zscore":
            vals = np.array([s[i] for i in free if np.isfinite(s[i])])
            mean = vals.mean() if len(vals) else 0.0
            sd = vals.std() if len(vals) else 1.0
            sd = sd if sd > 0 else 1.0
            z = {i: (s[i] - mean) / sd for i in free if np.isfinite(s[i])}
            low = min(z.values()) if z else 0.0
            for i in range(m):
                out[u, i] = z.get(i, low - 1.0)
            continue
        for group, base in ((free, 0), (rated, len(free))):
            for i in group:
                above = sum(1 for j in group if s[j] > s[i] or (s[j] == s[i] and j < i))
                rank = base + above + 1
                out[u, i] = 1 / (rrf_k + rank) if method == "rrf" else 1 - (rank - 1) / m
    return out


@settings(deadline=None, max_examples=60)
@given(n=st.integers(1, 5), m=st.integers(1, 12), seed=st.integers(0, 2**31 - 1),
       method=st.sampled_from(["rrf", "borda", "zscore"]), rrf_k=st.floats(0.0, 100.0),
       levels=st.integers(1, 6))
def test_fuse_rows_matches_reference(n, m, seed, method, rrf_k, levels):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, levels, size=(n, m)).astype(np.float64)  # ties on purpose
    scores[rng.random((n, m)) < 0.1] = -np.inf
    seen = rng.random((n, m)) < 0.3
    seen[0] = False  # a user with nothing rated
    got = fuse_rows(scores, seen, method, rrf_k)
    np.testing.assert_allclose(got, reference_fuse(scores, seen, method, rrf_k), rtol=1e-12,
                               atol=1e-12)
    free = ~seen
    for u in range(n):  # the fusion values keep each member's order of the unrated items
        if free[u].sum() > 1 and method != "zscore":
            order = np.lexsort((np.arange(m)[free[u]], -scores[u][free[u]]))
            assert (np.diff(got[u][free[u]][order]) < 0).all()


def test_given_weights_fuse_the_members_rows():
    data = small_ratings(seed=3)
    model = RankFusion(MEMBERS, weights=[1.0, 2.0, 1.0], rrf_k=5.0).fit(data)
    np.testing.assert_allclose(model.weights_, [0.25, 0.5, 0.25])
    assert np.isnan(model.validation_scores_).all()
    users = np.arange(data.n_users)
    seen = data.csr.toarray() != 0
    expected = sum(w * fuse_rows(m.score_items(users), seen, "rrf", 5.0)
                   for w, m in zip(model.weights_, model.members_))
    np.testing.assert_allclose(model.score_items(users), expected, rtol=1e-12)
    # Members fitted on all of the training data, as alone.
    np.testing.assert_allclose(model.members_[0].weights_, EASE(reg=20.0).fit(data).weights_)


def test_fitted_weights_never_score_below_the_best_member_on_validation():
    data = small_ratings(seed=4, n_users=60, n_items=40)
    model = RankFusion(MEMBERS, seed=1).fit(data)
    scores = model.validation_scores_
    assert scores[-1] >= scores[:-1].max() - 1e-12
    assert np.isclose(model.weights_.sum(), 1.0) and (model.weights_ >= 0).all()
    # validation_scores_ are the NDCG@10 of each member on the carved split, recomputed here.
    fold = holdout(data, 0.2, seed=np.random.default_rng(1))[0]
    ease = EASE(reg=20.0).fit(fold.train)
    seen = fold.train.csr.toarray() != 0
    rows = fuse_rows(ease.score_items(np.arange(data.n_users)), seen, "rrf", 60.0)
    res = evaluate_topn(lambda u: rows[u], fold.train, fold.test, k=10,
                        relevance_threshold=4.0, metrics=("ndcg",))
    assert scores[0] == pytest.approx(res.means["ndcg@10"], abs=1e-12)


def test_single_member_is_that_member_reranked():
    data = small_ratings(seed=5)
    model = RankFusion([MEMBERS[0]]).fit(data)
    alone = EASE(reg=20.0).fit(data)
    users = np.arange(data.n_users)
    np.testing.assert_array_equal(model.recommend(users, k=8)[0], alone.recommend(users, k=8)[0])


def test_new_user_needs_every_weighted_member_to_fold_in():
    data = small_ratings(seed=6)
    assert "new_user" in RankFusion(MEMBERS[:2], weights=[1, 1]).fit(data).capabilities
    if "new_user" not in Popularity().capabilities:
        assert "new_user" not in RankFusion(MEMBERS, weights=[1, 1, 1]).fit(data).capabilities
        assert "new_user" in RankFusion(MEMBERS, weights=[1, 1, 0]).fit(data).capabilities
    items, ratings = data.user_items(2)
    model = RankFusion(MEMBERS[:2], weights=[1, 3], rrf_k=1.0).fit(data)
    seen = np.zeros((1, data.n_items), dtype=bool)
    seen[0, items] = True
    expected = sum(w * fuse_rows(m._score_new_user(items.astype(np.int64), ratings)[None],
                                 seen, "rrf", 1.0)[0]
                   for w, m in zip(model.weights_, model.members_))
    np.testing.assert_allclose(model._score_new_user(items.astype(np.int64), ratings), expected)


def test_registered_and_errors_name_the_parameter():
    assert model_class("RankFusion") is RankFusion
    data = small_ratings(seed=7)
    for bad, word in (({"method": "mean"}, "method"), ({"rrf_k": -1.0}, "rrf_k"),
                      ({"validation_fraction": 1.0}, "validation_fraction"),
                      ({"max_rounds": -1}, "max_rounds"), ({"weights": [1, -1, 0]}, "weights"),
                      ({"weights": [1, 1]}, "weights")):
        with pytest.raises(ValueError, match=word):
            RankFusion(MEMBERS, **bad).fit(data)
    with pytest.raises(ValueError, match="unknown model"):
        RankFusion([{"class": "NoSuchModel"}, MEMBERS[0]]).fit(data)
