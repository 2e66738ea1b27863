"""Sparse row-row similarity (item-item or user-user) without densifying the rating matrix.

The similarities are between the **rows** of a sparse matrix ``X`` of shape (n, m): pass the
ratings by item (``Dataset.csr_by_item``, items x users) for item-item similarity, and the
ratings by user (``Dataset.csr``) for user-user similarity.

Algorithm (the sparse "row times matrix" product, Gustavson 1978)
-----------------------------------------------------------------
For row ``a`` and every stored entry ``(a, c)``, walk column ``c`` of ``X`` (a row of the
transpose, the other orientation's index) and accumulate, for every row ``b`` that also has an
entry in column ``c``, the co-occurrence sums ``sum x_ac x_bc``, the co-rated count, and (for
the co-rated metrics) the partial sums of squares. The accumulators are dense float64 arrays of
length ``n``, one set per thread, reset through a list of the touched rows, so the work is
``sum_c nnz(column c)^2`` and the extra memory ``O(threads * n)``: never ``O(n^2)``. For
plain cosine, a row that co-occurs with a good part of the catalogue skips the bookkeeping
(counts, touched list) and scans its n dot products instead, which halves the inner loop.

Each row then keeps only its ``k`` best neighbours in a bounded min-heap (memory
``O(n k)``; by default each pair is computed once, by the thread of its smaller row, and
offered to both rows' heaps in per-thread heaps merged at the end, ``O(threads n k)``), or,
with ``k=None``, every nonzero similarity (computed in blocks of rows through a dense
buffer: the all-pairs mode for small catalogues, ``dense=True`` returns the matrix).
Rows are independent, so the loop over rows is a ``prange`` and the result does not depend on
the thread count.

Metrics (:data:`METRICS`)
-------------------------
``cosine``
    ``x_a . x_b / (|x_a| |x_b|)`` with full-row norms (missing entries are 0): the same
    number as ``sklearn.metrics.pairwise.cosine_similarity``.
``adjusted_cosine``
    ``cosine`` after subtracting from every stored entry the mean of its column (for
    item-item similarity: the user's mean rating; Sarwar et al., WWW 2001, sec. 3.1.3).
``pearson``
    Pearson correlation over the co-rated columns only, each side centred on its mean over
    those columns: Surprise's ``pearson``, ``(n S_ab - S_a S_b) / sqrt((n Q_a - S_a^2)
    (n Q_b - S_b^2))`` with all sums over the ``n`` common columns.
``pearson_baseline``
    Pearson over baseline residuals ``e_ac = x_ac - (mu + row_bias[a] + col_bias[c])``,
    co-rated only, *not* re-centred: ``sum e_a e_b / sqrt(sum e_a^2 sum e_b^2)`` over the
    common columns, shrunk by ``(n - 1) / (n - 1 + shrinkage)`` with shrinkage 100 by
    default, and ``min_support`` at least 2. This is Surprise's ``pearson_baseline``
    (Koren, TKDD 2010, eq. 2; Recommender Systems Handbook sec. 5.4.1). It needs
    ``baseline=(mu, row_bias, col_bias)``.
``cosine_corated``
    Surprise's ``cosine``: ``sum x_a x_b / sqrt(sum x_a^2 sum x_b^2)`` over the common
    columns only.
``msd``
    Surprise's mean squared difference similarity ``1 / (1 + mean (x_a - x_b)^2)`` over the
    common columns; in (0, 1].

Shrinkage and support
---------------------
With ``n`` the number of co-rated columns of a pair, a pair with ``n < min_support`` gets 0
(it is no neighbour), and shrinkage multiplies the similarity by ``n / (n + shrinkage)``
(``(n - 1) / (n - 1 + shrinkage)`` for ``pearson_baseline``, as Surprise and Koren). A
similarity that is undefined (a zero norm or variance) is 0, never NaN. Values are clipped
to [-1, 1] (rounding can reach 1 + 1e-7).

Neighbours and ties
-------------------
Only nonzero similarities are stored: a pair that shares no column, fails ``min_support`` or
has similarity exactly 0 is never a neighbour (so with ``k`` set, a row keeps its ``k``
largest *nonzero* similarities, which may be negative if it has fewer than ``k`` positive
ones; ``positive_only=True`` keeps only those > 0). The ranking compares the float32 values;
on equal values the smaller column index wins. A row is its own neighbour only with
``include_self=True``.

Output: a CSR matrix (n, n) with float32 data. Each row's entries are stored by
**descending similarity** (ties by ascending column), which the neighbourhood models use to
stop early; ``has_sorted_indices`` is therefore False (call ``sort_indices()`` for column
order). SciPy keeps ``indices`` and ``indptr`` in one common dtype (int32 while it fits);
:func:`csr_arrays` returns them as the kernels take them (int64 indptr, int32 indices).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np
import scipy.sparse as sp

from recsys.kernels.topk import _less, _sift_down
from recsys.threads import numba_threads  # noqa: F401  (re-exported for the models)

# Kernel codes: what is accumulated per pair and how the similarity is finished.
_DOT = 0          # cosine, adjusted_cosine: dot product over full-row norms
_CORATED = 1      # cosine_corated, pearson_baseline: dot over co-rated norms
_PEARSON = 2      # pearson: co-rated, re-centred
_MSD = 3          # msd


@dataclass(frozen=True)
class Metric:
    """How a named similarity is computed by the kernel.

    Attributes
    ----------
    name : str
    code : int
        Accumulation/finishing rule of the kernel.
    centre : {"none", "column_mean", "baseline"}
        Transformation of the stored values before accumulation.
    default_shrinkage : float
    shrink_offset : int
        ``s * (n - o) / (n - o + shrinkage)``: 1 for pearson_baseline, else 0.
    min_support_floor : int
        ``min_support`` is raised to at least this value.
    lower : float
        Smallest possible value (-1, or 0 for msd).
    """

    name: str
    code: int
    centre: str = "none"
    default_shrinkage: float = 0.0
    shrink_offset: int = 0
    min_support_floor: int = 1
    lower: float = -1.0


#: Registry of the named similarity metrics.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("cosine", _DOT),
        Metric("adjusted_cosine", _DOT, centre="column_mean"),
        Metric("pearson", _PEARSON),
        Metric("pearson_baseline", _CORATED, centre="baseline", default_shrinkage=100.0,
               shrink_offset=1, min_support_floor=2),
        Metric("cosine_corated", _CORATED),
        Metric("msd", _MSD, lower=0.0),
    )
}


# ---------------------------------------------------------------------------------- kernels
@nb.njit(cache=True, inline="always")
def _accumulate_row(a, indptr, indices, data, t_indptr, t_indices, t_data, starts, code,
                    count, prods, sq_a, sq_b, sum_a, sum_b, touched):
    """Accumulate row ``a``'s co-occurrence sums with the rows listed in each of its columns
    ``c`` from position ``starts[c]`` on; return the number of touched rows."""
    nt = 0
    for p in range(indptr[a], indptr[a + 1]):
        c = indices[p]
        va = np.float64(data[p])
        lo = starts[c]
        hi = t_indptr[c + 1]
        if code == 0:
            for q in range(lo, hi):
                b = t_indices[q]
                if count[b] == 0:
                    touched[nt] = b
                    nt += 1
                count[b] += 1
                prods[b] += va * t_data[q]
        elif code == 2:
            va2 = va * va
            for q in range(lo, hi):
                b = t_indices[q]
                if count[b] == 0:
                    touched[nt] = b
                    nt += 1
                vb = np.float64(t_data[q])
                count[b] += 1
                prods[b] += va * vb
                sq_a[b] += va2
                sq_b[b] += vb * vb
                sum_a[b] += va
                sum_b[b] += vb
        else:
            va2 = va * va
            for q in range(lo, hi):
                b = t_indices[q]
                if count[b] == 0:
                    touched[nt] = b
                    nt += 1
                vb = np.float64(t_data[q])
                count[b] += 1
                prods[b] += va * vb
                sq_a[b] += va2
                sq_b[b] += vb * vb
    return nt


@nb.njit(cache=True, inline="always")
def _finish(a, b, code, count, prods, sq_a, sq_b, sum_a, sum_b, norms, shrinkage,
            shrink_offset, min_support):
    """The similarity of rows a and b from the accumulated sums (0 when undefined)."""
    n = count[b]
    if n < min_support:
        return 0.0
    if code == 0:
        den = norms[a] * norms[b]
        s = prods[b] / den if den > 0.0 else 0.0
    elif code == 1:
        den = np.sqrt(sq_a[b] * sq_b[b])
        s = prods[b] / den if den > 0.0 else 0.0
    elif code == 2:
        va = n * sq_a[b] - sum_a[b] * sum_a[b]
        vb = n * sq_b[b] - sum_b[b] * sum_b[b]
        if va <= 0.0 or vb <= 0.0:
            s = 0.0
        else:
            s = (n * prods[b] - sum_a[b] * sum_b[b]) / np.sqrt(va * vb)
    else:
        msd = (sq_a[b] + sq_b[b] - 2.0 * prods[b]) / n
        if msd < 0.0:
            msd = 0.0
        s = 1.0 / (msd + 1.0)
    if s > 1.0:
        s = 1.0
    elif s < -1.0:
        s = -1.0
    if shrinkage > 0.0:
        m = n - shrink_offset
        s *= m / (m + shrinkage)
    return s


@nb.njit(cache=True, inline="always")
def _reset(nt, touched, count, prods, sq_a, sq_b, sum_a, sum_b, code):
    for t in range(nt):
        b = touched[t]
        count[b] = 0
        prods[b] = 0.0
        if code != 0:
            sq_a[b] = 0.0
            sq_b[b] = 0.0
            if code == 2:
                sum_a[b] = 0.0
                sum_b[b] = 0.0


@nb.njit(cache=True, inline="always")
def _finish_dot(a, b, prods, norms):
    # _finish for code 0 without support or shrinkage (the same arithmetic).
    den = norms[a] * norms[b]
    s = prods[b] / den if den > 0.0 else 0.0
    if s > 1.0:
        s = 1.0
    elif s < -1.0:
        s = -1.0
    return s


@nb.njit(cache=True)
def _row_candidates(a, indptr, indices, data, t_indptr, t_indices, t_data, starts, scan_lo,
                    norms, code, shrinkage, shrink_offset, min_support, include_self,
                    positive_only, scan_threshold, count, prods, sq_a, sq_b, sum_a, sum_b,
                    touched, cand_idx, cand_val):
    """Similarities of row ``a`` that may be neighbours, into ``cand_idx``/``cand_val``;
    returns their number. The accumulators are all zero again on return.

    Column ``c`` is read from ``starts[c]`` on (``t_indptr`` for all rows; the symmetric
    kernel passes cursors past the rows below ``a``, and ``scan_lo`` = a or a + 1).
    Plain cosine (code 0, no support or shrinkage rule) on a row whose co-occurrence work
    ``sum_c nnz(column c)`` is at least ``scan_threshold * (n - scan_lo)`` accumulates only
    the dot products and then scans them all (about twice as fast when most rows co-occur);
    every other row tracks counts and touched rows. Both give the same numbers.
    """
    n = indptr.shape[0] - 1
    m = 0
    fast = code == 0 and min_support <= 1 and shrinkage == 0.0
    if fast:
        work = 0
        for p in range(indptr[a], indptr[a + 1]):
            c = indices[p]
            work += t_indptr[c + 1] - starts[c]
        fast = work >= scan_threshold * (n - scan_lo)
    if fast:
        for p in range(indptr[a], indptr[a + 1]):
            c = indices[p]
            va = np.float64(data[p])
            for q in range(starts[c], t_indptr[c + 1]):
                prods[t_indices[q]] += va * t_data[q]
        for b in range(scan_lo, n):
            if prods[b] != 0.0:
                if b != a or include_self:
                    sv = np.float32(_finish_dot(a, b, prods, norms))
                    if sv != 0.0 and (sv > 0.0 or not positive_only):
                        cand_idx[m] = b
                        cand_val[m] = sv
                        m += 1
                prods[b] = 0.0
        return m
    nt = _accumulate_row(a, indptr, indices, data, t_indptr, t_indices, t_data, starts, code,
                         count, prods, sq_a, sq_b, sum_a, sum_b, touched)
    for t in range(nt):
        b = touched[t]
        if b == a and not include_self:
            continue
        sv = np.float32(_finish(a, b, code, count, prods, sq_a, sq_b, sum_a, sum_b, norms,
                                shrinkage, shrink_offset, min_support))
        if sv != 0.0 and (sv > 0.0 or not positive_only):
            cand_idx[m] = b
            cand_val[m] = sv
            m += 1
    _reset(nt, touched, count, prods, sq_a, sq_b, sum_a, sum_b, code)
    return m


@nb.njit(cache=True, inline="always")
def _push(hv, hi, m, k, sv, b):
    """Offer (sv, b) to the bounded min-heap hv/hi holding m entries; return the new m."""
    if m < k:
        hv[m] = sv
        hi[m] = b
        m += 1
        if m == k:
            for st in range(k // 2 - 1, -1, -1):
                _sift_down(hv, hi, st, k)
    elif _less(hv[0], hi[0], sv, b):
        hv[0] = sv
        hi[0] = b
        _sift_down(hv, hi, 0, k)
    return m


@nb.njit(cache=True, inline="always")
def _pop_all(hv, hi, m, k, out_idx, out_val):
    """Write the heap's entries best first into out_idx/out_val (length k, -1 / 0 pad)."""
    if m < k:
        for st in range(m // 2 - 1, -1, -1):
            _sift_down(hv, hi, st, m)
    for pos in range(m - 1, -1, -1):
        out_val[pos] = hv[0]
        out_idx[pos] = hi[0]
        hv[0] = hv[pos]
        hi[0] = hi[pos]
        _sift_down(hv, hi, 0, pos)
    for pos in range(m, k):
        out_idx[pos] = -1
        out_val[pos] = 0.0


@nb.njit(cache=True, parallel=True)
def similarity_topk_kernel(indptr, indices, data, t_indptr, t_indices, t_data, norms, code,
                           shrinkage, shrink_offset, min_support, include_self, positive_only,
                           scan_threshold, n_chunks, out_idx, out_val):
    """Top-k nonzero similarities of every row of a CSR matrix, one row at a time.

    Parameters
    ----------
    indptr, indices, data : int64 (n+1,), int32 (nnz,), float32 (nnz,)
        The matrix X (n rows, m columns), CSR.
    t_indptr, t_indices, t_data : int64 (m+1,), int32 (nnz,), float32 (nnz,)
        Its transpose, CSR (the columns of X), sorted indices.
    norms : float64 (n,)
        Euclidean row norms (used by code 0 only).
    code : int
        0 dot/full norms, 1 dot/co-rated norms, 2 co-rated Pearson, 3 msd.
    shrinkage : float; shrink_offset : int; min_support : int
    include_self, positive_only : bool
    scan_threshold : float
        See :func:`_row_candidates` (tuning only; results do not depend on it).
    n_chunks : int
        Rows are split into this many strided chunks, one set of accumulators each.
    out_idx : int32 (n, k), out_val : float32 (n, k)
        Filled with each row's best k (descending, ties by ascending column); -1 / 0 pad.
    """
    n = indptr.shape[0] - 1
    k = out_idx.shape[1]
    for ch in nb.prange(n_chunks):
        count = np.zeros(n, dtype=np.int64)
        prods = np.zeros(n, dtype=np.float64)
        big = code != 0
        sq_a = np.zeros(n if big else 1, dtype=np.float64)
        sq_b = np.zeros(n if big else 1, dtype=np.float64)
        sum_a = np.zeros(n if code == 2 else 1, dtype=np.float64)
        sum_b = np.zeros(n if code == 2 else 1, dtype=np.float64)
        touched = np.empty(n, dtype=np.int64)
        cand_idx = np.empty(n, dtype=np.int64)
        cand_val = np.empty(n, dtype=np.float32)
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int64)
        for a in range(ch, n, n_chunks):
            nc = _row_candidates(a, indptr, indices, data, t_indptr, t_indices, t_data,
                                 t_indptr, 0, norms, code, shrinkage, shrink_offset,
                                 min_support, include_self, positive_only, scan_threshold,
                                 count, prods, sq_a, sq_b, sum_a, sum_b, touched, cand_idx,
                                 cand_val)
            m = 0
            for t in range(nc):
                m = _push(hv, hi, m, k, cand_val[t], cand_idx[t])
            _pop_all(hv, hi, m, k, out_idx[a], out_val[a])


