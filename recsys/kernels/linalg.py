"""Small dense linear algebra shared by the least-squares kernels: one Cholesky solve.

Both ALS (:mod:`recsys.kernels.als`) and iALS (:mod:`recsys.kernels.ials`) solve one small
symmetric positive definite system per row with :func:`cholesky_solve`, under one policy:

- **Positive-definite check.** A pivot that is not ``> 0`` (zero, negative or NaN) stops the
  factorisation and the solve reports False; the caller marks that row's solution NaN and
  counts it. With ``reg > 0`` (both models require it) the systems are positive definite,
  so the check costs one comparison per pivot and never fires on finite data.
- **fastmath={"reassoc", "contract"}** and nothing more: reassociation lets LLVM vectorise
  the inner products and contraction fuses them into FMAs (about 1.4x at k = 100), while
  NaN and infinity keep their IEEE meaning, which the check above relies on (under the
  ``nnan`` flag of ``fastmath=True`` a NaN pivot may be assumed away) and division stays
  exact (no ``arcp`` reciprocal approximation). Each row is solved by one thread with the
  same code, so results do not depend on the thread count.
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
