"""Top-k selection per row without a full sort.

Each row keeps a bounded min-heap of size k: O(n log k) per row, parallel over rows.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _sift_down(vals, idx, start, k):
    # Restore the min-heap property of vals[0:k] from position `start`.
    pos = start
    while True:
        left = 2 * pos + 1
        if left >= k:
            break
        smallest = left
        right = left + 1
        if right < k and _less(vals[right], idx[right], vals[left], idx[left]):
            smallest = right
        if _less(vals[smallest], idx[smallest], vals[pos], idx[pos]):
            vals[pos], vals[smallest] = vals[smallest], vals[pos]
            idx[pos], idx[smallest] = idx[smallest], idx[pos]
            pos = smallest
        else:
            break


@nb.njit(cache=True, inline="always")
def _less(va, ia, vb, ib):
    # Order used by the heap: a lower score ranks lower; on equal scores the larger index
    # ranks lower, so ties keep the smallest indices (the order a stable sort gives).
    return va < vb or (va == vb and ia > ib)


@nb.njit(cache=True)
def _topk_row(row, k, out_idx, out_val):
    n = row.shape[0]
    vals = np.empty(k, dtype=row.dtype)
    idx = np.empty(k, dtype=np.int64)
    m = 0
    for j in range(n):
        v = row[j]
        if v != v or v == -np.inf:  # NaN and -inf mark excluded items
            continue
        if m < k:
            vals[m] = v
            idx[m] = j
            m += 1
            if m == k:
                for s in range(k // 2 - 1, -1, -1):
                    _sift_down(vals, idx, s, k)
        elif _less(vals[0], idx[0], v, j):
            vals[0] = v
            idx[0] = j
            _sift_down(vals, idx, 0, k)
    if m < k:
        for s in range(m // 2 - 1, -1, -1):
            _sift_down(vals, idx, s, m)
    # Pop the heap from the smallest, filling the output from the back.
    for pos in range(m - 1, -1, -1):
        out_val[pos] = vals[0]
        out_idx[pos] = idx[0]
        vals[0] = vals[pos]
        idx[0] = idx[pos]
        _sift_down(vals, idx, 0, pos)
    for pos in range(m, k):
        out_idx[pos] = -1
        out_val[pos] = -np.inf


@nb.njit(cache=True, parallel=True)
def topk_rows_kernel(scores, k, out_idx, out_val):
    """Write the k best columns of each row of ``scores`` into ``out_idx``/``out_val``.

    scores : float32 or float64, shape (n_rows, n_cols); NaN or -inf entries are skipped.
    out_idx : int64, shape (n_rows, k); -1 pads rows with fewer than k candidates.
    out_val : same dtype as scores, shape (n_rows, k); -inf pads.
    Rows come out sorted by descending score, ties broken by ascending column index.
    """
    for r in nb.prange(scores.shape[0]):
        _topk_row(scores[r], k, out_idx[r], out_val[r])


def topk_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k column indices and scores of each row, best first.

    Parameters
    ----------
    scores : ndarray, shape (n_rows, n_cols) or (n_cols,)
        Higher is better. NaN and -inf mark excluded entries and are never returned.
    k : int
        Number of entries to keep per row (k >= 1).

    Returns
    -------
    indices : int64 ndarray, shape (n_rows, k) (or (k,) for 1-D input); -1 pads rows with
        fewer than k candidates.
    values : ndarray, same shape, same dtype as ``scores``; -inf pads.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    a = np.asarray(scores)
    one_d = a.ndim == 1
    if one_d:
        a = a[None, :]
    if a.ndim != 2:
        raise ValueError(f"scores must be 1-D or 2-D, got shape {a.shape}")
    if a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float64)
    a = np.ascontiguousarray(a)
    out_idx = np.empty((a.shape[0], k), dtype=np.int64)
    out_val = np.empty((a.shape[0], k), dtype=a.dtype)
    topk_rows_kernel(a, k, out_idx, out_val)
    if one_d:
        return out_idx[0], out_val[0]
    return out_idx, out_val
