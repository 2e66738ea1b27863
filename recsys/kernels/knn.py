"""Neighbourhood aggregation kernels for :mod:`recsys.models.knn`.

Notation (Surprise's ``SymmetricAlgo``): ``x`` is the entity the similarity is between (the
item for item-based models, the user for user-based ones) and ``y`` the other one. A
prediction for ``(x, y)`` aggregates over the neighbours ``x2`` of ``x`` that have a rating
``r`` for ``y``, taking the ``k`` most similar of them (Surprise's ``N^k_y(x)``):

- ``centred`` (KNNWithMeans / KNNBaseline)::

      r_hat = b(x, y) + sum sim(x, x2) (r(x2, y) - b(x2, y)) / sum sim(x, x2)

  with ``b(x, y) = mu + x_offset[x] + y_offset[y]`` (means: ``x_offset = mean_x - mu`` and
  ``y_offset = 0``; baselines: the biases ``b_x`` and ``b_y``; Koren 2010, eq. 3);
- ``raw`` (KNNBasic): ``r_hat = sum sim r / sum sim``;
- ``sum`` (top-N, Deshpande & Karypis 2004): ``score = sum sim`` over every stored
  neighbour (the rows are already pruned to k), 0 without any.

With fewer than ``max(min_k, 1)`` neighbours the estimate falls back to ``b(x, y)`` (centred)
or ``mu`` (raw), as Surprise; an unknown ``x`` or ``y`` (index -1) contributes 0 offset.

The similarity rows are CSR (int64 indptr, int32 indices, float32 data) holding only positive
similarities, **stored by descending similarity**, so walking a row and stopping at the
``k``-th neighbour that rated ``y`` finds exactly the ``k`` nearest (ties: the smaller
index first). All kernels accumulate in the same order, so the pair kernel and the batched
kernels give the same floats. Ratings are looked up through a dense per-thread array of
the target's ratings (NaN = not rated), filled and cleared once per target.
"""

from __future__ import annotations

import numba as nb
import numpy as np

RAW = 0
CENTRED = 1
SUM = 2


@nb.njit(cache=True, inline="always")
def _term(sim, r, base_nb, mode):
    if mode == CENTRED:
        return sim * (r - base_nb)
    return sim * r


@nb.njit(cache=True, inline="always")
def _estimate(num, den, cnt, base, mu, min_k, mode):
    if mode == SUM:
        return den
    if cnt >= min_k and cnt > 0:
        if mode == CENTRED:
            return base + num / den
        return num / den
    if mode == CENTRED:
        return base
    return mu


@nb.njit(cache=True, inline="always")
def _aggregate(x, s_indptr, s_indices, s_data, rated, x_offset, mu, yo, k, mode):
    # Walk x's neighbours by descending similarity; those with a rating in `rated` (NaN:
    # none) add to the sums, up to k of them (all in SUM mode). Returns (num, den, cnt).
    num = 0.0
    den = 0.0
    cnt = 0
    for q in range(s_indptr[x], s_indptr[x + 1]):
        x2 = s_indices[q]
        r = rated[x2]
        if r != r:
            continue
        sim = np.float64(s_data[q])
        num += _term(sim, r, mu + x_offset[x2] + yo, mode)
        den += sim
        cnt += 1
        if cnt == k and mode != SUM:
            break
    return num, den, cnt


@nb.njit(cache=True, parallel=True)
def knn_predict_pairs(xs, ys, order, group_ptr, s_indptr, s_indices, s_data, y_indptr,
                      y_indices, y_ratings, x_offset, y_offset, mu, k, min_k, mode, n_chunks,
                      out):
    """Estimates for (x, y) pairs, processed in groups of equal ``y``.

    Parameters
    ----------
    xs, ys : int64 (n,)
        Pairs; -1 marks an unknown entity.
    order : int64 (n,)
        A permutation of the pairs sorting them by ``y``.
    group_ptr : int64 (n_groups + 1,)
        ``order[group_ptr[g]:group_ptr[g + 1]]`` are the pairs of the g-th distinct ``y``.
    s_indptr, s_indices, s_data : the similarity rows of the x entities (see module notes).
    y_indptr, y_indices, y_ratings : int64, int32, float32
        CSR of the ratings by y: row ``y`` lists the x entities that rated it and their
        ratings; scattered into a dense lookup once per group.
    x_offset, y_offset : float64 (n_x,), (n_y,)
    mu : float
    k, min_k : int
        Neighbours aggregated at most / at least (k is ignored in ``SUM`` mode).
    mode : int
        ``RAW``, ``CENTRED`` or ``SUM``.
    n_chunks : int
        Strided chunks of groups, one lookup buffer each.
    out : float64 (n,)
    """
    n_groups = group_ptr.shape[0] - 1
    n_x = x_offset.shape[0]
    for ch in nb.prange(n_chunks):
        rated = np.full(n_x, np.nan)
        for g in range(ch, n_groups, n_chunks):
            y = ys[order[group_ptr[g]]]
            if y >= 0:
                for p in range(y_indptr[y], y_indptr[y + 1]):
                    rated[y_indices[p]] = y_ratings[p]
                yo = y_offset[y]
            else:
                yo = 0.0
            for t in range(group_ptr[g], group_ptr[g + 1]):
                pair = order[t]
                x = xs[pair]
                num = 0.0
                den = 0.0
                cnt = 0
                if x >= 0:
                    base = mu + x_offset[x] + yo
                    if y >= 0:
                        num, den, cnt = _aggregate(x, s_indptr, s_indices, s_data, rated,
                                                   x_offset, mu, yo, k, mode)
                else:
                    base = mu + 0.0 + yo
                out[pair] = _estimate(num, den, cnt, base, mu, min_k, mode)
            if y >= 0:
                for p in range(y_indptr[y], y_indptr[y + 1]):
                    rated[y_indices[p]] = np.nan