@nb.njit(cache=True, parallel=True)
def similarity_topk_sym_kernel(indptr, indices, data, t_indptr, t_indices, t_data, norms,
                               code, shrinkage, shrink_offset, min_support, include_self,
                               positive_only, scan_threshold, heap_val, heap_idx, heap_cnt):
    """First half of the symmetric top-k: each pair is computed once and offered to both rows.

    Chunk ``ch`` (one per thread, ``heap_val.shape[0]`` of them) takes rows ``ch, ch + T,
    ...``; for row ``a`` it accumulates only the rows ``b > a`` (``b >= a`` with
    ``include_self``), through per-column cursors that advance monotonically, which halves
    the co-occurrence work. Each similarity goes into the chunk's own bounded heaps of both
    ``a`` and ``b``; :func:`merge_heaps_kernel` then merges the chunks' heaps per row. The
    similarity of a pair is the same float either way (the sums run over the common
    columns in ascending order and every operation is symmetric), so the result equals
    :func:`similarity_topk_kernel`'s.

    heap_val : float32 (T, n, k); heap_idx : int32 (T, n, k); heap_cnt : int64 (T, n)
        The per-chunk heaps, filled here (memory ``8 T n k`` bytes).
    Other parameters as :func:`similarity_topk_kernel`.
    """
    n = indptr.shape[0] - 1
    n_chunks = heap_val.shape[0]
    k = heap_val.shape[2]
    for ch in nb.prange(n_chunks):
        count = np.zeros(n, dtype=np.int64)
        prods = np.zeros(n, dtype=np.float64)
        big = code != 0
        sq_a = np.zeros(n if big else 1, dtype=np.float64)
        sq_b = np.zeros(n if big else 1, dtype=np.float64)
        sum_a = np.zeros(n if code == 2 else 1, dtype=np.float64)
        sum_b = np.zeros(n if code == 2 else 1, dtype=np.float64)
        touched = np.empty(n, dtype=np.int64)
        cand_idx = np.empty(n, dtype=np.int64)
        cand_val = np.empty(n, dtype=np.float32)
        cursor = t_indptr[:-1].copy()
        hv = heap_val[ch]
        hx = heap_idx[ch]
        hc = heap_cnt[ch]
        thr = np.full(n, -np.inf, dtype=np.float32)
        for x in range(n):
            hc[x] = 0
        for a in range(ch, n, n_chunks):
            for p in range(indptr[a], indptr[a + 1]):
                c = indices[p]
                pos = cursor[c]
                end = t_indptr[c + 1]
                while pos < end and (t_indices[pos] < a or
                                     (t_indices[pos] == a and not include_self)):
                    pos += 1
                cursor[c] = pos
            lo = a if include_self else a + 1
            nc = _row_candidates(a, indptr, indices, data, t_indptr, t_indices, t_data,
                                 cursor, lo, norms, code, shrinkage, shrink_offset,
                                 min_support, include_self, positive_only, scan_threshold,
                                 count, prods, sq_a, sq_b, sum_a, sum_b, touched, cand_idx,
                                 cand_val)
            for t in range(nc):
                b = cand_idx[t]
                sv = cand_val[t]
                # thr[x] is the root of x's heap once full: a compact array that stays in
                # cache, so that the many rejected offers never touch the heaps themselves.
                if sv >= thr[a]:
                    hc[a] = _push(hv[a], hx[a], hc[a], k, sv, b)
                    if hc[a] == k:
                        thr[a] = hv[a, 0]
                if b != a and sv >= thr[b]:
                    hc[b] = _push(hv[b], hx[b], hc[b], k, sv, a)
                    if hc[b] == k:
                        thr[b] = hv[b, 0]


