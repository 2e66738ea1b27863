"""RP3beta: the conformance suite, and the model's scores against the dense random walk."""

from __future__ import annotations

import numpy as np
import pytest

from model_conformance import ModelConformance, small_ratings
from recsys.models.rp3beta import RP3beta
from test_kernels_rp3beta import reference_topk, reference_walk


class TestRP3beta(ModelConformance):
    varied_params = {"alpha": 0.5, "beta": 0.0, "k": 5, "threshold": 4.0, "normalize": True}
    expected_ndcg = (0.272, 0.324)  # measured 0.2895

    def make_model(self, **overrides):
        return RP3beta(**{"alpha": 1.0, "beta": 0.6, "k": 100, **overrides})


def binary_positives(data, threshold):
    X = data.csr.toarray()
    low = -np.inf if threshold is None else threshold
    return ((X >= low) & (X != 0)).astype(np.float64)


@pytest.mark.parametrize("threshold", [None, 3.5])
@pytest.mark.parametrize("normalize", [False, True])
def test_scores_are_the_positives_times_the_walk(threshold, normalize):
    data = small_ratings(seed=2, n_users=50, n_items=30)
    model = RP3beta(alpha=0.7, beta=0.3, k=30, threshold=threshold,
                    normalize=normalize).fit(data)
    X = binary_positives(data, threshold)
    W = reference_topk(reference_walk(X, 0.7, 0.3), 30, normalize)  # k >= n: no ties cut
    np.testing.assert_allclose(model.weights_.toarray(), W, rtol=2e-6, atol=1e-12)
    np.testing.assert_allclose(model.score_items(np.arange(data.n_users)), X @ W, rtol=1e-5,
                               atol=1e-9)


def test_new_user_similar_items_and_explain_agree_with_the_weights():
    data = small_ratings(seed=3)
    model = RP3beta(alpha=0.9, beta=0.5, k=8).fit(data)
    u = 5
    items, ratings = data.user_items(u)
    np.testing.assert_allclose(model._score_new_user(items.astype(np.int64), ratings),
                               model.score_items([u])[0], rtol=1e-6, atol=1e-9)
    target = 4
    idx, contrib = model.explain(u, target, n=len(items))
    assert set(idx) == set(items) and (np.diff(contrib) <= 0).all()
    np.testing.assert_allclose(contrib.sum(), model.predict([u], [target])[0], rtol=1e-5)
    np.testing.assert_allclose(model._similar_items(target),
                               model.weights_.toarray()[target])


def test_bad_hyperparameters_are_refused():
    data = small_ratings(seed=1)
    for bad in ({"alpha": 0.0}, {"beta": -0.1}, {"k": 0}, {"k": 2.5}, {"normalize": 1},
                {"threshold": float("nan")}):
        with pytest.raises(ValueError, match=next(iter(bad))):
            RP3beta(**bad).fit(data)
