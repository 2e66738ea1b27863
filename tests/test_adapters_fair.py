"""Every peer adapter hands its library the input that makes it optimise the objective of
our counterpart (issue 15, "Fair comparisons first"), checked on tiny problems where the two
can be made to start from the same point: then they must end at the same scores."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.bench.adapters import make_adapter
from recsys.bench.adapters.implicit import implicit_input
from recsys.data.synthetic import generate
from recsys.kernels.sgd import mf_epoch
from recsys.models import BPR, Baseline, ImplicitALS

implicit = pytest.importorskip("implicit")
surprise = pytest.importorskip("surprise")


@pytest.fixture(scope="module")
def tiny():
    return generate(30, 20, 240, seed=3)


def _ours_and_theirs_als(tiny, solver, confidence="1+alpha*r", alpha=2.0):
    ours = ImplicitALS(n_factors=4, reg=0.5, alpha=alpha, n_iterations=6, solver=solver,
                       cg_steps=3, seed=0).fit(tiny)
    peer = make_adapter("implicit", "AlternatingLeastSquares", dict(
        factors=4, regularization=0.5, alpha=alpha, iterations=6, random_state=0,
        use_cg=solver == "cg", num_threads=1, confidence=confidence)).fit(tiny)
    users = np.arange(tiny.n_users)
    return ours.score_items(users), peer.score_items(users)


@pytest.mark.parametrize("solver", ["cholesky", "cg"])
def test_implicit_als_given_our_confidence_gives_our_scores(tiny, solver):
    ours, theirs = _ours_and_theirs_als(tiny, solver)
    # Cholesky: the same exact solves (float32 factors); CG: three float32 steps per row in
    # implicit, float64 arithmetic on the float32 factors in ours.
    tol = 1e-4 if solver == "cholesky" else 3e-3
    assert np.abs(ours - theirs).max() < tol * np.abs(ours).max()


def test_implicit_als_own_convention_is_another_objective(tiny):
    # alpha * r: a positive weighs 2 instead of 3; the scores must move clearly (this is
    # what the test above would catch if the adapter went back to the binarised matrix).
    ours, theirs = _ours_and_theirs_als(tiny, "cholesky", confidence="alpha*r")
    assert np.abs(ours - theirs).max() > 1e-2 * np.abs(ours).max()


def test_implicit_inputs(tiny):
    als = implicit_input(tiny, "AlternatingLeastSquares", alpha=2.5)
    assert als.shape == (tiny.n_users, tiny.n_items) and als.nnz == tiny.n_ratings
    np.testing.assert_array_equal(als.data, np.float32(3.5))
    np.testing.assert_array_equal(als.indptr, tiny.csr.indptr)
    np.testing.assert_array_equal(als.indices, tiny.csr.indices)
    assert np.all(implicit_input(tiny, "AlternatingLeastSquares", 2.5, "alpha*r").data == 1)
    bpr = implicit_input(tiny, "BayesianPersonalizedRanking", alpha=7.0)
    np.testing.assert_array_equal(bpr.data, np.float32(1.0))
    high = implicit_input(tiny, "BayesianPersonalizedRanking", threshold=4.0)
    assert high.nnz == int((tiny.ratings >= 4).sum())
    with pytest.raises(ValueError, match="confidence"):
        implicit_input(tiny, "AlternatingLeastSquares", 1.0, "1+r")


def test_implicit_effective_params_say_what_implicit_receives():
    import numba

    threads = numba.get_num_threads()
    als = make_adapter("implicit", "AlternatingLeastSquares", {"alpha": 3.0, "factors": 8})
    assert als.effective_params() == {"alpha": 1.0, "factors": 8, "random_state": 0,
                                      "num_threads": threads}
    own = make_adapter("implicit", "AlternatingLeastSquares",
                       {"alpha": 3.0, "confidence": "alpha*r"})
    assert own.effective_params() == {"alpha": 3.0, "random_state": 0,
                                      "num_threads": threads}
    bpr = make_adapter("implicit", "BayesianPersonalizedRanking", {"num_threads": 1})
    assert bpr.effective_params() == {"num_threads": 1, "random_state": 0}


def test_implicit_bpr_like_for_like_learns_what_ours_learns(tiny):
    # Sampling streams differ, so no bit-level check: both, with popularity sampling and
    # skipped positive negatives on one thread, must rank a user's training positives
    # above their other items about equally well (training AUC).
    ds = generate(60, 40, 900, seed=5)
    ours = BPR(n_factors=8, learning_rate=0.05, reg=0.01, n_epochs=40, use_item_bias=True,
               negative_sampling="popularity", redraw_negatives=False, parallel=False,
               seed=0).fit(ds)
    peer = make_adapter("implicit", "BayesianPersonalizedRanking", dict(
        factors=8, learning_rate=0.05, regularization=0.01, iterations=40, num_threads=1,
        random_state=0)).fit(ds)
    pos = ds.csr.toarray() > 0

    def auc(scores):
        out = []
        for u in range(ds.n_users):
            p, n = scores[u][pos[u]], scores[u][~pos[u]]
            if len(p) and len(n):
                out.append((p[:, None] > n[None, :]).mean())
        return float(np.mean(out))

    users = np.arange(ds.n_users)
    a_ours, a_peer = auc(ours.score_items(users)), auc(peer.score_items(users))
    assert a_ours > 0.75 and a_peer > 0.75
    assert abs(a_ours - a_peer) < 0.05


def test_surprise_baseline_als_equals_our_baseline(tiny):
    ours = Baseline(method="als", reg_user=15.0, reg_item=10.0, n_epochs=10).fit(tiny)
    peer = make_adapter("surprise", "BaselineOnly", {
        "bsl_options": {"method": "als", "reg_u": 15, "reg_i": 10, "n_epochs": 10}}).fit(tiny)
    users = np.arange(tiny.n_users)
    np.testing.assert_allclose(ours.score_items(users), peer.score_items(users), atol=1e-5)
    worse = make_adapter("surprise", "BaselineOnly", {
        "bsl_options": {"method": "als", "reg_u": 1, "reg_i": 10, "n_epochs": 10}}).fit(tiny)
    assert np.abs(ours.score_items(users) - worse.score_items(users)).max() > 1e-2


def test_surprise_svd_equals_our_sgd_kernel_from_its_start(tiny):
    # Surprise's SVD is our FunkSVD update rule (recsys.kernels.sgd) visiting the ratings
    # in its trainset order from its initial factors: run our kernel in float64 from the
    # same start and order, and the two must agree to rounding.
    k, epochs, lr, reg = 5, 8, 0.01, 0.03
    peer = make_adapter("surprise", "SVD", dict(n_factors=k, n_epochs=epochs, lr_all=lr,
                                                 reg_all=reg, random_state=7)).fit(tiny)
    ts = peer.algo_.trainset
    triples = np.array(list(ts.all_ratings()))
    users, items = triples[:, 0].astype(np.int32), triples[:, 1].astype(np.int32)
    ratings = triples[:, 2].astype(np.float64)
    rng = np.random.RandomState(7)  # Surprise's get_rng(int)
    P = rng.normal(0.0, 0.1, (ts.n_users, k))
    Q = rng.normal(0.0, 0.1, (ts.n_items, k))
    bu, bi = np.zeros(ts.n_users), np.zeros(ts.n_items)
    order = np.arange(len(ratings), dtype=np.int64)
    for _ in range(epochs):
        mf_epoch(users, items, ratings, order, 0, len(order), ts.global_mean, P, Q, bu, bi,
                 lr, lr, reg, reg, True)
    np.testing.assert_allclose(P, peer.algo_.pu, atol=1e-9)
    np.testing.assert_allclose(Q, peer.algo_.qi, atol=1e-9)
    np.testing.assert_allclose(bu, peer.algo_.bu, atol=1e-9)
    np.testing.assert_allclose(bi, peer.algo_.bi, atol=1e-9)
    # and the adapter scores what Surprise's model says
    uu = np.arange(tiny.n_users)
    want = ts.global_mean + bu[peer.user_inner_[uu]][:, None] + bi[peer.item_inner_][None, :] \
        + P[peer.user_inner_[uu]] @ Q[peer.item_inner_].T
    np.testing.assert_allclose(peer.score_items(uu), want, atol=1e-9)