@nb.njit(cache=True, parallel=True)
def merge_heaps_kernel(heap_val, heap_idx, heap_cnt, out_idx, out_val):
    """Second half of the symmetric top-k: the best k of each row over all chunks' heaps,
    best first (ties by ascending column) into out_idx int32 / out_val float32 (n, k)."""
    n_chunks, n, k = heap_val.shape
    for x in nb.prange(n):
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int64)
        m = 0
        for ch in range(n_chunks):
            for j in range(heap_cnt[ch, x]):
                m = _push(hv, hi, m, k, heap_val[ch, x, j], np.int64(heap_idx[ch, x, j]))
        _pop_all(hv, hi, m, k, out_idx[x], out_val[x])


@nb.njit(cache=True, parallel=True)
def similarity_dense_kernel(row_start, indptr, indices, data, t_indptr, t_indices, t_data,
                            norms, code, shrinkage, shrink_offset, min_support, include_self,
                            positive_only, scan_threshold, n_chunks, out):
    """All similarities of rows ``row_start .. row_start + out.shape[0]`` into dense ``out``.

    Same inputs as :func:`similarity_topk_kernel`; ``out`` is float32 (n_block, n), zeroed
    here; entries that are no neighbour (see the module notes) stay 0.
    """
    n = indptr.shape[0] - 1
    n_block = out.shape[0]
    for ch in nb.prange(n_chunks):
        count = np.zeros(n, dtype=np.int64)
        prods = np.zeros(n, dtype=np.float64)
        big = code != 0
        sq_a = np.zeros(n if big else 1, dtype=np.float64)
        sq_b = np.zeros(n if big else 1, dtype=np.float64)
        sum_a = np.zeros(n if code == 2 else 1, dtype=np.float64)
        sum_b = np.zeros(n if code == 2 else 1, dtype=np.float64)
        touched = np.empty(n, dtype=np.int64)
        cand_idx = np.empty(n, dtype=np.int64)
        cand_val = np.empty(n, dtype=np.float32)
        for r in range(ch, n_block, n_chunks):
            a = row_start + r
            out[r, :] = 0.0
            nc = _row_candidates(a, indptr, indices, data, t_indptr, t_indices, t_data,
                                 t_indptr, 0, norms, code, shrinkage, shrink_offset,
                                 min_support, include_self, positive_only, scan_threshold,
                                 count, prods, sq_a, sq_b, sum_a, sum_b, touched, cand_idx,
                                 cand_val)
            for t in range(nc):
                out[r, cand_idx[t]] = cand_val[t]


