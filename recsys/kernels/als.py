"""Alternating least squares for explicit ratings, weighted-lambda regularisation.

Zhou, Wilkinson, Schreiber and Pan (2008), "Large-scale parallel collaborative filtering for
the Netflix Prize", section 3: with the item factors fixed, each user's factors minimise

    sum_{i in I(u)} (r_ui - mu - b_i - b_u - p_u . q_i)^2 + reg * n_u * |p_u|^2 + reg_bias * b_u^2

(Zhou et al. have no biases and no mu; the bias column and the global mean are the usual
extension, and they are optional). Writing ``x_i = [q_i, 1]`` and ``w_u = [p_u, b_u]``, the
minimiser solves the (k+1) x (k+1) normal equations

    (X_u^T X_u + diag(reg * n_u, ..., reg * n_u, reg_bias)) w_u = X_u^T (r_u - mu - b_I(u))   (*)

one independent small system per user, solved here by a Cholesky factorisation. The item step
is the same with users and items swapped. Without biases the system is k x k and the bias
terms are absent (the global mean ``offset`` stays; pass 0 to drop it too).

Rows are independent, so the half-sweep runs in parallel (``prange`` over chunks of rows of
about equal cost) and gives the same result whatever the number of threads. Each chunk
allocates its scratch (a (k+1)^2 matrix and two vectors, float64) once; nothing is allocated
per row. The Gram matrix and the solve are in float64 whatever the factors' dtype. The sweep
and the solver are compiled with ``fastmath={"reassoc", "contract"}`` (the Cholesky inner
products vectorise; about 1.4x at k = 100); the result is still the same for every thread
count, since each row is solved by one thread with the same code.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def cholesky_solve(a, b, n):
    """Solve ``A x = b`` for symmetric positive definite ``A``, in place.

    a : float64 (>= n, >= n); only the lower triangle of ``a[:n, :n]`` is read, and it is
        overwritten by the Cholesky factor L (A = L L^T).
    b : float64 (>= n,); overwritten by the solution x.
    Returns False (leaving ``a`` and ``b`` partly overwritten) if A is not positive definite.
    """
    for j in range(n):
        s = a[j, j]
        for p in range(j):
            s -= a[j, p] * a[j, p]
        if not s > 0.0:
            return False
        d = np.sqrt(s)
        a[j, j] = d
        for i in range(j + 1, n):
            s = a[i, j]
            for p in range(j):
                s -= a[i, p] * a[j, p]
            a[i, j] = s / d
    for i in range(n):  # L y = b
        s = b[i]
        for p in range(i):
            s -= a[i, p] * b[p]
        b[i] = s / a[i, i]
    for i in range(n - 1, -1, -1):  # L^T x = y
        s = b[i]
        for p in range(i + 1, n):
            s -= a[p, i] * b[p]
        b[i] = s / a[i, i]
    return True


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


def balanced_chunks(indptr: np.ndarray, n_factors: int, n_chunks: int) -> np.ndarray:
    """Row boundaries (int64, shape (<= n_chunks + 1,)) splitting rows into chunks of about
    equal solve cost: ``n_row * k^2 / 2`` for the Gram matrix plus ``k^3 / 6`` for Cholesky.
    """
    n_rows = len(indptr) - 1
    k = n_factors + 1
    cost = np.diff(indptr).astype(np.float64) * (k * k / 2 + k) + k ** 3 / 6
    cum = np.concatenate([[0.0], np.cumsum(cost)])
    targets = np.linspace(0.0, cum[-1], max(int(n_chunks), 1) + 1)
    bounds = np.searchsorted(cum, targets, side="left").astype(np.int64)
    bounds[0], bounds[-1] = 0, n_rows
    return np.unique(bounds)


@nb.njit(cache=True, parallel=True)
def mf_sse(users, items, ratings, offset, user_factors, item_factors, user_bias, item_bias,
           low, high):
    """Sum of squared errors of ``offset + b_u + b_i + p_u . q_i`` clipped to [low, high].

    users, items : int32 (n,); ratings : (n,); factor arrays (n_users, k), (n_items, k);
    bias arrays (n_users,), (n_items,) (pass zeros for a model without biases). Returns float64.
    """
    n = users.shape[0]
    k = user_factors.shape[1]
    total = 0.0
    for t in nb.prange(n):
        u = users[t]
        i = items[t]
        dot = 0.0
        for f in range(k):
            dot += user_factors[u, f] * item_factors[i, f]
        pred = min(max(offset + user_bias[u] + item_bias[i] + dot, low), high)
        err = ratings[t] - pred
        total += err * err
    return total
