"""SLIM: the conformance suite, and the model against its kernel's definition."""

from __future__ import annotations

import numpy as np
import pytest

from model_conformance import ModelConformance, small_ratings
from recsys.models.slim import SLIM
from test_kernels_slim import keep_top_columns, reference_cd


class TestSLIM(ModelConformance):
    varied_params = {"alpha": 0.003, "l1_ratio": 0.5, "k": 3, "threshold": 4.0,
                     "max_iter": 1, "tol": 0.5}
    expected_ndcg = (0.321, 0.383)  # measured 0.3417

    def make_model(self, **overrides):
        return SLIM(**{"alpha": 0.03, "l1_ratio": 0.1, "k": 100, **overrides})


@pytest.mark.parametrize("threshold", [None, 3.5])
def test_scores_are_the_positives_times_the_regressions(threshold):
    data = small_ratings(seed=2, n_users=50, n_items=25)
    model = SLIM(alpha=0.005, l1_ratio=0.2, k=6, threshold=threshold, max_iter=100_000,
                 tol=1e-12).fit(data)
    X = data.csr.toarray()
    X = ((X >= (-np.inf if threshold is None else threshold)) & (X != 0)).astype(np.float64)
    W = keep_top_columns(reference_cd(X, 0.005, 0.2), 6)
    got = model.weights_.toarray()
    np.testing.assert_allclose(np.sort(got, axis=0), np.sort(W, axis=0), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.score_items(np.arange(data.n_users)), X @ got,
                               rtol=1e-5, atol=1e-6)
    assert (model.sweeps_ < 100_000).all()


def test_threshold_equals_fitting_on_the_positives_only():
    data = small_ratings(seed=4)
    keep = data.ratings >= np.float32(4.0)
    binary = data.subset(keep).with_ratings(np.ones(int(keep.sum()), dtype=np.float32))
    a = SLIM(alpha=0.01, threshold=4.0).fit(data).score_items(np.arange(data.n_users))
    b = SLIM(alpha=0.01).fit(binary).score_items(np.arange(data.n_users))
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_new_user_similar_items_and_explain_agree_with_the_weights():
    data = small_ratings(seed=3)
    model = SLIM(alpha=0.005, l1_ratio=0.1, k=10).fit(data)
    u = 7
    items, ratings = data.user_items(u)
    np.testing.assert_allclose(model._score_new_user(items.astype(np.int64), ratings),
                               model.score_items([u])[0], rtol=1e-6, atol=1e-9)
    target = 2
    idx, contrib = model.explain(u, target, n=len(items))
    assert set(idx) == set(items) and (np.diff(contrib) <= 0).all()
    np.testing.assert_allclose(contrib.sum(), model.predict([u], [target])[0], rtol=1e-5,
                               atol=1e-7)
    np.testing.assert_allclose(model._similar_items(target),
                               model.weights_.toarray()[target])


def test_bad_hyperparameters_are_refused():
    data = small_ratings(seed=1)
    for bad in ({"alpha": 0.0}, {"l1_ratio": 1.5}, {"l1_ratio": -0.1}, {"k": 0},
                {"max_iter": 0}, {"tol": -1.0}, {"threshold": float("inf")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            SLIM(**bad).fit(data)