@nb.njit(cache=True, parallel=True)
def dense_rows_to_csr_kernel(block, indptr, out_idx, out_val):
    """Nonzeros of each row of ``block`` into CSR arrays, by descending value.

    block : float32 (n_rows, n), n < 2**32; indptr : int64 (n_rows + 1,), the row offsets of
    the nonzeros (from their counts); out_idx int32, out_val float32 (nnz,). Ties keep
    ascending column order: each entry is sorted by one uint64 key, the order-reversed
    float32 bits above the column index.
    """
    bits = block.view(np.uint32)
    sign = np.uint32(0x80000000)
    low = np.uint64(0xFFFFFFFF)
    for r in nb.prange(block.shape[0]):
        lo = indptr[r]
        m = indptr[r + 1] - lo
        keys = np.empty(m, dtype=np.uint64)
        t = 0
        for c in range(block.shape[1]):
            if block[r, c] != 0.0:
                b = bits[r, c]
                # Monotone map float -> uint32, then reversed for descending order.
                u = ~b if (b & sign) else (b | sign)
                keys[t] = (np.uint64(~u) << np.uint64(32)) | np.uint64(c)
                t += 1
        keys.sort()
        for t in range(m):
            c = np.int64(keys[t] & low)
            out_idx[lo + t] = c
            out_val[lo + t] = block[r, c]


