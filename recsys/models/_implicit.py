"""Pieces shared by the implicit-feedback models (:mod:`recsys.models.bpr`,
:mod:`recsys.models.ials`, :mod:`recsys.models.ease`): which ratings count as positives, and
the kernels' view of a CSR matrix. Scoring from latent factors is
:class:`recsys.models.factor.FactorModel`'s.
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


def positive_items(items: np.ndarray, ratings: np.ndarray, threshold: float | None
                   ) -> np.ndarray:
    """The unique items (int64, ascending) of a user's ``items`` that count as positives:
    all of them with ``threshold=None``, else those rated ``>= threshold`` (compared in
    float32, as :func:`positives_csr`)."""
    items = np.asarray(items, dtype=np.int64)
    if threshold is None:
        return np.unique(items)
    keep = np.asarray(ratings).astype(np.float32) >= np.float32(threshold)
    return np.unique(items[keep])