@nb.njit(cache=True, parallel=True)
def knn_score_rows(r_indptr, r_indices, r_ratings, r_offset, s_indptr, s_indices, s_data,
                   x_offset, mu, k, min_k, mode, n_chunks, out):
    """Estimates of every x for each of some y entities given by their rating rows.

    Used by item-based models to score all items for a batch of users (or a new user).

    Parameters
    ----------
    r_indptr, r_indices, r_ratings : int64, int32, float32
        CSR (n_rows, n_x): row ``j`` holds the x entities rated by the j-th y entity.
    r_offset : float64 (n_rows,)
        ``y_offset`` of each y entity (0 for an unknown one).
    s_indptr, s_indices, s_data, x_offset, mu, k, min_k, mode : as :func:`knn_predict_pairs`.
    n_chunks : int
        Strided chunks of rows, one lookup buffer each.
    out : float64 (n_rows, n_x)
    """
    n_rows = r_indptr.shape[0] - 1
    n_x = out.shape[1]
    for ch in nb.prange(n_chunks):
        rated = np.full(n_x, np.nan)
        for j in range(ch, n_rows, n_chunks):
            for p in range(r_indptr[j], r_indptr[j + 1]):
                rated[r_indices[p]] = r_ratings[p]
            yo = r_offset[j]
            for x in range(n_x):
                num, den, cnt = _aggregate(x, s_indptr, s_indices, s_data, rated, x_offset, mu,
                                           yo, k, mode)
                out[j, x] = _estimate(num, den, cnt, mu + x_offset[x] + yo, mu, min_k, mode)
            for p in range(r_indptr[j], r_indptr[j + 1]):
                rated[r_indices[p]] = np.nan


@nb.njit(cache=True, parallel=True)
def knn_score_neighbors(xs, s_indptr, s_indices, s_data, x_indptr, x_indices, x_ratings,
                        x_offset, y_offset, mu, k, min_k, mode, n_chunks, out):
    """Estimates of every y for some x entities, spreading each neighbour's ratings.

    Used by user-based models to score all items for a batch of users: walking the
    neighbours of ``x`` by descending similarity and adding each one's ratings to the items
    that have fewer than ``k`` contributions yet gives every item its ``k`` nearest raters.

    Parameters
    ----------
    xs : int64 (n_rows,); -1 for an unknown x.
    x_indptr, x_indices, x_ratings : int64, int32, float32
        CSR (n_x, n_y) of the ratings by x.
    out : float64 (n_rows, n_y)
    Others as :func:`knn_predict_pairs`.
    """
    n_rows = xs.shape[0]
    n_y = out.shape[1]
    for ch in nb.prange(n_chunks):
        num = np.zeros(n_y)
        den = np.zeros(n_y)
        cnt = np.zeros(n_y, dtype=np.int64)
        for j in range(ch, n_rows, n_chunks):
            x = xs[j]
            if x >= 0:
                for q in range(s_indptr[x], s_indptr[x + 1]):
                    x2 = s_indices[q]
                    sim = np.float64(s_data[q])
                    base_x2 = mu + x_offset[x2]
                    for p in range(x_indptr[x2], x_indptr[x2 + 1]):
                        y = x_indices[p]
                        if cnt[y] == k and mode != SUM:
                            continue
                        num[y] += _term(sim, np.float64(x_ratings[p]), base_x2 + y_offset[y],
                                        mode)
                        den[y] += sim
                        cnt[y] += 1
                xo = x_offset[x]
            else:
                xo = 0.0
            for y in range(n_y):
                out[j, y] = _estimate(num[y], den[y], cnt[y], mu + xo + y_offset[y], mu, min_k,
                                      mode)
                num[y] = 0.0
                den[y] = 0.0
                cnt[y] = 0