# ---------------------------------------------------------------------------------- wrapper
#: Co-occurrence updates (``sum_c nnz(column c)^2``) that justify one more thread when
#: ``num_threads`` is not given.
WORK_PER_THREAD = 2e7


def _as_csr(matrix, name: str) -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise TypeError(f"{name} must be a scipy sparse matrix (CSR or CSC), got "
                        f"{type(matrix).__name__}")
    m = sp.csr_matrix(matrix)  # CSC -> CSR keeps explicit zeros
    if m.ndim != 2:
        raise ValueError(f"{name} must be 2-D, got shape {m.shape}")
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()
    data = np.ascontiguousarray(m.data, dtype=np.float32)
    if data.size and not np.isfinite(data).all():
        bad = int(np.flatnonzero(~np.isfinite(data))[0])
        row = int(np.searchsorted(m.indptr, bad, side="right") - 1)
        raise ValueError(f"{name} has a non-finite value at row {row}, column "
                         f"{int(m.indices[bad])}")
    return sp.csr_matrix(
        (data, np.ascontiguousarray(m.indices, dtype=np.int32),
         np.ascontiguousarray(m.indptr, dtype=np.int64)), shape=m.shape)


def _transpose(m: sp.csr_matrix) -> sp.csr_matrix:
    # CSR of the transpose with sorted indices, explicit zeros kept.
    t = m.T.tocsr()
    t.sort_indices()
    return sp.csr_matrix(
        (np.ascontiguousarray(t.data, dtype=np.float32),
         np.ascontiguousarray(t.indices, dtype=np.int32),
         np.ascontiguousarray(t.indptr, dtype=np.int64)), shape=t.shape)


