"""One half-step of implicit alternating least squares (iALS), parallel over rows.

Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008,
eq. 3 and 4: with preferences ``p_ui = 1`` for the stored pairs (0 elsewhere) and
confidences ``c_ui`` (``1 + alpha * r_ui`` for the stored pairs, 1 elsewhere), each row
factor solves its weighted ridge regression against the fixed other side ``Y``::

    (Y^T C_u Y + lambda_u I) x_u = Y^T C_u p_u

computed, as in the paper's section 4, from the Gram matrix ``Y^T Y`` (the same for every
row) plus a correction over the row's stored pairs only::

    A_u = Y^T Y + lambda_u I + sum over stored i of (c_ui - 1) y_i y_i^T
    b_u = sum over stored i of c_ui y_i

The penalty ``lambda_u`` is per row (``row_reg``): a constant for Hu et al.'s model, or the
frequency-scaled penalty of Rendle et al., "Revisiting the Performance of iALS on Item
Recommendation Benchmarks", RecSys 2022 (the caller computes it;
:class:`recsys.models.ials.ImplicitALS`).

Two solvers:

- exact: Cholesky factorisation of ``A_u`` in float64 (O(k^3) per row; the shared
  :func:`recsys.kernels.linalg.cholesky_solve` and its positive-definite check);
- conjugate gradient with a fixed number of steps, warm-started from the current ``x_u``
  and never forming ``A_u`` (Takacs, Pilaszy & Tikk, "Applications of the conjugate
  gradient method for implicit feedback collaborative filtering", RecSys 2011; the solver of
  the ``implicit`` library, whose default is 3 steps), in float32 like the factors. The
  first residual ``b_u - A_u x_u`` takes one pass over the row's pairs (the two sums share
  the dot product ``y_i . x_u``); each step then costs O(nnz_u k + k^2).

Factor arrays and the Gram matrix are float32, C-contiguous (:func:`gram_matrix` forms the
Gram with float64 sums on one thread, without BLAS: a BLAS pool spinning against Numba's
threads cost 30x on two cores, and a parallel region of its own per half-step cost more
than it saved on a busy machine). Rows are independent and each is solved by one thread, so
the result does not depend on the number of threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.linalg import cholesky_solve

# Rows per parallel task: workspaces are allocated once per block, not per row.
_BLOCK = 32
# Rows of Y per partial Gram in gram_matrix (the partial sums are added in a fixed order).
_GRAM_CHUNK = 512


@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def _partial_gram(Y, lo, hi, out):
    # out (float64, lower triangle) <- sum over rows lo..hi-1 of y y^T.
    k = Y.shape[1]
    for a in range(k):
        for c in range(a + 1):
            out[a, c] = 0.0
    for n in range(lo, hi):
        y = Y[n]
        for a in range(k):
            ya = np.float64(y[a])
            for c in range(a + 1):
                out[a, c] += ya * np.float64(y[c])


@nb.njit(cache=True)
def gram_matrix(Y):
    """``Y^T Y`` (float32 (k, k), symmetric) of float32 factors ``Y`` (n, k).

    Partial sums over chunks of 512 rows in float64, added in chunk order, then rounded to
    float32 (n k^2 / 2 multiply-adds: 3.4 M for ML-100K's items at k = 64).
    """
    n, k = Y.shape
    n_chunks = max(1, (n + _GRAM_CHUNK - 1) // _GRAM_CHUNK)
    parts = np.empty((n_chunks, k, k), dtype=np.float64)
    for j in range(n_chunks):
        _partial_gram(Y, j * _GRAM_CHUNK, min(n, (j + 1) * _GRAM_CHUNK), parts[j])
    out = np.empty((k, k), dtype=np.float32)
    for a in range(k):
        for c in range(a + 1):
            s = 0.0
            for j in range(n_chunks):
                s += parts[j, a, c]
            out[a, c] = np.float32(s)
            out[c, a] = np.float32(s)
    return out


@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def _normal_equations(lo, hi, indices, confidence, Y, gram, reg, A, b):
    # A <- gram + reg I + sum (c - 1) y y^T (lower triangle only: all cholesky_solve reads),
    # b <- sum c y over the stored pairs lo..hi; float64.
    k = Y.shape[1]
    for a in range(k):
        b[a] = 0.0
        for c in range(a + 1):
            A[a, c] = np.float64(gram[a, c])
        A[a, a] += reg
    for t in range(lo, hi):
        y = Y[indices[t]]
        conf = np.float64(confidence[t])
        w = conf - 1.0
        for a in range(k):
            ya = np.float64(y[a])
            b[a] += conf * ya
            wa = w * ya
            for c in range(a + 1):
                A[a, c] += wa * np.float64(y[c])


@nb.njit(cache=True, fastmath=True)
def _apply_A(lo, hi, indices, confidence, Y, gram, reg, v, out):
    # out <- A_u v without forming A_u (float32).
    k = Y.shape[1]
    for a in range(k):
        s = reg * v[a]
        for c in range(k):
            s += gram[a, c] * v[c]
        out[a] = s
    for t in range(lo, hi):
        y = Y[indices[t]]
        d = np.float32(0.0)
        for a in range(k):
            d += y[a] * v[a]
        d *= confidence[t] - np.float32(1.0)
        for a in range(k):
            out[a] += d * y[a]


@nb.njit(cache=True, fastmath=True)
def _residual(lo, hi, indices, confidence, Y, gram, reg, x, r):
    # r <- b_u - A_u x in one pass over the stored pairs:
    # sum_i (c_i - (c_i - 1) y_i . x) y_i - (gram + reg I) x.
    k = Y.shape[1]
    for a in range(k):
        s = reg * x[a]
        for c in range(k):
            s += gram[a, c] * x[c]
        r[a] = -s
    for t in range(lo, hi):
        y = Y[indices[t]]
        d = np.float32(0.0)
        for a in range(k):
            d += y[a] * x[a]
        conf = confidence[t]
        w = conf - (conf - np.float32(1.0)) * d
        for a in range(k):
            r[a] += w * y[a]


@nb.njit(cache=True, fastmath=True)
def _cg_solve(lo, hi, indices, confidence, Y, gram, reg, cg_steps, x, r, p, Ap):
    # cg_steps conjugate-gradient steps on A_u x = b_u from the x given (in place), float32.
    k = Y.shape[1]
    _residual(lo, hi, indices, confidence, Y, gram, reg, x, r)
    rs_old = np.float32(0.0)
    for a in range(k):
        p[a] = r[a]
        rs_old += r[a] * r[a]
    for _ in range(cg_steps):
        if rs_old < 1e-20:
            break
        _apply_A(lo, hi, indices, confidence, Y, gram, reg, p, Ap)
        pAp = np.float32(0.0)
        for a in range(k):
            pAp += p[a] * Ap[a]
        if pAp <= 0.0:
            break
        step = rs_old / pAp
        rs_new = np.float32(0.0)
        for a in range(k):
            x[a] += step * p[a]
            r[a] -= step * Ap[a]
            rs_new += r[a] * r[a]
        beta = rs_new / rs_old
        for a in range(k):
            p[a] = r[a] + beta * p[a]
        rs_old = rs_new


@nb.njit(cache=True)
def _solve_rows(start, stop, indptr, indices, confidence, X, Y, gram, row_reg, cg_steps,
                exact):
    # Rows start..stop-1 with one set of workspaces; returns how many exact systems were
    # not positive definite (their rows become NaN). Kept out of the prange body: Numba
    # compiles a small parallel loop around a call far faster than a large inlined body.
    k = X.shape[1]
    failed = 0
    if exact:
        A = np.empty((k, k), dtype=np.float64)
        b = np.empty(k, dtype=np.float64)  # right-hand side, then solution
        for u in range(start, stop):
            _normal_equations(indptr[u], indptr[u + 1], indices, confidence, Y, gram,
                              np.float64(row_reg[u]), A, b)
            if not cholesky_solve(A, b, k):
                failed += 1
                for a in range(k):
                    b[a] = np.nan
            for a in range(k):
                X[u, a] = np.float32(b[a])
        return failed
    r = np.empty(k, dtype=np.float32)
    p = np.empty(k, dtype=np.float32)
    Ap = np.empty(k, dtype=np.float32)
    for u in range(start, stop):
        _cg_solve(indptr[u], indptr[u + 1], indices, confidence, Y, gram, row_reg[u],
                  cg_steps, X[u], r, p, Ap)
    return failed


@nb.njit(cache=True, parallel=True)
def ials_half_step(indptr, indices, confidence, X, Y, gram, row_reg, cg_steps, exact):
    """Recompute every row of ``X`` against the fixed ``Y``; ``X`` updated in place.

    Parameters
    ----------
    indptr : int64 (n_rows + 1,)
    indices : int32 (nnz,)
    confidence : float32 (nnz,)
        CSR of the stored pairs by row of ``X``, values ``c_ui`` (module docstring). A row
        with no stored pair gets the solution of ``(Y^T Y + lambda_u I) x = 0``, i.e. 0 (the
        CG solver moves it towards 0 from its current value).
    X : float32 (n_rows, k), C-contiguous
        Factors to update; the CG solver starts from their current values.
    Y : float32 (n_cols, k), C-contiguous
        Fixed factors of the other side.
    gram : float32 (k, k)
        ``Y^T Y`` (:func:`gram_matrix`), without the penalty.
    row_reg : float32 (n_rows,)
        The penalty ``lambda_u`` of each row (> 0 keeps every system positive definite).
    cg_steps : int
        Conjugate-gradient steps per row (ignored when ``exact``).
    exact : bool
        Solve by Cholesky (float64) instead of CG (float32).

    Returns
    -------
    int
        Rows whose exact system was not positive definite (their factors are NaN); 0 with
        positive penalties and finite inputs, and always 0 for CG.
    """
    n_rows = X.shape[0]
    n_blocks = (n_rows + _BLOCK - 1) // _BLOCK
    failed = np.zeros(n_blocks, dtype=np.int64)
    for blk in nb.prange(n_blocks):
        failed[blk] = _solve_rows(blk * _BLOCK, min(n_rows, (blk + 1) * _BLOCK), indptr,
                                  indices, confidence, X, Y, gram, row_reg, cg_steps, exact)
    return failed.sum()
