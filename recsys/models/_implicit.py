"""Pieces shared by the implicit-feedback models (:mod:`recsys.models.bpr`,
:mod:`recsys.models.ials`, :mod:`recsys.models.ease`): which ratings count as positives, and
scoring from latent factors.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def positives_csr(ratings: sp.csr_matrix, threshold: float | None) -> sp.csr_matrix:
    """The positive interactions as a binary CSR matrix (users x items).

    Parameters
    ----------
    ratings : csr_matrix, shape (n_users, n_items)
        Ratings with sorted column indices (``Dataset.csr`` or a model's ``seen_``).
    threshold : float or None
        None: every stored rating is a positive. Otherwise the ratings ``>= threshold``
        (compared in float32, the ratings' dtype, as :func:`recsys.preprocess.binarize`).

    Returns
    -------
    csr_matrix, float32 values 1.0, column indices sorted within each row.
    """
    m = ratings.tocsr()
    if threshold is None:
        keep = np.ones(m.nnz, dtype=bool)
    else:
        threshold = float(threshold)
        if not np.isfinite(threshold):
            raise ValueError(f"threshold must be finite or None, got {threshold!r}")
        keep = np.asarray(m.data) >= np.float32(threshold)
    rows = np.repeat(np.arange(m.shape[0]), np.diff(m.indptr))
    indptr = np.zeros(m.shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows[keep], minlength=m.shape[0]), out=indptr[1:])
    indices = np.ascontiguousarray(m.indices[keep], dtype=np.int32)
    out = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr),
                        shape=m.shape)
    out.has_sorted_indices = bool(m.has_sorted_indices)
    if not out.has_sorted_indices:
        out.sort_indices()
    return out


def csr_arrays(m: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' view of a CSR matrix: (int64 ``indptr``, int32 ``indices``)."""
    return (np.ascontiguousarray(m.indptr, dtype=np.int64),
            np.ascontiguousarray(m.indices, dtype=np.int32))


class LatentFactorScoring:
    """Scores ``b_i + p_u . q_i`` from ``user_factors_``, ``item_factors_`` and, where the
    model has one, ``item_bias_``.

    Fallbacks: an unknown user (index -1) is scored with the mean user factor, an unknown
    item with the mean item factor and mean item bias, so every score is finite.
    """

    def _item_bias_or_none(self):
        return getattr(self, "item_bias_", None)

    def _score(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        P = np.asarray(self.user_factors_, dtype=np.float64)
        Q = np.asarray(self.item_factors_, dtype=np.float64)
        p = np.where((users >= 0)[:, None], P[np.maximum(users, 0)], P.mean(axis=0))
        q = np.where((items >= 0)[:, None], Q[np.maximum(items, 0)], Q.mean(axis=0))
        scores = np.einsum("ij,ij->i", p, q)
        bias = self._item_bias_or_none()
        if bias is not None:
            b = np.asarray(bias, dtype=np.float64)
            scores += np.where(items >= 0, b[np.maximum(items, 0)], b.mean())
        return scores

    def _score_users(self, users: np.ndarray) -> np.ndarray:
        P = self.user_factors_
        p = P[np.maximum(users, 0)]
        if (users < 0).any():
            p = p.copy()
            p[users < 0] = P.mean(axis=0)
        scores = p @ self.item_factors_.T
        bias = self._item_bias_or_none()
        if bias is not None:
            scores += bias[None, :]
        return scores

    def _similar_items(self, item: int) -> np.ndarray:
        # Cosine of the item factors (biases left out: they are popularity, not taste).
        Q = np.asarray(self.item_factors_, dtype=np.float64)
        norms = np.linalg.norm(Q, axis=1)
        dots = Q @ Q[item]
        with np.errstate(invalid="ignore", divide="ignore"):
            sims = dots / (norms * norms[item])
        sims[~np.isfinite(sims)] = 0.0
        return sims
