"""Neighbourhood models: :class:`ItemKNN` and :class:`UserKNN`.

Two ways to use a neighbourhood, chosen by ``aggregate``:

``aggregate="weighted"`` (rating prediction, the default)
    Surprise's KNNBasic / KNNWithMeans / KNNBaseline, by ``centering="none" | "mean" |
    "baseline"``: the estimate for (user u, item i) is a similarity-weighted average over the
    ``k`` nearest neighbours of the target *that rated it* (for ItemKNN: the ``k`` items most
    similar to ``i`` among those ``u`` rated; for UserKNN: the ``k`` users most similar to
    ``u`` among those who rated ``i``), of the neighbour's rating (``"none"``) or of its
    deviation from the neighbour's mean (``"mean"``) or baseline ``mu + b_u + b_i``
    (``"baseline"``, Koren 2010, eq. 3), added back to the target's mean / baseline. Only
    positive similarities count, as in Surprise.

``aggregate="sum"`` (top-N, Deshpande & Karypis, ACM TOIS 2004)
    Each item keeps its ``k`` most similar items (positive similarities only); the score of
    item ``i`` for user ``u`` is the sum of the similarities ``sim(j, i)`` over the items
    ``j`` the user rated whose ``k`` neighbours include ``i`` (UserKNN: the sum of
    ``sim(u, v)`` over the user's ``k`` nearest users ``v`` who rated ``i``). Scores are a
    ranking signal, not ratings: ``predicts_ratings`` is False and nothing is clipped.
    ``centering`` and ``min_k`` are unused; use ``similarity="cosine"`` for the classic
    model.

Fallbacks (documented as Surprise's): with fewer than ``max(min_k, 1)`` neighbours, or for an
unknown user or item, a weighted model predicts the baseline ``mu + b_u + b_i``
(``"baseline"``; an unknown side contributes no bias), the target's mean (``"mean"``:
the item mean for ItemKNN, the user mean for UserKNN; the global mean when that is unknown
too) or the global mean (``"none"``). A sum model scores 0.

An entity is never its own neighbour. (For a (user, item) pair of the training data,
Surprise counts the item itself, with similarity 1, among the neighbours; that replays the
rating being predicted and changes nothing for held-out pairs.)

The similarity (:func:`recsys.similarity.similarity`) is item-item over the
ratings by item for ItemKNN and user-user over the ratings by user for UserKNN. For
``"pearson_baseline"`` and ``centering="baseline"`` the biases come from
:class:`recsys.models.baseline.Baseline` (ALS, Surprise's defaults ``reg_user=15``,
``reg_item=10``, 10 epochs).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.kernels import knn as kernels
from recsys.similarity import METRICS, csr_arrays, similarity
from recsys.threads import numba_threads
from recsys.models.base import Recommender
from recsys.models.registry import register
from recsys.models.baseline import Baseline
from recsys.validation import check_choice, check_number

__all__ = ["ItemKNN", "UserKNN"]

_CENTERINGS = ("none", "mean", "baseline")
_AGGREGATES = ("weighted", "sum")


class _KNN(Recommender):
    """Shared machinery of the item- and user-based models (``x``: the compared entity)."""

    _fitted_arrays = ("similarity_indptr_", "similarity_indices_", "similarity_data_",
                      "user_offset_", "item_offset_")
    _array_shapes = {"similarity_indptr_": ("items+1",), "similarity_indices_": ("nnz",),
                     "similarity_data_": ("nnz",), "user_offset_": ("users",),
                     "item_offset_": ("items",)}
    _user_based: bool = False

    def __init__(self, k: int = 40, min_k: int = 1, similarity: str = "pearson_baseline",
                 centering: str = "baseline", aggregate: str = "weighted",
                 shrinkage: float | None = None, min_support: int = 1,
                 max_neighbors: int | None = None, baseline_reg_user: float = 15.0,
                 baseline_reg_item: float = 10.0, baseline_epochs: int = 10):
        self.k = k
        self.min_k = min_k
        self.similarity = similarity
        self.centering = centering
        self.aggregate = aggregate
        self.shrinkage = shrinkage
        self.min_support = min_support
        self.max_neighbors = max_neighbors
        self.baseline_reg_user = baseline_reg_user
        self.baseline_reg_item = baseline_reg_item
        self.baseline_epochs = baseline_epochs

    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        return self.aggregate != "sum"

    # ------------------------------------------------------------------ fitting
    def _check_params(self) -> None:
        check_number("k", self.k, 1, integer=True)
        check_number("min_k", self.min_k, 0, integer=True)
        check_number("min_support", self.min_support, 0, integer=True)
        if self.similarity not in METRICS:
            raise ValueError(f"unknown similarity {self.similarity!r}; known: {sorted(METRICS)}")
        check_choice("centering", self.centering, _CENTERINGS)
        check_choice("aggregate", self.aggregate, _AGGREGATES)
        if self.shrinkage is not None:
            check_number("shrinkage", self.shrinkage, 0.0)
        if self.max_neighbors is not None:
            check_number("max_neighbors", self.max_neighbors, 1, integer=True)
        check_number("baseline_reg_user", self.baseline_reg_user, 0.0)
        check_number("baseline_reg_item", self.baseline_reg_item, 0.0)
        check_number("baseline_epochs", self.baseline_epochs, 0, integer=True)

    def _fit(self, train: Dataset) -> None:
        self._check_params()
        mu = float(self.global_mean_)
        weighted = self.aggregate == "weighted"
        needs_bias = self.similarity == "pearson_baseline" or (
            weighted and self.centering == "baseline")
        bu = np.zeros(train.n_users)
        bi = np.zeros(train.n_items)
        if needs_bias:
            base = Baseline(method="als", reg_user=self.baseline_reg_user,
                            reg_item=self.baseline_reg_item,
                            n_epochs=self.baseline_epochs).fit(train)
            bu = base.user_bias_.astype(np.float64)
            bi = base.item_bias_.astype(np.float64)
        if self._user_based:
            matrix, bx, by = train.csr, bu, bi
        else:
            matrix, bx, by = train.csr_by_item, bi, bu
        keep = (self.max_neighbors if weighted else self.k)
        sims = similarity(matrix, self.similarity, k=keep, shrinkage=self.shrinkage,
                          min_support=self.min_support, baseline=(mu, bx, by),
                          positive_only=True)
        if not weighted and not self._user_based:
            # Item-based sum: score(u, i) = sum_j sim(j, i) over the user's items j whose
            # top-k holds i, i.e. row i of the transpose; keep it by descending similarity.
            sims = _by_value(sims.T.tocsr())
        self.similarity_indptr_, self.similarity_indices_, self.similarity_data_ = \
            csr_arrays(sims)

        zeros_u, zeros_i = np.zeros(train.n_users), np.zeros(train.n_items)
        if not weighted or self.centering == "none":
            self.user_offset_, self.item_offset_ = zeros_u, zeros_i
        elif self.centering == "baseline":
            self.user_offset_, self.item_offset_ = bu, bi
        elif self._user_based:
            self.user_offset_, self.item_offset_ = train.user_means - mu, zeros_i
        else:
            self.user_offset_, self.item_offset_ = zeros_u, train.item_means - mu

    # ------------------------------------------------------------------ helpers
    @property
    def _mode(self) -> int:
        if self.aggregate == "sum":
            return kernels.SUM
        return kernels.RAW if self.centering == "none" else kernels.CENTRED

    @property
    def _x_offset(self) -> np.ndarray:
        return np.asarray(self.user_offset_ if self._user_based else self.item_offset_,
                          dtype=np.float64)

    @property
    def _y_offset(self) -> np.ndarray:
        return np.asarray(self.item_offset_ if self._user_based else self.user_offset_,
                          dtype=np.float64)

    @property
    def similarity_(self) -> sp.csr_matrix:
        """The stored neighbour matrix, CSR float32, rows by descending similarity.

        ItemKNN: (n_items, n_items), row ``i`` = the neighbours of ``i`` (for
        ``aggregate="sum"``: the items ``j`` whose top-k holds ``i``, valued ``sim(j, i)``).
        UserKNN: (n_users, n_users).
        """
        n = self.n_users_ if self._user_based else self.n_items_
        m = sp.csr_matrix((self.similarity_data_, self.similarity_indices_,
                           self.similarity_indptr_), shape=(n, n))
        m.has_sorted_indices = False
        return m

    @cached_property
    def _ratings_by_item(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = self.seen_.T.tocsr()
        t.sort_indices()
        return csr_arrays(t)

    def _ratings_by_y(self):
        if self._user_based:
            return self._ratings_by_item
        return (self.seen_indptr_, self.seen_indices_, self.seen_ratings_)

    def _pairs(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        xs = np.ascontiguousarray(xs, dtype=np.int64)
        ys = np.ascontiguousarray(ys, dtype=np.int64)
        out = np.empty(len(xs), dtype=np.float64)
        order = np.argsort(ys, kind="stable")
        starts = np.flatnonzero(np.diff(ys[order])) + 1
        group_ptr = np.concatenate([[0], starts, [len(ys)]]).astype(np.int64)
        if not len(ys):
            return out
        with numba_threads(None) as threads:
            kernels.knn_predict_pairs(
                xs, ys, order, group_ptr, self.similarity_indptr_, self.similarity_indices_,
                self.similarity_data_, *self._ratings_by_y(), self._x_offset, self._y_offset,
                float(self.global_mean_), int(self.k), int(self.min_k), self._mode,
                max(1, min(len(group_ptr) - 1, threads)), out)
        return out

    def _seen_rows(self, users: np.ndarray, binary: bool = False) -> sp.csr_matrix:
        """Training rows of ``users`` (an empty row for -1), ratings or 1s."""
        rows = _gather_rows(self.seen_indptr_, self.seen_indices_, self.seen_ratings_, users,
                            self.n_items_)
        if binary:
            rows.data = np.ones_like(rows.data)
        return rows

    def _score(self, users, items):
        if self._user_based:
            return self._pairs(users, items)
        return self._pairs(items, users)

    def _neighbour_walk(self, x: int, y: int) -> tuple[np.ndarray, np.ndarray]:
        """The neighbours of x that rated y, in the order the kernels aggregate them, and
        each one's additive contribution to the estimate."""
        lo, hi = self.similarity_indptr_[x], self.similarity_indptr_[x + 1]
        nbrs = self.similarity_indices_[lo:hi].astype(np.int64)
        sims = self.similarity_data_[lo:hi].astype(np.float64)
        y_ptr, y_idx, y_val = self._ratings_by_y()
        rated_by = y_idx[y_ptr[y]:y_ptr[y + 1]]
        ratings = y_val[y_ptr[y]:y_ptr[y + 1]].astype(np.float64)
        pos = np.searchsorted(rated_by, nbrs)
        pos = np.minimum(pos, max(len(rated_by) - 1, 0))
        hit = (rated_by[pos] == nbrs) if len(rated_by) else np.zeros(len(nbrs), bool)
        nbrs, sims, r = nbrs[hit], sims[hit], ratings[pos[hit]]
        if self.aggregate == "sum":
            return nbrs, sims
        nbrs, sims, r = nbrs[: self.k], sims[: self.k], r[: self.k]
        if len(nbrs) < max(self.min_k, 1):
            return nbrs[:0], sims[:0]
        if self.centering == "none":
            contrib = sims * r
        else:
            base = self.global_mean_ + self._x_offset[nbrs] + self._y_offset[y]
            contrib = sims * (r - base)
        return nbrs, contrib / sims.sum()


