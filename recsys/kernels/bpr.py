"""Stochastic gradient ascent for Bayesian personalised ranking (BPR-MF).

The model and criterion are those of Rendle, Freudenthaler, Gantner & Schmidt-Thieme,
"BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009 (section 4 and the
LearnBPR algorithm, figure 4)::

    x_uij = x_ui - x_uj,     x_ui = b_i + p_u . q_i
    maximise  sum over (u, i, j) of ln sigmoid(x_uij) - reg * ||theta||^2

where i is a positive item of user u and j is not. For each sampled triple, with
``z = 1 - sigmoid(x_uij) = 1 / (1 + exp(x_uij))`` computed from the current parameters::

    p_u <- p_u + lr * ( z * (q_i - q_j) - reg * p_u)
    q_i <- q_i + lr * ( z * p_u          - reg * q_i)      (old p_u)
    q_j <- q_j + lr * (-z * p_u          - reg * q_j)      (old p_u)
    b_i <- b_i + lr * ( z - reg * b_i)                      (when item biases are on)
    b_j <- b_j + lr * (-z - reg * b_j)

Kernels take only arrays and scalars: factors float32 C-contiguous, indices int32, CSR
offsets int64. They update the parameters in place.

- :func:`bpr_sgd_triples` applies a given sequence of triples in order (the building block,
  tested against a plain-Python loop).
- :func:`bpr_draw_triples` returns the triples an epoch would visit (for tests).
- :func:`bpr_epoch` samples ``n_samples`` triples on one thread and applies them: fully
  determined by the seed.
- :func:`bpr_epoch_hogwild` splits the samples over ``len(seeds)`` shards run in parallel
  with ``prange`` without locks (Hogwild!, Niu et al. 2011); each shard has its own random
  stream seeded from ``seeds[s]``. Concurrent updates of one row may be lost, so the result
  depends on thread timing and is not reproducible bit for bit.

Sampling (LearnBPR draws with replacement): a positive pair (u, i) uniformly among the
``nnz`` stored pairs, then a negative item j either uniformly over all items
(``popularity_negatives=False``, the paper's choice) or in proportion to item popularity
(an item drawn from a uniformly chosen stored pair, as the ``implicit`` library does). A
candidate j that user u has as a positive is rejected and redrawn, up to ``max_tries``
times; when every try fails (a user who has almost every item) the sample is skipped, and
so is, without any draw, a sample of a user who has every item the sampler can propose.

The random numbers come from SplitMix64 (Steele, Lea & Flood 2014; :mod:`recsys.kernels.splitmix`)
kept in a local uint64 state, so no kernel touches NumPy's or Numba's global random state.
"""

from __future__ import annotations

import numba as nb
import numpy as np

from recsys.kernels.splitmix import next_below


@nb.njit(cache=True, inline="always")
def _contains(indices, lo, hi, item):
    # Binary search in the sorted slice indices[lo:hi].
    while lo < hi:
        mid = (lo + hi) >> 1
        v = indices[mid]
        if v == item:
            return True
        if v < item:
            lo = mid + 1
        else:
            hi = mid
    return False


@nb.njit(cache=True, fastmath=True, inline="always")
def _bpr_step(u, i, j, user_factors, item_factors, item_bias, lr, reg, use_bias):
    # One LearnBPR update (module docstring); returns z = 1 - sigmoid(x_uij).
    pu = user_factors[u]
    qi = item_factors[i]
    qj = item_factors[j]
    k = pu.shape[0]
    x = 0.0
    for f in range(k):
        x += np.float64(pu[f]) * (np.float64(qi[f]) - np.float64(qj[f]))
    if use_bias:
        x += np.float64(item_bias[i]) - np.float64(item_bias[j])
    # 1 / (1 + exp(x)) without overflow for large |x|.
    if x >= 0.0:
        e = np.exp(-x)
        z = e / (1.0 + e)
    else:
        z = 1.0 / (1.0 + np.exp(x))
    zf = np.float32(z)
    lrf = np.float32(lr)
    regf = np.float32(reg)
    for f in range(k):
        puf = pu[f]
        qif = qi[f]
        qjf = qj[f]
        pu[f] = puf + lrf * (zf * (qif - qjf) - regf * puf)
        qi[f] = qif + lrf * (zf * puf - regf * qif)
        qj[f] = qjf + lrf * (-zf * puf - regf * qjf)
    if use_bias:
        bi = item_bias[i]
        bj = item_bias[j]
        item_bias[i] = bi + lrf * (zf - regf * bi)
        item_bias[j] = bj + lrf * (-zf - regf * bj)
    return z


@nb.njit(cache=True, fastmath=True)
def bpr_sgd_triples(users, positives, negatives, user_factors, item_factors, item_bias,
                    lr, reg, use_bias):
    """Apply the LearnBPR update for each triple ``(users[t], positives[t], negatives[t])``
    in order, on one thread; parameters updated in place.

    Parameters
    ----------
    users, positives, negatives : int32 (m,)
        The triples (u, i, j); no check that i is a positive or j a negative of u.
    user_factors : float32 (n_users, k), C-contiguous
    item_factors : float32 (n_items, k), C-contiguous
    item_bias : float32 (n_items,)
        Left untouched when ``use_bias`` is False.
    lr, reg : float
        Learning rate and L2 regularisation (module docstring).
    use_bias : bool

    Returns
    -------
    int64
        Number of triples already ranked right before their update (``x_uij > 0``).
    """
    correct = 0
    for t in range(users.shape[0]):
        z = _bpr_step(users[t], positives[t], negatives[t], user_factors, item_factors,
                      item_bias, lr, reg, use_bias)
        if z < 0.5:
            correct += 1
    return correct


