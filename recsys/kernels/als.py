"""Alternating least squares for explicit ratings, weighted-lambda regularisation.

Zhou, Wilkinson, Schreiber and Pan (2008), "Large-scale parallel collaborative filtering for
the Netflix Prize", section 3: with the item factors fixed, each user's factors minimise

    sum_{i in I(u)} (r_ui - mu - b_i - b_u - p_u . q_i)^2 + reg * n_u * |p_u|^2 + reg_bias * b_u^2

(Zhou et al. have no biases and no mu; the bias column and the global mean are the usual
extension, and they are optional). Writing ``x_i = [q_i, 1]`` and ``w_u = [p_u, b_u]``, the
minimiser solves the (k+1) x (k+1) normal equations

    (X_u^T X_u + diag(reg * n_u, ..., reg * n_u, reg_bias)) w_u = X_u^T (r_u - mu - b_I(u))   (*)

one independent small system per user, solved by the shared Cholesky factorisation
(:func:`recsys.kernels.linalg.cholesky_solve`, which also states its fastmath and
positive-definite policy). The item step
is the same with users and items swapped. Without biases the system is k x k and the bias
terms are absent (the global mean ``offset`` stays; pass 0 to drop it too).

Rows are independent, so the half-sweep runs in parallel (``prange`` over chunks of rows of
about equal cost) and gives the same result whatever the number of threads. Each chunk
allocates its scratch (a (k+1)^2 matrix and two vectors, float64) once; nothing is allocated
per row. The Gram matrix and the solve are in float64 whatever the factors' dtype. The sweep
is compiled with the solver's ``fastmath={"reassoc", "contract"}``; the result is still the
same for every thread count, since each row is solved by one thread with the same code.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.linalg import cholesky_solve


@nb.njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def als_half_sweep(indptr, indices, ratings, offset, fixed_factors, fixed_bias, factors, bias,
                   reg, reg_bias, use_bias, bounds):
    """Solve (*) for every row of a CSR rating matrix, against fixed factors; in place.

    Parameters
    ----------
    indptr : int64, shape (n_rows + 1,)
    indices : int32, shape (nnz,)
        Column (the fixed side's index) of each rating.
    ratings : float32 or float64, shape (nnz,)
    offset : float
        Global mean mu subtracted from every rating.
    fixed_factors : shape (n_cols, k); fixed_bias : shape (n_cols,)
        The other side's factors and biases (the bias is ignored when ``use_bias`` is False).
    factors : shape (n_rows, k); bias : shape (n_rows,)
        Overwritten with the solutions; rows without ratings get zeros.
    reg : float
        Weighted-lambda penalty: ``reg * n_row`` on each factor.
    reg_bias : float
        Penalty on the bias, not scaled by the row's count (a damping term).
    use_bias : bool
    bounds : int64, shape (n_chunks + 1,)
        Row ranges ``[bounds[c], bounds[c+1])`` processed by one thread each
        (see :func:`balanced_chunks`).

    Returns
    -------
    int
        Number of rows whose system was not positive definite (their solution is NaN).
        Zero whenever ``reg > 0``.
    """
    k = fixed_factors.shape[1]
    kk = k + 1 if use_bias else k
    n_chunks = bounds.shape[0] - 1
    failed = np.zeros(n_chunks, dtype=np.int64)
    for c in nb.prange(n_chunks):
        a = np.empty((kk, kk), dtype=np.float64)
        b = np.empty(kk, dtype=np.float64)
        x = np.empty(kk, dtype=np.float64)
        for r in range(bounds[c], bounds[c + 1]):
            lo = indptr[r]
            hi = indptr[r + 1]
            if hi == lo:
                for f in range(k):
                    factors[r, f] = 0
                if use_bias:
                    bias[r] = 0
                continue
            for s in range(kk):
                b[s] = 0.0
                for t in range(s + 1):
                    a[s, t] = 0.0
            for p in range(lo, hi):
                j = indices[p]
                y = float(ratings[p]) - offset
                for f in range(k):
                    x[f] = fixed_factors[j, f]
                if use_bias:
                    y -= fixed_bias[j]
                    x[k] = 1.0
                for s in range(kk):
                    xs = x[s]
                    b[s] += xs * y
                    for t in range(s + 1):
                        a[s, t] += xs * x[t]
            lam = reg * (hi - lo)
            for f in range(k):
                a[f, f] += lam
            if use_bias:
                a[k, k] += reg_bias
            if cholesky_solve(a, b, kk):
                for f in range(k):
                    factors[r, f] = b[f]
                if use_bias:
                    bias[r] = b[k]
            else:
                failed[c] += 1
                for f in range(k):
                    factors[r, f] = np.nan
                if use_bias:
                    bias[r] = np.nan
    return failed.sum()


@nb.njit(cache=True)
def balanced_chunks(indptr, n_factors, n_chunks):
    """Row boundaries splitting the rows into at most ``n_chunks`` chunks of about equal
    solve cost: ``n_row * (k^2 / 2 + k)`` for the Gram matrix plus ``k^3 / 6`` for
    Cholesky, with ``k = n_factors + 1``.

    indptr : int64 (n_rows + 1,). Returns int64 (<= n_chunks + 1,): strictly increasing from
    0 to ``n_rows`` (just ``[0]`` without rows); chunk ``c`` is ``bounds[c]:bounds[c + 1]``.
    A boundary is the first row whose preceding rows cost at least ``c / n_chunks`` of the
    total.
    """
    n_rows = indptr.shape[0] - 1
    k = n_factors + 1
    per_rating = k * k / 2 + k
    per_row = k ** 3 / 6
    n_chunks = max(n_chunks, 1)
    total = 0.0
    for r in range(n_rows):
        total += (indptr[r + 1] - indptr[r]) * per_rating + per_row
    step = total / n_chunks
    bounds = np.empty(n_chunks + 1, dtype=np.int64)
    bounds[0] = 0
    m = 1
    cum = 0.0
    r = 0
    for c in range(1, n_chunks):
        while r < n_rows and cum < c * step:
            cum += (indptr[r + 1] - indptr[r]) * per_rating + per_row
            r += 1
        if bounds[m - 1] < r < n_rows:
            bounds[m] = r
            m += 1
    if n_rows > 0:
        bounds[m] = n_rows
        m += 1
    return bounds[:m].copy()
