"""Sparse row-row similarity kernels (item-item or user-user) that never densify the ratings.

The similarities are between the **rows** of a sparse matrix ``X`` of shape (n, m), CSR with
int64 ``indptr``, int32 ``indices`` and float32 ``data``, given with its transpose (the
columns of ``X``, indices sorted). The metrics, their registry and the checks and
conversions live one floor up, in :mod:`recsys.similarity`; here a metric is a kernel code
(:data:`DOT`, :data:`CORATED`, :data:`PEARSON`, :data:`MSD`) plus its shrinkage, offset and
support, and the thread and block planning is the caller's.

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

Each row then keeps only its ``k`` best neighbours in the bounded min-heap of
:mod:`recsys.kernels.topk` (memory ``O(n k)``; in the symmetric kernel each pair is
computed once, by the thread of its smaller row, and offered to both rows' heaps in
per-thread heaps merged at the end, ``O(threads n k)``), or, in the dense kernel, every
nonzero similarity of a block of rows goes into a dense buffer (the all-pairs mode).
Rows are independent, so the loop over rows is a ``prange`` and the result does not depend on
the thread count.

A pair with fewer than ``min_support`` co-rated columns, or whose similarity is undefined
(a zero norm or variance) or exactly 0, is no neighbour; shrinkage multiplies by
``(n - o) / (n - o + shrinkage)`` with ``o = shrink_offset``; values are clipped to
[-1, 1]. Neighbours come out by descending float32 similarity, ties by ascending column.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.topk import heap_append, heap_drain, heap_offer

#: Kernel codes: what is accumulated per pair and how the similarity is finished.
DOT = 0        # dot product over full-row norms (cosine, adjusted_cosine)
CORATED = 1    # dot product over co-rated norms (cosine_corated, pearson_baseline)
PEARSON = 2    # co-rated, re-centred on the co-rated means (pearson)
MSD = 3        # 1 / (1 + mean squared difference) over the co-rated columns (msd)


@nb.njit(cache=True, inline="always")
def _accumulate_row(a, indptr, indices, data, t_indptr, t_indices, t_data, starts, code,
                    count, prods, sq_a, sq_b, sum_a, sum_b, touched):
    """Accumulate row ``a``'s co-occurrence sums with the rows listed in each of its columns
    ``c`` from position ``starts[c]`` on; return the number of touched rows."""
    # One loop for every code: the two flags are loop invariants, which LLVM unswitches
    # into a specialised inner loop per code (measured as fast as three written out).
    squares = code != DOT
    centred = code == PEARSON
    nt = 0
    for p in range(indptr[a], indptr[a + 1]):
        c = indices[p]
        va = np.float64(data[p])
        va2 = va * va
        for q in range(starts[c], t_indptr[c + 1]):
            b = t_indices[q]
            if count[b] == 0:
                touched[nt] = b
                nt += 1
            vb = np.float64(t_data[q])
            count[b] += 1
            prods[b] += va * vb
            if squares:
                sq_a[b] += va2
                sq_b[b] += vb * vb
                if centred:
                    sum_a[b] += va
                    sum_b[b] += vb
    return nt


@nb.njit(cache=True, inline="always")
def _finish(a, b, code, count, prods, sq_a, sq_b, sum_a, sum_b, norms, shrinkage,
            shrink_offset, min_support):
    """The similarity of rows a and b from the accumulated sums (0 when undefined)."""
    n = count[b]
    if n < min_support:
        return 0.0
    if code == DOT:
        den = norms[a] * norms[b]
        s = prods[b] / den if den > 0.0 else 0.0
    elif code == CORATED:
        den = np.sqrt(sq_a[b] * sq_b[b])
        s = prods[b] / den if den > 0.0 else 0.0
    elif code == PEARSON:
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
    # Zero the accumulators of the nt touched rows again.
    for t in range(nt):
        b = touched[t]
        count[b] = 0
        prods[b] = 0.0
        if code != DOT:
            sq_a[b] = 0.0
            sq_b[b] = 0.0
            if code == PEARSON:
                sum_a[b] = 0.0
                sum_b[b] = 0.0


@nb.njit(cache=True, inline="always")
def _finish_dot(a, b, prods, norms):
    # _finish for DOT without support or shrinkage (the same arithmetic).
    den = norms[a] * norms[b]
    s = prods[b] / den if den > 0.0 else 0.0
    if s > 1.0:
        s = 1.0
    elif s < -1.0:
        s = -1.0
    return s


@nb.njit(cache=True)
def _scratch(n, code):
    # One thread's accumulators for n rows (the sums of squares only where the code needs
    # them): count, prods, sq_a, sq_b, sum_a, sum_b, touched, cand_idx, cand_val.
    big = n if code != DOT else 1
    centred = n if code == PEARSON else 1
    return (np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.float64),
            np.zeros(big, dtype=np.float64), np.zeros(big, dtype=np.float64),
            np.zeros(centred, dtype=np.float64), np.zeros(centred, dtype=np.float64),
            np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64),
            np.empty(n, dtype=np.float32))


@nb.njit(cache=True)
def _row_candidates(a, x, xt, starts, scan_lo, norms, rule, work):
    """Similarities of row ``a`` that may be neighbours, into ``work``'s ``cand_idx`` /
    ``cand_val``; returns their number. The accumulators are all zero again on return.

    ``x`` and ``xt`` are the (indptr, indices, data) of X and of its transpose; ``rule`` is
    (code, shrinkage, shrink_offset, min_support, include_self, positive_only,
    scan_threshold); ``work`` is :func:`_scratch`'s tuple. Column ``c`` is read from
    ``starts[c]`` on (``t_indptr`` for all rows; the symmetric kernel passes cursors past
    the rows below ``a``, and ``scan_lo`` = a or a + 1).
    Plain cosine (DOT, no support or shrinkage rule) on a row whose co-occurrence work
    ``sum_c nnz(column c)`` is at least ``scan_threshold * (n - scan_lo)`` accumulates only
    the dot products and then scans them all (about twice as fast when most rows co-occur);
    every other row tracks counts and touched rows. Both give the same numbers.
    """
    indptr, indices, data = x
    t_indptr, t_indices, t_data = xt
    code, shrinkage, shrink_offset, min_support, include_self, positive_only, scan_threshold = rule
    count, prods, sq_a, sq_b, sum_a, sum_b, touched, cand_idx, cand_val = work
    n = indptr.shape[0] - 1
    m = 0
    fast = code == DOT and min_support <= 1 and shrinkage == 0.0
    if fast:
        work_a = 0
        for p in range(indptr[a], indptr[a + 1]):
            c = indices[p]
            work_a += t_indptr[c + 1] - starts[c]
        fast = work_a >= scan_threshold * (n - scan_lo)
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


@nb.njit(cache=True, parallel=True)
def similarity_topk_kernel(x, xt, norms, rule, n_chunks, out_idx, out_val):
    """Top-k nonzero similarities of every row of a CSR matrix, one row at a time.

    Parameters
    ----------
    x : (int64 (n+1,), int32 (nnz,), float32 (nnz,))
        The matrix X (n rows, m columns) as CSR (indptr, indices, data).
    xt : (int64 (m+1,), int32 (nnz,), float32 (nnz,))
        Its transpose, CSR (the columns of X), sorted indices.
    norms : float64 (n,)
        Euclidean row norms (used by DOT only).
    rule : (int, float, int, int, bool, bool, float)
        The metric: (code, shrinkage, shrink_offset, min_support, include_self,
        positive_only, scan_threshold); code is :data:`DOT`, :data:`CORATED`,
        :data:`PEARSON` or :data:`MSD`; scan_threshold is tuning only (see
        :func:`_row_candidates`; results do not depend on it).
    n_chunks : int
        Rows are split into this many strided chunks, one set of accumulators each.
    out_idx : int32 (n, k), out_val : float32 (n, k)
        Filled with each row's best k (descending, ties by ascending column); -1 / 0 pad.
    """
    n = x[0].shape[0] - 1
    k = out_idx.shape[1]
    for ch in nb.prange(n_chunks):
        work = _scratch(n, rule[0])
        cand_idx, cand_val = work[7], work[8]
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int64)
        for a in range(ch, n, n_chunks):
            nc = _row_candidates(a, x, xt, xt[0], 0, norms, rule, work)
            m = 0
            for t in range(nc):
                if m < k:
                    m = heap_append(hv, hi, m, k, cand_val[t], cand_idx[t])
                else:
                    heap_offer(hv, hi, k, cand_val[t], cand_idx[t])
            heap_drain(hv, hi, m, k, out_idx[a], out_val[a], 0.0)


@nb.njit(cache=True, inline="always")
def _offer_to_row(r, b, sv, k, hv, hx, hc, thr):
    # Offer (sv, b) to row r's heap (hv[r], hx[r], hc[r] entries); once the heap is full,
    # thr[r] follows its root.
    if hc[r] < k:
        hc[r] = heap_append(hv[r], hx[r], hc[r], k, sv, b)
    else:
        heap_offer(hv[r], hx[r], k, sv, b)
    if hc[r] == k:
        thr[r] = hv[r, 0]


@nb.njit(cache=True, parallel=True)
def similarity_topk_sym_kernel(x, xt, norms, rule, heap_val, heap_idx, heap_cnt):
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
    indptr, indices, _ = x
    t_indptr, t_indices, _ = xt
    include_self = rule[4]
    n = indptr.shape[0] - 1
    n_chunks, _, k = heap_val.shape
    for ch in nb.prange(n_chunks):
        work = _scratch(n, rule[0])
        cand_idx, cand_val = work[7], work[8]
        cursor = t_indptr[:-1].copy()
        hv = heap_val[ch]
        hx = heap_idx[ch]
        hc = heap_cnt[ch]
        thr = np.full(n, -np.inf, dtype=np.float32)
        for r in range(n):
            hc[r] = 0
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
            nc = _row_candidates(a, x, xt, cursor, lo, norms, rule, work)
            for t in range(nc):
                b = cand_idx[t]
                sv = cand_val[t]
                # thr[r] is the root of r's heap once full: a compact array that stays in
                # cache, so that the many rejected offers never touch the heaps themselves.
                if sv >= thr[a]:
                    _offer_to_row(a, b, sv, k, hv, hx, hc, thr)
                if b != a and sv >= thr[b]:
                    _offer_to_row(b, a, sv, k, hv, hx, hc, thr)


@nb.njit(cache=True, parallel=True)
def merge_heaps_kernel(heap_val, heap_idx, heap_cnt, out_idx, out_val):
    """Second half of the symmetric top-k: the best k of each row over all chunks' heaps,
    best first (ties by ascending column) into out_idx int32 / out_val float32 (n, k)."""
    n_chunks, n, k = heap_val.shape
    for r in nb.prange(n):
        hv = np.empty(k, dtype=np.float32)
        hi = np.empty(k, dtype=np.int64)
        m = 0
        for ch in range(n_chunks):
            for j in range(heap_cnt[ch, r]):
                v = heap_val[ch, r, j]
                c = np.int64(heap_idx[ch, r, j])
                if m < k:
                    m = heap_append(hv, hi, m, k, v, c)
                else:
                    heap_offer(hv, hi, k, v, c)
        heap_drain(hv, hi, m, k, out_idx[r], out_val[r], 0.0)


@nb.njit(cache=True, parallel=True)
def similarity_dense_kernel(row_start, x, xt, norms, rule, n_chunks, out):
    """All similarities of rows ``row_start .. row_start + out.shape[0]`` into dense ``out``.

    Same inputs as :func:`similarity_topk_kernel`; ``out`` is float32 (n_block, n), zeroed
    here; entries that are no neighbour (see the module notes) stay 0.
    """
    n = x[0].shape[0] - 1
    for ch in nb.prange(n_chunks):
        work = _scratch(n, rule[0])
        cand_idx, cand_val = work[7], work[8]
        for r in range(ch, out.shape[0], n_chunks):
            a = row_start + r
            out[r, :] = 0.0
            nc = _row_candidates(a, x, xt, xt[0], 0, norms, rule, work)
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
