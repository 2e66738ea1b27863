"""The implicit-feedback top-N models: BPR, ImplicitALS, EASE."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from model_conformance import ModelConformance, small_ratings
from recsys.dataset import Dataset
from recsys.kernels.ials import ials_half_step
from recsys.models import BPR, EASE, ImplicitALS
from recsys.models._implicit import positives_csr


class TestBPR(ModelConformance):
    varied_params = {"n_factors": 3, "learning_rate": 0.01, "reg": 0.5, "n_epochs": 3,
                     "n_samples": 50, "use_item_bias": False,
                     "negative_sampling": "popularity", "redraw_negatives": False,
                     "threshold": 4.0, "seed": 1}
    expected_ndcg = (0.207, 0.298)  # measured 0.2378

    def make_model(self, **overrides):
        return BPR(**{"n_factors": 6, "n_epochs": 10, "learning_rate": 0.05, "seed": 0,
                      **overrides})


class TestImplicitALS(ModelConformance):
    varied_params = {"n_factors": 3, "reg": 5.0, "alpha": 1.0, "reg_exponent": 0.5,
                     "n_iterations": 1,
                     "solver": "cholesky", "cg_steps": 1, "threshold": 4.0, "seed": 1}
    expected_ndcg = (0.227, 0.318)  # measured 0.2579

    def make_model(self, **overrides):
        return ImplicitALS(**{"n_factors": 6, "n_iterations": 4, "reg": 0.1, "alpha": 5.0,
                              "seed": 0, **overrides})


class TestEASE(ModelConformance):
    varied_params = {"reg": 5.0, "threshold": 4.0}
    expected_ndcg = (0.296, 0.353)  # measured 0.3150

    def make_model(self, **overrides):
        return EASE(**{"reg": 50.0, **overrides})


# ---------------------------------------------------------------------- EASE
def dense_ease(X: np.ndarray, reg: float) -> np.ndarray:
    """Steck 2019, eq. 8, as written: B = I - P diag(1/diag(P)), P = (X^T X + reg I)^-1."""
    X = X.astype(np.float64)
    P = np.linalg.inv(X.T @ X + reg * np.eye(X.shape[1]))
    B = np.eye(X.shape[1]) - P @ np.diag(1.0 / np.diag(P))
    np.fill_diagonal(B, 0.0)  # exact zero (it is 1 - 1 up to rounding)
    return B


@pytest.mark.parametrize("reg", [1.0, 50.0, 500.0])
@pytest.mark.parametrize("threshold", [None, 3.5])
def test_ease_matches_dense_numpy_solve(reg, threshold):
    data = small_ratings(seed=2, n_users=60, n_items=35)
    model = EASE(reg=reg, threshold=threshold).fit(data)
    X = data.csr.toarray()
    X = (X >= (threshold if threshold is not None else -np.inf)) & (X != 0)
    np.testing.assert_allclose(model.weights_, dense_ease(X, reg), rtol=0, atol=1e-6)
    assert np.all(np.diag(model.weights_) == 0)
    scores = model.score_items(np.arange(data.n_users))
    np.testing.assert_allclose(scores, X @ dense_ease(X, reg), rtol=0, atol=1e-5)


@pytest.mark.parametrize("reg", [5.0, 500.0])
@pytest.mark.parametrize("n_users, n_items", [(900, 400), (300, 600)])
def test_ease_float32_agrees_with_float64(reg, n_users, n_items):
    # A popularity-skewed binary matrix the size of a small catalogue; with fewer users than
    # items the float32 Gram comes from BLAS ssyrk on the dense matrix.
    rng = np.random.default_rng(11)
    pop = rng.pareto(1.2, n_items) + 0.05
    X = (rng.random((n_users, n_items)) < np.clip(0.02 * pop / pop.mean(), 0, 0.9)
         ).astype(np.float32)
    data = Dataset(*np.nonzero(X), np.full(int(X.sum()), 5.0), None, np.arange(n_users),
                   np.arange(n_items), (1.0, 5.0), name="skewed")
    w64 = EASE(reg=reg, dtype="float64").fit(data)
    w32 = EASE(reg=reg).fit(data)
    np.testing.assert_allclose(w64.weights_, dense_ease(X, reg), rtol=0, atol=1e-7)
    scale = np.abs(w64.weights_).max()
    assert np.abs(w32.weights_ - w64.weights_).max() <= 1e-4 * scale
    users = np.arange(n_users)
    top32, top64 = w32.recommend(users, k=10)[0], w64.recommend(users, k=10)[0]
    same = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(top32, top64)])
    assert same >= 0.995
    with pytest.raises(ValueError, match="dtype"):
        EASE(dtype="float16").fit(data)


def test_ease_new_user_and_explain_agree_with_scores():
    data = small_ratings(seed=3)
    model = EASE(reg=20.0).fit(data)
    u = 4
    items, ratings = data.user_items(u)
    np.testing.assert_allclose(model._score_new_user(items.astype(np.int64), ratings),
                               model.score_items([u])[0], rtol=1e-5, atol=1e-6)
    target = 7
    idx, contrib = model.explain(u, target, n=len(items))
    assert set(idx) == set(items)
    np.testing.assert_allclose(contrib.sum(), model.predict([u], [target])[0], rtol=1e-5,
                               atol=1e-6)
    assert (np.diff(contrib) <= 0).all()
    sims = model._similar_items(target)
    np.testing.assert_allclose(sims, model.weights_[target])


# ---------------------------------------------------------------------- threshold
@pytest.mark.parametrize("make", [
    lambda **kw: EASE(reg=30.0, **kw),
    lambda **kw: ImplicitALS(n_factors=4, n_iterations=3, seed=0, **kw),
    lambda **kw: BPR(n_factors=4, n_epochs=3, seed=0, **kw),
])
def test_threshold_equals_fitting_on_the_positives_only(make):
    data = small_ratings(seed=4)
    keep = data.ratings >= np.float32(4.0)
    binary = data.subset(keep).with_ratings(np.ones(int(keep.sum()), dtype=np.float32))
    a = make(threshold=4.0).fit(data).score_items(np.arange(data.n_users))
    b = make().fit(binary).score_items(np.arange(data.n_users))
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6)


def test_positives_csr_keeps_sorted_rows_and_empty_rows():
    m = sp.csr_matrix(np.array([[0, 5, 3, 0], [0, 0, 0, 0], [2, 0, 0, 4]], dtype=np.float32))
    pos = positives_csr(m, 3.0)
    np.testing.assert_array_equal(pos.toarray(), [[0, 1, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]])
    assert pos.has_sorted_indices and pos.dtype == np.float32
    np.testing.assert_array_equal(positives_csr(m, None).toarray(), m.toarray() != 0)
    with pytest.raises(ValueError, match="threshold"):
        positives_csr(m, float("nan"))


# ---------------------------------------------------------------------- ImplicitALS
def test_ials_new_user_is_the_exact_least_squares_solution():
    data = small_ratings(seed=5)
    model = ImplicitALS(n_factors=5, n_iterations=5, reg=0.5, alpha=4.0, seed=0).fit(data)
    # One more exact user half-step against the final item factors gives every user the
    # solution that fold-in must reproduce.
    X = np.zeros_like(model.user_factors_)
    C = positives_csr(data.csr, None)
    Y = model.item_factors_
    G = (Y.T.astype(np.float64) @ Y).astype(np.float32)
    ials_half_step(C.indptr.astype(np.int64), C.indices.astype(np.int32),
                   np.full(C.nnz, 5.0, dtype=np.float32), X, Y, G,
                   np.full(len(X), 0.5, dtype=np.float32), 3, True)
    for u in (0, 7, 21):
        items, ratings = data.user_items(u)
        got = model._score_new_user(items.astype(np.int64), ratings)
        np.testing.assert_allclose(got, Y @ X[u], rtol=1e-4, atol=1e-5)


def dense_ials(R: np.ndarray, k: int, reg: float, alpha: float, nu: float, n_iter: int,
               seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Hu et al. 2008 eq. 4 row by row on the dense matrix, with Rendle et al. 2022's
    frequency-scaled penalty reg * (sum_i c_ui) ** nu, from ImplicitALS's initial factors."""
    rng = np.random.default_rng(seed)
    P = (R != 0).astype(np.float64)
    C = 1.0 + alpha * P
    X = (rng.random((R.shape[0], k), dtype=np.float32) * np.float32(0.01)).astype(np.float64)
    Y = (rng.random((R.shape[1], k), dtype=np.float32) * np.float32(0.01)).astype(np.float64)
    for _ in range(n_iter):
        for F, G, Cm, Pm in ((X, Y, C, P), (Y, X, C.T, P.T)):
            for u in range(len(F)):
                lam = reg * Cm[u].sum() ** nu
                A = G.T @ (Cm[u][:, None] * G) + lam * np.eye(k)
                F[u] = np.linalg.solve(A, G.T @ (Cm[u] * Pm[u]))
    return X, Y


