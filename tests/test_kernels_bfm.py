"""Bayesian FM kernels against slow NumPy references (hypothesis draws sizes and seeds).

The references work on the materialised design matrix X (one dense row per training row,
``[B_user[u], B_item[i]]``), never on the relational caches: the FM of its definition (the
O(k n^2) pairwise sum), the exact full conditional of one coordinate (``h`` and ``g`` by
evaluating the FM with the coordinate at 0 and 1), and a whole deterministic sweep (every
draw replaced by its mean) coordinate by coordinate in the kernel's order.
"""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.bfm import (ALPHA_0, BETA_0, DEFAULT_PRIORS, GAMMA_0, MU_0, REG_0,
                                coordinate_conditional, fm_rows, gibbs_sweep, relation_caches)
from recsys.models.fm_features import multi_relational_design, relational_design

PRIORS = np.array([1.5, 0.7, 1.2, 0.1, 2.0])  # alpha_0, beta_0, gamma_0, mu_0, reg_0


# ---------------------------------------------------------------------- problems
def random_relation(rng, n_keys, n_cols, density):
    """A dense relation matrix with some exact zeros; an all-zero row now and then."""
    m = rng.normal(0, 1, (n_keys, n_cols)) * (rng.random((n_keys, n_cols)) < density)
    if n_keys > 1:
        m[rng.integers(n_keys)] = 0.0
    return m


def random_problem(seed, n_users, n_items, n_rows, k, user_cols, item_cols, n_groups,
                   density=0.6, unused_keys=True, one_hot=True, n_times=0, time_cols=2,
                   n_more=0):
    """(design, X, y, params): random relations, rows and parameters. With ``one_hot``
    each relation starts with the identity (the model's one-hot blocks); with
    ``unused_keys`` the last user and item (and time key) have no row (their one-hot columns
    are then inactive). ``n_times > 0`` adds a third relation (the time block's) of that
    many keys and ``time_cols`` columns (+ its one-hot); ``n_more > 0`` a fourth of that
    many keys."""
    rng = np.random.default_rng(seed)
    sizes = [n_users, n_items] + ([n_times] if n_times else []) + ([n_more] if n_more else [])
    widths = ([user_cols, item_cols] + ([time_cols] if n_times else [])
              + ([time_cols] if n_more else []))
    keys, rels = [], []
    for size, width in zip(sizes, widths):
        hi = size - 1 if unused_keys and size > 1 else size
        keys.append(rng.integers(0, hi, n_rows))
    for size, width in zip(sizes, widths):
        m = random_relation(rng, size, width, density)
        rels.append(np.hstack([np.eye(size), m]) if one_hot else m)
    n_cols = sum(m.shape[1] for m in rels)
    col_group = rng.integers(0, n_groups, n_cols)
    design = multi_relational_design(keys, [sp.csr_matrix(m) for m in rels], col_group,
                                     tuple(f"g{g}" for g in range(n_groups)))
    X = np.hstack([m[key] for m, key in zip(rels, keys)])
    y = rng.normal(3.0, 1.0, n_rows)
    params = dict(
        w0=float(rng.normal()), alpha=float(rng.uniform(0.5, 2.0)),
        w=rng.normal(0, 0.5, n_cols), V=rng.normal(0, 0.5, (k, n_cols)),
        mu_w=rng.normal(0, 0.3, n_groups), lam_w=rng.uniform(0.5, 3.0, n_groups),
        mu_v=rng.normal(0, 0.3, (k, n_groups)), lam_v=rng.uniform(0.5, 3.0, (k, n_groups)),
    )
    return design, X, y, params


def fm_definition(X, w0, w, V):
    """Rendle (2010), eq. 1, literally: w0 + sum_j w_j x_j + sum_{j<l} <v_j, v_l> x_j x_l."""
    n, n_cols = X.shape
    out = np.full(n, float(w0))
    for i in range(n):
        out[i] += X[i] @ w
        for j in range(n_cols):
            for l in range(j + 1, n_cols):
                out[i] += (V[:, j] @ V[:, l]) * X[i, j] * X[i, l]
    return out


