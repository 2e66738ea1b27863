"""One half-step of implicit alternating least squares (iALS), parallel over rows.

Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008,
eq. 3 and 4: with preferences ``p_ui = 1`` for the stored pairs (0 elsewhere) and
confidences ``c_ui`` (``1 + alpha * r_ui`` for the stored pairs, 1 elsewhere), each row
factor solves its weighted ridge regression against the fixed other side ``Y``::

    (Y^T C_u Y + reg I) x_u = Y^T C_u p_u

computed, as in the paper's section 4, from ``Y^T Y`` (the same for every row) plus a
correction over the row's stored pairs only::

    A_u = (Y^T Y + reg I) + sum over stored i of (c_ui - 1) y_i y_i^T
    b_u = sum over stored i of c_ui y_i

Two solvers:

- exact: Cholesky factorisation of ``A_u`` (O(k^3) per row; the shared
  :func:`recsys.kernels.linalg.cholesky_solve` and its positive-definite check);
- conjugate gradient with a fixed number of steps, warm-started from the current ``x_u``
  and never forming ``A_u`` (Takacs, Pilaszy & Tikk, "Applications of the conjugate
  gradient method for implicit feedback collaborative filtering", RecSys 2011; the solver of
  the ``implicit`` library, whose default is 3 steps). Each step costs O(nnz_u k + k^2).

Factor arrays are float32, C-contiguous; ``YtY_reg`` is ``Y^T Y + reg I`` in float64
(precomputed once per half-step by the caller); per-row arithmetic is in float64. Rows are
independent, so the result does not depend on the number of threads.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.linalg import cholesky_solve

# Rows per parallel task: workspaces are allocated once per block, not per row.
_BLOCK = 32


@nb.njit(cache=True, fastmath=True)
def _normal_equations(lo, hi, indices, confidence, Y, YtY_reg, A, b):
    # A <- YtY_reg + sum (c - 1) y y^T (lower triangle only: all cholesky_solve reads),
    # b <- sum c y over the stored pairs lo..hi.
    k = Y.shape[1]
    for a in range(k):
        b[a] = 0.0
        for c in range(a + 1):
            A[a, c] = YtY_reg[a, c]
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
def _apply_A(lo, hi, indices, confidence, Y, YtY_reg, v, out):
    # out <- A_u v without forming A_u.
    k = Y.shape[1]
    for a in range(k):
        s = 0.0
        for c in range(k):
            s += YtY_reg[a, c] * v[c]
        out[a] = s
    for t in range(lo, hi):
        y = Y[indices[t]]
        d = 0.0
        for a in range(k):
            d += np.float64(y[a]) * v[a]
        d *= np.float64(confidence[t]) - 1.0
        for a in range(k):
            out[a] += d * np.float64(y[a])


@nb.njit(cache=True, fastmath=True)
def _cg_solve(lo, hi, indices, confidence, Y, YtY_reg, cg_steps, x, r, p, Ap):
    # cg_steps conjugate-gradient steps on A_u x = b_u from the x given (in place).
    k = Y.shape[1]
    _apply_A(lo, hi, indices, confidence, Y, YtY_reg, x, Ap)
    for a in range(k):
        r[a] = -Ap[a]
    for t in range(lo, hi):
        y = Y[indices[t]]
        conf = np.float64(confidence[t])
        for a in range(k):
            r[a] += conf * np.float64(y[a])
    rs_old = 0.0
    for a in range(k):
        p[a] = r[a]
        rs_old += r[a] * r[a]
    for _ in range(cg_steps):
        if rs_old < 1e-20:
            break
        _apply_A(lo, hi, indices, confidence, Y, YtY_reg, p, Ap)
        pAp = 0.0
        for a in range(k):
            pAp += p[a] * Ap[a]
        if pAp <= 0.0:
            break
        step = rs_old / pAp
        rs_new = 0.0
        for a in range(k):
            x[a] += step * p[a]
            r[a] -= step * Ap[a]
            rs_new += r[a] * r[a]
        beta = rs_new / rs_old
        for a in range(k):
            p[a] = r[a] + beta * p[a]
        rs_old = rs_new


@nb.njit(cache=True, fastmath=True)
def _solve_rows(start, stop, indptr, indices, confidence, X, Y, YtY_reg, cg_steps, exact):
    # Rows start..stop-1 with one set of workspaces; returns how many exact systems were
    # not positive definite (their rows become NaN). Kept out of the prange body: Numba
    # compiles a small parallel loop around a call far faster than a large inlined body.
    k = X.shape[1]
    A = np.empty((k, k), dtype=np.float64)
    x = np.empty(k, dtype=np.float64)  # right-hand side, then solution
    r = np.empty(k, dtype=np.float64)
    p = np.empty(k, dtype=np.float64)
    Ap = np.empty(k, dtype=np.float64)
    failed = 0
    for u in range(start, stop):
        lo = indptr[u]
        hi = indptr[u + 1]
        if exact:
            _normal_equations(lo, hi, indices, confidence, Y, YtY_reg, A, x)
            if not cholesky_solve(A, x, k):
                failed += 1
                for a in range(k):
                    x[a] = np.nan
        else:
            for a in range(k):
                x[a] = X[u, a]
            _cg_solve(lo, hi, indices, confidence, Y, YtY_reg, cg_steps, x, r, p, Ap)
        for a in range(k):
            X[u, a] = np.float32(x[a])
    return failed


@nb.njit(cache=True, parallel=True)
def ials_half_step(indptr, indices, confidence, X, Y, YtY_reg, cg_steps, exact):
    """Recompute every row of ``X`` against the fixed ``Y``; ``X`` updated in place.

    Parameters
    ----------
    indptr : int64 (n_rows + 1,)
    indices : int32 (nnz,)
    confidence : float32 (nnz,)
        CSR of the stored pairs by row of ``X``, values ``c_ui`` (module docstring). A row
        with no stored pair gets the solution of ``(Y^T Y + reg I) x = 0``, i.e. 0 (the CG
        solver moves it towards 0 from its current value).
    X : float32 (n_rows, k), C-contiguous
        Factors to update; the CG solver starts from their current values.
    Y : float32 (n_cols, k), C-contiguous
        Fixed factors of the other side.
    YtY_reg : float64 (k, k)
        ``Y^T Y + reg I``.
    cg_steps : int
        Conjugate-gradient steps per row (ignored when ``exact``).
    exact : bool
        Solve by Cholesky instead of CG.

    Returns
    -------
    int
        Rows whose exact system was not positive definite (their factors are NaN); 0 with
        ``reg > 0`` and finite inputs, and always 0 for CG.
    """
    n_rows = X.shape[0]
    n_blocks = (n_rows + _BLOCK - 1) // _BLOCK
    failed = np.zeros(n_blocks, dtype=np.int64)
    for blk in nb.prange(n_blocks):
        failed[blk] = _solve_rows(blk * _BLOCK, min(n_rows, (blk + 1) * _BLOCK), indptr,
                                  indices, confidence, X, Y, YtY_reg, cg_steps, exact)
    return failed.sum()