@pytest.mark.parametrize("nu", [0.0, 0.5, 1.0])
def test_ials_frequency_scaled_penalty_matches_dense_reference(nu):
    data = small_ratings(seed=8, n_users=25, n_items=20)
    reg = 0.3 * 40.0 ** -nu  # penalties of comparable size for every nu
    model = ImplicitALS(n_factors=4, reg=reg, alpha=3.0, reg_exponent=nu, n_iterations=3,
                        solver="cholesky", seed=2).fit(data)
    X, Y = dense_ials(data.csr.toarray(), 4, reg, 3.0, nu, 3, seed=2)
    np.testing.assert_allclose(model.user_factors_, X, rtol=1e-3, atol=1e-5)
    np.testing.assert_allclose(model.item_factors_, Y, rtol=1e-3, atol=1e-5)


def test_ials_new_user_gets_the_frequency_scaled_penalty():
    data = small_ratings(seed=9)
    model = ImplicitALS(n_factors=5, n_iterations=4, reg=0.01, alpha=4.0, reg_exponent=1.0,
                        solver="cholesky", seed=0).fit(data)
    items, ratings = data.user_items(4)
    items = np.unique(items.astype(np.int64))
    Y = model.item_factors_.astype(np.float64)
    c = np.ones(data.n_items)
    c[items] += 4.0
    A = Y.T @ (c[:, None] * Y) + 0.01 * c.sum() * np.eye(5)
    b = Y[items].sum(axis=0) * 5.0
    _, x = model.fold_in(items, np.full(len(items), 5.0))
    np.testing.assert_allclose(x, np.linalg.solve(A, b), rtol=1e-4, atol=1e-7)


