"""Accuracy and top-N metrics, as plain functions over NumPy arrays.

Rating prediction: :func:`rmse`, :func:`mae`.

Per-user ranking metrics take one user's recommendation list and relevant items:

``ranked``
    1-D int array of recommended item indices, best first. ``-1`` marks an empty slot (the
    padding :func:`recsys.topk.topk_rows` writes when fewer than k items were
    eligible): it keeps its position but is never a hit. Other negative values and repeated
    items raise ``ValueError``.
``relevant``
    1-D int array of the user's relevant item indices (e.g. test items rated at or above a
    threshold). Must be non-negative and unique (``ValueError`` otherwise); order is ignored.
``k``
    The cutoff, an int >= 1. Only ``ranked[:k]`` is looked at; a list shorter than k is
    treated as if padded with empty slots.

List-level metrics (:func:`catalog_coverage`, :func:`novelty`, :func:`intra_list_diversity`)
take the 2-D ``recommended`` array (n_users, k) that ``topk_rows`` returns, ``-1`` padded.

:func:`mean_ci` aggregates per-user or per-fold values into a mean and a Student-t interval.

More list metrics (per-list values of feature diversity, popularity bias, serendipity and
calibration) are in :mod:`recsys.beyond_accuracy`; sampled ranking and its correction in
:mod:`recsys.sampled`; bootstrap intervals over users in :mod:`recsys.significance`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.sparse as sp
import scipy.stats

__all__ = [
    "rmse", "mae", "precision_at_k", "recall_at_k", "ndcg_at_k", "average_precision_at_k",
    "reciprocal_rank", "hit_rate_at_k", "catalog_coverage", "novelty",
    "intra_list_diversity", "mean_ci", "dcg_discounts",
]


# ---------------------------------------------------------------------- rating prediction
def _paired_values(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64).ravel()
    p = np.asarray(y_pred, dtype=np.float64).ravel()
    if t.shape != p.shape:
        raise ValueError(f"y_true and y_pred must have the same length, got {t.size} and "
                         f"{p.size}")
    if t.size == 0:
        raise ValueError("y_true and y_pred are empty")
    for name, a in (("y_true", t), ("y_pred", p)):
        bad = np.flatnonzero(~np.isfinite(a))
        if bad.size:
            raise ValueError(f"{name} has a non-finite value {a[bad[0]]} at position "
                             f"{bad[0]}")
    return t, p


def rmse(y_true, y_pred) -> float:
    """Root mean squared error, computed in float64.

    Parameters
    ----------
    y_true, y_pred : array-like of float, shape (n,)

    Raises
    ------
    ValueError
        If the lengths differ, the arrays are empty, or either holds NaN or +-inf (the
        message gives the first offending position).
    """
    t, p = _paired_values(y_true, y_pred)
    return float(np.sqrt(np.mean((t - p) ** 2)))


def mae(y_true, y_pred) -> float:
    """Mean absolute error, computed in float64. Same checks as :func:`rmse`."""
    t, p = _paired_values(y_true, y_pred)
    return float(np.mean(np.abs(t - p)))


# ---------------------------------------------------------------------- input checks
def _check_k(k, name: str = "k") -> int:
    if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"{name} must be an int >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"{name} must be an int >= 1, got {k}")
    return int(k)


def _int_vector(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.size == 0:
        return np.zeros(0, dtype=np.int64)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {a.shape}")
    if not np.issubdtype(a.dtype, np.integer):
        raise ValueError(f"{name} must hold integer item indices, got dtype {a.dtype}")
    return a.astype(np.int64, copy=False)


def _first_duplicate(a: np.ndarray):
    s = np.sort(a)
    d = np.flatnonzero(s[1:] == s[:-1])
    return None if d.size == 0 else s[d[0]]


def _check_ranked(ranked) -> np.ndarray:
    r = _int_vector(ranked, "ranked")
    if r.size and r.min() < -1:
        raise ValueError(f"ranked holds {r.min()}; item indices are >= 0 and -1 pads")
    dup = _first_duplicate(r[r >= 0])
    if dup is not None:
        raise ValueError(f"ranked recommends item {dup} more than once")
    return r


def _check_relevant(relevant) -> np.ndarray:
    rel = _int_vector(relevant, "relevant")
    if rel.size and rel.min() < 0:
        raise ValueError(f"relevant holds a negative item index {rel.min()}")
    dup = _first_duplicate(rel)
    if dup is not None:
        raise ValueError(f"relevant lists item {dup} more than once")
    return rel


def _hits(ranked, relevant, k):
    """Checked inputs -> (ranked[:k], bool hits of ranked[:k], relevant, k)."""
    k = _check_k(k)
    r = _check_ranked(ranked)
    rel = _check_relevant(relevant)
    top = r[:k]
    return top, np.isin(top, rel) & (top >= 0), rel, k


def dcg_discounts(k: int) -> np.ndarray:
    """The DCG position discounts ``1 / log2(rank + 1)`` for ranks 1..k, float64, shape (k,)."""
    return 1.0 / np.log2(np.arange(2, k + 2, dtype=np.float64))


# ---------------------------------------------------------------------- per-user ranking
def precision_at_k(ranked, relevant, k: int) -> float:
    """Share of the top-k slots that hold a relevant item: ``hits in ranked[:k] / k``.

    Notes
    -----
    Edge cases:

    - The denominator is ``k`` even when fewer than k items were recommended (a shorter
      list, or ``-1`` padding): empty slots count as misses, so a model is not rewarded for
      recommending less.
    - No relevant items: 0.0.
    - Ties in the model's scores are resolved before this function sees the list (the
      order of ``ranked`` is taken as given).
    - Repeated items in ``ranked`` or ``relevant``: ``ValueError``.
    """
    _, hits, _, k = _hits(ranked, relevant, k)
    return float(hits.sum()) / k


def recall_at_k(ranked, relevant, k: int) -> float:
    """Share of the relevant items found in the top k: ``hits in ranked[:k] / |relevant|``.

    Notes
    -----
    Edge cases:

    - No relevant items: 0.0. Recall is undefined for such a user; callers that average
      over users (:func:`recsys.evaluation.evaluate_topn`) skip them instead.
    - k larger than the list: only the recommended items can hit; the denominator stays
      ``|relevant|``, so recall can be below 1 when ``|relevant| > k``.
    - ``-1`` padding never hits; repeated items raise ``ValueError``.
    """
    _, hits, rel, _ = _hits(ranked, relevant, k)
    if rel.size == 0:
        return 0.0
    return float(hits.sum()) / rel.size


def hit_rate_at_k(ranked, relevant, k: int) -> float:
    """1.0 if any of ``ranked[:k]`` is relevant, else 0.0 (averaged over users: hit rate).

    Edge cases: no relevant items or an all-padding list give 0.0; repeated items raise
    ``ValueError``.
    """
    _, hits, _, _ = _hits(ranked, relevant, k)
    return float(hits.any())


def ndcg_at_k(ranked, relevant, k: int, gains=None) -> float:
    """Normalised discounted cumulative gain at k.

    ``DCG@k = sum over ranks r = 1..k of gain(ranked[r-1]) / log2(r + 1)`` and
    ``NDCG@k = DCG@k / IDCG@k``, where ``IDCG@k`` is the DCG of the ideal list: the k largest
    gains in descending order (Järvelin & Kekäläinen 2002, with the log2(r + 1) discount of
    Burges et al. 2005).

    Parameters
    ----------
    gains : array-like of float, shape (len(relevant),), optional
        Graded gain of each relevant item, aligned with ``relevant``; must be finite and
        >= 0. Used as is (linear gain): pass ``2 ** rating - 1`` for the exponential form.
        Without it every relevant item has gain 1 (binary NDCG).

    Notes
    -----
    Edge cases:

    - No relevant items, or every gain 0: IDCG is 0 and the result is 0.0.
    - k larger than the list or ``|relevant| < k``: the ideal list has only
      ``min(k, |relevant|)`` non-zero entries, so a list that ranks every relevant item
      first scores 1.0.
    - Empty slots (``-1``) contribute 0 but keep their position's discount.
    - Repeated items raise ``ValueError``; so does ``gains`` of the wrong length.
    """
    top, hits, rel, k = _hits(ranked, relevant, k)
    disc = dcg_discounts(k)
    if gains is None:
        g = np.ones(rel.size, dtype=np.float64)
    else:
        g = np.asarray(gains, dtype=np.float64).ravel()
        if g.shape != rel.shape:
            raise ValueError(f"gains must align with relevant: {g.size} gains for "
                             f"{rel.size} relevant items")
        if g.size and (not np.all(np.isfinite(g)) or g.min() < 0):
            raise ValueError("gains must be finite and >= 0")
    ideal = np.sort(g)[::-1][:k]
    idcg = float(np.dot(ideal, disc[: ideal.size]))
    if idcg <= 0.0:
        return 0.0
    gain_of = dict(zip(rel.tolist(), g.tolist()))
    top_gain = np.array([gain_of[i] if h else 0.0 for i, h in zip(top.tolist(), hits)],
                        dtype=np.float64)
    return float(np.dot(top_gain, disc[: top_gain.size])) / idcg


def average_precision_at_k(ranked, relevant, k: int) -> float:
    """Average precision at k (its mean over users is MAP@k).

    ``AP@k = (sum over ranks r <= k holding a relevant item of precision@r) / min(|relevant|, k)``.
    The ``min(|relevant|, k)`` denominator makes a perfect list score 1.0 even when a user
    has more relevant items than fit in k slots.

    Edge cases: no relevant items gives 0.0; empty slots are misses that still count as
    ranks; repeated items raise ``ValueError``.
    """
    _, hits, rel, k = _hits(ranked, relevant, k)
    if rel.size == 0:
        return 0.0
    ranks = np.arange(1, hits.size + 1, dtype=np.float64)
    prec = np.cumsum(hits) / ranks
    return float(prec[hits].sum()) / min(rel.size, k)


def reciprocal_rank(ranked, relevant, k: int | None = None) -> float:
    """``1 / rank`` of the first relevant item in ``ranked[:k]`` (the whole list if k is None).

    Its mean over users is the MRR. Edge cases: no relevant item in the list, no relevant
    items at all, or an empty list give 0.0; empty slots count as ranks; repeated items
    raise ``ValueError``.
    """
    r = _check_ranked(ranked)
    if k is None:
        k = max(r.size, 1)
    _, hits, _, _ = _hits(r, relevant, k)
    first = np.flatnonzero(hits)
    return 0.0 if first.size == 0 else 1.0 / (first[0] + 1)


# ---------------------------------------------------------------------- list-level metrics
def _check_lists(recommended, n_items: int | None = None) -> np.ndarray:
    rec = np.asarray(recommended)
    if rec.ndim != 2:
        raise ValueError(f"recommended must be 2-D (n_users, k), got shape {rec.shape}")
    if rec.size == 0:
        return rec.astype(np.int64)
    if not np.issubdtype(rec.dtype, np.integer):
        raise ValueError(f"recommended must hold integer item indices, got dtype {rec.dtype}")
    rec = rec.astype(np.int64, copy=False)
    if rec.min() < -1:
        raise ValueError(f"recommended holds {rec.min()}; item indices are >= 0 and -1 pads")
    if n_items is not None and rec.max() >= n_items:
        raise ValueError(f"recommended holds item {rec.max()} but there are only "
                         f"{n_items} items")
    s = np.sort(rec, axis=1)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if dup.any():
        row, col = np.argwhere(dup)[0]
        raise ValueError(f"list {row} of recommended holds item {s[row, col + 1]} more than "
                         "once")
    return rec


def catalog_coverage(recommended, n_items: int) -> float:
    """Share of the catalogue recommended to at least one user.

    Parameters
    ----------
    recommended : int array, shape (n_users, k); ``-1`` pads.
    n_items : int, the catalogue size (> 0).

    Returns ``len(distinct items in recommended) / n_items``. Edge cases: no lists (or only
    padding) give 0.0; an item index >= n_items or a repeated item in one list raises
    ``ValueError``.
    """
    n_items = _check_k(n_items, "n_items")
    rec = _check_lists(recommended, n_items)
    items = rec[rec >= 0]
    if items.size == 0:
        return 0.0
    return float(np.count_nonzero(np.bincount(items, minlength=n_items))) / n_items


def novelty(recommended, item_popularity, n_users: int | None = None) -> float:
    """Mean self-information of the recommended items, in bits (Zhou et al. 2010).

    ``novelty = mean over every recommended (non-padding) item i of -log2(p_i)``, where
    ``p_i`` is the share of users who rated item i in the training data
    (``train.item_counts / train.n_users``). The mean runs over all recommended items
    pooled, so it equals the mean of per-list means when every list has the same length.

    Parameters
    ----------
    recommended : int array, shape (n_users, k); ``-1`` pads.
    item_popularity : float array, shape (n_items,)
        ``p_i`` in [0, 1].
    n_users : int, optional
        Number of training users. An item nobody rated (``p_i = 0``) has infinite
        self-information; it is scored with ``p_i = 1 / n_users`` instead, as if one user
        had rated it. Required only when such an item is recommended.

    Edge cases: no recommended items gives NaN; a recommended item with ``p_i = 0`` and no
    ``n_users`` raises ``ValueError`` (naming the item); so do shares outside [0, 1] and
    repeated items in one list.
    """
    pop = np.asarray(item_popularity, dtype=np.float64).ravel()
    if pop.size and (not np.all(np.isfinite(pop)) or pop.min() < 0 or pop.max() > 1):
        raise ValueError("item_popularity must hold shares in [0, 1]")
    rec = _check_lists(recommended, pop.size)
    items = rec[rec >= 0]
    if items.size == 0:
        return float("nan")
    p = pop[items]
    zero = p == 0
    if zero.any():
        if n_users is None:
            raise ValueError(f"item {items[np.flatnonzero(zero)[0]]} has popularity 0; pass "
                             "n_users to score such items with p = 1 / n_users")
        p = np.where(zero, 1.0 / _check_k(n_users, "n_users"), p)
    return float(np.mean(-np.log2(p)))


def intra_list_diversity(recommended, similarity) -> float:
    """Mean over lists of the mean pairwise dissimilarity ``1 - sim(i, j)`` (Ziegler et al. 2005).

    For each list with at least two (non-padding) items, the mean of ``1 - sim(i, j)`` over
    all ordered pairs of distinct positions; then the mean over those lists. For a
    symmetric similarity this is the mean over unordered pairs; an asymmetric one is
    thereby symmetrised.

    Parameters
    ----------
    recommended : int array, shape (n_users, k); ``-1`` pads.
    similarity : ndarray (n_items, n_items), scipy sparse matrix (n_items, n_items), or
        callable ``(i, j) -> float``. In a sparse matrix a missing entry is similarity 0.

    Edge cases: lists with fewer than two items have no pairs and are left out; if no list
    has two items the result is NaN. A NaN similarity for a recommended pair, an item
    outside the matrix, or a repeated item in one list raises ``ValueError``.
    """
    if callable(similarity):
        return _ild_callable(_check_lists(recommended), similarity)
    if sp.issparse(similarity):
        shape = similarity.shape
    else:
        similarity = np.asarray(similarity)
        shape = similarity.shape
    if len(shape) != 2 or shape[0] != shape[1]:
        raise ValueError(f"similarity must be square (n_items, n_items), got shape {shape}")
    rec = _check_lists(recommended, shape[0])
    if rec.size == 0:
        return float("nan")
    valid = rec >= 0
    safe = np.where(valid, rec, 0)
    kk = rec.shape[1]
    pair = valid[:, :, None] & valid[:, None, :] & ~np.eye(kk, dtype=bool)[None]
    rows = np.broadcast_to(safe[:, :, None], pair.shape)[pair]
    cols = np.broadcast_to(safe[:, None, :], pair.shape)[pair]
    if sp.issparse(similarity):
        sims = _sparse_lookup(similarity, rows, cols)
    else:
        sims = similarity[rows, cols].astype(np.float64)
    if np.isnan(sims).any():
        b = np.flatnonzero(np.isnan(sims))[0]
        raise ValueError(f"similarity of items {rows[b]} and {cols[b]} is NaN")
    n_pairs = pair.sum(axis=(1, 2))
    list_of_pair = np.broadcast_to(np.arange(rec.shape[0])[:, None, None], pair.shape)[pair]
    dis = np.bincount(list_of_pair, weights=1.0 - sims, minlength=rec.shape[0])
    keep = n_pairs > 0
    if not keep.any():
        return float("nan")
    return float(np.mean(dis[keep] / n_pairs[keep]))


def _sparse_lookup(matrix, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    # Vectorised m[rows, cols] for a CSR matrix: search the sorted (row, col) keys.
    m = sp.csr_matrix(matrix, copy=True)
    m.sum_duplicates()
    m.sort_indices()
    n = np.int64(m.shape[1])
    row_of = np.repeat(np.arange(m.shape[0], dtype=np.int64), np.diff(m.indptr))
    keys = row_of * n + m.indices.astype(np.int64)
    want = rows.astype(np.int64) * n + cols.astype(np.int64)
    pos = np.searchsorted(keys, want)
    pos_c = np.minimum(pos, max(keys.size - 1, 0))
    found = (pos < keys.size) & (keys[pos_c] == want) if keys.size else np.zeros(want.size, bool)
    out = np.zeros(want.size, dtype=np.float64)
    out[found] = m.data[pos_c[found]]
    return out


def _ild_callable(rec: np.ndarray, sim: Callable[[int, int], float]) -> float:
    per_list = []
    for row in rec:
        items = [int(i) for i in row if i >= 0]
        if len(items) < 2:
            continue
        total, count = 0.0, 0
        for a in items:
            for b in items:
                if a != b:
                    s = float(sim(a, b))
                    if s != s:
                        raise ValueError(f"similarity of items {a} and {b} is NaN")
                    total += 1.0 - s
                    count += 1
        per_list.append(total / count)
    return float(np.mean(per_list)) if per_list else float("nan")


# ---------------------------------------------------------------------- aggregation
def mean_ci(values, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean and two-sided Student-t confidence interval of the mean.

    ``mean +- t_{(1 + confidence) / 2, n - 1} * s / sqrt(n)`` with ``s`` the sample
    standard deviation (ddof=1).

    Returns
    -------
    (mean, lower, upper) : floats

    Edge cases: one value gives ``(v, nan, nan)`` (no spread to estimate); no values give
    ``(nan, nan, nan)``; equal values give a zero-width interval. NaN or infinite values and
    a confidence outside (0, 1) raise ``ValueError``.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    v = np.asarray(values, dtype=np.float64).ravel()
    bad = np.flatnonzero(~np.isfinite(v))
    if bad.size:
        raise ValueError(f"values has a non-finite value {v[bad[0]]} at position {bad[0]}")
    n = v.size
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(v.mean())
    if n == 1:
        return mean, float("nan"), float("nan")
    sem = float(v.std(ddof=1)) / np.sqrt(n)
    half = float(scipy.stats.t.ppf(0.5 + confidence / 2.0, n - 1)) * sem
    return mean, mean - half, mean + half
