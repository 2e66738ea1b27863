"""The shared Cholesky solve against NumPy, and its positive-definite check."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from recsys.kernels.linalg import cholesky_solve


@settings(deadline=None, max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 12))
def test_cholesky_solve_matches_numpy(seed, n):
    rng = np.random.default_rng(seed)
    m = rng.normal(size=(n + 3, n))
    a = m.T @ m + 0.1 * np.eye(n)
    b = rng.normal(size=n)
    work, x = np.triu(np.full((n, n), np.nan), 1) + np.tril(a), b.copy()  # upper never read
    assert cholesky_solve(work, x, n)
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(np.tril(work) @ np.tril(work).T, a, rtol=1e-10, atol=1e-10)


def test_cholesky_solve_reports_indefinite():
    a = np.array([[1.0, 0.0], [2.0, 1.0]])  # lower triangle of [[1, 2], [2, 1]]
    assert not cholesky_solve(a, np.ones(2), 2)
