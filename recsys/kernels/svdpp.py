"""SVD++ training kernels: SGD over ratings grouped by user, with a cached implicit term.

The model (Koren 2008, "Factorization meets the neighborhood", eq. 15)::

    r_hat(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^-1/2 * sum_{j in N(u)} y_j)

where ``N(u)`` is the set of items ``u`` rated in training. The SGD step for one rating
``(u, i, r)`` with error ``e = r - r_hat(u, i)`` and implicit term ``z_u`` is (Koren 2008,
section 4; the same step Surprise's ``SVDpp`` takes)::

    b_u += lr * (e - reg_bias * b_u)
    b_i += lr * (e - reg_bias * b_i)
    p_u += lr * (e * q_i - reg_factors * p_u)
    q_i += lr * (e * (p_u + z_u) - reg_factors * q_i)                (old p_u)
    y_j += lr * (e * |N(u)|^-1/2 * q_i - reg_implicit * y_j)  for every j in N(u)  (old q_i)

Done literally (as Surprise does) every rating costs ``O(|N(u)| k)``: the sum ``z_u`` is rebuilt
from all ``y_j`` and then every ``y_j`` is written. Here each user's ratings are processed
together, and both costs move to once per user per epoch:

- ``z_u`` is computed once when the user's turn starts. Because the ``y_j`` step is linear and
  the same for every ``j`` in ``N(u)``, its effect on the sum is known in closed form:
  ``z_u <- (1 - lr*reg_implicit) * z_u + lr * e * q_i``, an ``O(k)`` update per rating.
- The ``y_j`` steps are accumulated in one k-vector ``g`` and a scalar decay ``d``::

      g <- (1 - lr*reg_implicit) * g + lr * e * |N(u)|^-1/2 * q_i
      d <- (1 - lr*reg_implicit) * d

  and applied at the end of the user's ratings as ``y_j <- d * y_j + g`` for every j in N(u).

In exact arithmetic this gives the same parameters as Surprise's per-rating loop over the same
order of ratings (the tests check it against a literal NumPy transcription of that loop); only
rounding differs. The cost is ``O(k)`` per rating plus ``O(|N(u)| k)`` per user and epoch,
instead of ``O(|N(u)| k)`` per rating. What does differ from Surprise is the visiting order:
Surprise walks the ratings user by user (users in order of first appearance in the
training data, each user's ratings in file order), the same order every epoch;
here the user order and the order within each user are reshuffled every epoch from the model's
seeded Generator (user-grouped order is what makes the caching possible; a fully global shuffle
would not allow it).

The per-user step is compiled with ``fastmath={"reassoc", "contract"}`` so that LLVM may
reorder the k-term dot product into SIMD lanes (about 2x faster at k = 200). Results are still
deterministic for a given machine and build, but round differently from a strict
left-to-right sum; the tests compare with the references to a relative 1e-9 in float64.

Layout: CSR by user (``indptr`` int64, ``indices`` int32, ``ratings`` float32/float64), factor
arrays C-contiguous of the model's dtype. No allocation per rating: each call allocates two
k-vectors (one pair per shard in the Hogwild kernel).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True)
def shuffle_within_rows(indptr, uniform):
    """Positions of a CSR matrix with each row's entries in random order.

    Parameters
    ----------
    indptr : int64, shape (n_rows + 1,)
    uniform : float64, shape (nnz,)
        Uniform [0, 1) draws (from the caller's Generator) driving a Fisher-Yates shuffle.

    Returns
    -------
    order : int64, shape (nnz,)
        ``order[indptr[r]:indptr[r+1]]`` is a permutation of ``range(indptr[r], indptr[r+1])``.
        Position ``t`` (counted from the end of the row) swaps with
        ``lo + floor(uniform[lo + t] * (t + 1))``.
    """
    nnz = indptr[-1]
    order = np.empty(nnz, dtype=np.int64)
    for p in range(nnz):
        order[p] = p
    for r in range(indptr.shape[0] - 1):
        lo = indptr[r]
        for t in range(indptr[r + 1] - lo - 1, 0, -1):
            j = int(uniform[lo + t] * (t + 1))
            if j > t:  # guards against uniform == 1.0 after rounding
                j = t
            tmp = order[lo + t]
            order[lo + t] = order[lo + j]
            order[lo + j] = tmp
    return order


@nb.njit(cache=True, inline="always")
def start_implicit(lo, hi, indices, implicit_factors, z, g):
    """Start a user's turn: ``z = |N(u)|^-1/2 sum_j y_j`` over ``indices[lo:hi]`` (hi > lo)
    and ``g = 0``, both k-vectors written in place; returns ``|N(u)|^-1/2``. Inlined into
    the SVD++ and timeSVD++ steps, so it compiles with their fastmath flags."""
    k = z.shape[0]
    norm = implicit_factors.dtype.type(1.0) / np.sqrt(implicit_factors.dtype.type(hi - lo))
    for f in range(k):
        z[f] = 0
        g[f] = 0
    for p in range(lo, hi):
        j = indices[p]
        for f in range(k):
            z[f] += implicit_factors[j, f]
    for f in range(k):
        z[f] *= norm
    return norm


@nb.njit(cache=True, inline="always")
def accumulate_implicit(f, step, norm, shrink_y, z, g):
    """Component ``f`` of one rating's y_j step ``step = lr * e * q_if`` (the same for every
    j in N(u)): its effect on ``z`` in closed form, and its share of the batched ``g``."""
    g[f] = shrink_y * g[f] + step * norm
    z[f] = shrink_y * z[f] + step


@nb.njit(cache=True, inline="always")
def apply_implicit(lo, hi, indices, implicit_factors, decay, g):
    """End a user's turn: the batched y_j steps ``y_j <- decay * y_j + g`` for every item
    ``j`` in ``indices[lo:hi]``."""
    for p in range(lo, hi):
        j = indices[p]
        for f in range(g.shape[0]):
            implicit_factors[j, f] = decay * implicit_factors[j, f] + g[f]


@nb.njit(cache=True, fastmath={"reassoc", "contract"})
def _user_step(u, indptr, indices, ratings, order, global_mean, user_factors, item_factors,
               implicit_factors, user_bias, item_bias, learning_rate, reg_bias, reg_factors,
               reg_implicit, z, g):
    # One user's turn: every rating of u in the order given by `order`, then the y_j update.
    # z and g are k-vector scratch. Returns the sum of squared pre-update errors.
    lo = indptr[u]
    hi = indptr[u + 1]
    n = hi - lo
    if n == 0:
        return 0.0
    k = user_factors.shape[1]
    one = user_factors.dtype.type(1.0)
    norm = start_implicit(lo, hi, indices, implicit_factors, z, g)
    shrink_y = one - learning_rate * reg_implicit
    decay = one
    sse = 0.0
    for t in range(lo, hi):
        p = order[t]
        i = indices[p]
        dot = user_factors.dtype.type(0.0)
        for f in range(k):
            dot += item_factors[i, f] * (user_factors[u, f] + z[f])
        err = ratings[p] - (global_mean + user_bias[u] + item_bias[i] + dot)
        sse += float(err) * float(err)
        user_bias[u] += learning_rate * (err - reg_bias * user_bias[u])
        item_bias[i] += learning_rate * (err - reg_bias * item_bias[i])
        for f in range(k):
            puf = user_factors[u, f]
            qif = item_factors[i, f]
            user_factors[u, f] = puf + learning_rate * (err * qif - reg_factors * puf)
            item_factors[i, f] = qif + learning_rate * (err * (puf + z[f]) - reg_factors * qif)
            accumulate_implicit(f, learning_rate * err * qif, norm, shrink_y, z, g)
        decay *= shrink_y
    apply_implicit(lo, hi, indices, implicit_factors, decay, g)
    return sse


@nb.njit(cache=True)
def svdpp_epoch(indptr, indices, ratings, user_order, order, global_mean, user_factors,
                item_factors, implicit_factors, user_bias, item_bias, learning_rate, reg_bias,
                reg_factors, reg_implicit):
    """One deterministic SGD epoch of SVD++ over users in ``user_order``, in place.

    Parameters
    ----------
    indptr : int64, shape (n_users + 1,)
    indices : int32, shape (nnz,)
        Item of each rating, CSR by user.
    ratings : float, shape (nnz,)
    user_order : int32, shape (m,)
        Users to visit, in this order (normally a permutation of all users).
    order : int64, shape (nnz,)
        Visiting order within each user: ``order[indptr[u]:indptr[u+1]]`` is a permutation of
        that range (see :func:`shuffle_within_rows`).
    global_mean : float
    user_factors : shape (n_users, k)          -- p_u
    item_factors : shape (n_items, k)          -- q_i
    implicit_factors : shape (n_items, k)      -- y_j
    user_bias : shape (n_users,); item_bias : shape (n_items,)
        All updated in place; one float dtype for arrays and the scalar hyperparameters.
    learning_rate, reg_bias, reg_factors, reg_implicit : float

    Returns
    -------
    float
        Sum of squared errors of the ratings, each measured just before its update.
    """
    k = user_factors.shape[1]
    z = np.empty(k, dtype=user_factors.dtype)
    g = np.empty(k, dtype=user_factors.dtype)
    sse = 0.0
    for t in range(user_order.shape[0]):
        sse += _user_step(user_order[t], indptr, indices, ratings, order, global_mean,
                          user_factors, item_factors, implicit_factors, user_bias, item_bias,
                          learning_rate, reg_bias, reg_factors, reg_implicit, z, g)
    return sse


@nb.njit(cache=True, parallel=True)
def svdpp_epoch_hogwild(indptr, indices, ratings, user_order, order, global_mean, user_factors,
                        item_factors, implicit_factors, user_bias, item_bias, learning_rate,
                        reg_bias, reg_factors, reg_implicit, n_shards):
    """One Hogwild SGD epoch of SVD++ (Niu et al. 2011): shards of users run in parallel.

    Same arguments as :func:`svdpp_epoch` plus ``n_shards``: ``user_order`` is cut into
    ``n_shards`` contiguous pieces processed by parallel threads. A user's own parameters
    (``p_u``, ``b_u``) are touched by one thread only; item parameters (``q_i``, ``b_i``,
    ``y_j``) are shared and updated without locks, so results depend on thread timing and are
    not reproducible. With ``n_shards == 1`` this is exactly :func:`svdpp_epoch`.
    """
    k = user_factors.shape[1]
    # Per-shard scratch rows padded by 16 elements (>= one 64-byte cache line), so that two
    # threads never write to the same cache line (false sharing in the innermost loop).
    zs = np.empty((n_shards, k + 16), dtype=user_factors.dtype)
    gs = np.empty((n_shards, k + 16), dtype=user_factors.dtype)
    sse = np.zeros(n_shards, dtype=np.float64)
    m = user_order.shape[0]
    for s in nb.prange(n_shards):
        acc = 0.0
        for t in range(s * m // n_shards, (s + 1) * m // n_shards):
            acc += _user_step(user_order[t], indptr, indices, ratings, order, global_mean,
                              user_factors, item_factors, implicit_factors, user_bias,
                              item_bias, learning_rate, reg_bias, reg_factors, reg_implicit,
                              zs[s, :k], gs[s, :k])
        sse[s] = acc
    return sse.sum()


@nb.njit(cache=True, parallel=True)
def implicit_sums(indptr, indices, implicit_factors):
    """``z_u = |N(u)|^-1/2 * sum_{j in N(u)} y_j`` for every user (zero for users with no item).

    indptr : int64 (n_users + 1,); indices : int32 (nnz,); implicit_factors : (n_items, k).
    Returns an array (n_users, k) of the factors' dtype.
    """
    n_users = indptr.shape[0] - 1
    k = implicit_factors.shape[1]
    out = np.zeros((n_users, k), dtype=implicit_factors.dtype)
    for u in nb.prange(n_users):
        lo = indptr[u]
        hi = indptr[u + 1]
        if hi == lo:
            continue
        for p in range(lo, hi):
            j = indices[p]
            for f in range(k):
                out[u, f] += implicit_factors[j, f]
        norm = 1.0 / np.sqrt(hi - lo)
        for f in range(k):
            out[u, f] *= norm
    return out