def test_ials_explain_terms_sum_to_the_exact_score():
    data = small_ratings(seed=6)
    model = ImplicitALS(n_factors=4, n_iterations=6, solver="cholesky", reg=0.3,
                        alpha=3.0, seed=0).fit(data)
    u, target = 3, 11
    items, ratings = data.user_items(u)
    idx, contrib = model.explain(u, target, n=len(items))
    assert set(idx) == set(items)
    exact = model._score_new_user(items.astype(np.int64), ratings)[target]
    np.testing.assert_allclose(contrib.sum(), exact, rtol=1e-5, atol=1e-6)


def test_ials_cg_approaches_cholesky_with_more_steps():
    data = small_ratings(seed=7)
    params = dict(n_factors=4, n_iterations=8, reg=0.3, alpha=5.0, seed=0)
    exact = ImplicitALS(solver="cholesky", **params).fit(data)
    gaps = []
    for steps in (1, 3, 10):
        cg = ImplicitALS(cg_steps=steps, **params).fit(data)
        gaps.append(np.abs(cg.score_items(np.arange(40)) - exact.score_items(np.arange(40)))
                    .max())
    assert gaps[2] < gaps[0] / 10
    assert gaps[2] < 1e-3


# ---------------------------------------------------------------------- BPR
def test_bpr_hogwild_is_seeded_and_learns():
    data = small_ratings(seed=8)
    model = BPR(n_factors=6, n_epochs=40, learning_rate=0.05, parallel=True, seed=0).fit(data)
    assert np.isfinite(model.user_factors_).all()
    assert model.history_[-1]["train_auc"] > model.history_[0]["train_auc"]
    assert model.history_[-1]["train_auc"] > 0.7