def fm_fast(X, w0, w, V):
    """The same FM by the O(k n) identity (checked against the definition below)."""
    q = X @ V.T
    return w0 + X @ w + 0.5 * ((q ** 2).sum(axis=1) - (X ** 2) @ (V ** 2).sum(axis=0))


def kernel_caches(design, w, V):
    n_keys, k = design.n_keys, V.shape[0]
    L, Q, T = np.empty(n_keys), np.empty((k, n_keys)), np.empty((k, n_keys))
    relation_caches(design.key_indptr, design.key_cols, design.key_vals, w, V, L, Q, T)
    return L, Q, T


def kernel_predict(design, w0, w, V):
    L, Q, T = kernel_caches(design, w, V)
    out = np.empty(design.row_keys.shape[1])
    fm_rows(design.row_keys, design.key_offset, float(w0), L, Q, T, out)
    return out


def exact_conditional(X, y, p, j, f, alpha, mu, lam):
    """Mean and variance of theta | rest, theta = w_j (f < 0) or v_jf, from the FM at
    theta = 0 and theta = 1 (it is linear in theta)."""
    def at(value):
        w, V = p["w"].copy(), p["V"].copy()
        if f < 0:
            w[j] = value
        else:
            V[f, j] = value
        return fm_fast(X, p["w0"], w, V)
    g = at(0.0)
    h = at(1.0) - g
    precision = alpha * h @ h + lam
    return (alpha * (y - g) @ h + lam * mu) / precision, 1.0 / precision


def conditional_args(design, e, p, L, Q, T):
    return (e, design.key_offset, design.key_count, design.key_row_ptr, design.rows_by_key,
            design.other_keys, design.col_indptr, design.col_keys, design.col_vals, p["w"],
            p["V"], Q, T)


def run_sweep(design, y, p, seed, noise, priors=PRIORS):
    """One kernel sweep on copies of the parameters: (new params, e, caches, state)."""
    q = {key: (np.array(v, dtype=np.float64) if isinstance(v, np.ndarray) else v)
         for key, v in p.items()}
    L, Q, T = kernel_caches(design, q["w"], q["V"])
    e = y - kernel_predict(design, q["w0"], q["w"], q["V"])
    scalars = np.array([q["w0"], q["alpha"]])
    state = gibbs_sweep(*design.sweep_args(), priors, scalars, q["w"], q["V"], q["mu_w"],
                        q["lam_w"], q["mu_v"], q["lam_v"], e, L, Q, T, np.uint64(seed),
                        float(noise))
    q["w0"], q["alpha"] = float(scalars[0]), float(scalars[1])
    return q, e, (L, Q, T), state


