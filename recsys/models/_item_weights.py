"""The scoring shared by the top-N models with a sparse item-item weight matrix (RP3beta,
SLIM): a user's score of item j is ``sum_i x_ui W[i, j]`` over the binary row ``x_u`` of
their positives, as EASE's with a sparse ``W``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.models._implicit import positive_items, positives_csr
from recsys.models.base import Recommender


class SparseItemWeights(Recommender):
    """Base of the models that learn a sparse item-item matrix ``W`` (no ``_fit`` here).

    ``W`` (n_items x n_items, CSR, float32) is stored as ``weights_indptr_`` (int64),
    ``weights_indices_`` (int32) and ``weights_data_`` (float32); row ``i`` holds what a
    positive ``i`` adds to the score of every item. A subclass's ``_fit`` calls
    :meth:`_set_weights` and sets ``threshold`` in ``__init__`` (which ratings are
    positives: None = all of them, else those ``>= threshold``).

    Scores: a known user ``x_u @ W``; an unknown user the mean training row ``mean(X) @ W``
    (as EASE); an unknown item 0; a new user the sum of the rows of their positives (no
    fold-in needed). :meth:`similar_items` of i is row ``W[i]``, the scores of a user whose
    only positive is i; :meth:`explain` lists the terms ``W[j, item]`` of the user's
    positives j, largest first.
    """

    capabilities = frozenset({"new_user", "similar_items", "explain"})

    predicts_ratings = False
    _fitted_arrays = ("weights_indptr_", "weights_indices_", "weights_data_")
    _array_shapes = {"weights_indptr_": ("items+1",), "weights_indices_": ("nnz",),
                     "weights_data_": ("nnz",)}

    threshold: float | None = None

    def _set_weights(self, W: sp.csr_matrix, positives: sp.csr_matrix) -> None:
        W = sp.csr_matrix(W)
        W.sort_indices()
        self.weights_indptr_ = np.ascontiguousarray(W.indptr, dtype=np.int64)
        self.weights_indices_ = np.ascontiguousarray(W.indices, dtype=np.int32)
        self.weights_data_ = np.ascontiguousarray(W.data, dtype=np.float32)
        self._cache = {"positives": positives, "weights": None, "by_target": None}

    def _cached(self, key: str):
        cache = self.__dict__.setdefault("_cache", {})
        if cache.get(key) is None:
            if key == "positives":
                cache[key] = positives_csr(self.seen_, self.threshold)
            elif key == "weights":
                cache[key] = sp.csr_matrix(
                    (self.weights_data_, self.weights_indices_, self.weights_indptr_),
                    shape=(self.n_items_, self.n_items_))
            else:  # by_target: W as CSC, for the terms behind one item's score
                cache[key] = self._cached("weights").tocsc()
        return cache[key]

    @property
    def weights_(self) -> sp.csr_matrix:
        """``W``, CSR (n_items, n_items) float32, column indices sorted within each row."""
        self._check_fitted()
        return self._cached("weights")

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        X = self._cached("positives")
        W = self._cached("weights")
        users = np.asarray(users, dtype=np.int64)
        scores = np.asarray((X[np.maximum(users, 0)] @ W).toarray(), dtype=np.float64)
        unknown = users < 0
        if unknown.any():
            mean_row = np.asarray(X.mean(axis=0), dtype=np.float64).ravel()
            scores[unknown] = W.T @ mean_row
        return scores

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        uniq, inverse = np.unique(users, return_inverse=True)
        scores = self._score_users(uniq)
        out = scores[inverse, np.maximum(items, 0)]
        out[items < 0] = 0.0
        return out

    def _score_new_user(self, items: np.ndarray, ratings: np.ndarray) -> np.ndarray:
        pos = positive_items(items, ratings, self.threshold)
        W = self._cached("weights")
        return np.asarray(W[pos].sum(axis=0), dtype=np.float64).ravel()

    def _similar_items(self, item: int) -> np.ndarray:
        W = self._cached("weights")
        out = np.zeros(self.n_items_)
        lo, hi = W.indptr[item], W.indptr[item + 1]
        out[W.indices[lo:hi]] = W.data[lo:hi]
        return out

    def _explain(self, user: int, item: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        if user < 0 or item < 0:
            return np.empty(0, np.int64), np.empty(0)
        X = self._cached("positives")
        items = X.indices[X.indptr[user]:X.indptr[user + 1]].astype(np.int64)
        col = self._cached("by_target")
        lo, hi = col.indptr[item], col.indptr[item + 1]
        terms = np.zeros(self.n_items_)
        terms[col.indices[lo:hi]] = col.data[lo:hi]
        contrib = terms[items]
        order = np.argsort(-contrib, kind="stable")[:n]
        return items[order], contrib[order]
