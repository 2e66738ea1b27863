"""The iALS half-step against NumPy solves of each row's normal equations."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.ials import gram_matrix, ials_half_step


def normal_equations(Y, conf_row, reg):
    """Hu et al. 2008 eq. 4 for one row: (Y^T C_u Y + reg I, Y^T C_u p_u), dense, float64.

    ``conf_row`` holds c_ui for every column (1 where nothing is stored) and p_ui = 1 exactly
    where something is stored.
    """
    Y = Y.astype(np.float64)
    c = conf_row["c"]
    p = conf_row["p"]
    A = Y.T @ (c[:, None] * Y) + reg * np.eye(Y.shape[1])
    b = Y.T @ (c * p)
    return A, b


def dense_rows(m, n_cols):
    out = []
    for u in range(m.shape[0]):
        c = np.ones(n_cols)
        p = np.zeros(n_cols)
        lo, hi = m.indptr[u], m.indptr[u + 1]
        c[m.indices[lo:hi]] = m.data[lo:hi]
        p[m.indices[lo:hi]] = 1.0
        out.append({"c": c, "p": p})
    return out


def reference_cg(A, b, x, steps):
    """Plain conjugate gradient from x, ``steps`` steps (stops early on a zero residual)."""
    x = x.astype(np.float64).copy()
    r = b - A @ x
    p = r.copy()
    rs = r @ r
    for _ in range(steps):
        if rs < 1e-20:
            break
        Ap = A @ p
        a = rs / (p @ Ap)
        x += a * p
        r -= a * Ap
        rs_new = r @ r
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def make_problem(seed, n_rows, n_cols, k, density, alpha):
    rng = np.random.default_rng(seed)
    mask = rng.random((n_rows, n_cols)) < density
    if n_rows > 1:
        mask[0] = False  # an empty row is an explicit case
    values = 1.0 + alpha * rng.integers(1, 6, size=(n_rows, n_cols))
    m = sp.csr_matrix(np.where(mask, values, 0.0).astype(np.float32))
    m.sort_indices()
    X = rng.normal(scale=0.1, size=(n_rows, k)).astype(np.float32)
    Y = rng.normal(scale=0.5, size=(n_cols, k)).astype(np.float32)
    return m, X, Y


def kernel_args(m):
    return (m.indptr.astype(np.int64), m.indices.astype(np.int32), m.data.astype(np.float32))


def gram(Y):
    Y = Y.astype(np.float64)
    return (Y.T @ Y).astype(np.float32)


def regs(n_rows, reg):
    return np.full(n_rows, reg, dtype=np.float32)


@settings(deadline=None, max_examples=40)
@given(n_rows=st.integers(1, 12), n_cols=st.integers(1, 25), k=st.integers(1, 8),
       density=st.floats(0.0, 1.0), alpha=st.floats(0.0, 20.0), reg=st.floats(0.05, 10.0),
       seed=st.integers(0, 2**31 - 1))
def test_exact_solve_equals_numpy_solve(n_rows, n_cols, k, density, alpha, reg, seed):
    m, X, Y = make_problem(seed, n_rows, n_cols, k, density, alpha)
    ials_half_step(*kernel_args(m), X, Y, gram(Y), regs(len(X), reg), 3, True)
    for u, row in enumerate(dense_rows(m, n_cols)):
        A, b = normal_equations(Y, row, reg)
        np.testing.assert_allclose(X[u], np.linalg.solve(A, b), rtol=2e-4, atol=1e-5)


@settings(deadline=None, max_examples=40)
@given(n_rows=st.integers(1, 12), n_cols=st.integers(1, 25), k=st.integers(1, 8),
       density=st.floats(0.0, 1.0), alpha=st.floats(0.0, 20.0), reg=st.floats(0.05, 10.0),
       seed=st.integers(0, 2**31 - 1))
def test_cg_with_enough_steps_equals_exact_solution(n_rows, n_cols, k, density, alpha, reg,
                                                     seed):
    m, X, Y = make_problem(seed, n_rows, n_cols, k, density, alpha)
    # In exact arithmetic CG ends in k steps; a few more absorb rounding.
    ials_half_step(*kernel_args(m), X, Y, gram(Y), regs(len(X), reg), 4 * k + 10, False)
    for u, row in enumerate(dense_rows(m, n_cols)):
        A, b = normal_equations(Y, row, reg)
        expected = np.linalg.solve(A, b)
        # float32 CG: converged to about cond(A) * 6e-8 of the solution's size.
        scale = 1.0 + np.abs(expected).max()
        np.testing.assert_allclose(X[u], expected, rtol=2e-3, atol=1e-3 * scale)


@settings(deadline=None, max_examples=30)
@given(n_rows=st.integers(1, 10), n_cols=st.integers(1, 20), k=st.integers(2, 8),
       steps=st.integers(1, 4), density=st.floats(0.1, 0.9), seed=st.integers(0, 2**31 - 1))
def test_few_cg_steps_match_reference_cg_from_warm_start(n_rows, n_cols, k, steps, density,
                                                          seed):
    m, X, Y = make_problem(seed, n_rows, n_cols, k, density, 5.0)
    reg = 1.0
    X0 = X.copy()
    ials_half_step(*kernel_args(m), X, Y, gram(Y), regs(len(X), reg), steps, False)
    for u, row in enumerate(dense_rows(m, n_cols)):
        A, b = normal_equations(Y, row, reg)
        expected = reference_cg(A, b, X0[u], steps)
        # The kernel's CG runs in float32: once the residual is near rounding (more steps
        # than the system's effective rank, e.g. k > n_cols) its last steps differ from the
        # float64 reference by about 1e-3 of the solution's size.
        scale = 1.0 + np.abs(expected).max()
        np.testing.assert_allclose(X[u], expected, rtol=2e-3, atol=1e-3 * scale)


def test_empty_row_solves_to_zero():
    m = sp.csr_matrix((3, 5), dtype=np.float32)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3, 4)).astype(np.float32)
    Y = rng.normal(size=(5, 4)).astype(np.float32)
    ials_half_step(*kernel_args(m), X, Y, gram(Y), regs(len(X), 0.5), 3, True)
    np.testing.assert_array_equal(X, 0.0)


def test_result_does_not_depend_on_thread_count():
    import numba

    m, X, Y = make_problem(3, 100, 40, 6, 0.2, 3.0)  # more rows than one block
    X1, X2 = X.copy(), X.copy()
    G, R = gram(Y), regs(len(X), 0.3)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        ials_half_step(*kernel_args(m), X1, Y, G, R, 3, False)
    finally:
        numba.set_num_threads(before)
    ials_half_step(*kernel_args(m), X2, Y, G, R, 3, False)
    np.testing.assert_array_equal(X1, X2)


def test_exact_solve_reports_systems_that_are_not_positive_definite():
    # The shared Cholesky policy: a non-positive pivot is counted and its row becomes NaN
    # (with reg > 0, as the model requires, this cannot happen on finite data).
    m, X, Y = make_problem(4, 40, 12, 3, 0.3, 2.0)
    assert ials_half_step(*kernel_args(m), X.copy(), Y, gram(Y), regs(len(X), 0.5), 3,
                          True) == 0
    # "Y^T Y + reg I" negative definite: every empty row fails too
    bad, bad_reg = np.zeros((3, 3), dtype=np.float32), regs(len(X), -1.0)
    out = X.copy()
    failed = ials_half_step(*kernel_args(m), out, Y, bad, bad_reg, 3, True)
    rows_nan = np.isnan(out).all(axis=1)
    assert failed == rows_nan.sum() and failed > 0
    assert rows_nan[0]  # the empty row: A = -I
    assert ials_half_step(*kernel_args(m), X.copy(), Y, bad, bad_reg, 3, False) == 0  # no check


@settings(deadline=None, max_examples=30)
@given(n_rows=st.integers(1, 12), n_cols=st.integers(1, 25), k=st.integers(1, 8),
       density=st.floats(0.0, 1.0), alpha=st.floats(0.0, 20.0), seed=st.integers(0, 2**31 - 1),
       exact=st.booleans())
def test_each_row_gets_its_own_penalty(n_rows, n_cols, k, density, alpha, seed, exact):
    # Rendle et al. 2022's frequency-scaled penalties: lambda_u differs by row.
    m, X, Y = make_problem(seed, n_rows, n_cols, k, density, alpha)
    row_reg = np.random.default_rng(seed).uniform(0.05, 20.0, n_rows).astype(np.float32)
    ials_half_step(*kernel_args(m), X, Y, gram(Y), row_reg, 3 if exact else 4 * k + 10, exact)
    for u, row in enumerate(dense_rows(m, n_cols)):
        A, b = normal_equations(Y, row, float(row_reg[u]))
        expected = np.linalg.solve(A, b)
        scale = 1.0 + np.abs(expected).max()
        tol = dict(rtol=2e-4, atol=1e-5) if exact else dict(rtol=2e-3, atol=1e-3 * scale)
        np.testing.assert_allclose(X[u], expected, **tol)


@settings(deadline=None, max_examples=40)
@given(n=st.integers(0, 1500), k=st.integers(1, 12), seed=st.integers(0, 2**31 - 1))
def test_gram_matrix_equals_numpy(n, k, seed):
    # n up to three chunks of 512 rows, and the empty matrix.
    Y = np.random.default_rng(seed).normal(size=(n, k)).astype(np.float32)
    G = gram_matrix(Y)
    assert G.dtype == np.float32 and G.shape == (k, k)
    expected = Y.astype(np.float64).T @ Y.astype(np.float64)
    np.testing.assert_allclose(G, expected, rtol=1e-6, atol=1e-6 * max(1, n))
    np.testing.assert_array_equal(G, G.T)


def test_gram_matrix_does_not_depend_on_thread_count():
    import numba

    Y = np.random.default_rng(1).normal(size=(2000, 7)).astype(np.float32)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = gram_matrix(Y)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, gram_matrix(Y))