def _gather_rows(indptr, indices, data, rows, n_cols) -> sp.csr_matrix:
    """CSR of the given rows of a CSR matrix (stored order kept); row -1 gives an empty row."""
    rows = np.asarray(rows, dtype=np.int64)
    known = rows >= 0
    safe = np.where(known, rows, 0)
    counts = np.where(known, indptr[safe + 1] - indptr[safe], 0)
    out_ptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(counts, out=out_ptr[1:])
    pos = np.repeat(indptr[safe] - out_ptr[:-1], counts) + np.arange(out_ptr[-1])
    out = sp.csr_matrix((data[pos], indices[pos], out_ptr), shape=(len(rows), n_cols))
    out.has_sorted_indices = False
    return out


def _by_value(m: sp.csr_matrix) -> sp.csr_matrix:
    """The same matrix with each row stored by descending value, ties by ascending column."""
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    order = np.lexsort((m.indices, -m.data, rows))
    out = sp.csr_matrix((m.data[order], m.indices[order], m.indptr), shape=m.shape)
    out.has_sorted_indices = False
    return out


@register
class ItemKNN(_KNN):
    """Item-based neighbourhood model (Sarwar et al. 2001; Surprise's KNN* with
    ``user_based=False``; Deshpande & Karypis 2004 with ``aggregate="sum"``).

    Parameters
    ----------
    k : int, default 40
        ``aggregate="weighted"``: neighbours aggregated per prediction (the ``k`` items most
        similar to the target among those the user rated). ``aggregate="sum"``: neighbours
        kept per item.
    min_k : int, default 1
        Fewest neighbours for a neighbourhood estimate; below it the fallback (module notes).
    similarity : str, default "pearson_baseline"
        A metric of :data:`recsys.similarity.METRICS`, item-item.
    centering : {"none", "mean", "baseline"}, default "baseline"
        KNNBasic, KNNWithMeans (item means) or KNNBaseline aggregation.
    aggregate : {"weighted", "sum"}, default "weighted"
        Rating prediction or the top-N sum of similarities.
    shrinkage : float or None
        Similarity shrinkage; None takes the metric's default (100 for pearson_baseline,
        else 0).
    min_support : int, default 1
        Fewest common users for two items to be neighbours.
    max_neighbors : int or None
        ``aggregate="weighted"``: keep only this many neighbours per item in the stored
        matrix (memory O(n_items * max_neighbors); an approximation, since the neighbours
        the user rated may lie beyond). None keeps every positive similarity, which is
        Surprise's exact rule.
    baseline_reg_user, baseline_reg_item, baseline_epochs
        ALS baselines (for ``pearson_baseline`` and ``centering="baseline"``).

    Attributes
    ----------
    similarity_indptr_, similarity_indices_, similarity_data_ : the neighbour matrix
        (see :attr:`similarity_`), int64 / int32 / float32.
    user_offset_, item_offset_ : float64 (n_users,), (n_items,)
        ``b(u, i) = mu + user_offset_[u] + item_offset_[i]`` is the baseline the neighbours'
        deviations are added to (biases, or item means minus mu, or zeros).
    """

    capabilities = frozenset({"new_user", "similar_items", "explain"})

    _user_based = False

    def _score_users(self, users):
        users = np.asarray(users, dtype=np.int64)
        if self.aggregate == "sum":
            return np.asarray((self._seen_rows(users, binary=True) @ self.similarity_.T)
                              .toarray(), dtype=np.float64)
        offset = np.where(users >= 0, self._y_offset[np.maximum(users, 0)], 0.0)
        return self._score_rating_rows(self._seen_rows(users), offset)

    def _score_rating_rows(self, rows: sp.csr_matrix, offset: np.ndarray) -> np.ndarray:
        out = np.empty((rows.shape[0], self.n_items_), dtype=np.float64)
        with numba_threads(None) as threads:
            kernels.knn_score_rows(
                *csr_arrays(rows), np.ascontiguousarray(offset, dtype=np.float64),
                self.similarity_indptr_, self.similarity_indices_, self.similarity_data_,
                self._x_offset, float(self.global_mean_), int(self.k), int(self.min_k),
                self._mode, max(1, min(rows.shape[0], threads)), out)
        return out

    def _score_new_user(self, items, ratings):
        """Scores from the similarities of the rated items, no retraining.

        Weighted: the kernel of :meth:`_score_users` on the new ratings; with baseline
        centering the new user's bias is folded in by one ALS step,
        ``sum(r - mu - b_i) / (baseline_reg_user + n)``. Sum: ``sum_j sim(j, .)``.
        """
        items = np.asarray(items, dtype=np.int64)
        ratings = np.asarray(ratings, dtype=np.float64)
        if self.aggregate == "sum":
            s = self.similarity_.T.tocsr()  # back to rows j -> their top-k
            return np.asarray(s[np.unique(items)].sum(axis=0), dtype=np.float64).ravel()
        order = np.argsort(items, kind="stable")
        items, ratings = items[order], ratings[order]
        if len(items) and (np.diff(items) == 0).any():
            raise ValueError(f"item {int(items[np.flatnonzero(np.diff(items) == 0)[0]])} is "
                             "rated twice")
        row = sp.csr_matrix((ratings.astype(np.float32), items.astype(np.int32),
                             np.array([0, len(items)])), shape=(1, self.n_items_))
        bias = 0.0
        if self.centering == "baseline" and len(items):
            resid = ratings - self.global_mean_ - self.item_offset_[items]
            bias = resid.sum() / (self.baseline_reg_user + len(items))
        return self._score_rating_rows(row, np.array([bias]))[0]

    def _similar_items(self, item):
        """Row ``item`` of the item-item similarity as stored (0 where not a neighbour)."""
        out = np.zeros(self.n_items_)
        if self.aggregate == "sum":
            col = self.similarity_[:, [item]].tocoo()  # stored transposed
            out[col.row] = col.data
            return out
        lo, hi = self.similarity_indptr_[item], self.similarity_indptr_[item + 1]
        out[self.similarity_indices_[lo:hi]] = self.similarity_data_[lo:hi]
        return out

    def _explain(self, user, item, n):
        """The user's rated items behind the score of ``item``, largest contribution first.

        The contribution of neighbour ``j`` is its additive share of the estimate:
        ``sim(i, j) (r_uj - b_uj) / sum sim`` (centred; ``sim r_uj / sum sim`` for "none"),
        or ``sim(j, i)`` for ``aggregate="sum"``. Empty for an unknown user or item or when
        the estimate is the fallback.
        """
        if user < 0 or item < 0:
            return np.empty(0, np.int64), np.empty(0)
        nbrs, contrib = self._neighbour_walk(item, user)
        order = np.argsort(-contrib, kind="stable")[:n]
        return nbrs[order], contrib[order]