def _centre(m: sp.csr_matrix, metric: Metric, baseline) -> sp.csr_matrix:
    if metric.centre == "none":
        return m
    n_rows, n_cols = m.shape
    cols = m.indices
    rows = np.repeat(np.arange(n_rows), np.diff(m.indptr))
    data = m.data.astype(np.float64)
    if metric.centre == "column_mean":
        counts = np.bincount(cols, minlength=n_cols)
        sums = np.bincount(cols, weights=data, minlength=n_cols)
        means = np.divide(sums, counts, out=np.zeros(n_cols), where=counts > 0)
        data = data - means[cols]
    else:
        if baseline is None:
            raise ValueError(f"metric {metric.name!r} needs baseline=(global_mean, row_bias, "
                             "col_bias)")
        mu, row_bias, col_bias = baseline
        row_bias = np.asarray(row_bias, dtype=np.float64)
        col_bias = np.asarray(col_bias, dtype=np.float64)
        if row_bias.shape != (n_rows,):
            raise ValueError(f"baseline row_bias must have shape ({n_rows},), got "
                             f"{row_bias.shape}")
        if col_bias.shape != (n_cols,):
            raise ValueError(f"baseline col_bias must have shape ({n_cols},), got "
                             f"{col_bias.shape}")
        data = data - (float(mu) + row_bias[rows] + col_bias[cols])
    return sp.csr_matrix((data.astype(np.float32), m.indices, m.indptr), shape=m.shape)


