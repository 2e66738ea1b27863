"""Sparse row-row similarity (item-item or user-user), top-k or all pairs: the Python layer
above :mod:`recsys.kernels.similarity`.

:func:`similarity` checks and converts its input (any scipy sparse matrix to CSR with int64
offsets, int32 indices and float32 values; the centring a metric needs), looks the metric
up in :data:`METRICS`, chooses the threads and the kernel (row-by-row or symmetric top-k,
dense blocks for all pairs), and assembles the CSR result. The kernels only compute.

The similarities are between the **rows** of a sparse matrix ``X`` of shape (n, m): pass the
ratings by item (``Dataset.csr_by_item``, items x users) for item-item similarity, and the
ratings by user (``Dataset.csr``) for user-user similarity.

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

from recsys.kernels import similarity as kernels
from recsys.threads import free_cores, numba_threads

__all__ = ["METRICS", "Metric", "WORK_PER_THREAD", "csr_arrays", "similarity"]


@dataclass(frozen=True)
class Metric:
    """How a named similarity is computed by the kernels.

    Attributes
    ----------
    name : str
    code : int
        Accumulation/finishing rule of the kernels (:data:`recsys.kernels.similarity.DOT`,
        ``CORATED``, ``PEARSON`` or ``MSD``).
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
        Metric("cosine", kernels.DOT),
        Metric("adjusted_cosine", kernels.DOT, centre="column_mean"),
        Metric("pearson", kernels.PEARSON),
        Metric("pearson_baseline", kernels.CORATED, centre="baseline",
               default_shrinkage=100.0, shrink_offset=1, min_support_floor=2),
        Metric("cosine_corated", kernels.CORATED),
        Metric("msd", kernels.MSD, lower=0.0),
    )
}

#: Co-occurrence updates (``sum_c nnz(column c)^2``) that justify one more thread when
#: ``num_threads`` is not given. ML-100K's items (2.0e7 updates) on a 2-core Xeon: 34.6 ms
#: on one thread, 23.9 ms on two; the second thread pays from about 5e6.
WORK_PER_THREAD = 5e6


def csr_arrays(matrix: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(indptr int64, indices int32, data float32) of a CSR matrix, in its stored order."""
    return (np.ascontiguousarray(matrix.indptr, dtype=np.int64),
            np.ascontiguousarray(matrix.indices, dtype=np.int32),
            np.ascontiguousarray(matrix.data, dtype=np.float32))


def _as_csr(matrix, name: str) -> sp.csr_matrix:
    # Canonical CSR with the kernels' dtypes; explicit zeros kept, non-finite values named.
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
    indptr, indices, data = csr_arrays(t)
    return sp.csr_matrix((data, indices, indptr), shape=t.shape)


def _centre(m: sp.csr_matrix, metric: Metric, baseline) -> sp.csr_matrix:
    # The stored values as the metric accumulates them (column means or baselines removed).
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


def _check_options(metric, k, shrinkage, min_support, dense) -> tuple[Metric, float, int]:
    # The metric's registry entry, the shrinkage and the minimum support to use.
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
    return spec, shrink, max(int(min_support), spec.min_support_floor)


def _auto_threads(xt: sp.csr_matrix) -> int:
    # One thread per WORK_PER_THREAD co-occurrence updates, at most Numba's current count
    # and the cores free now: below that (a few milliseconds a thread) starting and
    # synchronising threads costs more than it saves, and a thread that another process
    # deschedules holds up the others (the result is the same on any count).
    work = float(np.sum(np.diff(xt.indptr).astype(np.float64) ** 2))
    wanted = int(work // WORK_PER_THREAD)
    if wanted <= 1:
        return 1
    return max(1, min(nb.get_num_threads(), wanted, free_cores()))


def _topk(args: tuple, n: int, k: int, threads: int, symmetric: bool | None,
          heap_bytes: int) -> sp.csr_matrix:
    # Each row's k best through the row-by-row or the symmetric kernel.
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
        kernels.similarity_topk_sym_kernel(*args, heap_val, heap_idx, heap_cnt)
        kernels.merge_heaps_kernel(heap_val, heap_idx, heap_cnt, out_idx, out_val)
        del heap_val, heap_idx, heap_cnt
    else:
        kernels.similarity_topk_kernel(*args, n_chunks, out_idx, out_val)
    keep = out_idx >= 0
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=indptr[1:])
    return _by_similarity_csr(out_val[keep], out_idx[keep], indptr, n)


def _all_pairs(args: tuple, n: int, threads: int, block_bytes: int) -> sp.csr_matrix:
    # Every nonzero similarity, through dense blocks of rows of at most block_bytes.
    block = max(1, min(n, block_bytes // max(1, 4 * n)))
    buf = np.empty((block, n), dtype=np.float32)
    pieces_idx, pieces_val, counts = [], [], []
    for start in range(0, n, block):
        view = buf[: min(block, n - start)]
        kernels.similarity_dense_kernel(start, *args, max(1, min(len(view), threads)), view)
        count = np.count_nonzero(view, axis=1)
        ptr = np.zeros(len(view) + 1, dtype=np.int64)
        np.cumsum(count, out=ptr[1:])
        idx = np.empty(ptr[-1], dtype=np.int32)
        val = np.empty(ptr[-1], dtype=np.float32)
        kernels.dense_rows_to_csr_kernel(view, ptr, idx, val)
        pieces_idx.append(idx)
        pieces_val.append(val)
        counts.append(count)
    indptr = np.zeros(n + 1, dtype=np.int64)
    if n:
        np.cumsum(np.concatenate(counts), out=indptr[1:])
    cat = (lambda parts, dt: np.concatenate(parts) if parts else np.empty(0, dt))
    return _by_similarity_csr(cat(pieces_val, np.float32), cat(pieces_idx, np.int32), indptr,
                              n)


def _by_similarity_csr(data, indices, indptr, n: int) -> sp.csr_matrix:
    # The (n, n) result; rows are stored by descending similarity, not by column.
    result = sp.csr_matrix((data, indices, indptr), shape=(n, n))
    result.has_sorted_indices = False
    return result


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
        Numba's current count and the cores free when the call starts
        (:func:`recsys.threads.free_cores`; small matrices run on one thread).
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
    spec, shrink, support = _check_options(metric, k, shrinkage, min_support, dense)
    x = _centre(_as_csr(matrix, "matrix"), spec, baseline)
    n = x.shape[0]
    xt = _transpose(x)
    sq = x.data.astype(np.float64) ** 2
    norms = np.sqrt(np.bincount(np.repeat(np.arange(n), np.diff(x.indptr)), weights=sq,
                                minlength=n))
    rule = (int(spec.code), shrink, int(spec.shrink_offset), support, bool(include_self),
            bool(positive_only), float(scan_threshold))
    args = (csr_arrays(x), csr_arrays(xt), norms, rule)
    if num_threads is None:
        num_threads = _auto_threads(xt)
    with numba_threads(num_threads) as threads:
        if k is not None:
            return _topk(args, n, k, threads, symmetric, heap_bytes)
        if dense:
            out = np.empty((n, n), dtype=np.float32)
            if n:
                kernels.similarity_dense_kernel(0, *args, max(1, min(n, threads)), out)
            return out
        return _all_pairs(args, n, threads, block_bytes)