@register
class UserKNN(_KNN):
    """User-based neighbourhood model (Surprise's KNN* with ``user_based=True``; the
    user-based top-N of Herlocker et al. with ``aggregate="sum"``).

    Parameters are those of :class:`ItemKNN` with users and items swapped: ``k`` users who
    rated the item are aggregated (``aggregate="sum"``: each user keeps ``k`` neighbours),
    ``centering="mean"`` uses user means, the similarity is user-user. Learned arrays as
    ItemKNN's, with a (n_users, n_users) neighbour matrix.

    Not available: :meth:`similar_items` (no item-item similarity), :meth:`explain` (the
    contributors are users, not items) and :meth:`recommend_new_user` (a new user's
    neighbours would need their similarity to every training user).
    """

    _user_based = True
    _array_shapes = {**_KNN._array_shapes, "similarity_indptr_": ("users+1",)}

    def _score_users(self, users):
        users = np.asarray(users, dtype=np.int64)
        if self.aggregate == "sum":
            rows = _gather_rows(self.similarity_indptr_, self.similarity_indices_,
                                self.similarity_data_, users, self.n_users_)
            return np.asarray((rows @ self._seen_rows(np.arange(self.n_users_), binary=True))
                              .toarray(), dtype=np.float64)
        out = np.empty((len(users), self.n_items_), dtype=np.float64)
        with numba_threads(None) as threads:
            kernels.knn_score_neighbors(
                np.ascontiguousarray(users), self.similarity_indptr_, self.similarity_indices_,
                self.similarity_data_, self.seen_indptr_, self.seen_indices_,
                self.seen_ratings_, self._x_offset, self._y_offset,
                float(self.global_mean_), int(self.k), int(self.min_k), self._mode,
                max(1, min(len(users), threads)), out)
        return out