def similarity(
    matrix,
    metric: str = "cosine",
    *,
    k: int | None = None,
    shrinkage: float | None = None,
    min_support: int = 1,
    baseline: tuple[float, np.ndarray, np.ndarray] | None = None,
    include_self: bool = False,
    positive_only: bool = False,
    dense: bool = False,
    num_threads: int | None = None,
    block_bytes: int = 256 * 2**20,
    symmetric: bool | None = None,
    heap_bytes: int = 2**30,
    scan_threshold: float = 0.125,
) -> sp.csr_matrix | np.ndarray:
    """Similarity between the rows of a sparse matrix, keeping the top ``k`` per row.

    Parameters
    ----------
    matrix : scipy sparse matrix, shape (n, m)
        Rows are the entities compared (items x users for item-item similarity). CSR or CSC;
        stored entries (explicit zeros included) are the ratings.
    metric : str
        A key of :data:`METRICS` (see the module notes for the formulas).
    k : int or None
        Neighbours kept per row (the ``k`` largest nonzero similarities, memory O(n k)).
        ``None`` keeps every nonzero similarity (all pairs, computed through dense blocks of
        rows of at most ``block_bytes``).
    shrinkage : float or None
        ``None`` takes the metric's default (100 for ``pearson_baseline``, else 0).
    min_support : int
        Pairs with fewer co-rated columns get no similarity.
    baseline : (float, ndarray (n,), ndarray (m,)), optional
        ``(global_mean, row_bias, col_bias)`` for ``pearson_baseline``.
    include_self : bool
        Keep each row's similarity to itself.
    positive_only : bool
        Keep only similarities > 0.
    dense : bool
        Return a dense float32 ndarray (n, n) (only with ``k=None``).
    num_threads : int, optional
        Numba threads for this call (restored afterwards); results do not depend on it.
        None takes one thread per :data:`WORK_PER_THREAD` co-occurrence updates, at most
        Numba's current count (small matrices run on one thread).
    block_bytes : int
        Size of the dense buffer of the all-pairs mode.
    symmetric : bool or None
        Top-k mode only, tuning (results do not depend on it): compute each pair once and
        offer it to both rows' heaps, which halves the co-occurrence work but keeps one set
        of heaps per thread (``8 * threads * n * k`` bytes). ``None`` does so when that is at
        most ``heap_bytes``.
    scan_threshold : float
        Tuning only (results do not depend on it): plain cosine rows whose co-occurrence work
        is at least ``scan_threshold`` times the number of rows they are compared with
        accumulate without bookkeeping and scan all dot products; ``inf`` disables the scan,
        0 forces it.

    Returns
    -------
    scipy.sparse.csr_matrix (n, n), float32, rows by descending similarity (see the module
    notes); or the dense float32 ndarray (n, n) with ``dense=True``.
    """
    if metric not in METRICS:
        raise ValueError(f"unknown similarity metric {metric!r}; known: {sorted(METRICS)}")
    spec = METRICS[metric]
    if k is not None and (int(k) != k or k < 1):
        raise ValueError(f"k must be a positive integer or None, got {k!r}")
    if dense and k is not None:
        raise ValueError("dense=True returns all pairs; it needs k=None")
    shrink = spec.default_shrinkage if shrinkage is None else float(shrinkage)
    if not shrink >= 0:
        raise ValueError(f"shrinkage must be >= 0, got {shrinkage!r}")
    if int(min_support) != min_support or min_support < 0:
        raise ValueError(f"min_support must be a non-negative integer, got {min_support!r}")
    support = max(int(min_support), spec.min_support_floor)

    x = _centre(_as_csr(matrix, "matrix"), spec, baseline)
    n = x.shape[0]
    xt = _transpose(x)
    sq = x.data.astype(np.float64) ** 2
    norms = np.sqrt(np.bincount(np.repeat(np.arange(n), np.diff(x.indptr)), weights=sq,
                                minlength=n))
    args = (*csr_arrays(x), *csr_arrays(xt), norms, spec.code, shrink, spec.shrink_offset,
            support, bool(include_self), bool(positive_only), float(scan_threshold))
    if num_threads is None:
        # Below ~WORK_PER_THREAD co-occurrence updates per thread (tens of milliseconds),
        # starting and synchronising threads costs more than it saves, the more so on a
        # busy machine where idle OpenMP workers spin.
        work = float(np.sum(np.diff(xt.indptr).astype(np.float64) ** 2))
        num_threads = max(1, min(nb.get_num_threads(), int(work // WORK_PER_THREAD)))

    with numba_threads(num_threads) as threads:
        if k is not None:
            kk = int(min(k, max(n, 1)))
            out_idx = np.empty((n, kk), dtype=np.int32)
            out_val = np.empty((n, kk), dtype=np.float32)
            n_chunks = max(1, min(n, threads))
            if symmetric is None:
                symmetric = 8 * n_chunks * n * kk <= heap_bytes
            if symmetric:
                heap_val = np.empty((n_chunks, n, kk), dtype=np.float32)
                heap_idx = np.empty((n_chunks, n, kk), dtype=np.int32)
                heap_cnt = np.empty((n_chunks, n), dtype=np.int64)
                similarity_topk_sym_kernel(*args, heap_val, heap_idx, heap_cnt)
                merge_heaps_kernel(heap_val, heap_idx, heap_cnt, out_idx, out_val)
                del heap_val, heap_idx, heap_cnt
            else:
                similarity_topk_kernel(*args, n_chunks, out_idx, out_val)
            keep = out_idx >= 0
            indptr = np.zeros(n + 1, dtype=np.int64)
            np.cumsum(keep.sum(axis=1), out=indptr[1:])
            result = sp.csr_matrix((out_val[keep], out_idx[keep], indptr), shape=(n, n))
            result.has_sorted_indices = False
            return result

        if dense:
            out = np.empty((n, n), dtype=np.float32)
            if n:
                similarity_dense_kernel(0, *args, max(1, min(n, threads)), out)
            return out

        block = max(1, min(n, block_bytes // max(1, 4 * n)))
        buf = np.empty((block, n), dtype=np.float32)
        pieces_idx, pieces_val, counts = [], [], []
        for start in range(0, n, block):
            view = buf[: min(block, n - start)]
            similarity_dense_kernel(start, *args, max(1, min(len(view), threads)), view)
            count = np.count_nonzero(view, axis=1)
            ptr = np.zeros(len(view) + 1, dtype=np.int64)
            np.cumsum(count, out=ptr[1:])
            idx = np.empty(ptr[-1], dtype=np.int32)
            val = np.empty(ptr[-1], dtype=np.float32)
            dense_rows_to_csr_kernel(view, ptr, idx, val)
            pieces_idx.append(idx)
            pieces_val.append(val)
            counts.append(count)
        indptr = np.zeros(n + 1, dtype=np.int64)
        if n:
            np.cumsum(np.concatenate(counts), out=indptr[1:])
        cat = (lambda parts, dt: np.concatenate(parts) if parts else np.empty(0, dt))
        result = sp.csr_matrix((cat(pieces_val, np.float32), cat(pieces_idx, np.int32),
                                indptr), shape=(n, n))
        result.has_sorted_indices = False
        return result


def csr_arrays(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr int64, indices int32, data float32) of a CSR matrix, in its stored order."""
    return (np.ascontiguousarray(matrix.indptr, dtype=np.int64),
            np.ascontiguousarray(matrix.indices, dtype=np.int32),
            np.ascontiguousarray(matrix.data, dtype=np.float32))
