"""Stochastic gradient descent epochs for biased matrix factorization and for biases alone.

The model (Funk 2006; Koren, Bell & Volinsky, "Matrix factorization techniques for
recommender systems", IEEE Computer 2009, eq. 4-5)::

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i

and, for every observed rating r(u, i) visited in the given order, with e = r - r_hat(u, i)
computed from the current parameters::

    b_u <- b_u + lr_bias   * (e       - reg_bias   * b_u)
    b_i <- b_i + lr_bias   * (e       - reg_bias   * b_i)
    p_u <- p_u + lr_factor * (e * q_i - reg_factor * p_u)
    q_i <- q_i + lr_factor * (e * p_u - reg_factor * q_i)     (old p_u, as Surprise's SVD)

Kernels take only arrays and scalars. Parameter arrays are updated in place and must be
C-contiguous of one float dtype (float32 or float64); the scalars must be passed as that same
dtype (the Python wrappers in :mod:`recsys.models` do it) so no loop mixes precisions.
Rating indices are int32; the visiting order is int32 or int64.

Three ways to run an epoch:

- :func:`mf_epoch` walks ``order[start:stop]`` on one thread: for a given order the result
  is fully determined (bit-identical across runs).
- :func:`mf_epoch_strata` runs the blocks of a stratified layout (:func:`stratify`): the
  blocks of one stratum share no user and no item, so they run in parallel without races,
  and the result is that of :func:`mf_epoch` over the blocks laid end to end, bit for bit,
  on any number of threads (DSGD, Gemulla et al., KDD 2011).
- :func:`mf_epoch_strata_serial` runs the same blocks on the calling thread, without a
  parallel region: identical parameters, bit for bit, and no barrier to wait at when the
  machine is busy.
- :func:`mf_epoch_hogwild` splits ``order`` into ``n_shards`` contiguous shards and runs them
  in parallel with ``prange`` without locks (Hogwild!, Niu, Recht, Re & Wright, NIPS 2011).
  Threads that update the same user or item row at once may lose part of an update; with
  sparse ratings this is rare and SGD tolerates it, but the result then depends on thread
  timing, so this mode is not reproducible bit for bit.

Each epoch returns the sum of squared errors seen *before* each update (the "running" loss):
its mean over the epoch is the train RMSE that the models record in ``history_``.

Why the loop is shaped as it is (measured on ML-100K, 100 factors, shuffled order):

- The per-rating work is two 100-float rows; the cost is the latency of fetching them and of
  the chain dot -> error -> update. The loop therefore *prefetches* the index entries
  ``_INDEX_AHEAD`` ratings ahead and the two factor rows ``_ROWS_AHEAD`` ratings ahead.
- Consecutive ratings that share neither the user nor the item are independent: computing
  both predictions before applying both updates gives the same parameters as one after the
  other (up to the summation order inside the dot products), and lets the CPU overlap the
  two chains (see :func:`_mf_range`). Groups of 2 gained ~25% over one at a time; 3 and 4
  gained nothing more.
- The factor update is written ``p*(1 - lr*reg) + (lr*e)*q`` (two FMAs per element) and both
  loops run over contiguous rows, which LLVM vectorises with ``fastmath``.
"""

from __future__ import annotations

import numba as nb
import numpy as np
from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

from recsys.kernels.splitmix import next_unit, stream_seed

#: How many ratings ahead the kernels prefetch the index entries, and the factor rows.
_INDEX_AHEAD = 8
_ROWS_AHEAD = 4
#: Largest group of consecutive independent ratings whose predictions are computed together.
_GROUP = 2