def reference_deterministic_sweep(X, y, design, p, priors=PRIORS):
    """The sweep with every draw at its mean, coordinate by coordinate on the dense X."""
    p = {key: (v.copy() if isinstance(v, np.ndarray) else v) for key, v in p.items()}
    a0, b0, g0, m0, reg0 = (priors[i] for i in (ALPHA_0, BETA_0, GAMMA_0, MU_0, REG_0))
    n = len(y)
    active, groups = design.col_active, design.col_group
    e = y - fm_fast(X, p["w0"], p["w"], p["V"])
    p["alpha"] = (0.5 * (a0 + n)) / (0.5 * (b0 + e @ e))
    g = fm_fast(X, 0.0, p["w"], p["V"])
    p["w0"] = p["alpha"] * (y - g).sum() / (p["alpha"] * n + reg0)

    def hypers(theta, mu, lam):
        for grp in range(len(mu)):
            sel = active & (groups == grp)
            m = sel.sum()
            rate = 0.5 * (b0 + g0 * (mu[grp] - m0) ** 2 + ((theta[sel] - mu[grp]) ** 2).sum())
            lam[grp] = 0.5 * (a0 + m + 1) / rate
            mu[grp] = (theta[sel].sum() + g0 * m0) / (m + g0)

    def coordinate(j, f):
        if not active[j]:
            return
        grp = groups[j]
        mu = p["mu_w"][grp] if f < 0 else p["mu_v"][f, grp]
        lam = p["lam_w"][grp] if f < 0 else p["lam_v"][f, grp]
        mean, _ = exact_conditional(X, y, p, j, f, p["alpha"], mu, lam)
        if f < 0:
            p["w"][j] = mean
        else:
            p["V"][f, j] = mean

    cols = design.relation_cols
    n_rel = len(cols) - 1
    hypers(p["w"], p["mu_w"], p["lam_w"])
    for b in range(n_rel):
        for j in range(cols[b], cols[b + 1]):
            coordinate(j, -1)
    k = p["V"].shape[0]
    for f in range(k):
        hypers(p["V"][f], p["mu_v"][f], p["lam_v"][f])
    for f in range(k):
        for b in range(n_rel):
            for j in range(cols[b], cols[b + 1]):
                coordinate(j, f)
    return p, y - fm_fast(X, p["w0"], p["w"], p["V"])


sizes = dict(seed=st.integers(0, 2**31 - 1), n_users=st.integers(1, 5),
             n_items=st.integers(1, 5), n_rows=st.integers(1, 18), k=st.integers(1, 3),
             user_cols=st.integers(1, 5), item_cols=st.integers(1, 5),
             n_groups=st.integers(1, 3), one_hot=st.booleans(),
             n_times=st.sampled_from([0, 0, 1, 2, 4]))


# ---------------------------------------------------------------------- predictions
@settings(deadline=None, max_examples=40)
@given(**sizes)
def test_fm_rows_equals_the_definition(seed, n_users, n_items, n_rows, k, user_cols, item_cols,
                                       n_groups, one_hot, n_times):
    design, X, _, p = random_problem(seed, n_users, n_items, n_rows, k, user_cols, item_cols,
                                     n_groups, one_hot=one_hot, n_times=n_times)
    expected = fm_definition(X, p["w0"], p["w"], p["V"])
    np.testing.assert_allclose(kernel_predict(design, p["w0"], p["w"], p["V"]), expected,
                               rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(fm_fast(X, p["w0"], p["w"], p["V"]), expected, rtol=1e-10,
                               atol=1e-10)


def test_fm_rows_of_zero_factors_is_the_linear_model():
    design, X, _, p = random_problem(3, 4, 4, 10, 2, 3, 3, 2, one_hot=False)
    V = np.zeros_like(p["V"])
    np.testing.assert_allclose(kernel_predict(design, 0.5, p["w"], V), 0.5 + X @ p["w"],
                               rtol=1e-12)


# ---------------------------------------------------------------------- conditionals
@settings(deadline=None, max_examples=40)
@given(**sizes, which=st.integers(0, 10**6))
def test_coordinate_conditional_is_the_exact_posterior(seed, n_users, n_items, n_rows, k,
                                                       user_cols, item_cols, n_groups, one_hot,
                                                       n_times, which):
    design, X, y, p = random_problem(seed, n_users, n_items, n_rows, k, user_cols, item_cols,
                                     n_groups, one_hot=one_hot, n_times=n_times)
    L, Q, T = kernel_caches(design, p["w"], p["V"])
    e = y - kernel_predict(design, p["w0"], p["w"], p["V"])
    n_cols = design.n_columns
    j = which % n_cols
    b = int(np.searchsorted(design.relation_cols, j, side="right") - 1)
    for f in range(-1, k):
        mu, lam, alpha = 0.3, 1.7, p["alpha"]
        got = coordinate_conditional(b, j, f, *conditional_args(design, e, p, L, Q, T),
                                     alpha, mu, lam)
        want = exact_conditional(X, y, p, j, f, alpha, mu, lam)
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12)


