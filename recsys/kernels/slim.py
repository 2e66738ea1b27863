"""SLIM's item-item weights: one non-negative ElasticNet per item, by coordinate descent on
the Gram matrix.

Ning and Karypis, "SLIM: Sparse Linear Methods for Top-N Recommender Systems", ICDM 2011,
eq. 2-3: column ``w_j`` of the item-item matrix ``W`` minimises, over ``w >= 0`` with
``w_j = 0``,

    1/2 ||x_j - X w||^2 + l1 ||w||_1 + l2/2 ||w||^2

where ``x_j`` is column j of the binary users x items matrix ``X``. With ``G = X^T X`` the
data term is ``1/2 w^T G w - w^T G[:, j]`` (plus a constant), so only ``G`` is needed; the
coordinate update (Friedman, Hastie and Tibshirani, "Regularization Paths for Generalized
Linear Models via Coordinate Descent", JSS 2010, eq. 5 and sec. 2.2, "covariance updates") is

    w_k <- max(0, G[k, j] - (G w)_k + G[k, k] w_k - l1) / (G[k, k] + l2)

with ``q = G w`` kept up to date. Each column runs, until a full sweep changes no
coordinate by more than ``tol * max |w|`` and brings no new coordinate in:

1. a full sweep over every coordinate k != j in ascending order, ``q`` updated on every
   coordinate;
2. sweeps over the coordinates that have been nonzero (the active set, in the order they
   entered), ``q`` updated on those only, until a sweep changes none by more than
   ``tol * max |w|``;
3. ``q = G w`` recomputed on every coordinate, back to 1.

Every sweep counts against ``max_iter``. The optimum is unique when ``l2 > 0`` (the
objective is strictly convex), so the order of the updates does not change what the
iterations approach. Columns are independent: they run in parallel (strided chunks, one
scratch set each), in a fixed order within a column, so the result does not depend on the
thread count. The nonzero weights of a column, rounded to float32, go through the bounded
heap of :mod:`recsys.kernels.topk` (largest first, ties by ascending item).
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.topk import heap_append, heap_drain, heap_offer


@nb.njit(cache=True, inline="always")
def _coordinate(G, diag, q, w, j, k, l1, l2):
    # The minimiser over w_k >= 0 with the other coordinates fixed (0 for k == j, and for
    # an item nobody interacted with when there is no l2 to make the problem well posed).
    # G[j, k] is G[k, j] read along row j: the column would miss the cache on every k.
    gkk = diag[k]
    den = gkk + l2
    if k == j or den <= 0.0:
        return 0.0
    v = np.float64(G[j, k]) - q[k] + gkk * w[k] - l1
    return v / den if v > 0.0 else 0.0


@nb.njit(cache=True)
def _full_sweep(G, diag, q, w, j, l1, l2, active, in_active, n_active):
    """Stage 1: every coordinate; returns (largest change, largest |w|, new active count)."""
    n = G.shape[0]
    max_dw = 0.0
    max_w = 0.0
    for k in range(n):
        new = _coordinate(G, diag, q, w, j, k, l1, l2)
        d = new - w[k]
        if d != 0.0:
            w[k] = new
            for m in range(n):
                q[m] += d * G[k, m]
            max_dw = max(max_dw, abs(d))
            if not in_active[k]:
                in_active[k] = True
                active[n_active] = k
                n_active += 1
        max_w = max(max_w, new)
    return max_dw, max_w, n_active


@nb.njit(cache=True)
def _active_sweep(G, diag, q, w, j, l1, l2, active, n_active):
    """Stage 2: the active coordinates only; returns (largest change, largest |w|)."""
    max_dw = 0.0
    max_w = 0.0
    for t in range(n_active):
        k = active[t]
        new = _coordinate(G, diag, q, w, j, k, l1, l2)
        d = new - w[k]
        if d != 0.0:
            w[k] = new
            for s in range(n_active):
                m = active[s]
                q[m] += d * G[k, m]
            max_dw = max(max_dw, abs(d))
        max_w = max(max_w, new)
    return max_dw, max_w


@nb.njit(cache=True)
def solve_column(G, diag, j, l1, l2, max_iter, tol, w, q, active, in_active):
    """Coordinate descent for column ``j`` (the module docstring's stages 1-3).

    G : float32 (n, n), symmetric (``X^T X``). diag : float64 (n,), its diagonal.
    l1, l2 : float >= 0. max_iter : int >= 1
    (sweeps). tol : float >= 0. w, q : float64 (n,), zero on entry (w holds the solution
    on return, q = G w). active : int64 (n,), in_active : bool (n,), all False on entry.
    Returns (number of active coordinates, sweeps done); ``active[:count]`` lists every
    coordinate that was ever nonzero (some may be zero again).
    """
    n = G.shape[0]
    n_active = 0
    sweeps = 0
    while sweeps < max_iter:
        sweeps += 1
        before = n_active
        max_dw, max_w, n_active = _full_sweep(G, diag, q, w, j, l1, l2, active, in_active,
                                              n_active)
        if n_active == before and max_dw <= tol * max_w:
            break
        while sweeps < max_iter:
            sweeps += 1
            max_dw, max_w = _active_sweep(G, diag, q, w, j, l1, l2, active, n_active)
            if max_dw <= tol * max_w:
                break
        # The active sweeps left q stale outside the active set.
        q[:] = 0.0
        for t in range(n_active):
            k = active[t]
            if w[k] != 0.0:
                for m in range(n):
                    q[m] += w[k] * G[k, m]
    return n_active, sweeps


@nb.njit(cache=True, parallel=True)
def slim_kernel(G, l1, l2, max_iter, tol, n_chunks, out_idx, out_val, out_sweeps):
    """Every column of SLIM's ``W``, its ``k`` largest weights kept.

    Parameters
    ----------
    G : float32 (n, n)
        ``X^T X`` of the binary users x items matrix (its entries are counts, exact in
        float32 below 2**24 users).
    l1, l2 : float
        The penalties of the module docstring's objective (sklearn's ``alpha * l1_ratio``
        and ``alpha * (1 - l1_ratio)``, each times the number of users).
    max_iter : int
        Most sweeps per column. tol : float, the relative stopping change.
    n_chunks : int >= 1
        Columns are split into this many strided chunks, one scratch set each (the result
        does not depend on it).
    out_idx : int32 (n, k), out_val : float32 (n, k)
        Row j: the items with the k largest weights in column j, largest first (ties by
        ascending item), padded with -1 / 0. That is ``W^T``, top-k per row.
    out_sweeps : int64 (n,)
        Sweeps each column took (``max_iter`` when it stopped before converging).
    """
    n = G.shape[0]
    k = out_idx.shape[1]
    diag = np.empty(n, dtype=np.float64)
    for i in range(n):
        diag[i] = G[i, i]
    for ch in nb.prange(n_chunks):
        w = np.zeros(n, dtype=np.float64)
        q = np.zeros(n, dtype=np.float64)
        active = np.empty(n, dtype=np.int64)
        in_active = np.zeros(n, dtype=np.bool_)
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int64)
        for j in range(ch, n, n_chunks):
            n_active, sweeps = solve_column(G, diag, j, l1, l2, max_iter, tol, w, q, active,
                                            in_active)
            out_sweeps[j] = sweeps
            m = 0
            for t in range(n_active):
                i = active[t]
                v = np.float32(w[i])
                w[i] = 0.0
                in_active[i] = False
                if v == 0.0:
                    continue
                if m < k:
                    m = heap_append(hv, hi, m, k, v, i)
                else:
                    heap_offer(hv, hi, k, v, i)
            heap_drain(hv, hi, m, k, out_idx[j], out_val[j], 0.0)
            q[:] = 0.0
