"""RP3beta's item-item weights: the top-k of each row of a scaled sparse product.

Paudel, Christoffel, Newell and Bernstein, "Updatable, Accurate, Diverse, and Scalable
Recommendations for Interactive Applications", ACM TiiS 7(1), 2017 (P^3_alpha re-ranked
by popularity^beta), as computed by the reference implementation of Dacrema,
Cremonesi and Jannach, RecSys 2019 (``RP3betaRecommender``)::

    W[i, j] = col_scale[j] * sum_u A[i, u] B[u, j]          (j != i)

with ``A = P_iu^alpha`` (items x users, the item -> user transition probabilities),
``B = P_ui^alpha`` (users x items) and ``col_scale[j] = popularity(j)^-beta``. Each row ``i``
is accumulated on its own into a dense float64 scratch row (one per thread), so memory is
O(threads * n_items + n_items * k): the n_items^2 matrix is never formed. The row's nonzero
values, rounded to float32, are offered to the bounded heap of :mod:`recsys.kernels.topk`:
highest first, ties by ascending column.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.topk import heap_append, heap_drain, heap_offer


@nb.njit(cache=True)
def _product_row(i, a_indptr, a_indices, a_data, b_indptr, b_indices, b_data, acc,
                 touched):
    """Accumulate ``acc[j] += A[i, u] B[u, j]`` over row i of A; return the number of
    columns touched (listed in ``touched``, in first-touch order)."""
    nt = 0
    for p in range(a_indptr[i], a_indptr[i + 1]):
        u = a_indices[p]
        a = np.float64(a_data[p])
        for q in range(b_indptr[u], b_indptr[u + 1]):
            j = b_indices[q]
            if acc[j] == 0.0:
                touched[nt] = j
                nt += 1
            acc[j] += a * np.float64(b_data[q])
    return nt


@nb.njit(cache=True, parallel=True)
def product_topk_kernel(a_indptr, a_indices, a_data, b_indptr, b_indices, b_data,
                        col_scale, n_chunks, out_idx, out_val):
    """The ``k`` largest nonzero entries of each row of ``(A @ B) * col_scale``, diagonal
    excluded (the module docstring's ``W``).

    Parameters
    ----------
    a_indptr : int64 (n + 1,), a_indices : int32 (nnz_a,), a_data : float32 (nnz_a,)
        A, shape (n, m), CSR.
    b_indptr : int64 (m + 1,), b_indices : int32 (nnz_b,), b_data : float32 (nnz_b,)
        B, shape (m, n), CSR. A and B hold positive values (a zero partial sum marks an
        untouched column).
    col_scale : float64 (n,)
        Multiplies column j of the product.
    n_chunks : int >= 1
        Rows are split into this many strided chunks, one scratch row each (the result
        does not depend on it).
    out_idx : int32 (n, k), out_val : float32 (n, k)
        Each row's best k (descending, ties by ascending column), padded with -1 / 0.
    """
    n = a_indptr.shape[0] - 1
    k = out_idx.shape[1]
    for ch in nb.prange(n_chunks):
        acc = np.zeros(n, dtype=np.float64)
        touched = np.empty(n, dtype=np.int64)
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int64)
        for i in range(ch, n, n_chunks):
            nt = _product_row(i, a_indptr, a_indices, a_data, b_indptr, b_indices, b_data,
                              acc, touched)
            m = 0
            for t in range(nt):
                j = touched[t]
                v = np.float32(acc[j] * col_scale[j])
                acc[j] = 0.0
                if j == i or v == 0.0:
                    continue
                if m < k:
                    m = heap_append(hv, hi, m, k, v, j)
                else:
                    heap_offer(hv, hi, k, v, j)
            heap_drain(hv, hi, m, k, out_idx[i], out_val[i], 0.0)