def test_bpr_new_user_is_the_mean_of_positive_item_factors():
    data = small_ratings(seed=9)
    model = BPR(n_factors=5, n_epochs=5, threshold=3.0, seed=0).fit(data)
    items = np.array([1, 4, 9])
    ratings = np.array([5.0, 1.0, 3.0])
    expected = model.item_factors_ @ model.item_factors_[[1, 9]].mean(axis=0) + model.item_bias_
    np.testing.assert_allclose(model._score_new_user(items, ratings), expected, rtol=1e-5)
    top, _ = model.recommend_new_user(items, ratings, k=5)
    assert not set(top) & {1, 4, 9}


def test_bpr_rejects_bad_hyperparameters():
    data = small_ratings()
    with pytest.raises(ValueError, match="negative_sampling"):
        BPR(negative_sampling="hard").fit(data)
    with pytest.raises(ValueError, match="learning_rate"):
        BPR(learning_rate=0).fit(data)
    with pytest.raises(ValueError, match="solver"):
        ImplicitALS(solver="lu").fit(data)
    with pytest.raises(ValueError, match="reg"):
        EASE(reg=0).fit(data)


# ---------------------------------------------------------------------- all three
def planted_groups(seed=0) -> tuple[Dataset, np.ndarray]:
    """Three user groups, each with its own 10 favourite items and a shared popular item 0;
    one favourite per user is held out. Returns (train, held_out item per user)."""
    rng = np.random.default_rng(seed)
    n_users, n_items = 60, 31
    users, items, held = [], [], []
    for u in range(n_users):
        g = u % 3
        favs = 1 + 10 * g + rng.permutation(10)[:7]
        held.append(favs[0])
        liked = np.concatenate([[0], favs[1:], rng.integers(1, n_items, 1)])
        liked = np.unique(liked[liked != favs[0]])
        users += [u] * len(liked)
        items += list(liked)
    n = len(users)
    ds = Dataset(np.array(users), np.array(items), np.full(n, 5.0), None,
                 np.arange(n_users), np.arange(n_items), (1.0, 5.0))
    return ds, np.array(held)


@pytest.mark.parametrize("model", [
    EASE(reg=10.0),
    ImplicitALS(n_factors=8, reg=0.5, alpha=5.0, n_iterations=10, seed=0),
    BPR(n_factors=8, n_epochs=60, learning_rate=0.05, seed=0),
], ids=["EASE", "ImplicitALS", "BPR"])
def test_models_find_held_out_group_items_and_exclude_seen(model):
    train, held = planted_groups()
    model.fit(train)
    items, _ = model.recommend(np.arange(train.n_users), k=5)
    seen = train.csr
    for u in range(train.n_users):
        assert not set(items[u]) & set(seen.indices[seen.indptr[u]:seen.indptr[u + 1]])
    hit_rate = np.mean([held[u] in items[u] for u in range(train.n_users)])
    # Popularity ranks by counts, which carry no group information: 5 of the 30 unseen
    # group-neutral items would hit about 5 / 24 of the time. The models must do far better.
    assert hit_rate > 0.6
    # Items similar to a group's favourite are mostly the same group's.
    sim, _ = model.similar_items(1, k=5)
    assert np.mean((sim >= 1) & (sim <= 10)) >= 0.6
