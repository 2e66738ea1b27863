"""Beyond-accuracy metrics of top-N lists: diversity, popularity bias, serendipity, calibration.

Every function takes the 2-D ``recommended`` array (n_lists, k) of item indices that
:func:`recsys.topk.topk_rows` returns (``-1`` pads; checked as in :mod:`recsys.metrics`) and
returns per-list values (float64, shape (n_lists,), NaN where a list has no value) so the
bench can average them over users, bootstrap them and pair them; the mean over users is
``np.nanmean`` of them.

- :func:`feature_ild`: intra-list diversity with item feature vectors (genres, content):
  the mean pairwise cosine distance within each list (Ziegler et al. 2005).
- :func:`average_recommendation_popularity` (ARP), :func:`long_tail_share` (APLT) of
  Abdollahpouri, Burke & Mobasher 2019 ("Managing popularity bias in recommender systems
  with personalized re-ranking", FLAIRS), and :func:`exposure_gini`, the Gini coefficient
  of how often each catalogue item is recommended.
- :func:`serendipity`: the share of each list that is relevant and unexpected, unexpected
  meaning absent from a popularity baseline's list for the same user (Murakami et al. 2008,
  Ge et al. 2010).
- :func:`calibration_kl`: Steck 2018 ("Calibrated recommendations", RecSys): the KL
  divergence from the genre distribution of a user's history to that of their list, the
  list's distribution smoothed towards the history's.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.metrics import _check_lists

__all__ = ["feature_ild", "average_recommendation_popularity", "long_tail_share",
           "long_tail_items", "exposure_gini", "popularity_baseline", "serendipity",
           "genre_distribution", "calibration_kl"]


def _list_matrix(rec: np.ndarray, n_items: int) -> sp.csr_matrix:
    """(n_lists, n_items) 0/1 matrix of which items each list holds."""
    rows, cols = np.nonzero(rec >= 0)
    return sp.csr_matrix((np.ones(rows.size), (rows, rec[rows, cols])),
                         shape=(rec.shape[0], n_items))


def _features(features, n_items: int | None = None) -> sp.csr_matrix:
    x = sp.csr_matrix(features, dtype=np.float64) if not sp.issparse(features) else \
        sp.csr_matrix(features, dtype=np.float64, copy=True)
    if x.ndim != 2:
        raise ValueError(f"features must be 2-D (n_items, n_features), got shape {x.shape}")
    if n_items is not None and x.shape[0] != n_items:
        raise ValueError(f"features has {x.shape[0]} rows for {n_items} items")
    if x.nnz and not np.all(np.isfinite(x.data)):
        raise ValueError("features hold a NaN or infinite value")
    return x


# ---------------------------------------------------------------------- diversity
def feature_ild(recommended, features) -> np.ndarray:
    """Intra-list diversity of each list with item feature vectors: the mean over its pairs
    of distinct items of the cosine distance ``1 - cos(x_i, x_j)``.

    For unit vectors, ``sum over ordered pairs i != j of cos = |sum_i x_i|^2 - sum_i
    |x_i|^2``, so a list costs one sparse product, not k^2 lookups.

    Parameters
    ----------
    recommended : int array (n_lists, k); ``-1`` pads.
    features : ndarray or scipy sparse (n_items, n_features)
        E.g. the genre multi-hot rows (:func:`recsys.features.genre_matrix`) or the content
        vectors of ContentKNN (:func:`recsys.models.content_features.item_features`). An
        item with an all-zero row has cosine 0 with every item (it shares nothing).

    Returns
    -------
    float64 (n_lists,): NaN for a list with fewer than two items.
    """
    x = _features(features)
    rec = _check_lists(recommended, x.shape[0])
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    unit = sp.diags(np.where(norms > 0, 1.0 / np.where(norms > 0, norms, 1.0), 0.0)) @ x
    a = _list_matrix(rec, x.shape[0])
    total = a @ unit                                   # (n_lists, n_features)
    sq = np.asarray(total.multiply(total).sum(axis=1)).ravel()
    n = (rec >= 0).sum(axis=1).astype(np.float64)
    n_unit = a @ (norms > 0).astype(np.float64)        # items with a non-zero vector
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_cos = (sq - n_unit) / (n * (n - 1))
    return np.where(n >= 2, 1.0 - mean_cos, np.nan)


# ---------------------------------------------------------------------- popularity bias
def _popularity(item_popularity, n_items=None) -> np.ndarray:
    pop = np.asarray(item_popularity, dtype=np.float64).ravel()
    if pop.size and (not np.all(np.isfinite(pop)) or pop.min() < 0):
        raise ValueError("item_popularity must be finite and >= 0 (e.g. train.item_counts)")
    return pop


def average_recommendation_popularity(recommended, item_popularity) -> np.ndarray:
    """ARP of each list: the mean popularity of its items, ``sum_{i in L} phi(i) / |L|``,
    with ``phi(i)`` the item's number of training ratings (``train.item_counts``; shares
    give the same order). Abdollahpouri et al. 2019 average it over users. NaN for an
    empty list."""
    pop = _popularity(item_popularity)
    rec = _check_lists(recommended, pop.size)
    valid = rec >= 0
    total = np.where(valid, pop[np.where(valid, rec, 0)], 0.0).sum(axis=1)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, total / n, np.nan)


def long_tail_items(item_popularity, head_share: float = 0.2) -> np.ndarray:
    """Bool (n_items,): the long tail, every item outside the short head.

    The short head is the ``ceil(head_share * n_items)`` most popular items (ties broken by
    ascending index): the 20/80 split of Abdollahpouri et al. 2019.
    """
    if isinstance(head_share, bool) or not 0.0 < float(head_share) < 1.0:
        raise ValueError(f"head_share must be in (0, 1), got {head_share!r}")
    pop = _popularity(item_popularity)
    n_head = int(np.ceil(head_share * pop.size))
    order = np.lexsort((np.arange(pop.size), -pop))
    tail = np.ones(pop.size, dtype=bool)
    tail[order[:n_head]] = False
    return tail


def long_tail_share(recommended, item_popularity, head_share: float = 0.2) -> np.ndarray:
    """APLT of each list: the share of its items in the long tail
    (:func:`long_tail_items`), ``|L cap tail| / |L|``. NaN for an empty list."""
    tail = long_tail_items(item_popularity, head_share)
    rec = _check_lists(recommended, tail.size)
    valid = rec >= 0
    hits = (valid & tail[np.where(valid, rec, 0)]).sum(axis=1)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / n, np.nan)


def exposure_gini(recommended, n_items: int) -> float:
    """Gini coefficient of item exposure: how unequally the ``n_items`` catalogue items
    appear in the lists (0: every item recommended equally often; near 1: a few items take
    every slot). With ``c_(1) <= ... <= c_(n)`` the sorted exposure counts (items never
    recommended count 0), ``G = sum_j (2j - n - 1) c_(j) / (n sum_j c_j)``, equal to the mean
    absolute difference ``sum_{a,b} |c_a - c_b| / (2 n sum_j c_j)``. NaN when no item is
    recommended."""
    if isinstance(n_items, bool) or not isinstance(n_items, (int, np.integer)) or n_items < 1:
        raise ValueError(f"n_items must be an int >= 1, got {n_items!r}")
    rec = _check_lists(recommended, n_items)
    counts = np.bincount(rec[rec >= 0], minlength=n_items).astype(np.float64)
    total = counts.sum()
    if total == 0:
        return float("nan")
    c = np.sort(counts)
    j = np.arange(1, n_items + 1, dtype=np.float64)
    return float(np.sum((2 * j - n_items - 1) * c) / (n_items * total))


# ---------------------------------------------------------------------- serendipity
def popularity_baseline(train, users, k: int, candidates=None) -> np.ndarray:
    """The popularity baseline's top-k list of each user: the most-rated training items the
    user has not rated in train (ties by ascending index), ``-1`` padded; int64 (len(users),
    k). ``candidates``: a bool mask (n_items,) of the items a list may hold, as the
    evaluated models' lists were restricted."""
    from recsys.topk import topk_rows

    users = np.asarray(users, dtype=np.int64)
    pop = train.item_counts.astype(np.float64)
    scores = np.broadcast_to(pop, (users.size, train.n_items)).copy()
    if candidates is not None:
        scores[:, ~np.asarray(candidates, dtype=bool)] = -np.inf
    csr = train.csr
    for r, u in enumerate(users):
        scores[r, csr.indices[csr.indptr[u]:csr.indptr[u + 1]]] = -np.inf
    rec, _ = topk_rows(scores, k)
    return rec


