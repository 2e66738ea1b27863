"""The bounded heap, and top-k selection per row without a full sort.

One bounded min-heap serves every top-k in the package: :func:`topk_rows_kernel` (the best
columns of dense score rows, O(n log k) per row, parallel over rows) and the neighbour
lists of :mod:`recsys.kernels.similarity`. A heap of capacity ``k`` is two arrays, values
and indices, plus its fill count ``m`` kept by the caller:

- while ``m < k``, :func:`heap_append` only appends, and heapifies once when the heap
  becomes full, so a row with fewer than ``k`` candidates never pays for sifting;
- then :func:`heap_offer` replaces the root when a candidate beats it;
- :func:`heap_drain` writes the entries out best first and pads up to ``k``.

The ``m < k`` test stays in the caller's loop (``if m < k: m = heap_append(...) else:
heap_offer(...)``): one inlined function holding both branches and returning ``m``
compiled, with Numba 0.68, to a selection loop about 20 times slower.

The order (:func:`_less`): a higher value is better; on equal values the smaller index
wins, the order a stable sort by descending value gives. The Python entry point is
:func:`recsys.topk.topk_rows`.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, inline="always")
def _less(va, ia, vb, ib):
    # Order used by the heap: a lower score ranks lower; on equal scores the larger index
    # ranks lower, so ties keep the smallest indices (the order a stable sort gives).
    return va < vb or (va == vb and ia > ib)


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
def heap_append(vals, idx, m, k, v, j):
    """Add ``(v, j)`` to the heap ``vals``/``idx`` of capacity ``k`` holding ``m < k``
    entries; return ``m + 1``. The heap is heapified once, when it becomes full."""
    vals[m] = v
    idx[m] = j
    m += 1
    if m == k:
        for s in range(k // 2 - 1, -1, -1):
            _sift_down(vals, idx, s, k)
    return m


@nb.njit(cache=True, inline="always")
def heap_offer(vals, idx, k, v, j):
    """Offer ``(v, j)`` to the full heap ``vals``/``idx`` (``k`` entries): it replaces the
    worst entry (the root) if it beats it."""
    if _less(vals[0], idx[0], v, j):
        vals[0] = v
        idx[0] = j
        _sift_down(vals, idx, 0, k)


@nb.njit(cache=True, inline="always")
def heap_drain(vals, idx, m, k, out_idx, out_val, pad):
    """Write the heap's ``m`` entries best first into ``out_idx``/``out_val`` (length
    ``k``), then -1 / ``pad`` up to ``k``. The heap is consumed."""
    if m < k:  # never filled, so never heapified
        for s in range(m // 2 - 1, -1, -1):
            _sift_down(vals, idx, s, m)
    # Pop the smallest first, filling the output from the back.
    for pos in range(m - 1, -1, -1):
        out_val[pos] = vals[0]
        out_idx[pos] = idx[0]
        vals[0] = vals[pos]
        idx[0] = idx[pos]
        _sift_down(vals, idx, 0, pos)
    for pos in range(m, k):
        out_idx[pos] = -1
        out_val[pos] = pad


@nb.njit(cache=True)
def _topk_row(row, k, out_idx, out_val):
    vals = np.empty(k, dtype=row.dtype)
    idx = np.empty(k, dtype=np.int64)
    m = 0
    for j in range(row.shape[0]):
        v = row[j]
        if v != v or v == -np.inf:  # NaN and -inf mark excluded items
            continue
        if m < k:
            m = heap_append(vals, idx, m, k, v, j)
        else:
            heap_offer(vals, idx, k, v, j)
    heap_drain(vals, idx, m, k, out_idx, out_val, -np.inf)


@nb.njit(cache=True, parallel=True)
def topk_rows_kernel(scores, k, out_idx, out_val):
    """Write the k best columns of each row of ``scores`` into ``out_idx``/``out_val``.

    scores : float32 or float64, shape (n_rows, n_cols); NaN or -inf entries are skipped.
    k : int >= 1.
    out_idx : int64, shape (n_rows, k); -1 pads rows with fewer than k candidates.
    out_val : same dtype as scores, shape (n_rows, k); -inf pads.
    Rows come out sorted by descending score, ties broken by ascending column index.
    """
    for r in nb.prange(scores.shape[0]):
        _topk_row(scores[r], k, out_idx[r], out_val[r])