@intrinsic
def _prefetch(typingctx, arr, index):
    """Hint the CPU to bring ``arr[index]`` (1-d) or the whole row ``arr[index, :]`` (2-d,
    C-contiguous) into cache (LLVM ``llvm.prefetch``, read, high locality). No effect on
    results; an out-of-range index is harmless because a prefetch never faults."""
    if not (isinstance(arr, types.Array) and arr.ndim in (1, 2)
            and isinstance(index, types.Integer)):
        return None

    def codegen(context, builder, sig, args):
        aryty, idxty = sig.args
        ary = context.make_array(aryty)(context, builder, args[0])
        row = context.cast(builder, args[1], idxty, types.intp)
        zero = context.get_constant(types.intp, 0)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary,
                                       [row] if aryty.ndim == 1 else [row, zero],
                                       wraparound=False)
        i8p = ir.IntType(8).as_pointer()
        i32 = ir.IntType(32)
        fn = cgutils.get_or_insert_function(
            builder.module, ir.FunctionType(ir.VoidType(), [i8p, i32, i32, i32]),
            "llvm.prefetch.p0")
        base = builder.bitcast(ptr, i8p)
        flags = [ir.Constant(i32, 0), ir.Constant(i32, 3), ir.Constant(i32, 1)]
        if aryty.ndim == 1:
            builder.call(fn, [base] + flags)
        else:
            row_bytes = builder.extract_value(ary.strides, 0)
            line = context.get_constant(types.intp, 64)
            with cgutils.for_range_slice(builder, zero, row_bytes, line) as (offset, _):
                builder.call(fn, [builder.gep(base, [offset])] + flags)
        return context.get_dummy_value()

    return types.void(arr, index), codegen


@nb.njit(cache=True, fastmath=True, inline="always")
def _mf_range(users, items, ratings, order, start, stop, mu, user_factors, item_factors,
              user_bias, item_bias, lr_bias, lr_factor, reg_bias, reg_factor, update_bias):
    # The loop both epoch kernels run over order[start:stop]. It takes the ratings in
    # groups of up to _GROUP consecutive ones that share no user and no item: their
    # predictions do not depend on each other's updates, so computing all the predictions
    # first and then applying the updates in order gives the parameters a one-by-one loop
    # gives (up to the summation order inside a dot product), while the CPU overlaps the
    # groups' independent memory fetches and dot products. A rating that shares a row with
    # an earlier one in the group starts the next group.
    group_users = np.empty(_GROUP, dtype=np.int64)
    group_items = np.empty(_GROUP, dtype=np.int64)
    group_ratings = np.empty(_GROUP, dtype=ratings.dtype)
    group_dots = np.empty(_GROUP, dtype=user_factors.dtype)
    k = user_factors.shape[1]
    decay = np.float32(1.0) - lr_factor * reg_factor  # stays in the arrays' dtype
    loss = 0.0
    ahead_index = start  # first position whose index entries are not yet prefetched
    ahead_rows = start   # first position whose factor rows are not yet prefetched
    j = start
    while j < stop:
        end = min(j + _INDEX_AHEAD, stop)
        while ahead_index < end:
            t = order[ahead_index]
            _prefetch(users, t)
            _prefetch(items, t)
            _prefetch(ratings, t)
            ahead_index += 1
        end = min(j + _ROWS_AHEAD, stop)
        while ahead_rows < end:
            t = order[ahead_rows]
            _prefetch(user_factors, users[t])
            _prefetch(item_factors, items[t])
            ahead_rows += 1
        # Gather the group.
        m = 0
        while m < _GROUP and j + m < stop:
            t = order[j + m]
            u = users[t]
            i = items[t]
            clash = False
            for c in range(m):
                if group_users[c] == u or group_items[c] == i:
                    clash = True
            if clash:
                break
            group_users[m] = u
            group_items[m] = i
            group_ratings[m] = ratings[t]
            m += 1
        # Predictions first (the rows are not changed by the group's own updates) ...
        for c in range(m):
            pu = user_factors[group_users[c]]
            qi = item_factors[group_items[c]]
            dot = np.float32(0.0)  # unifies to the arrays' dtype
            for f in range(k):
                dot += pu[f] * qi[f]
            group_dots[c] = dot
        # ... then the updates, in order.
        for c in range(m):
            u = group_users[c]
            i = group_items[c]
            err = group_ratings[c] - (mu + user_bias[u] + item_bias[i] + group_dots[c])
            loss += np.float64(err) * np.float64(err)
            if update_bias:
                b = user_bias[u]
                user_bias[u] = b + lr_bias * (err - reg_bias * b)
                b = item_bias[i]
                item_bias[i] = b + lr_bias * (err - reg_bias * b)
            g = lr_factor * err
            pu = user_factors[u]
            qi = item_factors[i]
            for f in range(k):
                puf = pu[f]
                qif = qi[f]
                # lr*(e*q - reg*p) + p == p*(1 - lr*reg) + (lr*e)*q: two FMAs per element.
                pu[f] = decay * puf + g * qif
                qi[f] = decay * qif + g * puf
        j += m
    return loss


