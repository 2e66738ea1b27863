"""RP3beta: a three-step random walk on the user-item graph, re-ranked by popularity.

Paudel, Christoffel, Newell and Bernstein, "Updatable, Accurate, Diverse, and Scalable
Recommendations for Interactive Applications", ACM TiiS 7(1), 2017; the item-item form and
its defaults as in the reference implementation of Dacrema, Cremonesi and Jannach, "Are We
Really Making Much Progress?", RecSys 2019 (``RP3betaRecommender``).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from recsys.dataset import Dataset
from recsys.kernels import rp3beta as kernels
from recsys.models._implicit import csr_arrays, positives_csr
from recsys.models._item_weights import SparseItemWeights
from recsys.models.registry import register
from recsys.threads import numba_threads, threads_for
from recsys.validation import check_number

__all__ = ["RP3beta", "rp3beta_weights"]


@register
class RP3beta(SparseItemWeights):
    """Item-item weights from the random walk user -> item -> user -> item.

    With ``X`` the binary users x items matrix of positives, ``P_ui`` its rows normalised to
    sum to 1 (user -> item transition probabilities) and ``P_iu`` the same for ``X^T``
    (item -> user), the weight of a positive i towards item j is::

        W[i, j] = (P_iu^alpha P_ui^alpha)[i, j] / pop(j)^beta        (j != i)
                = |U_i|^-alpha |U_j|^-beta sum_{u in U_i & U_j} |I_u|^-alpha

    (powers elementwise; ``U_i`` the users with positive i, ``I_u`` the positives of u,
    ``pop(j) = |U_j|``). Each row keeps its ``k`` largest weights; ``normalize`` then
    scales each row to sum to 1. A user's score of j is ``sum_{i in I_u} W[i, j]``; with
    ``alpha = 1``, ``beta = 0`` and no cut that is the probability of reaching j in three
    steps from the user (P^3, Cooper et al., WWW 2014) times ``|I_u|``. ``alpha`` sharpens
    or flattens the walk, ``beta`` penalises popular destinations (Paudel et al.).

    The weights are computed row by row (:mod:`recsys.kernels.rp3beta`), in parallel over
    rows, without forming the n_items^2 matrix; the result does not depend on the thread
    count.

    Parameters
    ----------
    alpha : float, default 1.0
        Exponent of the transition probabilities (> 0).
    beta : float, default 0.6
        Exponent of the popularity penalty (>= 0; 0 is P^3_alpha).
    k : int, default 100
        Weights kept per source item.
    threshold : float or None
        Which ratings are positives: None = every rating, else the ratings ``>= threshold``.
    normalize : bool, default False
        Scale each row of ``W`` to sum to 1 after the top-k.

    Attributes
    ----------
    weights_indptr_, weights_indices_, weights_data_
        ``W`` as CSR (see :attr:`weights_`).

    Notes
    -----
    Scoring, unknown users and items, new users, :meth:`similar_items` (row ``W[i]``) and
    :meth:`explain` (the terms ``W[j, item]``) are
    :class:`~recsys.models._item_weights.SparseItemWeights`'.
    """

    def __init__(self, alpha: float = 1.0, beta: float = 0.6, k: int = 100,
                 threshold: float | None = None, normalize: bool = False):
        self.alpha = alpha
        self.beta = beta
        self.k = k
        self.threshold = threshold
        self.normalize = normalize

    def _fit(self, train: Dataset) -> None:
        check_number("alpha", self.alpha, 0.0, strict=True)
        check_number("beta", self.beta, 0.0)
        check_number("k", self.k, 1, integer=True)
        if self.threshold is not None:
            check_number("threshold", self.threshold, -np.inf)
        if not isinstance(self.normalize, (bool, np.bool_)):
            raise ValueError(f"normalize must be True or False, got {self.normalize!r}")
        X = positives_csr(train.csr, self.threshold)
        W = rp3beta_weights(X, float(self.alpha), float(self.beta), int(self.k),
                            bool(self.normalize))
        self._set_weights(W, X)


def rp3beta_weights(X: sp.csr_matrix, alpha: float, beta: float, k: int,
                    normalize: bool = False, num_threads: int | None = None
                    ) -> sp.csr_matrix:
    """RP3beta's ``W`` (see :class:`RP3beta`) for a binary users x items matrix.

    Parameters
    ----------
    X : csr_matrix, shape (n_users, n_items)
        Positives, values 1 (as :func:`recsys.models._implicit.positives_csr` makes them).
    alpha, beta : float
        ``alpha > 0``, ``beta >= 0``.
    k : int
        Weights kept per row.
    normalize : bool
        Scale each row to sum to 1 after the top-k.
    num_threads : int, optional
        Numba threads (restored afterwards); None: :func:`recsys.threads.threads_for` of
        the work, ``sum_u |I_u|^2`` multiply-adds. Results do not depend on it.

    Returns
    -------
    csr_matrix (n_items, n_items), float32, positive entries only, column indices sorted.
    """
    X = sp.csr_matrix(X)
    n_users, n_items = X.shape
    user_deg = np.diff(X.indptr).astype(np.float64)
    item_deg = np.bincount(X.indices, minlength=n_items).astype(np.float64)
    # P_ui^alpha = |I_u|^-alpha on row u; P_iu^alpha = |U_i|^-alpha on row i of X^T.
    b_data = np.repeat(user_deg, np.diff(X.indptr)) ** -alpha
    xt = X.T.tocsr()
    xt.sort_indices()
    a_data = np.repeat(item_deg, np.diff(xt.indptr)) ** -alpha
    col_scale = np.zeros(n_items)
    has = item_deg > 0
    col_scale[has] = item_deg[has] ** -beta
    kk = max(1, min(int(k), n_items))
    out_idx = np.empty((n_items, kk), dtype=np.int32)
    out_val = np.empty((n_items, kk), dtype=np.float32)
    if num_threads is None:
        num_threads = threads_for(float(np.sum(user_deg ** 2)))
    with numba_threads(num_threads) as threads:
        kernels.product_topk_kernel(
            *csr_arrays(xt), a_data.astype(np.float32), *csr_arrays(X),
            b_data.astype(np.float32), col_scale, max(1, min(n_items, threads)), out_idx,
            out_val)
    keep = out_idx >= 0
    indptr = np.zeros(n_items + 1, dtype=np.int64)
    np.cumsum(keep.sum(axis=1), out=indptr[1:])
    W = sp.csr_matrix((out_val[keep], out_idx[keep], indptr), shape=(n_items, n_items))
    W.sort_indices()
    if normalize:
        sums = np.asarray(W.sum(axis=1), dtype=np.float64).ravel()
        scale = np.divide(1.0, sums, out=np.zeros(n_items), where=sums > 0)
        W = sp.csr_matrix(sp.diags(scale) @ W, dtype=np.float32)
        W.sort_indices()
    return W