def test_conditional_of_an_unused_column_is_the_prior():
    # Column 0 of the user relation belongs to the last user alone, who has no row: it
    # touches no row, so h = 0 and the prior remains; the design marks it inactive.
    _, _, y, p = random_problem(5, 4, 3, 12, 2, 2, 2, 1, one_hot=False)
    rng = np.random.default_rng(5)
    bu, bi = rng.normal(size=(4, 2)), rng.normal(size=(3, 2))
    bu[:3, 0] = 0.0
    users, items = rng.integers(0, 3, 12), rng.integers(0, 3, 12)
    design = relational_design(users, items, sp.csr_matrix(bu), sp.csr_matrix(bi),
                               np.zeros(4, dtype=int), ("g",))
    X = np.hstack([bu[users], bi[items]])
    assert not X[:, 0].any() and not design.col_active[0] and design.col_active[1:].all()
    assert design.group_size[0] == 3
    L, Q, T = kernel_caches(design, p["w"], p["V"])
    e = y - kernel_predict(design, p["w0"], p["w"], p["V"])
    for f in (-1, 0, 1):
        mean, var = coordinate_conditional(0, 0, f, *conditional_args(design, e, p, L, Q, T),
                                           1.3, 0.25, 4.0)
        assert mean == pytest.approx(0.25) and var == pytest.approx(0.25)


# ---------------------------------------------------------------------- sweeps
@settings(deadline=None, max_examples=30)
@given(**sizes)
def test_deterministic_sweep_equals_the_coordinatewise_reference(seed, n_users, n_items, n_rows,
                                                                 k, user_cols, item_cols,
                                                                 n_groups, one_hot, n_times):
    design, X, y, p = random_problem(seed, n_users, n_items, n_rows, k, user_cols, item_cols,
                                     n_groups, one_hot=one_hot, n_times=n_times)
    got, e, _, _ = run_sweep(design, y, p, seed, noise=0.0)
    want, e_want = reference_deterministic_sweep(X, y, design, p)
    for key in ("w0", "alpha", "w", "V", "mu_w", "lam_w", "mu_v", "lam_v"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-7, atol=1e-9, err_msg=key)
    np.testing.assert_allclose(e, e_want, rtol=1e-7, atol=1e-9)


@settings(deadline=None, max_examples=30)
@given(**sizes, sweeps=st.integers(1, 3))
def test_cached_residuals_and_sums_equal_a_recomputation_after_sampling(
        seed, n_users, n_items, n_rows, k, user_cols, item_cols, n_groups, one_hot, n_times, sweeps):
    design, X, y, p = random_problem(seed, n_users, n_items, n_rows, k, user_cols, item_cols,
                                     n_groups, one_hot=one_hot, n_times=n_times)
    state = seed
    for _ in range(sweeps):
        p, e, (L, Q, T), state = run_sweep(design, y, p, state, noise=1.0)
    np.testing.assert_allclose(e, y - fm_definition(X, p["w0"], p["w"], p["V"]), rtol=1e-9,
                               atol=1e-9)
    for got, want in zip((L, Q, T), kernel_caches(design, p["w"], p["V"])):
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)
    assert np.isfinite(p["V"]).all() and p["alpha"] > 0 and (p["lam_v"] > 0).all()


def test_sweep_is_deterministic_for_a_state_and_leaves_unused_columns_alone():
    design, X, y, p = random_problem(11, 5, 5, 20, 3, 3, 3, 2)
    inactive = ~design.col_active
    assert inactive.any()
    p["w"][inactive], p["V"][:, inactive] = 0.0, 0.0
    a, e_a, _, s_a = run_sweep(design, y, p, 42, noise=1.0)
    b, e_b, _, s_b = run_sweep(design, y, p, 42, noise=1.0)
    c, _, _, s_c = run_sweep(design, y, p, 43, noise=1.0)
    np.testing.assert_array_equal(a["V"], b["V"])
    np.testing.assert_array_equal(e_a, e_b)
    assert s_a == s_b != s_c and not np.array_equal(a["V"], c["V"])
    assert not a["w"][inactive].any() and not a["V"][:, inactive].any()
    np.testing.assert_array_equal(design.group_size,
                                  np.bincount(design.col_group[design.col_active],
                                              minlength=2))