@nb.njit(cache=True, fastmath=True)
def mf_epoch(users, items, ratings, order, start, stop, mu, user_factors, item_factors,
             user_bias, item_bias, lr_bias, lr_factor, reg_bias, reg_factor, update_bias):
    """One single-threaded SGD pass over ``order[start:stop]``; parameters updated in place.

    Parameters
    ----------
    users, items : int32 (n_ratings,)
        Internal indices of each rating.
    ratings : float (n_ratings,)
        Rating values, same dtype as the parameters.
    order : int32 or int64 (m,)
        Rating indices in visiting order (a permutation, or any sequence of indices).
    start, stop : int
        The slice of ``order`` to visit.
    mu : float
        Global mean (held fixed).
    user_factors, item_factors : float (n_users, k), (n_items, k), C-contiguous
    user_bias, item_bias : float (n_users,), (n_items,)
    lr_bias, lr_factor, reg_bias, reg_factor : float
        Learning rates and L2 regularization, as in the module docstring.
    update_bias : bool
        False for unbiased MF (biases stay as given, usually zero).

    Returns
    -------
    float64
        Sum of squared errors before each update (the running loss).
    """
    return _mf_range(users, items, ratings, order, start, stop, mu, user_factors,
                     item_factors, user_bias, item_bias, lr_bias, lr_factor, reg_bias,
                     reg_factor, update_bias)


@nb.njit(cache=True, fastmath=True, parallel=True)
def mf_epoch_hogwild(users, items, ratings, order, n_shards, mu, user_factors, item_factors,
                     user_bias, item_bias, lr_bias, lr_factor, reg_bias, reg_factor,
                     update_bias):
    """One lock-free parallel SGD pass (Hogwild!) over the whole ``order``.

    Shard ``s`` of ``n_shards`` is the contiguous slice
    ``order[s*m//n_shards : (s+1)*m//n_shards]``; shards run in parallel (one per thread
    when ``n_shards`` equals the thread count), each exactly as :func:`mf_epoch` runs its
    slice. With ``n_shards == 1`` the result equals :func:`mf_epoch` over the same order.
    Pass a shuffled ``order`` so that concurrent shards rarely touch the same rows.

    Same arguments and return value as :func:`mf_epoch`.
    """
    m = order.shape[0]
    losses = np.zeros(n_shards, dtype=np.float64)
    for s in nb.prange(n_shards):
        losses[s] = _mf_range(users, items, ratings, order, s * m // n_shards,
                              (s + 1) * m // n_shards, mu, user_factors, item_factors,
                              user_bias, item_bias, lr_bias, lr_factor, reg_bias,
                              reg_factor, update_bias)
    return losses.sum()