def serendipity(recommended, relevant, expected) -> np.ndarray:
    """Share of each list that is both relevant and unexpected.

    ``serendipity(L_u) = |{i in L_u : i relevant to u, i not in PM_u}| / |L_u|``, where
    ``PM_u`` is a primitive, obvious recommender's list for the same user: here the
    popularity baseline (:func:`popularity_baseline`), after Murakami et al. 2008 and Ge et
    al. 2010 ("Beyond accuracy", RecSys). A model that only finds the popular relevant
    items scores 0.

    Parameters
    ----------
    recommended : int array (n_lists, k); ``-1`` pads.
    relevant : bool array or scipy sparse (n_lists, n_items)
        Row ``u``: the items relevant to list ``u``'s user (e.g. test items rated >= 4).
    expected : int array (n_lists, k_e); ``-1`` pads
        The baseline's lists, aligned with ``recommended``.

    Returns
    -------
    float64 (n_lists,): NaN for an empty list.
    """
    rel = sp.csr_matrix(relevant, dtype=bool)
    rec = _check_lists(recommended, rel.shape[1])
    exp = _check_lists(expected, rel.shape[1])
    if rel.shape[0] != rec.shape[0] or exp.shape[0] != rec.shape[0]:
        raise ValueError(f"recommended ({rec.shape[0]} lists), relevant ({rel.shape[0]} rows) "
                         f"and expected ({exp.shape[0]} lists) must align")
    n_items = rel.shape[1]
    a = _list_matrix(rec, n_items)
    e = _list_matrix(exp, n_items)
    good = a.multiply(rel).astype(np.float64) - a.multiply(rel).multiply(e)
    hits = np.asarray(good.sum(axis=1)).ravel()
    n = (rec >= 0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, hits / n, np.nan)