@nb.njit(cache=True, inline="always")
def _draw(state, indptr, indices, pair_users, n_items, n_candidates, popularity_negatives,
          max_tries):
    # One LearnBPR sample: (new state, u, i, j); j = -1 when max_tries draws all failed.
    nnz = indices.shape[0]
    state, pair = next_below(state, nnz)
    u = pair_users[pair]
    i = indices[pair]
    lo = indptr[u]
    hi = indptr[u + 1]
    if hi - lo >= n_candidates:
        # The user has every item the sampler can propose: no negative exists, and
        # max_tries draws would all be wasted.
        return state, u, i, np.int64(-1)
    for _ in range(max_tries):
        if popularity_negatives:
            state, other = next_below(state, nnz)
            cand = np.int64(indices[other])
        else:
            state, cand = next_below(state, n_items)
        if not _contains(indices, lo, hi, cand):
            return state, u, i, cand
    return state, u, i, np.int64(-1)


@nb.njit(cache=True)
def _n_candidates(indices, n_items, popularity_negatives):
    # How many distinct items the negative sampler can propose.
    if not popularity_negatives:
        return n_items
    seen = np.zeros(n_items, dtype=np.bool_)
    count = 0
    for t in range(indices.shape[0]):
        if not seen[indices[t]]:
            seen[indices[t]] = True
            count += 1
    return count


@nb.njit(cache=True)
def bpr_draw_triples(indptr, indices, pair_users, n_items, n_samples, seed,
                     popularity_negatives, max_tries):
    """The triples :func:`bpr_epoch` would visit for these arguments, without training.

    Returns three int64 arrays (users, positives, negatives) of length ``n_samples``; a
    negative of -1 marks a skipped sample. For tests and diagnostics.
    """
    users = np.empty(n_samples, dtype=np.int64)
    pos = np.empty(n_samples, dtype=np.int64)
    neg = np.empty(n_samples, dtype=np.int64)
    state = np.uint64(seed)
    n_cand = _n_candidates(indices, n_items, popularity_negatives)
    for t in range(n_samples):
        state, u, i, j = _draw(state, indptr, indices, pair_users, n_items, n_cand,
                               popularity_negatives, max_tries)
        users[t] = u
        pos[t] = i
        neg[t] = j
    return users, pos, neg


@nb.njit(cache=True, fastmath=True)
def _bpr_shard(indptr, indices, pair_users, n_samples, seed, user_factors, item_factors,
               item_bias, lr, reg, use_bias, n_cand, popularity_negatives, max_tries):
    # Sample and apply n_samples triples from one random stream; (correct, skipped).
    n_items = item_factors.shape[0]
    state = np.uint64(seed)
    correct = 0
    skipped = 0
    for _ in range(n_samples):
        state, u, i, j = _draw(state, indptr, indices, pair_users, n_items, n_cand,
                               popularity_negatives, max_tries)
        if j < 0:
            skipped += 1
            continue
        z = _bpr_step(u, i, j, user_factors, item_factors, item_bias, lr, reg, use_bias)
        if z < 0.5:
            correct += 1
    return correct, skipped


@nb.njit(cache=True, fastmath=True)
def bpr_epoch(indptr, indices, pair_users, n_samples, seed, user_factors, item_factors,
              item_bias, lr, reg, use_bias, popularity_negatives, max_tries):
    """Sample ``n_samples`` triples and apply them, on one thread (reproducible).

    Parameters
    ----------
    indptr : int64 (n_users + 1,)
    indices : int32 (nnz,)
        The positives as CSR by user, column indices sorted within each row.
    pair_users : int32 (nnz,)
        The user of each stored pair (the CSR's row index, expanded).
    n_samples : int
        Triples to draw (LearnBPR's epoch is usually ``nnz``).
    seed : uint64
        Seed of the SplitMix64 stream.
    user_factors, item_factors, item_bias, lr, reg, use_bias
        As in :func:`bpr_sgd_triples`.
    popularity_negatives : bool
        Draw negatives in proportion to item popularity instead of uniformly.
    max_tries : int
        Draws of a negative before a sample is skipped. A user who has every item the
        sampler can propose (every item, or every item with a positive) is skipped at once.

    Returns
    -------
    (int64, int64)
        Triples ranked right before their update, and samples skipped.
    """
    n_cand = _n_candidates(indices, item_factors.shape[0], popularity_negatives)
    return _bpr_shard(indptr, indices, pair_users, n_samples, seed, user_factors,
                      item_factors, item_bias, lr, reg, use_bias, n_cand,
                      popularity_negatives, max_tries)


@nb.njit(cache=True, fastmath=True, parallel=True)
def bpr_epoch_hogwild(indptr, indices, pair_users, n_samples, seeds, user_factors,
                      item_factors, item_bias, lr, reg, use_bias, popularity_negatives,
                      max_tries):
    """Lock-free parallel epoch: shard ``s`` draws about ``n_samples / len(seeds)`` triples
    from a stream seeded with ``seeds[s]`` (uint64), shards run in parallel.

    Same arguments and return value as :func:`bpr_epoch`. Not reproducible bit for bit
    (module docstring).
    """
    n_shards = seeds.shape[0]
    n_cand = _n_candidates(indices, item_factors.shape[0], popularity_negatives)
    correct = 0
    skipped = 0
    for s in nb.prange(n_shards):
        m = (s + 1) * n_samples // n_shards - s * n_samples // n_shards
        c, k = _bpr_shard(indptr, indices, pair_users, m, seeds[s], user_factors,
                          item_factors, item_bias, lr, reg, use_bias, n_cand,
                          popularity_negatives, max_tries)
        correct += c
        skipped += k
    return correct, skipped