@nb.njit(cache=True, fastmath=True, parallel=True)
def mf_epoch_strata(users, items, ratings, order, block_offsets, strata, reshuffle, seed, mu,
                    user_factors, item_factors, user_bias, item_bias, lr_bias, lr_factor,
                    reg_bias, reg_factor, update_bias):
    """One stratified parallel SGD pass (DSGD, Gemulla, Nijkamp, Haas & Sismanis, KDD 2011;
    the block scheduling of FPSGD, Chin, Zhuang, Juan & Lin, ACM TIST 2015).

    Users and items are cut into ``g`` groups each, so the ratings fall into ``g x g``
    blocks. Stratum ``s`` holds the ``g`` blocks (user group ``b``, item group
    ``(b + s) % g``): no two of them share a user or an item. The strata run one after the
    other, in the order ``strata``; the blocks of a stratum run in parallel (``prange``),
    each as :func:`mf_epoch` runs a slice. Since concurrent blocks touch disjoint rows, the
    parameters equal those of :func:`mf_epoch` over the blocks laid end to end in that order,
    bit for bit, whatever the number of threads.

    Parameters
    ----------
    order : int32 or int64 (n_ratings,)
        Rating indices grouped by block, as :func:`stratify` lays them out: block ``b`` of
        stratum ``s`` is ``order[block_offsets[s*g + b] : block_offsets[s*g + b + 1]]``.
    block_offsets : int64 (g*g + 1,)
    strata : int64 (g,)
        The order in which the strata run (a permutation of ``0..g-1``).
    reshuffle : bool
        Shuffle each block in place just before it runs, by the thread that runs it, as
        :func:`shuffle_blocks` does with ``seed`` (so the order does not depend on the
        threads either). Folding the shuffle into this loop saves a parallel region per
        epoch.
    seed : int
        Seed of the shuffle (ignored when ``reshuffle`` is False).

    The other arguments and the return value are those of :func:`mf_epoch`; the loss is
    summed block by block in a fixed order, so it does not depend on the threads either.
    """
    g = strata.shape[0]
    losses = np.zeros(g * g, dtype=np.float64)
    for s in strata:
        for b in nb.prange(g):
            block = s * g + b
            if reshuffle:
                _shuffle_range(order, block_offsets[block], block_offsets[block + 1],
                               stream_seed(seed, block))
            losses[block] = _mf_range(users, items, ratings, order, block_offsets[block],
                                      block_offsets[block + 1], mu, user_factors,
                                      item_factors, user_bias, item_bias, lr_bias, lr_factor,
                                      reg_bias, reg_factor, update_bias)
    loss = 0.0
    for block in range(g * g):
        loss += losses[block]
    return loss


@nb.njit(cache=True, fastmath=True)
def mf_epoch_strata_serial(users, items, ratings, order, block_offsets, strata, reshuffle,
                           seed, mu, user_factors, item_factors, user_bias, item_bias,
                           lr_bias, lr_factor, reg_bias, reg_factor, update_bias):
    """:func:`mf_epoch_strata` on the calling thread, with no parallel region: the same
    blocks in the same order with the same shuffles, so the same parameters bit for bit.

    Why it exists: a parallel region (even on one Numba thread) wakes the thread pool and
    ends at a barrier; once per stratum that costs tens of microseconds on an idle machine,
    and on a busy one a barrier waits for whichever thread the OS has descheduled (the
    issue-15 measurement: 2.50 s per ML-100K fit with 2 threads under load ~5 on 2 cores,
    0.22 s on one). :class:`~recsys.models.mf.FunkSVD` uses it whenever it runs on one
    thread. Same arguments and return value as :func:`mf_epoch_strata`.
    """
    g = strata.shape[0]
    losses = np.zeros(g * g, dtype=np.float64)
    for s in strata:
        for b in range(g):
            block = s * g + b
            if reshuffle:
                _shuffle_range(order, block_offsets[block], block_offsets[block + 1],
                               stream_seed(seed, block))
            losses[block] = _mf_range(users, items, ratings, order, block_offsets[block],
                                      block_offsets[block + 1], mu, user_factors,
                                      item_factors, user_bias, item_bias, lr_bias, lr_factor,
                                      reg_bias, reg_factor, update_bias)
    loss = 0.0
    for block in range(g * g):
        loss += losses[block]
    return loss


@nb.njit(cache=True)
def stratify(users, items, user_group, item_group, n_groups, order):
    """Lay the ratings out by stratum and block for :func:`mf_epoch_strata` (counting sort).

    Parameters
    ----------
    users, items : int32 (n_ratings,)
    user_group, item_group : int (n_users,), (n_items,)
        Group of each user and item, in ``0..n_groups-1``.
    n_groups : int
        ``g``: the grid has ``g x g`` blocks, ``g`` strata of ``g`` blocks.
    order : int32 or int64 (n_ratings,)
        Output: rating indices, block after block; within a block in data order.

    Returns
    -------
    block_offsets : int64 (g*g + 1,)
        Block ``s*g + b`` (stratum ``s``, user group ``b``, item group ``(b + s) % g``) is
        ``order[block_offsets[s*g + b] : block_offsets[s*g + b + 1]]``.
    """
    g = n_groups
    offsets = np.zeros(g * g + 1, dtype=np.int64)
    n = users.shape[0]
    for t in range(n):
        offsets[_block_of(user_group[users[t]], item_group[items[t]], g) + 1] += 1
    for block in range(g * g):
        offsets[block + 1] += offsets[block]
    fill = offsets[:-1].copy()
    for t in range(n):
        block = _block_of(user_group[users[t]], item_group[items[t]], g)
        order[fill[block]] = t
        fill[block] += 1
    return offsets


