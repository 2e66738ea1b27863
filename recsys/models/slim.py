"""SLIM: sparse linear item-item weights, one non-negative ElasticNet per item.

Ning and Karypis, "SLIM: Sparse Linear Methods for Top-N Recommender Systems", ICDM 2011;
the ElasticNet form, its scaling and defaults as in the reference implementation of
Dacrema, Cremonesi and Jannach, RecSys 2019 (``SLIMElasticNetRecommender``, scikit-learn's
``ElasticNet(positive=True, fit_intercept=False)`` per item).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.kernels import slim as kernels
from recsys.models._implicit import positives_csr
from recsys.models._item_weights import SparseItemWeights
from recsys.models.registry import register
from recsys.threads import numba_threads, threads_for
from recsys.validation import check_number

__all__ = ["SLIM", "slim_weights"]


@register
class SLIM(SparseItemWeights):
    """Sparse linear model: ``x_u @ W`` with non-negative, sparse ``W`` and ``diag(W) = 0``.

    Column ``w_j`` of ``W`` solves scikit-learn's ElasticNet (``positive=True``,
    ``fit_intercept=False``) of the binary column ``x_j`` of the users x items matrix of
    positives ``X`` on the other columns::

        min_{w >= 0, w_j = 0}  1/(2 n_users) ||x_j - X w||^2
                               + alpha l1_ratio ||w||_1 + alpha (1 - l1_ratio)/2 ||w||^2

    (Ning and Karypis 2011, eq. 3, with their beta = ``n_users alpha (1 - l1_ratio)`` and
    lambda = ``n_users alpha l1_ratio``), by coordinate descent on the Gram matrix
    ``G = X^T X`` (:mod:`recsys.kernels.slim`), in parallel over the item columns; the
    result does not depend on the thread count. Each column keeps its ``k`` largest
    weights. ``G`` is held dense in float32 (exact: its entries are counts), 4 n_items^2
    bytes.

    Parameters
    ----------
    alpha : float, default 1.0
        Overall penalty (> 0), scikit-learn's ``alpha``.
    l1_ratio : float, default 0.1
        Share of the L1 penalty, in [0, 1]; with 1, ``alpha`` must keep the problem well
        posed alone (the solution is then unique only where the lasso's is).
    k : int, default 100
        Weights kept per item column (the largest).
    threshold : float or None
        Which ratings are positives: None = every rating, else the ratings ``>= threshold``.
    max_iter : int, default 100
        Most coordinate-descent sweeps per column.
    tol : float, default 1e-4
        A column stops when a full sweep changes no weight by more than ``tol`` times the
        largest weight and activates no new one.

    Attributes
    ----------
    weights_indptr_, weights_indices_, weights_data_
        ``W`` as CSR (see :attr:`weights_`): row i holds the weights of item i in every
        column.
    sweeps_ : int64 ndarray (n_items,)
        Sweeps each column took in the last fit (``max_iter``: stopped before converging);
        not saved.

    Notes
    -----
    Scoring, unknown users and items, new users, :meth:`similar_items` (row ``W[i]``) and
    :meth:`explain` (the terms ``W[j, item]``) are
    :class:`~recsys.models._item_weights.SparseItemWeights`'.
    """

    def __init__(self, alpha: float = 1.0, l1_ratio: float = 0.1, k: int = 100,
                 threshold: float | None = None, max_iter: int = 100, tol: float = 1e-4):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.k = k
        self.threshold = threshold
        self.max_iter = max_iter
        self.tol = tol

    def _fit(self, train: Dataset) -> None:
        check_number("alpha", self.alpha, 0.0, strict=True)
        check_number("l1_ratio", self.l1_ratio, 0.0, high=1.0)
        check_number("k", self.k, 1, integer=True)
        check_number("max_iter", self.max_iter, 1, integer=True)
        check_number("tol", self.tol, 0.0)
        if self.threshold is not None:
            check_number("threshold", self.threshold, -np.inf)
        X = positives_csr(train.csr, self.threshold)
        W, self.sweeps_ = slim_weights(X, float(self.alpha), float(self.l1_ratio),
                                       int(self.k), int(self.max_iter), float(self.tol))
        self._set_weights(W, X)


def slim_weights(X: sp.csr_matrix, alpha: float, l1_ratio: float, k: int,
                 max_iter: int = 100, tol: float = 1e-4, num_threads: int | None = None
                 ) -> tuple[sp.csr_matrix, np.ndarray]:
    """SLIM's ``W`` (see :class:`SLIM`) for a users x items matrix.

    Parameters
    ----------
    X : sparse matrix, shape (n_users, n_items)
        Usually binary; its Gram matrix ``X^T X`` is formed dense in float32 (for other
        values, rounded there).
    alpha, l1_ratio : float
        scikit-learn's ElasticNet penalty (the objective is divided by ``n_users``).
    k : int
        Weights kept per column.
    max_iter, tol
        Sweeps per column and stopping tolerance (see :class:`SLIM`).
    num_threads : int, optional
        Numba threads (restored afterwards); None: :func:`recsys.threads.threads_for` of
        ``n_items^2`` (the first sweep's work). Results do not depend on it.

    Returns
    -------
    W : csr_matrix (n_items, n_items), float32, positive entries, column indices sorted;
        column j holds the at most k largest weights of item j's regression.
    sweeps : int64 ndarray (n_items,), sweeps per column.
    """
    # float32 throughout: a binary X's Gram entries are counts, exact below 2**24 users,
    # and the dense Gram is the memory peak (4 n_items^2 bytes).
    X = sp.csr_matrix(X, dtype=np.float32)
    n_users, n_items = X.shape
    G = np.ascontiguousarray((X.T @ X).toarray(), dtype=np.float32)
    if not np.isfinite(G).all():
        raise ValueError("SLIM: X^T X has non-finite entries; the interactions must be finite")
    l1 = alpha * l1_ratio * n_users
    l2 = alpha * (1.0 - l1_ratio) * n_users
    kk = max(1, min(int(k), n_items))
    out_idx = np.empty((n_items, kk), dtype=np.int32)
    out_val = np.empty((n_items, kk), dtype=np.float32)
    sweeps = np.zeros(n_items, dtype=np.int64)
    if num_threads is None:
        num_threads = threads_for(float(n_items) ** 2)
    with numba_threads(num_threads) as threads:
        kernels.slim_kernel(G, float(l1), float(l2), int(max_iter), float(tol),
                            max(1, min(n_items, threads)), out_idx, out_val, sweeps)
    keep = out_idx >= 0
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=indptr[1:])
    # Row j of the kernel's output is column j of W.
    Wt = sp.csr_matrix((out_val[keep], out_idx[keep], indptr), shape=(n_items, n_items))
    W = Wt.T.tocsr()
    W.sort_indices()
    return W, sweeps