def test_a_single_row_and_the_default_priors():
    design, X, y, p = random_problem(2, 1, 1, 1, 1, 1, 1, 1, density=1.0,
                                     unused_keys=False)
    got, e, _, _ = run_sweep(design, y, p, 0, noise=0.0, priors=DEFAULT_PRIORS)
    want, e_want = reference_deterministic_sweep(X, y, design, p, priors=DEFAULT_PRIORS)
    np.testing.assert_allclose(got["V"], want["V"], rtol=1e-9)
    np.testing.assert_allclose(e, e_want, atol=1e-9)


def test_gibbs_draws_concentrate_on_a_noiseless_linear_model():
    # y = 2 + x . w* exactly, with many rows: the sampled FM fits it (alpha grows).
    rng = np.random.default_rng(0)
    n_users, n_items, n = 6, 6, 400
    users, items = rng.integers(0, n_users, n), rng.integers(0, n_items, n)
    bu, bi = np.eye(n_users), np.eye(n_items)
    w_true = rng.normal(0, 1, n_users + n_items)
    design = relational_design(users, items, sp.csr_matrix(bu), sp.csr_matrix(bi),
                               np.r_[np.zeros(n_users), np.ones(n_items)].astype(int),
                               ("u", "i"))
    X = np.hstack([bu[users], bi[items]])
    y = 2.0 + X @ w_true
    p = dict(w0=0.0, alpha=1.0, w=np.zeros(n_users + n_items),
             V=np.zeros((1, n_users + n_items)), mu_w=np.zeros(2), lam_w=np.ones(2),
             mu_v=np.zeros((1, 2)), lam_v=np.ones((1, 2)))
    state = 7
    for _ in range(300):
        p, e, _, state = run_sweep(design, y, p, state, noise=1.0, priors=DEFAULT_PRIORS)
    fitted = fm_fast(X, p["w0"], p["w"], p["V"])
    assert np.sqrt(np.mean((fitted - y) ** 2)) < 0.05
    np.testing.assert_allclose(e, y - fitted, atol=1e-9)
    assert p["alpha"] > 100


@pytest.mark.parametrize("n_times, n_more", [(1, 0), (3, 0), (6, 0), (3, 2), (1, 4)])
def test_more_relations_sweep_as_the_coordinatewise_reference(n_times, n_more):
    # The time block's third relation (explicit cases besides hypothesis's draws), and a
    # fourth (the general row pass: o_i summed over every other key) against the dense
    # reference, deterministic and sampled.
    design, X, y, p = random_problem(17, 4, 5, 25, 3, 2, 2, 2, n_times=n_times,
                                     n_more=n_more)
    n_rel = 4 if n_more else 3
    assert len(design.key_offset) == n_rel + 1
    assert design.other_keys.shape == (n_rel * 25, n_rel - 1)
    got, e, _, _ = run_sweep(design, y, p, 0, noise=0.0)
    want, e_want = reference_deterministic_sweep(X, y, design, p)
    for key in ("w0", "alpha", "w", "V", "mu_w", "lam_w", "mu_v", "lam_v"):
        np.testing.assert_allclose(got[key], want[key], rtol=1e-7, atol=1e-9, err_msg=key)
    np.testing.assert_allclose(e, e_want, rtol=1e-7, atol=1e-9)
    q, e, (L, Q, T), _ = run_sweep(design, y, p, 3, noise=1.0)
    np.testing.assert_allclose(e, y - fm_definition(X, q["w0"], q["w"], q["V"]), atol=1e-9)
    for a, b in zip((L, Q, T), kernel_caches(design, q["w"], q["V"])):
        np.testing.assert_allclose(a, b, atol=1e-9)