@nb.njit(cache=True, inline="always")
def _block_of(user_group, item_group, g):
    # Block index s*g + b of a rating: user group b, stratum s = (item group - b) mod g.
    return ((item_group - user_group) % g) * g + user_group


@nb.njit(cache=True, inline="always")
def _shuffle_range(order, lo, hi, seed):
    # Fisher-Yates on order[lo:hi] with the SplitMix64 stream started at `seed`; a swap
    # index is floor(u * count) with u in [0, 1) from 53 bits, so any bias is below
    # count / 2**53.
    x = np.uint64(seed)
    for i in range(hi - lo - 1, 0, -1):
        x, u = next_unit(x)
        j = min(np.int64(u * (i + 1)), i)
        tmp = order[lo + i]
        order[lo + i] = order[lo + j]
        order[lo + j] = tmp


@nb.njit(cache=True)
def shuffle(order, seed):
    """Shuffle ``order`` in place (Fisher-Yates, SplitMix64 stream from the integer ``seed``).

    The model draws ``seed`` from its numpy Generator each epoch, so the permutations follow
    from the model's seed. It exists because ``Generator.shuffle`` spends ~1.3 ms on 80,000
    indices, a sixth of a 100-factor epoch on ML-100K; this takes ~0.3 ms.
    """
    _shuffle_range(order, 0, order.shape[0], seed)


@nb.njit(cache=True, parallel=True)
def shuffle_shards(order, n_shards, seed):
    """Shuffle each of the ``n_shards`` contiguous shards of ``order`` (as
    :func:`mf_epoch_hogwild` cuts them) in place, in parallel; ratings stay in their shard.

    Shard ``s`` is shuffled as :func:`shuffle` with the seed ``stream_seed(seed, s)``. On
    20M ratings a full shuffle is ~1 s of random memory access on one core; Hogwild
    shuffles the whole order once, then only within shards (each thread revisits the same
    random subset in a new order every epoch).
    """
    m = order.shape[0]
    for s in nb.prange(n_shards):
        _shuffle_range(order, s * m // n_shards, (s + 1) * m // n_shards, stream_seed(seed, s))


@nb.njit(cache=True, parallel=True)
def shuffle_blocks(order, block_offsets, seed):
    """Shuffle each block ``order[block_offsets[j]:block_offsets[j + 1]]`` in place, in
    parallel, as :func:`shuffle` with the seed ``stream_seed(seed, j)``, so the result does
    not depend on the thread count."""
    for j in nb.prange(block_offsets.shape[0] - 1):
        _shuffle_range(order, block_offsets[j], block_offsets[j + 1], stream_seed(seed, j))


@nb.njit(cache=True, fastmath=True)
def bias_epoch(users, items, ratings, order, mu, user_bias, item_bias, learning_rate,
               reg_user, reg_item):
    """One SGD pass over ``order`` for the biases-only model ``mu + b_u + b_i``.

    As Surprise's ``BaselineOnly`` with ``method='sgd'`` (Koren 2010, "Factor in the
    neighbors", eq. 2, by gradient descent)::

        e = r - (mu + b_u + b_i)
        b_u <- b_u + lr * (e - reg_user * b_u)
        b_i <- b_i + lr * (e - reg_item * b_i)

    Updates ``user_bias`` and ``item_bias`` in place; returns the running sum of squared
    errors (float64).
    """
    loss = 0.0
    for j in range(order.shape[0]):
        t = order[j]
        u = users[t]
        i = items[t]
        bu = user_bias[u]
        bi = item_bias[i]
        err = ratings[t] - (mu + bu + bi)
        user_bias[u] = bu + learning_rate * (err - reg_user * bu)
        item_bias[i] = bi + learning_rate * (err - reg_item * bi)
        loss += np.float64(err) * np.float64(err)
    return loss
