"""The factor-model base (recsys.models.factor): the one ridge fold-in solver against NumPy's
least squares, cosine similarities, the two unknown-id fallbacks, pair scores against the
formula, and the seed convention of every factor model."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import recsys.models
from model_conformance import small_ratings
from recsys.models import ALS, BPR, FunkSVD, ImplicitALS, SVDpp
from recsys.models.factor import (FactorModel, cosine_similarities, ridge_fold_in,
                                  solve_normal_equations)

FACTOR_MODELS = {
    "FunkSVD": lambda seed: FunkSVD(n_factors=4, n_epochs=3, seed=seed),
    "SVDpp": lambda seed: SVDpp(n_factors=4, n_epochs=3, seed=seed),
    "ALS": lambda seed: ALS(n_factors=4, n_iterations=2, seed=seed),
    "ImplicitALS": lambda seed: ImplicitALS(n_factors=4, n_iterations=2, seed=seed),
    "BPR": lambda seed: BPR(n_factors=4, n_epochs=3, seed=seed),
}


# ---------------------------------------------------------------------- seeds
@pytest.mark.parametrize("name", sorted(FACTOR_MODELS))
def test_seed_int_and_generator(name):
    make = FACTOR_MODELS[name]
    data = small_ratings()
    a, b = make(5).fit(data), make(5).fit(data)
    # A Generator is used as it is: one made from 5 draws what seed=5 draws.
    g = make(np.random.default_rng(5)).fit(data)
    other = make(6).fit(data)
    for attr in type(a)._fitted_arrays:
        np.testing.assert_array_equal(getattr(a, attr), getattr(b, attr))
        np.testing.assert_array_equal(getattr(a, attr), getattr(g, attr))
    assert not np.array_equal(a.item_factors_, other.item_factors_)
    assert np.isfinite(g.score_items(np.arange(data.n_users))).all()


@pytest.mark.parametrize("name", sorted(FACTOR_MODELS))
def test_a_generator_seed_draws_on_from_its_state(name):
    make = FACTOR_MODELS[name]
    data = small_ratings()
    rng = np.random.default_rng(0)
    model = make(rng)
    first = model.fit(data).item_factors_.copy()
    second = model.fit(data).item_factors_
    assert not np.array_equal(first, second)


@pytest.mark.parametrize("name", sorted(FACTOR_MODELS))
def test_bad_seed_is_named(name):
    with pytest.raises(ValueError, match="seed"):
        FACTOR_MODELS[name](-1).fit(small_ratings())


# ---------------------------------------------------------------------- solvers
@settings(deadline=None, max_examples=30)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 15), k=st.integers(1, 6),
       bias=st.booleans(), zero_penalty=st.booleans())
def test_ridge_fold_in_matches_augmented_least_squares(seed, n, k, bias, zero_penalty):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, k))
    y = rng.normal(size=n)
    reg_p = 0.0 if zero_penalty else float(rng.uniform(0.01, 3))
    reg_b = float(rng.uniform(0.01, 3)) if bias else None
    p, b = ridge_fold_in(x, y, reg_p, reg_b)
    a = np.hstack([x, np.ones((n, 1))]) if bias else x
    pen = np.r_[np.full(k, reg_p), [reg_b] if bias else []]
    ref = np.linalg.lstsq(np.vstack([a, np.diag(np.sqrt(pen))]),
                          np.r_[y, np.zeros(len(pen))], rcond=None)[0]
    if zero_penalty and n < k + bias:
        # Under-determined: many minimisers; both must reach the same (minimal) loss.
        def loss(w):
            return np.sum((y - a @ w) ** 2) + pen @ w ** 2
        got = np.r_[p, [b] if bias else []]
        assert loss(got) == pytest.approx(loss(ref), rel=1e-6, abs=1e-9)
    else:
        np.testing.assert_allclose(p, ref[:k], rtol=1e-6, atol=1e-8)
        assert b == (pytest.approx(ref[k], rel=1e-6, abs=1e-8) if bias else 0.0)


def test_solve_normal_equations_falls_back_on_a_singular_matrix():
    gram = np.array([[1.0, 1.0], [1.0, 1.0]])
    rhs = np.array([2.0, 2.0])
    for definite in (True, False):
        w = solve_normal_equations(gram, rhs, definite=definite)
        np.testing.assert_allclose(w, [1.0, 1.0])  # the minimum-norm solution
    spd = np.array([[4.0, 1.0], [1.0, 3.0]])
    np.testing.assert_allclose(solve_normal_equations(spd, rhs), np.linalg.solve(spd, rhs))


def test_cosine_similarities_zero_rows_are_zero():
    f = np.array([[1.0, 0.0], [0.0, 0.0], [2.0, 2.0], [-3.0, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(cosine_similarities(f, 0), [1, 0, np.sqrt(0.5), -1])
    np.testing.assert_array_equal(cosine_similarities(f, 1), np.zeros(4))


# ---------------------------------------------------------------------- scoring
class _Toy(FactorModel):
    """A factor model with hand-set arrays; no fitting."""

    def __init__(self):
        pass


def toy(unknown_as: str, with_global_mean: bool, user_bias: bool = True) -> _Toy:
    """3 users, 2 items, k = 2, mean 3."""
    m = _Toy()
    m._unknown_as, m._with_global_mean = unknown_as, with_global_mean
    m.user_factors_ = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]], dtype=np.float32)
    m.item_factors_ = np.array([[1.0, 1.0], [3.0, -1.0]], dtype=np.float32)
    if user_bias:
        m.user_bias_ = np.array([0.1, 0.2, 0.6], dtype=np.float32)
    m.item_bias_ = np.array([0.5, -0.5], dtype=np.float32)
    m.global_mean_ = 3.0
    return m


def test_zero_fallback_drops_the_unknown_side():
    m = toy("zero", True)
    got = m._score(np.array([1, -1, 1, -1]), np.array([1, 1, -1, -1]))
    np.testing.assert_allclose(got, [3 + 0.2 - 0.5 - 2, 3 - 0.5, 3 + 0.2, 3], rtol=1e-6)
    np.testing.assert_allclose(m._score_users(np.array([-1]))[0], [3.5, 2.5], rtol=1e-6)


def test_mean_fallback_scores_an_average_user_and_item():
    m = toy("mean", False, user_bias=False)
    mean_p = np.array([2 / 3, 1.0])
    mean_q = np.array([2.0, 0.0])
    got = m._score(np.array([-1, 0, -1]), np.array([0, -1, -1]))
    np.testing.assert_allclose(got, [mean_p @ [1, 1] + 0.5, 1 * 2.0 + 0.0, mean_p @ mean_q],
                               rtol=1e-6)
    np.testing.assert_allclose(m._score_users(np.array([-1, 2])),
                               [[mean_p @ [1, 1] + 0.5, mean_p @ [3, -1] - 0.5],
                                [2.5, 1.5]], rtol=1e-6)


@pytest.mark.parametrize("name", sorted(FACTOR_MODELS))
def test_pair_scores_follow_the_formula_with_the_declared_fallback(name):
    model = FACTOR_MODELS[name](0).fit(small_ratings())
    rng = np.random.default_rng(1)
    users = rng.integers(-1, 40, 500)
    items = rng.integers(-1, 30, 500)
    v = model._user_vectors().astype(np.float64)
    q = model.item_factors_.astype(np.float64)
    bu = getattr(model, "user_bias_", np.zeros(len(v))).astype(np.float64)
    bi = getattr(model, "item_bias_", np.zeros(len(q))).astype(np.float64)
    if model._unknown_as == "mean":
        v, q = np.vstack([v, v.mean(axis=0)]), np.vstack([q, q.mean(axis=0)])
        bu, bi = np.r_[bu, bu.mean()], np.r_[bi, bi.mean()]
    else:
        v, q = np.vstack([v, np.zeros(v.shape[1])]), np.vstack([q, np.zeros(q.shape[1])])
        bu, bi = np.r_[bu, 0.0], np.r_[bi, 0.0]
    offset = model.global_mean_ if model._with_global_mean else 0.0
    want = offset + bu[users] + bi[items] + np.einsum("nk,nk->n", v[users], q[items])
    np.testing.assert_allclose(model._score(users, items), want, rtol=1e-5, atol=1e-6)
    assert model._score(users[:0], items[:0]).shape == (0,)


def test_new_user_scores_like_a_training_user_with_the_folded_in_vector():
    data = small_ratings()
    m = SVDpp(n_factors=4, n_epochs=3, seed=0).fit(data)
    items, ratings = np.array([1, 4, 7]), np.array([4.0, 2.0, 5.0])
    b, v = m.fold_in(items, ratings)
    want = (m.global_mean_ + b + m.item_bias_.astype(np.float64)
            + m.item_factors_.astype(np.float64) @ v)
    np.testing.assert_allclose(m._score_new_user(items, ratings), want, rtol=1e-12)


# ---------------------------------------------------------------------- arrows
def test_no_model_module_imports_a_sibling_models_private_names():
    models = Path(recsys.models.__file__).parent
    offenders = []
    for path in sorted(models.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                    "recsys.models.") and node.module != f"recsys.models.{path.stem}":
                offenders += [f"{path.name}: {node.module}.{a.name}" for a in node.names
                              if a.name.startswith("_")]
    assert not offenders