# ---------------------------------------------------------------------- calibration
def genre_distribution(genres) -> sp.csr_matrix:
    """``p(g | i)``: each item's genres share its mass equally (Steck 2018), float64 CSR
    (n_items, n_genres); an item without genres has an all-zero row."""
    g = _features(genres)
    if g.nnz and g.data.min() < 0:
        raise ValueError("genres must be non-negative (a multi-hot matrix)")
    sums = np.asarray(g.sum(axis=1)).ravel()
    return sp.diags(np.where(sums > 0, 1.0 / np.where(sums > 0, sums, 1.0), 0.0)) @ g


def calibration_kl(recommended, history, genres, alpha: float = 0.01) -> np.ndarray:
    """Miscalibration of each list: Steck's ``C_KL(p, q) = sum_g p(g|u) log(p(g|u) /
    q~(g|u))``.

    ``p(g|u)`` is the genre distribution of the user's history, ``q(g|u)`` that of the list
    (the mean of ``p(g|i)`` over their items, each item weighing 1; :func:`genre_distribution`),
    and ``q~ = (1 - alpha) q + alpha p`` Steck's smoothing, which keeps the divergence finite
    when the list misses a genre of the history (he uses alpha = 0.01). 0 is perfectly
    calibrated; larger is worse.

    Parameters
    ----------
    recommended : int array (n_lists, k); ``-1`` pads.
    history : bool array or scipy sparse (n_lists, n_items)
        Row ``u``: the items in the user's training history.
    genres : ndarray or scipy sparse (n_items, n_genres), multi-hot
        (:func:`recsys.features.genre_matrix`).
    alpha : float in (0, 1)

    Returns
    -------
    float64 (n_lists,): NaN where the history has no genre (p undefined).
    """
    if isinstance(alpha, bool) or not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
    pgi = genre_distribution(genres)
    hist = sp.csr_matrix(history, dtype=np.float64)
    rec = _check_lists(recommended, pgi.shape[0])
    if hist.shape != (rec.shape[0], pgi.shape[0]):
        raise ValueError(f"history must be ({rec.shape[0]}, {pgi.shape[0]}), got {hist.shape}")
    hist.data[:] = 1.0
    p = _rows_normalised((hist @ pgi).toarray())
    q = _rows_normalised((_list_matrix(rec, pgi.shape[0]) @ pgi).toarray())
    q = np.where(np.isnan(q), 0.0, q)  # a list without genres: q = 0, q~ = alpha p
    q_s = (1.0 - alpha) * q + alpha * np.where(np.isnan(p), 0.0, p)
    with np.errstate(invalid="ignore", divide="ignore"):
        terms = np.where(p > 0, p * np.log(p / q_s), 0.0)
    out = terms.sum(axis=1)
    return np.where(np.isnan(p).any(axis=1), np.nan, out)


def _rows_normalised(m: np.ndarray) -> np.ndarray:
    s = m.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(s > 0, m / s, np.nan)
