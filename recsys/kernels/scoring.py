"""Biased matrix-factorisation scores and their clipped squared error, for every rating model.

The score of a (user, item) pair (Koren, Bell & Volinsky, IEEE Computer 2009, eq. 4)::

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i

An index of -1 marks an unknown user or item: its bias and the dot product are left out, so
an unknown user scores ``mu + b_i``, an unknown item ``mu + b_u``, and both ``mu``.

The one error kernel, :func:`clipped_sse`, serves every model that reports a per-epoch RMSE:

- FunkSVD and ALS pass their factors and biases as they are (zeros for a model without
  biases);
- SVD++ passes ``p_u + z_u`` (its implicit term, :func:`recsys.kernels.svdpp.implicit_sums`)
  as the user factors;
- the biases-only model passes factor arrays with no columns (:func:`bias_rmse`).

The sum runs over fixed chunks of :data:`_CHUNK` ratings whose partial sums are added in
chunk order, on one thread for small inputs and in parallel for large ones (the choice
depends on the sizes alone), so the result is the same on any number of threads. Compiled
with ``fastmath={"reassoc", "contract"}`` (the dot product vectorises) but without the
``nnan`` flag, so a diverged model's NaN prediction gives a NaN error, as it should.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: Ratings per partial sum of :func:`clipped_sse`.
_CHUNK = 4096
#: Multiply-adds (``n * (k + 1)``) from which :func:`clipped_sse` runs its chunks in parallel.
_PARALLEL_MIN_WORK = 1 << 22


@nb.njit(cache=True, inline="always")
def biased_score(u, i, mu, user_factors, item_factors, user_bias, item_bias):
    """``mu + b_u + b_i + p_u . q_i`` (float64) with -1 for an unknown side (module notes).

    The dot product accumulates in the factors' dtype; the sum of the terms in float64.
    """
    s = np.float64(mu)
    if u >= 0:
        s += user_bias[u]
    if i >= 0:
        s += item_bias[i]
    if u >= 0 and i >= 0:
        pu = user_factors[u]
        qi = item_factors[i]
        dot = np.float32(0.0)  # unifies to the factors' dtype
        for f in range(pu.shape[0]):
            dot += pu[f] * qi[f]
        s += dot
    return s


@nb.njit(cache=True, fastmath=True)
def mf_score_pairs(users, items, mu, user_factors, item_factors, user_bias, item_bias, out):
    """Scores of (user, item) pairs into ``out`` (float64 (n,)), by :func:`biased_score`.

    users, items : int (n,), -1 for unknown; user_factors, item_factors : float
    (n_users, k), (n_items, k); user_bias, item_bias : (n_users,), (n_items,); mu : float.
    """
    for j in range(users.shape[0]):
        out[j] = biased_score(users[j], items[j], mu, user_factors, item_factors, user_bias,
                              item_bias)


@nb.njit(cache=True, inline="always")
def _sse_chunk(c, users, items, ratings, mu, user_factors, item_factors, user_bias,
               item_bias, low, high):
    # Sum of squared clipped errors of the ratings in chunk c, in index order.
    lo = c * _CHUNK
    hi = min(lo + _CHUNK, users.shape[0])
    sse = 0.0
    for j in range(lo, hi):
        s = biased_score(users[j], items[j], mu, user_factors, item_factors, user_bias,
                         item_bias)
        e = np.float64(ratings[j]) - min(max(s, low), high)
        sse += e * e
    return sse


@nb.njit(cache=True, parallel=True, fastmath={"reassoc", "contract"})
def _sse_chunks_parallel(users, items, ratings, mu, user_factors, item_factors, user_bias,
                         item_bias, low, high, partial):
    for c in nb.prange(partial.shape[0]):
        partial[c] = _sse_chunk(c, users, items, ratings, mu, user_factors, item_factors,
                                user_bias, item_bias, low, high)


@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def clipped_sse(users, items, ratings, mu, user_factors, item_factors, user_bias, item_bias,
                low, high):
    """Sum of squared errors (float64) of :func:`biased_score` clipped to ``[low, high]``.

    Parameters
    ----------
    users, items : int32 or int64 (n,)
        Indices into the parameter arrays; -1 for an unknown user or item.
    ratings : float32 or float64 (n,)
    mu : float
    user_factors, item_factors : float (n_users, k), (n_items, k), one dtype; ``k`` may be 0.
    user_bias, item_bias : float (n_users,), (n_items,)
        Zeros for a model without biases.
    low, high : float
        The rating scale predictions are clipped to.

    Returns
    -------
    float64
        0 without ratings. The same number on any thread count (module notes).
    """
    n = users.shape[0]
    n_chunks = (n + _CHUNK - 1) // _CHUNK
    partial = np.empty(n_chunks, dtype=np.float64)
    if n * (user_factors.shape[1] + 1) >= _PARALLEL_MIN_WORK:
        _sse_chunks_parallel(users, items, ratings, mu, user_factors, item_factors,
                             user_bias, item_bias, low, high, partial)
    else:
        for c in range(n_chunks):
            partial[c] = _sse_chunk(c, users, items, ratings, mu, user_factors, item_factors,
                                    user_bias, item_bias, low, high)
    total = 0.0
    for c in range(n_chunks):
        total += partial[c]
    return total


@nb.njit(cache=True)
def clipped_rmse(users, items, ratings, mu, user_factors, item_factors, user_bias, item_bias,
                 low, high):
    """``sqrt(clipped_sse / n)`` (float64), NaN when there are no ratings; arguments as
    :func:`clipped_sse`."""
    n = users.shape[0]
    if n == 0:
        return np.nan
    return np.sqrt(clipped_sse(users, items, ratings, mu, user_factors, item_factors,
                               user_bias, item_bias, low, high) / n)


@nb.njit(cache=True)
def bias_rmse(users, items, ratings, mu, user_bias, item_bias, low, high):
    """:func:`clipped_rmse` of the biases-only model ``mu + b_u + b_i`` (-1 = unknown).

    user_bias, item_bias : float (n_users,), (n_items,). NaN without ratings.
    """
    no_user_factors = np.zeros((user_bias.shape[0], 0), dtype=user_bias.dtype)
    no_item_factors = np.zeros((item_bias.shape[0], 0), dtype=user_bias.dtype)
    return clipped_rmse(users, items, ratings, mu, no_user_factors, no_item_factors,
                        user_bias, item_bias, low, high)
