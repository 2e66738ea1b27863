"""Alternating least squares for the biases-only model ``r_hat(u, i) = mu + b_u + b_i``.

Koren, "Factor in the neighbors: scalable and accurate collaborative filtering" (ACM TKDD
2010), section 2.1, minimises::

    sum_(u,i) (r_ui - mu - b_u - b_i)^2 + reg_user * sum_u b_u^2 + reg_item * sum_i b_i^2

With the user biases fixed, each item bias has the closed form::

    b_i = sum_{u in R(i)} (r_ui - mu - b_u) / (reg_item + |R(i)|)

and symmetrically for the users. Surprise's ``BaselineOnly(method='als')`` alternates the two
(items first) for ``n_epochs`` rounds; :func:`als_bias_update` is one half of a round. Sums
are taken in float64.
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def als_bias_update(indptr, other, ratings, mu, other_bias, reg, bias):
    """Closed-form update of every row's bias with the other side's biases held fixed.

    Parameters
    ----------
    indptr : int64 (n_rows + 1,)
        CSR row pointers of the ratings grouped by the side being updated (items for the
        item step, users for the user step).
    other : int32 (nnz,)
        The other side's index of each rating (users for the item step).
    ratings : float32 (nnz,)
    mu : float
        Global mean.
    other_bias : float64 (n_other,)
        The fixed biases of the other side.
    reg : float
        L2 regularization (>= 0).
    bias : float64 (n_rows,)
        Output, overwritten: ``sum(r - mu - other_bias) / (reg + count)``; 0 for a row
        without ratings.
    """
    for row in range(indptr.shape[0] - 1):
        lo = indptr[row]
        hi = indptr[row + 1]
        if hi == lo:
            bias[row] = 0.0
            continue
        s = 0.0
        for j in range(lo, hi):
            s += np.float64(ratings[j]) - mu - other_bias[other[j]]
        bias[row] = s / (reg + (hi - lo))
